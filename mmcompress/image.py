"""Images: the public API of the image modality (``mmcompress.image``).

    blob = mmcompress.image.compress("photo.png")         # a file: byte-exact by default
    blob = mmcompress.image.compress(array)               # a numpy array or PIL image: pixel-exact
    pixels = mmcompress.image.decompress(blob)            # numpy array (H, W) or (H, W, C)
    picture = mmcompress.image.decompress_to_pil(blob)
    mmcompress.image.decompress_to_file(blob, "out.png")  # the file's bytes, written atomically

A file's bytes come back exactly unless ``pixels=True`` (the ``--pixels`` promise: identical
pixels and metadata, re-encoded as PNG). Arrays and PIL images have no file to be exact to:
they are stored as PNG content with the pixel promise. How images are coded (side information +
pixel strips under the pixel model, or the byte path) is :mod:`mmcompress.imaging`'s business.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .api import compress as _compress
from .api import decompress as decompress_bytes
from .atomic import atomic_file
from .detect import Modality, detect_as
from .errors import InputError
from .sources import is_source, read_source

ImageInput = bytes | bytearray | memoryview | str | os.PathLike[str] | np.ndarray | Any


def _png_of(image: Any) -> bytes:
    """PNG bytes of a numpy array or PIL image (pixels kept exactly)."""
    from PIL import Image

    from .imaging.raster import pixels_to_png

    if isinstance(image, np.ndarray):
        if image.dtype not in (np.uint8, np.uint16, np.bool_):
            raise InputError(f"cannot store an array of dtype {image.dtype} as an image")
        try:
            return pixels_to_png(image)
        except ValueError as exc:
            raise InputError(f"cannot store this array as an image: {exc}") from None
    if not isinstance(image, Image.Image):
        raise InputError(f"not an image: {type(image).__name__}")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def compress(
    image: ImageInput, *, name: str = "", level: int | None = None, pixels: bool = False
) -> bytes:
    """Compress an image: file bytes or a path (byte-exact unless ``pixels``), or a numpy array
    / PIL image (pixel-exact). Returns a single-file archive."""
    if is_source(image):
        data, name, _ = read_source(image, name)
    else:
        data, pixels, name = _png_of(image), True, name or "image.png"
    modality = detect_as(Modality.IMAGE, name, data[:4096])
    return _compress(data, level=level, name=name, modality=modality, pixels=pixels)


def decompress_to_pil(blob: bytes) -> Any:
    """The archived image as a PIL image (loaded, independent of the archive)."""
    from PIL import Image

    picture = Image.open(io.BytesIO(decompress_bytes(blob)))
    picture.load()
    return picture


def decompress(blob: bytes) -> np.ndarray:
    """The archived image's pixels: (H, W) or (H, W, C), uint8 or uint16 (palette images give
    their palette indices; use :func:`decompress_to_pil` for the palette)."""
    return np.asarray(decompress_to_pil(blob))


def decompress_to_file(blob: bytes, path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Write the archived image file to ``path`` (atomically; OutputExists unless ``force``)."""
    data = decompress_bytes(blob)
    with atomic_file(Path(path), force) as sink:
        sink.write(data)


__all__ = ["compress", "decompress", "decompress_bytes", "decompress_to_file", "decompress_to_pil"]
