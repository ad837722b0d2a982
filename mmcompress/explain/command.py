"""The ``mmcompress explain`` command line.

    mmcompress explain FILE... [--level N] [--model NAME ...] [-o report.html] [--json]
                       [--compare A B] [--tools gzip,xz|none] [--charts DIR]
                       [--per-channel] [--frames-shown 0,3]

Without ``-o``: a compact table per file on stdout (``--json``: the report's JSON instead).
With ``-o``: the HTML page is written there (atomically; an existing file is replaced) and the
table still goes to stdout unless ``-q``. Errors: one line ``mmcompress: ...`` on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..atomic import atomic_file
from ..errors import MmcError

PROG = "mmcompress explain"
EXIT_OK, EXIT_ERROR = 0, 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"mmcompress: {message} (see '{self.prog} -h')\n")
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Show where the bits go: each model's cross-entropy against the coded size, "
        "the limits (entropies, classic tools) side by side, and a page with every byte shaded by its cost.",
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE")
    parser.add_argument(
        "--level",
        type=int,
        default=None,
        metavar="N",
        help="level whose recipe cuts blocks and names the default model (1-9)",
    )
    parser.add_argument(
        "--model", action="append", default=None, metavar="NAME",
        help="model to explain (repeatable): 'level' (with --level 9: the mixer), 'mix' (the -9 "
        "mixer), an installed model's name, 'bytefmr-s:float' (the float transformer, ideal "
        "cross-entropy only), hf:PATH or hf-int:PATH (a local LLM), or ID[:key=value,...] such "
        "as cm:max_order=6; default: the level's model and every installed learned model",
    )  # fmt: skip
    parser.add_argument("-o", "--output", metavar="report.html", help="write the HTML report there")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="shade where model A beats model B"
    )
    parser.add_argument(
        "--tools",
        default=None,
        metavar="LIST",
        help="classic tools to measure, comma-separated, or 'none' (default: all available)",
    )
    parser.add_argument(
        "--charts",
        metavar="DIR",
        help="also write each file's limits bar chart as DIR/NAME.limits.png",
    )
    parser.add_argument(
        "--per-channel",
        action="store_true",
        help="images and video: a heat map per channel (plane) besides the per-pixel one",
    )
    parser.add_argument(
        "--frames-shown",
        default=None,
        metavar="LIST",
        help="video: the frames drawn as heat maps, comma-separated (default: 0,1)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar, and no table on stdout when -o is given",
    )
    return parser


def _tools(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text == "none":
        return ()
    from ..bench.classic import TOOLS
    from .pixels import IMAGE_TOOLS

    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    unknown = [key for key in keys if key not in TOOLS and key not in IMAGE_TOOLS]
    if unknown:
        known = ", ".join([*TOOLS, *IMAGE_TOOLS])
        raise MmcError(f"unknown classic tool {unknown[0]!r} (known: {known})")
    return keys


def _frames_shown(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        frames = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise MmcError(f"--frames-shown: {text!r} is not a list of frame numbers") from None
    if not frames or min(frames) < 0:
        raise MmcError(f"--frames-shown: {text!r} is not a list of frame numbers")
    return frames


def run(args: argparse.Namespace) -> int:
    from .. import progress
    from . import explain
    from .charts import limits_chart_png
    from .html import render_html
    from .report import limit_rows

    if args.quiet:
        progress.set_enabled(False)
    models = list(args.model) if args.model else None
    compare = tuple(args.compare) if args.compare else None
    if compare and models is not None:
        for name in compare:
            if name not in models:
                models.append(name)
    try:
        report = explain(
            list(args.inputs),
            level=args.level,
            models=models,
            tools=_tools(args.tools),
            per_channel=args.per_channel,
            frames_shown=_frames_shown(args.frames_shown),
        )
    except ValueError as exc:  # a bad --model or --level
        raise MmcError(str(exc)) from None
    if compare:
        for file in report.files:
            names = [m.name for m in file.models]
            missing = [name for name in compare if name not in names]
            if missing:
                raise MmcError(
                    f"--compare: no model {missing[0]!r} explained on {file.name} (have: {', '.join(names) or 'none'})"
                )
    if args.output:
        page = render_html(report, compare).encode("utf-8")  # type: ignore[arg-type]
        with atomic_file(Path(args.output), True) as sink:
            sink.write(page)
    if args.charts:
        folder = Path(args.charts)
        folder.mkdir(parents=True, exist_ok=True)
        for file in report.files:
            stem = Path(file.name).name
            if file.media is not None:  # images and video: bits per pixel, and the heat maps
                (folder / f"{stem}.limits.png").write_bytes(
                    file.media.limits_chart(f"{file.name}: limits and models")
                )
                for model in file.media.models:
                    for number, (_, png) in enumerate(file.media.heat_maps(model)):
                        (folder / f"{stem}.{model.name}.heat{number}.png").write_bytes(png)
                    if file.media.kind == "video":
                        chart = file.media.frames_chart(model)
                        (folder / f"{stem}.{model.name}.frames.png").write_bytes(chart)
                continue
            chart = limits_chart_png(
                f"{file.name}: limits and models", limit_rows(file), file.size_bytes
            )
            (folder / f"{stem}.limits.png").write_bytes(chart)
    if args.json:
        sys.stdout.write(report.json_text())
    elif not (args.output and args.quiet):
        sys.stdout.write(report.summary_text())
    sys.stdout.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return run(args)
    except KeyboardInterrupt:
        sys.stderr.write("mmcompress: interrupted\n")
        return 130
    except MmcError as exc:
        sys.stderr.write(f"mmcompress: {exc}\n")
        return EXIT_ERROR
