"""A tiny categorical run recorded by hand, like a pipeline run, for the report's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from weaksup.report import save_gold
from weaksup.store import VoteStore

CLASSES = ["NO", "YES"]
# 5 examples × 3 LFs (-1 abstains).  Gold: 1 0 0 1 unknown; example e4 is in the test split.
VOTES = np.array([[1, 1, -1], [0, -1, -1], [1, 0, 0], [-1, -1, -1], [1, -1, 1]])
GOLD = np.array([1, 0, 0, 1, -1])
SPLITS = ["train", "train", "train", "train", "test"]


def make_run(store: VoteStore, run_dir: Path, votes: np.ndarray, versions: dict[str, str],
             labels: np.ndarray, gold: np.ndarray | None = GOLD) -> int:  # fmt: skip
    """One succeeded categorical run with these votes, labels and gold, recorded like a pipeline run."""
    params = {"labels": {"type": "categorical", "classes": CLASSES}, "data": {"test_split": "test"}}
    run = store.runs.start("tiny", params)
    frame = pl.DataFrame({"example_id": [f"e{i}" for i in range(5)], "text": [f"text {i}" for i in range(5)],
                          "split": SPLITS})  # fmt: skip
    keys = store.examples.sync("tiny", frame, run).ex_keys
    lfs = list(versions.items())
    store.votes.register_lfs([(n, v, "row", "categorical") for n, v in lfs], run)
    rows, cols = np.nonzero(votes >= 0)
    store.votes.commit("tiny", lfs, int(keys.max()), pl.DataFrame({
        "lf_name": [lfs[c][0] for c in cols], "lf_version": [lfs[c][1] for c in cols],
        "ex_key": keys[rows], "label": votes[rows, cols]}))  # fmt: skip
    probs = np.where(labels[:, None] == np.arange(2), 0.9, 0.1)
    store.runs.write_labels(run, pl.DataFrame({"ex_key": keys, "probs": probs, "label": labels.astype(np.int32),
                                          "confidence": probs.max(axis=1), "n_votes": (votes >= 0).sum(axis=1).astype(np.int32)}))  # fmt: skip
    store.runs.set_export_dir(run, str(run_dir))
    summary = [{"lf": n, "learned_acc": 0.5 + 0.1 * j} for j, (n, _) in enumerate(lfs)]
    store.runs.finish(run, "succeeded", metrics={"train_coverage": 0.8, "label_model_accuracy_test": 0.5},
                     lf_versions=versions, lf_summary=summary)  # fmt: skip
    if gold is not None:
        save_gold(run_dir, keys, gold)
    return run
