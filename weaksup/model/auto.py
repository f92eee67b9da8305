"""The default label model: picks the structure that fits the votes, without gold or with dev gold.

Three structures cover the data weaksup meets, and none is safe everywhere:

- ``"firing_rates"``: :class:`~weaksup.model.label_model.LabelModel`, per-LF, per-class firing
  rates, pseudo-votes growing as the square root of each LF's votes.  Which LF fires is
  evidence, so LFs that only ever vote one class ("has a link → SPAM") are informative; its
  learned weights beat majority vote on most hand-written LF sets.
- ``"confusion"``: :class:`~weaksup.model.dawid_skene.DawidSkene` with abstains skipped.  Best on
  crowd answers, where many workers each label a few items and abstaining says nothing.
- ``"majority"``: :class:`~weaksup.model.majority.MajorityVote` with calibrated probabilities,
  ties decided by Dawid–Skene with abstains observed.  The floor: where no learned weighting
  can be trusted (prompted LFs near chance, many sparse keyword LFs over many classes) it keeps
  majority vote's labels wherever the votes have a strict majority.

**Selection without gold** (``structure="auto"``), on (at most ``SELECTION_ROWS``) covered rows,
a seeded sample:

1. When at least ``MIN_MULTICLASS_SHARE`` of the votes come from LFs that vote two classes or
   more, the confusion structure is fit on 75% of them and scored against firing rates by
   :meth:`~weaksup.model._base.LabelModelBase.vote_log_likelihood` on the held-out rows (how well
   each predicts a vote from the rest of its row); confusion is kept when it leads by more than
   ``margin`` nats per vote.  Below that share a confusion matrix cannot learn anything from
   one-class LFs and is not tried.
2. Otherwise firing rates and the majority structure differ mostly where the votes tie
   (learned weights rarely overrule a strict majority), so they are compared on ties made from
   held-out rows: a row whose votes name two classes or more loses as many votes of its top
   class as that class leads by, and each structure, fit on the other rows (``TIE_FOLDS`` folds,
   so every row is held out once), labels it.  The majority structure is chosen when it gives
   the class that led on more rows than it misses, by a one-sided sign test at level
   ``tie_alpha``.
3. Made ties are few on small sets and hide what abstains say (a dropped vote reads as one).  So
   with two classes, when rule 2 keeps firing rates, the busiest LFs (``HELD_OUT_LFS``) are held
   out in turn: the structure whose posterior without the LF better predicts its outputs (class
   or abstain) on held-out rows is the truer one, the LFs being independent given the class
   (:func:`~weaksup.model.selection.held_out_lf_loglik`); majority wins by more than ``lf_margin``
   nats per row.  Not used with more classes: on many-class keyword sets it favoured majority vote
   where firing rates label better.

The rules and their settings (``margin``, ``tie_alpha``, ``max_overrule``, ``lf_margin``, ``prior_strength``,
``prior_estimate``)
were chosen leave-one-set-out on ``benchmarks/label_models.py``'s sets: the figure reported for
each set is the default chosen without it.

**With gold on a dev split** (``fit(..., dev_votes=, dev_gold=)``), every structure is fit and the
one with the least dev log-loss is kept (as WRENCH selects).

**Class prior.**  ``fit(votes, class_balance=...)`` takes proportions, ``"uniform"`` or
``"learned"`` (default).  Given or uniform, it is every structure's prior.  Learned, it is estimated
from the covered rows as ``prior_estimate`` says (below, ``class_balance_``) and is the prior of
the rows no LF votes on; on covered rows the confusion structure keeps its own (EM) prior, majority
vote none, and firing rates, whose EM runs under a uniform prior (a learned one drifts with
one-class LFs: the rates and the balance trade off), take the estimate at inference.  The
estimates: ``"votes"``, majority vote's mean vote share; ``"posterior"``, the chosen model's mean
posterior over (at most ``SELECTION_ROWS``) covered rows; ``"mean"``, the average of the two;
``"held_out"``, with two classes, ``"votes"`` or ``"mean"``, whichever lets the chosen structure
predict held-out LFs better as in rule 3 (a row only the held-out LF votes on gets the prior),
else ``"votes"``.
Scores on covered and uncovered rows are reported apart by the pipeline.

The choice and why are logged (logger ``weaksup.model``) and kept in ``chosen_`` and
``selection_``; ``structure=`` forces one.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 3000)
>>> L = np.stack([np.where(rng.random(3000) < a, y, 1 - y) for a in (0.9, 0.8, 0.7, 0.6)], 1)
>>> model = AutoLabelModel(cardinality=2).fit(L)
>>> model.chosen_ in STRUCTURES, float((model.predict(L) == y).mean()) > 0.85
(True, True)
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from scipy.stats import binomtest

from weaksup.model._base import LabelModelBase
from weaksup.model._input import LabelMatrix, as_dev_gold
from weaksup.model.dawid_skene import DawidSkene
from weaksup.model.label_model import LabelModel
from weaksup.model.majority import MajorityVote
from weaksup.model.selection import (
    HELD_OUT_LFS, HOLDOUT, MIN_MULTICLASS_SHARE, SELECTION_FIT, SELECTION_ROWS, TIE_BUDGET, TIE_FOLDS,
    held_out_lf_scores, learned_prior, least_dev_log_loss, multiclass_share, tie_contest,
)  # fmt: skip
from weaksup.persistence import nest_state, nested_arrays
from weaksup.votes import SparseVotes

logger = logging.getLogger("weaksup.model")

STRUCTURES: dict[str, tuple[type[LabelModelBase], dict[str, Any]]] = {
    "firing_rates": (LabelModel, {}),
    "confusion": (DawidSkene, {"abstain": "skip"}),
    "majority": (MajorityVote, {"proba": "fitted", "ties": "confusion"}),
}
"""Each structure's model class and the parameters the default gives it."""
MARGIN = 0.05
"""Default ``margin``: nats per held-out vote by which the confusion structure must beat firing rates (the cheaper fit
at scale keeps ties)."""
TIE_ALPHA = 0.05
"""Default ``tie_alpha``: the one-sided sign test's level at which the majority structure wins the held-out ties."""
MAX_OVERRULE = 0.05
"""Default ``max_overrule``: firing rates overruling a strict majority on more held-out rows are not kept (rule 2)."""
LF_MARGIN = 0.0
"""Default ``lf_margin``: the majority structure's least lead, nats per row, in rule 3 (``inf``: rule 3 off)."""
PRIOR_ESTIMATE = "held_out"
"""Default ``prior_estimate`` for rows no LF votes on."""
PRIOR_STRENGTH = 8.0
"""Default ``prior_strength`` of the firing-rates structure (``LabelModel``'s own default is 4).

The defaults (``margin``, ``tie_alpha``, ``prior_strength``, ``prior_estimate``, ``lf_margin``) are the grid
point that ``benchmarks/_loso.py`` chooses on all the benchmark's sets; the figure reported for each set
is the point chosen without it (the same point on 26 of 28 sets: ``benchmarks/results/label_models.txt``)."""


