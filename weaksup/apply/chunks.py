"""Apply LFs to chunks of examples in memory: one chunk's votes, and :func:`apply_lfs` over a frame.

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
:class:`~weaksup.apply.checks.LFApplicationError` naming the LF and the example.
Set-up mistakes (reading a missing column, returning a value outside the label
space) always stop the run.

:func:`apply_chunk` asks each LF's kind (:mod:`weaksup.apply.kinds`) to apply that
kind's LFs of the set together, so one LF set can mix kinds.
:func:`weaksup.apply.apply_to_store` applies the same LF set into the vote store.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from weaksup.apply.checks import VOTE_COLUMN
from weaksup.apply.kinds import ApplyContext, LabelingFunctionLike, LFOutput, kinds_of
from weaksup.batches import APPLY_CHUNK_ROWS
from weaksup.data import ID
from weaksup.lf import as_labeling_function, check_unique_names
from weaksup.votes import ABSTAIN, SparseVotes

__all__ = ["ApplyResult", "apply_chunk", "apply_lfs", "check_frame", "outputs_to_frames", "prepare_lfs",
           "progress_disabled"]  # fmt: skip


def apply_chunk(lfs: Sequence[LabelingFunctionLike], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
    """Every LF's output on one chunk, in ``lfs`` order."""
    outputs: list[LFOutput | None] = [None] * len(lfs)
    for kind, idx in kinds_of(lfs).items():
        for j, out in zip(idx, kind.apply_batch([lfs[j] for j in idx], chunk, ctx)):
            outputs[j] = out
    return outputs  # type: ignore[return-value]


def prepare_lfs(lfs: Sequence[Any]) -> list[LabelingFunctionLike]:
    """Wrap Snorkel LFs and reject duplicate names."""
    prepared = [as_labeling_function(lf) for lf in lfs]
    if not prepared:
        raise ValueError("no labeling functions given")
    check_unique_names(prepared)
    return prepared


def outputs_to_frames(
    lfs: Sequence[LabelingFunctionLike], outputs: Sequence[LFOutput], chunk_ids: pl.Series, keys: np.ndarray, run_id: int | None
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
    frame: Any,
    *,
    cardinality: int,
    strict: bool = False,
    progress: bool = True,
    chunk_size: int = APPLY_CHUNK_ROWS,
    state: dict[str, Any] | None = None,
    classes: Sequence[str] = (),
) -> ApplyResult:
    """Apply ``lfs`` to every row of ``frame`` (which needs ``example_id``), in memory.  A pandas
    DataFrame (Snorkel users' habit) is read through polars; without an ``example_id`` column its
    rows get ids as :func:`weaksup.data.with_example_ids` gives them.  ``classes`` names the labels, for
    label types whose LFs may vote names (multi-label)."""
    lfs = prepare_lfs(lfs)
    frame = from_pandas(frame)
    check_frame(frame)
    ctx = ApplyContext(cardinality, strict, progress=progress, state={} if state is None else state, classes=tuple(classes))
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


def from_pandas(frame: Any) -> pl.DataFrame:
    """``frame`` as a polars DataFrame: a pandas one converted (pandas is never imported here, so it
    stays optional), with example ids added when it has none; a polars one as it is."""
    if isinstance(frame, pl.DataFrame) or not type(frame).__module__.startswith("pandas"):
        return frame
    from weaksup.data import with_example_ids

    converted = pl.from_pandas(frame)
    return converted if ID in converted.columns else with_example_ids(converted)


def check_frame(frame: pl.DataFrame) -> None:
    """Refuse a frame LFs cannot be applied to: no rows, or no example ids."""
    if frame.height == 0:
        raise ValueError("dataset is empty: there are no examples to apply LFs to")
    if ID not in frame.columns:
        raise ValueError(f"frame has no {ID!r} column; load it with weaksup.data or call with_example_ids")


def progress_disabled(progress: bool) -> bool | None:
    """tqdm's ``disable``: off when asked, else automatic (hidden without a TTY, as under cron)."""
    return None if progress else True
