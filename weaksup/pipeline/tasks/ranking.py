"""Rankings: an order of each example's items, from (partial) ranking votes.

**Examples** are queries: one row per set of items in the layout of :mod:`.sets` (item ids in
``ranking.items_column``, each item field a list aligned with them), given so in the data or
drawn from a table of items (``ranking.set_size`` and ``ranking.sets``).  The gold column
(``data.gold_column``) is a list of item scores (higher is better) and is split off first.

**Labels.**  :class:`~weaksup.model.RankingLabelModel` (Mallows sources, weighted Kemeny) is
fitted on the train split's votes; each example gets a ranking and the (d, d) matrix of
P(item i above item j).  Scores on gold: Kendall tau distance (tied pairs skipped) and NDCG@k.
The end model (``pairwise_ranker``) learns from the preference probabilities of the covered
train examples, on numeric item columns no LF reads (:mod:`.features`).

**Exports**: ``example_id``, ``split``, the input columns, ``ranking`` (item ids, best first),
``preferences`` (items in the example's order), ``n_votes`` (LFs that ranked two or more items) and
``label_source``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup.data import ID
from weaksup.evaluation import mean_kendall_tau_distance
from weaksup.label_types.ranking import RANKING
from weaksup.model import RankingLabelModel
from weaksup.pipeline.settings import RankingSettings, Settings
from weaksup.pipeline.tasks.base import (
    Labeled,
    InMemoryPrepared,
    Trained,
    check_output_columns,
    gold_column,
    refuse_end_model,
    scores_by_split,
    select_lfs,
    training_table,
    with_split,
)
from weaksup.end_models.ranking import item_features
from weaksup.pipeline.tasks.features import columns_read, end_model_features
from weaksup.pipeline.tasks.sets import ITEMS, item_sets
from weaksup.store import VoteStore
from weaksup.votes import RankingVotes

DEFAULTS = RankingSettings(items_column=ITEMS, set_size=None, sets={}, seed=0, ndcg_k=5)
"""``[ranking]`` when the pipeline file leaves it out."""


class RankingTask:
    """Ranking runs (see the module docstring)."""

    label_type: ClassVar[str] = RANKING.name
    end_models: ClassVar[tuple[str, ...]] = RANKING.end_models

    @staticmethod
    def check(settings: Settings) -> str | None:
        """The ranking keys: list columns need parquet or jsonl, the sets need both keys, the label model its params."""
        r = settings.ranking or DEFAULTS
        if "csv" in settings.export.formats:
            return "export.formats: CSV cannot hold a ranking training set's list columns (items, ranking, preferences); use parquet or jsonl"
        if r.set_size is not None and not r.sets:
            return "ranking.set_size is set but ranking.sets is empty; give the number of sets per split"
        if r.sets and r.set_size is None:
            return "ranking.sets is set but ranking.set_size is not; give the number of items per set"
        bad = {s: n for s, n in r.sets.items() if n < 1}
        if bad:
            return f"ranking.sets must hold positive counts, got {bad}"
        try:
            RankingTask(settings).label_model()
        except ValueError as exc:
            return str(exc)
        return None

    def __init__(self, settings: Settings, end_model: Any = None) -> None:
        refuse_end_model(end_model, self.label_type)
        self.end_model = None
        self.settings = settings
        self.ranking = settings.ranking or DEFAULTS

    def label_model(self) -> RankingLabelModel:
        """A fresh label model with ``label_model.params``."""
        try:
            return RankingLabelModel(**{"seed": self.settings.label_model.seed, **self.settings.label_model.params})
        except TypeError as exc:
            raise ValueError(f"label_model.params do not fit the ranking label model: {exc}") from None

    def prepare(self, frame: pl.DataFrame, holdout: pl.DataFrame | None = None) -> InMemoryPrepared:
        """Draw the sets (with ``ranking.set_size``), check the items, split off the gold item scores
        (per example a mapping item id → score, empty when unknown)."""
        frame = with_split(frame, self.settings)
        r = self.ranking
        if r.set_size is not None:
            frame = item_sets(frame, size=r.set_size, counts=r.sets, seed=r.seed, split_column="split",
                              items_column=r.items_column)  # fmt: skip
        items_col = r.items_column
        if items_col not in frame.columns:
            raise ValueError(
                f"ranking.items_column {items_col!r} is not in the data (columns: {frame.columns}); each example needs "
                "its list of item ids, or set ranking.set_size and ranking.sets to draw sets from a table of items"
            )
        if not isinstance(frame[items_col].dtype, pl.List):
            raise ValueError(f"ranking.items_column {items_col!r} must hold lists of item ids, got {frame[items_col].dtype}")
        frame = frame.with_columns(pl.col(items_col).list.eval(pl.element().cast(pl.String)))
        items, ids = frame[items_col].to_list(), frame[ID].to_list()
        empty = next((i for i, its in enumerate(items) if its is None or None in its), None)
        if empty is not None:
            raise ValueError(f"example {ids[empty]!r}: {items_col!r} is {items[empty]!r}; each example needs a list of "
                             "item ids, none of them null: fill or drop such rows")  # fmt: skip
        for i, its in enumerate(items):
            if len(set(its)) != len(its):
                dup = next(x for x in its if its.count(x) > 1)
                raise ValueError(f"example {ids[i]!r}: item {dup!r} appears twice in {items_col!r}; each item once per example")
        gold: list[dict[Hashable, float]] = [{} for _ in items]
        gold_col = gold_column(frame, self.settings)
        if gold_col is not None:
            gold = _gold_scores(frame[gold_col], items, ids, gold_col)
            frame = frame.drop(gold_col)
        check_output_columns(frame, ["ranking", "preferences", "n_votes"])
        return InMemoryPrepared(frame, gold, RANKING.gold_mask(gold), holdout)

    def select_lfs(self, lfs: Sequence[LabelingFunctionLike]) -> list[LabelingFunctionLike]:
        """The ranking LFs."""
        return select_lfs(lfs, self.label_type)

    def label(
        self, store: VoteStore, ex_keys: np.ndarray, lfs: Sequence[LabelingFunctionLike], prepared: InMemoryPrepared, train: np.ndarray
    ) -> Labeled:
        """A ranking and pairwise preferences for every example; Kendall tau and NDCG per split."""
        examples, gold = prepared.examples, prepared.gold
        items = examples[self.ranking.items_column].to_list()
        versions = [(lf.name, lf.version) for lf in lfs]
        votes = store.votes.read(self.label_type, ex_keys, versions, items=items, example_ids=examples[ID].to_list())
        model = self.label_model().fit(_rows(votes, np.flatnonzero(train)))
        pred = model.predict(votes)
        prefs = model.predict_preferences(votes)
        n_votes = votes.vote_counts()
        labels = RANKING.label_rows(ex_keys, (pred, prefs), n_votes)
        metrics: dict[str, Any] = scores_by_split(prepared.split, prepared.has_gold, lambda rows: self._score(pred, gold, rows),
                                                  "label_model_")  # fmt: skip
        metrics["label_model_theta"] = dict(zip(votes.lf_names, np.round(model.theta_, 4).tolist()))
        dev = prepared.split != self.settings.data.test_split
        read = columns_read(lfs, examples.drop("split"))
        summary = pl.DataFrame(
            {
                "lf": list(votes.lf_names),
                "coverage": [float(np.mean([r[a] is not None and len(r[a]) >= 2 for r in votes.rankings])) for a in range(votes.m)],
                "theta": model.theta_,
                "kendall_tau_distance_vs_gold": [_lf_distance(votes, a, gold, dev) for a in range(votes.m)],
                "columns_read": [", ".join(read.get(name, [])) for name in votes.lf_names],
            }
        )
        return Labeled(model, labels, n_votes, (items, prefs), metrics, summary, read)

    def _score(self, rankings: Sequence[Sequence[Hashable]], gold: Sequence[Mapping[Hashable, float]],
               rows: np.ndarray) -> dict[str, float]:  # fmt: skip
        """Kendall tau distance and NDCG@k of ``rankings`` (indexed like the examples) on ``rows``."""
        return RANKING.metrics([rankings[i] for i in rows], [gold[i] for i in rows], k=self.ranking.ndcg_k)

    def training_set(self, store: VoteStore, run_id: int) -> pl.DataFrame:
        """The train split's examples with their ranking, preferences and vote count."""
        rows = store.runs.training_rows(run_id, self.settings.data.train_split, self.settings.export.keep_uncovered)
        return training_table(RANKING, rows, [])

    def training_batches(self, store: VoteStore, run_id: int, batch_rows: int) -> Iterator[pl.DataFrame]:
        """The training set as one batch: these runs load their source whole (streaming is categorical)."""
        yield self.training_set(store, run_id)

    def train_end_model(self, prepared: InMemoryPrepared, labeled: Labeled, train: np.ndarray, run_dir: Path) -> Trained:
        """The pairwise ranker on the covered train examples' preferences; its scores on the test split."""
        from weaksup.end_models import PairwiseRanker

        examples, trainer, test_split = prepared.examples, self.settings.trainer, self.settings.data.test_split
        features = end_model_features(examples, trainer, labeled.columns_read, ranking=True,
                                      reserved=[self.ranking.items_column])  # fmt: skip
        if not features:
            raise ValueError("the end model has no features: every numeric item column is read by an LF or excluded")
        items, prefs = labeled.predictions
        covered = np.flatnonzero(train & (labeled.n_votes > 0))
        try:
            ranker = PairwiseRanker(**{"seed": self.settings.label_model.seed, **trainer.params})
        except TypeError as exc:
            raise ValueError(f"trainer.params do not fit the pairwise ranker (C, max_pairs, seed): {exc}") from None
        ranker.fit(item_features(examples, features, covered), [prefs[i] for i in covered])
        ranker.save(run_dir / RANKING.end_model_file, {"features": features, "items_column": self.ranking.items_column})
        manifest = {"end_model": {"name": trainer.name, "features": features}}
        test = np.flatnonzero((prepared.split == test_split) & prepared.has_gold)
        if not len(test):
            return Trained({}, manifest)
        order = ranker.predict(item_features(examples, features, test))
        ranked = {int(i): [items[i][j] for j in o] for i, o in zip(test, order)}
        return Trained({f"end_model_{n}_{test_split}": v for n, v in self._score(ranked, prepared.gold, test).items()},
                       manifest)  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """The label model and the end model's input columns."""
        lm = self.settings.label_model
        return {"label_model": {"name": "ranking_label_model", "seed": lm.seed, "params": lm.params},
                "end_model": {"name": self.settings.trainer.name, "features": []}}  # fmt: skip


