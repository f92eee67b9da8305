"""Bad input gets a clear message before work starts: class names, gold given as class names, a
data file's own ``example_id``, hostile or inconsistent model files, the CLI's edges (a closed
pipe, a huge ``--keep``, error texts) and malformed answers files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from support.project import LFS, ROOT, make_project, query, weaksup

from weaksup.data import load_dataset, scan_batches
from weaksup.end_models import SoftTargetRegressor, SoftTextClassifier
from weaksup.end_models.plain import ModelFileError, read_npz, write_npz
from weaksup.model import AutoLabelModel, LabelModel, make_label_model
from weaksup.votes import SparseVotes


def _refused(tmp_path: Path, pipeline: Path) -> str:
    """Run ``pipeline``; it must fail with one ``error:`` line, no traceback, and no votes stored."""
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: "), proc.stderr
    store = tmp_path / "store.duckdb"
    if store.exists():
        assert query(store, "SELECT count(*) AS n FROM votes")["n"][0] == 0
    return proc.stderr


# -- class names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "SP\nAM", "tab\there", "esc\x1b[31m"])
def test_class_names_that_are_empty_or_hold_control_characters_are_refused(tmp_path, name):
    pipeline = make_project(tmp_path)
    pipeline.write_text(pipeline.read_text().replace('classes = ["HAM", "SPAM"]', f"classes = [\"HAM\", {json.dumps(name)}]"))
    err = _refused(tmp_path, pipeline)
    assert f"labels.classes has the class name {name!r}; give each class a non-empty name of printable characters" in err
    assert not (tmp_path / "store.duckdb").exists()  # refused while reading the pipeline file


# -- gold and ids --------------------------------------------------------------------------------


def _named_gold(tmp_path: Path, names: dict[int, str]) -> None:
    """Rewrite the project's copies of the raw files with their CLASS column as class names."""
    for path in (tmp_path / "incoming").glob("*.csv"):
        frame = pl.read_csv(path)
        frame.with_columns(pl.col("CLASS").replace_strict(names, return_dtype=pl.String)).write_csv(path)


def test_a_gold_column_of_class_names_is_scored_like_class_ids(tmp_path):
    ids_dir, names_dir = tmp_path / "ids", tmp_path / "names"
    runs = {}
    for folder, names in ((ids_dir, None), (names_dir, {0: "HAM", 1: "SPAM"})):
        folder.mkdir()
        pipeline = make_project(folder)
        if names:
            _named_gold(folder, names)
        proc = weaksup("run", str(pipeline), "--quiet", cwd=folder)
        assert proc.returncode == 0, proc.stderr
        runs[folder] = [line for line in proc.stdout.splitlines() if line.startswith("label model (")]
    assert runs[ids_dir] and runs[names_dir] == runs[ids_dir]  # the same scores: names were read as gold
    assert "accuracy on covered rows" in runs[names_dir][0]


def test_a_gold_value_that_names_no_class_is_refused_with_the_example(tmp_path):
    pipeline = make_project(tmp_path)
    _named_gold(tmp_path, {0: "HAM", 1: "EGGS"})
    err = _refused(tmp_path, pipeline)
    assert "gold column 'CLASS' holds 'EGGS' for example" in err
    assert "neither one of labels.classes ['HAM', 'SPAM'] nor a class id 0..1" in err


def test_a_data_files_own_example_id_column_is_never_silently_replaced(tmp_path):
    pipeline = make_project(tmp_path)
    for path in (tmp_path / "incoming").glob("*.csv"):
        frame = pl.read_csv(path)
        frame.with_columns(pl.format(f"mine-{path.stem[:9]}-{{}}", pl.int_range(pl.len())).alias("example_id")).write_csv(path)
    err = _refused(tmp_path, pipeline)
    assert "has a column 'example_id' of its own, and data.id_column = 'COMMENT_ID'" in err
    assert "rename = { example_id = \"source_id\" }" in err and "or set data.id_column = 'example_id'" in err

    # ... and naming it as the id column takes the ids from it
    pipeline.write_text(pipeline.read_text().replace('id_column = "COMMENT_ID"', 'id_column = "example_id"')
                        .replace('duplicate_ids = "drop_identical"\n', ""))  # fmt: skip
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ids = query(tmp_path / "store.duckdb", "SELECT example_id FROM examples")["example_id"].to_list()
    assert ids and all(i.startswith("mine-") for i in ids)


