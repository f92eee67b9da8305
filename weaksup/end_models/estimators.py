"""The estimator a pipeline file's ``trainer.name`` names, for a categorical end model on any columns.

- a built-in name (:data:`~weaksup.end_models.options.BUILT_IN`): ``logreg`` (logistic regression)
  or ``hist_gradient_boosting`` (histogram gradient boosting); their models save as plain data;
- a name a package registers in the ``weaksup.end_models`` entry-point group (its value: a class,
  or a function returning an estimator);
- an import path, ``package.module:Name`` or ``package.module.Name`` (a class or such a function).

The pipeline file already imports LF code, so naming code in it is trusted as code.  The object is
called with ``trainer.params`` and must be a scikit-learn classifier (``fit``, ``predict_proba``).

>>> build_estimator("hist_gradient_boosting", {"max_iter": 50}, seed=3)
HistGradientBoostingClassifier(max_iter=50, random_state=3)
>>> build_estimator("sklearn.naive_bayes:ComplementNB", {"alpha": 0.5}, seed=0)
ComplementNB(alpha=0.5)
>>> build_estimator("sklearn.linear_model.LinearRegression", {}, seed=0)
Traceback (most recent call last):
...
TypeError: trainer.name = 'sklearn.linear_model.LinearRegression' is a LinearRegression, which has no predict_proba; ...
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from weaksup.end_models.options import BUILT_IN, is_import_path, registered
from weaksup.end_models.soft_classifier import check_estimator


def _built_in(name: str, seed: int) -> Any:
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000, random_state=seed)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed)


def _load(name: str) -> Any:
    """The class or factory ``name`` names (an entry point, or an import path)."""
    points = registered()
    if name in points:
        return points[name].load()
    if not is_import_path(name):
        known = [*BUILT_IN, *sorted(points)]
        raise ValueError(f"trainer.name = {name!r} names no end model: use one of {known}, 'tfidf_logreg', 'none', or "
                         "an import path such as 'sklearn.ensemble:RandomForestClassifier'")  # fmt: skip
    module, sep, attr = name.partition(":") if ":" in name else name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ValueError(f"trainer.name = {name!r}: cannot import module {module!r} ({exc})") from None
    except AttributeError:
        raise ValueError(f"trainer.name = {name!r}: module {module!r} has no {attr!r}") from None


def build_estimator(name: str, params: Mapping[str, Any], seed: int) -> Any:
    """A fresh estimator for ``trainer.name`` with ``trainer.params`` (``random_state`` from ``seed``
    where it takes one and the params do not set it)."""
    where = f"trainer.name = {name!r}"
    if name in BUILT_IN:
        estimator = _built_in(name, seed)
        try:
            return estimator.set_params(**params)
        except ValueError as exc:
            raise ValueError(f"trainer.params do not fit {type(estimator).__name__}: {exc}") from None
    factory = _load(name)
    if not callable(factory):
        raise TypeError(f"{where} is a {type(factory).__name__}, not a class or a function returning an estimator")
    kwargs = dict(params)
    try:
        takes_seed = "random_state" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_seed = False
    if takes_seed and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    try:
        estimator = factory(**kwargs)
    except TypeError as exc:
        raise ValueError(f"trainer.params do not fit {where}: {exc}") from None
    check_estimator(estimator, where)
    return estimator
