"""Versioned exports: each run's training set, rebuilt from the store, under ``<export.dir>/run-NNNN/``.

The store records each run's folder by its name (``run-NNNN``), relative to ``export.dir``, and
folders are only ever deleted under the pipeline's own ``export.dir``, and only when they are
this store's (:func:`remove_run_folder`, :mod:`.owner`).

A run folder holds ``training_set.<format>`` for each configured format, the
label model, the end model and ``manifest.json`` (run id, pipeline hash, data
fingerprint, the store and its id, LF versions, label model, counts, metrics, files).  The manifest
is written last, and ``<export.dir>/LATEST`` (one line: the folder name) is
replaced atomically only after the run is recorded as succeeded, so a reader
that follows ``LATEST`` always finds a complete set::

    root = Path("exports/youtube_stream")
    train = pl.read_parquet(root / (root / "LATEST").read_text().strip() / "training_set.parquet")

:func:`training_set` is the only way a training set is built (by the run's task, from the
store), so ``weaksup export --run N`` gives the same rows as the run wrote.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from weaksup.export import write_text_atomic
from weaksup.pipeline.latest import latest_run_dir
from weaksup.pipeline.owner import Owner
from weaksup.pipeline.settings import Settings
from weaksup.store import RunError, VoteStore

if TYPE_CHECKING:
    from weaksup.pipeline.tasks import Task


class ExportError(ValueError):
    """A run's training set cannot be built (failed run, pruned labels, unknown run)."""


def remove_run_folder(root: Path, recorded: str, owner: Owner, run_id: int) -> bool:
    """Delete run ``run_id``'s export folder as the store records it (its name under ``root``;
    older stores hold an absolute path) if, and only if, this store made it for that run
    (:meth:`Owner.owns_run`: a run folder directly under ``root`` whose owner file names this store
    and run) and ``LATEST`` does not name it: a copied project never deletes the original's
    folders, another store's or a hand-made folder is never touched, and a reader of ``LATEST``
    never finds it gone.  Returns whether a folder was deleted."""
    path = Path(recorded)
    target = root / path.name
    if path.is_absolute() and path.resolve() != target.resolve():
        return False
    if not owner.owns_run(root, path.name, run_id) or latest_run_dir(root) == target:
        return False
    shutil.rmtree(target)
    return True


def training_set(store: VoteStore, run_id: int) -> pl.DataFrame:
    """Run ``run_id``'s training set, rebuilt from the store by the task of its label type
    (:meth:`weaksup.pipeline.tasks.base.Task.training_set`)."""
    return _task_of(store, run_id).training_set(store, run_id)


def training_batches(store: VoteStore, run_id: int, batch_rows: int) -> Iterator[pl.DataFrame]:
    """:func:`training_set`, ``batch_rows`` rows at a time where the label type reads it so
    (:meth:`weaksup.pipeline.tasks.base.Task.training_batches`): what ``weaksup export`` writes,
    holding a batch, not every row (:func:`weaksup.export.write_batches`)."""
    return _task_of(store, run_id).training_batches(store, run_id, batch_rows)


def _task_of(store: VoteStore, run_id: int) -> Task:
    """The task of run ``run_id``'s label type, built from its recorded settings; an
    :class:`ExportError` when the run has no labels."""
    from weaksup.pipeline.tasks import task_for

    try:
        record = store.runs.labeled(run_id)
    except RunError as exc:
        raise ExportError(f"{exc}; `weaksup history` lists the runs") from None
    return task_for(Settings.from_values(record["params"]))


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (atomically), listing the folder's files."""
    manifest = {**manifest, "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))}
    write_text_atomic(run_dir / "manifest.json", json.dumps(manifest, indent=2, default=float))
