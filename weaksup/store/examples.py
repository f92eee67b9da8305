"""The examples: synced by id and content, read back live, in key order, batch by batch.

:meth:`ExampleTable.sync` makes a dataset's live examples equal to a frame; :meth:`ExampleTable.sync_batches`
takes an iterator of frames (each with ``example_id``), for sources larger than memory: it stages
them in a DuckDB temp table (which spills to disk), then applies the same rules.  New ids and
changed content get new keys, absent ids and superseded content are retired.  At 10M+ rows the
keys are read back when needed, in key order (:meth:`ExampleTable.live_batches`,
:meth:`ExampleTable.live_keys`).

>>> import tempfile, os, polars as pl
>>> from weaksup.store import VoteStore
>>> with VoteStore(os.path.join(tempfile.mkdtemp(), "s.duckdb")) as store:
...     run = store.runs.start("demo", {})
...     batches = [pl.DataFrame({"example_id": ["a", "b"], "n": [1, 2]}), pl.DataFrame({"example_id": ["c"], "n": [3]})]
...     print(store.examples.sync_batches("d", batches, run))
...     [(b.rows(), k.tolist()) for b, k in store.examples.live_batches("d", {"n": pl.Int64}, after=1, batch_rows=1)]
StreamSync(new=3, changed=0, retired=0, unchanged=0)
[([('b', 2)], [2]), ([('c', 3)], [3])]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from weaksup import batches
from weaksup.store.connection import Tables, crash_point

__all__ = ["ExampleTable", "StreamSync", "SyncResult"]

_LIVE = "FROM examples WHERE dataset = ? AND retired_run IS NULL AND ex_key > ?"


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`ExampleTable.sync` found, and the live keys in input order."""

    ex_keys: np.ndarray
    new: int
    changed: int
    retired: int
    unchanged: int


@dataclass(frozen=True)
class StreamSync:
    """What :meth:`ExampleTable.sync_batches` changed; ``ex_keys``, when asked for, the live keys in input order."""

    new: int
    changed: int
    retired: int
    unchanged: int
    ex_keys: np.ndarray | None = field(default=None, repr=False)


