"""The .mmc container: header, blocks, index, trailer, checksums (docs/FORMAT.md is normative).

Knows nothing of models or files on disk: it writes and reads framed blocks of opaque payload,
an index of entries, and a trailer, and refuses anything malformed with a :class:`CorruptArchive`
(or a subclass) before allocating from an unchecked size.

    Header  : signature, version, flags, canonical JSON metadata, CRC32
    Block*  : kind, codec, raw size, coded size, CRC32 of raw data, payload
    End     : one zero byte
    Index   : entries (path, type, mode, mtime, size, first block, block count...)
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
VERSION_MINOR = 0

#: Flag bit 0: the archive holds a directory tree (unpack recreates a folder).
FLAG_TREE = 1 << 0
KNOWN_FLAGS = FLAG_TREE

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


def encode_index(entries: list[Entry]) -> bytes:
    out = bytearray()
    _put_varint(out, len(entries))
    for entry in entries:
        out.append(int(entry.type))
        path = entry.path.encode("utf-8")
        _put_varint(out, len(path))
        out += path
        _put_varint(out, entry.mode)
        _put_varint(out, _zigzag(entry.mtime))
        if entry.type == EntryType.FILE:
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
    """Writes an archive to a binary stream, front to back (no seeking, so stdout works)."""

    def __init__(self, stream: BinaryIO, meta: dict[str, Any], flags: int = 0) -> None:
        if flags & ~KNOWN_FLAGS:
            raise ValueError("unknown flag bits")
        meta_bytes = canonical_json(meta)
        if len(meta_bytes) > MAX_META_BYTES:
            raise ValueError("metadata too large")
        head = _HEADER_FIXED.pack(SIGNATURE, VERSION_MAJOR, VERSION_MINOR, flags, len(meta_bytes))
        head += meta_bytes
        self._stream = stream
        self._offset = 0
        self._content_hash = hashlib.sha256()
        self.entries: list[Entry] = []
        self._closed = False
        self._write(head + _CRC.pack(crc32(head)))

    @property
    def offset(self) -> int:
        """Bytes written so far: the position the next block will start at."""
        return self._offset

    def _write(self, data: bytes) -> None:
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

    def close(self) -> int:
        """Write the end block, index and trailer; returns the archive's total length."""
        if self._closed:
            return self._offset
        self._write(bytes([BlockKind.END]))
        index = encode_index(self.entries)
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

    def _read_index(self) -> list[Entry]:
        cursor = _Cursor(self._index_bytes)
        count = cursor.varint()
        if count > cursor.remaining() // 4:  # every entry takes at least 4 bytes
            raise CorruptArchive("archive index declares more entries than it holds")
        if count > MAX_ENTRIES:
            raise LimitExceeded(f"archive holds {count} entries (limit {MAX_ENTRIES})")
        entries: list[Entry] = []
        blocks_end = self.index_offset - 1
        for number in range(count):
            try:
                kind = EntryType(cursor.u8())
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
            if kind == EntryType.FILE:
                entry.size = cursor.varint()
                entry.packed_size = cursor.varint()
                entry.first_block = cursor.varint()
                entry.block_count = cursor.varint()
                entry.modality = cursor.u8()
                entry.serializer = cursor.varint()
                if entry.block_count:
                    span_end = entry.first_block + entry.packed_size
                    if not (self.blocks_start <= entry.first_block and span_end <= blocks_end):
                        raise CorruptArchive(f"entry {path!r} points outside the block area")
                    if entry.block_count * BLOCK_HEADER_BYTES > entry.packed_size:
                        raise CorruptArchive(f"entry {path!r} declares impossible block counts")
                    if entry.size > entry.block_count * MAX_BLOCK_RAW_BYTES:
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
        return entries

    def iter_blocks(self, entry: Entry) -> Iterator[tuple[BlockHeader, bytes]]:
        """The (header, payload) pairs of a file entry, read lazily and bounds-checked."""
        if entry.type != EntryType.FILE:
            raise ValueError("only file entries have blocks")
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
            if declared > entry.size:
                raise CorruptArchive(f"blocks of {entry.path!r} hold more data than its size")
            yield header, payload
        if position != end or declared != entry.size:
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
