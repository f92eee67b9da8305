"""The vote store: one DuckDB file per project holding examples, LFs, runs, votes and labels.

The tables, their schema version and the migrations from older versions are in
:mod:`weaksup.store.schema`; run records are in :mod:`weaksup.store.runs` and ranking and
real-valued votes in :mod:`weaksup.store.typed_votes` (mixins of :class:`VoteStore`).  All writes are bulk inserts from Arrow/polars and all SQL is
parametrized.

**Crash tests.**  :func:`crash_point` lets tests SIGKILL a process at a named
point (``WEAKSUP_CRASH_AT=name[:n]``); it does nothing otherwise.

>>> import tempfile, os, numpy as np, polars as pl
>>> path = os.path.join(tempfile.mkdtemp(), "votes.duckdb")
>>> with VoteStore(path) as store:
...     run = store.start_run("demo", {})
...     keys = store.sync_examples("d", pl.DataFrame({"example_id": ["a", "b"], "text": ["x", "y"]}), run).ex_keys
...     store.commit_votes("d", [("lf1", "v1")], int(keys.max()),
...                        pl.DataFrame({"lf_name": ["lf1"], "lf_version": ["v1"], "ex_key": [keys[1]], "label": [1]}))
...     store.label_matrix(keys, [("lf1", "v1")]).to_dense().tolist()
[[-1], [1]]
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from weaksup import batches
from weaksup.store.failures import Failures, insert_votes
from weaksup.store.runs import RunRecords
from weaksup.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from weaksup.store.typed_votes import TypedVotes
from weaksup.votes import SparseVotes, ascending

CRASH_ENV = "WEAKSUP_CRASH_AT"
_COORDINATES = (("row", np.int64), ("col", np.int32), ("vote", np.int32))
""":meth:`VoteStore.label_matrix`'s coordinate columns and their types."""
_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$WEAKSUP_CRASH_AT`` is ``name`` or ``name:n`` and this is
    the ``n``-th time (default: first) the point is reached.  A test hook for crash safety."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or wanted.partition(":")[0] != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] == int(wanted.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class StoreError(RuntimeError):
    """The store file cannot be used: not DuckDB, locked, or of an unknown schema version."""


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`VoteStore.sync_examples` found, and the live keys in input order."""

    ex_keys: np.ndarray
    new: int
    changed: int
    retired: int
    unchanged: int



class VoteStore(RunRecords, Failures, TypedVotes):
    """A DuckDB vote store at ``path`` (created, with its folder, if missing).

    DuckDB lets one process at a time open a file for writing; a second one
    gets a :class:`StoreError` naming the file.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"store {str(self.path)!r} does not exist; run a pipeline first to create it")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "not a valid DuckDB database" in text:
                raise StoreError(
                    f"{str(self.path)!r} is not a DuckDB database; point the pipeline's `store` at a new "
                    "file name or at an existing weaksup store"
                ) from None
            if "lock" in text.lower():
                raise StoreError(
                    f"store {str(self.path)!r} is in use by another process ({text.split(': ', 1)[-1]})"
                ) from None
            raise
        self._init_schema(read_only)
        self.on_commit: Callable[[Sequence[tuple[str, str]], int], None] | None = None
        """Called after each :meth:`commit_votes` with the LF versions and key it committed
        (the runner reports progress with it)."""

    def _init_schema(self, read_only: bool) -> None:
        tables = {r[0] for r in self.con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
        if not tables and not read_only:
            self.con.execute("BEGIN")
            self.con.execute(SCHEMA)
            self.con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            self.con.execute("COMMIT")
            return
        if "meta" not in tables:
            raise StoreError(f"{str(self.path)!r} is a DuckDB file but not a weaksup store (no meta table)")
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        version = int(rows[0][0]) if rows else 0
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION or version not in MIGRATIONS:
            raise StoreError(
                f"store {str(self.path)!r} has schema version {version}, this weaksup reads version "
                f"{SCHEMA_VERSION}; "
                + ("upgrade weaksup" if version > SCHEMA_VERSION else "no migration from it exists")
            )
        if read_only:
            raise StoreError(
                f"store {str(self.path)!r} has schema version {version}; run `weaksup run` or `weaksup gc` "
                f"on it once to migrate it to version {SCHEMA_VERSION}"
            )
        self.con.execute("BEGIN")
        for step in range(version, SCHEMA_VERSION):
            self.con.execute(MIGRATIONS[step])
        self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> VoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- examples ---------------------------------------------------------------------

    def sync_examples(
        self,
        dataset: str,
        frame: pl.DataFrame,
        run_id: int,
        content_columns: Sequence[str] | None = None,
    ) -> SyncResult:
        """Make the live examples of ``dataset`` equal to ``frame`` (which has ``example_id``).

        New ids and changed content get new rows (and keys); ids absent from
        ``frame`` and superseded content are retired.  ``content_columns``
        (default: every column but ``example_id`` and ``split``) decide what
        counts as a change.  Returns the live keys in ``frame``'s row order.
        """
        from weaksup.store.streaming import sync_example_batches  # streaming builds on this module

        got = sync_example_batches(self, dataset, [frame], run_id, content_columns, keys=True)
        assert got.ex_keys is not None
        return SyncResult(got.ex_keys, got.new, got.changed, got.retired, got.unchanged)

    # -- LFs and votes ---------------------------------------------------------------

    def fingerprint(self, dataset: str) -> str:
        """A hash of ``dataset``'s live examples' ids and content hashes: their count and the XOR of
        each (id, content) pair's MD5, which needs no sort (ids are unique among live examples)."""
        row = self.con.execute(
            "SELECT md5(count(*) || ':' || coalesce(bit_xor(md5_number(example_id || ':' || content_hash)), 0)) "
            "FROM examples WHERE dataset = ? AND retired_run IS NULL",
            [dataset],
        ).fetchall()[0]
        return str(row[0])[:16]

    def register_lfs(self, lfs: Sequence[tuple[str, str, str, str]], run_id: int | None) -> None:
        """Record LF versions ``(name, version, kind, label_type)`` as used by ``run_id``."""
        table = pa.table(
            {
                "lf_name": [lf[0] for lf in lfs],
                "lf_version": [lf[1] for lf in lfs],
                "kind": [lf[2] for lf in lfs],
                "label_type": [lf[3] for lf in lfs],
            }
        )
        self.con.register("new_lfs", table)
        try:
            self.con.execute(
                "INSERT INTO lfs SELECT lf_name, lf_version, kind, label_type, ?, ? FROM new_lfs "
                "ON CONFLICT (lf_name, lf_version) DO UPDATE SET last_run = excluded.last_run",
                [run_id, run_id],
            )
        finally:
            self.con.unregister("new_lfs")

    def watermarks(self, dataset: str, lfs: Sequence[tuple[str, str]]) -> list[int]:
        """Each LF version's ``applied_through`` key for ``dataset`` (0 if never applied)."""
        rows = dict(
            ((r[0], r[1]), r[2])
            for r in self.con.execute(
                "SELECT lf_name, lf_version, applied_through FROM lf_progress WHERE dataset = ?", [dataset]
            ).fetchall()
        )
        return [int(rows.get(tuple(lf), 0)) for lf in lfs]

    def commit_votes(
        self,
        dataset: str,
        lfs: Sequence[tuple[str, str]],
        through_key: int,
        votes: pl.DataFrame,
        errors: pl.DataFrame | None = None,
    ) -> None:
        """Atomically add ``votes`` (and LF ``errors``) and move the LFs' watermarks to ``through_key``.

        ``votes`` needs ``lf_name``, ``lf_version``, ``ex_key`` and any of
        ``label``, ``value``, ``ranking``, ``payload``, ``confidence``.  The votes must be for
        keys above each LF's watermark: since votes and watermark commit
        together, such keys never hold votes yet, and a chunk re-applied after a
        crash cannot duplicate any.
        """
        con = self.con
        con.execute("BEGIN")
        try:
            insert_votes(con, dataset, votes, errors)
            progress = pa.table(
                {"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs]}
            )
            con.register("progress", progress)
            con.execute(
                "INSERT INTO lf_progress SELECT ?, lf_name, lf_version, ? FROM progress "
                "ON CONFLICT (dataset, lf_name, lf_version) DO UPDATE SET "
                "applied_through = greatest(lf_progress.applied_through, excluded.applied_through)",
                [dataset, through_key],
            )
            con.unregister("progress")
            crash_point("commit_votes.before_commit")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        crash_point("commit_votes.after_commit")
        if self.on_commit is not None:
            self.on_commit(lfs, through_key)

    def vote_coordinates(
        self, ex_keys: np.ndarray, lfs: Sequence[tuple[str, str]], column: str = "label"
    ) -> pa.Table:
        """Every non-null ``column`` vote of LF versions ``lfs`` on ``ex_keys``, as an Arrow
        table ``(row, col, vote)`` sorted by row then col: row ``i`` is ``ex_keys[i]``,
        col ``j`` is ``lfs[j]``.  ``column`` is ``label``, ``value``, ``ranking`` or ``payload``."""
        if column not in ("label", "value", "ranking", "payload"):
            raise ValueError(f"vote column must be label, value, ranking or payload, got {column!r}")
        keys = pa.table({"ex_key": pa.array(ex_keys, pa.int64()), "row": pa.array(np.arange(len(ex_keys)), pa.int64())})
        lft = pa.table(
            {
                "lf_name": [lf[0] for lf in lfs],
                "lf_version": [lf[1] for lf in lfs],
                "col": pa.array(np.arange(len(lfs)), pa.int32()),
            }
        )
        self.con.register("q_keys", keys)
        self.con.register("q_lfs", lft)
        try:
            return self.con.sql(
                f"SELECT k.row, l.col, v.{column} AS vote FROM votes v JOIN q_keys k USING (ex_key) "
                f"JOIN q_lfs l USING (lf_name, lf_version) WHERE v.{column} IS NOT NULL ORDER BY k.row, l.col"
            ).to_arrow_table()
        finally:
            self.con.unregister("q_keys")
            self.con.unregister("q_lfs")

    def label_matrix(
        self, ex_keys: np.ndarray, lfs: Sequence[tuple[str, str]], batch_rows: int = batches.STORE_ROWS
    ) -> SparseVotes:
        """The categorical votes of LF versions ``lfs`` on examples ``ex_keys``, as sparse
        coordinates sorted by row then column: row ``i`` is ``ex_keys[i]``, column ``j`` is ``lfs[j]``.

        Read ``batch_rows`` keys at a time, in key order, into arrays sized once: DuckDB joins and
        sorts a batch's votes at a time, and memory holds the votes once (a 10M-example read of
        every vote at once held them three times over)."""
        keys = np.asarray(ex_keys, dtype=np.int64)
        order = None if ascending(keys) else np.argsort(keys, kind="stable")
        ordered = keys if order is None else keys[order]
        if len(ordered) <= batch_rows:  # one batch: its arrays as they come
            got = self.vote_coordinates(ordered, lfs, "label")
            rows, cols, labels = (got[c].to_numpy().astype(t, copy=False) for c, t in _COORDINATES)
        else:
            rows, cols, labels = self._label_batches(ordered, lfs, batch_rows)
        if order is not None:  # rows of the sorted keys back to rows of ex_keys, sorted by row then column
            rows = order[rows]
            by = np.lexsort((cols, rows))
            rows, cols, labels = rows[by], cols[by], labels[by]
        return SparseVotes(rows=rows, cols=cols, labels=labels, n=len(keys), m=len(lfs),
                           lf_names=tuple(lf[0] for lf in lfs))  # fmt: skip

    def _label_batches(
        self, ordered: np.ndarray, lfs: Sequence[tuple[str, str]], batch_rows: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`label_matrix`'s coordinates of the keys ``ordered`` (ascending), read ``batch_rows``
        keys at a time into arrays sized once."""
        bound = self._vote_bound(ordered, lfs)
        out = [np.empty(bound, t) for _, t in _COORDINATES]
        nnz = 0
        for start in range(0, len(ordered), batch_rows):
            got = self.vote_coordinates(ordered[start : start + batch_rows], lfs, "label")
            end = nnz + got.num_rows
            for array, (column, _) in zip(out, _COORDINATES):
                array[nnz:end] = got[column].to_numpy()
            out[0][nnz:end] += start
            nnz = end
        return out[0][:nnz], out[1][:nnz], out[2][:nnz]

    def _vote_bound(self, ordered: np.ndarray, lfs: Sequence[tuple[str, str]]) -> int:
        """At least as many as the categorical votes of ``lfs`` on the keys ``ordered`` (ascending):
        their votes between its first and last key."""
        if not len(ordered) or not len(lfs):
            return 0
        self.con.register("q_lfs", pa.table({"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs]}))
        try:
            return int(self.con.execute(
                "SELECT count(*) FROM votes v JOIN q_lfs l USING (lf_name, lf_version) "
                "WHERE v.label IS NOT NULL AND v.ex_key BETWEEN ? AND ?",
                [int(ordered[0]), int(ordered[-1])],
            ).fetchall()[0][0])  # fmt: skip
        finally:
            self.con.unregister("q_lfs")

    # -- labels ------------------------------------------------------------------------

    def write_labels(
        self, run_id: int, labels: pl.DataFrame | Iterable[pl.DataFrame], batch_rows: int = batches.STORE_ROWS
    ) -> None:
        """Store a run's labels: a frame, or frames one after another (a run too large to label
        at once), with ``ex_key``, ``n_votes`` and any of ``probs``, ``label``, ``confidence``,
        ``value``, ``variance``, ``ranking``, ``payload``.

        Written in transactions of ``batch_rows`` rows (DuckDB holds a transaction's rows in
        memory): labels are only read for succeeded runs, and a run that stops before it
        succeeds has its partial labels deleted (:meth:`discard_unfinished`)."""
        cols = ["ex_key", "probs", "label", "confidence", "n_votes", "value", "variance", "ranking", "payload"]
        self.con.execute("DELETE FROM labels WHERE run_id = ?", [run_id])
        for part in [labels] if isinstance(labels, pl.DataFrame) else labels:
            frame = part.select([c for c in cols if c in part.columns])
            for start in range(0, frame.height, batch_rows):
                self._insert_labels(run_id, frame.slice(start, batch_rows))

    def _insert_labels(self, run_id: int, frame: pl.DataFrame) -> None:
        """One transaction of :meth:`write_labels`."""
        self.con.register("new_labels", frame.to_arrow())
        try:
            self.con.execute("BEGIN")
            self.con.execute(
                f"INSERT INTO labels (run_id, {', '.join(frame.columns)}) SELECT ?, * FROM new_labels", [run_id]
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("new_labels")
        crash_point("write_labels.after_commit")
