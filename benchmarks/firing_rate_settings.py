"""The default's firing-rate settings on the label-model benchmark's sets, with held-out likelihoods beside gold.

Run from the repository root (a few seconds; only our firing-rate model and majority vote)::

    .venv/bin/python benchmarks/firing_rate_settings.py
    .venv/bin/python benchmarks/firing_rate_settings.py --tau 0.15 0.3 --prior-votes 50 100 --strength 0.12 0.16

For the eight sets of ``benchmarks/label_models.py`` where the default fits firing rates, and for
11 more draws of the positives of each imbalanced subset (numpy seeds 1 to 11: is a figure a lucky
draw?), it fits ``LabelModel(learn_class_balance=True)`` at each (silence weight τ, prior votes,
balance strength) and prints the gold score (F1 of class 1 or accuracy, mean over 10 tie-break
seeds), the Brier score, and two held-out likelihoods a selection without gold could use, from a
fit on a seeded 75% of covered rows scored on the other 25% (as ``AutoLabelModel`` selects):
``vote_ll``, :meth:`~weaksup.model._base.LabelModelBase.vote_log_likelihood` per vote, and
``pattern_ll``, log P(the row's whole firing pattern) per row, abstains included (a Bernoulli per
LF and class it votes, rate β on that class and γ off it).  The figures in ``LabelModel``'s
docstring ("Prior strength") come from this script; ``benchmarks/results/firing_rate_settings.txt``
holds a run with the default grid (``> benchmarks/results/firing_rate_settings.txt``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sets import IMBALANCED, BenchSet, all_sets, brier, score  # noqa: E402
from _wrench import load_split  # noqa: E402

from weaksup.model import MajorityVote  # noqa: E402
from weaksup.model.auto import HOLDOUT, SELECTION_ROWS  # noqa: E402
from weaksup.model.label_model import LabelModel  # noqa: E402
from weaksup.votes import SparseVotes  # noqa: E402

DRAWS = range(1, 12)


def redrawn(folder: str, rate: float, seed: int) -> BenchSet:
    """An imbalanced subset as in ``_sets.imbalanced_set``, with the positives drawn by ``seed``."""
    L, y = load_split(folder, "train")
    neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    n_pos = int(round(rate * len(neg) / (1 - rate)))
    rows = np.sort(np.concatenate([neg, np.random.default_rng(seed).choice(pos, n_pos, replace=False)]))
    votes = SparseVotes.from_dense(L[rows])
    return BenchSet(f"{folder} {rate:.0%} draw {seed}", votes, votes, y[rows], 2, "f1")


def held_out(votes: SparseVotes) -> tuple[SparseVotes, SparseVotes]:
    """A seeded (seed 0) 75/25 split of the covered rows, as ``AutoLabelModel`` makes it."""
    covered = np.flatnonzero(np.bincount(votes.rows, minlength=votes.n) > 0)
    sample = np.random.default_rng(0).permutation(covered)[:SELECTION_ROWS]
    cut = int(round(len(sample) * (1 - HOLDOUT)))
    return votes.select_rows(np.sort(sample[:cut])), votes.select_rows(np.sort(sample[cut:]))


def pattern_log_likelihood(model: LabelModel, fit: SparseVotes, votes: SparseVotes) -> float:
    """Mean over covered rows of log P(firing pattern): each (LF, class it voted in ``fit``) fires
    with rate β when y is that class, γ otherwise, and stays silent otherwise."""
    k = model.cardinality
    beta, gamma = np.clip(model.rates_, 1e-9, 1 - 1e-9)
    votes_for = np.zeros((fit.m, k), dtype=bool)
    votes_for[fit.cols, fit.labels] = True
    rate = np.where(np.eye(k, dtype=bool)[None], beta[:, :, None], gamma[:, :, None])  # (LF, voted, y)
    silent = (np.log1p(-rate) * votes_for[:, :, None]).sum(axis=(0, 1))
    scores = np.zeros((votes.n, k))
    np.add.at(scores, votes.rows, (np.log(rate) - np.log1p(-rate))[votes.cols, votes.labels])
    scores = (scores + silent + np.log(model.class_balance_))[np.bincount(votes.rows, minlength=votes.n) > 0]
    top = scores.max(axis=1)
    return float(np.mean(top + np.log(np.exp(scores - top[:, None]).sum(axis=1))))


def gold(s: BenchSet, model: LabelModel | MajorityVote) -> float:
    """The benchmark's score: mean over 10 tie-break seeds."""
    return float(np.mean([score(s.metric, s.y_test, model.set_params(seed=t).predict(s.L_test)) for t in range(10)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tau", type=float, nargs="+", default=[0.15, 0.3, 0.5, 1.0])
    parser.add_argument("--prior-votes", type=float, nargs="+", default=[50.0, 100.0])
    parser.add_argument("--strength", type=float, nargs="+", default=[0.12, 0.16])
    args = parser.parse_args()
    grid = list(itertools.product(args.tau, args.prior_votes, args.strength))
    sets = [s for s in all_sets() if not s.name.startswith("crowd")]
    draws = {f"{f} {r:.0%}": [redrawn(f, r, seed) for seed in DRAWS] for f, r in IMBALANCED}
    print(f"{'set':28} {'tau':>5} {'votes':>5} {'s':>5} {'score':>6} {'brier':>6} {'vote_ll':>8} {'pattern_ll':>10}")
    for s in sets:
        mv = gold(s, MajorityVote(cardinality=s.k).fit(s.L_fit))
        print(f"{s.name:28} {'MV':>17} {mv:6.3f}")
        fit, test = held_out(s.L_fit)
        for tau, votes, strength in grid:
            params = dict(learn_class_balance=True, balance_strength=strength, silence_weight=tau, prior_votes=votes)
            model = LabelModel(cardinality=s.k, **params).fit(s.L_fit)
            proba = model.predict_proba(s.L_test)
            small = LabelModel(cardinality=s.k, max_iter=20, tol=1e-3, **params).fit(fit)
            print(
                f"{'':28} {tau:5.2f} {votes:5.0f} {strength:5.2f} {gold(s, model):6.3f} {brier(s.y_test, proba):6.3f}"
                f" {small.vote_log_likelihood(test):8.4f} {pattern_log_likelihood(small, fit, test):10.4f}"
            )
    print(f"\nOther draws of the imbalanced subsets' positives (seeds {DRAWS.start} to {DRAWS.stop - 1}): mean F1,")
    print("and on how many draws it is more than 0.01 under majority vote")
    for name, subsets in draws.items():
        mv = [gold(s, MajorityVote(cardinality=2).fit(s.L_fit)) for s in subsets]
        print(f"{name:14} MV {np.mean(mv):.3f}")
        for tau, votes, strength in grid:
            params = dict(learn_class_balance=True, balance_strength=strength, silence_weight=tau, prior_votes=votes)
            ours = [gold(s, LabelModel(cardinality=2, **params).fit(s.L_fit)) for s in subsets]
            under = sum(o < m - 0.01 for o, m in zip(ours, mv))
            print(f"{'':14} tau {tau:4.2f} votes {votes:3.0f} s {strength:4.2f}: {np.mean(ours):.3f}, under MV - 0.01 on {under}/{len(ours)}")


if __name__ == "__main__":
    main()
