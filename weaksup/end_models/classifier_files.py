"""A :class:`~weaksup.end_models.soft_classifier.SoftClassifier` of the built-in parts, saved as
plain data (:mod:`.plain`): loading it never runs code from the file.

The built-in parts are the ColumnTransformer's (:mod:`.columns`: TF-IDF or hashed n-grams or
sentence embeddings of text, :class:`~.columns.NumberScaler`, one-hot categories) and two
estimators: logistic regression and histogram gradient boosting.  :func:`plain` says whether a
fitted model is made of them; others are saved through skops (:mod:`.trusted_files`).

On load every part is rebuilt from checked arrays and allow-listed values: vocabularies and IDF
weights, medians and scales, category lists, coefficients, and the boosted trees' nodes, walked by
:class:`BoostedClassifier` (the same trees in the same order: the probabilities a saved model gave).
The rebuilt transformers are frozen (:class:`~sklearn.frozen.FrozenEstimator`) inside a fresh
ColumnTransformer, fitted on one placeholder row, which learns nothing from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.special import expit, softmax
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import OneHotEncoder

from weaksup.end_models.columns import NumberScaler, clean_frame
from weaksup.end_models.embeddings import MODELS, SentenceEmbeddings
from weaksup.end_models.plain import (ModelFileError, check_params, decode_strings, encode_strings, is_int, is_number,
                                      one_of, read_npz, write_npz)  # fmt: skip
from weaksup.end_models.regression import NODE_ARRAYS, BoostedTrees
from weaksup.end_models.options import SOFT_LABELS, TEXT_FEATURIZERS
from weaksup.end_models.soft_classifier import SoftClassifier
from weaksup.end_models.text import LOGISTIC_PARAMS, VECTORIZER_PARAMS

MODEL = "SoftClassifier"
HASHING_PARAMS = {key: VECTORIZER_PARAMS[key] for key in ("analyzer", "ngram_range", "lowercase", "binary", "norm",
                                                           "strip_accents")}  # fmt: skip
HASHING_PARAMS.update(n_features=lambda v: is_int(v) and 0 < v <= 2**24, alternate_sign=one_of(True, False))
PARAMS = {"text_featurizer": one_of(*TEXT_FEATURIZERS), "soft_labels": one_of(*SOFT_LABELS), "seed": is_int}
KINDS = ("number", "category", "text")


class BoostedClassifier:
    """A fitted gradient-boosting classifier as plain arrays: one :class:`BoostedTrees` of raw
    scores per output (one for two classes, one per class beyond), through the sigmoid or softmax."""

    def __init__(self, outputs: list[BoostedTrees], classes: np.ndarray) -> None:
        self.outputs, self.classes_ = outputs, classes

    @classmethod
    def from_estimator(cls, est: HistGradientBoostingClassifier) -> BoostedClassifier:
        baselines = np.asarray(est._baseline_prediction, dtype=np.float64).ravel()
        outputs = [BoostedTrees.from_predictors([trees[j] for trees in est._predictors], float(baselines[j]),
                                                "squared_error", int(est.n_features_in_))  # fmt: skip
                   for j in range(len(baselines))]
        return cls(outputs, np.asarray(est.classes_))

    def predict_proba(self, X: Any) -> np.ndarray:
        raw = np.column_stack([trees.predict(X) for trees in self.outputs])
        if raw.shape[1] == 1:
            p = expit(raw[:, 0])
            return np.column_stack([1 - p, p])
        return softmax(raw, axis=1)


def plain(model: SoftClassifier) -> bool:
    """Whether a fitted model is made of the built-in parts only (so it saves as plain data)."""
    if model.features_ is None or not isinstance(model.model_, (LogisticRegression, HistGradientBoostingClassifier)):
        return False
    if isinstance(model.model_, HistGradientBoostingClassifier) and model.model_.is_categorical_ is not None:
        return False
    expected = {"numbers": NumberScaler, "categories": OneHotEncoder}
    for name, part, _ in model.features_.transformers_:
        if name == "remainder":
            continue
        kind = expected.get(name, FeatureUnion if model.text_featurizer != "embeddings" else SentenceEmbeddings)
        if type(part) is not kind:
            return False
    return True


def save_plain(model: SoftClassifier, path: str | Path, metadata: dict[str, Any]) -> None:
    """Write a fitted model of built-in parts (:func:`plain`) to an ``.npz`` file."""
    arrays: dict[str, np.ndarray] = {}
    parts = []
    for i, (name, part, columns) in enumerate(model.features_.transformers_):
        if name == "remainder":
            continue
        entry: dict[str, Any] = {"name": name, "columns": [columns] if isinstance(columns, str) else list(columns)}
        if isinstance(part, NumberScaler):
            arrays.update({f"p{i}_medians": part.medians_, f"p{i}_means": part.means_, f"p{i}_scales": part.scales_})
        elif isinstance(part, OneHotEncoder):
            for j, values in enumerate(part.categories_):
                arrays[f"p{i}_c{j}_terms"], arrays[f"p{i}_c{j}_ends"] = encode_strings([str(v) for v in values])
        elif isinstance(part, SentenceEmbeddings):
            entry["model"] = part.model
        else:
            entry["vectorizers"] = {}
            for vname, vectorizer in part.transformer_list:
                allowed = HASHING_PARAMS if isinstance(vectorizer, HashingVectorizer) else VECTORIZER_PARAMS
                entry["vectorizers"][vname] = {k: list(v) if isinstance(v, tuple) else v
                                               for k, v in vectorizer.get_params().items() if k in allowed}  # fmt: skip
                if isinstance(vectorizer, TfidfVectorizer):
                    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
                    arrays[f"p{i}_{vname}_terms"], arrays[f"p{i}_{vname}_ends"] = encode_strings(terms)
                    arrays[f"p{i}_{vname}_idf"] = vectorizer.idf_
        parts.append(entry)
    est = model.model_
    if isinstance(est, LogisticRegression):
        estimator = {"type": "logistic", "params": {k: v for k, v in est.get_params().items() if k in LOGISTIC_PARAMS}}
        arrays.update(coef=est.coef_, intercept=est.intercept_)
    else:
        trees = BoostedClassifier.from_estimator(est)
        estimator = {"type": "boosted", "baselines": [t.baseline for t in trees.outputs],
                     "n_features": trees.outputs[0].n_features}  # fmt: skip
        for j, t in enumerate(trees.outputs):
            arrays.update({f"t{j}_{name}": a for name, a in t.nodes.items()}, **{f"t{j}_roots": t.roots})
    arrays["classes"] = np.asarray(est.classes_).astype(np.int64)
    meta = {"params": {"text_featurizer": model.text_featurizer, "soft_labels": model.soft_labels, "seed": model.seed},
            "kinds": model.kinds_, "soft_labels_used": model.soft_labels_, "k": len(model.classes_),
            "sparse_threshold": model.features_.sparse_threshold, "parts": parts, "estimator": estimator,
            "metadata": metadata}  # fmt: skip
    write_npz(path, MODEL, json.loads(json.dumps(meta)), arrays)


def load_plain(path: str | Path) -> SoftClassifier:
    """Read a model written by :func:`save_plain`, its ``metadata`` in ``metadata_``; refuses
    (:class:`~weaksup.end_models.plain.ModelFileError`) anything else before building from it."""
    where = str(path)
    meta, stored = read_npz(path, MODEL, set(_array_names(path)))
    arrays = _Read(stored)
    model = SoftClassifier(**check_params(meta.get("params"), PARAMS, f"{where}: params"))
    kinds = meta.get("kinds")
    if not isinstance(kinds, dict) or not all(isinstance(c, str) and kind in KINDS for c, kind in kinds.items()):
        raise ModelFileError(f"{where}: its column kinds {kinds!r} are not a table of number/category/text")
    k = meta.get("k")
    if not is_int(k) or k < 2 or meta.get("sparse_threshold") not in (0.0, 1.0):
        raise ModelFileError(f"{where}: k = {k!r} or sparse_threshold = {meta.get('sparse_threshold')!r} is not allowed")
    model.kinds_, model.classes_ = kinds, np.arange(k)
    parts = meta.get("parts")
    if not isinstance(parts, list) or not parts:
        raise ModelFileError(f"{where}: it names no feature parts")
    built = [_part(i, p, arrays, kinds, where) for i, p in enumerate(parts)]
    features = ColumnTransformer([(n, FrozenEstimator(t), c) for n, t, c in built], sparse_threshold=meta["sparse_threshold"])
    model.features_ = features.fit(_placeholder(kinds, built))
    model.model_ = _estimator(meta.get("estimator"), arrays, k, where)
    model.soft_labels_ = str(meta.get("soft_labels_used"))
    metadata = meta.get("metadata")
    model.metadata_ = metadata if isinstance(metadata, dict) else {}
    unread = sorted(set(stored) - arrays.read)
    if unread:
        raise ModelFileError(f"{where}: it holds arrays {unread} that none of its parts reads")
    return model


class _Read(dict):
    """The file's arrays, remembering which were read (an array nothing reads is refused)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        super().__init__(arrays)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> np.ndarray:
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        if name in self:
            self.read.add(name)
        return super().get(name, default)


