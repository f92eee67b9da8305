"""Multi-label runs: any number of ``labels.classes`` per example, from votes of label sets.

**Gold** (``data.gold_column``): per example a list of class names (or ids), or text naming them
separated by ``;``, ``|`` or ``,`` (``joy;anger``); an empty list or text means "none of the
labels"; null means unknown.

**Labels.**  The label model (``label_model.name``: ``label_model``/``auto`` is
:class:`~weaksup.model.MultiLabelModel`; ``majority_vote`` and ``snorkel`` the per-label
baselines) is fitted on the train split's votes and gives every example each label's
probability and a predicted set.  Scores per split with gold: micro- and macro-F1, subset
accuracy, per-label precision, recall and F1, on all rows and (``micro_f1_covered``) on the rows
some LF voted on.

**End model** (``ovr_logreg``): :class:`~weaksup.end_models.MultiLabelTextClassifier` on the
covered train rows' label probabilities, read from ``trainer.text_column``; each label's
threshold is chosen on dev gold (the rows with gold in a split that is neither
``data.train_split`` nor ``data.test_split``) when there is some, else 0.5.  It is scored on the
test split.

**Exports**: ``example_id``, ``split``, the input columns, ``prob_<class>`` per class, ``labels``
(the predicted class names), ``n_votes`` and ``label_source``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup.data import ID
from weaksup.label_types.multilabel import MULTILABEL, SEPARATORS
from weaksup.model.multilabel_baselines import make_multilabel_model
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks.base import (
    InMemoryPrepared,
    Labeled,
    Trained,
    check_class_names,
    check_output_columns,
    gold_column,
    refuse_end_model,
    scores_by_split,
    select_lfs,
    training_table,
    with_split,
)
from weaksup.store import VoteStore


class MultiLabelTask:
    """Multi-label runs (see the module docstring)."""

    label_type: ClassVar[str] = MULTILABEL.name
    end_models: ClassVar[tuple[str, ...]] = MULTILABEL.end_models

    @staticmethod
    def check(settings: Settings) -> str | None:
        """At least two distinct printable class names, a usable label model, no ranking or regression keys."""
        classes = settings.labels.classes
        problem = check_class_names(classes, "label")
        if problem:
            return problem
        used = [key for key in ("features", "exclude_columns") if getattr(settings.trainer, key)]
        if used:
            return f"trainer.{used[0]} is not for multi-label pipelines: their end model reads trainer.text_column alone"
        lm = settings.label_model
        try:
            make_multilabel_model(lm.name, len(classes), lm.seed, **lm.params)
        except (TypeError, ValueError) as exc:
            return f"[label_model] is not usable for multi-label labels: {exc}"
        return None

    def __init__(self, settings: Settings, end_model: Any = None) -> None:
        refuse_end_model(end_model, self.label_type)
        self.end_model = None
        self.settings = settings
        self.classes = list(settings.labels.classes)

    def prepare(self, frame: pl.DataFrame, holdout: pl.DataFrame | None = None) -> InMemoryPrepared:
        """Split the gold label sets off the examples, as an (n, k) 0/1 matrix (-1 rows: unknown)."""
        frame = with_split(frame, self.settings)
        column = gold_column(frame, self.settings)
        k = len(self.classes)
        gold = gold_sets(frame, column, self.classes) if column else np.full((frame.height, k), -1, dtype=np.int8)
        examples = frame.drop(column) if column else frame
        text_col = self.settings.trainer.text_column
        if self.settings.trainer.name != "none" and text_col not in examples.columns:
            raise ValueError(f"trainer.text_column {text_col!r} is not in the data; columns are {examples.columns}")
        check_output_columns(examples, ["labels", "n_votes", *(f"prob_{c}" for c in self.classes)])
        return InMemoryPrepared(examples, gold, MULTILABEL.gold_mask(gold), holdout)

    def select_lfs(self, lfs: Sequence[LabelingFunctionLike]) -> list[LabelingFunctionLike]:
        """The multi-label LFs."""
        return select_lfs(lfs, self.label_type)

    def label(
        self, store: VoteStore, ex_keys: np.ndarray, lfs: Sequence[LabelingFunctionLike], prepared: InMemoryPrepared,
        train: np.ndarray,
    ) -> Labeled:  # fmt: skip
        """Each label's probability and the predicted set for every example; the scores per split;
        each LF's coverage and, on non-test gold, the precision of its "present" votes."""
        lm, k = self.settings.label_model, len(self.classes)
        votes = store.votes.read(self.label_type, ex_keys, [(lf.name, lf.version) for lf in lfs], k=k,
                                 example_ids=prepared.examples[ID].to_list())  # fmt: skip
        model = make_multilabel_model(lm.name, k, lm.seed, **lm.params)
        model.fit(votes.select_rows(np.flatnonzero(train)))
        probs, predicted = model.predict_proba(votes), model.predict(votes)
        n_votes = votes.n_votes()
        labels = MULTILABEL.label_rows(ex_keys, (probs, predicted), n_votes)
        gold, covered = prepared.gold, n_votes > 0

        def score(rows: np.ndarray) -> dict[str, Any]:
            out = MULTILABEL.metrics(predicted[rows], gold[rows], classes=self.classes)
            mine = rows[covered[rows]]
            out["coverage"] = float(covered[rows].mean())
            out["micro_f1_covered"] = MULTILABEL.metrics(predicted[mine], gold[mine])["micro_f1"] if len(mine) else None
            return out

        metrics = scores_by_split(prepared.split, prepared.has_gold, score, "label_model_")
        dev = ~prepared.in_split(self.settings.data.test_split)
        summary = lf_summary(votes, gold, dev, self.classes)
        return Labeled(model, labels, n_votes, probs, metrics, summary)

    def training_set(self, store: VoteStore, run_id: int) -> pl.DataFrame:
        """The train split's examples (those with votes unless ``export.keep_uncovered``) with their label probabilities."""
        rows = store.runs.training_rows(run_id, self.settings.data.train_split, self.settings.export.keep_uncovered)
        return training_table(MULTILABEL, rows, self.classes)

    def training_batches(self, store: VoteStore, run_id: int, batch_rows: int) -> Iterator[pl.DataFrame]:
        """The training set as one batch: multi-label runs load their source whole (streaming is categorical)."""
        yield self.training_set(store, run_id)

    def train_end_model(self, prepared: InMemoryPrepared, labeled: Labeled, train: np.ndarray, run_dir: Path) -> Trained:
        """One-vs-rest logistic regression on the covered train rows' probabilities, thresholds on
        dev gold; its scores on the test split."""
        from weaksup.end_models import MultiLabelTextClassifier

        trainer, data = self.settings.trainer, self.settings.data
        texts = prepared.examples[trainer.text_column].cast(pl.String).fill_null("").to_numpy()
        covered = np.flatnonzero(train & (labeled.n_votes > 0))
        test = prepared.in_split(data.test_split)
        dev = np.flatnonzero(prepared.has_gold & ~train & ~test)
        try:
            model = MultiLabelTextClassifier(seed=self.settings.label_model.seed, **trainer.params)
        except TypeError as exc:
            raise ValueError(f"trainer.params do not fit the ovr_logreg end model (C, min_df): {exc}") from None
        model.fit(texts[covered], labeled.predictions[covered], texts[dev] if len(dev) else None,
                  prepared.gold[dev] if len(dev) else None)  # fmt: skip
        model.save(run_dir / MULTILABEL.end_model_file, {"classes": self.classes, "text_column": trainer.text_column})
        manifest = {"end_model": {"name": trainer.name, "thresholds": dict(zip(self.classes, model.thresholds_.tolist())),
                                  "thresholds_from": "dev gold" if len(dev) else "0.5 (no dev gold)"}}  # fmt: skip
        rows = np.flatnonzero(test & prepared.has_gold)
        if not len(rows):
            return Trained({}, manifest)
        scores = MULTILABEL.metrics(model.predict(texts[rows]), prepared.gold[rows], classes=self.classes)
        return Trained({f"end_model_{n}_{data.test_split}": v for n, v in scores.items()}, manifest)

    def describe(self) -> dict[str, Any]:
        """The label model and the label names."""
        lm = self.settings.label_model
        return {"label_model": {"name": lm.name, "seed": lm.seed, "params": lm.params}, "classes": self.classes}


