"""Measure every level's ratio and warm speed on a few bench files (the levels table of BENCHMARKS.md).

    .venv/bin/python scripts/measure_levels.py [--levels 1-8] [FILE...] > levels.md

In-process, numba already compiled (one warm-up call per level), wall-clock seconds, best of 2.
Prints a Markdown table: level, recipe notes, total bits per byte, pack and unpack KB/s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mmcompress
from mmcompress.levels import RECIPES

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
DEFAULT_FILES = [
    CORPUS / "text" / "alice29.txt",
    CORPUS / "text" / "book1",
    CORPUS / "code" / "c" / "zlib" / "deflate.c",
]
REPEAT = 2


def _best_seconds(function, argument) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = function(argument)
        best = min(best, time.perf_counter() - started)
    return best, result


def _levels(text: str) -> list[int]:
    """The levels a spec like 1-8 or 5,9 names."""
    levels: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        levels.extend(range(int(first), int(last or first) + 1))
    return levels


def main(argv: list[str]) -> int:
    levels = list(RECIPES)
    if argv[:1] == ["--levels"]:
        levels, argv = _levels(argv[1]), argv[2:]
    files = [Path(a) for a in argv] or DEFAULT_FILES
    datas = [f.read_bytes() for f in files]
    total_in = sum(len(d) for d in datas)
    print(f"Files: {', '.join(f.name for f in files)} ({total_in:,} bytes)\n")
    print("| level | recipe | bytes | bits/byte | pack KB/s | unpack KB/s |")
    print("|---:|---|---:|---:|---:|---:|")
    for level in levels:
        recipe = RECIPES[level]
        compressor = mmcompress.Compressor(level)
        compressor.compress(b"warm-up " * 1000)  # compile numba kernels, build tables
        pack_s = unpack_s = 0.0
        packed = 0
        for data in datas:
            seconds, blob = _best_seconds(compressor.compress, data)
            pack_s += seconds
            seconds, back = _best_seconds(compressor.decompress, blob)
            unpack_s += seconds
            assert back == data, f"level {level} round trip failed"
            packed += len(blob)
        print(
            f"| {level} | {recipe.notes} | {packed:,} | {8 * packed / total_in:.3f} | "
            f"{total_in / 1000 / pack_s:.0f} | {total_in / 1000 / unpack_s:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
