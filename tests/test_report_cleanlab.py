"""Suspicious labels with the ``cleanlab`` extra: 30 gold labels flipped in youtube's dev set
(its valid split), fixed seed; cleanlab must flag at least half of them.  Skips without the extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.project import ROOT

from weaksup.pipeline import load_config, run_pipeline
from weaksup.report import load_run, suspicious_labels
from weaksup.store import VoteStore

pytest.importorskip("cleanlab")


def test_cleanlab_flags_most_flipped_gold_labels(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "pipelines" / "youtube_spam.toml",
                      [f"export.dir={tmp_path / 'exports'}", "trainer.name=none", "export.report=false"])  # fmt: skip
    run_pipeline(cfg, store_path=tmp_path / "store.duckdb", progress=False, say=lambda s: None)
    with VoteStore(tmp_path / "store.duckdb", read_only=True) as store:
        view = load_run(store.report_reader(), export_root=tmp_path / "exports")
    valid = np.flatnonzero((view.labels["split"] == "valid").to_numpy() & (view.gold >= 0))
    assert len(valid) >= 60
    flipped = np.random.default_rng(0).choice(valid, 30, replace=False)
    view.gold = view.gold.copy()
    view.gold[flipped] = 1 - view.gold[flipped]
    found = suspicious_labels(view, seed=0)
    assert found is not None
    gold_flags = set(found.filter(found["source"] == "gold")["example_id"].to_list())
    caught = gold_flags & set(view.labels["example_id"].gather(flipped).to_list())
    assert len(caught) >= 15, f"cleanlab flagged {len(caught)} of the 30 flipped gold labels"
    # What the file says of a flipped label: the given (flipped) class, and the other one suggested.
    row = found.filter(found["example_id"] == sorted(caught)[0], found["source"] == "gold").row(0, named=True)
    assert row["given"] != row["suggested"] and row["given_prob"] < 0.5
