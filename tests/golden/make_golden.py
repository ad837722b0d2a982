"""Regenerate the container golden files: small valid archives and one broken archive per error.

    .venv/bin/python tests/golden/make_golden.py

decode/NAME.mmc   a valid archive (stored and zstd blocks only, made with ContainerWriter)
decode/NAME.raw   the raw data of its blocks in archive order (its lone files' and solid groups'
                  data), so its SHA-256 is the trailer's content digest
decode/NAME.json  what the reader must report: version, flags, metadata, entries
errors/NAME.mmc   an archive broken in one way; errors/expected.json names the exception class
                  a reader must raise (opening it, iterating its blocks and decoding them), and
                  errors/README.md says what is wrong with each

Archives named in ZSTD_OUTPUT hold zstd output, which may change with the zstd library; the
others are reproduced byte for byte.

tests/test_container.py checks the committed files against this script, so a change of the
format shows up as a failing test, and regenerating is a deliberate act.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmcompress.blockcoding import decode_block, encode_block
from mmcompress.container import (
    FLAG_SOLID,
    FLAG_TREE,
    BlockKind,
    ContainerReader,
    ContainerWriter,
    Entry,
    EntryType,
    Group,
    encode_index,
)
from mmcompress.errors import MmcError

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "samples"
ZSTD_LEVEL = 19
META: dict[str, Any] = {"codecs": []}

# Field positions in the fixed layout (docs/FORMAT.md), spelt out here rather than imported so
# that a change of the layout in container.py shows up as failing golden tests.
HEADER_FIXED_BYTES = 16
BLOCK_HEADER_BYTES = 14
MAJOR_AT, FLAGS_AT, META_LENGTH_AT = 8, 10, 12
BLOCK_CODEC_AT, BLOCK_RAW_SIZE_AT, BLOCK_CODED_SIZE_AT, BLOCK_RAW_CRC_AT = 1, 2, 6, 10
#: Trailer: u64 total length, u32 index length, 32-byte content SHA-256, u32 CRC32 of the index
#: and the trailer's first 44 bytes.
TRAILER = struct.Struct("<QI32sI")
TRAILER_BYTES = TRAILER.size  # 48
TRAILER_CRC_AT = TRAILER_BYTES - 4


def sample(name: str, start: int = 0, stop: int | None = None) -> bytes:
    return (SAMPLES / name).read_bytes()[start:stop]


# --- writing valid archives -------------------------------------------------------------------


def add_file(
    writer: ContainerWriter, path: str, data: bytes, block_bytes: int = 4096, **fields
) -> int:
    """Write ``data`` as blocks of at most ``block_bytes`` (stored or zstd, smaller wins)."""
    first = writer.offset
    count = 0
    for start in range(0, len(data), block_bytes):
        raw = data[start : start + block_bytes]
        kind, codec, payload = encode_block(raw, predictor=None, codec=0, zstd_level=ZSTD_LEVEL)
        writer.write_block(kind, codec, raw, payload)
        count += 1
    entry = Entry(
        path=path,
        size=len(data),
        packed_size=writer.offset - first if count else 0,
        first_block=first if count else 0,
        block_count=count,
        **fields,
    )
    return writer.add_entry(entry)


def archive(
    build: Callable[[ContainerWriter], object], meta: dict | None = None, flags: int = 0
) -> bytes:
    stream = io.BytesIO()
    writer = ContainerWriter(stream, META if meta is None else meta, flags)
    build(writer)
    writer.close()
    return stream.getvalue()


def hello() -> bytes:
    """The worked example of docs/FORMAT.md: one file, one stored block."""

    def build(writer: ContainerWriter) -> None:
        raw = b"Hello, mmc!\n"
        first = writer.write_block(BlockKind.STORED, 0, raw, raw)
        writer.add_entry(
            Entry(
                path="hello.txt",
                mtime=1700000000,
                size=len(raw),
                packed_size=writer.offset - first,
                first_block=first,
                block_count=1,
            )
        )

    return archive(build)


def empty() -> bytes:
    return archive(lambda writer: None)


def text_zstd() -> bytes:
    return archive(
        lambda w: add_file(w, "pep-0008-head.rst", sample("pep-0008.rst", 0, 8192), 8192)
    )


def mixed_blocks() -> bytes:
    def build(writer: ContainerWriter) -> None:
        add_file(writer, "click_parser-head.py", sample("click_parser.py", 0, 10000), 4096)
        # bytes from inside the PNG's deflate stream: zstd cannot shrink them, so they are stored
        add_file(writer, "png-idat.bin", sample("rgb16_huawei_eva_l09_709.png", 2000, 2600))

    return archive(build)


def tree() -> bytes:
    def build(writer: ContainerWriter) -> None:
        writer.add_entry(Entry(path="src", type=EntryType.DIR, mode=0o755, mtime=1700000000))
        source = add_file(
            writer, "src/inflate-head.c", sample("zlib_inflate.c", 0, 3000), mode=0o600, mtime=-1
        )
        writer.add_entry(
            Entry(
                path="latest.c",
                type=EntryType.SYMLINK,
                mode=0o777,
                link_target="src/inflate-head.c",
            )
        )
        writer.add_entry(Entry(path="src/copy.c", type=EntryType.DUPLICATE, duplicate_of=source))
        writer.add_entry(Entry(path="src/empty", mode=0o644))
        add_file(writer, "docs/naïve.txt", "naïve café\n".encode(), mtime=(1 << 40) + 7)

    return archive(build, meta={"codecs": [], "note": "golden tree"}, flags=FLAG_TREE)


#: The files of the solid golden, in the order their bytes lie in their groups.
SOLID_GROUPS: list[list[tuple[str, bytes]]] = [
    [
        ("docs/a.txt", b"Solid groups code small files as one stream.\n"),
        ("docs/b.txt", b"The adaptive models carry over from one file to the next.\n"),
        ("notes.txt", b"Random access stays per group.\n"),
    ],
    [("src/main.c", b"int main(void) { return 0; }\n"), ("src/util.h", b"int util(void);\n")],
]
SOLID_BLOCK_BYTES = 64


def solid() -> bytes:
    """A 1.1 folder archive: two solid groups (one cut into blocks across a file boundary), a
    lone file, a folder and a duplicate of a grouped file; entries in another order than the
    groups' bytes."""

    def build(writer: ContainerWriter) -> None:
        placed: dict[str, tuple[int, int, int]] = {}  # path -> (group, offset, size)
        groups = [writer.add_group(Group(modality=m)) for m in (1, 2)]  # text, code
        for number, members in zip(groups, SOLID_GROUPS, strict=True):
            stream = b"".join(data for _, data in members)
            group = writer.groups[number]
            group.first_block = writer.offset
            for start in range(0, len(stream), SOLID_BLOCK_BYTES):
                raw = stream[start : start + SOLID_BLOCK_BYTES]
                writer.write_block(BlockKind.STORED, 0, raw, raw)
                group.block_count += 1
            group.size = len(stream)
            group.packed_size = writer.offset - group.first_block
            offset = 0
            for path, data in members:
                placed[path] = (number, offset, len(data))
                offset += len(data)

        def grouped(path: str, modality: int) -> Entry:
            number, offset, size = placed[path]
            return Entry(path=path, group=number, offset=offset, size=size, modality=modality)

        writer.add_entry(Entry(path="docs", type=EntryType.DIR, mode=0o755))
        writer.add_entry(grouped("docs/b.txt", 1))
        original = writer.add_entry(grouped("docs/a.txt", 1))
        lone = b"A file of its own: its blocks are not part of a group.\n"
        first = writer.write_block(BlockKind.STORED, 0, lone, lone)
        writer.add_entry(
            Entry(
                path="lone.txt",
                size=len(lone),
                packed_size=writer.offset - first,
                first_block=first,
                block_count=1,
                modality=1,
            )
        )
        writer.add_entry(grouped("notes.txt", 1))
        writer.add_entry(Entry(path="src", type=EntryType.DIR, mode=0o755))
        writer.add_entry(Entry(path="src/copy.c", type=EntryType.DUPLICATE, duplicate_of=original))
        writer.add_entry(grouped("src/util.h", 2))
        writer.add_entry(grouped("src/main.c", 2))

    return archive(build, flags=FLAG_TREE | FLAG_SOLID)


