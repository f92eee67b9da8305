"""The ranking end model, trained on the ranking label model's soft output.

:class:`PairwiseRanker` learns to rank by pairwise logistic regression.  An item's
score is w·x; for each pair (i, j) of an example the model sees the feature difference
x_i − x_j with the soft label P(i above j) from
:meth:`~weaksup.model.ranking.RankingLabelModel.predict_preferences` (cross-entropy
against the preference probability, so confident pairs pull hardest).

Its features must not include the columns the LFs read, or the end model just learns
the LFs back.

It saves as a JSON file of plain data: ``save(path, metadata)`` and
``load(path) -> (model, metadata)``; loading checks every value before using it.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = [rng.normal(size=(5, 3)) for _ in range(200)]              # 200 queries of 5 items
>>> P = [1 / (1 + np.exp(-(x[:, 0][:, None] - x[:, 0][None, :]) * 4)) for x in X]  # feature 0 decides
>>> ranker = PairwiseRanker().fit(X, P)
>>> int(np.argmax(np.abs(ranker.coef_)))
0
>>> ranker.predict([X[0]])[0].tolist() == np.argsort(-X[0][:, 0]).tolist()
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from weaksup.data import ID
from weaksup.end_models.plain import ModelFileError, check_params, is_int, is_number


class PairwiseRanker(BaseEstimator):
    """Linear scorer w·x learned from pairwise preference probabilities (see the module docstring).

    ``fit(X, preferences)``: ``X[e]`` is the (d_e, p) feature matrix of example e's items
    and ``preferences[e]`` the (d_e, d_e) matrix P(i above j).  Features are standardised;
    ``C`` is the inverse L2 strength of the logistic regression; at most ``max_pairs``
    random pairs per example are used (drawn with ``seed``), which bounds the cost for
    long item lists.  Fitted: ``coef_`` (p,) in standardised units, ``mean_``, ``scale_``.
    """

    def __init__(self, C: float = 1.0, max_pairs: int = 200, seed: int = 0) -> None:
        self.C = C
        self.max_pairs = max_pairs
        self.seed = seed

    def fit(self, X: Sequence[ArrayLike], preferences: Sequence[ArrayLike]) -> PairwiseRanker:
        if len(X) != len(preferences):
            raise ValueError(f"PairwiseRanker.fit: {len(X)} feature matrices for {len(preferences)} preference matrices")
        Xs = [np.asarray(x, dtype=float) for x in X]
        stacked = np.concatenate(Xs)
        self.mean_ = stacked.mean(axis=0)
        self.scale_ = np.where(stacked.std(axis=0) > 0, stacked.std(axis=0), 1.0)
        rng = np.random.default_rng(self.seed)
        diffs, probs = [], []
        for e, (x, P) in enumerate(zip(Xs, preferences)):
            P = np.asarray(P, dtype=float)
            if P.shape != (len(x), len(x)):
                raise ValueError(f"PairwiseRanker.fit: example {e} has {len(x)} items but a {P.shape} preference matrix")
            i, j = np.triu_indices(len(x), k=1)
            if len(i) > self.max_pairs:
                keep = rng.choice(len(i), self.max_pairs, replace=False)
                i, j = i[keep], j[keep]
            diffs.append((x[i] - x[j]) / self.scale_)
            probs.append(P[i, j])
        D, p = np.concatenate(diffs), np.concatenate(probs)
        # each pair as (x_i − x_j, label 1, weight P) and (x_i − x_j, label 0, weight 1 − P), and mirrored
        feats = np.concatenate([D, D, -D, -D])
        labels = np.concatenate([np.ones_like(p), np.zeros_like(p), np.zeros_like(p), np.ones_like(p)])
        weights = np.concatenate([p, 1 - p, p, 1 - p])
        keep = weights > 0
        clf = LogisticRegression(C=self.C, fit_intercept=False)
        clf.fit(feats[keep], labels[keep], sample_weight=weights[keep])
        self.coef_ = clf.coef_.ravel()
        return self

    def decision_function(self, X: Sequence[ArrayLike]) -> list[np.ndarray]:
        """Each item's score w·x, per example."""
        check_is_fitted(self, "coef_")
        return [((np.asarray(x, dtype=float) - self.mean_) / self.scale_) @ self.coef_ for x in X]

    def predict(self, X: Sequence[ArrayLike]) -> list[np.ndarray]:
        """Each example's item indices, best first."""
        return [np.argsort(-s, kind="stable") for s in self.decision_function(X)]

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the parameters, the fitted weights and ``metadata`` (e.g. feature names) as JSON."""
        check_is_fitted(self, "coef_")
        fitted = {name: getattr(self, name).tolist() for name in ("coef_", "mean_", "scale_")}
        state = {"model": type(self).__name__, "params": self.get_params(), "fitted": fitted, "metadata": metadata or {}}
        Path(path).write_text(json.dumps(state, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> PairwiseRanker:
        """Read a model written by :meth:`save`, its ``metadata`` in ``metadata_``."""
        try:
            state = json.loads(Path(path).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{str(path)!r} is not a JSON model file ({exc})") from None
        if not isinstance(state, dict) or state.get("model") != cls.__name__:
            found = state.get("model") if isinstance(state, dict) else None
            raise ModelFileError(f"{str(path)!r} holds a {found!r} model, not a {cls.__name__}")
        model = cls(**check_params(state.get("params"), RANKER_PARAMS, f"{path}: params"))
        fitted = state.get("fitted")
        if not isinstance(fitted, dict) or sorted(fitted) != ["coef_", "mean_", "scale_"]:
            raise ModelFileError(f"{str(path)!r}: expected fitted coef_, mean_ and scale_")
        for name, values in fitted.items():
            if not isinstance(values, list) or not all(is_number(v) for v in values) or len(values) != len(fitted["coef_"]):
                raise ModelFileError(f"{str(path)!r}: fitted {name} is not a list of {len(fitted['coef_'])} numbers")
            setattr(model, name, np.asarray(values, dtype=float))
        metadata = state.get("metadata")
        model.metadata_ = metadata if isinstance(metadata, dict) else {}
        return model


RANKER_PARAMS = {
    "C": lambda v: is_number(v) and v > 0,
    "max_pairs": lambda v: is_int(v) and v > 0,
    "seed": is_int,
}


def item_features(examples: pl.DataFrame, features: Sequence[str], rows: np.ndarray) -> list[np.ndarray]:
    """Per example, the (d, p) matrix of its items' features."""
    cols = [examples[c].cast(pl.List(pl.Float64)).to_list() for c in features]
    out = []
    for i in rows:
        X = np.array([[np.nan if v is None else v for v in col[i]] for col in cols], dtype=float).T
        if np.isnan(X).any():
            c = features[int(np.flatnonzero(np.isnan(X).any(axis=0))[0])]
            raise ValueError(
                f"end-model feature {c!r} is null for an item of example {examples[ID][int(i)]!r}; the pairwise ranker "
                "needs every feature: fill the nulls, or leave the column out (trainer.exclude_columns)"
            )
        out.append(X.reshape(len(X), len(features)))
    return out
