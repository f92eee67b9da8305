r"""One pipeline run: data → LFs → vote store → label model → labels → exports → end model.

A run holds the store's lock (:mod:`.lock`) from start to end, mirrors its
phase and progress to the status file (:mod:`.status`), and is recorded in the
store's ``runs`` table as ``running`` and then ``succeeded``, ``failed`` (with
the error) or ``interrupted`` (Ctrl-C or SIGTERM; a SIGKILLed run is marked
interrupted by the next run).

Runs are incremental through the store (see :mod:`weaksup.store`):

- examples are synced by id and content: new and changed ones get new keys,
  deleted and superseded ones are retired;
- each LF version is applied only above its watermark, so unchanged LFs see
  only new or changed examples and a new or edited LF sees all of them;
- the label matrix is read for the current LF versions and live examples only,
  so removed LFs' and retired examples' votes are never mixed in;
- the label model is refit on the whole matrix and every live example is
  relabeled, so an incremental run's labels equal a from-scratch run's.

Ranking and regression pipelines (``labels.type``) share the steps up to LF
application and continue in :mod:`weaksup.universal.pipeline` (label model, labels,
exports, end model, evaluation); the manifest, run record and ``LATEST`` work alike.

Exports go to ``<export.dir>/run-NNNN/`` (see :mod:`.exports`).  Outputs of
failed and interrupted runs (labels, partial folders) are removed.

>>> import tempfile, pathlib, polars as pl
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> pl.DataFrame({"id": ["a", "b", "c"], "text": ["buy now", "nice song", "buy it"]}).write_csv(d / "in.csv")
>>> _ = (d / "lfs.py").write_text(
...     "from weaksup import ABSTAIN, labeling_function\n"
...     "@labeling_function()\ndef buy(x):\n    return 1 if 'buy' in x.text else ABSTAIN\n"
...     "@labeling_function()\ndef song(x):\n    return 0 if 'song' in x.text else ABSTAIN\n")
>>> _ = (d / "p.toml").write_text(
...     'name = "demo"\n[data]\nsource = "in.csv"\nid_column = "id"\n[labels]\nclasses = ["HAM", "SPAM"]\n'
...     '[lfs]\nmodules = ["lfs.py"]\n[label_model]\nname = "majority_vote"\n[trainer]\nname = "none"\n')
>>> first = run_pipeline(d / "p.toml", progress=False, say=lambda s: None)
>>> first.run_id, first.metrics["lf_applications"], first.run_dir.name
(1, 6, 'run-0001')
>>> run_pipeline(d / "p.toml", progress=False, say=lambda s: None).metrics["lf_applications"]  # nothing new
0
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from weaksup.analysis import lf_summary
from weaksup.apply import apply_to_store, prepare_lfs
from weaksup.data import ID
from weaksup.export import write_table
from weaksup.model import make_label_model
from weaksup.pipeline.config import PipelineConfig, load_config
from weaksup.pipeline.exports import point_latest, run_folder, training_set, write_manifest
from weaksup.pipeline.lock import store_lock
from weaksup.pipeline.sources import load_examples, load_holdout
from weaksup.pipeline.status import StatusBoard, snapshot_history
from weaksup.store import VoteStore, crash_point
from weaksup.store_schema import SCHEMA_VERSION


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
    wait: bool = True,
) -> RunResult:
    """Run the pipeline once; raises on failure after recording it in the store.

    If another process holds the store, wait for it (``wait=True``, saying so)
    or raise :class:`~weaksup.pipeline.lock.StoreBusy`.
    """
    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    store_file = Path(store_path) if store_path else cfg.resolve(cfg["store"])
    with store_lock(store_file, f"weaksup run {cfg.file}", wait=wait, say=say), VoteStore(store_file) as store:
        _remove_folders(store.discard_unfinished())
        run_id = store.start_run(cfg["name"], cfg.values, cfg.hash)
        run_dir = run_folder(cfg.resolve(cfg["export"]["dir"]), run_id)
        store.set_export_dir(run_id, str(run_dir))
        board = StatusBoard(store_file, run_id, cfg["name"])
        snapshot_history(store)
        crash_point("run.started")
        phase = _Phases(board, progress)
        try:
            result = _run(cfg, store, run_id, run_dir, phase, progress, say)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            error = "interrupted (Ctrl-C or SIGTERM)" if status == "interrupted" else f"{type(exc).__name__}: {exc}"
            store.finish_run(run_id, status, error=error)
            _remove_folders(store.discard_unfinished())
            board.finish(status, error)
            raise
        finally:
            phase.bar.close()
            snapshot_history(store)
    return result


def dry_run_pipeline(
    config: str | Path | PipelineConfig,
    *,
    store_path: str | Path | None = None,
    say: Callable[[str], None] = print,
) -> Any:
    """Count the prompts a run's prompted LFs would send after cache hits, and estimate their
    tokens: nothing is sent and nothing is written.  Returns the report (``None`` when the
    pipeline has no prompted LF)."""
    from weaksup.llm import dry_run

    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    got = _load(cfg)
    prompted = [lf for lf in got.lfs if lf.kind == "prompt"]
    if not prompted:
        say(f"{cfg.file}: no prompted LFs, so a run sends no LLM requests")
        return None
    frame = got.frame.select(ID, *got.inputs)
    store_file = Path(store_path) if store_path else cfg.resolve(cfg["store"])
    if store_file.exists():
        with store_lock(store_file, f"weaksup run --dry-run {cfg.file}", wait=True, say=say), \
                VoteStore(store_file, read_only=True) as store:  # fmt: skip
            report = dry_run(prompted, frame, store)
    else:
        report = dry_run(prompted, frame, None)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=40, tbl_hide_dataframe_shape=True):
        say(str(report))
    return report


def _remove_folders(folders: Sequence[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


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


def _accuracy(pred: np.ndarray, gold: np.ndarray) -> float | None:
    known = gold >= 0
    return float((pred[known] == gold[known]).mean()) if known.any() else None


class _Phases:
    """Enters a run's phases: in the status file and, on a terminal, on a one-line progress bar
    (hidden without a TTY, as under cron, or with ``progress=False``)."""

    names = ("loading data", "syncing examples", "applying LFs", "fitting label model", "writing labels",
             "exporting", "training end model")  # fmt: skip

    def __init__(self, board: StatusBoard, progress: bool) -> None:
        self.board = board
        self.bar = tqdm(total=len(self.names), leave=False, disable=None if progress else True,
                        bar_format="{desc} ({n_fmt}/{total_fmt}, {elapsed})")  # fmt: skip

    def __call__(self, name: str, **counts: int) -> None:
        self.bar.n = self.names.index(name)
        self.bar.set_description_str(f"run {self.board.state['run_id']}: {name}")
        self.board.phase(name, **counts)


class _ApplyProgress:
    """Counts LF applications committed so far, from each commit's LF versions and key."""

    def __init__(self, keys: np.ndarray, marks: dict[tuple[str, str], int], board: StatusBoard) -> None:
        self.sorted = np.sort(keys)
        self.start = {lf: int(np.searchsorted(self.sorted, mark, side="right")) for lf, mark in marks.items()}
        self.done = dict.fromkeys(marks, 0)
        self.total = sum(len(self.sorted) - s for s in self.start.values())
        self.board = board

    def __call__(self, lfs: Sequence[tuple[str, str]], through_key: int) -> None:
        end = int(np.searchsorted(self.sorted, through_key, side="right"))
        for lf in lfs:
            self.done[tuple(lf)] = end - self.start[tuple(lf)]
        self.board.progress(sum(self.done.values()))


