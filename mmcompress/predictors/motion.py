"""Block motion for the video codec: motion search (encoder) and motion compensation (both sides).

A frame is cut into ``block × block`` luma blocks (the last row/column of blocks may hang over
the edge). Each block carries one integer vector ``(dy, dx)``: its motion-compensated reference
is the previous frame read at ``(y + dy, x + dx)``, coordinates clamped into the plane (edge
replication), so every vector gives a well-defined reference. A smaller plane (chroma) uses the
luma vectors scaled by the integer ratio ``sub = round(luma size / plane size)`` per axis: its
pixel ``y`` belongs to block ``(y · sub_y) // block`` and moves by ``floor((dy + sub_y // 2) /
sub_y)``. Only integer arithmetic, so both sides build the very same reference.

Search (encoder only, numpy-vectorised, no per-pixel loop), coarse to fine on luma:

1. a pyramid of 2×2 integer means, :data:`PYRAMID_LEVELS` levels down;
2. at the coarsest level a full search of ``±COARSE_RANGE`` (``±COARSE_RANGE · 2^levels`` pixels
   at full size: a page scroll of tens of pixels is found), one whole-plane shift per candidate;
3. at each finer level the doubled vector ``±1``, the neighbours' doubled vectors, zero and the
   frame's most common vector are tried per block (gathers of the candidates' block pixels);
4. cost = sum of absolute differences + a small price per unit of vector length; at full size a
   candidate that reproduces the block exactly wins (the exact-copy path of the codec).
"""

from __future__ import annotations

import numpy as np

#: Luma block size of the motion field.
BLOCK = 16
#: Downsampled levels below full size in the search pyramid.
PYRAMID_LEVELS = 2
#: Full-search radius at the coarsest level (in that level's pixels).
COARSE_RANGE = 16
#: Largest vector component in whole luma pixels (vectors are sent in half pixels, so up to
#: ``2 · MAX_VECTOR``); the codec's side info relies on it.
MAX_VECTOR = 96
#: Try half-pixel vectors around the best whole-pixel one (the format allows them either way).
HALF_PIXEL_SEARCH = True
#: Rounds of neighbour propagation after the full-size refinement.
PROPAGATION_ROUNDS = 2
#: Cost of one unit of vector length, in SAD units per block pixel / 16.
VECTOR_PRICE = 1


