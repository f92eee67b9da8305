"""Regression labels: a real value per example; LFs vote a finite number (in their own units) or abstain (``None``).

Votes go to the store's ``value`` column and are read back as :class:`~weaksup.votes.RegressionVotes`
(an (n, m) matrix, NaN = abstain); labels are E[y | votes] (``value``) and Var[y | votes]
(``variance``); the end model is a soft-target regressor on numeric columns
(:class:`~weaksup.end_models.SoftTargetRegressor`).

>>> REGRESSION.check_vote(2, 0), REGRESSION.check_vote(None, 0)
(2.0, None)
>>> REGRESSION.metrics(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
{'mse': 2.0, 'mae': 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from weaksup.label_types.base import LabelType, Part, VoteError, VoteReader
from weaksup.votes import RegressionVotes

if TYPE_CHECKING:
    from weaksup.store.votes import LFVersions

__all__ = ["REGRESSION", "RegressionType"]


class RegressionType(LabelType):
    """Regression labels (see the module docstring)."""

    name = "regression"
    doc = "a real value per example; see [regression]"
    vote_column = "value"
    votes_class = RegressionVotes
    answer_dtype = pl.Float64
    label_columns = ("value", "variance")
    end_models = ("soft_regressor", "none")
    end_model = "SoftTargetRegressor"
    end_model_file = "end_model.npz"
    predicted_columns = ("value",)
    task = Part("weaksup.pipeline.tasks.regression:RegressionTask")
    report_type = Part("weaksup.report.types.regression:Regression")
    section = "regression"

    def check_vote(self, value: Any, cardinality: int, classes: Sequence[str] = ()) -> float | None:
        if value is None:
            return None
        expected = "a regression LF must return a finite number, or None to abstain"
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise VoteError(f"{value!r} of type {type(value).__name__}", expected)
        if not np.isfinite(value):
            raise VoteError(repr(float(value)), expected)
        return float(value)

    def check_column(self, column: pl.Series, cardinality: int, classes: Sequence[str] = ()) -> tuple[np.ndarray, list[Any] | None]:
        expected = "a regression LF yields finite numbers, or null to abstain"
        if not column.dtype.is_numeric():
            raise VoteError(f"a column of dtype {column.dtype}", expected)
        floats = column.cast(pl.Float64)
        bad = (~floats.is_finite()).fill_null(False)
        if bad.any():
            raise VoteError(repr(float(floats.filter(bad)[0])), expected, int(np.flatnonzero(bad.to_numpy())[0]))
        return self.as_output(floats.to_list())

    def answer_values(self, answers: pl.Series, classes: Sequence[str], by: str,
                      truth: bool = False) -> tuple[pl.Series, str, str]:  # fmt: skip
        """Finite numbers (``by`` is ``"number"``)."""
        values = pl.DataFrame({"v": answers.cast(pl.Float64, strict=False)})
        votes = values.select(pl.when(pl.col("v").is_finite()).then("v"))["v"]
        return votes, "number", "a finite number" if truth else f"a finite number (labels.type is {self.name!r})"

    def read_votes(self, votes: VoteReader, ex_keys: np.ndarray, lfs: LFVersions, **context: Any) -> RegressionVotes:
        """The (n, m) values, NaN = abstain; every LF version must vote regression labels."""
        votes.check_label_type(lfs, self.name)
        keys = np.asarray(ex_keys, dtype=np.int64)
        got = votes.coordinates(keys, lfs, self.vote_column)
        values = np.full((len(keys), len(lfs)), np.nan)
        values[got["row"].to_numpy(), got["col"].to_numpy()] = got["vote"].to_numpy()
        return RegressionVotes.of(values, [lf[0] for lf in lfs])

    def label_rows(self, ex_keys: np.ndarray, predicted: Any, n_votes: np.ndarray) -> pl.DataFrame:
        """``predicted``: each example's value and variance."""
        value, variance = predicted
        return pl.DataFrame({"ex_key": ex_keys, "value": value, "variance": variance, "n_votes": n_votes.astype(np.int32)})

    def training_frame(self, inputs: pl.DataFrame, rows: pl.DataFrame, classes: Sequence[str]) -> pl.DataFrame:
        """``value``, ``variance``, ``n_votes``."""
        return inputs.with_columns(rows["value"], rows["variance"], rows["n_votes"].cast(pl.Int64))

    def gold_column(self, gold: Any) -> pl.Series:
        return pl.Series("gold", np.asarray(gold).astype(float)).fill_nan(None)

    def read_gold(self, column: pl.Series, classes: Sequence[str] = ()) -> np.ndarray:
        """Floats, NaN where unknown."""
        return column.cast(pl.Float64).fill_null(np.nan).to_numpy()

    def gold_mask(self, gold: Any) -> np.ndarray:
        return ~np.isnan(np.asarray(gold, dtype=float))

    def metrics(self, predicted: Any, gold: Any, **options: Any) -> dict[str, float | None]:
        """Mean squared and absolute error."""
        from weaksup.evaluation import mae, mse

        return {"mse": mse(predicted, gold), "mae": mae(predicted, gold)}

    def load_end_model(self, path: Path, **options: Any) -> Any:
        from weaksup.end_models.regression import SoftTargetRegressor

        return SoftTargetRegressor.load(path)

    def predict(self, model: Any, frame: pl.DataFrame, **options: Any) -> pl.DataFrame:
        """``value``, from the numeric feature columns the model was trained on (null reads as missing)."""
        features = list(model.metadata_.get("features") or [])
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise ValueError(f"no feature columns {missing}, which the end model reads; its columns are {frame.columns}")
        X = frame.select(pl.col(features).cast(pl.Float64)).fill_null(np.nan).to_numpy()
        return pl.DataFrame([pl.Series("value", model.predict(X), dtype=pl.Float64)])


REGRESSION = RegressionType()
