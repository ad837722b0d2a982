"""What every video source shares: the :class:`VideoPlan` a source returns, :class:`NotVideo`,
plane geometry (:class:`Layout`) and the memory bounds.

A video plan splits a file into *frames* (each a list of 2-D numpy planes: uint8, or uint16 when
samples have more than 8 bits) and *side bytes* (everything else the file needs to come back:
a Y4M header and FRAME lines, a raw file's geometry and trailing partial frame, a container's
stream parameters). Each source module (``y4m``, ``rawyuv``, ``avframes``) has a ``rebuild(side,
frames)`` that inverts its plans.

Memory (streaming): sources read a file through a :class:`Span`, random access over bytes in
memory or over a seekable file, and a plan's frames are re-iterable and produced on demand: raw
video as a :class:`FileFrames` sequence that reads a frame when asked for it, decoded video as a
decoder run again on each pass. Packing therefore holds one block of frames at a time whatever
the clip's length.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, overload

import numpy as np

from ..errors import InputError

#: A frame: its planes in storage order (Y, U, V[, A]; a single grey plane; G, B, R).
Frame = list[np.ndarray]

#: Largest width or height accepted from a header (guards allocations).
MAX_SIDE = 1 << 16

SOURCE_Y4M = "y4m"
SOURCE_RAWYUV = "rawyuv"
SOURCE_FFV1_MKV = "ffv1-mkv"


class Span:
    """Random access to the bytes of a file: ``data`` in memory, or a seekable binary file from
    its position at creation to its end (the file must stay open while the span is used)."""

    def __init__(self, data: bytes | BinaryIO) -> None:
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._data: bytes | None = bytes(data) if not isinstance(data, bytes) else data
            self._file: BinaryIO | None = None
            self._start = 0
            self.size = len(data)
        else:
            self._data, self._file = None, data
            self._start = data.tell()
            self.size = data.seek(0, os.SEEK_END) - self._start
        self.in_memory = self._data is not None

    def read(self, offset: int, count: int) -> bytes:
        """Up to ``count`` bytes at ``offset`` (fewer only at the end)."""
        count = max(0, min(count, self.size - offset))
        if self._data is not None:
            return self._data[offset : offset + count]
        assert self._file is not None
        self._file.seek(self._start + offset)
        pieces: list[bytes] = []
        while count > 0:
            piece = self._file.read(count)
            if not piece:
                raise InputError("the video file changed while it was being packed")
            pieces.append(piece)
            count -= len(piece)
        return b"".join(pieces)

    def array(self, offset: int, dtype: np.dtype, count: int) -> np.ndarray:
        """``count`` samples of ``dtype`` at ``offset``: a view when in memory, else a read."""
        if self._data is not None:
            return np.frombuffer(self._data, dtype, count=count, offset=offset)
        raw = self.read(offset, count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise InputError("the video file changed while it was being packed")
        return np.frombuffer(raw, dtype, count=count)

    def head(self, count: int) -> bytes:
        return self.read(0, count)

    def open(self) -> BinaryIO:
        """A read-only, seekable file over the span (for PyAV): offset 0 is the span's start."""
        if self._data is not None:
            return io.BytesIO(self._data)
        return io.BufferedReader(_SpanFile(self), 1 << 16)  # type: ignore[arg-type, return-value]


class _SpanFile(io.RawIOBase):
    """The raw file behind :meth:`Span.open`."""

    def __init__(self, span: Span) -> None:
        super().__init__()
        self._span, self._position = span, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self._span.read(self._position, len(buffer))
        buffer[: len(piece)] = piece
        self._position += len(piece)
        return len(piece)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._span.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


