"""The Python API: compress/decompress bytes, pack/unpack files and folders, list and test.

    blob = mmcompress.compress(data)            data == mmcompress.decompress(blob)
    mmcompress.pack_file("photos/")              -> photos.mmc
    mmcompress.unpack_file("photos.mmc")         -> photos/
    with Compressor(level=7) as c: ...           # models loaded once, reused for many inputs

This layer only composes: levels pick a recipe, :mod:`.archive` walks and extracts trees,
:mod:`.streams` codes byte streams into :mod:`.container` blocks.
"""

from __future__ import annotations

import filecmp
import io
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, cast

from . import __version__, serializers, streams
from . import solid as solid_groups
from .archive import (
    check_entries,
    check_expansion,
    check_free_space,
    check_members_found,
    check_unchanged,
    extract_single,
    extract_tree,
    matching_entries,
    pack_tree,
    select_entries,
    single_file_entry,
    walk_tree,
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
from .detect import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Modality, detect
from .errors import CorruptArchive, InputError, MmcError, UnsafePath, UnsupportedFormat
from .imaging import serializer as raster
from .levels import DEFAULT_LEVEL, LevelRecipe, recipe
from .manifest import SUFFIX as MANIFEST_SUFFIX
from .manifest import check_shard, is_manifest, read_manifest
from .parallel import BlockPool, resolve_workers
from .predictors.hfenv import model_spec
from .progress import progress as progress_bar
from .serializers import PathOptions, Planned, RichPaths
from .streams import (
    CodecBook,
    decoded_blocks,
    encode_stream_block,
    new_content_hash,
    read_full,
)
from .tags import block_tag

ARCHIVE_SUFFIX = ".mmc"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Images and videos up to this size are packed both ways (rich path, byte path) and the smaller
#: is kept (both are byte-exact).
SMALL_IMAGE_BYTES = 256 << 10
#: Read size when a video from a pipe is spooled to a temporary file.
_SPOOL_CHUNK_BYTES = 1 << 20
#: The stored path of the one entry of a single-file archive (the real name is the archive's).
SINGLE_ENTRY_PATH = "-"


def _single_entry_name(archive: Path) -> str:
    return (
        archive.name[: -len(ARCHIVE_SUFFIX)]
        if archive.name.endswith(ARCHIVE_SUFFIX)
        else archive.name
    )


#: Non-seekable archive input (a pipe) is spooled to memory up to this size, then to disk.
SPOOL_MEMORY_BYTES = 64 << 20


@dataclass
class PackReport:
    output: Path | None
    input_bytes: int
    output_bytes: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    #: Files packed (a folder's files and duplicates; 1 for a single file or stream).
    files: int = 1
    #: Whether the archive was decoded and compared with the input before it got its name.
    verified: bool = False

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
    #: How a file was coded: "bytes" (byte path), "pixels" (pixel path, byte-exact: the same
    #: file comes back), "pixels-png" (``--pixels``: same pixels and metadata, re-encoded PNG),
    #: "frames" (frame path, byte-exact), "frames-mkv" (``--frames``: the same decoded frames,
    #: written as FFV1 Matroska).
    path_taken: str = ""


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


class _Reading:
    """A read-only stream whose read errors become InputError (write errors stay OSError)."""

    def __init__(self, stream: BinaryIO, path: Path) -> None:
        self._stream = stream
        self._path = path

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except OSError as exc:
            raise InputError(f"cannot read {self._path}: {exc.strerror}") from None

    def seekable(self) -> bool:  # (video is planned from the open file: seek and tell pass on)
        return self._stream.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


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


def _file_position(source: BinaryIO) -> int | None:
    """Where a seekable input stands now (raw video is then planned from the file), else None."""
    try:
        return source.tell() if source.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _size_from(source: BinaryIO, start: int) -> int:
    """The bytes of a seekable ``source`` from ``start`` to its end (its position is kept)."""
    here = source.tell()
    end = source.seek(0, os.SEEK_END)
    source.seek(here)
    return end - start


def _modality_name(code: int) -> str:
    try:
        return Modality(code).name.lower()
    except ValueError:
        return f"unknown({code})"


def _may_hold(root: Path, relpaths: list[str] | None, frames: bool) -> tuple[bool, bool]:
    """Whether a folder (or the listed items) has files named like raster images, and like
    videos (coded ones count only under ``frames``)."""
    if relpaths is not None:
        names: Any = relpaths
    else:
        names = (name for _, _, files in os.walk(root) for name in files)
    images = video = False
    for name in names:
        suffix = os.path.splitext(name)[1].lower()
        images = images or suffix in IMAGE_SUFFIXES
        video = video or suffix == ".y4m" or (frames and suffix in VIDEO_SUFFIXES)
        if images and video:
            break
    return images, video


def _path_taken(meta: dict[str, Any], entry: Entry) -> str:
    return serializers.path_name(
        meta.get("serializers", [streams.BYTES_SERIALIZER]), entry.serializer
    )


class Compressor:
    """A reusable packer/unpacker: the level's models are built once and kept."""

    def __init__(
        self,
        level: int | None = None,
        *,
        pixels: bool = False,
        frames: bool = False,
        model: str | dict[str, Any] | None = None,
        solid: bool = True,
    ) -> None:
        """``solid``: a folder's small files of one kind share a stream (models carry over from
        file to file; docs/FORMAT.md "Solid groups"); False packs every file alone. ``pixels``: images keep their pixels and metadata but are re-encoded as PNG on unpack
        (the ``--pixels`` promise) instead of coming back byte for byte. ``frames``: coded
        videos (FFV1, lossless x264... in Matroska/AVI/MP4) keep their decoded frames and are
        written as FFV1 Matroska on unpack (the ``--frames`` promise). ``model``: a local
        Hugging Face LLM ("hf:PATH", or :func:`.predictors.hfenv.model_spec`'s dict) codes the
        byte blocks instead of the level's predictor (docs/LLM.md); blocks are coded in this
        process only (one model in memory)."""
        self.recipe: LevelRecipe = recipe(level)
        self.model = None if model is None else model_spec(model)
        if self.model is not None:
            self.recipe = replace(self.recipe, predictor=self.model)
        self.pixels = pixels
        self.frames = frames
        #: Folder files up to this size are packed in solid groups (0: every file on its own).
        self.solid_max_bytes = solid_groups.MAX_FILE_BYTES if solid else 0
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

    def _meta(self, book_used: bool, images: bool = False, video: bool = False) -> dict[str, Any]:
        """The archive header's metadata; ``images`` / ``video``: the serializers and codecs of
        the pixel and frame paths are listed (only archives that may hold such entries pay for
        their description)."""
        if not book_used:
            return {}  # stored/zstd only: nothing to describe (docs/FORMAT.md)
        video = video and self.book.frames_codec is not None
        images = (images or video) and self.book.pixel_codec is not None
        codecs = self.book.listed_configs(images, video)
        return {
            "codecs": codecs,
            "coder": streams.CODER_DESCRIPTION,
            "level": self.recipe.level,
            "serializers": serializers.listed(images, video),
        }

    def _rich(self, raw_video: tuple[tuple[int, int], str] | None = None) -> RichPaths:
        """What this packer's level and options allow beyond the byte path."""
        options = PathOptions(pixels=self.pixels, frames=self.frames, raw_video=raw_video)
        book = self.book
        return RichPaths(options, book.pixel_codec is not None, book.frames_codec is not None)

    def _pack_planned(self, planned: Planned, sink: BinaryIO, entry: Entry, threads: int) -> int:
        """Write a single-file archive of a file that takes a rich path; its length."""
        entry.serializer, entry.size = planned.serializer, planned.size
        entry.modality = int(planned.modality)
        video = planned.modality == Modality.VIDEO
        writer = ContainerWriter(sink, self._meta(True, images=True, video=video))
        blocks = (
            (raw, entry.modality if role < 0 else role)
            for raw, role in planned.cut(self.recipe.block_size)
        )
        with BlockPool(self.book, self.recipe, resolve_workers(threads)) as pool:
            streams.pack_blocks(
                writer,
                self.book,
                self.recipe,
                entry,
                blocks,
                encode_many=pool.encode_roles if pool.workers > 1 else None,
            )
        writer.add_entry(entry)
        return writer.close()

    def pack_stream(
        self,
        source: BinaryIO,
        sink: BinaryIO,
        *,
        name: str = "",
        mode: int = 0o644,
        mtime: int = 0,
        modality: Modality | None = None,
        threads: int = 1,
        pixel_path: bool = True,
        raw_video: tuple[tuple[int, int], str] | None = None,
    ) -> PackReport:
        """Write a single-file archive of ``source`` to ``sink`` (modality: detected if None).

        An input of several blocks is coded by ``threads`` worker processes (same bytes).
        ``pixel_path``: an image or video may take its pixel or frame path (False: the byte
        path only). ``raw_video``: ((width, height), pixel format) of a raw YUV input."""
        started = time.perf_counter()
        threads = 1 if self.model is not None else threads
        # The name only guides detection: unpack names the output after the archive, so a
        # single-file archive stores none (saves its length on every small file).
        entry = Entry(path=SINGLE_ENTRY_PATH, mode=mode, mtime=mtime)
        start = _file_position(source)
        first = read_full(source, self.recipe.block_size)
        if modality is None:
            modality = detect(name, first[:4096])
        entry.modality = int(modality)
        tag = block_tag(name, modality, first[:4096])
        warnings: list[str] = []
        rich = self._rich(raw_video)
        if pixel_path and rich.wants(modality):
            if start is None and serializers.streams_from_file(len(first), modality, rich.options):
                # A video from a pipe: spooled to a temporary file, then planned from it.
                with tempfile.TemporaryFile() as spool:
                    spool.write(first)
                    shutil.copyfileobj(cast(Any, source), spool, _SPOOL_CHUNK_BYTES)
                    spool.seek(0)
                    return self.pack_stream(
                        cast(BinaryIO, spool), sink, name=name, mode=mode, mtime=mtime,
                        modality=modality, threads=threads, raw_video=raw_video,
                    )  # fmt: skip
            size = _size_from(source, start) if start is not None else 0
            streamed = serializers.streams_from_file(size, modality, rich.options)
            if streamed:  # video: planned from the file, its frames read a block at a time
                assert start is not None
                source.seek(start)
                planned = rich.plan(source, modality)
                source.seek(start + len(first))
                tail = b""
            else:
                limit = serializers.max_file_bytes(modality)
                tail = read_full(source, limit)
                planned = rich.plan(first + tail, modality) if len(tail) < limit else "too large"
            if isinstance(planned, Planned) and streamed:
                warnings += planned.warnings
                total = self._pack_planned(planned, sink, entry, threads)
                return PackReport(None, size, total, time.perf_counter() - started, warnings)
            if isinstance(planned, Planned):
                read = len(first) + len(tail)  # the input's size (the entry's may differ)
                warnings += planned.warnings
                promise_kept_bytes = planned.serializer in (
                    serializers.RASTER_EXACT, serializers.FRAMES_EXACT)  # fmt: skip
                if not promise_kept_bytes or read > SMALL_IMAGE_BYTES:
                    total = self._pack_planned(planned, sink, entry, threads)
                    return PackReport(None, read, total, time.perf_counter() - started, warnings)
                # A small file: the rich path's header (codec descriptions, side information)
                # may cost more than it saves; both paths are byte-exact, keep the smaller.
                rich_form, plain = io.BytesIO(), io.BytesIO()
                self._pack_planned(planned, rich_form, entry, 1)
                self.pack_stream(
                    io.BytesIO(first + tail), plain, name=name, mode=mode, mtime=mtime,
                    modality=modality, pixel_path=False,
                )  # fmt: skip
                best = min(rich_form, plain, key=lambda archive: len(archive.getvalue()))
                sink.write(best.getvalue())
                return PackReport(None, read, len(best.getvalue()), time.perf_counter() - started)
            source = cast(BinaryIO, _Prefixed(tail, source))
            if modality == Modality.IMAGE and not self.pixels and first.startswith(PNG_SIGNATURE):
                warnings.append(
                    "its PNG stream cannot be rebuilt byte for byte, so it was kept as bytes; "
                    "--pixels codes its pixels (unpack then writes a new PNG)"
                )
            if self.frames and modality == Modality.COMPRESSED:
                warnings.append(f"--frames: kept as bytes: {planned}")
            if raw_video is not None:
                (width, height), pix_fmt = raw_video
                raise InputError(f"{name or 'input'}: not {width}x{height} {pix_fmt}: {planned}")
        more = read_full(source, 1)
        if not more:
            # The whole input is one block: code it first, so the header lists only what is used
            # (keeps tiny incompressible files within a few bytes of their size).
            overhead = len(canonical_json(self._meta(True))) - len(
                canonical_json(self._meta(False))
            )
            encoded = (
                encode_stream_block(first, self.book, self.recipe, modality, tag, overhead)
                if first
                else None
            )
            uses_model = encoded is not None and encoded[0] == BlockKind.MODEL
            writer = ContainerWriter(sink, self._meta(uses_model))
            streams.pack_stream(
                io.BytesIO(b""),
                writer,
                self.book,
                self.recipe,
                entry,
                first_block=first,
                encoded_first=encoded,
                tag=tag,
            )
        else:
            writer = ContainerWriter(sink, self._meta(True))
            rest = cast(BinaryIO, _Prefixed(more, source))
            with BlockPool(self.book, self.recipe, resolve_workers(threads)) as pool:
                streams.pack_stream(
                    rest,
                    writer,
                    self.book,
                    self.recipe,
                    entry,
                    first_block=first,
                    encode_many=pool.encode_stream if pool.workers > 1 else None,
                    tag=tag,
                )
        writer.add_entry(entry)
        total = writer.close()
        return PackReport(None, entry.size, total, time.perf_counter() - started, warnings)

    def compress(self, data: bytes, *, name: str = "", modality: Modality | None = None) -> bytes:
        sink = io.BytesIO()
        self.pack_stream(io.BytesIO(data), sink, name=name, modality=modality)
        return sink.getvalue()

    def pack_file(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str] | None = None,
        *,
        force: bool = False,
        threads: int = 1,
        progress: bool = False,
        verify: bool = False,
        raw_video: tuple[tuple[int, int], str] | None = None,
    ) -> PackReport:
        """Pack a file or a folder into ``dst`` (default: ``src`` + ".mmc"), atomically.

        ``threads`` worker processes code a folder's blocks (0: one per core); the archive is
        the same for any count. A file that changes while it is read fails the pack. With
        ``verify`` the finished archive is decoded and compared with ``src`` before it is given
        its name (what ``pack --rm`` relies on before removing anything). ``raw_video``:
        ((width, height), pixel format) of a raw YUV file (not for folders).
        """
        source = Path(src)
        threads = 1 if self.model is not None else threads
        if not source.exists() and not source.is_symlink():
            raise InputError(f"{source}: no such file or folder")
        target = Path(dst) if dst is not None else source.with_name(source.name + ARCHIVE_SUFFIX)
        if target.resolve() == source.resolve():
            raise InputError(f"{source}: input and output are the same file")
        started = time.perf_counter()
        st = os.stat(source)
        check = (lambda temp: self.verify_archive(temp, source)) if verify else None
        with atomic_file(target, force, check) as sink:
            if stat.S_ISDIR(st.st_mode):
                if raw_video is not None:
                    raise InputError(
                        f"{source}: raw video geometry applies to a file, not a folder"
                    )
                report = self._pack_tree(sink, source, None, threads, progress)
            elif stat.S_ISREG(st.st_mode):
                try:
                    stream = open(source, "rb")
                except OSError as exc:
                    raise InputError(f"cannot read {source}: {exc.strerror}") from None
                with stream:
                    mode = stat.S_IMODE(st.st_mode) & 0o777
                    report = self.pack_stream(
                        cast(BinaryIO, _Reading(stream, source)),
                        sink,
                        name=source.name,
                        mode=mode,
                        mtime=st.st_mtime_ns // 1_000_000_000,
                        threads=threads,
                        raw_video=raw_video,
                    )
                    after = os.fstat(stream.fileno())
                check_unchanged(source, st, after, report.input_bytes)
            else:
                raise InputError(f"{source}: not a regular file or folder")
        report.output = target
        report.seconds = time.perf_counter() - started
        report.verified = verify
        return report

    def pack_paths(
        self,
        root: str | os.PathLike[str],
        relpaths: list[str],
        dst: str | os.PathLike[str],
        *,
        force: bool = False,
        threads: int = 1,
    ) -> PackReport:
        """Pack the items ``relpaths`` under ``root`` (in that order; a folder is an entry, not
        its contents) into the folder archive ``dst``, atomically. One shard of a dataset."""
        started = time.perf_counter()
        target = Path(dst)
        with atomic_file(target, force) as sink:
            report = self._pack_tree(sink, Path(root), relpaths, threads, False)
        report.output = target
        report.seconds = time.perf_counter() - started
        return report

    def _pack_tree(
        self, sink: BinaryIO, root: Path, relpaths: list[str] | None, threads: int, progress: bool
    ) -> PackReport:
        images, video = _may_hold(root, relpaths, self.frames)
        rich = self._rich() if images or video else None
        writer = ContainerWriter(sink, self._meta(True, images, video), flags=FLAG_TREE)
        outcome = pack_tree(
            root,
            writer,
            self.book,
            self.recipe,
            relpaths=relpaths,
            workers=resolve_workers(threads),
            show_progress=progress,
            rich=rich,
            solid_max_bytes=self.solid_max_bytes,
        )
        total = writer.close()
        return PackReport(None, outcome.input_bytes, total, 0.0, outcome.warnings, outcome.files)

    def verify_archive(
        self, archive: str | os.PathLike[str], original: str | os.PathLike[str]
    ) -> None:
        """Decode ``archive`` completely and compare it with ``original`` (a file or folder).

        Raises CorruptArchive on any difference, a missing or extra file, or a damaged archive;
        writes nothing.
        """
        original = Path(original)
        with open(archive, "rb") as stream:
            reader = ContainerReader(stream)
            book = self._book_for(reader)
            content_hash = new_content_hash()
            tree = bool(reader.flags & FLAG_TREE)
            if tree:
                _same_paths(original, reader.entries)
            else:
                single_file_entry(reader)
            files: list[int] = []
            for number, entry in enumerate(reader.entries):
                path = original / entry.path if tree else original
                if entry.type == EntryType.FILE:
                    files.append(number)
                elif entry.type == EntryType.DUPLICATE:  # same bytes as its (verified) original
                    _same_content(path, original / reader.entries[entry.duplicate_of].path)
                elif entry.type == EntryType.DIR and not (path.is_dir() and not path.is_symlink()):
                    raise CorruptArchive(f"archive does not match {path}: not a folder")
                elif entry.type == EntryType.SYMLINK and (
                    not path.is_symlink() or os.readlink(path) != entry.link_target
                ):
                    raise CorruptArchive(f"archive does not match {path}: link differs")

            def comparing(number: int) -> BinaryIO:
                path = original / reader.entries[number].path if tree else original
                taken = _path_taken(reader.meta, reader.entries[number])
                if taken == "pixels-png":
                    return _SameContent(path, raster.check_same_pixels)  # type: ignore[return-value]
                if taken == "frames-mkv":
                    return _SameFrames(path)  # type: ignore[return-value]
                return _Comparing(path)  # type: ignore[return-value]

            solid_groups.decode_files(reader, book, files, comparing, content_hash)
            if content_hash.digest() != reader.content_sha256:
                raise CorruptArchive("archive content hash does not match (damaged archive)")

    # --- unpacking ----------------------------------------------------------------------------

    def _book_for(self, reader: ContainerReader) -> CodecBook:
        key = json.dumps(reader.meta.get("codecs", []), sort_keys=True)
        if key not in self._decode_books:
            self._decode_books[key] = CodecBook.from_meta(reader.meta)
        return self._decode_books[key]

    def decompress(self, blob: bytes, *, allow_large: bool = False) -> bytes:
        reader = ContainerReader(io.BytesIO(blob))
        if reader.flags & FLAG_TREE:
            raise UnsupportedFormat("this is a folder archive: use unpack_file to extract it")
        check_expansion(reader, allow_large)
        sink = io.BytesIO()
        extract_single(reader, self._book_for(reader), sink)
        return sink.getvalue()

    def entry_blocks(self, blob: bytes) -> tuple[dict[str, Any], Iterator[bytes]]:
        """The serializer of a single-file archive's entry and its decoded raw blocks, decoded
        as they are consumed (the content hash is checked after the last one)."""
        reader = ContainerReader(io.BytesIO(blob))
        if reader.flags & FLAG_TREE:
            raise UnsupportedFormat("this is a folder archive: use unpack_file to extract it")
        entry = single_file_entry(reader)
        book = self._book_for(reader)
        if entry.serializer >= len(book.serializers):
            raise CorruptArchive(f"entry {entry.path!r} names a serializer the archive lacks")

        def blocks() -> Iterator[bytes]:
            content_hash = new_content_hash()
            yield from decoded_blocks(reader, entry, book, content_hash)
            if content_hash.digest() != reader.content_sha256:
                raise CorruptArchive("archive content hash does not match (damaged archive)")

        return book.serializers[entry.serializer], blocks()

    def unpack_stream(
        self, source: BinaryIO, sink: BinaryIO, *, allow_large: bool = False
    ) -> UnpackReport:
        """Decode a single-file archive from ``source`` (a pipe is spooled first) into ``sink``."""
        started = time.perf_counter()
        with _seekable(source) as stream:
            reader = ContainerReader(stream)
            if reader.flags & FLAG_TREE:
                raise UnsupportedFormat("this is a folder archive: it cannot be written to stdout")
            check_expansion(reader, allow_large)
            entry = extract_single(reader, self._book_for(reader), sink)
        return UnpackReport(None, entry.size, time.perf_counter() - started)

    def unpack_file(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str] | None = None,
        *,
        force: bool = False,
        members: list[str] | None = None,
        allow_large: bool = False,
        progress: bool = False,
    ) -> UnpackReport:
        """Extract ``src`` to ``dst`` (default: ``src`` without ".mmc"), atomically.

        ``members`` limits a folder archive's extraction to those paths (a folder brings what is
        under it); only their blocks are read. A declared output beyond the expansion limit
        (:func:`.archive.check_expansion`) is refused unless ``allow_large``, and one beyond the
        target's free space always is, before anything is written.
        """
        source = Path(src)
        if dst is None:
            if source.suffix not in (ARCHIVE_SUFFIX, MANIFEST_SUFFIX):
                raise InputError(
                    f"{source}: unknown suffix (expected {ARCHIVE_SUFFIX}); use -o to name the output"
                )
            target = source.with_suffix("")
        else:
            target = Path(dst)
        if is_manifest(source):
            return self._unpack_dataset(source, target, force, members, allow_large, progress)
        started = time.perf_counter()
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror}") from None
        with stream:
            reader = ContainerReader(stream)
            tree = bool(reader.flags & FLAG_TREE)
            if tree:
                selected = None if members is None else select_entries(reader.entries, members)
            else:
                entry = single_file_entry(reader)
                if members is not None:
                    select_entries(reader.entries, members)  # the one entry, or InputError
                selected = None
            size = check_expansion(reader, allow_large, selected)
            book = self._book_for(reader)
            check_writable_target(target, force)
            check_free_space(target.absolute().parent, size, target)
            with progress_bar(total=size, desc=source.name, disable=not progress) as bar:
                if tree:
                    with atomic_dir(target, force) as folder:
                        warnings = extract_tree(reader, book, folder, bar.update, selected)
                    return UnpackReport(target, size, time.perf_counter() - started, warnings)
                with atomic_file(target, force) as sink:
                    extract_single(reader, book, sink, bar.update)
            os.chmod(target, entry.mode & 0o777)
            os.utime(target, ns=(entry.mtime * 1_000_000_000,) * 2)
            return UnpackReport(target, entry.size, time.perf_counter() - started)

    def _unpack_dataset(
        self,
        source: Path,
        target: Path,
        force: bool,
        members: list[str] | None,
        allow_large: bool,
        progress: bool,
    ) -> UnpackReport:
        """Extract every shard of a ``.mmcset`` manifest into one folder, atomically."""
        started = time.perf_counter()
        manifest = read_manifest(source)
        union: dict[str, Entry] = {}  # every path once (folders may repeat across shards)
        plan: list[tuple[Path, set[int] | None]] = []
        found: set[str] = set()
        size = 0
        for shard in manifest.shards:
            path = check_shard(manifest, shard)
            with open(path, "rb") as stream:
                reader = ContainerReader(stream)
            if not reader.flags & FLAG_TREE:
                raise CorruptArchive(f"shard {path} is not a folder archive")
            for entry in reader.entries:
                if entry.path in union and entry.type == union[entry.path].type == EntryType.DIR:
                    continue
                if entry.path in union:
                    raise UnsafePath(f"entry {entry.path!r} appears in two shards")
                union[entry.path] = entry
            selected = None
            if members is not None:
                selected, named = matching_entries(reader.entries, members)
                found |= named
            size += check_expansion(reader, allow_large, selected)
            plan.append((path, selected))
        check_entries(list(union.values()))  # nothing under another shard's link or file
        if members is not None:
            check_members_found(members, found)
        check_writable_target(target, force)
        check_free_space(target.absolute().parent, size, target)
        warnings: list[str] = []
        with progress_bar(total=size, desc=source.name, disable=not progress) as bar:
            with atomic_dir(target, force) as folder:
                for path, selected in plan:
                    if selected is not None and not selected:
                        continue
                    with open(path, "rb") as stream:
                        reader = ContainerReader(stream)
                        book = self._book_for(reader)
                        warnings += extract_tree(reader, book, folder, bar.update, selected)
        return UnpackReport(target, size, time.perf_counter() - started, warnings)

    def test_archive(self, src: str | os.PathLike[str], *, allow_large: bool = False) -> None:
        """Decode everything and check every CRC and the content hash; writes nothing."""
        if is_manifest(src):
            manifest = read_manifest(src)
            for shard in manifest.shards:
                self.test_archive(check_shard(manifest, shard), allow_large=allow_large)
            return
        with open(src, "rb") as stream:
            reader = ContainerReader(stream)
            check_expansion(reader, allow_large)
            book = self._book_for(reader)
            content_hash = new_content_hash()
            files = [n for n, e in enumerate(reader.entries) if e.type == EntryType.FILE]
            solid_groups.decode_files(reader, book, files, lambda _: _NullSink(), content_hash)  # type: ignore[arg-type,return-value]
            if content_hash.digest() != reader.content_sha256:
                raise CorruptArchive("archive content hash does not match (damaged archive)")

    def list_archive(self, src: str | os.PathLike[str]) -> Listing:
        if is_manifest(src):
            return self._list_dataset(Path(src))
        with open(src, "rb") as stream:
            reader = ContainerReader(stream)
        tree = bool(reader.flags & FLAG_TREE)
        entries = [
            ListedEntry(
                path=_single_entry_name(Path(src))
                if not tree and e.path == SINGLE_ENTRY_PATH
                else e.path,
                type=e.type.name.lower(),
                size=e.size,
                packed_size=_packed_share(reader, e),
                modality=_modality_name(e.modality) if e.type == EntryType.FILE else "",
                mode=e.mode,
                mtime=e.mtime,
                link_target=e.link_target,
                path_taken=_path_taken(reader.meta, e) if e.type == EntryType.FILE else "",
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

    def _list_dataset(self, source: Path) -> Listing:
        """A manifest's shards listed as one archive (sizes and hashes of the shards checked)."""
        manifest = read_manifest(source)
        entries: list[ListedEntry] = []
        codecs: list[dict[str, Any]] = []
        archive_bytes = 0
        for shard in manifest.shards:
            listing = self.list_archive(check_shard(manifest, shard))
            entries += listing.entries
            codecs += [codec for codec in listing.codecs if codec not in codecs]
            archive_bytes += listing.archive_bytes
        return Listing(
            str(source),
            True,
            f"mmcset {len(manifest.shards)} shards",
            codecs,
            entries,
            archive_bytes,
        )


def _packed_share(reader: ContainerReader, entry: Entry) -> int:
    """The archive bytes an entry's data takes; a file in a solid group gets the share of the
    group's blocks its size is of the group's (rounded down)."""
    if not entry.grouped:
        return entry.packed_size
    group = reader.groups[entry.group]
    return group.packed_size * entry.size // group.size


def _same_paths(root: Path, entries: list[Entry]) -> None:
    """InputError unless the folder holds exactly the archive's paths (nothing skipped or new)."""
    skipped: list[str] = []
    on_disk = {item.relpath for item in walk_tree(root, skipped)}
    archived = {entry.path for entry in entries}
    extra = sorted(on_disk - archived)
    if skipped or extra:
        what = skipped[0] if skipped else f"{extra[0]} is not in the archive"
        raise InputError(f"{root} differs from its archive ({what})")
    missing = sorted(archived - on_disk)
    if missing:
        raise CorruptArchive(f"archive does not match {root}: {missing[0]} is missing")


def _same_content(path: Path, twin: Path) -> None:
    try:
        same = not path.is_symlink() and filecmp.cmp(path, twin, shallow=False)
    except OSError:
        same = False
    if not same:
        raise CorruptArchive(f"archive does not match {path}")


class _Comparing(io.RawIOBase):
    """A sink that checks what it is given against a file on disk, byte for byte."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        try:
            self._original: BinaryIO = open(path, "rb")
        except OSError as exc:
            raise CorruptArchive(f"archive does not match {path}: {exc.strerror}") from None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if read_full(self._original, len(data)) != data:
            raise CorruptArchive(f"archive does not match {self._path}")
        return len(data)

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None and self._original.read(1):
                raise CorruptArchive(f"archive does not match {self._path}: the file is longer")
        finally:
            self._original.close()
            self.close()


class _SameContent(io.BytesIO):
    """A sink for entries whose promise is weaker than bytes (``--pixels``, ``--frames``): what
    it is given must pass ``check(original, rebuilt)`` (same pixels, same decoded frames)."""

    def __init__(self, path: Path, check: Callable[[Path, bytes], None]) -> None:
        super().__init__()
        self._path = path
        self._check = check

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._check(self._path, self.getvalue())
        finally:
            self.close()


class _SameFrames(io.RawIOBase):
    """A sink for a ``--frames`` entry: the rebuilt FFV1 file goes to a temporary file, which
    must decode to the same frames as the original (checked on exit, a frame at a time)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._spool = tempfile.TemporaryFile()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self._spool.write(data)

    def __exit__(self, *exc: object) -> None:
        from .videoio import serializer as frames  # PyAV: only when a --frames entry is checked

        try:
            if exc[0] is None:
                self._spool.seek(0)
                frames.check_same_frames(self._path, self._spool)
        finally:
            self._spool.close()
            self.close()


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

_shared: dict[tuple[int, bool, bool, str, bool], Compressor] = {}


def _compressor(
    level: int | None,
    pixels: bool = False,
    model: str | dict[str, Any] | None = None,
    solid: bool = True,
    frames: bool = False,
) -> Compressor:
    key = (recipe(level).level, pixels, frames, json.dumps(model, sort_keys=True), solid)
    if key not in _shared:
        _shared[key] = Compressor(key[0], pixels=pixels, frames=frames, model=model, solid=solid)
    return _shared[key]


def compress(
    data: bytes,
    *,
    level: int | None = None,
    name: str = "",
    modality: Modality | None = None,
    pixels: bool = False,
    frames: bool = False,
    model: str | dict[str, Any] | None = None,
) -> bytes:
    """Compress ``data`` into a single-file archive (bytes); ``name`` helps detection;
    ``pixels``: an image keeps its pixels and metadata, not its bytes; ``frames``: a coded video
    keeps its decoded frames (FFV1 Matroska on unpack); ``model``: a local LLM ("hf:PATH", or
    "hf-int:PATH" for a GPT-2 run in integers)
    codes it (docs/LLM.md)."""
    return _compressor(level, pixels, model, frames=frames).compress(
        bytes(data), name=name, modality=modality
    )


def decompress(blob: bytes) -> bytes:
    """Inverse of :func:`compress`."""
    return _compressor(None).decompress(blob)


def compress_stream(
    source: BinaryIO,
    *,
    level: int | None = None,
    name: str = "",
    modality: Modality | None = None,
    frames: bool = False,
) -> bytes:
    """:func:`compress` of what ``source`` holds; from a seekable file a video is planned and read
    a block of frames at a time (memory does not grow with it)."""
    sink = io.BytesIO()
    _compressor(level, frames=frames).pack_stream(source, sink, name=name, modality=modality)
    return sink.getvalue()


def entry_blocks(blob: bytes) -> tuple[dict[str, Any], Iterator[bytes]]:
    """The serializer of a single-file archive's entry and its raw blocks, decoded as they are
    consumed (:meth:`Compressor.entry_blocks`)."""
    return _compressor(None).entry_blocks(blob)


def pack_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    level: int | None = None,
    force: bool = False,
    threads: int = 1,
    progress: bool = False,
    verify: bool = False,
    pixels: bool = False,
    model: str | dict[str, Any] | None = None,
    solid: bool = True,
    frames: bool = False,
    raw_video: tuple[tuple[int, int], str] | None = None,
) -> PackReport:
    """Pack a file or folder (see :meth:`Compressor.pack_file`); ``pixels``: images keep their
    pixels and metadata, not their bytes (PNG on unpack); ``frames``: coded videos keep their
    decoded frames (FFV1 Matroska on unpack); ``raw_video``: ((width, height), pixel format)
    of a raw YUV file; ``model``: a local LLM ("hf:PATH", or "hf-int:PATH" for a GPT-2 run in
    integers); ``solid``: small files of a folder share streams (False: each file alone)."""
    return _compressor(level, pixels, model, solid, frames).pack_file(
        src,
        dst,
        force=force,
        threads=threads,
        progress=progress,
        verify=verify,
        raw_video=raw_video,
    )


def verify_archive(archive: str | os.PathLike[str], original: str | os.PathLike[str]) -> None:
    """Decode ``archive`` and compare it with ``original``; CorruptArchive on any difference."""
    _compressor(None).verify_archive(archive, original)


def pack_stream(
    source: BinaryIO,
    sink: BinaryIO,
    *,
    name: str = "",
    level: int | None = None,
    pixels: bool = False,
    model: str | dict[str, Any] | None = None,
    frames: bool = False,
    raw_video: tuple[tuple[int, int], str] | None = None,
) -> PackReport:
    return _compressor(level, pixels, model, frames=frames).pack_stream(
        source, sink, name=name, raw_video=raw_video
    )


def unpack_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    progress: bool = False,
    members: list[str] | None = None,
    allow_large: bool = False,
) -> UnpackReport:
    return _compressor(None).unpack_file(
        src, dst, force=force, members=members, allow_large=allow_large, progress=progress
    )


def unpack_stream(source: BinaryIO, sink: BinaryIO, *, allow_large: bool = False) -> UnpackReport:
    return _compressor(None).unpack_stream(source, sink, allow_large=allow_large)


def list_archive(src: str | os.PathLike[str]) -> Listing:
    return _compressor(None).list_archive(src)


def test_archive(src: str | os.PathLike[str], *, allow_large: bool = False) -> None:
    _compressor(None).test_archive(src, allow_large=allow_large)


test_archive.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def installed_models() -> list[dict[str, Any]]:
    """Predictors and model files available here (nothing is ever downloaded)."""
    from .models import installed_models as _installed

    return _installed()


__all__ = [
    "ARCHIVE_SUFFIX",
    "DEFAULT_LEVEL",
    "Compressor",
    "Listing",
    "MmcError",
    "PackReport",
    "UnpackReport",
    "compress",
    "compress_stream",
    "decompress",
    "entry_blocks",
    "installed_models",
    "list_archive",
    "pack_file",
    "pack_stream",
    "test_archive",
    "unpack_file",
    "unpack_stream",
    "verify_archive",
    "__version__",
]
