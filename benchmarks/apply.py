"""LF application at scale: vectorized vs row-wise vs Snorkel, engines, and streaming memory.

Synthetic texts are drawn from the shipped YouTube comments (``data/youtube_raw``, the UCI
files): each is a random run of words from one real comment, half the time followed by a run
from another.  The LFs are the 20 keyword/regex/length rules of ``benchmarks/incremental.py``.
From one run it prints:

1. ``--n`` texts x 20 LFs: weaksup vectorized (``weaksup.vectorized`` builders), weaksup row-wise
   (``apply_lfs``) and Snorkel's ``PandasLFApplier`` on the same rules, in rows/s with ratios; the
   three vote matrices must be identical (Snorkel's on its first ``--snorkel-n`` rows).
2. ``--n`` texts x 5 row-wise LFs into a vote store (``apply_to_store``, commits included):
   serial, 2 worker processes, a Dask ``LocalCluster`` of 2 workers and, with pyspark and a Java
   runtime, Spark ``local[2]`` (its session started once, before its timings, as an application's
   is, and its rounds after the others': an idle JVM loads the machine); votes must be identical.
3. Streaming from Parquet at each of ``--stream-n``: a fresh subprocess scans the file in
   batches, syncs them into a new store and applies the 20 vectorized LFs from the store
   (``StoredExamples``); its peak RSS (``resource.getrusage``), phase times and votes written/s.
   Then another fresh subprocess runs the whole streamed pipeline on the same file (``weaksup run``
   with ``[data] stream = true``, the 20 vectorized LFs, default label model, no end model, a
   Parquet training set): its peak RSS and phase times.
4. The whole pipeline run (``weaksup run``: Parquet source, default label model, no end model) on
   ``--n`` texts, each in a fresh process and store: the 20 rules as vectorized LFs, then as row-wise
   LFs; wall time phase by phase (the run's ``*_seconds`` metrics) and the ratio.

    python benchmarks/apply.py                                   # 1M texts, streaming at 1M and 10M
    python benchmarks/apply.py --n 100000 --stream-n 100000 1000000 --snorkel-n 50000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from incremental import LF_SPECS, PIPELINE, lf_module  # noqa: E402

from weaksup.apply import apply_lfs  # noqa: E402
from weaksup.apply import apply_to_store  # noqa: E402
from weaksup.data import scan_batches  # noqa: E402
from weaksup.engines import DaskEngine, ProcessEngine, SerialEngine, SparkEngine  # noqa: E402
from weaksup.examples import StoredExamples  # noqa: E402
from weaksup.lf import ABSTAIN, LabelingFunction  # noqa: E402
from weaksup.pipeline import load_lf_modules  # noqa: E402
from weaksup.store import VoteStore  # noqa: E402
from weaksup.vectorized import VectorizedLabelingFunction, keywords, regex  # noqa: E402

CHUNK = 100_000
MEMORY_LIMIT = "256MB"
"""DuckDB's memory cap in the streaming runs: beyond it, syncing and sorting spill to disk."""


# -- data ------------------------------------------------------------------------------------

def comment_words() -> list[list[str]]:
    """The words of every shipped UCI YouTube comment."""
    texts = pl.concat([pl.read_csv(f) for f in sorted((ROOT / "data" / "youtube_raw").glob("*.csv"))])["CONTENT"]
    return [t.split() for t in texts.to_list() if t and t.split()]