def test_load_dataset_and_scan_batches_refuse_a_second_id_column_too(tmp_path):
    path = tmp_path / "d.parquet"
    pl.DataFrame({"example_id": ["a", "b"], "id": ["1", "2"], "text": ["x", "y"]}).write_parquet(path)
    with pytest.raises(ValueError, match=r"has a column 'example_id' of its own, and id_column = 'id'"):
        load_dataset(path, id_column="id")
    with pytest.raises(ValueError, match=r"has a column 'example_id' of its own, and id_column = 'id'"):
        next(scan_batches(path, id_column="id"))
    assert load_dataset(path, id_column="example_id")["example_id"].to_list() == ["a", "b"]


# -- model files -----------------------------------------------------------------------------------


def _classifier(tmp_path: Path) -> Path:
    texts = ["buy cheap pills now", "great song", "cheap pills here", "love this song", "buy now", "song of songs"]
    probs = np.array([[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.3, 0.7], [0.7, 0.3]])
    path = tmp_path / "end_model.npz"
    SoftTextClassifier(seed=0).fit(texts, probs).save(path, {"classes": ["HAM", "SPAM"], "text_column": "text"})
    return path


def _variant(path: Path, out: Path, classes: list | None = None, k: int | None = None) -> Path:
    """A copy of the classifier file ``path`` with other class names, or refitted weights for ``k`` classes."""
    meta, arrays = read_npz(path, "SoftTextClassifier", _names(path))
    model = meta.pop("model")
    meta.pop("format")
    if classes is not None:
        meta["metadata"]["classes"] = classes
    if k is not None:
        n = arrays["coef"].shape[1]
        arrays.update(coef=np.zeros((k, n)), intercept=np.zeros(k), classes=np.arange(k))
    write_npz(out, model, meta, arrays)
    return out


def _names(path: Path) -> set[str]:
    with np.load(path, allow_pickle=False) as f:
        return set(f.files) - {"__meta__"}


@pytest.mark.parametrize(
    ("case", "classes", "k", "expected"),
    [
        ("too few names", ["HAM"], None, "its class names ['HAM'] do not name its 2 classes"),
        ("too many names", ["HAM", "SPAM", "EGGS"], None, "do not name its 2 classes"),
        ("duplicate names", ["HAM", "HAM"], None, "its class names ['HAM', 'HAM'] do not name its 2 classes"),
        ("empty name", ["HAM", ""], None, "do not name its 2 classes"),
        ("no classes", [], 0, "the model has 0 classes []; a classifier needs at least 2"),
        ("one class", ["HAM"], 1, "the model has 1 classes [0]; a classifier needs at least 2"),
    ],
)
def test_predict_refuses_a_model_file_whose_classes_do_not_fit(tmp_path, case, classes, k, expected):
    bad = _variant(_classifier(tmp_path), tmp_path / "bad.npz", classes, k)
    data = tmp_path / "new.csv"
    pl.DataFrame({"text": ["cheap pills", "a song"]}).write_csv(data)
    proc = weaksup("predict", str(bad), str(data), cwd=tmp_path)
    assert proc.returncode == 1, case
    assert proc.stderr.startswith(f"error: {bad}: ") and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(ModelFileError):
        SoftTextClassifier.load(bad)


