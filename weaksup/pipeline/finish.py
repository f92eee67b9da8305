"""A pipeline run after its votes are in: label model, labels, exports, end model, record and report.

:mod:`.runner` loads the examples, syncs them into the store and applies the LFs; everything
after that reads only the store, the prepared examples and the counts so far, so it lives here,
the same for every label type: what differs is asked of the run's task
(:mod:`weaksup.pipeline.tasks`).  The steps:

1. fit the label model on the train split's votes and label every live example (``Task.label``);
2. write the labels to the store;
3. export: the label model and the training set, rebuilt from the store (``Task.training_set``;
   a streamed run writes it batch by batch, ``Task.training_batches``);
4. train the end model on the covered train examples (``Task.train_end_model``);
5. the console report and the gold the run scored against (``gold.parquet``); then the end: the
   manifest, the run record, the LF report (``report.html``, :mod:`weaksup.report`), the
   ``LATEST`` pointer and the status file (a run folder that ``LATEST`` names is never removed,
   even if that last write fails).

The runner imports this module, never the other way round.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup import batches
from weaksup.apply.store_applier import StoreApplyStats
from weaksup.export import write_batches, write_table
from weaksup.pipeline.config import PipelineConfig
from weaksup.pipeline.latest import point_latest
from weaksup.pipeline.outputs import write_manifest
from weaksup.pipeline.owner import Owner
from weaksup.pipeline.shield import StopShield
from weaksup.pipeline.sources import Examples
from weaksup.pipeline.status import StatusBoard
from weaksup.pipeline.tasks import InMemoryPrepared, Prepared, Task
from weaksup.report import save_gold, write_run_report
from weaksup.store import SCHEMA_VERSION, SyncResult, VoteStore, crash_point


@dataclass
class Applied:
    """A run whose LFs are applied: what the finishing steps read, and where they report and write."""

    cfg: PipelineConfig
    store: VoteStore
    owner: Owner
    """Whose folders the run may write: it creates its own run folder (:meth:`Owner.claim_run`)."""
    shield: StopShield
    """Held from the run's record as succeeded on: a stop then lets the run complete (:mod:`.shield`)."""
    run_id: int
    run_dir: Path
    phase: Callable[[str], None]
    """Enters a phase, in the status file and on the progress line."""
    board: StatusBoard
    say: Callable[[str], None]
    loaded: Examples
    sync: SyncResult
    stats: StoreApplyStats
    fingerprint: str
    timings: dict[str, Any]
    """Seconds per phase so far; the finishing steps add theirs."""
    t_run: float
    """``time.perf_counter()`` when the run started."""


def finish(
    run: Applied, task: Task, prepared: Prepared, lfs: Sequence[LabelingFunctionLike]
) -> tuple[dict[str, Any], pl.DataFrame, list[Path]]:
    """The steps of the module docstring; the run's metrics, LF summary and exported files."""
    settings = run.cfg.settings
    split_names = set(prepared.splits.unique().to_list())
    train = prepared.in_split(settings.data.train_split)
    if not train.any():
        raise ValueError(
            f"no examples in train split {settings.data.train_split!r}; splits present: {sorted(split_names)}"
        )

    t0 = time.perf_counter()
    run.phase("fitting label model")
    labeled = task.label(run.store, run.sync.ex_keys, lfs, prepared, train)
    run.timings["label_model_seconds"] = time.perf_counter() - t0
    for note in labeled.notes:
        run.say(note)

    t0 = time.perf_counter()
    run.phase("writing labels")
    run.store.runs.write_labels(run.run_id, labeled.labels)
    labeled.labels = pl.DataFrame()  # in the store now: what follows reads them there
    run.timings["labels_seconds"] = time.perf_counter() - t0
    crash_point("run.labels_written")

    metrics: dict[str, Any] = {
        "n_examples": prepared.n,
        "n_train": int(train.sum()),
        "n_lfs": len(lfs),
        "new_examples": run.sync.new,
        "changed_examples": run.sync.changed,
        "retired_examples": run.sync.retired,
        "duplicate_rows_dropped": run.loaded.duplicates_dropped,
        "held_out_rows": run.loaded.held_out,
        "lf_applications": int(sum(run.stats.applied.values())),
        "lf_errors": int(sum(run.stats.errors.values())),
        "train_coverage": float((labeled.n_votes[train] > 0).mean()),
        **labeled.metrics,
    }

    t0 = time.perf_counter()
    run.phase("exporting")
    run.owner.claim_run(run.run_dir.parent, run.run_id)  # a new folder, marked this store's
    labeled.model.save(run.run_dir / "label_model.json")
    files = [run.run_dir / f"training_set.{fmt}" for fmt in settings.export.formats]
    if settings.data.stream:  # batch by batch from the store, once per format: never the whole set
        for path in files:
            parts = task.training_batches(run.store, run.run_id, batches.EXPORT_ROWS)
            metrics["training_examples"] = write_batches(parts, path)[1]
    else:
        training = task.training_set(run.store, run.run_id)
        metrics["training_examples"] = training.height
        for path in files:
            write_table(training, path)
    run.timings["export_seconds"] = time.perf_counter() - t0

    manifest = task.describe()
    lines: list[str] = []
    if settings.trainer.name != "none" or task.end_model is not None:
        t0 = time.perf_counter()
        run.phase("training end model")
        assert isinstance(prepared, InMemoryPrepared)  # the config refuses an end model with data.stream
        trained = task.train_end_model(prepared, labeled, train, run.run_dir)
        metrics.update(trained.metrics)
        manifest.update(trained.manifest)
        lines = trained.lines
        run.timings["train_seconds"] = time.perf_counter() - t0
    summary = labeled.summary
    del labeled, train  # the label model's per-example arrays: the rest reads the store

    run.timings["wall_seconds"] = time.perf_counter() - run.t_run
    metrics.update(run.timings)
    counts = {key: v for key, v in metrics.items() if key.startswith("n_") or key.endswith("_examples") or "_rows" in key}
    manifest.update({"label_type": task.label_type, "counts": counts})
    splits = sorted({*split_names, "holdout"}, key=len, reverse=True)
    _report(run.say, summary, metrics, manifest["label_model"]["name"], splits, run.run_dir, lines)
    save_gold(run.run_dir, run.sync.ex_keys, prepared.gold, task.label_type)  # what later reports score against
    _complete(run, {lf.name: lf.version for lf in lfs}, summary, metrics, manifest)
    return metrics, summary, files


