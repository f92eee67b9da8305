"""Bad input is reported with the file, line, key or LF it comes from; null cells reach LFs as None."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from weaksup import ABSTAIN, apply_lfs, labeling_function
from weaksup.data import load_dataset, with_example_ids
from weaksup.lf import LabelingFunction
from weaksup.pipeline import ConfigError, load_lf_modules, run_pipeline

LF_MODULE = """
from weaksup import ABSTAIN, labeling_function


@labeling_function()
def cafe(x):
    return 1 if "café" in x.text else 0
"""


def _project(tmp_path: Path, data: bytes, data_extra: str = "") -> Path:
    (tmp_path / "in.csv").write_bytes(data)
    (tmp_path / "lfs.py").write_text(LF_MODULE)
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        f'name = "p"\nstore = "store.duckdb"\n\n[data]\nsource = "in.csv"\n{data_extra}\n'
        '[labels]\nclasses = ["NO", "YES"]\n\n[lfs]\nmodules = ["lfs.py"]\n\n'
        '[label_model]\nname = "majority_vote"\n\n[export]\ndir = "exports"\n'
    )
    return pipeline


def test_non_utf8_input_names_the_file_and_line_and_offers_an_encoding(tmp_path):
    latin = "text\nplain tea\ncafé au lait\ncafé noir\ntea again\n".encode("latin-1")
    pipeline = _project(tmp_path, latin)
    with pytest.raises(ValueError, match=r"data.source = 'in.csv': data file '.*in.csv' is not valid utf-8 at line 3 "
                                         r"\(byte 18, in b'.*caf\\xe9 au lait.*'\); if the file uses another encoding, "
                                         r"name it with data.encoding \(e.g. 'latin-1' or 'cp1252'\)"):  # fmt: skip
        run_pipeline(pipeline, progress=False, say=lambda s: None)
    pipeline = _project(tmp_path, latin, 'encoding = "latin-1"\n')
    result = run_pipeline(pipeline, progress=False, say=lambda s: None)
    training = pl.read_parquet(result.run_dir / "training_set.parquet")
    assert sorted(training.filter(pl.col("label_name") == "YES")["text"]) == ["café au lait", "café noir"]


def test_cp1252_is_decoded_before_polars_reads_csv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_bytes("text,price\n“quoted” deal,5 €\n".encode("cp1252"))
    (tmp_path / "a.jsonl").write_bytes('{"text": "5 €"}\n'.encode("cp1252"))
    assert load_dataset(tmp_path / "a.csv", encoding="cp1252")["price"].to_list() == ["5 €"]
    assert load_dataset(tmp_path / "a.jsonl", encoding="cp1252")["text"].to_list() == ["5 €"]
    with pytest.raises(ValueError, match=r"a.jsonl' is not valid utf-8 at line 1"):
        load_dataset(tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match=r"unknown encoding 'klingon' \(data.encoding\)"):
        load_dataset(tmp_path / "a.csv", encoding="klingon")


def test_an_unknown_encoding_in_a_pipeline_names_the_key(tmp_path):
    pipeline = _project(tmp_path, b"text\na\n", 'encoding = "klingon"\n')
    with pytest.raises(ValueError, match=r"unknown encoding 'klingon' \(data.encoding\)"):
        run_pipeline(pipeline, progress=False, say=lambda s: None)
    pipeline = _project(tmp_path, b"text\na\n", "encoding = 8\n")
    with pytest.raises(ConfigError, match=r"data.encoding"):
        run_pipeline(pipeline, progress=False, say=lambda s: None)


def test_an_empty_csv_names_the_file(tmp_path):
    pipeline = _project(tmp_path, b"")
    with pytest.raises(ValueError, match=r"data.source = 'in.csv': data file '.*in.csv' is empty: it has no header"):
        run_pipeline(pipeline, progress=False, say=lambda s: None)
    (tmp_path / "blank.csv").write_bytes(b"")
    with pytest.raises(ValueError, match=r"data file '.*blank.csv' is empty"):
        load_dataset(tmp_path / "blank.csv")


def test_null_text_reaches_a_row_lf_as_none(tmp_path):
    seen: list[object] = []

    @labeling_function()
    def missing(x):
        seen.append(x.text)
        return 1 if x.text is None else ABSTAIN

    @labeling_function()
    def lower(x):
        return 0 if x.text.lower() == "hi" else ABSTAIN

    (tmp_path / "d.csv").write_text('id,text\na,hi\nb,\nc,""\n')
    df = load_dataset(tmp_path / "d.csv", id_column="id")
    assert df["text"].to_list() == ["hi", None, ""]  # an empty field is null; a quoted empty one is ""
    result = apply_lfs([missing, lower], df, cardinality=2)
    assert seen == ["hi", None, ""]
    assert result.votes.to_dense().tolist() == [[ABSTAIN, 0], [1, ABSTAIN], [ABSTAIN, ABSTAIN]]
    assert [(e["lf_name"], e["example_id"]) for e in result.errors.to_dicts()] == [("lower", "b")]


def test_an_import_error_in_an_lf_module_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad_lfs.py"
    bad.write_text("from weaksup import labeling_function\nimport no_such_module_here\n")
    with pytest.raises(ValueError, match=r"LF module '.*bad_lfs.py' failed to import at line 2: "
                                         r"ModuleNotFoundError: No module named 'no_such_module_here'"):  # fmt: skip
        load_lf_modules([bad])
    bad.write_text("x = 1\ndef f(:\n")
    with pytest.raises(ValueError, match=r"LF module '.*bad_lfs.py' failed to import: SyntaxError: .*line 2"):
        load_lf_modules([bad])
    assert not [m for m in sys.modules.values() if getattr(m, "__file__", None) == str(bad)]


@pytest.mark.parametrize("name", ["two\nlines", "tab\there", "bell\x07", "esc\x1b[31m"])
def test_lf_names_with_newlines_or_control_characters_are_refused(name):
    lf = LabelingFunction(name, lambda x: ABSTAIN)
    df = with_example_ids(pl.DataFrame({"text": ["a"]}))
    with pytest.raises(ValueError, match=r"LF name .* holds a newline or control character; use printable characters"):
        apply_lfs([lf], df, cardinality=2)
