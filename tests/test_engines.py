"""Every engine gives the votes and error records of serial application, keyed by example;
a worker killed mid-run loses no committed vote, and the next run finishes the job."""

import textwrap

import numpy as np
import polars as pl
import pytest

from weaksup.apply import apply_to_store
from weaksup.engines import DaskEngine, ProcessEngine, SerialEngine, make_engine
from weaksup.pipeline import load_lf_modules
from weaksup.store import VoteStore
from support.store_contents import assert_same_contents, store_contents

LFS = '''
import os
import polars as pl
from weaksup import ABSTAIN, labeling_function
from weaksup.vectorized import keywords, vectorized_labeling_function

WORDS = {"buy", "cheap", "now"}

@labeling_function(resources={"words": WORDS})
def salesy(x, words):
    return 1 if words & set(x.text.split()) else ABSTAIN

@labeling_function()
def fragile(x):
    if x.text.endswith("boom"):
        raise ZeroDivisionError(f"boom in {x.example_id}")
    return 0 if len(x.text) < 12 else ABSTAIN

@labeling_function(resources={"flag": FLAG})
def killer(x, flag):
    if x.text == "kill" and os.path.exists(flag):
        os.kill(os.getpid(), 9)  # the worker process dies, as on an OOM kill
    return 1 if "now" in x.text else ABSTAIN

song = keywords("song", ["song", "music"], 0)

@vectorized_labeling_function()
def long_text():
    return pl.when(pl.col("text").str.len_chars() > 20).then(1)
'''


def _data(n: int = 1500) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    words = np.array(["buy", "cheap", "now", "song", "music", "nice", "the", "a", "boom", "video"])
    texts = [" ".join(rng.choice(words, rng.integers(1, 7))) for _ in range(n)]
    texts[n // 2] = "kill"
    return pl.DataFrame({"example_id": [f"x{i:05d}" for i in range(n)], "text": texts})


@pytest.fixture(scope="module")
def lfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lfs")
    flag = folder / "kill-flag"
    module = folder / "engine_lfs.py"
    module.write_text(textwrap.dedent(LFS).replace("FLAG", repr(str(flag))))
    return load_lf_modules([module]), flag


def _run(path, lfs, engine, df, chunk_size=100):
    with VoteStore(path) as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", df, run).ex_keys
        apply_to_store(store, "d", lfs, df, keys, cardinality=2, run_id=run, progress=False, chunk_size=chunk_size,
                       engine=engine)  # fmt: skip
        return store_contents(store)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cache = {}

    def get(lfs):
        if "ref" not in cache:
            cache["ref"] = _run(tmp_path_factory.mktemp("ref") / "s.duckdb", lfs, SerialEngine(), _data())
        return cache["ref"]

    return get


def test_processes_equal_serial_votes_and_errors(tmp_path, lfs, reference):
    lfs, _ = lfs
    want = reference(lfs)
    assert want[0].height > 1000 and want[1].height > 50  # real votes and real error rows to compare
    assert_same_contents(_run(tmp_path / "p.duckdb", lfs, ProcessEngine(workers=2), _data()), want)


def test_dask_local_cluster_equals_serial(tmp_path, lfs, reference):
    pytest.importorskip("distributed", reason="needs the weaksup[dask] extra")
    lfs, _ = lfs
    assert_same_contents(_run(tmp_path / "d.duckdb", lfs, DaskEngine(workers=2), _data(), chunk_size=300), reference(lfs))


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_a_killed_worker_loses_no_committed_vote_and_the_next_run_finishes(tmp_path, lfs, reference, engine):
    if engine == "dask":
        dask = pytest.importorskip("dask", reason="needs the weaksup[dask] extra")
        pytest.importorskip("distributed", reason="needs the weaksup[dask] extra")
        settings = dask.config.set({"distributed.scheduler.allowed-failures": 0})  # fail on the first death
    else:
        settings = None
    lfs, flag = lfs
    want_votes, want_errors, _ = reference(lfs)  # serial, before the flag makes `killer` kill its process
    flag.touch()
    df = _data()
    path = tmp_path / "s.duckdb"
    try:
        with pytest.raises(Exception, match="(?i)killed|terminated abruptly|broken|died"):
            _run(path, lfs, make_engine({"name": engine, "workers": 2}), df)
    finally:
        if settings is not None:
            settings.__exit__(None, None, None)
    with VoteStore(path) as store:
        votes, errors, marks = store_contents(store)
        keys = dict(store.query("SELECT example_id, ex_key FROM examples").iter_rows())
    assert votes.height > 0 and marks.height == len(lfs)
    through = max(marks["applied_through"])
    assert keys["x00750"] > through  # the chunk with the kill was not committed
    # Every committed chunk is whole: its votes equal serial's on the keys it covers.
    covered = pl.col("example_id").replace_strict(keys, return_dtype=pl.Int64) <= through
    assert votes.equals(want_votes.filter(covered))
    assert errors.equals(want_errors.filter(covered))
    flag.unlink()
    got = _run(path, lfs, make_engine({"name": engine, "workers": 2}), df)
    assert got[0].equals(want_votes)
    assert got[1].equals(want_errors)


def test_unknown_engine_and_bad_workers_are_rejected():
    with pytest.raises(ValueError, match=r"engine.name = 'ray' is not an engine; use one of serial, processes, dask, spark"):
        make_engine({"name": "ray"})
    with pytest.raises(ValueError, match="ProcessEngine needs at least 1 worker"):
        ProcessEngine(workers=0)


def test_a_pipeline_file_picks_its_engine(tmp_path, slice_pipeline):
    from weaksup.pipeline import load_config, run_pipeline
    from weaksup.pipeline.config import ConfigError

    quiet = {"progress": False, "say": lambda s: None}
    serial = run_pipeline(load_config(slice_pipeline), store_path=tmp_path / "a.duckdb", **quiet)
    text = slice_pipeline.read_text() + '\n[engine]\nname = "processes"\nworkers = 2\n'
    (tmp_path / "p.toml").write_text(text)
    other = ["export.dir = 'exports-b'"]  # another store's runs go to an export dir of their own
    parallel = run_pipeline(load_config(tmp_path / "p.toml", other), store_path=tmp_path / "b.duckdb", **quiet)
    assert parallel.metrics["lf_applications"] == serial.metrics["lf_applications"] > 0
    with VoteStore(tmp_path / "a.duckdb") as a, VoteStore(tmp_path / "b.duckdb") as b:
        assert store_contents(a)[0].equals(store_contents(b)[0])
    (tmp_path / "bad.toml").write_text(slice_pipeline.read_text() + '\n[engine]\nname = "ray"\n')
    with pytest.raises(ConfigError, match=r"engine.name"):
        load_config(tmp_path / "bad.toml")


def test_strict_mode_stops_in_a_worker_naming_the_lf_and_example(tmp_path, lfs):
    from weaksup.apply import LFApplicationError

    lfs, _ = lfs
    df = _data(300)
    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync("d", df, store.runs.start("t", {})).ex_keys
        with pytest.raises(LFApplicationError, match=r"LF 'fragile' raised ZeroDivisionError on example 'x\d+': boom"):
            apply_to_store(store, "d", lfs, df, keys, cardinality=2, strict=True, progress=False, chunk_size=100,
                           engine=ProcessEngine(workers=2))  # fmt: skip
