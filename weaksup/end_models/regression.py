"""The regression end model, trained on the regression label model's soft output.

:class:`SoftTargetRegressor` fits a scikit-learn regressor (default: histogram gradient
boosting) to the posterior means, each row weighted by its confidence 1/Var[y | votes]
(normalised to mean 1).  Its features must not include the columns the LFs read, or the
end model just learns the LFs back.

A fitted gradient-boosting model saves as plain data (:mod:`weaksup.end_models.plain`):
its trees' nodes (feature, threshold, children, leaf value) in an ``.npz`` file.  Loading
rebuilds them into :class:`BoostedTrees`, which walks the same trees and adds the leaf
values in the same order, so it predicts exactly what the saved model did.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 2))
>>> model = SoftTargetRegressor(seed=0).fit(X, 3 * X[:, 0], np.ones(500))
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "end_model.npz"
>>> model.save(path, {"features": ["a", "b"]})
>>> loaded = SoftTargetRegressor.load(path)
>>> bool((loaded.predict(X) == model.predict(X)).all()), loaded.metadata_
(True, {'features': ['a', 'b']})
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from weaksup.end_models.plain import ModelFileError, check_params, is_int, one_of, read_npz, write_npz

# HistGradientBoostingRegressor's losses and the inverse of their link (raw score -> prediction)
INVERSE_LINKS = {"squared_error": None, "absolute_error": None, "quantile": None, "poisson": np.exp, "gamma": np.exp}
NODE_ARRAYS = ("value", "feature", "threshold", "missing_left", "left", "right", "is_leaf")


class BoostedTrees:
    """A fitted gradient-boosting regressor as plain arrays: every tree's nodes, concatenated.

    Node ``i`` is a leaf (``is_leaf``) holding ``value[i]``, or splits on ``feature[i]``:
    rows with a value ``<= threshold[i]`` go to ``left[i]``, others to ``right[i]``, and
    missing values (NaN) go left where ``missing_left[i]``.  Tree ``t`` starts at node
    ``roots[t]``; a prediction is ``baseline`` plus each tree's leaf value, in tree order,
    through the loss's inverse link (``loss``).
    """

    def __init__(self, nodes: dict[str, np.ndarray], roots: np.ndarray, baseline: float, loss: str,
                 n_features: int) -> None:  # fmt: skip
        self.nodes, self.roots, self.baseline, self.loss, self.n_features = nodes, roots, baseline, loss, n_features

    @classmethod
    def from_estimator(cls, est: HistGradientBoostingRegressor) -> BoostedTrees:
        """The trees of a fitted :class:`~sklearn.ensemble.HistGradientBoostingRegressor` with numeric features."""
        baseline = float(np.asarray(est._baseline_prediction).ravel()[0])
        trees = [tree for (tree,) in est._predictors]  # one tree per iteration for a regressor
        return cls.from_predictors(trees, baseline, est.loss, int(est.n_features_in_))

    @classmethod
    def from_predictors(cls, trees: list[Any], baseline: float, loss: str, n_features: int) -> BoostedTrees:
        """Plain arrays of fitted gradient-boosting trees (scikit-learn's ``TreePredictor``s), in order."""
        parts: dict[str, list[np.ndarray]] = {name: [] for name in NODE_ARRAYS}
        roots, start = [], 0
        for tree in trees:
            nodes = tree.nodes
            if nodes["is_categorical"].any():
                raise ValueError("save: categorical splits cannot be saved; leave categorical_features unset")
            leaf = nodes["is_leaf"].astype(bool)
            parts["value"].append(nodes["value"].astype(np.float64))
            parts["feature"].append(nodes["feature_idx"].astype(np.int64))
            parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["left"].append(np.where(leaf, -1, nodes["left"].astype(np.int64) + start))
            parts["right"].append(np.where(leaf, -1, nodes["right"].astype(np.int64) + start))
            parts["is_leaf"].append(leaf)
            roots.append(start)
            start += len(nodes)
        arrays = {name: np.concatenate(p) for name, p in parts.items()}
        return cls(arrays, np.asarray(roots, dtype=np.int64), baseline, loss, n_features)

    def check(self, where: str) -> None:
        """Raise :class:`ModelFileError` unless the arrays form valid trees over ``n_features`` features."""
        n = len(self.nodes["value"])
        kinds = {"value": "f", "feature": "i", "threshold": "f", "missing_left": "b", "left": "i", "right": "i",
                 "is_leaf": "b"}  # fmt: skip
        for name, kind in kinds.items():
            a = self.nodes[name]
            if a.ndim != 1 or len(a) != n or a.dtype.kind != kind:
                raise ModelFileError(f"{where}: node array {name!r} is not {n} values of kind {kind!r}")
        inner = ~self.nodes["is_leaf"]
        children = np.concatenate([self.nodes["left"][inner], self.nodes["right"][inner]])
        node_ids = np.arange(n)
        if (
            self.roots.dtype.kind != "i" or self.roots.ndim != 1 or ((self.roots < 0) | (self.roots >= n)).any()
            or ((children < 0) | (children >= n)).any()
            or (children <= np.concatenate([node_ids[inner], node_ids[inner]])).any()  # children come later: no cycles
            or ((self.nodes["feature"][inner] < 0) | (self.nodes["feature"][inner] >= self.n_features)).any()
        ):  # fmt: skip
            raise ModelFileError(f"{where}: the trees' node links or features are out of range")
        # a split on missing values alone has an infinite threshold; a value or threshold that is NaN is junk
        if (not np.isfinite(self.nodes["value"]).all() or np.isnan(self.nodes["threshold"][inner]).any()
                or not math.isfinite(self.baseline)):  # fmt: skip
            raise ModelFileError(f"{where}: the trees' leaf values or baseline are not finite numbers, or a threshold is NaN")

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The prediction for each row of ``X`` (n, n_features); NaN is a missing value."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X has shape {X.shape}; the model reads {self.n_features} features")
        rows = np.arange(len(X))
        nodes = self.nodes
        raw = np.zeros(len(X), dtype=np.float64) + self.baseline
        for root in self.roots.tolist():
            at = np.full(len(X), root, dtype=np.int64)
            while not (leaf := nodes["is_leaf"][at]).all():
                x = X[rows, nodes["feature"][at]]
                left = np.where(np.isnan(x), nodes["missing_left"][at], x <= nodes["threshold"][at])
                at = np.where(leaf, at, np.where(left, nodes["left"][at], nodes["right"][at]))
            raw += nodes["value"][at]
        inverse = INVERSE_LINKS[self.loss]
        return raw if inverse is None else inverse(raw)


