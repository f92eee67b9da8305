"""Runs that are right about themselves: gold is part of what a run saw, a kill in the report
window leaves status, history and store agreeing, strict mode counts errors earlier runs
recorded, and a SIGTERM after a run succeeded neither flips its record nor its exit status.
Real runs in subprocesses, on real stores."""

from __future__ import annotations

import json
import shutil
import signal
import textwrap
from pathlib import Path

import polars as pl
from support.project import ROOT, make_project, query, weaksup


def _statuses(store: Path) -> list[str]:
    return query(store, "SELECT status FROM runs ORDER BY run_id")["status"].to_list()


def _metrics(store: Path, run_id: int) -> dict:
    return json.loads(query(store, "SELECT metrics FROM runs WHERE run_id = ?", [run_id])["metrics"][0])


def test_flipping_every_gold_label_reruns_and_rescores(tmp_path):
    pipeline = make_project(tmp_path)
    files = sorted((tmp_path / "incoming").glob("*.csv"))
    for path in files:  # written by polars, so that rewriting it below changes the gold only
        pl.read_csv(path).write_csv(path)
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).returncode == 0
    for path in files:
        pl.read_csv(path).with_columns((1 - pl.col("CLASS")).alias("CLASS")).write_csv(path)
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(0 new, 0 changed, 0 retired, 700 unchanged)" in proc.stdout  # the examples are the same...
    assert "nothing changed" not in proc.stdout  # ...but the gold is not
    store = tmp_path / "store.duckdb"
    assert _statuses(store) == ["succeeded", "succeeded"]
    before, after = _metrics(store, 1), _metrics(store, 2)
    keys = [k for k in before if k.startswith("label_model_accuracy_") and not k.endswith("covered_train")]
    assert keys
    for key in keys:  # the same labels scored against the flipped gold
        assert abs(after[key] - (1 - before[key])) < 1e-9, key
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).stdout.count("nothing changed") == 1  # and now it is


def test_scaling_regression_gold_reruns(tmp_path):
    data = tmp_path / "movies.csv"
    shutil.copy(ROOT / "data" / "uws_movies" / "movies.csv", data)
    pipeline = tmp_path / "p.toml"
    text = (ROOT / "pipelines" / "movies_regression.toml").read_text()
    text = (text.replace('store = "../stores/movies_regression.duckdb"', 'store = "store.duckdb"')
            .replace('"../data/uws_movies/movies.csv"', f'"{data}"')
            .replace('"../labeling_functions/movies.py"', f'"{ROOT / "labeling_functions" / "movies.py"}"')
            .replace('name = "soft_regressor"', 'name = "none"').replace("params = { max_iter = 200 }", "")
            .replace('dir = "../exports/movies_regression"', 'dir = "exports"\nreport = false'))  # fmt: skip
    pipeline.write_text(text)
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path, timeout=300).returncode == 0
    pl.read_csv(data).with_columns(pl.col("vote_average") * 10).write_csv(data)
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "nothing changed" not in proc.stdout
    labels = query(tmp_path / "store.duckdb", "SELECT run_id, avg(value) AS mean FROM labels GROUP BY run_id ORDER BY 1")
    first, second = labels["mean"].to_list()
    assert abs(second / first - 10) < 0.5  # y's scale comes from the gold: ten times larger now


def test_a_kill_in_the_report_window_leaves_status_history_and_store_agreeing(tmp_path):
    pipeline = make_project(tmp_path)
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).returncode == 0
    killed = weaksup("run", str(pipeline), "--quiet", "--force", cwd=tmp_path, env={"WEAKSUP_CRASH_AT": "run.recorded"})
    assert killed.returncode == -signal.SIGKILL
    store = tmp_path / "store.duckdb"
    recorded = _statuses(store)[-1]
    assert recorded == "succeeded"  # its outputs were complete, its record written: only its report was not
    status = weaksup("status", str(pipeline), cwd=tmp_path).stdout
    assert f"run 2 (yt): {recorded}" in status, status
    history = json.loads(weaksup("history", str(pipeline), "--json", cwd=tmp_path).stdout)
    assert history[-1]["run_id"] == 2 and history[-1]["status"] == recorded
    assert history[-1]["metrics"]["n_examples"] > 0

    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)  # nothing changed since run 2
    assert proc.returncode == 0, proc.stderr
    assert "nothing changed since run 2" in proc.stdout
    exports = tmp_path / "exports"
    latest = exports / (exports / "LATEST").read_text().strip()
    assert latest.name == "run-0002"
    assert (latest / "report.html").exists() and (latest / "manifest.json").exists()


def test_strict_fails_a_run_on_errors_an_earlier_run_recorded(tmp_path):
    lfs = (tmp_path / "lfs.py")
    pipeline = make_project(tmp_path)
    lfs.write_text(lfs.read_text() + textwrap.dedent('''

        @labeling_function()
        def fragile(x):
            if "love" in x.text.lower():
                raise ValueError("cannot judge love")
            return ABSTAIN
    '''))
    first = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert first.returncode == 0 and "warning: LF 'fragile' raised" in first.stdout
    proc = weaksup("run", str(pipeline), "--quiet", "--set", "lfs.strict=true", cwd=tmp_path)
    assert proc.returncode == 1
    assert "LF 'fragile'" in proc.stderr and "cannot judge love" in proc.stderr and "strict" in proc.stderr
    assert "--reapply-failed" in proc.stderr
    store = tmp_path / "store.duckdb"
    assert _statuses(store) == ["succeeded", "failed"]
    assert not (tmp_path / "exports" / "run-0002").exists()


SITE = '''
import os, signal, atexit
when = os.environ.get("SIGTERM_AT")
if when == "exit":  # while the interpreter shuts down, after the command returned
    atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))
elif when == "finished":  # as the run writes its final status, after its record says succeeded
    import weaksup.pipeline.status as status
    original = status.StatusBoard.finish
    def finish(self, state, error=None):
        if state == "succeeded":
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, state, error)
    status.StatusBoard.finish = finish
'''


def test_sigterm_at_the_very_end_of_a_successful_run_exits_0(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE)
    pipeline = make_project(tmp_path)
    env = {"PYTHONPATH": f"{site}:{ROOT}"}
    store = tmp_path / "store.duckdb"
    for n, when in enumerate(("exit", "finished"), start=1):
        proc = weaksup("run", str(pipeline), "--quiet", "--force", cwd=tmp_path, env={**env, "SIGTERM_AT": when})
        assert proc.returncode == 0, (when, proc.returncode, proc.stderr)
        assert _statuses(store)[-1] == "succeeded", when
        assert (tmp_path / "exports" / "LATEST").read_text().strip() == f"run-{n:04d}"
        assert f"run {n} (yt): succeeded" in weaksup("status", str(pipeline), cwd=tmp_path).stdout
