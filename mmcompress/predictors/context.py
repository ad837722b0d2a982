"""Adaptive order-N byte context model: PPM blending with SEE and a match model, integer-exact.

This file owns :class:`ContextModel` (registry id ``"cm"``), the training-free predictor every level
can fall back on, and its numba kernels. It follows PPM (Cleary & Witten 1984; PPMC, Moffat 1990)
with the escape estimation of PPMZ/PPMd (Bloom 1998, Shkarin 2002: "SEE") and the match model of
lpaq1 (Mahoney 2007), all in integer arithmetic so that both sides build the same tables anywhere.

Model, for the byte at hand (h = its segment's history, zero-padded at the segment start)::

    order 5 .. 3   hash(h[-k:]) -> sparse row: up to 28 (symbol, count) pairs in one cache line
    order 2, 1, 0  direct rows of 256 uint16 counts
    order -1       uniform over the bytes no order predicted
        |  PPM blend, top down, with exclusion and learned escapes  -> p_ppm
    match model    last earlier occurrence of h[-8:] (verified, within coded bytes) -> byte m
        |  p = w * [s == m] + (1 - w) * p_ppm,  w learned online per match length
    frequency table (exactly intmath.scores_to_freq_table)

Blending, from the top down, is PPM *with exclusion*: an order shares what it receives among the
symbols no higher order already predicted, in proportion to their counts, after setting aside an
escape probability that is passed to the order below. The escape probability is not the PPMC
guess d/(N+d) but learned (SEE): adaptive escape/try counts indexed by (order, whether an order
above was visited, number of candidate symbols, counts per symbol, whether the previous byte was
found at the top order), blended with the PPMC guess while a SEE slot is young. The match model
sees further back than order 5 (long repeats, frequent in code); it is mixed in rather than put on
top with exclusion, so that a confident PPM context is never overruled by a weaker match, and its
weight follows the gradient of the code length. All probabilities are int64 fixed point
(PROBABILITY_BITS); the scores become a frequency table by exactly the rule of
:func:`mmcompress.intmath.scores_to_freq_table` (computed with a reciprocal, not 256 divisions).

Update: the byte is counted in the order that predicted it, in every higher order, and in
``lower_updates`` orders below it (PPM "update exclusion": lower orders then count what higher
orders failed to predict, which is what they are asked about). A row's counts are halved when
its total passes a limit, so statistics follow the data. A hashed row carries a 16-bit check of its
context; another context landing on it takes it over. A full sparse row drops its rarest symbol.

Why shared tables: a block is cut into B segments coded in lockstep (mmcompress.segments). Every
segment keeps its own history, but all read and update ONE set of tables, in the fixed coding
order (t, b): the tables of step t are computed from everything coded before step t, then the
step's bytes are learned in segment order. So a segment starts with a short history, not with an
empty model, and the encoder (:meth:`ContextModelSession.tables_for`, one numba call for many
steps) and the decoder (:meth:`~ContextModelSession.predict` / ``update``, one call per step)
run the very same kernel code in the same order: bit-identical tables, with no Python per byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numba
import numpy as np

from ..segments import Segmentation
from .lockstep import (
    ALPHABET_SIZE,
    HASH_MULTIPLIER,
    MAX_HISTORY,
    NO_MATCH,
    KernelSession,
    OnlineByteModel,
    aligned_zeros,
    all_bytes,
    follow_matches,
    match_symbols,
    segment_start,
    table_bits,
)

PRECISION_BITS = 16
TABLE_TOTAL = 1 << PRECISION_BITS
SPARE_TOTAL = TABLE_TOTAL - ALPHABET_SIZE  # what remains once every symbol has its 1
PROBABILITY_BITS = 44  # fixed point of the blend; keeps sum(scores) * TABLE_TOTAL < 2^63
PROBABILITY_ONE = 1 << PROBABILITY_BITS
RECIPROCAL_BITS = 46  # >= PROBABILITY_BITS (score_sum <= 2^46: exact); SPARE_TOTAL << 46 < 2^63
MAX_ORDER = MAX_HISTORY

# Orders 0, 1, 2 are direct-indexed rows of 256 counts (1 + 256 + 65536 rows).
DENSE_ORDERS = 3
DENSE_ROWS = 1 + 256 + 65536
DENSE_ROW_BASE = (0, 1, 1 + 256)

# Higher orders: hashed rows of uint16 words, one 64-byte cache line each.
# Word 0: check of the context (0 = free row), 1: total count, 2: symbols used, 3: unused,
# then one word per symbol: count << 8 | symbol (so counts stay below 256).
ROW_CHECK = 0
ROW_TOTAL = 1
ROW_USED = 2
ROW_HEADER_WORDS = 4
SPARSE_ROW_WORDS = 32
SPARSE_SLOTS = SPARSE_ROW_WORDS - ROW_HEADER_WORDS
SLOT_SYMBOL_MASK = 0xFF
SLOT_COUNT_SHIFT = 8
SPARSE_COUNT_MAX = 255
CHECK_BITS = 16
MIN_TABLE_BITS = 12  # hashed tables of small blocks: at least 2^12 rows...
TABLE_ROWS_PER_BYTE = 2  # ...and about 2 per byte (a byte adds at most 1 context per order)

# SEE: escape statistics per (order, visited-before, distinct bucket, count-ratio bucket, success).
SEE_FRACTION_BITS = 16
SEE_ONE = 1 << SEE_FRACTION_BITS
SEE_FIRST_FLAGS = 2
SEE_DISTINCT_BUCKETS = 8
SEE_RATIO_BUCKETS = 6
SEE_SUCCESS_FLAGS = 2
SEE_SLOTS_PER_ORDER = SEE_FIRST_FLAGS * SEE_DISTINCT_BUCKETS * SEE_RATIO_BUCKETS * SEE_SUCCESS_FLAGS
SEE_INCREMENT = 2  # counts move by 2 so that halving (rounding up) keeps a little resolution

# Match model: position table indexed by a hash of the last match_min_length bytes.
MATCH_BUCKETS = 32  # a mixing weight per match length, lengths >= 31 share the last one
WEIGHT_BITS = 16  # match mixing weights, fixed point
WEIGHT_ONE = 1 << WEIGHT_BITS
WEIGHT_MIN = 1 << (WEIGHT_BITS - 10)  # keep w in [1/1024, 1 - 1/1024]
WEIGHT_MAX = WEIGHT_ONE - WEIGHT_MIN
WEIGHT_START = WEIGHT_ONE // 4  # an untried match length starts at w = 1/4

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ContextModelConfig:
    """Everything decoding needs; stored in the archive through :meth:`ContextModel.config`.

    These defaults are part of format version ``FORMAT_VERSION``: archives omit parameters equal
    to them (see :meth:`ContextModel.compact_config`), so changing one means a new version.
    """

    max_order: int = 5
    hash_bits: int = 20  # at most 2^hash_bits rows of 64 bytes per hashed order
    dense_count_limit: int = 2000  # halve a dense row past this total
    sparse_count_limit: int = 250  # halve a sparse row past this total (<= SPARSE_COUNT_MAX - 4)
    lower_updates: int = 1  # orders below the predicting one that also learn the byte
    see_prior: int = 24  # weight of the PPMC guess in a SEE slot, in escapes-and-hits units
    see_limit: int = 1000  # halve a SEE slot's counts past this
    match_min_length: int = 8  # 0 disables the match model
    match_hash_bits: int = 22  # at most 2^match_hash_bits int32 positions
    match_rate_shift: int = 9  # learning rate of the match weights: 2^-shift

    def __post_init__(self) -> None:
        if not 0 <= self.max_order <= MAX_ORDER:
            raise ValueError(f"max_order must be in 0..{MAX_ORDER}")
        if not 8 <= self.hash_bits <= 26:
            raise ValueError("hash_bits must be in 8..26")
        if not 2 <= self.dense_count_limit <= 60000:
            raise ValueError("dense_count_limit must be in 2..60000")
        if not 2 <= self.sparse_count_limit <= SPARSE_COUNT_MAX - 4:
            raise ValueError(f"sparse_count_limit must be in 2..{SPARSE_COUNT_MAX - 4}")
        if not 0 <= self.lower_updates <= MAX_ORDER:
            raise ValueError(f"lower_updates must be in 0..{MAX_ORDER}")
        if not 1 <= self.see_prior <= 1 << 12 or not 4 <= self.see_limit <= 1 << 20:
            raise ValueError("see_prior must be in 1..4096 and see_limit in 4..2^20")
        if self.match_min_length and not 2 <= self.match_min_length <= MAX_ORDER:
            raise ValueError(f"match_min_length must be 0 or in 2..{MAX_ORDER}")
        if not 8 <= self.match_hash_bits <= 28 or not 0 <= self.match_rate_shift <= 16:
            raise ValueError("match_hash_bits must be in 8..28 and match_rate_shift in 0..16")


# --------------------------------------------------------------------------------------------
# Kernels. Everything below runs inside numba; ints are int64 unless stated.


@numba.njit(cache=True)
def _context_rows(history, max_order, hash_bits, rows, checks_wanted):
    """Row of every order for one history; hashed orders also get the check their row must hold."""
    rows[0] = DENSE_ROW_BASE[0]
    checks_wanted[0] = 0
    if max_order >= 1:
        rows[1] = DENSE_ROW_BASE[1] + np.int64(history & np.uint64(0xFF))
        checks_wanted[1] = 0
    if max_order >= 2:
        rows[2] = DENSE_ROW_BASE[2] + np.int64(history & np.uint64(0xFFFF))
        checks_wanted[2] = 0
    for order in range(DENSE_ORDERS, max_order + 1):
        context = history
        if order < MAX_ORDER:
            context = history & ((np.uint64(1) << np.uint64(8 * order)) - np.uint64(1))
        # The order is added so that equal byte strings of different orders hash apart.
        h = (context + np.uint64(order)) * HASH_MULTIPLIER
        h ^= h >> np.uint64(29)
        h *= HASH_MULTIPLIER
        index = np.int64(h >> np.uint64(64 - hash_bits))
        check = np.int64((h >> np.uint64(64 - hash_bits - CHECK_BITS)) & np.uint64(0xFFFF))
        rows[order] = ((order - DENSE_ORDERS) << hash_bits) + index
        checks_wanted[order] = check if check != 0 else 1  # 0 marks a free row


@numba.njit(cache=True, inline="always")
def _see_slot(order, first, n_sum, n_distinct, success):
    """SEE slot of a context with n_distinct candidate symbols seen n_sum times in all."""
    if n_distinct <= 4:
        distinct_bucket = n_distinct - 1
    elif n_distinct <= 6:
        distinct_bucket = 4
    elif n_distinct <= 9:
        distinct_bucket = 5
    elif n_distinct <= 15:
        distinct_bucket = 6
    else:
        distinct_bucket = 7
    if n_sum == n_distinct:  # every candidate seen once: the least certain case
        ratio_bucket = 0
    else:
        ratio = n_sum // n_distinct
        ratio_bucket = 1
        while ratio > 1 and ratio_bucket < SEE_RATIO_BUCKETS - 1:
            ratio >>= 1
            ratio_bucket += 1
    slot = order * SEE_FIRST_FLAGS + first
    slot = slot * SEE_DISTINCT_BUCKETS + distinct_bucket
    slot = slot * SEE_RATIO_BUCKETS + ratio_bucket
    return slot * SEE_SUCCESS_FLAGS + success


@numba.njit(cache=True, inline="always")
def _symbols_share(escape, slot, n_sum, n_distinct, see_escapes, see_totals, see_prior):
    """How much of ``escape`` this context gives its symbols; the rest is passed down.

    p(escape) = (escapes + prior * PPMC) / (tries + prior), PPMC = d / (N + d), in 16-bit fixed
    point, kept away from 0 and 1 so that neither side ever gets nothing.
    """
    numerator = np.int64(see_escapes[slot]) * (n_sum + n_distinct) + see_prior * n_distinct
    denominator = (np.int64(see_totals[slot]) + see_prior) * (n_sum + n_distinct)
    p_escape = (numerator << SEE_FRACTION_BITS) // denominator
    p_escape = min(max(p_escape, 1), SEE_ONE - 1)
    return escape - ((escape * p_escape) >> SEE_FRACTION_BITS)


@numba.njit(cache=True, inline="always")
def _scores_to_table(scores, keep, uniform, score_sum, out_row):
    """intmath.scores_to_freq_table for one row of scores + uniform * keep, without 256 divisions.

    share = floor(score * SPARE_TOTAL / score_sum) is taken as score * R >> k with the reciprocal
    R = floor(SPARE_TOTAL * 2^k / score_sum) (Granlund & Montgomery, "Division by invariant
    integers using multiplication", 1994). As score <= score_sum <= 2^k, the estimate is the exact
    quotient or one less, and one comparison of remainders makes it exact.
    """
    reciprocal = (SPARE_TOTAL << RECIPROCAL_BITS) // score_sum
    used_total = np.int64(0)
    best_score = np.int64(0)
    for s in range(ALPHABET_SIZE):
        score = scores[s] + uniform * keep[s]
        scores[s] = score
        share = (score * reciprocal) >> RECIPROCAL_BITS
        share += (share + 1) * score_sum <= score * SPARE_TOTAL
        out_row[s] = share + 1
        used_total += share + 1
        best_score = max(best_score, score)
    best = 0  # the leftover goes to the largest score, lowest index on ties
    while scores[best] != best_score:
        best += 1
    out_row[best] += TABLE_TOTAL - used_total


@numba.njit(cache=True)
def _table(
    dense_counts,
    dense_totals,
    dense_distinct,
    sparse_rows,
    rows,
    checks_wanted,
    max_order,
    see_escapes,
    see_totals,
    see_prior,
    see_slots,
    success,
    match_symbol,
    match_bucket,
    match_weights,
    ppm_share,
    scores,
    keep,
    out_row,
):
    """Blend match model and orders from the top down (PPM with exclusion) into one freq table.

    Records in ``see_slots`` which SEE slot each order used (-1: not visited) for the update.
    """
    scores[:] = 0
    keep[:] = 1  # 1 while no higher order has predicted the symbol
    escape = np.int64(PROBABILITY_ONE)  # probability not yet given to any symbol
    score_sum = np.int64(0)
    n_excluded = 0
    first = 1
    for order in range(max_order, -1, -1):
        see_slots[order] = -1
        row = rows[order]
        if order >= DENSE_ORDERS:
            words = sparse_rows[row]
            used = np.int64(words[ROW_USED])
            if np.int64(words[ROW_CHECK]) != checks_wanted[order] or used == 0:
                continue
            if first:
                n_sum = np.int64(words[ROW_TOTAL])
                n_distinct = used
            else:
                n_sum = np.int64(0)
                n_distinct = np.int64(0)
                for i in range(used):
                    word = np.int64(words[ROW_HEADER_WORDS + i])
                    k = keep[word & SLOT_SYMBOL_MASK]
                    n_sum += (word >> SLOT_COUNT_SHIFT) * k
                    n_distinct += k
            if n_distinct == 0:
                continue
            slot = _see_slot(order, first, n_sum, n_distinct, success)
            unit = (
                _symbols_share(escape, slot, n_sum, n_distinct, see_escapes, see_totals, see_prior)
                // n_sum
            )
            for i in range(used):
                word = np.int64(words[ROW_HEADER_WORDS + i])
                s = word & SLOT_SYMBOL_MASK
                scores[s] += unit * (word >> SLOT_COUNT_SHIFT) * keep[s]
                keep[s] = 0
        else:
            if dense_totals[row] == 0:
                continue
            counts_row = dense_counts[row]
            if first:
                n_sum = np.int64(dense_totals[row])
                n_distinct = np.int64(dense_distinct[row])
            else:
                n_sum32 = np.int32(0)  # int32 sums vectorise better; totals stay < 2^16
                n_distinct32 = np.int32(0)
                for s in range(ALPHABET_SIZE):
                    n = np.int32(counts_row[s]) * keep[s]
                    n_sum32 += n
                    n_distinct32 += n > 0
                n_sum = np.int64(n_sum32)
                n_distinct = np.int64(n_distinct32)
            if n_distinct == 0:
                continue
            slot = _see_slot(order, first, n_sum, n_distinct, success)
            unit = (
                _symbols_share(escape, slot, n_sum, n_distinct, see_escapes, see_totals, see_prior)
                // n_sum
            )
            for s in range(ALPHABET_SIZE):
                n = np.int32(counts_row[s])
                scores[s] += unit * np.int64(n * keep[s])
                keep[s] &= n == 0
        see_slots[order] = slot
        escape -= unit * n_sum
        score_sum += unit * n_sum
        n_excluded += n_distinct
        first = 0
    remaining = ALPHABET_SIZE - n_excluded
    uniform = np.int64(0)
    if remaining > 0:
        uniform = escape // remaining
        score_sum += uniform * remaining
    if match_symbol >= 0:
        # Mix in the match model: p = w * [s == match] + (1 - w) * p_ppm, w learned per length.
        weight = np.int64(match_weights[match_bucket])
        score_sum_mixed = np.int64(0)
        for s in range(ALPHABET_SIZE):
            score = scores[s] + uniform * keep[s]
            keep[s] = 0
            if s == match_symbol:
                ppm_share[0] = (score << WEIGHT_BITS) // score_sum
            score = (score * (WEIGHT_ONE - weight)) >> WEIGHT_BITS
            scores[s] = score
            score_sum_mixed += score
        share = (score_sum * weight) >> WEIGHT_BITS
        scores[match_symbol] += share
        score_sum = score_sum_mixed + share
        uniform = 0
    _scores_to_table(scores, keep, uniform, score_sum, out_row)


@numba.njit(cache=True)
def _learn_escapes(
    dense_counts,
    sparse_rows,
    rows,
    checks_wanted,
    max_order,
    see_escapes,
    see_totals,
    see_slots,
    symbol,
    see_limit,
):
    """Teach each visited SEE slot whether ``symbol`` escaped from its context.

    Returns the order that predicted the symbol, or -1 when no visited context had it.
    """
    for order in range(max_order, -1, -1):
        slot = see_slots[order]
        if slot < 0:
            continue
        row = rows[order]
        found = False
        if order >= DENSE_ORDERS:
            words = sparse_rows[row]
            if np.int64(words[ROW_CHECK]) == checks_wanted[order]:
                for i in range(np.int64(words[ROW_USED])):
                    if np.int64(words[ROW_HEADER_WORDS + i]) & SLOT_SYMBOL_MASK == symbol:
                        found = True
        else:
            found = dense_counts[row, symbol] > 0
        see_totals[slot] += SEE_INCREMENT
        if not found:
            see_escapes[slot] += SEE_INCREMENT
        if see_totals[slot] > see_limit:
            see_totals[slot] = (see_totals[slot] + 1) >> 1
            see_escapes[slot] = (see_escapes[slot] + 1) >> 1
        if found:
            return order
    return -1


@numba.njit(cache=True)
def _learn_match_weight(match_weights, bucket, ppm_share, hit, rate_shift):
    """One gradient step on log p for the mixing weight w of p = w [s == m] + (1 - w) p_ppm.

    d log p / dw = (1 - q) / (w + (1 - w) q) on a hit (q = p_ppm(m)), -1 / (1 - w) on a miss.
    """
    weight = np.int64(match_weights[bucket])
    if hit:
        p_hit = weight + (((WEIGHT_ONE - weight) * ppm_share) >> WEIGHT_BITS)
        gradient = ((WEIGHT_ONE - ppm_share) << WEIGHT_BITS) // max(p_hit, 1)
    else:
        gradient = -(WEIGHT_ONE << WEIGHT_BITS) // (WEIGHT_ONE - weight)
    weight += gradient >> rate_shift
    match_weights[bucket] = min(max(weight, WEIGHT_MIN), WEIGHT_MAX)


@numba.njit(cache=True)
def _count_dense(dense_counts, dense_totals, dense_distinct, row, symbol, count_limit):
    n = np.int64(dense_counts[row, symbol])
    dense_distinct[row] += n == 0
    dense_counts[row, symbol] = n + 1
    dense_totals[row] += 1
    if dense_totals[row] > count_limit:
        total = 0
        distinct = 0
        for s in range(ALPHABET_SIZE):
            c = (np.int64(dense_counts[row, s]) + 1) >> 1  # rounding up keeps seen symbols seen
            dense_counts[row, s] = c
            total += c
            distinct += c > 0
        dense_totals[row] = total
        dense_distinct[row] = distinct


@numba.njit(cache=True)
def _count_sparse(sparse_rows, row, check, symbol, count_limit):
    words = sparse_rows[row]
    if np.int64(words[ROW_CHECK]) != check:  # a new context takes the row over
        words[:] = 0
        words[ROW_CHECK] = check
    used = np.int64(words[ROW_USED])
    index = -1
    for i in range(used):
        if np.int64(words[ROW_HEADER_WORDS + i]) & SLOT_SYMBOL_MASK == symbol:
            index = i
    if index < 0:
        if used < SPARSE_SLOTS:
            index = used
            words[ROW_USED] = used + 1
        else:  # full: the rarest symbol makes room (lowest slot on ties)
            index = 0
            rarest = np.int64(words[ROW_HEADER_WORDS]) >> SLOT_COUNT_SHIFT
            for i in range(1, SPARSE_SLOTS):
                count = np.int64(words[ROW_HEADER_WORDS + i]) >> SLOT_COUNT_SHIFT
                if count < rarest:
                    index = i
                    rarest = count
            words[ROW_TOTAL] = np.int64(words[ROW_TOTAL]) - rarest
        words[ROW_HEADER_WORDS + index] = symbol
    words[ROW_HEADER_WORDS + index] = np.int64(words[ROW_HEADER_WORDS + index]) + (
        1 << SLOT_COUNT_SHIFT
    )
    words[ROW_TOTAL] = np.int64(words[ROW_TOTAL]) + 1
    if np.int64(words[ROW_TOTAL]) > count_limit:
        total = 0
        for i in range(np.int64(words[ROW_USED])):
            word = np.int64(words[ROW_HEADER_WORDS + i])
            c = ((word >> SLOT_COUNT_SHIFT) + 1) >> 1
            words[ROW_HEADER_WORDS + i] = (c << SLOT_COUNT_SHIFT) | (word & SLOT_SYMBOL_MASK)
            total += c
        words[ROW_TOTAL] = total


@numba.njit(cache=True)
def _run_steps(arrays, parameters, symbols, out, first_step, last_step, predict_from, update_until):
    """Walk steps [first_step, last_step): the tables of steps >= predict_from go to ``out``, the
    ``symbols`` of steps < update_until are learned. Encoder (many steps per call) and decoder
    (update of step t-1 plus tables of step t per call) run exactly this code, in this order.

    Returns (0, _), or (-1, _) having changed nothing when a symbol is not a byte."""
    # Plain tuples, not the NamedTuples: numba dispatches those ~7x faster (one call per step).
    (
        dense_counts,
        dense_totals,
        dense_distinct,
        sparse_rows,
        see_escapes,
        see_totals,
        see_slots,
        successes,
        block,
        match_table,
        match_pointers,
        match_lengths,
        match_buckets,
        match_weights,
        ppm_shares,
        histories,
    ) = arrays
    (
        short_length,
        segment_count,
        long_count,
        max_order,
        hash_bits,
        dense_count_limit,
        sparse_count_limit,
        lower_updates,
        see_prior,
        see_limit,
        match_min_length,
        match_hash_bits,
        match_rate_shift,
    ) = parameters
    touched = np.uint64(0)
    if not all_bytes(symbols):
        return -1, touched
    rows = np.empty((segment_count, max_order + 1), dtype=np.int64)
    checks_wanted = np.empty((segment_count, max_order + 1), dtype=np.int64)
    predicted = np.full(segment_count, NO_MATCH, dtype=np.int64)
    scores = np.empty(ALPHABET_SIZE, dtype=np.int64)
    keep = np.empty(ALPHABET_SIZE, dtype=np.int32)
    found_orders = np.empty(segment_count, dtype=np.int64)
    match_indices = np.empty(segment_count, dtype=np.int64)
    position = 0  # index into symbols
    out_position = 0  # index into out
    for step in range(first_step, last_step):
        active = segment_count if step < short_length else long_count
        for b in range(active):
            _context_rows(histories[b], max_order, hash_bits, rows[b], checks_wanted[b])
        # Touch every row this step reads, in one loop of independent loads, so that the
        # cache misses overlap instead of stalling one after another (a software prefetch).
        for b in range(active):
            for order in range(DENSE_ORDERS, max_order + 1):
                touched += sparse_rows[rows[b, order], ROW_CHECK]
            if max_order >= DENSE_ORDERS - 1:
                touched += dense_counts[rows[b, DENSE_ORDERS - 1], 0]
        # The match model predicts only from bytes coded before this step (offset < step).
        match_symbols(
            block, match_pointers, match_lengths, active, step, short_length, long_count, predicted
        )
        if step >= predict_from:
            for b in range(active):
                _table(
                    dense_counts,
                    dense_totals,
                    dense_distinct,
                    sparse_rows,
                    rows[b],
                    checks_wanted[b],
                    max_order,
                    see_escapes,
                    see_totals,
                    see_prior,
                    see_slots[b],
                    successes[b],
                    predicted[b],
                    match_buckets[b],
                    match_weights,
                    ppm_shares[b : b + 1],
                    scores,
                    keep,
                    out[out_position + b],
                )
            out_position += active
        if step < update_until:
            # 1. Statistics about this step's predictions, before any count changes.
            for b in range(active):
                symbol = np.int64(symbols[position + b])
                found_orders[b] = _learn_escapes(
                    dense_counts,
                    sparse_rows,
                    rows[b],
                    checks_wanted[b],
                    max_order,
                    see_escapes,
                    see_totals,
                    see_slots[b],
                    symbol,
                    see_limit,
                )
                top = -1
                for order in range(max_order, -1, -1):
                    if see_slots[b, order] >= 0:
                        top = order
                        break
                successes[b] = 1 if found_orders[b] == top and top >= 0 else 0
                if predicted[b] != NO_MATCH:
                    _learn_match_weight(
                        match_weights,
                        match_buckets[b],
                        ppm_shares[b],
                        predicted[b] == symbol,
                        match_rate_shift,
                    )
            # 2. Counts, in segment order.
            for b in range(active):
                symbol = np.int64(symbols[position + b])
                lowest = max(found_orders[b] - lower_updates, 0)
                for order in range(lowest, min(max_order, DENSE_ORDERS - 1) + 1):
                    _count_dense(
                        dense_counts,
                        dense_totals,
                        dense_distinct,
                        rows[b, order],
                        symbol,
                        dense_count_limit,
                    )
                for order in range(max(DENSE_ORDERS, lowest), max_order + 1):
                    _count_sparse(
                        sparse_rows,
                        rows[b, order],
                        checks_wanted[b, order],
                        symbol,
                        sparse_count_limit,
                    )
                histories[b] = (histories[b] << np.uint64(8)) | np.uint64(symbol)
                block[segment_start(b, short_length, long_count) + step] = symbol
            # 3. Match model: follow each segment's match or look for a new one, and register
            #    this position. Table entries are read in a first loop: overlapping misses.
            if match_min_length > 0:
                touched += follow_matches(
                    block,
                    match_table,
                    match_pointers,
                    match_lengths,
                    predicted,
                    histories,
                    symbols,
                    position,
                    active,
                    step,
                    short_length,
                    long_count,
                    match_min_length,
                    match_hash_bits,
                    match_indices,
                )
                for b in range(active):
                    match_buckets[b] = min(match_lengths[b], MATCH_BUCKETS - 1)
            position += active
    return 0, touched  # (touched is returned only so that the prefetch loads are kept)


# --------------------------------------------------------------------------------------------
# Python side: the predictor and its per-block session.


class _SessionArrays(NamedTuple):
    """A session's state, as the kernel receives it (see the module docstring for the model)."""

    dense_counts: np.ndarray  # (DENSE_ROWS, 256) uint16: orders 0..2
    dense_totals: np.ndarray  # (DENSE_ROWS,) int32: sum of the row
    dense_distinct: np.ndarray  # (DENSE_ROWS,) int32: symbols with a count
    sparse_rows: np.ndarray  # (hashed orders << hash_bits, 32) uint16: orders 3..max_order
    see_escapes: np.ndarray  # (SEE slots,) int32
    see_totals: np.ndarray  # (SEE slots,) int32
    see_slots: np.ndarray  # (B, max_order + 1) int64: slot each order used at this step, or -1
    successes: np.ndarray  # (B,) int64: previous byte found at the top order
    block: np.ndarray  # (size,) uint8: the bytes coded so far, at their block positions
    match_table: np.ndarray  # (2^match_hash_bits,) int32: position after a context, plus one
    match_pointers: np.ndarray  # (B,) int64: position of each segment's predicted byte
    match_lengths: np.ndarray  # (B,) int64: 0 when the segment has no match
    match_buckets: np.ndarray  # (B,) int64: weight used at this step
    match_weights: np.ndarray  # (MATCH_BUCKETS,) int64: w in WEIGHT_BITS fixed point
    ppm_shares: np.ndarray  # (B,) int64: p_ppm(predicted byte) at this step, for the update
    histories: np.ndarray  # (B,) uint64: each segment's last 8 bytes, newest lowest


class _Parameters(NamedTuple):
    """The block layout and model settings, as the kernel receives them."""

    short_length: int
    segment_count: int
    long_count: int
    max_order: int
    hash_bits: int
    dense_count_limit: int
    sparse_count_limit: int
    lower_updates: int
    see_prior: int
    see_limit: int
    match_min_length: int
    match_hash_bits: int
    match_rate_shift: int


class ContextModel(OnlineByteModel):
    """Training-free adaptive context model over bytes; see the module docstring."""

    kind: ClassVar[str] = "cm"
    settings_class = ContextModelConfig
    format_version = FORMAT_VERSION
    precision_bits = PRECISION_BITS
    settings: ContextModelConfig

    def start(self, segmentation: Segmentation, tag: int = 0) -> ContextModelSession:
        """A fresh session; ``tag`` is accepted for the interface and does not change the model."""
        return ContextModelSession(self.settings, segmentation)


class ContextModelSession(KernelSession):
    """The tables of one block, shared by its segments, plus each segment's history."""

    def __init__(self, settings: ContextModelConfig, segmentation: Segmentation) -> None:
        super().__init__(segmentation)
        self.settings = settings
        segments, size = segmentation.segment_count, segmentation.size
        # Small blocks get smaller hash tables (a function of the block size, so the decoder
        # agrees): less memory to clear, same model as long as the tables are not crowded.
        hash_bits = table_bits(settings.hash_bits, TABLE_ROWS_PER_BYTE * size, MIN_TABLE_BITS)
        match_hash_bits = table_bits(
            settings.match_hash_bits, TABLE_ROWS_PER_BYTE * size, MIN_TABLE_BITS
        )
        hashed_orders = max(0, settings.max_order - DENSE_ORDERS + 1)
        see_slots = (settings.max_order + 1) * SEE_SLOTS_PER_ORDER
        # np.zeros maps untouched pages lazily: starting a session costs next to nothing.
        self._arrays = _SessionArrays(
            dense_counts=np.zeros((DENSE_ROWS, ALPHABET_SIZE), dtype=np.uint16),
            dense_totals=np.zeros(DENSE_ROWS, dtype=np.int32),
            dense_distinct=np.zeros(DENSE_ROWS, dtype=np.int32),
            sparse_rows=aligned_zeros((hashed_orders << hash_bits, SPARSE_ROW_WORDS), np.uint16),
            see_escapes=np.zeros(see_slots, dtype=np.int32),
            see_totals=np.zeros(see_slots, dtype=np.int32),
            see_slots=np.full((segments, settings.max_order + 1), -1, dtype=np.int64),
            successes=np.zeros(segments, dtype=np.int64),
            block=np.zeros(max(1, size), dtype=np.uint8),
            match_table=np.zeros(
                1 << match_hash_bits if settings.match_min_length else 1, dtype=np.int32
            ),
            match_pointers=np.zeros(segments, dtype=np.int64),
            match_lengths=np.zeros(segments, dtype=np.int64),
            match_buckets=np.zeros(segments, dtype=np.int64),
            match_weights=np.full(MATCH_BUCKETS, WEIGHT_START, dtype=np.int64),
            ppm_shares=np.zeros(segments, dtype=np.int64),
            histories=np.zeros(segments, dtype=np.uint64),
        )
        self._parameters = _Parameters(
            short_length=segmentation.short_length,
            segment_count=segments,
            long_count=segmentation.long_count,
            max_order=settings.max_order,
            hash_bits=hash_bits,
            dense_count_limit=settings.dense_count_limit,
            sparse_count_limit=settings.sparse_count_limit,
            lower_updates=settings.lower_updates,
            see_prior=settings.see_prior,
            see_limit=settings.see_limit,
            match_min_length=settings.match_min_length,
            match_hash_bits=match_hash_bits,
            match_rate_shift=settings.match_rate_shift,
        )
        self._kernel = _run_steps
        self._kernel_arrays = tuple(self._arrays)
        self._kernel_parameters = tuple(self._parameters)
