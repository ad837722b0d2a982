"""Measure deflate replay on PNG files: recipe size against the IDAT stream, describe / replay time.

    .venv/bin/python scripts/measure_deflate_replay.py ../shared/corpus/bench/images/kodak/*.png

For each PNG: its zlib header, the deflate stream's size, the replay recipe's size (what the
pixel path stores instead of the stream when no zlib setting reproduces it), and the seconds
``describe`` (which includes a verifying replay) and ``replay`` take in this process (numba
kernels compile, or load from their cache, on first use). Every replay is compared with the
stream; exit status 1 if one differs or cannot be described.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mmcompress.imaging import NotRaster
from mmcompress.imaging.deflatereplay import describe, replay
from mmcompress.imaging.pngrecipe import ZLIB_HEADER_BYTES, inflate_zlib, parse_png


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    failures = 0
    totals = [0, 0, 0.0, 0.0]
    print(f"{'file':28} {'zlib':4} {'stream B':>10} {'recipe B':>9} {'%':>6} {'describe s':>10} "
          f"{'replay s':>8}")  # fmt: skip
    for path in args.files:
        try:
            png = parse_png(path.read_bytes())
            zlib_header, raw, length, _ = inflate_zlib(png.zdata, png.image_data_bytes())
            stream = png.zdata[ZLIB_HEADER_BYTES : ZLIB_HEADER_BYTES + length]
            started = time.perf_counter()
            recipe = describe(stream, raw)
            described = time.perf_counter() - started
        except NotRaster as exc:
            print(f"{path.name:28} not described: {exc}")
            failures += 1
            continue
        started = time.perf_counter()
        same = replay(recipe, raw) == stream
        replayed = time.perf_counter() - started
        failures += not same
        for index, value in enumerate((len(stream), len(recipe), described, replayed)):
            totals[index] += value
        print(f"{path.name:28} {zlib_header.hex():4} {len(stream):>10,} {len(recipe):>9,} "
              f"{100 * len(recipe) / len(stream):>6.2f} {described:>10.2f} {replayed:>8.2f}"
              + ("" if same else "  REPLAY DIFFERS"))  # fmt: skip
    if totals[0]:
        print(f"{'total':28} {'':4} {totals[0]:>10,} {totals[1]:>9,} "
              f"{100 * totals[1] / totals[0]:>6.2f} {totals[2]:>10.2f} {totals[3]:>8.2f}")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
