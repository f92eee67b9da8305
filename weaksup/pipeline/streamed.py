"""Streamed runs (``[data] stream = true``): the source is read in batches, never whole.

The runner's in-memory path reads the source, prepares it (``Task.prepare``) and syncs it
in one go; a streamed run does the same batch by batch:

1. each batch of :func:`weaksup.data.scan_batches` (ids from ``data.id_column``) is renamed
   (``data.rename``), loses the rows matching the holdout, and is prepared by the run's task
   (the split column, the gold split off, the checks), then synced into the store
   (``VoteStore.examples.sync_batches``); only the gold of rows that have
   one is kept (example id and gold label);
2. the LFs are applied from the store (:class:`weaksup.examples.StoredExamples`), decoded to
   the first batch's input dtypes;
3. the label model's rows are the live examples in key order: their keys and splits are read
   back from the store batch by batch (``VoteStore.examples.live_splits``) and joined
   with the kept gold.

So memory holds a batch, the kept gold, and per live example its key (8 bytes), split (an enum:
a byte) and gold (in its label type's compact form, :meth:`~weaksup.label_types.LabelType.read_gold`:
a byte for up to 128 classes): never the texts; DuckDB is capped at
``data.memory_limit`` and spills past it.  The training set is exported batch by batch too
(:meth:`Task.training_batches`).  Streaming is for label types that allow it
(:attr:`~weaksup.label_types.LabelType.streams`) with no end model (it trains in memory: train it
on the exported training set); the config refuses other combinations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from weaksup import batches
from weaksup.data import ID, scan_batches
from weaksup.examples import StoredExamples
from weaksup.label_types import PIPELINE_TYPES
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.sources import Examples, SourceError
from weaksup.pipeline.tasks import StreamedPrepared, Task
from weaksup.store import SyncResult, VoteStore

@dataclass
class StreamedSource:
    """A pipeline's ``[data]`` source, read and synced batch by batch (see the module docstring)."""

    settings: Settings
    base: Path
    task: Task
    holdout: pl.DataFrame | None
    schema: dict[str, pl.DataType] = field(default_factory=dict)
    """The LF input columns and their dtypes, from the first batch."""
    held_out: int = 0
    gold: list[pl.DataFrame] = field(default_factory=list)

    def sync(self, store: VoteStore, dataset: str, run_id: int) -> tuple[SyncResult, StreamedPrepared]:
        """Sync the source into the store; the live keys (ascending) and their split and gold."""
        store.set_memory_limit(self.settings.data.memory_limit)
        got = store.examples.sync_batches(dataset, self._batches(), run_id)
        kept = pl.concat(self.gold) if self.gold else None
        label_type, classes = PIPELINE_TYPES[self.settings.labels.type], self.settings.labels.classes
        keys, splits, gold = [], [], []
        for batch in store.examples.live_splits(dataset, ids=kept is not None):  # ids only to join the kept gold
            keys.append(batch["ex_key"].to_numpy())
            splits.append(batch["split"])
            if kept is not None:
                column = batch.join(kept, on=ID, how="left", maintain_order="left")["gold"]
            else:  # no gold in the source: no join of every batch
                column = pl.repeat(None, batch.height, dtype=pl.Int64, eager=True)
            gold.append(label_type.read_gold(column, classes))  # compact: a byte per example for up to 128 classes
        ex_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        split = pl.concat(splits) if splits else pl.Series("split", [], dtype=pl.String)
        known = np.concatenate(gold) if gold else label_type.read_gold(pl.Series("gold", [], dtype=pl.Int64), classes)
        sync = SyncResult(ex_keys, got.new, got.changed, got.retired, got.unchanged)
        return sync, StreamedPrepared(split, known, label_type.gold_mask(known), self.holdout)

    def source(self, store: VoteStore, dataset: str) -> StoredExamples:
        """What LFs read, from the store, decoded to the first batch's input dtypes."""
        return StoredExamples(store, dataset, self.schema)

    def loaded(self) -> Examples:
        """What reading did: rows matching the holdout left out (a streamed source refuses repeated ids)."""
        return Examples(pl.DataFrame(), 0, self.held_out)

    def _batches(self) -> Iterator[pl.DataFrame]:
        data = self.settings.data
        id_column = data.id_column
        assert id_column is not None  # the config requires it with data.stream
        raw_id = {new: old for old, new in data.rename.items()}.get(id_column, id_column)
        match = self.settings.holdout.match_column if self.settings.holdout else "text"
        rows = 0
        for raw in scan_batches(data.source, id_column=raw_id, batch_rows=batches.SOURCE_BATCH_ROWS, base_dir=self.base):
            missing = [c for c in data.rename if c not in raw.columns]
            if missing:
                raise SourceError(f"data.rename names columns the source lacks: {missing}; its columns are {raw.columns}")
            batch = raw.rename(data.rename)
            if batch[ID].null_count():
                raise SourceError(f"data.id_column {id_column!r} is null in the source; every example needs an id")
            if self.holdout is not None:
                if match not in batch.columns:
                    raise SourceError(f"holdout.match_column {match!r} is not in the data; columns are {batch.columns}")
                keep = ~batch[match].is_in(self.holdout["text"].implode())
                self.held_out += int((~keep).sum())
                batch = batch.filter(keep)
            if batch.height == 0:
                continue
            own = batch if id_column == ID else batch.drop(id_column)  # ids from the data's own example_id column
            prepared = self.task.prepare(own.select(ID, pl.exclude(ID)), None)
            if not self.schema:
                self.schema = {c: prepared.examples.schema[c] for c in prepared.inputs}
            if prepared.has_gold.any():
                has = pl.Series(prepared.has_gold)
                known = {ID: prepared.examples[ID].filter(has), "gold": prepared.gold[prepared.has_gold]}
                self.gold.append(pl.DataFrame(known))
            rows += batch.height
            yield prepared.examples
        if rows == 0:
            raise SourceError(f"data.source = {data.source!r} has no rows to label")
