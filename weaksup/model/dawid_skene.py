"""Dawid–Skene: EM over one k×k confusion matrix per LF.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 2000)
>>> L = np.stack([np.where(rng.random(2000) < acc, y, 1 - y) for acc in (0.9, 0.8, 0.7, 0.6)], 1)
>>> ds = DawidSkene(cardinality=2).fit(L)
>>> ds.accuracies_.round(1).tolist()
[0.9, 0.8, 0.7, 0.6]
>>> float((ds.predict(L) == y).mean()) > 0.9
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from weaksup.model._base import LabelModelBase, one_hot, softmax_rows, vote_counts
from weaksup.model.label_model import distinct_rows
from weaksup.votes import SparseVotes


class DawidSkene(LabelModelBase):
    """Dawid & Skene (1979): each LF ``a`` has a confusion matrix π_a[c, v] = P(λ_a = v | y = c).

    ``abstain`` says what an abstain is:

    - ``"observe"`` (default): one more outcome, so π_a is k × (k+1).  Whether an LF fires
      then carries evidence, which is what makes LFs that only ever vote one class (most
      hand-written LFs: "has a link → SPAM") informative.  With ``"skip"`` such an LF's
      confusion row is the same for every class and it is ignored.
    - ``"skip"``: the textbook model, for when abstaining does not depend on y.

    Either way the sums run over the votes only: the abstain terms are a per-class total
    minus the voting cells, so each iteration costs O(nnz · k), never n × m.

    Shrinkage (a Dirichlet prior on each confusion row): the M-step adds ``prior_strength``
    pseudo-votes to each row π_a[c, ·], spread like the confusion pooled over all LFs (with
    ``"observe"``: firing at the LF's own overall rate, then voting like the pool).  A worker with
    5 votes then gets a confusion close to the crowd's, not a confident one of its own; one
    with 500 votes keeps its own.  ``smoothing`` pseudo-counts go to every cell so no
    probability is 0.

    Assumptions: LFs are conditionally independent given y.  EM starts from the
    majority-vote posterior.  EM stops after
    ``max_iter`` iterations or when the mean log-likelihood per row improves by less than
    ``tol``.  Needs 3 LFs that vote.  EM runs on covered rows; rows where every LF
    abstains get ``class_balance_``.

    Fitted: ``confusion_`` (m, k, k+1) with abstain last, or (m, k, k) with ``"skip"``;
    ``class_balance_`` (k,); ``accuracies_`` (m,) = P(λ_a = y | a votes) (NaN for an LF
    that never votes); ``n_iter_``.
    """

    min_lfs = 3
    _fitted_arrays = ("class_balance_", "accuracies_", "confusion_")

    def __init__(
        self,
        cardinality: int,
        seed: int = 0,
        max_iter: int = 100,
        tol: float = 1e-6,
        smoothing: float = 0.1,
        abstain: Literal["observe", "skip"] = "observe",
        prior_strength: float = 2.0,
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.abstain = abstain
        self.prior_strength = prior_strength

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        if self.abstain not in ("observe", "skip"):
            raise ValueError(f"DawidSkene: abstain must be 'observe' or 'skip', got {self.abstain!r}")
        k, m = self.cardinality, votes.m
        voted = np.bincount(votes.cols, minlength=m) > 0
        # EM over distinct vote patterns, each weighted by its number of rows (all-abstain rows: 0).
        votes, weight = distinct_rows(votes, k)
        X = one_hot(votes, k)
        covered = (np.asarray(X.sum(axis=1)).ravel() > 0) & (weight > 0)
        Xc, w = X[covered], weight[covered][:, None]
        shares = vote_counts(votes, k)[covered]  # start from majority vote: each row's vote shares
        q = shares / shares.sum(axis=1, keepdims=True)
        previous = -np.inf
        self.n_iter_ = 0
        for self.n_iter_ in range(1, self.max_iter + 1):
            # M-step: expected counts of (LF, true class, vote), then normalise over votes.
            q *= w
            counts = np.asarray(Xc.T @ q).reshape(m, k, k).transpose(0, 2, 1)
            confusion = self._m_step(counts, q.sum(axis=0))
            # The learned prior is smoothed like the confusions: a class majority vote never
            # picks keeps a small probability instead of log(0).
            p = class_balance if class_balance is not None else (q.sum(axis=0) + self.smoothing) / (
                w.sum() + k * self.smoothing
            )
            # E-step.
            scores = self._scores(Xc, confusion, p)
            top = scores.max(axis=1, keepdims=True)
            loglik = float(w.ravel() @ (top.ravel() + np.log(np.exp(scores - top).sum(axis=1))) / w.sum())
            q = softmax_rows(scores)
            if loglik - previous < self.tol:
                break
            previous = loglik
        self.confusion_ = confusion
        self.class_balance_ = np.asarray(p, dtype=float)
        fires = confusion[:, :, :k].sum(axis=2)  # P(a votes | y = c)
        hit = np.einsum("c,acc->a", self.class_balance_, confusion[:, :, :k])
        self.accuracies_ = np.where(voted, hit / (fires @ self.class_balance_), np.nan)

    def _m_step(self, counts: np.ndarray, n_class: np.ndarray) -> np.ndarray:
        """Confusions from expected (LF, class, vote) counts, shrunk toward the pooled confusion."""
        pooled = counts.sum(axis=0) + self.smoothing
        pooled /= pooled.sum(axis=1, keepdims=True)
        target = np.broadcast_to(pooled, counts.shape)
        if self.abstain == "observe":
            fired = counts.sum(axis=2)
            rate = (fired.sum(axis=1) / max(n_class.sum(), 1e-12))[:, None, None]
            counts = np.concatenate([counts, (n_class[None, :] - fired)[:, :, None]], axis=2)
            target = np.concatenate([rate * target, np.broadcast_to(1 - rate, (len(counts), len(n_class), 1))], axis=2)
        counts = counts + self.prior_strength * target + self.smoothing
        return counts / counts.sum(axis=2, keepdims=True)

    @staticmethod
    def _scores(X, confusion: np.ndarray, p: np.ndarray) -> np.ndarray:
        """log p_c + Σ_a log π_a[c, λ_a]: the abstain terms as a per-class total, corrected
        at each vote."""
        m, k, outcomes = confusion.shape
        log_conf = np.log(confusion)
        log_votes = log_conf[:, :, :k]
        base = np.log(p)
        if outcomes > k:
            log_votes = log_votes - log_conf[:, :, k:]
            base = base + log_conf[:, :, k].sum(axis=0)
        return np.asarray(X @ log_votes.transpose(0, 2, 1).reshape(m * k, k)) + base

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        scores = self._scores(one_hot(votes, self.cardinality), self.confusion_, self.class_balance_)
        uncovered = np.bincount(votes.rows, minlength=votes.n) == 0
        scores[uncovered] = np.log(self.class_balance_)
        return scores

    def _vote_terms(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        k = self.cardinality
        log_conf = np.log(self.confusion_)
        a, v = votes.cols, votes.labels
        log_vote = log_conf[a, :, v]  # (nnz, k): log π_a[c, v]
        if self.confusion_.shape[2] == k:
            return log_vote, log_vote
        log_abstain = log_conf[a, :, k]
        return log_vote - log_abstain, log_vote - np.log1p(-self.confusion_[a, :, k])
