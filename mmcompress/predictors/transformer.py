"""The byte transformer: a small causal transformer over bytes, trained in float, run in integers.

The model (nanoGPT-shaped, sized for two CPU cores)::

    bytes ─► byte embedding + tag embedding ─► n_layer × Block ─► RMSNorm ─► head ─► 256 logits
                                                  │
              Block:  x += proj(attention(RMSNorm(x)))     sliding-window causal attention,
                      x += fc2(GELU(fc(RMSNorm(x))))       ALiBi with power-of-two slopes

Position 0 of every segment holds a BOS token, so the first byte is predicted from nothing but the
tag (the modality / language conditioning id, also added to every position). Attention sees the last
``window`` positions only and knows where they are through ALiBi (Press et al. 2022, "Train Short,
Test Long"): a per-head penalty ``slope_h × distance``, slopes ``2^-8(h+1)/H``. That needs no
position table, works for any length, and in integers is a shift.

Two paths live side by side in this file:

* **Float, for training** (:class:`ByteTransformerModel`): ordinary PyTorch with fake quantisation
  in the loop (quantisation-aware training, straight-through estimators): int8 weights with one
  scale per output channel, int8 activations with per-tensor scales tracked by an EMA of their
  absolute maximum, attention logits on the same 1/16-nat grid as the integer exp table.
* **Integer, for coding** (:class:`IntByteTransformer`): what :func:`quantize` exports. Every number
  is an integer: int8 weights and activations, a residual stream of integers in units of 2^-12
  (saturated at ±2^20), fixed-point requantisation, table lookups for GELU and exp, softmax as
  integer weights summing to 2^12, RMSNorm by an exact integer square root, and the output logits
  (2^-5-nat grid) turned into frequency tables by an exp table and the rule of
  :func:`~mmcompress.intmath.scores_to_freq_table`. Matrix products run as float32 GEMMs on integer
  values whose partial sums stay below 2^24, so they are exact whatever BLAS does (see
  :mod:`.intlayers`). The result does not depend on batch size, thread count, how the sequence is
  cut into calls, or the machine: the determinism contract of DESIGN.md.

Sizes and the measured trade-off are in ``models/README.md``; the default ("s") is d=128, 4 layers,
4 heads, window 128 (0.85 M parameters, a 1 MB model file).

:class:`ByteTransformer` is the :class:`~mmcompress.predictors.base.Predictor`: the encoder evaluates a
whole chunk of steps for all segments at once (teacher forcing), the decoder steps with a ring-buffer
KV cache; both run the same integer ``forward`` and so give the same tables bit for bit.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from ..errors import ModelMissing
from ..intmath import scores_to_freq_table
from ..segments import Segmentation
from . import intlayers as il
from .base import Predictor, PredictorSession

#: Byte symbols 0..255, plus the begin-of-segment token.
BYTE_COUNT = 256
BOS = 256
#: The residual stream is held in integers of this many fractional bits.
RESIDUAL_FRAC_BITS = 12
#: Attention logits live on a grid of 2^-4 nats; the softmax exp table covers 0..16 nats.
ATT_LOGIT_FRAC_BITS = 4
ATT_EXP_LUT_SIZE = 256
#: Output logits live on a grid of 2^-5 nats; the exp table covers 0..32 nats in 1024 steps.
LOGIT_FRAC_BITS = 5
LOGIT_EXP_LUT_SIZE = 1024
#: Every frequency table sums to 2^PRECISION_BITS.
PRECISION_BITS = 20
#: Format of the integer model file; bump when the meaning of a stored tensor changes.
FILE_FORMAT = "mmcompress-bytefmr-int8/1"


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int = 128
    n_layer: int = 4
    n_head: int = 4
    window: int = 128  # attention sees this many positions, the current one included
    mlp_mult: int = 4
    n_tags: int = 16

    def __post_init__(self) -> None:
        if self.d_model % self.n_head or 8 % self.n_head:
            raise ValueError("n_head must divide d_model and 8 (power-of-two ALiBi slopes)")
        # int8 x int8 products summed over K terms stay below 2^24 (exact in float32) for K <= 1040.
        if self.d_model * self.mlp_mult > 1024:
            raise ValueError("d_model * mlp_mult must be <= 1024 for exact float32 GEMMs")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head


def alibi_penalty(config: TransformerConfig) -> torch.Tensor:
    """(n_head, window) int64: ALiBi penalty in 2^-4 nats for distances 0..window-1.

    Head h has slope 2^-s with s = 8(h+1)/H; the penalty ``floor(distance × 2^(4-s))`` is exact
    integer arithmetic, and the float model trains with these very numbers.
    """
    distance = torch.arange(config.window, dtype=torch.int64)
    rows = []
    for head in range(config.n_head):
        shift = 8 * (head + 1) // config.n_head
        rows.append((distance << ATT_LOGIT_FRAC_BITS) >> shift)
    return torch.stack(rows)


# ------------------------------------------------------------------------------------------------
# Float path (training), with fake quantisation
# ------------------------------------------------------------------------------------------------

INT8_MAX = 127


class _FakeQuant(torch.autograd.Function):
    """Round to the int8 grid ``scale × [-127, 127]`` forward, identity backward (STE)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return (x / scale).round_().clamp_(-INT8_MAX, INT8_MAX).mul_(scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def fake_quant(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Round to the int8 grid ``scale × [-127, 127]`` forward, identity backward (STE)."""
    return _FakeQuant.apply(x, scale.detach())  # type: ignore[no-any-return]


def weight_scale(weight: torch.Tensor) -> torch.Tensor:
    """Per-output-channel int8 scale: the row's absolute maximum maps to 127."""
    return weight.detach().abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / INT8_MAX


class ActQuant(nn.Module):
    """Fake int8 quantisation of an activation with one scale, tracked as an EMA of its |max|."""

    absmax: torch.Tensor

    def __init__(self, momentum: float = 0.02) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("absmax", torch.zeros(()))

    @property
    def scale(self) -> torch.Tensor:
        return self.absmax.clamp(min=1e-6) / INT8_MAX

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                seen = x.detach().abs().amax()
                if self.absmax.item() == 0.0:
                    self.absmax.copy_(seen)
                else:
                    self.absmax.lerp_(seen, self.momentum)
        return fake_quant(x, self.scale)


class QLinear(nn.Linear):
    """A bias-free linear layer whose weights are fake-quantised to int8 per output channel."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, fake_quant(self.weight, weight_scale(self.weight)))


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    # No gain: the next linear layer's per-channel weights absorb it (one fewer thing to quantise).
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + 1e-8)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round forward, identity backward."""
    return _RoundSTE.apply(x)  # type: ignore[no-any-return]


class CausalSelfAttention(nn.Module):
    alibi: torch.Tensor

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.n_head = config.n_head
        self.qkv = QLinear(config.d_model, 3 * config.d_model)
        self.proj = QLinear(config.d_model, config.d_model)
        self.q_quant, self.k_quant, self.v_quant = ActQuant(), ActQuant(), ActQuant()
        self.out_quant = ActQuant()
        self.register_buffer("alibi", alibi_penalty(config), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = self.q_quant(q), self.k_quant(k), self.v_quant(v)
        q, k, v = (rearrange(t, "b t (h e) -> b h t e", h=self.n_head) for t in (q, k, v))
        # Logits on the integer path's grid of 2^-4 nats, minus the ALiBi penalty.
        grid = float(1 << ATT_LOGIT_FRAC_BITS)
        scores = (q @ k.transpose(-2, -1)) * (grid / math.sqrt(q.shape[-1]))  # (B, nh, T, T)
        # ALiBi penalty and the sliding-window causal mask as one additive bias, on the same grid.
        distance = torch.arange(T)[:, None] - torch.arange(T)[None, :]
        visible = (distance >= 0) & (distance < self.config.window)
        penalty = self.alibi[:, distance.clamp(0, self.config.window - 1)].to(scores.dtype)
        bias = (-penalty).masked_fill(~visible, float("-inf"))  # (nh, T, T)
        logits = (round_ste(scores) + bias) / grid
        y = torch.softmax(logits, dim=-1) @ v  # (B, nh, T, hs)
        y = self.out_quant(rearrange(y, "b h t e -> b t (h e)"))
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        hidden = config.mlp_mult * config.d_model
        self.fc = QLinear(config.d_model, hidden)
        self.fc2 = QLinear(hidden, config.d_model)
        self.gelu_in_quant, self.gelu_out_quant = ActQuant(), ActQuant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The integer path maps int8 -> int8 through a 256-entry GELU table: same grid here.
        h = self.gelu_out_quant(F.gelu(self.gelu_in_quant(self.fc(x))))
        return self.fc2(h)


class Block(nn.Module):
    attn: CausalSelfAttention
    mlp: MLP

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attn_in_quant = ActQuant()
        self.attn = CausalSelfAttention(config)
        self.mlp_in_quant = ActQuant()
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_in_quant(rms_norm(x)))
        x = x + self.mlp(self.mlp_in_quant(rms_norm(x)))
        return x


class ByteTransformerModel(nn.Module):
    """The float model used for training (fake-quantised); :func:`quantize` makes it integer."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(BYTE_COUNT + 1, config.d_model)
        self.tag_emb = nn.Embedding(config.n_tags, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.head_in_quant = ActQuant()
        self.head = QLinear(config.d_model, BYTE_COUNT)
        self.apply(self._init_weights)
        # Scaled init of the layers that write into the residual stream (GPT-2 / nanoGPT).
        for name, param in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("fc2.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, tokens: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) in 0..256 (256 = BOS), tags (B,) -> logits (B, T, 256) for the next byte."""
        x = self.tok_emb(tokens) + self.tag_emb(tags)[:, None, :]  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return self.head(self.head_in_quant(rms_norm(x)))


# ------------------------------------------------------------------------------------------------
# Integer path (coding): export, the integer model, its KV cache
# ------------------------------------------------------------------------------------------------


def quantize(model: ByteTransformerModel) -> dict[str, np.ndarray]:
    """The float model's integer twin: every tensor the integer forward needs, as numpy integers.

    Real-valued scales are used here, once, and turned into integer multipliers / shifts / tables
    (:mod:`.intlayers`); the integer model never sees a float scale.
    """
    config = model.config
    residual_unit = 2.0**-RESIDUAL_FRAC_BITS
    out: dict[str, np.ndarray] = {}

    def scale_of(act: ActQuant) -> float:
        return float(act.scale)

    def linear(
        prefix: str, layer: QLinear, in_scale: float, out_scales: np.ndarray | float
    ) -> None:
        weight, weight_scale_ = il.quantize_weight(layer.weight.detach().cpu().numpy())
        multiplier, shift = il.fixed_point(in_scale * weight_scale_ / out_scales)
        out[f"{prefix}.weight"] = weight
        out[f"{prefix}.multiplier"] = multiplier
        out[f"{prefix}.shift"] = np.array(shift, dtype=np.int64)

    def embedding(table: torch.Tensor) -> np.ndarray:
        return np.round(table.detach().cpu().double().numpy() / residual_unit).astype(np.int32)

    out["tok_emb"] = embedding(model.tok_emb.weight)
    out["tag_emb"] = embedding(model.tag_emb.weight)
    d = config.d_model
    blocks: list[Block] = list(model.blocks)  # type: ignore[arg-type]
    for index, block in enumerate(blocks):
        p = f"blocks.{index}"
        attn, mlp = block.attn, block.mlp
        s_in, s_q, s_k, s_v = (
            scale_of(a) for a in (block.attn_in_quant, attn.q_quant, attn.k_quant, attn.v_quant)
        )
        out[f"{p}.attn_norm_gain"] = np.array(il.norm_gain(d, s_in), dtype=np.int64)
        qkv_out_scales = np.concatenate([np.full(d, s_q), np.full(d, s_k), np.full(d, s_v)])
        linear(f"{p}.qkv", attn.qkv, s_in, qkv_out_scales)
        qk_multiplier, qk_shift = il.fixed_point(
            s_q * s_k / math.sqrt(config.head_dim) * 2.0**ATT_LOGIT_FRAC_BITS
        )
        out[f"{p}.qk.multiplier"], out[f"{p}.qk.shift"] = (
            qk_multiplier,
            np.array(qk_shift, dtype=np.int64),
        )
        s_y = scale_of(attn.out_quant)
        av_multiplier, av_shift = il.fixed_point(s_v * 2.0**-il.ATT_WEIGHT_BITS / s_y)
        out[f"{p}.av.multiplier"], out[f"{p}.av.shift"] = (
            av_multiplier,
            np.array(av_shift, dtype=np.int64),
        )
        linear(f"{p}.proj", attn.proj, s_y, residual_unit)
        s_m, s_h, s_g = (
            scale_of(a) for a in (block.mlp_in_quant, mlp.gelu_in_quant, mlp.gelu_out_quant)
        )
        out[f"{p}.mlp_norm_gain"] = np.array(il.norm_gain(d, s_m), dtype=np.int64)
        linear(f"{p}.fc", mlp.fc, s_m, s_h)
        out[f"{p}.gelu_table"] = il.gelu_table(s_h, s_g)
        linear(f"{p}.fc2", mlp.fc2, s_g, residual_unit)
    s_f = scale_of(model.head_in_quant)
    out["head_norm_gain"] = np.array(il.norm_gain(d, s_f), dtype=np.int64)
    linear("head", model.head, s_f, 2.0**-LOGIT_FRAC_BITS)
    out["att_exp_table"] = il.exp_table(ATT_EXP_LUT_SIZE, ATT_LOGIT_FRAC_BITS, 15)
    out["logit_exp_table"] = il.exp_table(LOGIT_EXP_LUT_SIZE, LOGIT_FRAC_BITS, 20)
    return out


def save_int_model(
    path: Path, tensors: dict[str, np.ndarray], config: TransformerConfig, info: dict[str, Any]
) -> str:
    """Write the integer model as safetensors (config in the metadata); returns its sha256."""
    from ..models import save_model_file

    return save_model_file(path, tensors, FILE_FORMAT, asdict(config), info)


class KVCache:
    """Per layer, the int8 keys and values of the last ``window`` positions of every segment.

    A ring buffer: position p lives in slot ``p % window``. The values are int8 but held as float32,
    the operand type of the attention GEMMs: the decoder's step is bound by reading this cache, and
    a conversion per step would cost more than the 4x memory (a fused int8 kernel measured slower).
    """

    def __init__(self, config: TransformerConfig, rows: int) -> None:
        shape = (rows, config.n_head, config.window, config.head_dim)
        self.keys = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.values = [torch.zeros(shape) for _ in range(config.n_layer)]
        self.window = config.window
        self.length = 0  # positions seen so far (all rows advance in lockstep)

    def slot_positions(self) -> torch.Tensor:
        """(window,) absolute position held by each slot, -1 where the slot is still empty."""
        slots = torch.arange(self.window)
        last = self.length - 1
        positions = last - torch.remainder(last - slots, self.window)
        return torch.where(positions >= 0, positions, -1)


@dataclass(frozen=True)
class IntBlock:
    """One transformer block's integers (see :func:`quantize` for how each is made)."""

    attn_norm_gain: int
    qkv: il.IntLinear
    qk_multiplier: int  # exact q·k -> logits on the 2^-4-nat grid
    qk_shift: int
    av_multiplier: torch.Tensor  # (d,) all equal: attention weights @ values -> int8
    av_shift: int
    proj: il.IntLinear
    mlp_norm_gain: int
    fc: il.IntLinear
    gelu_table: torch.Tensor
    fc2: il.IntLinear


class IntByteTransformer:
    """The integer-exact byte transformer (see the module docstring); built from :func:`quantize`."""

    def __init__(self, config: TransformerConfig, tensors: dict[str, np.ndarray]) -> None:
        self.config = config

        def scalar(name: str) -> int:
            return int(np.asarray(tensors[name]).reshape(-1)[0])

        def table(name: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(tensors[name]).astype(np.int64))

        def linear(prefix: str) -> il.IntLinear:
            weight, multiplier = tensors[f"{prefix}.weight"], tensors[f"{prefix}.multiplier"]
            return il.IntLinear.from_arrays(weight, multiplier, scalar(f"{prefix}.shift"))

        self.tok_emb, self.tag_emb = table("tok_emb"), table("tag_emb")
        self.blocks: list[IntBlock] = []
        for index in range(config.n_layer):
            p = f"blocks.{index}"
            # The attention output has one multiplier; spread over its columns for the fused kernel.
            av_multiplier = np.full(config.d_model, scalar(f"{p}.av.multiplier"), dtype=np.int64)
            self.blocks.append(
                IntBlock(
                    attn_norm_gain=scalar(f"{p}.attn_norm_gain"),
                    qkv=linear(f"{p}.qkv"),
                    qk_multiplier=scalar(f"{p}.qk.multiplier"),
                    qk_shift=scalar(f"{p}.qk.shift"),
                    av_multiplier=torch.from_numpy(av_multiplier),
                    av_shift=scalar(f"{p}.av.shift"),
                    proj=linear(f"{p}.proj"),
                    mlp_norm_gain=scalar(f"{p}.mlp_norm_gain"),
                    fc=linear(f"{p}.fc"),
                    gelu_table=table(f"{p}.gelu_table"),
                    fc2=linear(f"{p}.fc2"),
                )
            )
        self.head_norm_gain = scalar("head_norm_gain")
        self.head = linear("head")
        self.att_exp_table = table("att_exp_table")
        self.logit_exp_table = table("logit_exp_table")
        self.alibi = alibi_penalty(config)

    @classmethod
    def load(cls, path: Path) -> IntByteTransformer:
        from ..models import load_model_file

        config, tensors = load_model_file(path, FILE_FORMAT)
        return cls(TransformerConfig(**config), tensors)

    def new_cache(self, rows: int) -> KVCache:
        return KVCache(self.config, rows)

    def forward(self, tokens: torch.Tensor, tags: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """tokens (N, T) int64 at the next T positions of N segments -> logits (N, T, 256) int64.

        Logits are on a grid of 2^-5 nats. ``cache`` (N or more rows; rows beyond N are left
        alone) holds the previous positions and is advanced by T. Exact: the result of a row never
        depends on the other rows, on T, or on how the sequence was cut into calls.
        """
        config, window = self.config, self.config.window
        rows, count = tokens.shape
        slot_positions = cache.slot_positions()
        new_positions = torch.arange(cache.length, cache.length + count)
        single = count == 1  # decoder step: write the new key first, attend over the ring only
        key_positions = (
            slot_positions.clone() if single else torch.cat([slot_positions, new_positions])
        )
        if single:
            key_positions[cache.length % window] = cache.length
        distance = new_positions[:, None] - key_positions[None, :]  # (T, keys)
        visible = (key_positions[None, :] >= 0) & (distance >= 0) & (distance < window)
        penalty = self.alibi[:, distance.clamp(0, window - 1)]  # (nh, T, keys)
        residual_limit = 1 << (RESIDUAL_FRAC_BITS + 8)

        with il.exact_matmuls():
            x = self.tok_emb[tokens] + self.tag_emb[tags][:, None, :]  # (N, T, d) int64
            for index, block in enumerate(self.blocks):
                # --- attention ---
                qkv = block.qkv.to_int8(il.fused_rms_norm_int8(x, block.attn_norm_gain))
                q, k, v = (
                    rearrange(t, "n t (h e) -> n h t e", h=config.n_head)
                    for t in qkv.chunk(3, dim=-1)
                )
                ring_k, ring_v = cache.keys[index][:rows], cache.values[index][:rows]
                if single:  # decoder: write the new key first, attend over the ring only
                    slot = cache.length % window
                    ring_k[:, :, slot : slot + 1] = k
                    ring_v[:, :, slot : slot + 1] = v
                    keys, values = ring_k, ring_v
                else:  # encoder: T queries against the cache and each other
                    keys, values = torch.cat([ring_k, k], dim=2), torch.cat([ring_v, v], dim=2)
                scores = q @ keys.transpose(-2, -1)  # (N, nh, T, keys), exact
                weights = il.attention_weights(
                    scores,
                    block.qk_multiplier,
                    block.qk_shift,
                    penalty,
                    visible,
                    self.att_exp_table,
                )
                y = rearrange(
                    weights @ values, "n h t e -> n t (h e)"
                )  # exact: weights sum to <= 2^12
                y = il.fused_requantize_int8(y, block.av_multiplier, block.av_shift)
                x = block.proj.add_to(x, y, residual_limit)
                if not single:  # keep the last `window` new positions, each in its slot
                    kept = torch.arange(max(0, count - window), count)
                    slots = (cache.length + kept) % window
                    ring_k[:, :, slots] = k[:, :, kept]
                    ring_v[:, :, slots] = v[:, :, kept]
                # --- MLP ---
                h = block.fc.to_table(
                    il.fused_rms_norm_int8(x, block.mlp_norm_gain), block.gelu_table
                )
                x = block.fc2.add_to(x, h, residual_limit)
            logits = self.head.to_int64(il.fused_rms_norm_int8(x, self.head_norm_gain))
        cache.length += count
        return logits

    def freq_tables(self, logits: torch.Tensor) -> np.ndarray:
        """Logits (..., 256) on the 2^-5-nat grid -> frequency tables summing to 2^PRECISION_BITS."""
        return il.logits_to_freq_tables(logits, self.logit_exp_table, PRECISION_BITS)

    def freq_tables_reference(self, logits: torch.Tensor) -> np.ndarray:
        """:meth:`freq_tables` spelled out with torch and :func:`scores_to_freq_table` (for tests)."""
        gap = (logits.amax(dim=-1, keepdim=True) - logits).clamp(max=LOGIT_EXP_LUT_SIZE - 1)
        return scores_to_freq_table(self.logit_exp_table[gap].numpy(), PRECISION_BITS)


# ------------------------------------------------------------------------------------------------
# The predictor
# ------------------------------------------------------------------------------------------------

#: The encoder path evaluates about this many (segment, position) pairs per forward call: enough
#: to keep the GEMMs busy, few enough to bound the attention's memory. The cut never changes a table.
ENCODER_TOKENS_PER_CALL = 8192


def positions_per_call(rows: int) -> int:
    """Positions per forward call for ``rows`` segments: 32 for 256 segments, up to 256 for few."""
    return max(32, min(256, ENCODER_TOKENS_PER_CALL // max(1, rows)))


class ByteTransformerSession(PredictorSession):
    def __init__(self, model: IntByteTransformer, segmentation: Segmentation, tag: int) -> None:
        super().__init__(segmentation)
        self.model = model
        rows = segmentation.segment_count
        self.cache = model.new_cache(rows)
        # The next input token of each segment: BOS first, then the symbol coded last.
        self.pending = torch.full((rows,), BOS, dtype=torch.int64)
        self.tags = torch.full((rows,), tag, dtype=torch.int64)
        self.lengths = torch.from_numpy(segmentation.lengths())
        self._tables: np.ndarray | None = None

    def predict(self) -> np.ndarray:
        if self._tables is None:
            active = self.segmentation.active(self.step)
            logits = self.model.forward(self.pending[:active, None], self.tags[:active], self.cache)
            self._tables = self.model.freq_tables(logits[:, 0])
        return self._tables

    def update(self, symbols: np.ndarray) -> None:
        active = self.segmentation.active(self.step)
        if len(symbols) != active:
            raise ValueError(f"step {self.step} codes {active} symbols, got {len(symbols)}")
        self.predict()  # the forward for this step must have run: it fills the cache
        self.pending[:active] = torch.from_numpy(np.asarray(symbols, dtype=np.int64))
        self.step += 1
        self._tables = None

    def tables_for(self, symbols: np.ndarray, first_step: int, last_step: int) -> np.ndarray:
        if first_step != self.step:
            raise ValueError("tables_for must continue where the session stands")
        seg = self.segmentation
        base = seg.step_offset(first_step)
        if last_step <= first_step:
            return np.zeros((0, BYTE_COUNT), dtype=np.uint32)
        if self._tables is not None:  # predict() already ran this step's forward
            head = self._tables
            self.update(symbols[: len(head)])
            rest = self.tables_for(symbols[len(head) :], first_step + 1, last_step)
            return np.concatenate([head, rest]) if len(rest) else head
        steps = torch.arange(first_step, last_step)
        valid = steps[:, None] < self.lengths[None, :]  # (T, B), coding order when read row-major
        grid = torch.zeros(valid.shape, dtype=torch.int64)
        grid[valid] = torch.from_numpy(np.asarray(symbols, dtype=np.int64))
        inputs = torch.cat([self.pending[None, :], grid[:-1]]).T  # (B, T): what each position sees
        out = np.empty((seg.step_offset(last_step) - base, BYTE_COUNT), dtype=np.uint32)
        per_call = positions_per_call(len(self.pending))
        for lo in range(0, last_step - first_step, per_call):
            hi = min(lo + per_call, last_step - first_step)
            logits = self.model.forward(inputs[:, lo:hi], self.tags, self.cache)  # (B, t, 256)
            logits = logits.transpose(0, 1)[valid[lo:hi]]  # (symbols, 256) in coding order
            start = seg.step_offset(first_step + lo) - base
            out[start : start + len(logits)] = self.model.freq_tables(logits)
        self.pending = grid[-1].clone()
        self.step = last_step
        return out


class ByteTransformer(Predictor):
    """Predictor over bytes with the integer byte transformer; ``config()`` names the weights' sha256."""

    kind: ClassVar[str] = "bytefmr"
    alphabet_size = BYTE_COUNT
    precision_bits = PRECISION_BITS
    segment_count = 256
    min_segment_length = 2048

    def __init__(self, model: IntByteTransformer, name: str = "", sha256: str = "") -> None:
        self.model = model
        self.name = name
        self.sha256 = sha256

    @classmethod
    def from_file(cls, path: Path, name: str | None = None) -> ByteTransformer:
        path = Path(path)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        return cls(IntByteTransformer.load(path), name or path.stem.rsplit("-", 1)[0], sha256)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ByteTransformer:
        """Find the weights named by ``config["sha256"]`` in models/; ModelMissing if absent."""
        from ..models import models_dir, read_manifest

        name, sha256 = str(config.get("name", "?")), str(config.get("sha256", ""))
        if len(sha256) != 64:
            raise ValueError("byte transformer config lacks the model's sha256")
        folder = models_dir()
        candidates = [
            folder / r["file"]
            for r in read_manifest()
            if r.get("sha256") == sha256 and r.get("file")
        ]
        candidates += sorted(folder.glob(f"*-{sha256[:8]}.safetensors"))
        for path in candidates:
            if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                predictor = cls.from_file(path, name)
                predictor.segment_count = int(config.get("segment_count", cls.segment_count))
                predictor.min_segment_length = int(
                    config.get("min_segment_length", cls.min_segment_length)
                )
                return predictor
        raise ModelMissing(f"model {name!r} (sha256 {sha256[:16]}…) is not installed in {folder}")

    def config(self) -> dict[str, Any]:
        return {"id": self.kind, "version": 1, "name": self.name, "sha256": self.sha256,
                "segment_count": self.segment_count, "min_segment_length": self.min_segment_length}  # fmt: skip

    def start(self, segmentation: Segmentation, tag: int = 0) -> ByteTransformerSession:
        if not 0 <= tag < self.model.config.n_tags:
            raise ValueError(f"tag {tag} is outside 0..{self.model.config.n_tags - 1}")
        return ByteTransformerSession(self.model, segmentation, tag)
