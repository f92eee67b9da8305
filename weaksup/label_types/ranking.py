"""Ranking labels: an order of each example's items; LFs vote a list of item ids, best first (maybe
of some items only), or abstain (``None``).

Votes go to the store's ``ranking`` column (item ids as strings) and are read back as
:class:`~weaksup.votes.RankingVotes`; labels are the ``ranking`` and the pairwise preference
probabilities (``payload``); gold is per example a mapping item id → score; the end model is a
pairwise ranker on numeric item columns (:class:`~weaksup.end_models.PairwiseRanker`).

>>> RANKING.check_vote([3, "a"], 0)
['3', 'a']
>>> RANKING.metrics([["a", "b", "c"]], [{"a": 3.0, "b": 2.0, "c": 1.0}], k=2)
{'kendall_tau_distance': 0.0, 'ndcg_at_2': 1.0}
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from weaksup.label_types.base import LabelType, Part, VoteError, VoteReader
from weaksup.votes import RankingVotes

if TYPE_CHECKING:
    from weaksup.store.votes import LFVersions

__all__ = ["RANKING", "RankingType"]

NDCG_K = 5
"""k of NDCG@k when a caller sets none (``ranking.ndcg_k``'s default)."""


class RankingType(LabelType):
    """Ranking labels (see the module docstring)."""

    name = "ranking"
    doc = "an order of each example's items; see [ranking]"
    vote_column = "ranking"
    votes_class = RankingVotes
    label_columns = ("ranking", "payload")
    end_models = ("pairwise_ranker", "none")
    end_model = "PairwiseRanker"
    end_model_file = "end_model.json"
    predicted_columns = ("ranking",)
    task = Part("weaksup.pipeline.tasks.ranking:RankingTask")
    report_type = Part("weaksup.report.types.ranking:Ranking")
    section = "ranking"

    def check_vote(self, value: Any, cardinality: int, classes: Sequence[str] = ()) -> list[str] | None:
        """Item ids best first (stored as strings), or None to abstain."""
        if value is None:
            return None
        expected = "a ranking LF must return a list of distinct item ids, best first, or None to abstain"
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
            raise VoteError(f"{value!r} of type {type(value).__name__}", expected)
        items = [str(v) for v in value]
        if len(set(items)) != len(items):
            dupes = sorted({v for v in items if items.count(v) > 1})
            raise VoteError(f"a ranking with duplicate items {dupes}", expected)
        return items

    def check_column(self, column: pl.Series, cardinality: int, classes: Sequence[str] = ()) -> tuple[np.ndarray, list[Any] | None]:
        expected = "a ranking LF yields lists of distinct item ids, best first, or null to abstain"
        if not isinstance(column.dtype, pl.List):
            raise VoteError(f"a column of dtype {column.dtype}", expected)
        items = column.list.eval(pl.element().cast(pl.String))
        dupes = (items.list.n_unique() != items.list.len()).fill_null(False)
        if dupes.any():
            row = int(np.flatnonzero(dupes.to_numpy())[0])
            raise VoteError(f"a ranking with duplicate items {items.filter(dupes)[0].to_list()}", expected, row)
        return self.as_output(items.to_list())

    def read_votes(self, votes: VoteReader, ex_keys: np.ndarray, lfs: LFVersions, **context: Any) -> RankingVotes:
        """The rankings of ``lfs`` on ``ex_keys``, whose item sets are ``context["items"]`` (one per key).

        The store keeps item ids as strings, so the items are compared as strings too (and the
        returned votes use the string ids).  A vote ranking an item outside its example's set
        is an error naming the LF and the example (``context["example_ids"][i]``, else the key)."""
        votes.check_label_type(lfs, self.name)
        items: Sequence[Sequence[Hashable]] = context["items"]
        example_ids: Sequence[str] | None = context.get("example_ids")
        keys = np.asarray(ex_keys, dtype=np.int64)
        if len(items) != len(keys):
            raise ValueError(f"ranking_votes: {len(items)} item sets for {len(keys)} example keys; give one per key")
        sets = [tuple(str(x) for x in its) for its in items]
        got = votes.coordinates(keys, lfs, self.vote_column)
        rankings: list[list[tuple[str, ...] | None]] = [[None] * len(lfs) for _ in keys]
        for i, a, ranking in zip(got["row"].to_numpy(), got["col"].to_numpy(), got["vote"].to_pylist()):
            allowed = set(sets[i])
            outside = [x for x in ranking if x not in allowed]
            if outside:
                where = f"example {example_ids[i]!r}" if example_ids is not None else f"the example with key {int(keys[i])}"
                raise ValueError(
                    f"LF {lfs[a][0]!r} (version {lfs[a][1]!r}) ranks item {outside[0]!r} on {where}, "
                    f"which is not in the example's item set {list(sets[i])}; rank only the example's items"
                )
            rankings[i][a] = tuple(ranking)
        return RankingVotes(items=sets, rankings=rankings, lf_names=tuple(lf[0] for lf in lfs))

    def label_rows(self, ex_keys: np.ndarray, predicted: Any, n_votes: np.ndarray) -> pl.DataFrame:
        """``predicted``: each example's ranking and its (d, d) matrix of P(item i above item j)
        (kept as JSON, rounded to 6 digits)."""
        rankings, preferences = predicted
        return pl.DataFrame(
            {
                "ex_key": ex_keys,
                "ranking": pl.Series(rankings, dtype=pl.List(pl.String)),
                "payload": [json.dumps({"preferences": np.round(P, 6).tolist()}) for P in preferences],
                "n_votes": n_votes.astype(np.int32),
            }
        )

    def training_frame(self, inputs: pl.DataFrame, rows: pl.DataFrame, classes: Sequence[str]) -> pl.DataFrame:
        """``ranking`` (item ids, best first), ``preferences`` (items in the example's order), ``n_votes``."""
        prefs = [json.loads(p)["preferences"] for p in rows["payload"].to_list()]
        return inputs.with_columns(
            rows["ranking"],
            pl.Series("preferences", prefs, dtype=pl.List(pl.List(pl.Float64))),
            rows["n_votes"].cast(pl.Int64),
        )

    def gold_column(self, gold: Any) -> pl.Series:
        """Per example its mapping item id → score as JSON (``{}`` where unknown)."""
        return pl.Series("gold", [json.dumps({str(k): float(v) for k, v in g.items()}) for g in gold])

    def read_gold(self, column: pl.Series, classes: Sequence[str] = ()) -> list[dict[str, float]]:
        """Per example a mapping item id → score, empty where unknown."""
        return [json.loads(g) if g else {} for g in column.to_list()]

    def gold_mask(self, gold: Any) -> np.ndarray:
        """Examples with a gold score for some item."""
        return np.array([len(g) > 0 for g in gold], dtype=bool)

    def metrics(self, predicted: Any, gold: Any, **options: Any) -> dict[str, float | None]:
        """Mean Kendall tau distance and NDCG@k (``k``, default :data:`NDCG_K`) of the rankings
        restricted to each example's gold items."""
        from weaksup.evaluation import mean_kendall_tau_distance, mean_ndcg_at_k

        k = options.get("k", NDCG_K)
        rank = [[x for x in ranking if x in truth] for ranking, truth in zip(predicted, gold)]
        return {"kendall_tau_distance": mean_kendall_tau_distance(rank, gold), f"ndcg_at_{k}": mean_ndcg_at_k(rank, gold, k)}

    def load_end_model(self, path: Path, **options: Any) -> Any:
        from weaksup.end_models.ranking import PairwiseRanker

        return PairwiseRanker.load(path)

    def predict(self, model: Any, frame: pl.DataFrame, **options: Any) -> pl.DataFrame:
        """``ranking``: each example's items (the model's items column), best first, from the numeric
        list columns the model was trained on (one value per item)."""
        from weaksup.end_models.ranking import item_features

        meta = model.metadata_
        items_column, features = meta.get("items_column", "items"), list(meta.get("features") or [])
        missing = [c for c in (items_column, *features) if c not in frame.columns]
        if missing:
            raise ValueError(f"no columns {missing}, which the end model reads (its item ids and features); "
                             f"its columns are {frame.columns}")  # fmt: skip
        items = frame[items_column].cast(pl.List(pl.String)).to_list()
        order = model.predict(item_features(frame, features, np.arange(frame.height)))
        return pl.DataFrame([pl.Series("ranking", [[its[j] for j in o] for its, o in zip(items, order)],
                                       dtype=pl.List(pl.String))])  # fmt: skip


RANKING = RankingType()
