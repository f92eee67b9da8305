import numpy as np
import polars as pl
import pytest

from weaksup.apply import LFApplicationError, apply_lfs, apply_to_store
from weaksup.lf import ABSTAIN, labeling_function
from weaksup.store import VoteStore


def _frame(texts):
    return pl.DataFrame({"example_id": [f"e{i}" for i in range(len(texts))], "text": texts})


@labeling_function()
def has_buy(x):
    return 1 if "buy" in x.text else ABSTAIN


@labeling_function()
def fragile(x):
    if "boom" in x.text:
        raise ZeroDivisionError("boom in text")
    return 0


def test_raising_lf_loses_no_votes_and_its_errors_are_stored(tmp_path):
    df = _frame(["buy now", "boom buy", "nice", "boom"])
    result = apply_lfs([has_buy, fragile], df, cardinality=2, progress=False)
    assert result.votes.to_dense().tolist() == [[1, 0], [1, -1], [-1, 0], [-1, -1]]
    assert result.errors.select("lf_name", "example_id", "error_type").rows() == [
        ("fragile", "e1", "ZeroDivisionError"),
        ("fragile", "e3", "ZeroDivisionError"),
    ]
    assert "boom in text" in result.errors["message"][0]

    with VoteStore(tmp_path / "s.duckdb") as store:
        run = store.start_run("t", {})
        keys = store.sync_examples("d", df, run).ex_keys
        stats = apply_to_store(store, "d", [has_buy, fragile], df, keys, cardinality=2, run_id=run, progress=False)
        assert stats.errors == {"has_buy": 0, "fragile": 2}
        errors = store.query("SELECT lf_name, example_id, error_type, message, run_id FROM lf_errors ORDER BY example_id")
        assert errors.select("lf_name", "example_id", "error_type").rows() == [
            ("fragile", "e1", "ZeroDivisionError"), ("fragile", "e3", "ZeroDivisionError")
        ]
        assert errors["run_id"].to_list() == [run, run]
        stored = store.label_matrix(keys, [(has_buy.name, has_buy.version), (fragile.name, fragile.version)])
        assert stored.to_dense().tolist() == result.votes.to_dense().tolist()


def test_strict_mode_names_the_lf_and_the_example():
    with pytest.raises(LFApplicationError, match=r"LF 'fragile' raised ZeroDivisionError on example 'e1': boom"):
        apply_lfs([fragile], _frame(["ok", "boom"]), cardinality=2, strict=True, progress=False)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2, r"LF 'bad' returned 2, outside the label space on example 'e0'.*0\.\.1 or ABSTAIN"),
        (-2, r"returned -2, outside the label space"),
        ("SPAM", r"returned 'SPAM' of type str, not an int"),
        (1.0, r"returned 1.0 of type float, not an int"),
        (None, r"returned None of type NoneType"),
        (True, r"returned True of type bool"),
    ],
)
def test_values_outside_the_label_space_stop_the_run(value, message):
    @labeling_function(name="bad")
    def bad(x):
        return value

    with pytest.raises(LFApplicationError, match=message):
        apply_lfs([bad], _frame(["a"]), cardinality=2, progress=False)


def test_numpy_ints_are_accepted():
    @labeling_function()
    def np_vote(x):
        return np.int64(1)

    assert apply_lfs([np_vote], _frame(["a"]), cardinality=2, progress=False).votes.to_dense().tolist() == [[1]]


def test_missing_column_is_a_setup_error_even_when_fault_tolerant():
    @labeling_function()
    def reads_title(x):
        return 1 if x.title else ABSTAIN

    with pytest.raises(LFApplicationError, match=r"LF 'reads_title' reads column 'title'.*columns are \['example_id', 'text'\]"):
        apply_lfs([reads_title], _frame(["a"]), cardinality=2, progress=False)


def test_empty_dataset_and_no_lfs_are_errors():
    with pytest.raises(ValueError, match="dataset is empty"):
        apply_lfs([has_buy], _frame([]), cardinality=2, progress=False)
    with pytest.raises(ValueError, match="no labeling functions"):
        apply_lfs([], _frame(["a"]), cardinality=2, progress=False)


def test_store_application_is_incremental(tmp_path):
    calls = []

    @labeling_function(name="counting")
    def counting(x):
        calls.append(x.example_id)
        return 1

    with VoteStore(tmp_path / "s.duckdb") as store:
        df = _frame(["a", "b", "c"])
        keys = store.sync_examples("d", df, store.start_run("t", {})).ex_keys
        apply_to_store(store, "d", [counting], df, keys, cardinality=2, progress=False, chunk_size=2)
        assert sorted(calls) == ["e0", "e1", "e2"]
        calls.clear()
        grown = pl.concat([df.with_columns(pl.when(pl.col("example_id") == "e1").then(pl.lit("B")).otherwise("text").alias("text")), _frame(["x", "y", "z", "new"])[3:]])
        sync = store.sync_examples("d", grown, store.start_run("t", {}))
        assert (sync.new, sync.changed, sync.retired, sync.unchanged) == (1, 1, 0, 2)
        apply_to_store(store, "d", [counting], grown, sync.ex_keys, cardinality=2, progress=False)
        assert sorted(calls) == ["e1", "e3"]  # only the changed and the new example
        assert store.label_matrix(sync.ex_keys, [("counting", counting.version)]).nnz == 4
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == 5  # e1's old vote is kept, not live