def gold_sets(frame: pl.DataFrame, column: str, classes: Sequence[str]) -> np.ndarray:
    """The gold of ``column`` as an (n, k) int8 0/1 matrix, rows of -1 where unknown (null): each
    value a list of class names or ids, or text of them separated by ``;``, ``|`` or ``,``."""
    k, values = len(classes), frame[column]
    if isinstance(values.dtype, pl.List):
        parts = values.cast(pl.List(pl.String))
    elif values.dtype == pl.String:
        parts = values.str.replace_all(SEPARATORS, ";").str.split(";")
    else:
        raise ValueError(f"data.gold_column {column!r} holds {values.dtype}; a multi-label gold is a list of label "
                         "names (or ids), or text naming them separated by ';', null where unknown")  # fmt: skip
    parts = parts.list.eval(pl.element().str.strip_chars()).list.eval(pl.element().filter(pl.element() != ""))
    by_name = parts.list.eval(pl.element().replace_strict(list(classes), list(range(k)), default=None, return_dtype=pl.Int64))
    by_id = parts.list.eval(pl.element().cast(pl.Int64, strict=False))
    flat = pl.DataFrame({"row": np.arange(frame.height), "part": parts, "name": by_name, "id": by_id}).explode(
        "part", "name", "id").drop_nulls("part")  # fmt: skip
    flat = flat.with_columns(pl.col("name").fill_null(pl.col("id")).alias("j"))
    bad = flat.filter(pl.col("j").is_null() | (pl.col("j") < 0) | (pl.col("j") >= k))
    if bad.height:
        row = int(bad["row"][0])
        raise ValueError(f"data.gold_column {column!r} holds {bad['part'][0]!r} for example {frame[ID][row]!r}, which "
                         f"is neither a name of labels.classes {list(classes)} nor a label id 0..{k - 1}; fix the "
                         "value, or name the label in labels.classes")  # fmt: skip
    twice = flat.filter(pl.struct("row", "j").is_duplicated())
    if twice.height:
        raise ValueError(f"data.gold_column {column!r} names label {twice['part'][0]!r} twice for example "
                         f"{frame[ID][int(twice['row'][0])]!r}; name each label once")  # fmt: skip
    gold = np.zeros((frame.height, k), dtype=np.int8)
    gold[flat["row"].to_numpy(), flat["j"].to_numpy()] = 1
    gold[values.is_null().to_numpy()] = -1
    return gold


