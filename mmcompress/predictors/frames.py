"""Frame blocks: a run of video frames in the raw form the video codec takes (kind "frames").

A frame block holds ``F >= 1`` consecutive frames of one geometry, each a list of ``P`` planes
(Y, U, V[, A] or a single grey plane; chroma planes may be smaller than luma):

    header   struct "<BBBBI": version 1, plane count P (1..4), bits per sample (1..16),
             reserved 0, frame count F
    planes   P x struct "<II": each plane's height and width
    samples  frame by frame, plane by plane, row-major: uint8 when bits <= 8, little-endian
             uint16 otherwise (every value < 2^bits)

The codec codes the first frame of a block on its own and every later one against the frame
before it, so a block can be decoded without any other block (random access, parallel coding).
"""

from __future__ import annotations

import struct

import numpy as np

from .base import NotApplicable

FRAME_HEADER = struct.Struct("<BBBBI")
PLANE_SHAPE = struct.Struct("<II")
FRAME_BLOCK_VERSION = 1
#: Most samples of one block (bounds the memory a hostile header can ask for).
MAX_BLOCK_SAMPLES = 1 << 28

Frame = list[np.ndarray]


def _dtype(bits: int) -> np.dtype:
    return np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)


def frames_to_block(frames: list[Frame], bits: int) -> bytes:
    """Frames (each a list of 2-D planes, same shapes in every frame) -> one raw frame block."""
    if not frames:
        raise ValueError("a frame block needs at least one frame")
    if not 1 <= bits <= 16:
        raise ValueError("bits must be in 1..16")
    shapes = [np.asarray(plane).shape for plane in frames[0]]
    if not 1 <= len(shapes) <= 4 or any(len(shape) != 2 or 0 in shape for shape in shapes):
        raise ValueError("a frame has 1 to 4 non-empty 2-D planes")
    dtype = _dtype(bits)
    parts = [FRAME_HEADER.pack(FRAME_BLOCK_VERSION, len(shapes), bits, 0, len(frames))]
    parts += [PLANE_SHAPE.pack(*shape) for shape in shapes]
    for frame in frames:
        if [np.asarray(plane).shape for plane in frame] != shapes:
            raise ValueError("every frame of a block must have the same plane shapes")
        for plane in frame:
            array = np.asarray(plane)
            if array.size and int(array.max()) >= (1 << bits):
                raise ValueError(f"sample values do not fit in {bits} bits")
            parts.append(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return b"".join(parts)


def parse_frame_header(raw: bytes) -> tuple[int, int, list[tuple[int, int]], int]:
    """(bits, frame count, plane shapes, header length) of a raw frame block or its payload."""
    if len(raw) < FRAME_HEADER.size:
        raise NotApplicable("block shorter than the frame header")
    version, count, bits, reserved, frame_count = FRAME_HEADER.unpack_from(raw)
    if version != FRAME_BLOCK_VERSION or reserved or not 1 <= count <= 4 or not 1 <= bits <= 16:
        raise NotApplicable("not a frame block header")
    end = FRAME_HEADER.size + count * PLANE_SHAPE.size
    if len(raw) < end or frame_count < 1:
        raise NotApplicable("frame block header truncated")
    shapes = [PLANE_SHAPE.unpack_from(raw, FRAME_HEADER.size + i * PLANE_SHAPE.size)
              for i in range(count)]  # fmt: skip
    samples = frame_count * sum(h * w for h, w in shapes)
    if any(h < 1 or w < 1 for h, w in shapes) or samples > MAX_BLOCK_SAMPLES:
        raise NotApplicable("frame block size out of range")
    return bits, frame_count, shapes, end


def frame_block_size(bits: int, frame_count: int, shapes: list[tuple[int, int]]) -> int:
    """Length of the raw block these header fields describe."""
    header = FRAME_HEADER.size + len(shapes) * PLANE_SHAPE.size
    return header + frame_count * sum(h * w for h, w in shapes) * _dtype(bits).itemsize


def block_to_frames(raw: bytes) -> tuple[list[Frame], int]:
    """Inverse of :func:`frames_to_block`: (frames, bits); NotApplicable if malformed."""
    bits, frame_count, shapes, position = parse_frame_header(raw)
    if len(raw) != frame_block_size(bits, frame_count, shapes):
        raise NotApplicable("frame block size does not match its header")
    dtype = _dtype(bits)
    frames: list[Frame] = []
    for _ in range(frame_count):
        frame: Frame = []
        for height, width in shapes:
            plane = np.frombuffer(raw, dtype=dtype, count=height * width, offset=position)
            position += plane.nbytes
            frame.append(plane.reshape(height, width))
        frames.append(frame)
    if max(int(plane.max()) for frame in frames for plane in frame) >= (1 << bits):
        raise NotApplicable(f"sample values do not fit in {bits} bits")
    return frames, bits
