"""Hostile input for the trust tests (helpers, no tests): a chat server answering one hostile way,
and the CLI run in a subprocess whose peak memory is measured.

:class:`HostileServer` (in a thread of the test process, on 127.0.0.1) answers every
``POST /v1/chat/completions`` the one way it was started with:

- ``"huge"``: status 200, a valid completion (content ``Yes``) padded to ``size`` bytes;
- ``"huge_error"``: status 400 with an error message of ``size`` bytes;
- ``"storm"``: status 429 with ``Retry-After: 100000``;
- ``"tokens"``: a valid completion whose ``usage.prompt_tokens`` is 2**63;
- ``"echo_auth"``: a valid completion whose content, ``Yes``, echoes the request's
  ``Authorization`` header;
- ``"status:N"``: status N (401, 403, 404) with a short error.

It counts requests (``requests``).  A client that stops reading a large body is expected: the
server drops that connection quietly.

:func:`measured` runs ``weaksup ARGS`` from a launcher process that reports the command's own peak
resident memory (``resource.getrusage``) and caps its address space at 8 GB, so a regression
fails a test instead of exhausting the shared machine.  :func:`llm_project` is the ops project
with a prompted LF.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import polars as pl

from support.project import LFS, ROOT, make_project


def completion(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **extra}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # concurrent clients must not get resets
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that stop reading a huge body


class HostileServer:
    """The server, serving ``mode`` (see the module docstring) until closed."""

    def __init__(self, mode: str, size: int = 50 * 2**20) -> None:
        self.mode, self.requests, self.lock = mode, 0, threading.Lock()
        self.huge = b""
        if mode == "huge":
            body = completion("Yes", padding="")
            text = json.dumps(body)
            self.huge = text.replace('"padding": ""', '"padding": "' + "x" * size + '"').encode()
        elif mode == "huge_error":
            self.huge = json.dumps({"error": {"message": "E" * size, "type": "invalid_request_error"}}).encode()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.requests += 1
                status, body, headers = owner.answer(self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, auth: str) -> tuple[int, bytes, dict[str, str]]:
        mode = self.mode
        if mode in ("huge", "huge_error"):
            return (200 if mode == "huge" else 400), self.huge, {}
        if mode == "storm":
            body = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
            return 429, body, {"Retry-After": "100000"}
        if mode == "tokens":
            body = completion("Yes")
            body["usage"] = {"prompt_tokens": 2**63, "completion_tokens": 2**64 + 5, "total_tokens": 2**65}
            return 200, json.dumps(body).encode(), {}
        if mode == "echo_auth":
            return 200, json.dumps(completion(f"Yes (you sent {auth})")).encode(), {}
        status = int(mode.partition(":")[2])
        return status, json.dumps({"error": {"message": f"status {status}", "type": "error"}}).encode(), {}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PEAK_MB = 1024
"""What a hostile-input test allows a command's peak resident memory."""
GUARD_BYTES = 8 * 2**30
"""The address space a measured command gets: a regression fails its test, not the machine."""

LAUNCHER = """
import resource, subprocess, sys
guard = int(sys.argv[1])
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (guard, guard))
code = subprocess.run(sys.argv[3:], preexec_fn=cap).returncode
with open(sys.argv[2], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def measured(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``weaksup ARGS`` in a fresh process; its completed process, peak RSS in MB and seconds."""
    peak = cwd / f".peak-{time.monotonic_ns()}"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = [sys.executable, "-c", LAUNCHER, str(GUARD_BYTES), str(peak), sys.executable, "-m", "weaksup.cli", *args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command it runs
        proc.communicate()
        raise
    seconds = time.monotonic() - start
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return done, int(peak.read_text()) / 1024, seconds


PROMPTED = LFS + '''
from weaksup.llm import PromptLabelingFunction

is_spam = PromptLabelingFunction("llm_is_spam", "Is this comment spam? Answer yes or no.\\nComment: {text}",
                                 {"yes": SPAM, "no": HAM}, "test-model")
'''


def llm_project(tmp_path: Path, rows: int = 24) -> Path:
    """The ops project over the first ``rows`` comments, with a prompted LF beside its six others."""
    pipeline = make_project(tmp_path, files=("Youtube01-Psy.csv",), lfs=PROMPTED)
    source = tmp_path / "incoming" / "Youtube01-Psy.csv"
    pl.read_csv(source).head(rows).write_csv(source)
    pipeline.write_text(pipeline.read_text() + "\n[llm]\nconcurrency = 8\n")
    return pipeline
