"""Turn inputs saved by the fuzzer into golden error cases: ``tests/golden/fuzz/fuzz_<sha>.mmc``.

    .venv/bin/python fuzz/add_crashes.py fuzz/crashes/crash-*      (after fixing the bug)

Each input is unpacked now; it must raise an :class:`~mmcompress.errors.MmcError` (the fix), and
that class is recorded in ``tests/golden/fuzz/expected.json`` (entries are only ever appended).
``tests/test_fuzz_unpack.py`` checks every case on every run.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

from mmcompress.api import Compressor
from mmcompress.errors import MmcError

FOLDER = Path(__file__).resolve().parents[1] / "tests" / "golden" / "fuzz"
EXPECTED = FOLDER / "expected.json"


def error_of(data: bytes) -> str:
    """The error class unpacking ``data`` raises now (SystemExit if it is not an MmcError)."""
    with tempfile.TemporaryDirectory() as work:
        archive = Path(work) / "case.mmc"
        archive.write_bytes(data)
        try:
            Compressor(level=1).unpack_file(archive, Path(work) / "out")
        except MmcError as exc:
            return type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - the bug is still there
            raise SystemExit(
                f"{archive.name}: still crashes with {type(exc).__name__}: {exc}"
            ) from None
    raise SystemExit("the input unpacks without error: not an error case")


def main(paths: list[str]) -> int:
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    for path in paths:
        data = Path(path).read_bytes()
        name = f"fuzz_{hashlib.sha256(data).hexdigest()[:12]}"
        if name in expected:
            continue
        expected[name] = error_of(data)
        (FOLDER / f"{name}.mmc").write_bytes(data)
        print(f"{name}: {expected[name]}")
    EXPECTED.write_text(json.dumps(expected, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
