"""One small, exactly solvable data set per label type, for the conformance test (test_label_types.py).

A :class:`Sample` holds examples (with a gold column the LFs never see), the source of an LF module
voting on them with every LF kind the type takes, recorded answers when it takes them, and what the
test cannot know from the type alone: how to fit its label model, and how to read its votes and
predictions back as plain values.  A new label type adds one function here and one line to
:data:`SAMPLES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from weaksup.model import MetricLabelModel, MultiLabelModel, RankingLabelModel, RegressionLabelModel, make_label_model
from weaksup.model.auto import AutoLabelModel


@dataclass
class Sample:
    """One label type's sample (see the module docstring)."""

    frame: pl.DataFrame
    """``example_id``, ``split``, the inputs and ``gold`` (the data's gold column)."""
    lf_source: str
    """A module of LFs over the inputs: row-wise, and vectorized when the type takes them."""
    gold: Any
    """The gold in the form of the type's task (what ``prepare`` splits off, ``gold.parquet`` keeps)."""
    fit: Callable[[Any], Any]
    """Fit the type's label model on the votes read from the store (rows of ``frame``)."""
    load: Callable[[str], Any]
    """Load a label model the fitted one saved."""
    predict: Callable[[Any, Any], list[Any]]
    """A fitted label model's labels for the votes, as plain values comparable with :attr:`truth`."""
    truth: list[Any]
    """Each example's true label, as :attr:`predict` gives labels."""
    cells: Callable[[Any], list[list[Any]]]
    """The votes read from the store as rows of plain values (``None`` = abstain)."""
    plain: Callable[[Any], Any] = lambda v: v
    """One checked vote (``check_vote``/``check_column``'s) as the plain value :attr:`cells` gives."""
    bad_vote: Any = "not a vote"
    """A return value the type's check refuses."""
    bad_column: pl.Series | None = None
    """A column of a vectorized LF the type's check refuses at row 1 (``None``: not vectorized)."""
    answers: pl.DataFrame | None = None
    """Recorded answers (``item``, ``worker``, ``vote``) when the type takes them."""
    context: dict[str, Any] = field(default_factory=dict)
    """What the type's ``read_votes`` needs beyond keys and LF versions."""
    pipeline: dict[str, Any] | None = None
    """The pipeline keys of a run of the type (``labels``, ``trainer``...); ``None``: no pipeline."""
    metric_options: dict[str, Any] = field(default_factory=dict)
    """Options of the type's ``metrics``."""


def _splits(n: int, test: int) -> list[str]:
    return ["train"] * (n - test) + ["test"] * test


def categorical() -> Sample:
    n, rng = 80, np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    frame = pl.DataFrame({
        "example_id": [f"c{i}" for i in range(n)],
        "split": _splits(n, 20),
        "text": [("cheap pills buy now" if t else "lovely song thanks") + f" {i}" for i, t in enumerate(y)],
        "hint": [None if i % 5 == 0 else int(t) for i, t in enumerate(y)],
        "gold": y,
    })  # fmt: skip
    source = '''
import polars as pl
from weaksup.lf import ABSTAIN, labeling_function
from weaksup.vectorized import vectorized_labeling_function

@labeling_function()
def by_hint(x):
    return ABSTAIN if x.hint is None else x.hint

@labeling_function()
def by_words(x):
    return 1 if "cheap" in x.text else 0

@vectorized_labeling_function()
def hint_column():
    return pl.col("hint")
'''
    return Sample(
        frame, source, y,
        fit=lambda votes: make_label_model("auto", cardinality=2, seed=0).fit(votes),
        load=AutoLabelModel.load,
        predict=lambda model, votes: model.predict(votes).tolist(),
        truth=y.tolist(),
        cells=lambda votes: [[None if v < 0 else int(v) for v in row] for row in votes.to_dense()],
        bad_vote=2,
        bad_column=pl.Series([1, 7, None]),
        answers=pl.DataFrame({"item": frame["example_id"], "worker": "ann", "vote": y}),
        pipeline={"labels": {"type": "categorical", "classes": ["ham", "spam"]}},
    )  # fmt: skip


