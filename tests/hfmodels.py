"""Tiny GPT-2 models built locally for the LLM tests (test_hf, test_intgpt2, test_bench).

Nothing is downloaded: a byte-level BPE tokenizer trained on samples/pep-0008.rst and a 2-layer
GPT-2 (d=32), optionally trained for a few steps on one passage of that file, enough to beat zstd
on the passage so that archives really use the model.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEP8 = ROOT / "samples" / "pep-0008.rst"
#: The passage the tiny model learns (and then codes well).
PASSAGE = PEP8.read_bytes()[2000:4000]
TRAIN_STEPS = 100


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
    import tokenizers
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

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
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=vocab_size or len(tokenizer), n_positions=n_positions, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model = GPT2LMHeadModel(config)
    if train_steps:
        ids = torch.tensor([tokenizer.bos_token_id] + bpe.encode(PASSAGE.decode()).ids)
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
    model.save_pretrained(folder)
    return folder
