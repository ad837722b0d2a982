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

import errno
import hashlib
import itertools
import os
import posixpath
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

from . import parallel, solid
from .container import ContainerReader, ContainerWriter, Entry, EntryType, Group
from .detect import detect
from .errors import CorruptArchive, InputError, LimitExceeded, UnsafePath
from .levels import LevelRecipe
from .progress import Progress, progress
from .serializers import Planned, RichPaths, max_file_bytes, streams_from_file
from .streams import CodecBook, new_content_hash, read_full, unpack_stream
from .tags import block_tag

_HEAD_BYTES = 4096
_HASH_CHUNK = 1 << 20
PERMISSION_BITS = 0o777

#: Deepest folder nesting packed or extracted (the format allows 4096-byte paths, ~2000 levels,
#: which no real tree needs and which break tools that recurse).
MAX_PATH_DEPTH = 256
#: Any archive may expand to this many bytes; beyond it, at most MAX_EXPANSION_RATIO times its
#: own size (a real bomb: 64 MiB zstd blocks of zeros, or a million duplicates of one big file).
FREE_EXPANSION_BYTES = 1 << 30
MAX_EXPANSION_RATIO = 1000
#: Files at least this big get a progress bar of their own (beside the overall one).
FILE_BAR_BYTES = 4 << 20

ProgressFn = Callable[[int], None]


class StatSnapshot(NamedTuple):
    """The few ``os.stat`` fields packing needs (a full stat result is ~5x bigger)."""

    st_mode: int
    st_size: int
    st_mtime_ns: int
    st_dev: int
    st_ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> StatSnapshot:
        return cls(st.st_mode, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)


#: What :func:`check_unchanged` compares: a full stat result or a snapshot.
StatLike = os.stat_result | StatSnapshot


@dataclass(slots=True)
class TreeItem:
    """A path found while walking a folder, before it becomes an entry (kept small: a folder of
    a million files holds a million of these)."""

    root: Path
    relpath: str
    kind: EntryType
    st: StatSnapshot
    link_target: str = ""

    @property
    def path(self) -> Path:
        return self.root / self.relpath


@dataclass
class PackOutcome:
    input_bytes: int = 0
    files: int = 0
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
            item = tree_item(root, relpath)
            if item is None:
                warnings.append(f"skipped {relpath}: not a regular file, folder or link")
            elif item.kind == EntryType.DIR:
                if relpath.count("/") >= MAX_PATH_DEPTH - 1:
                    warnings.append(
                        f"skipped {relpath[:60]}...: nested deeper than {MAX_PATH_DEPTH} folders"
                    )
                    continue
                yield item
                subfolders.append(path)
            else:
                yield item
        stack.extend(reversed(subfolders))


