"""The LF summary against a plain dense computation, and its edge cases."""

import numpy as np
import pytest

from weaksup.analysis import lf_summary
from weaksup.model import LabelModel
from weaksup.votes import SparseVotes


def dense_summary(L: np.ndarray, gold: np.ndarray) -> dict[str, list]:
    """The summary's columns computed the obvious way, one LF and one row at a time."""
    n, m = L.shape
    out: dict[str, list] = {"polarity": [], "coverage": [], "overlaps": [], "conflicts": [], "emp_acc": []}
    for a in range(m):
        voted = L[:, a] >= 0
        out["polarity"].append(sorted(set(L[voted, a].tolist())))
        out["coverage"].append(voted.sum() / n)
        overlaps = conflicts = 0
        for i in np.flatnonzero(voted):
            row = L[i][L[i] >= 0]
            overlaps += len(row) > 1
            conflicts += len(set(row.tolist())) > 1
        out["overlaps"].append(overlaps / n)
        out["conflicts"].append(conflicts / n)
        known = voted & (gold >= 0)
        out["emp_acc"].append((L[known, a] == gold[known]).mean() if known.any() else None)
    return out


@pytest.mark.parametrize("count_rows", [1_000_000, 64, 7])  # one batch; batches of rows, the last short
def test_summary_matches_a_dense_computation(monkeypatch, count_rows):
    monkeypatch.setattr("weaksup.batches.COUNT_ROWS", count_rows)
    rng = np.random.default_rng(3)
    L = rng.integers(-1, 3, size=(400, 6))
    L[rng.random(L.shape) < 0.5] = -1
    L[:, 2] = np.where(L[:, 2] >= 0, 1, -1)  # an LF that only votes class 1
    L[:, 4] = -1  # an LF that never votes
    gold = rng.integers(-1, 3, size=400)  # -1: no gold for that row
    got = lf_summary(SparseVotes.from_dense(L), gold=gold)
    want = dense_summary(L, gold)
    assert got["polarity"].to_list() == want["polarity"]
    assert got["polarity"].to_list()[2] == [1] and got["polarity"].to_list()[4] == []
    for column in ("coverage", "overlaps", "conflicts"):
        np.testing.assert_allclose(got[column].to_numpy(), want[column])
    assert got["emp_acc"][4] is None
    np.testing.assert_allclose(got["emp_acc"].to_numpy()[[0, 1, 2, 3, 5]], np.array(want["emp_acc"])[[0, 1, 2, 3, 5]].astype(float))


def test_summary_shows_learned_accuracy_beside_empirical():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 3000)
    L = np.stack([np.where(rng.random(3000) < acc, y, 1 - y) for acc in (0.9, 0.75, 0.6)], 1)
    L[rng.random(L.shape) < 0.3] = -1
    votes = SparseVotes.from_dense(L, ("a", "b", "c"))
    summary = lf_summary(votes, gold=y, learned_acc=LabelModel(cardinality=2).fit(votes).accuracies_)
    assert summary["lf"].to_list() == ["a", "b", "c"]
    learned, empirical = summary["learned_acc"].to_numpy(), summary["emp_acc"].to_numpy()
    assert (np.argsort(learned) == np.argsort(empirical)).all()  # the LFs in the same order
    # within 0.08: the firing-rate model's pseudo-votes (prior_strength · √votes) shrink each rate a little
    np.testing.assert_allclose(learned, empirical, atol=0.08)
