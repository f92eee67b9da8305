"""How fitted models are written: JSON (readable) or npz (compact), never pickle.

A file holds the model's class name, a JSON ``meta`` dict (constructor params and the
like) and named numpy arrays.  Every label model saves and loads through one path,
:class:`PersistentModel`.

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
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted


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


class PersistentModel:
    """Mixin of every label model: ``save``/``load`` its constructor params, its fitted arrays
    (``_fitted_arrays``) and its other fitted values (``_fitted_meta``: JSON-able, e.g. ``n_lfs_``
    or ``lf_names_``), with :func:`write_model` and :func:`read_model`.

    Subclasses are scikit-learn estimators (``get_params``); params listed in
    ``_unsaved_params`` are functions and must be passed to :meth:`load` again.
    """

    _fitted_arrays: ClassVar[tuple[str, ...]] = ()
    _fitted_meta: ClassVar[tuple[str, ...]] = ()
    _unsaved_params: ClassVar[tuple[str, ...]] = ()

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path``: ``.json`` (readable) or ``.npz`` (compact).  No pickle."""
        check_is_fitted(self, self._fitted_meta[0] if self._fitted_meta else None)
        meta, arrays = self.fitted_state()
        write_model(path, type(self).__name__, meta, arrays)

    def fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What :meth:`save` writes: JSON-able meta (``params``, ``fitted_meta``) and named arrays.

        A model that holds another model (the default label model holds the structure it chose)
        extends both with the inner model's state (:func:`nest_state`)."""
        params = {k: v for k, v in self.get_params().items() if k not in self._unsaved_params}  # type: ignore[attr-defined]
        arrays = {name: np.asarray(getattr(self, name)) for name in self._fitted_arrays}
        fitted = {name: _plain(getattr(self, name)) for name in self._fitted_meta}
        return {"params": params, "fitted_meta": fitted}, arrays

    @classmethod
    def load(cls, path: str | Path, **params: Any) -> Any:
        """Read a model written by :meth:`save` (the file must hold this class of model);
        ``params`` supplies the unsaved (function) params."""
        state, arrays = read_model(path, cls.__name__)
        return cls.from_fitted_state(state, arrays, str(path), **params)

    @classmethod
    def from_fitted_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray], where: str, **params: Any) -> Any:
        """The model :meth:`fitted_state` describes (``where`` names its file in errors)."""
        missing = [p for p in cls._unsaved_params if p not in params]
        if missing:
            raise ValueError(f"load: {cls.__name__} needs {missing} again (functions are not saved)")
        saved, fitted = check_state(cls, state, arrays, where)
        model = cls(**saved, **params)
        for name in cls._fitted_arrays:
            a = arrays[name]
            setattr(model, name, float(a) if a.ndim == 0 else a)
        for name, value in fitted.items():
            setattr(model, name, tuple(value) if isinstance(value, list) else value)
        return model


def nest_state(state: tuple[dict[str, Any], dict[str, np.ndarray]], attribute: str, inner: PersistentModel) -> None:
    """Add ``inner``'s own state (a model held in ``attribute``) to an outer model's ``state``: its
    meta under ``attribute``, its arrays under ``attribute + "."``."""
    meta, arrays = state
    inner_meta, inner_arrays = inner.fitted_state()
    meta[attribute] = inner_meta
    arrays.update({f"{attribute}.{name}": a for name, a in inner_arrays.items()})


def nested_arrays(arrays: dict[str, np.ndarray], attribute: str) -> dict[str, np.ndarray]:
    """The arrays :func:`nest_state` saved for the model held in ``attribute``, under their own names."""
    prefix = f"{attribute}."
    return {name[len(prefix) :]: a for name, a in arrays.items() if name.startswith(prefix)}


class ModelStateError(ValueError):
    """A label-model file holds something its model does not save: nothing in it was used."""


def check_state(
    cls: type[PersistentModel], state: dict[str, Any], arrays: dict[str, np.ndarray], where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The constructor params and fitted values of a saved ``cls``, checked against an allow-list
    before any is used: params are ``cls``'s own (``cardinality`` an integer of at least 2) with
    plain values (numbers, text, booleans, null), fitted values are those ``cls`` saves and plain
    JSON, and fitted arrays are numbers."""
    name = cls.__name__
    params = state.get("params")
    if not isinstance(params, dict):
        raise ModelStateError(f"load: {where}: its params are not a table of {name} parameters")
    allowed = set(cls._get_param_names()) - set(cls._unsaved_params)  # type: ignore[attr-defined]
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ModelStateError(f"load: {where}: parameters {unknown} are not {name}'s; allowed: {sorted(allowed)}")
    for key, value in params.items():
        if not (value is None or isinstance(value, bool | int | float | str)):
            raise ModelStateError(f"load: {where}: parameter {key} = {value!r} is not a plain value")
    k = params.get("cardinality", 2)
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ModelStateError(f"load: {where}: cardinality = {k!r}; a label model needs an integer of at least 2 classes")
    fitted = state.get("fitted_meta", {})
    if not isinstance(fitted, dict):
        raise ModelStateError(f"load: {where}: its fitted values are not a table")
    legacy = {f"{key}_": state[key] for key in ("n_lfs", "lf_names") if key in state}  # files before fitted_meta
    fitted = {**legacy, **fitted}
    unknown = sorted(set(fitted) - set(cls._fitted_meta))
    if unknown:
        raise ModelStateError(f"load: {where}: fitted values {unknown} are not {name}'s; it saves {list(cls._fitted_meta)}")
    for key, value in fitted.items():
        if not _plain_json(value):
            raise ModelStateError(f"load: {where}: fitted value {key} is not plain JSON (numbers, text, lists, tables)")
    absent = set(cls._fitted_arrays) - set(arrays)
    if absent:
        raise ModelStateError(f"load: {where} lacks fitted arrays {sorted(absent)}")
    for key in cls._fitted_arrays:
        if np.asarray(arrays[key]).dtype.kind not in "biuf":
            raise ModelStateError(f"load: {where}: fitted array {key} holds {arrays[key].dtype}, not numbers")
    return params, fitted


def _plain_json(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is JSON data: null, booleans, numbers, text, and lists and tables of them (not deeper than 8)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if depth >= 8:
        return False
    if isinstance(value, list):
        return all(_plain_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v, depth + 1) for k, v in value.items())
    return False


def _plain(value: Any) -> Any:
    """A fitted value as JSON: tuples become lists, numpy scalars Python numbers."""
    if isinstance(value, tuple):
        return list(value)
    return value.item() if isinstance(value, np.generic) else value
