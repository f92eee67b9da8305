"""pandas DataFrames into apply_lfs and the label models (issue 23: Snorkel users' habit), with
pandas staying an optional dependency."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from weaksup import apply_lfs
from weaksup.lf import labeling_function
from weaksup.model import make_label_model


@labeling_function()
def mentions_free(x) -> int | None:
    return 1 if "free" in x["text"] else None


@labeling_function()
def short(x) -> int | None:
    return 0 if len(x["text"]) < 12 else None


def test_apply_lfs_takes_a_pandas_frame_with_or_without_ids():
    texts = ["free money now", "hi there", "free tickets", "see you at noon today"]
    from_pandas = apply_lfs([mentions_free, short], pd.DataFrame({"text": texts}), cardinality=2, progress=False)
    from_polars = apply_lfs([mentions_free, short], pl.DataFrame({"text": texts, "example_id": [str(i) for i in range(4)]}),
                            cardinality=2, progress=False)  # fmt: skip
    assert np.array_equal(from_pandas.votes.to_dense(), from_polars.votes.to_dense())
    with_ids = pd.DataFrame({"example_id": ["a", "b", "c", "d"], "text": texts})
    assert apply_lfs([mentions_free], with_ids, cardinality=2, progress=False).votes.n == 4


def test_label_models_take_a_pandas_label_matrix_and_name_its_columns():
    L = pd.DataFrame({"lf_a": [0, 1, -1, 1, 0], "lf_b": [0, 1, 1, -1, -1], "lf_c": [-1, 1, 1, 1, 0]})
    ours = make_label_model("majority_vote", cardinality=2).fit(L).predict_proba(L)
    assert np.allclose(ours, make_label_model("majority_vote", cardinality=2).fit(L.to_numpy()).predict_proba(L.to_numpy()))
    bad = L.assign(lf_b=[0, 1, 2, -1, -1])
    try:
        make_label_model("majority_vote", cardinality=2).fit(bad)
    except ValueError as exc:
        assert "LF 'lf_b' (column 1) votes 2 on row 2" in str(exc)
    else:
        raise AssertionError("a vote of 2 with 2 classes was accepted")


def test_pandas_stays_optional():
    """With pandas unimportable, apply_lfs and the label models work on polars frames and arrays."""
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import numpy as np, polars as pl\n"
        "from weaksup import apply_lfs\n"
        "from weaksup.model import make_label_model\n"
        "from weaksup.lf import labeling_function\n"
        "mentions_free = labeling_function(name='free')(lambda x: 1 if 'free' in x['text'] else None)\n"
        "short = labeling_function(name='short')(lambda x: 0 if len(x['text']) < 12 else None)\n"
        "frame = pl.DataFrame({'text': ['free money for everyone', 'hi'], 'example_id': ['a', 'b']})\n"
        "votes = apply_lfs([mentions_free, short], frame, cardinality=2, progress=False).votes\n"
        "print(make_label_model('majority_vote', cardinality=2).fit(votes).predict(votes).tolist())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[1, 0]", proc.stderr
    assert not any(d.startswith("pandas") for d in tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"])
