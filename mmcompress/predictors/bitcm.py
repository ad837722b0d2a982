"""Binary context mixing over bytes (lpaq-style), integer-exact: the ``"bcm"`` predictor.

This file owns :class:`BitContextMixer` (registry id ``"bcm"``) and its numba kernels. The
model follows lpaq1 (Mahoney 2007) and the PAQ family: every byte is coded as 8 binary
decisions, each predicted by several context models whose probabilities are mixed by an
online-trained logistic mixer and refined by two adaptive probability maps (APM / SSE)::

    contexts (hashed, per byte): orders 1,2,3,4,6 of the segment's history, and the current
    word (letters, digits, '_', case-folded) with the word before it
      each context x nibble -> one 64-byte slot of 15 bit counters (p: 22 bits, n: 10 bits)
    order 0 (direct), the match model (predicted bit of the longest earlier match, its
    confidence learned per match length), a bias
        |  stretch(p) = ln(p / (1 - p))                       (integer tables, 12-bit p)
    mixer: dot(w[set], inputs), set = (node, contexts that have seen this node, match state)
        |  squash, then p = (p_mix + APM[node](p_mix) + 2 APM[order-1, node](p_mix)) / 4
    bit probability of every node of the byte's binary tree

**Why a byte table from binary predictions.** The coder and every other part of mmcompress
take one frequency table per byte (:mod:`.base`). Here all 255 nodes of a byte's tree are
predicted from the state at the byte's start, and the table is the product of the bit
probabilities along each leaf's path (exact integer splitting of 2^32, then the rounding rule of
:func:`mmcompress.intmath.scores_to_freq_table`). After the byte is known, the 8 nodes on its
path learn, in order, exactly as lpaq's per-bit updates would, except that a node's prediction
does not see the updates of the earlier bits of the same byte (they touch other counters and
other mixer weight sets anyway, since both are indexed by the node). Predicting 255 nodes costs
more than 8, but keeps one coder, one table format, the lockstep segments and the explain/mixing
stages unchanged, and the decoder needs one kernel call per step of B bytes, not per bit.

**Determinism.** Everything is integer: counters, mixer weights (16.16 fixed point), stretch
and squash tables built by integer interpolation from 33 points, APM interpolation. Segments in
lockstep share every table, read at step t and updated in (t, b) order
(:mod:`.lockstep`), so the encoder (all steps in one call) and the decoder (one call per step)
run the very same code on the very same state.

**Slots.** A context's counters for one nibble live in one cache line: word 0 holds a 16-bit
check of the (context, nibble) hash, words 1..15 the nibble's 15 tree nodes. Prediction only
reads (a slot that is not there reads as "never seen": p = 1/2, n = 0); learning finds the slot
in two adjacent lines or takes over the one whose first node has been used less.
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

FORMAT_VERSION = 1
PRECISION_BITS = 20  # table total: the floors of 256 symbols cost < 0.0004 bits per byte
TABLE_TOTAL = 1 << PRECISION_BITS
SPARE_TOTAL = TABLE_TOTAL - ALPHABET_SIZE
MASS_BITS = 32  # a byte's probability mass, split exactly down its tree

# Probabilities of bits are 12-bit (1..4095); the logistic domain is -2047..2047 (1/256 nats).
PROB_BITS = 12
STRETCH_LIMIT = 2047
_SQUASH_POINTS = (  # round(4096 / (1 + exp(-(i - 16) / 2))), clipped to 1..4095
    1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
    2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092, 4094, 4095,
)  # fmt: skip


def _squash_table() -> np.ndarray:
    """squash(x) for x in -2048..2047 (index x + 2048), by integer interpolation: 1..4095."""
    points = _SQUASH_POINTS
    table = np.empty(2 * (STRETCH_LIMIT + 1), dtype=np.int64)
    for x in range(-STRETCH_LIMIT - 1, STRETCH_LIMIT + 1):
        if x < -STRETCH_LIMIT:
            value = 1
        else:
            w, i = x & 127, (x >> 7) + 16
            value = (points[i] * (128 - w) + points[i + 1] * w + 64) >> 7
        table[x + STRETCH_LIMIT + 1] = min(4095, max(1, value))
    return table


def _stretch_table(squash: np.ndarray) -> np.ndarray:
    """stretch(p) for p in 0..4095: the smallest x with squash(x) >= p (its inverse)."""
    table = np.full(1 << PROB_BITS, STRETCH_LIMIT, dtype=np.int64)
    filled = 0
    for x in range(-STRETCH_LIMIT, STRETCH_LIMIT + 1):
        value = int(squash[x + STRETCH_LIMIT + 1])
        for p in range(filled, value + 1):
            table[p] = x
        filled = max(filled, value + 1)
    return table


SQUASH = _squash_table()
STRETCH = _stretch_table(SQUASH)

# Bit counters (uint32): p in 22 bits stored XOR 1/2 (so a zero word is p = 1/2, n = 0), then
# n in 10 bits; p moves towards each bit by 1 / (n + 1.5) while n < the limit.
COUNT_BITS = 10
COUNT_MASK = (1 << COUNT_BITS) - 1
P22_HALF = 1 << 21
P22_MAX = (1 << 22) - 1
RATE_BITS = 16
RATES = np.array([(2 << RATE_BITS) // (2 * n + 3) for n in range(1 << COUNT_BITS)], np.int64)

SLOT_WORDS = 16  # a check word and 15 nibble nodes: one cache line
NIBBLE_SLOTS = 17  # per context and byte: the first nibble, and the second after each first
CHECK_MASK = 0xFFFF
MIN_SLOT_BITS = 12
SLOTS_PER_CONTEXT_BYTE = 2  # a byte creates at most 2 slots per context

# Each context's counter is read through an adaptive map indexed by (how often the node was
# seen, its probability): what a counter means is learned per context (lpaq's StateMap role).
MAP_COUNT_BUCKETS = np.array(
    [0, 1, 2, 3, 4, 4, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6] + [7] * 16 + [8] * ((1 << COUNT_BITS) - 32),
    dtype=np.int64,
)
MAP_COUNTS = 9
MAP_PROB_SHIFT = 6  # 64 probability buckets
MAP_PROBS = 1 << (PROB_BITS - MAP_PROB_SHIFT)

# In the context list, orders are 1..MAX_HISTORY, then the word contexts:
WORD_CONTEXT = MAX_HISTORY + 1  # the current word and the one before it
WORD_ALONE_CONTEXT = MAX_HISTORY + 2  # the current word only
SPARSE_CONTEXT = MAX_HISTORY + 3  # the 2nd and 3rd byte back (skipping the last one)
COLUMN_CONTEXT = MAX_HISTORY + 4  # the byte above (same column, line before) and the last byte
WORD_TRIPLE_CONTEXT = MAX_HISTORY + 5  # the current word and the two before it
MATCH_BUCKETS = 16  # match counters per length (lengths >= 15 share the last)
MATCH_LONG = 16  # mixer sets tell "no match / short / long (>= this) match" apart
APM_POINTS = 33
APM_BITS = 16
MIXER_WEIGHT_BITS = 16
MIXER_WEIGHT_START = 1 << 14  # every input but the bias starts at weight 1/4
MIXER_WEIGHT_LIMIT = 1 << 24
MIXER_BOOST_BYTES = 4096  # the mixer learns faster at a block's start: + boost * 4096 / (n + 4096)


@dataclass(frozen=True)
class BitContextMixerConfig:
    """Everything decoding needs; stored in the archive through :meth:`BitContextMixer.config`.

    These defaults are part of format version ``FORMAT_VERSION``: archives omit parameters equal
    to them (see :meth:`BitContextMixer.compact_config`), so changing one means a new version.
    """

    order_mask: int = 0b1011110  # bit k set: an order-k context (1..8); default orders 1-4, 6
    word_model: int = 2  # 1: add the (word, previous word) context; 2: also the word alone
    sparse_model: int = 0  # 1: add the context of the 2nd and 3rd byte back
    column_model: int = 1  # 1: add the (byte above, last byte) context
    hash_bits: int = 22  # at most 2^hash_bits slots of 64 bytes, shared by all contexts
    counter_limit: int = 255  # n stops here: the slowest rate is 1 / (limit + 1.5)
    mixer_rate: int = 16  # mixer learning rate (error multiplier)
    mixer_boost: int = 192  # added to the rate at a block's start, fading over its first KBs
    apm_rate: int = 6  # APM entries move by 2^-rate towards each bit
    match_min_length: int = 6  # 0 disables the match model
    match_hash_bits: int = 22  # at most 2^match_hash_bits int32 positions

    def __post_init__(self) -> None:
        if not 0 <= self.order_mask < 1 << (MAX_HISTORY + 1) or self.order_mask & 1:
            raise ValueError(f"order_mask must select orders among 1..{MAX_HISTORY}")
        if self.word_model not in (0, 1, 2, 3):
            raise ValueError("word_model must be 0, 1, 2 or 3")
        if self.sparse_model not in (0, 1) or self.column_model not in (0, 1):
            raise ValueError("sparse_model and column_model must be 0 or 1")
        if not self.order_mask and not self.word_model:
            raise ValueError("the model needs at least one context")
        if not 12 <= self.hash_bits <= 26:
            raise ValueError("hash_bits must be in 12..26")
        if not 1 <= self.counter_limit <= COUNT_MASK:
            raise ValueError(f"counter_limit must be in 1..{COUNT_MASK}")
        if not 1 <= self.mixer_rate <= 64 or not 1 <= self.apm_rate <= 12:
            raise ValueError("mixer_rate must be in 1..64 and apm_rate in 1..12")
        if not 0 <= self.mixer_boost <= 1024:
            raise ValueError("mixer_boost must be in 0..1024")
        if self.match_min_length and not 2 <= self.match_min_length <= MAX_HISTORY:
            raise ValueError(f"match_min_length must be 0 or in 2..{MAX_HISTORY}")
        if not 8 <= self.match_hash_bits <= 28:
            raise ValueError("match_hash_bits must be in 8..28")

    def contexts(self) -> tuple[int, ...]:
        """The hashed contexts in mixer-input order: orders ascending, then the word model."""
        orders = tuple(k for k in range(1, MAX_HISTORY + 1) if self.order_mask >> k & 1)
        words = (WORD_CONTEXT, WORD_ALONE_CONTEXT, WORD_TRIPLE_CONTEXT)[: self.word_model]
        sparse = (SPARSE_CONTEXT,) if self.sparse_model else ()
        column = (COLUMN_CONTEXT,) if self.column_model else ()
        return orders + words + sparse + column


# --------------------------------------------------------------------------------------------
# Kernels. Everything below runs inside numba; ints are int64 unless stated.


@numba.njit(cache=True, inline="always")
def _counter_p12(entry):
    return ((np.int64(entry) >> COUNT_BITS) ^ P22_HALF) >> (22 - PROB_BITS)


@numba.njit(cache=True, inline="always")
def _counter_update(entry, bit, limit):
    e = np.int64(entry)
    n = e & COUNT_MASK
    p = (e >> COUNT_BITS) ^ P22_HALF
    p += ((bit << 22) - p) * RATES[n] >> RATE_BITS
    p = min(P22_MAX, max(0, p))
    if n < limit:
        n += 1
    return np.uint32(((p ^ P22_HALF) << COUNT_BITS) | n)


@numba.njit(cache=True, inline="always")
def _node_place(c0):
    """(nibble slot selector, node within the slot) of tree node c0 (1..255)."""
    if c0 < 16:
        return 0, c0
    depth = 4
    while c0 >> (depth + 1):
        depth += 1
    below = depth - 4
    high = (c0 >> below) & 15
    return 1 + high, (1 << below) | (c0 & ((1 << below) - 1))


@numba.njit(cache=True, inline="always")
def _match_bit(predicted, c0, depth):
    """The bit the match model expects at tree node c0 (depth bits decoded), or -1 when there is
    no match or the bits so far already left the predicted byte."""
    if predicted == NO_MATCH or (c0 ^ (1 << depth)) != predicted >> (8 - depth):
        return -1
    return (predicted >> (7 - depth)) & 1


@numba.njit(cache=True, inline="always")
def _train_mixer(weights, mixer_set, inputs, err):
    """One mixer weight set moves along its inputs by the error (16.16 fixed point, clamped)."""
    for k in range(inputs.size):
        w = np.int64(weights[mixer_set, k]) + ((inputs[k] * err + 0x8000) >> 16)
        weights[mixer_set, k] = min(MIXER_WEIGHT_LIMIT, max(-MIXER_WEIGHT_LIMIT, w))


@numba.njit(cache=True, inline="always")
def _mix64(h):
    h ^= h >> np.uint64(29)
    h *= HASH_MULTIPLIER
    h ^= h >> np.uint64(32)
    return h


@numba.njit(cache=True)
def _context_hashes(history, word, previous_word, older_word, above, contexts, out):
    for i in range(contexts.size):
        order = contexts[i]
        if order == WORD_CONTEXT:
            h = (word + np.uint64(0x51ED27)) * HASH_MULTIPLIER ^ previous_word
        elif order == WORD_TRIPLE_CONTEXT:
            h = (word + np.uint64(0x6D2B79F5)) * HASH_MULTIPLIER ^ previous_word
            h = (h + older_word) * HASH_MULTIPLIER
        elif order == WORD_ALONE_CONTEXT:
            h = (word + np.uint64(0x3A9F1)) * HASH_MULTIPLIER
        elif order == SPARSE_CONTEXT:
            h = ((history >> np.uint64(8)) & np.uint64(0xFFFF)) + np.uint64(0x7F3A0000)
            h *= HASH_MULTIPLIER
        elif order == COLUMN_CONTEXT:
            h = (history & np.uint64(0xFF)) | (np.uint64(above) << np.uint64(8))
            h = (h + np.uint64(0x2C9B0000)) * HASH_MULTIPLIER
        else:
            h = history
            if order < MAX_HISTORY:
                h = history & ((np.uint64(1) << np.uint64(8 * order)) - np.uint64(1))
            h = (h + np.uint64(order)) * HASH_MULTIPLIER
        out[i] = _mix64(h + np.uint64(i) * np.uint64(0x2545F4914F6CDD1D))


@numba.njit(cache=True, inline="always")
def _slot_hash(context_hash, selector):
    return _mix64(context_hash + np.uint64(selector + 1) * np.uint64(0x9E3779B97F4A7C15))


@numba.njit(cache=True, inline="always")
def _slot_place(h, slot_bits):
    index = np.int64(h >> np.uint64(64 - slot_bits))
    check = np.int64((h >> np.uint64(64 - slot_bits - 16)) & np.uint64(CHECK_MASK))
    return index, (check if check != 0 else 1)


@numba.njit(cache=True, inline="always")
def _find_slot(slots, context_hash, selector, slot_bits):
    """The slot holding (context, nibble), or -1 (prediction never creates one)."""
    index, check = _slot_place(_slot_hash(context_hash, selector), slot_bits)
    if np.int64(slots[index, 0]) == check:
        return index
    if np.int64(slots[index ^ 1, 0]) == check:
        return index ^ 1
    return -1


@numba.njit(cache=True)
def _claim_slot(slots, context_hash, selector, slot_bits):
    """The slot of (context, nibble), taking over the less used of two lines if absent."""
    index, check = _slot_place(_slot_hash(context_hash, selector), slot_bits)
    if np.int64(slots[index, 0]) == check:
        return index
    other = index ^ 1
    if np.int64(slots[other, 0]) == check:
        return other
    if (np.int64(slots[other, 1]) & COUNT_MASK) < (np.int64(slots[index, 1]) & COUNT_MASK):
        index = other
    slots[index, :] = 0
    slots[index, 0] = check
    return index


@numba.njit(cache=True, inline="always")
def _apm(table, context, stretched):
    """APM estimate (12-bit) of a probability whose stretch is ``stretched``, and its entry."""
    s = stretched + STRETCH_LIMIT + 1
    low, w = context * APM_POINTS + (s >> 7), s & 127
    p16 = np.int64(table[low]) * (128 - w) + np.int64(table[low + 1]) * w
    return min(4095, max(1, p16 >> (7 + APM_BITS - PROB_BITS))), low


@numba.njit(cache=True, inline="always")
def _apm_update(table, low, bit, rate):
    target = bit << APM_BITS
    for k in range(low, low + 2):
        t = np.int64(table[k])
        table[k] = np.uint16(min((1 << APM_BITS) - 1, t + ((target - t) >> rate)))


@numba.njit(cache=True)
def _predict_byte(
    slots,
    order0,
    maps,
    weights,
    weights2,
    apm1,
    apm2,
    match_counters,
    context_hashes,
    slot_bits,
    previous_byte,
    predicted,
    match_length,
    inputs,
    map_ids,
    sets,
    mixed,
    mixed1,
    mixed2,
    slot_ids,
    mass,
    out_row,
):
    """Predict every node of one segment's next byte; keep what learning needs; write its table."""
    n_contexts = context_hashes.size
    n_inputs = inputs.shape[1]
    for i in range(n_contexts):
        for selector in range(NIBBLE_SLOTS):
            slot_ids[i, selector] = _find_slot(slots, context_hashes[i], selector, slot_bits)
    match_bucket = min(match_length, MATCH_BUCKETS - 1)
    match_state = 0 if predicted == NO_MATCH else (1 if match_length < MATCH_LONG else 2)
    mass[1] = np.int64(1) << MASS_BITS
    depth = 0
    for c0 in range(1, ALPHABET_SIZE):
        if c0 >> (depth + 1):
            depth += 1
        selector, node = _node_place(c0)
        inputs[c0, 0] = 256
        inputs[c0, 1] = STRETCH[_counter_p12(order0[c0])]
        seen = 0
        for i in range(n_contexts):
            x = 0
            slot = slot_ids[i, selector]
            mapped = -1
            if slot >= 0:
                entry = slots[slot, node]
                n = np.int64(entry) & COUNT_MASK
                if n:
                    mapped = (i * MAP_COUNTS + MAP_COUNT_BUCKETS[n]) * MAP_PROBS + (
                        _counter_p12(entry) >> MAP_PROB_SHIFT
                    )
                    x = STRETCH[_counter_p12(maps[mapped])]
                    seen += 1
            inputs[c0, 2 + i] = x
            map_ids[c0, i] = mapped
        x = 0
        node_match = 0
        expected = _match_bit(predicted, c0, depth)
        if expected >= 0:
            x = STRETCH[_counter_p12(match_counters[match_bucket * 2 + expected])]
            node_match = match_state
        inputs[c0, n_inputs - 1] = x
        mixer_set = (c0 * (n_contexts + 1) + seen) * 3 + node_match
        sets[c0] = mixer_set
        second_set = (previous_byte << 8) | c0
        dot1 = np.int64(0)
        dot2 = np.int64(0)
        for k in range(n_inputs):
            dot1 += np.int64(weights[mixer_set, k]) * inputs[c0, k]
            dot2 += np.int64(weights2[second_set, k]) * inputs[c0, k]
        dot1 = min(STRETCH_LIMIT, max(-STRETCH_LIMIT, dot1 >> MIXER_WEIGHT_BITS))
        dot2 = min(STRETCH_LIMIT, max(-STRETCH_LIMIT, dot2 >> MIXER_WEIGHT_BITS))
        mixed1[c0] = dot1
        mixed2[c0] = dot2
        dot = (dot1 + dot2) >> 1
        mixed[c0] = dot
        p_mix = SQUASH[dot + STRETCH_LIMIT + 1]
        p1, _ = _apm(apm1, c0, dot)
        p2, _ = _apm(apm2, (previous_byte << 8) | c0, dot)
        p = min(4095, max(1, (p_mix + p1 + 6 * p2 + 4) >> 3))
        ones = (mass[c0] * p) >> PROB_BITS
        mass[2 * c0 + 1] = ones
        mass[2 * c0] = mass[c0] - ones
    # The leaves' masses sum to exactly 2^MASS_BITS: intmath.scores_to_freq_table's rule with the
    # division by the row sum done as a shift.
    top, top_mass, used = 0, np.int64(-1), 0
    for s in range(ALPHABET_SIZE):
        leaf = mass[ALPHABET_SIZE + s]
        value = ((leaf * SPARE_TOTAL) >> MASS_BITS) + 1
        out_row[s] = value
        used += value
        if leaf > top_mass:
            top, top_mass = s, leaf
    out_row[top] += TABLE_TOTAL - used


