"""The label-type axis of a run: what every :class:`Task` does, and the parts they share.

A run's steps are the same for every label type (see :mod:`weaksup.pipeline.runner` and
:mod:`weaksup.pipeline.finish`); what differs is asked of the run's task:

1. :meth:`Task.prepare`: shape the loaded rows into examples and split the gold off, so
   LFs never see it and the store never keeps it;
2. :meth:`Task.select_lfs`: the LFs of this label type;
3. :meth:`Task.label`: fit the label model on the train split's votes and label every
   example (the rows the store's ``labels`` table keeps), with per-split scores on gold and
   a per-LF summary;
4. :meth:`Task.training_set`: a run's training set, rebuilt from the store alone (or
   :meth:`Task.training_batches`: the same rows, batch by batch, for a streamed run);
5. :meth:`Task.train_end_model`: the end model, saved into the run folder, scored on gold.

A task is built from the run's :class:`~weaksup.pipeline.settings.Settings`; the tasks are
sibling modules of one shape, registered by label type in :data:`weaksup.pipeline.tasks.TASKS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup.data import ID
from weaksup.examples import InMemoryExamples
from weaksup.label_types.base import LabelType
from weaksup.pipeline.settings import Settings
from weaksup.store import VoteStore


class Prepared:
    """A run's examples as the label step sees them: each one's split and gold, in the order of the
    store keys the run synced them under.  Two kinds: :class:`InMemoryPrepared` holds the examples
    (and what LFs read) in memory; :class:`StreamedPrepared` leaves them in the store.

    ``gold``: the task's gold labels, aligned with the rows (a task-specific form); ``has_gold``
    marks the rows that have one; ``holdout``: an external evaluation set (categorical runs).
    """

    splits: pl.Series
    """Each example's split name."""
    gold: Any
    has_gold: np.ndarray
    holdout: pl.DataFrame | None

    @property
    def n(self) -> int:
        """How many examples."""
        return len(self.splits)

    @property
    def split(self) -> np.ndarray:
        """Each example's split: an object array referencing one ``str`` per split name (numpy
        would make one per example: 600 MB at 10M examples, on every call)."""
        column = self.splits
        if column.null_count():
            return column.to_numpy()
        names = column.unique().cast(pl.String)
        codes = column.cast(pl.Enum(names)).to_physical().to_numpy()
        return names.to_numpy()[codes]

    def gold_digest(self, ex_keys: np.ndarray) -> str:
        """A hash of the gold of the examples ``ex_keys`` (aligned with the rows) and of the holdout:
        part of what a run saw, so a run whose gold changed is not the run before it redone."""
        digest = hashlib.blake2b(np.asarray(ex_keys, dtype=np.int64).tobytes(), digest_size=8)
        gold = self.gold
        if isinstance(gold, np.ndarray) and gold.dtype != object:
            digest.update(gold.dtype.str.encode() + np.ascontiguousarray(gold).tobytes())
        else:  # rankings: per example, a mapping item -> score
            digest.update(json.dumps(list(gold), sort_keys=True, default=str).encode())
        if self.holdout is not None:
            digest.update(json.dumps(self.holdout.columns).encode() + self.holdout.hash_rows(seed=0).to_numpy().tobytes())
        return digest.hexdigest()

    def in_split(self, name: str) -> np.ndarray:
        """Which examples are in split ``name`` (``split == name``, without an array of every example's split)."""
        return (self.splits == name).fill_null(False).to_numpy()


@dataclass(frozen=True)
class InMemoryPrepared(Prepared):
    """The examples in memory: ``examples`` holds ``example_id``, ``split`` (a string) and the input
    columns, in row order (as :meth:`Task.prepare` shaped them)."""

    examples: pl.DataFrame
    gold: Any
    has_gold: np.ndarray
    holdout: pl.DataFrame | None = None

    @property  # type: ignore[override]
    def splits(self) -> pl.Series:
        return self.examples["split"]

    @property
    def inputs(self) -> list[str]:
        """The columns LFs may read: everything but the id and the split."""
        return [c for c in self.examples.columns if c not in (ID, "split")]

    def source(self, ex_keys: np.ndarray) -> InMemoryExamples:
        """What LFs read, as an example source keyed by ``ex_keys`` (the store keys of the rows)."""
        return InMemoryExamples(self.examples.select(ID, *self.inputs), ex_keys)


