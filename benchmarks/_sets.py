"""The label-model benchmark's sets: crowd answers, imbalanced WRENCH subsets, the WRENCH folders
and the recorded votes of the project's prompted LFs.

Every set is ``(L_fit, L_test, y_test, k, metric)`` with sparse votes.  Crowd, imbalanced and
prompted sets are transductive (fit and score on the same rows: the items with truth); WRENCH
folders fit on train (imdb: valid) and score on test (cdr: valid), except sms, whose shipped test
votes do not match their messages, so it is fit and scored on train.  The metric is the shared
data README's: F1 of class 1 for sms, basketball, tennis, commercial and cdr, accuracy elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from _wrench import F1_FOLDERS, SHARED, cardinality, fit_and_test, load_split

from weaksup.data import load_crowd
from weaksup.votes import SparseVotes

CROWD = ("rte", "temp", "websearch", "sentiment", "relevance")
IMBALANCED = (("sms", 0.05), ("youtube", 0.05), ("youtube", 0.20))
WRENCH_TEST = ("youtube", "trec", "imdb", "hausa", "yelp", "basketball", "tennis", "commercial", "cdr")
PROMPTED = (("youtube", "acc"), ("sms", "f1"))
"""Recorded prompted-LF votes (``fixtures/prompted_<name>.npz``, see ``prompted_fixtures.py``) and their metric."""
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class BenchSet:
    name: str
    L_fit: SparseVotes
    L_test: SparseVotes
    y_test: np.ndarray
    k: int
    metric: str  # "f1" (of class 1) or "acc"


def _keep(votes: SparseVotes, rows: np.ndarray) -> SparseVotes:
    """The votes of ``rows`` (sorted), renumbered 0..len(rows)-1."""
    new = np.full(votes.n, -1, dtype=np.int64)
    new[rows] = np.arange(len(rows))
    mine = new[votes.rows] >= 0
    return SparseVotes(new[votes.rows[mine]], votes.cols[mine], votes.labels[mine], len(rows), votes.m, votes.lf_names)


def crowd_set(name: str) -> BenchSet:
    folder = SHARED / "crowd" / name
    crowd = load_crowd(folder / "answer.csv", folder / "truth.csv")
    rows = np.flatnonzero(crowd.truth >= 0)
    votes = _keep(crowd.votes, rows)
    return BenchSet(f"crowd/{name}", votes, votes, crowd.truth[rows], len(crowd.classes), "acc")


def imbalanced_set(folder: str, rate: float) -> BenchSet:
    """Every negative train example and positives subsampled (numpy seed 0) to ``rate``."""
    L, y = load_split(folder, "train")
    neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    n_pos = int(round(rate * len(neg) / (1 - rate)))
    rows = np.sort(np.concatenate([neg, np.random.default_rng(0).choice(pos, n_pos, replace=False)]))
    votes = SparseVotes.from_dense(L[rows])
    return BenchSet(f"{folder} train {rate:.0%} spam", votes, votes, y[rows], 2, "f1")


def wrench_set(folder: str) -> BenchSet:
    if folder == "sms":
        L, y = load_split(folder, "train")
        votes = SparseVotes.from_dense(L)
        return BenchSet("sms train", votes, votes, y, cardinality(folder), "f1")
    L_fit, L_test, y_test, k = fit_and_test(folder)
    metric = "f1" if folder in F1_FOLDERS else "acc"
    return BenchSet(wrench_name(folder), SparseVotes.from_dense(L_fit), SparseVotes.from_dense(L_test), y_test, k, metric)


def wrench_name(folder: str) -> str:
    """``<folder> test``, or ``<folder> valid`` for a folder scored on valid (cdr has no test)."""
    return f"{folder} {'test' if (SHARED / folder / 'test.json').exists() else 'valid'}"


def prompted_set(name: str, metric: str) -> BenchSet:
    """The recorded votes of the project's prompted LFs on ``name`` (every row with gold)."""
    data = np.load(FIXTURES / f"prompted_{name}.npz")
    known = data["y"] >= 0
    L, y = data["L"][known].astype(np.int64), data["y"][known].astype(np.int64)
    votes = SparseVotes.from_dense(L)
    return BenchSet(f"prompted {name}", votes, votes, y, 2, metric)


def prompted_available() -> list[tuple[str, str]]:
    return [(name, metric) for name, metric in PROMPTED if (FIXTURES / f"prompted_{name}.npz").exists()]


def set_named(name: str) -> BenchSet:
    """The one set of :func:`all_sets` (or ``_stress.stress_sets``) called ``name``, built alone (for a
    timing subprocess)."""
    from _stress import stress_sets  # it builds on this module

    builders = {
        **{f"crowd/{c}": partial(crowd_set, c) for c in CROWD},
        **{f"{f} train {r:.0%} spam": partial(imbalanced_set, f, r) for f, r in IMBALANCED},
        **{wrench_name(f): partial(wrench_set, f) for f in WRENCH_TEST},
        "sms train": partial(wrench_set, "sms"),
        **{f"prompted {p}": partial(prompted_set, p, metric) for p, metric in PROMPTED},
    }
    if name in builders:
        return builders[name]()
    return next(s for s in stress_sets() if s.name == name)


def all_sets() -> list[BenchSet]:
    return (
        [crowd_set(c) for c in CROWD]
        + [imbalanced_set(f, r) for f, r in IMBALANCED]
        + [wrench_set(f) for f in WRENCH_TEST]
        + [wrench_set("sms")]
        + [prompted_set(p, metric) for p, metric in prompted_available()]
    )


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of class 1 or accuracy."""
    if metric == "f1":
        tp = np.sum((y_pred == 1) & (y_true == 1))
        denom = np.sum(y_pred == 1) + np.sum(y_true == 1)
        return float(2 * tp / denom) if denom else 0.0
    return float(np.mean(y_pred == y_true))


def brier(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean over rows of the squared distance between the probabilities and the one-hot truth."""
    onehot = np.eye(proba.shape[1])[y_true]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def ece(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top class: |accuracy - confidence| over 10 equal-width bins."""
    conf = proba.max(axis=1)
    hit = proba.argmax(axis=1) == y_true
    which = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(hit[sel].mean() - conf[sel].mean())
    return float(total / len(y_true))
