"""The Spark engine on a real local Spark (``local[2]``, loopback only) gives the votes and error
records of serial application, for row-wise and vectorized LFs of several label types; a rerun
adds nothing and new examples are all a later run applies.  The README's Spark recipe runs as
written.  Skipped, saying why, where pyspark (``weaksup[spark]``) or a Java runtime is missing."""

import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.apply import LFApplicationError
from weaksup.apply import apply_to_store
from weaksup.engines import SerialEngine, SparkEngine, make_engine
from weaksup.engines.spark import local_spark
from weaksup.pipeline import load_lf_modules
from weaksup.store import VoteStore
from support.store_contents import assert_same_contents, store_contents

# pyspark checks pandas' version on its Arrow paths too, and warns about pandas 3; the engine's
# path (createDataFrame from Arrow, mapInArrow, toArrow) builds no pandas object.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

README = Path(__file__).resolve().parents[1] / "README.md"

LFS = '''
import polars as pl
from weaksup import ABSTAIN, labeling_function
from weaksup.vectorized import column_vote, keywords, vectorized_labeling_function

@labeling_function(resources={"words": {"buy", "cheap", "now"}})
def salesy(x, words):
    return 1 if words & set(x.text.split()) else ABSTAIN

@labeling_function()
def fragile(x):
    if x.text.endswith("boom"):
        raise ZeroDivisionError(f"boom in {x.example_id}")
    return 0 if len(x.text) < 12 else ABSTAIN

@labeling_function(label_type="regression")
def length(x):
    return len(x.text) / 3 if "song" in x.text else None

@labeling_function(label_type="ranking")
def order(x):
    words = list(dict.fromkeys(x.text.split()))
    return words[:3] if len(words) > 3 else None

song = keywords("song", ["song", "music"], 0)
score = column_vote("score", "score", label_type="regression")

@vectorized_labeling_function()
def long_text():
    return pl.when(pl.col("text").str.len_chars() > 20).then(1)
'''


