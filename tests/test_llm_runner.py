"""Prompted LFs against the fake chat server (tests/llm_server.py, its own process):
faults, retries, Retry-After, cache, budget, cost accounting, dry run, set-up errors."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from weaksup.apply import ApplyContext, LFApplicationError, apply_chunk, apply_lfs
from weaksup.apply import apply_to_store
from weaksup.lf import labeling_function
from weaksup.llm import (
    LLMSettings,
    LLMSetupError,
    PromptLabelingFunction,
    configure,
    dry_run,
    usage_by_lf,
    usage_by_run,
)
from weaksup.llm.batch import RETRY_RUNS
from weaksup.store import VoteStore

HAM, SPAM = 0, 1
TEMPLATE = "Comment: {text}\nIs this comment spam? Answer yes or no."



@pytest.fixture
def fresh(server):
    server.reset()
    return server


class Sleeps:
    """An injected sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def spam_lf(name="is_spam", **kw) -> PromptLabelingFunction:
    return PromptLabelingFunction(
        name, kw.pop("template", TEMPLATE), kw.pop("labels", {"yes": SPAM, "no": HAM}), "fake", **kw
    )


def frame_of(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"example_id": [f"ex{i}" for i in range(len(texts))], "text": texts})


def apply(server, lfs, frame, *, store=None, run_id=None, sleep=None, strict=False, **settings):
    """Apply prompted LFs to one chunk through the applier's dispatch, with explicit settings;
    return (outputs, session)."""
    state: dict = {}
    session = configure(state, LLMSettings(base_url=server.base_url, **settings), sleep=sleep or Sleeps())
    ctx = ApplyContext(2, strict=strict, store=store, run_id=run_id, progress=False, state=state)
    return apply_chunk(lfs, frame, ctx), session


def prompt_of(lf: PromptLabelingFunction, text: str) -> str:
    return lf.messages({"text": text})[-1]["content"]


# -- faults ------------------------------------------------------------------------------


FAULT_TEXTS = [
    "plain and nice",
    "please subscribe [[fault:429:2]]",
    "server trouble [[fault:500:2]]",
    "slow one [[fault:hang:1]]",
    "garbled body subscribe [[fault:badjson:1]]",
    "dropped connection [[fault:drop:1]]",
    "always broken [[fault:500:always]]",
    "always limited [[fault:429:always]]",
    "always slow [[fault:hang:always]]",
    "always garbled [[fault:badjson:always]]",
    "hostile [[echo-auth]]",
    "odd answer [[answer:Perhaps, who knows]]",
    "check out my channel",
]


def run_store(store, server, lfs, frame, sleeps):
    """One run of ``lfs`` over ``frame`` into ``store``: (run id, example keys, apply stats, session)."""
    run = store.runs.start("t", {})
    keys = store.examples.sync("d", frame, run).ex_keys
    state: dict = {}
    session = configure(state, LLMSettings(base_url=server.base_url, max_attempts=3, timeout=0.5), sleep=sleeps)
    stats = apply_to_store(store, "d", lfs, frame, keys, cardinality=2, run_id=run, progress=False, state=state)
    store.runs.finish(run, "succeeded")
    return run, keys, stats, session


