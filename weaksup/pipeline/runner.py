r"""One pipeline run: data → LFs → vote store → label model → labels → exports → end model.

A run holds the store's lock (:mod:`.lock`) from start to end, mirrors its
phase and progress to the status file (:mod:`.status`), and is recorded in the
store's ``runs`` table as ``running`` and then ``succeeded``, ``failed`` (with
the error) or ``interrupted`` (Ctrl-C or SIGTERM; a SIGKILLed run is marked
interrupted by the next run).

This module runs the steps up to the votes: loading the data and the LFs, syncing
the examples and applying the LFs.  What follows (label model, labels, exports, end
model, the run's record and console report) is in :mod:`.finish`.

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
application and continue in :mod:`weaksup.pipeline.tasks.universal` (label model, labels,
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

from weaksup.apply import apply_to_store, prepare_lfs
from weaksup.data import ID
from weaksup.engines import make_engine
from weaksup.pipeline.config import PipelineConfig, load_config
from weaksup.pipeline.outputs import run_folder
from weaksup.pipeline.finish import Applied, finish_categorical, finish_universal
from weaksup.pipeline.lock import store_lock
from weaksup.pipeline.sources import load_examples, load_holdout
from weaksup.pipeline.status import StatusBoard, snapshot_history
from weaksup.store import VoteStore, crash_point


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
    if cfg["labels"]["type"] != "categorical":  # rankings, real values: see weaksup.pipeline.tasks.universal
        from weaksup.pipeline.tasks.prepare import (
            UniversalSettings,
            prepare_examples,
            select_lfs,
        )

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
    k = len(cfg["labels"]["classes"])
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
            engine=make_engine(cfg["engine"]),
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
    applied = Applied(cfg, store, run_id, run_dir, phase, phase.board, say, loaded, sync, stats, fingerprint, timings, t_run)
    if universal is not None:
        metrics, summary, files = finish_universal(applied, universal, lfs, settings)
    else:
        metrics, summary, files = finish_categorical(applied, frame, holdout, splits, gold, versions)
    return RunResult(run_id, metrics, summary, run_dir, files)


def _fingerprint(store: VoteStore, dataset: str) -> str:
    """A hash of the live examples' ids and content hashes."""
    row = store.con.execute(
        "SELECT md5(string_agg(example_id || ':' || content_hash, ',' ORDER BY example_id)) FROM examples "
        "WHERE dataset = ? AND retired_run IS NULL",
        [dataset],
    ).fetchall()[0]
    return str(row[0])[:16]
