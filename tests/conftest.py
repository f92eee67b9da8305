"""Shared fixtures: a small slice of the shipped YouTube data and a pipeline file for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
