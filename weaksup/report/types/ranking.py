"""The report of ranking runs: an order of each example's items, votes as per LF a mapping
row → the ranking it voted.

LFs are scored by Kendall tau distance to the aggregate and to gold; a vote disagrees with the
final label when it orders more than half of the item pairs differently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from weaksup.evaluation import kendall_tau_distance
from weaksup.label_types.ranking import RANKING
from weaksup.report import svg
from weaksup.report.types.base import Chart, RunData, kendall_distance, nanmean
from weaksup.store import ReportReader



def by_score(gold: dict[str, float]) -> list[str]:
    """A gold mapping item → score as a ranking, best first."""
    return sorted(gold, key=lambda x: -gold[x])


class Ranking:
    """:class:`~weaksup.report.types.base.ReportType` of ``labels.type = "ranking"``."""

    name = RANKING.name
    agreement_measure = "1 - Kendall distance"
    agreement_floor = 0.0
    suspicious = False
    reads_in_parts = False  # Kendall means over LF pairs need every example at once; its runs are small
    label_columns = RANKING.label_columns

    def read_votes(self, store: ReportReader, keys: np.ndarray, versions: Sequence[tuple[str, str]]) -> Any:
        """Per LF, row → the ranking it voted (rankings of two or more items only)."""
        got = store.vote_coordinates(keys, versions, "ranking")
        out: list[dict[int, list[str]]] = [{} for _ in versions]
        for row, col, vote in zip(got["row"].to_pylist(), got["col"].to_pylist(), got["vote"].to_pylist()):
            if vote is not None and len(vote) >= 2:
                out[col][row] = [str(x) for x in vote]
        return out

    def classes(self, recorded: list[str], view: RunData) -> list[str]:
        """As recorded (ranking runs have none)."""
        return recorded

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Examples with gold scores of two or more items (something to order)."""
        return np.array([len(g) > 1 for g in gold], dtype=bool)

    def lf_stats(self, view: RunData) -> pl.DataFrame:
        """``coverage``, ``kt_to_aggregate``, ``kt_to_gold`` (gold outside the test split)."""
        dev = view.dev_mask() & view.gold_mask()
        agg_rank = view.labels["ranking"].to_list()
        rows = []
        for a, name in enumerate(view.lf_names):
            mine = view.votes[a]
            to_agg = [kendall_distance(r, agg_rank[i]) for i, r in mine.items()]
            to_gold = [kendall_tau_distance(r, view.gold[i]) for i, r in mine.items() if dev[i]] if view.gold else []
            rows.append({"lf": name, "coverage": len(mine) / max(view.n, 1), "kt_to_aggregate": nanmean(to_agg),
                         "kt_to_gold": nanmean(to_gold)})  # fmt: skip
        return pl.DataFrame(rows, schema={"lf": pl.String, "coverage": pl.Float64, "kt_to_aggregate": pl.Float64,
                                          "kt_to_gold": pl.Float64})  # fmt: skip

    def votes_per_lf(self, view: RunData) -> np.ndarray:
        """Rankings per LF."""
        return np.array([len(mine) for mine in view.votes], dtype=np.int64)

    def pair_agreement(self, view: RunData, lfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """1 - the mean Kendall tau distance where both LFs voted."""
        m = len(lfs)
        overlap, score = np.zeros((m, m)), np.full((m, m), np.nan)
        for i, a in enumerate(lfs):
            for j, b in enumerate(lfs):
                both = view.votes[a].keys() & view.votes[b].keys()
                overlap[i, j] = len(both)
                d = nanmean([kendall_distance(view.votes[a][r], view.votes[b][r]) for r in both])
                score[i, j] = np.nan if d is None else 1 - d
        return overlap, score

    def conflict(self, view: RunData) -> np.ndarray:
        """The mean Kendall distance of the votes to the aggregate."""
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

    def wrongness(self, view: RunData) -> np.ndarray:
        """Kendall distance of the aggregate to the gold order."""
        agg = view.labels["ranking"].to_list()
        return np.array([np.nan_to_num(kendall_distance(agg[i] or [], by_score(g)), nan=0.0)
                         if len(g) > 1 else 0.0 for i, g in enumerate(view.gold)])  # fmt: skip

    def disagreeing_rows(self, view: RunData, a: int) -> np.ndarray:
        """Rows where LF ``a``'s ranking is more than 0.5 Kendall distance from the aggregate."""
        agg = view.labels["ranking"].to_list()
        return np.array(sorted(i for i, r in view.votes[a].items() if kendall_distance(r, agg[i] or []) > 0.5),
                        dtype=np.int64)  # fmt: skip

    def vote_text(self, view: RunData, rows: np.ndarray) -> list[list[str]]:
        """``lf=a>b>c`` per vote."""
        names = view.lf_names
        out: list[list[str]] = [[] for _ in rows]
        where = {int(r): i for i, r in enumerate(rows)}
        for a, mine in enumerate(view.votes):
            for r in rows:
                if int(r) in mine:
                    out[where[int(r)]].append(f"{names[a]}={'>'.join(mine[int(r)])}")
        return out

    def shown(self, view: RunData, rows: np.ndarray, labels: pl.DataFrame) -> tuple[list[str], list[str | None]]:
        """Orders as ``a>b>c``; gold ordered by its scores."""
        label = [">".join(r or []) for r in labels["ranking"].to_list()]
        gold = [">".join(by_score(view.gold[r])) if view.gold else None for r in rows]
        return label, gold

    def charts(self, view: RunData, table: pl.DataFrame, seed: int) -> list[Chart]:
        """Coverage against agreement per LF, each LF's distance to the aggregate, preference confidence."""
        names = table["lf"].to_list()
        to_agg = [v if v is not None else float("nan") for v in table["kt_to_aggregate"].to_list()]
        has_gold = table["kt_to_gold"].drop_nulls().len() > 0
        y = "kt_to_gold" if has_gold else "kt_to_aggregate"
        points = [(c, 1 - d, f"{lf}: coverage {c:.1%}, 1 - Kendall distance {1 - d:.3f}")
                  for lf, c, d in table.select("lf", "coverage", y).rows() if c is not None and d is not None]  # fmt: skip
        prefs = []
        for p in view.labels["payload"].to_list():
            matrix = np.asarray(json.loads(p)["preferences"], dtype=float) if p else np.zeros((0, 0))
            iu = np.triu_indices(len(matrix), 1)
            if len(iu[0]):
                prefs.append(float(np.mean(np.maximum(matrix[iu], 1 - matrix[iu]))))
        return [
            ("coverage-accuracy", "Coverage vs agreement", "1 - Kendall tau distance to "
             + ("gold (outside the test split)" if has_gold else "the aggregate") + " against coverage, per LF.",
             svg.scatter("coverage-accuracy", points, "coverage", "1 - Kendall tau distance",
                         (max(0.0, min((p[0] for p in points), default=0.0) - 0.05), 1.0), (0, 1))),
            ("kendall-aggregate", "Kendall tau distance to the aggregate", "Share of item pairs each LF orders "
             "differently from the label model's ranking (0 = same order).",
             svg.bars(names, {"distance to aggregate": to_agg}, name="kendall-aggregate",
                      y_label="Kendall tau distance")),
            ("confidence", "Preference confidence", "Per example, the mean over item pairs of max(P, 1 - P) "
             "from the label model's pairwise preferences.",
             svg.histogram({"confidence": np.array(prefs)}, 20, "confidence", "mean pairwise confidence", (0.5, 1.0))),
        ]  # fmt: skip
