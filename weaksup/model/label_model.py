"""Firing-rate label model (registry name ``firing_rates``): EM over per-LF, per-class firing rates, no epochs or learning rate.

>>> import numpy as np
>>> from weaksup.model import MajorityVote
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 5000)
>>> L = np.stack([np.where(rng.random(5000) < a, y, 1 - y) for a in (0.9, 0.8, 0.7, 0.6)], 1)
>>> L[rng.random(L.shape) < 0.5] = -1  # each LF votes on half the rows
>>> lm = LabelModel(cardinality=2).fit(L)
>>> bool(np.all(np.diff(lm.accuracies_) < 0))  # the LFs' order is kept (true accuracies 0.9 to 0.6)
True
>>> float(np.abs(lm.accuracies_ - [0.9, 0.8, 0.7, 0.6]).max()) < 0.06  # the pseudo-votes shrink them a little
True
>>> float((lm.predict(L) == y).mean()) > float((MajorityVote(cardinality=2).fit(L).predict(L) == y).mean())
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp

from weaksup import batches
from weaksup.model._base import LabelModelBase, softmax_rows
from weaksup.votes import SparseVotes

PRIOR_STRENGTH = 4.0
"""Default ``prior_strength``: each (LF, class it votes) gets ``prior_strength · √(its votes)``
pseudo-votes of precision ``PRIOR_PRECISION``, like Snorkel's ``prec_init``.  They keep an LF
with few votes from getting an extreme weight, and their share of an LF's evidence falls as
1/√(votes), so no count of rows is built in: an LF voting 25 times gets 20 pseudo-votes, one
voting 25,000 times 632.  The default model (:class:`~weaksup.model.auto.AutoLabelModel`) chooses
its own from 2, 4 and 8 leave-one-set-out (``benchmarks/label_models.py``)."""
PRIOR_PRECISION = 0.9
"""The precision those pseudo-votes carry."""
THREADED_VOTES = 1_000_000
"""From this many votes on, the classes' sparse products run on a thread per core; below it
the threads cost more than they save."""


def distinct_rows(votes: SparseVotes, cardinality: int) -> tuple[SparseVotes, np.ndarray]:
    """One row per distinct non-empty vote pattern, and how many rows share each pattern.

    A row's pattern is encoded exactly as the base-(k+1) number with digit ``v + 1`` for LF
    ``a``'s vote (0 = abstain), which fits in int64 while (k+1)^m < 2^62; beyond that the votes
    are returned as they are, with weight 0 for all-abstain rows.  Costs O(nnz + n log n); with few LFs the patterns are far
    fewer than the rows (at m = 10 a million rows hold a few thousand).  Weights are 0 or 1
    when no exact key fits.
    """
    k = cardinality
    if votes.m * np.log2(k + 1) >= 62:
        # No exact key: keep the votes as they are and give all-abstain rows weight 0.
        return votes, (np.bincount(votes.rows, minlength=votes.n) > 0).astype(float)
    digit = (k + 1) ** np.arange(votes.m, dtype=np.int64)
    found = [_patterns(part, digit, start) for start, part in votes.row_batches(batches.PATTERN_ROWS)]
    keys = np.concatenate([f[0] for f in found])
    firsts = np.concatenate([f[1] for f in found])
    counts = np.concatenate([f[2] for f in found])
    _, group = np.unique(keys, return_inverse=True)  # one entry per pattern, in key order
    weight = np.bincount(group, weights=counts)
    keep = np.full(len(weight), votes.n, dtype=np.int64)
    np.minimum.at(keep, group, firsts)  # each pattern's first row: batches come in row order
    kept = np.zeros(votes.n, dtype=bool)
    kept[keep] = True
    mine = kept[votes.rows]  # a byte per row and per vote (np.isin took 8 bytes per vote, twice)
    order = np.argsort(keep)
    rows = order[np.searchsorted(keep[order], votes.rows[mine])]  # renumbered 0..len(keep)-1 in key order
    return SparseVotes(rows, votes.cols[mine], votes.labels[mine], len(keep), votes.m), weight



def _patterns(votes: SparseVotes, digit: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct non-empty patterns of ``votes`` (rows offset by ``start``): their keys, the
    first row with each and how many rows have it."""
    covered = np.bincount(votes.rows, minlength=votes.n) > 0
    key = np.zeros(votes.n, dtype=np.int64)
    np.add.at(key, votes.rows, (votes.labels.astype(np.int64) + 1) * digit[votes.cols])
    keys, first, count = np.unique(key[covered], return_index=True, return_counts=True)
    return keys, np.flatnonzero(covered)[first] + start, count


