"""The shipped multi-label pipeline (pipelines/goemotions.toml) end to end: a real store, the
label model's scores and the end model's in the run output and manifest, the exported training
set, weaksup predict, and the multi-label report in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from support.project import ROOT

from weaksup.label_types.multilabel import MULTILABEL
from weaksup.model import MultiLabelModel
from weaksup.pipeline import load_config, run_pipeline
from weaksup.predict import find_model, predict_file
from weaksup.store import VoteStore

CLASSES = ["admiration", "annoyance", "approval", "curiosity", "gratitude", "optimism"]
DATA = ROOT / "data" / "goemotions" / "goemotions_6labels.jsonl"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, list[str]]:
    """The shipped pipeline, run twice (the second forced: history and changes have two runs)."""
    folder = tmp_path_factory.mktemp("goemotions")
    said: list[str] = []
    for _ in range(2):
        said.clear()
        result = run_pipeline(load_config(ROOT / "pipelines" / "goemotions.toml", [f"export.dir={folder / 'exports'}"]),
                              store_path=folder / "store.duckdb", progress=False, say=said.append, force=True)  # fmt: skip
    return result, folder, said


def test_the_run_scores_labels_by_the_multilabel_metrics(run: tuple[object, Path, list[str]]) -> None:
    result, folder, said = run
    data = pl.read_ndjson(DATA)
    gold = np.stack([data["labels"].list.contains(c).to_numpy() for c in CLASSES], axis=1).astype(np.int8)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    with VoteStore(folder / "store.duckdb", read_only=True) as store:
        keys = store.query("SELECT ex_key FROM labels WHERE run_id = 2 ORDER BY ex_key")["ex_key"].to_numpy()
        votes = store.votes.read("multilabel", keys, list(manifest["lf_versions"].items()), k=6)
    # the label model of the run is the default model on the store's votes, fitted on train
    split = data["split"].to_numpy()
    model = MultiLabelModel(cardinality=6).fit(votes.select_rows(np.flatnonzero(split == "train")))
    predicted = model.predict(votes)
    test = split == "test"
    expected = MULTILABEL.metrics(predicted[test], gold[test], classes=CLASSES)
    for name in ("micro_f1", "macro_f1", "subset_accuracy", "precision_gratitude", "recall_curiosity", "f1_optimism"):
        assert result.metrics[f"label_model_{name}_test"] == pytest.approx(expected[name])
    covered = test & (votes.n_votes() > 0)
    assert result.metrics["label_model_micro_f1_covered_test"] == pytest.approx(
        MULTILABEL.metrics(predicted[covered], gold[covered])["micro_f1"])  # fmt: skip
    # the run output and the manifest carry them, and the end model's
    output = "\n".join(said)
    assert f"micro f1 {expected['micro_f1']:.3f}" in output and "end model on test: micro f1 " in output
    assert manifest["metrics"]["label_model_micro_f1_test"] == pytest.approx(expected["micro_f1"])
    assert {"end_model_micro_f1_test", "end_model_macro_f1_test", "end_model_subset_accuracy_test",
            "end_model_f1_gratitude_test"} <= set(manifest["metrics"])  # fmt: skip
    assert manifest["end_model"]["thresholds_from"] == "dev gold" and set(manifest["end_model"]["thresholds"]) == set(CLASSES)


def test_the_training_set_and_predict_use_the_label_names(run: tuple[object, Path, list[str]], tmp_path: Path) -> None:
    result, folder, _ = run
    train = pl.read_parquet(result.run_dir / "training_set.parquet")
    assert train.columns == ["example_id", "split", "text", *(f"prob_{c}" for c in CLASSES), "labels", "n_votes", "label_source"]
    assert (train["n_votes"] > 0).all() and train["labels"].explode().drop_nulls().is_in(CLASSES).all()
    new = pl.DataFrame({"id": ["a", "b"], "text": ["Thank you so much!", "Why would anyone do that?"]})
    new.write_parquet(tmp_path / "new.parquet")
    out, _, predictor = predict_file(find_model(folder / "exports"), tmp_path / "new.parquet", id_column="id")
    assert predictor is MULTILABEL and out["labels"].to_list()[0] == ["gratitude"] and "curiosity" in out["labels"][1]


def test_the_multilabel_report_renders_offline(run: tuple[object, Path, list[str]], chromium, tmp_path: Path) -> None:
    result, _, _ = run
    page = chromium.load(result.run_dir / "report.html")
    assert page.console_errors == [] and page.requests == []
    facts = chromium.evaluate("""({
      charts: Array.from(document.querySelectorAll('svg.chart')).map(s => [s.dataset.chart, s.querySelectorAll('.mark').length]),
      tables: Array.from(document.querySelectorAll('table[data-table]')).map(t => [t.dataset.table, t.tBodies[0].rows.length]),
      title: document.title,
    })""")
    charts = dict(facts["charts"])
    assert {"label-coverage", "label-accuracy", "cooccurrence-predicted", "cooccurrence-gold", "class-balance",
            "confidence", "agreement"} <= set(charts)  # fmt: skip
    assert all(marks > 0 for marks in charts.values())
    assert charts["cooccurrence-gold"] == len(CLASSES) ** 2
    tables = dict(facts["tables"])
    assert tables["lfs"] == 8 and tables["bucket-most_conflict"] > 0 and tables["bucket-lf_disagreements"] > 0
    assert tables["history"] == 2
    assert chromium.screenshot(tmp_path / "goemotions.png").stat().st_size > 20_000
