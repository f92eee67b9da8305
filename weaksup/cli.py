"""The ``weaksup`` command line.  ``weaksup COMMAND --help`` documents each command.

A failed command prints one ``error:`` line and exits with status 1, so cron
and orchestrators notice; a store busy with another process under
``--no-wait`` exits with 75 (EX_TEMPFAIL: try again later).  SIGTERM stops a
run like Ctrl-C: it is recorded as ``interrupted``.

Commands that inspect a store take a pipeline file or the store file itself.
``status`` and ``history`` read the files a run keeps beside the store, so
they work while a run holds it; the others wait for the store (or exit with
``--no-wait``).

>>> args = build_parser().parse_args(["run", "p.toml", "--no-wait", "--set", "label_model.seed=1"])
>>> args.no_wait, args.set
(True, ['label_model.seed=1'])
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import polars as pl

from weaksup.pipeline.lock import EXIT_BUSY, StoreBusy
from weaksup.store import StoreError, VoteStore

_TABLE = dict(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60, float_precision=3,
              tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True)  # fmt: skip


def _store_of(target: Path, store: Path | None = None) -> Path:
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
def _open(args: argparse.Namespace, command: str) -> Iterator[VoteStore]:
    """Lock and open the store of ``args.target`` for the ``with`` block."""
    from weaksup.pipeline.lock import store_lock

    path = _store_of(args.target, args.store)
    if not path.exists():
        raise StoreError(f"store {str(path)!r} does not exist; run a pipeline first to create it")
    with store_lock(path, command, wait=not args.no_wait, say=lambda s: print(s, file=sys.stderr)), VoteStore(path) as store:
        yield store


# -- commands ----------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> None:
    from weaksup.pipeline import dry_run_pipeline, load_config, run_pipeline

    cfg = load_config(args.pipeline, args.set)
    if args.dry_run:
        dry_run_pipeline(cfg, store_path=args.store)
    else:
        run_pipeline(cfg, store_path=args.store, progress=not args.quiet, wait=not args.no_wait)


def _serve_model(argv: list[str]) -> int:
    from weaksup.llm.serve import serve_model

    return serve_model(argv)


def _schedule(args: argparse.Namespace) -> int:
    from weaksup.pipeline import load_config, run_pipeline
    from weaksup.pipeline.schedule import parse_cron, run_schedule, zone_of

    cfg = load_config(args.pipeline, args.set)
    section = cfg["schedule"] or {}
    expr = args.cron or section.get("cron")
    if not expr:
        raise ValueError(f"{args.pipeline} has no [schedule] cron = ...; pass --cron EXPR (e.g. --cron '*/15 * * * *')")
    parse_cron(expr)
    tz = zone_of(args.timezone or section.get("timezone"))

    def job() -> bool:
        try:  # re-read the pipeline each time: edits to it (and to LF modules) apply to the next run
            run_pipeline(load_config(args.pipeline, args.set), store_path=args.store, progress=not args.quiet)
        except Exception as exc:
            print(f"error: run failed: {exc}", file=sys.stderr, flush=True)
            return False
        return True

    print(f"scheduling {args.pipeline} on {expr!r}" + (f" ({tz})" if tz else ""), flush=True)
    failures = run_schedule(expr, job, tz=tz, max_runs=args.max_runs, say=lambda s: print(s, flush=True))
    return 1 if failures else 0


def _status(args: argparse.Namespace) -> None:
    from weaksup.pipeline.status import format_status

    path = _store_of(args.target, args.store)
    _ensure_history(path)
    print(format_status(path))


def _history(args: argparse.Namespace) -> None:
    from weaksup.pipeline.status import history_frame, read_history

    path = _store_of(args.target, args.store)
    _ensure_history(path)
    runs = read_history(path)[-args.limit :] if args.limit else read_history(path)
    if args.json:
        print(json.dumps(runs, indent=1, default=str))
    elif not runs:
        print(f"store {path}: no runs yet")
    else:
        with pl.Config(**_TABLE):
            print(history_frame(runs))


def _ensure_history(path: Path) -> None:
    """Write the history file of a store that has none yet (e.g. one made before it existed)."""
    from weaksup.pipeline.lock import store_lock
    from weaksup.pipeline.status import history_path, snapshot_history
    from weaksup.store import VoteStore

    if history_path(path).exists() or not path.exists():
        return
    try:
        with store_lock(path, "weaksup history", wait=False), VoteStore(path, read_only=True) as store:
            snapshot_history(store)
    except StoreBusy:
        pass  # the run holding it writes the file itself


def _lfs(args: argparse.Namespace) -> None:
    from weaksup.pipeline.maintenance import lf_versions

    with _open(args, "weaksup lfs") as store:
        last = store.query(
            "SELECT run_id, lf_summary, lf_versions FROM runs WHERE status = 'succeeded' ORDER BY run_id DESC LIMIT 1"
        ).rows()
        versions = lf_versions(store)
    current = json.loads(last[0][2]) if last else {}
    with pl.Config(**_TABLE):
        if last and last[0][1]:
            print(f"LF summary of run {last[0][0]} (non-test examples):")
            print(pl.DataFrame(json.loads(last[0][1]), infer_schema_length=None))
        print("LF versions (* = used by the last succeeded run):")
        print(
            versions.with_columns(
                pl.struct("lf_name", "lf_version")
                .map_elements(lambda r: "*" if current.get(r["lf_name"]) == r["lf_version"] else "", pl.String)
                .alias("current")
            )
        )


def _export(args: argparse.Namespace) -> None:
    from weaksup.export import write_table
    from weaksup.pipeline.outputs import training_set

    with _open(args, "weaksup export") as store:
        frame = training_set(store, args.run)
    output = args.output or Path(f"training_set-run-{args.run:04d}.{args.format}")
    write_table(frame, output, args.format)
    print(f"wrote run {args.run}'s {frame.height} training examples to {output}")


def _diff(args: argparse.Namespace) -> None:
    from weaksup.pipeline.maintenance import diff_runs

    with _open(args, "weaksup diff") as store:
        result = diff_runs(store, args.run_a, args.run_b)
    lab = result.labels
    print(
        f"labels, run {args.run_a} -> run {args.run_b}: {lab['labels_changed']} of {lab['in_both']} examples in both "
        f"changed label ({lab['content_changed']} changed content); {lab['only_in_a']} only in run {args.run_a}, "
        f"{lab['only_in_b']} only in run {args.run_b}"
    )
    print("votes per LF (compared on examples both runs labeled with the same content):")
    with pl.Config(**_TABLE):
        print(result.lfs)


def _report(args: argparse.Namespace) -> None:
    from weaksup.report import write_report

    with _open(args, "weaksup report") as store:
        path = write_report(store, args.output or Path("report.html"), args.run, suspicious=not args.no_suspicious)
    print(f"wrote {path}")


def _gc(args: argparse.Namespace) -> None:
    from weaksup.pipeline.maintenance import collect_garbage
    from weaksup.pipeline.status import snapshot_history

    with _open(args, "weaksup gc") as store:
        done = collect_garbage(store, args.keep)
        snapshot_history(store)
    if not done["runs_kept"]:
        print("no succeeded runs: nothing to prune")
        return
    print(
        f"kept runs {done['runs_kept']}; removed labels of older runs ({done['labels']:,} rows), "
        f"{done['folders_removed']} export folders, {done['lf_versions']} unused LF versions "
        f"({done['lf_version_votes']:,} votes) and {done['retired_examples']:,} retired examples "
        f"({done['retired_example_votes']:,} votes)"
    )


def _predict(args: argparse.Namespace) -> None:
    from weaksup.data import load_dataset
    from weaksup.export import write_table
    from weaksup.end_models.text import SoftTextClassifier

    _check_text_model(args.model)
    model, meta = SoftTextClassifier.load(args.model)
    frame = load_dataset(args.input, id_column=args.id_column)
    column = meta.get("text_column", "text")
    if column not in frame.columns:
        raise ValueError(f"{args.input}: the model reads column {column!r}, which the file lacks; columns are {frame.columns}")
    probs = model.predict_proba(frame[column].cast(pl.String).fill_null("").to_list())
    classes = meta.get("classes") or [str(c) for c in range(probs.shape[1])]
    out = frame.with_columns(
        *(pl.Series(f"prob_{name}", probs[:, j]) for j, name in enumerate(classes)),
        pl.Series("label_name", [classes[i] for i in probs.argmax(axis=1)]),
    )
    if args.output:
        write_table(out, args.output)
        print(f"wrote {out.height} predictions to {args.output}")
    else:
        with pl.Config(tbl_rows=20, fmt_str_lengths=60):
            print(out.select(column, *[f"prob_{c}" for c in classes], "label_name"))


def _check_text_model(path: Path) -> None:
    """Refuse the end models of ranking and regression runs, which read features, not text."""
    sidecar = Path(f"{path}.json")
    meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    if path.suffix != ".skops" or "features" in meta:
        raise ValueError(
            f"{path} is not a text classifier: `weaksup predict` labels text with the end models of "
            "categorical runs (end_model.skops). Ranking and regression end models read feature columns; "
            "load them in Python with weaksup.end_models.numeric (PairwiseRanker.load, SoftTargetRegressor.load)"
        )


def _schema(args: argparse.Namespace) -> None:
    from weaksup.pipeline.config import schema_doc

    print(schema_doc())


# -- parser ------------------------------------------------------------------------------


def _target(p: argparse.ArgumentParser, wait: bool = True) -> None:
    p.add_argument("target", type=Path, metavar="PIPELINE", help="pipeline file (.toml) or its store file")
    p.add_argument("--store", type=Path, help="store file (default: the pipeline's `store`)")
    if wait:
        p.add_argument("--no-wait", action="store_true",
                       help=f"if another process holds the store, exit with status {EXIT_BUSY} instead of waiting")


def _runner_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("pipeline", type=Path, help="pipeline TOML file")
    p.add_argument("--store", type=Path, help="vote store file (default: the pipeline's `store`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (they are off anyway without a TTY)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a pipeline key, e.g. --set data.source='new/*.csv' (repeatable; TOML values)")


def build_parser() -> argparse.ArgumentParser:
    """The ``weaksup`` argument parser, one subcommand per command."""
    parser = argparse.ArgumentParser(prog="weaksup", description="Programmatic weak supervision pipelines.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a pipeline once (incrementally)", description="Run a pipeline file once: "
                       "apply new or changed LFs to new or changed examples, refit the label model, train and export. "
                       "If another process holds the store, wait for it (or exit with --no-wait).")
    _runner_options(p)
    p.add_argument("--no-wait", action="store_true",
                   help=f"if another process holds the store, exit with status {EXIT_BUSY} instead of waiting")
    p.add_argument("--dry-run", action="store_true",
                   help="count the prompts the prompted LFs would send after cache hits, and their tokens; "
                   "send and write nothing")
    p.set_defaults(func=_run)

    p = sub.add_parser("schedule", help="run a pipeline on a cron schedule, in this process",
                       description="Run the pipeline at each fire time of a cron expression (standard 5 fields; "
                       "weekday 1-5 = Monday-Friday, 0 or 7 = Sunday; a 6th field gives seconds). Runs never overlap: "
                       "a run that outlasts the next fire time delays it. A failed run is reported and the schedule "
                       "goes on. The pipeline file is re-read before each run.")
    _runner_options(p)
    p.add_argument("--cron", help="cron expression (default: the pipeline's [schedule] cron)")
    p.add_argument("--timezone", help="IANA time zone for the expression (default: [schedule] timezone, else local)")
    p.add_argument("--max-runs", type=int, help="stop after this many runs (exit 1 if any failed)")
    p.set_defaults(func=_schedule)

    p = sub.add_parser("status", help="the current or last run (works during a run)",
                       description="Show the running run's phase and progress, or the last run, and the last finished "
                       "run's timings, counts, LF versions, label model and metrics. Works while a run holds the store.")
    _target(p, wait=False)
    p.set_defaults(func=_status)

    p = sub.add_parser("history", help="all runs (works during a run)",
                       description="List runs with status, timings, example counts, LF applications, label model and "
                       "accuracies. Works while a run holds the store.")
    _target(p, wait=False)
    p.add_argument("--json", action="store_true", help="print every field of every run as JSON")
    p.add_argument("--limit", type=int, help="only the newest N runs")
    p.set_defaults(func=_history)

    p = sub.add_parser("lfs", help="LF summary and every LF's versions",
                       description="Print the last succeeded run's LF summary and every version of every LF the store "
                       "has seen, with its runs, votes, watermark and errors.")
    _target(p)
    p.set_defaults(func=_lfs)

    p = sub.add_parser("export", help="write a run's training set", description="Rebuild run N's training set from "
                       "the store and write it in a format (the same rows the run exported).")
    _target(p)
    p.add_argument("--run", type=int, required=True, metavar="N", help="run id (see `weaksup history`)")
    p.add_argument("--format", choices=("parquet", "jsonl", "csv"), default="parquet", help="file format")
    p.add_argument("--output", type=Path, help="output file (default: training_set-run-NNNN.FORMAT here)")
    p.set_defaults(func=_export)

    p = sub.add_parser("diff", help="label and vote changes between two runs",
                       description="How many labels changed between two runs, and for each LF how many of its votes "
                       "changed between the two runs' versions of it.")
    _target(p)
    p.add_argument("run_a", type=int, metavar="RUN_A")
    p.add_argument("run_b", type=int, metavar="RUN_B")
    p.set_defaults(func=_diff)

    p = sub.add_parser("report", help="write the LF report of a run (one HTML file)",
                       description="Write one self-contained HTML file (no network) on run N (default: the newest "
                       "succeeded run): the per-LF table, charts, example buckets, suspicious labels (with the "
                       "cleanlab extra), changes since the previous run and the run history.")
    _target(p)
    p.add_argument("--run", type=int, metavar="N", help="run id (default: the newest succeeded run)")
    p.add_argument("-o", "--output", type=Path, help="output file (default: report.html here)")
    p.add_argument("--no-suspicious", action="store_true", help="skip the cleanlab check (it trains 5 end models)")
    p.set_defaults(func=_report)

    p = sub.add_parser("gc", help="prune old runs' labels and exports",
                       description="Keep each pipeline's N newest succeeded runs; remove older runs' labels and export "
                       "folders, votes of LF versions no kept run used, and retired examples. Run rows stay in history.")
    _target(p)
    p.add_argument("--keep", type=int, required=True, metavar="N", help="succeeded runs to keep per pipeline")
    p.set_defaults(func=_gc)

    p = sub.add_parser("predict", help="label new data with a trained end model",
                       description="Label a CSV/Parquet/JSONL file with an end model saved by a run.")
    p.add_argument("model", type=Path, help="end_model.skops from a run folder")
    p.add_argument("input", help="data file to label")
    p.add_argument("--id-column", help="column holding example ids")
    p.add_argument("--output", type=Path, help="write predictions here (.parquet, .jsonl or .csv) instead of printing")
    p.set_defaults(func=_predict)

    # Listed here for `weaksup --help`; main() hands its arguments to the server's own parser.
    sub.add_parser("serve-model", help="serve a small local LLM for prompted LFs (no API key)")

    p = sub.add_parser("schema", help="print the pipeline file schema", description="Print every pipeline key "
                       "with its type, default and meaning.")
    p.set_defaults(func=_schema)
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``weaksup`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve-model"]:
        return _serve_model(argv[1:])
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except StoreBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except Exception as exc:  # one clear line for the user; a failed run is recorded in the store
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
