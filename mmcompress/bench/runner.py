"""`mmcompress bench`: measure mmcompress and the classic tools on files and folders.

    run_bench(paths) ──► for each file (folders expanded, sorted):
                           mmcompress pack  ─┐ each in a fresh child process (worker.py):
                           mmcompress unpack ┘ best-of-N wall time, peak RSS, round trip
                           gzip, bzip2, xz, zstd, brotli (classic.py): exact size, times, round trip
                     ──► BenchResult (results.py) ──► table / CSV / JSON / PNG / Markdown (report.py)

mmcompress is measured only through its public API (`mmcompress.api.compress/decompress`), like
a user would call it. Groups are the first two folder levels below the folder given (`text`,
`code/python`, `binaries`, `binaries/modern`...); files given by name form a group named after
their folder. `--model hf:PATH` measures mmcompress coding with that local LLM (docs/LLM.md).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mmcompress.bench import classic
from mmcompress.bench.results import (
    BYTES_PER_MB,
    BenchMeta,
    BenchResult,
    FileResult,
    MmcMeasurement,
)
from mmcompress.bench.worker import DEFAULT_API, WorkerReport
from mmcompress.errors import InputError, MmcError
from mmcompress.progress import progress as progress_bar

ALL = classic.ALL
GROUP_DEPTH = 2  # folder levels that name a group: code/python, images/kodak
METADATA_NAMES = frozenset({"README.md", "MANIFEST.tsv", "SHA256SUMS"})


@dataclass(frozen=True)
class BenchInput:
    """One file to measure, with the name and group the tables show for it."""

    path: Path
    name: str
    group: str


# --------------------------------------------------------------------------- finding the files


def _declared_data_files(files: list[Path]) -> set[Path]:
    """Files that a MANIFEST.tsv (first column) or SHA256SUMS (second field) lists as data.

    A corpus folder's README.md is metadata, but a README.md that a manifest lists (like
    code/project/express/examples/README.md) is one of the measured files.
    """
    declared: set[Path] = set()
    for listing in files:
        if listing.name == "MANIFEST.tsv":
            lines = listing.read_text("utf-8", "replace").splitlines()[1:]  # skip the header
            names = [line.split("\t", 1)[0] for line in lines if line.strip()]
        elif listing.name == "SHA256SUMS":
            lines = listing.read_text("utf-8", "replace").splitlines()
            names = [
                line.split(maxsplit=1)[1].lstrip("*") for line in lines if len(line.split()) > 1
            ]
        else:
            continue
        declared.update((listing.parent / name).resolve() for name in names)
    return declared


def collect_inputs(paths: Iterable[str | Path], group_depth: int = GROUP_DEPTH) -> list[BenchInput]:
    """Expand folders to their files (sorted by relative path), skipping corpus metadata files.

    README.md, MANIFEST.tsv and SHA256SUMS are skipped inside folders unless a manifest lists
    them as data; a file named explicitly is always measured. Raises FileNotFoundError for a
    path that does not exist.
    """
    inputs: list[BenchInput] = []
    for given in map(Path, paths):
        if given.is_file():
            inputs.append(BenchInput(given, given.name, given.resolve().parent.name))
            continue
        if not given.is_dir():
            raise FileNotFoundError(f"no such file or folder: {given}")
        files = [path for path in given.rglob("*") if path.is_file()]
        declared = _declared_data_files(files)
        root_name = given.resolve().name
        for path in sorted(files, key=lambda path: path.relative_to(given).as_posix()):
            if path.name in METADATA_NAMES and path.resolve() not in declared:
                continue
            relative = PurePosixPath(path.relative_to(given).as_posix())
            group = "/".join(relative.parent.parts[:group_depth]) or root_name
            inputs.append(BenchInput(path, relative.as_posix(), group))
    return inputs


# --------------------------------------------------------------------------- mmcompress


def _child_environment() -> dict[str, str]:
    """The parent's environment, with its sys.path, so the child imports the same modules."""
    environment = dict(os.environ)
    search_path = [entry for entry in sys.path if entry and os.path.exists(entry)]
    if environment.get("PYTHONPATH"):
        search_path.append(environment["PYTHONPATH"])
    environment["PYTHONPATH"] = os.pathsep.join(search_path)
    return environment


