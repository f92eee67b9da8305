"""The votes, their LF versions and watermarks, and the errors LFs raised: the apply step's tables.

``lfs`` records every LF version; ``lf_progress`` each version's watermark per dataset; ``votes``
the non-abstain votes keyed by LF version and example key; ``lf_errors`` what LFs raised (each an
abstain).  Votes enter only through :meth:`VoteTable.commit` (with the watermark, atomically) and
:meth:`VoteTable.replace_failures` (re-applied examples).  Reads join the wanted example keys and LF
versions, registered as Arrow tables, with ``votes`` in one query, so only the current LF versions'
votes on the live examples are read; row ``i`` of a result is ``ex_keys[i]``, LF column ``j`` is
``lfs[j]``, and a missing vote is an abstain.

>>> import tempfile, os, numpy as np, polars as pl
>>> from weaksup.store import VoteStore
>>> with VoteStore(os.path.join(tempfile.mkdtemp(), "votes.duckdb")) as store:
...     run = store.runs.start("demo", {})
...     keys = store.examples.sync("d", pl.DataFrame({"example_id": ["a", "b"], "x": [1, 2]}), run).ex_keys
...     store.votes.register_lfs([("lf1", "v1", "row", "categorical"), ("by_x", "v1", "row", "regression")], run)
...     store.votes.commit("d", [("lf1", "v1"), ("by_x", "v1")], int(keys.max()),
...                        pl.DataFrame({"lf_name": ["lf1", "by_x"], "lf_version": ["v1", "v1"],
...                                      "ex_key": [keys[1], keys[1]], "label": [1, None], "value": [None, 2.5]}))
...     store.votes.label_matrix(keys, [("lf1", "v1")]).to_dense().tolist(), store.votes.read("regression", keys, [("by_x", "v1")]).values.tolist()
([[-1], [1]], [[nan], [2.5]])
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from weaksup import batches
from weaksup.deprecated import alias_warning
from weaksup.label_types import label_type_for
from weaksup.store.connection import Tables, crash_point, utc_now
from weaksup.store.runs import RunError
from weaksup.store.schema import VOTE_COLUMNS, vote_table
from weaksup.votes import RankingVotes, RegressionVotes, SparseVotes, ascending

__all__ = ["VoteTable"]

_COORDINATES = (("row", np.int64), ("col", np.int32), ("vote", np.int32))
""":meth:`VoteTable.label_matrix`'s coordinate columns and their types."""

LFVersions = Sequence[tuple[str, str]]
"""LF versions as (name, version) pairs: the columns of what is read."""