@numba.njit(cache=True)
def _learn_byte(
    slots,
    order0,
    maps,
    weights,
    weights2,
    apm1,
    apm2,
    match_counters,
    context_hashes,
    slot_bits,
    previous_byte,
    predicted,
    match_length,
    inputs,
    map_ids,
    sets,
    mixed,
    mixed1,
    mixed2,
    symbol,
    counter_limit,
    mixer_rate,
    apm_rate,
):
    """Learn one segment's byte along its tree path, with what its prediction kept."""
    n_contexts = context_hashes.size
    match_bucket = min(match_length, MATCH_BUCKETS - 1)
    claimed = np.empty(n_contexts, dtype=np.int64)
    c0 = 1
    for depth in range(8):
        bit = (symbol >> (7 - depth)) & 1
        selector, node = _node_place(c0)
        if depth == 0 or depth == 4:  # a new nibble: its slot in every context
            for i in range(n_contexts):
                claimed[i] = _claim_slot(slots, context_hashes[i], selector, slot_bits)
        order0[c0] = _counter_update(order0[c0], bit, COUNT_MASK)
        for i in range(n_contexts):
            slots[claimed[i], node] = _counter_update(slots[claimed[i], node], bit, counter_limit)
            mapped = map_ids[c0, i]
            if mapped >= 0:
                maps[mapped] = _counter_update(maps[mapped], bit, COUNT_MASK)
        expected = _match_bit(predicted, c0, depth)
        if expected >= 0:
            k = match_bucket * 2 + expected
            match_counters[k] = _counter_update(match_counters[k], bit, COUNT_MASK)
        dot = mixed[c0]
        err = ((bit << PROB_BITS) - SQUASH[mixed1[c0] + STRETCH_LIMIT + 1]) * mixer_rate
        err2 = ((bit << PROB_BITS) - SQUASH[mixed2[c0] + STRETCH_LIMIT + 1]) * mixer_rate
        mixer_set = sets[c0]
        second_set = (previous_byte << 8) | c0
        _train_mixer(weights, mixer_set, inputs[c0], err)
        _train_mixer(weights2, second_set, inputs[c0], err2)
        _, low = _apm(apm1, c0, dot)
        _apm_update(apm1, low, bit, apm_rate)
        _, low = _apm(apm2, (previous_byte << 8) | c0, dot)
        _apm_update(apm2, low, bit, apm_rate)
        c0 = 2 * c0 + bit


