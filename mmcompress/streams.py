"""Coding a byte stream as a run of container blocks, and back, with the level's codecs.

A :class:`CodecBook` holds the predictors an archive uses (built once, reused for every block)
and the level recipe that says how blocks are formed. :func:`pack_stream` reads a stream in
blocks of bounded size (memory stays bounded however large the input) and writes each block in
its cheapest form; :func:`unpack_stream` decodes an entry's blocks into a sink.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .blockcoding import decode_block, encode_block
from .container import BlockKind, ContainerReader, ContainerWriter, Entry
from .detect import Modality
from .errors import CorruptArchive, UnsupportedFormat
from .levels import LevelRecipe
from .predictors import Codec, build_predictor, predictor_for_recipe
from .serializers import BYTES as BYTES_SERIALIZER
from .serializers import FRAMES_BLOCK, PIXEL_BLOCK, check_listed, rebuild

ProgressFn = Callable[[int], None]
EncodedBlock = tuple[BlockKind, int, bytes]
#: Codes a stream's blocks (in order) somewhere else: raw blocks, their modality and conditioning
#: tag in, (raw, coded form) out.
BlockEncoder = Callable[[Iterator[bytes], Modality, int], Iterator[tuple[bytes, EncodedBlock]]]
#: The same for blocks that each carry their role (tag 0): (raw, role) pairs in, (raw, coded
#: form) out.
RoleEncoder = Callable[[Iterable[tuple[bytes, int]]], Iterator[tuple[bytes, EncodedBlock]]]

#: How the symbols of MODEL blocks are turned into bits (docs/FORMAT.md): recorded in every
#: archive that has model-coded blocks.
CODER_DESCRIPTION = {"id": "constriction-range", "version": 1}


@dataclass
class CodecBook:
    """The predictors of one archive, by codec index (the ``codec`` byte of MODEL blocks)."""

    configs: list[dict[str, Any]]
    #: The serializers the archive's entries name (``meta["serializers"]``), by number.
    serializers: list[dict[str, Any]] = field(default_factory=lambda: [BYTES_SERIALIZER])
    #: Index of the codec that codes pixel strips (None: images take the byte path).
    pixel_codec: int | None = None
    #: Index of the codec that codes frame blocks (None: video takes the byte path).
    frames_codec: int | None = None
    _predictors: list[Codec | None] = field(default_factory=list)
    #: The recipe's codec specs beyond the byte predictor (pixel, then frames), built and
    #: described in ``configs`` only once needed.
    _lazy_specs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._predictors = [None] * len(self.configs)

    @classmethod
    def for_recipe(cls, recipe: LevelRecipe) -> CodecBook:
        """The recipe's byte predictor (codec 0) and, when it has them, its pixel codec and its
        frames codec (next, in that order).

        Those two (torch-free, but with model weights) are built only when an image or a video
        needs them: :meth:`listed_configs` (or a block asking for them) adds them to ``configs``."""
        built = [predictor_for_recipe(recipe.predictor)] if recipe.predictor else []
        book = cls([_described(codec) for codec in built])
        book._predictors = list(built)
        if recipe.pixel:
            book.pixel_codec = len(built)
            book._lazy_specs.append(dict(recipe.pixel))
            if recipe.video:
                book.frames_codec = len(built) + 1
                book._lazy_specs.append(dict(recipe.video))
        return book

    def _describe_up_to(self, index: int | None) -> None:
        """Build and describe the lazy codecs up to ``index`` (archives that may hold pixel
        strips or frame blocks describe those codecs in their header)."""
        if index is None or self.pixel_codec is None:
            return
        while len(self.configs) <= index:  # the lazy specs start at the pixel codec's index
            codec = predictor_for_recipe(self._lazy_specs[len(self.configs) - self.pixel_codec])
            self.configs.append(_described(codec))
            self._predictors.append(codec)

    def listed_configs(self, images: bool, video: bool) -> list[dict[str, Any]]:
        """The codec descriptions an archive header lists: the byte predictor, and the pixel
        (``images``) and frames (``video``) codecs only when its entries may need them."""
        last = self.frames_codec if video else self.pixel_codec if images else None
        self._describe_up_to(last)
        if self.pixel_codec is None:
            return self.configs
        return self.configs[: last + 1 if last is not None else self.pixel_codec]

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> CodecBook:
        configs = meta.get("codecs", [])
        if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
            raise CorruptArchive("archive metadata has a malformed codec list")
        if len(configs) > 255:
            raise CorruptArchive("archive metadata lists too many codecs")
        coder = meta.get("coder", CODER_DESCRIPTION)
        if coder != CODER_DESCRIPTION:
            raise UnsupportedFormat(f"archive uses coder {coder!r}, which this mmcompress lacks")
        serializers = check_listed(meta.get("serializers", [BYTES_SERIALIZER]))
        return cls(list(configs), serializers=list(serializers))

    def predictor(self, index: int) -> Codec:
        if index in (self.pixel_codec, self.frames_codec):
            self._describe_up_to(index)
        built = self._predictors[index]
        if built is None:
            config = dict(self.configs[index])
            precision = config.pop("precision_bits", None)
            built = build_predictor(config)
            if precision != built.precision_bits:
                raise UnsupportedFormat(
                    f"archive codes with {precision}-bit tables, predictor {config.get('id')!r} "
                    f"here makes {built.precision_bits}-bit ones"
                )
            self._predictors[index] = built
        return built

    def all_predictors(self) -> Sequence[Codec]:
        """Every codec of the archive, each built the first time a block asks for it."""
        return _LazyCodecs(self)

    def codec_for(self, role: int) -> int | None:
        """Which codec models blocks of this role, a modality, :data:`PIXEL_BLOCK` or
        :data:`FRAMES_BLOCK` (None: stored/zstd only)."""
        if role == PIXEL_BLOCK:
            return self.pixel_codec
        if role == FRAMES_BLOCK:
            return self.frames_codec
        if role == Modality.COMPRESSED or not self.configs:
            return None
        return 0 if self.pixel_codec != 0 else None


def _described(codec: Codec) -> dict[str, Any]:
    # The archive records each codec's own canonical config (defaults filled in) and the
    # precision of its tables, which the coder needs.
    return {**codec.compact_config(), "precision_bits": codec.precision_bits}


class _LazyCodecs(Sequence[Codec]):
    def __init__(self, book: CodecBook) -> None:
        self._book = book

    def __len__(self) -> int:
        return len(self._book.configs)

    def __getitem__(self, index: int) -> Codec:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._book.predictor(index)


def read_full(source: BinaryIO, size: int) -> bytes:
    """Read up to ``size`` bytes, looping over short reads (pipes)."""
    parts, remaining = [], size
    while remaining:
        chunk = source.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def encode_stream_block(
    raw: bytes,
    book: CodecBook,
    recipe: LevelRecipe,
    role: int,
    tag: int = 0,
    model_overhead: int = 0,
) -> EncodedBlock:
    """The cheapest form of one block; ``role`` is the entry's modality or a rich block role
    (:data:`PIXEL_BLOCK`, :data:`FRAMES_BLOCK`); ``tag`` the conditioning tag its byte model is
    given (:func:`mmcompress.tags.block_tag`; 0 for rich blocks)."""
    codec = book.codec_for(role)
    return encode_block(
        raw,
        predictor=None if codec is None else book.predictor(codec),
        codec=codec or 0,
        zstd_level=recipe.zstd_level,
        tag=tag,
        compressed_hint=role == Modality.COMPRESSED,
        model_overhead=model_overhead,
    )


def pack_stream(
    source: BinaryIO,
    writer: ContainerWriter,
    book: CodecBook,
    recipe: LevelRecipe,
    entry: Entry,
    *,
    first_block: bytes | None = None,
    encoded_first: EncodedBlock | None = None,
    on_progress: ProgressFn | None = None,
    encode_many: BlockEncoder | None = None,
    tag: int = 0,
) -> Entry:
    """Write ``source`` as blocks; fills in the entry's size, packed size and block extent.

    ``tag``: the blocks' conditioning tag (:func:`mmcompress.tags.block_tag` of the file's name,
    modality and first bytes; the caller knows the name, a single-file entry does not store it).

    ``first_block`` (already read) and its ``encoded_first`` form may be passed in when the caller
    had to look at them before the header was written. ``encode_many`` codes the blocks
    elsewhere (a process pool, :mod:`.parallel`), in order; the bytes written are the same.
    """
    entry.first_block = writer.offset
    modality = Modality(entry.modality)
    raws = _raw_blocks(source, first_block, recipe.block_size)

    def serial() -> Iterator[tuple[bytes, EncodedBlock]]:
        encoded = encoded_first
        for raw in raws:
            yield raw, encoded or encode_stream_block(raw, book, recipe, modality, tag)
            encoded = None

    size = 0
    pairs = (
        serial()
        if encode_many is None or encoded_first is not None
        else encode_many(raws, modality, tag)
    )
    for raw, (kind, codec, payload) in pairs:
        writer.write_block(kind, codec, raw, payload)
        size += len(raw)
        entry.block_count += 1
        if on_progress:
            on_progress(len(raw))
    entry.size = size
    entry.packed_size = writer.offset - entry.first_block if entry.block_count else 0
    if not entry.block_count:
        entry.first_block = 0
    return entry


def pack_blocks(
    writer: ContainerWriter,
    book: CodecBook,
    recipe: LevelRecipe,
    entry: Entry,
    blocks: Iterable[tuple[bytes, int]],
    *,
    encode_many: RoleEncoder | None = None,
) -> Entry:
    """Write an entry whose blocks a serializer has already cut: (raw, role) pairs, in order.

    Unlike :func:`pack_stream` it leaves ``entry.size`` alone: the serializer sets it (the size of
    the file the blocks rebuild). ``encode_many`` codes the blocks elsewhere, in order.
    """
    entry.first_block = writer.offset
    pairs = (
        encode_many(blocks)
        if encode_many is not None
        else ((raw, encode_stream_block(raw, book, recipe, role)) for raw, role in blocks)
    )
    for raw, (kind, codec, payload) in pairs:
        writer.write_block(kind, codec, raw, payload)
        entry.block_count += 1
    entry.packed_size = writer.offset - entry.first_block if entry.block_count else 0
    if not entry.block_count:
        entry.first_block = 0
    return entry


def _raw_blocks(source: BinaryIO, first: bytes | None, block_size: int) -> Iterator[bytes]:
    raw = first if first is not None else read_full(source, block_size)
    while raw:
        yield raw
        raw = read_full(source, block_size)


def unpack_stream(
    reader: ContainerReader,
    entry: Entry,
    book: CodecBook,
    sink: BinaryIO,
    content_hash: Any | None = None,
    on_progress: ProgressFn | None = None,
) -> int:
    """Decode ``entry``'s blocks into ``sink`` (through its serializer); returns bytes written."""
    if entry.serializer >= len(book.serializers):
        raise CorruptArchive(f"entry {entry.path!r} names a serializer the archive lacks")
    raws = decoded_blocks(reader, entry, book, content_hash, on_progress)
    pieces: Iterable[bytes | memoryview] = (
        raws
        if book.serializers[entry.serializer] == BYTES_SERIALIZER
        else rebuild(book.serializers, entry.serializer, raws, entry.size)
    )
    written = 0
    for piece in pieces:  # (memoryview pieces are byte views: len is their size)
        sink.write(piece)
        written += len(piece)
    return written


def decoded_blocks(
    reader: ContainerReader,
    entry: Entry,
    book: CodecBook,
    content_hash: Any | None = None,
    on_progress: ProgressFn | None = None,
) -> Iterator[bytes]:
    """``entry``'s raw blocks, decoded one at a time as they are consumed (``content_hash``
    updated with each)."""
    predictors: Sequence[Codec] | None = None
    for header, payload in reader.iter_blocks(entry):
        if header.kind == BlockKind.MODEL and predictors is None:
            predictors = book.all_predictors()
        raw = decode_block(header, payload, predictors or [])
        if content_hash is not None:
            content_hash.update(raw)
        if on_progress:
            on_progress(len(raw))
        yield raw


def new_content_hash() -> Any:
    return hashlib.sha256()
