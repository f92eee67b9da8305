"""Shared fixtures: a small slice of the shipped YouTube data and a pipeline file for it, the fake chat
server on loopback, and headless Chromium; and the ``slow`` marker on the modules that start browsers,
JVMs, worker pools, schedules or crashing subprocesses.  Helpers without fixtures are in ``tests/support``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.llm_server import FakeServer
from support.project import ROOT

SLOW_MODULES = frozenset({
    "test_crash", "test_engines", "test_llm_crash_and_keys", "test_report_browser", "test_report_layout", "test_schedule",
    "test_spark", "test_trust_data_loss", "test_trust_runs", "test_trust_bounds",
})  # fmt: skip
"""Test modules whose tests take seconds each: ``pytest -m 'not slow'`` leaves them out."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def youtube_slice(tmp_path: Path) -> Path:
    """A WRENCH folder with the first 300 train, 60 valid and 80 test examples of data/youtube."""
    folder = tmp_path / "youtube"
    folder.mkdir()
    for split, size in (("train", 300), ("valid", 60), ("test", 80)):
        data = json.loads((ROOT / "data" / "youtube" / f"{split}.json").read_text())
        (folder / f"{split}.json").write_text(json.dumps(dict(list(data.items())[:size])))
    (folder / "label.json").write_text((ROOT / "data" / "youtube" / "label.json").read_text())
    return folder


@pytest.fixture
def slice_pipeline(tmp_path: Path, youtube_slice: Path) -> Path:
    """A pipeline file running the shipped YouTube LFs on the slice, with its own store and exports."""
    path = tmp_path / "slice.toml"
    path.write_text(
        f"""
name = "yt_slice"
store = "store.duckdb"

[data]
source = "{youtube_slice}"

[labels]
classes = ["HAM", "SPAM"]

[lfs]
modules = ["{ROOT / 'labeling_functions' / 'youtube_spam.py'}"]

[label_model]
name = "majority_vote"

[export]
dir = "exports"
formats = ["parquet", "jsonl", "csv"]
"""
    )
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """The fake chat server (``tests/support/llm_server.py``) in its own process, one per test module;
    a ``hang`` fault sleeps 2 s, past the tests' client timeouts."""
    with FakeServer(latency=0.0, hang=2.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Headless Debian Chromium (``tests/support/browser.py``); the test is skipped, saying why, without it."""
    browser = pytest.importorskip("support.browser", reason="the report's browser tests need websocket-client")
    if not browser.CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with browser.Browser() as b:
        yield b
