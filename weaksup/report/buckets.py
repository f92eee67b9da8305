"""Example buckets for writing and fixing LFs, each example shown with which LF voted what.

:func:`buckets` returns, sampled so a report stays small at any data size:

``uncovered``
    Examples no LF voted on (a seeded sample): material for new LFs.
``most_conflict``
    The examples whose votes disagree most (categorical: most votes against the label;
    regression: largest label variance; rankings: largest mean Kendall distance of the votes
    to the aggregate).
``confident_wrong``
    With gold: the labels furthest from gold relative to their confidence.
``lf_disagreements``
    Per LF, a seeded sample of its votes that disagree with the final label (column ``lf``).

Each frame has ``example_id``, ``split``, ``text``, ``label``, ``score`` (what the bucket
sorts by), ``gold`` and ``votes`` (``lf=vote`` strings).  The scores, what "against the final
label" means and how labels and votes read are the run's kind's (:mod:`weaksup.report.types`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weaksup.report.view import RunView


def buckets(view: RunView, size: int = 20, per_lf: int = 5, seed: int = 0) -> dict[str, pl.DataFrame]:
    """The buckets of the module docstring: ``size`` examples each, ``per_lf`` per LF."""
    rng = np.random.default_rng(seed)
    n_votes = view.labels["n_votes"].to_numpy()
    score = view.kind.conflict(view)
    out = {
        "uncovered": _frame(view, _sample(np.flatnonzero(n_votes == 0), size, rng), np.zeros(view.n)),
        "most_conflict": _frame(view, _top(score, size, n_votes > 0), score),
    }
    if view.gold is not None:
        wrong = view.kind.wrongness(view)
        out["confident_wrong"] = _frame(view, _top(wrong, size, view.gold_mask() & (wrong > 0)), wrong)
    parts = []
    for a, lf in enumerate(view.lf_names):
        rows = view.kind.disagreeing_rows(view, a)
        picked = _sample(rows, per_lf, rng)
        if len(picked):
            parts.append(_frame(view, picked, score).with_columns(pl.lit(lf).alias("lf")).select("lf", pl.exclude("lf")))
    out["lf_disagreements"] = pl.concat(parts) if parts else _frame(view, np.array([], dtype=np.int64), score).with_columns(
        pl.lit("").alias("lf")
    )
    return out


def _sample(rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(rows, k, replace=False)) if len(rows) > k else rows


def _top(score: np.ndarray, k: int, eligible: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(eligible & ~np.isnan(score))
    return rows[np.argsort(-score[rows], kind="stable")[:k]]


def _frame(view: RunView, rows: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    labels = view.labels[rows.tolist()] if len(rows) else view.labels.clear()
    texts = view.texts(rows)
    label, gold = view.kind.shown(view, rows, labels)
    return pl.DataFrame(
        {
            "example_id": view.example_ids(rows),
            "split": labels["split"].cast(pl.String),
            "text": texts,
            "label": label,
            "score": [float(score[r]) for r in rows],
            "gold": gold,
            "votes": view.kind.vote_text(view, rows),
        },
        schema_overrides={"example_id": pl.String, "split": pl.String, "gold": pl.String, "votes": pl.List(pl.String),
                          "text": pl.String, "label": pl.String},
    )

