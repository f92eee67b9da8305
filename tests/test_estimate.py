"""``weaksup estimate`` (issue 23): class shares from a run's soft labels and a few gold rows, with the
plug-in, classical and prediction-powered intervals side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_end_models_any import _breast_cancer

from weaksup.estimate import prevalence, regression, share_estimate
from weaksup.pipeline import load_config, run_pipeline


def _with_gold_on(pipeline: Path, n: int, seed: int = 0) -> float:
    """Keep the diagnosis of ``n`` random cases of the pipeline's data (the others unknown); the
    true share of malignant cases."""
    data = pipeline.parent.parent / "data/breast_cancer/breast_cancer.csv"
    frame = pl.read_csv(data)
    keep = np.zeros(frame.height, dtype=bool)
    keep[np.random.default_rng(seed).choice(frame.height, n, replace=False)] = True
    truth = float((frame["diagnosis"] == "malignant").mean())
    frame.with_columns(diagnosis=pl.when(pl.Series(keep)).then(pl.col("diagnosis"))).write_csv(data)
    return truth


def _estimate(pipeline: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weaksup.cli", "estimate", str(pipeline), *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_estimate_prints_plug_in_classical_and_ppi_shares_of_a_run(tmp_path):
    pipeline = _breast_cancer(tmp_path, 'name = "none"')
    truth = _with_gold_on(pipeline, 150)
    run_pipeline(pipeline)
    proc = _estimate(pipeline)
    assert proc.returncode == 0, proc.stderr
    assert "class shares in run 1 (569 examples, 150 with gold; 90% intervals;" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if "malignant" in line)
    classical, ppi = (part.strip() for part in row.split("┆")[-2:])
    low, high = (float(x) for x in ppi.rstrip(" │").split("[")[1].rstrip("]").split(", "))
    c_low, c_high = (float(x) for x in classical.split("[")[1].rstrip("]").split(", "))
    assert low < truth < high and high - low < c_high - c_low  # the soft labels narrow the interval

    by_split = _estimate(pipeline, "--by", "split", "--alpha", "0.05")
    assert by_split.returncode == 0, by_split.stderr
    assert "95% intervals" in by_split.stdout and sum(" train " in x or " test " in x for x in by_split.stdout.splitlines()) == 4
    bad = _estimate(pipeline, "--by", "no_such_column")
    assert bad.returncode == 1 and "--by 'no_such_column' is not an input column of run 1; its columns are [" in bad.stderr


def test_a_run_without_an_end_model_estimates_from_the_label_model_and_says_so(tmp_path):
    pipeline = _breast_cancer(tmp_path, 'name = "none"')
    _with_gold_on(pipeline, 100)
    run_pipeline(pipeline)
    proc = _estimate(pipeline)
    assert proc.returncode == 0, proc.stderr
    assert "note: run 1 has no end model (trainer.name = 'none'): the label model's soft labels predict" in proc.stdout
    assert "predictions: label_model; plug-in: the mean of the label model's soft labels" in proc.stdout
    asked = _estimate(pipeline, "--predictions", "end_model")
    assert asked.returncode == 1 and "run 1 has no end model (trainer.name = 'none'" in asked.stderr
    assert "use --predictions label_model" in asked.stderr


def _plug_in(stdout: str, name: str) -> float:
    row = next(line for line in stdout.splitlines() if f" {name} " in line)
    return float(row.split("┆")[2])


def test_estimate_averages_the_end_models_probabilities_by_default_and_the_label_models_on_request(tmp_path):
    """The end model (the default) and the label model give different plug-ins: each the mean of its
    own predictions on the run's examples (the end model's as `weaksup predict` gives them)."""
    from weaksup.predict import find_model, predict_file

    pipeline = _breast_cancer(tmp_path, 'name = "logreg"')
    truth = _with_gold_on(pipeline, 150)
    run_pipeline(pipeline)
    default, end, label = (_estimate(pipeline, *a) for a in ([], ["--predictions", "end_model"],
                                                             ["--predictions", "label_model"]))  # fmt: skip
    for proc in (default, end, label):
        assert proc.returncode == 0, proc.stderr
        assert "note:" not in proc.stdout
    assert "predictions: end_model; plug-in: the mean of the end model's class probabilities" in default.stdout
    assert default.stdout == end.stdout
    assert "predictions: label_model; plug-in: the mean of the label model's soft labels" in label.stdout

    predicted, _, _ = predict_file(find_model(pipeline), pipeline.parent.parent / "data/breast_cancer/breast_cancer.csv")
    end_mean = float(predicted["prob_malignant"].mean())
    assert _plug_in(end.stdout, "malignant") == pytest.approx(end_mean, abs=5e-4)
    assert abs(_plug_in(label.stdout, "malignant") - end_mean) > 0.005  # the other predictor's mean
    row = next(line for line in end.stdout.splitlines() if " malignant " in line)
    low, high = (float(x) for x in row.split("┆")[-1].rstrip(" │").split("[")[1].rstrip("]").split(", "))
    assert low < truth < high


def test_estimate_without_gold_rows_says_what_it_needs(tmp_path):
    pipeline = _breast_cancer(tmp_path, 'name = "none"')
    pipeline.write_text(pipeline.read_text().replace('gold_column = "diagnosis"\n', ""))
    run_pipeline(pipeline)
    proc = _estimate(pipeline)
    assert proc.returncode == 1
    assert "run 1 has no gold labels: weaksup estimate needs a few examples labeled by hand, drawn at random" in proc.stderr
    regression_pipeline = tmp_path / "r.toml"
    regression_pipeline.write_text((Path(__file__).parents[1] / "pipelines/movies_regression.toml").read_text())
    with pytest.raises(ValueError, match="weaksup estimate estimates class shares; .* labels.type = 'regression'"):
        from weaksup.estimate import run_prevalence

        run_prevalence(None, load_config(Path(__file__).parents[1] / "pipelines/movies_regression.toml"))


def test_ppi_intervals_cover_where_the_plug_in_is_biased():
    """Soft labels that overstate the positive class: the plug-in misses the true share, the PPI
    intervals cover it at about the nominal rate, and are narrower than the gold rows' alone."""
    rng = np.random.default_rng(1)
    n_all, covered, narrower = 3000, 0, 0
    truth = (rng.random(n_all) < 0.25).astype(int)
    p1 = np.clip(0.15 + 0.7 * truth + rng.normal(0, 0.15, n_all), 0, 1)
    draws = 200
    for _ in range(draws):
        gold = np.full(n_all, -1)
        picked = rng.choice(n_all, 100, replace=False)
        gold[picked] = truth[picked]
        row = prevalence(np.c_[1 - p1, p1], gold, ["no", "yes"]).row(1, named=True)
        covered += row["ppi_low"] <= truth.mean() <= row["ppi_high"]
        narrower += row["ppi_high"] - row["ppi_low"] < row["classical_high"] - row["classical_low"]
    assert abs(row["plug_in"] - truth.mean()) > 0.05  # the bias PPI corrects
    assert covered / draws >= 0.85 and narrower / draws >= 0.9
    with pytest.raises(ValueError, match="1 example has gold; an interval needs gold labels on at least 2"):
        prevalence(np.c_[1 - p1, p1], np.r_[0, np.full(n_all - 1, -1)], ["no", "yes"])


