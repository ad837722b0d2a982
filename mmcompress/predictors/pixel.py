"""PixelCodec: codes raster blocks with the integer pixel model, pass by pass (kind "pixel").

A block is a 12-byte header ``struct.pack("<BBBBII", 1, channels, bits, 0, height, width)`` and
the pixels ``(H, W, C)`` row-major: uint8 for ``bits <= 8`` (values < 2^bits), little-endian
uint16 for bits 9..16. 16-bit images are coded as twice the channels: the high bytes (values
< 2^(bits-8)) first, then the low bytes, each as an 8-bit plane (correct, not yet tuned).

Coding, in the order of :func:`mmcompress.imaging.passes.build_passes`:

1. pixel (0, 0) of every plane under a uniform table;
2. for each pass, each chunk of rows, each plane in coding order (G, R, B, A…): one batched
   integer forward of :class:`~mmcompress.imaging.pixelmodel.IntPixelModel` gives every pixel an
   integer prediction (1/16 pixel) and a scale bin; the value is mapped to its *rank* around the
   prediction (pred, then the nearer side, alternating, skipping values outside [0, max]: no
   probability is spent on impossible values), and the ranks of each bin are coded with one
   shared table (``Encoder.encode_shared``) in bin order;
3. between chunks the model adapts to the image, identically on both sides, from integers it has
   already coded: each bin's rank counts (starting from the learned priors stored with the
   weights) grow by what was just coded, and a per-context bias (CALIC / JPEG-LS "bias
   cancellation") corrects the prediction by the mean error seen so far in its context.

Before coding, a plane whose values leave gaps (a few grey levels, synthetic images, scaled
data) is packed onto 0..count-1, its bitmap of used values kept as side information; a plane
with a single value is not coded at all.

The walk (:func:`walk_planes`, :class:`WalkOptions`) is shared with the video codec
(:mod:`.frames`), which adds per-plane reference planes (taking the previous-channel slots) and
masks of pixels known in advance (neither coded nor counted); without them it is the image path.

Payload: the 12-byte header; per plane one flag byte (0 as is, 1 packed, then the bitmap of
used values, ``max + 1`` bits, little-endian bit order); then the range coder's 32-bit words.

Costs (``mmcompress explain``): :meth:`PixelCodec.encode_with_costs` returns the same payload
and every sample's −log2 p under the integer table it was coded with (``WalkOptions.costs``:
read from the tables after coding, so no coded byte changes).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..coder import Decoder, Encoder
from ..errors import CorruptArchive, ModelMissing
from ..imaging.passes import Pass, build_passes, gather_neighbours, gather_pixels, scatter_pixels
from ..imaging.pixelmodel import (
    PRED_FRAC_BITS,
    PREVIOUS_SLOTS,
    SCALE_BINS,
    IntPixelModel,
    compute_features,
)
from ..intmath import scores_to_freq_table
from .base import BlockCodec, NotApplicable

HEADER = struct.Struct("<BBBBII")
BLOCK_VERSION = 1
PRECISION_BITS = 20
#: Weight of one coded symbol in the rank counts (the priors sum to PRIOR_TOTAL).
OBSERVATION_WEIGHT = 64
#: Bias contexts: (pass kind, plane slot capped, scale bin).
SLOT_CONTEXTS = 3
#: Bias accumulators are halved when their count reaches this (keeps them local and small).
BIAS_COUNT_LIMIT = 256
DEFAULT_MODEL = "pixel-m"
MAX_PIXELS = 1 << 26
#: Planes smaller than this are never packed (the bitmap would cost more than it saves).
MIN_PACKED_PIXELS = 1024
#: Pixels per batched forward inside a chunk (bounds the feature and activation matrices).
FORWARD_ROWS = 32768


def pixels_to_block(pixels: np.ndarray, bits: int) -> bytes:
    """Pixels (H, W) or (H, W, C) uint8/uint16 -> the raw block the codec takes."""
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or not 1 <= array.shape[2] <= 4:
        raise ValueError("pixels must be (H, W) or (H, W, C) with C in 1..4")
    if not 1 <= bits <= 16:
        raise ValueError("bits must be in 1..16")
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    if array.size and int(array.max()) >= (1 << bits):
        raise ValueError(f"pixel values do not fit in {bits} bits")
    height, width, channels = array.shape
    header = HEADER.pack(BLOCK_VERSION, channels, bits, 0, height, width)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def _parse_header(raw: bytes) -> tuple[int, int, int, int]:
    if len(raw) < HEADER.size:
        raise NotApplicable("block shorter than the pixel header")
    version, channels, bits, reserved, height, width = HEADER.unpack_from(raw)
    if version != BLOCK_VERSION or reserved != 0 or not 1 <= channels <= 4 or not 1 <= bits <= 16:
        raise NotApplicable("not a pixel block header")
    if height < 1 or width < 1 or height * width > MAX_PIXELS:
        raise NotApplicable("pixel block size out of range")
    return channels, bits, height, width


def _raw_size(channels: int, bits: int, height: int, width: int) -> int:
    return HEADER.size + height * width * channels * (2 if bits > 8 else 1)


def block_to_pixels(raw: bytes) -> tuple[np.ndarray, int]:
    """Inverse of :func:`pixels_to_block`: ((H, W, C) array, bits); NotApplicable if malformed."""
    channels, bits, height, width = _parse_header(raw)
    if len(raw) != _raw_size(channels, bits, height, width):
        raise NotApplicable("pixel block size does not match its header")
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    pixels = np.frombuffer(raw, dtype=dtype, offset=HEADER.size).reshape(height, width, channels)
    if int(pixels.max()) >= (1 << bits):
        raise NotApplicable(f"pixel values do not fit in {bits} bits")
    return pixels, bits


def _planes_and_maxima(channels: int, bits: int) -> tuple[list[int], list[int]]:
    """Coding order of the 8-bit planes (indices into the plane stack) and each plane's maximum."""
    colour_order = [1, 0, 2, 3][:channels] if channels >= 3 else list(range(channels))
    if bits <= 8:
        return colour_order, [(1 << bits) - 1] * channels
    high = [(1 << (bits - 8)) - 1] * channels
    return colour_order + [c + channels for c in colour_order], high + [255] * channels


