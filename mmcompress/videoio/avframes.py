"""Decoded video through PyAV: a coded clip's frames in its native pixel format, and FFV1 back.

:func:`plan` decodes the first video stream of any container FFmpeg reads (FFV1, HuffYUV,
UT Video, x264/x265 lossless ... in MKV, AVI, MP4) into frames of planes, exactly as the decoder
outputs them: planar YUV and grey as they are (more than 8 bits: uint16), RGB as the planes G, B,
R (FFmpeg's ``gbrp`` order; packed ``rgb24``/``bgr24``/``bgr0`` are split into those planes).
No colour conversion. The side information (:class:`StreamInfo`, canonical JSON) keeps what is
needed to write the frames back: size, pixel format, frame rate, colour tags (range, primaries,
transfer, matrix) and sample aspect ratio.

:func:`rebuild` writes the frames as FFV1 (level 3, range coder) in Matroska, with FFmpeg's
bitexact flags so the same frames give the same bytes (with the same FFmpeg libraries); its
decoded frames equal the input's plane for plane (:func:`same_frames` checks that). This is the
``--frames`` promise: frames, not bytes. **Not kept**: audio, subtitle, data and further video
streams, container metadata and chapters, exact timestamps (frames are written at the stream's
average frame rate). :attr:`~.base.VideoPlan.dropped` lists the streams left out, so the caller
can warn.

Lossy streams (H.264/HEVC at normal settings, VP9, AV1 ...) raise :class:`~.base.NotVideo`:
their bitstream is already the smallest frame-exact form, so they take the byte path. H.264
counts as lossless when its profile is High 4:4:4 Predictive and x264's settings (if written)
say ``qp=0``; HEVC when x265's settings say ``lossless``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np

from ..errors import CorruptArchive
from .base import (
    MAX_SIDE,
    SOURCE_FFV1_MKV,
    Frame,
    NotVideo,
    Span,
    VideoPlan,
    check_frames,
    frame_bits,
)

#: Codecs that are lossless by design.
LOSSLESS_CODECS = frozenset(
    {"ffv1", "huffyuv", "ffvhuff", "utvideo", "magicyuv", "rawvideo", "png", "apng", "qtrle",
     "lagarith", "zlib", "mszh", "v210", "v410", "r210", "y41p", "ayuv", "yuv4"}
)  # fmt: skip
#: Planar formats kept as they are (FFV1 writes each of them).
PLANAR_FORMATS = frozenset(
    ["yuv420p", "yuv422p", "yuv444p", "yuv411p", "yuv410p", "yuv440p", "gray",
     "yuva420p", "yuva422p", "yuva444p"]
    + [f"yuv{sub}p{bits}le" for sub in ("420", "422", "444") for bits in (9, 10, 12, 14, 16)]
    + [f"gray{bits}le" for bits in (9, 10, 12, 14, 16)]
    + [f"gbrp{bits}le" for bits in (9, 10, 12, 14, 16)]
    + ["gbrp"]
)  # fmt: skip
#: Decoder formats with the same planes as a planar format (JPEG-range YUV).
SAME_PLANES = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p",
               "yuvj440p": "yuv440p"}  # fmt: skip
#: Packed RGB formats -> bytes per pixel and the channel indices of G, B, R (planes of ``gbrp``).
PACKED_RGB = {"rgb24": (3, (1, 2, 0)), "bgr24": (3, (1, 0, 2)), "bgr0": (4, (1, 0, 2)),
              "rgb0": (4, (1, 2, 0))}  # fmt: skip
#: What FFV1 is asked to write for a pixel format it lacks (8-bit gbrp: packed bgr0).
WRITE_FORMAT = {"gbrp": "bgr0"}
#: FFV1 options of the written file (level 3, range coder with the default state table).
FFV1_OPTIONS = {"level": "3", "coder": "range_def", "context": "0", "slicecrc": "1",
                "flags": "+bitexact"}  # fmt: skip
_SETTINGS_SCAN_BYTES = 1 << 16
_MAX_SIDE_JSON = 1 << 16
_MAX_COLOUR_TAG = 255


@dataclass
class StreamInfo:
    """What FFV1 output needs besides the frames (rationals as [numerator, denominator])."""

    width: int
    height: int
    pix_fmt: str
    frame_rate: list[int]
    sample_aspect_ratio: list[int] | None
    color_range: int
    color_primaries: int
    color_trc: int
    colorspace: int
    codec: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, side: bytes) -> StreamInfo:
        """Read back :meth:`to_bytes`; CorruptArchive if anything is off."""
        try:
            if len(side) > _MAX_SIDE_JSON:
                raise ValueError("too long")
            fields: dict[str, Any] = json.loads(side.decode())
            info = cls(**fields)
            ints = [info.width, info.height, *info.frame_rate, info.color_range,
                    info.color_primaries, info.color_trc, info.colorspace]  # fmt: skip
            ints += info.sample_aspect_ratio or []
            if not all(type(value) is int and 0 <= value < 1 << 31 for value in ints):
                raise ValueError("bad numbers")
            if not (1 <= info.width <= MAX_SIDE and 1 <= info.height <= MAX_SIDE):
                raise ValueError("bad size")
            if info.pix_fmt not in PLANAR_FORMATS or len(info.frame_rate) != 2:
                raise ValueError("bad pixel format or frame rate")
            if info.sample_aspect_ratio is not None and len(info.sample_aspect_ratio) != 2:
                raise ValueError("bad aspect ratio")
            colours = (info.color_range, info.color_primaries, info.color_trc, info.colorspace)
            if max(colours) > _MAX_COLOUR_TAG:  # (FFmpeg's colour enums are small)
                raise ValueError("bad colour tag")
            if not isinstance(info.codec, str) or 0 in info.frame_rate:
                raise ValueError("bad codec name or frame rate")
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise CorruptArchive(f"video stream information is invalid ({exc})") from None
        return info


def _av() -> Any:
    import av  # PyAV: only when video is decoded or written

    return av


def canonical_format(pix_fmt: str) -> str | None:
    """The planar format whose planes :func:`frame_planes` gives for ``pix_fmt`` (None: not kept)."""
    if pix_fmt in PLANAR_FORMATS:
        return pix_fmt
    if pix_fmt in PACKED_RGB:
        return "gbrp"
    return SAME_PLANES.get(pix_fmt)


def format_bits(pix_fmt: str) -> int:
    """Bits per sample of a planar format."""
    return int(_av().VideoFormat(pix_fmt).components[0].bits)


def _dtype(pix_fmt: str) -> np.dtype:
    return np.dtype("<u2") if format_bits(pix_fmt) > 8 else np.dtype(np.uint8)


def frame_planes(frame: Any) -> Frame:
    """A decoded PyAV frame's planes in its canonical planar format (copies, no padding)."""
    name = frame.format.name
    if name in PACKED_RGB:
        pixels = _packed_pixels(frame.planes[0], frame.width, frame.height, PACKED_RGB[name][0])
        return [pixels[:, :, channel].copy() for channel in PACKED_RGB[name][1]]
    dtype = _dtype(canonical_format(name) or name)
    planes = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
        planes.append(rows[:, : plane.width].copy())
    return planes


