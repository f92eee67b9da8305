"""A controllable fake chat-completions server on 127.0.0.1, for fault injection.

Run it in its own process: ``python tests/llm_server.py --latency 0.05``.  It prints
``PORT <n>`` on its first stdout line and serves ``POST /v1/chat/completions`` until killed.

What it answers is decided by the last user message (the prompt):

- ``[[answer:TEXT]]`` makes the message content exactly ``TEXT``; otherwise the answer is
  ``Yes`` when the prompt mentions "subscribe", "check out" or "http", else ``No``.
  With a ``json_schema`` response format the answer is sent as ``{"answer": "yes"}``;
  with ``logprobs`` the first token's ``top_logprobs`` put the answer first (-0.1) and
  the other of Yes/No second (-2.5).
- ``[[yes:P]]`` (P in (0, 1)) makes the first token's ``top_logprobs`` give Yes probability
  P and No 1 - P (the answer is the likelier); a biased model for calibration tests.
- ``[[fault:KIND:N]]`` makes the first ``N`` attempts at this prompt fail (``N`` may be
  ``always``); KIND is ``429`` (with ``Retry-After`` 7 seconds), ``500``, ``hang``
  (sleeps ``--hang`` seconds before answering: past a client timeout), ``badjson``
  (status 200, a body that is not JSON), ``drop`` (closes the connection unanswered)
  ``400`` (refuses the request: not retried) or ``401`` (rejects the key).
- ``[[echo-auth]]`` answers 400 with the request's ``Authorization`` header in the
  error message: a hostile server, for the key-safety test.
- ``[[die]]`` ends the server process at once, unanswered: a server that dies mid-run.

Each answer's ``usage.prompt_tokens_details.cached_tokens`` is the prompt's length (4
characters a token) shared with the previous request's, as a server's prefix cache reports it.

``GET /v1/models`` lists one model, or answers 401 to the key ``sk-rejected``.

Every request is counted: ``GET /_stats`` returns ``{"total", "by_prompt": {prompt: n},
"auth": [distinct Authorization headers seen]}``;
``POST /_config`` with ``{"latency": s}`` changes the latency; ``POST /_reset`` clears counts.
Threads handle requests (HTTP/1.1 keep-alive, a deep accept queue) so a client at
concurrency 64 gets no connection resets.  :class:`FakeServer` starts one in a
subprocess for tests and benchmarks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

FAULT = re.compile(r"\[\[fault:(\w+):(\d+|always)\]\]")
ANSWER = re.compile(r"\[\[answer:(.*?)\]\]", re.DOTALL)
YES_P = re.compile(r"\[\[yes:(0?\.\d+)\]\]")
SPAMMY = ("subscribe", "check out", "http")
REJECTED_KEY = "sk-rejected"
"""A key the models route refuses (401): for the fail-fast test of a refused key."""


class State:
    def __init__(self, latency: float, hang: float) -> None:
        self.latency = latency
        self.hang = hang
        self.lock = threading.Lock()
        self.by_prompt: Counter[str] = Counter()
        self.auth: set[str] = set()
        self.total = 0
        self.last_prompt = ""

    def shared_prefix(self, text: str) -> int:
        """Characters ``text`` shares at its start with the previous request's prompt (and remember it)."""
        with self.lock:
            last, self.last_prompt = self.last_prompt, text
        return len(os.path.commonprefix([last, text]))

    def count(self, prompt: str, auth: str) -> int:
        """Record one attempt at ``prompt``; return its attempt number (1-based)."""
        with self.lock:
            self.total += 1
            self.auth.add(auth)
            self.by_prompt[prompt] += 1
            return self.by_prompt[prompt]


def answer_for(prompt: str) -> str:
    forced = ANSWER.search(prompt)
    if forced:
        return forced.group(1)
    yes = YES_P.search(prompt)
    if yes:
        return "Yes" if float(yes.group(1)) > 0.5 else "No"
    return "Yes" if any(w in prompt.lower() for w in SPAMMY) else "No"


