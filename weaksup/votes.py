"""Sparse votes: the one in-memory form of LF output that label models and the store share.

A label matrix is mostly abstains, so weaksup keeps only the non-abstain votes as
coordinates (row, column, label).  Memory then grows with the number of votes, not
with n × m.  Dense (n, m) int arrays with ``-1`` for abstain are accepted everywhere
and converted with :meth:`SparseVotes.from_dense`.

>>> import numpy as np
>>> L = np.array([[0, -1], [-1, 1], [1, 1]])
>>> v = SparseVotes.from_dense(L)
>>> v.nnz, v.n, v.m
(4, 3, 2)
>>> bool((v.to_dense() == L).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ABSTAIN = -1
"""The vote that means "this LF has no opinion on this example"."""


@dataclass(frozen=True)
class SparseVotes:
    """Non-abstain categorical votes of ``m`` LFs on ``n`` examples, as coordinates.

    ``rows[i]`` is the example index, ``cols[i]`` the LF index and ``labels[i]`` the
    class id of vote ``i``.  ``lf_names``, when given, names the columns.
    """

    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray
    n: int
    m: int
    lf_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not (len(self.rows) == len(self.cols) == len(self.labels)):
            raise ValueError("SparseVotes: rows, cols and labels must have the same length")
        if self.lf_names is not None and len(self.lf_names) != self.m:
            raise ValueError(f"SparseVotes: {len(self.lf_names)} LF names for m={self.m} columns")

    @property
    def nnz(self) -> int:
        """Number of non-abstain votes."""
        return int(len(self.labels))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.m)

    @classmethod
    def from_dense(cls, L: np.ndarray, lf_names: tuple[str, ...] | None = None) -> SparseVotes:
        """Keep the non-abstain cells of a dense (n, m) matrix."""
        L = np.asarray(L)
        if L.ndim != 2:
            raise ValueError(f"expected a 2-D (n, m) label matrix, got shape {L.shape}")
        rows, cols = np.nonzero(L != ABSTAIN)
        return cls(
            rows=rows.astype(np.int64),
            cols=cols.astype(np.int32),
            labels=L[rows, cols].astype(np.int32),
            n=int(L.shape[0]),
            m=int(L.shape[1]),
            lf_names=lf_names,
        )

    def select_rows(self, rows: np.ndarray) -> SparseVotes:
        """The votes of ``rows`` (distinct row indices), renumbered 0..len(rows)-1 in that order."""
        new = np.full(self.n, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        mine = new[self.rows] >= 0
        return SparseVotes(new[self.rows[mine]], self.cols[mine], self.labels[mine], len(rows), self.m, self.lf_names)

    def to_dense(self) -> np.ndarray:
        """The (n, m) int32 matrix with ``-1`` for abstains.  Costs n × m memory."""
        L = np.full((self.n, self.m), ABSTAIN, dtype=np.int32)
        L[self.rows, self.cols] = self.labels
        return L
