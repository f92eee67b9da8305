"""Pipeline steps for ranking and regression labels: from the data to labels, end model and exports.

A universal run shares its first steps with a categorical one (load the data, prepare the
examples (:mod:`.prepare`), sync them into the store, apply the LFs) and then goes its own
way (:func:`run_universal`):

1. read the votes of the current LF versions on the live examples (:mod:`.store_io`);
2. fit the label model on the train split's votes (:class:`~.ranking.RankingLabelModel`,
   :class:`~.regression.RegressionLabelModel`).  Regression draws ``gold_labels`` gold values
   (at most 50, seeded) from the train split to fix y's scale and offset;
3. label every example (a ranking and pairwise preference probabilities, or a value and a
   variance) and write the labels to the store;
4. export the train split's training set, rebuilt from the store (:func:`training_set`);
5. train the end model on features that exclude every column an LF reads and the gold
   (:func:`~.features.end_model_features`), on the train examples some LF voted on;
6. evaluate on gold: Kendall tau distance (tied pairs skipped) and NDCG@k for rankings,
   MSE and MAE for regression; the label model on every split, the end model on the test split;
7. save the label model (JSON) and the end model (JSON for the ranker, npz for the regressor).

**Exports** (``training_set.parquet`` / ``.jsonl``): ``example_id``, the example's input
columns, then for rankings ``ranking`` (item ids, best first), ``preferences`` (the (d, d)
matrix P(item i above item j), items in the example's order) and ``n_votes``; for regression
``value`` (E[y | votes]), ``variance`` (Var[y | votes]) and ``n_votes`` (LFs that voted; a
ranking vote counts when it ranks two or more items).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor

from weaksup.apply import apply_to_store, prepare_lfs
from weaksup.data import ID
from weaksup.export import write_table
from weaksup.end_models import PairwiseRanker, SoftTargetRegressor
from weaksup.pipeline.tasks.features import _item_features, columns_read, end_model_features
from weaksup.evaluation import mae, mean_kendall_tau_distance, mean_ndcg_at_k, mse
from weaksup.pipeline.tasks.prepare import Prepared, UniversalSettings, prepare_examples, select_lfs
from weaksup.store.typed_votes import ranking_votes, regression_votes
from weaksup.votes import RankingVotes


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
        regressor.save(run_dir / "end_model.npz", {"features": features})
        files.append(run_dir / "end_model.npz")
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
