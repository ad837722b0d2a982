"""Cutting a block into B parallel segments coded in lockstep, in (t, b) order.

A block of ``n`` symbols is cut into ``segment_count`` contiguous segments; the first
``n % segment_count`` are one symbol longer than the rest. Symbols are coded in the order
(step t, segment b): at step t the active segments are always a prefix ``0 .. active(t)-1``,
because segment lengths never increase with b. The decoder needs only ``active(t)`` tables at a
time, and a model can run all segments of a step in one batched call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segmentation:
    """How ``size`` symbols are split into ``segment_count`` lockstep segments."""

    size: int
    segment_count: int

    def __post_init__(self) -> None:
        if self.size < 0 or self.segment_count < 1:
            raise ValueError("size must be >= 0 and segment_count >= 1")
        if self.size and self.segment_count > self.size:
            raise ValueError("more segments than symbols")

    @property
    def short_length(self) -> int:
        """Length of the shorter segments (all segments have this or one more)."""
        return self.size // self.segment_count

    @property
    def long_count(self) -> int:
        """How many leading segments are one symbol longer."""
        return self.size % self.segment_count

    @property
    def steps(self) -> int:
        return self.short_length + (1 if self.long_count else 0)

    def lengths(self) -> np.ndarray:
        lengths = np.full(self.segment_count, self.short_length, dtype=np.int64)
        lengths[: self.long_count] += 1
        return lengths

    def starts(self) -> np.ndarray:
        """Offset of each segment in the block."""
        return np.concatenate([[0], np.cumsum(self.lengths())[:-1]]).astype(np.int64)

    def active(self, step: int) -> int:
        """Number of segments that still have a symbol at ``step``."""
        if step < self.short_length:
            return self.segment_count
        return self.long_count if step < self.steps else 0

    def interleave_order(self) -> np.ndarray:
        """Indices into the block, listed in coding order (t, b)."""
        starts = self.starts()
        steps = np.arange(self.steps, dtype=np.int64)
        grid = starts[None, :] + steps[:, None]  # (T, B)
        valid = steps[:, None] < self.lengths()[None, :]
        return grid[valid]

    def interleave(self, block: np.ndarray) -> np.ndarray:
        """Block symbols -> coding order."""
        return np.asarray(block)[self.interleave_order()]

    def deinterleave(self, coded_order: np.ndarray) -> np.ndarray:
        """Coding order -> block symbols (inverse of :meth:`interleave`)."""
        out = np.empty(self.size, dtype=np.asarray(coded_order).dtype)
        out[self.interleave_order()] = coded_order
        return out

    def step_offset(self, step: int) -> int:
        """Position in coding order of the first symbol of ``step`` (``step`` may equal ``steps``)."""
        full_steps = min(step, self.short_length)
        return full_steps * self.segment_count + max(0, step - self.short_length) * self.long_count


def choose_segment_count(size: int, wanted: int, min_segment_length: int) -> int:
    """The segment count used for a block: ``wanted``, fewer when segments would get too short."""
    if size <= 0:
        return 1
    return int(max(1, min(wanted, size // max(1, min_segment_length))))
