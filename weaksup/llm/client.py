"""Connection settings and the one retry layer for OpenAI-compatible servers.

:class:`LLMSettings` says where the server is and how hard to push it.  It never
holds the API key, only the *name* of the environment variable that does
(``api_key_env``), so settings can be logged, hashed or stored safely; the key is
read in :func:`make_client` and lives only inside the ``openai`` client.

The ``openai`` client is built with ``max_retries=0``: :func:`call_with_retries`
is the only retry layer.  It retries 408, 409, 429, 5xx, timeouts, connection
errors and unparseable response bodies with exponential backoff and jitter, and
when the server sends ``Retry-After`` (or ``retry-after-ms``) it waits exactly
that long instead, up to ``max_retry_wait``: a server that asks for longer gets one wait
of ``max_retry_wait``, and if it asks for longer again, the request gives up (and the prompted
LF stops for the run, saying why).  ``sleep`` is injectable so tests can check the waits without waiting.

**Bounded answers.**  The client reads at most :data:`MAX_RESPONSE_BYTES` of an answer
(uncompressed: it asks for none): a longer answer is refused (:class:`ResponseTooLarge`,
not retried), and a longer error body is cut, so a hostile server's 50 MB bodies cost
no more memory than that.  Error texts are cut again, to :data:`MAX_ERROR_CHARS`,
before anything prints or stores them (:func:`shorten`).

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
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_RESPONSE_BYTES",
    "LLMSettings",
    "LLMSetupError",
    "ResponseTooLarge",
    "asked_wait",
    "call_with_retries",
    "is_retryable",
    "make_client",
    "redact",
    "redact_value",
    "retry_after_seconds",
    "shorten",
    "shown_url",
]

BASE_URL_ENV = "OPENAI_BASE_URL"
NO_KEY = "no-key"
"""Sent as the key when the key variable is unset: local servers ignore it."""

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

MAX_RESPONSE_BYTES = 4 * 2**20
"""The most of one answer the client reads (a chat completion with logprobs is a few kB)."""
MAX_ERROR_CHARS = 2000
"""The most of an error text weaksup prints or stores."""


class ResponseTooLarge(Exception):
    """A server's answer was longer than :data:`MAX_RESPONSE_BYTES`, or compressed although asked not to be."""


def _http_library() -> ModuleType:
    """The HTTP library openai's client is built on (``httpx2`` from openai 3, ``httpx`` before)."""
    for cls in openai.DefaultAsyncHttpxClient.__mro__:
        if cls.__name__ == "AsyncClient":
            return sys.modules[cls.__module__.partition(".")[0]]
    raise ImportError("cannot tell which HTTP library the openai package uses")


_http = _http_library()


class _CappedBody(_http.AsyncByteStream):  # type: ignore[name-defined,misc]
    """An answer's bytes, up to ``limit``: past it, an error body is cut and any other refused."""

    def __init__(self, inner: Any, limit: int, cut: bool) -> None:
        self.inner, self.limit, self.cut = inner, limit, cut

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.inner:
            if seen + len(chunk) > self.limit:
                if not self.cut:
                    raise ResponseTooLarge(f"the server's answer is longer than {self.limit:,} bytes; weaksup reads no more")
                yield chunk[: self.limit - seen]
                return
            seen += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CappedTransport(_http.AsyncBaseTransport):  # type: ignore[name-defined,misc]
    """openai's default transport, asking for uncompressed answers and reading :data:`MAX_RESPONSE_BYTES` at most."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inner = _http.AsyncHTTPTransport(limits=_http.Limits(max_connections=1000, max_keepalive_connections=100))

    async def handle_async_request(self, request: Any) -> Any:
        request.headers["Accept-Encoding"] = "identity"  # what is counted is what is read
        response = await self.inner.handle_async_request(request)
        if response.headers.get("Content-Encoding", "identity").lower() not in ("identity", ""):
            await response.aclose()
            raise ResponseTooLarge("the server compressed its answer although asked not to; weaksup reads none of it")
        response.stream = _CappedBody(response.stream, self.limit, cut=response.status_code >= 400)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def shorten(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how many more there were."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters cut)"


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
    """An ``AsyncOpenAI`` client with the library's own retries switched off, reading at most
    :data:`MAX_RESPONSE_BYTES` of each answer."""
    key = os.environ.get(settings.api_key_env) or NO_KEY
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=key,
        max_retries=0,
        timeout=settings.timeout,
        http_client=openai.DefaultAsyncHttpxClient(transport=_CappedTransport(MAX_RESPONSE_BYTES)),
    )


def secrets(settings: LLMSettings) -> tuple[str, ...]:
    """Strings that must never be written anywhere: the API key, if set, and the password (and
    user) of a base URL that carries them (``http://user:password@host/v1``)."""
    key = os.environ.get(settings.api_key_env)
    parts = urlsplit(settings.base_url or "")
    found = [key, parts.password, f"{parts.username}:{parts.password}" if parts.password else None]
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))  # longest first: no partial leftovers


