"""The report of multi-label runs: a set of labels per example, votes as (example, LF, label) coordinates.

LFs are scored by their coverage, the labels they vote, the share of their votes that match the
predicted set, and on gold (outside the test split) the precision of their "present" votes; two
LFs agree where both voted the same set.  A vote disagrees with the final label when it names
present a label the predicted set leaves out.  Charts: each LF's coverage and precision per label,
the label co-occurrence heatmap of the predicted sets (and of gold), the label balance, and the
label probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from weaksup.label_types.multilabel import MULTILABEL
from weaksup.label_types.multilabel_votes import MultiLabelVotes
from weaksup.report import svg
from weaksup.report.types.base import Chart, RunData
from weaksup.store import ReportReader


def predicted(view: RunData, k: int) -> np.ndarray:
    """(n, k) bool: each example's predicted set (the label rows' ``payload``)."""
    out = np.zeros((view.n, k), dtype=bool)
    for i, chosen in enumerate(view.labels["payload"].to_list()):
        for j in json.loads(chosen) if chosen else ():
            if j < k:
                out[i, j] = True
    return out


def probabilities(view: RunData, k: int) -> np.ndarray:
    """(n, k): each example's label probabilities (the label rows' ``probs``, a list or array column)."""
    column = view.labels["probs"]
    if not view.n or not k:
        return np.zeros((view.n, k))
    return np.asarray((column.list.to_array(k) if isinstance(column.dtype, pl.List) else column).to_numpy(), dtype=float)


def vote_sets(votes: MultiLabelVotes) -> tuple[np.ndarray, np.ndarray]:
    """(n, m) bool: which LFs voted on each example; (n, m) int64: a code of each vote (equal codes,
    equal votes; 0 where none)."""
    voted = np.zeros((votes.n, votes.m), dtype=bool)
    voted[votes.rows, votes.cols] = True
    code = np.zeros((votes.n, votes.m), dtype=np.int64)
    if votes.nnz:
        cells = (pl.DataFrame({"row": votes.rows, "col": votes.cols, "side": votes.labels.astype(np.int64) * 2 + votes.present})
                 .group_by("row", "col").agg(pl.col("side").sort().cast(pl.String).str.join(","))
                 .with_columns(pl.col("side").rank("dense").cast(pl.Int64)))  # fmt: skip
        code[cells["row"].to_numpy(), cells["col"].to_numpy()] = cells["side"].to_numpy()
    return voted, code


class MultiLabel:
    """:class:`~weaksup.report.types.base.ReportType` of ``labels.type = "multilabel"``."""

    name = MULTILABEL.name
    agreement_measure = "same set"
    agreement_floor = 0.0
    suspicious = False
    reads_in_parts = False  # label-by-label rates and co-occurrence read a run whole
    label_columns = MULTILABEL.label_columns

    def read_votes(self, store: ReportReader, keys: np.ndarray, versions: Sequence[tuple[str, str]]) -> Any:
        """The run's MultiLabelVotes."""
        return store.votes(self.name, keys, versions)

    def classes(self, recorded: list[str], view: RunData) -> list[str]:
        """The config's classes; a run that recorded none gets ids up to the largest voted."""
        return recorded or [str(c) for c in range(view.votes.k)]

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Examples with a known gold set."""
        return MULTILABEL.gold_mask(gold)

    def _judged(self, view: RunData) -> tuple[MultiLabelVotes, np.ndarray]:
        """The present votes, and which of them are on non-test rows with gold."""
        votes = view.votes
        rows = view.dev_mask() & view.gold_mask() if view.gold is not None else np.zeros(view.n, dtype=bool)
        return votes, rows[votes.rows] & votes.present

    def lf_stats(self, view: RunData) -> pl.DataFrame:
        """``coverage``, ``labels`` (voted present), ``agrees_with_label`` (votes whose present
        labels are all in the predicted set), ``precision`` (present votes right on non-test gold)."""
        votes, judged = self._judged(view)
        k = len(view.classes)
        chosen = predicted(view, k)
        voted, _ = vote_sets(votes)
        outside = votes.present & ~chosen[votes.rows, np.minimum(votes.labels, k - 1)]
        against = np.zeros((votes.n, votes.m), dtype=bool)
        against[votes.rows[outside], votes.cols[outside]] = True
        right = (np.asarray(view.gold)[votes.rows[judged], np.minimum(votes.labels[judged], k - 1)] > 0) if judged.any() else judged[:0]
        n_voted = voted.sum(axis=0)
        return pl.DataFrame({
            "lf": view.lf_names,
            "coverage": n_voted / max(view.n, 1),
            "labels": [sorted({view.classes[j] for j in votes.labels[(votes.cols == a) & votes.present] if j < k})
                       for a in range(votes.m)],
            "agrees_with_label": [float(1 - against[:, a].sum() / n_voted[a]) if n_voted[a] else None for a in range(votes.m)],
            "precision": [float(right[votes.cols[judged] == a].mean()) if (votes.cols[judged] == a).any() else None
                          for a in range(votes.m)],
        }, schema={"lf": pl.String, "coverage": pl.Float64, "labels": pl.List(pl.String),
                   "agrees_with_label": pl.Float64, "precision": pl.Float64})  # fmt: skip

    def votes_per_lf(self, view: RunData) -> np.ndarray:
        """Examples per LF."""
        return vote_sets(view.votes)[0].sum(axis=0).astype(np.int64)

    def pair_agreement(self, view: RunData, lfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The share of the examples both LFs voted on where they voted the same set."""
        voted, code = vote_sets(view.votes)
        voted, code = voted[:, lfs].astype(float), code[:, lfs]
        overlap = voted.T @ voted
        same = np.array([[float(((code[:, a] == code[:, b]) & (voted[:, a] > 0) & (voted[:, b] > 0)).sum())
                          for b in range(len(lfs))] for a in range(len(lfs))])  # fmt: skip
        with np.errstate(invalid="ignore", divide="ignore"):
            return overlap, np.where(overlap > 0, same / np.maximum(overlap, 1), np.nan)

    def conflict(self, view: RunData) -> np.ndarray:
        """Per example, the labels some LF votes present that another LF voting on it leaves out
        or calls absent (the fewer side of each label, summed)."""
        votes = view.votes
        k = max(votes.k, len(view.classes))
        yes = np.zeros((votes.n, k))
        np.add.at(yes, (votes.rows[votes.present], votes.labels[votes.present]), 1.0)
        others = votes.n_votes()[:, None] - yes
        return np.where(yes > 0, np.minimum(yes, others), 0.0).sum(axis=1)

    def wrongness(self, view: RunData) -> np.ndarray:
        """Per example, how far its label probabilities are from its gold set (summed over labels)."""
        gold = np.asarray(view.gold, dtype=float)
        k = gold.shape[1] if gold.ndim == 2 else 0
        probs = probabilities(view, k)
        return np.where(MULTILABEL.gold_mask(gold), np.abs(probs - gold).sum(axis=1), 0.0)

    def disagreeing_rows(self, view: RunData, a: int) -> np.ndarray:
        """The rows where LF ``a`` votes present a label the predicted set leaves out."""
        votes = view.votes
        chosen = predicted(view, max(votes.k, len(view.classes)))
        mine = (votes.cols == a) & votes.present
        return np.unique(votes.rows[mine & ~chosen[votes.rows, votes.labels]])

    def vote_text(self, view: RunData, rows: np.ndarray) -> list[list[str]]:
        """``lf={a,b}`` per vote, ``not c`` for the labels it calls absent."""
        part = view.votes.select_rows(np.asarray(rows, dtype=np.int64))
        names = view.lf_names
        out: list[list[str]] = []
        for cells in part.cells():
            line = []
            for a, cell in enumerate(cells):
                if cell is not None:
                    yes, no = cell
                    text = ",".join(self._name(view, j) for j in yes) + "".join(f" not {self._name(view, j)}" for j in no)
                    line.append(f"{names[a]}={{{text.strip()}}}")
            out.append(line)
        return out

    def shown(self, view: RunData, rows: np.ndarray, labels: pl.DataFrame) -> tuple[list[str], list[str | None]]:
        """The predicted and gold sets, by name."""
        label = ["{" + ", ".join(self._name(view, j) for j in json.loads(p)) + "}" if p else "—"
                 for p in labels["payload"].to_list()]  # fmt: skip
        gold = np.asarray(view.gold) if view.gold is not None else None
        shown = [None if gold is None or (gold[r] < 0).any() else "{" + ", ".join(self._name(view, j) for j in np.flatnonzero(gold[r])) + "}"
                 for r in rows]  # fmt: skip
        return label, shown

    @staticmethod
    def _name(view: RunData, j: int) -> str:
        return view.classes[j] if 0 <= j < len(view.classes) else str(j)

    def charts(self, view: RunData, table: pl.DataFrame, seed: int) -> list[Chart]:
        """Per-label coverage and precision of each LF, label co-occurrence, label balance, probabilities."""
        votes, judged = self._judged(view)
        classes, k, m = view.classes, len(view.classes), votes.m
        present = votes.present & (votes.labels < k)
        fired = np.zeros((m, k))
        np.add.at(fired, (votes.cols[present], votes.labels[present]), 1.0)
        right, asked = np.zeros((m, k)), np.zeros((m, k))
        if judged.any():
            gold = np.asarray(view.gold)
            on = judged & (votes.labels < k)
            np.add.at(asked, (votes.cols[on], votes.labels[on]), 1.0)
            np.add.at(right, (votes.cols[on], votes.labels[on]), (gold[votes.rows[on], votes.labels[on]] > 0).astype(float))
        charts: list[Chart] = [
            ("label-coverage", "Coverage of each LF, per label", "Share of the examples on which each LF votes each "
             "label present.", svg.bars(view.lf_names, {c: fired[:, j] / max(view.n, 1) for j, c in enumerate(classes)},
                                        name="label-coverage", y_label="coverage")),  # fmt: skip
        ]
        if asked.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                precision = np.where(asked > 0, right / np.maximum(asked, 1), 0.0)
            charts.append(("label-accuracy", "Accuracy of each LF, per label", "Share of each LF's present votes of a "
                           "label that gold confirms (non-test examples with gold; 0 where it never votes the label).",
                           svg.bars(view.lf_names, {c: precision[:, j] for j, c in enumerate(classes)},
                                    name="label-accuracy", y_label="precision")))  # fmt: skip
        sets = {"predicted": predicted(view, k).astype(float)}
        known = view.gold_mask() if view.gold is not None else np.zeros(view.n, dtype=bool)
        if known.any():
            sets["gold"] = (np.asarray(view.gold)[known] > 0).astype(float)
        for which, y in sets.items():
            together, count = y.T @ y, y.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = np.where(count[:, None] > 0, together / np.maximum(count[:, None], 1), np.nan)
            tips = [[f"{classes[i]} → {classes[j]}: {int(together[i, j])} of {int(count[i])} examples with {classes[i]} "
                     f"also have {classes[j]}" for j in range(k)] for i in range(k)]  # fmt: skip
            charts.append((f"cooccurrence-{which}", f"Label co-occurrence ({which} sets)", f"Row label i, column j: the "
                           f"share of examples whose {which} set holds i that also hold j (the diagonal is 100).",
                           svg.heatmap(f"cooccurrence-{which}", classes, rate, tips)))  # fmt: skip
        charts.append(("class-balance", "Label balance", "Share of examples carrying each label"
                       + (": predicted, and gold." if len(sets) > 1 else " in the predicted sets."),
                       svg.bars(classes, {w: y.mean(axis=0) if len(y) else np.zeros(k) for w, y in sets.items()},
                                name="class-balance", y_label="share")))  # fmt: skip
        probs = probabilities(view, k)
        charts.append(("confidence", "Label probabilities", "Each label's probability on each example (most are near 0).",
                       svg.histogram({"P(label)": probs.ravel()}, 20, "confidence", "probability")))  # fmt: skip
        return charts
