"""The applier's batch function for prompted LFs: cached, concurrent, retried, budgeted.

For each chunk the applier hands over, :func:`apply_prompt_lfs`:

1. renders every (example, LF) prompt and its cache key; identical prompts are sent once, and
   an LF does not ask about the examples it shows as shots;
2. fits, once per run, the decision of each LF that calibrates or abstains by confidence
   (:mod:`.deciders`);
3. answers what it can from the store's ``llm_cache`` (a warm rerun sends nothing), and checks the
   server once before the run's first request (:mod:`.preflight`: a wrong URL or a missing key
   fails in seconds);
4. sends the rest through one ``AsyncOpenAI`` client, ``concurrency`` requests at a
   time, LF by LF and in example order within an LF (consecutive requests then
   share the LF's prompt prefix, which servers with prefix caching reuse), each
   with :func:`weaksup.llm.client.call_with_retries`, until the circuit breaker opens
   (:mod:`.breaker`);
5. writes responses to the cache as they arrive, ``flush_every`` at a time (and
   whatever is buffered when the chunk ends, fails or is interrupted), so a crash
   loses at most one batch and the next run resumes from the cache;
6. maps each response to a vote (:meth:`PromptLabelingFunction.parse`, through the LF's decider).

Faults never stop the run.  A request that still fails after its last try is
recorded as an LF error (LF, example id, error class, message; the API key is
redacted from messages and responses).  If the fault may pass (a rate limit, a
server error, a timeout, a dropped connection), the LF stops at that example for
this run, as when the budget runs out (below): its watermark stays before it, so
the next run asks again, and the answers already received come from the cache.
A request that fails in ``RETRY_RUNS`` runs, one the server rejects (another
4xx), or one applied without a store (``apply_lfs``) abstains for good, and the
LF goes on.
Malformed and off-label answers abstain and are counted.  Only a set-up problem
stops it with :class:`LLMSetupError`: the server rejecting the key (401/403) or
not knowing the route or model (404).

The per-run session it sends through (settings, budget, counters) is :mod:`.session`'s.

The prompt kind (:mod:`weaksup.apply.kinds.prompt`) calls it for every chunk with prompted LFs.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import polars as pl

from weaksup.apply.checks import LFApplicationError
from weaksup.apply.kinds.base import ApplyContext, LFOutput
from weaksup.data import ID
from weaksup.lf import MissingColumnError, Row
from weaksup.store.llm_cache import LLMCache
from weaksup.llm.client import (
    is_retryable,
)
from weaksup.llm.calibration import Decider
from weaksup.llm.deciders import fit_deciders
from weaksup.llm.preflight import check_once
from weaksup.llm.prompt_lf import PromptLabelingFunction
from weaksup.llm.session import SKIPPED, Failure, LLMSession, session_for
from weaksup.votes import ABSTAIN

__all__ = ["RETRY_RUNS", "apply_prompt_lfs"]

log = logging.getLogger("weaksup.llm")

RETRY_RUNS = 3
"""Runs in which a request may fail on a fault that may pass before it abstains for good."""

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion, also when called from inside an event loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


@dataclass
class _Plan:
    keys: list[list[str | None]]
    """Per LF, per row: the prompt's cache key (None where the field function raised)."""
    messages: dict[str, tuple[PromptLabelingFunction, list[dict[str, str]]]]
    """Each distinct prompt, with the first LF that asked it (which is charged for it)."""
    errors: list[list[tuple[int, BaseException]]]


def _plan(lfs: Sequence[PromptLabelingFunction], chunk: pl.DataFrame, strict: bool) -> _Plan:
    """Render every prompt, LF by LF (so consecutive requests share the LF's prompt prefix,
    which servers with prefix caching reuse), each LF in example order."""
    ids = chunk[ID]
    columns = chunk.columns
    rows = list(chunk.iter_rows(named=True))
    keys: list[list[str | None]] = [[None] * chunk.height for _ in lfs]
    errors: list[list[tuple[int, BaseException]]] = [[] for _ in lfs]
    messages: dict[str, tuple[PromptLabelingFunction, list[dict[str, str]]]] = {}
    for j, lf in enumerate(lfs):
        for i, row in enumerate(rows):
            try:
                values = lf.fields(Row(row)) if lf.fields else row
                msgs = lf.messages(values)
            except (KeyError, MissingColumnError) as exc:
                missing = exc.column if isinstance(exc, MissingColumnError) else exc.args[0]
                raise LFApplicationError(
                    f"prompted LF {lf.name!r} needs column {missing!r}, which example {ids[i]!r} does not have; "
                    f"columns are {columns}. Fix the template (or field function) or add the column."
                ) from None
            except Exception as exc:  # a bug in the LF's field function on one example
                if strict:
                    raise LFApplicationError(
                        f"prompted LF {lf.name!r} raised {type(exc).__name__} preparing example {ids[i]!r}: {exc}"
                    ) from exc
                errors[j].append((i, exc))
                continue
            if lf.shows(msgs):
                continue  # one of the LF's shots: its prompt shows the answer, so the LF abstains
            key = lf.cache_key(msgs)
            keys[j][i] = key
            messages.setdefault(key, (lf, msgs))
    return _Plan(keys, messages, errors)


