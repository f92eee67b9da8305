"""The report of regression runs: a real value per example, votes as an examples × LFs matrix
(NaN = abstain).

LFs are scored by their correlation with the aggregate and with gold; a vote disagrees with the
final label when it is among the LF's largest 10% residuals of a linear fit to the labels (LFs
may vote on another scale than the label).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from weaksup.label_types.regression import REGRESSION
from weaksup.report import svg
from weaksup.report.types.base import Chart, RunData, correlation
from weaksup.store import ReportReader



class Regression:
    """:class:`~weaksup.report.types.base.ReportType` of ``labels.type = "regression"``."""

    name = REGRESSION.name
    agreement_measure = "correlation"
    agreement_floor = -1.0
    suspicious = False
    reads_in_parts = False  # correlations and linear fits need every example at once; its runs are small
    label_columns = REGRESSION.label_columns

    def read_votes(self, store: ReportReader, keys: np.ndarray, versions: Sequence[tuple[str, str]]) -> Any:
        """The run's RegressionVotes."""
        return store.votes(self.name, keys, versions)

    def classes(self, recorded: list[str], view: RunData) -> list[str]:
        """As recorded (regression runs have none)."""
        return recorded

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Examples with a known gold value."""
        return REGRESSION.gold_mask(gold)

    def lf_stats(self, view: RunData) -> pl.DataFrame:
        """``coverage``, ``corr_to_aggregate``, ``corr_to_gold`` (gold outside the test split)."""
        dev = view.dev_mask() & view.gold_mask()
        values, agg = view.votes.values, view.labels["value"].to_numpy().astype(float)
        gold = np.asarray(view.gold, dtype=float) if view.gold is not None else np.full(view.n, np.nan)
        return pl.DataFrame(
            {
                "lf": view.lf_names,
                "coverage": (~np.isnan(values)).mean(axis=0) if view.n else np.zeros(len(view.lf_names)),
                "corr_to_aggregate": [correlation(values[:, a], agg) for a in range(values.shape[1])],
                "corr_to_gold": [correlation(values[dev, a], gold[dev]) for a in range(values.shape[1])],
            }
        )

    def votes_per_lf(self, view: RunData) -> np.ndarray:
        """Values per LF."""
        return (~np.isnan(view.votes.values)).sum(axis=0).astype(np.int64)

    def pair_agreement(self, view: RunData, lfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pearson correlation where both LFs voted."""
        values, m = view.votes.values[:, lfs], len(lfs)
        seen = ~np.isnan(values)
        overlap = seen.T.astype(float) @ seen.astype(float)
        score = np.array([[correlation(values[:, a], values[:, b]) or np.nan for b in range(m)] for a in range(m)])
        return overlap, score

    def conflict(self, view: RunData) -> np.ndarray:
        """The label's variance."""
        return view.labels["variance"].fill_null(np.nan).to_numpy().astype(float)

    def wrongness(self, view: RunData) -> np.ndarray:
        """Distance to gold in posterior standard deviations."""
        value = view.labels["value"].to_numpy().astype(float)
        sd = np.sqrt(np.maximum(view.labels["variance"].fill_null(np.nan).to_numpy().astype(float), 1e-12))
        z = np.abs(value - np.asarray(view.gold, dtype=float)) / sd
        return np.nan_to_num(z, nan=0.0)

    def disagreeing_rows(self, view: RunData, a: int) -> np.ndarray:
        """Rows of LF ``a``'s largest 10% residuals around its linear fit to the labels."""
        x, y = view.votes.values[:, a], view.labels["value"].to_numpy().astype(float)
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.sum() < 3 or np.std(x[ok]) == 0:
            return np.array([], dtype=np.int64)
        slope, intercept = np.polyfit(x[ok], y[ok], 1)
        resid = np.abs(y - (slope * x + intercept))
        cut = np.nanquantile(resid[ok], 0.9)
        return np.flatnonzero(ok & (resid >= cut) & (resid > 0))

    def vote_text(self, view: RunData, rows: np.ndarray) -> list[list[str]]:
        """``lf=value`` per vote, 4 significant digits."""
        names = view.lf_names
        out: list[list[str]] = [[] for _ in rows]
        where = {int(r): i for i, r in enumerate(rows)}
        for r in rows:
            for a, x in enumerate(view.votes.values[r]):
                if not np.isnan(x):
                    out[where[int(r)]].append(f"{names[a]}={x:.4g}")
        return out

    def shown(self, view: RunData, rows: np.ndarray, labels: pl.DataFrame) -> tuple[list[str], list[str | None]]:
        """Values, 4 significant digits."""
        label = [f"{x:.4g}" if x is not None else "—" for x in labels["value"].to_list()]
        gold = [f"{view.gold[r]:.4g}" if view.gold is not None and not np.isnan(view.gold[r]) else None for r in rows]
        return label, gold

    def charts(self, view: RunData, table: pl.DataFrame, seed: int) -> list[Chart]:
        """Each LF against the aggregate with its residual spread, the labels against gold, their posterior SD."""
        agg = view.labels["value"].to_numpy().astype(float)
        values = view.votes.values
        rng = np.random.default_rng(seed)
        charts: list[Chart] = []
        resid_sd: list[float] = []
        for a, lf in enumerate(view.lf_names):
            ok = np.flatnonzero(~np.isnan(values[:, a]) & ~np.isnan(agg))
            sd = float("nan")
            if len(ok) >= 3 and np.std(values[ok, a]) > 0:
                slope, icpt = np.polyfit(values[ok, a], agg[ok], 1)
                sd = float(np.std(agg[ok] - (slope * values[ok, a] + icpt)))
            resid_sd.append(sd)
            pick = rng.choice(ok, min(400, len(ok)), replace=False) if len(ok) else ok
            pts = [(float(values[i, a]), float(agg[i]), f"{eid}: vote {values[i, a]:.3g}, label {agg[i]:.3g}")
                   for i, eid in zip(pick, view.example_ids(pick))]  # fmt: skip
            charts.append((f"lf-vs-aggregate-{a}", f"{lf} vs the aggregate", f"A sample of {len(pick)} of {len(ok)} "
                           f"votes; residual SD after a linear fit: {sd:.3g}.",
                           svg.scatter(f"lf-vs-aggregate-{a}", pts, f"{lf} vote", "aggregate label", labels=False)))  # fmt: skip
        charts.append(("residuals", "Residual spread per LF", "Standard deviation of the aggregate around each LF's "
                       "linear fit: lower means the LF tracks the label closely.",
                       svg.bars(view.lf_names, {"residual SD": resid_sd}, name="residuals", y_label="residual SD")))  # fmt: skip
        series = {"labels": agg}
        if view.gold_mask().any():
            series["gold"] = np.asarray(view.gold, dtype=float)
        charts.append(("class-balance", "Label distribution", "The aggregate labels"
                       + (" against gold." if len(series) > 1 else "."),
                       svg.histogram(series, 24, "class-balance", "value")))  # fmt: skip
        sd_all = np.sqrt(np.maximum(view.labels["variance"].fill_null(np.nan).to_numpy().astype(float), 0))
        charts.append(("confidence", "Label uncertainty", "Posterior standard deviation of each label (lower is surer).",
                       svg.histogram({"posterior SD": sd_all}, 20, "confidence", "posterior SD")))  # fmt: skip
        return charts
