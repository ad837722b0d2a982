"""The pixel model: features of a pixel's decoded neighbourhood -> (mean correction, scale bin).

For each sub-pixel of a pass (see :mod:`.passes`) the model sees, all as integers:

* its 12 neighbours in the current channel minus the *base prediction* ``b`` (the rounded mean
  of the 4 nearest), two activity sums (inner and outer ring of ``|n - b|``) and the two
  opposite-pair gaps of the inner ring (edge direction);
* for the two channels coded just before this one (coding order G, R, B, A…), the same pixel's
  value and its 4 nearest neighbours relative to that channel's own base, and ``|x - b|`` — this
  is how blue learns from the exact red and green of the same pixel;
* flags: pass kind (diagonal / axis), level (one-hot, capped), which previous channels exist;
* (layout 2, ``features == FEATURES``) the previous channels' outer rings relative to their base.

A small MLP (``FEATURES -> HIDDEN -> HIDDEN -> 2``, ReLU) outputs a mean correction ``mu`` (in
pixel units, added to ``b``) and ``log2 sigma``. The codec (:mod:`mmcompress.predictors.pixel`)
turns ``b + mu`` into an integer prediction and ``log2 sigma`` into one of :data:`SCALE_BINS`
bins whose adaptive rank tables do the coding.

Two forms, side by side:

* **float** (:func:`build_float_model`, torch): trained with weight fake-quantisation and
  activation clamping in the loop, loss = discretised-logistic code length;
* **integer** (:class:`IntPixelModel`, numpy + numba): int8 weights with per-output-channel
  scales, float32 GEMMs on integer-valued operands whose sums stay below 2^24 (so exact in any
  summation order, DESIGN.md's determinism contract), int64 bias and fixed-point requantisation
  (``round half up``), ReLU as a clamp to [0, 127]. No float rounding can differ across machines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from ..predictors.intlayers import INT8_MAX, fixed_point, quantize_weight
from .passes import INNER_RING, NEIGHBOURS

FILE_FORMAT = "mmcompress-pixel-v1"
#: Neighbour differences and activities are clamped to this magnitude (keeps GEMM sums < 2^24).
FEATURE_LIMIT = 1023
#: Flags are fed as 0 / FLAG_VALUE so that their weights share the int8 grid with the rest.
FLAG_VALUE = 64
#: Float model input = integer features / INPUT_DIVISOR.
INPUT_DIVISOR = 64.0
#: Previous channels a pixel is conditioned on.
PREVIOUS_SLOTS = 2
SLOT_FEATURES = 6
LEVEL_FLAGS = 5
#: Inner-ring pairs on opposite sides of the pixel, per pass kind (their |difference| says which
#: way an edge runs, a cue a small ReLU net would otherwise spend units on).
OPPOSITE_PAIRS = (((0, 3), (1, 2)), ((0, 1), (2, 3)))
#: Features of the first layout (models with ``features == BASE_FEATURES`` read only these).
BASE_FEATURES = NEIGHBOURS + 4 + PREVIOUS_SLOTS * SLOT_FEATURES + 1 + LEVEL_FLAGS + PREVIOUS_SLOTS
#: Appended after them: each previous plane's outer ring relative to its base.
OUTER_RING = NEIGHBOURS - INNER_RING
FEATURES = BASE_FEATURES + PREVIOUS_SLOTS * OUTER_RING
#: The integer prediction is in 1/2^PRED_FRAC_BITS pixel units.
PRED_FRAC_BITS = 4
#: Scale bins: bin = round(BINS_PER_OCTAVE · log2 sigma) + BIN_OF_UNIT_SCALE, clamped.
SCALE_BINS = 40
BINS_PER_OCTAVE = 4
BIN_OF_UNIT_SCALE = 8


@dataclass(frozen=True)
class PixelModelConfig:
    features: int = FEATURES
    hidden: int = 64


# ------------------------------------------------------------------------------------------------
# Features (integer, shared by the codec and training)
# ------------------------------------------------------------------------------------------------


def base_prediction(neighbours: np.ndarray) -> np.ndarray:
    """Rounded mean of the inner ring: (NEIGHBOURS, n) -> (n,) int32."""
    inner = neighbours[:INNER_RING].sum(axis=0, dtype=np.int32)
    return (inner + INNER_RING // 2) >> 2


def compute_features(
    neighbours: np.ndarray,
    previous: list[tuple[np.ndarray, np.ndarray]],
    level: int,
    kind: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, FEATURES) int32 and base prediction (n,) int32 of one chunk of one channel.

    ``neighbours`` (NEIGHBOURS, n) are the current channel's; ``previous`` lists, most recent
    first (at most PREVIOUS_SLOTS), ``(neighbours, values)`` of channels already coded here.
    """
    count = neighbours.shape[1]
    base = base_prediction(neighbours)
    out = np.zeros((count, FEATURES), dtype=np.int32)
    diffs = np.clip(neighbours - base, -FEATURE_LIMIT, FEATURE_LIMIT)
    out[:, :NEIGHBOURS] = diffs.T
    magnitude = np.abs(diffs)
    out[:, NEIGHBOURS] = np.minimum(magnitude[:INNER_RING].sum(axis=0), FEATURE_LIMIT)
    out[:, NEIGHBOURS + 1] = np.minimum(magnitude[INNER_RING:].sum(axis=0) >> 1, FEATURE_LIMIT)
    for index, (a, b) in enumerate(OPPOSITE_PAIRS[kind]):
        gap = np.abs(neighbours[a] - neighbours[b])
        out[:, NEIGHBOURS + 2 + index] = np.minimum(gap, FEATURE_LIMIT)
    column = NEIGHBOURS + 4
    for slot, (prev_neighbours, prev_values) in enumerate(previous[:PREVIOUS_SLOTS]):
        prev_base = base_prediction(prev_neighbours)
        first = column + slot * SLOT_FEATURES
        residual = np.clip(prev_values - prev_base, -FEATURE_LIMIT, FEATURE_LIMIT)
        out[:, first] = residual
        out[:, first + 1] = np.abs(residual)
        out[:, first + 2 : first + 2 + INNER_RING] = np.clip(
            prev_neighbours[:INNER_RING] - prev_base, -FEATURE_LIMIT, FEATURE_LIMIT
        ).T
    column += PREVIOUS_SLOTS * SLOT_FEATURES
    out[:, column] = FLAG_VALUE * kind
    out[:, column + 1 + min(level, LEVEL_FLAGS - 1)] = FLAG_VALUE
    for slot in range(min(len(previous), PREVIOUS_SLOTS)):
        out[:, column + 1 + LEVEL_FLAGS + slot] = FLAG_VALUE
    for slot, (prev_neighbours, _) in enumerate(previous[:PREVIOUS_SLOTS]):
        first = BASE_FEATURES + slot * OUTER_RING
        out[:, first : first + OUTER_RING] = np.clip(
            prev_neighbours[INNER_RING:] - base_prediction(prev_neighbours),
            -FEATURE_LIMIT,
            FEATURE_LIMIT,
        ).T
    return out, base


