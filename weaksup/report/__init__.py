"""The LF development report: analysis frames (:mod:`.frames`, :mod:`.buckets`), suspicious
labels (:mod:`.suspicious`, with the ``cleanlab`` extra) and one self-contained HTML file
(:mod:`.html`).  ``weaksup report PIPELINE`` and each run (``[export] report = true``) write it.

A run is read once (:mod:`.view`); what differs by label type (its votes and gold, how LFs
are scored, which examples disagree, how labels read, which charts) is its kind's, one sibling
module per label type in :mod:`.types`, so the shared modules never branch on ``labels.type``.
A report reads the runs of kinds whose measures add up (categorical) in parts of
:data:`weaksup.batches.REPORT_PART_ROWS` keys (:meth:`RunView.parts`), so its memory does not grow with the run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from weaksup.report.buckets import buckets
from weaksup.report.frames import RunChanges, history, lf_agreement, lf_table, run_changes
from weaksup.report.html import Report, build_report, write_report
from weaksup.report.suspicious import suspicious_labels
from weaksup.report.view import RunView, load_gold, load_run, save_gold

if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = [
    "Report",
    "RunChanges",
    "RunView",
    "buckets",
    "build_report",
    "history",
    "lf_agreement",
    "lf_table",
    "load_gold",
    "load_run",
    "run_changes",
    "save_gold",
    "suspicious_labels",
    "write_report",
    "write_run_report",
]


def write_run_report(store: VoteStore, run_id: int, run_dir: Path, suspicious: bool, say: Callable[[str], None]) -> None:
    """At the end of a recorded run: write ``report.html`` into its folder (with the cleanlab check
    when ``suspicious``).  The run's outputs are complete without it, so a report that fails is
    reported through ``say`` and does not fail the run."""
    try:
        path = write_report(store, Path(run_dir) / "report.html", run_id, run_dir, suspicious=suspicious)
    except Exception as exc:  # the run's outputs are complete without it
        say(f"report not written: {type(exc).__name__}: {exc}")
        return
    say(f"report: {path}")
