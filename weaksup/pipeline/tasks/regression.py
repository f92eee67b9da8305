"""Regression: a real value per example, from real-valued votes in each LF's own units.

**Labels.**  :class:`~weaksup.model.RegressionLabelModel` (Gaussian sources with their own
offset, scale and noise) is fitted on the train split's votes.  ``regression.gold_labels``
gold values (at most 50, drawn with ``label_model.seed`` from the train split) fix y's scale
and offset; with 0, y is in ``label_model.params.reference_lf``'s units, else standardised.
``[answers]`` runs are raters on one scale: y is in their units (``units="shared"``) and no
gold value is drawn, unless ``label_model.params`` names ``units``.  The metrics name the units
(``label_units``).
Each example gets E[y | votes] and Var[y | votes]; scores on gold: MSE and MAE.  The end
model (``soft_regressor``) fits the covered train examples' values, weighted by 1/variance, on
numeric columns no LF reads (:mod:`.features`).

**Exports**: ``example_id``, ``split``, the input columns, ``value``, ``variance``, ``n_votes`` and
``label_source``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor

from weaksup.apply.kinds import LabelingFunctionLike
from weaksup.data import ID
from weaksup.label_types.regression import REGRESSION
from weaksup.model import RegressionLabelModel
from weaksup.pipeline.settings import Settings
from weaksup.pipeline.tasks.base import (
    Labeled,
    InMemoryPrepared,
    Trained,
    check_output_columns,
    gold_column,
    refuse_end_model,
    scores_by_split,
    select_lfs,
    training_table,
    with_split,
)
from weaksup.pipeline.tasks.features import columns_read, end_model_features
from weaksup.store import VoteStore
from weaksup.votes import RegressionVotes

MAX_GOLD_LABELS = 50
"""Most gold labels a regression run may use to fix y's scale and offset."""


