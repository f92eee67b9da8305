import polars as pl
import pytest

from weaksup.data import load_dataset, wrench_class_names, with_example_ids


def test_wrench_ids_are_keyed_by_split_and_unique(youtube_slice):
    df = load_dataset(youtube_slice)
    assert df["example_id"].n_unique() == df.height == 440
    assert {"train:0", "valid:0", "test:0"} <= set(df["example_id"])
    assert "weak_labels" not in df.columns and df["label"].null_count() == 0
    assert wrench_class_names(youtube_slice) == ["HAM", "SPAM"]


def test_csv_parquet_jsonl_and_glob_load_the_same_rows(tmp_path):
    df = pl.DataFrame({"cid": ["x1", "x2", "x3"], "text": ["a", "b", "c"]})
    df.write_csv(tmp_path / "part1.csv")
    df.write_parquet(tmp_path / "d.parquet")
    df.write_ndjson(tmp_path / "d.jsonl")
    pl.DataFrame({"cid": ["x4"], "text": ["d"]}).write_csv(tmp_path / "part2.csv")
    for name in ("part1.csv", "d.parquet", "d.jsonl"):
        loaded = load_dataset(tmp_path / name, id_column="cid")
        assert loaded["example_id"].to_list() == ["x1", "x2", "x3"]
    assert load_dataset("part*.csv", id_column="cid", base_dir=tmp_path)["example_id"].to_list() == ["x1", "x2", "x3", "x4"]


def test_content_hash_ids_are_stable_and_disambiguate_duplicates():
    df = pl.DataFrame({"text": ["same", "other", "same"]})
    first, second = with_example_ids(df), with_example_ids(df.clone())
    assert first["example_id"].to_list() == second["example_id"].to_list()
    ids = first["example_id"].to_list()
    assert len(set(ids)) == 3 and ids[2] == ids[0] + "-1"


def test_bad_ids_and_empty_data_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"id column 'cid' has 1 duplicated values, e.g. \['a'\]"):
        with_example_ids(pl.DataFrame({"cid": ["a", "a"], "text": ["x", "y"]}), "cid")
    with pytest.raises(ValueError, match="id column 'nope' is not in the data"):
        with_example_ids(pl.DataFrame({"text": ["x"]}), "nope")
    (tmp_path / "empty.csv").write_text("text\n")
    with pytest.raises(ValueError, match="is empty"):
        load_dataset(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "missing.csv")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="unknown extension '.txt'"):
        load_dataset(tmp_path / "x.txt")
    (tmp_path / "notwrench").mkdir()
    with pytest.raises(FileNotFoundError, match="not a WRENCH folder"):
        load_dataset(tmp_path / "notwrench")