DECODE_CASES: dict[str, Callable[[], bytes]] = {
    "hello_stored": hello,
    "empty": empty,
    "text_zstd": text_zstd,
    "mixed_blocks": mixed_blocks,
    "tree": tree,
    "solid": solid,
}


# --- reading: what every golden must survive --------------------------------------------------


def unpack(data: bytes) -> tuple[ContainerReader, list[bytes]]:
    """Open, iterate and decode everything; returns the reader and each entry's data."""
    reader = ContainerReader(io.BytesIO(data))
    group_data = [
        b"".join(decode_block(h, p, []) for h, p in reader.iter_group_blocks(number))
        for number in range(len(reader.groups))
    ]
    outputs: list[bytes] = []
    for entry in reader.entries:
        if entry.grouped:
            outputs.append(group_data[entry.group][entry.offset : entry.offset + entry.size])
        elif entry.type == EntryType.FILE:
            outputs.append(b"".join(decode_block(h, p, []) for h, p in reader.iter_blocks(entry)))
        elif entry.type == EntryType.DUPLICATE:
            outputs.append(outputs[entry.duplicate_of])
        else:
            outputs.append(b"")
    return reader, outputs


def content(reader: ContainerReader, outputs: list[bytes]) -> bytes:
    """The raw data of all blocks in archive order (the trailer digest's input): each lone file's
    data and each solid group's (its members in offset order), by where their blocks start."""
    streams: list[tuple[int, bytes]] = []
    members: dict[int, list[tuple[int, bytes]]] = {}
    for entry, data in zip(reader.entries, outputs, strict=True):
        if entry.grouped:
            members.setdefault(entry.group, []).append((entry.offset, data))
        elif entry.type == EntryType.FILE and entry.block_count:
            streams.append((entry.first_block, data))
    for number, group in enumerate(reader.groups):
        streams.append((group.first_block, b"".join(d for _, d in sorted(members[number]))))
    return b"".join(data for _, data in sorted(streams))


