"""Checks of one LF return value per label type, shared by the kinds that call user code per row.

Each label type checks its own votes (:meth:`weaksup.label_types.LabelType.check_vote`); here the
checks take ``(lf_name, value, example_id, cardinality, classes)`` (``classes``: the label names,
optional) and return the vote to store (``None`` =
abstain) or raise :class:`LFApplicationError` naming the LF, the example and what was expected.

>>> VOTE_CHECKS["categorical"]("lf", 1, "e0", 2), VOTE_CHECKS["regression"]("lf", None, "e0", 0)
(1, None)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from weaksup.label_types import LABEL_TYPES, LabelType, VoteError

__all__ = ["VOTE_CHECKS", "VOTE_COLUMN", "LFApplicationError", "bad_vote", "check_error_rates"]


class LFApplicationError(RuntimeError):
    """An LF failed in a way that stops the run (strict mode, or a set-up mistake)."""


def bad_vote(lf_name: str, error: VoteError, example_id: Any = None) -> LFApplicationError:
    """The error that stops a run on a vote of LF ``lf_name`` that does not fit its label type
    (on ``example_id``, when the vote has one)."""
    where = f" on example {example_id!r}" if example_id is not None else ""
    return LFApplicationError(f"LF {lf_name!r} returned {error.problem}{where}; {error.expected}")


def _check(label_type: LabelType, lf_name: str, value: Any, example_id: str, k: int, classes: Sequence[str] = ()) -> Any:
    try:
        return label_type.check_vote(value, k, classes)
    except VoteError as exc:
        raise bad_vote(lf_name, exc, example_id) from None


VOTE_CHECKS: dict[str, Callable[..., Any]] = {name: partial(_check, t) for name, t in LABEL_TYPES.items()}
"""Each label type's check of one LF return value."""
VOTE_COLUMN = {name: t.vote_column for name, t in LABEL_TYPES.items()}
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

