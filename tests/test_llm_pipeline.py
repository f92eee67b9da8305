"""Prompted LFs in a pipeline: [llm] settings, the run's budget, cost in the run's metrics, --dry-run."""

from __future__ import annotations

import json

import pytest

from weaksup.cli import main
from weaksup.pipeline import ConfigError, load_config, run_pipeline

LFS = '''
from weaksup import ABSTAIN, labeling_function
from weaksup.llm import PromptLabelingFunction

HAM, SPAM = 0, 1
is_spam = PromptLabelingFunction("llm_is_spam", "Is this comment spam? Answer yes or no.\\nComment: {text}",
                                 {"yes": SPAM, "no": HAM}, "test-model")

@labeling_function()
def has_link(x):
    return SPAM if "http" in x.text else ABSTAIN

@labeling_function()
def short(x):
    return HAM if len(x.text.split()) <= 4 else ABSTAIN
'''



def _pipeline(tmp_path, slice_pipeline, server, llm: str):
    (tmp_path / "llm_lfs.py").write_text(LFS)
    text = slice_pipeline.read_text()
    start = text.index("modules = [")
    text = text[:start] + f'modules = ["{tmp_path / "llm_lfs.py"}"]' + text[text.index("]", start) + 1 :]
    slice_pipeline.write_text(text + f'\n[llm]\nbase_url = "{server.base_url}"\napi_key_env = "WS_TEST_KEY"\n' + llm)
    return slice_pipeline


def test_llm_settings_and_budget_come_from_the_pipeline(tmp_path, slice_pipeline, server, monkeypatch, capsys):
    monkeypatch.setenv("WS_TEST_KEY", "sk-test-not-a-secret")
    server.reset()
    pipeline = _pipeline(tmp_path, slice_pipeline, server, "concurrency = 4\nmax_requests = 100\n")

    # A dry run sends nothing and counts every distinct prompt as still to send.
    assert main(["run", str(pipeline), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert server.stats()["total"] == 0
    to_send = int(out.split("dry run: ")[1].split()[0])
    assert 400 <= to_send <= 440  # 440 comments, a few identical texts

    first = run_pipeline(pipeline, progress=False, say=lambda s: None)
    llm = first.metrics["llm"]
    assert llm["requests"] == 100 == server.stats()["total"]  # the budget, never exceeded
    assert llm["budget_exhausted"] is True

    pipeline.write_text(pipeline.read_text().replace("max_requests = 100\n", ""))
    second = run_pipeline(pipeline, progress=False, say=lambda s: None)
    assert second.metrics["llm"]["requests"] == to_send - 100  # the rest, nothing asked twice
    assert server.stats()["total"] == to_send
    assert max(server.stats()["by_prompt"].values()) == 1
    manifest = json.loads((second.run_dir / "manifest.json").read_text())
    assert manifest["metrics"]["llm"]["requests"] == to_send - 100
    assert "sk-test-not-a-secret" not in json.dumps(manifest)

    assert main(["run", str(pipeline), "--dry-run"]) == 0
    assert "dry run: 0 requests to send" in capsys.readouterr().out


def test_llm_section_is_validated(tmp_path, slice_pipeline, server):
    pipeline = _pipeline(tmp_path, slice_pipeline, server, "concurrency = 0\n")
    with pytest.raises(ConfigError, match=r"llm.concurrency.*must be positive"):
        load_config(pipeline)
    pipeline.write_text(pipeline.read_text().replace("concurrency = 0", "api_key = 'sk-123'"))
    with pytest.raises(ConfigError, match=r"unknown key 'llm.api_key'.*known keys in \[llm\]: api_key_env"):
        load_config(pipeline)
