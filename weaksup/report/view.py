"""One run as the report sees it: its labels, its LF versions' votes and the gold it used.

**Gold.**  The store never holds gold (the pipeline splits it off before the store sees the
examples), so each run writes the gold it used into its export folder as ``gold.parquet``
(:func:`save_gold`, keyed by ``ex_key``); :func:`load_run` reads it back from the run's
``export_dir``.  The report of run N then scores against exactly the gold run N saw, even after
the data files changed; a run without the file (older runs, ``gc``-pruned folders) is reported
without gold.

>>> import numpy as np, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = save_gold(folder, np.array([5, 7, 9]), np.array([1, -1, 0]))
>>> load_gold(folder, np.array([9, 5, 8]), "categorical").tolist()
[0, 1, -1]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup.report.types import LabelKind, kind_for
from weaksup.store import VoteStore
from weaksup.store.reports import LABEL_COLUMNS, example_data, example_ids, run_labels, run_record

GOLD_FILE = "gold.parquet"


def save_gold(run_dir: Path, ex_keys: np.ndarray, gold: Any) -> Path:
    """Write the gold a run used (aligned with ``ex_keys``) to ``run_dir/gold.parquet``.

    ``gold``: class ids (-1 unknown), floats (NaN unknown), or per example a mapping item → score."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keys = pl.Series("ex_key", np.asarray(ex_keys, dtype=np.int64))
    if isinstance(gold, np.ndarray) and gold.dtype.kind in "iu":
        column = pl.Series("gold", gold.astype(np.int64)).replace(-1, None)
    elif isinstance(gold, np.ndarray):
        column = pl.Series("gold", gold.astype(float)).fill_nan(None)
    else:
        column = pl.Series("gold", [json.dumps({str(k): float(v) for k, v in g.items()}) for g in gold])
    path = run_dir / GOLD_FILE
    pl.DataFrame([keys, column]).write_parquet(path)
    return path


def load_gold(run_dir: Path | None, ex_keys: np.ndarray, label_type: str) -> Any:
    """The gold of ``run_dir/gold.parquet`` for ``ex_keys`` (None if the file is missing): class
    ids with -1, floats with NaN, or (rankings) a list of mappings item id → score, empty where unknown."""
    path = Path(run_dir) / GOLD_FILE if run_dir else None
    if path is None or not path.exists():
        return None
    keys, saved = np.asarray(ex_keys, dtype=np.int64), pl.read_parquet(path)
    if saved.height == len(keys) and np.array_equal(saved["ex_key"].to_numpy(), keys):
        column = saved["gold"]  # the run's own keys in the same order (a streamed run's): no join
    else:
        column = pl.DataFrame({"ex_key": keys}).join(saved, on="ex_key", how="left", maintain_order="left")["gold"]
    return kind_for(label_type).read_gold(column)


@dataclass
class RunView:
    """What the report reads of one run; build it with :func:`load_run`."""

    run: dict[str, Any]
    """The run's record (``params``, ``metrics``, ``lf_versions``, ``lf_summary`` decoded)."""
    label_type: str
    classes: list[str]
    labels: pl.DataFrame
    """:func:`~weaksup.store.reports.run_labels`: one row per labeled example, with the label
    columns of the run's kind."""
    versions: list[tuple[str, str]]
    votes: Any
    """SparseVotes (categorical), RegressionVotes, or for rankings per LF a dict row → ranking."""
    gold: Any
    """Aligned with ``labels``; None when the run saved none."""
    test_split: str
    store: VoteStore | None = None
    """Where :meth:`data` and :meth:`example_ids` read examples' content and ids when ``labels`` has
    no such column (open while they are asked)."""

    @property
    def kind(self) -> LabelKind:
        """What the report does differently for the run's label type."""
        return kind_for(self.label_type)

    @property
    def lf_names(self) -> list[str]:
        """The run's LFs, in vote-column order."""
        return [v[0] for v in self.versions]

    @property
    def n(self) -> int:
        """How many examples the run labeled."""
        return self.labels.height

    def dev_mask(self) -> np.ndarray:
        """Examples outside the test split: where the report scores LFs on gold (the test split stays unseen)."""
        return (self.labels["split"].fill_null("") != self.test_split).to_numpy()

    def gold_mask(self) -> np.ndarray:
        """Examples with gold."""
        if self.gold is None:
            return np.zeros(self.n, dtype=bool)
        return self.kind.gold_mask(self.gold)

    def data(self, rows: np.ndarray) -> list[str | None]:
        """The content (JSON text) of examples ``rows``: from ``labels``, else read from the store by key."""
        return self._by_row(rows, "data", example_data)

    def example_ids(self, rows: np.ndarray) -> list[str | None]:
        """The ids of examples ``rows``: from ``labels``, else read from the store by key."""
        return self._by_row(rows, "example_id", example_ids)

    def _by_row(self, rows: np.ndarray, column: str, read: Any) -> list[Any]:
        rows = np.asarray(rows, dtype=np.int64)
        if column in self.labels.columns:
            return self.labels[column].gather(rows).to_list()
        if self.store is None:
            raise ValueError(f"this run view was loaded without the examples' {column} and without a store to read it from")
        return read(self.store, self.labels["ex_key"].to_numpy()[rows])

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
    store: VoteStore, run_id: int | None = None, run_dir: Path | None = None, export_root: Path | None = None,
    with_data: bool = True,
) -> RunView:  # fmt: skip
    """Read run ``run_id`` (default: the newest succeeded) from ``store``; gold comes from
    ``run_dir``, by default the run's export folder under ``export_root`` (the pipeline's
    ``export.dir``: the store records each run's folder by name, so without it there is no gold).
    ``with_data=False`` leaves every example's content and id in the store (read by key while
    ``store`` is open, :meth:`RunView.data`, :meth:`RunView.example_ids`), and ``labels`` holds only
    the label columns of the run's kind: what a report of a 10M-example run needs to stay small."""
    run = run_record(store, run_id)
    params = run["params"] or {}
    label_type = str((params.get("labels") or {}).get("type", "categorical"))
    classes = [str(c) for c in (params.get("labels") or {}).get("classes", [])]
    kind = kind_for(label_type)
    columns = kind.label_columns if not with_data else LABEL_COLUMNS
    labels = run_labels(store, int(run["run_id"]), columns, data=with_data, ids=with_data,
                        probs_width=len(classes) if classes and not with_data else None)  # fmt: skip
    versions = list((run["lf_versions"] or {}).items())
    keys = labels["ex_key"].to_numpy()
    votes = kind.read_votes(store, keys, versions)
    classes = kind.classes(classes, votes, labels)
    folder = run_dir
    if folder is None and run.get("export_dir"):
        recorded = Path(run["export_dir"])  # a name under export.dir; stores of older versions hold a path
        folder = recorded if recorded.is_absolute() else (export_root / recorded if export_root else None)
    test_split = str((params.get("data") or {}).get("test_split", "test"))
    gold = load_gold(folder, keys, label_type)
    return RunView(run, label_type, classes, labels, versions, votes, gold, test_split, store)

