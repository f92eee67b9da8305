"""The front of a ranking or regression run: its settings, and its examples before any LF sees them.

:class:`UniversalSettings` (what the run needs from the pipeline file) lives here because
preparing the examples is the first step to need it: :mod:`.features` and :mod:`.pipeline`
come later in the run and import this module, never the other way round.

**Examples.**  Regression examples are rows.  Ranking examples are queries: one row per
set of items in the layout of :mod:`.sets` (item ids in a list column, item fields in
aligned lists), either given so in the data or drawn from a table of items
(``set_size`` and ``sets``).  The gold column (``vote_average`` for the movies) is split off
before anything else (:func:`prepare_examples`): LFs never see it and the store does not
keep it.  For rankings it is a list of item scores (higher is better) aligned with the items.

>>> import polars as pl
>>> frame = pl.DataFrame({"example_id": ["a", "b"], "split": ["train", "test"], "x": [1.0, 2.0], "y": [0.5, None]})
>>> prepared = prepare_examples(frame, UniversalSettings(label_type="regression", gold_column="y"))
>>> prepared.examples.columns, prepared.gold.tolist()
(['example_id', 'split', 'x'], [0.5, nan])
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from weaksup.data import ID
from weaksup.model.ranking import RankingLabelModel
from weaksup.model.regression import RegressionLabelModel
from weaksup.pipeline.tasks.sets import ITEMS, item_sets

LABEL_TYPES = ("ranking", "regression")
END_MODELS = {"ranking": ("pairwise_ranker", "none"), "regression": ("soft_regressor", "none")}
"""End models each label type accepts (``trainer.name``)."""

MAX_GOLD_LABELS = 50
"""Most gold labels a regression run may use to fix y's scale and offset (the issue's budget)."""


@dataclass(frozen=True)
class UniversalSettings:
    """What a ranking or regression run needs; the field docs name the pipeline key each comes from."""

    label_type: str  # labels.type
    gold_column: str  # data.gold_column
    split_column: str = "split"  # data.split_column (absent from the data: every example is in train_split)
    train_split: str = "train"  # data.train_split
    test_split: str = "test"  # data.test_split
    seed: int = 0  # label_model.seed (also the end model's and the gold draw's)
    label_model_params: Mapping[str, Any] = field(default_factory=dict)  # label_model.params
    items_column: str = ITEMS  # ranking.items_column
    set_size: int | None = None  # ranking.set_size: draw sets of this many items from an item table
    sets: Mapping[str, int] = field(default_factory=dict)  # ranking.sets: how many sets per split
    sets_seed: int = 0  # ranking.seed
    ndcg_k: int = 5  # ranking.ndcg_k
    gold_labels: int = MAX_GOLD_LABELS  # regression.gold_labels
    end_model: str | None = None  # trainer.name (default: the type's end model)
    end_model_params: Mapping[str, Any] = field(default_factory=dict)  # trainer.params
    features: Sequence[str] | None = None  # trainer.features (default: every allowed numeric column)
    exclude_columns: Sequence[str] = ()  # trainer.exclude_columns
    formats: Sequence[str] = ("parquet", "jsonl")  # export.formats
    keep_uncovered: bool = False  # export.keep_uncovered

    def __post_init__(self) -> None:
        if self.label_type not in LABEL_TYPES:
            raise ValueError(f"labels.type is {self.label_type!r}; the universal steps take {list(LABEL_TYPES)}")
        if self.end_model is None:
            object.__setattr__(self, "end_model", END_MODELS[self.label_type][0])
        if self.end_model not in END_MODELS[self.label_type]:
            raise ValueError(
                f"trainer.name is {self.end_model!r}, which does not fit labels.type = {self.label_type!r}; "
                f"use one of {list(END_MODELS[self.label_type])}"
            )
        if self.ndcg_k < 1:
            raise ValueError(f"ranking.ndcg_k is {self.ndcg_k}; it must be positive")
        if not 0 <= self.gold_labels <= MAX_GOLD_LABELS:
            raise ValueError(
                f"regression.gold_labels is {self.gold_labels}; use 0 to {MAX_GOLD_LABELS} gold labels "
                "(0 leaves y standardised, or in label_model.params.reference_lf's units)"
            )
        if self.label_type == "regression" and self.gold_labels and "reference_lf" in self.label_model_params:
            raise ValueError(
                "label_model.params.reference_lf and regression.gold_labels both fix y's units; "
                "set regression.gold_labels = 0 to use the reference LF"
            )
        if self.set_size is not None and not self.sets:
            raise ValueError("ranking.set_size is set but ranking.sets is empty; give the number of sets per split")
        if self.sets and self.set_size is None:
            raise ValueError("ranking.sets is set but ranking.set_size is not; give the number of items per set")
        bad = {s: n for s, n in self.sets.items() if n < 1}
        if bad:
            raise ValueError(f"ranking.sets must hold positive counts, got {bad}")

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> UniversalSettings:
        """Settings from a validated pipeline (:class:`weaksup.pipeline.config.PipelineConfig` values)."""
        data, trainer, export = values["data"], values["trainer"], values["export"]
        ranking = values.get("ranking") or {}
        regression = values.get("regression") or {}
        return cls(
            label_type=values["labels"]["type"],
            gold_column=data["gold_column"],
            split_column=data["split_column"],
            train_split=data["train_split"],
            test_split=data["test_split"],
            seed=values["label_model"]["seed"],
            label_model_params=values["label_model"]["params"],
            items_column=ranking.get("items_column", ITEMS),
            set_size=ranking.get("set_size"),
            sets=ranking.get("sets") or {},
            sets_seed=ranking.get("seed", 0),
            ndcg_k=ranking.get("ndcg_k", 5),
            gold_labels=regression.get("gold_labels", MAX_GOLD_LABELS),
            end_model=trainer["name"],
            end_model_params=trainer["params"],
            features=trainer.get("features"),
            exclude_columns=tuple(trainer.get("exclude_columns") or ()),
            formats=tuple(export["formats"]),
            keep_uncovered=export["keep_uncovered"],
        )

    def label_model(self) -> RankingLabelModel | RegressionLabelModel:
        """A fresh label model of the run's type with ``label_model.params``."""
        try:
            if self.label_type == "ranking":
                return RankingLabelModel(**{"seed": self.seed, **self.label_model_params})
            return RegressionLabelModel(**self.label_model_params)
        except TypeError as exc:
            raise ValueError(f"label_model.params do not fit the {self.label_type} label model: {exc}") from None


