"""The Python API: byte-exact round trips on real files of every modality, never-expand, errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

import mmcompress
from mmcompress import api
from mmcompress.errors import CorruptArchive, InputError, NotAnArchive, UnsupportedFormat

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"

REAL_FILES = [
    CORPUS / "text" / "grammar.lsp",
    CORPUS / "text" / "paper4",
    CORPUS / "code" / "c" / "zlib" / "adler32.c",
    CORPUS / "binaries" / "obj1",
    CORPUS / "binaries" / "modern" / "dpkg_changelog.gz",
    CORPUS / "binaries" / "modern" / "seine_sdr_gainmap_srgb.jpg",
]


def _zstd19(data: bytes) -> int:
    return len(zstandard.ZstdCompressor(level=19).compress(data))


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_round_trip_never_worse_than_zstd(path: Path) -> None:
    data = path.read_bytes()
    blob = mmcompress.compress(data, name=path.name)
    assert mmcompress.decompress(blob) == data
    assert len(blob) <= _zstd19(data) + 128


def test_text_beats_gzip_at_the_default_level() -> None:
    import gzip

    data = (CORPUS / "text" / "paper4").read_bytes()
    assert len(mmcompress.compress(data)) < len(gzip.compress(data, 9, mtime=0))


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 3, b"\x00" * 100_000])
def test_edge_inputs(data: bytes) -> None:
    assert mmcompress.decompress(mmcompress.compress(data)) == data


def test_modality_namespaces_round_trip() -> None:
    text = (CORPUS / "text" / "grammar.lsp").read_text()
    assert mmcompress.text.decompress(mmcompress.text.compress(text)) == text.encode()
    code = (CORPUS / "code" / "c" / "zlib" / "adler32.c").read_bytes()
    assert mmcompress.code.decompress(mmcompress.code.compress(code, language="c")) == code
    with pytest.raises(ValueError):
        mmcompress.code.compress(code, language="klingon")


def test_compressor_is_reusable_and_deterministic() -> None:
    data = (CORPUS / "text" / "paper4").read_bytes()
    with mmcompress.Compressor() as compressor:
        first = compressor.compress(data)
        second = compressor.compress(data)
        assert first == second == mmcompress.compress(data)
        assert compressor.decompress(first) == data


def test_pack_stream_from_a_pipe_like_source() -> None:
    data = (CORPUS / "text" / "grammar.lsp").read_bytes()

    class Pipe(io.RawIOBase):
        def __init__(self, payload: bytes) -> None:
            self._inner = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            return self._inner.read(min(size, 7) if size > 0 else size)

        def seekable(self) -> bool:
            return False

    sink = io.BytesIO()
    api.pack_stream(Pipe(data), sink, name="grammar.lsp")  # type: ignore[arg-type]
    out = io.BytesIO()
    api.unpack_stream(Pipe(sink.getvalue()), out)  # type: ignore[arg-type]
    assert out.getvalue() == data


def test_bad_blobs_raise_named_errors() -> None:
    blob = mmcompress.compress(b"hello hello hello hello")
    with pytest.raises(NotAnArchive):
        mmcompress.decompress(b"PK\x03\x04 not ours")
    with pytest.raises(CorruptArchive):
        mmcompress.decompress(blob[:-1])
    with pytest.raises(CorruptArchive):
        mmcompress.decompress(blob + b"\x00")


def test_file_api_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        mmcompress.pack_file(tmp_path / "missing")
    odd = tmp_path / "archive.bin"
    odd.write_bytes(mmcompress.compress(b"abc"))
    with pytest.raises(InputError):
        mmcompress.unpack_file(odd)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"a")
    archive = mmcompress.pack_file(folder).output
    assert archive is not None
    with pytest.raises(UnsupportedFormat):
        mmcompress.decompress(archive.read_bytes())


def test_single_file_keeps_mode_and_mtime(tmp_path: Path) -> None:
    import os

    source = tmp_path / "notes.txt"
    source.write_bytes((CORPUS / "text" / "paper4").read_bytes())
    source.chmod(0o600)
    os.utime(source, (1_500_000_000, 1_500_000_000))
    archive = mmcompress.pack_file(source).output
    assert archive == tmp_path / "notes.txt.mmc"
    source.unlink()
    mmcompress.unpack_file(archive)
    assert source.read_bytes() == (CORPUS / "text" / "paper4").read_bytes()
    assert source.stat().st_mode & 0o777 == 0o600
    assert int(source.stat().st_mtime) == 1_500_000_000


def test_multi_block_stream() -> None:
    import dataclasses

    data = (CORPUS / "text" / "paper4").read_bytes()
    compressor = mmcompress.Compressor(level=2)
    compressor.recipe = dataclasses.replace(compressor.recipe, block_size=1000)
    blob = compressor.compress(data)
    assert compressor.decompress(blob) == data
    assert mmcompress.decompress(blob) == data
