"""The per-run state of prompted LFs: one client, one budget and the counters of a run.

**Budget.**  ``max_requests`` and ``max_tokens`` (per run, i.e. per
:class:`LLMSession`) are checked before every HTTP attempt, retries included.
A request is reserved before it is sent, so ``max_requests`` is never exceeded.
Tokens are only known once a response arrives, so ``max_tokens`` can be
overshot by the tokens of the requests already in flight when it is reached
(at most ``concurrency`` requests).  Once the budget is spent no new request
starts; in each LF, the examples from the first one left unanswered onwards
abstain (counted as ``skipped``; since LFs are sent one after the other, the
LFs after the one the budget ran out in abstain everywhere), and the run
completes with the votes it has.  The outputs say how far each LF got
(``LFOutput.processed``), so the store applier moves its watermark no further
and the next run carries on from there, asking nothing twice.

Pass one state dict to every ``apply_to_store``/``apply_lfs`` call of a run
(``state=``) so the budget covers the whole run.

Per-run state (settings, budget, counters) is an :class:`LLMSession` kept in
``ApplyContext.state["prompt"]``; :func:`configure` puts one there.  Without one,
the first chunk (:mod:`.batch`) builds it from the environment (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).

>>> state = {}
>>> configure(state, {"base_url": "http://127.0.0.1:8080/v1", "max_requests": 100}).settings.max_requests
100
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai
from tqdm.auto import tqdm

from weaksup.store.llm_cache import COUNTERS, CachedResponse, LLMCache, UsageDelta
from weaksup.llm.client import (
    LLMSettings,
    LLMSetupError,
    ResponseTooLarge,
    asked_wait,
    call_with_retries,
    make_client,
    redact,
    redact_value,
    secrets,
    shorten,
    shown_url,
)
from weaksup.llm.breaker import Breaker, CircuitOpen
from weaksup.llm.costs import Costs
from weaksup.llm.preflight import shown
from weaksup.llm.prompt_lf import PromptLabelingFunction

if TYPE_CHECKING:
    from weaksup.store import VoteStore

__all__ = ["SKIPPED", "BudgetExhausted", "Failure", "LLMSession", "configure", "session_for"]

log = logging.getLogger("weaksup.llm")
STATE_KEY = "prompt"
"""Runs that ask a request again after its last try failed on a fault that may pass; after
that many failed runs the LF abstains on that example for good."""
class BudgetExhausted(Exception):
    """The run's request or token budget is spent: no new request may start."""


class _Skipped:
    """A prompt not sent because the budget ran out."""


SKIPPED = _Skipped()


@dataclass
class Failure:
    """A prompt whose last try failed."""

    exc: BaseException


class Budget:
    """Requests are reserved before they are sent; tokens are counted when responses arrive."""

    def __init__(self, max_requests: int | None, max_tokens: int | None) -> None:
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests = 0
        self.tokens = 0

    @property
    def exhausted(self) -> bool:
        return (self.max_requests is not None and self.requests >= self.max_requests) or (
            self.max_tokens is not None and self.tokens >= self.max_tokens
        )

    def reserve(self) -> None:
        if self.exhausted:
            raise BudgetExhausted
        self.requests += 1


