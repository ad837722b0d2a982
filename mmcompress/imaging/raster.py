"""Rasters: the entry points of the image serializer (plan an input, rebuild it) and PNG writing.

Two promises, chosen by the caller:

- :func:`plan_exact` (default, *byte-exact*): PNGs go through the recorded zlib recipe
  (:mod:`.pngrecipe`), uncompressed formats through their row layout (:mod:`.layouts`); the plan
  is verified to rebuild the input byte for byte, else :class:`NotRaster` (byte path).
- :func:`plan_pixels` (``--pixels``, *pixel-exact*): any single-frame raster Pillow reads without
  loss becomes a :class:`Raster` (native samples + PNG colour type / bit depth + the ancillary
  chunks that carry its palette, transparency, ICC profile, EXIF, text, gamma and DPI); the rebuild
  writes it as a PNG that decodes to the same pixels, mode, palette and metadata.

:func:`rebuild` inverts either from the header alone; headers come from archives, so they are
validated (sizes bounded, nothing allocated from a declared size before it is checked against
real data) and every problem is a :class:`~mmcompress.errors.CorruptArchive`.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CorruptArchive
from .header import (
    KIND_LAYOUT_EXACT,
    KIND_PNG_EXACT,
    KIND_PNG_PIXELS,
    KIND_PNG_REPLAY,
    PATH_PIXEL_EXACT,
    HeaderReader,
    HeaderWriter,
    ImagePlan,
    NotRaster,
    check_dimensions,
    check_pixels,
)
from .layouts import plan_layout_exact, read_layout, rebuild_layout_exact
from .pngrecipe import (
    ADAM7_PASSES,
    BIT_DEPTHS_OF_COLOR_TYPE,
    CHANNELS_OF_COLOR_TYPE,
    PNG_SIGNATURE,
    PngFile,
    choose_filters,
    filter_rows,
    filter_unit,
    inflate_zlib,
    parse_png,
    plan_png_exact,
    rebuild_png_exact,
    row_bytes,
    rows_from_samples,
    samples_from_rows,
    unfilter,
)

#: zlib settings of the PNGs we write (libpng's defaults).
WRITE_LEVEL = 6
WRITE_MEM_LEVEL = 8
#: Chunks the PNG writer makes itself; never copied from an input.
STRUCTURAL_CHUNKS = (b"IHDR", b"IDAT", b"IEND")
#: Animation chunks (APNG): a multi-frame image has no single pixel array.
ANIMATION_CHUNKS = (b"acTL", b"fcTL", b"fdAT")
MAX_CHUNKS = 1 << 16


@dataclass
class Raster:
    """Native samples plus what a PNG needs to carry them and their metadata."""

    pixels: np.ndarray  # (H, W, C), uint8 or uint16
    color_type: int  # PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
    bit_depth: int
    chunks_before: list[tuple[bytes, bytes]] = field(default_factory=list)  # before IDAT, in order
    chunks_after: list[tuple[bytes, bytes]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Public entry points


def plan_exact(data: bytes) -> ImagePlan:
    """Byte-exact plan: ``rebuild(plan.header, plan.pixels) == data``, verified; else NotRaster."""
    data = bytes(data)
    if data.startswith(PNG_SIGNATURE):
        return plan_png_exact(data)
    return plan_layout_exact(data)


def plan_pixels(data: bytes) -> ImagePlan:
    """Pixel-exact plan: the rebuild is a PNG with the same pixels, mode, palette and metadata."""
    raster = read_raster(bytes(data))
    return ImagePlan(header=_raster_header(raster), pixels=raster.pixels, path=PATH_PIXEL_EXACT)


def rebuild(header: bytes, pixels: np.ndarray) -> bytes:
    """The file a plan describes; CorruptArchive if the header (or the pixels' shape) is bad."""
    reader = HeaderReader(header)
    try:
        if reader.kind in (KIND_PNG_EXACT, KIND_PNG_REPLAY):
            return rebuild_png_exact(reader, pixels)
        if reader.kind == KIND_LAYOUT_EXACT:
            return rebuild_layout_exact(reader, pixels)
        if reader.kind == KIND_PNG_PIXELS:
            return encode_png(_read_raster_header(reader, pixels))
    except CorruptArchive:
        raise
    except (ValueError, TypeError, OverflowError, zlib.error, struct.error) as exc:
        raise CorruptArchive(f"image header is inconsistent: {exc}") from None
    raise CorruptArchive(f"image header has unknown kind {reader.kind}")


def same_pixels(original: bytes, rebuilt: bytes) -> bool:
    """Whether ``rebuilt`` (what a pixel-exact plan of ``original`` rebuilds to) holds the same
    samples, colour type, bit depth, palette and transparency as ``original``."""
    try:
        before, after = read_raster(bytes(original)), read_raster(bytes(rebuilt))
    except NotRaster:
        return False

    def palette_of(raster: Raster) -> list[tuple[bytes, bytes]]:
        return [chunk for chunk in raster.chunks_before if chunk[0] in (b"PLTE", b"tRNS")]

    return (
        before.color_type == after.color_type
        and before.bit_depth == after.bit_depth
        and before.pixels.dtype == after.pixels.dtype
        and np.array_equal(before.pixels, after.pixels)
        and palette_of(before) == palette_of(after)
    )


def pixels_to_png(
    pixels: np.ndarray,
    mode: str | None = None,
    *,
    palette: bytes | list[int] | None = None,
    transparency: int | tuple[int, ...] | bytes | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    gamma: float | None = None,
    text: dict[str, str] | None = None,
) -> bytes:
    """Write an array as a PNG (Pillow mode names: 1, L, LA, RGB, RGBA, P, I;16).

    ``mode`` defaults from the array: bool -> "1", uint16 -> "I;16", 1/2/3/4 channels -> L/LA/RGB/RGBA.
    "P" needs ``palette`` (RGB triples); its ``transparency`` is an index or per-entry alpha bytes.
    """
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or not 1 <= array.shape[2] <= 4:
        raise ValueError(f"pixels must be (H, W) or (H, W, C) with C in 1..4, not {array.shape}")
    if mode is None:
        if array.dtype == np.bool_:
            mode = "1"
        elif array.dtype == np.uint16:
            mode = "I;16"
        else:
            mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    info: dict[str, Any] = {}
    for key, value in (
        ("icc_profile", icc_profile),
        ("exif", exif),
        ("dpi", dpi),
        ("gamma", gamma),
        ("transparency", transparency),
    ):
        if value is not None:
            info[key] = value
    palette_bytes = bytes(palette) if palette is not None else None
    raster = _raster_from_samples(array, mode, info, dict(text or {}), palette_bytes)
    return encode_png(raster)


# ---------------------------------------------------------------------------------------------
# Reading rasters


def read_raster(data: bytes) -> Raster:
    """Any single-frame raster Pillow reads without loss -> Raster; NotRaster otherwise.

    PNGs are decoded here (Pillow keeps only 8 bits of 16-bit colour); so are 16-bit samples of
    uncompressed formats, for the same reason. Everything else is decoded by Pillow.
    """
    if data.startswith(PNG_SIGNATURE):
        return _read_png_raster(data)
    from PIL import Image

    with warnings.catch_warnings():  # damaged files make Pillow warn; NotRaster says enough
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            if image_format in ("JPEG", "MPO", "JPEG2000"):
                raise NotRaster(f"{image_format} is lossy: not pixel content")
            if image_format == "WEBP" and not _is_lossless_webp(data):
                raise NotRaster("lossy WebP: not pixel content")
            if getattr(image, "n_frames", 1) != 1:
                raise NotRaster("multi-frame image")
            wide = _wide_layout_raster(data, image)
            if wide is not None:
                return wide
            tiff_tags = getattr(image, "tag_v2", {}) if image_format == "TIFF" else {}
            if max(tiff_tags.get(258, (8,)) or (8,)) > 8:
                if image.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
                    raise NotRaster(
                        "TIFF with more than 8 bits per colour sample (Pillow truncates)"
                    )
            image.load()
            return _raster_from_pillow(image)
        except NotRaster:
            raise
        except Exception as exc:  # Pillow raises many kinds on hostile input (bomb, TypeError...)
            raise NotRaster(f"not an image Pillow reads: {type(exc).__name__}: {exc}") from None


def _wide_layout_raster(data: bytes, image: Any) -> Raster | None:
    """16-bit samples of an uncompressed PPM/TIFF, read natively (Pillow keeps 8 bits of colour)."""
    try:
        layout, pixels, _ = read_layout(data)
    except NotRaster:
        return None
    if layout.sample_bits != 16:
        return None
    if layout.color not in ("grey", "rgb"):
        raise NotRaster("16-bit samples that are not grey or RGB on the full scale")
    mode = {1: "I;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[layout.channels]
    return _raster_from_samples(pixels, mode, dict(image.info), {}, None)


def _is_lossless_webp(data: bytes) -> bool:
    """A WebP whose image is VP8L (lossless); an ALPH or VP8 chunk means lossy content."""
    pos = 12
    kinds: set[bytes] = set()
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        kinds.add(kind)
        pos += 8 + size + (size & 1)
    return b"VP8L" in kinds and b"VP8 " not in kinds


def _read_png_raster(data: bytes) -> Raster:
    png = parse_png(data, check_crc=True)
    types = [chunk_type for chunk_type, _ in png.chunks]
    if any(chunk_type in ANIMATION_CHUNKS for chunk_type in types):
        raise NotRaster("animated PNG")
    pixels = _decode_png_pixels(png)
    first_idat = types.index(b"IDAT")
    before = [chunk for chunk in png.chunks[:first_idat] if chunk[0] not in STRUCTURAL_CHUNKS]
    after = [chunk for chunk in png.chunks[first_idat:] if chunk[0] not in STRUCTURAL_CHUNKS]
    return Raster(pixels, png.color_type, png.bit_depth, before, after)


def _decode_png_pixels(png: PngFile) -> np.ndarray:
    """PNG samples, interlaced or not (Adam7 passes are unfiltered one by one, then scattered)."""
    _, raw, _, _ = inflate_zlib(png.zdata, png.image_data_bytes())
    channels, bits = png.channels, png.bit_depth
    bpp = filter_unit(channels, bits)
    if not png.interlace:
        rows, _ = unfilter(raw, png.height, row_bytes(png.width, channels, bits), bpp)
        return samples_from_rows(rows, png.width, channels, bits)
    pixels = np.zeros(
        (png.height, png.width, channels), dtype=np.uint16 if bits == 16 else np.uint8
    )
    pos = 0
    for x0, y0, dx, dy in ADAM7_PASSES:
        pass_width = (png.width - x0 + dx - 1) // dx if png.width > x0 else 0
        pass_height = (png.height - y0 + dy - 1) // dy if png.height > y0 else 0
        if not pass_width or not pass_height:
            continue
        size = pass_height * (row_bytes(pass_width, channels, bits) + 1)
        rows, _ = unfilter(
            raw[pos : pos + size], pass_height, row_bytes(pass_width, channels, bits), bpp
        )
        pixels[y0::dy, x0::dx] = samples_from_rows(rows, pass_width, channels, bits)
        pos += size
    return pixels


def _raster_from_pillow(image: Any) -> Raster:
    """A loaded Pillow image -> Raster, with its metadata turned into PNG chunks."""
    mode = image.mode
    if mode == "1":
        samples = np.array(image, dtype=np.uint8)
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        samples = np.array(image).astype(np.uint16)
    elif mode == "I":
        wide = np.array(image)
        if wide.size and (int(wide.min()) < 0 or int(wide.max()) > 0xFFFF):
            raise NotRaster("32-bit integer samples outside 0..65535")
        samples, mode = wide.astype(np.uint16), "I;16"
    elif mode in ("L", "LA", "RGB", "RGBA", "P"):
        samples = np.array(image)
    else:
        raise NotRaster(f"Pillow mode {mode} has no lossless PNG form")
    text = {}
    comment = image.info.get("comment")
    if isinstance(comment, bytes):
        comment = comment.decode("latin-1")
    if isinstance(comment, str) and comment:
        text["Comment"] = comment
    text.update(
        {key: value for key, value in getattr(image, "text", {}).items() if isinstance(value, str)}
    )
    palette = None
    info = dict(image.info)
    if mode == "P":
        palette = bytes(image.getpalette("RGB") or b"")
        if image.palette is not None and image.palette.mode == "RGBA":
            alpha = bytes(image.getpalette("RGBA") or b"")[3::4]
            if isinstance(info.get("transparency"), int):
                index = info["transparency"]
                alpha = alpha[:index] + b"\x00" + alpha[index + 1 :]
            info["transparency"] = alpha
    return _raster_from_samples(samples, mode, info, text, palette)


def _raster_from_samples(
    samples: np.ndarray,
    mode: str,
    info: dict[str, Any],
    text: dict[str, str],
    palette: bytes | None,
) -> Raster:
    """(H, W[, C]) samples in a Pillow mode + Pillow-style info -> Raster with PNG chunks."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    color_type, bit_depth, channels, dtype = {
        "1": (0, 1, 1, np.uint8),
        "L": (0, 8, 1, np.uint8),
        "I;16": (0, 16, 1, np.uint16),
        "LA;16": (4, 16, 2, np.uint16),  # not Pillow modes: 16-bit samples Pillow cannot hold
        "RGB;16": (2, 16, 3, np.uint16),
        "RGBA;16": (6, 16, 4, np.uint16),
        "LA": (4, 8, 2, np.uint8),
        "RGB": (2, 8, 3, np.uint8),
        "RGBA": (6, 8, 4, np.uint8),
        "P": (3, 8, 1, np.uint8),
    }.get(mode, (None, 0, 0, np.uint8))
    if color_type is None:
        raise NotRaster(f"mode {mode} has no lossless PNG form")
    if samples.shape[2] != channels:
        raise ValueError(f"mode {mode} wants {channels} channels, the array has {samples.shape[2]}")
    pixels = np.ascontiguousarray(samples.astype(dtype))
    if mode == "1":
        pixels = (pixels != 0).astype(np.uint8)
    try:
        check_dimensions(pixels.shape[0], pixels.shape[1], channels)
    except CorruptArchive as exc:
        raise NotRaster(str(exc)) from None

    chunks: list[tuple[bytes, bytes]] = []
    icc = info.get("icc_profile")
    if icc:
        chunks.append((b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(bytes(icc))))
    gamma = info.get("gamma")
    if gamma:
        chunks.append((b"gAMA", struct.pack(">I", int(float(gamma) * 100000 + 0.5))))
    dpi = info.get("dpi")
    if dpi:
        per_metre = [int(float(value) / 0.0254 + 0.5) for value in dpi[:2]]
        chunks.append((b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1)))
    transparency = info.get("transparency")
    if mode == "P":
        chunks.extend(_palette_chunks(palette or b"", transparency, pixels))
    elif transparency is not None and mode in ("L", "I;16", "RGB"):
        values = (transparency,) if isinstance(transparency, int) else tuple(transparency)
        if len(values) == channels:
            chunks.append((b"tRNS", struct.pack(f">{channels}H", *values)))
    for keyword, value in text.items():
        chunks.append(_text_chunk(keyword, value))
    exif = info.get("exif")
    if exif:
        exif = bytes(exif)
        chunks.append((b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    return Raster(pixels, color_type, bit_depth, chunks, [])


def _palette_chunks(
    palette: bytes, transparency: Any, indices: np.ndarray
) -> list[tuple[bytes, bytes]]:
    """PLTE (+ tRNS) for a palette image: ``palette`` holds RGB triples, ``transparency`` is the
    index of the one transparent entry or the alpha of each entry (bytes), as Pillow gives them."""
    entries = len(palette) // 3
    needed = int(indices.max(initial=0)) + 1
    if entries < needed:  # Pillow pads short palettes with black
        palette = palette[: entries * 3] + bytes(3 * (needed - entries))
        entries = needed
    if entries > 256:
        raise NotRaster("palette with more than 256 entries")
    chunks = [(b"PLTE", bytes(palette[: entries * 3]))]
    alpha = np.full(entries, 255, dtype=np.uint8)
    if isinstance(transparency, int) and 0 <= transparency < entries:
        alpha[transparency] = 0
    elif isinstance(transparency, (bytes, bytearray)):
        given = np.frombuffer(bytes(transparency[:entries]), dtype=np.uint8)
        alpha[: given.size] = given
    translucent = np.nonzero(alpha != 255)[0]
    if translucent.size:
        chunks.append((b"tRNS", alpha[: int(translucent[-1]) + 1].tobytes()))
    return chunks


def _text_chunk(keyword: str, value: str) -> tuple[bytes, bytes]:
    key = keyword.encode("latin-1", "replace")[:79]
    try:
        return b"tEXt", key + b"\x00" + value.encode("latin-1")
    except UnicodeEncodeError:  # iTXt: keyword, no compression, empty language and translated key
        return b"iTXt", key + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Writing PNGs and the pixel-path header


def _chunk(chunk_type: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + chunk_type
        + body
        + struct.pack(">I", zlib.crc32(body, zlib.crc32(chunk_type)))
    )


def encode_png(raster: Raster) -> bytes:
    """A Raster -> PNG bytes (non-interlaced, libpng's filter heuristic, zlib level 6)."""
    height, width, channels = raster.pixels.shape
    rows = rows_from_samples(raster.pixels, raster.bit_depth)
    bpp = filter_unit(channels, raster.bit_depth)
    filters = choose_filters(rows, bpp, raster.bit_depth, raster.color_type)
    deflater = zlib.compressobj(WRITE_LEVEL, zlib.DEFLATED, 15, WRITE_MEM_LEVEL)
    stream = filter_rows(rows, filters, bpp)
    zdata = deflater.compress(stream) + deflater.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, raster.bit_depth, raster.color_type, 0, 0, 0)
    parts = [PNG_SIGNATURE, _chunk(b"IHDR", ihdr)]
    parts.extend(_chunk(chunk_type, body) for chunk_type, body in raster.chunks_before)
    parts.append(_chunk(b"IDAT", zdata))
    parts.extend(_chunk(chunk_type, body) for chunk_type, body in raster.chunks_after)
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _write_chunks(writer: HeaderWriter, chunks: list[tuple[bytes, bytes]]) -> None:
    writer.uint(len(chunks))
    for chunk_type, body in chunks:
        writer.blob(chunk_type)
        writer.blob(body)


def _read_chunks(reader: HeaderReader) -> list[tuple[bytes, bytes]]:
    count = reader.uint(MAX_CHUNKS, "chunk count")
    chunks = []
    for _ in range(count):
        chunk_type = reader.blob("chunk type", limit=4)
        if len(chunk_type) != 4 or not chunk_type.isalpha() or chunk_type in STRUCTURAL_CHUNKS:
            raise CorruptArchive(f"image header has an invalid PNG chunk type {chunk_type!r}")
        chunks.append((chunk_type, reader.blob("chunk data", limit=(1 << 31) - 1)))
    return chunks


def _raster_header(raster: Raster) -> bytes:
    height, width, _ = raster.pixels.shape
    writer = HeaderWriter(KIND_PNG_PIXELS)
    writer.uint(width)
    writer.uint(height)
    writer.uint(raster.color_type)
    writer.uint(raster.bit_depth)
    _write_chunks(writer, raster.chunks_before)
    _write_chunks(writer, raster.chunks_after)
    return writer.getvalue()


def _read_raster_header(reader: HeaderReader, pixels: np.ndarray) -> Raster:
    width = reader.uint(1 << 31, "width")
    height = reader.uint(1 << 31, "height")
    color_type = reader.uint(6, "PNG colour type")
    bit_depth = reader.uint(16, "PNG bit depth")
    if (
        color_type not in CHANNELS_OF_COLOR_TYPE
        or bit_depth not in BIT_DEPTHS_OF_COLOR_TYPE[color_type]
    ):
        raise CorruptArchive(
            f"image header: PNG colour type {color_type} / bit depth {bit_depth} is invalid"
        )
    channels = CHANNELS_OF_COLOR_TYPE[color_type]
    check_dimensions(height, width, channels)
    before = _read_chunks(reader)
    after = _read_chunks(reader)
    reader.finish()
    check_pixels(pixels, height, width, channels, np.uint16 if bit_depth == 16 else np.uint8)
    if bit_depth < 8 and int(pixels.max(initial=0)) >= 1 << bit_depth:
        raise CorruptArchive(f"image pixels exceed the {bit_depth}-bit range")
    return Raster(pixels, color_type, bit_depth, before, after)
