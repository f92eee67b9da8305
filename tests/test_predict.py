"""`weaksup predict`: a pipeline file, an export or run folder, or a model file; ids, labels and the text column."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

from weaksup.data import load_dataset
from weaksup.end_models import SoftTargetRegressor
from weaksup.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["subscribe to my channel http://x.com", "I love this song", "check out my channel, subscribe!"]


def _weaksup(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weaksup.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip


def test_predict_takes_the_pipeline_file_a_folder_or_the_model(slice_pipeline, tmp_path):
    new = tmp_path / "new.csv"
    pl.DataFrame({"text": TEXTS}).write_csv(new)
    proc = _weaksup("predict", str(slice_pipeline), str(new), cwd=tmp_path)
    assert proc.returncode == 1 and "has no LATEST run yet; run `weaksup run" in proc.stderr

    run_pipeline(slice_pipeline, progress=False, say=lambda s: None)
    run_pipeline(slice_pipeline, progress=False, say=lambda s: None, force=True)  # LATEST now names run-0002
    ids = load_dataset(new)["example_id"].to_list()

    proc = _weaksup("predict", str(slice_pipeline), str(new), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"model: {tmp_path / 'exports' / 'run-0002' / 'end_model.npz'}" in proc.stdout
    header = next(line for line in proc.stdout.splitlines() if "example_id" in line)
    assert header.replace("│", " ").replace("┆", " ").split() == ["example_id", "label", "label_name", "confidence"]
    rows = [line for line in proc.stdout.splitlines() if any(i in line for i in ids)]
    assert [r.split("┆")[2].strip() for r in rows] == ["SPAM", "HAM", "SPAM"]
    assert [r.split("┆")[0].strip("│ ") for r in rows] == ids

    for target in (tmp_path / "exports", tmp_path / "exports" / "run-0001", tmp_path / "exports" / "run-0001" / "end_model.npz"):
        out = tmp_path / "out.parquet"
        proc = _weaksup("predict", str(target), str(new), "--output", str(out), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        frame = pl.read_parquet(out)
        assert frame.columns == ["example_id", "label", "label_name", "confidence", "prob_HAM", "prob_SPAM", "text"]
        assert frame["example_id"].to_list() == ids and frame["label"].to_list() == [1, 0, 1]
        assert np.allclose(frame["confidence"], np.maximum(frame["prob_HAM"], frame["prob_SPAM"]))


def test_predict_chooses_the_text_column_and_explains_what_is_wrong(slice_pipeline, tmp_path):
    run_pipeline(slice_pipeline, progress=False, say=lambda s: None)
    new = tmp_path / "new.csv"
    pl.DataFrame({"id": ["a", "b", "c"], "body": TEXTS, "n": [1, 2, 3]}).write_csv(new)
    proc = _weaksup("predict", str(slice_pipeline), str(new), cwd=tmp_path)
    assert proc.returncode == 1
    assert "no text column 'text'; its columns are ['id', 'body', 'n', 'example_id']: choose one with --text-column" in proc.stderr
    proc = _weaksup("predict", str(slice_pipeline), str(new), "--text-column", "n", cwd=tmp_path)
    assert proc.returncode == 1 and "column 'n' holds Int64, not text: choose one with --text-column" in proc.stderr

    out = tmp_path / "out.csv"
    proc = _weaksup("predict", str(slice_pipeline), str(new), "--text-column", "body", "--id-column", "id",
                    "--output", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    frame = pl.read_csv(out)
    assert frame["example_id"].to_list() == ["a", "b", "c"] and frame["label_name"].to_list() == ["SPAM", "HAM", "SPAM"]

    clash = tmp_path / "clash.csv"
    pl.DataFrame({"text": TEXTS, "confidence": [1, 2, 3]}).write_csv(clash)
    proc = _weaksup("predict", str(slice_pipeline), str(clash), cwd=tmp_path)
    assert proc.returncode == 1 and "already has columns ['confidence'], which predict adds; rename them" in proc.stderr


def test_predict_reads_the_end_model_of_any_label_type_and_names_a_bad_file(tmp_path):
    (tmp_path / "in.csv").write_text("text,a,b\nhello,0.5,1\nbye,-2,0\n")
    (tmp_path / "text.csv").write_text("text\nhello\n")
    run = tmp_path / "run-0001"
    run.mkdir()
    (run / "end_model.json").write_text("{}")  # a ranking run's end model, broken
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    SoftTargetRegressor().fit(X, X[:, 0], np.ones(50)).save(tmp_path / "end_model.npz", {"features": ["a", "b"]})
    proc = _weaksup("predict", str(tmp_path / "end_model.npz"), str(tmp_path / "in.csv"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "example_id" in line)
    assert header.replace("│", " ").replace("┆", " ").split() == ["example_id", "value"]
    for target, data, message in (
        (run, "in.csv", "end_model.json' holds a None model, not a PairwiseRanker"),
        (tmp_path / "end_model.npz", "text.csv", "text.csv: no feature columns ['a', 'b'], which the end model reads"),
        (tmp_path / "in.csv", "in.csv", "in.csv is not an end-model file: `weaksup predict` reads end_model.npz or end_model.skops or end_model.json"),
        (tmp_path / "nothing", "in.csv", "does not exist: give a pipeline file, a run folder or an end-model file"),
    ):
        proc = _weaksup("predict", str(target), str(tmp_path / data), cwd=tmp_path)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
