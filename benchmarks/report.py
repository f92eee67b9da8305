"""The LF report at scale: 100k examples × 50 LFs, written in under 10 s and under 5 MB.

Builds a real vote store (DuckDB file) with two succeeded runs of a 3-class task: 100k
examples with short texts, 50 LFs voting on 2-20% of them each (about 70% right), labels,
and gold for 30% of the examples saved as the run's ``gold.parquet``.  Then it times
:func:`weaksup.report.write_report` on the second run (every frame, chart, bucket and the run
changes; the cleanlab check is left out: it trains end models, see ``--suspicious``) and prints
its size.  Beside it, the peer: Snorkel's ``LFAnalysis(L).lf_summary(Y)`` on the same dense
matrix (the per-LF table alone), as a ratio of medians.

Run from the repository root::

    .venv/bin/python benchmarks/report.py

It prints the result and writes it to ``benchmarks/results/report.txt`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weaksup.report import save_gold, write_report  # noqa: E402
from weaksup.store import VoteStore  # noqa: E402

K = 3


def build_store(path: Path, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two runs over ``n`` examples and ``m`` LFs; returns the dense vote matrix and the gold."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n)
    words = np.array(["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta", "zeta", "eta"])
    texts = [" ".join(words[rng.integers(0, len(words), 8)]) for _ in range(n)]
    frame = pl.DataFrame({"example_id": [f"ex{i}" for i in range(n)], "text": texts,
                          "split": np.where(rng.random(n) < 0.8, "train", "test")})  # fmt: skip
    L = np.full((n, m), -1, dtype=np.int32)
    for a in range(m):
        rows = np.flatnonzero(rng.random(n) < rng.uniform(0.02, 0.2))
        right = rng.random(len(rows)) < 0.7
        L[rows, a] = np.where(right, truth[rows], rng.integers(0, K, len(rows)))
    gold = np.where(rng.random(n) < 0.3, truth, -1)
    params = {"labels": {"type": "categorical", "classes": ["A", "B", "C"]}, "data": {"test_split": "test"}}
    with VoteStore(path) as store:
        for run_no in (1, 2):
            run = store.runs.start("bench", params)
            keys = store.examples.sync("bench", frame, run).ex_keys
            versions = [(f"lf_{a:02d}", f"v{1 + (run_no == 2 and a < 5)}") for a in range(m)]
            store.votes.register_lfs([(lf, v, "row", "categorical") for lf, v in versions], run)
            rows, cols = np.nonzero(L >= 0)
            store.votes.commit("bench", versions, int(keys.max()), pl.DataFrame({
                "lf_name": [versions[c][0] for c in cols], "lf_version": [versions[c][1] for c in cols],
                "ex_key": keys[rows], "label": L[rows, cols]}))  # fmt: skip
            counts = np.stack([(L == c).sum(axis=1) for c in range(K)], axis=1) + 0.5 + rng.random((n, K)) * 0.2 * run_no
            probs = counts / counts.sum(axis=1, keepdims=True)
            store.runs.write_labels(run, pl.DataFrame({"ex_key": keys, "probs": probs, "label": probs.argmax(axis=1).astype(np.int32),
                                                  "confidence": probs.max(axis=1), "n_votes": (L >= 0).sum(axis=1).astype(np.int32)}))  # fmt: skip
            run_dir = path.parent / f"run-{run}"
            store.runs.set_export_dir(run, str(run_dir))
            store.runs.finish(run, "succeeded", metrics={"train_coverage": float(((L >= 0).any(axis=1)).mean()),
                             "label_model_accuracy_test": 0.8 + 0.01 * run_no}, lf_versions=dict(versions))  # fmt: skip
            save_gold(run_dir, keys, gold)
    return L, gold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--suspicious", action="store_true", help="also run the cleanlab check (trains 5 end models)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "report.txt")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="weaksup-report-bench-"))
    t0 = time.perf_counter()
    L, gold = build_store(folder / "store.duckdb", args.n, args.m, seed=0)
    setup = time.perf_counter() - t0
    ours, sizes = [], []
    with VoteStore(folder / "store.duckdb", read_only=True) as store:
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            path = write_report(store, folder / "report.html", suspicious=args.suspicious)
            ours.append(time.perf_counter() - t0)
            sizes.append(path.stat().st_size)
    lines = [
        f"LF report benchmark: {args.n:,} examples x {args.m} LFs, {int((L >= 0).sum()):,} votes, 3 classes, "
        f"2 runs (store built in {setup:.1f} s); load average {os.getloadavg()}",
        f"weaksup write_report (whole HTML report{', with cleanlab' if args.suspicious else ''}): "
        f"median {statistics.median(ours):.2f} s of {args.repeats} ({', '.join(f'{t:.2f}' for t in ours)}); "
        f"size {sizes[-1] / 1e6:.2f} MB (limits: 10 s, 5 MB)",
    ]
    try:
        from snorkel.labeling import LFAnalysis
    except ImportError:
        lines.append("peer: snorkel is not installed (pip install -e '.[snorkel]'); no ratio")
    else:
        peer = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            LFAnalysis(L).lf_summary(Y=np.where(gold >= 0, gold, 0))
            peer.append(time.perf_counter() - t0)
        lines.append(f"peer, Snorkel LFAnalysis.lf_summary (the LF table alone, dense matrix): median "
                     f"{statistics.median(peer):.2f} s ({', '.join(f'{t:.2f}' for t in peer)})")  # fmt: skip
        lines.append(f"ratio, our whole report / Snorkel's LF table: {statistics.median(ours) / statistics.median(peer):.2f}")
    lines.append(f"load average after: {os.getloadavg()}")
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
