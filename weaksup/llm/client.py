"""Connection settings and the one retry layer for OpenAI-compatible servers.

:class:`LLMSettings` says where the server is and how hard to push it.  It never
holds the API key, only the *name* of the environment variable that does
(``api_key_env``), so settings can be logged, hashed or stored safely; the key is
read in :func:`make_client` and lives only inside the ``openai`` client.

The ``openai`` client is built with ``max_retries=0``: :func:`call_with_retries`
is the only retry layer.  It retries 408, 409, 429, 5xx, timeouts, connection
errors and unparseable response bodies with exponential backoff and jitter, and
when the server sends ``Retry-After`` (or ``retry-after-ms``) it waits exactly
that long instead (capped at ``max_retry_wait``).  ``sleep`` is injectable so
tests can check the waits without waiting.

>>> s = LLMSettings.resolve(base_url="http://127.0.0.1:8080/v1", concurrency=4)
>>> s.base_url, s.concurrency, s.api_key_env
('http://127.0.0.1:8080/v1', 4, 'OPENAI_API_KEY')
>>> retry_after_seconds({"retry-after": "7"})
7.0
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

__all__ = [
    "LLMSettings",
    "LLMSetupError",
    "call_with_retries",
    "is_retryable",
    "make_client",
    "redact",
    "retry_after_seconds",
]

BASE_URL_ENV = "OPENAI_BASE_URL"
NO_KEY = "no-key"
"""Sent as the key when the key variable is unset: local servers ignore it."""

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class LLMSetupError(RuntimeError):
    """The LLM settings or the server's answer to them make a run impossible (bad key, bad URL, bad limits)."""


@dataclass(frozen=True)
class LLMSettings:
    """Where the model server is and how to use it.  No secret lives here.

    ``base_url`` defaults to ``$OPENAI_BASE_URL`` (then to OpenAI's own API);
    the key is read from the environment variable named ``api_key_env``.
    ``max_requests`` / ``max_tokens`` are a per-run budget (``None``: unlimited).
    ``flush_every`` is how many responses are buffered before they are written
    to the cache: a crash loses at most that many.  ``max_consecutive_failures``
    connection failures in a row stop the run's requests (:mod:`weaksup.llm.breaker`).
    """

    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 60.0
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_wait: float = 120.0
    max_requests: int | None = None
    max_tokens: int | None = None
    flush_every: int = 64
    max_consecutive_failures: int = 10

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_attempts", "flush_every", "max_consecutive_failures"):
            if getattr(self, name) < 1:
                raise LLMSetupError(f"LLM setting {name} must be at least 1, got {getattr(self, name)}")
        for name in ("timeout", "backoff_initial", "backoff_max", "max_retry_wait"):
            if not getattr(self, name) > 0:
                raise LLMSetupError(
                    f"LLM setting {name} must be a positive number of seconds, got {getattr(self, name)}"
                )
        for name in ("max_requests", "max_tokens"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise LLMSetupError(f"LLM budget {name} must be >= 0 or unset, got {value}")

    @classmethod
    def resolve(cls, **settings: Any) -> LLMSettings:
        """Settings from keyword arguments (e.g. a pipeline's ``[llm]`` table), the
        environment filling ``base_url``.  Unknown names are an error naming the valid ones."""
        unknown = set(settings) - set(cls.__dataclass_fields__)
        if unknown:
            raise LLMSetupError(
                f"unknown LLM setting(s) {sorted(unknown)}; valid settings are {sorted(cls.__dataclass_fields__)}"
                + (
                    "; put the key in an environment variable and name it with api_key_env"
                    if "api_key" in unknown
                    else ""
                )
            )
        out = cls(**{k: v for k, v in settings.items() if v is not None or k in ("max_requests", "max_tokens")})
        if out.base_url is None and os.environ.get(BASE_URL_ENV):
            out = replace(out, base_url=os.environ[BASE_URL_ENV])
        return out

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain values (safe to store: no key)."""
        return asdict(self)


def make_client(settings: LLMSettings) -> openai.AsyncOpenAI:
    """An ``AsyncOpenAI`` client with the library's own retries switched off."""
    key = os.environ.get(settings.api_key_env) or NO_KEY
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=key,
        max_retries=0,
        timeout=settings.timeout,
    )


def secrets(settings: LLMSettings) -> tuple[str, ...]:
    """Strings that must never be written anywhere: the API key, if set."""
    key = os.environ.get(settings.api_key_env)
    return (key,) if key else ()


def redact(text: str, hidden: tuple[str, ...]) -> str:
    """``text`` with every secret in ``hidden`` replaced by ``***``."""
    for secret in hidden:
        text = text.replace(secret, "***")
    return text


_RETRY_STATUS = {408, 409, 429}


def is_retryable(exc: BaseException) -> bool:
    """Transient faults: rate limits, server errors, timeouts, dropped connections, garbled bodies."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUS or exc.status_code >= 500
    return isinstance(exc, (openai.APIConnectionError, openai.APIResponseValidationError, json.JSONDecodeError))


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait: ``retry-after-ms``, ``retry-after`` seconds or HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                continue
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    return None


def _wait(settings: LLMSettings) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(multiplier=settings.backoff_initial, max=settings.backoff_max)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        response = getattr(exc, "response", None)
        if response is not None:
            asked = retry_after_seconds(response.headers)
            if asked is not None:
                return min(asked, settings.max_retry_wait)
        return backoff(state)

    return wait


async def call_with_retries(
    settings: LLMSettings,
    attempt: Callable[[], Awaitable[T]],
    *,
    sleep: Sleep,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Await ``attempt()`` until it succeeds, retrying transient faults.

    Non-transient errors and the last transient one are raised to the caller.
    ``on_retry(exc, wait)`` is told about each retry before its wait.
    """

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            on_retry(state.outcome.exception(), state.next_action.sleep)

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(settings.max_attempts),
        wait=_wait(settings),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
    return await retrying(attempt)
