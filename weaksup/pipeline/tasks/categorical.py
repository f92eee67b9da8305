"""Categorical labels: a class per example, from sparse class votes.

The label model (``label_model.name``, any model :func:`weaksup.model.make_label_model`
builds) is fitted on the train split's votes, renumbered, and labels every live example with
class probabilities.  The end model (:mod:`.classifier`: ``tfidf_logreg`` on ``trainer.text_column``,
or a classifier on any columns) trains on the covered train examples' soft labels; it is scored on
every split with gold and the holdout.

**Exports** (``training_set.<format>``): ``example_id``, the input columns, ``prob_<class>``
per class, ``label``, ``label_name``, ``confidence`` and ``n_votes``
(:meth:`weaksup.label_types.categorical.CategoricalType.training_frame`).

>>> import numpy as np
>>> from weaksup.votes import SparseVotes
>>> votes = SparseVotes.from_dense(np.array([[1, -1], [0, 0], [-1, 1]]))
>>> train = votes.select_rows(np.array([1, 2]))
>>> train.n, train.rows.tolist(), train.labels.tolist()
(2, [0, 0, 1], [0, 0, 1])
>>> accuracy(np.array([1, 0, 1]), np.array([1, 1, -1]))  # -1: no gold label
0.5
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup import batches
from weaksup.analysis import lf_summary
from weaksup.data import ID
from weaksup.label_types import PIPELINE_TYPES
from weaksup.label_types.categorical import CATEGORICAL
from weaksup.model import labels_from_proba, make_label_model
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks.base import (
    Labeled,
    InMemoryPrepared,
    Prepared,
    Trained,
    check_output_columns,
    gold_column,
    select_lfs,
    training_inputs,
    with_split,
)
from weaksup.pipeline.tasks.classifier import score_splits, train_classifier
from weaksup.pipeline.tasks.features import columns_read
from weaksup.store import VoteStore
from weaksup.votes import SparseVotes


class CategoricalTask:
    """Categorical runs (see the module docstring)."""

    label_type: ClassVar[str] = CATEGORICAL.name
    end_models: ClassVar[tuple[str, ...]] = CATEGORICAL.end_models

    @staticmethod
    def check(settings: Settings) -> str | None:
        """The categorical keys: at least two distinct classes, a usable label model, no ranking or
        regression keys."""
        classes = settings.labels.classes
        if len(classes) < 2:
            return "labels.classes needs at least 2 class names"
        bad = [c for c in classes if not c.strip() or not c.isprintable()]
        if bad:  # an empty name, a newline or an escape code would garble CSV headers, tables and logs
            return (f"labels.classes has the class name {bad[0]!r}; give each class a non-empty name of printable "
                    "characters (no newline, tab or control character)")
        twice = sorted({c for c in classes if classes.count(c) > 1})
        if twice:
            return f"labels.classes names {twice} more than once; give each class once, in class-id order"
        problem = CategoricalTask._check_trainer(settings)
        if problem:
            return problem
        lm = settings.label_model
        try:
            make_label_model(lm.name, cardinality=len(classes), seed=lm.seed, **lm.params)
        except (TypeError, ValueError) as exc:
            return f"[label_model] is not usable: {exc}"
        return None

    @staticmethod
    def _check_trainer(settings: Settings) -> str | None:
        """The end model: a name of this type or an estimator that builds (fit, predict_proba), and
        keys only for the end models that read them."""
        trainer = settings.trainer
        if trainer.name in ("tfidf_logreg", "none"):
            defaults = {"features": None, "exclude_columns": [], "text_featurizer": "tfidf", "soft_labels": "auto"}
            used = [key for key, default in defaults.items() if getattr(trainer, key) != default]
            if used and trainer.name != "none":
                return (f"trainer.{used[0]} is for the categorical end models on any columns (logreg, "
                        "hist_gradient_boosting or an estimator); tfidf_logreg reads trainer.text_column alone")  # fmt: skip
            return None
        others = {e: t.name for t in PIPELINE_TYPES.values() if t is not CATEGORICAL for e in t.end_models}
        if trainer.name in others:
            return (f"trainer.name = {trainer.name!r} is for {' or '.join(sorted(set(others.values())))} labels; use one of "
                    f"{list(CategoricalTask.end_models)} or a scikit-learn classifier's import path")  # fmt: skip
        from weaksup.end_models.estimators import build_estimator

        try:
            build_estimator(trainer.name, trainer.params, settings.label_model.seed)
        except (TypeError, ValueError) as exc:
            return str(exc)
        return None

    def __init__(self, settings: Settings, end_model: Any = None) -> None:
        self.settings = settings
        self.classes = list(settings.labels.classes)
        if end_model is not None:
            from weaksup.end_models.soft_classifier import check_estimator

            check_estimator(end_model, "run_pipeline(end_model=...)")
        self.end_model = end_model

    def prepare(self, frame: pl.DataFrame, holdout: pl.DataFrame | None = None) -> InMemoryPrepared:
        """Split the gold class ids (``data.gold_column``, -1 where unknown) off the examples."""
        frame = with_split(frame, self.settings)
        column = gold_column(frame, self.settings)
        gold = class_ids(frame, column, self.classes) if column else np.full(frame.height, -1)
        examples = frame.drop(column) if column else frame
        text_col = self.settings.trainer.text_column
        if self.trains_text_classifier and text_col not in examples.columns:
            raise ValueError(f"trainer.text_column {text_col!r} is not in the data; columns are {examples.columns}. For "
                             "a table without text, set trainer.name = 'logreg' or 'hist_gradient_boosting': they read "
                             "numbers and categories (trainer.features)")  # fmt: skip
        check_output_columns(examples, ["label", "label_name", "confidence", "n_votes", *(f"prob_{c}" for c in self.classes)])
        return InMemoryPrepared(examples, gold, CATEGORICAL.gold_mask(gold), holdout)

    def select_lfs(self, lfs: Sequence[LabelingFunctionLike]) -> list[LabelingFunctionLike]:
        """The categorical LFs."""
        return select_lfs(lfs, self.label_type)

    def label(
        self, store: VoteStore, ex_keys: np.ndarray, lfs: Sequence[LabelingFunctionLike], prepared: Prepared, train: np.ndarray
    ) -> Labeled:
        """Class probabilities for every example; accuracy per split; the LF summary on non-test rows.

        The label rows are computed batch by batch as the store writes them (:class:`LabelRows`):
        at 10M examples the whole (n, k) probabilities and their frame would be most of the run's
        memory.  They are kept whole only for an end model to learn from."""
        lm = self.settings.label_model
        votes = store.votes.read(self.label_type, ex_keys, [(lf.name, lf.version) for lf in lfs])
        model = make_label_model(lm.name, cardinality=len(self.classes), seed=lm.seed, **lm.params)
        model.fit(votes.select_rows(np.flatnonzero(train)))
        n_votes = np.bincount(votes.rows, minlength=votes.n).astype(np.min_scalar_type(votes.m))
        rows = LabelRows(model, votes, ex_keys, n_votes)
        metrics = split_scores(rows, prepared)
        gold = prepared.gold
        dev = ~prepared.in_split(self.settings.data.test_split)
        summary = lf_summary(votes.select_rows(np.flatnonzero(dev)), gold[dev],
                             learned_acc=getattr(model, "accuracies_", None))  # fmt: skip
        names = pl.element().replace_strict(list(range(len(self.classes))), self.classes, return_dtype=pl.String)
        summary = summary.with_columns(pl.col("polarity").list.eval(names))  # the classes an LF votes, by name
        trains = self.settings.trainer.name != "none" or self.end_model is not None
        probs = predict_in_batches(model, votes, batches.PREDICT_ROWS) if trains else None
        read = {}  # the end models on any columns never read an LF's columns
        if trains and not self.trains_text_classifier and isinstance(prepared, InMemoryPrepared):
            read = columns_read(lfs, prepared.examples.drop("split"))
        return Labeled(model, rows, n_votes, probs, metrics, summary, read)

    @property
    def trains_text_classifier(self) -> bool:
        """Whether the end model is ``tfidf_logreg`` (on the text column alone)."""
        return self.settings.trainer.name == "tfidf_logreg" and self.end_model is None

    def training_set(self, store: VoteStore, run_id: int) -> pl.DataFrame:
        """The train split's examples (those with votes unless ``export.keep_uncovered``) with their
        soft labels, in store order."""
        rows = store.runs.training_rows(run_id, self.settings.data.train_split, self.settings.export.keep_uncovered)
        return self._soft_labels(rows, None)

    def training_batches(self, store: VoteStore, run_id: int, batch_rows: int) -> Iterator[pl.DataFrame]:
        """:meth:`training_set`, ``batch_rows`` rows at a time: every batch's inputs decode to the
        types inferred from the first batch's, as the whole set's are inferred from its first rows."""
        export = self.settings.export
        dtype = None
        for rows in store.runs.training_batches(run_id, self.settings.data.train_split, export.keep_uncovered, batch_rows):
            if rows.height:
                if dtype is None:
                    dtype = rows["data"].str.json_decode().dtype
                yield self._soft_labels(rows, dtype)
        if dtype is None:  # no rows: the empty set, as training_set gives it
            yield self.training_set(store, run_id)

    def _soft_labels(self, rows: pl.DataFrame, dtype: pl.DataType | None) -> pl.DataFrame:
        return CATEGORICAL.training_frame(training_inputs(rows, dtype), rows, self.classes)

    def train_end_model(self, prepared: InMemoryPrepared, labeled: Labeled, train: np.ndarray, run_dir: Path) -> Trained:
        """Fit the end model on the covered train examples' soft labels (:mod:`.classifier`); its
        scores on every split with gold and the holdout."""
        trainer, seed = self.settings.trainer, self.settings.label_model.seed
        if not self.trains_text_classifier:
            from weaksup.end_models.estimators import build_estimator

            estimator = self.end_model if self.end_model is not None else build_estimator(trainer.name, trainer.params, seed)
            files = (CATEGORICAL.end_model_file, *CATEGORICAL.other_model_files)
            return train_classifier(estimator, trainer, seed, prepared, labeled, train, run_dir, self.classes,
                                    lambda plain: files[0] if plain else files[1])  # fmt: skip
        from weaksup.end_models import SoftTextClassifier

        text_col = trainer.text_column  # in the data: checked by prepare
        end_model = SoftTextClassifier(seed=seed, **trainer.params)
        covered = np.flatnonzero(train & (labeled.n_votes > 0))
        texts = prepared.examples[text_col].cast(pl.String).fill_null("").to_numpy()
        end_model.fit(texts[covered], labeled.predictions[covered])
        end_model.save(run_dir / CATEGORICAL.end_model_file, {"classes": self.classes, "text_column": text_col})
        holdout = prepared.holdout
        held = (end_model.predict_proba(holdout["text"].to_numpy()), holdout["gold"].to_numpy()) if holdout is not None else None
        metrics, details, lines = score_splits(lambda rows: end_model.predict_proba(texts[rows]), prepared, self.classes, held)
        return Trained(metrics, {"end_model": {"name": trainer.name, "file": CATEGORICAL.end_model_file,
                                               "scores": details}}, lines)  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """The label model and the class names."""
        lm = self.settings.label_model
        return {"label_model": {"name": lm.name, "seed": lm.seed, "params": lm.params}, "classes": self.classes}


def class_ids(frame: pl.DataFrame, column: str, classes: Sequence[str]) -> np.ndarray:
    """Gold class ids from ``column``, -1 where unknown: class ids, or (in a text column) class
    names from ``classes`` or ids written as text."""
    k = len(classes)
    values = frame[column]
    if values.dtype in (pl.String, pl.Categorical) or isinstance(values.dtype, pl.Enum):
        text = values.cast(pl.String).str.strip_chars()
        by_name = text.replace_strict(list(classes), list(range(k)), default=None, return_dtype=pl.Int64)
        ids = by_name.fill_null(text.cast(pl.Int64, strict=False))
        unknown = (text.is_not_null() & (text != "") & ids.is_null()).to_numpy()
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise ValueError(
                f"gold column {column!r} holds {values[row]!r} for example {frame[ID][row]!r}, which is neither one of "
                f"labels.classes {list(classes)} nor a class id 0..{k - 1}; fix the value, or name the class in "
                "labels.classes"
            )
        gold = ids.fill_null(-1).to_numpy()
    else:
        gold = values.cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
    bad = (gold < -1) | (gold >= k)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"gold column {column!r} holds {gold[row]} for example {frame[ID][row]!r}, outside 0..{k - 1}"
        )
    return gold


def accuracy(pred: np.ndarray, gold: np.ndarray) -> float | None:
    """Accuracy where gold is known (≥ 0); None when it is known nowhere (the type's metric)."""
    return CATEGORICAL.metrics(pred, gold)["accuracy"]


def predict_in_batches(model: Any, votes: SparseVotes, batch_rows: int) -> np.ndarray:
    """``model.predict_proba(votes)``, ``batch_rows`` rows at a time into one (n, k) array
    (equal to one call on all rows, bit for bit: see :func:`proba_batches`)."""
    out: np.ndarray | None = None
    for start, stop, probs in proba_batches(model, votes, batch_rows):
        if out is None:
            out = np.empty((votes.n, probs.shape[1]), dtype=probs.dtype)
        out[start:stop] = probs
    assert out is not None
    return out


def proba_batches(model: Any, votes: SparseVotes, batch_rows: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``model.predict_proba`` of rows ``start:stop``, ``batch_rows`` rows at a time, as
    ``(start, stop, probs)``.

    The label models are row-independent at inference, so the batches equal one call on all
    rows (bit for bit); only the temporaries of each call shrink.  ``votes`` must be sorted by
    row, as the store reads them (unsorted votes are predicted in one call)."""
    for start, part in votes.row_batches(batch_rows):
        yield start, start + part.n, model.predict_proba(part)


@dataclass
class LabelRows:
    """A categorical run's label rows (``ex_key``, ``probs``, ``label``, ``confidence``,
    ``n_votes``), :data:`weaksup.batches.PREDICT_ROWS` at a time: what :meth:`VoteStore.write_labels`
    takes.  Each pass predicts again (cheap beside the fit) instead of holding every row's
    probabilities; the labels break ties as :meth:`LabelModelBase.predict` does, so every pass
    gives the same rows."""

    model: Any
    votes: SparseVotes
    ex_keys: np.ndarray
    n_votes: np.ndarray
    batch_rows: int = batches.PREDICT_ROWS

    def __iter__(self) -> Iterator[pl.DataFrame]:
        ties = np.random.default_rng(self.model.seed)  # one stream over the batches: predict's tie breaks
        for start, stop, probs in proba_batches(self.model, self.votes, self.batch_rows):
            predicted = (probs, labels_from_proba(probs, ties))
            yield CATEGORICAL.label_rows(self.ex_keys[start:stop], predicted, self.n_votes[start:stop])


def split_scores(rows: Iterable[pl.DataFrame], prepared: Prepared) -> dict[str, float | None]:
    """Per split with gold, from label rows aligned with ``prepared`` (one frame after another):
    ``label_model_coverage_<split>``, ``label_model_accuracy_<split>`` (on all its rows: those no
    LF voted on get the prior's label) and ``label_model_accuracy_covered_<split>``.  Counted
    frame by frame, so no array of every example's label is built (and not at all without gold)."""
    if not prepared.has_gold.any():
        return {}
    parts, start = [], 0
    for frame in rows:
        gold = prepared.gold[start : start + frame.height]
        known, covered = gold >= 0, frame["n_votes"].to_numpy() > 0
        right = known & (frame["label"].to_numpy() == gold)
        parts.append(
            pl.DataFrame({"split": prepared.splits.slice(start, frame.height).cast(pl.String),
                          "covered": covered, "known": known, "right": right,
                          "known_covered": known & covered, "right_covered": right & covered})  # fmt: skip
            .group_by("split")
            .agg(pl.len().alias("rows"), pl.exclude("split").sum())
        )
        start += frame.height
    metrics: dict[str, float | None] = {}
    totals = pl.concat(parts).group_by("split").agg(pl.all().sum()).sort("split")
    for t in totals.iter_rows(named=True):
        if t["known"]:  # rows no LF voted on get the prior's label: report them apart
            s = t["split"]
            metrics[f"label_model_coverage_{s}"] = t["covered"] / t["rows"]
            metrics[f"label_model_accuracy_covered_{s}"] = t["right_covered"] / t["known_covered"] if t["known_covered"] else None
            metrics[f"label_model_accuracy_{s}"] = t["right"] / t["known"]
    return metrics
