"""One process per store: a lock file beside the store (``<store>.lock``).

Every command that opens the store takes the lock first, so a second run
waits (saying for what) or, with ``wait=False``, fails with :class:`StoreBusy`.
The lock is an OS file lock (``flock``), so it dies with its process: a
SIGKILLed run never leaves a stale lock behind.  The holder writes what it is
doing into the lock file, for the message a waiter prints.

>>> import tempfile, pathlib
>>> store = pathlib.Path(tempfile.mkdtemp()) / "votes.duckdb"
>>> with store_lock(store, "weaksup run demo.toml", wait=False):
...     with store_lock(store, "weaksup gc", wait=False):
...         pass
Traceback (most recent call last):
...
weaksup.pipeline.lock.StoreBusy: store ...votes.duckdb is busy with `weaksup run demo.toml` (pid ...); not waiting (--no-wait)
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from weaksup.pipeline.status import read_status

EXIT_BUSY = 75
"""Exit status of a command that found the store busy and was told not to wait (EX_TEMPFAIL)."""


class StoreBusy(RuntimeError):
    """Another process holds the store and the caller asked not to wait."""


def lock_path(store: Path) -> Path:
    """The lock file of a store."""
    return store.with_name(store.name + ".lock")


def describe_holder(store: Path) -> str:
    """What the lock's holder says it is doing, with its run's phase when it is a run."""
    try:
        holder = json.loads(lock_path(store).read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "busy with another weaksup process"
    text = f"busy with `{holder['command']}` (pid {holder['pid']} on {holder['host']}, since {holder['since']})"
    status = read_status(store)
    if status and status["status"] == "running" and status["pid"] == holder["pid"]:
        text += f": run {status['run_id']} is {status['phase']}"
    return text


@contextmanager
def store_lock(
    store: str | Path, command: str, *, wait: bool = True, say: Callable[[str], None] = print
) -> Iterator[None]:
    """Hold the store's lock for the ``with`` block.  If another process holds it,
    wait (saying so once) or, with ``wait=False``, raise :class:`StoreBusy`.
    ``command`` says what this process does, for others' messages."""
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(store), thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise StoreBusy(f"store {store} is {describe_holder(store)}; not waiting (--no-wait)") from None
        say(f"store {store} is {describe_holder(store)}; waiting for it to finish (use --no-wait to exit instead)")
        lock.acquire()
    try:
        holder = {
            "command": command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with open(lock_path(store), "r+") as fh:  # the flock is on another descriptor; this one only writes
            fh.truncate()
            fh.write(json.dumps(holder))
        yield
    finally:
        lock.release()
