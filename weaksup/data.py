"""Load datasets into polars and give every example a stable id.

Sources are CSV, Parquet or JSONL files (a path or a glob of them) and
WRENCH-format folders; :func:`scan_batches` streams Parquet/CSV sources larger
than memory.  Every loaded frame has an ``example_id`` column (a string,
unique within the dataset):

- with ``id_column``, its values (stringified) are the ids; duplicates or nulls are an error;
- otherwise each id is a hash of the row's content.  Identical rows get the same
  hash, so the second and later copies get ``-1``, ``-2``... suffixes in file order.

CSV and JSONL files are read as UTF-8 unless ``encoding`` names another codec
(e.g. ``"latin-1"``, ``"cp1252"``), which is decoded before polars reads the text.
An undecodable byte is reported with its file and line; an empty file with its name.

WRENCH split keys restart at ``"0"`` in every split and duplicate texts exist, so
WRENCH examples are keyed ``"<split>:<key>"``.

Crowd answer files are read by :mod:`weaksup.crowd.files`.

>>> import polars as pl
>>> df = with_example_ids(pl.DataFrame({"text": ["a", "b", "a"]}))
>>> df["example_id"].str.len_chars().to_list()
[16, 16, 18]
>>> df["example_id"][2] == df["example_id"][0] + "-1"
True
"""

from __future__ import annotations

import codecs
import glob as globlib
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from weaksup.deprecated import moved

ID = "example_id"
SPLIT = "split"

_READERS = {
    ".csv": pl.read_csv,
    ".parquet": pl.read_parquet,
    ".jsonl": pl.read_ndjson,
    ".ndjson": pl.read_ndjson,
}


def load_dataset(
    source: str | Path,
    *,
    id_column: str | None = None,
    base_dir: str | Path | None = None,
    encoding: str = "utf-8",
) -> pl.DataFrame:
    """Load a file, a glob of files or a WRENCH folder, with ``example_id`` set.

    Relative paths are resolved against ``base_dir`` (default: the working directory).
    """
    df = read_source(source, base_dir=base_dir, encoding=encoding)
    if df.height == 0:
        raise ValueError(f"dataset {str(Path(base_dir or '.') / source)!r} is empty: it has no rows to label")
    if ID in df.columns and id_column is None:  # WRENCH: already keyed split:key
        return df
    check_own_ids(df.columns, id_column, f"dataset {str(source)!r}")
    return with_example_ids(df if id_column == ID else df.drop(ID, strict=False), id_column)


def check_own_ids(columns: Sequence[str], id_column: str | None, what: str, key: str = "id_column") -> None:
    """Refuse data that has an ``example_id`` column of its own beside ``id_column``: the ids taken
    from ``id_column`` go to ``example_id``, and would silently replace the user's column."""
    if id_column is not None and id_column != ID and ID in columns:
        raise ValueError(
            f"{what} has a column {ID!r} of its own, and {key} = {id_column!r}: the ids taken from {id_column!r} "
            f"would replace it. Rename your column (in a pipeline: [data] rename = {{ {ID} = \"source_id\" }}), "
            f"or set {key} = {ID!r} to take the ids from it"
        )


