"""The categorical end model's options, as pipeline files name them (no heavy imports here: the
pipeline schema reads them).

>>> TEXT_FEATURIZERS, SOFT_LABELS, BUILT_IN
(('tfidf', 'hashing', 'embeddings'), ('auto', 'expand', 'argmax'), ('logreg', 'hist_gradient_boosting'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

TEXT_FEATURIZERS = ("tfidf", "hashing", "embeddings")
"""``trainer.text_featurizer``: how a text column becomes features (:mod:`weaksup.end_models.columns`)."""

SOFT_LABELS = ("auto", "expand", "argmax")
"""``trainer.soft_labels``: how soft labels reach the estimator (:mod:`weaksup.end_models.soft_classifier`)."""

BUILT_IN = ("logreg", "hist_gradient_boosting")
"""``trainer.name`` of the built-in estimators on any columns (saved as plain data): logistic
regression and histogram gradient boosting (:mod:`weaksup.end_models.estimators`)."""

ENTRY_POINTS = "weaksup.end_models"
"""The entry-point group through which a package registers an estimator under a ``trainer.name``."""

IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*[:.][A-Za-z_]\w*")


def is_import_path(name: str) -> bool:
    """Whether ``name`` reads as ``package.module:Name`` or ``package.module.Name``."""
    return ("." in name or ":" in name) and IMPORT_PATH.fullmatch(name) is not None


def registered() -> dict[str, EntryPoint]:
    """The entry points of the ``weaksup.end_models`` group, by name (not loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}


def names_an_estimator(name: str) -> bool:
    """Whether ``trainer.name`` may name an estimator: a built-in name, a registered entry point or an import path."""
    return name in BUILT_IN or is_import_path(name) or name in registered()


def end_model_problem(name: str, known: Iterable[str]) -> str | None:
    """A problem with ``trainer.name``: neither a ``known`` end model, ``none``, nor a name that may
    name an estimator (which the label type's task then builds); None when it may serve."""
    if name in known or name == "none" or names_an_estimator(name):
        return None
    return (f"is not an end model; choose one of {[*known, 'none']}, a name in the 'weaksup.end_models' entry "
            "points, or an import path such as 'sklearn.ensemble:RandomForestClassifier'")


def check_type_name(name: str) -> str | None:
    """A problem with a ``trusted_types`` entry (an exact ``module.Class``), or None."""
    parts = name.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts) or not parts[-1][:1].isupper():
        return (f"{name!r} is not an exact type name: give the class's module and name, e.g. "
                "'sklearn.ensemble._forest.RandomForestClassifier' (no wildcards, no prefixes, no functions)")  # fmt: skip
    return None
