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
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from weaksup.data import ID
from weaksup.lf import MissingColumnError, Row, as_labeling_function, check_unique_names
from weaksup.votes import ABSTAIN, SparseVotes

DEFAULT_CHUNK_SIZE = 20_000


class LFApplicationError(RuntimeError):
    """An LF failed in a way that stops the run (strict mode, or a set-up mistake)."""


@dataclass
class LFOutput:
    """One LF's votes on one chunk: ``labels`` per row (``-1`` = abstain), an optional
    per-vote ``confidence``, and ``(row, exception)`` pairs for rows where it raised."""

    labels: np.ndarray
    confidence: np.ndarray | None = None
    errors: list[tuple[int, BaseException]] = field(default_factory=list)


@dataclass
class ApplyContext:
    """What a batch function may need beyond the chunk: label space, strictness and,
    for kinds that cache (prompted LFs), the store and run."""

    cardinality: int
    strict: bool = False
    store: Any = None
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
        labels = np.full(len(rows), ABSTAIN, dtype=np.int32)
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
            labels[i] = _check_label(lf.name, value, ids[i], ctx.cardinality)
        outputs.append(LFOutput(labels, None, errors))
    return outputs


def _check_label(lf_name: str, value: Any, example_id: str, k: int) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if ABSTAIN <= value < k:
            return int(value)
        problem = f"{value}, outside the label space"
    else:
        problem = f"{value!r} of type {type(value).__name__}, not an int"
    raise LFApplicationError(
        f"LF {lf_name!r} returned {problem} on example {example_id!r}; an LF must return a class id "
        f"in 0..{k - 1} or ABSTAIN (-1)"
    )


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
        hit = np.flatnonzero(out.labels != ABSTAIN)
        votes.append(
            pl.DataFrame(
                {
                    "lf_name": pl.repeat(lf.name, len(hit), dtype=pl.String, eager=True),
                    "lf_version": pl.repeat(lf.version, len(hit), dtype=pl.String, eager=True),
                    "ex_key": keys[hit].astype(np.int64),
                    "label": out.labels[hit],
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
    return pl.concat(votes), pl.DataFrame(errors, schema=schema)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@dataclass
class ApplyResult:
    """In-memory application result: sparse votes and the LF error rows."""

    votes: SparseVotes
    errors: pl.DataFrame


def apply_lfs(
    lfs: Sequence[Any],
    frame: pl.DataFrame,
    *,
    cardinality: int,
    strict: bool = False,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ApplyResult:
    """Apply ``lfs`` to every row of ``frame`` (which needs ``example_id``), in memory."""
    lfs = prepare_lfs(lfs)
    _check_frame(frame)
    ctx = ApplyContext(cardinality, strict, progress=progress)
    rows = np.arange(frame.height)
    vote_frames, error_frames = [], []
    with tqdm(total=frame.height * len(lfs), desc="applying LFs", unit="vote", disable=_quiet(progress)) as bar:
        for sl in _chunks(frame.height, chunk_size):
            chunk = frame[sl]
            votes, errors = outputs_to_frames(lfs, apply_chunk(lfs, chunk, ctx), chunk[ID], rows[sl], None)
            vote_frames.append(votes)
            error_frames.append(errors)
            bar.update(chunk.height * len(lfs))
    votes = pl.concat(vote_frames)
    col = {lf.name: j for j, lf in enumerate(lfs)}
    sparse = SparseVotes(
        rows=votes["ex_key"].to_numpy(),
        cols=votes["lf_name"].replace_strict(col, return_dtype=pl.Int32).to_numpy(),
        labels=votes["label"].to_numpy().astype(np.int32),
        n=frame.height,
        m=len(lfs),
        lf_names=tuple(col),
    )
    return ApplyResult(sparse, pl.concat(error_frames).drop("run_id", "ex_key"))


@dataclass
class StoreApplyStats:
    """How much work a store-backed application did, per LF."""

    applied: dict[str, int]
    errors: dict[str, int]


def apply_to_store(
    store: Any,
    dataset: str,
    lfs: Sequence[Any],
    frame: pl.DataFrame,
    ex_keys: np.ndarray,
    *,
    cardinality: int,
    run_id: int | None = None,
    strict: bool = False,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> StoreApplyStats:
    """Apply each LF version to the examples of ``frame`` it has not seen yet.

    ``ex_keys`` are the store keys of ``frame``'s rows (from
    :meth:`VoteStore.sync_examples`).  Each LF version resumes from its
    watermark, so unchanged LFs only see new or changed examples, and a new
    LF version sees every example.  Votes are committed chunk by chunk, each
    chunk atomically with its watermark: an interrupted run loses at most one
    chunk and the next run carries on from there.
    """
    lfs = prepare_lfs(lfs)
    _check_frame(frame)
    ctx = ApplyContext(cardinality, strict, store=store, run_id=run_id, progress=progress)
    versions = [(lf.name, lf.version) for lf in lfs]
    store.register_lfs([(lf.name, lf.version, lf.kind, lf.label_type) for lf in lfs], run_id)
    order = np.argsort(ex_keys, kind="stable")
    sorted_keys = ex_keys[order]
    groups: dict[int, list[int]] = {}
    for j, mark in enumerate(store.watermarks(dataset, versions)):
        groups.setdefault(mark, []).append(j)
    plan = [(mark, idx, order[np.searchsorted(sorted_keys, mark, side="right") :]) for mark, idx in groups.items()]
    applied = {lf.name: 0 for lf in lfs}
    n_errors = {lf.name: 0 for lf in lfs}
    total = sum(len(rows) * len(idx) for _, idx, rows in plan)
    with tqdm(total=total, desc="applying LFs", unit="vote", disable=_quiet(progress)) as bar:
        for _, idx, rows in plan:
            group = [lfs[j] for j in idx]
            for sl in _chunks(len(rows), chunk_size):
                chunk_rows = rows[sl]
                chunk = frame[chunk_rows]
                keys = ex_keys[chunk_rows]
                votes, errors = outputs_to_frames(group, apply_chunk(group, chunk, ctx), chunk[ID], keys, run_id)
                store.commit_votes(dataset, [versions[j] for j in idx], int(keys.max()), votes, errors)
                for lf in group:
                    applied[lf.name] += len(chunk_rows)
                for name, count in errors.group_by("lf_name").len().iter_rows():
                    n_errors[name] += count
                bar.update(len(chunk_rows) * len(group))
    return StoreApplyStats(applied, n_errors)


def _check_frame(frame: pl.DataFrame) -> None:
    if frame.height == 0:
        raise ValueError("dataset is empty: there are no examples to apply LFs to")
    if ID not in frame.columns:
        raise ValueError(f"frame has no {ID!r} column; load it with weaksup.data or call with_example_ids")


def _quiet(progress: bool) -> bool | None:
    """tqdm's ``disable``: off when asked, else automatic (hidden without a TTY, as under cron)."""
    return None if progress else True
