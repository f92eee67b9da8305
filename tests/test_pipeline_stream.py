"""`weaksup run` with `[data] stream = true`: the source is read in batches, and the run's votes,
labels and training set equal those of the same pipeline run in memory, first and incrementally."""

import numpy as np
import polars as pl
import pytest

from weaksup import batches
from weaksup.pipeline import run_pipeline
from weaksup.pipeline.config import load_config
from weaksup.store import VoteStore

LFS = """
import polars as pl
from weaksup import ABSTAIN, labeling_function
from weaksup.vectorized import keywords, in_range

bad = keywords("bad", ["bad", "awful"], 0)
cheap = in_range("cheap", "price", 1, high=2.5)

@labeling_function()
def good(x):
    return 1 if x.stars >= 4 and "good" in x.body else ABSTAIN

@labeling_function()
def meh(x):
    return 0 if x.stars <= 2 else ABSTAIN
"""


def _data(n: int, seed: int = 0, start: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(["good", "bad", "awful", "fine", "ok", "great"])
    body = [" ".join(rng.choice(words, 3)) for _ in range(n)]
    stars = rng.integers(1, 6, n)
    gold = np.where(stars >= 3, 1, 0)
    return pl.DataFrame({
        "ID": np.arange(start, start + n) * 7,
        "BODY": body,
        "stars": stars,
        "price": np.round(rng.random(n) * 5, 2),
        "gold": pl.Series(gold).set(pl.Series(rng.random(n) < 0.3), None),  # gold known on some rows only
        "split": np.where(rng.random(n) < 0.8, "train", "test"),
        "text": [f"t{i}" for i in range(start, start + n)],  # the holdout matches on this column
    })  # fmt: skip


def _pipeline(folder, stream: bool, source: str) -> None:
    (folder / "lfs.py").write_text(LFS)
    pl.DataFrame({"text": ["t3", "t10"], "label": [1, 0]}).write_csv(folder / "holdout.csv")
    (folder / "p.toml").write_text(
        f'name = "s"\n[data]\nsource = "{source}"\nid_column = "ID"\nrename = {{ BODY = "body" }}\n'
        f'gold_column = "gold"\nstream = {str(stream).lower()}\n[holdout]\nsource = "holdout.csv"\n'
        '[labels]\nclasses = ["NEG", "POS"]\n[lfs]\nmodules = ["lfs.py"]\nchunk_size = 64\n'
        '[label_model]\nname = "dawid_skene"\n[trainer]\nname = "none"\n'
    )


def _outputs(folder, run):
    with VoteStore(folder / "weaksup.duckdb", read_only=True) as store:
        votes = store.query(
            "SELECT e.example_id, v.lf_name, v.label FROM votes v JOIN examples e USING (ex_key) "
            "WHERE e.retired_run IS NULL ORDER BY ALL"
        )
        labels = store.query(
            "SELECT e.example_id, e.split, l.probs, l.label, l.n_votes FROM labels l JOIN examples e USING (ex_key) "
            "WHERE l.run_id = ? ORDER BY e.example_id", [run.run_id]
        )  # fmt: skip
    training = pl.read_parquet(run.run_dir / "training_set.parquet")
    return votes, labels, training.sort("example_id")


def test_streamed_run_equals_in_memory_run_first_and_incremental(tmp_path, monkeypatch):
    monkeypatch.setattr(batches, "SOURCE_BATCH_ROWS", 100)  # several batches per source file
    mem, stm = tmp_path / "mem", tmp_path / "stream"
    for folder, stream in ((mem, False), (stm, True)):
        folder.mkdir()
        _data(700).write_parquet(folder / "part-1.parquet")
        _pipeline(folder, stream, "part-*.parquet")
    assert load_config(stm / "p.toml").settings.data.stream
    runs = {}
    for folder in (mem, stm):
        runs[folder] = run_pipeline(folder / "p.toml", progress=False, say=lambda s: None)
    first = {f: _outputs(f, r) for f, r in runs.items()}
    for got, want in zip(first[stm], first[mem]):
        assert got.height > 0
        assert got.equals(want)
    m, s = runs[mem].metrics, runs[stm].metrics
    assert s["held_out_rows"] == m["held_out_rows"] == 2
    for key in ("n_examples", "n_train", "lf_applications", "new_examples", "label_model_accuracy_test"):
        assert s[key] == m[key], key

    # Incremental: a new file, one example changed, one removed, one moved to another split.
    for folder in (mem, stm):
        part = _data(700)
        part = part.with_columns(
            pl.when(pl.col("ID") == 14).then(pl.lit("awful awful")).otherwise(pl.col("BODY")).alias("BODY"),
            pl.when(pl.col("ID") == 21).then(pl.lit("test")).otherwise(pl.col("split")).alias("split"),
        ).filter(pl.col("ID") != 0)
        part.write_parquet(folder / "part-1.parquet")
        _data(150, seed=1, start=700).write_parquet(folder / "part-2.parquet")
        runs[folder] = run_pipeline(folder / "p.toml", progress=False, say=lambda s: None)
    m, s = runs[mem].metrics, runs[stm].metrics
    assert (s["new_examples"], s["changed_examples"], s["retired_examples"]) == (150, 1, 1)
    assert s["lf_applications"] == m["lf_applications"] == 151 * 4
    for got, want in zip(_outputs(stm, runs[stm]), _outputs(mem, runs[mem])):
        assert got.equals(want)
    rerun = run_pipeline(stm / "p.toml", progress=False, say=lambda s: None)
    assert rerun.metrics["unchanged_since_run"] == runs[stm].run_id


def test_streamed_source_repeating_an_id_fails_before_any_change(tmp_path):
    _data(50).vstack(_data(1, seed=3)).write_parquet(tmp_path / "d.parquet")
    _pipeline(tmp_path, True, "d.parquet")
    with pytest.raises(ValueError, match=r"repeats example ids, e\.g\. \['0'\]; ids must be unique"):
        run_pipeline(tmp_path / "p.toml", progress=False, say=lambda s: None)
    with VoteStore(tmp_path / "weaksup.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM examples")["n"][0] == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('id_column = "ID"\n', ""), "data.stream = true needs data.id_column"),
        (lambda t: t.replace('name = "none"', 'name = "tfidf_logreg"'), "data.stream = true needs trainer.name = 'none'"),
        (lambda t: t.replace('source = "d.parquet"', 'source = "d.jsonl"'), "reads Parquet or CSV files"),
        (lambda t: t.replace("stream = true", 'stream = true\nmemory_limit = "lots"'),
         r"p\.toml: data\.memory_limit = 'lots' is not a size like '512MB' or '2GB' \(line 8\)"),
        (lambda t: t.replace("stream = true", 'stream = false\nmemory_limit = "1GB"'),
         "data.memory_limit caps DuckDB in a streamed run: set data.stream = true, or drop data.memory_limit"),
    ],
)
def test_stream_settings_it_cannot_honour_are_refused(tmp_path, edit, message):
    _data(5).write_parquet(tmp_path / "d.parquet")
    _data(5).write_ndjson(tmp_path / "d.jsonl")
    _pipeline(tmp_path, True, "d.parquet")
    (tmp_path / "p.toml").write_text(edit((tmp_path / "p.toml").read_text()))
    with pytest.raises(ValueError, match=message):
        load_config(tmp_path / "p.toml")


