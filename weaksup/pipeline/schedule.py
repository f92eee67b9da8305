"""Cron schedules: standard cron semantics (via ``croniter``) and an in-process loop.

Fields are minute, hour, day of month, month, day of week; day of week counts
from Sunday: ``0`` and ``7`` are Sunday, ``1-5`` is Monday to Friday.  When
both day fields are restricted, a day matches either (as in Vixie cron).  A
six-field expression (some tools add seconds, first or last) is refused rather
than guessed at; for sub-minute runs give an interval instead (``--every``).

>>> from datetime import datetime
>>> [t.strftime("%a %H:%M") for t in next_times("0 9 * * 1-5", datetime(2024, 6, 1), 6)]  # 1 June 2024 is a Saturday
['Mon 09:00', 'Tue 09:00', 'Wed 09:00', 'Thu 09:00', 'Fri 09:00', 'Mon 09:00']

:func:`run_schedule` runs a job at each fire time (or each interval after the
previous run ends), one at a time: a job that outlasts the next fire time delays
it (runs never overlap, and missed fire times are not queued: the next run is the
first fire time after the last one ends).  Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo


class CronError(ValueError):
    """A cron expression is invalid."""


class StopAfterRun(KeyboardInterrupt):
    """A stop (Ctrl-C, SIGTERM) that came as a run completed: a job raises it after the run, and
    the schedule stops with that run counted."""


def parse_cron(expr: str) -> str:
    """Check ``expr`` and return it normalized (single spaces); raise :class:`CronError` if invalid."""
    from croniter import croniter

    fields = expr.split()
    if len(fields) != 5:
        seconds = (
            " (weaksup does not take seconds; for runs more often than once a minute use "
            "`weaksup schedule --every SECONDS`)" if len(fields) == 6 else ""
        )
        raise CronError(
            f"cron expression {expr!r} has {len(fields)} fields; use standard 5-field cron: "
            f"minute hour day-of-month month day-of-week, e.g. '*/15 * * * *' or '0 9 * * 1-5'{seconds}"
        )
    text = " ".join(fields)
    if not croniter.is_valid(text):
        raise CronError(f"cron expression {expr!r} is not valid (e.g. '*/15 * * * *', '0 9 * * 1-5')")
    return text


def next_times(expr: str, start: datetime, count: int | None = None) -> Iterator[datetime]:
    """The fire times of ``expr`` strictly after ``start`` (all of them, or the first ``count``)."""
    from croniter import croniter

    it = croniter(parse_cron(expr), start, day_or=True)
    n = 0
    while count is None or n < count:
        yield it.get_next(datetime)
        n += 1


def run_schedule(
    when: str | timedelta,
    job: Callable[[], bool],
    *,
    tz: tzinfo | None = None,
    max_runs: int | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Run ``job`` at each fire time of the cron expression ``when`` (or, for a ``timedelta``,
    that long after the start and after each run ends) until ``max_runs`` runs (forever if ``None``).

    ``job`` returns ``True`` on success; a failed run is reported and the schedule
    goes on.  ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM as the CLI maps it) stops the
    schedule with a line saying so.  Returns the number of failed runs.
    """
    zone = tz or datetime.now().astimezone().tzinfo
    runs = failures = 0
    running = False
    try:
        while max_runs is None or runs < max_runs:
            now = datetime.now(zone)
            due = now + when if isinstance(when, timedelta) else next(next_times(when, now))
            say(f"next run at {due.isoformat(timespec='seconds')}")
            while (wait := (due - datetime.now(zone)).total_seconds()) > 0:
                time.sleep(min(wait, 60.0))
            running = True
            ok = job()
            running = False
            runs += 1
            failures += not ok
    except KeyboardInterrupt as stop:
        if isinstance(stop, StopAfterRun):
            running, runs = False, runs + 1
        cause = f" by {stop}" if str(stop) else ""
        during = "; the run in progress is recorded as interrupted" if running else ""
        say(f"schedule stopped{cause} after {runs} run{'s' * (runs != 1)}{during}")
    return failures


def zone_of(name: str | None) -> tzinfo | None:
    """The time zone called ``name`` (``None``: the machine's)."""
    return ZoneInfo(name) if name else None