class AutoLabelModel(LabelModelBase):
    """The default categorical label model (registry name ``label_model``); see the module docstring.

    ``structure`` is ``"auto"`` (select) or a key of :data:`STRUCTURES`; ``prior_strength`` goes
    to the firing-rate structure; ``margin``, ``tie_alpha``, ``max_overrule``, ``lf_margin`` and ``prior_estimate``
    as the module docstring says.
    Fitted: ``chosen_`` (the structure), ``selection_`` (why: the figures each rule compared, a
    sentence), ``model_`` (the fitted model of that structure), ``class_balance_`` (the prior of
    rows no LF votes on) and ``accuracies_``.  Needs 3 LFs that vote.
    """

    min_lfs = 3
    _fitted_arrays = ("class_balance_",)
    _fitted_meta = ("n_lfs_", "chosen_", "selection_")

    def __init__(
        self,
        cardinality: int,
        seed: int = 0,
        structure: Literal["auto", "firing_rates", "confusion", "majority"] = "auto",
        prior_strength: float = PRIOR_STRENGTH,
        margin: float = MARGIN,
        tie_alpha: float = TIE_ALPHA,
        max_overrule: float = MAX_OVERRULE,
        prior_estimate: Literal["votes", "posterior", "mean", "held_out"] = PRIOR_ESTIMATE,
        lf_margin: float = LF_MARGIN,
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.structure = structure
        self.prior_strength = prior_strength
        self.margin = margin
        self.tie_alpha = tie_alpha
        self.max_overrule = max_overrule
        self.prior_estimate = prior_estimate
        self.lf_margin = lf_margin

    def fit(
        self,
        L: LabelMatrix,
        class_balance: np.ndarray | str | None = None,
        *,
        dev_votes: LabelMatrix | None = None,
        dev_gold: np.ndarray | None = None,
    ) -> AutoLabelModel:
        """Learn from the votes ``L`` (see :meth:`LabelModelBase.fit`); with ``dev_votes`` and
        ``dev_gold`` (class ids, -1 where unknown) the structure is the one of least dev log-loss."""
        self._dev = as_dev_gold(dev_votes, dev_gold, self.cardinality, "AutoLabelModel.fit")
        try:
            return super().fit(L, class_balance)
        finally:
            del self._dev

    def _build(self, structure: str, **overrides: Any) -> LabelModelBase:
        cls, params = STRUCTURES[structure]
        if cls is LabelModel:
            params = {**params, "prior_strength": self.prior_strength}
        return cls(cardinality=self.cardinality, seed=self.seed, **params, **overrides)

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        if self.structure not in ("auto", *STRUCTURES):
            raise ValueError(
                f"AutoLabelModel: structure must be 'auto' or one of {', '.join(map(repr, STRUCTURES))}; got {self.structure!r}"
            )
        if self.prior_estimate not in ("votes", "posterior", "mean", "held_out"):
            raise ValueError("AutoLabelModel: prior_estimate must be 'votes', 'posterior', 'mean' or 'held_out', "
                             f"got {self.prior_estimate!r}")  # fmt: skip
        sampled = self._sample(votes)  # one pass over every vote; selection and prior read the sample
        share = multiclass_share(sampled, self.cardinality)
        selection: dict[str, Any] = {"multiclass_vote_share": share}
        fitted: dict[str, LabelModelBase] = {}
        if self.structure != "auto":
            chosen, reason = self.structure, "set by structure="
        elif self._dev is not None and (self._dev[1] >= 0).any():
            chosen, reason, selection["dev_log_loss"], fitted = self._by_dev_gold(votes, class_balance)
        else:
            chosen, reason = self._without_gold(sampled, class_balance, share, selection)
        selection["reason"] = reason
        logger.info("label_model chose %s: %s", chosen, reason)
        if chosen in fitted:
            self.model_ = fitted[chosen]
        else:  # the votes are checked already: fit the structure on them without a second pass
            self.model_ = self._build(chosen)
            self.model_._fit(votes, class_balance)
            self.model_.n_lfs_ = votes.m
        self.chosen_, self.selection_ = chosen, selection
        if class_balance is None:
            estimate = self.prior_estimate
            if estimate == "held_out":
                estimate = self._held_out_prior(sampled, chosen, selection)
            class_balance = learned_prior(sampled, self.cardinality, estimate, self.model_)
        self.class_balance_ = class_balance
        self.accuracies_ = self.model_.accuracies_

    def _without_gold(
        self, sampled: SparseVotes, class_balance: np.ndarray | None, share: float, selection: dict[str, Any]
    ) -> tuple[str, str]:
        """Rules 1 to 3 of the module docstring on held-out rows of the sampled covered rows."""
        order, train, held = self._split(sampled)
        models = {}
        selection["heldout_vote_loglik"] = {}
        if share >= MIN_MULTICLASS_SHARE and held.n:
            for name in ("confusion", "firing_rates"):
                models[name] = self._try_fit(name, train, class_balance)
                score = models[name].vote_log_likelihood(held) if models[name] is not None else float("nan")
                if np.isfinite(score):
                    selection["heldout_vote_loglik"][name] = score
        scores = selection["heldout_vote_loglik"]
        if scores.get("confusion", -np.inf) - scores.get("firing_rates", -np.inf) > self.margin:
            return "confusion", (
                f"{share:.0%} of votes come from LFs voting several classes, and confusion predicts a held-out vote from "
                f"the rest of its row better than firing rates (held-out vote log-likelihood {scores['confusion']:.4f} "
                f"against {scores.get('firing_rates', float('nan')):.4f} nats per vote; needs a lead over {self.margin})"
            )
        if share < MIN_MULTICLASS_SHARE:
            why = (f"{share:.0%} of votes come from LFs voting several classes: with one-class LFs a confusion matrix "
                   "learns nothing, so it is not tried; ")  # fmt: skip
        else:
            why = ("confusion does not predict held-out votes better than firing rates (held-out vote log-likelihood "
                   + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()) + "); ")
        return self._firing_rates_or_majority(sampled, order, class_balance, selection, why)

    def _firing_rates_or_majority(
        self, sampled: SparseVotes, order: np.ndarray, class_balance: np.ndarray | None, selection: dict[str, Any], why: str
    ) -> tuple[str, str]:
        """Rule 2 of the module docstring (held-out ties and overruled majorities, fold by fold), then rule 3."""
        totals = np.zeros(5, dtype=np.int64)  # ties won, lost and scored; strict majorities overruled and seen
        fold = np.arange(sampled.n) % TIE_FOLDS
        for f in range(TIE_FOLDS):  # each sampled row is held out once, until the ties suffice
            if totals[2] >= TIE_BUDGET:
                break
            held = sampled.select_rows(np.sort(order[fold == f]))
            part = sampled.select_rows(np.sort(order[fold != f]))
            fits = {name: self._try_fit(name, part, class_balance) for name in ("majority", "firing_rates")}
            if fits["majority"] is None or fits["firing_rates"] is None or not held.n:
                continue
            totals += tie_contest(fits["majority"], fits["firing_rates"], held, self.cardinality, self.seed)
        wins, losses, n_ties, overruled, n_strict = map(int, totals)
        p_value = binomtest(wins, wins + losses, alternative="greater").pvalue if wins + losses else 1.0
        overrule_rate = overruled / n_strict if n_strict else 0.0
        selection["heldout_ties"] = {"n": n_ties, "majority_better": wins, "majority_worse": losses,
                                     "p_value": float(p_value)}  # fmt: skip
        selection["overruled_majorities"] = {"rows": n_strict, "share": overrule_rate}
        if overrule_rate > self.max_overrule:
            return "majority", why + (
                f"firing rates overrule the strict majority of {overrule_rate:.1%} of {n_strict} held-out rows (more than "
                f"{self.max_overrule:.0%}): weights that contradict most of the votes are not trusted, so majority vote "
                "with abstain-aware tie breaks"
            )
        if p_value < self.tie_alpha:
            return "majority", why + (
                f"on ties made from {n_ties} held-out rows, majority vote with abstain-aware tie breaks picks the class "
                f"that led more often than firing rates ({wins} rows better, {losses} worse; sign test p = {p_value:.2g} "
                f"< {self.tie_alpha})"
            )
        lead = self._held_out_lfs(sampled, order, class_balance, selection)
        if lead > self.lf_margin:
            return "majority", why + (
                f"held-out ties do not decide ({wins} rows better, {losses} worse, p = {p_value:.2g}), but majority vote, "
                f"without each busiest LF in turn, predicts its held-out votes and abstains better than firing rates, by "
                f"{lead:.4f} nats per row (needs more than {self.lf_margin})"
            )
        rule_3 = (f"; without each busiest LF in turn, majority vote predicts its held-out votes no better (lead {lead:.4f} "
                  f"nats per row, needs more than {self.lf_margin})") if np.isfinite(lead) else ""  # fmt: skip
        return "firing_rates", why + (
            f"on ties made from {n_ties} held-out rows the majority structure is not better ({wins} rows better, "
            f"{losses} worse; sign test p = {p_value:.2g}, needs < {self.tie_alpha}), and firing rates overrule "
            f"{overrule_rate:.1%} of strict majorities" if n_ties
            else f"no held-out row could be made a tie, and firing rates overrule {overrule_rate:.1%} of strict "
                 "majorities, so the learned weights decide") + rule_3  # fmt: skip

    def _split(self, sampled: SparseVotes) -> tuple[np.ndarray, SparseVotes, SparseVotes]:
        """The seeded order of the sampled rows, and the rows fit on and held out (``HOLDOUT``)."""
        order = np.random.default_rng(self.seed).permutation(sampled.n)
        cut = int(round(sampled.n * (1 - HOLDOUT)))
        return order, sampled.select_rows(np.sort(order[:cut])), sampled.select_rows(np.sort(order[cut:]))

    def _held_out_prior(self, sampled: SparseVotes, chosen: str, selection: dict[str, Any]) -> str:
        """``prior_estimate="held_out"``: ``"votes"`` or ``"mean"``, whichever lets the chosen structure
        predict held-out LFs better (:func:`held_out_lf_scores`); ``"votes"`` with more than two classes."""
        _, train, held = self._split(sampled)
        if self.cardinality != 2 or not held.n:
            return "votes"
        params = {"seed": self.seed, "structure": chosen, "prior_strength": self.prior_strength, "lf_margin": self.lf_margin}
        try:
            fits = {name: AutoLabelModel(self.cardinality, prior_estimate=name, **params).fit(train)
                    for name in ("votes", "mean")}  # fmt: skip
        except ValueError as error:
            logger.info("label_model: a prior could not be compared: %s", error)
            return "votes"
        selection["prior_heldout_lf_loglik"] = scores = held_out_lf_scores(fits, train, held, HELD_OUT_LFS)
        return "mean" if scores["mean"] > scores["votes"] else "votes"

    def _held_out_lfs(
        self, sampled: SparseVotes, order: np.ndarray, class_balance: np.ndarray | None, selection: dict[str, Any]
    ) -> float:
        """Rule 3 of the module docstring: majority's lead over firing rates, nats per row (-inf: not tried)."""
        _, train, held = self._split(sampled)
        if self.cardinality != 2 or not np.isfinite(self.lf_margin) or not held.n:
            return -np.inf
        estimate = "votes" if self.prior_estimate == "held_out" else self.prior_estimate
        params = {"seed": self.seed, "prior_strength": self.prior_strength, "prior_estimate": estimate}
        try:
            fits = {name: AutoLabelModel(self.cardinality, structure=name, **params).fit(train, class_balance)
                    for name in ("majority", "firing_rates")}  # fmt: skip
            scores = held_out_lf_scores(fits, train, held, HELD_OUT_LFS)
        except ValueError as error:
            logger.info("label_model: rule 3 could not fit a structure: %s", error)
            return -np.inf
        selection["heldout_lf_loglik"] = scores
        return scores["majority"] - scores["firing_rates"]

    def _sample(self, votes: SparseVotes) -> SparseVotes:
        """The votes of at most ``SELECTION_ROWS`` covered rows (seeded), renumbered in row order."""
        covered = np.flatnonzero(np.bincount(votes.rows, minlength=votes.n) > 0)
        if len(covered) > SELECTION_ROWS:
            covered = np.sort(np.random.default_rng(self.seed).choice(covered, SELECTION_ROWS, replace=False))
        return votes.select_rows(covered)

    def _try_fit(self, name: str, votes: SparseVotes, class_balance: np.ndarray | None) -> LabelModelBase | None:
        """A structure fit for selection, or None where it cannot be (e.g. fewer than 3 LFs vote in the sample)."""
        try:
            return self._build(name, **SELECTION_FIT[name]).fit(votes, class_balance)
        except ValueError as error:
            logger.info("label_model: %s could not be fit for selection: %s", name, error)
            return None

    def _by_dev_gold(
        self, votes: SparseVotes, class_balance: np.ndarray | None
    ) -> tuple[str, str, dict[str, float], dict[str, LabelModelBase]]:
        """Every structure fit on all votes, scored by log-loss on the dev rows with gold."""
        fitted = {}
        for name in STRUCTURES:
            try:
                fitted[name] = self._build(name).fit(votes, class_balance)
            except ValueError as error:
                logger.info("label_model: %s could not be fit: %s", name, error)
        return (*least_dev_log_loss(fitted, *self._dev), fitted)

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        scores = self.model_._log_scores(votes)
        uncovered = np.bincount(votes.rows, minlength=votes.n) == 0
        if self.chosen_ == "firing_rates":  # its rates are fit under a uniform prior; the prior enters here
            scores[~uncovered] += np.log(self.class_balance_) - np.log(self.model_.class_balance_)
        scores[uncovered] = np.log(self.class_balance_)
        return scores

    def _vote_terms(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        return self.model_._vote_terms(votes)

    def fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The choice (``chosen_``, ``selection_``), the prior and the chosen model's own state, its arrays under ``model_.``."""
        state = super().fitted_state()
        nest_state(state, "model_", self.model_)
        return state

    @classmethod
    def from_fitted_state(
        cls, state: dict[str, Any], arrays: dict[str, np.ndarray], where: str, **params: Any
    ) -> AutoLabelModel:
        """The saved choice, with the chosen model rebuilt from its own state."""
        if "chosen" in state:  # written before the default saved through PersistentModel
            state = {
                "params": state["params"],
                "fitted_meta": {"n_lfs_": state["n_lfs"], "chosen_": state["chosen"], "selection_": state["selection"]},
                "model_": {"params": state["chosen_params"], "fitted_meta": {"n_lfs_": state["n_lfs"]}},
            }
            arrays = {f"model_.{name}": a for name, a in arrays.items()}  # as nest_state saves them
        inner = nested_arrays(arrays, "model_")
        if "class_balance_" not in arrays and "class_balance_" in inner:  # saved before the default kept its own prior
            arrays = {**arrays, "class_balance_": inner["class_balance_"]}
        model = super().from_fitted_state(state, arrays, where, **params)
        if model.chosen_ not in STRUCTURES or "model_" not in state:
            raise ValueError(f"load: {where} holds no chosen label model (chosen {model.chosen_!r})")
        model.model_ = STRUCTURES[model.chosen_][0].from_fitted_state(state["model_"], inner, where)
        model.accuracies_ = model.model_.accuracies_
        return model
