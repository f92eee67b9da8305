"""Ranking and regression pipelines from TOML files: `weaksup run` on a slice of the movies data, and config errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from weaksup.pipeline.config import ConfigError, load_config
from weaksup.pipeline.outputs import training_set
from weaksup.pipeline.runner import run_pipeline
from weaksup.store import VoteStore

ROOT = Path(__file__).resolve().parents[1]
LFS = ROOT / "labeling_functions" / "movies.py"


def _pipeline(tmp_path: Path, label_type: str, body: str, name: str = "p.toml") -> Path:
    """A pipeline on the first 500 shipped movies, with its own store and exports."""
    data = tmp_path / "movies.csv"
    if not data.exists():
        pl.read_csv(ROOT / "data" / "uws_movies" / "movies.csv", n_rows=500).write_csv(data)
    path = tmp_path / name
    path.write_text(
        f"""
name = "movies_{label_type}"
store = "store.duckdb"

[data]
source = "movies.csv"
id_column = "tmdbId"
gold_column = "vote_average"

[labels]
type = "{label_type}"

[lfs]
modules = ["{LFS}"]

[export]
dir = "exports"
formats = ["parquet", "jsonl"]
{body}
"""
    )
    return path


RANKING = """
[ranking]
set_size = 5
sets = { train = 120, test = 50 }
ndcg_k = 3

[trainer]
name = "pairwise_ranker"
exclude_columns = ["imdb_rating", "mv_lens_avg_rating", "tomato_user_rating"]
"""

REGRESSION = """
[regression]
gold_labels = 30

