"""Prompted LFs in real processes: a run SIGKILLed mid-way resumes from the cache without
re-asking answered prompts; the API key never reaches the store, exports, logs or the WAL."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from support.llm_server import FakeServer

TEMPLATE = "Comment: {text}\nIs this comment spam? Answer yes or no."
BIN = Path(sys.executable).parent


def interruptible() -> None:
    """Give a child Ctrl-C's default handling: a suite started in the background by a shell without
    job control (``nohup make test &``) ignores SIGINT, the child would inherit that, and Python would
    then never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

APPLY_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import polars as pl
    from weaksup.apply import apply_to_store
    from weaksup.llm import PromptLabelingFunction
    from weaksup.store import VoteStore

    store_path, n, template, then = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    texts = [f"comment {i}" + (" subscribe" if i % 3 == 0 else "") for i in range(n)]
    texts[n // 2] = "hostile [[echo-auth]]"
    frame = pl.DataFrame({"example_id": [f"ex{i}" for i in range(n)], "text": texts})
    lf = PromptLabelingFunction("is_spam", template, {"yes": 1, "no": 0}, "fake")
    store = VoteStore(store_path)
    run = store.runs.start("crash", {})
    keys = store.examples.sync("d", frame, run).ex_keys
    apply_to_store(store, "d", [lf], frame, keys, cardinality=2, run_id=run, progress=False)
    print("applied", flush=True)
    if then == "hang":  # wait to be killed: what is committed stays in the WAL, unchecked-pointed
        time.sleep(600)
    store.runs.finish(run, "succeeded")
    store.close()
    """
)


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "apply_prompts.py"
    path.write_text(APPLY_SCRIPT)
    return path


def child_env(server: FakeServer, key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENAI_BASE_URL"] = server.base_url
    if key:
        env["OPENAI_API_KEY"] = key
    return env


def cached_prompts(store_path: Path) -> set[str]:
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        rows = con.execute("SELECT prompt FROM llm_cache").fetchall()
    finally:
        con.close()
    return {json.loads(r[0])[-1]["content"] for r in rows}


def test_sigkilled_run_resumes_without_re_asking_cached_prompts(tmp_path, script):
    n = 400
    store_path = tmp_path / "votes.duckdb"
    with FakeServer(latency=0.02) as server:
        env = child_env(server)
        cmd = [sys.executable, str(script), str(store_path), str(n), TEMPLATE, "finish"]
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while server.stats()["total"] < n // 2:
            assert child.poll() is None, f"child ended early: {child.communicate()}"
            assert time.monotonic() < deadline, "child never got half way"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.communicate()
        asked_before = server.stats()["by_prompt"]
        cached = cached_prompts(store_path)
        assert 64 <= len(cached) < n  # batches of 64 were committed before the kill; the run did not finish

        resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert resumed.returncode == 0, resumed.stderr
        asked_after = server.stats()["by_prompt"]

    # no duplicate request for any response that was already cached
    assert all(asked_after[p] == asked_before[p] for p in cached)
    # what was lost is at most the unflushed batch plus the requests in flight (flush_every 64, concurrency 8)
    asked_twice = [p for p, count in asked_after.items() if count > 1 and "echo-auth" not in p]
    assert len(asked_twice) <= 64 + 8
    assert len(asked_after) == n
    with duckdb.connect(str(store_path), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT ex_key) FROM votes").fetchall() == [(n - 1, n - 1)]
        assert con.execute("SELECT count(*) FROM llm_cache").fetchall() == [(n - 1,)]
        assert con.execute("SELECT status FROM runs ORDER BY run_id").fetchall() == [("interrupted",), ("succeeded",)]


INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import sys
    import polars as pl
    from weaksup.apply import ApplyContext, apply_chunk
    from weaksup.llm import LLMSettings, PromptLabelingFunction, configure
    from weaksup.store import VoteStore

    store_path, n, template, base_url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    frame = pl.DataFrame({"example_id": [f"ex{i}" for i in range(n)], "text": [f"comment {i}" for i in range(n)]})
    lf = PromptLabelingFunction("is_spam", template, {"yes": 1, "no": 0}, "fake")
    state = {}
    configure(state, LLMSettings(base_url=base_url, concurrency=8, flush_every=100_000))  # no batch fills up
    with VoteStore(store_path) as store:
        apply_chunk([lf], frame, ApplyContext(2, store=store, progress=False, state=state))
    """
)


