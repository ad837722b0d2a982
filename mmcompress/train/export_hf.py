"""Export the byte transformer (models/bytefmr-s-*.safetensors) as a ``transformers`` model folder.

So that the LLM path (``--model hf:PATH``, :mod:`mmcompress.predictors.hf`) can be measured on a
model trained here, the integer byte transformer is rewritten as a standard MPT model
(``MptForCausalLM``: ALiBi with the same power-of-two slopes, pre-norm blocks, GELU MLP, no
biases), loadable with ``AutoModelForCausalLM.from_pretrained(PATH)``, no remote code, plus a
byte-level tokenizer whose token ``i`` is byte ``i`` (GPT-2's byte alphabet) and ``<|bos|>`` = 256.

The weights come from the integer model file itself, de-quantised: an int8 weight times its
fixed-point multiplier gives the float weight up to the activation scales, and those are folded
in (the RMSNorm gains give the input scales, the attention and output multipliers the rest; the
GELU scale is read back from the GELU table). How the two architectures are made to agree:

* **RMSNorm without gain as LayerNorm.** MPT normalises with LayerNorm (mean removed). The
  residual stream is doubled and mirrored, x' = [x, -x] (width 2d): its mean is 0 and its mean
  square is that of x, so LayerNorm(x') = [x, -x] / rms(x) exactly. Layers that read the stream
  read the first half; layers that write it write +Δ and -Δ. The residual is kept in the integer
  model's units (2^-12), which a norm does not see.
* **Heads** are zero-padded from 32 to 64 dimensions (MPT's head size is width / heads); the
  attention scale of each layer is folded into its query weights (softmax_scale = 1).
* **MLP** width 4·d becomes MPT's 4·(2d) with zero rows and columns.
* **Tag** embedding of text (tag 1) is added to every byte embedding: the export is the text model.

What differs from the integer model (so bits per byte differ a little):

* no sliding-window mask: MPT attends to the whole context; the LLM codec's ``window`` bounds it
  instead (docs/LLM.md measures window 128 and 256);
* float arithmetic instead of int8 activations, integer softmax and table GELU, and ALiBi
  penalties exact instead of floored to 1/16 nat;
* the BOS id (256) gets a logit of 0 from a zero head row (the codec never codes it anyway).

Run: ``python -m mmcompress.train.export_hf [MODEL.safetensors] OUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..predictors import intlayers as il
from ..predictors.hf import bytes_to_unicode
from ..predictors.transformer import (
    ATT_LOGIT_FRAC_BITS,
    BOS,
    BYTE_COUNT,
    LOGIT_FRAC_BITS,
    TransformerConfig,
)
from ..tags import TAGS

BOS_TOKEN = "<|bos|>"
#: MPT's positions (the ALiBi table size): the codec's default window is min(512, this).
MAX_SEQ_LEN = 256


def _load(path: Path) -> tuple[TransformerConfig, dict[str, np.ndarray]]:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata() or {}
    config = TransformerConfig(**json.loads(metadata["config"]))
    return config, load_file(str(path))


def _scalar(tensors: dict[str, np.ndarray], name: str) -> float:
    return float(np.asarray(tensors[name]).reshape(-1)[0])


def _real_weight(tensors: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    """int8 weight × multiplier / 2^shift, per output row: maps input units to output units."""
    weight = tensors[f"{prefix}.weight"].astype(np.float64)
    multiplier = np.asarray(tensors[f"{prefix}.multiplier"], dtype=np.float64).reshape(-1, 1)
    return weight * multiplier / 2.0 ** _scalar(tensors, f"{prefix}.shift")


def _norm_scale(d: int, gain: float) -> float:
    """The int8 output scale of an integer RMSNorm with this gain (inverse of il.norm_gain)."""
    return math.sqrt(d) / gain * 2.0**il.NORM_GAIN_FRAC_BITS


def _gelu_scales(table: np.ndarray) -> tuple[float, float]:
    """(in_scale, out_scale) of an int8 GELU table, fitted back from its entries.

    For each candidate in scale (a log grid), the least-squares out scale, then the candidate
    whose rounded table differs least from the stored one.
    """
    entries = torch.tensor(np.asarray(table, dtype=np.float64))
    inputs = torch.arange(-128, 128, dtype=torch.float64).clamp(min=-il.INT8_MAX)
    in_scales = torch.logspace(-4, 0, 4000, dtype=torch.float64)[:, None]
    x = inputs[None, :] * in_scales  # (candidates, 256)
    gelu = 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    out_scales = (gelu @ entries) / (entries @ entries).clamp(min=1e-30)  # (candidates,)
    valid = out_scales > 0
    rebuilt = torch.round(gelu / out_scales.clamp(min=1e-30)[:, None]).clamp(-127, 127)
    error = (rebuilt - entries[None, :]).abs().sum(dim=1).masked_fill(~valid, math.inf)
    best = int(torch.argmin(error))
    return float(in_scales[best, 0]), float(out_scales[best])


def mpt_state(config: TransformerConfig, tensors: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The MPT state dict equivalent to the integer model (see the module docstring)."""
    d, heads, head_dim = config.d_model, config.n_head, config.head_dim
    width, padded_head = 2 * d, 2 * d // heads
    hidden = config.mlp_mult * d

    def writer(delta: np.ndarray) -> np.ndarray:  # (d, k) -> (2d, k): write +Δ and -Δ
        return np.concatenate([delta, -delta], axis=0)

    def reader(weight: np.ndarray) -> np.ndarray:  # (k, d) -> (k, 2d): read the first half
        return np.concatenate([weight, np.zeros_like(weight)], axis=1)

    def pad_heads(weight: np.ndarray) -> np.ndarray:  # (h·e, k) -> (h·2e', k) zero-padded
        out = np.zeros((heads, padded_head, weight.shape[1]))
        out[:, :head_dim] = weight.reshape(heads, head_dim, -1)
        return out.reshape(heads * padded_head, -1)

    state: dict[str, np.ndarray] = {}
    text_tag = TAGS["text"]
    embedding = tensors["tok_emb"].astype(np.float64) + tensors["tag_emb"][text_tag]
    state["transformer.wte.weight"] = writer(embedding.T).T  # (257, 2d)
    for index in range(config.n_layer):
        p, q = f"blocks.{index}", f"transformer.blocks.{index}"
        s_in = _norm_scale(d, _scalar(tensors, f"{p}.attn_norm_gain"))
        qkv = _real_weight(tensors, f"{p}.qkv") / s_in  # normalised input -> int8 q, k, v units
        wq, wk, wv = np.split(qkv, 3, axis=0)
        logit_scale = _scalar(tensors, f"{p}.qk.multiplier") / 2.0 ** (
            _scalar(tensors, f"{p}.qk.shift") + ATT_LOGIT_FRAC_BITS
        )
        value_scale = (
            _scalar(tensors, f"{p}.av.multiplier")
            * 2.0**il.ATT_WEIGHT_BITS
            / 2.0 ** _scalar(tensors, f"{p}.av.shift")
        )
        wq, wv = wq * logit_scale, wv * value_scale  # q·k in nats; v in attention-output units
        state[f"{q}.attn.Wqkv.weight"] = np.concatenate(
            [reader(pad_heads(w)) for w in (wq, wk, wv)], axis=0
        )
        proj = _real_weight(tensors, f"{p}.proj")  # attention-output units -> residual units
        proj_padded = np.zeros((d, heads, padded_head))
        proj_padded[:, :, :head_dim] = proj.reshape(d, heads, head_dim)
        state[f"{q}.attn.out_proj.weight"] = writer(proj_padded.reshape(d, width))
        s_m = _norm_scale(d, _scalar(tensors, f"{p}.mlp_norm_gain"))
        s_h, s_g = _gelu_scales(tensors[f"{p}.gelu_table"])
        up = np.zeros((4 * width, width))
        up[:hidden] = reader(_real_weight(tensors, f"{p}.fc") / s_m * s_h)  # -> real GELU input
        down = np.zeros((width, 4 * width))
        down[:, :hidden] = writer(_real_weight(tensors, f"{p}.fc2") / s_g)  # real -> residual
        state[f"{q}.ffn.up_proj.weight"], state[f"{q}.ffn.down_proj.weight"] = up, down
        state[f"{q}.norm_1.weight"] = state[f"{q}.norm_2.weight"] = np.ones(width)
    state["transformer.norm_f.weight"] = np.ones(width)
    s_f = _norm_scale(d, _scalar(tensors, "head_norm_gain"))
    head = _real_weight(tensors, "head") / s_f / 2.0**LOGIT_FRAC_BITS  # -> logits in nats
    state["lm_head.weight"] = np.concatenate([reader(head), np.zeros((1, width))], axis=0)
    return {name: torch.tensor(value, dtype=torch.float32) for name, value in state.items()}