@numba.njit(cache=True, inline="always")
def _is_word_byte(c):
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95


@numba.njit(cache=True)
def _run_steps(arrays, parameters, symbols, out, first_step, last_step, predict_from, update_until):
    """Walk steps [first_step, last_step): the tables of steps >= predict_from go to ``out``, the
    ``symbols`` of steps < update_until are learned. Encoder (many steps per call) and decoder
    (update of step t-1 plus tables of step t per call) run exactly this code, in this order.

    Returns (0, _), or (-1, _) having changed nothing when a symbol is not a byte."""
    (
        slots,
        order0,
        maps,
        weights,
        weights2,
        apm1,
        apm2,
        match_counters,
        contexts,
        block,
        match_table,
        match_pointers,
        match_lengths,
        histories,
        words,
        lines,
        context_hashes,
        inputs,
        map_ids,
        sets,
        mixed,
        mixed1,
        mixed2,
        slot_ids,
        mass,
        learned,
    ) = arrays
    (
        short_length,
        segment_count,
        long_count,
        slot_bits,
        counter_limit,
        mixer_rate,
        mixer_boost,
        apm_rate,
        match_min_length,
        match_hash_bits,
    ) = parameters
    touched = np.uint64(0)
    if not all_bytes(symbols):
        return -1, touched
    predicted = np.full(segment_count, NO_MATCH, dtype=np.int64)
    match_indices = np.empty(segment_count, dtype=np.int64)
    position = 0  # index into symbols
    out_position = 0  # index into out
    for step in range(first_step, last_step):
        active = segment_count if step < short_length else long_count
        for b in range(active):
            above = 0
            here = segment_start(b, short_length, long_count) + step
            column = here - lines[b, 0]
            if lines[b, 1] >= 0 and lines[b, 1] + column < lines[b, 0]:
                above = np.int64(block[lines[b, 1] + column])
            _context_hashes(
                histories[b],
                words[b, 0],
                words[b, 1],
                words[b, 2],
                above,
                contexts,
                context_hashes[b],
            )
        match_symbols(
            block, match_pointers, match_lengths, active, step, short_length, long_count, predicted
        )
        if step >= predict_from:
            for b in range(active):
                _predict_byte(
                    slots,
                    order0,
                    maps,
                    weights,
                    weights2,
                    apm1,
                    apm2,
                    match_counters,
                    context_hashes[b],
                    slot_bits,
                    np.int64(histories[b] & np.uint64(0xFF)),
                    predicted[b],
                    match_lengths[b],
                    inputs[b],
                    map_ids[b],
                    sets[b],
                    mixed[b],
                    mixed1[b],
                    mixed2[b],
                    slot_ids[b],
                    mass,
                    out[out_position + b],
                )
            out_position += active
        if step < update_until:
            for b in range(active):
                symbol = np.int64(symbols[position + b])
                _learn_byte(
                    slots,
                    order0,
                    maps,
                    weights,
                    weights2,
                    apm1,
                    apm2,
                    match_counters,
                    context_hashes[b],
                    slot_bits,
                    np.int64(histories[b] & np.uint64(0xFF)),
                    predicted[b],
                    match_lengths[b],
                    inputs[b],
                    map_ids[b],
                    sets[b],
                    mixed[b],
                    mixed1[b],
                    mixed2[b],
                    symbol,
                    counter_limit,
                    mixer_rate
                    + (mixer_boost * MIXER_BOOST_BYTES) // (learned[0] + MIXER_BOOST_BYTES),
                    apm_rate,
                )
                learned[0] += 1
                histories[b] = (histories[b] << np.uint64(8)) | np.uint64(symbol)
                if _is_word_byte(symbol):
                    folded = symbol | 32 if 65 <= symbol <= 90 else symbol
                    words[b, 0] = (words[b, 0] + np.uint64(folded + 1)) * HASH_MULTIPLIER
                elif words[b, 0] != np.uint64(0):
                    words[b, 2] = words[b, 1]
                    words[b, 1] = words[b, 0]
                    words[b, 0] = np.uint64(0)
                here = segment_start(b, short_length, long_count) + step
                block[here] = symbol
                if symbol == 10:
                    lines[b, 1] = lines[b, 0]
                    lines[b, 0] = here + 1
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
            position += active
    return 0, touched


