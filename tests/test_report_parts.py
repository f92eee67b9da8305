"""The report read in parts (a large run's way) against the report of the same run held whole:
a seeded random categorical run in a real DuckDB file, with gold, a test split, uncovered
examples, examples synced but not labeled (gaps in the keys) and a label outside the classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.analysis import lf_counts, lf_summary, summary_frame
from weaksup.report import build_report, buckets, lf_agreement, lf_table, load_run, save_gold
from weaksup.report.buckets import sample_ranks
from weaksup.report.charts import run_charts
from weaksup.report.frames import history
from weaksup.store import VoteStore
from weaksup.votes import SparseVotes

CLASSES = ["A", "B", "C"]
N_SYNCED, M = 400, 6


def random_run(store: VoteStore, run_dir: Path, seed: int = 0) -> int:
    """A succeeded 3-class run over a random ~3/4 of 400 synced examples, 6 LFs of random coverage."""
    rng = np.random.default_rng(seed)
    run = store.runs.start("parts", {"labels": {"type": "categorical", "classes": CLASSES}, "data": {"test_split": "test"}})
    frame = pl.DataFrame({"example_id": [f"e{i}" for i in range(N_SYNCED)], "text": [f"text {i}" for i in range(N_SYNCED)],
                          "split": rng.choice(["train", "valid", "test"], N_SYNCED).tolist()})  # fmt: skip
    keys = np.sort(store.examples.sync("parts", frame, run).ex_keys)
    labeled = np.sort(rng.choice(keys, 300, replace=False))  # gaps: some parts of a few keys are empty
    votes = np.where(rng.random((len(labeled), M)) < rng.uniform(0.1, 0.6, M), rng.integers(0, 3, (len(labeled), M)), -1)
    votes[:5, 0] = 3  # a class beyond the recorded ones
    lfs = [(f"lf{j}", "v1") for j in range(M)]
    store.votes.register_lfs([(n, v, "vectorized", "categorical") for n, v in lfs], run)
    rows, cols = np.nonzero(votes >= 0)
    store.votes.commit("parts", lfs, int(keys.max()), pl.DataFrame({
        "lf_name": [lfs[c][0] for c in cols], "lf_version": [lfs[c][1] for c in cols],
        "ex_key": labeled[rows], "label": votes[rows, cols]}))  # fmt: skip
    probs = rng.dirichlet(np.ones(3), len(labeled))
    store.runs.write_labels(run, pl.DataFrame({"ex_key": labeled, "probs": probs, "label": probs.argmax(axis=1).astype(np.int32),
                                          "confidence": probs.max(axis=1),
                                          "n_votes": (votes >= 0).sum(axis=1).astype(np.int32)}))  # fmt: skip
    store.runs.set_export_dir(run, str(run_dir))
    store.runs.finish(run, "succeeded", metrics={"train_coverage": 0.7}, lf_versions=dict(lfs),
                     lf_summary=[{"lf": n, "learned_acc": 0.6} for n, _ in lfs])  # fmt: skip
    save_gold(run_dir, keys, np.where(rng.random(N_SYNCED) < 0.5, rng.integers(0, 3, N_SYNCED), -1))
    return run


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    with VoteStore(tmp_path / "parts.duckdb") as store:
        random_run(store, tmp_path / "run-1")
    return tmp_path / "parts.duckdb"


@pytest.mark.parametrize("batch_rows", [5, 64, 10_000])
def test_a_run_read_in_parts_reports_what_it_reports_held_whole(store_path: Path, batch_rows: int) -> None:
    with VoteStore(store_path, read_only=True) as store:
        whole = load_run(store.report_reader(), with_data=False)
        parted = load_run(store.report_reader(), with_data=False, batch_rows=batch_rows)
        in_parts = batch_rows < 300  # a run that fits in one part is read once, whole
        assert whole.loaded is not None and (parted.loaded is None) == in_parts
        assert sum(1 for _ in parted.parts()) > 1 or not in_parts  # really read in parts
        assert (parted.n, parted.covered()) == (whole.n, whole.covered()) == (300, int((whole.labels["n_votes"] > 0).sum()))
        assert parted.classes == whole.classes == CLASSES
        want, got = lf_table(store.report_reader(), whole), lf_table(store.report_reader(), parted)
        assert got.equals(want) and want["gold_n"].sum() > 0
        assert lf_agreement(parted).equals(lf_agreement(whole))
        want_b, got_b = buckets(whole, size=8, per_lf=3, seed=3), buckets(parted, size=8, per_lf=3, seed=3)
        assert set(got_b) == set(want_b) == {"uncovered", "most_conflict", "confident_wrong", "lf_disagreements"}
        assert all(got_b[k].equals(want_b[k]) for k in want_b)
        assert all(want_b[k].height > 0 for k in want_b)
        covered = whole.labels["n_votes"].to_numpy() > 0  # the tops are the highest scores, highest first
        dev = whole.dev_mask()  # (outside the test split: buckets never show it)
        for name, score, eligible in (("most_conflict", whole.report_type.conflict(whole), covered & dev),
                                      ("confident_wrong", whole.report_type.wrongness(whole), (whole.report_type.wrongness(whole) > 0) & dev)):
            top = want_b[name]["score"].to_list()
            assert top == sorted(top, reverse=True) and top == sorted(score[eligible], reverse=True)[: len(top)]
        hist = history(store.report_reader(), 1)
        charts = dict((c[0], c[3]) for c in run_charts(whole, want, lf_agreement(whole), hist))
        assert dict((c[0], c[3]) for c in run_charts(parted, got, lf_agreement(parted), hist)) == charts
        assert (parted.loaded is None) == in_parts  # the report's reads left no whole arrays behind


def test_the_report_of_a_run_reads_it_in_parts(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with VoteStore(store_path, read_only=True) as store:
        assert build_report(store, suspicious=False).view.loaded is not None  # 300 examples: one part, read once
        monkeypatch.setattr("weaksup.batches.REPORT_PART_ROWS", 64)
        report = build_report(store, suspicious=False)
        assert report.view.loaded is None  # what it shows was summed and sampled part by part
        whole = load_run(store.report_reader(), with_data=False)
        assert report.lfs.equals(lf_table(store.report_reader(), whole))
        assert report.view.labels.equals(whole.labels)  # asked for, the whole arrays are still there


def test_samples_do_not_depend_on_the_parts_and_follow_the_seed(store_path: Path) -> None:
    with VoteStore(store_path, read_only=True) as store:
        view = load_run(store.report_reader(), with_data=False)
        uncovered = set(view.labels.filter(pl.col("n_votes") == 0)["ex_key"].to_list())
        assert len(uncovered) > 6
        ids = {}
        for seed in (0, 1):
            got = [buckets(load_run(store.report_reader(), with_data=False, batch_rows=b), size=5, per_lf=2, seed=seed) for b in (3, 50)]
            assert got[0]["uncovered"].equals(got[1]["uncovered"])
            ids[seed] = got[0]["uncovered"]["example_id"].to_list()
        all_ids = set(view.example_ids(np.flatnonzero((view.labels["n_votes"] == 0).to_numpy())))
        assert len(ids[0]) == 5 and set(ids[0]) <= all_ids and ids[0] == sorted(ids[0], key=lambda e: int(e[1:]))
        assert ids[0] != ids[1]  # another seed, another sample


def test_sample_ranks_are_a_seeded_function_of_the_key() -> None:
    keys = np.arange(1000, dtype=np.int64)
    assert np.array_equal(sample_ranks(keys, 0)[500:], sample_ranks(keys[500:], 0))
    assert not np.array_equal(sample_ranks(keys, 0), sample_ranks(keys, 1))
    assert not np.array_equal(sample_ranks(keys, 0, 1), sample_ranks(keys, 0, 2))


def test_lf_counts_of_disjoint_examples_add_up_to_the_whole() -> None:
    rng = np.random.default_rng(1)
    L = np.where(rng.random((50, 4)) < 0.5, rng.integers(0, 3, (50, 4)), -1)
    L[:10] = np.where(L[:10] >= 0, np.minimum(L[:10], 1), -1)  # the first part votes fewer classes: narrower counts
    gold = np.where(rng.random(50) < 0.6, rng.integers(0, 3, 50), -1)
    whole = lf_summary(SparseVotes.from_dense(L), gold)
    summed = lf_counts(SparseVotes.from_dense(L[:10]), gold[:10]) + lf_counts(SparseVotes.from_dense(L[10:]), gold[10:])
    assert summary_frame(summed, whole["lf"].to_list()).equals(whole)