def description(reader: ContainerReader, outputs: list[bytes]) -> dict:
    entries = []
    for entry, data in zip(reader.entries, outputs, strict=True):
        fields = dataclasses.asdict(entry)
        if not entry.grouped:  # 1.0 entries are described as before solid groups existed
            del fields["group"], fields["offset"]
        fields["type"] = entry.type.name
        fields["sha256"] = hashlib.sha256(data).hexdigest()
        entries.append(fields)
    described = {
        "version": list(reader.version),
        "flags": reader.flags,
        "meta": reader.meta,
        "entries": entries,
    }
    if reader.flags & FLAG_SOLID:
        described["groups"] = [dataclasses.asdict(group) for group in reader.groups]
    return described


def hexdump(data: bytes) -> list[str]:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        text = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<47}  {text}")
    return lines


# --- breaking archives ------------------------------------------------------------------------


def crc(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


def flip(data: bytes, at: int, mask: int = 0x01) -> bytes:
    return patch(data, at, bytes([data[at] ^ mask]))


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def header_end(data: bytes) -> int:
    (meta_length,) = struct.unpack_from("<I", data, META_LENGTH_AT)
    return HEADER_FIXED_BYTES + meta_length + 4


def with_header_crc(data: bytes) -> bytes:
    end = header_end(data)
    return data[: end - 4] + crc(data[: end - 4]) + data[end:]


def trailer(data: bytes) -> tuple[int, int, bytes]:
    """(total length, index length, content digest) as the trailer records them."""
    total, index_length, digest, _ = TRAILER.unpack(data[-TRAILER_BYTES:])
    return total, index_length, digest


def index_span(data: bytes) -> tuple[int, int]:
    """(index offset, index end) of a valid archive: the index runs up to the trailer."""
    _, index_length, _ = trailer(data)
    end = len(data) - TRAILER_BYTES
    return end - index_length, end


def with_trailer(data: bytes, index_length: int | None = None, total: int | None = None) -> bytes:
    """Rewrite the trailer of ``data`` (digest kept; index length kept unless given; total
    length fitting ``data`` unless given), with the CRC over the index it then names and the
    trailer's first 44 bytes."""
    _, old_length, digest = trailer(data)
    index_length = old_length if index_length is None else index_length
    total = len(data) if total is None else total
    body = data[:-TRAILER_BYTES]
    head = TRAILER.pack(total, index_length, digest, 0)[:TRAILER_CRC_AT]
    index = body[len(body) - index_length :] if 0 < index_length <= len(body) else b""
    return body + head + crc(index + head)


def with_meta(data: bytes, meta: bytes) -> bytes:
    """Replace the metadata of an archive, fixing its length and the CRCs (the trailer names the
    index by its length, so nothing else moves)."""
    head = patch(data[:HEADER_FIXED_BYTES], META_LENGTH_AT, struct.pack("<I", len(meta))) + meta
    return with_trailer(head + crc(head) + data[header_end(data) :])


def with_index(data: bytes, index_body: bytes) -> bytes:
    """Replace the index by ``index_body`` and fix the trailer (length, total, CRC)."""
    index_offset, index_end = index_span(data)
    rebuilt = data[:index_offset] + index_body + data[index_end:]
    return with_trailer(rebuilt, index_length=len(index_body))


def index_of(entries: list[Entry]) -> bytes:
    return encode_index(entries)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return bytes(out)


def file_entry(data: bytes, **changes) -> Entry:
    """The first entry of a valid archive, with some fields changed."""
    return dataclasses.replace(ContainerReader(io.BytesIO(data)).entries[0], **changes)


def first_block_at(data: bytes) -> int:
    return file_entry(data).first_block


def first_payload_at(data: bytes) -> int:
    return first_block_at(data) + BLOCK_HEADER_BYTES


ERROR_CASES: dict[str, tuple[str, Callable[[], bytes], str]] = {}


def error_case(name: str, expected: str, why: str):
    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        ERROR_CASES[name] = (expected, build, why)
        return build

    return register


# header


@error_case("empty_file", "NotAnArchive", "zero bytes")
def _() -> bytes:
    return b""


@error_case("truncated_signature", "NotAnArchive", "the first 5 bytes only")
def _() -> bytes:
    return hello()[:5]


@error_case("bad_signature", "NotAnArchive", "first signature byte 0x89 changed to 0x88")
def _() -> bytes:
    return patch(hello(), 0, b"\x88")


@error_case("truncated_header", "CorruptArchive", "the first 12 bytes only")
def _() -> bytes:
    return hello()[:12]


@error_case("major_version_2", "UnsupportedVersion", "major version 2 (header CRC fixed)")
def _() -> bytes:
    return with_header_crc(patch(hello(), MAJOR_AT, b"\x02"))


@error_case("meta_huge_length", "LimitExceeded", "metadata length 0xFFFFFFFF (CRC not fixed)")
def _() -> bytes:
    return patch(hello(), META_LENGTH_AT, b"\xff\xff\xff\xff")


@error_case("meta_length_past_end", "CorruptArchive", "metadata length 1000 in a 133-byte file")
def _() -> bytes:
    return patch(hello(), META_LENGTH_AT, struct.pack("<I", 1000))


@error_case("header_crc", "CorruptArchive", "one bit of the header CRC flipped")
def _() -> bytes:
    data = hello()
    return flip(data, header_end(data) - 4)


@error_case("header_meta_flip", "CorruptArchive", "one bit of the metadata flipped, CRC left")
def _() -> bytes:
    return flip(hello(), HEADER_FIXED_BYTES + 2, 0x20)


@error_case("reserved_flag", "UnsupportedVersion", "flag bit 1 set (header CRC fixed)")
def _() -> bytes:
    return with_header_crc(patch(hello(), FLAGS_AT, struct.pack("<H", 0x0002)))


@error_case("meta_not_json", "CorruptArchive", "metadata `{codecs:[]}` (CRCs fixed)")
def _() -> bytes:
    return with_meta(empty(), b"{codecs:[]}")


@error_case("meta_not_utf8", "CorruptArchive", 'metadata `{"\\xff":1}` (CRCs fixed)')
def _() -> bytes:
    return with_meta(empty(), b'{"\xff":1}')


@error_case("meta_not_object", "CorruptArchive", "metadata `[]` (CRCs fixed)")
def _() -> bytes:
    return with_meta(empty(), b"[]")


@error_case("meta_nan", "CorruptArchive", 'metadata `{"codecs":[],"x":NaN}` (CRCs fixed)')
def _() -> bytes:
    return with_meta(empty(), b'{"codecs":[],"x":NaN}')


@error_case(
    "meta_duplicate_key", "CorruptArchive", 'metadata `{"codecs":[],"codecs":[]}` (CRCs fixed)'
)
def _() -> bytes:
    return with_meta(empty(), b'{"codecs":[],"codecs":[]}')


@error_case("meta_deep_nesting", "CorruptArchive", "metadata nesting 10 000 arrays (CRCs fixed)")
def _() -> bytes:
    return with_meta(empty(), b'{"codecs":[],"x":' + b"[" * 10_000 + b"]" * 10_000 + b"}")


@error_case("meta_huge_integer", "CorruptArchive", "a 5000-digit integer in the metadata")
def _() -> bytes:
    return with_meta(empty(), b'{"codecs":[],"x":' + b"9" * 5000 + b"}")


# trailer


@error_case("truncated_in_block", "CorruptArchive", "cut one byte into the block payload")
def _() -> bytes:
    data = hello()
    return data[: first_payload_at(data) + 1]


@error_case("truncated_trailer", "CorruptArchive", "last byte missing")
def _() -> bytes:
    return hello()[:-1]


@error_case("trailing_garbage", "CorruptArchive", "one byte appended")
def _() -> bytes:
    return hello() + b"\x00"


@error_case("trailer_total_length", "CorruptArchive", "total length one too large (CRC fixed)")
def _() -> bytes:
    data = hello()
    return with_trailer(data, total=len(data) + 1)


@error_case("index_length_huge", "LimitExceeded", "index length 0xFFFFFFFF (CRC fixed)")
def _() -> bytes:
    return with_trailer(hello(), index_length=0xFFFFFFFF)


@error_case(
    "index_length_into_header",
    "CorruptArchive",
    "index length putting the index at `blocks_start`: no room for the end marker (CRC fixed)",
)
def _() -> bytes:
    data = hello()
    return with_trailer(data, index_length=len(data) - TRAILER_BYTES - header_end(data))


@error_case("trailer_crc", "CorruptArchive", "one bit of the trailer CRC flipped")
def _() -> bytes:
    data = hello()
    return flip(data, len(data) - 1, 0x80)


@error_case("trailer_digest_flip", "CorruptArchive", "one bit of the content SHA-256 flipped")
def _() -> bytes:
    data = hello()
    return flip(data, len(data) - 20)


@error_case("index_damaged", "CorruptArchive", "one bit of the index flipped (trailer CRC left)")
def _() -> bytes:
    data = hello()
    index_offset, _ = index_span(data)
    return flip(data, index_offset + 3)  # inside the path


@error_case("end_marker_missing", "CorruptArchive", "index length one too small (CRC fixed)")
def _() -> bytes:
    data = hello()
    _, index_length, _ = trailer(data)
    return with_trailer(data, index_length=index_length - 1)


# index


@error_case("index_huge_count", "CorruptArchive", "entry count 2**60 (CRC fixed)")
def _() -> bytes:
    data = hello()
    body = index_of([file_entry(data)])
    return with_index(data, varint(1 << 60) + body[1:])


@error_case("index_overlong_varint", "CorruptArchive", "entry count as an 11-byte varint")
def _() -> bytes:
    return with_index(empty(), b"\x80" * 10 + b"\x00")


@error_case("index_truncated_entry", "CorruptArchive", "path length 5 with 2 bytes left")
def _() -> bytes:
    return with_index(empty(), b"\x01\x00\x05\x00\x00")


@error_case("index_trailing_bytes", "CorruptArchive", "a byte after the last entry (CRC fixed)")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data)]) + b"\x00")


