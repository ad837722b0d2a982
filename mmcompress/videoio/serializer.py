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

Memory (streaming): a video given as a seekable file is planned from the file (raw video by
scanning it, a coded clip by decoding it a frame at a time: once to check it, once to write and
check its FFV1 file in a temporary file) and its frames are read or decoded a block at a time
while the blocks are coded; on unpack :func:`rebuild_pieces` writes raw video a frame at a time
as the blocks are decoded, and an FFV1 file through a temporary file. Memory does not grow with
the clip's length. A video given as bytes in memory is planned from them, up to
:data:`MAX_FILE_BYTES` (the packer spools a video from a pipe to a temporary file first).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CorruptArchive
from ..sideframe import read_side, side_blocks
from .base import (
    SOURCE_FFV1_MKV,
    SOURCE_RAWYUV,
    SOURCE_Y4M,
    Frame,
    NotVideo,
    Span,
    VideoPlan,
)

#: The serializers this module implements, as archives record them (``meta["serializers"]``).
VIDEO_EXACT: dict[str, Any] = {"id": "frames", "version": 1, "promise": "bytes"}
VIDEO_FRAMES: dict[str, Any] = {"id": "frames", "version": 1, "promise": "frames"}
SERIALIZERS = (VIDEO_EXACT, VIDEO_FRAMES)

#: Video files given as bytes beyond this are not even parsed: they take the byte path.
MAX_FILE_BYTES = 1 << 30
#: Side information beyond this is refused when decoding (a hostile header must not allocate).
MAX_SIDE_BYTES = 64 << 20
#: Source byte at the start of the side information -> source name, and back.
SOURCES = {1: SOURCE_Y4M, 2: SOURCE_RAWYUV, 3: SOURCE_FFV1_MKV}
SOURCE_NUMBERS = {name: number for number, name in SOURCES.items()}

#: Piece size when a rebuilt file is copied out of its temporary file.
_COPY_BYTES = 1 << 20
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
    data: bytes | BinaryIO, *, frames: bool, raw_geometry: RawGeometry | None = None
) -> tuple[VideoPlan, int] | str:
    """:func:`plan`, or instead of None the reason the file takes the byte path (for a message
    such as "--frames: ... is lossy"). ``data``: the file's bytes, or a seekable file from its
    current position on (it must stay open while the plan's blocks are cut)."""
    from ..predictors.frames import MAX_BLOCK_SAMPLES  # (the frame codec: numba, torch)

    span = Span(data)
    if span.in_memory and span.size > MAX_FILE_BYTES:
        return f"over {MAX_FILE_BYTES} bytes"
    try:
        if raw_geometry is not None:  # (bad geometry: InputError, the caller's mistake)
            from . import rawyuv

            found = rawyuv.plan(span, raw_geometry[0], raw_geometry[1])
        elif span.head(9) == b"YUV4MPEG2":
            from . import y4m

            found = y4m.plan(span)
        elif frames:
            from . import avframes

            found = avframes.plan(span)
        else:
            return "not raw video (coded video keeps its bytes unless --frames is given)"
        first = next(iter(found.frames))
        if sum(plane.size for plane in first) > MAX_BLOCK_SAMPLES:
            return "frames too large for a frame block"
        if len(found.side) + 1 > MAX_SIDE_BYTES:
            return "side information too large"
        if found.source != SOURCE_FFV1_MKV:
            return found, span.size  # the source module checked that its pieces give it back
        return found, _ffv1_size(found, span)
    except NotVideo as exc:
        return str(exc)


def _ffv1_size(found: VideoPlan, span: Span) -> int:
    """The size of the FFV1 file unpack will write for ``found``, once it is checked to decode
    to the same frames as the input (the promise, checked before it is made); NotVideo if not.
    Streams: the file is written to a temporary file, then both are decoded in step."""
    from . import avframes

    with tempfile.TemporaryFile() as written:
        try:
            avframes.rebuild_to(found.side, found.frames, written)
        except CorruptArchive as exc:
            raise NotVideo(f"the frames cannot be written as FFV1 ({exc})") from None
        written.seek(0)
        with span.open() as original:
            if not avframes.same_frames(original, written):
                raise NotVideo("the frames do not survive FFV1 (decoder output differs)")
        return written.seek(0, os.SEEK_END)


