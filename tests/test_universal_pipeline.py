"""Universal pipeline runs on a slice of the shipped movies data, into a real DuckDB store."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.apply import LFApplicationError
from weaksup.data import with_example_ids
from weaksup.lf import labeling_function
from weaksup.store import VoteStore
from weaksup.model import RankingLabelModel, RegressionLabelModel
from weaksup.end_models import PairwiseRanker, SoftTargetRegressor
from weaksup.pipeline.tasks.features import columns_read, end_model_features
from weaksup.pipeline.tasks.universal import run_in_store
from weaksup.pipeline.tasks.prepare import UniversalSettings, prepare_examples, select_lfs

ROOT = Path(__file__).resolve().parents[1]
RATINGS = ("imdb_rating", "mv_lens_avg_rating", "tomato_user_rating")


def _movie_lfs() -> list:
    spec = importlib.util.spec_from_file_location("movies_lfs_test", ROOT / "labeling_functions" / "movies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [v for v in vars(module).values() if hasattr(v, "label_type") and hasattr(v, "version")]


@pytest.fixture(scope="module")
def movies() -> pl.DataFrame:
    """The first 600 shipped movies, ids from tmdbId."""
    frame = pl.read_csv(ROOT / "data" / "uws_movies" / "movies.csv", n_rows=600)
    return with_example_ids(frame, "tmdbId").drop("tmdbId")


def _ranking_settings(**kw) -> UniversalSettings:
    return UniversalSettings(
        label_type="ranking", gold_column="vote_average", set_size=5, sets={"train": 150, "test": 60},
        ndcg_k=3, exclude_columns=RATINGS, **kw,
    )  # fmt: skip


def _regression_settings(**kw) -> UniversalSettings:
    return UniversalSettings(label_type="regression", gold_column="vote_average", end_model_params={"max_iter": 30}, **kw)


def _movie_lf_columns() -> set[str]:
    return {
        "revenue", "gross", "popularity", "runtime", "movie_facebook_likes", "cast_total_facebook_likes",
        "director_facebook_likes", "actor_facebook_likes", "num_user_for_reviews", "num_critic_for_reviews",
        "num_voted_users", "vote_count",
    }  # fmt: skip


def test_ranking_run_end_to_end(tmp_path, movies) -> None:
    lfs = _movie_lfs()
    with VoteStore(tmp_path / "s.duckdb") as store:
        result = run_in_store(store, "movies_rank", movies, lfs, _ranking_settings(), tmp_path / "run")
        labels = store.query("SELECT ranking, payload, n_votes FROM labels")
    m = result.metrics
    assert (m["n_examples"], m["n_train"], m["n_lfs"]) == (210, 150, 12)
    # the LFs are weak but informative: better than a random order (0.5) on held-out sets
    assert m["label_model_kendall_tau_distance_test"] < 0.45
    assert 0 < m["label_model_ndcg_at_3_test"] <= 1
    assert 0 <= m["end_model_kendall_tau_distance_test"] <= 1
    assert labels.height == 210 and labels["n_votes"].max() <= 12

    # end-model features: no column an LF reads, nor the gold, nor the excluded ratings
    assert not set(result.features) & (_movie_lf_columns() | set(RATINGS) | {"vote_average", "items"})
    assert {"budget", "Drama", "title_year"} <= set(result.features)
    assert set(result.summary["columns_read"].str.split(", ").explode()) == _movie_lf_columns() | {"items"}

    # exports: the documented columns, train split, covered examples, consistent labels
    frame = pl.read_parquet(tmp_path / "run" / "training_set.parquet")
    lines = (tmp_path / "run" / "training_set.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == frame.to_dicts()
    assert frame.columns[0] == "example_id" and frame.columns[-3:] == ["ranking", "preferences", "n_votes"]
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
    model = RankingLabelModel.load(tmp_path / "run" / "label_model.json")
    assert model.theta_.tolist() == pytest.approx(list(m["label_model_theta"].values()), abs=1e-4)
    ranker, meta = PairwiseRanker.load(tmp_path / "run" / "end_model.json")
    assert meta["features"] == result.features and ranker.coef_.shape == (len(result.features),)


def test_regression_run_end_to_end_and_rerun_is_incremental(tmp_path, movies) -> None:
    lfs = _movie_lfs()
    gold = movies["vote_average"].to_numpy()
    with VoteStore(tmp_path / "s.duckdb") as store:
        first = run_in_store(store, "movies_reg", movies, lfs, _regression_settings(), tmp_path / "run1")
        applied = store.query("SELECT count(*) AS n FROM votes")["n"][0]
        second = run_in_store(store, "movies_reg", movies, lfs, _regression_settings(), tmp_path / "run2")
        assert store.query("SELECT count(*) AS n FROM votes")["n"][0] == applied  # nothing re-applied
        labels = store.query("SELECT run_id, value, variance FROM labels ORDER BY run_id, ex_key")
    m = first.metrics
    assert m["gold_labels_used"] == 50 and m["n_lfs"] == 5
    test_var = float(np.var(gold[movies["split"].to_numpy() == "test"]))
    assert m["label_model_mse_test"] < 0.3 * test_var  # three other sites' ratings pin vote_average well
    assert m["label_model_mae_test"] < np.sqrt(test_var)
    assert "end_model_mse_test" in m and "end_model_mae_test" in m
    assert second.metrics["label_model_mse_test"] == m["label_model_mse_test"]
    runs = labels.partition_by("run_id")
    np.testing.assert_array_equal(runs[0]["value"].to_numpy(), runs[1]["value"].to_numpy())
    assert (labels["variance"] > 0).all()

    read = {"imdb_rating", "mv_lens_avg_rating", "tomato_user_rating", "num_voted_users", "runtime"}
    assert not set(first.features) & (read | {"vote_average"})
    assert {"revenue", "budget", "Drama"} <= set(first.features)

    frame = pl.read_parquet(tmp_path / "run1" / "training_set.parquet")
    assert frame.columns[0] == "example_id" and frame.columns[-3:] == ["value", "variance", "n_votes"]
    assert frame.columns[1:-3] == [c for c in movies.columns if c not in ("example_id", "split", "vote_average")]
    assert frame.height == int((movies["split"] == "train").sum())
    lines = (tmp_path / "run1" / "training_set.jsonl").read_text().splitlines()
    assert len(lines) == frame.height and list(json.loads(lines[0])) == frame.columns

    model = RegressionLabelModel.load(tmp_path / "run1" / "label_model.json")
    assert model.lf_names_ == ("imdb_rating", "movielens_rating", "tomato_user_rating", "log_imdb_voters", "runtime_minutes")
    regressor, meta = SoftTargetRegressor.load(tmp_path / "run1" / "end_model.npz")
    X = movies.select(meta["features"]).cast(pl.Float64).to_numpy()
    assert regressor.predict(X).shape == (movies.height,)


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
    settings = UniversalSettings(label_type="regression", gold_column="g", exclude_columns=("w",))
    assert end_model_features(frame, settings, columns_read([branchy, broken], frame)) == []
    with pytest.raises(ValueError, match="trainer.features lists 'z', which LF 'branchy' reads"):
        end_model_features(frame, UniversalSettings(label_type="regression", gold_column="g", features=["w", "z"]),
                           columns_read([branchy], frame))  # fmt: skip
    with pytest.raises(ValueError, match="trainer.features lists 'nope', which is not an input column"):
        end_model_features(frame, UniversalSettings(label_type="regression", gold_column="g", features=["nope"]), {})


@pytest.mark.parametrize("column", ["vote_average", "split"])
def test_lfs_never_see_the_gold_or_the_split(tmp_path, movies, column) -> None:
    @labeling_function(label_type="regression")
    def cheat(x):
        return float(getattr(x, column) == "train")

    with VoteStore(tmp_path / "s.duckdb") as store, pytest.raises(LFApplicationError, match=f"reads column '{column}'"):
        run_in_store(store, "m", movies.head(20), [cheat, *_movie_lfs()], _regression_settings(), tmp_path / "run")


def test_bad_settings_and_examples_name_the_key() -> None:
    with pytest.raises(ValueError, match="trainer.name is 'tfidf_logreg', which does not fit labels.type = 'ranking'"):
        UniversalSettings(label_type="ranking", gold_column="g", end_model="tfidf_logreg")
    with pytest.raises(ValueError, match="regression.gold_labels is 51; use 0 to 50"):
        UniversalSettings(label_type="regression", gold_column="g", gold_labels=51)
    with pytest.raises(ValueError, match="reference_lf and regression.gold_labels both fix y's units"):
        UniversalSettings(label_type="regression", gold_column="g", label_model_params={"reference_lf": "imdb"})
    with pytest.raises(ValueError, match="ranking.set_size is set but ranking.sets is empty"):
        UniversalSettings(label_type="ranking", gold_column="g", set_size=5)
    with pytest.raises(ValueError, match="label_model.params do not fit the ranking label model"):
        UniversalSettings(label_type="ranking", gold_column="g", label_model_params={"nope": 1}).label_model()

    ranking = UniversalSettings(label_type="ranking", gold_column="g")
    queries = pl.DataFrame({"example_id": ["q1"], "items": [["a", "b", "a"]], "g": [[1.0, 2.0, 3.0]]})
    with pytest.raises(ValueError, match="example 'q1': item 'a' appears twice in 'items'"):
        prepare_examples(queries, ranking)
    short = pl.DataFrame({"example_id": ["q1"], "items": [["a", "b"]], "g": [[1.0]]})
    with pytest.raises(ValueError, match="example 'q1': data.gold_column 'g' holds 1 scores for 2 items"):
        prepare_examples(short, ranking)
    scalar = pl.DataFrame({"example_id": ["q1"], "items": [["a", "b"]], "g": [1.0]})
    with pytest.raises(ValueError, match="data.gold_column 'g' must hold a list of item scores per example"):
        prepare_examples(scalar, ranking)
    with pytest.raises(ValueError, match="ranking.items_column 'items' is not in the data"):
        prepare_examples(pl.DataFrame({"example_id": ["q1"], "x": [1]}), ranking)
    few = pl.DataFrame({"example_id": ["a", "b"], "split": ["train", "test"], "v": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"ranking.sets.train asks for sets of 2 items, but split 'train' has only 1"):
        prepare_examples(few, UniversalSettings(label_type="ranking", gold_column="v", set_size=2, sets={"train": 3}))
    text_gold = pl.DataFrame({"example_id": ["a"], "g": ["high"]})
    with pytest.raises(ValueError, match="data.gold_column 'g' must hold numbers"):
        prepare_examples(text_gold, UniversalSettings(label_type="regression", gold_column="g"))

    @labeling_function()
    def categorical(x):
        return 0

    with pytest.raises(ValueError, match="labels.type is 'ranking' but the LF modules define no ranking LFs"):
        select_lfs([categorical], "ranking")


def test_prepared_sets_keep_gold_out_and_are_reproducible(movies) -> None:
    a = prepare_examples(movies, _ranking_settings())
    b = prepare_examples(movies, _ranking_settings())
    assert a.examples.equals(b.examples) and a.gold == b.gold
    assert "vote_average" not in a.examples.columns
    ex = a.examples.row(0, named=True)
    assert set(a.gold[0]) == set(ex["items"])
    train_items = set(a.examples.filter(pl.col("split") == "train")["items"].explode())
    test_items = set(a.examples.filter(pl.col("split") == "test")["items"].explode())
    assert not train_items & test_items  # disjoint pools
    assert json.loads(json.dumps(ex))["items"] == ex["items"]
