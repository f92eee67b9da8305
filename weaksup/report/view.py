"""One run as the report sees it: its labels, its LF versions' votes and the gold it used.

**Gold.**  The store never holds gold (the pipeline splits it off before the store sees the
examples), so each run writes the gold it used into its export folder as ``gold.parquet``
(:func:`save_gold`, keyed by ``ex_key``); :func:`load_run` reads it back from the run's
``export_dir``.  The report of run N then scores against exactly the gold run N saw, even after
the data files changed; a run without the file (older runs, ``gc``-pruned folders) is reported
without gold.

>>> import numpy as np, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = save_gold(folder, np.array([5, 7, 9]), np.array([1, -1, 0]), "categorical")
>>> load_gold(folder, np.array([9, 5, 8]), "categorical").tolist()
[0, 1, -1]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup import batches
from weaksup.label_types import DEFAULT_LABEL_TYPE, label_type_for
from weaksup.report.types import ReportType, report_type_for
from weaksup.store import ReportReader, key_ranges
from weaksup.store.reports import LABEL_COLUMNS

GOLD_FILE = "gold.parquet"


def save_gold(run_dir: Path, ex_keys: np.ndarray, gold: Any, label_type: str = DEFAULT_LABEL_TYPE) -> Path:
    """Write the gold a run used (aligned with ``ex_keys``) to ``run_dir/gold.parquet``.

    ``gold``: in the form of the run's ``label_type`` (:meth:`~weaksup.label_types.LabelType.gold_column`):
    class ids (-1 unknown), floats (NaN unknown), or per example a mapping item → score."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keys = pl.Series("ex_key", np.asarray(ex_keys, dtype=np.int64))
    column = label_type_for(label_type).gold_column(gold)
    path = run_dir / GOLD_FILE
    pl.DataFrame([keys, column]).write_parquet(path)
    return path


FEW_KEYS = 10_000
"""Below this many keys (the examples a report shows) gold is read by key, not by key range."""


def load_gold(run_dir: Path | None, ex_keys: np.ndarray, label_type: str) -> Any:
    """The gold of ``run_dir/gold.parquet`` for ``ex_keys`` (None if the file is missing): class
    ids with -1, floats with NaN, or (rankings) a list of mappings item id → score, empty where unknown
    (:meth:`~weaksup.label_types.LabelType.read_gold`).
    Only the file's rows of these keys are read (a part of a large run reads its part)."""
    path = Path(run_dir) / GOLD_FILE if run_dir else None
    if path is None or not path.exists():
        return None
    keys = np.asarray(ex_keys, dtype=np.int64)
    scan = pl.scan_parquet(path)
    if not len(keys):
        scan = scan.filter(pl.lit(False))
    else:  # the key range first: parquet statistics skip the row groups outside it
        scan = scan.filter(pl.col("ex_key").is_between(int(keys.min()), int(keys.max())))
        scan = scan.filter(pl.col("ex_key").is_in(pl.Series(keys).implode())) if len(keys) < FEW_KEYS else scan
    saved = scan.collect()
    if saved.height == len(keys) and np.array_equal(saved["ex_key"].to_numpy(), keys):
        column = saved["gold"]  # the run's own keys in the same order (a streamed run's): no join
    else:
        column = pl.DataFrame({"ex_key": keys}).join(saved, on="ex_key", how="left", maintain_order="left")["gold"]
    return label_type_for(label_type).read_gold(column)


@dataclass
class RunArrays:
    """Labels, votes and gold of some of a run's examples, aligned by row (ordered by ``ex_key``)."""

    labels: pl.DataFrame
    votes: Any
    gold: Any


@dataclass(frozen=True)
class RunReader:
    """Reads a run's labels, votes and gold from its store, for a range of keys or for given keys."""

    store: ReportReader
    run_id: int
    label_type: str
    versions: list[tuple[str, str]]
    probs_width: int | None
    gold_dir: Path | None

    def read(self, key_range: tuple[int, int] | None = None, ex_keys: np.ndarray | None = None,
             votes: bool = True, content: bool = False) -> RunArrays:  # fmt: skip
        """The examples with keys in ``key_range`` (or ``ex_keys``); without ``votes``, the labels
        only; with ``content``, their ids and content too (a few examples a report shows)."""
        report_type = report_type_for(self.label_type)
        labels = self.store.run_labels(self.run_id, report_type.label_columns, data=content, ids=content,
                                       probs_width=self.probs_width, key_range=key_range, ex_keys=ex_keys)  # fmt: skip
        if not votes:
            return RunArrays(labels, None, None)
        keys = labels["ex_key"].to_numpy()
        votes_read = report_type.read_votes(self.store, keys, self.versions)
        return RunArrays(labels, votes_read, load_gold(self.gold_dir, keys, self.label_type))


