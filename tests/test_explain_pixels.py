"""mmcompress explain on images and video: per-sample costs from the real pixel / frame codecs.

Real data: a 96×128 crop of Kodak's kodim23 (written as a PNG in a temporary folder) and the
first four frames of cisco_vt2people, cropped to 64×48 4:2:0 (written as a Y4M file). Checked:
the recorded costs leave the coded bytes alone and add up to the range coder's output within a
few bytes, the archive explained is the packer's own, the heat maps have the image's size and
the reported mean, the page is self-contained, and the command line's JSON and exit codes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmcompress import api
from mmcompress.explain import explain, main
from mmcompress.explain.browser import Browser, BrowserUnavailable, find_chromium
from mmcompress.explain.charts import PixelCosts, heat_map_png
from mmcompress.explain.html import render_html
from mmcompress.explain.pixels import MediaReport
from mmcompress.explain.report import Report
from mmcompress.levels import recipe
from mmcompress.predictors.frames import DEFAULT_FRAMES_MODEL, STATIC, FramesCodec, frames_to_block
from mmcompress.predictors.pixel import PixelCodec, pixels_to_block

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
KODIM23 = CORPUS / "images" / "kodak" / "kodim23.png"
CISCO = CORPUS / "video" / "raw" / "cisco_vt2people_320x192_9f.y4m"
LEVEL = 5
#: The level's own pixel models (so that the archive explained is the one ``pack`` writes).
MODEL = str((recipe(LEVEL).pixel or {}).get("name", "pixel-m"))
VIDEO_MODEL = str((recipe(LEVEL).video or {}).get("name", DEFAULT_FRAMES_MODEL))
#: Σ costs / 8 against the range coder's bytes: its flush (up to two 32-bit words) and the
#: re-quantisation of the tables inside constriction.
CODER_SLACK_BYTES = 8

Frames = list[list[np.ndarray]]


def kodak_crop() -> np.ndarray:
    with Image.open(KODIM23) as image:
        return np.ascontiguousarray(np.asarray(image)[200:296, 300:428])


def cisco_crop(count: int = 4) -> Frames:
    """Frames 0..count-1 of the cisco clip, luma 48×64 at (64, 128) and its 4:2:0 chroma."""
    data = CISCO.read_bytes()
    position = data.index(b"\n") + 1
    width, height = 320, 192
    frames = []
    for _ in range(count):
        assert data[position : position + 6] == b"FRAME\n"
        position += 6
        planes = []
        for (h, w), box in (((height, width), (64, 112, 128, 192)),
                            ((height // 2, width // 2), (32, 56, 64, 96)),
                            ((height // 2, width // 2), (32, 56, 64, 96))):  # fmt: skip
            plane = np.frombuffer(data, np.uint8, h * w, position).reshape(h, w)
            position += h * w
            planes.append(np.ascontiguousarray(plane[box[0] : box[1], box[2] : box[3]]))
        frames.append(planes)
    return frames


def y4m_bytes(frames: Frames) -> bytes:
    height, width = frames[0][0].shape
    out = [f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()]
    for frame in frames:
        out.append(b"FRAME\n" + b"".join(plane.tobytes() for plane in frame))
    return b"".join(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    png = folder / "kodim23_crop.png"
    Image.fromarray(kodak_crop()).save(png)
    y4m = folder / "cisco_crop.y4m"
    y4m.write_bytes(y4m_bytes(cisco_crop()))
    return {"png": png, "y4m": y4m}


@pytest.fixture(scope="module")
def image_report(files: dict[str, Path]) -> Report:
    return explain(files["png"], level=LEVEL, models=[MODEL], tools=("png", "webp"))


@pytest.fixture(scope="module")
def video_report(files: dict[str, Path]) -> Report:
    return explain(files["y4m"], level=LEVEL, models=[VIDEO_MODEL], tools=(), frames_shown=[0, 3])


# ------------------------------------------------------------------------------ the codecs


def test_pixel_costs_leave_the_payload_and_sum_to_the_coder_output() -> None:
    codec = PixelCodec(name=MODEL)
    raw = pixels_to_block(kodak_crop(), 8)
    coded = codec.encode_with_costs(raw)
    assert coded.payload == codec.encode_block(raw)
    assert coded.bits.shape == (96, 128, 3) and coded.bits.min() > 0
    assert abs(coded.bits.sum() / 8 - coded.coder_bytes) <= CODER_SLACK_BYTES
    assert coded.coder_bytes == len(coded.payload) - 12 - 3  # header, one flag byte per plane


def test_frame_costs_leave_the_payload_and_sum_to_the_coder_output() -> None:
    codec = FramesCodec(VIDEO_MODEL)
    frames = cisco_crop(3)
    frames.append([plane.copy() for plane in frames[-1]])  # a repeated frame: STATIC
    raw = frames_to_block(frames, 8)
    coded = codec.encode_with_costs(raw)
    assert coded.payload == codec.encode_block(raw)
    assert [[p.shape for p in f.planes] for f in coded.frames] == [
        [(48, 64), (24, 32), (24, 32)]
    ] * 4
    total = sum(frame.total_bits for frame in coded.frames)
    assert abs(total / 8 - coded.coder_bytes) <= CODER_SLACK_BYTES
    static = coded.frames[3]
    assert static.mode == STATIC and all(not p.any() for p in static.planes)
    assert 0 < static.side_bits < 8  # the mode alone
    assert coded.frames[0].side_bits == 0  # frame 0 has no mode


# ------------------------------------------------------------------------------ the reports


def test_image_report_totals_and_the_real_archive(
    files: dict[str, Path], image_report: Report
) -> None:
    file = image_report.files[0]
    media = file.media
    assert isinstance(media, MediaReport) and media.kind == "image"
    assert (media.width, media.height, len(media.plane_shapes)) == (128, 96, 3)
    model = media.models[0]
    assert model.name == MODEL and model.path == "pixels"
    assert model.bits.shape == (96, 128, 3)
    assert abs(model.cross_entropy_bits / 8 - model.coder_bytes) <= CODER_SLACK_BYTES
    # The archive explained is the packer's own (recording changes no byte).
    data = files["png"].read_bytes()
    assert model.packed_bytes == model.archive_bytes == len(api.compress(data, level=LEVEL))
    facts = media.to_json()["models"][0]
    assert facts["bits_per_pixel"] == pytest.approx(model.bits.sum() / (96 * 128))
    assert facts["bits_per_subpixel"] == pytest.approx(model.bits.sum() / (96 * 128 * 3))
    rivals = {r.key: r.size_bytes for r in media.rivals}
    assert rivals["png"] == len(data) and rivals["webp"] is not None
    assert file.pixels[MODEL].bits_per_pixel == pytest.approx(facts["bits_per_pixel"])


def test_heat_map_has_the_image_size_and_the_reported_mean(image_report: Report) -> None:
    media = image_report.files[0].media
    per_pixel = PixelCosts(media.models[0].bits).per_pixel()
    png, layout = heat_map_png(per_pixel, media.display)
    heat = Image.open(io.BytesIO(png)).crop(layout.heat_box)
    assert heat.size == (128, 96)
    assert layout.mean_bits == pytest.approx(media.to_json()["models"][0]["bits_per_pixel"])
    drawn = media.heat_maps(media.models[0])
    assert len(drawn) == 1 and Image.open(io.BytesIO(drawn[0][1])).size[1] >= 96


def test_video_report_bits_per_frame(files: dict[str, Path], video_report: Report) -> None:
    media = video_report.files[0].media
    assert isinstance(media, MediaReport) and media.kind == "video"
    assert media.frame_count == 4 and media.plane_shapes == [(48, 64), (24, 32), (24, 32)]
    model = media.models[0]
    assert len(model.frames) == 4
    assert abs(model.cross_entropy_bits / 8 - model.coder_bytes) <= CODER_SLACK_BYTES
    data = files["y4m"].read_bytes()
    assert model.packed_bytes == len(api.compress(data, level=LEVEL))
    frames = media.to_json()["models"][0]["frames"]
    assert sum(f["bits"] for f in frames) == pytest.approx(model.cross_entropy_bits)
    assert frames[0]["mode"] == "intra" and frames[0]["side_bits"] == 0
    assert media.frames_shown == [0, 3]
    captions = [caption for caption, _ in media.heat_maps(model)]
    assert captions == [f"{VIDEO_MODEL}: frame 0, bits per pixel (all planes)",
                        f"{VIDEO_MODEL}: frame 3, bits per pixel (all planes)"]  # fmt: skip


def test_page_is_self_contained(image_report: Report, video_report: Report, tmp_path: Path) -> None:
    page = render_html(Report(LEVEL, image_report.version, image_report.files + video_report.files))
    assert "http://" not in page and "https://" not in page
    # limits chart + one heat map (image); limits chart + frames chart + two heat maps (video)
    assert page.count('src="data:image/png;base64,') == 2 + 4
    chromium = find_chromium()
    if chromium is None:
        return  # the browser check runs where Chromium is installed (tests/test_explain.py)
    target = tmp_path / "media.html"
    target.write_text(page, encoding="utf-8")
    try:
        with Browser(chromium) as browser:
            browser.load(target.as_uri())
            assert browser.errors() == []
            assert all(url.startswith(("file:", "data:")) for url in browser.requested_urls())
            browser.screenshot(tmp_path / "media.png")
    except BrowserUnavailable:
        return


# ------------------------------------------------------------------------------ the command line


def test_cli_json_and_page(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    status = main([str(files["png"]), "--level", str(LEVEL), "--model", MODEL, "--tools", "none",
                   "--json", "-q", "-o", str(page), "--per-channel"])  # fmt: skip
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    media = report["files"][0]["media"]
    assert media["kind"] == "image" and media["limits"]["rivals"] == []
    model = media["models"][0]
    assert model["name"] == MODEL and model["path"] == "pixels"
    assert model["bits_per_pixel"] == pytest.approx(8 * model["cross_entropy_bytes"] / (96 * 128))
    overhead = model["overhead"]
    split = (model["cross_entropy_bytes"] + overhead["coder_bytes"] + overhead["codec_side_bytes"]
             + overhead["fallback_bytes"] + overhead["container_bytes"])  # fmt: skip
    assert split == pytest.approx(model["archive_bytes"])
    assert overhead["fallback_blocks"] == 0 and overhead["codec_side_bytes"] == 12 + 3
    assert set(model["plane_bits_per_sample"]) == {"R", "G", "B"}
    assert report["files"][0]["pixels"][MODEL]["bits_per_pixel"] == model["bits_per_pixel"]
    html_text = page.read_text(encoding="utf-8")
    assert html_text.count("data:image/png;base64,") == 1 + 4  # chart, whole pixel, R, G, B


def test_tiny_image_keeps_the_byte_path_and_is_still_explained() -> None:
    """A 128×1 strip: the packer never models it (too small) and keeps the byte path."""
    thin = CORPUS / "images" / "misc" / "thin_128x1_rgb_hopper_row64.png"
    media = explain(thin, level=LEVEL, models=[MODEL], tools=()).files[0].media
    model = media.models[0]
    assert model.bits.shape == (1, 128, 3)
    assert abs(model.cross_entropy_bits / 8 - model.coder_bytes) <= CODER_SLACK_BYTES
    assert model.path == "bytes" and model.packed_bytes == len(
        api.compress(thin.read_bytes(), level=LEVEL)
    )
    assert model.packed_bytes < model.archive_bytes  # the pixel path's archive, explained


def test_cli_errors(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(files["y4m"]), "--frames-shown", "one", "-q"]) == 1
    assert "--frames-shown" in capsys.readouterr().err
    assert main([str(files["png"]), "--tools", "gif", "-q"]) == 1
    assert "unknown classic tool 'gif'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.png"), "-q"]) == 1
    assert "cannot read" in capsys.readouterr().err