def plan(
    data: bytes | BinaryIO, *, frames: bool, raw_geometry: RawGeometry | None = None
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
    frames = iter(found.frames)
    first = next(frames)
    frame_bytes = sum(plane.nbytes for plane in first)
    frame_samples = sum(plane.size for plane in first)
    per_block = max(1, min(block_size // frame_bytes, MAX_BLOCK_SAMPLES // frame_samples))
    frames = itertools.chain([first], frames)
    while run := list(itertools.islice(frames, per_block)):
        yield Block.FRAMES, frames_to_block(run, found.bits)


def rebuild_from_blocks(raws: Iterable[bytes], size: int) -> bytes:
    """The file a video entry's decoded raw blocks stand for; ``size`` is its recorded size."""
    return b"".join(rebuild_pieces(raws, size))


def rebuild_pieces(raws: Iterable[bytes], size: int) -> Iterator[bytes | memoryview]:
    """:func:`rebuild_from_blocks` in pieces, consuming ``raws`` as it goes: raw video a frame
    at a time, an FFV1 file written to a temporary file first (the file is never whole in
    memory).
    CorruptArchive, at the latest after the last piece, if the blocks do not make ``size``
    bytes of a valid file."""
    blocks = iter(raws)
    side = read_side(blocks, MAX_SIDE_BYTES, "video entry")
    source = SOURCES.get(side[0]) if side else None
    if source is None:
        raise CorruptArchive("video entry's side information names no known source")
    frames = _at_least_one(_frames_of(blocks))
    if source == SOURCE_FFV1_MKV:
        pieces: Iterable[bytes | memoryview] = _ffv1_pieces(side[1:], frames)
    elif source == SOURCE_Y4M:
        from . import y4m

        pieces = y4m.pieces(side[1:], frames)
    else:
        from . import rawyuv

        pieces = rawyuv.pieces(side[1:], frames)
    written = 0
    for piece in pieces:
        written += len(piece)  # (memoryview pieces are byte views)
        if written > size:
            raise CorruptArchive("video entry rebuilds to more bytes than the size recorded")
        yield piece
    if written != size:
        raise CorruptArchive("video entry rebuilds to a size other than the one recorded")


def entry_frames(raws: Iterable[bytes]) -> Iterator[Frame]:
    """The frames a video entry's decoded raw blocks hold, a block at a time (what
    ``mmcompress.video.decompress`` yields, whatever file the entry rebuilds)."""
    blocks = iter(raws)
    side = read_side(blocks, MAX_SIDE_BYTES, "video entry")
    if not side or side[0] not in SOURCES:
        raise CorruptArchive("video entry's side information names no known source")
    yield from _at_least_one(_frames_of(blocks))


def _frames_of(blocks: Iterator[bytes]) -> Iterator[Frame]:
    """The frames of a video entry's frame blocks, a block at a time."""
    from ..predictors.base import NotApplicable
    from ..predictors.frames import block_to_frames

    for raw in blocks:
        try:
            run, _ = block_to_frames(raw)
        except NotApplicable as exc:
            raise CorruptArchive(f"video entry has an invalid frame block: {exc}") from None
        yield from run


def _at_least_one(frames: Iterator[Frame]) -> Iterator[Frame]:
    count = 0
    for frame in frames:
        count += 1
        yield frame
    if not count:
        raise CorruptArchive("video entry has no frame blocks")


def _ffv1_pieces(side: bytes, frames: Iterator[Frame]) -> Iterator[bytes]:
    """The FFV1 Matroska file of ``frames``, written to a temporary file (the muxer seeks back
    to finish it), then read back in pieces."""
    from .avframes import rebuild_to

    with tempfile.TemporaryFile() as written:
        rebuild_to(side, frames, written)
        written.seek(0)
        while piece := written.read(_COPY_BYTES):
            yield piece


def check_same_frames(original: Path, rebuilt: bytes | BinaryIO) -> None:
    """The ``--frames`` check: ``rebuilt`` (bytes, or a seekable file from its start) decodes to
    the same frames as the file ``original``, plane for plane (CorruptArchive if not). Both are
    decoded in step, a frame at a time."""
    from .avframes import same_frames

    try:
        source = open(original, "rb")
    except OSError as exc:
        raise CorruptArchive(f"archive does not match {original}: {exc.strerror}") from None
    with source:
        if not same_frames(source, rebuilt):
            raise CorruptArchive(f"archive does not match {original}: the frames differ")
