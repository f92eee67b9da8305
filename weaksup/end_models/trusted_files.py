"""End models that are not made of the built-in parts, saved through skops with an explicit list
of trusted types (``pip install 'weaksup[skops]'``).

A skops file describes every object it holds by its exact type (``module.Class``) in a JSON
schema.  Before skops reads anything, :func:`load_skops` reads that schema itself and refuses the
file unless

- every object is built by a loader that makes data or instances (dicts, lists, arrays, sparse
  matrices, estimators, trees): never a function, a method or a ``functools.partial`` (skops's
  ``FunctionNode``, ``MethodNode``, ``PartialNode``, ``OperatorFuncNode``), nor a loader this
  module does not know;
- every type is in :data:`TRUSTED_TYPES` (scikit-learn's classifiers, transformers and their fitted
  parts, numpy's arrays: exact names, resolved from the classes themselves, never prefixes) or in
  the types the caller trusts (``trainer.trusted_types``, ``weaksup predict --trust``).

Only then does skops load it, trusting exactly the types found.  Pickle is never used.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from weaksup.end_models.plain import ModelFileError

MODEL = "SoftClassifier"
MAX_SCHEMA_BYTES = 64 * 2**20
"""A skops schema larger than this is refused before it is parsed."""

DATA_LOADERS = frozenset({"DictNode", "ListNode", "TupleNode", "SetNode", "JsonNode", "NdArrayNode", "SparseMatrixNode",
                          "SliceNode", "DTypeNode", "TypeNode", "CachedNode", "RandomStateNode", "RandomGeneratorNode"})  # fmt: skip
"""skops loaders that make plain data (``TypeNode`` only for the dtype-like types of :data:`DATA_TYPES`)."""
OBJECT_LOADERS = frozenset({"ObjectNode", "TreeNode", "LossNode"})
"""skops loaders that make an instance of a trusted class."""

DATA_TYPES = frozenset({"builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.str", "builtins.int",
                        "builtins.float", "builtins.bool", "builtins.slice", "builtins.object", "numpy.ndarray",
                        "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32", "numpy.uint64", "numpy.uint32",
                        "numpy.uint8", "numpy.bool_", "numpy.bool", "numpy.str_", "numpy.dtype",
                        "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator"})  # fmt: skip
"""The data types a skops file may name."""

_CLASSES = (
    "sklearn.linear_model:LogisticRegression", "sklearn.linear_model:SGDClassifier",
    "sklearn.ensemble:RandomForestClassifier", "sklearn.ensemble:ExtraTreesClassifier",
    "sklearn.ensemble:GradientBoostingClassifier", "sklearn.ensemble:HistGradientBoostingClassifier",
    "sklearn.ensemble:BaggingClassifier", "sklearn.ensemble:AdaBoostClassifier",
    "sklearn.tree:DecisionTreeClassifier", "sklearn.tree:DecisionTreeRegressor", "sklearn.tree:ExtraTreeClassifier",
    "sklearn.tree._tree:Tree", "sklearn.dummy:DummyClassifier",
    "sklearn.naive_bayes:MultinomialNB", "sklearn.naive_bayes:ComplementNB", "sklearn.naive_bayes:BernoulliNB",
    "sklearn.naive_bayes:GaussianNB", "sklearn.svm:SVC", "sklearn.neural_network:MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers:AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers:SGDOptimizer",
    "sklearn.calibration:CalibratedClassifierCV", "sklearn.calibration:_CalibratedClassifier",
    "sklearn.calibration:_SigmoidCalibration", "sklearn.isotonic:IsotonicRegression",
    "sklearn.pipeline:Pipeline", "sklearn.pipeline:FeatureUnion", "sklearn.compose:ColumnTransformer",
    "sklearn.preprocessing:StandardScaler", "sklearn.preprocessing:MinMaxScaler", "sklearn.preprocessing:MaxAbsScaler",
    "sklearn.preprocessing:RobustScaler", "sklearn.preprocessing:OneHotEncoder", "sklearn.preprocessing:OrdinalEncoder",
    "sklearn.preprocessing:LabelBinarizer", "sklearn.preprocessing:LabelEncoder", "sklearn.preprocessing:Normalizer",
    "sklearn.impute:SimpleImputer", "sklearn.decomposition:TruncatedSVD", "sklearn.decomposition:PCA",
    "sklearn.feature_extraction.text:TfidfVectorizer", "sklearn.feature_extraction.text:CountVectorizer",
    "sklearn.feature_extraction.text:HashingVectorizer", "sklearn.feature_extraction.text:TfidfTransformer",
    "sklearn.ensemble._hist_gradient_boosting.predictor:TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning:_BinMapper",
    "sklearn._loss.loss:HalfBinomialLoss", "sklearn._loss.loss:HalfMultinomialLoss",
    "sklearn._loss.loss:ExponentialLoss",
    "sklearn._loss._loss:CyHalfBinomialLoss", "sklearn._loss._loss:CyHalfMultinomialLoss",
    "sklearn._loss._loss:CyExponentialLoss",
    "sklearn._loss.link:Interval", "sklearn._loss.link:LogitLink", "sklearn._loss.link:MultinomialLogit",
    "sklearn._loss.link:IdentityLink", "sklearn._loss.link:HalfLogitLink",
    "weaksup.end_models.columns:NumberScaler", "weaksup.end_models.embeddings:SentenceEmbeddings",
)  # fmt: skip


def _exact_names(paths: Iterable[str]) -> Iterator[str]:
    """``module.Class`` of each class named ``module:Class``, as skops writes it (the module that
    defines it); a class this scikit-learn does not have is left out."""
    for path in paths:
        module, _, name = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        yield f"{cls.__module__}.{cls.__qualname__}"


TRUSTED_TYPES: frozenset[str] = frozenset(_exact_names(_CLASSES))
"""The classes a skops end-model file may hold without being named by the caller: exact names."""


def schema_types(path: str | Path) -> set[str]:
    """Every type a skops file names, read from its schema alone (nothing is imported or built);
    :class:`ModelFileError` for a function or an unknown loader."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("schema.json")
            if info.file_size > MAX_SCHEMA_BYTES:
                raise ModelFileError(f"{str(path)!r}: its skops schema is {info.file_size:,} bytes, over the limit")
            schema = json.loads(archive.read(info))
    except (KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{str(path)!r} is not a skops end-model file ({exc})") from None
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "__loader__" in node:
            loader, name = node["__loader__"], f"{node.get('__module__')}.{node.get('__class__')}"
            if loader not in DATA_LOADERS | OBJECT_LOADERS:
                raise ModelFileError(
                    f"{str(path)!r} holds {name} through skops's {loader}: weaksup never loads functions, methods or "
                    "unknown objects from a model file"
                )
            if loader == "TypeNode" and name not in DATA_TYPES:
                raise ModelFileError(f"{str(path)!r} names the type {name} as a value; weaksup loads only data types so")
            found.add(name)
        stack.extend(node.values())
    return found


def save_skops(model: Any, path: str | Path, metadata: dict[str, Any]) -> None:
    """Write a fitted :class:`~weaksup.end_models.soft_classifier.SoftClassifier` (its features,
    estimator and settings) to a skops file."""
    try:
        import skops.io as sio
    except ImportError:
        raise ImportError(
            f"a {type(model.model_).__name__} end model is saved through skops: pip install 'weaksup[skops]' "
            "(or use a built-in end model, saved as plain data: logreg, hist_gradient_boosting)"
        ) from None
    meta = {"model": MODEL, "params": {"text_featurizer": model.text_featurizer, "soft_labels": model.soft_labels,
                                       "seed": model.seed},
            "kinds": model.kinds_, "k": len(model.classes_), "soft_labels_used": model.soft_labels_,
            "metadata": metadata}  # fmt: skip
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sio.dump({"features": model.features_, "model": model.model_, "meta": json.dumps(meta)}, path)


def load_skops(path: str | Path, trusted: Iterable[str] = ()) -> Any:
    """Read a file written by :func:`save_skops`, after :func:`schema_types` found only trusted types
    (:data:`TRUSTED_TYPES` and ``trusted``)."""
    from weaksup.end_models.soft_classifier import SoftClassifier

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no end model at {str(path)!r}; run the pipeline first to train one")
    allowed = TRUSTED_TYPES | DATA_TYPES | set(trusted)
    found = schema_types(path)
    untrusted = sorted(found - allowed)
    if untrusted:
        raise ModelFileError(
            f"{str(path)!r} holds the untrusted types {untrusted}; nothing was loaded. If you trust them, name them "
            "exactly in trainer.trusted_types (or `weaksup predict --trust TYPE`)"
        )
    import skops.io as sio

    left = sorted(set(sio.get_untrusted_types(file=path)) - allowed)
    if left:  # skops sees a type the schema walk did not: refuse rather than guess
        raise ModelFileError(f"{str(path)!r} holds the untrusted types {left}; nothing was loaded")
    state = sio.load(path, trusted=sorted(found))
    try:
        meta = json.loads(state["meta"])
        model = SoftClassifier(**{k: meta["params"][k] for k in ("text_featurizer", "soft_labels", "seed")})
        model.kinds_, model.features_, model.model_ = dict(meta["kinds"]), state["features"], state["model"]
        model.classes_, model.soft_labels_ = np.arange(int(meta["k"])), str(meta["soft_labels_used"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{str(path)!r} is not a weaksup end-model file ({exc})") from None
    model.metadata_ = meta.get("metadata") if isinstance(meta.get("metadata"), dict) else {}
    return model
