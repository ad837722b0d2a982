"""Tests for mmcompress.container: the .mmc layout (docs/FORMAT.md) and every check a reader makes."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmcompress import container, errors
from mmcompress.blockcoding import decode_block, encode_block, zstd_decompress
from mmcompress.container import (
    FLAG_TREE,
    MAX_BLOCK_EXPANSION_BYTES,
    MAX_BLOCK_RAW_BYTES,
    MAX_META_BYTES,
    MAX_PATH_BYTES,
    TRAILER_BYTES,
    BlockHeader,
    BlockKind,
    ContainerReader,
    ContainerWriter,
    Entry,
    EntryType,
    canonical_json,
    check_block,
    crc32,
    encode_index,
)
from mmcompress.errors import CorruptArchive, LimitExceeded, MmcError, NotAnArchive

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def _load_make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_golden = _load_make_golden()
unpack = make_golden.unpack
HELLO = (GOLDEN / "decode" / "hello_stored.mmc").read_bytes()
TREE = (GOLDEN / "decode" / "tree.mmc").read_bytes()


class SizeWatchingStream(io.BytesIO):
    """A stream that remembers the largest read asked of it (a reader must never ask for more
    than the file holds, whatever sizes the archive declares)."""

    largest_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self.largest_read = max(self.largest_read, -1 if size is None else size)
        return super().read(size)


def open_archive(data: bytes) -> ContainerReader:
    return ContainerReader(io.BytesIO(data))


def read_everything(data: bytes) -> tuple[object, ...]:
    """Open, iterate every file entry's blocks and check the stored ones: the container alone,
    no decoding (zstd and model payloads are blockcoding's business)."""
    reader = open_archive(data)
    stored = []
    for entry in reader.entries:
        if entry.type == EntryType.FILE and not entry.grouped:
            for header, payload in reader.iter_blocks(entry):
                if header.kind == BlockKind.STORED:
                    check_block(header, payload)
                    stored.append(payload)
    return reader.entries, reader.meta, reader.flags, stored


# --- the layout, byte for byte ----------------------------------------------------------------


def test_hello_archive_is_byte_exact() -> None:
    assert make_golden.hello() == HELLO
    assert len(HELLO) == 133
    assert hashlib.sha256(HELLO).hexdigest() == (
        "af2bad9842890b6a173aab859471061455e92dfd374d0ded1e663cda7a66b4b7"
    )
    signature, major, minor, flags, meta_length = struct.unpack_from("<8sBBHI", HELLO)
    assert (signature, major, minor, flags, meta_length) == (b"\x89MMC\r\n\x1a\n", 1, 0, 0, 13)
    assert HELLO[16:29] == b'{"codecs":[]}'
    assert HELLO[29:33] == struct.pack("<I", zlib.crc32(HELLO[:29]))
    kind, codec, raw_size, coded_size, raw_crc = struct.unpack_from("<BBIII", HELLO, 33)
    assert (kind, codec, raw_size, coded_size) == (1, 0, 12, 12)
    assert raw_crc == zlib.crc32(b"Hello, mmc!\n")
    assert HELLO[47:59] == b"Hello, mmc!\n"
    assert HELLO[59] == 0  # end block
    # index: count 1, FILE, path, mode 0o644 = a4 03, mtime zigzag(1700000000), sizes; no CRC
    assert HELLO[60:85] == bytes.fromhex("01 00 09") + b"hello.txt" + bytes.fromhex(
        "a4 03 80 c4 9f d5 0c 0c 1a 21 01 00 00"
    )
    assert TRAILER_BYTES == 48
    total, index_length, digest, trailer_crc = struct.unpack_from("<QI32sI", HELLO, 85)
    assert (total, index_length) == (133, 25)
    assert 133 - 48 - index_length == 60  # the index offset follows from the length
    assert digest == hashlib.sha256(b"Hello, mmc!\n").digest()
    # one CRC covers the index and the trailer's first 44 bytes
    assert trailer_crc == zlib.crc32(HELLO[60:85] + HELLO[85:129])


def test_empty_archive_is_83_bytes() -> None:
    data = make_golden.empty()
    assert len(data) == 83  # header 33, end marker, index `00`, trailer 48
    assert data[33:35] == b"\x00\x00"
    assert struct.unpack_from("<QI", data, 35) == (83, 1)
    assert data[47:79] == hashlib.sha256(b"").digest()
    assert data[79:83] == struct.pack("<I", zlib.crc32(data[34:79]))
    assert open_archive(data).entries == []


def test_format_md_shows_the_hello_archive() -> None:
    format_md = (ROOT / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    for line in make_golden.hexdump(HELLO):
        assert line in format_md


def test_canonical_json() -> None:
    value = {"b": [1, {"y": 2, "x": "é"}], "a": True}
    assert canonical_json(value) == '{"a":true,"b":[1,{"x":"é","y":2}]}'.encode()


def test_varints_and_zigzag_in_the_index() -> None:
    entries = [
        Entry(path="d", type=EntryType.DIR, mode=0, mtime=-1),
        Entry(path="e", type=EntryType.DIR, mode=0o7777, mtime=63),
        Entry(path="f", type=EntryType.DIR, mode=128, mtime=-65),
    ]
    body = encode_index(entries)  # the index has no CRC of its own
    count, dir_d, dir_e, dir_f = "03", "01 01 64 00 01", "01 01 65 ff 1f 7e", "01 01 66 80 01 81 01"
    assert body == bytes.fromhex(f"{count} {dir_d} {dir_e} {dir_f}")


# --- round trips ------------------------------------------------------------------------------


def test_round_trip_of_every_entry_type() -> None:
    stream = io.BytesIO()
    writer = ContainerWriter(
        stream, {"codecs": [{"id": "ctx", "version": 1}], "x": [1.5, None]}, FLAG_TREE
    )
    raw = (ROOT / "samples" / "click_parser.py").read_bytes()[:5000]
    first = writer.write_block(BlockKind.STORED, 0, raw[:3000], raw[:3000])
    writer.write_block(BlockKind.STORED, 0, raw[3000:], raw[3000:])
    file_entry = Entry(
        path="src/click/parser.py",
        mode=0o640,
        mtime=-(1 << 40),
        size=5000,
        packed_size=writer.offset - first,
        first_block=first,
        block_count=2,
        modality=2,
        serializer=300,
    )
    written = [
        Entry(path="src", type=EntryType.DIR, mode=0o7777, mtime=(1 << 62)),
        file_entry,
        Entry(path="ünïcødé/名前", type=EntryType.SYMLINK, mode=0o777, link_target="../" * 100),
        Entry(path="copy.py", type=EntryType.DUPLICATE, mode=0o600, duplicate_of=1),
        Entry(path="empty", mode=0, mtime=0),
        Entry(path="p" * MAX_PATH_BYTES, type=EntryType.DIR),
    ]
    for entry in written:
        writer.add_entry(entry)
    total = writer.close()
    assert writer.close() == total  # closing twice writes nothing more
    data = stream.getvalue()
    assert len(data) == total

    reader = open_archive(data)
    assert reader.version == (1, 0)
    assert reader.flags == FLAG_TREE
    assert reader.meta == {"codecs": [{"id": "ctx", "version": 1}], "x": [1.5, None]}
    assert reader.content_sha256 == hashlib.sha256(raw).digest()
    written[3].size = 5000  # a duplicate reports its original's size
    assert reader.entries == written
    blocks = list(reader.iter_blocks(reader.entries[1]))
    assert [(h.kind, h.raw_size, h.coded_size) for h, _ in blocks] == [
        (BlockKind.STORED, 3000, 3000),
        (BlockKind.STORED, 2000, 2000),
    ]
    assert b"".join(payload for _, payload in blocks) == raw
    with pytest.raises(ValueError):
        list(reader.iter_blocks(reader.entries[0]))


def test_writer_refuses_what_the_format_cannot_hold() -> None:
    writer = ContainerWriter(io.BytesIO(), {})
    with pytest.raises(ValueError):
        writer.write_block(BlockKind.END, 0, b"x", b"x")
    with pytest.raises(ValueError):
        writer.write_block(BlockKind.STORED, 0, b"", b"")
    with pytest.raises(ValueError):
        writer.write_block(BlockKind.ZSTD, 0, b"x", bytes(1 + MAX_BLOCK_EXPANSION_BYTES + 1))
    with pytest.raises(ValueError):
        ContainerWriter(io.BytesIO(), {}, flags=0x0002)
    with pytest.raises(ValueError):
        ContainerWriter(io.BytesIO(), {"x": "y" * MAX_META_BYTES})


# --- goldens ----------------------------------------------------------------------------------

DECODE_NAMES = sorted(path.stem for path in (GOLDEN / "decode").glob("*.mmc"))
ERROR_MAP: dict[str, str] = json.loads((GOLDEN / "errors" / "expected.json").read_text())


def test_golden_folders_match_the_generator() -> None:
    assert DECODE_NAMES == sorted(make_golden.DECODE_CASES)
    assert sorted(ERROR_MAP) == sorted(make_golden.ERROR_CASES)
    assert sorted(p.stem for p in (GOLDEN / "errors").glob("*.mmc")) == sorted(ERROR_MAP)


@pytest.mark.parametrize("name", DECODE_NAMES)
def test_golden_archive_decodes(name: str) -> None:
    data = (GOLDEN / "decode" / f"{name}.mmc").read_bytes()
    expected_raw = (GOLDEN / "decode" / f"{name}.raw").read_bytes()
    expected = json.loads((GOLDEN / "decode" / f"{name}.json").read_text(encoding="utf-8"))
    reader, outputs = unpack(data)
    assert make_golden.content(reader, outputs) == expected_raw
    assert reader.content_sha256 == hashlib.sha256(expected_raw).digest()
    assert make_golden.description(reader, outputs) == expected


def _golden_builders() -> list[tuple[str, str]]:
    """Golden files without zstd output: the generator must reproduce them byte for byte (zstd
    output may change with the zstd library, so those are only checked by decoding)."""
    cases = [("decode", name) for name in DECODE_NAMES] + [("errors", name) for name in ERROR_MAP]
    return [(folder, name) for folder, name in cases if name not in make_golden.ZSTD_OUTPUT]


def test_zstd_output_lists_exactly_the_archives_with_zstd_blocks() -> None:
    with_zstd = set()
    for name in DECODE_NAMES:
        reader = open_archive((GOLDEN / "decode" / f"{name}.mmc").read_bytes())
        for entry in reader.entries:
            if entry.type == EntryType.FILE and not entry.grouped:
                if any(h.kind == BlockKind.ZSTD for h, _ in reader.iter_blocks(entry)):
                    with_zstd.add(name)
    assert with_zstd == make_golden.ZSTD_OUTPUT & set(DECODE_NAMES)
    assert make_golden.ZSTD_OUTPUT <= set(DECODE_NAMES) | set(ERROR_MAP)
    # every broken archive made from zstd output says so in its name
    assert {n for n in make_golden.ZSTD_OUTPUT if n in ERROR_MAP} == {
        n for n in ERROR_MAP if n.startswith("zstd_")
    }


def test_golden_error_readme_lists_every_case() -> None:
    readme = (GOLDEN / "errors" / "README.md").read_text(encoding="utf-8")
    for name, error in ERROR_MAP.items():
        assert f"| `{name}.mmc` | `{error}` |" in readme


@pytest.mark.parametrize(("folder", "name"), _golden_builders())
def test_golden_file_is_what_the_generator_writes(folder: str, name: str) -> None:
    if folder == "decode":
        build = make_golden.DECODE_CASES[name]
    else:
        _, build, _ = make_golden.ERROR_CASES[name]
    assert build() == (GOLDEN / folder / f"{name}.mmc").read_bytes()


def test_golden_decode_covers_both_block_kinds() -> None:
    reader = open_archive((GOLDEN / "decode" / "mixed_blocks.mmc").read_bytes())
    kinds = [[h.kind for h, _ in reader.iter_blocks(e)] for e in reader.entries]
    assert kinds == [[BlockKind.ZSTD] * 3, [BlockKind.STORED]]


@pytest.mark.parametrize("name", sorted(ERROR_MAP))
def test_golden_broken_archive_raises_its_error(name: str) -> None:
    data = (GOLDEN / "errors" / f"{name}.mmc").read_bytes()
    expected = getattr(errors, ERROR_MAP[name])
    with pytest.raises(MmcError) as caught:
        unpack(data)
    assert type(caught.value) is expected, f"{name}: {caught.value!r}"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(ERROR_MAP))
def test_broken_archive_reads_stay_within_the_file(name: str) -> None:
    data = (GOLDEN / "errors" / f"{name}.mmc").read_bytes()
    stream = SizeWatchingStream(data)
    try:
        reader = ContainerReader(stream)
        for entry in reader.entries:
            if entry.type == EntryType.FILE and not entry.grouped:
                for header, payload in reader.iter_blocks(entry):
                    check_block(header, payload)
    except MmcError:
        pass
    assert stream.largest_read <= max(len(data), 16)  # 16: the fixed header, read first


# --- the named error cases (the golden files hold one archive per case) -----------------------


def test_huge_declared_sizes_raise_limit_exceeded_without_reading_them() -> None:
    huge_meta = bytearray(HELLO)
    huge_meta[12:16] = struct.pack("<I", MAX_META_BYTES + 1)
    stream = SizeWatchingStream(bytes(huge_meta))
    with pytest.raises(LimitExceeded):
        ContainerReader(stream)
    assert stream.largest_read <= 16

    huge_block = bytearray(HELLO)
    huge_block[35:39] = struct.pack("<I", MAX_BLOCK_RAW_BYTES + 1)
    stream = SizeWatchingStream(bytes(huge_block))
    reader = ContainerReader(stream)
    with pytest.raises(LimitExceeded):
        list(reader.iter_blocks(reader.entries[0]))
    assert stream.largest_read <= len(HELLO)


def test_a_block_at_the_raw_size_limit_is_accepted() -> None:
    at_limit = bytearray(HELLO)
    at_limit[35:39] = struct.pack("<I", MAX_BLOCK_RAW_BYTES)
    entry = make_golden.file_entry(HELLO, size=MAX_BLOCK_RAW_BYTES)
    reader = open_archive(make_golden.with_index(bytes(at_limit), make_golden.index_of([entry])))
    [(header, payload)] = list(reader.iter_blocks(reader.entries[0]))
    assert header.raw_size == MAX_BLOCK_RAW_BYTES
    with pytest.raises(CorruptArchive):
        check_block(header, payload)  # 12 bytes are not 64 MiB


@pytest.mark.parametrize("length", range(len(HELLO)))
def test_every_truncation_raises(length: int) -> None:
    expected = NotAnArchive if length < 8 else CorruptArchive
    with pytest.raises(expected):
        read_everything(HELLO[:length])


@pytest.mark.parametrize("tail", [b"\x00", b"garbage", HELLO[-TRAILER_BYTES:], HELLO])
def test_trailing_data_raises(tail: bytes) -> None:
    with pytest.raises(CorruptArchive):
        open_archive(HELLO + tail)


def test_truncations_of_a_tree_archive_raise() -> None:
    for length in range(0, len(TREE), 7):
        with pytest.raises(CorruptArchive):
            unpack(TREE[:length])


# --- damage anywhere: only MmcError, and never silently wrong output --------------------------


def outcome(data: bytes) -> tuple[str, object]:
    try:
        reader, outputs = unpack(data)
    except MmcError as exc:
        return ("error", type(exc))
    return ("ok", (reader.entries, outputs, reader.meta, reader.flags))


TREE_CONTAINER_VIEW = read_everything(TREE)


@pytest.mark.parametrize("archive_name", ["hello_stored", "tree"])
def test_fuzz_every_single_bit_flip_is_caught_or_harmless(archive_name: str) -> None:
    data = (GOLDEN / "decode" / f"{archive_name}.mmc").read_bytes()
    original = outcome(data)
    for position in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            result = outcome(bytes(damaged))
            assert result[0] == "error" or result == original, (position, bit)


def test_every_single_bit_flip_is_caught() -> None:
    for position in range(len(HELLO)):
        for bit in range(8):
            damaged = bytearray(HELLO)
            damaged[position] ^= 1 << bit
            assert outcome(bytes(damaged))[0] == "error", (position, bit)


damage = st.lists(
    st.tuples(st.integers(0, len(TREE) - 1), st.integers(1, 255)), min_size=1, max_size=4
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damage, st.integers(0, len(TREE)), st.binary(max_size=8))
def test_fuzz_damaged_archives_raise_only_mmc_errors(
    flips: list[tuple[int, int]], keep: int, extra: bytes
) -> None:
    damaged = bytearray(TREE)
    for position, mask in flips:
        damaged[position] ^= mask
    for candidate in (bytes(damaged), bytes(damaged[:keep]), bytes(damaged) + extra):
        try:
            result = read_everything(candidate)
        except MmcError:
            continue  # anything else propagates and fails the test
        assert result == TREE_CONTAINER_VIEW


# --- one CRC over index and trailer ------------------------------------------------------------

HELLO_INDEX = slice(60, 85)


@pytest.mark.parametrize("position", range(HELLO_INDEX.start, len(HELLO)))
def test_damage_to_index_or_trailer_is_caught_on_opening(position: int) -> None:
    for bit in range(8):
        damaged = bytearray(HELLO)
        damaged[position] ^= 1 << bit
        with pytest.raises(CorruptArchive):
            open_archive(bytes(damaged))


def test_a_damaged_index_is_caught_by_the_crc_before_it_is_parsed() -> None:
    damaged = bytearray(HELLO)
    damaged[HELLO_INDEX.start] = 0xFF  # entry count 0xff...: would fail parsing, if parsed
    with pytest.raises(CorruptArchive, match="CRC"):
        open_archive(bytes(damaged))


def test_index_length_is_checked_against_the_limit_before_reading() -> None:
    for index_length, expected in [
        (container.MAX_INDEX_BYTES + 1, LimitExceeded),
        (container.MAX_INDEX_BYTES, CorruptArchive),  # within the limit, but not within the file
        (0xFFFFFFFF, LimitExceeded),
    ]:
        stream = SizeWatchingStream(make_golden.with_trailer(HELLO, index_length=index_length))
        with pytest.raises(expected) as caught:
            ContainerReader(stream)
        assert (type(caught.value) is LimitExceeded) == (expected is LimitExceeded)
        assert stream.largest_read <= TRAILER_BYTES


def test_index_of_length_zero_is_refused() -> None:
    # the byte before the trailer (the last index byte, 00) then passes for the end marker; the
    # missing entry count is what gives it away
    with pytest.raises(CorruptArchive, match="truncated"):
        open_archive(make_golden.with_trailer(HELLO, index_length=0))


def test_writer_refuses_an_index_beyond_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "MAX_INDEX_BYTES", 10)
    writer = ContainerWriter(io.BytesIO(), {"codecs": []})
    writer.add_entry(Entry(path="a-longer-name", type=EntryType.DIR))
    with pytest.raises(ValueError):
        writer.close()


