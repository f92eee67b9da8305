"""A newcomer's first hour: LF modules as people write them (dotted names, sibling helpers, shared
LFs), versions that follow the constants an LF reads, ``None`` as an abstain, warnings for LFs
that never fire, and a report that says what it left out and never shows the test split."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from support.project import LFS, ROOT, make_project, query, weaksup

from weaksup import ABSTAIN, apply_lfs, labeling_function
from weaksup.data import with_example_ids
from weaksup.pipeline import load_config, run_pipeline
from weaksup.report import build_report, write_report
from weaksup.store import VoteStore

README = ROOT / "README.md"

PROMO_RULES = '''
from weaksup import ABSTAIN, labeling_function

from helpers import is_promo


@labeling_function()
def promo(x):
    return 1 if is_promo(x.text) else ABSTAIN
'''
HELPERS = '''
import re

PROMO = re.compile(r"subscri|check (it )?out|my channel", re.I)


def is_promo(text):
    return bool(PROMO.search(text))
'''


def _applied(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("applied LFs"))


def _run(pipeline: Path, cwd: Path) -> subprocess.CompletedProcess:
    proc = weaksup("run", str(pipeline), "--quiet", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc


# -- LF modules ----------------------------------------------------------------------------------------


def test_an_lf_module_can_be_named_by_its_dotted_module_name(tmp_path):
    pipeline = make_project(tmp_path)
    package = tmp_path / "rules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "youtube.py").write_text(LFS)
    pipeline.write_text(pipeline.read_text().replace('modules = ["lfs.py"]', 'modules = ["rules.youtube"]'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # not the pipeline's folder: the module is found from the pipeline's folder
    proc = _run(pipeline, elsewhere)
    assert _applied(proc.stdout).startswith("applied LFs 4,200 times (6 LFs)")

    pipeline.write_text(pipeline.read_text().replace('"rules.youtube"', '"rules.no_such"'))
    proc = weaksup("run", str(pipeline), "--quiet", cwd=elsewhere)
    assert proc.returncode == 1
    assert "LF module 'rules.no_such' is neither a file (paths are relative to the pipeline file) nor a module" in proc.stderr


@pytest.mark.parametrize("engine", ["serial", "processes"])
def test_an_lf_file_imports_a_helper_beside_it_without_pythonpath(tmp_path, engine):
    pipeline = make_project(tmp_path, extra=f'\n[engine]\nname = "{engine}"\nworkers = 2\n')
    folder = tmp_path / "labeling"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "promo_rules.py").write_text(PROMO_RULES)
    pipeline.write_text(pipeline.read_text().replace('modules = ["lfs.py"]', 'modules = ["lfs.py", "labeling/promo_rules.py"]'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run(pipeline, elsewhere)
    assert "promo" in query(tmp_path / "store.duckdb", "SELECT DISTINCT lf_name FROM votes")["lf_name"].to_list()
    assert "(7 LFs)" in _applied(proc.stdout)


def test_an_lf_imported_into_two_listed_modules_is_applied_once(tmp_path):
    pipeline = make_project(tmp_path)
    (tmp_path / "more.py").write_text("from lfs import link, subscribe\nfrom shared import shared_rule\n")
    (tmp_path / "extra.py").write_text("from shared import shared_rule\n")
    (tmp_path / "shared.py").write_text(
        "from weaksup import ABSTAIN, labeling_function\n\n\n@labeling_function()\n"
        "def shared_rule(x):\n    return 1 if 'http' in x.text else ABSTAIN\n"
    )
    pipeline.write_text(pipeline.read_text().replace('modules = ["lfs.py"]', 'modules = ["lfs.py", "more.py", "extra.py"]'))
    proc = _run(pipeline, tmp_path)
    assert "(7 LFs)" in _applied(proc.stdout)  # the 6 of lfs.py and shared_rule, each once
    names = query(tmp_path / "store.duckdb", "SELECT lf_name, count(DISTINCT lf_version) AS n FROM votes GROUP BY 1")
    assert sorted(names["lf_name"]) == sorted(["link", "subscribe", "check_out", "my_channel", "short", "praise", "shared_rule"])
    assert set(names["n"]) == {1}


# -- versions ------------------------------------------------------------------------------------------

CONSTANT_LFS = LFS + '''

MAX_WORDS = 4
GREETINGS = ("hi", "hello")


def words(text):
    return text.split()[:20]


@labeling_function()
def terse(x):
    return HAM if len(words(x.text)) <= MAX_WORDS and x.text.lower().split()[:1] != list(GREETINGS[:1]) else ABSTAIN
'''


def test_editing_a_constant_or_helper_an_lf_reads_reapplies_it(tmp_path):
    pipeline = make_project(tmp_path, lfs=CONSTANT_LFS)
    first = _run(pipeline, tmp_path)
    assert "(7 LFs)" in _applied(first.stdout)
    lfs_file = tmp_path / "lfs.py"
    for old, new in (("MAX_WORDS = 4", "MAX_WORDS = 9"), ('("hi", "hello")', '("hey", "hello")'),
                     ("[:20]", "[:30]")):  # fmt: skip
        lfs_file.write_text(lfs_file.read_text().replace(old, new))
        proc = _run(pipeline, tmp_path)
        assert _applied(proc.stdout) == "applied LFs 700 times (terse 700)", (old, proc.stdout)
    versions = query(tmp_path / "store.duckdb", "SELECT count(DISTINCT lf_version) AS n FROM votes WHERE lf_name = 'terse'")
    assert versions["n"][0] == 4
    # an edit elsewhere in the module (a comment, another LF's constant it does not read) re-applies nothing of terse
    lfs_file.write_text(lfs_file.read_text() + "\n# a note\nUNUSED = 1\n")
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0 and "nothing changed since run 4" in proc.stdout


# -- what LFs return -------------------------------------------------------------------------------------


def test_a_row_lf_returning_none_abstains_like_a_vectorized_null():
    @labeling_function()
    def maybe(x):
        if "spam" in x.text:
            return 1
        return None if "ham" not in x.text else 0

    frame = with_example_ids(pl.DataFrame({"text": ["spam here", "ham here", "neither"]}))
    result = apply_lfs([maybe], frame, cardinality=2, progress=False)
    assert result.votes.to_dense()[:, 0].tolist() == [1, 0, ABSTAIN]
    assert result.errors.height == 0
    readme = README.read_text()
    assert "returns a class id, `ABSTAIN` or `None` (which abstains too" in readme


NEVER = LFS + '''

@labeling_function()
def shouts(x):
    return SPAM if x.text.startswith("ZZZZ") else ABSTAIN
'''


def test_an_lf_that_never_fires_is_warned_about_and_polarity_reads_as_class_names(tmp_path):
    pipeline = make_project(tmp_path, lfs=NEVER)
    proc = _run(pipeline, tmp_path)
    assert ("warning: LF 'shouts' never voted (coverage 0 in the LF summary): check what it matches, and the columns "
            "it reads") in proc.stdout  # fmt: skip
    assert sum("never voted" in line for line in proc.stdout.splitlines()) == 1
    rows = {line.split("┆")[0].strip("│ "): line for line in proc.stdout.splitlines() if "┆" in line}
    assert '["SPAM"]' in rows["link"] and '["HAM"]' in rows["short"] and "[]" in rows["shouts"]
    lfs = weaksup("lfs", str(pipeline), cwd=tmp_path)
    assert '["SPAM"]' in lfs.stdout and "[1]" not in lfs.stdout


# -- the report --------------------------------------------------------------------------------------------

WITHOUT_CLEANLAB = "import sys; sys.modules['cleanlab'] = None; from weaksup.cli import main; sys.exit(main(sys.argv[1:]))"


def test_the_report_without_cleanlab_says_why_suspicious_labels_are_missing(tmp_path):
    pipeline = make_project(tmp_path)
    _run(pipeline, tmp_path)
    out = tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-c", WITHOUT_CLEANLAB, "report", str(pipeline), "-o", str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "suspicious labels not checked: cleanlab is not installed: pip install 'weaksup[cleanlab]'" in proc.stdout
    html = out.read_text()
    assert '<section id="suspicious">' in html and "Not checked: cleanlab is not installed" in html
    assert '<a href="#suspicious">' in html
    # asked not to check: nothing to explain
    proc = subprocess.run([sys.executable, "-c", WITHOUT_CLEANLAB, "report", str(pipeline), "-o", str(out), "--no-suspicious"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert proc.returncode == 0 and "not checked" not in proc.stdout and "Not checked" not in out.read_text()


def test_the_report_never_shows_test_examples_or_their_gold(tmp_path, slice_pipeline):
    cfg = load_config(slice_pipeline, ["trainer.name='none'"])
    run_pipeline(cfg, progress=False, say=lambda s: None)
    with VoteStore(tmp_path / "store.duckdb", read_only=True) as store:
        report = build_report(store, export_root=tmp_path / "exports", suspicious=True)
        path = write_report(store, tmp_path / "report.html", export_root=tmp_path / "exports")
        view = report.view
        test = ~view.dev_mask()
        test_ids = set(view.example_ids(np.flatnonzero(test)))
    assert test.sum() == 80 and (test & view.gold_mask()).sum() == 80  # the slice's test split, all with gold
    shown = {name: frame for name, frame in report.buckets.items()}
    assert set(shown) == {"uncovered", "most_conflict", "confident_wrong", "lf_disagreements"}
    for name, frame in shown.items():
        assert frame.height > 0, name
        assert "test" not in frame["split"].to_list(), name
    assert report.suspicious is not None and "test" not in report.suspicious["split"].to_list()
    html = path.read_text()
    assert "Examples of the &#x27;test&#x27; split are never shown, nor their gold" in html
    assert not any(f">{i}<" in html for i in test_ids)


# -- the README ------------------------------------------------------------------------------------------


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _bare_env() -> dict[str, str]:
    """A new shell's environment: no virtualenv on PATH, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYSPARK_PYTHON", "PYTHONHOME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "activate").exists(), reason="needs the .venv that make creates")
