"""The runs and their labels: each run's record, from start to finish, and the labels it wrote.

``runs`` holds one row per run (never deleted: the history), ``labels`` each succeeded run's
denoised labels.  Start and finish runs, clean up after unfinished ones, write a run's labels in
batches, and read back what the pipeline's outputs, history, ``weaksup lfs`` and ``weaksup diff``
need.  Every statement is parametrized.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

from weaksup import batches
from weaksup.store.connection import Tables, crash_point, utc_now

__all__ = ["RunError", "RunTable"]

_JSON = ("params", "metrics", "lf_versions")
"""The run columns holding JSON objects ({} when null); ``lf_summary`` holds rows (None when null)."""


class RunError(ValueError):
    """A run cannot be read as asked: there is no such run, or its labels are gone."""


def _training_sql(keep_uncovered: bool, key_range: bool = False) -> str:
    """A run's labels on one split's examples (parameters: run id, split, and with ``key_range``
    the range's first and last key), in store order."""
    covered = "" if keep_uncovered else "AND l.n_votes > 0"
    keys = "AND l.ex_key BETWEEN ? AND ?" if key_range else ""
    return (
        "SELECT e.example_id, e.split, e.data, l.* EXCLUDE (run_id, ex_key) FROM labels l JOIN examples e USING (ex_key) "
        f"WHERE l.run_id = ? AND e.split = ? {covered} {keys} ORDER BY l.ex_key"
    )


class RunTable(Tables):
    """Runs and their labels (see the module docstring)."""

    def store_id(self) -> str:
        """This store's id (``meta.store_id``): random, drawn when the store is first asked for it
        (the store must be open for writing then).  Export folders record it, so a run never writes
        into or deletes another store's (:mod:`weaksup.pipeline.owner`)."""
        rows = self._con.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchall()
        if rows:
            return str(rows[0][0])
        new = uuid.uuid4().hex
        self._con.execute("INSERT INTO meta VALUES ('store_id', ?)", [new])
        return new

    def mark_dead(self) -> int:
        """Mark runs still ``running`` as ``interrupted``: they are from dead processes (the caller
        holds the only write lock).  Returns how many there were."""
        return int(self._con.execute(
            "UPDATE runs SET status = 'interrupted', error = 'the process ended before the run finished', "
            "finished_at = coalesce(finished_at, ?) WHERE status = 'running'",
            [utc_now()],
        ).fetchall()[0][0])  # fmt: skip

    def start(self, pipeline: str, params: dict[str, Any], pipeline_hash: str | None = None) -> int:
        """Record a new run as ``running`` (after :meth:`mark_dead`, so no other run is)."""
        self.mark_dead()
        run_id = self._con.execute("SELECT nextval('run_id_seq')").fetchall()[0][0]
        self._con.execute(
            "INSERT INTO runs (run_id, pipeline, pipeline_hash, params, status, started_at) "
            "VALUES (?, ?, ?, ?, 'running', ?)",
            [run_id, pipeline, pipeline_hash, json.dumps(params, default=str), utc_now()],
        )
        return int(run_id)

    def finish(
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
        self._con.execute(
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
        self._con.execute("UPDATE runs SET export_dir = ? WHERE run_id = ?", [folder, run_id])

    def discard_unfinished(self) -> list[tuple[int, str]]:
        """Delete the labels of failed and interrupted runs; return their ids and export folders
        (for the caller to remove: only succeeded runs keep outputs)."""
        self._con.execute("BEGIN")
        self._con.execute(
            "DELETE FROM labels WHERE run_id IN (SELECT run_id FROM runs WHERE status IN ('failed', 'interrupted'))"
        )
        dirs = self._con.execute(
            "SELECT run_id, export_dir FROM runs WHERE status IN ('failed', 'interrupted') AND export_dir IS NOT NULL"
        ).fetchall()
        self._con.execute("COMMIT")
        return [(int(d[0]), str(d[1])) for d in dirs]

    def all(self) -> pl.DataFrame:
        """All runs, newest first."""
        return self._query("SELECT * FROM runs ORDER BY run_id DESC")

    def record(self, run_id: int | None = None) -> dict[str, Any]:
        """Run ``run_id``'s row (default: the newest succeeded run), its JSON columns decoded, with
        ``labels``: how many labels it keeps.  :class:`RunError` naming the run and the fix when
        there is none."""
        if run_id is None:
            rows = self._query("SELECT * FROM runs WHERE status = 'succeeded' ORDER BY run_id DESC LIMIT 1").to_dicts()
            if not rows:
                raise RunError(f"store {self._path} has no succeeded run yet; run the pipeline first (`weaksup run`)")
        else:
            rows = self._query("SELECT * FROM runs WHERE run_id = ?", [run_id]).to_dicts()
            if not rows:
                last = self._con.execute("SELECT max(run_id) FROM runs").fetchall()[0][0]
                raise RunError(f"there is no run {run_id} in {self._path} (runs go up to {last}); "
                               "`weaksup history` lists the runs")  # fmt: skip
        row = rows[0]
        for key in _JSON:
            row[key] = json.loads(row[key]) if row[key] else {}
        row["lf_summary"] = json.loads(row["lf_summary"]) if row["lf_summary"] else None
        row["labels"] = int(self._con.execute("SELECT count(*) FROM labels WHERE run_id = ?", [row["run_id"]]).fetchall()[0][0])
        return row

    def succeeded(self, run_id: int | None = None) -> dict[str, Any]:
        """:meth:`record` of a succeeded run; :class:`RunError` saying what became of any other."""
        row = self.record(run_id)
        if row["status"] != "succeeded":
            raise RunError(f"run {row['run_id']} {row['status']}: only succeeded runs have labels to report on")
        return row

    def labeled(self, run_id: int, purpose: str = "") -> dict[str, Any]:
        """:meth:`record` of a run that still has its labels; :class:`RunError` saying why they
        are gone otherwise (``run N has no labels<purpose>: it was pruned by `weaksup gc```, or it
        failed or was interrupted)."""
        record = self.record(run_id)
        if record["labels"] == 0:
            status = record["status"]
            why = "it was pruned by `weaksup gc`" if status == "succeeded" else f"it {status}"
            raise RunError(f"run {run_id} has no labels{purpose}: {why}")
        return record

    def last_succeeded(self, pipeline: str | None = None) -> dict[str, Any] | None:
        """The newest succeeded run (of ``pipeline``, or of any): its ``run_id``, ``lf_summary`` (rows),
        ``lf_versions``, ``pipeline_hash``, ``data_fingerprint``, ``export_dir`` and ``metrics``; None if none."""
        where = "AND pipeline = ?" if pipeline is not None else ""
        rows = self._con.execute(
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
        return self._query(
            "SELECT run_id, pipeline, status, started_at, finished_at, error, pipeline_hash, data_fingerprint, "
            "export_dir, params, metrics, lf_versions FROM runs ORDER BY run_id"
        )

    def label_changes(self, run_a: int, run_b: int) -> dict[str, int]:
        """How the labels of run ``run_b`` differ from run ``run_a``'s, by example id."""
        got = self._query(
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
        self._con.execute("DELETE FROM labels WHERE run_id = ?", [run_id])
        for part in [labels] if isinstance(labels, pl.DataFrame) else labels:
            frame = part.select([c for c in cols if c in part.columns])
            for start in range(0, frame.height, batch_rows):
                self._insert_labels(run_id, frame.slice(start, batch_rows))

    def _insert_labels(self, run_id: int, frame: pl.DataFrame) -> None:
        """One transaction of :meth:`write_labels`."""
        self._con.register("new_labels", frame.to_arrow())
        try:
            self._con.execute("BEGIN")
            self._con.execute(
                f"INSERT INTO labels (run_id, {', '.join(frame.columns)}) SELECT ?, * FROM new_labels", [run_id]
            )
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        finally:
            self._con.unregister("new_labels")
        crash_point("write_labels.after_commit")

    def training_rows(self, run_id: int, split: str, keep_uncovered: bool) -> pl.DataFrame:
        """Run ``run_id``'s labels on the examples of ``split`` (only those with votes unless
        ``keep_uncovered``), with each example's id, split and input columns (JSON), in store order."""
        return self._query(_training_sql(keep_uncovered), [run_id, split])

    def training_batches(
        self, run_id: int, split: str, keep_uncovered: bool, batch_rows: int = batches.EXPORT_ROWS
    ) -> Iterator[pl.DataFrame]:
        """:meth:`training_rows`, at most ``batch_rows`` at a time (by key range: see
        :meth:`key_range_batches`): a streamed run's training set is exported batch by batch."""
        sql = _training_sql(keep_uncovered, key_range=True)
        return self._key_range_batches(sql, [run_id, split], self.label_key_range(run_id), batch_rows)

    def label_key_range(self, run_id: int) -> tuple[int, int] | None:
        """The smallest and largest ``ex_key`` run ``run_id`` labeled (None: it has no labels)."""
        return self._key_span("FROM labels WHERE run_id = ?", [run_id])

