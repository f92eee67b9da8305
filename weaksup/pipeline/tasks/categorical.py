"""Categorical labels: a class per example, from sparse class votes.

The label model (``label_model.name``, any model :func:`weaksup.model.make_label_model`
builds) is fitted on the train split's votes, renumbered, and labels every live example with
class probabilities.  The end model (:mod:`.classifier`: ``tfidf_logreg`` on ``trainer.text_column``,
or a classifier on any columns) trains on the covered train examples' soft labels; it is scored on
every split with gold and the holdout.

**Exports** (``training_set.<format>``): ``example_id``, ``split``, the input columns,
``prob_<class>`` per class, ``label``, ``label_name``, ``confidence``, ``n_votes`` and
``label_source`` (:func:`weaksup.pipeline.tasks.base.training_table`).

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
from weaksup.evaluation import class_scores
from weaksup.label_types.categorical import CATEGORICAL
from weaksup.model import AutoLabelModel, labels_from_proba, make_label_model
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks.base import (
    Labeled,
    InMemoryPrepared,
    Prepared,
    Trained,
    check_class_names,
    check_output_columns,
    gold_column,
    select_lfs,
    training_table,
    with_split,
)
from weaksup.pipeline.tasks.classifier import check_end_model, check_trainer, score_splits, train_classifier
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
        problem = check_class_names(classes, "class") or check_trainer(settings, CategoricalTask.end_models)
        if problem:
            return problem
        lm = settings.label_model
        try:
            make_label_model(lm.name, cardinality=len(classes), seed=lm.seed, **lm.params)
        except (TypeError, ValueError) as exc:
            return f"[label_model] is not usable: {exc}"
        if isinstance(lm.class_prior, list) and len(lm.class_prior) != len(classes):
            return (f"label_model.class_prior gives {len(lm.class_prior)} proportions for the {len(classes)} classes "
                    f"{classes}; give one per class, in labels.classes' order")  # fmt: skip
        data = settings.data
        if data.dev_split in (data.train_split, data.test_split):
            return (f"data.dev_split = {data.dev_split!r} is also the {'train' if data.dev_split == data.train_split else 'test'} "
                    "split; its gold would choose the label model on the rows it fits or is scored on: name another split")
        return None

    def __init__(self, settings: Settings, end_model: Any = None) -> None:
        self.settings = settings
        self.classes = list(settings.labels.classes)
        check_end_model(end_model)
        self.end_model = end_model

    def prepare(self, frame: pl.DataFrame, holdout: pl.DataFrame | None = None) -> InMemoryPrepared:
        """Split the gold class ids (``data.gold_column``, -1 where unknown) off the examples; a
        ``label_model.class_prior = 'gold'`` without gold on the dev split is refused here, before
        any LF runs."""
        frame = with_split(frame, self.settings)
        column = gold_column(frame, self.settings)
        gold = class_ids(frame, column, self.classes) if column else np.full(frame.height, -1)
        dev = self.settings.data.dev_split
        if self.settings.label_model.class_prior == "gold" and not (gold[(frame["split"] == dev).to_numpy()] >= 0).any():
            raise ValueError(
                f"label_model.class_prior = 'gold' takes the class proportions of the gold labels of data.dev_split = "
                f"{dev!r}, but no example of that split has one; give that split gold labels (data.gold_column), set "
                "data.dev_split, or set label_model.class_prior to 'learned', 'uniform' or proportions"
            )
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
        dev = prepared.in_split(self.settings.data.dev_split) & (prepared.gold >= 0)
        dev_gold = prepared.gold[dev]
        prior = class_prior(lm.class_prior, dev_gold, len(self.classes))
        if isinstance(model, AutoLabelModel) and dev.any():  # dev gold chooses the structure (least log-loss)
            model.fit(votes.select_rows(np.flatnonzero(train)), prior, dev_votes=votes.select_rows(np.flatnonzero(dev)),
                      dev_gold=dev_gold)  # fmt: skip
        else:
            model.fit(votes.select_rows(np.flatnonzero(train)), prior)
        self.fitted = fitted_description(model, lm.class_prior, len(dev_gold))
        notes = label_model_notes(model, lm, self.classes, dev_gold, self.settings.data.dev_split)
        n_votes = np.bincount(votes.rows, minlength=votes.n).astype(np.min_scalar_type(votes.m))
        rows = LabelRows(model, votes, ex_keys, n_votes)
        metrics = split_scores(rows, prepared, self.classes)
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
        return Labeled(model, rows, n_votes, probs, metrics, summary, read, notes=notes)

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
        return training_table(CATEGORICAL, rows, self.classes, dtype)

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
        """The label model (with, once fitted, the structure it chose, why, and its class prior) and the class names."""
        lm = self.settings.label_model
        return {"label_model": {"name": lm.name, "seed": lm.seed, "params": lm.params, **getattr(self, "fitted", {})},
                "classes": self.classes}  # fmt: skip


PRIOR_GAP = 0.1
"""A learned class prior further than this (total variation distance) from the dev gold's
proportions is warned about: rows no LF votes on take it."""


def class_prior(setting: str | list[float], dev_gold: np.ndarray, k: int) -> np.ndarray | str | None:
    """``label_model.class_prior`` as ``fit``'s ``class_balance``: None to learn it, ``"uniform"``, or
    proportions (given, or those of the dev split's gold labels for ``"gold"``, add-one smoothed so
    no class is impossible)."""
    if setting == "learned":
        return None
    if setting == "uniform":
        return "uniform"
    if setting == "gold":
        return (np.bincount(dev_gold, minlength=k) + 1.0) / (len(dev_gold) + k)
    return np.asarray(setting, dtype=float)


def fitted_description(model: Any, setting: str | list[float], n_dev_gold: int) -> dict[str, Any]:
    """What the manifest says of the fitted label model: its class prior and, for the default, the
    structure it chose and why."""
    out: dict[str, Any] = {"class_prior": {"setting": setting, "dev_gold_labels": n_dev_gold}}
    if getattr(model, "class_balance_", None) is not None:
        out["class_prior"]["proportions"] = [float(p) for p in model.class_balance_]
    if isinstance(model, AutoLabelModel):
        out.update({"chosen": model.chosen_, "reason": model.selection_["reason"], "selection": model.selection_})
    return out


def label_model_notes(model: Any, lm: Any, classes: Sequence[str], dev_gold: np.ndarray, dev_split: str) -> list[str]:
    """The run's console lines about the label model: its choice and why, its class prior, and a
    warning when a learned prior is far from the dev split's gold proportions."""
    notes = []
    if isinstance(model, AutoLabelModel):
        notes.append(f"the label model {lm.name} chose {model.chosen_}: {model.selection_['reason']}")
    prior = getattr(model, "class_balance_", None)
    if prior is None:
        return notes
    shown = ", ".join(f"{c} {p:.3f}" for c, p in zip(classes, prior))
    notes.append(f"class prior ({lm.class_prior if isinstance(lm.class_prior, str) else 'given'}; labels the rows no LF "
                 f"votes on): {shown}")  # fmt: skip
    if lm.class_prior == "learned" and len(dev_gold):
        gold = np.bincount(dev_gold, minlength=len(classes)) / len(dev_gold)
        gap = 0.5 * float(np.abs(np.asarray(prior) - gold).sum())
        if gap > PRIOR_GAP:
            notes.append(
                f"warning: the learned class prior ({shown}) is far from the proportions of the {len(dev_gold):,} gold "
                f"labels of dev split {dev_split!r} (" + ", ".join(f"{c} {p:.3f}" for c, p in zip(classes, gold))
                + f"; total variation {gap:.2f} > {PRIOR_GAP}); rows no LF votes on take it: set label_model.class_prior "
                "= 'gold', or the proportions you know"
            )
    return notes


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