def _data(n: int, start: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(start)
    words = np.array(["buy", "cheap", "now", "song", "music", "nice", "the", "a", "boom", "video"])
    texts = [" ".join(rng.choice(words, rng.integers(1, 7))) for _ in range(n)]
    scores = [float(i % 5) if i % 3 else None for i in range(start, start + n)]
    return pl.DataFrame({"example_id": [f"x{i:05d}" for i in range(start, start + n)], "text": texts, "score": scores})


def _why_not() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "needs pyspark: pip install -e '.[spark]'"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "needs a Java 17+ runtime: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
    return None


def _active():
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


@pytest.fixture(scope="module")
def spark_available():
    """Skips where Spark cannot run; stops the module's local Spark session at the end."""
    reason = _why_not()
    if reason:
        pytest.skip(f"Spark engine tests {reason}")
    yield
    if _active() is not None:
        _active().stop()


@pytest.fixture
def spark(spark_available):
    """The module's local[2] session (started once; the engine uses the running session)."""
    return local_spark("local[2]")


@pytest.fixture(scope="module")
def lfs(tmp_path_factory):
    module = tmp_path_factory.mktemp("lfs") / "spark_lfs.py"
    module.write_text(textwrap.dedent(LFS))
    return load_lf_modules([module])


def _apply(store, lfs, engine, df, **kw):
    run = store.runs.start("t", {})
    keys = store.examples.sync("d", df, run).ex_keys
    return apply_to_store(store, "d", lfs, df, keys, cardinality=2, run_id=run, progress=False, chunk_size=150,
                          engine=engine, **kw)  # fmt: skip


def test_with_no_session_the_engine_starts_one_and_stops_it(tmp_path, spark_available, lfs):
    if _active() is not None:
        _active().stop()  # another test's session: this one is about the engine's own
    with VoteStore(tmp_path / "s.duckdb") as store:
        stats = _apply(store, lfs, SparkEngine(workers=2), _data(200))
        assert stats.applied == {lf.name: 200 for lf in lfs} and store.query("SELECT * FROM votes").height > 300
    assert _active() is None


def test_spark_equals_serial_and_a_rerun_adds_nothing(tmp_path, spark, lfs):
    first, more = _data(600), pl.concat([_data(600), _data(150, start=600)])
    with VoteStore(tmp_path / "serial.duckdb") as store:
        _apply(store, lfs, SerialEngine(), first)
        want_first = store_contents(store)
        _apply(store, lfs, SerialEngine(), more)
        want_more = store_contents(store)
    votes = want_first[0]
    assert votes.height > 1000 and want_first[1].height > 20  # real votes and error rows to compare
    assert votes["value"].is_not_null().sum() > 100 and votes["ranking"].is_not_null().sum() > 50
    with VoteStore(tmp_path / "spark.duckdb") as store:
        stats = _apply(store, lfs, SparkEngine(), first)
        assert stats.applied == {lf.name: 600 for lf in lfs}
        assert_same_contents(store_contents(store), want_first)
        again = _apply(store, lfs, SparkEngine(), first)
        assert set(again.applied.values()) == {0}
        assert_same_contents(store_contents(store), want_first)
        later = _apply(store, lfs, make_engine({"name": "spark"}), more)
        assert later.applied == {lf.name: 150 for lf in lfs}  # only the new examples
        assert_same_contents(store_contents(store), want_more)
    assert _active() is spark  # the engine leaves a session it did not start running


def test_strict_mode_stops_on_spark_naming_the_lf_and_example(tmp_path, spark, lfs):
    with VoteStore(tmp_path / "s.duckdb") as store, pytest.raises(
        LFApplicationError, match=r"^LF 'fragile' raised ZeroDivisionError on example 'x\d+': boom in x\d+$"
    ):
        _apply(store, lfs, SparkEngine(), _data(300), strict=True)


def test_a_column_named_like_the_key_is_rejected(tmp_path, spark, lfs):
    df = _data(20).with_columns(ex_key=pl.lit(1))
    with VoteStore(tmp_path / "s.duckdb") as store, pytest.raises(ValueError, match="column 'ex_key'.*rename it"):
        _apply(store, lfs[:1], SparkEngine(), df)


def test_a_pipeline_file_runs_on_spark(tmp_path, spark, slice_pipeline):
    from weaksup.pipeline import load_config, run_pipeline

    quiet = {"progress": False, "say": lambda s: None}
    serial = run_pipeline(load_config(slice_pipeline), store_path=tmp_path / "a.duckdb", **quiet)
    (tmp_path / "s.toml").write_text(slice_pipeline.read_text() + '\n[engine]\nname = "spark"\n')
    other = ["export.dir = 'exports-b'"]  # another store's runs go to an export dir of their own
    on_spark = run_pipeline(load_config(tmp_path / "s.toml", other), store_path=tmp_path / "b.duckdb", **quiet)
    assert on_spark.metrics["lf_applications"] == serial.metrics["lf_applications"] > 0
    with VoteStore(tmp_path / "a.duckdb") as a, VoteStore(tmp_path / "b.duckdb") as b:
        assert_same_contents(store_contents(b)[:2], store_contents(a)[:2])


def test_readme_spark_recipe_runs_as_written(tmp_path, spark, monkeypatch):
    # README's Spark block is fenced `py`, not `python`: tests/test_readme.py runs the `python`
    # blocks without Spark; this runs that one, here, where Spark is.
    blocks = [b for b in re.findall(r"```py\n(.*?)```", README.read_text(), re.S) if "SparkEngine()" in b]
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {})
    with VoteStore(tmp_path / "spark.duckdb") as store:
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == 1  # "subscribe to my channel"


def test_without_java_or_pyspark_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match=r"Spark needs a Java 17\+ runtime.*apt-get install openjdk-17-jre-headless"):
        local_spark()
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if pyspark were not installed
    with pytest.raises(ImportError, match=r"engine 'spark' needs pyspark: pip install 'weaksup\[spark\]'"):
        SparkEngine().open(None, None)  # type: ignore[arg-type]
