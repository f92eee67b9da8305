"""A pipeline run after its votes are in: label model, labels, exports, end model, record and report.

:mod:`.runner` loads the examples, syncs them into the store and applies the LFs; everything
after that reads only the store, the examples and the counts so far, so it lives here.  A
categorical run (:func:`finish_categorical`) fits the label model on the train split's votes,
labels every live example, summarises the LFs, exports the training set and trains the end
model; ranking and regression runs (:func:`finish_universal`) continue in
:func:`weaksup.pipeline.tasks.universal.run_universal`.  Both end alike: the manifest, the run
record, then the ``LATEST`` pointer.  The runner imports this module, never the other way round.

Label models are fitted on the train split's votes, renumbered, and scored where gold is known:

>>> import numpy as np
>>> from weaksup.votes import SparseVotes
>>> votes = SparseVotes.from_dense(np.array([[1, -1], [0, 0], [-1, 1]]))
>>> train = _subset(votes, np.array([1, 2]))
>>> train.n, train.rows.tolist(), train.labels.tolist()
(2, [0, 0, 1], [0, 0, 1])
>>> _accuracy(np.array([1, 0, 1]), np.array([1, 1, -1]))  # -1: no gold label
0.5
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup.analysis import lf_summary
from weaksup.apply import StoreApplyStats
from weaksup.export import write_table
from weaksup.model import make_label_model
from weaksup.pipeline.config import PipelineConfig
from weaksup.pipeline.outputs import point_latest, training_set, write_manifest
from weaksup.pipeline.sources import Examples
from weaksup.pipeline.status import StatusBoard
from weaksup.report import write_run_report
from weaksup.store import SyncResult, VoteStore, crash_point
from weaksup.store.schema import SCHEMA_VERSION


@dataclass
class Applied:
    """A run whose LFs are applied: what the finishing steps read, and where they report and write."""

    cfg: PipelineConfig
    store: VoteStore
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


def finish_categorical(
    run: Applied,
    frame: pl.DataFrame,
    holdout: pl.DataFrame | None,
    splits: pl.Series,
    gold: np.ndarray,
    versions: list[tuple[str, str]],
) -> tuple[dict[str, Any], pl.DataFrame, list[Path]]:
    """A categorical run after its LFs are applied; its metrics, LF summary and exported files."""
    data, lm_cfg, tr_cfg, ex_cfg = run.cfg["data"], run.cfg["label_model"], run.cfg["trainer"], run.cfg["export"]
    classes: list[str] = list(run.cfg["labels"]["classes"])
    k = len(classes)

    t0 = time.perf_counter()
    run.phase("fitting label model")
    votes = run.store.label_matrix(run.sync.ex_keys, versions)
    split_arr = splits.to_numpy()
    train = split_arr == data["train_split"]
    test = split_arr == data["test_split"]
    if not train.any():
        raise ValueError(
            f"no examples in train split {data['train_split']!r}; splits present: {sorted(set(split_arr.tolist()))}"
        )
    train_idx = np.flatnonzero(train)
    model = make_label_model(lm_cfg["name"], cardinality=k, seed=lm_cfg["seed"], **lm_cfg["params"])
    model.fit(_subset(votes, train_idx))
    probs = model.predict_proba(votes)
    pred = model.predict(votes)
    n_votes = np.bincount(votes.rows, minlength=votes.n)
    run.timings["label_model_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    run.phase("writing labels")
    run.store.write_labels(
        run.run_id,
        pl.DataFrame(
            {
                "ex_key": run.sync.ex_keys,
                "probs": probs,
                "label": pred.astype(np.int32),
                "confidence": probs.max(axis=1),
                "n_votes": n_votes.astype(np.int32),
            }
        ),
    )
    run.timings["labels_seconds"] = time.perf_counter() - t0
    crash_point("run.labels_written")

    dev = ~test
    summary = lf_summary(_subset(votes, np.flatnonzero(dev)), np.where(gold[dev] >= 0, gold[dev], -1),
                         learned_acc=getattr(model, "accuracies_", None))  # fmt: skip
    metrics: dict[str, Any] = {
        "n_examples": frame.height,
        "n_train": int(train.sum()),
        "new_examples": run.sync.new,
        "changed_examples": run.sync.changed,
        "retired_examples": run.sync.retired,
        "duplicate_rows_dropped": run.loaded.duplicates_dropped,
        "held_out_rows": run.loaded.held_out,
        "lf_applications": int(sum(run.stats.applied.values())),
        "lf_errors": int(sum(run.stats.errors.values())),
        "train_coverage": float((n_votes[train] > 0).mean()),
    }
    for split in sorted(set(split_arr.tolist())):
        acc = _accuracy(pred[split_arr == split], gold[split_arr == split])
        if acc is not None:
            metrics[f"label_model_accuracy_{split}"] = acc

    t0 = time.perf_counter()
    run.phase("exporting")
    run.run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run.run_dir / "label_model.json")
    training = training_set(run.store, run.run_id)
    exports = [write_table(training, run.run_dir / f"training_set.{fmt}", fmt) for fmt in ex_cfg["formats"]]
    run.timings["export_seconds"] = time.perf_counter() - t0

    if tr_cfg["name"] != "none":
        t0 = time.perf_counter()
        run.phase("training end model")
        metrics.update(_train_end_model(frame, tr_cfg, lm_cfg["seed"], classes, train_idx, n_votes, probs,
                                        test, gold, holdout, run.run_dir))  # fmt: skip
        run.timings["train_seconds"] = time.perf_counter() - t0

    run.timings["wall_seconds"] = time.perf_counter() - run.t_run
    metrics.update(run.timings)
    _complete(
        run, dict(versions), summary, metrics,
        {
            "label_model": {"name": lm_cfg["name"], "seed": lm_cfg["seed"], "params": lm_cfg["params"]},
            "label_type": run.cfg["labels"]["type"],
            "classes": classes,
            "counts": {
                "training_examples": training.height,
                **{key: v for key, v in metrics.items() if key.startswith("n_") or key.endswith("_examples") or "_rows" in key},
            },
        },
    )  # fmt: skip
    _report(run.say, summary, metrics, lm_cfg["name"], run.run_dir)
    write_run_report(run.store, run.run_id, run.run_dir, run.sync.ex_keys, gold, ex_cfg["report"], run.say)
    return metrics, summary, exports


def finish_universal(
    run: Applied, prepared: Any, lfs: Sequence[Any], settings: Any
) -> tuple[dict[str, Any], pl.DataFrame, list[Path]]:
    """A ranking or regression run after its LFs are applied (:func:`weaksup.pipeline.tasks.universal.run_universal`);
    its metrics, LF summary and written files."""
    from weaksup.pipeline.tasks.universal import run_universal

    shared = {
        "new_examples": run.sync.new,
        "changed_examples": run.sync.changed,
        "retired_examples": run.sync.retired,
        "duplicate_rows_dropped": run.loaded.duplicates_dropped,
        "lf_applications": int(sum(run.stats.applied.values())),
        "lf_errors": int(sum(run.stats.errors.values())),
    }
    t0 = time.perf_counter()
    run.phase("fitting label model")
    result = run_universal(run.store, run.run_id, prepared, run.sync.ex_keys, lfs, settings, run.run_dir)
    crash_point("run.labels_written")
    metrics = {**result.metrics, **shared, **run.timings, "universal_seconds": time.perf_counter() - t0}
    metrics["wall_seconds"] = time.perf_counter() - run.t_run
    lm = run.cfg["label_model"]
    _complete(
        run, {lf.name: lf.version for lf in lfs}, result.summary, metrics,
        {
            "label_model": {"name": f"{settings.label_type}_label_model", "seed": lm["seed"], "params": lm["params"]},
            "label_type": settings.label_type,
            "end_model": {"name": settings.end_model, "features": result.features},
            "counts": {key: v for key, v in metrics.items() if key.startswith("n_") or key.endswith("_examples")},
        },
    )  # fmt: skip
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=3, tbl_hide_dataframe_shape=True):
        run.say(f"LF summary:\n{result.summary}")
    for key, value in result.metrics.items():
        if key.startswith(("label_model_", "end_model_")) and isinstance(value, float):
            run.say(f"{key.replace('_', ' ')}: {value:.4f}")
    run.say(f"outputs: {run.run_dir}")
    write_run_report(run.store, run.run_id, run.run_dir, run.sync.ex_keys, prepared.gold, run.cfg["export"]["report"], run.say)
    return metrics, result.summary, result.files


def _complete(
    run: Applied, lf_versions: dict[str, str], summary: pl.DataFrame, metrics: dict[str, Any], manifest: dict[str, Any]
) -> None:
    """The end of every successful run: manifest, run record, then the ``LATEST`` pointer."""
    cfg = run.cfg
    write_manifest(
        run.run_dir,
        {
            "run_id": run.run_id,
            "pipeline": cfg["name"],
            "pipeline_file": str(cfg.file),
            "pipeline_hash": cfg.hash,
            "data_fingerprint": run.fingerprint,
            "store": str(run.store.path),
            "store_schema_version": SCHEMA_VERSION,
            "lf_versions": lf_versions,
            **manifest,
            "metrics": metrics,
        },
    )
    crash_point("run.exported")
    rows = [{key: _json_safe(v) for key, v in row.items()} for row in summary.to_dicts()]
    run.store.finish_run(run.run_id, "succeeded", metrics=metrics, lf_versions=lf_versions,
                         data_fingerprint=run.fingerprint, lf_summary=rows)  # fmt: skip
    crash_point("run.finished")
    point_latest(run.run_dir)
    run.board.finish("succeeded")


def _train_end_model(
    frame: pl.DataFrame,
    tr_cfg: dict[str, Any],
    seed: int,
    classes: list[str],
    train_idx: np.ndarray,
    n_votes: np.ndarray,
    probs: np.ndarray,
    test: np.ndarray,
    gold: np.ndarray,
    holdout: pl.DataFrame | None,
    run_dir: Path,
) -> dict[str, float]:
    """Fit the end model on the covered train examples' soft labels; its test and holdout accuracy."""
    from weaksup.end_models.text import SoftTextClassifier

    text_col = tr_cfg["text_column"]
    if text_col not in frame.columns:
        raise ValueError(f"trainer.text_column {text_col!r} is not in the data; columns are {frame.columns}")
    end_model = SoftTextClassifier(seed=seed, **tr_cfg["params"])
    covered = train_idx[n_votes[train_idx] > 0]
    texts = frame[text_col].cast(pl.String).fill_null("").to_numpy()
    end_model.fit(texts[covered], probs[covered])
    end_model.save(run_dir / "end_model.skops", {"classes": classes, "text_column": text_col})
    out: dict[str, float] = {}
    if test.any() and (acc := _accuracy(end_model.predict(texts[test]), gold[test])) is not None:
        out["end_model_accuracy_test"] = acc
    if holdout is not None and (acc := _accuracy(end_model.predict(holdout["text"].to_numpy()),
                                                 holdout["gold"].to_numpy())) is not None:  # fmt: skip
        out["end_model_accuracy_holdout"] = acc
    return out


