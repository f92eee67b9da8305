"""Export folders that never mix: a run folder belongs to the store that made it, and a folder
another store (or no weaksup run) made is never written into or deleted.  Two stores on one
export dir, two pipelines on one export dir, a fresh store over old exports, and `gc` in a
copied project, each through the real CLI on real stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
from support.project import make_project, query, weaksup


def _run(pipeline: Path, cwd: Path, *args: str) -> None:
    proc = weaksup("run", str(pipeline), "--quiet", *args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr


def _folders(exports: Path) -> list[str]:
    return sorted(p.name for p in exports.iterdir() if p.is_dir())


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _move_store_aside(project: Path) -> None:
    for name in ("store.duckdb", "store.duckdb.status.json", "store.duckdb.history.json"):
        if (project / name).exists():
            (project / name).rename(project / f"old-{name}")


def test_a_failed_run_of_another_store_never_deletes_the_first_stores_folders(tmp_path):
    pipeline = make_project(tmp_path)
    _run(pipeline, tmp_path)
    _run(pipeline, tmp_path, "--force")
    exports = tmp_path / "exports"
    before = _snapshot(exports)
    assert _folders(exports) == ["run-0001", "run-0002"]

    _move_store_aside(tmp_path)  # a second store, same pipeline file and export dir
    (tmp_path / "lfs.py").write_text((tmp_path / "lfs.py").read_text() + "\nraise RuntimeError('broken module')\n")
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    assert _snapshot(exports) == before  # not one file of the first store's exports touched
    assert "another store" in proc.stderr and str(exports) in proc.stderr


def test_a_fresh_store_never_writes_into_an_old_run_folder(tmp_path):
    pipeline = make_project(tmp_path, extra="")
    text = pipeline.read_text().replace('[trainer]\nname = "none"', '[trainer]\nname = "tfidf_logreg"')
    pipeline.write_text(text)
    _run(pipeline, tmp_path)
    exports = tmp_path / "exports"
    (exports / "run-0001" / "stale.txt").write_text("left by hand")
    before = _snapshot(exports)

    _move_store_aside(tmp_path)
    pipeline.write_text(text.replace('name = "tfidf_logreg"', 'name = "none"'))  # a run that trains no end model
    proc = weaksup("run", str(pipeline), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    assert "another store" in proc.stderr and "export.dir" in proc.stderr
    assert _snapshot(exports) == before  # run-0001 neither reused nor cleared, LATEST unmoved
    assert query(tmp_path / "store.duckdb", "SELECT count(*) AS n FROM votes")["n"][0] == 0  # refused before any work


def test_two_pipelines_in_one_export_dir_are_refused(tmp_path):
    make_project(tmp_path)
    text = (tmp_path / "p.toml").read_text()
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    # both leave store and export.dir at their defaults, like two new pipelines in one folder
    for path, name in ((a, "a"), (b, "b")):
        path.write_text(text.replace('name = "yt"', f'name = "{name}"').replace('store = "store.duckdb"\n', "")
                        .replace('[export]\ndir = "exports"\n', "[export]\n").replace('[trainer]\nname = "none"',
                        '[trainer]\nname = "tfidf_logreg"'))  # fmt: skip
    _run(a, tmp_path)
    exports = tmp_path / "exports"
    before = _snapshot(exports)

    proc = weaksup("run", str(b), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    assert "pipeline 'a'" in proc.stderr and 'dir = "exports/b"' in proc.stderr
    assert _snapshot(exports) == before  # a's run-0001 and LATEST untouched
    status = weaksup("status", str(a), cwd=tmp_path)
    assert "run 1 (a): succeeded" in status.stdout, status.stdout
    predicted = weaksup("predict", str(a), str(tmp_path / "incoming" / "Youtube01-Psy.csv"),
                        "--text-column", "CONTENT", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert f"model: {exports / 'run-0001' / 'end_model.npz'}" in predicted.stdout

    # given its own export dir, b runs beside a in the same store; each status shows its own runs
    b.write_text(b.read_text().replace("[export]\n", '[export]\ndir = "exports/b"\n'))
    _run(b, tmp_path)
    assert (exports / "LATEST").read_text().strip() == "run-0001"
    assert (exports / "b" / "LATEST").read_text().strip() == "run-0002"
    assert "run 1 (a): succeeded" in weaksup("status", str(a), cwd=tmp_path).stdout
    assert "run 2 (b): succeeded" in weaksup("status", str(b), cwd=tmp_path).stdout
    history = json.loads(weaksup("history", str(a), "--json", cwd=tmp_path).stdout)
    assert [r["pipeline"] for r in history] == ["a"]


def test_gc_in_a_copy_with_an_absolute_export_dir_leaves_the_originals_folders(tmp_path):
    original, exports = tmp_path / "original", tmp_path / "shared-exports"
    pipeline = make_project(original)
    pipeline.write_text(pipeline.read_text().replace('dir = "exports"', f'dir = "{exports}"'))
    for _ in range(3):
        _run(pipeline, tmp_path, "--force")
    before = _snapshot(exports)

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    proc = weaksup("gc", str(copy / "p.toml"), "--keep", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "0 export folders (left 2 this store cannot tell it made" in proc.stdout
    assert _snapshot(exports) == before
    refused = weaksup("run", str(copy / "p.toml"), "--quiet", "--force", cwd=tmp_path)  # nor written into
    assert refused.returncode == 1 and "another store" in refused.stderr
    assert _snapshot(exports) == before

    proc = weaksup("gc", str(pipeline), "--keep", "1", cwd=tmp_path)  # the original's own gc still works
    assert proc.returncode == 0, proc.stderr
    assert _folders(exports) == ["run-0003"]


def test_gc_in_a_copy_whose_export_dir_is_a_symlink_leaves_the_originals_folders(tmp_path):
    original, target = tmp_path / "original", tmp_path / "elsewhere"
    pipeline = make_project(original)
    target.mkdir()
    (original / "exports").symlink_to(target)
    for _ in range(3):
        _run(pipeline, tmp_path, "--force")
    before = _snapshot(target)
    assert _folders(target) == ["run-0001", "run-0002", "run-0003"]

    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # the copy's exports link to the same folder
    proc = weaksup("gc", str(copy / "p.toml"), "--keep", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(target) == before


def test_a_copy_with_a_relative_export_dir_owns_its_own_copied_folders(tmp_path):
    original = tmp_path / "original"
    pipeline = make_project(original)
    for _ in range(3):
        _run(pipeline, tmp_path, "--force")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    proc = weaksup("gc", str(copy / "p.toml"), "--keep", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _folders(copy / "exports") == ["run-0003"]
    assert _folders(original / "exports") == ["run-0001", "run-0002", "run-0003"]
    _run(copy / "p.toml", tmp_path, "--force")  # and runs on into them
    assert (copy / "exports" / "LATEST").read_text().strip() == "run-0004"


def test_a_folder_no_run_of_this_store_made_is_never_deleted(tmp_path):
    """A run folder made by hand (or by another tool) under the pipeline's export dir, with the
    name a failed run recorded, stays when that run's leftovers are cleaned up."""
    pipeline = make_project(tmp_path)
    _run(pipeline, tmp_path)
    (tmp_path / "lfs.py").write_text((tmp_path / "lfs.py").read_text() + "\nraise RuntimeError('broken module')\n")
    assert weaksup("run", str(pipeline), "--quiet", cwd=tmp_path).returncode == 1  # run 2 failed, recorded run-0002
    mine = tmp_path / "exports" / "run-0002"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (tmp_path / "lfs.py").write_text((tmp_path / "lfs.py").read_text().replace("raise RuntimeError('broken module')", ""))
    proc = weaksup("run", str(pipeline), "--quiet", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (mine / "notes.txt").read_text() == "mine"
    assert (tmp_path / "exports" / "LATEST").read_text().strip() == "run-0003"
    manifest = json.loads((tmp_path / "exports" / "run-0003" / "manifest.json").read_text())
    assert manifest["store_id"] == query(tmp_path / "store.duckdb", "SELECT value FROM meta WHERE key = 'store_id'")["value"][0]
    assert pl.read_parquet(tmp_path / "exports" / "run-0003" / "training_set.parquet").height > 0
