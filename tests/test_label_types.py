"""Every label type through one contract, in the style of scikit-learn's ``check_estimator``.

Each check runs for every type of :data:`weaksup.label_types.LABEL_TYPES`, on the type's sample
(``tests/support/label_type_samples.py``): the registries built from it; its vote checks; votes of every LF
kind it takes round-tripping through a real DuckDB store; its label model's fit, predict, save and
load; its gold through ``gold.parquet``; and, for the types pipelines run, a pipeline run end to end:
the label rows in the store, the exported training set, the report, and ``weaksup predict`` with
the saved end model reproducing the run's own test scores.  A type pipelines cannot run must say so,
and the pipeline file must refuse it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from weaksup import end_models, lf as lf_module
from weaksup.apply import apply_to_store
from weaksup.apply.checks import VOTE_CHECKS, VOTE_COLUMN, LFApplicationError
from weaksup.crowd import answer_lfs
from weaksup.crowd.lf import ANSWER_LABEL_TYPES
from weaksup.label_types import LABEL_TYPES, PIPELINE_TYPES, LabelType, VoteError, label_type_for
from weaksup.lf import Row
from weaksup.pipeline import ConfigError, config_from_dict, run_pipeline
from weaksup.pipeline.schema import END_MODELS, SCHEMA
from weaksup.pipeline.sources import load_lf_modules
from weaksup.pipeline.tasks import TASKS
from weaksup.pipeline.tasks.base import training_table
from weaksup.pipeline.tasks.features import columns_read
from weaksup.predict import find_model, model_type, predict_file
from weaksup.report.types import REPORT_TYPES
from weaksup.store import VoteStore
from weaksup.store.reports import LABEL_COLUMNS
from weaksup.vectorized import VectorizedLabelingFunction
from weaksup.vectorized.lf import VECTORIZED_LABEL_TYPES

from support.label_type_samples import SAMPLES, Sample

TYPES = list(LABEL_TYPES)
PIPELINED = list(PIPELINE_TYPES)


@pytest.fixture(scope="module", params=TYPES)
def typed(request: pytest.FixtureRequest) -> tuple[LabelType, Sample]:
    return LABEL_TYPES[request.param], SAMPLES[request.param]()


def _lfs(sample: Sample, folder: Path) -> list[Any]:
    path = folder / "sample_lfs.py"
    path.write_text(sample.lf_source)
    return load_lf_modules([path])


def test_every_label_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(LABEL_TYPES)


def test_registries_are_built_from_the_type(typed: tuple[LabelType, Sample]) -> None:
    t, _ = typed
    assert label_type_for(t.name) is t
    assert t.name in lf_module.LABEL_TYPES and VOTE_COLUMN[t.name] == t.vote_column and t.name in VOTE_CHECKS
    assert (t.name in VECTORIZED_LABEL_TYPES) == t.vectorized
    assert (t.name in ANSWER_LABEL_TYPES) == (t.answer_dtype is not None)
    choices = SCHEMA.keys["labels"].keys["type"].choices  # type: ignore[union-attr]
    if t.task is None:  # Python only: no pipeline part at all
        assert t.name not in TASKS and t.name not in REPORT_TYPES and t.name not in choices
        assert t.report_type is None and t.end_models == () and t.end_model is None
        return
    assert TASKS[t.name] is t.task.load() and TASKS[t.name].label_type == t.name
    assert TASKS[t.name].end_models == t.end_models and t.end_models[-1] == "none"
    assert t.report_type is not None and REPORT_TYPES[t.name].name == t.name
    assert REPORT_TYPES[t.name].label_columns == t.label_columns and set(t.label_columns) <= set(LABEL_COLUMNS)
    assert t.name in choices and set(t.end_models) - {"none"} <= set(END_MODELS)
    assert getattr(end_models, t.end_model).__name__ == t.end_model  # type: ignore[arg-type]


def test_vote_checks_accept_the_types_votes_and_refuse_others(typed: tuple[LabelType, Sample], tmp_path: Path) -> None:
    t, sample = typed
    k = 2
    assert t.check_vote(t.abstain, k) is None
    with pytest.raises(VoteError) as refused:
        t.check_vote(sample.bad_vote, k)
    with pytest.raises(LFApplicationError, match=rf"LF 'lf' returned .* on example 'e9'; {refused.value.expected[:20]}"):
        VOTE_CHECKS[t.name]("lf", sample.bad_vote, "e9", k)
    if not t.vectorized:
        with pytest.raises(ValueError, match=f"label_type {t.name!r} is not supported"):
            VectorizedLabelingFunction("v", expr=pl.col("x"), label_type=t.name)
        return
    assert sample.bad_column is not None
    with pytest.raises(VoteError) as refused:
        t.check_column(sample.bad_column, k)
    assert refused.value.row == 1
    labels, values = t.check_column(pl.Series([None, None], dtype=sample.bad_column.dtype), k)
    assert len(labels) == 2 and (values is None or values == [None, None])


def test_votes_round_trip_through_the_store(typed: tuple[LabelType, Sample], tmp_path: Path) -> None:
    """Every LF kind the type takes (row-wise, vectorized, recorded answers) → a real DuckDB file →
    ``read_votes`` → the same votes as each LF's own checked output."""
    t, sample = typed
    frame = sample.frame.drop("gold", "split")
    lfs = _lfs(sample, tmp_path)
    if sample.answers is not None:
        lfs += answer_lfs(sample.answers, t.name)
    assert {lf.kind for lf in lfs} == {"row", *(["vectorized"] if t.vectorized else []),
                                       *(["answers"] if t.answer_dtype is not None else [])}  # fmt: skip
    rows = [Row(r) for r in frame.iter_rows(named=True)]
    ids = frame["example_id"].to_list()
    expected = []
    for lf in lfs:
        if lf.kind == "row":
            expected.append([sample.plain(t.check_vote(lf(row), 2)) for row in rows])
        elif lf.kind == "vectorized":
            labels, values = t.check_column(lf.evaluate(frame), 2)
            expected.append([sample.plain(v) for v in values] if values is not None else [None if v < 0 else int(v) for v in labels])
        else:
            answered = dict(lf.answers.rows())
            expected.append([sample.plain(answered.get(i)) for i in ids])
    with VoteStore(tmp_path / "votes.duckdb") as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        apply_to_store(store, "d", lfs, frame, keys, cardinality=2, run_id=run, progress=False, chunk_size=17)
        versions = [(lf.name, lf.version) for lf in lfs]
        votes = store.votes.read(t.name, keys, versions, **sample.context)
        assert isinstance(votes, t.votes_class)
        assert sample.cells(votes) == [list(row) for row in zip(*expected)]
        assert store.votes.coordinates(keys, versions, t.vote_column).num_rows == sum(v is not None for c in expected for v in c)


