"""The run records of the store: each run's row, its labels, and what is read back from them.

A mixin of :class:`~weaksup.store.VoteStore` (it uses the store's ``con`` and ``path``), kept
apart from the examples and votes: start and finish runs, clean up after unfinished ones, prune
old runs (``weaksup gc``), and read back what the pipeline's outputs, history, ``weaksup lfs``
and ``weaksup diff`` need.  Every statement is parametrized.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa


class RunError(ValueError):
    """A run cannot be read as asked: there is no such run, or its labels are gone."""


def utc_now() -> datetime:
    """Now, in UTC: every timestamp the store writes."""
    return datetime.now(timezone.utc)


def _training_sql(keep_uncovered: bool, key_range: bool = False) -> str:
    """A run's labels on one split's examples (parameters: run id, split, and with ``key_range``
    the range's first and last key), in store order."""
    covered = "" if keep_uncovered else "AND l.n_votes > 0"
    keys = "AND l.ex_key BETWEEN ? AND ?" if key_range else ""
    return (
        "SELECT e.example_id, e.data, l.* EXCLUDE (run_id, ex_key) FROM labels l JOIN examples e USING (ex_key) "
        f"WHERE l.run_id = ? AND e.split = ? {covered} {keys} ORDER BY l.ex_key"
    )


def key_ranges(span: tuple[int, int] | None, batch_keys: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of ``batch_keys`` keys, as (first, last), across ``span`` (its first and
    last key; None: no range): how large runs are read a part at a time."""
    if span is None:
        return
    for first in range(span[0], span[1] + 1, batch_keys):
        yield first, min(first + batch_keys - 1, span[1])


class RunRecords:
    """Runs and their labels (see the module docstring)."""

    con: duckdb.DuckDBPyConnection
    path: Path

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run a read-only SQL query and return a polars frame (for notebooks and tests: weaksup's
        own code reads through the named methods)."""
        return self.con.sql(sql, params=params or None).pl()

    def key_range_batches(
        self, sql: str, params: Sequence[Any], span: tuple[int, int] | None, batch_keys: int
    ) -> Iterator[pl.DataFrame]:
        """``sql`` once per range of ``batch_keys`` keys across ``span`` (its first and last key;
        None: no rows), through a cursor of its own; the range's first and last key are its last two
        parameters.  Where keys are unique (an example's, or a run's labels), each frame holds at
        most ``batch_keys`` rows, and DuckDB joins and sorts one range at a time instead of every
        row at once (a 10M-row join and sort ran out of a 256 MB memory limit).  Empty ranges are
        skipped."""
        if span is None:
            return
        cursor = self.con.cursor()
        try:
            for first, last in key_ranges(span, batch_keys):
                frame = cursor.sql(sql, params=[*params, first, last]).pl()
                if frame.height:
                    yield frame
        finally:
            cursor.close()

    def mark_dead_runs(self) -> int:
        """Mark runs still ``running`` as ``interrupted``: they are from dead processes (the caller
        holds the only write lock).  Returns how many there were."""
        return int(self.con.execute(
            "UPDATE runs SET status = 'interrupted', error = 'the process ended before the run finished', "
            "finished_at = coalesce(finished_at, ?) WHERE status = 'running'",
            [utc_now()],
        ).fetchall()[0][0])  # fmt: skip

    def start_run(self, pipeline: str, params: dict[str, Any], pipeline_hash: str | None = None) -> int:
        """Record a new run as ``running`` (after :meth:`mark_dead_runs`, so no other run is)."""
        self.mark_dead_runs()
        run_id = self.con.execute("SELECT nextval('run_id_seq')").fetchall()[0][0]
        self.con.execute(
            "INSERT INTO runs (run_id, pipeline, pipeline_hash, params, status, started_at) "
            "VALUES (?, ?, ?, ?, 'running', ?)",
            [run_id, pipeline, pipeline_hash, json.dumps(params, default=str), utc_now()],
        )
        return int(run_id)

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        lf_versions: dict[str, str] | None = None,
        data_fingerprint: str | None = None,
        lf_summary: list[dict[str, Any]] | None = None,
    ) -> None:
        """Close a run as ``succeeded``, ``failed``, ``interrupted`` or ``skipped`` (nothing had changed
        since the last succeeded run: no outputs of its own)."""
        if status not in ("succeeded", "failed", "interrupted", "skipped"):
            raise ValueError(f"unknown run status {status!r}")
        self.con.execute(
            "UPDATE runs SET status = ?, finished_at = ?, metrics = ?, error = ?, lf_versions = ?, "
            "data_fingerprint = ?, lf_summary = ? WHERE run_id = ?",
            [
                status,
                utc_now(),
                json.dumps(metrics or {}, default=float),
                error,
                json.dumps(lf_versions or {}),
                data_fingerprint,
                json.dumps(lf_summary) if lf_summary is not None else None,
                run_id,
            ],
        )

    def set_export_dir(self, run_id: int, folder: str | None) -> None:
        """Record the folder a run writes its exports to, by its name under the pipeline's ``export.dir``
        (before it writes any, so a crash can be cleaned up)."""
        self.con.execute("UPDATE runs SET export_dir = ? WHERE run_id = ?", [folder, run_id])

    def discard_unfinished(self) -> list[str]:
        """Delete the labels of failed and interrupted runs; return their export folders
        (for the caller to remove: only succeeded runs keep outputs)."""
        self.con.execute("BEGIN")
        self.con.execute(
            "DELETE FROM labels WHERE run_id IN (SELECT run_id FROM runs WHERE status IN ('failed', 'interrupted'))"
        )
        dirs = self.con.execute(
            "SELECT export_dir FROM runs WHERE status IN ('failed', 'interrupted') AND export_dir IS NOT NULL"
        ).fetchall()
        self.con.execute("COMMIT")
        return [d[0] for d in dirs]

    def runs(self) -> pl.DataFrame:
        """All runs, newest first."""
        return self.query("SELECT * FROM runs ORDER BY run_id DESC")

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
        con = self.con
        con.execute("BEGIN")
        try:
            keep_table = pa.table({"run_id": pa.array(sorted(keep), pa.int64())})
            con.register("keep_runs", keep_table)
            counts = {
                "labels": con.execute(
                    "DELETE FROM labels WHERE run_id NOT IN (SELECT run_id FROM keep_runs)"
                ).fetchall()[0][0],
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
            counts["retired_examples"] = con.execute(
                "DELETE FROM examples WHERE retired_run <= ?", [first]
            ).fetchall()[0][0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
        return {k: int(v) for k, v in counts.items()}

    def run_record(self, run_id: int) -> dict[str, Any]:
        """Run ``run_id``'s ``status``, ``params`` (the validated pipeline), ``lf_versions`` and
        ``labels`` (how many it keeps); :class:`RunError` if there is no such run."""
        rows = self.con.execute("SELECT status, params, lf_versions FROM runs WHERE run_id = ?", [run_id]).fetchall()
        if not rows:
            last = self.con.execute("SELECT max(run_id) FROM runs").fetchall()[0][0]
            raise RunError(f"there is no run {run_id} in {self.path} (runs go up to {last})")
        status, params, versions = rows[0]
        n = self.con.execute("SELECT count(*) FROM labels WHERE run_id = ?", [run_id]).fetchall()[0][0]
        return {"status": status, "params": json.loads(params or "{}"), "lf_versions": json.loads(versions or "{}"),
                "labels": int(n)}  # fmt: skip

    def labeled_run(self, run_id: int, purpose: str = "") -> dict[str, Any]:
        """:meth:`run_record` of a run that still has its labels; :class:`RunError` saying why they
        are gone otherwise (``run N has no labels<purpose>: it was pruned by `weaksup gc```, or it
        failed or was interrupted)."""
        record = self.run_record(run_id)
        if record["labels"] == 0:
            status = record["status"]
            why = "it was pruned by `weaksup gc`" if status == "succeeded" else f"it {status}"
            raise RunError(f"run {run_id} has no labels{purpose}: {why}")
        return record

    def training_rows(self, run_id: int, split: str, keep_uncovered: bool) -> pl.DataFrame:
        """Run ``run_id``'s labels on the examples of ``split`` (only those with votes unless
        ``keep_uncovered``), with each example's id and input columns (JSON), in store order."""
        return self.query(_training_sql(keep_uncovered), [run_id, split])

    def training_row_batches(
        self, run_id: int, split: str, keep_uncovered: bool, batch_rows: int = 100_000
    ) -> Iterator[pl.DataFrame]:
        """:meth:`training_rows`, at most ``batch_rows`` at a time (by key range: see
        :meth:`key_range_batches`): a streamed run's training set is exported batch by batch."""
        sql = _training_sql(keep_uncovered, key_range=True)
        return self.key_range_batches(sql, [run_id, split], self.label_key_range(run_id), batch_rows)

    def label_key_range(self, run_id: int) -> tuple[int, int] | None:
        """The smallest and largest ``ex_key`` run ``run_id`` labeled (None: it has no labels)."""
        return self.key_span("FROM labels WHERE run_id = ?", [run_id])

    def key_span(self, rows: str, params: Sequence[Any]) -> tuple[int, int] | None:
        """The smallest and largest ``ex_key`` of the rows ``rows`` selects (a ``FROM ... WHERE``
        clause of weaksup's own, with ``params``); None when there are none."""
        lo, hi = self.con.execute(f"SELECT min(ex_key), max(ex_key) {rows}", list(params)).fetchall()[0]
        return None if lo is None else (int(lo), int(hi))

    def last_succeeded_run(self, pipeline: str | None = None) -> dict[str, Any] | None:
        """The newest succeeded run (of ``pipeline``, or of any): its ``run_id``, ``lf_summary`` (rows),
        ``lf_versions``, ``pipeline_hash``, ``data_fingerprint``, ``export_dir`` and ``metrics``; None if none."""
        where = "AND pipeline = ?" if pipeline is not None else ""
        rows = self.con.execute(
            "SELECT run_id, lf_summary, lf_versions, pipeline_hash, data_fingerprint, export_dir, metrics FROM runs "
            f"WHERE status = 'succeeded' {where} ORDER BY run_id DESC LIMIT 1",
            [pipeline] if pipeline is not None else [],
        ).fetchall()
        if not rows:
            return None
        run_id, summary, versions, pipeline_hash, fingerprint, export_dir, metrics = rows[0]
        return {"run_id": run_id, "lf_summary": json.loads(summary) if summary else None,
                "lf_versions": json.loads(versions or "{}"), "pipeline_hash": pipeline_hash,
                "data_fingerprint": fingerprint, "export_dir": export_dir,
                "metrics": json.loads(metrics or "{}")}  # fmt: skip

    def history(self) -> pl.DataFrame:
        """Every run's record, oldest first (``weaksup history`` mirrors it to a JSON file)."""
        return self.query(
            "SELECT run_id, pipeline, status, started_at, finished_at, error, pipeline_hash, data_fingerprint, "
            "export_dir, params, metrics, lf_versions FROM runs ORDER BY run_id"
        )

    def lf_versions(self) -> pl.DataFrame:
        """Every LF version in the store: when it was used, its votes, watermark and errors."""
        return self.query(
            "SELECT l.lf_name, l.lf_version, l.kind, l.first_run, l.last_run, "
            "coalesce(v.votes, 0) AS votes, p.applied_through, coalesce(e.errors, 0) AS errors "
            "FROM lfs l "
            "LEFT JOIN (SELECT lf_name, lf_version, count(*) AS votes FROM votes GROUP BY ALL) v USING (lf_name, lf_version) "
            "LEFT JOIN (SELECT lf_name, lf_version, max(applied_through) AS applied_through FROM lf_progress GROUP BY ALL) p "
            "USING (lf_name, lf_version) "
            "LEFT JOIN (SELECT lf_name, lf_version, count(*) AS errors FROM lf_errors GROUP BY ALL) e "
            "USING (lf_name, lf_version) "
            "ORDER BY l.lf_name, l.first_run"
        )

    def label_changes(self, run_a: int, run_b: int) -> dict[str, int]:
        """How the labels of run ``run_b`` differ from run ``run_a``'s, by example id."""
        got = self.query(
            "WITH la AS (SELECT e.example_id, l.ex_key, l.label, l.value, l.ranking FROM labels l "
            "JOIN examples e USING (ex_key) WHERE l.run_id = ?), "
            "lb AS (SELECT e.example_id, l.ex_key, l.label, l.value, l.ranking FROM labels l "
            "JOIN examples e USING (ex_key) WHERE l.run_id = ?) "
            "SELECT count(la.example_id) AS examples_a, count(lb.example_id) AS examples_b, "
            "count(*) FILTER (la.example_id IS NOT NULL AND lb.example_id IS NOT NULL) AS in_both, "
            "count(*) FILTER (lb.example_id IS NULL) AS only_in_a, count(*) FILTER (la.example_id IS NULL) AS only_in_b, "
            "count(*) FILTER (la.ex_key <> lb.ex_key) AS content_changed, "
            "count(*) FILTER (la.example_id IS NOT NULL AND lb.example_id IS NOT NULL AND "
            "(la.label IS DISTINCT FROM lb.label OR la.value IS DISTINCT FROM lb.value "
            "OR la.ranking IS DISTINCT FROM lb.ranking)) AS labels_changed "
            "FROM la FULL JOIN lb USING (example_id)",
            [run_a, run_b],
        ).to_dicts()[0]
        return {k: int(v) for k, v in got.items()}

    def vote_changes(self, run_a: int, run_b: int, name: str, va: str, vb: str) -> dict[str, int]:
        """Votes of versions ``va`` and ``vb`` of LF ``name`` compared on the examples both runs
        labeled with unchanged content (abstain counts as a vote value); :class:`RunError` when
        a version's votes were pruned."""
        applied = self.con.execute(
            "SELECT count(*) FROM lf_progress WHERE lf_name = ? AND lf_version IN (?, ?)", [name, va, vb]
        ).fetchall()[0][0]
        if applied < 2:
            raise RunError(f"the votes of an older version of LF {name!r} were pruned by `weaksup gc`; cannot diff")
        got = self.query(
            "WITH keys AS (SELECT ex_key FROM labels WHERE run_id = ? INTERSECT SELECT ex_key FROM labels WHERE run_id = ?), "
            "va AS (SELECT ex_key, label, value, ranking, payload FROM votes WHERE lf_name = ? AND lf_version = ?), "
            "vb AS (SELECT ex_key, label, value, ranking, payload FROM votes WHERE lf_name = ? AND lf_version = ?) "
            "SELECT count(*) AS compared, count(*) FILTER (va.label IS DISTINCT FROM vb.label "
            "OR va.value IS DISTINCT FROM vb.value OR va.ranking IS DISTINCT FROM vb.ranking "
            "OR va.payload::VARCHAR IS DISTINCT FROM vb.payload::VARCHAR) AS votes_changed "
            "FROM keys LEFT JOIN va USING (ex_key) LEFT JOIN vb USING (ex_key)",
            [run_a, run_b, name, va, name, vb],
        ).to_dicts()[0]
        return {k: int(v) for k, v in got.items()}
