"""Regression from raters on one scale (issue 20): crowd/emotion, 399 headlines rated 0 to 100 by ten
raters each (shipped in ``data/crowd/emotion``).  The plain mean of the answers is the baseline the
label model must match or beat, in the raters' units, from the Python API and from a pipeline with
``[answers]``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.model import RegressionLabelModel

ROOT = Path(__file__).resolve().parents[1]
EMOTION = ROOT / "data" / "crowd" / "emotion"


@pytest.fixture(scope="module")
def ratings() -> tuple[np.ndarray, np.ndarray]:
    """(n items, m raters) ratings with NaN where a rater did not rate, and the expert truth."""
    answers = pl.read_csv(EMOTION / "answer.csv")
    truth = pl.read_csv(EMOTION / "truth.csv")
    items = sorted(answers["question"].unique().to_list())
    raters = sorted(answers["worker"].unique().to_list())
    X = np.full((len(items), len(raters)), np.nan)
    X[np.searchsorted(items, answers["question"].to_numpy()), np.searchsorted(raters, answers["worker"].to_numpy())] = (
        answers["answer"].to_numpy())  # fmt: skip
    y = np.full(len(items), np.nan)
    y[np.searchsorted(items, truth["question"].to_numpy())] = truth["truth"].to_numpy()
    return X, y


def mean_of_answers_mae(X: np.ndarray, y: np.ndarray) -> float:
    return float(np.nanmean(np.abs(np.nanmean(X, axis=1) - y)))


def test_shared_units_beat_the_mean_of_answers_from_the_api(ratings):
    X, y = ratings
    assert X.shape == (399, 38) and (np.isfinite(X).sum(axis=1) == 10).all()
    baseline = mean_of_answers_mae(X, y)
    shared = RegressionLabelModel(units="shared").fit(X)
    assert shared.units_ == "shared" and shared.y_scale_ > 0
    assert np.ptp(shared.loading_) == 0 and np.ptp(shared.intercept_) == 0  # one scale: only the noise differs
    mae = float(np.mean(np.abs(shared.predict(X) - y)))
    assert mae <= baseline, (mae, baseline)
    assert 0 <= shared.predict(X).min() and shared.predict(X).max() <= 100  # the raters' units
    # The raters' own loadings are too noisy for "auto" to see one scale: standardised y, far off in these units.
    auto = RegressionLabelModel().fit(X)
    assert auto.units_ == "standardised" and np.mean(np.abs(auto.predict(X) - y)) > baseline + 1
    # Noisier raters weigh less: the precision weights follow each rater's residual spread.
    noise = np.sqrt(shared.noise_var_)
    spread = np.array([np.nanstd(X[:, a] - np.nanmean(X, axis=1)) for a in range(X.shape[1])])
    assert np.corrcoef(noise, spread)[0, 1] > 0.8


def test_shared_units_take_no_gold(ratings):
    X, y = ratings
    gold = np.full(len(y), np.nan)
    gold[:50] = y[:50]
    with pytest.raises(ValueError, match="units='shared' puts y in the LFs' own scale"):
        RegressionLabelModel(units="shared").fit(X, y=gold)


def test_an_answers_pipeline_labels_in_the_raters_units(ratings, tmp_path):
    X, y = ratings
    proc = subprocess.run(
        [sys.executable, "-m", "weaksup.cli", "run", str(ROOT / "pipelines" / "crowd_emotion.toml"), "--quiet",
         "--set", f"store='{tmp_path / 's.duckdb'}'", "--set", f"export.dir='{tmp_path / 'exports'}'"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "exports" / "run-0001"
    metrics = json.loads((run_dir / "manifest.json").read_text())["metrics"]
    assert metrics["label_units"] == "shared" and metrics["gold_labels_used"] == 0
    assert metrics["label_model_mae_train"] <= mean_of_answers_mae(X, y)
    assert f"mae {metrics['label_model_mae_train']:.3f}" in proc.stdout
    training = pl.read_parquet(run_dir / "training_set.parquet")
    truth = pl.read_csv(EMOTION / "truth.csv", schema_overrides={"question": pl.String})
    joined = training.join(truth, left_on="example_id", right_on="question")
    assert joined.height == 399
    assert float((joined["value"] - joined["truth"]).abs().mean()) == pytest.approx(metrics["label_model_mae_train"])


def test_units_shared_with_gold_labels_is_refused_in_a_pipeline(tmp_path):
    lfs = tmp_path / "lfs.py"
    lfs.write_text(
        "from weaksup import labeling_function\n"
        + "".join(f'@labeling_function(label_type="regression")\ndef r{i}(x):\n    return float(x.v) + {i}\n' for i in range(3))
    )
    pl.DataFrame({"v": np.arange(20.0), "label": np.arange(20.0)}).write_csv(tmp_path / "d.csv")
    (tmp_path / "p.toml").write_text(
        'name = "p"\nstore = "s.duckdb"\n[data]\nsource = "d.csv"\n[labels]\ntype = "regression"\n'
        '[lfs]\nmodules = ["lfs.py"]\n[label_model]\nparams = { units = "shared" }\n[trainer]\nname = "none"\n'
    )
    proc = subprocess.run([sys.executable, "-m", "weaksup.cli", "run", "p.toml", "--quiet"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode != 0
    assert "label_model.params.units = 'shared' puts y in the LFs' own scale" in proc.stderr
    assert "set regression.gold_labels = 0" in proc.stderr
    fixed = subprocess.run([sys.executable, "-m", "weaksup.cli", "run", "p.toml", "--quiet", "--set", "regression.gold_labels=0"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=600)  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr  # the same LFs run once the two ways of fixing y's units no longer clash
    assert json.loads(next((tmp_path / "exports").glob("run-*/manifest.json")).read_text())["metrics"]["label_units"] == "shared"
