"""Round-trip every bench image through whole archives, under both promises.

    .venv/bin/python scripts/verify_image_archives.py [FOLDER ...]   (default: bench/images/*)

Default promise: unpack must give back the file's bytes. ``--pixels`` promise: unpack must give
a file with the same pixels (``imaging.raster.same_pixels``), or, for files the pixel path does
not take (JPEG, animated GIF ...), the same bytes. Prints one line per image (path taken, sizes)
and exits 1 on any failure.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mmcompress.api import Compressor, list_archive
from mmcompress.imaging.raster import same_pixels

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "images"


def _taken(blob: bytes, folder: Path) -> str:
    probe = folder / "probe.mmc"
    probe.write_bytes(blob)
    return list_archive(probe).entries[0].path_taken


def main(argv: list[str]) -> int:
    import tempfile

    folders = [Path(a) for a in argv] or sorted(p for p in CORPUS.iterdir() if p.is_dir())
    exact, pixels = Compressor(), Compressor(pixels=True)
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in (".md", ".txt", ".tsv"):
                    continue
                data = path.read_bytes()
                started = time.perf_counter()
                blob = exact.compress(data, name=path.name)
                ok_exact = exact.decompress(blob) == data
                blob_px = pixels.compress(data, name=path.name)
                back = pixels.decompress(blob_px)
                taken_px = _taken(blob_px, Path(scratch))
                ok_px = back == data if taken_px == "bytes" else same_pixels(data, back)
                failures += not (ok_exact and ok_px)
                print(
                    f"{'ok ' if ok_exact and ok_px else 'BAD'} {folder.name}/{path.name}: "
                    f"default {_taken(blob, Path(scratch))} {len(blob)} B, "
                    f"--pixels {taken_px} {len(blob_px)} B (file {len(data)} B, "
                    f"{time.perf_counter() - started:.1f} s)",
                    flush=True,
                )
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
