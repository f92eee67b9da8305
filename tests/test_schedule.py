"""Cron schedules: standard weekday semantics, validation, and the in-process scheduler on real runs."""

from __future__ import annotations

import signal
import time
from datetime import datetime

import pytest
from support.project import LFS, make_project, query, spawn, weaksup

from weaksup.pipeline import ConfigError, load_config
from weaksup.pipeline.schedule import CronError, next_times, parse_cron
from weaksup.pipeline.settings import ScheduleSettings


def test_1_to_5_means_monday_to_friday():
    # 1 June 2024 is a Saturday.  APScheduler 3.x's from_crontab counts weekdays from Monday = 0,
    # so it would read 1-5 as Tuesday to Saturday; standard cron counts from Sunday = 0.
    saturday = datetime(2024, 6, 1, 12, 0)
    assert saturday.strftime("%A") == "Saturday"
    fires = list(next_times("30 9 * * 1-5", saturday, 10))
    assert [f.strftime("%a") for f in fires] == ["Mon", "Tue", "Wed", "Thu", "Fri"] * 2
    assert fires[0] == datetime(2024, 6, 3, 9, 30)
    # Every fire in four weeks falls on a weekday, and every weekday fires once.
    month = [f for f in next_times("30 9 * * 1-5", saturday, 20)]
    assert {f.isoweekday() for f in month} == {1, 2, 3, 4, 5} and len({f.date() for f in month}) == 20


def test_sunday_is_0_or_7_and_the_day_fields_combine_with_or():
    sat = datetime(2024, 6, 1)
    assert [f.strftime("%a %d") for f in next_times("0 0 * * 0", sat, 2)] == ["Sun 02", "Sun 09"]
    assert list(next_times("0 0 * * 7", sat, 2)) == list(next_times("0 0 * * 0", sat, 2))
    assert [f.strftime("%a %d") for f in next_times("0 0 * * sat,sun", datetime(2024, 6, 3), 2)] == ["Sat 08", "Sun 09"]
    # Day of month 13 OR Friday (Vixie cron), not "Friday the 13th".
    fires = [f.strftime("%a %d") for f in next_times("0 0 13 * 5", sat, 4)]
    assert fires == ["Fri 07", "Thu 13", "Fri 14", "Fri 21"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [("61 * * * *", "is not valid"), ("* * * *", "has 4 fields; use standard 5-field cron"),
     ("0 9 * * mon-fry", "is not valid"),
     ("0 */5 * * * *", r"has 6 fields; use standard 5-field cron: minute hour day-of-month month day-of-week, "
                       r"e.g. '\*/15 \* \* \* \*' .*does not take seconds.*--every SECONDS")],
)
def test_bad_cron_expressions_are_refused(expr, message):
    with pytest.raises(CronError, match=message):
        parse_cron(expr)


def test_the_pipeline_schedule_is_validated_with_its_line(tmp_path):
    pipeline = make_project(tmp_path, extra='\n[schedule]\ncron = "0 25 * * *"\n')
    with pytest.raises(ConfigError, match=r"schedule.cron = '0 25 \* \* \*' cron expression .* is not valid.* \(line \d+\)"):
        load_config(pipeline)
    pipeline.write_text(pipeline.read_text().replace("0 25 * * *", "0 6 * * 1-5") + 'timezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r"schedule.timezone = 'Mars/Olympus' is not a known IANA time zone"):
        load_config(pipeline)
    pipeline.write_text(pipeline.read_text().replace("Mars/Olympus", "Europe/Paris"))
    assert load_config(pipeline).settings.schedule == ScheduleSettings(cron="0 6 * * 1-5", timezone="Europe/Paris")
    assert load_config(make_project(tmp_path / "none")).settings.schedule is None


def test_schedule_runs_on_time_one_at_a_time(tmp_path):
    # The first run takes about 2 s (a slow LF), longer than the 1 s schedule: runs must not overlap.
    slow = LFS + "\nimport time\n\n\n@labeling_function()\ndef slow(x):\n    time.sleep(0.003)\n    return ABSTAIN\n"
    pipeline = make_project(tmp_path, lfs=slow)
    proc = weaksup("schedule", str(pipeline), "--quiet", "--every", "1", "--max-runs", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("next run at") == 2 and "scheduling" in proc.stdout
    runs = query(tmp_path / "store.duckdb", "SELECT run_id, status, started_at, finished_at FROM runs ORDER BY 1").rows()
    assert [r[1] for r in runs] == ["succeeded", "skipped"]  # nothing new for the second: no refit, no export
    assert runs[1][2] >= runs[0][3]  # the second started after the first finished


def test_schedule_goes_on_after_a_failed_run_and_exits_1(tmp_path, capsys):
    from weaksup.cli import main

    pipeline = make_project(tmp_path, lfs=LFS + "\n@labeling_function()\ndef broken(x):\n    return x.title\n")
    assert main(["schedule", str(pipeline), "--every", "0.5", "--max-runs", "2", "--quiet"]) == 1
    assert capsys.readouterr().err.count("error: run failed: LF 'broken' reads column 'title'") == 2
    assert [r[0] for r in query(tmp_path / "store.duckdb", "SELECT status FROM runs").rows()] == ["failed", "failed"]


def test_schedule_needs_an_expression(tmp_path, capsys):
    from weaksup.cli import main

    pipeline = make_project(tmp_path)
    assert main(["schedule", str(pipeline)]) == 1
    assert "has no [schedule] cron = ...; pass --cron EXPR" in capsys.readouterr().err
    assert main(["schedule", str(pipeline), "--cron", "every day"]) == 1
    assert "cron expression 'every day' has 2 fields" in capsys.readouterr().err


def test_a_six_field_pipeline_schedule_is_refused_with_the_right_form(tmp_path, capsys):
    from weaksup.cli import main

    pipeline = make_project(tmp_path, extra='\n[schedule]\ncron = "0 0 9 * * 1-5"\n')
    with pytest.raises(ConfigError, match=r"schedule.cron = '0 0 9 \* \* 1-5' cron expression .* has 6 fields; use "
                                          r"standard 5-field cron: minute hour day-of-month month day-of-week"):
        load_config(pipeline)
    assert main(["schedule", str(make_project(tmp_path / "p")), "--cron", "*/10 * * * * *"]) == 1
    assert "has 6 fields; use standard 5-field cron" in capsys.readouterr().err
    assert parse_cron("*/15  9-17 * * 1-5") == "*/15 9-17 * * 1-5"


def test_sigterm_stops_the_scheduler_cleanly(tmp_path):
    pipeline = make_project(tmp_path, extra='\n[schedule]\ncron = "0 3 1 1 *"\n')  # next fire: 1 January, 03:00
    log = tmp_path / "schedule.log"
    proc = spawn("schedule", str(pipeline), "--quiet", cwd=tmp_path, log=log)
    try:
        deadline = time.monotonic() + 60
        while "next run at" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert "schedule stopped by SIGTERM after 0 runs" in out and "error" not in out, out
