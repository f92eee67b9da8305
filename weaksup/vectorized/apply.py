"""The applier's batch function for vectorized LFs: one ``select`` per chunk, then checks.

Every vectorized LF of a chunk is evaluated in one polars ``select`` (frame
functions are called one by one), and each result is checked like a row LF's
return values: a categorical LF yields integers in ``0..k-1`` or null/``-1``;
a regression LF finite numbers or null; a ranking LF lists of distinct item ids
or null.  A wrong dtype, an out-of-range value, a missing column or a polars
error stops the run with :class:`~weaksup.apply.LFApplicationError` naming the LF
(and the first bad example): an expression fails on a whole chunk, never on one
example, so there is nothing to record and carry on with.  Votes committed
before the failing chunk are kept.

>>> from weaksup.apply import BATCH_APPLIERS
>>> BATCH_APPLIERS["vectorized"] is apply_vectorized_lfs
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from weaksup.apply import BATCH_APPLIERS, ApplyContext, LFApplicationError, LFOutput
from weaksup.apply_store import KIND_CHUNK_ROWS
from weaksup.data import ID
from weaksup.vectorized.lf import VectorizedLabelingFunction
from weaksup.votes import ABSTAIN

__all__ = ["apply_vectorized_lfs"]


def apply_vectorized_lfs(
    lfs: Sequence[VectorizedLabelingFunction], chunk: pl.DataFrame, ctx: ApplyContext
) -> list[LFOutput]:
    """Evaluate ``lfs`` on ``chunk`` and check their votes; one output per LF, in order."""
    columns = _evaluate(lfs, chunk)
    return [_check(lf, columns[j], chunk[ID], ctx.cardinality) for j, lf in enumerate(lfs)]


def _evaluate(lfs: Sequence[VectorizedLabelingFunction], chunk: pl.DataFrame) -> list[pl.Series]:
    exprs = [(j, lf) for j, lf in enumerate(lfs) if lf.expr is not None]
    out: list[pl.Series | None] = [None] * len(lfs)
    if exprs:
        try:
            got = chunk.select(pl.col(ID).alias("__rows__"), *(lf.expr.alias(f"c{j}") for j, lf in exprs))  # type: ignore[union-attr]
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


def _bad(lf: VectorizedLabelingFunction, ids: pl.Series, mask: pl.Series | np.ndarray, problem: str, expected: str) -> LFApplicationError:
    i = int(np.flatnonzero(np.asarray(mask))[0])
    return LFApplicationError(f"LF {lf.name!r} returned {problem} on example {ids[i]!r}; {expected}")


def _wrong_dtype(lf: VectorizedLabelingFunction, dtype: Any, expected: str) -> LFApplicationError:
    return LFApplicationError(f"LF {lf.name!r} returned a column of dtype {dtype}; {expected}")


def _check(lf: VectorizedLabelingFunction, s: pl.Series, ids: pl.Series, k: int) -> LFOutput:
    """``s`` as checked votes: labels for categorical LFs, values for the other types."""
    n = s.len()
    if lf.label_type == "categorical":
        expected = f"a categorical LF yields class ids in 0..{k - 1}, or null/-1 (ABSTAIN) to abstain"
        if s.dtype == pl.Null:
            return LFOutput(np.full(n, ABSTAIN, np.int32))
        if not s.dtype.is_integer():
            raise _wrong_dtype(lf, s.dtype, expected + " (an integer column: e.g. pl.when(cond).then(1))")
        labels = s.cast(pl.Int64).fill_null(ABSTAIN).to_numpy()
        bad = (labels < ABSTAIN) | (labels >= k)
        if bad.any():
            value = int(labels[np.flatnonzero(bad)[0]])
            raise _bad(lf, ids, bad, f"{value}, outside the label space", expected)
        return LFOutput(labels.astype(np.int32))
    if lf.label_type == "regression":
        expected = "a regression LF yields finite numbers, or null to abstain"
        if not s.dtype.is_numeric():
            raise _wrong_dtype(lf, s.dtype, expected)
        floats = s.cast(pl.Float64)
        bad = (~floats.is_finite()).fill_null(False)
        if bad.any():
            raise _bad(lf, ids, bad.to_numpy(), repr(float(floats.filter(bad)[0])), expected)
        return LFOutput(np.full(n, ABSTAIN, np.int32), values=floats.to_list())
    expected = "a ranking LF yields lists of distinct item ids, best first, or null to abstain"
    if not isinstance(s.dtype, pl.List):
        raise _wrong_dtype(lf, s.dtype, expected)
    items = s.list.eval(pl.element().cast(pl.String))
    dupes = (items.list.n_unique() != items.list.len()).fill_null(False)
    if dupes.any():
        raise _bad(lf, ids, dupes.to_numpy(), f"a ranking with duplicate items {items.filter(dupes)[0].to_list()}", expected)
    return LFOutput(np.full(n, ABSTAIN, np.int32), values=items.to_list())


BATCH_APPLIERS["vectorized"] = apply_vectorized_lfs
KIND_CHUNK_ROWS["vectorized"] = 1_000_000  # about a second of polars work per chunk
