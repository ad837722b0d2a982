"""The .mmc container: header, blocks, index, trailer, checksums (docs/FORMAT.md is normative).

Knows nothing of models or files on disk: it writes and reads framed blocks of opaque payload,
an index of entries, and a trailer, and refuses anything malformed with a :class:`CorruptArchive`
(or a subclass) before allocating from an unchecked size.

    Header  : signature, version, flags, canonical JSON metadata, CRC32
    Block*  : kind, codec, raw size, coded size, CRC32 of raw data, payload
    End     : one zero byte
    Index   : [solid groups (size, first block, block count...)], entries (path, type, mode,
              mtime, size, first block, block count... or group and offset)
    Trailer : total length, index length, SHA-256 of all raw block data, CRC32 of index + trailer
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, BinaryIO

from .errors import CorruptArchive, LimitExceeded, NotAnArchive, UnsupportedVersion

SIGNATURE = b"\x89MMC\r\n\x1a\n"
VERSION_MAJOR = 1
#: The highest minor version written: 1.1 added solid groups. A writer writes 1.0 unless the
#: archive has a group (so archives without one stay byte-identical to 1.0's).
VERSION_MINOR = 1
VERSION_MINOR_SOLID = 1

#: Flag bit 0: the archive holds a directory tree (unpack recreates a folder).
FLAG_TREE = 1 << 0
#: Flag bit 2 (since 1.1): the index starts with a table of solid groups and may hold GROUPED
#: entries. A 1.0 reader refuses the bit (reserved), so it never misreads such an index. (Bit 1
#: stays reserved: the golden reserved-flag archive sets it.)
FLAG_SOLID = 1 << 2
KNOWN_FLAGS = FLAG_TREE | FLAG_SOLID

MAX_META_BYTES = 1 << 20
MAX_BLOCK_RAW_BYTES = 64 << 20
#: A coded payload may exceed its raw size only by this much (never-expand keeps it far below).
MAX_BLOCK_EXPANSION_BYTES = 1 << 16
MAX_INDEX_BYTES = 256 << 20
MAX_PATH_BYTES = 4096
#: Entries one archive may hold: bounds the memory of opening a hostile index (~1 KB each).
MAX_ENTRIES = 1_000_000
MAX_VARINT_BYTES = 10

_HEADER_FIXED = struct.Struct("<8sBBHI")  # signature, major, minor, flags, meta length
_BLOCK_HEADER = struct.Struct("<BBIII")  # kind, codec, raw size, coded size, raw CRC32
_TRAILER = struct.Struct("<QI32sI")  # total length, index length, content SHA-256, CRC32
_CRC = struct.Struct("<I")
TRAILER_BYTES = _TRAILER.size
BLOCK_HEADER_BYTES = _BLOCK_HEADER.size


class BlockKind(IntEnum):
    END = 0
    STORED = 1
    ZSTD = 2
    MODEL = 3


class EntryType(IntEnum):
    FILE = 0
    DIR = 1
    SYMLINK = 2
    DUPLICATE = 3


#: On-disk type of a file stored inside a solid group (FLAG_SOLID archives only). In memory it
#: is a FILE entry whose ``group`` is not -1, so code that handles files handles it too.
GROUPED_TYPE = 4


@dataclass(frozen=True)
class BlockHeader:
    kind: BlockKind
    codec: int
    raw_size: int
    coded_size: int
    raw_crc: int


@dataclass
class Entry:
    """One index entry. Offsets are absolute positions in the archive."""

    path: str
    type: EntryType = EntryType.FILE
    mode: int = 0o644
    mtime: int = 0
    size: int = 0
    packed_size: int = 0
    first_block: int = 0
    block_count: int = 0
    modality: int = 0
    serializer: int = 0
    link_target: str = ""
    duplicate_of: int = -1
    #: Solid group the file's bytes lie in (-1: the file has blocks of its own), and where.
    group: int = -1
    offset: int = 0

    @property
    def grouped(self) -> bool:
        return self.group >= 0


@dataclass
class Group:
    """A solid group: one stream of blocks holding the data of several files (FLAG_SOLID)."""

    size: int = 0
    packed_size: int = 0
    first_block: int = 0
    block_count: int = 0
    modality: int = 0
    serializer: int = 0


def canonical_json(value: Any) -> bytes:
    """The one JSON spelling written into archives: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


# --- varints (LEB128) -------------------------------------------------------------------------


def _put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("varint must be non-negative")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzigzag(value: int) -> int:
    return value // 2 if value % 2 == 0 else -(value + 1) // 2