@dataclass
class RunView:
    """What the report reads of one run; build it with :func:`load_run`.

    A view holds every example's labels, votes and gold (:attr:`labels`, :attr:`votes`,
    :attr:`gold`), or, loaded with ``batch_rows``, reads them from the store in parts
    (:meth:`parts`) so a report of a 10M-example run holds one part at a time; the whole arrays
    of such a view are read only when asked for."""

    run: dict[str, Any]
    """The run's record (``params``, ``metrics``, ``lf_versions``, ``lf_summary`` decoded)."""
    label_type: str
    classes: list[str]
    versions: list[tuple[str, str]]
    test_split: str
    has_gold: bool
    """Whether the run saved its gold (``gold.parquet``)."""
    store: ReportReader | None = None
    """Where :meth:`data` and :meth:`example_ids` read examples' content and ids when ``labels`` has
    no such column, and where the parts are read (open while they are asked)."""
    loaded: RunArrays | None = None
    """The examples' labels, votes and gold when held; None when read in parts."""
    reader: RunReader | None = None
    """Reads the parts of a view that holds none (``loaded`` None)."""
    batch_rows: int = batches.REPORT_PART_ROWS
    """How many keys a part spans."""
    key_range: tuple[int, int] = (0, -1)
    """The smallest and largest key the run labeled (parts span it)."""
    counted: tuple[int, int] | None = field(default=None, init=False, repr=False)
    """(examples, covered examples), once counted part by part."""

    @property
    def labels(self) -> pl.DataFrame:
        """:meth:`~weaksup.store.ReportReader.run_labels`: one row per labeled example, with the label
        columns of the run's report type."""
        return self._arrays().labels

    @property
    def votes(self) -> Any:
        """SparseVotes (categorical), RegressionVotes, or for rankings per LF a dict row → ranking."""
        return self._arrays().votes

    @property
    def gold(self) -> Any:
        """Aligned with ``labels``; None when the run saved none."""
        return self._arrays().gold if self.has_gold or self.loaded is not None else None

    @gold.setter
    def gold(self, value: Any) -> None:
        self._arrays().gold = value

    def _arrays(self) -> RunArrays:
        if self.loaded is None:  # asked for every example at once: read them all
            assert self.reader is not None
            self.loaded = self.reader.read(self.key_range)
        return self.loaded

    def parts(self) -> Iterator[RunView]:
        """The run in parts of ``batch_rows`` keys, each a view that holds its examples (in key
        order); a view that holds every example is its one part.  What the report sums or
        samples over examples, it does part by part."""
        if self.loaded is not None or self.reader is None:
            yield self
            return
        for keys in key_ranges(self.key_range, self.batch_rows):
            part = self.reader.read(keys)
            if part.labels.height:
                yield replace(self, loaded=part)

    def locate(self, ex_keys: np.ndarray) -> tuple[RunView, np.ndarray]:
        """A view holding the examples ``ex_keys`` (sorted, of this run), their ids and content,
        and their rows in it: this view when it holds every example with its content, else one
        read for just these keys."""
        keys = np.asarray(ex_keys, dtype=np.int64)
        if self.reader is None or (self.loaded is not None and "data" in self.loaded.labels.columns):
            return self, np.searchsorted(self.labels["ex_key"].to_numpy(), keys)
        part = replace(self, loaded=self.reader.read(ex_keys=keys, content=True))
        return part, np.searchsorted(part.labels["ex_key"].to_numpy(), keys)

    @property
    def report_type(self) -> ReportType:
        """What the report does differently for the run's label type."""
        return report_type_for(self.label_type)

    @property
    def lf_names(self) -> list[str]:
        """The run's LFs, in vote-column order."""
        return [v[0] for v in self.versions]

    @property
    def n(self) -> int:
        """How many examples the run labeled."""
        return self._counts()[0]

    def covered(self) -> int:
        """How many examples some LF voted on."""
        return self._counts()[1]

    def _counts(self) -> tuple[int, int]:
        if self.loaded is not None or self.reader is None:
            return self.labels.height, int((self.labels["n_votes"] > 0).sum())
        if self.counted is None:  # the labels alone, part by part
            n = covered = 0
            for keys in key_ranges(self.key_range, self.batch_rows):
                labels = self.reader.read(keys, votes=False).labels
                n, covered = n + labels.height, covered + int((labels["n_votes"] > 0).sum())
            self.counted = (n, covered)
        return self.counted

    def dev_mask(self) -> np.ndarray:
        """Examples outside the test split: where the report scores LFs on gold (the test split stays unseen)."""
        return (self.labels["split"].fill_null("") != self.test_split).to_numpy()

    def gold_mask(self) -> np.ndarray:
        """Examples with gold."""
        if self.gold is None:
            return np.zeros(self.n, dtype=bool)
        return self.report_type.gold_mask(self.gold)

    def data(self, rows: np.ndarray) -> list[str | None]:
        """The content (JSON text) of examples ``rows``: from ``labels``, else read from the store by key."""
        return self._by_row(rows, "data")

    def example_ids(self, rows: np.ndarray) -> list[str | None]:
        """The ids of examples ``rows``: from ``labels``, else read from the store by key."""
        return self._by_row(rows, "example_id")

    def _by_row(self, rows: np.ndarray, column: str) -> list[Any]:
        rows = np.asarray(rows, dtype=np.int64)
        if column in self.labels.columns:
            return self.labels[column].gather(rows).to_list()
        if self.store is None:
            raise ValueError(f"this run view was loaded without the examples' {column} and without a store to read it from")
        keys = self.labels["ex_key"].to_numpy()[rows]
        return self.store.example_data(keys) if column == "data" else self.store.example_ids(keys)

    def texts(self, rows: np.ndarray, limit: int = 160) -> list[str]:
        """Examples ``rows`` shown in a line each: the ``text`` field, else the input fields as ``key=value``."""
        out = []
        for raw in self.data(rows):
            data: Mapping[str, Any] = json.loads(raw) if raw else {}
            text = data.get("text") if isinstance(data.get("text"), str) else None
            line = text if text is not None else ", ".join(f"{k}={v}" for k, v in data.items())
            out.append(line if len(line) <= limit else line[: limit - 1] + "…")
        return out


