"""Synthetic LF votes with known parameters, for tests, benchmarks and trying a set-up out.

:func:`mallows_votes` reproduces the UWS paper's ranking set-up: Mallows LFs around a
random true ranking, and partial rankings made by dropping items.  :func:`gaussian_votes`
makes real-valued LFs with their own scale, offset and noise.

>>> votes, truth = mallows_votes(n=2, d=4, thetas=[50.0, 50.0, 50.0], seed=0)
>>> votes.rankings[0][0] == tuple(truth[0])
True
>>> X, y = gaussian_votes(n=3, scales=[1, 2, 3], offsets=[0, 0, 0], noise_sd=[0, 0, 0], seed=0)
>>> bool(np.allclose(X, y[:, None] * [1, 2, 3]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

import numpy as np

from weaksup.model.mallows import sample_mallows
from weaksup.votes import RankingVotes


def mallows_votes(
    n: int, d: int, thetas: Sequence[float], observe: float = 1.0, seed: int = 0
) -> tuple[RankingVotes, np.ndarray]:
    """``n`` examples of items ``0..d-1`` ranked by Mallows(θ_a) LFs; returns (votes, truth (n, d)).

    With ``observe`` < 1, each item of each example is dropped by m − ⌈observe·m⌉ LFs
    chosen at random (the UWS masking), so each LF ranks about ``observe`` of the items; an
    LF left with fewer than two items gets dropped items back at random until it has two.
    """
    rng = np.random.default_rng(seed)
    m = len(thetas)
    truth = rng.permuted(np.tile(np.arange(d), (n, 1)), axis=1)
    lf = np.stack([sample_mallows(truth, t, rng) for t in thetas], axis=1)  # (n, m, d)
    keep = np.ones((n, m, d), dtype=bool)  # keep[e, a, item]
    drop = m - ceil(observe * m)
    if drop > 0:
        order = np.argsort(rng.random((n, d, m)), axis=2)[:, :, :drop]  # LFs dropping each item
        e, i, _ = np.indices(order.shape)
        keep[e.ravel(), order.ravel(), i.ravel()] = False
        for e, a in zip(*np.nonzero(keep.sum(axis=2) < 2)):
            dropped = np.flatnonzero(~keep[e, a])
            keep[e, a, rng.choice(dropped, 2 - keep[e, a].sum(), replace=False)] = True
    rankings = [[[int(x) for x in lf[e, a] if keep[e, a, x]] for a in range(m)] for e in range(n)]
    return RankingVotes(items=[list(range(d))] * n, rankings=rankings), truth


def gaussian_votes(
    n: int,
    scales: Sequence[float],
    offsets: Sequence[float],
    noise_sd: Sequence[float],
    observe: float = 1.0,
    y_mean: float = 0.0,
    y_sd: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """y ~ N(y_mean, y_sd²) and votes λ_a = offsets[a] + scales[a]·y + N(0, noise_sd[a]²).

    Each vote is kept with probability ``observe`` (NaN otherwise).  Returns (votes (n, m), y (n,)).
    """
    rng = np.random.default_rng(seed)
    y = rng.normal(y_mean, y_sd, size=n)
    X = np.asarray(offsets) + np.outer(y, scales) + rng.normal(size=(n, len(scales))) * np.asarray(noise_sd)
    X[rng.random(X.shape) >= observe] = np.nan
    return X, y
