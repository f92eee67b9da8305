"""Every LF kind through one contract (:class:`weaksup.apply.kinds.LFKind`), in the spirit of
scikit-learn's ``check_estimator``: one sample LF of each registered kind is applied, chunked,
shipped to a worker when its kind is portable, traced for the columns it reads, and opened for a
run, and each answer is checked against what the applier and the engines rely on."""

from __future__ import annotations

import cloudpickle
import numpy as np
import polars as pl
import pytest
from support.llm_server import FakeServer

from weaksup.apply import apply_lfs, apply_to_store
from weaksup.apply.kinds import LF_KINDS, ApplyContext, LabelingFunctionLike, LFOutput, kind_of
from weaksup.crowd import answer_lfs
from weaksup.engines import LFSet, ProcessEngine, apply_lf_set
from weaksup.engines.base import dumps_lf_set
from weaksup.lf import ABSTAIN, labeling_function
from weaksup.llm import PromptLabelingFunction, configure
from weaksup.store import VoteStore
from weaksup.vectorized import keywords

SPAM = 1
TEXTS = ["subscribe to my channel", "great song", "check out http://x.co", "love it", "free gift subscribe", "ok"]


@labeling_function()
def row_promo(x):
    return SPAM if "subscribe" in x.text else ABSTAIN



def frame() -> pl.DataFrame:
    return pl.DataFrame({"example_id": [f"e{i}" for i in range(len(TEXTS))], "text": TEXTS,
                         "likes": list(range(len(TEXTS)))})  # fmt: skip


def sample_lf(kind: str):
    """One LF of ``kind`` that reads the ``text`` column (answers read the ids only)."""
    if kind == "row":
        return row_promo
    if kind == "vectorized":
        return keywords("vec_promo", ["subscribe", "http"], SPAM)
    if kind == "prompt":
        return PromptLabelingFunction("asks", "Comment: {text}\nIs it spam? Answer yes or no.", {"yes": SPAM}, "fake")
    if kind == "answers":
        return answer_lfs(pl.DataFrame({"item": ["e0", "e2", "e5"], "worker": ["w"] * 3, "vote": [1, 1, 0]}))[0]
    raise AssertionError(f"no sample LF for the new kind {kind!r}: add one here")


def context(server: FakeServer, state: dict | None = None) -> ApplyContext:
    state = {} if state is None else state
    configure(state, {"base_url": server.base_url, "api_key_env": "WS_FAKE_KEY"})
    return ApplyContext(cardinality=2, progress=False, state=state)


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv("WS_FAKE_KEY", "sk-fake-not-a-secret")


@pytest.mark.parametrize("kind", sorted(LF_KINDS))
def test_every_kind_applies_a_batch_under_one_contract(kind, server):
    lf, chunk = sample_lf(kind), frame()
    assert isinstance(lf, LabelingFunctionLike) and lf.kind == kind and kind_of(lf) is LF_KINDS[kind]
    outputs = LF_KINDS[kind].apply_batch([lf], chunk, context(server))
    assert len(outputs) == 1 and isinstance(outputs[0], LFOutput)
    labels = outputs[0].labels
    assert labels.dtype == np.int32 and labels.shape == (chunk.height,)
    assert set(labels.tolist()) <= {ABSTAIN, 0, 1} and (labels == SPAM).any()
    assert outputs[0].processed in (None, chunk.height)


@pytest.mark.parametrize("kind", sorted(LF_KINDS))
def test_every_kinds_votes_do_not_depend_on_the_chunking(kind, server):
    lf = sample_lf(kind)
    whole = apply_lfs([lf], frame(), cardinality=2, progress=False, state=context(server).state)
    one_by_one = apply_lfs([lf], frame(), cardinality=2, progress=False, chunk_size=1, state=context(server).state)
    assert whole.votes.to_dense().tolist() == one_by_one.votes.to_dense().tolist()


@pytest.mark.parametrize("kind", sorted(LF_KINDS))
def test_every_kind_says_which_columns_its_lfs_read(kind):
    lf = sample_lf(kind)
    read = LF_KINDS[kind].columns_read([lf], frame())
    assert read == {lf.name: [] if kind == "answers" else ["text"]}


@pytest.mark.parametrize("kind", sorted(LF_KINDS))
def test_a_portable_kind_travels_to_a_worker_and_votes_the_same_there(kind, server):
    lf, chunk = sample_lf(kind), frame()
    assert isinstance(LF_KINDS[kind].portable, bool) and LF_KINDS[kind].chunk_rows > 0
    for f in LF_KINDS[kind].user_code(lf):
        assert callable(f)
    if not LF_KINDS[kind].portable:
        pytest.skip(f"{kind} LFs run in the process that commits the votes")
    lfset = LFSet([lf], cardinality=2)
    keys = np.arange(10, 10 + chunk.height)
    here = apply_lf_set(lfset, [0], chunk, keys)
    there = apply_lf_set(cloudpickle.loads(dumps_lf_set(lfset)), [0], chunk, keys)
    assert here.votes.equals(there.votes) and here.votes.height > 0


@pytest.mark.parametrize("kind", sorted(LF_KINDS))
def test_what_a_run_opens_for_a_kind_reports_to_the_runs_metrics(kind, server):
    state: dict = {}
    opened = LF_KINDS[kind].open_run(state, {"llm": {"base_url": server.base_url, "api_key_env": "WS_FAKE_KEY"}})
    if opened is None:
        assert state == {}
        return
    assert isinstance(opened.metrics_key, str) and isinstance(opened.summary(), dict)
    assert "WS_FAKE_KEY" not in str(opened.summary()) and "sk-fake" not in str(opened.summary())


def test_a_mixed_lf_set_on_worker_processes_equals_serial_application(tmp_path, server):
    """Portable kinds go to the engine's workers, the others stay in the client: the store ends up
    with the same votes either way."""
    lfs = [sample_lf(kind) for kind in sorted(LF_KINDS)]
    got = []
    for name, engine in (("serial", None), ("processes", ProcessEngine(workers=2))):
        with VoteStore(tmp_path / f"{name}.duckdb") as store:
            keys = store.examples.sync("d", frame(), store.runs.start("t", {})).ex_keys
            apply_to_store(store, "d", lfs, frame(), keys, cardinality=2, progress=False, chunk_size=2,
                           state=context(server).state, engine=engine)  # fmt: skip
            got.append(store.query("SELECT lf_name, ex_key, label FROM votes ORDER BY ALL"))
    assert got[0].equals(got[1]) and set(got[0]["lf_name"]) == {lf.name for lf in lfs}
