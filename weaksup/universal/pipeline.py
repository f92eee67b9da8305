"""Pipeline steps for ranking and regression labels: from the data to labels, end model and exports.

A universal run shares its first steps with a categorical one (load the data, sync the
examples into the store, apply the LFs) and then goes its own way (:func:`run_universal`):

1. read the votes of the current LF versions on the live examples (:mod:`.store_io`);
2. fit the label model on the train split's votes (:class:`~.ranking.RankingLabelModel`,
   :class:`~.regression.RegressionLabelModel`).  Regression draws ``gold_labels`` gold values
   (at most 50, seeded) from the train split to fix y's scale and offset;
3. label every example (a ranking and pairwise preference probabilities, or a value and a
   variance) and write the labels to the store;
4. export the train split's training set, rebuilt from the store (:func:`training_set`);
5. train the end model on features that exclude every column an LF reads and the gold
   (:func:`end_model_features`), on the train examples some LF voted on;
6. evaluate on gold: Kendall tau distance (tied pairs skipped) and NDCG@k for rankings,
   MSE and MAE for regression; the label model on every split, the end model on the test split;
7. save the label model (JSON) and the end model (JSON for the ranker, skops for the regressor).

**Examples.**  Regression examples are rows.  Ranking examples are queries: one row per
set of items in the layout of :mod:`.sets` (item ids in a list column, item fields in
aligned lists), either given so in the data or drawn from a table of items
(``set_size`` and ``sets``).  The gold column (``vote_average`` for the movies) is split off
before anything else (:func:`prepare_examples`): LFs never see it and the store does not
keep it.  For rankings it is a list of item scores (higher is better) aligned with the items.

**Exports** (``training_set.parquet`` / ``.jsonl``): ``example_id``, the example's input
columns, then for rankings ``ranking`` (item ids, best first), ``preferences`` (the (d, d)
matrix P(item i above item j), items in the example's order) and ``n_votes``; for regression
``value`` (E[y | votes]), ``variance`` (Var[y | votes]) and ``n_votes`` (LFs that voted; a
ranking vote counts when it ranks two or more items).

>>> import polars as pl
>>> frame = pl.DataFrame({"example_id": ["a", "b"], "split": ["train", "test"], "x": [1.0, 2.0], "y": [0.5, None]})
>>> prepared = prepare_examples(frame, UniversalSettings(label_type="regression", gold_column="y"))
>>> prepared.examples.columns, prepared.gold.tolist()
(['example_id', 'split', 'x'], [0.5, nan])
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor

from weaksup.apply import apply_to_store, prepare_lfs
from weaksup.data import ID
from weaksup.export import write_table
from weaksup.lf import Row
from weaksup.universal.end_models import PairwiseRanker, SoftTargetRegressor
from weaksup.universal.metrics import mae, mean_kendall_tau_distance, mean_ndcg_at_k, mse
from weaksup.universal.ranking import RankingLabelModel
from weaksup.universal.regression import RegressionLabelModel
from weaksup.universal.sets import ITEMS, item_sets
from weaksup.universal.store_io import ranking_votes, regression_votes
from weaksup.universal.votes import RankingVotes

LABEL_TYPES = ("ranking", "regression")
END_MODELS = {"ranking": ("pairwise_ranker", "none"), "regression": ("soft_regressor", "none")}
"""End models each label type accepts (``trainer.name``)."""

MAX_GOLD_LABELS = 50
"""Most gold labels a regression run may use to fix y's scale and offset (the issue's budget)."""

TRACE_ROWS = 2000
"""How many rows (evenly spaced) each row-wise LF is traced on to find the columns it reads."""

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


# -- end-model features ---------------------------------------------------------------------------


class _TracingRow(Row):
    """A :class:`Row` that records the columns read from it."""

    __slots__ = ()

    def __init__(self, values: Mapping[str, Any], seen: set[str]) -> None:
        super().__init__(values)
        object.__setattr__(self, "_seen", seen)

    def __getattribute__(self, name: str) -> Any:
        values = object.__getattribute__(self, "__dict__")
        if name in values and name != "_seen":
            values["_seen"].add(name)
        return object.__getattribute__(self, name)

    def __getitem__(self, name: str) -> Any:
        self.__dict__["_seen"].add(name)
        return super().__getitem__(name)


def columns_read(lfs: Sequence[Any], frame: pl.DataFrame, max_rows: int = TRACE_ROWS) -> dict[str, list[str]]:
    """Each row-wise LF's name → the columns of ``frame`` it reads, found by running it on
    up to ``max_rows`` evenly spaced rows (exceptions count as abstains here).

    A column an LF reads only on rows outside the sample is missed, and LFs of other kinds
    (e.g. prompted LLM LFs) are not traced: list such columns in ``trainer.exclude_columns``.
    """
    rows = frame[np.unique(np.linspace(0, frame.height - 1, min(max_rows, frame.height)).astype(int))].to_dicts()
    out: dict[str, list[str]] = {}
    for lf in lfs:
        if lf.kind != "row":
            continue
        seen: set[str] = set()
        for row in rows:
            try:
                lf(_TracingRow(row, seen))
            except Exception:  # noqa: BLE001 - an LF bug is the applier's to report
                pass
        out[lf.name] = sorted(seen & set(frame.columns))
    return out


def _numeric(dtype: pl.DataType, ranking: bool) -> bool:
    if ranking:
        return isinstance(dtype, pl.List) and (dtype.inner.is_numeric() or dtype.inner == pl.Boolean)
    return dtype.is_numeric() or dtype == pl.Boolean


def end_model_features(
    examples: pl.DataFrame, settings: UniversalSettings, read: Mapping[str, Sequence[str]]
) -> list[str]:
    """The end model's input columns: ``trainer.features``, or every numeric column (rankings:
    numeric list column) that no LF reads and that is not excluded.  Never an LF column."""
    reader = {col: name for name, cols in read.items() for col in cols}
    reserved = {ID, settings.split_column, settings.items_column, settings.gold_column}
    ranking = settings.label_type == "ranking"
    if settings.features is None:
        return [
            c for c, t in examples.schema.items()
            if c not in reserved and c not in reader and c not in settings.exclude_columns and _numeric(t, ranking)
        ]  # fmt: skip
    for c in settings.features:
        if c in reader:
            raise ValueError(
                f"trainer.features lists {c!r}, which LF {reader[c]!r} reads; the end model must not see the "
                "columns the LFs read (it would learn the LFs back): drop it from trainer.features"
            )
        if c not in examples.columns or c in reserved:
            raise ValueError(f"trainer.features lists {c!r}, which is not an input column; inputs are {examples.columns}")
        if not _numeric(examples.schema[c], ranking):
            kind = "a list of numbers per item" if ranking else "numbers"
            raise ValueError(f"trainer.features lists {c!r} of type {examples.schema[c]}; features must be {kind}")
    return list(settings.features)


def _item_features(examples: pl.DataFrame, features: Sequence[str], rows: np.ndarray) -> list[np.ndarray]:
    """Per example, the (d, p) matrix of its items' features."""
    cols = [examples[c].cast(pl.List(pl.Float64)).to_list() for c in features]
    out = []
    for i in rows:
        X = np.array([[np.nan if v is None else v for v in col[i]] for col in cols], dtype=float).T
        if np.isnan(X).any():
            c = features[int(np.flatnonzero(np.isnan(X).any(axis=0))[0])]
            raise ValueError(
                f"end-model feature {c!r} is null for an item of example {examples[ID][int(i)]!r}; the pairwise ranker "
                "needs every feature: fill the nulls, or leave the column out (trainer.exclude_columns)"
            )
        out.append(X.reshape(len(X), len(features)))
    return out


