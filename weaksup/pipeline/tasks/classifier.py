"""The categorical end model of a run, and its scores on every split with gold.

Two end models learn from a categorical run's soft labels:

- ``tfidf_logreg`` (the default): :class:`~weaksup.end_models.SoftTextClassifier` on
  ``trainer.text_column`` alone;
- any other (``logreg``, ``hist_gradient_boosting``, an estimator a pipeline names, or one passed
  to ``run_pipeline(end_model=...)``): :class:`~weaksup.end_models.soft_classifier.SoftClassifier`
  on ``trainer.text_column`` (when the data has it) and the input columns :func:`feature_kinds`
  picks: ``trainer.features``, or every number, boolean and low-cardinality string column that no
  LF reads and ``trainer.exclude_columns`` does not list.

Both are scored (:func:`score_splits`) on each split with gold and on the holdout: accuracy,
macro-F1 and log-loss as ``end_model_<metric>_<split>`` metrics, and per-class precision, recall,
F1 and the confusion matrix in the manifest and the run's output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup.class_metrics import class_scores, confusion
from weaksup.data import ID
from weaksup.end_models.columns import MAX_CATEGORIES, column_kind, column_kinds
from weaksup.label_types import PIPELINE_TYPES
from weaksup.label_types.categorical import CATEGORICAL
from weaksup.pipeline.settings import Settings, TrainerSettings
from weaksup.pipeline.tasks.base import InMemoryPrepared, Labeled, Trained

SUMMARY = ("accuracy", "macro_f1", "log_loss")
"""The scores that become run metrics; the per-class ones go to the manifest."""


def feature_kinds(examples: pl.DataFrame, trainer: TrainerSettings, read: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each column the end model reads and its kind (``text``, ``number`` or ``category``): the
    text column (when in the data), then ``trainer.features`` or the columns found for it."""
    reader = {col: name for name, cols in read.items() for col in cols}
    text = [trainer.text_column] if trainer.text_column in examples.columns else []
    reserved = {ID, "split", *text}
    if trainer.features is None:
        picked = []
        for c, dtype in examples.schema.items():
            if c in reserved or c in reader or c in trainer.exclude_columns:
                continue
            kind = column_kind(dtype, examples[c].n_unique() if dtype == pl.String else 0, MAX_CATEGORIES)
            if kind in ("number", "category"):  # a long string column is text only when named
                picked.append(c)
        features = picked
    else:
        features = [c for c in trainer.features if c not in text]
        for c in features:
            if c in reader:
                raise ValueError(
                    f"trainer.features lists {c!r}, which LF {reader[c]!r} reads; the end model must not see the "
                    "columns the LFs read (it would learn the LFs back): drop it from trainer.features"
                )
            if c not in examples.columns or c in reserved:
                inputs = [x for x in examples.columns if x not in (ID, "split")]
                raise ValueError(f"trainer.features lists {c!r}, which is not an input column; inputs are {inputs}")
    kinds = column_kinds(examples, features, text=text)
    if not kinds:
        raise ValueError(
            f"the end model has no input columns: the data has no {trainer.text_column!r} text column and every other "
            "column is read by an LF, excluded, or not numbers or categories; name columns in trainer.features"
        )
    return kinds


def check_end_model(end_model: Any) -> None:
    """Refuse an estimator given from Python (``run_pipeline(end_model=...)``) that is no classifier."""
    if end_model is not None:
        from weaksup.end_models.soft_classifier import check_estimator

        check_estimator(end_model, "run_pipeline(end_model=...)")


