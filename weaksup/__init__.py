"""weaksup: programmatic weak supervision as an operational pipeline.

Data flows one way: data → LFs (row-wise :mod:`weaksup.lf`, :mod:`weaksup.vectorized`, :mod:`weaksup.llm`) → applier (:mod:`weaksup.apply`)
→ vote store (:mod:`weaksup.store`) → label model (:mod:`weaksup.model`) →
probabilistic labels → end model (:mod:`weaksup.end_models.text`) and exports (:mod:`weaksup.export`).
"""

from weaksup.apply import apply_lfs
from weaksup.data import load_dataset
from weaksup.lf import ABSTAIN, LabelingFunction, labeling_function
from weaksup.store import VoteStore
from weaksup.vectorized import VectorizedLabelingFunction, vectorized_labeling_function
from weaksup.votes import SparseVotes

__all__ = [
    "ABSTAIN",
    "LabelingFunction",
    "SparseVotes",
    "VectorizedLabelingFunction",
    "VoteStore",
    "apply_lfs",
    "labeling_function",
    "load_dataset",
    "vectorized_labeling_function",
]
__version__ = "0.1.0"
