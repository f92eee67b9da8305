"""End models: learn from the label model's soft output, one module per label type.

- :class:`SoftTextClassifier` (:mod:`.text`): categorical labels, from text;
- :class:`PairwiseRanker` and :class:`SoftTargetRegressor` (:mod:`.numeric`): rankings and
  real values, from numeric columns no LF reads.
"""

from weaksup.end_models.numeric import PairwiseRanker, SoftTargetRegressor
from weaksup.end_models.text import SoftTextClassifier

__all__ = ["PairwiseRanker", "SoftTargetRegressor", "SoftTextClassifier"]
