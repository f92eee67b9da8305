"""Old public names kept for one release after a rename or a move: each use warns and names the new one.

A module that lost names sets ``__getattr__ = moved(__name__, {"old": "new.module:new_name"})``;
a registry that lost a key keeps it with :func:`alias_warning`.

>>> import warnings
>>> get = moved("weaksup.example", {"OLD": "weaksup.batches:COMMIT_ROWS"})
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     get("OLD"), str(caught[0].message)
(100000, 'weaksup.example.OLD is deprecated and goes in the next release; use weaksup.batches.COMMIT_ROWS')
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["alias_warning", "moved"]


def alias_warning(old: str, new: str) -> None:
    """Warn that ``old`` is a deprecated name for ``new``."""
    warnings.warn(f"{old} is deprecated and goes in the next release; use {new}", DeprecationWarning, stacklevel=3)


def moved(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``names`` (old name → ``"module:name"`` of the new one) with a warning."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, _, new = names[name].partition(":")
        alias_warning(f"{module}.{name}", f"{home}.{new}")
        return getattr(importlib.import_module(home), new)

    return __getattr__
