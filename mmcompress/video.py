"""Video: the public API of the video modality (``mmcompress.video``).

    blob = mmcompress.video.compress("clip.y4m")                 # a file: byte-exact
    blob = mmcompress.video.compress(frames, bits=10)            # frames in (lists of planes) ...
    for frame in mmcompress.video.decompress(blob): ...          # ... and out
    mmcompress.video.decompress_to_file(blob, "clip.y4m")

Raw video (Y4M; raw YUV through ``mmcompress pack --size``) is coded frame by frame with the
frames codec (each plane predicted from its decoded neighbourhood and the motion-compensated
previous frame) and comes back byte for byte. Coded video (FFV1, lossless x264... in MKV/AVI/MP4)
keeps its bytes unless ``frames=True``: then its decoded frames are coded, and the file that comes
back is an FFV1 Matroska file with the same frames. A frame is a list of 2-D planes (Y, Cb, Cr at
4:2:0, 4:2:2 or 4:4:4, or one grey plane), uint8, or uint16 for 9- to 16-bit samples; a 2-D
array is a grey frame. Frames handed over are stored as a Y4M file.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import cast

import numpy as np

from .api import compress_stream, entry_blocks
from .api import decompress as decompress_bytes
from .atomic import atomic_file
from .detect import Modality, detect_as
from .errors import InputError
from .sources import is_source, read_source

Frame = list[np.ndarray]


def compress(
    video: bytes | str | os.PathLike[str] | Iterable[Sequence[np.ndarray] | np.ndarray],
    *,
    name: str = "",
    level: int | None = None,
    frames: bool = False,
    bits: int = 8,
    rate: tuple[int, int] = (25, 1),
) -> bytes:
    """Compress a video: file bytes or a path (byte-exact; a coded video keeps its decoded frames
    instead under ``frames``), or frames (see the module docstring; ``bits`` per sample, ``rate``
    the frame rate as a fraction). Returns a single-file archive.

    A path to raw video and frames handed over are read a block of frames at a time (frames are
    spooled to a temporary Y4M file first): memory does not grow with the clip's length."""
    if isinstance(video, (str, os.PathLike)):
        path = Path(video)
        try:
            source = open(path, "rb")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        with source:
            name = name or path.name
            modality = detect_as(Modality.VIDEO, name, source.read(4096))
            source.seek(0)
            return compress_stream(source, level=level, name=name, modality=modality, frames=frames)
    if is_source(video):
        data, name, _ = read_source(video, name)
        modality = detect_as(Modality.VIDEO, name, data[:4096])
        return compress_stream(
            io.BytesIO(data), level=level, name=name, modality=modality, frames=frames
        )
    from .videoio import y4m

    given = cast(Iterable[Sequence[np.ndarray] | np.ndarray], video)
    planes = ([frame] if isinstance(frame, np.ndarray) and frame.ndim == 2 else list(frame)
              for frame in given)  # fmt: skip
    with tempfile.TemporaryFile() as spool:
        try:
            y4m.write_to(spool, planes, bits=bits, rate=rate)
        except ValueError as exc:
            raise InputError(f"frames: {exc}") from None
        spool.seek(0)
        return compress_stream(
            spool, level=level, name=name or "frames.y4m", modality=Modality.VIDEO, frames=frames
        )


def decompress(blob: bytes) -> Iterator[Frame]:
    """The frames of an archived video (raw or decoded), one list of planes at a time, decoded
    a block at a time as they are consumed."""
    from .videoio.serializer import entry_frames

    serializer, raws = entry_blocks(blob)
    if serializer.get("id") == "frames":
        for frame in entry_frames(raws):
            yield [np.array(plane) for plane in frame]
        return
    if serializer.get("id") != "bytes":
        raise InputError("the archive does not hold video frames (it holds an image)")
    from .videoio import avframes, y4m
    from .videoio.base import NotVideo

    data = b"".join(raws)  # a video kept as bytes (an MP4 clip, a small Y4M file)
    try:
        found = y4m.plan(data) if data.startswith(y4m.SIGNATURE) else avframes.plan(data)
        for frame in found.frames:  # (decoded clips: decoded as they are consumed)
            yield [np.array(plane) for plane in frame]
    except NotVideo as exc:
        raise InputError(f"the archive does not hold video frames: {exc}") from None


def decompress_to_file(blob: bytes, path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Write the archived video file to ``path`` (atomically; OutputExists unless ``force``)."""
    data = decompress_bytes(blob)
    with atomic_file(Path(path), force) as sink:
        sink.write(data)


__all__ = ["compress", "decompress", "decompress_bytes", "decompress_to_file"]
