"""``mmcompress train --modality image``: train the pixel model, export its integer weights.

    mmcompress train --modality image DIR [DIR...] --out NAME [--minutes M] [--threads T]

1. Every image of the folders (8-bit, read with Pillow, converted to RGB or L) is walked with the
   codec's own pass schedule (:mod:`mmcompress.imaging.passes`) and feature code
   (:func:`~mmcompress.imaging.pixelmodel.compute_features`); a random fraction of the sub-pixels
   becomes the sample set. One image in :data:`VALIDATION_EVERY` (sorted by name) is held out.
2. The float MLP is trained on the discretised-logistic code length (bits), Adam, cosine schedule
   following the clock; the last :data:`QAT_FRACTION` of the time with int8 fake quantisation of
   weights and activations.
3. Export: :func:`~mmcompress.imaging.pixelmodel.quantize`; the integer model then runs over the
   training samples to learn each scale bin's rank histogram, stored (smoothed, integer) as the
   adaptive tables' priors; the file goes to ``models/NAME-<sha8>.safetensors`` with an entry in
   ``models/manifest.json``. Validation bits per sub-pixel are logged for the float model, the
   integer model (ideal code length under the prior tables) and the real codec.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..imaging import pixelmodel as pm
from ..imaging.passes import build_passes, gather_neighbours, gather_pixels
from .data import training_folders

VALIDATION_EVERY = 12
QAT_FRACTION = 0.25
#: Each rank-prior row sums to this (the codec adds OBSERVATION_WEIGHT per coded symbol).
PRIOR_TOTAL = 1 << 16
IMAGE_SUFFIXES = {".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser(prog: str = "mmcompress train --modality image") -> argparse.ArgumentParser:
    """The pixel trainer's options (:mod:`.frames` adds its own for ``--modality video``)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("corpus", nargs="+", type=Path, help="folders of training images")
    parser.add_argument("--modality", default="image", choices=["image", "video"])
    parser.add_argument("--out", required=True, help="model name (models/NAME-<sha8>.safetensors)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--features", type=int, default=pm.FEATURES, help="feature layout size")
    parser.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    parser.add_argument("--sample-fraction", type=float, default=0.12)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--no-export", action="store_true", help="stop after the float validation")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def load_images(folders: list[Path]) -> list[tuple[str, np.ndarray]]:
    """(name, (H, W, C) uint8) for every 8-bit image in the folders, sorted by path."""
    from PIL import Image

    images = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            with Image.open(path) as image:
                mode = "L" if image.mode in ("L", "LA", "1", "I;16") else "RGB"
                array = np.asarray(image.convert(mode))
            images.append((path.name, array if array.ndim == 3 else array[:, :, None]))
    return images


def split_images(
    images: list[tuple[str, np.ndarray]],
) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """(training, validation) images: one in :data:`VALIDATION_EVERY` (by name) is held out."""
    held_out = images[::VALIDATION_EVERY]
    return [im for i, im in enumerate(images) if i % VALIDATION_EVERY], held_out


