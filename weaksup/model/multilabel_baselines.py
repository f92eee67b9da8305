"""The baselines of multi-label label models, and the names pipelines choose them by.

Both work label by label, one-vs-rest: on label j, an LF that voted on an example votes 1 if it
named j present and 0 otherwise (it named j absent, or other labels only), as Snorkel users turn
a multi-label task into k binary ones.

- :class:`PerLabelMajorityVote`: each label's share of 1-votes among the LFs that voted on the
  example (``counts="row"``), or among those that voted on the label itself (``counts="label"``:
  an LF that only names other labels does not count; with LFs that only ever vote "present" it
  is the union of their votes); over 0.5 is present, a tie a coin flip (``seed``).
- :class:`PerLabelSnorkel`: Snorkel's LabelModel (:class:`~weaksup.model.SnorkelLabelModel`), one
  per label, its class balance the label's share of the covered examples' votes (``class_balance
  ="votes"``; Snorkel's own default, uniform, puts half the examples in every label).

:data:`MULTILABEL_MODELS` names them (``label_model.name``) beside :class:`MultiLabelModel`.

>>> from weaksup.label_types.multilabel_votes import MultiLabelVotes
>>> votes = MultiLabelVotes.from_sets([[{0}, {0, 1}, {1}], [{0}, None, None], [None, None, None]], k=2)
>>> PerLabelMajorityVote(cardinality=2).fit(votes).predict_proba(votes).round(2).tolist()
[[0.67, 0.67], [1.0, 0.0], [0.0, 0.0]]
>>> PerLabelMajorityVote(cardinality=2, counts="label").fit(votes).predict(votes).tolist()
[[1, 1], [1, 0], [0, 0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from weaksup.label_types.multilabel_votes import MultiLabelVotes
from weaksup.model.multilabel import MultiLabelModel
from weaksup.model.snorkel import SnorkelLabelModel
from weaksup.persistence import PersistentModel
from weaksup.votes import SparseVotes

__all__ = ["MULTILABEL_MODELS", "PerLabelMajorityVote", "PerLabelSnorkel", "make_multilabel_model", "one_vs_rest"]


def one_vs_rest(votes: MultiLabelVotes, j: int) -> SparseVotes:
    """Label ``j``'s binary votes: each LF that voted on an example votes 1 if it named j present, else 0."""
    first = np.ones(votes.nnz, dtype=bool)
    first[1:] = (np.diff(votes.rows) != 0) | (np.diff(votes.cols) != 0)
    starts = np.flatnonzero(first)
    hit = np.zeros(len(starts), dtype=np.int32)  # one vote per (example, LF)
    np.maximum.at(hit, np.cumsum(first) - 1, ((votes.labels == j) & votes.present).astype(np.int32))
    return SparseVotes(votes.rows[starts], votes.cols[starts], hit, votes.n, votes.m, votes.lf_names)


class PerLabelMajorityVote(BaseEstimator, PersistentModel):
    """Per-label majority vote (see the module docstring)."""

    _fitted_meta = ("n_lfs_",)

    def __init__(self, cardinality: int, seed: int = 0, counts: str = "row") -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.counts = counts

    def fit(self, votes: MultiLabelVotes) -> PerLabelMajorityVote:
        """Nothing to learn: checks the votes and remembers how many LFs there are."""
        if self.counts not in ("row", "label"):
            raise ValueError(f"counts must be 'row' or 'label', got {self.counts!r}")
        _check(votes, self.cardinality)
        self.n_lfs_ = votes.m
        return self

    def predict_proba(self, votes: MultiLabelVotes) -> np.ndarray:
        """(n, k): each label's share of 1-votes (0 where no LF counts)."""
        check_is_fitted(self, "n_lfs_")
        _check(votes, self.cardinality)
        yes, total = np.zeros((votes.n, self.cardinality)), np.zeros((votes.n, self.cardinality))
        np.add.at(yes, (votes.rows, votes.labels), votes.present.astype(float))
        if self.counts == "label":
            np.add.at(total, (votes.rows, votes.labels), 1.0)
        else:
            total += votes.n_votes()[:, None]
        return np.divide(yes, total, out=np.zeros_like(yes), where=total > 0)

    def predict(self, votes: MultiLabelVotes) -> np.ndarray:
        """(n, k) int8: over half the votes; a tie is a coin flip (``seed``)."""
        probs = self.predict_proba(votes)
        tie = np.isclose(probs, 0.5) & (np.random.default_rng(self.seed).random(probs.shape) < 0.5)
        return ((probs > 0.5) | tie).astype(np.int8)


