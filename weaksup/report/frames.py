"""The report's analysis as polars frames: the per-LF table, LF-by-LF agreement, run history and
changes since the previous run.  Notebooks call these directly; :mod:`weaksup.report.html`
renders exactly their output.  What differs by label type is asked of the run's report type
(:mod:`weaksup.report.types`).  They read the store through its read-only view
(:class:`~weaksup.store.ReportReader`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from weaksup.report.view import RunView
from weaksup.store import ReportReader

LLM_COLUMNS = ("requests", "cache_hits", "failures", "tokens")


def lf_table(store: ReportReader, view: RunView) -> pl.DataFrame:
    """One row per LF of the run: kind, version, when it last changed, what it voted and how
    well, its errors, and for prompted LFs the LLM requests, cache hits, failures and tokens.

    Categorical runs: ``polarity``, ``coverage``, ``overlaps``, ``conflicts`` (fractions of the
    run's examples), ``emp_acc`` with ``gold_n`` (examples with gold outside the test split)
    and ``learned_acc`` (the label model's).  Rankings: ``coverage``, ``kt_to_aggregate``,
    ``kt_to_gold``.  Regression: ``coverage``, ``corr_to_aggregate``, ``corr_to_gold``.  The
    run's own LF summary columns (e.g. ``theta``, ``lf_scale``) follow."""
    stats = view.report_type.lf_stats(view)
    stored = pl.DataFrame(view.run["lf_summary"], infer_schema_length=None) if view.run["lf_summary"] else None
    if stored is not None and "lf" in stored.columns:
        extra = [c for c in stored.columns if c not in stats.columns and c not in ("columns_read", "correct", "incorrect")]
        stats = stats.join(stored.select("lf", *extra), on="lf", how="left", maintain_order="left")
    catalog = store.lf_catalog(view.versions)
    errors = store.lf_error_counts(view.versions)
    usage = store.llm_usage()
    if usage.height:
        usage = (
            usage.join(pl.DataFrame(view.versions, schema=["lf_name", "lf_version"], orient="row"),
                       on=["lf_name", "lf_version"])  # fmt: skip
            .group_by("lf_name")
            .agg(
                pl.col("requests").sum(),
                pl.col("cache_hits").sum(),
                pl.col("failures").sum(),
                (pl.col("prompt_tokens") + pl.col("completion_tokens")).sum().alias("tokens"),
            )
            .rename({"lf_name": "lf"})
        )
    else:
        usage = pl.DataFrame(schema={"lf": pl.String, **{c: pl.Int64 for c in LLM_COLUMNS}})
    return (
        catalog.join(stats, on="lf", how="left", maintain_order="left")
        .join(errors, on="lf", how="left", maintain_order="left")
        .join(usage, on="lf", how="left", maintain_order="left")
        .with_columns(pl.col("errors").fill_null(0))
    )


TOP_LFS = 60
"""What the report shows per LF pair (:func:`lf_agreement`) and per LF sample (the
``lf_disagreements`` bucket) covers at most this many LFs, those with the most votes: a crowd
run's 18,388 workers would make 338M pairs (a dense worker × worker array alone is 2.7 GB) and
90,000 sampled examples."""


def top_lfs(view: RunView, top: int = TOP_LFS) -> np.ndarray:
    """The column indices of the ``top`` LFs with the most votes (every LF when there are no more),
    in the run's LF order; ties go to the earlier LF."""
    lfs = np.arange(len(view.lf_names))
    return lfs if len(lfs) <= top else np.sort(np.argsort(-view.report_type.votes_per_lf(view), kind="stable")[:top])


def lf_agreement(view: RunView, top: int = TOP_LFS) -> pl.DataFrame:
    """Every ordered pair (``lf_a``, ``lf_b``) of the ``top`` LFs with the most votes
    (:func:`top_lfs`): examples both voted on (``overlap``) and how much they agree there
    (``agreement``: share of equal votes for categorical runs, Pearson correlation for regression,
    1 - Kendall tau distance for rankings; null without overlap)."""
    lfs = top_lfs(view, top)
    names, m = [view.lf_names[a] for a in lfs], len(lfs)
    overlap, score = view.report_type.pair_agreement(view, lfs)
    return pl.DataFrame(
        {
            "lf_a": np.repeat(names, m).tolist(),
            "lf_b": np.tile(names, m).tolist(),
            "overlap": overlap.astype(np.int64).ravel(),
            "agreement": score.ravel(),
        }
    ).with_columns(pl.col("agreement").fill_nan(None))


def history(store: ReportReader, run_id: int) -> pl.DataFrame:
    """The pipeline's succeeded runs up to ``run_id``: start time, train coverage and each float
    ``label_model_*`` and ``end_model_*`` metric (accuracy, Kendall tau, MSE, ...)."""
    run = store.run(run_id)
    runs = store.pipeline_runs(run["pipeline"], int(run["run_id"])).filter(pl.col("status") == "succeeded")
    rows: list[dict[str, Any]] = []
    for r in runs.iter_rows(named=True):
        metrics = json.loads(r["metrics"] or "{}")
        row: dict[str, Any] = {"run_id": r["run_id"], "started_at": r["started_at"]}
        row.update({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                    and (k == "train_coverage" or k.startswith(("label_model_", "end_model_"))) and not k.endswith("_seconds")})  # fmt: skip
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(schema={"run_id": pl.Int64})


@dataclass(frozen=True)
class RunChanges:
    """What changed from the previous succeeded run (``previous``; None when there is none)."""

    previous: int | None
    labels: pl.DataFrame
    """``change`` (e.g. ``HAM → SPAM``, ``up``, ``reordered``, ``new example``) and ``examples``."""
    lfs: pl.DataFrame
    """``lf``, ``previous_version``, ``version``, ``change`` (new, edited, removed, unchanged)."""


def run_changes(store: ReportReader, run_id: int, classes: Sequence[str] = ()) -> RunChanges:
    """How many labels changed since the previous run and in which direction, and which LF
    versions were new, edited or removed."""
    now = store.run(run_id)
    before = store.previous_run(int(now["run_id"]))
    empty = RunChanges(before, pl.DataFrame(schema={"change": pl.String, "examples": pl.Int64}),
                       pl.DataFrame(schema={"lf": pl.String, "previous_version": pl.String, "version": pl.String,
                                            "change": pl.String}))  # fmt: skip
    if before is None:
        return empty
    old, new = store.run(before)["lf_versions"] or {}, now["lf_versions"] or {}
    lfs = pl.DataFrame(
        [
            {"lf": name, "previous_version": old.get(name), "version": new.get(name),
             "change": "new" if name not in old else "removed" if name not in new
             else "unchanged" if old[name] == new[name] else "edited"}
            for name in dict.fromkeys([*new, *old])
        ],
        schema=empty.lfs.schema,
    )  # fmt: skip
    groups = store.label_change_groups(before, int(now["run_id"]))

    def name(c: Any) -> str:
        return classes[int(c)] if c is not None and int(c) < len(classes) else str(c)

    def direction(r: dict[str, Any]) -> str | None:
        if not r["in_a"]:
            return "new example"
        if not r["in_b"]:
            return "dropped example"
        if r["label_a"] is not None or r["label_b"] is not None:
            return None if r["label_a"] == r["label_b"] else f"{name(r['label_a'])} → {name(r['label_b'])}"
        if r["value_a"] is not None or r["value_b"] is not None:
            if r["value_a"] == r["value_b"]:
                return None
            return "up" if (r["value_b"] or 0) > (r["value_a"] or 0) else "down"
        return None if r["ranking_a"] == r["ranking_b"] else "reordered"

    changes = [(d, r["examples"]) for r in groups.iter_rows(named=True) if (d := direction(r)) is not None]
    labels = (
        pl.DataFrame(changes, schema={"change": pl.String, "examples": pl.Int64}, orient="row")
        .group_by("change")
        .agg(pl.col("examples").sum())
        .sort("examples", "change", descending=[True, False])
    )
    return RunChanges(before, labels, lfs)
