"""Incremental runs against a full run: 1M synthetic short texts, 20 regex and keyword LFs.

One pipeline (Parquet files, row-wise Python LFs, the default label model, no end model) is run
three times on one store, from the same process:

1. full: a fresh store, every LF applied to every example;
2. +1% examples: a new Parquet file with ``n / 100`` new texts arrives;
3. one LF changed: one of the 20 LFs is edited (its pattern changes).

For each it prints the wall time of ``run_pipeline`` and its LF-application time (``apply_seconds``:
planning, applying, committing votes), and each incremental run's ratio to the full run. The full
run is the peer: it is what re-applying every LF to every example costs, as a tool without a vote
store must. Done means: +1% examples at most 5%, and one changed LF at most 10%, of the full run's
LF-application time.  With ``--repeats R`` the whole sequence runs R times (fresh stores) and
medians are reported.

    python benchmarks/incremental.py                  # 1M texts (a few minutes on 2 cores)
    python benchmarks/incremental.py --n 50000 --repeats 3 --out benchmarks/results/incremental.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from weaksup.pipeline import load_config, run_pipeline

WORDS = (
    "the a this that my your our love song video music great best ever beautiful amazing nice cool "
    "voice beat dance lyrics singer views billion million year watching still here who anyone else "
    "really so very much like good bad awesome wow omg lol haha epic legend queen king perfect "
    "favorite old new time again remember first day night life world people everyone guys girl boy"
).split()
SPAM = (
    "subscribe to my channel|check out my video|visit www.example.com|http://bit.ly/x|free gift card|"
    "win cash now|follow me on instagram|please like and share|sub4sub|earn money online|"
    "my new song|click here|promo code|facebook page|hey guys i make music"
).split("|")

LF_SPECS = [
    ("subscribe", "keyword", ("subscribe", "sub4sub"), 1),
    ("check_out", "regex", r"check\s+(it\s+)?out", 1),
    ("link", "regex", r"https?://|www\.|\.com\b|\.ly/", 1),
    ("my_channel", "regex", r"\bmy\s+(channel|video|song|music)", 1),
    ("social", "keyword", ("instagram", "facebook", "twitter", "follow me"), 1),
    ("money", "regex", r"\b(cash|money|earn|free|gift\s*card|promo)\b", 1),
    ("please", "regex", r"\bplease\b.*\b(like|share|subscribe)\b", 1),
    ("click", "keyword", ("click here", "click"), 1),
    ("win", "regex", r"\bwin\b", 1),
    ("intro", "regex", r"\bhey\s+guys\b|\bi\s+make\b", 1),
    ("short", "length", 4, 0),
    ("love", "keyword", ("love", "beautiful", "amazing"), 0),
    ("song", "regex", r"\b(song|music|beat|voice|lyrics)\b", 0),
    ("views", "regex", r"\b(views|billion|million)\b", 0),
    ("still", "regex", r"\bstill\s+(here|watching)\b|\banyone\s+else\b", 0),
    ("lol", "keyword", ("lol", "haha", "omg"), 0),
    ("best", "regex", r"\bbest\s+(song|video|ever)\b", 0),
    ("queen", "keyword", ("queen", "king", "legend"), 0),
    ("remember", "regex", r"\bremember\b|\bold\b", 0),
    ("wow", "keyword", ("wow", "epic", "perfect"), 0),
]
CHANGED = "win"
"""The LF edited for the third run."""


def lf_module(changed: bool = False, specs: list = LF_SPECS) -> str:
    """The LFs of ``specs`` (default: the 20) as a Python module (``changed`` edits one of them)."""
    lines = ["import re", "from weaksup import ABSTAIN, labeling_function", ""]
    for name, kind, arg, label in specs:
        if changed and name == CHANGED:
            arg = r"\bwin(ner|s)?\b"
        lines.append("")
        if kind == "regex":
            lines.append(f"@labeling_function(resources={{'pattern': re.compile({arg!r}, re.I)}})")
            lines.append(f"def {name}(x, pattern):")
            lines.append(f"    return {label} if pattern.search(x.text) else ABSTAIN")
        elif kind == "keyword":
            lines.append(f"@labeling_function(resources={{'words': {arg!r}}})")
            lines.append(f"def {name}(x, words):")
            lines.append("    text = x.text.lower()")
            lines.append(f"    return {label} if any(w in text for w in words) else ABSTAIN")
        else:
            lines.append("@labeling_function()")
            lines.append(f"def {name}(x):")
            lines.append(f"    return {label} if len(x.text.split()) <= {arg} else ABSTAIN")
        lines.append("")
    return "\n".join(lines)


def texts(n: int, seed: int, start: int) -> pl.DataFrame:
    """``n`` short synthetic comments (about 1 in 4 with a spam phrase), ids ``start..start+n-1``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 13, n)
    words = np.asarray(WORDS, dtype=object)[rng.integers(0, len(WORDS), lengths.sum())]
    cuts = np.cumsum(lengths)[:-1]
    spam = rng.random(n) < 0.25
    phrases = np.asarray(SPAM, dtype=object)[rng.integers(0, len(SPAM), n)]
    body = [" ".join(ws) for ws in np.split(words, cuts)]
    text = [f"{b} {p}" if s else b for b, s, p in zip(body, spam, phrases)]
    return pl.DataFrame({"id": np.arange(start, start + n), "text": text})


