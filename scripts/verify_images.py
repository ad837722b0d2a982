"""Sweep every bench image through the image serializer and report which path each one takes.

For each file under ../shared/corpus/bench/images: the byte-exact plan (byte-exact, or the reason it
takes the byte path), its plan and rebuild seconds per megapixel, and the pixel-exact plan's round
trip (Pillow decodes the rebuilt PNG to the same pixels and mode). Times are CPU seconds of this
process (numba kernels are compiled, or loaded from cache, on first use). Exit status 1 if any round
trip fails. Usage: .venv/bin/python scripts/verify_images.py [--folder kodak] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from mmcompress.imaging import NotRaster, plan_exact, plan_pixels, rebuild

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench" / "images"


def verify(path: Path) -> dict[str, object]:
    data = path.read_bytes()
    row: dict[str, object] = {"file": f"{path.parent.name}/{path.name}", "bytes": len(data)}
    # CPU seconds of this process: the wall clock on a shared machine says more about the neighbours.
    started = time.process_time()
    try:
        plan = plan_exact(data)
    except NotRaster as exc:
        row.update(path="byte path", reason=str(exc), plan_s=time.process_time() - started)
    else:
        plan_seconds = time.process_time() - started
        started = time.process_time()
        same = rebuild(plan.header, plan.pixels) == data
        megapixels = plan.pixels.shape[0] * plan.pixels.shape[1] / 1e6
        row.update(
            path=plan.path if same else "FAILED",
            header_bytes=len(plan.header),
            megapixels=megapixels,
            plan_s_per_mp=plan_seconds / megapixels,
            rebuild_s_per_mp=(time.process_time() - started) / megapixels,
        )
    started = time.process_time()
    try:
        pixel_plan = plan_pixels(data)
    except NotRaster as exc:
        row["pixels"] = f"byte path ({exc})"
        return row
    pixel_seconds = time.process_time() - started
    out = rebuild(pixel_plan.header, pixel_plan.pixels)
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(out))
    same_pixels = (
        before.mode == after.mode
        and np.array_equal(np.array(before), np.array(after))
        and before.getpalette() == after.getpalette()
        and np.array_equal(plan_pixels(out).pixels, pixel_plan.pixels)
    )
    megapixels = pixel_plan.pixels.shape[0] * pixel_plan.pixels.shape[1] / 1e6
    row["pixels"] = "pixel-exact" if same_pixels else "FAILED"
    row["pixels_plan_s_per_mp"] = pixel_seconds / megapixels
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="only this folder of the bench images")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    files = sorted(
        path
        for path in IMAGES.glob("*/*")
        if path.suffix.lower() not in (".md", ".txt")
        and (not args.folder or path.parent.name == args.folder)
    )
    rows = []
    for path in files:
        row = verify(path)
        rows.append(row)
        timing = (
            f"plan {row['plan_s_per_mp']:.2f} s/MP, rebuild {row['rebuild_s_per_mp']:.2f} s/MP"
            if "plan_s_per_mp" in row
            else f"({row.get('reason')}, {row.get('plan_s', 0):.2f} s)"
        )
        print(f"{row['file']:<72} {row['path']:<10} {timing} | pixels: {row['pixels']}", flush=True)
    print()
    folders = sorted({str(row["file"]).split("/")[0] for row in rows})
    for folder in folders:
        in_folder = [row for row in rows if str(row["file"]).startswith(folder + "/")]
        counts = Counter(str(row["path"]) for row in in_folder)
        exact = [row for row in in_folder if "plan_s_per_mp" in row]
        speed = ""
        if exact:
            plan_rate = sum(float(row["plan_s_per_mp"]) * float(row["megapixels"]) for row in exact)
            rebuild_rate = sum(
                float(row["rebuild_s_per_mp"]) * float(row["megapixels"]) for row in exact
            )
            total_mp = sum(float(row["megapixels"]) for row in exact)
            speed = f"; byte-exact plan {plan_rate / total_mp:.2f} s/MP, rebuild {rebuild_rate / total_mp:.2f} s/MP"
        pixel_ok = sum(row["pixels"] == "pixel-exact" for row in in_folder)
        print(f"{folder}: {dict(counts)} of {len(in_folder)}; pixel-exact {pixel_ok}{speed}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    failed = [row for row in rows if row["path"] == "FAILED" or row["pixels"] == "FAILED"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
