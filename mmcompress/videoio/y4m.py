"""YUV4MPEG2 (.y4m): a raw video file split into side bytes and frames, and rebuilt byte for byte.

A Y4M file is one header line ``YUV4MPEG2 W<w> H<h> [F.. I.. A.. C.. X..]\\n``, then per frame a
line ``FRAME[ params]\\n`` followed by the planes (Y, Cb, Cr[, A] or Y alone), row-major, each at
its exact size (4:2:0 chroma is ceil(W/2) x ceil(H/2)); samples of more than 8 bits are 16-bit
little-endian. Colourspaces (``C``, default 420jpeg): 420jpeg 420paldv 420mpeg2 420 411 422 444
444alpha mono, and 420p/422p/444p with 9, 10, 12, 14 or 16 bits, mono9/10/12/14/16.

The *side bytes* are everything that is not a sample: the header line, every FRAME line (with its
parameters) and any trailing bytes: fewer than :data:`MAX_TRAILING_BYTES` and than one frame's
samples, and not the start of a FRAME line (else the file is truncated, or a FRAME line is lost).
:func:`plan` checks that side bytes and frames tile the file, so :func:`pieces` gives it back
exactly; anything malformed or unsupported raises :class:`~.base.NotVideo` (the file takes the
byte path). Both work a frame at a time: a clip of any length is packed and unpacked in bounded
memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ..errors import CorruptArchive
from .base import (
    MAX_SIDE,
    SOURCE_Y4M,
    FileFrames,
    Frame,
    Layout,
    NotVideo,
    Span,
    VideoPlan,
    check_frames,
    frame_bits,
)

SIGNATURE = b"YUV4MPEG2"
FRAME_TAG = b"FRAME"
#: Longest header or FRAME line accepted (real ones are well under 100 bytes).
MAX_LINE_BYTES = 4096
#: Bytes after the last frame kept as side bytes; more (or a partial frame) is not a Y4M file.
MAX_TRAILING_BYTES = 4096


def _colourspaces() -> dict[str, Layout]:
    table = {
        "420jpeg": Layout(3, 1, 1, 8),
        "420paldv": Layout(3, 1, 1, 8),
        "420mpeg2": Layout(3, 1, 1, 8),
        "420": Layout(3, 1, 1, 8),
        "411": Layout(3, 2, 0, 8),
        "422": Layout(3, 1, 0, 8),
        "444": Layout(3, 0, 0, 8),
        "444alpha": Layout(4, 0, 0, 8),
        "mono": Layout(1, 0, 0, 8),
    }
    for bits in (9, 10, 12, 14, 16):
        table[f"420p{bits}"] = Layout(3, 1, 1, bits)
        table[f"422p{bits}"] = Layout(3, 1, 0, bits)
        table[f"444p{bits}"] = Layout(3, 0, 0, bits)
        table[f"mono{bits}"] = Layout(1, 0, 0, bits)
    return table


#: Colourspace parameter -> plane layout.
COLOURSPACES = _colourspaces()


@dataclass(frozen=True)
class Y4mHeader:
    """The stream header fields that decide the sample layout (the rest stays in the side bytes)."""

    width: int
    height: int
    colourspace: str
    layout: Layout

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return self.layout.shapes(self.width, self.height)

    @property
    def frame_bytes(self) -> int:
        return self.layout.frame_bytes(self.width, self.height)


def parse_header(line: bytes) -> Y4mHeader:
    """The fields of a stream header line (without its newline); NotVideo if unusable."""
    if not (line == SIGNATURE or line.startswith(SIGNATURE + b" ")):
        raise NotVideo("not a YUV4MPEG2 stream header")
    width = height = 0
    colourspace = "420jpeg"
    for token in line[len(SIGNATURE) :].split(b" "):
        if not token:
            continue
        key, value = chr(token[0]), token[1:]
        if key in "WH":
            if not value.isdigit() or len(value) > 6:
                raise NotVideo(f"Y4M header has an invalid {key} parameter")
            if key == "W":
                width = int(value)
            else:
                height = int(value)
        elif key == "C":
            colourspace = value.decode("ascii", "replace")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise NotVideo(f"Y4M header has an invalid size {width}x{height}")
    layout = COLOURSPACES.get(colourspace)
    if layout is None:
        raise NotVideo(f"Y4M colourspace C{colourspace} is not supported")
    return Y4mHeader(width, height, colourspace, layout)


def _line_end(data: bytes, start: int, what: str) -> int:
    """Index of the newline ending the line that starts at ``start``."""
    end = data.find(b"\n", start, start + MAX_LINE_BYTES)
    if end < 0:
        raise NotVideo(f"Y4M {what} line is unterminated or too long")
    return end


def plan(data: bytes | Span) -> VideoPlan:
    """Split a Y4M file into side bytes and frames; NotVideo if it is not a well-formed Y4M file
    this module can rebuild exactly.

    ``data`` in memory gives frames that are views into it; a :class:`~.base.Span` over a file
    is scanned line by line (the frames are skipped, not read) and gives frames read on demand.
    The side bytes and the frames' byte ranges tile the file exactly, so :func:`pieces` gives
    it back byte for byte."""
    span = data if isinstance(data, Span) else Span(data)
    head = span.read(0, MAX_LINE_BYTES)
    end = _line_end(head, 0, "header")
    header = parse_header(head[:end])
    frame_bytes = header.frame_bytes
    side = bytearray(head[: end + 1])
    offsets: list[int] = []
    position = end + 1
    while position < span.size:
        line = span.read(position, MAX_LINE_BYTES)
        if not line.startswith(FRAME_TAG):
            break
        end = _line_end(line, 0, "FRAME")
        if end != len(FRAME_TAG) and line[len(FRAME_TAG) : len(FRAME_TAG) + 1] != b" ":
            raise NotVideo("Y4M FRAME line is malformed")
        side += line[: end + 1]
        position += end + 1
        if position + frame_bytes > span.size:
            raise NotVideo(f"Y4M frame {len(offsets)} is truncated")
        offsets.append(position)
        position += frame_bytes
    if not offsets:
        raise NotVideo("Y4M file has no frame")
    left = span.size - position
    if left >= min(MAX_TRAILING_BYTES, frame_bytes):
        raise NotVideo(f"Y4M file ends in {left} bytes that are no whole frame")
    trailing = span.read(position, left)
    if trailing and FRAME_TAG.startswith(trailing[:5]):
        raise NotVideo(f"Y4M file ends in {left} bytes that are no whole frame")
    side += trailing
    if len(side) + len(offsets) * frame_bytes != span.size:  # (the tiling the promise rests on)
        raise NotVideo("Y4M file does not rebuild exactly")
    frames = FileFrames(span, offsets, header.shapes, header.layout.dtype)
    return VideoPlan(SOURCE_Y4M, bytes(side), frames, frame_bits(frames, header.layout.bits))


def pieces(side: bytes, frames: Iterable[Frame]) -> Iterator[bytes | memoryview]:
    """The rebuilt file in pieces, one frame at a time as ``frames`` yields them; CorruptArchive
    if ``side`` and ``frames`` do not fit."""
    end = side.find(b"\n", 0, MAX_LINE_BYTES)
    if end < 0:
        raise CorruptArchive("Y4M side information has no stream header")
    try:
        header = parse_header(side[:end])
    except NotVideo as exc:
        raise CorruptArchive(f"Y4M side information is invalid: {exc}") from None
    yield side[: end + 1]
    position = end + 1
    for frame in frames:
        try:
            check_frames([frame], header.shapes, header.layout.dtype)
        except ValueError as exc:
            raise CorruptArchive(f"Y4M frames do not match the stream header: {exc}") from None
        end = side.find(b"\n", position, position + MAX_LINE_BYTES)
        if end < 0 or side[position : position + len(FRAME_TAG)] != FRAME_TAG:
            raise CorruptArchive("Y4M side information has fewer FRAME lines than frames")
        yield side[position : end + 1]
        position = end + 1
        for plane in frame:
            if header.layout.bits > 8:
                plane = plane.astype("<u2", copy=False)
            yield np.ascontiguousarray(plane).data.cast("B")
    if side.startswith(FRAME_TAG, position):
        raise CorruptArchive("Y4M side information has more FRAME lines than frames")
    yield side[position:]


def rebuild(side: bytes, frames: Sequence[Frame]) -> bytes:
    """The Y4M file that :func:`plan` split into ``side`` and ``frames``."""
    return b"".join(pieces(side, frames))


def colourspace_of(frame: Frame, bits: int) -> str:
    """The Y4M colourspace of a frame's planes (grey; Y, Cb, Cr at 4:2:0, 4:2:2 or 4:4:4) and
    sample depth; ValueError when no colourspace matches."""
    height, width = frame[0].shape
    suffix = "" if bits == 8 else f"p{bits}"
    names = ["mono"] if len(frame) == 1 else ["420", "422", "444"] if len(frame) == 3 else []
    for name in names:
        colourspace = "mono" + ("" if bits == 8 else str(bits)) if name == "mono" else name + suffix
        layout = COLOURSPACES.get("420jpeg" if colourspace == "420" else colourspace)
        if layout is not None and layout.shapes(width, height) == [p.shape for p in frame]:
            return "420jpeg" if colourspace == "420" else colourspace
    raise ValueError(
        f"no Y4M colourspace has planes {[p.shape for p in frame]} of {bits}-bit samples"
    )


def write(frames: Iterable[Frame], bits: int = 8, rate: tuple[int, int] = (25, 1)) -> bytes:
    """A Y4M file holding ``frames`` (lists of planes, as :func:`colourspace_of` accepts)."""
    sink = io.BytesIO()
    write_to(sink, frames, bits, rate)
    return sink.getvalue()


def write_to(
    sink: BinaryIO, frames: Iterable[Frame], bits: int = 8, rate: tuple[int, int] = (25, 1)
) -> int:
    """Write ``frames`` to ``sink`` as a Y4M file, a frame at a time (the first frame decides the
    colourspace; every later one must match it); returns the frame count. ValueError for frames
    of no format, samples out of range or an empty clip."""
    if bits not in (8, 9, 10, 12, 14, 16):
        raise ValueError("bits must be 8, 9, 10, 12, 14 or 16")
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    limit = 1 << bits
    count = 0
    shapes: list[tuple[int, int]] = []
    for frame in frames:
        planes = [np.asarray(plane) for plane in frame]
        if not count:
            colourspace = colourspace_of(planes, bits)
            height, width = planes[0].shape
            shapes = [plane.shape for plane in planes]
            sink.write(
                f"YUV4MPEG2 W{width} H{height} F{rate[0]}:{rate[1]} Ip A1:1 C{colourspace}\n"
                .encode("ascii")
            )  # fmt: skip
        elif [plane.shape for plane in planes] != shapes:
            raise ValueError(
                f"frame {count} has planes {[p.shape for p in planes]}, the first had {shapes}"
            )
        if any(plane.dtype.kind not in "ub" or (plane.size and int(plane.max()) >= limit)
               for plane in planes):  # fmt: skip
            raise ValueError(f"planes must hold unsigned samples below 2^{bits}")
        sink.write(b"FRAME\n")
        for plane in planes:
            sink.write(np.ascontiguousarray(plane.astype(dtype, copy=False)).data.cast("B"))
        count += 1
    if not count:
        raise ValueError("a video needs at least one frame")
    return count
