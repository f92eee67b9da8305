"""Labeling functions: small heuristics that vote a class id or abstain.

Write one with the :func:`labeling_function` decorator.  It receives one example
as a :class:`Row` (attribute access to the columns) and returns a class id in
``0..k-1`` or :data:`ABSTAIN` (``-1``):

>>> SPAM, HAM = 1, 0
>>> @labeling_function(resources={"words": ("subscribe", "check out")})
... def lf_promo(x, words):
...     return SPAM if any(w in x.text.lower() for w in words) else ABSTAIN
>>> lf_promo(Row({"text": "Check out my channel"}))
1
>>> lf_promo.name, len(lf_promo.version)
('lf_promo', 12)

**Versions.**  Every LF carries a version so the vote store can tell when it
changed.  Unless pinned with ``version=``, it is a hash of the function's source
code, its preprocessors' source code, its resources, and the module-level values
they read by name (:func:`read_globals`): constants such as ``MAX_WORDS = 5`` or a
compiled pattern, and the source (and such values) of helper functions of your own
that they call.  The hash does **not** see the contents of files an LF reads,
attributes of imported modules (``config.MAX``), objects that are not plain data,
or library upgrades: when such a thing changes, pin a new ``version=`` (or pass
the value in ``resources``) to make the store re-apply the LF.

Snorkel ``LabelingFunction`` objects are accepted unchanged wherever an LF is
expected; :func:`as_labeling_function` wraps them.
"""

from __future__ import annotations

import dis
import hashlib
import inspect
import os
import re
import sysconfig
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from types import CodeType, FunctionType
from typing import Any

from weaksup import label_types
from weaksup.votes import ABSTAIN

__all__ = [
    "ABSTAIN",
    "LABEL_TYPES",
    "LabelingFunction",
    "MissingColumnError",
    "Row",
    "as_labeling_function",
    "canonical",
    "check_unique_names",
    "function_source",
    "labeling_function",
    "read_globals",
    "source_hash",
]

Preprocessor = Callable[[Any], Any]

LABEL_TYPES = tuple(label_types.LABEL_TYPES)
"""What an LF votes: the names of :data:`weaksup.label_types.LABEL_TYPES` (a class id or ``ABSTAIN``;
a list of item ids, best first; a finite number; or any JSON value of a user-defined metric space:
the last three abstain with ``None``).  Pipelines run the types with a task
(:data:`weaksup.label_types.PIPELINE_TYPES`); metric-space votes go to
:class:`weaksup.model.MetricLabelModel` from Python, since its distance is a function."""


class MissingColumnError(AttributeError):
    """An LF read a column the dataset does not have: a set-up error, never an abstain."""

    def __init__(self, column: str, columns: list[str]) -> None:
        super().__init__(f"example has no column {column!r}; its columns are {columns}")
        self.column = column
        self.columns = columns