@dataclass
class _Inputs:
    """What a run reads before it touches the store."""

    loaded: Any  # the examples as loaded (holdout rows left out), with what loading dropped
    holdout: pl.DataFrame | None
    frame: pl.DataFrame  # the examples to label
    lfs: list[Any]
    universal: Any  # ranking and regression runs: the prepared examples, else None
    settings: Any  # ranking and regression runs: their settings, else None
    splits: pl.Series
    gold: np.ndarray
    inputs: list[str]  # the columns LFs may read


def _load(cfg: PipelineConfig) -> _Inputs:
    """The examples (holdout left out), the LFs, and for ranking and regression runs their
    prepared examples and settings; then each example's split, gold label and input columns."""
    data = cfg["data"]
    holdout = load_holdout(cfg["holdout"], cfg.file.parent) if cfg["holdout"] else None
    loaded = load_examples(
        data, holdout, cfg.file.parent, cfg["holdout"]["match_column"] if cfg["holdout"] else "text"
    )
    frame = loaded.frame
    lfs = load_lf_modules([cfg.resolve(m) for m in cfg["lfs"]["modules"]])
    split_col, gold_col = data["split_column"], data["gold_column"]
    universal = settings = None
    if cfg["labels"]["type"] != "categorical":  # rankings, real values: see weaksup.universal.pipeline
        from weaksup.universal.prepare import UniversalSettings, prepare_examples, select_lfs

        settings = UniversalSettings.from_config(cfg.values)
        universal = prepare_examples(frame, settings)  # ranking sets drawn; the gold split off
        frame, lfs = universal.examples, select_lfs(lfs, settings.label_type)
    splits = (
        frame[split_col].cast(pl.String)
        if split_col in frame.columns
        else pl.repeat(data["train_split"], frame.height, dtype=pl.String, eager=True)
    )
    gold = _gold(frame, gold_col, len(cfg["labels"]["classes"]))
    inputs = [c for c in frame.columns if c not in {ID, split_col, gold_col}]
    return _Inputs(loaded, holdout, frame, lfs, universal, settings, splits, gold, inputs)


