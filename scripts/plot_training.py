"""Plot validation bits per byte against training steps from `mmcompress train` logs.

    .venv/bin/python scripts/plot_training.py OUT.png LABEL=LOG[,LOG...] [LABEL=LOG...]

Each LABEL names one run; its logs (a run and its resumes, in order) are read for the lines
``step N  validation X bits/byte (float)``. Prints the points as a Markdown table too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

VALIDATION = re.compile(r"step (\d+)\s+validation ([0-9.]+) bits/byte")


def points(logs: list[Path]) -> list[tuple[int, float]]:
    """(step, validation bpb) of a run, later logs overriding a step an earlier one also gave."""
    by_step: dict[int, float] = {}
    for log in logs:
        for match in VALIDATION.finditer(log.read_text(encoding="utf-8", errors="replace")):
            by_step[int(match.group(1))] = float(match.group(2))
    return sorted(by_step.items())


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    print("| run | step | validation bits/byte |\n|---|---:|---:|")
    for run in argv[1:]:
        label, _, files = run.partition("=")
        run_points = points([Path(f) for f in files.split(",")])
        for step, bpb in run_points:
            print(f"| {label} | {step} | {bpb:.4f} |")
        axes.plot([s for s, _ in run_points], [b for _, b in run_points], marker="o", label=label)
    axes.set_xlabel("optimiser steps (batch 32 × 256 bytes)")
    axes.set_ylabel("validation bits per byte (float)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(argv[0], dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
