"""Suspicious labels: likely errors in the weak labels and in the gold, found with cleanlab.

Needs the optional extra ``weaksup[cleanlab]``.  The end model (TF-IDF plus logistic
regression, :class:`~weaksup.end_models.text.SoftTextClassifier`) is trained on the weak soft
labels in ``folds`` seeded folds, so every example gets probabilities from a model that never
saw it (out of sample, as confident learning needs).  cleanlab's ``find_label_issues`` then
ranks, among the examples outside the test split (which the report never shows),

* the covered examples, the weak labels (the label model's most probable class), and
* the examples with gold (the gold dev set), the gold labels,

those the out-of-sample probabilities contradict.  The result is a frame a person can review
(``suspicious_labels.csv`` beside the report): which label, what it says, what the model
suggests, and the model's confidence in the given label (low first).
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import polars as pl
from sklearn.model_selection import KFold

from weaksup.end_models.text import SoftTextClassifier
from weaksup.report.view import RunView

SCHEMA = {"source": pl.String, "example_id": pl.String, "split": pl.String, "text": pl.String, "given": pl.String,
          "suggested": pl.String, "given_prob": pl.Float64}  # fmt: skip


def cleanlab_available() -> bool:
    """Whether the ``cleanlab`` extra is installed."""
    return importlib.util.find_spec("cleanlab") is not None


def out_of_sample_probs(texts: list[str], probs: np.ndarray, covered: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Per example, end-model class probabilities from the fold model that did not train on it
    (each fold model trains on the other folds' covered examples and their soft labels)."""
    out = np.full(probs.shape, np.nan)
    texts_arr = np.asarray(texts, dtype=object)
    for train, held in KFold(folds, shuffle=True, random_state=seed).split(texts_arr):
        fit_rows = train[covered[train]]
        model = SoftTextClassifier(seed=seed).fit(texts_arr[fit_rows], probs[fit_rows])
        out[held] = model.predict_proba(texts_arr[held])
    return out


def why_not_checked(view: RunView, folds: int = 5) -> str | None:
    """Why :func:`suspicious_labels` cannot check ``view``'s labels (a sentence with the fix), or None."""
    if not view.report_type.suspicious:
        return f"only categorical runs are checked (this run's labels are {view.label_type})"
    if not cleanlab_available():
        return "cleanlab is not installed: pip install 'weaksup[cleanlab]'"
    if view.n < folds * 2:
        return f"the run has {view.n} examples; the {folds}-fold check needs at least {folds * 2}"
    return None


def suspicious_labels(view: RunView, folds: int = 5, seed: int = 0, text_field: str = "text") -> pl.DataFrame | None:
    """The weak and gold labels cleanlab flags (module docstring); None when they cannot be
    checked (:func:`why_not_checked`), or the examples have no ``text_field``.  Examples of the test
    split are left out: the report never shows them."""
    if why_not_checked(view, folds) is not None:
        return None
    from cleanlab.filter import find_label_issues

    records = [json.loads(d) if d else {} for d in view.data(np.arange(view.n))]
    if not all(isinstance(r.get(text_field), str) for r in records):
        return None
    texts = [r[text_field] for r in records]
    probs = np.asarray(view.labels["probs"].to_list(), dtype=float)
    covered = view.labels["n_votes"].to_numpy() > 0
    oos = out_of_sample_probs(texts, probs, covered, folds, seed)
    dev = view.dev_mask()
    parts = [_flag(view, texts, np.flatnonzero(covered & dev), probs.argmax(axis=1), oos, "weak label", find_label_issues)]
    gold = np.flatnonzero(view.gold_mask() & dev)
    if len(gold):
        parts.append(_flag(view, texts, gold, np.asarray(view.gold), oos, "gold", find_label_issues))
    return pl.concat(parts)


def _flag(view: RunView, texts: list[str], rows: np.ndarray, given: np.ndarray, oos: np.ndarray, source: str,
          find_label_issues: object) -> pl.DataFrame:  # fmt: skip
    """The rows among ``rows`` whose ``given`` label cleanlab flags, lowest given-class probability first."""
    labels, pred = given[rows].astype(int), oos[rows]
    if len(np.unique(labels)) < 2:
        return pl.DataFrame(schema=SCHEMA)
    pred = pred / pred.sum(axis=1, keepdims=True)
    ranked = find_label_issues(labels, pred, return_indices_ranked_by="self_confidence", n_jobs=1)  # type: ignore[operator]
    hit = rows[ranked]
    name = (lambda c: view.classes[c] if c < len(view.classes) else str(c))
    return pl.DataFrame(
        {
            "source": [source] * len(hit),
            "example_id": view.example_ids(hit),
            "split": view.labels["split"].gather(hit).cast(pl.String),
            "text": [texts[r] for r in hit],
            "given": [name(int(given[r])) for r in hit],
            "suggested": [name(int(oos[r].argmax())) for r in hit],
            "given_prob": [float(oos[r, int(given[r])]) for r in hit],
        },
        schema=SCHEMA,
    )
