"""Recorded answers as multi-label votes ([answers]): each worker's answer is a set of labels, the
whole of what they chose (the labels left out are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.pipeline import run_pipeline

CLASSES = ["joy", "anger", "fear"]


def _pipeline(folder: Path) -> Path:
    path = folder / "p.toml"
    path.write_text(
        'name = "ml"\nstore = "s.duckdb"\n[answers]\nsource = "a.csv"\ntruth = "t.csv"\n'
        f'[labels]\ntype = "multilabel"\nclasses = {CLASSES}\n[trainer]\nname = "none"\n[export]\ndir = "exports"\n'
    )
    return path


def test_answers_are_label_sets_and_the_label_model_reads_present_and_absent(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((80, 3)) < [0.5, 0.3, 0.2]
    rows = []
    for i, row in enumerate(truth):
        for w, noise in enumerate([0.05, 0.1, 0.4]):
            seen = row ^ (rng.random(3) < noise)  # a worker flips each label with its own rate
            rows.append((f"i{i}", f"w{w}", ";".join(c for c, s in zip(CLASSES, seen) if s) or "[]"))
    pl.DataFrame(rows, schema=["item", "worker", "answer"], orient="row").write_csv(tmp_path / "a.csv")
    pl.DataFrame({"item": [f"i{i}" for i in range(80)],
                  "truth": ["[" + ", ".join(c for c, s in zip(CLASSES, row) if s) + "]" for row in truth]}).write_csv(tmp_path / "t.csv")  # fmt: skip
    result = run_pipeline(_pipeline(tmp_path), progress=False, say=lambda s: None)
    train = pl.read_parquet(result.run_dir / "training_set.parquet", columns=["example_id", "labels", "n_votes"])
    assert train.height == 80 and (train["n_votes"] == 3).all()  # an empty answer is a vote too: every label absent
    got = np.array([[c in labels for c in CLASSES] for labels in train["labels"].to_list()])
    worst = np.array([[c in a.split(";") for c in CLASSES] for _, w, a in rows if w == "w2"])
    assert (got == truth).all(axis=1).mean() > (worst == truth).all(axis=1).mean()
    assert result.metrics["label_model_subset_accuracy_train"] == pytest.approx((got == truth).all(axis=1).mean())

    (tmp_path / "a.csv").write_text("item,worker,answer\ni1,w1,joy\ni2,w1,joy;calm\n")
    with pytest.raises(ValueError, match=r"'a.csv' line 3 \(item 'i2', worker 'w1'\): answer 'joy;calm' is not a set of "
                                         r"distinct names of labels.classes \['joy', 'anger', 'fear'\] or label ids 0..2"):  # fmt: skip
        run_pipeline(_pipeline(tmp_path), progress=False, say=lambda s: None)
    (tmp_path / "a.csv").write_text("item,worker,answer\ni1,w1,joy;joy\n")
    with pytest.raises(ValueError, match=r"answer 'joy;joy' is not a set of distinct names"):
        run_pipeline(_pipeline(tmp_path), progress=False, say=lambda s: None)
