"""Every vote format, validated once when built: the in-memory form of LF output that label
models and the store share, one per label type.

**Categorical.**  A label matrix is mostly abstains, so weaksup keeps only the non-abstain votes as
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

**Rankings.**  Example ``i`` has an item set ``items[i]`` (distinct hashable ids, e.g. the
movies of one query).  Each LF's vote on it is ``None`` (abstain) or a list of item ids,
best first.  A vote may be *partial*: it may list only some of the items, and then says
nothing about the unlisted ones (it is a ranking of that subset, not a top-k list).  A vote
of fewer than two items carries no pair and counts as an abstain.

**Regression.**  An (n, m) float array, NaN where the LF abstains.  ±inf is an error: an
LF that cannot give a value must abstain (NaN), not return a non-finite number.

>>> v = RankingVotes(items=[["a", "b", "c"]], rankings=[[["a", "b", "c"], ["b", "a"], None]])
>>> v.n, v.m, v.lf_names
(1, 3, ('lf_0', 'lf_1', 'lf_2'))
>>> v.groups[0].positions.tolist()    # place of each item in each LF's list, -1 = unranked
[[[0, 1, 2], [1, 0, -1], [-1, -1, -1]]]
>>> RegressionVotes.of([[1.0, float("nan")], [2.0, 3.0]]).observed.tolist()
[[True, False], [True, True]]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

ABSTAIN = -1
"""The vote that means "this LF has no opinion on this example"."""


def ascending(values: np.ndarray, strict: bool = False) -> bool:
    """Whether ``values`` never decrease (``strict``: always increase).  The store's keys and vote
    rows come in order, so what is already sorted is used as it is, not sorted or copied again."""
    return bool((values[1:] > values[:-1]).all() if strict else (values[1:] >= values[:-1]).all())


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
        """The votes of ``rows`` (distinct row indices), renumbered 0..len(rows)-1 in that order
        (these votes themselves when ``rows`` is every row in order: nothing to renumber)."""
        if len(rows) == self.n and (len(rows) == 0 or (rows[0] == 0 and bool((np.diff(rows) == 1).all()))):
            return self
        new = np.full(self.n, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        mine = new[self.rows] >= 0
        return SparseVotes(new[self.rows[mine]], self.cols[mine], self.labels[mine], len(rows), self.m, self.lf_names)

    def by_row(self) -> SparseVotes:
        """These votes ordered by row, stably: themselves when they are (the store's and a dense
        matrix's are)."""
        if ascending(self.rows):
            return self
        order = np.argsort(self.rows, kind="stable")
        return SparseVotes(self.rows[order], self.cols[order], self.labels[order], self.n, self.m, self.lf_names)

    def row_batches(self, batch_rows: int) -> Iterator[tuple[int, SparseVotes]]:
        """The votes of rows ``start:start + batch_rows`` as ``(start, votes renumbered from 0)``,
        one batch after another: what works row by row (predicting, counting) then holds a
        batch's temporaries, not every row's.  Votes not sorted by row come as one batch."""
        rows = self.rows
        if self.n <= batch_rows or not ascending(rows):
            yield 0, self
            return
        starts = np.arange(0, self.n, batch_rows)
        bounds = np.searchsorted(rows, np.append(starts, self.n))
        for i, start in enumerate(starts.tolist()):
            lo, hi, stop = bounds[i], bounds[i + 1], min(start + batch_rows, self.n)
            yield start, SparseVotes(rows[lo:hi] - start, self.cols[lo:hi], self.labels[lo:hi], stop - start, self.m,
                                     self.lf_names)  # fmt: skip

    def to_dense(self) -> np.ndarray:
        """The (n, m) int32 matrix with ``-1`` for abstains.  Costs n × m memory."""
        L = np.full((self.n, self.m), ABSTAIN, dtype=np.int32)
        L[self.rows, self.cols] = self.labels
        return L


Ranking = Sequence[Hashable]
"""Item ids, best first."""


def default_lf_names(m: int) -> tuple[str, ...]:
    """``lf_0 … lf_{m-1}``: the names used when the caller gives none."""
    return tuple(f"lf_{a}" for a in range(m))


def check_lf_names(lf_names: Sequence[str] | None, m: int, what: str) -> tuple[str, ...]:
    """The LF names to use: ``lf_0 … lf_{m-1}`` when none are given, else the given ones, checked
    to be ``m`` distinct names (``what`` names the caller in the error)."""
    if lf_names is None:
        return default_lf_names(m)
    names = tuple(lf_names)
    if len(names) != m:
        raise ValueError(f"{what}: {len(names)} LF names for {m} LF columns; give one name per LF")
    if len(set(names)) != m:
        raise ValueError(f"{what}: LF names must be distinct, got {list(names)}")
    return names


@dataclass(frozen=True)
class RankingGroup:
    """The examples that have ``d`` items, encoded for vectorised work.

    ``positions[e, a, i]`` is the place (0 = best) LF ``a`` gives item ``i`` of example
    ``rows[e]``, or -1 when it does not rank it.  Items are indexed in ``items[rows[e]]`` order.
    """

    d: int
    rows: np.ndarray
    positions: np.ndarray


@dataclass(frozen=True)
class RankingVotes:
    """Ranking votes of ``m`` LFs on ``n`` examples (see the module docstring)."""

    items: Sequence[Sequence[Hashable]]
    rankings: Sequence[Sequence[Ranking | None]]
    lf_names: tuple[str, ...] | None = None
    n: int = field(init=False)
    m: int = field(init=False)

    def __post_init__(self) -> None:
        items = tuple(tuple(s) for s in self.items)
        rankings = tuple(tuple(None if r is None else tuple(r) for r in row) for row in self.rankings)
        if len(items) != len(rankings):
            raise ValueError(
                f"RankingVotes: {len(items)} item sets but {len(rankings)} rows of rankings; "
                "give one item set per example"
            )
        m = len(rankings[0]) if rankings else len(self.lf_names or ())
        names = check_lf_names(self.lf_names, m, "RankingVotes")
        for i, (its, row) in enumerate(zip(items, rankings)):
            if len(set(its)) != len(its):
                dup = next(x for x in its if its.count(x) > 1)
                raise ValueError(
                    f"RankingVotes: example {i}: item {dup!r} appears twice in the item set; "
                    "each example's items must be distinct"
                )
            if len(row) != m:
                raise ValueError(f"RankingVotes: example {i} has {len(row)} votes but there are {m} LFs")
            allowed = set(its)
            for a, r in enumerate(row):
                if r is None:
                    continue
                if len(set(r)) != len(r):
                    dup = next(x for x in r if r.count(x) > 1)
                    raise ValueError(
                        f"RankingVotes: LF {names[a]!r} (column {a}), example {i}: the ranking lists "
                        f"item {dup!r} twice; a ranking must list each item at most once"
                    )
                outside = [x for x in r if x not in allowed]
                if outside:
                    raise ValueError(
                        f"RankingVotes: LF {names[a]!r} (column {a}), example {i}: ranks item "
                        f"{outside[0]!r}, which is not in the example's item set {list(its)}; "
                        "rank only the example's items"
                    )
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "rankings", rankings)
        object.__setattr__(self, "lf_names", names)
        object.__setattr__(self, "n", len(items))
        object.__setattr__(self, "m", m)

    @cached_property
    def groups(self) -> tuple[RankingGroup, ...]:
        """Examples grouped by item count, with votes as place arrays (see :class:`RankingGroup`)."""
        by_d: dict[int, list[int]] = {}
        for i, its in enumerate(self.items):
            by_d.setdefault(len(its), []).append(i)
        out = []
        for d, rows in sorted(by_d.items()):
            pos = np.full((len(rows), self.m, d), -1, dtype=np.int32)
            for e, i in enumerate(rows):
                index = {x: j for j, x in enumerate(self.items[i])}
                for a, r in enumerate(self.rankings[i]):
                    if r is not None and len(r) >= 2:
                        pos[e, a, [index[x] for x in r]] = np.arange(len(r))
            out.append(RankingGroup(d=d, rows=np.asarray(rows, dtype=np.int64), positions=pos))
        return tuple(out)

    def vote_counts(self) -> np.ndarray:
        """Number of LFs that rank at least two items of each example, shape (n,)."""
        counts = np.zeros(self.n, dtype=np.int64)
        for g in self.groups:
            counts[g.rows] = ((g.positions >= 0).sum(axis=2) >= 2).sum(axis=1)
        return counts


