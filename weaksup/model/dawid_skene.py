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

import numpy as np

from weaksup.model._base import LabelModelBase, one_hot, softmax_rows
from weaksup.model.majority import MajorityVote
from weaksup.votes import SparseVotes


class DawidSkene(LabelModelBase):
    """Dawid & Skene (1979): each LF ``a`` has a confusion matrix π_a[c, v] = P(λ_a = v | y = c, a votes).

    Assumptions: LFs are conditionally independent given y, and whether an LF abstains does
    not depend on y (abstains are skipped).  An LF that only ever votes one class therefore
    carries no information here; :class:`~weaksup.model.LabelModel` handles such LFs.

    EM starts from the majority-vote posterior.  The M-step adds ``smoothing`` pseudo-votes
    to every cell of every confusion matrix (a Dirichlet prior) so rare classes do not get
    zero probabilities.  EM stops after ``max_iter`` iterations or when the mean
    log-likelihood per row improves by less than ``tol``.  Each iteration costs O(nnz · k)
    on the sparse votes.  Needs 3 LFs that vote.

    Fitted: ``confusion_`` (m, k, k), ``class_balance_`` (k,), ``accuracies_`` (m,) =
    Σ_c P(y = c) π_a[c, c] (NaN for an LF that never votes), ``n_iter_``.
    Rows where every LF abstains get ``class_balance_``.
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
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        k, m = self.cardinality, votes.m
        X = one_hot(votes, k)
        covered = np.asarray(X.sum(axis=1)).ravel() > 0
        Xc = X[covered]
        mv = MajorityVote(cardinality=k).fit(votes, class_balance)
        q = mv.predict_proba(votes)[covered]
        previous = -np.inf
        self.n_iter_ = 0
        for self.n_iter_ in range(1, self.max_iter + 1):
            # M-step: expected counts of (LF, vote, true class), then normalise over votes.
            counts = np.asarray(Xc.T @ q).reshape(m, k, k).transpose(0, 2, 1) + self.smoothing
            confusion = counts / counts.sum(axis=2, keepdims=True)
            p = class_balance if class_balance is not None else q.mean(axis=0)
            # E-step.
            scores = self._scores(Xc, confusion, p)
            top = scores.max(axis=1, keepdims=True)
            loglik = float(np.mean(top.ravel() + np.log(np.exp(scores - top).sum(axis=1))))
            q = softmax_rows(scores)
            if loglik - previous < self.tol:
                break
            previous = loglik
        self.confusion_ = confusion
        self.class_balance_ = np.asarray(p, dtype=float)
        voted = np.bincount(votes.cols, minlength=m) > 0
        acc = np.einsum("c,acc->a", self.class_balance_, confusion)
        self.accuracies_ = np.where(voted, acc, np.nan)

    @staticmethod
    def _scores(X, confusion: np.ndarray, p: np.ndarray) -> np.ndarray:
        m, k, _ = confusion.shape
        log_votes = np.log(confusion).transpose(0, 2, 1).reshape(m * k, k)
        return np.asarray(X @ log_votes) + np.log(p)

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        return self._scores(one_hot(votes, self.cardinality), self.confusion_, self.class_balance_)