def read_source(source: str | Path, *, base_dir: str | Path | None = None, encoding: str = "utf-8") -> pl.DataFrame:
    """Read a file, a glob of files (concatenated in name order) or a WRENCH folder, as it is."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r} (data.encoding); use e.g. 'utf-8', 'latin-1' or 'cp1252'") from None
    path = Path(base_dir or ".") / source
    if path.is_dir():
        return load_wrench(path)
    files = sorted(globlib.glob(str(path))) if any(c in str(source) for c in "*?[") else [str(path)]
    if not files:
        raise FileNotFoundError(f"no files match {str(path)!r}")
    return pl.concat([_read_file(Path(f), encoding) for f in files], how="diagonal_relaxed")


def _read_file(path: Path, encoding: str) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"cannot read {str(path)!r}: unknown extension {path.suffix!r}; "
            f"use one of {sorted(_READERS)} or a WRENCH folder"
        )
    if path.suffix.lower() == ".parquet":
        return reader(path)
    utf8 = codecs.lookup(encoding).name == "utf-8"
    try:
        # polars reads UTF-8 only: other encodings are decoded here first
        return reader(path if utf8 else io.BytesIO(_decode(path, encoding).encode("utf-8")))
    except pl.exceptions.NoDataError:
        raise ValueError(f"data file {str(path)!r} is empty: it has no header and no rows") from None
    except pl.exceptions.ComputeError as exc:
        if utf8 and "utf-8" in str(exc).lower():
            _decode(path, encoding)  # raises, naming the line
        raise ValueError(f"cannot read data file {str(path)!r}: {exc}") from None


def _decode(path: Path, encoding: str) -> str:
    """The text of ``path`` in ``encoding``; an undecodable byte is an error naming its line."""
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        context = raw[max(0, exc.start - 20) : exc.start + 20]
        raise ValueError(
            f"data file {str(path)!r} is not valid {encoding} at line {line} (byte {exc.start}, in {context!r}); "
            "if the file uses another encoding, name it with data.encoding (e.g. 'latin-1' or 'cp1252')"
        ) from None


_SCAN_FORMATS = {".parquet": "parquet", ".csv": "csv"}


def scan_batches(
    source: str | Path | pl.LazyFrame,
    *,
    id_column: str | None = None,
    batch_rows: int = 100_000,
    columns: Sequence[str] | None = None,
    base_dir: str | Path | None = None,
) -> Iterator[pl.DataFrame]:
    """Read a Parquet/CSV file or glob (or a polars ``LazyFrame``) ``batch_rows`` rows at a
    time, never whole, each batch with ``example_id`` taken from ``id_column``.

    Files are scanned with ``pyarrow.dataset`` (a pull-based reader: memory stays at a
    few batches however large the source); a ``LazyFrame`` runs in polars' streaming
    engine.  Ids must come from a column: content-hash ids number duplicate rows across
    the whole source, which a batch cannot see.
    """
    if isinstance(source, pl.LazyFrame):
        names = source.collect_schema().names()
        _check_stream_ids(id_column, names, "the LazyFrame")
        frame = source.select(columns) if columns else source
        batches: Iterator[pl.DataFrame] = iter(frame.collect_batches(chunk_size=batch_rows, lazy=True))
    else:
        path = Path(base_dir or ".") / source
        files = sorted(globlib.glob(str(path))) if any(c in str(source) for c in "*?[") else [str(path)]
        if not files or not Path(files[0]).exists():
            raise FileNotFoundError(f"no files match {str(path)!r}")
        kinds = {_SCAN_FORMATS.get(Path(f).suffix.lower()) for f in files}
        if None in kinds or len(kinds) != 1:
            raise ValueError(f"cannot stream {str(path)!r}: streaming reads .parquet or .csv files (one kind per source)")
        kind = kinds.pop()
        import pyarrow.dataset as pads  # here: it imports pandas, which LF workers and readers of small files skip

        # No pre-buffering: pyarrow's default reads ahead across a Parquet file's row groups, so memory
        # grew with the file (about 30 bytes per row of a 10M-row file) instead of staying at a batch.
        no_prebuffer = pads.ParquetFragmentScanOptions(pre_buffer=False)
        fmt = pads.ParquetFileFormat(default_fragment_scan_options=no_prebuffer) if kind == "parquet" else kind
        dataset = pads.dataset(files, format=fmt)
        _check_stream_ids(id_column, dataset.schema.names, repr(str(path)))
        wanted = list(dict.fromkeys([*columns, *([id_column] if id_column else [])])) if columns else None
        # Read ahead one batch only, on this thread: pyarrow's defaults (16 batches, 4 files) hold hundreds
        # of MB, and its threaded scan decodes ahead of a slow consumer (a 10M-row Parquet file held 430 MB
        # of decoded batches while the store staged them); a single-threaded scan reads when asked.
        scanned = dataset.to_batches(
            columns=wanted, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1, use_threads=False
        )
        batches = (pl.from_arrow(b) for b in scanned)  # type: ignore[misc]
    for batch in batches:
        if batch.height == 0:
            continue
        yield batch.with_columns(pl.col(id_column).cast(pl.String).alias(ID)) if id_column else batch


def _check_stream_ids(id_column: str | None, names: Sequence[str], what: str) -> None:
    if id_column is None and ID not in names:
        raise ValueError(
            f"streaming {what} needs id_column (a column of unique ids): content-hash ids number duplicate rows "
            "across the whole source, which one batch cannot see"
        )
    if id_column is not None and id_column not in names:
        raise ValueError(f"id column {id_column!r} is not in {what}; its columns are {list(names)}")
    check_own_ids(names, id_column, what)


def load_wrench(folder: str | Path) -> pl.DataFrame:
    """Read a WRENCH folder: one row per example of every split present.

    Columns: ``example_id`` (``"<split>:<key>"``), ``split``, the ``data`` fields,
    and ``label`` (gold, null where WRENCH has -1 or none).  WRENCH's
    ``weak_labels`` are dropped: weaksup's votes come from its own LFs.
    """
    folder = Path(folder)
    rows: list[dict] = []
    for split in ("train", "valid", "test"):
        path = folder / f"{split}.json"
        if not path.exists():
            continue
        for key, ex in json.loads(path.read_text()).items():
            label = ex.get("label")
            rows.append(
                {ID: f"{split}:{key}", SPLIT: split, **ex["data"], "label": None if label in (None, -1) else int(label)}
            )
    if not rows:
        raise FileNotFoundError(
            f"{str(folder)!r} is not a WRENCH folder: it has no train.json, valid.json or test.json"
        )
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.col("label").cast(pl.Int64))


def wrench_class_names(folder: str | Path) -> list[str]:
    """Class names from a WRENCH folder's ``label.json``, ordered by class id."""
    mapping = json.loads((Path(folder) / "label.json").read_text())
    return [mapping[str(i)] for i in range(len(mapping))]