@dataclass(frozen=True)
class RegressionVotes:
    """Real-valued votes: ``values`` is (n, m) float with NaN = abstain; ``lf_names`` names the columns."""

    values: np.ndarray
    lf_names: tuple[str, ...]

    @classmethod
    def of(cls, votes: RegressionVotes | ArrayLike, lf_names: Sequence[str] | None = None) -> RegressionVotes:
        """Validate an (n, m) array (or pass a :class:`RegressionVotes` through)."""
        if isinstance(votes, RegressionVotes):
            return votes
        try:
            values = np.array(votes, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RegressionVotes: votes must be numbers (NaN = abstain): {exc}") from None
        if values.ndim != 2:
            raise ValueError(f"RegressionVotes: expected an (n, m) array of votes, got shape {values.shape}")
        names = check_lf_names(lf_names, values.shape[1], "RegressionVotes")
        bad = np.isinf(values)
        if bad.any():
            row, a = (int(x[0]) for x in np.nonzero(bad))
            raise ValueError(
                f"RegressionVotes: LF {names[a]!r} (column {a}), row {row}: vote is {values[row, a]}; "
                "votes must be finite numbers, and NaN means abstain"
            )
        return cls(values=values, lf_names=names)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def m(self) -> int:
        return int(self.values.shape[1])

    @property
    def observed(self) -> np.ndarray:
        """(n, m) bool, True where the LF voted."""
        return ~np.isnan(self.values)
