"""The Python API: compress/decompress bytes, pack/unpack files and folders, list and test.

    blob = mmcompress.compress(data)            data == mmcompress.decompress(blob)
    mmcompress.pack_file("photos/")              -> photos.mmc
    mmcompress.unpack_file("photos.mmc")         -> photos/
    with Compressor(level=7) as c: ...           # models loaded once, reused for many inputs

This layer only composes: levels pick a recipe, :mod:`.archive` walks and extracts trees,
:mod:`.streams` codes byte streams into :mod:`.container` blocks.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from . import __version__
from .archive import (
    extract_single,
    extract_tree,
    pack_file_entry,
    pack_tree,
    single_file_entry,
)
from .atomic import atomic_dir, atomic_file, check_writable_target
from .container import (
    FLAG_TREE,
    BlockKind,
    ContainerReader,
    ContainerWriter,
    Entry,
    EntryType,
    canonical_json,
)
from .detect import Modality, detect
from .errors import InputError, MmcError, UnsupportedFormat
from .levels import DEFAULT_LEVEL, LevelRecipe, recipe
from . import streams
from .streams import CodecBook, encode_stream_block, new_content_hash, read_full

ARCHIVE_SUFFIX = ".mmc"
#: Non-seekable archive input (a pipe) is spooled to memory up to this size, then to disk.
SPOOL_MEMORY_BYTES = 64 << 20


@dataclass
class PackReport:
    output: Path | None
    input_bytes: int
    output_bytes: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.output_bytes / self.input_bytes if self.input_bytes else 1.0


@dataclass
class UnpackReport:
    output: Path | None
    output_bytes: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class ListedEntry:
    path: str
    type: str
    size: int
    packed_size: int
    modality: str
    mode: int
    mtime: int
    link_target: str = ""


@dataclass
class Listing:
    archive: str
    tree: bool
    version: str
    codecs: list[dict[str, Any]]
    entries: list[ListedEntry]
    archive_bytes: int

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def total_packed(self) -> int:
        return sum(e.packed_size for e in self.entries)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(total_size=self.total_size, total_packed=self.total_packed)
        return data


class _Prefixed:
    """A read-only stream that first returns ``prefix``, then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            head = self._prefix if size < 0 else self._prefix[:size]
            self._prefix = self._prefix[len(head) :]
            if size < 0:
                return head + self._stream.read()
            return head
        return self._stream.read(size)


def _modality_name(code: int) -> str:
    try:
        return Modality(code).name.lower()
    except ValueError:
        return f"unknown({code})"