@error_case("index_unknown_entry_type", "CorruptArchive", "entry type 9 (CRC fixed)")
def _() -> bytes:
    data = hello()
    body = index_of([file_entry(data)])
    return with_index(data, patch(body, 1, b"\x09"))


@error_case("index_path_not_utf8", "CorruptArchive", "path bytes `\\xff\\xfe` (CRC fixed)")
def _() -> bytes:
    return with_index(empty(), b"\x01" + bytes([EntryType.DIR]) + b"\x02\xff\xfe\x00\x00")


@error_case("index_empty_path", "CorruptArchive", "a directory entry with an empty path")
def _() -> bytes:
    return with_index(empty(), index_of([Entry(path="", type=EntryType.DIR)]))


@error_case("index_nul_in_path", "CorruptArchive", "path `a\\0b`")
def _() -> bytes:
    return with_index(empty(), index_of([Entry(path="a\0b", type=EntryType.DIR)]))


@error_case("index_path_too_long", "CorruptArchive", "a 4097-byte path")
def _() -> bytes:
    return with_index(empty(), index_of([Entry(path="p" * 4097, type=EntryType.DIR)]))


@error_case("index_link_target_too_long", "CorruptArchive", "a 4097-byte symlink target")
def _() -> bytes:
    link = Entry(path="l", type=EntryType.SYMLINK, mode=0o777, link_target="t" * 4097)
    return with_index(empty(), index_of([link]))


