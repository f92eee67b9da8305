"""Prompted LFs: throughput against the fake chat server (50 ms latency), warm-cache reruns,
and the table of calibrated, abstaining and few-shot prompted LFs on real small models
(benchmarks/llm_table.py) on WRENCH youtube test and a 500-row sample of sms train.

Run from the repository root::

    .venv/bin/python benchmarks/llm_lfs.py              # full run, writes benchmarks/results/llm_lfs.txt
    .venv/bin/python benchmarks/llm_lfs.py --quick      # 400 prompts, 1 repeat, 8 real examples

Throughput: the fake server (tests/support/llm_server.py) runs in its own process and sleeps 50 ms per
request.  2,000 distinct prompts (WRENCH youtube comments, numbered) go through one prompted LF
with the applier's "prompt" batch function into a fresh DuckDB store, sequentially (concurrency 1)
and at concurrency 8, 32 and 64; requests per second are medians over the repeats.  Beside each
figure is the peer: the bare ``AsyncOpenAI`` client (``chat.completions.create`` under an
``asyncio.Semaphore``, no cache, no retries layer, no accounting) at the same concurrency.  Then
the same 2,000 are rerun against the concurrency-32 store: the requests the server receives
must be 0.

Real models: see benchmarks/llm_table.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.llm_server import FakeServer

from llm_table import real_model  # the real models' table (benchmarks/llm_table.py)

from weaksup.apply import ApplyContext, apply_chunk
from weaksup.data import load_wrench
from weaksup.llm import LLMSettings, PromptLabelingFunction, configure
from weaksup.store import VoteStore

DATA = ROOT / "data" / "youtube"
SHARED = ROOT.parent / "shared" / "data" / "youtube"
TEMPLATE = "Is this YouTube comment spam? Answer yes or no.\nComment: {text}"


def say(lines: list[str], text: str = "") -> None:
    print(text, flush=True)
    lines.append(text)


def youtube() -> pl.DataFrame:
    return load_wrench(DATA if DATA.exists() else SHARED)


def prompts_frame(n: int) -> pl.DataFrame:
    texts = youtube()["text"].to_list()
    rows = [f"{t} (#{i})" for i, t in zip(range(n), itertools.cycle(texts))]
    return pl.DataFrame({"example_id": [f"p{i}" for i in range(n)], "text": rows})


def run_ours(server: FakeServer, lf: PromptLabelingFunction, frame: pl.DataFrame, store: VoteStore, c: int) -> float:
    """Requests per second of the prompt batch function on ``frame``; checks every prompt was sent once."""
    before = server.stats()["total"]
    state: dict = {}
    session = configure(state, LLMSettings(base_url=server.base_url, concurrency=c, timeout=30))
    t0 = time.perf_counter()
    outputs = apply_chunk([lf], frame, ApplyContext(2, store=store, run_id=None, progress=False, state=state))
    seconds = time.perf_counter() - t0
    sent = server.stats()["total"] - before
    assert sent == frame.height == session.summary()["requests"], (sent, session.summary())
    assert not outputs[0].errors
    return frame.height / seconds


def run_raw(server: FakeServer, frame: pl.DataFrame, c: int) -> float:
    """The peer: bare AsyncOpenAI calls at concurrency ``c`` (no cache, no accounting)."""
    import openai

    prompts = [TEMPLATE.format(text=t) for t in frame["text"]]

    async def go() -> float:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="no-key", max_retries=0) as client:
            gate = asyncio.Semaphore(c)

            async def one(p: str) -> None:
                async with gate:
                    await client.chat.completions.create(
                        model="fake", messages=[{"role": "user", "content": p}], temperature=0.0, max_tokens=8
                    )

            t0 = time.perf_counter()
            await asyncio.gather(*(one(p) for p in prompts))
            return len(prompts) / (time.perf_counter() - t0)

    return asyncio.run(go())


def throughput(lines: list[str], n: int, repeats: int, folder: Path) -> None:
    say(lines, f"## Throughput: {n} prompts, fake server with 50 ms latency (medians of {repeats}; sequential: 1 run)")
    frame = prompts_frame(n)
    lf = PromptLabelingFunction("is_spam", TEMPLATE, {"yes": 1, "no": 0}, "fake")
    with FakeServer(latency=0.05) as server:
        rows = []
        seq_ours = seq_raw = None
        warm_store = None
        for label, c in (("sequential", 1), ("concurrency 8", 8), ("concurrency 32", 32), ("concurrency 64", 64)):
            reps = 1 if c == 1 else repeats
            ours, raw = [], []
            for r in range(reps):
                store = VoteStore(folder / f"c{c}-{r}.duckdb")
                ours.append(run_ours(server, lf, frame, store, c))
                if c == 32 and r == 0:
                    warm_store = store
                else:
                    store.close()
                raw.append(run_raw(server, frame, c))
            o, p = statistics.median(ours), statistics.median(raw)
            seq_ours, seq_raw = seq_ours or o, seq_raw or p
            rows.append((label, o, o / seq_ours, p, p / seq_raw, o / p))
        say(lines, f"{'':16s} {'weaksup req/s':>14s} {'x sequential':>13s} {'raw client req/s':>17s} "
                   f"{'x sequential':>13s} {'weaksup/raw':>12s}")  # fmt: skip
        for label, o, ox, p, px, ratio in rows:
            say(lines, f"{label:16s} {o:14.1f} {ox:12.1f}x {p:17.1f} {px:12.1f}x {ratio:12.2f}")
        speedup32 = rows[2][2]
        say(lines, f"concurrency 32 vs sequential: {speedup32:.1f}x (done means: >= 20x) -> "
                   f"{'PASS' if speedup32 >= 20 else 'FAIL'}")  # fmt: skip

        before = server.stats()["total"]
        state: dict = {}
        session = configure(state, LLMSettings(base_url=server.base_url, concurrency=32))
        t0 = time.perf_counter()
        apply_chunk([lf], frame, ApplyContext(2, store=warm_store, progress=False, state=state))
        seconds = time.perf_counter() - t0
        sent = server.stats()["total"] - before
        warm_store.close()
        verdict = "PASS" if sent == 0 else "FAIL"
        say(lines, f"warm rerun of the same {n}: {sent} requests sent (done means: 0 -> {verdict}), "
                   f"{session.summary()['cache_hits']} cache hits, {seconds:.2f} s wall "
                   f"(cold at concurrency 32: {n / rows[2][1]:.2f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 prompts, 1 repeat, 8 real examples")
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--real-examples", type=int, default=250, help="youtube test comments (sms: twice as many)")
    parser.add_argument("--models", default="smollm2,gemma3", help="real models to run: smollm2, gemma3")
    parser.add_argument("--gemma-examples", type=int, default=100,
                        help="youtube test comments for gemma3 (sms: twice as many): fewer, on 2 busy cores")
    parser.add_argument("--cache", default=None,
                        help="a folder keeping each real model's answers in <model>.duckdb (a rerun asks nothing)")
    parser.add_argument("--skip-throughput", action="store_true", help="only the real models' table")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "llm_lfs.txt"))
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.repeats, args.real_examples = 400, 1, 8
    lines: list[str] = []
    say(lines, f"# benchmarks/llm_lfs.py ({time.strftime('%Y-%m-%d %H:%M')}, {args.prompts} prompts)")

    def write() -> None:  # after each section: a long run keeps what it has measured
        if not args.quick:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text("\n".join(lines) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            throughput(lines, args.prompts, args.repeats, Path(tmp))
            write()
        for model in args.models.split(","):
            n = args.gemma_examples if model == "gemma3" else args.real_examples
            real_model(lines, model, n, Path(args.cache or tmp) / f"{model}.duckdb")
            write()
    if not args.quick:
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
