"""Train a small GPT-2 (transformers ``GPT2LMHeadModel``) on ../shared/corpus/train/text.

A measuring aid for the integer-exact GPT-2 path (docs/LLM.md, "A portable option"): the project
has no downloaded GPT-2, so this trains one on the training corpus (never on bench/): a byte-level
BPE tokenizer (GPT-2's scheme) and a 2-layer GPT-2, for a fixed wall-clock budget on the CPU.

Run: ``nice python scripts/train_small_gpt2.py OUT_DIR [--minutes 10]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

TRAIN = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "train" / "text"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--positions", type=int, default=256)
    parser.add_argument("--train-mb", type=float, default=6.0)
    args = parser.parse_args()
    import tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    torch.manual_seed(0)
    torch.set_num_threads(1)
    files = sorted(p for p in TRAIN.rglob("*.txt"))
    budget, texts = int(args.train_mb * 2**20), []
    per_file = budget // max(1, len(files)) * 4
    for path in files:  # an even spread over the corpus's folders
        texts.append(path.read_bytes()[:per_file].decode("utf-8", "replace"))
        if sum(map(len, texts)) > budget:
            break
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=args.vocab, min_frequency=2, special_tokens=["<|endoftext|>"],
        show_progress=False,
    )  # fmt: skip
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>",
        eos_token="<|endoftext|>", unk_token="<|endoftext|>",
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(args.out)
    bos = tokenizer.bos_token_id
    ids_list: list[int] = []
    for text in texts:
        ids_list += [bos] + bpe.encode(text).ids
    ids = torch.tensor(ids_list)
    print(f"{len(texts)} files, {sum(map(len, texts))} chars, {len(ids)} tokens", flush=True)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=args.positions, n_embd=args.d_model,
        n_layer=args.layers, n_head=4, bos_token_id=bos, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    seq, batch = min(128, args.positions), 16
    start, step = time.time(), 0
    deadline = start + args.minutes * 60
    while time.time() < deadline:
        starts = torch.randint(0, len(ids) - seq - 1, (batch,))
        windows = torch.stack([ids[i : i + seq] for i in starts.tolist()])
        windows[:, 0] = bos
        loss = model(input_ids=windows, labels=windows).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} {time.time() - start:.0f}s", flush=True)
    model.save_pretrained(args.out)
    print(f"done: {step} steps", flush=True)


if __name__ == "__main__":
    main()
