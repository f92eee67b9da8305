"""MetricLabelModel: weak supervision for any label space with a distance.

Give a distance function d(x, y) and either a candidate set (the labels y can take) or a
mean operator (the weighted mean of a list of labels).  Each LF ``a`` is modelled as
P(λ_a | y) ∝ exp(−θ_a·d(λ_a, y)²).

**Estimation** (no labels).  If LFs err independently around y, squared distances add:
E[d(λ_a, λ_b)²] ≈ E[d(λ_a, y)²] + E[d(λ_b, y)²] (exact for Euclidean and Hilbert spaces;
elsewhere, e.g. the discrete metric, the estimates are pulled together but keep the LFs' order).
For each triplet of LFs that gives E[d(λ_a, y)²] = (μ_ab + μ_ac − μ_bc)/2, where μ is the
mean squared distance over the rows both LFs voted on; the median over triplets is kept,
and θ_a = 1/E[d(λ_a, y)²] (inverse variance, the Gaussian's weight).  Needs m ≥ 3.

**Inference.**  The weighted Fréchet mean of the row's votes, argmin_x Σ_a θ_a·d(λ_a, x)²:
over the candidates, or the mean operator called with the votes and their θ.  Rows with
no votes predict ``None``.

**Checks.**  On a sample of the votes (``check_size`` pairs and triples, drawn with ``seed``)
the distance must be finite, non-negative, symmetric, zero from a vote to itself and obey the
triangle inequality; otherwise ``fit`` raises an error naming the offending pair.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=(500, 2))
>>> votes = [[tuple(y[i] + rng.normal(0, sd, 2)) for sd in (0.2, 0.5, 1.0)] for i in range(500)]
>>> model = MetricLabelModel(distance=lambda u, v: float(np.hypot(*np.subtract(u, v))),
...                          mean=lambda xs, w: tuple(np.average(np.array(xs), axis=0, weights=w)))
>>> model.fit(votes).sq_error_.round(1).tolist()     # E[d(λ_a, y)²] = 2·sd² in the plane
[0.1, 0.5, 2.1]
>>> err = lambda pred: float(np.mean(np.sum((np.array(pred) - y) ** 2, axis=1)))
>>> round(err(model.predict(votes)), 2), round(err(np.mean(votes, axis=1)), 2)   # vs. the plain mean
(0.07, 0.3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from weaksup.persistence import PersistentModel
from weaksup.votes import check_lf_names

MIN_LFS = 3

Distance = Callable[[Any, Any], float]
MeanOperator = Callable[[list[Any], np.ndarray], Any]


class MetricLabelModel(PersistentModel, BaseEstimator):
    """θ-weighted Fréchet mean of LF votes under a user distance (see the module docstring).

    Votes are a list of rows, each a list of m votes (``None`` = abstain).  Give exactly one
    of ``candidates`` and ``mean``.  Fitted: ``theta_`` (m,), ``sq_error_`` (m,) the estimated
    E[d(λ_a, y)²], ``lf_names_``.  ``save`` stores θ only; ``load`` needs the functions again.
    """

    _fitted_arrays = ("theta_", "sq_error_")
    _fitted_meta = ("lf_names_",)
    _unsaved_params = ("distance", "candidates", "mean")

    def __init__(
        self,
        distance: Distance,
        candidates: Sequence[Any] | None = None,
        mean: MeanOperator | None = None,
        check_size: int = 200,
        tol: float = 1e-9,
        seed: int = 0,
    ) -> None:
        self.distance = distance
        self.candidates = candidates
        self.mean = mean
        self.check_size = check_size
        self.tol = tol
        self.seed = seed

    def _setup(self, votes: Sequence[Sequence[Any]], lf_names: Sequence[str] | None) -> tuple[int, tuple[str, ...]]:
        name = type(self).__name__
        if (self.candidates is None) == (self.mean is None):
            raise ValueError(f"{name}: give exactly one of candidates= (the labels y can take) or mean= (a weighted mean)")
        m = len(votes[0]) if len(votes) else 0
        for i, row in enumerate(votes):
            if len(row) != m:
                raise ValueError(f"{name}: row {i} has {len(row)} votes but row 0 has {m}; give one vote (or None) per LF")
        return m, check_lf_names(lf_names, m, name)

    def _d(self, x: Any, y: Any, where: str) -> float:
        try:
            value = float(self.distance(x, y))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{type(self).__name__}: distance({x!r}, {y!r}) ({where}) failed: {exc}") from None
        return value

    def _check_metric(self, votes: Sequence[Sequence[Any]], names: tuple[str, ...]) -> None:
        """Sampled checks that the distance is a metric on these votes."""
        name = type(self).__name__
        rng = np.random.default_rng(self.seed)
        cells = [(i, a) for i, row in enumerate(votes) for a, x in enumerate(row) if x is not None]
        if not cells:
            return
        pick = rng.integers(len(cells), size=(self.check_size, 3))
        for c1, c2, c3 in pick:
            (i, a), (j, b), (k, c) = cells[c1], cells[c2], cells[c3]
            x, y, z = votes[i][a], votes[j][b], votes[k][c]
            where = f"LF {names[a]!r} row {i} vs LF {names[b]!r} row {j}"
            dxy, dyx, dxx = self._d(x, y, where), self._d(y, x, where), self._d(x, x, where)
            dyz, dxz = self._d(y, z, where), self._d(x, z, where)
            scale = max(abs(dxy), abs(dyz), abs(dxz), 1.0)
            if not np.isfinite([dxy, dyx, dxx, dyz, dxz]).all():
                raise ValueError(f"{name}: the distance is not finite for {where}; it must return finite numbers")
            if min(dxy, dyx, dyz, dxz) < 0:
                raise ValueError(f"{name}: the distance is negative ({min(dxy, dyx, dyz, dxz)}) for {where}; a metric is never negative")
            if abs(dxy - dyx) > self.tol * scale:
                raise ValueError(f"{name}: the distance is asymmetric for {where}: d(x, y) = {dxy} but d(y, x) = {dyx}; a metric is symmetric")
            if abs(dxx) > self.tol * scale:
                raise ValueError(f"{name}: the distance from a vote to itself is {dxx}, not 0 ({where})")
            if dxz > dxy + dyz + self.tol * scale:
                raise ValueError(
                    f"{name}: the distance breaks the triangle inequality for {where} and LF {names[c]!r} "
                    f"row {k}: d(x, z) = {dxz} > d(x, y) + d(y, z) = {dxy + dyz}"
                )

    def fit(self, votes: Sequence[Sequence[Any]], *, lf_names: Sequence[str] | None = None) -> MetricLabelModel:
        """Check the distance, then estimate each LF's θ by triplets of mean squared distances.  Returns ``self``."""
        name = type(self).__name__
        m, names = self._setup(votes, lf_names)
        if m < MIN_LFS:
            raise ValueError(f"{name} needs at least {MIN_LFS} LFs to estimate their quality from agreements, got {m} ({list(names)}); add LFs")
        self._check_metric(votes, names)
        total, count = np.zeros((m, m)), np.zeros((m, m))
        for i, row in enumerate(votes):
            voted = [a for a in range(m) if row[a] is not None]
            for a, b in combinations(voted, 2):
                total[a, b] += self._d(row[a], row[b], f"row {i}") ** 2
                count[a, b] += 1
        total, count = total + total.T, count + count.T
        mu = np.divide(total, count, out=np.full((m, m), np.nan), where=count > 0)
        sq_error = np.full(m, np.nan)
        for a in range(m):
            others = [b for b in range(m) if b != a]
            est = [(mu[a, b] + mu[a, c] - mu[b, c]) / 2 for b, c in combinations(others, 2)]
            est = [e for e in est if np.isfinite(e)]
            if not est:
                raise ValueError(
                    f"{name}: LF {names[a]!r} (column {a}) never votes on the same rows as two other LFs "
                    "that also share rows, so its quality cannot be estimated; apply the LFs to more data"
                )
            sq_error[a] = np.median(est)
        floor = max(np.nanmax(sq_error), 0.0) * 1e-6 or 1e-12
        self.sq_error_ = np.maximum(sq_error, floor)
        self.theta_ = 1.0 / self.sq_error_
        self.lf_names_ = names
        return self

    def predict(self, votes: Sequence[Sequence[Any]]) -> list[Any]:
        """The weighted Fréchet mean of each row's votes (``None`` for rows without votes)."""
        check_is_fitted(self, "theta_")
        m, _ = self._setup(votes, None)
        if len(votes) and m != len(self.theta_):
            raise ValueError(f"{type(self).__name__}: votes have {m} LFs but the model was fitted on {len(self.theta_)}")
        out: list[Any] = []
        for i, row in enumerate(votes):
            voted = [a for a in range(m) if row[a] is not None]
            if not voted:
                out.append(None)
                continue
            xs, w = [row[a] for a in voted], self.theta_[voted]
            if self.mean is not None:
                out.append(self.mean(xs, w))
            else:
                cost = [sum(wa * self._d(x, c, f"row {i}") ** 2 for x, wa in zip(xs, w)) for c in self.candidates]
                out.append(self.candidates[int(np.argmin(cost))])
        return out
