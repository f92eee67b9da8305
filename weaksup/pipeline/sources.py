"""A pipeline's inputs: its ``[data]`` source read into a frame with ``example_id``, its ``[holdout]``,
and its LF modules (:func:`load_lf_modules`).

Sources are CSV/Parquet/JSONL files or a glob of them (concatenated; columns
missing from some files are null), a WRENCH folder, or a table of a DuckDB
file.  Then, in order: ``data.rename`` renames columns; rows sharing an id are
handled by ``data.duplicate_ids``; rows whose ``holdout.match_column`` equals
a holdout text are dropped (so the holdout never sees LF application or
training); ids are assigned (:func:`weaksup.data.with_example_ids`).

>>> import tempfile, pathlib, polars as pl
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> pl.DataFrame({"ID": ["a", "a", "b"], "CONTENT": ["hi", "hi", "yo"]}).write_csv(d / "part1.csv")
>>> from weaksup.pipeline.settings import DataSettings
>>> data = DataSettings("part*.csv", table=None, rename={"CONTENT": "text"}, id_column="ID",
...                     duplicate_ids="drop_identical", split_column="split", gold_column="label",
...                     train_split="train", test_split="test", encoding="utf-8")
>>> loaded = load_examples(data, None, d)
>>> loaded.frame.rows(), loaded.duplicates_dropped
([('a', 'hi'), ('b', 'yo')], 1)
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from weaksup.apply import prepare_lfs
from weaksup.data import ID, check_own_ids, read_source, with_example_ids
from weaksup.pipeline.schema import is_module_name
from weaksup.pipeline.settings import DataSettings, HoldoutSettings

class SourceError(ValueError):
    """A source cannot be read as configured; the message names the pipeline key."""


@dataclass(frozen=True)
class Examples:
    """The examples to label and what loading did to them."""

    frame: pl.DataFrame
    duplicates_dropped: int
    held_out: int


def read_table(
    source: str, base: Path, table: str | None = None, key: str = "data.source", encoding: str = "utf-8"
) -> pl.DataFrame:
    """Read a file, a glob of files, a WRENCH folder, or (with ``table``) a DuckDB table, as it is."""
    path = base / source
    if table is not None:
        return _read_duckdb(path, table)
    try:
        return read_source(source, base_dir=base, encoding=encoding)
    except (FileNotFoundError, ValueError) as exc:
        raise SourceError(f"{key} = {source!r}: {exc}") from None


def _read_duckdb(path: Path, table: str) -> pl.DataFrame:
    if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)?", table):
        raise SourceError(f"data.table = {table!r} is not a table name (letters, digits, _; optionally schema.table)")
    quoted = ".".join(f'"{part}"' for part in table.split("."))
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise SourceError(f"data.source = {str(path)!r} cannot be opened as a DuckDB file: {exc}") from None
    try:
        return con.sql(f"SELECT * FROM {quoted}").pl()
    except duckdb.CatalogException:
        tables = [r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()]
        raise SourceError(f"data.table = {table!r} is not in {str(path)!r}; its tables are {sorted(tables)}") from None
    finally:
        con.close()


def _dedupe(df: pl.DataFrame, id_column: str, policy: str) -> tuple[pl.DataFrame, int]:
    if policy == "error" or not df[id_column].is_duplicated().any():
        return df, 0  # with_example_ids reports duplicates under "error"
    if policy == "keep_last":
        out = df.unique(subset=[id_column], keep="last", maintain_order=True)
        return out, df.height - out.height
    out = df.unique(keep="first", maintain_order=True)
    still = out[id_column].filter(out[id_column].is_duplicated()).unique().sort()
    if len(still):
        raise SourceError(
            f"data.id_column {id_column!r} has ids on rows that differ, e.g. {still.head(3).to_list()}; "
            "data.duplicate_ids = 'drop_identical' drops only identical rows: fix the data, or use 'keep_last'"
        )
    return out, df.height - out.height


def load_examples(data: DataSettings, holdout: pl.DataFrame | None, base: Path, match_column: str = "text") -> Examples:
    """Read ``[data]`` (a validated section) relative to ``base``, dropping rows that match ``holdout``'s texts."""
    raw = read_table(data.source, base, data.table, encoding=data.encoding)
    missing = [c for c in data.rename if c not in raw.columns]
    if missing:
        raise SourceError(f"data.rename names columns the source lacks: {missing}; its columns are {raw.columns}")
    df = raw.rename(data.rename)
    if df.height == 0:
        raise SourceError(f"data.source = {data.source!r} has no rows to label")
    dropped = 0
    id_column = data.id_column
    if id_column is not None:
        if id_column not in df.columns:
            raise SourceError(f"data.id_column {id_column!r} is not in the data; columns are {df.columns}")
        try:
            check_own_ids(df.columns, id_column, f"data.source = {data.source!r}", "data.id_column")
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        df, dropped = _dedupe(df, id_column, data.duplicate_ids)
    held = 0
    if holdout is not None:
        if match_column not in df.columns:
            raise SourceError(f"holdout.match_column {match_column!r} is not in the data; columns are {df.columns}")
        keep = ~df[match_column].is_in(holdout["text"].implode())
        held = int((~keep).sum())
        df = df.filter(keep)
        if df.height == 0:
            raise SourceError("every data row matches a holdout text: nothing is left to label")
    if ID in df.columns and id_column is None:  # a WRENCH folder brings its own ids
        return Examples(df, dropped, held)
    if id_column == ID:  # the data's own example_id column holds the ids
        return Examples(with_example_ids(df, ID).select(ID, pl.exclude(ID)), dropped, held)
    df = with_example_ids(df.drop(ID, strict=False), id_column)
    if id_column is not None:
        df = df.drop(id_column).select(ID, pl.exclude(ID))
    return Examples(df, dropped, held)


