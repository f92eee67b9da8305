"""Categorical label models: recovery on synthetic votes, the shared contract and edge cases."""

from __future__ import annotations

import importlib.util
import logging
import sys

import numpy as np
import pytest

from weaksup import batches
from weaksup.model import (
    AutoLabelModel,
    DawidSkene,
    LabelModel,
    MajorityVote,
    SnorkelLabelModel,
    make_label_model,
)
from weaksup.votes import SparseVotes

HAVE_SNORKEL = importlib.util.find_spec("snorkel") is not None
SNORKEL = pytest.param(
    "snorkel", marks=pytest.mark.skipif(not HAVE_SNORKEL, reason="snorkel is not installed")
)
MODELS = ["majority_vote", "dawid_skene", "firing_rates", "label_model", SNORKEL]
LEARNED = ["dawid_skene", "firing_rates"]


def synthetic(n, accuracies, k=2, coverage=0.5, seed=0, balance=None):
    """Votes of conditionally independent LFs with known accuracies.

    Each LF votes on a ``coverage`` share of rows; a wrong vote is uniform over the
    other classes.  Returns (L, y).
    """
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=balance)
    m = len(accuracies)
    correct = rng.random((n, m)) < np.asarray(accuracies)
    wrong = (y[:, None] + rng.integers(1, k, size=(n, m))) % k
    L = np.where(correct, y[:, None], wrong)
    L[rng.random((n, m)) >= coverage] = -1
    return L, y


@pytest.fixture(scope="module")
def uneven():
    """n=100k, m=10, accuracies from 0.55 to 0.95, 3 classes, unbalanced."""
    acc = np.linspace(0.55, 0.95, 10)
    L, y = synthetic(100_000, acc, k=3, coverage=0.4, seed=1, balance=[0.5, 0.3, 0.2])
    return L, y, acc


def score(model, L, y):
    return float((model.predict(L) == y).mean())


# -- recovery ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def balanced():
    """n=100k, m=10, two balanced classes, accuracies from 0.55 to 0.95."""
    acc = np.linspace(0.55, 0.95, 10)
    L, y = synthetic(100_000, acc, k=2, coverage=0.3, seed=14)
    return L, y, acc


def test_label_model_recovers_accuracies_and_beats_majority_vote(balanced):
    L, y, acc = balanced
    lm = LabelModel(cardinality=2).fit(L)
    assert np.abs(lm.accuracies_ - acc).max() < 0.05, lm.accuracies_
    mv = score(MajorityVote(cardinality=2).fit(L), L, y)
    assert score(lm, L, y) > mv + 0.02


def test_label_model_merging_identical_rows_changes_nothing():
    """Few LFs: EM runs over distinct vote patterns.  Padding with 60 silent LFs makes the
    pattern key too long, so EM runs row by row; the fitted model must agree."""
    L, _ = synthetic(20_000, [0.9, 0.8, 0.7, 0.6, 0.75], k=3, coverage=0.4, seed=18)
    padded = np.hstack([L, np.full((20_000, 60), -1)])
    merged = LabelModel(cardinality=3).fit(L)
    row_by_row = LabelModel(cardinality=3).fit(padded)
    np.testing.assert_allclose(merged.log_weights_, row_by_row.log_weights_[:5], atol=1e-3)
    np.testing.assert_allclose(merged.predict_proba(L), row_by_row.predict_proba(padded), atol=1e-4)


@pytest.mark.parametrize("batch", [997, 64])  # patterns found per batch of rows and merged
def test_distinct_rows_in_batches_equal_one_pass(monkeypatch, batch):
    """Each distinct pattern once, in key order, with its first row's votes and its row count,
    whatever the batches; the models fitted on them do not change."""
    from weaksup.model import label_model

    L, _ = synthetic(3_000, [0.9, 0.8, 0.7, 0.6], k=3, coverage=0.4, seed=5)
    votes = SparseVotes.from_dense(L)
    whole, whole_weight = label_model.distinct_rows(votes, 3)
    monkeypatch.setattr(batches, "PATTERN_ROWS", batch)
    got, weight = label_model.distinct_rows(votes, 3)
    for a, b in ((got.rows, whole.rows), (got.cols, whole.cols), (got.labels, whole.labels), (weight, whole_weight)):
        assert np.array_equal(a, b)
    dense = got.to_dense()
    patterns = [tuple(r) for r in L if (r >= 0).any()]
    assert weight.sum() == len(patterns) and len(dense) == len(set(patterns))
    keys = (dense + 1) @ (4 ** np.arange(4))
    assert (np.diff(keys) > 0).all()  # in key order
    assert [int(weight[i]) for i in range(len(dense))] == [patterns.count(tuple(r)) for r in dense]
    monkeypatch.setattr(batches, "PATTERN_ROWS", 1_000_000)
    one = LabelModel(cardinality=3).fit(votes)
    monkeypatch.setattr(batches, "PATTERN_ROWS", batch)
    np.testing.assert_array_equal(LabelModel(cardinality=3).fit(votes).predict_proba(votes), one.predict_proba(votes))


