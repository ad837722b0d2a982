"""The atheris fuzz target of ``unpack`` (fuzz/fuzz_unpack.py): a short run here, the long ones
with ``make fuzz FUZZ_SECONDS=...``; and every input the fuzzer ever crashed on, kept as a golden
error case (tests/golden/fuzz/, added by fuzz/add_crashes.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mmcompress
from mmcompress import errors

ROOT = Path(__file__).resolve().parents[1]
FINDINGS = ROOT / "tests" / "golden" / "fuzz"
EXPECTED: dict[str, str] = json.loads((FINDINGS / "expected.json").read_text())
HAVE_ATHERIS = importlib.util.find_spec("atheris") is not None
FUZZ_SECONDS = 3


@pytest.mark.skipif(
    not HAVE_ATHERIS,
    reason="atheris is not installed (pip install '.[dev]'; it has wheels for CPython on Linux x86-64 and macOS only)",
)
def test_short_fuzz_run_finds_no_crash(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "fuzz_unpack.py"),
            f"-max_total_time={FUZZ_SECONDS}",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        env={**os.environ, "MMC_FUZZ_WORK": str(tmp_path / "work")},  # cleaned by pytest
    )
    log = result.stderr.decode(errors="replace")
    assert result.returncode == 0, log[-3000:]
    assert "Done " in log and "runs in" in log, log[-3000:]


def test_findings_folder_matches_its_map() -> None:
    assert sorted(p.stem for p in FINDINGS.glob("*.mmc")) == sorted(EXPECTED)
    assert all(name.startswith("fuzz_") for name in EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fuzz_finding_raises_its_error(name: str, tmp_path: Path) -> None:
    archive = tmp_path / "case.mmc"
    archive.write_bytes((FINDINGS / f"{name}.mmc").read_bytes())
    with pytest.raises(errors.MmcError) as caught:
        mmcompress.unpack_file(archive, tmp_path / "out")
    assert type(caught.value).__name__ == EXPECTED[name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.mmc"]
