"""What a run takes from the runs before it: whether it would redo the last one, and the LF
errors they recorded.

- :func:`data_fingerprint`: what a run saw, its examples (ids and content) and their gold: a run
  whose gold changed (flipped classes, rescaled targets) is not the last run redone;
- :func:`unchanged_since` and :func:`skip`: a run with the same examples, gold, LF versions, votes
  and settings as the pipeline's last succeeded run is recorded as ``skipped``, and that run's
  folder stands (it gets the report a killed run left unwritten, and ``LATEST``);
- :func:`refuse_recorded_errors`: ``[lfs] strict = true`` fails on LF errors an earlier,
  non-strict run recorded as well as on this run's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.pipeline.config import PipelineConfig
from weaksup.pipeline.latest import latest_run_dir, point_latest
from weaksup.pipeline.owner import Owner
from weaksup.pipeline.settings import ExportSettings
from weaksup.pipeline.status import StatusBoard
from weaksup.report import write_run_report
from weaksup.store import VoteStore
from weaksup.apply.checks import LFApplicationError


def data_fingerprint(examples: str, gold: str) -> str:
    """A run's data fingerprint: its examples' (ids and content) and their gold's, which is part of what it saw."""
    return hashlib.blake2b(f"{examples}:{gold}".encode(), digest_size=8).hexdigest()


def unchanged_since(
    store: VoteStore, cfg: PipelineConfig, fingerprint: str, versions: list[tuple[str, str]], root: Path, owner: Owner
) -> dict[str, Any] | None:
    """The pipeline's last succeeded run, if this run would redo it: the same examples, gold, LF
    versions and settings, no new votes, and its export folder still there and this store's."""
    last = store.runs.last_succeeded(cfg.settings.name)
    if last is None or last["export_dir"] is None:
        return None
    name = Path(last["export_dir"]).name
    same = (
        last["data_fingerprint"] == fingerprint
        and last["pipeline_hash"] == cfg.hash
        and last["lf_versions"] == dict(versions)
        and owner.owns_run(root, name, int(last["run_id"]))
        and (root / name / "manifest.json").exists()
    )
    return last if same else None


def skip(
    store: VoteStore, run_id: int, last: dict[str, Any], counts: dict[str, Any], t_run: float, board: StatusBoard,
    say: Callable[[str], None], root: Path, export: ExportSettings,
) -> tuple[dict[str, Any], pl.DataFrame, Path]:
    """End a run that would redo ``last``: recorded as ``skipped`` with ``counts`` (and timings), no
    outputs of its own; ``last``'s folder gets the report it lacks, and ``LATEST`` names it.
    Returns the run's metrics, ``last``'s LF summary and its folder."""
    say(
        f"nothing changed since run {last['run_id']} (the same examples, LF versions, votes and settings): its "
        "outputs stand, and no label model or end model was refit; `weaksup run --force` reruns them"
    )
    metrics = {"unchanged_since_run": last["run_id"], **counts, "wall_seconds": time.perf_counter() - t_run}
    store.runs.set_export_dir(run_id, None)
    store.runs.finish(run_id, "skipped", metrics=metrics, lf_versions=dict(last["lf_versions"]),
                      data_fingerprint=last["data_fingerprint"], lf_summary=last["lf_summary"])  # fmt: skip
    reused = root / Path(last["export_dir"]).name
    if export.report and not (reused / "report.html").exists():  # the last run died while it wrote it
        write_run_report(store, int(last["run_id"]), reused, export.suspicious, say)
    if latest_run_dir(root) != reused:
        point_latest(reused)  # e.g. the last run died after it was recorded, before it moved LATEST
    board.finish("skipped")
    return metrics, pl.DataFrame(last["lf_summary"] or [], infer_schema_length=None), reused


def refuse_recorded_errors(store: VoteStore, dataset: str, lfs: Sequence[Any], pipeline: Path) -> None:
    """With ``[lfs] strict = true``: raise if an LF version in use has errors on live examples that
    a run recorded (an earlier, non-strict one: its watermark moved past them, so no run asks again)."""
    versions = [(lf.name, lf.version) for lf in lfs]
    failed = {lf: keys for lf, keys in store.votes.failed_keys(dataset, versions).items() if len(keys)}
    if not failed:
        return
    (name, version), keys = next(iter(failed.items()))
    first = store.votes.errors(name, 1, version).row(0, named=True)
    raise LFApplicationError(
        f"[lfs] strict = true, and LF {name!r} raised on {len(keys):,} live examples in an earlier run (recorded as "
        f"abstains), e.g. example {first['example_id']!r}: {first['error_type']}: {first['message']}"
        + (f"; {len(failed) - 1} more LFs too" if len(failed) > 1 else "")
        + f". Fix the LF (its new version is applied afresh), or ask it again with `weaksup run {pipeline} "
        "--reapply-failed`; `weaksup lfs PIPELINE --errors` lists the errors"
    )
