"""End models on any columns (issue 23): the breast-cancer pipeline with gradient boosting, an
estimator given in Python or by import path, skops files checked against exact trusted types,
class metrics in the run, the manifest and ``weaksup predict --score``, and the messages for bad
input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC
from support.project import ROOT

from weaksup.end_models.plain import ModelFileError
from weaksup.end_models.trusted_files import load_skops
from weaksup.pipeline import ConfigError, load_config, run_pipeline
from weaksup.pipeline.tasks.features import FIRST_TRACE_ROWS
from weaksup.store import VoteStore


def _breast_cancer(tmp_path: Path, trainer: str = 'name = "hist_gradient_boosting"') -> Path:
    """The shipped breast-cancer pipeline in ``tmp_path`` (its data and LFs copied), with ``trainer``."""
    for folder in ("data/breast_cancer", "labeling_functions"):
        shutil.copytree(ROOT / folder, tmp_path / folder, dirs_exist_ok=True)
    (tmp_path / "pipelines").mkdir()
    text = (ROOT / "pipelines" / "breast_cancer.toml").read_text()
    text = text.replace('name = "hist_gradient_boosting"   # HistGradientBoostingClassifier, saved as plain data', trainer)
    path = tmp_path / "pipelines" / "breast_cancer.toml"
    path.write_text(text)
    return path


def _weaksup(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weaksup.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_breast_cancer_trains_gradient_boosting_on_the_columns_no_lf_reads(tmp_path):
    pipeline = _breast_cancer(tmp_path)
    lines: list[str] = []
    result = run_pipeline(pipeline, say=lines.append)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    end = manifest["end_model"]
    read = {"worst_radius", "worst_concave_points", "mean_concave_points", "mean_concavity", "mean_texture"}
    assert end["file"] == "end_model.npz" and end["soft_labels"] == "expand" and len(end["features"]) == 25
    assert not read & set(end["features"]) and set(end["features"].values()) == {"number"}
    test = end["scores"]["test"]
    assert set(test["per_class"]) == {"malignant", "benign"} and sum(map(sum, test["confusion"])) == 171
    assert result.metrics["end_model_accuracy_test"] > 0.9 and result.metrics["end_model_macro_f1_test"] > 0.9
    assert 0 < result.metrics["end_model_log_loss_test"] < 0.5
    assert any(line.startswith("end model on test, per class (precision/recall/F1): malignant ") for line in lines)
    report = (result.run_dir / "report.html").read_text()
    assert 'id="end-model"' in report and 'data-table="end-model-test"' in report and "predicted malignant" in report

    cases = tmp_path / "cases.csv"
    pl.read_csv(ROOT / "data/breast_cancer/breast_cancer.csv").filter(pl.col("split") == "test").write_csv(cases)
    proc = _weaksup("predict", str(pipeline), str(cases), "--score", "diagnosis", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    accuracy = result.metrics["end_model_accuracy_test"]
    assert f"scores against 'diagnosis' (171 rows with gold): accuracy {accuracy:.3f}" in proc.stdout
    assert "confusion (rows: gold, columns: predicted, in class order malignant, benign):" in proc.stdout


def test_an_estimator_from_python_or_an_import_path_is_saved_through_skops_and_predicts(tmp_path):
    pipeline = _breast_cancer(tmp_path)
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    result = run_pipeline(pipeline, end_model=forest)
    end = json.loads((result.run_dir / "manifest.json").read_text())["end_model"]
    assert end["file"] == "end_model.skops" and end["estimator"].startswith("RandomForestClassifier(")
    assert result.metrics["end_model_accuracy_test"] > 0.85
    model = load_skops(result.run_dir / "end_model.skops")
    cases = pl.read_csv(ROOT / "data/breast_cancer/breast_cancer.csv").filter(pl.col("split") == "test")
    assert model.predict_proba(cases).shape == (171, 2)

    by_path = _breast_cancer(tmp_path / "b", 'name = "sklearn.ensemble:ExtraTreesClassifier"\nparams = {n_estimators = 10}')
    again = run_pipeline(by_path)
    end = json.loads((again.run_dir / "manifest.json").read_text())["end_model"]
    assert end["estimator"].startswith("ExtraTreesClassifier(") and "n_estimators=10" in end["estimator"]


def test_a_skops_file_naming_an_untrusted_type_is_refused_before_any_code_runs(tmp_path):
    marker = tmp_path / "pwned"
    schema = {  # a trusted estimator holding an untrusted class whose construction would write the marker
        "__class__": "LogisticRegression", "__module__": "sklearn.linear_model._logistic", "__loader__": "ObjectNode",
        "protocol": 2, "content": {"C": {"__class__": "Path", "__module__": "pathlib", "__loader__": "ObjectNode",
                                         "content": {"args": [str(marker)]}}},
    }  # fmt: skip
    path = tmp_path / "end_model.skops"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    with pytest.raises(ModelFileError, match=r"holds the untrusted types \['pathlib.Path'\]; nothing was loaded"):
        load_skops(path)
    schema["content"]["C"] = {"__class__": "exec", "__module__": "builtins", "__loader__": "FunctionNode"}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    with pytest.raises(ModelFileError):  # a function is never trusted, whatever the caller names
        load_skops(path, trusted=["builtins.exec"])
    assert not marker.exists()
    with pytest.raises(ConfigError, match="is not an exact type name"):
        load_config(_breast_cancer(tmp_path / "c", 'name = "logreg"\ntrusted_types = ["sklearn.*"]'))


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ('name = "logreg"\nfeatures = ["worst_radius", "mean_area"]',
         "trainer.features lists 'worst_radius', which LF 'large_nuclei' reads; the end model must not see"),
        ('name = "logreg"\nfeatures = ["no_such_column"]', "trainer.features lists 'no_such_column', which is not an input"),
        ('name = "sklearn.preprocessing:StandardScaler"', "which has no predict_proba"),
        ('name = "sklearn.ensemble:NoSuchForest"', "module 'sklearn.ensemble' has no 'NoSuchForest'"),
        ('name = "logreg"\nparams = {no_such_param = 1}', "trainer.params do not fit LogisticRegression"),
    ],
)
def test_bad_end_model_settings_get_a_clear_message(tmp_path, trainer, message):
    with pytest.raises((ConfigError, ValueError, TypeError), match=message):
        run_pipeline(_breast_cancer(tmp_path, trainer))


COUNTING_LF = """
from pathlib import Path
from weaksup import ABSTAIN, labeling_function

