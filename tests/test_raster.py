"""The image serializer (mmcompress.imaging): byte-exact plans, pixel-exact plans, hostile headers."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from mmcompress.errors import CorruptArchive
from mmcompress.imaging import (
    NotRaster,
    pixels_to_png,
    plan_exact,
    plan_pixels,
    rebuild,
    same_pixels,
)
from mmcompress.imaging.header import HeaderWriter

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "images"

# Which bench images rebuild byte-exactly through the pixel path (measured; the full sweep is
# scripts/verify_images.py). PNGs deflated by zlib rebuild from its settings, the others (the Kodak
# and most Waterloo files carry zopfli/libdeflate-style streams) from a deflate replay recipe;
# GIF and JPEG take the byte path, and so does circles.png, whose replay recipe would be over
# half its tiny deflate stream.
BYTE_EXACT = {
    "imagecompression/leaves_iso_200__gray8bit__crop1024x1024+992+488.png": True,
    "imagecompression/flower_foveon__gray16bit_linear__crop1024x1024+620+244.png": True,
    "kodak/kodim03.png": True,
    "kodak/kodim23.png": True,
    "waterloo/barb.png": True,
    "waterloo/zelda.png": True,
    "waterloo/tulips.png": True,
    "waterloo/bird.png": True,
    "waterloo/circles.png": False,
    "misc/grey8_keong_macan.png": True,
    "misc/palette_hopper_wal.png": True,
    "misc/rgb16_huawei_eva_l09_709.png": True,
    "misc/rgba8_riaphotographs_alpha.png": True,
    "misc/thin_128x1_rgb_hopper_row64.png": True,
    "misc/thin_1x128_rgb_hopper_col64.png": True,
    "misc/tiny_1x1_grey.png": True,
    "misc/gif_hopper.gif": False,
    "misc/gif_anim_traffic_light.gif": False,
    "misc/jpeg_testorig.jpg": False,
}

PIXEL_PATH = [name for name in BYTE_EXACT if not name.endswith(".jpg") and "anim" not in name]


def _pillow_samples(image: Image.Image) -> np.ndarray:
    array = np.array(image)
    return array if array.ndim == 3 else array[:, :, None]


@pytest.mark.parametrize("name", sorted(BYTE_EXACT))
def test_bench_images_byte_exact_or_not_raster(name: str) -> None:
    data = (IMAGES / name).read_bytes()
    if not BYTE_EXACT[name]:
        with pytest.raises(NotRaster):
            plan_exact(data)
        return
    plan = plan_exact(data)
    assert plan.path == "byte-exact"
    assert rebuild(plan.header, plan.pixels) == data
    # The model sees the real samples: what Pillow decodes (Pillow keeps 16-bit grey, not colour).
    image = Image.open(io.BytesIO(data))
    if plan.pixels.dtype == np.uint8 or image.mode == "I;16":
        expected = _pillow_samples(image)
        assert np.array_equal(plan.pixels, expected.astype(plan.pixels.dtype))
    assert len(plan.header) < 64 + len(data) - plan.pixels.nbytes // 8  # the header is small


def test_sixteen_bit_colour_samples_are_native() -> None:
    data = (IMAGES / "misc" / "rgb16_huawei_eva_l09_709.png").read_bytes()
    plan = plan_exact(data)
    assert plan.pixels.shape == (64, 64, 3) and plan.pixels.dtype == np.uint16
    # Pillow truncates 16-bit colour to 8 bits by keeping the high byte.
    assert np.array_equal(
        (plan.pixels >> 8).astype(np.uint8), np.array(Image.open(io.BytesIO(data)))
    )


@pytest.mark.parametrize("name", PIXEL_PATH)
def test_bench_images_pixel_exact(name: str) -> None:
    data = (IMAGES / name).read_bytes()
    plan = plan_pixels(data)
    assert plan.path == "pixel-exact"
    out = rebuild(plan.header, plan.pixels)
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(out))
    assert after.format == "PNG"
    assert same_pixels(data, out)
    other = "tiny_1x1_grey.png" if not name.endswith("tiny_1x1_grey.png") else "gif_hopper.gif"
    assert not same_pixels(data, (IMAGES / "misc" / other).read_bytes())
    assert after.mode == before.mode
    assert np.array_equal(np.array(after), np.array(before))
    assert after.getpalette() == before.getpalette()
    for key in ("icc_profile", "exif", "dpi", "transparency", "gamma"):
        assert after.info.get(key) == before.info.get(key), key
    if before.format == "GIF":
        assert after.text["Comment"] == before.info["comment"].decode("latin-1")
    else:
        assert after.text == before.text


def test_lossy_and_animated_inputs_refuse_the_pixel_path() -> None:
    for name in ("misc/jpeg_testorig.jpg", "misc/gif_anim_traffic_light.gif"):
        with pytest.raises(NotRaster):
            plan_pixels((IMAGES / name).read_bytes())
    for junk in (b"", b"hello world", bytes(range(256)) * 4):
        with pytest.raises(NotRaster):
            plan_exact(junk)
        with pytest.raises(NotRaster):
            plan_pixels(junk)


# ---------------------------------------------------------------------------------------------
# Uncompressed layouts, written by Pillow from a real photo


def _photo(width: int = 37, height: int = 23) -> Image.Image:
    source = Image.open(IMAGES / "kodak" / "kodim23.png")
    return source.crop((300, 200, 300 + width, 200 + height))


def _saved(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _layout_cases() -> list[tuple[str, bytes]]:
    photo = _photo()
    grey = photo.convert("L")
    wide = Image.fromarray((np.array(grey).astype(np.uint16) * 257 + 3).astype(np.uint16))
    cases = [
        ("bmp-rgb", _saved(photo, "BMP")),
        ("bmp-palette", _saved(photo.convert("P"), "BMP")),
        ("bmp-bilevel", _saved(grey.convert("1"), "BMP")),
        ("ppm-p6", _saved(photo, "PPM")),
        ("pgm-p5", _saved(grey, "PPM")),
        ("pgm-16bit", _saved(wide, "PPM")),
        ("pbm-p4", _saved(grey.convert("1"), "PPM")),
        ("tga-rgb", _saved(photo, "TGA")),
        ("tga-rgba", _saved(photo.convert("RGBA"), "TGA")),
        ("tga-grey", _saved(grey, "TGA")),
        ("tga-palette", _saved(photo.convert("P"), "TGA")),
        ("tga-top-left", _saved(photo, "TGA", orientation=1)),
        ("tiff-rgb", _saved(photo, "TIFF")),
        ("tiff-16bit", _saved(wide, "TIFF")),
        ("tiff-strips", _saved(photo, "TIFF", strip_size=4 * 37 * 3)),
    ]
    # A 32-bit BMP (BGRA, bit fields) and a top-down BMP, written by hand.
    rgba = np.array(photo.convert("RGBA"))
    rgba[..., 3] = np.arange(rgba.shape[1], dtype=np.uint8)[None, :]
    height, width = rgba.shape[:2]
    info = struct.pack(
        "<IiiHHIIiiII", 40, width, -height, 1, 32, 0, width * height * 4, 2835, 2835, 0, 0
    )
    pixels = rgba[:, :, [2, 1, 0, 3]].tobytes()
    cases.append(
        (
            "bmp-32bit-top-down",
            b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + info + pixels,
        )
    )
    return cases


@pytest.mark.parametrize(
    ("label", "data"), _layout_cases(), ids=[label for label, _ in _layout_cases()]
)
def test_uncompressed_layouts_are_byte_exact(label: str, data: bytes) -> None:
    plan = plan_exact(data)
    assert plan.path == "byte-exact"
    assert rebuild(plan.header, plan.pixels) == data
    image = Image.open(io.BytesIO(data))
    expected = _pillow_samples(image)
    if image.mode == "RGB" and plan.pixels.shape[2] == 4:  # Pillow drops a 32-bit BMP's 4th byte
        expected = expected[:, :, :3]
        assert np.array_equal(plan.pixels[:, :, :3], expected)
    else:
        if label == "pbm-p4":  # samples are the file's bits: in PBM 1 is black, Pillow's 1 is white
            expected = 1 - expected.astype(np.uint8)
        assert np.array_equal(plan.pixels, expected.astype(plan.pixels.dtype)), label
    # The header holds the file minus the sample bytes, plus a few bytes of layout.
    height, width, channels = plan.pixels.shape
    bits = 1 if image.mode == "1" else 8 * plan.pixels.itemsize
    sample_bytes = height * ((width * channels * bits + 7) // 8)
    assert len(plan.header) <= len(data) - sample_bytes + 40
    # And the same files take the pixel path.
    pixel_plan = plan_pixels(data)
    out = Image.open(io.BytesIO(rebuild(pixel_plan.header, pixel_plan.pixels)))
    assert np.array_equal(np.array(out), np.array(image).astype(np.array(out).dtype))


def test_compressed_variants_take_the_byte_path() -> None:
    photo = _photo()
    for data in (
        _saved(photo, "TGA", compression="tga_rle"),
        _saved(photo, "TIFF", compression="tiff_deflate"),
        _saved(photo, "GIF"),
        _saved(photo, "WEBP", lossless=True),
        _saved(photo, "JPEG"),
    ):
        with pytest.raises(NotRaster):
            plan_exact(data)


def test_pixel_path_accepts_lossless_webp_and_refuses_lossy() -> None:
    photo = _photo()
    lossless = _saved(photo, "WEBP", lossless=True)
    plan = plan_pixels(lossless)
    out = Image.open(io.BytesIO(rebuild(plan.header, plan.pixels)))
    assert np.array_equal(np.array(out), np.array(Image.open(io.BytesIO(lossless))))
    with pytest.raises(NotRaster):
        plan_pixels(_saved(photo, "WEBP", quality=80))


# ---------------------------------------------------------------------------------------------
# Synthetic PNGs: odd sizes, every mode, metadata; zlib settings of the common encoders


def _synthetic(mode: str, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(width * 1000 + height)
    smooth = np.add.outer(np.arange(height), np.arange(width)) * 3
    if mode == "1":
        return Image.fromarray(rng.random((height, width)) < 0.5)
    if mode == "I;16":
        return Image.fromarray(
            (smooth * 97 + rng.integers(0, 50, (height, width))).astype(np.uint16)
        )
    if mode == "P":
        return Image.fromarray((smooth % 7).astype(np.uint8), "L").convert("P")
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    values = (smooth[:, :, None] + rng.integers(0, 20, (height, width, channels))) % 256
    array = values.astype(np.uint8)
    return Image.fromarray(array[:, :, 0] if channels == 1 else array, mode)


SIZES = [(1, 1), (1, 9), (9, 1), (7, 5), (13, 3), (64, 40)]
MODES = ["1", "L", "LA", "RGB", "RGBA", "P", "I;16"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_synthetic_pngs_round_trip_both_ways(mode: str, size: tuple[int, int]) -> None:
    image = _synthetic(mode, *size)
    data = _saved(image, "PNG")  # Pillow's encoder: zlib level 6, memLevel 9
    plan = plan_exact(data)
    assert rebuild(plan.header, plan.pixels) == data
    pixel_plan = plan_pixels(data)
    out = Image.open(io.BytesIO(rebuild(pixel_plan.header, pixel_plan.pixels)))
    assert out.mode == Image.open(io.BytesIO(data)).mode
    assert np.array_equal(np.array(out), np.array(image))
    assert out.getpalette() == Image.open(io.BytesIO(data)).getpalette()


@pytest.mark.parametrize("bit_depth", [1, 2, 4])
def test_sub_byte_palette_and_grey_pngs(bit_depth: int) -> None:
    image = _synthetic("P", 29, 11)
    data = _saved(image, "PNG", bits=bit_depth)
    plan = plan_exact(data)
    assert rebuild(plan.header, plan.pixels) == data
    assert np.array_equal(plan.pixels[:, :, 0], np.array(Image.open(io.BytesIO(data))))
    # Grey at 2 and 4 bits: Pillow expands the values, our samples stay native.
    grey = _png_by_hand(np.arange(29 * 11).reshape(11, 29) % (1 << bit_depth), 0, bit_depth)
    grey_plan = plan_exact(grey)
    assert rebuild(grey_plan.header, grey_plan.pixels) == grey
    assert int(grey_plan.pixels.max()) == (1 << bit_depth) - 1
    pixel_out = rebuild(plan_pixels(grey).header, plan_pixels(grey).pixels)
    assert np.array_equal(
        np.array(Image.open(io.BytesIO(pixel_out))), np.array(Image.open(io.BytesIO(grey)))
    )


def _png_by_hand(
    samples: np.ndarray,
    color_type: int,
    bit_depth: int,
    *,
    filters: list[int] | None = None,
    level: int = 6,
    mem_level: int = 8,
    strategy: int = zlib.Z_FILTERED,
    window_bits: int = 15,
    idat_size: int = 1 << 20,
    interlace: int = 0,
) -> bytes:
    """A PNG written like libpng/OptiPNG would: given filters, zlib settings and IDAT split."""
    from mmcompress.imaging.pngrecipe import filter_rows, filter_unit, rows_from_samples

    samples = samples if samples.ndim == 3 else samples[:, :, None]
    height, width, channels = samples.shape
    rows = rows_from_samples(samples.astype(np.uint16 if bit_depth == 16 else np.uint8), bit_depth)
    kinds = np.array(
        [(filters or [0])[y % len(filters or [0])] for y in range(height)], dtype=np.uint8
    )
    stream = filter_rows(rows, kinds, filter_unit(channels, bit_depth))
    deflater = zlib.compressobj(level, zlib.DEFLATED, window_bits, mem_level, strategy)
    zdata = deflater.compress(stream) + deflater.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    idats = b"".join(
        chunk(b"IDAT", zdata[i : i + idat_size]) for i in range(0, len(zdata), idat_size)
    )
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idats + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "settings",
    [
        {"level": 6, "mem_level": 8, "strategy": zlib.Z_FILTERED},  # libpng default
        {"level": 9, "mem_level": 9, "strategy": zlib.Z_DEFAULT_STRATEGY},
        {"level": 1, "mem_level": 8, "strategy": zlib.Z_DEFAULT_STRATEGY},
        {"level": 3, "mem_level": 8, "strategy": zlib.Z_FILTERED},
        {"level": 9, "mem_level": 8, "strategy": zlib.Z_HUFFMAN_ONLY},
        {"level": 9, "mem_level": 9, "strategy": zlib.Z_RLE},
        {"level": 0, "mem_level": 8, "strategy": zlib.Z_DEFAULT_STRATEGY},
        {"level": 9, "mem_level": 8, "strategy": zlib.Z_DEFAULT_STRATEGY, "window_bits": 10},
    ],
    ids=lambda settings: "-".join(f"{key}{value}" for key, value in settings.items()),
)
def test_zlib_settings_of_common_encoders_are_found(settings: dict[str, int]) -> None:
    photo = np.array(_photo(150, 90))
    data = _png_by_hand(photo, 2, 8, filters=[1, 4, 2, 3, 0, 4], idat_size=8192, **settings)
    plan = plan_exact(data)
    assert rebuild(plan.header, plan.pixels) == data
    assert np.array_equal(plan.pixels, photo)


def test_sixteen_bit_rgba_and_grey_alpha_by_hand() -> None:
    rng = np.random.default_rng(7)
    for color_type, channels in ((6, 4), (4, 2), (2, 3)):
        samples = rng.integers(0, 65536, (9, 11, channels), dtype=np.uint16)
        data = _png_by_hand(samples, color_type, 16, filters=[4, 1, 3])
        plan = plan_exact(data)
        assert np.array_equal(plan.pixels, samples)
        assert rebuild(plan.header, plan.pixels) == data
        pixel_plan = plan_pixels(data)
        assert np.array_equal(pixel_plan.pixels, samples)
        assert (
            plan_pixels(rebuild(pixel_plan.header, pixel_plan.pixels)).pixels.tolist()
            == samples.tolist()
        )


def test_interlaced_png_takes_the_pixel_path_only() -> None:
    image = _synthetic("RGB", 13, 10)
    data = _saved(image, "PNG")
    interlaced = _interlace(data)
    assert np.array_equal(np.array(Image.open(io.BytesIO(interlaced))), np.array(image))
    with pytest.raises(NotRaster):
        plan_exact(interlaced)
    plan = plan_pixels(interlaced)
    assert np.array_equal(plan.pixels, np.array(image))
    out = Image.open(io.BytesIO(rebuild(plan.header, plan.pixels)))
    assert np.array_equal(np.array(out), np.array(image))


def _interlace(data: bytes) -> bytes:
    """Re-encode a non-interlaced 8-bit PNG with Adam7 (filter None in every pass)."""
    samples = np.array(Image.open(io.BytesIO(data)))
    samples = samples if samples.ndim == 3 else samples[:, :, None]
    height, width, _ = samples.shape
    stream = b""
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        part = samples[y0::dy, x0::dx]
        if part.size:
            stream += b"".join(b"\x00" + row.tobytes() for row in part)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(stream))
        + chunk(b"IEND", b"")
    )


def test_metadata_survives_the_pixel_path() -> None:
    icc = (IMAGES / "misc" / "rgba8_riaphotographs_alpha.png").read_bytes()[:0] or bytes(range(200))
    exif = Image.Exif()
    exif[0x010F] = "mmcompress camera"
    exif_bytes = exif.tobytes()
    text = PngImagePlugin.PngInfo()
    text.add_text("Title", "a test")
    text.add_text("Author", "ünïcode", zip=False)
    text.add_text("Long", "compressed " * 20, zip=True)
    image = _synthetic("RGB", 17, 9)
    data = _saved(image, "PNG", icc_profile=icc, exif=exif_bytes, dpi=(300, 300), pnginfo=text)
    for plan in (plan_exact(data), plan_pixels(data)):
        out = Image.open(io.BytesIO(rebuild(plan.header, plan.pixels)))
        before = Image.open(io.BytesIO(data))
        assert np.array_equal(np.array(out), np.array(image))
        assert out.info["icc_profile"] == icc
        assert out.info["exif"] == before.info["exif"]
        assert out.info["dpi"] == before.info["dpi"]
        assert out.text == {"Title": "a test", "Author": "ünïcode", "Long": "compressed " * 20}
    # From a TIFF (not PNG): metadata read by Pillow is written as PNG chunks.
    tiff = _saved(image, "TIFF", icc_profile=icc, dpi=(300, 300))
    plan = plan_pixels(tiff)
    out = Image.open(io.BytesIO(rebuild(plan.header, plan.pixels)))
    assert out.info["icc_profile"] == icc
    assert [round(value) for value in out.info["dpi"]] == [300, 300]


def test_pixels_to_png_helper() -> None:
    rng = np.random.default_rng(3)
    palette = bytes(rng.integers(0, 256, 48, dtype=np.uint8))
    indices = rng.integers(0, 16, (5, 7), dtype=np.uint8)
    out = Image.open(io.BytesIO(pixels_to_png(indices, "P", palette=palette, transparency=3)))
    assert out.mode == "P" and np.array_equal(np.array(out), indices)
    assert out.getpalette() == list(palette) and out.info["transparency"] == 3
    grey16 = rng.integers(0, 65536, (4, 6), dtype=np.uint16)
    out = Image.open(io.BytesIO(pixels_to_png(grey16, gamma=0.45455, text={"Source": "test"})))
    assert out.mode == "I;16" and np.array_equal(np.array(out), grey16)
    assert out.info["gamma"] == 0.45455 and out.text == {"Source": "test"}
    bilevel = rng.random((3, 10)) < 0.5
    out = Image.open(io.BytesIO(pixels_to_png(bilevel)))
    assert out.mode == "1" and np.array_equal(np.array(out), bilevel)
    rgba = rng.integers(0, 256, (2, 3, 4), dtype=np.uint8)
    assert np.array_equal(np.array(Image.open(io.BytesIO(pixels_to_png(rgba)))), rgba)


def test_palette_transparency_from_gif_and_png() -> None:
    image = _synthetic("P", 20, 8)
    for data in (_saved(image, "GIF", transparency=2), _saved(image, "PNG", transparency=2)):
        plan = plan_pixels(data)
        out = Image.open(io.BytesIO(rebuild(plan.header, plan.pixels)))
        before = Image.open(io.BytesIO(data))
        assert out.info["transparency"] == before.info["transparency"] == 2
        assert np.array_equal(np.array(out), np.array(before))
        assert out.getpalette() == before.getpalette()


# ---------------------------------------------------------------------------------------------
# Hostile headers


def _small_plans() -> list[tuple[bytes, np.ndarray]]:
    image = _synthetic("RGB", 7, 5)
    png = _saved(image, "PNG")
    return [
        (plan_exact(png).header, plan_exact(png).pixels),
        (plan_pixels(png).header, plan_pixels(png).pixels),
        (plan_exact(_saved(image, "BMP")).header, plan_exact(_saved(image, "BMP")).pixels),
    ]


def test_hostile_headers_raise_corrupt_archive() -> None:
    plans = _small_plans()
    header, pixels = plans[0]
    cases = [
        b"",
        b"\x01",
        b"\x02\x01",  # unknown version
        b"\x01\x09",  # unknown kind
        header[:-1],
        header + b"\x00",
    ]
    for bad in cases:
        with pytest.raises(CorruptArchive):
            rebuild(bad, pixels)
    # Wrong pixel shape or dtype for a valid header.
    for header, pixels in plans:
        with pytest.raises(CorruptArchive):
            rebuild(header, pixels[:, :-1])
        with pytest.raises(CorruptArchive):
            rebuild(header, pixels.astype(np.uint16))
    # A header declaring a giant image must fail before allocating anything.
    writer = HeaderWriter(3)
    for value in (1 << 30, 1 << 30, 2, 8, 0, 0):
        writer.uint(value)
    with pytest.raises(CorruptArchive):
        rebuild(writer.getvalue(), np.zeros((1, 1, 3), np.uint8))
    writer = HeaderWriter(2)
    writer.uint(1 << 39)  # file size far beyond the rows and gap bytes
    for value in (7, 5, 3, 8, 0):
        writer.uint(value)
    writer.blob(bytes([2, 1, 0]))
    writer.uint(1)
    for value in (0, 42, 5):
        writer.uint(value)
    writer.blob(b"")
    with pytest.raises(CorruptArchive):
        rebuild(writer.getvalue(), np.zeros((5, 7, 3), np.uint8))


def test_mutated_headers_never_crash() -> None:
    rng = np.random.default_rng(2024)
    for header, pixels in _small_plans():
        for _ in range(150):
            mutated = bytearray(header)
            for _ in range(int(rng.integers(1, 4))):
                position = int(rng.integers(0, len(mutated)))
                mutated[position] = int(rng.integers(0, 256))
            try:
                out = rebuild(bytes(mutated), pixels)
            except CorruptArchive:
                continue
            assert isinstance(out, bytes)


def test_damaged_inputs_only_ever_raise_not_raster() -> None:
    """pack catches NotRaster alone: a damaged or hostile file must never raise anything else."""
    photo = _photo(23, 17)
    files = [
        _saved(photo, "PNG"),
        _saved(photo, "BMP"),
        _saved(photo, "TGA"),
        _saved(photo, "TIFF"),
        _saved(photo, "PPM"),
        _saved(photo.convert("P"), "GIF"),
        _saved(photo, "WEBP", lossless=True),
    ]
    rng = np.random.default_rng(11)
    for attempt in range(700):
        damaged = bytearray(files[attempt % len(files)])
        if attempt % 4 == 0:
            damaged = damaged[: int(rng.integers(0, len(damaged)))]
        else:
            for _ in range(int(rng.integers(1, 6))):
                limit = min(len(damaged), 200) if rng.random() < 0.7 else len(damaged)
                damaged[int(rng.integers(0, limit))] = int(rng.integers(0, 256))
        for plan in (plan_exact, plan_pixels):
            try:
                found = plan(bytes(damaged))
            except NotRaster:
                continue
            out = rebuild(found.header, found.pixels)
            if plan is plan_exact:
                assert out == bytes(damaged)


def _rgb16_tiff(samples: np.ndarray) -> bytes:
    """A little-endian uncompressed 16-bit RGB TIFF, written by hand (Pillow cannot write one)."""
    height, width, _ = samples.shape
    pixels = samples.astype("<u2").tobytes()
    entries = [(256, width), (257, height), (258, None), (259, 1), (262, 2), (273, None)]
    entries += [(277, 3), (278, height), (279, len(pixels))]
    directory_size = 2 + 12 * len(entries) + 4
    bits_at, pixels_at = 8 + directory_size, 8 + directory_size + 6
    out = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, value in entries:
        if tag == 258:
            out += struct.pack("<HHII", tag, 3, 3, bits_at)
        elif tag == 273:
            out += struct.pack("<HHII", tag, 4, 1, pixels_at)
        else:
            out += struct.pack("<HHII", tag, 4, 1, value)
    return out + b"\x00" * 4 + struct.pack("<3H", 16, 16, 16) + pixels


def test_sixteen_bit_colour_of_uncompressed_formats_stays_sixteen_bit() -> None:
    rng = np.random.default_rng(5)
    samples = rng.integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    ppm = b"P6\n7 6\n65535\n" + samples.astype(">u2").tobytes()
    for data in (ppm, _rgb16_tiff(samples)):
        assert Image.open(io.BytesIO(data)).mode == "RGB"  # Pillow would keep 8 bits only
        plan = plan_exact(data)
        assert np.array_equal(plan.pixels, samples)
        assert rebuild(plan.header, plan.pixels) == data
        pixel_plan = plan_pixels(data)
        assert np.array_equal(pixel_plan.pixels, samples)
        png = rebuild(pixel_plan.header, pixel_plan.pixels)
        assert np.array_equal(plan_exact(png).pixels, samples)  # a 16-bit RGB PNG
    # A maximum other than 255 / 65535 would be rescaled by Pillow: no pixel path.
    with pytest.raises(NotRaster):
        plan_pixels(b"P6\n7 6\n1023\n" + (samples >> 6).astype(">u2").tobytes())
