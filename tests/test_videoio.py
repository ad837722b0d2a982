"""The video serializer (mmcompress.videoio): Y4M and raw YUV byte-exact, FFV1 frame-exact, blocks."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcompress.errors import CorruptArchive, InputError
from mmcompress.sideframe import SIDE_FRAME
from mmcompress.videoio import NotVideo, avframes, rawyuv, serializer, y4m
from mmcompress.videoio.base import Frame, Span

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "video"
RAW, FFV1, MP4 = VIDEO / "raw", VIDEO / "ffv1", VIDEO / "mp4"

# From raw/README.md: frames, (height, width) of each plane, bits, md5 of all plane bytes.
CLIPS = {
    "bbb_1280x720_3f": (3, [(720, 1280), (360, 640), (360, 640)], 8, "d93b2861133db4dcda2332d73b5e3826"),
    "bikes_640x272_12f": (12, [(272, 640), (136, 320), (136, 320)], 8, "73f2197f1a26edb6da637122b21b5890"),
    "carphone_176x144_60f": (60, [(144, 176), (72, 88), (72, 88)], 8, "fe883ea1d4cacee3d6a6a8509d1ed575"),
    "carphone_odd_175x143_10f": (10, [(143, 175), (72, 88), (72, 88)], 8, "a99b8b45bc718841be26106465919ac7"),
    "chaplin_640x360_6f": (6, [(360, 640), (180, 320), (180, 320)], 8, "4cb3b6a62c2bbd6c7f2e4b2a113e1f37"),
    "cisco_vt2people_320x192_9f": (9, [(192, 320), (96, 160), (96, 160)], 8, "125c123f18ae61bc175bce31fdb2b4fb"),
    "cisco_vt2people_grey_317x189_9f": (9, [(189, 317)], 8, "d075e149473d90a583935c723b4a0c95"),
    "kodim03_768x512_1f": (1, [(512, 768), (256, 384), (256, 384)], 8, "7960e789021be4a3ef384ec7888fcb3a"),
    "screen_pdf_1024x768_5f": (5, [(768, 1024), (384, 512), (384, 512)], 8, "2855ddf6bb7deaa44dcbb281bbea1581"),
    "sparks_480x270_10bit_5f": (5, [(270, 480), (135, 240), (135, 240)], 10, "81e1a8f7725f15b42cb5ae022dbab7d1"),
}  # fmt: skip
#: Small clips for the (slower) FFV1 checks: odd 4:2:0, grey odd, 10-bit, a single frame.
FFV1_CLIPS = ["carphone_odd_175x143_10f", "cisco_vt2people_grey_317x189_9f",
              "sparks_480x270_10bit_5f", "kodim03_768x512_1f"]  # fmt: skip


def _md5(frames: list[Frame]) -> str:
    digest = hashlib.md5()
    for frame in frames:
        for plane in frame:
            digest.update(
                np.ascontiguousarray(plane, dtype=plane.dtype.newbyteorder("<")).tobytes()
            )
    return digest.hexdigest()


def _same(first: Iterable[Frame], second: Iterable[Frame]) -> bool:
    first, second = list(first), list(second)
    return len(first) == len(second) and all(
        len(a) == len(b)
        and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(first, second, strict=True)
    )


def _through_blocks(data: bytes, block_size: int = 1 << 20, **options: object) -> bytes:
    planned = serializer.plan(data, **options)  # type: ignore[arg-type]
    assert planned is not None
    found, size = planned
    blocks = list(serializer.plan_blocks(found, block_size))
    return serializer.rebuild_from_blocks([raw for _, raw in blocks], size)


# ---------------------------------------------------------------- Y4M


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_bench_y4m_plans_and_rebuilds_exactly(name: str) -> None:
    data = (RAW / f"{name}.y4m").read_bytes()
    count, shapes, bits, md5 = CLIPS[name]
    found = y4m.plan(data)
    assert found.source == "y4m" and found.bits == bits and len(found.frames) == count
    assert [plane.shape for plane in found.frames[0]] == shapes
    assert _md5(found.frames) == md5
    assert found.side.count(b"FRAME\n") == count and found.dropped == []
    assert y4m.rebuild(found.side, found.frames) == data
    assert _through_blocks(data, frames=False) == data


def test_y4m_header_details() -> None:
    kodim = y4m.plan((RAW / "kodim03_768x512_1f.y4m").read_bytes())
    assert b" XCOLORRANGE=FULL\n" in kodim.side
    sparks = y4m.plan((RAW / "sparks_480x270_10bit_5f.y4m").read_bytes())
    assert sparks.frames[0][0].dtype.itemsize == 2 and int(sparks.frames[0][0].max()) < 1024


def _synthetic_y4m(colourspace: str, shapes: list[tuple[int, int]], dtype: str, frames: int = 2,
                   frame_line: bytes = b"FRAME\n", seed: int = 0) -> bytes:  # fmt: skip
    rng = np.random.default_rng(seed)
    height, width = shapes[0]
    parts = [f"YUV4MPEG2 W{width} H{height} F25:1 C{colourspace}\n".encode()]
    top = 1024 if dtype == "<u2" else 256
    for _ in range(frames):
        parts.append(frame_line)
        parts += [rng.integers(0, top, shape).astype(dtype).tobytes() for shape in shapes]
    return b"".join(parts)


@pytest.mark.parametrize(
    ("colourspace", "shapes", "dtype"),
    [
        ("422", [(5, 7), (5, 4), (5, 4)], "u1"),
        ("411", [(4, 9), (4, 3), (4, 3)], "u1"),
        ("444alpha", [(3, 3)] * 4, "u1"),
        ("420mpeg2", [(3, 5), (2, 3), (2, 3)], "u1"),
        ("444p10", [(2, 3)] * 3, "<u2"),
        ("mono16", [(4, 4)], "<u2"),
    ],
)
def test_y4m_colourspaces(colourspace: str, shapes: list[tuple[int, int]], dtype: str) -> None:
    data = _synthetic_y4m(colourspace, shapes, dtype, frame_line=b"FRAME Ixyz\n")
    found = y4m.plan(data)
    assert [plane.shape for plane in found.frames[1]] == shapes
    assert y4m.rebuild(found.side, found.frames) == data
    assert _through_blocks(data, block_size=16, frames=False) == data  # one frame a block


@settings(max_examples=60, deadline=None)
@given(
    colourspace=st.sampled_from(sorted(y4m.COLOURSPACES)),
    width=st.integers(1, 9),
    height=st.integers(1, 9),
    frames=st.integers(1, 3),
    frame_line=st.sampled_from([b"FRAME\n", b"FRAME Ip\n", b"FRAME X=1 Y\n"]),
    trailing=st.binary(max_size=3).filter(
        lambda tail: not b"FRAME".startswith(tail[:5]) or not tail
    ),
)
def test_y4m_round_trip_property(
    colourspace: str, width: int, height: int, frames: int, frame_line: bytes, trailing: bytes
) -> None:
    layout = y4m.COLOURSPACES[colourspace]
    shapes = layout.shapes(width, height)
    data = _synthetic_y4m(
        colourspace, shapes, "<u2" if layout.bits > 8 else "u1", frames, frame_line
    )
    data += trailing if len(trailing) < layout.frame_bytes(width, height) else b""
    found = y4m.plan(data)
    assert len(found.frames) == frames and [p.shape for p in found.frames[0]] == shapes
    assert _through_blocks(data, block_size=64, frames=False) == data


def test_y4m_trailing_bytes_are_kept() -> None:
    data = _synthetic_y4m("420", [(3, 5), (2, 3), (2, 3)], "u1") + b"\n\x00junk"
    found = y4m.plan(data)
    assert found.side.endswith(b"FRAME\n\n\x00junk") and len(found.frames) == 2
    assert _through_blocks(data, frames=False) == data


def test_y4m_ten_bit_out_of_range_samples_use_16_bits() -> None:
    data = _synthetic_y4m("420p10", [(2, 2), (1, 1), (1, 1)], "<u2", frames=1)
    data = data[:-2] + b"\xff\xff"  # a "10-bit" sample of 65535
    found = y4m.plan(data)
    assert found.bits == 16
    assert _through_blocks(data, frames=False) == data


def test_malformed_y4m_is_not_video() -> None:
    good = _synthetic_y4m("420", [(4, 4), (2, 2), (2, 2)], "u1", frames=3)
    header_end = good.index(b"\n") + 1
    frame = 6 + 24
    bad = {
        "truncated frame": good[:-5],
        "FRAME line truncated": good + b"FRA",
        "bad signature": b"YUV4MPEG3" + good[9:],
        "zero width": good.replace(b"W4 ", b"W0 ", 1),
        "no height": good.replace(b"H4 ", b"", 1),
        "bad colourspace": good.replace(b"C420", b"C999", 1),
        "first FRAME missing": good[:header_end] + good[header_end + 6 :],
        "middle FRAME missing": good[: header_end + frame] + good[header_end + frame + 6 :],
        "malformed FRAME": good.replace(b"FRAME\n", b"FRAMEX\n", 1),
        "no frame": good[:header_end],
        "unterminated header": good[: header_end - 1],
    }
    for what, data in bad.items():
        with pytest.raises(NotVideo):
            y4m.plan(data)
        assert serializer.plan(data, frames=False) is None, what
    assert isinstance(serializer.plan_or_reason(good[:-5], frames=False), str)


# ---------------------------------------------------------------- raw YUV


def test_raw_yuv_round_trip_with_partial_frame() -> None:
    clip = y4m.plan((RAW / "cisco_vt2people_320x192_9f.y4m").read_bytes())
    payload = b"".join(plane.tobytes() for frame in clip.frames for plane in frame)
    data = payload + payload[:12345]  # a trailing partial frame
    found = rawyuv.plan(data, (320, 192), "yuv420p")
    assert len(found.frames) == 9 and found.side == b"320 192 yuv420p\n" + payload[:12345]
    assert _same(found.frames[:9], clip.frames)
    assert rawyuv.rebuild(found.side, found.frames) == data
    assert _through_blocks(data, frames=False, raw_geometry=((320, 192), "yuv420p")) == data


def test_raw_yuv_ten_bit_and_formats() -> None:
    clip = y4m.plan((RAW / "sparks_480x270_10bit_5f.y4m").read_bytes())
    data = b"".join(plane.tobytes() for frame in clip.frames[:2] for plane in frame)
    found = rawyuv.plan(data, (480, 270), "yuv420p10le")
    assert found.bits == 10 and _same(found.frames, clip.frames[:2])
    assert _through_blocks(data, raw_geometry=((480, 270), "yuv420p10le"), frames=False) == data
    grey = bytes(range(256)) * 3
    found = rawyuv.plan(grey, (16, 8), "gray16le")
    assert len(found.frames) == 3 and found.frames[0][0].shape == (8, 16)
    assert rawyuv.rebuild(found.side, found.frames) == grey


def test_raw_yuv_bad_geometry() -> None:
    with pytest.raises(InputError, match="pixel format"):
        rawyuv.plan(b"\0" * 100, (4, 4), "nv12")
    with pytest.raises(InputError, match="size"):
        serializer.plan(b"\0" * 100, frames=False, raw_geometry=((0, 4), "gray"))
    with pytest.raises(NotVideo, match="less than one"):
        rawyuv.plan(b"\0" * 23, (4, 4), "yuv420p")
    assert serializer.plan(b"\0" * 23, frames=False, raw_geometry=((4, 4), "yuv420p")) is None


# ---------------------------------------------------------------- decoded video (PyAV, FFV1)


@pytest.mark.parametrize("name", FFV1_CLIPS)
def test_ffv1_frames_equal_raw_and_survive_rewrite(name: str) -> None:
    data = (FFV1 / f"{name}.mkv").read_bytes()
    found = avframes.plan(data)
    raw = y4m.plan((RAW / f"{name}.y4m").read_bytes())
    assert found.source == "ffv1-mkv" and found.bits == raw.bits and found.dropped == []
    assert _same(found.frames, raw.frames)
    written = avframes.rebuild(found.side, found.frames)
    assert avframes.plan(written).frames and _same(avframes.plan(written).frames, raw.frames)
    assert avframes.same_frames(data, written)
    assert avframes.rebuild(found.side, found.frames) == written  # bitexact: same bytes again


def test_frames_promise_through_blocks(tmp_path: Path) -> None:
    name = "carphone_odd_175x143_10f"
    original = FFV1 / f"{name}.mkv"
    data = original.read_bytes()
    assert serializer.plan(data, frames=False) is None  # coded video: bytes unless --frames
    planned = serializer.plan(data, frames=True)
    assert planned is not None
    found, size = planned
    assert (
        serializer.promise_of_plan(found) == "frames"
        and list(serializer.plan_warnings(found)) == []
    )
    blocks = list(serializer.plan_blocks(found, 40_000))  # 37,950 sample bytes a frame
    roles = [role for role, _ in blocks]
    assert roles == ["side"] + ["frames"] * 10
    rebuilt = serializer.rebuild_from_blocks([raw for _, raw in blocks], size)
    assert len(rebuilt) == size
    serializer.check_same_frames(original, rebuilt)
    other = tmp_path / "other.mkv"
    other.write_bytes((FFV1 / "cisco_vt2people_grey_317x189_9f.mkv").read_bytes())
    with pytest.raises(CorruptArchive, match="frames differ"):
        serializer.check_same_frames(other, rebuilt)
    # A Y4M file under --frames keeps its bytes.
    y4m_data = (RAW / f"{name}.y4m").read_bytes()
    y4m_found, y4m_size = serializer.plan(y4m_data, frames=True) or (None, 0)
    assert y4m_found is not None and serializer.promise_of_plan(y4m_found) == "bytes"
    assert y4m_size == len(y4m_data)


def test_lossy_video_takes_the_byte_path() -> None:
    data = (MP4 / "carphone_176x144_h264.mp4").read_bytes()
    reason = serializer.plan_or_reason(data, frames=True)
    assert isinstance(reason, str) and "lossy" in reason
    assert serializer.plan(b"not a video at all", frames=True) is None
    import av

    sound = io.BytesIO()
    with av.open(sound, "w", format="wav") as muxer:
        stream = muxer.add_stream("pcm_s16le", rate=8000)
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 80), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate = 8000
        for packet in [*stream.encode(samples), *stream.encode(None)]:
            muxer.mux(packet)
    assert (
        serializer.plan_or_reason(sound.getvalue(), frames=True) == "the file has no video stream"
    )


def _encode(codec: str, pix_fmt: str, frames: list[np.ndarray], container: str,
            audio: bool = False) -> bytes:  # fmt: skip
    import av

    output = io.BytesIO()
    with av.open(output, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=Fraction(24000, 1001))
        stream.width, stream.height, stream.pix_fmt = (
            frames[0].shape[1],
            frames[0].shape[0],
            pix_fmt,
        )
        sound = muxer.add_stream("pcm_s16le", rate=8000) if audio else None
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format=pix_fmt)
            frame.pts = index
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
        if sound is not None:
            samples = av.AudioFrame.from_ndarray(
                np.zeros((1, 800), np.int16), format="s16", layout="mono"
            )
            samples.sample_rate, samples.pts = 8000, 0
            for packet in sound.encode(samples):
                muxer.mux(packet)
            for packet in sound.encode(None):
                muxer.mux(packet)
    return output.getvalue()


def test_rgb_and_huffyuv_with_audio() -> None:
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 256, (18, 22, 3), dtype=np.uint8) for _ in range(3)]
    data = _encode("huffyuv", "rgb24", pictures, "avi", audio=True)
    found = avframes.plan(data)
    info = avframes.StreamInfo.from_bytes(found.side)
    assert info.pix_fmt == "gbrp" and info.codec == "huffyuv" and info.frame_rate == [24000, 1001]
    for picture, frame in zip(pictures, found.frames, strict=True):  # planes G, B, R
        assert all(np.array_equal(frame[i], picture[:, :, c]) for i, c in enumerate((1, 2, 0)))
    assert found.dropped == ["audio stream 1 (pcm_s16le)"]
    assert any("audio stream 1" in line for line in serializer.plan_warnings(found))
    written = avframes.rebuild(found.side, found.frames)
    assert avframes.same_frames(data, written)
    again = avframes.StreamInfo.from_bytes(avframes.plan(written).side)
    assert again.codec == "ffv1" and replace(again, codec="huffyuv") == info  # rate, colour tags
    assert _through_blocks(data, frames=True) == written


def test_x264_lossless_is_kept_and_lossy_is_not() -> None:
    rng = np.random.default_rng(2)
    pictures = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(2)]
    import av

    def x264(options: dict[str, str]) -> bytes:
        output = io.BytesIO()
        with av.open(output, "w", format="mp4") as muxer:
            stream = muxer.add_stream("libx264", rate=25, options=options)
            stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
            for index, pixels in enumerate(pictures):
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
                    format="yuv420p"
                )
                frame.pts = index
                for packet in stream.encode(frame):
                    muxer.mux(packet)
            for packet in stream.encode(None):
                muxer.mux(packet)
        return output.getvalue()

    lossless = x264({"qp": "0", "preset": "ultrafast"})
    found = avframes.plan(lossless)
    assert avframes.same_frames(lossless, avframes.rebuild(found.side, found.frames))
    with pytest.raises(NotVideo, match="lossy"):
        avframes.plan(x264({"crf": "23", "preset": "ultrafast"}))


# ---------------------------------------------------------------- hostile archives


def _blocks(name: str = "carphone_odd_175x143_10f") -> tuple[list[bytes], int]:
    data = (RAW / f"{name}.y4m").read_bytes()
    found, size = serializer.plan(data, frames=False) or (None, 0)
    assert found is not None
    return [raw for _, raw in serializer.plan_blocks(found, 1 << 20)], size


def test_corrupted_side_information_is_corrupt_archive() -> None:
    blocks, size = _blocks()
    side = blocks[0]
    assert side[SIDE_FRAME.size] == 1  # source: Y4M
    cases = {
        "unknown source": side[: SIDE_FRAME.size] + b"\x09" + side[SIDE_FRAME.size + 1 :],
        "wrong width": side.replace(b"W175", b"W176"),
        "wrong colourspace": side.replace(b"C420jpeg", b"C444    "),
        "no header": side[: SIDE_FRAME.size + 1] + b"X" * (len(side) - SIDE_FRAME.size - 1),
        "fewer FRAME lines": side.replace(b"FRAME\n", b"FRAMX\n"),
        "frame version": b"\x02" + side[1:],
        "huge length": side[:1] + (1 << 40).to_bytes(8, "little") + side[9:],
        "short length": side[:1] + (len(side) - 10).to_bytes(8, "little") + side[9:],
    }
    for what, bad in cases.items():
        with pytest.raises(CorruptArchive):
            serializer.rebuild_from_blocks([bad] + blocks[1:], size)
        assert what
    with pytest.raises(CorruptArchive, match="size other"):
        serializer.rebuild_from_blocks(blocks, size + 1)
    with pytest.raises(CorruptArchive, match="no frame blocks"):
        serializer.rebuild_from_blocks(blocks[:1], size)
    with pytest.raises(CorruptArchive, match="invalid frame block"):
        serializer.rebuild_from_blocks([blocks[0], blocks[1][:-1]], size)
    with pytest.raises(CorruptArchive):
        serializer.rebuild_from_blocks([], size)


def test_corrupted_stream_information_is_corrupt_archive() -> None:
    data = (FFV1 / "cisco_vt2people_grey_317x189_9f.mkv").read_bytes()
    found = avframes.plan(data)
    for bad in (
        found.side.replace(b'"gray"', b'"nv12"'),
        found.side.replace(b'"width":317', b'"width":-1'),
        found.side.replace(b'"width":317', b'"width":318'),
        found.side[:-1],
        found.side.replace(b'"codec"', b'"kodec"'),
        found.side.replace(b'"frame_rate":[12,1]', b'"frame_rate":[0,1]'),
        found.side.replace(b'"colorspace":2', b'"colorspace":99999'),
        found.side.replace(b'"width":317', b'"width":65535').replace(
            b'"height":189', b'"height":65535'
        ),
    ):
        with pytest.raises(CorruptArchive):
            avframes.rebuild(bad, found.frames)


def test_raw_side_information_checked() -> None:
    found = rawyuv.plan(bytes(48), (4, 4), "yuv420p")
    for bad in (b"4 4\n", b"4 4 nv12\n", b"5 4 yuv420p\n", b"x 4 yuv420p\n", b""):
        with pytest.raises(CorruptArchive):
            rawyuv.rebuild(bad, found.frames)


def test_importing_the_package_is_cheap() -> None:
    code = (
        "import sys, mmcompress.videoio, mmcompress.videoio.serializer;"
        "assert 'av' not in sys.modules and 'numba' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_file_is_planned_by_scanning_and_its_frames_read_on_demand(tmp_path: Path) -> None:
    data = _synthetic_y4m("420", [(4, 6), (2, 3), (2, 3)], "u1", frames=5,
                          frame_line=b"FRAME Ixyz\n")  # fmt: skip
    (tmp_path / "clip.y4m").write_bytes(b"lead" + data)
    in_memory = y4m.plan(data)
    with open(tmp_path / "clip.y4m", "rb") as source:
        source.seek(4)  # a span starts where the file stands
        reads = _count_reads(source)
        found = y4m.plan(Span(source))
        scanned = reads()
        assert found.side == in_memory.side and found.bits == in_memory.bits
        assert len(found.frames) == 5
        assert [p.tolist() for p in found.frames[3]] == [p.tolist() for p in in_memory.frames[3]]
        assert reads() - scanned == 36  # frame 3 alone: 24 + 6 + 6 samples
        assert y4m.rebuild(found.side, found.frames) == data
    raw = bytes(range(72)) + b"tail"
    with open(tmp_path / "clip.yuv", "wb+") as source:
        source.write(raw)
        source.seek(0)
        found = rawyuv.plan(Span(source), (4, 4), "yuv420p")
        assert len(found.frames) == 3 and found.side.endswith(b"tail")
        assert rawyuv.rebuild(found.side, found.frames) == raw


def _count_reads(stream: io.BufferedReader) -> Callable[[], int]:
    """Wrap ``stream.read`` to count the bytes read; returns the counter."""
    total = [0]
    read = stream.read

    def counted(size: int = -1) -> bytes:
        piece = read(size)
        total[0] += len(piece)
        return piece

    stream.read = counted  # type: ignore[method-assign]
    return lambda: total[0]


def test_rebuild_writes_a_frame_at_a_time_as_blocks_come() -> None:
    data = _synthetic_y4m("420", [(4, 4), (2, 2), (2, 2)], "u1", frames=6)
    found = serializer.plan(data, frames=False)
    assert found is not None
    blocks = [raw for _, raw in serializer.plan_blocks(found[0], 48)]  # side + one per frame
    consumed = [0]

    def lazily() -> Iterator[bytes]:
        for raw in blocks:
            consumed[0] += 1
            yield raw

    pieces = serializer.rebuild_pieces(lazily(), len(data))
    head = [bytes(next(pieces)) for _ in range(5)]  # header, FRAME, Y, U, V of frame 0
    assert consumed[0] < len(blocks)
    assert b"".join(head) + b"".join(bytes(p) for p in pieces) == data
    with pytest.raises(CorruptArchive, match="more FRAME lines"):
        b"".join(serializer.rebuild_pieces(iter(blocks[:-1]), len(data)))
    with pytest.raises(CorruptArchive, match="size"):
        b"".join(serializer.rebuild_pieces(iter(blocks), len(data) + 1))
