"""The default label model: picks the structure that fits the votes, by held-out vote likelihood.

Two structures cover the data weaksup meets, and neither is safe everywhere:

- ``"firing_rates"``: :class:`~weaksup.model.label_model.LabelModel`, per-LF, per-class firing
  rates with a learned, shrunk class balance, fit with each LF's silence weakly counted and 100
  pseudo-votes per rate (its docstring says why).  Which LF fires is evidence, so LFs that only
  ever vote one class ("has a link → SPAM") are informative.  Best on hand-written LFs.
- ``"confusion"``: :class:`~weaksup.model.dawid_skene.DawidSkene` with abstains skipped and
  confusions shrunk toward the pooled one.  Best on crowd answers, where many workers each
  label a few items and abstaining says nothing about the class.

Selection, never with gold labels: when fewer than ``MIN_MULTICLASS_SHARE`` of the votes come
from LFs that vote two classes or more, the confusion structure cannot learn anything (a one-class
LF's confusion row is the same for every class), so firing rates are used.  Otherwise both are
fit on a seeded 75% of (at most ``SELECTION_ROWS``) covered rows and scored on the other 25% by
:meth:`~weaksup.model._base.LabelModelBase.vote_log_likelihood`: how well each predicts a vote
from the rest of its row.  The confusion structure is chosen when it wins by more than
``MARGIN`` nats per vote, then refit on every row.  The choice is logged (logger
``weaksup.model``) and kept in ``chosen_`` and ``selection_``; ``structure=`` forces either.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 3000)
>>> L = np.stack([np.where(rng.random(3000) < a, y, 1 - y) for a in (0.9, 0.8, 0.7, 0.6)], 1)
>>> model = AutoLabelModel(cardinality=2).fit(L)
>>> model.chosen_ in ("firing_rates", "confusion"), float((model.predict(L) == y).mean()) > 0.85
(True, True)
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from weaksup.model._base import LabelModelBase
from weaksup.model.dawid_skene import DawidSkene
from weaksup.model.label_model import LabelModel
from weaksup.votes import SparseVotes

logger = logging.getLogger("weaksup.model")

STRUCTURES: dict[str, tuple[type[LabelModelBase], dict[str, Any]]] = {
    "firing_rates": (LabelModel, {
        "learn_class_balance": True,
        "balance_strength": 0.16,
        "silence_weight": 0.15,
        "prior_votes": 100.0,
    }),
    "confusion": (DawidSkene, {"abstain": "skip"}),
}
"""Each structure's model class and the parameters the default gives it."""
MIN_MULTICLASS_SHARE = 0.5
"""Below this share of votes from LFs voting 2+ classes, the confusion structure is not tried."""
SELECTION_ROWS = 20_000
"""Selection fits on at most this many covered rows (a seeded sample), so it costs little at scale."""
HOLDOUT = 0.25
"""Share of the sampled rows held out to score the two structures."""
SELECTION_FIT: dict[str, dict[str, Any]] = {
    "firing_rates": {"max_iter": 20, "tol": 1e-3},
    "confusion": {"max_iter": 20, "tol": 1e-4},
}
"""Looser stopping for the held-out fits: ranking two structures needs no converged digits, and
these fits would otherwise cost more than the final one."""
INNER = "model_."
"""Prefix of the chosen model's arrays in a saved default model."""
MARGIN = 0.01
"""Nats per held-out vote by which the confusion structure must win: firing rates has fewer
parameters and is the cheaper fit at scale, so it keeps ties."""


def multiclass_share(votes: SparseVotes, cardinality: int) -> float:
    """Share of the votes cast by LFs that vote at least two different classes."""
    if votes.nnz == 0:
        return 0.0
    pairs = votes.cols * cardinality + votes.labels  # in the votes' own integer type: m·k is far below 2^31
    seen = np.bincount(pairs, minlength=votes.m * cardinality) > 0  # (LF, class) pairs
    del pairs
    several = seen.reshape(votes.m, cardinality).sum(axis=1) >= 2
    return float(np.bincount(votes.cols, minlength=votes.m)[several].sum() / votes.nnz)


