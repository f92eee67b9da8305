"""Categorical labels: a class id per example, ``0..k-1``; LFs vote a class id or abstain (``-1``).

Votes go to the store's ``label`` column and are read back as :class:`~weaksup.votes.SparseVotes`;
labels are class probabilities (``probs``), the ``label`` and its ``confidence``; the training set
has ``prob_<class>`` per class (:func:`weaksup.export.soft_label_frame`); the end model is a text
classifier (:class:`~weaksup.end_models.SoftTextClassifier`).

>>> CATEGORICAL.check_vote(1, 2), CATEGORICAL.check_vote(-1, 2)
(1, None)
>>> CATEGORICAL.check_vote(2, 2)
Traceback (most recent call last):
...
weaksup.label_types.base.VoteError: 2, outside the label space; a categorical LF must return a class id in 0..1 or ABSTAIN (-1), or None to abstain
>>> CATEGORICAL.metrics(np.array([1, 0, 1]), np.array([1, 1, -1]))  # -1: no gold label
{'accuracy': 0.5}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from weaksup.export import soft_label_frame
from weaksup.label_types.base import LabelType, Part, VoteError, VoteReader
from weaksup.votes import ABSTAIN, SparseVotes

if TYPE_CHECKING:
    from weaksup.store.votes import LFVersions

__all__ = ["CATEGORICAL", "CategoricalType"]


class CategoricalType(LabelType):
    """Categorical labels (see the module docstring)."""

    name = "categorical"
    doc = "a class per example"
    vote_column = "label"
    abstain = ABSTAIN
    votes_class = SparseVotes
    answer_dtype = pl.Int32
    label_columns = ("probs", "label", "confidence")
    end_models = ("tfidf_logreg", "logreg", "hist_gradient_boosting", "none")
    end_model = "SoftTextClassifier"
    end_model_file = "end_model.npz"
    other_model_files = ("end_model.skops",)
    other_end_models = ("SoftClassifier",)
    estimators = True
    predicted_columns = ("label", "label_name", "confidence")
    task = Part("weaksup.pipeline.tasks.categorical:CategoricalTask")
    report_type = Part("weaksup.report.types.categorical:Categorical")
    classes = True
    holdout = True
    label_models = True
    streams = True

    def check_vote(self, value: Any, cardinality: int, classes: Sequence[str] = ()) -> int | None:
        if value is None:  # abstains, as a vectorized LF's null does
            return None
        expected = f"a categorical LF must return a class id in 0..{cardinality - 1} or ABSTAIN (-1), or None to abstain"
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            if value == ABSTAIN:
                return None
            if 0 <= value < cardinality:
                return int(value)
            raise VoteError(f"{value}, outside the label space", expected)
        raise VoteError(f"{value!r} of type {type(value).__name__}, not an int", expected)

    def check_column(self, column: pl.Series, cardinality: int, classes: Sequence[str] = ()) -> tuple[np.ndarray, list[Any] | None]:
        expected = f"a categorical LF yields class ids in 0..{cardinality - 1}, or null/-1 (ABSTAIN) to abstain"
        if column.dtype == pl.Null:
            return np.full(column.len(), ABSTAIN, np.int32), None
        if not column.dtype.is_integer():
            raise VoteError(f"a column of dtype {column.dtype}", expected + " (an integer column: e.g. pl.when(cond).then(1))")
        labels = column.cast(pl.Int64).fill_null(ABSTAIN).to_numpy()
        bad = (labels < ABSTAIN) | (labels >= cardinality)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise VoteError(f"{int(labels[row])}, outside the label space", expected, row)
        return labels.astype(np.int32), None

    def as_output(self, votes: list[Any]) -> tuple[np.ndarray, list[Any] | None]:
        """Class ids in ``labels`` (``-1`` = abstain)."""
        return np.array([ABSTAIN if v is None else v for v in votes], dtype=np.int32), None

    def answer_values(self, answers: pl.Series, classes: Sequence[str], by: str,
                      truth: bool = False) -> tuple[pl.Series, str, str]:  # fmt: skip
        """Class ids from class names (``by = "name"``), from ids (``"id"``), or ``"auto"``: names when
        every answer is one, else ids."""
        asked, k = by, len(classes)
        if by == "auto":
            by = "name" if answers.is_in(list(classes)).all() else "id"
        if by == "name":
            ids = answers.replace_strict(list(classes), list(range(k)), default=None, return_dtype=pl.Int32)
        else:
            frame = pl.DataFrame({"id": answers.cast(pl.Int64, strict=False)})
            ids = frame.select(pl.when(pl.col("id").is_between(0, k - 1)).then("id").cast(pl.Int32))["id"]
        if truth:
            expected = f"one of labels.classes {list(classes)}" if by == "name" else f"a class id 0..{k - 1}"
        elif asked == "auto":
            expected = (f"one of labels.classes {list(classes)}, and not every answer is a class id 0..{k - 1} either; "
                        "add the class to labels.classes, or fix the answer")  # fmt: skip
        elif by == "name":
            expected = f"one of labels.classes {list(classes)} (answers.classes_by = 'name'); add the class, or fix the answer"
        else:
            expected = f"a class id 0..{k - 1} (answers.classes_by = 'id'); fix the answer, or set answers.classes_by = 'name'"
        return ids, by, expected

    def read_votes(self, votes: VoteReader, ex_keys: np.ndarray, lfs: LFVersions, **context: Any) -> SparseVotes:
        """The label matrix, read in batches of keys (:meth:`~weaksup.store.votes.VoteTable.label_matrix`)."""
        return votes.label_matrix(ex_keys, lfs)

    def label_rows(self, ex_keys: np.ndarray, predicted: Any, n_votes: np.ndarray) -> pl.DataFrame:
        """``predicted``: the (n, k) class probabilities and each row's label (ties broken by the model)."""
        probs, labels = predicted
        return pl.DataFrame(
            {
                "ex_key": ex_keys,
                "probs": probs,
                "label": np.asarray(labels).astype(np.int32),
                "confidence": probs.max(axis=1),
                "n_votes": np.asarray(n_votes).astype(np.int32),
            }
        )

    def training_frame(self, inputs: pl.DataFrame, rows: pl.DataFrame, classes: Sequence[str]) -> pl.DataFrame:
        """``prob_<class>`` per class, ``label``, ``label_name``, ``confidence``, ``n_votes``."""
        k = len(classes)
        probs = np.asarray(rows["probs"].list.to_array(k).to_numpy(), dtype=float) if rows.height else np.zeros((0, k))
        return soft_label_frame(inputs, probs, rows["n_votes"].to_numpy(), classes, keep_uncovered=True)

    def gold_column(self, gold: Any) -> pl.Series:
        gold = np.asarray(gold)
        if gold.dtype.kind not in "iu":
            raise ValueError(f"categorical gold must be class ids (integers, -1 unknown), got {gold.dtype}; "
                             "pass the run's label_type for other gold")  # fmt: skip
        return pl.Series("gold", gold.astype(np.int64)).replace(-1, None)

    def read_gold(self, column: pl.Series, classes: Sequence[str] = ()) -> np.ndarray:
        """Class ids, -1 where unknown: int64, or with ``classes`` the smallest type that holds them (a
        byte for up to 128 classes)."""
        gold = column.cast(pl.Int64).fill_null(-1).to_numpy()
        return gold.astype(np.min_scalar_type(-len(classes))) if classes else gold

    def gold_mask(self, gold: Any) -> np.ndarray:
        return np.asarray(gold) >= 0

    def metrics(self, predicted: Any, gold: Any, **options: Any) -> dict[str, float | None]:
        """``accuracy`` where gold is known (≥ 0); None when it is known nowhere."""
        pred, gold = np.asarray(predicted), np.asarray(gold)
        known = gold >= 0
        return {"accuracy": float((pred[known] == gold[known]).mean()) if known.any() else None}

    def load_end_model(self, path: Path, **options: Any) -> Any:
        """The text classifier (``tfidf_logreg``), or a classifier on any columns: plain data in an
        ``.npz`` file, or a skops file holding only trusted types (``options["trusted"]`` adds some)."""
        from weaksup.end_models.plain import model_name

        if path.suffix == ".skops":
            from weaksup.end_models.trusted_files import load_skops

            return load_skops(path, options.get("trusted") or ())
        if model_name(path) in self.other_end_models:
            from weaksup.end_models.classifier_files import load_plain

            return load_plain(path)
        from weaksup.end_models.text import SoftTextClassifier

        return SoftTextClassifier.load(path)

    def predict(self, model: Any, frame: pl.DataFrame, **options: Any) -> pl.DataFrame:
        """``label``, ``label_name``, ``confidence`` and ``prob_<class>`` per class: from the text in
        ``text_column`` (default: the column the model was trained on), and for a classifier on any
        columns from the other columns it reads too."""
        meta = model.metadata_
        trained_on = meta.get("text_column", "text")
        column = options.get("text_column") or trained_on
        kinds = getattr(model, "kinds_", None)
        if kinds is None or trained_on in kinds:  # the model reads a text column
            if column not in frame.columns:
                raise ValueError(f"no text column {column!r}; its columns are {frame.columns}: choose one with --text-column")
            if frame[column].dtype != pl.String:
                raise ValueError(f"column {column!r} holds {frame[column].dtype}, not text: choose one with --text-column")
        classes = [str(c) for c in meta.get("classes") or range(len(model.classes_))]
        if kinds is None:
            probs = model.predict_proba(frame[column].fill_null("").to_list())
        else:
            inputs = frame.with_columns(pl.col(column).alias(trained_on)) if trained_on in kinds else frame
            missing = [c for c in kinds if c not in inputs.columns]
            if missing:
                raise ValueError(f"no columns {missing}, which the end model reads; its columns are {frame.columns}")
            probs = model.predict_proba(inputs)
        best = probs.argmax(axis=1)
        return pl.DataFrame(
            [
                pl.Series("label", best, dtype=pl.Int64),
                pl.Series("label_name", [classes[i] for i in best], dtype=pl.String),
                pl.Series("confidence", probs.max(axis=1)),
                *(pl.Series(f"prob_{name}", probs[:, j]) for j, name in enumerate(classes)),
            ]
        )

CATEGORICAL = CategoricalType()
