"""The ``weaksup`` command line.  ``weaksup COMMAND --help`` documents each command.

A failed command prints one ``error:`` line and exits with status 1, so cron
and orchestrators notice; a store busy with another process under
``--no-wait`` exits with 75 (EX_TEMPFAIL: try again later).  SIGTERM stops a
run like Ctrl-C: it is recorded as ``interrupted``.

Commands that inspect or tidy a store are in :mod:`weaksup.cli_store`; this module parses
the arguments and runs ``run``, ``schedule`` and ``serve-model``.

>>> args = build_parser().parse_args(["run", "p.toml", "--no-wait", "--set", "label_model.seed=1"])
>>> args.no_wait, args.set
(True, ['label_model.seed=1'])
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any


from weaksup import cli_store
from weaksup.pipeline.lock import EXIT_BUSY, StoreBusy

if TYPE_CHECKING:
    pass

# -- commands ----------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> None:
    from weaksup.pipeline import dry_run_pipeline, load_config, run_pipeline

    cfg = load_config(args.pipeline, args.set)
    if args.dry_run:
        dry_run_pipeline(cfg, store_path=args.store, say=say)
    else:
        run_pipeline(cfg, store_path=args.store, progress=not args.quiet, wait=not args.no_wait, say=say,
                     force=args.force, reapply_failed=args.reapply_failed)


class _Deprecated(argparse.Action):
    """A flag kept for one release under its old name: sets its new flag's option, and says so."""

    def __init__(self, *args: Any, new: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        print(f"warning: {option_string} is deprecated and goes in the next release; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, True)


def say(line: str) -> None:
    """Print a line of a command's output; once the reader has gone (``weaksup run ... | head``),
    drop the rest quietly, so a closed pipe never fails the work it reports on."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's documented way: stdout is gone, and stays quiet


def _reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (``weaksup lfs ... | head -1``): the
    kernel then reports an error condition on it, which a broken socket elsewhere does not."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _serve_model(argv: list[str]) -> int:
    from weaksup.llm.serve import serve_model

    return serve_model(argv)


def _schedule(args: argparse.Namespace) -> int:
    from weaksup.pipeline import load_config, run_pipeline
    from weaksup.pipeline.schedule import StopAfterRun, parse_cron, run_schedule, zone_of

    cfg = load_config(args.pipeline, args.set)
    section = cfg.settings.schedule
    if args.every is not None:
        if args.cron:
            raise ValueError("give --cron or --every, not both")
        if args.every <= 0:
            raise ValueError(f"--every {args.every:g}: the interval must be a positive number of seconds")
        when: str | timedelta = timedelta(seconds=args.every)
        expr = f"every {args.every:g} s"
    else:
        expr = args.cron or (section.cron if section else None)
        if not expr:
            raise ValueError(
                f"{args.pipeline} has no [schedule] cron = ...; pass --cron EXPR (e.g. --cron '*/15 * * * *')"
            )
        when = parse_cron(expr)
    tz = zone_of(args.timezone or (section.timezone if section else None))

    def job() -> bool:
        try:  # re-read the pipeline each time: edits to it (and to LF modules) apply to the next run
            result = run_pipeline(load_config(args.pipeline, args.set), store_path=args.store, progress=not args.quiet)
        except Exception as exc:
            print(f"error: run failed: {exc}", file=sys.stderr, flush=True)
            return False
        if result.stop_asked:
            raise StopAfterRun(result.stop_asked)
        return True

    print(f"scheduling {args.pipeline} on {expr!r}" + (f" ({tz})" if tz else ""), flush=True)
    failures = run_schedule(when, job, tz=tz, max_runs=args.max_runs, say=lambda s: print(s, flush=True))
    return 1 if failures else 0


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
    p.add_argument("--reapply-failed", action="store_true",
                   help="ask each LF again on the examples it failed on (an LF error, a prompt the server refused), "
                   "once the cause is fixed")
    p.add_argument("--retry-failed", dest="reapply_failed", action=_Deprecated, nargs=0, new="--reapply-failed",
                   help=argparse.SUPPRESS)
    p.add_argument("--force", action="store_true",
                   help="refit and export even when nothing changed since the last succeeded run")
    p.add_argument("--dry-run", action="store_true",
                   help="count the prompts the prompted LFs would send after cache hits, and their tokens; "
                   "send and write nothing")
    p.set_defaults(func=_run)

    p = sub.add_parser("schedule", help="run a pipeline on a cron schedule, in this process",
                       description="Run the pipeline at each fire time of a cron expression (standard 5 fields: "
                       "minute hour day-of-month month day-of-week; weekday 1-5 = Monday-Friday, 0 or 7 = Sunday), "
                       "or every N seconds (--every). Runs never overlap: a run that outlasts the next fire time "
                       "delays it. A failed run is reported and the schedule goes on. The pipeline file is re-read "
                       "before each run. Ctrl-C or SIGTERM stops it (exit 0 unless a run failed).")
    _runner_options(p)
    p.add_argument("--cron", help="cron expression (default: the pipeline's [schedule] cron)")
    p.add_argument("--every", type=float, metavar="SECONDS",
                   help="instead of cron: run SECONDS after starting and after each run ends")
    p.add_argument("--timezone", help="IANA time zone for the expression (default: [schedule] timezone, else local)")
    p.add_argument("--max-runs", type=int, help="stop after this many runs (exit 1 if any failed)")
    p.set_defaults(func=_schedule)

    p = sub.add_parser("status", help="the current or last run (works during a run)",
                       description="Show the running run's phase and progress, or the last run, and the last finished "
                       "run's timings, counts, LF versions, label model and metrics. Works while a run holds the store.")
    _target(p, wait=False)
    p.set_defaults(func=cli_store.status_command)

    p = sub.add_parser("history", help="all runs (works during a run)",
                       description="List runs with status, timings, example counts, LF applications, label model and "
                       "accuracies. Works while a run holds the store.")
    _target(p, wait=False)
    p.add_argument("--json", action="store_true", help="print every field of every run as JSON")
    p.add_argument("--limit", type=int, help="only the newest N runs")
    p.set_defaults(func=cli_store.history_command)

    p = sub.add_parser("lfs", help="LF summary and every LF's versions (--errors: what LFs raised)",
                       description="Print the last succeeded run's LF summary and every version of every LF the store "
                       "has seen, with its runs, votes, watermark and errors; with --errors, the errors LFs raised.")
    _target(p)
    p.add_argument("--errors", action="store_true", help="list the errors LFs raised (each counted as an abstain), "
                   "newest run first")
    p.add_argument("--lf", help="with --errors: only this LF's")
    p.add_argument("--limit", type=int, default=50, help="with --errors: at most this many (default 50; 0: all)")
    p.set_defaults(func=cli_store.lfs_command)

    p = sub.add_parser("export", help="write a run's training set", description="Rebuild run N's training set from "
                       "the store and write it in a format (the same rows the run exported).")
    _target(p)
    p.add_argument("--run", type=int, required=True, metavar="N", help="run id (see `weaksup history`)")
    p.add_argument("--format", choices=("parquet", "jsonl", "csv"), default="parquet", help="file format")
    p.add_argument("--output", type=Path, help="output file (default: training_set-run-NNNN.FORMAT here)")
    p.set_defaults(func=cli_store.export_command)

    p = sub.add_parser("diff", help="label and vote changes between two runs",
                       description="How many labels changed between two runs, and for each LF how many of its votes "
                       "changed between the two runs' versions of it.")
    _target(p)
    p.add_argument("run_a", type=int, metavar="RUN_A")
    p.add_argument("run_b", type=int, metavar="RUN_B")
    p.set_defaults(func=cli_store.diff_command)

    p = sub.add_parser("report", help="write the LF report of a run (one HTML file)",
                       description="Write one self-contained HTML file (no network) on run N (default: the newest "
                       "succeeded run): the per-LF table, charts, example buckets, suspicious labels (with the "
                       "cleanlab extra), changes since the previous run and the run history.")
    _target(p)
    p.add_argument("--run", type=int, metavar="N", help="run id (default: the newest succeeded run)")
    p.add_argument("-o", "--output", type=Path, help="output file (default: report.html here)")
    p.add_argument("--no-suspicious", action="store_true", help="skip the cleanlab check (it trains 5 end models)")
    p.set_defaults(func=cli_store.report_command)

    p = sub.add_parser("estimate", help="class shares with valid intervals, from soft labels and a few gold rows",
                       description="Each class's share of a categorical run's examples (per group with --by): the "
                       "plug-in average of the soft labels (biased by the label model's errors), the classical interval "
                       "of the gold rows alone (Agresti-Coull), and the prediction-powered (PPI++) estimate and interval, "
                       "which combine both; both add Agresti-Coull's pseudo rows to the gold rows, so that they hold with "
                       "a few dozen gold rows and rare classes. The gold rows must be drawn at random.")
    _target(p)
    p.add_argument("--run", type=int, metavar="N", help="run id (default: the pipeline's newest succeeded run)")
    p.add_argument("--by", metavar="COLUMN", help="an input column: one estimate per value")
    p.add_argument("--alpha", type=float, default=0.1, help="miscoverage: 0.1 (default) gives 90%% intervals")
    p.add_argument("--predictions", choices=("end_model", "label_model"),
                   help="what predicts each example's class: the run's end model (default, when the run trained one; "
                   "else the label model, with a note) or the label model's soft labels")  # fmt: skip
    p.set_defaults(func=cli_store.estimate_command)

    p = sub.add_parser("gc", help="prune old runs' labels and exports",
                       description="Keep each pipeline's N newest succeeded runs; remove older runs' labels and export "
                       "folders, votes of LF versions no kept run used, and retired examples. Run rows stay in history.")
    _target(p)
    p.add_argument("--keep", type=int, required=True, metavar="N", help="succeeded runs to keep per pipeline")
    p.set_defaults(func=cli_store.gc_command)

    p = sub.add_parser("predict", help="label new data with a trained end model",
                       description="Label a CSV/Parquet/JSONL file with the end model of a run: print each row's "
                       "example_id and prediction (a categorical run's label, label_name and confidence; a ranking "
                       "run's ranking of the row's items; a regression run's value), or write them with every column "
                       "predict adds (each class's probability) and the input columns (--output).")
    p.add_argument("model", type=Path, metavar="MODEL",
                   help="pipeline file (its LATEST run), export or run folder, or end-model file (end_model.npz or .json)")
    p.add_argument("input", help="data file to label")
    p.add_argument("--text-column", help="column a text classifier reads (default: the column it was trained on)")
    p.add_argument("--id-column", help="column holding example ids (default: a hash of each row, as in a run)")
    p.add_argument("--rows", type=int, default=20, help="rows to print without --output (default 20)")
    p.add_argument("--output", type=Path, help="write predictions here (.parquet, .jsonl or .csv) instead of printing")
    p.add_argument("--score", nargs="?", const="label", metavar="GOLD_COLUMN",
                   help="score the predictions against a column of gold labels (class ids or names; default: label): "
                   "accuracy, macro-F1, log-loss, per-class precision/recall/F1 and the confusion matrix")
    p.add_argument("--trust", action="append", default=[], metavar="TYPE",
                   help="an exact type name (module.Class) a skops end-model file may hold beyond weaksup's trusted "
                   "scikit-learn types (repeatable); the pipeline's trainer.trusted_types count too")
    p.set_defaults(func=cli_store.predict_command)

    # Listed here for `weaksup --help`; main() hands its arguments to the server's own parser.
    sub.add_parser("serve-model", help="serve a small local LLM for prompted LFs (no API key)")

    p = sub.add_parser("schema", help="print the pipeline file schema", description="Print every pipeline key "
                       "with its type, default and meaning.")
    p.set_defaults(func=cli_store.schema_command)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so it unwinds like Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated("SIGTERM")


def _exit_at_stop(code: int) -> None:
    """Once this process's command has finished: a Ctrl-C or SIGTERM while the interpreter shuts
    down ends the process at once with the command's own status (its work is done and saved)."""

    def leave(signum: int, frame: FrameType | None) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, leave)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``weaksup`` console script (``argv`` None: this process's command line,
    and the process ends with the command)."""
    ending = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve-model"]:
        return _serve_model(argv[1:])
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    code = 1
    try:
        code = _command(args)
    finally:
        if main_thread and ending:
            _exit_at_stop(code)
        elif main_thread:
            signal.signal(signal.SIGTERM, previous)
    return code


def _command(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit status, with one ``error:`` line on failure."""
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as exc:
        if not _reader_gone():
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _silence_stdout()  # the reader took what it wanted (`| head`): not a failure, and nothing to say
        return 0
    except StoreBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except Exception as exc:  # one clear line for the user; a failed run is recorded in the store
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
