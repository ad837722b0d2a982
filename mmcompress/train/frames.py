"""``mmcompress train --modality video``: fine-tune the pixel model on synthetic frame pairs.

    mmcompress train --modality video DIR [DIR...] --out NAME [--init pixel-m] [--minutes M]

The corpus has no video, so frame pairs are made from the training images (:func:`make_pair`):

* the *current* frame is a crop of the image (on the integer grid, or resampled at a sub-pixel
  phase); the *reference* is the same scene as the previous frame after imperfect motion
  compensation: the crop's coordinates moved by a small sub-pixel residual motion (global, plus a
  per-16×16-block jitter like block motion vectors), sometimes zoomed by up to 3 %, resampled
  bilinear or bicubic; its brightness / contrast sometimes changed a little; some rectangles are
  the same scene exactly (a static background);
* both frames get independent sensor-like noise (sigma 0–4, in RGB), are converted to 8-bit
  Y'CbCr (BT.601 or BT.709, limited or full range) with 4:2:0 chroma (2×2 means), and sometimes
  blurred or sharpened alike (the look of lossy-decoded video); a few pairs are grey (Y only);
* pixels of 8×8 blocks where the reference equals the frame exactly are left out of the samples,
  as the video codec's exact-copy path never codes them (they still serve as neighbours);
* about :data:`INTRA_SHARE` of the pairs are *intra*: the frame alone, no previous slot, as the
  first frame of a block is coded.

Each plane is walked with the codec's own pass schedule and features
(:func:`~mmcompress.imaging.pixelmodel.compute_features`), the reference's same plane entering as
previous-channel slot 0, exactly as the video codec (:mod:`mmcompress.predictors.frames`) does.

Training reuses :mod:`.pixels`: the model starts from the float weights recovered from an
installed integer model (:func:`float_model_from_int`, pixel-m by default; ReLU's positive
homogeneity makes the recovery exact up to one free scale per hidden layer), runs the same loop
(:func:`.pixels.train_float_model`, QAT at the end) and the same export
(:func:`.pixels.integer_model`: rank priors learned on the video samples,
:func:`.pixels.export_model`: file and manifest entry). Validation pairs come from the held-out
images of :mod:`.pixels`' split; figures are logged separately for inter and intra samples, for
the starting model and the fine-tuned one.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..imaging import pixelmodel as pm
from ..imaging.passes import build_passes, gather_neighbours, gather_pixels
from ..predictors.intlayers import INT8_MAX
from .data import training_folders
from .pixels import (
    build_parser,
    export_model,
    float_bits,
    ideal_bits,
    integer_model,
    load_images,
    log,
    split_images,
    train_float_model,
)

#: Share of the pairs coded as intra frames (no previous slot).
INTRA_SHARE = 0.25
#: Side of the exact-copy blocks (per plane) whose pixels are left out of the samples.
COPY_BLOCK = 8
#: Side of the luma blocks that get their own motion jitter.
MOTION_BLOCK = 16
#: Crop sides (luma pixels) are drawn from this range.
CROP_MIN, CROP_MAX = 96, 320
#: BT.601 and BT.709 luma weights (R, G, B).
LUMA = {"601": (0.299, 0.587, 0.114), "709": (0.2126, 0.7152, 0.0722)}

Samples = dict[str, np.ndarray]
Planes = list[np.ndarray]


# ------------------------------------------------------------------------------------------------
# Pixel operations (numpy only)
# ------------------------------------------------------------------------------------------------


def resample(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, cubic: bool) -> np.ndarray:
    """``image`` (H, W, C) float sampled at (ys, xs) (h, w): bilinear or bicubic (Keys, a = -0.5),
    coordinates clamped to the image."""
    height, width = image.shape[:2]
    y0 = np.floor(ys).astype(np.int64)
    x0 = np.floor(xs).astype(np.int64)
    ty = (ys - y0)[..., None]
    tx = (xs - x0)[..., None]
    taps: tuple[int, ...]
    if cubic:
        taps = (-1, 0, 1, 2)
        wy = _cubic_weights(ty)
        wx = _cubic_weights(tx)
    else:
        taps = (0, 1)
        wy = [1.0 - ty, ty]
        wx = [1.0 - tx, tx]
    out = np.zeros(ys.shape + image.shape[2:], dtype=np.float64)
    for i, dy in enumerate(taps):
        rows = np.clip(y0 + dy, 0, height - 1)
        for j, dx in enumerate(taps):
            cols = np.clip(x0 + dx, 0, width - 1)
            out += wy[i] * wx[j] * image[rows, cols]
    return out


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    return [
        ((-0.5 * t + 1.0) * t - 0.5) * t,
        (1.5 * t - 2.5) * t * t + 1.0,
        ((-1.5 * t + 2.0) * t + 0.5) * t,
        (0.5 * t - 0.5) * t * t,
    ]


def gaussian_blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float plane (edges replicated)."""
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    out = plane
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], "edge")
        length = out.shape[axis]
        out = sum(
            weight * np.take(padded, np.arange(k, k + length), axis=axis)
            for k, weight in enumerate(kernel)
        )
    return np.asarray(out)