class AutoLabelModel(LabelModelBase):
    """The default categorical label model (registry name ``label_model``); see the module docstring.

    ``structure`` is ``"auto"`` (select), ``"firing_rates"`` or ``"confusion"``.  Fitted:
    ``chosen_`` (the structure), ``selection_`` (why: the multiclass vote share, the held-out
    vote log-likelihoods, a sentence), ``model_`` (the fitted model of that structure), and its
    ``class_balance_`` and ``accuracies_``.  Needs 3 LFs that vote.
    """

    min_lfs = 3
    _fitted_arrays = ()
    _fitted_meta = ("n_lfs_", "chosen_", "selection_")

    def __init__(
        self,
        cardinality: int,
        seed: int = 0,
        structure: Literal["auto", "firing_rates", "confusion"] = "auto",
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.structure = structure

    def _build(self, structure: str, **overrides: Any) -> LabelModelBase:
        cls, params = STRUCTURES[structure]
        return cls(cardinality=self.cardinality, seed=self.seed, **params, **overrides)

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        if self.structure not in ("auto", *STRUCTURES):
            raise ValueError(
                f"AutoLabelModel: structure must be 'auto', {', '.join(map(repr, STRUCTURES))}; got {self.structure!r}"
            )
        share = multiclass_share(votes, self.cardinality)
        selection: dict[str, Any] = {"multiclass_vote_share": share, "heldout_vote_loglik": {}}
        if self.structure != "auto":
            chosen, reason = self.structure, "set by structure="
        elif share < MIN_MULTICLASS_SHARE:
            chosen = "firing_rates"
            reason = (
                f"{share:.0%} of votes come from LFs that vote several classes: skipping abstains would "
                "leave the one-class LFs nothing to learn from"
            )
        else:
            scores = self._heldout_scores(votes, class_balance)
            selection["heldout_vote_loglik"] = scores
            better = scores.get("confusion", -np.inf) - scores.get("firing_rates", -np.inf)
            chosen = "confusion" if better > MARGIN else "firing_rates"
            reason = (
                f"held-out vote log-likelihood per vote: confusion {scores.get('confusion', float('nan')):.4f}, "
                f"firing_rates {scores.get('firing_rates', float('nan')):.4f} (confusion needs a lead over {MARGIN})"
            )
        selection["reason"] = reason
        logger.info("label_model chose %s: %s", chosen, reason)
        self.model_ = self._build(chosen).fit(votes, class_balance)
        self.chosen_, self.selection_ = chosen, selection
        self.class_balance_, self.accuracies_ = self.model_.class_balance_, self.model_.accuracies_

    def _heldout_scores(self, votes: SparseVotes, class_balance: np.ndarray | None) -> dict[str, float]:
        """Each structure's vote log-likelihood on held-out covered rows (structures that fail to fit are left out)."""
        rng = np.random.default_rng(self.seed)
        covered = np.flatnonzero(np.bincount(votes.rows, minlength=votes.n) > 0)
        sample = rng.permutation(covered)[:SELECTION_ROWS]
        cut = int(round(len(sample) * (1 - HOLDOUT)))
        train, held = votes.select_rows(np.sort(sample[:cut])), votes.select_rows(np.sort(sample[cut:]))
        scores = {}
        for name in STRUCTURES:
            try:
                score = self._build(name, **SELECTION_FIT[name]).fit(train, class_balance).vote_log_likelihood(held)
            except ValueError as error:  # e.g. fewer than 3 LFs vote in the sample
                logger.info("label_model: %s could not be scored on held-out rows: %s", name, error)
                continue
            if np.isfinite(score):
                scores[name] = score
        return scores

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        return self.model_._log_scores(votes)

    def _vote_terms(self, votes: SparseVotes) -> tuple[np.ndarray, np.ndarray]:
        return self.model_._vote_terms(votes)

    def fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The choice (``chosen_``, ``selection_``) and the chosen model's own state, its arrays under ``model_.``."""
        meta, arrays = super().fitted_state()
        inner_meta, inner_arrays = self.model_.fitted_state()
        meta["model_"] = inner_meta
        arrays.update({INNER + name: a for name, a in inner_arrays.items()})
        return meta, arrays

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
            arrays = {INNER + name: a for name, a in arrays.items()}
        model = super().from_fitted_state(state, arrays, where, **params)
        if model.chosen_ not in STRUCTURES or "model_" not in state:
            raise ValueError(f"load: {where} holds no chosen label model (chosen {model.chosen_!r})")
        inner = {name[len(INNER) :]: a for name, a in arrays.items() if name.startswith(INNER)}
        model.model_ = STRUCTURES[model.chosen_][0].from_fitted_state(state["model_"], inner, where)
        model.class_balance_, model.accuracies_ = model.model_.class_balance_, model.model_.accuracies_
        return model
