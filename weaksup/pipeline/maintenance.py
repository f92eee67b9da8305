"""Store maintenance and inspection: ``gc`` and ``diff``.

``gc --keep N`` keeps, for each pipeline in the store, its ``N`` newest
succeeded runs (and every later run), and removes what only older runs
needed: their labels and export folders, votes of LF versions no kept run
used, and examples retired before the oldest kept run.  ``LATEST`` always
names a kept run, and kept runs can still be exported and diffed.

``diff A B`` compares two runs' labels by example id, and for each LF the
votes of run A's version against run B's on the examples both runs labeled
with the same content.

>>> import tempfile, pathlib, polars as pl
>>> from weaksup.store import VoteStore
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.duckdb"
>>> with VoteStore(path) as store:
...     run = store.runs.start("p", {})
...     store.runs.finish(run, "succeeded")
...     collect_garbage(store, keep=1)["runs_kept"]
[1]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.pipeline.outputs import remove_run_folder
from weaksup.pipeline.owner import Owner
from weaksup.store import VoteStore


def collect_garbage(store: VoteStore, keep: int, export_root: Path | None = None) -> dict[str, Any]:
    """Prune ``store`` (an open :class:`~weaksup.store.VoteStore`, under the lock) to each
    pipeline's ``keep`` newest succeeded runs; remove the other runs' export folders under
    ``export_root`` (the pipeline's ``export.dir``; none without it, never a folder outside it,
    and only folders this store made for those runs: :meth:`~weaksup.pipeline.owner.Owner.owns_run`);
    return what was kept and removed, and how many of those runs' folders were left
    (``folders_left``: another store's, or written before weaksup recorded folders' owners)."""
    if keep < 1:
        raise ValueError(f"--keep must be at least 1 (got {keep}): the newest run's labels back LATEST")
    runs = store.runs.all()
    keep = min(keep, runs.height)  # more than there are keeps them all (and a huge N fits no integer type)
    kept: list[int] = []
    for _, group in runs.filter(pl.col("status") == "succeeded").group_by("pipeline"):
        kept += group["run_id"].head(keep).to_list()
    if not kept:
        return {"runs_kept": [], "folders_removed": 0, "folders_left": 0}
    counts = store.prune(kept)
    removed = left = 0
    owner = Owner.of(store, "")  # a run folder's owner file names its store and run (any pipeline)
    for run_id, folder in runs.filter(pl.col("export_dir").is_not_null()).select("run_id", "export_dir").rows():
        if export_root is None or run_id in kept:
            continue
        gone = remove_run_folder(export_root, folder, owner, run_id)
        removed += gone
        left += not gone and (export_root / Path(folder).name).is_dir()
    return {"runs_kept": sorted(kept), **counts, "folders_removed": removed, "folders_left": left}


@dataclass(frozen=True)
class RunDiff:
    """Label and per-LF vote changes between two runs."""

    labels: dict[str, int]
    lfs: pl.DataFrame


def diff_runs(store: VoteStore, run_a: int, run_b: int) -> RunDiff:
    """How labels and each LF's votes changed from run ``run_a`` to run ``run_b``."""
    a, b = store.runs.labeled(run_a, " to compare"), store.runs.labeled(run_b, " to compare")
    labels = store.runs.label_changes(run_a, run_b)
    same_content = int(labels["in_both"]) - int(labels["content_changed"])
    rows = []
    for name in dict.fromkeys([*a["lf_versions"], *b["lf_versions"]]):
        va, vb = a["lf_versions"].get(name), b["lf_versions"].get(name)
        row: dict[str, Any] = {"lf": name, "version_a": va, "version_b": vb}
        if va is None or vb is None:
            row.update(change="added" if va is None else "removed", compared=None, votes_changed=None)
        elif va == vb:
            row.update(change="same version", compared=same_content, votes_changed=0)
        else:
            row.update(change="new version", **store.votes.changes(run_a, run_b, name, va, vb))
        rows.append(row)
    frame = pl.DataFrame(rows, schema={"lf": pl.String, "version_a": pl.String, "version_b": pl.String,
                                       "change": pl.String, "compared": pl.Int64, "votes_changed": pl.Int64})  # fmt: skip
    return RunDiff(labels, frame)
