import numpy as np
import polars as pl
import pytest

from weaksup.apply import LFApplicationError, apply_lfs
from weaksup.apply import apply_to_store
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
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", df, run).ex_keys
        stats = apply_to_store(store, "d", [has_buy, fragile], df, keys, cardinality=2, run_id=run, progress=False)
        assert stats.errors == {"has_buy": 0, "fragile": 2}
        errors = store.query("SELECT lf_name, example_id, error_type, message, run_id FROM lf_errors ORDER BY example_id")
        assert errors.select("lf_name", "example_id", "error_type").rows() == [
            ("fragile", "e1", "ZeroDivisionError"), ("fragile", "e3", "ZeroDivisionError")
        ]
        assert errors["run_id"].to_list() == [run, run]
        stored = store.votes.label_matrix(keys, [(has_buy.name, has_buy.version), (fragile.name, fragile.version)])
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
        keys = store.examples.sync("d", df, store.runs.start("t", {})).ex_keys
        apply_to_store(store, "d", [counting], df, keys, cardinality=2, progress=False, chunk_size=2)
        assert sorted(calls) == ["e0", "e1", "e2"]
        calls.clear()
        grown = pl.concat([df.with_columns(pl.when(pl.col("example_id") == "e1").then(pl.lit("B")).otherwise("text").alias("text")), _frame(["x", "y", "z", "new"])[3:]])
        sync = store.examples.sync("d", grown, store.runs.start("t", {}))
        assert (sync.new, sync.changed, sync.retired, sync.unchanged) == (1, 1, 0, 2)
        apply_to_store(store, "d", [counting], grown, sync.ex_keys, cardinality=2, progress=False)
        assert sorted(calls) == ["e1", "e3"]  # only the changed and the new example
        assert store.votes.label_matrix(sync.ex_keys, [("counting", counting.version)]).nnz == 4
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == 5  # e1's old vote is kept, not live


def test_ranking_regression_and_metric_votes_are_checked_and_stored(tmp_path):
    @labeling_function(label_type="ranking")
    def by_length(x):
        return sorted(x.items.split(), key=len, reverse=True) if x.items else None

    @labeling_function(label_type="regression")
    def score(x):
        return None if not x.items else float(len(x.items))

    @labeling_function(label_type="metric")
    def point(x):
        return {"xy": [1.5, -2]} if x.items else None

    df = pl.DataFrame({"example_id": ["q1", "q2"], "items": ["a ccc bb", ""]})
    result = apply_lfs([by_length, score, point], df, cardinality=0, progress=False)
    assert result.votes.nnz == 0
    got = result.table.sort("col").select("row", "lf_name", "ranking", "value", "payload").rows()
    assert got == [(0, "by_length", ["ccc", "bb", "a"], None, None), (0, "score", None, 8.0, None),
                   (0, "point", None, None, '{"xy": [1.5, -2]}')]  # fmt: skip
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", df, store.runs.start("t", {})).ex_keys
        apply_to_store(store, "d", [by_length, score, point], df, keys, cardinality=0, progress=False)
        stored = store.query("SELECT lf_name, ranking, value, payload FROM votes ORDER BY lf_name").rows()
        assert stored == [("by_length", ["ccc", "bb", "a"], None, None), ("point", None, None, '{"xy": [1.5, -2]}'),
                          ("score", None, 8.0, None)]  # fmt: skip


@pytest.mark.parametrize(
    ("label_type", "value", "message"),
    [
        ("ranking", ["a", "b", "a"], r"LF 'bad' returned a ranking with duplicate items \['a'\] on example 'e0'"),
        ("ranking", "a b", r"returned 'a b' of type str.*list of distinct item ids"),
        ("regression", float("nan"), r"returned nan on example 'e0'; a regression LF must return a finite number, or None"),
        ("regression", float("inf"), r"returned inf"),
        ("regression", "3.5", r"returned '3.5' of type str"),
        ("metric", object, r"JSON-serialisable"),
    ],
)
def test_bad_typed_votes_name_the_lf_and_example(label_type, value, message):
    @labeling_function(name="bad", label_type=label_type)
    def bad(x):
        return value

    with pytest.raises(LFApplicationError, match=message):
        apply_lfs([bad], _frame(["a"]), cardinality=0, progress=False)


def test_unknown_label_type_is_rejected():
    with pytest.raises(ValueError, match="unknown label_type 'ordinal'; use one of categorical, ranking"):
        labeling_function(label_type="ordinal")(lambda x: 0)


def test_an_lf_that_stops_early_keeps_its_watermark_before_unseen_rows(tmp_path, monkeypatch):
    """A batch function may process only a prefix of a chunk (an LLM budget ran out):
    the rest must be applied by a later run, not skipped."""
    from weaksup.apply.kinds import LF_KINDS, LFKind, LFOutput

    budget = {"left": 3}

    class LimitedKind(LFKind):
        name = "limited"

        def apply_batch(self, lfs, chunk, ctx):
            n = min(budget["left"], chunk.height)
            budget["left"] -= n
            labels = np.full(chunk.height, ABSTAIN, np.int32)
            labels[:n] = 1
            return [LFOutput(labels, processed=n) for _ in lfs]

        def columns_read(self, lfs, frame):
            return {lf.name: [] for lf in lfs}

    class Limited:
        kind, label_type, name, version = "limited", "categorical", "limited", "v1"

    monkeypatch.setitem(LF_KINDS, "limited", LimitedKind())
    df = _frame([str(i) for i in range(5)])
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", df, store.runs.start("t", {})).ex_keys
        lfs = [Limited(), has_buy]
        first = apply_to_store(store, "d", lfs, df, keys, cardinality=2, progress=False, chunk_size=2)
        assert first.applied == {"limited": 3, "has_buy": 5}
        assert store.votes.watermarks("d", [("limited", "v1")]) == [int(keys[2])]
        budget["left"] = 10
        second = apply_to_store(store, "d", lfs, df, keys, cardinality=2, progress=False, chunk_size=2)
        assert second.applied == {"limited": 2, "has_buy": 0}
        assert store.votes.label_matrix(keys, [("limited", "v1")]).to_dense().ravel().tolist() == [1] * 5
