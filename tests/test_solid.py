"""Solid groups (mmcompress/solid.py, docs/FORMAT.md "Solid groups"): small files of one kind
packed as one stream, read back per group and block, with every archive guarantee kept."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
from pathlib import Path

import pytest

import mmcompress
from mmcompress import solid
from mmcompress.api import Compressor
from mmcompress.container import (
    FLAG_SOLID,
    FLAG_TREE,
    BlockKind,
    ContainerReader,
    ContainerWriter,
    Entry,
    Group,
)
from mmcompress.detect import Modality
from mmcompress.errors import CorruptArchive, InputError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
GOLDEN = ROOT / "tests" / "golden" / "decode"
MTIME = 1_700_000_000


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Small files of three kinds (two of each), a duplicate, a lone binary and image, a link,
    an empty folder, odd modes."""
    root = tmp_path / "tree"
    files = {
        "src/click_parser.py": _sample("click_parser.py"),
        "src/part.py": _sample("click_parser.py")[:5000],
        "src/zlib_inflate.c": _sample("zlib_inflate.c"),
        "src/inflate_head.c": _sample("zlib_inflate.c")[:8000],
        "docs/pep-0008.rst": _sample("pep-0008.rst"),
        "docs/README.md": _sample("README.md"),
        "docs/copy.rst": _sample("pep-0008.rst"),
        "bin/xz.elf": _sample("xz_5.4.1-1_amd64.elf"),
        "img/palette.png": _sample("palette_hopper_wal.png"),
    }
    for relpath, data in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    (root / "empty").mkdir()
    os.symlink("src/click_parser.py", root / "latest.py")
    os.chmod(root / "src" / "part.py", 0o600)
    os.chmod(root / "bin" / "xz.elf", 0o755)
    return root


def _same_tree(left: Path, right: Path) -> None:
    def listing(root: Path) -> list[tuple[str, str, int]]:
        out = []
        for path in sorted(root.rglob("*")):
            relpath = path.relative_to(root).as_posix()
            if path.is_symlink():
                out.append((relpath, "link:" + os.readlink(path), 0))
            elif path.is_dir():
                out.append((relpath, "dir", 0))
            else:
                out.append((relpath, path.read_bytes().hex(), path.stat().st_mode & 0o777))
        return out

    assert listing(left) == listing(right)


def _open(archive: Path) -> ContainerReader:
    return _open_bytes(archive.read_bytes())


def _open_bytes(data: bytes) -> ContainerReader:
    return ContainerReader(io.BytesIO(data))


# --- the grouping policy --------------------------------------------------------------------------


def test_groups_are_formed_by_kind_and_ordered_by_extension_then_name() -> None:
    def candidate(
        position: int, relpath: str, modality: Modality = Modality.TEXT
    ) -> solid.Candidate:
        key = solid.group_key(relpath, modality, b"")
        assert key is not None
        return solid.Candidate(position, relpath, 10 + position, modality, key)

    plans = solid.plan_groups(
        [
            candidate(0, "b/notes.txt"),
            candidate(1, "a/notes.txt"),
            candidate(2, "README.md"),
            candidate(3, "x.py", Modality.CODE),
            candidate(4, "y.py", Modality.CODE),
            candidate(5, "lonely.c", Modality.CODE),  # the only C file: no group of one
        ]
    )
    assert [[m.relpath for m in plan.members] for plan in plans] == [
        ["x.py", "y.py"],
        ["README.md", "a/notes.txt", "b/notes.txt"],
    ]
    assert plans[1].offsets == [0, 12, 23] and plans[1].size == 33
    assert solid.group_key("a.png", Modality.IMAGE, b"") is None
    assert solid.group_key("a.gz", Modality.COMPRESSED, b"") is None
    assert solid.group_key("run", Modality.CODE, b"#!/bin/sh\n") == "code:shell"


def test_cut_blocks_spans_file_boundaries() -> None:
    assert list(solid.cut_blocks([b"abc", b"de", b"fghij"], 4)) == [b"abcd", b"efgh", b"ij"]
    assert list(solid.cut_blocks([], 4)) == []


# --- packing and unpacking a folder -----------------------------------------------------------


def test_a_folder_round_trips_with_its_small_files_in_groups(tree: Path, tmp_path: Path) -> None:
    report = Compressor(2).pack_file(tree, tmp_path / "tree.mmc", verify=True)
    reader = _open(tmp_path / "tree.mmc")
    assert reader.version == (1, 1)
    assert reader.flags == FLAG_TREE | FLAG_SOLID
    groups = {e.path: e.group for e in reader.entries if e.grouped}
    assert groups == {
        "src/inflate_head.c": 0,
        "src/zlib_inflate.c": 0,
        "src/click_parser.py": 1,
        "src/part.py": 1,
        "docs/README.md": 2,
        "docs/copy.rst": 2,
    }
    assert [Modality(g.modality) for g in reader.groups] == [
        Modality.CODE,
        Modality.CODE,
        Modality.TEXT,
    ]
    assert report.files == 9 and report.output_bytes == (tmp_path / "tree.mmc").stat().st_size
    mmcompress.unpack_file(tmp_path / "tree.mmc", tmp_path / "out")
    _same_tree(tree, tmp_path / "out")
    assert (tmp_path / "out" / "src" / "part.py").stat().st_mtime == MTIME
    mmcompress.test_archive(tmp_path / "tree.mmc")


