"""Solid groups: which files of a folder share one stream, and reading files back out of them.

A small file coded on its own pays twice: its block starts with empty adaptive tables (the
context model has learned nothing yet when the file is over), and it costs a block header. A
*solid group* concatenates the small files of one kind into one stream, coded in blocks like any
other stream, so the models learn across files (docs/FORMAT.md, "Solid groups")::

    folder ─► small files (≤ MAX_FILE_BYTES) ─► by kind: text | code (per language) | binary
                                                   │  sorted: extension, name, path
                                                   ▼
              group stream  = file₁ ‖ file₂ ‖ …  ─► blocks of the level's block size
              index entries = (group, offset, size) per file; the group's blocks are stored once

Big files, images, video and already-compressed files keep blocks of their own. Which files
form which group depends only on the walk (names, sizes, first bytes), never on the worker
count, so the archive is the same for any ``-T``.

Reading (:func:`decode_files`) decodes each stream (a lone file's or a group's) once, in
archive order, block by block, and slices a group's blocks into its files: memory stays at one
block however big the group. Extracting a few members decodes only the blocks that hold them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from .blockcoding import decode_block
from .container import BlockKind, ContainerReader
from .detect import Modality, code_language
from .errors import CorruptArchive
from .predictors import Codec
from .streams import CodecBook, unpack_stream

#: Files up to this size join a group (tuned on ../shared/corpus/train, BENCHMARKS.md).
MAX_FILE_BYTES = 256 << 10
#: The modalities whose small files are grouped (images, video and compressed data are not).
GROUPED_MODALITIES = (Modality.TEXT, Modality.CODE, Modality.BINARY)

ProgressFn = Callable[[int], None]
#: Opens the sink an entry's data goes to (given the entry number); used as a context manager.
SinkOpener = Callable[[int], contextlib.AbstractContextManager[BinaryIO]]


# --- the grouping policy ------------------------------------------------------------------------


def group_key(relpath: str, modality: Modality, head: bytes) -> str | None:
    """Which group a small file joins (files with the same key share one), or None: alone."""
    if modality not in GROUPED_MODALITIES:
        return None
    if modality == Modality.CODE:
        return f"code:{code_language(relpath, head) or ''}"
    return modality.name.lower()


def stream_order(relpath: str) -> tuple[str, str, str]:
    """Where a file goes in its group: similar files adjacent (same extension, then same name)."""
    path = PurePosixPath(relpath)
    return (path.suffix.lower(), path.name, relpath)


@dataclass(frozen=True)
class Candidate:
    """A small file that may join a group: its position among the walked items and its key."""

    position: int
    relpath: str
    size: int
    modality: Modality
    key: str
    tag: int = 0  # its byte blocks' conditioning tag (:func:`mmcompress.tags.block_tag`)


@dataclass
class GroupPlan:
    """One group to write: its files in stream order, and where each lands in the stream."""

    modality: Modality
    #: The conditioning tag of the group's blocks: its first file's (a code group's files share
    #: their language).
    tag: int = 0
    members: list[Candidate] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    size: int = 0


def plan_groups(candidates: Iterable[Candidate]) -> list[GroupPlan]:
    """Gather candidates by key into groups (keys in sorted order, files in :func:`stream_order`).

    A key with a single file forms no group: alone, the file gains nothing from one.
    """
    by_key: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_key.setdefault(candidate.key, []).append(candidate)
    plans: list[GroupPlan] = []
    for key in sorted(by_key):
        members = sorted(by_key[key], key=lambda c: stream_order(c.relpath))
        if len(members) < 2:
            continue
        plan = GroupPlan(members[0].modality, members[0].tag)
        for member in members:
            plan.members.append(member)
            plan.offsets.append(plan.size)
            plan.size += member.size
        plans.append(plan)
    return plans


def cut_blocks(datas: Iterable[bytes], block_size: int) -> Iterator[bytes]:
    """The concatenation of ``datas`` cut into blocks of ``block_size`` (the last one shorter)."""
    pending = bytearray()
    for data in datas:
        pending += data
        while len(pending) >= block_size:
            yield bytes(pending[:block_size])
            del pending[:block_size]
    if pending:
        yield bytes(pending)


# --- reading files back -------------------------------------------------------------------------


def decode_files(
    reader: ContainerReader,
    book: CodecBook,
    numbers: Iterable[int],
    open_sink: SinkOpener,
    content_hash: Any | None = None,
    on_progress: ProgressFn | None = None,
) -> None:
    """Write the data of the FILE entries ``numbers`` to the sinks ``open_sink`` gives.

    Every stream needed (a lone file's blocks, a solid group's blocks) is read once, in archive
    order, so that when every file is asked for, ``content_hash`` sees all blocks in archive
    order (the trailer's digest). A group is decoded block by block and only as far as the
    files asked for need (all of it when hashing).
    """
    entries = reader.entries
    streams: list[tuple[int, int, list[int]]] = []  # (first block, group or -1, entry numbers)
    by_group: dict[int, list[int]] = {}
    for number in sorted(set(numbers)):
        entry = entries[number]
        if entry.grouped:
            by_group.setdefault(entry.group, []).append(number)
        else:
            streams.append((entry.first_block if entry.block_count else 0, -1, [number]))
    for group, members in by_group.items():
        members.sort(key=lambda n: entries[n].offset)
        streams.append((reader.groups[group].first_block, group, members))
    streams.sort()
    for _, group, members in streams:
        if group < 0:
            with open_sink(members[0]) as sink:
                unpack_stream(reader, entries[members[0]], book, sink, content_hash, on_progress)
        else:
            _decode_group(reader, book, group, members, open_sink, content_hash, on_progress)


def _decode_group(
    reader: ContainerReader,
    book: CodecBook,
    group: int,
    members: list[int],
    open_sink: SinkOpener,
    content_hash: Any | None,
    on_progress: ProgressFn | None,
) -> None:
    """Slice group ``group``'s decoded blocks into its ``members`` (sorted by offset)."""
    entries = reader.entries
    if reader.groups[group].serializer != 0:
        raise CorruptArchive(f"solid group {group} names a serializer other than bytes")
    whole = content_hash is not None
    wanted_from = entries[members[0]].offset
    wanted_to = entries[members[-1]].offset + entries[members[-1]].size
    predictors: Sequence[Codec] | None = None
    next_member = 0
    block_start = 0
    with contextlib.ExitStack() as open_file:
        sink: BinaryIO | None = None
        for header, payload in reader.iter_group_blocks(group):
            block_end = block_start + header.raw_size
            start, block_start = block_start, block_end
            if not whole and block_end <= wanted_from:
                continue  # before the first file asked for: not even decoded
            if not whole and start >= wanted_to:
                break
            if header.kind == BlockKind.MODEL and predictors is None:
                predictors = book.all_predictors()
            raw = decode_block(header, payload, predictors or [])
            if content_hash is not None:
                content_hash.update(raw)
            while next_member < len(members):
                entry = entries[members[next_member]]
                file_end = entry.offset + entry.size
                if entry.offset >= block_end:
                    break
                if sink is None:
                    sink = open_file.enter_context(open_sink(members[next_member]))
                piece = raw[max(entry.offset, start) - start : min(file_end, block_end) - start]
                sink.write(piece)
                if on_progress:
                    on_progress(len(piece))
                if file_end > block_end:
                    break  # the file goes on in the next block
                open_file.close()
                sink = None
                next_member += 1
        if next_member < len(members):
            raise CorruptArchive(f"solid group {group} ends before its files do")