def _packed_pixels(plane: Any, width: int, height: int, pixel_bytes: int) -> np.ndarray:
    """A packed plane's pixels as a (height, width, pixel_bytes) view (padding dropped)."""
    rows = np.frombuffer(plane, np.uint8).reshape(height, plane.line_size)
    return rows[:, : width * pixel_bytes].reshape(height, width, pixel_bytes)


def _lossless(stream: Any, head: bytes) -> bool:
    """Whether the stream's codec (and settings, for H.264/HEVC, read in the file's ``head``) is
    lossless."""
    name = stream.codec_context.name
    if name in LOSSLESS_CODECS:
        return True
    if name == "h264":
        settings = re.search(rb"x264 - core .{0,4000}?options: ([^\x00]*)", head, re.S)
        qp0 = settings is None or re.search(rb"(^| )qp=0( |$)", settings.group(1)) is not None
        return bool(stream.codec_context.profile == "High 4:4:4 Predictive" and qp0)
    if name == "hevc":
        settings = re.search(rb"x265 \(build.{0,8000}?options: ([^\x00]*)", head, re.S)
        return (
            settings is not None
            and re.search(rb"(^| )lossless( |$)", settings.group(1)) is not None
        )
    return False


def _video_stream(container: Any) -> Any:
    """The first video stream that is not an attached picture (cover art); NotVideo if none."""
    attached = _av().stream.Disposition.attached_pic
    for stream in container.streams.video:
        if not stream.disposition & attached:
            return stream
    raise NotVideo("the file has no video stream")