# --------------------------------------------------------------------------------------------
# Python side: the predictor and its per-block session.


class _SessionArrays(NamedTuple):
    """A session's state, as the kernel receives it (see the module docstring for the model)."""

    slots: np.ndarray  # (2^slot_bits, 16) uint32: check word + 15 nibble-node counters
    order0: np.ndarray  # (256,) uint32: order-0 counter per tree node
    maps: np.ndarray  # (contexts * MAP_COUNTS * MAP_PROBS,) uint32: counter -> probability
    weights: np.ndarray  # (256 * (contexts + 1) * 3, inputs) int32: mixer weight sets
    weights2: np.ndarray  # (65536, inputs) int32: second mixer, by previous byte and node
    apm1: np.ndarray  # (256 * 33,) uint16: APM by node
    apm2: np.ndarray  # (65536 * 33,) uint16: APM by previous byte and node
    match_counters: np.ndarray  # (MATCH_BUCKETS * 2,) uint32: p(bit) by length, expected bit
    contexts: np.ndarray  # (contexts,) int64: order of each hashed context, or a word context
    block: np.ndarray  # (size,) uint8: the bytes coded so far, at their block positions
    match_table: np.ndarray  # (2^match_hash_bits,) int32: position after a context, plus one
    match_pointers: np.ndarray  # (B,) int64: position of each segment's predicted byte
    match_lengths: np.ndarray  # (B,) int64: 0 when the segment has no match
    histories: np.ndarray  # (B,) uint64: each segment's last 8 bytes, newest lowest
    words: np.ndarray  # (B, 3) uint64: hash of the current word and of the two before
    lines: np.ndarray  # (B, 2) int64: block position where the current / previous line starts
    context_hashes: np.ndarray  # (B, contexts) uint64: this step's context hashes
    inputs: np.ndarray  # (B, 256, inputs) int64: each node's stretched inputs, for learning
    map_ids: np.ndarray  # (B, 256, contexts) int64: the map entry each input came from, or -1
    sets: np.ndarray  # (B, 256) int64: each node's mixer weight set
    mixed: np.ndarray  # (B, 256) int64: each node's mixer output (logistic domain)
    mixed1: np.ndarray  # (B, 256) int64: the first mixer's
    mixed2: np.ndarray  # (B, 256) int64: the second mixer's
    slot_ids: np.ndarray  # (B, contexts, 17) int64: scratch, the slots a prediction reads
    mass: np.ndarray  # (512,) int64: scratch, probability mass of the tree's nodes
    learned: np.ndarray  # (1,) int64: bytes learned so far in the block


