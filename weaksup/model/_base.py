"""The contract every categorical label model follows, and its persistence.

A model holds hyperparameters in its constructor, learns in :meth:`~LabelModelBase.fit`
and answers with :meth:`~LabelModelBase.predict_proba` and
:meth:`~LabelModelBase.predict`.  Subclasses implement ``_fit`` and ``_log_scores``
on validated :class:`~weaksup.votes.SparseVotes`; everything else (validation, the
softmax, tie-breaks, save and load) lives here once.

>>> import numpy as np
>>> scores = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))
>>> softmax_rows(scores).round(2).tolist()
[[0.5, 0.5], [0.9, 0.1]]
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from weaksup import batches
from weaksup.model._input import (
    LabelMatrix,
    as_votes,
    check_cardinality,
    check_class_balance,
)
from weaksup.persistence import PersistentModel
from weaksup.votes import ABSTAIN, SparseVotes

TIE_ATOL = 1e-9
"""Class probabilities within this of a row's maximum count as tied."""

def labels_from_proba(
    proba: np.ndarray, seed: int | np.random.Generator, tie_break: Literal["random", "abstain"] = "random"
) -> np.ndarray:
    """The labels :meth:`LabelModelBase.predict` gives for probabilities ``proba`` (n, k) of a model
    seeded ``seed``: for callers that already hold ``predict_proba``'s output.  Given a generator
    (``np.random.default_rng(seed)``) instead, it draws on from where the last call stopped: the
    labels of consecutive row batches then equal those of all rows at once.

    Works through :data:`weaksup.batches.TIE_BREAK_ROWS` rows at a time (one generator draws the batches' tie
    breaks in turn, the same numbers as one draw for all rows), so its temporaries stay small."""
    rng = np.random.default_rng(seed)
    labels = np.empty(len(proba), dtype=np.int64)
    for start in range(0, len(proba), batches.TIE_BREAK_ROWS):
        part = proba[start : start + batches.TIE_BREAK_ROWS]
        tied = part >= part.max(axis=1, keepdims=True) - TIE_ATOL
        if tie_break == "abstain":
            got = part.argmax(axis=1)
            got[tied.sum(axis=1) > 1] = ABSTAIN
        else:
            got = np.where(tied, rng.random(part.shape), -1.0).argmax(axis=1)
        labels[start : start + len(part)] = got
    return labels