class DecodedFrames(Iterable[Frame]):
    """The frames of a clip's video stream, decoded again on each pass (nothing is held: a
    pass takes one frame's memory). NotVideo if a pass stops decoding, or the stream changes
    size or pixel format mid-stream."""

    def __init__(self, span: Span, stream_index: int) -> None:
        self._span, self._stream_index = span, stream_index

    def __iter__(self) -> Iterator[Frame]:
        av = _av()
        with _open(self._span) as container:
            stream = container.streams[self._stream_index]
            first: Any = None
            try:
                for decoded in container.decode(stream):
                    shape = (decoded.format.name, decoded.width, decoded.height)
                    if first is None:
                        first = shape
                    elif shape != first:
                        raise NotVideo("the stream changes size or pixel format")
                    yield frame_planes(decoded)
            except av.FFmpegError as exc:
                raise NotVideo(f"the video stream does not decode: {exc}") from None


def _open(span: Span) -> Any:
    av = _av()
    try:
        return av.open(span.open(), "r")
    except (av.FFmpegError, ValueError) as exc:
        raise NotVideo(f"not a video container: {exc}") from None


def plan(data: bytes | Span, *, require_lossless: bool = True) -> VideoPlan:
    """Plan the first video stream of ``data`` (bytes, or a :class:`~.base.Span` over a file):
    side = :class:`StreamInfo`, frames decoded on demand (:class:`DecodedFrames`). Here only the
    first frame is decoded (all of them for 9- to 16-bit formats, to find the sample range).
    NotVideo if the stream is lossy (unless ``require_lossless`` is False), does not decode or
    has a pixel format not kept; a later pass that fails to decode or sees the size or format
    change raises NotVideo then (the caller's FFV1 check makes that pass before anything is
    written)."""
    span = data if isinstance(data, Span) else Span(data)
    with _open(span) as container:
        stream = _video_stream(container)
        dropped = [f"{s.type} stream {s.index} ({s.codec_context.name if s.codec_context else '?'})"
                   for s in container.streams if s.index != stream.index]  # fmt: skip
        codec = stream.codec_context.name
        if require_lossless and not _lossless(stream, span.head(_SETTINGS_SCAN_BYTES)):
            raise NotVideo(f"the {codec} stream is lossy: its bitstream is already the smallest "
                           "frame-exact form")  # fmt: skip
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        frames = DecodedFrames(span, stream.index)
        first: Any = None
        av = _av()
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise NotVideo(f"the video stream does not decode: {exc}") from None
        if first is None:
            raise NotVideo("the video stream has no frame")
        pix_fmt = canonical_format(first.format.name)
        if pix_fmt is None:
            raise NotVideo(f"pixel format {first.format.name} is not kept")
        info = StreamInfo(
            width=first.width,
            height=first.height,
            pix_fmt=pix_fmt,
            frame_rate=[rate.numerator, rate.denominator],
            sample_aspect_ratio=[aspect.numerator, aspect.denominator] if aspect else None,
            color_range=int(first.color_range),
            color_primaries=int(first.color_primaries),
            color_trc=int(first.color_trc),
            colorspace=int(first.colorspace),
            codec=codec,
        )
    bits = frame_bits(frames, format_bits(pix_fmt))  # (a decoding pass above 8 bits)
    return VideoPlan(SOURCE_FFV1_MKV, info.to_bytes(), frames, bits, dropped)


def _shapes(info: StreamInfo) -> list[tuple[int, int]]:
    """Plane shapes (height, width) of the info's format, as FFmpeg lays them out (computed from
    the format descriptor: nothing is allocated)."""
    components = _av().VideoFormat(info.pix_fmt, info.width, info.height).components
    shapes = {component.plane: (component.height, component.width) for component in components}
    return [shapes[plane] for plane in sorted(shapes)]


