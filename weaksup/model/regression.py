"""RegressionLabelModel: combine real-valued LFs that disagree in noise, scale and offset.

**Model.**  A one-factor Gaussian model: the latent label z ~ N(0, 1) and LF ``a`` votes

    λ_a = intercept_[a] + loading_[a]·z + ε_a,   ε_a ~ N(0, noise_var_[a]),

independently given z.  Each LF has its own units (offset and scale) and its own noise:
the movies data's sources rate out of 10, out of 5, or count votes.

**Estimation** (no labels).  Maximum likelihood by EM, starting from the moment solution
(a rank-one fit to the LFs' correlations, the triplet identity in matrix form).  Missing
votes (NaN) are skipped: the E-step conditions only on the votes a row has, and each LF's
M-step uses only the rows where it voted.  Needs m ≥ 3 LFs.  The sign of z is fixed so
that most LFs rise with it (ties: by the sum of standardised loadings).  ``noise_var_``
is in each LF's own units, so it is identified without any labels.

**y's scale and offset.**  Votes alone fix z only up to an affine map.  ``y = y_offset_ +
y_scale_·z`` is chosen, in this order:

1. gold labels: ``fit(votes, y)`` with ``y`` NaN except on a few rows (≥ 2; 50 is plenty)
   regresses the gold values on the posterior mean of z;
2. ``reference_lf``: y is in that LF's units with its noise removed (its intercept and loading);
3. shared units (``units="shared"``, or ``"auto"`` when detected): the LFs are raters on one
   scale, so the model is refit with one intercept and one loading for every LF (each LF reads
   as y plus its own noise; only the noise differs) and y is in the raters' units: each row's
   value is its votes' mean weighted by each rater's precision, shrunk a little toward the
   mean rating.  On ``crowd/emotion`` (399 headlines, 10 raters of 38, 0 to 100) the MAE is
   9.57 against 10.29 for the plain mean of the answers; the one-factor fit read in its
   intercepts' and loadings' mean units scored 10.61, standardised y 12.54, and 50 gold labels
   regressed on the shared fit 9.97 to 10.49 (three draws): so ``units="shared"`` takes no gold;
4. otherwise (``units="own"``, or LFs on different scales) y is standardised: mean 0, variance 1.

``units="auto"`` detects shared units when every loading has the same sign, the largest is at
most ``SHARED_SCALE_RATIO`` times the smallest, and every intercept lies within one mean
loading (one standard deviation of y) of the intercepts' mean.  Raters with few answers each
rarely pass that test (their own loadings are noisy), so ``[answers]`` pipelines, whose raters
answer on one scale, set ``units="shared"``.  ``units_`` records what was
used ("gold", "reference_lf", "shared" or "standardised") and the choice is logged (logger
``weaksup.model``).

**Inference.**  ``predict`` is the posterior mean E[y | the row's votes] and
``predict_var`` the posterior variance Var[y | votes] (it ignores the uncertainty in the
fitted parameters).  A row with no votes gets the prior: y_offset_ and y_scale_².
``lf_offset_`` and ``lf_scale_`` give each LF relative to y: λ_a ≈ lf_offset_ + lf_scale_·y.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(5.0, 2.0, size=5000)
>>> L = np.stack([y + rng.normal(0, 0.5, 5000), 10 * y + 3 + rng.normal(0, 20, 5000),
...               0.5 * y + rng.normal(0, 0.5, 5000)], axis=1)
>>> L[rng.random(L.shape) < 0.2] = np.nan                      # 20% abstains
>>> gold = np.full(5000, np.nan); gold[:50] = y[:50]
>>> model = RegressionLabelModel().fit(L, y=gold)
>>> np.sqrt(model.noise_var_).round(1).tolist()          # noise sd, in each LF's units
[0.5, 20.0, 0.5]
>>> model.lf_scale_.round(1).tolist()                     # LF units per unit of y
[1.0, 10.0, 0.5]
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from weaksup.persistence import PersistentModel
from weaksup.votes import RegressionVotes

logger = logging.getLogger("weaksup.model")

SHARED_SCALE_RATIO = 2.0
"""``units="auto"``: LF loadings within this factor of each other (and close intercepts) share units."""

MIN_LFS = 3
"""A one-factor model is identified from three LFs up."""

NOISE_FLOOR = 1e-6
"""An LF's noise variance is kept above this fraction of its vote variance (EM can drive it to 0)."""


