"""Tests of mmcompress.bench.images: bpp arithmetic, the rivals' exact sizes, round-trip checks,
grey palettes, outputs, and the `mmcompress bench --images` command line.

The images are made here with Pillow in tmp_path (two small ones), so the run is fast and the
corpus is not needed; mmcompress is the real `mmcompress.api`, in its child processes, at level 1
(zstd only: fast) for the arithmetic and the outputs, and once at the default level to see that
images take the pixel path when the level has a pixel codec. A broken fake API checks that a bad
round trip is caught. Nothing here asserts a timing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import textwrap
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from mmcompress.bench import main as bench_main
from mmcompress.bench.images import (
    JXL_E7,
    JXL_E9,
    MMC,
    OUTPUT_NAMES,
    PNG,
    WEBP,
    ImageBenchResult,
    collect_images,
    combine,
    format_table,
    load_json,
    read_pixels,
    run_image_bench,
    same_pixels,
    to_markdown,
    write_outputs,
)
from mmcompress.levels import recipe

FAST_LEVEL = 1  # zstd only: the harness is under test here, not the compressor
RGB_SIZE = (24, 16)  # width, height
GREY_SIZE = (17, 9)  # odd sizes on purpose
BROKEN_API = """
    def compress(data, *, level=None, name=""):
        return data

    def decompress(blob):
        return blob[:-1]  # loses the last byte: the bench must see it
"""


def _rgb_pixels() -> np.ndarray:
    rng = np.random.default_rng(4)
    ramp = np.arange(RGB_SIZE[0], dtype=np.uint8)[None, :, None] * 9
    noise = rng.integers(0, 6, size=(RGB_SIZE[1], RGB_SIZE[0], 3), dtype=np.uint8)
    return (ramp + noise).astype(np.uint8)


def _grey_pixels() -> np.ndarray:
    rows, columns = np.indices((GREY_SIZE[1], GREY_SIZE[0]))
    return ((rows * 23 + columns * 11) % 200).astype(np.uint8)


@pytest.fixture(scope="module")
def image_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder "photos" with an RGB PNG, a grey-palette PNG (mode P) and a README to skip."""
    folder = tmp_path_factory.mktemp("bench_images") / "photos"
    folder.mkdir()
    Image.fromarray(_rgb_pixels()).save(folder / "a_rgb.png")
    grey = Image.frombytes("P", GREY_SIZE, _grey_pixels().tobytes())  # index = grey level
    grey.putpalette([value for level in range(256) for value in (level, level, level)])
    grey.save(folder / "b_grey_palette.png")
    (folder / "README.md").write_text("not an image\n")
    return folder


@pytest.fixture(scope="module")
def result(image_set: Path) -> ImageBenchResult:
    return run_image_bench([image_set], level=FAST_LEVEL, progress=False)


def _expected_bpp(size_bytes: int, width: int, height: int) -> float:
    return size_bytes * 8 / (width * height)


def _webp_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="WEBP", lossless=True, quality=100, method=6)
    return buffer.getvalue()


def test_folder_gives_its_images_sorted_without_metadata(image_set: Path) -> None:
    found = collect_images([image_set])
    assert [(item.name, item.set_name) for item in found] == [
        ("a_rgb.png", "photos"),
        ("b_grey_palette.png", "photos"),
    ]


def test_grey_palette_is_read_as_grey(image_set: Path) -> None:
    pixels = read_pixels(image_set / "b_grey_palette.png")
    assert Image.open(image_set / "b_grey_palette.png").mode == "P"
    assert pixels.array.shape == (GREY_SIZE[1], GREY_SIZE[0])
    assert np.array_equal(pixels.array, _grey_pixels())
    assert pixels.as_read.shape == (GREY_SIZE[1], GREY_SIZE[0], 3)  # imread expands palettes


