import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from weaksup.pipeline import ConfigError, load_config, run_pipeline

ROOT = Path(__file__).resolve().parents[1]


def _weaksup(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weaksup.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_cli_run_end_to_end_on_a_slice(slice_pipeline, tmp_path):
    # Run from another working directory: paths resolve against the pipeline file.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _weaksup("run", str(slice_pipeline), "--quiet", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert "LF summary" in proc.stdout and "asks_to_subscribe" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("label model (majority_vote) on test: "))
    assert re.fullmatch(r".*: coverage 0\.\d{3}, accuracy on covered rows 0\.\d{3}, accuracy on all rows 0\.\d{3}", line)
    end_acc = float(proc.stdout.split("end model on test: accuracy ")[1].split(",")[0])
    assert end_acc > 0.7  # 80 test comments; our LFs are far better than chance

    run_dir = tmp_path / "exports" / "run-0001"
    assert (tmp_path / "exports" / "LATEST").read_text().strip() == "run-0001"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run_id"] == 1 and len(manifest["lf_versions"]) == 13
    # Only train examples are exported, with the documented columns.
    train = pl.read_parquet(run_dir / "training_set.parquet")
    assert train.columns == ["example_id", "split", "text", "prob_HAM", "prob_SPAM", "label", "label_name", "confidence",
                             "n_votes", "label_source"]
    assert (train["split"] == "train").all() and (train["label_source"] == "votes").all()
    assert train["example_id"].str.starts_with("train:").all()
    assert (train["n_votes"] > 0).all() and 0 < train.height <= 300
    assert np.allclose(train["prob_HAM"] + train["prob_SPAM"], 1)
    assert pl.read_ndjson(run_dir / "training_set.jsonl").equals(train)
    assert pl.read_csv(run_dir / "training_set.csv")["example_id"].to_list() == train["example_id"].to_list()

    # The store holds the run, the examples and the labels.
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    assert con.execute("SELECT status FROM runs").fetchall() == [("succeeded",)]
    assert con.execute("SELECT count(*) FROM labels").fetchall() == [(440,)]
    con.close()

    # The end model labels new data from the CLI.
    new = tmp_path / "new.csv"
    pl.DataFrame({"text": ["subscribe to my channel http://x.com", "I love this song"]}).write_csv(new)
    out = tmp_path / "pred.csv"
    proc = _weaksup("predict", str(run_dir / "end_model.npz"), str(new), "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert pl.read_csv(out)["label_name"].to_list() == ["SPAM", "HAM"]


def test_second_run_reuses_votes(slice_pipeline, tmp_path):
    first = run_pipeline(slice_pipeline, progress=False, say=lambda s: None)
    second = run_pipeline(slice_pipeline, progress=False, say=lambda s: None, force=True)
    assert first.metrics["lf_applications"] == 440 * 13
    assert second.metrics["lf_applications"] == 0
    assert second.metrics["label_model_accuracy_test"] == first.metrics["label_model_accuracy_test"]


def test_failed_run_exits_non_zero_and_is_recorded(slice_pipeline, tmp_path):
    lf_file = tmp_path / "bad_lfs.py"
    lf_file.write_text(
        "from weaksup import labeling_function\n@labeling_function()\ndef reads_title(x):\n    return 1 if x.title else -1\n"
    )
    text = slice_pipeline.read_text().replace(str(ROOT / "labeling_functions" / "youtube_spam.py"), str(lf_file))
    slice_pipeline.write_text(text)
    proc = _weaksup("run", str(slice_pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error: LF 'reads_title' reads column 'title'" in proc.stderr
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    assert con.execute("SELECT status, error LIKE '%reads_title%' FROM runs").fetchall() == [("failed", True)]
    con.close()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[label_model]", "[label_model]\nepochs = 5"),
         r"unknown key 'label_model.epochs' \(line \d+\); known keys in \[label_model\]: class_prior, name, params, seed"),
        (lambda t: t.replace('name = "yt_slice"', ""), r"missing required key 'name'"),
        (lambda t: t.replace('classes = ["HAM", "SPAM"]', 'classes = "HAM"'), r"'labels.classes' \(line \d+\) must be a list"),
        (lambda t: t.replace('classes = ["HAM", "SPAM"]', 'classes = ["HAM"]'), r"labels.classes needs at least 2"),
        (lambda t: t.replace('formats = ["parquet", "jsonl", "csv"]', 'formats = ["xlsx"]'), r"unknown formats \['xlsx'\]"),
        (lambda t: t.replace("youtube_spam.py", "nope.py"), r"lfs.modules\[0\] = '.*nope.py' does not exist"),
        (lambda t: t + "\n[extra]\n", r"unknown key 'extra'"),
        (lambda t: t.replace('name = "majority_vote"', "name = 3"), r"'label_model.name' \(line \d+\) must be a str"),
    ],
)
def test_bad_pipeline_files_name_the_key(slice_pipeline, edit, message):
    slice_pipeline.write_text(edit(slice_pipeline.read_text()))
    with pytest.raises(ConfigError, match=message):
        load_config(slice_pipeline)


def test_bad_label_model_name_lists_the_valid_ones(slice_pipeline):
    slice_pipeline.write_text(slice_pipeline.read_text().replace('name = "majority_vote"', 'name = "snorkle"'))
    with pytest.raises(ValueError, match="unknown label model 'snorkle'; valid names: .*majority_vote"):
        run_pipeline(slice_pipeline, progress=False, say=lambda s: None)


def test_store_that_is_not_duckdb_fails_the_run_cleanly(slice_pipeline, tmp_path):
    (tmp_path / "store.duckdb").write_text("not a database")
    proc = _weaksup("run", str(slice_pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    assert "is not a DuckDB database" in proc.stderr


@pytest.mark.parametrize("name", ["label_model", "majority_vote", "dawid_skene", "firing_rates"])
def test_labeling_in_row_batches_equals_labeling_all_rows_at_once(name):
    from weaksup.model import make_label_model
    from weaksup.pipeline.tasks.categorical import predict_in_batches
    from weaksup.votes import SparseVotes

    rng = np.random.default_rng(3)
    dense = np.where(rng.random((1000, 6)) < 0.3, rng.integers(0, 3, (1000, 6)), -1)
    dense[:40] = -1  # rows without votes, at a batch edge too
    votes = SparseVotes.from_dense(dense)
    model = make_label_model(name, cardinality=3, seed=0).fit(votes)
    whole = model.predict_proba(votes)
    assert np.array_equal(predict_in_batches(model, votes, 40), whole)  # 25 batches, the first without votes
    assert np.array_equal(predict_in_batches(model, votes, 333), whole)  # a short last batch
    order = rng.permutation(votes.nnz)  # votes not sorted by row: one call
    shuffled = SparseVotes(votes.rows[order], votes.cols[order], votes.labels[order], votes.n, votes.m)
    assert np.array_equal(predict_in_batches(model, shuffled, 40), model.predict_proba(shuffled))


@pytest.mark.parametrize("name", ["label_model", "majority_vote"])
def test_label_rows_in_batches_equal_the_models_labels_of_all_rows(name):
    """The label rows a run writes batch by batch: the probabilities of one call on all rows,
    and ``predict``'s labels, tie breaks included (majority vote ties on most rows here)."""
    from weaksup.model import make_label_model
    from weaksup.pipeline.tasks.categorical import LabelRows
    from weaksup.votes import SparseVotes

    rng = np.random.default_rng(4)
    dense = np.where(rng.random((700, 4)) < 0.3, rng.integers(0, 2, (700, 4)), -1)
    votes = SparseVotes.from_dense(dense)
    model = make_label_model(name, cardinality=2, seed=5).fit(votes)
    keys = np.arange(700, dtype=np.int64) * 3 + 11
    n_votes = np.bincount(votes.rows, minlength=700).astype(np.int32)
    rows = LabelRows(model, votes, keys, n_votes, batch_rows=64)
    frames = list(rows)
    assert [f.height for f in frames] == [64] * 10 + [60]
    got = pl.concat(frames)
    whole = model.predict_proba(votes)
    if name == "majority_vote":  # the tie breaks are drawn across batches
        assert (whole[:, 0] == whole[:, 1]).sum() > 50
    assert np.array_equal(got["ex_key"].to_numpy(), keys)
    assert np.array_equal(np.stack(got["probs"].to_numpy()), whole)
    assert np.array_equal(got["label"].to_numpy(), model.predict(votes))
    assert np.array_equal(got["confidence"].to_numpy(), whole.max(axis=1))
    assert np.array_equal(got["n_votes"].to_numpy(), n_votes)
    assert pl.concat(list(rows)).equals(got)  # a second pass gives the same rows


def test_split_scores_counted_batch_by_batch_equal_scores_of_all_rows():
    from weaksup.model import make_label_model
    from weaksup.evaluation import class_scores
    from weaksup.pipeline.tasks import StreamedPrepared
    from weaksup.pipeline.tasks.categorical import LabelRows, accuracy, split_scores
    from weaksup.votes import SparseVotes

    rng = np.random.default_rng(6)
    n = 900
    dense = np.where(rng.random((n, 4)) < 0.25, rng.integers(0, 3, (n, 4)), -1)
    votes = SparseVotes.from_dense(dense)
    model = make_label_model("label_model", cardinality=3, seed=0).fit(votes)
    n_votes = np.bincount(votes.rows, minlength=n).astype(np.uint8)
    split = rng.choice(["train", "valid", "test", "unlabeled"], n)
    gold = np.where(split == "unlabeled", -1, rng.integers(-1, 3, n)).astype(np.int8)  # some rows without gold
    prepared = StreamedPrepared(pl.Series("split", split), gold, gold >= 0)
    classes = ["a", "b", "c"]
    got = split_scores(LabelRows(model, votes, np.arange(n), n_votes, batch_rows=100), prepared, classes)
    pred, covered = model.predict(votes), n_votes > 0
    want, per_class = {}, {}
    for s in ("test", "train", "valid"):
        rows = split == s
        want[f"label_model_coverage_{s}"] = covered[rows].mean()
        want[f"label_model_accuracy_covered_{s}"] = accuracy(pred[rows & covered], gold[rows & covered])
        want[f"label_model_accuracy_{s}"] = accuracy(pred[rows], gold[rows])
        want[f"label_model_accuracy_uncovered_{s}"] = accuracy(pred[rows & ~covered], gold[rows & ~covered])
        scores = class_scores(pred[rows], gold[rows], classes)
        want[f"label_model_macro_f1_{s}"] = scores["macro_f1"]
        per_class[f"label_model_per_class_{s}"] = scores["per_class"]
    assert sorted(got) == sorted([*want, *per_class])  # no scores for a split without gold
    np.testing.assert_allclose([got[k] for k in want], [want[k] for k in want])
    for key, table in per_class.items():
        for c in classes:
            np.testing.assert_allclose([got[key][c][m] for m in table[c]], [table[c][m] for m in table[c]])
    assert got["label_model_per_class_test"]["a"]["support"] == int(((split == "test") & (gold == 0)).sum())