def test_label_model_threads_and_vote_order_change_nothing(monkeypatch):
    """Big inputs run each class's sparse products on a thread, and LF-major votes are put in
    row order first; neither may change a single bit of the fit."""
    from weaksup.model import label_model

    L, _ = synthetic(20_000, [0.9, 0.8, 0.7, 0.6, 0.75], k=3, coverage=0.4, seed=19)
    padded = np.hstack([L, np.full((20_000, 60), -1)])  # too many LFs to merge rows: EM per row
    votes = SparseVotes.from_dense(padded)
    order = np.argsort(votes.cols, kind="stable")  # LF by LF, as an applier writes them
    lf_major = SparseVotes(votes.rows[order], votes.cols[order], votes.labels[order], votes.n, votes.m)
    serial = LabelModel(cardinality=3).fit(votes)
    monkeypatch.setattr(label_model, "THREADED_VOTES", 1)
    threaded = LabelModel(cardinality=3).fit(lf_major)
    np.testing.assert_array_equal(serial.log_weights_, threaded.log_weights_)
    np.testing.assert_array_equal(serial.predict_proba(votes), threaded.predict_proba(lf_major))


LEARN_BALANCE = {"dawid_skene": {}, "firing_rates": {"learn_class_balance": True, "balance_strength": 0.0}}


@pytest.mark.parametrize("name", LEARNED)
def test_recovers_accuracies_and_class_balance(uneven, name):
    L, y, acc = uneven
    model = make_label_model(name, cardinality=3, **LEARN_BALANCE[name]).fit(L)
    assert np.abs(model.accuracies_ - acc).max() < 0.05, model.accuracies_
    assert np.abs(model.class_balance_ - [0.5, 0.3, 0.2]).max() < 0.02, model.class_balance_


@pytest.mark.parametrize("name", LEARNED)
def test_beats_majority_vote_when_accuracies_differ(uneven, name):
    L, y, _ = uneven
    mv = score(MajorityVote(cardinality=3).fit(L), L, y)
    ours = score(make_label_model(name, cardinality=3, **LEARN_BALANCE[name]).fit(L), L, y)
    assert ours > mv + 0.02, (ours, mv)


def test_label_model_handles_one_class_lfs():
    """Most real LFs vote a single class; Dawid–Skene learns nothing from them, LabelModel does."""
    rng = np.random.default_rng(15)
    y = rng.integers(0, 2, 20_000)
    precision = [0.95, 0.9, 0.6, 0.95, 0.9, 0.6]
    cls = [1, 1, 1, 0, 0, 0]
    L = np.full((20_000, 6), -1)
    for a, (prec, c) in enumerate(zip(precision, cls)):
        fires = rng.random(20_000) < 0.3
        truth = np.where(rng.random(20_000) < prec, c, 1 - c)  # the row's class when it fires
        rows = np.flatnonzero(fires & (y == truth))
        L[rows, a] = c
    lm = LabelModel(cardinality=2).fit(L)
    assert lm.log_weights_[0, 1] > lm.log_weights_[2, 1] > 0
    assert lm.log_weights_[3, 0] > lm.log_weights_[5, 0] > 0
    assert score(lm, L, y) > score(MajorityVote(cardinality=2).fit(L), L, y) + 0.01


def test_silence_weight_pulls_the_learned_balance_toward_the_truth():
    """Rare class, one-class LFs, broad ham LFs: with abstains ignored EM gives most covered rows
    to the rare class; counting silence while fitting corrects it, fully at weight 1."""
    rng = np.random.default_rng(3)
    y = (rng.random(20_000) < 0.08).astype(int)
    rates = [(0.4, 0.03, 1), (0.3, 0.02, 1), (0.35, 0.04, 1), (0.5, 0.3, 0), (0.3, 0.1, 0), (0.4, 0.2, 0)]
    L = np.stack([np.where(rng.random(20_000) < np.where(y == c, own, other), c, -1) for own, other, c in rates], 1)
    truth = y[(L >= 0).any(axis=1)].mean()
    learned = {  # a weak prior: the pseudo-votes' pull is not what this test is about
        tau: LabelModel(cardinality=2, learn_class_balance=True, balance_strength=0.0, silence_weight=tau, prior_strength=0.5)
        .fit(L)
        .class_balance_[1]
        for tau in (0.0, 0.15, 1.0)
    }
    assert abs(learned[0.15] - truth) < abs(learned[0.0] - truth) - 0.03
    assert abs(learned[1.0] - truth) < 0.02


