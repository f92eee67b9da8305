"""The README's Python blocks run as written, in order (the prompted-LF ones against the
test chat server, as a user would run them against a local model)."""

import re
from pathlib import Path

import numpy as np
from support.llm_server import FakeServer

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # blocks may write files (a demo store)
    namespace: dict = {}
    with FakeServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test")
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
        assert server.stats()["total"] > 0
    probs = namespace["probs"]
    assert probs.shape == (6, 2) and np.allclose(probs.sum(axis=1), 1)
    pred = probs.argmax(axis=1)
    assert pred[[0, 4]].tolist() == [1, 1] and pred[[1, 5]].tolist() == [0, 0]
    assert namespace["session"].summary()["requests"] >= 0
