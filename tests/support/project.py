"""Helpers shared by the pipeline-ops tests (no tests here): a small project over the shipped raw
YouTube files with its own LF module, the CLI as a real subprocess, and read-only looks into a store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "youtube_raw"
FILES = ("Youtube01-Psy.csv", "Youtube02-KatyPerry.csv", "Youtube03-LMFAO.csv")

LFS = '''
import re
from weaksup import ABSTAIN, labeling_function

HAM, SPAM = 0, 1


@labeling_function()
def link(x):
    return SPAM if re.search(r"https?://|www\\.|\\.com", x.text) else ABSTAIN


@labeling_function()
def subscribe(x):
    return SPAM if re.search(r"subscri", x.text, re.I) else ABSTAIN


@labeling_function()
def check_out(x):
    return SPAM if re.search(r"check (it )?out", x.text, re.I) else ABSTAIN


@labeling_function()
def my_channel(x):
    return SPAM if re.search(r"my (channel|video|music)", x.text, re.I) else ABSTAIN


@labeling_function()
def short(x):
    return HAM if len(x.text.split()) <= 5 and not re.search(r"sub|check|http", x.text, re.I) else ABSTAIN


@labeling_function()
def praise(x):
    return HAM if re.search(r"\\b(love|best|song|views)\\b", x.text, re.I) and not re.search(r"\\bmy\\b|check", x.text, re.I) else ABSTAIN
'''


def make_project(
    tmp_path: Path,
    files: tuple[str, ...] = FILES[:2],
    *,
    label_model: str = "label_model",
    chunk_size: int = 20_000,
    lfs: str = LFS,
    extra: str = "",
) -> Path:
    """A pipeline file in ``tmp_path`` reading copies of ``files`` from ``tmp_path/incoming``."""
    incoming = tmp_path / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(RAW / name, incoming / name)
    (tmp_path / "lfs.py").write_text(lfs)
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        f"""name = "yt"
store = "store.duckdb"

[data]
source = "incoming/*.csv"
rename = {{ CONTENT = "text" }}
id_column = "COMMENT_ID"
duplicate_ids = "drop_identical"
gold_column = "CLASS"

[labels]
classes = ["HAM", "SPAM"]

[lfs]
modules = ["lfs.py"]
chunk_size = {chunk_size}

[label_model]
name = "{label_model}"

[trainer]
name = "none"

[export]
dir = "exports"
formats = ["parquet"]
{extra}"""
    )
    return pipeline


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}


def weaksup(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh Python process and wait for it."""
    return subprocess.run([sys.executable, "-m", "weaksup.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env(env))  # fmt: skip


def spawn(*args: str, cwd: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the CLI in the background, stdout and stderr going to ``log``."""
    out = open(log, "w")  # noqa: SIM115  (the child owns it)
    return subprocess.Popen([sys.executable, "-m", "weaksup.cli", *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            text=True, env=_env(env))  # fmt: skip


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def status_file(store: Path) -> dict[str, Any] | None:
    path = store.with_name(store.name + ".status.json")
    return json.loads(path.read_text()) if path.exists() else None


def query(store: Path, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """A read-only query on a store no process holds."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.sql(sql, params=params).pl()
    finally:
        con.close()


def last_labels(store: Path) -> pl.DataFrame:
    """The newest succeeded run's labels by example id, sorted."""
    return query(
        store,
        "SELECT e.example_id, l.probs, l.label, l.n_votes FROM labels l JOIN examples e USING (ex_key) "
        "WHERE l.run_id = (SELECT max(run_id) FROM runs WHERE status = 'succeeded') ORDER BY e.example_id",
    )


def current_votes(store: Path) -> pl.DataFrame:
    """Votes of the newest succeeded run's LF versions on live examples, by example id, sorted."""
    versions = query(store, "SELECT lf_versions FROM runs WHERE status = 'succeeded' ORDER BY run_id DESC LIMIT 1")
    pairs = list(json.loads(versions["lf_versions"][0]).items())
    return query(
        store,
        "SELECT v.lf_name, v.lf_version, e.example_id, v.label FROM votes v JOIN examples e USING (ex_key) "
        "WHERE e.retired_run IS NULL AND (v.lf_name, v.lf_version) IN (SELECT unnest(?), unnest(?)) "
        "ORDER BY v.lf_name, e.example_id",
        [[p[0] for p in pairs], [p[1] for p in pairs]],
    )