[trainer]
name = "soft_regressor"
params = { max_iter = 30 }
"""


def test_shipped_movie_pipelines_load() -> None:
    ranking = load_config(ROOT / "pipelines" / "movies_ranking.toml").settings
    assert (ranking.labels.type, ranking.ranking.set_size, ranking.ranking.ndcg_k) == ("ranking", 5, 3)
    assert dict(ranking.ranking.sets) == {"train": 1000, "test": 500}
    assert ranking.trainer.exclude_columns == ["imdb_rating", "mv_lens_avg_rating", "tomato_user_rating"]
    regression = load_config(ROOT / "pipelines" / "movies_regression.toml").settings
    assert (regression.labels.type, regression.regression.gold_labels, regression.trainer.name) == (
        "regression", 50, "soft_regressor")


def test_ranking_pipeline_run_exports_and_rerun(tmp_path) -> None:
    path = _pipeline(tmp_path, "ranking", RANKING)
    lines: list[str] = []
    first = run_pipeline(path, progress=False, say=lines.append)
    m = first.metrics
    assert (m["n_examples"], m["n_train"], m["n_lfs"]) == (170, 120, 12)  # the regression LFs are skipped
    assert m["label_model_kendall_tau_distance_test"] < 0.5 and "end_model_ndcg_at_3_test" in m
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    assert manifest["label_type"] == "ranking" and len(manifest["lf_versions"]) == 12
    assert not set(manifest["end_model"]["features"]) & {"revenue", "popularity", "imdb_rating", "vote_average"}
    assert {"label_model.json", "end_model.json", "training_set.parquet", "training_set.jsonl"} <= set(manifest["files"])
    assert (tmp_path / "exports" / "LATEST").read_text().strip() == first.run_dir.name
    assert any(re.match(r"label model \(ranking_label_model\) on test: kendall tau distance 0\.\d{3}, ndcg at 3 ", line)
               for line in lines)  # fmt: skip
    assert any(line.startswith("end model on test: kendall tau distance ") for line in lines)

    exported = pl.read_parquet(first.run_dir / "training_set.parquet")
    assert exported.columns[-4:] == ["ranking", "preferences", "n_votes", "label_source"] and exported.height == 120
    with VoteStore(tmp_path / "store.duckdb", read_only=True) as store:  # `weaksup export --run N` rebuilds it
        assert training_set(store, first.run_id).equals(exported)

    second = run_pipeline(path, progress=False, say=lines.append, force=True)
    assert second.metrics["lf_applications"] == 0 and second.metrics["new_examples"] == 0
    assert second.metrics["label_model_kendall_tau_distance_test"] == m["label_model_kendall_tau_distance_test"]
    # another seed draws other sets under the same ids: every example changed, the LFs apply to them again
    third = run_pipeline(load_config(path, ["ranking.seed=1"]), progress=False, say=lines.append)
    assert third.metrics["changed_examples"] == 170 and third.metrics["new_examples"] == 0
    assert third.metrics["lf_applications"] == 170 * 12


def test_regression_pipeline_run(tmp_path) -> None:
    path = _pipeline(tmp_path, "regression", REGRESSION)
    result = run_pipeline(path, progress=False, say=lambda _: None)
    m = result.metrics
    train = int((pl.read_csv(tmp_path / "movies.csv")["split"] == "train").sum())
    assert m["gold_labels_used"] == 30 and m["n_lfs"] == 5 and (m["n_examples"], m["n_train"]) == (500, train)
    assert m["label_model_mse_test"] < 0.2 and m["end_model_mse_test"] > 0
    exported = pl.read_parquet(result.run_dir / "training_set.parquet")
    assert exported.columns[-4:] == ["value", "variance", "n_votes", "label_source"] and exported.height == train
    assert "vote_average" not in exported.columns
    summary = result.summary
    assert summary["lf"].to_list()[0] == "imdb_rating" and (summary["noise_sd_in_y_units"] > 0).all()


@pytest.mark.parametrize(
    ("label_type", "body", "error"),
    [
        ("ranking", RANKING.replace('name = "pairwise_ranker"', 'name = "tfidf_logreg"'),
         r"trainer.name is 'tfidf_logreg', which does not fit labels.type = 'ranking'; use one of \['pairwise_ranker'"),
        ("regression", RANKING, r"\[ranking\] is for labels.type = 'ranking', but labels.type is 'regression'"),
        ("ranking", RANKING.replace("set_size = 5", "set_size = 1"), r"ranking.set_size = 1 must be at least 2 \(line \d+\)"),
        ("ranking", RANKING.replace("set_size = 5\n", ""), "ranking.sets is set but ranking.set_size is not"),
        ("ranking", RANKING.replace("train = 120", 'train = "many"'), r"'ranking.sets' \(line \d+\) must hold int values"),
        ("regression", REGRESSION.replace("gold_labels = 30", "gold_labels = 51"), "regression.gold_labels is 51; use 0 to 50"),
        ("regression", REGRESSION + "\n[label_model]\nparams = { nope = 1 }\n",
         "label_model.params do not fit the regression label model"),
        ("regression", REGRESSION + '\n[label_model]\nname = "dawid_skene"\n', "label_model.name applies to categorical and multilabel labels"),
        ("regression", REGRESSION.replace("[regression]", '[labels]\nclasses = ["a", "b"]\n[regression]'), None),
        ("ranking", RANKING.replace('name = "pairwise_ranker"', 'name = "soft_regressor"'),
         "trainer.name is 'soft_regressor', which does not fit labels.type = 'ranking'"),
    ],
)
def test_config_errors_name_the_key(tmp_path, label_type, body, error) -> None:
    path = _pipeline(tmp_path, label_type, body)
    if error is None:  # a duplicated [labels] table is a TOML error
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_config(path)
        return
    with pytest.raises(ConfigError, match=error):
        load_config(path)


def test_ranking_training_sets_cannot_be_csv(tmp_path) -> None:
    path = _pipeline(tmp_path, "ranking", RANKING)
    path.write_text(path.read_text().replace('formats = ["parquet", "jsonl"]', 'formats = ["parquet", "csv"]'))
    with pytest.raises(ConfigError, match="export.formats: CSV cannot hold a ranking training set's list columns"):
        load_config(path)


def test_universal_keys_are_refused_in_categorical_pipelines(tmp_path) -> None:
    base = _pipeline(tmp_path, "categorical", "", name="c.toml").read_text().replace(
        'type = "categorical"', 'type = "categorical"\nclasses = ["LOW", "HIGH"]'
    )
    for extra, error in [
        ("\n[trainer]\nexclude_columns = [\"x\"]\n", "trainer.exclude_columns is for the categorical end models on any columns"),
        ("\n[trainer]\nname = \"pairwise_ranker\"\n", "trainer.name = 'pairwise_ranker' is for ranking labels;"),
        ("\n[regression]\ngold_labels = 5\n", r"\[regression\] is for labels.type = 'regression'"),
    ]:
        (tmp_path / "c.toml").write_text(base + extra)
        with pytest.raises(ConfigError, match=error):
            load_config(tmp_path / "c.toml")
    (tmp_path / "c.toml").write_text(base.replace('type = "categorical"', 'type = "ranking"') + RANKING)
    with pytest.raises(ConfigError, match="labels.classes is for labels.type = 'categorical' or 'multilabel', not 'ranking'"):
        load_config(tmp_path / "c.toml")
