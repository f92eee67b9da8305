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

Crowd answers (``answer.csv``: item, worker, answer; optional ``truth.csv``: item, truth)
load straight into sparse votes with :func:`load_crowd`, one LF per worker.

>>> import polars as pl
>>> df = with_example_ids(pl.DataFrame({"text": ["a", "b", "a"]}))
>>> df["example_id"].str.len_chars().to_list()
[16, 16, 18]
>>> df["example_id"][2] == df["example_id"][0] + "-1"
True
"""

from __future__ import annotations

import codecs
import csv
import glob as globlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from weaksup.votes import SparseVotes

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


@dataclass(frozen=True)
class CrowdVotes:
    """Crowd answers as label-model input: ``votes`` (one LF per worker, one row per item),
    ``truth`` (class id per row, -1 where unknown), and the ids behind rows, LFs and classes."""

    votes: SparseVotes
    truth: np.ndarray
    items: tuple[str, ...]
    workers: tuple[str, ...]
    classes: tuple[str, ...]
    n_repeats: int
    """(item, worker) pairs answered more than once in the file; only the first answer is kept."""


class CrowdColumnError(ValueError):
    """A crowd file lacks a column it needs (by name, or by position when unnamed)."""


def read_crowd_columns(
    path: str | Path, roles: Sequence[str], names: Sequence[str | None] | None = None
) -> pl.DataFrame:
    """Some columns of a crowd file (a CSV with a header row, or Parquet) as stripped, non-empty
    strings named ``roles``: the columns ``names`` (each ``None`` takes the role's position:
    the first column for the first role...).  Errors name the file, the line and the column."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"crowd file {str(path)!r} does not exist")
    parquet = path.suffix.lower() == ".parquet"
    try:
        df = pl.read_parquet(path) if parquet else pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise ValueError(f"{str(path)!r} is empty: it has no header row and no rows") from None
    except (pl.exceptions.PolarsError, OSError) as error:
        ragged = None if parquet else ragged_line(path)
        if ragged is not None:
            raise ValueError(_ragged_message(path, *ragged)) from None
        raise ValueError(f"cannot parse {str(path)!r} as {'Parquet' if parquet else 'CSV'}: {error}") from error
    names = list(names or [None] * len(roles))
    if df.width < len(roles) and not all(names):
        raise CrowdColumnError(
            f"{str(path)!r} has columns {df.columns} but needs {len(roles)}: "
            f"{', '.join(roles)} (in that order, with a header row)"
        )
    chosen = [df.columns[i] if name is None else name for i, name in enumerate(names)]
    for role, name in zip(roles, chosen):
        if name not in df.columns:
            raise CrowdColumnError(f"{str(path)!r} has no column {name!r} for the {role}; its columns are {df.columns}")
    position = {role: df.columns.index(name) + 1 for role, name in zip(roles, chosen)}
    df = df.select(pl.col(name).cast(pl.String).str.strip_chars().alias(role) for role, name in zip(roles, chosen))
    for c in roles:
        empty = df[c].is_null() | (df[c] == "")
        if empty.any():
            ragged = None if parquet else ragged_line(path)
            if ragged is not None:  # a row with too few fields reads as empty values
                raise ValueError(_ragged_message(path, *ragged))
            raise ValueError(
                f"{str(path)!r} {crowd_row(path, int(empty.arg_max()))}: the {c} column (column {position[c]}) "
                "is empty; every row needs a value"
            )
    return df


