"""Ctrl-C and SIGTERM held back while a run that is recorded as succeeded completes.

A stop (Ctrl-C, or SIGTERM, which the CLI turns into the same ``KeyboardInterrupt``) that
arrives once the store records a run as ``succeeded`` has nothing left to stop: acting on it
would leave the record saying one thing and the status file and exit status another.  From the
record on, :class:`StopShield` notes such signals instead (``asked``); the run writes its report,
``LATEST`` and status, and returns, and its caller decides what the stop means (``weaksup run``
exits 0, ``weaksup schedule`` stops after the run).

>>> import os, signal
>>> shield = StopShield()
>>> shield.hold()
>>> os.kill(os.getpid(), signal.SIGTERM)
>>> shield.release()
>>> shield.asked
['SIGTERM']
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopShield:
    """Notes Ctrl-C and SIGTERM between :meth:`hold` and :meth:`release` instead of stopping
    (in the main thread: only it receives Python's signal handlers)."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        """The signals that arrived while held, by name."""
        self._previous: dict[int, Any] = {}

    def hold(self) -> None:
        """From now on, note the signals instead of acting on them."""
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            signal.signal(sig, self._note)
            self._previous[sig] = signal.SIG_DFL if previous is None else previous

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.asked.append(signal.Signals(signum).name)

    def release(self) -> None:
        """Act on the signals as before :meth:`hold` again (those noted meanwhile are not acted on)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
