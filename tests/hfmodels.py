"""Tiny models built locally for the LLM tests (test_hf, test_intgpt2, test_intllama, test_bench).

Nothing is downloaded: a byte-level BPE tokenizer trained on samples/pep-0008.rst, and a 2-layer
GPT-2 (d=32) or a 2-layer Llama (d=64, grouped-query attention, written as a Q4_1 GGUF like
SmolLM2's), optionally trained for a few steps on one passage of that file, enough to beat zstd
on the passage so that archives really use the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEP8 = ROOT / "samples" / "pep-0008.rst"
#: The passage the tiny model learns (and then codes well).
PASSAGE = PEP8.read_bytes()[2000:4000]
TRAIN_STEPS = 100


def _train_bpe() -> tuple[Any, Any]:
    """(ByteLevelBPETokenizer, GPT2TokenizerFast) trained on PEP 8, vocabulary 400."""
    import tokenizers
    from transformers import GPT2TokenizerFast

    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [PEP8.read_text()],
        vocab_size=400,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    return bpe, tokenizer


def _train_on_passage(model: Any, bpe: Any, bos: int, train_steps: int) -> None:
    """A few AdamW steps of ``model`` on windows of PASSAGE (one thread, seeded)."""
    import torch

    ids = torch.tensor([bos] + bpe.encode(PASSAGE.decode()).ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-2)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    starts = torch.randint(
        0, len(ids) - 48, (train_steps, 24), generator=torch.Generator().manual_seed(0)
    )
    try:
        for step_starts in starts:
            windows = torch.stack([ids[i : i + 48] for i in step_starts.tolist()])
            loss = model(input_ids=windows, labels=windows).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(previous)


def build_tiny_gpt2(
    folder: Path,
    train_steps: int = TRAIN_STEPS,
    n_positions: int = 64,
    vocab_size: int | None = None,
) -> Path:
    """Save a tiny GPT-2 and its tokenizer in ``folder`` (trained ``train_steps`` on PASSAGE).

    ``vocab_size``: the model's vocabulary when larger than the tokenizer's (unused ids, as
    models padded to a round size have).
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    bpe, tokenizer = _train_bpe()
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=vocab_size or len(tokenizer), n_positions=n_positions, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model = GPT2LMHeadModel(config)
    if train_steps:
        _train_on_passage(model, bpe, tokenizer.bos_token_id, train_steps)
    model.save_pretrained(folder)
    return folder


def _permute_for_gguf(weight: Any, heads: int) -> Any:
    """HF q/k rows (rotate-half RoPE) -> llama.cpp's order (adjacent pairs), as
    convert_hf_to_gguf.py writes them."""
    rows = weight.shape[0]
    return (
        weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def build_tiny_llama(folder: Path, train_steps: int = TRAIN_STEPS, dyadic: bool = False) -> Path:
    """Save a tiny Llama (2 layers, d=64, 4 query / 2 key-value heads) as ``folder/tiny.gguf``:
    its matrices in Q4_1 blocks and the embedding in Q8_0 (SmolLM2's GGUF layout), norms F32,
    the byte-level BPE tokenizer in the GGUF's metadata. Returns ``folder``.

    ``dyadic``: every weight k / 2^8 with k from numpy's PCG64 instead of torch's initialisation
    (and no training), so the file is the same on every machine (golden hashes)."""
    import gguf
    import numpy as np
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    bpe, tokenizer = _train_bpe()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rms_norm_eps=1e-5, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    if dyadic:
        rng = np.random.default_rng(11)
        with torch.no_grad():
            for name, parameter in sorted(model.named_parameters()):
                if name.endswith("norm.weight"):
                    values = rng.integers(192, 320, parameter.shape)  # gains near 1
                else:
                    values = rng.integers(-40, 41, parameter.shape)  # about ±0.15
                parameter.copy_(torch.from_numpy(values / 256.0))
    elif train_steps:
        _train_on_passage(model, bpe, tokenizer.bos_token_id, train_steps)
    writer = gguf.GGUFWriter(str(folder / "tiny.gguf"), "llama")
    writer.add_name("tiny-llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(10000.0)  # LlamaConfig's default RoPE base
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    vocabulary = tokenizer.get_vocab()
    tokens = sorted(vocabulary, key=vocabulary.__getitem__)
    merges = [" ".join(pair) for pair in json.loads(bpe._tokenizer.to_str())["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t == "<|endoftext|>" else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_add_bos_token(False)

    def add(name: str, tensor: Any, kind: Any) -> None:
        values = tensor.detach().float().numpy()
        if kind != gguf.GGMLQuantizationType.F32:
            writer.add_tensor(name, gguf.quants.quantize(values, kind), raw_dtype=kind)
        else:
            writer.add_tensor(name, np.ascontiguousarray(values))

    q4, q8, f32 = (
        gguf.GGMLQuantizationType.Q4_1, gguf.GGMLQuantizationType.Q8_0,
        gguf.GGMLQuantizationType.F32,
    )  # fmt: skip
    add("token_embd.weight", model.model.embed_tokens.weight, q8)
    for index, layer in enumerate(model.model.layers):
        p, attn, mlp = f"blk.{index}", layer.self_attn, layer.mlp
        add(f"{p}.attn_norm.weight", layer.input_layernorm.weight, f32)
        add(
            f"{p}.attn_q.weight",
            _permute_for_gguf(attn.q_proj.weight, config.num_attention_heads),
            q4,
        )
        add(
            f"{p}.attn_k.weight",
            _permute_for_gguf(attn.k_proj.weight, config.num_key_value_heads),
            q4,
        )
        add(f"{p}.attn_v.weight", attn.v_proj.weight, q4)
        add(f"{p}.attn_output.weight", attn.o_proj.weight, q4)
        add(f"{p}.ffn_norm.weight", layer.post_attention_layernorm.weight, f32)
        add(f"{p}.ffn_gate.weight", mlp.gate_proj.weight, q4)
        add(f"{p}.ffn_up.weight", mlp.up_proj.weight, q4)
        add(f"{p}.ffn_down.weight", mlp.down_proj.weight, q4)
    add("output_norm.weight", model.model.norm.weight, f32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return folder


def cli_round_trip(model: str, tmp_path: Path, capsys: Any) -> list[dict[str, Any]]:
    """Pack a folder holding PASSAGE with ``--model MODEL``, list it, unpack it and check the
    bytes; returns the archive's codec records (``list --json``)."""
    from mmcompress import cli

    source = tmp_path / "notes"
    source.mkdir()
    (source / "passage.rst").write_bytes(PASSAGE)
    assert cli.main(["-q", "pack", str(source), "--model", model]) == 0
    archive = tmp_path / "notes.mmc"
    assert cli.main(["list", "--json", str(archive)]) == 0
    codecs: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["codecs"]
    restored = tmp_path / "restored"
    assert cli.main(["-q", "unpack", str(archive), "-o", str(restored)]) == 0
    assert (restored / "passage.rst").read_bytes() == PASSAGE
    return codecs
