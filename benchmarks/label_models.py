"""Categorical label models: the leave-one-set-out quality table on every shared set, then speed and memory at scale.

Run from the repository root::

    .venv/bin/python benchmarks/label_models.py                  # full run (an hour or more)
    .venv/bin/python benchmarks/label_models.py --quick          # reduced scale section
    .venv/bin/python benchmarks/label_models.py --quality-only   # no scale section

It prints one report and writes it to ``benchmarks/results/label_models.txt`` (``--out``).  Every
quality figure is kept as it is computed in ``benchmarks/results/label_models_scores.json``
(``--cache``), so an interrupted run, or one with a new set or setting, computes only what is
missing; ``--fresh`` recomputes all (needed after a change to a model's code).
HyperLM's column needs ``pip install --no-deps hyperlm`` (its checkpoint ships in the wheel; torch
is the dev extra's); it is left out when hyperlm is not importable.

Quality (``_sets.py``, ``_stress.py``): every set of ``../shared/data`` (WRENCH youtube, sms
train, trec, imdb, hausa, yelp, basketball, tennis, commercial, cdr; the crowd sets rte, temp,
websearch, sentiment, relevance), the imbalanced sms/youtube train subsets, the recorded votes of
the project's prompted LFs (``fixtures/``), and stress sets derived from the shared data for the
regimes of issue 20.  Each set is scored by the shared README's metric (F1 of class 1 where it
says so, accuracy elsewhere), each score the mean over 10 tie-break seeds; Brier and ECE score
the probabilities, macro-F1 the labels.

The default's settings are chosen leave-one-set-out (``_loso.py``): every setting of the grid is
scored on every set, and each set's figure is that of the setting chosen on the other sets.
Fit times of ours and Snorkel's are taken in a fresh process per set (``--time-fit``): after
torch has run (Snorkel, HyperLM), numpy fits in the same process run 2 to 3 times slower.

Scale: see ``_scale.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loso import (  # noqa: E402
    best_peer, choose, choose_by_passes, leave_one_set_out, passes, setting_name, settings_grid,
)  # fmt: skip
from _scale import OURS, ROWS, SNORKEL, scale_checks, scale_section, worker  # noqa: E402
from _sets import BenchSet, all_sets, brier, ece, score, set_named  # noqa: E402
from _stress import stress_sets  # noqa: E402

from weaksup.evaluation import class_scores  # noqa: E402
from weaksup.model import AutoLabelModel, make_label_model  # noqa: E402
from weaksup.votes import SparseVotes  # noqa: E402

__all__ = ["ROWS", "TIE_SEEDS"]  # sms_votes.py reads them

COLUMNS = {  # report name -> (registry name, params); HyperLM is not a weaksup model
    "MV": ("majority_vote", {}),
    "DS skip": ("dawid_skene", {"abstain": "skip"}),
    "DS observe": ("dawid_skene", {"abstain": "observe"}),
    SNORKEL: ("snorkel", {"n_epochs": 500, "lr": 0.01}),
    "HyperLM": ("", {}),
}
NOT_RUN = {("crowd/relevance", SNORKEL): "over 10 min (a 3064 x 3064 overlap matrix, 500 epochs)"}
"""Cells left out, with why."""
TIE_SEEDS = range(10)
REPEATS = 3


# -- peers -----------------------------------------------------------------------------------


def _hyperlm() -> Any:
    """HyperLM's pre-trained model, or None when it is not installed."""
    try:
        import torch
        from hyperlm import HyperLabelModel
    except ImportError:
        return None
    load = torch.load
    torch.load = lambda *a, **kw: load(*a, **{**kw, "weights_only": False})  # its checkpoint predates the default
    try:
        return HyperLabelModel()
    finally:
        torch.load = load