def _run(
    cfg: PipelineConfig,
    store: VoteStore,
    run_id: int,
    run_dir: Path,
    phase: _Phases,
    progress: bool,
    say: Callable[[str], None],
) -> RunResult:
    data, lm_cfg, tr_cfg, ex_cfg = cfg["data"], cfg["label_model"], cfg["trainer"], cfg["export"]
    classes: list[str] = list(cfg["labels"]["classes"])
    k = len(classes)
    dataset = cfg["name"]
    timings: dict[str, Any] = {}
    t_run = t0 = time.perf_counter()

    phase("loading data")
    got = _load(cfg)
    loaded, holdout, frame, lfs, universal = got.loaded, got.holdout, got.frame, got.lfs, got.universal
    settings, splits, gold, inputs = got.settings, got.splits, got.gold, got.inputs
    timings["load_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    phase("syncing examples")
    sync = store.sync_examples(dataset, frame.with_columns(splits.alias("split")), run_id, inputs)
    fingerprint = _fingerprint(store, dataset)
    timings["sync_seconds"] = time.perf_counter() - t0
    notes = [f"{loaded.duplicates_dropped} duplicate rows dropped"] if loaded.duplicates_dropped else []
    notes += [f"{loaded.held_out} rows matching the holdout left out"] if loaded.held_out else []
    say(
        f"run {run_id}: {frame.height} examples ({sync.new} new, {sync.changed} changed, "
        f"{sync.retired} retired, {sync.unchanged} unchanged), {len(lfs)} LFs"
        + (f"; {', '.join(notes)}" if notes else "")
    )
    crash_point("run.synced")

    t0 = time.perf_counter()
    versions = [(lf.name, lf.version) for lf in lfs]
    tracker = _ApplyProgress(sync.ex_keys, dict(zip(versions, store.watermarks(dataset, versions))), phase.board)
    phase("applying LFs", done=0, total=tracker.total)
    store.on_commit = tracker
    state: dict[str, Any] = {}  # per-run state of LF kinds: one LLM session and budget for the run
    llm = None
    if any(lf.kind == "prompt" for lf in lfs):
        from weaksup.llm import configure

        llm = configure(state, cfg["llm"] or {})  # [llm] settings, else the environment
    try:
        stats = apply_to_store(  # LFs see the inputs only: never the gold labels or the split
            store, dataset, lfs, frame.select(ID, *inputs), sync.ex_keys, cardinality=k, run_id=run_id,
            strict=cfg["lfs"]["strict"], progress=progress, chunk_size=cfg["lfs"]["chunk_size"], state=state,
        )  # fmt: skip
    finally:
        store.on_commit = None
    if llm is not None:
        timings["llm"] = llm.summary()  # requests, cache hits, tokens, failures: never the key
    timings["apply_seconds"] = time.perf_counter() - t0
    done = {name: n for name, n in stats.applied.items() if n}
    say(
        f"applied LFs {sum(done.values()):,} times"
        + (f" ({', '.join(f'{name} {n:,}' for name, n in done.items())})" if 0 < len(done) <= 3 else
           f" ({len(done)} LFs)" if done else " (every LF version had seen every example)")
    )
    if universal is not None:
        shared = {
            "new_examples": sync.new,
            "changed_examples": sync.changed,
            "retired_examples": sync.retired,
            "duplicate_rows_dropped": loaded.duplicates_dropped,
            "lf_applications": int(sum(stats.applied.values())),
            "lf_errors": int(sum(stats.errors.values())),
        }
        return _finish_universal(cfg, store, run_id, run_dir, phase, say, universal, sync.ex_keys, lfs, settings,
                                 {**shared, **timings}, fingerprint, t_run)  # fmt: skip

    t0 = time.perf_counter()
    phase("fitting label model")
    votes = store.label_matrix(sync.ex_keys, versions)
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
    timings["label_model_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    phase("writing labels")
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
    timings["labels_seconds"] = time.perf_counter() - t0
    crash_point("run.labels_written")

    dev = ~test
    summary = lf_summary(_subset(votes, np.flatnonzero(dev)), np.where(gold[dev] >= 0, gold[dev], -1),
                         learned_acc=getattr(model, "accuracies_", None))  # fmt: skip
    metrics: dict[str, Any] = {
        "n_examples": frame.height,
        "n_train": int(train.sum()),
        "new_examples": sync.new,
        "changed_examples": sync.changed,
        "retired_examples": sync.retired,
        "duplicate_rows_dropped": loaded.duplicates_dropped,
        "held_out_rows": loaded.held_out,
        "lf_applications": int(sum(stats.applied.values())),
        "lf_errors": int(sum(stats.errors.values())),
        "train_coverage": float((n_votes[train] > 0).mean()),
    }
    for split in sorted(set(split_arr.tolist())):
        acc = _accuracy(pred[split_arr == split], gold[split_arr == split])
        if acc is not None:
            metrics[f"label_model_accuracy_{split}"] = acc

    t0 = time.perf_counter()
    phase("exporting")
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "label_model.json")
    training = training_set(store, run_id)
    exports = [write_table(training, run_dir / f"training_set.{fmt}", fmt) for fmt in ex_cfg["formats"]]
    timings["export_seconds"] = time.perf_counter() - t0

    if tr_cfg["name"] != "none":
        t0 = time.perf_counter()
        phase("training end model")
        metrics.update(_train_end_model(frame, tr_cfg, lm_cfg["seed"], classes, train_idx, n_votes, probs,
                                        test, gold, holdout, run_dir))  # fmt: skip
        timings["train_seconds"] = time.perf_counter() - t0

    timings["wall_seconds"] = time.perf_counter() - t_run
    metrics.update(timings)
    _complete(
        cfg, store, run_id, run_dir, phase, fingerprint, dict(versions), summary, metrics,
        {
            "label_model": {"name": lm_cfg["name"], "seed": lm_cfg["seed"], "params": lm_cfg["params"]},
            "label_type": cfg["labels"]["type"],
            "classes": classes,
            "counts": {
                "training_examples": training.height,
                **{key: v for key, v in metrics.items() if key.startswith("n_") or key.endswith("_examples") or "_rows" in key},
            },
        },
    )  # fmt: skip
    _report(say, summary, metrics, lm_cfg["name"], run_dir)
    return RunResult(run_id, metrics, summary, run_dir, exports)


def _complete(
    cfg: PipelineConfig,
    store: VoteStore,
    run_id: int,
    run_dir: Path,
    phase: _Phases,
    fingerprint: str,
    lf_versions: dict[str, str],
    summary: pl.DataFrame,
    metrics: dict[str, Any],
    manifest: dict[str, Any],
) -> None:
    """The end of every successful run: manifest, run record, then the ``LATEST`` pointer."""
    write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "pipeline": cfg["name"],
            "pipeline_file": str(cfg.file),
            "pipeline_hash": cfg.hash,
            "data_fingerprint": fingerprint,
            "store": str(store.path),
            "store_schema_version": SCHEMA_VERSION,
            "lf_versions": lf_versions,
            **manifest,
            "metrics": metrics,
        },
    )
    crash_point("run.exported")
    rows = [{key: _json_safe(v) for key, v in row.items()} for row in summary.to_dicts()]
    store.finish_run(run_id, "succeeded", metrics=metrics, lf_versions=lf_versions, data_fingerprint=fingerprint,
                     lf_summary=rows)  # fmt: skip
    crash_point("run.finished")
    point_latest(run_dir)
    phase.board.finish("succeeded")


