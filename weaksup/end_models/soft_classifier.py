"""A categorical end model on any columns, with any scikit-learn classifier.

:class:`SoftClassifier` turns the input columns into features with one
:class:`~sklearn.compose.ColumnTransformer` (:mod:`.columns`: text through the text featurizer,
numbers scaled, low-cardinality strings one-hot) and fits ``estimator`` on the label model's
soft labels (n, k):

- ``soft_labels = "expand"``: each row becomes ``k`` rows, one per class, weighted by that class's
  probability (rows of weight 0 are dropped), so the weighted log-loss is the cross-entropy against
  the soft label: what :class:`~weaksup.end_models.SoftTextClassifier` does.  It needs an estimator
  whose ``fit`` takes ``sample_weight`` (for a :class:`~sklearn.pipeline.Pipeline`, its last step);
- ``"argmax"``: the most probable class per row, weighted by its probability (the confidence) when
  ``fit`` takes ``sample_weight``, unweighted otherwise;
- ``"auto"`` (default): ``expand`` where ``fit`` takes ``sample_weight``, else ``argmax``.

``soft_labels_`` says which was used.  A :class:`~sklearn.pipeline.Pipeline` whose first step is
a ColumnTransformer brings its own featurisation: it gets the input columns as they are.

>>> import numpy as np, polars as pl
>>> from sklearn.ensemble import HistGradientBoostingClassifier
>>> rng = np.random.default_rng(0)
>>> frame = pl.DataFrame({"x": rng.normal(size=200), "shop": rng.choice(["a", "b"], 200)})
>>> p1 = 1 / (1 + np.exp(-3 * frame["x"].to_numpy()))
>>> clf = SoftClassifier(HistGradientBoostingClassifier(max_iter=20, random_state=0)).fit(frame, np.c_[1 - p1, p1])
>>> clf.soft_labels_, clf.kinds_
('expand', {'x': 'number', 'shop': 'category'})
>>> clf.predict(pl.DataFrame({"x": [-2.0, 2.0], "shop": ["a", "zzz"]})).tolist()
[0, 1]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.validation import has_fit_parameter

from weaksup.end_models.columns import clean_frame, column_kinds, column_transformer
from weaksup.end_models.options import SOFT_LABELS, TEXT_FEATURIZERS


def check_estimator(estimator: Any, where: str = "the end model") -> None:
    """Raise a ``TypeError`` naming what is missing unless ``estimator`` is an unfitted-style
    scikit-learn classifier: ``fit``, ``predict_proba`` and ``get_params`` (for cloning)."""
    missing = [m for m in ("fit", "predict_proba", "get_params") if not hasattr(estimator, m)]
    if missing:
        hint = " (SVC: pass probability=True)" if "predict_proba" in missing and hasattr(estimator, "probability") else ""
        raise TypeError(
            f"{where} is a {type(estimator).__name__}, which has no {' or '.join(missing)}{hint}; give a scikit-learn "
            "classifier with fit and predict_proba (e.g. HistGradientBoostingClassifier(), LogisticRegression()) "
            "or a Pipeline ending in one"
        )


def weight_key(estimator: Any) -> str | None:
    """The ``fit`` keyword that takes sample weights (``step__sample_weight`` for a Pipeline's last
    step); None when ``fit`` takes none."""
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        return f"{name}__sample_weight" if last != "passthrough" and has_fit_parameter(last, "sample_weight") else None
    return "sample_weight" if has_fit_parameter(estimator, "sample_weight") else None


def brings_own_features(estimator: Any) -> bool:
    """Whether ``estimator`` is a Pipeline that starts with its own ColumnTransformer."""
    return isinstance(estimator, Pipeline) and isinstance(estimator.steps[0][1], ColumnTransformer)


class SoftClassifier(BaseEstimator):
    """Features of the input columns (:mod:`.columns`) and ``estimator`` (default: logistic
    regression), fitted on soft labels (see the module docstring).

    ``kinds`` maps each input column to ``number``, ``category`` or ``text`` (default: every
    column of the frame given to ``fit``, kinds found by :func:`~.columns.column_kinds`).
    """

    def __init__(self, estimator: Any = None, *, kinds: Mapping[str, str] | None = None,
                 text_featurizer: str = "tfidf", soft_labels: str = "auto", seed: int = 0) -> None:  # fmt: skip
        self.estimator = estimator
        self.kinds = kinds
        self.text_featurizer = text_featurizer
        self.soft_labels = soft_labels
        self.seed = seed

    def _estimator(self) -> Any:
        if self.estimator is None:
            return LogisticRegression(max_iter=2000, random_state=self.seed)
        check_estimator(self.estimator)
        return clone(self.estimator)

    def fit(self, frame: pl.DataFrame, probs: np.ndarray) -> SoftClassifier:
        """Fit on the rows of ``frame`` with soft labels ``probs`` of shape (n, k)."""
        if self.soft_labels not in SOFT_LABELS:
            raise ValueError(f"soft_labels is {self.soft_labels!r}; use one of {', '.join(SOFT_LABELS)}")
        if self.text_featurizer not in TEXT_FEATURIZERS:
            raise ValueError(f"text_featurizer is {self.text_featurizer!r}; use one of {', '.join(TEXT_FEATURIZERS)}")
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 2 or probs.shape[0] != frame.height:
            raise ValueError(f"probs must be (n, k) with n = {frame.height} rows, got shape {probs.shape}")
        if frame.height == 0:
            raise ValueError("no training examples: the label model covered none (check the LFs' coverage)")
        k = probs.shape[1]
        estimator = self._estimator()
        self.kinds_ = dict(self.kinds) if self.kinds is not None else column_kinds(frame, frame.columns)
        clean = clean_frame(frame, self.kinds_)
        if brings_own_features(estimator):
            self.features_, X = None, clean
        else:
            self.features_ = column_transformer(self.kinds_, self.text_featurizer, self.seed)
            X = self.features_.fit_transform(clean)
            if hasattr(X, "tocsr") and not get_tags(estimator).input_tags.sparse:
                text = [c for c, kind in self.kinds_.items() if kind == "text"]
                raise ValueError(
                    f"{type(estimator).__name__} reads dense features, and the {self.text_featurizer} features of text "
                    f"column {text[0]!r} are sparse: set trainer.text_featurizer = 'embeddings', or use an estimator "
                    "that reads sparse input (logreg)"
                )
        key = weight_key(estimator)
        mode = self.soft_labels if self.soft_labels != "auto" else ("expand" if key else "argmax")
        if mode == "expand":
            if key is None:
                raise ValueError(f"soft_labels = 'expand' needs an estimator whose fit takes sample_weight; "
                                 f"{type(estimator).__name__}'s does not: use soft_labels = 'argmax'")  # fmt: skip
            rows, y = np.nonzero(probs > 0)
            weights = probs[rows, y]
            self.soft_labels_ = "expand"
        else:
            rows, y = np.arange(frame.height), probs.argmax(axis=1)
            weights = probs.max(axis=1) if key else None
            self.soft_labels_ = "argmax, weighted by confidence" if key else "argmax (fit takes no sample_weight)"
        present = np.unique(y)
        if len(present) < (k if mode == "expand" else 2):
            raise ValueError(f"the soft labels put weight on only {len(present)} of {k} classes; the end model "
                             f"needs {'all of them' if mode == 'expand' else 'at least 2'}")  # fmt: skip
        X_rows = X[rows] if not isinstance(X, pl.DataFrame) else X[rows.tolist()]
        estimator.fit(X_rows, y, **({key: weights} if key and weights is not None else {}))
        self.model_ = estimator
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """(n, k) class probabilities; a class the estimator never saw gets 0."""
        clean = clean_frame(frame, self.kinds_)
        X = clean if self.features_ is None else self.features_.transform(clean)
        got = np.asarray(self.model_.predict_proba(X), dtype=float)
        seen = np.asarray(self.model_.classes_).astype(int)
        if seen.tolist() == self.classes_.tolist():
            return got
        out = np.zeros((len(got), len(self.classes_)))
        out[:, seen] = got
        return out

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Most probable class id per row."""
        return self.predict_proba(frame).argmax(axis=1)