def image_samples(
    pixels: np.ndarray, fraction: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Features, base and value of a random ``fraction`` of the image's sub-pixels (codec order)."""
    from ..predictors.pixel import _planes_and_maxima, _split_planes

    order, _ = _planes_and_maxima(pixels.shape[2], 8)
    planes = _split_planes(pixels, 8)
    chunks: dict[str, list[np.ndarray]] = {"features": [], "base": [], "value": []}
    for item in build_passes(pixels.shape[0], pixels.shape[1]):
        for r0, r1 in item.chunks():
            neighbours: dict[int, np.ndarray] = {}
            values: dict[int, np.ndarray] = {}
            for slot, plane in enumerate(order):
                neighbours[plane] = gather_neighbours(planes[plane], item, r0, r1)
                values[plane] = gather_pixels(planes[plane], item, r0, r1)
                previous = [
                    (neighbours[order[s]], values[order[s]])
                    for s in range(slot - 1, max(-1, slot - 1 - pm.PREVIOUS_SLOTS), -1)
                ]
                features, base = pm.compute_features(
                    neighbours[plane], previous, item.level, item.kind
                )
                keep = rng.random(base.size) < fraction
                chunks["features"].append(features[keep].astype(np.int16))
                chunks["base"].append(base[keep].astype(np.int16))
                chunks["value"].append(values[plane][keep].astype(np.int16))
    return {key: np.concatenate(parts) for key, parts in chunks.items()}


def collect(
    images: list[tuple[str, np.ndarray]], fraction: float, seed: int
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts = [image_samples(pixels, fraction, rng) for _, pixels in images]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def code_length_bits(output: Any, base: Any, value: Any, maximum: float = 255.0) -> Any:
    """Discretised logistic code length (bits) of ``value`` given (mu, log2 sigma) outputs."""
    import torch

    mean = base + output[:, 0]
    scale = torch.exp2(output[:, 1].clamp(-3.0, 12.0))
    upper = torch.sigmoid((value + 0.5 - mean) / scale)
    lower = torch.sigmoid((value - 0.5 - mean) / scale)
    upper = torch.where(value >= maximum, torch.ones_like(upper), upper)
    lower = torch.where(value <= 0, torch.zeros_like(lower), lower)
    return -torch.log2((upper - lower).clamp(min=1e-9))


def float_bits(model: Any, samples: dict[str, np.ndarray], batch: int = 65536) -> float:
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, samples["base"].size, batch):
            feats = torch.from_numpy(samples["features"][start : start + batch].astype(np.float32))
            base = torch.from_numpy(samples["base"][start : start + batch].astype(np.float32))
            value = torch.from_numpy(samples["value"][start : start + batch].astype(np.float32))
            total += float(code_length_bits(model(feats), base, value).sum())
            count += base.numel()
    return total / max(1, count)


def rank_histograms(int_model: pm.IntPixelModel, samples: dict[str, np.ndarray]) -> np.ndarray:
    """(SCALE_BINS, 256) counts of the ranks the codec would code (without its adaptation)."""
    from ..predictors.pixel import value_to_rank

    one = 1 << pm.PRED_FRAC_BITS
    histogram = np.zeros((pm.SCALE_BINS, 256), dtype=np.int64)
    for start in range(0, samples["base"].size, 1 << 18):
        feats = samples["features"][start : start + (1 << 18)].astype(np.int32)
        base = samples["base"][start : start + (1 << 18)].astype(np.int64)
        value = samples["value"][start : start + (1 << 18)].astype(np.int64)
        mu, bins = int_model.forward(feats)
        prediction = np.clip(base * one + mu, 0, 255 * one)
        predicted = (prediction + one // 2) >> pm.PRED_FRAC_BITS
        ranks = value_to_rank(value, predicted, prediction > predicted * one, 255)
        histogram += np.bincount(bins * 256 + ranks, minlength=pm.SCALE_BINS * 256).reshape(
            pm.SCALE_BINS, 256
        )
    return histogram


def rank_priors(histogram: np.ndarray) -> np.ndarray:
    """Smoothed integer priors: the histogram plus a geometric rank law of the bin's scale."""
    ranks = np.arange(256, dtype=np.float64)
    priors = np.zeros(histogram.shape, dtype=np.int64)
    for scale_bin in range(pm.SCALE_BINS):
        sigma = 2.0 ** ((scale_bin - pm.BIN_OF_UNIT_SCALE) / pm.BINS_PER_OCTAVE)
        law = np.exp(-ranks / (2.0 * max(sigma, 0.25)))
        law /= law.sum()
        observed = histogram[scale_bin].astype(np.float64)
        mixed = observed + 64.0 * law  # 64 pseudo-observations of the parametric law
        mixed /= mixed.sum()
        priors[scale_bin] = np.floor(mixed * PRIOR_TOTAL).astype(np.int64)
    return priors


def ideal_bits(int_model: pm.IntPixelModel, samples: dict[str, np.ndarray]) -> float:
    """Mean code length per sub-pixel under the static prior tables (no adaptation)."""
    from ..intmath import scores_to_freq_table
    from ..predictors.pixel import PRECISION_BITS

    histogram = rank_histograms(int_model, samples)
    tables = scores_to_freq_table(int_model.rank_priors, PRECISION_BITS).astype(np.float64)
    bits = -(histogram * np.log2(tables / (1 << PRECISION_BITS))).sum()
    return float(bits / max(1, histogram.sum()))


def codec_bits_per_subpixel(int_model_path: Path, images: list[tuple[str, np.ndarray]]) -> float:
    from ..predictors.pixel import PixelCodec, pixels_to_block

    codec = PixelCodec.from_file(int_model_path)
    total_bits, subpixels = 0, 0
    for _, pixels in images:
        payload = codec.encode_block(pixels_to_block(pixels, 8))
        total_bits += 8 * len(payload)
        subpixels += pixels.size
    return total_bits / max(1, subpixels)


def train_float_model(model: Any, train: dict[str, np.ndarray], args: argparse.Namespace) -> int:
    """Adam on the code length, cosine lr over ``args.minutes``, QAT in the last QAT_FRACTION.

    Returns the number of steps; the model is left in eval mode with quantisation on.
    """
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    features = torch.from_numpy(train["features"])
    base = torch.from_numpy(train["base"])
    value = torch.from_numpy(train["value"])
    generator = torch.Generator().manual_seed(args.seed)
    budget = args.minutes * 60.0
    start, step, window = time.time(), 0, []
    model.train()
    quantizing = False
    while (elapsed := time.time() - start) < budget:
        progress = elapsed / budget
        if progress > 1.0 - QAT_FRACTION and not quantizing:
            model.set_quantize(True)
            quantizing = True
            log(f"step {step}: quantisation-aware phase")
        lr = args.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = torch.randint(0, base.numel(), (args.batch_size,), generator=generator)
        output = model(features[index].float())
        loss = code_length_bits(output, base[index].float(), value[index].float()).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        window.append(loss.item())
        step += 1
        if step % 500 == 0:
            log(f"step {step} {elapsed:.0f}s lr {lr:.2e} train bits/subpixel {np.mean(window):.4f}")
            window = []
    model.eval()
    model.set_quantize(True)
    return step


def integer_model(
    model: Any, config: pm.PixelModelConfig, train: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], pm.IntPixelModel]:
    """Quantise the float model and learn its rank priors on ``train``: (tensors, model)."""
    tensors = pm.quantize(model)
    tensors["rank_priors"] = np.zeros((pm.SCALE_BINS, 256), dtype=np.int64)
    int_model = pm.IntPixelModel(config, tensors)
    tensors["rank_priors"] = rank_priors(rank_histograms(int_model, train))
    return tensors, pm.IntPixelModel(config, tensors)


def export_model(
    tensors: dict[str, np.ndarray],
    config: pm.PixelModelConfig,
    args: argparse.Namespace,
    argv: list[str],
    steps: int,
    train_seconds: int,
    figures: dict[str, Any],
    codec_bits: Callable[[Path], dict[str, Any]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Write ``NAME-<sha8>.safetensors`` and its manifest entry (``figures`` and what
    ``codec_bits(path)`` measures on the written file are added to it); returns the entry."""
    from ..models import models_dir

    folder = args.models_dir or models_dir()
    info: dict[str, Any] = {"training_data": [str(f) for f in args.corpus], "steps": steps,
                            "train_seconds": train_seconds}  # fmt: skip
    tmp_path = folder / f"{args.out}-tmp.safetensors"
    sha256 = pm.save_int_model(tmp_path, tensors, config, info)
    path = folder / f"{args.out}-{sha256[:8]}.safetensors"
    tmp_path.replace(path)
    figures = dict(figures)
    if codec_bits is not None:
        figures.update(codec_bits(path))
    parameters = sum(int(v.size) for k, v in tensors.items() if k.endswith("weight"))
    record = {
        "kind": "pixel",
        "name": args.out,
        "file": path.name,
        "sha256": sha256,
        "size_bytes": path.stat().st_size,
        "config": {"features": config.features, "hidden": config.hidden},
        "parameters": parameters,
        "precision_bits": 20,
        "predictor_config": {
            "id": "pixel",
            "version": 1,
            "name": args.out,
            "sha256": sha256,
            "bias_correction": True,
        },  # fmt: skip
        "description": f"pixel MLP {config.features}-{config.hidden}-{config.hidden}-2, int8 "
        "integer-exact, adaptive rank tables" + description + "; see models/README.md",
        "command": "mmcompress train " + " ".join(argv),
        "training_data": [str(f) for f in args.corpus],
        "steps": steps,
        "batch_size": args.batch_size,
        "train_seconds": train_seconds,
        **figures,
    }
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"models": []}
    manifest["models"] = [r for r in manifest["models"] if r.get("name") != args.out] + [record]
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"exported {path} (sha256 {sha256}); manifest updated")
    log(json.dumps(record, sort_keys=True))
    return record


def main(argv: list[str]) -> int:
    import torch

    if build_parser().parse_known_args(argv)[0].modality == "video":
        from .frames import main as train_frames  # frame pairs: mmcompress/train/frames.py

        return train_frames(argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        folders = training_folders(args.corpus)
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    t0 = time.time()
    train_images, val_images = split_images(load_images(folders))
    train = collect(train_images, args.sample_fraction, args.seed)
    val = collect(val_images, args.sample_fraction, args.seed + 1)
    log(f"data: {len(train_images)} train images, {train['base'].size} samples; "
        f"{len(val_images)} validation images, {val['base'].size} samples ({time.time() - t0:.0f} s)")  # fmt: skip

    config = pm.PixelModelConfig(features=args.features, hidden=args.hidden)
    model = pm.build_float_model(config)
    start = time.time()
    step = train_float_model(model, train, args)
    train_seconds = round(time.time() - start)
    val_float = float_bits(model, val)
    log(f"validation float (fake-quant) bits/subpixel {val_float:.4f}")
    if args.no_export:
        return 0

    tensors, int_model = integer_model(model, config, train)
    val_int = ideal_bits(int_model, val)
    log(f"validation integer (static priors) bits/subpixel {val_int:.4f}")

    def codec_figures(path: Path) -> dict[str, Any]:
        val_codec = codec_bits_per_subpixel(path, val_images)
        log(f"validation codec bits/subpixel {val_codec:.4f} (= {3 * val_codec:.3f} bpp on RGB)")
        return {"val_bits_per_subpixel_codec": round(val_codec, 4)}

    figures = {
        "val_bits_per_subpixel_float": round(val_float, 4),
        "val_bits_per_subpixel_int_static": round(val_int, 4),
        "val_images": [name for name, _ in val_images],
    }
    export_model(tensors, config, args, argv, step, train_seconds, figures, codec_figures)
    return 0
