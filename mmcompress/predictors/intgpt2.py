"""The integer-exact GPT-2: a local ``GPT2LMHeadModel`` converted to integers (``hf-int:PATH``).

A float LLM is not portable (DESIGN.md, "the determinism contract"): :mod:`.hf` records its
environment and refuses another. For the GPT-2 family this module offers the portable option: the
model is converted, when a codec is built, into the integer arithmetic of the built-in byte
transformer (:mod:`.intlayers`), so the tables, and the archive, are the same on every machine,
thread count, batch shape and device::

    tokens ─► wte + wpe (residual grid 2^-R) ─► n_layer × Block ─► LayerNorm ─► tied head ─► tables
                                                   │
       Block: x += c_proj(attention(LN1(x)))     causal, integer softmax weights (sum 2^12)
              x += c_proj(act(c_fc(LN2(x))))     act (GELU "new") as a 256-entry int8 table

* **Weights** int8 with one scale per output channel (:func:`.intlayers.quantize_weight`); biases
  int64 on the accumulator's grid, added in int64 before the fixed-point requantisation.
  Matrix products are float32 GEMMs on int8 values, exact (pieces of K <= 1024 summed in int64).
* **Activations** int8 with one scale per tensor (LayerNorm outputs, q, k, v, the attention
  output, the MLP's input and output of the activation), calibrated in float64 on a fixed text
  (a public-domain excerpt of PEP 8 below, and a sweep over the vocabulary for the residual
  range) and snapped to a grid of 2^(1/8) so that the last bits of float calibration do not
  change them. The residual stream is int64 on a grid of 2^-R, R chosen so that the largest
  calibrated value is 2^20 (saturated at ±2^22).
* **LayerNorm** in integers (:func:`.intlayers.layer_norm_int8`): mean and sum of squares in
  int64, exact integer square root, gain and bias folded into 16-bit fixed point.
* **Attention**: q·k exact, logits on a 2^-5-nat grid, weights from an exp table
  (:func:`.intlayers.attention_weights`), ``weights @ v`` exact.
* **Logits → tables**: the tied head gives logits on a 2^-5-nat grid; an exp table and the rule of
  :func:`~mmcompress.intmath.scores_to_freq_table` make tables over the whole vocabulary, every id
  >= 1, total 2^24 (the coder's most); special and unused ids get the floor only.

Conversion uses float arithmetic once (weight scales, calibration). The calibration's outcome is
integers (each activation scale's exponent on the 2^(k/steps) grid, the residual stream's
fractional bits) recorded in the archive, so unpack runs no float forward: its conversion is
elementwise arithmetic on the same weights. Its result is hashed (``int_sha256``) and recorded
too, and unpack checks that its own conversion gives the same integers. Unlike :mod:`.hf`, nothing about torch, the device or threads is recorded or checked.

**Coding** is :mod:`.exacttokens`' (shared with the integer Llama of :mod:`.intllama`) over
:mod:`.hf`'s :class:`~.hf.TokenCodec` (same tokenization, byte path, payload, segments in
lockstep, BOS restarts with ``overlap`` tokens when a segment's context reaches ``window``
positions). Because the model is exact, the encoder evaluates each window span of all segments
at once (teacher forcing) while the decoder steps with a KV cache: the same tables.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from einops import rearrange

from ..errors import CorruptArchive, InputError, UnsupportedFormat
from . import hfenv
from . import intlayers as il
from .exacttokens import PRECISION_BITS, ExactTokenCodec
from .hf import (
    DEFAULT_MIN_SEGMENT_TOKENS,
    DEFAULT_SEGMENT_COUNT,
    import_transformers,
    load_options,
    load_tokenizer,
    torch_threads,
)

VERSION = 1
#: Activation scales are snapped to powers of 2^(1/SCALE_STEPS_PER_OCTAVE).
SCALE_STEPS_PER_OCTAVE = 8
#: The calibrated largest residual value maps to 2^RESIDUAL_BITS on the residual grid...
RESIDUAL_BITS = 20
#: ... and the residual stream saturates at ±2^RESIDUAL_LIMIT_BITS.
RESIDUAL_LIMIT_BITS = 22
#: Attention logits on a 2^-5-nat grid; the exp table covers 0..32 nats.
ATT_LOGIT_FRAC_BITS = 5
ATT_EXP_LUT_SIZE = 1024
#: Output logits on a 2^-5-nat grid; the exp table covers 0..32 nats.
LOGIT_FRAC_BITS = 5
LOGIT_EXP_LUT_SIZE = 1024
#: Calibration: at most this many tokens of the text, and of the vocabulary sweep.
CALIBRATION_TOKENS = 2048

#: Calibration text: PEP 8 ("A Foolish Consistency..."), placed in the public domain by its
#: authors (python/peps, as samples/pep-0008.rst). Changing it changes every conversion.
CALIBRATION_TEXT = """A Foolish Consistency is the Hobgoblin of Little Minds
======================================================

