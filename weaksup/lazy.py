"""Packages whose public names are imported on first use, so that importing the package stays cheap
(``weaksup predict`` and ``weaksup status`` need little) and its modules can build on one another in
either order.

A package sets ``__getattr__ = lazy_exports(__name__, {"name": "home.module", ...})``.

>>> get = lazy_exports("weaksup.example", {"COMMIT_ROWS": "weaksup.batches"})
>>> get("COMMIT_ROWS")
100000
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A package ``__getattr__`` that imports each name of ``homes`` from its home module when first asked."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
