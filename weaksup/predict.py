"""Label new data with a run's end model: what ``weaksup predict`` does.

The model comes from a pipeline file (its newest complete run, which ``LATEST`` names in
``export.dir``), an export folder holding ``LATEST``, a run folder, or an end-model file.  The label
type whose end model the file holds predicts (:meth:`weaksup.label_types.LabelType.predict`): a
categorical run's text classifier adds ``label`` (the class id), ``label_name``, ``confidence``
(the top class's probability) and ``prob_<class>`` for every class; a ranking run's ranker the
``ranking`` of each example's items; a regression run's regressor the ``value``.  Each input row
also gets ``example_id`` (as a run would assign it).

This module imports only what predicting needs, so the command starts quickly.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.data import ID, load_dataset
from weaksup.end_models.plain import model_name
from weaksup.label_types import LABEL_TYPES, LabelType
from weaksup.pipeline.latest import latest_run_dir

MODEL_FILES = tuple(dict.fromkeys(t.end_model_file for t in LABEL_TYPES.values() if t.end_model_file))
"""The files a run saves its end model to, by label type."""


def find_model(target: Path) -> Path:
    """The end-model file ``target`` stands for: a pipeline file, an export or run folder, or the file itself."""
    if target.suffix == ".toml":
        root = _export_dir_of(target)
        latest = latest_run_dir(root)
        if latest is None:
            raise FileNotFoundError(
                f"{target}: export.dir {str(root)!r} has no LATEST run yet; run `weaksup run {target}` first"
            )
        return _model_in(latest)
    if target.is_dir():
        return _model_in(latest_run_dir(target) or target)
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist: give a pipeline file, a run folder or an end-model file "
                                f"({' or '.join(MODEL_FILES)})")  # fmt: skip
    return target


def _model_in(run_dir: Path) -> Path:
    for name in MODEL_FILES:
        if (run_dir / name).exists():
            return run_dir / name
    raise FileNotFoundError(f"{str(run_dir)!r} holds no end model ({' or '.join(MODEL_FILES)}): is it a run folder of "
                            "a pipeline that trains one (trainer.name is not 'none')?")  # fmt: skip


def model_type(path: Path) -> LabelType:
    """The label type whose end model the file ``path`` holds: the one its run's ``manifest.json``
    records, else the one whose end model the file names (types may share an end model); a file that
    names none goes to the first type saving such files, whose loader says what is wrong."""
    mine = [t for t in LABEL_TYPES.values() if t.end_model_file and Path(t.end_model_file).suffix == path.suffix]
    if not mine:
        raise ValueError(f"{path} is not an end-model file: `weaksup predict` reads {' or '.join(MODEL_FILES)}")
    manifest = path.parent / "manifest.json"
    if manifest.exists():
        try:
            recorded = json.loads(manifest.read_text()).get("label_type")
        except (OSError, ValueError, AttributeError):
            recorded = None
        if recorded in LABEL_TYPES and LABEL_TYPES[recorded] in mine:
            return LABEL_TYPES[recorded]
    name = model_name(path)
    return next((t for t in mine if t.end_model == name), mine[0])


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
) -> tuple[pl.DataFrame, dict[str, Any], LabelType]:
    """``data``'s rows with ``example_id`` and the end model's predictions first; the model's
    metadata; and the label type that predicted (its ``predicted_columns`` are the ones to show)."""
    label_type = model_type(model_path)
    model = label_type.load_end_model(model_path)
    frame = load_dataset(data, id_column=id_column)
    try:
        added = label_type.predict(model, frame, text_column=text_column)
    except ValueError as exc:
        raise ValueError(f"{data}: {exc}") from None
    clash = [c for c in added.columns if c in frame.columns]
    if clash:
        raise ValueError(f"{data} already has columns {clash}, which predict adds; rename them in the data first")
    out = frame.with_columns(added)
    return out.select(ID, *added.columns, pl.exclude(ID, *added.columns)), model.metadata_, label_type
