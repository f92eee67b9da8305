"""Honest output: LF errors are never silent (a warning per LF, `weaksup lfs --errors`, `status`), a prompted LF
that fails or stops says so, and label-model accuracy is reported with its coverage."""

from __future__ import annotations

import re

from support.project import LFS, make_project, query, weaksup

from weaksup.cli import main
from weaksup.pipeline.status import format_status

FLAKY = LFS + '''

@labeling_function()
def flaky(x):
    if "love" in x.text.lower():
        raise ValueError("no love for " + x.COMMENT_ID)
    return ABSTAIN
'''


def test_an_lf_that_raises_is_reported_and_its_errors_listed(tmp_path):
    pipeline = make_project(tmp_path, lfs=FLAKY.replace("x.COMMENT_ID", "x.AUTHOR"))
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warning = next(line for line in proc.stdout.splitlines() if line.startswith("warning: LF 'flaky'"))
    n = int(re.search(r"raised on (\d+) examples", warning).group(1))
    assert n > 10 and "first on example '" in warning and "ValueError: no love for " in warning
    assert f"`weaksup lfs {pipeline} --errors`" in warning

    listed = weaksup("lfs", str(pipeline), "--errors", "--limit", "0", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "┆ flaky" in line]
    assert len(rows) == n and all("no love for" in row for row in rows)
    assert f"LF errors: {n:,}" in format_status(tmp_path / "store.duckdb")


def test_label_model_accuracy_comes_with_coverage_and_covered_accuracy(tmp_path):
    pipeline = make_project(tmp_path)
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("label model (label_model) on train: "))
    cov, covered, every = map(float, re.findall(r"\d\.\d{3}", line))
    assert 0.5 < cov < 1  # the raw comments have rows no LF votes on
    assert covered > every  # uncovered rows get the prior's label and pull accuracy on all rows down



PROMPTED = '''
from weaksup.llm import PromptLabelingFunction

HAM, SPAM = 0, 1
rejected = PromptLabelingFunction("rejected", "[[echo-auth]] Is this spam? {text}", {"yes": SPAM, "no": HAM}, "m")
overloaded = PromptLabelingFunction("overloaded", "[[fault:500:always]] Is this spam? {text}",
                                    {"yes": SPAM, "no": HAM}, "m")
'''


def test_prompted_lfs_that_fail_or_stop_say_so(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("WS_TEST_KEY", "sk-test-not-a-secret")
    pipeline = make_project(tmp_path, lfs=LFS + PROMPTED, chunk_size=20,  # a failing LF stops at its first chunk
                            extra=f'\n[llm]\nbase_url = "{server.base_url}"\napi_key_env = "WS_TEST_KEY"\n'
                                  "max_attempts = 2\ntimeout = 5\n")  # fmt: skip
    assert main(["run", str(pipeline), "--quiet"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    rejected = next(line for line in out.splitlines() if line.startswith("warning: LF 'rejected' raised on"))
    assert "first on example '" in rejected
    assert "warning: LF 'overloaded' raised on 1 examples" in out and "InternalServerError" in out
    stopped = next(line for line in out.splitlines() if line.startswith("warning: LF 'overloaded' stopped after"))
    assert "stopped after 0 of the 700 examples it had to see" in stopped and "the next run carries on" in stopped
    assert "sk-test-not-a-secret" not in out


REFUSED_ONCE = '''
from weaksup.llm import PromptLabelingFunction

HAM, SPAM = 0, 1
refused = PromptLabelingFunction("refused", "[[fault:400:1]] Is this spam? Answer yes or no. {text}",
                                 {"yes": SPAM, "no": HAM}, "m")
'''


def test_retry_failed_asks_a_refused_prompt_again_once_the_server_is_fixed(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("WS_TEST_KEY", "sk-test-not-a-secret")
    pipeline = make_project(tmp_path, files=("Youtube01-Psy.csv",), lfs=LFS + REFUSED_ONCE,
                            extra=f'\n[llm]\nbase_url = "{server.base_url}"\napi_key_env = "WS_TEST_KEY"\n')  # fmt: skip
    store = tmp_path / "store.duckdb"
    votes = "SELECT count(*) AS n FROM votes WHERE lf_name = 'refused'"
    errors = "SELECT count(*) AS n FROM lf_errors WHERE lf_name = 'refused'"
    assert main(["run", str(pipeline), "--quiet"]) == 0  # every prompt refused (400) on its first try
    n = query(store, errors)["n"][0]
    assert n > 300 and query(store, votes)["n"][0] == 0
    assert main(["run", str(pipeline), "--quiet"]) == 0  # a plain rerun does not ask again
    assert "nothing changed since run 1" in capsys.readouterr().out and query(store, votes)["n"][0] == 0

    assert main(["run", str(pipeline), "--quiet", "--reapply-failed"]) == 0  # the server now answers (2nd try)
    out = capsys.readouterr().out
    assert f"re-applied LF 'refused' to the {n:,} examples it had failed on: {n:,} now answered, 0 failed again" in out
    assert query(store, errors)["n"][0] == 0 and query(store, votes)["n"][0] > 0
    labels = query(store, "SELECT DISTINCT run_id FROM labels ORDER BY 1")["run_id"].to_list()
    assert labels == [1, 3]  # the retry's votes went into a refit
