"""Benchmark of the universal label types (issue 5): synthetic rankings and synthetic regression.

Run once: ``python benchmarks/universal.py`` (about 2-4 minutes on 2 cores; it writes
``benchmarks/results/universal.txt`` too).  Every figure is the mean ± standard deviation
over 5 seeds, from this one run.

**Rankings** (the UWS set-up): n = 1000 examples of 5 items, m ∈ {6, 9, 12} Mallows LFs,
a third good (θ ~ U[2, 5]) and the rest near random (θ ~ U[0.001, 0.01]); observation
rate 1.0 (full rankings) or 0.6 (each item dropped by m − ⌈0.6·m⌉ random LFs).  Kendall
tau distance is the share of discordant pairs (0 best, 1 reversed), averaged over examples.
Peers: unweighted Kemeny, Borda, the best single LF (in hindsight), the oracle (weighted
Kemeny with the true θ) and Snorkel's LabelModel with each of the 5! = 120 rankings as a
class.  Where a single LF or Snorkel needs a full ranking, a partial one is completed by
inserting its missing items at random places (a 120-class model has no other way to read
it, and a lone partial LF ranks the full set no better).

**Regression**: n = 10,000, 6 Gaussian LFs with different scale, offset and noise, y ~
N(6, 1.5²); fully observed and with 30% abstains.  Our model and the mean of the
standardised LFs are both put in y's units by the same 50 gold labels; the best single LF
is each LF calibrated on those gold labels, best in hindsight; the oracle is the
posterior mean under the true parameters.
"""

from __future__ import annotations

import io
import itertools
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

from weaksup.universal import RankingLabelModel, RegressionLabelModel, aggregate_rankings
from weaksup.universal.metrics import mean_kendall_tau_distance
from weaksup.universal.synthetic import gaussian_votes, mallows_votes

SEEDS = range(5)
N_RANK, D = 1000, 5
N_REG = 10_000
RESULTS = Path(__file__).resolve().parent / "results" / "universal.txt"

SCALES = [1.0, 10.0, 0.5, 2.0, 3.0, 100.0]
OFFSETS = [0.0, 50.0, 2.0, -5.0, 10.0, 1000.0]
NOISE_SD = [0.3, 5.0, 0.6, 1.5, 4.0, 150.0]
Y_MEAN, Y_SD = 6.0, 1.5


def ms(values: list[float], fmt: str = ".4f") -> str:
    return f"{np.mean(values):{fmt}} ± {np.std(values):{fmt}}"


# -- rankings ------------------------------------------------------------------------------


def complete_at_random(ranking: tuple[int, ...] | None, rng: np.random.Generator) -> list[int] | None:
    """A partial ranking of 0..D-1 with its missing items inserted at random places (None stays None)."""
    if ranking is None:
        return None
    full = list(ranking)
    for x in rng.permutation([x for x in range(D) if x not in ranking]):
        full.insert(int(rng.integers(len(full) + 1)), int(x))
    return full


def snorkel_rankings(completed: list[list[list[int] | None]], seed: int) -> tuple[list[list[int]], float]:
    """Snorkel's LabelModel over the d! rankings as classes, on randomly completed votes."""
    from snorkel.labeling.model import LabelModel  # optional dependency

    perms = list(itertools.permutations(range(D)))
    index = {p: c for c, p in enumerate(perms)}
    L = np.array([[-1 if r is None else index[tuple(r)] for r in row] for row in completed], dtype=np.int64)
    start = time.perf_counter()
    lm = LabelModel(cardinality=len(perms), verbose=False)
    lm.fit(L, seed=seed, progress_bar=False)
    pred = lm.predict(L, tie_break_policy="random")
    return [list(perms[c]) for c in pred], time.perf_counter() - start