def test_a_regression_tree_with_junk_values_is_refused_at_load(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    path = tmp_path / "r.npz"
    SoftTargetRegressor(seed=0).fit(X, 2 * X[:, 0], np.ones(300)).save(path, {"features": ["a", "b", "c"]})
    names = {"value", "feature", "threshold", "missing_left", "left", "right", "is_leaf", "roots"}
    meta, arrays = read_npz(path, "SoftTargetRegressor", names)
    model = meta.pop("model")
    meta.pop("format")
    leaf = int(np.flatnonzero(arrays["is_leaf"])[0])
    inner = int(np.flatnonzero(~arrays["is_leaf"])[0])
    for what, change in [
        ("a NaN leaf", lambda a, m: a["value"].__setitem__(leaf, np.nan)),
        ("an infinite leaf", lambda a, m: a["value"].__setitem__(leaf, np.inf)),
        ("a NaN threshold", lambda a, m: a["threshold"].__setitem__(inner, np.nan)),
        ("a NaN baseline", lambda a, m: m["trees"].__setitem__("baseline", float("nan"))),
    ]:
        a, m = {k: v.copy() for k, v in arrays.items()}, json.loads(json.dumps(meta))
        change(a, m)
        write_npz(tmp_path / "bad.npz", model, m, a)
        with pytest.raises(ModelFileError, match=r"leaf values or baseline are not finite numbers, or a threshold is NaN"):
            SoftTargetRegressor.load(tmp_path / "bad.npz")
    write_npz(tmp_path / "good.npz", model, meta, arrays)
    assert np.array_equal(SoftTargetRegressor.load(tmp_path / "good.npz").predict(X),
                          SoftTargetRegressor.load(path).predict(X))  # fmt: skip


def _label_model_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    dense = np.where(rng.random((300, 4)) < 0.6, np.where(rng.random((300, 4)) < 0.8, y[:, None], 1 - y[:, None]), -1)
    path = tmp_path / "label_model.json"
    make_label_model("label_model", cardinality=2, seed=0).fit(SparseVotes.from_dense(dense)).save(path)
    return path


@pytest.mark.parametrize(
    ("where", "change", "expected"),
    [
        ("params", {"evil": 1}, r"parameters \['evil'\] are not AutoLabelModel's"),
        ("params", {"seed": {"__class__": "os.system"}}, r"parameter seed = .* is not a plain value"),
        ("params", {"cardinality": 0}, r"cardinality = 0; a label model needs an integer of at least 2"),
        ("params", {"cardinality": "2"}, r"cardinality = '2'; a label model needs an integer"),
        ("fitted_meta", {"predict_proba": "x"}, r"fitted values \['predict_proba'\] are not AutoLabelModel's"),
        ("inner params", {"tol": [1, 2]}, r"parameter tol = \[1, 2\] is not a plain value"),
        ("inner fitted_meta", {"__dict__": {}}, r"fitted values \['__dict__'\] are not (LabelModel|DawidSkene)'s"),
    ],
)
def test_a_label_model_file_is_checked_against_an_allow_list(tmp_path, where, change, expected):
    path = _label_model_file(tmp_path)
    state = json.loads(path.read_text())
    target = state["model_"] if where.startswith("inner") else state
    target[where.removeprefix("inner ")].update(change)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(state))
    with pytest.raises(ValueError, match=expected):
        AutoLabelModel.load(bad)
    assert AutoLabelModel.load(path).chosen_ in ("firing_rates", "confusion")  # the file as saved still loads


