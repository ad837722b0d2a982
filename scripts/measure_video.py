"""Measure the video path end to end on the bench clips: archive size, bits per pixel, time.

    .venv/bin/python scripts/measure_video.py [--level 5] [--clips a.y4m b.y4m ...] [--frames]
        [--out bench-out/video.json]

For each raw clip of ../shared/corpus/bench/video/raw: a single-file archive through the API
(`Compressor.pack_file`, the same code as `mmcompress pack`), unpacked and compared byte for byte.
With ``--frames``, the FFV1 Matroska clips of ../shared/corpus/bench/video/ffv1 are packed with the
``--frames`` promise too, and the rebuilt file is checked to decode to the same frames.
bpp = 8 x archive bytes / (W x H x frames): bits per luma pixel, chroma included, as the corpus
README's baseline table (FFV1, x264 qp0, x265, xz) defines it. Prints a Markdown table and
writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "corpus" / "bench" / "video"
sys.path.insert(0, str(ROOT))

from mmcompress.api import Compressor  # noqa: E402
from mmcompress.videoio import avframes, y4m  # noqa: E402


def baselines() -> dict[str, dict[str, int]]:
    """Baseline sizes of each raw clip from the corpus README ('Baseline sizes to beat')."""
    table: dict[str, dict[str, int]] = {}
    text = (VIDEO / "raw" / "README.md").read_text()
    part = text[text.index("Baseline sizes to beat") :]
    for line in part.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[0].startswith("`"):
            continue
        sizes = [re.match(r"(\d+)", cell) for cell in cells[1:5]]
        names = ("ffv1", "x264", "x265", "xz")
        table[cells[0].strip("`")] = {
            name: int(found.group(1)) for name, found in zip(names, sizes, strict=True) if found
        }
    return table


def luma_pixels(data: bytes) -> tuple[int, int]:
    found = y4m.plan(data)
    height, width = found.frames[0][0].shape
    return width * height * len(found.frames), len(found.frames)


@dataclass
class Result:
    bytes: int
    pack_s: float
    unpack_s: float
    coding: str


@dataclass
class Row:
    clip: str
    frames: int
    pixels: int
    raw_bytes: int
    baseline: dict[str, int]
    exact: Result
    decoded: Result | None = None

    def bpp(self, size: int | None) -> str:
        return f"{8 * size / self.pixels:.3f}" if size else "n/a"


def measure(packer: Compressor, path: Path, frames_promise: bool) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / (path.name + ".mmc")
        out = Path(folder) / path.name
        started = time.perf_counter()
        packer.pack_file(path, archive)
        packed = time.perf_counter() - started
        started = time.perf_counter()
        packer.unpack_file(archive, out)
        unpacked = time.perf_counter() - started
        original, rebuilt = path.read_bytes(), out.read_bytes()
        same = avframes.same_frames(original, rebuilt) if frames_promise else original == rebuilt
        if not same:
            raise SystemExit(f"{path.name}: round trip failed")
        taken = packer.list_archive(archive).entries[0].path_taken
        return Result(archive.stat().st_size, packed, unpacked, taken)


def plot(rows: list[Row], path: Path) -> None:
    """Bars of bits per luma pixel per clip: mmcompress, FFV1, x264 qp0 veryslow, xz -9e."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("mmcompress", None), ("FFV1", "ffv1"), ("x264 qp0", "x264"), ("xz -9e", "xz")]
    figure, axes = plt.subplots(figsize=(10, 4), dpi=100)
    width = 0.8 / len(series)
    for index, (label, key) in enumerate(series):
        values = [
            8 * (row.exact.bytes if key is None else row.baseline.get(key, 0)) / row.pixels
            for row in rows
        ]
        positions = [i + (index - 1.5) * width for i in range(len(rows))]
        axes.bar(positions, values, width, label=label)
    axes.set_xticks(range(len(rows)))
    axes.set_xticklabels(
        [re.sub(r"_\d+f\.y4m$", "", row.clip) for row in rows], rotation=25, ha="right"
    )
    axes.set_ylabel("bits per luma pixel")
    axes.set_title("bench/video/raw: lossless size per clip (lower is better)")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--level", type=int, default=5)
    parser.add_argument("--clips", nargs="*", help="raw clip names (default: all)")
    parser.add_argument("--frames", action="store_true", help="also the FFV1 clips, --frames")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "video.json")
    parser.add_argument("--plot", type=Path, help="also draw bits per pixel per clip (PNG)")
    parser.add_argument("--from-json", type=Path, help="report an earlier run's JSON, no packing")
    args = parser.parse_args(argv)
    base = baselines()
    clips = sorted((VIDEO / "raw").glob("*.y4m"))
    if args.clips:
        clips = [clip for clip in clips if clip.name in args.clips]
    rows: list[Row] = []
    if args.from_json is not None:
        clips = []
        for saved in json.loads(args.from_json.read_text())["rows"]:
            decoded_row = saved.pop("decoded")
            row = Row(**{**saved, "exact": Result(**saved["exact"])})
            row.decoded = Result(**decoded_row) if decoded_row else None
            rows.append(row)
    exact = Compressor(args.level)
    decoded = Compressor(args.level, frames=True)
    for clip in clips:
        pixels, count = luma_pixels(clip.read_bytes())
        row = Row(clip.name, count, pixels, clip.stat().st_size, base.get(clip.name, {}),
                  measure(exact, clip, False))  # fmt: skip
        mkv = VIDEO / "ffv1" / (clip.stem + ".mkv")
        if args.frames and mkv.is_file():
            row.decoded = measure(decoded, mkv, True)
        rows.append(row)
        print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
    if args.from_json is None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"level": args.level, "rows": [asdict(r) for r in rows]}, indent=1)
        )
    if args.plot is not None:
        plot(rows, args.plot)
    print(
        "| clip | frames | mmcompress bytes (bpp) | FFV1 (bpp) | x264 qp0 (bpp) | xz -9e (bpp) "
        "| mmc / FFV1 | mmc / x264 | pack s/MP | unpack s/MP |"
        + (" --frames bytes (bpp) |" if args.frames else "")
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if args.frames else ""))
    totals = {"mmc": 0, "ffv1": 0, "x264": 0}
    for row in rows:
        size, ffv1, x264 = row.exact.bytes, row.baseline.get("ffv1"), row.baseline.get("x264")
        megapixels = row.pixels / 1e6
        cells = [
            f"`{row.clip}`",
            str(row.frames),
            f"{size:,} ({row.bpp(size)})",
            f"{ffv1:,} ({row.bpp(ffv1)})" if ffv1 else "n/a",
            f"{x264:,} ({row.bpp(x264)})" if x264 else "n/a",
            f"{row.baseline['xz']:,} ({row.bpp(row.baseline['xz'])})"
            if "xz" in row.baseline
            else "n/a",
            f"{size / ffv1:.3f}" if ffv1 else "n/a",
            f"{size / x264:.3f}" if x264 else "n/a",
            f"{row.exact.pack_s / megapixels:.2f}",
            f"{row.exact.unpack_s / megapixels:.2f}",
        ]
        if args.frames:
            cells.append(
                f"{row.decoded.bytes:,} ({row.bpp(row.decoded.bytes)})" if row.decoded else "n/a"
            )
        print("| " + " | ".join(cells) + " |")
        if ffv1 and x264:
            totals["mmc"] += size
            totals["ffv1"] += ffv1
            totals["x264"] += x264
    if totals["ffv1"]:
        print(
            f"\nClips with both baselines: mmcompress {totals['mmc']:,} B, FFV1 {totals['ffv1']:,} B "
            f"({totals['mmc'] / totals['ffv1']:.3f} x), x264 qp0 veryslow {totals['x264']:,} B "
            f"({totals['mmc'] / totals['x264']:.3f} x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
