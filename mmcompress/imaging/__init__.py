"""Rasters: image files split into pixels plus a header, and rebuilt byte-exactly or pixel-exactly.

``plan_exact`` / ``plan_pixels`` turn an input into an :class:`ImagePlan` (header + pixels) or raise
:class:`NotRaster` (the input takes the byte path); ``rebuild`` inverts a plan. See ``raster.py``.
The names are loaded on first use, so importing the package costs nothing (no numba, no Pillow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .header import ImagePlan, NotRaster
    from .raster import (
        Raster,
        pixels_to_png,
        plan_exact,
        plan_pixels,
        read_raster,
        rebuild,
        same_pixels,
    )

#: Public name -> the module of this package that defines it.
_HOMES = {
    "ImagePlan": "header",
    "NotRaster": "header",
    "Raster": "raster",
    "pixels_to_png": "raster",
    "plan_exact": "raster",
    "plan_pixels": "raster",
    "read_raster": "raster",
    "rebuild": "raster",
    "same_pixels": "raster",
}


__getattr__ = lazy_exports(__name__, _HOMES)


__all__ = [
    "ImagePlan",
    "NotRaster",
    "Raster",
    "pixels_to_png",
    "plan_exact",
    "plan_pixels",
    "read_raster",
    "rebuild",
    "same_pixels",
]