class HyperLM:
    """HyperLM behind the benchmark's fit/predict_proba/predict: no fit, one forward pass."""

    def __init__(self, net: Any, k: int, seed: int = 0) -> None:
        self.net, self.k, self.seed = net, k, seed

    def fit(self, L: SparseVotes) -> HyperLM:
        return self

    def set_params(self, seed: int) -> HyperLM:
        self.seed = seed
        return self

    def predict_proba(self, L: SparseVotes) -> np.ndarray:
        """HyperLM's probabilities on the covered rows (it drops trailing all-abstain rows and numbers
        classes up to the largest vote), uniform on the others."""
        dense = L.to_dense()
        covered = (dense >= 0).any(axis=1)
        out = np.full((L.n, self.k), 1.0 / self.k)
        if covered.any():
            proba = np.asarray(self.net.infer(dense[covered], return_probs=True), dtype=float)
            part = np.full((int(covered.sum()), self.k), 1e-12)
            part[:, : proba.shape[1]] += np.nan_to_num(proba, nan=1.0 / self.k)
            out[covered] = part / part.sum(axis=1, keepdims=True)
        return out

    def predict(self, L: SparseVotes) -> np.ndarray:
        proba = self.predict_proba(L)
        tied = proba >= proba.max(axis=1, keepdims=True) - 1e-9
        return np.where(tied, np.random.default_rng(self.seed).random(proba.shape), -1.0).argmax(axis=1)


def evaluate(model: Any, s: BenchSet) -> dict[str, Any]:
    """Fit on ``s.L_fit``; score, macro-F1 (means over the tie seeds), Brier and ECE on ``s.L_test``,
    per-class precision/recall/F1 of the first seed's labels."""
    start = time.perf_counter()
    model.fit(s.L_fit)
    fit_s = time.perf_counter() - start
    proba = model.predict_proba(s.L_test)
    labels = [model.set_params(seed=t).predict(s.L_test) for t in TIE_SEEDS]
    classes = [str(c) for c in range(s.k)]
    per_seed = [class_scores(pred, s.y_test, classes) for pred in labels]
    out = {
        "score": float(np.mean([score(s.metric, s.y_test, pred) for pred in labels])),
        "macro_f1": float(np.mean([c["macro_f1"] for c in per_seed])),
        "per_class": per_seed[0]["per_class"],
        "brier": brier(s.y_test, proba),
        "ece": ece(s.y_test, proba),
        "fit_s": fit_s,
    }
    if isinstance(model, AutoLabelModel):
        out["chosen"] = model.chosen_
    return out


class ScoreCache:
    """Figures already computed, by key, in a JSON file (``--cache``): a rerun after an interruption
    or with a larger grid computes only what is missing.  ``--fresh`` starts it anew (after any
    change to a model's code)."""

    def __init__(self, path: Path | None, fresh: bool) -> None:
        self.path = path
        self.figures: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists() and not fresh:
            self.figures = json.loads(path.read_text())

    def get(self, key: str, compute: Any) -> dict[str, Any]:
        if key not in self.figures:
            self.figures[key] = compute()
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(self.figures, indent=0, default=float))
        return self.figures[key]


def peer_results(sets: list[BenchSet], cache: ScoreCache) -> dict[tuple[str, str], dict[str, Any]]:
    hyper = _hyperlm()
    results = {}
    for s in sets:
        for col, (name, params) in COLUMNS.items():
            if (s.name, col) in NOT_RUN or (col == "HyperLM" and hyper is None):
                continue
            model = HyperLM(hyper, s.k) if col == "HyperLM" else make_label_model(name, cardinality=s.k, seed=0, **params)
            try:
                results[s.name, col] = cache.get(f"{s.name}|{col}", lambda: evaluate(model, s))
            except ValueError as error:  # e.g. Dawid–Skene needs 3 LFs that vote
                print(f"  {s.name} {col}: {error}", file=sys.stderr)
                continue
            print(f"  {s.name:28} {col:15} {results[s.name, col]['score']:.3f}", file=sys.stderr, flush=True)
    return results