# -- the run ------------------------------------------------------------------------------------


@dataclass
class UniversalResult:
    """What :func:`run_universal` produced: metrics, a per-LF summary and the files it wrote."""

    metrics: dict[str, Any]
    summary: pl.DataFrame
    files: list[Path]
    features: list[str]


def run_universal(
    store: Any,
    run_id: int,
    prepared: Prepared,
    ex_keys: np.ndarray,
    lfs: Sequence[Any],
    settings: UniversalSettings,
    run_dir: Path,
) -> UniversalResult:
    """Steps 1-7 of the module docstring, after the examples were synced (``ex_keys``, in
    ``prepared.examples`` order) and ``lfs`` applied."""
    examples = prepared.examples
    split = examples[settings.split_column].to_numpy()
    train = split == settings.train_split
    if not train.any():
        raise ValueError(
            f"no examples in train split {settings.train_split!r}; splits present: {sorted(set(split.tolist()))}"
        )
    versions = [(lf.name, lf.version) for lf in lfs]
    run_dir.mkdir(parents=True, exist_ok=True)
    step = _ranking_steps if settings.label_type == "ranking" else _regression_steps
    metrics, summary, labels, files, features = step(store, prepared, ex_keys, versions, lfs, settings, train, run_dir)
    store.write_labels(run_id, labels)
    frame = training_set(store, run_id, settings.label_type, settings.train_split, settings.keep_uncovered)
    files += [write_table(frame, run_dir / f"training_set.{fmt}", fmt) for fmt in settings.formats]
    metrics = {
        "n_examples": examples.height,
        "n_train": int(train.sum()),
        "n_lfs": len(lfs),
        "training_examples": frame.height,
        **metrics,
    }
    return UniversalResult(metrics, summary, files, features)


