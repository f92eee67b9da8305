"""A source scanned in batches, synced in batches and applied from the store gives the
votes of the in-memory path, with the same incremental behaviour."""

import numpy as np
import polars as pl
import pytest

from weaksup.apply import apply_to_store
from weaksup.data import scan_batches
from weaksup.examples import StoredExamples
from weaksup.lf import ABSTAIN, labeling_function
from weaksup.store import VoteStore
from weaksup.vectorized import column_vote, in_range, keywords


@labeling_function()
def row_stars(x):
    return 1 if x.stars >= 4 and "good" in x.text else ABSTAIN


LFS = [row_stars, keywords("bad", ["bad", "awful"], 0), in_range("price_low", "price", 1, high=2.5)]


def _data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array(["good", "bad", "awful", "fine", "ok", "great"])
    return pl.DataFrame({
        "id": np.arange(n) * 7,
        "text": [" ".join(rng.choice(words, 3)) for _ in range(n)],
        "stars": rng.integers(1, 6, n),
        "price": np.round(rng.random(n) * 5, 2),
    })  # fmt: skip


def _votes(store):
    return store.query(
        "SELECT e.example_id, v.lf_name, v.label, v.value FROM votes v JOIN examples e USING (ex_key) ORDER BY ALL"
    )


def _stream_run(store, path, lfs, batch_rows=128, **kw):
    run = store.runs.start("t", {})
    batches = scan_batches(path, id_column="id", batch_rows=batch_rows, columns=["text", "stars", "price"])
    sync = store.examples.sync_batches("d", (b.drop("id") for b in batches), run)
    schema = {"text": pl.String, "stars": pl.Int64, "price": pl.Float64}
    stats = apply_to_store(store, "d", lfs, StoredExamples(store, "d", schema), cardinality=2, run_id=run,
                           progress=False, chunk_size=batch_rows, **kw)  # fmt: skip
    return sync, stats


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_streamed_application_equals_in_memory(tmp_path, suffix):
    df = _data()
    path = tmp_path / f"data.{suffix}"
    df.write_parquet(path, row_group_size=300) if suffix == "parquet" else df.write_csv(path)
    sizes = [b.height for b in scan_batches(path, id_column="id", batch_rows=128)]
    assert max(sizes) <= 128 and sum(sizes) == 1000
    lfs = [*LFS, column_vote("price", "price")]
    with VoteStore(tmp_path / "mem.duckdb") as mem:
        frame = df.with_columns(pl.col("id").cast(pl.String).alias("example_id")).drop("id")
        keys = mem.examples.sync("d", frame, mem.runs.start("t", {})).ex_keys
        apply_to_store(mem, "d", lfs, frame, keys, cardinality=2, progress=False)
        want = _votes(mem)
    with VoteStore(tmp_path / "stream.duckdb") as store:
        sync, stats = _stream_run(store, path, lfs)
        assert (sync.new, sync.changed, sync.retired, sync.unchanged) == (1000, 0, 0, 0)
        assert stats.applied == {lf.name: 1000 for lf in lfs}
        assert want.height > 500 and _votes(store).equals(want)
        assert len(store.examples.live_keys("d")) == 1000


def test_streamed_runs_are_incremental(tmp_path):
    df = _data()
    df.write_parquet(tmp_path / "a.parquet")
    with VoteStore(tmp_path / "s.duckdb") as store:
        _stream_run(store, tmp_path / "a.parquet", LFS)
        changed = df.slice(1).with_columns(
            pl.when(pl.col("id") == 7).then(pl.lit("awful awful")).otherwise("text").alias("text")
        )
        new = pl.concat([changed, _data(3, seed=1).with_columns(pl.col("id") + 100_000)])
        new.write_parquet(tmp_path / "b.parquet")
        sync, stats = _stream_run(store, tmp_path / "b.parquet", LFS)
        assert (sync.new, sync.changed, sync.retired, sync.unchanged) == (3, 1, 1, 998)
        assert stats.applied == {lf.name: 4 for lf in LFS}  # the changed and the new examples only
        live = store.query(
            "SELECT e.example_id, v.label FROM votes v JOIN examples e USING (ex_key) "
            "WHERE e.retired_run IS NULL AND v.lf_name = 'bad' AND e.example_id = '7'"
        )
        assert live.rows() == [("7", 0)]


def test_streaming_needs_ids_and_unique_ids(tmp_path):
    df = _data(10)
    df.write_parquet(tmp_path / "a.parquet")
    with pytest.raises(ValueError, match=r"needs id_column \(a column of unique ids\)"):
        next(scan_batches(tmp_path / "a.parquet"))
    with pytest.raises(ValueError, match=r"id column 'nope' is not in .*its columns are \['id', 'text'"):
        next(scan_batches(tmp_path / "a.parquet", id_column="nope"))
    with pytest.raises(FileNotFoundError, match="no files match"):
        next(scan_batches(tmp_path / "missing-*.parquet", id_column="id"))
    with pytest.raises(ValueError, match=r"cannot stream .*\.parquet or \.csv"):
        (tmp_path / "a.jsonl").write_text("{}\n")
        next(scan_batches(tmp_path / "a.jsonl", id_column="id"))
    pl.concat([df, df.head(2)]).write_parquet(tmp_path / "dup.parquet")
    with VoteStore(tmp_path / "s.duckdb") as store:
        with pytest.raises(ValueError, match=r"repeats example ids, e.g. \['0', '7'\]"):
            store.examples.sync_batches("d", scan_batches(tmp_path / "dup.parquet", id_column="id"), store.runs.start("t", {}))
        assert store.query("SELECT count(*) AS n FROM examples")["n"][0] == 0  # nothing half-synced


def test_a_lazy_frame_streams_too(tmp_path):
    _data(300).write_parquet(tmp_path / "a.parquet")
    lazy = pl.scan_parquet(tmp_path / "a.parquet").filter(pl.col("stars") > 2)
    got = pl.concat(list(scan_batches(lazy, id_column="id", batch_rows=50)))
    assert got["example_id"].to_list() == lazy.collect()["id"].cast(pl.String).to_list()


def test_memory_limit_is_a_size(tmp_path):

    with VoteStore(tmp_path / "s.duckdb") as store:
        store.set_memory_limit("300MB")
        assert store.query("SELECT current_setting('memory_limit') AS m")["m"][0].startswith("286")  # MiB
        with pytest.raises(ValueError, match=r"memory limit \"1GB'; DROP\" is not a size like '512MB'"):
            store.set_memory_limit("1GB'; DROP")


def test_scanning_holds_about_one_batch_however_slow_the_reader(tmp_path):
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    text = "x" * 1000  # repeated: a small file that decodes to 1 MB per 1,000 rows
    table = pa.table({"id": np.arange(80_000), "text": [text] * 80_000})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=1_000)
    del table
    held, rows = [], 0
    for batch in scan_batches(tmp_path / "a.parquet", id_column="id", batch_rows=1_000):
        time.sleep(0.01)  # a slow consumer (the store staging a batch): a threaded scan reads ahead meanwhile
        held.append(pa.total_allocated_bytes())
        rows += batch.height
    assert rows == 80_000
    assert max(held) < 20_000_000, f"the scan held up to {max(held):,} bytes of 80 MB of batches"
