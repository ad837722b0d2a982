"""Coding a byte stream as a run of container blocks, and back, with the level's codecs.

A :class:`CodecBook` holds the predictors an archive uses (built once, reused for every block)
and the level recipe that says how blocks are formed. :func:`pack_stream` reads a stream in
blocks of bounded size (memory stays bounded however large the input) and writes each block in
its cheapest form; :func:`unpack_stream` decodes an entry's blocks into a sink.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .blockcoding import decode_block, encode_block
from .container import BlockKind, ContainerReader, ContainerWriter, Entry
from .detect import Modality
from .errors import CorruptArchive, UnsupportedFormat
from .levels import LevelRecipe
from .predictors import Codec, build_predictor, predictor_for_recipe

ProgressFn = Callable[[int], None]
EncodedBlock = tuple[BlockKind, int, bytes]
#: Codes a stream's blocks (in order) somewhere else: raw blocks in, (raw, coded form) out.
BlockEncoder = Callable[[Iterator[bytes], Modality], Iterator[tuple[bytes, EncodedBlock]]]

#: How the symbols of MODEL blocks are turned into bits (docs/FORMAT.md): recorded in every
#: archive that has model-coded blocks.
CODER_DESCRIPTION = {"id": "constriction-range", "version": 1}
#: The serializer of plain byte streams (entries' serializer 0).
BYTES_SERIALIZER = {"id": "bytes", "version": 1}


@dataclass
class CodecBook:
    """The predictors of one archive, by codec index (the ``codec`` byte of MODEL blocks)."""

    configs: list[dict[str, Any]]
    _predictors: list[Codec | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._predictors = [None] * len(self.configs)

    @classmethod
    def for_recipe(cls, recipe: LevelRecipe) -> CodecBook:
        if recipe.predictor is None:
            return cls([])
        predictor = predictor_for_recipe(recipe.predictor)
        # The archive records the predictor's own canonical config (defaults filled in) and the
        # precision of its tables, which the coder needs.
        book = cls([{**predictor.compact_config(), "precision_bits": predictor.precision_bits}])
        book._predictors = [predictor]
        return book

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
        for serializer in meta.get("serializers", [BYTES_SERIALIZER]):
            if serializer != BYTES_SERIALIZER:
                raise UnsupportedFormat(
                    f"archive uses serializer {serializer!r}, which this mmcompress lacks"
                )
        return cls(list(configs))

    def predictor(self, index: int) -> Codec:
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

    def all_predictors(self) -> list[Codec]:
        return [self.predictor(i) for i in range(len(self.configs))]

    def codec_for(self, modality: Modality) -> int | None:
        """Which codec models this modality (None: stored/zstd only)."""
        if modality == Modality.COMPRESSED or not self.configs:
            return None
        return 0


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
    raw: bytes, book: CodecBook, recipe: LevelRecipe, modality: Modality, model_overhead: int = 0
) -> EncodedBlock:
    codec = book.codec_for(modality)
    return encode_block(
        raw,
        predictor=None if codec is None else book.predictor(codec),
        codec=codec or 0,
        zstd_level=recipe.zstd_level,
        tag=int(modality),
        compressed_hint=modality == Modality.COMPRESSED,
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
) -> Entry:
    """Write ``source`` as blocks; fills in the entry's size, packed size and block extent.

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
            yield raw, encoded or encode_stream_block(raw, book, recipe, modality)
            encoded = None

    size = 0
    pairs = (
        serial()
        if encode_many is None or encoded_first is not None
        else encode_many(raws, modality)
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
    """Decode ``entry``'s blocks into ``sink``; returns the bytes written."""
    predictors: list[Codec] | None = None
    written = 0
    for header, payload in reader.iter_blocks(entry):
        if header.kind == BlockKind.MODEL and predictors is None:
            predictors = book.all_predictors()
        raw = decode_block(header, payload, predictors or [])
        sink.write(raw)
        if content_hash is not None:
            content_hash.update(raw)
        written += len(raw)
        if on_progress:
            on_progress(len(raw))
    return written


def new_content_hash() -> Any:
    return hashlib.sha256()
