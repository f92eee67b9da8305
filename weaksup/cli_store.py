"""The ``weaksup`` commands that read or tidy a store: ``status``, ``history``, ``lfs``, ``export``,
``diff``, ``report``, ``gc``, ``predict`` and ``schema`` (:mod:`weaksup.cli` parses and dispatches).

Each takes a pipeline file or the store file itself.  ``status`` and ``history`` read the files a
run keeps beside the store, so they work while a run holds it; the others wait for the store (or
exit with ``--no-wait``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from weaksup.store import VoteStore

TABLE = dict(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60, float_precision=3,
              tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True)  # fmt: skip


def store_of(target: Path, store: Path | None = None) -> Path:
    """The store a command works on: ``--store``, the pipeline's ``store``, or ``target`` itself."""
    if store is not None:
        return store
    if target.suffix == ".toml":
        from weaksup.pipeline.config import store_of

        return store_of(target)
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist: give a pipeline file (.toml) or a store file")
    return target


@contextmanager
def open_store(args: argparse.Namespace, command: str) -> Iterator[VoteStore]:
    """Lock and open the store of ``args.target`` for the ``with`` block."""
    from weaksup.pipeline.lock import store_lock
    from weaksup.store import StoreError, VoteStore

    path = store_of(args.target, args.store)
    if not path.exists():
        raise StoreError(f"store {str(path)!r} does not exist; run a pipeline first to create it")
    with store_lock(path, command, wait=not args.no_wait, say=lambda s: print(s, file=sys.stderr)), VoteStore(path) as store:
        yield store



def status_command(args: argparse.Namespace) -> None:
    """``weaksup status``: the running run's phase and progress, or the last run; then the last finished one."""
    from weaksup.pipeline.settle import settle_dead_run
    from weaksup.pipeline.status import format_status

    path = store_of(args.target, args.store)
    _ensure_history(path)
    settle_dead_run(path)
    print(format_status(path, _pipeline_of(args.target)))


def history_command(args: argparse.Namespace) -> None:
    """``weaksup history``: every run, as a table or JSON."""
    from weaksup.pipeline.settle import settle_dead_run
    from weaksup.pipeline.status import history_frame, read_history

    path = store_of(args.target, args.store)
    _ensure_history(path)
    settle_dead_run(path)
    runs = read_history(path, _pipeline_of(args.target))
    runs = runs[-args.limit :] if args.limit else runs
    if args.json:
        print(json.dumps(runs, indent=1, default=str))
    elif not runs:
        print(f"store {path}: no runs yet")
    else:
        with pl.Config(**TABLE):
            print(history_frame(runs))


def _pipeline_of(target: Path) -> str | None:
    """The pipeline whose runs ``status`` and ``history`` show: the pipeline file's (a store file: every run)."""
    if target.suffix != ".toml":
        return None
    from weaksup.pipeline.config import name_of

    return name_of(target)


def _ensure_history(path: Path) -> None:
    """Write the history file of a store that has none yet (e.g. one made before it existed)."""
    from weaksup.pipeline.lock import StoreBusy, store_lock
    from weaksup.pipeline.status import history_path, snapshot_history
    from weaksup.store import VoteStore

    if history_path(path).exists() or not path.exists():
        return
    try:
        with store_lock(path, "weaksup history", wait=False), VoteStore(path, read_only=True) as store:
            snapshot_history(store)
    except StoreBusy:
        pass  # the run holding it writes the file itself


