"""Lazy package exports: a package's public names, each imported from its home module on first use.

    __getattr__ = lazy_exports(__name__, {"plan": "serializer", ...})

So importing a package (``mmcompress.imaging``, ``mmcompress.videoio``) costs nothing until one of
its names is used: no numba, Pillow or PyAV for a run that never touches images or video.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds ``name`` in ``package``'s submodule ``homes[name]``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{home}", package), name)

    return __getattr__
