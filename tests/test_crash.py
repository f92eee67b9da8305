"""SIGKILL at several points of real runs: the store stays consistent and the next run finishes the work
without duplicate or lost votes (the runner kills itself where WEAKSUP_CRASH_AT says)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import polars as pl
from support.project import last_labels, make_project, query, weaksup

from weaksup.pipeline import run_pipeline
from weaksup.pipeline.settle import settle_dead_run
from weaksup.pipeline.status import format_status
from weaksup.store import VoteStore

# (crash point, what must hold right after the kill)
KILLS = [
    "sync_examples.before_commit",  # inside the examples transaction
    "commit_votes.after_commit:3",  # after 3 chunks of votes committed
    "commit_votes.before_commit:2",  # inside the 2nd chunk's transaction (the 1st of this run landed)
    "run.labels_written",
    "run.exported",  # the run folder is complete, the run not yet recorded as succeeded
    "run.finished",  # recorded as succeeded, LATEST not yet moved
]


def _votes_by_id(store) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return query(
        store,
        "SELECT v.lf_name, v.lf_version, e.example_id, v.label FROM votes v JOIN examples e USING (ex_key) "
        "ORDER BY ALL",
    )


def _check_consistent(store, reference: pl.DataFrame) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """No duplicate votes; each LF version's votes are exactly the reference votes up to its watermark."""
    dupes = query(store, "SELECT count(*) AS n FROM (SELECT lf_name, lf_version, ex_key FROM votes GROUP BY ALL "
                         "HAVING count(*) > 1)")  # fmt: skip
    assert dupes["n"][0] == 0
    marks = dict(query(store, "SELECT lf_name, applied_through FROM lf_progress").rows())
    got = query(
        store,
        "SELECT v.lf_name, v.lf_version, e.example_id, v.label, v.ex_key FROM votes v JOIN examples e USING (ex_key) "
        "ORDER BY ALL",
    )
    for name, mark in marks.items():
        mine = got.filter(pl.col("lf_name") == name)
        assert (mine["ex_key"] <= mark).all(), f"{name} has votes above its watermark"
        covered = query(store, "SELECT example_id FROM examples WHERE ex_key <= ? AND retired_run IS NULL", [mark])
        want = reference.filter((pl.col("lf_name") == name) & pl.col("example_id").is_in(covered["example_id"].implode()))
        assert mine.drop("ex_key").equals(want), f"{name}: votes differ from a clean run's up to key {mark}"
    return marks


def test_sigkill_at_any_point_leaves_a_consistent_store(tmp_path):
    reference_pipeline = make_project(tmp_path / "reference", chunk_size=100)
    run_pipeline(reference_pipeline, progress=False, say=lambda s: None)
    reference = _votes_by_id(tmp_path / "reference" / "store.duckdb")
    reference_labels = last_labels(tmp_path / "reference" / "store.duckdb")

    pipeline = make_project(tmp_path / "crash", chunk_size=100)
    store = tmp_path / "crash" / "store.duckdb"
    marks_seen = []
    for point in KILLS:
        proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path, env={"WEAKSUP_CRASH_AT": point})
        assert proc.returncode == -signal.SIGKILL, (point, proc.stderr)
        marks = _check_consistent(store, reference)
        marks_seen.append(sorted(set(marks.values())))
        # Status tells what the store recorded (settled as `weaksup status` does): a run dead before its
        # record reads interrupted, one killed after it (run.finished) succeeded.
        recorded = query(store, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1")["status"][0]
        settle_dead_run(store)
        assert ("interrupted" if recorded == "running" else recorded) in format_status(store).splitlines()[1], point

    keys = query(store, "SELECT ex_key FROM examples ORDER BY ex_key")["ex_key"].to_list()
    # Killed mid-sync: nothing committed.  Then 3 chunks of 100; then one more chunk (the 2nd was lost).
    assert marks_seen[0] == []
    assert marks_seen[1] == [keys[299]]
    assert marks_seen[2] == [keys[399]]
    assert marks_seen[3] == [keys[-1]]

    final = weaksup("run", str(pipeline), "--quiet", "--force", cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    assert _votes_by_id(store).equals(reference)  # nothing duplicated, nothing lost
    labels = last_labels(store)
    assert labels["example_id"].to_list() == reference_labels["example_id"].to_list()
    assert np.abs(np.vstack(labels["probs"].to_list()) - np.vstack(reference_labels["probs"].to_list())).max() <= 1e-9

    runs = query(store, "SELECT run_id, status, error FROM runs ORDER BY run_id").rows()
    assert [r[1] for r in runs] == ["interrupted"] * 5 + ["succeeded", "succeeded"]
    assert all("ended before the run finished" in r[2] for r in runs[:5])
    # Only succeeded runs keep labels and export folders; LATEST names the last one.
    assert query(store, "SELECT DISTINCT run_id FROM labels ORDER BY 1")["run_id"].to_list() == [6, 7]
    exports = tmp_path / "crash" / "exports"
    assert sorted(p.name for p in exports.iterdir() if p.is_dir()) == ["run-0006", "run-0007"]
    assert (exports / "LATEST").read_text().strip() == "run-0007"
    manifest = json.loads((exports / "run-0007" / "manifest.json").read_text())
    assert manifest["run_id"] == 7 and manifest["metrics"]["lf_applications"] == 0


def test_a_run_killed_between_label_transactions_keeps_no_labels(tmp_path):
    """Labels are written in transactions of bounded size: a process killed between two leaves the
    first committed, and the next run, finding the run dead, deletes them with it."""
    store = tmp_path / "s.duckdb"
    script = (
        "import sys, numpy as np, polars as pl\n"
        "from weaksup.store import VoteStore\n"
        "with VoteStore(sys.argv[1]) as store:\n"
        "    run = store.runs.start('p', {})\n"
        "    frame = pl.DataFrame({'example_id': [str(i) for i in range(10)], 'text': ['t'] * 10})\n"
        "    keys = store.examples.sync('d', frame, run).ex_keys\n"
        "    labels = pl.DataFrame({'ex_key': keys, 'label': np.zeros(10, np.int32), 'n_votes': np.ones(10, np.int32)})\n"
        "    store.runs.write_labels(run, labels, batch_rows=3)\n"
    )
    env = {**os.environ, "WEAKSUP_CRASH_AT": "write_labels.after_commit:2"}
    proc = subprocess.run([sys.executable, "-c", script, str(store)], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert query(store, "SELECT count(*) AS n FROM labels")["n"][0] == 6  # two batches of 3 landed
    with VoteStore(store) as opened:  # what `weaksup run` does first
        assert opened.runs.mark_dead() == 1
        opened.runs.discard_unfinished()
    assert query(store, "SELECT count(*) AS n FROM labels")["n"][0] == 0
