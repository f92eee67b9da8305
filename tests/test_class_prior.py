"""The class prior (issue 20): a pipeline key and an API argument, the rows no LF votes on, a warning
when a learned prior is far from the dev split's gold, dev gold choosing the default's structure,
and per-class scores beside accuracy in the run output, manifest and report.

The sms runs use the shipped data (``data/sms``) and the eight keyword LFs a new user might write
(``labeling_functions/sms_new_user.py``): 13% spam, 40% of messages uncovered.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.apply import apply_lfs
from weaksup.data import ID
from weaksup.pipeline.sources import load_lf_modules
from weaksup.model import AutoLabelModel, make_label_model
from weaksup.model.auto import STRUCTURES

ROOT = Path(__file__).resolve().parents[1]
SMS = ROOT / "pipelines" / "sms_new_user.toml"


def weaksup(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weaksup.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def run_sms(tmp_path: Path, *settings: str) -> tuple[subprocess.CompletedProcess, Path]:
    """The shipped sms pipeline, into ``tmp_path``, with no end model and ``settings`` (``--set`` values)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    sets = [f"store='{tmp_path / 's.duckdb'}'", f"export.dir='{tmp_path / 'exports'}'", "trainer.name='none'", *settings]
    proc = weaksup("run", str(SMS), "--quiet", *[a for s in sets for a in ("--set", s)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc, tmp_path / "exports" / "run-0001"


@pytest.fixture(scope="module")
def sms_votes():
    """The new user's votes on sms train, and the gold labels."""
    frame = pl.read_csv(ROOT / "data" / "sms" / "sms.csv").filter(pl.col("split") == "train").rename({"id": ID})
    lfs = load_lf_modules([ROOT / "labeling_functions" / "sms_new_user.py"])
    return apply_lfs(lfs, frame, cardinality=2, progress=False).votes, frame["label"].to_numpy()


def test_the_sms_new_user_case_labels_uncovered_rows_by_the_prior_it_is_told(sms_votes):
    votes, y = sms_votes
    uncovered = np.bincount(votes.rows, minlength=votes.n) == 0
    assert 0.35 < uncovered.mean() < 0.45 and 0.12 < y.mean() < 0.15
    for prior, want in (([0.87, 0.13], 0), ([0.2, 0.8], 1)):  # told, the prior decides every uncovered row
        model = AutoLabelModel(cardinality=2).fit(votes, class_balance=prior)
        assert (model.predict(votes)[uncovered] == want).all()
        np.testing.assert_allclose(model.predict_proba(votes)[uncovered], np.tile(prior, (uncovered.sum(), 1)))
    assert (y[uncovered] == 0).mean() > 0.95  # the true majority class of those rows
    uniform = AutoLabelModel(cardinality=2).fit(votes, class_balance="uniform")
    np.testing.assert_allclose(uniform.class_balance_, [0.5, 0.5])
    learned = AutoLabelModel(cardinality=2).fit(votes)  # learned from the votes: still the majority class here,
    # though barely (the posterior estimate gives ham about 0.52 where the truth is 0.87: hence class_prior = "gold")
    assert learned.class_balance_[0] > 0.5 and (learned.predict(votes)[uncovered] == 0).all()
    with pytest.raises(ValueError, match="class_balance must be proportions, 'uniform' or 'learned'"):
        AutoLabelModel(cardinality=2).fit(votes, class_balance="gold")


def test_the_pipeline_key_sets_the_prior_and_scores_uncovered_rows_apart(tmp_path):
    proc, run_dir = run_sms(tmp_path, "label_model.class_prior=[0.87, 0.13]")
    training = pl.read_parquet(run_dir / "training_set.parquet")
    uncovered = training.filter(pl.col("n_votes") == 0)
    assert uncovered.height > 1500 and (uncovered["label_name"] == "ham").all()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    prior = manifest["label_model"]["class_prior"]
    assert prior["setting"] == [0.87, 0.13] and prior["proportions"] == pytest.approx([0.87, 0.13])
    assert "class prior (given; labels the rows no LF votes on): ham 0.870, spam 0.130" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("label model (label_model), uncovered rows, on train"))
    accuracy_uncovered = float(re.search(r"labeled by the class prior\) (\d\.\d{3})", line).group(1))
    assert accuracy_uncovered == pytest.approx(manifest["metrics"]["label_model_accuracy_uncovered_train"], abs=5e-4)
    assert accuracy_uncovered > 0.95  # the uncovered messages are ham, and so labeled


def test_a_gold_prior_comes_from_the_dev_split_and_a_far_learned_one_is_warned(tmp_path):
    gold_run, gold_dir = run_sms(tmp_path / "gold")  # the shipped file: class_prior = "gold"
    dev = pl.read_csv(ROOT / "data" / "sms" / "sms.csv").filter(pl.col("split") == "valid")["label"].to_numpy()
    want = (np.bincount(dev, minlength=2) + 1) / (len(dev) + 2)
    manifest = json.loads((gold_dir / "manifest.json").read_text())
    assert manifest["label_model"]["class_prior"]["proportions"] == pytest.approx(want.tolist())
    assert manifest["label_model"]["class_prior"]["dev_gold_labels"] == 500 and "warning" not in gold_run.stdout
    # dev gold also chose the structure, by log-loss on the 500 dev messages
    assert manifest["label_model"]["reason"].startswith("least log-loss on 500 dev rows with gold")
    assert set(manifest["label_model"]["selection"]["dev_log_loss"]) == set(STRUCTURES)

    learned_run, _ = run_sms(tmp_path / "learned", "label_model.class_prior='learned'", "data.dev_split='none'")
    assert "warning" not in learned_run.stdout  # no dev gold: nothing to compare with
    wrong, _ = run_sms(tmp_path / "wrong", "label_model.class_prior=[0.3, 0.7]")  # given: no warning either
    assert "warning" not in wrong.stdout

    skewed = tmp_path / "skewed"
    skewed.mkdir()
    lfs = skewed / "lfs.py"  # a spam LF that fires on most messages drags the learned prior toward spam
    lfs.write_text((ROOT / "labeling_functions" / "sms_new_user.py").read_text()
                   + '\nany_letter = regex("any_letter", r"[a-z]", SPAM)\nany_vowel = regex("any_vowel", r"[aeiou]", SPAM)\n')  # fmt: skip
    proc, _ = run_sms(skewed, "label_model.class_prior='learned'", f"lfs.modules=['{lfs}']")
    warning = next(x for x in proc.stdout.splitlines() if x.startswith("warning: the learned class prior"))
    assert "far from the proportions of the 500 gold labels of dev split 'valid'" in warning
    assert "set label_model.class_prior = 'gold'" in warning


def test_bad_class_priors_are_refused_before_any_lf_runs(tmp_path):
    cases = {
        "label_model.class_prior=[0.5, 0.3, 0.2]": "gives 3 proportions for the 2 classes",
        "label_model.class_prior=[0.6, 0.6]": "must sum to 1",
        "label_model.class_prior='sometimes'": "must be learned, uniform, gold or a list of proportions",
        "data.dev_split='test'": "data.dev_split = 'test' is also the test split",
    }
    for setting, message in cases.items():
        proc = weaksup("run", str(SMS), "--quiet", "--set", f"store='{tmp_path / 's.duckdb'}'", "--set", setting, cwd=tmp_path)
        assert proc.returncode != 0 and message in proc.stderr, (setting, proc.stderr)
    proc = weaksup("run", str(SMS), "--quiet", "--set", f"store='{tmp_path / 'g.duckdb'}'", "--set", "data.dev_split='nowhere'",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0 and "label_model.class_prior = 'gold' takes the class proportions" in proc.stderr
    assert "applied LFs" not in proc.stdout  # refused before the LFs ran


def test_dev_gold_chooses_the_structure_of_least_log_loss(sms_votes):
    votes, y = sms_votes
    rng = np.random.default_rng(0)
    dev = np.sort(rng.choice(votes.n, 600, replace=False))
    fit_rows = np.setdiff1d(np.arange(votes.n), dev)
    train, held = votes.select_rows(fit_rows), votes.select_rows(dev)
    model = AutoLabelModel(cardinality=2).fit(train, dev_votes=held, dev_gold=y[dev])
    losses = {}
    for name in STRUCTURES:
        proba = AutoLabelModel(cardinality=2, structure=name).fit(train).model_.predict_proba(held)
        losses[name] = -np.mean(np.log(np.clip(proba[np.arange(len(dev)), y[dev]], 1e-12, None)))
    assert model.chosen_ == min(losses, key=losses.get)
    assert model.selection_["dev_log_loss"] == pytest.approx(losses)
    assert model.selection_["reason"].startswith("least log-loss on 600 dev rows with gold")
    with pytest.raises(ValueError, match="give dev_votes and dev_gold together"):
        AutoLabelModel(cardinality=2).fit(train, dev_votes=held)


def test_per_class_scores_are_in_the_run_output_manifest_and_report(tmp_path):
    proc, run_dir = run_sms(tmp_path)
    metrics = json.loads((run_dir / "manifest.json").read_text())["metrics"]
    per_class = metrics["label_model_per_class_test"]
    assert set(per_class) == {"ham", "spam"} and per_class["spam"]["support"] == 67
    assert all(0 <= per_class[c][m] <= 1 for c in per_class for m in ("precision", "recall", "f1"))
    f1 = [per_class[c]["f1"] for c in ("ham", "spam")]
    assert metrics["label_model_macro_f1_test"] == pytest.approx(np.mean(f1))
    line = next(x for x in proc.stdout.splitlines() if x.startswith("label model (label_model) on test, precision / recall / F1"))
    assert f"spam {per_class['spam']['precision']:.3f} / {per_class['spam']['recall']:.3f} / {per_class['spam']['f1']:.3f}" in line
    assert f"macro f1 {metrics['label_model_macro_f1_test']:.3f}" in proc.stdout
    report = (run_dir / "report.html").read_text()
    assert "label model macro f1 (test)" in report


def test_every_structure_of_the_default_predicts_and_round_trips(sms_votes, tmp_path):
    votes, _ = sms_votes
    for name in STRUCTURES:
        model = AutoLabelModel(cardinality=2, structure=name).fit(votes, class_balance=[0.87, 0.13])
        model.save(tmp_path / f"{name}.npz")
        back = AutoLabelModel.load(tmp_path / f"{name}.npz")
        np.testing.assert_allclose(back.predict_proba(votes), model.predict_proba(votes))
        np.testing.assert_allclose(back.class_balance_, [0.87, 0.13])
    mv = make_label_model("majority_vote", cardinality=2).fit(votes)
    assert mv.class_balance_[0] > 0.5
