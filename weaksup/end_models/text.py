"""The categorical end model: learns text classification from probabilistic labels.

:class:`SoftTextClassifier` is TF-IDF features plus logistic regression.  It
learns from soft labels by expanding each example into ``k`` rows, one per
class, weighted by that class's probability: the weighted log-loss is then the
cross-entropy against the soft label, so the model sees the label model's
uncertainty instead of its argmax.

>>> import numpy as np
>>> texts = ["buy cheap pills", "great song", "cheap pills here", "love this song"]
>>> probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.2, 0.8], [0.9, 0.1]])
>>> clf = SoftTextClassifier(seed=0).fit(texts, probs)
>>> clf.predict(["cheap pills", "song"]).tolist()
[1, 0]

Saved models are plain data (:mod:`weaksup.end_models.plain`): vocabularies, IDF
weights and coefficients in an ``.npz`` file, rebuilt on load into the same
scikit-learn estimators, so a loaded model predicts exactly what the saved one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from weaksup.end_models.plain import (
    ModelFileError,
    check_params,
    decode_strings,
    encode_strings,
    is_int,
    is_number,
    one_of,
    read_npz,
    write_npz,
)


def _ngram_range(value: Any) -> bool:
    """``[low, high]`` n-gram lengths, 1 <= low <= high <= 10."""
    return isinstance(value, list) and len(value) == 2 and all(is_int(n) for n in value) and 1 <= value[0] <= value[1] <= 10


def _df(value: Any) -> bool:
    """A document-frequency bound: a count (int >= 1) or a fraction in (0, 1]."""
    return (is_int(value) and value >= 1) or (isinstance(value, float) and 0 < value <= 1)


# What a saved file may set, value by value: plain data only (no callables, no classes).
MODEL_PARAMS = {"C": lambda v: is_number(v) and v > 0, "min_df": _df, "seed": is_int}
VECTORIZERS = ("words", "chars")
VECTORIZER_PARAMS = {
    "analyzer": one_of("word", "char_wb", "char"),
    "ngram_range": _ngram_range,
    "min_df": _df,
    "max_df": _df,
    "max_features": lambda v: v is None or (is_int(v) and v > 0),
    "sublinear_tf": one_of(True, False),
    "lowercase": one_of(True, False),
    "binary": one_of(True, False),
    "use_idf": one_of(True, False),
    "smooth_idf": one_of(True, False),
    "norm": one_of("l2", "l1", None),
    "strip_accents": one_of(None, "ascii", "unicode"),
}
LOGISTIC_PARAMS = {
    "C": lambda v: is_number(v) and v > 0,
    "solver": one_of("liblinear", "lbfgs"),
    "max_iter": lambda v: is_int(v) and v > 0,
    "random_state": lambda v: v is None or is_int(v),
}


class SoftTextClassifier:
    """TF-IDF (word 1–2-grams plus character 2–5-grams) and logistic regression.

    ``C`` is the inverse regularisation strength; ``seed`` fixes the solver.
    """

    def __init__(self, C: float = 3.0, min_df: int = 1, seed: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.seed = seed


    def fit(self, texts: Sequence[str], probs: np.ndarray) -> SoftTextClassifier:
        """Fit on ``texts`` with soft labels ``probs`` of shape (n, k)."""
        probs = soft_targets(texts, probs)
        n, k = probs.shape
        rows, classes = np.nonzero(probs > 0)
        present = np.unique(classes)
        if len(present) != k:
            raise ValueError(
                f"the soft labels put weight on only {len(present)} of {k} classes; the end model needs all of them"
            )
        # Featurise each text once, then expand the rows (not the texts) k ways.
        features = text_features(self.min_df)
        X = features.fit_transform(np.asarray(texts, dtype=object))
        # liblinear is the fast exact solver for two classes; lbfgs fits the multinomial model beyond.
        model = LogisticRegression(
            C=self.C, solver="liblinear" if k == 2 else "lbfgs", max_iter=2000, random_state=self.seed
        )
        model.fit(X[rows], classes, sample_weight=probs[rows, classes])
        self.pipeline_ = Pipeline([("features", features), ("model", model)])
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) class probabilities."""
        return self.pipeline_.predict_proba(np.asarray(texts, dtype=object))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Most probable class id per text."""
        return self.predict_proba(texts).argmax(axis=1)

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the fitted model as plain data to an ``.npz`` file: each vectorizer's parameters,
        terms and IDF weights, the logistic regression's parameters and weights, and ``metadata``
        (class names, text column...)."""
        vectorizers, arrays = vectorizers_as_data(self.pipeline_.named_steps["features"])
        logistic = self.pipeline_.named_steps["model"]
        arrays.update(coef=logistic.coef_, intercept=logistic.intercept_, classes=logistic.classes_)
        meta = {
            "params": {"C": self.C, "min_df": self.min_df, "seed": self.seed},
            "vectorizers": vectorizers,
            "logistic": {k: v for k, v in logistic.get_params().items() if k in LOGISTIC_PARAMS},
            "metadata": metadata or {},
        }
        write_npz(path, type(self).__name__, meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> SoftTextClassifier:
        """Read a model written by :meth:`save`, its ``metadata`` in ``metadata_``.

        Refuses (:class:`~weaksup.end_models.plain.ModelFileError`) any file that is not such
        plain data, before building anything from it.
        """
        meta, arrays = read_npz(path, cls.__name__, VECTORIZER_ARRAYS | {"coef", "intercept", "classes"})
        where = str(path)
        model = cls(**check_params(meta.get("params"), MODEL_PARAMS, f"{where}: params"))
        parts = vectorizers_from_data(meta, arrays, where)
        logistic = LogisticRegression(**check_params(meta.get("logistic"), LOGISTIC_PARAMS, f"{where}: logistic"))
        n_features = sum(len(v.vocabulary) for _, v in parts)
        coef, intercept, classes = arrays["coef"], arrays["intercept"], arrays["classes"]
        k = len(classes)
        if classes.ndim != 1 or k < 2:
            raise ModelFileError(f"{where}: the model has {k} classes {classes.tolist()}; a classifier needs at least 2")
        rows = 1 if k == 2 else k
        if (coef.shape != (rows, n_features) or intercept.shape != (rows,) or classes.dtype.kind != "i"
                or classes.tolist() != list(range(k)) or coef.dtype.kind != "f" or intercept.dtype.kind != "f"):
            raise ModelFileError(
                f"{where}: weights of shape {coef.shape}, intercepts {intercept.shape} and classes {classes.tolist()} "
                f"do not fit {n_features} features"
            )
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ModelFileError(f"{where}: its weights hold values that are not finite numbers (NaN or infinity)")
        logistic.coef_, logistic.intercept_, logistic.classes_ = coef, intercept, classes
        logistic.n_features_in_ = n_features
        model.pipeline_ = Pipeline([("features", FeatureUnion(parts)), ("model", logistic)])
        model.classes_ = classes
        metadata = meta.get("metadata")
        model.metadata_ = metadata if isinstance(metadata, dict) else {}
        names = model.metadata_.get("classes")
        if names is not None and not _class_names_fit(names, k):
            raise ModelFileError(
                f"{where}: its class names {names!r} do not name its {k} classes: expected {k} distinct, non-empty "
                "names of printable characters"
            )
        return model


def _class_names_fit(names: Any, k: int) -> bool:
    """Whether ``names`` (a file's ``metadata.classes``) names ``k`` classes: distinct, non-empty, printable."""
    return (isinstance(names, list) and len(names) == k
            and all(isinstance(n, str) and n.strip() and n.isprintable() for n in names) and len(set(names)) == k)


def text_features(min_df: int) -> FeatureUnion:
    """The unfitted TF-IDF features of :data:`VECTORIZERS`: word 1–2-grams and character 2–5-grams."""
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, sublinear_tf=True)),
    ])  # fmt: skip


