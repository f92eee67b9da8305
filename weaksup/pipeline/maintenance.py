"""Store maintenance and inspection: ``gc``, ``diff`` and the LF version table.

``gc --keep N`` keeps, for each pipeline in the store, its ``N`` newest
succeeded runs (and every later run), and removes what only older runs
needed: their labels and export folders, votes of LF versions no kept run
used, and examples retired before the oldest kept run.  ``LATEST`` always
names a kept run, and kept runs can still be exported and diffed.

``diff A B`` compares two runs' labels by example id, and for each LF the
votes of run A's version against run B's on the examples both runs labeled
with the same content.

>>> import tempfile, pathlib, polars as pl
>>> from weaksup.store import VoteStore
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.duckdb"
>>> with VoteStore(path) as store:
...     run = store.start_run("p", {})
...     store.finish_run(run, "succeeded")
...     collect_garbage(store, keep=1)["runs_kept"]
[1]
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.pipeline.outputs import latest_run_dir


def collect_garbage(store: Any, keep: int) -> dict[str, Any]:
    """Prune ``store`` (an open :class:`~weaksup.store.VoteStore`, under the lock) to each
    pipeline's ``keep`` newest succeeded runs; return what was kept and removed."""
    if keep < 1:
        raise ValueError(f"--keep must be at least 1 (got {keep}): the newest run's labels back LATEST")
    runs = store.query("SELECT run_id, pipeline, status, export_dir FROM runs ORDER BY run_id DESC")
    kept: list[int] = []
    for _, group in runs.filter(pl.col("status") == "succeeded").group_by("pipeline"):
        kept += group["run_id"].head(keep).to_list()
    if not kept:
        return {"runs_kept": [], "folders_removed": 0}
    counts = store.prune(kept)
    removed = 0
    for run_id, folder in runs.filter(pl.col("export_dir").is_not_null()).select("run_id", "export_dir").rows():
        path = Path(folder)
        if run_id in kept or not path.exists() or latest_run_dir(path.parent) == path:
            continue
        shutil.rmtree(path)
        removed += 1
    return {"runs_kept": sorted(kept), **counts, "folders_removed": removed}


def lf_versions(store: Any) -> pl.DataFrame:
    """Every LF version in the store: when it was used, its votes, watermark and errors."""
    return store.query(
        "SELECT l.lf_name, l.lf_version, l.kind, l.first_run, l.last_run, "
        "coalesce(v.votes, 0) AS votes, p.applied_through, coalesce(e.errors, 0) AS errors "
        "FROM lfs l "
        "LEFT JOIN (SELECT lf_name, lf_version, count(*) AS votes FROM votes GROUP BY ALL) v USING (lf_name, lf_version) "
        "LEFT JOIN (SELECT lf_name, lf_version, max(applied_through) AS applied_through FROM lf_progress GROUP BY ALL) p "
        "USING (lf_name, lf_version) "
        "LEFT JOIN (SELECT lf_name, lf_version, count(*) AS errors FROM lf_errors GROUP BY ALL) e "
        "USING (lf_name, lf_version) "
        "ORDER BY l.lf_name, l.first_run"
    )


@dataclass(frozen=True)
class RunDiff:
    """Label and per-LF vote changes between two runs."""

    labels: dict[str, int]
    lfs: pl.DataFrame


def _run_row(store: Any, run_id: int) -> dict[str, Any]:
    rows = store.query("SELECT status, lf_versions FROM runs WHERE run_id = ?", [run_id]).rows()
    if not rows:
        raise ValueError(f"there is no run {run_id} in {store.path}; `weaksup history` lists the runs")
    status, versions = rows[0]
    n = store.query("SELECT count(*) AS n FROM labels WHERE run_id = ?", [run_id])["n"][0]
    if n == 0:
        why = "it was pruned by `weaksup gc`" if status == "succeeded" else f"it {status}"
        raise ValueError(f"run {run_id} has no labels to compare: {why}")
    return {"status": status, "lf_versions": json.loads(versions or "{}")}


