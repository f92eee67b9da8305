"""What every execution engine shares: the LF set a run ships to workers, one chunk's
sparse votes, and the :class:`Engine`/:class:`EngineSession` base every engine implements.

An engine decides *where* LFs run on a chunk; the store path (:func:`weaksup.apply.apply_to_store`)
stays on the client: it plans chunks by watermark, hands them to the engine's session, and
commits each chunk's votes (in chunk order) as they come back.  Votes travel keyed by the
store's example key (``ex_key``), never by position, so nothing a worker does can misalign them.

Workers receive the LF set (with its resources) once each, when the session opens; every chunk
job then names which LFs to apply.  The set is serialized with ``cloudpickle``, in memory and
only for that transfer: nothing is ever written to or loaded from a file.  LF modules that
workers cannot import by name (files loaded by the pipeline runner, test modules) travel by
value.

>>> import polars as pl, numpy as np
>>> from weaksup.vectorized import keywords
>>> lfset = LFSet([keywords("promo", ["subscribe"], 1)], cardinality=2)
>>> chunk = pl.DataFrame({"example_id": ["a", "b"], "text": ["subscribe!", "nice"]})
>>> apply_lf_set(lfset, [0], chunk, np.array([7, 8])).votes.select("lf_name", "ex_key", "label").rows()
[('promo', 7, 1)]
"""

from __future__ import annotations

import importlib.util
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import cloudpickle
import numpy as np
import polars as pl

from weaksup.apply.chunks import apply_chunk, outputs_to_frames
from weaksup.apply.kinds import ApplyContext, LabelingFunctionLike, kind_of

__all__ = ["ChunkVotes", "Engine", "EngineSession", "LFSet", "apply_lf_set", "dumps_lf_set"]

Chunk = tuple[pl.DataFrame, np.ndarray]
"""A chunk of examples (with ``example_id``) and their store keys, one per row."""


@dataclass
class LFSet:
    """The LFs of one application and what checking their votes needs."""

    lfs: list[LabelingFunctionLike]
    cardinality: int
    strict: bool = False
    run_id: int | None = None
    classes: tuple[str, ...] = ()


@dataclass
class ChunkVotes:
    """One chunk's sparse votes and error rows (both keyed by ``ex_key``), and how many
    rows each applied LF processed (``None``: all; prompted LFs may stop early)."""

    votes: pl.DataFrame
    errors: pl.DataFrame
    processed: list[int | None] = field(default_factory=list)


def apply_lf_set(
    lfset: LFSet, idx: Sequence[int], chunk: pl.DataFrame, keys: np.ndarray, ctx: ApplyContext | None = None
) -> ChunkVotes:
    """Apply LFs ``idx`` of ``lfset`` to ``chunk`` (rows keyed by ``keys``): the unit of work
    every engine runs, in the client or in a worker."""
    ctx = ctx or ApplyContext(lfset.cardinality, lfset.strict, run_id=lfset.run_id, progress=False, classes=lfset.classes)
    lfs = [lfset.lfs[j] for j in idx]
    outputs = apply_chunk(lfs, chunk, ctx)
    votes, errors = outputs_to_frames(lfs, outputs, chunk["example_id"], keys, lfset.run_id)
    return ChunkVotes(votes, errors, [out.processed for out in outputs])


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def dumps_lf_set(lfset: LFSet) -> bytes:
    """``lfset`` as bytes for workers; modules they could not import by name go by value."""
    functions = [f for lf in lfset.lfs for f in kind_of(lf).user_code(lf)]
    modules = {getattr(f, "__module__", None) for f in functions}
    by_value = [sys.modules[m] for m in modules if m and m in sys.modules and m != "__main__" and not _importable(m)]
    for module in by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(lfset)
    finally:
        for module in by_value:
            cloudpickle.unregister_pickle_by_value(module)


class EngineSession(ABC):
    """An open engine for one application: the LF set is already on every worker."""

    def takes(self, lf: LabelingFunctionLike) -> bool:
        """Whether this session applies ``lf``: those of portable kinds, which need nothing but the
        chunk and never stop early (the client applies the others itself)."""
        return kind_of(lf).portable

    @abstractmethod
    def map(self, idx: Sequence[int], chunks: Iterable[Chunk]) -> Iterator[ChunkVotes]:
        """Apply LFs ``idx`` to each chunk; results come back in chunk order."""

    def close(self) -> None:
        """Release the workers this session started (cancelling unfinished chunks)."""


class Engine(ABC):
    """Where LFs run: in this process, in worker processes, or on a Dask cluster.

    An engine is a plain settings object (safe to build in a config); :meth:`open`
    starts workers for one application and ships them the LF set once.
    """

    name: str

    @abstractmethod
    def open(self, lfset: LFSet, ctx: ApplyContext) -> EngineSession:
        """Start a session applying ``lfset`` (``ctx``: the client's context, for LFs run here)."""