def test_prior_strength_scales_with_each_lfs_votes():
    """Pseudo-votes are prior_strength·√(an LF's votes for a class): on a small set they pull the
    rates hard toward precision 0.9, on a large one hardly; a class an LF never votes gets none."""
    rng = np.random.default_rng(4)

    def fit(n: int, strength: float) -> LabelModel:
        y = (rng.random(n) < 0.05).astype(int)
        spec = [(0.3, 0.01, 1), (0.4, 0.02, 1), (0.2, 0.01, 1), (0.5, 0.3, 0), (0.4, 0.2, 0), (0.3, 0.1, 0)]
        L = np.stack([np.where(rng.random(n) < np.where(y == c, own, other), c, -1) for own, other, c in spec], 1)
        return LabelModel(cardinality=2, prior_strength=strength).fit(L)

    small = {c: fit(600, c).rates_ for c in (1.0, 16.0)}
    assert (np.abs(small[16.0][0, :3, 1] - 0.9) < np.abs(small[1.0][0, :3, 1] - 0.9)).all()
    rng = np.random.default_rng(5)
    weak = fit(400_000, 1.0)
    rng = np.random.default_rng(5)
    strong = fit(400_000, 16.0)
    assert np.abs(weak.rates_ - strong.rates_).max() < 0.03
    assert (strong.rates_[:, :3, 0] == 0).all() and (strong.log_weights_[:3, 0] == 0).all()  # spam LFs never vote ham


def test_prior_votes_weigh_on_a_small_class_and_vanish_on_a_large_one():
    """Fixed pseudo-votes (``prior_votes``, as earlier versions had) pull each (LF, class) firing rate
    toward precision 0.9: hard where the class has few rows, hardly at all where it has thousands."""
    rng = np.random.default_rng(4)

    def rates(n: int, prior_votes: float) -> np.ndarray:
        y = (rng.random(n) < 0.05).astype(int)
        spec = [(0.3, 0.01, 1), (0.4, 0.02, 1), (0.2, 0.01, 1), (0.5, 0.3, 0), (0.4, 0.2, 0), (0.3, 0.1, 0)]
        L = np.stack([np.where(rng.random(n) < np.where(y == c, own, other), c, -1) for own, other, c in spec], 1)
        return LabelModel(cardinality=2, prior_votes=prior_votes).fit(L).rates_

    small = {pv: rates(600, pv) for pv in (10, 100)}
    beta_spam, gamma_ham = small[100][0, :3, 1], small[100][1, 3:, 0]
    assert (np.abs(beta_spam - 0.9) < np.abs(small[10][0, :3, 1] - 0.9)).all()
    assert (np.abs(gamma_ham - 0.1) < np.abs(small[10][1, 3:, 0] - 0.1)).all()
    rng = np.random.default_rng(5)
    few = rates(400_000, 10)
    rng = np.random.default_rng(5)
    many = rates(400_000, 100)
    assert np.abs(few - many).max() < 0.02


def test_majority_vote_is_vote_shares():
    L = np.array([[0, 0, 1], [2, -1, 2], [0, 1, 2]])
    proba = MajorityVote(cardinality=3).fit(L).predict_proba(L)
    np.testing.assert_allclose(proba, [[2 / 3, 1 / 3, 0], [0, 0, 1], [1 / 3, 1 / 3, 1 / 3]])


def test_dawid_skene_confusion_is_row_stochastic(uneven):
    L, _, _ = uneven
    ds = DawidSkene(cardinality=3, max_iter=5).fit(L)
    assert ds.confusion_.shape == (10, 3, 4)  # abstain is the last outcome
    np.testing.assert_allclose(ds.confusion_.sum(axis=2), 1.0)
    assert 1 <= ds.n_iter_ <= 5
    skip = DawidSkene(cardinality=3, max_iter=5, abstain="skip").fit(L)
    assert skip.confusion_.shape == (10, 3, 3)
    np.testing.assert_allclose(skip.confusion_.sum(axis=2), 1.0)