def diff_runs(store: Any, run_a: int, run_b: int) -> RunDiff:
    """How labels and each LF's votes changed from run ``run_a`` to run ``run_b``."""
    a, b = _run_row(store, run_a), _run_row(store, run_b)
    labels = store.query(
        "WITH la AS (SELECT e.example_id, l.ex_key, l.label, l.value, l.ranking FROM labels l "
        "JOIN examples e USING (ex_key) WHERE l.run_id = ?), "
        "lb AS (SELECT e.example_id, l.ex_key, l.label, l.value, l.ranking FROM labels l "
        "JOIN examples e USING (ex_key) WHERE l.run_id = ?) "
        "SELECT count(la.example_id) AS examples_a, count(lb.example_id) AS examples_b, "
        "count(*) FILTER (la.example_id IS NOT NULL AND lb.example_id IS NOT NULL) AS in_both, "
        "count(*) FILTER (lb.example_id IS NULL) AS only_in_a, count(*) FILTER (la.example_id IS NULL) AS only_in_b, "
        "count(*) FILTER (la.ex_key <> lb.ex_key) AS content_changed, "
        "count(*) FILTER (la.example_id IS NOT NULL AND lb.example_id IS NOT NULL AND "
        "(la.label IS DISTINCT FROM lb.label OR la.value IS DISTINCT FROM lb.value "
        "OR la.ranking IS DISTINCT FROM lb.ranking)) AS labels_changed "
        "FROM la FULL JOIN lb USING (example_id)",
        [run_a, run_b],
    ).to_dicts()[0]
    same_content = int(labels["in_both"]) - int(labels["content_changed"])
    rows = []
    for name in dict.fromkeys([*a["lf_versions"], *b["lf_versions"]]):
        va, vb = a["lf_versions"].get(name), b["lf_versions"].get(name)
        row: dict[str, Any] = {"lf": name, "version_a": va, "version_b": vb}
        if va is None or vb is None:
            row.update(change="added" if va is None else "removed", compared=None, votes_changed=None)
        elif va == vb:
            row.update(change="same version", compared=same_content, votes_changed=0)
        else:
            row.update(change="new version", **_vote_changes(store, run_a, run_b, name, va, vb))
        rows.append(row)
    frame = pl.DataFrame(rows, schema={"lf": pl.String, "version_a": pl.String, "version_b": pl.String,
                                       "change": pl.String, "compared": pl.Int64, "votes_changed": pl.Int64})  # fmt: skip
    return RunDiff({k: int(v) for k, v in labels.items()}, frame)


def _vote_changes(store: Any, run_a: int, run_b: int, name: str, va: str, vb: str) -> dict[str, int]:
    """Votes of versions ``va`` and ``vb`` of LF ``name`` compared on the examples both runs
    labeled with unchanged content (abstain counts as a vote value)."""
    applied = store.query(
        "SELECT count(*) AS n FROM lf_progress WHERE lf_name = ? AND lf_version IN (?, ?)", [name, va, vb]
    )["n"][0]
    if applied < 2:
        raise ValueError(f"the votes of an older version of LF {name!r} were pruned by `weaksup gc`; cannot diff")
    got = store.query(
        "WITH keys AS (SELECT ex_key FROM labels WHERE run_id = ? INTERSECT SELECT ex_key FROM labels WHERE run_id = ?), "
        "va AS (SELECT ex_key, label, value, ranking, payload FROM votes WHERE lf_name = ? AND lf_version = ?), "
        "vb AS (SELECT ex_key, label, value, ranking, payload FROM votes WHERE lf_name = ? AND lf_version = ?) "
        "SELECT count(*) AS compared, count(*) FILTER (va.label IS DISTINCT FROM vb.label "
        "OR va.value IS DISTINCT FROM vb.value OR va.ranking IS DISTINCT FROM vb.ranking "
        "OR va.payload::VARCHAR IS DISTINCT FROM vb.payload::VARCHAR) AS votes_changed "
        "FROM keys LEFT JOIN va USING (ex_key) LEFT JOIN vb USING (ex_key)",
        [run_a, run_b, name, va, name, vb],
    ).to_dicts()[0]
    return {k: int(v) for k, v in got.items()}