# --- block headers --------------------------------------------------------------------------


def _first_file(reader: ContainerReader) -> Entry:
    return next(e for e in reader.entries if e.type == EntryType.FILE and e.block_count)


def test_a_non_zero_codec_byte_is_refused_on_stored_and_zstd_blocks() -> None:
    for data in (HELLO, TREE):
        first = _first_file(open_archive(data)).first_block
        for codec in (1, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[first + 1] = codec
            reader = open_archive(bytes(damaged))
            with pytest.raises(CorruptArchive, match="codec"):
                list(reader.iter_blocks(_first_file(reader)))


def test_a_model_block_may_name_any_codec_but_it_must_exist() -> None:
    damaged = bytearray(HELLO)
    damaged[33:35] = bytes([BlockKind.MODEL, 5])
    reader = open_archive(bytes(damaged))
    [(header, payload)] = list(reader.iter_blocks(reader.entries[0]))
    assert (header.kind, header.codec) == (BlockKind.MODEL, 5)
    with pytest.raises(CorruptArchive, match="codec 5"):
        decode_block(header, payload, [])


# --- ZSTD payloads: magicless frames, no checksum, no content size --------------------------

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def test_zstd_payloads_are_magicless_frames_without_checksum_or_size() -> None:
    raw = (ROOT / "samples" / "pep-0008.rst").read_bytes()[:8192]
    kind, codec, payload = encode_block(raw, predictor=None, codec=0, zstd_level=19)
    assert (kind, codec) == (BlockKind.ZSTD, 0)
    assert not payload.startswith(ZSTD_MAGIC)
    params = zstandard.get_frame_parameters(payload, format=zstandard.FORMAT_ZSTD1_MAGICLESS)
    assert not params.has_checksum
    assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert params.dict_id == 0
    # a magicless frame is a standard RFC 8878 frame with its 4-byte magic number left out
    assert (
        zstandard.ZstdDecompressor().decompress(ZSTD_MAGIC + payload, max_output_size=8192) == raw
    )
    header = BlockHeader(BlockKind.ZSTD, 0, len(raw), len(payload), crc32(raw))
    assert decode_block(header, payload, []) == raw


def test_golden_zstd_blocks_are_magicless() -> None:
    for name in sorted(make_golden.ZSTD_OUTPUT & set(DECODE_NAMES)):
        reader = open_archive((GOLDEN / "decode" / f"{name}.mmc").read_bytes())
        for entry in reader.entries:
            if entry.type != EntryType.FILE:
                continue
            for header, payload in reader.iter_blocks(entry):
                if header.kind == BlockKind.ZSTD:
                    with_magic = zstandard.ZstdDecompressor().decompress(
                        ZSTD_MAGIC + payload, max_output_size=header.raw_size
                    )
                    assert with_magic == decode_block(header, payload, [])


def _magicless_with_size(raw: bytes) -> bytes:
    parameters = zstandard.ZstdCompressionParameters.from_level(
        3, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_content_size=1
    )
    return zstandard.ZstdCompressor(compression_params=parameters).compress(raw)


def test_a_frame_declaring_the_blocks_size_is_accepted() -> None:
    raw = b"abc" * 1000
    payload = _magicless_with_size(raw)
    params = zstandard.get_frame_parameters(payload, format=zstandard.FORMAT_ZSTD1_MAGICLESS)
    assert params.content_size == len(raw)
    assert zstd_decompress(payload, len(raw)) == raw


@pytest.mark.parametrize("raw_size", [2999, 3001, 64 << 20])
def test_a_frame_declaring_another_size_is_refused_before_decompressing(raw_size: int) -> None:
    payload = _magicless_with_size(b"abc" * 1000)
    with pytest.raises(CorruptArchive, match="declares a size"):
        zstd_decompress(payload, raw_size)


def test_a_zstd_frame_with_its_magic_is_refused() -> None:
    raw = b"abc" * 1000
    payload = zstandard.ZstdCompressor(level=3, write_content_size=False).compress(raw)
    assert payload.startswith(ZSTD_MAGIC)
    header = BlockHeader(BlockKind.ZSTD, 0, len(raw), len(payload), crc32(raw))
    with pytest.raises(CorruptArchive):
        decode_block(header, payload, [])


def test_zstd_frame_declaring_a_huge_content_size_raises_corrupt_archive() -> None:
    damaged = bytearray(TREE)
    frame_header = _first_file(open_archive(TREE)).first_block + 14  # first zstd payload byte
    damaged[frame_header] ^= 0xE0  # now: single segment, 8-byte content size from what follows
    with pytest.raises(CorruptArchive, match="declares a size"):
        unpack(bytes(damaged))


# --- metadata is parsed strictly ----------------------------------------------------------------


@pytest.mark.parametrize(
    "meta_bytes",
    [
        b'{"codecs":[],"x":NaN}',
        b'{"codecs":[],"x":Infinity}',
        b'{"codecs":[],"x":-Infinity}',
        b'{"codecs":[],"codecs":[]}',
        b'{"codecs":[{"id":"a","id":"b"}]}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' + b"1" * 5000 + b"}",
        b'{"codecs":[]} {}',
        b"",
        b'\xef\xbb\xbf{"codecs":[]}',  # a BOM
    ],
)
def test_hostile_metadata_raises_corrupt_archive(meta_bytes: bytes) -> None:
    with pytest.raises(CorruptArchive):
        open_archive(make_golden.with_meta(make_golden.empty(), meta_bytes))


def test_metadata_need_not_be_canonical() -> None:
    reader = open_archive(make_golden.with_meta(make_golden.empty(), b'{ "z": 1, "codecs": [ ] }'))
    assert reader.meta == {"z": 1, "codecs": []}
