"""LF errors in the store: what LFs raised, and retrying the examples they failed on.

A mixin of :class:`~weaksup.store.VoteStore` (it uses the store's ``con``).  An LF that raises on
an example (or a prompt the server refused) abstains there and leaves an ``lf_errors`` row; its
watermark moves past the example, so later runs do not ask again.  ``weaksup run
--retry-failed`` re-applies each current LF version to the live examples it failed on and, in one
transaction per LF set, replaces those error rows with the new votes and errors
(:meth:`Failures.replace_failures`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from weaksup.store.schema import VOTE_COLUMNS, vote_table


def insert_votes(con: duckdb.DuckDBPyConnection, dataset: str, votes: pl.DataFrame, errors: pl.DataFrame | None) -> None:
    """Insert ``votes`` (``lf_name``, ``lf_version``, ``ex_key`` and any vote columns) and LF ``errors``
    into ``dataset``, inside the caller's transaction: the one way votes enter the store."""
    from weaksup.store.runs import utc_now

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


class Failures:
    """LF errors: read them, and retry the examples they were raised on (see the module docstring)."""

    con: duckdb.DuckDBPyConnection
    query: Callable[..., pl.DataFrame]
    """:meth:`weaksup.store.runs.RunRecords.query`."""

    def first_errors(self, run_id: int) -> dict[str, dict[str, Any]]:
        """Per LF that raised during run ``run_id``: how often, and its first error (type, message, example id)."""
        rows = self.con.execute(
            "SELECT lf_name, count(*) OVER (PARTITION BY lf_name), error_type, message, example_id FROM lf_errors "
            "WHERE run_id = ? QUALIFY row_number() OVER (PARTITION BY lf_name ORDER BY created_at, ex_key) = 1 "
            "ORDER BY lf_name",
            [run_id],
        ).fetchall()
        return {name: {"count": int(n), "error_type": t, "message": msg, "example_id": ex} for name, n, t, msg, ex in rows}

    def lf_errors(self, lf_name: str | None = None, limit: int | None = None) -> pl.DataFrame:
        """The errors LFs raised (newest run first), of one LF or of all: each counted as an abstain."""
        where = "WHERE lf_name = ?" if lf_name is not None else ""
        params: list[Any] = [lf_name] if lf_name is not None else []
        if limit is not None:
            params.append(limit)
        return self.query(
            f"SELECT run_id, lf_name, lf_version, example_id, error_type, message FROM lf_errors {where} "
            f"ORDER BY run_id DESC, lf_name, ex_key{' LIMIT ?' if limit is not None else ''}",
            params,
        )

    def failed_keys(self, dataset: str, lfs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
        """Per LF version of ``lfs``, the keys of ``dataset``'s live examples it has an error on."""
        wanted = pa.table({"lf_name": [lf[0] for lf in lfs], "lf_version": [lf[1] for lf in lfs]})
        self.con.register("wanted_lfs", wanted)
        try:
            rows = self.query(
                "SELECT DISTINCT e.lf_name, e.lf_version, e.ex_key FROM lf_errors e "
                "JOIN wanted_lfs w USING (lf_name, lf_version) JOIN examples x USING (ex_key) "
                "WHERE e.dataset = ? AND x.retired_run IS NULL ORDER BY e.ex_key",
                [dataset],
            )
        finally:
            self.con.unregister("wanted_lfs")
        return {(n, v): g["ex_key"].to_numpy() for (n, v), g in rows.group_by("lf_name", "lf_version", maintain_order=True)}

    def replace_failures(self, dataset: str, keys: pl.DataFrame, votes: pl.DataFrame, errors: pl.DataFrame) -> None:
        """In one transaction: drop the error rows of ``keys`` (``lf_name``, ``lf_version``, ``ex_key``),
        add the retry's ``votes`` and the ``errors`` it raised again (watermarks stay)."""

        con = self.con
        con.execute("BEGIN")
        try:
            con.register("retried", keys.to_arrow())
            con.execute(
                "DELETE FROM lf_errors WHERE dataset = ? AND (lf_name, lf_version, ex_key) IN "
                "(SELECT lf_name, lf_version, ex_key FROM retried)",
                [dataset],
            )
            con.unregister("retried")
            insert_votes(con, dataset, votes, errors)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