def test_dawid_skene_learns_from_lfs_that_vote_one_class():
    """Hand-written LFs mostly vote one class ("has a link -> SPAM"): treating abstains as
    an outcome makes them informative; skipping abstains would ignore them."""
    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.integers(0, 2, n)
    cols = []
    for cls, fire, err in [(1, 0.5, 0.05), (1, 0.4, 0.1), (0, 0.5, 0.05), (0, 0.3, 0.2), (1, 0.2, 0.3)]:
        fires = np.where(y == cls, rng.random(n) < fire, rng.random(n) < err)
        cols.append(np.where(fires, cls, -1))
    L = np.stack(cols, axis=1)
    covered = (L != -1).any(axis=1)
    observe = DawidSkene(cardinality=2).fit(L).predict(L)
    skip = DawidSkene(cardinality=2, abstain="skip").fit(L).predict(L)
    mv = make_label_model("majority_vote", cardinality=2).fit(L).predict(L)
    acc = {name: (p[covered] == y[covered]).mean() for name, p in [("observe", observe), ("skip", skip), ("mv", mv)]}
    assert acc["observe"] >= acc["mv"] - 0.005 and acc["observe"] > 0.85
    assert acc["skip"] < 0.7  # the textbook model cannot use these LFs


def test_dawid_skene_rejects_an_unknown_abstain_mode():
    with pytest.raises(ValueError, match="abstain must be 'observe' or 'skip', got 'drop'"):
        DawidSkene(cardinality=2, abstain="drop").fit(np.array([[0, 1, 1], [1, 1, 0]]))


@pytest.mark.parametrize("name", MODELS)
def test_class_balance_passed_to_fit_is_used(name):
    L, _ = synthetic(2000, [0.8, 0.7, 0.6], seed=2)
    model = make_label_model(name, cardinality=2).fit(L, class_balance=[0.9, 0.1])
    np.testing.assert_allclose(model.class_balance_, [0.9, 0.1])


# -- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_proba_rows_sum_to_one(name):
    L, _ = synthetic(3000, [0.8, 0.7, 0.6, 0.9], k=4, coverage=0.3, seed=3)
    proba = make_label_model(name, cardinality=4).fit(L).predict_proba(L)
    assert proba.shape == (3000, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", MODELS)
def test_seed_reproduces_tie_breaks(name):
    L, _ = synthetic(3000, [0.7, 0.7, 0.7], coverage=0.3, seed=4)
    uniform = [0.5, 0.5]  # so all-abstain rows are ties

    def fitted(seed):
        return make_label_model(name, cardinality=2, seed=seed).fit(L, class_balance=uniform)

    a, b = fitted(7).predict(L), fitted(7).predict(L)
    np.testing.assert_array_equal(a, b)
    proba = fitted(7).predict_proba(L)
    tied = np.isclose(proba[:, 0], proba[:, 1])
    assert tied.sum() > 100
    model = fitted(7)  # the seed also drives tie-breaks of a fitted model
    others = [model.set_params(seed=s).predict(L) for s in range(8, 11)]
    assert any((o[tied] != a[tied]).any() for o in others)
    assert all((o[~tied] == a[~tied]).all() for o in others)


@pytest.mark.parametrize("name", MODELS)
def test_tie_break_abstain(name):
    L = np.array([[0, 1, -1], [0, 0, -1], [1, 1, 1], [1, 0, -1]])
    model = make_label_model(name, cardinality=2).fit(L, class_balance=[0.5, 0.5])
    labels = model.predict(L, tie_break="abstain")
    assert labels[1] == 0 and labels[2] == 1
    with pytest.raises(ValueError, match="tie_break must be 'random' or 'abstain'"):
        model.predict(L, tie_break="first")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_round_trip(tmp_path, name, suffix):
    L, _ = synthetic(3000, [0.8, 0.7, 0.6, 0.9], k=3, seed=5)
    L[:, 3] = -1  # an LF that never votes: NaN accuracy must survive JSON
    model = make_label_model(name, cardinality=3, seed=3).fit(L)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    loaded = type(model).load(path)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(L), model.predict_proba(L))
    np.testing.assert_array_equal(loaded.predict(L), model.predict(L))
    np.testing.assert_array_equal(loaded.accuracies_, model.accuracies_)


