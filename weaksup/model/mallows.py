"""The Mallows model of rankings: pair-inversion probabilities, expected distance, sampling.

Mallows(θ) around a centre ranking puts probability ∝ exp(−θ·K(π, centre)) on each ranking
π, where K counts discordant pairs (the Kendall tau distance).  θ = 0 is uniformly random,
large θ is nearly always the centre.  :class:`~weaksup.model.ranking.RankingLabelModel`
models each ranking LF as a Mallows source; these functions are its closed forms.

A fact it relies on: the probability that two items ``k`` places apart in the centre come
out swapped depends only on ``k`` and θ, not on the number of items or where the pair sits.

>>> import numpy as np
>>> round(float(pair_inversion_prob(1, 0.7)), 4)    # adjacent pair, θ = 0.7
0.3318
>>> round(float(expected_distance(0.0, 5)), 2)       # random rankings of 5: half of 10 pairs
5.0
>>> sample_mallows(np.array([[3, 1, 2]]), theta=50.0, rng=np.random.default_rng(0)).tolist()
[[3, 1, 2]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

THETA_FLOOR = 1e-6
"""θ below this is evaluated at this value: the closed forms divide by θ, and nothing
distinguishes θ = 1e-6 from θ = 0 at any sample size."""


def _g(x: np.ndarray) -> np.ndarray:
    """x / (1 − e^{−x}), accurate for small x."""
    return x / -np.expm1(-x)


def pair_inversion_prob(k: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """P(two items ``k`` places apart in the centre are swapped) under Mallows(θ).

    Equals 1 + k/(1 − q^k) − (k + 1)/(1 − q^{k+1}) with q = e^{−θ}; broadcasts over
    ``k`` and ``theta``.  It is 1/2 at θ = 0 and falls towards 0 as θ or k grow.
    """
    k = np.asarray(k, dtype=float)
    theta = np.maximum(np.asarray(theta, dtype=float), THETA_FLOOR)
    return 1.0 + (_g(k * theta) - _g((k + 1) * theta)) / theta


def pair_agreement(k: ArrayLike, theta: ArrayLike) -> np.ndarray:
    """E[z_source · z_centre] for a pair ``k`` places apart, with z = ±1 the pair's order."""
    return 1.0 - 2.0 * pair_inversion_prob(k, theta)


def expected_distance(theta: ArrayLike, d: int) -> np.ndarray:
    """Expected Kendall tau distance (discordant pairs) of a Mallows(θ) ranking of ``d`` items."""
    k = np.arange(1, d)
    theta = np.asarray(theta, dtype=float)
    return ((d - k) * pair_inversion_prob(k, theta[..., None])).sum(axis=-1)


def sample_mallows(centers: np.ndarray, theta: float, rng: np.random.Generator) -> np.ndarray:
    """One Mallows(θ) ranking around each row of ``centers`` (shape (n, d)), by repeated insertion.

    The i-th item of the centre is inserted at place j ∈ {0..i} of the ranking built so far
    with probability ∝ e^{−θ(i − j)}: each place it jumps ahead costs one inversion.
    """
    centers = np.asarray(centers)
    n, d = centers.shape
    out = np.empty_like(centers)
    for i in range(d):
        w = np.exp(-theta * (i - np.arange(i + 1)))
        j = rng.choice(i + 1, size=n, p=w / w.sum())
        places = np.arange(i + 1)
        prev = out[:, :i]
        shifted = np.concatenate([prev[:, :1], prev], axis=1) if i else np.empty((n, 1), out.dtype)
        head = np.concatenate([prev, np.empty((n, 1), out.dtype)], axis=1)
        new = np.where(places < j[:, None], head, shifted)
        new[np.arange(n), j] = centers[:, i]
        out[:, : i + 1] = new
    return out
