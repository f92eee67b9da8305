"""A circuit breaker: stop asking a server that has stopped answering.

Retries are for faults that pass.  When the server dies mid-run, every prompt left would still
be tried ``max_attempts`` times with backoff: minutes of waiting for nothing.  The breaker
counts consecutive connection failures (refused, dropped, timed out: any
``openai.APIConnectionError``) over all the run's requests; any answer from the server resets
the count.  After ``max_consecutive_failures`` in a row it opens, for the rest of the run:

- no new request starts, and tries in flight are not retried: those prompts are left unasked;
- each prompted LF stops at its first unasked example, as when the budget runs out: its
  watermark stays there, so the next run (or ``weaksup run --reapply-failed``) asks again,
  taking the answers already received from the cache;
- the LF's error at that example says so (:class:`CircuitOpen`: the URL, the count and the last
  error), and the run's warnings list the LF as stopped.

>>> b = Breaker(2, "http://127.0.0.1:9/v1")
>>> b.failed(ConnectionRefusedError("refused")); b.is_open
False
>>> b.failed(ConnectionRefusedError("refused")); b.is_open
True
>>> str(b.error())[:80]
'the model server at http://127.0.0.1:9/v1 failed 2 connections in a row (last: C'
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import openai

__all__ = ["Breaker", "CircuitOpen"]

log = logging.getLogger("weaksup.llm")
T = TypeVar("T")


class CircuitOpen(Exception):
    """The breaker is open: the server failed too many connections in a row to be asked more in this run."""


class Breaker:
    """Consecutive connection failures of one run's requests (module docstring)."""

    def __init__(self, threshold: int, url: str) -> None:
        self.threshold = threshold
        self.url = url
        self.consecutive = 0
        self.last: BaseException | None = None
        self.is_open = False
        self.opened_after = 0

    def failed(self, exc: BaseException) -> None:
        self.consecutive += 1
        if not self.is_open:
            self.last = exc
        if not self.is_open and self.consecutive >= self.threshold:
            self.is_open = True
            self.opened_after = self.consecutive
            log.warning("%s; prompted LFs send nothing more in this run", self.error())

    def succeeded(self) -> None:
        self.consecutive = 0

    def error(self) -> CircuitOpen:
        """What an LF stopped by the open breaker records at the example it stopped at."""
        last = f"{type(self.last).__name__}: {self.last}" if self.last is not None else "none"
        return CircuitOpen(
            f"the model server at {self.url} failed {self.opened_after or self.consecutive} connections in a row (last: {last[:200]}): "
            "the circuit breaker stopped prompted LFs for this run; the next run (or `weaksup run "
            "--reapply-failed`) asks again, and [llm] max_consecutive_failures sets how many failures stop a run"
        )

    def guard(self, attempt: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        """``attempt`` counted by the breaker, refused (:class:`CircuitOpen`, not retried) once it is open."""

        async def guarded() -> T:
            if self.is_open:
                raise self.error()
            try:
                result = await attempt()
            except openai.APIConnectionError as exc:
                self.failed(exc)
                raise
            except openai.APIStatusError:
                self.succeeded()  # the server answered, if with an error: it is there
                raise
            self.succeeded()
            return result

        return guarded