def _gold_scores(column: pl.Series, items: list[list[str]], ids: list[str], name: str) -> list[dict[Hashable, float]]:
    """Per example, item id → gold score (empty where the example has none)."""
    if not isinstance(column.dtype, pl.List) or not column.dtype.inner.is_numeric():
        raise ValueError(
            f"data.gold_column {name!r} must hold a list of item scores per example (higher is better), got {column.dtype}"
        )
    gold: list[dict[Hashable, float]] = []
    for i, (its, s) in enumerate(zip(items, column.to_list())):
        if s is None:
            gold.append({})
            continue
        if len(s) != len(its):
            raise ValueError(
                f"example {ids[i]!r}: data.gold_column {name!r} holds {len(s)} scores for {len(its)} items; "
                "give one score per item (null for unknown)"
            )
        gold.append({x: float(v) for x, v in zip(its, s) if v is not None})
    return gold


def _rows(votes: RankingVotes, rows: np.ndarray) -> RankingVotes:
    return RankingVotes(items=[votes.items[i] for i in rows], rankings=[votes.rankings[i] for i in rows], lf_names=votes.lf_names)


def _lf_distance(votes: RankingVotes, a: int, gold: Sequence[Mapping[Hashable, float]], rows: np.ndarray) -> float:
    """LF ``a``'s mean Kendall tau distance to gold where it votes, on ``rows`` (a mask)."""
    mine = [(votes.rankings[i][a], gold[i]) for i in np.flatnonzero(rows) if votes.rankings[i][a] is not None and gold[i]]
    return mean_kendall_tau_distance([r for r, _ in mine], [g for _, g in mine]) if mine else float("nan")
