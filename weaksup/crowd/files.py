"""Crowd answer files: ``answer.csv`` (item, worker, answer) and an optional ``truth.csv`` (item, truth),
as CSV with a header row or as Parquet, read with errors that name the file, the line and the column.
:func:`load_crowd` loads them straight into sparse votes, one LF per worker; a pipeline's
``[answers]`` section (:mod:`weaksup.pipeline.answers`) reads them with :func:`read_crowd_columns`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from weaksup.votes import SparseVotes

__all__ = ["CrowdColumnError", "CrowdVotes", "crowd_row", "load_crowd", "ragged_line", "read_crowd_columns"]


@dataclass(frozen=True)
class CrowdVotes:
    """Crowd answers as label-model input: ``votes`` (one LF per worker, one row per item),
    ``truth`` (class id per row, -1 where unknown), and the ids behind rows, LFs and classes."""

    votes: SparseVotes
    truth: np.ndarray
    items: tuple[str, ...]
    workers: tuple[str, ...]
    classes: tuple[str, ...]
    n_repeats: int
    """(item, worker) pairs answered more than once in the file; only the first answer is kept."""


class CrowdColumnError(ValueError):
    """A crowd file lacks a column it needs (by name, or by position when unnamed)."""


def read_crowd_columns(
    path: str | Path, roles: Sequence[str], names: Sequence[str | None] | None = None
) -> pl.DataFrame:
    """Some columns of a crowd file (a CSV with a header row, or Parquet) as stripped, non-empty
    strings named ``roles``: the columns ``names`` (each ``None`` takes the role's position:
    the first column for the first role...).  Errors name the file, the line and the column."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"crowd file {str(path)!r} does not exist")
    parquet = path.suffix.lower() == ".parquet"
    try:
        df = pl.read_parquet(path) if parquet else pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise ValueError(f"{str(path)!r} is empty: it has no header row and no rows") from None
    except (pl.exceptions.PolarsError, OSError) as error:
        ragged = None if parquet else ragged_line(path)
        if ragged is not None:
            raise ValueError(_ragged_message(path, *ragged)) from None
        raise ValueError(f"cannot parse {str(path)!r} as {'Parquet' if parquet else 'CSV'}: {error}") from error
    names = list(names or [None] * len(roles))
    if df.width < len(roles) and not all(names):
        raise CrowdColumnError(
            f"{str(path)!r} has columns {df.columns} but needs {len(roles)}: "
            f"{', '.join(roles)} (in that order, with a header row)"
        )
    chosen = [df.columns[i] if name is None else name for i, name in enumerate(names)]
    for role, name in zip(roles, chosen):
        if name not in df.columns:
            raise CrowdColumnError(f"{str(path)!r} has no column {name!r} for the {role}; its columns are {df.columns}")
    position = {role: df.columns.index(name) + 1 for role, name in zip(roles, chosen)}
    df = df.select(pl.col(name).cast(pl.String).str.strip_chars().alias(role) for role, name in zip(roles, chosen))
    for c in roles:
        empty = df[c].is_null() | (df[c] == "")
        if empty.any():
            ragged = None if parquet else ragged_line(path)
            if ragged is not None:  # a row with too few fields reads as empty values
                raise ValueError(_ragged_message(path, *ragged))
            raise ValueError(
                f"{str(path)!r} {crowd_row(path, int(empty.arg_max()))}: the {c} column (column {position[c]}) "
                "is empty; every row needs a value"
            )
    return df