def test_a_downstream_regression_gets_classical_and_ppi_coefficients():
    rng = np.random.default_rng(0)
    n_all = 4000
    x = rng.normal(size=n_all)
    X = np.c_[np.ones(n_all), x]
    truth = (rng.random(n_all) < 1 / (1 + np.exp(-(0.5 + 1.5 * x)))).astype(float)
    soft = np.clip(0.8 * truth + 0.1 + rng.normal(0, 0.05, n_all), 0, 1)
    gold = rng.choice(n_all, 300, replace=False)
    rest = np.setdiff1d(np.arange(n_all), gold)
    table = regression(X[gold], truth[gold], soft[gold], X[rest], soft[rest], kind="logistic")
    assert table["coefficient"].to_list() == [0, 1]
    slope = table.row(1, named=True)
    assert slope["ppi_low"] < 1.5 < slope["ppi_high"] and slope["classical_low"] < slope["classical_high"]
    with pytest.raises(ValueError, match="kind is 'probit'; use 'logistic' or 'linear'"):
        regression(X[gold], truth[gold], soft[gold], X[rest], soft[rest], kind="probit")


def test_a_rare_class_with_few_gold_rows_is_covered_where_the_clt_intervals_miss():
    """A class of 2% with 50 gold rows and sharp soft labels that miss part of it: a draw often holds
    none of the class, so the CLT intervals (ppi-python's PPI++ and Wald) shrink to a point and
    miss; the pseudo rows keep both intervals near the nominal 90%."""
    import ppi_py

    rng = np.random.default_rng(3)
    n_all, draws = 3000, 300
    truth = (rng.random(n_all) < 0.02).astype(int)
    p1 = 1 / (1 + np.exp(-(3 * (2 * truth - 1) - 1 + rng.normal(size=n_all))))
    share = truth.mean()
    old = {"ppi": 0, "classical": 0}
    new = {"ppi": 0, "classical": 0}
    for _ in range(draws):
        gold = np.full(n_all, -1)
        picked = rng.choice(n_all, 50, replace=False)
        gold[picked] = truth[picked]
        rest = np.setdiff1d(np.arange(n_all), picked)
        y, f = truth[picked].astype(float), p1[picked]
        low, high = (float(np.ravel(v)[0]) for v in ppi_py.ppi_mean_ci(y, f, p1[rest], alpha=0.1))
        old["ppi"] += low <= share <= high
        low, high = ppi_py.classical_mean_ci(y, alpha=0.1)
        old["classical"] += low <= share <= high
        row = prevalence(np.c_[1 - p1, p1], gold, ["no", "yes"]).row(1, named=True)
        for name in new:
            new[name] += row[f"{name}_low"] <= share <= row[f"{name}_high"]
    assert old["ppi"] / draws < 0.75 and old["classical"] / draws < 0.75
    assert new["ppi"] / draws >= 0.87 and new["classical"] / draws >= 0.87


