"""Which charts a run's report shows, drawn from the frames of :mod:`weaksup.report.frames`.

:func:`run_charts` returns ``(key, title, caption, svg)`` per chart, by label type:

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

import json

import numpy as np
import polars as pl

from weaksup.report import svg
from weaksup.report.view import RunView

Chart = tuple[str, str, str, str]


def run_charts(view: RunView, table: pl.DataFrame, agreement: pl.DataFrame, hist: pl.DataFrame, seed: int = 0) -> list[Chart]:
    """The charts of the module docstring for ``view``, from its LF table, agreement and history."""
    charts: list[Chart] = []
    kind = view.label_type
    if kind == "categorical":
        charts += _categorical(view, table)
    elif kind == "ranking":
        charts += _ranking(view, table)
    else:
        charts += _regression(view, table, seed)
    charts.append(_agreement(view, agreement))
    charts += _history(hist)
    return charts


def _categorical(view: RunView, table: pl.DataFrame) -> list[Chart]:
    has_gold = "emp_acc" in table.columns and table["emp_acc"].drop_nulls().len() > 0
    acc_col = "emp_acc" if has_gold else "learned_acc"
    rows = table.select("lf", "coverage", acc_col).rows()
    points = [(c, a, f"{lf}: coverage {c:.1%}, accuracy {a:.1%}") for lf, c, a in rows if c is not None and a is not None]
    max_cov = max((p[0] for p in points), default=1.0)
    charts: list[Chart] = [(
        "coverage-accuracy", "Coverage vs accuracy",
        ("Empirical accuracy on gold (outside the test split)" if has_gold else "Learned accuracy of the label model")
        + " against the share of examples each LF votes on. Top right is best.",
        svg.scatter("coverage-accuracy", points, "coverage", "accuracy", (0, max(max_cov, 0.05)),
                    (min(0.5, *(p[1] for p in points)) if points else 0.5, 1.0)),
    )]  # fmt: skip
    k = len(view.classes)
    probs = np.asarray(view.labels["probs"].list.to_array(k).to_numpy(), dtype=float) if view.n else np.zeros((0, k))
    covered = view.labels["n_votes"].to_numpy() > 0
    series = {"probabilistic labels": probs[covered].mean(axis=0).tolist() if covered.any() else [0.0] * k}
    gold = view.gold_mask()
    if gold.any():
        series["gold"] = (np.bincount(np.asarray(view.gold)[gold], minlength=k)[:k] / gold.sum()).tolist()
    charts.append(("class-balance", "Class distribution", "Mean class probability over covered examples"
                   + (", against the share of each class in gold." if gold.any() else "."),
                   svg.bars(view.classes, series, name="class-balance", y_label="share")))  # fmt: skip
    conf = view.labels["confidence"].fill_null(np.nan).to_numpy().astype(float)[covered]
    charts.append(("confidence", "Label confidence", "Probability of the most probable class, covered examples. "
                   "Mass near 1/k means the votes barely decide.",
                   svg.histogram({"confidence": conf}, 20, "confidence", "confidence", (1 / max(k, 1), 1.0))))  # fmt: skip
    return charts


def _ranking(view: RunView, table: pl.DataFrame) -> list[Chart]:
    names = table["lf"].to_list()
    to_agg = [v if v is not None else float("nan") for v in table["kt_to_aggregate"].to_list()]
    has_gold = table["kt_to_gold"].drop_nulls().len() > 0
    y = "kt_to_gold" if has_gold else "kt_to_aggregate"
    points = [(c, 1 - d, f"{lf}: coverage {c:.1%}, 1 - Kendall distance {1 - d:.3f}")
              for lf, c, d in table.select("lf", "coverage", y).rows() if c is not None and d is not None]  # fmt: skip
    prefs = []
    for p in view.labels["payload"].to_list():
        matrix = np.asarray(json.loads(p)["preferences"], dtype=float) if p else np.zeros((0, 0))
        iu = np.triu_indices(len(matrix), 1)
        if len(iu[0]):
            prefs.append(float(np.mean(np.maximum(matrix[iu], 1 - matrix[iu]))))
    return [
        ("coverage-accuracy", "Coverage vs agreement", "1 - Kendall tau distance to "
         + ("gold (outside the test split)" if has_gold else "the aggregate") + " against coverage, per LF.",
         svg.scatter("coverage-accuracy", points, "coverage", "1 - Kendall tau distance",
                     (max(0.0, min((p[0] for p in points), default=0.0) - 0.05), 1.0), (0, 1))),
        ("kendall-aggregate", "Kendall tau distance to the aggregate", "Share of item pairs each LF orders "
         "differently from the label model's ranking (0 = same order).",
         svg.bars(names, {"distance to aggregate": to_agg}, name="kendall-aggregate", y_label="Kendall tau distance")),
        ("confidence", "Preference confidence", "Per example, the mean over item pairs of max(P, 1 - P) "
         "from the label model's pairwise preferences.",
         svg.histogram({"confidence": np.array(prefs)}, 20, "confidence", "mean pairwise confidence", (0.5, 1.0))),
    ]  # fmt: skip


def _regression(view: RunView, table: pl.DataFrame, seed: int) -> list[Chart]:
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
        pts = [(float(values[i, a]), float(agg[i]), f"{view.labels['example_id'][int(i)]}: vote {values[i, a]:.3g}, "
                f"label {agg[i]:.3g}") for i in pick]  # fmt: skip
        charts.append((f"lf-vs-aggregate-{a}", f"{lf} vs the aggregate", f"A sample of {len(pick)} of {len(ok)} votes; "
                       f"residual SD after a linear fit: {sd:.3g}.",
                       svg.scatter(f"lf-vs-aggregate-{a}", pts, f"{lf} vote", "aggregate label", labels=False)))  # fmt: skip
    charts.append(("residuals", "Residual spread per LF", "Standard deviation of the aggregate around each LF's "
                   "linear fit: lower means the LF tracks the label closely.",
                   svg.bars(view.lf_names, {"residual SD": resid_sd}, name="residuals", y_label="residual SD")))  # fmt: skip
    series = {"labels": agg}
    if view.gold_mask().any():
        series["gold"] = np.asarray(view.gold, dtype=float)
    charts.append(("class-balance", "Label distribution", "The aggregate labels" + (" against gold." if len(series) > 1
                   else "."), svg.histogram(series, 24, "class-balance", "value")))  # fmt: skip
    sd = np.sqrt(np.maximum(view.labels["variance"].fill_null(np.nan).to_numpy().astype(float), 0))
    charts.append(("confidence", "Label uncertainty", "Posterior standard deviation of each label (lower is surer).",
                   svg.histogram({"posterior SD": sd}, 20, "confidence", "posterior SD")))  # fmt: skip
    return charts


def _agreement(view: RunView, agreement: pl.DataFrame) -> Chart:
    m = len(view.lf_names)
    score = agreement["agreement"].fill_null(np.nan).to_numpy().astype(float).reshape(m, m) if m else np.zeros((0, 0))
    overlap = agreement["overlap"].to_numpy().reshape(m, m) if m else np.zeros((0, 0))
    what = {"categorical": "agree", "regression": "correlation", "ranking": "1 - Kendall distance"}[view.label_type]
    tips = [[f"{view.lf_names[i]} × {view.lf_names[j]}: {overlap[i, j]} examples both voted on"
             + (f", {what} {score[i, j]:.3f}" if np.isfinite(score[i, j]) else "") for j in range(m)] for i in range(m)]  # fmt: skip
    lo = -1.0 if view.label_type == "regression" else 0.0
    return ("agreement", "LF × LF agreement", f"Where two LFs both vote: {what} (blue) or conflict (red). "
            "Blank: they never vote on the same example.",
            svg.heatmap("agreement", view.lf_names, score, tips, lo, 1.0))  # fmt: skip


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