def load_run(
    store: ReportReader, run_id: int | None = None, run_dir: Path | None = None, export_root: Path | None = None,
    with_data: bool = True, batch_rows: int | None = None,
) -> RunView:  # fmt: skip
    """Read run ``run_id`` (default: the newest succeeded) from ``store``; gold comes from
    ``run_dir``, by default the run's export folder under ``export_root`` (the pipeline's
    ``export.dir``: the store records each run's folder by name, so without it there is no gold).
    ``with_data=False`` leaves every example's content and id in the store (read by key while
    ``store`` is open, :meth:`RunView.data`, :meth:`RunView.example_ids`), and ``labels`` holds only
    the label columns of the run's report type.  ``batch_rows`` (with ``with_data=False``, for types
    that read in parts) reads nothing yet when the run's keys span more than that many: the report then
    reads the run in parts of that many keys while ``store`` is open (:meth:`RunView.parts`), what a
    report of a 10M-example run needs to stay small.  A run that fits in one part is read once, whole."""
    run = store.run(run_id)
    rid = int(run["run_id"])
    params = run["params"] or {}
    label_type = str((params.get("labels") or {}).get("type", DEFAULT_LABEL_TYPE))
    recorded = [str(c) for c in (params.get("labels") or {}).get("classes", [])]
    report_type = report_type_for(label_type)
    versions = list((run["lf_versions"] or {}).items())
    folder = run_dir
    if folder is None and run.get("export_dir"):
        saved = Path(run["export_dir"])  # a name under export.dir; stores of older versions hold a path
        folder = saved if saved.is_absolute() else (export_root / saved if export_root else None)
    test_split = str((params.get("data") or {}).get("test_split", "test"))
    has_gold = folder is not None and (Path(folder) / GOLD_FILE).exists()
    reader = RunReader(store, rid, label_type, versions, len(recorded) if recorded else None, folder if has_gold else None)
    view = RunView(run, label_type, recorded, versions, test_split, has_gold, store, reader=reader)
    keys = store.label_key_range(rid)
    if keys is None:
        raise ValueError(f"run {rid} has no labels: they were pruned by `weaksup gc`")
    view.key_range = keys
    if with_data or batch_rows is None or not report_type.reads_in_parts or keys[1] - keys[0] < batch_rows:  # one part: read once
        labels = store.run_labels(rid, LABEL_COLUMNS if with_data else report_type.label_columns, data=with_data,
                                  ids=with_data, probs_width=reader.probs_width if not with_data else None)  # fmt: skip
        ex_keys = labels["ex_key"].to_numpy()
        view.loaded = RunArrays(labels, report_type.read_votes(store, ex_keys, versions), load_gold(reader.gold_dir, ex_keys, label_type))
    else:
        view.batch_rows = batch_rows
    view.classes = report_type.classes(recorded, view)
    return view
