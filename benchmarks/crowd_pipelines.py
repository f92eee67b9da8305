"""Crowd answers as a pipeline's votes ([answers]): accuracy against truth and run time on each crowd set.

For every crowd set (``data/crowd`` and ``../shared/data/crowd``: answer.csv, truth.csv) a pipeline
with only ``[answers]`` (no data source, no LF code, the default label model, no end model) is run
on a fresh store, then once more unchanged (a ``skipped`` run).  The peer is the same default label
model fitted directly on :func:`weaksup.data.load_crowd`'s votes of the same file, in memory, with no
store: what the pipeline adds (reading into LFs, the store, exports, report) is the ratio of the two
times.  Accuracy is of each example's label against truth.csv on the items with truth; the model is
fitted on every answered item, as the pipeline does (``benchmarks/label_models.py`` fits on the items
with truth only, so its figures differ where some items have no truth).  Medians of ``--repeats``.

    python benchmarks/crowd_pipelines.py --repeats 3 --out benchmarks/results/crowd_pipelines.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from weaksup.crowd.files import load_crowd
from weaksup.model import make_label_model
from weaksup.pipeline import config_from_dict, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = [ROOT / "data" / "crowd", ROOT.parent / "shared" / "data" / "crowd"]


def crowd_sets() -> dict[str, Path]:
    """Each crowd set's folder, the repository's copy first."""
    found: dict[str, Path] = {}
    for base in FOLDERS:
        for folder in sorted(base.glob("*/answer.csv")) if base.exists() else []:
            found.setdefault(folder.parent.name, folder.parent)
    return found


def pipeline_run(folder: Path, classes: list[str], work: Path) -> tuple[float, float, float]:
    """Seconds of a first run and of an unchanged rerun, and the first run's accuracy against truth."""
    values = {
        "name": folder.name, "store": str(work / "store.duckdb"),
        "answers": {"source": str(folder / "answer.csv"), "truth": str(folder / "truth.csv")},
        "labels": {"classes": classes}, "trainer": {"name": "none"},
        "export": {"dir": str(work / "exports"), "keep_uncovered": True},
    }  # fmt: skip
    cfg = config_from_dict(values, work)
    t0 = time.perf_counter()
    first = run_pipeline(cfg, progress=False, say=lambda s: None)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = run_pipeline(cfg, progress=False, say=lambda s: None)
    t_again = time.perf_counter() - t0
    assert again.metrics.get("unchanged_since_run") == first.run_id
    labels = pl.read_parquet(first.run_dir / "training_set.parquet").select("example_id", "label")
    gold = pl.read_csv(folder / "truth.csv", infer_schema=False)
    gold = gold.select(pl.col(gold.columns[0]).str.strip_chars().alias("example_id"),
                       pl.col(gold.columns[1]).str.strip_chars().replace_strict(classes, range(len(classes))).alias("gold"))  # fmt: skip
    joined = labels.join(gold.unique("example_id"), on="example_id")
    assert joined.height == gold["example_id"].n_unique()  # every item with truth is labeled
    return t_first, t_again, float((joined["label"] == joined["gold"]).mean())


def direct_fit(folder: Path) -> tuple[float, float, str]:
    """Seconds to load and fit the default model on load_crowd's votes, its accuracy on the items with truth, its choice."""
    t0 = time.perf_counter()
    crowd = load_crowd(folder / "answer.csv", folder / "truth.csv")
    model = make_label_model("label_model", cardinality=len(crowd.classes), seed=0).fit(crowd.votes)
    pred = model.predict(crowd.votes)
    seconds = time.perf_counter() - t0
    known = crowd.truth >= 0
    return seconds, float((pred[known] == crowd.truth[known]).mean()), model.chosen_


RATINGS = ("emotion",)
"""Crowd sets of numeric ratings: run as regression pipelines, scored by MAE beside the mean of the answers."""


