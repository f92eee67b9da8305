"""Crowd answers as a pipeline's votes ([answers]): real runs on the shipped RTE answers, real stores."""

from __future__ import annotations

import json

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from weaksup.crowd.files import load_crowd
from weaksup.model import make_label_model
from weaksup.pipeline import ConfigError, config_from_dict, load_config, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
RTE = ROOT / "data" / "crowd" / "rte"


def _weaksup(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weaksup.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _pipeline(folder: Path, answers: Path = RTE / "answer.csv", extra: str = "", head: str = "") -> Path:
    """A crowd pipeline in ``folder`` with its own store and exports (no data source, no LF code)."""
    path = folder / "crowd.toml"
    path.write_text(
        f'name = "crowd"\nstore = "store.duckdb"\n{head}\n[answers]\nsource = "{answers}"\ntruth = "{RTE / "truth.csv"}"\n'
        f'{extra}\n[labels]\nclasses = ["no", "yes"]\n[trainer]\nname = "none"\n[export]\ndir = "exports"\n'
    )
    return path


def _default_on_load_crowd(answers: Path = RTE / "answer.csv"):
    """The default label model fitted on load_crowd's votes of the same file: the reference."""
    crowd = load_crowd(answers, RTE / "truth.csv", classes=["0", "1"])
    model = make_label_model("label_model", cardinality=2, seed=0).fit(crowd.votes)
    return crowd, model


def test_shipped_crowd_pipeline_labels_equal_the_default_model_on_load_crowd_votes(tmp_path):
    store, exports = tmp_path / "rte.duckdb", tmp_path / "exports"
    args = ("run", str(ROOT / "pipelines" / "crowd_rte.toml"), "--quiet", "--set", f"store={store}",
            "--set", f"export.dir={exports}")  # fmt: skip
    proc = _weaksup(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "answers: 8,000 from 164 workers on 800 items" in proc.stdout

    crowd, model = _default_on_load_crowd()
    manifest = json.loads((exports / "run-0001" / "manifest.json").read_text())
    assert manifest["label_model"]["chosen"] == model.chosen_  # the run says what it chose, and why
    assert "held-out" in manifest["label_model"]["reason"]  # why, in figures (the LFs' order differs, so its sample too)
    assert f"the label model label_model chose {model.chosen_}: " in proc.stdout
    train = pl.read_parquet(exports / "run-0001" / "training_set.parquet")
    assert train["example_id"].to_list() == list(crowd.items)  # every item is answered, in file order
    probs = model.predict_proba(crowd.votes)
    assert np.allclose(train.select("prob_no_entailment", "prob_entailment").to_numpy(), probs)
    assert train["label"].to_list() == model.predict(crowd.votes).tolist()

    # Accuracy against truth.csv is what the default gets on those votes, and what the run reports.
    expected = float((model.predict(crowd.votes) == crowd.truth).mean())
    truth = pl.read_csv(RTE / "truth.csv", schema_overrides={"question": pl.String})
    joined = train.join(truth, left_on="example_id", right_on="question")
    assert joined.height == 800 and float((joined["label"] == joined["truth"]).mean()) == pytest.approx(expected)
    assert f"accuracy on all rows {expected:.3f}" in proc.stdout

    con = duckdb.connect(str(store), read_only=True)
    kinds = con.execute("SELECT kind, count(*) FROM lfs GROUP BY kind").fetchall()
    n_votes = con.execute("SELECT count(*) FROM votes").fetchall()[0][0]
    con.close()
    assert kinds == [("answers", 164)] and n_votes == crowd.votes.nnz

    # The store's commands read a crowd run like any other.
    for command in (("status",), ("lfs",), ("history",), ("export", "--run", "1", "--format", "csv")):
        got = _weaksup(*command[:1], str(store), *command[1:], cwd=tmp_path)
        assert got.returncode == 0, (command, got.stderr)
    assert "AEX5NCH03LWSG" in _weaksup("lfs", str(store), cwd=tmp_path).stdout
    report = (exports / "run-0001" / "report.html").read_text(encoding="utf-8")
    # 164 workers: the agreement heatmap shows the 60 with the most votes (3,600 cells, not 26,896)
    assert "the 60 LFs with the most votes, of 164" in report
    heatmap = report[report.index('data-chart="agreement"') :]
    heatmap = heatmap[: heatmap.index("</svg>")]
    assert heatmap.count("<rect class=\"mark\"") == 60 * 60

    again = _weaksup(*args, cwd=tmp_path)  # nothing changed: the run is skipped
    assert again.returncode == 0, again.stderr
    assert "nothing changed since run 1" in again.stdout
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT status FROM runs ORDER BY run_id").fetchall() == [("succeeded",), ("skipped",)]
    con.close()


def test_editing_one_workers_answers_restores_only_that_worker(tmp_path):
    answers = tmp_path / "answer.csv"
    rows = pl.read_csv(RTE / "answer.csv", infer_schema=False)
    rows.write_csv(answers)
    pipeline = _pipeline(tmp_path, answers, head="[lfs]\nchunk_size = 128\n")  # 7 chunks of examples
    first = run_pipeline(pipeline, progress=False, say=lambda s: None)
    assert first.metrics["lf_applications"] == 164 * 800

    worker = "A19IBSKBTABMR3"
    mine = (rows["worker"] == worker).arg_max()
    flipped = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == mine).then(pl.lit("1") if rows["answer"][mine] == "0" else pl.lit("0"))
        .otherwise(pl.col("answer")).alias("answer")
    )  # fmt: skip
    flipped.sample(fraction=1.0, shuffle=True, seed=1).write_csv(answers)  # row order is not an answer
    second = run_pipeline(pipeline, progress=False, say=lambda s: None)
    assert second.metrics["lf_applications"] == 800  # one worker, re-applied to every example

    with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as con:
        versions = dict(con.execute("SELECT lf_name, count(DISTINCT lf_version) FROM votes GROUP BY lf_name").fetchall())
        new = con.execute(
            "SELECT DISTINCT lf_name FROM votes v JOIN lfs USING (lf_name, lf_version) WHERE lfs.first_run = 2"
        ).fetchall()
    assert versions[worker] == 2 and {n for name, n in versions.items() if name != worker} == {1}
    assert new == [(worker,)]
    # The second run's labels equal the default model on the edited file's votes.
    _, model = _default_on_load_crowd(answers)
    train = pl.read_parquet(second.run_dir / "training_set.parquet")
    crowd = load_crowd(answers, RTE / "truth.csv", classes=["0", "1"])
    by_item = dict(zip(crowd.items, model.predict_proba(crowd.votes)[:, 1]))
    assert np.allclose(train["prob_yes"].to_numpy(), [by_item[i] for i in train["example_id"]])


