"""The Spark engine: row-wise and vectorized LFs inside Spark's ``mapInArrow`` (the
``weaksup[spark]`` extra, and a Java 17+ runtime).

It is an engine beside serial, processes and Dask, not a separate recipe, so that Spark
goes through the one store path, :func:`weaksup.apply.apply_to_store`: the client plans
chunks by each LF version's watermark, Spark applies the LFs to them, and the client
commits each chunk's votes with its watermark, in chunk order, in one DuckDB transaction
(the store's one writer).  A rerun therefore resumes where the last commit stopped and
never duplicates a vote; prompted LFs, which share the store's cache and budget, still
run on the client.  A recipe writing votes from Spark to Parquet would need a second
bookkeeping of which key ranges are complete, which the watermarks already are.  The
cost: every chunk crosses from the client to the executors (Arrow) and its votes come
back, one Spark job per chunk; Spark lends its cores, the store stays the one source of
examples and votes.

- **Keys.** Votes are keyed by the store's ``ex_key``, so the examples are synced first
  (``VoteStore.examples.sync``, or ``VoteStore.examples.sync_batches``
  for sources larger than memory; a pipeline does both).  Each chunk goes to Spark as an
  Arrow table of the LF inputs with its ``example_id`` and ``ex_key`` columns
  (``spark.createDataFrame``), so no join is needed to key the votes.  Data that lives
  in Spark reaches the store by writing it to Parquet, which a pipeline streams.
- **The LF set** travels once: a broadcast of :func:`weaksup.engines.base.dumps_lf_set`'s
  bytes, unpacked once per Python worker (Spark reuses workers across tasks).
- **Votes come back sparse**: the ``mapInArrow`` function (:meth:`SparkLFSet.mapper`)
  yields, per Arrow batch, the non-abstain votes and the error rows as
  :data:`RECORD_SCHEMA` records, collected per chunk with ``DataFrame.toArrow``; never
  a dense matrix.
- **Session.** Inside a running Spark application (``spark-submit``, a notebook) the
  engine uses its active ``SparkSession``; otherwise it starts one on ``address`` (a
  master URL such as ``spark://host:7077``) or ``local[workers]`` (:func:`local_spark`:
  loopback only, no UI), and stops it at the end.
- **Failures.** Spark retries a failed task (``spark.task.maxFailures``, 1 in local
  mode); a job that still fails stops the run, the chunks committed before stay, and the
  next run resumes from each LF's watermark.  An :class:`LFApplicationError` raised in a
  worker (strict mode, a set-up mistake) is raised again on the client with its message.

>>> SparkEngine(workers=2).name
'spark'
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
import polars as pl
import pyarrow as pa

from weaksup.apply.kinds import ApplyContext
from weaksup.engines.base import (
    Chunk, ChunkVotes, Engine, EngineSession, LFSet, apply_lf_set, dumps_lf_set,
)  # fmt: skip
from weaksup.engines.processes import ordered
from weaksup.store.schema import VOTE_COLUMNS, vote_table
from weaksup.apply.checks import LFApplicationError

__all__ = ["RECORD_DDL", "RECORD_SCHEMA", "SparkEngine", "SparkLFSet", "local_spark", "records_to_votes"]

KEY = "ex_key"
ERROR_COLUMNS = {"example_id": pa.string(), "error_type": pa.string(), "message": pa.string()}
RECORD_SCHEMA = pa.schema(list(VOTE_COLUMNS.items()) + list(ERROR_COLUMNS.items()))
"""What :meth:`SparkLFSet.mapper`'s function yields: the store's vote columns, then ``example_id``,
``error_type`` and ``message``, set on error rows only (their vote columns are null)."""

ArrowMapper = Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]
"""A ``mapInArrow`` function: Arrow batches in, Arrow batches out."""

_UNPACKED: dict[str, LFSet] = {}
"""LF sets unpacked in this Spark Python worker, by token (one entry per application)."""


def _records(got: ChunkVotes) -> pa.Table:
    """One batch's votes and error rows as :data:`RECORD_SCHEMA` records."""
    votes = vote_table(got.votes)
    for name, typ in ERROR_COLUMNS.items():
        votes = votes.append_column(pa.field(name, typ), pa.nulls(votes.num_rows, typ))
    errors = got.errors
    error_rows = pa.table(
        [
            errors[f.name].to_arrow().cast(f.type) if f.name in errors.columns else pa.nulls(errors.height, f.type)
            for f in RECORD_SCHEMA
        ],
        schema=RECORD_SCHEMA,
    )
    return pa.concat_tables([votes, error_rows])