def test_a_label_model_file_with_text_for_numbers_is_refused(tmp_path):
    votes = SparseVotes.from_dense(np.array([[0, 0, 1], [1, 1, 1], [0, -1, 0], [1, 1, -1]]))
    path = tmp_path / "lm.npz"
    LabelModel(cardinality=2).fit(votes).save(path)
    with np.load(path, allow_pickle=False) as f:
        members = {name: f[name] for name in f.files}
    members["accuracies_"] = np.array(["0.9", "0.8", "0.7"])
    np.savez(path, **members)
    with pytest.raises(ValueError, match=r"fitted array accuracies_ holds <U3, not numbers"):
        LabelModel.load(path)


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ran")
    pipeline = make_project(folder)
    proc = weaksup("run", str(pipeline), "--quiet", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder, pipeline


@pytest.mark.parametrize("command", [["lfs"], ["history"], ["lfs", "--errors"], ["schema"]])
def test_a_reader_that_closes_the_pipe_early_is_not_an_error(ran_project, command):
    folder, pipeline = ran_project
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line is written, as `| head -1` does in the end
    try:
        args = [*command[:1], *([] if command == ["schema"] else [str(pipeline)]), *command[1:]]
        proc = subprocess.run([sys.executable, "-m", "weaksup.cli", *args], cwd=folder, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    finally:
        os.close(write)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_weaksup_lfs_piped_into_head_exits_0_quietly(ran_project):
    folder, pipeline = ran_project
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m weaksup.cli lfs {pipeline} | head -1"],
                          cwd=folder, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert proc.returncode == 0 and "Broken pipe" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith("LF summary of run 1")


def test_gc_keep_beyond_any_integer_type_keeps_every_run(ran_project):
    folder, pipeline = ran_project
    proc = weaksup("gc", str(pipeline), "--keep", "99999999999999999999", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("kept runs [1];")
    assert (folder / "exports" / "run-0001" / "training_set.parquet").exists()


RAISING = LFS + '''

import json


@labeling_function()
def picky(x):
    if "!" in x.text:
        raise ValueError("no exclamations")
    return ABSTAIN


@labeling_function()
def parses(x):
    if "?" in x.text:
        json.loads(x.text)
    return ABSTAIN
'''


def test_lf_errors_read_once_with_their_type_in_warnings_and_the_report(tmp_path):
    pipeline = make_project(tmp_path, lfs=RAISING)
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("warning: LF")]
    picky = next(w for w in warnings if "'picky'" in w)
    parses = next(w for w in warnings if "'parses'" in w)
    assert "': ValueError: no exclamations; list them with" in picky
    assert "': json.decoder.JSONDecodeError: Expecting value" in parses
    html = (tmp_path / "exports" / "run-0001" / "report.html").read_text()
    for text in (proc.stdout, html):
        assert "ValueError: ValueError" not in text and "JSONDecodeError: json.decoder.JSONDecodeError" not in text
    assert "ValueError: no exclamations" in html


# -- answers files -----------------------------------------------------------------------------------


def _answers(tmp_path: Path, text: str) -> Path:
    (tmp_path / "answer.csv").write_text(text)
    pipeline = tmp_path / "p.toml"
    pipeline.write_text('name = "c"\nstore = "store.duckdb"\n[answers]\nsource = "answer.csv"\n'
                        '[labels]\nclasses = ["no", "yes"]\n[trainer]\nname = "none"\n')  # fmt: skip
    return pipeline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("q,w,a\nq1,w1,yes\nq1,w2,no\nq2,w1,1\nq2,w2,0\n",
         "answers.source = 'answer.csv' names classes both by name ('yes', line 2) and by class id ('1', line 4); "
         "write every answer one way: a name of labels.classes ['no', 'yes'] or a class id 0..1"),
        ("q,w,a\nq1,w1,yes\nq1,w2,no,extra\nq2,w2,no\n",
         "answer.csv' line 3: 4 fields where the header has 3; give every row one value per column"),
        ("q,w,a\nq1,w1,yes\nq2,w1\nq2,w2,no\n",
         "answer.csv' line 3: 2 fields where the header has 3; give every row one value per column"),
        ("q,w,a\n", "answers.source = 'answer.csv' has a header row and no answers; add rows of item, worker and answer"),
        ("", "answer.csv' is empty: it has no header row and no rows"),
    ],
    ids=["mixed names and ids", "a row too long", "a row too short", "a header only", "an empty file"],
)
def test_answers_files_that_are_mixed_ragged_or_empty_say_what_is_wrong(tmp_path, text, expected):
    err = _refused(tmp_path, _answers(tmp_path, text))
    assert expected in err
    assert "item_column" not in err  # the column hint is for missing columns only
