"""Weighted Kemeny aggregation over pairwise preference weights, exact or approximate.

Everything here works on ``W`` of shape (n, d, d): ``W[e, i, j]`` is the total weight of
sources that put item ``i`` above item ``j`` in example ``e`` (for Mallows sources, the sum
of their θ).  The Kemeny cost of an order is the weight of the preferences it breaks,
Σ_{i placed before j} W[j, i]; minimising it is the weighted Kemeny ranking, the maximum
likelihood ranking of independent Mallows sources.

**The switch point.**  For d ≤ ``exact_max_items`` (default :data:`EXACT_MAX_ITEMS` = 10)
the minimum is found exactly by dynamic programming over subsets of items (the best
order of each set of items placed first), O(2^d · d²) per example.  Larger item sets
start from the weighted Borda order (items sorted by weighted wins minus losses, which
is weighted pairwise majority's score) and refine it by local search: each item in turn
moves to the place that lowers the cost most, in sweeps, until no move helps.  The result
is a local optimum (no single item can move to a better place), never worse than Borda;
on sets small enough to check, it nearly always equals the exact optimum (see the tests).
Local search costs O(d²) per example and sweep, a few sweeps in practice.

Pairwise posteriors follow the same switch: exact marginals of P(order) ∝ exp(−cost)
over all d! orders by a forward-backward pass over the same subsets, and beyond the
switch point the pairwise approximation P(i above j) = σ(W[i, j] − W[j, i]), which
ignores transitivity: it orders pairs like the exact posterior but is under-confident
(see the tests).

>>> import numpy as np
>>> W = np.array([[[0, 2, 2], [1, 0, 3], [0, 0, 0]]], dtype=float)  # 0 beats 1 (2 vs 1)
>>> kemeny(W).tolist(), kemeny(W, exact_max_items=0).tolist()
([[0, 1, 2]], [[0, 1, 2]])
>>> float(kemeny_cost(W, np.array([[1, 0, 2]]))[0])
2.0
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from weaksup import batches

EXACT_MAX_ITEMS = 10
"""Default switch point: exact dynamic programming up to this many items, local search beyond."""



def _chunks(n: int, cells_per_example: int) -> list[slice]:
    size = max(1, batches.MODEL_CHUNK_CELLS // max(1, cells_per_example))
    return [slice(s, min(n, s + size)) for s in range(0, n, size)]


def kemeny_cost(W: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Weight of the preferences each order breaks, shape (n,); ``order`` is (n, d) item indices, best first."""
    M = np.take_along_axis(np.take_along_axis(W, order[:, :, None], axis=1), order[:, None, :], axis=2)
    return np.tril(M, k=-1).sum(axis=(1, 2))


def weighted_borda(W: np.ndarray) -> np.ndarray:
    """Items sorted by weighted wins minus losses, Σ_j W[i, j] − W[j, i]; ties keep index order."""
    score = W.sum(axis=2) - W.sum(axis=1)
    return np.argsort(-score, axis=1, kind="stable")


def kemeny(W: np.ndarray, exact_max_items: int = EXACT_MAX_ITEMS) -> np.ndarray:
    """The weighted Kemeny order of each example, (n, d) item indices best first.

    Exact for d ≤ ``exact_max_items``, Borda plus local search beyond (see the module
    docstring).  Among equally good orders both paths return one fixed by the item indices,
    so permute the items beforehand to break ties at random.
    """
    W = np.asarray(W, dtype=float)
    n, d, _ = W.shape
    if d <= 1:
        return np.zeros((n, d), dtype=np.int64)
    if d <= exact_max_items:
        out = np.empty((n, d), dtype=np.int64)
        for s in _chunks(n, (1 << d) * d * 3):
            out[s] = _exact(W[s])
        return out
    out = weighted_borda(W)
    for s in _chunks(n, d * d):
        out[s] = _local_search(W[s], out[s])
    return out


def pairwise_posterior(W: np.ndarray, exact_max_items: int = EXACT_MAX_ITEMS) -> np.ndarray:
    """P(item i above item j) under P(order) ∝ exp(−Kemeny cost), shape (n, d, d).

    Exact marginals for d ≤ ``exact_max_items``, σ(W[i, j] − W[j, i]) beyond.  P[i, j] +
    P[j, i] = 1; the diagonal is 0.5.
    """
    W = np.asarray(W, dtype=float)
    n, d, _ = W.shape
    if d > exact_max_items or d <= 1:
        P = expit(W - W.transpose(0, 2, 1))
    else:
        P = np.empty((n, d, d))
        for s in _chunks(n, (1 << d) * d * 4):
            P[s] = _exact_marginals(W[s])
    idx = np.arange(d)
    P[:, idx, idx] = 0.5
    return P


