"""Integer-exact building blocks for learned predictors: int8 GEMMs, requantisation, LUTs, norms.

Every function here maps integers to integers with a stated rounding rule, so its output is the
same on every machine, for every batch size and thread count (DESIGN.md, "The determinism
contract"). Tensors are torch tensors; two representations are used:

* **int8-valued float32** for matrix-product operands. A product of two int8 values is at most
  2^14; a dot product of K of them stays below 2^24 for K <= 1040, where float32 represents every
  integer, so *any* summation order BLAS picks gives the exact result. Callers keep K in bounds
  (or bound the operands otherwise, like the attention weights that sum to 2^12).
* **int64** for everything else: accumulators after a GEMM, residual streams, fixed-point
  arithmetic. Shifts are arithmetic (floor); rounding is "half up" via ``+ 2^(shift-1)``.

Real-valued scales exist only at export time: :func:`fixed_point` turns a real factor into an
integer multiplier and shift once, and the model file stores the integers.

Reused by the byte transformer, and meant for the pixel model and an integer LLM.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
import torch

INT8_MAX = 127
#: Bits of the fixed-point multipliers (a multiplier is < 2^MULTIPLIER_BITS).
MULTIPLIER_BITS = 30
#: Fractional bits of the RMSNorm gain constant.
NORM_GAIN_FRAC_BITS = 16
#: Attention weights are integers summing to (at most) 2^ATT_WEIGHT_BITS.
ATT_WEIGHT_BITS = 12


@contextmanager
def exact_matmuls() -> Iterator[None]:
    """Forbid reduced-precision float32 GEMMs (TF32 on GPU, bf16 on CPU) while inside.

    Our GEMMs are exact only in true float32 (24-bit significand); "high"/"medium" matmul
    precision would silently round the partial sums.
    """
    previous = torch.get_float32_matmul_precision()
    cuda_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
        torch.backends.cuda.matmul.allow_tf32 = cuda_tf32


# ------------------------------------------------------------------------------------------------
# Export-time helpers: real numbers -> stored integers
# ------------------------------------------------------------------------------------------------


def fixed_point(factor: np.ndarray | float) -> tuple[np.ndarray, int]:
    """Real factor(s) > 0 -> (int64 multiplier(s), shift) with factor ≈ multiplier / 2^shift.

    One shift for the whole array, chosen so the largest multiplier uses MULTIPLIER_BITS bits.
    """
    factor = np.atleast_1d(np.asarray(factor, dtype=np.float64))
    if (factor <= 0).any() or not np.isfinite(factor).all():
        raise ValueError("fixed-point factors must be positive and finite")
    shift = MULTIPLIER_BITS - math.ceil(math.log2(float(factor.max())))
    shift = max(1, min(62, shift))
    multiplier = np.round(factor * 2.0**shift).astype(np.int64)
    return np.maximum(multiplier, 1), shift


def quantize_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(out, in) float weight -> (int8 weight, per-output-channel float64 scale)."""
    weight = np.asarray(weight, dtype=np.float64)
    scale = np.maximum(np.abs(weight).max(axis=1), 1e-8) / INT8_MAX
    quantized = np.clip(np.round(weight / scale[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    return quantized, scale


def gelu_table(in_scale: float, out_scale: float) -> np.ndarray:
    """int8 -> int8 GELU: entry ``i + 128`` is ``round(gelu(i·in_scale) / out_scale)``, clamped."""
    table = np.zeros(256, dtype=np.int64)
    for i in range(-128, 128):
        x = max(i, -INT8_MAX) * in_scale
        gelu = 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))
        table[i + 128] = max(-INT8_MAX, min(INT8_MAX, round(gelu / out_scale)))
    return table


def exp_table(size: int, frac_bits: int, one_bits: int) -> np.ndarray:
    """``round(2^one_bits · exp(-i / 2^frac_bits))`` for i in 0..size-1 (a decreasing int64 table)."""
    return np.array(
        [round(math.ldexp(math.exp(-i / 2.0**frac_bits), one_bits)) for i in range(size)],
        dtype=np.int64,
    )


def norm_gain(dim: int, out_scale: float) -> int:
    """The integer RMSNorm constant for a ``dim``-wide norm whose int8 output has ``out_scale``."""
    return round(math.sqrt(dim) / out_scale * 2.0**NORM_GAIN_FRAC_BITS)


# ------------------------------------------------------------------------------------------------
# Run-time integer operations
# ------------------------------------------------------------------------------------------------


def requantize(acc: torch.Tensor, multiplier: torch.Tensor | int, shift: int) -> torch.Tensor:
    """``round(acc · multiplier / 2^shift)`` (half up) in int64; ``acc`` exact (float32 or int)."""
    acc = acc.to(torch.int64)
    return (acc * multiplier + (1 << (shift - 1))) >> shift


def to_int8(values: torch.Tensor) -> torch.Tensor:
    """Saturate int64 values to [-127, 127] and hand them over as float32 GEMM operands."""
    return values.clamp(-INT8_MAX, INT8_MAX).to(torch.float32)


def isqrt(n: torch.Tensor) -> torch.Tensor:
    """floor(sqrt(n)) for int64 0 <= n < 2^52, exactly.

    float64 holds such n exactly and its sqrt is correctly rounded, so the estimate is off by at
    most one; one integer correction step each way makes it exact.
    """
    root = torch.sqrt(n.to(torch.float64)).floor().to(torch.int64)
    root = root - (root * root > n).to(torch.int64)
    root = root + ((root + 1) * (root + 1) <= n).to(torch.int64)
    return root


def round_div(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """round(numerator / denominator), half up, for int64 with denominator > 0."""
    return torch.div(2 * numerator + denominator, 2 * denominator, rounding_mode="floor")


def rms_norm_int8(x: torch.Tensor, gain: int) -> torch.Tensor:
    """Integer RMSNorm to int8: ``round(x / rms(x) / out_scale)``, as float32 GEMM operand.

    ``x / rms(x) = x·sqrt(d) / sqrt(Σx²)``; ``gain = sqrt(d) / out_scale · 2^16`` (:func:`norm_gain`)
    and ``sqrt(Σx²)`` is the exact integer square root. Needs ``Σx² < 2^52`` and ``|x·gain| < 2^62``.
    """
    sum_squares = (x * x).sum(dim=-1, keepdim=True)
    root = isqrt(sum_squares).clamp(min=1)
    return to_int8(round_div(x * gain, root << NORM_GAIN_FRAC_BITS))


def lookup_int8(values: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Apply a 256-entry int8 -> int8 table (entry ``v + 128``) to int8-valued float32."""
    return table[values.to(torch.int64) + 128].to(torch.float32)


def softmax_weights(
    logits: torch.Tensor, visible: torch.Tensor, exp_lut: torch.Tensor
) -> torch.Tensor:
    """Integer softmax over the last axis: weights ``floor(2^12 · e_j / Σe)``, ``e = LUT[max - l]``.

    ``logits`` are int64 on the LUT's grid; invisible entries get weight 0. The weights of a row
    sum to at most 2^12, so ``weights @ int8`` stays below 2^19 and is exact in float32.
    """
    lowest = torch.iinfo(torch.int64).min // 2
    masked = torch.where(visible, logits, lowest)
    top = masked.amax(dim=-1, keepdim=True)
    gap = (top - masked).clamp(max=exp_lut.numel() - 1)
    weights = exp_lut[gap] * visible
    total = weights.sum(dim=-1, keepdim=True).clamp(min=1)
    return torch.div(weights << ATT_WEIGHT_BITS, total, rounding_mode="floor")


# ------------------------------------------------------------------------------------------------
# Fused CPU kernels (numba): the same integer arithmetic as the torch functions above (which stay
# the reference, and the path for tensors on a GPU), in one pass over memory instead of five or
# ten. Every output element depends on its own row only. Serial on purpose: on a busy two-core
# machine numba's thread pool cost more than it saved (measured), and torch's GEMMs take the cores.
# ------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _requantize_int8_kernel(acc, multiplier, shift, out):  # type: ignore[no-untyped-def]
    rows, cols = acc.shape
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        for c in range(cols):
            value = (np.int64(acc[r, c]) * multiplier[c] + half) >> shift
            out[r, c] = min(INT8_MAX, max(-INT8_MAX, value))


@numba.njit(cache=True)
def _requantize_lookup_kernel(acc, multiplier, shift, table, out):  # type: ignore[no-untyped-def]
    rows, cols = acc.shape
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        for c in range(cols):
            value = (np.int64(acc[r, c]) * multiplier[c] + half) >> shift
            out[r, c] = table[min(INT8_MAX, max(-INT8_MAX, value)) + 128]


@numba.njit(cache=True)
def _requantize_add_kernel(residual, acc, multiplier, shift, limit):  # type: ignore[no-untyped-def]
    rows, cols = acc.shape
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        for c in range(cols):
            value = residual[r, c] + ((np.int64(acc[r, c]) * multiplier[c] + half) >> shift)
            residual[r, c] = min(limit, max(-limit, value))


@numba.njit(cache=True)
def _isqrt_scalar(n):  # type: ignore[no-untyped-def]
    root = np.int64(np.sqrt(np.float64(n)))
    if root * root > n:
        root -= 1
    if (root + 1) * (root + 1) <= n:
        root += 1
    return root


@numba.njit(cache=True)
def _rms_norm_kernel(x, gain, out):  # type: ignore[no-untyped-def]
    rows, cols = x.shape
    for r in range(rows):
        sum_squares = np.int64(0)
        for c in range(cols):
            sum_squares += x[r, c] * x[r, c]
        denominator = max(np.int64(1), _isqrt_scalar(sum_squares)) << NORM_GAIN_FRAC_BITS
        for c in range(cols):
            value = (2 * x[r, c] * gain + denominator) // (2 * denominator)
            out[r, c] = min(INT8_MAX, max(-INT8_MAX, value))


@numba.njit(cache=True)
def _attention_weights_kernel(scores, multiplier, shift, penalty, visible, exp_lut, out):  # type: ignore[no-untyped-def]
    # scores (R, H, T, K) exact q·k; penalty (H, T, K); visible (T, K)
    batch, heads, queries, keys = scores.shape
    half = np.int64(1) << (shift - 1)
    last = exp_lut.shape[0] - 1
    for flat in range(batch * heads):
        n, h = flat // heads, flat % heads
        logits = np.empty(keys, dtype=np.int64)
        for t in range(queries):
            top = np.iinfo(np.int64).min
            for j in range(keys):
                if visible[t, j]:
                    value = ((np.int64(scores[n, h, t, j]) * multiplier + half) >> shift) - penalty[
                        h, t, j
                    ]
                    logits[j] = value
                    top = max(top, value)
            total = np.int64(0)
            for j in range(keys):
                if visible[t, j]:
                    weight = exp_lut[min(last, top - logits[j])]
                    logits[j] = weight
                    total += weight
                else:
                    logits[j] = 0
            total = max(total, np.int64(1))
            for j in range(keys):
                out[n, h, t, j] = (logits[j] << ATT_WEIGHT_BITS) // total


def _as_2d(values: torch.Tensor) -> np.ndarray:
    return values.reshape(-1, values.shape[-1]).contiguous().numpy()


def fused_requantize_int8(acc: torch.Tensor, multiplier: torch.Tensor, shift: int) -> torch.Tensor:
    """``to_int8(requantize(acc, multiplier, shift))`` with a per-column multiplier (…, N)."""
    if not acc.is_cpu:
        return to_int8(requantize(acc, multiplier, shift))
    out = np.empty((acc.numel() // acc.shape[-1], acc.shape[-1]), dtype=np.float32)
    _requantize_int8_kernel(_as_2d(acc), multiplier.numpy(), shift, out)
    return torch.from_numpy(out).reshape(acc.shape)


def fused_requantize_lookup(
    acc: torch.Tensor, multiplier: torch.Tensor, shift: int, table: torch.Tensor
) -> torch.Tensor:
    """``lookup_int8(to_int8(requantize(acc, multiplier, shift)), table)``."""
    if not acc.is_cpu:
        return lookup_int8(to_int8(requantize(acc, multiplier, shift)), table)
    out = np.empty((acc.numel() // acc.shape[-1], acc.shape[-1]), dtype=np.float32)
    _requantize_lookup_kernel(
        _as_2d(acc), multiplier.numpy(), shift, table.to(torch.float32).numpy(), out
    )
    return torch.from_numpy(out).reshape(acc.shape)


def fused_residual_add(
    residual: torch.Tensor, acc: torch.Tensor, multiplier: torch.Tensor, shift: int, limit: int
) -> torch.Tensor:
    """``(residual + requantize(acc, multiplier, shift)).clamp(-limit, limit)``; may update in place."""
    if not acc.is_cpu:
        return (residual + requantize(acc, multiplier, shift)).clamp(-limit, limit)
    residual = residual.contiguous()
    _requantize_add_kernel(
        residual.view(-1, residual.shape[-1]).numpy(), _as_2d(acc), multiplier.numpy(), shift, limit
    )
    return residual


def fused_rms_norm_int8(x: torch.Tensor, gain: int) -> torch.Tensor:
    """:func:`rms_norm_int8` in one pass."""
    if not x.is_cpu:
        return rms_norm_int8(x, gain)
    out = np.empty((x.numel() // x.shape[-1], x.shape[-1]), dtype=np.float32)
    _rms_norm_kernel(_as_2d(x), gain, out)
    return torch.from_numpy(out).reshape(x.shape)


def attention_weights(
    scores: torch.Tensor,
    multiplier: int,
    shift: int,
    penalty: torch.Tensor,
    visible: torch.Tensor,
    exp_lut: torch.Tensor,
) -> torch.Tensor:
    """Integer attention weights from exact ``q·k`` scores (N, H, T, K), as float32 GEMM operands.

    Logit = ``requantize(score) - penalty`` (penalty (H, T, K), e.g. ALiBi), then
    :func:`softmax_weights` over the visible keys (``visible`` (T, K)).
    """
    if not scores.is_cpu:
        logits = requantize(scores, multiplier, shift) - penalty
        return softmax_weights(logits, visible, exp_lut).to(torch.float32)
    out = np.empty(scores.shape, dtype=np.float32)
    _attention_weights_kernel(
        scores.contiguous().numpy(), multiplier, shift, penalty.contiguous().numpy(),
        visible.contiguous().numpy(), exp_lut.numpy(), out,
    )  # fmt: skip
    return torch.from_numpy(out)


@numba.njit(cache=True)
def _requantize_kernel(acc, multiplier, shift, out):  # type: ignore[no-untyped-def]
    rows, cols = acc.shape
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        for c in range(cols):
            out[r, c] = (np.int64(acc[r, c]) * multiplier[c] + half) >> shift


def fused_requantize(acc: torch.Tensor, multiplier: torch.Tensor, shift: int) -> torch.Tensor:
    """:func:`requantize` with a per-column multiplier, in one pass (int64 out)."""
    if not acc.is_cpu:
        return requantize(acc, multiplier, shift)
    out = np.empty((acc.numel() // acc.shape[-1], acc.shape[-1]), dtype=np.int64)
    _requantize_kernel(_as_2d(acc), multiplier.numpy(), shift, out)
    return torch.from_numpy(out).reshape(acc.shape)


@numba.njit(cache=True)
def _freq_table_kernel(logits, exp_lut, precision_bits, out):  # type: ignore[no-untyped-def]
    rows, alphabet = logits.shape
    last = exp_lut.shape[0] - 1
    total = np.int64(1) << precision_bits
    spare = total - alphabet
    scores = np.empty(alphabet, dtype=np.int64)
    for r in range(rows):
        top = logits[r, 0]
        for a in range(alphabet):
            top = max(top, logits[r, a])
        row_sum = np.int64(0)
        best = 0
        for a in range(alphabet):
            scores[a] = exp_lut[min(last, top - logits[r, a])]
            row_sum += scores[a]
            if scores[a] > scores[best]:
                best = a
        used = np.int64(0)
        for a in range(alphabet):
            share = (scores[a] * spare) // row_sum if row_sum > 0 else 0
            out[r, a] = share + 1
            used += share + 1
        out[r, best] += total - used


def logits_to_freq_tables(
    logits: torch.Tensor, exp_lut: torch.Tensor, precision_bits: int
) -> np.ndarray:
    """Integer logits (R, A) -> frequency tables: scores ``exp_lut[max - logit]`` (clamped to the
    table's end), then exactly the rule of :func:`mmcompress.intmath.scores_to_freq_table`."""
    out = np.empty(tuple(logits.shape), dtype=np.uint32)
    _freq_table_kernel(
        logits.cpu().contiguous().numpy(), exp_lut.cpu().numpy(), precision_bits, out
    )
    return out


@dataclass(frozen=True)
class IntLinear:
    """An int8 linear layer: weights (stored transposed, as float32 GEMM operands) and the
    per-output-channel fixed-point factor that maps the exact accumulator to the output's grid."""

    weight_t: torch.Tensor  # (K, N), int8 values
    multiplier: torch.Tensor  # (N,) int64
    shift: int

    @classmethod
    def from_arrays(cls, weight: np.ndarray, multiplier: np.ndarray, shift: int) -> IntLinear:
        weight_t = torch.from_numpy(np.asarray(weight, dtype=np.float32).T.copy())
        return cls(
            weight_t, torch.from_numpy(np.asarray(multiplier, dtype=np.int64).reshape(-1)), shift
        )

    def accumulate(self, x: torch.Tensor) -> torch.Tensor:
        """The exact accumulator x @ W (float32 holding integers < 2^24)."""
        return x @ self.weight_t

    def to_int8(self, x: torch.Tensor) -> torch.Tensor:
        return fused_requantize_int8(self.accumulate(x), self.multiplier, self.shift)

    def to_table(self, x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Requantise to int8, then map through a 256-entry table (e.g. GELU)."""
        return fused_requantize_lookup(self.accumulate(x), self.multiplier, self.shift, table)

    def add_to(self, residual: torch.Tensor, x: torch.Tensor, limit: int) -> torch.Tensor:
        """``residual + output`` on the residual grid, saturated at ±limit."""
        return fused_residual_add(residual, self.accumulate(x), self.multiplier, self.shift, limit)

    def to_int64(self, x: torch.Tensor) -> torch.Tensor:
        return fused_requantize(self.accumulate(x), self.multiplier, self.shift)


# ------------------------------------------------------------------------------------------------
# For models with biases and LayerNorm (the integer GPT-2 of :mod:`.intgpt2`)
# ------------------------------------------------------------------------------------------------

#: Fractional bits of the LayerNorm gain and bias constants.
LAYER_NORM_FRAC_BITS = 16
#: Inner dimension of one exact float32 GEMM piece (int8 × int8 sums of K <= 1040 stay < 2^24).
EXACT_GEMM_K = 1024


def exact_matmul(x: torch.Tensor, weight_t: torch.Tensor) -> torch.Tensor:
    """``x @ weight_t`` for int8-valued float32 operands, exact for any K.

    K <= :data:`EXACT_GEMM_K`: one float32 GEMM (exact, see the module docstring), float32 out.
    Larger K: pieces of EXACT_GEMM_K summed in int64 (int64 out).
    """
    inner = weight_t.shape[0]
    if inner <= EXACT_GEMM_K:
        return x @ weight_t
    total = torch.zeros((*x.shape[:-1], weight_t.shape[1]), dtype=torch.int64, device=x.device)
    for lo in range(0, inner, EXACT_GEMM_K):
        total += (x[..., lo : lo + EXACT_GEMM_K] @ weight_t[lo : lo + EXACT_GEMM_K]).to(torch.int64)
    return total


def isqrt_wide(n: torch.Tensor) -> torch.Tensor:
    """floor(sqrt(n)) for int64 0 <= n < 2^62, exactly: float64's estimate (then the root is
    below 2^31 and off by at most one), corrected one step each way in integers."""
    root = torch.sqrt(n.to(torch.float64)).floor().to(torch.int64)
    root = root - (root * root > n).to(torch.int64)
    root = root + ((root + 1) * (root + 1) <= n).to(torch.int64)
    return root


def layer_norm_int8(
    x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor, eps_term: int
) -> torch.Tensor:
    """Integer LayerNorm to int8 (float32 GEMM operand), the reference for the fused kernel.

    With ``m = round(mean(x))`` (half up) and ``c = x - m``, ``root = isqrt(Σc² + eps_term)``:
    ``out = clamp(round((c·gain + bias·root) / (root · 2^16)))``, i.e. ``γ·(x-μ)/σ + β`` on the
    output grid, where ``gain = γ·sqrt(d)/out_scale·2^16``, ``bias = β/out_scale·2^16`` and
    ``eps_term = d·eps/unit²`` (unit: the grid of x). Needs ``Σc² < 2^62``, ``|c·gain| < 2^61``.
    """
    width = x.shape[-1]
    mean = torch.div(2 * x.sum(dim=-1, keepdim=True) + width, 2 * width, rounding_mode="floor")
    centred = x - mean
    root = isqrt_wide((centred * centred).sum(dim=-1, keepdim=True) + eps_term).clamp(min=1)
    numerator = centred * gain + bias * root
    return to_int8(round_div(numerator, root << LAYER_NORM_FRAC_BITS))


@numba.njit(cache=True)
def _layer_norm_kernel(x, gain, bias, eps_term, out):  # type: ignore[no-untyped-def]
    rows, cols = x.shape
    centred = np.empty(cols, dtype=np.int64)
    for r in range(rows):
        total = np.int64(0)
        for c in range(cols):
            total += x[r, c]
        mean = (2 * total + cols) // (2 * cols)
        sum_squares = np.int64(eps_term)
        for c in range(cols):
            centred[c] = x[r, c] - mean
            sum_squares += centred[c] * centred[c]
        root = max(np.int64(1), _isqrt_scalar(sum_squares))
        denominator = root << LAYER_NORM_FRAC_BITS
        for c in range(cols):
            numerator = centred[c] * gain[c] + bias[c] * root
            value = (2 * numerator + denominator) // (2 * denominator)
            out[r, c] = min(INT8_MAX, max(-INT8_MAX, value))


def fused_layer_norm_int8(
    x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor, eps_term: int
) -> torch.Tensor:
    """:func:`layer_norm_int8` in one pass (CPU); the reference elsewhere."""
    if not x.is_cpu:
        return layer_norm_int8(x, gain, bias, eps_term)
    out = np.empty((x.numel() // x.shape[-1], x.shape[-1]), dtype=np.float32)
    _layer_norm_kernel(_as_2d(x), gain.numpy(), bias.numpy(), eps_term, out)
    return torch.from_numpy(out).reshape(x.shape)


@numba.njit(cache=True)
def _requantize_bias_kernel(acc, bias, multiplier, shift, mode, table, limit, out):  # type: ignore[no-untyped-def]
    # mode 0: int8 out; 1: int8 through table; 2: out += value, saturated at ±limit; 3: int64 out
    rows, cols = acc.shape
    half = np.int64(1) << (shift - 1)
    for r in range(rows):
        for c in range(cols):
            value = ((np.int64(acc[r, c]) + bias[c]) * multiplier[c] + half) >> shift
            if mode == 0:
                out[r, c] = min(INT8_MAX, max(-INT8_MAX, value))
            elif mode == 1:
                out[r, c] = table[min(INT8_MAX, max(-INT8_MAX, value)) + 128]
            elif mode == 2:
                out[r, c] = min(limit, max(-limit, out[r, c] + value))
            else:
                out[r, c] = value


@dataclass(frozen=True)
class IntBiasLinear:
    """An int8 linear layer with a bias: ``round((x @ W + bias) · multiplier / 2^shift)``.

    ``bias`` is int64 on the accumulator's grid (input scale × the channel's weight scale); the
    sum is formed in int64, so it need not fit the float32 GEMM's 2^24. Any K (pieces of 1024).
    """

    weight_t: torch.Tensor  # (K, N), int8 values as float32
    bias: torch.Tensor  # (N,) int64
    multiplier: torch.Tensor  # (N,) int64
    shift: int

    def _run(
        self, x: torch.Tensor, mode: int, table: torch.Tensor | None, out: torch.Tensor, limit: int
    ) -> torch.Tensor:
        acc = exact_matmul(x, self.weight_t)
        if not acc.is_cpu:
            value = requantize(acc.to(torch.int64) + self.bias, self.multiplier, self.shift)
            if mode == 0:
                return to_int8(value)
            if mode == 1:
                assert table is not None
                return lookup_int8(to_int8(value), table)
            if mode == 2:
                return (out + value).clamp(-limit, limit)
            return value
        lookup = (table if table is not None else torch.zeros(256)).to(torch.float32).numpy()
        _requantize_bias_kernel(
            _as_2d(acc), self.bias.numpy(), self.multiplier.numpy(), self.shift, mode, lookup,
            limit, out.view(-1, out.shape[-1]).numpy(),
        )  # fmt: skip
        return out

    def _empty(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return torch.empty((*x.shape[:-1], self.weight_t.shape[1]), dtype=dtype, device=x.device)

    def to_int8(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, 0, None, self._empty(x, torch.float32), 0)

    def to_table(self, x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Requantise to int8, then map through a 256-entry table (e.g. GELU)."""
        return self._run(x, 1, table, self._empty(x, torch.float32), 0)

    def add_to(self, residual: torch.Tensor, x: torch.Tensor, limit: int) -> torch.Tensor:
        """``residual + output`` saturated at ±limit (in place on the CPU)."""
        return self._run(x, 2, None, residual.contiguous(), limit)

    def to_int64(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, 3, None, self._empty(x, torch.int64), 0)
