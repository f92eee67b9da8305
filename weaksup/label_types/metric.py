"""Metric-space labels: any JSON value, in a space with a distance; LFs vote such a value or abstain (``None``).

Votes go to the store's ``payload`` column as JSON and are read back as rows of ``m`` values
(``None`` = abstain), what :class:`~weaksup.model.MetricLabelModel` takes.  Its distance is a
Python function, which a pipeline file cannot name: the type runs from Python only, with no
task, report type or end model.

>>> METRIC.check_vote((1.5, 2), 0)
'[1.5, 2]'
>>> METRIC.metrics([(0, 0), None], [(3, 4), (1, 1)], distance=lambda u, v: float(np.hypot(*np.subtract(u, v))))
{'mean_distance': 5.0}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from weaksup.label_types.base import LabelType, VoteError, VoteReader

if TYPE_CHECKING:
    from weaksup.store.votes import LFVersions

__all__ = ["METRIC", "MetricType"]


class MetricType(LabelType):
    """Metric-space labels (see the module docstring)."""

    name = "metric"
    doc = ("metric-space values (label_type = 'metric'), for MetricLabelModel from Python: its distance is a "
           "function, which a pipeline file cannot name")  # fmt: skip
    vote_column = "payload"
    votes_class = list
    vectorized = False  # its JSON values are not a column type

    def check_vote(self, value: Any, cardinality: int, classes: Sequence[str] = ()) -> str | None:
        """Any JSON value (stored as its JSON text), or None to abstain."""
        if value is None:
            return None
        try:
            return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value)
        except TypeError:
            raise VoteError(f"{value!r} of type {type(value).__name__}",
                            "a metric LF must return a JSON-serialisable value, or None to abstain") from None  # fmt: skip

    def read_votes(self, votes: VoteReader, ex_keys: np.ndarray, lfs: LFVersions, **context: Any) -> list[list[Any]]:
        """Per example, each LF's vote decoded from JSON (``None`` = abstain)."""
        votes.check_label_type(lfs, self.name)
        keys = np.asarray(ex_keys, dtype=np.int64)
        got = votes.coordinates(keys, lfs, self.vote_column)
        rows: list[list[Any]] = [[None] * len(lfs) for _ in keys]
        for i, a, vote in zip(got["row"].to_pylist(), got["col"].to_pylist(), got["vote"].to_pylist()):
            rows[i][a] = json.loads(vote)
        return rows

    def metrics(self, predicted: Any, gold: Any, **options: Any) -> dict[str, float | None]:
        """``mean_distance`` (with ``distance``, the space's) of the predictions to gold, where both are known."""
        distance: Callable[[Any, Any], float] = options["distance"]
        pairs = [(p, g) for p, g in zip(predicted, gold) if p is not None and g is not None]
        return {"mean_distance": float(np.mean([distance(p, g) for p, g in pairs])) if pairs else None}


METRIC = MetricType()