def ranking() -> Sample:
    n, d, rng = 40, 4, np.random.default_rng(1)
    items = [[f"e{i}_{j}" for j in range(d)] for i in range(n)]
    score = [rng.permutation(d).astype(float).tolist() for _ in range(n)]
    order = [[its[j] for j in np.argsort(s)[::-1]] for its, s in zip(items, score)]
    frame = pl.DataFrame({
        "example_id": [f"r{i}" for i in range(n)],
        "split": _splits(n, 10),
        "items": items,
        "score": score,
        "order": order,
        "feature": [[2 * v for v in s] for s in score],  # what the end model learns from: no LF reads it
        "gold": score,
    })  # fmt: skip
    source = '''
import polars as pl
from weaksup.lf import labeling_function
from weaksup.vectorized import vectorized_labeling_function

@labeling_function(label_type="ranking")
def by_score(x):
    return [i for _, i in sorted(zip(x.score, x.items), reverse=True)]

@labeling_function(label_type="ranking")
def top_two(x):
    return [i for _, i in sorted(zip(x.score, x.items), reverse=True)][:2]

@labeling_function(label_type="ranking")
def mostly(x):
    best = [i for _, i in sorted(zip(x.score, x.items), reverse=True)]
    return [best[1], best[0], *best[2:]] if x.example_id.endswith("3") else best

@vectorized_labeling_function(label_type="ranking")
def ordered():
    return pl.col("order")
'''
    return Sample(
        frame, source, [{its[j]: s[j] for j in range(d)} for its, s in zip(items, score)],
        fit=lambda votes: RankingLabelModel(seed=0).fit(votes),
        load=RankingLabelModel.load,
        predict=lambda model, votes: [list(r) for r in model.predict(votes)],
        truth=order,
        cells=lambda votes: [[None if r is None else tuple(r) for r in row] for row in votes.rankings],
        plain=lambda v: None if v is None else tuple(v),
        bad_vote=["a", "a"],
        bad_column=pl.Series([["a", "b"], ["a", "a"], None]),
        context={"items": items, "example_ids": frame["example_id"].to_list()},
        pipeline={"labels": {"type": "ranking"}, "trainer": {"name": "pairwise_ranker"}, "ranking": {"ndcg_k": 3}},
        metric_options={"k": 3},
    )  # fmt: skip


def regression() -> Sample:
    n, rng = 60, np.random.default_rng(2)
    x = rng.normal(size=n).round(4)
    frame = pl.DataFrame({
        "example_id": [f"g{i}" for i in range(n)],
        "split": _splits(n, 15),
        "x": x,
        "jitter": rng.normal(0, 0.01, n).round(4),
        "feature": 3 * x,  # what the end model learns from: no LF reads it
        "gold": x,
    })  # fmt: skip
    source = '''
import polars as pl
from weaksup.lf import labeling_function
from weaksup.vectorized import vectorized_labeling_function

@labeling_function(label_type="regression")
def same(x):
    return x.x

@labeling_function(label_type="regression")
def scaled(x):
    return 2 * x.x + 1 if not x.example_id.endswith("7") else None

@labeling_function(label_type="regression")
def jittered(x):
    return x.x + x.jitter

@vectorized_labeling_function(label_type="regression")
def tripled():
    return pl.col("x") * 3 - 2
'''
    return Sample(
        frame, source, x,
        fit=lambda votes: RegressionLabelModel().fit(votes, y=x),
        load=RegressionLabelModel.load,
        predict=lambda model, votes: model.predict(votes).tolist(),
        truth=x.tolist(),
        cells=lambda votes: [[None if np.isnan(v) else float(v) for v in row] for row in votes.values],
        bad_vote=float("inf"),
        bad_column=pl.Series([1.0, float("nan"), None]),
        answers=pl.DataFrame({"item": frame["example_id"], "worker": "ann", "vote": x}),
        pipeline={"labels": {"type": "regression"}, "trainer": {"name": "soft_regressor", "params": {"max_iter": 30}}},
    )  # fmt: skip


def euclid(u: Any, v: Any) -> float:
    return float(np.linalg.norm(np.subtract(u, v)))


