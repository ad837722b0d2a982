"""Parallel folder packing (-T N): the same archive bytes for any N, bounded work in flight."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mmcompress
from mmcompress import parallel
from mmcompress.api import Compressor

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
ZLIB = CORPUS / "code" / "c" / "zlib"
ALICE = CORPUS / "text" / "alice29.txt"

pytestmark = pytest.mark.skipif(not ZLIB.is_dir(), reason="corpus not available")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(ZLIB, root / "zlib")
    shutil.copyfile(ALICE, root / "alice29.txt")  # several 64 KiB blocks below
    (root / "empty").mkdir()
    (root / "empty.txt").write_bytes(b"")
    shutil.copyfile(ZLIB / "zlib.h", root / "copy.h")  # a duplicate
    (root / "link").symlink_to("alice29.txt")
    return root


def _compressor(level: int, block_size: int) -> Compressor:
    compressor = Compressor(level)
    compressor.recipe = dataclasses.replace(compressor.recipe, block_size=block_size)
    return compressor


@pytest.mark.parametrize("level", [1, 2], ids=["zstd", "model"])
def test_archive_is_identical_for_any_worker_count(
    level: int, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "BATCH_BYTES", 16 << 10)  # many batches from a small tree
    if level > 1:  # the model path is slow: 48 KiB of alice alone, in 16 KiB blocks
        shutil.rmtree(folder / "zlib")
        (folder / "copy.h").unlink()
        (folder / "alice29.txt").write_bytes(ALICE.read_bytes()[: 48 << 10])
    outputs = []
    for threads in (1, 2):
        target = tmp_path / f"t{threads}.mmc"
        report = _compressor(level, 16 << 10).pack_file(folder, target, threads=threads)
        assert report.files == (28 if level == 1 else 2)  # 25 zlib files, alice, empty.txt, copy.h
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    restored = tmp_path / "restored"
    mmcompress.unpack_file(tmp_path / "t2.mmc", restored)
    for path in folder.rglob("*"):
        twin = restored / path.relative_to(folder)
        if path.is_file() and not path.is_symlink():
            assert twin.read_bytes() == path.read_bytes()


class _Counted:
    def __init__(self, number: int) -> None:
        self.number = number

    def blocks(self) -> list[parallel.BlockTask]:
        return [(bytes([self.number % 251]) * 1000, 0, 0)]


def test_work_in_flight_is_bounded() -> None:
    pulled: list[int] = []

    def batches():
        for number in range(12):
            pulled.append(number)
            yield _Counted(number)

    compressor = _compressor(1, 64 << 10)
    with parallel.BlockPool(compressor.book, compressor.recipe, workers=2) as pool:
        for batch, encoded in pool.map_ordered(batches()):
            assert len(pulled) - batch.number <= pool.window  # never more than the window ahead
            assert len(encoded) == 1
        assert [n for n in pulled] == list(range(12))


def test_cli_threads_progress_and_summary(folder: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mmcompress", "pack", "-1", "-T", "2", folder.name]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmcompress: 28 files, "), lines
    assert "ratio" in lines[0] and lines[0].endswith(" s")
    quiet = subprocess.run([*command, "-q", "-f"], cwd=tmp_path, capture_output=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == b""
    serial = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmcompress",
            "pack",
            "-1",
            "-T",
            "1",
            "-q",
            "-o",
            "one.mmc",
            folder.name,
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert serial.returncode == 0, serial.stderr
    assert (tmp_path / "one.mmc").read_bytes() == (tmp_path / "tree.mmc").read_bytes()


def test_worker_count_semantics() -> None:
    assert parallel.resolve_workers(0) == max(1, os.cpu_count() or 1)
    assert parallel.resolve_workers(3) == 3


def test_progress_bars_on_a_terminal(folder: Path, tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    (folder / "big.bin").write_bytes(bytes(range(256)) * (20 << 10))  # 5 MiB: a bar of its own
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mmcompress", "pack", "-1", "-T", "2", folder.name],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=120,
        )
        os.set_blocking(controller, False)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 0
    text = shown.decode(errors="replace")
    assert "tree" in text and "big.bin" in text  # the overall bar and the big file's bar
    assert "mmcompress: 29 files" in text


def test_device_option(folder: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import types

    from mmcompress import cli

    cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert cli.main(["pack", "-1", "-q", "--device", "cuda", str(folder)]) == 1
    assert (
        capsys.readouterr().err == "mmcompress: --device cuda: no CUDA device is available here\n"
    )
    assert not folder.with_name("tree.mmc").exists()
    assert cli.main(["pack", "-1", "-q", "--device", "cpu", str(folder)]) == 0
    cuda.is_available = lambda: True  # same bytes, with a warning
    assert cli.main(["test", "--device", "cuda", str(folder.with_name("tree.mmc"))]) == 2
    assert "no GPU path yet" in capsys.readouterr().err
    # the decode options that command set (device cuda) end with it: nothing leaks to the
    # next call in this process (an LLM codec rebuilt later would have tried the GPU)
    from mmcompress.predictors import hfenv

    assert hfenv.current_decode_options() == hfenv.DecodeOptions()


def test_single_multi_block_file_is_identical_for_any_worker_count(tmp_path: Path) -> None:
    source = tmp_path / "alice.txt"
    source.write_bytes(ALICE.read_bytes()[: 48 << 10])  # three 16 KiB blocks, model-coded
    outputs = []
    for threads in (1, 2):
        target = tmp_path / f"t{threads}.mmc"
        _compressor(2, 16 << 10).pack_file(source, target, threads=threads)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert mmcompress.decompress(outputs[1]) == source.read_bytes()