@dataclass(frozen=True)
class StreamedPrepared(Prepared):
    """A streamed run's examples (:mod:`weaksup.pipeline.streamed`): they stay in the store, and only
    their split (``splits``, one per live example in key order) and gold are held."""

    splits: pl.Series
    gold: Any
    has_gold: np.ndarray
    holdout: pl.DataFrame | None = None


@dataclass
class Labeled:
    """What :meth:`Task.label` produced.

    ``labels`` holds the store's label rows (``ex_key``, the type's label columns, ``n_votes``),
    as one frame or as frames one after another (:meth:`VoteStore.write_labels` takes either);
    ``predictions`` what the task's end model learns from (its own form; None without one); ``metrics`` the label
    model's scores per split (``label_model_<metric>_<split>``) and like figures; ``columns_read``
    each LF's input columns, where the task traces them (its end model must not read them).
    """

    model: Any
    labels: pl.DataFrame | Iterable[pl.DataFrame]
    n_votes: np.ndarray
    predictions: Any
    metrics: dict[str, Any]
    summary: pl.DataFrame
    columns_read: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Lines for the run's console: what the label model chose and why, warnings about its prior."""


@dataclass(frozen=True)
class Trained:
    """What :meth:`Task.train_end_model` produced: its scores on gold, its manifest entries, and
    lines for the run's output (beyond the one line of scores per split)."""

    metrics: dict[str, Any]
    manifest: dict[str, Any]
    lines: list[str] = field(default_factory=list)


class Task(Protocol):
    """One label type's steps of a run (see the module docstring)."""

    label_type: ClassVar[str]
    end_models: ClassVar[tuple[str, ...]]
    """``trainer.name`` values this type accepts, its default first; ``none`` trains none."""
    end_model: Any
    """An estimator given from Python, trained whatever ``trainer.name`` says; None: ``trainer.name``'s."""

    def __init__(self, settings: Settings, end_model: Any = None) -> None:
        """``end_model``: an estimator given from Python (``run_pipeline(end_model=...)``), where the
        type takes one; a type that does not refuses it."""
        ...

    @staticmethod
    def check(settings: Settings) -> str | None:
        """The type's own checks of a pipeline's keys, after the shared ones: a problem, or ``None``."""
        ...

    def prepare(self, frame: pl.DataFrame, holdout: pl.DataFrame | None = None) -> InMemoryPrepared:
        """Shape the loaded rows (with ``example_id``) into examples and split the gold off."""
        ...

    def select_lfs(self, lfs: Sequence[LabelingFunctionLike]) -> list[LabelingFunctionLike]:
        """The LFs of this label type."""
        ...

    def label(
        self, store: VoteStore, ex_keys: np.ndarray, lfs: Sequence[LabelingFunctionLike], prepared: Prepared, train: np.ndarray
    ) -> Labeled:
        """Fit the label model on the ``train`` rows' votes of ``lfs`` (their current versions), label every row."""
        ...

    def training_set(self, store: VoteStore, run_id: int) -> pl.DataFrame:
        """Run ``run_id``'s training set, rebuilt from the store."""
        ...

    def training_batches(self, store: VoteStore, run_id: int, batch_rows: int) -> Iterator[pl.DataFrame]:
        """:meth:`training_set` in consecutive row batches (at least one, maybe empty), for writing it
        batch by batch."""
        ...

    def train_end_model(self, prepared: InMemoryPrepared, labeled: Labeled, train: np.ndarray, run_dir: Path) -> Trained:
        """Train the end model on the covered train rows, save it in ``run_dir``; its scores on gold."""
        ...

    def describe(self) -> dict[str, Any]:
        """The task's entries of the run's manifest (label model, classes or end-model inputs)."""
        ...


def check_class_names(classes: Sequence[str], noun: str) -> str | None:
    """At least two ``noun`` names (class, label), each non-empty, printable and given once: an empty
    name, a newline or an escape code would garble CSV headers, tables and logs."""
    if len(classes) < 2:
        return f"labels.classes needs at least 2 {noun} names"
    bad = [c for c in classes if not c.strip() or not c.isprintable()]
    if bad:
        return (f"labels.classes has the {noun} name {bad[0]!r}; give each {noun} a non-empty name of printable "
                "characters (no newline, tab or control character)")
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        return f"labels.classes names {twice} more than once; give each {noun} once, in {noun}-id order"
    return None


def refuse_end_model(end_model: Any, label_type: str) -> None:
    """Refuse an estimator given from Python to a task whose end model takes none."""
    if end_model is not None:
        raise ValueError(f"run_pipeline(end_model=...) trains a categorical end model; a {label_type} pipeline's end "
                         "model is set by trainer.name and trainer.params")


