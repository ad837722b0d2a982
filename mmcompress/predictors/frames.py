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

:class:`FramesCodec` (kind "frames") codes such a block with the integer pixel model of
:mod:`.pixel` (its pass walk, rank tables and bias correction, shared, not copied):

    frame 0          each plane alone, as a one-channel image (no previous-channel slot)
    frame f > 0      mode: STATIC (equal to frame f-1: nothing more), INTRA (like frame 0: scene
                     cut), or INTER:
                       luma block vectors (:mod:`.motion`, half pixels, chroma scaled), sent as
                       differences under adaptive tables;
                       one exact-copy flag per block: the block equals its motion-compensated
                       reference in every plane; its pixels are filled from the reference and are
                       neither coded nor counted in the adaptive statistics;
                       every other pixel through the pixel model with previous-channel slot 0 =
                       the motion-compensated reference of the same plane (the convention the
                       video fine-tune "pixel-v" is trained with), no other slot.

Samples above 8 bits are coded as two 8-bit planes, the top 8 bits then the low bits (the
reference split the same way). Adaptive statistics carry over from frame to frame (per plane,
intra and inter apart). Side information and pixels share one range coder. Payload: the block's
frame header, the payload version and motion block size (one byte each), the coder's words.

Costs (``mmcompress explain``): :meth:`FramesCodec.encode_with_costs` returns the same payload
and, per frame, each plane's per-sample −log2 p and the bits of its side information
(:class:`FrameCosts`; samples not coded, in exact copies and static frames, cost 0).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..coder import Decoder, Encoder
from ..errors import CorruptArchive
from ..imaging.pixelmodel import IntPixelModel
from ..intmath import scores_to_freq_table
from .base import BlockCodec, NotApplicable
from .motion import (
    BLOCK,
    MAX_VECTOR,
    block_grid,
    block_mismatch,
    compensate,
    estimate_motion,
    subsampling,
)
from .pixel import (
    PRECISION_BITS,
    WalkOptions,
    cost_maps,
    find_model_file,
    walk_planes,
)

FRAME_HEADER = struct.Struct("<BBBBI")
PLANE_SHAPE = struct.Struct("<II")
FRAME_BLOCK_VERSION = 1
#: Most samples of one block (bounds the memory a hostile header can ask for).
MAX_BLOCK_SAMPLES = 1 << 28

Frame = list[np.ndarray]
#: Pixel model the codec runs unless told otherwise (a video fine-tune replaces it).
DEFAULT_FRAMES_MODEL = "pixel-v"


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


# ------------------------------------------------------------------------------------------------
# The codec (kind "frames")
# ------------------------------------------------------------------------------------------------

#: Payload layout version (the byte after the copied frame header).
PAYLOAD_VERSION = 1
#: Weight of one coded side-info symbol in its adaptive counts.
SIDE_WEIGHT = 16
#: Frame modes (coded for every frame after the first).
STATIC, INTER, INTRA = 0, 1, 2
FRAME_MODES = 3
#: Contexts of the exact-copy flag: the block's flag in the previous inter frame (0, 1) or none (2).
EXACT_CONTEXTS = 3