class Compressor:
    """A reusable packer/unpacker: the level's models are built once and kept."""

    def __init__(self, level: int | None = None) -> None:
        self.recipe: LevelRecipe = recipe(level)
        self._book: CodecBook | None = None
        self._decode_books: dict[str, CodecBook] = {}

    def __enter__(self) -> Compressor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._decode_books.clear()

    # --- packing ------------------------------------------------------------------------------

    @property
    def book(self) -> CodecBook:
        if self._book is None:
            self._book = CodecBook.for_recipe(self.recipe)
        return self._book

    def _meta(self, book_used: bool) -> dict[str, Any]:
        if not book_used:
            return {}  # stored/zstd only: nothing to describe (docs/FORMAT.md)
        return {
            "codecs": self.book.configs,
            "coder": streams.CODER_DESCRIPTION,
            "level": self.recipe.level,
            "serializers": [streams.BYTES_SERIALIZER],
        }

    def pack_stream(
        self,
        source: BinaryIO,
        sink: BinaryIO,
        *,
        name: str = "",
        mode: int = 0o644,
        mtime: int = 0,
        modality: Modality | None = None,
    ) -> PackReport:
        """Write a single-file archive of ``source`` to ``sink`` (modality: detected if None)."""
        started = time.perf_counter()
        entry = Entry(path=name or "data", mode=mode, mtime=mtime)
        first = read_full(source, self.recipe.block_size)
        if modality is None:
            modality = detect(entry.path, first[:4096])
        entry.modality = int(modality)
        more = read_full(source, 1)
        if not more:
            # The whole input is one block: code it first, so the header lists only what is used
            # (keeps tiny incompressible files within a few bytes of their size).
            overhead = len(canonical_json(self._meta(True))) - len(canonical_json(self._meta(False)))
            encoded = (
                encode_stream_block(first, self.book, self.recipe, modality, overhead) if first else None
            )
            uses_model = encoded is not None and encoded[0] == BlockKind.MODEL
            writer = ContainerWriter(sink, self._meta(uses_model))
            self._write_entry(writer, io.BytesIO(b""), entry, first, encoded)
        else:
            writer = ContainerWriter(sink, self._meta(True))
            self._write_entry(writer, _Prefixed(more, source), entry, first, None)  # type: ignore[arg-type]
        writer.add_entry(entry)
        total = writer.close()
        return PackReport(None, entry.size, total, time.perf_counter() - started)

    def _write_entry(
        self,
        writer: ContainerWriter,
        rest: BinaryIO,
        entry: Entry,
        first: bytes,
        encoded: tuple[BlockKind, int, bytes] | None,
    ) -> None:
        streams.pack_stream(rest, writer, self.book, self.recipe, entry, first_block=first, encoded_first=encoded)

    def compress(self, data: bytes, *, name: str = "", modality: Modality | None = None) -> bytes:
        sink = io.BytesIO()
        self.pack_stream(io.BytesIO(data), sink, name=name, modality=modality)
        return sink.getvalue()

    def pack_file(self, src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *, force: bool = False) -> PackReport:
        """Pack a file or a folder into ``dst`` (default: ``src`` + ".mmc"), atomically."""
        source = Path(src)
        if not source.exists() and not source.is_symlink():
            raise InputError(f"{source}: no such file or folder")
        target = Path(dst) if dst is not None else source.with_name(source.name + ARCHIVE_SUFFIX)
        if target.resolve() == source.resolve():
            raise InputError(f"{source}: input and output are the same file")
        started = time.perf_counter()
        st = os.stat(source)
        with atomic_file(target, force) as sink:
            if stat.S_ISDIR(st.st_mode):
                writer = ContainerWriter(sink, self._meta(True), flags=FLAG_TREE)
                outcome = pack_tree(source, writer, self.book, self.recipe)
                total = writer.close()
                report = PackReport(target, outcome.input_bytes, total, 0.0, outcome.warnings)
            elif stat.S_ISREG(st.st_mode):
                try:
                    with open(source, "rb") as stream:
                        mode = stat.S_IMODE(st.st_mode) & 0o777
                        report = self.pack_stream(
                            stream, sink, name=source.name, mode=mode, mtime=st.st_mtime_ns // 1_000_000_000
                        )
                except OSError as exc:
                    raise InputError(f"cannot read {source}: {exc.strerror}") from None
                if report.input_bytes != os.stat(source).st_size:
                    raise InputError(f"{source} changed while it was being packed")
            else:
                raise InputError(f"{source}: not a regular file or folder")
        report.output = target
        report.seconds = time.perf_counter() - started
        return report

    # --- unpacking ----------------------------------------------------------------------------

    def _book_for(self, reader: ContainerReader) -> CodecBook:
        key = json.dumps(reader.meta.get("codecs", []), sort_keys=True)
        if key not in self._decode_books:
            self._decode_books[key] = CodecBook.from_meta(reader.meta)
        return self._decode_books[key]

    def decompress(self, blob: bytes) -> bytes:
        reader = ContainerReader(io.BytesIO(blob))
        if reader.flags & FLAG_TREE:
            raise UnsupportedFormat("this is a folder archive: use unpack_file to extract it")
        sink = io.BytesIO()
        extract_single(reader, self._book_for(reader), sink)
        return sink.getvalue()

    def unpack_stream(self, source: BinaryIO, sink: BinaryIO) -> UnpackReport:
        """Decode a single-file archive from ``source`` (a pipe is spooled first) into ``sink``."""
        started = time.perf_counter()
        with _seekable(source) as stream:
            reader = ContainerReader(stream)
            if reader.flags & FLAG_TREE:
                raise UnsupportedFormat("this is a folder archive: it cannot be written to stdout")
            entry = extract_single(reader, self._book_for(reader), sink)
        return UnpackReport(None, entry.size, time.perf_counter() - started)

    def unpack_file(self, src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *, force: bool = False) -> UnpackReport:
        """Extract ``src`` to ``dst`` (default: ``src`` without ".mmc"), atomically."""
        source = Path(src)
        if dst is None:
            if source.suffix != ARCHIVE_SUFFIX:
                raise InputError(f"{source}: unknown suffix (expected {ARCHIVE_SUFFIX}); use -o to name the output")
            target = source.with_suffix("")
        else:
            target = Path(dst)
        started = time.perf_counter()
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror}") from None
        with stream:
            reader = ContainerReader(stream)
            book = self._book_for(reader)
            check_writable_target(target, force)
            if reader.flags & FLAG_TREE:
                with atomic_dir(target, force) as folder:
                    warnings = extract_tree(reader, book, folder)
                size = sum(e.size for e in reader.entries if e.type in (EntryType.FILE, EntryType.DUPLICATE))
                return UnpackReport(target, size, time.perf_counter() - started, warnings)
            entry = single_file_entry(reader)
            with atomic_file(target, force) as sink:
                extract_single(reader, book, sink)
            os.chmod(target, entry.mode & 0o777)
            os.utime(target, ns=(entry.mtime * 1_000_000_000,) * 2)
            return UnpackReport(target, entry.size, time.perf_counter() - started)

    def test_archive(self, src: str | os.PathLike[str]) -> None:
        """Decode everything and check every CRC and the content hash; writes nothing."""
        with open(src, "rb") as stream:
            reader = ContainerReader(stream)
            book = self._book_for(reader)
            content_hash = new_content_hash()
            for entry in reader.entries:
                if entry.type == EntryType.FILE:
                    streams.unpack_stream(reader, entry, book, _NullSink(), content_hash)  # type: ignore[arg-type]
            if content_hash.digest() != reader.content_sha256:
                from .errors import CorruptArchive

                raise CorruptArchive("archive content hash does not match (damaged archive)")

    def list_archive(self, src: str | os.PathLike[str]) -> Listing:
        with open(src, "rb") as stream:
            reader = ContainerReader(stream)
        entries = [
            ListedEntry(
                path=e.path,
                type=e.type.name.lower(),
                size=e.size,
                packed_size=e.packed_size,
                modality=_modality_name(e.modality) if e.type == EntryType.FILE else "",
                mode=e.mode,
                mtime=e.mtime,
                link_target=e.link_target,
            )
            for e in reader.entries
        ]
        return Listing(
            archive=str(src),
            tree=bool(reader.flags & FLAG_TREE),
            version=f"{reader.version[0]}.{reader.version[1]}",
            codecs=list(reader.meta.get("codecs", [])),
            entries=entries,
            archive_bytes=reader.file_size,
        )


