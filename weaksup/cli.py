"""The ``weaksup`` command line.  ``weaksup COMMAND --help`` documents each command.

A failed command prints one ``error:`` line and exits with status 1, so cron
and orchestrators notice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl


def _run(args: argparse.Namespace) -> None:
    from weaksup.pipeline import run_pipeline

    run_pipeline(args.pipeline, store_path=args.store, progress=not args.quiet)


def _predict(args: argparse.Namespace) -> None:
    from weaksup.data import load_dataset
    from weaksup.export import write_table
    from weaksup.trainer import SoftTextClassifier

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


def _schema(args: argparse.Namespace) -> None:
    from weaksup.pipeline.config import schema_doc

    print(schema_doc())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weaksup", description="Programmatic weak supervision pipelines.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a pipeline once (incrementally)", description="Run a pipeline file once: "
                       "apply new or changed LFs to new or changed examples, refit the label model, train and export.")
    p.add_argument("pipeline", type=Path, help="pipeline TOML file")
    p.add_argument("--store", type=Path, help="vote store file (default: the pipeline's `store`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)

    p = sub.add_parser("predict", help="label new data with a trained end model",
                       description="Label a CSV/Parquet/JSONL file with an end model saved by a run.")
    p.add_argument("model", type=Path, help="end_model.skops from a run folder")
    p.add_argument("input", help="data file to label")
    p.add_argument("--id-column", help="column holding example ids")
    p.add_argument("--output", type=Path, help="write predictions here (.parquet, .jsonl or .csv) instead of printing")
    p.set_defaults(func=_predict)

    p = sub.add_parser("schema", help="print the pipeline file schema", description="Print every pipeline key "
                       "with its type, default and meaning.")
    p.set_defaults(func=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``weaksup`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the user; the run is recorded as failed in the store
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