# ------------------------------------------------------------------------------------------------
# Float training form
# ------------------------------------------------------------------------------------------------


def build_float_model(config: PixelModelConfig) -> Any:
    """The torch MLP (imported lazily: the codec itself never needs torch)."""
    import torch
    from torch import nn

    class _RoundSTE(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            return torch.round(x)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            return grad

    class QLinear(nn.Linear):
        """Linear layer whose weights are fake-quantised to int8 per output channel."""

        quantize = False

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            weight = self.weight
            if self.quantize:
                scale = weight.detach().abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / INT8_MAX
                weight = _RoundSTE.apply(weight / scale) * scale
            return nn.functional.linear(x, weight, self.bias)

    class ActClamp(nn.Module):
        """ReLU on an int8 grid: tracks the activation range; rounds to it when quantising."""

        top: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("top", torch.tensor(4.0))
            self.quantize = False

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(x)
            if self.training and not self.quantize:
                observed = torch.quantile(x.detach().flatten()[:65536], 0.9999)
                self.top.mul_(0.98).add_(0.02 * observed.clamp(min=1e-3))
            if self.quantize:
                step = self.top / INT8_MAX
                x = _RoundSTE.apply(torch.minimum(x, self.top) / step) * step
            return x

    class PixelMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = QLinear(config.features, config.hidden)
            self.act1 = ActClamp()
            self.fc2 = QLinear(config.hidden, config.hidden)
            self.act2 = ActClamp()
            self.out = QLinear(config.hidden, 2)
            with torch.no_grad():
                self.out.weight.mul_(0.1)
                self.out.bias.zero_()

        def set_quantize(self, enabled: bool) -> None:
            for module in (self.fc1, self.fc2, self.out, self.act1, self.act2):
                module.quantize = enabled

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            x = features[:, : config.features] / INPUT_DIVISOR
            x = self.act1(self.fc1(x))
            x = self.act2(self.fc2(x))
            return self.out(x)  # (n, 2): mu (pixels), log2 sigma

    return PixelMLP()


def quantize(model: Any) -> dict[str, np.ndarray]:
    """Float model -> the integer tensors :class:`IntPixelModel` runs (export time only)."""
    tensors: dict[str, np.ndarray] = {}
    in_scale = 1.0 / INPUT_DIVISOR
    layers = [(model.fc1, model.act1), (model.fc2, model.act2), (model.out, None)]
    for index, (linear, act) in enumerate(layers, start=1):
        weight = linear.weight.detach().double().numpy()
        bias = linear.bias.detach().double().numpy()
        q_weight, w_scale = quantize_weight(weight)
        acc_scale = in_scale * w_scale  # real value of one accumulator unit, per output
        tensors[f"fc{index}.weight"] = q_weight
        tensors[f"fc{index}.bias"] = np.round(bias / acc_scale).astype(np.int64)
        if act is not None:
            out_scale = float(act.top) / INT8_MAX
            multiplier, shift = fixed_point(acc_scale / out_scale)
            in_scale = out_scale
        else:
            factors = acc_scale * np.array([1 << PRED_FRAC_BITS, BINS_PER_OCTAVE], dtype=np.float64)
            multiplier, shift = fixed_point(factors)
        tensors[f"fc{index}.multiplier"] = multiplier
        tensors[f"fc{index}.shift"] = np.array([shift], dtype=np.int64)
    return tensors


# ------------------------------------------------------------------------------------------------
# Integer inference form
# ------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _dense_relu_kernel(acc, bias, multiplier, shift, out):  # type: ignore[no-untyped-def]
    rows, cols = acc.shape
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        for c in range(cols):
            value = ((np.int64(acc[r, c]) + bias[c]) * multiplier[c] + half) >> shift
            out[r, c] = min(INT8_MAX, max(0, value))


@numba.njit(cache=True)
def _head_kernel(acc, bias, multiplier, shift, mu, scale_bin):  # type: ignore[no-untyped-def]
    rows = acc.shape[0]
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        mu[r] = ((np.int64(acc[r, 0]) + bias[0]) * multiplier[0] + half) >> shift
        b = (((np.int64(acc[r, 1]) + bias[1]) * multiplier[1] + half) >> shift) + BIN_OF_UNIT_SCALE
        scale_bin[r] = min(SCALE_BINS - 1, max(0, b))


def _matmul(x: np.ndarray, weight_t: np.ndarray) -> np.ndarray:
    """float32 GEMM of integer-valued operands (torch's CPU GEMM measured ~2x numpy's here).

    Every partial sum is an integer below 2^24, so the result is exact whatever kernel runs.
    """
    if x.shape[0] < TORCH_GEMM_ROWS:  # small: torch's thread pool costs more than the product
        return x @ weight_t
    import torch

    return (torch.from_numpy(x) @ torch.from_numpy(weight_t)).numpy()


#: Below this many rows the GEMM runs in numpy, above in torch (both exact, see :func:`_matmul`).
TORCH_GEMM_ROWS = 8192


class IntPixelModel:
    """The integer-exact MLP: ``forward(features)`` -> (mu in 1/16 pixel, scale bin)."""

    def __init__(self, config: PixelModelConfig, tensors: dict[str, np.ndarray]) -> None:
        self.config = config
        self.weights_t = [
            np.ascontiguousarray(tensors[f"fc{i}.weight"].astype(np.float32).T) for i in (1, 2, 3)
        ]
        self.biases = [tensors[f"fc{i}.bias"].astype(np.int64) for i in (1, 2, 3)]
        self.multipliers = [tensors[f"fc{i}.multiplier"].astype(np.int64) for i in (1, 2, 3)]
        self.shifts = [int(tensors[f"fc{i}.shift"][0]) for i in (1, 2, 3)]
        #: Learned rank-count priors per scale bin (SCALE_BINS, 256), each row sums to a constant.
        self.rank_priors = tensors["rank_priors"].astype(np.int64)
        self.features = self.weights_t[0].shape[0]
        if self.features not in (BASE_FEATURES, FEATURES) or self.features != config.features:
            raise ValueError("pixel model file does not match a known feature layout")

    @classmethod
    def load(cls, path: Path) -> IntPixelModel:
        from ..models import load_model_file

        config, tensors = load_model_file(path, FILE_FORMAT)
        return cls(PixelModelConfig(**config), tensors)

    def forward(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """features (n, FEATURES) int32 -> mu (n,) int64 in 1/2^PRED_FRAC_BITS, bin (n,) int64."""
        x = features[:, : self.features].astype(np.float32)
        for layer in (0, 1):
            acc = _matmul(x, self.weights_t[layer])  # exact: |sum| < 2^24
            x = np.empty(acc.shape, dtype=np.float32)
            _dense_relu_kernel(
                acc, self.biases[layer], self.multipliers[layer], self.shifts[layer], x
            )
        acc = _matmul(x, self.weights_t[2])
        mu = np.empty(acc.shape[0], dtype=np.int64)
        scale_bin = np.empty(acc.shape[0], dtype=np.int64)
        _head_kernel(acc, self.biases[2], self.multipliers[2], self.shifts[2], mu, scale_bin)
        return mu, scale_bin


def save_int_model(
    path: Path, tensors: dict[str, np.ndarray], config: PixelModelConfig, info: dict[str, Any]
) -> str:
    """Write the integer model as safetensors (config in the metadata); returns its sha256."""
    from ..models import save_model_file

    return save_model_file(path, tensors, FILE_FORMAT, asdict(config), info)
