"""One pipeline run: data → LFs → vote store → label model → labels → end model → exports.

Runs are incremental through the store (see :mod:`weaksup.store`): each LF
version is applied only to examples it has not seen.  Each run writes under
``<export.dir>/run-NNNN/`` its training set(s), the label model, the end model
and a ``manifest.json``; ``<export.dir>/LATEST`` then names the newest complete
run (replaced atomically).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from weaksup.analysis import lf_summary
from weaksup.apply import apply_to_store, prepare_lfs
from weaksup.data import ID, load_dataset
from weaksup.export import soft_label_frame, write_table
from weaksup.model import make_label_model
from weaksup.pipeline.config import PipelineConfig, load_config
from weaksup.store import VoteStore
from weaksup.trainer import SoftTextClassifier


@dataclass
class RunResult:
    """What a run produced: its id, metrics, LF summary and output folder."""

    run_id: int
    metrics: dict[str, Any]
    summary: pl.DataFrame
    run_dir: Path
    exports: list[Path] = field(default_factory=list)


def load_lf_modules(paths: Sequence[Path]) -> list[Any]:
    """Import LF files and collect their module-level LFs, in definition order."""
    found: list[Any] = []
    for path in paths:
        name = f"weaksup_lfs_{abs(hash(str(path.resolve()))):x}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot import LF module {str(path)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        lfs = [v for v in vars(module).values() if _is_lf(v)]
        if not lfs:
            raise ValueError(f"LF module {str(path)!r} defines no labeling functions (use @labeling_function)")
        found.extend(lfs)
    return prepare_lfs(found)


def _is_lf(value: Any) -> bool:
    """weaksup LFs of any kind, and Snorkel LFs (which have a wrapped ``_f``)."""
    if isinstance(value, type):
        return False
    return (hasattr(value, "kind") and hasattr(value, "version")) or (
        hasattr(value, "_f") and hasattr(value, "_resources") and hasattr(value, "name")
    )


def run_pipeline(
    config: str | Path | PipelineConfig,
    *,
    store_path: str | Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> RunResult:
    """Run the pipeline once; raises on failure after recording it in the store."""
    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    data, labels = cfg["data"], cfg["labels"]
    classes: list[str] = list(labels["classes"])
    k = len(classes)
    frame = load_dataset(data["source"], id_column=data["id_column"], base_dir=cfg.file.parent)
    lfs = load_lf_modules([cfg.resolve(m) for m in cfg["lfs"]["modules"]])
    split_col, gold_col = data["split_column"], data["gold_column"]
    splits = frame[split_col] if split_col in frame.columns else pl.repeat(data["train_split"], frame.height, eager=True)
    gold = _gold(frame, gold_col, k)
    meta_cols = {ID, split_col, gold_col}
    inputs = [c for c in frame.columns if c not in meta_cols]

    store_file = Path(store_path) if store_path else cfg.resolve(cfg["store"])
    with VoteStore(store_file) as store:
        run_id = store.start_run(cfg["name"], cfg.values, cfg.hash)
        try:
            result = _run(cfg, store, run_id, frame, splits, gold, inputs, lfs, classes, progress, say)
        except KeyboardInterrupt:
            store.finish_run(run_id, "interrupted", error="interrupted by the user (Ctrl-C)")
            raise
        except BaseException as exc:
            store.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
    return result


def _gold(frame: pl.DataFrame, column: str, k: int) -> np.ndarray:
    """Gold class ids, -1 where unknown."""
    if column not in frame.columns:
        return np.full(frame.height, -1)
    gold = frame[column].cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
    bad = (gold < -1) | (gold >= k)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"gold column {column!r} holds {gold[row]} for example {frame[ID][row]!r}, outside 0..{k - 1}"
        )
    return gold


def _accuracy(pred: np.ndarray, gold: np.ndarray, mask: np.ndarray) -> float | None:
    sel = mask & (gold >= 0)
    return float((pred[sel] == gold[sel]).mean()) if sel.any() else None


def _run(
    cfg: PipelineConfig,
    store: VoteStore,
    run_id: int,
    frame: pl.DataFrame,
    splits: pl.Series,
    gold: np.ndarray,
    inputs: list[str],
    lfs: list[Any],
    classes: list[str],
    progress: bool,
    say: Callable[[str], None],
) -> RunResult:
    data, lm_cfg, tr_cfg, ex_cfg = cfg["data"], cfg["label_model"], cfg["trainer"], cfg["export"]
    k = len(classes)
    dataset = cfg["name"]
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    sync = store.sync_examples(dataset, frame.with_columns(splits.alias("split")), run_id, inputs)
    say(
        f"run {run_id}: {frame.height} examples ({sync.new} new, {sync.changed} changed, "
        f"{sync.retired} retired, {sync.unchanged} unchanged), {len(lfs)} LFs"
    )
    stats = apply_to_store(
        store, dataset, lfs, frame, sync.ex_keys,
        cardinality=k, run_id=run_id, strict=cfg["lfs"]["strict"], progress=progress,
    )  # fmt: skip
    timings["apply_seconds"] = time.perf_counter() - t0
    versions = [(lf.name, lf.version) for lf in lfs]
    votes = store.label_matrix(sync.ex_keys, versions)

    split_arr = splits.to_numpy()
    train = split_arr == data["train_split"]
    test = split_arr == data["test_split"]
    if not train.any():
        raise ValueError(
            f"no examples in train split {data['train_split']!r}; splits present: {sorted(set(split_arr.tolist()))}"
        )
    train_idx = np.flatnonzero(train)
    train_votes = _subset(votes, train_idx)

    t0 = time.perf_counter()
    model = make_label_model(lm_cfg["name"], cardinality=k, seed=lm_cfg["seed"], **lm_cfg["params"])
    model.fit(train_votes)
    probs = model.predict_proba(votes)
    pred = model.predict(votes)
    timings["label_model_seconds"] = time.perf_counter() - t0
    n_votes = np.bincount(votes.rows, minlength=votes.n)

    dev = ~test
    summary = lf_summary(_subset(votes, np.flatnonzero(dev)), np.where(gold[dev] >= 0, gold[dev], -1),
                         learned_acc=getattr(model, "accuracies_", None))  # fmt: skip
    metrics: dict[str, Any] = {
        "n_examples": frame.height,
        "n_train": int(train.sum()),
        "new_examples": sync.new,
        "changed_examples": sync.changed,
        "retired_examples": sync.retired,
        "lf_applications": int(sum(stats.applied.values())),
        "lf_errors": int(sum(stats.errors.values())),
        "train_coverage": float((n_votes[train] > 0).mean()),
        **timings,
    }
    for split in sorted(set(split_arr.tolist()) - {data["train_split"]}):
        acc = _accuracy(pred, gold, split_arr == split)
        if acc is not None:
            metrics[f"label_model_accuracy_{split}"] = acc

    store.write_labels(
        run_id,
        pl.DataFrame(
            {
                "ex_key": sync.ex_keys,
                "probs": probs,
                "label": pred.astype(np.int32),
                "confidence": probs.max(axis=1),
                "n_votes": n_votes.astype(np.int32),
            }
        ),
    )

    run_dir = cfg.resolve(ex_cfg["dir"]) / f"run-{run_id:04d}"
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "label_model.json")
    training = soft_label_frame(
        frame.select(ID, *inputs)[train_idx], probs[train_idx], n_votes[train_idx], classes,
        keep_uncovered=ex_cfg["keep_uncovered"],
    )  # fmt: skip
    exports = [write_table(training, run_dir / f"training_set.{fmt}", fmt) for fmt in ex_cfg["formats"]]

    if tr_cfg["name"] != "none":
        t0 = time.perf_counter()
        text_col = tr_cfg["text_column"]
        if text_col not in frame.columns:
            raise ValueError(f"trainer.text_column {text_col!r} is not in the data; columns are {frame.columns}")
        end_model = SoftTextClassifier(seed=lm_cfg["seed"], **tr_cfg["params"])
        covered = train_idx[n_votes[train_idx] > 0]
        texts = frame[text_col].cast(pl.String).fill_null("").to_numpy()
        end_model.fit(texts[covered], probs[covered])
        end_model.save(run_dir / "end_model.skops", {"classes": classes, "text_column": text_col})
        timings["train_seconds"] = time.perf_counter() - t0
        metrics["train_seconds"] = timings["train_seconds"]
        if test.any():
            acc = _accuracy(end_model.predict(texts[test]), gold[test], np.ones(int(test.sum()), bool))
            if acc is not None:
                metrics["end_model_accuracy_test"] = acc

    lf_versions = dict(versions)
    manifest = {
        "run_id": run_id,
        "pipeline": cfg["name"],
        "pipeline_hash": cfg.hash,
        "data_fingerprint": _fingerprint(store, dataset),
        "lf_versions": lf_versions,
        "label_model": {"name": lm_cfg["name"], "seed": lm_cfg["seed"], "params": lm_cfg["params"]},
        "classes": classes,
        "counts": {"training_examples": training.height, **{k: v for k, v in metrics.items() if k.startswith("n_")}},
        "metrics": metrics,
        "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")),
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    _point_latest(run_dir)
    store.finish_run(run_id, "succeeded", metrics=metrics, lf_versions=lf_versions)
    _report(say, summary, metrics, lm_cfg["name"], run_dir)
    return RunResult(run_id, metrics, summary, run_dir, exports)


def _subset(votes: Any, rows: np.ndarray) -> Any:
    """The votes of some rows (given in ascending order), renumbered 0..len(rows)-1."""
    pos = np.full(votes.n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    keep = pos[votes.rows] >= 0
    return type(votes)(pos[votes.rows[keep]], votes.cols[keep], votes.labels[keep], len(rows), votes.m, votes.lf_names)


def _fingerprint(store: VoteStore, dataset: str) -> str:
    """A hash of the live examples' ids and content hashes."""
    row = store.con.execute(
        "SELECT md5(string_agg(example_id || ':' || content_hash, ',' ORDER BY example_id)) FROM examples "
        "WHERE dataset = ? AND retired_run IS NULL",
        [dataset],
    ).fetchall()[0]
    return str(row[0])[:16]


def _point_latest(run_dir: Path) -> None:
    """Atomically make ``LATEST`` name this run's folder."""
    tmp = run_dir.parent / ".LATEST.tmp"
    tmp.write_text(run_dir.name + "\n")
    os.replace(tmp, run_dir.parent / "LATEST")


def _report(say: Callable[[str], None], summary: pl.DataFrame, metrics: dict[str, Any], lm: str, run_dir: Path) -> None:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=3, tbl_hide_dataframe_shape=True):
        say(f"LF summary (non-test examples):\n{summary}")
    for key, value in metrics.items():
        if key.startswith("label_model_accuracy_"):
            say(f"label model ({lm}) accuracy on {key.removeprefix('label_model_accuracy_')}: {value:.3f}")
    if "end_model_accuracy_test" in metrics:
        say(f"end model test accuracy: {metrics['end_model_accuracy_test']:.3f}")
    say(f"outputs: {run_dir}")