class _NullSink(io.RawIOBase):
    """A sink that discards what it is given (for `test`)."""

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


class _seekable:
    """Context manager: the stream itself if seekable, else a spooled copy of it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._spool: Any = None

    def __enter__(self) -> BinaryIO:
        try:
            self._stream.seek(0, 1)
            return self._stream
        except (OSError, AttributeError, io.UnsupportedOperation):
            self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
            shutil.copyfileobj(self._stream, self._spool)
            self._spool.seek(0)
            return self._spool  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        if self._spool is not None:
            self._spool.close()


# --- module-level conveniences -----------------------------------------------------------------

_shared: dict[int, Compressor] = {}


def _compressor(level: int | None) -> Compressor:
    key = recipe(level).level
    if key not in _shared:
        _shared[key] = Compressor(key)
    return _shared[key]


def compress(
    data: bytes, *, level: int | None = None, name: str = "", modality: Modality | None = None
) -> bytes:
    """Compress ``data`` into a single-file archive (bytes); ``name`` helps detection."""
    return _compressor(level).compress(bytes(data), name=name, modality=modality)


def decompress(blob: bytes) -> bytes:
    """Inverse of :func:`compress`."""
    return _compressor(None).decompress(blob)


def pack_file(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *, level: int | None = None, force: bool = False, threads: int = 1, progress: bool = False) -> PackReport:
    del threads, progress  # accepted now; parallel packing and progress bars arrive with issue 7
    return _compressor(level).pack_file(src, dst, force=force)


def pack_stream(source: BinaryIO, sink: BinaryIO, *, name: str = "", level: int | None = None) -> PackReport:
    return _compressor(level).pack_stream(source, sink, name=name)


def unpack_file(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *, force: bool = False, progress: bool = False) -> UnpackReport:
    del progress
    return _compressor(None).unpack_file(src, dst, force=force)


def unpack_stream(source: BinaryIO, sink: BinaryIO) -> UnpackReport:
    return _compressor(None).unpack_stream(source, sink)


def list_archive(src: str | os.PathLike[str]) -> Listing:
    return _compressor(None).list_archive(src)


def test_archive(src: str | os.PathLike[str]) -> None:
    _compressor(None).test_archive(src)


test_archive.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def installed_models() -> list[dict[str, Any]]:
    """Predictors and model files available here (nothing is ever downloaded)."""
    from .models import installed_models as _installed

    return _installed()


__all__ = [
    "ARCHIVE_SUFFIX", "DEFAULT_LEVEL", "Compressor", "Listing", "MmcError", "PackReport",
    "UnpackReport", "compress", "decompress", "installed_models", "list_archive", "pack_file",
    "pack_stream", "test_archive", "unpack_file", "unpack_stream", "__version__",
]