class LLMSession:
    """One run's LLM state: settings, budget, usage counters and (without a store) an in-memory cache.

    ``sleep`` replaces :func:`asyncio.sleep` between retries (tests inject one to
    check waits without waiting); ``clock`` times requests.  A run records its :meth:`summary`
    in its metrics under :attr:`metrics_key`.  ``breaker`` stops the run's requests after
    ``max_consecutive_failures`` connection failures in a row (:mod:`.breaker`); ``costs`` counts
    prompt tokens per vote and the server's prefix-cache hits (:mod:`.costs`).
    """

    metrics_key = "llm"

    def __init__(
        self,
        settings: LLMSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.sleep = sleep or asyncio.sleep
        self.clock = clock
        self.budget = Budget(settings.max_requests, settings.max_tokens)
        self.breaker = Breaker(settings.max_consecutive_failures, shown(settings.base_url))
        self.costs = Costs()
        self.hidden = secrets(settings)
        self.totals: dict[tuple[str, str], UsageDelta] = {}
        self.wall_seconds = 0.0
        self._pending: dict[tuple[str, str], UsageDelta] = {}
        self._buffer: list[CachedResponse] = []
        self._memory: LLMCache | None = None
        self.stopped: dict[str, str] = {}
        """LFs (by name) that stop for the run, and why: the server asked to wait longer than
        ``max_retry_wait``, so their other prompts are not sent (they are asked in the next run)."""

    def cache(self, store: VoteStore | None) -> LLMCache:
        """A handle on the store's LLM tables (or on a private in-memory cache, kept for the
        session): its own cursor, so the LLM tables are read and written without touching the store
        connection's pending results.  Close it after use."""
        if store is not None:
            return store.llm_cache()
        if self._memory is None:
            self._memory = LLMCache.in_memory()
        return self._memory.cursor()

    def usage(self, lf: PromptLabelingFunction) -> UsageDelta:
        """The LF's counters since the last flush."""
        key = (lf.name, lf.version)
        if key not in self._pending:
            self._pending[key] = UsageDelta(lf.name, lf.version, lf.model)
        return self._pending[key]

    def flush(self, cache: LLMCache, run_id: int | None) -> None:
        """Write buffered responses and usage to the store, in one transaction."""
        responses, usage = self._buffer, list(self._pending.values())
        cache.flush(run_id, responses, usage)
        self._buffer, self._pending = [], {}
        for delta in usage:
            total = self.totals.setdefault(
                (delta.lf_name, delta.lf_version), UsageDelta(delta.lf_name, delta.lf_version, delta.model)
            )
            for c in COUNTERS:
                setattr(total, c, getattr(total, c) + getattr(delta, c))
            total.request_seconds += delta.request_seconds

    def summary(self) -> dict[str, Any]:
        """Run totals so far (for a run's metrics): the counters, wall time, budget state."""
        out: dict[str, Any] = {c: sum(getattr(t, c) for t in self.totals.values()) for c in COUNTERS}
        out["wall_seconds"] = self.wall_seconds
        out["budget_exhausted"] = self.budget.exhausted
        out["circuit_open"] = self.breaker.is_open
        return {**out, **self.costs.summary()}

    # -- sending -----------------------------------------------------------------------

    async def send_all(
        self,
        cache: LLMCache,
        run_id: int | None,
        items: Sequence[tuple[str, PromptLabelingFunction, list[dict[str, str]]]],
        progress: bool,
    ) -> dict[str, Any]:
        """Send ``(key, lf, messages)`` items in order, ``concurrency`` at a time; return each
        key's response dict, :class:`Failure` or :data:`SKIPPED`."""
        results: dict[str, Any] = {}
        queue = iter(items)
        fatal: list[LLMSetupError] = []
        bar = tqdm(total=len(items), desc="prompting", unit="req", leave=False, disable=None if progress else True)

        async def worker(client: openai.AsyncOpenAI) -> None:
            for key, lf, messages in queue:
                if fatal or self.budget.exhausted or self.breaker.is_open or lf.name in self.stopped:
                    results[key] = SKIPPED
                    continue
                try:
                    results[key] = await self._one(client, key, lf, messages)
                except LLMSetupError as exc:
                    fatal.append(exc)
                    results[key] = SKIPPED
                bar.update()
                if len(self._buffer) >= self.settings.flush_every:
                    self.flush(cache, run_id)

        try:
            if items:
                async with make_client(self.settings) as client:
                    workers = min(self.settings.concurrency, len(items))
                    await asyncio.gather(*(worker(client) for _ in range(workers)))
        finally:
            bar.close()
            self.flush(cache, run_id)
        if fatal:
            raise fatal[0]
        return results

    async def _one(
        self, client: openai.AsyncOpenAI, key: str, lf: PromptLabelingFunction, messages: list[dict[str, str]]
    ) -> Any:
        # counters are looked up at each update, not held across awaits: a flush by another
        # worker meanwhile starts a new delta
        attempts = 0

        async def attempt() -> Any:
            nonlocal attempts
            self.budget.reserve()
            attempts += 1
            self.usage(lf).requests += 1
            start = self.clock()
            try:
                # The typed ``chat.completions.create`` spends about a millisecond per call
                # transforming its arguments, the largest CPU cost at high concurrency; the
                # client's documented raw ``post`` sends the same request with the same errors.
                body = await client.post(
                    "/chat/completions", body={"model": lf.model, "messages": messages, **lf.params}, cast_to=str
                )
                return json.loads(body)
            finally:
                self.usage(lf).request_seconds += self.clock() - start

        def on_retry(exc: BaseException, wait: float) -> None:
            log.debug("LF %s: retrying in %.2fs after %s", lf.name, wait, type(exc).__name__)

        try:
            completion = await call_with_retries(
                self.settings, self.breaker.guard(attempt), sleep=self.sleep, on_retry=on_retry
            )
        except (BudgetExhausted, CircuitOpen):
            return SKIPPED
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise LLMSetupError(
                f"the server at {shown_url(self.settings.base_url)} refused the credentials "
                f"(HTTP {exc.status_code}); set the environment variable {self.settings.api_key_env} "
                "to a key it accepts"
            ) from None
        except openai.NotFoundError:
            raise LLMSetupError(
                f"the server at {shown_url(self.settings.base_url)} answered 404 for LF {lf.name!r} "
                f"(model {lf.model!r}): check base_url (OpenAI-compatible servers usually end in /v1) "
                "and the LF's model name"
            ) from None
        except ResponseTooLarge as exc:  # not retried: the prompt abstains for good
            return Failure(self._sanitized(exc, attempts))
        except openai.APIConnectionError as exc:
            return Failure(self._sanitized(exc.__cause__ if isinstance(exc.__cause__, ResponseTooLarge) else exc, attempts))
        except (openai.OpenAIError, ValueError) as exc:
            asked = asked_wait(exc)
            if asked is not None and asked > self.settings.max_retry_wait:
                self.stopped[lf.name] = (
                    f"the server asked to wait {asked:,.0f} s before asking again, more than max_retry_wait = "
                    f"{self.settings.max_retry_wait:g} s, even after a wait of that long: LF {lf.name!r} sends no "
                    "more prompts in this run, and the next run asks again"
                )
                return Failure(self._sanitized(exc, attempts, self.stopped[lf.name]))
            return Failure(self._sanitized(exc, attempts))
        response, prompt_tokens, completion_tokens = _extract(completion)
        self.costs.observe(completion)
        response = redact_value(response, self.hidden)  # string by string: JSON escapes would hide a key with " or \\
        self.budget.tokens += (prompt_tokens or 0) + (completion_tokens or 0)
        usage = self.usage(lf)
        usage.prompt_tokens += prompt_tokens or 0
        usage.completion_tokens += completion_tokens or 0
        self._buffer.append(
            CachedResponse(
                key,
                lf.model,
                json.dumps(messages),
                json.dumps(lf.params, sort_keys=True),
                response,
                prompt_tokens,
                completion_tokens,
            )
        )
        return response

    def _sanitized(self, exc: BaseException, attempts: int, why: str = "") -> BaseException:
        """``exc`` with the key redacted from its message, the message cut to
        :data:`~weaksup.llm.client.MAX_ERROR_CHARS`, and the number of tries (and ``why`` it stopped) noted."""
        text = shorten(redact(str(exc), self.hidden))
        exc.args = (f"{text} (gave up after {attempts} attempt(s){': ' + why if why else ''})",)
        return exc


def _extract(completion: Any) -> tuple[dict[str, Any], int | None, int | None]:
    """The parts of a chat completion (parsed JSON) the LFs read, and its token counts."""
    response: dict[str, Any] = {"content": None, "finish_reason": None, "top_logprobs": None}
    try:
        choice = completion["choices"][0]
        response["finish_reason"] = choice.get("finish_reason")
        response["content"] = choice["message"]["content"]
        first = (choice.get("logprobs") or {}).get("content") or []
        if first:
            response["top_logprobs"] = [[t["token"], t["logprob"]] for t in first[0]["top_logprobs"]]
    except (AttributeError, IndexError, KeyError, TypeError):
        pass  # an odd shape: parse() sees what is there and counts the rest malformed
    usage = completion.get("usage") if isinstance(completion, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return response, _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


MAX_TOKEN_COUNT = 2**31 - 1
"""Token counts above this are not counts (the cache stores 32-bit ones): read as unknown."""


def _count(value: Any) -> int | None:
    """A usage count as the server sent it; None (unknown) when it is not a plausible one."""
    plausible = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT
    return value if plausible else None


def configure(
    state: dict[str, Any],
    settings: LLMSettings | Mapping[str, Any] | None = None,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> LLMSession:
    """Start a run's LLM session in an applier state dict: ``settings`` is an
    :class:`LLMSettings` or a mapping of its fields (e.g. a pipeline's ``[llm]`` table)."""
    if not isinstance(settings, LLMSettings):
        settings = LLMSettings.resolve(**dict(settings or {}))
    session = LLMSession(settings, sleep=sleep)
    state[STATE_KEY] = session
    return session


def session_for(state: dict[str, Any]) -> LLMSession:
    """The run's session, created from the environment if none was configured."""
    if STATE_KEY not in state:
        configure(state)
    return state[STATE_KEY]
