"""The vote store: one DuckDB file per project, composed of one object per family of tables.

- :attr:`VoteStore.examples` (:mod:`.examples`): examples synced by id and content, read back live;
- :attr:`VoteStore.votes` (:mod:`.votes`): LF versions, watermarks, votes, and the errors LFs raised;
- :attr:`VoteStore.runs` (:mod:`.runs`): run records and the labels each run wrote;
- :meth:`VoteStore.llm_cache` (:mod:`.llm_cache`): a handle on the prompted LFs' response cache and usage;
- :meth:`VoteStore.report_reader` (:mod:`.reports`): the report's read-only view.

The connection stays inside the store package; every write is a bulk insert from Arrow and all SQL
is parametrized.  The tables, their schema version and the migrations from older versions are in
:mod:`.schema`.

>>> import tempfile, os, numpy as np, polars as pl
>>> path = os.path.join(tempfile.mkdtemp(), "votes.duckdb")
>>> with VoteStore(path) as store:
...     run = store.runs.start("demo", {})
...     keys = store.examples.sync("d", pl.DataFrame({"example_id": ["a", "b"], "text": ["x", "y"]}), run).ex_keys
...     store.votes.commit("d", [("lf1", "v1")], int(keys.max()),
...                        pl.DataFrame({"lf_name": ["lf1"], "lf_version": ["v1"], "ex_key": [keys[1]], "label": [1]}))
...     store.votes.label_matrix(keys, [("lf1", "v1")]).to_dense().tolist()
[[-1], [1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from weaksup.store.connection import StoreError, memory_size_problem, open_database
from weaksup.store.examples import ExampleTable
from weaksup.store.llm_cache import LLMCache
from weaksup.store.reports import ReportReader
from weaksup.store.runs import RunTable
from weaksup.store.votes import VoteTable

__all__ = ["VoteStore"]


class VoteStore:
    """A DuckDB vote store at ``path`` (created, with its folder, if missing).

    DuckDB lets one process at a time open a file for writing; a second one
    gets a :class:`~weaksup.store.StoreError` naming the file.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._con = open_database(self.path, read_only)
        self.examples = ExampleTable(self._con, self.path)
        self.votes = VoteTable(self._con, self.path)
        self.runs = RunTable(self._con, self.path)

    def llm_cache(self) -> LLMCache:
        """A handle on the LLM tables, on a cursor of its own (close it after use)."""
        return LLMCache(self._con.cursor())

    def report_reader(self) -> ReportReader:
        """The LF report's read-only view of this store."""
        return ReportReader(self._con, self.path, self.runs, self.votes, self.llm_cache)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run one read-only statement (a ``SELECT``) on the store and return a polars frame: for
        notebooks and tests.  weaksup's own code reads and writes through the families' methods."""
        statements = self._con.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise StoreError("VoteStore.query runs one SELECT statement; change a store through its methods")
        return self._con.sql(sql, params=params or None).pl()

    def set_memory_limit(self, limit: str) -> None:
        """Cap DuckDB's memory for this store (e.g. ``"1GB"``): beyond it, syncs and sorts spill
        to disk.  DuckDB's default is 80% of RAM, which it will use when syncing 10M+ examples.

        Also lets DuckDB's allocator hand memory its queries freed back to the system in the
        background: without that, a process keeps the peak of its largest query (a join of 10M
        labels with their examples kept 280 MB after it ended)."""
        problem = memory_size_problem(limit)
        if problem:
            raise ValueError(f"memory limit {limit!r} {problem}")
        self._con.execute(f"SET memory_limit = '{limit.strip()}'")  # validated above; SET takes no parameters
        self._con.execute("SET allocator_background_threads = true")

    def prune(self, keep: Sequence[int]) -> dict[str, int]:
        """Delete what no run in ``keep`` (nor any later run) needs; return counts per kind.

        With ``first = min(keep)``: labels of runs not in ``keep``; LF versions
        last used before ``first`` (their votes, watermarks and errors: a revert
        to such a version re-applies it); examples retired at or before
        ``first`` (and their votes).  Run rows stay: they are the history.
        """
        if not keep:
            raise ValueError("keep at least one run")
        first = min(keep)
        con = self._con
        con.execute("BEGIN")
        try:
            con.register("keep_runs", pa.table({"run_id": pa.array(sorted(keep), pa.int64())}))
            counts = {
                "labels": con.execute("DELETE FROM labels WHERE run_id NOT IN (SELECT run_id FROM keep_runs)").fetchall()[0][0],
            }
            con.unregister("keep_runs")
            old_lfs = "SELECT lf_name, lf_version FROM lfs WHERE last_run < ?"
            counts["lf_version_votes"] = con.execute(
                f"DELETE FROM votes WHERE (lf_name, lf_version) IN ({old_lfs})", [first]
            ).fetchall()[0][0]
            counts["lf_versions"] = con.execute(
                f"DELETE FROM lf_progress WHERE (lf_name, lf_version) IN ({old_lfs})", [first]
            ).fetchall()[0][0]
            con.execute(f"DELETE FROM lf_errors WHERE (lf_name, lf_version) IN ({old_lfs})", [first])
            old_examples = "SELECT ex_key FROM examples WHERE retired_run <= ?"
            counts["retired_example_votes"] = con.execute(
                f"DELETE FROM votes WHERE ex_key IN ({old_examples})", [first]
            ).fetchall()[0][0]
            con.execute(f"DELETE FROM lf_errors WHERE ex_key IN ({old_examples})", [first])
            counts["retired_examples"] = con.execute("DELETE FROM examples WHERE retired_run <= ?", [first]).fetchall()[0][0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
        return {k: int(v) for k, v in counts.items()}

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> VoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
