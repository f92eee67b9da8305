import polars as pl
import pytest

from weaksup.apply import LFApplicationError, apply_lfs
from weaksup.apply import apply_to_store
from weaksup.lf import ABSTAIN, labeling_function
from weaksup.store import VoteStore
from weaksup.vectorized import (
    column_vote,
    in_range,
    keywords,
    lookup,
    member_of,
    regex,
    vectorized_labeling_function,
)

TEXTS = ["Subscribe to my channel", "nice song", "SUBSCRIBED already", "my song, subscribe", ""]


def _frame(**cols):
    n = len(next(iter(cols.values())))
    return pl.DataFrame({"example_id": [f"e{i}" for i in range(n)], **cols})


def _votes(lf, frame, k=2):
    return apply_lfs([lf], frame, cardinality=k, progress=False).votes.to_dense()[:, 0].tolist()


def test_keywords_any_all_case_and_word_boundaries():
    df = _frame(text=TEXTS)
    assert _votes(keywords("k", ["subscribe", "nice"], 1), df) == [1, 1, -1, 1, -1]
    assert _votes(keywords("k", ["subscribe"], 1, whole_words=False), df) == [1, -1, 1, 1, -1]
    assert _votes(keywords("k", ["subscribe"], 1, case_sensitive=True), df) == [-1, -1, -1, 1, -1]
    assert _votes(keywords("k", ["my", "subscribe"], 0, mode="all"), df) == [0, -1, -1, 0, -1]
    assert _votes(keywords("k", ["a.b"], 1), _frame(text=["a.b", "axb"])) == [1, -1]  # words are literal


def test_regex_numeric_ranges_sets_and_lookups():
    import re

    df = _frame(text=TEXTS, stars=[1, 5, 3, None, 4], country=["fr", "us", "de", "us", None])
    assert _votes(regex("r", r"\bsong\b", 0), df) == [-1, 0, -1, 0, -1]
    assert _votes(regex("r", re.compile(r"subscribe", re.I), 1), df) == [1, -1, 1, 1, -1]
    assert _votes(in_range("hi", "stars", 1, low=4), df) == [-1, 1, -1, -1, 1]
    assert _votes(in_range("mid", "stars", 0, low=1, high=4, closed="none"), df) == [-1, -1, 0, -1, -1]
    assert _votes(member_of("m", "country", {"us", "de"}, 1), df) == [-1, 1, 1, 1, -1]
    assert _votes(lookup("l", "country", {"fr": 0, "us": 1}), df) == [0, 1, -1, 1, -1]


def test_decorated_expressions_and_frame_functions():
    @vectorized_labeling_function(resources={"limit": 10})
    def long_text(limit):
        return pl.when(pl.col("text").str.len_chars() > limit).then(1)

    @vectorized_labeling_function(resources={"limit": 10})
    def short_text(frame, limit):
        return pl.Series([0 if len(t) <= limit and t else None for t in frame["text"]], dtype=pl.Int8)

    df = _frame(text=TEXTS)
    assert _votes(long_text, df) == [1, -1, 1, 1, -1]
    assert _votes(short_text, df) == [-1, 0, -1, -1, -1]
    assert short_text.kind == long_text.kind == "vectorized"


def test_regression_and_ranking_votes_are_stored(tmp_path):
    df = _frame(price=[1.5, None, 3.0], order=[["b", "a"], None, ["c"]])
    lfs = [column_vote("price", "price"), column_vote("order", "order", label_type="ranking")]
    result = apply_lfs(lfs, df, cardinality=0, progress=False)
    assert result.table.sort("row", "col").select("row", "lf_name", "value", "ranking").rows() == [
        (0, "price", 1.5, None), (0, "order", None, ["b", "a"]), (2, "price", 3.0, None), (2, "order", None, ["c"]),
    ]  # fmt: skip
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", df, store.runs.start("t", {})).ex_keys
        apply_to_store(store, "d", lfs, df, keys, cardinality=0, progress=False)
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == 4


def test_version_covers_the_expression_so_an_edited_list_reapplies_that_lf_alone(tmp_path):
    before = [keywords("promo", ["subscribe"], 1), regex("song", r"\bsong\b", 0)]
    after = [keywords("promo", ["subscribe", "channel"], 1), regex("song", r"\bsong\b", 0)]
    assert keywords("promo", ["subscribe"], 1).version == before[0].version  # deterministic
    assert after[0].version != before[0].version and after[1].version == before[1].version
    assert member_of("m", "c", {"a", "b"}, 1).version == member_of("m", "c", ["b", "a"], 1).version
    df = _frame(text=TEXTS)
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", df, store.runs.start("t", {})).ex_keys
        first = apply_to_store(store, "d", before, df, keys, cardinality=2, progress=False)
        second = apply_to_store(store, "d", after, df, keys, cardinality=2, progress=False)
        assert first.applied == {"promo": 5, "song": 5}
        assert second.applied == {"promo": 5, "song": 0}
        got = store.votes.label_matrix(keys, [(lf.name, lf.version) for lf in after]).to_dense().tolist()
        assert got == [[1, -1], [-1, 0], [-1, -1], [1, 0], [-1, -1]]


