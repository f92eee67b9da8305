"""RankingLabelModel, weighted Kemeny and the Mallows closed forms, on data with known parameters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from weaksup.model import RankingLabelModel, aggregate_rankings
from weaksup.votes import RankingVotes
from weaksup.model.kemeny import kemeny, kemeny_cost, pairwise_posterior, weighted_borda
from weaksup.model.mallows import expected_distance, pair_inversion_prob, sample_mallows
from weaksup.evaluation import mean_kendall_tau_distance
from weaksup.model.ranking import preference_weights
from weaksup.synthetic import mallows_votes

GOOD = [4.0, 3.0, 2.0]
POOR = [0.005] * 6
THETAS = GOOD + POOR


def _brute_force(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum cost and exact pairwise posterior of one (d, d) weight matrix, by enumeration."""
    d = len(W)
    perms = np.array(list(itertools.permutations(range(d))))
    costs = kemeny_cost(np.repeat(W[None], len(perms), axis=0), perms)
    p = np.exp(-(costs - costs.min()))
    p /= p.sum()
    place = np.argsort(perms, axis=1)
    P = np.einsum("q,qij->ij", p, (place[:, :, None] < place[:, None, :]).astype(float))
    np.fill_diagonal(P, 0.5)
    return costs.min(), P


# -- Mallows closed forms -----------------------------------------------------------


def test_pair_inversion_prob_matches_sampled_mallows() -> None:
    rng = np.random.default_rng(0)
    sample = sample_mallows(np.tile(np.arange(6), (40_000, 1)), 0.7, rng)
    place = np.argsort(sample, axis=1)
    for k in (1, 2, 4):
        for i in (0, 5 - k):  # the rate depends on the gap only, not on where the pair sits
            observed = np.mean(place[:, i] > place[:, i + k])
            assert observed == pytest.approx(pair_inversion_prob(k, 0.7), abs=0.01)
    discordant = sum(place[:, i] > place[:, j] for i, j in itertools.combinations(range(6), 2))
    assert discordant.mean() == pytest.approx(expected_distance(0.7, 6), abs=0.05)


def test_pair_inversion_prob_limits() -> None:
    assert pair_inversion_prob(3, 0.0) == pytest.approx(0.5, abs=1e-5)
    assert pair_inversion_prob(1, 30.0) == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(pair_inversion_prob(np.arange(1, 6), 0.5)) < 0)


# -- exact Kemeny, the approximation, and the switch between them ---------------------


def test_exact_kemeny_and_posterior_match_enumeration() -> None:
    rng = np.random.default_rng(1)
    W = rng.exponential(size=(20, 5, 5))
    W[:, range(5), range(5)] = 0
    order, P = kemeny(W), pairwise_posterior(W)
    for e in range(20):
        best, P_true = _brute_force(W[e])
        assert kemeny_cost(W[e : e + 1], order[e : e + 1])[0] == pytest.approx(best)
        np.testing.assert_allclose(P[e], P_true, atol=1e-10)


def test_approximation_never_beats_exact_and_usually_equals_it() -> None:
    rng = np.random.default_rng(2)
    W = rng.exponential(size=(300, 6, 6))
    W[:, range(6), range(6)] = 0
    exact = kemeny_cost(W, kemeny(W, exact_max_items=6))
    approx = kemeny_cost(W, kemeny(W, exact_max_items=5))  # 6 items > 5: local search path
    borda = kemeny_cost(W, weighted_borda(W))
    assert np.all(approx >= exact - 1e-9)
    assert np.all(approx <= borda + 1e-9)
    assert np.mean(np.isclose(approx, exact)) > 0.85  # measured 0.92 on hard random weights
    assert np.mean(np.isclose(borda, exact)) < 0.3  # the refinement is what gets it there