One of Guido's key insights is that code is read much more often than
it is written.  The guidelines provided here are intended to improve
the readability of code and make it consistent across the wide
spectrum of Python code.  As :pep:`20` says, "Readability counts".

A style guide is about consistency.  Consistency with this style guide
is important.  Consistency within a project is more important.
Consistency within one module or function is the most important.

However, know when to be inconsistent -- sometimes style guide
recommendations just aren't applicable.  When in doubt, use your best
judgment.  Look at other examples and decide what looks best.  And
don't hesitate to ask!

In particular: do not break backwards compatibility just to comply with
this PEP!

Some other good reasons to ignore a particular guideline:

1. When applying the guideline would make the code less readable, even
   for someone who is used to reading code that follows this PEP.

2. To be consistent with surrounding code that also breaks it (maybe
   for historic reasons) -- although this is also an opportunity to
   clean up someone else's mess (in true XP style).

3. Because the code in question predates the introduction of the
   guideline and there is no other reason to be modifying that code.

4. When the code needs to remain compatible with older versions of
   Python that don't support the feature recommended by the style guide.


"""
CALIBRATION_NAME = "pep8-foolish-consistency+vocab/1"


@dataclass(frozen=True)
class QuantSettings:
    """What decides the conversion besides the model (recorded in the archive)."""

    calibration: str = CALIBRATION_NAME
    calibration_tokens: int = CALIBRATION_TOKENS
    scale_steps_per_octave: int = SCALE_STEPS_PER_OCTAVE
    residual_bits: int = RESIDUAL_BITS
    residual_limit_bits: int = RESIDUAL_LIMIT_BITS
    att_logit_frac_bits: int = ATT_LOGIT_FRAC_BITS
    logit_frac_bits: int = LOGIT_FRAC_BITS
    precision_bits: int = PRECISION_BITS


# ------------------------------------------------------------------------------------------------
# Conversion: float GPT-2 -> integer tensors
# ------------------------------------------------------------------------------------------------


def snap_exponent(absmax: float, steps: int) -> int:
    """k of the int8 scale for values up to ``absmax``: ``absmax / 127`` rounded up to
    2^(k/steps)."""
    return math.ceil(steps * math.log2(max(absmax, 1e-6) / il.INT8_MAX))


def snap_scale(absmax: float, steps: int) -> float:
    """The int8 scale for values up to ``absmax``: ``absmax / 127`` rounded up to 2^(k/steps)."""
    return float(2.0 ** (snap_exponent(absmax, steps) / steps))


def check_gpt2(model: Any) -> None:
    """InputError unless ``model`` is a GPT-2 whose every part has an integer counterpart here."""
    config = model.config
    if getattr(config, "model_type", None) != "gpt2":
        raise InputError(
            f"the portable integer path knows GPT-2 models only, not {config.model_type!r}: "
            "use --model hf:PATH (float, environment-checked)"
        )
    if not getattr(config, "scale_attn_weights", True):
        raise InputError(
            "GPT-2 without attention scaling (scale_attn_weights=False) is not supported"
        )
    width = config.n_embd
    if width % config.n_head or width > 4096:
        raise InputError(f"GPT-2 width {width} / {config.n_head} heads is not supported")


def _calibration_sequences(
    tokenizer: Any, token_bytes: list[bytes | None], bos: int, length: int, count: int
) -> tuple[list[list[int]], list[list[int]]]:
    """(text sequences, vocabulary sequences), each BOS + up to ``length - 1`` tokens."""
    ids = tokenizer.backend_tokenizer.encode(CALIBRATION_TEXT, add_special_tokens=False).ids
    usable = [index for index, piece in enumerate(token_bytes) if piece]
    stride = max(1, len(usable) // count)
    sweep = usable[::stride][:count]

    def cut(tokens: list[int]) -> list[list[int]]:
        return [[bos, *tokens[i : i + length - 1]] for i in range(0, len(tokens), length - 1)]

    return cut(list(ids[:count])), cut(sweep)


def _calibrate(model: Any, text: list[list[int]], sweep: list[list[int]]) -> dict[str, float]:
    """Absolute maxima of every quantised activation (float64 forward of the text), and of the
    residual stream (text and vocabulary sweep)."""
    stats: dict[str, float] = {"residual": 0.0}
    hooks = []
    recording = {"on": True}

    def note(name: str, value: torch.Tensor) -> None:
        if recording["on"]:
            stats[name] = max(stats.get(name, 0.0), float(value.detach().abs().max()))

    def output_hook(name: str) -> Any:
        return lambda module, args, output: note(name, output)

    def input_hook(name: str) -> Any:
        return lambda module, args: note(name, args[0])

    def residual_hook(module: Any, args: Any) -> None:
        stats["residual"] = max(stats["residual"], float(args[0].detach().abs().max()))

    width = model.config.n_embd
    for index, block in enumerate(model.transformer.h):
        p = f"h.{index}"
        hooks += [
            block.ln_1.register_forward_hook(output_hook(f"{p}.ln_1")),
            block.ln_2.register_forward_hook(output_hook(f"{p}.ln_2")),
            block.attn.c_proj.register_forward_pre_hook(input_hook(f"{p}.attn_out")),
            block.mlp.c_fc.register_forward_hook(output_hook(f"{p}.fc")),
            block.mlp.c_proj.register_forward_pre_hook(input_hook(f"{p}.act")),
            block.ln_1.register_forward_pre_hook(residual_hook),
            block.ln_2.register_forward_pre_hook(residual_hook),
        ]
        for part, lo in (("q", 0), ("k", width), ("v", 2 * width)):
            hooks.append(
                block.attn.c_attn.register_forward_hook(
                    lambda module, args, output, name=f"{p}.{part}", lo=lo: note(
                        name, output[..., lo : lo + width]
                    )
                )
            )
    hooks += [
        model.transformer.ln_f.register_forward_hook(output_hook("ln_f")),
        model.transformer.ln_f.register_forward_pre_hook(residual_hook),
    ]
    try:
        with torch.no_grad():
            for sequence in text:
                model.transformer(input_ids=torch.tensor([sequence]))
            recording["on"] = False
            for sequence in sweep:
                model.transformer(input_ids=torch.tensor([sequence]))
    finally:
        for hook in hooks:
            hook.remove()
    return stats


def convert(
    model: Any,
    tokenizer: Any,
    token_bytes: list[bytes | None],
    bos: int,
    settings: QuantSettings,
    calibration: dict[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The integer tensors of a float ``GPT2LMHeadModel`` (see the module docstring) and its
    calibration: the activation scales' exponents on the 2^(k/steps) grid and the residual
    stream's fractional bits, integers that archives record. Given ``calibration`` (from an
    archive), no float forward runs: the conversion is then elementwise arithmetic only, the
    same on every machine."""
    check_gpt2(model)
    model = model.to(torch.float64).eval()
    config = model.config
    width, heads = config.n_embd, config.n_head
    steps = settings.scale_steps_per_octave
    wte = model.transformer.wte.weight.detach().double().numpy()
    wpe = model.transformer.wpe.weight.detach().double().numpy()
    if calibration is None:
        length = min(int(config.n_positions), 256)
        text, sweep = _calibration_sequences(
            tokenizer, token_bytes, bos, length, settings.calibration_tokens
        )
        stats = _calibrate(model, text, sweep)
        peak = max(stats["residual"], float(np.abs(wte).max()) + float(np.abs(wpe).max()))
        calibration = {
            "exponents": {
                name: snap_exponent(value, steps)
                for name, value in sorted(stats.items())
                if name != "residual"
            },
            "residual_frac_bits": math.floor(settings.residual_bits - math.log2(max(peak, 1e-6))),
        }
    try:
        exponents = {str(k): int(v) for k, v in calibration["exponents"].items()}
        residual_frac_bits = int(calibration["residual_frac_bits"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptArchive(f"integer GPT-2 calibration record is malformed: {exc}") from None

    def scale(name: str) -> float:
        if name not in exponents:
            raise CorruptArchive(f"integer GPT-2 calibration record lacks {name!r}")
        return float(2.0 ** (exponents[name] / steps))

    unit = 2.0**-residual_frac_bits
    out: dict[str, np.ndarray] = {}

    def scalar(value: int) -> np.ndarray:
        return np.array(value, dtype=np.int64)

    def linear(prefix: str, layer: Any, in_scale: float, out_scales: np.ndarray | float) -> None:
        weight = layer.weight.detach().double().numpy().T  # Conv1D holds (in, out)
        quantized, weight_scale = il.quantize_weight(weight)
        multiplier, shift = il.fixed_point(in_scale * weight_scale / out_scales)
        bias = getattr(layer, "bias", None)
        bias_values = np.zeros(len(weight)) if bias is None else bias.detach().double().numpy()
        out[f"{prefix}.weight"] = quantized
        out[f"{prefix}.bias"] = np.round(bias_values / (in_scale * weight_scale)).astype(np.int64)
        out[f"{prefix}.multiplier"] = multiplier
        out[f"{prefix}.shift"] = scalar(shift)

    def layer_norm(prefix: str, norm: Any, out_scale: float) -> None:
        gain = norm.weight.detach().double().numpy() * math.sqrt(width) / out_scale
        bias = norm.bias.detach().double().numpy() / out_scale
        out[f"{prefix}.gain"] = np.round(gain * 2.0**il.LAYER_NORM_FRAC_BITS).astype(np.int64)
        out[f"{prefix}.bias"] = np.round(bias * 2.0**il.LAYER_NORM_FRAC_BITS).astype(np.int64)
        out[f"{prefix}.eps_term"] = scalar(round(width * norm.eps / unit**2))

    out["wte"] = np.round(wte / unit).astype(np.int64)
    out["wpe"] = np.round(wpe / unit).astype(np.int64)
    out["residual_frac_bits"] = scalar(residual_frac_bits)
    out["residual_limit_bits"] = scalar(settings.residual_limit_bits)
    head_dim = width // heads
    inverse_layer = bool(getattr(config, "scale_attn_by_inverse_layer_idx", False))
    act_values = torch.arange(-128, 128, dtype=torch.float64).clamp(min=-il.INT8_MAX)
    for index, block in enumerate(model.transformer.h):
        p = f"h.{index}"
        s_ln1, s_q, s_k, s_v = (scale(f"{p}.{n}") for n in ("ln_1", "q", "k", "v"))
        layer_norm(f"{p}.ln_1", block.ln_1, s_ln1)
        qkv_scales = np.concatenate([np.full(width, s_q), np.full(width, s_k), np.full(width, s_v)])
        linear(f"{p}.c_attn", block.attn.c_attn, s_ln1, qkv_scales)
        softmax_scale = 1.0 / math.sqrt(head_dim) / (index + 1 if inverse_layer else 1)
        qk_multiplier, qk_shift = il.fixed_point(
            s_q * s_k * softmax_scale * 2.0**settings.att_logit_frac_bits
        )
        out[f"{p}.qk.multiplier"], out[f"{p}.qk.shift"] = qk_multiplier, scalar(qk_shift)
        s_y = scale(f"{p}.attn_out")
        av_multiplier, av_shift = il.fixed_point(s_v * 2.0**-il.ATT_WEIGHT_BITS / s_y)
        out[f"{p}.av.multiplier"], out[f"{p}.av.shift"] = av_multiplier, scalar(av_shift)
        linear(f"{p}.attn_proj", block.attn.c_proj, s_y, unit)
        s_ln2, s_h, s_g = (scale(f"{p}.{n}") for n in ("ln_2", "fc", "act"))
        layer_norm(f"{p}.ln_2", block.ln_2, s_ln2)
        linear(f"{p}.c_fc", block.mlp.c_fc, s_ln2, s_h)
        with torch.no_grad():
            activated = block.mlp.act(act_values * s_h).numpy()
        out[f"{p}.act_table"] = np.clip(np.round(activated / s_g), -il.INT8_MAX, il.INT8_MAX)
        out[f"{p}.act_table"] = out[f"{p}.act_table"].astype(np.int64)
        linear(f"{p}.mlp_proj", block.mlp.c_proj, s_g, unit)
    s_f = scale("ln_f")
    layer_norm("ln_f", model.transformer.ln_f, s_f)
    head = model.lm_head.weight.detach().double().numpy()  # (vocabulary, width): tied to wte
    quantized, head_scale = il.quantize_weight(head)
    multiplier, shift = il.fixed_point(s_f * head_scale * 2.0**settings.logit_frac_bits)
    out["head.weight"], out["head.multiplier"], out["head.shift"] = (
        quantized,
        multiplier,
        scalar(shift),
    )
    out["head.bias"] = np.zeros(len(head), dtype=np.int64)
    out["att_exp_table"] = il.exp_table(ATT_EXP_LUT_SIZE, settings.att_logit_frac_bits, 15)
    out["logit_exp_table"] = il.exp_table(LOGIT_EXP_LUT_SIZE, settings.logit_frac_bits, 20)
    return out, calibration


def tensors_sha256(tensors: dict[str, np.ndarray]) -> str:
    """Content hash of integer tensors: name, dtype, shape and bytes of each, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------
# The integer model
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntGPT2Block:
    ln_1: tuple[torch.Tensor, torch.Tensor, int]  # gain, bias, eps_term
    c_attn: il.IntBiasLinear
    qk_multiplier: int
    qk_shift: int
    av_multiplier: torch.Tensor  # (width,) all equal
    av_shift: int
    attn_proj: il.IntBiasLinear
    ln_2: tuple[torch.Tensor, torch.Tensor, int]
    c_fc: il.IntBiasLinear
    act_table: torch.Tensor
    mlp_proj: il.IntBiasLinear


class IntGPT2Cache:
    """Per layer, the int8 keys and values (as float32) of every position seen, (N, H, L, hs)."""

    def __init__(self, layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * layers
        self.values: list[torch.Tensor | None] = [None] * layers
        self.length = 0

    def reset(self) -> None:
        """Empty, for the next window span."""
        self.keys = [None] * len(self.keys)
        self.values = [None] * len(self.values)
        self.length = 0


class IntGPT2:
    """The integer GPT-2 built from :func:`convert`'s tensors (see the module docstring)."""

    def __init__(self, tensors: dict[str, np.ndarray], heads: int, positions: int) -> None:
        self.heads, self.positions = heads, positions

        def scalar(name: str) -> int:
            return int(np.asarray(tensors[name]).reshape(-1)[0])

        def table(name: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(tensors[name]).astype(np.int64))

        def linear(prefix: str) -> il.IntBiasLinear:
            weight = np.asarray(tensors[f"{prefix}.weight"], dtype=np.float32)
            return il.IntBiasLinear(
                torch.from_numpy(weight.T.copy()),
                table(f"{prefix}.bias"),
                table(f"{prefix}.multiplier").reshape(-1),
                scalar(f"{prefix}.shift"),
            )

        def norm(prefix: str) -> tuple[torch.Tensor, torch.Tensor, int]:
            return table(f"{prefix}.gain"), table(f"{prefix}.bias"), scalar(f"{prefix}.eps_term")

        self.wte, self.wpe = table("wte"), table("wpe")
        self.width = self.wte.shape[1]
        self.blocks: list[IntGPT2Block] = []
        index = 0
        while f"h.{index}.ln_1.gain" in tensors:
            p = f"h.{index}"
            av = np.full(self.width, scalar(f"{p}.av.multiplier"), dtype=np.int64)
            self.blocks.append(
                IntGPT2Block(
                    ln_1=norm(f"{p}.ln_1"),
                    c_attn=linear(f"{p}.c_attn"),
                    qk_multiplier=scalar(f"{p}.qk.multiplier"),
                    qk_shift=scalar(f"{p}.qk.shift"),
                    av_multiplier=torch.from_numpy(av),
                    av_shift=scalar(f"{p}.av.shift"),
                    attn_proj=linear(f"{p}.attn_proj"),
                    ln_2=norm(f"{p}.ln_2"),
                    c_fc=linear(f"{p}.c_fc"),
                    act_table=table(f"{p}.act_table"),
                    mlp_proj=linear(f"{p}.mlp_proj"),
                )
            )
            index += 1
        self.ln_f = norm("ln_f")
        self.head = linear("head")
        self.att_exp_table = table("att_exp_table")
        self.logit_exp_table = table("logit_exp_table")
        self.residual_limit = 1 << scalar("residual_limit_bits")

    def new_cache(self) -> IntGPT2Cache:
        return IntGPT2Cache(len(self.blocks))

    def forward(self, tokens: torch.Tensor, cache: IntGPT2Cache) -> torch.Tensor:
        """tokens (N, T) at the next T positions -> the final LayerNorm's int8 output (N, T, d).

        ``cache`` holds the earlier positions (the same N rows) and is advanced by T. Exact: a
        row's result depends neither on the other rows nor on how its sequence was cut into calls.
        """
        rows, count = tokens.shape
        start = cache.length
        if start + count > self.positions:
            raise ValueError(f"positions {start}..{start + count - 1} exceed {self.positions}")
        keys_total = start + count
        query_positions = torch.arange(start, keys_total)
        visible = torch.arange(keys_total)[None, :] <= query_positions[:, None]  # (T, keys)
        penalty = torch.zeros((self.heads, count, keys_total), dtype=torch.int64)
        with il.exact_matmuls():
            x = self.wte[tokens] + self.wpe[query_positions][None]  # (N, T, d) int64
            for index, block in enumerate(self.blocks):
                qkv = block.c_attn.to_int8(il.fused_layer_norm_int8(x, *block.ln_1))
                q, k, v = (
                    rearrange(t, "n t (h e) -> n h t e", h=self.heads) for t in qkv.chunk(3, dim=-1)
                )
                old_k, old_v = cache.keys[index], cache.values[index]
                if old_k is not None and old_v is not None:
                    k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
                cache.keys[index], cache.values[index] = k, v
                scores = q @ k.transpose(-2, -1)  # (N, nh, T, keys), exact
                weights = il.attention_weights(
                    scores, block.qk_multiplier, block.qk_shift, penalty, visible,
                    self.att_exp_table,
                )  # fmt: skip
                y = rearrange(weights @ v, "n h t e -> n t (h e)")  # exact: weights sum to 2^12
                y = il.fused_requantize_int8(y, block.av_multiplier, block.av_shift)
                x = block.attn_proj.add_to(x, y, self.residual_limit)
                h = block.c_fc.to_table(il.fused_layer_norm_int8(x, *block.ln_2), block.act_table)
                x = block.mlp_proj.add_to(x, h, self.residual_limit)
            hidden = il.fused_layer_norm_int8(x, *self.ln_f)
        cache.length = keys_total
        return hidden

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """int8 hidden rows (R, d) -> int64 logits (R, vocabulary) on the 2^-5-nat grid."""
        with il.exact_matmuls():
            return self.head.to_int64(hidden)


# ------------------------------------------------------------------------------------------------
# The codec
# ------------------------------------------------------------------------------------------------


class IntGPT2Codec(ExactTokenCodec):
    """Codes text blocks with a local GPT-2 run in integers: portable archives (module docstring)."""

    kind: ClassVar[str] = "hf-int"

    def __init__(
        self,
        path: str | Path,
        *,
        window: int | None = None,
        overlap: int | None = None,
        segment_count: int = DEFAULT_SEGMENT_COUNT,
        min_segment_tokens: int = DEFAULT_MIN_SEGMENT_TOKENS,
        settings: QuantSettings | None = None,
        threads: int | None = None,
        calibration: dict[str, Any] | None = None,
    ) -> None:
        """``threads``: torch's thread count while coding (a speed knob only, not recorded: the
        tables do not depend on it); default 1, fastest for these small steps on a busy CPU.
        ``calibration``: an archive's record of the activation scales (None: calibrate)."""
        self._setup_model_folder(path, threads, segment_count, min_segment_tokens)
        self.settings = settings or QuantSettings()
        if self.settings.precision_bits != PRECISION_BITS:
            raise UnsupportedFormat(f"integer GPT-2 tables of {self.settings.precision_bits} bits")
        config_path = self.folder / "config.json"
        model_type = (
            json.loads(config_path.read_text()).get("model_type") if config_path.is_file() else None
        )
        if model_type != "gpt2":
            raise InputError(
                f"{self.folder}: the portable integer path knows GPT-2 models only (config.json "
                f"model_type 'gpt2'), not {model_type!r}: use --model hf:PATH (float)"
            )
        transformers = import_transformers()
        options = load_options(self.folder)
        self.tokenizer = load_tokenizer(self.folder, options)
        try:
            float_model = transformers.GPT2LMHeadModel.from_pretrained(
                self.folder, dtype=torch.float32, **options
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{self.folder}: not a GPT-2 model transformers loads: {exc}"
            ) from None
        self._setup_vocabulary(int(float_model.lm_head.weight.shape[0]))
        positions, heads = int(float_model.config.n_positions), int(float_model.config.n_head)
        self._setup_window(window, overlap, positions)
        with torch.no_grad(), torch_threads(self.threads):
            tensors, self.calibration = convert(
                float_model,
                self.tokenizer,
                self.token_bytes,
                self.bos_id,
                self.settings,
                calibration,
            )
        del float_model
        self.int_sha256 = tensors_sha256(tensors)
        self.model = IntGPT2(tensors, heads=heads, positions=positions)

    # --- configs --------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "id": self.kind,
            "version": VERSION,
            "path": str(self.folder),
            "model_sha256": self.model_sha256,
            "tokenizer_sha256": self.tokenizer_sha256,
            "int_sha256": self.int_sha256,
            "window": self.window,
            "overlap": self.overlap,
            "segment_count": self.segment_count,
            "min_segment_tokens": self.min_segment_tokens,
            "quantisation": asdict(self.settings),
            "calibration": self.calibration,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> IntGPT2Codec:
        """Rebuild the archive's codec: same model and tokenizer (hashes), same integers."""
        if config.get("version") != VERSION:
            raise UnsupportedFormat(f"integer GPT-2 codec version {config.get('version')!r}")
        try:
            path, window, overlap = (
                str(config["path"]),
                int(config["window"]),
                int(config["overlap"]),
            )
            segments, min_tokens = int(config["segment_count"]), int(config["min_segment_tokens"])
            settings = QuantSettings(**config["quantisation"])
            int_sha256 = str(config["int_sha256"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptArchive(f"integer GPT-2 codec config is incomplete: {exc}") from None
        if settings.calibration != CALIBRATION_NAME:
            raise UnsupportedFormat(f"calibration {settings.calibration!r} is not known here")
        options = hfenv.current_decode_options()
        wanted = options.model_path or path
        try:
            folder = hfenv.model_folder(wanted)
        except InputError:
            raise cls.missing_model("GPT-2 model", wanted, config) from None
        here = {
            "model_sha256": hfenv.model_sha256(folder),
            "tokenizer_sha256": hfenv.tokenizer_sha256(folder),
        }
        # Only the model's files are compared: the integer path does not depend on the machine.
        hfenv.check_environment({key: config.get(key) for key in here}, here, options.force)
        codec = cls(
            folder, window=window, overlap=overlap, segment_count=segments,
            min_segment_tokens=min_tokens, settings=settings,
            calibration=config.get("calibration"),
        )  # fmt: skip
        if (codec.window, codec.overlap) != (window, overlap):
            raise UnsupportedFormat("archive's window does not fit this model's positions")
        codec.check_integers(int_sha256, options.force)
        return codec


__all__ = [
    "IntGPT2",
    "IntGPT2Codec",
    "QuantSettings",
    "convert",
    "snap_scale",
    "tensors_sha256",
]