def _finish_universal(
    cfg: PipelineConfig,
    store: VoteStore,
    run_id: int,
    run_dir: Path,
    phase: _Phases,
    say: Callable[[str], None],
    prepared: Any,
    ex_keys: np.ndarray,
    lfs: Sequence[Any],
    settings: Any,
    shared: dict[str, Any],
    fingerprint: str,
    t_run: float,
) -> RunResult:
    """A ranking or regression run after its LFs are applied (:func:`weaksup.universal.pipeline.run_universal`)."""
    from weaksup.universal.pipeline import run_universal

    t0 = time.perf_counter()
    phase("fitting label model")
    result = run_universal(store, run_id, prepared, ex_keys, lfs, settings, run_dir)
    crash_point("run.labels_written")
    metrics = {**result.metrics, **shared, "universal_seconds": time.perf_counter() - t0}
    metrics["wall_seconds"] = time.perf_counter() - t_run
    lm = cfg["label_model"]
    _complete(
        cfg, store, run_id, run_dir, phase, fingerprint, {lf.name: lf.version for lf in lfs}, result.summary, metrics,
        {
            "label_model": {"name": f"{settings.label_type}_label_model", "seed": lm["seed"], "params": lm["params"]},
            "label_type": settings.label_type,
            "end_model": {"name": settings.end_model, "features": result.features},
            "counts": {key: v for key, v in metrics.items() if key.startswith("n_") or key.endswith("_examples")},
        },
    )  # fmt: skip
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=3, tbl_hide_dataframe_shape=True):
        say(f"LF summary:\n{result.summary}")
    for key, value in result.metrics.items():
        if key.startswith(("label_model_", "end_model_")) and isinstance(value, float):
            say(f"{key.replace('_', ' ')}: {value:.4f}")
    say(f"outputs: {run_dir}")
    return RunResult(run_id, metrics, result.summary, run_dir, result.files)


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
    from weaksup.trainer import SoftTextClassifier

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


def _json_safe(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


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