class FileFrames(Sequence[Frame]):
    """The frames of a raw clip, read from a :class:`Span` when indexed: frame ``i`` is planes of
    ``shapes`` holding ``dtype`` samples from ``offsets[i]`` on (views when the span is in
    memory). Indexing twice reads twice: nothing is cached."""

    def __init__(
        self, span: Span, offsets: list[int], shapes: list[tuple[int, int]], dtype: np.dtype
    ) -> None:
        self._span, self._offsets, self._shapes, self._dtype = span, offsets, shapes, dtype

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> list[Frame]: ...
    def __getitem__(self, index: int | slice) -> Frame | list[Frame]:
        if isinstance(index, slice):
            return [self._frame(offset) for offset in self._offsets[index]]
        return self._frame(self._offsets[index])

    def __iter__(self) -> Iterator[Frame]:
        for offset in self._offsets:
            yield self._frame(offset)

    def _frame(self, offset: int) -> Frame:
        count = sum(height * width for height, width in self._shapes)
        samples = self._span.array(offset, self._dtype, count)
        frame: Frame = []
        start = 0
        for height, width in self._shapes:
            frame.append(samples[start : start + height * width].reshape(height, width))
            start += height * width
        return frame


class NotVideo(Exception):
    """This input cannot take the frames path (the reason is the message); it takes the byte path."""


@dataclass(frozen=True)
class Layout:
    """The planes of one frame: count, chroma subsampling (log2, x and y) and bits per sample.

    Plane 0 (and plane 3, alpha) is full size; planes 1 and 2 are ceil(W / 2^sx) x ceil(H / 2^sy),
    as FFmpeg and the Y4M format store them.
    """

    planes: int
    chroma_shift_x: int
    chroma_shift_y: int
    bits: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype("<u2") if self.bits > 8 else np.dtype(np.uint8)

    def shapes(self, width: int, height: int) -> list[tuple[int, int]]:
        """(height, width) of each plane of a ``width`` x ``height`` frame."""
        chroma = (-(-height >> self.chroma_shift_y), -(-width >> self.chroma_shift_x))
        return [(height, width) if index in (0, 3) else chroma for index in range(self.planes)]

    def frame_bytes(self, width: int, height: int) -> int:
        """Bytes of one frame's samples."""
        return sum(h * w for h, w in self.shapes(width, height)) * self.dtype.itemsize


@dataclass
class VideoPlan:
    """A video file split into side bytes and frames (see the module docstring).

    ``bits`` is what the frame blocks declare: the format's bits per sample, or 16 when a
    sample is out of that range (e.g. a 10-bit file holding values >= 1024).
    ``dropped`` names what the rebuilt file will not have (audio, subtitle, data streams,
    other video streams; container metadata): empty for the byte-exact sources.
    """

    source: str
    side: bytes
    #: Re-iterable: a list, :class:`FileFrames`, or a decoder that decodes again on each pass.
    frames: Iterable[Frame]
    bits: int
    dropped: list[str] = field(default_factory=list)


def check_frames(frames: Iterable[Frame], shapes: list[tuple[int, int]], dtype: np.dtype) -> None:
    """ValueError unless every frame has planes of exactly ``shapes`` holding ``dtype`` values
    (uint16 planes are accepted for any dtype of that size)."""
    for frame in frames:
        if len(frame) != len(shapes):
            raise ValueError(f"a frame has {len(frame)} planes, the format has {len(shapes)}")
        for plane, shape in zip(frame, shapes, strict=True):
            if plane.shape != shape or plane.dtype.itemsize != dtype.itemsize:
                raise ValueError(
                    f"a plane is {plane.shape[::-1]} {plane.dtype}, the format says "
                    f"{shape[::-1]} {dtype}"
                )
            if plane.dtype.kind != "u":
                raise ValueError(f"planes hold unsigned samples, not {plane.dtype}")


def frame_bits(frames: Iterable[Frame], nominal: int) -> int:
    """``nominal`` if every sample fits in it, else 16 (8-bit formats always fit). Reads every
    frame once, one at a time."""
    if nominal >= 16 or nominal == 8:
        return nominal
    for frame in frames:
        if any(plane.size and int(plane.max()) >= (1 << nominal) for plane in frame):
            return 16
    return nominal