def wmean(xs: list[Any], w: np.ndarray) -> list[float]:
    return np.average(np.array(xs), axis=0, weights=w).tolist()


def metric() -> Sample:
    n, rng = 50, np.random.default_rng(3)
    points = rng.normal(size=(n, 2)).round(4)
    frame = pl.DataFrame({
        "example_id": [f"m{i}" for i in range(n)],
        "split": _splits(n, 10),
        "px": points[:, 0], "py": points[:, 1],
        "gold": points.tolist(),
    })  # fmt: skip
    source = '''
from weaksup.lf import labeling_function

@labeling_function(label_type="metric")
def point(x):
    return [x.px, x.py]

@labeling_function(label_type="metric")
def nudged(x):
    return [x.px + 0.001, x.py]

@labeling_function(label_type="metric")
def lowered(x):
    return (x.px, x.py - 0.002) if not x.example_id.endswith("5") else None
'''
    return Sample(
        frame, source, points.tolist(),
        fit=lambda votes: MetricLabelModel(distance=euclid, mean=wmean).fit(votes),
        load=lambda path: MetricLabelModel.load(path, distance=euclid, mean=wmean, candidates=None),
        predict=lambda model, votes: model.predict(votes),
        truth=points.tolist(),
        cells=lambda votes: votes,
        plain=lambda v: None if v is None else json.loads(v),
        bad_vote=object(),
        metric_options={"distance": euclid},
    )  # fmt: skip


def multilabel() -> Sample:
    n, rng = 80, np.random.default_rng(4)
    y = rng.integers(0, 2, (n, 2)).astype(np.int8)  # joy, anger: none, either or both
    classes = ["joy", "anger"]
    frame = pl.DataFrame({
        "example_id": [f"l{i}" for i in range(n)],
        "split": _splits(n, 20),
        "text": [" ".join([*(["so happy"] if a else []), *(["so angry"] if b else []), *([] if a or b else ["meh"]), str(i)])
                 for i, (a, b) in enumerate(y)],
        "tags": [np.flatnonzero(row).tolist() for row in y],
        "gold": [[classes[j] for j in np.flatnonzero(row)] for row in y],
    })  # fmt: skip
    source = '''
import polars as pl
from weaksup.lf import labeling_function
from weaksup.vectorized import vectorized_labeling_function

@labeling_function(label_type="multilabel")
def by_words(x):
    said = {j for j, word in enumerate(["happy", "angry"]) if word in x.text}
    return said or {"absent": [0, 1]}

@labeling_function(label_type="multilabel")
def joy_or_not(x):
    return [0] if "happy" in x.text else {"absent": {0}}

@vectorized_labeling_function(label_type="multilabel")
def tagged():
    return pl.when(pl.col("tags").list.len() > 0).then(pl.col("tags"))
'''
    cube = [{"present": np.flatnonzero(row).tolist(), "absent": np.flatnonzero(1 - row).tolist()} for row in y]
    answers = pl.DataFrame({"item": frame["example_id"], "worker": "ann", "vote": cube})
    return Sample(
        frame, source, y,
        fit=lambda votes: MultiLabelModel(cardinality=2).fit(votes),
        load=MultiLabelModel.load,
        predict=lambda model, votes: [np.flatnonzero(row).tolist() for row in model.predict(votes)],
        truth=[np.flatnonzero(row).tolist() for row in y],
        cells=lambda votes: [[None if c is None else {"present": list(c[0]), "absent": list(c[1])} for c in row]
                             for row in votes.cells()],
        plain=lambda v: v if v is None or isinstance(v, dict) else json.loads(v),  # answers are dicts already
        bad_vote=1,
        bad_column=pl.Series([[0], [0, 5], None]),
        answers=answers,
        context={"k": 2},
        pipeline={"labels": {"type": "multilabel", "classes": classes}, "trainer": {"name": "ovr_logreg"}},
        metric_options={"classes": classes},
    )  # fmt: skip


SAMPLES: dict[str, Callable[[], Sample]] = {
    "categorical": categorical,
    "ranking": ranking,
    "regression": regression,
    "metric": metric,
    "multilabel": multilabel,
}
"""Each label type's sample, by name."""