@error_case("index_bad_mode", "CorruptArchive", "mode 0o10000")
def _() -> bytes:
    return with_index(empty(), index_of([Entry(path="d", type=EntryType.DIR, mode=0o10000)]))


@error_case("entry_outside_blocks", "CorruptArchive", "first block inside the header")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data, first_block=4)]))


@error_case("entry_past_blocks", "CorruptArchive", "packed size reaching the end marker")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data, packed_size=27)]))


@error_case("entry_size_without_blocks", "CorruptArchive", "size 12 with no blocks")
def _() -> bytes:
    data = hello()
    entry = file_entry(data, block_count=0, packed_size=0, first_block=0)
    return with_index(data, index_of([entry]))


@error_case("entry_too_many_blocks", "CorruptArchive", "block count 3 in 26 packed bytes")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data, block_count=3)]))


@error_case("entry_size_beyond_block_limit", "CorruptArchive", "size 2**40 for one block")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data, size=1 << 40)]))


@error_case("duplicate_forward", "CorruptArchive", "entry 0 duplicates entry 1")
def _() -> bytes:
    data = hello()
    duplicate = Entry(path="copy", type=EntryType.DUPLICATE, duplicate_of=1)
    return with_index(data, index_of([duplicate, file_entry(data)]))


@error_case("duplicate_of_itself", "CorruptArchive", "entry 1 duplicates entry 1")
def _() -> bytes:
    data = hello()
    duplicate = Entry(path="copy", type=EntryType.DUPLICATE, duplicate_of=1)
    return with_index(data, index_of([file_entry(data), duplicate]))


