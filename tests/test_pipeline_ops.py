"""Runs as jobs: status and history during a run, a second run waiting or refused, SIGTERM, failures."""

from __future__ import annotations

import json
import signal

import duckdb
import pytest
from support.project import LFS, make_project, query, spawn, status_file, wait_for, weaksup

from weaksup.cli import main

# An LF that holds the run on its 350th example until the test creates the release file: by then
# 3 chunks of 100 examples are committed, and the run is in the middle of applying LFs.
GATE = '''
import os, time

_calls = [0]


@labeling_function()
def gate(x):
    _calls[0] += 1
    while _calls[0] == 350 and not os.path.exists(os.environ["RELEASE_FILE"]):
        time.sleep(0.02)
    return ABSTAIN
'''


@pytest.fixture
def gated(tmp_path):
    release = tmp_path / "release"
    pipeline = make_project(tmp_path, lfs=LFS + GATE, chunk_size=100)
    return pipeline, release, {"RELEASE_FILE": str(release)}


def _applying(store):  # type: ignore[no-untyped-def]
    state = status_file(store)
    return state and state["phase"] == "applying LFs" and state["done"] == 300 * 7


def test_status_history_and_a_second_run_while_a_run_holds_the_store(gated, tmp_path, capsys):
    pipeline, release, env = gated
    store = tmp_path / "store.duckdb"
    first = spawn("run", str(pipeline), "--quiet", cwd=tmp_path, log=tmp_path / "first.log", env=env)
    try:
        wait_for(lambda: _applying(store), what="the first run to commit 3 chunks")
        with pytest.raises(duckdb.IOException):  # why status cannot simply read the store
            duckdb.connect(str(store), read_only=True)

        status = weaksup("status", str(pipeline), cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert f"run 1 (yt): running, pid {first.pid}" in status.stdout
        assert "phase: applying LFs" in status.stdout and "2,100 of 4,900 done (43%)" in status.stdout

        capsys.readouterr()
        assert main(["history", str(pipeline), "--json"]) == 0
        runs = json.loads(capsys.readouterr().out)
        assert [(r["run_id"], r["status"], r["phase"]) for r in runs] == [(1, "running", "applying LFs")]
        assert main(["history", str(pipeline)]) == 0
        assert "running (applying LFs)" in capsys.readouterr().out

        busy = weaksup("run", str(pipeline), "--quiet", "--no-wait", cwd=tmp_path)
        assert busy.returncode == 75
        assert "busy with `weaksup run" in busy.stderr and f"pid {first.pid}" in busy.stderr
        assert "run 1 is applying LFs; not waiting (--no-wait)" in busy.stderr
        assert main(["lfs", str(pipeline), "--no-wait"]) == 75
        assert "not waiting (--no-wait)" in capsys.readouterr().err

        second = spawn("run", str(pipeline), "--quiet", cwd=tmp_path, log=tmp_path / "second.log", env=env)
        wait_for(lambda: "waiting for it to finish" in (tmp_path / "second.log").read_text(), what="the waiting message")
        assert second.poll() is None  # still waiting
        release.touch()
        assert first.wait(60) == 0, (tmp_path / "first.log").read_text()
        assert second.wait(60) == 0, (tmp_path / "second.log").read_text()
    finally:
        release.touch()
        first.kill()

    runs = query(store, "SELECT run_id, status, started_at, finished_at, metrics FROM runs ORDER BY run_id").rows()
    assert [r[1] for r in runs] == ["succeeded", "skipped"]  # the second found nothing new once it got the store
    assert runs[1][2] >= runs[0][3]  # the second run started after the first ended
    assert json.loads(runs[1][4])["lf_applications"] == 0
    dupes = query(store, "SELECT count(*) AS n FROM (SELECT 1 FROM votes GROUP BY lf_name, lf_version, ex_key HAVING count(*) > 1)")
    assert dupes["n"][0] == 0 and query(store, "SELECT count(*) AS n FROM votes")["n"][0] > 0


def test_sigterm_records_an_interrupted_run_and_keeps_its_committed_chunks(gated, tmp_path):
    pipeline, release, env = gated
    store = tmp_path / "store.duckdb"
    proc = spawn("run", str(pipeline), "--quiet", cwd=tmp_path, log=tmp_path / "run.log", env=env)
    try:
        wait_for(lambda: _applying(store), what="the run to commit 3 chunks")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 130
    finally:
        proc.kill()
    assert "error: interrupted" in (tmp_path / "run.log").read_text()
    assert query(store, "SELECT status, error FROM runs").rows() == [("interrupted", "interrupted (Ctrl-C or SIGTERM)")]
    assert status_file(store)["status"] == "interrupted"
    release.touch()
    again = weaksup("run", str(pipeline), cwd=tmp_path, env=env)  # no --quiet, but no TTY either: no bars
    assert again.returncode == 0, again.stderr
    assert again.stderr == "" and "\r" not in again.stdout and "run 2: 700 examples" in again.stdout
    metrics = json.loads(query(store, "SELECT metrics FROM runs WHERE run_id = 2")["metrics"][0])
    assert metrics["lf_applications"] == (700 - 300) * 7  # the 3 committed chunks are not redone


def test_a_failed_run_exits_1_is_recorded_and_leaves_no_outputs(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    code = main(["run", str(pipeline), "--quiet", "--set", "trainer.name=tfidf_logreg", "--set", "trainer.text_column=body"])
    assert code == 1
    assert "error: trainer.text_column 'body' is not in the data" in capsys.readouterr().err
    store = tmp_path / "store.duckdb"
    rows = query(store, "SELECT status, error FROM runs").rows()
    assert rows[0][0] == "failed" and "trainer.text_column 'body'" in rows[0][1]
    # The run got as far as exporting; its labels and folder are gone and LATEST was never written.
    assert query(store, "SELECT count(*) AS n FROM labels")["n"][0] == 0
    assert not (tmp_path / "exports" / "run-0001").exists() and not (tmp_path / "exports" / "LATEST").exists()
    assert main(["status", str(pipeline)]) == 0
    assert "run 1 (yt): failed: ValueError: trainer.text_column 'body'" in capsys.readouterr().out