def softmax_rows(scores: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax of (n, k) log scores, into ``out`` (which may be ``scores``) or a new array.

    Reduces column by column: numpy's ``max(axis=1)`` over a handful of classes is about ten
    times slower, and this runs once per EM step.
    """
    top = scores[:, 0].copy()
    for c in range(1, scores.shape[1]):
        np.maximum(top, scores[:, c], out=top)
    out = np.subtract(scores, top[:, None], out=out)
    np.exp(out, out=out)
    out /= (out @ np.ones(scores.shape[1]))[:, None]
    return out


def one_hot(votes: SparseVotes, cardinality: int) -> sp.csr_matrix:
    """The (n, m·k) sparse indicator of votes: entry (i, a·k + v) is 1 when LF a votes v on row i.

    Products with it cost O(nnz · k): ``X @ W`` sums per-vote (m·k, k) weights into rows and
    ``X.T @ Q`` sums (n, k) row weights into per-vote counts.
    """
    X = sp.csr_matrix(
        (
            np.ones(votes.nnz),
            (votes.rows, votes.cols.astype(np.int64) * cardinality + votes.labels),
        ),
        shape=(votes.n, votes.m * cardinality),
    )
    X.sum_duplicates()
    return X


def vote_counts(votes: SparseVotes, cardinality: int) -> np.ndarray:
    """Votes per row and class, shape (n, k), as floats."""
    k = cardinality
    return np.bincount(votes.rows * k + votes.labels, minlength=votes.n * k).reshape(votes.n, k).astype(float)


def lf_coverage(votes: SparseVotes) -> np.ndarray:
    """Number of votes each LF casts, shape (m,)."""
    return np.bincount(votes.cols, minlength=votes.m)


class LabelModelBase(PersistentModel, BaseEstimator):
    """Shared behaviour of categorical label models (see the module docstring).

    Subclasses set ``min_lfs`` (LFs that must vote for the method to be identifiable),
    ``_fitted_arrays`` (array attributes saved with the model) and implement ``_fit`` and
    ``_log_scores``.
    """

    min_lfs: ClassVar[int] = 0
    _fitted_arrays: ClassVar[tuple[str, ...]] = ("class_balance_", "accuracies_")
    _fitted_meta: ClassVar[tuple[str, ...]] = ("n_lfs_",)

    cardinality: int
    seed: int

    # -- fitting and inference -------------------------------------------------------

    def fit(self, L: LabelMatrix, class_balance: np.ndarray | str | None = None) -> LabelModelBase:
        """Learn from the (n, m) label matrix ``L`` (dense with -1 = abstain, or SparseVotes).

        ``class_balance`` fixes the class prior P(y): proportions, one per class, or
        ``"uniform"``; ``"learned"`` or None leaves it to the model (learned by the default
        model, Dawid–Skene and majority vote; uniform for ``firing_rates`` unless
        ``learn_class_balance``, and Snorkel's own).  Returns ``self``.
        """
        name = type(self).__name__
        k = check_cardinality(self.cardinality, name)
        votes = as_votes(L, k, name)
        prior = check_class_balance(class_balance, k, name)
        n_voting = int((lf_coverage(votes) > 0).sum())
        if n_voting < self.min_lfs:
            raise ValueError(
                f"{name} needs at least {self.min_lfs} LFs that vote to identify their accuracies, "
                f"but only {n_voting} of the {votes.m} LFs vote; add LFs or fall back to "
                "MajorityVote (make_label_model('majority_vote', cardinality=k))"
            )
        self._fit(votes, prior)
        self.n_lfs_ = votes.m
        return self

    def predict_proba(self, L: LabelMatrix) -> np.ndarray:
        """P(y | votes) for each row, shape (n, k); rows sum to 1.

        Rows where every LF abstains get ``class_balance_``.
        """
        check_is_fitted(self, "n_lfs_")
        votes = as_votes(L, self.cardinality, type(self).__name__, n_lfs=self.n_lfs_)
        return softmax_rows(self._log_scores(votes))

    def predict(
        self, L: LabelMatrix, tie_break: Literal["random", "abstain"] = "random"
    ) -> np.ndarray:
        """Most probable class per row, shape (n,).

        Classes whose probability is within ``TIE_ATOL`` of the row's maximum are tied.
        ``tie_break="random"`` picks one of them uniformly with a generator seeded by
        ``seed``, so the same model and input always give the same labels;
        ``tie_break="abstain"`` returns -1 for tied rows.
        """
        if tie_break not in ("random", "abstain"):
            raise ValueError(f"tie_break must be 'random' or 'abstain', got {tie_break!r}")
        return labels_from_proba(self.predict_proba(L), self.seed, tie_break)

    def vote_log_likelihood(self, L: LabelMatrix) -> float:
        """Mean log P(λ_a = v | the row's other votes, a votes) over the votes of rows with 2 or more.

        How well the model predicts each vote's class from the rest of its row, whatever it
        assumes about abstains: on rows held out of the fit it compares models of different
        structure without gold labels (:class:`~weaksup.model.auto.AutoLabelModel` selects by it).
        NaN when no row has two votes.
        """
        check_is_fitted(self, "n_lfs_")
        votes = as_votes(L, self.cardinality, type(self).__name__, n_lfs=self.n_lfs_)
        several = (np.bincount(votes.rows, minlength=votes.n) >= 2)[votes.rows]
        if not several.any():
            return float("nan")
        contribution, log_conditional = self._vote_terms(votes)
        rest = self._log_scores(votes)[votes.rows] - contribution
        rest -= rest.max(axis=1, keepdims=True)
        predictive = np.log(np.exp(rest + log_conditional).sum(axis=1)) - np.log(np.exp(rest).sum(axis=1))
        return float(predictive[several].mean())

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        raise NotImplementedError

    def _vote_terms(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        """Per vote (a, v), shape (nnz, k) each: what it adds to the row's log scores for each class
        c, and log P(λ_a = v | y = c, a votes)."""
        raise NotImplementedError

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        """Unnormalised log P(y, votes), shape (n, k)."""
        raise NotImplementedError