class _Parameters(NamedTuple):
    """The block layout and model settings, as the kernel receives them."""

    short_length: int
    segment_count: int
    long_count: int
    slot_bits: int
    counter_limit: int
    mixer_rate: int
    mixer_boost: int
    apm_rate: int
    match_min_length: int
    match_hash_bits: int


def _apm_start(contexts: int) -> np.ndarray:
    """APM tables that start as the identity: entry j holds squash((j - 16) * 128)."""
    points = np.arange(APM_POINTS, dtype=np.int64) - APM_POINTS // 2
    row = SQUASH[np.clip(points * 128, -STRETCH_LIMIT, STRETCH_LIMIT) + STRETCH_LIMIT + 1]
    return np.tile((row << (APM_BITS - PROB_BITS)).astype(np.uint16), contexts)


def _weights_start(sets: int, n_inputs: int) -> np.ndarray:
    """Mixer weights at the start: 1/4 for every input but the bias (input 0), which starts at 0."""
    weights = np.full((sets, n_inputs), MIXER_WEIGHT_START, dtype=np.int32)
    weights[:, 0] = 0
    return weights


def _maps_start(contexts: int) -> np.ndarray:
    """Maps that start as the identity: each entry at its probability bucket's centre."""
    centre = (np.arange(MAP_PROBS, dtype=np.int64) << MAP_PROB_SHIFT) + (1 << (MAP_PROB_SHIFT - 1))
    p22 = centre << (22 - PROB_BITS)
    row = ((p22 ^ P22_HALF) << COUNT_BITS).astype(np.uint32)
    return np.tile(row, contexts * MAP_COUNTS)