def lf_summary(votes: Any, gold: np.ndarray, dev: np.ndarray, classes: Sequence[str]) -> pl.DataFrame:
    """Per LF on the ``dev`` rows: ``coverage`` (rows it voted on), ``labels`` (the labels it voted
    present), and where gold is known the ``precision`` of its present votes and the ``recall`` of
    the gold labels among the labels it votes."""
    mine = np.flatnonzero(dev)
    part = votes.select_rows(mine)
    g = gold[mine]
    known = MULTILABEL.gold_mask(g)
    yes = part.present
    voted = np.zeros((part.n, part.m), dtype=bool)
    voted[part.rows, part.cols] = True
    hit = known[part.rows] & yes & (g[part.rows, part.labels] > 0) if part.nnz else np.zeros(0, dtype=bool)
    judged = known[part.rows] & yes if part.nnz else np.zeros(0, dtype=bool)
    rows = []
    for a in range(part.m):
        own = part.cols == a
        voted_labels = sorted(set(part.labels[own & yes].tolist()))
        positives = int(sum((g[known][:, j] > 0).sum() for j in voted_labels)) if known.any() else 0
        found = int((hit & own).sum())
        rows.append({
            "lf": (part.lf_names or tuple(f"lf_{i}" for i in range(part.m)))[a],
            "coverage": float(voted[:, a].mean()) if part.n else 0.0,
            "labels": [classes[j] for j in voted_labels],
            "precision": found / int((judged & own).sum()) if (judged & own).any() else None,
            "recall": found / positives if positives else None,
        })  # fmt: skip
    return pl.DataFrame(rows, schema={"lf": pl.String, "coverage": pl.Float64, "labels": pl.List(pl.String),
                                      "precision": pl.Float64, "recall": pl.Float64})  # fmt: skip
