"""Label models: turn LF votes into labels, for every label type.

**Categorical** (:class:`AutoLabelModel`, the default, registered as ``auto``; :class:`LabelModel`,
:class:`DawidSkene`, :class:`MajorityVote`, :class:`SnorkelLabelModel`): every model takes a dense (n, m) int matrix with -1 for abstain, or
:class:`weaksup.votes.SparseVotes`, and follows one contract: ``fit(L, class_balance=None)``
returns the model, ``predict_proba(L)`` gives (n, k) probabilities, ``predict(L)`` labels,
``save(path)``/``load(path)`` persist it as JSON or npz.  Build one by name with
:func:`make_label_model`.

**Rankings and real values** (after Shin et al., *Universalizing Weak Supervision*, ICLR 2022):
each LF is a source whose votes scatter around the true label y at its own quality θ_a,
P(λ_a | y) ∝ exp(−θ_a·d(λ_a, y)) for a metric d; θ is estimated from how LFs agree with one
another, without labels, and y is inferred as the θ-weighted Fréchet mean.
:class:`RankingLabelModel` (Kendall tau, Mallows sources (:mod:`.mallows`), weighted Kemeny
(:mod:`.kemeny`)) takes :class:`~weaksup.votes.RankingVotes`; :class:`RegressionLabelModel`
(Gaussian sources with their own scale and offset) takes (n, m) float arrays with NaN = abstain
or :class:`~weaksup.votes.RegressionVotes`; :class:`MetricLabelModel` takes any distance with
a candidate set or a mean operator.

**Multi-label** (:class:`MultiLabelModel`; baselines :class:`PerLabelMajorityVote` and
:class:`PerLabelSnorkel`): per-label probabilities from
:class:`~weaksup.label_types.multilabel_votes.MultiLabelVotes`.

**One contract.**  Every label model is a scikit-learn estimator: the constructor holds the
hyperparameters (and ``seed``), ``fit(votes, ...)`` learns from the type's vote format and
returns the model, fitted attributes end in ``_``, ``predict(votes)`` gives labels (the type
adds ``predict_proba``, ``predict_preferences`` or ``predict_var``), and ``save(path)`` /
``Model.load(path)`` go through :class:`weaksup.persistence.PersistentModel` (JSON or npz,
never pickle).

>>> import numpy as np
>>> L = np.array([[0, 0, 1], [1, -1, 1], [1, 1, 1], [0, 0, -1]])
>>> make_label_model("majority_vote", cardinality=2).fit(L).predict(L).tolist()
[0, 1, 1, 0]
"""

from __future__ import annotations

from typing import Any

from weaksup.model._base import LabelModelBase, labels_from_proba
from weaksup.model.auto import AutoLabelModel
from weaksup.model.dawid_skene import DawidSkene
from weaksup.model.label_model import LabelModel
from weaksup.model.majority import MajorityVote
from weaksup.model.metric_space import MetricLabelModel
from weaksup.model.multilabel import MultiLabelModel
from weaksup.model.multilabel_baselines import PerLabelMajorityVote, PerLabelSnorkel
from weaksup.model.ranking import RankingLabelModel, aggregate_rankings
from weaksup.model.regression import RegressionLabelModel
from weaksup.model.snorkel import SnorkelLabelModel

__all__ = [
    "AutoLabelModel",
    "DawidSkene",
    "LabelModel",
    "MajorityVote",
    "MetricLabelModel",
    "MultiLabelModel",
    "PerLabelMajorityVote",
    "PerLabelSnorkel",
    "RankingLabelModel",
    "RegressionLabelModel",
    "SnorkelLabelModel",
    "aggregate_rankings",
    "labels_from_proba",
    "make_label_model",
]

_REGISTRY: dict[str, type[LabelModelBase]] = {
    "auto": AutoLabelModel,
    "majority_vote": MajorityVote,
    "dawid_skene": DawidSkene,
    "firing_rates": LabelModel,
    "snorkel": SnorkelLabelModel,
}
ALIASES = {"label_model": "auto"}
"""Other names of registered label models: ``label_model`` is what pipeline files call the default
(their ``label_model.name`` default, kept so that existing pipelines hash and export as before)."""


def make_label_model(name: str, cardinality: int, seed: int = 0, **params: Any) -> LabelModelBase:
    """Build the label model called ``name`` (see the registry's names) with its hyperparameters."""
    model = _REGISTRY.get(ALIASES.get(name, name))
    if model is None:
        raise ValueError(f"unknown label model {name!r}; valid names: {', '.join(sorted([*_REGISTRY, *ALIASES]))}")
    return model(cardinality=cardinality, seed=seed, **params)
