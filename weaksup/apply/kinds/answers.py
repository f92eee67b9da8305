"""Recorded answers (:mod:`weaksup.crowd`, kind ``"answers"``): one join of every worker's answers with the chunk.

Each example of the chunk gets, from each answer LF, the vote recorded for its id, or an
abstain when that worker did not answer it, checked as its label type checks a vectorized LF's
column.  Answers were mapped into the label space when they were read, so nothing here can be out
of range unless an LF set mixes label spaces: that stops the run with
:class:`~weaksup.apply.checks.LFApplicationError`, naming the LF.  An answer LF holds its answers,
so a run opens nothing for it, and it reads no input column (only the example id).

>>> import polars as pl
>>> from weaksup.crowd.lf import answer_lfs
>>> lfs = answer_lfs(pl.DataFrame({"item": ["a", "b"], "worker": ["w", "w"], "vote": [1, 0]}))
>>> chunk = pl.DataFrame({"example_id": ["b", "c", "a"]})
>>> AnswersKind().apply_batch(lfs, chunk, ApplyContext(cardinality=2))[0].labels.tolist()
[0, -1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from weaksup.apply.checks import LFApplicationError
from weaksup.apply.kinds.base import ApplyContext, LFKind, LFOutput
from weaksup.crowd.lf import AnswerLF
from weaksup.data import ID
from weaksup.label_types import VoteError, label_type_for

__all__ = ["AnswersKind"]


class AnswersKind(LFKind):
    """Recorded answers (see the module docstring)."""

    name = "answers"

    def apply_batch(self, lfs: Sequence[AnswerLF], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
        return _answers(lfs, chunk, ctx)

    def columns_read(self, lfs: Sequence[AnswerLF], frame: pl.DataFrame) -> dict[str, list[str]]:
        return {lf.name: [] for lf in lfs}


def _answers(lfs: Sequence[AnswerLF], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
    """Each LF's recorded votes on ``chunk``'s examples (matched by ``example_id``), in ``lfs`` order."""
    n = chunk.height
    table = pl.concat(
        [lf.answers.with_columns(pl.lit(j, pl.Int32).alias("lf")) for j, lf in enumerate(lfs)], how="vertical_relaxed"
    )
    rows = pl.DataFrame({"item": chunk[ID].cast(pl.String), "row": np.arange(n, dtype=np.int64)})
    hits = table.join(rows, on="item").sort("lf", "row")
    starts = np.searchsorted(hits["lf"].to_numpy(), np.arange(len(lfs) + 1))
    row = hits["row"].to_numpy()
    outputs = []
    for j, lf in enumerate(lfs):
        mine = slice(starts[j], starts[j + 1])
        outputs.append(_in_label_space(lf, row[mine], hits["vote"][mine], chunk[ID], ctx.cardinality))
    return outputs


def _in_label_space(lf: AnswerLF, rows: np.ndarray, votes: pl.Series, ids: pl.Series, k: int) -> LFOutput:
    """One LF's answers on the chunk's ``rows`` as a column (null where it did not answer), checked
    as its label type checks a vectorized LF's column."""
    t = label_type_for(lf.label_type)
    votes = votes.cast(t.answer_dtype)
    at = np.full(len(ids), len(votes))  # rows no answer names read the null after the answers
    at[rows] = np.arange(len(votes))
    column = pl.concat([votes, pl.Series([None], dtype=votes.dtype)]).gather(at)
    try:
        labels, checked = t.check_column(column, k)
    except VoteError as exc:
        where = f" for example {ids[exc.row]!r}" if exc.row is not None else ""
        raise LFApplicationError(
            f"LF {lf.name!r} holds the answer {exc.problem}{where}; {exc.expected}: build its answers in this run's label space"
        ) from None
    return LFOutput(labels, values=checked)