def _apply_batches(
    payload: Any, idx: Sequence[int], token: str, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: LFs ``idx`` of the broadcast LF set on each batch (rows with
    ``example_id``, ``ex_key`` and the LF inputs), as sparse :data:`RECORD_SCHEMA` records."""
    lfset = _UNPACKED.get(token)
    if lfset is None:
        _UNPACKED.clear()  # an earlier application's set is no longer needed
        lfset = _UNPACKED[token] = cloudpickle.loads(payload.value)
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        got = apply_lf_set(lfset, idx, frame.drop(KEY), frame[KEY].to_numpy())
        yield from _records(got).to_batches()


@dataclass(frozen=True)
class SparkLFSet:
    """An LF set broadcast to a Spark application's workers (once); :meth:`mapper` gives
    the ``mapInArrow`` function applying some of its LFs, :data:`RECORD_DDL` its output schema:

    ``df.mapInArrow(SparkLFSet.broadcast(spark, lfset).mapper(), RECORD_DDL).toArrow()``,
    then :func:`records_to_votes`, for a DataFrame ``df`` with ``example_id``, ``ex_key``
    (the store's keys) and the LF inputs."""

    payload: Any
    """The ``pyspark.Broadcast`` of the LF set's bytes."""
    token: str
    """Names this application's LF set in the workers' cache."""
    size: int
    """How many LFs the set has."""

    @classmethod
    def broadcast(cls, spark: Any, lfset: LFSet) -> SparkLFSet:
        """Broadcast ``lfset`` (resources included) to ``spark``'s workers."""
        return cls(spark.sparkContext.broadcast(dumps_lf_set(lfset)), uuid.uuid4().hex, len(lfset.lfs))

    def mapper(self, idx: Sequence[int] | None = None) -> ArrowMapper:
        """The ``mapInArrow`` function applying LFs ``idx`` of the set (default: all)."""
        chosen = list(range(self.size) if idx is None else idx)
        return functools.partial(_apply_batches, self.payload, chosen, self.token)


_SPARK_TYPES = {pa.string(): "string", pa.int64(): "bigint", pa.int32(): "int", pa.float64(): "double",
                pa.list_(pa.string()): "array<string>"}  # fmt: skip
RECORD_DDL = ", ".join(f"{field.name} {_SPARK_TYPES[field.type]}" for field in RECORD_SCHEMA)
""":data:`RECORD_SCHEMA` as Spark DDL, the schema ``mapInArrow`` is given."""


def records_to_votes(records: pa.Table, run_id: int | None = None) -> ChunkVotes:
    """Split :data:`RECORD_SCHEMA` records (from :meth:`SparkLFSet.mapper`) into the votes and
    error rows :meth:`weaksup.store.VoteStore.commit_votes` takes (errors stamped with ``run_id``)."""
    frame = pl.from_arrow(records)
    assert isinstance(frame, pl.DataFrame)
    failed = pl.col("error_type").is_not_null()
    votes = frame.filter(~failed).select(list(VOTE_COLUMNS))
    errors = frame.filter(failed).select(
        pl.lit(run_id, pl.Int64).alias("run_id"), "lf_name", "lf_version", KEY, *ERROR_COLUMNS
    )
    return ChunkVotes(votes, errors)


def local_spark(master: str = "local[2]") -> Any:
    """A SparkSession on this machine (``master``: ``local[N]``), on loopback only, without
    its web UI, whose Python workers run this interpreter (or the one already running here)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError(
            "Spark needs a Java 17+ runtime, and there is no `java` on PATH and no JAVA_HOME: "
            "install one (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    builder = _session_class().builder.master(master).appName("weaksup")
    for key, value in {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }.items():
        builder = builder.config(key, value)
    # Read once, when the JVM and the SparkContext start: Python workers run this interpreter, and
    # the JVM binds nothing but loopback.
    launch = {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    saved = {key: os.environ.get(key) for key in launch}
    os.environ.update({key: saved[key] or value for key, value in launch.items()})
    try:
        return builder.getOrCreate()
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]


def _session_class() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ImportError("engine 'spark' needs pyspark: pip install 'weaksup[spark]'") from None
    return SparkSession


@dataclass
class SparkEngine(Engine):
    """Spark: the running application's session, else a new one on master ``address``
    (e.g. ``spark://host:7077``) or ``local[workers]``; ``window`` chunk jobs in flight
    (default: twice Spark's default parallelism)."""

    address: str | None = None
    workers: int = 2
    window: int | None = None
    name = "spark"

    def open(self, lfset: LFSet, ctx: ApplyContext) -> EngineSession:
        spark_session = _session_class()
        spark = spark_session.getActiveSession()
        owned = spark is None
        if spark is None:
            master = self.address or f"local[{self.workers}]"
            if master.startswith("local"):
                spark = local_spark(master)
            else:
                spark = spark_session.builder.master(master).appName("weaksup").getOrCreate()
        window = self.window or 2 * spark.sparkContext.defaultParallelism
        return _SparkSession(spark, owned, SparkLFSet.broadcast(spark, lfset), lfset.run_id, window)


class _SparkSession(EngineSession):
    def __init__(self, spark: Any, owned: bool, lfset: SparkLFSet, run_id: int | None, window: int) -> None:
        self.spark = spark
        self.owned = owned
        self.lfset = lfset
        self.run_id = run_id
        self.pool = ThreadPoolExecutor(window, thread_name_prefix="weaksup-spark")
        self.window = window

    def _job(self, mapper: ArrowMapper, chunk: pl.DataFrame, keys: np.ndarray) -> pa.Table:
        """One chunk as one Spark job: its Arrow rows in, its sparse records back."""
        if KEY in chunk.columns:
            raise ValueError(
                f"the examples have a column {KEY!r}, the name the Spark engine gives the store's keys; rename it"
            )
        rows = chunk.with_columns(pl.Series(KEY, keys, pl.Int64)).to_arrow()
        try:
            return self.spark.createDataFrame(rows).mapInArrow(mapper, RECORD_DDL).toArrow()
        except Exception as exc:  # a Python error in a worker comes back as its traceback's text
            raised = re.findall(r"LFApplicationError: (.+)", str(exc))
            if raised:
                raise LFApplicationError(raised[-1]) from None
            raise

    def map(self, idx: Sequence[int], chunks: Iterable[Chunk]) -> Iterator[ChunkVotes]:
        mapper = self.lfset.mapper(idx)

        def submit(chunk: pl.DataFrame, keys: np.ndarray) -> Any:
            return self.pool.submit(self._job, mapper, chunk, keys)

        for records in ordered(submit, chunks, self.window):
            yield records_to_votes(records, self.run_id)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.lfset.payload.destroy()
        if self.owned:
            self.spark.stop()