def test_every_fault_is_retried_or_recorded_and_no_response_is_lost(fresh, tmp_path):
    """Transient faults are retried within a run; one still failing after the last try stops the
    LF there, and later runs ask again (RETRY_RUNS runs in all) before it abstains for good."""
    texts = FAULT_TEXTS
    lf = spam_lf()
    json_lf = spam_lf("is_spam_json", mode="json", template=TEMPLATE + " Reply in JSON.")
    sleeps = Sleeps()
    frame = frame_of(texts)
    versions = [(lf.name, lf.version), (json_lf.name, json_lf.version)]
    with VoteStore(tmp_path / "s.duckdb") as store:
        applied = []
        for _ in range(RETRY_RUNS):
            run, keys, stats, session = run_store(store, fresh, [lf, json_lf], frame, sleeps)
            applied.append(stats.applied)
            if len(applied) == 1:  # each LF stopped at "always broken" (row 6): rows 6.. wait for the next run
                assert store.votes.label_matrix(keys, versions).to_dense()[:, 0].tolist() == [
                    HAM, SPAM, HAM, HAM, SPAM, HAM, -1, -1, -1, -1, -1, -1, -1
                ]  # fmt: skip
        # run 2 stopped at row 6 again; run 3 gave up on it and on the other lasting faults
        assert applied == [{"is_spam": 6, "is_spam_json": 6}, {"is_spam": 0, "is_spam_json": 0},
                           {"is_spam": 7, "is_spam_json": 7}]  # fmt: skip
        matrix = store.votes.label_matrix(keys, versions).to_dense()
        assert matrix[:, 0].tolist() == [HAM, SPAM, HAM, HAM, SPAM, HAM, -1, -1, -1, -1, -1, -1, SPAM]
        errors = store.query(
            "SELECT run_id, example_id, error_type FROM lf_errors WHERE lf_name = ?", [lf.name]
        ).rows()
        stopped_at = [(r, texts[int(e.removeprefix("ex"))], t) for r, e, t in errors if r < run]
        assert sorted(stopped_at) == [(1, "always broken [[fault:500:always]]", "InternalServerError"),
                                      (2, "always broken [[fault:500:always]]", "InternalServerError")]  # fmt: skip
        failed = {texts[int(e.removeprefix("ex"))]: t for r, e, t in errors if r == run}
        assert failed == {
            "always broken [[fault:500:always]]": "InternalServerError",
            "always limited [[fault:429:always]]": "RateLimitError",
            "always slow [[fault:hang:always]]": "APITimeoutError",
            "always garbled [[fault:badjson:always]]": "JSONDecodeError",
            "hostile [[echo-auth]]": "BadRequestError",
        }
        # the server saw exactly the tries the policy allows: transient faults up to 3 tries per run
        # (lasting ones in each of the RETRY_RUNS runs), 400 once per run; answers are never asked twice
        seen = fresh.stats()["by_prompt"]
        tries = {t: seen[prompt_of(lf, t)] for t in texts}
        lasting = 3 * RETRY_RUNS
        assert tries == {
            "plain and nice": 1, "please subscribe [[fault:429:2]]": 3, "server trouble [[fault:500:2]]": 3,
            "slow one [[fault:hang:1]]": 2, "garbled body subscribe [[fault:badjson:1]]": 2,
            "dropped connection [[fault:drop:1]]": 2, "always broken [[fault:500:always]]": lasting,
            "always limited [[fault:429:always]]": lasting, "always slow [[fault:hang:always]]": lasting,
            "always garbled [[fault:badjson:always]]": lasting, "hostile [[echo-auth]]": RETRY_RUNS,
            "odd answer [[answer:Perhaps, who knows]]": 1, "check out my channel": 1,
        }  # fmt: skip
        # the lasting transient faults are counted by run; a rejected request (400) is not retried across runs
        runs = dict(store.query("SELECT error_type, min(runs) FROM llm_failures GROUP BY error_type").rows())
        assert runs == {"InternalServerError": RETRY_RUNS, "RateLimitError": RETRY_RUNS,
                        "APITimeoutError": RETRY_RUNS, "JSONDecodeError": RETRY_RUNS}  # fmt: skip
        # failures are in the store with LF, example id, error class and a message saying how often it was tried
        messages = store.query("SELECT message FROM lf_errors WHERE lf_name = ?", [lf.name]).rows()
        assert all("gave up after" in m for (m,) in messages)
        # every completed response is cached: the distinct successful prompts of both LFs
        cached = store.query("SELECT count(*) FROM llm_cache").rows()[0][0]
        assert cached == 2 * (len(texts) - 5)
        # counts: requests = every HTTP attempt the server saw; malformed / off-label answers counted
        every_run = usage_by_lf(store)
        assert int(every_run["requests"].sum()) == fresh.stats()["total"]
        usage = {r["lf_name"]: r for r in usage_by_lf(store, run).iter_rows(named=True)}
        assert usage["is_spam"]["failures"] == 5 and usage["is_spam"]["off_label"] == 1
        assert usage["is_spam_json"]["malformed"] == 1  # "Perhaps, who knows" is not JSON
        assert session.summary()["failures"] == 10
    # Retry-After (7 s) was honoured for each 429 retry, through the injected sleep
    assert sleeps.waits.count(7.0) == 2 * (2 + 2 * RETRY_RUNS)


