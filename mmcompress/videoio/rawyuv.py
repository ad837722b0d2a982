"""Raw planar YUV (headerless): a file of frames at a geometry the user gives, and its rebuild.

The caller names the geometry (``--size WxH --pix-fmt F``); the file is frames one after the
other, each its planes in FFmpeg's order (Y, U, V or Y alone), row-major, chroma at ceil size,
samples of more than 8 bits as 16-bit little-endian. Pixel formats: :data:`PIX_FMTS`.

The side bytes are the geometry line ``b"W H pix_fmt\\n"`` followed by the bytes after the last
whole frame (a trailing partial frame), so :func:`pieces` gives the file back byte for byte, a
frame at a time (clips of any length take bounded memory).
A bad geometry (unknown format, size out of range) is the caller's error (:class:`InputError`);
a file shorter than one frame raises :class:`~.base.NotVideo` (it takes the byte path).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ..errors import CorruptArchive, InputError
from .base import (
    MAX_SIDE,
    SOURCE_RAWYUV,
    FileFrames,
    Frame,
    Layout,
    NotVideo,
    Span,
    VideoPlan,
    check_frames,
    frame_bits,
)

#: Pixel format (FFmpeg's name) -> plane layout.
PIX_FMTS: dict[str, Layout] = {
    "yuv420p": Layout(3, 1, 1, 8),
    "yuv422p": Layout(3, 1, 0, 8),
    "yuv444p": Layout(3, 0, 0, 8),
    "gray": Layout(1, 0, 0, 8),
    "yuv420p10le": Layout(3, 1, 1, 10),
    "yuv422p10le": Layout(3, 1, 0, 10),
    "yuv444p10le": Layout(3, 0, 0, 10),
    "gray10le": Layout(1, 0, 0, 10),
    "gray16le": Layout(1, 0, 0, 16),
}
#: Longest geometry line read back from side information.
_MAX_GEOMETRY_BYTES = 64


def layout_of(size: tuple[int, int], pix_fmt: str) -> Layout:
    """The layout of ``pix_fmt``; InputError for an unknown format or a size out of range."""
    layout = PIX_FMTS.get(pix_fmt)
    if layout is None:
        known = ", ".join(PIX_FMTS)
        raise InputError(
            f"raw video pixel format {pix_fmt!r} is not supported (use one of {known})"
        )
    width, height = size
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise InputError(f"raw video size {width}x{height} is out of range (1..{MAX_SIDE})")
    return layout


def plan(data: bytes | Span, size: tuple[int, int], pix_fmt: str) -> VideoPlan:
    """Split raw planar video into frames and side bytes (frames are views into ``data`` in
    memory, or read on demand from a :class:`~.base.Span` over a file)."""
    layout = layout_of(size, pix_fmt)
    span = data if isinstance(data, Span) else Span(data)
    width, height = size
    frame_bytes = layout.frame_bytes(width, height)
    count = span.size // frame_bytes
    if count == 0:
        raise NotVideo(
            f"{span.size} bytes are less than one {width}x{height} {pix_fmt} frame ({frame_bytes})"
        )
    end = count * frame_bytes
    side = f"{width} {height} {pix_fmt}\n".encode("ascii") + span.read(end, span.size - end)
    offsets = list(range(0, end, frame_bytes))
    frames = FileFrames(span, offsets, layout.shapes(width, height), layout.dtype)
    return VideoPlan(SOURCE_RAWYUV, side, frames, frame_bits(frames, layout.bits))


def pieces(side: bytes, frames: Iterable[Frame]) -> Iterator[bytes]:
    """The raw file :func:`plan` split into ``side`` and ``frames``, a frame at a time;
    CorruptArchive if they do not fit together."""
    end = side.find(b"\n", 0, _MAX_GEOMETRY_BYTES)
    fields = side[:end].split(b" ") if end > 0 else []
    if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
        raise CorruptArchive("raw video side information has no valid geometry")
    try:
        size = (int(fields[0]), int(fields[1]))
        layout = layout_of(size, fields[2].decode("ascii"))
    except (InputError, UnicodeDecodeError) as exc:
        raise CorruptArchive(f"raw video side information is invalid: {exc}") from None
    shapes = layout.shapes(*size)
    for frame in frames:
        try:
            check_frames([frame], shapes, layout.dtype)
        except ValueError as exc:
            raise CorruptArchive(f"raw video frames do not fit the geometry: {exc}") from None
        for plane in frame:
            yield np.ascontiguousarray(plane, dtype=layout.dtype).tobytes()
    yield side[end + 1 :]


def rebuild(side: bytes, frames: Sequence[Frame]) -> bytes:
    """The raw file :func:`plan` split into ``side`` and ``frames``."""
    return b"".join(pieces(side, frames))
