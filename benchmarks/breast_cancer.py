"""The breast-cancer example's end model against the same estimator trained on gold (issue 23).

    python benchmarks/breast_cancer.py

Runs pipelines/breast_cancer.toml in a temporary copy (six threshold LFs, a
HistGradientBoostingClassifier on the soft labels of the 25 columns no LF reads) and prints its
test accuracy beside HistGradientBoostingClassifier(random_state=0) trained on the train split's
gold: on the same 25 columns, and on all 30 (a model trained on gold need not leave the LFs'
columns out).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import polars as pl  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from weaksup.pipeline import run_pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("data/breast_cancer", "labeling_functions", "pipelines"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder, dirs_exist_ok=True)
        result = run_pipeline(Path(tmp) / "pipelines" / "breast_cancer.toml", say=lambda _: None)
        features = list(json.loads((result.run_dir / "manifest.json").read_text())["end_model"]["features"])
        weak = result.metrics["end_model_accuracy_test"]
    data = pl.read_csv(ROOT / "data/breast_cancer/breast_cancer.csv")
    train, test = data.filter(pl.col("split") == "train"), data.filter(pl.col("split") == "test")
    everything = [c for c in data.columns if c not in ("id", "split", "diagnosis")]
    print("| end model (test accuracy, 171 cases) | accuracy | gap to the soft labels' |")
    print("|---|---|---|")
    print(f"| HGB on the soft labels, {len(features)} columns no LF reads (the pipeline) | {weak:.3f} | |")
    for name, columns in ((f"HGB on gold, the same {len(features)} columns", features), ("HGB on gold, all 30 columns", everything)):
        model = HistGradientBoostingClassifier(random_state=0).fit(train.select(columns).to_numpy(), train["diagnosis"].to_numpy())
        acc = float((model.predict(test.select(columns).to_numpy()) == test["diagnosis"].to_numpy()).mean())
        print(f"| {name} | {acc:.3f} | {acc - weak:+.3f} |")
    print(f"(load average {load:.2f} on 2 shared cores)")


if __name__ == "__main__":
    main()
