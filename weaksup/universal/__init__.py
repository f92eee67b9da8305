"""Universal label types: weak supervision for rankings, real values and any metric space.

After Shin et al., *Universalizing Weak Supervision* (ICLR 2022): each LF is a source
whose votes scatter around the true label y at its own quality θ_a,
P(λ_a | y) ∝ exp(−θ_a·d(λ_a, y)) for a metric d; θ is estimated from how LFs agree with
one another, without labels; y is inferred as the θ-weighted Fréchet mean.

- :class:`RankingLabelModel` (Kendall tau, Mallows sources, weighted Kemeny) on :class:`RankingVotes`;
- :class:`RegressionLabelModel` (Gaussian sources with their own scale and offset) on
  (n, m) float arrays with NaN = abstain, or :class:`RegressionVotes`;
- :class:`MetricLabelModel` for any distance with a candidate set or a mean operator.

Evaluation lives in :mod:`weaksup.universal.metrics`, end models in
:mod:`weaksup.universal.end_models`.  In a pipeline: :mod:`weaksup.universal.sets` shapes
ranking examples (one row per set of items), :mod:`weaksup.universal.prepare` holds the
run's settings and splits the gold off the examples, :mod:`weaksup.universal.store_io` reads
ranking and real-valued votes from the vote store, :mod:`weaksup.universal.features` picks
the end model's input columns, and :mod:`weaksup.universal.pipeline` runs the label model,
end model, evaluation and exports.

>>> from weaksup.universal import RankingVotes, aggregate_rankings
>>> votes = RankingVotes(items=[["a", "b", "c"]], rankings=[[["a", "b", "c"], ["a", "c", "b"], ["b", "a"]]])
>>> aggregate_rankings(votes, [1.0, 1.0, 1.0])
[['a', 'b', 'c']]
"""

from weaksup.universal.metric import MetricLabelModel
from weaksup.universal.ranking import RankingLabelModel, aggregate_rankings
from weaksup.universal.regression import RegressionLabelModel
from weaksup.universal.votes import RankingVotes, RegressionVotes

__all__ = [
    "MetricLabelModel",
    "RankingLabelModel",
    "RankingVotes",
    "RegressionLabelModel",
    "RegressionVotes",
    "aggregate_rankings",
]