def _run_worker(
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
    argv = [sys.executable, "-m", "mmcompress.bench.worker", action, str(input_path)]
    argv += [str(output_path), "--name", name, "--repeat", str(repeat), "--api", api_module]
    if level is not None:
        argv += ["--level", str(level)]
    if model is not None and action == "pack":  # the archive names its model for unpacking
        argv += ["--model", model]
    completed = subprocess.run(
        argv, capture_output=True, env=_child_environment(), stdin=subprocess.DEVNULL, check=False
    )
    lines = completed.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        return WorkerReport(**json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        # the child died before reporting (killed for memory, crashed in native code...)
        stderr_lines = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = stderr_lines[-1] if stderr_lines else f"exit status {completed.returncode}"
        return WorkerReport(error=f"{action} worker failed: {detail}")


def _megabytes(size_bytes: int | None) -> float | None:
    return None if size_bytes is None else size_bytes / BYTES_PER_MB


def measure_mmcompress(
    path: Path,
    data: bytes,
    *,
    name: str,
    level: int | None = None,
    repeat: int = 1,
    api_module: str = DEFAULT_API,
    model: str | None = None,
) -> MmcMeasurement:
    """Pack `path` (holding `data`) and unpack the result, each in a fresh child process.

    `model` ("hf:PATH", None = the level's own models) is what the pack uses.
    """
    with tempfile.TemporaryDirectory(prefix="mmc-bench-") as folder:
        packed_path, unpacked_path = Path(folder) / "packed.mmc", Path(folder) / "unpacked"
        run_worker = functools.partial(
            _run_worker,
            level=level,
            name=name,
            repeat=repeat,
            api_module=api_module,
            model=model,
        )
        pack = run_worker("pack", path, packed_path)
        unpack = WorkerReport(error="not unpacked: packing failed")
        if pack.error is None:
            unpack = run_worker("unpack", packed_path, unpacked_path)
        packed_size = packed_path.stat().st_size if pack.error is None else None
        roundtrip_ok = unpack.error is None and unpacked_path.read_bytes() == data
    error = pack.error or unpack.error
    if error is None and not roundtrip_ok:
        error = "round trip: unpacked bytes differ from the input"
    return MmcMeasurement(
        size_bytes=packed_size,
        pack_seconds=pack.seconds,
        unpack_seconds=unpack.seconds,
        pack_first_seconds=pack.first_seconds,
        unpack_first_seconds=unpack.first_seconds,
        pack_cpu_seconds=pack.cpu_seconds,
        unpack_cpu_seconds=unpack.cpu_seconds,
        pack_peak_mb=_megabytes(pack.peak_rss_bytes),
        unpack_peak_mb=_megabytes(unpack.peak_rss_bytes),
        roundtrip_ok=roundtrip_ok,
        error=error,
    )


# --------------------------------------------------------------------------- the run


def _mmcompress_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mmcompress")
    except metadata.PackageNotFoundError:
        import mmcompress

        return str(getattr(mmcompress, "__version__", "unknown"))


def _default_command(
    paths: Sequence[str | Path], level: int | None, tools: Sequence[str], model: str | None
) -> str:
    argv = [*map(str, paths)]
    if level is not None:
        argv += ["--level", str(level)]
    if model is not None:
        argv += ["--model", model]
    if tuple(tools) != ALL:
        argv += ["--tools", ",".join(tools)]
    return shlex.join(["mmcompress", "bench", *argv])


def run_bench(
    paths: Sequence[str | Path],
    *,
    level: int | None = None,
    tools: Sequence[str] = ALL,
    repeat: int = 1,
    progress: bool = True,
    api_module: str = DEFAULT_API,
    command: str | None = None,
    model: str | None = None,
) -> BenchResult:
    """Measure mmcompress (at `level`, None = default) and the classic `tools` on every file.

    `model` ("hf:PATH") makes mmcompress code with that local LLM (InputError unless it names a
    model folder here); `api_module` names the module whose compress/decompress are measured (tests pass a fake);
    `command` is the command line recorded in the result (rebuilt from the arguments if None).
    Raises FileNotFoundError for a missing path, ToolUnavailable for a tool that cannot run here.
    """
    tools = list(tools)
    model = None if model is None else parse_model(model)
    implementations = {tool: classic.find_implementation(tool) for tool in tools}
    inputs = collect_inputs(paths)
    meta = BenchMeta(
        command=command or _default_command(paths, level, tools, model),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        level=level,
        repeat=repeat,
        tools=tools,
        tool_labels={tool: classic.TOOLS[tool].label for tool in tools},
        implementations={tool: found.description for tool, found in implementations.items()},
        mmcompress_version=_mmcompress_version(),
        api_module=api_module,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        cpu_count=os.cpu_count() or 1,
        model=model,
    )
    result = BenchResult(meta)
    total_bytes = sum(bench_input.path.stat().st_size for bench_input in inputs)
    with progress_bar(total=total_bytes, desc="bench", disable=not progress) as bar:
        for bench_input in inputs:
            result.files.append(
                _measure_file(bench_input, level, implementations, repeat, api_module, model)
            )
            bar.update(result.files[-1].size_bytes)
    return result


def _measure_file(
    bench_input: BenchInput,
    level: int | None,
    implementations: dict[str, classic.Implementation],
    repeat: int,
    api_module: str,
    model: str | None,
) -> FileResult:
    data = bench_input.path.read_bytes()
    mmc = measure_mmcompress(
        bench_input.path,
        data,
        name=bench_input.path.name,
        level=level,
        repeat=repeat,
        api_module=api_module,
        model=model,
    )
    classic_results = {
        tool: classic.measure(
            tool, data, path=bench_input.path, repeat=repeat, implementation=implementation
        )
        for tool, implementation in implementations.items()
    }
    return FileResult(
        name=bench_input.name,
        path=str(bench_input.path),
        group=bench_input.group,
        size_bytes=len(data),
        mmc=mmc,
        classic=classic_results,
    )


# --------------------------------------------------------------------------- command line


def _parse_tools(text: str) -> list[str]:
    """A comma-separated list of classic tools; "none" measures mmcompress alone."""
    if text.strip() == "none":
        return []
    tools = [tool.strip() for tool in text.split(",") if tool.strip()]
    unknown = [tool for tool in tools if tool not in classic.TOOLS]
    if unknown or not tools:
        raise argparse.ArgumentTypeError(
            f"unknown tool(s) {', '.join(unknown) or '(none)'}; choose from {','.join(ALL)}"
        )
    return tools


def parse_model(text: str) -> str:
    """The model as hf:PATH, PATH resolved; InputError unless PATH is a local model folder."""
    from mmcompress.predictors.hfenv import MODEL_PREFIX, model_folder, model_spec

    return MODEL_PREFIX + str(model_folder(model_spec(text)["path"]))


def _model_argument(text: str) -> str:
    try:
        return parse_model(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmcompress bench",
        description="Measure mmcompress against gzip, bzip2, xz, zstd and brotli on files and "
        "folders: sizes, bits per byte, speed, peak memory, round trips. For images in bits "
        "per pixel against PNG, WebP and JPEG XL: 'mmcompress bench --images -h'.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to measure")
    parser.add_argument(
        "--level", type=int, default=None, help="mmcompress level (default: its default)"
    )
    parser.add_argument(
        "--model",
        type=_model_argument,
        default=None,
        metavar="hf:PATH",
        help="mmcompress codes with this local Hugging Face LLM (docs/LLM.md)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write bench.csv, bench.json and bench.png into DIR",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON on stdout instead of the table"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the Markdown tables (for BENCHMARKS.md) to FILE",
    )
    parser.add_argument(
        "--tools",
        type=_parse_tools,
        default=None,
        metavar="LIST",
        help=f"classic tools, comma-separated, or none (default: all of {','.join(ALL)} found here)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time each measurement N times and keep the fastest (default 1)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no messages")
    # --api: the module measured instead of mmcompress.api (tests pass a fake)
    parser.add_argument("--api", default=DEFAULT_API, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `mmcompress bench`. Exit status: 0 all round trips OK, 1 a failure, 2 bad usage."""
    from mmcompress.bench import report

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a usage error (2), already printed
        return int(exit_request.code or 0)

    def say(message: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"mmcompress bench: {message}\n")

    tools = args.tools
    if tools is None:
        tools = list(classic.available_tools())
        missing = [tool for tool in ALL if tool not in tools]
        if missing:
            say(f"skipping {', '.join(missing)}: neither the program nor the Python module is here")
    try:
        result = run_bench(
            args.paths,
            level=args.level,
            tools=tools,
            repeat=max(1, args.repeat),
            progress=not args.quiet,
            api_module=args.api,
            model=args.model,
            command=shlex.join(["mmcompress", "bench", *argv]),
        )
    except (MmcError, OSError) as error:
        sys.stderr.write(f"mmcompress bench: {error}\n")
        return 1
    if not result.files:
        sys.stderr.write("mmcompress bench: no files to measure\n")
        return 1

    sys.stdout.write(report.to_json(result) if args.json else report.format_table(result))
    sys.stdout.flush()
    if args.out is not None:
        for written in report.write_outputs(result, args.out):
            say(f"wrote {written}")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report.to_markdown(result), encoding="utf-8")
        say(f"wrote {args.markdown}")
    for failed in (item for item in result.files if not item.roundtrip_ok):
        say(f"{failed.name}: round trip FAILED ({failed.mmc.error or 'a classic tool'})")
    return 0 if result.roundtrip_ok else 1