def _split_planes(pixels: np.ndarray, bits: int) -> np.ndarray:
    """(H, W, C) -> (P, H, W) uint8 planes (16-bit: high bytes, then low bytes).

    Every plane is an 8-bit plane, so uint8 holds it: a quarter of the memory of int32 planes.
    """
    channels = pixels.shape[2]
    count = channels if bits <= 8 else 2 * channels
    planes = np.empty((count, pixels.shape[0], pixels.shape[1]), dtype=np.uint8)
    for channel in range(channels):
        if bits <= 8:
            planes[channel] = pixels[:, :, channel]
        else:
            planes[channel] = pixels[:, :, channel] >> 8
            planes[channel + channels] = pixels[:, :, channel] & 255
    return planes


def _join_planes(planes: np.ndarray, channels: int, bits: int) -> np.ndarray:
    """Inverse of :func:`_split_planes`: (P, H, W) uint8 -> (H, W, C) uint8 / little-endian uint16."""
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    pixels = np.empty((planes.shape[1], planes.shape[2], channels), dtype=dtype)
    for channel in range(channels):
        if bits <= 8:
            pixels[:, :, channel] = planes[channel]
        else:
            high = planes[channel].astype(dtype)
            pixels[:, :, channel] = (high << 8) | planes[channel + channels]
    return pixels


# ------------------------------------------------------------------------------------------------
# Rank mapping: value <-> rank around an integer prediction, skipping impossible values
# ------------------------------------------------------------------------------------------------


def value_to_rank(
    values: np.ndarray, predicted: np.ndarray, up_first: np.ndarray, maximum: int
) -> np.ndarray:
    """Rank of ``values`` in the order pred, pred±1 (``up_first`` side first), pred∓1, pred±2…"""
    diff = values - predicted
    distance = np.abs(diff)
    room_up, room_down = maximum - predicted, predicted
    both = np.minimum(room_up, room_down)
    on_first_side = np.where(up_first, diff > 0, diff < 0)
    inner = np.where(on_first_side, 2 * distance - 1, 2 * distance)
    rank = np.where(distance <= both, inner, both + distance)
    return np.where(distance == 0, 0, rank)


