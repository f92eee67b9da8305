"""What the default label model selects by, without gold: statistics of the votes alone.

- :func:`multiclass_share`: how much of the vote comes from LFs that vote several classes (a
  confusion matrix learns nothing from one-class LFs);
- :func:`held_out_ties`: ties made from held-out rows, with the class that led, to compare how two
  structures break ties (:func:`hit_rate`).

>>> import numpy as np
>>> from weaksup.votes import SparseVotes
>>> votes = SparseVotes.from_dense(np.array([[0, 0, 1], [1, 1, -1], [0, 1, -1]]))
>>> round(multiclass_share(votes, 2), 3)  # LFs 0 and 1 vote both classes: 6 of the 7 votes
0.857
>>> rows, led = held_out_ties(votes, 2, seed=0)
>>> rows.to_dense().tolist(), led.tolist()  # row 0 led by one vote for 0: one dropped
([[-1, 0, 1]], [0])
"""

from __future__ import annotations

import numpy as np

from weaksup.model._base import TIE_ATOL, vote_counts
from weaksup.votes import SparseVotes


def multiclass_share(votes: SparseVotes, cardinality: int) -> float:
    """Share of the votes cast by LFs that vote at least two different classes."""
    if votes.nnz == 0:
        return 0.0
    pairs = votes.cols * cardinality + votes.labels  # in the votes' own integer type: m·k is far below 2^31
    seen = np.bincount(pairs, minlength=votes.m * cardinality) > 0  # (LF, class) pairs
    del pairs
    several = seen.reshape(votes.m, cardinality).sum(axis=1) >= 2
    return float(np.bincount(votes.cols, minlength=votes.m)[several].sum() / votes.nnz)


def hit_rate(proba: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row, the chance that the label (ties broken at random) is ``target``."""
    top = proba >= proba.max(axis=1, keepdims=True) - TIE_ATOL
    return top[np.arange(len(target)), target] / top.sum(axis=1)


def held_out_ties(votes: SparseVotes, cardinality: int, seed: int) -> tuple[SparseVotes, np.ndarray]:
    """Ties made from rows whose votes name two classes or more: as many votes of the top class as
    it leads by are dropped (seeded), so the row ties; returns those rows' remaining votes and the
    class that led."""
    counts = vote_counts(votes, cardinality)
    ordered = np.sort(counts, axis=1)
    top = counts.argmax(axis=1)
    lead = (ordered[:, -1] - ordered[:, -2]).astype(np.int64)
    rows = np.flatnonzero((ordered[:, -2] >= 1) & (lead >= 1))
    mine = np.flatnonzero((lead[votes.rows] >= 1) & (ordered[votes.rows, -2] >= 1) & (votes.labels == top[votes.rows]))
    shuffled = mine[np.random.default_rng(seed).permutation(len(mine))]
    order = shuffled[np.argsort(votes.rows[shuffled], kind="stable")]  # each row's top-class votes, in random order
    starts = np.searchsorted(votes.rows[order], votes.rows[order], side="left")
    rank = np.arange(len(order)) - starts  # 0, 1, ... within each row
    keep = np.ones(votes.nnz, dtype=bool)
    keep[order[rank < lead[votes.rows[order]]]] = False
    kept = SparseVotes(votes.rows[keep], votes.cols[keep], votes.labels[keep], votes.n, votes.m)
    return kept.select_rows(rows), top[rows]