def _array_names(path: str | Path) -> list[str]:
    """The arrays in the file: :func:`read_npz` checks every one's dtype, and :func:`load_plain` refuses
    one that its header's parts do not read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return [m.removesuffix(".npy") for m in archive.namelist() if m != "__meta__.npy"]
    except (OSError, zipfile.BadZipFile):
        return []  # read_npz says what is wrong with the file


def _array(arrays: dict[str, np.ndarray], name: str, kind: str, where: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    a = arrays.get(name)
    if a is None or a.dtype.kind not in kind or (shape is not None and a.shape != shape) or a.ndim != (len(shape) if shape else a.ndim):
        raise ModelFileError(f"{where}: array {name!r} is missing or not {shape or ''} values of kind {kind!r}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ModelFileError(f"{where}: array {name!r} holds values that are not finite numbers")
    return a


def _part(i: int, entry: Any, arrays: dict[str, np.ndarray], kinds: dict[str, str], where: str) -> tuple[str, Any, Any]:
    """One rebuilt feature part: (name, fitted transformer, columns)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("columns"), list) or not entry["columns"] \
            or not all(c in kinds for c in entry["columns"]):  # fmt: skip
        raise ModelFileError(f"{where}: feature part {i} is not a name and columns the model reads")
    name, columns = entry.get("name"), entry["columns"]
    if name == "numbers":
        n = len(columns)
        scaler = NumberScaler()
        scaler.medians_, scaler.means_, scaler.scales_ = (_array(arrays, f"p{i}_{a}", "f", where, (n,)) for a in
                                                          ("medians", "means", "scales"))  # fmt: skip
        scaler.n_features_in_ = n
        return name, scaler, columns
    if name == "categories":
        values = [decode_strings(arrays[f"p{i}_c{j}_terms"], arrays[f"p{i}_c{j}_ends"]) if f"p{i}_c{j}_terms" in arrays
                  else [] for j in range(len(columns))]  # fmt: skip
        if any(not v for v in values):
            raise ModelFileError(f"{where}: feature part {i} lacks a category list for each of its columns")
        encoder = OneHotEncoder(categories=values, handle_unknown="ignore")
        return name, encoder.fit(pl.DataFrame({c: [v[0]] for c, v in zip(columns, values)})), columns
    if not (isinstance(name, str) and name == f"text:{columns[0]}" and len(columns) == 1):
        raise ModelFileError(f"{where}: feature part {i} has the unknown name {name!r}")
    if "model" in entry:
        if entry["model"] not in MODELS:
            raise ModelFileError(f"{where}: embedding model {entry['model']!r} is not one of {sorted(MODELS)}")
        return name, SentenceEmbeddings(model=entry["model"]), columns[0]
    vectorizers = entry.get("vectorizers")
    if not isinstance(vectorizers, dict) or sorted(vectorizers) != ["chars", "words"]:
        raise ModelFileError(f"{where}: feature part {i} needs vectorizers 'words' and 'chars'")
    union = []
    for vname in ("words", "chars"):
        hashed = f"p{i}_{vname}_terms" not in arrays
        params = check_params(vectorizers[vname], HASHING_PARAMS if hashed else VECTORIZER_PARAMS, f"{where}: {name} {vname}")
        if "ngram_range" in params:
            params["ngram_range"] = tuple(params["ngram_range"])
        if hashed:
            union.append((vname, HashingVectorizer(**params)))
            continue
        terms = decode_strings(arrays[f"p{i}_{vname}_terms"], arrays[f"p{i}_{vname}_ends"])
        idf = _array(arrays, f"p{i}_{vname}_idf", "f", where, (len(terms),))
        if len(set(terms)) != len(terms):
            raise ModelFileError(f"{where}: {name} {vname} repeats a term")
        vectorizer = TfidfVectorizer(**params, vocabulary={t: j for j, t in enumerate(terms)})
        vectorizer.idf_ = idf
        union.append((vname, vectorizer))
    return name, FeatureUnion(union), columns[0]