def test_ctrl_c_keeps_every_response_already_received(tmp_path):
    script = tmp_path / "interrupt.py"
    script.write_text(INTERRUPT_SCRIPT)
    store_path = tmp_path / "votes.duckdb"
    with FakeServer(latency=0.02) as server:
        cmd = [sys.executable, str(script), str(store_path), "2000", TEMPLATE, server.base_url]
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
        deadline = time.monotonic() + 60
        while server.stats()["total"] < 200:
            assert child.poll() is None, f"child ended early: {child.communicate()}"
            assert time.monotonic() < deadline, "child never got going"
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        asked = set(server.stats()["by_prompt"])
    assert child.returncode != 0 and "KeyboardInterrupt" in err
    cached = cached_prompts(store_path)
    # the buffer never reached flush_every, yet everything answered before the interrupt was written;
    # only the requests in flight when it came (at most `concurrency`) may be missing
    assert cached <= asked and len(asked) >= 200
    assert len(asked - cached) <= 8


# -- key safety -------------------------------------------------------------------------


def find_key(root: Path, key: str) -> list[str]:
    """Every place under ``root`` that holds ``key``: each text (and, cast to text, every
    other) column of every table of every DuckDB file, and the raw bytes of every file
    (exports, logs, manifests, WAL files).  A DuckDB file's own bytes prove nothing (strings
    are compressed), which is why its tables are searched through SQL."""
    hits: list[str] = []
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        if key.encode() in path.read_bytes():
            hits.append(f"file {path.relative_to(root)}")
    for path in files:
        if path.suffix != ".duckdb":
            continue
        con = duckdb.connect(str(path), read_only=True)
        try:
            columns = con.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE table_catalog = current_database() ORDER BY ALL"
            ).fetchall()
            assert columns, f"{path} has no tables to search"
            for schema, table, column in columns:
                found = con.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?',
                    [f"%{key}%"],
                ).fetchall()[0][0]
                if found:
                    hits.append(f"table {path.name}:{table}.{column}")
        finally:
            con.close()
    return hits


def write_pipeline(folder: Path) -> Path:
    rows = []
    for i in range(40):
        text = f"subscribe to my channel {i}" if i % 2 == 0 else f"lovely song number {i}"
        rows.append({"text": text, "label": int(i % 2 == 0), "split": "test" if i >= 32 else "train"})
    rows[4]["text"] = "hostile [[echo-auth]] subscribe"
    with open(folder / "data.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    (folder / "prompts.py").write_text(
        textwrap.dedent(
            """
            from weaksup.llm import PromptLabelingFunction

            is_spam = PromptLabelingFunction("is_spam", "Comment: {text}\\nSpam? yes or no.", {"yes": 1, "no": 0},
                                             "fake")
            is_spam_lp = PromptLabelingFunction("is_spam_lp", "Comment: {text}\\nSpam?", {"yes": 1, "no": 0}, "fake",
                                                mode="logprobs")
            is_spam_json = PromptLabelingFunction("is_spam_json", "Comment: {text}\\nSpam? JSON.", {"yes": 1, "no": 0},
                                                  "fake", mode="json")
            """
        )
    )
    config = folder / "pipeline.toml"
    config.write_text(
        'name = "keys"\nstore = "store/keys.duckdb"\n[data]\nsource = "data.csv"\n[labels]\nclasses = ["HAM", "SPAM"]\n'
        '[lfs]\nmodules = ["prompts.py"]\n[export]\ndir = "exports"\nformats = ["parquet", "jsonl", "csv"]\n'
    )
    return config


