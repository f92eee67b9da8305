import duckdb
import numpy as np
import polars as pl
import pytest

from weaksup.store import StoreError, VoteStore
from weaksup.store.schema import SCHEMA_VERSION
from weaksup.votes import SparseVotes


def test_votes_round_trip_through_a_real_duckdb_file(tmp_path):
    rng = np.random.default_rng(0)
    L = np.where(rng.random((500, 6)) < 0.3, rng.integers(0, 3, (500, 6)), -1)
    lfs = [(f"lf{j}", f"v{j}") for j in range(6)]
    path = tmp_path / "votes.duckdb"
    frame = pl.DataFrame({"example_id": [f"x{i}" for i in range(500)], "text": [str(i) for i in range(500)]})
    with VoteStore(path) as store:
        keys = store.examples.sync("d", frame, store.runs.start("t", {})).ex_keys
        sparse = SparseVotes.from_dense(L)
        votes = pl.DataFrame(
            {
                "lf_name": [lfs[c][0] for c in sparse.cols],
                "lf_version": [lfs[c][1] for c in sparse.cols],
                "ex_key": keys[sparse.rows],
                "label": sparse.labels,
                "confidence": rng.random(sparse.nnz),
            }
        )
        store.votes.commit("d", lfs, int(keys.max()), votes)
    with VoteStore(path) as store:  # reopened from disk
        back = store.votes.label_matrix(keys, lfs)
        assert np.array_equal(back.to_dense(), L)
        assert back.lf_names == tuple(name for name, _ in lfs)
        assert store.votes.watermarks("d", lfs) == [int(keys.max())] * 6
        conf = store.query("SELECT confidence FROM votes ORDER BY ex_key, lf_name")["confidence"]
        assert conf.null_count() == 0
        # A different row order reads back the matching rows, in one read or a batch of keys at a time.
        whole = (back.rows, back.cols, back.labels)
        for order in (np.arange(500), np.arange(500)[::-1], rng.permutation(500), np.arange(0, 500, 3)):
            for batch_rows in (1000, 64, 7):
                got = store.votes.label_matrix(keys[order], lfs, batch_rows=batch_rows)
                assert np.array_equal(got.to_dense(), L[order])
                assert np.array_equal(np.lexsort((got.cols, got.rows)), np.arange(got.nnz))  # sorted by row, then column
                assert got.nnz == int((L[order] >= 0).sum())
                if len(order) == 500 and order[0] == 0:
                    assert all(np.array_equal(a, b) for a, b in zip((got.rows, got.cols, got.labels), whole))


def test_ranking_and_real_valued_votes_have_room(tmp_path):
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", pl.DataFrame({"example_id": ["q"], "items": ["a b c"]}), store.runs.start("t", {})).ex_keys
        store.votes.commit(
            "d",
            [("rank_lf", "v1"), ("reg_lf", "v1")],
            int(keys.max()),
            pl.DataFrame(
                {
                    "lf_name": ["rank_lf", "reg_lf"],
                    "lf_version": ["v1", "v1"],
                    "ex_key": [keys[0], keys[0]],
                    "ranking": [["b", "a"], None],
                    "value": [None, 7.5],
                }
            ),
        )
        got = store.query("SELECT lf_name, ranking, value FROM votes ORDER BY lf_name").rows()
        assert got == [("rank_lf", ["b", "a"], None), ("reg_lf", None, 7.5)]


def test_a_file_that_is_not_duckdb_is_refused(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="is not a DuckDB database"):
        VoteStore(path)
    assert path.read_text().startswith("these are my notes")  # untouched


def test_other_schema_versions_are_refused(tmp_path):
    path = tmp_path / "s.duckdb"
    with VoteStore(path):
        pass
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}.*upgrade weaksup"):
        VoteStore(path)


def test_runs_record_status(tmp_path):
    with VoteStore(tmp_path / "s.duckdb") as store:
        dead = store.runs.start("p", {"a": 1})
        live = store.runs.start("p", {})  # the first run's process "died" without finishing
        store.runs.finish(live, "succeeded", metrics={"acc": 0.9})
        runs = {r["run_id"]: r for r in store.runs.all().iter_rows(named=True)}
        assert runs[dead]["status"] == "interrupted"
        assert runs[live]["status"] == "succeeded" and '"acc": 0.9' in runs[live]["metrics"]
        with pytest.raises(ValueError, match="unknown run status"):
            store.runs.finish(live, "done")


