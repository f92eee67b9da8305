"""A dead run's status files settled from the store: what ``weaksup status`` and ``history`` do first.

A run mirrors its state to ``<store>.status.json`` and ``<store>.history.json`` (:mod:`.status`),
and a SIGKILL can land between the store's record and those files: a run killed after the store
recorded it as ``succeeded`` (while writing its report, say) leaves a status that says ``running``.
Its process being gone, no run holds the store: :func:`settle_dead_run` reads the run's record and
rewrites both files from it, so status, history and store agree.  A run the store still records as
``running`` died before its record: it reads ``interrupted`` (the next run marks it so).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from weaksup.pipeline.lock import StoreBusy, store_lock
from weaksup.pipeline.status import alive, snapshot_history, status_path, write_json_atomic
from weaksup.store import VoteStore

__all__ = ["settle_dead_run"]


def settle_dead_run(store: Path) -> bool:
    """If the status file beside ``store`` says ``running`` for a process that is gone and the store
    recorded that run as finished, rewrite both status files from the store; whether it did.
    Nothing happens when another process holds the store, or it cannot be read."""
    path = status_path(Path(store))
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if state.get("status") != "running" or alive(state) is not False:
        return False
    try:
        with store_lock(store, "weaksup status", wait=False), VoteStore(store, read_only=True) as opened:
            runs = opened.runs.history().filter(pl.col("run_id") == state["run_id"])
            rows = runs.select("status", "error", "finished_at").rows()
            if not rows or rows[0][0] == "running":
                return False
            status, error, finished = rows[0]
            state.update(status=status, error=error, phase="finished", done=None, total=None,
                         finished_at=finished.isoformat(timespec="seconds") if finished else None)  # fmt: skip
            write_json_atomic(path, state)
            snapshot_history(opened)
            return True
    except (StoreBusy, OSError, RuntimeError, ValueError):  # busy, missing, or not a store this weaksup reads
        return False