PIPELINE = """name = "bench"
store = "store.duckdb"

[data]
source = "data/*.parquet"
id_column = "id"

[labels]
classes = ["HAM", "SPAM"]

[lfs]
modules = ["lfs.py"]

[trainer]
name = "none"

[export]
dir = "exports"
formats = ["parquet"]
"""


PHASES = ("load", "sync", "apply", "label_model", "labels", "export")


def one_sequence(n: int, seed: int, work: Path) -> dict[str, tuple[float, ...]]:
    """Full run, +1% examples, one changed LF: (wall seconds, LF-application seconds, then each
    phase's seconds) of each."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    texts(n, seed, 0).write_parquet(work / "data" / "part-0.parquet")
    (work / "lfs.py").write_text(lf_module())
    (work / "p.toml").write_text(PIPELINE)
    quiet = {"progress": False, "say": lambda s: None}
    out = {}

    def run(step: str, expect_applications: int) -> None:
        t0 = time.perf_counter()
        result = run_pipeline(load_config(work / "p.toml"), **quiet)
        wall = time.perf_counter() - t0
        out[step] = (wall, result.metrics["apply_seconds"], *(result.metrics[f"{p}_seconds"] for p in PHASES))
        got = result.metrics["lf_applications"]
        assert got == expect_applications, f"{step}: {got} LF applications, expected {expect_applications}"

    m = len(LF_SPECS)
    run("full run", n * m)
    extra = n // 100
    texts(extra, seed + 1, n).write_parquet(work / "data" / "part-1.parquet")
    run("+1% examples", extra * m)
    (work / "lfs.py").write_text(lf_module(changed=True))
    run("one LF changed", n + extra)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="examples in the full run")
    parser.add_argument("--repeats", type=int, default=1, help="run the sequence this many times; report medians")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="weaksup-bench-") as tmp:
        runs = [one_sequence(args.n, seed, Path(tmp) / f"r{seed}") for seed in range(args.repeats)]
    load_after = os.getloadavg()[0]
    med = {step: tuple(statistics.median(r[step][i] for r in runs) for i in range(len(runs[0][step]))) for step in runs[0]}
    full_wall, full_apply = med["full run"][:2]
    lines = [
        f"weaksup incremental runs: {args.n:,} synthetic texts, {len(LF_SPECS)} regex/keyword LFs (row-wise Python), "
        f"label model 'label_model', no end model; median of {args.repeats} sequence(s)",
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()}, {os.cpu_count()} CPUs, load average {load_before:.1f} before and {load_after:.1f} after "
        "(ratios compare runs of one process on the same machine)",
        "",
        f"{'run':<16} {'wall s':>9} {'LF-apply s':>11} {'wall / full':>12} {'apply / full':>13}  Done means",
    ]
    limits = {"+1% examples": 0.05, "one LF changed": 0.10}
    for step, (wall, apply, *_) in med.items():
        if step == "full run":
            lines.append(f"{step:<16} {wall:>9.2f} {apply:>11.2f} {'1':>12} {'1':>13}")
            continue
        ratio = apply / full_apply
        verdict = f"apply <= {limits[step]:.0%}: {'yes' if ratio <= limits[step] else 'NO'}"
        lines.append(f"{step:<16} {wall:>9.2f} {apply:>11.2f} {wall / full_wall:>12.3f} {ratio:>13.3f}  {verdict}")
    lines += ["", "seconds per phase (the rest of wall time: reading the LF files, status and history files)",
              f"{'run':<16} " + " ".join(f"{p:>11}" for p in PHASES)]
    lines += [f"{step:<16} " + " ".join(f"{v:>11.2f}" for v in values[2:]) for step, values in med.items()]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
