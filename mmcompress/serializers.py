"""Entry serializers: how a file becomes container blocks, and which number an archive gives each.

Every entry names a serializer (docs/FORMAT.md, "Serializers"):

    0  bytes                     the file's bytes, cut into blocks
    1  raster, promise "bytes"   an image as side information + pixel strips, byte-exact
    2  raster, promise "pixels"  the same pixels and metadata, rebuilt as PNG (``--pixels``)
    3  frames, promise "bytes"   a raw video (Y4M, raw YUV) as side information + frame blocks
    4  frames, promise "frames"  decoded frames of a coded video, rebuilt as FFV1/Matroska
                                 whose decoded frames are the same (``--frames``)

An archive lists only the prefix it may need (``bytes``; up to 2 when it may hold images; all five
when it may hold video), so an entry's number is the same in every archive. :func:`plan_entry`
picks the path of one file; :func:`rebuild` turns an entry's decoded blocks back into the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .detect import Modality
from .errors import CorruptArchive
from .imaging import serializer as raster

BYTES = {"id": "bytes", "version": 1}
VIDEO_EXACT: dict[str, Any] = {"id": "frames", "version": 1, "promise": "bytes"}
VIDEO_FRAMES: dict[str, Any] = {"id": "frames", "version": 1, "promise": "frames"}
#: Every serializer this mmcompress knows, at its entry number.
KNOWN: list[dict[str, Any]] = [BYTES, raster.RASTER_EXACT, raster.RASTER_PIXELS, VIDEO_EXACT,
                               VIDEO_FRAMES]  # fmt: skip
RASTER_EXACT, RASTER_PIXELS, FRAMES_EXACT, FRAMES_DECODED = 1, 2, 3, 4
#: Block roles beyond modalities: which codec a block of a rich entry goes to.
PIXEL_BLOCK = 100
FRAMES_BLOCK = 101
#: How ``list`` names each serializer's path (its "coding" column).
PATH_NAMES = ["bytes", "pixels", "pixels-png", "frames", "frames-mkv"]


def listed(images: bool, video: bool) -> list[dict[str, Any]]:
    """The serializers an archive lists: the prefix of :data:`KNOWN` its entries may need."""
    return list(KNOWN[: 5 if video else 3 if images else 1])


def check_listed(serializers: Any) -> list[dict[str, Any]]:
    """An archive's serializer list, checked against what this mmcompress can rebuild."""
    from .errors import UnsupportedFormat

    if not isinstance(serializers, list):
        raise CorruptArchive("archive metadata has a malformed serializer list")
    for serializer in serializers:
        if serializer not in KNOWN:
            raise UnsupportedFormat(
                f"archive uses serializer {serializer!r}, which this mmcompress lacks"
            )
    return serializers


def path_name(serializers: Any, number: int) -> str:
    """The ``list`` name of entry serializer ``number`` in an archive listing ``serializers``."""
    if not isinstance(serializers, list) or not 0 <= number < len(serializers):
        return "unknown"
    serializer = serializers[number]
    return PATH_NAMES[KNOWN.index(serializer)] if serializer in KNOWN else "unknown"


@dataclass(frozen=True)
class PathOptions:
    """What a user allows beyond byte-exact bytes, and what the bytes cannot say themselves."""

    #: ``--pixels``: images keep their pixels and metadata (PNG on unpack).
    pixels: bool = False
    #: ``--frames``: coded videos keep their decoded frames (FFV1 Matroska on unpack).
    frames: bool = False
    #: Raw YUV input: ((width, height), pixel format); None: not raw YUV.
    raw_video: tuple[tuple[int, int], str] | None = None


def max_file_bytes(modality: Modality) -> int:
    """How much of a file of this modality is read to plan its rich path (beyond: byte path)."""
    if modality == Modality.IMAGE:
        return raster.MAX_FILE_BYTES
    from .videoio.serializer import MAX_FILE_BYTES

    return MAX_FILE_BYTES


@dataclass(frozen=True)
class RichPaths:
    """What a packer may do beyond bytes: its options and whether it has each rich codec."""

    options: PathOptions
    images: bool
    video: bool

    def plan(self, data: bytes | BinaryIO, modality: Modality) -> Planned | str:
        """The file's rich path, or why it takes the byte path (``data``: its bytes, or for raw
        video a seekable file, see :func:`streams_from_file`)."""
        return plan_entry(data, modality, self.options, images=self.images, video=self.video)

    def wants(self, modality: Modality) -> bool:
        """Whether a file of this modality is worth reading whole to try a rich path."""
        if modality == Modality.IMAGE:
            return self.images
        return self.video and may_take_rich_path(modality, self.options)