def rank_to_value(
    ranks: np.ndarray, predicted: np.ndarray, up_first: np.ndarray, maximum: int
) -> np.ndarray:
    """Inverse of :func:`value_to_rank` (any rank < maximum + 1 gives a value in range)."""
    room_up, room_down = maximum - predicted, predicted
    both = np.minimum(room_up, room_down)
    distance = (ranks + 1) >> 1
    first_side = (ranks & 1) == 1
    upward = first_side == up_first
    inner = np.where(upward, distance, -distance)
    outer = np.where(room_up > room_down, ranks - both, both - ranks)
    diff = np.where(ranks <= 2 * both, inner, outer)
    return predicted + np.where(ranks == 0, 0, diff)


# ------------------------------------------------------------------------------------------------
# The pass walk, shared by encoder and decoder
# ------------------------------------------------------------------------------------------------


class _AdaptiveState:
    """Per-block adaptive statistics: rank counts per scale bin, prediction bias per context."""

    def __init__(self, priors: np.ndarray, alphabet: int, bias_correction: bool) -> None:
        self.alphabet = alphabet
        self.counts = priors[:, :alphabet].astype(np.int64).copy()
        self.tables = scores_to_freq_table(self.counts, PRECISION_BITS)
        self.bias_correction = bias_correction
        contexts = 2 * SLOT_CONTEXTS * SCALE_BINS
        self.bias_sum = np.zeros(contexts, dtype=np.int64)
        self.bias_count = np.zeros(contexts, dtype=np.int64)

    def correction(self, contexts: np.ndarray) -> np.ndarray:
        """Mean error (1/16 pixel, rounded toward -inf) of each context so far."""
        if not self.bias_correction:
            return np.zeros(contexts.shape, dtype=np.int64)
        count = np.maximum(self.bias_count[contexts], 1)
        return np.floor_divide(2 * self.bias_sum[contexts] + count, 2 * count)

    def update(
        self, scale_bins: np.ndarray, ranks: np.ndarray, contexts: np.ndarray, errors: np.ndarray
    ) -> None:
        seen = np.bincount(
            scale_bins * self.alphabet + ranks, minlength=SCALE_BINS * self.alphabet
        ).reshape(SCALE_BINS, self.alphabet)
        self.counts += OBSERVATION_WEIGHT * seen
        touched = seen.any(axis=1)
        self.tables[touched] = scores_to_freq_table(self.counts[touched], PRECISION_BITS)
        if self.bias_correction:
            size = self.bias_sum.size
            # float64 sums of these integers (< 2^53) are exact in any order.
            self.bias_sum += np.bincount(
                contexts, weights=errors.astype(np.float64), minlength=size
            ).astype(np.int64)
            self.bias_count += np.bincount(contexts, minlength=size)
            full = self.bias_count >= BIAS_COUNT_LIMIT
            # Halving keeps the statistics local; floor division keeps both sides identical.
            self.bias_sum[full] = np.floor_divide(self.bias_sum[full], 2)
            self.bias_count[full] >>= 1


def _state_key(maximum: int, kind: int, slot: int) -> Any:
    """Which adaptive tables a plane uses: the first coded plane (alone, heavier tails) and the
    planes conditioned on earlier ones keep apart tables (measured: -1 % size vs shared)."""
    return maximum, min(slot, 1)


def _pack_values(planes: np.ndarray, maxima: list[int], plane: int, used: np.ndarray) -> bytes:
    """Map a plane whose values leave gaps onto 0..count-1 (in place); returns its side info.

    Side info: one flag byte (0: as is; 1: packed), then for packed planes the bitmap of used
    values (``maximum + 1`` bits, little-endian bit order). Sparse histograms (synthetic images,
    few grey levels, scaled data) become dense, so no rank is spent on values that never occur.
    """
    present = np.flatnonzero(used)
    span = int(present[-1] - present[0]) + 1 if present.size else 0
    # Pack only clearly sparse histograms: a quarter or more of the span unused. A few gaps in a
    # photo's histogram cost more in side info and bent value geometry than they save.
    if 4 * (span - present.size) < span or planes[plane].size < MIN_PACKED_PIXELS:
        return b"\0"
    index_of = np.cumsum(used) - 1
    planes[plane] = index_of[planes[plane]]
    maxima[plane] = int(used.sum()) - 1
    return b"\1" + np.packbits(used, bitorder="little").tobytes()


