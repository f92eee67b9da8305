"""Versioned exports: each run's training set, rebuilt from the store, under ``<export.dir>/run-NNNN/``.

A run folder holds ``training_set.<format>`` for each configured format, the
label model, the end model and ``manifest.json`` (run id, pipeline hash, data
fingerprint, LF versions, label model, counts, metrics, files).  The manifest
is written last, and ``<export.dir>/LATEST`` (one line: the folder name) is
replaced atomically only after the run is recorded as succeeded, so a reader
that follows ``LATEST`` always finds a complete set::

    root = Path("exports/youtube_stream")
    train = pl.read_parquet(root / (root / "LATEST").read_text().strip() / "training_set.parquet")

:func:`training_set` is the only way a training set is built, so ``weaksup
export --run N`` gives the same rows as the run wrote.

>>> run_folder(Path("exports"), 7).as_posix()
'exports/run-0007'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup.data import ID
from weaksup.export import soft_label_frame, write_text_atomic


class ExportError(ValueError):
    """A run's training set cannot be built (failed run, pruned labels, unknown run)."""


def run_folder(root: Path, run_id: int) -> Path:
    """The export folder of run ``run_id`` under ``root``."""
    return root / f"run-{run_id:04d}"


def run_params(store: Any, run_id: int) -> tuple[str, dict[str, Any]]:
    """A run's status and validated pipeline values, or :class:`ExportError` if there is no such run."""
    rows = store.query("SELECT status, params FROM runs WHERE run_id = ?", [run_id]).rows()
    if not rows:
        last = store.query("SELECT max(run_id) AS m FROM runs")["m"][0]
        raise ExportError(f"there is no run {run_id} in {store.path} (runs go up to {last})")
    return rows[0][0], json.loads(rows[0][1])


def training_set(store: Any, run_id: int) -> pl.DataFrame:
    """Run ``run_id``'s training set: its train-split examples (those with votes unless
    ``export.keep_uncovered``) with their input columns and soft labels, in store order."""
    status, params = run_params(store, run_id)
    n_labels = store.query("SELECT count(*) AS n FROM labels WHERE run_id = ?", [run_id])["n"][0]
    if n_labels == 0:
        why = "it was pruned by `weaksup gc`" if status == "succeeded" else f"it {status}"
        raise ExportError(f"run {run_id} has no labels: {why}; `weaksup history` lists the runs")
    label_type = params["labels"].get("type", "categorical")
    if label_type != "categorical":  # rankings and real values: their own columns
        from weaksup.pipeline.tasks.universal import training_set as universal_training_set

        return universal_training_set(
            store, run_id, label_type, params["data"]["train_split"], params["export"]["keep_uncovered"]
        )
    classes = params["labels"]["classes"]
    covered = "" if params["export"]["keep_uncovered"] else "AND l.n_votes > 0"
    rows = store.query(
        "SELECT e.example_id, e.data, l.probs, l.n_votes FROM labels l JOIN examples e USING (ex_key) "
        f"WHERE l.run_id = ? AND e.split = ? {covered} ORDER BY l.ex_key",
        [run_id, params["data"]["train_split"]],
    )
    probs = (
        np.asarray(rows["probs"].list.to_array(len(classes)).to_numpy(), dtype=float)
        if rows.height
        else np.zeros((0, len(classes)))
    )
    inputs = pl.DataFrame({ID: rows[ID], "data": rows["data"].str.json_decode()}).unnest("data")
    return soft_label_frame(inputs, probs, rows["n_votes"].to_numpy(), classes, keep_uncovered=True)


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (atomically), listing the folder's files."""
    manifest = {**manifest, "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))}
    write_text_atomic(run_dir / "manifest.json", json.dumps(manifest, indent=2, default=float))


def point_latest(run_dir: Path) -> None:
    """Atomically make ``LATEST`` (beside the run folders) name ``run_dir``."""
    write_text_atomic(run_dir.parent / "LATEST", run_dir.name + "\n")


def latest_run_dir(root: Path) -> Path | None:
    """The folder ``LATEST`` names, if any."""
    pointer = root / "LATEST"
    return root / pointer.read_text().strip() if pointer.exists() else None
