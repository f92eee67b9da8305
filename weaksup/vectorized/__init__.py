"""Vectorized LFs: polars expressions that vote on a whole chunk at once.

They are the ``"vectorized"`` LF kind (:mod:`weaksup.apply.kinds.vectorized`), so they mix
freely with row-wise and prompted LFs in one LF set and one store.
"""

from weaksup.vectorized.builders import column_vote, in_range, keywords, lookup, member_of, regex, regex_match
from weaksup.vectorized.lf import VectorizedLabelingFunction, vectorized_labeling_function

__all__ = [
    "VectorizedLabelingFunction",
    "column_vote",
    "in_range",
    "keywords",
    "lookup",
    "member_of",
    "regex",
    "regex_match",
    "vectorized_labeling_function",
]
