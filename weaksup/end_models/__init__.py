"""End models: learn from the label model's soft output, one module per label type.

- :class:`SoftTextClassifier` (:mod:`.text`): categorical labels, from text;
- :class:`PairwiseRanker` (:mod:`.ranking`) and :class:`SoftTargetRegressor` (:mod:`.regression`):
  rankings and real values, from numeric columns no LF reads.

All save plain data (:mod:`.plain`): loading a model file never runs code from it.
"""


from __future__ import annotations

from weaksup.lazy import lazy_exports

# Imported on first use: the text classifier alone does not need gradient boosting.
_HOMES = {
    "PairwiseRanker": "weaksup.end_models.ranking",
    "SoftTargetRegressor": "weaksup.end_models.regression",
    "SoftTextClassifier": "weaksup.end_models.text",
}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
