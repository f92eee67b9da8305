"""Where the store applier reads examples from: a frame in memory, or the store itself.

:func:`weaksup.apply.apply_to_store` asks a source for the live examples above an LF group's
watermark, in key order, one chunk at a time; :func:`weaksup.apply.reapply_failed` asks it for
the examples an LF failed on, by key:

- :class:`InMemoryExamples`: a polars frame and its store keys (from ``sync_examples``);
- :class:`StoredExamples`: the examples as synced into the store, read back batch by
  batch (``VoteStore.examples.live_batches``), so a source larger than
  memory is never held whole: scan it in batches (:func:`weaksup.data.scan_batches`),
  sync them (``VoteStore.examples.sync_batches``), then apply from here.

>>> import numpy as np, polars as pl
>>> src = InMemoryExamples(pl.DataFrame({"example_id": ["a", "b", "c"]}), np.array([5, 3, 9]))
>>> src.count_after(3), [k.tolist() for _, k in src.chunks_after(0, 2)]
(2, [[3, 5], [9]])
>>> [(c["example_id"].to_list(), k.tolist()) for c, k in src.chunks_of(np.array([9, 5]), 10)]
[(['a', 'c'], [5, 9])]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import polars as pl


if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = ["ExampleSource", "InMemoryExamples", "StoredExamples"]


class ExampleSource(Protocol):
    """Live examples in key order, chunk by chunk."""

    def count_after(self, mark: int) -> int:
        """How many examples have keys above ``mark``."""
        ...

    def chunks_after(self, mark: int, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """Chunks of at most ``size`` examples with keys above ``mark`` (each with
        ``example_id`` and the LF inputs) and their keys, ascending."""
        ...

    def chunks_of(self, keys: np.ndarray, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """Chunks of at most ``size`` of the examples with ``keys`` (those still live), and their
        keys, ascending."""
        ...


class InMemoryExamples:
    """A frame (with ``example_id``) and the store keys of its rows."""

    def __init__(self, frame: pl.DataFrame, ex_keys: np.ndarray) -> None:
        if len(ex_keys) != frame.height:
            raise ValueError(f"ex_keys has {len(ex_keys)} keys for a frame of {frame.height} rows; pass sync.ex_keys")
        self.frame = frame
        self.ex_keys = np.asarray(ex_keys, dtype=np.int64)
        self._order = np.argsort(self.ex_keys, kind="stable")
        self._sorted = self.ex_keys[self._order]

    def _rows_after(self, mark: int) -> np.ndarray:
        return self._order[np.searchsorted(self._sorted, mark, side="right") :]

    def count_after(self, mark: int) -> int:
        return len(self._rows_after(mark))

    def chunks_after(self, mark: int, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        return self._chunks(self._rows_after(mark), size)

    def chunks_of(self, keys: np.ndarray, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        wanted = np.unique(np.asarray(keys, dtype=np.int64))
        at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
        return self._chunks(self._order[at[self._sorted[at] == wanted]], size)

    def _chunks(self, rows: np.ndarray, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        for start in range(0, len(rows), size):
            chunk_rows = rows[start : start + size]
            yield self.frame[chunk_rows], self.ex_keys[chunk_rows]


@dataclass
class StoredExamples:
    """The live examples of ``dataset`` as stored by the last sync, decoded to ``schema``
    (the LF input columns and their dtypes, e.g. ``LazyFrame.collect_schema()``)."""

    store: VoteStore
    dataset: str
    schema: Mapping[str, pl.DataType]

    def count_after(self, mark: int) -> int:
        return self.store.examples.live_count(self.dataset, mark)

    def chunks_after(self, mark: int, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        return self.store.examples.live_batches(self.dataset, self.schema, after=mark, batch_rows=size)

    def chunks_of(self, keys: np.ndarray, size: int) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        return self.store.examples.with_keys(self.dataset, self.schema, keys, batch_rows=size)
