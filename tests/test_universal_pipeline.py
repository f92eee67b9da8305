"""Universal pipeline runs on a slice of the shipped movies data, into a real DuckDB store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from weaksup.apply import LFApplicationError
from weaksup.data import with_example_ids
from weaksup.end_models import PairwiseRanker, SoftTargetRegressor
from weaksup.lf import labeling_function
from weaksup.model import RankingLabelModel, RegressionLabelModel
from weaksup.pipeline import ConfigError, RunResult, config_from_dict, run_pipeline
from weaksup.pipeline.settings import Settings, TrainerSettings
from weaksup.pipeline.tasks.base import select_lfs
from weaksup.pipeline.tasks.features import columns_read, end_model_features
from weaksup.pipeline.tasks.ranking import RankingTask
from weaksup.pipeline.tasks.regression import RegressionTask
from weaksup.store import VoteStore

ROOT = Path(__file__).resolve().parents[1]
LFS = ROOT / "labeling_functions" / "movies.py"
RATINGS = ["imdb_rating", "mv_lens_avg_rating", "tomato_user_rating"]


@pytest.fixture(scope="module")
def movies() -> pl.DataFrame:
    """The first 600 shipped movies, ids from tmdbId."""
    frame = pl.read_csv(ROOT / "data" / "uws_movies" / "movies.csv", n_rows=600)
    return with_example_ids(frame, "tmdbId").drop("tmdbId")


def _ranking_values(**extra: Any) -> dict[str, Any]:
    return {
        "labels": {"type": "ranking"},
        "ranking": {"set_size": 5, "sets": {"train": 150, "test": 60}, "ndcg_k": 3},
        "trainer": {"name": "pairwise_ranker", "exclude_columns": RATINGS},
        **extra,
    }


def _regression_values(**extra: Any) -> dict[str, Any]:
    return {"labels": {"type": "regression"}, "trainer": {"name": "soft_regressor", "params": {"max_iter": 30}}, **extra}


def _config(folder: Path, values: dict[str, Any], frame: pl.DataFrame | None = None,
            modules: tuple[Path, ...] = (LFS,)) -> Any:  # fmt: skip
    """A pipeline dict on ``frame`` (written to ``folder/movies.parquet``; its ``example_id``s are kept),
    into ``folder/s.duckdb`` and ``folder/exports``, validated by :func:`config_from_dict`."""
    if frame is not None:
        frame.write_parquet(folder / "movies.parquet")
    base = {
        "name": "movies",
        "store": "s.duckdb",
        "data": {"source": "movies.parquet", "gold_column": "vote_average"},
        "lfs": {"modules": [str(m) for m in modules]},
        "export": {"dir": "exports", "formats": ["parquet", "jsonl"]},
    }
    return config_from_dict({**base, **values, "data": {**base["data"], **values.get("data", {})}}, folder)


def _run(folder: Path, values: dict[str, Any], frame: pl.DataFrame | None = None, **kw: Any) -> RunResult:
    return run_pipeline(_config(folder, values, frame, **kw), progress=False, say=lambda _: None, force=True)


def _features(result: RunResult) -> list[str]:
    """The end model's input columns, from the run's manifest."""
    return json.loads((result.run_dir / "manifest.json").read_text())["end_model"]["features"]


def _movie_lf_columns() -> set[str]:
    return {
        "revenue", "gross", "popularity", "runtime", "movie_facebook_likes", "cast_total_facebook_likes",
        "director_facebook_likes", "actor_facebook_likes", "num_user_for_reviews", "num_critic_for_reviews",
        "num_voted_users", "vote_count",
    }  # fmt: skip


def test_ranking_run_end_to_end(tmp_path, movies) -> None:
    result = _run(tmp_path, _ranking_values(), movies)
    with VoteStore(tmp_path / "s.duckdb", read_only=True) as store:
        labels = store.query("SELECT ranking, payload, n_votes FROM labels")
    m = result.metrics
    assert (m["n_examples"], m["n_train"], m["n_lfs"]) == (210, 150, 12)
    # the LFs are weak but informative: better than a random order (0.5) on held-out sets
    assert m["label_model_kendall_tau_distance_test"] < 0.45
    assert 0 < m["label_model_ndcg_at_3_test"] <= 1
    assert 0 <= m["end_model_kendall_tau_distance_test"] <= 1
    assert labels.height == 210 and labels["n_votes"].max() <= 12

    # end-model features: no column an LF reads, nor the gold, nor the excluded ratings
    features = _features(result)
    assert not set(features) & (_movie_lf_columns() | set(RATINGS) | {"vote_average", "items"})
    assert {"budget", "Drama", "title_year"} <= set(features)
    assert set(result.summary["columns_read"].str.split(", ").explode()) == _movie_lf_columns() | {"items"}

    # exports: the documented columns, train split, covered examples, consistent labels
    run_dir = result.run_dir
    frame = pl.read_parquet(run_dir / "training_set.parquet")
    lines = (run_dir / "training_set.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == frame.to_dicts()
    assert frame.columns[:2] == ["example_id", "split"] and (frame["split"] == "train").all()
    assert frame.columns[-4:] == ["ranking", "preferences", "n_votes", "label_source"]
    assert {"items", "revenue", "budget"} <= set(frame.columns) and "vote_average" not in frame.columns
    assert frame.height == 150 and frame["example_id"].str.starts_with("train-").all()
    along = []  # P(i above j) for the pairs the exported ranking puts in the order i, j
    for row in frame.iter_rows(named=True):
        assert sorted(row["ranking"]) == sorted(row["items"])
        P = np.array(row["preferences"])
        assert P.shape == (5, 5)
        np.testing.assert_allclose((P + P.T)[~np.eye(5, dtype=bool)], 1.0, atol=1e-5)
        place = [row["items"].index(x) for x in row["ranking"]]
        along += [P[place[i], place[j]] for i in range(5) for j in range(i + 1, 5)]
    assert np.mean(along) > 0.7

    # saved models load
    model = RankingLabelModel.load(run_dir / "label_model.json")
    assert model.theta_.tolist() == pytest.approx(list(m["label_model_theta"].values()), abs=1e-4)
    ranker = PairwiseRanker.load(run_dir / "end_model.json")
    meta = ranker.metadata_
    assert meta["features"] == features and ranker.coef_.shape == (len(features),)


def test_regression_run_end_to_end_and_rerun_is_incremental(tmp_path, movies) -> None:
    gold = movies["vote_average"].to_numpy()
    first = _run(tmp_path, _regression_values(), movies)
    with VoteStore(tmp_path / "s.duckdb", read_only=True) as store:
        applied = store.query("SELECT count(*) AS n FROM votes")["n"][0]
    second = _run(tmp_path, _regression_values())
    with VoteStore(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == applied  # nothing re-applied
        labels = store.query("SELECT run_id, value, variance FROM labels ORDER BY run_id, ex_key")
    assert second.metrics["lf_applications"] == 0
    m = first.metrics
    assert m["gold_labels_used"] == 50 and m["n_lfs"] == 5
    test_var = float(np.var(gold[movies["split"].to_numpy() == "test"]))
    assert m["label_model_mse_test"] < 0.3 * test_var  # three other sites' ratings pin vote_average well
    assert m["label_model_mae_test"] < np.sqrt(test_var)
    assert "end_model_mse_test" in m and "end_model_mae_test" in m
    assert second.metrics["label_model_mse_test"] == m["label_model_mse_test"]
    runs = labels.partition_by("run_id")
    assert [r["run_id"][0] for r in runs] == [first.run_id, second.run_id]
    np.testing.assert_array_equal(runs[0]["value"].to_numpy(), runs[1]["value"].to_numpy())
    assert (labels["variance"] > 0).all()

    features = _features(first)
    read = {"imdb_rating", "mv_lens_avg_rating", "tomato_user_rating", "num_voted_users", "runtime"}
    assert not set(features) & (read | {"vote_average"})
    assert {"revenue", "budget", "Drama"} <= set(features)

    frame = pl.read_parquet(first.run_dir / "training_set.parquet")
    assert frame.columns[:2] == ["example_id", "split"] and frame.columns[-4:] == ["value", "variance", "n_votes", "label_source"]
    assert frame.columns[2:-4] == [c for c in movies.columns if c not in ("example_id", "split", "vote_average")]
    assert frame.height == int((movies["split"] == "train").sum())
    lines = (first.run_dir / "training_set.jsonl").read_text().splitlines()
    assert len(lines) == frame.height and list(json.loads(lines[0])) == frame.columns

    model = RegressionLabelModel.load(first.run_dir / "label_model.json")
    assert model.lf_names_ == ("imdb_rating", "movielens_rating", "tomato_user_rating", "log_imdb_voters", "runtime_minutes")
    regressor = SoftTargetRegressor.load(first.run_dir / "end_model.npz")
    meta = regressor.metadata_
    assert meta["features"] == features
    X = movies.select(meta["features"]).cast(pl.Float64).to_numpy()
    assert regressor.predict(X).shape == (movies.height,)


def _trainer(features: list[str] | None = None, exclude_columns: list[str] = ()) -> TrainerSettings:
    return TrainerSettings("soft_regressor", "text", {}, features=features, exclude_columns=list(exclude_columns))


def test_columns_read_sees_attributes_items_and_helpers() -> None:
    frame = pl.DataFrame({"example_id": ["a", "b"], "x": [1.0, 0.0], "y": [2.0, 3.0], "z": [0.0, 1.0], "w": [1, 1]})

    def helper(row):
        return row["z"]

    @labeling_function(label_type="regression")
    def branchy(r):
        return r.x if r.x else helper(r)

    @labeling_function(label_type="regression")
    def broken(r):
        return r.y / 0

    assert columns_read([branchy, broken], frame) == {"branchy": ["x", "z"], "broken": ["y"]}
    read = columns_read([branchy, broken], frame)
    assert end_model_features(frame, _trainer(exclude_columns=["w"]), read, ranking=False) == []
    with pytest.raises(ValueError, match="trainer.features lists 'z', which LF 'branchy' reads"):
        end_model_features(frame, _trainer(features=["w", "z"]), columns_read([branchy], frame), ranking=False)
    with pytest.raises(ValueError, match="trainer.features lists 'nope', which is not an input column"):
        end_model_features(frame, _trainer(features=["nope"]), {}, ranking=False)


CHEAT = '''
from weaksup.lf import labeling_function


@labeling_function(label_type="regression")
def cheat(x):
    return float(getattr(x, {column!r}) == "train")
'''


@pytest.mark.parametrize("column", ["vote_average", "split"])
def test_lfs_never_see_the_gold_or_the_split(tmp_path, movies, column) -> None:
    cheat = tmp_path / "cheat_lfs.py"
    cheat.write_text(CHEAT.format(column=column))
    with pytest.raises(LFApplicationError, match=f"reads column '{column}'"):
        _run(tmp_path, _regression_values(), movies.head(20), modules=(cheat, LFS))


def _settings(folder: Path, label_type: str, **sections: Any) -> Settings:
    """Validated settings of a ``label_type`` pipeline with gold column ``g`` (and ``sections``)."""
    (folder / "x.csv").write_text("example_id,g\na,1.0\n")
    trainer = {"ranking": "pairwise_ranker", "regression": "soft_regressor"}[label_type]
    values = {
        "name": "t",
        "data": {"source": "x.csv", "gold_column": "g"},
        "labels": {"type": label_type},
        "lfs": {"modules": [str(LFS)]},
        **sections,
    }
    values["trainer"] = {"name": trainer, **values.get("trainer", {})}
    return config_from_dict(values, folder).settings


def test_bad_settings_and_examples_name_the_key(tmp_path) -> None:
    with pytest.raises(ConfigError, match="trainer.name is 'tfidf_logreg', which does not fit labels.type = 'ranking'"):
        _settings(tmp_path, "ranking", trainer={"name": "tfidf_logreg"})
    with pytest.raises(ConfigError, match="regression.gold_labels is 51; use 0 to 50"):
        _settings(tmp_path, "regression", regression={"gold_labels": 51})
    with pytest.raises(ConfigError, match="reference_lf and regression.gold_labels both fix y's units"):
        _settings(tmp_path, "regression", label_model={"params": {"reference_lf": "imdb"}})
    with pytest.raises(ConfigError, match="ranking.set_size is set but ranking.sets is empty"):
        _settings(tmp_path, "ranking", ranking={"set_size": 5})
    with pytest.raises(ConfigError, match="label_model.params do not fit the ranking label model"):
        _settings(tmp_path, "ranking", label_model={"params": {"nope": 1}})

    ranking = RankingTask(_settings(tmp_path, "ranking"))
    queries = pl.DataFrame({"example_id": ["q1"], "items": [["a", "b", "a"]], "g": [[1.0, 2.0, 3.0]]})
    with pytest.raises(ValueError, match="example 'q1': item 'a' appears twice in 'items'"):
        ranking.prepare(queries)
    for items in (None, ["a", None]):
        holed = pl.DataFrame({"example_id": ["q0", "q1"], "items": [["a", "b"], items]}, schema_overrides={"items": pl.List(pl.String)})
        with pytest.raises(ValueError, match=r"example 'q1': 'items' is .*; each example needs a list of item ids, none of them null"):
            ranking.prepare(holed)
    short = pl.DataFrame({"example_id": ["q1"], "items": [["a", "b"]], "g": [[1.0]]})
    with pytest.raises(ValueError, match="example 'q1': data.gold_column 'g' holds 1 scores for 2 items"):
        ranking.prepare(short)
    scalar = pl.DataFrame({"example_id": ["q1"], "items": [["a", "b"]], "g": [1.0]})
    with pytest.raises(ValueError, match="data.gold_column 'g' must hold a list of item scores per example"):
        ranking.prepare(scalar)
    with pytest.raises(ValueError, match="ranking.items_column 'items' is not in the data"):
        ranking.prepare(pl.DataFrame({"example_id": ["q1"], "x": [1]}))
    few = pl.DataFrame({"example_id": ["a", "b"], "split": ["train", "test"], "g": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"ranking.sets.train asks for sets of 2 items, but split 'train' has only 1"):
        RankingTask(_settings(tmp_path, "ranking", ranking={"set_size": 2, "sets": {"train": 3}})).prepare(few)
    text_gold = pl.DataFrame({"example_id": ["a"], "g": ["high"]})
    with pytest.raises(ValueError, match="data.gold_column 'g' must hold numbers"):
        RegressionTask(_settings(tmp_path, "regression")).prepare(text_gold)

    @labeling_function()
    def categorical(x):
        return 0

    with pytest.raises(ValueError, match="labels.type is 'ranking' but the LF modules define no ranking LFs"):
        select_lfs([categorical], "ranking")
    with pytest.raises(ValueError, match="labels.type is 'ranking' but the LF modules define no ranking LFs"):
        ranking.select_lfs([categorical])


def test_prepared_sets_keep_gold_out_and_are_reproducible(tmp_path, movies) -> None:
    settings = _config(tmp_path, _ranking_values(), movies).settings
    a = RankingTask(settings).prepare(movies)
    b = RankingTask(settings).prepare(movies)
    assert a.examples.equals(b.examples) and a.gold == b.gold
    assert "vote_average" not in a.examples.columns
    ex = a.examples.row(0, named=True)
    assert set(a.gold[0]) == set(ex["items"])
    train_items = set(a.examples.filter(pl.col("split") == "train")["items"].explode())
    test_items = set(a.examples.filter(pl.col("split") == "test")["items"].explode())
    assert not train_items & test_items  # disjoint pools
    assert json.loads(json.dumps(ex))["items"] == ex["items"]