def test_label_model_fits_predicts_saves_and_loads(typed: tuple[LabelType, Sample], tmp_path: Path) -> None:
    """The type's label model on the sample's votes (LFs right up to a little noise) predicts the truth
    (its metrics equal those of the truth itself), and a saved model predicts the same once loaded."""
    t, sample = typed
    frame = sample.frame.drop("gold", "split")
    lfs = _lfs(sample, tmp_path)
    with VoteStore(tmp_path / "votes.duckdb") as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        apply_to_store(store, "d", lfs, frame, keys, cardinality=2, run_id=run, progress=False)
        votes = store.votes.read(t.name, keys, [(lf.name, lf.version) for lf in lfs], **sample.context)
    model = sample.fit(votes)
    predicted = sample.predict(model, votes)
    perfect = t.metrics(sample.truth, sample.gold, **sample.metric_options)
    assert perfect and all(v is not None for v in perfect.values())
    assert t.metrics(predicted, sample.gold, **sample.metric_options) == pytest.approx(perfect, abs=0.01)
    wrong = t.metrics(sample.truth[1:] + sample.truth[:1], sample.gold, **sample.metric_options)
    assert wrong != pytest.approx(perfect, abs=0.01)  # the metrics tell a wrong labeling apart
    model.save(tmp_path / "label_model.json")
    assert sample.predict(sample.load(str(tmp_path / "label_model.json")), votes) == predicted


