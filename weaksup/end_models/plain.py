"""End-model files as plain data: numbers and text in an npz file, checked before anything is built.

Reading such a file cannot run code:

- the file must be a zip of exactly the expected ``.npy`` members (a skops file, or one with an
  extra member, is refused by its member names before any member is read);
- the sizes its members declare (the zip's, and each ``.npy`` header's shape) are checked before
  any array is read: a member whose header declares more data than its zip entry holds, or
  members declaring more than :data:`MAX_EXPANSION` times the file's size (a zip bomb: 3 MB of
  zeros declaring 3 GB), are refused, so a hostile file never costs more memory than its size
  allows;
- every member's header is read first and must describe booleans, integers, floats or text,
  never objects (pickles) or structured records; arrays are then read with
  ``np.load(..., allow_pickle=False)``;
- the header (``__meta__``) is JSON, and every value a model passes on to a constructor is
  checked against an allow-list of plain values (:func:`check_params`).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "m.npz"
>>> write_npz(path, "Demo", {"params": {"k": 2}}, {"w": np.array([0.5, 1.5])})
>>> meta, arrays = read_npz(path, "Demo", {"w"})
>>> meta["params"], arrays["w"].tolist()
({'k': 2}, [0.5, 1.5])
>>> terms, ends = encode_strings(["ab", "é c"])
>>> decode_strings(terms, ends)
['ab', 'é c']
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1  # bump when the layout of a model's arrays changes
META = "__meta__"
PLAIN_KINDS = "biufU"  # bool, signed and unsigned int, float, unicode text


MAX_EXPANSION = 50
"""A model file's members may declare at most this many times the file's size (plus
:data:`EXPANSION_SLACK`): weaksup's own files declare about 4 times theirs (coefficients and
IDF weights compress little), a zip bomb hundreds of times."""
EXPANSION_SLACK = 16 * 2**20
"""Bytes any model file may declare beyond :data:`MAX_EXPANSION` times its size (small files)."""


class ModelFileError(ValueError):
    """A model file is not the plain data weaksup writes; nothing in it was run."""


def write_npz(path: str | Path, model: str, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``model`` (a class name), JSON ``meta`` and plain ``arrays`` to a compressed ``.npz`` file."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"save: {path} must end in .npz")
    for name, array in arrays.items():
        if np.asarray(array).dtype.kind not in PLAIN_KINDS:
            raise TypeError(f"save: array {name!r} has dtype {np.asarray(array).dtype}, not plain numbers or text")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"model": model, "format": FORMAT, **meta})
    np.savez_compressed(path, **{META: np.array(header)}, **arrays)


def read_npz(path: str | Path, model: str, names: set[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_npz` holding a ``model`` with exactly the arrays ``names``.

    Refuses, with :class:`ModelFileError`, anything else: checked before any array is read.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no end model at {str(path)!r}; run the pipeline first to train one")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{str(path)!r} is not an npz model file")
    with zipfile.ZipFile(path) as archive:
        members = archive.namelist()
        if "schema.json" in members:
            raise ModelFileError(
                f"{str(path)!r} is a skops file; weaksup no longer loads those (they can hold code): "
                "rerun the pipeline to write its end model as end_model.npz"
            )
        declared = 0
        for info in archive.infolist():
            member = info.filename
            with archive.open(info) as f:
                dtype, shape = _npy_header(f, path, member)
            if dtype.hasobject or dtype.fields is not None or dtype.kind not in PLAIN_KINDS:
                raise ModelFileError(
                    f"{str(path)!r}: array {member!r} has dtype {dtype}; "
                    "weaksup loads only arrays of numbers or text (never pickled objects)"
                )
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise ModelFileError(
                    f"{str(path)!r}: array {member!r} declares shape {shape} of {dtype} "
                    f"({math.prod(shape) * dtype.itemsize:,} bytes) in a zip entry of {info.file_size:,} bytes"
                )
            declared += info.file_size
        size = path.stat().st_size
        if declared > MAX_EXPANSION * size + EXPANSION_SLACK:
            raise ModelFileError(
                f"{str(path)!r}: its arrays declare {declared:,} bytes, {declared / max(size, 1):,.0f} times the "
                f"file's {size:,}; weaksup's model files declare a few times their size, so it reads none of "
                "it (a zip bomb?)"
            )
    with np.load(path, allow_pickle=False) as f:
        if META not in f.files:
            raise ModelFileError(f"{str(path)!r} is not a weaksup model file: it has no {META} header")
        meta = _header(path, str(f[META]))
        if meta.get("model") != model:
            raise ModelFileError(f"{str(path)!r} holds a {meta.get('model')!r} model, not a {model}")
        if meta.get("format") != FORMAT:
            raise ModelFileError(f"{str(path)!r} has format {meta.get('format')!r}; this weaksup reads format {FORMAT}")
        expected = names | {META}
        if set(f.files) != expected or len(members) != len(expected):
            raise ModelFileError(
                f"{str(path)!r} is not a {model} file: it holds {sorted(members)}, "
                f"expected {sorted(n + '.npy' for n in expected)}"
            )
        arrays = {name: f[name] for name in names}
    return meta, arrays


def model_name(path: str | Path) -> str | None:
    """The model class a weaksup model file names (an npz file's header, a JSON file's ``model``), read
    without reading anything else; None when the file names none.  Nothing in the file is run: the
    header must be a text array, read with ``allow_pickle=False``."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            state = json.loads(path.read_text())
        else:
            with zipfile.ZipFile(path) as archive, archive.open(f"{META}.npy") as f:
                dtype, shape = _npy_header(f, path, META)
                if dtype.kind != "U" or math.prod(shape) * dtype.itemsize > EXPANSION_SLACK:
                    return None  # not a header, or one declaring more text than a header holds
                f.seek(0)
                state = json.loads(str(np.lib.format.read_array(f, allow_pickle=False)))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    name = state.get("model") if isinstance(state, dict) else None
    return name if isinstance(name, str) else None


