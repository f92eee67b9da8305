"""Which charts a run's report shows, drawn from the frames of :mod:`weaksup.report.frames`.

:func:`run_charts` returns ``(key, title, caption, svg)`` per chart; the charts of each label
type are drawn by its kind (:mod:`weaksup.report.types`):

* every run: the LF-by-LF agreement heatmap and, across runs, coverage and the label and end
  models' scores;
* categorical: coverage against accuracy per LF, the class distribution of the probabilistic
  labels against gold, and a histogram of label confidence;
* rankings: coverage against Kendall tau distance to gold, each LF's Kendall tau distance to
  the aggregate, and the confidence of the aggregate's pairwise preferences;
* regression: each LF against the aggregate (a sample of points) with its residual spread,
  the distribution of the labels against gold, and the labels' posterior standard deviation.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weaksup.report import svg
from weaksup.report.types import Chart
from weaksup.report.view import RunView


def run_charts(view: RunView, table: pl.DataFrame, agreement: pl.DataFrame, hist: pl.DataFrame, seed: int = 0) -> list[Chart]:
    """The charts of the module docstring for ``view``, from its LF table, agreement and history."""
    charts = view.report_type.charts(view, table, seed)
    charts.append(_agreement(view, agreement))
    charts += _history(hist)
    return charts


def _agreement(view: RunView, agreement: pl.DataFrame) -> Chart:
    """The heatmap of the agreement frame's LFs (:func:`~weaksup.report.frames.lf_agreement`:
    the 60 with the most votes at most, so a crowd run's thousands of workers stay a small SVG)."""
    names = agreement["lf_a"].unique(maintain_order=True).to_list()  # built once: m² tips reading it cost m³
    m = len(names)
    score = agreement["agreement"].fill_null(np.nan).to_numpy().astype(float).reshape(m, m) if m else np.zeros((0, 0))
    overlap = agreement["overlap"].to_numpy().reshape(m, m) if m else np.zeros((0, 0))
    total = len(view.lf_names)
    shown = f" Shown: the {m} LFs with the most votes, of {total:,}." if m < total else ""
    what = view.report_type.agreement_measure
    tips = [[f"{names[i]} × {names[j]}: {overlap[i, j]} examples both voted on"
             + (f", {what} {score[i, j]:.3f}" if np.isfinite(score[i, j]) else "") for j in range(m)] for i in range(m)]  # fmt: skip
    lo = view.report_type.agreement_floor
    chart = svg.heatmap("agreement", names, score, tips, lo, 1.0)
    numbers = ("Each cell shows the " + ("rate in %" if lo >= 0 else "correlation") + "; hover it for the counts."
               if 'class="cell-label"' in chart else "Hover a cell for its value and counts.")  # fmt: skip
    return ("agreement", "LF × LF agreement", f"Where two LFs both vote: {what} (blue) or conflict (red). "
            f"Blank: they never vote on the same example. {numbers}{shown}", chart)  # fmt: skip


def _history(hist: pl.DataFrame) -> list[Chart]:
    runs = hist["run_id"].to_list()
    groups = [("history-coverage", "Coverage over runs", "Share of train examples some LF votes on.", ("train_coverage",)),
              ("history-label-model", "Label model over runs", "The label model's scores on gold, per split.", ("label_model_",)),
              ("history-end-model", "End model over runs", "The end model's scores on the test split.", ("end_model_",))]  # fmt: skip
    out: list[Chart] = []
    for key, title, caption, prefixes in groups:
        cols = [c for c in hist.columns if c.startswith(prefixes)]
        if cols:
            series = {c.removeprefix("label_model_").removeprefix("end_model_"): hist[c].to_list() for c in cols}
            out.append((key, title, caption, svg.lines(runs, series, key, "run", "")))
    return out
