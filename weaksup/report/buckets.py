"""Example buckets for writing and fixing LFs, each example shown with which LF voted what.

:func:`buckets` returns, sampled so a report stays small at any data size, and from the examples
outside the test split only (the person writing LFs never sees the test split or its gold):

``uncovered``
    Examples no LF voted on (a seeded sample): material for new LFs.
``most_conflict``
    The examples whose votes disagree most (categorical: most votes against the label;
    regression: largest label variance; rankings: largest mean Kendall distance of the votes
    to the aggregate).
``confident_wrong``
    With gold: the labels furthest from gold relative to their confidence.
``lf_disagreements``
    Per LF (of the 60 with the most votes: :func:`~weaksup.report.frames.top_lfs`), a seeded
    sample of its votes that disagree with the final label (column ``lf``).

Each frame has ``example_id``, ``split``, ``text``, ``label``, ``score`` (what the bucket
sorts by), ``gold`` and ``votes`` (``lf=vote`` strings).  The scores, what "against the final
label" means and how labels and votes read are the run's kind's (:mod:`weaksup.report.types`).

The run is read part by part (:meth:`~weaksup.report.view.RunView.parts`): the top examples
are kept per part and merged, and a sample keeps the examples of the smallest seeded hash of
their key, so it is the same however the run is split into parts.  Ties go to the smaller key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from weaksup.report.frames import top_lfs
from weaksup.report.view import RunView


@dataclass
class Chosen:
    """Up to ``k`` examples (by key) with their scores, kept smallest ``rank`` first (ties: smaller key)."""

    k: int
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, keys: np.ndarray, scores: np.ndarray, ranks: np.ndarray) -> None:
        """Offer the examples ``keys`` (of one part) with their scores and ranks; keep the ``k`` best."""
        keys, scores, ranks = (np.concatenate((self.keys, keys)), np.concatenate((self.scores, scores)),
                               np.concatenate((self.ranks, ranks)))  # fmt: skip
        if 0 < self.k < len(ranks) and not np.isnan(ranks).any():  # the k smallest and the k-th's ties, then sort those
            near = np.flatnonzero(ranks <= np.partition(ranks, self.k - 1)[self.k - 1])
            keys, scores, ranks = keys[near], scores[near], ranks[near]
        keep = np.lexsort((keys, ranks))[: self.k]
        self.keys, self.scores, self.ranks = keys[keep], scores[keep], ranks[keep]


def sample_ranks(keys: np.ndarray, seed: int, salt: int = 0) -> np.ndarray:
    """A seeded pseudo-random rank per example key, so the same key ranks the same in any part
    (``salt`` gives each LF's sample its own ranks): SplitMix64 of the key and (seed, salt), a
    fixed function, so a seed picks the same sample in every version of weaksup and its libraries."""
    x = np.asarray(keys, dtype=np.int64).astype(np.uint64) + np.uint64(((seed + 1) * 0x9E3779B97F4A7C15 + salt) % 2**64)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        x = (x ^ (x >> np.uint64(shift))) * np.uint64(factor)  # uint64 arithmetic wraps, as SplitMix64 does
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64)  # the top 53 bits: exact as a float


def buckets(view: RunView, size: int = 20, per_lf: int = 5, seed: int = 0) -> dict[str, pl.DataFrame]:
    """The buckets of the module docstring: ``size`` examples each, ``per_lf`` per LF."""
    kind = view.report_type
    chosen = {"uncovered": Chosen(size), "most_conflict": Chosen(size)}
    if view.has_gold:
        chosen["confident_wrong"] = Chosen(size)
    sampled = top_lfs(view)
    per = [Chosen(per_lf) for _ in sampled]
    for part in view.parts():
        keys = part.labels["ex_key"].to_numpy()
        n_votes = part.labels["n_votes"].to_numpy()
        dev = part.dev_mask()  # the test split is never shown to the person writing LFs
        score = kind.conflict(part)
        none = (n_votes == 0) & dev
        chosen["uncovered"].add(keys[none], np.zeros(int(none.sum())), sample_ranks(keys[none], seed))
        _top(chosen["most_conflict"], keys, score, (n_votes > 0) & dev)
        if "confident_wrong" in chosen:
            wrong = kind.wrongness(part)
            _top(chosen["confident_wrong"], keys, wrong, part.gold_mask() & (wrong > 0) & dev)
        for a, kept in zip(sampled.tolist(), per):
            rows = kind.disagreeing_rows(part, a)
            rows = rows[dev[rows]]
            kept.add(keys[rows], score[rows], sample_ranks(keys[rows], seed, a + 1))
    shown = np.unique(np.concatenate([c.keys for c in [*chosen.values(), *per]]))
    held, rows = view.locate(shown)
    out = {}
    for name, c in chosen.items():
        order = np.argsort(c.keys) if name == "uncovered" else np.arange(len(c.keys))  # samples in key order
        out[name] = _frame(held, rows[np.searchsorted(shown, c.keys[order])], c.scores[order])
    parts = []
    for lf, c in zip([view.lf_names[a] for a in sampled], per):
        if len(c.keys):
            order = np.argsort(c.keys)
            frame = _frame(held, rows[np.searchsorted(shown, c.keys[order])], c.scores[order])
            parts.append(frame.with_columns(pl.lit(lf).alias("lf")).select("lf", pl.exclude("lf")))
    out["lf_disagreements"] = pl.concat(parts) if parts else _frame(held, np.array([], dtype=np.int64), np.zeros(0)).with_columns(
        pl.lit("").alias("lf")
    )
    return out


def _top(kept: Chosen, keys: np.ndarray, score: np.ndarray, eligible: np.ndarray) -> None:
    """Offer the eligible examples with a score, highest first."""
    ok = eligible & ~np.isnan(score)
    kept.add(keys[ok], score[ok], -score[ok])


def _frame(view: RunView, rows: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    labels = view.labels[rows.tolist()] if len(rows) else view.labels.clear()
    texts = view.texts(rows)
    label, gold = view.report_type.shown(view, rows, labels)
    return pl.DataFrame(
        {
            "example_id": view.example_ids(rows),
            "split": labels["split"].cast(pl.String),
            "text": texts,
            "label": label,
            "score": [float(s) for s in score],
            "gold": gold,
            "votes": view.report_type.vote_text(view, rows),
        },
        schema_overrides={"example_id": pl.String, "split": pl.String, "gold": pl.String, "votes": pl.List(pl.String),
                          "text": pl.String, "label": pl.String},
    )
