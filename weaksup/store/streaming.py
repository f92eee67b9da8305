"""Store operations for sources larger than memory: sync examples batch by batch, read
live examples back in key order, batch by batch.

:meth:`VoteStore.sync_examples` takes the whole frame; :func:`sync_example_batches`
takes an iterator of frames (each with ``example_id``), stages them in a DuckDB temp
table (which spills to disk), then applies the same rules: new ids and changed content
get new keys, absent ids and superseded content are retired.  It returns counts, not
keys: at 10M+ rows the keys are read back when needed, in key order
(:func:`live_example_batches`, :func:`live_keys`).

>>> import tempfile, os, polars as pl
>>> from weaksup.store import VoteStore
>>> with VoteStore(os.path.join(tempfile.mkdtemp(), "s.duckdb")) as store:
...     run = store.start_run("demo", {})
...     batches = [pl.DataFrame({"example_id": ["a", "b"], "n": [1, 2]}), pl.DataFrame({"example_id": ["c"], "n": [3]})]
...     print(sync_example_batches(store, "d", batches, run))
...     [(b.rows(), k.tolist()) for b, k in live_example_batches(store, "d", {"n": pl.Int64}, after=1, batch_rows=1)]
StreamSync(new=3, changed=0, retired=0, unchanged=0)
[([('b', 2)], [2]), ([('c', 3)], [3])]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from weaksup.store.vote_store import VoteStore, crash_point

__all__ = [
    "StreamSync",
    "live_count",
    "live_example_batches",
    "live_examples_with_keys",
    "live_keys",
    "live_splits",
    "memory_size_problem",
    "set_memory_limit",
    "sync_example_batches",
]

_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.I)


def memory_size_problem(limit: str) -> str | None:
    """Why ``limit`` is not a memory size DuckDB takes (``None`` when it is one)."""
    return None if _SIZE.fullmatch(limit.strip()) else "is not a size like '512MB' or '2GB'"


def set_memory_limit(store: VoteStore, limit: str) -> None:
    """Cap DuckDB's memory for this store (e.g. ``"1GB"``): beyond it, syncs and sorts spill
    to disk.  DuckDB's default is 80% of RAM, which it will use when syncing 10M+ examples.

    Also lets DuckDB's allocator hand memory its queries freed back to the system in the
    background: without that, a process keeps the peak of its largest query (a join of 10M
    labels with their examples kept 280 MB after it ended)."""
    problem = memory_size_problem(limit)
    if problem:
        raise ValueError(f"memory limit {limit!r} {problem}")
    store.con.execute(f"SET memory_limit = '{limit.strip()}'")  # validated above; SET takes no parameters
    store.con.execute("SET allocator_background_threads = true")


@dataclass(frozen=True)
class StreamSync:
    """What :func:`sync_example_batches` changed; ``ex_keys``, when asked for, the live keys in input order."""

    new: int
    changed: int
    retired: int
    unchanged: int
    ex_keys: np.ndarray | None = field(default=None, repr=False)


def sync_example_batches(
    store: VoteStore,
    dataset: str,
    batches: Iterable[pl.DataFrame],
    run_id: int,
    content_columns: Sequence[str] | None = None,
    *,
    keys: bool = False,
) -> StreamSync:
    """Make the live examples of ``dataset`` equal to the concatenation of ``batches``
    (in one transaction; the rules of :meth:`VoteStore.sync_examples`, which calls this with
    its frame as the one batch and ``keys=True`` for the live keys in input order)."""
    if not isinstance(run_id, (int, np.integer)):
        raise TypeError(f"syncing examples needs the id of the run making the change, got {run_id!r}")
    con = store.con
    # Staged outside the sync's transaction, one batch per commit: DuckDB keeps a transaction's
    # uncommitted rows in memory, while committed temp rows spill to disk past the memory limit.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE inc (example_id VARCHAR, split VARCHAR, data JSON, ord BIGINT, content_hash VARCHAR)"
    )
    try:
        offset = 0
        for batch in batches:
            cols = list(content_columns or [c for c in batch.columns if c not in ("example_id", "split")])
            staged = pl.DataFrame(
                {
                    "example_id": batch["example_id"].cast(pl.String),
                    "split": batch["split"] if "split" in batch.columns else pl.repeat(None, batch.height, dtype=pl.String, eager=True),
                    "data": batch.select(pl.struct(cols).struct.json_encode()).to_series(),
                    "ord": pl.int_range(offset, offset + batch.height, eager=True),
                }
            ).to_arrow()
            offset += batch.height
            con.register("staged", staged)
            con.execute(
                "INSERT INTO inc SELECT example_id, split, data, ord, substr(md5(data::VARCHAR), 1, 16) FROM staged"
            )
            con.unregister("staged")
        dupes = con.execute(
            "SELECT example_id FROM inc GROUP BY example_id HAVING count(*) > 1 ORDER BY example_id LIMIT 3"
        ).fetchall()
        if dupes:
            raise ValueError(f"the source repeats example ids, e.g. {[d[0] for d in dupes]}; ids must be unique")
        con.execute("BEGIN")
        try:
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
                con.execute("UPDATE meta SET value = ? WHERE key = 'next_ex_key'", [str(first_key + offset)])
            ex_keys = None
            if keys:
                got = con.execute(
                    "SELECT e.ex_key FROM inc i JOIN examples e ON e.example_id = i.example_id "
                    "WHERE e.dataset = ? AND e.retired_run IS NULL ORDER BY i.ord",
                    [dataset],
                ).fetchnumpy()["ex_key"]
                ex_keys = np.asarray(got, dtype=np.int64)
            crash_point("sync_examples.before_commit")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute("DROP TABLE IF EXISTS inc")
    new, changed = int(new), int(changed)
    return StreamSync(new - changed, changed, int(retired) - changed, offset - new, ex_keys)


_LIVE = "FROM examples WHERE dataset = ? AND retired_run IS NULL AND ex_key > ?"


def live_count(store: VoteStore, dataset: str, after: int = 0) -> int:
    """How many live examples of ``dataset`` have keys above ``after``."""
    return int(store.con.execute(f"SELECT count(*) {_LIVE}", [dataset, after]).fetchall()[0][0])


def live_keys(store: VoteStore, dataset: str) -> np.ndarray:
    """The live keys of ``dataset``, ascending (the rows of its label matrix)."""
    got = store.con.execute(f"SELECT ex_key {_LIVE} ORDER BY ex_key", [dataset, 0]).fetchnumpy()["ex_key"]
    return np.asarray(got, dtype=np.int64)


def live_splits(
    store: VoteStore, dataset: str, batch_rows: int = 1_000_000, *, ids: bool = False
) -> Iterator[pl.DataFrame]:
    """The live examples of ``dataset`` in key order, at most ``batch_rows`` at a time: ``ex_key``
    and ``split`` (with ``ids``, ``example_id`` too), without their content (a streamed run's
    label-model rows).  ``split`` is an enum of the dataset's split names: a byte per example."""
    names = store.con.execute(f"SELECT DISTINCT split {_LIVE} AND split IS NOT NULL ORDER BY split", [dataset, 0]).fetchall()
    split = pl.Enum([n[0] for n in names])
    columns = "ex_key, example_id, split" if ids else "ex_key, split"
    sql = f"SELECT {columns} {_LIVE} AND ex_key BETWEEN ? AND ? ORDER BY ex_key"
    for frame in store.key_range_batches(sql, [dataset, 0], store.key_span(_LIVE, [dataset, 0]), batch_rows):
        yield frame.with_columns(pl.col("split").cast(split))


