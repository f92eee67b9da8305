"""End models: learn from the label model's soft output, one module per label type.

- :class:`SoftTextClassifier` (:mod:`.text`): categorical labels, from text;
- :class:`PairwiseRanker` (:mod:`.ranking`) and :class:`SoftTargetRegressor` (:mod:`.regression`):
  rankings and real values, from numeric columns no LF reads.

All save plain data (:mod:`.plain`): loading a model file never runs code from it.
"""


from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: the text classifier alone does not need gradient boosting.
_HOMES = {
    "PairwiseRanker": "weaksup.end_models.ranking",
    "SoftTargetRegressor": "weaksup.end_models.regression",
    "SoftTextClassifier": "weaksup.end_models.text",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'weaksup.end_models' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
