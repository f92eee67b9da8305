"""The breast-cancer example's end model against the same estimator trained on gold (issue 23).

    python benchmarks/breast_cancer.py

1. The choice, on the train split alone: the label model's soft labels (the pipeline's fit: on the
   train votes, no gold) train a HistGradientBoostingClassifier on the 25 columns no LF reads, scored
   by 10 times repeated 5-fold cross-validation against the train split's gold, beside the same
   estimator trained on the folds' gold.  The label model of the shipped pipeline is the better of
   the default (``label_model``) and ``majority_vote`` here; the test split is never looked at.
2. The test figure, once: pipelines/breast_cancer.toml run in a temporary copy with seeds 0, 1 and 2,
   beside HistGradientBoostingClassifier(random_state=0) trained on the train split's gold: on the
   same 25 columns, and on all 30 (a model trained on gold need not leave the LFs' columns out).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from weaksup.apply import apply_lfs  # noqa: E402
from weaksup.end_models.soft_classifier import SoftClassifier  # noqa: E402
from weaksup.model import make_label_model  # noqa: E402
from weaksup.pipeline import load_config, run_pipeline  # noqa: E402
from weaksup.pipeline.sources import load_lf_modules  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["malignant", "benign"]
SEEDS = (0, 1, 2)


def cross_validated(data: pl.DataFrame, features: list[str], reps: int = 10) -> dict[str, np.ndarray]:
    """Per fold of ``reps`` x 5-fold CV on the train split: the accuracy of HGB on the soft labels of
    each candidate label model (covered fold rows), and on the fold's gold."""
    train = data.filter(pl.col("split") == "train")
    gold = train["diagnosis"].replace_strict(CLASSES, [0, 1], return_dtype=pl.Int64).to_numpy()
    frame = train.drop("split", "diagnosis").rename({"id": "example_id"}).with_columns(pl.col("example_id").cast(pl.String))
    votes = apply_lfs(load_lf_modules([ROOT / "labeling_functions/breast_cancer.py"]), frame, cardinality=2, progress=False).votes
    covered = np.bincount(votes.rows, minlength=votes.n) > 0
    soft = {name: make_label_model(name, cardinality=2, seed=0).fit(votes).predict_proba(votes)
            for name in ("label_model", "majority_vote")}  # fmt: skip
    soft["gold"] = np.eye(2)[gold]
    X = train.select(features)
    scores: dict[str, list[float]] = {name: [] for name in soft}
    for rep in range(reps):
        for fit, held in StratifiedKFold(5, shuffle=True, random_state=rep).split(np.zeros(len(gold)), gold):
            for name, probs in soft.items():
                rows = fit if name == "gold" else fit[covered[fit]]
                model = SoftClassifier(HistGradientBoostingClassifier(random_state=0), kinds=dict.fromkeys(features, "number"),
                                       soft_labels="expand", seed=0).fit(X[rows], probs[rows])  # fmt: skip
                scores[name].append(float((model.predict(X[held]) == gold[held]).mean()))
    return {name: np.array(s) for name, s in scores.items()}


def main() -> None:
    load = os.getloadavg()[0]
    data = pl.read_csv(ROOT / "data/breast_cancer/breast_cancer.csv")
    weak = {}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("data/breast_cancer", "labeling_functions", "pipelines"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder, dirs_exist_ok=True)
        for seed in SEEDS:
            config = load_config(Path(tmp) / "pipelines" / "breast_cancer.toml", [f"label_model.seed={seed}"])
            result = run_pipeline(config, say=lambda _: None, progress=False)
            weak[seed] = result.metrics["end_model_accuracy_test"]
        manifest = json.loads((result.run_dir / "manifest.json").read_text())
    features, lm = list(manifest["end_model"]["features"]), manifest["label_model"]["name"]
    cv = cross_validated(data, features)
    print(f"Chosen on train: 10 x 5-fold CV accuracy of HGB on {len(features)} columns (mean, paired SE against gold)")
    print("| trained on | CV accuracy | gap to gold |\n|---|---|---|")
    for name, acc in cv.items():
        gap = cv["gold"] - acc
        shown = "" if name == "gold" else f"{gap.mean():+.4f} (SE {gap.std(ddof=1) / np.sqrt(len(gap)):.4f})"
        print(f"| {name if name == 'gold' else f'soft labels of {name}'} | {acc.mean():.4f} | {shown} |")
    train, test = data.filter(pl.col("split") == "train"), data.filter(pl.col("split") == "test")
    everything = [c for c in data.columns if c not in ("id", "split", "diagnosis")]
    mean = float(np.mean(list(weak.values())))
    print("\nTest, once (171 cases)\n| end model | accuracy | gap to the soft labels' |\n|---|---|---|")
    shown = ", ".join(f"seed {s} {a:.3f}" for s, a in weak.items())
    print(f"| HGB on the soft labels of {lm} (the pipeline), {len(features)} columns no LF reads | {mean:.3f} ({shown}) | |")
    for name, columns in ((f"HGB on gold, the same {len(features)} columns", features), ("HGB on gold, all 30 columns", everything)):
        model = HistGradientBoostingClassifier(random_state=0).fit(train.select(columns).to_numpy(), train["diagnosis"].to_numpy())
        acc = float((model.predict(test.select(columns).to_numpy()) == test["diagnosis"].to_numpy()).mean())
        print(f"| {name} | {acc:.3f} | {acc - mean:+.3f} |")
    print(f"(load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, on 2 shared cores)")


if __name__ == "__main__":
    main()