def test_row_and_vectorized_lfs_mix_in_one_set():
    @labeling_function()
    def row_song(x):
        return 0 if "song" in x.text else ABSTAIN

    df = _frame(text=TEXTS)
    votes = apply_lfs([row_song, keywords("sub", ["subscribe"], 1)], df, cardinality=2, progress=False).votes
    assert votes.to_dense().tolist() == [[-1, 1], [0, -1], [-1, -1], [0, 1], [-1, -1]]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (pl.when(pl.col("text") == "nice song").then(2), r"LF 'bad' returned 2, outside the label space on example 'e1'; .*0\.\.1"),
        (pl.lit(-3), r"returned -3, outside the label space on example 'e0'"),
        (pl.col("text").str.contains("s"), r"LF 'bad' returned a column of dtype Boolean; .*pl.when\(cond\).then\(1\)"),
        (pl.lit(1.0), r"dtype Float64"),
        (pl.col("title").str.contains("x"), r"LF 'bad' reads a column the dataset does not have.*title.*columns are \['example_id', 'text'\]"),
        (pl.col("text").cast(pl.Int32), r"LF 'bad' failed on the chunk starting at example 'e0'"),
    ],
)
def test_bad_outputs_stop_the_run_naming_the_lf(expr, message):
    from weaksup.vectorized import VectorizedLabelingFunction

    with pytest.raises(LFApplicationError, match=message):
        apply_lfs([VectorizedLabelingFunction("bad", expr=expr)], _frame(text=TEXTS), cardinality=2, progress=False)


@pytest.mark.parametrize(
    ("lf", "message"),
    [
        (column_vote("bad", "text"), r"LF 'bad' returned a column of dtype String; a regression LF yields finite numbers"),
        (column_vote("bad", "x"), r"LF 'bad' returned inf on example 'e1'"),
        (column_vote("bad", "lists", label_type="ranking"), r"returned a ranking with duplicate items \['a', 'a'\] on example 'e0'"),
    ],
)
def test_bad_typed_votes_name_the_lf_and_example(lf, message):
    df = _frame(text=["a", "b"], x=[1.0, float("inf")], lists=[["a", "a"], ["b"]])
    with pytest.raises(LFApplicationError, match=message):
        apply_lfs([lf], df, cardinality=0, progress=False)


def test_bad_definitions_are_rejected_up_front():
    with pytest.raises(TypeError, match=r"vectorized LF 'oops' must produce a polars expression, got int"):
        vectorized_labeling_function(name="oops")(lambda: 1)
    with pytest.raises(ValueError, match=r"label_type 'metric' is not supported"):
        column_vote("m", "x", label_type="metric")
    with pytest.raises(ValueError, match=r"LF 'k': words must be a non-empty list"):
        keywords("k", [], 1)
    with pytest.raises(ValueError, match=r"LF 'r': pattern '\(' is not a valid \(Rust\) regex"):
        regex("r", "(", 1)
    with pytest.raises(ValueError, match=r"LF 'l': label must be a class id"):
        lookup("l", "c", {"a": "SPAM"})
    with pytest.raises(LFApplicationError, match=r"LF 'f' returned list; a frame function must return a polars Series"):
        apply_lfs([vectorized_labeling_function(name="f")(lambda frame: [1])], _frame(text=["a"]), cardinality=2,
                  progress=False)
    with pytest.raises(LFApplicationError, match=r"LF 'f' returned 1 values for a chunk of 2 examples"):
        apply_lfs([vectorized_labeling_function(name="f")(lambda frame: pl.Series([1]))], _frame(text=["a", "b"]),
                  cardinality=2, progress=False)


def test_unset_chunk_size_commits_vectorized_lfs_in_big_chunks_and_row_lfs_in_100k(tmp_path):
    from weaksup.apply import apply_to_store
    from weaksup.lf import labeling_function
    from weaksup.store import VoteStore
    from weaksup.vectorized import keywords

    n = 250_000
    frame = pl.DataFrame({"example_id": [f"x{i}" for i in range(n)], "text": ["buy now", "nice song"] * (n // 2)})
    fast = keywords("fast", ["buy"], 1)

    @labeling_function()
    def slow(x):
        return 0 if "song" in x.text else -1

    def commits(lfs, chunk_size):
        seen = []
        with VoteStore(tmp_path / f"{len(list(tmp_path.iterdir()))}.duckdb") as store:
            keys = store.examples.sync("d", frame, store.runs.start("t", {})).ex_keys
            store.votes.on_commit = lambda versions, key: seen.append(key)
            apply_to_store(store, "d", lfs, frame, keys, cardinality=2, progress=False, chunk_size=chunk_size)
            assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == n // 2 * len(lfs)
        return len(seen)

    assert commits([fast], None) == 1  # vectorized alone: one chunk up to a million rows
    assert commits([fast, slow], None) == 3  # with a row-wise LF: 100,000-row chunks
    assert commits([fast], 50_000) == 5  # a chunk size given is a chunk size kept
