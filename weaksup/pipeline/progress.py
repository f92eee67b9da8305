"""A run's progress, as the user and ``weaksup status`` see it: the phase line on a terminal
(:class:`Phases`, which also mirrors each phase to the status file) and the count of LF
applications committed so far (:class:`ApplyProgress`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from weaksup.pipeline.status import StatusBoard
from weaksup.votes import ascending


class Phases:
    """Enters a run's phases: in the status file and, on a terminal, on a one-line progress bar
    (hidden without a TTY, as under cron, or with ``progress=False``)."""

    names = ("loading data", "syncing examples", "applying LFs", "fitting label model", "writing labels",
             "exporting", "training end model")  # fmt: skip

    def __init__(self, board: StatusBoard, progress: bool) -> None:
        self.board = board
        self.bar = tqdm(total=len(self.names), leave=False, disable=None if progress else True,
                        bar_format="{desc} ({n_fmt}/{total_fmt}, {elapsed})")  # fmt: skip
        self._stop = threading.Event()
        if not self.bar.disable:  # redraw each second, so the elapsed time ticks through a long phase
            threading.Thread(target=self._tick, name="weaksup-progress", daemon=True).start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.bar.refresh()

    def __call__(self, name: str, **counts: int) -> None:
        self.bar.n = self.names.index(name)
        self.bar.set_description_str(f"run {self.board.state['run_id']}: {name}")
        self.board.phase(name, **counts)

    def say(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say``, with the bar lifted while it prints, so a line never runs into the bar."""

        def lifted(line: str) -> None:
            with tqdm.external_write_mode():
                say(line)

        return say if self.bar.disable else lifted

    def close(self) -> None:
        """Stop ticking and clear the bar."""
        self._stop.set()
        self.bar.close()


class ApplyProgress:
    """Counts LF applications committed so far, from each commit's LF versions and key."""

    def __init__(self, keys: np.ndarray, marks: dict[tuple[str, str], int], board: StatusBoard) -> None:
        self.sorted = keys if ascending(keys) else np.sort(keys)  # a streamed run's: no copy
        self.start = {lf: int(np.searchsorted(self.sorted, mark, side="right")) for lf, mark in marks.items()}
        self.done = dict.fromkeys(marks, 0)
        self.total = sum(len(self.sorted) - s for s in self.start.values())
        self.board = board

    def planned(self) -> dict[str, int]:
        """How many examples each LF had to see in this run."""
        return {lf[0]: len(self.sorted) - start for lf, start in self.start.items()}

    def __call__(self, lfs: Sequence[tuple[str, str]], through_key: int) -> None:
        end = int(np.searchsorted(self.sorted, through_key, side="right"))
        for lf in lfs:
            self.done[tuple(lf)] = end - self.start[tuple(lf)]
        self.board.progress(sum(self.done.values()))
