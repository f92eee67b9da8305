"""What prompted LFs cost, read from a store's LLM tables: per LF and per run.

>>> import tempfile, os
>>> from weaksup.store import VoteStore
>>> with VoteStore(os.path.join(tempfile.mkdtemp(), "s.duckdb")) as store:
...     usage_by_lf(store).height, usage_by_run(store).height
(0, 0)
"""

from __future__ import annotations

import polars as pl

from weaksup.store import VoteStore

__all__ = ["usage_by_lf", "usage_by_run"]


def usage_by_lf(store: VoteStore, run_id: int | None = None) -> pl.DataFrame:
    """Per-LF totals (of one run, or of all runs), one row per run and LF version: requests, cache
    hits, tokens, failures, malformed and off-label answers, skipped prompts, request seconds."""
    with store.llm_cache() as cache:
        return cache.usage_by_lf(run_id)


def usage_by_run(store: VoteStore) -> pl.DataFrame:
    """Per-run totals: the LF counters summed, and the wall time of the run's LLM work."""
    with store.llm_cache() as cache:
        return cache.usage_by_run()
