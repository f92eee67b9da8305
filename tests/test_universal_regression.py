"""RegressionLabelModel on Gaussian LFs with known noise, scale and offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weaksup.model import RegressionLabelModel
from weaksup.votes import RegressionVotes
from weaksup.synthetic import gaussian_votes

SCALES = [1.0, 10.0, 0.5, -2.0, 3.0]
OFFSETS = [0.0, 50.0, 2.0, 10.0, -1.0]
NOISE = [0.3, 8.0, 0.5, 1.0, 6.0]
Y_MEAN, Y_SD = 6.0, 1.5


def _data(n: int = 8000, observe: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return gaussian_votes(n, SCALES, OFFSETS, NOISE, observe=observe, y_mean=Y_MEAN, y_sd=Y_SD, seed=seed)


def _gold(y: np.ndarray, k: int = 50) -> np.ndarray:
    gold = np.full_like(y, np.nan)
    gold[:k] = y[:k]
    return gold


@pytest.mark.parametrize("observe", [1.0, 0.7])
def test_recovers_noise_scale_and_offset(observe: float) -> None:
    X, y = _data(observe=observe)
    model = RegressionLabelModel().fit(X, y=_gold(y))
    np.testing.assert_allclose(model.noise_var_, np.square(NOISE), rtol=0.1)
    # relative to y, through 50 gold labels: slope and offset up to the gold's sampling error
    np.testing.assert_allclose(model.lf_scale_, SCALES, rtol=0.1)
    assert np.all(np.abs(model.lf_offset_ - OFFSETS) < 0.1 * np.abs(SCALES) * Y_MEAN + 0.5)


def test_beats_standardised_mean_and_variance_is_calibrated() -> None:
    X, y = _data(observe=0.8, seed=1)
    model = RegressionLabelModel().fit(X, y=_gold(y))
    pred, var = model.predict(X), model.predict_var(X)
    z = (X - np.nanmean(X, axis=0)) / np.nanstd(X, axis=0) * np.sign(SCALES)
    votes = (~np.isnan(z)).sum(axis=1)
    ok = votes > 0
    naive = np.where(ok, np.nan_to_num(z).sum(axis=1) / np.maximum(votes, 1), np.nan)
    slope, offset = np.polyfit(naive[:50], y[:50], 1)
    naive_mse = np.mean((offset + slope * naive[ok] - y[ok]) ** 2)
    ours_mse = np.mean((pred[ok] - y[ok]) ** 2)
    assert ours_mse < 0.6 * naive_mse
    # the posterior variance matches the squared error (parameters estimated, so loosely)
    assert ours_mse == pytest.approx(var[ok].mean(), rel=0.2)
    fewer = (~np.isnan(X)).sum(axis=1) <= 2
    assert var[fewer].mean() > var[~fewer].mean()


def test_rows_without_votes_get_the_prior() -> None:
    X, _ = _data(n=3000, seed=2)
    X[:5] = np.nan
    model = RegressionLabelModel().fit(X)
    np.testing.assert_allclose(model.predict(X[:5]), 0.0)
    np.testing.assert_allclose(model.predict_var(X[:5]), 1.0)


def test_without_gold_y_is_standardised_or_in_a_reference_lf_units() -> None:
    X, y = _data(seed=3)
    standard = RegressionLabelModel().fit(X)
    p = standard.predict(X)
    assert np.corrcoef(p, y)[0, 1] > 0.95
    assert abs(p.mean()) < 0.02 and (p.var() + standard.predict_var(X).mean()) == pytest.approx(1.0, rel=0.02)
    ref = RegressionLabelModel(reference_lf="lf_1").fit(X)
    q = ref.predict(X)
    # y in LF 1's units: 50 + 10·y, its noise removed
    assert np.mean((q - (50 + 10 * y)) ** 2) < 0.5 * NOISE[1] ** 2
    assert ref.lf_scale_[1] == pytest.approx(1.0)
    np.testing.assert_allclose(ref.noise_var_, standard.noise_var_)


def test_sign_follows_the_majority_of_lfs() -> None:
    X, y = gaussian_votes(4000, [1.0, 2.0, -1.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5], seed=4)
    model = RegressionLabelModel().fit(X)
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.9
    assert list(np.sign(model.lf_scale_)) == [1.0, 1.0, -1.0]


# -- bad input ---------------------------------------------------------------------------


def test_inf_vote_is_an_error_naming_lf_and_row() -> None:
    X, y = _data(n=100, seed=5)
    X[7, 2] = np.inf
    with pytest.raises(ValueError, match=r"LF 'rating' \(column 2\), row 7: vote is inf; .* NaN means abstain"):
        RegressionLabelModel().fit(RegressionVotes.of(X, ["a", "b", "rating", "d", "e"]))


def test_non_numeric_and_non_matrix_votes() -> None:
    with pytest.raises(ValueError, match="votes must be numbers"):
        RegressionVotes.of([["1.0", "x", "2"]])
    with pytest.raises(ValueError, match=r"expected an \(n, m\) array of votes, got shape \(3,\)"):
        RegressionVotes.of([1.0, 2.0, 3.0])


def test_too_few_lfs() -> None:
    X, _ = gaussian_votes(100, [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], seed=6)
    with pytest.raises(ValueError, match=r"needs at least 3 LFs .* got 2 \(\['lf_0', 'lf_1'\]\)"):
        RegressionLabelModel().fit(X)


def test_lf_with_too_few_votes() -> None:
    X, _ = _data(n=100, seed=7)
    X[1:, 3] = np.nan
    with pytest.raises(ValueError, match=r"LF 'lf_3' \(column 3\) votes on 1 rows"):
        RegressionLabelModel().fit(X)


def test_bad_gold_and_reference() -> None:
    X, y = _data(n=200, seed=8)
    with pytest.raises(ValueError, match="y has 10 entries for 200 rows"):
        RegressionLabelModel().fit(X, y=y[:10])
    gold = _gold(y)
    gold[3] = -np.inf
    with pytest.raises(ValueError, match="y row 3 is inf"):
        RegressionLabelModel().fit(X, y=gold)
    with pytest.raises(ValueError, match="y has 1 gold labels; give at least 2"):
        RegressionLabelModel().fit(X, y=_gold(y, 1))
    with pytest.raises(ValueError, match="give gold labels or reference_lf, not both"):
        RegressionLabelModel(reference_lf=0).fit(X, y=_gold(y))
    with pytest.raises(ValueError, match=r"reference_lf 'imdb' is not one of the LFs"):
        RegressionLabelModel(reference_lf="imdb").fit(X)


def test_predict_with_other_columns() -> None:
    X, _ = _data(n=200, seed=9)
    model = RegressionLabelModel().fit(X)
    with pytest.raises(ValueError, match=r"votes have 4 LF columns but the model was fitted on 5"):
        model.predict(X[:, :4])
    named = RegressionLabelModel().fit(RegressionVotes.of(X, ["a", "b", "c", "d", "e"]))
    X[2, 4] = -np.inf
    with pytest.raises(ValueError, match=r"LF 'e' \(column 4\), row 2: vote is -inf"):
        named.predict(X)


# -- persistence ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_round_trip(tmp_path, suffix: str) -> None:
    X, y = _data(n=2000, observe=0.8, seed=10)
    model = RegressionLabelModel().fit(RegressionVotes.of(X, ["a", "b", "c", "d", "e"]), y=_gold(y))
    model.save(tmp_path / f"reg{suffix}")
    loaded = RegressionLabelModel.load(tmp_path / f"reg{suffix}")
    assert loaded.lf_names_ == ("a", "b", "c", "d", "e")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_var(X), model.predict_var(X))


def _shared_raters(n: int = 6000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Five raters on one 0-10 scale, each with its own noise (and a small bias), 30% missing."""
    rng = np.random.default_rng(seed)
    y = rng.normal(6.0, 1.2, n)
    noise, bias = np.array([0.3, 0.6, 1.0, 1.5, 2.0]), np.array([0.1, -0.2, 0.0, 0.3, -0.1])
    X = y[:, None] + bias + rng.normal(size=(n, 5)) * noise
    X[rng.random(X.shape) < 0.3] = np.nan
    return X, y