def our_results(sets: list[BenchSet], cache: ScoreCache) -> dict[str, dict[str, dict[str, Any]]]:
    """Every setting of the grid on every set: setting name -> set -> figures."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for setting in settings_grid():
        name = setting_name(setting)
        out[name] = {
            s.name: cache.get(f"{s.name}|{OURS} {name}", lambda s=s: evaluate(AutoLabelModel(cardinality=s.k, seed=0, **setting), s))
            for s in sets
        }
        print(f"  {name}: mean {np.mean([r['score'] for r in out[name].values()]):.3f}", file=sys.stderr, flush=True)
    return out


# -- fit times -------------------------------------------------------------------------------


def time_fits(set_name: str, col: str) -> float:
    """Median seconds of ``col``'s fit on ``set_name`` (``REPEATS`` fits on sets fit on another split,
    else 1) after one untimed fit, in this process."""
    s = set_named(set_name)
    name, params = ROWS[col]
    make_label_model(name, cardinality=s.k, seed=0, **params).fit(s.L_fit)  # warm-up: torch's and scipy's first calls
    times = []
    for _ in range(REPEATS if s.L_fit is not s.L_test else 1):
        model = make_label_model(name, cardinality=s.k, seed=0, **params)
        start = time.perf_counter()
        model.fit(s.L_fit)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_fit_timer(set_name: str, col: str) -> float:
    """:func:`time_fits` in a fresh process: torch's threads, left running by Snorkel and HyperLM
    in this one, slow the numpy fits that follow them 2 to 3 times."""
    cmd = [sys.executable, __file__, "--time-fit", set_name, col]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


# -- the report ------------------------------------------------------------------------------


def quality_section(lines: list[str], timing: bool, cache: ScoreCache) -> dict[str, Any]:
    shared, derived = all_sets(), stress_sets()
    sets = shared + derived
    peers = peer_results(sets, cache)
    ours = our_results(sets, cache)
    names = [s.name for s in sets]
    peer_scores = {s: {c: peers[s, c]["score"] for c in COLUMNS if (s, c) in peers} for s in names}
    choice = leave_one_set_out(names, peer_scores, ours)
    loso = {s: ours[choice[s]][s] for s in names}
    by_passes = leave_one_set_out(names, peer_scores, ours, choose_by_passes)
    everywhere = choose(names, peer_scores, ours)
    cols = [c for c in COLUMNS if any((s, c) in peers for s in names)]
    derived_names = {s.name for s in derived}

    lines += [
        "Quality: crowd, imbalanced, prompted and derived sets are transductive (fit and score on the items",
        "with truth); WRENCH folders fit on train (imdb: valid) and score on test (cdr: valid), except sms,",
        "fit and scored on train (its shipped test votes do not match its messages).  Imbalanced rows keep every",
        "negative train example and subsample positives (numpy seed 0) to the rate.  Prompted: the project's",
        "prompted LFs answered by SmolLM2-135M (benchmarks/fixtures/README.md).  Derived (*): stress sets built",
        "from the shared data for issue 20's regimes (benchmarks/_stress.py).",
        f"Score: F1 of class 1 where marked (f1), else accuracy; mean over {len(TIE_SEEDS)} tie-break seeds.",
        "Brier: mean squared distance of P(y | votes) to the one-hot truth; ECE: top-class, 10 bins; macro-F1 of the labels.",
        f"{OURS}: the default (registry name label_model) with the settings chosen leave-one-set-out: for each row,",
        "the setting of the grid below with the best mean of score minus Brier score on the OTHER sets; 'chose' = the",
        "structure it selected, 'setting' = the grid point chosen without the row.  On all sets that rule chooses",
        f"{everywhere} (the library's defaults).",
        "Grid: " + "; ".join(setting_name(s) for s in settings_grid()[:1]) + f" ... ({len(ours)} settings, _loso.GRID).",
    ]
    for (where, col), why in NOT_RUN.items():
        lines.append(f"Not run: {col} on {where}, {why}.")
    if "HyperLM" not in cols:
        lines.append("HyperLM not installed (pip install --no-deps hyperlm): its column is left out.")
    lines.append("")
    label = {s.name: s.name + (" *" if s.name in derived_names else "") + (" (f1)" if s.metric == "f1" else "") for s in sets}
    for metric in ("score", "brier", "ece", "macro_f1"):
        lines.append(f"{metric}:")
        extra = "   best peer   gap   chose         setting" if metric == "score" else ""
        lines.append(f"{'set':34}" + "".join(f"{c:>15}" for c in [*cols, OURS]) + extra)
        for s in names:
            vals = [peers.get((s, c), {}).get(metric, float("nan")) for c in cols] + [loso[s][metric]]
            line = f"{label[s]:34}" + "".join(f"{v:15.3f}" for v in vals)
            if metric == "score":
                _, top = best_peer(peer_scores[s])
                line += f"   {top:9.3f} {loso[s]['score'] - top:+.3f}  {loso[s]['chosen']:13} {choice[s]}"
            lines.append(line)
        for title, group in (("mean (shared sets)", [s for s in names if s not in derived_names]), ("mean (all)", names)):
            means = [np.mean([peers[s, c][metric] for s in group if (s, c) in peers]) for c in cols]
            means.append(np.mean([loso[s][metric] for s in group]))
            lines.append(f"{title:34}" + "".join(f"{v:15.3f}" for v in means))
        lines.append("")
    for title, chosen in (("this rule (score minus Brier)", choice), ("the earlier rule (most sets passed, then mean score)", by_passes)):
        figs = [ours[chosen[s]][s] for s in names]
        n_pass = sum(passes(f["score"], peer_scores[s]) for f, s in zip(figs, names))
        lines.append(f"Leave-one-set-out with {title}: {n_pass} of {len(names)} sets within the bar; mean score "
                     f"{np.mean([f['score'] for f in figs]):.3f}, Brier {np.mean([f['brier'] for f in figs]):.3f}, "
                     f"ECE {np.mean([f['ece'] for f in figs]):.3f} (all sets)")  # fmt: skip
    lines.append("")
    lines.append(f"Per-class precision / recall / F1 of {OURS} (tie-break seed 0):")
    for s in names:
        parts = [f"{c}: {v['precision']:.2f}/{v['recall']:.2f}/{v['f1']:.2f}" for c, v in loso[s]["per_class"].items()]
        lines.append(f"  {label[s]:34} " + "  ".join(parts))
    lines.append("")
    if timing:
        lines.append(f"Fit seconds ({OURS} and {SNORKEL}, each in a fresh process after one untimed fit; median of")
        lines.append(f"{REPEATS} on the sets fit on another split, else 1 fit), with the 1-minute load average (2 cores):")
        lines.append(f"{'set':34} {OURS + ' s':>10} {'load':>5} {'Snorkel s':>10} {'load':>5} {'Snorkel ÷ ours':>15}")
        for s in names:
            if (s, SNORKEL) not in peers:
                continue
            ours_s, load_o = run_fit_timer(s, OURS), os.getloadavg()[0]
            snorkel_s, load_s = run_fit_timer(s, SNORKEL), os.getloadavg()[0]
            lines.append(f"{s:34} {ours_s:10.4f} {load_o:5.2f} {snorkel_s:10.4f} {load_s:5.2f} {snorkel_s / ours_s:14.0f}×")
        lines.append("")
    return {"peers": peers, "ours": ours, "choice": choice, "loso": loso, "peer_scores": peer_scores,
            "cols": cols, "names": names, "derived": derived_names}  # fmt: skip


def quality_checks(q: dict[str, Any], lines: list[str]) -> None:
    """Issue 20's quality criteria on the leave-one-set-out figures."""
    loso, peers, names = q["loso"], q["peers"], q["names"]
    lines.append("Checks (issue 20, Done means; leave-one-set-out figures):")
    failed = []
    for s in names:
        peer = q["peer_scores"][s]
        top_name, top = best_peer(peer)
        ok = passes(loso[s]["score"], peer)
        failed += [] if ok else [s]
        short = max(top - 0.01, peer.get("MV", -np.inf) - 0.01) - loso[s]["score"]
        lines.append(f"  quality {s:34} {loso[s]['score']:.3f} vs best peer ({top_name}) {top:.3f} and MV "
                     f"{peer.get('MV', float('nan')):.3f}: {'pass' if ok else f'FAIL by {short:.3f}'}")  # fmt: skip
    lines.append(f"  {len(names) - len(failed)} of {len(names)} sets pass" + (f"; failing: {', '.join(failed)}" if failed else ""))
    for group_name, group in (("shared", [s for s in names if s not in q["derived"]]), ("all", names)):
        for metric, better in (("score", "above"), ("brier", "no worse than"), ("ece", "no worse than")):
            for c in q["cols"]:
                both = [s for s in group if (s, c) in peers]
                ours = float(np.mean([loso[s][metric] for s in both]))
                other = float(np.mean([peers[s, c][metric] for s in both]))
                ok = ours > other if metric == "score" else ours <= other
                lines.append(f"  mean {metric:6} over {len(both):2} {group_name} sets: {OURS} {ours:.3f} {better} {c} "
                             f"{other:.3f}: {'pass' if ok else 'FAIL'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced scale section (n=100k, m≤100, plus the two 1M sizes)")
    parser.add_argument("--quality-only", action="store_true", help="only the quality section (no scale runs)")
    parser.add_argument("--no-timing", action="store_true", help="skip the per-set fit times (fresh processes, slow)")
    parser.add_argument("--repeats", type=int, default=3, help="fits per model at the scale checks' sizes (median)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "label_models.txt")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parent / "results" / "label_models_scores.json",
                        help="figures already computed (JSON; reused, so an interrupted run resumes)")
    parser.add_argument("--fresh", action="store_true", help="ignore the --cache file's figures and compute every one")
    parser.add_argument("--worker", nargs=4, metavar=("ROW", "N", "M", "K"), help=argparse.SUPPRESS)
    parser.add_argument("--time-fit", nargs=2, metavar=("SET", "COLUMN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_fit:
        print(time_fits(*args.time_fit))
        return
    if args.worker:
        row, n, m, k = args.worker
        print(json.dumps(worker(row, int(n), int(m), int(k))))
        return
    flags = " --quick" * args.quick + " --quality-only" * args.quality_only + " --no-timing" * args.no_timing
    start_load = os.getloadavg()
    lines: list[str] = [f"# benchmarks/label_models.py{flags} ({time.strftime('%Y-%m-%d %H:%M')}; load at start "
                        f"{start_load[0]:.1f} {start_load[1]:.1f} {start_load[2]:.1f}, 2 cores)", ""]  # fmt: skip
    q = quality_section(lines, timing=not args.no_timing, cache=ScoreCache(args.cache, args.fresh))
    quality_checks(q, lines)
    if not args.quality_only:
        scale = scale_section(args.quick, args.repeats, lines)
        lines.append("")
        lines.append("Checks at scale:")
        scale_checks(scale, lines)
    end_load = os.getloadavg()
    lines.append("")
    lines.append(f"load at end {end_load[0]:.1f} {end_load[1]:.1f} {end_load[2]:.1f}")
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    if args.json:
        keyed = {"peers": {f"{s}|{c}": v for (s, c), v in q["peers"].items()}, "ours": q["ours"], "choice": q["choice"]}
        args.json.write_text(json.dumps(keyed, indent=1, default=float))


if __name__ == "__main__":
    main()
