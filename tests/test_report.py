"""The report's frames on a hand-built store (a real DuckDB file), its errors, and the run hook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weaksup.cli import main
from weaksup.pipeline import load_config, run_pipeline
from weaksup.report import buckets, build_report, history, lf_agreement, lf_table, load_run, run_changes, save_gold
from weaksup.report.types import REPORT_TYPES, ReportType, report_type_for
from weaksup.report.view import load_gold
from weaksup.store import VoteStore

from support.report_runs import CLASSES, VOTES, make_run

@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.duckdb"
    with VoteStore(path) as store:
        make_run(store, tmp_path / "run-1", VOTES, {"a": "v1", "b": "v1", "c": "v1"}, np.array([1, 0, 1, 0, 1]))
    return path


def test_lf_table_matches_hand_computed_values(tiny: Path) -> None:
    with VoteStore(tiny, read_only=True) as store:
        view = load_run(store.report_reader())
        table = lf_table(store.report_reader(), view)
    rows = {r["lf"]: r for r in table.iter_rows(named=True)}
    # a votes on e0, e1, e2, e4: coverage 4/5; e0 (with b), e2 (with b, c), e4 (with c) overlap: 3/5;
    # e2 conflicts (a=1, b=0, c=0): 1/5.  Gold outside the test split: e0 right, e1 right, e2 wrong -> 2/3 of 3.
    assert rows["a"]["coverage"] == pytest.approx(4 / 5)
    assert rows["a"]["overlaps"] == pytest.approx(3 / 5)
    assert rows["a"]["conflicts"] == pytest.approx(1 / 5)
    assert (rows["a"]["emp_acc"], rows["a"]["gold_n"]) == (pytest.approx(2 / 3), 3)
    assert rows["a"]["polarity"] == ["NO", "YES"]
    # b votes on e0 (1, right) and e2 (0, right): 2/5 coverage, accuracy 1 over 2.
    assert (rows["b"]["coverage"], rows["b"]["emp_acc"], rows["b"]["gold_n"]) == (pytest.approx(0.4), 1.0, 2)
    # c votes on e2 (0, right) and e4 (test split: not scored).
    assert (rows["c"]["coverage"], rows["c"]["emp_acc"], rows["c"]["gold_n"]) == (pytest.approx(0.4), 1.0, 1)
    assert rows["c"]["learned_acc"] == pytest.approx(0.7)
    assert [rows[n]["kind"] for n in "abc"] == ["row"] * 3
    assert [rows[n]["changed_run"] for n in "abc"] == [1, 1, 1]
    assert [rows[n]["errors"] for n in "abc"] == [0, 0, 0]


def test_agreement_and_buckets_on_the_hand_built_store(tiny: Path) -> None:
    with VoteStore(tiny, read_only=True) as store:
        view = load_run(store.report_reader())
        agree = lf_agreement(view)
        got = buckets(view, size=5, per_lf=5)
    pair = {(r["lf_a"], r["lf_b"]): (r["overlap"], r["agreement"]) for r in agree.iter_rows(named=True)}
    assert pair[("a", "b")] == (2, 0.5)  # e0 agree, e2 disagree
    assert pair[("a", "c")] == (2, 0.5)  # e2 disagree, e4 agree
    assert pair[("b", "c")] == (1, 1.0)
    assert got["uncovered"]["example_id"].to_list() == ["e3"]
    assert got["most_conflict"]["example_id"][0] == "e2"  # two votes against its label
    assert got["most_conflict"]["votes"][0].to_list() == ["a=YES", "b=NO", "c=NO"]
    assert got["confident_wrong"]["example_id"].to_list() == ["e2", "e3"]  # labeled YES / NO, gold NO / YES
    assert got["lf_disagreements"].select("lf", "example_id").rows() == [("b", "e2"), ("c", "e2")]


def test_a_view_without_the_examples_content_reads_the_shown_texts_from_the_store(tiny: Path) -> None:
    with VoteStore(tiny, read_only=True) as store:
        whole, lean = load_run(store.report_reader()), load_run(store.report_reader(), with_data=False)
        # only what a categorical report reads: no content, ids or other label types' columns
        assert lean.labels.columns == ["ex_key", "split", "probs", "label", "confidence", "n_votes"]
        assert lean.labels["probs"].dtype == pl.Array(pl.Float64, 2)  # no list offsets
        want, got = buckets(whole, size=5, per_lf=5), buckets(lean, size=5, per_lf=5)
        assert lean.data(np.array([4, 0])) == whole.labels["data"].gather([4, 0]).to_list()
        assert lean.example_ids(np.array([4, 0])) == whole.labels["example_id"].gather([4, 0]).to_list() == ["e4", "e0"]
        assert lean.labels["probs"].to_list() == whole.labels["probs"].to_list()
    assert all(got[name].equals(want[name]) for name in want)
    assert want["most_conflict"]["text"][0] == "text 2"  # e2: two votes against its label


def test_run_changes_name_label_directions_and_lf_versions(tiny: Path, tmp_path: Path) -> None:
    with VoteStore(tiny) as store:
        edited = VOTES.copy()
        edited[3, 1] = 1  # b's new version also votes YES on e3
        run2 = make_run(store, tmp_path / "run-2", edited, {"a": "v1", "b": "v2", "d": "v1"}, np.array([1, 0, 0, 1, 1]))
        changes = run_changes(store.report_reader(), run2, CLASSES)
        hist = history(store.report_reader(), run2)
    assert changes.previous == 1
    assert dict(changes.labels.rows()) == {"YES → NO": 1, "NO → YES": 1}
    assert {r["lf"]: r["change"] for r in changes.lfs.iter_rows(named=True)} == {
        "a": "unchanged", "b": "edited", "d": "new", "c": "removed"}  # fmt: skip
    assert hist["run_id"].to_list() == [1, 2] and hist["train_coverage"].to_list() == [0.8, 0.8]


def test_run_changes_count_value_and_ranking_directions_and_examples_in_one_run_only(tmp_path: Path) -> None:
    """Only the examples whose labels differ are read back, grouped in the store."""
    with VoteStore(tmp_path / "s.duckdb") as store:
        runs = []
        for ids, values, rankings in ((["a", "b", "c", "d", "e"], [1.0, 2.0, 3.0, None, 5.0], [None] * 5),
                                      (["a", "b", "c", "d", "f"], [1.0, 2.5, 2.0, None, 1.0], [None] * 5),
                                      (["a", "b", "c", "d", "f"], [None] * 5, [["x", "y"], ["x", "y"], ["y", "x"], ["x"], ["x"]]),
                                      (["a", "b", "c", "d", "f"], [None] * 5, [["x", "y"], ["y", "x"], ["x", "y"], ["x"], ["x"]])):  # fmt: skip
            run = store.runs.start("p", {})
            keys = store.examples.sync("d", pl.DataFrame({"example_id": ids, "x": [1] * 5}), run).ex_keys
            store.runs.write_labels(run, pl.DataFrame({"ex_key": keys, "n_votes": [1] * 5, "value": values, "ranking": rankings},
                                                 schema_overrides={"value": pl.Float64, "ranking": pl.List(pl.String)}))  # fmt: skip
            store.runs.finish(run, "succeeded", lf_versions={})
            runs.append(run)
        values = run_changes(store.report_reader(), runs[1])
        rankings = run_changes(store.report_reader(), runs[3])
    assert dict(values.labels.rows()) == {"up": 1, "down": 1, "new example": 1, "dropped example": 1}
    assert dict(rankings.labels.rows()) == {"reordered": 2}


def test_gold_round_trips_for_every_label_type(tmp_path: Path) -> None:
    keys = np.array([3, 1, 2])
    save_gold(tmp_path / "c", keys, np.array([1, -1, 0]))
    assert load_gold(tmp_path / "c", np.array([1, 2, 3, 4]), "categorical").tolist() == [-1, 0, 1, -1]
    save_gold(tmp_path / "r", keys, np.array([1.5, np.nan, 2.0]), "regression")
    got = load_gold(tmp_path / "r", np.array([2, 1, 3]), "regression")
    assert got[0] == 2.0 and np.isnan(got[1]) and got[2] == 1.5
    save_gold(tmp_path / "k", keys, [{"m1": 7.0, "m2": 5.5}, {}, {"m3": 1.0}], "ranking")
    assert load_gold(tmp_path / "k", np.array([3, 1]), "ranking") == [{"m1": 7.0, "m2": 5.5}, {}]
    assert load_gold(tmp_path / "missing", keys, "categorical") is None


def test_every_label_type_has_a_report_type_of_one_shape() -> None:
    from weaksup.pipeline.tasks import TASKS

    assert set(REPORT_TYPES) == set(TASKS)
    members = {m for m in dir(ReportType) if not m.startswith("_")} | set(ReportType.__annotations__)
    for label_type, report_type in REPORT_TYPES.items():
        assert report_type.name == label_type
        assert {m for m in members if not hasattr(report_type, m)} == set(), label_type
    with pytest.raises(ValueError, match=r"labels.type \['categorical', 'multilabel', 'ranking', 'regression'\], not 'metric'"):
        report_type_for("metric")


def test_a_run_without_gold_is_reported_without_it(tmp_path: Path) -> None:
    with VoteStore(tmp_path / "s.duckdb") as store:
        make_run(store, tmp_path / "run", VOTES, {"a": "v1", "b": "v1", "c": "v1"}, np.array([1, 0, 1, 0, 1]), gold=None)
        report = build_report(store, suspicious=False)
    assert report.view.gold is None and "emp_acc" not in report.lfs.columns and "confident_wrong" not in report.buckets


def test_report_cli_names_a_missing_or_failed_run(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tiny), "--run", "9", "-o", str(tmp_path / "r.html")]) == 1
    assert "there is no run 9" in capsys.readouterr().err
    with VoteStore(tiny) as store:
        failed = store.runs.start("tiny", {})
        store.runs.finish(failed, "failed", error="boom")
    assert main(["report", str(tiny), "--run", str(failed), "-o", str(tmp_path / "r.html")]) == 1
    assert f"run {failed} failed: only succeeded runs" in capsys.readouterr().err
    assert main(["report", str(tiny), "-o", str(tmp_path / "r.html"), "--no-suspicious"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "tiny" in page and 'data-table="lfs"' in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_runs_save_gold_and_write_the_report_unless_turned_off(slice_pipeline: Path, tmp_path: Path) -> None:
    quiet = {"progress": False, "say": lambda s: None}
    on = run_pipeline(load_config(slice_pipeline, ["trainer.name=none"]), **quiet)
    assert (on.run_dir / "report.html").exists() and (on.run_dir / "gold.parquet").exists()
    gold = pl.read_parquet(on.run_dir / "gold.parquet")
    assert gold.height == on.metrics["n_examples"] and gold["gold"].null_count() < gold.height
    off = run_pipeline(load_config(slice_pipeline, ["trainer.name=none", "export.report=false"]), **quiet)
    assert not (off.run_dir / "report.html").exists() and (off.run_dir / "gold.parquet").exists()
    manifest = json.loads((off.run_dir / "manifest.json").read_text())
    assert manifest["run_id"] == off.run_id


def test_lf_table_counts_errors_and_prompted_lf_usage(tmp_path: Path) -> None:
    from weaksup.store.llm_cache import UsageDelta

    with VoteStore(tmp_path / "s.duckdb") as store:
        run = make_run(store, tmp_path / "run", VOTES, {"a": "v1", "b": "v1", "c": "v1"}, np.array([1, 0, 1, 0, 1]))
        keys = store.query("SELECT ex_key FROM examples ORDER BY ex_key")["ex_key"].to_numpy()
        errors = pl.DataFrame({"run_id": [run, run], "lf_name": ["b", "b"], "lf_version": ["v1", "v1"],
                               "ex_key": keys[[1, 3]], "example_id": ["e1", "e3"],
                               "error_type": ["KeyError", "ValueError"], "message": ["'title'", "bad"]})  # fmt: skip
        store.votes.commit("tiny", [("b", "v1")], int(keys.max()), pl.DataFrame(
            schema={"lf_name": pl.String, "lf_version": pl.String, "ex_key": pl.Int64, "label": pl.Int32}), errors)
        with store.llm_cache() as cache:
            cache.flush(run, usage=[UsageDelta("c", "v1", "m", requests=4, cache_hits=1, prompt_tokens=30,
                                               completion_tokens=5, failures=1),
                                    UsageDelta("c", "v0", "m", requests=99)])  # another version: not counted
        reader = store.report_reader()
        table = lf_table(reader, load_run(reader))
    rows = {r["lf"]: r for r in table.iter_rows(named=True)}
    assert (rows["b"]["errors"], rows["b"]["first_error"]) == (2, "KeyError: 'title'")
    assert rows["a"]["errors"] == 0 and rows["a"]["first_error"] is None
    assert (rows["c"]["requests"], rows["c"]["cache_hits"], rows["c"]["failures"], rows["c"]["tokens"]) == (4, 1, 1, 35)
    assert rows["a"]["requests"] is None


def test_report_names_stores_without_runs_and_pruned_runs(tmp_path: Path) -> None:
    with VoteStore(tmp_path / "empty.duckdb") as store:
        with pytest.raises(ValueError, match="has no succeeded run yet; run the pipeline first"):
            build_report(store)
    with VoteStore(tmp_path / "s.duckdb") as store:
        for i in range(2):
            make_run(store, tmp_path / f"run-{i}", VOTES, {"a": "v1", "b": "v1", "c": "v1"}, np.array([1, 0, 1, 0, 1]))
        store.prune([2])
        with pytest.raises(ValueError, match=r"run 1 has no labels: they were pruned by `weaksup gc`"):
            build_report(store, 1)
        assert run_changes(store.report_reader(), 2).previous is None  # the pruned run has nothing to compare with