@labeling_function()
def large_radius(x):
    with open(Path(__file__).with_name("calls.txt"), "a") as out:
        out.write(".")
    return 0 if x.worst_radius > 17 else ABSTAIN
"""


def test_a_feature_column_an_lf_reads_is_refused_before_any_lf_runs_on_the_data(tmp_path):
    pipeline = _breast_cancer(tmp_path, 'name = "logreg"\nfeatures = ["mean_area", "worst_radius"]')
    (tmp_path / "labeling_functions" / "counting.py").write_text(COUNTING_LF)
    pipeline.write_text(pipeline.read_text().replace("breast_cancer.py", "counting.py"))
    message = (r"trainer.features lists 'worst_radius', which LF 'large_radius' reads; the end model must not see the "
               r"columns the LFs read \(it would learn the LFs back\): drop 'worst_radius' from trainer.features")  # fmt: skip
    with pytest.raises(ValueError, match=message):
        run_pipeline(pipeline, progress=False, say=lambda _: None)
    calls = (tmp_path / "labeling_functions" / "calls.txt").read_text()
    assert 0 < len(calls) <= FIRST_TRACE_ROWS  # traced on a few examples, never run on the 569
    with VoteStore(tmp_path / "stores" / "breast_cancer.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == 0
        assert store.query("SELECT status FROM runs")["status"].to_list() == ["failed"]


def test_a_column_the_end_model_cannot_read_and_an_estimator_without_predict_proba(tmp_path):
    pipeline = _breast_cancer(tmp_path, 'name = "logreg"\nfeatures = ["mean_area", "seen"]')
    data = tmp_path / "data/breast_cancer/breast_cancer.csv"
    frame = pl.read_csv(data)
    frame.with_columns(seen=pl.lit([1, 2], dtype=pl.List(pl.Int64))).write_parquet(data.with_suffix(".parquet"))
    pipeline.write_text(pipeline.read_text().replace("breast_cancer.csv", "breast_cancer.parquet"))
    with pytest.raises(ValueError, match=r"trainer.features lists 'seen' of type List\(Int64\); the end model reads"):
        run_pipeline(pipeline)
    with pytest.raises(TypeError, match=r"SVC, which has no predict_proba \(SVC: pass probability=True\)"):
        run_pipeline(_breast_cancer(tmp_path / "b"), end_model=SVC())


def test_soft_labels_reach_an_estimator_without_sample_weight_by_argmax(tmp_path):
    from sklearn.neighbors import KNeighborsClassifier

    result = run_pipeline(_breast_cancer(tmp_path), end_model=KNeighborsClassifier())
    end = json.loads((result.run_dir / "manifest.json").read_text())["end_model"]
    assert end["soft_labels"] == "argmax (fit takes no sample_weight)" and end["file"] == "end_model.skops"
    probs = np.array(load_skops(result.run_dir / "end_model.skops", trusted=[
        "sklearn.neighbors._classification.KNeighborsClassifier", "sklearn.neighbors._kd_tree.KDTree"]).predict_proba(
        pl.read_csv(ROOT / "data/breast_cancer/breast_cancer.csv").head(5)))  # fmt: skip
    assert probs.shape == (5, 2) and np.allclose(probs.sum(axis=1), 1)


def test_the_new_trainer_keys_at_their_defaults_keep_a_pipeline_hash(tmp_path):
    """Keys added by issue 23 join the hash only when set, so existing pipelines are not re-run as changed."""
    plain = load_config(_breast_cancer(tmp_path / "a", 'name = "logreg"')).hash
    spelled = 'name = "logreg"\ntext_featurizer = "tfidf"\nsoft_labels = "auto"\ntrusted_types = []'
    assert load_config(_breast_cancer(tmp_path / "b", spelled)).hash == plain
    assert load_config(_breast_cancer(tmp_path / "c", 'name = "logreg"\nsoft_labels = "argmax"')).hash != plain
