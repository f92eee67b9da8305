"""Apply LFs to a polars frame, in chunks, in memory or into the vote store.

>>> import polars as pl
>>> from weaksup.lf import labeling_function, ABSTAIN
>>> @labeling_function()
... def short(x):
...     return 0 if len(x.text) < 5 else ABSTAIN
>>> df = pl.DataFrame({"example_id": ["a", "b"], "text": ["hi", "a long comment"]})
>>> result = apply_lfs([short], df, cardinality=2, progress=False)
>>> result.votes.to_dense().tolist()
[[0], [-1]]

Application is fault tolerant by default: an LF that raises on an example
records an error row (LF, example id, exception) and abstains there; the other
votes are kept.  With ``strict=True`` the first exception stops the run with an
:class:`LFApplicationError` naming the LF and the example.  Set-up mistakes
(reading a missing column, returning a value outside the label space) always
stop the run.

LFs are grouped by ``lf.kind`` and each kind has one batch function in
:data:`BATCH_APPLIERS`: row-wise Python LFs loop over rows; other kinds
(vectorized expressions, prompted LLM LFs) bring their own batch function with
the same signature, so one LF set can mix them.

:func:`apply_to_store` reads examples from an :class:`~weaksup.examples.ExampleSource`
(a frame in memory, or the store itself for sources larger than memory) and runs
row-wise and vectorized LFs on an engine (:mod:`weaksup.engines`: serial, worker
processes, Dask); it commits every vote itself.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from weaksup.data import ID
from weaksup.examples import ExampleSource, InMemoryExamples
from weaksup.lf import MissingColumnError, Row, as_labeling_function, check_unique_names
from weaksup.vote_checks import CHECKS, VOTE_COLUMN, LFApplicationError
from weaksup.votes import ABSTAIN, SparseVotes

if TYPE_CHECKING:
    from weaksup.engines import Engine
    from weaksup.store import VoteStore

DEFAULT_CHUNK_SIZE = 20_000
"""Rows per committed chunk of :func:`apply_lfs` and :func:`apply_to_store` unless the caller says."""
CHUNK_ROWS = 100_000
"""Rows per committed chunk of :func:`apply_to_store` with ``chunk_size=None`` (a pipeline's default),
for LF kinds not in :data:`KIND_CHUNK_ROWS`: seconds of row-wise work, so a crash loses little."""
KIND_CHUNK_ROWS: dict[str, int] = {}
"""Per LF kind that is cheap per row, the rows per committed chunk with ``chunk_size=None``: each
commit costs tens of milliseconds, which at 100k rows would be a third of a vectorized LF's work.
Kind modules register theirs (e.g. ``weaksup.vectorized``); a group of LFs uses its smallest."""


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
    """What a batch function may need beyond the chunk: label space, strictness and,
    for kinds that cache (prompted LFs), the store and run."""

    cardinality: int
    strict: bool = False
    store: VoteStore | None = None
    run_id: int | None = None
    progress: bool = True
    state: dict[str, Any] = field(default_factory=dict)
    """Per-run state a kind keeps across chunks (e.g. an LLM budget), keyed by kind."""


BatchApplier = Callable[[Sequence[Any], pl.DataFrame, ApplyContext], list[LFOutput]]


def _apply_row_lfs(lfs: Sequence[Any], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
    """Row-wise Python LFs: build the chunk's rows once, call each LF on each row."""
    rows = [Row(r) for r in chunk.iter_rows(named=True)]
    ids = chunk[ID]
    outputs = []
    for lf in lfs:
        check = CHECKS[lf.label_type]
        votes: list[Any] = [None] * len(rows)
        errors: list[tuple[int, BaseException]] = []
        for i, row in enumerate(rows):
            try:
                value = lf(row.copy() if lf._pre else row)
            except MissingColumnError as exc:
                raise LFApplicationError(
                    f"LF {lf.name!r} reads column {exc.column!r}, which the dataset does not have "
                    f"(example {ids[i]!r}); columns are {exc.columns}. Fix the LF or add the column."
                ) from None
            except Exception as exc:  # an LF bug on one example: record it and abstain
                if ctx.strict:
                    raise LFApplicationError(
                        f"LF {lf.name!r} raised {type(exc).__name__} on example {ids[i]!r}: {exc}"
                    ) from exc
                errors.append((i, exc))
                continue
            votes[i] = check(lf.name, value, ids[i], ctx.cardinality)
        if lf.label_type == "categorical":
            labels = np.array([ABSTAIN if v is None else v for v in votes], dtype=np.int32)
            outputs.append(LFOutput(labels, None, errors))
        else:
            outputs.append(LFOutput(np.full(len(rows), ABSTAIN, np.int32), None, errors, values=votes))
    return outputs


BATCH_APPLIERS: dict[str, BatchApplier] = {"row": _apply_row_lfs}
"""Batch function for each LF kind.  A module defining a new kind registers its
function here when imported (an LF of that kind cannot exist before)."""


def _by_kind(lfs: Sequence[Any]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for j, lf in enumerate(lfs):
        if lf.kind not in BATCH_APPLIERS:
            raise ValueError(f"LF {lf.name!r} has kind {lf.kind!r}, which no applier handles")
        groups.setdefault(lf.kind, []).append(j)
    return groups


def apply_chunk(lfs: Sequence[Any], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
    """Every LF's output on one chunk, in ``lfs`` order."""
    outputs: list[LFOutput | None] = [None] * len(lfs)
    for kind, idx in _by_kind(lfs).items():
        for j, out in zip(idx, BATCH_APPLIERS[kind]([lfs[j] for j in idx], chunk, ctx)):
            outputs[j] = out
    return outputs  # type: ignore[return-value]


def prepare_lfs(lfs: Sequence[Any]) -> list[Any]:
    """Wrap Snorkel LFs and reject duplicate names."""
    prepared = [as_labeling_function(lf) for lf in lfs]
    if not prepared:
        raise ValueError("no labeling functions given")
    check_unique_names(prepared)
    return prepared


def outputs_to_frames(
    lfs: Sequence[Any], outputs: Sequence[LFOutput], chunk_ids: pl.Series, keys: np.ndarray, run_id: int | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Votes (non-abstains only) and error rows of one chunk, keyed by ``keys`` (one per row)."""
    votes, errors = [], []
    for lf, out in zip(lfs, outputs):
        if out.values is None:
            hit = np.flatnonzero(out.labels != ABSTAIN)
            column = pl.Series("label", out.labels[hit], dtype=pl.Int32)
        else:
            hit = np.array([i for i, v in enumerate(out.values) if v is not None], dtype=np.int64)
            column = pl.Series(VOTE_COLUMN[lf.label_type], [out.values[i] for i in hit])
        votes.append(
            pl.DataFrame(
                {
                    "lf_name": pl.repeat(lf.name, len(hit), dtype=pl.String, eager=True),
                    "lf_version": pl.repeat(lf.version, len(hit), dtype=pl.String, eager=True),
                    "ex_key": keys[hit].astype(np.int64),
                    column.name: column,
                    "confidence": (
                        out.confidence[hit].astype(np.float64)
                        if out.confidence is not None
                        else np.full(len(hit), np.nan)
                    ),
                }
            ).with_columns(pl.col("confidence").fill_nan(None))
        )
        for i, exc in out.errors:
            errors.append(
                {
                    "run_id": run_id,
                    "lf_name": lf.name,
                    "lf_version": lf.version,
                    "ex_key": int(keys[i]),
                    "example_id": str(chunk_ids[i]),
                    "error_type": type(exc).__name__,
                    "message": "".join(traceback.format_exception_only(exc)).strip(),
                }
            )
    schema = {
        "run_id": pl.Int64, "lf_name": pl.String, "lf_version": pl.String, "ex_key": pl.Int64,
        "example_id": pl.String, "error_type": pl.String, "message": pl.String,
    }  # fmt: skip
    return pl.concat(votes, how="diagonal"), pl.DataFrame(errors, schema=schema)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@dataclass
class ApplyResult:
    """In-memory application result: the categorical votes as :class:`SparseVotes`,
    the LF error rows, and ``table``: every vote of every label type, one row per
    non-abstain vote (``row``, ``col``, ``lf_name``, ``lf_version`` and the vote
    columns ``label``/``value``/``ranking``/``payload``, ``confidence``)."""

    votes: SparseVotes
    errors: pl.DataFrame
    table: pl.DataFrame


def apply_lfs(
    lfs: Sequence[Any],
    frame: pl.DataFrame,
    *,
    cardinality: int,
    strict: bool = False,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    state: dict[str, Any] | None = None,
) -> ApplyResult:
    """Apply ``lfs`` to every row of ``frame`` (which needs ``example_id``), in memory."""
    lfs = prepare_lfs(lfs)
    _check_frame(frame)
    ctx = ApplyContext(cardinality, strict, progress=progress, state={} if state is None else state)
    rows = np.arange(frame.height)
    vote_frames, error_frames = [], []
    with tqdm(total=frame.height * len(lfs), desc="applying LFs", unit="vote", disable=_quiet(progress)) as bar:
        for sl in _chunks(frame.height, chunk_size):
            chunk = frame[sl]
            votes, errors = outputs_to_frames(lfs, apply_chunk(lfs, chunk, ctx), chunk[ID], rows[sl], None)
            vote_frames.append(votes)
            error_frames.append(errors)
            bar.update(chunk.height * len(lfs))
    col = {lf.name: j for j, lf in enumerate(lfs)}
    table = pl.concat(vote_frames, how="diagonal").rename({"ex_key": "row"})
    table = table.with_columns(pl.col("lf_name").replace_strict(col, return_dtype=pl.Int32).alias("col"))
    labeled = table.filter(pl.col("label").is_not_null()) if "label" in table.columns else table.clear()
    sparse = SparseVotes(
        rows=labeled["row"].to_numpy(),
        cols=labeled["col"].to_numpy(),
        labels=labeled["label"].to_numpy().astype(np.int32) if labeled.height else np.zeros(0, np.int32),
        n=frame.height,
        m=len(lfs),
        lf_names=tuple(col),
    )
    return ApplyResult(sparse, pl.concat(error_frames).drop("run_id", "ex_key"), table)


@dataclass
class StoreApplyStats:
    """How much work a store-backed application did, per LF."""

    applied: dict[str, int]
    errors: dict[str, int]


def apply_to_store(
    store: VoteStore,
    dataset: str,
    lfs: Sequence[Any],
    frame: pl.DataFrame | ExampleSource,
    ex_keys: np.ndarray | None = None,
    *,
    cardinality: int,
    run_id: int | None = None,
    strict: bool = False,
    progress: bool = True,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    state: dict[str, Any] | None = None,
    engine: Engine | None = None,
) -> StoreApplyStats:
    """Apply each LF version to the examples it has not seen yet.

    The examples are ``frame`` with ``ex_keys``, the store keys of its rows (from
    :meth:`VoteStore.sync_examples`), or an :class:`~weaksup.examples.ExampleSource`
    (e.g. :class:`~weaksup.examples.StoredExamples` for a source larger than memory).
    Each LF version resumes from its watermark, so unchanged LFs only see new or
    changed examples, and a new LF version sees every example.  Votes are committed
    chunk by chunk, each chunk atomically with its watermark: an interrupted run
    loses at most one chunk and the next run carries on from there.  ``state`` is the
    per-run state LF kinds share across calls (e.g. one LLM budget for the whole run).
    ``engine`` (a :class:`weaksup.engines.Engine`; default serial) runs row-wise and
    vectorized LFs; prompted LFs always run here, and this process commits every vote.
    ``chunk_size=None`` commits each group of LFs (those resuming from one watermark) in chunks of
    the smallest of their kinds' :data:`KIND_CHUNK_ROWS` (default :data:`CHUNK_ROWS`).
    """
    from weaksup.engines import LFSet, SerialEngine, apply_lf_set  # the engines build on this module

    lfs = prepare_lfs(lfs)
    if isinstance(frame, pl.DataFrame):
        _check_frame(frame)
        if ex_keys is None:
            raise ValueError("apply_to_store needs ex_keys with a frame: pass sync_examples(...).ex_keys")
        source: ExampleSource = InMemoryExamples(frame, ex_keys)
    else:
        source = frame
    ctx = ApplyContext(
        cardinality, strict, store=store, run_id=run_id, progress=progress, state={} if state is None else state
    )
    versions = [(lf.name, lf.version) for lf in lfs]
    store.register_lfs([(lf.name, lf.version, lf.kind, lf.label_type) for lf in lfs], run_id)
    groups: dict[int, list[int]] = {}
    for j, mark in enumerate(store.watermarks(dataset, versions)):
        groups.setdefault(mark, []).append(j)
    applied = {lf.name: 0 for lf in lfs}
    n_errors = {lf.name: 0 for lf in lfs}
    lfset = LFSet(lfs, cardinality, strict, run_id)
    total = sum(source.count_after(mark) * len(idx) for mark, idx in groups.items())
    session = (engine or SerialEngine()).open(lfset, ctx)
    try:
        with tqdm(total=total, desc="applying LFs", unit="vote", disable=_quiet(progress)) as bar:
            for mark, idx in groups.items():
                remote = [j for j in idx if session.takes(lfs[j])]
                sent: deque[tuple[pl.DataFrame, np.ndarray]] = deque()

                size = chunk_size or min(KIND_CHUNK_ROWS.get(lfs[j].kind, CHUNK_ROWS) for j in idx)

                def feed(mark: int = mark, size: int = size) -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
                    for chunk, keys in source.chunks_after(mark, size):
                        sent.append((chunk, keys))
                        yield chunk, keys

                results = session.map(remote, feed()) if remote else (None for _ in feed())
                active = list(idx)
                through_key = mark  # the active LFs' watermark
                for got in results:
                    chunk, keys = sent.popleft()
                    local = [j for j in active if j not in remote]
                    if not active:
                        break
                    parts = [got] if got is not None else []
                    done = {j: len(keys) for j in remote}
                    if local:  # LFs the engine does not take (prompted LFs), with the run's context
                        mine = apply_lf_set(lfset, local, chunk, keys, ctx)
                        parts.append(mine)
                        done |= {j: len(keys) if p is None else p for j, p in zip(local, mine.processed)}
                    votes = pl.concat([p.votes for p in parts], how="diagonal")
                    errors = pl.concat([p.errors for p in parts])
                    _commit(store, dataset, versions, done, keys, through_key, votes, errors)
                    for j, count in done.items():
                        applied[lfs[j].name] += count
                    for name, count in errors.group_by("lf_name").len().iter_rows():
                        n_errors[name] += count
                    bar.update(len(keys) * len(active))
                    active = [j for j in active if done[j] == len(keys)]
                    through_key = int(keys[-1])
    finally:
        session.close()
    return StoreApplyStats(applied, n_errors)


def _commit(
    store: VoteStore, dataset: str, versions: list[tuple[str, str]], done: dict[int, int], keys: np.ndarray,
    through_key: int, votes: pl.DataFrame, errors: pl.DataFrame,
) -> None:  # fmt: skip
    """Commit one chunk.  LFs that stopped early (an LLM budget, a lasting fault) commit only
    the prefix they processed, so their watermark never passes rows they did not see; they
    sit out the rest.  An LF that stopped at the chunk's first row still records its errors."""
    for through, members in _by_through(done).items():
        names = [versions[j] for j in members]
        mine = [n for n, _ in names]
        mine_errors = errors.filter(pl.col("lf_name").is_in(mine))
        if through == 0 and mine_errors.is_empty():
            continue
        last = int(keys[through - 1]) if through else through_key
        store.commit_votes(
            dataset, names, last,
            votes.filter(pl.col("lf_name").is_in(mine) & (pl.col("ex_key") <= last)),
            mine_errors,
        )  # fmt: skip


def _by_through(done: dict[int, int]) -> dict[int, list[int]]:
    """LF indices grouped by how many rows of the chunk they processed."""
    groups: dict[int, list[int]] = {}
    for j, count in done.items():
        groups.setdefault(count, []).append(j)
    return groups


def _check_frame(frame: pl.DataFrame) -> None:
    if frame.height == 0:
        raise ValueError("dataset is empty: there are no examples to apply LFs to")
    if ID not in frame.columns:
        raise ValueError(f"frame has no {ID!r} column; load it with weaksup.data or call with_example_ids")


def _quiet(progress: bool) -> bool | None:
    """tqdm's ``disable``: off when asked, else automatic (hidden without a TTY, as under cron)."""
    return None if progress else True