def check_trainer(settings: Settings, end_models: Sequence[str]) -> str | None:
    """The end model: a name of this type or an estimator that builds (fit, predict_proba), and
    keys only for the end models that read them."""
    trainer = settings.trainer
    if trainer.name in ("tfidf_logreg", "none"):
        defaults = {"features": None, "exclude_columns": [], "text_featurizer": "tfidf", "soft_labels": "auto"}
        used = [key for key, default in defaults.items() if getattr(trainer, key) != default]
        if used and trainer.name != "none":
            return (f"trainer.{used[0]} is for the categorical end models on any columns (logreg, "
                    "hist_gradient_boosting or an estimator); tfidf_logreg reads trainer.text_column alone")  # fmt: skip
        return None
    others = sorted(t.name for t in PIPELINE_TYPES.values() if t is not CATEGORICAL and trainer.name in t.end_models)
    if others:
        return (f"trainer.name = {trainer.name!r} is for {' or '.join(others)} labels; use one of "
                f"{list(end_models)} or a scikit-learn classifier's import path")  # fmt: skip
    from weaksup.end_models.estimators import build_estimator

    try:
        build_estimator(trainer.name, trainer.params, settings.label_model.seed)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def score_splits(predict_proba: Callable[[np.ndarray], np.ndarray], prepared: InMemoryPrepared, classes: Sequence[str],
                 holdout: tuple[np.ndarray, np.ndarray] | None) -> tuple[dict[str, float], dict[str, Any], list[str]]:  # fmt: skip
    """Scores of ``predict_proba(rows)`` on each split's rows with gold, and of the holdout's
    ``(probs, gold)``: run metrics, the manifest's per-split details, and lines for the run's output."""
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {}
    lines: list[str] = []
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []
    for split in sorted(set(prepared.split.tolist())):
        rows = np.flatnonzero((prepared.split == split) & prepared.has_gold)
        if len(rows):
            parts.append((split, predict_proba(rows), prepared.gold[rows]))
    if holdout is not None and (holdout[1] >= 0).any():
        parts.append(("holdout", *holdout))
    for split, probs, gold in parts:
        scores = class_scores(probs, gold, classes)
        metrics.update({f"end_model_{name}_{split}": scores[name] for name in SUMMARY})
        per_class = {c: {m: scores[f"{m}_{c}"] for m in ("precision", "recall", "f1")} for c in classes}
        details[split] = {**{name: scores[name] for name in SUMMARY}, "per_class": per_class,
                          "confusion": confusion(probs.argmax(axis=1), gold, len(classes))}  # fmt: skip
        shown = "; ".join(f"{c} {v['precision']:.3f}/{v['recall']:.3f}/{v['f1']:.3f}" for c, v in per_class.items())
        lines.append(f"end model on {split}, per class (precision/recall/F1): {shown}")
    return metrics, details, lines


def train_classifier(estimator: Any, trainer: TrainerSettings, seed: int, prepared: InMemoryPrepared,
                     labeled: Labeled, train: np.ndarray, run_dir: Path, classes: Sequence[str],
                     file_for: Callable[[bool], str]) -> Trained:  # fmt: skip
    """Fit :class:`~weaksup.end_models.soft_classifier.SoftClassifier` with ``estimator`` on the
    covered train rows' soft labels, save it in ``run_dir`` (as plain data when its parts are built
    in, else through skops: ``file_for(plain)`` names the file) and score it."""
    from weaksup.end_models.classifier_files import plain, save_plain
    from weaksup.end_models.soft_classifier import SoftClassifier
    from weaksup.end_models.trusted_files import save_skops

    examples = prepared.examples
    kinds = feature_kinds(examples, trainer, labeled.columns_read)
    model = SoftClassifier(estimator, kinds=kinds, text_featurizer=trainer.text_featurizer,
                           soft_labels=trainer.soft_labels, seed=seed)  # fmt: skip
    covered = np.flatnonzero(train & (labeled.n_votes > 0))
    model.fit(examples[covered], labeled.predictions[covered])
    is_plain = plain(model)
    path = run_dir / file_for(is_plain)
    metadata = {"classes": list(classes), "text_column": trainer.text_column}
    (save_plain if is_plain else save_skops)(model, path, metadata)
    holdout = None
    if prepared.holdout is not None and list(kinds) == [trainer.text_column]:
        frame = pl.DataFrame({trainer.text_column: prepared.holdout["text"]})
        holdout = (model.predict_proba(frame), prepared.holdout["gold"].to_numpy())
    metrics, details, lines = score_splits(lambda rows: model.predict_proba(examples[rows]), prepared, classes, holdout)
    manifest = {"end_model": {"name": trainer.name, "estimator": repr(model.model_), "file": path.name,
                              "features": kinds, "soft_labels": model.soft_labels_, "scores": details}}  # fmt: skip
    lines.insert(0, f"end model: {type(model.model_).__name__} on {len(kinds)} columns, soft labels by "
                    f"{model.soft_labels_}, saved as {path.name}")  # fmt: skip
    return Trained(metrics, manifest, lines)
