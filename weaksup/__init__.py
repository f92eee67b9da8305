"""weaksup: programmatic weak supervision as an operational pipeline.

Data flows one way: data (:mod:`weaksup.data`) → LFs (row-wise :mod:`weaksup.lf`,
:mod:`weaksup.vectorized`, :mod:`weaksup.llm`, recorded crowd answers :mod:`weaksup.crowd`) → applier (:mod:`weaksup.apply`, on an engine:
:mod:`weaksup.engines`) → vote store (:mod:`weaksup.store`) → label model (:mod:`weaksup.model`)
→ probabilistic labels → end model (:mod:`weaksup.end_models`) and exports (:mod:`weaksup.export`);
:mod:`weaksup.pipeline` runs it all as a job, one task per label type.
"""


from __future__ import annotations

from weaksup.lazy import lazy_exports

# Imported on first use, so a command that needs little (``weaksup predict``) starts quickly.
_HOMES = {
    "ABSTAIN": "weaksup.lf",
    "LabelingFunction": "weaksup.lf",
    "labeling_function": "weaksup.lf",
    "SparseVotes": "weaksup.votes",
    "VectorizedLabelingFunction": "weaksup.vectorized",
    "vectorized_labeling_function": "weaksup.vectorized",
    "VoteStore": "weaksup.store",
    "apply_lfs": "weaksup.apply",
    "load_dataset": "weaksup.data",
}
__all__ = sorted(_HOMES)
__version__ = "0.1.0"

__getattr__ = lazy_exports(__name__, _HOMES)
