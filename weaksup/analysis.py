"""LF summary statistics, computed from sparse votes.

>>> import numpy as np
>>> from weaksup.votes import SparseVotes
>>> L = np.array([[1, 1], [0, -1], [1, 0], [-1, -1]])
>>> s = lf_summary(SparseVotes.from_dense(L, ("a", "b")), gold=np.array([1, 0, 0, 1]))
>>> s.select("lf", "polarity", "coverage", "overlaps", "conflicts", "emp_acc").rows()
[('a', [0, 1], 0.75, 0.5, 0.25, 0.6666666666666666), ('b', [0, 1], 0.5, 0.5, 0.25, 1.0)]

Columns: ``polarity`` (classes the LF voted), ``coverage`` (fraction of examples
it voted on), ``overlaps`` (fraction where it and another LF voted),
``conflicts`` (fraction where another LF voted a different class), and, with
gold, ``correct``, ``incorrect`` and ``emp_acc`` (over examples with gold).
A fitted label model's ``accuracies_`` can be passed as ``learned_acc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from weaksup import batches
from weaksup.votes import SparseVotes


@dataclass
class LFCounts:
    """Per LF, the counts behind :func:`lf_summary` over some examples (``n`` of them): votes,
    votes where another LF voted, where the votes differ, votes per class (``per_class``, LF ×
    class) and, with gold, right and wrong votes.  Counts of disjoint sets of examples add up
    (``a + b``), so a large run is summarized part by part."""

    n: int
    voted: np.ndarray
    overlap: np.ndarray
    conflict: np.ndarray
    per_class: np.ndarray
    correct: np.ndarray | None = None
    incorrect: np.ndarray | None = None

    def __add__(self, other: LFCounts) -> LFCounts:
        width = max(self.per_class.shape[1], other.per_class.shape[1])

        def wide(a: np.ndarray) -> np.ndarray:
            return np.pad(a, ((0, 0), (0, width - a.shape[1])))

        def both(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else a + b

        return LFCounts(self.n + other.n, self.voted + other.voted, self.overlap + other.overlap,
                        self.conflict + other.conflict, wide(self.per_class) + wide(other.per_class),
                        both(self.correct, other.correct), both(self.incorrect, other.incorrect))  # fmt: skip


"""Rows counted at a time by :func:`lf_counts` (votes sorted by row): its temporaries stay this size."""


def lf_counts(votes: SparseVotes, gold: np.ndarray | None = None) -> LFCounts:
    """The :class:`LFCounts` of ``votes`` (``gold`` as in :func:`lf_summary`).  Cost is O(nnz),
    counted :data:`weaksup.batches.COUNT_ROWS` rows at a time."""
    parts = [_counts(part, None if gold is None else np.asarray(gold)[start : start + part.n])
             for start, part in votes.row_batches(batches.COUNT_ROWS)]  # fmt: skip
    return sum(parts[1:], parts[0])


def _counts(votes: SparseVotes, gold: np.ndarray | None) -> LFCounts:
    """The :class:`LFCounts` of one batch of rows (``gold`` aligned with them)."""
    n, m = votes.shape
    rows, cols, labels = votes.rows, votes.cols, votes.labels
    several = np.bincount(rows, minlength=n) > 1
    # A row "conflicts" if its votes are not all equal: compare each row's min and max label.
    lo = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)
    hi = np.full(n, np.iinfo(np.int32).min, dtype=np.int32)
    np.minimum.at(lo, rows, labels)
    np.maximum.at(hi, rows, labels)
    voted = np.bincount(cols, minlength=m)
    overlap = np.bincount(cols[several[rows]], minlength=m)  # counts: O(nnz) int32, not float64 weights
    conflict = np.bincount(cols[lo[rows] != hi[rows]], minlength=m)
    del several, lo, hi
    width = int(labels.max()) + 1 if len(labels) else 1  # (LF, class) pairs in one pass, not one per LF
    per_class = np.bincount(cols.astype(np.int64) * width + labels, minlength=m * width).reshape(m, width)
    counts = LFCounts(n, voted, overlap, conflict, per_class)
    if gold is not None:
        voted_gold = np.asarray(gold)[rows]
        known = voted_gold >= 0
        right = known & (voted_gold == labels)
        del voted_gold
        counts.correct = np.bincount(cols[right], minlength=m).astype(np.int64)
        counts.incorrect = np.bincount(cols[known & ~right], minlength=m).astype(np.int64)
    return counts


def lf_summary(
    votes: SparseVotes,
    gold: np.ndarray | None = None,
    learned_acc: Sequence[float] | np.ndarray | None = None,
) -> pl.DataFrame:
    """One row per LF; see the module docstring for the columns.

    ``gold`` is an (n,) int array with ``-1`` (or a masked/negative value) where
    unknown.  Cost is O(nnz); the dense matrix is never built.
    """
    names = list(votes.lf_names or [f"lf_{j}" for j in range(votes.shape[1])])
    return summary_frame(lf_counts(votes, gold), names, learned_acc)


def summary_frame(
    counts: LFCounts, names: Sequence[str], learned_acc: Sequence[float] | np.ndarray | None = None
) -> pl.DataFrame:
    """The :func:`lf_summary` frame of ``counts`` (one row per LF of ``names``)."""
    n = counts.n
    lfs, classes = np.nonzero(counts.per_class)  # in LF then class order
    polarity: list[list[int]] = [[] for _ in names]
    for lf, label in zip(lfs.tolist(), classes.tolist()):
        polarity[lf].append(label)
    frame = pl.DataFrame(
        {
            "lf": list(names),
            "polarity": polarity,
            "coverage": counts.voted / max(n, 1),
            "overlaps": counts.overlap / max(n, 1),
            "conflicts": counts.conflict / max(n, 1),
        },
        schema_overrides={"polarity": pl.List(pl.Int64)},
    )
    if counts.correct is not None and counts.incorrect is not None:
        correct, wrong = counts.correct, counts.incorrect
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(correct + wrong > 0, correct / np.maximum(correct + wrong, 1), np.nan)
        frame = frame.with_columns(
            pl.Series("correct", correct), pl.Series("incorrect", wrong), pl.Series("emp_acc", acc).fill_nan(None)
        )
    if learned_acc is not None:
        frame = frame.with_columns(pl.Series("learned_acc", np.asarray(learned_acc, dtype=float)))
    return frame
