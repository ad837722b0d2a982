"""Hostile archives and odd inputs beyond tests/test_archive.py: decompression bombs (declared and
real), deep nesting, huge metadata, device files and fifos, hard links. Each is refused before
anything is written, or bounded, and nothing is left behind.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import mmcompress
from mmcompress import archive, cli
from mmcompress.blockcoding import zstd_compress
from mmcompress.container import (
    FLAG_TREE,
    MAX_META_BYTES,
    SIGNATURE,
    BlockKind,
    ContainerWriter,
    Entry,
    EntryType,
)
from mmcompress.errors import CorruptArchive, LimitExceeded, UnsafePath

MiB = 1 << 20


def _archive(
    path: Path, entries: list[tuple[Entry, bytes]], tree: bool = True, zstd: bool = False
) -> Path:
    """Write ``entries`` (each FILE with its data, as one block) to ``path``."""
    stream = io.BytesIO()
    writer = ContainerWriter(stream, {"codecs": []}, flags=FLAG_TREE if tree else 0)
    for entry, data in entries:
        if entry.type == EntryType.FILE and data:
            entry.first_block = writer.offset
            if zstd:
                writer.write_block(BlockKind.ZSTD, 0, data, zstd_compress(data, 19))
            else:
                writer.write_block(BlockKind.STORED, 0, data, data)
            entry.size, entry.block_count = len(data), 1
            entry.packed_size = writer.offset - entry.first_block
        writer.add_entry(entry)
    writer.close()
    path.write_bytes(stream.getvalue())
    return path


def _nothing_written(tmp_path: Path, archive_name: str = "bomb.mmc") -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive_name]


# --- decompression bombs ------------------------------------------------------------------------


def test_declared_bomb_block_size_is_refused_before_allocation(tmp_path: Path) -> None:
    path = _archive(tmp_path / "bomb.mmc", [(Entry("f"), b"x" * 100)], tree=False)
    blob = bytearray(path.read_bytes())
    blocks_start = 16 + len(b'{"codecs":[]}') + 4
    struct.pack_into("<I", blob, blocks_start + 2, 0xFFFFFFFF)  # raw size 4 GiB
    path.write_bytes(bytes(blob))
    with pytest.raises(LimitExceeded):
        mmcompress.unpack_file(path, tmp_path / "out")
    _nothing_written(tmp_path)


def test_duplicate_bomb_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One 64 MiB zstd block (a few KiB) and 20 copies of it: 1.3 GiB from a tiny archive."""
    zeros = bytes(64 * MiB)
    entries = [(Entry("zeros"), zeros)]
    entries += [(Entry(f"copy{i}", EntryType.DUPLICATE, duplicate_of=0), b"") for i in range(20)]
    path = _archive(tmp_path / "bomb.mmc", entries, zstd=True)
    assert path.stat().st_size < 64 << 10
    monkeypatch.setattr(archive, "unpack_stream", lambda *a, **k: pytest.fail("decoded a bomb"))
    with pytest.raises(LimitExceeded, match="--allow-large"):
        mmcompress.unpack_file(path, tmp_path / "out")
    with pytest.raises(LimitExceeded):
        mmcompress.test_archive(path)
    _nothing_written(tmp_path)


def test_real_bomb_is_bounded_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "FREE_EXPANSION_BYTES", 1 * MiB)  # a 4 MiB bomb stands for 4 GiB
    path = _archive(
        tmp_path / "bomb.mmc", [(Entry("zeros"), bytes(4 * MiB))], tree=False, zstd=True
    )
    assert path.stat().st_size * archive.MAX_EXPANSION_RATIO < 4 * MiB
    with pytest.raises(LimitExceeded):
        mmcompress.unpack_file(path, tmp_path / "zeros")
    with pytest.raises(LimitExceeded):
        mmcompress.decompress(path.read_bytes())
    _nothing_written(tmp_path)
    assert cli.main(["unpack", "-q", str(path), "-o", str(tmp_path / "zeros")]) == 1
    assert (
        cli.main(["unpack", "-q", "--allow-large", str(path), "-o", str(tmp_path / "zeros")]) == 0
    )
    assert (tmp_path / "zeros").read_bytes() == bytes(4 * MiB)


def test_zstd_block_cannot_expand_past_its_declared_size(tmp_path: Path) -> None:
    """A zstd frame that holds more than the block header says is cut at raw_size, then refused."""
    path = tmp_path / "bomb.mmc"
    big = zstd_compress(bytes(8 * MiB), 3)  # the archive's own zstd form: no declared size
    assert len(big) < 1000
    stream = io.BytesIO()
    writer = ContainerWriter(stream, {"codecs": []})
    entry = Entry("f", first_block=writer.offset)
    writer.write_block(BlockKind.ZSTD, 0, bytes(1000), big)  # header: 1000 raw bytes
    entry.size, entry.block_count, entry.packed_size = 1000, 1, writer.offset - entry.first_block
    writer.add_entry(entry)
    writer.close()
    path.write_bytes(stream.getvalue())
    with pytest.raises(CorruptArchive):
        mmcompress.unpack_file(path, tmp_path / "out")
    _nothing_written(tmp_path)