def test_a_fault_that_passes_is_asked_again_by_the_next_run(fresh, tmp_path):
    """A server error outlasting one run's tries costs that run the LF's later votes, not the example:
    the next run asks it again, and takes the later answers from the cache."""
    texts = ["plain and nice", "flaky subscribe [[fault:500:3]]", "check out my channel"]
    lf = spam_lf()
    with VoteStore(tmp_path / "s.duckdb") as store:
        _, keys, first, _ = run_store(store, fresh, [lf], frame_of(texts), Sleeps())
        assert first.applied == {"is_spam": 1}
        assert store.votes.label_matrix(keys, [(lf.name, lf.version)]).to_dense()[:, 0].tolist() == [HAM, -1, -1]
        _, keys, second, _ = run_store(store, fresh, [lf], frame_of(texts), Sleeps())
        assert second.applied == {"is_spam": 2}
        assert store.votes.label_matrix(keys, [(lf.name, lf.version)]).to_dense()[:, 0].tolist() == [HAM, SPAM, SPAM]
    seen = fresh.stats()["by_prompt"]
    assert [seen[prompt_of(lf, t)] for t in texts] == [1, 4, 1]  # 3 tries, then 1; the last answer was cached


def test_without_a_store_a_lasting_fault_abstains_and_the_lf_goes_on(fresh):
    """apply_lfs keeps nothing between calls, so there is no later run to wait for."""
    lf = spam_lf()
    outputs, _ = apply(fresh, [lf], frame_of(["always broken [[fault:500:always]]", "check out my channel"]),
                       max_attempts=2)  # fmt: skip
    assert outputs[0].labels.tolist() == [-1, SPAM] and outputs[0].processed is None
    assert [type(exc).__name__ for _, exc in outputs[0].errors] == ["InternalServerError"]


def test_retry_after_is_honoured_and_capped(fresh):
    lf = spam_lf()
    sleeps = Sleeps()
    outputs, _ = apply(fresh, [lf], frame_of(["subscribe [[fault:429:2]]"]), sleep=sleeps)
    assert outputs[0].labels.tolist() == [SPAM]
    assert sleeps.waits == [7.0, 7.0]
    capped = Sleeps()
    apply(fresh, [spam_lf(template=TEMPLATE + " ")], frame_of(["x [[fault:429:1]]"]), sleep=capped, max_retry_wait=2.5)
    assert capped.waits == [2.5]


def test_backoff_is_exponential_with_jitter_without_retry_after(fresh):
    sleeps = Sleeps()
    outputs, _ = apply(fresh, [spam_lf()], frame_of(["x [[fault:500:3]]"]), sleep=sleeps, max_attempts=4,
                       backoff_initial=0.5)  # fmt: skip
    assert outputs[0].errors == []
    assert len(sleeps.waits) == 3
    for n, wait in enumerate(sleeps.waits):
        assert 0.5 * 2**n <= wait <= 0.5 * 2**n + 1.0  # tenacity's jitter adds up to 1 s