def test_shared_units_are_detected_and_beat_the_mean_of_the_votes() -> None:
    X, y = _shared_raters()
    model = RegressionLabelModel().fit(X)
    assert model.units_ == "shared"
    pred = model.predict(X)
    ok = (~np.isnan(X)).any(axis=1)
    assert abs(pred[ok].mean() - y.mean()) < 0.1 and 0.8 < pred[ok].std() / y.std() < 1.1  # y's own units
    mean_mse = np.mean((np.nanmean(X[ok], axis=1) - y[ok]) ** 2)
    assert np.mean((pred[ok] - y[ok]) ** 2) < 0.8 * mean_mse
    own = RegressionLabelModel(units="own").fit(X)
    assert own.units_ == "standardised" and abs(own.predict(X).mean()) < 0.05
    assert RegressionLabelModel(units="shared").fit(X).units_ == "shared"


def test_different_units_stay_standardised_unless_told() -> None:
    X, _ = _data(seed=6)  # scales 1, 10, 0.5, -2, 3
    assert RegressionLabelModel().fit(X).units_ == "standardised"
    with pytest.raises(ValueError, match="units must be"):
        RegressionLabelModel(units="same").fit(X)


def test_movie_ratings_on_one_scale_predict_a_held_out_rating() -> None:
    """uws_movies: IMDb (0-10), MovieLens and Rotten Tomatoes users (0-5, doubled) predict TMDB's vote_average."""
    pl = pytest.importorskip("polars")
    path = Path(__file__).resolve().parents[1] / "data" / "uws_movies" / "movies.csv"
    cols = ["vote_average", "imdb_rating", "mv_lens_avg_rating", "tomato_user_rating"]
    R = pl.read_csv(path).select(cols).to_numpy().astype(float) * [1, 1, 2, 2]
    R[R == 0] = np.nan
    held, X = R[:, 0], R[:, 1:]
    model = RegressionLabelModel().fit(X)
    assert model.units_ == "shared"
    ok = ~np.isnan(held) & (~np.isnan(X)).any(axis=1)
    ours = np.mean((model.predict(X)[ok] - held[ok]) ** 2)
    mean = np.mean((np.nanmean(X[ok], axis=1) - held[ok]) ** 2)
    assert ours <= mean