class VoteTable(Tables):
    """LF versions, watermarks, votes and LF errors (see the module docstring)."""

    on_commit: Callable[[LFVersions, int], None] | None = None
    """Called after each :meth:`commit` with the LF versions and key it committed (the runner reports
    progress with it)."""

    # -- LF versions and watermarks ----------------------------------------------------

    def register_lfs(self, lfs: Sequence[tuple[str, str, str, str]], run_id: int | None) -> None:
        """Record LF versions ``(name, version, kind, label_type)`` as used by ``run_id``."""
        table = pa.table({column: [lf[i] for lf in lfs] for i, column in enumerate(("lf_name", "lf_version", "kind", "label_type"))})
        self._con.register("new_lfs", table)
        try:
            self._con.execute(
                "INSERT INTO lfs SELECT lf_name, lf_version, kind, label_type, ?, ? FROM new_lfs "
                "ON CONFLICT (lf_name, lf_version) DO UPDATE SET last_run = excluded.last_run",
                [run_id, run_id],
            )
        finally:
            self._con.unregister("new_lfs")

    def watermarks(self, dataset: str, lfs: LFVersions) -> list[int]:
        """Each LF version's ``applied_through`` key for ``dataset`` (0 if never applied)."""
        rows = {
            (r[0], r[1]): r[2]
            for r in self._con.execute(
                "SELECT lf_name, lf_version, applied_through FROM lf_progress WHERE dataset = ?", [dataset]
            ).fetchall()
        }
        return [int(rows.get(tuple(lf), 0)) for lf in lfs]

    def lf_versions(self) -> pl.DataFrame:
        """Every LF version in the store: when it was used, its votes, watermark and errors."""
        return self._query(
            "SELECT l.lf_name, l.lf_version, l.kind, l.first_run, l.last_run, "
            "coalesce(v.votes, 0) AS votes, p.applied_through, coalesce(e.errors, 0) AS errors "
            "FROM lfs l "
            "LEFT JOIN (SELECT lf_name, lf_version, count(*) AS votes FROM votes GROUP BY ALL) v USING (lf_name, lf_version) "
            "LEFT JOIN (SELECT lf_name, lf_version, max(applied_through) AS applied_through FROM lf_progress GROUP BY ALL) p "
            "USING (lf_name, lf_version) "
            "LEFT JOIN (SELECT lf_name, lf_version, count(*) AS errors FROM lf_errors GROUP BY ALL) e "
            "USING (lf_name, lf_version) "
            "ORDER BY l.lf_name, l.first_run"
        )

    # -- writing -----------------------------------------------------------------------

    def commit(self, dataset: str, lfs: LFVersions, through_key: int, votes: pl.DataFrame,
               errors: pl.DataFrame | None = None) -> None:  # fmt: skip
        """Atomically add ``votes`` (and LF ``errors``) and move the LFs' watermarks to ``through_key``.

        ``votes`` needs ``lf_name``, ``lf_version``, ``ex_key`` and any of ``label``, ``value``,
        ``ranking``, ``payload``, ``confidence``.  The votes must be for keys above each LF's
        watermark: since votes and watermark commit together, such keys never hold votes yet, and a
        chunk re-applied after a crash cannot duplicate any.
        """
        con = self._con
        con.execute("BEGIN")
        try:
            self._insert(dataset, votes, errors)
            con.register("progress", pa.table({"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs]}))
            con.execute(
                "INSERT INTO lf_progress SELECT ?, lf_name, lf_version, ? FROM progress "
                "ON CONFLICT (dataset, lf_name, lf_version) DO UPDATE SET "
                "applied_through = greatest(lf_progress.applied_through, excluded.applied_through)",
                [dataset, through_key],
            )
            con.unregister("progress")
            crash_point("commit_votes.before_commit")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        crash_point("commit_votes.after_commit")
        if self.on_commit is not None:
            self.on_commit(lfs, through_key)

    def replace_failures(self, dataset: str, keys: pl.DataFrame, votes: pl.DataFrame, errors: pl.DataFrame) -> None:
        """In one transaction: drop the error rows of ``keys`` (``lf_name``, ``lf_version``, ``ex_key``),
        add the re-applied examples' ``votes`` and the ``errors`` they raised again (watermarks stay)."""
        con = self._con
        con.execute("BEGIN")
        try:
            con.register("retried", keys.to_arrow())
            con.execute(
                "DELETE FROM lf_errors WHERE dataset = ? AND (lf_name, lf_version, ex_key) IN "
                "(SELECT lf_name, lf_version, ex_key FROM retried)",
                [dataset],
            )
            con.unregister("retried")
            self._insert(dataset, votes, errors)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _insert(self, dataset: str, votes: pl.DataFrame, errors: pl.DataFrame | None) -> None:
        """Insert ``votes`` and LF ``errors`` into ``dataset``, inside the caller's transaction: the
        one way votes enter the store."""
        con = self._con
        con.register("new_votes", vote_table(votes))
        con.execute(f"INSERT INTO votes ({', '.join(VOTE_COLUMNS)}) SELECT * FROM new_votes")
        con.unregister("new_votes")
        if errors is not None and errors.height:
            con.register("new_errors", errors.to_arrow())
            con.execute(
                "INSERT INTO lf_errors SELECT run_id, ?, lf_name, lf_version, ex_key, example_id, "
                "error_type, message, ? FROM new_errors",
                [dataset, utc_now()],
            )
            con.unregister("new_errors")

    # -- reading votes -----------------------------------------------------------------

    def coordinates(self, ex_keys: np.ndarray, lfs: LFVersions, column: str = "label") -> pa.Table:
        """Every non-null ``column`` vote of LF versions ``lfs`` on ``ex_keys``, as an Arrow
        table ``(row, col, vote)`` sorted by row then col.  ``column`` is ``label``, ``value``,
        ``ranking`` or ``payload``."""
        if column not in ("label", "value", "ranking", "payload"):
            raise ValueError(f"vote column must be label, value, ranking or payload, got {column!r}")
        keys = pa.table({"ex_key": pa.array(ex_keys, pa.int64()), "row": pa.array(np.arange(len(ex_keys)), pa.int64())})
        versions = pa.table({"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs],
                             "col": pa.array(np.arange(len(lfs)), pa.int32())})  # fmt: skip
        self._con.register("q_keys", keys)
        self._con.register("q_lfs", versions)
        try:
            return self._con.sql(
                f"SELECT k.row, l.col, v.{column} AS vote FROM votes v JOIN q_keys k USING (ex_key) "
                f"JOIN q_lfs l USING (lf_name, lf_version) WHERE v.{column} IS NOT NULL ORDER BY k.row, l.col"
            ).to_arrow_table()
        finally:
            self._con.unregister("q_keys")
            self._con.unregister("q_lfs")

    def label_matrix(self, ex_keys: np.ndarray, lfs: LFVersions, batch_rows: int = batches.STORE_ROWS) -> SparseVotes:
        """The categorical votes of LF versions ``lfs`` on examples ``ex_keys``, as sparse
        coordinates sorted by row then column.

        Read ``batch_rows`` keys at a time, in key order, into arrays sized once: DuckDB joins and
        sorts a batch's votes at a time, and memory holds the votes once (a 10M-example read of
        every vote at once held them three times over)."""
        keys = np.asarray(ex_keys, dtype=np.int64)
        order = None if ascending(keys) else np.argsort(keys, kind="stable")
        ordered = keys if order is None else keys[order]
        if len(ordered) <= batch_rows:  # one batch: its arrays as they come
            got = self.coordinates(ordered, lfs, "label")
            rows, cols, labels = (got[c].to_numpy().astype(t, copy=False) for c, t in _COORDINATES)
        else:
            rows, cols, labels = self._label_batches(ordered, lfs, batch_rows)
        if order is not None:  # rows of the sorted keys back to rows of ex_keys, sorted by row then column
            rows = order[rows]
            by = np.lexsort((cols, rows))
            rows, cols, labels = rows[by], cols[by], labels[by]
        return SparseVotes(rows=rows, cols=cols, labels=labels, n=len(keys), m=len(lfs),
                           lf_names=tuple(lf[0] for lf in lfs))  # fmt: skip

    def _label_batches(self, ordered: np.ndarray, lfs: LFVersions, batch_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`label_matrix`'s coordinates of the keys ``ordered`` (ascending), read ``batch_rows``
        keys at a time into arrays sized once."""
        bound = self._vote_bound(ordered, lfs)
        out = [np.empty(bound, t) for _, t in _COORDINATES]
        nnz = 0
        for start in range(0, len(ordered), batch_rows):
            got = self.coordinates(ordered[start : start + batch_rows], lfs, "label")
            end = nnz + got.num_rows
            for array, (column, _) in zip(out, _COORDINATES):
                array[nnz:end] = got[column].to_numpy()
            out[0][nnz:end] += start
            nnz = end
        return out[0][:nnz], out[1][:nnz], out[2][:nnz]

    def _vote_bound(self, ordered: np.ndarray, lfs: LFVersions) -> int:
        """At least as many as the categorical votes of ``lfs`` on the keys ``ordered`` (ascending):
        their votes between its first and last key."""
        if not len(ordered) or not len(lfs):
            return 0
        self._con.register("q_lfs", pa.table({"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs]}))
        try:
            return int(self._con.execute(
                "SELECT count(*) FROM votes v JOIN q_lfs l USING (lf_name, lf_version) "
                "WHERE v.label IS NOT NULL AND v.ex_key BETWEEN ? AND ?",
                [int(ordered[0]), int(ordered[-1])],
            ).fetchall()[0][0])  # fmt: skip
        finally:
            self._con.unregister("q_lfs")

    def read(self, label_type: str, ex_keys: Sequence[int] | np.ndarray, lfs: LFVersions, **context: Any) -> Any:
        """The votes of LF versions ``lfs`` on ``ex_keys`` in the form of their label type
        (:meth:`weaksup.label_types.LabelType.read_votes`, which says what ``context`` it needs)."""
        return label_type_for(label_type).read_votes(self, np.asarray(ex_keys, dtype=np.int64), lfs, **context)

    def regression(self, ex_keys: Sequence[int] | np.ndarray, lfs: LFVersions) -> RegressionVotes:
        """Deprecated: ``read("regression", ex_keys, lfs)``."""
        alias_warning("VoteTable.regression", 'VoteTable.read("regression", ...)')
        return self.read("regression", ex_keys, lfs)

    def ranking(
        self, ex_keys: Sequence[int] | np.ndarray, lfs: LFVersions, items: Sequence[Sequence[Hashable]],
        example_ids: Sequence[str] | None = None,
    ) -> RankingVotes:  # fmt: skip
        """Deprecated: ``read("ranking", ex_keys, lfs, items=items, example_ids=example_ids)``."""
        alias_warning("VoteTable.ranking", 'VoteTable.read("ranking", ...)')
        return self.read("ranking", ex_keys, lfs, items=items, example_ids=example_ids)

    def check_label_type(self, lfs: LFVersions, wanted: str) -> None:
        """Every LF version is in the store's ``lfs`` table with label type ``wanted``: a regression LF
        never silently reads as an all-abstain ranking LF."""
        rows = self._con.execute("SELECT lf_name, lf_version, label_type FROM lfs").fetchall()
        known = {(name, version): label_type for name, version, label_type in rows}
        for name, version in lfs:
            got = known.get((name, version))
            if got is None:
                raise ValueError(
                    f"LF {name!r} version {version!r} is not in the store {str(self._path)!r}; "
                    "apply it first (apply_to_store registers each LF version)"
                )
            if got != wanted:
                raise ValueError(
                    f"LF {name!r} version {version!r} votes {got} labels, not {wanted}; "
                    f"read only {wanted} LFs here (declare them with @labeling_function(label_type={wanted!r}))"
                )

    def changes(self, run_a: int, run_b: int, name: str, va: str, vb: str) -> dict[str, int]:
        """Votes of versions ``va`` and ``vb`` of LF ``name`` compared on the examples both runs
        labeled with unchanged content (abstain counts as a vote value); ``RunError`` when
        a version's votes were pruned."""
        applied = self._con.execute(
            "SELECT count(*) FROM lf_progress WHERE lf_name = ? AND lf_version IN (?, ?)", [name, va, vb]
        ).fetchall()[0][0]
        if applied < 2:
            raise RunError(f"the votes of an older version of LF {name!r} were pruned by `weaksup gc`; cannot diff")
        got = self._query(
            "WITH keys AS (SELECT ex_key FROM labels WHERE run_id = ? INTERSECT SELECT ex_key FROM labels WHERE run_id = ?), "
            "va AS (SELECT ex_key, label, value, ranking, payload FROM votes WHERE lf_name = ? AND lf_version = ?), "
            "vb AS (SELECT ex_key, label, value, ranking, payload FROM votes WHERE lf_name = ? AND lf_version = ?) "
            "SELECT count(*) AS compared, count(*) FILTER (va.label IS DISTINCT FROM vb.label "
            "OR va.value IS DISTINCT FROM vb.value OR va.ranking IS DISTINCT FROM vb.ranking "
            "OR va.payload::VARCHAR IS DISTINCT FROM vb.payload::VARCHAR) AS votes_changed "
            "FROM keys LEFT JOIN va USING (ex_key) LEFT JOIN vb USING (ex_key)",
            [run_a, run_b, name, va, name, vb],
        ).to_dicts()[0]
        return {k: int(v) for k, v in got.items()}

    # -- errors ------------------------------------------------------------------------

    def first_errors(self, run_id: int) -> dict[str, dict[str, Any]]:
        """Per LF that raised during run ``run_id``: how often, and its first error (type, message, example id)."""
        rows = self._con.execute(
            "SELECT lf_name, count(*) OVER (PARTITION BY lf_name), error_type, message, example_id FROM lf_errors "
            "WHERE run_id = ? QUALIFY row_number() OVER (PARTITION BY lf_name ORDER BY created_at, ex_key) = 1 "
            "ORDER BY lf_name",
            [run_id],
        ).fetchall()
        return {name: {"count": int(n), "error_type": t, "message": msg, "example_id": ex} for name, n, t, msg, ex in rows}

    def errors(self, lf_name: str | None = None, limit: int | None = None, lf_version: str | None = None) -> pl.DataFrame:
        """The errors LFs raised (newest run first), of one LF (one version of it) or of all: each counted as an abstain."""
        where = "WHERE lf_name = ?" if lf_name is not None else ""
        where += " AND lf_version = ?" if lf_name is not None and lf_version is not None else ""
        params: list[Any] = [lf_name] if lf_name is not None else []
        params += [lf_version] if lf_name is not None and lf_version is not None else []
        if limit is not None:
            params.append(limit)
        return self._query(
            f"SELECT run_id, lf_name, lf_version, example_id, error_type, message FROM lf_errors {where} "
            f"ORDER BY run_id DESC, lf_name, ex_key{' LIMIT ?' if limit is not None else ''}",
            params,
        )

    def failed_keys(self, dataset: str, lfs: LFVersions) -> dict[tuple[str, str], np.ndarray]:
        """Per LF version of ``lfs``, the keys of ``dataset``'s live examples it has an error on."""
        self._con.register("wanted_lfs", pa.table({"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs]}))
        try:
            rows = self._query(
                "SELECT DISTINCT e.lf_name, e.lf_version, e.ex_key FROM lf_errors e "
                "JOIN wanted_lfs w USING (lf_name, lf_version) JOIN examples x USING (ex_key) "
                "WHERE e.dataset = ? AND x.retired_run IS NULL ORDER BY e.ex_key",
                [dataset],
            )
        finally:
            self._con.unregister("wanted_lfs")
        return {(n, v): g["ex_key"].to_numpy() for (n, v), g in rows.group_by("lf_name", "lf_version", maintain_order=True)}
