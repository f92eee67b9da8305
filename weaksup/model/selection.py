"""What the default label model selects by: statistics of the votes alone, or dev gold.

- :func:`multiclass_share`: how much of the vote comes from LFs that vote several classes (a
  confusion matrix learns nothing from one-class LFs);
- :func:`held_out_ties`: ties made from held-out rows, with the class that led, to compare how two
  structures break ties (:func:`hit_rate`);
- :func:`held_out_lf_loglik`: how well a structure's posterior, without an LF, predicts that LF's
  outputs (abstains included; :func:`held_out_lf_scores`);
- :func:`tie_contest`: the figures of rule 2 (ties won and lost, strict majorities overruled);
- :func:`least_dev_log_loss`: with dev gold, the structure of least dev log-loss;
- :func:`learned_prior`: the class prior of rows no LF votes on.

>>> import numpy as np
>>> from weaksup.votes import SparseVotes
>>> votes = SparseVotes.from_dense(np.array([[0, 0, 1], [1, 1, -1], [0, 1, -1]]))
>>> round(multiclass_share(votes, 2), 3)  # LFs 0 and 1 vote both classes: 6 of the 7 votes
0.857
>>> rows, led = held_out_ties(votes, 2, seed=0)
>>> rows.to_dense().tolist(), led.tolist()  # row 0 led by one vote for 0: one dropped
([[-1, 0, 1]], [0])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from weaksup.model._base import TIE_ATOL, LabelModelBase, vote_counts
from weaksup.votes import SparseVotes

MIN_MULTICLASS_SHARE = 0.5
"""Below this share of votes from LFs voting 2+ classes, the confusion structure is not tried."""
SELECTION_ROWS = 20_000
"""Selection fits on at most this many covered rows (a seeded sample), so it costs little at scale."""
HOLDOUT = 0.25
"""Share of the sampled rows held out to score the structures (rules 1 and 3) and the priors."""
TIE_FOLDS = 4
"""Folds of the sampled rows for the held-out ties (rule 2): each row is held out once."""
TIE_BUDGET = 1000
"""Rule 2 stops adding folds once this many ties are scored: a compute budget (far more than a
sign test needs to see a real difference), so the selection costs little on large data."""
SELECTION_FIT: dict[str, dict[str, Any]] = {
    "firing_rates": {"max_iter": 20, "tol": 1e-3},
    "confusion": {"max_iter": 20, "tol": 1e-4},
    "majority": {},
}
"""Looser stopping for the held-out fits: ranking structures needs no converged digits, and these
fits would otherwise cost more than the final one."""
HELD_OUT_LFS = 10
"""Rule 3 and ``prior_estimate="held_out"`` hold out at most this many LFs, those with the most votes:
a compute budget."""


def multiclass_share(votes: SparseVotes, cardinality: int) -> float:
    """Share of the votes cast by LFs that vote at least two different classes."""
    if votes.nnz == 0:
        return 0.0
    pairs = votes.cols * cardinality + votes.labels  # in the votes' own integer type: m·k is far below 2^31
    seen = np.bincount(pairs, minlength=votes.m * cardinality) > 0  # (LF, class) pairs
    del pairs
    several = seen.reshape(votes.m, cardinality).sum(axis=1) >= 2
    return float(np.bincount(votes.cols, minlength=votes.m)[several].sum() / votes.nnz)


def hit_rate(proba: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row, the chance that the label (ties broken at random) is ``target``."""
    top = proba >= proba.max(axis=1, keepdims=True) - TIE_ATOL
    return top[np.arange(len(target)), target] / top.sum(axis=1)


def held_out_ties(votes: SparseVotes, cardinality: int, seed: int) -> tuple[SparseVotes, np.ndarray]:
    """Ties made from rows whose votes name two classes or more: as many votes of the top class as
    it leads by are dropped (seeded), so the row ties; returns those rows' remaining votes and the
    class that led."""
    counts = vote_counts(votes, cardinality)
    ordered = np.sort(counts, axis=1)
    top = counts.argmax(axis=1)
    lead = (ordered[:, -1] - ordered[:, -2]).astype(np.int64)
    rows = np.flatnonzero((ordered[:, -2] >= 1) & (lead >= 1))
    mine = np.flatnonzero((lead[votes.rows] >= 1) & (ordered[votes.rows, -2] >= 1) & (votes.labels == top[votes.rows]))
    shuffled = mine[np.random.default_rng(seed).permutation(len(mine))]
    order = shuffled[np.argsort(votes.rows[shuffled], kind="stable")]  # each row's top-class votes, in random order
    starts = np.searchsorted(votes.rows[order], votes.rows[order], side="left")
    rank = np.arange(len(order)) - starts  # 0, 1, ... within each row
    keep = np.ones(votes.nnz, dtype=bool)
    keep[order[rank < lead[votes.rows[order]]]] = False
    kept = SparseVotes(votes.rows[keep], votes.cols[keep], votes.labels[keep], votes.n, votes.m)
    return kept.select_rows(rows), top[rows]


def without_lf(votes: SparseVotes, lf: int) -> SparseVotes:
    """The votes with LF ``lf``'s removed (the row and column numbering kept)."""
    keep = votes.cols != lf
    return SparseVotes(votes.rows[keep], votes.cols[keep], votes.labels[keep], votes.n, votes.m)