class _Cursor:
    """Bounds-checked reader over the index bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise CorruptArchive("index is truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        value = 0
        for shift in range(0, 7 * MAX_VARINT_BYTES, 7):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise CorruptArchive("index holds an over-long number")

    def text(self, limit: int) -> str:
        length = self.varint()
        if length > limit or length > self.remaining():
            raise CorruptArchive("index holds an over-long or truncated name")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArchive("index holds a name that is not UTF-8") from None


# --- writing ----------------------------------------------------------------------------------


def encode_index(entries: list[Entry], groups: list[Group] | None = None) -> bytes:
    """The index bytes; ``groups`` (a FLAG_SOLID archive's, possibly empty) come first."""
    out = bytearray()
    if groups is not None:
        _put_varint(out, len(groups))
        for group in groups:
            for value in (group.size, group.packed_size, group.first_block, group.block_count):
                _put_varint(out, value)
            out.append(group.modality)
            _put_varint(out, group.serializer)
    elif any(entry.grouped for entry in entries):
        raise ValueError("grouped entries need the group table (FLAG_SOLID)")
    _put_varint(out, len(entries))
    for entry in entries:
        out.append(GROUPED_TYPE if entry.grouped else int(entry.type))
        path = entry.path.encode("utf-8")
        _put_varint(out, len(path))
        out += path
        _put_varint(out, entry.mode)
        _put_varint(out, _zigzag(entry.mtime))
        if entry.grouped:
            for value in (entry.group, entry.offset, entry.size):
                _put_varint(out, value)
            out.append(entry.modality)
            _put_varint(out, entry.serializer)
        elif entry.type == EntryType.FILE:
            for value in (entry.size, entry.packed_size, entry.first_block, entry.block_count):
                _put_varint(out, value)
            out.append(entry.modality)
            _put_varint(out, entry.serializer)
        elif entry.type == EntryType.SYMLINK:
            target = entry.link_target.encode("utf-8")
            _put_varint(out, len(target))
            out += target
        elif entry.type == EntryType.DUPLICATE:
            _put_varint(out, entry.duplicate_of)
    return bytes(out)


class ContainerWriter:
    """Writes an archive to a binary stream, front to back (no seeking, so stdout works).

    The header goes out with the first block (or at close): until then :meth:`add_group` may
    still set FLAG_SOLID, so an archive is 1.1 only when it has solid groups.
    """

    def __init__(self, stream: BinaryIO, meta: dict[str, Any], flags: int = 0) -> None:
        if flags & ~KNOWN_FLAGS:
            raise ValueError("unknown flag bits")
        meta_bytes = canonical_json(meta)
        if len(meta_bytes) > MAX_META_BYTES:
            raise ValueError("metadata too large")
        self._stream = stream
        self._meta_bytes = meta_bytes
        self.flags = flags
        self._header_written = False
        self._offset = _HEADER_FIXED.size + len(meta_bytes) + _CRC.size
        self._content_hash = hashlib.sha256()
        self.entries: list[Entry] = []
        self.groups: list[Group] = []
        self._closed = False

    @property
    def offset(self) -> int:
        """Bytes written so far: the position the next block will start at."""
        return self._offset

    def _write(self, data: bytes) -> None:
        if not self._header_written:
            minor = VERSION_MINOR_SOLID if self.flags & FLAG_SOLID else 0
            head = _HEADER_FIXED.pack(
                SIGNATURE, VERSION_MAJOR, minor, self.flags, len(self._meta_bytes)
            )
            head += self._meta_bytes
            self._stream.write(head + _CRC.pack(crc32(head)))
            self._header_written = True
        self._stream.write(data)
        self._offset += len(data)

    def write_block(self, kind: BlockKind, codec: int, raw: bytes, payload: bytes) -> int:
        """Append one block holding ``raw`` coded as ``payload``; returns its offset."""
        if kind == BlockKind.END:
            raise ValueError("the end block is written by close()")
        if not 0 < len(raw) <= MAX_BLOCK_RAW_BYTES:
            raise ValueError("block raw size out of range")
        if len(payload) > len(raw) + MAX_BLOCK_EXPANSION_BYTES:
            raise ValueError("block payload expands beyond the format's limit")
        start = self._offset
        self._write(_BLOCK_HEADER.pack(int(kind), codec, len(raw), len(payload), crc32(raw)))
        self._write(payload)
        self._content_hash.update(raw)
        return start

    def add_entry(self, entry: Entry) -> int:
        """Record an entry for the index; returns its index number."""
        if len(self.entries) >= MAX_ENTRIES:
            raise LimitExceeded(f"an archive holds at most {MAX_ENTRIES} entries")
        self.entries.append(entry)
        return len(self.entries) - 1

    def add_group(self, group: Group) -> int:
        """Record a solid group (its fields may be filled in until close); returns its number.

        Sets FLAG_SOLID, so it must come before the first block is written.
        """
        if not self.flags & FLAG_SOLID:
            if self._header_written:
                raise ValueError("solid groups must be declared before the first block")
            self.flags |= FLAG_SOLID
        if len(self.groups) >= MAX_ENTRIES:
            raise LimitExceeded(f"an archive holds at most {MAX_ENTRIES} groups")
        self.groups.append(group)
        return len(self.groups) - 1

    def close(self) -> int:
        """Write the end block, index and trailer; returns the archive's total length."""
        if self._closed:
            return self._offset
        self._write(bytes([BlockKind.END]))
        index = encode_index(self.entries, self.groups if self.flags & FLAG_SOLID else None)
        if len(index) > MAX_INDEX_BYTES:
            raise ValueError("archive index exceeds the format's limit")
        self._write(index)
        total = self._offset + TRAILER_BYTES
        body = _TRAILER.pack(total, len(index), self._content_hash.digest(), 0)[:-4]
        # One CRC covers the index and the trailer: a damaged index is caught before parsing.
        self._write(body + _CRC.pack(crc32(index + body)))
        self._closed = True
        return total


# --- reading ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _parse_meta(meta_bytes: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys, bounded nesting and number size."""
    try:
        return json.loads(
            meta_bytes.decode("utf-8"),
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CorruptArchive("archive metadata is not valid JSON") from None


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CorruptArchive(f"archive is truncated ({what})")
    return data


class ContainerReader:
    """Opens an archive on a seekable binary stream: checks header, trailer and index up front."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        stream.seek(0, 2)
        self.file_size = stream.tell()
        stream.seek(0)
        first = stream.read(_HEADER_FIXED.size)
        if len(first) < len(SIGNATURE) or first[: len(SIGNATURE)] != SIGNATURE:
            raise NotAnArchive("not an mmcompress archive (bad signature)")
        if len(first) < _HEADER_FIXED.size:
            raise CorruptArchive("archive is truncated (header)")
        _, major, minor, flags, meta_len = _HEADER_FIXED.unpack(first)
        if major != VERSION_MAJOR:
            raise UnsupportedVersion(
                f"archive format version {major}.{minor} is not supported (this reads {VERSION_MAJOR}.x)"
            )
        if meta_len > MAX_META_BYTES:
            raise LimitExceeded(f"archive metadata of {meta_len} bytes exceeds the limit")
        if _HEADER_FIXED.size + meta_len + 4 + 1 + TRAILER_BYTES > self.file_size:
            raise CorruptArchive("archive is truncated (header)")
        meta_bytes = _read_exact(stream, meta_len, "metadata")
        (header_crc,) = _CRC.unpack(_read_exact(stream, 4, "header"))
        if crc32(first + meta_bytes) != header_crc:
            raise CorruptArchive("archive header is damaged (CRC mismatch)")
        if flags & ~KNOWN_FLAGS:
            raise UnsupportedVersion(
                f"archive uses reserved flag bits 0x{flags & ~KNOWN_FLAGS:04x}"
            )
        meta = _parse_meta(meta_bytes)
        if not isinstance(meta, dict):
            raise CorruptArchive("archive metadata is not a JSON object")
        self.version = (major, minor)
        self.flags = flags
        self.meta: dict[str, Any] = meta
        self.blocks_start = stream.tell()
        self._read_trailer()
        self.groups: list[Group] = []
        self.entries = self._read_index()

    def _read_trailer(self) -> None:
        self._stream.seek(self.file_size - TRAILER_BYTES)
        raw = _read_exact(self._stream, TRAILER_BYTES, "trailer")
        total, index_length, digest, trailer_crc = _TRAILER.unpack(raw)
        if total != self.file_size:
            raise CorruptArchive(
                f"archive length {self.file_size} differs from the recorded {total} "
                "(truncated, trailing garbage, or a damaged trailer)"
            )
        if index_length > MAX_INDEX_BYTES:
            raise LimitExceeded("archive index exceeds the size limit")
        index_end = self.file_size - TRAILER_BYTES
        index_offset = index_end - index_length
        if not self.blocks_start < index_offset:
            raise CorruptArchive("archive index length is out of range")
        self._stream.seek(index_offset)
        self._index_bytes = _read_exact(self._stream, index_length, "index")
        if crc32(self._index_bytes + raw[:-4]) != trailer_crc:
            raise CorruptArchive("archive index or trailer is damaged (CRC mismatch)")
        self.index_offset = index_offset
        self.content_sha256 = digest
        self._stream.seek(index_offset - 1)
        if self._stream.read(1) != bytes([BlockKind.END]):
            raise CorruptArchive("archive end-of-blocks marker is missing")

    def _check_span(self, what: str, packed_size: int, first: int, blocks: int) -> None:
        """A stream of ``blocks`` blocks at ``first`` must lie in the block area and fit them."""
        span_end = first + packed_size
        if not (self.blocks_start <= first and span_end <= self.index_offset - 1):
            raise CorruptArchive(f"{what} points outside the block area")
        if blocks * BLOCK_HEADER_BYTES > packed_size:
            raise CorruptArchive(f"{what} declares impossible block counts")

    def _read_groups(self, cursor: _Cursor) -> None:
        count = cursor.varint()
        if count > cursor.remaining() // 6:  # every group record takes at least 6 bytes
            raise CorruptArchive("archive index declares more groups than it holds")
        if count > MAX_ENTRIES:
            raise LimitExceeded(f"archive holds {count} groups (limit {MAX_ENTRIES})")
        for number in range(count):
            group = Group(
                size=cursor.varint(),
                packed_size=cursor.varint(),
                first_block=cursor.varint(),
                block_count=cursor.varint(),
                modality=cursor.u8(),
                serializer=cursor.varint(),
            )
            what = f"solid group {number}"
            if not group.block_count or not group.size:
                raise CorruptArchive(f"{what} is empty")
            self._check_span(what, group.packed_size, group.first_block, group.block_count)
            if group.size > group.block_count * MAX_BLOCK_RAW_BYTES:
                raise CorruptArchive(f"{what} declares more data than its blocks hold")
            self.groups.append(group)

    def _check_groups_tiled(self, entries: list[Entry]) -> None:
        """Every group's members must cover its data exactly: no gap, no overlap, no excess."""
        members: list[list[tuple[int, int]]] = [[] for _ in self.groups]
        for entry in entries:
            if entry.grouped:
                members[entry.group].append((entry.offset, entry.size))
        for number, (group, spans) in enumerate(zip(self.groups, members, strict=True)):
            position = 0
            for offset, size in sorted(spans):
                if offset != position:
                    raise CorruptArchive(f"files of solid group {number} overlap or leave gaps")
                position += size
            if position != group.size:
                raise CorruptArchive(f"files of solid group {number} do not cover its data")

    def _read_index(self) -> list[Entry]:
        cursor = _Cursor(self._index_bytes)
        solid = bool(self.flags & FLAG_SOLID)
        if solid:
            self._read_groups(cursor)
        count = cursor.varint()
        if count > cursor.remaining() // 4:  # every entry takes at least 4 bytes
            raise CorruptArchive("archive index declares more entries than it holds")
        if count > MAX_ENTRIES:
            raise LimitExceeded(f"archive holds {count} entries (limit {MAX_ENTRIES})")
        entries: list[Entry] = []
        for number in range(count):
            code = cursor.u8()
            grouped = solid and code == GROUPED_TYPE
            try:
                kind = EntryType.FILE if grouped else EntryType(code)
            except ValueError:
                raise CorruptArchive("archive index holds an unknown entry type") from None
            path = cursor.text(MAX_PATH_BYTES)
            if not path or "\x00" in path:
                raise CorruptArchive("archive index holds an empty or NUL-containing path")
            entry = Entry(
                path=path, type=kind, mode=cursor.varint(), mtime=_unzigzag(cursor.varint())
            )
            if entry.mode > 0o7777:
                raise CorruptArchive("archive index holds an invalid file mode")
            if grouped:
                entry.group = cursor.varint()
                entry.offset = cursor.varint()
                entry.size = cursor.varint()
                entry.modality = cursor.u8()
                entry.serializer = cursor.varint()
                if entry.group >= len(self.groups) or not entry.size:
                    raise CorruptArchive(f"entry {path!r} names an invalid solid group")
                if entry.offset + entry.size > self.groups[entry.group].size:
                    raise CorruptArchive(f"entry {path!r} points outside its solid group")
            elif kind == EntryType.FILE:
                entry.size = cursor.varint()
                entry.packed_size = cursor.varint()
                entry.first_block = cursor.varint()
                entry.block_count = cursor.varint()
                entry.modality = cursor.u8()
                entry.serializer = cursor.varint()
                if entry.block_count:
                    self._check_span(
                        f"entry {path!r}", entry.packed_size, entry.first_block, entry.block_count
                    )
                    if (
                        entry.serializer == 0
                        and entry.size > entry.block_count * MAX_BLOCK_RAW_BYTES
                    ):
                        raise CorruptArchive(
                            f"entry {path!r} declares more data than its blocks hold"
                        )
                elif entry.size or entry.packed_size:
                    raise CorruptArchive(f"entry {path!r} has a size but no blocks")
            elif kind == EntryType.SYMLINK:
                entry.link_target = cursor.text(MAX_PATH_BYTES)
            elif kind == EntryType.DUPLICATE:
                entry.duplicate_of = cursor.varint()
                if (
                    entry.duplicate_of >= number
                    or entries[entry.duplicate_of].type != EntryType.FILE
                ):
                    raise CorruptArchive(f"entry {path!r} duplicates an invalid entry")
                entry.size = entries[entry.duplicate_of].size
            entries.append(entry)
        if cursor.remaining():
            raise CorruptArchive("archive index has unexpected trailing bytes")
        if solid:
            self._check_groups_tiled(entries)
        return entries

    def iter_group_blocks(self, number: int) -> Iterator[tuple[BlockHeader, bytes]]:
        """The (header, payload) pairs of solid group ``number``, read lazily and bounds-checked
        (a group's blocks are its bytes: serializer 0)."""
        group = self.groups[number]
        entry = Entry(
            path=f"<solid group {number}>",
            size=group.size,
            packed_size=group.packed_size,
            first_block=group.first_block,
            block_count=group.block_count,
        )
        return self._iter_span(entry)

    def iter_blocks(self, entry: Entry) -> Iterator[tuple[BlockHeader, bytes]]:
        """The (header, payload) pairs of a file entry, read lazily and bounds-checked."""
        if entry.type != EntryType.FILE or entry.grouped:
            raise ValueError("only file entries with blocks of their own have blocks")
        return self._iter_span(entry)

    def _iter_span(self, entry: Entry) -> Iterator[tuple[BlockHeader, bytes]]:
        position = entry.first_block
        end = entry.first_block + entry.packed_size
        declared = 0
        for _ in range(entry.block_count):
            header = self._read_block_header(position, end)
            position += BLOCK_HEADER_BYTES
            self._stream.seek(position)
            payload = _read_exact(self._stream, header.coded_size, "block payload")
            position += header.coded_size
            declared += header.raw_size
            # Serializer 0 (bytes): the blocks are the file. Other serializers rebuild the file
            # from their blocks and check its size themselves (docs/FORMAT.md).
            if entry.serializer == 0 and declared > entry.size:
                raise CorruptArchive(f"blocks of {entry.path!r} hold more data than its size")
            yield header, payload
        if position != end or (entry.serializer == 0 and declared != entry.size):
            raise CorruptArchive(f"blocks of {entry.path!r} do not match the index")

    def _read_block_header(self, position: int, end: int) -> BlockHeader:
        if position + BLOCK_HEADER_BYTES > end:
            raise CorruptArchive("block header runs past its entry")
        self._stream.seek(position)
        kind, codec, raw_size, coded_size, raw_crc = _BLOCK_HEADER.unpack(
            _read_exact(self._stream, BLOCK_HEADER_BYTES, "block header")
        )
        try:
            block_kind = BlockKind(kind)
        except ValueError:
            raise CorruptArchive(f"unknown block kind {kind}") from None
        if block_kind == BlockKind.END:
            raise CorruptArchive("unexpected end block inside an entry")
        if block_kind != BlockKind.MODEL and codec != 0:
            raise CorruptArchive("stored/zstd block with a non-zero codec byte")
        if not 0 < raw_size <= MAX_BLOCK_RAW_BYTES:
            raise LimitExceeded(
                f"block declares {raw_size} raw bytes (limit {MAX_BLOCK_RAW_BYTES})"
            )
        if coded_size > raw_size + MAX_BLOCK_EXPANSION_BYTES:
            raise CorruptArchive("block payload is larger than the format allows")
        if position + BLOCK_HEADER_BYTES + coded_size > end:
            raise CorruptArchive("block payload runs past its entry")
        return BlockHeader(block_kind, codec, raw_size, coded_size, raw_crc)


def check_block(header: BlockHeader, raw: bytes) -> None:
    """Raise CorruptArchive unless ``raw`` is what the block header promises."""
    if len(raw) != header.raw_size or crc32(raw) != header.raw_crc:
        raise CorruptArchive("block data does not match its CRC (damaged archive)")