def _evaluate_splits(split: np.ndarray, score: Any, has_gold: np.ndarray) -> dict[str, float]:
    """``score(rows)`` → {name: value} for each split with gold, keyed ``<name>_<split>``."""
    out: dict[str, float] = {}
    for s in sorted(set(split.tolist())):
        rows = np.flatnonzero((split == s) & has_gold)
        if len(rows):
            out.update({f"{name}_{s}": value for name, value in score(rows).items()})
    return out


def _ranking_steps(
    store: Any, prepared: Prepared, ex_keys: np.ndarray, versions: list[tuple[str, str]], lfs: Sequence[Any],
    settings: UniversalSettings, train: np.ndarray, run_dir: Path,
) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame, list[Path], list[str]]:  # fmt: skip
    examples, gold = prepared.examples, prepared.gold
    items = examples[settings.items_column].to_list()
    votes = ranking_votes(store, ex_keys, versions, items, examples[ID].to_list())
    train_idx = np.flatnonzero(train)
    model = settings.label_model().fit(_ranking_rows(votes, train_idx))
    pred = model.predict(votes)
    prefs = model.predict_preferences(votes)
    n_votes = votes.vote_counts()
    labels = pl.DataFrame(
        {
            "ex_key": ex_keys,
            "ranking": pl.Series(pred, dtype=pl.List(pl.String)),
            "payload": [json.dumps({"preferences": np.round(P, 6).tolist()}) for P in prefs],
            "n_votes": n_votes.astype(np.int32),
        }
    )
    k = settings.ndcg_k
    has_gold = np.array([len(g) > 0 for g in gold])

    def score(rankings: Sequence[Sequence[Hashable]], rows: np.ndarray) -> dict[str, float]:
        truth = [gold[i] for i in rows]
        rank = [[x for x in rankings[i] if x in gold[i]] for i in rows]
        return {
            "kendall_tau_distance": mean_kendall_tau_distance(rank, truth),
            f"ndcg_at_{k}": mean_ndcg_at_k(rank, truth, k),
        }

    split = examples[settings.split_column].to_numpy()
    metrics: dict[str, Any] = {"train_coverage": float((n_votes[train] > 0).mean())}
    metrics.update(
        _evaluate_splits(split, lambda rows: {f"label_model_{n}": v for n, v in score(pred, rows).items()}, has_gold)
    )
    metrics["label_model_theta"] = dict(zip(votes.lf_names, np.round(model.theta_, 4).tolist()))
    model.save(run_dir / "label_model.json")
    files = [run_dir / "label_model.json"]

    read = columns_read(lfs, examples.drop(settings.split_column))
    features = end_model_features(examples, settings, read)
    test = np.flatnonzero((split == settings.test_split) & has_gold)
    if settings.end_model == "pairwise_ranker":
        if not features:
            raise ValueError("the end model has no features: every numeric item column is read by an LF or excluded")
        covered = train_idx[n_votes[train_idx] > 0]
        try:
            ranker = PairwiseRanker(**{"seed": settings.seed, **settings.end_model_params})
        except TypeError as exc:
            raise ValueError(f"trainer.params do not fit the pairwise ranker (C, max_pairs, seed): {exc}") from None
        ranker.fit(_item_features(examples, features, covered), [prefs[i] for i in covered])
        ranker.save(run_dir / "end_model.json", {"features": features, "items_column": settings.items_column})
        files.append(run_dir / "end_model.json")
        if len(test):
            order = ranker.predict(_item_features(examples, features, test))
            end_rank = {int(i): [items[i][j] for j in o] for i, o in zip(test, order)}
            metrics.update({f"end_model_{n}_{settings.test_split}": v for n, v in score(end_rank, test).items()})

    lf_cols = range(votes.m)
    summary = pl.DataFrame(
        {
            "lf": list(votes.lf_names),
            "coverage": [float(np.mean([r[a] is not None and len(r[a]) >= 2 for r in votes.rankings])) for a in lf_cols],
            "theta": model.theta_,
            "kendall_tau_distance_vs_gold": [_lf_distance(votes, a, gold, split != settings.test_split) for a in lf_cols],
            "columns_read": [", ".join(read.get(name, [])) for name in votes.lf_names],
        }
    )
    return metrics, summary, labels, files, features


