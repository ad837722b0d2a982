"""Round-trip every file of a corpus through the CLI, one by one and as one folder archive.

    .venv/bin/python scripts/verify_corpus.py ../shared/corpus/bench [--level N] [--json OUT]

For each file: `mmcompress pack -c FILE | mmcompress unpack -c -` must give back the exact bytes,
and the archive must not exceed zstd -19 (the CLI, as in BASELINES.md) plus 128 bytes. Then the
whole folder is packed into one archive, unpacked and compared tree-wise. Prints one line per
failure and a summary; exit 1 on any failure. Outputs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ZSTD_SLACK_BYTES = 128


def zstd19_size(path: Path) -> int:
    if shutil.which("zstd"):
        out = subprocess.run(
            ["zstd", "-19", "-c", "-q", "-T1", str(path)], capture_output=True, check=True
        )
        return len(out.stdout)
    import zstandard

    return len(zstandard.ZstdCompressor(level=19, write_checksum=True).compress(path.read_bytes()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--level", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    cli = [str(Path(sys.executable).with_name("mmcompress"))]
    level = [f"-{args.level}"] if args.level else []
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file())
    failures: list[str] = []
    rows = []
    started = time.time()
    for path in files:
        packed = subprocess.run([*cli, "pack", "-c", *level, str(path)], capture_output=True)
        if packed.returncode != 0:
            failures.append(f"{path}: pack failed: {packed.stderr.decode().strip()}")
            continue
        unpacked = subprocess.run(
            [*cli, "unpack", "-c", "-"], input=packed.stdout, capture_output=True
        )
        same = unpacked.returncode == 0 and unpacked.stdout == path.read_bytes()
        zstd = zstd19_size(path)
        rows.append(
            {
                "file": str(path),
                "size": path.stat().st_size,
                "packed": len(packed.stdout),
                "zstd19": zstd,
                "round_trip": same,
            }
        )
        if not same:
            failures.append(f"{path}: round trip differs")
        if len(packed.stdout) > zstd + ZSTD_SLACK_BYTES:
            failures.append(
                f"{path}: {len(packed.stdout)} bytes > zstd -19 {zstd} + {ZSTD_SLACK_BYTES}"
            )
    with tempfile.TemporaryDirectory() as temp:
        archive = Path(temp) / "corpus.mmc"
        restored = Path(temp) / "restored"
        folder_ok = (
            subprocess.run(
                [*cli, "pack", *level, "-q", str(args.corpus), "-o", str(archive)]
            ).returncode
            == 0
            and subprocess.run([*cli, "unpack", "-q", str(archive), "-o", str(restored)]).returncode
            == 0
        )
        folder_ok = folder_ok and _same_tree(args.corpus, restored)
        folder_bytes = archive.stat().st_size if archive.exists() else 0
    if not folder_ok:
        failures.append("folder archive round trip failed")
    summary = {
        "files": len(files),
        "round_trips_ok": sum(r["round_trip"] for r in rows),
        "bytes_in": sum(r["size"] for r in rows),
        "bytes_packed_one_by_one": sum(r["packed"] for r in rows),
        "bytes_zstd19_one_by_one": sum(r["zstd19"] for r in rows),
        "folder_archive_bytes": folder_bytes,
        "folder_round_trip": folder_ok,
        "worst_excess_over_zstd19": max((r["packed"] - r["zstd19"] for r in rows), default=0),
        "seconds": round(time.time() - started, 1),
        "failures": failures,
    }
    for line in failures:
        print(line, file=sys.stderr)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "files": rows}, indent=1))
    return 1 if failures else 0


def _same_tree(left: Path, right: Path) -> bool:
    comparison = filecmp.dircmp(left, right)
    if comparison.left_only or comparison.right_only or comparison.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(_same_tree(left / sub, right / sub) for sub in comparison.common_dirs)


if __name__ == "__main__":
    sys.exit(main())