def top_logprobs(prompt: str, answer: str) -> list[dict]:
    yes = YES_P.search(prompt)
    if yes:
        p = float(yes.group(1))
        pairs = sorted([("Yes", math.log(p)), ("No", math.log(1 - p))], key=lambda t: -t[1])
        return [{"token": t, "logprob": lp, "bytes": None} for t, lp in pairs]
    first = answer.split()[0] if answer.split() else answer
    other = "No" if first.lower().startswith("y") else "Yes"
    return [{"token": first, "logprob": -0.1, "bytes": None}, {"token": other, "logprob": -2.5, "bytes": None}]


def completion(body: dict, prompt: str, cached_chars: int = 0) -> dict:
    answer = answer_for(prompt)
    fmt = body.get("response_format") or {}
    forced = ANSWER.search(prompt) is not None
    content = json.dumps({"answer": answer.lower()}) if fmt.get("type") == "json_schema" and not forced else answer
    choice: dict = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if body.get("logprobs"):
        top = top_logprobs(prompt, answer)
        choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
    text = json.dumps(body.get("messages", []))
    prompt_tokens = max(1, len(text) // 4)
    completion_tokens = len(content) // 4 + 1
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": min(cached_chars // 4, prompt_tokens)},
        },
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one small response per request: do not wait for delayed ACKs
    state: State

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _body(self) -> dict | None:
        """The JSON body, or None when the client went away before sending all of it."""
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if len(raw) < n:
            self.close_connection = True
            return None
        return json.loads(raw or b"{}")

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with self.state.lock:
                stats = {
                    "total": self.state.total,
                    "by_prompt": dict(self.state.by_prompt),
                    "auth": sorted(self.state.auth),
                }
                self._json(200, stats)
        elif self.path == "/v1/models":
            if self.headers.get("Authorization", "").endswith(REJECTED_KEY):
                return self._json(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
            self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            return None
        if self.path == "/_config":
            self.state.latency = float(body.get("latency", self.state.latency))
            return self._json(200, {"latency": self.state.latency})
        if self.path == "/_reset":
            with self.state.lock:
                self.state.by_prompt.clear()
                self.state.auth.clear()
                self.state.total = 0
            return self._json(200, {})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        prompt = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
        attempt = self.state.count(prompt, self.headers.get("Authorization", ""))
        if "[[die]]" in prompt:
            os._exit(0)
        cached_chars = self.state.shared_prefix(json.dumps(body.get("messages", [])))
        time.sleep(self.state.latency)
        if "[[echo-auth]]" in prompt:
            auth = self.headers.get("Authorization", "")
            return self._json(400, {"error": {"message": f"bad request from {auth}", "type": "invalid_request_error"}})
        fault = FAULT.search(prompt)
        if fault and (fault.group(2) == "always" or attempt <= int(fault.group(2))):
            kind = fault.group(1)
            if kind == "429":
                return self._json(
                    429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": "7"}
                )
            if kind == "400":
                return self._json(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
            if kind == "401":
                return self._json(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
            if kind == "500":
                return self._json(500, {"error": {"message": "server exploded", "type": "server_error"}})
            if kind == "badjson":
                return self._send(200, b'{"id": "chatcmpl-x", "choices": [ {"mess')
            if kind == "drop":
                self.close_connection = True
                self.connection.close()
                return None
            if kind == "hang":
                time.sleep(self.state.hang)
        try:
            self._json(200, completion(body, prompt, cached_chars))
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            self.close_connection = True
        return None


class Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that vanish (killed, timed out) are expected here: no traceback for them."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeServer:
    """This server in a subprocess: ``base_url`` for clients, ``stats()``/``reset()``/``configure()``."""

    def __init__(self, latency: float = 0.0, hang: float = 5.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--latency", str(latency), "--hang", str(hang)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"fake LLM server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, path: str, payload: dict | None = None) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method="GET" if data is None else "POST"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self._call("/_stats")

    def reset(self) -> None:
        self._call("/_reset", {})

    def configure(self, latency: float) -> None:
        self._call("/_config", {"latency": latency})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--hang", type=float, default=5.0, help="seconds a [[fault:hang:N]] request hangs")
    args = parser.parse_args(argv)
    Handler.state = State(args.latency, args.hang)
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