class SoftTargetRegressor(BaseEstimator):
    """Fit ``estimator`` (default: histogram gradient boosting) to soft targets weighted by 1/variance.

    ``fit(X, target, variance)``: rows whose target or variance is not finite (e.g. rows no
    LF voted on, if the caller marks them NaN) are dropped.
    """

    def __init__(self, estimator: Any = None, seed: int = 0) -> None:
        self.estimator = estimator
        self.seed = seed

    def fit(self, X: ArrayLike, target: ArrayLike, variance: ArrayLike) -> SoftTargetRegressor:
        X = np.asarray(X, dtype=float)
        target, variance = np.asarray(target, dtype=float), np.asarray(variance, dtype=float)
        if not (len(X) == len(target) == len(variance)):
            raise ValueError(f"SoftTargetRegressor.fit: {len(X)} rows of X, {len(target)} targets, {len(variance)} variances")
        if (variance <= 0).any():
            raise ValueError(f"SoftTargetRegressor.fit: variance row {int(np.flatnonzero(variance <= 0)[0])} is not positive")
        rows = np.isfinite(target) & np.isfinite(variance)
        if rows.sum() < 2:
            raise ValueError("SoftTargetRegressor.fit: fewer than 2 rows with a finite target and variance")
        weight = 1.0 / variance[rows]
        est = HistGradientBoostingRegressor(random_state=self.seed) if self.estimator is None else clone(self.estimator)
        est.fit(X[rows], target[rows], sample_weight=weight / weight.mean())
        self.estimator_ = est
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(np.asarray(X, dtype=float))

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the fitted trees, ``seed`` and ``metadata`` as plain data to an ``.npz`` file.

        Only gradient boosting (the default estimator) is saved: its trees are plain arrays.
        """
        check_is_fitted(self, "estimator_")
        est = self.estimator_
        if isinstance(est, HistGradientBoostingRegressor):
            est = BoostedTrees.from_estimator(est)
        if not isinstance(est, BoostedTrees):
            raise TypeError(f"save: a {type(est).__name__} cannot be saved as plain data; use the default estimator")
        meta = {
            "params": {"seed": self.seed},
            "trees": {"baseline": est.baseline, "loss": est.loss, "n_features": est.n_features},
            "metadata": metadata or {},
        }
        write_npz(path, type(self).__name__, meta, {**est.nodes, "roots": est.roots})

    @classmethod
    def load(cls, path: str | Path) -> SoftTargetRegressor:
        """Read a model written by :meth:`save`, its ``metadata`` in ``metadata_``."""
        meta, arrays = read_npz(path, cls.__name__, {*NODE_ARRAYS, "roots"})
        where = str(path)
        model = cls(**check_params(meta.get("params"), {"seed": is_int}, f"{where}: params"))
        allowed = {
            "baseline": lambda v: isinstance(v, float),
            "loss": one_of(*INVERSE_LINKS),
            "n_features": lambda v: is_int(v) and v > 0,
        }
        trees = check_params(meta.get("trees"), allowed, f"{where}: trees")
        if sorted(trees) != sorted(allowed):
            raise ModelFileError(f"{where}: trees needs {sorted(allowed)}")
        roots = arrays.pop("roots")
        model.estimator_ = BoostedTrees(arrays, roots, trees["baseline"], trees["loss"], trees["n_features"])
        model.estimator_.check(where)
        metadata = meta.get("metadata")
        model.metadata_ = metadata if isinstance(metadata, dict) else {}
        return model