def block_grid(height: int, width: int, block: int = BLOCK) -> tuple[int, int]:
    """Rows and columns of blocks covering a ``height × width`` luma plane."""
    return -(-height // block), -(-width // block)


def subsampling(luma_shape: tuple[int, int], plane_shape: tuple[int, int]) -> tuple[int, int]:
    """Integer ratio (sub_y, sub_x) of a plane to luma: 1 for luma / 4:4:4, 2 for 4:2:0 chroma."""
    return tuple(  # type: ignore[return-value]
        max(1, (luma + plane // 2) // plane)
        for luma, plane in zip(luma_shape, plane_shape, strict=True)
    )


def _block_index(length: int, sub: int, block: int, blocks: int) -> np.ndarray:
    return np.minimum((np.arange(length, dtype=np.int64) * sub) // block, blocks - 1)


def scaled_vectors(vectors: np.ndarray, sub_y: int, sub_x: int) -> np.ndarray:
    """Luma vectors (BR, BC, 2) -> the vectors of a plane subsampled by (sub_y, sub_x)."""
    out = np.empty_like(vectors)
    out[..., 0] = np.floor_divide(vectors[..., 0] + sub_y // 2, sub_y)
    out[..., 1] = np.floor_divide(vectors[..., 1] + sub_x // 2, sub_x)
    return out


def compensate(
    reference: np.ndarray, vectors: np.ndarray, sub: tuple[int, int] = (1, 1), block: int = BLOCK
) -> np.ndarray:
    """Motion-compensated prediction of a plane from its previous frame (same shape and dtype).

    Vectors are in half pixels of luma; a plane's vector in its own half pixels is
    :func:`scaled_vectors`. A half-pixel position is the rounded mean of the (up to) four samples
    around it, ``(a + b + c + d + 2) >> 2``; a whole-pixel vector copies samples exactly.
    """
    height, width = reference.shape
    blocks_y, blocks_x = vectors.shape[:2]
    plane_vectors = scaled_vectors(vectors, *sub)
    by = _block_index(height, sub[0], block, blocks_y)
    bx = _block_index(width, sub[1], block, blocks_x)
    field = plane_vectors[by[:, None], bx[None, :]]  # (H, W, 2) half pixels
    rows = np.arange(height)[:, None] + (field[..., 0] >> 1)
    cols = np.arange(width)[None, :] + (field[..., 1] >> 1)
    return _bilinear(reference, rows, cols, field[..., 0] & 1, field[..., 1] & 1)


def _bilinear(
    reference: np.ndarray, rows: np.ndarray, cols: np.ndarray, half_y: np.ndarray,
    half_x: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Samples at (rows + half_y / 2, cols + half_x / 2), coordinates clamped into the plane."""
    height, width = reference.shape
    top, left = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
    if not half_y.any() and not half_x.any():
        return reference[top, left]
    bottom, right = np.clip(rows + half_y, 0, height - 1), np.clip(cols + half_x, 0, width - 1)
    total = reference[top, left].astype(np.int32) + reference[bottom, left]
    total += reference[top, right]
    total += reference[bottom, right]
    return ((total + 2) >> 2).astype(reference.dtype)


def block_mismatch(
    current: np.ndarray, predicted: np.ndarray, blocks: tuple[int, int], sub: tuple[int, int],
    block: int = BLOCK,
) -> np.ndarray:  # fmt: skip
    """(BR, BC) bool: blocks of this plane where ``predicted`` differs from ``current``."""
    height, width = current.shape
    by = _block_index(height, sub[0], block, blocks[0])
    bx = _block_index(width, sub[1], block, blocks[1])
    differs = current != predicted
    per_row = np.zeros((height, blocks[1]), dtype=bool)
    np.logical_or.at(per_row, (slice(None), bx), differs)  # type: ignore[arg-type]
    out = np.zeros(blocks, dtype=bool)
    np.logical_or.at(out, by, per_row)
    return out


# ------------------------------------------------------------------------------------------------
# Search (encoder only)
# ------------------------------------------------------------------------------------------------


def _downsample(plane: np.ndarray) -> np.ndarray:
    """2×2 integer mean (edge replicated for odd sizes)."""
    height, width = plane.shape
    padded = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge").astype(np.int32)
    total = padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2]
    return (total + 2) >> 2


def _block_coordinates(blocks: tuple[int, int], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rows (BR, 1, size, 1) and columns (1, BC, 1, size) of every block at this scale."""
    rows = (np.arange(blocks[0])[:, None] * size + np.arange(size)[None, :])[:, None, :, None]
    cols = (np.arange(blocks[1])[:, None] * size + np.arange(size)[None, :])[None, :, None, :]
    return rows, cols


def _candidate_costs(
    current_blocks: np.ndarray,
    valid: np.ndarray,
    reference: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    candidates: np.ndarray,
    price: int,
    half_pixels: bool,
) -> np.ndarray:
    """Cost of each per-block candidate vector: candidates (K, BR, BC, 2) -> (K, BR, BC).

    With ``half_pixels`` the candidates are in half pixels (bilinear, as :func:`compensate`).
    """
    costs = np.empty(candidates.shape[:3], dtype=np.int64)
    for k in range(candidates.shape[0]):
        dy = candidates[k, :, :, 0][:, :, None, None]
        dx = candidates[k, :, :, 1][:, :, None, None]
        if half_pixels:
            predicted = _bilinear(reference, rows + (dy >> 1), cols + (dx >> 1), dy & 1, dx & 1)
        else:
            predicted = _bilinear(reference, rows + dy, cols + dx, np.zeros(1), np.zeros(1))
        sad = (np.abs(current_blocks - predicted) * valid).sum(axis=(2, 3))
        costs[k] = sad + price * (np.abs(candidates[k, ..., 0]) + np.abs(candidates[k, ..., 1]))
    return costs


def _shift_costs(
    current_blocks: np.ndarray, valid: np.ndarray, reference: np.ndarray, shifts: np.ndarray,
    price: int,
) -> np.ndarray:  # fmt: skip
    """Cost of moving every block by each of ``shifts`` (K, 2), all within ``±COARSE_RANGE``:
    (K, BR, BC), the same costs as :func:`_candidate_costs`. One row gather per vertical shift,
    the horizontal shifts at once as sliding windows of the edge-padded rows."""
    blocks_y, blocks_x, size, _ = current_blocks.shape
    height, width = reference.shape
    span = 2 * COARSE_RANGE + 1
    current = current_blocks.transpose(0, 2, 1, 3).reshape(blocks_y * size, blocks_x * size)
    weight = np.broadcast_to(valid, current_blocks.shape).transpose(0, 2, 1, 3)
    weight = weight.reshape(current.shape)
    rows, columns = current.shape
    grid = np.empty((span, span, blocks_y, blocks_x), dtype=np.int64)  # (dy, dx, BR, BC)
    for dy in range(-COARSE_RANGE, COARSE_RANGE + 1):
        moved = reference[np.clip(np.arange(rows) + dy, 0, height - 1)]
        pad_right = max(0, columns - width) + COARSE_RANGE
        padded = np.pad(moved, ((0, 0), (COARSE_RANGE, pad_right)), mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, columns, axis=1)[:, :span]
        error = np.abs(windows - current[:, None, :]) * weight[:, None, :]  # (rows, dx, cols)
        sad = error.reshape(blocks_y, size, span, blocks_x, size).sum(axis=(1, 4))
        grid[dy + COARSE_RANGE] = sad.transpose(1, 0, 2)
    costs = grid[shifts[:, 0] + COARSE_RANGE, shifts[:, 1] + COARSE_RANGE]
    return costs + price * np.abs(shifts).sum(axis=1)[:, None, None]


def estimate_motion(current: np.ndarray, reference: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Block vectors (BR, BC, 2) int64, in half pixels, predicting luma ``current`` from
    ``reference``."""
    height, width = current.shape
    blocks = block_grid(height, width, block)
    levels = PYRAMID_LEVELS
    while levels and block >> levels < 2:
        levels -= 1
    pyramid = [(current.astype(np.int32), reference.astype(np.int32))]
    for _ in range(levels):
        pyramid.append((_downsample(pyramid[-1][0]), _downsample(pyramid[-1][1])))
    vectors = np.zeros((*blocks, 2), dtype=np.int64)
    for level in range(levels, -1, -1):
        cur, ref = pyramid[level]
        size = block >> level
        rows, cols = _block_coordinates(blocks, size)
        plane_h, plane_w = cur.shape
        valid = ((rows < plane_h) & (cols < plane_w)).astype(np.int32)
        current_blocks = cur[np.minimum(rows, plane_h - 1), np.minimum(cols, plane_w - 1)]
        price = VECTOR_PRICE * size * size // 16
        limit = MAX_VECTOR >> level
        if level == levels:
            span = np.arange(-COARSE_RANGE, COARSE_RANGE + 1)
            shifts = np.stack(np.meshgrid(span, span, indexing="ij"), axis=-1).reshape(-1, 2)
            # zero first: ties keep the zero vector
            shifts = shifts[np.argsort(np.abs(shifts).sum(axis=1), kind="stable")]
            costs = _shift_costs(current_blocks, valid, ref, shifts, price)
            vectors = shifts[np.argmin(costs, axis=0)]
            rounds = []
        else:
            rounds = ["refine"]
        if level == 0:
            # whole pixels, then half pixels around the best, then neighbour propagation
            rounds += ["half"] + ["propagate"] * PROPAGATION_ROUNDS
        half = False
        for kind in rounds:
            if kind == "refine":
                candidates = _refinement_candidates(vectors * 2)
            elif kind == "half":
                half, vectors = True, vectors * 2
                steps = (0, -1, 1) if HALF_PIXEL_SEARCH else (0,)
                candidates = np.stack([vectors + np.array([dy, dx])
                                       for dy in steps for dx in steps])  # fmt: skip
            else:
                # let good vectors spread to neighbours the coarse levels pointed elsewhere
                candidates = _neighbour_candidates(vectors)
            unit_price = price // 2 if half else price
            candidates = np.clip(candidates, -2 * limit if half else -limit,
                                 2 * limit if half else limit)  # fmt: skip
            costs = _candidate_costs(current_blocks, valid, ref, rows, cols, candidates,
                                     unit_price, half)  # fmt: skip
            if level == 0:
                # exact copies win (the codec then sends nothing else for the block)
                sad_zero = costs == unit_price * np.abs(candidates).sum(axis=-1)
                costs = np.where(sad_zero, -1, costs)
            best = np.argmin(costs, axis=0)
            vectors = np.take_along_axis(candidates, best[None, :, :, None], axis=0)[0]
        if level == 0 and not half:
            vectors = vectors * 2  # whole pixels -> half pixels
    return np.ascontiguousarray(vectors, dtype=np.int64)


def _neighbour_candidates(vectors: np.ndarray) -> np.ndarray:
    """The block's own vector first (kept on ties), then its 4 neighbours' vectors."""
    padded = np.pad(vectors, ((1, 1), (1, 1), (0, 0)), mode="edge")
    neighbours = [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
    return np.stack([vectors, *neighbours])


def _refinement_candidates(vectors: np.ndarray) -> np.ndarray:
    """Zero, the frame's most common vector, the block's vector ±1, its 4 neighbours' vectors."""
    flat = vectors.reshape(-1, 2)
    keys, counts = np.unique(flat, axis=0, return_counts=True)
    common = keys[np.argmax(counts)]
    out = [np.zeros_like(vectors), np.broadcast_to(common, vectors.shape)]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out.append(vectors + np.array([dy, dx]))
    padded = np.pad(vectors, ((1, 1), (1, 1), (0, 0)), mode="edge")
    out += [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
    return np.stack(out)
