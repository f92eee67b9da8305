"""Ranking and real-valued votes: LFs → applier → a real DuckDB store file → RankingVotes / RegressionVotes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from weaksup.apply import apply_lfs
from weaksup.apply import apply_to_store
from weaksup.lf import labeling_function
from weaksup.store import VoteStore
from weaksup.model import RankingLabelModel, RegressionLabelModel


def _queries(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` queries of 3 to 6 items (ids like 'q3_i2'), with a score per item; some scores missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n):
        d = int(rng.integers(3, 7))
        score = rng.normal(size=d).round(3)
        rows.append(
            {
                "example_id": f"q{q}",
                "items": [f"q{q}_i{j}" for j in range(d)],
                "score": [None if rng.random() < 0.2 else float(s) for s in score],
                "size": float(d),
            }
        )
    return pl.DataFrame(rows)


@labeling_function(label_type="ranking")
def by_score(x):
    """Items with a known score, best first: a partial ranking when some are missing."""
    known = sorted((s, i) for i, s in zip(x.items, x.score) if s is not None)
    return [i for _, i in reversed(known)] if len(known) >= 2 else None


@labeling_function(label_type="ranking")
def reversed_ids(x):
    return list(reversed(x.items)) if x.size > 3 else None


@labeling_function(label_type="ranking")
def first_two(x):
    return x.items[:2]


@labeling_function(label_type="regression")
def mean_score(x):
    known = [s for s in x.score if s is not None]
    return float(np.mean(known)) if known else None


@labeling_function(label_type="regression")
def size(x):
    return x.size


@labeling_function(label_type="regression")
def size_times_ten(x):
    return 10 * x.size + 3 if x.size != 4 else None


RANKING_LFS = [by_score, reversed_ids, first_two]
REGRESSION_LFS = [mean_score, size, size_times_ten]


def _apply(path, frame, lfs):
    with VoteStore(path) as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("q", frame, run).ex_keys
        apply_to_store(store, "q", lfs, frame, keys, cardinality=0, run_id=run, progress=False, chunk_size=7)
    return keys


def test_ranking_votes_round_trip_through_a_real_duckdb_file(tmp_path) -> None:
    frame = _queries(40)
    keys = _apply(tmp_path / "s.duckdb", frame, RANKING_LFS)
    memory = apply_lfs(RANKING_LFS, frame, cardinality=0, progress=False).table
    expected = {(r["row"], r["lf_name"]): r["ranking"] for r in memory.iter_rows(named=True)}
    versions = [(lf.name, lf.version) for lf in RANKING_LFS]
    items = frame["items"].to_list()
    with VoteStore(tmp_path / "s.duckdb", read_only=True) as store:  # reopened from disk
        votes = store.votes.read("ranking", keys, versions, items=items, example_ids=frame["example_id"].to_list())
        order = np.arange(40)[::-1]
        flipped = store.votes.read("ranking", keys[order], versions, items=[items[i] for i in order])
    assert votes.lf_names == ("by_score", "reversed_ids", "first_two")
    for i in range(40):
        assert votes.items[i] == tuple(items[i])
        for a, lf in enumerate(RANKING_LFS):
            want = expected.get((i, lf.name))
            assert votes.rankings[i][a] == (None if want is None else tuple(want))
            assert flipped.rankings[39 - i][a] == votes.rankings[i][a]
    # partial rankings and abstains survive: by_score leaves out items without a score
    partial = [i for i in range(40) if votes.rankings[i][0] is not None and len(votes.rankings[i][0]) < len(items[i])]
    assert partial
    assert any(votes.rankings[i][1] is None for i in range(40))  # reversed_ids abstains on 3-item queries
    model = RankingLabelModel().fit(votes)
    assert model.theta_.shape == (3,)


def test_real_valued_votes_round_trip_and_lf_versions_are_kept_apart(tmp_path) -> None:
    frame = _queries(30)
    path = tmp_path / "s.duckdb"
    keys = _apply(path, frame, REGRESSION_LFS)
    versions = [(lf.name, lf.version) for lf in REGRESSION_LFS]
    with VoteStore(path, read_only=True) as store:
        votes = store.votes.read("regression", keys, versions)
    memory = apply_lfs(REGRESSION_LFS, frame, cardinality=0, progress=False).table
    dense = np.full((30, 3), np.nan)
    dense[memory["row"].to_numpy(), memory["col"].to_numpy()] = memory["value"].to_numpy()
    np.testing.assert_array_equal(votes.values, dense)
    assert np.isnan(votes.values[frame["size"].to_numpy() == 4, 2]).all()  # abstains stay NaN

    # A new version of an LF gets its own votes; the old version's votes stay readable.
    @labeling_function(name="size", label_type="regression")
    def size_v2(x):
        return x.size + 100

    with VoteStore(path) as store:
        run = store.runs.start("t", {})
        apply_to_store(store, "q", [size_v2], frame, keys, cardinality=0, run_id=run, progress=False)
        old = store.votes.read("regression", keys, versions)
        new = store.votes.read("regression", keys, [versions[0], ("size", size_v2.version), versions[2]])
    np.testing.assert_array_equal(old.values, votes.values)
    np.testing.assert_array_equal(new.values[:, 1], votes.values[:, 1] + 100)
    model = RegressionLabelModel().fit(new)
    assert model.lf_scale_.shape == (3,)


def test_reading_errors_name_the_lf_and_the_example(tmp_path) -> None:
    frame = _queries(5)
    keys = _apply(tmp_path / "s.duckdb", frame, [by_score, mean_score])
    items = frame["items"].to_list()
    with VoteStore(tmp_path / "s.duckdb") as store:
        with pytest.raises(ValueError, match="LF 'mean_score' version .* votes regression labels, not ranking"):
            store.votes.read("ranking", keys, [("mean_score", mean_score.version)], items=items)
        with pytest.raises(ValueError, match="LF 'by_score' version 'nope' is not in the store"):
            store.votes.read("ranking", keys, [("by_score", "nope")], items=items)
        with pytest.raises(ValueError, match="3 item sets for 5 example keys"):
            store.votes.read("ranking", keys, [("by_score", by_score.version)], items=items[:3])
        # the applier cannot know an example's item set; reading the votes checks it
        shrunk = [its[:-1] for its in items]
        with pytest.raises(ValueError, match=r"LF 'by_score' \(version .*\) ranks item 'q\d_i\d' on example 'q\d', which is not"):
            store.votes.read("ranking", keys, [("by_score", by_score.version)], items=shrunk, example_ids=frame["example_id"].to_list())
