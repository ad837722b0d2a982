"""Video: the public API of the video modality.

    blob = mmcompress.video.compress(open("clip.y4m", "rb").read())   # byte-exact
    blob = mmcompress.video.compress_frames(frames, bits=10)          # planes in, planes out
    frames = mmcompress.video.decompress_frames(blob)

Raw video (Y4M) is coded frame by frame with the frames codec (each plane predicted from its
decoded neighbourhood and the motion-compensated previous frame) and comes back byte for byte.
Coded video (FFV1, lossless x264... in MKV/AVI/MP4) keeps its bytes unless ``frames=True``: then
its decoded frames are coded and :func:`decompress` gives an FFV1 Matroska file with the same
frames. A frame is a list of 2-D planes (Y, Cb, Cr at 4:2:0, 4:2:2 or 4:4:4, or one grey plane),
uint8, or uint16 for 9- to 16-bit samples; a 2-D array is a grey frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .api import compress as _compress
from .api import decompress
from .detect import Modality, detect_as
from .errors import InputError


def compress(
    data: bytes, *, name: str = "", level: int | None = None, frames: bool = False
) -> bytes:
    """Compress a video file's bytes: byte-exact, or its decoded frames under ``frames``."""
    raw = bytes(data)
    modality = detect_as(Modality.VIDEO, name, raw[:4096])
    return _compress(raw, level=level, name=name, modality=modality, frames=frames)


def compress_frames(
    frames: Iterable[Sequence[np.ndarray] | np.ndarray],
    *,
    bits: int = 8,
    rate: tuple[int, int] = (25, 1),
    level: int | None = None,
) -> bytes:
    """Compress frames handed over as planes (see the module docstring); ``bits`` per sample,
    ``rate`` the frame rate as a fraction. :func:`decompress_frames` gives them back."""
    from .videoio import y4m

    planes = [[frame] if isinstance(frame, np.ndarray) and frame.ndim == 2 else list(frame)
              for frame in frames]  # fmt: skip
    try:
        data = y4m.write(planes, bits=bits, rate=rate)
    except ValueError as exc:
        raise InputError(f"frames: {exc}") from None
    return _compress(data, level=level, modality=Modality.VIDEO)


def decompress_frames(blob: bytes) -> list[list[np.ndarray]]:
    """The frames of an archive of raw or decoded video, as lists of planes."""
    from .videoio import avframes, y4m
    from .videoio.base import NotVideo

    data = decompress(blob)
    try:
        found = y4m.plan(data) if data.startswith(y4m.SIGNATURE) else avframes.plan(data)
    except NotVideo as exc:
        raise InputError(f"the archive does not hold video frames: {exc}") from None
    return [[np.array(plane) for plane in frame] for frame in found.frames]


__all__ = ["compress", "compress_frames", "decompress", "decompress_frames"]
