"""Vectorized LFs (:mod:`weaksup.vectorized`, kind ``"vectorized"``): one polars query per chunk, then checks.

Every expression LF of a chunk is evaluated in one lazy polars ``select`` (frame functions are
called one by one), so polars evaluates what the expressions share once: twenty keyword LFs that
each lower-case the same column lower-case it once.  Each result is checked like a row LF's return
values, by its label type (:meth:`~weaksup.label_types.LabelType.check_column`: a categorical LF
yields integers in ``0..k-1`` or null/``-1``, a ranking LF lists of distinct item ids or null).  A
wrong dtype, an out-of-range value, a missing column or a polars error stops the run with
:class:`~weaksup.apply.checks.LFApplicationError` naming the LF (and the first bad example): an
expression fails on a whole chunk, never on one example, so there is nothing to record and carry
on with.  Votes committed before the failing chunk are kept.

>>> from weaksup.vectorized import keywords
>>> chunk = pl.DataFrame({"example_id": ["a", "b"], "text": ["Subscribe!", "nice"], "n": [1, 2]})
>>> lfs = [keywords("promo", ["subscribe"], 1)]
>>> VectorizedKind().apply_batch(lfs, chunk, ApplyContext(cardinality=2))[0].labels.tolist()
[1, -1]
>>> VectorizedKind().columns_read(lfs, chunk)
{'promo': ['text']}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from weaksup.apply.checks import LFApplicationError, bad_vote
from weaksup.apply.kinds.base import ApplyContext, LFKind, LFOutput
from weaksup.batches import TRACE_ROWS, VECTORIZED_COMMIT_ROWS
from weaksup.data import ID
from weaksup.label_types import VoteError, label_type_for
from weaksup.vectorized.lf import VectorizedLabelingFunction

__all__ = ["VectorizedKind"]


class VectorizedKind(LFKind):
    """Vectorized LFs (see the module docstring)."""

    name = "vectorized"
    chunk_rows = VECTORIZED_COMMIT_ROWS
    portable = True

    def apply_batch(
        self, lfs: Sequence[VectorizedLabelingFunction], chunk: pl.DataFrame, ctx: ApplyContext
    ) -> list[LFOutput]:
        columns = _evaluate(lfs, chunk)
        return [_check(lf, columns[j], chunk[ID], ctx) for j, lf in enumerate(lfs)]

    def columns_read(self, lfs: Sequence[VectorizedLabelingFunction], frame: pl.DataFrame) -> dict[str, list[str]]:
        sample = frame[np.unique(np.linspace(0, frame.height - 1, min(TRACE_ROWS, frame.height)).astype(int))]
        return {lf.name: _columns_of(lf, sample) for lf in lfs}

    def user_code(self, lf: VectorizedLabelingFunction) -> Sequence[Callable[..., Any]]:
        return () if lf.f is None else (lf.f,)


def _columns_of(lf: VectorizedLabelingFunction, sample: pl.DataFrame) -> list[str]:
    """The columns of ``sample`` an LF reads: an expression's root columns; for a frame function,
    those whose removal makes it fail or change its output on the sample."""
    if lf.expr is not None:
        return sorted(set(lf.expr.meta.root_names()) & set(sample.columns))
    try:
        full = lf.evaluate(sample)
    except Exception:  # noqa: BLE001 - an LF bug is the applier's to report
        return []
    read = []
    for column in sample.columns:
        if column == ID:
            continue
        try:
            same = isinstance(full, pl.Series) and full.equals(lf.evaluate(sample.drop(column)))
        except Exception:  # noqa: BLE001 - it needed the column
            same = False
        if not same:
            read.append(column)
    return sorted(read)


def _evaluate(lfs: Sequence[VectorizedLabelingFunction], chunk: pl.DataFrame) -> list[pl.Series]:
    exprs = [(j, lf) for j, lf in enumerate(lfs) if lf.expr is not None]
    out: list[pl.Series | None] = [None] * len(lfs)
    if exprs:
        try:
            # Lazily, so that polars evaluates the subexpressions the LFs share once.
            got = chunk.lazy().select(pl.col(ID).alias("__rows__"), *(lf.expr.alias(f"c{j}") for j, lf in exprs)).collect()  # type: ignore[union-attr]
        except pl.exceptions.PolarsError:
            got = None  # find the failing LF below, one at a time
        for j, lf in exprs:
            out[j] = got[f"c{j}"] if got is not None else _one(lf, chunk)
    for j, lf in enumerate(lfs):
        if lf.expr is None:
            out[j] = _one(lf, chunk)
    return out  # type: ignore[return-value]


def _one(lf: VectorizedLabelingFunction, chunk: pl.DataFrame) -> pl.Series:
    try:
        series = lf.evaluate(chunk) if lf.expr is None else chunk.select(pl.col(ID).alias("__rows__"), lf.expr.alias(lf.name))[lf.name]
    except pl.exceptions.ColumnNotFoundError as exc:
        raise LFApplicationError(
            f"LF {lf.name!r} reads a column the dataset does not have ({str(exc).splitlines()[0]}); "
            f"columns are {chunk.columns}. Fix the LF or add the column."
        ) from None
    except Exception as exc:
        raise LFApplicationError(
            f"LF {lf.name!r} failed on the chunk starting at example {chunk[ID][0]!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(series, pl.Series):
        raise LFApplicationError(
            f"LF {lf.name!r} returned {type(series).__name__}; a frame function must return a polars Series "
            "with one value per row"
        )
    if series.len() != chunk.height:
        raise LFApplicationError(
            f"LF {lf.name!r} returned {series.len()} values for a chunk of {chunk.height} examples; "
            "a vectorized LF returns one value per row"
        )
    return series


def _check(lf: VectorizedLabelingFunction, column: pl.Series, ids: pl.Series, ctx: ApplyContext) -> LFOutput:
    """``column`` as checked votes of the LF's label type (:meth:`~weaksup.label_types.LabelType.check_column`)."""
    try:
        labels, values = label_type_for(lf.label_type).check_column(column, ctx.cardinality, ctx.classes)
    except VoteError as exc:
        raise bad_vote(lf.name, exc, None if exc.row is None else ids[exc.row]) from None
    return LFOutput(labels, values=values)