def soft_targets(texts: Sequence[str], probs: ArrayLike) -> np.ndarray:
    """``probs`` as an (n, k) float array, one row per text; refuses another shape, or no texts."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[0] != len(texts):
        raise ValueError(f"probs must be (n, k) with n = {len(texts)} texts, got shape {probs.shape}")
    if len(texts) == 0:
        raise ValueError("no training examples: the label model covered none (check the LFs' coverage)")
    return probs


VECTORIZER_ARRAYS = frozenset(f"{v}_{part}" for v in VECTORIZERS for part in ("terms", "ends", "idf"))
"""The arrays :func:`vectorizers_as_data` writes: each vectorizer's terms (and their ends) and IDF weights."""


def vectorizers_as_data(union: FeatureUnion) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """The fitted TF-IDF vectorizers of ``union`` as plain data: their parameters (for a model file's
    metadata) and their terms and IDF weights (its arrays, :data:`VECTORIZER_ARRAYS`)."""
    vectorizers: dict[str, dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, vectorizer in union.transformer_list:
        vectorizers[name] = {k: _plain(v) for k, v in vectorizer.get_params().items() if k in VECTORIZER_PARAMS}
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        arrays[f"{name}_terms"], arrays[f"{name}_ends"] = encode_strings(terms)
        arrays[f"{name}_idf"] = vectorizer.idf_
    return vectorizers, arrays


def vectorizers_from_data(meta: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> list[tuple[str, TfidfVectorizer]]:
    """The vectorizers :func:`vectorizers_as_data` wrote, rebuilt after checking every parameter, term
    list and IDF array (:class:`~weaksup.end_models.plain.ModelFileError` names ``where`` otherwise)."""
    vectorizers = meta.get("vectorizers")
    if not isinstance(vectorizers, dict) or sorted(vectorizers) != sorted(VECTORIZERS):
        raise ModelFileError(f"{where}: expected vectorizers {sorted(VECTORIZERS)}")
    parts = []
    for name in VECTORIZERS:
        params = check_params(vectorizers[name], VECTORIZER_PARAMS, f"{where}: vectorizer {name!r}")
        if "ngram_range" in params:
            params["ngram_range"] = tuple(params["ngram_range"])
        terms = decode_strings(arrays[f"{name}_terms"], arrays[f"{name}_ends"])
        idf = arrays[f"{name}_idf"]
        if len(set(terms)) != len(terms) or idf.shape != (len(terms),) or idf.dtype.kind != "f" or not np.isfinite(idf).all():
            raise ModelFileError(f"{where}: vectorizer {name!r} has {len(terms)} terms and IDF weights of shape {idf.shape}")
        vectorizer = TfidfVectorizer(**params, vocabulary={t: i for i, t in enumerate(terms)})
        vectorizer.idf_ = idf
        parts.append((name, vectorizer))
    return parts


def _plain(value: Any) -> Any:
    """A parameter as JSON: tuples become lists."""
    return list(value) if isinstance(value, tuple) else value
