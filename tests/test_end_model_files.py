"""End-model files are plain data: they round-trip exactly, stay small, and loading one never runs code."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from weaksup.end_models import PairwiseRanker, SoftTargetRegressor, SoftTextClassifier
from weaksup.end_models.plain import ModelFileError

ROOT = Path(__file__).resolve().parents[1]
SMS = ROOT.parent / "shared" / "data" / "sms"
TEXTS = ["buy cheap pills now", "great song love it", "cheap pills for sale", "love this song so much",
         "visit my channel", "best song ever", "subscribe to my channel", "this beat is great"]  # fmt: skip
PROBS = np.array([[0.1, 0.9], [0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.3, 0.7], [0.7, 0.3], [0.1, 0.9], [0.9, 0.1]])


def _wrench_texts(folder: Path, split: str) -> tuple[list[str], np.ndarray]:
    data = json.loads((folder / f"{split}.json").read_text()).values()
    return [ex["data"]["text"] for ex in data], np.array([ex["label"] for ex in data])


def _soft(labels: np.ndarray, k: int) -> np.ndarray:
    probs = np.full((len(labels), k), 0.2 / (k - 1))
    probs[np.arange(len(labels)), labels] = 0.8
    return probs


def _rewrite(path: Path, out: Path, meta: dict | None = None, **arrays: np.ndarray) -> Path:
    """A copy of the npz file ``path`` with its header replaced by ``meta`` and some arrays replaced."""
    with np.load(path, allow_pickle=False) as f:
        members = {name: f[name] for name in f.files}
    if meta is not None:
        members["__meta__"] = np.array(json.dumps(meta))
    members.update(arrays)
    with zipfile.ZipFile(out, "w") as z:  # by hand, so a test can plant pickled object arrays too
        for name, array in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=True)
            z.writestr(f"{name}.npy", buf.getvalue())
    return out


class Payload:
    """Unpickling this runs ``code`` (what a hostile file would smuggle in an object array)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


# -- exact round trips ------------------------------------------------------------------------


def test_text_classifier_round_trips_bit_identically(tmp_path):
    texts, labels = _wrench_texts(ROOT / "data" / "youtube", "train")
    for k in (2, 3):  # liblinear (binary) and lbfgs (multinomial)
        probs = _soft(labels if k == 2 else np.where(np.arange(len(labels)) % 5 == 0, 2, labels), k)
        model = SoftTextClassifier(C=2.0, seed=0).fit(texts, probs)
        model.save(tmp_path / f"m{k}.npz", {"classes": [f"c{i}" for i in range(k)], "text_column": "text"})
        loaded = SoftTextClassifier.load(tmp_path / f"m{k}.npz")
        meta = loaded.metadata_
        assert meta == {"classes": [f"c{i}" for i in range(k)], "text_column": "text"} and loaded.C == 2.0
        new = [*texts[:200], "never seen words ünïcödé", ""]
        assert np.array_equal(loaded.predict_proba(new), model.predict_proba(new))


def test_regressor_round_trips_bit_identically_with_missing_values(tmp_path):
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values take the learned side of each split
    y = np.nan_to_num(X[:, 0]) * 2 + np.sin(np.nan_to_num(X[:, 1])) + rng.normal(0, 0.1, 1000)
    var = rng.uniform(0.5, 2, 1000)
    for est in (None, HistGradientBoostingRegressor(loss="poisson", max_iter=50, random_state=0)):
        target = y if est is None else np.exp(y / 3)
        model = SoftTargetRegressor(est, seed=3).fit(X, target, var)
        model.save(tmp_path / "r.npz", {"features": ["a", "b", "c", "d"]})
        loaded = SoftTargetRegressor.load(tmp_path / "r.npz")
        meta = loaded.metadata_
        fresh = rng.normal(size=(1000, 4))
        fresh[::7, 2] = np.nan
        assert np.array_equal(loaded.predict(fresh), model.predict(fresh)) and loaded.seed == 3
        assert meta == {"features": ["a", "b", "c", "d"]}
    from sklearn.linear_model import LinearRegression

    with pytest.raises(TypeError, match="a LinearRegression cannot be saved as plain data"):
        SoftTargetRegressor(LinearRegression()).fit(np.nan_to_num(X), y, var).save(tmp_path / "lin.npz")


