"""The child process that times one mmcompress pack or unpack and reports its peak memory.

Peak RSS only grows during a process's life, so each measurement runs in a fresh interpreter:
the runner starts `python -m mmcompress.bench.worker pack|unpack IN OUT ...`, the worker imports
the API, reads IN, runs the call `repeat` times, writes the (last) result to OUT and prints one
JSON line on stdout:

    {"seconds": 0.51, "first_seconds": 0.93, "cpu_seconds": 0.50, "peak_rss_bytes": 312000000,
     "error": null}

`seconds` is the fastest wall time. The first call is cold (the API loads its models then), so
with repeat=1 the time is what a one-file `mmcompress pack` costs, and with repeat >= 2 it is
the steady-state speed; `first_seconds` keeps the cold time. `--model hf:PATH` packs with that
local LLM (`mmcompress.api.compress(..., model=...)`); unpacking needs no option, the archive
names its model. The peak includes the interpreter
and the imports (torch, the model), since a user pays for those too. Any exception becomes
`error`, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_API = "mmcompress.api"


@dataclass
class WorkerReport:
    """What one worker run measured."""

    seconds: float | None = None  # best wall time of the API call
    first_seconds: float | None = None  # wall time of the first call (cold: loads the models)
    cpu_seconds: float | None = None  # process CPU time of that best call
    peak_rss_bytes: int | None = None
    error: str | None = None


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes.

    On Linux this is VmHWM from /proc/self/status, the high-water mark of this process image
    alone. getrusage's ru_maxrss is not used there: Linux carries the parent's RSS over fork
    and exec into the child's ru_maxrss, so a child of a big parent would report the parent.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows: psutil knows the peak working set
        import psutil

        memory = psutil.Process().memory_info()
        return int(getattr(memory, "peak_wset", memory.rss))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run(
    action: str,
    input_path: Path,
    output_path: Path,
    *,
    level: int | None,
    name: str,
    repeat: int,
    api_module: str,
    model: str | None = None,
) -> WorkerReport:
    """Import the API, run `action` on the input file `repeat` times, write the output.

    `model` ("hf:PATH") is passed to `compress` only when given, so an API without the keyword
    (the tests' fakes) still works without it.
    """
    api = importlib.import_module(api_module)
    payload = input_path.read_bytes()
    options: dict[str, Any] = {} if model is None else {"model": model}
    best_seconds = float("inf")
    best_cpu_seconds = 0.0
    first_seconds = None
    output = b""
    for _ in range(max(1, repeat)):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        if action == "pack":
            output = api.compress(payload, level=level, name=name, **options)
        else:
            output = api.decompress(payload)
        wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
        first_seconds = wall if first_seconds is None else first_seconds
        if wall < best_seconds:
            best_seconds, best_cpu_seconds = wall, cpu
    output_path.write_bytes(output)
    return WorkerReport(best_seconds, first_seconds, best_cpu_seconds, peak_rss_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmcompress.bench.worker")
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--level", type=int, default=None)
    parser.add_argument("--name", default="")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--api", default=DEFAULT_API)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    try:
        report = run(
            args.action,
            args.input,
            args.output,
            level=args.level,
            name=args.name,
            repeat=args.repeat,
            api_module=args.api,
            model=args.model,
        )
    except Exception as error:  # reported to the parent, which records it per file
        report = WorkerReport(error=f"{type(error).__name__}: {error}")
    sys.stdout.write(json.dumps(asdict(report)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
