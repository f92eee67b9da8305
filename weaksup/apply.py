"""Apply LFs to a polars frame, in chunks, in memory (:mod:`weaksup.apply_store`: into the vote store).

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

:func:`weaksup.apply_store.apply_to_store` applies the same LF set into the vote store,
from a frame or from the store itself, on an engine, committing chunk by chunk.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from weaksup.data import ID
from weaksup.lf import MissingColumnError, Row, as_labeling_function, check_unique_names
from weaksup.vote_checks import CHECKS, VOTE_COLUMN, LFApplicationError
from weaksup.votes import ABSTAIN, SparseVotes

if TYPE_CHECKING:
    from weaksup.store import VoteStore

DEFAULT_CHUNK_SIZE = 20_000
"""Rows per chunk of :func:`apply_lfs` and :func:`weaksup.apply_store.apply_to_store` unless the caller says."""


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
    check_frame(frame)
    ctx = ApplyContext(cardinality, strict, progress=progress, state={} if state is None else state)
    rows = np.arange(frame.height)
    vote_frames, error_frames = [], []
    with tqdm(total=frame.height * len(lfs), desc="applying LFs", unit="vote", disable=progress_disabled(progress)) as bar:
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


def check_frame(frame: pl.DataFrame) -> None:
    """Refuse a frame LFs cannot be applied to: no rows, or no example ids."""
    if frame.height == 0:
        raise ValueError("dataset is empty: there are no examples to apply LFs to")
    if ID not in frame.columns:
        raise ValueError(f"frame has no {ID!r} column; load it with weaksup.data or call with_example_ids")


def progress_disabled(progress: bool) -> bool | None:
    """tqdm's ``disable``: off when asked, else automatic (hidden without a TTY, as under cron)."""
    return None if progress else True
