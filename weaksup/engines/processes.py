"""The processes engine: row-wise and vectorized LFs in worker processes on this machine.

Workers are forked from a ``forkserver`` that has imported this module (and so polars,
numpy and the appliers) but run nothing: a fork of this process could inherit polars'
running thread pool and deadlock, while ``spawn`` would import everything again in each
worker, and re-run the caller's main script.  Each worker receives the LF set once, in its
initializer.  Chunks go out as polars frames
(Arrow IPC underneath) at most ``window`` at a time, and their sparse votes come back
keyed by ``ex_key``; the client commits them in chunk order, so the votes and error
records equal serial application exactly.  A worker that dies breaks the pool: the
run stops with an error, the chunks committed before stay, and the next run resumes
from each LF's watermark.

>>> ProcessEngine(workers=2).name
'processes'
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
import polars as pl

from weaksup.apply.kinds import ApplyContext
from weaksup.engines.base import Chunk, ChunkVotes, Engine, EngineSession, LFSet, apply_lf_set, dumps_lf_set

__all__ = ["ProcessEngine"]

_WORKER_LFSET: LFSet | None = None


def _install(payload: bytes) -> None:
    """Worker initializer: unpack the LF set once."""
    global _WORKER_LFSET
    _WORKER_LFSET = cloudpickle.loads(payload)


def _work(idx: Sequence[int], chunk: pl.DataFrame, keys: np.ndarray) -> ChunkVotes:
    assert _WORKER_LFSET is not None, "worker started without its LF set"
    return apply_lf_set(_WORKER_LFSET, idx, chunk, keys)


@dataclass
class ProcessEngine(Engine):
    """``workers`` processes (``window`` chunks in flight; default twice the workers)."""

    workers: int = 2
    window: int | None = None
    name = "processes"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"ProcessEngine needs at least 1 worker, got workers={self.workers}")

    def open(self, lfset: LFSet, ctx: ApplyContext) -> EngineSession:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # read when the server starts: once per client process
        pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_install, initargs=(dumps_lf_set(lfset),)
        )
        return _PoolSession(pool, self.window or 2 * self.workers)


class _PoolSession(EngineSession):
    def __init__(self, pool: ProcessPoolExecutor, window: int) -> None:
        self.pool = pool
        self.window = window

    def map(self, idx: Sequence[int], chunks: Iterable[Chunk]) -> Iterator[ChunkVotes]:
        return ordered(lambda chunk, keys: self.pool.submit(_work, list(idx), chunk, keys), chunks, self.window)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def ordered(submit: Any, chunks: Iterable[Chunk], window: int) -> Iterator[Any]:
    """Submit chunks ``window`` ahead and yield their results in submission order."""
    pending: deque[Future[Any] | Any] = deque()
    for chunk, keys in chunks:
        pending.append(submit(chunk, keys))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