def write_ffv1(info: StreamInfo, frames: Iterable[Frame], output: BinaryIO) -> None:
    """Write the frames to ``output`` (a seekable file: the muxer goes back to finish it) as an
    FFV1 level 3 Matroska file (see the module docstring), a frame at a time."""
    av = _av()
    write_format = WRITE_FORMAT.get(info.pix_fmt, info.pix_fmt)
    with av.open(output, "w", format="matroska", options={"fflags": "+bitexact"}) as container:
        rate = Fraction(*info.frame_rate)
        stream = container.add_stream("ffv1", rate=rate, options=FFV1_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, write_format
        stream.thread_count = 1
        context = stream.codec_context
        context.color_range, context.colorspace = info.color_range, info.colorspace
        context.color_primaries, context.color_trc = info.color_primaries, info.color_trc
        if info.sample_aspect_ratio:
            context.sample_aspect_ratio = Fraction(*info.sample_aspect_ratio)
        for index, planes in enumerate(frames):
            frame = _to_av_frame(info, write_format, planes)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _to_av_frame(info: StreamInfo, write_format: str, planes: Frame) -> Any:
    av = _av()
    frame = av.VideoFrame(info.width, info.height, write_format)
    frame.color_range, frame.colorspace = info.color_range, info.colorspace
    frame.color_primaries, frame.color_trc = info.color_primaries, info.color_trc
    if write_format in PACKED_RGB:  # G, B, R planes into packed pixels
        pixel_bytes, channels = PACKED_RGB[write_format]
        pixels = _packed_pixels(frame.planes[0], info.width, info.height, pixel_bytes)
        for plane, channel in zip(planes, channels, strict=True):
            pixels[:, :, channel] = plane
        return frame
    dtype = _dtype(info.pix_fmt)
    for target, plane in zip(frame.planes, planes, strict=True):
        rows = np.frombuffer(target, dtype).reshape(
            target.height, target.line_size // dtype.itemsize
        )
        rows[:, : target.width] = plane
    return frame


def rebuild_to(side: bytes, frames: Iterable[Frame], output: BinaryIO) -> None:
    """Write the FFV1 Matroska file for a plan's ``side`` and ``frames`` to ``output``, a frame
    at a time; CorruptArchive if they do not fit together."""
    info = StreamInfo.from_bytes(side)
    shapes, dtype = _shapes(info), _dtype(info.pix_fmt)

    def checked() -> Iterator[Frame]:
        for frame in frames:
            try:
                check_frames([frame], shapes, dtype)
            except ValueError as exc:
                raise CorruptArchive(
                    f"video frames do not match their stream information: {exc}"
                ) from None
            yield frame

    av = _av()
    try:
        write_ffv1(info, checked(), output)
    except (av.FFmpegError, ValueError, TypeError) as exc:
        raise CorruptArchive(f"video stream information is not writable: {exc}") from None


def rebuild(side: bytes, frames: Iterable[Frame]) -> bytes:
    """:func:`rebuild_to` into bytes."""
    output = io.BytesIO()
    rebuild_to(side, frames, output)
    return output.getvalue()


def decoded_frames(data: bytes | BinaryIO) -> Iterator[tuple[str, Frame]]:
    """(canonical pixel format, planes) of each frame of the first video stream of ``data``
    (bytes, or a seekable file from its start), a frame at a time."""
    av = _av()
    with av.open(io.BytesIO(data) if isinstance(data, bytes) else data, "r") as container:
        stream = _video_stream(container)
        for frame in container.decode(stream):
            yield canonical_format(frame.format.name) or frame.format.name, frame_planes(frame)


def same_frames(first: bytes | BinaryIO, second: bytes | BinaryIO) -> bool:
    """Whether two video files decode to the same frames, plane for plane (same count, same
    canonical pixel format, same samples). Undecodable input: False."""
    av = _av()
    try:
        pairs = zip(decoded_frames(first), decoded_frames(second), strict=True)
        for (format_a, planes_a), (format_b, planes_b) in pairs:
            if format_a != format_b or len(planes_a) != len(planes_b):
                return False
            if not all(np.array_equal(a, b) for a, b in zip(planes_a, planes_b, strict=True)):
                return False
    except (av.FFmpegError, NotVideo, ValueError, IndexError):
        return False  # (zip strict: a ValueError when the frame counts differ)
    return True
