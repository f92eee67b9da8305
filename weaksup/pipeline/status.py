"""Run status and history that can be read while a run holds the store.

DuckDB lets one process at a time open a database file once a writer holds
it (even read-only opens fail), so the runner mirrors what ``weaksup status``
and ``weaksup history`` show into two small JSON files beside the store, each
replaced atomically (write a temporary file, then ``os.replace``):

``<store>.status.json``
    The current or last run: id, pipeline, pid, host, phase, progress
    (``done``/``total``) and times.  Rewritten at each phase and each time
    LF application commits a chunk.
``<store>.history.json``
    Every row of the store's ``runs`` table (metrics, LF versions, label
    model), rewritten when a run starts or ends and after ``gc``.

The store stays the source of truth; the files are snapshots of it.  A status
that says ``running`` while its process is gone reads as ``interrupted``; ``weaksup status`` and
``history`` first bring both files up to date from the store, which no process holds any more
(:mod:`.settle`), so a run that died after its record says ``succeeded`` reads so.  One store can
hold several pipelines: given a pipeline's name, ``status`` and ``history`` show its runs only.

>>> import tempfile, pathlib, os
>>> store = pathlib.Path(tempfile.mkdtemp()) / "votes.duckdb"
>>> board = StatusBoard(store, run_id=3, pipeline="demo")
>>> board.phase("applying LFs", done=10, total=40)
>>> s = read_status(store)
>>> s["run_id"], s["status"], s["phase"], s["done"], s["total"], s["pid"] == os.getpid()
(3, 'running', 'applying LFs', 10, 40, True)
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from weaksup.export import write_text_atomic

if TYPE_CHECKING:
    from weaksup.store import VoteStore


def status_path(store: Path) -> Path:
    """The live status file beside a store."""
    return store.with_name(store.name + ".status.json")


def history_path(store: Path) -> Path:
    """The runs-table mirror beside a store."""
    return store.with_name(store.name + ".history.json")


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never a part."""
    write_text_atomic(path, json.dumps(value, indent=1, default=str))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StatusBoard:
    """The running process's view of its run, mirrored to ``<store>.status.json``."""

    def __init__(self, store: Path, run_id: int, pipeline: str) -> None:
        self.path = status_path(Path(store))
        self.state: dict[str, Any] = {
            "run_id": run_id,
            "pipeline": pipeline,
            "status": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": _now(),
            "phase": "starting",
            "phase_started_at": _now(),
            "done": None,
            "total": None,
            "updated_at": _now(),
            "error": None,
        }
        self._write()

    def _write(self) -> None:
        self.state["updated_at"] = _now()
        write_json_atomic(self.path, self.state)

    def phase(self, name: str, done: int | None = None, total: int | None = None) -> None:
        """Enter phase ``name`` (optionally with a work count)."""
        self.state.update(phase=name, phase_started_at=_now(), done=done, total=total)
        self._write()

    def progress(self, done: int) -> None:
        """Update the current phase's count (called once per committed chunk, so each write is cheap by comparison)."""
        self.state["done"] = done
        self._write()

    def finish(self, status: str, error: str | None = None) -> None:
        self.state.update(status=status, phase="finished", error=error, finished_at=_now(), done=None, total=None)
        self._write()


def alive(state: dict[str, Any]) -> bool | None:
    """Whether the run's process lives (``None``: another host, cannot tell)."""
    if state.get("host") != socket.gethostname():
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(store: Path) -> dict[str, Any] | None:
    """The last run's status (``None`` if no run ever started); a dead ``running`` run reads
    ``interrupted`` (:func:`weaksup.pipeline.settle.settle_dead_run` first asks the store)."""
    path = status_path(Path(store))
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if state["status"] == "running" and alive(state) is False:
        state.update(status="interrupted", error=f"process {state['pid']} ended before the run finished "
                     f"(last heard from at {state['updated_at']})")
    return state


def snapshot_history(store: VoteStore) -> None:
    """Mirror a :class:`~weaksup.store.VoteStore`'s runs table to ``<store>.history.json``."""
    runs = store.runs.history()
    rows = []
    for r in runs.iter_rows(named=True):
        params = json.loads(r.pop("params") or "{}")
        r["label_model"] = params.get("label_model")
        r["metrics"] = json.loads(r["metrics"] or "{}")
        r["lf_versions"] = json.loads(r["lf_versions"] or "{}")
        end = r["finished_at"]
        r["seconds"] = (end - r["started_at"]).total_seconds() if end else None
        r["started_at"] = r["started_at"].isoformat(timespec="seconds")
        r["finished_at"] = end.isoformat(timespec="seconds") if end else None
        rows.append(r)
    write_json_atomic(history_path(store.path), rows)


