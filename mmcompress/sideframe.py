"""Side-information frames: how a serializer puts its side information before its data blocks.

A serializer that turns a file into side information (headers, metadata: bytes) plus data blocks
(pixel strips, frame runs) stores the side information first, framed as

    frame    struct "<BQ": frame version 1, side-information length L
    payload  L bytes

and cut into byte blocks of at most ``block_size`` bytes; the data blocks follow. The first data
block starts right after the block that holds the frame's last byte (a block never holds both).
Used by the raster serializer (:mod:`.imaging.serializer`) and the video one
(:mod:`.videoio.serializer`); docs/FORMAT.md, "Serializers", is the normative description.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .errors import CorruptArchive

SIDE_FRAME = struct.Struct("<BQ")
SIDE_FRAME_VERSION = 1


def side_blocks(payload: bytes, block_size: int) -> Iterator[bytes]:
    """The byte blocks that hold ``payload`` framed (at least one block)."""
    side = SIDE_FRAME.pack(SIDE_FRAME_VERSION, len(payload)) + payload
    for start in range(0, len(side), block_size):
        yield side[start : start + block_size]


def read_side(blocks: Iterator[bytes], max_bytes: int, what: str) -> bytes:
    """The payload framed at the start of ``blocks``, which is left at the first data block.

    ``max_bytes`` bounds the declared length (a hostile frame must not make us allocate);
    ``what`` names the entry kind in the CorruptArchive message ("image entry", ...).
    """
    side = bytearray()
    expected: int | None = None
    for raw in blocks:
        side += raw
        if expected is None:
            if len(side) < SIDE_FRAME.size:
                continue
            version, payload_len = SIDE_FRAME.unpack_from(side)
            if version != SIDE_FRAME_VERSION or payload_len > max_bytes:
                raise CorruptArchive(f"{what} has an invalid side-information frame")
            expected = SIDE_FRAME.size + payload_len
        if len(side) >= expected:
            break
    if expected is None or len(side) != expected:
        raise CorruptArchive(f"{what}'s side information does not match its blocks")
    return bytes(side[SIDE_FRAME.size :])