@dataclass
class PixelBlockCosts:
    """A pixel block as :meth:`PixelCodec.encode_with_costs` codes it.

    ``bits[y, x, c]``: −log2 p of sample (y, x, c) under the table it was coded with (a 16-bit
    channel: its high and low planes together). Samples that are not coded cost 0: every sample
    of a plane with one value (its value is in the side info). Pixel (0, 0) costs its uniform
    code. ``coder_bytes``: the range coder's words, what Σ bits / 8 approaches (the payload
    also holds the 12-byte header and the per-plane value maps).
    """

    payload: bytes
    coder_bytes: int
    bits: np.ndarray


@dataclass
class WalkOptions:
    """What a caller other than the image path adds to the walk (the video codec's inter frames).

    ``references[plane]``: a same-shape uint8 plane (the motion-compensated previous frame) that
    enters the model as the plane's only "previous channel" (slot 0) instead of the planes coded
    before it. ``known[plane]``: a bool mask of pixels already filled in ``planes`` on both sides
    (exact copies): they are neither coded nor counted in the adaptive statistics.
    ``states``: adaptive statistics carried over from earlier calls (e.g. earlier frames).
    ``costs[plane]``: when given, a float64 (H, W) map per plane that the walk fills with each
    coded sample's cost, ``PRECISION_BITS - log2(freq)`` of the integer table it was coded
    with (read after coding: the coded bytes do not change). Samples that are not coded keep
    what the map holds (0 from :func:`cost_maps`): known pixels, planes with one value.
    """

    references: dict[int, np.ndarray] = field(default_factory=dict)
    known: dict[int, np.ndarray] = field(default_factory=dict)
    states: dict[Any, _AdaptiveState] = field(default_factory=dict)
    costs: dict[int, np.ndarray] | None = None


def cost_maps(planes: np.ndarray) -> dict[int, np.ndarray]:
    """Zeroed per-plane cost maps for :attr:`WalkOptions.costs` (one float64 (H, W) per plane)."""
    return {plane: np.zeros(planes.shape[1:], dtype=np.float64) for plane in range(len(planes))}


def _costs_of(table: np.ndarray, symbols: np.ndarray) -> np.ndarray:
    """−log2 p of each symbol under an integer table (entries sum to 2^PRECISION_BITS)."""
    return PRECISION_BITS - np.log2(np.asarray(table, dtype=np.float64)[symbols])


def _walk(
    planes: np.ndarray,
    maxima: list[int],
    order: list[int],
    model: IntPixelModel,
    bias_correction: bool,
    encoder: Encoder | None,
    decoder: Decoder | None,
    options: WalkOptions | None = None,
) -> None:
    """Code (encoder) or fill in (decoder) ``planes`` pass by pass; the one schedule both share."""
    options = options or WalkOptions()
    _, height, width = planes.shape
    # A plane with one value (after packing) needs no coding at all.
    order = [plane for plane in order if maxima[plane] > 0]
    # Pixel (0, 0) of every plane, uniform.
    for plane in order:
        if plane in options.known and options.known[plane][0, 0]:
            continue
        uniform = scores_to_freq_table(np.ones(maxima[plane] + 1, dtype=np.int64), PRECISION_BITS)
        if encoder is not None:
            encoder.encode_shared(planes[plane, :1, 0].astype(np.int32), uniform)
        else:
            assert decoder is not None
            planes[plane, 0, 0] = decoder.decode_shared(1, uniform)[0]
        if options.costs is not None:
            options.costs[plane][0, 0] = _costs_of(uniform, planes[plane, :1, 0])[0]
    for item in build_passes(height, width):
        for r0, r1 in item.chunks():
            _code_chunk(planes, maxima, order, model, bias_correction, options, item, r0, r1,
                        encoder, decoder)  # fmt: skip


def walk_planes(
    planes: np.ndarray,
    maxima: list[int],
    order: list[int],
    model: IntPixelModel,
    coder: Encoder | Decoder,
    options: WalkOptions | None = None,
    bias_correction: bool = True,
) -> None:
    """Public entry to the pass walk for other block codecs: encode ``planes`` (``coder`` an
    :class:`Encoder`) or decode into them (a :class:`Decoder`); see :class:`WalkOptions`."""
    encoder = coder if isinstance(coder, Encoder) else None
    decoder = coder if isinstance(coder, Decoder) else None
    _walk(planes, maxima, order, model, bias_correction, encoder, decoder, options)