class BitContextMixer(OnlineByteModel):
    """Training-free binary context mixing over bytes; see the module docstring."""

    kind: ClassVar[str] = "bcm"
    settings_class = BitContextMixerConfig
    format_version = FORMAT_VERSION
    precision_bits = PRECISION_BITS
    settings: BitContextMixerConfig

    def start(self, segmentation: Segmentation, tag: int = 0) -> BitContextMixerSession:
        """A fresh session; ``tag`` is accepted for the interface and does not change the model."""
        return BitContextMixerSession(self.settings, segmentation)


class BitContextMixerSession(KernelSession):
    """The tables of one block, shared by its segments, plus each segment's history."""

    def __init__(self, settings: BitContextMixerConfig, segmentation: Segmentation) -> None:
        super().__init__(segmentation)
        self.settings = settings
        segments, size = segmentation.segment_count, segmentation.size
        contexts = np.array(settings.contexts(), dtype=np.int64)
        n_inputs = contexts.size + 3  # bias, order 0, contexts, match
        slot_bits = table_bits(
            settings.hash_bits, SLOTS_PER_CONTEXT_BYTE * contexts.size * size, MIN_SLOT_BITS
        )
        match_hash_bits = table_bits(settings.match_hash_bits, 2 * size, MIN_SLOT_BITS)
        weight_sets = ALPHABET_SIZE * (contexts.size + 1) * 3
        self._arrays = _SessionArrays(
            slots=aligned_zeros((1 << slot_bits, SLOT_WORDS), np.uint32),
            order0=np.zeros(ALPHABET_SIZE, dtype=np.uint32),
            maps=_maps_start(contexts.size),
            weights=_weights_start(weight_sets, n_inputs),
            weights2=_weights_start(ALPHABET_SIZE**2, n_inputs),
            apm1=_apm_start(ALPHABET_SIZE),
            apm2=_apm_start(ALPHABET_SIZE * ALPHABET_SIZE),
            match_counters=np.zeros(MATCH_BUCKETS * 2, dtype=np.uint32),
            contexts=contexts,
            block=np.zeros(max(1, size), dtype=np.uint8),
            match_table=np.zeros(
                1 << match_hash_bits if settings.match_min_length else 1, dtype=np.int32
            ),
            match_pointers=np.zeros(segments, dtype=np.int64),
            match_lengths=np.zeros(segments, dtype=np.int64),
            histories=np.zeros(segments, dtype=np.uint64),
            words=np.zeros((segments, 3), dtype=np.uint64),
            lines=np.stack([segmentation.starts(), np.full(segments, -1)], axis=1).astype(np.int64),
            context_hashes=np.zeros((segments, contexts.size), dtype=np.uint64),
            inputs=np.zeros((segments, ALPHABET_SIZE, n_inputs), dtype=np.int64),
            map_ids=np.zeros((segments, ALPHABET_SIZE, contexts.size), dtype=np.int64),
            sets=np.zeros((segments, ALPHABET_SIZE), dtype=np.int64),
            mixed=np.zeros((segments, ALPHABET_SIZE), dtype=np.int64),
            mixed1=np.zeros((segments, ALPHABET_SIZE), dtype=np.int64),
            mixed2=np.zeros((segments, ALPHABET_SIZE), dtype=np.int64),
            slot_ids=np.zeros((segments, contexts.size, NIBBLE_SLOTS), dtype=np.int64),
            mass=np.zeros(2 * ALPHABET_SIZE, dtype=np.int64),
            learned=np.zeros(1, dtype=np.int64),
        )
        self._parameters = _Parameters(
            short_length=segmentation.short_length,
            segment_count=segments,
            long_count=segmentation.long_count,
            slot_bits=slot_bits,
            counter_limit=settings.counter_limit,
            mixer_rate=settings.mixer_rate,
            mixer_boost=settings.mixer_boost,
            apm_rate=settings.apm_rate,
            match_min_length=settings.match_min_length,
            match_hash_bits=match_hash_bits,
        )
        self._kernel = _run_steps
        self._kernel_arrays = tuple(self._arrays)
        self._kernel_parameters = tuple(self._parameters)
