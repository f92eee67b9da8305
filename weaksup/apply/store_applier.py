"""Apply LFs into the vote store: each LF version to the examples it has not seen, committed
chunk by chunk with its watermark.

:func:`apply_to_store` reads examples from an :class:`~weaksup.examples.ExampleSource` (a frame
in memory, or the store itself for sources larger than memory) and runs the LFs of portable kinds
(row-wise, vectorized) on an engine (:mod:`weaksup.engines`: serial, worker processes, Dask,
Spark); the other kinds (prompted LFs) run here, and this process commits every vote.  How one
chunk is applied is :mod:`weaksup.apply.chunks`'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from weaksup.apply.chunks import check_frame, prepare_lfs, progress_disabled
from weaksup.apply.kinds import ApplyContext, kind_of
from weaksup.batches import APPLY_CHUNK_ROWS
from weaksup.engines.base import ChunkVotes, Engine, EngineSession, LFSet, apply_lf_set
from weaksup.engines.serial import SerialEngine
from weaksup.examples import ExampleSource, InMemoryExamples

if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = ["StoreApplyStats", "apply_to_store", "example_source"]


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
    chunk_size: int | None = APPLY_CHUNK_ROWS,
    state: dict[str, Any] | None = None,
    engine: Engine | None = None,
    classes: Sequence[str] = (),
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
    ``engine`` (a :class:`weaksup.engines.Engine`; default serial) runs the LFs of portable kinds;
    the others always run here, and this process commits every vote.  ``chunk_size=None`` commits
    each group of LFs (those resuming from one watermark) in chunks of the smallest of their kinds'
    :attr:`~weaksup.apply.kinds.LFKind.chunk_rows`.  ``classes`` names the labels, for label types
    whose LFs may vote names (multi-label).
    """
    lfs = prepare_lfs(lfs)
    source = example_source(frame, ex_keys, "apply_to_store")
    ctx = ApplyContext(cardinality, strict, store=store, run_id=run_id, progress=progress,
                       state={} if state is None else state, classes=tuple(classes))  # fmt: skip
    versions = [(lf.name, lf.version) for lf in lfs]
    store.votes.register_lfs([(lf.name, lf.version, lf.kind, lf.label_type) for lf in lfs], run_id)
    groups: dict[int, list[int]] = {}
    for j, mark in enumerate(store.votes.watermarks(dataset, versions)):
        groups.setdefault(mark, []).append(j)
    lfset = LFSet(lfs, cardinality, strict, run_id, tuple(classes))
    total = sum(source.count_after(mark) * len(idx) for mark, idx in groups.items())
    session = (engine or SerialEngine()).open(lfset, ctx)
    try:
        with tqdm(total=total, desc="applying LFs", unit="vote", disable=progress_disabled(progress)) as bar:
            applier = _Applier(store, dataset, lfset, ctx, session, bar)
            for mark, idx in groups.items():
                applier.group(source, mark, idx, chunk_size or min(kind_of(lfs[j]).chunk_rows for j in idx))
    finally:
        session.close()
    return StoreApplyStats(applier.applied, applier.errors)


class _Applier:
    """One application's LF groups (LFs resuming from one watermark), chunk by chunk, committed."""

    def __init__(self, store: VoteStore, dataset: str, lfset: LFSet, ctx: ApplyContext, session: EngineSession,
                 bar: tqdm) -> None:  # fmt: skip
        self.store, self.dataset, self.lfset, self.ctx, self.session, self.bar = store, dataset, lfset, ctx, session, bar
        self.versions = [(lf.name, lf.version) for lf in lfset.lfs]
        self.applied = {lf.name: 0 for lf in lfset.lfs}
        self.errors = {lf.name: 0 for lf in lfset.lfs}

    def group(self, source: ExampleSource, mark: int, idx: list[int], size: int) -> None:
        """Apply LFs ``idx`` (all at watermark ``mark``) to the examples above it, ``size`` at a time:
        the engine's LFs on its workers, the others here; an LF that stops early sits out the rest."""
        remote = [j for j in idx if self.session.takes(self.lfset.lfs[j])]
        sent: deque[tuple[pl.DataFrame, np.ndarray]] = deque()

        def feed() -> Iterator[tuple[pl.DataFrame, np.ndarray]]:
            for chunk, keys in source.chunks_after(mark, size):
                sent.append((chunk, keys))
                yield chunk, keys

        results = self.session.map(remote, feed()) if remote else (None for _ in feed())
        active = list(idx)
        through_key = mark  # the active LFs' watermark
        for got in results:
            chunk, keys = sent.popleft()
            if not active:
                break
            done = self._chunk(got, [j for j in active if j not in remote], remote, chunk, keys, through_key)
            self.bar.update(len(keys) * len(active))
            active = [j for j in active if done[j] == len(keys)]
            through_key = int(keys[-1])

    def _chunk(self, got: ChunkVotes | None, local: list[int], remote: list[int], chunk: pl.DataFrame, keys: np.ndarray,
               through_key: int) -> dict[int, int]:  # fmt: skip
        """Commit one chunk's votes (the engine's, ``got``, and those of the ``local`` LFs, applied
        here with the run's context); how many rows each LF processed."""
        parts = [got] if got is not None else []
        done = {j: len(keys) for j in remote}
        if local:
            mine = apply_lf_set(self.lfset, local, chunk, keys, self.ctx)
            parts.append(mine)
            done |= {j: len(keys) if p is None else p for j, p in zip(local, mine.processed)}
        votes = pl.concat([p.votes for p in parts], how="diagonal")
        errors = pl.concat([p.errors for p in parts])
        _commit(self.store, self.dataset, self.versions, done, keys, through_key, votes, errors)
        for j, count in done.items():
            self.applied[self.lfset.lfs[j].name] += count
        for name, count in errors.group_by("lf_name").len().iter_rows():
            self.errors[name] += count
        return done


def example_source(frame: pl.DataFrame | ExampleSource, ex_keys: np.ndarray | None, caller: str) -> ExampleSource:
    """``frame`` with its store keys as a source, or the source given (``caller`` names the function
    for the message when a frame comes without keys)."""
    if not isinstance(frame, pl.DataFrame):
        return frame
    check_frame(frame)
    if ex_keys is None:
        raise ValueError(f"{caller} needs ex_keys with a frame: pass sync_examples(...).ex_keys")
    return InMemoryExamples(frame, ex_keys)


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
        store.votes.commit(
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
