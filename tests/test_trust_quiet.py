"""Quiet when nothing changed: a run with nothing new neither refits nor exports, says so, and keeps LATEST
right; --force reruns."""

from __future__ import annotations

import signal

from support.project import make_project, query, weaksup


def _folders(exports) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.name for p in exports.iterdir() if p.is_dir())


def test_a_run_with_nothing_new_reuses_the_last_outputs(tmp_path):
    pipeline = make_project(tmp_path, extra="")
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).returncode == 0
    again = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing changed since run 1 (the same examples, LF versions, votes and settings)" in again.stdout
    assert "--force" in again.stdout and "LF summary" not in again.stdout
    exports, store = tmp_path / "exports", tmp_path / "store.duckdb"
    assert _folders(exports) == ["run-0001"] and (exports / "LATEST").read_text().strip() == "run-0001"
    assert query(store, "SELECT status FROM runs ORDER BY run_id")["status"].to_list() == ["succeeded", "skipped"]
    assert query(store, "SELECT DISTINCT run_id FROM labels")["run_id"].to_list() == [1]

    # A changed setting is a change: the label model's seed changes the run's outputs.
    changed = weaksup("run", str(pipeline), "--quiet", "--set", "label_model.seed=3", cwd=tmp_path)
    assert "nothing changed" not in changed.stdout and _folders(exports) == ["run-0001", "run-0003"]
    forced = weaksup("run", str(pipeline), "--quiet", "--set", "label_model.seed=3", "--force", cwd=tmp_path)
    assert "nothing changed" not in forced.stdout and _folders(exports)[-1] == "run-0004"
    assert (exports / "LATEST").read_text().strip() == "run-0004"


def test_a_skipped_run_moves_latest_that_a_killed_run_left_behind(tmp_path):
    pipeline = make_project(tmp_path)
    killed = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path, env={"WEAKSUP_CRASH_AT": "run.finished"})
    assert killed.returncode == -signal.SIGKILL  # recorded as succeeded, LATEST not yet written
    assert not (tmp_path / "exports" / "LATEST").exists()
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).returncode == 0
    assert (tmp_path / "exports" / "LATEST").read_text().strip() == "run-0001"
