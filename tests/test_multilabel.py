"""Multi-label labels: the vote checks' messages, the store, the label models, the metrics and the end model.

The conformance test (test_label_types.py) runs the type through the contract every type meets;
these check what is particular to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import f1_score

from weaksup.apply import apply_to_store
from weaksup.apply.checks import VOTE_CHECKS, LFApplicationError
from weaksup.end_models import MultiLabelTextClassifier
from weaksup.label_types import VoteError
from weaksup.label_types.multilabel import MULTILABEL
from weaksup.label_types.multilabel_votes import MultiLabelVotes
from weaksup.lf import labeling_function
from weaksup.model import MultiLabelModel, PerLabelMajorityVote, PerLabelSnorkel
from weaksup.pipeline import ConfigError, config_from_dict
from weaksup.pipeline.tasks.multilabel import gold_sets
from weaksup.store import VoteStore
from weaksup.vectorized import VectorizedLabelingFunction

CHECK = VOTE_CHECKS["multilabel"]


@pytest.mark.parametrize(
    ("vote", "message"),
    [
        (3, r"the bare label id 3 \(an int\)"),
        ({0, 7}, r"label id 7, outside the label set 0\.\.3"),
        ([1, 1], r"label 1 twice in one vote"),
        ({"present": [2], "absent": [2]}, r"label 2 both present and absent"),
        ({"joy"}, r"the label name 'joy', with no labels\.classes to read names by \(vote ids, or pass classes=\)"),
        ({"present": [1], "maybe": [2]}, r"a mapping with keys \['maybe'\]"),
        ("joy", r"'joy' of type str"),
    ],
)
def test_a_bad_vote_names_the_lf_the_example_and_what_to_return(vote: object, message: str) -> None:
    with pytest.raises(LFApplicationError, match=rf"^LF 'emotions' returned {message} on example 'c7'; a multi-label LF "
                                                 r"returns a set of label ids in 0\.\.3 or names \(e\.g\. \{3\}\), a mapping"):  # fmt: skip
        CHECK("emotions", vote, "c7", 4)


def test_an_unknown_label_name_is_refused_with_the_lf_the_example_and_the_valid_names() -> None:
    classes = ("joy", "anger", "fear", "love")
    assert CHECK("emotions", {"present": ["love", 0], "absent": {"fear"}}, "c7", 4, classes) == '{"present":[0,3],"absent":[2]}'
    with pytest.raises(LFApplicationError, match=r"^LF 'emotions' returned the label name 'joyy', which is not one of "
                                                 r"labels\.classes \['joy', 'anger', 'fear', 'love'\] on example 'c7'"):  # fmt: skip
        CHECK("emotions", ["anger", "joyy"], "c7", 4, classes)
    with pytest.raises(LFApplicationError, match=r"returned label 0 twice in one vote"):
        CHECK("emotions", ["joy", 0], "c7", 4, classes)


def test_votes_present_absent_and_abstain() -> None:
    assert MULTILABEL.check_vote([3, 1], 4) == '{"present":[1,3],"absent":[]}'
    assert MULTILABEL.check_vote({"absent": (0,)}, 4) == '{"present":[],"absent":[0]}'
    assert MULTILABEL.check_vote(np.array([2]), 4) == '{"present":[2],"absent":[]}'
    assert MULTILABEL.check_vote(None, 4) is None and MULTILABEL.check_vote([], 4) is None
    assert MULTILABEL.check_vote({"present": [], "absent": []}, 4) is None


def test_vectorized_columns_are_checked_row_by_row() -> None:
    labels, values = MULTILABEL.check_column(pl.Series([[1], None, [0, 2], []]), 3)
    assert (labels == -1).all() and values == ['{"present":[1],"absent":[]}', None, '{"present":[0,2],"absent":[]}', None]
    structs = pl.Series([{"present": [0], "absent": [1]}, {"present": None, "absent": [2]}])
    assert MULTILABEL.check_column(structs, 3)[1] == ['{"present":[0],"absent":[1]}', '{"present":[],"absent":[2]}']
    for column, problem, row in [
        (pl.Series([None, 2]), "the bare label id 2", 1),
        (pl.Series([[0], [1, 1]]), "label 1 twice in one vote", 1),
        (pl.Series([[0], [], [9]]), "label id 9, outside the label set 0..2", 2),
        (pl.Series([["joy"]]), "the label name 'joy', with no labels.classes", 0),
        (pl.Series([["a"], None, ["c", "joy"]]), "the label name 'joy', which is not one of labels.classes ['a', 'b', 'c']", 2),
        (pl.Series([{"present": [0], "absent": [0]}]), "label 0 both present and absent", 0),
    ]:
        with pytest.raises(VoteError) as refused:
            MULTILABEL.check_column(column, 3, () if problem.endswith("no labels.classes") else ("a", "b", "c"))
        assert refused.value.problem.startswith(problem) and refused.value.row == row
    lf = VectorizedLabelingFunction("tags", expr=pl.col("t"), label_type="multilabel")
    assert lf.label_type == "multilabel"


def test_votes_round_trip_and_a_label_outside_the_classes_is_named(tmp_path: Path) -> None:
    @labeling_function(label_type="multilabel")
    def words(x):
        return {j for j, w in enumerate(["happy", "angry", "sad"]) if w in x.text} or None

    @labeling_function(label_type="multilabel")
    def not_sad(x):
        return {"absent": [2]} if "!" in x.text else None

    frame = pl.DataFrame({"example_id": ["a", "b", "c", "d"], "text": ["happy!", "angry and sad", "meh", "sad"]})
    with VoteStore(tmp_path / "v.duckdb") as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        apply_to_store(store, "d", [words, not_sad], frame, keys, cardinality=3, run_id=run, progress=False)
        versions = [(words.name, words.version), (not_sad.name, not_sad.version)]
        votes = store.votes.read("multilabel", keys, versions, k=3)
        assert votes.cells() == [[((0,), ()), ((), (2,))], [((1, 2), ()), None], [None, None], [((2,), ()), None]]
        assert votes.n_votes().tolist() == [2, 1, 0, 1]
        with pytest.raises(ValueError, match=r"LF 'words' \(version .*\) votes label id 2 on example 'b', outside the "
                                             r"label set 0\.\.1 \(labels\.classes\)"):  # fmt: skip
            store.votes.read("multilabel", keys, versions, k=2, example_ids=frame["example_id"].to_list())


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 2, (200, 4)), rng.integers(0, 2, (200, 4))
    scores = MULTILABEL.metrics(pred, gold, classes=["a", "b", "c", "d"])
    assert scores["micro_f1"] == pytest.approx(f1_score(gold, pred, average="micro"))
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert scores["f1_c"] == pytest.approx(f1_score(gold[:, 2], pred[:, 2]))
    assert scores["subset_accuracy"] == pytest.approx((gold == pred).all(axis=1).mean())
    # names or ids per example give the same scores; rows of -1 (unknown gold) do not count
    sets = [[["a", "b", "c", "d"][j] for j in np.flatnonzero(r)] for r in pred]
    assert MULTILABEL.metrics(sets, gold, classes=["a", "b", "c", "d"]) == scores
    unknown = np.vstack([gold, -np.ones((5, 4), dtype=int)])
    assert MULTILABEL.metrics(np.vstack([pred, np.ones((5, 4), dtype=int)]), unknown, classes=list("abcd")) == scores


def synthetic(n: int = 3000, k: int = 4, seed: int = 0) -> tuple[MultiLabelVotes, np.ndarray]:
    """Labels that co-occur (1 often with 0); per label a precise and a noisy keyword LF, and a broad LF."""
    rng = np.random.default_rng(seed)
    first = rng.choice(k, n, p=[0.4, 0.3, 0.2, 0.1])
    y = np.eye(k, dtype=np.int8)[first]
    y[(first == 0) & (rng.random(n) < 0.4), 1] = 1
    cells: list[list[object]] = [[None] * (2 * k + 1) for _ in range(n)]
    for j in range(k):
        for a, (recall, false) in enumerate([(0.5, 0.01), (0.3, 0.1)]):
            for i in np.flatnonzero(((y[:, j] == 1) & (rng.random(n) < recall)) | ((y[:, j] == 0) & (rng.random(n) < false))):
                cells[i][2 * j + a] = {j}
    for i in np.flatnonzero(rng.random(n) < 0.6):
        cells[i][2 * k] = {int(rng.choice(np.flatnonzero(y[i])))} if rng.random() < 0.7 else {int(rng.integers(k))}
    return MultiLabelVotes.from_sets(cells, k=k), y


def test_the_label_model_learns_which_lfs_are_precise_and_beats_per_label_majority_vote(tmp_path: Path) -> None:
    votes, y = synthetic()
    covered = votes.n_votes() > 0
    model = MultiLabelModel(cardinality=4).fit(votes)
    precision = {tuple(p): q for p, q in zip(model.pairs_.tolist(), model.precision_)}
    assert all(precision[(2 * j, j)] > precision[(2 * j + 1, j)] for j in range(4))  # the precise LF of each label
    ours = MULTILABEL.metrics(model.predict(votes)[covered], y[covered])["micro_f1"]
    mv = MULTILABEL.metrics(PerLabelMajorityVote(cardinality=4).fit(votes).predict(votes)[covered], y[covered])["micro_f1"]
    assert ours > mv
    probs = model.predict_proba(votes)
    assert probs.shape == (3000, 4) and ((probs >= 0) & (probs <= 1)).all()
    model.save(tmp_path / "m.json")
    assert (MultiLabelModel.load(tmp_path / "m.json").predict_proba(votes) == probs).all()


def test_an_absent_vote_lowers_the_label() -> None:
    """An LF that only says "not label 1" (mostly where it is absent) pulls label 1 down where it votes."""
    votes, y = synthetic(n=2000, seed=1)
    rng = np.random.default_rng(1)
    says = np.flatnonzero(np.where(y[:, 1] == 0, rng.random(len(y)) < 0.5, rng.random(len(y)) < 0.02))
    m = votes.m + 1
    both = MultiLabelVotes.from_entries(np.r_[votes.rows, says], np.r_[votes.cols, np.full(len(says), m - 1)],
                                        np.r_[votes.labels, np.ones(len(says))], np.r_[votes.present, np.zeros(len(says), bool)],
                                        votes.n, m, votes.k)  # fmt: skip
    model = MultiLabelModel(cardinality=4).fit(both)
    said = MultiLabelVotes.from_sets([[None, None, {1}, *[None] * 7], [None, None, {1}, *[None] * 6, ((), (1,))]], k=4)
    probs = model.predict_proba(said)
    assert probs[1, 1] < probs[0, 1] - 0.1


def test_the_baselines_vote_label_by_label() -> None:
    votes = MultiLabelVotes.from_sets([[{0}, {0, 1}, ({1}, {0})], [{1}, None, None], [None, None, None]], k=2)
    mv = PerLabelMajorityVote(cardinality=2).fit(votes)
    assert mv.predict_proba(votes).round(2).tolist() == [[0.67, 0.67], [0.0, 1.0], [0.0, 0.0]]
    big, y = synthetic(n=1500, seed=2)
    snorkel = PerLabelSnorkel(cardinality=4, n_epochs=100).fit(big)
    assert snorkel.mu_.shape == (4, 2 * big.m, 2)
    covered = big.n_votes() > 0
    assert MULTILABEL.metrics(snorkel.predict(big)[covered], y[covered])["micro_f1"] > 0.5
    with pytest.raises(ValueError, match="the votes are over 2 labels, the model over cardinality = 4"):
        PerLabelMajorityVote(cardinality=4).fit(votes)


def test_the_end_model_takes_its_thresholds_from_dev_gold(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = np.array(["thanks", "why", "great", "sorry", "ok"])
    y = rng.integers(0, 2, (400, 2))
    texts = [" ".join([*(["thanks"] if a else []), *(["why"] if b else []), *rng.choice(words[2:], 3)]) for a, b in y]
    soft = np.clip(y * 0.7 + rng.random(y.shape) * 0.3, 0, 1)
    plain = MultiLabelTextClassifier().fit(texts[:300], soft[:300])
    assert plain.thresholds_.tolist() == [0.5, 0.5]
    tuned = MultiLabelTextClassifier().fit(texts[:300], soft[:300], texts[300:], y[300:])
    assert not np.allclose(tuned.thresholds_, 0.5)
    dev = f1_score(y[300:], tuned.predict(texts[300:]), average="micro")
    assert dev >= f1_score(y[300:], plain.predict(texts[300:]), average="micro") and dev > 0.95
    tuned.save(tmp_path / "end.npz", {"classes": ["thanks", "why"], "text_column": "text"})
    back = MultiLabelTextClassifier.load(tmp_path / "end.npz")
    assert (back.predict(texts) == tuned.predict(texts)).all() and back.metadata_["classes"] == ["thanks", "why"]


def test_gold_sets_read_names_ids_and_text_and_refuse_unknown_labels() -> None:
    frame = pl.DataFrame({"example_id": ["a", "b", "c", "d"], "gold": ["joy;anger", "", None, "1"]})
    assert gold_sets(frame, "gold", ["joy", "anger"]).tolist() == [[1, 1], [0, 0], [-1, -1], [0, 1]]
    lists = pl.DataFrame({"example_id": ["a", "b"], "gold": [["anger"], []]})
    assert gold_sets(lists, "gold", ["joy", "anger"]).tolist() == [[0, 1], [0, 0]]
    with pytest.raises(ValueError, match=r"data.gold_column 'gold' holds 'fear' for example 'b', which is neither a "
                                         r"name of labels.classes \['joy', 'anger'\] nor a label id 0\.\.1"):  # fmt: skip
        gold_sets(pl.DataFrame({"example_id": ["a", "b"], "gold": ["joy", "joy|fear"]}), "gold", ["joy", "anger"])
    with pytest.raises(ValueError, match="names label 'joy' twice for example 'a'"):
        gold_sets(pl.DataFrame({"example_id": ["a"], "gold": ["joy;joy"]}), "gold", ["joy", "anger"])


@pytest.mark.parametrize(
    ("labels", "extra", "message"),
    [
        ({"type": "multilabel", "classes": ["joy"]}, {}, "labels.classes needs at least 2 label names"),
        ({"type": "multilabel", "classes": ["joy", "joy"]}, {}, r"labels.classes names \['joy'\] more than once"),
        ({"type": "multilabel", "classes": ["joy", "anger"]}, {"label_model": {"name": "dawid_skene"}},
         "unknown multi-label label model 'dawid_skene'; valid names: auto, label_model, majority_vote, snorkel"),
        ({"type": "multilabel", "classes": ["joy", "anger"]}, {"trainer": {"name": "tfidf_logreg"}},
         "trainer.name is 'tfidf_logreg', which does not fit labels.type = 'multilabel'; use one of \\['ovr_logreg', 'none'\\]"),
    ],
)
def test_a_pipeline_file_is_checked_before_work_starts(labels: dict, extra: dict, message: str, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("text\nx\n")
    (tmp_path / "lfs.py").write_text("")
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"name": "p", "data": {"source": "d.csv"}, "lfs": {"modules": ["lfs.py"]}, "labels": labels,
                          **extra}, tmp_path)  # fmt: skip
