"""The command line, run for real (``python -m mmcompress``) on copies of corpus files.

Most cases use level 1 (zstd blocks only) so the file stays fast; one round trip uses the default
level. Every failure case checks the zstd/xz contract: exit 1, exactly one stderr line starting
``mmcompress:``, and nothing half-written left beside the output.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from clitools import assert_one_error_line, run_cli

from mmcompress import cli, progress

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
ALICE = CORPUS / "text" / "alice29.txt"
ZLIB = CORPUS / "code" / "c" / "zlib"
FAST = "-1"

pytestmark = pytest.mark.skipif(not ALICE.is_file(), reason="corpus not available")


def names_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def alice(tmp_path: Path) -> Path:
    copy = tmp_path / "alice29.txt"
    shutil.copyfile(ALICE, copy)
    return copy


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "zlib"
    copy.mkdir()
    for source in sorted(ZLIB.iterdir())[:8]:  # a few C files keep it small
        if source.is_file():
            shutil.copyfile(source, copy / source.name)
    return copy


@pytest.fixture
def alice_archive(alice: Path) -> Path:
    result = run_cli("pack", FAST, alice.name, cwd=alice.parent)
    assert result.returncode == 0, result.stderr
    return alice.with_name(alice.name + ".mmc")


# --- round trips -------------------------------------------------------------------------------


def test_file_round_trip_keeps_input_lists_and_tests(alice: Path) -> None:
    tmp = alice.parent
    packed = run_cli("pack", FAST, alice.name, cwd=tmp)
    assert packed.returncode == 0, packed.stderr
    assert packed.stdout == b"" and packed.stderr == b""
    archive = tmp / "alice29.txt.mmc"
    assert alice.read_bytes() == ALICE.read_bytes()  # input kept
    assert 0 < archive.stat().st_size < alice.stat().st_size

    listed = run_cli("list", "--json", archive.name, cwd=tmp)
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert [(e["path"], e["type"], e["size"]) for e in listing["entries"]] == [
        ("alice29.txt", "file", ALICE.stat().st_size)
    ]
    assert listing["total_size"] == ALICE.stat().st_size

    tested = run_cli("test", archive.name, cwd=tmp)
    assert tested.returncode == 0 and tested.stdout == b""

    alice.unlink()
    unpacked = run_cli("unpack", archive.name, cwd=tmp)
    assert unpacked.returncode == 0, unpacked.stderr
    assert alice.read_bytes() == ALICE.read_bytes()
    assert archive.exists()  # archive kept


def test_folder_round_trip_with_output_names(code_dir: Path) -> None:
    tmp = code_dir.parent
    packed = run_cli("pack", FAST, "-o", "code.mmc", code_dir.name, cwd=tmp)
    assert packed.returncode == 0, packed.stderr
    table = run_cli("list", "code.mmc", cwd=tmp).stdout.decode().splitlines()
    assert table[0].split() == ["type", "size", "packed", "ratio", "modality", "coding", "path"]
    assert sorted(row.split()[-1] for row in table[1:-2]) == sorted(tree_bytes(code_dir))
    assert table[-1].startswith("total")

    unpacked = run_cli("unpack", "-o", "restored", "code.mmc", cwd=tmp)
    assert unpacked.returncode == 0, unpacked.stderr
    assert tree_bytes(tmp / "restored") == tree_bytes(code_dir)


def test_stdin_to_stdout_pipe_round_trip() -> None:
    data = ALICE.read_bytes()[:40_000]
    packed = run_cli("pack", FAST, "-", cwd=Path.cwd(), input=data)
    assert packed.returncode == 0, packed.stderr
    assert packed.stderr == b""
    unpacked = run_cli("unpack", "-", cwd=Path.cwd(), input=packed.stdout)
    assert unpacked.returncode == 0, unpacked.stderr
    assert unpacked.stdout == data


def test_stdout_option_matches_file_output(alice: Path, alice_archive: Path) -> None:
    tmp = alice.parent
    to_stdout = run_cli("pack", FAST, "-c", alice.name, cwd=tmp)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout == alice_archive.read_bytes()  # same bytes as `pack FILE`
    assert names_in(tmp) == {"alice29.txt", "alice29.txt.mmc"}

    restored = run_cli("unpack", "-c", alice_archive.name, cwd=tmp)
    assert restored.returncode == 0 and restored.stdout == ALICE.read_bytes()


def test_default_level_round_trip(tmp_path: Path) -> None:
    sample = tmp_path / "sample.txt"
    sample.write_bytes(ALICE.read_bytes()[:20_000])
    packed = run_cli("pack", "-v", sample.name, cwd=tmp_path)
    assert packed.returncode == 0, packed.stderr
    assert "->" in packed.stderr.decode()  # -v: size -> packed, ratio, speed
    sample.unlink()
    unpacked = run_cli("unpack", "-q", "sample.txt.mmc", cwd=tmp_path)
    assert unpacked.returncode == 0 and unpacked.stderr == b""
    assert sample.read_bytes() == ALICE.read_bytes()[:20_000]


def test_stdin_folder_archive_to_named_output(code_dir: Path) -> None:
    tmp = code_dir.parent
    archive = run_cli("pack", FAST, "-c", code_dir.name, cwd=tmp).stdout
    result = run_cli("unpack", "-", "-o", "copy", cwd=tmp, input=archive)
    assert result.returncode == 0, result.stderr
    assert tree_bytes(tmp / "copy") == tree_bytes(code_dir)
    # A folder archive has no single stream to put on stdout.
    assert_one_error_line(run_cli("unpack", "-", cwd=tmp, input=archive))


# --- -f, --rm, several inputs, warnings -------------------------------------------------------


def test_force_refuses_then_overwrites(alice: Path, alice_archive: Path) -> None:
    tmp = alice.parent
    alice_archive.write_bytes(b"old")
    line = assert_one_error_line(run_cli("pack", FAST, alice.name, cwd=tmp))
    assert "exists" in line
    assert alice_archive.read_bytes() == b"old"
    assert names_in(tmp) == {"alice29.txt", "alice29.txt.mmc"}

    forced = run_cli("pack", FAST, "-f", alice.name, cwd=tmp)
    assert forced.returncode == 0, forced.stderr
    assert run_cli("unpack", "-c", alice_archive.name, cwd=tmp).stdout == ALICE.read_bytes()

    # unpack refuses to replace the existing alice29.txt without -f
    assert_one_error_line(run_cli("unpack", alice_archive.name, cwd=tmp))
    assert run_cli("unpack", "-f", alice_archive.name, cwd=tmp).returncode == 0


def test_rm_removes_only_after_success(alice: Path, code_dir: Path) -> None:
    tmp = alice.parent
    (tmp / "alice29.txt.mmc").write_bytes(b"in the way")
    assert_one_error_line(run_cli("pack", FAST, "--rm", alice.name, cwd=tmp))
    assert alice.read_bytes() == ALICE.read_bytes()  # failed pack: input kept
    (tmp / "alice29.txt.mmc").unlink()

    expected = tree_bytes(code_dir)
    packed = run_cli("pack", FAST, "--rm", alice.name, code_dir.name, cwd=tmp)
    assert packed.returncode == 0, packed.stderr
    assert names_in(tmp) == {"alice29.txt.mmc", "zlib.mmc"}

    unpacked = run_cli("unpack", "--rm", "alice29.txt.mmc", "zlib.mmc", cwd=tmp)
    assert unpacked.returncode == 0, unpacked.stderr
    assert names_in(tmp) == {"alice29.txt", "zlib"}
    assert alice.read_bytes() == ALICE.read_bytes()
    assert tree_bytes(code_dir) == expected


def test_several_inputs_keep_going_after_an_error(alice_archive: Path) -> None:
    tmp = alice_archive.parent
    (tmp / "alice29.txt").unlink()
    result = run_cli("unpack", "missing.mmc", alice_archive.name, cwd=tmp)
    assert_one_error_line(result)
    assert (tmp / "alice29.txt").read_bytes() == ALICE.read_bytes()


def test_skipped_input_is_a_warning_exit_2(alice_archive: Path) -> None:
    result = run_cli("pack", FAST, alice_archive.name, cwd=alice_archive.parent)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("mmcompress: warning:")
    quiet = run_cli("pack", FAST, "-q", alice_archive.name, cwd=alice_archive.parent)
    assert quiet.returncode == 2 and quiet.stderr == b""


# --- bad inputs --------------------------------------------------------------------------------


def _damage(kind: str, archive: Path) -> Path:
    blob = archive.read_bytes()
    target = archive.with_name("damaged.mmc")
    if kind == "not-an-archive":
        target.write_bytes(ALICE.read_bytes()[:5000])
    elif kind == "truncated":
        target.write_bytes(blob[: len(blob) // 2])
    elif kind == "flipped-byte":
        flipped = bytearray(blob)
        flipped[len(blob) // 2] ^= 0x20
        target.write_bytes(bytes(flipped))
    elif kind == "empty":
        target.write_bytes(b"")
    return target


@pytest.mark.parametrize(
    "kind", ["missing", "not-an-archive", "truncated", "flipped-byte", "empty"]
)
def test_bad_archives_fail_in_one_line_leaving_nothing(kind: str, alice_archive: Path) -> None:
    tmp = alice_archive.parent
    (tmp / "alice29.txt").unlink()
    damaged = tmp / "damaged.mmc" if kind == "missing" else _damage(kind, alice_archive)
    before = names_in(tmp)

    assert_one_error_line(run_cli("unpack", damaged.name, cwd=tmp))
    assert names_in(tmp) == before  # no damaged file, no temporary left behind
    assert_one_error_line(run_cli("test", damaged.name, cwd=tmp))
    assert names_in(tmp) == before


def test_missing_input_to_pack_and_misuse(tmp_path: Path) -> None:
    line = assert_one_error_line(run_cli("pack", FAST, "nothere.txt", cwd=tmp_path))
    assert "nothere.txt" in line
    assert_one_error_line(run_cli("pack", "-o", "x.mmc", "a", "b", cwd=tmp_path))
    assert_one_error_line(run_cli("pack", "--level", "12", "a", cwd=tmp_path))
    assert names_in(tmp_path) == set()


def test_refuses_to_write_compressed_data_to_a_terminal(alice: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mmcompress", "pack", FAST, "-c", alice.name],
            cwd=alice.parent,
            stdout=terminal,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        os.set_blocking(controller, False)
        try:
            written = os.read(controller, 1 << 16)
        except (BlockingIOError, OSError):
            written = b""
    finally:
        os.close(terminal)
        os.close(controller)
    assert_one_error_line(result)
    assert written == b""


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mmcompress", "pack", FAST, "-", "-o", "out.mmc"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(ALICE.read_bytes()[:1000])  # stdin stays open: pack waits for more
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while not any(name.startswith(".out.mmc") for name in names_in(tmp_path)):
        assert time.monotonic() < deadline, "the temporary output never appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.decode().splitlines() == ["mmcompress: interrupted"]
    assert names_in(tmp_path) == set()


# --- small commands ----------------------------------------------------------------------------


def test_version_help_and_models(tmp_path: Path) -> None:
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.decode().startswith("mmcompress ")
    usage = run_cli("-h", cwd=tmp_path)
    assert usage.returncode == 0
    for command in ("pack", "unpack", "list", "test", "bench", "models"):
        assert command in usage.stdout.decode()
    models = run_cli("models", "--json", cwd=tmp_path)
    assert models.returncode == 0, models.stderr
    assert all({"name", "kind", "size_bytes"} <= set(m) for m in json.loads(models.stdout))


# --- in-process: delegation, internal errors, the progress helper -------------------------------


def test_bench_arguments_pass_through_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_bench_main(argv: list[str]) -> int:
        seen.append(argv)
        return 3

    monkeypatch.setitem(
        sys.modules, "mmcompress.bench", types.SimpleNamespace(main=fake_bench_main)
    )
    assert cli.main(["bench", "--quick", "-o", "x", "-h", "text"]) == 3
    assert seen == [["--quick", "-o", "x", "-h", "text"]]


def test_internal_error_is_one_line_traceback_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], alice: Path
) -> None:
    from mmcompress import api

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(api, "pack_file", broken)
    assert cli.main(["pack", str(alice)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "mmcompress: internal error: RuntimeError: boom second line"
    ]
    assert cli.main(["pack", "-v", str(alice)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("mmcompress: internal error")


def test_progress_is_silent_off_a_terminal() -> None:
    bar = progress.progress(total=100, desc="x")  # stderr is captured here, not a terminal
    with bar:
        bar.update(10)
    bar.close()
    assert not progress.is_enabled()