def test_solid_archive_is_smaller_and_its_size_is_exact(tree: Path, tmp_path: Path) -> None:
    shutil.rmtree(tree / "img")  # images take the pixel codec, whose model changes on its own
    solid_report = Compressor(2).pack_file(tree, tmp_path / "solid.mmc")
    alone = Compressor(2)
    alone.solid_max_bytes = 0
    alone_report = alone.pack_file(tree, tmp_path / "alone.mmc")
    assert _open(tmp_path / "alone.mmc").version == (1, 0)  # no group: the 1.0 layout
    # without the header (its metadata lists the level's codecs, which change as levels do)
    sizes = [
        report.output_bytes - _open(tmp_path / name).blocks_start
        for report, name in ((solid_report, "solid.mmc"), (alone_report, "alone.mmc"))
    ]
    assert sizes == [75_127, 79_668]


def test_listing_shares_a_groups_bytes_among_its_files(tree: Path, tmp_path: Path) -> None:
    archive = Compressor(1).pack_file(tree, tmp_path / "tree.mmc").output
    assert archive is not None
    listing = mmcompress.list_archive(archive)
    reader = _open(archive)
    by_path = {e.path: e for e in listing.entries}
    group = reader.groups[2]
    readme = by_path["docs/README.md"]
    assert readme.size == 6139
    assert readme.packed_size == group.packed_size * 6139 // group.size
    grouped = [by_path[p].packed_size for p in ("docs/README.md", "docs/copy.rst")]
    assert group.packed_size - 1 <= sum(grouped) <= group.packed_size


def test_output_is_the_same_for_any_thread_count(tree: Path, tmp_path: Path) -> None:
    big = tree / "big"
    big.mkdir()
    text = _sample("pep-0008.rst")
    for number in range(24):  # > 1 MiB of small files, so that -T 2 really uses a pool
        (big / f"part{number:02}.txt").write_bytes(text[number:] + text[:number])
        os.utime(big / f"part{number:02}.txt", (MTIME, MTIME))
    one = mmcompress.pack_file(tree, tmp_path / "one.mmc", level=1, threads=1).output
    two = mmcompress.pack_file(tree, tmp_path / "two.mmc", level=1, threads=2).output
    assert one is not None and two is not None
    assert one.read_bytes() == two.read_bytes()


# --- random access: only the blocks needed ------------------------------------------------------


@pytest.fixture
def small_blocks(tree: Path, tmp_path: Path) -> Path:
    """The tree packed (zstd level) with 16 KiB blocks: the text group spans four blocks."""
    packer = Compressor(1)
    packer.recipe = dataclasses.replace(packer.recipe, block_size=16384)
    archive = packer.pack_file(tree, tmp_path / "small.mmc").output
    assert archive is not None
    assert _open(archive).groups[2].block_count == 4
    return archive


def _count_decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    decoded: list[int] = []
    original = solid.decode_block

    def counting(header, payload, predictors):  # type: ignore[no-untyped-def]
        decoded.append(header.raw_size)
        return original(header, payload, predictors)

    monkeypatch.setattr(solid, "decode_block", counting)
    return decoded


