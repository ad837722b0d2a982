"""Ideal code length of an online byte model on files, each file one block (for tuning on train).

    .venv/bin/python scripts/measure_byte_model.py '{"id": "bcm", "mixer_rate": 12}' FILE...

The spec is a level recipe's spelling (``{"id": ..., parameters}``) or a predictor's config
(with ``"version"``, as ``mmcompress models --json`` or models/manifest.json give it). Prints bits per byte per
file (-log2 of each byte's table entry: what the range coder reaches within a few bytes) and the
encoder-path speed, then the total. Each file is coded with the tag an archive gives it
(:func:`mmcompress.tags.block_tag`: its language, text or binary). Tune only on
../shared/corpus/train, never on bench.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from mmcompress.detect import detect
from mmcompress.predictors import Predictor, build_predictor, predictor_for_recipe
from mmcompress.segments import Segmentation, choose_segment_count
from mmcompress.tags import block_tag

CHUNK_SYMBOLS = 4096


def ideal_bits(spec: dict, data: bytes, tag: int = 0) -> tuple[float, float]:
    """(bits for the whole of ``data``, seconds) with a fresh model, one block, coded with
    ``tag`` (archives pass :func:`mmcompress.tags.block_tag`)."""
    # an archive's spelling (with "version", e.g. a transformer's config) or a recipe's
    model = build_predictor(spec) if "version" in spec else predictor_for_recipe(spec)
    return model_bits(model, data, tag)


def model_bits(model: Predictor, data: bytes, tag: int = 0) -> tuple[float, float]:
    """:func:`ideal_bits` for a predictor already built."""
    segments = choose_segment_count(len(data), model.segment_count, model.min_segment_length)
    seg = Segmentation(len(data), segments)
    session = model.start(seg, tag)
    symbols = seg.interleave(np.frombuffer(data, dtype=np.uint8).astype(np.int64))
    steps_per_chunk = CHUNK_SYMBOLS // seg.segment_count + 1
    bits, started = 0.0, time.perf_counter()
    for first in range(0, seg.steps, steps_per_chunk):
        last = min(seg.steps, first + steps_per_chunk)
        lo, hi = seg.step_offset(first), seg.step_offset(last)
        tables = session.tables_for(symbols[lo:hi], first, last)
        entries = tables[np.arange(hi - lo), symbols[lo:hi]].astype(np.float64)
        bits -= float(np.log2(entries / (1 << model.precision_bits)).sum())
    return bits, time.perf_counter() - started


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    spec = json.loads(argv[0])
    total_bits = total_bytes = 0.0
    for name in argv[1:]:
        data = Path(name).read_bytes()
        head = data[:4096]
        tag = block_tag(name, detect(name, head), head)  # what an archive passes
        bits, seconds = ideal_bits(dict(spec), data, tag)
        total_bits += bits
        total_bytes += len(data)
        speed = len(data) / 1000 / max(seconds, 1e-9)
        print(
            f"{Path(name).name[:40]:40s} {len(data):9d} {bits / len(data):.4f} bpb {speed:6.1f} KB/s"
        )
    print(f"TOTAL {total_bytes:.0f} bytes {total_bits / max(total_bytes, 1):.4f} bpb")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
