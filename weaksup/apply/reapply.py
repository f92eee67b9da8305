"""Re-apply LFs to the examples they failed on: ``weaksup run --reapply-failed``.

An LF that raised on an example, or whose prompt the server refused (an HTTP 400 does not pass
by itself, so it is not retried within a run), abstains there for good: its watermark has moved
past the example.  Once the cause is fixed (the server, a resource the LF reads), this asks each
current LF version again on the live examples it has an error on, and replaces those error rows
with the new votes (and the errors still raised), a chunk at a time, each in one transaction;
watermarks stay.  Prompted LFs answer from the cache where they can, so only the failed prompts
are sent again.  The examples come from the same source as a first application: a frame in
memory, or the store itself (a streamed run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from weaksup.apply.chunks import apply_chunk, outputs_to_frames, prepare_lfs
from weaksup.apply.kinds import ApplyContext, kind_of
from weaksup.apply.store_applier import example_source
from weaksup.data import ID
from weaksup.examples import ExampleSource

if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = ["Reapplied", "reapply_failed"]


@dataclass(frozen=True)
class Reapplied:
    """Per LF name: how many failed examples were asked again, and how many still fail."""

    asked: dict[str, int]
    still_failing: dict[str, int]


def reapply_failed(
    store: VoteStore,
    dataset: str,
    lfs: Sequence[Any],
    examples: pl.DataFrame | ExampleSource,
    ex_keys: np.ndarray | None = None,
    *,
    cardinality: int,
    run_id: int | None = None,
    state: dict[str, Any] | None = None,
    classes: Sequence[str] = (),
) -> Reapplied:
    """Ask each LF of ``lfs`` again on the live examples it has an error on, and store what it says
    now (see the module docstring).  ``examples`` is a frame whose store keys are ``ex_keys``, or an
    :class:`~weaksup.examples.ExampleSource`, as for :func:`weaksup.apply.apply_to_store` (and ``classes``)."""
    lfs = prepare_lfs(lfs)
    source = example_source(examples, ex_keys, "reapply_failed")
    failed = store.votes.failed_keys(dataset, [(lf.name, lf.version) for lf in lfs])
    ctx = ApplyContext(cardinality, False, store=store, run_id=run_id, progress=False,
                       state={} if state is None else state, classes=tuple(classes))  # fmt: skip
    asked: dict[str, int] = {}
    still: dict[str, int] = {}
    for lf in lfs:
        keys = failed.get((lf.name, lf.version))
        if keys is None:
            continue
        asked[lf.name] = still[lf.name] = 0
        for chunk, chunk_keys in source.chunks_of(keys, kind_of(lf).chunk_rows):
            outputs = apply_chunk([lf], chunk, ctx)
            votes, errors = outputs_to_frames([lf], outputs, chunk[ID], chunk_keys, run_id)
            done = chunk_keys[: outputs[0].processed]  # an LF that stopped (a budget) keeps the rest for next time
            retried = pl.DataFrame({"lf_name": lf.name, "lf_version": lf.version, "ex_key": done})
            mine = pl.col("ex_key").is_in(pl.Series(done).implode())
            store.votes.replace_failures(dataset, retried, votes.filter(mine), errors.filter(mine))
            asked[lf.name] += len(done)
            still[lf.name] += int(errors.filter(mine).height)
            if len(done) < len(chunk_keys):
                break
    return Reapplied(asked, still)