def _complete(
    run: Applied, lf_versions: dict[str, str], summary: pl.DataFrame, metrics: dict[str, Any], manifest: dict[str, Any]
) -> None:
    """The end of every successful run: the manifest, the run record, the LF report, then the
    ``LATEST`` pointer and the status file."""
    cfg = run.cfg
    write_manifest(
        run.run_dir,
        {
            "run_id": run.run_id,
            "pipeline": cfg.settings.name,
            "pipeline_file": str(cfg.file),
            "pipeline_hash": cfg.hash,
            "data_fingerprint": run.fingerprint,
            "store": str(run.store.path),
            "store_id": run.owner.store_id,
            "store_schema_version": SCHEMA_VERSION,
            "lf_versions": lf_versions,
            **manifest,
            "metrics": metrics,
        },
    )
    crash_point("run.exported")
    rows = [{key: _json_safe(v) for key, v in row.items()} for row in summary.to_dicts()]
    run.shield.hold()  # recorded as succeeded from the next line: a stop then lets it complete
    run.store.runs.finish(run.run_id, "succeeded", metrics=metrics, lf_versions=lf_versions,
                          data_fingerprint=run.fingerprint, lf_summary=rows)  # fmt: skip
    crash_point("run.recorded")  # a run killed from here on stands: the next skipped run completes its report and LATEST
    export = cfg.settings.export
    if export.report:  # after the record (the report reads the run back), before LATEST
        write_run_report(run.store, run.run_id, run.run_dir, export.suspicious, run.say)
    crash_point("run.finished")
    point_latest(run.run_dir)  # a reader that follows LATEST always finds a complete, recorded run
    run.board.finish("succeeded")


def _json_safe(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _report(
    say: Callable[[str], None], summary: pl.DataFrame, metrics: dict[str, Any], lm: str, splits: Sequence[str],
    run_dir: Path, lines: Sequence[str] = (),
) -> None:  # fmt: skip
    """The LF summary, one line per model and split with its scores (``<model>_<metric>_<split>``), the
    end model's own ``lines``, the folder."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=3, tbl_hide_dataframe_shape=True):
        say(f"LF summary (non-test examples):\n{summary}")
    if {"lf", "coverage"} <= set(summary.columns):
        for lf in summary.filter(pl.col("coverage") == 0)["lf"]:
            say(f"warning: LF {lf!r} never voted (coverage 0 in the LF summary): check what it matches, and the "
                "columns it reads")
    by_model: dict[tuple[str, str], list[str]] = {}
    for key, value in metrics.items():
        for model, name in (("label_model_", f"label model ({lm})"), ("end_model_", "end model")):
            split = next((s for s in splits if key.endswith(f"_{s}")), None)
            if key.startswith(model) and isinstance(value, float) and split is not None:
                metric = key.removeprefix(model).removesuffix(f"_{split}")
                shown = _SHOWN.get(metric) if model == "label_model_" else None
                scores = by_model.setdefault((name, split), [])
                if model == "label_model_" and metric in _APART:  # on their own line: the first keeps coverage, accuracies
                    scores = by_model.setdefault((f"{name}, {_APART[metric]},", split), [])
                scores.append(f"{shown or metric.replace('_', ' ')} {value:.3f}")
    for (name, split), scores in by_model.items():
        say(f"{name} on {split}: {', '.join(scores)}")
        per_class = metrics.get(f"label_model_per_class_{split}") if name == f"label model ({lm}), by class," else None
        if per_class:
            say(f"label model ({lm}) on {split}, precision / recall / F1 per class: " + "; ".join(
                f"{c} {v['precision']:.3f} / {v['recall']:.3f} / {v['f1']:.3f}" for c, v in per_class.items()))
    for line in lines:
        say(line)
    say(f"outputs: {run_dir}")


_SHOWN = {"accuracy": "accuracy on all rows", "accuracy_covered": "accuracy on covered rows",
          "accuracy_uncovered": "accuracy on rows no LF voted on (labeled by the class prior)"}
"""How a label-model metric reads in the report, where its name alone would mislead (rows no LF
voted on get the prior's label, and count in the accuracy on all rows)."""
_APART = {"accuracy_uncovered": "uncovered rows", "macro_f1": "by class"}
"""Label-model metrics printed on a line of their own, named by the line's title."""
