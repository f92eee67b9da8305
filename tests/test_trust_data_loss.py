"""No data loss: gc in a copied project, a closed stdout, a killed run's leftovers, clashing input columns.
Each through the real CLI on a real store."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import duckdb
import polars as pl
import pytest
from support.project import ROOT, make_project, query, weaksup


def _run(pipeline, cwd) -> None:  # type: ignore[no-untyped-def]
    proc = weaksup("run", str(pipeline), "--quiet", cwd=cwd)
    assert proc.returncode == 0, proc.stderr


def _folders(exports) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.name for p in exports.iterdir() if p.is_dir())


def test_gc_in_a_copied_project_leaves_the_original_alone(tmp_path):
    original = tmp_path / "original"
    pipeline = make_project(original)
    for _ in range(3):
        assert weaksup("run", str(pipeline), "--quiet", "--force", cwd=tmp_path).returncode == 0
    assert _folders(original / "exports") == ["run-0001", "run-0002", "run-0003"]
    # Stores written by earlier versions hold absolute folders: make run 1's point at the original.
    con = duckdb.connect(str(original / "store.duckdb"))
    con.execute("UPDATE runs SET export_dir = ? WHERE run_id = 1", [str(original / "exports" / "run-0001")])
    con.close()

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    proc = weaksup("gc", str(copy / "p.toml"), "--keep", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _folders(original / "exports") == ["run-0001", "run-0002", "run-0003"]  # untouched
    # In the copy, run 2's folder (recorded by name) goes; run 1's absolute path lies outside the copy: kept.
    assert _folders(copy / "exports") == ["run-0001", "run-0003"]
    assert "1 export folders" in proc.stdout


def test_a_closed_stdout_does_not_fail_a_finished_run(tmp_path):
    pipeline = make_project(tmp_path)
    cmd = f"{sys.executable} -m weaksup.cli run {pipeline} --quiet | head -1"  # unbuffered: each line is a write
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("run 1: ")
    store = tmp_path / "store.duckdb"
    assert query(store, "SELECT status FROM runs")["status"].to_list() == ["succeeded"]
    exports = tmp_path / "exports"
    latest = exports / (exports / "LATEST").read_text().strip()
    assert (latest / "manifest.json").exists()  # the README's reader snippet works
    assert pl.read_parquet(latest / "training_set.parquet").height > 0


def test_the_next_run_removes_a_killed_runs_leftovers(tmp_path):
    pipeline = make_project(tmp_path)
    _run(pipeline, tmp_path)
    killed = weaksup("run", str(pipeline), "--quiet", "--force", cwd=tmp_path, env={"WEAKSUP_CRASH_AT": "run.exported"})
    assert killed.returncode == -signal.SIGKILL
    assert _folders(tmp_path / "exports") == ["run-0001", "run-0002"]

    _run(pipeline, tmp_path)  # the next run cleans up after the killed one (and, nothing new, reuses run 1)
    store = tmp_path / "store.duckdb"
    assert _folders(tmp_path / "exports") == ["run-0001"]
    assert query(store, "SELECT DISTINCT run_id FROM labels ORDER BY 1")["run_id"].to_list() == [1]
    assert query(store, "SELECT status FROM runs ORDER BY run_id")["status"].to_list() == [
        "succeeded", "interrupted", "skipped"]  # fmt: skip


@pytest.mark.parametrize("column", ["confidence", "label_name", "prob_SPAM"])
def test_input_columns_the_training_set_would_overwrite_are_refused(tmp_path, column):
    pipeline = make_project(tmp_path, extra="")
    text = pipeline.read_text().replace('rename = { CONTENT = "text" }', f'rename = {{ CONTENT = "text", DATE = "{column}" }}')
    pipeline.write_text(text)
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"the data has columns ['{column}'], which weaksup's training set writes its labels under" in proc.stderr
    assert f'rename = {{ {column} = "input_{column}" }}' in proc.stderr
    assert query(tmp_path / "store.duckdb", "SELECT count(*) AS n FROM votes")["n"][0] == 0  # stopped before any LF ran


def test_status_after_a_sigkill_says_when_the_run_was_found_dead(tmp_path):
    pipeline = make_project(tmp_path)
    first = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path, env={"WEAKSUP_CRASH_AT": "run.labels_written"})
    second = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path, env={"WEAKSUP_CRASH_AT": "run.started"})
    assert first.returncode == second.returncode == -signal.SIGKILL
    status = weaksup("status", str(pipeline), cwd=tmp_path)
    finished = status.stdout.split("last finished run:")[1]
    assert "run 2 interrupted at 20" in finished and "None" not in finished and "unknown" not in finished
    assert "ended before the run finished (last heard from at 20" in finished
