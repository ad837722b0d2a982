"""Peak memory and speed of ``mmcompress pack --pixels`` / ``unpack`` on a 12-megapixel photo.

Builds a 4000×3000 RGB PNG in /tmp by tiling the Kodak images of the benchmark corpus (read
only; nothing is written next to them), then runs the CLI under ``/usr/bin/time -v`` for pack
and for unpack and prints, for each, the peak RSS (MB) and wall / CPU seconds per megapixel.
Issue 4 asks for a peak RSS of at most 1 GB (1000 MB) for both.

    .venv/bin/python scripts/measure_pixel_memory.py [--width 4000 --height 3000] [--level N]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
KODAK = ROOT.parent / "shared" / "corpus" / "bench" / "images" / "kodak"


def build_image(path: Path, width: int, height: int) -> None:
    """Tile the Kodak photos (landscape ones, 768×512, each used once as far as they go)."""
    tiles = []
    for file in sorted(KODAK.glob("kodim*.png")):
        with Image.open(file) as image:
            array = np.asarray(image.convert("RGB"))
        if array.shape[1] < array.shape[0]:
            array = np.ascontiguousarray(np.rot90(array))
        tiles.append(array)
    if not tiles:
        raise SystemExit(f"no Kodak images in {KODAK}")
    th, tw = tiles[0].shape[:2]
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    index = 0
    for top in range(0, height, th):
        for left in range(0, width, tw):
            tile = tiles[index % len(tiles)]
            index += 1
            h, w = min(th, height - top), min(tw, width - left)
            canvas[top : top + h, left : left + w] = tile[:h, :w]
    Image.fromarray(canvas).save(path, compress_level=6)


def timed(command: list[str]) -> dict[str, float]:
    """Run ``command`` under /usr/bin/time -v: peak RSS (MB), wall and CPU seconds."""
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed: {' '.join(command)}")

    def field(name: str) -> str:
        match = re.search(rf"{re.escape(name)}: (.+)", result.stderr)
        assert match is not None, name
        return match.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return {
        "rss_mb": int(field("Maximum resident set size (kbytes)")) / 1000,
        "wall": wall,
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--level", type=int, default=None, help="pack level (default: the CLI's)")
    args = parser.parse_args()
    cli = str(ROOT / ".venv" / "bin" / "mmcompress")
    megapixels = args.width * args.height / 1e6
    with tempfile.TemporaryDirectory(prefix="mmc-pixel-mem-") as folder:
        image = Path(folder) / "photo.png"
        build_image(image, args.width, args.height)
        archive = Path(folder) / "photo.mmc"
        level = [] if args.level is None else ["--level", str(args.level)]
        runs = {
            "pack": timed([cli, "pack", "--pixels", *level, "-q", "-o", str(archive), str(image)]),
        }
        out = Path(folder) / "out.png"
        runs["unpack"] = timed([cli, "unpack", "-q", "-o", str(out), str(archive)])
        print(f"image {args.width}x{args.height} RGB ({megapixels:.1f} MP), "
              f"PNG {image.stat().st_size / 1e6:.1f} MB, archive {archive.stat().st_size / 1e6:.2f} MB")  # fmt: skip
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        print(f"archive sha256 {digest}")
        for name, run in runs.items():
            print(f"{name:7s} peak RSS {run['rss_mb']:7.1f} MB   wall {run['wall'] / megapixels:6.2f} s/MP"
                  f"   CPU {run['cpu'] / megapixels:6.2f} s/MP   (wall {run['wall']:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
