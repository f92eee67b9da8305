"""What a categorical end model reads: each input column's kind, and one scikit-learn
:class:`~sklearn.compose.ColumnTransformer` that turns a frame of them into features.

- **numbers** (and booleans): missing values filled with the training median, then scaled to
  mean 0 and variance 1 (:class:`NumberScaler`);
- **categories**: a string column with at most ``max_categories`` distinct values, one-hot
  encoded (values unseen in training get no column);
- **text**: the text featurizer (:data:`TEXT_FEATURIZERS`): ``tfidf`` (word 1–2-grams and
  character 2–5-grams, as :class:`~weaksup.end_models.SoftTextClassifier`), ``hashing``
  (the same n-grams hashed, with no vocabulary: for streams) or ``embeddings`` (sentence
  embeddings: the ``embeddings`` extra, :mod:`weaksup.end_models.embeddings`).

>>> import polars as pl
>>> frame = pl.DataFrame({"size": [1.0, None, 3.0, 4.0], "shop": ["a", "b", "a", None],
...                       "note": ["fast delivery", "broken box", "great", "late and broken"]})
>>> kinds = column_kinds(frame, ["size", "shop"], text=["note"])
>>> kinds
{'note': 'text', 'size': 'number', 'shop': 'category'}
>>> features = column_transformer(kinds, "tfidf").fit(clean_frame(frame, kinds))
>>> features.transform(clean_frame(frame, kinds)).shape[0]
4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import OneHotEncoder

from weaksup.end_models.options import TEXT_FEATURIZERS

MAX_CATEGORIES = 20
"""A string column with at most this many distinct values (in the training rows) is a category."""

HASH_FEATURES = 2**20
"""Columns of each hashed n-gram family (``hashing``)."""


def column_kind(dtype: pl.DataType, distinct: int, max_categories: int = MAX_CATEGORIES) -> str | None:
    """``number``, ``category`` or ``text`` for a column of ``dtype`` with ``distinct`` values; None
    for a dtype the end model cannot read (dates, lists, structs, binary)."""
    if dtype.is_numeric() or dtype == pl.Boolean:
        return "number"
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "category"
    if dtype == pl.String:
        return "category" if distinct <= max_categories else "text"
    return None


def column_kinds(frame: pl.DataFrame, columns: Sequence[str], *, text: Sequence[str] = (),
                 max_categories: int = MAX_CATEGORIES) -> dict[str, str]:  # fmt: skip
    """The kind of each column: ``text`` for the ``text`` columns, else by dtype and distinct values
    (:func:`column_kind`); a ``ValueError`` naming a column no kind reads, and the fix."""
    kinds = {c: "text" for c in text}
    for c in columns:
        if c in kinds:
            continue
        dtype = frame.schema[c]
        kind = column_kind(dtype, frame[c].n_unique() if dtype == pl.String else 0, max_categories)
        if kind is None:
            raise ValueError(
                f"trainer.features lists {c!r} of type {dtype}; the end model reads numbers, booleans and strings "
                "(categories, or text through trainer.text_column): drop it, or convert it on load"
            )
        kinds[c] = kind
    return kinds


def readable(dtype: pl.DataType) -> bool:
    """Whether an end model can read a column of ``dtype`` (numbers, booleans, strings, categories)."""
    return column_kind(dtype, 0) is not None


def clean_frame(frame: pl.DataFrame, kinds: Mapping[str, str]) -> pl.DataFrame:
    """The columns of ``kinds`` as the features read them: numbers as floats (null as NaN), text and
    categories as strings (null as the empty string)."""
    missing = [c for c in kinds if c not in frame.columns]
    if missing:
        raise ValueError(f"the data has no column {missing[0]!r}, which the end model reads; its columns are {frame.columns}")
    exprs = []
    for c, kind in kinds.items():
        if kind == "number":
            exprs.append(pl.col(c).cast(pl.Float64, strict=False).fill_null(np.nan))
        else:
            exprs.append(pl.col(c).cast(pl.String).fill_null(""))
    return frame.select(exprs)


class NumberScaler(TransformerMixin, BaseEstimator):
    """Fill missing values (NaN) with each column's training median, then centre and scale each
    column to unit variance (a constant column is only centred)."""

    def fit(self, X: Any, y: Any = None) -> NumberScaler:
        values = np.asarray(X, dtype=float)
        medians = np.nanmedian(values, axis=0) if values.size else np.zeros(values.shape[1])
        self.medians_ = np.where(np.isnan(medians), 0.0, medians)
        filled = np.where(np.isnan(values), self.medians_, values)
        self.means_ = filled.mean(axis=0)
        scale = filled.std(axis=0)
        self.scales_ = np.where(scale > 0, scale, 1.0)
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        values = np.asarray(X, dtype=float)
        if values.ndim != 2 or values.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} number columns, got shape {values.shape}")
        return (np.where(np.isnan(values), self.medians_, values) - self.means_) / self.scales_


def text_featurizer(name: str, seed: int = 0) -> Any:
    """A fresh transformer of one text column (``name`` from :data:`TEXT_FEATURIZERS`)."""
    if name == "tfidf":
        return FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ])  # fmt: skip
    if name == "hashing":
        return FeatureUnion([
            ("words", HashingVectorizer(ngram_range=(1, 2), n_features=HASH_FEATURES, alternate_sign=False)),
            ("chars", HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=HASH_FEATURES, alternate_sign=False)),
        ])  # fmt: skip
    if name == "embeddings":
        from weaksup.end_models.embeddings import SentenceEmbeddings

        return SentenceEmbeddings()
    raise ValueError(f"trainer.text_featurizer is {name!r}; use one of {', '.join(TEXT_FEATURIZERS)}")


def column_transformer(kinds: Mapping[str, str], featurizer: str, seed: int = 0) -> ColumnTransformer:
    """One ColumnTransformer over ``kinds``: each text column through the featurizer, the numbers
    through :class:`NumberScaler`, the categories one-hot.  Its output is sparse when a text
    featurizer's is, else dense."""
    parts: list[tuple[str, Any, Any]] = [(f"text:{c}", text_featurizer(featurizer, seed), c)
                                         for c, kind in kinds.items() if kind == "text"]  # fmt: skip
    numbers = [c for c, kind in kinds.items() if kind == "number"]
    categories = [c for c, kind in kinds.items() if kind == "category"]
    if numbers:
        parts.append(("numbers", NumberScaler(), numbers))
    if categories:
        parts.append(("categories", OneHotEncoder(handle_unknown="ignore"), categories))
    if not parts:
        raise ValueError("the end model has no input columns: name them in trainer.features (or trainer.text_column)")
    sparse_text = any(kind == "text" for kind in kinds.values()) and featurizer != "embeddings"
    return ColumnTransformer(parts, sparse_threshold=1.0 if sparse_text else 0.0)
