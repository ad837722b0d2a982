"""Tests for mmcompress.intmath: the integer rule that turns scores into frequency tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcompress.intmath import MAX_PRECISION_BITS, is_valid_freq_table, scores_to_freq_table


def reference_table(scores: list[int], precision_bits: int) -> list[int]:
    """The documented rule, spelled out with Python integers, one row at a time."""
    total = 1 << precision_bits
    spare = total - len(scores)
    row_sum = sum(scores)
    table = [1 + (score * spare // row_sum if row_sum else 0) for score in scores]
    top = scores.index(max(scores))  # largest score, lowest index on ties
    table[top] += total - sum(table)
    return table


@pytest.mark.parametrize(
    ("scores", "precision_bits", "expected"),
    [
        # spare 13: floors 13*1//4=3, 3, 26//4=6 -> [4, 4, 7], the leftover 1 goes to the top score
        ([1, 1, 2], 4, [4, 4, 8]),
        # ties: floors 39//7=5, 5, 13//7=1 -> [6, 6, 2], leftover 2 goes to the lowest top index
        ([3, 3, 1], 4, [8, 6, 2]),
        # a zero score still gets its 1
        ([0, 5], 3, [1, 7]),
        # alphabet == total: nothing to share
        ([7, 0, 3, 9], 2, [1, 1, 1, 1]),
        # one symbol takes the whole total
        ([42], 10, [1024]),
        ([1, 2, 3, 4], 8, [26, 51, 76, 103]),
    ],
)
def test_exact_tables_for_hand_made_scores(
    scores: list[int], precision_bits: int, expected: list[int]
) -> None:
    table = scores_to_freq_table(np.array(scores), precision_bits)
    assert table.dtype == np.uint32
    assert table.tolist() == expected
    assert table.tolist() == reference_table(scores, precision_bits)


def test_rows_are_independent_and_leading_axes_are_kept() -> None:
    scores = np.array([[[1, 1, 2], [3, 3, 1]], [[0, 0, 5], [1, 0, 0]]])
    tables = scores_to_freq_table(scores, 4)
    assert tables.shape == (2, 2, 3)
    assert tables.tolist() == [[[4, 4, 8], [8, 6, 2]], [[1, 1, 14], [14, 1, 1]]]


def test_zero_row_is_a_valid_table() -> None:
    tables = scores_to_freq_table(np.zeros((2, 4), dtype=np.int64), 3)
    assert tables.sum(axis=-1).tolist() == [8, 8]
    assert (tables >= 1).all()
    assert is_valid_freq_table(tables, 3)


def test_zero_row_is_uniform_as_documented() -> None:
    assert scores_to_freq_table(np.zeros(4, dtype=np.int64), 3).tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize("precision_bits", [0, -1, MAX_PRECISION_BITS + 1])
def test_precision_out_of_range_raises(precision_bits: int) -> None:
    with pytest.raises(ValueError, match="precision_bits"):
        scores_to_freq_table(np.array([1, 2]), precision_bits)


def test_negative_scores_raise() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        scores_to_freq_table(np.array([3, -1, 2]), 8)


def test_alphabet_larger_than_total_raises() -> None:
    with pytest.raises(ValueError, match="alphabet"):
        scores_to_freq_table(np.ones(5, dtype=np.int64), 2)


def test_is_valid_freq_table() -> None:
    assert is_valid_freq_table(np.array([[4, 4, 8], [1, 1, 14]]), 4)
    assert is_valid_freq_table(np.zeros((0, 3)), 4)
    assert not is_valid_freq_table(np.array([[0, 8, 8]]), 4)  # a zero entry
    assert not is_valid_freq_table(np.array([[4, 4, 7]]), 4)  # sums to 15
    assert not is_valid_freq_table(np.array([[4, 4, 8], [4, 4, 9]]), 4)  # one bad row


@st.composite
def score_rows(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    alphabet = draw(st.integers(1, 300))
    rows = draw(st.integers(1, 6))
    precision_bits = draw(st.integers(max(1, (alphabet - 1).bit_length()), MAX_PRECISION_BITS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Scores stay below 2**20 so that sum(scores) * total < 2**63, the documented precondition;
    # a drawn share of them is zero (sparse rows, and now and then an all-zero row).
    scores = rng.integers(0, 1 << draw(st.integers(0, 20)), (rows, alphabet))
    scores *= rng.random((rows, alphabet)) >= draw(st.sampled_from([0.0, 0.5, 0.95, 1.0]))
    return scores, precision_bits


@settings(max_examples=200, deadline=None)
@given(score_rows())
def test_tables_follow_the_rule_exactly(case: tuple[np.ndarray, int]) -> None:
    scores, precision_bits = case
    tables = scores_to_freq_table(scores, precision_bits)
    assert tables.shape == scores.shape
    assert is_valid_freq_table(tables, precision_bits)
    for row_scores, row_table in zip(scores.tolist(), tables.tolist(), strict=True):
        if any(row_scores):
            assert row_table == reference_table(row_scores, precision_bits)
        # the top symbol gets the most; among the others a larger score never gets less
        top = int(np.argmax(row_scores))
        assert row_table[top] == max(row_table)
        rest_scores = np.delete(np.array(row_scores), top)
        rest_table = np.delete(np.array(row_table), top)
        assert np.all(np.diff(rest_table[np.argsort(rest_scores, kind="stable")]) >= 0)
