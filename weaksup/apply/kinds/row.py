"""Row-wise Python LFs (:class:`weaksup.lf.LabelingFunction`, kind ``"row"``): called once per example.

The chunk's rows are built once and each LF is called on each row; its return value is checked
for its label type (:mod:`weaksup.apply.checks`).  An LF that raises on an example records an error
row and abstains there, unless the run is strict; reading a column the dataset lacks always stops
the run.  They travel to workers (with their function and preprocessors), and the columns they
read are found by tracing them on a sample of rows.

>>> import polars as pl
>>> from weaksup.apply.kinds.base import ApplyContext
>>> from weaksup.lf import labeling_function
>>> @labeling_function()
... def short(x):
...     return 0 if len(x.text) < 5 else -1
>>> chunk = pl.DataFrame({"example_id": ["a", "b"], "text": ["hi", "a long comment"], "n": [1, 2]})
>>> RowKind().apply_batch([short], chunk, ApplyContext(cardinality=2))[0].labels.tolist()
[0, -1]
>>> RowKind().columns_read([short], chunk)
{'short': ['text']}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from weaksup.apply.checks import VOTE_CHECKS, LFApplicationError
from weaksup.apply.kinds.base import ApplyContext, LFKind, LFOutput
from weaksup.batches import TRACE_ROWS
from weaksup.data import ID
from weaksup.label_types import label_type_for
from weaksup.lf import LabelingFunction, MissingColumnError, Row

__all__ = ["RowKind", "trace_columns"]


class RowKind(LFKind):
    """Row-wise Python LFs (see the module docstring)."""

    name = "row"
    portable = True

    def apply_batch(self, lfs: Sequence[LabelingFunction], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
        rows = [Row(r) for r in chunk.iter_rows(named=True)]
        ids = chunk[ID]
        return [_apply_one(lf, rows, ids, ctx) for lf in lfs]

    def columns_read(self, lfs: Sequence[LabelingFunction], frame: pl.DataFrame) -> dict[str, list[str]]:
        return {lf.name: trace_columns(lf, frame) for lf in lfs}

    def user_code(self, lf: LabelingFunction) -> Sequence[Callable[..., Any]]:
        return (lf.f, *lf.pre)


def _apply_one(lf: LabelingFunction, rows: list[Row], ids: pl.Series, ctx: ApplyContext) -> LFOutput:
    """One LF on the chunk's rows: its checked votes, and the rows where it raised."""
    check = VOTE_CHECKS[lf.label_type]
    votes: list[Any] = [None] * len(rows)
    errors: list[tuple[int, BaseException]] = []
    for i, row in enumerate(rows):
        try:
            value = lf(row.copy() if lf.pre else row)
        except MissingColumnError as exc:
            raise LFApplicationError(
                f"LF {lf.name!r} reads column {exc.column!r}, which the dataset does not have "
                f"(example {ids[i]!r}); columns are {exc.columns}. Fix the LF or add the column."
            ) from None
        except Exception as exc:  # an LF bug on one example: record it and abstain
            if ctx.strict:
                raise LFApplicationError(
                    f"LF {lf.name!r} raised {type(exc).__name__} on example {ids[i]!r}: {exc}"
                ) from exc
            errors.append((i, exc))
            continue
        votes[i] = check(lf.name, value, ids[i], ctx.cardinality, ctx.classes)
    labels, values = label_type_for(lf.label_type).as_output(votes)
    return LFOutput(labels, None, errors, values=values)


class _TracingRow(Row):
    """A :class:`Row` that records the columns read from it."""

    __slots__ = ()

    def __init__(self, values: Mapping[str, Any], seen: set[str]) -> None:
        super().__init__(values)
        object.__setattr__(self, "_seen", seen)

    def __getattribute__(self, name: str) -> Any:
        values = object.__getattribute__(self, "__dict__")
        if name in values and name != "_seen":
            values["_seen"].add(name)
        return object.__getattribute__(self, name)

    def __getitem__(self, name: str) -> Any:
        self.__dict__["_seen"].add(name)
        return super().__getitem__(name)


def trace_columns(call: Callable[[Row], Any], frame: pl.DataFrame, max_rows: int = TRACE_ROWS) -> list[str]:
    """The columns of ``frame`` that ``call`` (given one example as a :class:`Row`) reads, found by
    running it on up to ``max_rows`` evenly spaced rows (its exceptions count as reading nothing
    more).  A column read only on rows outside the sample is missed."""
    rows = frame[np.unique(np.linspace(0, frame.height - 1, min(max_rows, frame.height)).astype(int))].to_dicts()
    seen: set[str] = set()
    for row in rows:
        try:
            call(_TracingRow(row, seen))
        except Exception:  # noqa: BLE001 - an LF bug is the applier's to report
            pass
    return sorted(seen & set(frame.columns))
