"""The video serializer: a video file as container blocks (side information + frame runs).

A video entry (serializer ``"frames"``) is stored as

    side blocks   : the side-information frame (:mod:`mmcompress.sideframe`) around
                    u8 source (1 Y4M, 2 raw YUV, 3 FFV1 Matroska) + that source's side bytes
                    (Y4M header and FRAME lines, raw geometry and trailing bytes, stream info)
    frame blocks  : the frames, consecutive frames grouped up to the block size (at least one
                    per block), each block in the frame codec's raw form
                    (:func:`mmcompress.predictors.frames.frames_to_block`)

Two promises (docs/FORMAT.md, "Serializers"): ``"bytes"``, the original file comes back byte for
byte (Y4M, and raw YUV given its geometry; verified at pack time), and ``"frames"``
(``--frames``): a losslessly coded clip (FFV1, HuffYUV, UT Video, x264/x265 lossless ...) comes
back as an FFV1 Matroska file whose decoded frames equal the input's (audio and other streams
are not kept: ``plan(...)[0].dropped`` lists them). A Y4M file under ``--frames`` still comes back
byte for byte. Anything else returns None here and takes the byte path (serializer ``"bytes"``).

Memory: a plan holds the whole file and its frames (:data:`MAX_FILE_BYTES`,
:data:`~.base.MAX_SAMPLE_BYTES`); larger inputs take the byte path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import CorruptArchive
from ..sideframe import read_side, side_blocks
from .base import (
    MAX_SAMPLE_BYTES,
    SOURCE_FFV1_MKV,
    SOURCE_RAWYUV,
    SOURCE_Y4M,
    Frame,
    NotVideo,
    VideoPlan,
)

#: The serializers this module implements, as archives record them (``meta["serializers"]``).
VIDEO_EXACT: dict[str, Any] = {"id": "frames", "version": 1, "promise": "bytes"}
VIDEO_FRAMES: dict[str, Any] = {"id": "frames", "version": 1, "promise": "frames"}
SERIALIZERS = (VIDEO_EXACT, VIDEO_FRAMES)

#: Video files beyond this are not even parsed: they take the byte path.
MAX_FILE_BYTES = MAX_SAMPLE_BYTES + (64 << 20)
#: Side information beyond this is refused when decoding (a hostile header must not allocate).
MAX_SIDE_BYTES = 64 << 20
#: Source byte at the start of the side information -> source name, and back.
SOURCES = {1: SOURCE_Y4M, 2: SOURCE_RAWYUV, 3: SOURCE_FFV1_MKV}
SOURCE_NUMBERS = {name: number for number, name in SOURCES.items()}

#: Raw YUV geometry as the CLI gives it: ((width, height), pix_fmt).
RawGeometry = tuple[tuple[int, int], str]


class Block:
    """Roles of a video entry's blocks: which codec the archive layer offers each one."""

    SIDE = "side"
    FRAMES = "frames"


def promise_of(serializer: dict[str, Any]) -> str:
    """'bytes' or 'frames' for a video serializer description (what ``list`` shows)."""
    return str(serializer.get("promise", "bytes"))


def plan_or_reason(
    data: bytes, *, frames: bool, raw_geometry: RawGeometry | None = None
) -> tuple[VideoPlan, int] | str:
    """:func:`plan`, or instead of None the reason the file takes the byte path (for a message
    such as "--frames: ... is lossy")."""
    if len(data) > MAX_FILE_BYTES:
        return f"over {MAX_FILE_BYTES} bytes"
    try:
        if raw_geometry is not None:  # (bad geometry: InputError, the caller's mistake)
            from . import rawyuv

            found = rawyuv.plan(data, raw_geometry[0], raw_geometry[1])
        elif data.startswith(b"YUV4MPEG2"):
            from . import y4m

            found = y4m.plan(data)
        elif frames:
            from . import avframes

            found = avframes.plan(data)
        else:
            return "not raw video (coded video keeps its bytes unless --frames is given)"
    except NotVideo as exc:
        return str(exc)
    from ..predictors.frames import MAX_BLOCK_SAMPLES  # (the frame codec: numba, torch)

    if sum(plane.size for plane in found.frames[0]) > MAX_BLOCK_SAMPLES:
        return "frames too large for a frame block"
    if len(found.side) + 1 > MAX_SIDE_BYTES:
        return "side information too large"
    if found.source != SOURCE_FFV1_MKV:
        return found, len(data)  # the source module verified that rebuild gives ``data`` back
    from . import avframes

    try:
        written = avframes.rebuild(found.side, found.frames)
    except CorruptArchive as exc:
        return f"the frames cannot be written as FFV1 ({exc})"
    if not avframes.same_frames(data, written):  # (the promise, checked before it is made)
        return "the frames do not survive FFV1 (decoder output differs)"
    return found, len(written)