def ratings_run(folder: Path, work: Path) -> tuple[float, float, float]:
    """A regression pipeline on the ratings: its MAE against truth, the plain mean's, and its seconds."""
    values = {
        "name": folder.name, "store": str(work / "store.duckdb"),
        "answers": {"source": str(folder / "answer.csv"), "truth": str(folder / "truth.csv")},
        "labels": {"type": "regression"}, "trainer": {"name": "none"}, "export": {"dir": str(work / "exports")},
    }  # fmt: skip
    t0 = time.perf_counter()
    run = run_pipeline(config_from_dict(values, work), progress=False, say=lambda s: None)
    seconds = time.perf_counter() - t0
    answers = pl.read_csv(folder / "answer.csv", infer_schema=False).rename(lambda c: c.strip())
    item, answer = answers.columns[0], answers.columns[2]
    means = answers.group_by(item).agg(pl.col(answer).cast(pl.Float64).mean().alias("mean"))
    truth = pl.read_csv(folder / "truth.csv", infer_schema=False)
    truth = truth.select(pl.col(truth.columns[0]).alias(item), pl.col(truth.columns[1]).cast(pl.Float64).alias("truth"))
    mean_mae = float(means.join(truth, on=item).select((pl.col("mean") - pl.col("truth")).abs().mean()).item())
    return run.metrics["label_model_mae_train"], mean_mae, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", nargs="*", help="crowd set names (default: all found)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sets = {k: v for k, v in crowd_sets().items() if not args.sets or k in args.sets}
    load_before = os.getloadavg()
    lines = []
    header = (f"{'set':<11} {'items':>6} {'workers':>7} {'answers':>7}  {'pipeline acc':>12} {'direct acc':>10} "
              f"{'chose':>10}  {'run s':>7} {'rerun s':>7} {'direct s':>8} {'run/direct':>10}")  # fmt: skip
    rating_lines = []
    for name, folder in sets.items():
        if name in RATINGS:
            with tempfile.TemporaryDirectory() as tmp:
                mae, mean_mae, seconds = ratings_run(folder, Path(tmp))
            rating_lines.append(f"{name:<11} pipeline MAE {mae:.3f}, mean of the answers {mean_mae:.3f} "
                                f"({'at or below' if mae <= mean_mae else 'ABOVE'} the mean), run {seconds:.2f} s")  # fmt: skip
            print(rating_lines[-1], flush=True)
            continue
        crowd = load_crowd(folder / "answer.csv", folder / "truth.csv")
        classes = list(crowd.classes)
        runs, reruns, directs = [], [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                t_run, t_again, acc = pipeline_run(folder, classes, Path(tmp))
            t_direct, direct_acc, chose = direct_fit(folder)
            runs.append(t_run), reruns.append(t_again), directs.append(t_direct)
        run, rerun, direct = (statistics.median(x) for x in (runs, reruns, directs))
        items = int(np.count_nonzero(np.bincount(crowd.votes.rows, minlength=crowd.votes.n)))
        lines.append(f"{name:<11} {items:>6} {crowd.votes.m:>7} {crowd.votes.nnz:>7}  {acc:>12.4f} {direct_acc:>10.4f} "
                     f"{chose:>10}  {run:>7.2f} {rerun:>7.2f} {direct:>8.2f} {run / direct:>10.2f}")  # fmt: skip
        print(lines[-1], flush=True)
    load_after = os.getloadavg()
    report = "\n".join([
        f"weaksup crowd pipelines ([answers], default label model, no end model); median of {args.repeats} repeat(s)",
        f"machine: {platform.machine()}, CPython {platform.python_version()}, {platform.system()}, {os.cpu_count()} CPUs "
        f"shared with other work: load average {load_before[0]:.1f} before and {load_after[0]:.1f} after",
        "run s: a first run on a fresh store (read answers, sync, store votes, fit, label, export, report); rerun s: the "
        "same again, unchanged (skipped); direct s: load_crowd + the default model's fit and predict, in memory (the peer)",
        "", header, *lines,
        *(["", "Ratings on one scale ([answers] with labels.type = 'regression'; y in the raters' units, no gold):",
           *rating_lines] if rating_lines else []),
    ])  # fmt: skip
    print("\n" + report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