def live_example_batches(
    store: VoteStore, dataset: str, schema: Mapping[str, pl.DataType], *, after: int = 0, batch_rows: int = 100_000
) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
    """Live examples with keys above ``after``, in key order, at most ``batch_rows`` at a time:
    each a frame of ``example_id`` and the ``schema`` columns (decoded from the stored content) and
    its keys.

    Reads through its own cursor, so votes can be committed meanwhile, one key range at a time
    (:meth:`VoteStore.key_range_batches`): DuckDB never sorts every example's content at once.
    """
    sql = f"SELECT ex_key, example_id, data::VARCHAR AS data {_LIVE} AND ex_key BETWEEN ? AND ? ORDER BY ex_key"
    for frame in store.key_range_batches(sql, [dataset, after], store.key_span(_LIVE, [dataset, after]), batch_rows):
        yield _decoded(frame, schema), frame["ex_key"].to_numpy()


def live_examples_with_keys(
    store: VoteStore, dataset: str, schema: Mapping[str, pl.DataType], keys: np.ndarray, *, batch_rows: int
) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
    """The live examples among ``keys``, in key order, at most ``batch_rows`` at a time: each a frame
    of ``example_id`` and the ``schema`` columns, and its keys (the examples an LF is asked again)."""
    wanted = np.unique(np.asarray(keys, dtype=np.int64))
    cursor = store.con.cursor()
    try:
        for start in range(0, len(wanted), batch_rows):
            cursor.register("wanted_keys", pa.table({"ex_key": pa.array(wanted[start : start + batch_rows])}))
            frame = cursor.sql(
                f"SELECT ex_key, example_id, data::VARCHAR AS data {_LIVE} AND ex_key IN (SELECT ex_key FROM wanted_keys) "
                "ORDER BY ex_key",
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
