"""Majority vote: the baseline every label model must beat, and the default's floor.

>>> import numpy as np
>>> L = np.array([[0, 0, 1], [1, -1, 1], [0, 1, -1], [-1, -1, -1]])
>>> mv = MajorityVote(cardinality=2).fit(L)
>>> mv.predict_proba(L)[:3].round(2).tolist()
[[0.67, 0.33], [0.0, 1.0], [0.5, 0.5]]
>>> mv.class_balance_.round(2).tolist()  # the all-abstain last row gets this
[0.43, 0.57]
>>> mv.predict(L, tie_break="abstain").tolist()
[0, 1, -1, 1]
>>> fitted = MajorityVote(cardinality=2, proba="fitted").fit(L)
>>> fitted.predict(L, tie_break="abstain").tolist()  # the same labels, calibrated probabilities
[0, 1, -1, 1]
>>> fitted.predict_proba(L)[:3].round(2).tolist()  # here the votes cannot tell a good LF from chance
[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from weaksup.model._base import LabelModelBase, softmax_rows, vote_counts
from weaksup.model.dawid_skene import DawidSkene
from weaksup.persistence import nest_state, nested_arrays
from weaksup.votes import SparseVotes

MAX_ITER = 200
"""EM steps of ``proba="fitted"`` at most (it fits one number and converges in a few)."""
TIE_MODEL_FIT = {"max_iter": 30, "tol": 1e-5}
"""The tie model's EM stopping: it only orders tied classes, so it needs no converged digits."""
MIN_WEIGHT = 1e-3
"""Least vote weight w of ``proba="fitted"``: when EM finds the LFs no better than chance, the
probabilities are all but uniform, and one vote more still decides the label as majority vote does."""