@error_case("duplicate_of_directory", "CorruptArchive", "entry 1 duplicates a directory")
def _() -> bytes:
    data = empty()
    entries = [
        Entry(path="d", type=EntryType.DIR),
        Entry(path="c", type=EntryType.DUPLICATE, duplicate_of=0),
    ]
    return with_index(data, index_of(entries))


# solid groups (1.1)


def solid_index(change: Callable[[list[Entry], list[Group]], object]) -> bytes:
    """The solid golden with its index rebuilt after ``change`` edits its entries and groups."""
    data = solid()
    reader = ContainerReader(io.BytesIO(data))
    entries, groups = reader.entries, reader.groups
    change(entries, groups)
    return with_index(data, encode_index(entries, groups))


def _entry(path: str, entries: list[Entry]) -> Entry:
    return next(entry for entry in entries if entry.path == path)


@error_case("solid_entry_outside_group", "CorruptArchive", "a grouped file ending past its group")
def _() -> bytes:
    return solid_index(lambda entries, groups: setattr(_entry("notes.txt", entries), "offset", 200))


@error_case("solid_entries_overlap", "CorruptArchive", "two files of a group overlapping by 1 byte")
def _() -> bytes:
    def change(entries: list[Entry], groups: list[Group]) -> None:
        b_txt = _entry("docs/b.txt", entries)
        b_txt.offset -= 1  # b.txt now starts on a.txt's last byte
        b_txt.size += 1

    return solid_index(change)