def ranking_run(m: int, observe: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(1000 + seed)
    n_good = m // 3
    theta = np.concatenate([rng.uniform(2, 5, n_good), rng.uniform(0.001, 0.01, m - n_good)])
    votes, truth = mallows_votes(N_RANK, D, theta, observe=observe, seed=seed)
    t = list(truth)
    start = time.perf_counter()
    model = RankingLabelModel(seed=seed).fit(votes)
    ours = model.predict(votes)
    fit_s = time.perf_counter() - start
    completion_rng = np.random.default_rng(seed)
    completed = [[complete_at_random(r, completion_rng) for r in row] for row in votes.rankings]
    snorkel, snorkel_s = snorkel_rankings(completed, seed)
    err = np.abs(model.theta_ - theta)
    return {
        "ours": mean_kendall_tau_distance(ours, t),
        "kemeny": mean_kendall_tau_distance(aggregate_rankings(votes, np.ones(m), seed=seed), t),
        "borda": mean_kendall_tau_distance(aggregate_rankings(votes, np.ones(m), method="borda", seed=seed), t),
        "best_lf": min(mean_kendall_tau_distance([row[a] for row in completed], t) for a in range(m)),
        "oracle": mean_kendall_tau_distance(aggregate_rankings(votes, theta, seed=seed), t),
        "snorkel": mean_kendall_tau_distance(snorkel, t),
        "theta_mae_good": float(err[:n_good].mean()),
        "theta_rel_good": float((err[:n_good] / theta[:n_good]).mean()),
        "theta_mae_poor": float(err[n_good:].mean()),
        "fit_s": fit_s,
        "snorkel_s": snorkel_s,
    }


def rankings() -> bool:
    print("== Synthetic rankings: mean Kendall tau distance (share of discordant pairs), 5 seeds, n=1000, d=5 ==")
    cols = ["ours", "kemeny", "borda", "best_lf", "oracle", "snorkel"]
    print(f"{'m':>3} {'obs':>4} " + " ".join(f"{c:>17}" for c in cols))
    ok = True
    summary = []
    for m in (6, 9, 12):
        for observe in (1.0, 0.6):
            runs = [ranking_run(m, observe, s) for s in SEEDS]
            get = {k: [r[k] for r in runs] for k in runs[0]}
            print(f"{m:>3} {observe:>4} " + " ".join(f"{ms(get[c]):>17}" for c in cols))
            ours, oracle = np.mean(get["ours"]), np.mean(get["oracle"])
            beats = ours < np.mean(get["kemeny"]) and ours < np.mean(get["borda"])
            near = ours <= oracle + max(0.1 * oracle, 0.02)
            wins = sum(o < min(k, b) for o, k, b in zip(get["ours"], get["kemeny"], get["borda"]))
            passed = beats and (near or m == 6)
            ok &= passed
            summary.append(
                f"{m:>3} {observe:>4}  ours/kemeny {ours / np.mean(get['kemeny']):.3f}  "
                f"ours/borda {ours / np.mean(get['borda']):.3f}  ours/oracle {ours / oracle:.3f} "
                f"(gap {ours - oracle:+.4f}, allowed {max(0.1 * oracle, 0.02):.4f})  "
                f"ours/snorkel {ours / np.mean(get['snorkel']):.3f}  wins {wins}/5  "
                f"|θ̂−θ| good {ms(get['theta_mae_good'], '.3f')} (rel {ms(get['theta_rel_good'], '.3f')}) "
                f"poor {ms(get['theta_mae_poor'], '.4f')}  fit {np.mean(get['fit_s']):.2f}s "
                f"snorkel {np.mean(get['snorkel_s']):.2f}s  {'PASS' if passed else 'FAIL'}"
            )
    print("\nratios (of means), θ error, fit time per run, and the done-criterion check:")
    print("\n".join(summary))
    return ok


def large_item_sets() -> None:
    """Not a done criterion: item sets past the exact switch point (local-search Kemeny)."""
    print("\n== Large item sets: 200 examples of 120 items, 9 LFs (3 with θ ~ U[0.1, 0.3], 6 near random), "
          "observation 0.75, 1 seed ==")
    rng = np.random.default_rng(7)
    theta = np.concatenate([rng.uniform(0.1, 0.3, 3), rng.uniform(0.001, 0.01, 6)])
    votes, truth = mallows_votes(200, 120, theta, observe=0.75, seed=7)
    t = list(truth)
    start = time.perf_counter()
    model = RankingLabelModel().fit(votes)
    fit_s = time.perf_counter() - start
    ours = model.predict(votes)
    predict_s = time.perf_counter() - start - fit_s
    row = {
        "ours": mean_kendall_tau_distance(ours, t),
        "kemeny": mean_kendall_tau_distance(aggregate_rankings(votes, np.ones(9)), t),
        "borda": mean_kendall_tau_distance(aggregate_rankings(votes, np.ones(9), method="borda"), t),
        "oracle": mean_kendall_tau_distance(aggregate_rankings(votes, theta), t),
    }
    print("  ".join(f"{k} {v:.4f}" for k, v in row.items()) + f"  |θ̂−θ| good {np.abs(model.theta_ - theta)[:3].mean():.3f}"
          f"  fit {fit_s:.1f}s  predict {predict_s:.1f}s")


# -- regression ------------------------------------------------------------------------------


def oracle_mean(X: np.ndarray) -> np.ndarray:
    """E[y | observed votes] under the true parameters."""
    O = ~np.isnan(X)
    b, a, s2 = np.asarray(SCALES), np.asarray(OFFSETS), np.square(NOISE_SD)
    w = b / s2
    precision = 1 / Y_SD**2 + (O * (b * w)).sum(axis=1)
    num = Y_MEAN / Y_SD**2 + np.where(O, (X - a - b * Y_MEAN) * w, 0.0).sum(axis=1) + (O * b * w).sum(axis=1) * Y_MEAN
    return num / precision


def calibrate(score: np.ndarray, y: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """OLS map of a score to y's units on the gold rows (rows without a score predict the gold mean)."""
    rows = gold & ~np.isnan(score)
    slope, offset = np.polyfit(score[rows], y[rows], 1)
    return np.where(np.isnan(score), y[gold].mean(), offset + slope * score)


def regression_run(observe: float, seed: int) -> dict[str, float]:
    X, y = gaussian_votes(N_REG, SCALES, OFFSETS, NOISE_SD, observe=observe, y_mean=Y_MEAN, y_sd=Y_SD, seed=seed)
    gold = np.zeros(N_REG, dtype=bool)
    gold[np.random.default_rng(seed).choice(N_REG, 50, replace=False)] = True
    y_gold = np.where(gold, y, np.nan)
    start = time.perf_counter()
    model = RegressionLabelModel().fit(X, y_gold)
    pred = model.predict(X)
    fit_s = time.perf_counter() - start
    Z = (X - np.nanmean(X, axis=0)) / np.nanstd(X, axis=0)
    n_votes = (~np.isnan(Z)).sum(axis=1)
    std_mean = np.where(n_votes > 0, np.nansum(Z, axis=1) / np.maximum(n_votes, 1), np.nan)
    mse = lambda p: float(np.mean((p - y) ** 2))  # noqa: E731
    rel = model.noise_var_ / np.square(NOISE_SD) - 1
    return {
        "ours": mse(pred),
        "std_mean": mse(calibrate(std_mean, y, gold)),
        "best_lf": min(mse(calibrate(X[:, a], y, gold)) for a in range(len(SCALES))),
        "oracle": mse(oracle_mean(X)),
        "noise_rel_max": float(np.abs(rel).max()),
        "noise_rel_mean": float(np.abs(rel).mean()),
        "var_calib": float(np.mean(model.predict_var(X)) / mse(pred)),
        "fit_s": fit_s,
    }


def regression() -> bool:
    print(f"\n== Synthetic regression: MSE in y's units (y ~ N({Y_MEAN}, {Y_SD}²)), 5 seeds, n=10,000, 6 LFs ==")
    print(f"LF scales {SCALES}, offsets {OFFSETS}, noise sd {NOISE_SD}; 50 gold labels fix y's scale and offset")
    cols = ["ours", "std_mean", "best_lf", "oracle"]
    print(f"{'obs':>4} " + " ".join(f"{c:>17}" for c in cols))
    ok = True
    summary = []
    for observe in (1.0, 0.7):
        runs = [regression_run(observe, s) for s in SEEDS]
        get = {k: [r[k] for r in runs] for k in runs[0]}
        print(f"{observe:>4} " + " ".join(f"{ms(get[c]):>17}" for c in cols))
        beats = np.mean(get["ours"]) < np.mean(get["std_mean"])
        close = max(get["noise_rel_max"]) <= 0.2
        ok &= beats and close
        summary.append(
            f"{observe:>4}  ours/std_mean {np.mean(get['ours']) / np.mean(get['std_mean']):.3f}  "
            f"ours/oracle {np.mean(get['ours']) / np.mean(get['oracle']):.3f}  "
            f"noise-variance error |σ̂²/σ² − 1|: max over LFs {ms(get['noise_rel_max'], '.3f')}, "
            f"mean {ms(get['noise_rel_mean'], '.3f')} (worst seed {max(get['noise_rel_max']):.3f})  "
            f"mean predict_var / MSE {ms(get['var_calib'], '.2f')}  fit {np.mean(get['fit_s']):.2f}s  "
            f"{'PASS' if beats and close else 'FAIL'}"
        )
    print("\nratios, noise-variance recovery, calibration of predict_var, and the done-criterion check:")
    print("\n".join(summary))
    return ok


def main() -> int:
    buf = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            sys.__stdout__.write(s)
            sys.__stdout__.flush()
            return buf.write(s)

    start = time.perf_counter()
    with redirect_stdout(Tee()):
        ok_rank = rankings()
        large_item_sets()
        ok_reg = regression()
        print(f"\ndone criteria: rankings {'PASS' if ok_rank else 'FAIL'}, regression {'PASS' if ok_reg else 'FAIL'}"
              f"  (total {time.perf_counter() - start:.0f}s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(buf.getvalue())
    return 0 if ok_rank and ok_reg else 1


if __name__ == "__main__":
    sys.exit(main())
