"""The pixel model's pass schedule and its batched neighbourhood gathering (numpy, no pixel loop).

An image is coded coarse to fine by recursive 2×2 interleaving. At level ``l`` (step ``s = 2^l``)
the pixels whose row and column are multiples of ``2s`` are already known; the level adds

    phase 0 "diagonal":  (odd, odd)·s   predicted from its 4 diagonal neighbours at distance s
    phase 1 "axis":      (odd, even)·s  predicted from 4 axis neighbours (2 grid, 2 diagonal)
    phase 2 "axis":      (even, odd)·s  the transpose of phase 1 (same model, offsets transposed)

    level l, s = 2^l:     G . G . G        G = known (multiples of 2s)
                          . D A D .        D = phase 0, then A = phases 1 and 2
                          G A G A G
                          . D A D .

The top level is the first with ``2s >= max(H, W)``, so its known grid is the single pixel (0, 0),
which is coded alone. Each (level, phase) pixel set is an outer product ``rows × cols``, so a
neighbour at offset (dy, dx)·s is gathered for the whole pass with one fancy index
``plane[np.ix_(rows', cols')]``. Borders: an offset that leaves the image is mirrored about the
pixel, then clamped to the nearest known row/column of the right parity; when no such row or
column exists (images narrower than the step) the pixel's first axis neighbour stands in.

Passes are cut into chunks of rows (:data:`CHUNK_PIXELS` pixels at most) so that the coder can
adapt its tables between chunks and memory stays bounded on big images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Most pixels in one chunk of a pass (one batched forward per chunk and channel).
CHUNK_PIXELS = 1 << 16

#: Neighbour offsets in units of the level's step, nearest ring first. The first four are the
#: ring the base prediction averages. Phase 2 uses phase 1's offsets transposed.
DIAGONAL_OFFSETS: tuple[tuple[int, int], ...] = (
    (-1, -1), (-1, 1), (1, -1), (1, 1),
    (-1, -3), (-1, 3), (1, -3), (1, 3), (-3, -1), (-3, 1), (3, -1), (3, 1),
)  # fmt: skip
AXIS_OFFSETS: tuple[tuple[int, int], ...] = (
    (-1, 0), (1, 0), (0, -1), (0, 1),
    (-1, -2), (-1, 2), (1, -2), (1, 2), (-2, -1), (-2, 1), (2, -1), (2, 1),
)  # fmt: skip
NEIGHBOURS = len(AXIS_OFFSETS)
#: How many of the offsets form the inner ring (the base prediction's support).
INNER_RING = 4


@dataclass(frozen=True)
class Pass:
    """One (level, phase): the pixels ``rows × cols`` and the gather indices of their neighbours."""

    level: int
    phase: int  # 0 diagonal, 1 axis (odd, even), 2 axis (even, odd)
    rows: np.ndarray  # (R,) int64 row coordinates
    cols: np.ndarray  # (Q,) int64 column coordinates
    neighbour_rows: np.ndarray  # (NEIGHBOURS, R) int64
    neighbour_cols: np.ndarray  # (NEIGHBOURS, Q) int64

    @property
    def kind(self) -> int:
        """0 for the diagonal phase, 1 for the axis phases (which share one model)."""
        return 0 if self.phase == 0 else 1

    @property
    def size(self) -> int:
        return int(self.rows.size * self.cols.size)

    def chunks(self) -> Iterator[tuple[int, int]]:
        """Row ranges ``[r0, r1)`` of the pass, each at most CHUNK_PIXELS pixels (at least one row)."""
        rows_per_chunk = max(1, CHUNK_PIXELS // max(1, self.cols.size))
        for start in range(0, self.rows.size, rows_per_chunk):
            yield start, min(self.rows.size, start + rows_per_chunk)


def level_count(height: int, width: int) -> int:
    """Levels above the single top pixel: the smallest L with ``2^L >= max(height, width)``."""
    size = max(height, width)
    levels = 0
    while (1 << levels) < size:
        levels += 1
    return levels


def _axis_coordinates(length: int, step: int, odd: bool) -> np.ndarray:
    """Coordinates ``k·step < length`` with k odd (``odd``) or even."""
    start = step if odd else 0
    return np.arange(start, length, 2 * step, dtype=np.int64)


def _neighbour_coordinates(
    coords: np.ndarray, offset: int, step: int, length: int
) -> np.ndarray | None:
    """Coordinates ``coords + offset·step``, mirrored about ``coords`` when outside ``[0, length)``,
    then clamped to the nearest in-range one of the same parity; None when none exists."""
    if offset == 0:
        return coords
    wanted = coords + offset * step
    mirrored = coords - offset * step
    # Known coordinates along this axis are k·step with k of the parity of (coords/step + offset).
    parity = (int(coords[0]) // step + offset) % 2 if coords.size else 0
    lowest = parity * step
    highest = ((length - 1) // step - (((length - 1) // step - parity) % 2)) * step
    if highest < lowest:
        return None
    out = np.where((wanted >= 0) & (wanted < length), wanted, mirrored)
    return np.clip(out, lowest, highest)


def build_passes(height: int, width: int) -> list[Pass]:
    """The whole schedule, coarse to fine; empty passes are left out."""
    passes: list[Pass] = []
    for level in range(level_count(height, width) - 1, -1, -1):
        step = 1 << level
        for phase in (0, 1, 2):
            rows = _axis_coordinates(height, step, odd=phase in (0, 1))
            cols = _axis_coordinates(width, step, odd=phase in (0, 2))
            if rows.size == 0 or cols.size == 0:
                continue
            offsets = DIAGONAL_OFFSETS if phase == 0 else AXIS_OFFSETS
            if phase == 2:
                offsets = tuple((dx, dy) for dy, dx in offsets)
            # The pixel's first offset always exists (it points up or left, towards 0).
            fallback = offsets[0]
            neighbour_rows, neighbour_cols = [], []
            for dy, dx in offsets:
                nr = _neighbour_coordinates(rows, dy, step, height)
                nc = _neighbour_coordinates(cols, dx, step, width)
                if nr is None or nc is None:
                    nr = _neighbour_coordinates(rows, fallback[0], step, height)
                    nc = _neighbour_coordinates(cols, fallback[1], step, width)
                assert nr is not None and nc is not None
                neighbour_rows.append(nr)
                neighbour_cols.append(nc)
            passes.append(
                Pass(level, phase, rows, cols, np.stack(neighbour_rows), np.stack(neighbour_cols))
            )
    return passes


def gather_neighbours(plane: np.ndarray, item: Pass, r0: int, r1: int) -> np.ndarray:
    """Neighbour values of rows ``[r0, r1)`` of the pass: (NEIGHBOURS, (r1-r0)·Q) int32."""
    out = np.empty((NEIGHBOURS, (r1 - r0) * item.cols.size), dtype=np.int32)
    for index in range(NEIGHBOURS):
        rows = item.neighbour_rows[index, r0:r1]
        out[index] = plane[np.ix_(rows, item.neighbour_cols[index])].reshape(-1)
    return out


def gather_pixels(plane: np.ndarray, item: Pass, r0: int, r1: int) -> np.ndarray:
    """The pass's own pixels of rows ``[r0, r1)``, flattened row-major: ((r1-r0)·Q,) int32."""
    return plane[np.ix_(item.rows[r0:r1], item.cols)].reshape(-1).astype(np.int32)


def scatter_pixels(plane: np.ndarray, item: Pass, r0: int, r1: int, values: np.ndarray) -> None:
    """Write decoded values back into ``plane`` at the pass's rows ``[r0, r1)``."""
    plane[np.ix_(item.rows[r0:r1], item.cols)] = values.reshape(r1 - r0, item.cols.size)
