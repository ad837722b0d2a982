"""Tests for mmcompress.segments: B lockstep segments, coding order (t, b)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcompress.segments import Segmentation, choose_segment_count


def test_ten_symbols_in_three_segments() -> None:
    seg = Segmentation(10, 3)
    assert (seg.short_length, seg.long_count, seg.steps) == (3, 1, 4)
    assert seg.lengths().tolist() == [4, 3, 3]
    assert seg.starts().tolist() == [0, 4, 7]
    assert seg.interleave_order().tolist() == [0, 4, 7, 1, 5, 8, 2, 6, 9, 3]
    assert [seg.active(t) for t in range(seg.steps)] == [3, 3, 3, 1]
    assert [seg.step_offset(t) for t in range(seg.steps + 1)] == [0, 3, 6, 9, 10]
    block = np.frombuffer(b"abcdefghij", dtype=np.uint8)
    assert seg.interleave(block).tobytes() == b"aehbficgjd"
    assert seg.deinterleave(seg.interleave(block)).tobytes() == b"abcdefghij"


def test_even_split_has_no_long_segments() -> None:
    seg = Segmentation(12, 4)
    assert (seg.short_length, seg.long_count, seg.steps) == (3, 0, 3)
    assert seg.interleave_order().tolist() == [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]
    assert [seg.active(t) for t in range(4)] == [4, 4, 4, 0]


def test_one_segment_is_the_identity() -> None:
    seg = Segmentation(5, 1)
    assert seg.interleave_order().tolist() == [0, 1, 2, 3, 4]
    assert seg.steps == 5


def test_empty_block() -> None:
    seg = Segmentation(0, 4)
    assert seg.steps == 0
    assert seg.interleave_order().tolist() == []
    assert seg.deinterleave(np.zeros(0, dtype=np.uint8)).tolist() == []
    assert seg.step_offset(0) == 0


@pytest.mark.parametrize(("size", "segment_count"), [(-1, 1), (5, 0), (3, 4)])
def test_invalid_segmentations_raise(size: int, segment_count: int) -> None:
    with pytest.raises(ValueError):
        Segmentation(size, segment_count)


def test_active_after_the_last_step_is_zero() -> None:
    seg = Segmentation(10, 3)
    assert seg.active(seg.steps) == 0


@st.composite
def segmentations(draw: st.DrawFn) -> Segmentation:
    size = draw(st.integers(0, 3000))
    segment_count = draw(st.integers(1, max(1, size)))
    return Segmentation(size, segment_count)


@settings(max_examples=300, deadline=None)
@given(segmentations())
def test_interleave_and_deinterleave_are_inverse(seg: Segmentation) -> None:
    block = np.random.default_rng(seg.size * 7919 + seg.segment_count).integers(
        0, 256, seg.size, dtype=np.uint8
    )
    order = seg.interleave_order()
    assert sorted(order.tolist()) == list(range(seg.size))  # a permutation
    assert np.array_equal(seg.deinterleave(seg.interleave(block)), block)
    assert np.array_equal(seg.interleave(seg.deinterleave(block)), block)


@settings(max_examples=300, deadline=None)
@given(segmentations())
def test_active_segments_are_a_prefix_and_steps_tile_the_coding_order(seg: Segmentation) -> None:
    lengths = seg.lengths()
    starts = seg.starts()
    assert int(lengths.sum()) == seg.size
    assert int(lengths.max()) - int(lengths.min()) <= 1
    assert np.all(np.diff(lengths) <= 0)  # never longer further right: active is a prefix
    order = seg.interleave_order()
    offset = 0
    for step in range(seg.steps):
        active = seg.active(step)
        assert active == int((lengths > step).sum())
        assert 1 <= active <= seg.segment_count
        assert seg.step_offset(step) == offset
        # the symbols of step t are position t of segments 0 .. active-1, in that order
        assert order[offset : offset + active].tolist() == (starts[:active] + step).tolist()
        offset += active
    assert seg.step_offset(seg.steps) == offset == seg.size


@pytest.mark.parametrize(
    ("size", "wanted", "min_segment_length", "expected"),
    [
        (0, 8, 16, 1),
        (-5, 8, 16, 1),
        (1000, 8, 16, 8),
        (100, 8, 16, 6),
        (10, 8, 16, 1),
        (5, 8, 0, 5),  # a minimum of 0 counts as 1
        (5, 0, 1, 1),
        (1 << 20, 256, 64, 256),
    ],
)
def test_choose_segment_count(
    size: int, wanted: int, min_segment_length: int, expected: int
) -> None:
    assert choose_segment_count(size, wanted, min_segment_length) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1 << 24), st.integers(1, 4096), st.integers(1, 4096))
def test_chosen_segment_count_is_always_usable(size: int, wanted: int, min_length: int) -> None:
    count = choose_segment_count(size, wanted, min_length)
    assert 1 <= count <= wanted
    Segmentation(size, count)  # valid
    if count > 1:
        assert size // count >= min_length