class PerLabelSnorkel(BaseEstimator, PersistentModel):
    """Snorkel's LabelModel per label, one-vs-rest (see the module docstring); ``n_epochs``, ``lr``,
    ``l2`` go to Snorkel.  Fitted: ``mu_`` (k, 2m, 2) and ``class_balance_`` (k, 2), as Snorkel's."""

    _fitted_arrays = ("mu_", "class_balance_")
    _fitted_meta = ("n_lfs_",)

    def __init__(self, cardinality: int, seed: int = 0, class_balance: str = "votes", n_epochs: int = 500,
                 lr: float = 0.01, l2: float = 0.0) -> None:  # fmt: skip
        self.cardinality = cardinality
        self.seed = seed
        self.class_balance = class_balance
        self.n_epochs = n_epochs
        self.lr = lr
        self.l2 = l2

    def fit(self, votes: MultiLabelVotes) -> PerLabelSnorkel:
        """One Snorkel model per label on its one-vs-rest votes."""
        if self.class_balance not in ("votes", "uniform"):
            raise ValueError(f"class_balance must be 'votes' or 'uniform', got {self.class_balance!r}")
        _check(votes, self.cardinality)
        covered = max(int((votes.n_votes() > 0).sum()), 1)
        mu, balance = [], []
        for j in range(self.cardinality):
            binary = one_vs_rest(votes, j)
            share = float(np.clip(len(np.unique(binary.rows[binary.labels == 1])) / covered, 0.01, 0.99))
            prior = np.array([1 - share, share]) if self.class_balance == "votes" else None
            model = SnorkelLabelModel(cardinality=2, seed=self.seed, n_epochs=self.n_epochs, lr=self.lr, l2=self.l2)
            model.fit(binary, class_balance=prior)
            mu.append(model.mu_)
            balance.append(model.class_balance_)
        self.mu_, self.class_balance_, self.n_lfs_ = np.stack(mu), np.stack(balance), votes.m
        return self

    def predict_proba(self, votes: MultiLabelVotes) -> np.ndarray:
        """(n, k): each label's P(present), by Snorkel's formula on its one-vs-rest votes."""
        check_is_fitted(self, "mu_")
        _check(votes, self.cardinality)
        out = np.empty((votes.n, self.cardinality))
        for j in range(self.cardinality):
            binary = one_vs_rest(votes, j)
            log_mu = np.log(np.clip(self.mu_[j], 1e-12, None))
            index = binary.cols.astype(np.int64) * 2 + binary.labels
            scores = np.stack([np.bincount(binary.rows, log_mu[index, c], minlength=votes.n) for c in (0, 1)], axis=1)
            scores += np.log(self.class_balance_[j])
            out[:, j] = 1.0 / (1.0 + np.exp(scores[:, 0] - scores[:, 1]))
        return out

    def predict(self, votes: MultiLabelVotes) -> np.ndarray:
        """(n, k) int8: P(present) at least 0.5."""
        return (self.predict_proba(votes) >= 0.5).astype(np.int8)


def _check(votes: MultiLabelVotes, k: int) -> None:
    if not isinstance(votes, MultiLabelVotes):
        raise TypeError(f"a multi-label model takes MultiLabelVotes, got {type(votes).__name__}")
    if votes.k != k:
        raise ValueError(f"the votes are over {votes.k} labels, the model over cardinality = {k}")


MULTILABEL_MODELS: dict[str, type[Any]] = {
    "auto": MultiLabelModel,
    "label_model": MultiLabelModel,
    "majority_vote": PerLabelMajorityVote,
    "snorkel": PerLabelSnorkel,
}
"""The multi-label label models by ``label_model.name`` (``label_model``, the default, is ``auto``)."""


def make_multilabel_model(name: str, cardinality: int, seed: int = 0, **params: Any) -> Any:
    """The multi-label label model called ``name`` with its hyperparameters."""
    model = MULTILABEL_MODELS.get(name)
    if model is None:
        raise ValueError(f"unknown multi-label label model {name!r}; valid names: {', '.join(MULTILABEL_MODELS)}")
    return model(cardinality=cardinality, seed=seed, **params)