def test_the_key_never_reaches_the_store_exports_logs_or_wal(tmp_path, script):
    key = f"sk-weaksup-canary-{uuid.uuid4().hex}"
    config = write_pipeline(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    with FakeServer() as server:
        env = child_env(server, key) | {"OPENAI_LOG": "debug"}  # the openai client's own debug log, too
        commands = {
            "run": ["run", str(config)],
            "status": ["status", str(config)],
            "history": ["history", str(config), "--json"],
            "lfs": ["lfs", str(config)],
            "export": [
                "export",
                str(config),
                "--run",
                "1",
                "--format",
                "jsonl",
                "--output",
                str(tmp_path / "exports" / "again.jsonl"),
            ],
        }
        for name, args in commands.items():
            done = subprocess.run(
                [str(BIN / "weaksup"), *args], env=env, capture_output=True, text=True, timeout=120, check=False
            )
            (logs / f"{name}.out").write_text(done.stdout)
            (logs / f"{name}.err").write_text(done.stderr)
            assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        # a second process adds more votes and is killed before any checkpoint: its writes live in the WAL
        store_path = tmp_path / "store" / "keys.duckdb"
        with open(logs / "wal_child.err", "w") as err:
            child = subprocess.Popen(
                [sys.executable, str(script), str(store_path), "30", TEMPLATE, "hang"],
                env=env, stdout=subprocess.PIPE, stderr=err, text=True,
            )  # fmt: skip
            assert child.stdout is not None and child.stdout.readline().strip() == "applied"
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        # the key did reach the server, and a hostile server echoed it back in an error
        assert f"Bearer {key}" in server.stats()["auth"]
    wal = store_path.with_name(store_path.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0
    assert "DEBUG" in (logs / "run.err").read_text()  # the openai client did log
    assert any(p.suffix == ".parquet" for p in (tmp_path / "exports").rglob("*"))
    assert find_key(tmp_path, key) == []
    with duckdb.connect(str(store_path), read_only=True) as con:
        messages = [r[0] for r in con.execute("SELECT message FROM lf_errors WHERE message LIKE '%Bearer%'").fetchall()]
    assert messages and all("Bearer ***" in m for m in messages)  # the echoed key was redacted


def test_the_key_search_finds_a_planted_key(tmp_path):
    """The search above is shown to work: a key planted in a table, a list column, a log or only in a WAL is found."""
    key = f"sk-weaksup-canary-{uuid.uuid4().hex}"
    assert find_key(tmp_path, key) == []
    from weaksup.store import VoteStore

    with VoteStore(tmp_path / "planted.duckdb"):
        pass  # a store's tables, then a key planted in two of them, straight through DuckDB
    with duckdb.connect(str(tmp_path / "planted.duckdb")) as con:
        con.execute(
            "INSERT INTO lf_errors VALUES (1, 'd', 'lf', 'v', 1, 'ex1', 'BadRequestError', ?, now())", [f"leak {key}"]
        )
        con.execute(
            "INSERT INTO votes (lf_name, lf_version, ex_key, ranking) VALUES ('lf', 'v', 1, ['a', ?])", [key]
        )
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.err").write_text(f"something {key} happened\n")
    # only in a WAL: inserted then deleted (no table holds it), the process dying before a checkpoint
    code = (
        "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); con.execute('CREATE TABLE t (s VARCHAR)'); "
        "con.execute('INSERT INTO t VALUES (?)', [sys.argv[2]]); con.execute('DELETE FROM t'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "walonly.duckdb"), key], check=True)
    hits = find_key(tmp_path, key)
    assert "table planted.duckdb:lf_errors.message" in hits
    assert "table planted.duckdb:votes.ranking" in hits
    assert "file logs/run.err" in hits
    assert "file walonly.duckdb.wal" in hits
    assert not any(h.startswith("table walonly.duckdb") for h in hits)  # SQL alone would have missed it


STUBBORN_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from weaksup.llm.batch import run_interruptible

    async def stubborn():  # swallows its cancellation, as a shielded clean-up can
        for _ in range(50):
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                pass
            print("tick", flush=True)
        return "finished"

    run = asyncio.run if sys.argv[1] == "asyncio" else run_interruptible
    print(run(stubborn()), flush=True)
    """
)


@pytest.mark.parametrize("runner", ["asyncio", "weaksup"])
def test_ctrl_c_ends_a_prompting_run_even_when_its_cancellation_is_swallowed(tmp_path, runner):
    """asyncio.run turns Ctrl-C into a cancellation, which a coroutine may swallow and go on to the end
    (exit 0, the interrupt lost); weaksup's runner raises KeyboardInterrupt whatever the task does."""
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script), runner], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=interruptible)  # fmt: skip
    assert child.stdout.readline() == "tick\n"  # running
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    if runner == "asyncio":
        assert child.returncode == 0 and out.endswith("finished\n")  # the flaw this guards against
    else:
        assert child.returncode != 0 and "KeyboardInterrupt" in err and "finished" not in out
