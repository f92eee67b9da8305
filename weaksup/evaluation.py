"""Evaluation against gold: per-class precision, recall and F1 with macro-F1, Kendall tau distance
(ties skipped), NDCG@k, MSE and MAE.

Rankings are lists of item ids, best first.  A ranking's truth is either another ranking
or a mapping item → score (higher is better); pairs tied in the truth are skipped, since
no order of them is wrong (the movies data ties ``vote_average`` often).

>>> kendall_tau_distance(["a", "b", "c"], ["a", "c", "b"])      # 1 discordant pair of 3
0.3333333333333333
>>> kendall_tau_distance(["a", "b", "c"], {"a": 7.0, "b": 6.5, "c": 6.5})   # b–c tied: 2 pairs left
0.0
>>> round(ndcg_at_k(["b", "a", "c"], {"a": 3.0, "b": 1.0, "c": 0.0}, k=2), 3)
0.797
>>> mse([1.0, 2.0], [1.0, 4.0]), mae([1.0, 2.0], [1.0, 4.0])
(2.0, 1.0)
>>> s = class_scores([0, 1, 1, 0], [0, 1, 0, 0], ["ham", "spam"])
>>> s["macro_f1"], s["per_class"]["spam"]
(0.7333333333333334, {'precision': 0.5, 'recall': 1.0, 'f1': 0.6666666666666666, 'support': 1})
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import mean_absolute_error, mean_squared_error, ndcg_score, precision_recall_fscore_support

Truth = Sequence[Hashable] | Mapping[Hashable, float]


def _scores(truth: Truth) -> Mapping[Hashable, float]:
    if isinstance(truth, Mapping):
        return truth
    return {x: -float(i) for i, x in enumerate(truth)}


def kendall_tau_distance(ranking: Sequence[Hashable], truth: Truth) -> float:
    """Share of discordant pairs among the pairs of items in both ``ranking`` and ``truth``, not tied in ``truth``.

    0 is perfect, 1 is reversed; NaN when no pair is comparable (e.g. all items tied).
    """
    scores = _scores(truth)
    s = np.array([scores[x] for x in ranking if x in scores], dtype=float)
    i, j = np.triu_indices(len(s), k=1)  # ranking puts s[i] above s[j]
    untied = s[i] != s[j]
    if not untied.any():
        return float("nan")
    return float(np.mean(s[i][untied] < s[j][untied]))


def mean_kendall_tau_distance(rankings: Sequence[Sequence[Hashable]], truths: Sequence[Truth]) -> float:
    """Mean :func:`kendall_tau_distance` over examples, skipping those with no comparable pair."""
    if len(rankings) != len(truths):
        raise ValueError(f"mean_kendall_tau_distance: {len(rankings)} rankings for {len(truths)} truths")
    values = np.array([kendall_tau_distance(r, t) for r, t in zip(rankings, truths)])
    return float(np.nanmean(values)) if (~np.isnan(values)).any() else float("nan")


def ndcg_at_k(ranking: Sequence[Hashable], relevance: Mapping[Hashable, float], k: int) -> float:
    """NDCG@k of one ranking with linear gains ``relevance[item]`` (scikit-learn's ``ndcg_score``).

    Every ranked item needs a relevance; items in ``relevance`` but not ranked count as
    ranked last.
    """
    missing = [x for x in ranking if x not in relevance]
    if missing:
        raise ValueError(f"ndcg_at_k: item {missing[0]!r} is ranked but has no relevance; give one for every item")
    items = list(relevance)
    place = {x: i for i, x in enumerate(ranking)}
    score = [len(items) - place.get(x, len(items)) for x in items]
    return float(ndcg_score([[relevance[x] for x in items]], [score], k=k))


def mean_ndcg_at_k(
    rankings: Sequence[Sequence[Hashable]], relevances: Sequence[Mapping[Hashable, float]], k: int
) -> float:
    """Mean :func:`ndcg_at_k` over examples."""
    if len(rankings) != len(relevances):
        raise ValueError(f"mean_ndcg_at_k: {len(rankings)} rankings for {len(relevances)} relevance maps")
    return float(np.mean([ndcg_at_k(r, rel, k) for r, rel in zip(rankings, relevances)]))


def _pair(pred: ArrayLike, truth: ArrayLike, what: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred, dtype=float).ravel(), np.asarray(truth, dtype=float).ravel()
    if p.shape != t.shape:
        raise ValueError(f"{what}: {p.size} predictions for {t.size} true values")
    for name, a in (("predictions", p), ("true values", t)):
        if not np.isfinite(a).all():
            raise ValueError(f"{what}: {name} row {int(np.flatnonzero(~np.isfinite(a))[0])} is not finite; drop such rows first")
    return p, t


def mse(pred: ArrayLike, truth: ArrayLike) -> float:
    """Mean squared error."""
    return float(mean_squared_error(*_pair(pred, truth, "mse")[::-1]))


def mae(pred: ArrayLike, truth: ArrayLike) -> float:
    """Mean absolute error."""
    return float(mean_absolute_error(*_pair(pred, truth, "mae")[::-1]))


def class_scores(
    pred: ArrayLike, gold: ArrayLike, classes: Sequence[str], weights: ArrayLike | None = None
) -> dict[str, Any]:
    """Accuracy, macro-F1 and each class's precision, recall, F1 and support (scikit-learn's), for class
    ids ``pred`` against ``gold`` (rows with gold -1 are left out); ``weights`` counts each row that
    many times (a table of (pred, gold) counts scores like the rows it counts).

    A class never predicted has precision 0, one never in gold recall 0 (scikit-learn's
    ``zero_division=0``): several WRENCH sets are scored by the F1 of one class, where accuracy hides
    a model that never predicts it.  Macro-F1 averages the classes that are in gold or predicted.
    Returns ``{"accuracy", "macro_f1", "per_class": {name: {...}}}``.
    """
    p, g = np.asarray(pred).ravel(), np.asarray(gold).ravel()
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=float).ravel()
    if p.shape != g.shape or w.shape != p.shape:
        raise ValueError(f"class_scores: {p.size} predictions, {g.size} gold labels and {w.size} weights; give one each per row")
    known = g >= 0
    p, g, w = p[known], g[known], w[known]
    labels = list(range(len(classes)))
    precision, recall, f1, _ = precision_recall_fscore_support(g, p, labels=labels, zero_division=0, sample_weight=w)
    support = np.bincount(g, weights=w, minlength=len(classes))[: len(classes)]
    per_class = {
        str(name): {"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]), "support": int(support[c])}
        for c, name in enumerate(classes)
    }
    seen = (support > 0) | (np.bincount(p[p >= 0], weights=w[p >= 0], minlength=len(classes))[: len(classes)] > 0)
    return {"accuracy": float(w[p == g].sum() / w.sum()) if len(g) else float("nan"),
            "macro_f1": float(np.mean(f1[seen])) if seen.any() else float("nan"), "per_class": per_class}  # fmt: skip
