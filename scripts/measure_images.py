"""Measure the pixel codec on the bench photos: bits per pixel vs JPEG XL e7, seconds per megapixel.

    .venv/bin/python scripts/measure_images.py [--model models/pixel-s-XXXX.safetensors]
        [--sets kodak waterloo imagecompression] [--limit N] [--no-decode] [--no-bias-correction]

bpp = payload bytes × 8 / (W × H) (the 12-byte block header included). Every image is decoded
again and compared with the input unless ``--no-decode``. The JPEG XL e7 figure of each file is
read from the per-image tables of ../shared/corpus/BASELINES.md. Pixels are read with Pillow:
RGB / RGBA / L / LA as 8-bit, I;16 as 16-bit, palette images whose palette is grey as L (as
BASELINES.md did for JXL), other palette images as RGB.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mmcompress.predictors.pixel import PixelCodec, pixels_to_block  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def read_pixels(path: Path) -> tuple[np.ndarray, int]:
    with Image.open(path) as image:
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image).astype(np.uint16)
            return array[:, :, None], 16
        if image.mode == "P":
            palette = np.asarray(image.convert("RGB"))
            grey = (palette[..., 0] == palette[..., 1]).all() and (
                palette[..., 1] == palette[..., 2]
            ).all()
            image = image.convert("L" if grey else "RGB")
        elif image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGB")
        array = np.asarray(image)
    return (array if array.ndim == 3 else array[:, :, None]), 8


def jxl_e7_figures() -> dict[str, float]:
    """file name -> JXL e7 bpp from BASELINES.md's per-image tables."""
    figures: dict[str, float] = {}
    text = (CORPUS / "BASELINES.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        match = re.match(
            r"\|\s*([^|]+\.png)\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|", line
        )
        if match:
            try:
                figures[match.group(1).strip()] = float(match.group(6))
            except ValueError:
                continue
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--sets", nargs="+", default=["kodak", "waterloo", "imagecompression"])
    parser.add_argument("--limit", type=int, default=0, help="first N images of each set")
    parser.add_argument("--no-decode", action="store_true")
    parser.add_argument("--no-bias-correction", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (GEMMs)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    bias = not args.no_bias_correction
    codec = (
        PixelCodec.from_file(args.model, bias_correction=bias)
        if args.model
        else PixelCodec(bias_correction=bias)
    )
    print(
        f"model {codec.name} sha256 {codec.sha256[:16]} bias_correction {bias} threads {args.threads}"
    )
    jxl = jxl_e7_figures()
    for name in args.sets:
        files = sorted((CORPUS / "bench" / "images" / name).glob("*.png"))
        if args.limit:
            files = files[: args.limit]
        rows = []
        for path in files:
            pixels, bits = read_pixels(path)
            raw = pixels_to_block(pixels, bits)
            megapixels = pixels.shape[0] * pixels.shape[1] / 1e6
            start, cpu = time.perf_counter(), time.process_time()
            payload = codec.encode_block(raw)
            encode_s, encode_cpu = time.perf_counter() - start, time.process_time() - cpu
            decode_s = decode_cpu = float("nan")
            if not args.no_decode:
                start, cpu = time.perf_counter(), time.process_time()
                back = codec.decode_block(payload, len(raw))
                decode_s, decode_cpu = time.perf_counter() - start, time.process_time() - cpu
                if back != raw:
                    print(f"ROUND TRIP FAILED: {path.name}")
                    return 1
            bpp = len(payload) * 8 / (pixels.shape[0] * pixels.shape[1])
            reference = jxl.get(path.name, float("nan"))
            rows.append((bpp, reference, encode_s / megapixels, decode_s / megapixels,
                         encode_cpu / megapixels, decode_cpu / megapixels))  # fmt: skip
            print(f"{name:16s} {path.name:50s} {pixels.shape[1]}x{pixels.shape[0]}x{pixels.shape[2]}"
                  f"/{bits:2d}  bpp {bpp:7.3f}  jxl-e7 {reference:7.3f}  ratio {bpp / reference:5.3f}"
                  f"  enc {encode_s / megapixels:5.2f} s/MP (cpu {encode_cpu / megapixels:5.2f})"
                  f"  dec {decode_s / megapixels:5.2f} s/MP (cpu {decode_cpu / megapixels:5.2f})",
                  flush=True)  # fmt: skip
        table = np.array(rows)
        print(f"== {name}: {len(rows)} images  mean bpp {table[:, 0].mean():.3f}  "
              f"jxl-e7 mean {np.nanmean(table[:, 1]):.3f}  "
              f"ratio of means {table[:, 0].mean() / np.nanmean(table[:, 1]):.3f}  "
              f"wall enc {table[:, 2].mean():.2f} dec {np.nanmean(table[:, 3]):.2f} s/MP  "
              f"cpu enc {table[:, 4].mean():.2f} dec {np.nanmean(table[:, 5]):.2f} s/MP", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