def _header(path: Path, text: str) -> dict[str, Any]:
    """The JSON header of a model file, as a dict."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{str(path)!r}: its {META} header is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{str(path)!r}: its {META} header is not a JSON object")
    return meta


def _npy_header(f: Any, path: Path, member: str) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape in an ``.npy`` member's header, read without reading (or unpickling) its data."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"npy format {version} is not one weaksup writes")
    except ValueError as exc:
        raise ModelFileError(f"{str(path)!r}: member {member!r} is not a numpy array ({exc})") from None
    return dtype, tuple(int(n) for n in shape)


def check_params(params: Any, allowed: Mapping[str, Callable[[Any], bool]], where: str) -> dict[str, Any]:
    """``params`` if it is a dict whose every key is in ``allowed`` and whose value passes that key's check."""
    if not isinstance(params, dict):
        raise ModelFileError(f"{where}: expected a table of parameters, found {type(params).__name__}")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ModelFileError(f"{where}: parameters {unknown} are not allowed; allowed: {sorted(allowed)}")
    for key, value in params.items():
        if not allowed[key](value):
            raise ModelFileError(f"{where}: {key} = {value!r} is not an allowed value")
    return dict(params)


def is_int(value: Any) -> bool:
    """A JSON integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def one_of(*values: Any) -> Callable[[Any], bool]:
    """A check accepting exactly ``values`` (compared with their types, so ``True`` is not ``1``)."""
    return lambda value: any(type(value) is type(v) and value == v for v in values)


def encode_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``strings`` as one array of UTF-8 bytes and the end offset of each (compact, unlike fixed-width text)."""
    encoded = [s.encode("utf-8") for s in strings]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), ends


def decode_strings(data: np.ndarray, ends: np.ndarray) -> list[str]:
    """Invert :func:`encode_strings`."""
    if data.dtype != np.uint8 or ends.dtype.kind != "i" or ends.ndim != 1:
        raise ModelFileError("text arrays must be uint8 bytes and integer end offsets")
    if len(ends) and (ends[-1] != len(data) or (np.diff(ends) < 0).any() or ends[0] < 0):
        raise ModelFileError("text end offsets do not match the bytes")
    raw = data.tobytes()
    starts = np.concatenate([[0], ends[:-1]])
    try:
        return [raw[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist())]
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"text arrays are not UTF-8 ({exc})") from None
