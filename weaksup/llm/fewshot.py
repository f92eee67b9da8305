"""Labeled examples for prompted LFs: a dev set, and the few-shot examples drawn from it.

A :class:`DevSet` holds examples like those an LF labels (the columns its template or field
function reads) and, optionally, their gold labels.  A prompted LF uses it to set what a fixed
prompt cannot know (:mod:`.calibration`: batch calibration's mean, a threshold for a target
coverage or precision, a temperature fitted on gold) and to draw few-shot examples.

A :class:`Shot` is one example shown to the model before the example to label, with the
answer it should give: a user turn (the LF's template on the shot's values) and an assistant
turn (the answer).  Shots come first in every prompt of the LF, so all its prompts share one
prefix that servers with prefix caching evaluate once.  :func:`draw_shots` picks ``k`` per
class from a dev set's gold, reproducibly (``seed``), interleaving the classes so that neither
is always last.  An LF never votes on an example it shows (its prompt would contain the answer).

>>> import polars as pl
>>> dev = DevSet(pl.DataFrame({"example_id": ["a", "b", "c", "d"], "text": ["buy now", "nice", "free $", "ok"],
...                            "label": [1, 0, 1, 0]}), gold="label")
>>> [(s.values["text"], s.answer) for s in draw_shots(dev, 1, {0: "no", 1: "yes"}, seed=0)]
[('ok', 'no'), ('free $', 'yes')]
>>> len(dev.without(["b"]))
3
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

__all__ = ["DevSet", "Shot", "draw_shots"]

ID = "example_id"


@dataclass(frozen=True)
class Shot:
    """One example shown to the model, with the answer it should give: ``values`` are the
    example's columns (as the LF's field function or template reads them), ``answer`` one of
    the LF's choices.  ``example_id`` (optional) names the dev example it came from."""

    values: Mapping[str, Any]
    answer: str
    example_id: str | None = None


class DevSet:
    """Examples like those the LF labels, and optionally their gold class ids.

    ``frame`` holds the columns the LF reads (and ``example_id``, else ids are row numbers);
    ``gold`` is the name of its gold column (dropped from what the LF sees) or a sequence of
    class ids aligned with the rows.  The dev set's content is part of the version of every LF
    that uses it: a changed dev set re-labels (from the cache when the prompts are the same).
    """

    def __init__(self, frame: pl.DataFrame, gold: str | Sequence[int] | None = None) -> None:
        if isinstance(gold, str):
            if gold not in frame.columns:
                raise ValueError(f"dev set: gold column {gold!r} is not among its columns {frame.columns}")
            labels: list[int] | None = [int(v) for v in frame[gold].to_list()]
            frame = frame.drop(gold)
        else:
            labels = None if gold is None else [int(v) for v in gold]
        if labels is not None and len(labels) != frame.height:
            raise ValueError(f"dev set: {len(labels)} gold labels for {frame.height} examples")
        if ID not in frame.columns:
            frame = frame.with_columns(pl.Series(ID, [str(i) for i in range(frame.height)]))
        self.frame = frame
        self.gold = None if labels is None else np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return self.frame.height

    def rows(self) -> Iterator[dict[str, Any]]:
        """The examples, one dict of columns each."""
        return self.frame.iter_rows(named=True)

    @property
    def ids(self) -> list[str]:
        return [str(v) for v in self.frame[ID].to_list()]

    def without(self, ids: Iterable[str]) -> DevSet:
        """The dev set less the examples ``ids`` (e.g. those shown as shots)."""
        drop = set(ids)
        keep = [i for i, v in enumerate(self.ids) if v not in drop]
        out = DevSet(self.frame[keep], None if self.gold is None else self.gold[keep].tolist())
        return out

    def fingerprint(self) -> str:
        """A hash of the examples and their gold: part of the version of the LFs that use it."""
        digest = hashlib.sha256()
        for row in self.rows():
            digest.update(json.dumps(row, sort_keys=True, default=str).encode())
        digest.update(json.dumps(None if self.gold is None else self.gold.tolist()).encode())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        return f"DevSet({len(self)} examples, gold={'yes' if self.gold is not None else 'no'})"


def draw_shots(dev: DevSet, k: int, answers: Mapping[int, str], *, seed: int = 0) -> list[Shot]:
    """``k`` examples per class of ``answers`` (class id -> the answer to show) from the dev set's
    gold, drawn with ``seed``, interleaved by class (one of each class, then the next...)."""
    if dev.gold is None:
        raise ValueError("few-shot examples are drawn from gold labels: give the DevSet its gold")
    if k < 1:
        raise ValueError(f"shots per class must be at least 1, got {k}")
    rng = np.random.default_rng(seed)
    rows = list(dev.rows())
    by_class: dict[int, list[int]] = {}
    for c in sorted(answers):
        pool = np.flatnonzero(dev.gold == c)
        if len(pool) < k:
            raise ValueError(f"few-shot: the dev set has {len(pool)} examples of class {c}, fewer than the {k} asked")
        by_class[c] = sorted(rng.choice(pool, size=k, replace=False).tolist())
    shots = []
    for n in range(k):
        for c in sorted(by_class):
            row = rows[by_class[c][n]]
            shots.append(Shot({f: v for f, v in row.items() if f != ID}, answers[c], str(row[ID])))
    return shots
