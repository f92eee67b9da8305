"""Execution engines: where row-wise and vectorized LFs run, one module per engine on one base.

- :class:`SerialEngine` (``serial``): in this process, the default;
- :class:`ProcessEngine` (``processes``): worker processes on this machine;
- :class:`DaskEngine` (``dask``): a ``dask.distributed`` cluster, local or remote (the
  ``weaksup[dask]`` extra, imported when a session opens);
- :class:`SparkEngine` (``spark``): ``mapInArrow`` on a Spark application, local or on a
  cluster (the ``weaksup[spark]`` extra and a Java runtime, used when a session opens).

Pass one to :func:`weaksup.apply.apply_to_store` (``engine=``) or name it in a
pipeline's ``[engine]`` section; :func:`make_engine` builds one from that section.
Every engine yields the votes and error records of serial application.

>>> make_engine({"name": "processes", "workers": 3})
ProcessEngine(workers=3, window=None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weaksup.engines.dask import DaskEngine
from weaksup.engines.base import ChunkVotes, Engine, EngineSession, LFSet, apply_lf_set
from weaksup.engines.processes import ProcessEngine
from weaksup.engines.serial import SerialEngine
from weaksup.engines.spark import SparkEngine

__all__ = [
    "ENGINES",
    "ChunkVotes",
    "DaskEngine",
    "Engine",
    "EngineSession",
    "LFSet",
    "ProcessEngine",
    "SerialEngine",
    "SparkEngine",
    "apply_lf_set",
    "make_engine",
]

ENGINES = ("serial", "processes", "dask", "spark")


def make_engine(section: Mapping[str, Any] | None) -> Engine:
    """The engine an ``[engine]`` section names (``None``: serial)."""
    if not section or section.get("name", "serial") == "serial":
        return SerialEngine()
    name = section["name"]
    workers = section.get("workers") or 2
    if name == "processes":
        return ProcessEngine(workers=workers)
    if name == "dask":
        return DaskEngine(address=section.get("address"), workers=workers,
                          threads_per_worker=section.get("threads_per_worker") or 1)  # fmt: skip
    if name == "spark":
        return SparkEngine(address=section.get("address"), workers=workers)
    raise ValueError(f"engine.name = {name!r} is not an engine; use one of {', '.join(ENGINES)}")

