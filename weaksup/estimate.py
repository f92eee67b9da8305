"""Answers with valid intervals: class prevalence (and downstream regressions) from soft labels and
a few gold rows, by prediction-powered inference.

The plug-in average of weak labels is biased by the label model's errors.  With ``n`` gold rows
drawn at random from the same examples, prediction-powered inference (Angelopoulos et al.,
Science 2023; PPI++, Angelopoulos, Duchi and Zrnic, 2023) corrects the plug-in by the soft labels'
average error on the gold rows, with a power-tuned weight, and gives a confidence interval that
covers the true value at the nominal rate whatever the label model's quality; it is never much
wider than the classical interval of the gold rows alone, and narrower when the soft labels are
good.  :func:`prevalence` reports the three side by side: the plug-in, the classical (gold only)
and the PPI estimate, per class and per group.  :func:`regression` is the same for the
coefficients of a logistic or linear regression of a label on covariates (as DSL, Egami et al.,
NeurIPS 2023), through ``ppi-python`` (MIT): ``pip install 'weaksup[estimate]'``.

The predictions need not be the label model's: ``weaksup estimate`` uses by default the run's end
model's class probabilities (:func:`run_prevalence`), which usually predict the truth better, and
PPI's interval narrows as its predictor improves.  The intervals stay valid with it: the end model is
fitted on the soft labels alone, never on gold, and without knowing which rows are gold, so given the
fitted model the gold rows are still a uniform random draw from the finite set of examples, which is
all PPI asks of them (its predictions, even in-sample, are then fixed numbers per example).

Both intervals rest on the gold rows being a uniform random sample of the examples.  With 50 or 100
gold rows the central-limit intervals fail for a rare class: a sample with none of its rows (or
none of the label model's errors on it) shows a variance of about 0, and PPI++'s weight, tuned on
that sample, falls to 0 and the interval to a point.  So the class shares add pseudo rows to the
gold rows (:func:`share_estimate`): the classical interval is Agresti-Coull's, and the PPI one the
same pseudo rows at the corners of (label, soft label), as Agresti and Min (2005) do for paired
proportions.  ppi-python's mean interval has no such option (its sample weights are not frequency
weights), so these few lines of arithmetic are ours.  The choice was made on synthetic data
(``benchmarks/estimate_simulation.py``: shares 0.02-0.5, weak to good soft labels, 50-200 gold
rows), where 90% intervals cover at least 0.887 in every cell, against 0.553 for ppi-python's.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> truth = (rng.random(5000) < 0.3).astype(int)
>>> p1 = np.clip(0.2 + 0.6 * truth + rng.normal(0, 0.1, 5000), 0, 1)  # soft labels, biased upwards
>>> gold = np.full(5000, -1)
>>> picked = rng.choice(5000, 200, replace=False)
>>> gold[picked] = truth[picked]
>>> table = prevalence(np.c_[1 - p1, p1], gold, ["no", "yes"])
>>> row = table.filter(class_name="yes").row(0, named=True)
>>> round(row["plug_in"], 2), bool(row["ppi_low"] < truth.mean() < row["ppi_high"])
(0.38, True)
>>> bool(row["ppi_high"] - row["ppi_low"] < row["classical_high"] - row["classical_low"])
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import norm

COLUMNS = ("class_name", "n", "n_gold", "plug_in", "classical", "classical_low", "classical_high", "ppi", "ppi_low",
           "ppi_high")  # fmt: skip
"""The columns of :func:`prevalence`'s table (after the group column, with ``by``)."""


def _ppi() -> Any:
    try:
        import ppi_py
    except ImportError:
        raise ImportError("weaksup estimate needs ppi-python: pip install 'weaksup[estimate]'") from None
    return ppi_py


