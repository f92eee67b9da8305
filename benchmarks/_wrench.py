"""A tiny reader of WRENCH-format folders, for benchmarks only (the library's loader is ``weaksup.data``).

Each split file maps an id to ``{"data": ..., "label": int, "weak_labels": [int per LF]}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FOLDERS = ("youtube", "sms", "trec", "imdb", "hausa", "yelp", "basketball", "tennis", "commercial", "cdr")
F1_FOLDERS = frozenset({"sms", "basketball", "tennis", "commercial", "cdr"})
"""Folders scored by F1 of class 1 (WRENCH's convention, as ../shared/data/README.md says); accuracy elsewhere."""


def load_split(folder: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(L, y) for one split of a WRENCH folder, or None if the split does not exist."""
    path = SHARED / folder / f"{split}.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text()).values()
    L = np.array([r["weak_labels"] for r in rows], dtype=np.int64)
    y = np.array([r["label"] for r in rows], dtype=np.int64)
    return L, y


def cardinality(folder: str) -> int:
    return len(json.loads((SHARED / folder / "label.json").read_text()))


def fit_and_test(folder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(L_fit, L_test, y_test, k): fit on train, or valid where the folder has no train; scored on
    test, or valid where the folder has no test (cdr)."""
    fit = load_split(folder, "train") or load_split(folder, "valid")
    L_test, y_test = load_split(folder, "test") or load_split(folder, "valid")
    return fit[0], L_test, y_test, cardinality(folder)


def score(folder: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of class 1 for the F1 folders, accuracy elsewhere."""
    if folder in F1_FOLDERS:
        tp = np.sum((y_pred == 1) & (y_true == 1))
        denom = np.sum(y_pred == 1) + np.sum(y_true == 1)
        return float(2 * tp / denom) if denom else 0.0
    return float(np.mean(y_pred == y_true))