def texts(n: int, seed: int, pool: list[list[str]]) -> list[str]:
    """``n`` texts: a run of 3-15 words of a random comment, half the time plus a run of another."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pool), (n, 2))
    starts = rng.random((n, 2))
    lengths = rng.integers(3, 16, (n, 2))
    second = rng.random(n) < 0.5
    out = []
    for i in range(n):
        parts = []
        for k in range(2 if second[i] else 1):
            words = pool[picks[i, k]]
            start = int(starts[i, k] * len(words))
            parts.extend(words[start : start + lengths[i, k]])
        out.append(" ".join(parts))
    return out


def frame(n: int, seed: int, pool: list[list[str]], start: int = 0) -> pl.DataFrame:
    return pl.DataFrame({"id": np.arange(start, start + n), "text": texts(n, seed, pool)}).with_columns(
        pl.col("id").cast(pl.String).alias("example_id")
    )


# -- the 20 rules, three ways -----------------------------------------------------------------

def _row_body(kind: str, arg, label: int):
    if kind == "regex":
        pattern = re.compile(arg, re.I)
        return lambda x: label if pattern.search(x.text) else ABSTAIN
    if kind == "keyword":
        return lambda x: label if any(w in x.text.lower() for w in arg) else ABSTAIN
    return lambda x: label if len(x.text.split()) <= arg else ABSTAIN


def row_lfs(specs=LF_SPECS) -> list[LabelingFunction]:
    return [LabelingFunction(name, _row_body(kind, arg, label)) for name, kind, arg, label in specs]


def vectorized_lfs(specs=LF_SPECS) -> list[VectorizedLabelingFunction]:
    out = []
    for name, kind, arg, label in specs:
        if kind == "regex":
            out.append(regex(name, re.compile(arg, re.I), label))
        elif kind == "keyword":
            out.append(keywords(name, arg, label, whole_words=False))
        else:
            words = pl.col("text").str.count_matches(r"\S+")
            out.append(VectorizedLabelingFunction(name, expr=pl.when(words <= arg).then(label)))
    return out


def natural_lfs(specs=LF_SPECS) -> list[VectorizedLabelingFunction]:
    """The rules as a user writes them in plain polars, each lower-casing the text itself (no builders):
    polars evaluates the shared lower-casing once only in a lazy query."""
    out = []
    for name, kind, arg, label in specs:
        lower = pl.col("text").str.to_lowercase()
        if kind == "regex":
            hit = lower.str.contains(arg)
        elif kind == "keyword":
            hit = pl.any_horizontal(*(lower.str.contains(w, literal=True) for w in arg))
        else:
            hit = pl.col("text").str.count_matches(r"\S+") <= arg
        out.append(VectorizedLabelingFunction(name, expr=pl.when(hit).then(label)))
    return out


def snorkel_lfs(specs=LF_SPECS) -> list:
    from snorkel.labeling import LabelingFunction as SnorkelLF

    return [SnorkelLF(name, _row_body(kind, arg, label)) for name, kind, arg, label in specs]


# -- 1. vectorized vs row-wise vs Snorkel ---------------------------------------------------------

def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def section_kinds(df: pl.DataFrame, snorkel_n: int, repeats: int) -> list[str]:
    from snorkel.labeling import PandasLFApplier

    n = df.height
    run = lambda lfs: apply_lfs(lfs, df, cardinality=2, progress=False, chunk_size=CHUNK).votes.to_dense()  # noqa: E731
    vec_s, vec = timed(lambda: run(vectorized_lfs()), repeats)
    nat_s, nat = timed(lambda: run(natural_lfs()), repeats)
    row_s, row = timed(lambda: run(row_lfs()), 1)
    sub = df.head(snorkel_n).to_pandas()
    sn_s, sn = timed(lambda: PandasLFApplier(snorkel_lfs()).apply(sub, progress_bar=False), 1)
    same_vec = bool(np.array_equal(vec, row))
    same_nat = bool(np.array_equal(nat, row))
    same_sn = bool(np.array_equal(np.asarray(sn), row[:snorkel_n]))
    rates = {"weaksup vectorized": n / vec_s, "weaksup plain polars": n / nat_s, "weaksup row-wise": n / row_s,
             "Snorkel PandasLFApplier": snorkel_n / sn_s}
    snorkel_rate = rates["Snorkel PandasLFApplier"]
    lines = [f"1. {n:,} texts x {len(LF_SPECS)} keyword/regex LFs (Snorkel on the first {snorkel_n:,}); "
             f"vectorized (builders, and plain polars expressions): median of {repeats}, others: 1 run",
             f"   {'applier':<26} {'seconds':>9} {'rows/s':>12} {'x Snorkel':>10}"]
    for name, secs, rows in (("weaksup vectorized", vec_s, n), ("weaksup plain polars", nat_s, n),
                             ("weaksup row-wise", row_s, n), ("Snorkel PandasLFApplier", sn_s, snorkel_n)):
        lines.append(f"   {name:<26} {secs:>9.2f} {rows / secs:>12,.0f} {rows / secs / snorkel_rate:>10.1f}")
    lines.append(f"   votes identical: vectorized = row-wise {same_vec}; plain polars = row-wise {same_nat}; "
                 f"Snorkel = row-wise {same_sn}; "
                 f"non-abstain votes {int((row != -1).sum()):,}")
    lines.append(f"   vectorized / Snorkel: {rates['weaksup vectorized'] / snorkel_rate:.0f}x; plain polars / Snorkel: "
                 f"{rates['weaksup plain polars'] / snorkel_rate:.0f}x (the target: both >= 100x); "
                 f"vectorized / row-wise: {rates['weaksup vectorized'] / rates['weaksup row-wise']:.1f}x")
    return lines


# -- 2. engines ---------------------------------------------------------------------------------

def section_engines(df: pl.DataFrame, tmp: Path, repeats: int) -> list[str]:
    # The LFs come from a file, as in a pipeline: workers get them by value (LFs defined in this
    # script would make each worker import it, and with it everything it imports).
    (tmp / "engine_lfs.py").write_text(lf_module(specs=LF_SPECS[:5]))
    lfs = load_lf_modules([tmp / "engine_lfs.py"])
    versions = [(lf.name, lf.version) for lf in lfs]
    engines = {"serial": SerialEngine(), "2 processes": ProcessEngine(workers=2), "Dask LocalCluster 2": DaskEngine(workers=2)}
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    cpu: dict[str, list[float]] = {name: [] for name in engines}
    loads, dense = [], {}

    def timed_round(name: str, engine: object) -> None:
        path = tmp / "engine.duckdb"
        with VoteStore(path) as store:
            keys = store.examples.sync("d", df.select("example_id", "text"), store.runs.start("b", {})).ex_keys
            t0, c0 = time.perf_counter(), cpu_seconds()
            apply_to_store(store, "d", lfs, df.select("example_id", "text"), keys, cardinality=2, progress=False,
                           chunk_size=CHUNK // 4, engine=engine)  # fmt: skip
            seconds.setdefault(name, []).append(time.perf_counter() - t0)
            cpu.setdefault(name, []).append(cpu_seconds() - c0)
            dense[name] = store.votes.label_matrix(keys, versions).to_dense()
        path.unlink()

    for _ in range(repeats):  # rounds of every engine, so each ratio compares runs minutes apart, not a round apart
        loads.append(os.getloadavg()[0])
        for name, engine in engines.items():
            timed_round(name, engine)
    # Spark's rounds after the others: its idle JVM would load the machine under their timings.
    spark, skipped = spark_session()
    if spark is not None:
        for _ in range(repeats):
            loads.append(os.getloadavg()[0])
            timed_round("Spark local[2]", SparkEngine(workers=2))
        spark.stop()
    med = {name: statistics.median(v) for name, v in seconds.items()}
    rounds = [s / p for s, p in zip(seconds["serial"], seconds["2 processes"])]
    lines = [f"2. {df.height:,} texts x 5 row-wise Python LFs into a store (apply_to_store, commits and worker "
             f"start-up included; Spark's session started once, then its rounds after the others'{skipped}); median of "
             f"{repeats} rounds of every engine (1-min load at each round's start: "
             f"{', '.join(f'{x:.1f}' for x in loads)}); CPU s: this process and its workers, cores: CPU s / seconds",
             f"   {'engine':<22} {'seconds':>9} {'rows/s':>12} {'x serial':>9} {'CPU s':>7} {'cores':>6}"]
    for name, secs in med.items():
        c = statistics.median(cpu[name])
        lines.append(f"   {name:<22} {secs:>9.2f} {df.height / secs:>12,.0f} {med['serial'] / secs:>9.2f} {c:>7.2f} "
                     f"{c / secs:>6.2f}")
    same = all(np.array_equal(dense["serial"], d) for d in dense.values())
    lines.append(f"   votes identical across engines: {same}; 2 processes / serial: {med['serial'] / med['2 processes']:.2f}x "
                 f"(per round: {', '.join(f'{r:.2f}' for r in rounds)}; Done means >= 1.6x)")
    return lines


def spark_session() -> tuple[object | None, str]:
    """A Spark ``local[2]`` session for section 2, or None and why it is skipped (no pyspark, no Java)."""
    try:
        from weaksup.engines.spark import local_spark

        return local_spark("local[2]"), ""
    except (ImportError, RuntimeError) as exc:
        return None, f"; Spark skipped: {exc}"


def cpu_seconds() -> float:
    """CPU seconds of this process, of its children that have exited (Dask's workers), and of every
    live descendant with its own exited children (the forkserver, which forks and reaps the process
    engine's workers; Spark's JVM and the Python workers it starts)."""
    import psutil

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        live += t.user + t.system + t.children_user + t.children_system
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + live


# -- 3. streaming ---------------------------------------------------------------------------------

def write_parquet(path: Path, n: int, pool: list[list[str]], part: int = 1_000_000) -> None:
    """``n`` texts to one Parquet file, ``part`` rows at a time (never all in memory)."""
    writer = None
    for start in range(0, n, part):
        table = frame(min(part, n - start), start // part, pool, start).select("id", "text").to_arrow()
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
    writer.close()


def stream_child(parquet: Path, store_path: Path) -> dict:
    """In a fresh process: scan, sync and apply from the store; report times, votes and peak RSS."""
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with VoteStore(store_path) as store:
        store.set_memory_limit(MEMORY_LIMIT)
        run = store.runs.start("stream", {})
        t0 = time.perf_counter()
        sync = store.examples.sync_batches("d", scan_batches(parquet, id_column="id", batch_rows=CHUNK), run, ["text"])
        t1 = time.perf_counter()
        stats = apply_to_store(store, "d", vectorized_lfs(), StoredExamples(store, "d", {"text": pl.String}),
                               cardinality=2, run_id=run, progress=False, chunk_size=CHUNK)  # fmt: skip
        t2 = time.perf_counter()
        votes = store.query("SELECT count(*) AS n FROM votes")["n"][0]
    return {"n": sync.new, "sync_s": t1 - t0, "apply_s": t2 - t1, "votes": int(votes),
            "applied": sum(stats.applied.values()), "rss_start_mb": rss_start / 1024,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


STREAM_PIPELINE = PIPELINE.replace('id_column = "id"', 'id_column = "id"\nstream = true')


def stream_run_child(folder: Path) -> dict:
    """In a fresh process: one streamed ``weaksup run`` of the pipeline in ``folder``; its metrics and peak RSS."""
    from weaksup.pipeline import run_pipeline

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = run_pipeline(folder / "p.toml", progress=False, say=lambda s: None)
    metrics = {k: v for k, v in result.metrics.items() if k.endswith("_seconds") or k == "lf_applications"}
    return {**metrics, "process_seconds": time.perf_counter() - t0, "rss_start_mb": rss_start / 1024,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def child_json(*args: str) -> dict:
    """Run this file with ``args`` in a fresh process; the JSON line it prints last."""
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def section_streaming(sizes: list[int], tmp: Path) -> list[str]:
    rows, runs = [], []
    for n in sizes:
        folder = tmp / f"stream-run-{n}"
        (folder / "data").mkdir(parents=True)
        parquet = folder / "data" / "part-0.parquet"
        subprocess.run([sys.executable, __file__, "--write", str(parquet), str(n)], check=True)
        rows.append(child_json("--child", str(parquet), str(tmp / f"stream-{n}.duckdb")))
        (tmp / f"stream-{n}.duckdb").unlink()
        (folder / "lfs.py").write_text(vectorized_module())
        (folder / "p.toml").write_text(STREAM_PIPELINE)
        runs.append(child_json("--stream-run-child", str(folder)))
        assert runs[-1]["lf_applications"] == n * len(LF_SPECS)
        shutil.rmtree(folder)
    lines = [f"3. Streaming from Parquet ({CHUNK:,}-row batches), {len(LF_SPECS)} vectorized LFs, a fresh process "
             f"and store each (DuckDB memory_limit {MEMORY_LIMIT}); peak RSS from resource.getrusage",
             f"   {'texts':>11} {'sync s':>8} {'apply s':>8} {'votes':>12} {'votes/s':>11} {'RSS at start MB':>16} "
             f"{'peak RSS MB':>12}"]
    for r in rows:
        lines.append(f"   {r['n']:>11,} {r['sync_s']:>8.1f} {r['apply_s']:>8.1f} {r['votes']:>12,} "
                     f"{r['votes'] / r['apply_s']:>11,.0f} {r['rss_start_mb']:>16.0f} {r['peak_rss_mb']:>12.0f}")
    if len(rows) > 1:
        lines.append(f"   peak RSS at {rows[-1]['n']:,} / at {rows[0]['n']:,}: "
                     f"{rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f} (Done means <= 1.5)")
    lines.append("   the whole streamed run (weaksup run, [data] stream = true, default label model, no end model, "
                 "Parquet training set), a fresh process each; seconds per phase and peak RSS")
    lines.append(f"   {'texts':>11} " + " ".join(f"{p:>8}" for p in (*PHASES, "wall")) + f" {'peak RSS MB':>12}")
    for n, r in zip(sizes, runs):
        lines.append(f"   {n:>11,} " + " ".join(f"{r[f'{p}_seconds']:>8.1f}" for p in (*PHASES, "wall"))
                     + f" {r['peak_rss_mb']:>12.0f}")
    if len(runs) > 1:
        lines.append(f"   peak RSS of the run at {sizes[-1]:,} / at {sizes[0]:,}: "
                     f"{runs[-1]['peak_rss_mb'] / runs[0]['peak_rss_mb']:.2f} (Done means <= 1.5)")
    return lines


# -- 4. the whole run ------------------------------------------------------------------------------

PHASES = ("load", "sync", "apply", "label_model", "labels", "export")


WORD = r"\S+"


def vectorized_module(specs=LF_SPECS) -> str:
    """The 20 rules as an LF file of vectorized LFs (the builders of :func:`vectorized_lfs`)."""
    lines = ["import re", "import polars as pl", "from weaksup.vectorized import VectorizedLabelingFunction, keywords, regex", ""]
    for name, kind, arg, label in specs:
        if kind == "regex":
            lines.append(f"{name} = regex({name!r}, re.compile({arg!r}, re.I), {label})")
        elif kind == "keyword":
            lines.append(f"{name} = keywords({name!r}, {arg!r}, {label}, whole_words=False)")
        else:
            lines.append(f"{name} = VectorizedLabelingFunction({name!r}, "
                         f"expr=pl.when(pl.col('text').str.count_matches({WORD!r}) <= {arg}).then({label}))")
    return "\n".join(lines) + "\n"


def run_child(folder: Path) -> dict:
    """In a fresh process: one ``weaksup run`` of the pipeline in ``folder``; its metrics."""
    from weaksup.pipeline import run_pipeline

    t0 = time.perf_counter()
    result = run_pipeline(folder / "p.toml", progress=False, say=lambda s: None)
    metrics = {k: v for k, v in result.metrics.items() if k.endswith("_seconds") or k == "lf_applications"}
    return {**metrics, "process_seconds": time.perf_counter() - t0}


def section_run(df: pl.DataFrame, tmp: Path, repeats: int) -> list[str]:
    kinds = {"vectorized": vectorized_module(), "row-wise": lf_module()}
    runs: dict[str, list[dict]] = {name: [] for name in kinds}
    loads = []
    for _ in range(repeats):  # rounds of both, so each ratio compares runs a minute apart
        loads.append(os.getloadavg()[0])
        for name, module in kinds.items():
            folder = tmp / f"run-{name}"
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "data").mkdir(parents=True)
            df.select("id", "text").write_parquet(folder / "data" / "part-0.parquet")
            (folder / "lfs.py").write_text(module)
            (folder / "p.toml").write_text(PIPELINE)
            out = subprocess.run([sys.executable, __file__, "--run-child", str(folder)], check=True, capture_output=True,
                                 text=True)  # fmt: skip
            got = json.loads(out.stdout.strip().splitlines()[-1])
            assert got["lf_applications"] == df.height * len(LF_SPECS)
            got["record_report_seconds"] = got["process_seconds"] - got["wall_seconds"]  # run record, manifest, report
            runs[name].append(got)
    med = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    vec, row = med["vectorized"], med["row-wise"]
    rounds = [v["wall_seconds"] / r["wall_seconds"] for v, r in zip(runs["vectorized"], runs["row-wise"])]
    lines = [f"4. weaksup run on {df.height:,} texts x {len(LF_SPECS)} LFs (Parquet source, default label model, no end "
             f"model), a fresh process and store each; median of {repeats} rounds of both (1-min load at each round's "
             f"start: {', '.join(f'{x:.1f}' for x in loads)}); seconds per phase (the run's *_seconds metrics; "
             "process: the whole run_pipeline call)",
             f"   {'phase':<14} {'vectorized':>11} {'row-wise':>10}"]
    for phase in (*PHASES, "wall", "record_report", "process"):
        lines.append(f"   {phase:<14} {vec[f'{phase}_seconds']:>11.2f} {row[f'{phase}_seconds']:>10.2f}")
    lines.append(f"   vectorized / row-wise: wall {vec['wall_seconds'] / row['wall_seconds']:.1%} (per round: "
                 f"{', '.join(f'{r:.1%}' for r in rounds)}), whole call {vec['process_seconds'] / row['process_seconds']:.1%} "
                 "(Done means <= 10%)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="texts in sections 1 and 2")
    parser.add_argument("--snorkel-n", type=int, help="texts Snorkel applies to (default: --n)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the vectorized applier, and rounds of sections 2 and 4 (medians)")
    parser.add_argument("--stream-n", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--sections", default="1234", help="which sections to run, e.g. 13")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--run-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stream-run-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(stream_child(*args.child)))
        return
    if args.run_child:
        print(json.dumps(run_child(args.run_child)))
        return
    if args.stream_run_child:
        print(json.dumps(stream_run_child(args.stream_run_child)))
        return
    pool = comment_words()
    if args.write:
        write_parquet(Path(args.write[0]), int(args.write[1]), pool)
        return
    load_before = os.getloadavg()
    sections: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="weaksup-apply-bench-") as tmp:
        # Streaming first, while this process is small: Linux carries a parent's peak RSS
        # into children it forks, so the children's figures would include ours.
        if "3" in args.sections:
            sections["3"] = section_streaming(args.stream_n, Path(tmp))
        if set("124") & set(args.sections):
            df = frame(args.n, 0, pool)
        if "1" in args.sections:
            sections["1"] = section_kinds(df, args.snorkel_n or args.n, args.repeats) + [""]
        if "2" in args.sections:
            sections["2"] = section_engines(df, Path(tmp), args.repeats) + [""]
        if "4" in args.sections:
            sections["4"] = section_run(df, Path(tmp), args.repeats) + [""]
    lines = [line for key in sorted(sections) for line in sections[key]]
    load_after = os.getloadavg()
    head = [
        f"weaksup LF application benchmark: synthetic texts drawn from {len(pool):,} shipped YouTube comments",
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs shared with other work; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_before)} before and {'/'.join(f'{x:.1f}' for x in load_after)} after",
        "",
    ]
    report = "\n".join(head + lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
