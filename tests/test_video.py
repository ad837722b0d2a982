"""Video through the whole pipeline: frames serializer + frames codec + container + API/CLI.

The pieces have their own tests (test_videoio.py, test_frames_codec.py); these check how they are
composed: which path each file takes (list's "coding" column), exact round trips (byte-exact Y4M
and raw YUV, frame-exact ``--frames``), folders, -T, the API's frames in / frames out, and the
one-line errors of bad video options.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from clitools import assert_one_error_line, run_cli

from mmcompress import serializers, video
from mmcompress.api import Compressor, list_archive
from mmcompress.videoio import avframes, y4m

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "video"
CISCO = VIDEO / "raw" / "cisco_vt2people_320x192_9f.y4m"
ODD_FFV1 = VIDEO / "ffv1" / "carphone_odd_175x143_10f.mkv"

pytestmark = pytest.mark.skipif(not CISCO.is_file(), reason="corpus not available")


def _cisco_crop(frames: int = 4, width: int = 96, height: int = 64) -> list[list[np.ndarray]]:
    """The first frames of the real camera clip, cropped (4:2:0: chroma halved)."""
    found = y4m.plan(CISCO.read_bytes())
    top, left = 64, 112
    out = []
    for frame in found.frames[:frames]:
        luma, cb, cr = frame
        out.append(
            [
                luma[top : top + height, left : left + width].copy(),
                cb[top // 2 : (top + height) // 2, left // 2 : (left + width) // 2].copy(),
                cr[top // 2 : (top + height) // 2, left // 2 : (left + width) // 2].copy(),
            ]
        )
    return out


def _coding(blob: bytes, tmp_path: Path) -> list[str]:
    archive = tmp_path / "probe.mmc"
    archive.write_bytes(blob)
    return [entry.path_taken for entry in list_archive(archive).entries]


def test_y4m_takes_the_frame_path_byte_exactly_and_beats_the_byte_path(tmp_path: Path) -> None:
    data = y4m.write(_cisco_crop(), rate=(12, 1))
    blob = video.compress(data, name="clip.y4m")
    assert _coding(blob, tmp_path) == ["frames"]
    assert video.decompress_bytes(blob) == data
    plain = io.BytesIO()
    Compressor(5).pack_stream(io.BytesIO(data), plain, name="clip.y4m", pixel_path=False)
    assert len(blob) < 0.95 * len(plain.getvalue())  # the byte path is bcm from -5 on


def test_frames_in_frames_out_ten_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 1024, size=(24, 40), dtype=np.uint16)
    frames = [[base, base[::2, ::2].copy(), base[1::2, 1::2].copy()] for _ in range(3)]
    frames[2][0] = base.copy()
    frames[2][0][:8, :8] = 7  # a changed corner
    blob = video.compress(frames, bits=10)
    back = list(video.decompress(blob))
    assert len(back) == 3
    for got, want in zip(back, frames, strict=True):
        assert [p.tolist() for p in got] == [p.tolist() for p in want]


def test_frames_api_refuses_planes_of_no_format() -> None:
    with pytest.raises(Exception, match="no Y4M colourspace"):
        video.compress([[np.zeros((4, 4), np.uint8), np.zeros((3, 3), np.uint8)]])


def test_several_blocks_code_the_same_with_two_workers() -> None:
    data = y4m.write(_cisco_crop(frames=6, width=64, height=32))
    blobs = []
    for threads in (1, 2):
        packer = Compressor(5)
        packer.recipe = dataclasses.replace(packer.recipe, block_size=2 * 64 * 32 * 3 // 2)
        sink = io.BytesIO()
        packer.pack_stream(io.BytesIO(data), sink, name="clip.y4m", threads=threads)
        blobs.append(sink.getvalue())
    assert blobs[0] == blobs[1]
    assert Compressor(5).decompress(blobs[0]) == data


class _Pipe(io.RawIOBase):
    """A non-seekable stream over bytes (what stdin is): the packer must read it whole."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        piece = self._data.read(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)


