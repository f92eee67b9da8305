"""Incremental runs: only new work is done, removed things are retired, and the labels equal a from-scratch run's."""

from __future__ import annotations

import numpy as np
import polars as pl
from support.project import FILES, LFS, last_labels, make_project, query

from weaksup.pipeline import load_config, run_pipeline

QUIET = {"progress": False, "say": lambda s: None}


def test_incremental_run_equals_a_from_scratch_run(tmp_path):
    inc = make_project(tmp_path / "inc")
    first = run_pipeline(inc, **QUIET)
    assert first.metrics["new_examples"] == 700 and first.metrics["lf_applications"] == 700 * 6

    # Between runs: a third file arrives, 5 comments are edited, 10 are deleted, one LF is edited,
    # one is removed and one is added.
    incoming = inc.parent / "incoming"
    make_project(tmp_path / "inc", FILES)  # copies the third file in (and rewrites the same pipeline)
    psy = pl.read_csv(incoming / FILES[0])
    psy = psy.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(pl.col("CONTENT") + " check out my channel").otherwise("CONTENT")
        .alias("CONTENT")
    )  # fmt: skip
    psy.write_csv(incoming / FILES[0])
    katy = pl.read_csv(incoming / FILES[1])
    katy.slice(10).write_csv(incoming / FILES[1])
    lfs = LFS.replace('r"subscri"', 'r"subscri|sub4sub"')  # edited
    lfs = lfs.replace(lfs[lfs.index("@labeling_function()\ndef praise") :], "")  # removed
    lfs += '\n@labeling_function()\ndef shouting(x):\n    return SPAM if x.text.isupper() and len(x.text) > 10 else ABSTAIN\n'
    (inc.parent / "lfs.py").write_text(lfs)

    second = run_pipeline(inc, **QUIET)
    n = 700 - 10 + 438
    assert (second.metrics["new_examples"], second.metrics["changed_examples"], second.metrics["retired_examples"]) == (
        438, 5, 10
    )
    # Unchanged LFs (link, check_out, my_channel, short) see only the 443 new or changed examples;
    # the edited and the new LF see all of them; the removed LF nothing.
    assert second.metrics["lf_applications"] == 4 * 443 + 2 * n

    # From scratch: the final files and LFs, a fresh store.
    scratch_root = tmp_path / "scratch"
    scratch = make_project(scratch_root, FILES)
    for name in FILES[:2]:
        (scratch_root / "incoming" / name).write_bytes((incoming / name).read_bytes())
    (scratch_root / "lfs.py").write_text(lfs)
    fresh = run_pipeline(scratch, **QUIET)
    assert fresh.metrics["lf_applications"] == 6 * n

    a, b = last_labels(inc.parent / "store.duckdb"), last_labels(scratch_root / "store.duckdb")
    assert a.height == b.height == n
    assert a["example_id"].to_list() == b["example_id"].to_list()
    assert np.abs(np.vstack(a["probs"].to_list()) - np.vstack(b["probs"].to_list())).max() <= 1e-9
    assert a["label"].to_list() == b["label"].to_list() and a["n_votes"].to_list() == b["n_votes"].to_list()
    # The exported training sets hold the same rows too.
    ta = pl.read_parquet(second.run_dir / "training_set.parquet").sort("example_id")
    tb = pl.read_parquet(fresh.run_dir / "training_set.parquet").sort("example_id")
    assert ta.drop("prob_HAM", "prob_SPAM", "confidence").equals(tb.drop("prob_HAM", "prob_SPAM", "confidence"))
    assert np.allclose(ta["prob_SPAM"], tb["prob_SPAM"], atol=1e-9, rtol=0)


def test_retired_votes_stay_out_of_the_label_matrix(tmp_path):
    pipeline = make_project(tmp_path)
    run_pipeline(pipeline, **QUIET)
    store = tmp_path / "store.duckdb"
    (tmp_path / "lfs.py").write_text(LFS.replace(LFS[LFS.index("@labeling_function()\ndef praise") :], ""))
    katy = pl.read_csv(tmp_path / "incoming" / FILES[1])
    katy.slice(0, 100).write_csv(tmp_path / "incoming" / FILES[1])
    second = run_pipeline(pipeline, **QUIET)
    assert second.metrics["retired_examples"] == 250 and second.metrics["lf_applications"] == 0
    # The removed LF's votes and the deleted examples' votes are still stored (until gc) ...
    assert query(store, "SELECT count(*) AS n FROM votes WHERE lf_name = 'praise'")["n"][0] > 0
    retired = query(store, "SELECT count(*) AS n FROM votes JOIN examples USING (ex_key) WHERE retired_run IS NOT NULL")
    assert retired["n"][0] > 0
    # ... but the run's labels count only live examples and current LFs.
    labels = last_labels(store)
    assert labels.height == 450
    expected = query(
        store,
        "SELECT e.example_id, count(v.label) AS n FROM examples e LEFT JOIN votes v ON v.ex_key = e.ex_key "
        "AND v.lf_name <> 'praise' WHERE e.retired_run IS NULL GROUP BY ALL ORDER BY e.example_id",
    )
    assert labels["n_votes"].to_list() == expected["n"].to_list()


def test_reverting_an_lf_reuses_its_old_votes(tmp_path):
    pipeline = make_project(tmp_path)
    run_pipeline(pipeline, **QUIET)
    (tmp_path / "lfs.py").write_text(LFS.replace('r"subscri"', 'r"subscri|sub4sub"'))
    assert run_pipeline(pipeline, **QUIET).metrics["lf_applications"] == 700
    (tmp_path / "lfs.py").write_text(LFS)
    assert run_pipeline(load_config(pipeline), **QUIET).metrics["lf_applications"] == 0
