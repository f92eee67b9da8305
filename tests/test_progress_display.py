"""The run's progress line on a real terminal (a pty): printed lines never run into it, and its elapsed
time ticks through a long phase."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from support.project import LFS, ROOT, make_project

SLOW = LFS + '''

import time


@labeling_function()
def slow(x):
    time.sleep(0.004)  # ~3 s over the 700 comments: a phase long enough to watch the clock
    return ABSTAIN
'''


def test_lines_stay_off_the_phase_bar_and_its_clock_ticks(tmp_path):
    pipeline = make_project(tmp_path, lfs=SLOW)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal 160 columns wide
    proc = subprocess.Popen([sys.executable, "-m", "weaksup.cli", "run", str(pipeline)], cwd=tmp_path,
                            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(120) == 0
    out = b"".join(chunks).decode(errors="replace")
    screen = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)  # drop cursor moves and line clears
    # The bar's text never has a printed line glued to it, as in "(6/7, 00:00)LF summary".
    assert not re.search(r"\(\d/7, \d\d:\d\d\)[A-Za-z]", screen), screen[-2000:]
    assert "LF summary (non-test examples):" in screen and "outputs: " in screen
    # Through the ~3 s of applying LFs, the bar is redrawn with the clock moving on.
    clocks = {int(s) for s in re.findall(r"run 1: applying LFs \(2/7, 00:(\d\d)\)", screen)}
    assert len(clocks) >= 2 and max(clocks) >= 2, sorted(clocks)
