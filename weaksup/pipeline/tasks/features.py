"""End-model feature discovery: the input columns the end model may learn from.

The end model must not see the columns the LFs read: it would learn the LFs back instead of
generalising beyond them.  :func:`columns_read` asks each LF's kind for those columns, and
:func:`end_model_features` picks the numeric columns
(for rankings, numeric list columns: one value per item) that no LF reads, or checks
``trainer.features``.  The ranking and regression tasks' end models train on them.

>>> import polars as pl
>>> from weaksup.lf import labeling_function
>>> from weaksup.pipeline.settings import TrainerSettings
>>> @labeling_function(label_type="regression")
... def by_x(row):
...     return row.x
>>> frame = pl.DataFrame({"example_id": ["a", "b"], "x": [1.0, 2.0], "w": [3, 4], "title": ["p", "q"]})
>>> read = columns_read([by_x], frame)
>>> read
{'by_x': ['x']}
>>> trainer = TrainerSettings("soft_regressor", "text", {}, features=None, exclude_columns=[])
>>> end_model_features(frame, trainer, read, ranking=False)
['w']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike, kinds_of
from weaksup.data import ID
from weaksup.pipeline.settings import TrainerSettings


def columns_read(lfs: Sequence[LabelingFunctionLike], frame: pl.DataFrame) -> dict[str, list[str]]:
    """Each LF's name → the columns of ``frame`` it reads, as its kind finds them
    (:meth:`~weaksup.apply.kinds.LFKind.columns_read`: row-wise LFs and field functions are traced
    on a sample of rows).  A column an LF reads only on rows outside the sample is missed: list such
    columns in ``trainer.exclude_columns``."""
    found: dict[str, list[str]] = {}
    for kind, idx in kinds_of(lfs).items():
        found.update(kind.columns_read([lfs[j] for j in idx], frame))
    return {lf.name: found[lf.name] for lf in lfs}


FIRST_TRACE_ROWS = 16
"""How many examples (evenly spaced) :func:`refuse_features_read` traces row-wise LFs on before a run."""


def refuse_features_read(lfs: Sequence[LabelingFunctionLike], examples: pl.DataFrame, trainer: TrainerSettings,
                         trains: bool) -> None:  # fmt: skip
    """Refuse ``trainer.features`` naming a column an LF reads, before any LF runs on the data (an
    end model that reads it would learn the LF back).  Vectorized LFs' columns come from their
    expressions; row-wise ones are traced on :data:`FIRST_TRACE_ROWS` examples.  A column an LF reads
    only on other rows is found after the run, on a larger sample (:func:`columns_read`)."""
    if trainer.features is None or not trains or not examples.height:
        return
    rows = np.unique(np.linspace(0, examples.height - 1, min(FIRST_TRACE_ROWS, examples.height)).astype(int))
    sample = examples[rows].drop("split", strict=False)
    for name, columns in columns_read(lfs, sample).items():
        listed = [c for c in columns if c in trainer.features]
        if listed:
            raise ValueError(
                f"trainer.features lists {listed[0]!r}, which LF {name!r} reads; the end model must not see the "
                f"columns the LFs read (it would learn the LFs back): drop {listed[0]!r} from trainer.features, or "
                "leave trainer.features out to train on every column no LF reads"
            )


def _numeric(dtype: pl.DataType, ranking: bool) -> bool:
    if ranking:
        return isinstance(dtype, pl.List) and (dtype.inner.is_numeric() or dtype.inner == pl.Boolean)
    return dtype.is_numeric() or dtype == pl.Boolean


def end_model_features(
    examples: pl.DataFrame, trainer: TrainerSettings, read: Mapping[str, Sequence[str]], *, ranking: bool,
    reserved: Sequence[str] = (),
) -> list[str]:  # fmt: skip
    """The end model's input columns: ``trainer.features``, or every numeric column (rankings:
    numeric list column) that no LF reads, is not excluded and is not ``reserved`` (the id and the
    split always are).  Never an LF column."""
    reader = {col: name for name, cols in read.items() for col in cols}
    reserved = {ID, "split", *reserved}
    if trainer.features is None:
        return [
            c for c, t in examples.schema.items()
            if c not in reserved and c not in reader and c not in trainer.exclude_columns and _numeric(t, ranking)
        ]  # fmt: skip
    for c in trainer.features:
        if c in reader:
            raise ValueError(
                f"trainer.features lists {c!r}, which LF {reader[c]!r} reads; the end model must not see the "
                "columns the LFs read (it would learn the LFs back): drop it from trainer.features"
            )
        if c not in examples.columns or c in reserved:
            raise ValueError(f"trainer.features lists {c!r}, which is not an input column; inputs are {examples.columns}")
        if not _numeric(examples.schema[c], ranking):
            kind = "a list of numbers per item" if ranking else "numbers"
            raise ValueError(f"trainer.features lists {c!r} of type {examples.schema[c]}; features must be {kind}")
    return list(trainer.features)
