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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup.data import ID, load_dataset
from weaksup.end_models.plain import model_name
from weaksup.label_types import LABEL_TYPES, LabelType
from weaksup.pipeline.latest import latest_run_dir

MODEL_FILES = tuple(dict.fromkeys(f for t in LABEL_TYPES.values() if t.end_model_file
                                  for f in (t.end_model_file, *t.other_model_files)))  # fmt: skip
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
    mine = [t for t in LABEL_TYPES.values() if t.end_model_file
            and path.suffix in {Path(f).suffix for f in (t.end_model_file, *t.other_model_files)}]  # fmt: skip
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
    return next((t for t in mine if name in (t.end_model, *t.other_end_models)), mine[0])


def trusted_types_of(target: Path) -> list[str]:
    """A pipeline file's ``trainer.trusted_types`` (read without validating the rest); none for another target."""
    if target.suffix != ".toml":
        return []
    trusted = _raw(target).get("trainer", {}).get("trusted_types", [])
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise ValueError(f"{target}: trainer.trusted_types must be a list of type names, got {trusted!r}")
    return trusted


def _raw(pipeline: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(pipeline.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read pipeline file {str(pipeline)!r}: {exc}") from None


def _export_dir_of(pipeline: Path) -> Path:
    """The pipeline's ``export.dir``, read without validating the rest of the file."""
    folder = _raw(pipeline).get("export", {}).get("dir", "exports")
    if not isinstance(folder, str):
        raise ValueError(f"{pipeline}: export.dir must be a string, got {folder!r}")
    return (pipeline.parent / folder).resolve()


def predict_file(
    model_path: Path, data: str | Path, *, text_column: str | None = None, id_column: str | None = None,
    trusted: Sequence[str] = (), score: str | None = None,
) -> tuple[pl.DataFrame, dict[str, Any], LabelType]:
    """``data``'s rows with ``example_id`` and the end model's predictions first; the model's
    metadata; and the label type that predicted (its ``predicted_columns`` are the ones to show).
    ``trusted``: exact type names a skops model file may hold; ``score``: a column of gold labels
    (class ids or names), taken out of the data before predicting and scored against the
    predictions (:func:`score_predictions`)."""
    label_type = model_type(model_path)
    model = label_type.load_end_model(model_path, trusted=tuple(trusted))
    frame = load_dataset(data, id_column=id_column)
    gold = None
    if score is not None:
        if score not in frame.columns:
            raise ValueError(f"{data}: --score {score!r} is not a column; its columns are {frame.columns}")
        gold, frame = frame[score], frame.drop(score)
    try:
        added = label_type.predict(model, frame, text_column=text_column)
    except ValueError as exc:
        raise ValueError(f"{data}: {exc}") from None
    clash = [c for c in added.columns if c in frame.columns]
    if clash:
        raise ValueError(f"{data} already has columns {clash}, which predict adds; rename them in the data first")
    out = frame.with_columns(added)
    if gold is not None:
        out = out.with_columns(gold)
    return out.select(ID, *added.columns, pl.exclude(ID, *added.columns)), model.metadata_, label_type


def score_predictions(out: pl.DataFrame, gold_column: str, classes: Sequence[str]) -> tuple[dict[str, float], list[list[int]]]:
    """Accuracy, macro-F1, log-loss and per-class scores of a categorical end model's predictions
    (``prob_<class>`` columns) against ``gold_column`` (class ids or names; null: unknown), and the
    confusion matrix (rows: gold)."""
    from weaksup.class_metrics import class_scores, confusion

    names = [str(c) for c in classes]
    probs_columns = [f"prob_{c}" for c in names]
    if not all(c in out.columns for c in probs_columns):
        raise ValueError("--score scores class probabilities: it is for categorical end models")
    values = out[gold_column]
    if values.dtype == pl.String:
        text = values.str.strip_chars()
        ids = text.replace_strict(names, list(range(len(names))), default=None, return_dtype=pl.Int64)
        ids = ids.fill_null(text.cast(pl.Int64, strict=False))
    else:
        ids = values.cast(pl.Int64, strict=False)
    gold = ids.fill_null(-1).to_numpy()
    bad = (gold < -1) | (gold >= len(names)) | (ids.is_null() & values.is_not_null()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"--score column {gold_column!r} holds {values[row]!r} in row {row}, which is neither a class "
                         f"name {names} nor a class id 0..{len(names) - 1}")  # fmt: skip
    if not (gold >= 0).any():
        raise ValueError(f"--score column {gold_column!r} has no gold label")
    probs = out.select(probs_columns).to_numpy()
    return class_scores(probs, gold, names), confusion(probs.argmax(axis=1), gold, len(names))