def _placeholder(kinds: dict[str, str], built: list[tuple[str, Any, Any]]) -> pl.DataFrame:
    """One row of every column the parts read (a known category for each category column)."""
    row: dict[str, Any] = {c: ("" if kind != "number" else 0.0) for c, kind in kinds.items()}
    for name, part, columns in built:
        if name == "categories":
            row.update({c: values[0] for c, values in zip(columns, part.categories_)})
    return clean_frame(pl.DataFrame({c: [v] for c, v in row.items()}), kinds)


def _estimator(entry: Any, arrays: dict[str, np.ndarray], k: int, where: str) -> Any:
    classes = _array(arrays, "classes", "i", where)
    if classes.ndim != 1 or len(classes) < 2 or (np.diff(classes) <= 0).any() or classes.min() < 0 or classes.max() >= k:
        raise ModelFileError(f"{where}: its classes {classes.tolist()} are not at least 2 increasing class ids below {k}")
    if not isinstance(entry, dict) or entry.get("type") not in ("logistic", "boosted"):
        raise ModelFileError(f"{where}: its estimator is not logistic regression or boosted trees")
    if entry["type"] == "logistic":
        est = LogisticRegression(**check_params(entry.get("params"), LOGISTIC_PARAMS, f"{where}: logistic"))
        coef = _array(arrays, "coef", "f", where)
        rows = 1 if len(classes) == 2 else len(classes)
        if coef.ndim != 2 or coef.shape[0] != rows:
            raise ModelFileError(f"{where}: weights of shape {coef.shape} do not fit {len(classes)} classes")
        est.coef_, est.intercept_, est.classes_ = coef, _array(arrays, "intercept", "f", where, (rows,)), classes
        est.n_features_in_ = coef.shape[1]
        return est
    baselines, n_features = entry.get("baselines"), entry.get("n_features")
    outputs = 1 if len(classes) == 2 else len(classes)
    if not (isinstance(baselines, list) and len(baselines) == outputs and all(is_number(b) for b in baselines)
            and is_int(n_features) and n_features > 0):  # fmt: skip
        raise ModelFileError(f"{where}: boosted trees need {outputs} baselines and a feature count")
    trees = []
    for j, baseline in enumerate(baselines):
        nodes = {name: arrays.get(f"t{j}_{name}", np.zeros(0)) for name in NODE_ARRAYS}
        t = BoostedTrees(nodes, arrays.get(f"t{j}_roots", np.zeros(0, np.int64)), float(baseline), "squared_error", n_features)
        t.check(f"{where}: trees of output {j}")
        trees.append(t)
    return BoostedClassifier(trees, classes)
