"""Read ranking and real-valued votes from the vote store: a mixin of :class:`weaksup.store.VoteStore`.

Like :meth:`VoteStore.label_matrix` for categorical votes: the wanted example keys and
LF versions are registered as Arrow tables and joined with ``votes`` in one SQL query,
so only the current LF versions' votes on the live examples are read.  Row ``i`` of the
result is ``ex_keys[i]``, LF column ``j`` is ``lfs[j]``; a missing vote is an abstain.

An LF version must be registered in the store with the label type asked for (the applier
registers it when it applies it), so a regression LF never silently reads as an
all-abstain ranking LF.

>>> import tempfile, os, polars as pl
>>> from weaksup.store import VoteStore
>>> path = os.path.join(tempfile.mkdtemp(), "votes.duckdb")
>>> with VoteStore(path) as store:
...     run = store.start_run("demo", {})
...     keys = store.sync_examples("d", pl.DataFrame({"example_id": ["a", "b"], "x": [1, 2]}), run).ex_keys
...     store.register_lfs([("by_x", "v1", "row", "regression")], run)
...     store.commit_votes("d", [("by_x", "v1")], int(keys.max()),
...                        pl.DataFrame({"lf_name": ["by_x"], "lf_version": ["v1"], "ex_key": [keys[1]], "value": [2.5]}))
...     store.regression_votes(keys, [("by_x", "v1")]).values.tolist()
[[nan], [2.5]]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from weaksup.votes import RankingVotes, RegressionVotes


class TypedVotes:
    """Ranking and real-valued votes of LF versions on examples (see the module docstring)."""

    con: duckdb.DuckDBPyConnection
    path: Path
    vote_coordinates: Callable[[np.ndarray, Sequence[tuple[str, str]], str], pa.Table]
    """:meth:`weaksup.store.VoteStore.vote_coordinates`."""

    def _check_label_type(self, lfs: Sequence[tuple[str, str]], wanted: str) -> None:
        """Every LF version is in the store's ``lfs`` table with label type ``wanted``."""
        rows = self.con.execute("SELECT lf_name, lf_version, label_type FROM lfs").fetchall()
        known = {(name, version): label_type for name, version, label_type in rows}
        for name, version in lfs:
            got = known.get((name, version))
            if got is None:
                raise ValueError(
                    f"LF {name!r} version {version!r} is not in the store {str(self.path)!r}; "
                    "apply it first (apply_to_store registers each LF version)"
                )
            if got != wanted:
                raise ValueError(
                    f"LF {name!r} version {version!r} votes {got} labels, not {wanted}; "
                    f"read only {wanted} LFs here (declare them with @labeling_function(label_type={wanted!r}))"
                )


    def _read(self, ex_keys: np.ndarray, lfs: Sequence[tuple[str, str]], column: str) -> dict[str, np.ndarray]:
        """Row, LF column and ``column`` of every non-null vote of ``lfs`` on ``ex_keys``."""
        table = self.vote_coordinates(ex_keys, lfs, column)
        return {
            "row": table["row"].to_numpy(),
            "col": table["col"].to_numpy(),
            "vote": table["vote"].to_pylist() if column == "ranking" else table["vote"].to_numpy(),
        }


    def regression_votes(self, ex_keys: Sequence[int] | np.ndarray, lfs: Sequence[tuple[str, str]]) -> RegressionVotes:
        """The real-valued votes of LF versions ``lfs`` on ``ex_keys``: (n, m), NaN = abstain."""
        self._check_label_type(lfs, "regression")
        keys = np.asarray(ex_keys, dtype=np.int64)
        got = self._read(keys, lfs, "value")
        values = np.full((len(keys), len(lfs)), np.nan)
        values[got["row"], got["col"]] = got["vote"]
        return RegressionVotes.of(values, [lf[0] for lf in lfs])


    def ranking_votes(
        self,
        ex_keys: Sequence[int] | np.ndarray,
        lfs: Sequence[tuple[str, str]],
        items: Sequence[Sequence[Hashable]],
        example_ids: Sequence[str] | None = None,
    ) -> RankingVotes:
        """The ranking votes of LF versions ``lfs`` on ``ex_keys``, whose item sets are ``items``.

        The store keeps item ids as strings, so ``items`` are compared as strings too (and the
        returned votes use the string ids).  A vote ranking an item outside its example's set
        is an error naming the LF and the example (``example_ids[i]``, else the key).
        """
        self._check_label_type(lfs, "ranking")
        keys = np.asarray(ex_keys, dtype=np.int64)
        if len(items) != len(keys):
            raise ValueError(f"ranking_votes: {len(items)} item sets for {len(keys)} example keys; give one per key")
        sets = [tuple(str(x) for x in its) for its in items]
        got = self._read(keys, lfs, "ranking")
        rankings: list[list[tuple[str, ...] | None]] = [[None] * len(lfs) for _ in keys]
        for i, a, ranking in zip(got["row"], got["col"], got["vote"]):
            allowed = set(sets[i])
            outside = [x for x in ranking if x not in allowed]
            if outside:
                where = f"example {example_ids[i]!r}" if example_ids is not None else f"the example with key {int(keys[i])}"
                raise ValueError(
                    f"LF {lfs[a][0]!r} (version {lfs[a][1]!r}) ranks item {outside[0]!r} on {where}, "
                    f"which is not in the example's item set {list(sets[i])}; rank only the example's items"
                )
            rankings[i][a] = tuple(ranking)
        return RankingVotes(items=sets, rankings=rankings, lf_names=tuple(lf[0] for lf in lfs))
