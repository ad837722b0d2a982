"""Solid groups against file by file: one folder archive (solid, or every file its own stream)
and single-file archives, with pack/unpack time and a byte-for-byte round-trip check.

    .venv/bin/python scripts/measure_solid.py FOLDER LEVEL [solid] [alone] [single]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from mmcompress.api import Compressor


def _timed(function, *arguments):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function(*arguments)
    return result, time.perf_counter() - started


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, level, modes = Path(argv[0]), int(argv[1]), argv[2:]
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink())
    raw = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for mode in modes:
            compressor = Compressor(level)
            if mode == "single":
                packed = pack_s = unpack_s = 0.0
                for i, path in enumerate(files):
                    report, seconds = _timed(compressor.pack_file, path, tmp / f"{i}.mmc")
                    packed, pack_s = packed + report.output_bytes, pack_s + seconds
                for i in range(len(files)):
                    _, seconds = _timed(compressor.unpack_file, tmp / f"{i}.mmc", tmp / f"{i}.out")
                    unpack_s += seconds
                ok = all(
                    (tmp / f"{i}.out").read_bytes() == p.read_bytes() for i, p in enumerate(files)
                )
            else:
                if mode == "alone":
                    compressor.solid_max_bytes = 0
                archive, out = tmp / f"{mode}.mmc", tmp / f"{mode}.out"
                report, pack_s = _timed(compressor.pack_file, source, archive)
                packed = report.output_bytes
                _, unpack_s = _timed(compressor.unpack_file, archive, out)
                ok = all(
                    (out / p.relative_to(source)).read_bytes() == p.read_bytes() for p in files
                )
            print(
                f"{source.name} -{level} {mode}: {len(files)} files {raw:,} -> {int(packed):,} B "
                f"({8 * packed / raw:.3f} bpb)  pack {raw / 1000 / pack_s:.1f} KB/s  "
                f"unpack {raw / 1000 / unpack_s:.1f} KB/s  round trip {'ok' if ok else 'FAILED'}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
