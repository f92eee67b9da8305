"""The ``LATEST`` pointer of an export dir: one line naming the newest complete run folder.

Kept apart from :mod:`.outputs` so that ``weaksup predict`` follows it without importing the store.
"""

from __future__ import annotations

from pathlib import Path

from weaksup.export import write_text_atomic


def point_latest(run_dir: Path) -> None:
    """Atomically make ``LATEST`` (beside the run folders) name ``run_dir``."""
    write_text_atomic(run_dir.parent / "LATEST", run_dir.name + "\n")


def latest_run_dir(root: Path) -> Path | None:
    """The folder ``LATEST`` names, if any."""
    pointer = root / "LATEST"
    return root / pointer.read_text().strip() if pointer.exists() else None