# -- examples -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """The examples (id, split, inputs: what LFs see and the store keeps) and their gold.

    ``gold``: regression, a float array (NaN = unknown); ranking, per example a mapping item
    id → score (empty when unknown).
    """

    examples: pl.DataFrame
    gold: Any


def prepare_examples(frame: pl.DataFrame, settings: UniversalSettings) -> Prepared:
    """Shape a loaded frame (with ``example_id``) into examples and split the gold off.

    Ranking: with ``settings.set_size`` the frame is a table of items and sets are drawn
    from it (:func:`~.sets.item_sets`); otherwise its rows must already be sets.
    """
    split_column = settings.split_column
    if split_column not in frame.columns:
        frame = frame.with_columns(pl.lit(settings.train_split).alias(split_column))
    frame = frame.with_columns(pl.col(split_column).cast(pl.String))
    if settings.label_type == "regression":
        return _prepare_regression(frame, settings)
    if settings.set_size is not None:
        frame = item_sets(
            frame, size=settings.set_size, counts=settings.sets, seed=settings.sets_seed,
            split_column=split_column, items_column=settings.items_column,
        )  # fmt: skip
    return _prepare_ranking(frame, settings)


def _prepare_regression(frame: pl.DataFrame, settings: UniversalSettings) -> Prepared:
    col = settings.gold_column
    if col not in frame.columns:
        return Prepared(frame, np.full(frame.height, np.nan))
    try:
        gold = frame[col].cast(pl.Float64, strict=True).fill_null(np.nan).to_numpy()
    except pl.exceptions.InvalidOperationError:
        raise ValueError(f"data.gold_column {col!r} must hold numbers (null where unknown), got {frame[col].dtype}") from None
    if np.isinf(gold).any():
        row = int(np.flatnonzero(np.isinf(gold))[0])
        raise ValueError(f"data.gold_column {col!r} is {gold[row]} for example {frame[ID][row]!r}; gold values must be finite")
    return Prepared(frame.drop(col), gold)


def _prepare_ranking(frame: pl.DataFrame, settings: UniversalSettings) -> Prepared:
    items_col, gold_col = settings.items_column, settings.gold_column
    if items_col not in frame.columns:
        raise ValueError(
            f"ranking.items_column {items_col!r} is not in the data (columns: {frame.columns}); each example needs "
            "its list of item ids, or set ranking.set_size and ranking.sets to draw sets from a table of items"
        )
    if not isinstance(frame[items_col].dtype, pl.List):
        raise ValueError(f"ranking.items_column {items_col!r} must hold lists of item ids, got {frame[items_col].dtype}")
    frame = frame.with_columns(pl.col(items_col).list.eval(pl.element().cast(pl.String)))
    items = frame[items_col].to_list()
    ids = frame[ID].to_list()
    for i, its in enumerate(items):
        if len(set(its)) != len(its):
            dup = next(x for x in its if its.count(x) > 1)
            raise ValueError(f"example {ids[i]!r}: item {dup!r} appears twice in {items_col!r}; each item once per example")
    if gold_col not in frame.columns:
        return Prepared(frame, [{} for _ in items])
    if not isinstance(frame[gold_col].dtype, pl.List) or not frame[gold_col].dtype.inner.is_numeric():
        raise ValueError(
            f"data.gold_column {gold_col!r} must hold a list of item scores per example (higher is better), "
            f"got {frame[gold_col].dtype}"
        )
    scores = frame[gold_col].to_list()
    gold: list[dict[Hashable, float]] = []
    for i, (its, s) in enumerate(zip(items, scores)):
        if s is None:
            gold.append({})
            continue
        if len(s) != len(its):
            raise ValueError(
                f"example {ids[i]!r}: data.gold_column {gold_col!r} holds {len(s)} scores for {len(its)} items; "
                "give one score per item (null for unknown)"
            )
        gold.append({x: float(v) for x, v in zip(its, s) if v is not None})
    return Prepared(frame.drop(gold_col), gold)


def select_lfs(lfs: Sequence[Any], label_type: str) -> list[Any]:
    """The LFs of ``label_type`` (an LF module may hold LFs of several types)."""
    chosen = [lf for lf in lfs if lf.label_type == label_type]
    if not chosen:
        found = sorted({lf.label_type for lf in lfs})
        raise ValueError(
            f"labels.type is {label_type!r} but the LF modules define no {label_type} LFs (only {found}); "
            f"declare them with @labeling_function(label_type={label_type!r})"
        )
    return chosen
