"""Evaluation metrics and end models of the universal label types."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from weaksup.end_models import PairwiseRanker, SoftTargetRegressor
from weaksup.evaluation import (
    kendall_tau_distance,
    mae,
    mean_kendall_tau_distance,
    mean_ndcg_at_k,
    mse,
    ndcg_at_k,
)


def test_kendall_tau_distance_counts_discordant_pairs() -> None:
    assert kendall_tau_distance([1, 2, 3, 4], [1, 2, 3, 4]) == 0.0
    assert kendall_tau_distance([4, 3, 2, 1], [1, 2, 3, 4]) == 1.0
    assert kendall_tau_distance([2, 1, 3, 4], [1, 2, 3, 4]) == pytest.approx(1 / 6)


def test_kendall_tau_distance_skips_ties_and_missing_items() -> None:
    scores = {"a": 7.0, "b": 7.0, "c": 5.0, "d": 9.0}
    # pairs: a-b tied (skipped); d above all: ranking puts d last -> 3 discordant of 5 untied pairs
    assert kendall_tau_distance(["a", "b", "c", "d"], scores) == pytest.approx(3 / 5)
    assert kendall_tau_distance(["b", "a"], scores) != kendall_tau_distance(["b", "a"], scores)  # NaN: only a tie
    assert kendall_tau_distance(["x", "c", "d"], scores) == 1.0  # 'x' has no score: ignored
    assert mean_kendall_tau_distance([["b", "a"], ["d", "c"]], [scores, scores]) == 0.0
    with pytest.raises(ValueError, match="2 rankings for 1 truths"):
        mean_kendall_tau_distance([["a"], ["b"]], [scores])


def test_ndcg_at_k_by_hand() -> None:
    rel = {"a": 3.0, "b": 2.0, "c": 0.0}
    assert ndcg_at_k(["a", "b", "c"], rel, k=3) == pytest.approx(1.0)
    dcg = 0.0 / np.log2(2) + 3.0 / np.log2(3)
    ideal = 3.0 / np.log2(2) + 2.0 / np.log2(3)
    assert ndcg_at_k(["c", "a", "b"], rel, k=2) == pytest.approx(dcg / ideal)
    assert mean_ndcg_at_k([["a", "b", "c"], ["c", "a", "b"]], [rel, rel], k=2) == pytest.approx((1 + dcg / ideal) / 2)
    with pytest.raises(ValueError, match="item 'z' is ranked but has no relevance"):
        ndcg_at_k(["z", "a"], rel, k=2)


def test_mse_mae_and_their_errors() -> None:
    assert mse([1, 2, 3], [1, 2, 5]) == pytest.approx(4 / 3)
    assert mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="mse: 2 predictions for 3 true values"):
        mse([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="mae: predictions row 1 is not finite"):
        mae([1, np.nan], [1, 2])


def test_soft_target_regressor_trusts_confident_rows() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    var = np.where(rng.random(2000) < 0.5, 0.01, 25.0)
    target = y + rng.normal(size=2000) * np.sqrt(var) + np.where(var > 1, 3.0, 0.0)  # unsure rows are also biased
    target[:10] = np.nan  # rows no LF voted on
    weighted = SoftTargetRegressor(LinearRegression()).fit(X, target, var)
    flat = SoftTargetRegressor(LinearRegression()).fit(X, target, np.ones(2000))
    assert mse(weighted.predict(X), y) < 0.1 * mse(flat.predict(X), y)
    default = SoftTargetRegressor(seed=1).fit(X, target, var)
    assert mse(default.predict(X), y) < np.var(y)
    with pytest.raises(ValueError, match="variance row 3 is not positive"):
        SoftTargetRegressor().fit(X, target, np.where(np.arange(2000) == 3, 0.0, 1.0))
    with pytest.raises(ValueError, match="2000 rows of X, 5 targets"):
        SoftTargetRegressor().fit(X, target[:5], var)


def test_pairwise_ranker_learns_from_preferences_and_ignores_unsure_pairs() -> None:
    rng = np.random.default_rng(1)
    X = [rng.normal(size=(6, 4)) for _ in range(300)]
    true_w = np.array([2.0, -1.0, 0.0, 0.0])
    P = []
    for x in X:
        s = x @ true_w
        p = 1 / (1 + np.exp(-(s[:, None] - s[None, :])))
        p[:, 3] = p[3, :] = 0.5  # the label model has no idea about item 3
        np.fill_diagonal(p, 0.5)
        P.append(p)
    ranker = PairwiseRanker(max_pairs=10).fit(X, P)
    cos = ranker.coef_ / ranker.scale_ @ true_w / np.linalg.norm(ranker.coef_ / ranker.scale_) / np.linalg.norm(true_w)
    assert cos > 0.95
    truth = [list(np.argsort(-(x @ true_w))) for x in X]
    pred = [list(o) for o in ranker.predict(X)]
    assert mean_kendall_tau_distance(pred, truth) < 0.1
    with pytest.raises(ValueError, match=r"example 0 has 6 items but a \(5, 5\) preference matrix"):
        PairwiseRanker().fit(X[:1], [np.full((5, 5), 0.5)])
