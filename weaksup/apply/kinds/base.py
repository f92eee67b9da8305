"""The LF-kind contract: everything the applier, the engines and the runner ask of a kind of LF.

An LF is any object with a ``name``, a ``version``, a ``label_type`` and a ``kind`` (the name of its
kind: :class:`LabelingFunctionLike`).  Its kind, an :class:`LFKind` registered in
:data:`weaksup.apply.kinds.LF_KINDS`, knows how LFs of that kind are applied:

- :meth:`LFKind.apply_batch`: every LF of the kind in an LF set, on one chunk of examples, at once
  (so a kind can share work between its LFs: one polars query, one batch of prompts);
- :attr:`LFKind.chunk_rows`: rows per committed chunk when the caller sets none;
- :attr:`LFKind.portable`: whether its LFs can travel to a worker (another process, a Dask or Spark
  worker), and :meth:`LFKind.user_code`: the user functions that travel with them;
- :meth:`LFKind.columns_read`: the input columns each LF reads (an end model must not learn them);
- :meth:`LFKind.open_run`: what a run must open for LFs of the kind (an LLM session).

This module also holds what a batch function exchanges with the applier: :class:`ApplyContext` in,
one :class:`LFOutput` per LF out, and :class:`LFApplicationError` (:mod:`weaksup.apply.checks`'s) for what
stops a run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import polars as pl

from weaksup.apply.checks import LFApplicationError
from weaksup.batches import COMMIT_ROWS

if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = ["ApplyContext", "LFApplicationError", "LFKind", "LFOutput", "LabelingFunctionLike", "RunResource"]


@runtime_checkable
class LabelingFunctionLike(Protocol):
    """What every LF is, whatever its kind: its identity in the store, and the name of its kind."""

    name: str
    version: str
    label_type: str
    kind: str


@dataclass
class LFOutput:
    """One LF's votes on one chunk: ``labels`` per row (``-1`` = abstain), an optional
    per-vote ``confidence``, and ``(row, exception)`` pairs for rows where it raised.
    LFs of other label types than categorical put their checked votes in ``values``
    (``None`` = abstain) and leave ``labels`` all ``-1``."""

    labels: np.ndarray
    confidence: np.ndarray | None = None
    errors: list[tuple[int, BaseException]] = field(default_factory=list)
    values: list[Any] | None = None
    processed: int | None = None
    """Rows ``[0, processed)`` were applied; ``None`` means all.  A batch function that
    stops early (an LLM budget ran out) sets it: later rows abstain, and the LF's
    watermark stops before them, so a later run applies them."""


@dataclass
class ApplyContext:
    """What a batch function may need beyond the chunk: label space (``cardinality``, and the
    names, ``classes``, when known), strictness and,
    for kinds that cache (prompted LFs), the store and run."""

    cardinality: int
    strict: bool = False
    store: VoteStore | None = None
    run_id: int | None = None
    progress: bool = True
    state: dict[str, Any] = field(default_factory=dict)
    """Per-run state a kind keeps across chunks (e.g. an LLM budget), keyed by kind."""
    classes: tuple[str, ...] = ()
    """The label names (``labels.classes``), for label types whose LFs may vote names; empty: none given."""


class RunResource(Protocol):
    """Something a run opened for a kind (an LLM session): what the run's metrics record of it."""

    metrics_key: str

    def summary(self) -> dict[str, Any]:
        """Run totals so far (requests, cache hits, tokens...): never a secret."""
        ...


class LFKind(ABC):
    """One kind of LF: how its LFs are applied (see the module docstring).  Kinds are stateless;
    per-run state goes in :attr:`ApplyContext.state`."""

    name: ClassVar[str]
    """The kind's name, as LFs of the kind give it (``lf.kind``) and the store records it."""
    chunk_rows: ClassVar[int] = COMMIT_ROWS
    """Rows per committed chunk when the caller sets none; an LF group commits at its smallest."""
    portable: ClassVar[bool] = False
    """Whether an engine may apply its LFs in another process: they need nothing but the chunk and
    never stop early.  Other kinds run in the process that commits the votes."""

    @abstractmethod
    def apply_batch(self, lfs: Sequence[Any], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
        """Every LF of ``lfs`` (all of this kind) on ``chunk`` (with ``example_id``): one output per LF, in order."""

    @abstractmethod
    def columns_read(self, lfs: Sequence[Any], frame: pl.DataFrame) -> dict[str, list[str]]:
        """Each LF's name → the columns of ``frame`` it reads (a sample of the examples suffices)."""

    def user_code(self, lf: Any) -> Sequence[Callable[..., Any]]:
        """The user functions ``lf`` calls, which a worker must import or receive by value."""
        return ()

    def open_run(self, state: dict[str, Any], settings: Mapping[str, Any]) -> RunResource | None:
        """Open what a run needs for LFs of this kind, into ``state`` (the run's
        :attr:`ApplyContext.state`), from the pipeline's validated ``settings``; None when nothing."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