def test_answers_join_data_examples_mix_with_coded_lfs_and_read_parquet_by_column_name(tmp_path):
    items = pl.read_csv(RTE / "truth.csv", infer_schema=False)["question"]
    # The data holds 790 of the 800 items (10 answered items are strays) plus 5 nobody answered.
    data = pl.DataFrame({"qid": [*[f"new{i}" for i in range(5)], *items[:790]]})
    data = data.with_columns(pl.format("sentence {}", "qid").alias("text"))
    data.write_csv(tmp_path / "data.csv")
    renamed = pl.read_csv(RTE / "answer.csv", infer_schema=False).rename({"question": "q", "worker": "who", "answer": "said"})
    renamed.select("said", "who", "q").write_parquet(tmp_path / "answers.parquet")  # columns found by name
    (tmp_path / "lfs.py").write_text(
        "from weaksup import ABSTAIN, labeling_function\n"
        "@labeling_function()\ndef says_new(x):\n    return 0 if 'new' in x.text else ABSTAIN\n"
    )
    said = []
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "mixed"\nstore = "store.duckdb"\n[data]\nsource = "data.csv"\nid_column = "qid"\n'
        f'[answers]\nsource = "answers.parquet"\nitem_column = "q"\nworker_column = "who"\nanswer_column = "said"\n'
        f'truth = "{RTE / "truth.csv"}"\n[labels]\nclasses = ["no", "yes"]\n[lfs]\nmodules = ["lfs.py"]\n'
        '[trainer]\nname = "tfidf_logreg"\n[export]\ndir = "exports"\nkeep_uncovered = true\n'
    )
    result = run_pipeline(path, progress=False, say=said.append)
    assert "answers: 8,000 from 164 workers on 800 items (answers.parquet); 10 answered items are not examples" in said[0]
    train = pl.read_parquet(result.run_dir / "training_set.parquet")
    assert train.height == 795 and train.columns[:3] == ["example_id", "split", "text"]
    assert train.filter(pl.col("example_id").str.starts_with("new"))["label_name"].to_list() == ["no"] * 5
    gold = pl.read_parquet(result.run_dir / "gold.parquet")
    assert gold.height == 795
    assert 0.85 < result.metrics["label_model_accuracy_covered_train"] <= 1