class _SideInfoModel:
    """Adaptive tables of the side information, updated once per frame (both sides alike).

    Per frame after the first: its mode (:data:`STATIC`: the frame repeats the previous one,
    nothing else is sent; :data:`INTRA`: coded alone, like frame 0, e.g. after a scene cut;
    :data:`INTER`), then for inter frames every block's vector as differences (from the block to
    its left; the first column from the block above), dy and dx each under its own table, then
    the blocks' exact-copy flags under a table chosen by the block's flag in the previous inter
    frame.
    """

    def __init__(self) -> None:
        alphabet = 8 * MAX_VECTOR + 1  # differences of half-pixel vectors
        self.offset = 4 * MAX_VECTOR
        prior = np.ones(alphabet, dtype=np.int64)
        prior[self.offset] = 4 * alphabet  # most vectors repeat their neighbour's
        self.mode_counts = np.ones(FRAME_MODES, dtype=np.int64)
        self.delta_counts = [prior.copy(), prior.copy()]
        self.exact_counts = np.ones((EXACT_CONTEXTS, 2), dtype=np.int64)
        self.previous_exact: np.ndarray | None = None

    def mode_table(self) -> np.ndarray:
        return scores_to_freq_table(self.mode_counts, PRECISION_BITS)

    def exact_contexts(self, blocks: tuple[int, int]) -> np.ndarray:
        if self.previous_exact is None or self.previous_exact.shape != blocks:
            return np.full(blocks[0] * blocks[1], EXACT_CONTEXTS - 1, dtype=np.int64)
        return self.previous_exact.reshape(-1).astype(np.int64)

    def update(self, mode: int, deltas: np.ndarray | None, exact: np.ndarray | None) -> None:
        self.mode_counts[mode] += SIDE_WEIGHT
        if deltas is None or exact is None:
            return
        for axis in (0, 1):
            seen = np.bincount(deltas[..., axis].reshape(-1) + self.offset,
                               minlength=self.delta_counts[axis].size)  # fmt: skip
            self.delta_counts[axis] += SIDE_WEIGHT * seen
        contexts = self.exact_contexts(exact.shape)  # type: ignore[arg-type]
        np.add.at(self.exact_counts, (contexts, exact.reshape(-1).astype(np.int64)), SIDE_WEIGHT)
        self.previous_exact = exact.copy()


def _vector_deltas(vectors: np.ndarray) -> np.ndarray:
    """Vectors (BR, BC, 2) -> differences to the left neighbour (first column: to the one above)."""
    deltas = vectors.copy()
    deltas[:, 1:] -= vectors[:, :-1]
    deltas[1:, 0] -= vectors[:-1, 0]
    return deltas


