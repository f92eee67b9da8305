"""The multi-label end model: one-vs-rest text classification on soft targets, a threshold per label.

:class:`MultiLabelTextClassifier` featurises each text once (TF-IDF of word 1–2-grams and
character 2–5-grams, the categorical end model's features) and fits one logistic regression per
label on that label's probability: each example counts as present with weight p and absent with
weight 1 - p, so the weighted log-loss is the cross-entropy against the soft label.  A label is
predicted where its probability clears the label's threshold: chosen on dev gold when ``fit`` is
given some (the threshold that maximises the label's F1 there), else 0.5.

>>> import numpy as np
>>> texts = ["thanks a lot", "what is this?", "thanks, but why?", "great song", "why though?", "thank you!"]
>>> probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.8], [0.2, 0.1], [0.1, 0.8], [0.9, 0.1]])
>>> model = MultiLabelTextClassifier(seed=0).fit(texts, probs)
>>> model.predict(["thanks!", "why?"]).tolist(), model.thresholds_.tolist()
([[1, 0], [0, 1]], [0.5, 0.5])

Saved models are plain data (:mod:`weaksup.end_models.plain`), as the categorical end model's are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from weaksup.end_models.plain import ModelFileError, check_params, read_npz, write_npz
from weaksup.end_models.text import (
    MODEL_PARAMS, VECTORIZER_ARRAYS, soft_targets, text_features, vectorizers_as_data, vectorizers_from_data,
)  # fmt: skip

__all__ = ["MultiLabelTextClassifier", "best_thresholds"]

DEFAULT_THRESHOLD = 0.5
"""A label's threshold without dev gold."""


def best_thresholds(probs: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per label, the probability threshold that maximises its F1 on ``gold`` (n, k) 0/1; 0.5 for a
    label with no gold positive (no F1 to maximise)."""
    out = np.full(probs.shape[1], DEFAULT_THRESHOLD)
    for j in range(probs.shape[1]):
        y, p = gold[:, j] > 0, probs[:, j]
        if not y.any():
            continue
        order = np.argsort(-p, kind="stable")
        tp = np.cumsum(y[order])
        f1 = 2 * tp / (np.arange(1, len(p) + 1) + y.sum())
        best = int(np.argmax(f1))
        below = p[order][best + 1] if best + 1 < len(p) else 0.0
        out[j] = float((p[order][best] + below) / 2)  # midway to the next probability: robust to ties
    return out


class MultiLabelTextClassifier:
    """TF-IDF (word 1–2-grams plus character 2–5-grams) and one logistic regression per label.

    ``C`` is the inverse regularisation strength; ``seed`` fixes the solver."""

    def __init__(self, C: float = 3.0, min_df: int = 1, seed: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.seed = seed

    def fit(self, texts: Sequence[str], probs: np.ndarray, dev_texts: Sequence[str] | None = None,
            dev_gold: np.ndarray | None = None) -> MultiLabelTextClassifier:  # fmt: skip
        """Fit on ``texts`` with each label's probability ``probs`` (n, k); with dev texts and their
        gold (0/1, (n_dev, k)), choose each label's threshold there."""
        probs = soft_targets(texts, probs)
        n, k = probs.shape
        self.features_ = text_features(self.min_df)
        X = self.features_.fit_transform(np.asarray(texts, dtype=object))
        doubled = sp.vstack([X, X]).tocsr()  # each row twice: once present, once absent
        self.coef_, self.intercept_ = np.zeros((k, X.shape[1])), np.zeros(k)
        for j in range(k):
            p = np.clip(probs[:, j], 0.0, 1.0)
            if p.max() - p.min() < 1e-9:  # one value everywhere: nothing to separate
                self.intercept_[j] = float(np.log(max(p[0], 1e-6) / max(1 - p[0], 1e-6)))
                continue
            model = LogisticRegression(C=self.C, solver="liblinear", max_iter=2000, random_state=self.seed)
            model.fit(doubled, np.r_[np.ones(n), np.zeros(n)], sample_weight=np.r_[p, 1 - p])
            self.coef_[j], self.intercept_[j] = model.coef_[0], model.intercept_[0]
        self.thresholds_ = np.full(k, DEFAULT_THRESHOLD)
        if dev_texts is not None and dev_gold is not None and len(dev_texts):
            self.thresholds_ = best_thresholds(self.predict_proba(dev_texts), np.asarray(dev_gold))
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k): each label's probability."""
        X = self.features_.transform(np.asarray(texts, dtype=object))
        return expit(np.asarray(X @ self.coef_.T) + self.intercept_)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) int8: 1 where a label's probability clears its threshold."""
        return (self.predict_proba(texts) >= self.thresholds_).astype(np.int8)

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the fitted model as plain data to an ``.npz`` file (``metadata``: class names, text column)."""
        vectorizers, arrays = vectorizers_as_data(self.features_)
        arrays.update(coef=self.coef_, intercept=self.intercept_, thresholds=self.thresholds_)
        meta = {"params": {"C": self.C, "min_df": self.min_df, "seed": self.seed}, "vectorizers": vectorizers,
                "metadata": metadata or {}}  # fmt: skip
        write_npz(path, type(self).__name__, meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> MultiLabelTextClassifier:
        """Read a model written by :meth:`save`, its ``metadata`` in ``metadata_``; refuses
        (:class:`~weaksup.end_models.plain.ModelFileError`) anything else before building from it."""
        meta, arrays = read_npz(path, cls.__name__, VECTORIZER_ARRAYS | {"coef", "intercept", "thresholds"})
        where = str(path)
        model = cls(**check_params(meta.get("params"), MODEL_PARAMS, f"{where}: params"))
        parts = vectorizers_from_data(meta, arrays, where)
        coef, intercept, thresholds = arrays["coef"], arrays["intercept"], arrays["thresholds"]
        n_features, k = sum(len(v.vocabulary) for _, v in parts), len(intercept)
        if (coef.shape != (k, n_features) or intercept.ndim != 1 or thresholds.shape != (k,) or k < 1
                or not all(a.dtype.kind == "f" and np.isfinite(a).all() for a in (coef, intercept, thresholds))):
            raise ModelFileError(f"{where}: weights {coef.shape}, intercepts {intercept.shape} and thresholds "
                                 f"{thresholds.shape} do not fit {n_features} features (finite numbers only)")  # fmt: skip
        model.features_ = FeatureUnion(parts)
        model.coef_, model.intercept_, model.thresholds_ = coef, intercept, thresholds
        metadata = meta.get("metadata")
        model.metadata_ = metadata if isinstance(metadata, dict) else {}
        names_ = model.metadata_.get("classes")
        if names_ is not None and not (isinstance(names_, list) and len(names_) == k and len(set(names_)) == k
                                       and all(isinstance(c, str) and c.strip() and c.isprintable() for c in names_)):
            raise ModelFileError(f"{where}: its class names {names_!r} do not name its {k} labels")
        return model

