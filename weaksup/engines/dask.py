"""The Dask engine: row-wise and vectorized LFs on a ``dask.distributed`` cluster
(the ``weaksup[dask]`` extra).

With no ``address`` it starts a ``LocalCluster`` of ``workers`` processes for the
application; with ``address`` (``tcp://scheduler:8786``) it uses that cluster, whose
workers need weaksup, polars and the libraries the LFs import (the LF files themselves
travel with the LF set).

- The LF set, resources included, is scattered to every worker once (``broadcast``)
  and unpacked once per worker; chunk jobs refer to it.
- Chunks travel as Arrow tables, at most ``window`` in flight, and come back as
  sparse votes (Arrow tables keyed by ``ex_key``).
- The client is the store's one writer: it commits each chunk's votes in chunk
  order, with the LFs' watermarks, in one DuckDB transaction.  DuckDB allows one
  writing process per file, and committing votes and watermark together is what
  makes a rerun resume exactly where the last commit stopped; workers writing
  Parquet parts would need a second, separate bookkeeping of which parts are
  complete.
- A worker that dies mid-chunk: the scheduler re-runs its chunks elsewhere (up to
  ``distributed.scheduler.allowed-failures`` times, then the run stops with
  ``KilledWorker``; a cluster that lost track of a chunk, which Dask reports as cancelled,
  stops it too, saying a worker died).  Committed votes stay either way, and the next run
  resumes from each LF's watermark.

>>> DaskEngine(workers=2).name
'dask'
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
import polars as pl
import pyarrow as pa

from weaksup.apply.kinds import ApplyContext
from weaksup.engines.base import Chunk, ChunkVotes, Engine, EngineSession, LFSet, apply_lf_set, dumps_lf_set
from weaksup.engines.processes import ordered

__all__ = ["DaskEngine"]

_UNPACKED: dict[str, LFSet] = {}
"""LF sets unpacked on this worker, by token (one entry per application)."""


def _work(token: str, payload: bytes, idx: Sequence[int], chunk: pa.Table, keys: np.ndarray) -> tuple[pa.Table, pa.Table]:
    lfset = _UNPACKED.get(token)
    if lfset is None:
        _UNPACKED.clear()  # an earlier application's set is no longer needed
        lfset = _UNPACKED[token] = cloudpickle.loads(payload)
    got = apply_lf_set(lfset, idx, pl.from_arrow(chunk), keys)  # type: ignore[arg-type]
    return got.votes.to_arrow(), got.errors.to_arrow()


@dataclass
class DaskEngine(Engine):
    """A Dask cluster: ``address`` of a running scheduler, or a ``LocalCluster`` of
    ``workers`` processes (``threads_per_worker`` each); ``window`` chunks in flight
    (default: twice the workers)."""

    address: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    window: int | None = None
    name = "dask"

    def open(self, lfset: LFSet, ctx: ApplyContext) -> EngineSession:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError(
                "engine 'dask' needs dask.distributed: pip install 'weaksup[dask]'"
            ) from None
        cluster = None
        if self.address is None:
            cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=self.threads_per_worker, processes=True,
                dashboard_address=None, scheduler_port=0,
            )  # fmt: skip
            client = Client(cluster)
        else:
            client = Client(self.address, timeout="30s")
        n = len(client.scheduler_info().get("workers", {})) or self.workers
        payload = client.scatter(dumps_lf_set(lfset), broadcast=True, hash=False)
        return _DaskSession(client, cluster, payload, self.window or 2 * n)


class _DaskSession(EngineSession):
    def __init__(self, client: Any, cluster: Any, payload: Any, window: int) -> None:
        self.client = client
        self.cluster = cluster
        self.payload = payload
        self.token = uuid.uuid4().hex
        self.window = window

    def map(self, idx: Sequence[int], chunks: Iterable[Chunk]) -> Iterator[ChunkVotes]:
        def submit(chunk: pl.DataFrame, keys: np.ndarray) -> Any:
            return self.client.submit(_work, self.token, self.payload, list(idx), chunk.to_arrow(), keys, pure=False)

        try:
            for votes, errors in ordered(submit, chunks, self.window):
                yield ChunkVotes(pl.from_arrow(votes), pl.from_arrow(errors))  # type: ignore[arg-type]
        except CancelledError as exc:  # distributed's FutureCancelledError is one
            raise RuntimeError(
                f"the Dask cluster lost a chunk ({exc}): a worker died or was killed mid-chunk; the chunks committed "
                "before it are kept and the next run resumes from them"
            ) from exc

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
