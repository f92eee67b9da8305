"""Builders for the common vectorized LF shapes: keywords, regex, numeric ranges, sets, lookups.

Each returns a :class:`VectorizedLabelingFunction` whose version hashes the
expression built from its arguments, so editing a keyword list, a pattern or a
threshold re-applies that LF alone.

>>> import polars as pl
>>> df = pl.DataFrame({"text": ["Subscribe to my channel", "nice song", "SUBSCRIBED"], "stars": [1, 5, 3]})
>>> keywords("promo", ["subscribe", "my channel"], 1).evaluate(df).to_list()
[1, None, None]
>>> keywords("promo_prefix", ["subscribe"], 1, whole_words=False).evaluate(df).to_list()
[1, None, 1]
>>> regex("song", r"\\bsong\\b", 0).evaluate(df).to_list()
[None, 0, None]
>>> in_range("good", "stars", 1, low=4).evaluate(df).to_list()
[None, 1, None]
>>> lookup("by_stars", "stars", {1: 0, 5: 1}).evaluate(df).to_list()
[0, 1, None]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import polars as pl

from weaksup.vectorized.lf import VectorizedLabelingFunction

__all__ = ["column_vote", "in_range", "keywords", "lookup", "member_of", "regex", "regex_match"]


def _vote(name: str, condition: pl.Expr, label: int) -> VectorizedLabelingFunction:
    _check_class(name, label)
    return VectorizedLabelingFunction(name, expr=pl.when(condition).then(pl.lit(label, pl.Int32)))


def _check_class(name: str, label: Any) -> None:
    if not isinstance(label, int) or isinstance(label, bool) or label < 0:
        raise ValueError(f"LF {name!r}: label must be a class id (an int >= 0), got {label!r}")


def keywords(
    name: str,
    words: Iterable[str],
    label: int,
    *,
    column: str = "text",
    mode: Literal["any", "all"] = "any",
    case_sensitive: bool = False,
    whole_words: bool = True,
) -> VectorizedLabelingFunction:
    """Vote ``label`` where ``column`` contains any (or all) of ``words``, else abstain.

    Case is folded unless ``case_sensitive``; ``whole_words`` matches at word
    boundaries only (``sub`` does not match ``subscribe``).
    """
    words = list(words)
    if not words or not all(isinstance(w, str) and w for w in words):
        raise ValueError(f"LF {name!r}: words must be a non-empty list of non-empty strings, got {words!r}")
    if mode not in ("any", "all"):
        raise ValueError(f"LF {name!r}: mode must be 'any' or 'all', got {mode!r}")
    flags = "" if case_sensitive else "(?i)"

    def pattern(alternatives: list[str]) -> str:
        body = "|".join(re.escape(w) for w in alternatives)
        return f"{flags}\\b(?:{body})\\b" if whole_words else f"{flags}(?:{body})"

    text = pl.col(column)
    if mode == "any":
        condition = text.str.contains(pattern(words))
    else:
        condition = pl.all_horizontal([text.str.contains(pattern([w])) for w in words])
    return _vote(name, condition, label)


def regex(
    name: str, pattern: str | re.Pattern[str], label: int, *, column: str = "text", case_sensitive: bool | None = None
) -> VectorizedLabelingFunction:
    """Vote ``label`` where ``pattern`` matches ``column`` (anywhere, like ``re.search``).

    ``pattern`` is a string in Rust ``regex`` syntax (close to Python's ``re``) or a
    compiled Python pattern, whose ``re.IGNORECASE`` flag is kept.  ``case_sensitive``
    defaults to True for strings and to the pattern's flag for compiled patterns.
    """
    if isinstance(pattern, re.Pattern):
        ignore = bool(pattern.flags & re.IGNORECASE) if case_sensitive is None else not case_sensitive
        text = pattern.pattern
    else:
        ignore = case_sensitive is False
        text = pattern
    try:
        pl.select(pl.lit("").str.contains(text))
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"LF {name!r}: pattern {text!r} is not a valid (Rust) regex: {exc}") from None
    return _vote(name, regex_match(column, text, ignore_case=ignore), label)


def regex_match(column: str, pattern: str, *, ignore_case: bool = False) -> pl.Expr:
    """``column`` matches ``pattern`` (a boolean expression, for composing LFs by hand)."""
    return pl.col(column).str.contains(("(?i)" if ignore_case else "") + pattern)


def in_range(
    name: str,
    column: str,
    label: int,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: Literal["both", "left", "right", "none"] = "both",
) -> VectorizedLabelingFunction:
    """Vote ``label`` where ``low <= column <= high`` (a threshold when one bound is None)."""
    if low is None and high is None:
        raise ValueError(f"LF {name!r}: give low, high or both")
    if closed not in ("both", "left", "right", "none"):
        raise ValueError(f"LF {name!r}: closed must be both, left, right or none, got {closed!r}")
    value = pl.col(column)
    parts = []
    if low is not None:
        parts.append(value >= low if closed in ("both", "left") else value > low)
    if high is not None:
        parts.append(value <= high if closed in ("both", "right") else value < high)
    return _vote(name, pl.all_horizontal(parts), label)


def member_of(name: str, column: str, values: Iterable[Any], label: int) -> VectorizedLabelingFunction:
    """Vote ``label`` where ``column``'s value is one of ``values``."""
    members = sorted(set(values), key=repr)  # a canonical order: the version does not see set order
    if not members:
        raise ValueError(f"LF {name!r}: values is empty")
    return _vote(name, pl.col(column).is_in(members), label)


def lookup(name: str, column: str, mapping: Mapping[Any, int]) -> VectorizedLabelingFunction:
    """Vote ``mapping[value]`` for ``column``'s value; abstain on values not in ``mapping``."""
    if not mapping:
        raise ValueError(f"LF {name!r}: mapping is empty")
    for label in mapping.values():
        _check_class(name, label)
    ordered = dict(sorted(mapping.items(), key=lambda kv: repr(kv[0])))
    expr = pl.col(column).replace_strict(ordered, default=None, return_dtype=pl.Int32)
    return VectorizedLabelingFunction(name, expr=expr)


def column_vote(name: str, column: str, label_type: str = "regression") -> VectorizedLabelingFunction:
    """The column's own values as votes: numbers for regression, lists of item ids for
    ranking, class ids for categorical (null abstains)."""
    return VectorizedLabelingFunction(name, expr=pl.col(column), label_type=label_type)