def _rank_one_loadings(R: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Loadings l with R_ab ≈ l_a·l_b on known off-diagonal cells (unknown cells and diagonal imputed)."""
    ell = np.full(len(R), 0.5)
    for _ in range(200):
        F = np.where(known, R, np.outer(ell, ell))
        vals, vecs = np.linalg.eigh(F)
        new = np.clip(vecs[:, -1] * np.sqrt(max(vals[-1], 0.0)), -0.99, 0.99)
        new *= np.sign(new.sum() or 1.0)
        if np.abs(new - ell).max() < 1e-10:
            break
        ell = new
    return ell


class RegressionLabelModel(PersistentModel, BaseEstimator):
    """One-factor Gaussian label model for real-valued LFs (see the module docstring).

    Parameters: ``reference_lf`` (name or column of the LF whose units y takes when no gold
    is given), ``units`` (``"auto"``, ``"shared"`` or ``"own"``: y's units without gold or
    reference, see the module docstring), ``max_iter`` and ``tol`` (EM stops when no parameter moves by more than
    ``tol`` relative to its LF's spread).  EM starts from a deterministic moment fit, so
    there is no seed.
    """

    _fitted_arrays = ("intercept_", "loading_", "noise_var_", "y_offset_", "y_scale_")
    _fitted_meta = ("lf_names_",)

    def __init__(
        self,
        reference_lf: int | str | None = None,
        max_iter: int = 1000,
        tol: float = 1e-7,
        units: Literal["auto", "shared", "own"] = "auto",
    ) -> None:
        self.reference_lf = reference_lf
        self.units = units
        self.max_iter = max_iter
        self.tol = tol

    # -- fitting ----------------------------------------------------------------------

    def fit(self, votes: RegressionVotes | ArrayLike, *, y: ArrayLike | None = None) -> RegressionLabelModel:
        """Fit by EM on :class:`~weaksup.votes.RegressionVotes` (which name the LFs) or an (n, m)
        float array (NaN = abstain); ``y`` (optional, NaN where unknown) holds a few gold labels.
        Returns ``self``."""
        name = type(self).__name__
        v = RegressionVotes.of(votes)
        X, O = v.values, v.observed
        if v.m < MIN_LFS:
            raise ValueError(
                f"{name} needs at least {MIN_LFS} LFs to tell each LF's noise from the label's "
                f"variation, got {v.m} ({list(v.lf_names)}); add LFs"
            )
        counts = O.sum(axis=0)
        for a in np.flatnonzero(counts < 2):
            raise ValueError(
                f"{name}: LF {v.lf_names[a]!r} (column {a}) votes on {counts[a]} rows; each LF needs "
                "at least 2 votes (drop it, or apply it to more data)"
            )
        if self.units not in ("auto", "shared", "own"):
            raise ValueError(f"{name}: units must be 'auto', 'shared' or 'own', got {self.units!r}")
        gold = self._check_gold(y, v.n)
        if gold is not None and self.reference_lf is not None:
            raise ValueError(f"{name}: give gold labels or reference_lf, not both")
        if gold is not None and self.units == "shared":
            raise ValueError(f"{name}: units='shared' puts y in the LFs' own scale and gold labels would refit it; "
                             "give gold labels (units='auto') or units='shared', not both")  # fmt: skip
        shared = self.units == "shared"
        if not shared:
            self._em(X, O)
            shared = self.units == "auto" and self.reference_lf is None and self._units_shared()
        if shared:
            self._em_shared(X, O)
        z_mean, _ = self._posterior(X, O)
        if gold is not None:
            rows = ~np.isnan(gold)
            slope, offset = np.polyfit(z_mean[rows], gold[rows], deg=1)
            self.y_offset_, self.y_scale_ = float(offset), float(slope)
            self.units_ = "gold"
        elif self.reference_lf is not None:
            r = self._lf_index(self.reference_lf, v.lf_names)
            self.y_offset_, self.y_scale_ = float(self.intercept_[r]), float(self.loading_[r])
            self.units_ = "reference_lf"
        elif shared:
            self.y_offset_, self.y_scale_ = float(self.intercept_[0]), float(self.loading_[0])
            self.units_ = "shared"
        else:
            self.y_offset_, self.y_scale_ = 0.0, 1.0
            self.units_ = "standardised"
        logger.info(
            "%s: y in %s units (LF loadings %s, intercepts %s)",
            name, self.units_, np.round(self.loading_, 3).tolist(), np.round(self.intercept_, 3).tolist(),
        )
        self.lf_names_ = v.lf_names
        return self

    def _units_shared(self) -> bool:
        """Do the fitted LFs read y on one scale: same-sign loadings within ``SHARED_SCALE_RATIO``, close intercepts?"""
        size = np.abs(self.loading_)
        same_sign = bool(np.all(self.loading_ > 0) or np.all(self.loading_ < 0))
        close = np.abs(self.intercept_ - self.intercept_.mean()).max() <= size.mean()
        return same_sign and size.max() <= SHARED_SCALE_RATIO * size.min() and bool(close)

    def _check_gold(self, y: ArrayLike | None, n: int) -> np.ndarray | None:
        name = type(self).__name__
        if y is None:
            return None
        gold = np.asarray(y, dtype=float).ravel()
        if gold.shape != (n,):
            raise ValueError(f"{name}.fit: y has {gold.size} entries for {n} rows; give one per row, NaN where unknown")
        if np.isinf(gold).any():
            raise ValueError(f"{name}.fit: y row {int(np.flatnonzero(np.isinf(gold))[0])} is inf; gold labels must be finite (NaN = unknown)")
        if (~np.isnan(gold)).sum() < 2:
            raise ValueError(f"{name}.fit: y has {(~np.isnan(gold)).sum()} gold labels; give at least 2, or y=None")
        return gold

    @staticmethod
    def _lf_index(ref: int | str, names: tuple[str, ...]) -> int:
        if isinstance(ref, str):
            if ref not in names:
                raise ValueError(f"RegressionLabelModel: reference_lf {ref!r} is not one of the LFs {list(names)}")
            return names.index(ref)
        if not 0 <= ref < len(names):
            raise ValueError(f"RegressionLabelModel: reference_lf {ref} is not a column in 0..{len(names) - 1}")
        return int(ref)

    def _em(self, X: np.ndarray, O: np.ndarray) -> None:
        Xf = np.where(O, X, 0.0)
        Of = O.astype(float)
        n_a = Of.sum(axis=0)
        mean = Xf.sum(axis=0) / n_a
        sd = np.sqrt(np.maximum((np.where(O, X - mean, 0.0) ** 2).sum(axis=0) / n_a, 1e-300))
        Zs = np.where(O, (X - mean) / sd, 0.0)
        both = Of.T @ Of
        R = np.divide(Zs.T @ Zs, both, out=np.zeros((X.shape[1],) * 2), where=both > 1)
        known = (both > 1) & ~np.eye(X.shape[1], dtype=bool)
        ell = _rank_one_loadings(R, known)
        self.intercept_ = mean
        self.loading_ = ell * sd
        floor = NOISE_FLOOR * sd**2
        self.noise_var_ = np.maximum((1 - ell**2) * sd**2, floor)
        for _ in range(self.max_iter):
            m_z, v_z = self._posterior(X, O)
            Ez, Ezz = Of * m_z[:, None], Of * (v_z + m_z**2)[:, None]
            sz, szz = Ez.sum(axis=0), Ezz.sum(axis=0)
            sx, sxz = Xf.sum(axis=0), (Xf * m_z[:, None]).sum(axis=0)
            det = n_a * szz - sz**2
            alpha = (szz * sx - sz * sxz) / det
            beta = (n_a * sxz - sz * sx) / det
            resid = np.where(O, X - alpha, 0.0)
            noise = ((resid**2).sum(axis=0) - 2 * beta * (resid * m_z[:, None]).sum(axis=0) + beta**2 * szz) / n_a
            noise = np.maximum(noise, floor)
            change = max(
                np.abs((alpha - self.intercept_) / sd).max(),
                np.abs((beta - self.loading_) / sd).max(),
                np.abs((noise - self.noise_var_) / sd**2).max(),
            )
            self.intercept_, self.loading_, self.noise_var_ = alpha, beta, noise
            if change < self.tol:
                break
        up = np.sign(self.loading_).sum() or np.sign((self.loading_ / sd).sum())
        if up < 0:
            self.loading_ = -self.loading_

    def _em_shared(self, X: np.ndarray, O: np.ndarray) -> None:
        """EM for LFs on one scale: λ_a = μ + τ·z + ε_a, one μ and τ for all, noise per LF.

        The M-step's μ and τ are a least-squares fit of every vote on E[z] weighted by its LF's
        precision; each LF's noise is its mean expected squared residual."""
        Xf = np.where(O, X, 0.0)
        n_a = O.sum(axis=0)
        mu = float(Xf.sum() / O.sum())
        spread = np.where(O, X - mu, 0.0) ** 2
        floor = NOISE_FLOOR * max(float(spread.sum() / O.sum()), 1e-300)
        noise = np.maximum(spread.sum(axis=0) / n_a, floor)
        row_mean = Xf.sum(axis=1)[O.any(axis=1)] / O.sum(axis=1)[O.any(axis=1)]
        tau = float(np.sqrt(max(row_mean.var(), floor)))
        for _ in range(self.max_iter):
            self.intercept_, self.loading_, self.noise_var_ = np.full(len(n_a), mu), np.full(len(n_a), tau), noise
            m_z, v_z = self._posterior(X, O)
            W = O / noise
            ez, ezz = float((W * m_z[:, None]).sum()), float((W * (v_z + m_z**2)[:, None]).sum())
            A = np.array([[W.sum(), ez], [ez, ezz]])
            new_mu, new_tau = np.linalg.solve(A, [(W * Xf).sum(), (W * Xf * m_z[:, None]).sum()])
            resid = np.where(O, (Xf - new_mu) ** 2 - 2 * new_tau * (Xf - new_mu) * m_z[:, None]
                             + new_tau**2 * (v_z + m_z**2)[:, None], 0.0)  # fmt: skip
            new_noise = np.maximum(resid.sum(axis=0) / n_a, floor)
            change = max(abs(new_mu - mu) / tau, abs(new_tau - tau) / tau, float(np.abs(new_noise - noise).max()) / tau**2)
            mu, tau, noise = float(new_mu), float(new_tau), new_noise
            if change < self.tol:
                break
        if tau < 0:  # z's sign: y rises with the ratings
            tau = -tau
        self.intercept_, self.loading_, self.noise_var_ = np.full(len(n_a), mu), np.full(len(n_a), tau), noise

    def _posterior(self, X: np.ndarray, O: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of z per row, given only the votes the row has."""
        w = self.loading_ / self.noise_var_
        precision = 1.0 + (O * (self.loading_ * w)).sum(axis=1)
        num = np.where(O, (X - self.intercept_) * w, 0.0).sum(axis=1)
        return num / precision, 1.0 / precision

    # -- inference ----------------------------------------------------------------------

    def _votes(self, votes: RegressionVotes | ArrayLike) -> RegressionVotes:
        check_is_fitted(self, "noise_var_")
        shape = None if isinstance(votes, RegressionVotes) else np.shape(votes)
        names = self.lf_names_ if shape is not None and shape[1:] == (len(self.lf_names_),) else None
        v = RegressionVotes.of(votes, names)
        if v.m != len(self.noise_var_):
            raise ValueError(
                f"{type(self).__name__}: votes have {v.m} LF columns but the model was fitted on "
                f"{len(self.noise_var_)} ({list(self.lf_names_)})"
            )
        return v

    def predict(self, votes: RegressionVotes | ArrayLike) -> np.ndarray:
        """E[y | votes] per row, shape (n,)."""
        v = self._votes(votes)
        z, _ = self._posterior(v.values, v.observed)
        return self.y_offset_ + self.y_scale_ * z

    def predict_var(self, votes: RegressionVotes | ArrayLike) -> np.ndarray:
        """Var[y | votes] per row, shape (n,): the soft output's uncertainty."""
        v = self._votes(votes)
        _, var = self._posterior(v.values, v.observed)
        return self.y_scale_**2 * var

    @property
    def lf_scale_(self) -> np.ndarray:
        """Each LF's slope against y: λ_a ≈ lf_offset_[a] + lf_scale_[a]·y."""
        check_is_fitted(self, "noise_var_")
        return self.loading_ / self.y_scale_

    @property
    def lf_offset_(self) -> np.ndarray:
        """Each LF's intercept against y (see :attr:`lf_scale_`)."""
        return self.intercept_ - self.lf_scale_ * self.y_offset_
