"""What the LF report asks of a run's label type, and the measures the types share.

The report's steps are the same for every label type (read a run, tabulate its LFs, pick
example buckets, draw charts); what differs is asked of the run's :class:`ReportType`.  The
types are sibling modules of this shape, registered by label type in
:data:`weaksup.report.types.REPORT_TYPES`, like the pipeline's :mod:`weaksup.pipeline.tasks`.
They read a run through :class:`RunData` (what :class:`weaksup.report.view.RunView` offers).

>>> kendall_distance(["a", "b", "c"], ["c", "b", "a"])
1.0
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import polars as pl

from weaksup.evaluation import kendall_tau_distance
from weaksup.store import ReportReader

Chart = tuple[str, str, str, str]
"""One chart of the report: ``(key, title, caption, svg)``."""


class RunData(Protocol):
    """One run as a report type reads it: its examples' labels, votes and gold, aligned by row."""

    run: dict[str, Any]
    """The run's record (``params``, ``metrics``, ``lf_versions``, ``lf_summary`` decoded)."""
    classes: list[str]

    @property
    def labels(self) -> pl.DataFrame:
        """One row per labeled example: ``ex_key``, ``split``, ``n_votes`` and the type's label columns."""
        ...

    @property
    def votes(self) -> Any:
        """The votes, in the type's form (:meth:`ReportType.read_votes`)."""
        ...

    @property
    def gold(self) -> Any:
        """The gold, in the type's form; None when the run saved none."""
        ...

    @property
    def lf_names(self) -> list[str]:
        """The run's LFs, in vote-column order."""
        ...

    @property
    def n(self) -> int:
        """How many examples the run labeled."""
        ...

    def parts(self) -> Iterator[RunData]:
        """The run in parts, each holding its examples."""
        ...

    def dev_mask(self) -> np.ndarray:
        """Examples outside the test split."""
        ...

    def gold_mask(self) -> np.ndarray:
        """Examples with gold."""
        ...

    def example_ids(self, rows: np.ndarray) -> list[str | None]:
        """The ids of examples ``rows``."""
        ...


class ReportType(Protocol):
    """The report's view of one label type: how its votes and gold are read, scored and shown."""

    name: str
    """The label type (``labels.type``)."""
    agreement_measure: str
    """What the LF × LF agreement score is (e.g. ``agree``), for the heatmap's captions."""
    agreement_floor: float
    """The lowest agreement score (the heatmap's colour scale starts there)."""
    suspicious: bool
    """Whether cleanlab's suspicious-label check applies (it needs classes)."""
    label_columns: tuple[str, ...]
    """The columns of the store's labels this type fills and its report reads (beside ``n_votes``)."""
    reads_in_parts: bool
    """Whether its measures are sums and samples over examples, so a large run is read in parts
    (:meth:`~weaksup.report.view.RunView.parts`); else the report reads a run whole."""

    def read_votes(self, store: ReportReader, keys: np.ndarray, versions: Sequence[tuple[str, str]]) -> Any:
        """The votes of the LF ``versions`` on the examples ``keys``, in this type's form."""
        ...

    def classes(self, recorded: list[str], view: RunData) -> list[str]:
        """The run's class names: ``recorded`` (from its config), completed where the type needs it."""
        ...

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Which examples have gold to score against (the gold in its label type's form,
        :meth:`weaksup.label_types.LabelType.read_gold`)."""
        ...

    def lf_stats(self, view: RunData) -> pl.DataFrame:
        """The vote statistics of :func:`~weaksup.report.frames.lf_table`: one row per LF (``lf`` first)."""
        ...

    def votes_per_lf(self, view: RunData) -> np.ndarray:
        """How many examples each LF voted on (the report pairs the LFs with the most)."""
        ...

    def pair_agreement(self, view: RunData, lfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Matrices over the LFs ``lfs`` (column indices) × the same: examples both voted on, and
        their agreement there (NaN where none)."""
        ...

    def conflict(self, view: RunData) -> np.ndarray:
        """Per example, how much its votes disagree (the ``most_conflict`` bucket)."""
        ...

    def wrongness(self, view: RunData) -> np.ndarray:
        """Per example, how confidently its label contradicts gold (0 where right or unknown)."""
        ...

    def disagreeing_rows(self, view: RunData, a: int) -> np.ndarray:
        """The rows where LF ``a`` voted against the final label."""
        ...

    def vote_text(self, view: RunData, rows: np.ndarray) -> list[list[str]]:
        """Per row of ``rows``, ``lf=vote`` for each LF that voted on it."""
        ...

    def shown(self, view: RunData, rows: np.ndarray, labels: pl.DataFrame) -> tuple[list[str], list[str | None]]:
        """The label (from ``labels``, the rows' label records) and gold of ``rows``, as shown in buckets."""
        ...

    def charts(self, view: RunData, table: pl.DataFrame, seed: int) -> list[Chart]:
        """This type's own charts, from the run and its LF table."""
        ...


def kendall_distance(ranking: Sequence[str], reference: Sequence[str]) -> float:
    """Kendall tau distance of ``ranking`` to ``reference`` on their common items (NaN if < 2)."""
    return kendall_tau_distance(ranking, list(reference))


def correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation of ``x`` and ``y`` where both are known; None with fewer than 3 such
    points or a constant side (no correlation to speak of)."""
    ok = ~np.isnan(x) & ~np.isnan(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return None
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def nanmean(values: Sequence[float]) -> float | None:
    """The mean of the known ``values``; None when none is known."""
    arr = np.asarray(values, dtype=float)
    return float(np.nanmean(arr)) if arr.size and (~np.isnan(arr)).any() else None
