"""Memory stays bounded on hostile or large input: zip-bomb and vocabulary-bomb model files, the
report of a crowd run with 18,388 workers, 50 MB LLM answers and 30 MB error texts, a 429 storm
asking to wait 100,000 s, and token counts past 2**63.

Each runs the real CLI in a subprocess and measures its peak resident memory
(:func:`support.hostile.measured`: ``resource.getrusage`` of that process alone), which must stay
under 1 GB."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from support.hostile import PEAK_MB, HostileServer, llm_project, measured
from support.project import query

from weaksup.end_models import SoftTextClassifier


# -- model files --------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    texts = [f"cheap pills offer {i}" if i % 2 else f"great song number {i}" for i in range(40)]
    probs = np.array([[0.1, 0.9] if i % 2 else [0.9, 0.1] for i in range(40)])
    path = tmp_path / "end_model.npz"
    SoftTextClassifier(seed=0).fit(texts, probs).save(path, {"classes": ["HAM", "SPAM"], "text_column": "text"})
    return path


def _with_zero_member(model: Path, out: Path, member: str, descr: str, shape: tuple[int, ...], last: bytes = b"") -> Path:
    """A copy of ``model`` whose ``member`` is an array of zeros of ``shape`` (its final bytes
    ``last``), written through deflate a block at a time: megabytes on disk, gigabytes declared."""
    size = int(np.prod(shape)) * np.dtype(descr).itemsize - len(last)
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info.filename, source.read(info.filename))
                continue
            with target.open(member, "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
                block = bytes(64 * 2**20)
                for start in range(0, size, len(block)):
                    f.write(block[: min(len(block), size - start)])
                f.write(last)
    return out


def test_predict_refuses_a_zip_bomb_and_a_vocabulary_bomb_by_their_declared_sizes(tmp_path, model_file):
    data = tmp_path / "in.csv"
    pl.DataFrame({"text": ["cheap pills", "nice song"]}).write_csv(data)
    ok, peak, _ = measured("predict", str(model_file), str(data), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr  # the model itself is fine

    with np.load(model_file) as arrays:  # 100M empty terms, then the real ones in one: offsets that add up
        text_bytes = len(arrays["chars_terms"])
    bombs = {
        "zip bomb": _with_zero_member(model_file, tmp_path / "bomb.npz", "coef.npy", "<f8", (1, 250_000_000)),
        "vocabulary bomb": _with_zero_member(model_file, tmp_path / "vocab.npz", "chars_ends.npy", "<i8",
                                             (100_000_000,), np.int64(text_bytes).tobytes()),
        "header bomb": _with_zero_member(model_file, tmp_path / "header.npz", "__meta__.npy", "<U1", (500_000_000,)),
    }
    for what, bomb in bombs.items():
        assert bomb.stat().st_size < 4 * 2**20, what  # megabytes on disk
        proc, peak, _ = measured("predict", str(bomb), str(data), cwd=tmp_path)
        print(f"{what}: {bomb.stat().st_size / 2**20:.1f} MB file, peak RSS {peak:.0f} MB")
        assert peak < PEAK_MB, (what, peak)
        assert proc.returncode == 1, (what, proc.stderr)
        assert "times the file's" in proc.stderr and "zip bomb" in proc.stderr, proc.stderr


# -- the report of a crowd run with 18,388 workers ----------------------------------------------


def _crowd(folder: Path, workers: int = 18_388, items: int = 2_000, each: int = 5) -> Path:
    """An answers file of ``workers`` workers answering ``each`` of ``items`` items (1.3 MB), its truth
    and a pipeline over them."""
    rng = np.random.default_rng(0)
    asked = rng.integers(0, items, size=(workers, each))
    truth = rng.integers(0, 2, size=items)
    answers = np.where(rng.random((workers, each)) < 0.8, truth[asked], 1 - truth[asked])
    frame = pl.DataFrame({"question": [f"q{i}" for i in asked.ravel()],
                          "worker": [f"w{w}" for w in np.repeat(np.arange(workers), each)],
                          "answer": answers.ravel()}).unique(["question", "worker"], maintain_order=True)  # fmt: skip
    frame.write_csv(folder / "answer.csv")
    pl.DataFrame({"question": [f"q{i}" for i in range(items)], "truth": truth}).write_csv(folder / "truth.csv")
    pipeline = folder / "crowd.toml"
    pipeline.write_text('name = "crowd"\nstore = "store.duckdb"\n[answers]\nsource = "answer.csv"\ntruth = "truth.csv"\n'
                        '[labels]\nclasses = ["no", "yes"]\n[trainer]\nname = "none"\n[export]\ndir = "exports"\n'
                        'report = false\n')  # fmt: skip
    return pipeline


def test_the_report_of_18388_crowd_workers_stays_small(tmp_path):
    pipeline = _crowd(tmp_path)
    assert 1.1 * 2**20 < (tmp_path / "answer.csv").stat().st_size < 1.5 * 2**20
    run, run_peak, _ = measured("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "from 18,388 workers" in run.stdout
    report, peak, _ = measured("report", str(pipeline), "-o", str(tmp_path / "report.html"), "--no-suspicious",
                               cwd=tmp_path)  # fmt: skip
    print(f"18,388 workers: run peak RSS {run_peak:.0f} MB, report {peak:.0f} MB")
    assert report.returncode == 0, report.stderr
    assert run_peak < PEAK_MB and peak < PEAK_MB
    html = (tmp_path / "report.html").read_text()
    assert "Shown: the 60 LFs with the most votes, of 18,388." in html
    assert len(html) < 40 * 2**20


# -- LLM servers --------------------------------------------------------------------------------

def _env(server: HostileServer) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bounds-test"}


def test_huge_llm_answers_are_refused_without_reading_them(tmp_path):
    pipeline = llm_project(tmp_path)
    pipeline.write_text(pipeline.read_text().replace("concurrency = 8", "concurrency = 24"))  # every answer at once
    with HostileServer("huge", size=50 * 2**20) as server:
        proc, peak, _ = measured("run", str(pipeline), "--quiet", cwd=tmp_path, env=_env(server))
    print(f"24 answers of 50 MB: peak RSS {peak:.0f} MB")
    assert peak < PEAK_MB
    assert proc.returncode == 0, proc.stderr
    errors = query(tmp_path / "store.duckdb", "SELECT error_type, message FROM lf_errors WHERE lf_name = 'llm_is_spam'")
    assert errors.height == 24 and set(errors["error_type"]) == {"ResponseTooLarge"}
    assert "longer than 4,194,304 bytes" in errors["message"][0]
    assert "warning: LF 'llm_is_spam' raised on 24 examples" in proc.stdout


@pytest.mark.parametrize("size", [30 * 2**20, 2**20])  # cut by the client at 4 MB; read whole, then cut
def test_a_huge_error_text_is_cut_before_it_is_printed_or_stored(tmp_path, size):
    pipeline = llm_project(tmp_path)
    with HostileServer("huge_error", size=size) as server:
        proc, peak, _ = measured("run", str(pipeline), "--quiet", cwd=tmp_path, env=_env(server))
    print(f"24 error texts of {size / 2**20:.0f} MB: peak RSS {peak:.0f} MB")
    assert proc.returncode == 0, proc.stderr
    assert peak < PEAK_MB
    assert len(proc.stdout) + len(proc.stderr) < 20_000
    errors = query(tmp_path / "store.duckdb", "SELECT message FROM lf_errors WHERE lf_name = 'llm_is_spam'")
    assert errors.height == 24
    assert max(len(m) for m in errors["message"]) < 2_500
    if size < 4 * 2**20:
        assert "more characters cut" in errors["message"][0]
    report = tmp_path / "exports" / "run-0001" / "report.html"
    assert report.stat().st_size < 2 * 2**20


def test_a_429_storm_asking_to_wait_100000_s_stops_the_lf_and_says_so(tmp_path):
    pipeline = llm_project(tmp_path)
    pipeline.write_text(pipeline.read_text() + "max_retry_wait = 2\n")  # the default, 120 s, works the same, slower
    with HostileServer("storm") as server:
        proc, peak, seconds = measured("run", str(pipeline), "--quiet", cwd=tmp_path, env=_env(server), timeout=150)
        asked = server.requests
    print(f"429 storm: {asked} requests, {seconds:.1f} s, peak RSS {peak:.0f} MB")
    assert proc.returncode == 0, proc.stderr
    assert seconds < 60 and peak < PEAK_MB
    assert asked <= 2 * 8  # the prompts in flight, each asked twice (one wait of 2 s), then no more
    assert "asked to wait 100,000 s" in proc.stdout and "max_retry_wait = 2 s" in proc.stdout
    assert "warning: LF 'llm_is_spam' stopped after 0 of the 24 examples" in proc.stdout


def test_token_counts_past_2_to_the_63_are_read_as_unknown(tmp_path):
    pipeline = llm_project(tmp_path)
    with HostileServer("tokens") as server:
        first, peak, _ = measured("run", str(pipeline), "--quiet", cwd=tmp_path, env=_env(server))
        assert first.returncode == 0, first.stderr
        sent = server.requests
        again, _, _ = measured("run", str(pipeline), "--quiet", "--force", cwd=tmp_path, env=_env(server))
        assert again.returncode == 0, again.stderr
        assert server.requests == sent  # every answer came from the cache
    print(f"token counts past 2**63: peak RSS {peak:.0f} MB")
    assert peak < PEAK_MB
    store = tmp_path / "store.duckdb"
    cached = query(store, "SELECT count(*) AS n, count(prompt_tokens) AS counted FROM llm_cache")
    assert cached["n"][0] == sent and cached["counted"][0] == 0
    votes = query(store, "SELECT count(*) AS n FROM votes WHERE lf_name = 'llm_is_spam'")["n"][0]
    assert votes == 24
    assert json.loads(query(store, "SELECT metrics FROM runs WHERE run_id = 1")["metrics"][0])["llm"]["prompt_tokens"] == 0