class ExampleTable(Tables):
    """The ``examples`` table (see the module docstring)."""

    def sync(
        self, dataset: str, frame: pl.DataFrame, run_id: int, content_columns: Sequence[str] | None = None
    ) -> SyncResult:
        """Make the live examples of ``dataset`` equal to ``frame`` (which has ``example_id``).

        New ids and changed content get new rows (and keys); ids absent from
        ``frame`` and superseded content are retired.  ``content_columns``
        (default: every column but ``example_id`` and ``split``) decide what
        counts as a change.  Returns the live keys in ``frame``'s row order.
        """
        got = self.sync_batches(dataset, [frame], run_id, content_columns, keys=True)
        assert got.ex_keys is not None
        return SyncResult(got.ex_keys, got.new, got.changed, got.retired, got.unchanged)

    def sync_batches(
        self,
        dataset: str,
        frames: Iterable[pl.DataFrame],
        run_id: int,
        content_columns: Sequence[str] | None = None,
        *,
        keys: bool = False,
    ) -> StreamSync:
        """Make the live examples of ``dataset`` equal to the concatenation of ``frames``
        (in one transaction; the rules of :meth:`sync`, which calls this with its frame as the one
        batch and ``keys=True`` for the live keys in input order)."""
        if not isinstance(run_id, (int, np.integer)):
            raise TypeError(f"syncing examples needs the id of the run making the change, got {run_id!r}")
        # Staged outside the sync's transaction, one batch per commit: DuckDB keeps a transaction's
        # uncommitted rows in memory, while committed temp rows spill to disk past the memory limit.
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE inc (example_id VARCHAR, split VARCHAR, data JSON, ord BIGINT, content_hash VARCHAR)"
        )
        try:
            staged = self._stage(frames, content_columns)
            self._con.execute("BEGIN")
            try:
                got = self._merge(dataset, run_id, staged, keys)
                crash_point("sync_examples.before_commit")
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        finally:
            self._con.execute("DROP TABLE IF EXISTS inc")
        return got

    def _stage(self, frames: Iterable[pl.DataFrame], content_columns: Sequence[str] | None) -> int:
        """Stage ``frames`` in the temp table ``inc`` (id, split, content as JSON, input position, content
        hash); refuse repeated ids.  Returns how many rows were staged."""
        con, offset = self._con, 0
        for batch in frames:
            cols = list(content_columns or [c for c in batch.columns if c not in ("example_id", "split")])
            split = batch["split"] if "split" in batch.columns else pl.repeat(None, batch.height, dtype=pl.String, eager=True)
            staged = pl.DataFrame(
                {
                    "example_id": batch["example_id"].cast(pl.String),
                    "split": split,
                    "data": batch.select(pl.struct(cols).struct.json_encode()).to_series(),
                    "ord": pl.int_range(offset, offset + batch.height, eager=True),
                }
            ).to_arrow()
            offset += batch.height
            con.register("staged", staged)
            con.execute("INSERT INTO inc SELECT example_id, split, data, ord, substr(md5(data::VARCHAR), 1, 16) FROM staged")
            con.unregister("staged")
        dupes = con.execute(
            "SELECT example_id FROM inc GROUP BY example_id HAVING count(*) > 1 ORDER BY example_id LIMIT 3"
        ).fetchall()
        if dupes:
            raise ValueError(f"the source repeats example ids, e.g. {[d[0] for d in dupes]}; ids must be unique")
        return offset

    def _merge(self, dataset: str, run_id: int, staged: int, keys: bool) -> StreamSync:
        """Inside the sync's transaction: retire what the staged rows no longer hold, add what is new."""
        con = self._con
        live = "SELECT * FROM examples WHERE dataset = ? AND retired_run IS NULL"
        changed = con.execute(
            f"SELECT count(*) FROM ({live}) e JOIN inc i USING (example_id) WHERE e.content_hash <> i.content_hash",
            [dataset],
        ).fetchall()[0][0]
        retired = con.execute(
            "UPDATE examples SET retired_run = ? WHERE dataset = ? AND retired_run IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM inc i WHERE i.example_id = examples.example_id AND i.content_hash = examples.content_hash)",
            [run_id, dataset],
        ).fetchall()[0][0]
        # Before the insert, which gives new rows their split: only the kept rows are joined.
        con.execute(
            "UPDATE examples SET split = i.split FROM inc i WHERE examples.dataset = ? "
            "AND examples.retired_run IS NULL AND examples.example_id = i.example_id "
            "AND examples.split IS DISTINCT FROM i.split",
            [dataset],
        )
        # New rows take key next_ex_key + their input position: increasing in input order
        # and above every key ever given, with no sort and no sequence call per row.
        first_key = int(con.execute("SELECT value FROM meta WHERE key = 'next_ex_key'").fetchall()[0][0])
        new = con.execute(
            "INSERT INTO examples SELECT ? + i.ord, ?, i.example_id, i.content_hash, i.split, i.data, ?, NULL "
            "FROM inc i WHERE NOT EXISTS (SELECT 1 FROM examples e "
            "WHERE e.dataset = ? AND e.retired_run IS NULL AND e.example_id = i.example_id)",
            [first_key, dataset, run_id, dataset],
        ).fetchall()[0][0]
        if new:
            con.execute("UPDATE meta SET value = ? WHERE key = 'next_ex_key'", [str(first_key + staged)])
        ex_keys = None
        if keys:
            got = con.execute(
                "SELECT e.ex_key FROM inc i JOIN examples e ON e.example_id = i.example_id "
                "WHERE e.dataset = ? AND e.retired_run IS NULL ORDER BY i.ord",
                [dataset],
            ).fetchnumpy()["ex_key"]
            ex_keys = np.asarray(got, dtype=np.int64)
        new, changed = int(new), int(changed)
        return StreamSync(new - changed, changed, int(retired) - changed, staged - new, ex_keys)

    def fingerprint(self, dataset: str) -> str:
        """A hash of ``dataset``'s live examples' ids and content hashes: their count and the XOR of
        each (id, content) pair's MD5, which needs no sort (ids are unique among live examples)."""
        row = self._con.execute(
            "SELECT md5(count(*) || ':' || coalesce(bit_xor(md5_number(example_id || ':' || content_hash)), 0)) "
            "FROM examples WHERE dataset = ? AND retired_run IS NULL",
            [dataset],
        ).fetchall()[0]
        return str(row[0])[:16]

    def live_count(self, dataset: str, after: int = 0) -> int:
        """How many live examples of ``dataset`` have keys above ``after``."""
        return int(self._con.execute(f"SELECT count(*) {_LIVE}", [dataset, after]).fetchall()[0][0])

    def live_keys(self, dataset: str) -> np.ndarray:
        """The live keys of ``dataset``, ascending (the rows of its label matrix)."""
        got = self._con.execute(f"SELECT ex_key {_LIVE} ORDER BY ex_key", [dataset, 0]).fetchnumpy()["ex_key"]
        return np.asarray(got, dtype=np.int64)

    def live_splits(self, dataset: str, batch_rows: int = batches.STORE_ROWS, *, ids: bool = False) -> Iterator[pl.DataFrame]:
        """The live examples of ``dataset`` in key order, at most ``batch_rows`` at a time: ``ex_key``
        and ``split`` (with ``ids``, ``example_id`` too), without their content (a streamed run's
        label-model rows).  ``split`` is an enum of the dataset's split names: a byte per example."""
        names = self._con.execute(f"SELECT DISTINCT split {_LIVE} AND split IS NOT NULL ORDER BY split", [dataset, 0]).fetchall()
        split = pl.Enum([n[0] for n in names])
        columns = "ex_key, example_id, split" if ids else "ex_key, split"
        sql = f"SELECT {columns} {_LIVE} AND ex_key BETWEEN ? AND ? ORDER BY ex_key"
        for frame in self._key_range_batches(sql, [dataset, 0], self._key_span(_LIVE, [dataset, 0]), batch_rows):
            yield frame.with_columns(pl.col("split").cast(split))

    def live_batches(
        self, dataset: str, schema: Mapping[str, pl.DataType], *, after: int = 0, batch_rows: int = batches.SOURCE_BATCH_ROWS
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """Live examples with keys above ``after``, in key order, at most ``batch_rows`` at a time:
        each a frame of ``example_id`` and the ``schema`` columns (decoded from the stored content) and
        its keys.

        Reads through its own cursor, so votes can be committed meanwhile, one key range at a time:
        DuckDB never sorts every example's content at once.
        """
        sql = f"SELECT ex_key, example_id, data::VARCHAR AS data {_LIVE} AND ex_key BETWEEN ? AND ? ORDER BY ex_key"
        for frame in self._key_range_batches(sql, [dataset, after], self._key_span(_LIVE, [dataset, after]), batch_rows):
            yield _decoded(frame, schema), frame["ex_key"].to_numpy()

    def with_keys(
        self, dataset: str, schema: Mapping[str, pl.DataType], keys: np.ndarray, *, batch_rows: int
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
        """The live examples among ``keys``, in key order, at most ``batch_rows`` at a time: each a frame
        of ``example_id`` and the ``schema`` columns, and its keys (the examples an LF is asked again)."""
        wanted = np.unique(np.asarray(keys, dtype=np.int64))
        cursor = self._con.cursor()
        try:
            for start in range(0, len(wanted), batch_rows):
                cursor.register("wanted_keys", pa.table({"ex_key": pa.array(wanted[start : start + batch_rows])}))
                frame = cursor.sql(
                    f"SELECT ex_key, example_id, data::VARCHAR AS data {_LIVE} "
                    "AND ex_key IN (SELECT ex_key FROM wanted_keys) ORDER BY ex_key",
                    params=[dataset, 0],
                ).pl()
                cursor.unregister("wanted_keys")
                if frame.height:
                    yield _decoded(frame, schema), frame["ex_key"].to_numpy()
        finally:
            cursor.close()


def _decoded(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``example_id`` and the stored content of ``frame``'s rows decoded into the ``schema`` columns."""
    return frame.select("example_id", pl.col("data").str.json_decode(pl.Struct(dict(schema))).alias("d")).unnest("d")