def test_bits_per_pixel_and_rival_sizes_are_exact(
    result: ImageBenchResult, image_set: Path
) -> None:
    assert result.meta.codecs == [MMC, PNG, WEBP, JXL_E7, JXL_E9]
    rgb, grey = result.images
    assert (rgb.width, rgb.height, rgb.channels, rgb.bits_per_sample) == (*RGB_SIZE, 3, 8)
    assert (grey.width, grey.height, grey.channels, grey.bits_per_sample) == (*GREY_SIZE, 1, 8)
    for image, array in ((rgb, _rgb_pixels()), (grey, _grey_pixels())):
        file_bytes = (image_set / image.name).stat().st_size
        assert image.file_bytes == file_bytes
        assert image.codecs[PNG].size_bytes == file_bytes  # pyoxipng absent: PNG as stored
        assert image.codecs[WEBP].size_bytes == len(_webp_bytes(array))
        for key, effort in ((JXL_E7, 7), (JXL_E9, 9)):
            encoded = imagecodecs.jpegxl_encode(array, lossless=True, effort=effort, numthreads=1)
            assert image.codecs[key].size_bytes == len(encoded)
        for codec in result.meta.codecs:
            size = image.codecs[codec].size_bytes
            assert size is not None and size > 0
            assert image.bits_per_pixel(codec) == _expected_bpp(size, image.width, image.height)
    # the archive is a real one: its size is that of mmcompress.api.compress on the file
    from mmcompress.api import compress

    packed = compress((image_set / rgb.name).read_bytes(), level=FAST_LEVEL, name=rgb.name)
    assert rgb.codecs[MMC].size_bytes == len(packed)


def test_round_trips_and_path_taken(result: ImageBenchResult) -> None:
    assert result.roundtrip_ok
    for image in result.images:
        mmc = image.codecs[MMC]
        assert mmc.roundtrip_ok and mmc.note is None
        assert mmc.path_taken == "bytes"  # level 1 has no pixel codec
        assert mmc.encode_seconds is not None and mmc.decode_seconds is not None
        assert mmc.peak_mb is not None and mmc.peak_mb > 0
        assert image.codecs[PNG].encode_seconds is None  # the stored file: nothing encoded
        assert image.codecs[JXL_E7].encode_seconds is not None


def test_default_level_takes_the_pixel_path(tmp_path: Path) -> None:
    """Nothing in the bench decides the path: the default level's recipe does (a photo crop:
    big enough for the pixel path to beat the byte path, which tiny images keep)."""
    kodak = Path(__file__).resolve().parents[2] / "shared/corpus/bench/images/kodak/kodim23.png"
    crop = tmp_path / "crop.png"
    Image.open(kodak).convert("RGB").crop((300, 200, 396, 264)).save(crop)
    run = run_image_bench([crop], rivals=[], progress=False)
    (image,) = run.images
    assert run.meta.codecs == [MMC] and run.meta.pixel_codec == (recipe(None).pixel is not None)
    assert image.codecs[MMC].path_taken == ("pixels" if run.meta.pixel_codec else "bytes")
    assert image.codecs[MMC].roundtrip_ok and run.meta.promise == "byte-exact"


def test_pixels_promise_checks_pixels(image_set: Path) -> None:
    run = run_image_bench(
        [image_set / "a_rgb.png"], level=FAST_LEVEL, rivals=[], progress=False, pixels=True
    )
    (image,) = run.images
    assert run.meta.promise == "pixel-exact" and run.meta.labels[MMC] == "mmcompress -1 --pixels"
    assert image.codecs[MMC].roundtrip_ok and image.codecs[MMC].path_taken == "bytes"
    assert "pixel-exact promise" in to_markdown(run)


def test_set_summary(result: ImageBenchResult) -> None:
    (summary,) = result.sets
    rgb, grey = result.images
    assert (summary.name, summary.image_count) == ("photos", 2)
    assert summary.megapixels == (24 * 16 + 17 * 9) / 1e6
    for codec in result.meta.codecs:
        rgb_bpp, grey_bpp = rgb.bits_per_pixel(codec), grey.bits_per_pixel(codec)
        assert rgb_bpp is not None and grey_bpp is not None
        assert summary.mean_bpp[codec] == (rgb_bpp + grey_bpp) / 2
        total = (rgb.codecs[codec].size_bytes or 0) + (grey.codecs[codec].size_bytes or 0)
        assert summary.total_bytes[codec] == total
        assert summary.aggregate_bpp[codec] == total * 8 / (24 * 16 + 17 * 9)
    assert summary.mmc_to_jxl_e7 == summary.total_bytes[MMC] / summary.total_bytes[JXL_E7]
    assert sum(summary.paths_taken.values()) == 2
    assert summary.roundtrip_ok


