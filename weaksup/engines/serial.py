"""The serial engine: every LF in this process, chunk after chunk (the default).

>>> from weaksup.engines import SerialEngine
>>> SerialEngine().name
'serial'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from weaksup.apply.kinds import ApplyContext
from weaksup.engines.base import Chunk, ChunkVotes, Engine, EngineSession, LFSet, apply_lf_set

__all__ = ["SerialEngine"]


@dataclass
class SerialEngine(Engine):
    """Apply row-wise and vectorized LFs in the calling process, chunk after chunk."""

    name = "serial"

    def open(self, lfset: LFSet, ctx: ApplyContext) -> EngineSession:
        return _SerialSession(lfset, ctx)


class _SerialSession(EngineSession):
    def __init__(self, lfset: LFSet, ctx: ApplyContext) -> None:
        self.lfset = lfset
        self.ctx = ctx

    def map(self, idx: Sequence[int], chunks: Iterable[Chunk]) -> Iterator[ChunkVotes]:
        for chunk, keys in chunks:
            yield apply_lf_set(self.lfset, idx, chunk, keys, self.ctx)
