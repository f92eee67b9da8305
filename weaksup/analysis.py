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

import numpy as np
import polars as pl

from weaksup.votes import SparseVotes


def lf_summary(
    votes: SparseVotes,
    gold: np.ndarray | None = None,
    learned_acc: Sequence[float] | np.ndarray | None = None,
) -> pl.DataFrame:
    """One row per LF; see the module docstring for the columns.

    ``gold`` is an (n,) int array with ``-1`` (or a masked/negative value) where
    unknown.  Cost is O(nnz); the dense matrix is never built.
    """
    n, m = votes.shape
    names = list(votes.lf_names or [f"lf_{j}" for j in range(m)])
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
    # The (LF, class) pairs that occur, in LF then class order: one pass, not one per LF.
    width = int(labels.max()) + 1 if len(labels) else 1
    pairs = np.flatnonzero(np.bincount(cols.astype(np.int64) * width + labels, minlength=m * width))
    polarity: list[list[int]] = [[] for _ in range(m)]
    for lf, label in zip((pairs // width).tolist(), (pairs % width).tolist()):
        polarity[lf].append(label)
    frame = pl.DataFrame(
        {
            "lf": names,
            "polarity": polarity,
            "coverage": voted / max(n, 1),
            "overlaps": overlap / max(n, 1),
            "conflicts": conflict / max(n, 1),
        },
        schema_overrides={"polarity": pl.List(pl.Int64)},
    )
    if gold is not None:
        gold = np.asarray(gold)
        voted_gold = gold[rows]
        known = voted_gold >= 0
        right = known & (voted_gold == labels)
        del voted_gold
        correct = np.bincount(cols[right], minlength=m).astype(np.int64)
        wrong = np.bincount(cols[known & ~right], minlength=m).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(correct + wrong > 0, correct / np.maximum(correct + wrong, 1), np.nan)
        frame = frame.with_columns(
            pl.Series("correct", correct), pl.Series("incorrect", wrong), pl.Series("emp_acc", acc).fill_nan(None)
        )
    if learned_acc is not None:
        frame = frame.with_columns(pl.Series("learned_acc", np.asarray(learned_acc, dtype=float)))
    return frame
