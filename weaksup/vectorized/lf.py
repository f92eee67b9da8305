"""Vectorized LFs: one polars expression (or a frame-to-Series function) votes on a whole chunk.

A row-wise LF is called once per example; a vectorized LF is evaluated once per
chunk by polars' native engine, in parallel with the other vectorized LFs of
the set.  Its result per row is a class id, or null (or ``ABSTAIN``, ``-1``) to
abstain; regression LFs return numbers and ranking LFs lists of item ids (null
abstains).

>>> import polars as pl
>>> @vectorized_labeling_function()
... def shouts():
...     return pl.when(pl.col("text").str.contains(r"!!")).then(1)
>>> shouts.name, shouts.kind, len(shouts.version)
('shouts', 'vectorized', 12)
>>> shouts.evaluate(pl.DataFrame({"text": ["hi!!", "hi"]})).to_list()
[1, None]

**Versions.**  For an expression LF the version hashes the expression's serialized
plan (``Expr.meta.serialize``), so reformatting the function leaves it alone and
editing a keyword list re-applies that LF only.  A polars upgrade that changes
the serialized form re-applies the LFs once.  A frame function is hashed like a
row-wise LF: its source and its resources.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from weaksup.label_types import LABEL_TYPES
from weaksup.lf import canonical, function_source, read_globals, source_hash

__all__ = ["VECTORIZED_LABEL_TYPES", "VectorizedLabelingFunction", "vectorized_labeling_function"]

VECTORIZED_LABEL_TYPES = tuple(name for name, t in LABEL_TYPES.items() if t.vectorized)
"""Label types a vectorized LF can vote: those whose votes a polars column can hold (a metric space's
JSON values cannot)."""

FrameFunction = Callable[..., pl.Series]


class VectorizedLabelingFunction:
    """An LF evaluated on a whole chunk: ``expr`` (a polars expression) or ``f(frame, **resources)``.

    Exactly one of ``expr`` and ``f`` is given.  ``kind`` is ``"vectorized"``
    (:mod:`weaksup.apply.kinds.vectorized`): every vectorized LF of a chunk is evaluated in one query.
    """

    kind = "vectorized"

    def __init__(
        self,
        name: str,
        expr: pl.Expr | None = None,
        f: FrameFunction | None = None,
        *,
        resources: Mapping[str, Any] | None = None,
        version: str | None = None,
        label_type: str = "categorical",
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"LF name must be a non-empty string, got {name!r}")
        if label_type not in VECTORIZED_LABEL_TYPES:
            raise ValueError(
                f"vectorized LF {name!r}: label_type {label_type!r} is not supported; "
                f"use one of {', '.join(VECTORIZED_LABEL_TYPES)} (or a row-wise LF for the others)"
            )
        if (expr is None) == (f is None):
            raise ValueError(f"vectorized LF {name!r}: give exactly one of expr (a polars expression) or f")
        if expr is not None and not isinstance(expr, pl.Expr):
            raise TypeError(
                f"vectorized LF {name!r} must produce a polars expression, got {type(expr).__name__}; "
                "return e.g. pl.when(pl.col('text').str.contains('x')).then(1)"
            )
        self.name = name
        self.expr = expr
        self.f = f
        self.resources = dict(resources or {})
        self.label_type = label_type
        if version is not None:
            self.version = version
        elif expr is not None:
            self.version = source_hash("expr", label_type, expr.meta.serialize(format="json"))
        else:
            read = [text] if (text := read_globals(f)) else []  # type: ignore[arg-type]  # module constants f reads
            self.version = source_hash("frame", label_type, function_source(f), canonical(self.resources), *read)  # type: ignore[arg-type]

    def evaluate(self, frame: pl.DataFrame) -> Any:
        """This LF's raw output on ``frame``: a Series, one value per row, when the LF is
        right (the applier checks it)."""
        if self.expr is not None:
            return frame.select(pl.int_range(pl.len()).alias("__rows__"), self.expr.alias(self.name))[self.name]
        out = self.f(frame, **self.resources)  # type: ignore[misc]
        return out.alias(self.name) if isinstance(out, pl.Series) else out

    def __repr__(self) -> str:
        return f"VectorizedLabelingFunction({self.name!r}, version={self.version!r})"


def vectorized_labeling_function(
    name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    version: str | None = None,
    label_type: str = "categorical",
) -> Callable[[Callable[..., Any]], VectorizedLabelingFunction]:
    """Decorate ``f(**resources) -> pl.Expr`` or ``f(frame, **resources) -> pl.Series``.

    A function whose only parameters are resources is called once, now, and its
    expression is the LF.  A function with one more (first) parameter receives each
    chunk as a polars frame and returns a Series of votes.
    """

    def wrap(f: Callable[..., Any]) -> VectorizedLabelingFunction:
        lf_name = name or f.__name__
        res = dict(resources or {})
        params = [p for p in inspect.signature(f).parameters if p not in res]
        if len(params) > 1:
            raise TypeError(
                f"vectorized LF {lf_name!r} takes parameters {params}; it may take one frame parameter "
                "beside its resources"
            )
        kwargs = {"version": version, "label_type": label_type}
        if params:
            return VectorizedLabelingFunction(lf_name, f=f, resources=res, **kwargs)
        return VectorizedLabelingFunction(lf_name, expr=f(**res), **kwargs)

    return wrap