@error_case("solid_entries_leave_gap", "CorruptArchive", "a group one byte longer than its files")
def _() -> bytes:
    def change(entries: list[Entry], groups: list[Group]) -> None:
        _entry("notes.txt", entries).size -= 1

    return solid_index(change)


@error_case("solid_unknown_group", "CorruptArchive", "a file in group 2 of 2")
def _() -> bytes:
    return solid_index(lambda entries, groups: setattr(_entry("src/main.c", entries), "group", 2))


@error_case("solid_group_outside_blocks", "CorruptArchive", "group 1's blocks reaching the index")
def _() -> bytes:
    return solid_index(lambda entries, groups: setattr(groups[1], "packed_size", 1 << 20))


@error_case("solid_group_size_beyond_blocks", "CorruptArchive", "group 1 of 2**40 bytes")
def _() -> bytes:
    def change(entries: list[Entry], groups: list[Group]) -> None:
        groups[1].size = 1 << 40
        _entry("src/main.c", entries).size = (1 << 40) - _entry("src/util.h", entries).size

    return solid_index(change)


@error_case("solid_group_huge_count", "CorruptArchive", "group count 2**60 (CRC fixed)")
def _() -> bytes:
    data = solid()
    index_offset, index_end = index_span(data)
    body = data[index_offset:index_end]
    return with_index(data, varint(1 << 60) + body[1:])


@error_case(
    "solid_without_flag", "CorruptArchive", "a grouped entry (type 4) in an index without the flag"
)
def _() -> bytes:
    data = with_header_crc(patch(solid(), FLAGS_AT, struct.pack("<H", FLAG_TREE)))
    return data


# blocks (read lazily, entry by entry)


@error_case("block_unknown_kind", "CorruptArchive", "block kind 7")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data), b"\x07")


@error_case("block_end_kind_in_entry", "CorruptArchive", "block kind 0 (end) inside an entry")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data), b"\x00")


@error_case("block_stored_codec_nonzero", "CorruptArchive", "codec byte 1 on a stored block")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data) + BLOCK_CODEC_AT, b"\x01")


@error_case("block_raw_size_huge", "LimitExceeded", "block raw size 0xFFFFFFFF")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data) + BLOCK_RAW_SIZE_AT, b"\xff\xff\xff\xff")


@error_case("block_raw_size_zero", "LimitExceeded", "block raw size 0")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data) + BLOCK_RAW_SIZE_AT, b"\x00\x00\x00\x00")


@error_case("block_coded_size_huge", "CorruptArchive", "block coded size 0xFFFFFFFF")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data) + BLOCK_CODED_SIZE_AT, b"\xff\xff\xff\xff")


@error_case("block_coded_size_past_entry", "CorruptArchive", "block coded size 13 (entry: 12)")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data) + BLOCK_CODED_SIZE_AT, struct.pack("<I", 13))


@error_case("block_coded_size_short", "CorruptArchive", "block coded size 11 (entry: 12)")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data) + BLOCK_CODED_SIZE_AT, struct.pack("<I", 11))


@error_case("entry_size_below_blocks", "CorruptArchive", "size 11 for a 12-byte block")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data, size=11)]))


@error_case("entry_size_above_blocks", "CorruptArchive", "size 13 for a 12-byte block")
def _() -> bytes:
    data = hello()
    return with_index(data, index_of([file_entry(data, size=13)]))


# decoding


@error_case("block_payload_flip", "CorruptArchive", "one bit of a stored payload flipped")
def _() -> bytes:
    data = hello()
    return flip(data, first_payload_at(data))


@error_case("block_raw_crc", "CorruptArchive", "one bit of a block's raw CRC flipped")
def _() -> bytes:
    data = hello()
    return flip(data, first_block_at(data) + BLOCK_RAW_CRC_AT)


