"""Majority vote: the baseline every label model must beat.

>>> import numpy as np
>>> L = np.array([[0, 0, 1], [1, -1, 1], [0, 1, -1], [-1, -1, -1]])
>>> mv = MajorityVote(cardinality=2).fit(L)
>>> mv.predict_proba(L)[:3].round(2).tolist()
[[0.67, 0.33], [0.0, 1.0], [0.5, 0.5]]
>>> mv.class_balance_.round(2).tolist()  # the all-abstain last row gets this
[0.43, 0.57]
>>> mv.predict(L, tie_break="abstain").tolist()
[0, 1, -1, 1]
"""

from __future__ import annotations

import numpy as np

from weaksup.model._base import LabelModelBase
from weaksup.votes import SparseVotes


class MajorityVote(LabelModelBase):
    """Unweighted majority vote over the non-abstain votes of each row.

    ``predict_proba`` is each class's share of the row's votes (so ``predict`` is the
    plurality class, ties broken by ``seed``).  Rows where every LF abstains get
    ``class_balance_``: the one passed to ``fit``, else the mean vote share over covered
    rows (add-one smoothed).  ``accuracies_`` is each LF's mean agreement with the vote
    shares of the rows it votes on (NaN for an LF that never votes).
    """

    def __init__(self, cardinality: int, seed: int = 0) -> None:
        self.cardinality = cardinality
        self.seed = seed

    def _shares(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        """Vote shares (n, k) and a mask of covered rows."""
        k = self.cardinality
        counts = np.bincount(
            votes.rows * k + votes.labels, minlength=votes.n * k
        ).reshape(votes.n, k).astype(float)
        total = counts.sum(axis=1)
        covered = total > 0
        counts[covered] /= total[covered, None]
        return counts, covered

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        shares, covered = self._shares(votes)
        if class_balance is None:
            class_balance = (shares[covered].sum(axis=0) + 1.0) / (covered.sum() + self.cardinality)
        self.class_balance_ = class_balance
        agree = np.bincount(
            votes.cols, weights=shares[votes.rows, votes.labels], minlength=votes.m
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            self.accuracies_ = agree / np.bincount(votes.cols, minlength=votes.m)

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        shares, covered = self._shares(votes)
        shares[~covered] = self.class_balance_
        with np.errstate(divide="ignore"):
            return np.log(shares)
