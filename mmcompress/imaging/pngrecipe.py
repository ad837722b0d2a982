"""PNG: chunk parsing, row (un)filtering, and the byte-exact rebuild recipe.

A PNG is a signature, chunks, and one zlib stream split over consecutive IDAT chunks. That stream
inflates to the *filtered* rows: each row is one filter-type byte (0 None, 1 Sub, 2 Up, 3 Average,
4 Paeth; PNG spec section 9) followed by the row's bytes minus a prediction. Undoing the filters
gives the samples the pixel model sees.

To give the original file back byte for byte we record a *recipe* (the header, KIND_PNG_EXACT)::

    prefix      every byte before the first IDAT chunk (signature, IHDR, PLTE, iCCP... verbatim)
    filters     the filter type of each row
    zlib        the 2-byte zlib header, the deflate settings (level, memLevel, strategy, window)
                that reproduce the deflate stream, and the bytes after it (Adler-32, any junk)
    idat sizes  how the zlib stream was cut into IDAT chunks
    suffix      every byte after the last IDAT chunk (IEND, trailing data) verbatim

Rebuild = pack samples into rows, apply the recorded filters, deflate with the recorded settings,
cut into IDAT chunks with their CRCs, put prefix and suffix around. The settings are found by
trying the ones common encoders use (libpng: level 6, memLevel 8, strategy filtered; Pillow:
memLevel 9; OptiPNG: all levels, memLevels and strategies, small windows) on all candidates at
once, feeding the stream in 64 KiB steps and dropping a candidate at its first differing output
byte, so a wrong guess costs little and the survivor has reproduced the whole stream. Streams
written by a deflater other than zlib (zopfli, libdeflate, 7-zip) cannot be matched this way:
for those the recipe (KIND_PNG_REPLAY) holds a :mod:`deflatereplay` recipe instead of the
settings, a few kilobytes from which the stream is rebuilt exactly; a stream that even that
cannot express raises NotRaster and the file takes the byte path.

The row loops (unfiltering is sequential along a row) are numba kernels.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numba
import numpy as np

from ..errors import CorruptArchive
from . import deflatereplay
from .header import (
    KIND_PNG_EXACT,
    KIND_PNG_REPLAY,
    MAX_PLAN_PIXEL_BYTES,
    PATH_BYTE_EXACT,
    HeaderReader,
    HeaderWriter,
    ImagePlan,
    NotRaster,
    check_dimensions,
    check_pixels,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Samples per pixel of each PNG colour type.
CHANNELS_OF_COLOR_TYPE = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Bit depths the PNG spec allows for each colour type.
BIT_DEPTHS_OF_COLOR_TYPE = {
    0: (1, 2, 4, 8, 16),
    2: (8, 16),
    3: (1, 2, 4, 8),
    4: (8, 16),
    6: (8, 16),
}

#: Input fed to every zlib candidate at once before comparing outputs.
SEARCH_STEP_BYTES = 1 << 16
#: Largest IDAT chunk the PNG spec allows.
#: Streams up to this size also try the uncommon zlib settings (about 130 more candidates).
EXHAUSTIVE_SEARCH_MAX_BYTES = 1 << 18
MAX_CHUNK_BYTES = (1 << 31) - 1
MAX_IDAT_CHUNKS = 1 << 24
ZLIB_HEADER_BYTES = 2

#: Adam7 passes: (first column, first row, column step, row step).
ADAM7_PASSES = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)

# zlib strategies (zlib.h)
Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED = 0, 1, 2, 3, 4


@dataclass
class PngFile:
    """A PNG split at its IDAT chunks; ``chunks`` lists every chunk (type, data) in order."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int
    prefix: bytes
    idat_sizes: list[int]
    zdata: bytes
    suffix: bytes
    chunks: list[tuple[bytes, bytes]]

    @property
    def channels(self) -> int:
        return CHANNELS_OF_COLOR_TYPE[self.color_type]

    def image_data_bytes(self) -> int:
        """Size of the inflated image data: filter byte + row bytes per row (per Adam7 pass)."""
        if not self.interlace:
            return self.height * (row_bytes(self.width, self.channels, self.bit_depth) + 1)
        total = 0
        for x0, y0, dx, dy in ADAM7_PASSES:
            pass_width = (self.width - x0 + dx - 1) // dx if self.width > x0 else 0
            pass_height = (self.height - y0 + dy - 1) // dy if self.height > y0 else 0
            if pass_width and pass_height:
                total += pass_height * (row_bytes(pass_width, self.channels, self.bit_depth) + 1)
        return total


