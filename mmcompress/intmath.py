"""Integer arithmetic shared by the predictors: turning non-negative scores into frequency tables.

A frequency table is a row of positive integers (every symbol >= 1) summing to exactly
``1 << precision_bits``. Both encoder and decoder must build identical tables, so everything here
is integer arithmetic with a stated rounding rule; no floats.
"""

from __future__ import annotations

import numpy as np

#: Largest table total the range coder accepts (constriction's categorical models use 24 bits).
MAX_PRECISION_BITS = 24


def scores_to_freq_table(scores: np.ndarray, precision_bits: int) -> np.ndarray:
    """Map non-negative integer scores (..., A) to frequency tables summing to 2**precision_bits.

    Rule: every symbol gets 1, the remaining ``total - A`` is shared in proportion to the scores
    with floor division, and what the floors leave over goes to the symbol with the largest score
    (lowest index on ties). A row of all-zero scores becomes the uniform-as-possible table.
    Scores must satisfy ``sum(scores) * total < 2**63``.
    """
    if not 0 < precision_bits <= MAX_PRECISION_BITS:
        raise ValueError(f"precision_bits must be in 1..{MAX_PRECISION_BITS}")
    scores = np.asarray(scores, dtype=np.int64)
    alphabet = scores.shape[-1]
    total = 1 << precision_bits
    if alphabet > total:
        raise ValueError("alphabet larger than the table total")
    if (scores < 0).any():
        raise ValueError("scores must be non-negative")
    spare = total - alphabet
    # An all-zero row means "no information": score every symbol equally.
    scores = np.where((scores.sum(axis=-1, keepdims=True) == 0), 1, scores)
    row_sum = scores.sum(axis=-1, keepdims=True)
    if (row_sum > (np.iinfo(np.int64).max // max(spare, 1))).any():
        raise ValueError("scores too large: sum(scores) * total must stay below 2**63")
    tables = (scores * spare) // row_sum + 1
    leftover = total - tables.sum(axis=-1)
    top = np.argmax(scores, axis=-1)
    np.put_along_axis(
        tables,
        top[..., None],
        np.take_along_axis(tables, top[..., None], axis=-1) + leftover[..., None],
        axis=-1,
    )
    return tables.astype(np.uint32)


def is_valid_freq_table(tables: np.ndarray, precision_bits: int) -> bool:
    """True when every row is >= 1 everywhere and sums to exactly 2**precision_bits."""
    tables = np.asarray(tables)
    if tables.size == 0:
        return True
    return bool(
        (tables >= 1).all() and (tables.sum(axis=-1, dtype=np.int64) == (1 << precision_bits)).all()
    )
