"""Prompted LFs fail fast: a wrong URL or a missing key stops a run in seconds with the fix in the
message; a server that dies mid-run trips the circuit breaker instead of retrying every prompt;
lfs.max_error_rate fails a run whose LF errs too often, keeping the votes it computed."""

from __future__ import annotations

import socket
import time

import polars as pl
import pytest
from support.llm_server import FakeServer

from weaksup.apply import LFApplicationError, apply_to_store
from weaksup.llm import LLMSettings, LLMSetupError, PromptLabelingFunction, configure
from weaksup.pipeline import run_pipeline
from weaksup.store import VoteStore

LFS = '''
from weaksup import ABSTAIN, labeling_function
from weaksup.llm import PromptLabelingFunction

HAM, SPAM = 0, 1
is_spam = PromptLabelingFunction("llm_is_spam", "{prefix}Is this comment spam? Answer yes or no.\\nComment: {{text}}",
                                 {{"yes": SPAM, "no": HAM}}, "test-model")

@labeling_function()
def has_link(x):
    return SPAM if "http" in x.text else ABSTAIN
'''


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipeline(tmp_path, slice_pipeline, llm: str, prefix: str = "", lfs_keys: str = ""):
    """The slice pipeline with a prompted LF and a Python LF, and the given [llm] table."""
    (tmp_path / "llm_lfs.py").write_text(LFS.format(prefix=prefix))
    text = slice_pipeline.read_text()
    start = text.index("modules = [")
    text = text[:start] + f'modules = ["{tmp_path / "llm_lfs.py"}"]\n{lfs_keys}' + text[text.index("]", start) + 1 :]
    slice_pipeline.write_text(text + "\n[llm]\n" + llm)
    return slice_pipeline


def failed_run(path, **kw) -> tuple[BaseException, float]:
    t0 = time.perf_counter()
    with pytest.raises(Exception) as err:
        run_pipeline(path, progress=False, say=lambda s: None, **kw)
    return err.value, time.perf_counter() - t0


def test_a_wrong_url_fails_the_run_in_seconds_naming_the_url(tmp_path, slice_pipeline):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    path = pipeline(tmp_path, slice_pipeline, f'base_url = "{url}"\nmax_attempts = 3\n')
    error, seconds = failed_run(path)
    assert isinstance(error, LLMSetupError)
    assert seconds < 10
    assert f"cannot reach the model server at {url}" in str(error) and "base_url" in str(error)
    with VoteStore(tmp_path / "store.duckdb", read_only=True) as store:
        assert store.runs.record(1)["status"] == "failed"