def read_history(store: Path, pipeline: str | None = None) -> list[dict[str, Any]]:
    """Every run (of ``pipeline``, or of any), oldest first, with the live status laid over the current run."""
    path = history_path(Path(store))
    runs: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    runs = [r for r in runs if pipeline is None or r.get("pipeline") == pipeline]
    live = read_status(store)
    for run in runs:
        if live and run["run_id"] == live["run_id"] and run["status"] == "running":
            run["status"], run["phase"] = live["status"], live["phase"]
            if live["status"] == "interrupted":  # found dead: it ended after it last wrote its status
                run["error"], run["finished_at"] = live["error"], live["updated_at"]
    return runs


# -- text for the CLI --------------------------------------------------------------------


def _ago(iso: str) -> str:
    seconds = (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def format_status(store: Path, pipeline: str | None = None) -> str:
    """What ``weaksup status`` prints: the current or last run, then the last finished one (of
    ``pipeline`` when given: another pipeline's run in the same store is only named)."""
    live, runs = read_status(store), read_history(store, pipeline)
    other = live is not None and pipeline is not None and live["pipeline"] != pipeline
    if (live is None or other) and not runs:
        of = f", pipeline {pipeline!r}" if pipeline is not None else ""
        return f"store {store}{of}: no runs yet (run `weaksup run PIPELINE` first)"
    lines = [f"store {store}"]
    if live is not None and other:
        if live["status"] == "running":
            lines.append(f"run {live['run_id']} of another pipeline ({live['pipeline']}) holds the store")
        last = runs[-1]
        lines.append(f"run {last['run_id']} ({pipeline}): {last['status']}" + (f": {last['error']}" if last.get("error") else ""))
    elif live is not None:
        head = f"run {live['run_id']} ({live['pipeline']}): {live['status']}"
        if live["status"] == "running":
            head += f", pid {live['pid']} on {live['host']}, started {_ago(live['started_at'])} ago"
            phase = f"  phase: {live['phase']} (for {_ago(live['phase_started_at'])})"
            if live["total"]:
                phase += f", {live['done']:,} of {live['total']:,} done ({100 * live['done'] / live['total']:.0f}%)"
            lines += [head, phase]
        else:
            lines.append(head + (f": {live['error']}" if live.get("error") else ""))
    finished = [r for r in runs if r["status"] not in ("running",)]
    if finished:
        lines += ["last finished run:", *_describe(finished[-1])]
    return "\n".join(lines)


def _describe(run: dict[str, Any]) -> list[str]:
    m = run["metrics"]
    lm = run.get("label_model") or {}
    out = [f"  run {run['run_id']} {run['status']} at {run['finished_at'] or 'an unknown time'}" + (
        f" after {run['seconds']:.1f} s" if run["seconds"] is not None else "")]
    if run.get("error"):
        out.append(f"  error: {run['error']}")
    if m:
        out.append(
            f"  examples: {m.get('n_examples', 0):,} ({m.get('new_examples', 0):,} new, "
            f"{m.get('changed_examples', 0):,} changed, {m.get('retired_examples', 0):,} retired); "
            f"LF applications: {m.get('lf_applications', 0):,}, LF errors: {m.get('lf_errors', 0):,}"
        )
        timings = ", ".join(f"{k.removesuffix('_seconds')} {v:.2f}" for k, v in m.items() if k.endswith("_seconds"))
        out.append(f"  seconds: {timings}")
        scores = ", ".join(f"{k} {v:.3f}" for k, v in m.items() if "accuracy" in k or "coverage" in k)
        if scores:
            out.append(f"  metrics: {scores}")
    out.append(f"  label model: {lm.get('name')} seed={lm.get('seed')} params={lm.get('params')}")
    if run["lf_versions"]:
        out.append("  LF versions: " + ", ".join(f"{k}@{v}" for k, v in run["lf_versions"].items()))
    if run.get("export_dir") and run["status"] == "succeeded":
        out.append(f"  exports: {run['export_dir']}")
    return out


def _short(metric: str) -> str:
    """``label_model_accuracy_test`` -> ``lm:test``, ``end_model_accuracy_holdout`` -> ``end:holdout``."""
    return metric.replace("label_model_accuracy_", "lm:").replace("end_model_accuracy_", "end:")


def history_frame(runs: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per run, for ``weaksup history``."""
    rows = []
    for r in runs:
        m, lm = r["metrics"], r.get("label_model") or {}
        acc = {k: v for k, v in m.items() if "accuracy" in k}
        rows.append(
            {
                "run": r["run_id"],
                "status": r["status"] if r["status"] != "running" else f"running ({r.get('phase', '?')})",
                "started": r["started_at"].replace("T", " ")[:19],
                "seconds": r["seconds"],
                "examples": m.get("n_examples"),
                "new": m.get("new_examples"),
                "changed": m.get("changed_examples"),
                "retired": m.get("retired_examples"),
                "lf_apps": m.get("lf_applications"),
                "lfs": len(r["lf_versions"]) or None,
                "label_model": f"{lm.get('name')}{lm.get('params') or ''}" if lm else None,
                "accuracy": " ".join(f"{_short(k)}={v:.3f}" for k, v in acc.items()) or None,
                "error": r.get("error"),
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)