def shown_url(url: str | None) -> str:
    """A base URL as messages show it: without the user and password it may carry."""
    if not url:
        return "the OpenAI API"
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def redact(text: str, hidden: tuple[str, ...]) -> str:
    """``text`` with every secret in ``hidden`` replaced by ``***``, as it is and as JSON, Python's
    ``repr`` and URLs escape it (a key holding ``"`` or ``\\`` reads escaped in a server's echo)."""
    for secret in hidden:
        for form in dict.fromkeys((secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
                                   repr(secret)[1:-1], quote(secret, safe=""))):  # fmt: skip
            text = text.replace(form, "***")
    return text


def redact_value(value: Any, hidden: tuple[str, ...]) -> Any:
    """A parsed JSON value with :func:`redact` applied to every string in it (keys too)."""
    if isinstance(value, str):
        return redact(value, hidden)
    if isinstance(value, list):
        return [redact_value(v, hidden) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), hidden): redact_value(v, hidden) for k, v in value.items()}
    return value


_RETRY_STATUS = {408, 409, 429}


def is_retryable(exc: BaseException) -> bool:
    """Transient faults: rate limits, server errors, timeouts, dropped connections, garbled bodies
    (not an answer too large to read)."""
    if isinstance(exc, ResponseTooLarge) or isinstance(exc.__cause__, ResponseTooLarge):
        return False
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


def asked_wait(exc: BaseException | None) -> float | None:
    """The wait a failed request's answer asked for (``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    return retry_after_seconds(response.headers) if response is not None else None


def _wait(settings: LLMSettings) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(multiplier=settings.backoff_initial, max=settings.backoff_max)

    def wait(state: RetryCallState) -> float:
        asked = asked_wait(state.outcome.exception() if state.outcome else None)
        return min(asked, settings.max_retry_wait) if asked is not None else backoff(state)

    return wait


def _asks_too_long(settings: LLMSettings) -> Callable[[RetryCallState], bool]:
    """Stop retrying a request when the server asks, again after a wait cut to ``max_retry_wait``,
    to wait longer than that: one capped wait, then no more (a 429 storm asking for 100,000 s)."""
    too_long = 0

    def stop(state: RetryCallState) -> bool:
        nonlocal too_long
        asked = asked_wait(state.outcome.exception() if state.outcome else None)
        too_long += asked is not None and asked > settings.max_retry_wait
        return too_long >= 2

    return stop


async def call_with_retries(
    settings: LLMSettings,
    attempt: Callable[[], Awaitable[T]],
    *,
    sleep: Sleep,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Await ``attempt()`` until it succeeds, retrying transient faults.

    Non-transient errors and the last transient one are raised to the caller, and so is the second
    whose answer asks to wait longer than ``max_retry_wait`` (:func:`asked_wait` reads it).
    ``on_retry(exc, wait)`` is told about each retry before its wait.
    """

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            on_retry(state.outcome.exception(), state.next_action.sleep)

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_any(stop_after_attempt(settings.max_attempts), _asks_too_long(settings)),
        wait=_wait(settings),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
    return await retrying(attempt)