def test_uncommitted_chunk_leaves_no_trace(tmp_path):
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", pl.DataFrame({"example_id": ["a"], "t": ["x"]}), store.runs.start("t", {})).ex_keys
        bad = pl.DataFrame({"lf_name": ["lf"], "lf_version": ["v"], "ex_key": [keys[0]], "label": ["not-an-int"]})
        with pytest.raises(Exception):
            store.votes.commit("d", [("lf", "v")], int(keys[0]), bad)
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == 0
        assert store.votes.watermarks("d", [("lf", "v")]) == [0]


def test_a_resync_moves_examples_between_splits_without_new_keys(tmp_path):
    with VoteStore(tmp_path / "s.duckdb") as store:
        run = store.runs.start("p", {})
        first = pl.DataFrame({"example_id": ["a", "b", "c"], "split": ["train", "train", "test"], "x": [1, 2, 3]})
        keys = store.examples.sync("d", first, run).ex_keys
        # a moves to test (same content), b changes content and moves to valid, d is new
        second = pl.DataFrame({"example_id": ["a", "b", "c", "d"], "split": ["test", "valid", "test", "train"],
                               "x": [1, 20, 3, 4]})  # fmt: skip
        got = store.examples.sync("d", second, store.runs.start("p", {}))
        assert (got.new, got.changed, got.retired, got.unchanged) == (1, 1, 0, 2)
        live = store.query(
            "SELECT example_id, ex_key, split FROM examples WHERE retired_run IS NULL ORDER BY example_id"
        )
        assert live["split"].to_list() == ["test", "valid", "test", "train"]
        assert live["ex_key"].to_list() == got.ex_keys.tolist()
        assert got.ex_keys[0] == keys[0] and got.ex_keys[2] == keys[2]  # same content, same key
        assert got.ex_keys[1] > keys.max() and got.ex_keys[3] > got.ex_keys[1]  # new content: new, increasing keys


def _labels_frame(keys: np.ndarray) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet([1.0, 1.0, 1.0], len(keys))
    return pl.DataFrame({"ex_key": keys, "probs": probs, "label": probs.argmax(axis=1).astype(np.int32),
                         "confidence": probs.max(axis=1), "n_votes": rng.integers(0, 4, len(keys)).astype(np.int32)})


def test_labels_written_in_small_transactions_equal_labels_written_in_one(tmp_path):
    frame = pl.DataFrame({"example_id": [f"x{i}" for i in range(25)], "text": ["t"] * 25})
    read = "SELECT ex_key, probs, label, confidence, n_votes FROM labels WHERE run_id = ? ORDER BY ex_key"
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", frame, store.runs.start("t", {})).ex_keys
        labels = _labels_frame(keys)
        whole, small = store.runs.start("t", {}), store.runs.start("t", {})
        store.runs.write_labels(whole, labels)
        store.runs.write_labels(small, labels, batch_rows=4)  # 7 transactions, the last of 1 row
        store.runs.write_labels(small, labels, batch_rows=4)  # rewriting a run's labels replaces them
        assert store.query(read, [small]).equals(store.query(read, [whole]))
        assert store.query(read, [whole]).height == 25


def test_a_runs_labels_read_without_ids_match_the_joined_read_in_key_order(tmp_path):
    frame = pl.DataFrame({"example_id": [f"x{i}" for i in range(30)], "text": ["t"] * 30,
                          "split": ["train", "test", "valid"] * 10})  # fmt: skip
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", frame, store.runs.start("t", {})).ex_keys
        run = store.runs.start("t", {})
        store.runs.write_labels(run, _labels_frame(keys)[np.random.default_rng(2).permutation(30)])  # not in key order
        reader = store.report_reader()
        whole = reader.run_labels(run, ("probs", "label", "confidence"), data=False)
        lean = reader.run_labels(run, ("probs", "label", "confidence"), data=False, ids=False, batch_rows=7)
        assert lean.equals(whole.drop("example_id"))
        assert whole["ex_key"].to_list() == sorted(keys.tolist())
        assert whole["split"].cast(pl.String).to_list() == ["train", "test", "valid"] * 10
    with duckdb.connect(str(tmp_path / "s.duckdb")) as con:
        con.execute("DELETE FROM examples WHERE ex_key = ?", [int(keys[4])])  # a label without its example
    with VoteStore(tmp_path / "s.duckdb") as store:
        reader = store.report_reader()
        assert reader.run_labels(run, ("label",), data=False, ids=False).equals(
            reader.run_labels(run, ("label",), data=False).drop("example_id"))
        assert reader.run_labels(run, ("label",), data=False, ids=False).height == 29