def test_switch_point_agrees_on_mallows_votes() -> None:
    votes, truth = mallows_votes(n=300, d=7, thetas=[1.0, 0.8, 0.6, 0.3], seed=3)
    theta = np.array([1.0, 0.8, 0.6, 0.3])
    exact = aggregate_rankings(votes, theta, exact_max_items=7)
    approx = aggregate_rankings(votes, theta, exact_max_items=6)
    same = np.mean([a == b for a, b in zip(exact, approx)])
    assert same > 0.95
    assert mean_kendall_tau_distance(approx, truth) == pytest.approx(mean_kendall_tau_distance(exact, truth), abs=0.005)


def test_approximate_posterior_is_consistent_with_exact() -> None:
    votes, truth = mallows_votes(n=300, d=5, thetas=[1.0, 0.8, 0.6, 0.3], seed=4)
    W = preference_weights(votes.groups[0], np.array([1.0, 0.8, 0.6, 0.3]))
    exact, approx = pairwise_posterior(W), pairwise_posterior(W, exact_max_items=4)
    for P in (exact, approx):
        np.testing.assert_allclose(P + P.transpose(0, 2, 1), 1.0)
    off = ~np.eye(5, dtype=bool)
    E, A = exact[:, off], approx[:, off]
    assert np.mean((E > 0.5) == (A > 0.5)) > 0.95
    assert np.corrcoef(E.ravel(), A.ravel())[0, 1] > 0.95
    # the exact posterior is calibrated; the pairwise approximation is under-confident
    place = np.argsort(truth, axis=1)
    hit = (place[:, :, None] < place[:, None, :])[:, off]
    confident = E > 0.9
    assert hit[confident].mean() == pytest.approx(E[confident].mean(), abs=0.03)
    confident = A > 0.9
    assert hit[confident].mean() > A[confident].mean()


def test_one_hundred_twenty_items() -> None:
    d, thetas = 120, [0.2, 0.15, 0.1, 0.01]
    votes, truth = mallows_votes(n=6, d=d, thetas=thetas, observe=0.75, seed=5)
    model = RankingLabelModel().fit(votes)
    pred = model.predict(votes)
    assert all(sorted(p) == list(range(d)) for p in pred)
    single = min(mean_kendall_tau_distance([r[a] for r in votes.rankings], truth) for a in range(4))
    assert mean_kendall_tau_distance(pred, truth) < single
    P = model.predict_preferences(votes)[0]
    assert P.shape == (d, d)
    np.testing.assert_allclose(P + P.T, 1.0)


# -- estimation of θ ----------------------------------------------------------------------


@pytest.mark.parametrize("observe", [1.0, 0.6])
def test_theta_recovered_on_full_and_partial_rankings(observe: float) -> None:
    votes, truth = mallows_votes(n=1000, d=5, thetas=THETAS, observe=observe, seed=6)
    model = RankingLabelModel().fit(votes)
    good, poor = model.theta_[:3], model.theta_[3:]
    np.testing.assert_allclose(good, GOOD, rtol=0.3)
    assert np.all(poor < 0.1)
    ours = mean_kendall_tau_distance(model.predict(votes), truth)
    unweighted = mean_kendall_tau_distance(aggregate_rankings(votes, np.ones(9)), truth)
    oracle = mean_kendall_tau_distance(aggregate_rankings(votes, THETAS), truth)
    assert ours < 0.5 * unweighted
    assert ours <= oracle + max(0.1 * oracle, 0.01)


def test_partial_rankings_rank_subsets_only() -> None:
    votes, _ = mallows_votes(n=200, d=5, thetas=THETAS, observe=0.6, seed=7)
    lengths = [len(r) for row in votes.rankings for r in row]
    assert min(lengths) >= 2 and max(lengths) <= 5 and np.mean(lengths) < 4.5
    pred = RankingLabelModel().fit(votes).predict(votes)
    assert all(sorted(p) == [0, 1, 2, 3, 4] for p in pred)  # always a full ranking of the item set