def test_load_checks_the_model_class_and_suffix(tmp_path):
    L, _ = synthetic(500, [0.8, 0.7, 0.6], seed=6)
    MajorityVote(cardinality=2).fit(L).save(tmp_path / "mv.json")
    with pytest.raises(ValueError, match="holds a 'MajorityVote' model, not DawidSkene"):
        DawidSkene.load(tmp_path / "mv.json")
    with pytest.raises(ValueError, match="must end in .json or .npz"):
        MajorityVote(cardinality=2).fit(L).save(tmp_path / "mv.pkl")


@pytest.mark.parametrize("name", MODELS)
def test_sparse_and_dense_give_identical_results(name):
    L, _ = synthetic(5000, [0.8, 0.7, 0.6, 0.9], k=3, coverage=0.3, seed=8)
    dense = make_label_model(name, cardinality=3).fit(L)
    sparse = make_label_model(name, cardinality=3).fit(SparseVotes.from_dense(L))
    np.testing.assert_array_equal(
        dense.predict_proba(L), sparse.predict_proba(SparseVotes.from_dense(L))
    )
    np.testing.assert_array_equal(dense.accuracies_, sparse.accuracies_)


def test_make_label_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown label model 'snorkle'; valid names: .*dawid_skene"):
        make_label_model("snorkle", cardinality=2)


def test_predict_before_fit_is_an_error():
    with pytest.raises(Exception, match="not fitted"):
        DawidSkene(cardinality=2).predict_proba(np.zeros((2, 3), dtype=int))


# -- edge cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_all_abstain_rows_get_the_class_prior(name):
    L, _ = synthetic(3000, [0.9, 0.8, 0.7, 0.6, 0.85], seed=9, balance=[0.8, 0.2])
    L[:50] = -1
    model = make_label_model(name, cardinality=2, **LEARN_BALANCE.get(name, {})).fit(L)
    proba = model.predict_proba(L[:50])
    np.testing.assert_allclose(proba, np.tile(model.class_balance_, (50, 1)))
    if name != "snorkel":  # Snorkel's prior is uniform unless given
        assert model.class_balance_[0] > 0.6


@pytest.mark.parametrize("name", MODELS)
def test_lf_that_never_votes_has_nan_accuracy_and_no_effect(name):
    L, _ = synthetic(3000, [0.8, 0.7, 0.6], seed=10)
    with_silent = np.hstack([L, np.full((3000, 1), -1)])
    model = make_label_model(name, cardinality=2).fit(with_silent)
    assert np.isnan(model.accuracies_[3]) and not np.isnan(model.accuracies_[:3]).any()
    alone = make_label_model(name, cardinality=2).fit(L)
    # Equal up to EM's convergence tolerance.
    np.testing.assert_allclose(model.predict_proba(with_silent), alone.predict_proba(L), atol=1e-4)


@pytest.mark.parametrize("name", LEARNED)
def test_too_few_lfs_names_the_model_and_the_fallback(name):
    L, _ = synthetic(500, [0.8, 0.7, 0.6], seed=11)
    L[:, 2] = -1
    model = make_label_model(name, cardinality=2)
    expected = rf"{type(model).__name__} needs at least 3 LFs that vote.*only 2 of the 3.*MajorityVote"
    with pytest.raises(ValueError, match=expected):
        model.fit(L)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("bad", [2, -2])
def test_out_of_range_votes_name_the_lf_and_row(name, bad):
    L = np.zeros((4, 3), dtype=int)
    L[2, 1] = bad
    with pytest.raises(ValueError, match=rf"LF column 1 votes {bad} on row 2.*cardinality=2"):
        make_label_model(name, cardinality=2).fit(L)


def test_out_of_range_sparse_votes_use_lf_names():
    votes = SparseVotes(
        rows=np.array([0, 1, 1]), cols=np.array([0, 1, 2]), labels=np.array([1, 0, 5]),
        n=2, m=3, lf_names=("kw_free", "kw_call", "has_url"),
    )
    with pytest.raises(ValueError, match=r"LF 'has_url' \(column 2\) votes 5 on row 1"):
        DawidSkene(cardinality=2).fit(votes)


def test_sparse_votes_with_bad_coordinates():
    votes = SparseVotes(rows=np.array([0, 3]), cols=np.array([0, 1]), labels=np.array([1, 0]), n=2, m=2)
    with pytest.raises(ValueError, match="row index outside 0..1"):
        MajorityVote(cardinality=2).fit(votes)