class RegressionTask:
    """Regression runs (see the module docstring)."""

    label_type: ClassVar[str] = REGRESSION.name
    end_models: ClassVar[tuple[str, ...]] = REGRESSION.end_models

    @staticmethod
    def check(settings: Settings) -> str | None:
        """The regression keys: a gold budget in range, one way to fix y's units, usable label-model params."""
        task = RegressionTask(settings)
        if not 0 <= task.gold_labels <= MAX_GOLD_LABELS:
            return (f"regression.gold_labels is {task.gold_labels}; use 0 to {MAX_GOLD_LABELS} gold labels "
                    "(0 leaves y standardised, or in label_model.params.reference_lf's units)")  # fmt: skip
        if task.gold_labels and "reference_lf" in settings.label_model.params:
            return ("label_model.params.reference_lf and regression.gold_labels both fix y's units; "
                    "set regression.gold_labels = 0 to use the reference LF")  # fmt: skip
        if task.gold_labels and settings.label_model.params.get("units") == "shared":
            return ("label_model.params.units = 'shared' puts y in the LFs' own scale, and regression.gold_labels would "
                    "refit it; set regression.gold_labels = 0, or drop units")  # fmt: skip
        try:
            task.label_model()
        except ValueError as exc:
            return str(exc)
        return None

    def __init__(self, settings: Settings, end_model: Any = None) -> None:
        refuse_end_model(end_model, self.label_type)
        self.end_model = None
        self.settings = settings
        self.gold_labels = settings.regression.gold_labels if settings.regression else MAX_GOLD_LABELS

    def label_model(self) -> RegressionLabelModel:
        """A fresh label model with ``label_model.params``; ``[answers]`` runs read raters on one scale
        (``units="shared"``) unless the params name ``units``."""
        params = dict(self.settings.label_model.params)
        if self.raters_on_one_scale:
            params["units"] = "shared"
        try:
            return RegressionLabelModel(**params)
        except TypeError as exc:
            raise ValueError(f"label_model.params do not fit the regression label model: {exc}") from None

    @property
    def raters_on_one_scale(self) -> bool:
        """An ``[answers]`` run whose params leave ``units`` unset: its raters answer on one scale, so y
        is in their units and no gold label is drawn to fix them."""
        return self.settings.answers is not None and "units" not in self.settings.label_model.params

    def prepare(self, frame: pl.DataFrame, holdout: pl.DataFrame | None = None) -> InMemoryPrepared:
        """Split the gold values (``data.gold_column``, NaN where unknown) off the examples."""
        frame = with_split(frame, self.settings)
        col = gold_column(frame, self.settings)
        gold = np.full(frame.height, np.nan)
        if col is not None:
            try:
                gold = frame[col].cast(pl.Float64, strict=True).fill_null(np.nan).to_numpy()
            except pl.exceptions.InvalidOperationError:
                raise ValueError(f"data.gold_column {col!r} must hold numbers (null where unknown), got {frame[col].dtype}") from None
            if np.isinf(gold).any():
                row = int(np.flatnonzero(np.isinf(gold))[0])
                raise ValueError(f"data.gold_column {col!r} is {gold[row]} for example {frame[ID][row]!r}; gold values must be finite")
        examples = frame.drop(col) if col else frame
        check_output_columns(examples, ["value", "variance", "n_votes"])
        return InMemoryPrepared(examples, gold, REGRESSION.gold_mask(gold), holdout)

    def select_lfs(self, lfs: Sequence[LabelingFunctionLike]) -> list[LabelingFunctionLike]:
        """The regression LFs."""
        return select_lfs(lfs, self.label_type)

    def label(
        self, store: VoteStore, ex_keys: np.ndarray, lfs: Sequence[LabelingFunctionLike], prepared: InMemoryPrepared, train: np.ndarray
    ) -> Labeled:
        """E[y | votes] and Var[y | votes] for every example; MSE and MAE per split."""
        gold = prepared.gold
        votes = store.votes.read(self.label_type, ex_keys, [(lf.name, lf.version) for lf in lfs])
        train_idx = np.flatnonzero(train)
        y = None if self.raters_on_one_scale else draw_gold(gold[train_idx], self.gold_labels, self.settings.label_model.seed)
        model = self.label_model()
        model.fit(RegressionVotes(values=votes.values[train_idx], lf_names=votes.lf_names), y=y)
        value, variance = model.predict(votes), model.predict_var(votes)
        n_votes = votes.observed.sum(axis=1)
        labels = REGRESSION.label_rows(ex_keys, (value, variance), n_votes)
        metrics: dict[str, Any] = {"gold_labels_used": int((~np.isnan(y)).sum()) if y is not None else 0,
                                   "label_units": model.units_}  # fmt: skip
        metrics.update(scores_by_split(prepared.split, prepared.has_gold,
                                       lambda rows: REGRESSION.metrics(value[rows], gold[rows]), "label_model_"))  # fmt: skip
        read = columns_read(lfs, prepared.examples.drop("split"))
        scale = model.lf_scale_
        summary = pl.DataFrame(
            {
                "lf": list(votes.lf_names),
                "coverage": votes.observed.mean(axis=0),
                "lf_scale": scale,
                "lf_offset": model.lf_offset_,
                "noise_sd_in_y_units": np.sqrt(model.noise_var_) / np.abs(scale),
                "columns_read": [", ".join(read.get(name, [])) for name in votes.lf_names],
            }
        )
        return Labeled(model, labels, n_votes, (value, variance), metrics, summary, read)

    def training_set(self, store: VoteStore, run_id: int) -> pl.DataFrame:
        """The train split's examples with their value, variance and vote count."""
        rows = store.runs.training_rows(run_id, self.settings.data.train_split, self.settings.export.keep_uncovered)
        return training_table(REGRESSION, rows, [])

    def training_batches(self, store: VoteStore, run_id: int, batch_rows: int) -> Iterator[pl.DataFrame]:
        """The training set as one batch: these runs load their source whole (streaming is categorical)."""
        yield self.training_set(store, run_id)

    def train_end_model(self, prepared: InMemoryPrepared, labeled: Labeled, train: np.ndarray, run_dir: Path) -> Trained:
        """The soft-target regressor on the covered train examples; MSE and MAE on the test split."""
        from weaksup.end_models import SoftTargetRegressor

        examples, trainer, test_split = prepared.examples, self.settings.trainer, self.settings.data.test_split
        features = end_model_features(examples, trainer, labeled.columns_read, ranking=False)
        if not features:
            raise ValueError("the end model has no features: every numeric column is read by an LF or excluded")
        X = examples.select(pl.col(features).cast(pl.Float64)).fill_null(np.nan).to_numpy()
        value, variance = labeled.predictions
        covered = np.flatnonzero(train & (labeled.n_votes > 0))
        try:
            estimator = HistGradientBoostingRegressor(random_state=self.settings.label_model.seed).set_params(**trainer.params)
        except ValueError as exc:
            raise ValueError(f"trainer.params do not fit HistGradientBoostingRegressor: {exc}") from None
        regressor = SoftTargetRegressor(estimator, seed=self.settings.label_model.seed)
        regressor.fit(X[covered], value[covered], variance[covered])
        regressor.save(run_dir / REGRESSION.end_model_file, {"features": features})
        manifest = {"end_model": {"name": trainer.name, "features": features}}
        test = np.flatnonzero((prepared.split == test_split) & prepared.has_gold)
        if not len(test):
            return Trained({}, manifest)
        end = REGRESSION.metrics(regressor.predict(X[test]), prepared.gold[test])
        return Trained({f"end_model_{n}_{test_split}": v for n, v in end.items()}, manifest)

    def describe(self) -> dict[str, Any]:
        """The label model."""
        lm = self.settings.label_model
        return {"label_model": {"name": "regression_label_model", "seed": lm.seed, "params": lm.params},
                "end_model": {"name": self.settings.trainer.name, "features": []}}  # fmt: skip


def draw_gold(gold: np.ndarray, n: int, seed: int) -> np.ndarray | None:
    """``n`` of the known gold values (drawn with ``seed``), NaN elsewhere; None when ``n`` is 0."""
    if n == 0:
        return None
    known = np.flatnonzero(~np.isnan(gold))
    if len(known) < 2:
        raise ValueError(
            f"regression.gold_labels = {n}, but the train split has {len(known)} gold values (data.gold_column); "
            "give at least 2, or set regression.gold_labels = 0"
        )
    y = np.full(len(gold), np.nan)
    pick = np.random.default_rng(seed).choice(known, min(n, len(known)), replace=False)
    y[pick] = gold[pick]
    return y
