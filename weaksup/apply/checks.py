"""Checks of one LF return value per label type, shared by the kinds that call user code per row.

Each check takes ``(lf_name, value, example_id, cardinality)`` and returns the
vote to store (``None`` = abstain) or raises :class:`LFApplicationError` naming
the LF, the example and what was expected.

>>> VOTE_CHECKS["categorical"]("lf", 1, "e0", 2), VOTE_CHECKS["regression"]("lf", None, "e0", 0)
(1, None)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from weaksup.votes import ABSTAIN

__all__ = ["VOTE_CHECKS", "VOTE_COLUMN", "LFApplicationError", "check_error_rates"]


class LFApplicationError(RuntimeError):
    """An LF failed in a way that stops the run (strict mode, or a set-up mistake)."""


def _bad(lf_name: str, example_id: str, problem: str, expected: str) -> LFApplicationError:
    return LFApplicationError(f"LF {lf_name!r} returned {problem} on example {example_id!r}; {expected}")


def _check_label(lf_name: str, value: Any, example_id: str, k: int) -> int | None:
    """A categorical vote: a class id in 0..k-1, or ABSTAIN (None here)."""
    expected = f"a categorical LF must return a class id in 0..{k - 1} or ABSTAIN (-1)"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if value == ABSTAIN:
            return None
        if 0 <= value < k:
            return int(value)
        raise _bad(lf_name, example_id, f"{value}, outside the label space", expected)
    raise _bad(lf_name, example_id, f"{value!r} of type {type(value).__name__}, not an int", expected)


def _check_real(lf_name: str, value: Any, example_id: str, k: int) -> float | None:
    """A regression vote: a finite number, or None to abstain."""
    if value is None:
        return None
    expected = "a regression LF must return a finite number, or None to abstain"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(lf_name, example_id, f"{value!r} of type {type(value).__name__}", expected)
    if not np.isfinite(value):
        raise _bad(lf_name, example_id, repr(float(value)), expected)
    return float(value)


def _check_ranking(lf_name: str, value: Any, example_id: str, k: int) -> list[str] | None:
    """A ranking vote: item ids best first (stored as strings), or None to abstain."""
    if value is None:
        return None
    expected = "a ranking LF must return a list of distinct item ids, best first, or None to abstain"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise _bad(lf_name, example_id, f"{value!r} of type {type(value).__name__}", expected)
    items = [str(v) for v in value]
    if len(set(items)) != len(items):
        dupes = sorted({v for v in items if items.count(v) > 1})
        raise _bad(lf_name, example_id, f"a ranking with duplicate items {dupes}", expected)
    return items


def _check_payload(lf_name: str, value: Any, example_id: str, k: int) -> str | None:
    """A vote of a user-defined metric type: any JSON value, or None to abstain."""
    if value is None:
        return None
    try:
        return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value)
    except TypeError:
        raise _bad(
            lf_name, example_id, f"{value!r} of type {type(value).__name__}",
            "a metric LF must return a JSON-serialisable value, or None to abstain",
        ) from None


VOTE_CHECKS: dict[str, Callable[[str, Any, str, int], Any]] = {
    "categorical": _check_label,
    "regression": _check_real,
    "ranking": _check_ranking,
    "metric": _check_payload,
}
VOTE_COLUMN = {"categorical": "label", "regression": "value", "ranking": "ranking", "metric": "payload"}
"""The votes table column each label type's votes go to."""


def check_error_rates(
    applied: dict[str, int], errors: dict[str, int], max_rate: float, first: dict[str, dict[str, Any]]
) -> None:
    """Raise :class:`LFApplicationError` when an LF erred on more than ``max_rate`` of the examples it was
    applied to (``applied``, ``errors``: per LF name, in one run; ``first``: each LF's first error, as
    ``VoteStore.votes.first_errors`` gives it), naming each such LF, its share and its first error."""
    lines = []
    for name, n_errors in errors.items():
        seen = max(applied.get(name, 0), n_errors)
        if n_errors and n_errors / seen > max_rate:
            e = first.get(name, {})
            lines.append(
                f"LF {name!r} erred on {n_errors:,} of the {seen:,} examples it was applied to "
                f"({n_errors / seen:.0%}); first on example {e.get('example_id')!r}: "
                f"{e.get('error_type')}: {e.get('message')}"
            )
    if lines:
        raise LFApplicationError(
            f"{'; '.join(lines)}. That is more than lfs.max_error_rate = {max_rate:g}: fix the LF (or the model "
            "server), then rerun; the votes already computed are kept, and `weaksup run --reapply-failed` asks "
            "the failed examples again"
        )