@error_case("block_stored_as_zstd", "CorruptArchive", "a stored block relabelled zstd")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data), bytes([BlockKind.ZSTD]))


@error_case("block_model_unknown_codec", "CorruptArchive", "a block relabelled model, no codecs")
def _() -> bytes:
    data = hello()
    return patch(data, first_block_at(data), bytes([BlockKind.MODEL]))


@error_case(
    "zstd_frame_header_reserved_bit",
    "CorruptArchive",
    "reserved bit 3 of the first zstd frame's header descriptor set",
)
def _() -> bytes:
    data = text_zstd()
    return flip(data, first_payload_at(data), 0x08)


@error_case(
    "zstd_declared_size_huge",
    "CorruptArchive",
    "frame header descriptor ^ 0xe0: the next 8 bytes become a declared content size (~10**18)",
)
def _() -> bytes:
    data = text_zstd()
    return flip(data, first_payload_at(data), 0xE0)


@error_case("zstd_payload_flip", "CorruptArchive", "one bit in the middle of a zstd payload")
def _() -> bytes:
    data = text_zstd()
    return flip(data, first_payload_at(data) + 1000, 0x10)


#: Archives that hold zstd output (which may change with the zstd library): checked by decoding,
#: not byte for byte.
ZSTD_OUTPUT = frozenset(
    {"text_zstd", "mixed_blocks", "tree"}
    | {"zstd_frame_header_reserved_bit", "zstd_declared_size_huge", "zstd_payload_flip"}
)


# --- writing the files ------------------------------------------------------------------------


def raised_by(data: bytes) -> MmcError | None:
    try:
        unpack(data)
    except MmcError as exc:
        return exc
    return None


def build_all() -> dict[str, bytes]:
    """Every golden file, by path relative to this folder; raises if a case misbehaves."""
    files: dict[str, bytes] = {}
    for name, build in DECODE_CASES.items():
        data = build()
        reader, outputs = unpack(data)
        raw = content(reader, outputs)
        assert hashlib.sha256(raw).digest() == reader.content_sha256, name
        files[f"decode/{name}.mmc"] = data
        files[f"decode/{name}.raw"] = raw
        text = json.dumps(
            description(reader, outputs), indent=1, sort_keys=True, ensure_ascii=False
        )
        files[f"decode/{name}.json"] = (text + "\n").encode()
    expected = {}
    rows = []
    for name, (error, build, why) in ERROR_CASES.items():
        data = build()
        got = raised_by(data)
        if type(got).__name__ != error:
            raise AssertionError(f"{name}: expected {error}, got {got!r}")
        files[f"errors/{name}.mmc"] = data
        expected[name] = error
        rows.append(f"| `{name}.mmc` | `{error}` | {why} | {got} |")
    files["errors/expected.json"] = (json.dumps(expected, indent=1) + "\n").encode()
    files["errors/README.md"] = (
        "# Broken archives\n\n"
        "One archive per way of being broken, made by `../make_golden.py` from the valid archives\n"
        f"of `../decode/` (mostly `hello_stored.mmc`, {len(hello())} bytes). Opening each with\n"
        "`ContainerReader`, iterating its file entries' blocks and decoding them must raise exactly\n"
        "the class named here (`expected.json` holds the same map for the tests). All classes are\n"
        "in `mmcompress.errors`; `NotAnArchive`, `UnsupportedVersion` and `LimitExceeded` are\n"
        'subclasses of `CorruptArchive`. "CRC fixed" means the damage was made consistent with the\n'
        "checksum that would otherwise catch it, so that the check named here is the one tested.\n"
        "The last column is the message mmcompress gives (informative only).\n\n"
        "| file | raises | what is wrong | mmcompress says |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    ).encode()
    return files


def main() -> int:
    try:
        files = build_all()  # everything is checked before anything is replaced
    except AssertionError as exc:
        print(exc, file=sys.stderr)
        return 1
    for folder in (HERE / "decode", HERE / "errors"):
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
    for relative, data in files.items():
        (HERE / relative).write_bytes(data)
    print(f"wrote {len(DECODE_CASES)} valid and {len(ERROR_CASES)} broken archives under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
