"""MetricLabelModel: triplet estimation of squared errors, Fréchet means, and the metric checks."""

from __future__ import annotations

import numpy as np
import pytest

from weaksup.model import MetricLabelModel

SD = [0.2, 0.5, 1.0, 2.0]


def euclid(u, v) -> float:
    return float(np.linalg.norm(np.subtract(u, v)))


def wmean(xs, w):
    return tuple(np.average(np.array(xs), axis=0, weights=w))


def _plane(n: int = 1500, seed: int = 0, abstain: float = 0.0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, 2))
    votes = [
        [None if rng.random() < abstain else tuple(y[i] + rng.normal(0, s, 2)) for s in SD] for i in range(n)
    ]
    return votes, y


@pytest.mark.parametrize("abstain", [0.0, 0.3])
def test_recovers_squared_errors_and_beats_the_plain_mean(abstain: float) -> None:
    votes, y = _plane(abstain=abstain)
    model = MetricLabelModel(distance=euclid, mean=wmean).fit(votes)
    np.testing.assert_allclose(model.sq_error_, 2 * np.square(SD), rtol=0.25, atol=0.03)
    pred = model.predict(votes)
    voted = [i for i, p in enumerate(pred) if p is not None]
    ours = np.mean([euclid(pred[i], y[i]) ** 2 for i in voted])
    plain = np.mean([euclid(np.mean([v for v in votes[i] if v is not None], axis=0), y[i]) ** 2 for i in voted])
    assert ours < 0.5 * plain


def test_candidate_set_picks_the_weighted_frechet_mean() -> None:
    grid = [(x, y) for x in np.arange(-3, 3.01, 0.25) for y in np.arange(-3, 3.01, 0.25)]
    votes, y = _plane(n=400, seed=1)
    by_mean = MetricLabelModel(distance=euclid, mean=wmean).fit(votes)
    by_grid = MetricLabelModel(distance=euclid, candidates=grid).fit(votes)
    np.testing.assert_allclose(by_grid.theta_, by_mean.theta_)
    for i in range(20):
        best = by_grid.predict([votes[i]])[0]
        mean = np.array(by_mean.predict([votes[i]])[0])
        if np.all(np.abs(mean) < 2.9):  # inside the grid: the nearest grid point to the mean
            assert euclid(best, mean) <= 0.25 * np.sqrt(2) / 2 + 1e-9


def test_discrete_labels_with_a_candidate_set() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 10, size=800)
    acc = [0.8, 0.6, 0.6, 0.4, 0.3]  # each LF is right with this probability, else a random digit
    votes = [[int(t) if rng.random() < a else int(rng.integers(0, 10)) for a in acc] for t in truth]
    model = MetricLabelModel(distance=lambda u, v: float(u != v), candidates=list(range(10))).fit(votes)
    # E[d²] is the error rate here, but squared distances only add in Euclidean-like spaces:
    # the estimates keep the LFs' order, not their values
    assert np.all(np.diff(model.sq_error_[[0, 1, 3, 4]]) > 0)
    pred = np.array(model.predict(votes))
    assert np.mean(pred == truth) > np.mean(np.array(votes)[:, 0] == truth) + 0.03


def test_rows_without_votes_predict_none() -> None:
    votes, _ = _plane(n=300, seed=3)
    votes[5] = [None] * 4
    model = MetricLabelModel(distance=euclid, mean=wmean).fit(votes)
    assert model.predict(votes)[5] is None


# -- bad input ------------------------------------------------------------------------------


def test_negative_distance() -> None:
    votes, _ = _plane(n=50, seed=4)
    bad = MetricLabelModel(distance=lambda u, v: float(u[0] - v[0]), mean=wmean)
    with pytest.raises(ValueError, match=r"the distance is negative \(.*\) for LF '.*' row \d+ vs LF"):
        bad.fit(votes)


def test_asymmetric_distance() -> None:
    votes, _ = _plane(n=50, seed=5)
    bad = MetricLabelModel(distance=lambda u, v: euclid(u, v) * (2.0 if u[0] > v[0] else 1.0), mean=wmean)
    with pytest.raises(ValueError, match=r"the distance is asymmetric for LF .*: d\(x, y\) = .* but d\(y, x\) = "):
        bad.fit(votes)


def test_triangle_inequality_and_self_distance() -> None:
    votes, _ = _plane(n=50, seed=6)
    with pytest.raises(ValueError, match="breaks the triangle inequality"):
        MetricLabelModel(distance=lambda u, v: euclid(u, v) ** 2, mean=wmean).fit(votes)
    with pytest.raises(ValueError, match="the distance from a vote to itself is 1.0, not 0"):
        MetricLabelModel(distance=lambda u, v: euclid(u, v) + 1.0, mean=wmean).fit(votes)


def test_distance_that_fails_or_is_not_finite() -> None:
    votes, _ = _plane(n=50, seed=7)
    with pytest.raises(ValueError, match="the distance is not finite"):
        MetricLabelModel(distance=lambda u, v: float("nan"), mean=wmean).fit(votes)
    with pytest.raises(ValueError, match=r"distance\(.*\) \(.*\) failed"):
        MetricLabelModel(distance=lambda u, v: "far", mean=wmean).fit(votes)


def test_needs_exactly_one_of_candidates_and_mean() -> None:
    votes, _ = _plane(n=50, seed=8)
    with pytest.raises(ValueError, match="give exactly one of candidates="):
        MetricLabelModel(distance=euclid).fit(votes)
    with pytest.raises(ValueError, match="give exactly one of candidates="):
        MetricLabelModel(distance=euclid, candidates=[(0, 0)], mean=wmean).fit(votes)


def test_too_few_lfs_and_ragged_rows() -> None:
    votes, _ = _plane(n=50, seed=9)
    with pytest.raises(ValueError, match=r"needs at least 3 LFs .* got 2 \(\['lf_0', 'lf_1'\]\)"):
        MetricLabelModel(distance=euclid, mean=wmean).fit([row[:2] for row in votes])
    votes[3] = votes[3][:3]
    with pytest.raises(ValueError, match="row 3 has 3 votes but row 0 has 4"):
        MetricLabelModel(distance=euclid, mean=wmean).fit(votes)


def test_predict_with_another_number_of_lfs() -> None:
    votes, _ = _plane(n=100, seed=12)
    model = MetricLabelModel(distance=euclid, mean=wmean).fit(votes)
    with pytest.raises(ValueError, match="votes have 3 LFs but the model was fitted on 4"):
        model.predict([row[:3] for row in votes])


def test_lf_that_never_meets_two_others() -> None:
    votes, _ = _plane(n=100, seed=10)
    for row in votes:
        row[3] = None
    votes[0] = [votes[0][0], None, None, (0.0, 0.0)]  # 'lf_3' meets only lf_0
    with pytest.raises(ValueError, match=r"LF 'lf_3' \(column 3\) never votes on the same rows as two other LFs"):
        MetricLabelModel(distance=euclid, mean=wmean).fit(votes)


def test_save_load_needs_the_functions_again(tmp_path) -> None:
    votes, _ = _plane(n=200, seed=11)
    model = MetricLabelModel(distance=euclid, mean=wmean, seed=4).fit(votes)
    model.save(tmp_path / "metric.json")
    with pytest.raises(ValueError, match=r"needs \['distance', 'candidates', 'mean'\] again"):
        MetricLabelModel.load(tmp_path / "metric.json")
    loaded = MetricLabelModel.load(tmp_path / "metric.json", distance=euclid, candidates=None, mean=wmean)
    assert loaded.seed == 4
    assert loaded.predict(votes[:10]) == model.predict(votes[:10])
