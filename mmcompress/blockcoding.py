"""Coding one block: the predictor + range coder path, and the never-expand choice.

Every block is offered to up to three forms and the smallest wins (ties go to the simpler):

    stored  : the raw bytes
    zstd    : zstd at the recipe's level (a classic fallback, so we are never much worse)
    model   : the block cut into B lockstep segments, each symbol range-coded under the
              predictor's frequency table (payload: u16 segment count, u8 tag, coder words)

Already-compressed input is recognised by a quick zstd probe and never modelled at length.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import zstandard

from .coder import Decoder, Encoder
from .container import BlockHeader, BlockKind, check_block
from .errors import CorruptArchive
from .predictors import BlockCodec, Codec, NotApplicable
from .segments import Segmentation, choose_segment_count

_MODEL_HEADER = struct.Struct("<HB")  # segment count, tag
#: Symbols handed to the range coder per batched encoder call (bounds the tables' memory).
ENCODE_CHUNK_SYMBOLS = 1 << 16
#: A probe of this many bytes that zstd -1 cannot shrink below this ratio marks a block as
#: already compressed: it is stored or zstd'd but not modelled.
PROBE_BYTES = 1 << 16
INCOMPRESSIBLE_RATIO = 0.97


#: zstd frames are written without magic number, checksum or content size: the block header
#: already holds the size and a CRC, and every byte counts on small incompressible files.
_ZSTD_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS
_ZSTD_SIZE_UNKNOWN = (1 << 64) - 1


def zstd_compress(raw: bytes, level: int) -> bytes:
    # source_size: the parameters zstd itself picks for an input of this size (as its CLI does).
    parameters = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=len(raw), format=_ZSTD_FORMAT, write_checksum=0, write_content_size=0
    )
    return zstandard.ZstdCompressor(compression_params=parameters).compress(raw)


def zstd_decompress(payload: bytes, raw_size: int) -> bytes:
    """Decode a ZSTD block payload; never allocates more than ``raw_size`` (CorruptArchive)."""
    declared = zstandard.get_frame_parameters(payload, format=_ZSTD_FORMAT).content_size
    if declared not in (_ZSTD_SIZE_UNKNOWN, raw_size):  # a damaged header must not allocate
        raise CorruptArchive("zstd block declares a size other than the block's")
    return zstandard.ZstdDecompressor(format=_ZSTD_FORMAT).decompress(
        payload, max_output_size=raw_size
    )


def looks_incompressible(raw: bytes) -> bool:
    """Quick test: does a fast zstd pass over a sample save (almost) nothing?"""
    sample = raw[:PROBE_BYTES]
    if len(sample) < 256:
        return False
    return len(zstandard.ZstdCompressor(level=1).compress(sample)) >= INCOMPRESSIBLE_RATIO * len(
        sample
    )


def model_encode(raw: bytes, predictor: Codec, tag: int = 0) -> bytes:
    """Code ``raw`` with ``predictor``: the MODEL block payload."""
    if isinstance(predictor, BlockCodec):
        return predictor.encode_block(raw, tag)
    symbols = np.frombuffer(raw, dtype=np.uint8)
    count = choose_segment_count(
        len(symbols), predictor.segment_count, predictor.min_segment_length
    )
    segmentation = Segmentation(len(symbols), count)
    ordered = segmentation.interleave(symbols)
    session = predictor.start(segmentation, tag)
    encoder = Encoder(predictor.precision_bits)
    steps_per_chunk = max(1, ENCODE_CHUNK_SYMBOLS // count)
    for first in range(0, segmentation.steps, steps_per_chunk):
        last = min(segmentation.steps, first + steps_per_chunk)
        lo, hi = segmentation.step_offset(first), segmentation.step_offset(last)
        chunk = ordered[lo:hi]
        encoder.encode(chunk, session.tables_for(chunk, first, last))
    return _MODEL_HEADER.pack(count, tag) + encoder.finish()


def model_decode(payload: bytes, raw_size: int, predictor: Codec) -> bytes:
    """Inverse of :func:`model_encode`."""
    if isinstance(predictor, BlockCodec):
        raw = predictor.decode_block(payload, raw_size)
        if len(raw) != raw_size:
            raise CorruptArchive("model-coded block decodes to the wrong size")
        return raw
    if len(payload) < _MODEL_HEADER.size:
        raise CorruptArchive("model-coded block is truncated")
    count, tag = _MODEL_HEADER.unpack_from(payload)
    if not 1 <= count <= raw_size:
        raise CorruptArchive("model-coded block declares an invalid segment count")
    segmentation = Segmentation(raw_size, count)
    session = predictor.start(segmentation, tag)
    decoder = Decoder(payload[_MODEL_HEADER.size :], predictor.precision_bits)
    ordered = np.empty(raw_size, dtype=np.uint8)
    position = 0
    for _ in range(segmentation.steps):
        symbols = decoder.decode(session.predict())
        if symbols.size and (symbols.min() < 0 or symbols.max() > 255):
            raise CorruptArchive("model-coded block decodes to invalid symbols")
        ordered[position : position + symbols.size] = symbols
        position += symbols.size
        session.update(symbols)
    return segmentation.deinterleave(ordered).tobytes()


def encode_block(
    raw: bytes,
    *,
    predictor: Codec | None,
    codec: int,
    zstd_level: int,
    tag: int = 0,
    compressed_hint: bool = False,
    model_overhead: int = 0,
) -> tuple[BlockKind, int, bytes]:
    """The smallest of stored / zstd / model for ``raw``: (kind, codec index, payload).

    ``model_overhead`` is what choosing the model costs elsewhere (e.g. the predictor config in
    the header of a one-block archive); the model must beat the others by more than that.
    """
    best: tuple[BlockKind, int, bytes] = (BlockKind.STORED, 0, raw)
    squeezed = zstd_compress(raw, zstd_level)
    if len(squeezed) < len(best[2]):
        best = (BlockKind.ZSTD, 0, squeezed)
    if predictor is not None and not (compressed_hint or looks_incompressible(raw)):
        try:
            modelled = model_encode(raw, predictor, tag)
        except NotApplicable:
            return best
        if len(modelled) + model_overhead < len(best[2]):
            best = (BlockKind.MODEL, codec, modelled)
    return best


def decode_block(header: BlockHeader, payload: bytes, predictors: Sequence[Codec]) -> bytes:
    """Rebuild a block's raw bytes and check them against its CRC."""
    if header.kind == BlockKind.STORED:
        raw = payload
    elif header.kind == BlockKind.ZSTD:
        try:
            raw = zstd_decompress(payload, header.raw_size)
        except zstandard.ZstdError as exc:
            raise CorruptArchive(f"zstd block is damaged: {exc}") from None
    elif header.kind == BlockKind.MODEL:
        if header.codec >= len(predictors):
            raise CorruptArchive(
                f"block names codec {header.codec}, which the archive does not define"
            )
        raw = model_decode(payload, header.raw_size, predictors[header.codec])
    else:
        raise CorruptArchive(f"unexpected block kind {header.kind}")
    check_block(header, raw)
    return raw
