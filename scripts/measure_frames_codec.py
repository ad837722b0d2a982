"""Measure the video block codec (kind "frames") on the raw bench clips: bits per luma pixel.

    nice .venv/bin/python scripts/measure_frames_codec.py [--intra] [--frames N] [CLIP ...]

For each clip (default: the six named in issue 5's brief) all frames (or the first N) go into ONE
frame block (temporal prediction), or with ``--intra`` each frame into its own block (what the
temporal path gains). Prints bytes, bits per luma pixel (8 × bytes / (W × H × frames)), encode
and decode seconds per megapixel of luma, and checks the round trip. The FFV1 / x264 figures to
compare with are in ../shared/corpus/bench/video/raw/README.md. Reads the corpus, writes nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from mmcompress.predictors.frames import FramesCodec, frames_to_block
from mmcompress.videoio import y4m

RAW = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "video" / "raw"
DEFAULT_CLIPS = [
    ("cisco_vt2people_320x192_9f.y4m", None),
    ("chaplin_640x360_6f.y4m", None),
    ("screen_pdf_1024x768_5f.y4m", None),
    ("bikes_640x272_12f.y4m", None),
    ("carphone_176x144_60f.y4m", 30),
    ("sparks_480x270_10bit_5f.y4m", None),
]


def read_y4m(path: Path, max_frames: int | None = None) -> tuple[list[list[np.ndarray]], int]:
    """The first ``max_frames`` frames (all: None) of a Y4M clip, and its bits per sample."""
    found = y4m.plan(path.read_bytes())
    return found.frames[:max_frames], found.bits


def measure(codec: FramesCodec, name: str, max_frames: int | None, intra: bool) -> None:
    frames, bits = read_y4m(RAW / name, max_frames)
    height, width = frames[0][0].shape
    groups = [[frame] for frame in frames] if intra else [frames]
    size, encode_s, decode_s = 0, 0.0, 0.0
    for group in groups:
        raw = frames_to_block(group, bits)
        start = time.perf_counter()
        payload = codec.encode_block(raw)
        encode_s += time.perf_counter() - start
        start = time.perf_counter()
        back = codec.decode_block(payload, len(raw))
        decode_s += time.perf_counter() - start
        if back != raw:
            raise SystemExit(f"{name}: ROUND TRIP FAILED")
        size += len(payload)
    megapixels = width * height * len(frames) / 1e6
    print(
        f"{name:36s} {'intra' if intra else 'one-block':9s} frames {len(frames):3d} "
        f"bytes {size:9d} bpp {8 * size / (width * height * len(frames)):6.3f} "
        f"enc {encode_s / megapixels:6.2f} s/MP dec {decode_s / megapixels:6.2f} s/MP",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", help="clip file names in the raw bench folder")
    parser.add_argument("--intra", action="store_true", help="every frame its own block")
    parser.add_argument("--frames", type=int, default=None, help="first N frames only")
    parser.add_argument("--model", default="pixel-m", help="pixel model name (default pixel-m)")
    args = parser.parse_args()
    codec = FramesCodec(args.model)
    clips = [(c, args.frames) for c in args.clips] or [
        (c, args.frames or n) for c, n in DEFAULT_CLIPS
    ]
    for name, max_frames in clips:
        measure(codec, name, max_frames, args.intra)


if __name__ == "__main__":
    main()
