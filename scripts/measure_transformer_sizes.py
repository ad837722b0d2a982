"""Compare exported byte-transformer models: bits per byte, encode and decode speed, one thread.

    .venv/bin/python scripts/measure_transformer_sizes.py FILE MODEL.safetensors [...]

For each model file: the ideal code length of FILE under the integer model (encoder path, the
tag an archive gives FILE), the real MODEL-block payload, encode and decode speed on one torch
thread (decode on the first ``--decode-bytes``, checked equal). Segmentation: the predictor's
defaults, the same for every model. Measuring only: pass bench files here, never tune on them.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from measure_byte_model import model_bits  # scripts/ is on the path when run as a script

from mmcompress.blockcoding import model_decode, model_encode
from mmcompress.detect import detect
from mmcompress.predictors.transformer import ByteTransformer
from mmcompress.tags import block_tag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--decode-bytes", type=int, default=32768)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = args.file.read_bytes()
    tag = block_tag(args.file.name, detect(args.file.name, data[:4096]), data[:4096])
    rows = []
    for path in args.models:
        model = ByteTransformer.from_file(path, path.stem)
        bits, _ = model_bits(model, data, tag)  # scripts/measure_byte_model.py
        started = time.perf_counter()
        payload = model_encode(data, model, tag)
        encode_s = time.perf_counter() - started
        part = data[: args.decode_bytes]
        part_payload = model_encode(part, model, tag)
        started = time.perf_counter()
        assert model_decode(part_payload, len(part), model) == part
        decode_s = time.perf_counter() - started
        row = {
            "model": path.name,
            "file_bytes": path.stat().st_size,
            "ideal_bpb": round(bits / len(data), 4),
            "payload_bytes": len(payload),
            "encode_kb_s": round(len(data) / 1000 / encode_s, 2),
            "decode_kb_s": round(len(part) / 1000 / decode_s, 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    assert all(math.isfinite(r["ideal_bpb"]) for r in rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