class Row:
    """One example: its columns as attributes (``x.text``), as Snorkel LFs expect.

    Preprocessors may set new attributes on it.  Reading a column the example
    does not have raises :class:`AttributeError` naming the columns it does have.
    """

    __slots__ = ("__dict__",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        raise MissingColumnError(name, sorted(self.__dict__))

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def copy(self) -> Row:
        return Row(self.__dict__)

    def __repr__(self) -> str:
        return f"Row({self.__dict__!r})"


def canonical(value: Any) -> str:
    """A repr that is stable across processes (sets sorted, dicts by key)."""
    if isinstance(value, Mapping):
        items = sorted((repr(k), canonical(v)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(value, (set, frozenset)):
        return "set(" + ",".join(sorted(canonical(v) for v in value)) + ")"
    if isinstance(value, (list, tuple)):
        return type(value).__name__ + "(" + ",".join(canonical(v) for v in value) + ")"
    if callable(value) and not isinstance(value, type):
        return function_source(value)
    return repr(value)


def _wrapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function an LF object wraps (ours, or a Snorkel one), else ``fn`` itself."""
    return fn.f if isinstance(fn, LabelingFunction) else getattr(fn, "_f", fn)


def function_source(fn: Callable[..., Any]) -> str:
    """Source text of a function (or of an LF object's wrapped function)."""
    target = _wrapped(fn)
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):
        # Built in or defined interactively: fall back to its qualified name.
        return f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}"


LIBRARY_DIRS = tuple(
    os.path.realpath(d) + os.sep
    for d in {*(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")),
              str(Path(__file__).resolve().parent)}
)
"""Where library code lives (the standard library, installed packages, weaksup itself): functions
from there are not the user's helpers, so their source is not part of an LF's version."""

PLAIN = (type(None), bool, int, float, complex, str, bytes, Enum, re.Pattern)


def read_globals(fn: Callable[..., Any]) -> str:
    """The module-level values ``fn`` reads by name, as stable text for its version:
    plain data (numbers, text, ``None``, enums, compiled patterns, and tuples, lists, sets and dicts
    of them) by value, and helper functions of the user's own code by their source and, in turn,
    the values they read (three calls deep).  Modules, classes, library functions and other objects
    are left out: their names are in the source already, and their state is not data to hash."""
    target = _wrapped(fn)
    if not isinstance(target, FunctionType):
        return ""
    parts: list[str] = []
    seen: set[tuple[int, str]] = set()

    def visit(func: FunctionType, depth: int) -> None:
        scope = func.__globals__
        for name in sorted(_global_names(func.__code__)):
            if (id(scope), name) in seen or name not in scope:
                continue
            seen.add((id(scope), name))
            value = scope[name]
            if isinstance(value, FunctionType):
                if depth < 3 and _users_code(value):
                    parts.append(f"{name}={function_source(value)}")
                    visit(value, depth + 1)
            elif _plain(value):
                parts.append(f"{name}={canonical(value)}")

    visit(target, 0)
    return "\n".join(parts)


def _global_names(code: CodeType) -> set[str]:
    """Names ``code`` (and the functions, lambdas and comprehensions inside it) loads as globals."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _global_names(const)
    return names


def _users_code(func: FunctionType) -> bool:
    """Whether ``func`` was defined in a file outside the standard library, installed packages and weaksup."""
    path = func.__code__.co_filename
    return os.path.isabs(path) and not os.path.realpath(path).startswith(LIBRARY_DIRS)


def _plain(value: Any, depth: int = 0) -> bool:
    """Plain data whose text is stable across processes (no object addresses)."""
    if isinstance(value, PLAIN):
        return True
    if depth < 4 and isinstance(value, (tuple, list, set, frozenset)):
        return all(_plain(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def source_hash(*parts: str) -> str:
    """A 12-hex-digit version hash of some text parts."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


class LabelingFunction:
    """A row-wise Python LF: ``f(row, **resources)`` after the ``pre`` chain.

    ``kind`` names the LF's kind (:mod:`weaksup.apply.kinds`), which the applier asks how to run
    it; row-wise LFs are ``"row"``.  Other kinds (vectorized polars expressions, prompted LLM LFs,
    recorded answers) share the same name/version/label-type identity.
    """

    kind = "row"

    def __init__(
        self,
        name: str,
        f: Callable[..., Any],
        resources: Mapping[str, Any] | None = None,
        pre: Sequence[Preprocessor] | None = None,
        version: str | None = None,
        label_type: str = "categorical",
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"LF name must be a non-empty string, got {name!r}")
        if label_type not in LABEL_TYPES:
            raise ValueError(f"LF {name!r}: unknown label_type {label_type!r}; use one of {', '.join(LABEL_TYPES)}")
        self.name = name
        self.f = f
        self.resources = dict(resources or {})
        self.pre = list(pre or [])
        self.label_type = label_type
        read = [text for text in (read_globals(f), *(read_globals(p) for p in self.pre)) if text]
        self.version = version or source_hash(
            function_source(f),
            *(function_source(p) for p in self.pre),
            canonical(self.resources),
            *read,  # the module constants and helpers they read: editing one re-applies the LF
        )

    def __call__(self, x: Any) -> Any:
        for p in self.pre:
            out = p(x)
            x = x if out is None else out
        return self.f(x, **self.resources)

    def __repr__(self) -> str:
        return f"LabelingFunction({self.name!r}, version={self.version!r})"


def labeling_function(
    name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Preprocessor] | None = None,
    version: str | None = None,
    label_type: str = "categorical",
) -> Callable[[Callable[..., Any]], LabelingFunction]:
    """Decorate ``f(x, **resources)`` into a :class:`LabelingFunction`.

    ``name`` defaults to the function's name.  ``pre`` is a list of functions
    applied to the row first (each returns the row, or ``None`` after mutating
    it).  ``version`` pins the version instead of hashing the source.
    """

    def wrap(f: Callable[..., Any]) -> LabelingFunction:
        return LabelingFunction(
            name or f.__name__, f, resources=resources, pre=pre, version=version, label_type=label_type
        )

    return wrap


def as_labeling_function(obj: Any) -> LabelingFunction:
    """Return ``obj`` as a weaksup LF; Snorkel ``LabelingFunction`` objects are wrapped.

    A Snorkel LF keeps its name, resources and preprocessors; its version hashes
    the wrapped function's and preprocessors' source and its resources, like ours.
    """
    if isinstance(obj, LabelingFunction) or isinstance(getattr(obj, "kind", None), str):
        return obj  # ours, of any kind (Snorkel's LFs have no kind)
    f = getattr(obj, "_f", None)
    if f is not None and hasattr(obj, "name") and hasattr(obj, "_resources"):
        return LabelingFunction(obj.name, f, resources=obj._resources, pre=getattr(obj, "_pre", None))
    raise TypeError(
        f"{obj!r} is not a labeling function: decorate it with @labeling_function "
        "(from weaksup.lf) or pass a snorkel.labeling.LabelingFunction"
    )


def check_unique_names(lfs: Iterable[LabelingFunction | Any]) -> None:
    """Raise if two LFs share a name (votes are stored by LF name and version), or a name is not printable."""
    seen: dict[str, Any] = {}
    for lf in lfs:
        if not lf.name.isprintable():  # a newline or control character would garble every table and log line
            raise ValueError(
                f"LF name {lf.name!r} holds a newline or control character; "
                "use printable characters (pass name=... to @labeling_function to rename it)"
            )
        if lf.name in seen:
            raise ValueError(
                f"duplicate LF name {lf.name!r}: every LF in a set needs its own name "
                "(pass name=... to @labeling_function to rename one)"
            )
        seen[lf.name] = lf