def _ranking_rows(votes: RankingVotes, rows: np.ndarray) -> RankingVotes:
    return RankingVotes(
        items=[votes.items[i] for i in rows], rankings=[votes.rankings[i] for i in rows], lf_names=votes.lf_names
    )


def _lf_distance(votes: RankingVotes, a: int, gold: Sequence[Mapping[Hashable, float]], rows: np.ndarray) -> float:
    """LF ``a``'s mean Kendall tau distance to gold where it votes, on ``rows`` (a mask)."""
    mine = [(votes.rankings[i][a], gold[i]) for i in np.flatnonzero(rows) if votes.rankings[i][a] is not None and gold[i]]
    return mean_kendall_tau_distance([r for r, _ in mine], [g for _, g in mine]) if mine else float("nan")


def _regression_steps(
    store: Any, prepared: Prepared, ex_keys: np.ndarray, versions: list[tuple[str, str]], lfs: Sequence[Any],
    settings: UniversalSettings, train: np.ndarray, run_dir: Path,
) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame, list[Path], list[str]]:  # fmt: skip
    examples, gold = prepared.examples, prepared.gold
    votes = regression_votes(store, ex_keys, versions)
    train_idx = np.flatnonzero(train)
    y = draw_gold(gold[train_idx], settings.gold_labels, settings.seed)
    model = settings.label_model()
    model.fit(votes.values[train_idx], y, lf_names=votes.lf_names)
    value, variance = model.predict(votes), model.predict_var(votes)
    n_votes = votes.observed.sum(axis=1)
    labels = pl.DataFrame({"ex_key": ex_keys, "value": value, "variance": variance, "n_votes": n_votes.astype(np.int32)})

    def score(pred: np.ndarray, rows: np.ndarray) -> dict[str, float]:
        """``pred`` holds the predictions for ``rows``."""
        return {"mse": mse(pred, gold[rows]), "mae": mae(pred, gold[rows])}

    split = examples[settings.split_column].to_numpy()
    has_gold = ~np.isnan(gold)
    metrics: dict[str, Any] = {
        "train_coverage": float((n_votes[train] > 0).mean()),
        "gold_labels_used": int((~np.isnan(y)).sum()) if y is not None else 0,
    }
    metrics.update(
        _evaluate_splits(split, lambda rows: {f"label_model_{n}": v for n, v in score(value[rows], rows).items()}, has_gold)
    )
    model.save(run_dir / "label_model.json")
    files = [run_dir / "label_model.json"]

    read = columns_read(lfs, examples.drop(settings.split_column))
    features = end_model_features(examples, settings, read)
    test = np.flatnonzero((split == settings.test_split) & has_gold)
    if settings.end_model == "soft_regressor":
        if not features:
            raise ValueError("the end model has no features: every numeric column is read by an LF or excluded")
        X = examples.select(pl.col(features).cast(pl.Float64)).fill_null(np.nan).to_numpy()
        covered = train_idx[n_votes[train_idx] > 0]
        regressor = SoftTargetRegressor(_regressor(settings), seed=settings.seed)
        regressor.fit(X[covered], value[covered], variance[covered])
        regressor.save(run_dir / "end_model.skops", {"features": features})
        files.append(run_dir / "end_model.skops")
        if len(test):
            end = score(regressor.predict(X[test]), test)
            metrics.update({f"end_model_{n}_{settings.test_split}": v for n, v in end.items()})

    scale = model.lf_scale_
    summary = pl.DataFrame(
        {
            "lf": list(votes.lf_names),
            "coverage": votes.observed.mean(axis=0),
            "lf_scale": scale,
            "lf_offset": model.lf_offset_,
            "noise_sd_in_y_units": np.sqrt(model.noise_var_) / np.abs(scale),
            "columns_read": [", ".join(read.get(name, [])) for name in votes.lf_names],
        }
    )
    return metrics, summary, labels, files, features