def plan(
    data: bytes, *, frames: bool, raw_geometry: RawGeometry | None = None
) -> tuple[VideoPlan, int] | None:
    """The frames-path plan of a video file and the size of the file unpack will write (the
    original's, or the FFV1 Matroska file's under ``frames``), or None: it takes the byte path.

    ``raw_geometry`` ((width, height), pix_fmt) says the file is raw planar YUV; a bad one raises
    InputError. Without ``frames`` only raw video (Y4M, raw YUV) is planned.
    """
    found = plan_or_reason(data, frames=frames, raw_geometry=raw_geometry)
    return None if isinstance(found, str) else found


def promise_of_plan(found: VideoPlan) -> str:
    """The promise a plan keeps: 'frames' for a decoded clip (FFV1 Matroska on unpack), 'bytes'
    for raw video (Y4M, raw YUV), which comes back byte for byte even under ``--frames``."""
    return "frames" if found.source == SOURCE_FFV1_MKV else "bytes"


def plan_warnings(found: VideoPlan) -> Iterator[str]:
    """What the user should be told about a plan: the streams unpack will not write."""
    for what in found.dropped:
        yield f"{what} is not kept: --frames keeps the first video stream's frames only"


def side_payload(found: VideoPlan) -> bytes:
    """The side information of an entry: source byte + the source's side bytes."""
    return bytes([SOURCE_NUMBERS[found.source]]) + found.side


def plan_blocks(found: VideoPlan, block_size: int) -> Iterator[tuple[str, bytes]]:
    """The raw blocks of a video entry, in order, each with its :class:`Block` role."""
    from ..predictors.frames import MAX_BLOCK_SAMPLES, frames_to_block

    for block in side_blocks(side_payload(found), block_size):
        yield Block.SIDE, block
    frame_bytes = sum(plane.nbytes for plane in found.frames[0])
    frame_samples = sum(plane.size for plane in found.frames[0])
    per_block = max(1, min(block_size // frame_bytes, MAX_BLOCK_SAMPLES // frame_samples))
    for first in range(0, len(found.frames), per_block):
        yield Block.FRAMES, frames_to_block(found.frames[first : first + per_block], found.bits)


def rebuild_from_blocks(raws: Iterable[bytes], size: int) -> bytes:
    """The file a video entry's decoded raw blocks stand for; ``size`` is its recorded size."""
    from ..predictors.base import NotApplicable
    from ..predictors.frames import block_to_frames

    blocks = iter(raws)
    side = read_side(blocks, MAX_SIDE_BYTES, "video entry")
    source = SOURCES.get(side[0]) if side else None
    if source is None:
        raise CorruptArchive("video entry's side information names no known source")
    frames: list[Frame] = []
    total = 0
    for raw in blocks:
        try:
            run, _ = block_to_frames(raw)
        except NotApplicable as exc:
            raise CorruptArchive(f"video entry has an invalid frame block: {exc}") from None
        total += sum(plane.nbytes for frame in run for plane in frame)
        if total > MAX_SAMPLE_BYTES:
            raise CorruptArchive("video entry's frames exceed the memory bound")
        frames += run
    if not frames:
        raise CorruptArchive("video entry has no frame blocks")
    data = _rebuild(source, side[1:], frames)
    if len(data) != size:
        raise CorruptArchive("video entry rebuilds to a size other than the one recorded")
    return data


def _rebuild(source: str, side: bytes, frames: list[Frame]) -> bytes:
    if source == SOURCE_Y4M:
        from .y4m import rebuild
    elif source == SOURCE_RAWYUV:
        from .rawyuv import rebuild
    else:
        from .avframes import rebuild
    return rebuild(side, frames)


def check_same_frames(original: Path, rebuilt: bytes) -> None:
    """The ``--frames`` check: ``rebuilt`` is ``original`` byte for byte, or decodes to the same
    frames plane for plane (CorruptArchive if not)."""
    try:
        data = original.read_bytes()
    except OSError as exc:
        raise CorruptArchive(f"archive does not match {original}: {exc.strerror}") from None
    if data == rebuilt:
        return
    from .avframes import same_frames

    if not same_frames(data, rebuilt):
        raise CorruptArchive(f"archive does not match {original}: the frames differ")
