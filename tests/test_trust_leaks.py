"""No leaks: a hostile store whose tables are views reading a file, an API key holding ``"`` and
``\\`` echoed by a server, and a password in ``OPENAI_BASE_URL``: none reaches the store, the
exports, the report, the status files or the terminal.  Real CLI runs, real stores, a loopback
server."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from support.hostile import PEAK_MB, HostileServer, llm_project, measured
from support.project import make_project, query, weaksup


def _everything_written(folder: Path) -> str:
    """Every text file under ``folder`` (exports, reports, status and history files), as one string."""
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".html", ".csv", ".jsonl", ".txt", ".toml"):
            out.append(path.read_text(errors="replace"))
    return "\n".join(out)


def _store_text(store: Path) -> str:
    """Every text the store holds where a secret could land: runs, LF errors, the LLM cache."""
    parts = [query(store, "SELECT * FROM runs").write_json()]
    parts.append(query(store, "SELECT * FROM lf_errors").write_json())
    parts.append(query(store, "SELECT response, prompt FROM llm_cache").write_json())
    return "\n".join(parts)


@pytest.mark.parametrize("how", ["view", "macro"])
def test_a_hostile_store_whose_tables_read_files_is_refused(tmp_path, how):
    pipeline = make_project(tmp_path)
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).returncode == 0
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    store = tmp_path / "store.duckdb"
    con = duckdb.connect(str(store))
    con.execute("ALTER TABLE examples RENAME TO examples_kept")
    reader = f"(SELECT content FROM read_text('{secret}'))"
    if how == "macro":
        con.execute(f"CREATE MACRO leak() AS {reader}")
        reader = "leak()"
    con.execute(f"CREATE VIEW examples AS SELECT ex_key, dataset, example_id, content_hash, split, "
                f"to_json({{'text': {reader}}}) AS data, added_run, retired_run FROM examples_kept")  # fmt: skip
    con.close()

    outputs = tmp_path / "out"
    outputs.mkdir()
    for args in (["report", str(pipeline), "-o", str(outputs / "report.html")],
                 ["export", str(pipeline), "--run", "1", "--format", "csv", "--output", str(outputs / "set.csv")],
                 ["run", str(pipeline), "--quiet", "--force"]):  # fmt: skip
        proc, peak, _ = measured(*args, cwd=tmp_path)
        print(f"hostile store ({how}), {args[0]}: peak RSS {peak:.0f} MB")
        assert proc.returncode == 1 and peak < PEAK_MB, (args, proc.stdout, peak)
        assert "which weaksup never creates" in proc.stderr, proc.stderr
        assert "TOP-SECRET" not in proc.stdout + proc.stderr
    assert "TOP-SECRET" not in _everything_written(tmp_path / "out") + _everything_written(tmp_path / "exports")


def test_store_sql_cannot_read_files(tmp_path):
    """External file access is off on the store's connection, whatever a query asks."""
    from weaksup.store import VoteStore

    (tmp_path / "secret.txt").write_text("TOP-SECRET-CONTENT")
    with VoteStore(tmp_path / "s.duckdb") as store:
        with pytest.raises(duckdb.Error, match="disabled"):
            store.query(f"SELECT content FROM read_text('{tmp_path / 'secret.txt'}')")


KEY = 'sk-te"st\\key-0123456789'


def test_an_api_key_with_quotes_and_backslashes_echoed_by_a_server_is_redacted(tmp_path):
    pipeline = llm_project(tmp_path)
    with HostileServer("echo_auth") as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEY}
        proc, peak, _ = measured("run", str(pipeline), "--quiet", cwd=tmp_path, env=env)
    print(f"echoed key: peak RSS {peak:.0f} MB")
    assert proc.returncode == 0 and peak < PEAK_MB, proc.stderr
    store = tmp_path / "store.duckdb"
    cached = query(store, "SELECT response FROM llm_cache")["response"].to_list()
    assert len(cached) == 24 and all("***" in r for r in cached)
    written = _store_text(store) + _everything_written(tmp_path) + proc.stdout + proc.stderr
    for form in (KEY, json.dumps(KEY)[1:-1], repr(KEY)[1:-1], "te\"st", 'te\\"st', "st\\key", "st\\\\key"):
        assert form not in written, form


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_password_in_the_base_url_never_lands_anywhere(tmp_path, status):
    pipeline = llm_project(tmp_path)
    with HostileServer(f"status:{status}") as server:
        url = server.base_url.replace("http://", "http://someone:PW-hunter2-secret@")
        proc, peak, _ = measured("run", str(pipeline), "--quiet", cwd=tmp_path, env={"OPENAI_BASE_URL": url})
    print(f"password in the base URL, {status}: peak RSS {peak:.0f} MB")
    assert proc.returncode == 1 and peak < PEAK_MB
    assert "http://***@127.0.0.1" in proc.stderr, proc.stderr  # the message still says which server
    store = tmp_path / "store.duckdb"
    error = query(store, "SELECT error FROM runs")["error"][0]
    assert "***@127.0.0.1" in error
    history = weaksup("history", str(pipeline), "--json", cwd=tmp_path).stdout
    status_out = weaksup("status", str(pipeline), cwd=tmp_path).stdout
    written = _store_text(store) + _everything_written(tmp_path) + proc.stdout + proc.stderr + history + status_out
    assert "PW-hunter2-secret" not in written
    assert "someone" not in written
