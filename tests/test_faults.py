"""Faults while packing: a full disk, a killed process, a read-only target, an input that
changes, Ctrl-C and SIGTERM, and ``--rm`` with an archive that does not verify.

The promise under test, every time: nothing (or only a hidden ``.NAME.*.mmc-tmp`` after SIGKILL)
is left under the output's name, the error is one line, and the input is never removed unless
its archive decoded back to it.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import mmcompress
from mmcompress import archive, atomic, cli
from mmcompress.container import ContainerWriter
from mmcompress.errors import InputError

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
ALICE = CORPUS / "text" / "alice29.txt"
DICKENS = CORPUS / "text" / "dickens"
ZLIB = CORPUS / "code" / "c" / "zlib"

pytestmark = pytest.mark.skipif(not ALICE.is_file(), reason="corpus not available")


def names_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def alice(tmp_path: Path) -> Path:
    copy = tmp_path / "alice29.txt"
    shutil.copyfile(ALICE, copy)
    return copy


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "zlib"
    shutil.copytree(ZLIB, root)
    return root


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmcompress: "), lines
    assert "Traceback" not in err and ".mmc-tmp" not in err
    return lines[0]


# --- a full disk --------------------------------------------------------------------------------


class _FillingDisk:
    """Wraps the temp file: the write that passes ``capacity`` bytes fails with ENOSPC."""

    def __init__(self, stream, capacity: int) -> None:
        self._stream = stream
        self._left = capacity

    def write(self, data: bytes) -> int:
        if len(data) > self._left:
            self._stream.write(data[: self._left])
            self._left = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._left -= len(data)
        return self._stream.write(data)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


@pytest.mark.parametrize("what", ["file", "folder"])
def test_disk_filling_up_midway_leaves_nothing(
    what: str,
    alice: Path,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        atomic.os, "fdopen", lambda fd, *a, **k: _FillingDisk(real_fdopen(fd, *a, **k), 20_000)
    )
    source = alice if what == "file" else folder
    before = names_in(source.parent)
    assert cli.main(["pack", "-1", str(source)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"mmcompress: {source}.mmc: No space left on device"
    assert names_in(source.parent) == before


def test_file_size_limit_in_a_real_process(alice: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG) the way a full quota would."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))

    result = subprocess.run(
        [sys.executable, "-m", "mmcompress", "pack", "-1", alice.name],
        cwd=alice.parent,
        capture_output=True,
        timeout=60,
        preexec_fn=limit,
    )
    assert result.returncode == 1
    assert _one_error_line(result.stderr.decode()) == "mmcompress: alice29.txt.mmc: File too large"
    assert names_in(alice.parent) == {"alice29.txt"}


# --- killed, interrupted, terminated ------------------------------------------------------------


def _wait_for_temporary(folder: Path, prefix: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not any(n.startswith(prefix) and n.endswith(".mmc-tmp") for n in names_in(folder)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the temporary output never appeared"
        time.sleep(0.02)


def test_killed_process_leaves_only_a_named_temporary(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mmcompress", "pack", "-1", "-", "-o", "out.mmc"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(ALICE.read_bytes())
    process.stdin.flush()
    _wait_for_temporary(tmp_path, ".out.mmc.", process)
    process.kill()  # SIGKILL: no cleanup can run
    process.communicate(timeout=30)
    left = names_in(tmp_path)
    assert "out.mmc" not in left
    assert all(n.startswith(".out.mmc.") and n.endswith(".mmc-tmp") for n in left), left


@pytest.mark.parametrize(
    ("sig", "status", "message"),
    [
        (signal.SIGINT, 130, "mmcompress: interrupted"),
        (signal.SIGTERM, 143, "mmcompress: terminated"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_signal_during_parallel_folder_pack(
    tmp_path: Path, sig: int, status: int, message: str
) -> None:
    if not DICKENS.is_file():
        pytest.skip("corpus file dickens not available")
    root = tmp_path / "books"
    root.mkdir()
    shutil.copyfile(DICKENS, root / "dickens")  # 10 MB at the default level: a long pack
    shutil.copyfile(ALICE, root / "alice29.txt")
    process = subprocess.Popen(
        [sys.executable, "-m", "mmcompress", "pack", "-T", "2", "books"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell job: the signal hits all
    )
    _wait_for_temporary(tmp_path, ".books.mmc.", process)
    time.sleep(1.5)  # workers started and coding
    os.killpg(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status
    assert stderr.decode().splitlines() == [message]
    assert names_in(tmp_path) == {"books"}


# --- a read-only target folder -----------------------------------------------------------------


def test_read_only_target_folder_is_one_error_line(
    alice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    archive_path = mmcompress.pack_file(alice, tmp_path / "a.mmc", level=1).output
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse like a read-only mount

        def refuse(*args: object, **kwargs: object) -> None:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(locked / ".x.mmc-tmp"))

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
        reason = "Read-only file system"
    else:
        locked.chmod(0o555)
        reason = "Permission denied"
    assert cli.main(["pack", "-1", "-o", str(locked / "a.mmc"), str(alice)]) == 1
    assert _one_error_line(capsys.readouterr().err) == f"mmcompress: {locked / 'a.mmc'}: {reason}"
    assert cli.main(["unpack", "-o", str(locked / "out"), str(archive_path)]) == 1
    assert _one_error_line(capsys.readouterr().err) == f"mmcompress: {locked / 'out'}: {reason}"
    locked.chmod(0o755)
    assert names_in(locked) == set()


# --- an input that changes while it is packed ---------------------------------------------------


def test_folder_file_changing_while_packed_fails(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = folder / "zlib.h"
    real_read = archive.read_full
    calls = {"n": 0}

    def read_and_meddle(source, size):
        data = real_read(source, size)
        calls["n"] += 1
        if calls["n"] == 3:
            with open(victim, "ab") as grow:
                grow.write(b"/* appended while packing */\n")
        return data

    monkeypatch.setattr(archive, "read_full", read_and_meddle)
    with pytest.raises(InputError, match="changed while it was being packed"):
        mmcompress.pack_file(folder, level=1)
    assert names_in(folder.parent) == {"zlib"}


def test_single_file_rewritten_in_place_while_packed_fails(
    alice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmcompress import api

    real_read = api.read_full

    def read_and_meddle(source, size):
        data = real_read(source, size)
        with open(alice, "r+b") as same_size:  # same size, new bytes: only the mtime tells
            same_size.write(b"X")
        os.utime(alice, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        return data

    monkeypatch.setattr(api, "read_full", read_and_meddle)
    with pytest.raises(InputError, match="changed while it was being packed"):
        mmcompress.pack_file(alice, level=1)
    assert names_in(alice.parent) == {"alice29.txt"}


# --- --rm only after verification ---------------------------------------------------------------


def test_rm_keeps_the_input_when_the_archive_does_not_verify(
    alice: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_write_block = ContainerWriter.write_block

    def damaging_write_block(self, kind, codec, raw, payload):  # a bit flipped on the way out
        return real_write_block(self, kind, codec, raw, payload[:-1] + bytes([payload[-1] ^ 1]))

    monkeypatch.setattr(ContainerWriter, "write_block", damaging_write_block)
    for source in (alice, folder):
        before = names_in(source.parent)
        assert cli.main(["pack", "-1", "--rm", str(source)]) == 1
        _one_error_line(capsys.readouterr().err)
        assert names_in(source.parent) == before  # input kept, no archive under the final name


def test_rm_keeps_a_folder_holding_what_the_archive_lacks(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(folder / "pipe")  # skipped by pack with a warning: removing the folder would lose it
    assert cli.main(["pack", "-1", "--rm", str(folder)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "differs from its archive (skipped pipe: not a regular file" in line
    assert (folder / "pipe").exists() and not folder.with_name("zlib.mmc").exists()


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    import psutil

    if not DICKENS.is_file():
        pytest.skip("corpus file dickens not available")
    (tmp_path / "books").mkdir()
    shutil.copyfile(DICKENS, tmp_path / "books" / "dickens")
    process = subprocess.Popen(
        [sys.executable, "-m", "mmcompress", "pack", "-T", "2", "books"],
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_temporary(tmp_path, ".books.mmc.", process)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while len(workers) < 2:  # the pool's two workers (the resource tracker is a third child)
        assert time.monotonic() < deadline, "workers never started"
        children = psutil.Process(process.pid).children()
        workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"orphaned workers still running: {alive}"
    assert "books.mmc" not in names_in(tmp_path)


def test_verification_compares_duplicates_byte_for_byte(folder: Path) -> None:
    from mmcompress.errors import CorruptArchive

    shutil.copyfile(folder / "zlib.h", folder / "copy.h")
    archive_path = mmcompress.pack_file(folder, level=1).output
    mmcompress.api.verify_archive(archive_path, folder)
    kinds = {e.path: e.type for e in mmcompress.list_archive(archive_path).entries}
    assert kinds["zlib.h"] == "duplicate"  # of copy.h, which comes first
    data = bytearray((folder / "zlib.h").read_bytes())
    data[100] ^= 1  # same size, other bytes
    (folder / "zlib.h").write_bytes(bytes(data))
    with pytest.raises(CorruptArchive, match="zlib.h"):
        mmcompress.api.verify_archive(archive_path, folder)