class MajorityVote(LabelModelBase):
    """Unweighted majority vote over the non-abstain votes of each row.

    ``proba="shares"`` (default): ``predict_proba`` is each class's share of the row's votes
    (so ``predict`` is the plurality class, ties broken by ``seed``).

    ``proba="fitted"``: the same labels with calibrated probabilities, as the default model's
    majority structure uses them (with ``ties="confusion"``).  Every LF is taken to be right with one shared accuracy α and
    wrong uniformly over the other classes, abstains skipped; α is fit by EM, and a row's
    P(y = c | votes) ∝ π_c · exp(w · n_c) with n_c its votes for c and w = log(α(k-1)/(1-α))
    (at least ``MIN_WEIGHT``).
    π is uniform on covered rows unless ``class_balance`` is passed to :meth:`fit` (then it is
    used on every row), so the labels are majority vote's.  ``accuracies_`` is then α for every
    LF that votes.

    ``ties="confusion"`` (with ``"fitted"``): rows where classes tie for most votes are decided
    among the tied classes by Dawid–Skene with abstains observed (:class:`DawidSkene`, fitted on
    the same votes, ``tie_model_``): which LFs stayed silent often tells two tied classes apart
    where their counts cannot.  Rows with a strict majority keep it.  The tied classes' scores
    move by at most w/2, so a tied class never falls below one with fewer votes.

    Rows where every LF abstains get ``class_balance_``: the one passed to ``fit``, else the
    mean vote share over covered rows (add-one smoothed).  With ``"shares"``, ``accuracies_`` is
    each LF's mean agreement with the vote shares of the rows it votes on (NaN for an LF that
    never votes).
    """

    def __init__(
        self,
        cardinality: int,
        seed: int = 0,
        proba: Literal["shares", "fitted"] = "shares",
        ties: Literal["even", "confusion"] = "even",
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.proba = proba
        self.ties = ties

    _fitted_meta = ("n_lfs_", "vote_weight_", "given_balance_")

    def _counts(self, votes: SparseVotes) -> np.ndarray:
        """Votes per row and class, (n, k)."""
        return vote_counts(votes, self.cardinality)

    def _shares(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        """Vote shares (n, k) and a mask of covered rows."""
        counts = self._counts(votes)
        total = counts.sum(axis=1)
        covered = total > 0
        counts[covered] /= total[covered, None]
        return counts, covered

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        if self.proba not in ("shares", "fitted"):
            raise ValueError(f"MajorityVote: proba must be 'shares' or 'fitted', got {self.proba!r}")
        if self.ties not in ("even", "confusion") or (self.ties == "confusion" and self.proba != "fitted"):
            raise ValueError(f"MajorityVote: ties must be 'even', or 'confusion' with proba='fitted'; got ties={self.ties!r}, "
                             f"proba={self.proba!r}")  # fmt: skip
        k = self.cardinality
        shares, covered = self._shares(votes)
        self.given_balance_ = class_balance is not None
        if class_balance is None:
            class_balance = (shares[covered].sum(axis=0) + 1.0) / (covered.sum() + k)
        self.class_balance_ = np.asarray(class_balance, dtype=float)
        if self.proba == "shares":
            self.vote_weight_ = None
            agree = np.bincount(votes.cols, weights=shares[votes.rows, votes.labels], minlength=votes.m)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.accuracies_ = agree / np.bincount(votes.cols, minlength=votes.m)
            return
        counts = self._counts(votes)[covered]
        log_p = np.log(self.class_balance_) if self.given_balance_ else np.zeros(k)
        q = shares[covered]
        alpha = 1.0 / k
        for _ in range(MAX_ITER):
            new = float((q * counts).sum() / max(counts.sum(), 1.0))
            new = min(max(new, 1.0 / k), 1.0 - 1e-9)
            weight = max(np.log(new * (k - 1) / (1.0 - new)), MIN_WEIGHT)
            q = softmax_rows(weight * counts + log_p)
            if abs(new - alpha) < 1e-10:
                break
            alpha = new
        self.vote_weight_ = float(weight)
        self.accuracies_ = np.where(np.bincount(votes.cols, minlength=votes.m) > 0, new, np.nan)
        if self.ties == "confusion":
            self.tie_model_ = DawidSkene(cardinality=k, seed=self.seed, **TIE_MODEL_FIT).fit(votes, class_balance)

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        if self.proba == "fitted":
            counts = self._counts(votes)
            covered = counts.sum(axis=1) > 0
            scores = self.vote_weight_ * counts
            if self.ties == "confusion":
                scores += self._tie_breaks(votes, counts)
            if self.given_balance_:
                scores += np.log(self.class_balance_)
            scores[~covered] = np.log(self.class_balance_)
            return scores
        shares, covered = self._shares(votes)
        shares[~covered] = self.class_balance_
        with np.errstate(divide="ignore"):
            return np.log(shares)

    def _tie_breaks(self, votes: SparseVotes, counts: np.ndarray) -> np.ndarray:
        """(n, k) additions that order the classes tied for most votes by the tie model's log
        posterior (0 for the likeliest, down to -w/2), 0 elsewhere."""
        top = counts >= counts.max(axis=1, keepdims=True)
        tied = top.sum(axis=1) > 1
        out = np.zeros(counts.shape)
        if not tied.any():
            return out
        rows = np.flatnonzero(tied)
        log_p = self.tie_model_._log_scores(votes.select_rows(rows))
        log_p = np.where(top[rows], log_p, -np.inf)
        log_p -= log_p.max(axis=1, keepdims=True)
        out[rows] = np.where(top[rows], np.maximum(log_p, -self.vote_weight_ / 2), 0.0)
        return out

    def fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """With ``ties="confusion"``, the tie model's state too (its arrays under ``tie_model_.``)."""
        state = super().fitted_state()
        if self.ties == "confusion":
            nest_state(state, "tie_model_", self.tie_model_)
        return state

    @classmethod
    def from_fitted_state(
        cls, state: dict[str, Any], arrays: dict[str, np.ndarray], where: str, **params: Any
    ) -> MajorityVote:
        """The saved model, with its tie model rebuilt from its own state."""
        model = super().from_fitted_state(state, arrays, where, **params)
        if model.ties == "confusion":
            if "tie_model_" not in state:
                raise ValueError(f"load: {where} holds no tie model for ties='confusion'")
            model.tie_model_ = DawidSkene.from_fitted_state(state["tie_model_"], nested_arrays(arrays, "tie_model_"), where)
        return model

    def _vote_terms(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        if self.proba != "fitted":
            raise ValueError("MajorityVote: vote likelihoods need proba='fitted' (vote shares are no model of the votes)")
        k, alpha = self.cardinality, self.accuracies_[votes.cols]
        own = np.arange(k)[None, :] == votes.labels[:, None]
        contribution = np.where(own, self.vote_weight_, 0.0)
        return contribution, np.log(np.where(own, alpha[:, None], (1 - alpha[:, None]) / (k - 1)))