def test_outputs(result: ImageBenchResult, tmp_path: Path) -> None:
    written = write_outputs(result, tmp_path / "out")
    assert [path.name for path in written] == list(OUTPUT_NAMES)
    with open(tmp_path / "out" / "images.csv", newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert [(record["kind"], record["name"]) for record in records] == [
        ("image", "a_rgb.png"),
        ("image", "b_grey_palette.png"),
        ("set", "photos"),
    ]
    assert float(records[0]["jxl_e7_bpp"]) == result.images[0].bits_per_pixel(JXL_E7)
    assert float(records[2]["mmc_bpp"]) == result.sets[0].mean_bpp[MMC]
    reloaded = load_json(tmp_path / "out" / "images.json")
    assert reloaded.to_dict() == result.to_dict()
    assert json.loads((tmp_path / "out" / "images.json").read_text())["sets"][0]["name"] == "photos"
    markdown = (tmp_path / "out" / "images.md").read_text(encoding="utf-8")
    assert markdown == to_markdown(result, "images.png")
    assert "![mean bits per pixel per set](images.png)" in markdown
    assert "| photos | 2 | 0.00 |" in markdown
    assert (tmp_path / "out" / "images.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    table = format_table(result)
    assert "a_rgb.png" in table and "photos" in table


def test_combine_runs(result: ImageBenchResult) -> None:
    both = combine([result, result], "two runs")
    assert both.meta.command == "two runs" and len(both.images) == 4
    assert both.sets[0].image_count == 4 and both.sets[0].mean_bpp == result.sets[0].mean_bpp
    other = ImageBenchResult(dataclasses.replace(result.meta, level=5), result.images)
    with pytest.raises(ValueError, match="runs differ"):
        combine([result, other], "mixed")


def test_same_pixels() -> None:
    grey = _grey_pixels()
    assert same_pixels(np.repeat(grey[..., None], 3, axis=2), grey)  # WebP gives grey as RGB
    opaque = np.concatenate(
        [_rgb_pixels(), np.full((*_rgb_pixels().shape[:2], 1), 255, np.uint8)], 2
    )
    assert same_pixels(opaque, _rgb_pixels())
    changed = grey.copy()
    changed[0, 0] ^= 1
    assert not same_pixels(changed, grey)
    assert not same_pixels(grey.astype(np.uint16), grey)
    assert same_pixels(_rgb_pixels(), opaque)  # an opaque alpha dropped
    opaque[0, 0, 3] = 254
    assert not same_pixels(opaque, _rgb_pixels())
    grey_alpha = np.stack([grey, grey // 2], axis=2)
    grey_alpha_as_rgba = np.stack([grey, grey, grey, grey // 2], axis=2)
    assert same_pixels(grey_alpha_as_rgba, grey_alpha)
    assert not same_pixels(grey_alpha_as_rgba, grey)


def test_broken_round_trip_fails_the_run(
    image_set: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "fake_modules"
    folder.mkdir()
    (folder / "bench_images_broken_api.py").write_text(textwrap.dedent(BROKEN_API))
    monkeypatch.syspath_prepend(str(folder))
    argv = ["--images", str(image_set / "a_rgb.png"), "--rivals", "none", "-q"]
    status = bench_main([*argv, "--api", "bench_images_broken_api", "--json"])
    captured = capsys.readouterr()
    assert status == 1
    record = json.loads(captured.out)
    mmc = record["images"][0]["codecs"][MMC]
    assert mmc["roundtrip_ok"] is False and mmc["path_taken"] == "unknown"
    assert "round trip FAILED" in captured.err


def test_missing_path_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["--images", str(tmp_path / "nothing"), "-q"]) == 1
    assert (
        capsys.readouterr().err.strip().endswith(f"no such file or folder: {tmp_path / 'nothing'}")
    )
