"""Pipeline sources and schema: DuckDB tables, duplicates, holdouts, overrides, and errors that name the key."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from support.project import RAW, make_project, query

from weaksup.apply import LFApplicationError
from weaksup.cli import main
from weaksup.pipeline import ConfigError, load_config, run_pipeline
from weaksup.pipeline.sources import SourceError

QUIET = {"progress": False, "say": lambda s: None}


def _set(pipeline, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    text = pipeline.read_text()
    assert old in text
    pipeline.write_text(text.replace(old, new))


def test_a_duckdb_table_is_a_source(tmp_path):
    pipeline = make_project(tmp_path, files=())
    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    con.execute(f"CREATE TABLE comments AS SELECT * FROM read_csv('{RAW / 'Youtube01-Psy.csv'}')")
    con.close()
    _set(pipeline, 'source = "incoming/*.csv"', 'source = "raw.duckdb"\ntable = "comments"')
    result = run_pipeline(pipeline, **QUIET)
    assert result.metrics["n_examples"] == 350
    ids = query(tmp_path / "store.duckdb", "SELECT example_id FROM examples ORDER BY ex_key LIMIT 1")["example_id"][0]
    assert ids == pl.read_csv(RAW / "Youtube01-Psy.csv")["COMMENT_ID"][0]

    _set(pipeline, 'table = "comments"', 'table = "coments"')
    with pytest.raises(SourceError, match=r"data.table = 'coments' is not in .*raw.duckdb'; its tables are \['comments'\]"):
        run_pipeline(pipeline, **QUIET)
    _set(pipeline, 'source = "raw.duckdb"', 'source = "incoming/*.csv"')
    with pytest.raises(ConfigError, match="data.table is set, so data.source must be one DuckDB file"):
        load_config(pipeline)


def test_duplicate_ids(tmp_path):
    # Youtube04-Eminem.csv repeats two COMMENT_IDs, each on two identical rows.
    pipeline = make_project(tmp_path, files=("Youtube04-Eminem.csv",))
    assert run_pipeline(pipeline, **QUIET).metrics["duplicate_rows_dropped"] == 2
    _set(pipeline, 'duplicate_ids = "drop_identical"', 'duplicate_ids = "error"')
    with pytest.raises(ValueError, match=r"id column 'COMMENT_ID' has 2 duplicated values.*deduplicate the rows"):
        run_pipeline(pipeline, **QUIET)
    # The same id on rows that differ is not silently resolved.
    eminem = tmp_path / "incoming" / "Youtube04-Eminem.csv"
    frame = pl.read_csv(eminem)
    dup = frame.filter(pl.col("COMMENT_ID").is_duplicated())["COMMENT_ID"][0]
    changed = frame.with_columns(
        pl.when((pl.col("COMMENT_ID") == dup) & (pl.int_range(pl.len()).over("COMMENT_ID") == 1))
        .then(pl.lit("edited")).otherwise("CONTENT").alias("CONTENT")
    )  # fmt: skip
    changed.write_csv(eminem)
    _set(pipeline, 'duplicate_ids = "error"', 'duplicate_ids = "drop_identical"')
    with pytest.raises(SourceError, match=rf"ids on rows that differ, e.g. \['{dup}'\].*use 'keep_last'"):
        run_pipeline(pipeline, **QUIET)
    _set(pipeline, 'duplicate_ids = "drop_identical"', 'duplicate_ids = "keep_last"')
    run_pipeline(pipeline, **QUIET)
    text = query(tmp_path / "store.duckdb", "SELECT data->>'text' AS t FROM examples WHERE example_id = ? "
                                            "AND retired_run IS NULL", [dup])["t"].to_list()  # fmt: skip
    assert text == ["edited"]


def test_rows_matching_the_holdout_are_left_out_and_it_evaluates_the_end_model(tmp_path):
    pipeline = make_project(tmp_path, files=("Youtube03-LMFAO.csv",))
    holdout = pl.read_csv(RAW / "Youtube03-LMFAO.csv").head(40).select(
        pl.col("CONTENT").alias("comment"), pl.col("CLASS").alias("gold")
    )
    holdout.write_csv(tmp_path / "holdout.csv")
    _set(pipeline, 'name = "none"', 'name = "tfidf_logreg"')
    pipeline.write_text(pipeline.read_text() + '\n[holdout]\nsource = "holdout.csv"\ntext_column = "comment"\n'
                        'gold_column = "gold"\n')  # fmt: skip
    result = run_pipeline(pipeline, **QUIET)
    texts = set(holdout["comment"].to_list())
    stored = query(tmp_path / "store.duckdb", "SELECT data->>'text' AS t FROM examples")["t"].to_list()
    assert result.metrics["held_out_rows"] >= 40 and not texts & set(stored)
    assert result.metrics["n_examples"] == 438 - result.metrics["held_out_rows"]
    assert 0.5 < result.metrics["end_model_accuracy_holdout"] <= 1

    _set(pipeline, 'text_column = "comment"', 'text_column = "body"')
    with pytest.raises(SourceError, match=r"holdout.text_column 'body' is not in the holdout; its columns are"):
        run_pipeline(pipeline, **QUIET)
    _set(pipeline, "[holdout]", "[holdout]\nmatch_column = \"CONTENT\"")
    _set(pipeline, 'text_column = "body"', 'text_column = "comment"')
    with pytest.raises(SourceError, match=r"holdout.match_column 'CONTENT' is not in the data"):
        run_pipeline(pipeline, **QUIET)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[trainer]", "[holdout]\nsplit = 'test'\n\n[trainer]", r"missing required key 'holdout.source'"),
        ("[trainer]", "[holdout]\nsource = 'gone.csv'\n\n[trainer]",
         r"holdout.source = 'gone.csv' does not exist \(paths are relative to the pipeline file\) \(line \d+\)"),
        ('duplicate_ids = "drop_identical"', 'duplicate_ids = "newest"',
         r"'data.duplicate_ids' \(line \d+\) is 'newest'; choose one of \['error', 'drop_identical', 'keep_last'\]"),
        ("rename = { CONTENT = \"text\" }", "rename = { CONTENT = 3 }", r"'data.rename' \(line \d+\) must hold str values, got 3"),
        ("chunk_size = 20000", "chunk_size = 0", r"lfs.chunk_size = 0 must be positive \(line \d+\)"),
        ("chunk_size = 20000", "chunk_size = true", r"'lfs.chunk_size' \(line \d+\) must be a int, got True"),
        ('name = "label_model"', 'name = "label_model"\nparams = { epochz = 3 }', r"\[label_model\] is not usable: .*epochz"),
        ('store = "store.duckdb"', 'store = "raw.csv"', r"data.source and store are the same file"),
    ],
)
def test_schema_errors_name_the_key(tmp_path, old, new, message):
    pipeline = make_project(tmp_path)
    if "raw.csv" in new:
        _set(pipeline, 'source = "incoming/*.csv"', 'source = "raw.csv"')
        (tmp_path / "raw.csv").write_text("a\n1\n")
    _set(pipeline, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(pipeline)


def test_source_errors_name_the_key(tmp_path):
    pipeline = make_project(tmp_path)
    _set(pipeline, 'source = "incoming/*.csv"', 'source = "incoming/*.parquet"')
    with pytest.raises(SourceError, match=r"data.source = 'incoming/\*.parquet': no files match"):
        run_pipeline(pipeline, **QUIET)
    _set(pipeline, 'source = "incoming/*.parquet"', 'source = "incoming/*.csv"')
    _set(pipeline, "rename = { CONTENT = \"text\" }", "rename = { BODY = \"text\" }")
    with pytest.raises(SourceError, match=r"data.rename names columns the source lacks: \['BODY'\]"):
        run_pipeline(pipeline, **QUIET)


def test_overrides_and_the_pipeline_hash(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    base = load_config(pipeline)
    pipeline.write_text("# a comment does not change the pipeline\n" + pipeline.read_text())
    assert load_config(pipeline).hash == base.hash
    cfg = load_config(pipeline, ["label_model.seed=3", "data.source=incoming/Youtube01-*.csv", 'export.formats=["csv"]'])
    s = cfg.settings
    assert (s.label_model.seed, s.data.source, s.export.formats) == (3, "incoming/Youtube01-*.csv", ["csv"])
    assert cfg.hash != base.hash
    with pytest.raises(ConfigError, match=r"unknown key 'label_model.sed' \(from --set\)"):
        load_config(pipeline, ["label_model.sed=3"])
    with pytest.raises(ConfigError, match=r"'label_model.seed' \(from --set\) must be a int, got 'three'"):
        load_config(pipeline, ["label_model.seed=three"])
    with pytest.raises(ConfigError, match=r"override 'seed' must look like section.key=value"):
        load_config(pipeline, ["seed"])
    assert main(["run", str(pipeline), "--quiet", "--set", "data.source=incoming/Youtube01-*.csv"]) == 0
    assert "run 1: 350 examples" in capsys.readouterr().out


def test_schema_command_documents_every_section(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    for line in ("[holdout] (optional)", "[schedule] (optional)", "data.table (str", "data.duplicate_ids (str, default 'error'",
                 "schedule.cron (str, required)", "lfs.chunk_size (int, default None): Examples per committed chunk"):  # fmt: skip
        assert line in out


def test_lfs_never_see_the_gold_labels(tmp_path):
    peek = "\nfrom weaksup import labeling_function\n@labeling_function()\ndef peek(x):\n    return x.CLASS\n"
    pipeline = make_project(tmp_path, lfs=peek)
    with pytest.raises(LFApplicationError, match=r"LF 'peek' reads column 'CLASS', which the dataset does not have"):
        run_pipeline(pipeline, **QUIET)