# -- exact: dynamic programming over subsets -------------------------------------------


def _subsets(d: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(2^d, d) membership bits of every subset, and the subsets grouped by size."""
    S = np.arange(1 << d)
    bits = (S[:, None] >> np.arange(d)) & 1
    size = bits.sum(axis=1)
    return bits, [S[size == k] for k in range(d + 1)]


def _step_costs(W: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """step[e, S, v]: cost of placing v right after the items of S, Σ_{u ∉ S, u ≠ v} W[u, v].

    Only meaningful for v ∉ S.
    """
    return W.sum(axis=1)[:, None, :] - np.einsum("su,euv->esv", bits.astype(float), W)


def _exact(W: np.ndarray) -> np.ndarray:
    n, d, _ = W.shape
    bits, layers = _subsets(d)
    step = _step_costs(W, bits)
    best = np.full((n, 1 << d), np.inf)
    best[:, 0] = 0.0
    last = np.zeros((n, 1 << d), dtype=np.int64)
    for layer in layers[:-1]:
        for v in range(d):
            S = layer[bits[layer, v] == 0]
            T = S | (1 << v)
            cand = best[:, S] + step[:, S, v]
            better = cand < best[:, T]
            best[:, T] = np.where(better, cand, best[:, T])
            last[:, T] = np.where(better, v, last[:, T])
    order = np.empty((n, d), dtype=np.int64)
    S = np.full(n, (1 << d) - 1)
    rows = np.arange(n)
    for place in range(d - 1, -1, -1):
        v = last[rows, S]
        order[:, place] = v
        S = S ^ (1 << v)
    return order


def _exact_marginals(W: np.ndarray) -> np.ndarray:
    n, d, _ = W.shape
    bits, layers = _subsets(d)
    step = _step_costs(W, bits)
    full = (1 << d) - 1
    fwd = np.full((n, 1 << d), -np.inf)
    fwd[:, 0] = 0.0
    for layer in layers[:-1]:
        for v in range(d):
            S = layer[bits[layer, v] == 0]
            fwd[:, S | (1 << v)] = np.logaddexp(fwd[:, S | (1 << v)], fwd[:, S] - step[:, S, v])
    bwd = np.full((n, 1 << d), -np.inf)
    bwd[:, full] = 0.0
    for layer in reversed(layers[:-1]):
        for v in range(d):
            S = layer[bits[layer, v] == 0]
            bwd[:, S] = np.logaddexp(bwd[:, S], bwd[:, S | (1 << v)] - step[:, S, v])
    log_z = fwd[:, full]
    # mass of orders in which item i is placed right after the prefix S (i ∉ S)
    notin = 1 - bits
    S = np.arange(1 << d)
    first = np.zeros((n, 1 << d, d))
    for i in range(d):
        ok = notin[:, i] == 1
        Si = S[ok]
        first[:, Si, i] = np.exp(fwd[:, Si] - step[:, Si, i] + bwd[:, Si | (1 << i)] - log_z[:, None])
    # i is above j exactly when i is placed while j is still unplaced
    return np.einsum("esi,sj->eij", first, notin.astype(float))


# -- approximate: local search from Borda -----------------------------------------------


def _local_search(W: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Move each item in turn to the place that lowers the cost most; sweep until no move helps.

    Every move lowers the cost, so the sweeps end; they are capped at ``d`` sweeps.  One
    sweep costs O(d²) per example.
    """
    order = order.copy()
    n, d = order.shape
    rows = np.arange(n)[:, None]
    places = np.arange(d)
    for _ in range(d):
        moved = np.zeros(n, dtype=bool)
        for x in range(d):
            p = (order == x).argmax(axis=1)[:, None]
            # c[u]: cost change when x jumps from just below the item at place u to just above it
            c = W[rows, order, x] - W[rows, x, order]
            C0 = np.concatenate([np.zeros((n, 1)), np.cumsum(c, axis=1)], axis=1)
            at_p = np.take_along_axis(C0, p, axis=1)
            after_p = np.take_along_axis(C0, p + 1, axis=1)
            delta = np.where(places < p, at_p - C0[:, :d], np.where(places > p, after_p - C0[:, 1:], 0.0))
            q = delta.argmin(axis=1)[:, None]
            go = np.take_along_axis(delta, q, axis=1)[:, 0] < -1e-12
            if not go.any():
                continue
            moved |= go
            q = np.where(go[:, None], q, p)
            src = np.where(
                q <= p,
                np.where((places < q) | (places > p), places, np.where(places == q, p, places - 1)),
                np.where((places < p) | (places > q), places, np.where(places == q, p, places + 1)),
            )
            order = np.take_along_axis(order, src, axis=1)
        if not moved.any():
            break
    return order