def ragged_line(path: Path) -> tuple[int, int, int] | None:
    """The first line of a CSV file whose row has another number of fields than its header:
    (line, fields, header fields); None when every row fits."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return None
        for row in reader:
            if row and len(row) != len(header):
                return reader.line_num, len(row), len(header)
    return None


def _ragged_message(path: Path, line: int, fields: int, expected: int) -> str:
    return (f"{str(path)!r} line {line}: {fields} fields where the header has {expected}; give every row one value "
            "per column (quote a value that holds a comma)")  # fmt: skip


def crowd_row(path: Path, row: int) -> str:
    """Where row ``row`` (0-based, header excluded) of a crowd file is: a CSV line, or a Parquet row."""
    return f"row {row}" if path.suffix.lower() == ".parquet" else f"line {row + 2}"


def _class_order(values: list[str]) -> list[str]:
    """Numeric order when every label is a number (so ``"10"`` follows ``"9"``), else text order."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def load_crowd(
    answers: str | Path, truth: str | Path | None = None, classes: list[str] | None = None
) -> CrowdVotes:
    """Load crowd answers (and optional truth) into :class:`CrowdVotes`.

    ``answers`` is a CSV (or Parquet) file whose first three columns are item, worker and answer
    (any header names, e.g. ``question,worker,answer``); ``truth`` one whose first two are item and truth.
    Rows are the items in order of first appearance in ``answers``, then items found only in
    ``truth`` (they have no votes); LFs are the workers in order of first appearance.  Class
    ids follow ``classes`` when given (an answer outside it is an error), else the distinct
    answer and truth values sorted numerically when all are numbers and as text otherwise:
    answers 1..5 become classes 0..4.  A worker answering an item twice keeps the first answer.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "answer.csv").write_text("question,worker,answer\\nq1,w1,2\\nq1,w2,1\\nq2,w1,1\\n")
    >>> _ = (d / "truth.csv").write_text("question,truth\\nq2,1\\n")
    >>> crowd = load_crowd(d / "answer.csv", d / "truth.csv")
    >>> crowd.classes, crowd.votes.to_dense().tolist(), crowd.truth.tolist()
    (('1', '2'), [[1, 0], [0, -1]], [-1, 0])
    """
    answers = Path(answers)
    df = read_crowd_columns(answers, ("item", "worker", "answer"))
    if df.height == 0:
        raise ValueError(f"{str(answers)!r} has a header row and no answers")
    gold = None if truth is None else read_crowd_columns(Path(truth), ("item", "truth"))
    if gold is not None:
        repeated = gold.filter(pl.col("item").is_duplicated()).group_by("item").agg(pl.col("truth").n_unique())
        conflict = repeated.filter(pl.col("truth") > 1)
        if conflict.height:
            raise ValueError(
                f"{str(truth)!r}: item {conflict['item'][0]!r} has {conflict['truth'][0]} different truths; "
                "give one truth per item"
            )
    seen = set(df["answer"].unique().to_list()) | (set() if gold is None else set(gold["truth"].to_list()))
    if classes is None:
        classes = _class_order(list(seen))
    class_id = {c: i for i, c in enumerate(classes)}
    for what, frame, col, path in (("answer", df, "answer", answers), ("truth", gold, "truth", truth)):
        if frame is None:
            continue
        unknown = ~frame[col].is_in(list(class_id))
        if unknown.any():
            row = int(unknown.arg_max())
            raise ValueError(
                f"{str(path)!r} {crowd_row(Path(path), row)}: {what} {frame[col][row]!r} is not one of the classes "
                f"{list(classes)}"
            )
    items = list(dict.fromkeys(df["item"].to_list()))
    if gold is not None:
        known = set(items)
        items += [i for i in dict.fromkeys(gold["item"].to_list()) if i not in known]
    workers = list(dict.fromkeys(df["worker"].to_list()))
    item_id = {q: i for i, q in enumerate(items)}
    worker_id = {w: i for i, w in enumerate(workers)}
    first = df.unique(subset=["item", "worker"], keep="first", maintain_order=True)
    rows = np.array([item_id[q] for q in first["item"]], dtype=np.int64)
    cols = np.array([worker_id[w] for w in first["worker"]], dtype=np.int32)
    labels = np.array([class_id[a] for a in first["answer"]], dtype=np.int32)
    order = np.argsort(rows, kind="stable")
    votes = SparseVotes(rows[order], cols[order], labels[order], len(items), len(workers), tuple(workers))
    y = np.full(len(items), -1, dtype=np.int64)
    if gold is not None:
        for q, t in gold.unique(subset=["item"], keep="first").iter_rows():
            y[item_id[q]] = class_id[t]
    return CrowdVotes(votes, y, tuple(items), tuple(workers), tuple(classes), df.height - first.height)