def test_gold_round_trips_through_its_file_column(typed: tuple[LabelType, Sample]) -> None:
    t, sample = typed
    if t.task is None:
        with pytest.raises(NotImplementedError, match="saves no gold"):
            t.gold_column(sample.gold)
        return
    column = t.gold_column(sample.gold)
    assert column.name == "gold" and column.len() == len(sample.truth)
    back = t.read_gold(column)
    assert json.dumps(np.asarray(back).tolist() if isinstance(back, np.ndarray) else back) == json.dumps(
        np.asarray(sample.gold).tolist() if isinstance(sample.gold, np.ndarray) else sample.gold)  # fmt: skip
    assert t.gold_mask(back).all()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Sample, Path]]:
    """One pipeline run of each pipeline label type on its sample."""
    out = {}
    for name in PIPELINED:
        sample, folder = SAMPLES[name](), tmp_path_factory.mktemp(name)
        sample.frame.rename({"example_id": "id"}).write_parquet(folder / "data.parquet")
        (folder / "lfs.py").write_text(sample.lf_source)
        assert sample.pipeline is not None, f"the sample of {name!r} needs its pipeline keys"
        values = {"name": name, "store": "s.duckdb", "data": {"source": "data.parquet", "id_column": "id", "gold_column": "gold"},
                  "lfs": {"modules": ["lfs.py"]}, "export": {"dir": "exports", "formats": ["parquet", "jsonl"]},
                  **sample.pipeline}  # fmt: skip
        out[name] = (run_pipeline(config_from_dict(values, folder), progress=False, say=lambda _: None), sample, folder)
    return out


@pytest.mark.parametrize("name", PIPELINED)
def test_a_pipeline_run_labels_exports_reports_and_predicts(name: str, runs: dict[str, tuple[Any, Sample, Path]]) -> None:
    t = LABEL_TYPES[name]
    result, sample, folder = runs[name]
    classes = (sample.pipeline or {}).get("labels", {}).get("classes", [])
    with VoteStore(folder / "s.duckdb", read_only=True) as store:
        labels = store.query("SELECT * FROM labels")
        rows = store.runs.training_rows(result.run_id, "train", False)
    # the label rows fill the type's label columns, and only those
    filled = {c for c in LABEL_COLUMNS if labels[c].null_count() < labels.height}
    assert filled == set(t.label_columns) and labels.height == sample.frame.height
    # the exported training set is the type's training frame of the stored label rows
    exported = pl.read_parquet(result.run_dir / "training_set.parquet")
    assert exported.equals(training_table(t, rows, classes))
    assert [json.loads(line) for line in (result.run_dir / "training_set.jsonl").read_text().splitlines()] == exported.to_dicts()
    assert exported.height == (sample.frame["split"] == "train").sum()
    # the label model's scores are the type's metrics, per split
    test_scores = {k.removeprefix("label_model_").removesuffix("_test") for k in result.metrics if k.startswith("label_model_") and k.endswith("_test")}
    assert set(t.metrics(sample.truth, sample.gold, **sample.metric_options)) <= test_scores
    # the report of the run, for its label type, names every LF
    report = (result.run_dir / "report.html").read_text()
    assert f"weaksup LF report · {name}" in report and all(lf in report for lf in result.summary["lf"].to_list())
    # gold.parquet holds the gold the run saw
    saved = t.read_gold(pl.read_parquet(result.run_dir / "gold.parquet")["gold"])
    assert t.gold_mask(saved).sum() == sample.frame.height
    # the saved end model predicts new rows as the run scored it: the same test scores
    path = find_model(folder / "exports")
    assert path.name == t.end_model_file and model_type(path) is t
    test = sample.frame.filter(pl.col("split") == "test").drop("gold", "split").rename({"example_id": "id"})
    test.write_parquet(folder / "new.parquet")
    out, meta, predictor = predict_file(path, folder / "new.parquet", id_column="id")
    assert predictor is t and out.height == test.height and set(t.predicted_columns) <= set(out.columns)
    at = np.flatnonzero((sample.frame["split"] == "test").to_numpy())
    predicted = _predicted(t, out)
    gold = [sample.gold[i] for i in at] if isinstance(sample.gold, list) else sample.gold[at]
    for metric, value in t.metrics(predicted, gold, **sample.metric_options).items():
        assert result.metrics[f"end_model_{metric}_test"] == pytest.approx(value)


