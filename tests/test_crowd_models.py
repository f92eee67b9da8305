"""Crowd answers: the loader, Dawid–Skene's shrinkage and the default's choice, on shipped crowd sets with truth."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from weaksup.crowd.files import load_crowd
from weaksup.model import AutoLabelModel, DawidSkene, MajorityVote, make_label_model

CROWD = Path(__file__).resolve().parents[1] / "data" / "crowd"


def _crowd(name: str):
    crowd = load_crowd(CROWD / name / "answer.csv", CROWD / name / "truth.csv")
    rows = np.flatnonzero(crowd.truth >= 0)
    return crowd.votes.select_rows(rows), crowd.truth[rows], len(crowd.classes)


def _accuracy(model, votes, y) -> float:
    return float(np.mean([(model.set_params(seed=s).predict(votes) == y).mean() for s in range(5)]))


def test_load_crowd_maps_answers_to_sorted_class_ids():
    crowd = load_crowd(CROWD / "websearch" / "answer.csv", CROWD / "websearch" / "truth.csv")
    assert crowd.classes == ("1", "2", "3", "4", "5")
    raw = np.loadtxt(CROWD / "websearch" / "answer.csv", delimiter=",", skiprows=1, dtype=int)
    assert crowd.votes.nnz == len(raw) and crowd.n_repeats == 0
    # every file row is one vote: item and worker in order of first appearance, answer - 1 as class
    first_item = {q: i for i, q in reversed(list(enumerate(dict.fromkeys(raw[:, 0]))))}
    dense = crowd.votes.to_dense()
    workers = {w: j for j, w in enumerate(crowd.workers)}
    for q, w, a in raw[:: len(raw) // 50]:
        assert dense[first_item[q], workers[str(w)]] == a - 1
    assert (crowd.truth >= 0).sum() == 2653


def test_load_crowd_errors_name_file_and_line(tmp_path):
    path = tmp_path / "answer.csv"
    path.write_text("question,worker,answer\nq1,w1,0\nq2,,1\n")
    with pytest.raises(ValueError, match=r"answer.csv' line 3: the worker column \(column 2\) is empty"):
        load_crowd(path)
    path.write_text("question,worker\nq1,w1\n")
    with pytest.raises(ValueError, match="needs 3: item, worker, answer"):
        load_crowd(path)
    path.write_text("question,worker,answer\nq1,w1,yes\nq1,w2,maybe\n")
    with pytest.raises(ValueError, match=r"line 3: answer 'maybe' is not one of the classes \['yes', 'no'\]"):
        load_crowd(path, classes=["yes", "no"])
    truth = tmp_path / "truth.csv"
    truth.write_text("question,truth\nq1,yes\nq1,no\n")
    with pytest.raises(ValueError, match="item 'q1' has 2 different truths"):
        load_crowd(path, truth)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_crowd(tmp_path / "missing.csv")


def test_load_crowd_keeps_the_first_of_repeated_answers(tmp_path):
    path = tmp_path / "answer.csv"
    path.write_text("question,worker,answer\nq1,w1,b\nq1,w1,a\nq2,w1,a\n")
    crowd = load_crowd(path)
    assert crowd.n_repeats == 1 and crowd.votes.to_dense().tolist() == [[1], [0]]


def test_shrinkage_keeps_few_vote_workers_near_the_crowd():
    """A worker with a handful of votes gets a confusion near the pooled one; without the prior it is extreme."""
    votes, y, k = _crowd("temp")
    counts = np.bincount(votes.cols, minlength=votes.m)
    few = np.flatnonzero((counts > 0) & (counts <= 10))
    assert len(few) > 3
    raw = DawidSkene(cardinality=k, abstain="skip", prior_strength=0).fit(votes)
    shrunk = DawidSkene(cardinality=k, abstain="skip", prior_strength=2).fit(votes)
    spread = lambda m: np.abs(m.confusion_[few, 0, 0] - m.confusion_[few, 1, 1]).mean()  # noqa: E731
    extreme = lambda m: np.abs(m.confusion_[few] - 0.5).max(axis=(1, 2)).mean()  # noqa: E731
    assert extreme(shrunk) < extreme(raw) - 0.01 or spread(shrunk) < spread(raw)
    assert _accuracy(shrunk, votes, y) >= _accuracy(raw, votes, y) - 0.01


@pytest.mark.parametrize("name", ["temp", "websearch"])
def test_default_picks_skipped_abstains_on_crowd_answers(name, caplog):
    votes, y, k = _crowd(name)
    with caplog.at_level(logging.INFO, logger="weaksup.model"):
        model = make_label_model("label_model", cardinality=k).fit(votes)
    assert "held-out vote log-likelihood" in caplog.text
    lik = model.selection_["heldout_vote_loglik"]
    assert lik["confusion"] > lik["firing_rates"]
    # confusion is kept only when it leads by more than the margin: websearch by 0.38 nats, temp by 0.03
    assert model.chosen_ == ("confusion" if lik["confusion"] - lik["firing_rates"] > model.margin else "firing_rates")
    skip = DawidSkene(cardinality=k, abstain="skip").fit(votes)
    observe = DawidSkene(cardinality=k, abstain="observe").fit(votes)
    mv = MajorityVote(cardinality=k).fit(votes)
    best = max(_accuracy(m, votes, y) for m in (skip, observe, mv))
    assert _accuracy(model, votes, y) >= best - 0.01


def test_default_on_one_class_lfs_with_a_rare_class(caplog):
    """LFs that each vote one class, independent given the class: confusion is not tried, the ties
    held out tell the structures apart (here silence decides them: the majority structure), and the
    learned prior makes uncovered rows negatives."""
    rng = np.random.default_rng(3)
    n = 20_000
    y = (rng.random(n) < 0.1).astype(int)  # 10% positives
    L = np.full((n, 6), -1)
    for a, c in enumerate([1, 1, 1, 0, 0, 0]):
        hit = rng.random(n) < np.where(y == c, 0.4, 0.03)
        L[hit, a] = c
    with caplog.at_level(logging.INFO, logger="weaksup.model"):
        model = AutoLabelModel(cardinality=2).fit(L)
    assert model.chosen_ == "majority" and "one-class LFs" in caplog.text and "ties made from" in caplog.text
    assert model.selection_["heldout_ties"]["majority_better"] > 2 * model.selection_["heldout_ties"]["majority_worse"]
    assert model.class_balance_[1] < 0.5  # learned, not uniform: uncovered rows become negatives

    def f1(pred: np.ndarray) -> float:
        return 2 * np.sum((pred == 1) & (y == 1)) / (np.sum(pred == 1) + np.sum(y == 1))

    uniform = make_label_model("firing_rates", cardinality=2).fit(L).predict(L)
    forced = AutoLabelModel(cardinality=2, structure="firing_rates").fit(L).predict(L)
    assert f1(model.predict(L)) > max(f1(uniform), f1(forced)) + 0.05  # the choice is the better one
    assert f1(model.predict(L)) > f1(MajorityVote(cardinality=2).fit(L).predict(L))


def test_forced_structure_and_round_trip(tmp_path):
    votes, y, k = _crowd("temp")
    forced = AutoLabelModel(cardinality=k, structure="firing_rates").fit(votes)
    assert forced.chosen_ == "firing_rates" and forced.selection_["reason"] == "set by structure="
    model = AutoLabelModel(cardinality=k, margin=0.01).fit(votes)  # confusion leads temp's held-out votes by 0.03
    assert model.chosen_ == "confusion" and model.get_params()["margin"] == 0.01
    for fitted in (model, forced):  # both structures, through PersistentModel
        for suffix in (".json", ".npz"):
            fitted.save(tmp_path / f"m{suffix}")
            back = AutoLabelModel.load(tmp_path / f"m{suffix}")
            assert back.chosen_ == fitted.chosen_ and back.selection_ == fitted.selection_
            assert type(back.model_) is type(fitted.model_) and back.get_params() == fitted.get_params()
            np.testing.assert_allclose(back.predict_proba(votes), fitted.predict_proba(votes))
            np.testing.assert_array_equal(back.predict(votes), fitted.predict(votes))
    with pytest.raises(ValueError, match="structure must be"):
        AutoLabelModel(cardinality=k, structure="bogus").fit(votes)
