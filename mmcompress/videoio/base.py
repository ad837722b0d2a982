"""What every video source shares: the :class:`VideoPlan` a source returns, :class:`NotVideo`,
plane geometry (:class:`Layout`) and the memory bounds.

A video plan splits a file into *frames* (each a list of 2-D numpy planes: uint8, or uint16 when
samples have more than 8 bits) and *side bytes* (everything else the file needs to come back:
a Y4M header and FRAME lines, a raw file's geometry and trailing partial frame, a container's
stream parameters). Each source module (``y4m``, ``rawyuv``, ``avframes``) has a ``rebuild(side,
frames)`` that inverts its plans.

Memory: a plan holds the whole file and its frames in memory (Y4M and raw frames are views into
the file's bytes, decoded frames are copies). Files whose samples would exceed
:data:`MAX_SAMPLE_BYTES` (1 GiB) are refused with :class:`NotVideo` and take the byte path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A frame: its planes in storage order (Y, U, V[, A]; a single grey plane; G, B, R).
Frame = list[np.ndarray]

#: Sample data beyond this is not planned (the frames path holds a whole clip in memory).
MAX_SAMPLE_BYTES = 1 << 30
#: Largest width or height accepted from a header (guards allocations).
MAX_SIDE = 1 << 16

SOURCE_Y4M = "y4m"
SOURCE_RAWYUV = "rawyuv"
SOURCE_FFV1_MKV = "ffv1-mkv"


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
    frames: list[Frame]
    bits: int
    dropped: list[str] = field(default_factory=list)

    @property
    def sample_bytes(self) -> int:
        return sum(plane.nbytes for frame in self.frames for plane in frame)


def check_frames(frames: list[Frame], shapes: list[tuple[int, int]], dtype: np.dtype) -> None:
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


def frame_bits(frames: list[Frame], nominal: int) -> int:
    """``nominal`` if every sample fits in it, else 16 (8-bit formats always fit)."""
    if nominal >= 16 or nominal == 8:
        return nominal
    top = max((int(plane.max()) for frame in frames for plane in frame if plane.size), default=0)
    return nominal if top < (1 << nominal) else 16
