from fractions import Fraction

import numpy as np
import polars as pl
import pytest
import skops.io as sio

from weaksup.export import soft_label_frame, write_table
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


def test_end_model_round_trips_without_pickle(tmp_path):
    model = SoftTextClassifier(C=2.0, seed=0).fit(TEXTS, PROBS)
    model.save(tmp_path / "m.skops", {"classes": ["HAM", "SPAM"], "text_column": "text"})
    loaded, meta = SoftTextClassifier.load(tmp_path / "m.skops")
    assert meta["classes"] == ["HAM", "SPAM"] and loaded.C == 2.0
    assert np.allclose(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))


def test_loading_refuses_foreign_types_and_missing_files(tmp_path):
    sio.dump({"x": Fraction(1, 3)}, tmp_path / "evil.skops")
    with pytest.raises(ValueError, match=r"holds types weaksup does not load: \['fractions.Fraction'\]"):
        SoftTextClassifier.load(tmp_path / "evil.skops")
    sio.dump({"x": [1, 2]}, tmp_path / "dict.skops")
    with pytest.raises(ValueError, match="is not a weaksup end model"):
        SoftTextClassifier.load(tmp_path / "dict.skops")
    with pytest.raises(FileNotFoundError, match="run the pipeline first"):
        SoftTextClassifier.load(tmp_path / "missing.skops")


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


def test_cli_predict_refuses_ranking_and_regression_end_models(tmp_path, capsys):
    from weaksup.cli import main

    (tmp_path / "in.csv").write_text("text\nhello\n")
    (tmp_path / "end_model.json").write_text("{}")  # a PairwiseRanker's file
    sio.dump({"x": [1]}, tmp_path / "end_model.skops")
    (tmp_path / "end_model.skops.json").write_text('{"features": ["budget"]}')  # a SoftTargetRegressor's
    for model in ("end_model.json", "end_model.skops"):
        assert main(["predict", str(tmp_path / model), str(tmp_path / "in.csv")]) == 1
        assert "is not a text classifier" in capsys.readouterr().err