def _vectors_from_deltas(deltas: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_vector_deltas` (two cumulative sums)."""
    vectors = deltas.copy()
    vectors[:, 0] = np.cumsum(deltas[:, 0], axis=0)
    return np.cumsum(vectors, axis=1)


def _known_mask(exact: np.ndarray, shape: tuple[int, int], sub: tuple[int, int]) -> np.ndarray:
    """Pixels of a plane that lie in exact-copy blocks: (H, W) bool."""
    rows = np.minimum((np.arange(shape[0]) * sub[0]) // BLOCK, exact.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) * sub[1]) // BLOCK, exact.shape[1] - 1)
    return exact[rows[:, None], cols[None, :]]


@dataclass
class FrameCosts:
    """What one frame of a block cost, as :meth:`FramesCodec.encode_with_costs` codes it.

    ``planes[p]``: −log2 p of every sample of plane p (its own shape; above 8 bits its top and
    low planes together) under the table it was coded with. Samples not coded cost 0: a STATIC
    frame's, the pixels of exact-copy blocks (their flag is in ``side_bits``), planes with one
    value. ``side_bits``: the frame's mode, motion vectors and exact-copy flags.
    """

    mode: int
    planes: list[np.ndarray]
    side_bits: float = 0.0

    @property
    def total_bits(self) -> float:
        return self.side_bits + float(sum(float(plane.sum()) for plane in self.planes))


@dataclass
class FramesBlockCosts:
    """A frame block's payload (the bytes :meth:`FramesCodec.encode_block` gives), the range
    coder's share of it (what Σ costs / 8 approaches) and each frame's costs."""

    payload: bytes
    coder_bytes: int
    frames: list[FrameCosts]


def _side_cost(table: np.ndarray, symbols: np.ndarray) -> float:
    """Σ −log2 p of ``symbols`` under one integer table, or one table per symbol (2-D)."""
    tables = np.asarray(table, dtype=np.float64)
    symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
    picked = tables[symbols] if tables.ndim == 1 else tables[np.arange(symbols.size), symbols]
    return float(np.sum(PRECISION_BITS - np.log2(picked)))


def _prefers_intra(current: np.ndarray, previous: np.ndarray, vectors: np.ndarray) -> bool:
    """Encoder's choice: code a frame alone when its luma is closer to its left neighbours than to
    the motion-compensated previous frame (a scene cut). Integer means, compared cross-multiplied.
    """
    current = current.astype(np.int32)
    temporal = int(np.abs(current - compensate(previous, vectors)).sum())
    spatial = int(np.abs(np.diff(current, axis=1)).sum())
    height, width = current.shape
    return temporal * (width - 1) > spatial * width if width > 1 else False


def _plane_split(bits: int) -> tuple[list[int], list[int]]:
    """Coding order and maxima of the 8-bit planes one sample plane becomes (see
    :func:`_byte_planes`)."""
    if bits <= 8:
        return [0], [(1 << bits) - 1]
    return [0, 1], [255, (1 << (bits - 8)) - 1]


def _byte_planes(plane: np.ndarray, bits: int) -> np.ndarray:
    """One sample plane -> the walk's 8-bit plane stack.

    Above 8 bits: the top 8 bits (a smooth 8-bit image, what the pixel model knows), then the
    ``bits - 8`` low bits (conditioned on the top plane, or on the reference's low bits). Unlike
    the image codec's high/low *byte* split, no plane wraps around where the other one steps.
    """
    samples = np.asarray(plane)
    if bits <= 8:
        return np.ascontiguousarray(samples, dtype=np.uint8)[None]
    low_bits = bits - 8
    stack = np.empty((2, *samples.shape), dtype=np.uint8)
    stack[0] = samples >> low_bits
    stack[1] = samples & ((1 << low_bits) - 1)
    return stack


def _sample_plane(stack: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`_byte_planes`: uint8 (bits <= 8) or uint16 samples."""
    if bits <= 8:
        return stack[0].copy()
    low_bits = bits - 8
    return (stack[0].astype(np.uint16) << low_bits) | stack[1]


class FramesCodec(BlockCodec):
    """Block codec for frame blocks: intra first frame, motion-compensated pixel model after.

    Frame 0: every plane a single-channel image under the pixel codec's walk; later frames:
    static, intra or inter with block motion, exact copies and the motion-compensated reference
    as the model's previous-channel slot 0 (the module docstring has the whole scheme).
    """

    kind: ClassVar[str] = "frames"
    precision_bits = PRECISION_BITS

    def __init__(self, name: str = DEFAULT_FRAMES_MODEL, sha256: str = "",
                 model: IntPixelModel | None = None) -> None:  # fmt: skip
        if model is None:
            path = find_model_file(name, sha256)
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
            model = IntPixelModel.load(path)
        self.model: IntPixelModel = model
        self.name = name
        self.sha256 = sha256

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FramesCodec:
        if config.get("version", 1) != 1:
            raise ValueError("unknown frames codec version")
        return cls(str(config.get("name", DEFAULT_FRAMES_MODEL)), str(config.get("sha256", "")))

    def config(self) -> dict[str, Any]:
        return {"id": self.kind, "version": 1, "name": self.name, "sha256": self.sha256}

    # -- shared walk helpers ----------------------------------------------------------------------

    def _code_intra(self, stack: np.ndarray, bits: int, states: dict[Any, Any],
                    coder: Encoder | Decoder,
                    costs: dict[int, np.ndarray] | None = None) -> None:  # fmt: skip
        order, maxima = _plane_split(bits)
        options = WalkOptions(states=states, costs=costs)
        walk_planes(stack, maxima, order, self.model, coder, options)

    def _code_inter(self, stack: np.ndarray, reference: np.ndarray, known: np.ndarray, bits: int,
                    states: dict[Any, Any], coder: Encoder | Decoder,
                    costs: dict[int, np.ndarray] | None = None) -> None:  # fmt: skip
        order, maxima = _plane_split(bits)
        references = {plane: reference[plane] for plane in order}
        options = WalkOptions(references, {plane: known for plane in order}, states, costs)
        walk_planes(stack, maxima, order, self.model, coder, options)

    # -- encoder ----------------------------------------------------------------------------------

    def encode_block(self, raw: bytes, tag: int = 0) -> bytes:
        return self._encode(raw, None)[0]

    def encode_with_costs(self, raw: bytes) -> FramesBlockCosts:
        """:meth:`encode_block`'s payload (the same bytes) and the costs of every frame."""
        record: list[FrameCosts] = []
        payload, coder_bytes = self._encode(raw, record)
        return FramesBlockCosts(payload, coder_bytes, record)

    def costs(self, raw: bytes) -> list[FrameCosts]:
        """Per frame of a raw frame block: per-plane cost maps in bits (and side-info bits)."""
        return self.encode_with_costs(raw).frames

    def _encode(self, raw: bytes, record: list[FrameCosts] | None) -> tuple[bytes, int]:
        """(payload, range-coder bytes); ``record`` given: each frame's costs are appended."""
        frames, bits = block_to_frames(raw)
        header_length = parse_frame_header(raw)[3]
        shapes = [plane.shape for plane in frames[0]]
        subs = [subsampling(shapes[0], shape) for shape in shapes]
        blocks = block_grid(*shapes[0])
        encoder = Encoder(PRECISION_BITS)
        states: dict[tuple[int, bool], dict[Any, Any]] = {}
        side = _SideInfoModel()
        for index, frame in enumerate(frames):
            previous = frames[index - 1]
            costs = None if record is None else FrameCosts(INTRA, [])
            if record is not None and costs is not None:
                record.append(costs)
            if index and all(np.array_equal(a, b) for a, b in zip(previous, frame, strict=True)):
                self._code_mode(STATIC, side, encoder, costs)
                if costs is not None:
                    costs.planes = [np.zeros(plane.shape) for plane in frame]
                continue
            vectors = estimate_motion(frame[0], previous[0]) if index else None
            if vectors is None or _prefers_intra(frame[0], previous[0], vectors):
                if index:
                    self._code_mode(INTRA, side, encoder, costs)
                for plane_index, plane in enumerate(frame):
                    stack = _byte_planes(plane, bits)
                    maps = None if costs is None else cost_maps(stack)
                    self._code_intra(stack, bits, states.setdefault((plane_index, False), {}),
                                     encoder, maps)  # fmt: skip
                    if costs is not None and maps is not None:
                        costs.planes.append(sum(maps.values(), np.zeros(plane.shape)))
                continue
            self._code_mode(INTER, side, encoder, costs)
            references = [
                compensate(p, vectors, sub) for p, sub in zip(previous, subs, strict=True)
            ]
            exact = np.ones(blocks, dtype=bool)
            for plane, reference, sub in zip(frame, references, subs, strict=True):
                exact &= ~block_mismatch(plane, reference, blocks, sub)
            self._code_side(side, _vector_deltas(vectors), exact, encoder, costs)
            for plane_index, (plane, reference, sub) in enumerate(
                zip(frame, references, subs, strict=True)
            ):
                known = _known_mask(exact, plane.shape, sub)
                stack = _byte_planes(plane, bits)
                maps = None if costs is None else cost_maps(stack)
                self._code_inter(stack, _byte_planes(reference, bits), known, bits,
                                 states.setdefault((plane_index, True), {}), encoder,
                                 maps)  # fmt: skip
                if costs is not None and maps is not None:
                    costs.planes.append(sum(maps.values(), np.zeros(plane.shape)))
        words = encoder.finish()
        return bytes(raw[:header_length]) + bytes([PAYLOAD_VERSION, BLOCK]) + words, len(words)

    def _code_mode(self, mode: int, side: _SideInfoModel, encoder: Encoder,
                   costs: FrameCosts | None) -> None:  # fmt: skip
        """Code a later frame's mode (an INTER frame's side info follows in :meth:`_code_side`)."""
        table = side.mode_table()
        encoder.encode_shared(np.array([mode], dtype=np.int32), table)
        if costs is not None:
            costs.mode = mode
            costs.side_bits += _side_cost(table, np.array([mode]))
        if mode != INTER:
            side.update(mode, None, None)

    def _code_side(self, side: _SideInfoModel, deltas: np.ndarray, exact: np.ndarray,
                   encoder: Encoder, costs: FrameCosts | None = None) -> None:  # fmt: skip
        for axis in (0, 1):
            table = scores_to_freq_table(side.delta_counts[axis], PRECISION_BITS)
            symbols = (deltas[..., axis].reshape(-1) + side.offset).astype(np.int32)
            encoder.encode_shared(symbols, table)
            if costs is not None:
                costs.side_bits += _side_cost(table, symbols)
        tables = scores_to_freq_table(side.exact_counts, PRECISION_BITS)
        contexts = side.exact_contexts(exact.shape)  # type: ignore[arg-type]
        flags = exact.reshape(-1).astype(np.int32)
        encoder.encode(flags, tables[contexts])
        if costs is not None:
            costs.side_bits += _side_cost(tables[contexts], flags)
        side.update(INTER, deltas, exact)

    # -- decoder ----------------------------------------------------------------------------------

    def decode_block(self, payload: bytes, raw_size: int) -> bytes:
        try:
            bits, frame_count, shapes, header_length = parse_frame_header(payload)
        except NotApplicable as exc:
            raise CorruptArchive(f"frames block: {exc}") from None
        if frame_block_size(bits, frame_count, shapes) != raw_size:
            raise CorruptArchive("frames block header does not match the block size")
        if len(payload) < header_length + 2 or payload[header_length] != PAYLOAD_VERSION:
            raise CorruptArchive("frames block: unknown payload version")
        if payload[header_length + 1] != BLOCK:
            raise CorruptArchive("frames block: unsupported motion block size")
        decoder = Decoder(payload[header_length + 2 :], PRECISION_BITS)
        subs = [subsampling(shapes[0], shape) for shape in shapes]
        blocks = block_grid(*shapes[0])
        dtype = _dtype(bits)
        out = [bytes(payload[:header_length])]
        states: dict[tuple[int, bool], dict[Any, Any]] = {}
        side = _SideInfoModel()
        previous: Frame = []
        for index in range(frame_count):
            mode = int(decoder.decode_shared(1, side.mode_table())[0]) if index else INTRA
            if mode == STATIC:
                side.update(STATIC, None, None)
            elif mode == INTER:
                previous = self._decode_inter(decoder, side, states, previous, blocks, subs, bits)
            else:
                if index:
                    side.update(INTRA, None, None)
                previous = []
                for plane_index, shape in enumerate(shapes):
                    stack = np.zeros((2 if bits > 8 else 1, *shape), dtype=np.uint8)
                    self._code_intra(stack, bits, states.setdefault((plane_index, False), {}),
                                     decoder)  # fmt: skip
                    previous.append(_sample_plane(stack, bits))
            out += [np.ascontiguousarray(plane, dtype=dtype).tobytes() for plane in previous]
        raw = b"".join(out)
        if len(raw) != raw_size:
            raise CorruptArchive("frames block decoded to the wrong size")
        return raw

    def _decode_inter(self, decoder: Decoder, side: _SideInfoModel,
                      states: dict[tuple[int, bool], dict[Any, Any]], previous: Frame,
                      blocks: tuple[int, int], subs: list[tuple[int, int]],
                      bits: int) -> Frame:  # fmt: skip
        deltas = np.empty((*blocks, 2), dtype=np.int64)
        count = blocks[0] * blocks[1]
        for axis in (0, 1):
            table = scores_to_freq_table(side.delta_counts[axis], PRECISION_BITS)
            symbols = decoder.decode_shared(count, table).astype(np.int64) - side.offset
            deltas[..., axis] = symbols.reshape(blocks)
        tables = scores_to_freq_table(side.exact_counts, PRECISION_BITS)
        contexts = side.exact_contexts(blocks)
        exact = decoder.decode(tables[contexts]).astype(bool).reshape(blocks)
        side.update(INTER, deltas, exact)
        vectors = _vectors_from_deltas(deltas)
        frame: Frame = []
        for index, (plane, sub) in enumerate(zip(previous, subs, strict=True)):
            reference = _byte_planes(compensate(plane, vectors, sub), bits)
            known = _known_mask(exact, plane.shape, sub)
            stack = reference.copy()  # exact blocks are already right; the walk fills the rest
            self._code_inter(stack, reference, known, bits,
                             states.setdefault((index, True), {}), decoder)  # fmt: skip
            frame.append(_sample_plane(stack, bits))
        return frame