def split_scores(rows: Iterable[pl.DataFrame], prepared: Prepared, classes: Sequence[str] | None = None) -> dict[str, Any]:
    """Per split with gold, from label rows aligned with ``prepared`` (one frame after another):
    ``label_model_coverage_<split>``, ``label_model_accuracy_<split>`` (on all its rows: those no
    LF voted on get the prior's label), ``label_model_accuracy_covered_<split>`` and, where the
    split has uncovered rows with gold, ``label_model_accuracy_uncovered_<split>``; with
    ``classes``, also ``label_model_macro_f1_<split>`` and ``label_model_per_class_<split>``
    (each class's precision, recall, F1 and support: :func:`weaksup.evaluation.class_scores`).
    Counted frame by frame as (split, covered, gold, label) counts, so no array of every
    example's label is built (and nothing at all without gold)."""
    if not prepared.has_gold.any():
        return {}
    parts, start = [], 0
    for frame in rows:
        gold = prepared.gold[start : start + frame.height]
        parts.append(
            pl.DataFrame({"split": prepared.splits.slice(start, frame.height).cast(pl.String),
                          "covered": frame["n_votes"].to_numpy() > 0, "gold": gold.astype(np.int64),
                          "label": frame["label"].to_numpy().astype(np.int64)})  # fmt: skip
            .group_by("split", "covered", "gold", "label")
            .len()
        )
        start += frame.height
    counts = pl.concat(parts).group_by("split", "covered", "gold", "label").agg(pl.col("len").sum())
    metrics: dict[str, Any] = {}
    for (split,), part in sorted(counts.group_by("split"), key=lambda kv: str(kv[0][0])):
        known = part.filter(pl.col("gold") >= 0)
        if not known.height:
            continue
        right = known.filter(pl.col("gold") == pl.col("label"))
        covered, right_covered = known.filter("covered"), right.filter("covered")
        uncovered = known.filter(~pl.col("covered"))
        n_rows = int(part["len"].sum())
        metrics[f"label_model_coverage_{split}"] = int(part.filter("covered")["len"].sum()) / n_rows
        metrics[f"label_model_accuracy_covered_{split}"] = (
            int(right_covered["len"].sum()) / int(covered["len"].sum()) if covered.height else None)  # fmt: skip
        metrics[f"label_model_accuracy_{split}"] = int(right["len"].sum()) / int(known["len"].sum())
        if uncovered.height:  # rows no LF voted on get the prior's label: scored apart
            right_uncovered = int(uncovered.filter(pl.col("gold") == pl.col("label"))["len"].sum())
            metrics[f"label_model_accuracy_uncovered_{split}"] = right_uncovered / int(uncovered["len"].sum())
        if classes is not None:
            scores = class_scores(known["label"].to_numpy(), known["gold"].to_numpy(), classes,
                                  weights=known["len"].to_numpy())  # fmt: skip
            metrics[f"label_model_macro_f1_{split}"] = scores["macro_f1"]
            metrics[f"label_model_per_class_{split}"] = scores["per_class"]
    return metrics
