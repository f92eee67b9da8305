"""The README's Python quickstart runs as written."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_in_order():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    probs = namespace["probs"]
    assert probs.shape == (6, 2) and np.allclose(probs.sum(axis=1), 1)
    pred = probs.argmax(axis=1)
    assert pred[[0, 4]].tolist() == [1, 1] and pred[[1, 5]].tolist() == [0, 0]