def test_ranker_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(4, 3)) for _ in range(50)]
    P = [1 / (1 + np.exp(-(x[:, 0][:, None] - x[:, 0][None, :]))) for x in X]
    ranker = PairwiseRanker(C=0.5, seed=2).fit(X, P)
    ranker.save(tmp_path / "r.json", {"features": ["a", "b", "c"]})
    loaded = PairwiseRanker.load(tmp_path / "r.json")
    meta = loaded.metadata_
    assert meta == {"features": ["a", "b", "c"]} and loaded.get_params() == ranker.get_params()
    assert all(np.array_equal(a, b) for a, b in zip(loaded.decision_function(X), ranker.decision_function(X)))


# -- small files -------------------------------------------------------------------------------


def test_the_youtube_end_model_file_is_small(tmp_path):
    texts, labels = _wrench_texts(ROOT / "data" / "youtube", "train")
    SoftTextClassifier(seed=0).fit(texts, _soft(labels, 2)).save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").stat().st_size < 5e6


@pytest.mark.skipif(not SMS.exists(), reason="the SMS data set is not beside this checkout")
def test_an_sms_sized_end_model_file_is_small(tmp_path):
    texts, labels = _wrench_texts(SMS, "train")
    assert len(texts) > 4000
    SoftTextClassifier(seed=0).fit(texts, _soft(labels, 2)).save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").stat().st_size < 5e6


# -- hostile files ------------------------------------------------------------------------------


def _skops_like(path: Path, marker: Path) -> Path:
    """The issue's payload as skops would store it: a Pipeline of FunctionTransformer(numpy.full_like),
    FunctionTransformer(builtins.min), FunctionTransformer(builtins.exec) and a LogisticRegression."""

    def function(module: str, name: str) -> dict:
        return {"__class__": name, "__module__": module, "__loader__": "TypeNode"}

    def transformer(func: dict, kw: dict | None = None) -> dict:
        return {"__class__": "FunctionTransformer", "__module__": "sklearn.preprocessing._function_transformer",
                "__loader__": "ObjectNode", "content": {"func": func, "kw_args": kw or {}}}  # fmt: skip

    schema = {
        "__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ObjectNode", "protocol": 2,
        "content": {"steps": [
            ["fill", transformer(function("numpy", "full_like"), {"fill_value": f"open({str(marker)!r}, 'w')"})],
            ["pick", transformer(function("builtins", "min"))],
            ["run", transformer(function("builtins", "exec"))],
            ["model", {"__class__": "LogisticRegression", "__module__": "sklearn.linear_model._logistic"}],
            ["tricks", transformer(function("operator", "attrgetter")), transformer(function("functools", "partial"))],
        ]},
    }  # fmt: skip
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return path


def test_a_crafted_skops_payload_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    for name in ("end_model.skops", "end_model.npz"):
        path = _skops_like(tmp_path / name, marker)
        with pytest.raises(ModelFileError, match="is a skops file; weaksup no longer loads those"):
            SoftTextClassifier.load(path)
        with pytest.raises(ModelFileError, match="is a skops file"):
            SoftTargetRegressor.load(path)
    assert not marker.exists()


def test_pickled_object_arrays_are_refused_before_they_are_read(tmp_path):
    marker = tmp_path / "pwned"
    good = tmp_path / "good.npz"
    SoftTextClassifier(seed=0).fit(TEXTS, PROBS).save(good)
    evil = _rewrite(good, tmp_path / "evil.npz", coef=np.array([Payload(f"open({str(marker)!r}, 'w').close()")]))
    with pytest.raises(ModelFileError, match=r"array 'coef.npy' has dtype object; .*never pickled objects"):
        SoftTextClassifier.load(evil)
    assert not marker.exists()
    np.load(evil, allow_pickle=True)["coef"]  # the payload is live: reading it with pickles allowed runs it
    assert marker.exists()


