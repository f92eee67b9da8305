r"""One pipeline run: data → LFs → vote store → label model → labels → exports → end model.

A run holds the store's lock (:mod:`.lock`) from start to end, mirrors its
phase and progress to the status file (:mod:`.status`), and is recorded in the
store's ``runs`` table as ``running`` and then ``succeeded``, ``failed`` (with
the error) or ``interrupted`` (Ctrl-C or SIGTERM; a SIGKILLed run is marked
interrupted by the next run).

This module runs the steps up to the votes: loading the data and the LFs, syncing
the examples and applying the LFs.  With ``[data] stream = true`` the source is read,
prepared and synced batch by batch, and the LFs read the examples back from the store
(:mod:`.streamed`).  What follows (label model, labels, exports, end model, the run's
record and console report) is in :mod:`.finish`.

Runs are incremental through the store (see :mod:`weaksup.store`):

- examples are synced by id and content: new and changed ones get new keys,
  deleted and superseded ones are retired;
- each LF version is applied only above its watermark, so unchanged LFs see
  only new or changed examples and a new or edited LF sees all of them;
- the label matrix is read for the current LF versions and live examples only,
  so removed LFs' and retired examples' votes are never mixed in;
- the label model is refit on the whole matrix and every live example is
  relabeled, so an incremental run's labels equal a from-scratch run's.

Every label type (``labels.type``) takes the same path: what differs (shaping the
examples, the label model, the training set, the end model) is asked of the run's task
(:mod:`weaksup.pipeline.tasks`).

Exports go to ``<export.dir>/run-NNNN/`` (see :mod:`.outputs`).  Outputs of
failed and interrupted runs (labels, partial folders) are removed.  A run writes only into an
export dir and a run folder that are its store's and pipeline's (:mod:`.owner`): it refuses,
before any work, an export dir another store or pipeline owns, and a run folder it did not make.

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
>>> run_pipeline(d / "p.toml", progress=False, say=lambda s: None).metrics["unchanged_since_run"]  # nothing new
1
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup import batches
from weaksup.apply.checks import check_error_rates
from weaksup.apply.chunks import prepare_lfs
from weaksup.apply.kinds import RunResource, kinds_of
from weaksup.apply.reapply import reapply_failed
from weaksup.apply.store_applier import apply_to_store
from weaksup.data import ID
from weaksup.deprecated import alias_warning
from weaksup.engines import make_engine
from weaksup.examples import ExampleSource
from weaksup.pipeline.answers import Answers, load_answers
from weaksup.pipeline.config import PipelineConfig, load_config
from weaksup.pipeline.earlier import data_fingerprint, refuse_recorded_errors, skip, unchanged_since
from weaksup.pipeline.outputs import remove_run_folder
from weaksup.pipeline.owner import Owner, run_folder
from weaksup.pipeline.finish import Applied, finish
from weaksup.pipeline.lock import store_lock
from weaksup.pipeline.progress import ApplyProgress, Phases
from weaksup.pipeline.shield import StopShield
from weaksup.pipeline.sources import Examples, load_examples, load_holdout, load_lf_modules
from weaksup.pipeline.status import StatusBoard, snapshot_history
from weaksup.pipeline.streamed import StreamedSource
from weaksup.pipeline.tasks import InMemoryPrepared, Prepared, Task, task_for
from weaksup.pipeline.tasks.features import refuse_features_read
from weaksup.store import SyncResult, VoteStore, crash_point


@dataclass
class RunResult:
    """What a run produced: its id, metrics, LF summary and output folder."""

    run_id: int
    metrics: dict[str, Any]
    summary: pl.DataFrame
    run_dir: Path
    exports: list[Path] = field(default_factory=list)
    stop_asked: str | None = None
    """A Ctrl-C or SIGTERM (its name) that arrived after the run was recorded as succeeded: the
    run completed; a loop of runs (``weaksup schedule``) stops after it."""


def run_pipeline(
    config: str | Path | PipelineConfig,
    *,
    store_path: str | Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
    wait: bool = True,
    force: bool = False,
    reapply_failed: bool = False,
    retry_failed: bool | None = None,
    end_model: Any = None,
) -> RunResult:
    """Run the pipeline once; raises on failure after recording it in the store.

    ``end_model``: a scikit-learn classifier (or a Pipeline ending in one) to train on the soft
    labels instead of ``trainer.name``'s (categorical pipelines; its description joins the
    pipeline's hash, so a run with another estimator is never skipped as unchanged).

    If another process holds the store, wait for it (``wait=True``, saying so)
    or raise :class:`~weaksup.pipeline.lock.StoreBusy`.  When nothing changed since the
    pipeline's last succeeded run (the same examples, gold, LF versions, votes and settings), the
    run is recorded as ``skipped`` and that run's outputs stand, unless ``force``.
    ``reapply_failed`` asks each LF again on the examples it failed on (:mod:`weaksup.apply.reapply`;
    ``retry_failed`` is its deprecated name).
    """
    if retry_failed is not None:
        alias_warning("run_pipeline(retry_failed=...)", "run_pipeline(reapply_failed=...)")
        reapply_failed = retry_failed
    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    if end_model is not None:
        if cfg.settings.data.stream:
            raise ValueError("run_pipeline(end_model=...) trains in memory; a pipeline with data.stream = true trains none")
        described = hashlib.sha256(f"{cfg.hash} {end_model!r}".encode()).hexdigest()[:12]
        cfg = dataclasses.replace(cfg, hash=described)
    store_file = Path(store_path) if store_path else cfg.resolve(cfg.settings.store)
    root = cfg.resolve(cfg.settings.export.dir)
    shield = StopShield()
    with _released(shield), store_lock(store_file, f"weaksup run {cfg.file}", wait=wait, say=say), \
            VoteStore(store_file) as store:  # fmt: skip
        owner = Owner.of(store, cfg.settings.name)
        owner.check_root(root)  # another store's or pipeline's export dir: refused before any work
        store.runs.mark_dead()  # a run still `running` died (this process holds the lock): its leftovers go now
        _remove_folders(root, store.runs.discard_unfinished(), owner)
        run_id = store.runs.start(cfg.settings.name, cfg.values, cfg.hash)
        run_dir = run_folder(root, run_id)
        store.runs.set_export_dir(run_id, run_dir.name)
        board = StatusBoard(store_file, run_id, cfg.settings.name)
        snapshot_history(store)
        crash_point("run.started")
        phase = Phases(board, progress)
        try:
            owner.check_free(run_dir)  # a folder this run did not make is never written into
            result = _run(cfg, store, owner, shield, run_id, run_dir, phase, progress, phase.say(say), force,
                          reapply_failed, end_model)  # fmt: skip
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            error = "interrupted (Ctrl-C or SIGTERM)" if status == "interrupted" else f"{type(exc).__name__}: {exc}"
            store.runs.finish(run_id, status, error=error)
            _remove_folders(root, store.runs.discard_unfinished(), owner)
            board.finish(status, error)
            raise
        finally:
            phase.close()
            snapshot_history(store)
    if shield.asked:
        say(f"{shield.asked[0]} came after run {result.run_id} was recorded as succeeded: the run completed")
        result.stop_asked = shield.asked[0]
    return result


@contextmanager
def _released(shield: StopShield) -> Iterator[None]:
    """Release ``shield`` when the block ends (after the store is closed and its lock let go)."""
    try:
        yield
    finally:
        shield.release()


def dry_run_pipeline(
    config: str | Path | PipelineConfig,
    *,
    store_path: str | Path | None = None,
    say: Callable[[str], None] = print,
) -> Any:
    """Count the prompts a run's prompted LFs would send after cache hits, and estimate their
    tokens: nothing is sent and nothing is written.  Returns the report (``None`` when the
    pipeline has no prompted LF)."""
    from weaksup.llm.dry_run import dry_run, prompted_lfs

    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    got = _load(cfg, stream=False)  # counting prompts needs the examples in memory
    prompted = prompted_lfs(got.lfs)
    if not prompted:
        say(f"{cfg.file}: no prompted LFs, so a run sends no LLM requests")
        return None
    assert got.prepared is not None
    frame = got.prepared.examples.select(ID, *got.prepared.inputs)
    store_file = Path(store_path) if store_path else cfg.resolve(cfg.settings.store)
    if store_file.exists():
        with store_lock(store_file, f"weaksup run --dry-run {cfg.file}", wait=True, say=say), \
                VoteStore(store_file, read_only=True) as store:  # fmt: skip
            report = dry_run(prompted, frame, store)
    else:
        report = dry_run(prompted, frame, None)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=40, tbl_hide_dataframe_shape=True):
        say(str(report))
    return report


def _remove_folders(root: Path, folders: Sequence[tuple[int, str]], owner: Owner) -> None:
    for run_id, folder in folders:
        remove_run_folder(root, folder, owner, run_id)


def _lf_warnings(
    store: VoteStore, run_id: int, applied: dict[str, int], planned: dict[str, int], pipeline: Path
) -> list[str]:
    """One line per LF that raised in this run (how often, its first error) or stopped before the
    examples it had to see (a budget or a lasting server fault): a run never hides them."""
    lines = []
    for name, e in store.votes.first_errors(run_id).items():
        lines.append(
            f"warning: LF {name!r} raised on {e['count']:,} examples (each counted as an abstain); first on example "
            f"{e['example_id']!r}: {error_text(e['error_type'], e['message'])}; list them with "
            f"`weaksup lfs {pipeline} --errors`"
        )
    for name, todo in planned.items():
        if applied.get(name, 0) < todo:
            lines.append(
                f"warning: LF {name!r} stopped after {applied.get(name, 0):,} of the {todo:,} examples it had to see "
                "(an LLM budget, or server faults that outlasted their retries); the next run carries on from there"
            )
    return lines


def error_text(error_type: str, message: str) -> str:
    """An LF error as one text: its message when it already starts with its type (Python's own
    ``ValueError: ...``, or ``module.Error: ...``), else the type and the message."""
    head = message.split(":", 1)[0]
    return message if head == error_type or head.endswith("." + error_type) else f"{error_type}: {message}"


@dataclass
class _Inputs:
    """What a run reads before it touches the store: the examples in memory, or a streamed source."""

    loaded: Examples  # the examples as loaded (holdout rows left out), with what loading dropped
    task: Task
    prepared: InMemoryPrepared | None  # the examples to label (gold split off), their gold and the holdout
    lfs: list[LabelingFunctionLike]  # the LFs of the run's label type
    stream: StreamedSource | None = None  # [data] stream: read and prepared batch by batch while syncing
    answers: Answers | None = None  # [answers]: recorded answers, whose workers are among the LFs

    def sync(self, store: VoteStore, dataset: str, run_id: int) -> tuple[SyncResult, Prepared, ExampleSource]:
        """Sync the examples; the live keys, the prepared examples aligned with them, and what LFs read
        (the same source for a first application and for re-applying failed examples)."""
        if self.stream is not None:
            sync, streamed = self.stream.sync(store, dataset, run_id)
            self.loaded = self.stream.loaded()
            return sync, streamed, self.stream.source(store, dataset)
        assert self.prepared is not None
        prepared = self.prepared
        sync = store.examples.sync(dataset, prepared.examples, run_id, prepared.inputs)
        return sync, prepared, prepared.source(sync.ex_keys)


def _load(cfg: PipelineConfig, stream: bool | None = None, end_model: Any = None) -> _Inputs:
    """The examples (holdout left out) shaped by the run's task, and the task's LFs; with
    ``data.stream`` (or ``stream``), a source that the sync reads batch by batch instead."""
    settings = cfg.settings
    holdout = load_holdout(settings.holdout, cfg.file.parent) if settings.holdout else None
    task = task_for(settings, end_model)
    coded = load_lf_modules(settings.lfs.modules, base=cfg.file.parent) if settings.lfs.modules else []
    answers = load_answers(settings.answers, settings.labels, cfg.file.parent) if settings.answers else None
    lfs = task.select_lfs(prepare_lfs([*coded, *(answers.lfs if answers else [])]))
    if settings.data.stream if stream is None else stream:
        streamed = StreamedSource(settings, cfg.file.parent, task, holdout)
        return _Inputs(Examples(pl.DataFrame(), 0, 0), task, None, lfs, streamed)
    if answers is not None and settings.data.source is None:
        loaded = answers.examples()  # the answered items are the examples
    else:
        match_column = settings.holdout.match_column if settings.holdout else "text"
        loaded = load_examples(settings.data, holdout, cfg.file.parent, match_column)
        loaded = answers.join(loaded) if answers is not None else loaded
    prepared = task.prepare(loaded.frame, holdout)
    trains = settings.trainer.name != "none" or end_model is not None
    refuse_features_read(lfs, prepared.examples, settings.trainer, trains)  # before any LF runs on the data
    return _Inputs(loaded, task, prepared, lfs, answers=answers)


def _run(
    cfg: PipelineConfig,
    store: VoteStore,
    owner: Owner,
    shield: StopShield,
    run_id: int,
    run_dir: Path,
    phase: Phases,
    progress: bool,
    say: Callable[[str], None],
    force: bool,
    reapply_errors: bool,
    end_model: Any = None,
) -> RunResult:
    settings = cfg.settings
    dataset = settings.name
    timings: dict[str, Any] = {}
    t_run = t0 = time.perf_counter()

    phase("loading data")
    got = _load(cfg, end_model=end_model)
    lfs = got.lfs
    timings["load_seconds"] = time.perf_counter() - t0
    if got.answers is not None:
        say(got.answers.describe(got.loaded.frame))

    t0 = time.perf_counter()
    phase("syncing examples")
    sync, prepared, examples = got.sync(store, dataset, run_id)
    loaded = got.loaded
    fingerprint = data_fingerprint(store.examples.fingerprint(dataset), prepared.gold_digest(sync.ex_keys))
    timings["sync_seconds"] = time.perf_counter() - t0
    notes = [f"{loaded.duplicates_dropped} duplicate rows dropped"] if loaded.duplicates_dropped else []
    notes += [f"{loaded.held_out} rows matching the holdout left out"] if loaded.held_out else []
    say(
        f"run {run_id}: {prepared.n} examples ({sync.new} new, {sync.changed} changed, "
        f"{sync.retired} retired, {sync.unchanged} unchanged), {len(lfs)} LFs"
        + (f"; {', '.join(notes)}" if notes else "")
    )
    crash_point("run.synced")

    t0 = time.perf_counter()
    versions = [(lf.name, lf.version) for lf in lfs]
    if settings.lfs.strict and not reapply_errors:  # before any work: errors earlier runs recorded count too
        refuse_recorded_errors(store, dataset, lfs, cfg.file)
    tracker = ApplyProgress(sync.ex_keys, dict(zip(versions, store.votes.watermarks(dataset, versions))), phase.board)
    phase("applying LFs", done=0, total=tracker.total)
    store.votes.on_commit = tracker
    state: dict[str, Any] = {}  # per-run state of LF kinds: one LLM session and budget for the run
    opened: list[RunResource] = [r for kind in kinds_of(lfs) if (r := kind.open_run(state, cfg.values)) is not None]
    try:
        stats = apply_to_store(  # LFs see the inputs only: never the gold labels or the split
            store, dataset, lfs, examples,
            cardinality=len(settings.labels.classes), run_id=run_id, strict=settings.lfs.strict, progress=progress,
            chunk_size=settings.lfs.chunk_size or (batches.SOURCE_BATCH_ROWS if got.stream else None), state=state,
            engine=make_engine(dataclasses.asdict(settings.engine) if settings.engine else None),
            classes=settings.labels.classes,
        )  # fmt: skip
        if reapply_errors:
            again = reapply_failed(store, dataset, lfs, examples, cardinality=len(settings.labels.classes),
                                   run_id=run_id, state=state, classes=settings.labels.classes)  # fmt: skip
            for name, n in again.asked.items():
                say(f"re-applied LF {name!r} to the {n:,} examples it had failed on: {n - again.still_failing[name]:,} "
                    f"now answered, {again.still_failing[name]:,} failed again")  # fmt: skip
            stats.applied.update({name: stats.applied.get(name, 0) + n for name, n in again.asked.items()})
            if settings.lfs.strict:
                refuse_recorded_errors(store, dataset, lfs, cfg.file)
    finally:
        store.votes.on_commit = None
    for resource in opened:  # e.g. the LLM session's requests, cache hits, tokens, failures: never the key
        timings[resource.metrics_key] = resource.summary()
    timings["apply_seconds"] = time.perf_counter() - t0
    done = {name: n for name, n in stats.applied.items() if n}
    say(
        f"applied LFs {sum(done.values()):,} times"
        + (f" ({', '.join(f'{name} {n:,}' for name, n in done.items())})" if 0 < len(done) <= 3 else
           f" ({len(done)} LFs)" if done else " (every LF version had seen every example)")
    )
    for line in _lf_warnings(store, run_id, stats.applied, tracker.planned(), cfg.file):
        say(line)
    if settings.lfs.max_error_rate is not None:  # votes are committed: failing here loses none
        check_error_rates(stats.applied, stats.errors, settings.lfs.max_error_rate, store.votes.first_errors(run_id))
    root = run_dir.parent
    same = None if force or any(stats.applied.values()) else unchanged_since(store, cfg, fingerprint, versions, root, owner)
    if same is not None:
        counts = {"n_examples": prepared.n, "new_examples": 0, "changed_examples": 0,
                  "retired_examples": 0, "lf_applications": 0, "lf_errors": int(sum(stats.errors.values()))}  # fmt: skip
        metrics, summary, reused = skip(store, run_id, same, {**counts, **timings}, t_run, phase.board, say, root,
                                        settings.export)  # fmt: skip
        return RunResult(run_id, metrics, summary, reused)
    applied = Applied(cfg, store, owner, shield, run_id, run_dir, phase, phase.board, say, loaded, sync, stats,
                      fingerprint, timings, t_run)  # fmt: skip
    metrics, summary, files = finish(applied, got.task, prepared, lfs)
    return RunResult(run_id, metrics, summary, run_dir, files)