@dataclass
class Planned:
    """A file that takes a rich path: its serializer number, the size unpack writes, its blocks."""

    serializer: int
    size: int
    #: The entry's modality (a ``--frames`` Matroska file is detected as compressed data).
    modality: Modality
    #: ``cut(block_size)`` -> (raw, role) pairs; role -1 means "the entry's modality".
    cut: Callable[[int], Iterator[tuple[bytes, int]]]
    #: What the user should know (e.g. streams a --frames archive leaves out).
    warnings: list[str] = field(default_factory=list)


def may_take_rich_path(modality: Modality, options: PathOptions) -> bool:
    """Whether a file of this modality may take a pixel or frame path (is worth reading whole)."""
    if modality == Modality.IMAGE:
        return True
    if modality == Modality.VIDEO or options.raw_video is not None:
        return True
    return options.frames and modality == Modality.COMPRESSED


#: Video files beyond this are planned from the open file (smaller ones are read whole).
STREAMED_MIN_BYTES = 256 << 10


def streams_from_file(size: int, modality: Modality, options: PathOptions) -> bool:
    """Whether a file of ``size`` bytes is planned from its open file rather than from its
    bytes: a video beyond :data:`STREAMED_MIN_BYTES` that may take the frames path, whose frames
    are then read or decoded a block at a time as they are coded (memory does not grow with
    the clip)."""
    return (
        size > STREAMED_MIN_BYTES
        and modality != Modality.IMAGE
        and may_take_rich_path(modality, options)
    )


def plan_entry(
    data: bytes | BinaryIO,
    modality: Modality,
    options: PathOptions,
    *,
    images: bool,
    video: bool,
) -> Planned | str:
    """The rich path of a whole file, or the reason it takes the byte path.

    ``images`` / ``video``: whether the level has a pixel / frames codec. ``data`` is the file's
    bytes, or an open seekable file when :func:`streams_from_file` says so (video only)."""
    if modality == Modality.IMAGE and images:
        assert isinstance(data, bytes)
        found = raster.plan(data, pixels=options.pixels)
        if found is None:
            return "not a raster this mmcompress can rebuild"
        image, size = found
        number = RASTER_PIXELS if options.pixels else RASTER_EXACT

        def cut_image(block_size: int) -> Iterator[tuple[bytes, int]]:
            for role, raw in raster.plan_blocks(image, block_size):
                yield raw, PIXEL_BLOCK if role == raster.Block.PIXELS else -1

        return Planned(number, size, Modality.IMAGE, cut_image)
    if video and may_take_rich_path(modality, options) and modality != Modality.IMAGE:
        from .videoio import serializer as frames

        planned = frames.plan_or_reason(data, frames=options.frames, raw_geometry=options.raw_video)
        if isinstance(planned, str):
            return planned
        movie, size = planned
        number = FRAMES_DECODED if frames.promise_of_plan(movie) == "frames" else FRAMES_EXACT

        def cut_video(block_size: int) -> Iterator[tuple[bytes, int]]:
            for role, raw in frames.plan_blocks(movie, block_size):
                yield raw, FRAMES_BLOCK if role == frames.Block.FRAMES else -1

        return Planned(number, size, Modality.VIDEO, cut_video, list(frames.plan_warnings(movie)))
    return "no codec for this kind of file at this level"


def rebuild(
    serializers: list[dict[str, Any]], number: int, raws: Iterable[bytes], size: int
) -> Iterator[bytes | memoryview]:
    """The file entry serializer ``number`` (not 0) stands for, from its decoded raw blocks, in
    pieces (raw video: a frame at a time, consuming ``raws`` as it goes)."""
    serializer = serializers[number]
    if serializer in (raster.RASTER_EXACT, raster.RASTER_PIXELS):
        return iter([raster.rebuild_from_blocks(raws, size)])
    if serializer in (VIDEO_EXACT, VIDEO_FRAMES):
        from .videoio import serializer as frames

        return frames.rebuild_pieces(raws, size)
    raise CorruptArchive(f"entry names serializer {serializer!r}, which has no rebuild")
