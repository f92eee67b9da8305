"""Categorical label models: turn LF votes into P(y | votes).

Every model takes a dense (n, m) int matrix with -1 for abstain, or
:class:`weaksup.votes.SparseVotes`, and follows one contract: ``fit(L, class_balance=None)``
returns the model, ``predict_proba(L)`` gives (n, k) probabilities, ``predict(L)`` labels,
``save(path)``/``load(path)`` persist it as JSON or npz.  Build one by name with
:func:`make_label_model`.

>>> import numpy as np
>>> L = np.array([[0, 0, 1], [1, -1, 1], [1, 1, 1], [0, 0, -1]])
>>> make_label_model("majority_vote", cardinality=2).fit(L).predict(L).tolist()
[0, 1, 1, 0]
"""

from __future__ import annotations

from typing import Any

from weaksup.model._base import LabelModelBase
from weaksup.model.auto import AutoLabelModel
from weaksup.model.dawid_skene import DawidSkene
from weaksup.model.label_model import LabelModel
from weaksup.model.majority import MajorityVote
from weaksup.model.snorkel import SnorkelLabelModel

__all__ = ["AutoLabelModel", "DawidSkene", "LabelModel", "MajorityVote", "SnorkelLabelModel", "make_label_model"]

_REGISTRY: dict[str, type[LabelModelBase]] = {
    "majority_vote": MajorityVote,
    "dawid_skene": DawidSkene,
    "label_model": AutoLabelModel,
    "firing_rates": LabelModel,
    "snorkel": SnorkelLabelModel,
}


def make_label_model(name: str, cardinality: int, seed: int = 0, **params: Any) -> LabelModelBase:
    """Build the label model called ``name`` (see the registry's names) with its hyperparameters."""
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown label model {name!r}; valid names: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name](cardinality=cardinality, seed=seed, **params)
