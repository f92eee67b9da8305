"""Multi-label votes: per example, each LF's "present" and "absent" votes on some labels.

An LF votes on an example a set of labels it says are present and, optionally, a set it says
are absent (:mod:`weaksup.label_types.multilabel` says how LFs return them); on every other
label it is silent.  Most cells of an examples × LFs × labels cube are silent, so the votes are
kept as coordinates, one entry per (example, LF, label) that the LF voted: ``rows``, ``cols``
(the LF), ``labels`` and ``present`` (True: present, False: absent), sorted by row, then LF,
then label.  Memory grows with the votes, never with n × m × k.

>>> v = MultiLabelVotes.from_sets([[{0, 2}, None], [None, ({1}, {0})]], k=3)
>>> v.n, v.m, v.k, v.nnz
(2, 2, 3, 4)
>>> v.to_dense().tolist()   # 1 present, 0 absent, -1 silent
[[[1, -1, 1], [-1, -1, -1]], [[-1, -1, -1], [0, 1, -1]]]
>>> v.voted_rows().tolist(), v.select_rows(np.array([1])).nnz
([0, 1], 2)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MultiLabelVotes"]


@dataclass(frozen=True)
class MultiLabelVotes:
    """Non-silent multi-label votes of ``m`` LFs on ``n`` examples over ``k`` labels, as coordinates
    (see the module docstring); ``lf_names``, when given, names the LF columns."""

    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray
    present: np.ndarray
    n: int
    m: int
    k: int
    lf_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not len(self.rows) == len(self.cols) == len(self.labels) == len(self.present):
            raise ValueError("MultiLabelVotes: rows, cols, labels and present must have the same length")
        if self.lf_names is not None and len(self.lf_names) != self.m:
            raise ValueError(f"MultiLabelVotes: {len(self.lf_names)} LF names for m={self.m} LFs")
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= self.k):
            bad = int(self.labels[(self.labels < 0) | (self.labels >= self.k)][0])
            raise ValueError(f"MultiLabelVotes: label id {bad} is outside the label set 0..{self.k - 1}")
        if len(self.rows) and (int(self.rows.min()) < 0 or int(self.rows.max()) >= self.n
                               or int(self.cols.min()) < 0 or int(self.cols.max()) >= self.m):  # fmt: skip
            raise ValueError(f"MultiLabelVotes: a vote's row or LF is outside the {self.n} rows and {self.m} LFs")

    @classmethod
    def from_entries(cls, rows: Any, cols: Any, labels: Any, present: Any, n: int, m: int, k: int,
                     lf_names: tuple[str, ...] | None = None) -> MultiLabelVotes:  # fmt: skip
        """Votes from unordered coordinates: sorted by row, LF and label, typed.  One (row, LF,
        label) twice is an error (a vote names a label once)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int32)
        labels, present = np.asarray(labels, dtype=np.int32), np.asarray(present, dtype=bool)
        order = np.lexsort((labels, cols, rows))
        rows, cols, labels, present = rows[order], cols[order], labels[order], present[order]
        same = (np.diff(rows) == 0) & (np.diff(cols) == 0) & (np.diff(labels) == 0)
        if same.any():
            i = int(np.flatnonzero(same)[0])
            raise ValueError(f"MultiLabelVotes: LF column {int(cols[i])} votes label {int(labels[i])} twice on row "
                             f"{int(rows[i])}; a vote names each label once")  # fmt: skip
        return cls(rows, cols, labels, present, n, m, k, lf_names)

    @classmethod
    def from_sets(cls, votes: Sequence[Sequence[Any]], k: int, lf_names: tuple[str, ...] | None = None) -> MultiLabelVotes:
        """Votes from rows of ``m`` cells each: ``None`` (abstain), a set of present label ids, or a
        pair (present ids, absent ids)."""
        m = len(votes[0]) if len(votes) else len(lf_names or ())
        rows: list[int] = []
        cols: list[int] = []
        labels: list[int] = []
        present: list[bool] = []
        for i, row in enumerate(votes):
            for a, cell in enumerate(row):
                if cell is None:
                    continue
                yes, no = (cell, ()) if isinstance(cell, (set, frozenset, list)) else cell
                for ids, flag in ((yes, True), (no, False)):
                    for j in ids:
                        rows.append(i), cols.append(a), labels.append(int(j)), present.append(flag)
        return cls.from_entries(rows, cols, labels, present, len(votes), m, k, lf_names)

    @property
    def nnz(self) -> int:
        """How many (row, LF, label) votes."""
        return int(len(self.labels))

    def voted_rows(self) -> np.ndarray:
        """The rows some LF voted on, ascending."""
        return np.unique(self.rows)

    def n_votes(self) -> np.ndarray:
        """Per row, how many LFs voted on it."""
        if not self.nnz:
            return np.zeros(self.n, dtype=np.int64)
        first = np.ones(self.nnz, dtype=bool)
        first[1:] = (np.diff(self.rows) != 0) | (np.diff(self.cols) != 0)
        return np.bincount(self.rows[first], minlength=self.n)

    def select_rows(self, rows: np.ndarray) -> MultiLabelVotes:
        """The votes of ``rows`` (distinct row indices), renumbered 0..len(rows)-1 in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        new = np.full(self.n, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        mine = new[self.rows] >= 0
        return MultiLabelVotes.from_entries(new[self.rows[mine]], self.cols[mine], self.labels[mine], self.present[mine],
                                            len(rows), self.m, self.k, self.lf_names)  # fmt: skip

    def row_batches(self, batch_rows: int) -> Iterator[tuple[int, MultiLabelVotes]]:
        """The votes of rows ``start:start + batch_rows`` as ``(start, votes renumbered from 0)``."""
        starts = np.arange(0, max(self.n, 1), batch_rows)
        bounds = np.searchsorted(self.rows, np.append(starts, self.n))
        for i, start in enumerate(starts.tolist()):
            lo, hi, stop = bounds[i], bounds[i + 1], min(start + batch_rows, self.n)
            yield start, MultiLabelVotes(self.rows[lo:hi] - start, self.cols[lo:hi], self.labels[lo:hi],
                                         self.present[lo:hi], stop - start, self.m, self.k, self.lf_names)  # fmt: skip

    def to_dense(self) -> np.ndarray:
        """The (n, m, k) int8 cube: 1 present, 0 absent, -1 silent.  Costs n × m × k memory."""
        cube = np.full((self.n, self.m, self.k), -1, dtype=np.int8)
        cube[self.rows, self.cols, self.labels] = self.present
        return cube

    def cells(self) -> list[list[tuple[tuple[int, ...], tuple[int, ...]] | None]]:
        """Per row, each LF's vote as ``(present ids, absent ids)``, ``None`` where it abstained."""
        out: list[list[Any]] = [[None] * self.m for _ in range(self.n)]
        for i, a, j, p in zip(self.rows.tolist(), self.cols.tolist(), self.labels.tolist(), self.present.tolist()):
            yes, no = out[i][a] or ((), ())
            out[i][a] = (yes + (j,), no) if p else (yes, no + (j,))
        return out

