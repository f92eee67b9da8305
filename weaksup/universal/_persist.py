"""Save and load the universal label models as JSON or npz (never pickle).

The file layout matches the categorical models' (``weaksup.model``): a ``model`` name,
its constructor ``params``, and its fitted arrays.  Constructor arguments that are
functions (a distance, a mean operator) cannot be stored; :meth:`load` takes them again.

>>> import numpy as np, tempfile, pathlib
>>> from weaksup.universal.regression import RegressionLabelModel
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=200)
>>> model = RegressionLabelModel().fit(y[:, None] + rng.normal(size=(200, 3)))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
>>> model.save(path)
>>> bool(np.allclose(RegressionLabelModel.load(path).noise_var_, model.noise_var_))
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted


class PersistentModel:
    """Mixin: ``save``/``load`` of ``_fitted_arrays`` plus ``lf_names_`` and the constructor params.

    Subclasses are scikit-learn estimators (``get_params``); params listed in
    ``_unsaved_params`` are functions and must be passed to :meth:`load` again.
    """

    _fitted_arrays: ClassVar[tuple[str, ...]] = ()
    _unsaved_params: ClassVar[tuple[str, ...]] = ()

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path``: ``.json`` (readable) or ``.npz`` (compact)."""
        check_is_fitted(self, "lf_names_")
        path = Path(path)
        params = {k: v for k, v in self.get_params().items() if k not in self._unsaved_params}  # type: ignore[attr-defined]
        meta = {"model": type(self).__name__, "params": params, "lf_names": list(self.lf_names_)}  # type: ignore[attr-defined]
        arrays = {name: np.asarray(getattr(self, name), dtype=float) for name in self._fitted_arrays}
        if path.suffix == ".json":
            fitted = {name: a.tolist() for name, a in arrays.items()}
            path.write_text(json.dumps({**meta, "fitted": fitted}, indent=1))
        elif path.suffix == ".npz":
            np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
        else:
            raise ValueError(f"save: {path} must end in .json or .npz")

    @classmethod
    def load(cls, path: str | Path, **params: Any) -> Any:
        """Read a model written by :meth:`save`; ``params`` supplies the unsaved (function) params."""
        path = Path(path)
        if path.suffix == ".json":
            state = json.loads(path.read_text())
            arrays = {name: np.array(v, dtype=float) for name, v in state.pop("fitted").items()}
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                state = json.loads(str(f["__meta__"]))
                arrays = {name: f[name] for name in f.files if name != "__meta__"}
        else:
            raise ValueError(f"load: {path} must end in .json or .npz")
        if state.get("model") != cls.__name__:
            raise ValueError(
                f"load: {path} holds a {state.get('model')!r} model, not {cls.__name__}; "
                f"load it with {state.get('model')}.load"
            )
        missing = [p for p in cls._unsaved_params if p not in params]
        if missing:
            raise ValueError(f"load: {cls.__name__} needs {missing} again (functions are not saved)")
        model = cls(**state["params"], **params)
        absent = set(cls._fitted_arrays) - set(arrays)
        if absent:
            raise ValueError(f"load: {path} lacks fitted arrays {sorted(absent)}")
        for name in cls._fitted_arrays:
            a = arrays[name]
            setattr(model, name, float(a) if a.ndim == 0 else a)
        model.lf_names_ = tuple(state["lf_names"])
        return model