def _by_class(votes: SparseVotes, cardinality: int) -> list[sp.csr_matrix]:
    """The votes for each class v as an (n, m) CSR matrix of ones: ``X[v][i, a] = 1`` when LF
    ``a`` votes v on row ``i``.

    A vote for v only bears on class v, so with these both EM steps are one sparse product per
    class (``X[v] @ w`` and ``X[v].T @ q``): O(nnz) in all, whatever k is.  Built straight from
    row-ordered votes, without scipy's COO conversion (a random-access pass, 10× slower here).
    """
    votes = votes.by_row()
    n, m = votes.n, votes.m
    out = []
    index = np.int32 if votes.nnz < 2**31 else np.int64
    for v in range(cardinality):
        mine = np.flatnonzero(votes.labels == v)
        indptr = np.zeros(n + 1, dtype=index)
        np.cumsum(np.bincount(votes.rows.take(mine), minlength=n), out=indptr[1:])
        cols = votes.cols.take(mine).astype(index, copy=False)
        out.append(sp.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(n, m), copy=False))
    return out


def _per_class(
    fn: Callable[[int], np.ndarray], k: int, pool: ThreadPoolExecutor | None, out: np.ndarray | None = None
) -> np.ndarray:
    """``fn(v)`` for every class v, as the columns of an (·, k) array, on ``pool`` if given.

    The array is column-major (a transposed (k, ·) one), so each class's column is contiguous;
    pass ``out`` of shape (k, ·) to fill it in place instead of allocating (at a million rows
    and ten classes, every fresh (n, k) array costs page faults worth a sparse product).
    scipy's sparse products release the GIL, so classes run in parallel; each class's result
    does not depend on the others, so the outcome is the same with or without the pool.
    """
    if out is None:
        return np.stack(list(pool.map(fn, range(k)) if pool else map(fn, range(k)))).T

    def fill(v: int) -> None:
        out[v] = fn(v)

    list(pool.map(fill, range(k)) if pool else map(fill, range(k)))
    return out.T


def _squarem(
    step: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, tol: float, max_steps: int
) -> tuple[np.ndarray, int]:
    """Iterate the EM map ``step`` to a fixed point with SQUAREM extrapolation.

    Varadhan & Roland (2008), scheme S3: two EM steps give a direction and a step length,
    the extrapolated point is stabilised by one more EM step and kept only if its residual
    does not exceed the first step's (else the plain two-step point is kept).  Stops when an
    EM step moves no coordinate by more than ``tol``, or after ``max_steps`` EM steps.
    Returns the parameters and the number of EM steps taken.
    """
    steps = 0
    while steps < max_steps:
        theta1 = step(theta)
        r = theta1 - theta
        steps += 1
        if np.abs(r).max() < tol or steps >= max_steps:
            return theta1, steps
        theta2 = step(theta1)
        steps += 1
        v = theta2 - theta1 - r
        if np.abs(theta2 - theta1).max() < tol or not v.any():
            return theta2, steps
        alpha = min(-1.0, -np.linalg.norm(r) / np.linalg.norm(v))
        jump = theta - 2 * alpha * r + alpha**2 * v
        theta3 = step(jump)
        steps += 1
        residual = np.linalg.norm(theta3 - jump)
        theta = theta3 if np.isfinite(residual) and residual <= np.linalg.norm(r) else theta2
    return theta, steps


