"""gc, diff, export, lfs and store migration, through the CLI on real stores."""

from __future__ import annotations

import json
import re

import duckdb
import polars as pl
import pytest
from support.project import FILES, LFS, make_project, query

from weaksup.cli import main
from weaksup.store import StoreError, VoteStore
from weaksup.store.schema import SCHEMA_VERSION

EDITED = LFS.replace('r"subscri"', r'r"subscri|\bsub\b|\bplease\b"')


def _run(pipeline, capsys) -> str:  # type: ignore[no-untyped-def]
    assert main(["run", str(pipeline), "--quiet", "--force"]) == 0, capsys.readouterr().err  # a run each time
    return capsys.readouterr().out


def test_diff_counts_label_and_vote_changes(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    _run(pipeline, capsys)
    (tmp_path / "lfs.py").write_text(EDITED)
    _run(pipeline, capsys)
    assert main(["diff", str(pipeline), "1", "2"]) == 0
    out = capsys.readouterr().out

    texts = pl.concat([pl.read_csv(tmp_path / "incoming" / f) for f in FILES[:2]])["CONTENT"].to_list()
    old, new = re.compile("subscri", re.I), re.compile(r"subscri|\bsub\b|\bplease\b", re.I)
    flipped = sum(bool(old.search(t)) != bool(new.search(t)) for t in texts)
    assert flipped > 10
    row = next(line for line in out.splitlines() if line.startswith("│ subscribe"))
    assert "new version" in row and re.search(rf"┆ 700\s+┆ {flipped}\s+│$", row)
    assert re.search(r"│ link\s+┆ (\w+)\s+┆ \1\s+┆ same version ┆ 700\s+┆ 0\s+│", out)
    labels = query(
        tmp_path / "store.duckdb",
        "SELECT count(*) AS n FROM labels a JOIN labels b USING (ex_key) WHERE a.run_id = 1 AND b.run_id = 2 "
        "AND a.label <> b.label",
    )["n"][0]
    assert f"labels, run 1 -> run 2: {labels} of 700 examples in both changed label" in out


def test_gc_keeps_what_kept_runs_need(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    store = tmp_path / "store.duckdb"
    _run(pipeline, capsys)  # run 1: LFs v1
    (tmp_path / "lfs.py").write_text(EDITED)
    _run(pipeline, capsys)  # run 2: subscribe edited
    katy = tmp_path / "incoming" / FILES[1]
    pl.read_csv(katy).slice(50).write_csv(katy)
    _run(pipeline, capsys)  # run 3: 50 examples deleted
    _run(pipeline, capsys)  # run 4: nothing new
    old_subscribe = query(store, "SELECT count(*) AS n FROM votes v JOIN lfs USING (lf_name, lf_version) "
                                 "WHERE lf_name = 'subscribe' AND last_run = 1")["n"][0]  # fmt: skip
    assert old_subscribe > 0

    assert main(["gc", str(pipeline), "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert "kept runs [3, 4]" in out and "2 export folders" in out and "1 unused LF versions" in out
    assert "50 retired examples" in out
    assert query(store, "SELECT DISTINCT run_id FROM labels ORDER BY 1")["run_id"].to_list() == [3, 4]
    assert sorted(p.name for p in (tmp_path / "exports").iterdir() if p.is_dir()) == ["run-0003", "run-0004"]
    assert (tmp_path / "exports" / "LATEST").read_text().strip() == "run-0004"
    assert query(store, "SELECT count(*) AS n FROM examples WHERE retired_run IS NOT NULL")["n"][0] == 0
    assert query(store, "SELECT count(*) AS n FROM votes v JOIN lfs USING (lf_name, lf_version) "
                        "WHERE last_run = 1")["n"][0] == 0  # fmt: skip
    assert len(json.loads((tmp_path / "store.duckdb.history.json").read_text())) == 4  # history stays

    # Kept runs still export; pruned ones say why.
    out_csv = tmp_path / "run4.csv"
    assert main(["export", str(pipeline), "--run", "4", "--format", "csv", "--output", str(out_csv)]) == 0
    exported = pl.read_parquet(tmp_path / "exports" / "run-0004" / "training_set.parquet")
    assert pl.read_csv(out_csv).equals(exported)
    assert main(["export", str(pipeline), "--run", "2", "--format", "csv"]) == 1
    assert "run 2 has no labels: it was pruned by `weaksup gc`" in capsys.readouterr().err
    assert main(["diff", str(pipeline), "1", "4"]) == 1
    assert "run 1 has no labels to compare: it was pruned" in capsys.readouterr().err
    assert main(["gc", str(pipeline), "--keep", "0"]) == 1
    assert "--keep must be at least 1" in capsys.readouterr().err

    # The kept LF versions' votes are intact: the next run applies nothing; reverting the LF re-applies it.
    assert "(0 new, 0 changed, 0 retired, 650 unchanged)" in _run(pipeline, capsys)
    assert json.loads(query(store, "SELECT metrics FROM runs WHERE run_id = 5")["metrics"][0])["lf_applications"] == 0
    (tmp_path / "lfs.py").write_text(LFS)
    _run(pipeline, capsys)
    assert json.loads(query(store, "SELECT metrics FROM runs WHERE run_id = 6")["metrics"][0])["lf_applications"] == 650


def test_export_formats_and_lfs_listing(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    _run(pipeline, capsys)
    (tmp_path / "lfs.py").write_text(EDITED)
    _run(pipeline, capsys)
    parquet = pl.read_parquet(tmp_path / "exports" / "run-0002" / "training_set.parquet")
    for fmt, read in (("jsonl", pl.read_ndjson), ("parquet", pl.read_parquet)):
        out = tmp_path / f"t.{fmt}"
        assert main(["export", str(tmp_path / "store.duckdb"), "--run", "1", "--format", fmt, "--output", str(out)]) == 0
        run1 = read(out)
        assert run1.columns == parquet.columns and run1.height > 0
    manifest = json.loads((tmp_path / "exports" / "run-0001" / "manifest.json").read_text())
    assert pl.read_parquet(tmp_path / "exports" / "run-0001" / "training_set.parquet").equals(run1)
    assert manifest["counts"]["training_examples"] == run1.height
    assert {"run_id", "pipeline_hash", "data_fingerprint", "lf_versions", "label_model", "metrics"} <= set(manifest)
    assert main(["export", str(pipeline), "--run", "9", "--format", "csv"]) == 1
    assert "there is no run 9" in capsys.readouterr().err

    assert main(["lfs", str(pipeline)]) == 0
    out = capsys.readouterr().out
    assert "LF summary of run 2" in out
    versions = [line for line in out.splitlines() if line.startswith("│ subscribe")]
    assert len(versions) == 2 + 1  # the summary row and two versions
    assert sum(line.rstrip(" │").endswith("*") for line in versions) == 1


def _make_v3(path, next_key: int | None = None) -> None:  # type: ignore[no-untyped-def]
    """Turn a store into what version 3 wrote: example keys indexed and drawn from a sequence
    (starting at ``next_key``, by default just past the largest key)."""
    with duckdb.connect(str(path)) as con:  # not VoteStore, which would migrate it back
        top = con.execute("SELECT coalesce(max(ex_key), 0) FROM examples").fetchall()[0][0]
        con.execute(
            "CREATE TABLE ex3 (ex_key BIGINT PRIMARY KEY, dataset VARCHAR NOT NULL, example_id VARCHAR NOT NULL, "
            "content_hash VARCHAR NOT NULL, split VARCHAR, data JSON, added_run BIGINT, retired_run BIGINT)"
        )
        con.execute("INSERT INTO ex3 SELECT * FROM examples")
        con.execute("DROP TABLE examples")
        con.execute("ALTER TABLE ex3 RENAME TO examples")
        con.execute(f"CREATE SEQUENCE ex_key_seq START {int(next_key or top + 1)}")
        con.execute("DELETE FROM meta WHERE key = 'next_ex_key'")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def test_a_version_3_store_keeps_its_keys_and_gives_new_ones_past_its_sequence(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    _run(pipeline, capsys)
    store = tmp_path / "store.duckdb"
    before = query(store, "SELECT * FROM examples ORDER BY ex_key")
    votes = query(store, "SELECT * FROM votes ORDER BY ALL")
    top = before["ex_key"].max()
    _make_v3(store, next_key=top + 50)  # as after gc deleted the newest retired rows
    data = tmp_path / "incoming" / FILES[0]
    data.write_text(data.read_text(encoding="utf-8") + 'new-1,someone,2014-01-01T00:00:00,"a new comment, check it out",1\n', encoding="utf-8")
    out = _run(pipeline, capsys)
    assert "(1 new, 0 changed, 0 retired, 700 unchanged)" in out
    after = query(store, "SELECT * FROM examples ORDER BY ex_key")
    assert after.head(before.height).equals(before)
    assert after["ex_key"][-1] >= top + 50 and after["example_id"][-1] == "new-1"
    assert query(store, "SELECT * FROM votes WHERE ex_key <= ? ORDER BY ALL", [top]).equals(votes)
    assert query(store, "SELECT count(*) AS n FROM duckdb_sequences() WHERE sequence_name = 'ex_key_seq'")["n"][0] == 0
    assert query(store, "SELECT count(*) AS n FROM duckdb_constraints() WHERE table_name = 'examples' "
                 "AND constraint_type = 'PRIMARY KEY'")["n"][0] == 0  # fmt: skip


def _make_v1(path) -> None:  # type: ignore[no-untyped-def]
    """Turn a store into what version 1 wrote: the same tables without the three newer run columns."""
    _make_v3(path)
    with duckdb.connect(str(path)) as con:
        for column in ("export_dir", "data_fingerprint", "lf_summary"):
            con.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_a_version_1_store_is_migrated_on_the_next_run(tmp_path, capsys):
    pipeline = make_project(tmp_path)
    _run(pipeline, capsys)
    store = tmp_path / "store.duckdb"
    _make_v1(store)
    with pytest.raises(StoreError, match="schema version 1; run `weaksup run` or `weaksup gc` on it once to migrate"):
        VoteStore(store, read_only=True)
    out = _run(pipeline, capsys)
    assert "(0 new, 0 changed, 0 retired, 700 unchanged)" in out
    assert query(store, "SELECT value FROM meta WHERE key = 'schema_version'")["value"][0] == str(SCHEMA_VERSION)
    assert query(store, "SELECT run_id, status FROM runs ORDER BY 1").rows() == [(1, "succeeded"), (2, "succeeded")]
    assert query(store, "SELECT lf_summary IS NOT NULL AS s FROM runs WHERE run_id = 2")["s"][0]


def test_diff_compares_real_valued_and_ranking_labels(tmp_path):
    from weaksup.pipeline.maintenance import diff_runs

    with VoteStore(tmp_path / "s.duckdb") as store:
        keys = store.examples.sync(
            "d", pl.DataFrame({"example_id": ["a", "b", "c"], "x": [1, 2, 3]}), store.runs.start("p", {})
        ).ex_keys
        runs = []
        for values, rankings in (([1.0, 2.0, 3.0], [["x", "y"], ["y", "x"], None]),
                                 ([1.0, 2.5, 3.0], [["x", "y"], ["x", "y"], None])):  # fmt: skip
            run = store.runs.start("p", {})
            store.runs.write_labels(run, pl.DataFrame({"ex_key": keys, "n_votes": [1, 1, 1], "value": values,
                                                  "ranking": rankings}))  # fmt: skip
            store.runs.finish(run, "succeeded", lf_versions={})
            runs.append(run)
        diff = diff_runs(store, *runs)
    assert diff.labels["in_both"] == 3 and diff.labels["labels_changed"] == 1  # b: value and ranking
