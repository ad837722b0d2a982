"""Float (``hf:PATH``) vs integer (``hf-int:PATH``) GPT-2 coding: bits per byte and speed.

Measures docs/LLM.md's "A portable option" table: the same local GPT-2, the same tokens, window
and segments, coded by :class:`~mmcompress.predictors.hf.HFCodec` (float32) and by
:class:`~mmcompress.predictors.intgpt2.IntGPT2Codec` (integers); both round trips are checked.

Run: ``python scripts/measure_intgpt2.py MODEL_DIR FILE [--bytes 32768]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from mmcompress.coder import Encoder, ideal_code_length_bits
from mmcompress.predictors.hf import HFCodec
from mmcompress.predictors.intgpt2 import IntGPT2Codec

#: Ideal code length of the tables the coder was given (payloads are whole 32-bit words).
ideal_bits = [0.0]
_encode = Encoder.encode


def _counting_encode(self: Encoder, symbols: np.ndarray, freq_tables: np.ndarray) -> None:
    ideal_bits[0] += ideal_code_length_bits(symbols, freq_tables, self.precision_bits)
    _encode(self, symbols, freq_tables)


Encoder.encode = _counting_encode  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("file", type=Path)
    parser.add_argument("--bytes", type=int, default=32768)
    parser.add_argument("--window", type=int, default=None)
    args = parser.parse_args()
    raw = args.file.read_bytes()[: args.bytes]
    print(f"{args.file.name}: first {len(raw)} bytes")
    for name, codec_class in (("float hf", HFCodec), ("integer hf-int", IntGPT2Codec)):
        started = time.perf_counter()
        codec = codec_class(args.model, window=args.window)
        built = time.perf_counter() - started
        ideal_bits[0] = 0.0
        started = time.perf_counter()
        payload = codec.encode_block(raw)
        packed = time.perf_counter() - started
        started = time.perf_counter()
        assert codec.decode_block(payload, len(raw)) == raw
        unpacked = time.perf_counter() - started
        print(
            f"{name:15s} {len(payload):7d} bytes  {8 * len(payload) / len(raw):.4f} bits/byte  "
            f"tokens ideal {ideal_bits[0]:.1f} bits  "
            f"load {built:5.1f} s  pack {len(raw) / packed / 1024:6.2f} KB/s  "
            f"unpack {len(raw) / unpacked / 1024:6.2f} KB/s  (window {codec.window}, "
            f"overlap {codec.overlap}, segments {codec.segment_count})",
            flush=True,
        )


if __name__ == "__main__":
    main()
