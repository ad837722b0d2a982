"""Measure the LLM codec (mmcompress.predictors.hf) on one file: bits per byte and speed.

    python scripts/measure_llm.py MODEL_DIR FILE [--bytes N] [--segments B] [--window W]
                                  [--overlap O] [--min-segment-tokens M] [--threads T]

Codes the file's first N bytes as one block with the model, decodes it back, checks the round
trip and prints one JSON line: payload size, bits per byte (payload only: an archive adds its
header, about 550 bytes with the codec description), pack and unpack speed per second of wall
time and per second of the process's CPU time (on a busy machine the second is the fairer
figure: what one free core would give). docs/LLM.md quotes its output.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mmcompress.predictors.hf import HFCodec
from mmcompress.segments import choose_segment_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("file", type=Path)
    parser.add_argument("--bytes", type=int, default=None)
    parser.add_argument("--segments", type=int, default=64)
    parser.add_argument("--min-segment-tokens", type=int, default=256)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    codec = HFCodec(
        args.model,
        segment_count=args.segments,
        min_segment_tokens=args.min_segment_tokens,
        window=args.window,
        overlap=args.overlap,
        threads=args.threads,
    )
    load_seconds = time.perf_counter() - started
    raw = args.file.read_bytes()[: args.bytes]
    started, cpu_started = time.perf_counter(), time.process_time()
    payload = codec.encode_block(raw)
    pack_seconds = time.perf_counter() - started
    pack_cpu_seconds = time.process_time() - cpu_started
    started, cpu_started = time.perf_counter(), time.process_time()
    same = codec.decode_block(payload, len(raw)) == raw
    unpack_seconds = time.perf_counter() - started
    unpack_cpu_seconds = time.process_time() - cpu_started
    tokens = len(codec._runs(raw)[1])
    print(
        json.dumps(
            {
                "model": str(args.model),
                "file": args.file.name,
                "bytes": len(raw),
                "tokens": tokens,
                "payload_bytes": len(payload),
                "bits_per_byte": round(8 * len(payload) / len(raw), 4),
                "segments": choose_segment_count(
                    tokens, codec.segment_count, codec.min_segment_tokens
                ),
                "window": codec.window,
                "overlap": codec.overlap,
                "threads": codec.threads,
                "load_seconds": round(load_seconds, 1),
                "pack_kb_per_s": round(len(raw) / pack_seconds / 1000, 2),
                "unpack_kb_per_s": round(len(raw) / unpack_seconds / 1000, 2),
                # Per second of this process's CPU time: what a core of its own would give.
                "pack_kb_per_cpu_s": round(len(raw) / pack_cpu_seconds / 1000, 2),
                "unpack_kb_per_cpu_s": round(len(raw) / unpack_cpu_seconds / 1000, 2),
                "round_trip": same,
            }
        )
    )


if __name__ == "__main__":
    main()