def load_holdout(section: HoldoutSettings, base: Path) -> pl.DataFrame:
    """The holdout as ``text`` and ``gold`` (-1 where unknown) columns."""
    df = read_table(section.source, base, key="holdout.source")
    if section.split is not None:
        if "split" not in df.columns:
            raise SourceError(f"holdout.split = {section.split!r}, but holdout.source has no splits")
        df = df.filter(pl.col("split") == section.split)
        if df.height == 0:
            raise SourceError(f"holdout.split = {section.split!r} selects no rows of {section.source!r}")
    for key in ("text_column", "gold_column"):
        if getattr(section, key) not in df.columns:
            raise SourceError(f"holdout.{key} {getattr(section, key)!r} is not in the holdout; its columns are {df.columns}")
    return df.select(
        pl.col(section.text_column).cast(pl.String).alias("text"),
        pl.col(section.gold_column).cast(pl.Int64, strict=False).fill_null(-1).alias("gold"),
    )


def load_lf_modules(modules: Sequence[Path | str], base: Path | None = None) -> list[Any]:
    """Import LF modules and collect their module-level LFs, in definition order.

    Each entry is a Python file (a path; relative to ``base``) or a module's dotted name
    (``labeling_functions.spam``).  ``base`` (a pipeline's folder) and each file's own folder go
    on the import path first, as a script's folder does, so an LF file can import a helper module
    beside it and a dotted name can name a package under ``base``.  An LF that several listed
    modules import (the same object, or the same name and version) is collected once.
    """
    found: list[Any] = []
    for entry in modules:
        path = Path(base or ".") / entry
        by_name = isinstance(entry, str) and is_module_name(entry) and not path.exists()
        for folder in [*([base] if base is not None else []), *([] if by_name else [path.parent])]:
            if str(folder.resolve()) not in sys.path:
                sys.path.insert(0, str(folder.resolve()))
        module = _import_name(str(entry)) if by_name else _import_file(path)
        lfs = [v for v in vars(module).values() if _is_lf(v)]
        if not lfs:
            raise ValueError(f"LF module {str(entry if by_name else path)!r} defines no labeling functions (use @labeling_function)")
        found.extend(lfs)
    return prepare_lfs(_distinct(found))


def _import_file(path: Path) -> Any:
    name = f"weaksup_lfs_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import LF module {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module failed to import: say which file and line, then what
        sys.modules.pop(name, None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = f" at line {frames[-1].lineno}" if frames else ""
        raise ValueError(f"LF module {str(path)!r} failed to import{line}: {type(exc).__name__}: {exc}") from exc
    return module


def _import_name(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name) and (name == exc.name or name[len(exc.name)] == "."):
            raise ValueError(
                f"LF module {name!r} is neither a file (paths are relative to the pipeline file) nor a module "
                f"Python can import ({exc}); give the .py file's path, or a module under the pipeline's folder "
                "or on PYTHONPATH"
            ) from None
        raise ValueError(f"LF module {name!r} failed to import: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise ValueError(f"LF module {name!r} failed to import: {type(exc).__name__}: {exc}") from exc


def _distinct(lfs: list[Any]) -> list[Any]:
    """``lfs`` without repeats: the same object, or an LF of the same name, kind and version (one
    file imported by another under its own module name defines its LFs twice, identically)."""
    seen: set[Any] = set()
    out = []
    for lf in lfs:
        key = (lf.name, getattr(lf, "kind", None), getattr(lf, "version", None)) if hasattr(lf, "version") else id(lf)
        if key not in seen:
            seen.add(key)
            out.append(lf)
    return out


def _is_lf(value: Any) -> bool:
    """weaksup LFs of any kind, and Snorkel LFs (which have a wrapped ``_f``)."""
    if isinstance(value, type):
        return False
    return (hasattr(value, "kind") and hasattr(value, "version")) or (
        hasattr(value, "_f") and hasattr(value, "_resources") and hasattr(value, "name")
    )
