"""A prompted multi-label LF with the local model on a sample of GoEmotions dev (issue 22).

The six labels of Argilla's tutorial; a fixed sample of 150 dev comments carrying at least one of
them (seed 0).  ``labeling_functions/goemotions_prompts.py`` asks SmolLM2-135M-Instruct (served
locally by ``weaksup serve-model``: llama.cpp, 4 slots, 1 thread, concurrency 4) one yes/no
question per label in logprobs mode; "yes" votes the label present.  Each question is calibrated
on a dev set of 100 *train* comments of the subset (seed 0; batch calibration, and gold per label
for ``min_lift``) and abstains outside the 30% of that dev set it is surest about: coverage 0.3 and
min_lift 0.2 are what ``benchmarks/llm_table.py`` chose leave-one-set-out for yes/no LFs on
youtube and sms (without its shots), fixed here before any GoEmotions score was seen.

Printed: each question's coverage and precision on the sample, under that configuration and,
for comparison, without ``min_lift`` (the same prompts: no request more); how well the model's
P(yes) ranks the sample's comments for its label (ROC AUC, 0.5 is chance); and our label model's
micro-F1 (``MultiLabelModel``, default settings, fitted on the sample's votes without gold) with
the keyword LFs of ``labeling_functions/goemotions.py`` alone and with the prompted LFs beside
them, on all 150 comments and on those the keyword LFs cover; per-label majority vote beside it.
One run; the answers are cached in ``--cache`` (a rerun asks nothing).  Test is not touched.

    .venv/bin/python benchmarks/multilabel_prompted.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from llm_table import available, serve  # noqa: E402  (the LLM benchmark's way of serving the local model)

from weaksup.apply import apply_to_store  # noqa: E402
from weaksup.label_types.multilabel import MULTILABEL  # noqa: E402
from weaksup.lf import Row  # noqa: E402
from weaksup.label_types.multilabel_votes import MultiLabelVotes  # noqa: E402
from weaksup.llm import DevSet, LLMSettings, configure  # noqa: E402
from weaksup.model import MultiLabelModel, PerLabelMajorityVote  # noqa: E402
from weaksup.store import VoteStore  # noqa: E402

DATA = Path("/work/shared/data/goemotions")
RESULTS = ROOT / "benchmarks" / "results" / "multilabel.txt"
SECTION = "## A prompted LF with the local model (benchmarks/multilabel_prompted.py)"
N, DEV_N, SEED = 150, 100, 0
COVERAGE, MIN_LIFT = 0.3, 0.2


def module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "labeling_functions" / f"{name}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def sample(split: str, labels: list[str], n: int) -> tuple[pl.DataFrame, np.ndarray]:
    """``n`` comments of ``split`` carrying at least one of ``labels`` (seed 0), and their (n, k) gold."""
    frame = pl.read_ndjson(DATA / f"{split}.jsonl.gz")
    gold = np.stack([frame["labels"].list.contains(c).to_numpy() for c in labels], axis=1).astype(np.int8)
    keep = np.flatnonzero(gold.any(axis=1))
    pick = np.sort(np.random.default_rng(SEED).choice(keep, n, replace=False))
    return frame[pick].select(pl.col("id").alias("example_id"), "text"), gold[pick]


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


CONFIGS = {
    "cov 0.3 + min_lift 0.2": {"calibrate": "batch", "coverage": COVERAGE, "min_lift": MIN_LIFT},
    "cov 0.3 alone": {"calibrate": "batch", "coverage": COVERAGE},
}
"""The configuration chosen beforehand, and the same without min_lift (for comparison: what the
questions' votes do to the label model when they are let through).  Both ask the same prompts."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=None, help="a folder keeping the votes and answers (a rerun asks nothing)")
    args = parser.parse_args()
    if why := available("smollm2"):
        raise SystemExit(f"the local model cannot run here: {why}")
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    keywords, prompts = module("goemotions"), module("goemotions_prompts")
    labels = keywords.TUTORIAL_LABELS
    scored, gold = sample("dev", labels, N)
    dev, dev_gold = sample("train", labels, DEV_N)
    devs = [DevSet(dev, gold=np.where(dev_gold[:, j] == 1, j, -1).tolist()) for j in range(len(labels))]
    keyword = keywords.lfs_for(labels)
    say(SECTION)
    say(f"machine load (1/5/15 min) at start: {load()} on {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    folder = Path(args.cache or tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    proc, url, _ = serve("smollm2")
    votes, p_yes = {}, []
    try:
        with VoteStore(folder / "goemotions_prompted.duckdb") as store:
            run = store.runs.start("multilabel_prompted", {})
            dataset = f"goemotions_dev_sample_{run}"  # a dataset per run: every run applies the LFs (answers: cached)
            keys = store.examples.sync(dataset, scored, run).ex_keys
            for config, options in CONFIGS.items():
                prompted = [prompts.ask(c, labels, dev=devs[j], **options) for j, c in enumerate(labels)]
                state: dict = {}
                session = configure(state, LLMSettings(base_url=url, concurrency=4, timeout=600, max_attempts=3))
                t0 = time.perf_counter()
                apply_to_store(store, dataset, [*keyword, *prompted], scored, keys, cardinality=len(labels),
                               run_id=run, progress=False, state=state, classes=labels)  # fmt: skip
                s = session.summary()
                say(f"{config}: {s['requests']} requests, {s['cache_hits']} cache hits, {time.perf_counter() - t0:.0f} s; "
                    f"load after: {load()}")  # fmt: skip
                lfs = [*keyword, *prompted]
                votes[config] = store.votes.read("multilabel", keys, [(lf.name, lf.version) for lf in lfs], k=len(labels))
            with store.llm_cache() as cache:
                p_yes = [yes_probability(lf, scored, cache) for lf in prompted]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    say(f"{N} dev comments (seed {SEED}); each question calibrated on {DEV_N} train comments")
    report(votes, p_yes, gold, labels, len(keyword), say)
    say(f"machine load at end: {load()}")
    text = RESULTS.read_text()
    kept = text[: text.index(SECTION)].rstrip("\n") if SECTION in text else text.rstrip("\n")
    RESULTS.write_text(kept + "\n\n" + "\n".join(lines) + "\n")


def yes_probability(lf: Any, frame: pl.DataFrame, cache: Any) -> np.ndarray:
    """Per comment, the model's probability of "yes" to ``lf``'s question, from the cached answers."""
    messages = [lf.messages(lf.fields(Row(row))) for row in frame.iter_rows(named=True)]
    got = cache.get([lf.cache_key(m) for m in messages])
    yes = lf.choices.index("yes")
    out = [lf.verbalizer.probs(got[lf.cache_key(m)].get("top_logprobs"))[0] for m in messages]
    return np.array([np.nan if p is None else p[yes] for p in out])


def first_lfs(votes: MultiLabelVotes, m: int) -> MultiLabelVotes:
    """The votes of the first ``m`` LFs."""
    mine = votes.cols < m
    return MultiLabelVotes.from_entries(votes.rows[mine], votes.cols[mine], votes.labels[mine], votes.present[mine],
                                        votes.n, m, votes.k, votes.lf_names[:m] if votes.lf_names else None)  # fmt: skip


def report(votes: dict[str, MultiLabelVotes], p_yes: list[np.ndarray], gold: np.ndarray, labels: list[str],
           n_keyword: int, say: Callable[[str], None]) -> None:  # fmt: skip
    """Per prompted LF: coverage and precision under each configuration, and how well the model's
    P(yes) ranks the comments (ROC AUC; 0.5 is chance); the label models with and without them."""
    from sklearn.metrics import roc_auc_score

    dense = {config: v.to_dense() for config, v in votes.items()}  # (n, m, k): 1 present, 0 absent, -1 silent
    say(f"  {'prompted LF':18s}{'share':>7s}{'AUC of P(yes)':>15s}" + "".join(f"{c + ': cov / prec':>36s}" for c in votes))
    for j, c in enumerate(labels):
        ok = ~np.isnan(p_yes[j])
        cells = ""
        for d in dense.values():
            voted = d[:, n_keyword + j, j] == 1
            precision = f"{gold[voted, j].mean():.2f}" if voted.any() else "-"
            cells += f"{voted.mean():>29.2f} / {precision:>4s}"
        say(f"  llm_{c:14s}{gold[:, j].mean():7.2f}{roc_auc_score(gold[ok, j], p_yes[j][ok]):15.2f}{cells}")
    first = next(iter(votes.values()))
    covered = (dense[next(iter(votes))][:, :n_keyword] >= 0).any(axis=(1, 2))
    say(f"  micro-F1, label models fitted on the sample's votes (no gold); the keyword LFs cover {covered.mean():.2f} of it:")
    say(f"  {'':58s}{'all 150':>9s}{'keyword-covered':>17s}")
    rows = [("keyword LFs", first_lfs(first, n_keyword))] + [(f"keyword + prompted ({c})", v) for c, v in votes.items()]
    for name, v in rows:
        for model in (MultiLabelModel(cardinality=len(labels)), PerLabelMajorityVote(cardinality=len(labels))):
            pred = model.fit(v).predict(v)
            every = MULTILABEL.metrics(pred, gold)["micro_f1"]
            kw = MULTILABEL.metrics(pred[covered], gold[covered])["micro_f1"]
            which = " ours" if isinstance(model, MultiLabelModel) else " per-label MV"
            say(f"  {name + which:58s}{every:9.3f}{kw:17.3f}")


if __name__ == "__main__":
    main()
