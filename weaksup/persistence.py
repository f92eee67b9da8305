"""How fitted models are written: JSON (readable) or npz (compact), never pickle.

A file holds the model's class name, a JSON ``meta`` dict (constructor params and the
like) and named numpy arrays.  Categorical and universal label models share this layout.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "m.json"
>>> write_model(path, "Demo", {"params": {"k": 2}}, {"w": np.array([0.5, np.nan])})
>>> meta, arrays = read_model(path, "Demo")
>>> meta["params"], arrays["w"].tolist()
({'k': 2}, [0.5, nan])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def write_model(path: str | Path, model: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``model`` (a class name), ``meta`` and ``arrays`` to a ``.json`` or ``.npz`` file."""
    path = Path(path)
    meta = {"model": model, **meta}
    if path.suffix == ".json":
        fitted = {
            name: np.where(np.isnan(a), None, a).tolist() if a.dtype.kind == "f" else a.tolist()
            for name, a in ((n, np.asarray(a)) for n, a in arrays.items())
        }
        path.write_text(json.dumps({**meta, "fitted": fitted}, indent=1))
    elif path.suffix == ".npz":
        np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    else:
        raise ValueError(f"save: {path} must end in .json or .npz")


def read_model(path: str | Path, model: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_model`; it must hold a ``model``."""
    path = Path(path)
    if path.suffix == ".json":
        meta = json.loads(path.read_text())
        arrays = {name: np.array(v, dtype=float) for name, v in meta.pop("fitted").items()}
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"]))
            arrays = {name: f[name] for name in f.files if name != "__meta__"}
    else:
        raise ValueError(f"load: {path} must end in .json or .npz")
    if meta.get("model") != model:
        raise ValueError(
            f"load: {path} holds a {meta.get('model')!r} model, not {model}; load it with {meta.get('model')}.load"
        )
    return meta, arrays
