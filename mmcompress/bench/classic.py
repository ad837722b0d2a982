"""The classic compressors mmcompress is compared with: exact sizes, timings and round trips.

Five tools, each at the setting BASELINES.md uses (../shared/corpus/BASELINES.md):

    gzip -9     gzip -9 -n -c FILE
    bzip2 -9    bzip2 -9 -c FILE
    xz -9e      xz -9e -c -T1 FILE
    zstd -19    zstd -19 -c -q -T1 FILE
    brotli -q11 brotli -q 11 -w 24 -c FILE

The command-line tool is used when it is on PATH, so the sizes are those a user gets. The CLI
reads the input as a FILE, not from a pipe: zstd writes the content size in its frame header only
when it knows the size in advance, and that byte is part of the figures BASELINES.md lists.
When a CLI is missing, a Python module stands in, with the closest settings:

    gzip   -> gzip module, level 9, mtime=0       (zlib's deflate: sizes differ from GNU gzip's)
    bzip2  -> bz2 module, level 9                 (same libbz2: byte-identical output)
    xz     -> lzma module, preset 9|EXTREME, CRC64 (same liblzma: byte-identical output)
    zstd   -> zstandard module, level 19, checksum + content size (like the CLI; the bundled
              libzstd version may differ from the CLI's by a byte here and there)
    brotli -> brotli module, quality 11, lgwin 24

Every result records which implementation produced it (`Implementation.description`).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mmcompress.errors import MmcError

ImplementationKind = Literal["cli", "python"]


class ToolUnavailable(MmcError):
    """A classic tool has neither its command-line program nor its Python module here."""


# --------------------------------------------------------------------------- python stand-ins


def _gzip_compress(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9, mtime=0)


def _gzip_decompress(blob: bytes) -> bytes:
    import gzip

    return gzip.decompress(blob)


def _gzip_description() -> str:
    import zlib

    return f"Python gzip module (zlib {zlib.ZLIB_RUNTIME_VERSION}), level 9, mtime=0"


def _bzip2_compress(data: bytes) -> bytes:
    import bz2

    return bz2.compress(data, compresslevel=9)


def _bzip2_decompress(blob: bytes) -> bytes:
    import bz2

    return bz2.decompress(blob)


def _bzip2_description() -> str:
    return "Python bz2 module (libbz2), level 9"


def _xz_compress(data: bytes) -> bytes:
    import lzma

    return lzma.compress(
        data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME
    )


def _xz_decompress(blob: bytes) -> bytes:
    import lzma

    return lzma.decompress(blob, format=lzma.FORMAT_XZ)


def _xz_description() -> str:
    return "Python lzma module (liblzma), preset 9|PRESET_EXTREME, check CRC64"


def _zstd_compress(data: bytes) -> bytes:
    import zstandard

    compressor = zstandard.ZstdCompressor(level=19, write_checksum=True, write_content_size=True)
    return compressor.compress(data)


def _zstd_decompress(blob: bytes) -> bytes:
    import zstandard

    # stream_reader does not need the content size in the frame header
    with zstandard.ZstdDecompressor().stream_reader(blob) as reader:
        return reader.read()


def _zstd_description() -> str:
    import zstandard

    libzstd = ".".join(str(part) for part in zstandard.ZSTD_VERSION)
    return (
        f"Python zstandard {zstandard.__version__} (libzstd {libzstd}), level 19, "
        "checksum + content size"
    )


def _brotli_compress(data: bytes) -> bytes:
    import brotli

    return brotli.compress(data, quality=11, lgwin=24)


def _brotli_decompress(blob: bytes) -> bytes:
    import brotli

    return brotli.decompress(blob)


def _brotli_description() -> str:
    import brotli

    return f"Python brotli {brotli.__version__}, quality 11, lgwin 24"


# --------------------------------------------------------------------------- the tool table


@dataclass(frozen=True)
class ClassicTool:
    """One classic compressor at one setting, with its CLI command and its Python stand-in."""

    key: str  # short name used in flags and column names: "gzip"
    label: str  # how tables name it: "gzip -9"
    cli_compress: tuple[str, ...]  # argv without the input FILE; output on stdout
    cli_decompress: tuple[str, ...]  # argv reading stdin, writing stdout
    python_compress: Callable[[bytes], bytes]
    python_decompress: Callable[[bytes], bytes]
    python_description: Callable[[], str]
    python_module: str  # the module the stand-in needs, to tell whether it is installed

    @property
    def program(self) -> str:
        return self.cli_compress[0]


TOOLS: dict[str, ClassicTool] = {
    tool.key: tool
    for tool in (
        ClassicTool("gzip", "gzip -9", ("gzip", "-9", "-n", "-c"), ("gzip", "-d", "-c"),
                    _gzip_compress, _gzip_decompress, _gzip_description, "zlib"),
        ClassicTool("bzip2", "bzip2 -9", ("bzip2", "-9", "-c"), ("bzip2", "-d", "-c"),
                    _bzip2_compress, _bzip2_decompress, _bzip2_description, "bz2"),
        ClassicTool("xz", "xz -9e", ("xz", "-9e", "-c", "-T1"), ("xz", "-d", "-c"),
                    _xz_compress, _xz_decompress, _xz_description, "lzma"),
        ClassicTool("zstd", "zstd -19", ("zstd", "-19", "-c", "-q", "-T1"), ("zstd", "-d", "-c", "-q"),
                    _zstd_compress, _zstd_decompress, _zstd_description, "zstandard"),
        ClassicTool("brotli", "brotli -q11", ("brotli", "-q", "11", "-w", "24", "-c"),
                    ("brotli", "-d", "-c"),
                    _brotli_compress, _brotli_decompress, _brotli_description, "brotli"),
    )
}  # fmt: skip

ALL: tuple[str, ...] = tuple(TOOLS)

_VERSION_NUMBER = re.compile(r"v?(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Implementation:
    """Which program or module runs a tool on this machine, and its version."""

    tool: str
    kind: ImplementationKind
    executable: str | None  # full path of the CLI, None for a Python module
    description: str  # e.g. "gzip 1.12 CLI: /usr/bin/gzip -9 -n -c FILE"


def _cli_version(program_path: str) -> str:
    """'1.12' from `gzip --version`, '1.0.8' from bzip2's banner; '?' when none is printed."""
    try:
        completed = subprocess.run(
            [program_path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    banner = (completed.stdout + completed.stderr).decode("utf-8", "replace")
    first_line = banner.strip().splitlines()[0] if banner.strip() else ""
    found = _VERSION_NUMBER.search(first_line)
    return found.group(1) if found else "?"


def _python_module_available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@functools.cache
def find_implementation(key: str, prefer: ImplementationKind = "cli") -> Implementation:
    """The implementation of tool `key` to use here: its CLI if on PATH, else its Python module.

    `prefer="python"` picks the module even when the CLI exists (used to compare the two).
    Raises ToolUnavailable when neither is present.
    """
    tool = TOOLS.get(key)
    if tool is None:
        raise ToolUnavailable(f"unknown classic tool {key!r} (known: {', '.join(ALL)})")
    program_path = shutil.which(tool.program)
    python_ok = _python_module_available(tool.python_module)
    if program_path and (prefer == "cli" or not python_ok):
        version = _cli_version(program_path)
        command = " ".join((program_path, *tool.cli_compress[1:], "FILE"))
        return Implementation(key, "cli", program_path, f"{tool.program} {version} CLI: {command}")
    if python_ok:
        return Implementation(key, "python", None, tool.python_description())
    raise ToolUnavailable(
        f"{tool.label}: no '{tool.program}' on PATH and no Python module '{tool.python_module}'"
    )


def available_tools() -> tuple[str, ...]:
    """The tool keys that can run here, in the standard order."""
    available = []
    for key in ALL:
        try:
            find_implementation(key)
        except ToolUnavailable:
            continue
        available.append(key)
    return tuple(available)


# --------------------------------------------------------------------------- running a tool


def _run_cli(argv: list[str], stdin_bytes: bytes | None = None) -> bytes:
    completed = subprocess.run(argv, input=stdin_bytes, capture_output=True, check=False)
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MmcError(
            f"{' '.join(argv)} failed: {message[-1] if message else completed.returncode}"
        )
    return completed.stdout


def compress(
    key: str, data: bytes, *, path: Path | None = None, implementation: Implementation | None = None
) -> bytes:
    """Compress `data` with tool `key`.

    `path`, when given, must hold exactly `data`: the CLI then reads it in place instead of
    from a temporary copy (the CLI always reads a file, see the module docstring).
    """
    tool = TOOLS[key]
    implementation = implementation or find_implementation(key)
    if implementation.kind == "python":
        return tool.python_compress(data)
    assert implementation.executable is not None
    argv = [implementation.executable, *tool.cli_compress[1:]]
    if path is not None:
        return _run_cli([*argv, str(path)])
    with tempfile.TemporaryDirectory(prefix="mmc-bench-") as folder:
        input_path = Path(folder) / "input"
        input_path.write_bytes(data)
        return _run_cli([*argv, str(input_path)])


def decompress(key: str, blob: bytes, *, implementation: Implementation | None = None) -> bytes:
    """Decompress what `compress(key, ...)` produced, with the same implementation."""
    tool = TOOLS[key]
    implementation = implementation or find_implementation(key)
    if implementation.kind == "python":
        return tool.python_decompress(blob)
    assert implementation.executable is not None
    return _run_cli([implementation.executable, *tool.cli_decompress[1:]], stdin_bytes=blob)


@dataclass
class ClassicResult:
    """One classic tool on one input: exact compressed size, best-of-N wall times, round trip."""

    tool: str
    size_bytes: int
    compress_seconds: float
    decompress_seconds: float
    roundtrip_ok: bool


def _best_time(action: Callable[[], bytes], repeat: int) -> tuple[bytes, float]:
    """Run `action` `repeat` times; its (last) output and the fastest wall time."""
    best = float("inf")
    output = b""
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        output = action()
        best = min(best, time.perf_counter() - start)
    return output, best


def measure(
    key: str,
    data: bytes,
    *,
    path: Path | None = None,
    repeat: int = 1,
    implementation: Implementation | None = None,
) -> ClassicResult:
    """Compress and decompress `data` with tool `key`; check the round trip once.

    The size is exact (the CLI's stdout length). Times are wall-clock, the best of `repeat`
    runs; for a CLI they include starting the process (about a millisecond).
    """
    implementation = implementation or find_implementation(key)
    blob, compress_seconds = _best_time(
        lambda: compress(key, data, path=path, implementation=implementation), repeat
    )
    restored, decompress_seconds = _best_time(
        lambda: decompress(key, blob, implementation=implementation), repeat
    )
    return ClassicResult(
        tool=key,
        size_bytes=len(blob),
        compress_seconds=compress_seconds,
        decompress_seconds=decompress_seconds,
        roundtrip_ok=restored == data,
    )