def test_abstains_and_examples_without_votes() -> None:
    votes, truth = mallows_votes(n=600, d=5, thetas=THETAS, seed=8)
    rng = np.random.default_rng(8)
    rankings = [[None if rng.random() < 0.3 else r for r in row] for row in votes.rankings]
    rankings[:20] = [[None] * 9] * 20  # nobody votes on the first 20 examples
    sparse = RankingVotes(items=votes.items, rankings=rankings)
    model = RankingLabelModel().fit(sparse)
    np.testing.assert_allclose(model.theta_[:3], GOOD, rtol=0.35)
    pred = model.predict(sparse)
    assert len({tuple(p) for p in pred[:20]}) > 5  # no leak of the item set's order: random ties
    assert pred == RankingLabelModel().fit(sparse).predict(sparse)  # and reproducible with the seed
    np.testing.assert_allclose(model.predict_preferences(sparse)[0], 0.5)
    assert list(sparse.vote_counts()[:20]) == [0] * 20
    assert mean_kendall_tau_distance(pred[20:], truth[20:]) < 0.05


def test_string_items_and_mixed_item_counts() -> None:
    items = [["x", "y", "z"], ["p", "q", "r", "s", "t", "u"]] * 40
    truth = [["x", "y", "z"], ["p", "q", "r", "s", "t", "u"]] * 40
    rng = np.random.default_rng(9)

    def noisy(t: list[str], theta: float) -> list[str]:
        idx = sample_mallows(np.arange(len(t))[None], theta, rng)[0]
        return [t[i] for i in idx]

    rankings = [[noisy(t, th) for th in (3.0, 2.0, 2.0, 0.01)] for t in truth]
    votes = RankingVotes(items=items, rankings=rankings, lf_names=("a", "b", "c", "noise"))
    model = RankingLabelModel().fit(votes)
    assert model.theta_[3] < 0.3 < model.theta_[:3].min()
    pred = model.predict(votes)
    assert pred[0] == ["x", "y", "z"]
    assert mean_kendall_tau_distance(pred, truth) < 0.05
    P = model.predict_preferences(votes)
    assert P[0].shape == (3, 3) and P[1].shape == (6, 6)
    assert P[0][0, 2] > 0.9  # x above z


def test_preferences_are_calibrated_on_mallows_data() -> None:
    votes, truth = mallows_votes(n=1500, d=4, thetas=[0.6, 0.5, 0.4], seed=10)
    model = RankingLabelModel().fit(votes)
    probs, hits = [], []
    for P, t in zip(model.predict_preferences(votes), truth):
        place = np.argsort(t)
        i, j = np.triu_indices(4, k=1)
        probs.append(P[i, j])
        hits.append(place[i] < place[j])
    probs, hits = np.concatenate(probs), np.concatenate(hits)
    for lo, hi in [(0.5, 0.7), (0.7, 0.9), (0.9, 1.0)]:
        sel = (probs >= lo) & (probs < hi)
        assert hits[sel].mean() == pytest.approx(probs[sel].mean(), abs=0.05)


def test_unassessable_lf_gets_zero_weight_with_a_warning() -> None:
    votes, _ = mallows_votes(n=300, d=5, thetas=[3.0, 2.0, 2.0, 2.0], seed=11)
    rankings = [list(row) + [None] for row in votes.rankings]
    rankings[0] = [rankings[0][0], None, None, None, [0, 1]]  # 'rare' meets only LF 'a'
    extended = RankingVotes(items=votes.items, rankings=rankings, lf_names=("a", "b", "c", "d", "rare"))
    with pytest.warns(UserWarning, match=r"LFs \['rare'\] share ranked pairs with fewer than two other LFs"):
        model = RankingLabelModel().fit(extended)
    assert model.theta_[4] == 0.0 and model.theta_[:4].min() > 1.0


# -- bad input ------------------------------------------------------------------------------


