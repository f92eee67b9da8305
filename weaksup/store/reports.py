"""The report's read-only view of the store (:class:`ReportReader`): runs, labels, LF versions,
errors, label changes and LLM usage, as polars frames, with parametrized SQL only.  The LF report
(:mod:`weaksup.report`) reads the store through it alone.

>>> import tempfile, os, polars as pl
>>> from weaksup.store import VoteStore
>>> path = os.path.join(tempfile.mkdtemp(), "s.duckdb")
>>> with VoteStore(path) as store:
...     run = store.runs.start("p", {"labels": {"type": "categorical"}})
...     store.runs.finish(run, "succeeded", lf_versions={"a": "v1"})
...     reader = store.report_reader()
...     reader.run(None)["run_id"], reader.previous_run(run)
(1, None)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from weaksup import batches
from weaksup.store.connection import Tables
from weaksup.store.llm_cache import LLMCache
from weaksup.store.runs import RunTable
from weaksup.store.votes import LFVersions, VoteTable
from weaksup.votes import SparseVotes, ascending

__all__ = ["LABEL_COLUMNS", "ReportReader"]

LABEL_COLUMNS = ("probs", "label", "confidence", "value", "variance", "ranking", "payload")
"""The label columns of the ``labels`` table (beside ``ex_key`` and ``n_votes``); each label type fills some."""



ERROR_TEXT = ("CASE WHEN split_part(e.message, ':', 1) = e.error_type OR suffix(split_part(e.message, ':', 1), "
              "'.' || e.error_type) THEN e.message ELSE e.error_type || ': ' || e.message END")
"""An error as one text: its message, which already starts with its type when it is Python's own
(``traceback.format_exception_only``), else the type and the message."""


class ReportReader(Tables):
    """What the LF report reads of a store, and nothing that writes (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, runs: RunTable, votes: VoteTable,
                 llm_cache: Callable[[], LLMCache]) -> None:  # fmt: skip
        super().__init__(con, path)
        self._runs = runs
        self._votes = votes
        self._llm_cache = llm_cache

    @property
    def path(self) -> Path:
        """The store's file."""
        return self._path

    def run(self, run_id: int | None = None) -> dict[str, Any]:
        """Succeeded run ``run_id`` (default: the newest), its JSON columns decoded; ``RunError`` (a
        ``ValueError``) naming the run and the fix when it is missing or did not succeed."""
        return self._runs.succeeded(run_id)

    def label_key_range(self, run_id: int) -> tuple[int, int] | None:
        """The smallest and largest key run ``run_id`` labeled (None: it has no labels)."""
        return self._runs.label_key_range(run_id)

    def label_matrix(self, ex_keys: np.ndarray, versions: LFVersions) -> SparseVotes:
        """The categorical votes of LF ``versions`` on ``ex_keys``."""
        return self._votes.label_matrix(ex_keys, versions)

    def votes(self, label_type: str, ex_keys: np.ndarray, versions: LFVersions, **context: Any) -> Any:
        """The votes of LF ``versions`` on ``ex_keys`` in the form of their label type (:meth:`VoteTable.read`)."""
        return self._votes.read(label_type, ex_keys, versions, **context)

    def vote_coordinates(self, ex_keys: np.ndarray, versions: LFVersions, column: str) -> pa.Table:
        """The non-null ``column`` votes of LF ``versions`` on ``ex_keys`` as (row, col, vote)."""
        return self._votes.coordinates(ex_keys, versions, column)

    def llm_usage(self, run_id: int | None = None) -> pl.DataFrame:
        """Per-LF LLM usage, one row per run and LF version (of run ``run_id``, or of every run)."""
        with self._llm_cache() as cache:
            return cache.usage_by_lf(run_id)

    def previous_run(self, run_id: int) -> int | None:
        """The newest succeeded run of the same pipeline before ``run_id`` that still has labels."""
        rows = self._query(
            "SELECT r.run_id FROM runs r WHERE r.status = 'succeeded' AND r.run_id < ? "
            "AND r.pipeline = (SELECT pipeline FROM runs WHERE run_id = ?) "
            "AND EXISTS (SELECT 1 FROM labels l WHERE l.run_id = r.run_id) ORDER BY r.run_id DESC LIMIT 1",
            [run_id, run_id],
        ).rows()
        return int(rows[0][0]) if rows else None

    def run_labels(
        self, run_id: int, columns: Sequence[str] = LABEL_COLUMNS, data: bool = True, ids: bool = True,
        probs_width: int | None = None, batch_rows: int = batches.STORE_ROWS, key_range: tuple[int, int] | None = None,
        ex_keys: np.ndarray | None = None,
    ) -> pl.DataFrame:  # fmt: skip
        """Run ``run_id``'s labels with their examples' split, ordered by ``ex_key``: ``ex_key``,
        ``example_id`` (unless ``ids`` is false), ``split`` (categorical), ``data`` as JSON text
        (unless ``data`` is false), the label ``columns`` (of :data:`LABEL_COLUMNS`) and ``n_votes``.

        Without ``ids`` or ``data``, read them by key for the few examples shown (:meth:`example_ids`,
        :meth:`example_data`); with ``probs_width`` k, ``probs`` is a fixed-size array of k floats (no
        offsets).  Read ``batch_rows`` rows at a time, and without ids and content not joined nor sorted
        in the store (a streamed run writes its labels in key order; the splits are matched by key
        here): what a report of a 10M-example run needs to stay small.

        ``key_range`` (lo, hi) reads only the labels of keys lo..hi and ``ex_keys`` only those of
        these keys (the report's parts and shown examples); either may find none."""
        unknown = [c for c in columns if c not in LABEL_COLUMNS]
        if unknown:
            raise ValueError(f"labels have no columns {unknown}; they have {list(LABEL_COLUMNS)}")
        picked = []
        for c in ("probs", "label", "confidence", "n_votes", "value", "variance", "ranking", "payload"):  # table order
            if c == "probs" and c in columns and probs_width is not None:
                picked.append(f"l.probs::DOUBLE[{int(probs_width)}] AS probs")  # an int: no parameter for a type
            elif c in columns or c == "n_votes":
                picked.append("l.payload::VARCHAR AS payload" if c == "payload" else f"l.{c}")
        within, params = ("AND l.ex_key BETWEEN ? AND ?", [run_id, *map(int, key_range)]) if key_range else ("", [run_id])
        joined = ids or data or ex_keys is not None  # every example's id or content, or a few examples: sorted in the store
        cursor = self._con.cursor()  # its own: a reader that outlives one call on the store's connection
        try:
            if ex_keys is not None:
                cursor.register("report_wanted", pa.table({"ex_key": pa.array(np.asarray(ex_keys, dtype=np.int64))}))
            if joined:
                columns_read = ["l.ex_key", *(["e.example_id"] if ids else []), "e.split", *(["e.data::VARCHAR AS data"] if data else [])]
                wanted = "JOIN report_wanted USING (ex_key) " if ex_keys is not None else ""
                frame = _read(cursor, f"SELECT {', '.join(columns_read + picked)} FROM labels l {wanted}JOIN examples e "
                                      f"USING (ex_key) WHERE l.run_id = ? {within} ORDER BY l.ex_key", params, batch_rows)  # fmt: skip
            else:
                frame = _read(cursor, f"SELECT l.ex_key, {', '.join(picked)} FROM labels l WHERE l.run_id = ? {within}", params,
                              batch_rows)  # fmt: skip
        finally:
            cursor.close()
        if frame.height and not joined:
            frame = self._with_splits(frame if ascending(frame["ex_key"].to_numpy(), strict=True) else frame.sort("ex_key"), batch_rows)
        if frame.height == 0 and key_range is None and ex_keys is None:
            raise ValueError(f"run {run_id} has no labels: they were pruned by `weaksup gc`")
        return frame

    def _with_splits(self, labels: pl.DataFrame, batch_rows: int) -> pl.DataFrame:
        """``labels`` (sorted by ``ex_key``) with their examples' ``split`` after ``ex_key``; labels
        whose example is gone are left out, as a join would.  The examples in the labels' key range
        are scanned in store order into a split code per key (4 bytes a key): no sort, no join."""
        keys = labels["ex_key"].to_numpy()
        lo = int(keys[0])
        codes = np.full(int(keys[-1]) - lo + 1, -1, dtype=np.int32)
        names: dict[str | None, int] = {}
        cursor = self._con.cursor()
        try:
            sql = "SELECT ex_key, split FROM examples WHERE ex_key BETWEEN ? AND ?"
            for batch in cursor.sql(sql, params=[lo, int(keys[-1])]).to_arrow_reader(batch_rows):
                part = pl.from_arrow(batch)
                assert isinstance(part, pl.DataFrame)
                for name in part["split"].unique().to_list():
                    names.setdefault(name, len(names))
                named = {k: v for k, v in names.items() if k is not None}
                code = part["split"].replace_strict(named, default=None, return_dtype=pl.Int32).fill_null(names.get(None, -1))
                codes[part["ex_key"].to_numpy() - lo] = code.to_numpy()
        finally:
            cursor.close()
        row_codes = codes[keys - lo]
        del codes
        found = row_codes >= 0
        split = pl.Series("split", list(names), dtype=pl.String).cast(pl.Categorical).gather(row_codes[found])
        kept = labels if found.all() else labels.filter(pl.Series(found))
        return kept.select("ex_key", split, pl.exclude("ex_key"))

    def example_data(self, ex_keys: np.ndarray) -> list[str | None]:
        """The content (``data`` as JSON text) of the examples ``ex_keys``, in their order."""
        return self._by_key(ex_keys, "e.data::VARCHAR")

    def example_ids(self, ex_keys: np.ndarray) -> list[str | None]:
        """The ids of the examples ``ex_keys``, in their order."""
        return self._by_key(ex_keys, "e.example_id")

    def _by_key(self, ex_keys: np.ndarray, column: str) -> list[Any]:
        wanted = pa.table({"ex_key": pa.array(np.asarray(ex_keys, dtype=np.int64)), "pos": pa.array(np.arange(len(ex_keys)))})
        cursor = self._con.cursor()  # its own: the caller may be reading through the store's connection
        try:
            cursor.register("report_keys", wanted)
            rows = cursor.execute(
                f"SELECT {column} FROM report_keys w LEFT JOIN examples e USING (ex_key) ORDER BY w.pos"
            ).fetchall()
        finally:
            cursor.close()
        return [r[0] for r in rows]

    def lf_catalog(self, versions: Sequence[tuple[str, str]]) -> pl.DataFrame:
        """Each LF version's kind and when it last changed: the run that first used this version
        (``changed_run``) and that run's start time (``changed_at``), in ``versions`` order."""
        wanted = pa.table(
            {
                "lf": [v[0] for v in versions],
                "version": [v[1] for v in versions],
                "pos": pa.array(np.arange(len(versions)), pa.int64()),
            }
        )
        self._con.register("report_lfs", wanted)
        try:
            return self._query(
                "SELECT w.lf, w.version, l.kind, l.first_run AS changed_run, r.started_at AS changed_at "
                "FROM report_lfs w LEFT JOIN lfs l ON l.lf_name = w.lf AND l.lf_version = w.version "
                "LEFT JOIN runs r ON r.run_id = l.first_run ORDER BY w.pos"
            )
        finally:
            self._con.unregister("report_lfs")

    def lf_error_counts(self, versions: Sequence[tuple[str, str]]) -> pl.DataFrame:
        """Errors per LF version (``errors``) with the first one's type and message (``first_error``)."""
        wanted = pa.table({"lf": [v[0] for v in versions], "version": [v[1] for v in versions]})
        self._con.register("report_err_lfs", wanted)
        try:
            return self._query(
                "SELECT w.lf, count(e.lf_name) AS errors, "
                f"first({ERROR_TEXT} ORDER BY e.created_at, e.ex_key) AS first_error "
                "FROM report_err_lfs w LEFT JOIN lf_errors e ON e.lf_name = w.lf AND e.lf_version = w.version "
                "GROUP BY w.lf"
            )
        finally:
            self._con.unregister("report_err_lfs")

    def pipeline_runs(self, pipeline: str, through: int) -> pl.DataFrame:
        """The pipeline's runs up to ``through``, oldest first: id, status, start time, metrics (JSON text)."""
        return self._query(
            "SELECT run_id, status, started_at, metrics::VARCHAR AS metrics FROM runs "
            "WHERE pipeline = ? AND run_id <= ? ORDER BY run_id",
            [pipeline, through],
        )

    def label_change_groups(self, run_a: int, run_b: int) -> pl.DataFrame:
        """How the labels of runs ``run_a`` and ``run_b`` differ, matched by example id: one row per
        distinct difference (``in_a``, ``in_b``, ``label_a``, ``label_b``, ``value_a``, ``value_b``,
        ``ranking_a``, ``ranking_b``) with how many ``examples`` show it.  Examples whose labels are
        the same in both runs are left out (NaN values count as differing), so a rerun that changed
        little reads little, and a categorical run at most a row per pair of classes."""
        side = "SELECT e.example_id, l.label, l.value, l.ranking FROM labels l JOIN examples e USING (ex_key) WHERE l.run_id = ?"
        return self._query(
            f"WITH a AS ({side}), b AS ({side}) "
            "SELECT a.example_id IS NOT NULL AS in_a, b.example_id IS NOT NULL AS in_b, "
            "a.label AS label_a, b.label AS label_b, a.value AS value_a, b.value AS value_b, "
            "a.ranking AS ranking_a, b.ranking AS ranking_b, count(*) AS examples FROM a FULL JOIN b USING (example_id) "
            "WHERE a.example_id IS NULL OR b.example_id IS NULL OR a.label IS DISTINCT FROM b.label "
            "OR a.value IS DISTINCT FROM b.value OR isnan(a.value) OR isnan(b.value) OR a.ranking IS DISTINCT FROM b.ranking "
            "GROUP BY ALL ORDER BY ALL",
            [run_a, run_b],
        )


def _read(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], batch_rows: int) -> pl.DataFrame:
    """A query's rows on ``cursor`` (the caller's own: a reader that outlives one call on the store's
    connection), fetched ``batch_rows`` at a time, ``split`` as a category (one string per split name)."""
    reader = cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
    parts = [pl.from_arrow(batch) for batch in reader] or [pl.from_arrow(reader.schema.empty_table())]
    frames = [p.with_columns(pl.col("split").cast(pl.Categorical)) if "split" in p.columns else p
              for p in parts if isinstance(p, pl.DataFrame)]  # fmt: skip
    return pl.concat(frames) if len(frames) > 1 else frames[0]