def lfs_command(args: argparse.Namespace) -> None:
    """``weaksup lfs``: the last run's LF summary and every LF version; ``--errors``: what LFs raised."""
    if args.errors:
        with open_store(args, "weaksup lfs --errors") as store:
            errors = store.votes.errors(args.lf, args.limit or None)
        with pl.Config(**{**TABLE, "fmt_str_lengths": 120}):
            print(errors if errors.height else f"no LF errors{f' of LF {args.lf!r}' if args.lf else ''} in the store")
        return
    with open_store(args, "weaksup lfs") as store:
        last = store.runs.last_succeeded()
        versions = store.votes.lf_versions()
    current = last["lf_versions"] if last else {}
    with pl.Config(**TABLE):
        if last and last["lf_summary"]:
            print(f"LF summary of run {last['run_id']} (non-test examples):")
            print(pl.DataFrame(last["lf_summary"], infer_schema_length=None))
        print("LF versions (* = used by the last succeeded run):")
        print(
            versions.with_columns(
                pl.struct("lf_name", "lf_version")
                .map_elements(lambda r: "*" if current.get(r["lf_name"]) == r["lf_version"] else "", pl.String)
                .alias("current")
            )
        )


def export_command(args: argparse.Namespace) -> None:
    """``weaksup export``: run N's training set, rebuilt from the store."""
    from weaksup.export import write_batches
    from weaksup import batches
    from weaksup.pipeline.outputs import training_batches

    output = args.output or Path(f"training_set-run-{args.run:04d}.{args.format}")
    with open_store(args, "weaksup export") as store:  # batch by batch: a 10M-example run's set is never whole
        rows = write_batches(training_batches(store, args.run, batches.EXPORT_ROWS), output, args.format)[1]
    print(f"wrote run {args.run}'s {rows} training examples to {output}")


def diff_command(args: argparse.Namespace) -> None:
    """``weaksup diff``: how labels and each LF's votes changed between two runs."""
    from weaksup.pipeline.maintenance import diff_runs

    with open_store(args, "weaksup diff") as store:
        result = diff_runs(store, args.run_a, args.run_b)
    lab = result.labels
    print(
        f"labels, run {args.run_a} -> run {args.run_b}: {lab['labels_changed']} of {lab['in_both']} examples in both "
        f"changed label ({lab['content_changed']} changed content); {lab['only_in_a']} only in run {args.run_a}, "
        f"{lab['only_in_b']} only in run {args.run_b}"
    )
    print("votes per LF (compared on examples both runs labeled with the same content):")
    with pl.Config(**TABLE):
        print(result.lfs)


def report_command(args: argparse.Namespace) -> None:
    """``weaksup report``: the LF report of a run as one HTML file."""
    from weaksup.report import write_report

    root = None
    if args.target.suffix == ".toml":  # the run folders (and the gold each run saved) are under its export.dir
        from weaksup.pipeline.config import load_config

        cfg = load_config(args.target)
        root = cfg.resolve(cfg.settings.export.dir)
    with open_store(args, "weaksup report") as store:
        path = write_report(store, args.output or Path("report.html"), args.run, suspicious=not args.no_suspicious,
                            export_root=root, say=print)  # fmt: skip
    print(f"wrote {path}")


def estimate_command(args: argparse.Namespace) -> None:
    """``weaksup estimate``: class shares with plug-in, classical and PPI intervals."""
    from weaksup.estimate import run_prevalence
    from weaksup.pipeline.config import load_config

    if args.target.suffix != ".toml":
        raise ValueError(f"weaksup estimate takes a pipeline file (its classes and gold), not {str(args.target)!r}")
    cfg = load_config(args.target)
    with open_store(args, "weaksup estimate") as store:
        run_id, table, predictor, note = run_prevalence(store, cfg, args.run, args.by, args.alpha, args.predictions)
    if note:
        print(f"note: {note}")
    level = f"{1 - args.alpha:.0%}"
    source = {"end_model": "the end model's class probabilities", "label_model": "the label model's soft labels"}[predictor]
    print(f"class shares in run {run_id} ({table['n'][0]:,} examples, {table['n_gold'][0]:,} with gold; {level} "
          f"intervals; predictions: {predictor}; plug-in: the mean of {source}; classical: Agresti-Coull, from the gold "
          f"rows alone; PPI: prediction-powered, from {source} and the gold rows)")
    shown = table.select(*(["group"] if args.by else []), "class_name", "n_gold", "plug_in",
                         pl.format("{} [{}, {}]", *(pl.col(c).round(3) for c in ("classical", "classical_low", "classical_high"))).alias("classical (gold only)"),
                         pl.format("{} [{}, {}]", *(pl.col(c).round(3) for c in ("ppi", "ppi_low", "ppi_high"))).alias("PPI"))  # fmt: skip
    with pl.Config(tbl_rows=-1, fmt_str_lengths=60, tbl_hide_dataframe_shape=True, float_precision=3):
        print(shown)