def test_duplicate_item_in_a_ranking() -> None:
    with pytest.raises(ValueError, match=r"LF 'lf_1' \(column 1\), example 0: the ranking lists item 'b' twice"):
        RankingVotes(items=[["a", "b", "c"]], rankings=[[["a", "b"], ["b", "a", "b"], None]])


def test_item_outside_the_example_set() -> None:
    with pytest.raises(ValueError, match=r"LF 'r2' \(column 2\), example 1: ranks item 'z', which is not in"):
        RankingVotes(
            items=[["a", "b"], ["a", "b"]],
            rankings=[[["a", "b"]] * 3, [["a", "b"], None, ["z", "a"]]],
            lf_names=("r0", "r1", "r2"),
        )


def test_duplicate_item_in_the_item_set() -> None:
    with pytest.raises(ValueError, match="example 0: item 'a' appears twice in the item set"):
        RankingVotes(items=[["a", "b", "a"]], rankings=[[None, None, None]])


def test_row_with_the_wrong_number_of_votes() -> None:
    with pytest.raises(ValueError, match="example 1 has 2 votes but there are 3 LFs"):
        RankingVotes(items=[[0, 1], [0, 1]], rankings=[[None] * 3, [None] * 2])


def test_too_few_lfs() -> None:
    votes, _ = mallows_votes(n=50, d=4, thetas=[1.0, 1.0], seed=12)
    with pytest.raises(ValueError, match=r"needs at least 3 LFs .* got 2 \(\['lf_0', 'lf_1'\]\)"):
        RankingLabelModel().fit(votes)


def test_too_few_lfs_that_share_pairs() -> None:
    rankings = [[[0, 1, 2], [0, 1, 2], None, None]] * 10 + [[None, None, [0, 1, 2], [2, 1, 0]]] * 10
    votes = RankingVotes(items=[[0, 1, 2]] * 20, rankings=rankings)
    with pytest.raises(ValueError, match=r"needs at least 3 LFs that rank pairs of items in common, but only \[\]"):
        RankingLabelModel().fit(votes)


def test_predict_with_other_lfs_and_bad_weights() -> None:
    votes, _ = mallows_votes(n=100, d=4, thetas=[1.0, 1.0, 1.0], seed=13)
    model = RankingLabelModel().fit(votes)
    other, _ = mallows_votes(n=5, d=4, thetas=[1.0] * 4, seed=13)
    with pytest.raises(ValueError, match=r"votes have 4 LFs but the model was fitted on 3"):
        model.predict(other)
    with pytest.raises(ValueError, match="2 weights for 3 LFs"):
        aggregate_rankings(votes, [1.0, 1.0])
    with pytest.raises(TypeError, match="votes must be RankingVotes"):
        model.fit([[[0, 1]]])  # type: ignore[arg-type]


# -- persistence ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_round_trip(tmp_path, suffix: str) -> None:
    votes, _ = mallows_votes(n=300, d=5, thetas=[3.0, 2.0, 1.0, 0.01], seed=14)
    model = RankingLabelModel(exact_max_items=6, seed=3).fit(votes)
    path = tmp_path / f"ranking{suffix}"
    model.save(path)
    loaded = RankingLabelModel.load(path)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.theta_, model.theta_)
    assert loaded.lf_names_ == model.lf_names_
    assert loaded.predict(votes) == model.predict(votes)
    if suffix == ".json":
        assert "pickle" not in path.read_text()


def test_load_rejects_another_model(tmp_path) -> None:
    from weaksup.model import RegressionLabelModel

    rng = np.random.default_rng(15)
    RegressionLabelModel().fit(rng.normal(size=(50, 1)) + rng.normal(size=(50, 3))).save(tmp_path / "m.json")
    with pytest.raises(ValueError, match="holds a 'RegressionLabelModel' model, not RankingLabelModel"):
        RankingLabelModel.load(tmp_path / "m.json")
