"""Stress sets derived from the shared data, one per regime the default must hold on (issue 20).

They stand for data no one tuned on: votes built here by rules fixed in advance, never adjusted to
how a label model scores on them.  Each is a transductive :class:`~_sets.BenchSet` (fit and score on
the same rows).

- ``sms new user``: the eight keyword LFs a new user might write (``labeling_functions/sms_new_user.py``)
  on sms train (13% spam); 40% of rows are left uncovered, so the class prior decides them.
- ``goemotions 9 classes``: many sparse one-class keyword LFs: 164 LFs mined from GoEmotions train
  (sets of 3 of the words of highest precision for each of 9 emotions), applied to 1,700 dev and
  test comments: each fires a few to a few dozen times.
- ``goemotions 10 classes``: 26 broad keyword-list LFs (2 or 3 per emotion, 10 emotions), mined the
  same way on a third of train, applied to 12,900 other comments: low accuracy, many classes.
- ``trec 1.7k``: trec train cut to 1,700 rows (its 68 keyword LFs then fire a few dozen times).
- ``<folder> 3 LFs 289 rows``: three weak signals on a small table: 289 rows and 3 LFs of a WRENCH
  label matrix (yelp, tennis, commercial, imdb), drawn with numpy seed 0.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from _sets import BenchSet
from _wrench import F1_FOLDERS, SHARED, load_split

from weaksup.apply import apply_lfs
from weaksup.data import ID
from weaksup.pipeline.sources import load_lf_modules
from weaksup.votes import SparseVotes

ROOT = Path(__file__).resolve().parents[1]

SMALL_TABLES = ("yelp", "tennis", "commercial", "imdb")
WORD = re.compile(r"[a-z']+")


def _set(name: str, L: np.ndarray, y: np.ndarray, k: int, metric: str) -> BenchSet:
    votes = SparseVotes.from_dense(L)
    return BenchSet(name, votes, votes, y, k, metric)


def sms_new_user() -> BenchSet:
    """The eight keyword LFs of ``labeling_functions/sms_new_user.py`` on sms train (``data/sms``)."""
    frame = pl.read_csv(ROOT / "data" / "sms" / "sms.csv").filter(pl.col("split") == "train").rename({"id": ID})
    lfs = load_lf_modules([ROOT / "labeling_functions" / "sms_new_user.py"])
    votes = apply_lfs(lfs, frame, cardinality=2, progress=False).votes
    return BenchSet("sms new user", votes, votes, frame["label"].to_numpy(), 2, "f1")


@cache
def _goemotions(split: str) -> list[tuple[list[str], str]]:
    """(words, label) of the single-label comments of a GoEmotions split."""
    with gzip.open(SHARED / "goemotions" / f"{split}.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    return [(WORD.findall(r["text"].lower()), r["labels"][0]) for r in rows if len(r["labels"]) == 1]


def _mine(rows: list[tuple[list[str], str]], classes: list[str], per_class: int, min_count: int) -> list[tuple[str, int]]:
    """The ``per_class`` words of highest precision for each class (seen at least ``min_count`` times)."""
    word_count: Counter = Counter()
    word_class: Counter = Counter()
    for words, label in rows:
        for w in set(words):
            word_count[w] += 1
            if label in classes:
                word_class[w, label] += 1
    out = []
    for c, name in enumerate(classes):
        scored = [(word_class[w, name] / n, w) for w, n in word_count.items() if n >= min_count and word_class[w, name]]
        out += [(w, c) for _, w in sorted(scored, reverse=True)[:per_class]]
    return out


def goemotions_keywords(n_classes: int, n_lfs: int, n_rows: int, words_per_lf: int) -> BenchSet:
    """``n_lfs`` keyword LFs for the ``n_classes`` most frequent emotions (neutral left out), each
    voting its class when a comment holds one of its ``words_per_lf`` words."""
    mine_rows = _goemotions("train")
    freq = Counter(label for _, label in mine_rows if label != "neutral")
    classes = [c for c, _ in freq.most_common(n_classes)]
    rng = np.random.default_rng(0)
    if n_rows <= 2000:  # sparse LFs: mine on all of train, apply to dev and test
        pool, mine_on = _goemotions("dev") + _goemotions("test"), mine_rows
    else:  # broad LFs: mine on a third of train, apply to the rest, dev and test
        order = rng.permutation(len(mine_rows))
        mine_on = [mine_rows[i] for i in order[: len(order) // 3]]
        pool = [mine_rows[i] for i in order[len(order) // 3 :]] + _goemotions("dev") + _goemotions("test")
    per_class = -(-n_lfs // n_classes) * words_per_lf
    words = _mine(mine_on, classes, per_class, min_count=30)
    by_class = {c: [w for w, cc in words if cc == c] for c in range(n_classes)}
    lfs = []  # (word set, class), classes in turn until n_lfs
    for i in range(per_class // words_per_lf):
        for c in range(n_classes):
            chunk = by_class[c][i * words_per_lf : (i + 1) * words_per_lf]
            if chunk and len(lfs) < n_lfs:
                lfs.append((frozenset(chunk), c))
    pool = [(set(w), classes.index(label)) for w, label in pool if label in classes]
    pick = rng.choice(len(pool), min(n_rows, len(pool)), replace=False)
    rows = [pool[i] for i in np.sort(pick)]
    L = np.array([[c if words & ws else -1 for ws, c in lfs] for words, _ in rows])
    y = np.array([label for _, label in rows])
    return _set(f"goemotions {n_classes} classes", L, y, n_classes, "acc")


def trec_small(n_rows: int = 1700) -> BenchSet:
    L, y = load_split("trec", "train")
    rows = np.sort(np.random.default_rng(0).choice(len(y), n_rows, replace=False))
    return _set(f"trec {n_rows / 1000:.1f}k", L[rows], y[rows], 6, "acc")


def small_table(folder: str, n_rows: int = 289, n_lfs: int = 3) -> BenchSet:
    L, y = load_split(folder, "train") or load_split(folder, "valid")
    rng = np.random.default_rng(0)
    usable = np.flatnonzero((L >= 0).mean(axis=0) >= 0.05)  # a signal on 289 rows needs some votes
    cols = np.sort(rng.choice(usable, n_lfs, replace=False))
    rows = np.sort(rng.choice(len(y), n_rows, replace=False))
    metric = "f1" if folder in F1_FOLDERS else "acc"
    return _set(f"{folder} {n_lfs} LFs {n_rows} rows", L[np.ix_(rows, cols)], y[rows], 2, metric)


def stress_sets() -> list[BenchSet]:
    return [
        sms_new_user(),
        goemotions_keywords(9, 164, 1700, 3),
        goemotions_keywords(10, 26, 12900, 4),
        trec_small(),
        *[small_table(f) for f in SMALL_TABLES],
    ]
