"""Export soft-labeled training sets to Parquet, JSONL or CSV.

>>> import numpy as np, polars as pl
>>> inputs = pl.DataFrame({"example_id": ["a", "b", "c"], "text": ["x", "y", "z"]})
>>> probs = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
>>> soft_label_frame(inputs, probs, np.array([2, 0, 1]), ["HAM", "SPAM"]).columns
['example_id', 'text', 'prob_HAM', 'prob_SPAM', 'label', 'label_name', 'confidence', 'n_votes']
>>> soft_label_frame(inputs, probs, np.array([2, 0, 1]), ["HAM", "SPAM"]).height  # b had no votes
2

Columns: the example id, the input columns, one ``prob_<class>`` column per
class, the argmax ``label`` (id) and ``label_name``, ``confidence`` (the argmax
probability) and ``n_votes`` (non-abstain votes).  Examples no LF voted on are
dropped unless ``keep_uncovered=True``: their probabilities are only the prior.  A pipeline's
training set adds each row's ``split`` and its ``label_source`` (``votes``, or ``prior`` for a
row no LF voted on: :func:`weaksup.pipeline.tasks.base.training_table`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

FORMATS = ("parquet", "jsonl", "csv")


def soft_label_frame(
    inputs: pl.DataFrame,
    probs: np.ndarray,
    n_votes: np.ndarray,
    class_names: Sequence[str],
    *,
    keep_uncovered: bool = False,
) -> pl.DataFrame:
    """The training-set table for ``inputs`` (``example_id`` first, then input columns)."""
    probs = np.asarray(probs, dtype=float)
    if probs.shape != (inputs.height, len(class_names)):
        raise ValueError(
            f"probs has shape {probs.shape}, expected ({inputs.height}, {len(class_names)}) for these inputs and classes"
        )
    label = probs.argmax(axis=1)
    frame = inputs.with_columns(
        *(pl.Series(f"prob_{name}", probs[:, j]) for j, name in enumerate(class_names)),
        pl.Series("label", label, dtype=pl.Int64),
        pl.Series("label_name", np.asarray(class_names, dtype=object)[label], dtype=pl.String),
        pl.Series("confidence", probs.max(axis=1)),
        pl.Series("n_votes", np.asarray(n_votes), dtype=pl.Int64),
    )
    return frame if keep_uncovered else frame.filter(pl.col("n_votes") > 0)


def _target(path: str | Path, fmt: str | None) -> tuple[Path, str, Path]:
    """The output path, its format (``fmt`` or the extension, checked) and the temporary file
    written first; the folder is made."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, fmt, path.with_name(f".{path.name}.tmp")


def write_table(frame: pl.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``frame`` as Parquet, JSONL or CSV (from ``fmt`` or the extension), atomically:
    readers never see a half-written file."""
    path, fmt, tmp = _target(path, fmt)
    if fmt == "parquet":
        frame.write_parquet(tmp)
    elif fmt == "jsonl":
        frame.write_ndjson(tmp)
    else:
        _check_flat(frame)
        frame.write_csv(tmp)
    os.replace(tmp, path)
    return path


def write_batches(batches: Iterable[pl.DataFrame], path: str | Path, fmt: str | None = None) -> tuple[Path, int]:
    """Write consecutive row batches of one table (at least one; same columns and types) as
    :func:`write_table` writes their concatenation, holding one batch at a time; the path and the
    row count.  CSV and JSONL come out byte for byte the same; Parquet the same table, one row
    group (or more) per batch, zstd-compressed like polars'."""
    path, fmt, tmp = _target(path, fmt)
    import pyarrow.parquet as pq  # here: weaksup.export is imported where Parquet is never written

    rows, seen, parquet = 0, 0, None
    try:
        with open(tmp, "wb") as out:
            for batch in batches:
                if fmt == "parquet":
                    table = batch.to_arrow()
                    parquet = parquet or pq.ParquetWriter(out, table.schema, compression="zstd")
                    parquet.write_table(table)
                elif fmt == "jsonl":
                    batch.write_ndjson(out)
                else:
                    _check_flat(batch)
                    batch.write_csv(out, include_header=seen == 0)
                rows, seen = rows + batch.height, seen + 1
            if parquet is not None:
                parquet.close()
        if not seen:
            raise ValueError(f"no batches to write to {path}: pass at least one, empty if the table is")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path, rows


def _check_flat(frame: pl.DataFrame) -> None:
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if nested:
        raise ValueError(f"CSV cannot hold the nested columns {nested}; export to parquet or jsonl instead")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