def share_estimate(y: np.ndarray, yhat: np.ndarray, yhat_unlabeled: np.ndarray, alpha: float = 0.1,
                   lam: float | None = None, pseudo: float | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The prediction-powered estimate of a class's share and its standard error, from the gold
    rows' 0/1 labels ``y`` and soft labels ``yhat`` and the other rows' soft labels; ``lam=0`` is
    the classical (gold only) estimate, ``lam=1`` plain PPI, ``None`` PPI++'s power-tuned weight
    (clipped to [0, 1]; 0 when the soft labels are constant).  Arrays may carry leading batch axes (the benchmark's draws).

    ``pseudo`` rows (default ``z**2 / 4``, z the normal quantile of ``alpha``) are added to the gold
    rows at each corner of (label, soft label) in {0, 1}^2, as Agresti and Min (2005) do for paired
    proportions.  With ``lam=0`` this is exactly Agresti-Coull's interval (z^2/2 successes and z^2/2
    failures); for PPI it keeps the rectifier's variance (and the tuned weight) away from the 0 a
    small sample shows when it holds none of a rare class's errors, which made the plain CLT
    interval collapse and miss."""
    z = float(norm.ppf(1 - alpha / 2))
    c = z * z / 4 if pseudo is None else pseudo
    y, f, fu = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabeled))
    n, n_rest = y.shape[-1], fu.shape[-1]
    m = n + 4 * c
    mean_y, mean_f = (y.sum(-1) + 2 * c) / m, (f.sum(-1) + 2 * c) / m
    var_y = (np.square(y).sum(-1) + 2 * c) / m - mean_y**2
    var_f = (np.square(f).sum(-1) + 2 * c) / m - mean_f**2
    cov = ((y * f).sum(-1) + c) / m - mean_y * mean_f
    if n_rest == 0:  # every example has gold: the soft labels add nothing
        lam = 0.0
    elif lam is None:
        every = (f.sum(-1) + fu.sum(-1)) / (n + n_rest)
        spread = (np.square(f).sum(-1) + np.square(fu).sum(-1)) / (n + n_rest) - every**2
        varies = spread > 1e-12  # constant soft labels carry nothing: the classical estimate
        lam = np.where(varies, np.clip(cov / ((1 + n / n_rest) * np.where(varies, spread, 1.0)), 0.0, 1.0), 0.0)
    rest_mean = fu.mean(-1) if n_rest else 0.0
    rest_var = fu.var(-1) / n_rest if n_rest else 0.0
    point = lam * rest_mean + mean_y - lam * mean_f
    rectifier_var = np.maximum(var_y + lam**2 * var_f - 2 * lam * cov, 0.0)
    return point, np.sqrt(lam**2 * rest_var + rectifier_var / m)


def class_interval(y: np.ndarray, yhat: np.ndarray, yhat_unlabeled: np.ndarray, alpha: float) -> dict[str, float]:
    """One class's share: the plug-in (every row's soft label), the classical estimate and interval
    (the gold rows ``y`` alone, Agresti-Coull) and the PPI++ estimate and interval (the gold rows'
    soft labels ``yhat`` and the other rows' ``yhat_unlabeled``), both from
    :func:`share_estimate` with its pseudo rows; estimates are the intervals' centres, intervals
    are clipped to [0, 1]."""
    z = float(norm.ppf(1 - alpha / 2))
    out = {"plug_in": float(np.concatenate([np.asarray(yhat, dtype=float), np.asarray(yhat_unlabeled, dtype=float)]).mean())}
    for name, lam in (("classical", 0.0), ("ppi", None)):
        point, se = (float(v) for v in share_estimate(y, yhat, yhat_unlabeled, alpha, lam=lam))
        out |= {name: point, f"{name}_low": max(point - z * se, 0.0), f"{name}_high": min(point + z * se, 1.0)}
    return out


def prevalence(probs: np.ndarray, gold: np.ndarray, classes: Sequence[str], alpha: float = 0.1,
               groups: Sequence[Any] | None = None) -> pl.DataFrame:  # fmt: skip
    """Each class's share of the examples (per group of ``groups``, one value per row, when given):
    the plug-in, classical and PPI estimates with ``1 - alpha`` intervals (see :data:`COLUMNS`).

    ``probs``: (n, k) soft labels of every example; ``gold``: class ids, -1 where unknown.  A
    ``ValueError`` when no row (of a group) has gold: without gold rows no interval is valid."""
    probs, gold = np.asarray(probs, dtype=float), np.asarray(gold)
    if probs.ndim != 2 or probs.shape != (len(gold), len(classes)):
        raise ValueError(f"probs must be (n, k) = ({len(gold)}, {len(classes)}), got {probs.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is {alpha}; give the miscoverage in (0, 1), e.g. 0.1 for 90% intervals")
    keys = np.asarray(groups, dtype=object) if groups is not None else np.zeros(len(gold), dtype=object)
    rows = []
    for group in dict.fromkeys(keys.tolist()):
        mine = keys == group
        known = mine & (gold >= 0)
        where = f" in group {group!r}" if groups is not None else ""
        if known.sum() < 2:
            raise ValueError(f"{int(known.sum())} example{where} has gold; an interval needs gold labels on at least 2 "
                             "examples drawn at random (data.gold_column)")  # fmt: skip
        rest = mine & (gold < 0)
        for j, name in enumerate(classes):
            shares = class_interval((gold[known] == j).astype(float), probs[known, j], probs[rest, j], alpha)
            rows.append({**({"group": group} if groups is not None else {}), "class_name": str(name),
                         "n": int(mine.sum()), "n_gold": int(known.sum()), **shares})  # fmt: skip
    return pl.DataFrame(rows)


def regression(X: np.ndarray, y: np.ndarray, yhat: np.ndarray, X_unlabeled: np.ndarray, yhat_unlabeled: np.ndarray,
               kind: str = "logistic", alpha: float = 0.1) -> pl.DataFrame:  # fmt: skip
    """Coefficients of a ``logistic`` (a 0/1 label) or ``linear`` regression of the label on the
    covariates ``X``, from the gold rows (``X``, gold ``y``, soft labels ``yhat``) and the other
    rows (``X_unlabeled``, ``yhat_unlabeled``): per coefficient the classical (gold only) and the
    PPI estimate with ``1 - alpha`` intervals.  Add a column of ones to ``X`` for an intercept."""
    ppi = _ppi()
    X, Xu = np.asarray(X, dtype=float), np.asarray(X_unlabeled, dtype=float)
    y, yhat, yu = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabeled))
    if kind == "logistic":
        point = ppi.ppi_logistic_pointestimate(X, y, yhat, Xu, yu)
        low, high = ppi.ppi_logistic_ci(X, y, yhat, Xu, yu, alpha=alpha)
        c_low, c_high = ppi.classical_logistic_ci(X, y, alpha=alpha)
    elif kind == "linear":
        point = ppi.ppi_ols_pointestimate(X, y, yhat, Xu, yu)
        low, high = ppi.ppi_ols_ci(X, y, yhat, Xu, yu, alpha=alpha)
        c_low, c_high = ppi.classical_ols_ci(X, y, alpha=alpha)
    else:
        raise ValueError(f"kind is {kind!r}; use 'logistic' or 'linear'")
    return pl.DataFrame({"coefficient": list(range(X.shape[1])), "classical_low": np.ravel(c_low),
                         "classical_high": np.ravel(c_high), "ppi": np.ravel(point), "ppi_low": np.ravel(low),
                         "ppi_high": np.ravel(high)})  # fmt: skip


PREDICTORS = ("end_model", "label_model")
"""What :func:`run_prevalence` can average: the run's end model's class probabilities (the default,
when the run trained one) or the label model's soft labels."""


def run_prevalence(store: Any, cfg: Any, run_id: int | None = None, by: str | None = None, alpha: float = 0.1,
                   predictions: str | None = None) -> tuple[int, pl.DataFrame, str, str | None]:  # fmt: skip
    """:func:`prevalence` over every example of a categorical pipeline's run (default: its newest
    succeeded one), from the gold the run saved (``gold.parquet``) and the ``predictions`` of
    :data:`PREDICTORS`: the run's saved end model's class probabilities on its examples, or the soft
    labels the store keeps.  ``None``: the end model when the run has one, else the label model (with
    a note); ``by``: an input column to group by.  The run id, the table, the predictor used and the
    note (or None)."""
    from weaksup.report.view import load_gold

    from weaksup.label_types import label_type_for

    settings = cfg.settings
    if predictions not in (None, *PREDICTORS):
        raise ValueError(f"--predictions is {predictions!r}; use one of {list(PREDICTORS)}")
    if "probs" not in label_type_for(settings.labels.type).label_columns:  # class probabilities to average
        raise ValueError(f"weaksup estimate estimates class shares; {cfg.file} has labels.type = {settings.labels.type!r}")
    if run_id is None:
        last = store.runs.last_succeeded(settings.name)
        if last is None:
            raise ValueError(f"pipeline {settings.name!r} has no succeeded run in {store.path}; run it first (`weaksup run`)")
        run_id = int(last["run_id"])
    record = store.runs.labeled(run_id, " to estimate from")
    folder = cfg.resolve(settings.export.dir) / str(record.get("export_dir") or "")
    model = end_model_file(folder) if record.get("export_dir") else None
    note = None
    if model is None and predictions == "end_model":
        raise ValueError(f"run {run_id} has no end model (trainer.name = {settings.trainer.name!r}, or its run folder "
                         f"{str(folder)!r} was pruned): use --predictions label_model, or run a pipeline that trains one")  # fmt: skip
    if model is None and predictions is None:
        note = f"run {run_id} has no end model (trainer.name = {settings.trainer.name!r}): the label model's soft labels predict"
    predictor = predictions or ("end_model" if model is not None else "label_model")
    use_end_model = predictor == "end_model"
    labels = store.report_reader().run_labels(run_id, columns=("probs",), ids=False,
                                              data=use_end_model or by not in (None, "split"))  # fmt: skip
    keys = labels["ex_key"].to_numpy()
    gold = load_gold(folder, keys, settings.labels.type) if record.get("export_dir") else None
    if gold is None or not (np.asarray(gold) >= 0).any():
        raise ValueError(f"run {run_id} has no gold labels: weaksup estimate needs a few examples labeled by hand, drawn "
                         "at random, in data.gold_column (a few hundred give intervals a few points wide)")  # fmt: skip
    groups = None
    if by == "split":
        groups = labels["split"].cast(pl.String).fill_null("(none)").to_list()
    elif by is not None:
        first = json.loads(labels["data"][0]) if labels.height else {}
        if by not in first:
            raise ValueError(f"--by {by!r} is not an input column of run {run_id}; its columns are {['split', *first]}")
        values = [json.loads(row).get(by) for row in labels["data"]]
        groups = ["(missing)" if v is None else v for v in values]
    classes = [str(c) for c in settings.labels.classes]
    if use_end_model and model is not None:
        probs = end_model_probs(model, labels["data"], classes, settings.trainer.trusted_types)
    else:
        probs = np.vstack(labels["probs"].to_list())
    return run_id, prevalence(probs, np.asarray(gold), classes, alpha, groups), predictor, note


def end_model_file(run_dir: Path) -> Path | None:
    """The end-model file a run folder holds, or None."""
    from weaksup.predict import MODEL_FILES

    return next((run_dir / name for name in MODEL_FILES if (run_dir / name).exists()), None)


def end_model_probs(path: Path, data: pl.Series, classes: Sequence[str], trusted: Sequence[str] = ()) -> np.ndarray:
    """The class probabilities the end model in ``path`` gives the examples whose input rows ``data``
    holds (JSON text, as the store keeps them), loaded and applied as ``weaksup predict`` does."""
    from weaksup.predict import model_type

    label_type = model_type(path)
    model = label_type.load_end_model(path, trusted=tuple(trusted))
    frame = data.str.json_decode(infer_schema_length=None).struct.unnest()
    added = label_type.predict(model, frame)
    columns = [f"prob_{c}" for c in classes]
    if not all(c in added.columns for c in columns):
        raise ValueError(f"the end model {str(path)!r} predicts {[c for c in added.columns if c.startswith('prob_')]}, "
                         f"not the run's classes {list(classes)}")  # fmt: skip
    return added.select(columns).to_numpy()