def tree_item(root: Path, relpath: str) -> TreeItem | None:
    """The item at ``root/relpath`` (not following a final link); None for special files."""
    path = root / relpath
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        return TreeItem(root, relpath, EntryType.SYMLINK, StatSnapshot.of(st), os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return TreeItem(root, relpath, EntryType.DIR, StatSnapshot.of(st))
    if stat.S_ISREG(st.st_mode):
        return TreeItem(root, relpath, EntryType.FILE, StatSnapshot.of(st))
    return None


def listed_items(root: Path, relpaths: list[str], warnings: list[str]) -> Iterator[TreeItem]:
    """The items named by ``relpaths`` (relative to ``root``; a folder is an entry, not its contents)."""
    for relpath in relpaths:
        item = tree_item(root, str(safe_relpath(relpath)))
        if item is None:
            warnings.append(f"skipped {relpath}: not a regular file, folder or link")
        else:
            yield item


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


def _mtime(st: StatLike) -> int:
    return st.st_mtime_ns // 1_000_000_000


def check_unchanged(path: Path, before: StatLike, after: StatLike, read_bytes: int) -> None:
    """InputError unless a file read to its end still has the size and mtime it had before."""
    if (
        read_bytes != before.st_size
        or after.st_size != before.st_size
        or after.st_mtime_ns != before.st_mtime_ns
    ):
        raise InputError(f"{path} changed while it was being packed")


@dataclass
class _Piece:
    """One step of writing a tree, in archive order: a block of ``entry`` or (raw empty) its end."""

    entry: Entry
    raw: bytes = b""
    file_size: int = 0  # the file's size when walked (for its progress bar)
    role: int = -1  # the block's role for the coder (serializers.PIXEL_BLOCK...); -1: the modality
    tag: int = 0  # the conditioning tag of a byte block (:mod:`.tags`)
    group: int = -1  # a block (or the end) of this solid group's stream; ``entry`` tallies it


@dataclass
class _Batch:
    pieces: list[_Piece] = field(default_factory=list)
    raw_bytes: int = 0

    def blocks(self) -> list[parallel.BlockTask]:
        return [
            (piece.raw, piece.entry.modality if piece.role < 0 else piece.role, piece.tag)
            for piece in self.pieces
            if piece.raw
        ]


def _tree_pieces(
    items: list[TreeItem],
    duplicates: dict[int, int],
    recipe: LevelRecipe,
    rich: RichPaths | None = None,
    grouped: dict[int, tuple[int, int, int]] | None = None,
) -> Iterator[_Piece]:
    """Read the tree in order: every file's blocks, then each entry's end (entries in item order).

    ``grouped``: item position -> (group, offset, modality) of the files in solid groups, whose
    bytes :func:`_group_pieces` reads instead.
    """
    grouped = grouped or {}
    for position, item in enumerate(items):
        mode = stat.S_IMODE(item.st.st_mode) & PERMISSION_BITS
        entry = Entry(path=item.relpath, type=item.kind, mode=mode, mtime=_mtime(item.st))
        if item.kind == EntryType.SYMLINK:
            entry.link_target = item.link_target
        elif position in duplicates:
            entry.type = EntryType.DUPLICATE
            entry.duplicate_of = duplicates[position]  # entry numbers are item positions
            entry.size = item.st.st_size
            try:  # its content was compared when duplicates were found: still the same file?
                now = os.lstat(item.path)
            except OSError as exc:
                raise InputError(f"cannot read {item.path}: {exc.strerror}") from None
            check_unchanged(item.path, item.st, now, item.st.st_size)
        elif position in grouped:
            entry.group, entry.offset, entry.modality = grouped[position]
            entry.size = item.st.st_size
        elif item.kind == EntryType.FILE:
            yield from _file_pieces(item, entry, recipe, rich)
        yield _Piece(entry)


def _file_pieces(
    item: TreeItem, entry: Entry, recipe: LevelRecipe, rich: RichPaths | None
) -> Iterator[_Piece]:
    """A file's blocks; an image or video that takes a rich path (:mod:`.serializers`, when
    ``rich`` allows one) is read whole and cut by its serializer."""
    try:
        source = open(item.path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {item.path}: {exc.strerror}") from None
    with source:
        read_bytes = 0
        try:
            raw = read_full(source, recipe.block_size)
            modality = detect(entry.path, raw[:_HEAD_BYTES])
            entry.modality = int(modality)
            if rich is not None and rich.wants(modality):
                # (video: planned from the file, its frames read a block at a time)
                streamed = streams_from_file(item.st.st_size, modality, rich.options)
                planned: Planned | str | None
                if streamed:
                    source.seek(0)
                    planned = rich.plan(source, modality)
                    source.seek(len(raw))
                else:
                    limit = max_file_bytes(modality)
                    raw += read_full(source, limit)
                    planned = rich.plan(raw, modality) if len(raw) < limit else None
                if isinstance(planned, Planned):
                    entry.serializer, entry.size = planned.serializer, planned.size
                    entry.modality = int(planned.modality)
                    for block, role in planned.cut(recipe.block_size):
                        yield _Piece(entry, block, item.st.st_size, role)
                    # (a streamed plan read the whole file; planned.size is the output's size)
                    read = item.st.st_size if streamed else len(raw)
                    check_unchanged(item.path, item.st, os.fstat(source.fileno()), read)
                    return
            tag = block_tag(entry.path, entry.modality, raw[:_HEAD_BYTES])
            while raw:  # (a file read whole and left to the byte path: still in blocks)
                block, raw = raw[: recipe.block_size], raw[recipe.block_size :]
                read_bytes += len(block)
                yield _Piece(entry, block, item.st.st_size, tag=tag)
                raw = raw or read_full(source, recipe.block_size)
            after = os.fstat(source.fileno())
        except OSError as exc:
            raise InputError(f"cannot read {item.path}: {exc.strerror}") from None
    check_unchanged(item.path, item.st, after, read_bytes)


def _plan_groups(
    items: list[TreeItem], duplicates: dict[int, int], max_file_bytes: int
) -> list[solid.GroupPlan]:
    """The solid groups of a tree: its small files (not duplicates) by kind (:mod:`.solid`)."""
    candidates = []
    for position, item in enumerate(items):
        size = item.st.st_size
        if item.kind != EntryType.FILE or position in duplicates or not 0 < size <= max_file_bytes:
            continue
        try:
            with open(item.path, "rb") as source:
                head = source.read(_HEAD_BYTES)
        except OSError as exc:
            raise InputError(f"cannot read {item.path}: {exc.strerror}") from None
        modality = detect(item.relpath, head)
        key = solid.group_key(item.relpath, modality, head)
        if key is not None:
            tag = block_tag(item.relpath, modality, head)
            candidates.append(solid.Candidate(position, item.relpath, size, modality, key, tag))
    return solid.plan_groups(candidates)


def _member_data(item: TreeItem) -> bytes:
    """A grouped file's bytes (small: read whole), checked unchanged since the walk."""
    try:
        with open(item.path, "rb") as source:
            data = read_full(source, item.st.st_size + 1)
            after = os.fstat(source.fileno())
    except OSError as exc:
        raise InputError(f"cannot read {item.path}: {exc.strerror}") from None
    check_unchanged(item.path, item.st, after, len(data))
    return data


def _group_pieces(
    items: list[TreeItem], plans: list[solid.GroupPlan], block_size: int
) -> Iterator[_Piece]:
    """Each solid group's stream (its files concatenated) in blocks, then the group's end."""
    for number, plan in enumerate(plans):
        tally = Entry(path=f"<solid group {number}>", modality=int(plan.modality))
        datas = (_member_data(items[member.position]) for member in plan.members)
        for raw in solid.cut_blocks(datas, block_size):
            yield _Piece(tally, raw, group=number, tag=plan.tag)
        yield _Piece(tally, group=number)


def _batched(pieces: Iterator[_Piece], batch_bytes: int) -> Iterator[_Batch]:
    batch = _Batch()
    for piece in pieces:
        batch.pieces.append(piece)
        batch.raw_bytes += len(piece.raw)
        if batch.raw_bytes >= batch_bytes:
            yield batch
            batch = _Batch()
    if batch.pieces:
        yield batch


def pack_tree(
    root: Path,
    writer: ContainerWriter,
    book: CodecBook,
    recipe: LevelRecipe,
    *,
    relpaths: list[str] | None = None,
    workers: int = 1,
    show_progress: bool = False,
    rich: RichPaths | None = None,
    solid_max_bytes: int = solid.MAX_FILE_BYTES,
) -> PackOutcome:
    """Add every item under ``root`` (or only ``relpaths``, in that order) to ``writer`` (entries
    and blocks); returns totals/warnings.

    Files of at most ``solid_max_bytes`` (0: none) are packed in solid groups (:mod:`.solid`):
    the groups' blocks come first, then every other file's, in item order.

    With ``workers`` > 1 blocks are coded in a process pool (:mod:`.parallel`); the archive is
    the same for any worker count. ``rich``: which images and videos may take a pixel or frame
    path (None: every file takes the byte path).
    """
    outcome = PackOutcome()
    if relpaths is None:
        items = list(walk_tree(root, outcome.warnings))
    else:
        items = list(listed_items(root, relpaths, outcome.warnings))
    for item in items:
        if item.kind == EntryType.SYMLINK and not link_stays_inside(item.relpath, item.link_target):
            outcome.warnings.append(
                f"{item.relpath}: link points outside the folder; unpack will skip it"
            )
    duplicates = _find_duplicates(items)
    to_code = sum(
        item.st.st_size
        for position, item in enumerate(items)
        if item.kind == EntryType.FILE and position not in duplicates
    )
    plans = _plan_groups(items, duplicates, solid_max_bytes) if solid_max_bytes > 0 else []
    grouped: dict[int, tuple[int, int, int]] = {}
    for plan in plans:
        number = writer.add_group(Group(modality=int(plan.modality)))
        for member, offset in zip(plan.members, plan.offsets, strict=True):
            grouped[member.position] = (number, offset, int(member.modality))
    pieces = itertools.chain(
        _group_pieces(items, plans, recipe.block_size),
        _tree_pieces(items, duplicates, recipe, rich, grouped),
    )
    # A pool costs a second or two to start: worth it only when there is more than a batch to code.
    pool_workers = workers if to_code > parallel.BATCH_BYTES else 1
    with (
        parallel.BlockPool(book, recipe, pool_workers) as pool,
        progress(total=to_code, desc=root.name, disable=not show_progress) as overall,
    ):
        file_bar: Progress | None = None
        for batch, encoded in pool.map_ordered(_batched(pieces, parallel.BATCH_BYTES)):
            coded = iter(encoded)
            for piece in batch.pieces:
                entry = piece.entry
                if piece.raw:
                    kind, codec, payload = next(coded)
                    if not entry.block_count:
                        entry.first_block = writer.offset
                        if show_progress and piece.file_size >= FILE_BAR_BYTES:
                            file_bar = progress(total=piece.file_size, desc=entry.path)
                    writer.write_block(kind, codec, piece.raw, payload)
                    entry.block_count += 1
                    if entry.serializer == 0:  # others set the size of the file they rebuild
                        entry.size += len(piece.raw)
                    overall.update(len(piece.raw))
                    if file_bar is not None:
                        file_bar.update(len(piece.raw))
                    continue
                if piece.group >= 0:  # the end of a solid group's stream: record its extent
                    group = writer.groups[piece.group]
                    group.first_block, group.block_count = entry.first_block, entry.block_count
                    group.size, group.packed_size = entry.size, writer.offset - entry.first_block
                    continue
                if entry.type == EntryType.FILE:
                    entry.packed_size = (
                        writer.offset - entry.first_block if entry.block_count else 0
                    )
                    if not entry.block_count:
                        entry.first_block = 0
                if entry.type in (EntryType.FILE, EntryType.DUPLICATE):
                    outcome.input_bytes += entry.size
                    outcome.files += 1
                if file_bar is not None:
                    file_bar.close()
                    file_bar = None
                writer.add_entry(entry)
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
        if path.count("/") >= MAX_PATH_DEPTH:
            raise UnsafePath(
                f"archive entry {path[:60]!r}... nests deeper than {MAX_PATH_DEPTH} folders"
            )
        if path in seen:
            raise UnsafePath(f"archive holds the entry {path!r} twice")
        seen[path] = entry.type
    for path in seen:
        parent = posixpath.dirname(path)
        while parent:
            kind = seen.get(parent)
            if kind is not None and kind != EntryType.DIR:
                raise UnsafePath(
                    f"archive entry {path!r} lies under {parent!r}, which is not a folder"
                )
            parent = posixpath.dirname(parent)


def expanded_size(entries: list[Entry], selected: set[int] | None = None) -> int:
    """Bytes extraction would write: every file, and every duplicate again (it is a copy)."""
    return sum(
        e.size
        for n, e in enumerate(entries)
        if e.type in (EntryType.FILE, EntryType.DUPLICATE) and (selected is None or n in selected)
    )


def check_expansion(
    reader: ContainerReader, allow_large: bool = False, selected: set[int] | None = None
) -> int:
    """Refuse a decompression bomb before anything is decoded; returns the bytes to be written.

    The declared output is bounded by the container only loosely (64 MiB per block, any number
    of duplicates). Above :data:`FREE_EXPANSION_BYTES`, an archive may expand at most
    :data:`MAX_EXPANSION_RATIO` times its own size unless ``allow_large`` (``--allow-large``).
    """
    total = expanded_size(reader.entries, selected)
    limit = max(FREE_EXPANSION_BYTES, MAX_EXPANSION_RATIO * reader.file_size)
    if total > limit and not allow_large:
        raise LimitExceeded(
            f"archive of {reader.file_size} bytes would expand to {total} bytes "
            f"(more than {MAX_EXPANSION_RATIO}:1 and above {FREE_EXPANSION_BYTES >> 30} GiB); "
            "use --allow-large if you trust it"
        )
    return total


def check_free_space(folder: Path, needed: int, target: Path) -> None:
    """Fail before writing when ``folder``'s file system cannot hold ``needed`` more bytes."""
    try:
        fs = os.statvfs(folder)
    except (OSError, AttributeError):
        return  # unknown: let the writes tell
    free = fs.f_bavail * fs.f_frsize
    if needed > free:
        raise OSError(
            errno.ENOSPC,
            f"No space left on device (needs {needed} bytes, {free} free)",
            str(target),
        )


def _restore_times(path: Path, mtime: int, follow: bool = True) -> None:
    nanoseconds = mtime * 1_000_000_000
    try:
        os.utime(path, ns=(nanoseconds, nanoseconds), follow_symlinks=follow)
    except (OSError, NotImplementedError):
        pass


def matching_entries(entries: list[Entry], members: list[str]) -> tuple[set[int], set[str]]:
    """Entry numbers named by ``members`` (a path, or a folder and everything under it), and
    the members that named something."""
    wanted = {member.strip("/") for member in members}
    chosen: set[int] = set()
    found: set[str] = set()
    for number, entry in enumerate(entries):
        for member in wanted:
            if entry.path == member or entry.path.startswith(member + "/"):
                chosen.add(number)
                found.add(member)
    return chosen, found


def check_members_found(members: list[str], found: set[str]) -> None:
    missing = sorted({member.strip("/") for member in members} - found)
    if missing:
        raise InputError(f"archive has no entry {missing[0]!r}")


def select_entries(entries: list[Entry], members: list[str]) -> set[int]:
    """Entry numbers named by ``members``; InputError if one names nothing."""
    chosen, found = matching_entries(entries, members)
    check_members_found(members, found)
    return chosen


def extract_tree(
    reader: ContainerReader,
    book: CodecBook,
    destination: Path,
    on_progress: ProgressFn | None = None,
    selected: set[int] | None = None,
) -> list[str]:
    """Write the entries (all, or the ``selected`` numbers) under ``destination`` (an empty
    folder); returns warnings. Only the chosen entries' blocks are read and decoded.

    Raises CorruptArchive / UnsafePath on any problem; the caller discards ``destination`` then.
    """
    entries = reader.entries
    check_entries(entries)
    chosen = [(n, e) for n, e in enumerate(entries) if selected is None or n in selected]
    warnings: list[str] = []
    content_hash = new_content_hash() if selected is None else None  # covers every block
    copies: dict[int, list[Path]] = {}  # file entry number -> the chosen paths of its data
    for number, entry in chosen:
        path = destination / safe_relpath(entry.path)
        if entry.type == EntryType.DIR:
            path.mkdir(parents=True, exist_ok=True)
        elif entry.type in (EntryType.FILE, EntryType.DUPLICATE):
            original = entry.duplicate_of if entry.type == EntryType.DUPLICATE else number
            copies.setdefault(original, []).append(path)

    def open_sink(original: int) -> BinaryIO:
        path = copies[original][0]
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "xb")

    # Each file's data is decoded once (lone files and solid groups, in archive order) into its
    # first chosen path; duplicates are copied from there.
    solid.decode_files(reader, book, copies, open_sink, content_hash, on_progress)
    if content_hash is not None and content_hash.digest() != reader.content_sha256:
        raise CorruptArchive("archive content hash does not match (damaged archive)")
    for first, *others in copies.values():
        for path in others:  # a copy, never a hard link: the files stay independent
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(first, path)
    for _, entry in chosen:
        if entry.type in (EntryType.FILE, EntryType.DUPLICATE):
            os.chmod(destination / safe_relpath(entry.path), entry.mode & PERMISSION_BITS)
    # Links last, so that no file is ever written through one; then times and folder modes.
    for _, entry in chosen:
        if entry.type != EntryType.SYMLINK:
            continue
        if not link_stays_inside(entry.path, entry.link_target):
            warnings.append(
                f"skipped link {entry.path} -> {entry.link_target}: it leaves the target"
            )
            continue
        path = destination / safe_relpath(entry.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(entry.link_target, path)
        _restore_times(path, entry.mtime, follow=False)
    for _, entry in chosen:
        if entry.type in (EntryType.FILE, EntryType.DUPLICATE):
            _restore_times(destination / safe_relpath(entry.path), entry.mtime)
    for _, entry in sorted(chosen, key=lambda item: item[1].path.count("/"), reverse=True):
        if entry.type == EntryType.DIR:
            path = destination / safe_relpath(entry.path)
            os.chmod(path, (entry.mode & PERMISSION_BITS) | stat.S_IRWXU)
            _restore_times(path, entry.mtime)
    return warnings


def single_file_entry(reader: ContainerReader) -> Entry:
    """The one file entry of a single-file archive (or CorruptArchive)."""
    entries = reader.entries
    if len(entries) != 1 or entries[0].type != EntryType.FILE or entries[0].grouped:
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
