"""Benchmarks: `mmcompress bench` measures mmcompress against the classic compressors.

    classic.py  gzip, bzip2, xz, zstd, brotli: exact sizes, timings, round trips
    worker.py   child process timing one mmcompress pack or unpack, with its peak memory
    results.py  the results as dataclasses: files, rows, group totals, JSON form
    runner.py   run_bench(paths) and the command line, main(argv)
    report.py   text table, CSV, JSON, PNG plot, Markdown for BENCHMARKS.md
    images.py   `mmcompress bench --images`: bits per pixel vs PNG, WebP and JPEG XL lossless

Imports stay lazy here so that the worker child process starts light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmcompress.bench.results import BenchResult


def main(argv: Sequence[str] | None = None) -> int:
    """`mmcompress bench PATH... [--level N] [--out DIR] [--json] [--markdown FILE] [--tools ...] [-q]`.

    With `--images` anywhere: the image benchmark, mmcompress.bench.images.main.
    """
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--images" in argv:
        from mmcompress.bench.images import main as images_main

        return images_main([word for word in argv if word != "--images"])
    from mmcompress.bench.runner import main as runner_main

    return runner_main(argv)


def run_bench(paths: Sequence[Any], **options: Any) -> BenchResult:
    """See mmcompress.bench.runner.run_bench."""
    from mmcompress.bench.runner import run_bench as runner_run_bench

    return runner_run_bench(paths, **options)


__all__ = ["main", "run_bench"]