def rgb_to_yuv420(rgb: np.ndarray, matrix: str, full_range: bool) -> Planes:
    """(H, W, 3) float RGB (0..255) -> [Y (H, W), Cb, Cr ((H+1)//2, (W+1)//2)] float planes."""
    kr, kg, kb = LUMA[matrix]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = kr * r + kg * g + kb * b
    cb = (b - luma) / (2.0 * (1.0 - kb))
    cr = (r - luma) / (2.0 * (1.0 - kr))
    if full_range:
        y, u, v = luma, 128.0 + cb, 128.0 + cr
    else:
        y, u, v = (
            16.0 + luma * 219.0 / 255.0,
            128.0 + cb * 224.0 / 255.0,
            128.0 + cr * 224.0 / 255.0,
        )
    return [y, _subsample(u), _subsample(v)]


def _subsample(plane: np.ndarray) -> np.ndarray:
    """2×2 means; an odd last row / column is replicated."""
    height, width = plane.shape
    padded = np.pad(plane, ((0, height % 2), (0, width % 2)), "edge")
    return 0.25 * (
        padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2]
    )


def to_uint8(plane: np.ndarray) -> np.ndarray:
    return np.clip(np.round(plane), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------
# Frame pairs
# ------------------------------------------------------------------------------------------------


def make_pair(
    pixels: np.ndarray, rng: np.random.Generator, intra: bool
) -> tuple[Planes, Planes | None, list[np.ndarray] | None]:
    """One synthetic (current, reference) pair from an (H, W, C) uint8 image.

    Returns the current frame's 8-bit planes (Y, Cb, Cr, or Y alone), the reference's (None for
    an intra pair) and per plane the bool mask of exact-copy pixels (None for intra).
    """
    source = pixels.astype(np.float64)
    if source.shape[2] == 1:
        source = np.repeat(source, 3, axis=2)
    src_h, src_w = source.shape[:2]
    height = int(rng.integers(CROP_MIN, min(CROP_MAX, src_h - 16) + 1))
    width = int(rng.integers(CROP_MIN, min(CROP_MAX, src_w - 16) + 1))
    top = rng.uniform(4.0, src_h - height - 4.0)
    left = rng.uniform(4.0, src_w - width - 4.0)
    cubic = bool(rng.random() < 0.6)
    if rng.random() < 0.5:  # the current frame on the image's own grid (no interpolation)
        top, left = float(round(top)), float(round(left))
        interpolated = False
    else:
        interpolated = True
    rows = np.arange(height, dtype=np.float64)[:, None] + np.zeros((1, width))
    cols = np.arange(width, dtype=np.float64)[None, :] + np.zeros((height, 1))
    cur_ys, cur_xs = top + rows, left + cols
    current_rgb = resample(source, cur_ys, cur_xs, cubic) if interpolated else (
        source[int(top) : int(top) + height, int(left) : int(left) + width])  # fmt: skip
    matrix = "601" if rng.random() < 0.5 else "709"
    full_range = bool(rng.random() < 0.2)
    grey = bool(rng.random() < 0.1)
    sigma = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.3, 4.0))
    post = rng.random()
    post_sigma = float(rng.uniform(0.4, 1.0))
    sharpen = float(rng.uniform(0.3, 1.0))

    def finish(rgb: np.ndarray) -> Planes:
        rgb = rgb + rng.normal(0.0, sigma, rgb.shape) if sigma > 0 else rgb
        planes = rgb_to_yuv420(rgb, matrix, full_range)[: 1 if grey else 3]
        if post < 0.2:
            planes = [gaussian_blur(p, post_sigma) for p in planes]
        elif post < 0.35:
            planes = [p + sharpen * (p - gaussian_blur(p, 1.0)) for p in planes]
        return [to_uint8(p) for p in planes]

    if intra:
        return finish(current_rgb), None, None

    # Reference: residual motion (global + per-block jitter), sometimes a zoom.
    amplitude = (0.0, 0.5, 1.0, 2.0)[int(rng.choice(4, p=(0.15, 0.4, 0.3, 0.15)))]
    dy, dx = rng.uniform(-amplitude, amplitude, 2) if amplitude else (0.0, 0.0)
    zoom = float(rng.uniform(0.97, 1.03)) if rng.random() < 0.25 else 1.0
    ref_ys = top + (rows - height / 2) * zoom + height / 2 + dy
    ref_xs = left + (cols - width / 2) * zoom + width / 2 + dx
    if rng.random() < 0.35:
        blocks_y, blocks_x = -(-height // MOTION_BLOCK), -(-width // MOTION_BLOCK)
        jitter = rng.uniform(-0.5, 0.5, (2, blocks_y, blocks_x))
        block_rows = np.arange(height) // MOTION_BLOCK
        block_cols = np.arange(width) // MOTION_BLOCK
        ref_ys = ref_ys + jitter[0][np.ix_(block_rows, block_cols)]
        ref_xs = ref_xs + jitter[1][np.ix_(block_rows, block_cols)]
    static = np.zeros((height, width), dtype=bool)
    if rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 4))):
            rh = int(rng.integers(1, max(2, height // MOTION_BLOCK) + 1)) * MOTION_BLOCK
            rw = int(rng.integers(1, max(2, width // MOTION_BLOCK) + 1)) * MOTION_BLOCK
            r0 = int(rng.integers(0, max(1, height // MOTION_BLOCK))) * MOTION_BLOCK
            c0 = int(rng.integers(0, max(1, width // MOTION_BLOCK))) * MOTION_BLOCK
            static[r0 : r0 + rh, c0 : c0 + rw] = True
        ref_ys = np.where(static, cur_ys, ref_ys)
        ref_xs = np.where(static, cur_xs, ref_xs)
    exact = np.abs(ref_ys - cur_ys).max() == 0 and np.abs(ref_xs - cur_xs).max() == 0
    if static.all() or exact:
        reference_rgb = current_rgb.copy()
    else:
        reference_rgb = resample(source, ref_ys, ref_xs, cubic)
        if not interpolated:  # where the coordinates are on the grid, take the pixels as they are
            reference_rgb = np.where(static[..., None], current_rgb, reference_rgb)
    if rng.random() < 0.3:
        gain, offset = float(rng.uniform(0.96, 1.04)), float(rng.uniform(-3.0, 3.0))
        reference_rgb = np.where(static[..., None], reference_rgb, gain * reference_rgb + offset)
    current = finish(current_rgb)
    reference = finish(reference_rgb)
    known = [exact_copy_mask(c, r) for c, r in zip(current, reference, strict=True)]
    return current, reference, known


def exact_copy_mask(current: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Pixels of the COPY_BLOCK² blocks where ``reference`` equals ``current`` exactly."""
    height, width = current.shape
    equal = current == reference
    blocks_y, blocks_x = -(-height // COPY_BLOCK), -(-width // COPY_BLOCK)
    padded = np.ones((blocks_y * COPY_BLOCK, blocks_x * COPY_BLOCK), dtype=bool)
    padded[:height, :width] = equal
    per_block = padded.reshape(blocks_y, COPY_BLOCK, blocks_x, COPY_BLOCK).all(axis=(1, 3))
    return np.repeat(np.repeat(per_block, COPY_BLOCK, 0), COPY_BLOCK, 1)[:height, :width]


def plane_samples(
    current: np.ndarray,
    reference: np.ndarray | None,
    known: np.ndarray | None,
    fraction: float,
    rng: np.random.Generator,
) -> Samples:
    """Features, base and value of a random ``fraction`` of one plane's coded pixels, with the
    reference's same plane as previous slot 0 (none for intra); exact copies left out."""
    chunks: dict[str, list[np.ndarray]] = {"features": [], "base": [], "value": []}
    if int(current.min()) != int(current.max()):  # a one-value plane is not coded at all
        for item in build_passes(*current.shape):
            for r0, r1 in item.chunks():
                neighbours = gather_neighbours(current, item, r0, r1)
                values = gather_pixels(current, item, r0, r1)
                previous = []
                if reference is not None:
                    previous = [(gather_neighbours(reference, item, r0, r1),
                                 gather_pixels(reference, item, r0, r1))]  # fmt: skip
                features, base = pm.compute_features(neighbours, previous, item.level, item.kind)
                keep = rng.random(base.size) < fraction
                if known is not None:
                    keep &= ~gather_pixels(known, item, r0, r1).astype(bool)
                chunks["features"].append(features[keep].astype(np.int16))
                chunks["base"].append(base[keep].astype(np.int16))
                chunks["value"].append(values[keep].astype(np.int16))
    if not chunks["base"]:
        return {"features": np.zeros((0, pm.FEATURES), np.int16),
                "base": np.zeros(0, np.int16), "value": np.zeros(0, np.int16)}  # fmt: skip
    return {key: np.concatenate(parts) for key, parts in chunks.items()}


def pair_rng(seed: int, image_index: int, pair_index: int) -> np.random.Generator:
    """The generator of one pair: fixed by (seed, image, pair) alone."""
    return np.random.default_rng([seed, image_index, pair_index])


def collect_pairs(
    images: list[tuple[str, np.ndarray]],
    pairs_per_image: int,
    fraction: float,
    seed: int,
    intra_share: float = INTRA_SHARE,
    drop_reference: bool = False,
) -> Samples:
    """Samples of ``pairs_per_image`` pairs of every image; ``inter`` (bool) marks the samples
    of inter pairs. ``drop_reference``: the same samples without the reference slot (what the
    frames would cost coded as intra), for comparison."""
    parts: list[Samples] = []
    for image_index, (_, pixels) in enumerate(images):
        for pair_index in range(pairs_per_image):
            rng = pair_rng(seed, image_index, pair_index)
            intra = bool(rng.random() < intra_share)
            current, reference, known = make_pair(pixels, rng, intra)
            for plane_index, plane in enumerate(current):
                samples = plane_samples(
                    plane,
                    None if reference is None or drop_reference else reference[plane_index],
                    None if known is None else known[plane_index],
                    fraction,
                    rng,
                )
                samples["inter"] = np.full(samples["base"].size, not intra)
                parts.append(samples)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def subset(samples: Samples, mask: np.ndarray) -> Samples:
    return {key: value[mask] for key, value in samples.items()}


# ------------------------------------------------------------------------------------------------
# Starting point: the float form of an installed integer model
# ------------------------------------------------------------------------------------------------


def float_model_from_int(path: Path) -> tuple[Any, pm.PixelModelConfig]:
    """A float model computing what the integer model at ``path`` computes (up to rounding).

    The integer file keeps int8 weights and, per output, the ratio of accumulator unit to output
    unit; ReLU's positive homogeneity leaves one scale per hidden layer free (the activation
    tops), chosen so that the three layers' weights have equal RMS.
    """
    import torch

    from ..models import load_model_file

    raw_config, tensors = load_model_file(path, pm.FILE_FORMAT)
    config = pm.PixelModelConfig(**raw_config)
    weights = [tensors[f"fc{i}.weight"].astype(np.float64) for i in (1, 2, 3)]
    biases = [tensors[f"fc{i}.bias"].astype(np.float64) for i in (1, 2, 3)]
    ratios = [
        tensors[f"fc{i}.multiplier"].astype(np.float64) / 2.0 ** int(tensors[f"fc{i}.shift"][0])
        for i in (1, 2, 3)
    ]
    one = float(INT8_MAX)
    head_units = np.array([1 << pm.PRED_FRAC_BITS, pm.BINS_PER_OCTAVE], dtype=np.float64)
    # Weight scales as functions of the free tops t1, t2 (see pixelmodel.quantize):
    #   s1 = r1·64·t1/127, s2 = r2·t2/t1, s3 = (r3/units)·127/t2.
    unit1 = ratios[0] * pm.INPUT_DIVISOR / one
    unit2 = ratios[1]
    unit3 = ratios[2] / head_units * one

    def rms(weight: np.ndarray, scale: np.ndarray) -> float:
        return float(np.sqrt(np.mean((weight * scale[:, None]) ** 2)))

    c1, c2, c3 = rms(weights[0], unit1), rms(weights[1], unit2), rms(weights[2], unit3)
    g = (c1 * c2 * c3) ** (1.0 / 3.0)
    top1, top2 = g / c1, c3 / g
    scales = [unit1 * top1, unit2 * top2 / top1, unit3 / top2]
    in_scales = [1.0 / pm.INPUT_DIVISOR, top1 / one, top2 / one]
    model = pm.build_float_model(config)
    layers = [model.fc1, model.fc2, model.out]
    with torch.no_grad():
        for layer, weight, bias, scale, in_scale in zip(
            layers, weights, biases, scales, in_scales, strict=True
        ):
            layer.weight.copy_(torch.from_numpy(weight * scale[:, None]))
            layer.bias.copy_(torch.from_numpy(bias * scale * in_scale))
        model.act1.top.fill_(top1)
        model.act2.top.fill_(top2)
    return model, config


def resolve_model(spec: str) -> Path:
    """An installed pixel model by name (models/manifest.json) or a file path."""
    from ..models import models_dir, read_manifest

    if Path(spec).is_file():
        return Path(spec)
    named = [r for r in read_manifest() if r.get("name") == spec and r.get("kind") == "pixel"]
    if not named:
        raise ValueError(f"no pixel model {spec!r} installed in {models_dir()}")
    return models_dir() / str(named[-1]["file"])


# ------------------------------------------------------------------------------------------------
# Validation and the codec's real code length
# ------------------------------------------------------------------------------------------------


def split_figures(prefix: str, measure: Any, samples: Samples) -> dict[str, float]:
    """``measure(samples)`` on all, inter-only and intra-only samples (empty parts left out)."""
    inter = samples["inter"]
    figures = {prefix: round(float(measure(samples)), 4)}
    for suffix, mask in (("_inter", inter), ("_intra", ~inter)):
        if mask.any():
            figures[prefix + suffix] = round(float(measure(subset(samples, mask))), 4)
    return figures


def validation_pairs(
    images: list[tuple[str, np.ndarray]], pairs_per_image: int, seed: int
) -> list[tuple[Planes, Planes | None, list[np.ndarray] | None]]:
    """The validation pairs themselves (as :func:`collect_pairs` makes them, for the codec)."""
    pairs = []
    for image_index, (_, pixels) in enumerate(images):
        for pair_index in range(pairs_per_image):
            rng = pair_rng(seed, image_index, pair_index)
            intra = bool(rng.random() < INTRA_SHARE)
            pairs.append(make_pair(pixels, rng, intra))
    return pairs


def codec_pair_bits(
    path: Path, pairs: list[tuple[Planes, Planes | None, list[np.ndarray] | None]]
) -> dict[str, float]:
    """Real payload bits per coded sub-pixel through the pixel codec's walk (with adaptation and
    bias correction), the reference as slot 0 and exact copies known, inter and intra apart."""
    from ..coder import Encoder
    from ..predictors.pixel import PRECISION_BITS, WalkOptions, walk_planes

    model = pm.IntPixelModel.load(path)
    totals = {True: [0, 0], False: [0, 0]}
    for current, reference, known in pairs:
        inter = reference is not None
        for index, plane in enumerate(current):
            if int(plane.min()) == int(plane.max()):
                continue
            options = WalkOptions()
            if reference is not None and known is not None:
                options = WalkOptions(references={0: reference[index]}, known={0: known[index]})
            encoder = Encoder(PRECISION_BITS)
            walk_planes(plane[None].copy(), [255], [0], model, encoder, options)
            coded = plane.size - (int(known[index].sum()) if known is not None else 0)
            totals[inter][0] += 8 * len(encoder.finish())
            totals[inter][1] += coded
    return {
        f"val_bits_per_subpixel_codec_{'inter' if inter else 'intra'}": round(
            bits / max(1, count), 4
        )
        for inter, (bits, count) in totals.items()
        if count
    }


# ------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser("mmcompress train --modality video")
    parser.add_argument("--init", default="pixel-m",
                        help="installed pixel model (name or file) to start from; 'none': scratch")  # fmt: skip
    parser.add_argument("--pairs-per-image", type=int, default=8)
    parser.add_argument("--val-pairs-per-image", type=int, default=4)
    parser.add_argument("--intra-share", type=float, default=INTRA_SHARE)
    parser.set_defaults(modality="video", lr=1e-3, sample_fraction=0.1)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Build the pairs, fine-tune, validate (start vs end, inter vs intra), export."""
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        folders = training_folders(args.corpus)
        init_path = None if args.init == "none" else resolve_model(args.init)
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    t0 = time.time()
    train_images, val_images = split_images(load_images(folders))
    train = collect_pairs(train_images, args.pairs_per_image, args.sample_fraction, args.seed,
                          args.intra_share)  # fmt: skip
    val = collect_pairs(val_images, args.val_pairs_per_image, args.sample_fraction, args.seed + 1)
    val_noref = collect_pairs(val_images, args.val_pairs_per_image, args.sample_fraction,
                              args.seed + 1, drop_reference=True)  # fmt: skip
    log(f"data: {len(train_images)} train images x {args.pairs_per_image} pairs, "
        f"{train['base'].size} samples ({int(train['inter'].sum())} inter); "
        f"{len(val_images)} validation images x {args.val_pairs_per_image} pairs, "
        f"{val['base'].size} samples ({int(val['inter'].sum())} inter) ({time.time() - t0:.0f} s)")  # fmt: skip

    figures: dict[str, Any] = {}
    if init_path is not None:
        model, config = float_model_from_int(init_path)
        start_model = pm.IntPixelModel.load(init_path)
        model.eval()
        model.set_quantize(True)
        figures.update(split_figures("start_val_bits_per_subpixel_float",
                                     lambda s: float_bits(model, s), val))  # fmt: skip
        figures.update(split_figures("start_val_bits_per_subpixel_int_static",
                                     lambda s: ideal_bits(start_model, s), val))  # fmt: skip
        noref = subset(val_noref, val_noref["inter"])
        if noref["base"].size:
            figures["start_val_bits_per_subpixel_int_static_inter_as_intra"] = round(
                ideal_bits(start_model, noref), 4
            )
        log(f"start ({init_path.name}): {figures}")
        model.set_quantize(False)
    else:
        config = pm.PixelModelConfig(features=args.features, hidden=args.hidden)
        model = pm.build_float_model(config)
    start = time.time()
    steps = train_float_model(model, train, args)
    train_seconds = round(time.time() - start)
    figures.update(split_figures("val_bits_per_subpixel_float",
                                 lambda s: float_bits(model, s), val))  # fmt: skip
    log(f"validation float (fake-quant): {figures}")
    if args.no_export:
        return 0
    tensors, int_model = integer_model(model, config, train)
    figures.update(split_figures("val_bits_per_subpixel_int_static",
                                 lambda s: ideal_bits(int_model, s), val))  # fmt: skip
    noref = subset(val_noref, val_noref["inter"])
    if noref["base"].size:
        figures["val_bits_per_subpixel_int_static_inter_as_intra"] = round(
            ideal_bits(int_model, noref), 4
        )
    log(f"validation integer (static priors): {figures}")
    figures["val_images"] = [name for name, _ in val_images]
    figures["init"] = init_path.name if init_path is not None else "none"
    figures["modality"] = "video"
    pairs = validation_pairs(val_images, args.val_pairs_per_image, args.seed + 1)

    def codec_figures(path: Path) -> dict[str, Any]:
        measured: dict[str, Any] = codec_pair_bits(path, pairs)
        if init_path is not None:
            start_codec = codec_pair_bits(init_path, pairs)
            measured.update({"start_" + k: v for k, v in start_codec.items()})
        log(f"validation codec: {measured}")
        return measured

    export_model(tensors, config, args, argv, steps, train_seconds, figures, codec_figures,
                 description=", fine-tuned for video frames (reference plane as slot 0)")  # fmt: skip
    return 0
