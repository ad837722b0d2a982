"""Peak memory of packing and unpacking raw video against the clip's length (issue 5, streaming).

Builds Y4M clips of several lengths from one bench clip's frames in a temporary folder, then runs
``mmcompress pack`` and ``mmcompress unpack`` on each in a fresh process under
``/usr/bin/time -v`` and prints one Markdown row per clip: frames, file size, archive size, wall
seconds and peak RSS of each command, and whether the round trip is identical (``cmp``).

    .venv/bin/python scripts/measure_video_memory.py ../shared/corpus/bench/video/raw/chaplin_640x360_6f.y4m \\
        --lengths 48,192,768 --content static

``--content static`` repeats the first frame (every block after its first frame is an exact
copy: fast, and the memory a clip's reading and writing take shows plainly); ``cycle`` plays the
clip's frames forwards and backwards (real motion, ~5 s per megapixel on 2 cores).
``--ffv1`` writes each clip as FFV1 Matroska instead and packs it with ``--frames`` (the round
trip then compares decoded frames). ``--python`` picks the interpreter and ``--pythonpath`` the checkout the commands import (to compare
versions; the clips are built with this checkout's ``y4m``).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mmcompress.videoio import avframes, y4m


def _frames(clip: Path, count: int, content: str) -> list[list[np.ndarray]]:
    found = y4m.plan(clip.read_bytes())
    frames = [[np.array(plane) for plane in frame] for frame in found.frames]
    if content == "static":
        return [frames[0]] * count
    bounce = frames + frames[-2:0:-1]  # forwards, then backwards (no jump back to frame 0)
    return [bounce[index % len(bounce)] for index in range(count)]


def _timed(python: str, pythonpath: str | None, args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of ``python -m mmcompress ARGS``."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", python, "-m", "mmcompress", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    wall = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"mmcompress {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return wall, int(peak.group(1)) if peak else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, help="a Y4M clip whose frames make the test clips")
    parser.add_argument("--lengths", default="48,192,768", help="frame counts, comma-separated")
    parser.add_argument("--content", choices=("static", "cycle"), default="static")
    parser.add_argument("--ffv1", action="store_true", help="FFV1 Matroska clips, --frames")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pythonpath", help="PYTHONPATH of the measured commands")
    args = parser.parse_args()
    print("| frames | clip bytes | archive bytes | pack s | pack peak MB | unpack s | "
          "unpack peak MB | round trip |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for count in (int(part) for part in args.lengths.split(",")):
            frames = _frames(args.clip, count, args.content)
            clip = Path(folder) / f"clip{count}.{'mkv' if args.ffv1 else 'y4m'}"
            with open(clip, "wb") as sink:
                if args.ffv1:
                    height, width = frames[0][0].shape
                    info = avframes.StreamInfo(width, height, "yuv420p", [25, 1], None, 1, 2, 2, 2)
                    avframes.write_ffv1(info, frames, sink)
                else:
                    y4m.write_to(sink, frames)
            del frames
            archive, back = clip.with_suffix(".mmc"), clip.with_suffix(".out")
            pack = [
                "pack",
                "-q",
                *(["--frames"] if args.ffv1 else []),
                str(clip),
                "-o",
                str(archive),
            ]
            pack_s, pack_kb = _timed(args.python, args.pythonpath, pack)
            unpack_s, unpack_kb = _timed(
                args.python, args.pythonpath, ["unpack", "-q", str(archive), "-o", str(back)]
            )
            if args.ffv1:
                with open(clip, "rb") as first, open(back, "rb") as second:
                    same = avframes.same_frames(first, second)
            else:
                same = filecmp.cmp(clip, back, shallow=False)
            print(
                f"| {count} | {clip.stat().st_size:,} | {archive.stat().st_size:,} | "
                f"{pack_s:.1f} | {pack_kb / 1000:.0f} | {unpack_s:.1f} | {unpack_kb / 1000:.0f} | "
                f"{'identical' if same else 'DIFFERENT'} |",
                flush=True,
            )
            for path in (clip, archive, back):
                path.unlink()


if __name__ == "__main__":
    main()
