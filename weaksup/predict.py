"""Label new data with a categorical run's end model: what ``weaksup predict`` does.

The model comes from a pipeline file (its newest complete run, which ``LATEST`` names in
``export.dir``), an export folder holding ``LATEST``, a run folder, or an
``end_model.npz`` file.  Each input row gets ``example_id`` (as a run would assign it),
``label`` (the class id), ``label_name``, ``confidence`` (the top class's probability)
and ``prob_<class>`` for every class.

This module imports only what predicting needs, so the command starts quickly.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.data import ID, load_dataset
from weaksup.end_models.text import SoftTextClassifier

MODEL_FILE = "end_model.npz"
ADDED = ("label", "label_name", "confidence")


def find_model(target: Path) -> Path:
    """The end-model file ``target`` stands for: a pipeline file, an export or run folder, or the file itself."""
    if target.suffix == ".toml":
        root = _export_dir_of(target)
        if not (root / "LATEST").exists():
            raise FileNotFoundError(
                f"{target}: export.dir {str(root)!r} has no LATEST run yet; run `weaksup run {target}` first"
            )
        return _model_in(root / (root / "LATEST").read_text().strip())
    if target.is_dir():
        if (target / "LATEST").exists():
            return _model_in(target / (target / "LATEST").read_text().strip())
        return _model_in(target)
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist: give a pipeline file, a run folder or an {MODEL_FILE}")
    if target.suffix != ".npz":
        raise ValueError(_not_text(target))
    return target


def _model_in(run_dir: Path) -> Path:
    model = run_dir / MODEL_FILE
    if model.exists():
        return model
    if (run_dir / "end_model.json").exists():
        raise ValueError(_not_text(run_dir / "end_model.json"))
    raise FileNotFoundError(f"{str(run_dir)!r} holds no {MODEL_FILE}: is it a run folder of a categorical pipeline?")


def _not_text(path: Path) -> str:
    return (
        f"{path} is not a text classifier: `weaksup predict` labels text with the end models of categorical runs "
        f"({MODEL_FILE}). Ranking and regression end models read feature columns; load them in Python with "
        "weaksup.end_models (PairwiseRanker.load, SoftTargetRegressor.load)"
    )


def _export_dir_of(pipeline: Path) -> Path:
    """The pipeline's ``export.dir``, read without validating the rest of the file."""
    try:
        raw = tomllib.loads(pipeline.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read pipeline file {str(pipeline)!r}: {exc}") from None
    folder = raw.get("export", {}).get("dir", "exports")
    if not isinstance(folder, str):
        raise ValueError(f"{pipeline}: export.dir must be a string, got {folder!r}")
    return (pipeline.parent / folder).resolve()


def predict_file(
    model_path: Path, data: str | Path, *, text_column: str | None = None, id_column: str | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``data``'s rows with ``example_id``, the predicted labels and class probabilities; and the model's metadata."""
    model = SoftTextClassifier.load(model_path)
    meta = model.metadata_
    frame = load_dataset(data, id_column=id_column)
    column = text_column or meta.get("text_column", "text")
    if column not in frame.columns:
        raise ValueError(
            f"{data}: no text column {column!r}; its columns are {frame.columns}: choose one with --text-column"
        )
    if frame[column].dtype != pl.String:
        raise ValueError(f"{data}: column {column!r} holds {frame[column].dtype}, not text: choose one with --text-column")
    classes = [str(c) for c in meta.get("classes") or range(len(model.classes_))]
    added = [*ADDED, *(f"prob_{name}" for name in classes)]
    clash = [c for c in added if c in frame.columns]
    if clash:
        raise ValueError(f"{data} already has columns {clash}, which predict adds; rename them in the data first")
    probs = model.predict_proba(frame[column].fill_null("").to_list())
    best = probs.argmax(axis=1)
    out = frame.with_columns(
        pl.Series("label", best, dtype=pl.Int64),
        pl.Series("label_name", [classes[i] for i in best], dtype=pl.String),
        pl.Series("confidence", probs.max(axis=1)),
        *(pl.Series(f"prob_{name}", probs[:, j]) for j, name in enumerate(classes)),
    )
    return out.select(ID, *added, pl.exclude(ID, *added)), meta