def test_a_streamed_run_caps_duckdb_at_data_memory_limit(tmp_path, monkeypatch):
    _data(40).write_parquet(tmp_path / "d.parquet")
    _pipeline(tmp_path, True, "d.parquet")
    caps = []

    real = VoteStore.set_memory_limit

    def capped(store, limit):  # the real cap, and what it was given
        real(store, limit)
        caps.append((limit, store.query("SELECT current_setting('memory_limit') AS m")["m"][0]))

    monkeypatch.setattr(VoteStore, "set_memory_limit", capped)
    run_pipeline(tmp_path / "p.toml", progress=False, say=lambda s: None)
    toml = (tmp_path / "p.toml").read_text()
    (tmp_path / "p.toml").write_text(toml.replace("stream = true", 'stream = true\nmemory_limit = "300MB"'))
    run_pipeline(tmp_path / "p.toml", progress=False, say=lambda s: None, force=True)
    assert [c[0] for c in caps] == ["256MB", "300MB"]  # the default, then the key
    assert [c[1] for c in caps] == ["244.1 MiB", "286.1 MiB"]  # what DuckDB holds to


def test_streamed_run_exports_its_training_set_batch_by_batch_as_the_whole_set(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from weaksup.cli import main
    from weaksup.export import write_table
    from weaksup.pipeline.outputs import training_set

    monkeypatch.setattr(batches, "SOURCE_BATCH_ROWS", 100)
    monkeypatch.setattr(batches, "EXPORT_ROWS", 64)  # the ~330 covered train rows in 6 batches
    mem, stm = tmp_path / "mem", tmp_path / "stream"
    formats = ("parquet", "jsonl", "csv")
    runs = {}
    for folder, stream in ((mem, False), (stm, True)):
        folder.mkdir()
        _data(700).write_parquet(folder / "part-1.parquet")
        _pipeline(folder, stream, "part-*.parquet")
        with open(folder / "p.toml", "a") as toml:
            toml.write(f"[export]\nformats = {list(formats)}\nreport = false\n")
        runs[folder] = run_pipeline(folder / "p.toml", progress=False, say=lambda s: None)
    # The same run's whole training set, built in memory from the streamed store and written whole.
    with VoteStore(stm / "weaksup.duckdb", read_only=True) as store:
        whole = training_set(store, runs[stm].run_id)
    for fmt in formats:
        write_table(whole, tmp_path / f"whole.{fmt}")
    streamed_dir, memory_dir = runs[stm].run_dir, runs[mem].run_dir
    assert pq.ParquetFile(streamed_dir / "training_set.parquet").num_row_groups >= 6  # written in batches
    assert whole.height == runs[stm].metrics["training_examples"] == runs[mem].metrics["training_examples"] > 300
    for fmt in ("jsonl", "csv"):  # appended batch by batch, byte for byte the whole set's file
        got = (streamed_dir / f"training_set.{fmt}").read_bytes()
        assert got == (tmp_path / f"whole.{fmt}").read_bytes(), fmt
        assert got == (memory_dir / f"training_set.{fmt}").read_bytes(), fmt  # and the in-memory run's
    got = pl.read_parquet(streamed_dir / "training_set.parquet")
    assert got.equals(pl.read_parquet(tmp_path / "whole.parquet"))
    assert got.equals(pl.read_parquet(memory_dir / "training_set.parquet"))
    assert list(streamed_dir.glob(".*.tmp")) == []
    # `weaksup export --run N` writes it batch by batch too: the same files as the run's own.
    for fmt in formats:
        out = tmp_path / f"exported.{fmt}"
        args = ["export", str(stm / "weaksup.duckdb"), "--run", str(runs[stm].run_id), "--format", fmt, "--output", str(out)]
        assert main(args) == 0
        if fmt == "parquet":
            assert pq.ParquetFile(out).num_row_groups >= 6 and pl.read_parquet(out).equals(got)
        else:
            assert out.read_bytes() == (streamed_dir / f"training_set.{fmt}").read_bytes(), fmt


FRAGILE = """
import pathlib
from weaksup import ABSTAIN, labeling_function

BROKEN = pathlib.Path(__file__).with_name("broken")  # while it exists, the LF raises on 5-star examples

@labeling_function()
def five_stars(x):
    if x.stars == 5 and BROKEN.exists():
        raise ValueError("the lookup service is down")
    return 1 if x.stars == 5 else ABSTAIN
"""


def test_a_streamed_run_re_applies_failed_examples_from_the_store(tmp_path, monkeypatch):
    """`weaksup run --reapply-failed` takes the same example source as a first apply: a streamed run's
    is the store, and the failed examples' votes then equal those of a run that never failed."""
    monkeypatch.setattr(batches, "SOURCE_BATCH_ROWS", 100)
    runs = {}
    for name, broken in (("fixed", False), ("flaky", True)):
        folder = tmp_path / name
        folder.mkdir()
        _data(500).write_parquet(folder / "part-1.parquet")
        _pipeline(folder, True, "part-*.parquet")
        (folder / "fragile.py").write_text(FRAGILE)
        config = folder / "p.toml"
        config.write_text(config.read_text().replace('modules = ["lfs.py"]', 'modules = ["lfs.py", "fragile.py"]'))
        if broken:
            (folder / "broken").touch()
            first = run_pipeline(config, progress=False, say=lambda s: None)
            with VoteStore(folder / "weaksup.duckdb", read_only=True) as store:
                failed = store.query("SELECT count(*) AS n FROM lf_errors WHERE lf_name = 'five_stars'")["n"][0]
            assert failed > 50 and first.metrics["lf_errors"] == failed
            (folder / "broken").unlink()
        said: list[str] = []
        runs[name] = run_pipeline(config, progress=False, say=said.append, reapply_failed=broken)
    assert f"re-applied LF 'five_stars' to the {failed:,} examples it had failed on: {failed:,} now answered, 0 failed again" in said
    with VoteStore(tmp_path / "flaky" / "weaksup.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM lf_errors")["n"][0] == 0
    for got, want in zip(_outputs(tmp_path / "flaky", runs["flaky"]), _outputs(tmp_path / "fixed", runs["fixed"])):
        assert got.equals(want)


def test_the_old_retry_failed_flag_still_re_applies_and_says_it_is_deprecated(tmp_path, capsys):
    from weaksup.cli import main

    _data(60).write_parquet(tmp_path / "d.parquet")
    _pipeline(tmp_path, True, "d.parquet")
    assert main(["run", str(tmp_path / "p.toml"), "--quiet", "--retry-failed"]) == 0
    assert "--retry-failed is deprecated and goes in the next release; use --reapply-failed" in capsys.readouterr().err
