"""Folder archives: tree round trips with metadata, and hostile archives refused."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

import mmcompress
from mmcompress.archive import check_entries, link_stays_inside, safe_relpath
from mmcompress.container import FLAG_TREE, BlockKind, ContainerWriter, Entry, EntryType
from mmcompress.errors import CorruptArchive, OutputExists, UnsafePath

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ZLIB = CORPUS / "bench" / "code" / "c" / "zlib"


def _snapshot(root: Path) -> dict[str, tuple]:
    """Everything a round trip must keep: kind, bytes, link target, permission bits, mtime."""
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            st = os.lstat(path)
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", st.st_mode & 0o777, int(st.st_mtime))
            else:
                found[rel] = ("file", path.read_bytes(), st.st_mode & 0o777, int(st.st_mtime))
    return found


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ZLIB, root / "zlib")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "empty" / "nested").mkdir(parents=True)
    shutil.copyfile(root / "zlib" / "zlib.h", root / "zlib-copy.h")  # identical content
    os.link(root / "zlib" / "crc32.c", root / "crc32-hardlink.c")
    (root / "link-to-header").symlink_to("zlib/zlib.h")
    (root / "empty.txt").write_bytes(b"")
    (root / "script.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "script.sh").chmod(0o750)
    os.utime(root / "script.sh", (1_600_000_000, 1_600_000_000))
    return root


def test_tree_round_trip_keeps_everything(tree: Path, tmp_path: Path) -> None:
    report = mmcompress.pack_file(tree, level=1)
    assert report.output == tree.with_name("project.mmc")
    out = tmp_path / "restored"
    mmcompress.unpack_file(report.output, out)
    assert _snapshot(out) == _snapshot(tree)


def test_identical_files_are_stored_once(tree: Path) -> None:
    report = mmcompress.pack_file(tree, level=1)
    listing = mmcompress.list_archive(report.output)
    kinds = {e.path: e.type for e in listing.entries}
    assert kinds["zlib-copy.h"] == "duplicate" or kinds["zlib/zlib.h"] == "duplicate"
    assert kinds["crc32-hardlink.c"] == "duplicate" or kinds["zlib/crc32.c"] == "duplicate"
    assert kinds["link-to-header"] == "symlink"
    assert kinds["empty/nested"] == "dir"
    duplicated = [e for e in listing.entries if e.type == "duplicate"]
    assert all(e.packed_size == 0 for e in duplicated)


def test_unpack_refuses_existing_target_without_force(tree: Path, tmp_path: Path) -> None:
    archive = mmcompress.pack_file(tree, level=1).output
    with pytest.raises(OutputExists):
        mmcompress.unpack_file(archive, tree)
    mmcompress.unpack_file(archive, tree, force=True)


def _hostile(tmp_path: Path, entries: list[Entry], name: str = "bad.mmc") -> Path:
    stream = io.BytesIO()
    writer = ContainerWriter(stream, {}, flags=FLAG_TREE)
    for entry in entries:
        if entry.type == EntryType.FILE:
            entry.first_block = writer.offset
            writer.write_block(BlockKind.STORED, 0, b"owned\n", b"owned\n")
            entry.size, entry.block_count = 6, 1
            entry.packed_size = writer.offset - entry.first_block
        writer.add_entry(entry)
    writer.close()
    path = tmp_path / name
    path.write_bytes(stream.getvalue())
    return path


@pytest.mark.parametrize(
    "entries",
    [
        [Entry("../escape.txt")],
        [Entry("/tmp/absolute.txt")],
        [Entry("a/../../escape.txt")],
        [Entry("a//b.txt")],
        [Entry("same.txt"), Entry("same.txt")],
        [Entry("link", EntryType.SYMLINK, link_target="/etc"), Entry("link/passwd")],
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "empty-part", "duplicate-name", "file-under-link"],
)
def test_hostile_paths_are_refused_and_nothing_is_written(
    tmp_path: Path, entries: list[Entry]
) -> None:
    archive = _hostile(tmp_path, entries)
    target = tmp_path / "out"
    with pytest.raises(UnsafePath):
        mmcompress.unpack_file(archive, target)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mmc"]


def test_escaping_symlinks_are_skipped(tmp_path: Path) -> None:
    archive = _hostile(
        tmp_path,
        [
            Entry("inside", EntryType.SYMLINK, link_target="file.txt"),
            Entry("up", EntryType.SYMLINK, link_target="../../etc/passwd"),
            Entry("abs", EntryType.SYMLINK, link_target="/etc/passwd"),
            Entry("file.txt"),
        ],
    )
    report = mmcompress.unpack_file(archive, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["file.txt", "inside"]
    assert len(report.warnings) == 2


def test_damaged_tree_archive_leaves_no_output(tree: Path, tmp_path: Path) -> None:
    archive = mmcompress.pack_file(tree, level=1).output
    data = bytearray(archive.read_bytes())
    data[200] ^= 0x01  # inside the first block's payload
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptArchive):
        mmcompress.unpack_file(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_path_rules() -> None:
    assert str(safe_relpath("a/b/c.txt")) == "a/b/c.txt"
    for bad in ["", "/x", "..", "a/..", "./a", "a/./b", "C:x", "\\x"]:
        with pytest.raises(UnsafePath):
            safe_relpath(bad)
    assert link_stays_inside("a/b", "../c")
    assert not link_stays_inside("a/b", "../../c")
    assert not link_stays_inside("a", "/abs")
    with pytest.raises(UnsafePath):
        check_entries([Entry("f"), Entry("f/g")])
