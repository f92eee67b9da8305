"""Vectorized LFs: polars expressions that vote on a whole chunk at once.

Importing this package registers the ``"vectorized"`` LF kind with the applier,
so vectorized LFs mix freely with row-wise and prompted LFs in one LF set and
one store.

>>> from weaksup.apply import BATCH_APPLIERS
>>> "vectorized" in BATCH_APPLIERS
True
"""

from weaksup.vectorized.apply import apply_vectorized_lfs
from weaksup.vectorized.builders import column_vote, in_range, keywords, lookup, member_of, regex, regex_match
from weaksup.vectorized.lf import VectorizedLabelingFunction, vectorized_labeling_function

__all__ = [
    "VectorizedLabelingFunction",
    "apply_vectorized_lfs",
    "column_vote",
    "in_range",
    "keywords",
    "lookup",
    "member_of",
    "regex",
    "regex_match",
    "vectorized_labeling_function",
]