def _regressor(settings: UniversalSettings) -> HistGradientBoostingRegressor:
    """The soft-target regressor's estimator: histogram gradient boosting with ``trainer.params``."""
    try:
        return HistGradientBoostingRegressor(random_state=settings.seed).set_params(**settings.end_model_params)
    except ValueError as exc:
        raise ValueError(f"trainer.params do not fit HistGradientBoostingRegressor: {exc}") from None


def draw_gold(gold: np.ndarray, n: int, seed: int) -> np.ndarray | None:
    """``n`` of the known gold values (drawn with ``seed``), NaN elsewhere; None when ``n`` is 0."""
    if n == 0:
        return None
    known = np.flatnonzero(~np.isnan(gold))
    if len(known) < 2:
        raise ValueError(
            f"regression.gold_labels = {n}, but the train split has {len(known)} gold values (data.gold_column); "
            "give at least 2, or set regression.gold_labels = 0"
        )
    y = np.full(len(gold), np.nan)
    pick = np.random.default_rng(seed).choice(known, min(n, len(known)), replace=False)
    y[pick] = gold[pick]
    return y


# -- exports ------------------------------------------------------------------------------------


def training_set(store: Any, run_id: int, label_type: str, train_split: str, keep_uncovered: bool = False) -> pl.DataFrame:
    """Run ``run_id``'s training set, from the store: its train-split examples (those with
    votes unless ``keep_uncovered``), their input columns and labels (see the module docstring)."""
    covered = "" if keep_uncovered else "AND l.n_votes > 0"
    rows = store.query(
        "SELECT e.example_id, e.data, l.value, l.variance, l.ranking, l.payload, l.n_votes FROM labels l "
        f"JOIN examples e USING (ex_key) WHERE l.run_id = ? AND e.split = ? {covered} ORDER BY l.ex_key",
        [run_id, train_split],
    )
    inputs = pl.DataFrame({ID: rows[ID], "data": rows["data"].str.json_decode()}).unnest("data")
    if rows.height:  # JSON decoding loses the column order: restore the examples'
        inputs = inputs.select(ID, *json.loads(rows["data"][0]))
    if label_type == "ranking":
        prefs = [json.loads(p)["preferences"] for p in rows["payload"].to_list()]
        labels = [
            rows["ranking"],
            pl.Series("preferences", prefs, dtype=pl.List(pl.List(pl.Float64))),
        ]
    else:
        labels = [rows["value"], rows["variance"]]
    return inputs.with_columns(*labels, rows["n_votes"].cast(pl.Int64))


# -- a whole run from Python ----------------------------------------------------------------------


def run_in_store(
    store: Any,
    dataset: str,
    frame: pl.DataFrame,
    lfs: Sequence[Any],
    settings: UniversalSettings,
    run_dir: Path,
    *,
    progress: bool = False,
) -> UniversalResult:
    """A whole universal run from Python on a loaded ``frame`` (with ``example_id``): prepare
    the examples, sync them into ``store`` as ``dataset``, apply the LFs of the run's label
    type incrementally, then :func:`run_universal`.  Recorded in the store's ``runs`` table."""
    prepared = prepare_examples(frame, settings)
    chosen = select_lfs(prepare_lfs(lfs), settings.label_type)
    run_id = store.start_run(dataset, {"labels": {"type": settings.label_type}, "settings": repr(settings)})
    try:
        sync = store.sync_examples(dataset, prepared.examples, run_id)
        inputs = prepared.examples.drop(settings.split_column)  # LFs see the inputs only: never the gold or the split
        apply_to_store(store, dataset, chosen, inputs, sync.ex_keys, cardinality=0, run_id=run_id, progress=progress)
        result = run_universal(store, run_id, prepared, sync.ex_keys, chosen, settings, Path(run_dir))
    except BaseException as exc:
        store.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    store.finish_run(run_id, "succeeded", metrics=result.metrics, lf_versions={lf.name: lf.version for lf in chosen})
    return result
