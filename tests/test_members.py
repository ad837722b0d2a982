"""Extracting some entries of a folder archive (``unpack --entry PATH``, ``members=[...]``):
only their blocks are read, so a damaged neighbour does not matter and large archives stay cheap.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mmcompress
from mmcompress.container import ContainerReader
from mmcompress.errors import CorruptArchive, InputError


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_bytes(b"alpha\n" * 500)
    (root / "docs" / "b.txt").write_bytes(b"bravo\n" * 500)
    (root / "big.bin").write_bytes(bytes(range(256)) * 400)
    (root / "copy.bin").write_bytes(bytes(range(256)) * 400)  # a duplicate of big.bin
    return mmcompress.pack_file(root, level=1).output


def _damage_entry(archive: Path, path: str) -> None:
    """Flip a byte in the middle of ``path``'s blocks."""
    with open(archive, "rb") as stream:
        entry = next(e for e in ContainerReader(stream).entries if e.path == path)
    blob = bytearray(archive.read_bytes())
    blob[entry.first_block + entry.packed_size // 2] ^= 0xFF
    archive.write_bytes(bytes(blob))


def test_one_entry_is_extracted_without_decoding_the_rest(packed: Path, tmp_path: Path) -> None:
    _damage_entry(packed, "big.bin")
    with pytest.raises(CorruptArchive):
        mmcompress.unpack_file(packed, tmp_path / "all")
    report = mmcompress.unpack_file(packed, tmp_path / "one", members=["docs/b.txt"])
    assert report.output_bytes == 3000
    files = sorted(
        p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*")
    )
    assert files == ["docs", "docs/b.txt"]
    assert (tmp_path / "one" / "docs" / "b.txt").read_bytes() == b"bravo\n" * 500


def test_a_folder_member_brings_its_contents_and_duplicates_decode_alone(
    packed: Path, tmp_path: Path
) -> None:
    mmcompress.unpack_file(packed, tmp_path / "docs", members=["docs/"])
    assert sorted(p.name for p in (tmp_path / "docs" / "docs").iterdir()) == ["a.txt", "b.txt"]
    listing = {e.path: e.type for e in mmcompress.list_archive(packed).entries}
    duplicate = "copy.bin" if listing["copy.bin"] == "duplicate" else "big.bin"
    mmcompress.unpack_file(packed, tmp_path / "dup", members=[duplicate])
    assert (tmp_path / "dup" / duplicate).read_bytes() == bytes(range(256)) * 400


def test_unknown_member_and_cli(packed: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no entry 'nope'"):
        mmcompress.unpack_file(packed, tmp_path / "x", members=["nope"])
    assert not (tmp_path / "x").exists()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmcompress",
            "unpack",
            "--rm",
            "--entry",
            "docs/a.txt",
            packed.name,
            "-o",
            "cli",
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli" / "docs" / "a.txt").read_bytes() == b"alpha\n" * 500
    assert packed.exists()  # a partial extraction never removes the archive