def test_output_larger_than_free_space_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _archive(tmp_path / "bomb.mmc", [(Entry("f"), b"y" * 5000)], tree=False)
    real_statvfs = os.statvfs

    class Tiny:
        def __init__(self, real: os.statvfs_result) -> None:
            self.f_frsize, self.f_bavail = real.f_frsize, 1000 // real.f_frsize

    monkeypatch.setattr(archive.os, "statvfs", lambda p: Tiny(real_statvfs(p)))
    assert cli.main(["unpack", str(path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "No space left on device (needs 5000 bytes" in err[0]
    _nothing_written(tmp_path)


# --- paths, metadata, entry types ---------------------------------------------------------------


def test_deep_nesting_is_refused_on_unpack_and_skipped_on_pack(tmp_path: Path) -> None:
    deep = "/".join(["d"] * (archive.MAX_PATH_DEPTH + 1)) + "/f"
    path = _archive(tmp_path / "bomb.mmc", [(Entry(deep), b"data")])
    with pytest.raises(UnsafePath, match="nests deeper"):
        mmcompress.unpack_file(path, tmp_path / "out")
    _nothing_written(tmp_path)

    root = tmp_path / "tree"
    leaf = root.joinpath(*["d"] * (archive.MAX_PATH_DEPTH + 4))
    leaf.mkdir(parents=True)
    (leaf / "f").write_bytes(b"deep")
    (root / "top.txt").write_bytes(b"top")
    report = mmcompress.pack_file(root, level=1)
    assert any("nested deeper" in w for w in report.warnings)
    mmcompress.unpack_file(report.output, tmp_path / "back")
    assert (tmp_path / "back" / "top.txt").read_bytes() == b"top"


def _raw_header(meta: bytes, declared: int | None = None) -> bytes:
    length = len(meta) if declared is None else declared
    return SIGNATURE + struct.pack("<BBHI", 1, 0, 0, length) + meta + bytes(4 + 1 + 52)


@pytest.mark.parametrize(
    ("blob", "error"),
    [
        (_raw_header(b"{}", declared=MAX_META_BYTES + 1), LimitExceeded),
        (_raw_header(b"{}", declared=0xFFFFFFFF), LimitExceeded),
        (_raw_header(b"[" * 200_000 + b"]" * 200_000), CorruptArchive),
    ],
    ids=["meta-over-limit", "meta-4GiB", "meta-deeply-nested"],
)
def test_huge_metadata_is_refused(tmp_path: Path, blob: bytes, error: type[Exception]) -> None:
    path = tmp_path / "bomb.mmc"
    path.write_bytes(blob)
    with pytest.raises(error):
        mmcompress.unpack_file(path, tmp_path / "out")
    with pytest.raises(error):
        mmcompress.list_archive(path)
    _nothing_written(tmp_path)


def test_device_entries_do_not_exist_in_the_format(tmp_path: Path) -> None:
    device = Entry("dev-sda")
    device.type = 4  # type: ignore[assignment]  # what a "block device" entry would look like
    path = _archive(tmp_path / "bomb.mmc", [(device, b"")])
    with pytest.raises(CorruptArchive, match="unknown entry type"):
        mmcompress.unpack_file(path, tmp_path / "out")
    _nothing_written(tmp_path)


def test_fifo_in_a_packed_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.txt").write_bytes(b"hello\n")
    os.mkfifo(root / "pipe")  # packing must not block reading it, nor store it
    result = subprocess.run(
        [sys.executable, "-m", "mmcompress", "pack", "-1", "tree"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines[0] == "mmcompress: warning: tree: skipped pipe: not a regular file, folder or link"
    assert [e.path for e in mmcompress.list_archive(tmp_path / "tree.mmc").entries] == ["a.txt"]


def test_hard_links_are_never_created_on_extract(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.txt").write_bytes(b"shared\n" * 100)
    os.link(root / "a.txt", root / "b.txt")
    report = mmcompress.pack_file(root, level=1)
    kinds = {e.path: e.type for e in mmcompress.list_archive(report.output).entries}
    assert kinds == {"a.txt": "file", "b.txt": "duplicate"}
    mmcompress.unpack_file(report.output, tmp_path / "out")
    a, b = os.stat(tmp_path / "out" / "a.txt"), os.stat(tmp_path / "out" / "b.txt")
    assert a.st_nlink == 1 and b.st_nlink == 1 and a.st_ino != b.st_ino
    (tmp_path / "out" / "b.txt").write_bytes(b"changed")
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"shared\n" * 100