class LabelModel(LabelModelBase):
    """Per-LF, per-class firing rates; the default's structure for LFs that each vote one class.

    Model.  Each LF ``a`` and class ``v`` have two firing rates among rows that some LF votes on:
    β[a, v] = P(λ_a = v | y = v) and γ[a, v] = P(λ_a = v | y ≠ v).  An LF may vote a single
    class (most real LFs do) or several; its accuracy may differ per class.  A vote for ``v``
    adds log(β/γ)[a, v] to class ``v``'s log-odds, and abstains carry no evidence:

        P(y = c | λ) ∝ P(y = c) · Π over votes (a, v) of (β[a, v] if v = c else γ[a, v])

    Assumptions: LFs are conditionally independent given y; whether an LF abstains is not used
    as evidence (as in Snorkel's inference); a vote for v is at least as likely when y = v as
    when y ≠ v (β ≥ γ, so no vote counts against its own class).  The class prior P(y) is
    uniform unless ``class_balance`` is passed to :meth:`fit` or ``learn_class_balance=True``.

    Fitting is EM from the majority-vote posterior.  The M-step adds pseudo-votes of precision
    ``PRIOR_PRECISION`` to each (LF, class it votes) count: ``prior_strength`` times the square
    root of the LF's votes for that class (``PRIOR_STRENGTH``), or, with ``prior_votes``, that
    fixed count to every (LF, class), as earlier versions did.  EM stops when no vote weight
    moves by more than ``tol`` (or after ``max_iter`` iterations); it is deterministic, so
    ``seed`` only drives tie-breaks in :meth:`predict`.  SQUAREM extrapolation cuts the number of
    EM steps (``n_iter_`` counts them); each costs two sparse products per class over that
    class's votes, O(nnz) in all whatever k is, and nothing of size n × m is built.  From
    ``THREADED_VOTES`` votes on, the classes' products share the cores.

    Why this model: on hand-written LFs (youtube, trec, hausa, cdr, imdb, basketball) its weights
    beat majority vote, Dawid–Skene and Snorkel's LabelModel, mostly by breaking the ties of majority
    vote well (``benchmarks/results/label_models.txt``).  Where they do not (prompted LFs near chance,
    dense LFs whose silence carries the class, many sparse keyword LFs over many classes), the
    default model (:class:`~weaksup.model.auto.AutoLabelModel`) keeps majority vote instead.

    Class prior.  Uniform unless ``class_balance`` is passed or ``learn_class_balance=True``: then it
    is learned by EM and shrunk toward uniform (a Dirichlet prior worth ``balance_strength`` × n
    rows, (shares + s/k) / (1 + s)), because with one-class LFs the learned balance and the rates
    trade off and EM drifts (hausa's largest class, 28% of rows, came out at 2%).  The default model
    leaves covered rows to the uniform prior and estimates the prior of uncovered rows apart.

    Silence during fitting (``silence_weight`` τ, 0 by default): with τ > 0 the E-step while fitting
    also counts each LF's silence on a class it votes, τ·log((1-β)/(1-γ)) (τ = 1 is the full
    Bernoulli model in which abstains are evidence); predictions still use votes only.  It pulls a
    learned balance toward the truth when a rare class's LFs are broad, but costs sets of many sparse
    LFs (trec 0.476 at τ = 1), so the default leaves it at 0.

    Pseudo-votes (``prior_strength``).  A fixed count (``prior_votes``, 50 or 100 in earlier versions)
    dwarfs an LF that fires 20 times and barely touches one that fires 20,000 times; ``prior_strength``
    · √(votes) weighs on a small LF without being a count of rows: 2, 4 and 8 were compared
    leave-one-set-out (``benchmarks/label_models.py``).

    Fitted: ``log_weights_`` (m, k) = log(β/γ), ``rates_`` (2, m, k) = (β, γ), ``class_balance_`` (k,), ``accuracies_`` (m,) =
    expected share of each LF's votes that are correct (NaN for an LF that never votes),
    ``n_iter_``.  Rows where every LF abstains get ``class_balance_``.  Needs 3 LFs that vote.
    """

    min_lfs = 3
    _fitted_arrays = ("class_balance_", "accuracies_", "log_weights_", "rates_")

    def __init__(
        self,
        cardinality: int,
        seed: int = 0,
        learn_class_balance: bool = False,
        max_iter: int = 100,
        tol: float = 1e-4,
        balance_strength: float = 0.3,
        silence_weight: float = 0.0,
        prior_strength: float = PRIOR_STRENGTH,
        prior_votes: float | None = None,
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.learn_class_balance = learn_class_balance
        self.balance_strength = balance_strength
        self.silence_weight = silence_weight
        self.prior_strength = prior_strength
        self.prior_votes = prior_votes
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        k, m = self.cardinality, votes.m
        if self.prior_strength <= 0 or (self.prior_votes is not None and self.prior_votes <= 0):
            raise ValueError(f"LabelModel: prior_strength and prior_votes must be positive, got "
                             f"{self.prior_strength} and {self.prior_votes}")  # fmt: skip
        # EM runs over distinct vote patterns: rows with the same votes share one posterior,
        # and rows where every LF abstains carry no evidence about the LFs.
        votes, weight = distinct_rows(votes, k)
        X = _by_class(votes, k)
        XT = [x.T for x in X]  # views; made once, as each .T costs more than a small product
        merged = bool((weight != 1).any())
        fixed_p = class_balance is not None or not self.learn_class_balance
        p0 = np.full(k, 1.0 / k) if class_balance is None else class_balance
        threads = min(k, os.cpu_count() or 1) if votes.nnz >= THREADED_VOTES else 1
        with ThreadPoolExecutor(threads) if threads > 1 else nullcontext() as pool:
            fired = _per_class(lambda v: XT[v] @ weight, k, pool)
            votes_for = fired > 0  # the classes each LF votes: only its silence on those says anything
            pv = self.prior_votes if self.prior_votes is not None else self.prior_strength * np.sqrt(fired)

            def m_step(q: np.ndarray) -> np.ndarray:
                """theta = (log vote weights, log class prior, β, γ) from the patterns' posteriors.

                Scales ``q`` in place: it is the E-step's buffer, refilled before it is read again.
                """
                n_class = weight @ q
                if merged:
                    q *= weight[:, None]
                right = _per_class(lambda v: XT[v] @ q[:, v], k, pool)
                beta = (right + pv * PRIOR_PRECISION) / (n_class + pv)
                gamma = (fired - right + pv * (1 - PRIOR_PRECISION)) / (n_class.sum() - n_class + pv)
                shrunk = (n_class / n_class.sum() + self.balance_strength / k) / (1 + self.balance_strength)
                log_p = np.log(p0) if fixed_p else np.log(shrunk)
                beta = np.maximum(beta, gamma)
                # a class the LF never votes has no rates (√0 pseudo-votes) and adds nothing
                with np.errstate(divide="ignore", invalid="ignore"):
                    weights = np.where(beta > 0, np.log(beta / gamma), 0.0)
                return np.concatenate([weights.ravel(), log_p, beta.ravel(), gamma.ravel()])

            posterior = np.empty((k, votes.n))  # the one (n, k) buffer every step reuses

            def e_step(theta: np.ndarray) -> np.ndarray:
                w, log_p = theta[: m * k].reshape(m, k), theta[m * k : m * k + k]
                if self.silence_weight:
                    # LF a's silence on class v adds τ·log((1-β)/(1-γ)) to v: on every row, less where a votes v.
                    # (clipped: a SQUAREM extrapolation may step outside [0, 1]; its result is then checked)
                    beta, gamma = np.clip(theta[m * k + k :].reshape(2, m, k), 0.0, 1 - 1e-9)
                    silent = np.where(votes_for, self.silence_weight * (np.log1p(-beta) - np.log1p(-gamma)), 0.0)
                    w, log_p = w - silent, log_p + silent.sum(axis=0)
                scores = _per_class(lambda v: X[v] @ w[:, v], k, pool, out=posterior)
                scores += log_p
                return softmax_rows(scores, out=scores)

            # Start from majority vote: each pattern's vote shares.
            shares = _per_class(lambda v: X[v] @ np.ones(m), k, pool, out=posterior)
            shares /= np.maximum(shares.sum(axis=1, keepdims=True), 1.0)
            theta = m_step(shares)
            theta, self.n_iter_ = _squarem(lambda t: m_step(e_step(t)), theta, self.tol, self.max_iter)
        self.log_weights_ = theta[: m * k].reshape(m, k)
        self.class_balance_ = np.exp(theta[m * k : m * k + k])
        self.rates_ = theta[m * k + k :].reshape(2, m, k)
        self.accuracies_ = self._accuracies(fired)

    def _accuracies(self, fired: np.ndarray) -> np.ndarray:
        """Expected share of each LF's votes that are correct, from P(y = v | λ_a = v)."""
        p = self.class_balance_
        odds = np.exp(self.log_weights_) * p / (1 - p)
        precision = odds / (1 + odds)
        with np.errstate(invalid="ignore"):
            return (fired * precision).sum(axis=1) / fired.sum(axis=1)

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        X, w = _by_class(votes, self.cardinality), self.log_weights_
        return _per_class(lambda v: X[v] @ w[:, v], self.cardinality, None) + np.log(self.class_balance_)

    def _vote_terms(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        k = self.cardinality
        beta, gamma = self.rates_
        # P(a votes | y = c) = β[a, c] + Σ_{v≠c} γ[a, v]
        fires = beta + gamma.sum(axis=1, keepdims=True) - gamma
        own = np.arange(k)[None, :] == votes.labels[:, None]
        a, v = votes.cols, votes.labels
        contribution = np.where(own, self.log_weights_[a, v][:, None], 0.0)
        # (a class the LF never voted while fitting has rate 0: a vote for it is merely very unlikely)
        log_conditional = np.log(np.maximum(np.where(own, beta[a, v][:, None], gamma[a, v][:, None]), 1e-12)) - np.log(
            np.maximum(fires[a], 1e-12))
        return contribution, log_conditional