def lf_outputs(votes: SparseVotes, lf: int, cardinality: int) -> np.ndarray:
    """Per row, LF ``lf``'s class, or ``cardinality`` where it abstains."""
    out = np.full(votes.n, cardinality)
    mine = votes.cols == lf
    out[votes.rows[mine]] = votes.labels[mine]
    return out


def held_out_lf_loglik(
    model: LabelModelBase, train: SparseVotes, held: SparseVotes, lfs: np.ndarray, cardinality: int
) -> float:
    """How well ``model``'s posterior predicts LFs it did not see, summed over ``lfs``.

    For each LF j: the posterior of every row without j's vote, then P(j's output | class) (its
    class or abstain, add-half smoothed) fit from that posterior on ``train``, and the mean
    log-likelihood of j's outputs on ``held``.  With LFs independent given the class, the truer
    posterior predicts j best, whatever j's own accuracy: a gold-free score of a structure's
    labels.  (Majority vote's abstain-aware tie breaks read j's removed vote as an abstain.)
    """
    total = 0.0
    for lf in lfs:
        q_train = model.predict_proba(without_lf(train, lf))
        q_held = model.predict_proba(without_lf(held, lf))
        seen, out = lf_outputs(train, lf, cardinality), lf_outputs(held, lf, cardinality)
        emit = np.stack([np.bincount(seen, weights=q_train[:, c], minlength=cardinality + 1) for c in range(cardinality)])
        emit = (emit + 0.5) / (emit + 0.5).sum(axis=1, keepdims=True)
        total += float(np.log((q_held * emit[:, out].T).sum(axis=1)).mean())
    return total


def held_out_lf_scores(
    models: Mapping[str, LabelModelBase], train: SparseVotes, held: SparseVotes, max_lfs: int
) -> dict[str, float]:
    """Each model (fit on ``train``) scored by :func:`held_out_lf_loglik` over the (at most ``max_lfs``)
    LFs with the most votes in ``train`` that also vote in ``held``; ``"lfs"``: how many."""
    busiest = np.argsort(-np.bincount(train.cols, minlength=train.m), kind="stable")[:max_lfs]
    busiest = busiest[np.isin(busiest, held.cols)]
    scores = {name: held_out_lf_loglik(model, train, held, busiest, model.cardinality)
              for name, model in models.items()}  # fmt: skip
    return {**scores, "lfs": len(busiest)}


def least_dev_log_loss(
    fitted: Mapping[str, LabelModelBase], dev: SparseVotes, gold: np.ndarray
) -> tuple[str, str, dict[str, float]]:
    """The fitted model whose posterior has the least log-loss on the dev rows with gold (class ids,
    -1 where unknown), a sentence saying so, and every model's loss."""
    known = np.flatnonzero(gold >= 0)
    rows = dev.select_rows(known)
    losses = {}
    for name, model in fitted.items():
        proba = model.predict_proba(rows)
        losses[name] = float(-np.mean(np.log(np.clip(proba[np.arange(len(known)), gold[known]], 1e-12, None))))
    chosen = min(losses, key=losses.get)
    shown = ", ".join(f"{name} {loss:.4f}" for name, loss in sorted(losses.items(), key=lambda kv: kv[1]))
    return chosen, f"least log-loss on {len(known)} dev rows with gold: {shown}", losses


def tie_contest(
    majority: LabelModelBase, firing_rates: LabelModelBase, held: SparseVotes, cardinality: int, seed: int
) -> tuple[int, int, int, int, int]:
    """On held-out rows, fit without them: the ties made from them (:func:`held_out_ties`) where the
    majority structure gives the class that led more often than firing rates, less often, and their
    number; then the rows with a strict majority that firing rates overrule, and their number."""
    counts = vote_counts(held, cardinality)
    ordered = np.sort(counts, axis=1)
    strict = ordered[:, -1] > ordered[:, -2]
    overruled = int((firing_rates.predict_proba(held).argmax(axis=1) != counts.argmax(axis=1))[strict].sum())
    rows, led = held_out_ties(held, cardinality, seed)
    if not len(led):
        return 0, 0, 0, overruled, int(strict.sum())
    hits = [hit_rate(model.predict_proba(rows), led) for model in (majority, firing_rates)]
    return int((hits[0] > hits[1]).sum()), int((hits[0] < hits[1]).sum()), len(led), overruled, int(strict.sum())


def learned_prior(sampled: SparseVotes, cardinality: int, estimate: str, model: LabelModelBase) -> np.ndarray:
    """The class prior of rows no LF votes on, from the (sampled) covered rows: ``"votes"``, majority
    vote's mean vote share (add-one smoothed); ``"posterior"``, ``model``'s mean posterior; ``"mean"``,
    the average of the two."""
    k = cardinality
    if not sampled.n:
        return np.full(k, 1.0 / k)
    counts = vote_counts(sampled, k)
    by_votes = ((counts / counts.sum(axis=1, keepdims=True)).sum(axis=0) + 1.0) / (sampled.n + k)
    if estimate == "votes":
        return by_votes
    posterior = (model.predict_proba(sampled).sum(axis=0) + 1.0) / (sampled.n + k)
    return posterior if estimate == "posterior" else (posterior + by_votes) / 2
