"""Scores of class predictions against gold: accuracy, per-class precision, recall and F1,
macro-F1, log-loss and the confusion matrix (scikit-learn's definitions).

Rows whose gold is unknown (``-1``) are skipped; a class that is never predicted has precision 0,
and one that never occurs in gold recall 0 (``zero_division=0``), so a score is always a number.

>>> import numpy as np
>>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
>>> scores = class_scores(probs, np.array([0, 1, 1, -1]), ["HAM", "SPAM"])
>>> {k: round(v, 3) for k, v in scores.items()}  # doctest: +NORMALIZE_WHITESPACE
{'accuracy': 0.667, 'macro_f1': 0.667, 'log_loss': 0.415, 'precision_HAM': 0.5, 'recall_HAM': 1.0, 'f1_HAM': 0.667,
 'precision_SPAM': 1.0, 'recall_SPAM': 0.5, 'f1_SPAM': 0.667}
>>> confusion(probs.argmax(axis=1), np.array([0, 1, 1, -1]), 2)  # rows: gold, columns: predicted
[[1, 0], [1, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss

from weaksup import evaluation

PROB_FLOOR = 1e-15
"""Probabilities are clipped to [PROB_FLOOR, 1] before the log-loss, so one confident error is
finite (scikit-learn's own clipping, made explicit)."""


def class_scores(probs: np.ndarray, gold: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """``accuracy``, ``macro_f1``, ``log_loss`` and ``precision_<class>``, ``recall_<class>``,
    ``f1_<class>`` of (n, k) class probabilities against gold class ids (-1: unknown); empty when
    no row has gold.  The label-based scores are :func:`weaksup.evaluation.class_scores`' (one
    definition for the label model's and the end model's), flattened for a manifest."""
    probs, gold = np.asarray(probs, dtype=float), np.asarray(gold)
    known = gold >= 0
    if not known.any():
        return {}
    p, y = probs[known], gold[known]
    scores = evaluation.class_scores(p.argmax(axis=1), y, classes)
    clipped = np.clip(p, PROB_FLOOR, 1.0)
    out = {
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "log_loss": float(log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=list(range(len(classes))))),
    }
    for name, s in scores["per_class"].items():
        out.update({f"precision_{name}": s["precision"], f"recall_{name}": s["recall"], f"f1_{name}": s["f1"]})
    return out


def confusion(pred: np.ndarray, gold: np.ndarray, k: int) -> list[list[int]]:
    """The k × k confusion matrix (row: gold class, column: predicted class) of rows with gold, as lists."""
    pred, gold = np.asarray(pred), np.asarray(gold)
    known = gold >= 0
    return confusion_matrix(gold[known], pred[known], labels=list(range(k))).tolist()
