"""The README walkthrough on pipelines/youtube_stream.toml: two videos' files, a third, an edited LF, all five."""

from __future__ import annotations

import json

import polars as pl
from support.project import ROOT, query

from weaksup.pipeline import load_config, run_pipeline

PIPELINE = ROOT / "pipelines" / "youtube_stream.toml"
QUIET = {"progress": False, "say": lambda s: None}


def test_youtube_stream_walkthrough(tmp_path):
    store = tmp_path / "stream.duckdb"
    common = [f"export.dir={tmp_path / 'exports'}", "trainer.name=none"]

    def run(*overrides: str):  # type: ignore[no-untyped-def]
        return run_pipeline(load_config(PIPELINE, [*common, *overrides]), store_path=store, **QUIET).metrics

    # 1. Two videos' files.
    first = run("data.source=../data/youtube_raw/Youtube0[12]-*.csv")
    assert (first["new_examples"], first["held_out_rows"], first["lf_applications"]) == (700, 0, 700 * 13)

    # 2. A third file: only its comments are labeled, minus those that appear in WRENCH's test split.
    second = run("data.source=../data/youtube_raw/Youtube0[1-3]-*.csv")
    assert (second["new_examples"], second["held_out_rows"]) == (438 - 90, 90)
    assert second["lf_applications"] == 348 * 13

    # 3. One LF's word list edited: only it is re-applied, to every example.
    lfs = (ROOT / "labeling_functions" / "youtube_spam.py").read_text()
    edited = lfs.replace("|sale|deal)", "|sale|deal|bargain)")
    assert edited != lfs
    (tmp_path / "lfs.py").write_text(edited)
    third = run("data.source=../data/youtube_raw/Youtube0[1-3]-*.csv", f"lfs.modules=['{tmp_path / 'lfs.py'}']")
    assert (third["new_examples"], third["lf_applications"]) == (0, 1048)

    # 4. All five files (the pipeline's own source): duplicates dropped, the test split held out.
    fourth = run()
    assert (fourth["new_examples"], fourth["duplicate_rows_dropped"], fourth["held_out_rows"]) == (522, 3, 383)
    assert fourth["n_examples"] == 1956 - 3 - 383 == 1570
    test_texts = {ex["data"]["text"] for ex in json.loads((ROOT / "data" / "youtube" / "test.json").read_text()).values()}
    stored = set(query(store, "SELECT data->>'text' AS t FROM examples")["t"].to_list())
    assert len(test_texts) == 229 and not stored & test_texts
    # Rows with no date are kept, with a null DATE.
    eminem = pl.read_csv(ROOT / "data" / "youtube_raw" / "Youtube04-Eminem.csv").unique()
    expected = eminem.filter(pl.col("DATE").is_null() & ~pl.col("CONTENT").is_in(list(test_texts))).height
    no_date = query(store, "SELECT count(*) AS n FROM examples WHERE retired_run IS NULL AND data->>'DATE' IS NULL")
    assert no_date["n"][0] == expected > 200
