"""Prompted multi-label LFs (labeling_functions/goemotions_prompts.py): one yes/no question per
label, in logprobs mode and calibrated, through the real openai client against the loopback fake
server; their "yes" reaches the store as that label present, and the label model reads the votes
beside a keyword LF's as label sets."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest
from support.llm_server import FakeServer
from support.project import ROOT

from weaksup.apply import apply_to_store
from weaksup.llm import DevSet, LLMSettings, configure
from weaksup.model import MultiLabelModel
from weaksup.pipeline.sources import load_lf_modules
from weaksup.store import VoteStore
from weaksup.vectorized import VectorizedLabelingFunction

PROMPTS = ROOT / "labeling_functions" / "goemotions_prompts.py"
TUTORIAL = ["admiration", "annoyance", "approval", "curiosity", "gratitude", "optimism"]
CLASSES = ["gratitude", "curiosity", "calm"]
# [[yes:P]]: the fake server answers "yes" with probability P to every question about the comment.
TEXTS = ["thanks a lot [[yes:0.9]]", "why though? [[yes:0.8]]", "ok [[yes:0.05]]", "fine [[yes:0.1]]",
         "thank you! [[yes:0.95]]", "meh [[yes:0.02]]"]  # fmt: skip


@pytest.fixture(autouse=True)
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_FAKE_KEY", "sk-fake-not-a-secret")


def test_prompted_lfs_vote_their_label_present_and_the_store_reads_label_sets(server: FakeServer, tmp_path: Path) -> None:
    shipped = load_lf_modules([PROMPTS])  # what a pipeline listing the module collects: one LF per tutorial label
    assert sorted(lf.name for lf in shipped) == [f"llm_{c}" for c in sorted(TUTORIAL)]
    assert all(lf.label_type == "multilabel" and lf.decision.calibrate == "contextual" for lf in shipped)
    lfs = prompts_module().lfs_for(CLASSES, calibrate="batch", dev=prompts_dev(), coverage=0.5)  # "calm": no question
    assert [(lf.name, lf.labels, lf.label_type, lf.mode) for lf in lfs] == [
        ("llm_gratitude", {"yes": 0}, "multilabel", "logprobs"), ("llm_curiosity", {"yes": 1}, "multilabel", "logprobs")]
    thanks = VectorizedLabelingFunction("thanks", expr=pl.when(pl.col("text").str.contains("thank")).then(pl.lit(["gratitude"])),
                                        label_type="multilabel")  # fmt: skip
    frame = pl.DataFrame({"example_id": [f"c{i}" for i in range(len(TEXTS))], "text": TEXTS})
    state: dict = {}
    configure(state, LLMSettings(base_url=server.base_url, api_key_env="WS_FAKE_KEY"))
    with VoteStore(tmp_path / "v.duckdb") as store:
        run = store.runs.start("t", {})
        keys = store.examples.sync("d", frame, run).ex_keys
        apply_to_store(store, "d", [*lfs, thanks], frame, keys, cardinality=3, run_id=run, progress=False, state=state,
                       classes=CLASSES)  # fmt: skip
        votes = store.votes.read("multilabel", keys, [(lf.name, lf.version) for lf in [*lfs, thanks]], k=3)
        confidence = store.query("SELECT confidence FROM votes WHERE lf_name = 'llm_gratitude' ORDER BY ex_key")
    # the dev set's median "yes" is 0.5: the LFs vote "yes" (their label present) where P clears it, else abstain
    yes = [((0,), ()), ((1,), ())]
    assert votes.cells() == [[*yes, ((0,), ())], [*yes, None], [None, None, None], [None, None, None], [*yes, ((0,), ())],
                             [None, None, None]]  # fmt: skip
    assert confidence["confidence"].is_not_null().all() and confidence.height == 3
    predicted = MultiLabelModel(cardinality=3).fit(votes).predict(votes)
    assert predicted.shape == (6, 3) and not predicted[:, 2].any() and predicted[[0, 1, 4]].any(axis=1).all()


def prompts_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("goemotions_prompts", PROMPTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prompts_dev() -> DevSet:
    """A dev set of comments whose "yes" probabilities spread evenly over (0, 1), without gold."""
    ps = np.round(np.linspace(0.05, 0.95, 10), 2)
    return DevSet(pl.DataFrame({"example_id": [f"d{i}" for i in range(10)], "text": [f"d{i} [[yes:{p}]]" for i, p in enumerate(ps)]}))