@pytest.mark.parametrize("name", MODELS)
def test_different_m_at_predict(name):
    L, _ = synthetic(500, [0.8, 0.7, 0.6, 0.9], seed=12)
    model = make_label_model(name, cardinality=2).fit(L)
    with pytest.raises(ValueError, match="fitted on 4 LFs but the label matrix has 3 columns"):
        model.predict_proba(L[:, :3])


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("k", [1, 0])
def test_cardinality_below_two(name, k):
    with pytest.raises(ValueError, match=f"cardinality must be at least 2.*got {k}"):
        make_label_model(name, cardinality=k).fit(np.zeros((3, 3), dtype=int))


@pytest.mark.parametrize("name", MODELS)
def test_whole_floats_are_accepted(name):
    L, _ = synthetic(2000, [0.8, 0.7, 0.6], seed=13)
    as_int = make_label_model(name, cardinality=2).fit(L)
    as_float = make_label_model(name, cardinality=2).fit(L.astype(float))
    np.testing.assert_array_equal(as_int.predict_proba(L), as_float.predict_proba(L.astype(np.float32)))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("value", [np.nan, 0.5, np.inf])
def test_nan_and_fractional_floats_are_errors(name, value):
    L = np.zeros((4, 3))
    L[3, 2] = value
    with pytest.raises(ValueError, match=rf"LF column 2 holds {value} on row 3.*whole numbers"):
        make_label_model(name, cardinality=2).fit(L)


def test_non_numeric_and_1d_input():
    with pytest.raises(TypeError, match="must hold integers"):
        MajorityVote(cardinality=2).fit(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="expected a 2-D"):
        MajorityVote(cardinality=2).fit(np.array([0, 1]))


def test_bad_class_balance():
    L = np.zeros((3, 3), dtype=int)
    with pytest.raises(ValueError, match="class_balance must be 2 positive numbers"):
        MajorityVote(cardinality=2).fit(L, class_balance=[1.0])
    with pytest.raises(ValueError, match="class_balance must sum to 1"):
        MajorityVote(cardinality=2).fit(L, class_balance=[0.6, 0.6])


# -- the Snorkel adapter --------------------------------------------------------------------


def test_snorkel_adapter_matches_snorkel():
    Snorkel = pytest.importorskip("snorkel.labeling.model").LabelModel
    L, _ = synthetic(2000, [0.9, 0.8, 0.7, 0.6], k=3, coverage=0.6, seed=16)
    ours = SnorkelLabelModel(cardinality=3, seed=4, n_epochs=50, lr=0.02).fit(L)
    theirs = Snorkel(cardinality=3, verbose=False)
    theirs.fit(L, n_epochs=50, lr=0.02, seed=4, progress_bar=False)
    np.testing.assert_allclose(ours.predict_proba(L), theirs.predict_proba(L), atol=1e-5)
    np.testing.assert_allclose(ours.accuracies_, theirs.get_weights(), atol=1e-6)


def test_snorkel_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "snorkel", None)
    monkeypatch.setitem(sys.modules, "snorkel.labeling.model", None)
    L, _ = synthetic(200, [0.9, 0.8, 0.7], seed=17)
    with pytest.raises(ImportError, match=r"pip install 'weaksup\[snorkel\]'.*torch==2.13.0"):
        SnorkelLabelModel(cardinality=2).fit(L)


def test_multiclass_share_counts_the_votes_of_lfs_that_vote_two_classes_or_more():
    from weaksup.model.selection import multiclass_share

    rng = np.random.default_rng(0)
    L = np.where(rng.random((400, 5)) < 0.5, rng.integers(0, 3, (400, 5)), -1)
    L[:, 0] = np.where(L[:, 0] >= 0, 1, -1)  # one-class LFs
    L[:, 1] = np.where(L[:, 1] >= 0, 2, -1)
    votes = SparseVotes.from_dense(L)
    per_lf = [(L[:, j][L[:, j] >= 0]) for j in range(5)]
    several = sum(len(v) for v in per_lf if len(set(v.tolist())) >= 2)
    assert multiclass_share(votes, 3) == pytest.approx(several / sum(len(v) for v in per_lf))
    assert 0 < multiclass_share(votes, 3) < 1


