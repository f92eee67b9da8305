"""Snorkel's LabelModel behind weaksup's contract, so switching models is one word.

Snorkel (and torch) are an optional extra, imported only when a model is fitted.  A fitted
model predicts, saves and loads without Snorkel.

>>> from weaksup.model import make_label_model
>>> make_label_model("snorkel", cardinality=2, n_epochs=500)
SnorkelLabelModel(cardinality=2, n_epochs=500)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from weaksup.model._base import LabelModelBase, lf_coverage
from weaksup.votes import SparseVotes

INSTALL_HINT = (
    "pip install 'weaksup[snorkel]' (install the CPU build of torch first: "
    "pip install torch==2.13.0)"
)


def _snorkel_label_model() -> Any:
    try:
        from snorkel.labeling.model import LabelModel
    except ImportError as error:
        raise ImportError(
            f"SnorkelLabelModel needs the snorkel package: {INSTALL_HINT}; "
            "or use weaksup's own LabelModel, which needs no torch"
        ) from error
    return LabelModel


class SnorkelLabelModel(LabelModelBase):
    """``snorkel.labeling.model.LabelModel`` (MeTaL matrix completion, trained by SGD).

    ``n_epochs``, ``lr``, ``l2``, ``optimizer`` and ``prec_init`` go to Snorkel's ``fit``;
    ``seed`` seeds it (Snorkel sets the global random, numpy and torch seeds).  Snorkel needs
    a dense matrix, so ``fit`` densifies the votes and Snorkel builds an n × (m·k) float
    one-hot matrix: memory grows with n·m·k.  Its prior is uniform unless ``class_balance``
    is given.

    ``predict_proba`` applies Snorkel's own formula, P(y | λ) ∝ P(y) · Π over votes of
    μ[a·k + v, y], to the sparse votes (abstains carry no evidence; all-abstain rows get
    ``class_balance_``).  Fitted: ``mu_`` (m·k, k) = P(λ_a = v | y), ``class_balance_``,
    ``accuracies_`` from Snorkel's ``get_weights`` (NaN for an LF that never votes).
    Needs 3 LFs that vote.
    """

    min_lfs = 3
    _fitted_arrays = ("class_balance_", "accuracies_", "mu_")

    def __init__(
        self,
        cardinality: int,
        seed: int = 0,
        n_epochs: int = 100,
        lr: float = 0.01,
        l2: float = 0.0,
        optimizer: str = "sgd",
        prec_init: float = 0.7,
    ) -> None:
        self.cardinality = cardinality
        self.seed = seed
        self.n_epochs = n_epochs
        self.lr = lr
        self.l2 = l2
        self.optimizer = optimizer
        self.prec_init = prec_init

    def _fit(self, votes: SparseVotes, class_balance: np.ndarray | None) -> None:
        model = _snorkel_label_model()(cardinality=self.cardinality, verbose=False)
        model.fit(
            votes.to_dense(),
            class_balance=None if class_balance is None else list(class_balance),
            n_epochs=self.n_epochs,
            lr=self.lr,
            l2=self.l2,
            optimizer=self.optimizer,
            prec_init=self.prec_init,
            seed=self.seed,
            progress_bar=False,
        )
        self.mu_ = model.mu.detach().cpu().numpy().astype(float)
        self.class_balance_ = np.asarray(model.p, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.asarray(model.get_weights(), dtype=float)
        self.accuracies_ = np.where(lf_coverage(votes) > 0, weights, np.nan)

    def _log_scores(self, votes: SparseVotes) -> np.ndarray:
        # Vote (a, v) adds log μ[a·k + v, c] to every class c: k bincounts over the votes.
        k = self.cardinality
        log_mu = np.log(self.mu_)
        index = votes.cols.astype(np.int64) * k + votes.labels
        scores = np.empty((votes.n, k))
        for c in range(k):
            scores[:, c] = np.bincount(votes.rows, weights=log_mu[index, c], minlength=votes.n)
        return scores + np.log(self.class_balance_)