def test_one_member_decodes_only_the_blocks_that_hold_it(
    small_blocks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = _count_decoded(monkeypatch)
    mmcompress.unpack_file(small_blocks, tmp_path / "readme", members=["docs/README.md"])
    assert decoded == [16384]  # README.md comes first in its group (".md" < ".rst")
    assert (tmp_path / "readme" / "docs" / "README.md").read_bytes() == _sample("README.md")
    decoded.clear()
    mmcompress.unpack_file(small_blocks, tmp_path / "pep", members=["docs/pep-0008.rst"])
    assert len(decoded) == 4  # a duplicate of a grouped file (copy.rst): its original's blocks
    assert (tmp_path / "pep" / "docs" / "pep-0008.rst").read_bytes() == _sample("pep-0008.rst")
    decoded.clear()
    mmcompress.list_archive(small_blocks)
    assert decoded == []


def test_damage_in_a_group_fails_its_files_but_not_the_others(
    small_blocks: Path, tmp_path: Path
) -> None:
    reader = _open(small_blocks)
    group = reader.groups[2]  # docs: README.md, copy.rst (pep-0008.rst is its duplicate)
    blob = bytearray(small_blocks.read_bytes())
    blob[group.first_block + group.packed_size - 20] ^= 0xFF  # inside its last block
    small_blocks.write_bytes(bytes(blob))
    with pytest.raises(CorruptArchive):
        mmcompress.unpack_file(small_blocks, tmp_path / "all")
    assert not (tmp_path / "all").exists()
    with pytest.raises(CorruptArchive):
        mmcompress.test_archive(small_blocks)
    with pytest.raises(CorruptArchive):
        mmcompress.unpack_file(small_blocks, tmp_path / "pep", members=["docs/pep-0008.rst"])
    mmcompress.unpack_file(small_blocks, tmp_path / "ok", members=["docs/README.md", "src"])
    assert (tmp_path / "ok" / "src" / "zlib_inflate.c").read_bytes() == _sample("zlib_inflate.c")


def test_a_file_that_changes_while_its_group_is_read_fails_the_pack(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmcompress.archive as archive

    original = archive._member_data

    def growing(item):  # type: ignore[no-untyped-def]
        if item.relpath == "docs/README.md":
            with open(item.path, "ab") as stream:
                stream.write(b"more")
        return original(item)

    monkeypatch.setattr(archive, "_member_data", growing)
    with pytest.raises(InputError, match="changed while it was being packed"):
        mmcompress.pack_file(tree, tmp_path / "tree.mmc", level=1)
    assert not (tmp_path / "tree.mmc").exists()


# --- the container --------------------------------------------------------------------------------


def test_old_archives_still_open_and_decode(tmp_path: Path) -> None:
    for archive in sorted(GOLDEN.glob("*.mmc")):
        mmcompress.test_archive(archive)
    mmcompress.unpack_file(GOLDEN / "tree.mmc", tmp_path / "tree")
    assert (tmp_path / "tree" / "src" / "copy.c").read_bytes() == (
        tmp_path / "tree" / "src" / "inflate-head.c"
    ).read_bytes()
    assert _open(GOLDEN / "tree.mmc").version == (1, 0)


def test_the_solid_golden_unpacks(tmp_path: Path) -> None:
    mmcompress.unpack_file(GOLDEN / "solid.mmc", tmp_path / "solid")
    out = tmp_path / "solid"
    assert (
        out / "docs" / "a.txt"
    ).read_bytes() == b"Solid groups code small files as one stream.\n"
    assert (out / "src" / "copy.c").read_bytes() == (out / "docs" / "a.txt").read_bytes()
    assert (out / "src" / "util.h").read_bytes() == b"int util(void);\n"
    listing = {e.path: e.size for e in mmcompress.list_archive(GOLDEN / "solid.mmc").entries}
    assert listing["notes.txt"] == 31


def test_groups_must_be_declared_before_the_first_block() -> None:
    writer = ContainerWriter(io.BytesIO(), {}, flags=FLAG_TREE)
    writer.write_block(BlockKind.STORED, 0, b"x", b"x")
    with pytest.raises(ValueError):
        writer.add_group(Group())


def test_a_single_file_archive_with_a_grouped_entry_is_refused(tmp_path: Path) -> None:
    stream = io.BytesIO()
    writer = ContainerWriter(stream, {}, flags=0)
    group = Group(size=1, packed_size=15, block_count=1)
    writer.add_group(group)
    group.first_block = writer.write_block(BlockKind.STORED, 0, b"x", b"x")
    writer.add_entry(Entry(path="-", group=0, offset=0, size=1))
    writer.close()
    assert _open_bytes(stream.getvalue()).flags == FLAG_SOLID
    (tmp_path / "x.mmc").write_bytes(stream.getvalue())
    with pytest.raises(CorruptArchive):
        mmcompress.unpack_file(tmp_path / "x.mmc", tmp_path / "x")
    with pytest.raises(CorruptArchive):
        mmcompress.decompress(stream.getvalue())


def test_a_copy_of_the_tree_without_groups_is_identical(tree: Path, tmp_path: Path) -> None:
    """Files that a group cannot help (alone of their kind, big, images) keep their own blocks."""
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copyfile(tree / "bin" / "xz.elf", lone / "xz.elf")
    shutil.copyfile(tree / "docs" / "README.md", lone / "README.md")
    archive = mmcompress.pack_file(lone, tmp_path / "lone.mmc", level=1).output
    assert archive is not None
    reader = _open(archive)
    assert reader.flags == FLAG_TREE and reader.groups == []


def test_cli_no_solid_packs_every_file_alone(tree: Path, tmp_path: Path) -> None:
    from mmcompress import cli

    shutil.rmtree(tree / "img")
    solid_archive, alone_archive = tmp_path / "solid.mmc", tmp_path / "alone.mmc"
    assert cli.main(["pack", "-2", "-q", "-o", str(solid_archive), str(tree)]) == 0
    assert cli.main(["pack", "-2", "-q", "--no-solid", "-o", str(alone_archive), str(tree)]) == 0
    assert _open(solid_archive).version == (1, 1)
    assert _open(alone_archive).version == (1, 0)
    assert not any(entry.grouped for entry in _open(alone_archive).entries)
    restored = tmp_path / "restored"
    mmcompress.unpack_file(alone_archive, restored)
    assert sorted(p.name for p in restored.rglob("*")) == sorted(p.name for p in tree.rglob("*"))