def apply_prompt_lfs(lfs: Sequence[PromptLabelingFunction], chunk: pl.DataFrame, ctx: ApplyContext) -> list[LFOutput]:
    """The ``"prompt"`` batch function: every prompted LF's votes on one chunk."""
    for lf in lfs:
        _check_label_space(lf, ctx.cardinality)
    session = session_for(ctx.state)
    with session.cache(ctx.store) as cache:
        return _apply(session, cache, lfs, chunk, ctx)


def _apply(
    session: LLMSession,
    cache: LLMCache,
    lfs: Sequence[PromptLabelingFunction],
    chunk: pl.DataFrame,
    ctx: ApplyContext,
) -> list[LFOutput]:
    started, t0 = datetime.now(UTC), time.perf_counter()
    plan = _plan(lfs, chunk, ctx.strict)
    deciders = fit_deciders(lfs, ctx.state, lambda prompts: _ask(session, cache, ctx, prompts))
    unfitted = {lf.name for lf, d in zip(lfs, deciders) if not isinstance(d, Decider)}
    cached = cache.get(plan.messages)
    to_send = [
        (key, lf, msgs) for key, (lf, msgs) in plan.messages.items() if key not in cached and lf.name not in unfitted
    ]
    if to_send:
        check_once(ctx.state, session.settings)
    sent = _run(session.send_all(cache, ctx.run_id, to_send, ctx.progress))
    retry = _to_retry(cache, ctx.run_id, sent) if ctx.store is not None else set()
    outputs = []
    charged = {key for key, _, _ in to_send}
    for j, lf in enumerate(lfs):
        usage = session.usage(lf)
        labels = np.full(chunk.height, ABSTAIN, dtype=np.int32)
        confidence = np.full(chunk.height, np.nan) if lf.mode == "logprobs" else None
        decider = deciders[j]
        if not isinstance(decider, Decider):  # its calibration could not be fitted: it waits for the next run
            usage.skipped += chunk.height
            outputs.append(LFOutput(labels, confidence, [(0, decider)] if decider else [], processed=0))
            continue
        stop = next((i for i, k in enumerate(plan.keys[j]) if sent.get(k) is SKIPPED or k in retry), chunk.height)
        errors = [(i, exc) for i, exc in plan.errors[j] if i < stop]
        if stop < chunk.height and isinstance(failed := sent[plan.keys[j][stop]], Failure):
            usage.failures += 1  # stopped at a failure: the rest waits for the next run
            errors.append((stop, failed.exc))
        else:
            usage.skipped += chunk.height - stop
            if stop < chunk.height and session.breaker.is_open:
                errors.append((stop, session.breaker.error()))  # says why the LF stopped here
        for i in range(stop):
            key = plan.keys[j][i]
            if key is None:
                continue
            if key in charged and plan.messages[key][0] is lf:
                charged.discard(key)  # this LF's own request, counted when sent
            else:
                usage.cache_hits += 1
            result = cached[key] if key in cached else sent[key]
            if isinstance(result, Failure):
                usage.failures += 1
                errors.append((i, result.exc))
                continue
            answer = lf.parse(result, decider)
            if answer.outcome != "ok":
                setattr(usage, answer.outcome, getattr(usage, answer.outcome) + 1)
            session.costs.votes += answer.label != ABSTAIN
            labels[i] = answer.label
            if confidence is not None and answer.confidence is not None:
                confidence[i] = answer.confidence
        outputs.append(LFOutput(labels, confidence, errors, processed=None if stop == chunk.height else stop))
    seconds = time.perf_counter() - t0
    session.wall_seconds += seconds
    session.flush(cache, ctx.run_id)
    cache.record_batch(ctx.run_id, started, seconds, len(plan.messages), len(to_send), session.budget.exhausted)
    log.info(
        "prompted LFs: %d distinct prompts, %d from cache, %d sent%s",
        len(plan.messages),
        len(plan.messages) - len(to_send),
        len(to_send),
        " (budget exhausted)" if session.budget.exhausted else "",
    )
    return outputs


def _ask(
    session: LLMSession, cache: LLMCache, ctx: ApplyContext, prompts: dict[str, tuple[PromptLabelingFunction, Any]]
) -> dict[str, Any]:
    """Answers for ``prompts`` (cache key -> (LF, messages)): from the cache, else from the server."""
    cached = cache.get(prompts)
    to_send = [(key, lf, msgs) for key, (lf, msgs) in prompts.items() if key not in cached]
    if to_send:
        check_once(ctx.state, session.settings)
    return {**cached, **_run(session.send_all(cache, ctx.run_id, to_send, progress=False))}


def _to_retry(cache: LLMCache, run_id: int, sent: Mapping[str, Any]) -> set[str]:
    """The prompts an LF stops at for this run, so that a later run asks them again: those whose
    last try failed on a fault that may pass, in fewer than ``RETRY_RUNS`` runs so far."""
    failed = {
        key: type(result.exc).__name__
        for key, result in sent.items()
        if isinstance(result, Failure) and is_retryable(result.exc)
    }
    return {key for key, runs in cache.record_failures(run_id, failed).items() if runs < RETRY_RUNS}


def _check_label_space(lf: PromptLabelingFunction, k: int) -> None:
    bad = {answer: label for answer, label in lf.labels.items() if label >= k}
    if bad:
        raise LFApplicationError(
            f"prompted LF {lf.name!r} maps answers {bad} outside the label space 0..{k - 1}; fix its labels map"
        )

