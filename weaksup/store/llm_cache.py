"""The response cache and usage accounting, as tables in the vote store's DuckDB file.

``llm_cache(cache_key, model, prompt, params, response, prompt_tokens, completion_tokens, run_id, created_at)``
    One row per distinct request ever answered.  ``cache_key`` hashes the model,
    the full prompt text (the chat messages) and the decoding parameters, which
    are stored beside it; ``response`` is the part of the answer the LFs read
    (content, finish reason, first-token ``top_logprobs``) as JSON.  Failed
    requests are not cached: the next application of that prompt asks again.
``llm_usage(run_id, lf_name, lf_version, model, <counters>, request_seconds, recorded_at)``
    Per-LF cost, appended as deltas each time responses are flushed: sum by run
    and LF to read it (:func:`usage_by_lf`).  The counters are ``requests``,
    ``cache_hits``, ``prompt_tokens``, ``completion_tokens``, ``failures``,
    ``malformed``, ``off_label`` and ``skipped``.  ``requests`` counts HTTP attempts
    (retries included), ``request_seconds`` the time those requests spent in
    flight (they overlap under concurrency), ``skipped`` prompts not sent
    because the budget ran out.
``llm_batches(run_id, started_at, seconds, prompts, requests, budget_exhausted)``
    One row per applied chunk: the wall time of the run's LLM work (:func:`usage_by_run`).
``llm_failures(cache_key, runs, last_run, error_type, failed_at)``
    Requests whose last try failed on a fault that may pass (rate limit, server error,
    timeout), and in how many runs (:func:`record_failures`): the runner asks them again
    in later runs, up to a limit.

The tables are part of the store's versioned schema (:data:`weaksup.store.schema.LLM_TABLES`);
writes are bulk inserts from Arrow, each flush in one transaction.  The LLM code reads and writes
them through an :class:`LLMCache` handle (``VoteStore.llm_cache()``, or :meth:`LLMCache.in_memory`
without a store), never through the store's connection.

>>> key = cache_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0.0})
>>> with LLMCache.in_memory() as cache:
...     cache.flush(None, [CachedResponse(key, "m", '[{"role": "user", "content": "hi"}]', '{"temperature": 0.0}',
...                                       {"content": "Yes"}, 3, 1)])
...     cache.get([key, "missing"])[key]["content"]
'Yes'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from weaksup.store.schema import LLM_TABLES

__all__ = ["COUNTERS", "CachedResponse", "LLMCache", "UsageDelta", "cache_key"]


COUNTERS = (
    "requests", "cache_hits", "prompt_tokens", "completion_tokens",
    "failures", "malformed", "off_label", "skipped",
)  # fmt: skip


def cache_key(model: str, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> str:
    """SHA-256 of the model, the full prompt (every message) and the decoding parameters."""
    blob = json.dumps({"model": model, "messages": list(messages), "params": dict(params)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    """One answered request, as stored."""

    key: str
    model: str
    prompt: str
    params: str
    response: dict[str, Any]
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass
class UsageDelta:
    """Counters for one LF version since the last flush."""

    lf_name: str
    lf_version: str
    model: str
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    malformed: int = 0
    off_label: int = 0
    skipped: int = 0
    request_seconds: float = 0.0

    def is_zero(self) -> bool:
        return not any(getattr(self, c) for c in COUNTERS) and not self.request_seconds


def _responses_table(responses: Sequence[CachedResponse], run_id: int | None) -> pa.Table:
    return pa.table(
        {
            "cache_key": [r.key for r in responses],
            "model": [r.model for r in responses],
            "prompt": [r.prompt for r in responses],
            "params": [r.params for r in responses],
            "response": [json.dumps(r.response) for r in responses],
            "prompt_tokens": pa.array([r.prompt_tokens for r in responses], pa.int32()),
            "completion_tokens": pa.array([r.completion_tokens for r in responses], pa.int32()),
            "run_id": pa.array([run_id] * len(responses), pa.int64()),
            "created_at": pa.array([datetime.now(UTC)] * len(responses), pa.timestamp("us", tz="UTC")),
        }
    )


class LLMCache:
    """A handle on the LLM tables (see the module docstring): a cursor of its own on the store's
    database, or a private in-memory database.  Close it after use (or use it as a context manager)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    @classmethod
    def in_memory(cls) -> LLMCache:
        """Empty LLM tables in a private in-memory database: a cache for LFs applied without a store."""
        con = duckdb.connect()
        con.execute(LLM_TABLES)
        return cls(con)

    def cursor(self) -> LLMCache:
        """Another handle on the same database (its own cursor: a reader beside a writer)."""
        return LLMCache(self._con.cursor())

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> LLMCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The cached response of each key that has one."""
        wanted = pa.table({"cache_key": pa.array(list(dict.fromkeys(keys)), pa.string())})
        self._con.register("llm_wanted", wanted)
        try:
            rows = self._con.execute(
                "SELECT c.cache_key, c.response FROM llm_cache c JOIN llm_wanted w USING (cache_key)"
            ).fetchall()
        finally:
            self._con.unregister("llm_wanted")
        return {key: json.loads(resp) for key, resp in rows}

    def _insert_responses(self, table: pa.Table) -> None:
        """Add responses not cached yet (inside the caller's transaction)."""
        self._con.register("llm_new", table)
        try:
            self._con.execute("INSERT INTO llm_cache SELECT * FROM llm_new ON CONFLICT (cache_key) DO NOTHING")
        finally:
            self._con.unregister("llm_new")

    def flush(
        self,
        run_id: int | None,
        responses: Sequence[CachedResponse] = (),
        usage: Iterable[UsageDelta] = (),
    ) -> None:
        """Write new responses (keys already cached are left alone) and usage deltas in one transaction."""
        rows = [d for d in usage if not d.is_zero()]
        if not rows and not responses:
            return
        now = datetime.now(UTC)
        self._con.execute("BEGIN")
        try:
            if responses:
                self._insert_responses(_responses_table(responses, run_id))
            if rows:
                table = pa.table(
                    {
                        "run_id": pa.array([run_id] * len(rows), pa.int64()),
                        "lf_name": [d.lf_name for d in rows],
                        "lf_version": [d.lf_version for d in rows],
                        "model": [d.model for d in rows],
                        **{c: pa.array([getattr(d, c) for d in rows], pa.int64()) for c in COUNTERS},
                        "request_seconds": [d.request_seconds for d in rows],
                        "recorded_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
                    }
                )
                self._con.register("llm_new_usage", table)
                try:
                    self._con.execute("INSERT INTO llm_usage SELECT * FROM llm_new_usage")
                finally:
                    self._con.unregister("llm_new_usage")
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def record_failures(self, run_id: int, failed: Mapping[str, str]) -> dict[str, int]:
        """Count a failed run for each key of ``failed`` (key -> error class), once per run, and
        return each of those keys' number of failed runs so far."""
        if not failed:
            return {}
        table = pa.table(
            {"cache_key": pa.array(list(failed), pa.string()), "error_type": pa.array(list(failed.values()), pa.string())}
        )
        self._con.register("llm_failed", table)
        try:
            self._con.execute(
                """
                INSERT INTO llm_failures SELECT cache_key, 1, ?, error_type, ? FROM llm_failed
                ON CONFLICT (cache_key) DO UPDATE SET
                    runs = llm_failures.runs + CASE WHEN llm_failures.last_run = excluded.last_run THEN 0 ELSE 1 END,
                    last_run = excluded.last_run, error_type = excluded.error_type, failed_at = excluded.failed_at
                """,
                [run_id, datetime.now(UTC)],
            )
            rows = self._con.execute("SELECT cache_key, runs FROM llm_failures JOIN llm_failed USING (cache_key)").fetchall()
        finally:
            self._con.unregister("llm_failed")
        return dict(rows)

    def record_batch(
        self,
        run_id: int | None,
        started_at: datetime,
        seconds: float,
        prompts: int,
        requests: int,
        budget_exhausted: bool,
    ) -> None:
        """Record one applied chunk's LLM wall time."""
        self._con.execute(
            "INSERT INTO llm_batches VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, started_at, seconds, prompts, requests, budget_exhausted],
        )

    def token_stats(self, model: str) -> tuple[int | None, int | None, float | None]:
        """Prompt tokens, prompt characters and mean completion tokens seen in the cache for ``model``."""
        tokens, chars, completion = self._con.execute(
            "SELECT sum(prompt_tokens), sum(length(prompt)), avg(completion_tokens) FROM llm_cache "
            "WHERE model = ? AND prompt_tokens IS NOT NULL",
            [model],
        ).fetchall()[0]
        return tokens, chars, completion

    def usage_by_lf(self, run_id: int | None = None) -> pl.DataFrame:
        """Per-LF totals (of one run, or of all runs), one row per run and LF version."""
        sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in COUNTERS)
        where = "WHERE run_id = ?" if run_id is not None else ""
        return self._con.sql(
            f"SELECT run_id, lf_name, lf_version, model, {sums}, sum(request_seconds) AS request_seconds "
            f"FROM llm_usage {where} GROUP BY ALL ORDER BY run_id, lf_name",
            params=[run_id] if run_id is not None else None,
        ).pl()

    def usage_by_run(self) -> pl.DataFrame:
        """Per-run totals: the LF counters summed, and the wall time of the run's LLM work."""
        sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in COUNTERS)
        return self._con.sql(
            f"WITH u AS (SELECT run_id, {sums} FROM llm_usage GROUP BY run_id), "
            "b AS (SELECT run_id, sum(seconds) AS wall_seconds, bool_or(budget_exhausted) AS budget_exhausted "
            "FROM llm_batches GROUP BY run_id) "
            "SELECT * FROM u FULL JOIN b USING (run_id) ORDER BY run_id"
        ).pl()