def test_a_missing_key_fails_the_run_in_seconds_naming_the_variable(tmp_path, slice_pipeline, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("WS_ABSENT_KEY", raising=False)
    path = pipeline(tmp_path, slice_pipeline, 'api_key_env = "WS_ABSENT_KEY"\n')
    error, seconds = failed_run(path)
    assert isinstance(error, LLMSetupError)
    assert seconds < 10
    assert "environment variable WS_ABSENT_KEY" in str(error) and "is not set" in str(error)


def test_a_refused_key_fails_the_run_naming_the_variable_not_the_key(tmp_path, slice_pipeline, monkeypatch):
    monkeypatch.setenv("WS_REFUSED_KEY", "sk-rejected")
    with FakeServer() as server:
        path = pipeline(tmp_path, slice_pipeline, f'base_url = "{server.base_url}"\napi_key_env = "WS_REFUSED_KEY"\n')
        error, seconds = failed_run(path)
        assert server.stats()["total"] == 0  # no prompt was sent
    assert isinstance(error, LLMSetupError) and seconds < 10
    assert "refused the credentials (HTTP 401)" in str(error) and "WS_REFUSED_KEY" in str(error)
    assert "sk-rejected" not in str(error)


def test_the_server_is_checked_only_when_a_prompt_must_be_sent(tmp_path, slice_pipeline):
    """A run whose every answer is cached works with the server gone."""
    with FakeServer() as server:
        path = pipeline(tmp_path, slice_pipeline, f'base_url = "{server.base_url}"\n')
        first = run_pipeline(path, progress=False, say=lambda s: None)
        assert first.metrics["llm"]["requests"] > 0
    forced = run_pipeline(path, progress=False, say=lambda s: None, force=True)  # the server is down now
    assert forced.metrics["llm"]["requests"] == 0


def test_a_server_that_dies_mid_run_trips_the_breaker_and_the_next_run_finishes(tmp_path):
    texts = [f"comment {i}" + (" subscribe" if i % 2 else "") for i in range(60)]
    texts[20] = "the last straw [[die]]"
    frame = pl.DataFrame({"example_id": [f"ex{i}" for i in range(60)], "text": texts})
    lf = PromptLabelingFunction("is_spam", "Comment: {text}\nSpam? yes or no", {"yes": 1, "no": 0}, "fake")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # backoff without waiting: the breaker, not the clock, stops it
        waits.append(seconds)

    with VoteStore(tmp_path / "s.duckdb") as store:
        server = FakeServer()
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        state: dict = {}
        settings = LLMSettings(base_url=server.base_url, concurrency=2, max_attempts=5, max_consecutive_failures=4)
        session = configure(state, settings, sleep=sleep)
        t0 = time.perf_counter()
        stats = apply_to_store(store, "d", [lf], frame, keys, cardinality=2, run_id=run, progress=False, state=state)
        seconds = time.perf_counter() - t0
        store.runs.finish(run, "succeeded")
        server.close()
        assert seconds < 10
        summary = session.summary()
        assert summary["circuit_open"] is True
        # 20 answered, then the [[die]] prompt and at most the breaker's 4 failures + 2 in flight
        assert summary["requests"] <= 21 + 4 + 2
        assert 18 <= stats.applied["is_spam"] <= 20
        errors = store.votes.errors("is_spam")
        assert errors.height == 1 and errors["error_type"][0] == "CircuitOpen"
        assert "failed 4 connections in a row" in errors["message"][0] and settings.base_url in errors["message"][0]

        answered = store.query("SELECT count(*) FROM llm_cache").rows()[0][0]
        assert stats.applied["is_spam"] <= answered <= stats.applied["is_spam"] + 2  # + the requests in flight

        # the next run, against a live server, asks only what was not answered
        texts[20] = "the last straw"
        frame = frame.with_columns(pl.Series("text", texts))
        with FakeServer() as again:
            run2 = store.runs.start("t", {})
            keys = store.examples.sync("d", frame, run2).ex_keys
            state = {}
            configure(state, LLMSettings(base_url=again.base_url))
            stats2 = apply_to_store(store, "d", [lf], frame, keys, cardinality=2, run_id=run2, progress=False,
                                    state=state)  # fmt: skip
            # every prompt answered before the server died (some past the LF's stop, in flight) is cached
            assert again.stats()["total"] == 60 - answered and max(again.stats()["by_prompt"].values()) == 1
        assert stats.applied["is_spam"] + stats2.applied["is_spam"] == 60
        assert store.votes.lf_versions()["applied_through"].to_list() == [int(keys.max())]


def test_max_error_rate_fails_the_run_and_keeps_the_votes(tmp_path, slice_pipeline):
    with FakeServer() as server:
        path = pipeline(tmp_path, slice_pipeline, f'base_url = "{server.base_url}"\n', prefix="[[fault:400:always]] ",
                        lfs_keys="max_error_rate = 0.2\n")  # fmt: skip
        error, _ = failed_run(path)
    assert isinstance(error, LFApplicationError)
    assert "LF 'llm_is_spam' erred on 440 of the 440 examples" in str(error)
    assert "lfs.max_error_rate = 0.2" in str(error) and "BadRequestError" in str(error)
    with VoteStore(tmp_path / "store.duckdb", read_only=True) as store:
        assert store.runs.record(1)["status"] == "failed"
        versions = store.votes.lf_versions()
        links = versions.filter(versions["lf_name"] == "has_link")
        assert links["votes"][0] > 0  # the Python LF's votes are kept
