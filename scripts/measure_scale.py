"""Measure mmcompress on huge inputs (not a test: minutes and gigabytes). Writes docs/SCALE.md figures.

    .venv/bin/python scripts/measure_scale.py --big-gib 5 --files 100000 --work /tmp/mmc-scale

Cases: one big generated file (random chunks mixed with text), a folder of many small files,
and a slice at the default level. Each command runs as a child process; we report its wall time
and the peak resident memory of the largest process it ran (``getrusage(RUSAGE_CHILDREN)``,
which covers worker processes too). Everything is written under ``--work`` and deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "text"
MiB = 1 << 20


def run(label: str, *args: str, cwd: Path) -> dict[str, object]:
    """Run ``mmcompress ARGS`` in a fresh process: wall seconds and peak RSS (MiB)."""
    command = [sys.executable, "-m", "mmcompress", *args]
    code = (
        "import resource, subprocess, sys, time, json;"
        "t = time.perf_counter(); r = subprocess.run(sys.argv[1:]);"
        "s = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(json.dumps({'rc': r.returncode, 'seconds': s, 'peak_mib': u.ru_maxrss / 1024}))"
    )
    # A wrapper process per command, so RUSAGE_CHILDREN sees only this command's processes.
    out = subprocess.run(
        [sys.executable, "-c", code, *command], cwd=cwd, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["label"] = label
    result["command"] = "mmcompress " + " ".join(args)
    print(
        f"{label:34s} rc={result['rc']} {result['seconds']:8.1f} s  peak {result['peak_mib']:7.0f} MiB   "
        f"{result['command']}",
        flush=True,
    )
    if result["rc"] not in (0, 2):
        print(out.stderr, file=sys.stderr)
    return result


def make_big_file(path: Path, size: int) -> None:
    """Random 1 MiB chunks mixed with text (3 of 4 chunks text, at shifting offsets)."""
    text = b"".join(p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.is_file())
    rng = random.Random(7)
    with open(path, "wb") as sink:
        written = 0
        while written < size:
            if rng.random() < 0.25:
                chunk = os.urandom(MiB)
            else:
                start = rng.randrange(0, len(text) - MiB)
                chunk = text[start : start + MiB]
            chunk = chunk[: size - written]
            sink.write(chunk)
            written += len(chunk)


def make_many_files(root: Path, count: int) -> int:
    text = (CORPUS / "alice29.txt").read_bytes()
    rng = random.Random(11)
    total = 0
    for number in range(count):
        folder = root / f"d{number // 1000:03d}"
        if number % 1000 == 0:
            folder.mkdir(parents=True)
        size = rng.randrange(100, 4096)
        start = rng.randrange(0, len(text) - size)
        data = text[start : start + size] if number % 50 else b"same content\n"  # 2% duplicates
        (folder / f"f{number:06d}.txt").write_bytes(data)
        total += len(data)
    return total


def file_size(path: Path) -> int:
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big-gib", type=float, default=5.0)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--slice-mib", type=int, default=16, help="default-level slice")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mmc-scale"))
    parser.add_argument("--skip", action="append", default=[], choices=["big", "many", "slice"])
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    print(f"free on {work}: {shutil.disk_usage(work).free / 2**30:.1f} GiB", flush=True)
    try:
        if "big" not in args.skip:
            size = int(args.big_gib * 2**30)
            started = time.perf_counter()
            make_big_file(work / "big.bin", size)
            print(
                f"generated {size / 2**30:.2f} GiB in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            run("big: pack -1", "pack", "-1", "-q", "big.bin", cwd=work)
            run("big: pack -1 -T 2", "pack", "-1", "-q", "-T", "2", "-f", "big.bin", cwd=work)
            print(f"  archive {file_size(work / 'big.bin.mmc') / 2**30:.3f} GiB", flush=True)
            run("big: list", "list", "big.bin.mmc", cwd=work)
            run("big: unpack", "unpack", "-q", "big.bin.mmc", "-o", "big.out", cwd=work)
            same = subprocess.run(["cmp", "big.bin", "big.out"], cwd=work).returncode == 0
            print(f"  round trip identical: {same}", flush=True)
            for name in ("big.bin", "big.out", "big.bin.mmc"):
                (work / name).unlink()
        if "many" not in args.skip:
            started = time.perf_counter()
            total = make_many_files(work / "many", args.files)
            print(
                f"generated {args.files} files, {total / MiB:.1f} MiB in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            run("many: pack -1 -T 1", "pack", "-1", "-q", "-T", "1", "many", cwd=work)
            run(
                "many: pack -1 -T 2",
                "pack",
                "-1",
                "-q",
                "-T",
                "2",
                "-o",
                "many2.mmc",
                "many",
                cwd=work,
            )
            same = (work / "many.mmc").read_bytes() == (work / "many2.mmc").read_bytes()
            print(
                f"  archive {file_size(work / 'many.mmc') / MiB:.1f} MiB; -T1 == -T2: {same}",
                flush=True,
            )
            run("many: list", "list", "many.mmc", cwd=work)
            run("many: unpack", "unpack", "-q", "many.mmc", "-o", "many.out", cwd=work)
            run(
                "many: unpack --entry (one file)",
                "unpack",
                "-q",
                "--entry",
                f"d{args.files // 2000:03d}/f{args.files // 2 + 1:06d}.txt",
                "many.mmc",
                "-o",
                "one.out",
                cwd=work,
            )
            shutil.rmtree(work / "many.out")
        if "slice" not in args.skip:
            make_big_file(work / "slice.bin", args.slice_mib * MiB)
            run(
                f"slice {args.slice_mib} MiB: pack (default) -T 2",
                "pack",
                "-q",
                "-T",
                "2",
                "slice.bin",
                cwd=work,
            )
            run(
                f"slice {args.slice_mib} MiB: unpack",
                "unpack",
                "-q",
                "slice.bin.mmc",
                "-o",
                "slice.out",
                cwd=work,
            )
            print(f"  archive {file_size(work / 'slice.bin.mmc') / MiB:.2f} MiB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