def ragged_line(path: Path) -> tuple[int, int, int] | None:
    """The first line of a CSV file whose row has another number of fields than its header:
    (line, fields, header fields); None when every row fits."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return None
        for row in reader:
            if row and len(row) != len(header):
                return reader.line_num, len(row), len(header)
    return None


def _ragged_message(path: Path, line: int, fields: int, expected: int) -> str:
    return (f"{str(path)!r} line {line}: {fields} fields where the header has {expected}; give every row one value "
            "per column (quote a value that holds a comma)")  # fmt: skip


def crowd_row(path: Path, row: int) -> str:
    """Where row ``row`` (0-based, header excluded) of a crowd file is: a CSV line, or a Parquet row."""
    return f"row {row}" if path.suffix.lower() == ".parquet" else f"line {row + 2}"


def _class_order(values: list[str]) -> list[str]:
    """Numeric order when every label is a number (so ``"10"`` follows ``"9"``), else text order."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def load_crowd(
    answers: str | Path, truth: str | Path | None = None, classes: list[str] | None = None
) -> CrowdVotes:
    """Load crowd answers (and optional truth) into :class:`CrowdVotes`.

    ``answers`` is a CSV (or Parquet) file whose first three columns are item, worker and answer
    (any header names, e.g. ``question,worker,answer``); ``truth`` one whose first two are item and truth.
    Rows are the items in order of first appearance in ``answers``, then items found only in
    ``truth`` (they have no votes); LFs are the workers in order of first appearance.  Class
    ids follow ``classes`` when given (an answer outside it is an error), else the distinct
    answer and truth values sorted numerically when all are numbers and as text otherwise:
    answers 1..5 become classes 0..4.  A worker answering an item twice keeps the first answer.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "answer.csv").write_text("question,worker,answer\\nq1,w1,2\\nq1,w2,1\\nq2,w1,1\\n")
    >>> _ = (d / "truth.csv").write_text("question,truth\\nq2,1\\n")
    >>> crowd = load_crowd(d / "answer.csv", d / "truth.csv")
    >>> crowd.classes, crowd.votes.to_dense().tolist(), crowd.truth.tolist()
    (('1', '2'), [[1, 0], [0, -1]], [-1, 0])
    """
    answers = Path(answers)
    df = read_crowd_columns(answers, ("item", "worker", "answer"))
    if df.height == 0:
        raise ValueError(f"{str(answers)!r} has a header row and no answers")
    gold = None if truth is None else read_crowd_columns(Path(truth), ("item", "truth"))
    if gold is not None:
        repeated = gold.filter(pl.col("item").is_duplicated()).group_by("item").agg(pl.col("truth").n_unique())
        conflict = repeated.filter(pl.col("truth") > 1)
        if conflict.height:
            raise ValueError(
                f"{str(truth)!r}: item {conflict['item'][0]!r} has {conflict['truth'][0]} different truths; "
                "give one truth per item"
            )
    seen = set(df["answer"].unique().to_list()) | (set() if gold is None else set(gold["truth"].to_list()))
    if classes is None:
        classes = _class_order(list(seen))
    class_id = {c: i for i, c in enumerate(classes)}
    for what, frame, col, path in (("answer", df, "answer", answers), ("truth", gold, "truth", truth)):
        if frame is None:
            continue
        unknown = ~frame[col].is_in(list(class_id))
        if unknown.any():
            row = int(unknown.arg_max())
            raise ValueError(
                f"{str(path)!r} {crowd_row(Path(path), row)}: {what} {frame[col][row]!r} is not one of the classes "
                f"{list(classes)}"
            )
    items = list(dict.fromkeys(df["item"].to_list()))
    if gold is not None:
        known = set(items)
        items += [i for i in dict.fromkeys(gold["item"].to_list()) if i not in known]
    workers = list(dict.fromkeys(df["worker"].to_list()))
    item_id = {q: i for i, q in enumerate(items)}
    worker_id = {w: i for i, w in enumerate(workers)}
    first = df.unique(subset=["item", "worker"], keep="first", maintain_order=True)
    rows = np.array([item_id[q] for q in first["item"]], dtype=np.int64)
    cols = np.array([worker_id[w] for w in first["worker"]], dtype=np.int32)
    labels = np.array([class_id[a] for a in first["answer"]], dtype=np.int32)
    order = np.argsort(rows, kind="stable")
    votes = SparseVotes(rows[order], cols[order], labels[order], len(items), len(workers), tuple(workers))
    y = np.full(len(items), -1, dtype=np.int64)
    if gold is not None:
        for q, t in gold.unique(subset=["item"], keep="first").iter_rows():
            y[item_id[q]] = class_id[t]
    return CrowdVotes(votes, y, tuple(items), tuple(workers), tuple(classes), df.height - first.height)