def test_the_set_up_section_says_how_to_run_weaksup_from_a_new_shell():
    blocks = re.findall(r"```sh\n(.*?)```", _section("Set-up: two commands"), re.S)
    assert blocks[0].splitlines()[:2] == [
        "make demo   # creates .venv, runs the YouTube spam pipeline on the shipped data",
        "make test   # creates .venv with the dev extras (Snorkel on CPU torch, a local LLM), runs the whole test suite",
    ]  # the two set-up commands stay
    commands = [line.split("#")[0].strip() for block in blocks[1:] for line in block.splitlines() if line.strip()]
    assert commands[0] == ". .venv/bin/activate" and commands[1].startswith(".venv/bin/weaksup ")
    plain = subprocess.run(["bash", "-c", "weaksup schema"], cwd=ROOT, env=_bare_env(), capture_output=True, text=True)
    assert plain.returncode == 127  # what a newcomer's new shell says without it
    for shell in (f"{commands[0]} && weaksup schema", ".venv/bin/weaksup schema"):
        proc = subprocess.run(["bash", "-c", shell], cwd=ROOT, env=_bare_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "[data]" in proc.stdout, (shell, proc.stderr)


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "needs pyspark: pip install -e '.[spark]'"
    return None if shutil.which("java") else "needs a Java 17+ runtime"


@pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))
def test_the_readme_spark_block_runs_from_a_shell_without_the_virtualenv(tmp_path):
    (block,) = [b for b in re.findall(r"```py\n(.*?)```", README.read_text(), re.S) if "SparkEngine()" in b]
    assert "PYSPARK_PYTHON" in _section("Labeling at scale: vectorized LFs, engines, streaming").split("```py\nimport os")[-1]
    script = tmp_path / "spark_block.py"
    script.write_text(block)
    env = {**_bare_env(), "PYTHONPATH": str(ROOT), "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert query(tmp_path / "spark.duckdb", "SELECT count(*) AS n FROM votes")["n"][0] == 1


def test_the_walkthrough_shows_what_its_commands_print(tmp_path):
    """Runs the YouTube walkthrough's first three runs and its diff in a copy of the project: every
    line the README shows for them (hashes included) is a line they print."""
    section = README.read_text().split("### Walkthrough: YouTube comments arriving as files")[1].split("\n### ")[0]
    shown = re.findall(r"```text\n(.*?)```", section, re.S)[:3]
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "labeling_functions").mkdir()
    shutil.copy(ROOT / "pipelines" / "youtube_stream.toml", tmp_path / "pipelines")
    lfs = tmp_path / "labeling_functions" / "youtube_spam.py"
    shutil.copy(ROOT / "labeling_functions" / "youtube_spam.py", lfs)
    (tmp_path / "data").symlink_to(ROOT / "data")
    pipeline = "pipelines/youtube_stream.toml"
    printed = []
    for files in ("0[12]", "0[1-3]"):
        printed.append(_run_in(tmp_path, pipeline, f"data.source=../data/youtube_raw/Youtube{files}-*.csv"))
    edit = re.search(r"with `(\|sale\|deal[^`]*)`", section)
    assert edit is not None
    assert "|sale|deal)" in lfs.read_text()
    lfs.write_text(lfs.read_text().replace("|sale|deal)", edit.group(1)))
    third = _run_in(tmp_path, pipeline, "data.source=../data/youtube_raw/Youtube0[1-3]-*.csv")
    diff = weaksup("diff", pipeline, "2", "3", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    printed.append(third + diff.stdout)
    for text, out in zip(shown, printed):
        got = {" ".join(line.split()) for line in out.splitlines()}
        for line in text.splitlines():
            if line == "..." or line.startswith("outputs: "):
                continue
            assert " ".join(line.split()) in got, line


def _run_in(folder: Path, pipeline: str, source: str) -> str:
    proc = weaksup("run", pipeline, "--quiet", "--set", source, cwd=folder, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


LOG_PHRASES = (r"The issue's targets", r"\bit was [\d.]+[×%]", r"on the final code", r"Earlier runs", r"What was cut",
               r"were found and fixed", r"\(target 100×\)", r"What went:")  # fmt: skip


def test_the_readme_keeps_figures_in_the_benchmarks_and_the_story_out():
    text = README.read_text()
    user_docs = text.replace(_section("Label models"), "")  # that section is another change's
    for phrase in LOG_PHRASES:
        assert not re.search(phrase, user_docs), phrase
    benchmarks = _section("Benchmarks")
    for figure in ("145×", "1.65×", "peak RSS 758 MB", "9.2% of the row-wise wall time"):
        assert figure in benchmarks, figure
    assert "[Benchmarks](#benchmarks)" in _section("Labeling at scale: vectorized LFs, engines, streaming")


KINDS = '''
import polars as pl
from weaksup import ABSTAIN, labeling_function
from weaksup.llm import PromptLabelingFunction
from weaksup.vectorized import vectorized_labeling_function

LIMIT = {limit}


def clip(x):
    return {{"text": x.text[:LIMIT]}}


asks = PromptLabelingFunction("asks", "Spam? {{text}}", {{"yes": 1}}, "m", fields=clip)


@vectorized_labeling_function()
def long_text(frame):
    return pl.when(frame["text"].str.len_chars() > LIMIT).then(1)


@labeling_function()
def short(x):
    return 0 if len(x.text) < LIMIT else ABSTAIN
'''


def test_every_lf_kind_that_runs_a_function_is_versioned_by_the_constants_it_reads(tmp_path):
    from weaksup.pipeline import load_lf_modules

    def versions(name: str, limit: int) -> dict[str, str]:
        (tmp_path / f"{name}.py").write_text(KINDS.format(limit=limit))
        return {lf.name: lf.version for lf in load_lf_modules([tmp_path / f"{name}.py"])}

    a, same, other = versions("a", 600), versions("b", 600), versions("c", 300)
    assert set(a) == {"asks", "long_text", "short"}
    assert a == same  # the same source and constants: the same versions, whatever the module is called
    assert all(a[name] != other[name] for name in a)
