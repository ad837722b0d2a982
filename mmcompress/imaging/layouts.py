"""Uncompressed rasters (BMP, PBM/PGM/PPM, TGA, uncompressed TIFF): byte-exact split into pixels + rest.

These formats store each pixel row as plain bytes somewhere in the file: at a fixed offset with
a fixed step (BMP and TGA rows may run bottom-up, BMP rows are padded to 4 bytes), or in strips
(TIFF). A small parser per format finds the :class:`RowLayout`::

    segments   (first row's file offset, signed step between rows, row count), in image row order
    row_bytes  bytes of one row's samples; everything outside the rows is a "gap" byte
    samples    bits per sample (1, 2, 4, 8, 16), byte order of 16-bit samples, channel order
               (BMP and TGA store BGR(A); the model gets RGB(A))

The header (KIND_LAYOUT_EXACT) keeps the layout and every gap byte verbatim (file headers,
palettes, row padding, trailing data), so the rebuild puts the rows back where they were and is
byte-exact by construction; it is still verified at plan time. Compressed variants (RLE BMP and
TGA, compressed TIFF), 16-bit BMP/TGA pixels, tiled or planar TIFF raise NotRaster.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import CorruptArchive
from .header import (
    KIND_LAYOUT_EXACT,
    PATH_BYTE_EXACT,
    HeaderReader,
    HeaderWriter,
    ImagePlan,
    NotRaster,
    check_dimensions,
    check_pixels,
)
from .pngrecipe import row_bytes as packed_row_bytes
from .pngrecipe import rows_from_samples, samples_from_rows

MAX_FILE_BYTES = 1 << 40
MAX_SEGMENTS = 1 << 24
SAMPLE_BITS = (1, 2, 4, 8, 16)


@dataclass
class RowLayout:
    """Where a raster's rows sit in its file and how their samples are packed."""

    width: int
    height: int
    channels: int
    sample_bits: int
    big_endian: bool  # byte order of 16-bit samples
    channel_order: tuple[int, ...]  # file channel i holds model channel channel_order[i]
    segments: list[tuple[int, int, int]]  # (offset of first row, step, rows)
    #: What the samples mean, for the pixel path: "grey" / "rgb" (grey or RGB, maybe + alpha, on
    #: the full 0..2^bits-1 scale), "palette", or "other" (inverted, CMYK, odd maximum...).
    #: Not stored in headers: the byte-exact rebuild does not need it.
    color: str = "other"

    @property
    def row_bytes(self) -> int:
        return packed_row_bytes(self.width, self.channels, self.sample_bits)

    def row_starts(self) -> np.ndarray:
        """File offset of every image row, in image order."""
        parts = [
            offset + step * np.arange(count, dtype=np.int64)
            for offset, step, count in self.segments
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Format parsers: bytes -> RowLayout (NotRaster when the file is not a plain uncompressed raster)


def _bmp_layout(data: bytes) -> RowLayout:
    if len(data) < 54:
        raise NotRaster("BMP header truncated")
    (pixel_offset,) = struct.unpack_from("<I", data, 10)
    (dib_size,) = struct.unpack_from("<I", data, 14)
    if dib_size < 40:
        raise NotRaster("OS/2 BMP headers are not handled")
    width, height, _planes, bit_count, compression = struct.unpack_from("<iiHHI", data, 18)
    bgra_masks = (0x00FF0000, 0x0000FF00, 0x000000FF)
    if compression == 3 and bit_count == 32 and len(data) >= 66:
        if struct.unpack_from("<III", data, 54) != bgra_masks:
            raise NotRaster("BMP bit fields other than BGRA")
    elif compression != 0:
        raise NotRaster("compressed BMP")
    channels_of_bits = {1: 1, 4: 1, 8: 1, 24: 3, 32: 4}
    if bit_count not in channels_of_bits or width <= 0 or height == 0:
        raise NotRaster(f"BMP with {bit_count} bits per pixel")
    channels = channels_of_bits[bit_count]
    sample_bits = min(bit_count, 8)
    rows = abs(height)
    stride = (bit_count * width + 31) // 32 * 4
    if height > 0:  # bottom-up: the top image row is the last one in the file
        segments = [(pixel_offset + (rows - 1) * stride, -stride, rows)]
    else:
        segments = [(pixel_offset, stride, rows)]
    order = {1: (0,), 3: (2, 1, 0), 4: (2, 1, 0, 3)}[channels]
    color = "palette" if channels == 1 else "rgb"
    return RowLayout(width, rows, channels, sample_bits, False, order, segments, color)


def _pnm_tokens(data: bytes, count: int, pos: int) -> tuple[list[int], int]:
    """Read ``count`` decimal header fields (skipping whitespace and # comments) from ``pos``."""
    values: list[int] = []
    while len(values) < count:
        while pos < len(data) and data[pos : pos + 1] in (
            b" ",
            b"\t",
            b"\n",
            b"\r",
            b"\x0b",
            b"\x0c",
            b"#",
        ):
            if data[pos : pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end
            pos += 1
        start = pos
        while pos < len(data) and 48 <= data[pos] <= 57:
            pos += 1
        if pos == start or pos - start > 9:
            raise NotRaster("PNM header has a bad number")
        values.append(int(data[start:pos]))
    if pos >= len(data) or data[pos : pos + 1] not in (b" ", b"\t", b"\n", b"\r"):
        raise NotRaster("PNM header does not end with one whitespace byte")
    return values, pos + 1


def _pnm_layout(data: bytes) -> RowLayout:
    magic = data[:2]
    max_value = 1
    if magic == b"P4":
        (width, height), pos = _pnm_tokens(data, 2, 2)
        channels, sample_bits = 1, 1
    elif magic in (b"P5", b"P6"):
        (width, height, max_value), pos = _pnm_tokens(data, 3, 2)
        if not 1 <= max_value <= 65535:
            raise NotRaster("PNM maximum value out of range")
        channels = 1 if magic == b"P5" else 3
        sample_bits = 8 if max_value < 256 else 16
    else:
        raise NotRaster("not a binary PBM/PGM/PPM")
    if width <= 0 or height <= 0:
        raise NotRaster("PNM with an empty image")
    step = packed_row_bytes(width, channels, sample_bits)
    full_scale = max_value in (255, 65535)  # Pillow rescales other maxima; PBM's 1 is black
    color = ("grey" if channels == 1 else "rgb") if full_scale else "other"
    order = tuple(range(channels))
    return RowLayout(
        width, height, channels, sample_bits, True, order, [(pos, step, height)], color
    )


def _tga_layout(data: bytes) -> RowLayout:
    if len(data) < 18:
        raise NotRaster("TGA header truncated")
    id_length, colormap_type, image_type = data[0], data[1], data[2]
    _first, colormap_length, colormap_bits = struct.unpack_from("<HHB", data, 3)
    width, height, depth, descriptor = struct.unpack_from("<HHBB", data, 12)
    if image_type not in (1, 2, 3) or colormap_type not in (0, 1):
        raise NotRaster("compressed or unknown TGA image type")
    if descriptor & 0x10:
        raise NotRaster("right-to-left TGA")
    channels_of_depth = {8: 1, 24: 3, 32: 4}
    if (
        depth not in channels_of_depth
        or (image_type == 2) != (depth > 8)
        or width == 0
        or height == 0
    ):
        raise NotRaster(f"TGA with {depth}-bit pixels")
    offset = 18 + id_length + (colormap_length * ((colormap_bits + 7) // 8) if colormap_type else 0)
    channels = channels_of_depth[depth]
    step = width * channels
    if descriptor & 0x20:  # top-left origin
        segments = [(offset, step, height)]
    else:
        segments = [(offset + (height - 1) * step, -step, height)]
    order = {1: (0,), 3: (2, 1, 0), 4: (2, 1, 0, 3)}[channels]
    color = {1: "palette", 2: "rgb", 3: "grey"}[image_type]
    return RowLayout(width, height, channels, 8, False, order, segments, color)


_TIFF_TYPE_SIZES = {3: ("H", 2), 4: ("I", 4)}


def _tiff_layout(data: bytes) -> RowLayout:
    byte_order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if byte_order is None or len(data) < 8:
        raise NotRaster("not a TIFF")
    magic, ifd = struct.unpack_from(byte_order + "HI", data, 2)
    if magic != 42 or ifd + 2 > len(data):
        raise NotRaster("BigTIFF or damaged TIFF")
    (entry_count,) = struct.unpack_from(byte_order + "H", data, ifd)
    if ifd + 2 + 12 * entry_count > len(data):
        raise NotRaster("TIFF directory truncated")
    tags: dict[int, list[int]] = {}
    for index in range(entry_count):
        tag, kind, count, field = struct.unpack_from(
            byte_order + "HHI4s", data, ifd + 2 + 12 * index
        )
        if kind not in _TIFF_TYPE_SIZES or count > 1 << 24:
            continue
        code, size = _TIFF_TYPE_SIZES[kind]
        if count * size <= 4:
            source, start = field, 0
        else:
            (start,) = struct.unpack(byte_order + "I", field)
            source = data
            if start + count * size > len(data):
                raise NotRaster("TIFF tag points past the end of the file")
        tags[tag] = list(struct.unpack_from(f"{byte_order}{count}{code}", source, start))

    def single(tag: int, default: int | None = None) -> int:
        values = tags.get(tag)
        if not values:
            if default is None:
                raise NotRaster(f"TIFF without tag {tag}")
            return default
        return values[0]

    if single(259, 1) != 1 or 322 in tags or single(284, 1) != 1 or single(339, 1) != 1:
        raise NotRaster("compressed, tiled, planar or non-integer TIFF")
    width, height, channels = single(256), single(257), single(277, 1)
    bits = tags.get(258, [1])
    if not 1 <= channels <= 4 or len(set(bits)) != 1 or bits[0] not in (1, 8, 16):
        raise NotRaster("TIFF sample layout not handled")
    if bits[0] == 1 and channels != 1:
        raise NotRaster("TIFF with multi-channel bilevel samples")
    rows_per_strip = min(single(278, height), height)
    offsets = tags.get(273, [])
    if width <= 0 or height <= 0 or rows_per_strip <= 0:
        raise NotRaster("TIFF with an empty image")
    strip_count = (height + rows_per_strip - 1) // rows_per_strip
    if len(offsets) != strip_count:
        raise NotRaster("TIFF strip count does not match its height")
    step = packed_row_bytes(width, channels, bits[0])
    segments = [
        (offset, step, min(rows_per_strip, height - index * rows_per_strip))
        for index, offset in enumerate(offsets)
    ]
    color = {1: "grey", 2: "rgb", 3: "palette"}.get(single(262, -1), "other")
    order = tuple(range(channels))
    return RowLayout(width, height, channels, bits[0], byte_order == ">", order, segments, color)


#: Pillow's format name -> layout parser.
PARSERS = {"BMP": _bmp_layout, "PPM": _pnm_layout, "TGA": _tga_layout, "TIFF": _tiff_layout}


def detect_layout(data: bytes) -> RowLayout:
    """The row layout of an uncompressed raster; NotRaster for anything else.

    Pillow must recognise the file as that format (it reads only the header here): TGA has no
    magic number, so this keeps arbitrary bytes from being taken for an image.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():  # damaged files make Pillow warn; NotRaster says enough
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format or ""
                frames = getattr(image, "n_frames", 1)
    except Exception as exc:  # Pillow raises many kinds on hostile input (bomb, TypeError...)
        raise NotRaster(f"not an image Pillow reads: {type(exc).__name__}: {exc}") from None
    parser = PARSERS.get(image_format)
    if parser is None:
        raise NotRaster(f"{image_format or 'unknown'} is not an uncompressed layout")
    if frames != 1 and image_format != "PPM":
        raise NotRaster("multi-image file")
    try:
        layout = parser(data)
    except struct.error:
        raise NotRaster(f"{image_format} header truncated") from None
    return layout


# ---------------------------------------------------------------------------------------------
# Rows <-> file bytes


def _row_mask(layout: RowLayout, file_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(bool mask of the row bytes in the file, order of the image rows by file offset).

    Raises ValueError if a row leaves the file or two rows overlap.
    """
    starts = layout.row_starts()
    if starts.size != layout.height:
        raise ValueError("segments do not cover the image rows")
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    length = layout.row_bytes
    if sorted_starts.size and (
        sorted_starts[0] < 0
        or sorted_starts[-1] + length > file_size
        or bool(np.any(np.diff(sorted_starts) < length))
    ):
        raise ValueError("rows overlap or run outside the file")
    edges = np.zeros(file_size + 1, dtype=np.int8)
    edges[sorted_starts] += 1
    edges[sorted_starts + length] -= 1
    mask = np.cumsum(edges[:-1], dtype=np.int8).astype(bool)
    return mask, order


def _pixels_from_rows(rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    pixels = samples_from_rows(rows, layout.width, layout.channels, layout.sample_bits)
    if layout.sample_bits == 16 and not layout.big_endian:
        pixels = pixels.byteswap()
    model_order = np.argsort(layout.channel_order)
    return np.ascontiguousarray(pixels[:, :, model_order])


def _rows_from_pixels(pixels: np.ndarray, layout: RowLayout) -> np.ndarray:
    file_pixels = np.ascontiguousarray(pixels[:, :, list(layout.channel_order)])
    if layout.sample_bits == 16 and not layout.big_endian:
        file_pixels = file_pixels.byteswap()
    return rows_from_samples(file_pixels, layout.sample_bits)


def _write_layout(writer: HeaderWriter, layout: RowLayout, file_size: int) -> None:
    writer.uint(file_size)
    writer.uint(layout.width)
    writer.uint(layout.height)
    writer.uint(layout.channels)
    writer.uint(layout.sample_bits)
    writer.uint(int(layout.big_endian))
    writer.blob(bytes(layout.channel_order))
    writer.uint(len(layout.segments))
    for offset, step, count in layout.segments:
        writer.uint(offset)
        writer.uint(step * 2 if step >= 0 else -step * 2 - 1)  # zigzag: steps may be negative
        writer.uint(count)


def _read_layout(reader: HeaderReader) -> tuple[RowLayout, int]:
    file_size = reader.uint(MAX_FILE_BYTES, "file size")
    width = reader.uint(1 << 24, "width")
    height = reader.uint(1 << 24, "height")
    channels = reader.uint(4, "channels")
    sample_bits = reader.uint(16, "bits per sample")
    big_endian = bool(reader.uint(1, "byte order"))
    channel_order = tuple(reader.blob("channel order", limit=4))
    check_dimensions(height, width, channels)
    if sample_bits not in SAMPLE_BITS or (sample_bits < 8 and channels != 1):
        raise CorruptArchive(
            f"image header declares {sample_bits}-bit samples for {channels} channels"
        )
    if sorted(channel_order) != list(range(channels)):
        raise CorruptArchive("image header has an invalid channel order")
    segment_count = reader.uint(MAX_SEGMENTS, "segment count")
    if segment_count > height:
        raise CorruptArchive("image header declares more row segments than rows")
    segments = []
    for _ in range(segment_count):
        offset = reader.uint(MAX_FILE_BYTES, "row offset")
        zigzag = reader.uint(2 * MAX_FILE_BYTES, "row step")
        step = zigzag // 2 if zigzag % 2 == 0 else -(zigzag + 1) // 2
        segments.append((offset, step, reader.uint(height, "rows in segment")))
    layout = RowLayout(width, height, channels, sample_bits, big_endian, channel_order, segments)
    return layout, file_size


def read_layout(data: bytes) -> tuple[RowLayout, np.ndarray, np.ndarray]:
    """An uncompressed raster -> (its layout, its (H, W, C) samples, the mask of its row bytes)."""
    layout = detect_layout(data)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        check_dimensions(layout.height, layout.width, layout.channels)
        mask, order = _row_mask(layout, len(data))
    except (ValueError, CorruptArchive) as exc:
        raise NotRaster(f"raster rows do not fit the file: {exc}") from None
    file_rows = buffer[mask].reshape(layout.height, layout.row_bytes)
    rows = np.empty_like(file_rows)
    rows[order] = file_rows
    return layout, _pixels_from_rows(rows, layout), mask


def plan_layout_exact(data: bytes) -> ImagePlan:
    """An uncompressed raster -> header (layout + gap bytes) + pixels, verified to rebuild ``data``."""
    layout, pixels, mask = read_layout(data)
    buffer = np.frombuffer(data, dtype=np.uint8)

    writer = HeaderWriter(KIND_LAYOUT_EXACT)
    _write_layout(writer, layout, len(data))
    writer.blob(buffer[~mask].tobytes())
    header = writer.getvalue()
    if rebuild_layout_exact(HeaderReader(header), pixels) != data:
        raise NotRaster("raster samples do not survive unpacking (non-zero padding bits)")
    return ImagePlan(header=header, pixels=pixels, path=PATH_BYTE_EXACT)


def rebuild_layout_exact(reader: HeaderReader, pixels: np.ndarray) -> bytes:
    """Inverse of :func:`plan_layout_exact` (``reader`` is positioned after the kind byte)."""
    layout, file_size = _read_layout(reader)
    gaps = np.frombuffer(reader.blob("gap bytes"), dtype=np.uint8)
    reader.finish()
    check_pixels(
        pixels,
        layout.height,
        layout.width,
        layout.channels,
        np.uint16 if layout.sample_bits == 16 else np.uint8,
    )
    if layout.sample_bits < 8 and int(pixels.max(initial=0)) >= 1 << layout.sample_bits:
        raise CorruptArchive(f"image pixels exceed the {layout.sample_bits}-bit range")
    if file_size != gaps.size + layout.height * layout.row_bytes:
        raise CorruptArchive("image header: file size does not match the rows and gap bytes")
    try:
        mask, order = _row_mask(layout, file_size)
    except ValueError as exc:
        raise CorruptArchive(f"image header: {exc}") from None
    rows = _rows_from_pixels(pixels, layout)
    out = np.empty(file_size, dtype=np.uint8)
    out[mask] = rows[order].ravel()
    out[~mask] = gaps
    return out.tobytes()