def test_share_estimate_is_agresti_coull_at_lam_0_and_ppi_python_without_pseudo_rows():
    import ppi_py
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    y = (rng.random(80) < 0.2).astype(float)
    f, rest = rng.random(80) * 0.5 + 0.4 * y, rng.random(2000) * 0.6
    z2 = norm.ppf(0.95) ** 2
    centre = (y.sum() + z2 / 2) / (80 + z2)
    assert np.allclose(share_estimate(y, f, rest, 0.1, lam=0.0), (centre, np.sqrt(centre * (1 - centre) / (80 + z2))))
    point, se = share_estimate(y, f, rest, 0.1, pseudo=0.0)
    low, high = ppi_py.ppi_mean_ci(y, f, rest, alpha=0.1)
    assert np.allclose((point - norm.ppf(0.95) * se, point + norm.ppf(0.95) * se), (low[0], high[0]), atol=1e-4)
    none = share_estimate(np.zeros(50), np.full(50, 0.01), np.full(500, 0.01), 0.1)  # no row of the class
    assert none[1] > 0.01  # an interval, not a point
    flat = np.full(80, 0.3), np.full(2000, 0.3)  # soft labels that say nothing: the classical interval
    assert np.allclose(share_estimate(y, flat[0], flat[1], 0.1), share_estimate(y, f, rest, 0.1, lam=0.0))