def row_bytes(width: int, channels: int, bit_depth: int) -> int:
    """Bytes of one unfiltered row (without the filter byte)."""
    return (width * channels * bit_depth + 7) // 8


def filter_unit(channels: int, bit_depth: int) -> int:
    """The 'bpp' of the PNG filters: bytes per complete pixel, at least 1."""
    return max(1, channels * bit_depth // 8)


def parse_png(data: bytes, *, check_crc: bool = False) -> PngFile:
    """Split a PNG into prefix / IDAT / suffix; raise NotRaster if it is not one we can handle.

    ``check_crc`` also requires every chunk's CRC to be right and its type to be 4 letters (the
    pixel path writes chunks anew, so it must not turn a damaged chunk into a sound one).
    """
    if not data.startswith(PNG_SIGNATURE):
        raise NotRaster("not a PNG")
    pos = len(PNG_SIGNATURE)
    chunks: list[tuple[bytes, bytes]] = []
    idat_first = idat_end = -1
    idat_sizes: list[int] = []
    idat_parts: list[bytes] = []
    while pos < len(data):
        if pos + 12 > len(data):
            raise NotRaster("PNG chunk header truncated")
        (length,) = struct.unpack_from(">I", data, pos)
        chunk_type = bytes(data[pos + 4 : pos + 8])
        end = pos + 12 + length
        if length > MAX_CHUNK_BYTES or end > len(data):
            raise NotRaster("PNG chunk runs past the end of the file")
        body = bytes(data[pos + 8 : pos + 8 + length])
        if check_crc and (
            not chunk_type.isalpha()
            or struct.unpack_from(">I", data, pos + 8 + length)[0]
            != zlib.crc32(body, zlib.crc32(chunk_type))
        ):
            raise NotRaster(f"PNG chunk {chunk_type!r} is damaged")
        chunks.append((chunk_type, body))
        if chunk_type == b"IDAT":
            if idat_first < 0:
                idat_first = pos
            elif idat_end != pos:
                raise NotRaster("PNG IDAT chunks are not consecutive")
            idat_end = end
            idat_sizes.append(length)
            idat_parts.append(body)
        pos = end
        if chunk_type == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise NotRaster("PNG does not start with a valid IHDR")
    if idat_first < 0:
        raise NotRaster("PNG has no IDAT")
    width, height, bit_depth, color_type, compression, filter_method, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    if (
        color_type not in CHANNELS_OF_COLOR_TYPE
        or bit_depth not in BIT_DEPTHS_OF_COLOR_TYPE[color_type]
    ):
        raise NotRaster(f"PNG colour type {color_type} / bit depth {bit_depth} is invalid")
    if compression != 0 or filter_method != 0 or interlace not in (0, 1):
        raise NotRaster("PNG uses an unknown compression, filter or interlace method")
    try:
        check_dimensions(height, width, CHANNELS_OF_COLOR_TYPE[color_type])
    except CorruptArchive as exc:
        raise NotRaster(str(exc)) from None
    sample_bytes = height * width * CHANNELS_OF_COLOR_TYPE[color_type] * max(1, bit_depth // 8)
    if sample_bytes > MAX_PLAN_PIXEL_BYTES:
        raise NotRaster(f"PNG of {width}x{height} is beyond the pixel path's size limit")
    return PngFile(
        width=width,
        height=height,
        bit_depth=bit_depth,
        color_type=color_type,
        interlace=interlace,
        prefix=bytes(data[:idat_first]),
        idat_sizes=idat_sizes,
        zdata=b"".join(idat_parts),
        suffix=bytes(data[idat_end:]),
        chunks=chunks,
    )


# ---------------------------------------------------------------------------------------------
# Row filters (PNG spec section 9). Kernels work on (H, rowbytes) uint8 rows.


@numba.njit(cache=True)
def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa = abs(p - a)
    pb = abs(p - b)
    pc = abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


@numba.njit(cache=True)
def _predict(kind: int, a: int, b: int, c: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return a
    if kind == 2:
        return b
    if kind == 3:
        return (a + b) >> 1
    return _paeth(a, b, c)


@numba.njit(cache=True)
def _unfilter_kernel(raw, height, rowbytes, bpp, rows, filters):  # type: ignore[no-untyped-def]
    """Undo the filters of ``raw`` (H * (1 + rowbytes) bytes) into ``rows``; -1 or a bad row."""
    stride = rowbytes + 1
    for y in range(height):
        base = y * stride
        kind = raw[base]
        filters[y] = kind
        if kind > 4:
            return y
        for x in range(rowbytes):
            a = np.int64(rows[y, x - bpp]) if x >= bpp else np.int64(0)
            b = np.int64(rows[y - 1, x]) if y > 0 else np.int64(0)
            c = np.int64(rows[y - 1, x - bpp]) if (x >= bpp and y > 0) else np.int64(0)
            rows[y, x] = (np.int64(raw[base + 1 + x]) + _predict(kind, a, b, c)) & 255
    return -1


@numba.njit(cache=True)
def _filter_kernel(rows, filters, bpp, out):  # type: ignore[no-untyped-def]
    """Apply ``filters`` to ``rows`` into ``out`` (H * (1 + rowbytes) bytes)."""
    height, rowbytes = rows.shape
    stride = rowbytes + 1
    for y in range(height):
        base = y * stride
        kind = filters[y]
        out[base] = kind
        for x in range(rowbytes):
            a = np.int64(rows[y, x - bpp]) if x >= bpp else np.int64(0)
            b = np.int64(rows[y - 1, x]) if y > 0 else np.int64(0)
            c = np.int64(rows[y - 1, x - bpp]) if (x >= bpp and y > 0) else np.int64(0)
            out[base + 1 + x] = (np.int64(rows[y, x]) - _predict(kind, a, b, c)) & 255


@numba.njit(cache=True)
def _choose_filters_kernel(rows, bpp, filters):  # type: ignore[no-untyped-def]
    """libpng's heuristic: per row, the filter with the least sum of |residual as signed byte|."""
    height, rowbytes = rows.shape
    for y in range(height):
        best_kind = 0
        best_cost = np.int64(-1)
        for kind in range(5):
            cost = np.int64(0)
            for x in range(rowbytes):
                a = np.int64(rows[y, x - bpp]) if x >= bpp else np.int64(0)
                b = np.int64(rows[y - 1, x]) if y > 0 else np.int64(0)
                c = np.int64(rows[y - 1, x - bpp]) if (x >= bpp and y > 0) else np.int64(0)
                residual = (np.int64(rows[y, x]) - _predict(kind, a, b, c)) & 255
                cost += residual if residual < 128 else 256 - residual
            if best_cost < 0 or cost < best_cost:
                best_cost = cost
                best_kind = kind
        filters[y] = best_kind


def unfilter(raw: bytes, height: int, rowbytes: int, bpp: int) -> tuple[np.ndarray, np.ndarray]:
    """Filtered stream -> ((H, rowbytes) uint8 rows, (H,) uint8 filter types)."""
    if len(raw) != height * (rowbytes + 1):
        raise NotRaster(f"PNG image data is {len(raw)} bytes, expected {height * (rowbytes + 1)}")
    rows = np.zeros((height, rowbytes), dtype=np.uint8)
    filters = np.zeros(height, dtype=np.uint8)
    bad_row = _unfilter_kernel(
        np.frombuffer(raw, dtype=np.uint8), height, rowbytes, bpp, rows, filters
    )
    if bad_row >= 0:
        raise NotRaster(f"PNG row {bad_row} has an invalid filter type")
    return rows, filters


def filter_rows(rows: np.ndarray, filters: np.ndarray, bpp: int) -> bytes:
    """(H, rowbytes) rows + (H,) filter types -> the filtered stream that zlib compresses."""
    height, rowbytes = rows.shape
    out = np.empty(height * (rowbytes + 1), dtype=np.uint8)
    _filter_kernel(
        np.ascontiguousarray(rows), np.ascontiguousarray(filters, dtype=np.uint8), bpp, out
    )
    return out.tobytes()


def choose_filters(rows: np.ndarray, bpp: int, bit_depth: int, color_type: int) -> np.ndarray:
    """Filter types for writing a PNG: None for palette / sub-byte images, else libpng's heuristic."""
    filters = np.zeros(rows.shape[0], dtype=np.uint8)
    if color_type != 3 and bit_depth >= 8:
        _choose_filters_kernel(np.ascontiguousarray(rows), bpp, filters)
    return filters


# ---------------------------------------------------------------------------------------------
# Samples <-> rows


def samples_from_rows(rows: np.ndarray, width: int, channels: int, bit_depth: int) -> np.ndarray:
    """(H, rowbytes) unfiltered rows -> (H, W, C) native samples (uint8, or uint16 for 16-bit)."""
    height = rows.shape[0]
    if bit_depth == 8:
        return rows[:, : width * channels].reshape(height, width, channels).copy()
    if bit_depth == 16:
        pairs = (
            rows[:, : width * channels * 2].reshape(height, width * channels, 2).astype(np.uint16)
        )
        return ((pairs[:, :, 0] << 8) | pairs[:, :, 1]).reshape(height, width, channels)
    bits = np.unpackbits(rows, axis=1)  # (H, rowbytes * 8), most significant bit first
    per_byte = 8 // bit_depth
    groups = bits[:, : rows.shape[1] * 8].reshape(height, rows.shape[1] * per_byte, bit_depth)
    weights = (1 << np.arange(bit_depth - 1, -1, -1)).astype(np.uint8)
    values = (groups * weights).sum(axis=2, dtype=np.uint8)
    return values[:, :width].reshape(height, width, 1).copy()


def rows_from_samples(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """(H, W, C) native samples -> (H, rowbytes) unfiltered rows (sub-byte padding bits zero)."""
    height, width, channels = pixels.shape
    if bit_depth == 8:
        return np.ascontiguousarray(pixels, dtype=np.uint8).reshape(height, width * channels)
    if bit_depth == 16:
        big_endian = np.ascontiguousarray(pixels, dtype=">u2")
        return big_endian.view(np.uint8).reshape(height, width * channels * 2)
    values = pixels.reshape(height, width).astype(np.uint8)
    shifts = np.arange(bit_depth - 1, -1, -1, dtype=np.uint8)
    bits = ((values[:, :, None] >> shifts) & 1).reshape(height, width * bit_depth)
    return np.packbits(bits, axis=1)


# ---------------------------------------------------------------------------------------------
# zlib recipe


@dataclass(frozen=True)
class ZlibSettings:
    level: int
    mem_level: int
    strategy: int
    window_bits: int


def _candidate_phases(zlib_header: bytes, exhaustive: bool) -> list[list[ZlibSettings]]:
    """Deflate settings to try, in phases: the next phase runs only if the previous one failed.

    Phase 1 holds what the zlib header's FLEVEL allows (zlib writes 0 for levels 0-1 and for the
    Huffman-only, RLE and fixed strategies, 1 for levels 2-5, 2 for 6 and 3 for 7-9) with the
    common memLevels 8 and 9. With ``exhaustive`` (small images), phase 2 adds every level and
    strategy at memLevel 8/9 (encoders that write their own zlib header) and memLevels 1-7.
    """
    cmf, flg = zlib_header[0], zlib_header[1]
    # zlib refuses an 8-bit window (it silently uses 9); a 9-bit window decodes the same stream.
    window_bits = max(9, min(15, (cmf >> 4) + 8))
    header_level = flg >> 6
    levels_of_flag = {0: (1, 0), 1: (2, 3, 4, 5), 2: (6,), 3: (9, 7, 8)}
    seen: set[ZlibSettings] = set()
    phases: list[list[ZlibSettings]] = [[], []]

    def add(phase: int, level: int, mem_level: int, strategy: int) -> None:
        if level == 0:  # stored blocks: no other setting changes the output
            mem_level, strategy = 8, Z_DEFAULT_STRATEGY
        elif strategy in (Z_HUFFMAN_ONLY, Z_RLE):  # the level does not change their output
            level = 1
        settings = ZlibSettings(level, mem_level, strategy, window_bits)
        if settings not in seen:
            seen.add(settings)
            phases[phase].append(settings)

    common_mem_levels = (8, 9)  # zlib's default and the maximum (Pillow, OptiPNG)
    for mem_level in common_mem_levels:
        for level in levels_of_flag[header_level]:
            for strategy in (Z_FILTERED, Z_DEFAULT_STRATEGY):
                add(0, level, mem_level, strategy)
        if header_level == 0:
            add(0, 1, mem_level, Z_HUFFMAN_ONLY)
            add(0, 1, mem_level, Z_RLE)
    if not exhaustive:
        return phases[:1]
    for mem_level in common_mem_levels:
        for level in range(10):
            for strategy in (Z_FILTERED, Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE):
                add(1, level, mem_level, strategy)
    for mem_level in range(7, 0, -1):
        for level in levels_of_flag[header_level]:
            for strategy in (Z_FILTERED, Z_DEFAULT_STRATEGY):
                add(1, level, mem_level, strategy)
        add(1, 1, mem_level, Z_HUFFMAN_ONLY)
        add(1, 1, mem_level, Z_RLE)
    return phases


def _raw_deflater(settings: ZlibSettings):  # type: ignore[no-untyped-def]
    return zlib.compressobj(
        settings.level, zlib.DEFLATED, -settings.window_bits, settings.mem_level, settings.strategy
    )


def search_zlib_settings(
    raw: bytes, zlib_header: bytes, deflate_stream: bytes
) -> ZlibSettings | None:
    """The first candidate whose raw deflate output of ``raw`` is exactly ``deflate_stream``."""
    exhaustive = len(raw) <= EXHAUSTIVE_SEARCH_MAX_BYTES
    for candidates in _candidate_phases(zlib_header, exhaustive):
        found = _race(raw, candidates, deflate_stream)
        if found is not None:
            return found
    return None


def _race(raw: bytes, candidates: list[ZlibSettings], deflate_stream: bytes) -> ZlibSettings | None:
    """Run all candidates at once, 64 KiB of input at a time; drop each at its first wrong byte.

    Output already emitted by a deflater is final, so a prefix mismatch rules a candidate out.
    A survivor that flushes to exactly the rest of the stream has reproduced it byte for byte.
    """
    live = {settings: _raw_deflater(settings) for settings in candidates}
    emitted = dict.fromkeys(live, 0)
    view = memoryview(raw)
    for start in range(0, len(raw), SEARCH_STEP_BYTES):
        piece = view[start : start + SEARCH_STEP_BYTES]
        for settings in list(live):
            out = live[settings].compress(piece)
            done = emitted[settings]
            if out and deflate_stream[done : done + len(out)] != out:
                del live[settings]
                continue
            emitted[settings] = done + len(out)
        if not live:
            return None
    for settings, deflater in live.items():
        if deflate_stream[emitted[settings] :] == deflater.flush():
            return settings
    return None


def deflate(raw: bytes, settings: ZlibSettings) -> bytes:
    deflater = _raw_deflater(settings)
    return deflater.compress(raw) + deflater.flush()


def inflate_zlib(zdata: bytes, expected_bytes: int) -> tuple[bytes, bytes, int, bytes]:
    """A zlib stream -> (2-byte header, inflated bytes, deflate stream length, bytes after it).

    Inflates at most ``expected_bytes`` + 1 bytes (a PNG's image data has a known size), so a
    decompression bomb costs nothing; any other size raises NotRaster.
    """
    if len(zdata) < ZLIB_HEADER_BYTES:
        raise NotRaster("PNG zlib stream is truncated")
    cmf, flg = zdata[0], zdata[1]
    if cmf & 0x0F != 8 or (cmf >> 4) > 7 or (cmf * 256 + flg) % 31 or flg & 0x20:
        raise NotRaster("PNG IDAT is not a plain zlib stream")
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(zdata[ZLIB_HEADER_BYTES:], expected_bytes + 1)
    except zlib.error as exc:
        raise NotRaster(f"PNG zlib stream is damaged: {exc}") from None
    if len(raw) != expected_bytes:
        raise NotRaster(f"PNG image data is not the {expected_bytes} bytes its header implies")
    if not inflater.eof:
        raise NotRaster("PNG zlib stream is truncated")
    tail = inflater.unused_data
    deflate_length = len(zdata) - ZLIB_HEADER_BYTES - len(tail)
    return bytes(zdata[:ZLIB_HEADER_BYTES]), raw, deflate_length, tail


def idat_chunks(zdata: bytes, sizes: list[int]) -> bytes:
    """Cut ``zdata`` into IDAT chunks of the given sizes (length, type, data, CRC-32 each)."""
    parts: list[bytes] = []
    pos = 0
    for size in sizes:
        body = zdata[pos : pos + size]
        pos += size
        parts.append(struct.pack(">I", size))
        parts.append(b"IDAT")
        parts.append(body)
        parts.append(struct.pack(">I", zlib.crc32(body, zlib.crc32(b"IDAT"))))
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# Byte-exact plan and rebuild


def decode_samples(png: PngFile) -> tuple[np.ndarray, np.ndarray, bytes]:
    """A non-interlaced PNG -> ((H, W, C) samples, (H,) filter types, the inflated stream)."""
    if png.interlace:
        raise NotRaster("interlaced PNG")
    _, raw, _, _ = inflate_zlib(png.zdata, png.image_data_bytes())
    rowbytes = row_bytes(png.width, png.channels, png.bit_depth)
    rows, filters = unfilter(raw, png.height, rowbytes, filter_unit(png.channels, png.bit_depth))
    pixels = samples_from_rows(rows, png.width, png.channels, png.bit_depth)
    return pixels, filters, raw


def _write_sizes(writer: HeaderWriter, sizes: list[int]) -> None:
    writer.uint(len(sizes))
    uniform = len(sizes) >= 2 and all(size == sizes[0] for size in sizes[:-1])
    if uniform:
        writer.uint(1)
        writer.uint(sizes[0])
        writer.uint(sizes[-1])
    else:
        writer.uint(0)
        for size in sizes:
            writer.uint(size)


def _read_sizes(reader: HeaderReader) -> list[int]:
    count = reader.uint(MAX_IDAT_CHUNKS, "IDAT chunk count")
    if count < 1:
        raise CorruptArchive("image header declares no IDAT chunk")
    if reader.uint(1, "IDAT size layout"):
        size = reader.uint(MAX_CHUNK_BYTES, "IDAT chunk size")
        last = reader.uint(MAX_CHUNK_BYTES, "last IDAT chunk size")
        return [size] * (count - 1) + [last]
    return [reader.uint(MAX_CHUNK_BYTES, "IDAT chunk size") for _ in range(count)]


def plan_png_exact(data: bytes) -> ImagePlan:
    """A PNG -> header + samples such that :func:`rebuild_png_exact` gives ``data`` back exactly."""
    png = parse_png(data)
    pixels, filters, raw = decode_samples(png)
    zlib_header, _, deflate_length, zlib_tail = inflate_zlib(png.zdata, len(raw))
    deflate_stream = png.zdata[ZLIB_HEADER_BYTES : ZLIB_HEADER_BYTES + deflate_length]
    settings = search_zlib_settings(raw, zlib_header, deflate_stream)
    # Not zlib's: describe the stream for replay (NotRaster if it cannot be; replay is verified).
    replay_recipe = deflatereplay.describe(deflate_stream, raw) if settings is None else b""
    if len(replay_recipe) * 2 > len(deflate_stream):
        # A stream this predictable-from-nothing is synthetic content the byte path keeps better.
        raise NotRaster(
            f"deflate replay would not pay ({len(replay_recipe)} bytes of recipe for a "
            f"{len(deflate_stream)}-byte stream)"
        )
    # Verify the parts the search did not: samples + filters give the same stream, and the
    # chunk layout gives the same file. (The search proved deflate(raw) == deflate_stream.)
    bpp = filter_unit(png.channels, png.bit_depth)
    if filter_rows(rows_from_samples(pixels, png.bit_depth), filters, bpp) != raw:
        raise NotRaster("PNG rows do not survive unpacking (non-zero padding bits)")
    rebuilt = png.prefix + idat_chunks(png.zdata, png.idat_sizes) + png.suffix
    if rebuilt != data:
        raise NotRaster("PNG chunk CRCs or layout cannot be rebuilt")

    writer = HeaderWriter(KIND_PNG_EXACT if settings is not None else KIND_PNG_REPLAY)
    writer.blob(png.prefix)
    writer.blob(png.suffix)
    writer.blob(filters.tobytes())
    writer.blob(zlib_header)
    if settings is not None:
        writer.uint(settings.level)
        writer.uint(settings.mem_level)
        writer.uint(settings.strategy)
        writer.uint(settings.window_bits)
    else:
        writer.blob(replay_recipe)
    writer.blob(zlib_tail)
    _write_sizes(writer, png.idat_sizes)
    return ImagePlan(header=writer.getvalue(), pixels=pixels, path=PATH_BYTE_EXACT)


def _ihdr_from_prefix(prefix: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit_depth, color_type, interlace) from a recorded prefix; CorruptArchive if bad."""
    sig = len(PNG_SIGNATURE)
    if (
        len(prefix) < sig + 25
        or not prefix.startswith(PNG_SIGNATURE)
        or prefix[sig + 4 : sig + 8] != b"IHDR"
    ):
        raise CorruptArchive("image header: PNG prefix has no IHDR")
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack_from(
        ">IIBBBBB", prefix, sig + 8
    )
    if (
        color_type not in CHANNELS_OF_COLOR_TYPE
        or bit_depth not in BIT_DEPTHS_OF_COLOR_TYPE[color_type]
    ):
        raise CorruptArchive("image header: PNG IHDR has an invalid colour type / bit depth")
    if interlace:
        raise CorruptArchive("image header: PNG IHDR says interlaced, which exact plans never are")
    check_dimensions(height, width, CHANNELS_OF_COLOR_TYPE[color_type])
    return width, height, bit_depth, color_type, interlace


def rebuild_png_exact(reader: HeaderReader, pixels: np.ndarray) -> bytes:
    """Inverse of :func:`plan_png_exact` (``reader`` is positioned after the kind byte; its kind
    is KIND_PNG_EXACT, zlib settings, or KIND_PNG_REPLAY, a deflate replay recipe)."""
    prefix = reader.blob("PNG prefix")
    suffix = reader.blob("PNG suffix")
    width, height, bit_depth, color_type, _ = _ihdr_from_prefix(prefix)
    channels = CHANNELS_OF_COLOR_TYPE[color_type]
    filters = np.frombuffer(reader.blob("PNG filter types"), dtype=np.uint8)
    if filters.shape != (height,) or (filters.size and int(filters.max()) > 4):
        raise CorruptArchive("image header: PNG filter types do not match the image height")
    zlib_header = reader.blob("zlib header", limit=ZLIB_HEADER_BYTES)
    if len(zlib_header) != ZLIB_HEADER_BYTES:
        raise CorruptArchive("image header: invalid zlib header")
    settings = replay_recipe = None
    if reader.kind == KIND_PNG_REPLAY:
        replay_recipe = reader.blob("deflate replay recipe")
    else:
        level = reader.uint(9, "zlib level")
        mem_level = reader.uint(9, "zlib memLevel")
        strategy = reader.uint(Z_FIXED, "zlib strategy")
        window_bits = reader.uint(15, "zlib window bits")
        if mem_level < 1 or window_bits < 9:
            raise CorruptArchive("image header: invalid zlib settings")
        settings = ZlibSettings(level, mem_level, strategy, window_bits)
    zlib_tail = reader.blob("zlib tail")
    sizes = _read_sizes(reader)
    reader.finish()
    check_pixels(pixels, height, width, channels, np.uint16 if bit_depth == 16 else np.uint8)
    if bit_depth < 8 and int(pixels.max(initial=0)) >= 1 << bit_depth:
        raise CorruptArchive(f"image pixels exceed the {bit_depth}-bit range")

    rows = rows_from_samples(pixels, bit_depth)
    raw = filter_rows(rows, filters, filter_unit(channels, bit_depth))
    if settings is not None:
        stream = deflate(raw, settings)
    else:
        assert replay_recipe is not None
        stream = deflatereplay.replay(replay_recipe, raw)
    zdata = zlib_header + stream + zlib_tail
    if sum(sizes) != len(zdata):
        raise CorruptArchive("image header: IDAT chunk sizes do not add up to the zlib stream")
    return prefix + idat_chunks(zdata, sizes) + suffix