def _predict(
    model: IntPixelModel,
    neighbours: np.ndarray,
    previous: list[tuple[np.ndarray, np.ndarray]],
    level: int,
    kind: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base prediction, ``mu`` and scale bin of every pixel of a chunk of one plane.

    Features and the forward run :data:`FORWARD_ROWS` pixels at a time: each pixel's outputs
    depend on its own row only (integer-exact), so the results are those of one whole-chunk
    forward, while the feature matrix and activations stay a few MB instead of ~80 MB.
    """
    count = neighbours.shape[1]
    if count <= FORWARD_ROWS:
        features, base = compute_features(neighbours, previous, level, kind)
        mu, scale_bins = model.forward(features)
        return base, mu, scale_bins
    base = np.empty(count, dtype=np.int32)
    mu = np.empty(count, dtype=np.int64)
    scale_bins = np.empty(count, dtype=np.int64)
    for lo in range(0, count, FORWARD_ROWS):
        hi = min(count, lo + FORWARD_ROWS)
        part = [(n[:, lo:hi], v[lo:hi]) for n, v in previous]
        features, base[lo:hi] = compute_features(neighbours[:, lo:hi], part, level, kind)
        mu[lo:hi], scale_bins[lo:hi] = model.forward(features)
    return base, mu, scale_bins


def _code_chunk(
    planes: np.ndarray,
    maxima: list[int],
    order: list[int],
    model: IntPixelModel,
    bias_correction: bool,
    options: WalkOptions,
    item: Pass,
    r0: int,
    r1: int,
    encoder: Encoder | None,
    decoder: Decoder | None,
) -> None:
    states = options.states
    neighbours: dict[int, np.ndarray] = {}
    values: dict[int, np.ndarray] = {}
    for slot, plane in enumerate(order):
        maximum = maxima[plane]
        key = _state_key(maximum, item.kind, slot)
        if key not in states:
            states[key] = _AdaptiveState(model.rank_priors, maximum + 1, bias_correction)
        state = states[key]
        neighbours[plane] = gather_neighbours(planes[plane], item, r0, r1)
        if plane in options.references:
            reference = options.references[plane]
            previous = [(gather_neighbours(reference, item, r0, r1),
                         gather_pixels(reference, item, r0, r1))]  # fmt: skip
        else:
            previous = [
                (neighbours[order[s]], values[order[s]])
                for s in range(slot - 1, max(-1, slot - 1 - PREVIOUS_SLOTS), -1)
            ]
        # Pixels known in advance (exact copies) are left out of the coding and the statistics.
        selected: np.ndarray | None = None
        if plane in options.known:
            unknown = ~gather_pixels(options.known[plane], item, r0, r1).astype(bool)
            if not unknown.all():
                selected = np.flatnonzero(unknown)
        if selected is not None:
            values[plane] = gather_pixels(planes[plane], item, r0, r1)
            if selected.size == 0:
                continue
            chunk_neighbours = neighbours[plane][:, selected]
            previous = [(n[:, selected], v[selected]) for n, v in previous]
        else:
            chunk_neighbours = neighbours[plane]
        base, mu, scale_bins = _predict(model, chunk_neighbours, previous, item.level, item.kind)
        context_base = (item.kind * SLOT_CONTEXTS + min(slot, SLOT_CONTEXTS - 1)) * SCALE_BINS
        contexts = context_base + scale_bins
        one = 1 << PRED_FRAC_BITS
        model_fp = base.astype(np.int64) * one + mu
        prediction_fp = np.clip(model_fp + state.correction(contexts), 0, maximum * one)
        predicted = (prediction_fp + (one >> 1)) >> PRED_FRAC_BITS
        up_first = prediction_fp > predicted * one
        grouping = np.argsort(scale_bins, kind="stable")
        bin_counts = np.bincount(scale_bins, minlength=SCALE_BINS)
        bounds = np.concatenate([[0], np.cumsum(bin_counts)])
        if encoder is not None:
            current = gather_pixels(planes[plane], item, r0, r1).astype(np.int64)
            if selected is not None:
                current = current[selected]
            ranks = value_to_rank(current, predicted, up_first, maximum)
            grouped = ranks[grouping]
            for scale_bin in np.flatnonzero(bin_counts):
                lo, hi = bounds[scale_bin], bounds[scale_bin + 1]
                encoder.encode_shared(grouped[lo:hi].astype(np.int32), state.tables[scale_bin])
        else:
            assert decoder is not None
            grouped = np.empty(scale_bins.size, dtype=np.int64)
            for scale_bin in np.flatnonzero(bin_counts):
                lo, hi = bounds[scale_bin], bounds[scale_bin + 1]
                grouped[lo:hi] = decoder.decode_shared(int(hi - lo), state.tables[scale_bin])
            ranks = np.empty_like(grouped)
            ranks[grouping] = grouped
            current = rank_to_value(ranks, predicted, up_first, maximum)
            if selected is not None:
                values[plane][selected] = current
                scatter_pixels(planes[plane], item, r0, r1, values[plane])
            else:
                scatter_pixels(planes[plane], item, r0, r1, current)
        if selected is None:
            values[plane] = current.astype(np.int32)
        if options.costs is not None:  # the tables the ranks were coded with (before update)
            _record_costs(options.costs[plane], state.tables[scale_bins, ranks], item, r0, r1,
                          selected)  # fmt: skip
        state.update(scale_bins, ranks, contexts, current * one - model_fp)


def _record_costs(
    cost_map: np.ndarray,
    freqs: np.ndarray,
    item: Pass,
    r0: int,
    r1: int,
    selected: np.ndarray | None,
) -> None:
    """Write −log2 p of a chunk's coded samples into ``cost_map`` (known pixels keep theirs)."""
    bits = PRECISION_BITS - np.log2(freqs.astype(np.float64))
    if selected is not None:
        chunk = cost_map[np.ix_(item.rows[r0:r1], item.cols)].reshape(-1)
        chunk[selected] = bits
        bits = chunk
    scatter_pixels(cost_map, item, r0, r1, bits)


# ------------------------------------------------------------------------------------------------
# The codec
# ------------------------------------------------------------------------------------------------


def find_model_file(name: str, sha256: str = "") -> Path:
    """The installed pixel-model file with this sha256 (or, without one, the newest named
    ``name``); ModelMissing when absent. Shared by every codec that runs the pixel model."""
    from ..models import models_dir, read_manifest

    folder = models_dir()
    records = read_manifest()
    if not sha256:
        named = [r for r in records if r.get("name") == name and r.get("kind") == "pixel"]
        if not named:
            raise ModelMissing(f"pixel model {name!r} is not installed in {folder}")
        sha256 = str(named[-1].get("sha256", ""))
    if len(sha256) != 64:
        raise ValueError("pixel codec config lacks the model's sha256")
    candidates = [
        folder / r["file"] for r in records if r.get("sha256") == sha256 and r.get("file")
    ]
    candidates += sorted(folder.glob(f"*-{sha256[:8]}.safetensors"))
    for path in candidates:
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    raise ModelMissing(f"model {name!r} (sha256 {sha256[:16]}…) is not installed in {folder}")


class PixelCodec(BlockCodec):
    """Block codec for raster pixels with the integer pixel model; ``config()`` names the weights."""

    kind: ClassVar[str] = "pixel"
    precision_bits = PRECISION_BITS

    def __init__(
        self,
        model: IntPixelModel | None = None,
        name: str = "",
        sha256: str = "",
        bias_correction: bool = True,
    ) -> None:
        if model is None:
            loaded = PixelCodec.from_config({"name": name or DEFAULT_MODEL, "sha256": sha256})
            model, name, sha256 = loaded.model, loaded.name, loaded.sha256
        self.model: IntPixelModel = model
        self.name: str = name
        self.sha256: str = sha256
        self.bias_correction = bias_correction

    @classmethod
    def from_file(
        cls, path: Path, name: str | None = None, bias_correction: bool = True
    ) -> PixelCodec:
        path = Path(path)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        return cls(IntPixelModel.load(path), name or path.stem.rsplit("-", 1)[0], sha256,
                   bias_correction)  # fmt: skip

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PixelCodec:
        """Find the weights named by ``config["sha256"]`` (or, without one, by name) in models/."""
        name, sha256 = str(config.get("name", DEFAULT_MODEL)), str(config.get("sha256", ""))
        bias_correction = bool(config.get("bias_correction", True))
        return cls.from_file(find_model_file(name, sha256), name, bias_correction)

    def config(self) -> dict[str, Any]:
        return {"id": self.kind, "version": 1, "name": self.name, "sha256": self.sha256,
                "bias_correction": self.bias_correction}  # fmt: skip

    def encode_block(self, raw: bytes, tag: int = 0) -> bytes:
        return self._encode(raw, None)[0]

    def encode_with_costs(self, raw: bytes) -> PixelBlockCosts:
        """:meth:`encode_block`'s payload (the same bytes) and every sample's cost in bits."""
        channels = _parse_header(raw)[0]
        payload, coder_bytes, maps = self._encode(raw, {})
        assert maps is not None
        height, width = maps[0].shape
        bits = np.zeros((height, width, channels), dtype=np.float64)
        for plane, cost_map in maps.items():  # 16-bit: the high and low planes of a channel
            bits[:, :, plane % channels] += cost_map
        return PixelBlockCosts(payload, coder_bytes, bits)

    def costs(self, raw: bytes) -> np.ndarray:
        """Bits spent on each sample of a raw pixel block: (H, W, C) float64."""
        return self.encode_with_costs(raw).bits

    def _encode(
        self, raw: bytes, costs: dict[int, np.ndarray] | None
    ) -> tuple[bytes, int, dict[int, np.ndarray] | None]:
        """(payload, range-coder bytes, cost maps); ``costs`` given (``{}``): record them."""
        pixels, bits = block_to_pixels(raw)
        channels = pixels.shape[2]
        order, maxima = _planes_and_maxima(channels, bits)
        planes = _split_planes(pixels, bits)
        side = bytearray()
        for plane in range(planes.shape[0]):
            used = np.bincount(planes[plane].ravel(), minlength=maxima[plane] + 1) > 0
            side += _pack_values(planes, maxima, plane, used)
        encoder = Encoder(PRECISION_BITS)
        if costs is not None:
            costs.update(cost_maps(planes))
        options = WalkOptions(costs=costs)
        _walk(planes, maxima, order, self.model, self.bias_correction, encoder, None, options)
        words = encoder.finish()
        return bytes(raw[: HEADER.size]) + bytes(side) + words, len(words), costs

    def decode_block(self, payload: bytes, raw_size: int) -> bytes:
        try:
            channels, bits, height, width = _parse_header(payload)
        except NotApplicable as exc:
            raise CorruptArchive(f"pixel block: {exc}") from None
        if _raw_size(channels, bits, height, width) != raw_size:
            raise CorruptArchive("pixel block header does not match the block size")
        order, maxima = _planes_and_maxima(channels, bits)
        position = HEADER.size
        value_lists: list[np.ndarray | None] = []
        for plane in range(len(order)):
            if position >= len(payload):
                raise CorruptArchive("pixel block truncated in its value maps")
            flag = payload[position]
            position += 1
            if flag == 0:
                value_lists.append(None)
                continue
            if flag != 1:
                raise CorruptArchive("pixel block: bad value-map flag")
            size = (maxima[plane] + 8) // 8
            bitmap = np.frombuffer(payload, dtype=np.uint8, count=size, offset=position) if (
                position + size <= len(payload)) else None  # fmt: skip
            if bitmap is None:
                raise CorruptArchive("pixel block truncated in its value maps")
            position += size
            used = np.unpackbits(bitmap, bitorder="little")[: maxima[plane] + 1].astype(bool)
            if not used.any():
                raise CorruptArchive("pixel block: empty value map")
            value_lists.append(np.flatnonzero(used))
            maxima[plane] = int(used.sum()) - 1
        planes = np.zeros((len(order), height, width), dtype=np.uint8)
        decoder = Decoder(payload[position:], PRECISION_BITS)
        _walk(planes, maxima, order, self.model, self.bias_correction, None, decoder)
        for plane, values in enumerate(value_lists):
            if values is not None:
                planes[plane] = values[planes[plane]]
        raw = bytes(payload[: HEADER.size]) + _join_planes(planes, channels, bits).tobytes()
        if len(raw) != raw_size:
            raise CorruptArchive("pixel block decoded to the wrong size")
        return raw
