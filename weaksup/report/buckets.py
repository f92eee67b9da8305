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
sorts by), ``gold`` and ``votes`` (``lf=vote`` strings).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weaksup.report.frames import kendall_distance
from weaksup.report.view import RunView


def buckets(view: RunView, size: int = 20, per_lf: int = 5, seed: int = 0) -> dict[str, pl.DataFrame]:
    """The buckets of the module docstring: ``size`` examples each, ``per_lf`` per LF."""
    rng = np.random.default_rng(seed)
    n_votes = view.labels["n_votes"].to_numpy()
    score = _conflict(view)
    out = {
        "uncovered": _frame(view, _sample(np.flatnonzero(n_votes == 0), size, rng), np.zeros(view.n)),
        "most_conflict": _frame(view, _top(score, size, n_votes > 0), score),
    }
    if view.gold is not None:
        wrong = _wrongness(view)
        out["confident_wrong"] = _frame(view, _top(wrong, size, view.gold_mask() & (wrong > 0)), wrong)
    parts = []
    for a, lf in enumerate(view.lf_names):
        rows = _disagreeing_rows(view, a)
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


def _conflict(view: RunView) -> np.ndarray:
    """Per example, how much its votes disagree (see ``most_conflict``)."""
    if view.label_type == "categorical":
        v = view.votes
        label = view.labels["label"].fill_null(-1).to_numpy()
        against = np.bincount(v.rows, weights=v.labels != label[v.rows], minlength=v.n)
        return against + np.bincount(v.rows, minlength=v.n) / 1000  # ties: more votes first
    if view.label_type == "regression":
        return view.labels["variance"].fill_null(np.nan).to_numpy().astype(float)
    agg = view.labels["ranking"].to_list()
    total, count = np.zeros(view.n), np.zeros(view.n)
    for mine in view.votes:
        for i, r in mine.items():
            d = kendall_distance(r, agg[i] or [])
            if not np.isnan(d):
                total[i] += d
                count[i] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _wrongness(view: RunView) -> np.ndarray:
    """How confidently wrong each label is (0 where right or unknown)."""
    if view.label_type == "categorical":
        label = view.labels["label"].fill_null(-1).to_numpy()
        conf = view.labels["confidence"].fill_null(0.0).to_numpy()
        return np.where((view.gold >= 0) & (label != view.gold), conf, 0.0)
    if view.label_type == "regression":
        value = view.labels["value"].to_numpy().astype(float)
        sd = np.sqrt(np.maximum(view.labels["variance"].fill_null(np.nan).to_numpy().astype(float), 1e-12))
        z = np.abs(value - np.asarray(view.gold, dtype=float)) / sd
        return np.nan_to_num(z, nan=0.0)
    agg = view.labels["ranking"].to_list()
    return np.array([np.nan_to_num(kendall_distance(agg[i] or [], sorted(g, key=lambda x: -g[x])), nan=0.0)
                     if len(g) > 1 else 0.0 for i, g in enumerate(view.gold)])  # fmt: skip


def _disagreeing_rows(view: RunView, a: int) -> np.ndarray:
    """Rows where LF ``a`` voted against the final label."""
    if view.label_type == "categorical":
        v = view.votes
        label = view.labels["label"].fill_null(-1).to_numpy()
        mine = v.cols == a
        return np.unique(v.rows[mine][v.labels[mine] != label[v.rows[mine]]])
    if view.label_type == "regression":
        x, y = view.votes.values[:, a], view.labels["value"].to_numpy().astype(float)
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.sum() < 3 or np.std(x[ok]) == 0:
            return np.array([], dtype=np.int64)
        slope, intercept = np.polyfit(x[ok], y[ok], 1)
        resid = np.abs(y - (slope * x + intercept))
        cut = np.nanquantile(resid[ok], 0.9)
        return np.flatnonzero(ok & (resid >= cut) & (resid > 0))
    agg = view.labels["ranking"].to_list()
    return np.array(sorted(i for i, r in view.votes[a].items() if kendall_distance(r, agg[i] or []) > 0.5), dtype=np.int64)


def _vote_text(view: RunView, rows: np.ndarray) -> list[list[str]]:
    """``lf=vote`` for each LF that voted on each of ``rows``."""
    names = view.lf_names
    out: list[list[str]] = [[] for _ in rows]
    where = {int(r): i for i, r in enumerate(rows)}
    if view.label_type == "categorical":
        v = view.votes
        pick = np.isin(v.rows, rows)
        for r, c, lab in zip(v.rows[pick].tolist(), v.cols[pick].tolist(), v.labels[pick].tolist()):
            out[where[r]].append(f"{names[c]}={_class(view, lab)}")
    elif view.label_type == "regression":
        for r in rows:
            for a, x in enumerate(view.votes.values[r]):
                if not np.isnan(x):
                    out[where[int(r)]].append(f"{names[a]}={x:.4g}")
    else:
        for a, mine in enumerate(view.votes):
            for r in rows:
                if int(r) in mine:
                    out[where[int(r)]].append(f"{names[a]}={'>'.join(mine[int(r)])}")
    return out


def _class(view: RunView, c: int | None) -> str:
    if c is None or c < 0:
        return "—"
    return view.classes[c] if c < len(view.classes) else str(c)


def _frame(view: RunView, rows: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    labels = view.labels[rows.tolist()] if len(rows) else view.labels.clear()
    texts = view.texts(rows)
    if view.label_type == "categorical":
        label = [_class(view, c) for c in labels["label"].to_list()]
        gold = [_class(view, int(view.gold[r])) for r in rows] if view.gold is not None else [None] * len(rows)
    elif view.label_type == "regression":
        label = [f"{x:.4g}" if x is not None else "—" for x in labels["value"].to_list()]
        gold = [f"{view.gold[r]:.4g}" if view.gold is not None and not np.isnan(view.gold[r]) else None for r in rows]
    else:
        label = [">".join(r or []) for r in labels["ranking"].to_list()]
        gold = [">".join(sorted(view.gold[r], key=lambda x: -view.gold[r][x])) if view.gold else None for r in rows]
    return pl.DataFrame(
        {
            "example_id": labels["example_id"],
            "split": labels["split"],
            "text": texts,
            "label": label,
            "score": [float(score[r]) for r in rows],
            "gold": gold,
            "votes": _vote_text(view, rows),
        },
        schema_overrides={"gold": pl.String, "votes": pl.List(pl.String), "text": pl.String, "label": pl.String},
    )

