"""``--level llm`` measured: float ideal, integer ideal and packed size of text files.

For each FILE: the same tokens (the model's tokenizer, BOS first), cut into the codec's window
spans (``--window`` positions, each span after the first restarting from BOS with ``--overlap``
tokens of context), one segment: the ideal code length under SmolLM2 in float32 (transformers,
the GGUF dequantised) and under the integer model (mmcompress.predictors.intllama, exact log2 of
its 24-bit tables). With ``--pack`` the file is also packed with ``mmcompress pack --level llm``
(subprocess: wall time and peak memory), and with ``--unpack`` unpacked and compared.

Run: ``python scripts/measure_llm_level.py FILE... [--pack] [--unpack] [--no-float]``.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mmcompress.predictors import intlayers as il
from mmcompress.predictors.intllama import DEFAULT_OVERLAP, DEFAULT_WINDOW, IntLlamaCodec


def spans(count: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """(context start, first predicted, end) over token positions 1..count-1 (0 is BOS)."""
    out, first = [], 1
    while first < count:
        start = max(1, first - overlap)
        end = min(count, first + window - 1 - (first - start))
        out.append((start, first, end))
        first = end
    return out


def integer_bits(codec: IntLlamaCodec, ids: list[int], window: int, overlap: int) -> float:
    bits = 0.0
    for start, first, end in spans(len(ids), window, overlap):
        inputs = torch.tensor([[codec.bos_id, *ids[start : end - 1]]])
        hidden = codec.model.forward(inputs, codec.model.new_cache())[0, first - start :]
        targets = np.asarray(ids[first:end])
        for lo in range(0, len(targets), 128):
            tables = codec.freq_tables(hidden[lo : lo + 128])
            picked = tables[np.arange(len(tables)), targets[lo : lo + 128]]
            bits += float(np.sum(24 - np.log2(picked.astype(np.float64))))
    return bits


def float_bits(codec: IntLlamaCodec, ids: list[int], window: int, overlap: int) -> float:
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(
        codec.folder, gguf_file=codec.gguf.name, dtype=torch.float32
    )
    bits = 0.0
    for start, first, end in spans(len(ids), window, overlap):
        inputs = torch.tensor([[codec.bos_id, *ids[start : end - 1]]])
        with torch.no_grad():
            logits = model(inputs).logits[0, first - start :].double()
        targets = torch.tensor(ids[first:end])
        logp = torch.log_softmax(logits, -1)[torch.arange(len(targets)), targets]
        bits -= float(logp.sum()) / math.log(2)
    return bits


def pack(path: Path, unpack: bool) -> str:
    with tempfile.TemporaryDirectory() as work:
        archive, back = Path(work) / "a.mmc", Path(work) / "back"
        started = time.perf_counter()
        cli = [sys.executable, "-m", "mmcompress"]
        subprocess.run([*cli, "pack", "-q", "--level", "llm", str(path), "-o", str(archive)],
                       check=True)  # fmt: skip
        packed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = archive.stat().st_size
        line = (
            f"packed {size:,} B ({8 * size / path.stat().st_size:.4f} bpb) in {packed:.0f} s "
            f"({path.stat().st_size / packed / 1000:.2f} KB/s), peak {peak:.0f} MiB"
        )
        if unpack:
            started = time.perf_counter()
            subprocess.run([*cli, "unpack", "-q", str(archive), "-o", str(back)], check=True)
            took = time.perf_counter() - started
            same = back.read_bytes() == path.read_bytes()
            line += f"; unpacked in {took:.0f} s ({path.stat().st_size / took / 1000:.2f} KB/s), "
            line += "identical" if same else "DIFFERENT"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP)
    parser.add_argument("--no-float", action="store_true", help="skip the float32 reference")
    parser.add_argument("--no-ideal", action="store_true", help="skip both ideal code lengths")
    parser.add_argument("--pack", action="store_true", help="also pack with --level llm")
    parser.add_argument("--unpack", action="store_true", help="and unpack (implies --pack)")
    args = parser.parse_args()
    codec = IntLlamaCodec(window=args.window, overlap=args.overlap)
    with il.exact_matmuls(), torch.inference_mode():
        for path in args.files:
            raw = path.read_bytes()
            print(f"{path.name}: {len(raw):,} bytes", flush=True)
            if not args.no_ideal:
                ids = [codec.bos_id, *codec.tokenizer(raw.decode(), add_special_tokens=False)
                       .input_ids]  # fmt: skip
                started = time.perf_counter()
                bits = integer_bits(codec, ids, args.window, args.overlap)
                print(f"  integer ideal {bits / 8:,.0f} B = {bits / len(raw):.4f} bpb "
                      f"({len(ids) - 1:,} tokens, {time.perf_counter() - started:.0f} s)",
                      flush=True)  # fmt: skip
                if not args.no_float:
                    bits = float_bits(codec, ids, args.window, args.overlap)
                    print(f"  float32 ideal {bits / 8:,.0f} B = {bits / len(raw):.4f} bpb",
                          flush=True)  # fmt: skip
            if args.pack or args.unpack:
                print("  " + pack(path, args.unpack), flush=True)


if __name__ == "__main__":
    main()
