"""Plot validation bits per byte against training steps (or minutes) from `mmcompress train` logs.

    .venv/bin/python scripts/plot_training.py [--minutes BUDGET] OUT.png LABEL=LOG[,LOG...] [...]

Each LABEL names one run; its logs (a run and its resumes, in order) are read for the lines
``step N  validation X bits/byte (float)``. Prints the points as a Markdown table too.

``--minutes BUDGET`` plots against training minutes instead: the ``M min`` a validation line ends
with (logs since 2026-11-29), or else the progress of the first ``step N  P%`` line at or after it
times BUDGET, the run's ``--minutes`` (a run with a clock budget reports progress by the clock;
the final evaluation is at BUDGET itself).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

VALIDATION = re.compile(
    r"step (\d+)\s+validation ([0-9.]+) bits/byte[^\n]*?(?:\s([0-9.]+) min)?$", re.M
)
PROGRESS = re.compile(r"step (\d+)\s+([0-9.]+)%")


def points(logs: list[Path], budget: float | None = None) -> list[tuple[float, int, float]]:
    """(x, step, validation bpb) of a run, later logs overriding a step an earlier one also gave;
    x is the step, or the training minutes when ``budget`` is given."""
    by_step: dict[int, tuple[float, float]] = {}
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        progress = {int(m.group(1)): float(m.group(2)) for m in PROGRESS.finditer(text)}
        for match in VALIDATION.finditer(text):
            step, bpb = int(match.group(1)), float(match.group(2))
            x = float(step)
            if budget is not None:
                if match.group(3) is not None:
                    x = float(match.group(3))
                else:  # the first progress line at or after the step; none: the run's end
                    later = [s for s in progress if s >= step]
                    x = progress[min(later)] / 100 * budget if later else budget
            by_step[step] = (x, bpb)
    return [(x, step, bpb) for step, (x, bpb) in sorted(by_step.items())]


def main(argv: list[str]) -> int:
    budget = None
    if argv[:1] == ["--minutes"] and len(argv) > 1:
        budget, argv = float(argv[1]), argv[2:]
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    print("| run | step | minutes | validation bits/byte |\n|---|---:|---:|---:|")
    for run in argv[1:]:
        label, _, files = run.partition("=")
        run_points = points([Path(f) for f in files.split(",")], budget)
        for x, step, bpb in run_points:
            minutes = f"{x:.1f}" if budget is not None else ""
            print(f"| {label} | {step} | {minutes} | {bpb:.4f} |")
        axes.plot(
            [x for x, _, _ in run_points], [b for _, _, b in run_points], marker="o", label=label
        )
    axes.set_xlabel(
        "training minutes (wall clock)" if budget else "optimiser steps (batch 32 × 256 bytes)"
    )
    axes.set_ylabel("validation bits per byte (float)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(argv[0], dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