@pytest.mark.parametrize("name", PIPELINED)
def test_kept_uncovered_rows_carry_the_prior_marked_as_such(name: str, tmp_path: Path) -> None:
    """``export.keep_uncovered``: rows no LF voted on are exported with the label model's prior (the
    same label for each), ``label_source`` says ``prior`` on them and ``votes`` on the others, and
    every row carries its ``split``.  Three train rows get null in every column an LF reads (but a
    ranking's ``items``: they are the example), so no LF votes on them."""
    sample = SAMPLES[name]()
    read = {c for cols in columns_read(_lfs(sample, tmp_path), sample.frame).values() for c in cols} - {"items"}
    blank = sample.frame.filter(pl.col("split") == "train").head(3)
    blank = blank.with_columns(pl.lit(None, blank.schema[c]).alias(c) for c in read)
    frame = pl.concat([sample.frame, blank.with_columns(pl.format("blank{}", pl.int_range(3)).alias("example_id"))])
    frame.rename({"example_id": "id"}).write_parquet(tmp_path / "data.parquet")
    (tmp_path / "lfs.py").write_text(sample.lf_source)
    values = {"name": name, "store": "s.duckdb", "data": {"source": "data.parquet", "id_column": "id", "gold_column": "gold"},
              "lfs": {"modules": ["lfs.py"]}, "export": {"dir": "exports", "keep_uncovered": True},
              **(sample.pipeline or {}), "trainer": {"name": "none"}}  # fmt: skip
    result = run_pipeline(config_from_dict(values, tmp_path), progress=False, say=lambda _: None)
    exported = pl.read_parquet(result.run_dir / "training_set.parquet")
    assert exported.columns[:2] == ["example_id", "split"] and exported.columns[-2:] == ["n_votes", "label_source"]
    assert exported.height == (frame["split"] == "train").sum() and (exported["split"] == "train").all()
    prior = exported.filter(pl.col("label_source") == "prior")
    assert sorted(prior["example_id"]) == ["blank0", "blank1", "blank2"] and (prior["n_votes"] == 0).all()
    assert (exported.filter(pl.col("label_source") == "votes")["n_votes"] > 0).all()
    labels = prior.drop("example_id", "ranking", *sample.frame.columns, strict=False)  # a ranking names its own items
    assert labels.unique().height == 1  # no votes: the prior alone, the same on every such row


def _predicted(t: LabelType, out: pl.DataFrame) -> Any:
    """``weaksup predict``'s output as the type's predictions (what its metrics take)."""
    column = out[t.predicted_columns[0]]
    return column.to_list() if isinstance(column.dtype, pl.List) else column.to_numpy()


@pytest.mark.parametrize("name", [n for n in TYPES if n not in PIPELINE_TYPES])
def test_a_type_pipelines_cannot_run_is_refused_by_the_pipeline_file(name: str, tmp_path: Path) -> None:
    t = LABEL_TYPES[name]
    (tmp_path / "d.csv").write_text("text\nx\n")
    (tmp_path / "lfs.py").write_text("")
    with pytest.raises(ConfigError, match=f"labels.type.*{name}"):
        config_from_dict({"name": "p", "data": {"source": "d.csv"}, "lfs": {"modules": ["lfs.py"]},
                          "labels": {"type": name}}, tmp_path)  # fmt: skip
    for part in (lambda: t.label_rows(np.zeros(0), None, np.zeros(0)), lambda: t.load_end_model(tmp_path / "m.npz")):
        with pytest.raises(NotImplementedError, match=repr(name)):
            part()
