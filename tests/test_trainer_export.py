import numpy as np
import polars as pl
import pytest

from weaksup.export import soft_label_frame, write_batches, write_table
from weaksup.end_models.text import SoftTextClassifier

TEXTS = ["buy cheap pills now", "great song love it", "cheap pills for sale", "love this song so much",
         "visit my channel", "best song ever", "subscribe to my channel", "this beat is great"]  # fmt: skip
PROBS = np.array([[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.3, 0.7], [0.7, 0.3], [0.1, 0.9], [0.9, 0.1]])


def test_soft_labels_are_learned_not_just_their_argmax():
    confident = SoftTextClassifier(seed=0).fit(TEXTS, PROBS)
    unsure = SoftTextClassifier(seed=0).fit(TEXTS, 0.5 + 0.1 * (PROBS - 0.5))
    p_conf = confident.predict_proba(["cheap pills"])[0, 1]
    p_unsure = unsure.predict_proba(["cheap pills"])[0, 1]
    assert p_conf > p_unsure > 0.5  # same argmax, less certainty


def test_fit_errors_are_clear():
    with pytest.raises(ValueError, match="probs must be"):
        SoftTextClassifier().fit(TEXTS, PROBS[:3])
    with pytest.raises(ValueError, match="only 1 of 2 classes"):
        SoftTextClassifier().fit(TEXTS, np.tile([1.0, 0.0], (8, 1)))


def test_export_contents_and_formats(tmp_path):
    inputs = pl.DataFrame({"example_id": ["a", "b", "c"], "text": ["x", "y", "z"]})
    probs = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    frame = soft_label_frame(inputs, probs, np.array([2, 0, 1]), ["HAM", "SPAM"])
    assert frame.select("example_id", "label_name", "confidence", "n_votes").rows() == [
        ("a", "SPAM", 0.8, 2), ("c", "HAM", 0.9, 1)
    ]
    kept = soft_label_frame(inputs, probs, np.array([2, 0, 1]), ["HAM", "SPAM"], keep_uncovered=True)
    assert kept.height == 3
    for fmt in ("parquet", "jsonl", "csv"):
        path = write_table(frame, tmp_path / f"t.{fmt}")
        back = {"parquet": pl.read_parquet, "jsonl": pl.read_ndjson, "csv": pl.read_csv}[fmt](path)
        assert back.equals(frame)
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        write_table(frame, tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="probs has shape"):
        soft_label_frame(inputs, probs[:2], np.array([1, 1]), ["HAM", "SPAM"])


def test_writing_batches_gives_the_whole_tables_file(tmp_path):
    frame = pl.DataFrame({"example_id": [str(i) for i in range(10)], "x": np.linspace(0, 1, 10), "s": list("abcdefghij")})
    batches = [frame.slice(0, 4), frame.slice(4, 0), frame.slice(4, 6)]  # an empty batch in the middle too
    for fmt in ("parquet", "jsonl", "csv"):
        path, rows = write_batches(iter(batches), tmp_path / f"b.{fmt}")
        assert rows == 10
        write_table(frame, tmp_path / f"w.{fmt}")
        if fmt == "parquet":
            assert pl.read_parquet(path).equals(pl.read_parquet(tmp_path / "w.parquet"))
        else:
            assert path.read_bytes() == (tmp_path / f"w.{fmt}").read_bytes()
    empty, rows = write_batches([frame.clear()], tmp_path / "e.csv")
    assert rows == 0 and empty.read_text() == "example_id,x,s\n"
    with pytest.raises(ValueError, match=r"no batches to write to .*n\.csv: pass at least one, empty if the table is"):
        write_batches([], tmp_path / "n.csv")
    with pytest.raises(ValueError, match=r"CSV cannot hold the nested columns \['l'\]"):
        write_batches([pl.DataFrame({"l": [[1]]})], tmp_path / "l.csv")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left