def select_lfs(lfs: Sequence[LabelingFunctionLike], label_type: str) -> list[LabelingFunctionLike]:
    """The LFs of ``label_type`` (an LF module may hold LFs of several types)."""
    chosen = [lf for lf in lfs if lf.label_type == label_type]
    if not chosen:
        found = sorted({lf.label_type for lf in lfs})
        raise ValueError(
            f"labels.type is {label_type!r} but the LF modules define no {label_type} LFs (only {found}); "
            f"declare them with @labeling_function(label_type={label_type!r})"
        )
    return chosen


def with_split(frame: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """``frame`` with its split as a string column ``split`` (``data.split_column``; when the data
    has none, every example is in ``data.train_split``)."""
    column = settings.data.split_column
    if column in frame.columns:
        return frame.rename({column: "split"} if column != "split" else {}).with_columns(pl.col("split").cast(pl.String))
    return frame.with_columns(pl.lit(settings.data.train_split, dtype=pl.String).alias("split"))


DEFAULT_GOLD = "label"
"""The gold column when ``data.gold_column`` is unset and the data has it (WRENCH's layout)."""


def gold_column(frame: pl.DataFrame, settings: Settings) -> str | None:
    """The column holding the gold labels: ``data.gold_column``, which must be in the data, or
    ``label`` when unset and present; None when there is none."""
    column = settings.data.gold_column
    if column is None:
        return DEFAULT_GOLD if DEFAULT_GOLD in frame.columns else None
    if column not in frame.columns:
        raise ValueError(
            f"data.gold_column {column!r} is not in the data (columns: {frame.columns}); name the column that holds "
            "the gold labels, or leave data.gold_column out when there is none"
        )
    return column


def check_output_columns(examples: pl.DataFrame, outputs: Sequence[str]) -> None:
    """Refuse input columns that the training set's own columns (``outputs`` and :data:`LABEL_SOURCE`)
    would overwrite, naming them and the fix."""
    clash = [c for c in (*outputs, LABEL_SOURCE) if c in examples.columns]
    if clash:
        renames = ", ".join(f'{c} = "input_{c}"' for c in clash)
        raise ValueError(
            f"the data has columns {clash}, which weaksup's training set writes its labels under; rename them on "
            f"load, e.g. [data] rename = {{ {renames} }}"
        )


def scores_by_split(
    split: np.ndarray, has_gold: np.ndarray, score: Callable[[np.ndarray], dict[str, float]], prefix: str
) -> dict[str, float]:
    """``score(rows)`` → {name: value} on each split's rows with gold, keyed ``<prefix><name>_<split>``."""
    out: dict[str, float] = {}
    for s in sorted(set(split.tolist())):
        rows = np.flatnonzero((split == s) & has_gold)
        if len(rows):
            out.update({f"{prefix}{name}_{s}": value for name, value in score(rows).items()})
    return out


LABEL_SOURCE = "label_source"
"""The training set's column that says where a row's label comes from: ``votes`` (some LF voted) or
``prior`` (none did: an ``export.keep_uncovered`` row, labeled with the label model's prior alone)."""


def training_table(label_type: LabelType, rows: pl.DataFrame, classes: Sequence[str],
                   dtype: pl.Struct | None = None) -> pl.DataFrame:  # fmt: skip
    """The training set of training rows read from the store: ``example_id``, ``split``, the input
    columns, ``label_type``'s label columns and ``n_votes``, then :data:`LABEL_SOURCE`, so a row
    labeled by the prior alone is never taken for a voted one."""
    frame = label_type.training_frame(training_inputs(rows, dtype), rows, classes)
    source = pl.when(pl.col("n_votes") > 0).then(pl.lit("votes")).otherwise(pl.lit("prior"))
    return frame.with_columns(source.alias(LABEL_SOURCE))


def training_inputs(rows: pl.DataFrame, dtype: pl.Struct | None = None) -> pl.DataFrame:
    """``example_id``, ``split`` and the input columns (in the examples' order) of training rows read
    from the store; ``dtype``: the inputs' struct type (a batch after the first decodes to the
    first's), else inferred."""
    inputs = pl.DataFrame({ID: rows[ID], "split": rows["split"], "data": rows["data"].str.json_decode(dtype)})
    inputs = inputs.unnest("data")
    if rows.height:  # JSON decoding loses the column order: restore the examples'
        inputs = inputs.select(ID, "split", *json.loads(rows["data"][0]))
    return inputs
