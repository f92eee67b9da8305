"""RankingLabelModel: combine ranking LFs (partial rankings and abstains allowed) into one ranking per example.

**Model.**  Each LF ``a`` is a Mallows source with its own θ_a around the true ranking y
(Shin et al., *Universalizing Weak Supervision*, ICLR 2022): P(λ_a | y) ∝ exp(−θ_a·K(λ_a, y)),
K the Kendall tau distance.  A partial ranking is a Mallows ranking restricted to the
items the LF lists.

**Estimation** (no labels).  Write a ranked pair as z = ±1.  For a pair that sits k
places apart in y, a Mallows(θ) source keeps its order with E[z_a·z_y] = s_k(θ), a closed
form (:func:`~weaksup.model.mallows.pair_agreement`).  Two LFs are independent given
y, so their mean agreement over the pairs both rank is

    A_ab = Σ_k w_k · s_k(θ_a) · s_k(θ_b),

with w_k the share of those pairs that lie k apart in y: (d − k)/(d(d − 1)/2) for an
example of d items, assuming the items an LF leaves out are chosen independently of y.
θ is fitted to the observed A by weighted least squares (weights: pairs compared, plus
the tiny ridge :data:`RIDGE`), from a rank-one start A ≈ s·sᵀ (the triplet identity
s_a² = A_ab·A_ac / A_bc in matrix form).
This needs m ≥ 3 LFs; an LF that shares compared pairs with fewer than two others cannot
be assessed and gets θ = 0 with a warning.  θ is kept in [0, ``theta_max``]: LFs are
assumed no worse than random.

**Inference.**  The prediction is the θ-weighted Kemeny ranking (the maximum likelihood y),
exact up to ``exact_max_items`` items and approximate beyond
(:mod:`weaksup.model.kemeny` documents the switch).  :meth:`RankingLabelModel.predict_preferences`
gives P(item i above item j | votes) under the same model with a uniform prior on y.
Ties, including examples where every LF abstains, are broken at random with ``seed``,
so the item set's own order never leaks into a prediction.

>>> import numpy as np
>>> from weaksup.model.mallows import sample_mallows
>>> rng = np.random.default_rng(0)
>>> truth = np.tile(np.arange(5), (500, 1))           # every example's true ranking: 0 > 1 > 2 > 3 > 4
>>> lf = [sample_mallows(truth, theta, rng) for theta in (1.2, 1.0, 0.8, 0.0, 0.0)]
>>> votes = RankingVotes(items=truth.tolist(), rankings=[[r[i].tolist() for r in lf] for i in range(500)])
>>> model = RankingLabelModel().fit(votes)
>>> model.theta_.round(1).tolist()
[1.2, 1.0, 0.8, 0.0, 0.0]
>>> exact = lambda rankings: float(np.mean([list(r) == [0, 1, 2, 3, 4] for r in rankings]))
>>> # share of examples ranked exactly right: weighted Kemeny, unweighted Kemeny, the best LF alone
>>> exact(model.predict(votes)), exact(aggregate_rankings(votes, [1, 1, 1, 1, 1])), exact(lf[0])
(0.352, 0.244, 0.252)
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from weaksup import batches
from weaksup.persistence import PersistentModel
from weaksup.model.kemeny import EXACT_MAX_ITEMS, kemeny, pairwise_posterior, weighted_borda
from weaksup.model.mallows import pair_agreement
from weaksup.votes import RankingGroup, RankingVotes

MIN_LFS = 3
"""Fewest assessable LFs the estimator accepts: agreements between pairs of LFs pin θ only from three up."""

RIDGE = 1e-3
"""Weight of a tiny ridge on θ (relative to one LF pair's residual): among fits that
explain the agreements equally well it picks the smallest θ.  It matters only where θ is
not identified, e.g. with only two informative LFs, whose agreement fixes just the
product of their qualities; it then splits it evenly instead of arbitrarily."""


def preference_weights(group: RankingGroup, weights: np.ndarray) -> np.ndarray:
    """W[e, i, j] = Σ_a weights[a]·[LF a ranks item i above item j], shape (examples, d, d)."""
    pos = group.positions
    n, m, d = pos.shape
    W = np.empty((n, d, d))
    step = max(1, batches.MODEL_CHUNK_CELLS // max(1, m * d * d))
    for s in range(0, n, step):
        p = pos[s : s + step]
        ranked = p >= 0
        above = ranked[:, :, :, None] & ranked[:, :, None, :] & (p[:, :, :, None] < p[:, :, None, :])
        W[s : s + step] = np.einsum("a,eaij->eij", weights, above)
    return W


def aggregate_rankings(
    votes: RankingVotes,
    weights: ArrayLike,
    *,
    method: Literal["kemeny", "borda"] = "kemeny",
    exact_max_items: int = EXACT_MAX_ITEMS,
    seed: int = 0,
) -> list[list[Hashable]]:
    """One ranking per example from LF weights: weighted Kemeny or weighted Borda.

    Unit weights give the unweighted rules.  Ties are broken at random with ``seed``.
    """
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (votes.m,):
        raise ValueError(f"aggregate_rankings: {weights.shape[0] if weights.ndim else 0} weights for {votes.m} LFs")
    if method not in ("kemeny", "borda"):
        raise ValueError(f"aggregate_rankings: method must be 'kemeny' or 'borda', got {method!r}")
    rng = np.random.default_rng(seed)
    out: list[list[Hashable]] = [[] for _ in range(votes.n)]
    for g in votes.groups:
        W = preference_weights(g, weights)
        perm = rng.permuted(np.tile(np.arange(g.d), (len(g.rows), 1)), axis=1)
        Wp = np.take_along_axis(np.take_along_axis(W, perm[:, :, None], axis=1), perm[:, None, :], axis=2)
        order = kemeny(Wp, exact_max_items) if method == "kemeny" else weighted_borda(Wp)
        order = np.take_along_axis(perm, order, axis=1)
        for e, i in enumerate(g.rows):
            items = votes.items[i]
            out[i] = [items[j] for j in order[e]]
    return out


def pair_agreement_stats(votes: RankingVotes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Agreement between LFs on the pairs both rank.

    Returns ``total`` (m, m): Σ z_a·z_b over co-ranked pairs; ``count`` (m, m): the number
    of co-ranked pairs; and ``by_gap`` (K, m, m): count spread over the gap k = 1..K in y
    (``by_gap[k-1]`` = Σ_d count_d·(d − k)/(d(d − 1)/2)), which the model needs.
    """
    m = votes.m
    max_d = max((g.d for g in votes.groups), default=2)
    total = np.zeros((m, m))
    count = np.zeros((m, m))
    by_gap = np.zeros((max(1, max_d - 1), m, m))
    for g in votes.groups:
        if g.d < 2:
            continue
        iu, ju = np.triu_indices(g.d, k=1)
        count_d = np.zeros((m, m))
        step = max(1, batches.MODEL_CHUNK_CELLS // max(1, m * len(iu)))
        for s in range(0, len(g.rows), step):
            p = g.positions[s : s + step]
            ranked = (p[:, :, iu] >= 0) & (p[:, :, ju] >= 0)
            z = np.where(ranked, np.sign(p[:, :, ju] - p[:, :, iu]), 0).astype(float)
            z = z.transpose(1, 0, 2).reshape(m, -1)
            r = ranked.transpose(1, 0, 2).reshape(m, -1).astype(float)
            total += z @ z.T
            count_d += r @ r.T
        k = np.arange(1, g.d)
        share = (g.d - k) / (g.d * (g.d - 1) / 2)
        by_gap[: g.d - 1] += share[:, None, None] * count_d
        count += count_d
    return total, count, by_gap


def _theta_from_agreement(s: np.ndarray, by_gap: np.ndarray, theta_max: float) -> np.ndarray:
    """Invert the mean agreement Σ_k w_k s_k(θ) (w: overall gap shares) on a grid of θ."""
    w = by_gap.sum(axis=(1, 2))
    w = w / w.sum()
    grid = np.concatenate([[0.0], np.geomspace(1e-3, theta_max, 400)])
    curve = pair_agreement(np.arange(1, len(w) + 1), grid[:, None]) @ w
    return np.interp(s, curve, grid)


def _rank_one(A: np.ndarray, known: np.ndarray) -> np.ndarray:
    """s ≥ 0 with A_ab ≈ s_a·s_b on the known off-diagonal cells (missing cells and the diagonal imputed)."""
    s = np.full(len(A), 0.5)
    for _ in range(100):
        F = np.where(known, A, np.outer(s, s))
        vals, vecs = np.linalg.eigh(F)
        v = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
        s_new = np.clip(v * np.sign(v.sum() or 1.0), 0.0, 0.999)
        if np.abs(s_new - s).max() < 1e-9:
            break
        s = s_new
    return s


def estimate_theta(
    total: np.ndarray, count: np.ndarray, by_gap: np.ndarray, theta_max: float
) -> np.ndarray:
    """Least-squares θ from :func:`pair_agreement_stats` (see the module docstring); all LFs given must be assessable."""
    m = len(total)
    known = (count > 0) & ~np.eye(m, dtype=bool)
    A = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    x0 = _theta_from_agreement(_rank_one(A, known), by_gap, theta_max)
    ia, ib = np.nonzero(np.triu(known, k=1))
    gaps = np.arange(1, len(by_gap) + 1)
    rel = by_gap[:, ia, ib] / count[ia, ib]  # (K, pairs): gap shares per LF pair
    sw = np.sqrt(count[ia, ib])
    ridge = RIDGE * np.sqrt(np.median(count[ia, ib]))

    def residuals(theta: np.ndarray) -> np.ndarray:
        S = pair_agreement(gaps[None, :], theta[:, None])  # (m, K)
        pred = np.einsum("pk,kp->p", S[ia] * S[ib], rel)
        return np.concatenate([sw * (A[ia, ib] - pred), ridge * theta])

    fit = least_squares(residuals, np.clip(x0, 1e-3, theta_max - 1e-3), bounds=(0.0, theta_max))
    return fit.x


class RankingLabelModel(PersistentModel, BaseEstimator):
    """Mallows label model for ranking LFs (see the module docstring).

    Parameters: ``exact_max_items``, the largest item set solved by exact Kemeny (and
    exact pairwise posteriors); ``theta_max``, the upper bound on an LF's θ; ``seed``,
    for breaking ties at random.  Fitted: ``theta_`` (m,), ``agreement_`` (m, m), the
    observed mean pair agreement between LFs (NaN where two LFs share no pair), ``lf_names_``.
    """

    _fitted_arrays = ("theta_", "agreement_")
    _fitted_meta = ("lf_names_",)

    def __init__(self, exact_max_items: int = EXACT_MAX_ITEMS, theta_max: float = 10.0, seed: int = 0) -> None:
        self.exact_max_items = exact_max_items
        self.theta_max = theta_max
        self.seed = seed

    def fit(self, votes: RankingVotes) -> RankingLabelModel:
        """Estimate each LF's θ from how often LFs agree on pairs; returns ``self``."""
        name = type(self).__name__
        if not isinstance(votes, RankingVotes):
            raise TypeError(f"{name}.fit: votes must be RankingVotes, got {type(votes).__name__}")
        if votes.m < MIN_LFS:
            raise ValueError(
                f"{name} needs at least {MIN_LFS} LFs to estimate their quality from agreements, "
                f"got {votes.m} ({list(votes.lf_names)}); add LFs, or aggregate with fixed weights "
                "using aggregate_rankings(votes, weights)"
            )
        total, count, by_gap = pair_agreement_stats(votes)
        partners = ((count > 0) & ~np.eye(votes.m, dtype=bool)).sum(axis=1)
        ok = partners >= 2
        if ok.sum() < MIN_LFS:
            raise ValueError(
                f"{name} needs at least {MIN_LFS} LFs that rank pairs of items in common, but only "
                f"{[votes.lf_names[a] for a in np.flatnonzero(ok)]} do; check that the LFs vote "
                "(rankings of two or more items) on shared examples"
            )
        if not ok.all():
            warnings.warn(
                f"{name}: LFs {[votes.lf_names[a] for a in np.flatnonzero(~ok)]} share ranked pairs "
                "with fewer than two other LFs, so their quality cannot be estimated; they get θ = 0",
                stacklevel=2,
            )
        theta = np.zeros(votes.m)
        sub = np.ix_(ok, ok)
        theta[ok] = estimate_theta(total[sub], count[sub], by_gap[:, ok][:, :, ok], self.theta_max)
        self.theta_ = theta
        self.agreement_ = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
        self.lf_names_ = votes.lf_names
        return self

    def _check(self, votes: RankingVotes) -> None:
        check_is_fitted(self, "theta_")
        if votes.m != len(self.theta_):
            raise ValueError(
                f"{type(self).__name__}: votes have {votes.m} LFs but the model was fitted on "
                f"{len(self.theta_)} ({list(self.lf_names_)})"
            )

    def predict(self, votes: RankingVotes) -> list[list[Hashable]]:
        """The θ-weighted Kemeny ranking of each example's full item set, best first."""
        self._check(votes)
        return aggregate_rankings(votes, self.theta_, exact_max_items=self.exact_max_items, seed=self.seed)

    def predict_preferences(self, votes: RankingVotes) -> list[np.ndarray]:
        """Per example, the (d, d) matrix P[i, j] = P(item i above item j | votes), items in ``votes.items`` order.

        Exact posterior marginals up to ``exact_max_items`` items, the pairwise
        approximation σ(W[i, j] − W[j, i]) beyond.  Examples without votes get 0.5 everywhere.
        """
        self._check(votes)
        out: list[np.ndarray] = [np.empty((0, 0))] * votes.n
        for g in votes.groups:
            P = pairwise_posterior(preference_weights(g, self.theta_), self.exact_max_items)
            for e, i in enumerate(g.rows):
                out[i] = P[e]
        return out