def gc_command(args: argparse.Namespace) -> None:
    """``weaksup gc``: keep each pipeline's newest runs; prune what only older runs needed."""
    from weaksup.pipeline.config import load_config
    from weaksup.pipeline.maintenance import collect_garbage
    from weaksup.pipeline.status import snapshot_history

    root = None
    if args.target.suffix == ".toml":
        cfg = load_config(args.target)
        root = cfg.resolve(cfg.settings.export.dir)
    with open_store(args, "weaksup gc") as store:
        done = collect_garbage(store, args.keep, root)
        snapshot_history(store)
    if not done["runs_kept"]:
        print("no succeeded runs: nothing to prune")
        return
    left = (f" (left {done['folders_left']} this store cannot tell it made: another store's, or written before "
            "weaksup recorded folders' owners; delete those by hand)") if done["folders_left"] else ""
    print(
        f"kept runs {done['runs_kept']}; removed labels of older runs ({done['labels']:,} rows), "
        f"{done['folders_removed']} export folders{'' if root else ' (give the pipeline file to remove them)'}{left}, "
        f"{done['lf_versions']} unused LF versions "
        f"({done['lf_version_votes']:,} votes) and {done['retired_examples']:,} retired examples "
        f"({done['retired_example_votes']:,} votes)"
    )


def predict_command(args: argparse.Namespace) -> None:
    """``weaksup predict``: label a file with a run's end model (and score it with ``--score``)."""
    from weaksup.export import write_table
    from weaksup.predict import find_model, predict_file, score_predictions, trusted_types_of

    model = find_model(args.model)
    trusted = [*args.trust, *trusted_types_of(args.model)]
    out, meta, label_type = predict_file(model, args.input, text_column=args.text_column, id_column=args.id_column,
                                         trusted=trusted, score=args.score)  # fmt: skip
    if args.output:
        write_table(out.drop(args.score) if args.score else out, args.output)
        print(f"wrote {out.height} predictions by {model} to {args.output}")
    else:
        print(f"model: {model}")
        with pl.Config(tbl_rows=args.rows, fmt_str_lengths=60, tbl_hide_dataframe_shape=True, float_precision=3):
            print(out.select("example_id", *label_type.predicted_columns))
        if out.height > args.rows:
            print(f"(first {args.rows} of {out.height} rows; --output FILE writes them all, with every column predict adds)")
    if args.score:
        classes = [str(c) for c in meta.get("classes") or []]
        scores, matrix = score_predictions(out, args.score, classes)
        known = int(out[args.score].is_not_null().sum())
        print(f"scores against {args.score!r} ({known} rows with gold): accuracy {scores['accuracy']:.3f}, "
              f"macro-F1 {scores['macro_f1']:.3f}, log-loss {scores['log_loss']:.3f}")
        for c in classes:
            print(f"  {c}: precision {scores[f'precision_{c}']:.3f}, recall {scores[f'recall_{c}']:.3f}, "
                  f"F1 {scores[f'f1_{c}']:.3f}")
        print("confusion (rows: gold, columns: predicted, in class order " + ", ".join(classes) + "):")
        for c, row in zip(classes, matrix):
            print(f"  {c}: {row}")


def schema_command(args: argparse.Namespace) -> None:
    """``weaksup schema``: the pipeline file's keys, with types, defaults and meaning."""
    from weaksup.pipeline.schema_doc import schema_doc

    print(schema_doc())