def test_structured_arrays_extra_members_and_other_files_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    SoftTextClassifier(seed=0).fit(TEXTS, PROBS).save(good)
    record = np.zeros(3, dtype=[("f", "<f8"), ("g", "<i8")])
    with pytest.raises(ModelFileError, match=r"array 'intercept.npy' has dtype \[\('f', '<f8'\)"):
        SoftTextClassifier.load(_rewrite(good, tmp_path / "s.npz", intercept=record))
    with pytest.raises(ModelFileError, match=r"is not a SoftTextClassifier file: it holds \[.*'payload.npy'"):
        SoftTextClassifier.load(_rewrite(good, tmp_path / "x.npz", payload=np.zeros(2)))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError, match="is not an npz model file"):
        SoftTextClassifier.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match="run the pipeline first"):
        SoftTextClassifier.load(tmp_path / "missing.npz")


def test_header_values_outside_the_allow_list_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    SoftTextClassifier(seed=0).fit(TEXTS, PROBS).save(good)
    with np.load(good, allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"]))

    def refused(change, message: str) -> None:
        bad = json.loads(json.dumps(meta))
        change(bad)
        with pytest.raises(ModelFileError, match=message):
            SoftTextClassifier.load(_rewrite(good, tmp_path / "bad.npz", bad))

    refused(lambda m: m["vectorizers"]["words"].update(preprocessor="builtins.exec"),
            r"vectorizer 'words': parameters \['preprocessor'\] are not allowed")  # fmt: skip
    refused(lambda m: m["vectorizers"]["chars"].update(analyzer={"__class__": "partial", "__module__": "functools",
                                                                 "func": "operator.attrgetter"}),
            r"vectorizer 'chars': analyzer = \{'__class__': 'partial'.* is not an allowed value")  # fmt: skip
    refused(lambda m: m["logistic"].update(solver="numpy.full_like"), "logistic: solver = 'numpy.full_like' is not")
    refused(lambda m: m["params"].update(C="1e3"), "params: C = '1e3' is not an allowed value")
    refused(lambda m: m.update(model="FunctionTransformer"), "holds a 'FunctionTransformer' model, not a SoftTextClassifier")
    refused(lambda m: m.update(format=99), "has format 99; this weaksup reads format 1")
    with pytest.raises(ModelFileError, match=r"weights of shape \(1, 3\)"):
        SoftTextClassifier.load(_rewrite(good, tmp_path / "w.npz", coef=np.zeros((1, 3))))


def test_ranker_and_regressor_files_are_checked_too(tmp_path):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(4, 2)) for _ in range(20)]
    PairwiseRanker().fit(X, [np.full((4, 4), 0.5)] * 20).save(tmp_path / "r.json")
    state = json.loads((tmp_path / "r.json").read_text())
    state["params"]["C"] = {"py/function": "builtins.exec"}
    (tmp_path / "bad.json").write_text(json.dumps(state))
    with pytest.raises(ModelFileError, match=r"params: C = \{'py/function': 'builtins.exec'\} is not an allowed value"):
        PairwiseRanker.load(tmp_path / "bad.json")

    Xr = rng.normal(size=(200, 2))
    SoftTargetRegressor().fit(Xr, Xr[:, 0], np.ones(200)).save(tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as f:
        left, meta = f["left"].copy(), json.loads(str(f["__meta__"]))
    left[left > 0] = 0  # every split points back at the root: a cycle
    with pytest.raises(ModelFileError, match="node links or features are out of range"):
        SoftTargetRegressor.load(_rewrite(tmp_path / "g.npz", tmp_path / "cycle.npz", left=left))
    meta["trees"]["loss"] = "numpy.full_like"
    with pytest.raises(ModelFileError, match="trees: loss = 'numpy.full_like' is not an allowed value"):
        SoftTargetRegressor.load(_rewrite(tmp_path / "g.npz", tmp_path / "loss.npz", meta))
