"""Bad pipeline settings stop the run before any LF runs, with a message naming the key or column and the fix."""

from __future__ import annotations

from support.project import make_project, query, weaksup


def _fails_before_lfs(tmp_path, pipeline) -> str:  # type: ignore[no-untyped-def]
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    store = tmp_path / "store.duckdb"
    if store.exists():
        assert query(store, "SELECT count(*) AS n FROM votes")["n"][0] == 0
        assert query(store, "SELECT count(*) AS n FROM lf_errors")["n"][0] == 0
    return proc.stderr


def test_a_class_named_twice_is_refused(tmp_path):
    pipeline = make_project(tmp_path)
    pipeline.write_text(pipeline.read_text().replace('classes = ["HAM", "SPAM"]', 'classes = ["ham", "ham"]'))
    err = _fails_before_lfs(tmp_path, pipeline)
    assert f"{pipeline}: labels.classes names ['ham'] more than once; give each class once, in class-id order" in err
    assert not (tmp_path / "store.duckdb").exists()  # refused while reading the file


def test_a_gold_column_missing_from_the_data_is_refused(tmp_path):
    pipeline = make_project(tmp_path)
    pipeline.write_text(pipeline.read_text().replace('gold_column = "CLASS"', 'gold_column = "GOLD"'))
    err = _fails_before_lfs(tmp_path, pipeline)
    assert "data.gold_column 'GOLD' is not in the data" in err and "'CLASS'" in err
    assert "name the column that holds the gold labels" in err


def test_without_a_gold_column_the_run_goes_on_without_scores(tmp_path):
    pipeline = make_project(tmp_path)
    pipeline.write_text(pipeline.read_text().replace('gold_column = "CLASS"\n', ""))
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "label model (label_model) on" not in proc.stdout  # no gold: nothing to score, nothing made up
    # ... and the unnamed CLASS column stays an input (the user did not say it is gold)
    assert "CLASS" in query(tmp_path / "store.duckdb", "SELECT data FROM examples LIMIT 1")["data"][0]


def test_a_trainer_text_column_missing_from_the_data_is_refused(tmp_path):
    pipeline = make_project(tmp_path)
    text = pipeline.read_text().replace('[trainer]\nname = "none"', '[trainer]\nname = "tfidf_logreg"\ntext_column = "body"')
    pipeline.write_text(text)
    err = _fails_before_lfs(tmp_path, pipeline)
    assert "trainer.text_column 'body' is not in the data" in err and "'text'" in err