def test_set_up_errors_stop_the_run_with_the_fix_and_without_the_key(fresh, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-setup-canary")
    with pytest.raises(LLMSetupError) as err:
        apply(fresh, [spam_lf()], frame_of(["a", "b [[fault:401:always]]", "c"]))
    assert "refused the credentials (HTTP 401)" in str(err.value) and "OPENAI_API_KEY" in str(err.value)
    assert "sk-test-setup-canary" not in str(err.value)
    wrong = LLMSettings(base_url=fresh.base_url.removesuffix("/v1"))
    state: dict = {}
    configure(state, wrong)
    with pytest.raises(LLMSetupError, match=r"answered 404 for LF 'is_spam' \(model 'fake'\): check base_url"):
        apply_chunk([spam_lf()], frame_of(["a"]), ApplyContext(2, progress=False, state=state))


def test_missing_column_and_label_space_errors_name_the_lf(fresh):
    with pytest.raises(LFApplicationError, match=r"prompted LF 'q' needs column 'body', which example 'ex0' does not"):
        apply(fresh, [spam_lf("q", template="{body}?")], frame_of(["a"]))
    with pytest.raises(
        LFApplicationError, match=r"prompted LF 'q' maps answers \{'yes': 5\} outside the label space 0..1"
    ):
        apply(fresh, [spam_lf("q", labels={"yes": 5})], frame_of(["a"]))
    assert fresh.stats()["total"] == 0  # checked before any request


def test_a_field_function_bug_is_recorded_like_a_row_lf_error(fresh):
    def fields(x):
        return {"text": x.text[0]}

    lf = PromptLabelingFunction("first_char", TEMPLATE, {"yes": SPAM}, "fake", fields=fields)
    outputs, _ = apply(fresh, [lf], frame_of(["subscribe", ""]))
    assert outputs[0].labels.tolist() == [-1, -1]  # "s" is not spammy; "" raised
    assert [(i, type(e).__name__) for i, e in outputs[0].errors] == [(1, "IndexError")]
    with pytest.raises(LFApplicationError, match="prompted LF 'first_char' raised IndexError preparing example 'ex1'"):
        apply(fresh, [lf], frame_of(["subscribe", ""]), strict=True)


# -- cache -------------------------------------------------------------------------------


def test_warm_rerun_sends_nothing_and_duplicates_are_sent_once(fresh, tmp_path):
    texts = ["subscribe now", "nice song", "subscribe now", "check out my page", "nice song"]
    lfs = [spam_lf(), spam_lf("is_spam_lp", mode="logprobs")]
    with VoteStore(tmp_path / "s.duckdb") as store:
        first, _ = apply(fresh, lfs, frame_of(texts), store=store, run_id=1)
        assert fresh.stats()["total"] == 2 * 3  # 3 distinct texts per LF
        usage = usage_by_lf(store, 1)
        assert usage["cache_hits"].to_list() == [2, 2]
        fresh.reset()
        again, session = apply(fresh, lfs, frame_of(texts), store=store, run_id=2)
        assert fresh.stats()["total"] == 0
        assert session.summary()["requests"] == 0 and session.summary()["cache_hits"] == 10
        for a, b in zip(first, again):
            assert a.labels.tolist() == b.labels.tolist()
        assert again[1].confidence is not None and np.nanmin(again[1].confidence) > 0.5
        # a new label map is a new LF version, re-labelled from the cache: still no request
        flipped, _ = apply(fresh, [spam_lf(labels={"yes": HAM, "no": SPAM})], frame_of(texts), store=store, run_id=3)
        assert fresh.stats()["total"] == 0
        assert flipped[0].labels.tolist() == [1 - v for v in first[0].labels.tolist()]
        # a new template is a new question: sent
        apply(fresh, [spam_lf(template=TEMPLATE + " Be brief.")], frame_of(texts), store=store, run_id=4)
        assert fresh.stats()["total"] == 3
        runs = usage_by_run(store)
        assert runs["requests"].to_list() == [6, 0, 0, 3]
        assert runs["wall_seconds"].min() > 0


def test_confidence_is_stored_with_the_vote_and_kinds_mix(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fresh.base_url)  # no session configured: settings from the environment

    @labeling_function()
    def has_link(x):
        return SPAM if "http" in x.text else -1

    lfs = [has_link, spam_lf(), spam_lf("is_spam_lp", mode="logprobs")]
    frame = frame_of(["see http://x.y", "lovely", "subscribe pls"])
    with VoteStore(tmp_path / "s.duckdb") as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        stats = apply_to_store(store, "d", lfs, frame, keys, cardinality=2, run_id=run, progress=False)
        assert stats.applied == {"has_link": 3, "is_spam": 3, "is_spam_lp": 3}
        got = store.query(
            "SELECT lf_name, count(*), count(confidence), min(confidence) FROM votes GROUP BY lf_name ORDER BY lf_name"
        ).rows()
    assert got[0] == ("has_link", 1, 0, None)
    assert got[1] == ("is_spam", 3, 0, None)
    assert got[2][:3] == ("is_spam_lp", 3, 3) and 0.5 < got[2][3] < 1.0
    in_memory = apply_lfs(lfs, frame, cardinality=2, progress=False)
    assert in_memory.votes.to_dense().tolist() == [[1, 1, 1], [-1, 0, 0], [-1, 1, 1]]


# -- budget ------------------------------------------------------------------------------


def test_request_budget_stops_cleanly_at_exactly_the_budget(fresh, tmp_path):
    texts = [f"comment {i}" + (" subscribe" if i % 2 else "") for i in range(30)]
    lfs = [spam_lf(), spam_lf("again", template=TEMPLATE + " ")]
    with VoteStore(tmp_path / "s.duckdb") as store:
        outputs, session = apply(fresh, lfs, frame_of(texts), store=store, run_id=1, max_requests=10, concurrency=4)
        assert fresh.stats()["total"] == 10  # reserved before sending: never more
        summary = session.summary()
        assert summary["budget_exhausted"] and summary["requests"] == 10
        # LFs are sent one after the other, each in example order: the first LF keeps the votes of
        # a prefix of the examples and abstains on the rest; the second never got its turn
        assert np.flatnonzero(outputs[0].labels != -1).tolist() == list(range(10))
        assert (outputs[1].labels == -1).all()
        assert (outputs[0].processed, outputs[1].processed) == (10, 0)  # the applier's watermarks stop there
        assert summary["skipped"] == 20 + 30
        assert usage_by_run(store)["budget_exhausted"].to_list() == [True]
        # a later run with more budget sends only what was not answered
        fresh.reset()
        outputs, _ = apply(fresh, lfs, frame_of(texts), store=store, run_id=2, max_requests=100)
        assert fresh.stats()["total"] == 50
        assert all((out.labels != -1).all() for out in outputs)


def test_a_run_stopped_by_the_budget_is_finished_by_the_next_run_without_asking_twice(fresh, tmp_path):
    texts = [f"comment {i}" + (" subscribe" if i % 2 else "") for i in range(30)]
    lfs = [spam_lf(), spam_lf("again", template=TEMPLATE + " ")]
    versions = [(lf.name, lf.version) for lf in lfs]
    frame = frame_of(texts)
    with VoteStore(tmp_path / "s.duckdb") as store:
        for budget in (25, None):
            run = store.runs.start("t", {})
            keys = store.examples.sync("d", frame, run).ex_keys
            state: dict = {}
            configure(state, LLMSettings(base_url=fresh.base_url, max_requests=budget, concurrency=4))
            apply_to_store(store, "d", lfs, frame, keys, cardinality=2, run_id=run, progress=False, state=state,
                           chunk_size=10)  # fmt: skip
            if budget:
                # chunk 1: 10 + 10 requests; chunk 2: the first LF got 5 more, the second none.  Each LF's
                # watermark stops where it stopped, so the next run starts there.
                assert store.votes.watermarks("d", versions) == [keys[14], keys[9]]
                assert fresh.stats()["total"] == 25
        stats = fresh.stats()
        assert stats["total"] == 60 and set(stats["by_prompt"].values()) == {1}  # every prompt asked exactly once
        assert store.votes.watermarks("d", versions) == [keys[29], keys[29]]
        votes = store.query(
            "SELECT lf_name, count(*), count(DISTINCT ex_key) FROM votes GROUP BY lf_name ORDER BY lf_name"
        ).rows()
        assert votes == [("again", 30, 30), ("is_spam", 30, 30)]


def test_token_budget_overshoots_by_at_most_the_requests_in_flight(fresh, tmp_path):
    texts = [f"a comment of some length, number {i}" for i in range(40)]
    with VoteStore(tmp_path / "s.duckdb") as store:
        _, session = apply(fresh, [spam_lf()], frame_of(texts), store=store, run_id=1, max_tokens=100, concurrency=4)
        per_request = store.query("SELECT max(prompt_tokens + completion_tokens) FROM llm_cache").rows()[0][0]
    budget = session.budget
    assert budget.exhausted and budget.tokens >= 100
    assert budget.tokens - 100 <= 4 * per_request
    assert fresh.stats()["total"] == budget.requests < 40


# -- dry run -----------------------------------------------------------------------------


def test_dry_run_counts_prompts_after_cache_hits_and_estimates_tokens(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fresh.base_url)
    texts = [f"comment number {i}" for i in range(6)] + ["comment number 0"]
    lf = spam_lf()
    frame = frame_of(texts)
    with VoteStore(tmp_path / "s.duckdb") as store:
        before = dry_run([lf], frame, store)
        assert before.totals()["to_send"] == 6 and before.totals()["cached"] == 0
        chars = sum(len(json.dumps(lf.messages({"text": t}))) for t in dict.fromkeys(texts))
        assert before.totals()["est_prompt_tokens"] == round(chars / 4)
        assert before.totals()["est_completion_tokens"] == 6 * lf.params["max_tokens"]
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame[:3], run).ex_keys
        apply_to_store(store, "d", [lf], frame[:3], keys, cardinality=2, run_id=run, progress=False)
        assert fresh.stats()["total"] == 3
        after = dry_run([lf], frame, store)
        assert (after.totals()["cached"], after.totals()["to_send"]) == (3, 3)
        # calibrated on the cached responses: the fake server counts len(prompt) // 4 tokens
        assert 0 < after.totals()["est_prompt_tokens"] < before.totals()["est_prompt_tokens"]
        keys = store.examples.sync("d", frame, run).ex_keys
        pending = dry_run([lf], frame, store, dataset="d", ex_keys=keys)
        assert pending.totals()["examples"] == 4  # the 3 applied examples are past the watermark
        assert "3 requests to send" in str(after)
    assert fresh.stats()["total"] == 3  # a dry run sends nothing


def test_accounting_is_exact_across_many_flushes(fresh, tmp_path):
    texts = [f"comment {i}" for i in range(40)]
    with VoteStore(tmp_path / "s.duckdb") as store:
        _, session = apply(fresh, [spam_lf()], frame_of(texts), store=store, run_id=1, flush_every=3, concurrency=8)
        usage = usage_by_lf(store, 1).row(0, named=True)
        tokens = store.query("SELECT sum(prompt_tokens), sum(completion_tokens) FROM llm_cache").rows()[0]
        flushes = store.query("SELECT count(DISTINCT recorded_at) FROM llm_usage").rows()[0][0]
    assert flushes > 5  # responses and counters were written in many small batches while requests ran
    assert usage["requests"] == fresh.stats()["total"] == 40 == session.summary()["requests"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == tokens
    assert usage["request_seconds"] > 0