@pytest.mark.parametrize("tie_break", ["random", "abstain"])
def test_labels_from_proba_are_the_same_whatever_rows_it_takes_at_a_time(monkeypatch, tie_break):
    import weaksup.model._base as base

    rng = np.random.default_rng(4)
    proba = rng.dirichlet(np.ones(3), 200)
    proba[::3] = 1 / 3  # three-way ties: broken by the seeded draws
    monkeypatch.setattr(batches, "TIE_BREAK_ROWS", 10**9)
    whole = base.labels_from_proba(proba, 7, tie_break)
    monkeypatch.setattr(batches, "TIE_BREAK_ROWS", 7)  # 29 batches, the last of 4 rows
    assert np.array_equal(base.labels_from_proba(proba, 7, tie_break), whole)
    if tie_break == "random":
        assert len(set(whole[::3].tolist())) > 1  # the tied rows did get different draws
    else:
        assert (whole[::3] == -1).all()


def test_select_rows_renumbers_a_subset_or_a_reordering_and_keeps_all_rows_in_order_as_they_are():
    votes = SparseVotes.from_dense(np.array([[1, -1], [0, 0], [-1, 1]]))
    assert votes.select_rows(np.arange(3)) is votes
    swapped = votes.select_rows(np.array([2, 1, 0]))
    assert swapped.to_dense().tolist() == [[-1, 1], [0, 0], [1, -1]]
    assert votes.select_rows(np.array([0, 2])).to_dense().tolist() == [[1, -1], [-1, 1]]


def _dense_informative_abstains(seed: int = 0, n: int = 6000):
    """Four LFs voting both classes that fire far more often on class 1: their silence says class 0."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    L = np.full((n, 4), -1)
    for a, ((f0, f1), p) in enumerate(zip([(0.35, 0.9), (0.3, 0.85), (0.4, 0.9), (0.3, 0.8)], [0.8, 0.75, 0.7, 0.8])):
        fires = rng.random(n) < np.where(y == 1, f1, f0)
        L[fires, a] = np.where(rng.random(n) < p, y, 1 - y)[fires]
    return L, y


def test_majority_structure_keeps_strict_majorities_and_breaks_ties_by_silence(tmp_path):
    from weaksup.model._input import as_votes
    from weaksup.model.dawid_skene import DawidSkene

    L, y = _dense_informative_abstains()
    model = MajorityVote(cardinality=2, proba="fitted", ties="confusion").fit(L)
    shares = MajorityVote(cardinality=2).fit(L)
    counts = np.stack([(L == c).sum(axis=1) for c in (0, 1)], axis=1)
    strict, tied = counts.max(axis=1) > counts.min(axis=1), (counts[:, 0] == counts[:, 1]) & (counts[:, 0] > 0)
    pred = model.predict(L)
    np.testing.assert_array_equal(pred[strict], counts.argmax(axis=1)[strict])  # majority vote's labels
    tie_model = DawidSkene(cardinality=2, max_iter=30, tol=1e-5).fit(L)  # the tie model, as fitted inside
    np.testing.assert_array_equal(pred[tied], tie_model.predict_proba(L)[tied].argmax(axis=1))
    assert (pred[tied] == y[tied]).mean() > 0.65  # silence decides ties far better than a coin
    assert (pred == y).mean() > (shares.predict(L) == y).mean() + 0.02

    def brier(m):
        p = m.predict_proba(L)
        return np.mean(np.sum((p - np.eye(2)[y]) ** 2, axis=1))

    assert brier(model) < brier(shares) - 0.02  # calibrated, not vote shares
    model.save(tmp_path / "m.json")
    np.testing.assert_allclose(MajorityVote.load(tmp_path / "m.json").predict_proba(L), model.predict_proba(L))
    assert model.vote_log_likelihood(as_votes(L, 2, "test")) < 0
    with pytest.raises(ValueError, match="ties must be 'even', or 'confusion' with proba='fitted'"):
        MajorityVote(cardinality=2, ties="confusion").fit(L)


def test_held_out_ties_drop_the_lead_of_the_top_class():
    from weaksup.model.selection import held_out_ties
    from weaksup.votes import SparseVotes

    L = np.array([[0, 0, 0, 1, -1], [1, 1, -1, -1, -1], [0, 1, 2, 2, 2], [0, 0, 1, 1, -1], [2, 2, 1, -1, -1]])
    rows, led = held_out_ties(SparseVotes.from_dense(L), 3, seed=0)
    dense = rows.to_dense()
    assert led.tolist() == [0, 2, 2]  # rows 0, 2 and 4 led; row 1 names one class, row 3 already ties
    counts = np.stack([(dense == c).sum(axis=1) for c in range(3)], axis=1)
    assert counts.tolist() == [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
    assert ((dense == L[[0, 2, 4]]) | (dense == -1)).all()  # only votes of the leading class were dropped


def test_default_does_not_keep_weights_that_overrule_most_majorities(caplog):
    """Dense LFs whose silence carries the class: firing rates (blind to silence) overrule many strict
    majorities and fall below majority vote; the default then keeps the majority structure."""
    L, y = _dense_informative_abstains()
    with caplog.at_level(logging.INFO, logger="weaksup.model"):
        model = AutoLabelModel(cardinality=2).fit(L)
    assert model.chosen_ == "majority" and "overrule the strict majority" in caplog.text
    assert model.selection_["overruled_majorities"]["share"] > 0.05
    forced = AutoLabelModel(cardinality=2, structure="firing_rates").fit(L)
    mv = MajorityVote(cardinality=2).fit(L)
    assert (forced.predict(L) == y).mean() < (mv.predict(L) == y).mean() < (model.predict(L) == y).mean()
    lenient = AutoLabelModel(cardinality=2, max_overrule=1.0).fit(L)
    assert "overrule the strict majority of" not in lenient.selection_["reason"]


def _rare_class_one_class_lfs(seed: int = 0, n: int = 4000):
    """A new user's spam LFs: 13% spam, three ham LFs and five precise spam LFs, each voting one class.
    Firing rates weigh the precise spam LFs so that every ham-spam tie goes to spam; most such rows are ham."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.13).astype(int)
    ham = [(0.36, 0.054), (0.615, 0.318), (0.393, 0.08)]  # P(fires | ham), P(fires | spam)
    spam = [(0.21, 0.009), (0.23, 0.008), (0.46, 0.013), (0.39, 0.015), (0.15, 0.006)]  # P(fires | spam), P(fires | ham)
    cols = [np.where(rng.random(n) < np.where(y == 0, a, b), 0, -1) for a, b in ham]
    cols += [np.where(rng.random(n) < np.where(y == 1, a, b), 1, -1) for a, b in spam]
    return np.stack(cols, axis=1), y


