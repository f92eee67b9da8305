"""The report of categorical runs: a class per example, votes as sparse class ids.

LFs are scored by Snorkel-style summaries (polarity, coverage, overlaps, conflicts, accuracy on
gold, the label model's learned accuracy); a vote disagrees with the final label when its class
differs; cleanlab's suspicious-label check applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from weaksup.analysis import lf_counts, summary_frame
from weaksup.label_types.categorical import CATEGORICAL
from weaksup.report import svg
from weaksup.report.types.base import Chart, RunData
from weaksup.store import ReportReader
from weaksup.votes import SparseVotes, ascending


CONFIDENCE_BINS = 20
"""Bins of the label confidence histogram, from 1/k to 1."""


def class_name(view: RunData, c: int | None) -> str:
    """Class id ``c`` by its name (``—`` for none; the id itself beyond the run's classes)."""
    if c is None or c < 0:
        return "—"
    return view.classes[c] if c < len(view.classes) else str(c)


class Categorical:
    """:class:`~weaksup.report.types.base.ReportType` of ``labels.type = "categorical"``."""

    name = CATEGORICAL.name
    agreement_measure = "agree"
    agreement_floor = 0.0
    suspicious = True
    reads_in_parts = True  # counts, top-k and seeded samples over examples: they add up part by part
    label_columns = CATEGORICAL.label_columns

    def read_votes(self, store: ReportReader, keys: np.ndarray, versions: Sequence[tuple[str, str]]) -> Any:
        """The run's label matrix (SparseVotes)."""
        return store.label_matrix(keys, versions)

    def classes(self, recorded: list[str], view: RunData) -> list[str]:
        """The config's classes; a run that recorded none gets ids up to the largest seen."""
        if recorded:
            return recorded
        top = 0
        for part in view.parts():
            top = max(top, int(part.votes.labels.max(initial=0)), int(part.labels["label"].max() or 0))
        return [str(c) for c in range(top + 1)]

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Examples with a gold class."""
        return CATEGORICAL.gold_mask(gold)

    def lf_stats(self, view: RunData) -> pl.DataFrame:
        """``polarity`` (class names), ``coverage``, ``overlaps``, ``conflicts``, ``emp_acc`` with
        ``gold_n`` (gold outside the test split) and ``learned_acc`` (the label model's)."""
        stored = view.run["lf_summary"] or []
        learned = {r["lf"]: r.get("learned_acc") for r in stored if "lf" in r}
        counts = None
        for part in view.parts():
            dev = part.dev_mask() & part.gold_mask()
            gold = np.where(dev, part.gold, -1) if part.gold is not None else None
            got = lf_counts(part.votes, gold)
            counts = got if counts is None else counts + got
        assert counts is not None  # a run has labels: at least one part
        frame = summary_frame(counts, view.lf_names)
        frame = frame.with_columns(
            pl.col("polarity").map_elements(lambda p: [view.classes[int(c)] if int(c) < len(view.classes) else str(c)
                                                       for c in p], return_dtype=pl.List(pl.String)),  # fmt: skip
            pl.Series("learned_acc", [learned.get(lf) for lf in view.lf_names], dtype=pl.Float64),
        )
        if counts.correct is not None:
            frame = frame.with_columns((pl.col("correct") + pl.col("incorrect")).alias("gold_n")).drop(
                "correct", "incorrect"
            )
        return frame

    def votes_per_lf(self, view: RunData) -> np.ndarray:
        """Votes per LF, counted part by part."""
        counts = np.zeros(len(view.lf_names), dtype=np.int64)
        for part in view.parts():
            counts += np.bincount(part.votes.cols, minlength=len(counts))
        return counts

    def pair_agreement(self, view: RunData, lfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Share of equal votes where both LFs voted: counted from the votes of ``lfs`` only, as
        sparse products (a crowd run's thousands of workers never make a dense worker × worker array)."""
        m = len(lfs)
        overlap, agree = np.zeros((m, m), dtype=np.int64), np.zeros((m, m), dtype=np.int64)
        column = np.full(len(view.lf_names), -1, dtype=np.int64)
        column[lfs] = np.arange(m)
        for part in view.parts():
            v = part.votes
            mine = column[v.cols] >= 0
            kept = SparseVotes(rows=v.rows[mine], cols=column[v.cols[mine]].astype(v.cols.dtype), labels=v.labels[mine],
                               n=v.n, m=m)  # fmt: skip
            both, same = _pair_counts(kept)
            overlap += both
            agree += same
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(overlap > 0, agree / np.maximum(overlap, 1), np.nan)
        return overlap, score

    def conflict(self, view: RunData) -> np.ndarray:
        """Votes against the label; ties broken by more votes first."""
        v = view.votes
        label = view.labels["label"].fill_null(-1).to_numpy()
        against = np.bincount(v.rows, weights=v.labels != label[v.rows], minlength=v.n)
        return against + np.bincount(v.rows, minlength=v.n) / 1000

    def wrongness(self, view: RunData) -> np.ndarray:
        """The label's confidence where it differs from the gold class."""
        label = view.labels["label"].fill_null(-1).to_numpy()
        conf = view.labels["confidence"].fill_null(0.0).to_numpy()
        return np.where((view.gold >= 0) & (label != view.gold), conf, 0.0)

    def disagreeing_rows(self, view: RunData, a: int) -> np.ndarray:
        """Rows where LF ``a`` voted another class than the label."""
        v = view.votes
        label = view.labels["label"].fill_null(-1).to_numpy()
        mine = np.flatnonzero(v.cols == a)
        rows = v.rows[mine]
        rows = rows[v.labels[mine] != label[rows]]
        return rows if ascending(rows, strict=True) else np.unique(rows)  # the store's: one per row, in order

    def vote_text(self, view: RunData, rows: np.ndarray) -> list[list[str]]:
        """``lf=CLASS`` per vote."""
        names, v = view.lf_names, view.votes
        out: list[list[str]] = [[] for _ in rows]
        where = {int(r): i for i, r in enumerate(rows)}
        pick = np.isin(v.rows, rows)
        for r, c, lab in zip(v.rows[pick].tolist(), v.cols[pick].tolist(), v.labels[pick].tolist()):
            out[where[r]].append(f"{names[c]}={class_name(view, lab)}")
        return out

    def shown(self, view: RunData, rows: np.ndarray, labels: pl.DataFrame) -> tuple[list[str], list[str | None]]:
        """Class names."""
        label = [class_name(view, c) for c in labels["label"].to_list()]
        gold = [class_name(view, int(view.gold[r])) for r in rows] if view.gold is not None else [None] * len(rows)
        return label, gold

    def charts(self, view: RunData, table: pl.DataFrame, seed: int) -> list[Chart]:
        """Coverage against accuracy per LF, the class distribution against gold, label confidence."""
        has_gold = "emp_acc" in table.columns and table["emp_acc"].drop_nulls().len() > 0
        acc_col = "emp_acc" if has_gold else "learned_acc"
        rows = table.select("lf", "coverage", acc_col).rows()
        points = [(c, a, f"{lf}: coverage {c:.1%}, accuracy {a:.1%}") for lf, c, a in rows
                  if c is not None and a is not None]  # fmt: skip
        max_cov = max((p[0] for p in points), default=1.0)
        charts: list[Chart] = [(
            "coverage-accuracy", "Coverage vs accuracy",
            ("Empirical accuracy on gold (outside the test split)" if has_gold else "Learned accuracy of the label model")
            + " against the share of examples each LF votes on. Top right is best.",
            svg.scatter("coverage-accuracy", points, "coverage", "accuracy", (0, max(max_cov, 0.05)),
                        (min(0.5, *(p[1] for p in points)) if points else 0.5, 1.0)),
        )]  # fmt: skip
        k = len(view.classes)
        lo = 1 / max(k, 1)
        edges = np.linspace(lo, 1.0 if lo < 1 else lo + 1, CONFIDENCE_BINS + 1)
        prob_sum, gold_counts = np.zeros(k), np.zeros(k, dtype=np.int64)
        covered_n = gold_n = conf_n = 0
        conf_counts = np.zeros(CONFIDENCE_BINS, dtype=np.int64)
        for part in view.parts():  # sums and histogram counts: they add up part by part
            column = part.labels["probs"]
            if isinstance(column.dtype, pl.List):
                column = column.list.to_array(k)  # an array in one step: 1M Python lists cost seconds
            covered = part.labels["n_votes"].to_numpy() > 0
            prob_sum += np.asarray(column.filter(pl.Series(covered)).to_numpy(), dtype=float).reshape(-1, k).sum(axis=0)
            covered_n += int(covered.sum())
            gold = np.asarray(part.gold)[part.gold_mask()] if part.gold is not None else np.zeros(0, dtype=np.int64)
            gold_counts, gold_n = gold_counts + np.bincount(gold, minlength=k)[:k], gold_n + len(gold)
            conf = part.labels["confidence"].fill_null(np.nan).to_numpy().astype(float)[covered]
            conf = conf[np.isfinite(conf)]
            conf_counts, conf_n = conf_counts + np.histogram(conf, edges)[0], conf_n + len(conf)
        series = {"probabilistic labels": (prob_sum / covered_n).tolist() if covered_n else [0.0] * k}
        if gold_n:
            series["gold"] = (gold_counts / gold_n).tolist()
        charts.append(("class-balance", "Class distribution", "Mean class probability over covered examples"
                       + (", against the share of each class in gold." if len(series) > 1 else "."),
                       svg.bars(view.classes, series, name="class-balance", y_label="share")))  # fmt: skip
        charts.append(("confidence", "Label confidence", "Probability of the most probable class, covered examples. "
                       "Mass near 1/k means the votes barely decide.",
                       svg.binned({"confidence": conf_counts / max(conf_n, 1)}, edges, "confidence", "confidence")))  # fmt: skip
        return charts


def _pair_counts(votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
    """LF × LF: examples both LFs voted on, and those where their votes are equal."""
    votes = votes.by_row()
    rows, cols, labels = votes.rows, votes.cols, votes.labels
    # one CSR structure (example × LF) for every matrix; int32 ones: exact counts at half float64's size
    shape = (votes.n, votes.m)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=votes.n))))
    voted = sp.csr_matrix((np.ones(len(cols), dtype=np.int32), cols, indptr), shape=shape)
    overlap = (voted.T @ voted).toarray().astype(np.int64)
    agree = np.zeros_like(overlap)
    for c in np.unique(labels):  # 1 where the vote is class c, 0 elsewhere: the same structure
        a_c = sp.csr_matrix(((labels == c).astype(np.int32), cols, indptr), shape=shape)
        agree += (a_c.T @ a_c).toarray()
    return overlap, agree
