"""The CLI: help on every command, and the README's cron lines run exactly as written."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from support.project import ROOT, query

from weaksup.cli import build_parser, main
from weaksup.pipeline.schedule import next_times

README = ROOT / "README.md"
COMMANDS = ["run", "schedule", "status", "history", "lfs", "export", "diff", "report", "gc", "predict", "estimate", "schema", "serve-model"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: weaksup {command}") and len(out.splitlines()) > 4


def test_the_top_level_help_lists_every_command(capsys):
    assert sorted(build_parser()._subparsers._group_actions[0].choices) == sorted(COMMANDS)  # type: ignore[union-attr]
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(re.search(rf"^    {c}\s", out, re.M) for c in COMMANDS)


def test_inspecting_a_store_that_does_not_exist(tmp_path, capsys):
    assert main(["lfs", str(tmp_path / "nope.duckdb")]) == 1
    assert "nope.duckdb does not exist: give a pipeline file (.toml) or a store file" in capsys.readouterr().err
    (tmp_path / "p.toml").write_text('name = "x"\nstore = "s.duckdb"\n')
    assert main(["status", str(tmp_path / "p.toml")]) == 0
    assert "no runs yet (run `weaksup run PIPELINE` first)" in capsys.readouterr().out
    assert main(["diff", str(tmp_path / "p.toml"), "1", "2"]) == 1
    assert "s.duckdb' does not exist; run a pipeline first" in capsys.readouterr().err


def _crontab() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The variables and (schedule, command) jobs of README.md's first ```cron block."""
    blocks = re.findall(r"```cron\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README.md has no ```cron block (merge the ops section drafted in /work/notes/README_ops.md)"
    env, jobs = {}, []
    for line in blocks[0].splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if var := re.fullmatch(r"([A-Za-z_]\w*)=(.*)", line):
            env[var[1]] = var[2]
        else:
            fields = line.split(None, 5)
            jobs.append((" ".join(fields[:5]), fields[5]))
    return env, jobs


def test_readme_cron_lines_work_as_written(tmp_path):
    env, jobs = _crontab()
    assert "WEAKSUP_HOME" in env and len(jobs) == 1
    schedule, command = jobs[0]
    assert "%" not in command  # cron would turn it into a newline
    # Over more than a week, the schedule fires on weekdays only.
    assert {t.isoweekday() for t in next_times(schedule, datetime(2024, 6, 1), 400)} == {1, 2, 3, 4, 5}

    # A copy of the project's layout, as the command expects to find under $WEAKSUP_HOME.
    home = tmp_path / "home"
    (home / "pipelines").mkdir(parents=True)
    shutil.copy(ROOT / "pipelines" / "youtube_stream.toml", home / "pipelines")
    for name in (".venv", "data", "labeling_functions"):
        (home / name).symlink_to(ROOT / name)
    cron_env = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": str(tmp_path), "LOGNAME": "cron",
                **env, "WEAKSUP_HOME": str(home)}  # fmt: skip

    def cron() -> subprocess.CompletedProcess:
        return subprocess.run(["/bin/sh", "-c", command], env=cron_env, cwd="/", capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    store = home / "stores" / "youtube_stream.duckdb"
    lock_file = re.search(r"flock -n (\S+)", command)[1]  # type: ignore[index]
    (home / "stores").mkdir()
    with open(home / lock_file, "w") as held:  # a run still going from the last turn
        fcntl.flock(held, fcntl.LOCK_EX)
        skipped = cron()
    assert skipped.returncode == 1 and not store.exists()

    done = cron()
    assert done.returncode == 0, (home / "logs" / "youtube_stream.log").read_text()
    log = (home / "logs" / "youtube_stream.log").read_text()
    assert "run 1: 1570 examples (1570 new" in log and "end model on holdout: accuracy " in log
    assert query(store, "SELECT status FROM runs").rows() == [("succeeded",)]
    assert (home / "exports" / "youtube_stream" / "LATEST").read_text().strip() == "run-0001"
    assert os.access(home / ".venv" / "bin" / "weaksup", os.X_OK)


def test_cron_parsing_reads_the_readme_block_shape(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("text\n```cron\n# comment\nA=1\n*/5 * * * 1-5 echo hi >> x 2>&1\n```\n")
    monkeypatch.setattr(f"{__name__}.README", Path(readme))
    assert _crontab() == ({"A": "1"}, [("*/5 * * * 1-5", "echo hi >> x 2>&1")])