def test_default_keeps_majority_when_it_predicts_held_out_lfs_better(caplog):
    """Rule 3: held-out ties do not tell the structures apart here, the held-out LFs do, and the
    structure they pick labels more rows right than the one rule 2 alone keeps."""
    L, y = _rare_class_one_class_lfs()
    with caplog.at_level(logging.INFO, logger="weaksup.model"):
        model = AutoLabelModel(cardinality=2).fit(L)
    assert model.chosen_ == "majority" and "predicts its held-out votes and abstains better" in caplog.text
    scores = model.selection_["heldout_lf_loglik"]
    assert scores["lfs"] == 8 and scores["majority"] > scores["firing_rates"]
    without = AutoLabelModel(cardinality=2, lf_margin=float("inf")).fit(L)
    assert without.chosen_ == "firing_rates" and "heldout_lf_loglik" not in without.selection_
    assert (model.predict(L) == y).mean() > (without.predict(L) == y).mean() + 0.005
    L3 = L.copy()
    L3[L3[:, 3] == 1, 3] = 2  # one spam LF votes a third class: rule 3 is not tried with more classes
    assert "heldout_lf_loglik" not in AutoLabelModel(cardinality=3).fit(L3).selection_


def test_held_out_prior_estimate_takes_the_prior_that_predicts_held_out_lfs_better():
    L, _ = _rare_class_one_class_lfs()
    model = AutoLabelModel(cardinality=2, prior_estimate="held_out").fit(L)
    scores = model.selection_["prior_heldout_lf_loglik"]
    picked = "mean" if scores["mean"] > scores["votes"] else "votes"
    assert scores["lfs"] == 8 and scores["mean"] != scores["votes"]
    fixed = AutoLabelModel(cardinality=2, prior_estimate=picked).fit(L)
    np.testing.assert_allclose(model.class_balance_, fixed.class_balance_)
    np.testing.assert_allclose(model.predict_proba(L), fixed.predict_proba(L))
    three = L.copy()
    three[three[:, 3] == 1, 3] = 2  # more classes: the vote shares, no comparison
    many = AutoLabelModel(cardinality=3, prior_estimate="held_out").fit(three)
    assert "prior_heldout_lf_loglik" not in many.selection_
    np.testing.assert_allclose(many.class_balance_, AutoLabelModel(cardinality=3, prior_estimate="votes").fit(three).class_balance_)
    with pytest.raises(ValueError, match="prior_estimate must be 'votes', 'posterior', 'mean' or 'held_out'"):
        AutoLabelModel(cardinality=2, prior_estimate="gold").fit(L)
