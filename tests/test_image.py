"""Images through the whole pipeline: serializer + pixel codec + container + API/CLI.

The pieces have their own tests (test_raster.py, test_pixel_codec.py); these check how they are
composed: which path each file takes, exact round trips (byte-exact by default, pixel-exact with
--pixels), strips, folders, -T, and damaged image entries.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mmcompress
from mmcompress import image as mimage
from mmcompress.api import Compressor, list_archive
from mmcompress.errors import CorruptArchive, MmcError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
KODAK = ROOT.parent / "shared" / "corpus" / "bench" / "images" / "kodak"


def _kodak_crop(width: int = 160, height: int = 96) -> np.ndarray:
    with Image.open(KODAK / "kodim23.png") as picture:
        return np.asarray(picture.convert("RGB"))[200 : 200 + height, 300 : 300 + width].copy()


def _png(array: np.ndarray, **options: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", **options)
    return out.getvalue()


def _coding(blob: bytes, tmp_path: Path) -> list[str]:
    archive = tmp_path / "probe.mmc"
    archive.write_bytes(blob)
    return [entry.path_taken for entry in list_archive(archive).entries]


def test_png_takes_the_pixel_path_byte_exactly_and_beats_deflate(tmp_path: Path) -> None:
    data = _png(_kodak_crop())
    blob = mimage.compress(data, name="crop.png")
    assert _coding(blob, tmp_path) == ["pixels"]
    assert mimage.decompress_bytes(blob) == data
    assert len(blob) < 0.8 * len(data)


def test_uncompressed_formats_round_trip_byte_exactly(tmp_path: Path) -> None:
    crop = _kodak_crop(65, 49)  # odd sizes
    for fmt in ("BMP", "PPM"):
        out = io.BytesIO()
        Image.fromarray(crop).save(out, format=fmt)
        data = out.getvalue()
        blob = mimage.compress(data, name=f"x.{fmt.lower()}")
        assert mimage.decompress_bytes(blob) == data
        assert _coding(blob, tmp_path) == ["pixels"], fmt
        assert len(blob) < len(data) // 2


@pytest.mark.parametrize("sample", ["rgb16_huawei_eva_l09_709.png", "palette_hopper_wal.png"])
def test_samples_round_trip_byte_exactly(sample: str) -> None:
    data = (SAMPLES / sample).read_bytes()
    blob = mimage.compress(SAMPLES / sample)
    assert mimage.decompress_bytes(blob) == data
    assert len(blob) <= len(data) + 512


def test_arrays_and_pil_images_come_back_pixel_exact(tmp_path: Path) -> None:
    crop = _kodak_crop(21, 13)
    blob = mimage.compress(crop)
    assert _coding(blob, tmp_path) == ["pixels-png"]
    assert np.array_equal(mimage.decompress(blob), crop)
    grey16 = (np.arange(7 * 5, dtype=np.uint16).reshape(7, 5) * 1871).astype(np.uint16)
    assert np.array_equal(mimage.decompress(mimage.compress(grey16)), grey16)
    picture = Image.fromarray(crop).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    back = mimage.decompress_to_pil(mimage.compress(picture))
    assert back.mode == "P" and back.getpalette() == picture.getpalette()
    assert np.array_equal(np.asarray(back), np.asarray(picture))
    target = tmp_path / "out.png"
    mimage.decompress_to_file(blob, target)
    assert np.array_equal(np.asarray(Image.open(target)), crop)


def test_pixels_promise_re_encodes_a_gif_as_png(tmp_path: Path) -> None:
    picture = Image.fromarray(_kodak_crop(40, 30)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=32
    )
    out = io.BytesIO()
    picture.save(out, format="GIF")
    gif = out.getvalue()
    exact = mimage.compress(gif, name="x.gif")
    assert _coding(exact, tmp_path) == ["bytes"]  # GIF's LZW cannot be rebuilt: byte path
    assert mimage.decompress_bytes(exact) == gif
    blob = mimage.compress(gif, name="x.gif", pixels=True)
    assert _coding(blob, tmp_path) == ["pixels-png"]
    png = mimage.decompress_bytes(blob)
    assert png.startswith(b"\x89PNG")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(picture))


def test_strips_threads_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    data = _png(_kodak_crop(64, 80))
    (folder / "a.png").write_bytes(data)
    (folder / "notes.txt").write_bytes(b"pictures of a parrot\n" * 20)
    archives = []
    for threads in (1, 2):
        packer = Compressor()
        # Small blocks: the image is cut into several pixel strips (each its own block).
        packer.recipe = dataclasses.replace(packer.recipe, block_size=4096)
        archive = tmp_path / f"photos{threads}.mmc"
        packer.pack_file(folder, archive, threads=threads)
        archives.append(archive.read_bytes())
    assert archives[0] == archives[1]
    listing = list_archive(tmp_path / "photos1.mmc")
    coding = {Path(entry.path).name: entry.path_taken for entry in listing.entries}
    assert coding["a.png"] == "pixels" and coding["notes.txt"] == "bytes"
    restored = tmp_path / "restored"
    mmcompress.unpack_file(tmp_path / "photos1.mmc", restored)
    assert (restored / "a.png").read_bytes() == data
    assert (restored / "notes.txt").read_bytes() == (folder / "notes.txt").read_bytes()


def test_cli_pack_pixels_with_rm_verifies_the_pixels(tmp_path: Path) -> None:
    bmp = tmp_path / "x.bmp"
    Image.fromarray(_kodak_crop(30, 20)).save(bmp)
    original = np.asarray(Image.open(bmp))
    done = subprocess.run(
        [sys.executable, "-m", "mmcompress", "pack", "-q", "--pixels", "--rm", str(bmp)],
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    assert not bmp.exists()
    listed = subprocess.run(
        [sys.executable, "-m", "mmcompress", "list", str(tmp_path / "x.bmp.mmc")],
        capture_output=True,
    )
    assert b"pixels-png" in listed.stdout
    out = tmp_path / "back.png"
    mmcompress.unpack_file(tmp_path / "x.bmp.mmc", out)
    assert np.array_equal(np.asarray(Image.open(out)), original)


def test_damaged_image_entries_are_refused(tmp_path: Path) -> None:
    data = _png(_kodak_crop(24, 16))
    blob = bytearray(mimage.compress(data, name="c.png"))
    # Flip a byte at sampled positions: an error, or (a flip in bits the range decoder never
    # reads, e.g. the padding of its last word) the right image; never a wrong one.
    refused = 0
    for position in range(60, len(blob) - 60, 37):
        broken = bytearray(blob)
        broken[position] ^= 0x40
        try:
            assert mimage.decompress_bytes(bytes(broken)) == data
        except MmcError:
            refused += 1
    assert refused >= len(range(60, len(blob) - 60, 37)) - 2
    with pytest.raises(CorruptArchive):
        mimage.decompress_bytes(bytes(blob[:-1]) + bytes([blob[-1] ^ 1]))


def test_a_tiny_image_keeps_the_smaller_of_the_two_paths(tmp_path: Path) -> None:
    data = _png(np.full((1, 1), 77, dtype=np.uint8))
    blob = mimage.compress(data, name="dot.png")
    assert _coding(blob, tmp_path) == ["bytes"]  # the pixel path's header would cost more
    assert len(blob) <= len(data) + 100  # the container's own frame: ~98 bytes
    assert mimage.decompress_bytes(blob) == data
