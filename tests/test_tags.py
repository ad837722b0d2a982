"""Conditioning tags (mmcompress/tags.py): the rule, and that every packing path (one file, a
folder, a solid group, worker processes) stores the entry's tag in the MODEL blocks it writes,
where the byte transformer reads it as the file's language."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pytest

import mmcompress
from mmcompress.api import Compressor
from mmcompress.container import BlockHeader, BlockKind, ContainerReader
from mmcompress.detect import Modality
from mmcompress.levels import recipe
from mmcompress.parallel import BlockPool
from mmcompress.streams import CodecBook
from mmcompress.tags import TAGS, block_tag, language_tag, tag_for_name

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
C_SOURCE = (SAMPLES / "zlib_inflate.c").read_bytes()
PYTHON_SOURCE = (SAMPLES / "click_parser.py").read_bytes()
LEVEL = 4  # a fast level whose blocks are model-coded (the tag is stored whatever the model)


def _model_tags(blocks: Iterable[tuple[BlockHeader, bytes]]) -> list[int]:
    """The tag byte of each MODEL block (payload: u16 segment count, u8 tag, coder words)."""
    tags = [payload[2] for header, payload in blocks if header.kind == BlockKind.MODEL]
    assert tags, "no model-coded block"
    return tags


def test_the_tag_follows_the_language_then_the_kind() -> None:
    assert block_tag("src/inflate.c", Modality.CODE) == TAGS["c"]
    assert block_tag("lib.rs", Modality.CODE) == TAGS["rust"]
    assert block_tag("run", Modality.CODE, b"#!/usr/bin/env python3\nprint(1)\n") == TAGS["python"]
    # JavaScript shares TypeScript's tag (the shipped models saw no JavaScript).
    assert block_tag("app.js", Modality.CODE) == TAGS["typescript"]
    assert tag_for_name("app.mjs") == TAGS["typescript"]
    # Languages the models were not trained on, and plain text, get the text tag.
    assert block_tag("grammar.lsp", Modality.CODE) == TAGS["text"]
    assert language_tag(None) == TAGS["text"]
    assert block_tag("alice29.txt", Modality.TEXT) == TAGS["text"]
    assert block_tag("README", Modality.TEXT) == TAGS["text"]
    for modality in (Modality.BINARY, Modality.IMAGE, Modality.VIDEO, Modality.COMPRESSED):
        assert block_tag("x.c", modality) == TAGS["binary"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("zlib_inflate.c", C_SOURCE, "c"),
        ("inflate.js", C_SOURCE, "typescript"),
        ("notes", C_SOURCE, "text"),
        ("click_parser.py", PYTHON_SOURCE, "python"),
        ("blob.c", b"\x00\x01" + C_SOURCE, "binary"),  # a NUL byte: not text, whatever its name
    ],
)
def test_a_single_file_archive_stores_its_tag(name: str, data: bytes, expected: str) -> None:
    archive = mmcompress.compress(data, level=LEVEL, name=name)
    reader = ContainerReader(io.BytesIO(archive))
    assert set(_model_tags(reader.iter_blocks(reader.entries[0]))) == {TAGS[expected]}
    assert mmcompress.decompress(archive) == data


def test_folder_entries_and_solid_groups_store_their_tags(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "src").mkdir(parents=True)
    (root / "src" / "head.c").write_bytes(C_SOURCE[:6000])
    (root / "src" / "tail.c").write_bytes(C_SOURCE[-6000:])
    (root / "tool").write_bytes(b"#!/usr/bin/python3\n" + PYTHON_SOURCE)
    compressor = Compressor(LEVEL)
    compressor.solid_max_bytes = 10_000  # head.c and tail.c group; tool is alone
    compressor.pack_file(root, tmp_path / "tree.mmc")
    reader = ContainerReader(io.BytesIO((tmp_path / "tree.mmc").read_bytes()))
    entries = {entry.path: entry for entry in reader.entries}
    assert entries["src/head.c"].grouped and not entries["tool"].grouped
    group = entries["src/head.c"].group
    assert set(_model_tags(reader.iter_group_blocks(group))) == {TAGS["c"]}
    assert set(_model_tags(reader.iter_blocks(entries["tool"]))) == {TAGS["python"]}
    mmcompress.unpack_file(tmp_path / "tree.mmc", tmp_path / "out")
    assert (tmp_path / "out" / "tool").read_bytes() == (root / "tool").read_bytes()


def test_worker_processes_code_with_the_tag_they_are_given() -> None:
    level = recipe(LEVEL)
    book = CodecBook.for_recipe(level)
    raws = [C_SOURCE[:20_000], C_SOURCE[20_000:40_000]]
    with BlockPool(book, level, workers=2) as pool:
        coded = list(pool.encode_stream(iter(raws), Modality.CODE, TAGS["rust"]))
        rich = list(pool.encode_roles((raw, int(Modality.IMAGE)) for raw in raws))
    with BlockPool(book, level, workers=1) as pool:
        inline = list(pool.encode_stream(iter(raws), Modality.CODE, TAGS["rust"]))
    assert coded == inline
    assert [raw for raw, _ in coded] == raws
    for pairs, expected in ((coded, TAGS["rust"]), (rich, TAGS["binary"])):
        for _, (kind, _, payload) in pairs:
            assert kind == BlockKind.MODEL and payload[2] == expected
