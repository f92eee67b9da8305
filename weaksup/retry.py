"""Re-apply LFs to the examples they failed on: ``weaksup run --retry-failed``.

An LF that raised on an example, or whose prompt the server refused (an HTTP 400 does not pass
by itself, so it is not retried within a run), abstains there for good: its watermark has moved
past the example.  Once the cause is fixed (the server, a resource the LF reads), this asks each
current LF version again on the live examples it has an error on, and replaces those error rows
with the new votes (and the errors still raised) in one transaction; watermarks stay.  Prompted
LFs answer from the cache where they can, so only the failed prompts are sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from weaksup.apply import ApplyContext, apply_chunk, outputs_to_frames, prepare_lfs
from weaksup.data import ID
from weaksup.store import VoteStore


@dataclass(frozen=True)
class Retried:
    """Per LF name: how many failed examples were asked again, and how many still fail."""

    asked: dict[str, int]
    still_failing: dict[str, int]


def retry_failed(
    store: VoteStore,
    dataset: str,
    lfs: Sequence[Any],
    frame: pl.DataFrame,
    ex_keys: np.ndarray,
    *,
    cardinality: int,
    run_id: int | None = None,
    state: dict[str, Any] | None = None,
) -> Retried:
    """Ask each LF of ``lfs`` again on the examples of ``frame`` (whose store keys are ``ex_keys``)
    it has an error on, and store what it says now (see the module docstring)."""
    lfs = prepare_lfs(lfs)
    failed = store.failed_keys(dataset, [(lf.name, lf.version) for lf in lfs])
    ctx = ApplyContext(cardinality, False, store=store, run_id=run_id, progress=False,
                       state={} if state is None else state)  # fmt: skip
    asked: dict[str, int] = {}
    still: dict[str, int] = {}
    for lf in lfs:
        keys = failed.get((lf.name, lf.version))
        if keys is None:
            continue
        rows = np.flatnonzero(np.isin(ex_keys, keys))
        chunk = frame[rows]
        outputs = apply_chunk([lf], chunk, ctx)
        votes, errors = outputs_to_frames([lf], outputs, chunk[ID], ex_keys[rows], run_id)
        done = ex_keys[rows][: outputs[0].processed]  # an LF that stopped (a budget) keeps the rest for next time
        retried = pl.DataFrame({"lf_name": lf.name, "lf_version": lf.version, "ex_key": done})
        store.replace_failures(dataset, retried, votes.filter(pl.col("ex_key").is_in(done.tolist())),
                               errors.filter(pl.col("ex_key").is_in(done.tolist())))  # fmt: skip
        asked[lf.name] = len(done)
        still[lf.name] = int(errors.filter(pl.col("ex_key").is_in(done.tolist())).height)
    return Retried(asked, still)