def test_regression_answers_are_numbers(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.normal(50, 10, 60)
    rows = [(f"i{i}", f"w{w}", f"{truth[i] + rng.normal(0, 2 + w):.3f}") for i in range(60) for w in range(4)]
    pl.DataFrame(rows, schema=["item", "worker", "answer"], orient="row").write_csv(tmp_path / "a.csv")
    pl.DataFrame({"item": [f"i{i}" for i in range(60)], "truth": truth}).write_csv(tmp_path / "t.csv")
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "reg"\nstore = "s.duckdb"\n[answers]\nsource = "a.csv"\ntruth = "t.csv"\n'
        '[labels]\ntype = "regression"\n[trainer]\nname = "none"\n[export]\ndir = "exports"\n'
    )
    result = run_pipeline(path, progress=False, say=lambda s: None)
    values = pl.read_parquet(result.run_dir / "training_set.parquet")["value"].to_numpy()
    best_worker = np.array([float(a) for i, w, a in rows if w == "w0"])  # the least noisy worker
    assert np.mean(np.abs(values - truth)) < np.mean(np.abs(best_worker - truth))
    assert result.metrics["label_model_mae_train"] == pytest.approx(np.mean(np.abs(values - truth)))

    (tmp_path / "a.csv").write_text("item,worker,answer\ni1,w1,5\ni2,w1,high\n")
    with pytest.raises(ValueError, match=r"'a.csv' line 3 \(item 'i2', worker 'w1'\): answer 'high' is not a finite number"):
        run_pipeline(path, progress=False, say=lambda s: None)