def _accuracy(pred: np.ndarray, gold: np.ndarray) -> float | None:
    known = gold >= 0
    return float((pred[known] == gold[known]).mean()) if known.any() else None


def _json_safe(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _subset(votes: Any, rows: np.ndarray) -> Any:
    """The votes of some rows (given in ascending order), renumbered 0..len(rows)-1."""
    pos = np.full(votes.n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    keep = pos[votes.rows] >= 0
    return type(votes)(pos[votes.rows[keep]], votes.cols[keep], votes.labels[keep], len(rows), votes.m, votes.lf_names)


def _report(say: Callable[[str], None], summary: pl.DataFrame, metrics: dict[str, Any], lm: str, run_dir: Path) -> None:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=3, tbl_hide_dataframe_shape=True):
        say(f"LF summary (non-test examples):\n{summary}")
    for key, value in metrics.items():
        if key.startswith("label_model_accuracy_"):
            say(f"label model ({lm}) accuracy on {key.removeprefix('label_model_accuracy_')}: {value:.3f}")
    if "end_model_accuracy_test" in metrics:
        say(f"end model test accuracy: {metrics['end_model_accuracy_test']:.3f}")
    if "end_model_accuracy_holdout" in metrics:
        say(f"end model holdout accuracy: {metrics['end_model_accuracy_holdout']:.3f}")
    say(f"outputs: {run_dir}")
