"""Who an export folder belongs to: the store, and the pipeline, whose runs write there.

weaksup writes and deletes only folders it can tell are its own.  Two small files say whose
a folder is, each written when weaksup creates (or first takes) the folder:

``<export.dir>/.weaksup-exports.json``
    The export dir's owner: the store's id, the store file (its absolute path, and its path
    from the folder) and the pipeline's name.  A run refuses, before any work, an export dir
    that another store or another pipeline owns: two pipelines never share ``run-NNNN``
    folders and ``LATEST``.
``<export.dir>/run-NNNN/.weaksup-run.json``
    The same for one run's folder, with the run id: written the moment the run creates the
    folder, which must not exist yet (a run never writes into a folder it did not make).

A folder is this store's when its file names this store's id and, by either path, this store
file: a copied project's store has the same id as the original's but lives elsewhere, so a
copy never deletes the original's folders (an absolute or symlinked ``export.dir`` leads the
copy to them), while the folders copied along with it (found by the path from the folder) are
the copy's own.  The store's id is a random one drawn when the store is first opened for
writing (:meth:`~weaksup.store.runs.RunRecords.store_id`).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> me, other = Owner("id1", d / "a.duckdb", "p"), Owner("id2", d / "b.duckdb", "p")
>>> me.check_root(d / "exports")
>>> me.claim_run(d / "exports", 1).name, me.owns_run(d / "exports", "run-0001", 1), other.owns_run(d / "exports", "run-0001", 1)
('run-0001', True, False)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weaksup.store import VoteStore

EXPORTS_MARKER = ".weaksup-exports.json"
"""The file naming an export dir's owner."""
RUN_MARKER = ".weaksup-run.json"
"""The file naming a run folder's owner and run."""
RUN_FOLDER = re.compile(r"run-\d{4,}")
"""The name of a run's export folder."""


class ExportFolderError(ValueError):
    """An export folder belongs to another store or pipeline, or was not made by weaksup."""


def run_folder(root: Path, run_id: int) -> Path:
    """The export folder of run ``run_id`` under ``root``."""
    return root / f"run-{run_id:04d}"


