"""Opening a store's DuckDB file, and what every family of its tables shares.

:func:`open_database` connects to the file (creating it, with its folder, when writing), creates a
new store's tables or migrates an older store's (:mod:`.schema`), and refuses files that are not
weaksup stores (and stores holding views or macros, which weaksup never creates).  SQL on the
connection cannot read or write files (DuckDB's external access is off).  Each table family (:mod:`.examples`, :mod:`.votes`, :mod:`.runs`,
:mod:`.llm_cache`, the report's read-only :mod:`.reports`) is a :class:`Tables` over the store's
one connection: the connection stays inside the store package.

**Crash tests.**  :func:`crash_point` lets tests SIGKILL a process at a named
point (``WEAKSUP_CRASH_AT=name[:n]``); it does nothing otherwise.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from weaksup.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

__all__ = [
    "CRASH_ENV",
    "StoreError",
    "Tables",
    "crash_point",
    "key_ranges",
    "memory_size_problem",
    "open_database",
    "utc_now",
]

CRASH_ENV = "WEAKSUP_CRASH_AT"
_crash_counts: dict[str, int] = {}
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.I)


class StoreError(RuntimeError):
    """The store file cannot be used: not DuckDB, locked, or of an unknown schema version."""


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$WEAKSUP_CRASH_AT`` is ``name`` or ``name:n`` and this is
    the ``n``-th time (default: first) the point is reached.  A test hook for crash safety."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or wanted.partition(":")[0] != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] == int(wanted.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def utc_now() -> datetime:
    """Now, in UTC: every timestamp the store writes."""
    return datetime.now(timezone.utc)


def key_ranges(span: tuple[int, int] | None, batch_keys: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of ``batch_keys`` keys, as (first, last), across ``span`` (its first and
    last key; None: no range): how large runs are read a part at a time."""
    if span is None:
        return
    for first in range(span[0], span[1] + 1, batch_keys):
        yield first, min(first + batch_keys - 1, span[1])


def memory_size_problem(limit: str) -> str | None:
    """Why ``limit`` is not a memory size DuckDB takes (``None`` when it is one)."""
    return None if _SIZE.fullmatch(limit.strip()) else "is not a size like '512MB' or '2GB'"


def open_database(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the store at ``path``, its schema current (see the module docstring)."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise StoreError(f"store {str(path)!r} does not exist; run a pipeline first to create it")
    try:  # no file access from SQL: a hostile store's views or macros cannot read files into reports
        con = duckdb.connect(str(path), read_only=read_only, config={"enable_external_access": False})
    except duckdb.IOException as exc:
        text = str(exc)
        if "not a valid DuckDB database" in text:
            raise StoreError(
                f"{str(path)!r} is not a DuckDB database; point the pipeline's `store` at a new "
                "file name or at an existing weaksup store"
            ) from None
        if "lock" in text.lower():
            raise StoreError(f"store {str(path)!r} is in use by another process ({text.split(': ', 1)[-1]})") from None
        raise
    try:
        _refuse_foreign_objects(con, path)
        _init_schema(con, path, read_only)
    except BaseException:
        con.close()
        raise
    return con


def _refuse_foreign_objects(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a store file holding views or macros: weaksup creates none, so someone else put them
    there (a view named like a table, reading a file, would leak it into reports and exports)."""
    found = con.execute(
        "SELECT 'view ' || view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary UNION ALL "
        "SELECT function_type || ' ' || function_name FROM duckdb_functions() WHERE NOT internal "
        "AND database_name <> 'temp' AND function_type IN ('macro', 'table_macro')"
    ).fetchall()
    if found:
        raise StoreError(
            f"{str(path)!r} holds {', '.join(sorted(r[0] for r in found))}, which weaksup never creates: it is not "
            "a store weaksup wrote (or someone changed it); weaksup will not read it"
        )


def _init_schema(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    tables = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    if not tables and not read_only:
        con.execute("BEGIN")
        con.execute(SCHEMA)
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
        return
    if "meta" not in tables:
        raise StoreError(f"{str(path)!r} is a DuckDB file but not a weaksup store (no meta table)")
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    version = int(rows[0][0]) if rows else 0
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION or version not in MIGRATIONS:
        raise StoreError(
            f"store {str(path)!r} has schema version {version}, this weaksup reads version {SCHEMA_VERSION}; "
            + ("upgrade weaksup" if version > SCHEMA_VERSION else "no migration from it exists")
        )
    if read_only:
        raise StoreError(
            f"store {str(path)!r} has schema version {version}; run `weaksup run` or `weaksup gc` "
            f"on it once to migrate it to version {SCHEMA_VERSION}"
        )
    con.execute("BEGIN")
    for step in range(version, SCHEMA_VERSION):
        con.execute(MIGRATIONS[step])
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
    con.execute("COMMIT")


class Tables:
    """One family of the store's tables, over the store's connection (``con``, kept in the store
    package): parametrized SQL only, bulk inserts from Arrow."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._con = con
        self._path = path

    def _query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """The rows of a read query, as a polars frame."""
        return self._con.sql(sql, params=params or None).pl()

    def _key_span(self, rows: str, params: Sequence[Any]) -> tuple[int, int] | None:
        """The smallest and largest ``ex_key`` of the rows ``rows`` selects (a ``FROM ... WHERE``
        clause of weaksup's own, with ``params``); None when there are none."""
        lo, hi = self._con.execute(f"SELECT min(ex_key), max(ex_key) {rows}", list(params)).fetchall()[0]
        return None if lo is None else (int(lo), int(hi))

    def _key_range_batches(
        self, sql: str, params: Sequence[Any], span: tuple[int, int] | None, batch_keys: int
    ) -> Iterator[pl.DataFrame]:
        """``sql`` once per range of ``batch_keys`` keys across ``span`` (its first and last key;
        None: no rows), through a cursor of its own; the range's first and last key are its last two
        parameters.  Where keys are unique (an example's, or a run's labels), each frame holds at
        most ``batch_keys`` rows, and DuckDB joins and sorts one range at a time instead of every
        row at once (a 10M-row join and sort ran out of a 256 MB memory limit).  Empty ranges are
        skipped."""
        if span is None:
            return
        cursor = self._con.cursor()
        try:
            for first, last in key_ranges(span, batch_keys):
                frame = cursor.sql(sql, params=[*params, first, last]).pl()
                if frame.height:
                    yield frame
        finally:
            cursor.close()
