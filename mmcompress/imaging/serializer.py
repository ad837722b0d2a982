"""The raster serializer: an image file as container blocks (side information + pixel strips).

An image entry (serializer ``"raster"``) is stored as

    side blocks   : frame ``<BQ`` (version, header length) + the raster plan's header bytes
                    (PNG chunks, filter recipe, palette, metadata ...), cut into byte blocks
    pixel strips  : the pixels, cut into strips of whole rows, each strip one block in the
                    pixel codec's raw form (:func:`mmcompress.predictors.pixel.pixels_to_block`)

Two promises (docs/FORMAT.md, "Serializers"): ``"bytes"``, the original file comes back byte for
byte (verified at pack time by :func:`.raster.plan_exact`), and ``"pixels"`` (``--pixels``): the
same pixels and metadata, written as PNG. A file that cannot take the pixel path returns None
here and goes the byte path (serializer ``"bytes"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CorruptArchive
from ..sideframe import read_side, side_blocks

if TYPE_CHECKING:
    from .raster import ImagePlan

#: The serializers this module implements, as archives record them (``meta["serializers"]``).
RASTER_EXACT: dict[str, Any] = {"id": "raster", "version": 1, "promise": "bytes"}
RASTER_PIXELS: dict[str, Any] = {"id": "raster", "version": 1, "promise": "pixels"}
SERIALIZERS = (RASTER_EXACT, RASTER_PIXELS)
#: Their entry ``serializer`` numbers in archives that list them (after "bytes", number 0).
EXACT_NUMBER, PIXELS_NUMBER = 1, 2

#: Pixel data beyond this takes the byte path (the pixel path holds a whole image in memory).
MAX_RASTER_BYTES = 256 << 20
#: Image files beyond this are not even parsed: they take the byte path.
MAX_FILE_BYTES = 256 << 20
#: Side information beyond this is refused when decoding (a hostile header must not allocate).
MAX_HEADER_BYTES = 64 << 20


class Block:
    """Roles of a raster entry's blocks: which codec the archive layer offers each one."""

    SIDE = "side"
    PIXELS = "pixels"


def promise_of(serializer: dict[str, Any]) -> str:
    """'bytes' or 'pixels' for a raster serializer description (what ``list`` shows)."""
    return str(serializer.get("promise", "bytes"))


def plan(data: bytes, *, pixels: bool) -> tuple[ImagePlan, int] | None:
    """The pixel-path plan of an image file and the size of the file unpack will write (the
    original's, or the re-encoded PNG's under ``pixels``), or None: it takes the byte path."""
    from .raster import NotRaster, plan_exact, plan_pixels  # Pillow: only when images are packed

    try:
        found = plan_pixels(data) if pixels else plan_exact(data)
    except NotRaster:
        return None
    if found.pixels.nbytes > MAX_RASTER_BYTES or found.pixels.size == 0:
        return None
    if not pixels:
        return found, len(data)  # plan_exact verified that rebuild gives ``data`` back
    from .raster import rebuild

    return found, len(rebuild(found.header, found.pixels))


def _bits(pixels: np.ndarray) -> int:
    if pixels.dtype == np.uint16:
        return 16
    top = int(pixels.max()) if pixels.size else 0
    return max(1, top.bit_length()) if top < 128 else 8


def plan_blocks(found: ImagePlan, block_size: int) -> Iterator[tuple[str, bytes]]:
    """The raw blocks of an image entry, in order, each with its :class:`Block` role."""
    from ..predictors.pixel import pixels_to_block

    for block in side_blocks(found.header, block_size):
        yield Block.SIDE, block
    pixels = found.pixels
    bits = _bits(pixels)
    row_bytes = max(1, pixels.shape[1] * pixels.shape[2] * pixels.dtype.itemsize)
    rows = max(1, block_size // row_bytes)
    for top in range(0, pixels.shape[0], rows):
        yield Block.PIXELS, pixels_to_block(pixels[top : top + rows], bits)


def check_same_pixels(original: Path, rebuilt: bytes) -> None:
    """The ``--pixels`` check: ``rebuilt`` (a PNG) holds the pixels of the image file
    ``original`` exactly (CorruptArchive if not)."""
    from .raster import same_pixels

    try:
        data = original.read_bytes()
    except OSError as exc:
        raise CorruptArchive(f"archive does not match {original}: {exc.strerror}") from None
    if not same_pixels(data, rebuilt):
        raise CorruptArchive(f"archive does not match {original}: the pixels differ")


def rebuild_from_blocks(raws: Iterable[bytes], size: int) -> bytes:
    """The file an image entry's decoded raw blocks stand for; ``size`` is its recorded size."""
    from ..predictors.pixel import block_to_pixels
    from .raster import rebuild

    blocks = iter(raws)
    header = read_side(blocks, MAX_HEADER_BYTES, "image entry")
    strips: list[np.ndarray] = []
    total = 0
    for raw in blocks:
        strip, _ = block_to_pixels(raw)
        total += strip.nbytes
        if total > MAX_RASTER_BYTES or (strips and strip.shape[1:] != strips[0].shape[1:]):
            raise CorruptArchive("image entry's pixel strips do not fit together")
        strips.append(strip)
    if not strips:
        raise CorruptArchive("image entry has no pixel strips")
    pixels = np.concatenate(strips, axis=0) if len(strips) > 1 else strips[0]
    data = rebuild(header, pixels)
    if len(data) != size:
        raise CorruptArchive("image entry rebuilds to a size other than the one recorded")
    return data