@pytest.mark.parametrize(
    ("answers", "extra", "message"),
    [
        ("question,worker,answer\n266,w1,1\n934,w2,maybe\n", "",
         r"answers.source = '.*a.csv' line 3 \(item '934', worker 'w2'\): answer 'maybe' is not one of labels.classes "
         r"\['no', 'yes'\], and not every answer is a class id 0..1 either; add the class to labels.classes"),
        ("question,worker,answer\n266,w1,yes\n934,w2,1\n", 'classes_by = "name"',
         r"line 3 \(item '934', worker 'w2'\): answer '1' is not one of labels.classes \['no', 'yes'\] \(answers.classes_by = 'name'\)"),
        ("question,worker,answer\n266,w1,1\n934,w2,2\n", 'classes_by = "id"',
         r"line 3 .*answer '2' is not a class id 0..1 \(answers.classes_by = 'id'\)"),
        ("question,worker,answer\n266,w1,1\n", 'item_column = "item"',
         r"answers.source = '.*a.csv': '.*a.csv' has no column 'item' for the item; its columns are \['question', 'worker', 'answer'\]"),
        ("question,worker\n266,w1\n", "",
         r"needs 3: item, worker, answer .*answers.item_column, worker_column and answer_column name the columns"),
        ("question,worker,answer\n266,w1,1\n266,w1,0\n", 'repeats = "error"',
         r"line 3: worker 'w1' answers item '266' again; set answers.repeats = 'first' or 'last'"),
    ],
)
def test_bad_answers_are_refused_before_work_starts_naming_file_row_and_fix(tmp_path, answers, extra, message):
    (tmp_path / "a.csv").write_text(answers)
    path = _pipeline(tmp_path, tmp_path / "a.csv", extra)
    with pytest.raises(ValueError, match=message):
        run_pipeline(path, progress=False, say=lambda s: None)
    assert not (tmp_path / "exports").exists()
    with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM votes").fetchall() == [(0,)]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace(f'source = "{RTE / "answer.csv"}"', 'source = "missing.csv"'),
         r"answers.source = 'missing.csv' does not exist \(paths are relative to the pipeline file\)"),
        (lambda t: t.split("[answers]")[0] + '[lfs]\nmodules = ["d.csv"]\n',
         r"missing required key 'data.source': .*Required unless \[answers\] is given"),
        (lambda t: t.split("[answers]")[0] + '[data]\nsource = "d.csv"\n[trainer]\nname = "none"\n',
         r"the pipeline has no votes: list LF files in lfs.modules, or name a crowd answers file in \[answers\]"),
        (lambda t: t.replace('name = "none"', 'name = "tfidf_logreg"'),
         r"without data.source the examples are the answers' items, with no inputs for an end model: set trainer.name = 'none'"),
        (lambda t: t.replace('classes = ["no", "yes"]', 'type = "ranking"'),
         r"\[answers\] holds one class or number per item and worker; a ranking pipeline takes its votes from LFs"),
        (lambda t: t.replace("[labels]", '[data]\nsource = "d.csv"\nid_column = "id"\ngold_column = "g"\n[labels]'),
         r"gold comes from data.gold_column and answers.truth both; keep one"),
        (lambda t: t.replace("[labels]", '[data]\nsource = "d.csv"\nid_column = "id"\nstream = true\n[labels]'),
         r"data.stream = true cannot take \[answers\]: the answers are read whole; drop data.stream"),
        (lambda t: t.replace("[labels]", '[holdout]\nsource = "d.csv"\n[labels]'),
         r"\[holdout\] matches data texts, and without data.source the examples have none; give data.source"),
    ],
)
def test_answers_config_errors_name_the_key_and_fix(tmp_path, edit, message):
    (tmp_path / "d.csv").write_text("id,text,g\n266,a,1\n")
    path = _pipeline(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_readme_crowd_block_is_the_shipped_pipeline_and_valid():
    block = next(b for b in re.findall(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S) if "[answers]" in b)
    shipped = tomllib.loads((ROOT / "pipelines" / "crowd_rte.toml").read_text())
    shown = tomllib.loads(block)
    assert {k: v for k, v in shown.items() if not isinstance(v, dict)} == {
        k: v for k, v in shipped.items() if not isinstance(v, dict)}  # fmt: skip
    for section, keys in shown.items():
        if isinstance(keys, dict):
            assert keys.items() <= shipped[section].items(), section
    assert config_from_dict(shown, ROOT / "pipelines").settings.answers is not None


@pytest.mark.parametrize(("repeats", "kept"), [("first", 1), ("last", 0)])
def test_a_repeated_answer_keeps_the_first_or_last_and_is_counted(tmp_path, repeats, kept):
    (tmp_path / "a.csv").write_text("question,worker,answer\n266,w1,1\n934,w1,0\n266,w1,0\n266,w2,1\n934,w3,1\n")
    said: list[str] = []
    result = run_pipeline(_pipeline(tmp_path, tmp_path / "a.csv", f'repeats = "{repeats}"'), progress=False, say=said.append)
    assert said[0].startswith("answers: 4 from 3 workers on 2 items") and "1 repeated answers dropped" in said[0]
    with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as con:
        votes = con.execute(
            "SELECT v.label FROM votes v JOIN examples e USING (ex_key) WHERE v.lf_name = 'w1' AND e.example_id = '266'"
        ).fetchall()
    assert votes == [(kept,)]
    assert result.metrics["lf_applications"] == 3 * 800  # RTE's truth names 800 items: the examples (2 answered)
