"""Deflate replay (mmcompress.imaging.deflatereplay): streams zlib cannot reproduce, rebuilt exactly.

Real data: the deflate stream of Kodak's kodim02.png (written by an optimiser, not by zlib) and of
an alice29.txt excerpt deflated by zlib in every block type it writes (stored, fixed, dynamic).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from mmcompress.errors import CorruptArchive
from mmcompress.imaging import NotRaster, plan_exact, rebuild
from mmcompress.imaging.deflatereplay import MAX_DATA_BYTES, describe, replay
from mmcompress.imaging.pngrecipe import inflate_zlib, parse_png

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
KODIM02 = CORPUS / "images" / "kodak" / "kodim02.png"
ALICE = CORPUS / "text" / "alice29.txt"

#: The recipe of kodim02's stream: its size and sha256 (a change to the predictor or the recipe
#: format changes these; archives made before such a change must still unpack, so bump the
#: version in deflatereplay then).
KODIM02_RECIPE_BYTES = 6530
KODIM02_RECIPE_SHA256 = "f01cd32d217fb92ab51902f589792f7b8f386d106dff52a091e00ce450b88e91"


def _kodim02_stream() -> tuple[bytes, bytes]:
    png = parse_png(KODIM02.read_bytes())
    zlib_header, raw, length, _ = inflate_zlib(png.zdata, png.image_data_bytes())
    assert zlib_header == b"\x78\xda"
    return png.zdata[2 : 2 + length], raw


def _raw_deflate(data: bytes, level: int, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
    deflater = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
    return deflater.compress(data) + deflater.flush()


def test_an_optimised_png_stream_is_rebuilt_from_a_small_recipe() -> None:
    stream, raw = _kodim02_stream()
    recipe = describe(stream, raw)
    assert len(recipe) == KODIM02_RECIPE_BYTES  # 1.1 % of the 596,279-byte stream
    assert hashlib.sha256(recipe).hexdigest() == KODIM02_RECIPE_SHA256
    assert replay(recipe, raw) == stream


@pytest.mark.parametrize(
    ("level", "strategy"),
    [
        (0, zlib.Z_DEFAULT_STRATEGY),  # stored blocks, with their padding bits
        (1, zlib.Z_DEFAULT_STRATEGY),
        (9, zlib.Z_DEFAULT_STRATEGY),
        (6, zlib.Z_FIXED),  # fixed Huffman codes
        (6, zlib.Z_HUFFMAN_ONLY),
        (6, zlib.Z_RLE),
    ],
)
def test_every_block_type_replays(level: int, strategy: int) -> None:
    data = ALICE.read_bytes()[:150_000]
    stream = _raw_deflate(data, level, strategy)
    recipe = describe(stream, data)
    assert replay(recipe, data) == stream
    # The predictor models optimal parsers (zopfli-like): zlib -9's lazy parse is near one,
    # its greedy level 1 far from it (those streams take pngrecipe's zlib settings anyway).
    assert len(recipe) < len(stream) // (4 if level == 9 else 1)


@pytest.mark.parametrize("data", [b"", b"x", b"abcabcabcabc" * 40])
def test_tiny_streams_replay(data: bytes) -> None:
    for level in (0, 9):
        stream = _raw_deflate(data, level)
        assert replay(describe(stream, data), data) == stream


def test_length_258_coded_the_long_way_is_refused() -> None:
    """Code 284 with 31 extra bits also means 258; no encoder writes it and replay would not
    give it back, so describe refuses it (the PNG then takes the byte path)."""
    bits: list[int] = []

    def put(value: int, count: int, msb_first: bool = False) -> None:
        order = range(count - 1, -1, -1) if msb_first else range(count)
        bits.extend((value >> i) & 1 for i in order)

    put(1, 1)  # final block
    put(1, 2)  # fixed codes
    put(0x30 + ord("a"), 8, msb_first=True)  # literal 'a' (8-bit codes 0x30 + byte)
    put(0xC0 + (284 - 280), 8, msb_first=True)  # length code 284 (8-bit codes from 0xC0)
    put(31, 5)  # + 31 = 258
    put(0, 5, msb_first=True)  # distance code 0: distance 1
    put(0, 7, msb_first=True)  # end of block (256: 7-bit code 0)
    bits.extend([0] * (-len(bits) % 8))
    stream = bytes(
        sum(bit << i for i, bit in enumerate(bits[k : k + 8])) for k in range(0, len(bits), 8)
    )
    data = b"a" * 259
    with pytest.raises(NotRaster, match="258"):
        describe(stream, data)


def test_a_stream_that_does_not_inflate_to_the_data_is_refused() -> None:
    data = ALICE.read_bytes()[:20_000]
    stream = _raw_deflate(data, 9)
    with pytest.raises(NotRaster):
        describe(stream, data[:-1])
    with pytest.raises(NotRaster):
        describe(stream[:-50], data)


def test_a_stream_of_many_tiny_blocks_is_refused() -> None:
    """A block per few bytes (a flush after each) is beyond max_blocks: the byte path's business."""
    data = ALICE.read_bytes()[:4_000]
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    pieces = [deflater.compress(data[i : i + 8]) + deflater.flush(zlib.Z_FULL_FLUSH)
              for i in range(0, len(data), 8)]  # fmt: skip
    stream = b"".join(pieces) + deflater.flush()
    with pytest.raises(NotRaster, match="more blocks"):
        describe(stream, data)


def test_data_beyond_the_memory_bound_is_refused_before_any_work() -> None:
    with pytest.raises(NotRaster, match="too large"):
        describe(b"\x03\x00", bytes(MAX_DATA_BYTES + 1))


def test_damaged_recipes_are_refused() -> None:
    data = ALICE.read_bytes()[:20_000]
    stream = _raw_deflate(data, 9)
    recipe = describe(stream, data)
    for bad in (recipe[:-1], recipe + b"\x00", b"\x02" + recipe[1:], recipe[:3]):
        with pytest.raises(CorruptArchive):
            replay(bad, data)
    with pytest.raises(CorruptArchive):
        replay(recipe, data[:-10])  # the blocks no longer cover the data


def test_png_plan_uses_the_replay_and_rebuilds_the_file() -> None:
    data = KODIM02.read_bytes()
    plan = plan_exact(data)
    assert plan.path == "byte-exact" and plan.header[1] == 4  # KIND_PNG_REPLAY
    assert len(plan.header) < KODIM02_RECIPE_BYTES + 1_000
    assert rebuild(plan.header, plan.pixels) == data