def with_example_ids(df: pl.DataFrame, id_column: str | None = None) -> pl.DataFrame:
    """Add (or replace) the ``example_id`` column; see the module docstring for the rules."""
    if df.height == 0:
        raise ValueError("dataset is empty: it has no rows to label")
    if id_column is not None:
        if id_column not in df.columns:
            raise ValueError(f"id column {id_column!r} is not in the data; columns are {df.columns}")
        ids = df[id_column].cast(pl.String)
        if ids.null_count():
            row = ids.is_null().arg_max()
            raise ValueError(f"id column {id_column!r} is null at row {row}; every example needs an id")
        dupes = ids.filter(ids.is_duplicated()).unique().sort()
        if len(dupes):
            raise ValueError(
                f"id column {id_column!r} has {len(dupes)} duplicated values, e.g. {dupes.head(3).to_list()}; "
                "ids must be unique (deduplicate the rows or omit id_column to hash content)"
            )
        return df.with_columns(ids.alias(ID))
    base = pl.DataFrame({"h": content_hashes(df.drop(ID, strict=False))})
    nth = pl.int_range(pl.len()).over("h")
    ids = base.select(pl.when(nth == 0).then("h").otherwise(pl.col("h") + "-" + nth.cast(pl.String)))
    return df.with_columns(ids.to_series().alias(ID))


def content_hashes(df: pl.DataFrame) -> pl.Series:
    """A 16-hex-digit hash of each row's content (its JSON form), computed in DuckDB.

    Stable across processes and machines for a given DuckDB version; give an
    ``id_column`` where ids must outlive upgrades.
    """
    import duckdb  # here, not at the top: reading data (``weaksup predict``) should not pay for it

    con = duckdb.connect()
    try:
        return con.sql("SELECT substr(md5(to_json(t)::VARCHAR), 1, 16) AS h FROM df t").pl()["h"]
    finally:
        con.close()


__getattr__ = moved(__name__, {
    name: f"weaksup.crowd.files:{name}"
    for name in ("CrowdVotes", "CrowdColumnError", "read_crowd_columns", "ragged_line", "crowd_row", "load_crowd")
})  # fmt: skip
