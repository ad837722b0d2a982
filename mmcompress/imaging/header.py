"""Image plan headers: the small binary codec shared by the PNG recipe, the raw layouts and the pixel path.

A plan header is everything besides the pixels needed to rebuild an output file. It starts with a
format version byte and a kind byte, then kind-specific fields written with :class:`HeaderWriter`
(unsigned LEB128 varints and length-prefixed byte strings). Headers are read back from archive
data, so :class:`HeaderReader` trusts nothing: every read is bounds-checked and every failure is a
:class:`~mmcompress.errors.CorruptArchive` with one clear line.

This module also holds :class:`NotRaster` (an input that cannot take the pixel path) and
:class:`ImagePlan` (what a plan returns), so the format modules need not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CorruptArchive

#: First byte of every header this package writes.
HEADER_VERSION = 1

#: Header kinds (second byte).
KIND_PNG_EXACT = 1
KIND_LAYOUT_EXACT = 2
KIND_PNG_PIXELS = 3
KIND_PNG_REPLAY = 4

#: Bounds for values read from untrusted headers (decompression-bomb guards).
MAX_SIDE = 1 << 20
MAX_SAMPLES = 1 << 32  # width * height * channels
MAX_BLOB_BYTES = 1 << 31
#: Inputs whose samples would take more memory than this take the byte path (checked before
#: anything is inflated or allocated).
MAX_PLAN_PIXEL_BYTES = 1 << 30

PATH_BYTE_EXACT = "byte-exact"
PATH_PIXEL_EXACT = "pixel-exact"


class NotRaster(Exception):
    """This input cannot take the pixel path; the caller sends it down the byte path."""


@dataclass
class ImagePlan:
    """An image split into a header (opaque, versioned bytes) and its pixel samples.

    ``pixels`` is (H, W, C) with C in 1..4, dtype uint8 or uint16, holding native sample values
    (palette indices for palette images, 0/1 for bilevel ones).
    """

    header: bytes
    pixels: np.ndarray
    path: str  # PATH_BYTE_EXACT or PATH_PIXEL_EXACT


class HeaderWriter:
    """Appends varints and byte strings; ``getvalue`` returns the header."""

    def __init__(self, kind: int) -> None:
        self._parts: list[bytes] = [bytes([HEADER_VERSION, kind])]

    def uint(self, value: int) -> None:
        if value < 0:
            raise ValueError("header varints are unsigned")
        out = bytearray()
        while True:
            byte = value & 0x7F
            value >>= 7
            if value:
                out.append(byte | 0x80)
            else:
                out.append(byte)
                break
        self._parts.append(bytes(out))

    def blob(self, data: bytes) -> None:
        self.uint(len(data))
        self._parts.append(bytes(data))

    def text(self, value: str) -> None:
        self.blob(value.encode("utf-8"))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class HeaderReader:
    """Reads what :class:`HeaderWriter` wrote; any inconsistency raises CorruptArchive."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0
        if len(self._data) < 2:
            raise CorruptArchive("image header is truncated (under 2 bytes)")
        if self._data[0] != HEADER_VERSION:
            raise CorruptArchive(f"image header version {self._data[0]} is not supported")
        self.kind = int(self._data[1])
        self._pos = 2

    def uint(self, limit: int, what: str) -> int:
        value = 0
        shift = 0
        while True:
            if self._pos >= len(self._data):
                raise CorruptArchive(f"image header is truncated while reading {what}")
            byte = self._data[self._pos]
            self._pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 63:
                raise CorruptArchive(f"image header has an overlong varint for {what}")
        if value > limit:
            raise CorruptArchive(f"image header declares {what} = {value}, over the limit {limit}")
        return value

    def blob(self, what: str, limit: int = MAX_BLOB_BYTES) -> bytes:
        size = self.uint(limit, f"size of {what}")
        if self._pos + size > len(self._data):
            raise CorruptArchive(f"image header is truncated inside {what}")
        out = bytes(self._data[self._pos : self._pos + size])
        self._pos += size
        return out

    def text(self, what: str) -> str:
        raw = self.blob(what, limit=1 << 16)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArchive(f"image header has invalid text in {what}") from None

    def finish(self) -> None:
        if self._pos != len(self._data):
            raise CorruptArchive(
                f"image header has {len(self._data) - self._pos} unexpected trailing bytes"
            )


def check_pixels(pixels: np.ndarray, height: int, width: int, channels: int, dtype: type) -> None:
    """Raise CorruptArchive unless ``pixels`` has exactly the shape and dtype the header declares."""
    if not isinstance(pixels, np.ndarray):
        raise CorruptArchive("image pixels are not an array")
    if pixels.shape != (height, width, channels) or pixels.dtype != np.dtype(dtype):
        raise CorruptArchive(
            f"image pixels are {pixels.shape} {pixels.dtype}, header says "
            f"{(height, width, channels)} {np.dtype(dtype)}"
        )


def check_dimensions(height: int, width: int, channels: int) -> None:
    """Raise CorruptArchive for sizes no real image has (guards allocations made from a header)."""
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE and 1 <= channels <= 4):
        raise CorruptArchive(f"image header declares an invalid size {width}x{height}x{channels}")
    if height * width * channels > MAX_SAMPLES:
        raise CorruptArchive(f"image header declares {width}x{height}x{channels}: too many samples")