def _read(path: Path) -> dict[str, Any] | None:
    """A marker file's record; None when there is none (or it is not one)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _create(path: Path, record: dict[str, Any]) -> bool:
    """Write ``record`` to ``path`` unless the file exists; whether it was written."""
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(json.dumps(record, indent=1))
    except FileExistsError:
        return False
    return True


@dataclass(frozen=True)
class Owner:
    """A store (its id and resolved path) and a pipeline: whose folders a run may write and delete."""

    store_id: str
    store: Path
    pipeline: str

    @classmethod
    def of(cls, store: VoteStore, pipeline: str) -> Owner:
        """The owner for ``pipeline``'s runs in ``store`` (open for writing)."""
        return cls(store.runs.store_id(), Path(store.path).resolve(), pipeline)

    def _record(self, folder: Path, **extra: Any) -> dict[str, Any]:
        return {"store_id": self.store_id, "store": str(self.store),
                "store_from_here": os.path.relpath(self.store, folder.resolve()), "pipeline": self.pipeline, **extra}  # fmt: skip

    def _mine(self, folder: Path, record: dict[str, Any] | None) -> bool:
        """Whether a marker's ``record`` (in ``folder``) names this store."""
        if record is None or record.get("store_id") != self.store_id:
            return False
        places = [record.get("store"), record.get("store_from_here")]
        return any(isinstance(p, str) and (folder.resolve() / p).resolve() == self.store for p in places)

    def _describe(self, record: dict[str, Any]) -> str:
        return f"pipeline {record.get('pipeline')!r} of store {record.get('store')!r} (id {record.get('store_id')})"

    def check_root(self, root: Path) -> None:
        """Raise :class:`ExportFolderError`, saying whose it is and what to do, unless ``root`` (the
        pipeline's ``export.dir``) is this pipeline's or can become it: called before a run's work,
        it writes nothing (:meth:`claim_root` does, when the run exports)."""
        self._whose(root, create=False)

    def claim_root(self, root: Path) -> None:
        """:meth:`check_root`, then make ``root`` this pipeline's (its folder and owner file)."""
        self._whose(root, create=True)

    def _whose(self, root: Path, create: bool) -> None:
        marker = root / EXPORTS_MARKER
        fix = f'give pipeline {self.pipeline!r} an export dir of its own ([export] dir = "exports/{self.pipeline}")'
        record = _read(marker)
        if record is None and marker.exists():
            raise ExportFolderError(f"{marker} is not weaksup's record of the export dir's owner; move it away")
        if record is None:
            found = sorted(p.name for p in root.iterdir() if RUN_FOLDER.fullmatch(p.name)) if root.is_dir() else []
            if (found or (root / "LATEST").exists()) and not self._made_before(root, found):
                raise ExportFolderError(
                    f"export.dir {str(root)!r} already holds run folders ({', '.join(found[:3]) or 'LATEST'}"
                    f"{', ...' if len(found) > 3 else ''}) that no run of this store made (weaksup never writes "
                    f"into or deletes them): move them away, or {fix}"
                )
            if not create:
                return
            root.mkdir(parents=True, exist_ok=True)
            if _create(marker, self._record(root)):
                return
            record = _read(marker)  # another process claimed it meanwhile
        assert record is not None
        if not self._mine(root, record):
            raise ExportFolderError(
                f"export.dir {str(root)!r} holds the runs of another store: {self._describe(record)}, not "
                f"{str(self.store)!r} (id {self.store_id}); weaksup never writes into or deletes another store's "
                f"folders: {fix}, or move the old exports away"
            )
        if record.get("pipeline") != self.pipeline:
            raise ExportFolderError(
                f"export.dir {str(root)!r} holds the runs of pipeline {record.get('pipeline')!r}; two pipelines in "
                f"one export dir would overwrite each other's LATEST: {fix}"
            )

    def _made_before(self, root: Path, found: list[str]) -> bool:
        """Whether an export dir with run folders and no owner file was this pipeline's before weaksup
        wrote one: some run folder's manifest names this pipeline and store file, and none names
        another.  (Such folders are never deleted: they have no run owner file.)"""
        manifests = [_read(root / name / "manifest.json") for name in found]
        named = [(m.get("pipeline"), m.get("store")) for m in manifests if m is not None]
        ours = [isinstance(s, str) and Path(s).is_absolute() and Path(s).resolve() == self.store and p == self.pipeline
                for p, s in named]  # fmt: skip
        return bool(ours) and all(ours)

    def check_free(self, run_dir: Path) -> None:
        """Raise :class:`ExportFolderError` if a run's folder exists before the run made it."""
        if run_dir.exists() or run_dir.is_symlink():
            whose = _read(run_dir / RUN_MARKER)
            made = f"was made by {self._describe(whose)}" if whose else "was not made by a run of this store"
            raise ExportFolderError(
                f"export folder {str(run_dir)!r} already exists and {made}; weaksup never writes into a folder "
                "it did not make: move it away, or point export.dir at a new folder"
            )

    def claim_run(self, root: Path, run_id: int) -> Path:
        """Create run ``run_id``'s folder under ``root`` (which must not exist, in an export dir that
        is this pipeline's: :meth:`claim_root`) and mark it this store's."""
        self.claim_root(root)
        run_dir = run_folder(root, run_id)
        self.check_free(run_dir)
        try:
            run_dir.mkdir()
        except FileExistsError:
            self.check_free(run_dir)
            raise
        _create(run_dir / RUN_MARKER, self._record(run_dir, run_id=run_id))
        return run_dir

    def owns_run(self, root: Path, name: str, run_id: int) -> bool:
        """Whether ``root/name`` is run ``run_id``'s folder, made by this store: a real folder (not a
        link) directly under ``root``, named like a run folder, whose marker names this store and run."""
        folder = root / name
        if not RUN_FOLDER.fullmatch(name) or folder.is_symlink() or not folder.is_dir():
            return False
        record = _read(folder / RUN_MARKER)
        return self._mine(folder, record) and record is not None and record.get("run_id") == run_id
