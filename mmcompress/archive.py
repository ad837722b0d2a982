"""Archives of files and folders: walking a tree into entries, and extracting them safely.

Packing walks a folder in sorted order and records directories (empty ones too), regular files
(coded through :mod:`.streams`), symbolic links (stored as links, never followed) and identical
files (stored once, later copies become DUPLICATE entries). Paths are relative, POSIX, UTF-8.

Extraction never trusts the archive: every path is checked before anything is written
(no absolute paths, no ``..``, no empty parts, no duplicates), the tree is built in a temporary
folder and moved into place only after every block and the content hash verified, symbolic links
are created last and only when they stay inside the target, and no special files are ever made.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .container import ContainerReader, ContainerWriter, Entry, EntryType
from .detect import detect
from .errors import CorruptArchive, InputError, UnsafePath
from .levels import LevelRecipe
from .streams import CodecBook, new_content_hash, pack_stream, unpack_stream

_HEAD_BYTES = 4096
_HASH_CHUNK = 1 << 20
PERMISSION_BITS = 0o777

ProgressFn = Callable[[int], None]


@dataclass
class TreeItem:
    """A path found while walking a folder, before it becomes an entry."""

    relpath: str
    path: Path
    kind: EntryType
    st: os.stat_result
    link_target: str = ""


@dataclass
class PackOutcome:
    input_bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def walk_tree(root: Path, warnings: list[str]) -> Iterator[TreeItem]:
    """Everything under ``root`` in a deterministic order (sorted names, parents first)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise InputError(f"cannot read folder {folder}: {exc.strerror}") from None
        subfolders = []
        for name in names:
            path = folder / name
            relpath = path.relative_to(root).as_posix()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                yield TreeItem(relpath, path, EntryType.SYMLINK, st, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                yield TreeItem(relpath, path, EntryType.DIR, st)
                subfolders.append(path)
            elif stat.S_ISREG(st.st_mode):
                yield TreeItem(relpath, path, EntryType.FILE, st)
            else:
                warnings.append(f"skipped {relpath}: not a regular file, folder or link")
        stack.extend(reversed(subfolders))


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.digest()


def _find_duplicates(items: list[TreeItem]) -> dict[int, int]:
    """Map item position -> position of an earlier identical file (same inode or same content)."""
    by_inode: dict[tuple[int, int], int] = {}
    by_size: dict[int, list[int]] = {}
    duplicates: dict[int, int] = {}
    for position, item in enumerate(items):
        if item.kind != EntryType.FILE or item.st.st_size == 0:
            continue
        inode = (item.st.st_dev, item.st.st_ino)
        if inode in by_inode:
            duplicates[position] = by_inode[inode]
            continue
        by_inode[inode] = position
        by_size.setdefault(item.st.st_size, []).append(position)
    for positions in by_size.values():
        if len(positions) < 2:
            continue
        seen: dict[bytes, int] = {}
        for position in positions:
            digest = _file_digest(items[position].path)
            if digest in seen:
                duplicates[position] = seen[digest]
            else:
                seen[digest] = position
    for position, original in list(duplicates.items()):
        while original in duplicates:  # hard link of a duplicate: point at the first copy
            original = duplicates[original]
        duplicates[position] = original
    return duplicates


def _mtime(st: os.stat_result) -> int:
    return st.st_mtime_ns // 1_000_000_000


def pack_file_entry(
    source: BinaryIO,
    writer: ContainerWriter,
    book: CodecBook,
    recipe: LevelRecipe,
    entry: Entry,
    on_progress: ProgressFn | None = None,
) -> Entry:
    """Detect the modality from the first block, then code the whole stream into ``writer``."""
    from .streams import read_full

    first = read_full(source, recipe.block_size)
    entry.modality = int(detect(entry.path, first[:_HEAD_BYTES]))
    return pack_stream(source, writer, book, recipe, entry, first_block=first, on_progress=on_progress)


def pack_tree(
    root: Path,
    writer: ContainerWriter,
    book: CodecBook,
    recipe: LevelRecipe,
    on_progress: ProgressFn | None = None,
) -> PackOutcome:
    """Add every item under ``root`` to ``writer`` (entries and blocks); returns totals/warnings."""
    outcome = PackOutcome()
    items = list(walk_tree(root, outcome.warnings))
    duplicates = _find_duplicates(items)
    entry_number: dict[int, int] = {}
    for position, item in enumerate(items):
        mode = stat.S_IMODE(item.st.st_mode) & PERMISSION_BITS
        entry = Entry(path=item.relpath, type=item.kind, mode=mode, mtime=_mtime(item.st))
        if item.kind == EntryType.SYMLINK:
            entry.link_target = item.link_target
            if not link_stays_inside(item.relpath, item.link_target):
                outcome.warnings.append(f"{item.relpath}: link points outside the folder; unpack will skip it")
        elif position in duplicates:
            entry.type = EntryType.DUPLICATE
            entry.duplicate_of = entry_number[duplicates[position]]
            entry.size = item.st.st_size
            outcome.input_bytes += item.st.st_size
        elif item.kind == EntryType.FILE:
            try:
                with open(item.path, "rb") as source:
                    pack_file_entry(source, writer, book, recipe, entry, on_progress)
            except OSError as exc:
                raise InputError(f"cannot read {item.path}: {exc.strerror}") from None
            if entry.size != os.stat(item.path).st_size:
                raise InputError(f"{item.path} changed while it was being packed")
            outcome.input_bytes += entry.size
        entry_number[position] = writer.add_entry(entry)
    return outcome


# --- extraction -------------------------------------------------------------------------------


def safe_relpath(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside the target, or UnsafePath."""
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise UnsafePath(f"archive entry {name!r} has an absolute path")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePath(f"archive entry {name!r} has an unsafe path ('..', '.' or empty parts)")
    return PurePosixPath(*parts)


def link_stays_inside(relpath: str, target: str) -> bool:
    """Does a link at ``relpath`` pointing to ``target`` resolve inside the extraction root?"""
    if not target or target.startswith("/") or "\x00" in target:
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(relpath), target))
    return not (resolved == ".." or resolved.startswith("../") or resolved.startswith("/"))


def check_entries(entries: list[Entry]) -> None:
    """Refuse archives with unsafe or conflicting paths before anything is written."""
    seen: dict[str, EntryType] = {}
    for entry in entries:
        path = str(safe_relpath(entry.path))
        if path in seen:
            raise UnsafePath(f"archive holds the entry {path!r} twice")
        seen[path] = entry.type
    for path in seen:
        parent = posixpath.dirname(path)
        while parent:
            kind = seen.get(parent)
            if kind is not None and kind != EntryType.DIR:
                raise UnsafePath(f"archive entry {path!r} lies under {parent!r}, which is not a folder")
            parent = posixpath.dirname(parent)


def _restore_times(path: Path, mtime: int, follow: bool = True) -> None:
    nanoseconds = mtime * 1_000_000_000
    try:
        os.utime(path, ns=(nanoseconds, nanoseconds), follow_symlinks=follow)
    except (OSError, NotImplementedError):
        pass


def extract_tree(
    reader: ContainerReader,
    book: CodecBook,
    destination: Path,
    on_progress: ProgressFn | None = None,
) -> list[str]:
    """Write every entry under ``destination`` (an empty folder); returns warnings.

    Raises CorruptArchive / UnsafePath on any problem; the caller discards ``destination`` then.
    """
    entries = reader.entries
    check_entries(entries)
    warnings: list[str] = []
    content_hash = new_content_hash()
    written: dict[int, Path] = {}
    for number, entry in enumerate(entries):
        path = destination / safe_relpath(entry.path)
        if entry.type == EntryType.DIR:
            path.mkdir(parents=True, exist_ok=True)
        elif entry.type == EntryType.FILE:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as sink:
                unpack_stream(reader, entry, book, sink, content_hash, on_progress)
            os.chmod(path, entry.mode & PERMISSION_BITS)
            written[number] = path
        elif entry.type == EntryType.DUPLICATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(written[entry.duplicate_of], path)
            os.chmod(path, entry.mode & PERMISSION_BITS)
            written[number] = path
    if content_hash.digest() != reader.content_sha256:
        raise CorruptArchive("archive content hash does not match (damaged archive)")
    # Links last, so that no file is ever written through one; then times and folder modes.
    for entry in entries:
        if entry.type != EntryType.SYMLINK:
            continue
        if not link_stays_inside(entry.path, entry.link_target):
            warnings.append(f"skipped link {entry.path} -> {entry.link_target}: it leaves the target")
            continue
        path = destination / safe_relpath(entry.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(entry.link_target, path)
        _restore_times(path, entry.mtime, follow=False)
    for entry in entries:
        if entry.type in (EntryType.FILE, EntryType.DUPLICATE):
            _restore_times(destination / safe_relpath(entry.path), entry.mtime)
    for entry in sorted(entries, key=lambda e: e.path.count("/"), reverse=True):
        if entry.type == EntryType.DIR:
            path = destination / safe_relpath(entry.path)
            os.chmod(path, (entry.mode & PERMISSION_BITS) | stat.S_IRWXU)
            _restore_times(path, entry.mtime)
    return warnings


def single_file_entry(reader: ContainerReader) -> Entry:
    """The one file entry of a single-file archive (or CorruptArchive)."""
    entries = reader.entries
    if len(entries) != 1 or entries[0].type != EntryType.FILE:
        raise CorruptArchive("a single-file archive must hold exactly one file entry")
    return entries[0]


def extract_single(
    reader: ContainerReader,
    book: CodecBook,
    sink: BinaryIO,
    on_progress: ProgressFn | None = None,
) -> Entry:
    """Decode a single-file archive into ``sink`` and verify the content hash."""
    entry = single_file_entry(reader)
    content_hash = new_content_hash()
    unpack_stream(reader, entry, book, sink, content_hash, on_progress)
    if content_hash.digest() != reader.content_sha256:
        raise CorruptArchive("archive content hash does not match (damaged archive)")
    return entry