def _record_plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record whether each rich-path plan is made from the file ("file") or its bytes."""
    planned_from: list[str] = []
    plan_entry = serializers.plan_entry

    def recorded(data: object, *args: object, **kwargs: object) -> object:
        planned_from.append("bytes" if isinstance(data, bytes) else "file")
        return plan_entry(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(serializers, "plan_entry", recorded)
    return planned_from


def test_a_long_clip_streams_from_its_file_into_the_same_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crop = _cisco_crop(frames=9, width=64, height=48)
    frames = [crop[i % 9] for i in range(60)]  # 60 x 4,608 B: past the streaming threshold
    clip = tmp_path / "clip.y4m"
    clip.write_bytes(y4m.write(frames))
    assert clip.stat().st_size > serializers.STREAMED_MIN_BYTES
    packer = Compressor(5)
    packer.recipe = dataclasses.replace(packer.recipe, block_size=8 * 4608)  # 8 frames a block
    planned_from = _record_plans(monkeypatch)
    streamed, whole = io.BytesIO(), io.BytesIO()
    with open(clip, "rb") as source:
        packer.pack_stream(source, streamed, name="clip.y4m")
    # From a pipe whose first block (8 frames) is under the threshold: read whole, not spooled.
    packer.pack_stream(io.BufferedReader(_Pipe(clip.read_bytes())), whole, name="clip.y4m")
    packer.pack_file(clip, tmp_path / "clip.mmc")  # (what the CLI calls)
    assert planned_from == ["file", "bytes", "file"]
    assert streamed.getvalue() == whole.getvalue()
    assert Compressor(5).decompress((tmp_path / "clip.mmc").read_bytes()) == clip.read_bytes()
    assert _coding(streamed.getvalue(), tmp_path) == ["frames"]
    assert Compressor(5).decompress(streamed.getvalue()) == clip.read_bytes()
    back = video.decompress(streamed.getvalue())
    for index, frame in enumerate(back):
        assert [p.tolist() for p in frame] == [p.tolist() for p in frames[index]]
    assert index == 59
    assert video.decompress_bytes(video.compress(clip)) == clip.read_bytes()


def test_a_coded_clip_streams_from_its_file_under_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serializers, "STREAMED_MIN_BYTES", 0)  # (the clip is 163 KB)
    planned_from = _record_plans(monkeypatch)
    packer = Compressor(5, frames=True)
    streamed, piped, whole = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with open(ODD_FFV1, "rb") as source:
        packer.pack_stream(source, streamed, name="clip.mkv")
    # From a pipe: spooled to a temporary file, then planned from it.
    packer.pack_stream(io.BufferedReader(_Pipe(ODD_FFV1.read_bytes())), piped, name="clip.mkv")
    monkeypatch.setattr(serializers, "STREAMED_MIN_BYTES", 1 << 40)  # the whole-file plan
    packer.pack_stream(io.BytesIO(ODD_FFV1.read_bytes()), whole, name="clip.mkv")
    assert planned_from == ["file", "file", "bytes"]
    assert streamed.getvalue() == piped.getvalue() == whole.getvalue()
    assert avframes.same_frames(
        ODD_FFV1.read_bytes(), Compressor(5).decompress(streamed.getvalue())
    )
    frames = list(video.decompress(streamed.getvalue()))
    assert len(frames) == 10 and frames[0][0].shape == (143, 175)


def test_a_folders_coded_clip_streams_under_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serializers, "STREAMED_MIN_BYTES", 0)  # (the clip is 163 KB)
    planned_from = _record_plans(monkeypatch)
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "clip.mkv").write_bytes(ODD_FFV1.read_bytes())
    Compressor(5, frames=True).pack_file(folder, tmp_path / "shoot.mmc")
    assert planned_from == ["file"]
    Compressor(5).unpack_file(tmp_path / "shoot.mmc", tmp_path / "back")
    assert avframes.same_frames(
        ODD_FFV1.read_bytes(), (tmp_path / "back" / "clip.mkv").read_bytes()
    )


def test_cli_y4m_and_raw_yuv_round_trip(tmp_path: Path) -> None:
    frames = _cisco_crop(frames=3)
    clip = tmp_path / "clip.y4m"
    clip.write_bytes(y4m.write(frames))
    raw = tmp_path / "clip.yuv"
    planes = b"".join(plane.tobytes() for frame in frames for plane in frame)
    raw.write_bytes(planes + b"\x01\x02\x03")  # a partial frame at the end is kept as is
    for name, options in (("clip.y4m", []), ("clip.yuv", ["--size", "96x64"])):
        done = run_cli("pack", name, *options, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        listed = run_cli("list", "--json", name + ".mmc", cwd=tmp_path)
        assert b'"path_taken": "frames"' in listed.stdout
        done = run_cli("unpack", name + ".mmc", "-o", name + ".out", cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / (name + ".out")).read_bytes() == (tmp_path / name).read_bytes()


def test_cli_raw_video_options_fail_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "clip.yuv").write_bytes(bytes(100))
    line = assert_one_error_line(run_cli("pack", "clip.yuv", "--pix-fmt", "gray", cwd=tmp_path))
    assert "--size" in line
    line = assert_one_error_line(
        run_cli("pack", "clip.yuv", "--size", "64x48", "--pix-fmt", "rgb48", cwd=tmp_path)
    )
    assert "rgb48" in line
    line = assert_one_error_line(run_cli("pack", "clip.yuv", "--size", "64x48", cwd=tmp_path))
    assert "64x48" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.yuv"]


@pytest.mark.skipif(not ODD_FFV1.is_file(), reason="corpus not available")
def test_frames_promise_rebuilds_the_decoded_frames(tmp_path: Path) -> None:
    data = ODD_FFV1.read_bytes()
    plain = video.compress(data, name=ODD_FFV1.name)
    assert _coding(plain, tmp_path) == ["bytes"]
    blob = video.compress(data, name=ODD_FFV1.name, frames=True)
    assert _coding(blob, tmp_path) == ["frames-mkv"]
    assert len(blob) < len(data)
    rebuilt = video.decompress_bytes(blob)
    assert avframes.same_frames(data, rebuilt)
    video.decompress_to_file(blob, tmp_path / "back.mkv")
    assert (tmp_path / "back.mkv").read_bytes() == rebuilt
    frames = list(video.decompress(blob))
    assert len(frames) == 10 and frames[0][0].shape == (143, 175)


@pytest.mark.skipif(not ODD_FFV1.is_file(), reason="corpus not available")
def test_folder_with_video_and_text_and_rm_verifies(tmp_path: Path) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"take 1: the odd-size clip\n" * 20)
    (folder / "clip.mkv").write_bytes(ODD_FFV1.read_bytes())
    (folder / "small.y4m").write_bytes(y4m.write(_cisco_crop(frames=2, width=32, height=32)))
    done = run_cli("pack", "--frames", "--rm", "shoot", cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    assert not folder.exists()
    listed = {e.path: e.path_taken for e in list_archive(tmp_path / "shoot.mmc").entries}
    assert listed["clip.mkv"] == "frames-mkv" and listed["small.y4m"] == "frames"
    done = run_cli("unpack", "shoot.mmc", cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    assert avframes.same_frames(ODD_FFV1.read_bytes(), (folder / "clip.mkv").read_bytes())
