"""Save and load the universal label models as JSON or npz (never pickle).

The file layout is :mod:`weaksup.persistence`'s, shared with the categorical models: a
``model`` name, its constructor ``params``, and its fitted arrays.  Constructor arguments that are
functions (a distance, a mean operator) cannot be stored; :meth:`load` takes them again.

>>> import numpy as np, tempfile, pathlib
>>> from weaksup.model.regression import RegressionLabelModel
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=200)
>>> model = RegressionLabelModel().fit(y[:, None] + rng.normal(size=(200, 3)))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
>>> model.save(path)
>>> bool(np.allclose(RegressionLabelModel.load(path).noise_var_, model.noise_var_))
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from weaksup.persistence import read_model, write_model


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
        params = {k: v for k, v in self.get_params().items() if k not in self._unsaved_params}  # type: ignore[attr-defined]
        arrays = {name: np.asarray(getattr(self, name), dtype=float) for name in self._fitted_arrays}
        meta = {"params": params, "lf_names": list(self.lf_names_)}  # type: ignore[attr-defined]
        write_model(path, type(self).__name__, meta, arrays)

    @classmethod
    def load(cls, path: str | Path, **params: Any) -> Any:
        """Read a model written by :meth:`save`; ``params`` supplies the unsaved (function) params."""
        state, arrays = read_model(path, cls.__name__)
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
