"""Helpers for tests that run the command line in a subprocess (shared by the test files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str | os.PathLike[str], cwd: Path, input: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """``python -m mmcompress ARGS`` in ``cwd``; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "mmcompress", *map(str, args)],
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=timeout,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The run failed with exit 1 and one ``mmcompress: ...`` line on stderr (returned)."""
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("mmcompress: "), lines
    assert "Traceback" not in lines[0]
    return lines[0]