def byte_tokenizer() -> object:
    """A byte-level tokenizer: token i is byte i (GPT-2's alphabet), no merges, BOS = 256."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {char: byte for byte, char in bytes_to_unicode().items()}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([BOS_TOKEN])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=BOS_TOKEN, eos_token=BOS_TOKEN
    )


def export(model_file: Path, out: Path) -> Path:
    """Write the MPT folder for ``model_file`` to ``out``; returns ``out``."""
    from transformers import MptConfig, MptForCausalLM

    config, tensors = _load(model_file)
    mpt_config = MptConfig(
        d_model=2 * config.d_model,
        n_heads=config.n_head,
        n_layers=config.n_layer,
        expansion_ratio=4,
        max_seq_len=MAX_SEQ_LEN,
        vocab_size=BYTE_COUNT + 1,
        no_bias=True,
        layer_norm_epsilon=1e-5,
        attn_config={"alibi": True, "alibi_bias_max": 8, "softmax_scale": 1.0},
        tie_word_embeddings=False,
        bos_token_id=BOS,
        eos_token_id=BOS,
    )
    model = MptForCausalLM(mpt_config)
    missing, unexpected = model.load_state_dict(mpt_state(config, tensors), strict=False)
    if unexpected or [name for name in missing if not name.endswith(".bias")]:
        raise RuntimeError(f"state mismatch: missing {missing}, unexpected {unexpected}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    byte_tokenizer().save_pretrained(out)  # type: ignore[attr-defined]
    (out / "README.md").write_text(
        f"MPT export of {model_file.name} by mmcompress.train.export_hf (see its docstring for "
        "what differs from the integer model). Licence: as the mmcompress models.\n"
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmcompress.train.export_hf",
        description="Export the integer byte transformer as a transformers (MPT) model folder.",
    )
    parser.add_argument(
        "model", nargs="?", type=Path, help="default: models/bytefmr-s-*.safetensors"
    )
    parser.add_argument("out", type=Path, help="output folder")
    args = parser.parse_args(argv)
    model_file = args.model
    if model_file is None:
        found = sorted(Path(__file__).resolve().parents[2].glob("models/bytefmr-s-*.safetensors"))
        if not found:
            parser.error("no models/bytefmr-s-*.safetensors: name the model file")
        model_file = found[0]
    export(model_file, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
