"""Deflate replay: rebuild a deflate stream that no zlib setting reproduces, from a short recipe.

PNG optimisers (zopfli, libdeflate, 7-zip, ...) write deflate streams that zlib cannot reproduce,
so :mod:`pngrecipe`'s settings search fails on them. Their streams are still mostly *predictable*
from the data they compress (the idea of preflate): a deflate stream is a list of blocks, each a
header (block type, and for dynamic blocks the Huffman code lengths, kept here as their raw bits)
and a list of tokens, each a literal byte or a match (length, distance). Knowing the inflated data
and the block's code lengths, a shortest-path parse (cost of each choice = its code length in
bits, the cheapest way to the block's end by backward dynamic programming, every length with its
closest distance) predicts the encoder's next token: on the Kodak PNGs 96-99 % of tokens. The
recipe stores, per block, its type, the raw header bits and where its data ends; per token one
arithmetic-coded bit "the prediction is right" (in the context of how sure the parse was: ties,
the runner-up's extra cost in bits, literal or match), else the token itself (length by an
adaptive binary tree; the distance as "closest with that length" or its 15 bits). A few
kilobytes replace a half-megabyte stream, which the pixel model then codes as pixels.

The match search is bounded (chain steps, links in a row that find nothing longer, bytes
compared) so that periodic synthetic images do not take quadratic time; the bounds are part of
the format (encoder and decoder must search alike) and only cost prediction quality.

``describe(stream, data)`` -> recipe bytes (or :class:`NotRaster` when the stream has a form
this cannot express), ``replay(recipe, data)`` -> the stream, verified at describe time by running
replay. Everything is integer arithmetic in numba kernels; the tokens' coder is the small
binary arithmetic coder at the bottom (12-bit probabilities, 32-bit range, carry-less).
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import CorruptArchive
from .header import HEADER_VERSION, HeaderReader, HeaderWriter, NotRaster

#: Format version of the recipe (first field).
REPLAY_VERSION = 1
#: Most chain links followed per position when searching matches (zopfli follows up to 8192).
MAX_CHAIN_STEPS = 8192
#: ... and at most this many in a row that find nothing longer (long runs would cost 8192 each).
MAX_IDLE_STEPS = 2048
#: ... or this many once the best match is LONG_MATCH bytes (periodic images: every link ties).
LONG_MATCH = 32
MAX_IDLE_STEPS_LONG = 64
#: ... and stops once it has compared this many bytes (periodic images: every link matches long).
MAX_COMPARED_BYTES = 2048
#: Deflate's window and longest match.
WINDOW = 32768
MAX_MATCH = 258
MIN_MATCH = 3
#: Image data beyond this is not described: the search and the parse take about 25 bytes of
#: memory per byte of data (+ 96 MiB of chain heads), ~0.5 GB at this bound (5 megapixels RGB).
MAX_DATA_BYTES = 1 << 24
#: Most blocks a stream may have: one per 256 bytes of data, plus 64 (real encoders write blocks
#: of kilobytes; the bound keeps a hostile recipe from making replay allocate much per byte).
BLOCK_DATA_BYTES = 256
EXTRA_BLOCKS = 64


def max_blocks(data_bytes: int) -> int:
    """How many blocks a stream of ``data_bytes`` inflated bytes may have to be described."""
    return data_bytes // BLOCK_DATA_BYTES + EXTRA_BLOCKS


# Length codes 257..285 and distance codes 0..29 (RFC 1951, section 3.2.5).
LENGTH_BASE = np.array(
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
     131, 163, 195, 227, 258], dtype=np.int64)  # fmt: skip
LENGTH_EXTRA = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0],
    dtype=np.int64)  # fmt: skip
DIST_BASE = np.array(
    [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
     2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577], dtype=np.int64)  # fmt: skip
DIST_EXTRA = np.array(
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
     13, 13], dtype=np.int64)  # fmt: skip
CODE_LENGTH_ORDER = np.array(
    [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15], dtype=np.int64
)


def _code_of(base: np.ndarray, extra: np.ndarray, top: int) -> np.ndarray:
    codes = np.zeros(top + 1, dtype=np.int64)
    for code in range(len(base)):
        codes[base[code] : min(top + 1, base[code] + (1 << extra[code]))] = code
    return codes


LENGTH_CODE = _code_of(LENGTH_BASE, LENGTH_EXTRA, MAX_MATCH)
LENGTH_CODE[MAX_MATCH] = 28  # 258 has its own code (285); 284 + 31 extra is refused
DIST_CODE = _code_of(DIST_BASE, DIST_EXTRA, WINDOW)

FIXED_LITLEN = np.array([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8, dtype=np.int64)
FIXED_DIST = np.full(32, 5, dtype=np.int64)

# Block types (BTYPE) and parse results.
STORED, FIXED, DYNAMIC = 0, 1, 2
_OK, _BAD_STREAM, _UNEXPRESSIBLE, _TOO_MANY = 0, 1, 2, 3

# ---------------------------------------------------------------------------------------------
# Bits and Huffman codes


@numba.njit(cache=True)
def _bits(buf, pos, count):  # type: ignore[no-untyped-def]
    """``count`` bits at bit ``pos`` of ``buf``, least significant first (0 past the end)."""
    value = 0
    for i in range(count):
        b = pos + i
        if (b >> 3) < len(buf):
            value |= ((np.int64(buf[b >> 3]) >> (b & 7)) & 1) << i
    return value


@numba.njit(cache=True)
def _put_bits(out, pos, value, count):  # type: ignore[no-untyped-def]
    for i in range(count):
        if (value >> i) & 1:
            b = pos + i
            out[b >> 3] |= np.uint8(1 << (b & 7))
    return pos + count


@numba.njit(cache=True)
def _canonical_codes(lengths):  # type: ignore[no-untyped-def]
    """Canonical Huffman codes of ``lengths``, bit-reversed for LSB-first writing; -1 if invalid."""
    count = np.zeros(16, dtype=np.int64)
    for length in lengths:
        if length < 0 or length > 15:
            return np.full(len(lengths), -1, dtype=np.int64)
        count[length] += 1
    count[0] = 0
    left = 1
    for bits in range(1, 16):  # an over-subscribed set is not a prefix code
        left = (left << 1) - count[bits]
        if left < 0:
            return np.full(len(lengths), -1, dtype=np.int64)
    next_code = np.zeros(16, dtype=np.int64)
    code = 0
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    codes = np.zeros(len(lengths), dtype=np.int64)
    for symbol in range(len(lengths)):
        length = lengths[symbol]
        if length:
            c = next_code[length]
            next_code[length] += 1
            reversed_code = 0
            for i in range(length):
                reversed_code |= ((c >> i) & 1) << (length - 1 - i)
            codes[symbol] = reversed_code
    return codes


@numba.njit(cache=True)
def _lookup_table(lengths):  # type: ignore[no-untyped-def]
    """15-bit lookup: next 15 stream bits -> symbol * 16 + code length (-1: no such code)."""
    table = np.full(1 << 15, -1, dtype=np.int64)
    codes = _canonical_codes(lengths)
    if codes[0] < 0:  # not a prefix code
        return table
    for symbol in range(len(lengths)):
        length = lengths[symbol]
        if length:
            j = codes[symbol]
            while j < (1 << 15):
                table[j] = symbol * 16 + length
                j += 1 << length
    return table


@numba.njit(cache=True)
def _header_lengths(buf, pos, litlen, dist):  # type: ignore[no-untyped-def]
    """Read a dynamic block's code lengths (after BTYPE) into litlen / dist; end bit or -1."""
    hlit = _bits(buf, pos, 5) + 257
    hdist = _bits(buf, pos + 5, 5) + 1
    hclen = _bits(buf, pos + 10, 4) + 4
    pos += 14
    if hlit > 286 or hdist > 30:
        return -1
    code_lengths = np.zeros(19, dtype=np.int64)
    for i in range(hclen):
        code_lengths[CODE_LENGTH_ORDER[i]] = _bits(buf, pos, 3)
        pos += 3
    table = _lookup_table(code_lengths)
    lengths = np.zeros(hlit + hdist, dtype=np.int64)
    i = 0
    while i < hlit + hdist:
        entry = table[_bits(buf, pos, 15)]
        if entry < 0:
            return -1
        symbol = entry >> 4
        pos += entry & 15
        if symbol < 16:
            lengths[i] = symbol
            i += 1
            continue
        if symbol == 16:
            if i == 0:
                return -1
            repeat, value = 3 + _bits(buf, pos, 2), lengths[i - 1]
            pos += 2
        elif symbol == 17:
            repeat, value = 3 + _bits(buf, pos, 3), 0
            pos += 3
        else:
            repeat, value = 11 + _bits(buf, pos, 7), 0
            pos += 7
        if i + repeat > hlit + hdist:
            return -1
        for _ in range(repeat):
            lengths[i] = value
            i += 1
    litlen[:] = 0
    dist[:] = 0
    litlen[:hlit] = lengths[:hlit]
    dist[:hdist] = lengths[hlit:]
    return pos


# ---------------------------------------------------------------------------------------------
# Parsing a stream into blocks and tokens


@numba.njit(cache=True)
def _parse_kernel(buf, data_len, tok_len, tok_dist, blocks, litlens, dists):  # type: ignore[no-untyped-def]
    """Split a deflate stream into blocks and tokens.

    blocks[b] = (type, first bit, first bit after the header, data start, data end, first token,
    token end, padding value of a stored block); tokens: length 0 = literal, else a match.
    Returns (status, tokens, blocks, end bit).
    """
    pos = 0
    n_tok = 0
    n_blk = 0
    out = 0
    nbits = len(buf) * 8
    while True:
        if n_blk >= len(blocks):
            return _TOO_MANY, n_tok, n_blk, pos
        start = pos
        final = _bits(buf, pos, 1)
        btype = _bits(buf, pos + 1, 2)
        pos += 3
        blocks[n_blk, 0] = btype
        blocks[n_blk, 1] = start
        blocks[n_blk, 3] = out
        blocks[n_blk, 5] = n_tok
        if btype == STORED:
            aligned = (pos + 7) & ~7
            blocks[n_blk, 7] = _bits(buf, pos, aligned - pos)
            pos = aligned
            length = _bits(buf, pos, 16)
            if _bits(buf, pos + 16, 16) != length ^ 0xFFFF:
                return _BAD_STREAM, n_tok, n_blk, pos
            pos += 32 + 8 * length
            out += length
            blocks[n_blk, 2] = pos
        elif btype == 3:
            return _BAD_STREAM, n_tok, n_blk, pos
        else:
            if btype == FIXED:
                litlens[n_blk, :] = FIXED_LITLEN
                dists[n_blk, :] = FIXED_DIST
            else:
                pos = _header_lengths(buf, pos, litlens[n_blk], dists[n_blk])
                if pos < 0:
                    return _BAD_STREAM, n_tok, n_blk, pos
            blocks[n_blk, 2] = pos
            lit_table = _lookup_table(litlens[n_blk])
            dist_table = _lookup_table(dists[n_blk])
            while True:
                if pos > nbits or n_tok >= len(tok_len):
                    return _BAD_STREAM, n_tok, n_blk, pos
                entry = lit_table[_bits(buf, pos, 15)]
                if entry < 0:
                    return _BAD_STREAM, n_tok, n_blk, pos
                symbol = entry >> 4
                pos += entry & 15
                if symbol < 256:
                    tok_len[n_tok] = 0
                    tok_dist[n_tok] = symbol
                    n_tok += 1
                    out += 1
                    continue
                if symbol == 256:
                    break
                code = symbol - 257
                if code > 28:
                    return _BAD_STREAM, n_tok, n_blk, pos
                length = LENGTH_BASE[code] + _bits(buf, pos, LENGTH_EXTRA[code])
                pos += LENGTH_EXTRA[code]
                if length == MAX_MATCH and code != 28:
                    return _UNEXPRESSIBLE, n_tok, n_blk, pos
                entry = dist_table[_bits(buf, pos, 15)]
                if entry < 0 or (entry >> 4) > 29:
                    return _BAD_STREAM, n_tok, n_blk, pos
                dcode = entry >> 4
                pos += entry & 15
                distance = DIST_BASE[dcode] + _bits(buf, pos, DIST_EXTRA[dcode])
                pos += DIST_EXTRA[dcode]
                if distance > out:
                    return _BAD_STREAM, n_tok, n_blk, pos
                tok_len[n_tok] = length
                tok_dist[n_tok] = distance
                n_tok += 1
                out += length
        blocks[n_blk, 4] = out
        blocks[n_blk, 6] = n_tok
        n_blk += 1
        if out > data_len:
            return _BAD_STREAM, n_tok, n_blk, pos
        if final:
            return _OK, n_tok, n_blk, pos


# ---------------------------------------------------------------------------------------------
# The predictor: closest matches and a shortest-path parse per block


_HASH_BITS = 22
#: Chains: 3 bytes (exact), then hashes of the next SHORT_KEY and of the next LONG_KEY bytes.
SHORT_KEY = 4
LONG_KEY = 6


@numba.njit(cache=True)
def _hash_key(data, p, count):  # type: ignore[no-untyped-def]
    key = np.uint64(0)
    for i in range(count):
        key = (key << np.uint64(8)) | np.uint64(data[p + i])
    key = key * np.uint64(0x9E3779B97F4A7C15)
    return np.int64(key >> np.uint64(64 - _HASH_BITS))


@numba.njit(cache=True)
def _chains(data):  # type: ignore[no-untyped-def]
    """Match chains, nearest first: prev[0, p] = the last position before p starting with the
    same 3 bytes; prev[1, p] / prev[2, p] = the last one whose next SHORT_KEY / LONG_KEY bytes
    hash alike (-1: none). Every position sharing k bytes with p is on p's k-byte chain."""
    n = len(data)
    head3 = np.full(1 << 24, -1, dtype=np.int32)
    head_short = np.full(1 << _HASH_BITS, -1, dtype=np.int32)
    head_long = np.full(1 << _HASH_BITS, -1, dtype=np.int32)
    prev = np.full((3, n), -1, dtype=np.int32)
    for p in range(n - 2):
        key = (np.int64(data[p]) << 16) | (np.int64(data[p + 1]) << 8) | np.int64(data[p + 2])
        prev[0, p] = head3[key]
        head3[key] = p
        if p + SHORT_KEY <= n:
            h = _hash_key(data, p, SHORT_KEY)
            prev[1, p] = head_short[h]
            head_short[h] = p
        if p + LONG_KEY <= n:
            h = _hash_key(data, p, LONG_KEY)
            prev[2, p] = head_long[h]
            head_long[h] = p
    return prev


@numba.njit(cache=True)
def _match_length(data, q, p, limit):  # type: ignore[no-untyped-def]
    length = 0
    while length < limit and data[q + length] == data[p + length]:
        length += 1
    return length


@numba.njit(cache=True)
def _walk(data, prev, chain, p, limit, best, enough, sub):  # type: ignore[no-untyped-def]
    """Follow one chain from p, nearest first, recording in ``sub`` each longer match found;
    stops at ``enough`` bytes or at the search bounds. Returns the longest match so far."""
    q = prev[chain, p]
    steps = 0
    idle = 0
    compared = 0
    while q >= 0 and p - q <= WINDOW and steps < MAX_CHAIN_STEPS:
        if idle >= (MAX_IDLE_STEPS if best < LONG_MATCH else MAX_IDLE_STEPS_LONG):
            break
        if compared >= MAX_COMPARED_BYTES:
            break
        idle += 1
        # A candidate can only beat ``best`` if it also matches at offset ``best``.
        if data[q + best] == data[p + best]:
            length = _match_length(data, q, p, limit)
            compared += length
            if length > best:
                for j in range(best + 1, length + 1):
                    sub[j] = p - q
                best = length
                idle = 0
                if best >= enough:
                    break
        q = prev[chain, q]
        steps += 1
    return best


@numba.njit(cache=True)
def _closest_matches(data, prev, p, limit, sub):  # type: ignore[no-untyped-def]
    """sub[L] = the closest distance with a match of >= L bytes at p; returns the longest (>= 2).

    The closest 3-byte match is the head of the 3-byte chain; lengths up to LONG_KEY - 1 are
    searched along the SHORT_KEY chain, longer ones along the (much sparser) LONG_KEY chain:
    any match of L bytes is on the chains of keys up to L bytes long.
    """
    q = prev[0, p]
    if q < 0 or p - q > WINDOW:
        return MIN_MATCH - 1
    best = _match_length(data, q, p, limit)
    for j in range(MIN_MATCH, best + 1):
        sub[j] = p - q
    if best < LONG_KEY - 1 and best < limit:
        best = _walk(data, prev, 1, p, limit, best, LONG_KEY - 1, sub)
    if best < limit and best >= LONG_KEY - 1:
        best = _walk(data, prev, 2, p, limit, best, limit, sub)
    return best


@numba.njit(cache=True)
def _predict_block(data, prev, start, end, litlen, dist, choice, context):  # type: ignore[no-untyped-def]
    """choice[p] = the cheapest first token from p to ``end`` (0 literal, else its length);
    context[p] = how sure that is: ties (0-3) | margin bucket << 2 | (choice is a match) << 5,
    the margin being how many bits the runner-up costs more (bucketed by MARGIN_BUCKETS)."""
    # Costs fit int32: at most 16 bits per byte of data (MAX_DATA_BYTES) below ``infinite``.
    infinite = np.int64(2**31 - 1)
    n = end - start
    cost = np.full(n + 1, infinite, dtype=np.int32)
    cost[n] = 0
    sub = np.zeros(MAX_MATCH + 1, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        p = start + i
        best = infinite
        second = infinite
        best_len = 0
        tied = 0
        if litlen[data[p]] > 0 and cost[i + 1] < infinite:
            best = litlen[data[p]] + cost[i + 1]
            tied = 1
        limit = min(MAX_MATCH, end - p)
        if limit >= MIN_MATCH:
            longest = _closest_matches(data, prev, p, limit, sub)
            for length in range(MIN_MATCH, longest + 1):
                code = LENGTH_CODE[length]
                dcode = DIST_CODE[sub[length]]
                if litlen[257 + code] == 0 or dist[dcode] == 0 or cost[i + length] >= infinite:
                    continue
                c = (
                    litlen[257 + code] + LENGTH_EXTRA[code] + dist[dcode] + DIST_EXTRA[dcode]
                    + cost[i + length]
                )  # fmt: skip
                if c < best:
                    second = best
                    best = c
                    best_len = length
                    tied = 1
                elif c == best:
                    tied += 1
                elif c < second:
                    second = c
        cost[i] = best
        choice[p] = best_len
        margin = 0 if tied > 1 else min(second - best, len(MARGIN_BUCKETS) - 1)
        context[p] = min(tied, 3) | (MARGIN_BUCKETS[margin] << 2) | ((best_len > 0) << 5)


# ---------------------------------------------------------------------------------------------
# Binary arithmetic coder (carry-less, 32-bit range, 12-bit probabilities, 16-bit state)

_PROB_ONE = 1 << 16
_RATE = 5


@numba.njit(cache=True)
def _p12(state):  # type: ignore[no-untyped-def]
    return min(4095, max(1, state >> 4))


@numba.njit(cache=True)
def _midpoint(x1, x2, probs, ctx):  # type: ignore[no-untyped-def]
    """Where the range [x1, x2] splits: below and at it a 1, above it a 0."""
    return x1 + ((x2 - x1) >> 12) * _p12(probs[ctx])


@numba.njit(cache=True)
def _narrow(x1, x2, probs, ctx, bit):  # type: ignore[no-untyped-def]
    """The range left after ``bit``; the context's probability learns the bit."""
    mid = _midpoint(x1, x2, probs, ctx)
    if bit:
        probs[ctx] += (_PROB_ONE - probs[ctx]) >> _RATE
        return x1, mid
    probs[ctx] -= probs[ctx] >> _RATE
    return mid + 1, x2


@numba.njit(cache=True)
def _encode_bit(coder, out, probs, ctx, bit):  # type: ignore[no-untyped-def]
    """coder = [x1, x2, bytes written]; probs[ctx] is P(bit = 1) in 1/65536."""
    x1, x2 = _narrow(coder[0], coder[1], probs, ctx, bit)
    while ((x1 ^ x2) & 0xFF000000) == 0:
        out[coder[2]] = x2 >> 24
        coder[2] += 1
        x1 = (x1 << 8) & 0xFFFFFFFF
        x2 = ((x2 << 8) & 0xFFFFFFFF) | 255
    coder[0], coder[1] = x1, x2


@numba.njit(cache=True)
def _decode_bit(coder, buf, probs, ctx):  # type: ignore[no-untyped-def]
    """coder = [x1, x2, x, next byte to read]."""
    x = coder[2]
    bit = 1 if x <= _midpoint(coder[0], coder[1], probs, ctx) else 0
    x1, x2 = _narrow(coder[0], coder[1], probs, ctx, bit)
    while ((x1 ^ x2) & 0xFF000000) == 0:
        x1 = (x1 << 8) & 0xFFFFFFFF
        x2 = ((x2 << 8) & 0xFFFFFFFF) | 255
        byte = np.int64(buf[coder[3]]) if coder[3] < len(buf) else np.int64(0)
        coder[3] += 1
        x = ((x << 8) & 0xFFFFFFFF) | byte
    coder[0], coder[1], coder[2] = x1, x2, x
    return bit


#: Bits by which the runner-up choice costs more -> bucket (6 buckets; 9 and over share one).
MARGIN_BUCKETS = np.array([0, 1, 2, 3, 3, 4, 4, 4, 4, 5], dtype=np.int64)

# Contexts of the token coder: [0, 128) "prediction right" by (prediction context, previous
# hit); then two length trees (9 bits, 512 nodes; one where a literal was predicted, one where a
# match was), "closest distance" by hit, and one for a distance's raw bits.
_HIT_CONTEXTS = 128
_TREE = _HIT_CONTEXTS
_CLOSEST = _TREE + 1024
_CONTEXTS = _CLOSEST + 2
_LENGTH_BITS = 9  # 0 (literal) or 3..258


@numba.njit(cache=True)
def _encode_tokens(data, prev, blocks, n_blk, tok_len, tok_dist, choice, context, out):  # type: ignore[no-untyped-def]
    probs = np.full(_CONTEXTS + 1, _PROB_ONE // 2, dtype=np.int64)
    coder = np.array([0, 0xFFFFFFFF, 0], dtype=np.int64)
    sub = np.zeros(MAX_MATCH + 1, dtype=np.int64)
    last_hit = 1
    for b in range(n_blk):
        if blocks[b, 0] == STORED:
            continue
        p = blocks[b, 3]
        for t in range(blocks[b, 5], blocks[b, 6]):
            length = tok_len[t]
            hit = 1 if choice[p] == length else 0
            _encode_bit(coder, out, probs, np.int64(context[p]) * 2 + last_hit, hit)
            if not hit:
                tree = 512 if choice[p] else 0
                node = 1
                for i in range(_LENGTH_BITS - 1, -1, -1):
                    bit = (length >> i) & 1
                    _encode_bit(coder, out, probs, _TREE + tree + node, bit)
                    node = node * 2 + bit
            if length:
                for j in range(MIN_MATCH, length + 1):
                    sub[j] = 0
                _closest_matches(data, prev, p, min(MAX_MATCH, blocks[b, 4] - p), sub)
                closest = 1 if sub[length] == tok_dist[t] else 0
                _encode_bit(coder, out, probs, _CLOSEST + hit, closest)
                if not closest:
                    for i in range(14, -1, -1):
                        _encode_bit(coder, out, probs, _CONTEXTS, ((tok_dist[t] - 1) >> i) & 1)
                p += length
            else:
                p += 1
            last_hit = hit
    for _ in range(4):  # flush: x1's bytes pin a value inside the final range
        out[coder[2]] = coder[0] >> 24
        coder[2] += 1
        coder[0] = (coder[0] << 8) & 0xFFFFFFFF
    return coder[2]


@numba.njit(cache=True)
def _decode_tokens(data, prev, blocks, n_blk, buf, choice, context, tok_len, tok_dist):  # type: ignore[no-untyped-def]
    """Inverse of _encode_tokens; returns the token count, or -1 if the tokens do not fit."""
    probs = np.full(_CONTEXTS + 1, _PROB_ONE // 2, dtype=np.int64)
    coder = np.array([0, 0xFFFFFFFF, 0, 0], dtype=np.int64)
    for _ in range(4):
        byte = np.int64(buf[coder[3]]) if coder[3] < len(buf) else np.int64(0)
        coder[2] = (coder[2] << 8) | byte
        coder[3] += 1
    sub = np.zeros(MAX_MATCH + 1, dtype=np.int64)
    last_hit = 1
    n_tok = 0
    for b in range(n_blk):
        blocks[b, 5] = n_tok
        if blocks[b, 0] != STORED:
            p = blocks[b, 3]
            end = blocks[b, 4]
            while p < end:
                if n_tok >= len(tok_len):
                    return -1
                hit = _decode_bit(coder, buf, probs, np.int64(context[p]) * 2 + last_hit)
                if hit:
                    length = choice[p]
                else:
                    tree = 512 if choice[p] else 0
                    node = 1
                    for _ in range(_LENGTH_BITS):
                        node = node * 2 + _decode_bit(coder, buf, probs, _TREE + tree + node)
                    length = node - (1 << _LENGTH_BITS)
                if length:
                    if length < MIN_MATCH or length > min(MAX_MATCH, end - p):
                        return -1
                    for j in range(MIN_MATCH, length + 1):
                        sub[j] = 0
                    _closest_matches(data, prev, p, min(MAX_MATCH, end - p), sub)
                    if _decode_bit(coder, buf, probs, _CLOSEST + hit):
                        distance = sub[length]
                    else:
                        distance = 0
                        for _ in range(15):
                            distance = distance * 2 + _decode_bit(coder, buf, probs, _CONTEXTS)
                        distance += 1
                    if distance < 1 or distance > p:
                        return -1
                    tok_dist[n_tok] = distance
                    p += length
                else:
                    tok_dist[n_tok] = data[p]
                    p += 1
                tok_len[n_tok] = length
                n_tok += 1
                last_hit = hit
            if p != end:
                return -1
        blocks[b, 6] = n_tok
    return n_tok


# ---------------------------------------------------------------------------------------------
# Writing the stream back


@numba.njit(cache=True)
def _write_kernel(
    data, blocks, n_blk, header_bits, litlens, dists, tok_len, tok_dist, final_pad, out
):  # type: ignore[no-untyped-def]
    """Emit the deflate stream; returns its length in bits, or -1 on an unwritable token."""
    pos = 0
    header_pos = 0
    for b in range(n_blk):
        btype = blocks[b, 0]
        pos = _put_bits(out, pos, 1 if b == n_blk - 1 else 0, 1)
        pos = _put_bits(out, pos, btype, 2)
        if btype == STORED:
            aligned = (pos + 7) & ~7
            pos = _put_bits(out, pos, blocks[b, 7], aligned - pos)
            length = blocks[b, 4] - blocks[b, 3]
            pos = _put_bits(out, pos, length, 16)
            pos = _put_bits(out, pos, length ^ 0xFFFF, 16)
            for i in range(blocks[b, 3], blocks[b, 4]):
                out[pos >> 3] = data[i]
                pos += 8
            continue
        if btype == DYNAMIC:
            for _ in range(blocks[b, 2]):
                bit = (header_bits[header_pos >> 3] >> (header_pos & 7)) & 1
                pos = _put_bits(out, pos, bit, 1)
                header_pos += 1
        lit_codes = _canonical_codes(litlens[b])
        dist_codes = _canonical_codes(dists[b])
        for t in range(blocks[b, 5], blocks[b, 6]):
            length = tok_len[t]
            if length == 0:
                symbol = tok_dist[t]
                if litlens[b, symbol] == 0:
                    return -1
                pos = _put_bits(out, pos, lit_codes[symbol], litlens[b, symbol])
                continue
            code = LENGTH_CODE[length]
            dcode = DIST_CODE[tok_dist[t]]
            if litlens[b, 257 + code] == 0 or dists[b, dcode] == 0:
                return -1
            pos = _put_bits(out, pos, lit_codes[257 + code], litlens[b, 257 + code])
            pos = _put_bits(out, pos, length - LENGTH_BASE[code], LENGTH_EXTRA[code])
            pos = _put_bits(out, pos, dist_codes[dcode], dists[b, dcode])
            pos = _put_bits(out, pos, tok_dist[t] - DIST_BASE[dcode], DIST_EXTRA[dcode])
        if litlens[b, 256] == 0:
            return -1
        pos = _put_bits(out, pos, lit_codes[256], litlens[b, 256])
    aligned = (pos + 7) & ~7
    return _put_bits(out, pos, final_pad, aligned - pos)


# ---------------------------------------------------------------------------------------------
# Public: describe and replay


def describe(stream: bytes, data: bytes) -> bytes:
    """The recipe that rebuilds ``stream`` (raw deflate) from ``data`` (what it inflates to)."""
    if len(data) > MAX_DATA_BYTES or len(stream) > MAX_DATA_BYTES:
        raise NotRaster("deflate stream too large to replay")
    buf = np.frombuffer(stream, dtype=np.uint8)
    raw = np.frombuffer(data, dtype=np.uint8)
    capacity = len(data) + 2
    tok_len = np.zeros(capacity, dtype=np.int16)
    tok_dist = np.zeros(capacity, dtype=np.int32)
    blocks = np.zeros((max_blocks(len(raw)), 8), dtype=np.int64)
    litlens = np.zeros((len(blocks), 288), dtype=np.int16)
    dists = np.zeros((len(blocks), 32), dtype=np.int16)
    status, _, n_blk, end_bit = _parse_kernel(
        buf, len(raw), tok_len, tok_dist, blocks, litlens, dists
    )
    if status == _UNEXPRESSIBLE:
        raise NotRaster("deflate stream codes length 258 the long way")
    if status == _TOO_MANY:
        raise NotRaster("deflate stream has more blocks than replay allows")
    if status != _OK or blocks[n_blk - 1, 4] != len(raw) or (end_bit + 7) // 8 != len(stream):
        raise NotRaster("deflate stream cannot be replayed")
    writer = HeaderWriter(0)
    writer.uint(REPLAY_VERSION)
    writer.uint(n_blk)
    stream_bits = np.unpackbits(buf, bitorder="little")
    header_runs = []
    for b in range(n_blk):
        btype = int(blocks[b, 0])
        writer.uint(btype)
        writer.uint(int(blocks[b, 4] - blocks[b, 3]))
        if btype == STORED:
            writer.uint(int(blocks[b, 7]))
        elif btype == DYNAMIC:
            first, after = int(blocks[b, 1]) + 3, int(blocks[b, 2])
            writer.uint(after - first)
            header_runs.append(stream_bits[first:after])
    # The dynamic headers' bits, back to back, packed least significant first (zero-padded).
    header_bits = np.concatenate(header_runs) if header_runs else np.zeros(0, dtype=np.uint8)
    writer.blob(np.packbits(header_bits, bitorder="little").tobytes())
    writer.uint(_bits(buf, end_bit, (8 - end_bit % 8) % 8))
    choice, context, prev = _predictions(raw, blocks, n_blk, litlens, dists)
    out = np.zeros(len(stream) * 2 + 64, dtype=np.uint8)
    written = _encode_tokens(raw, prev, blocks, n_blk, tok_len, tok_dist, choice, context, out)
    writer.blob(out[:written].tobytes())
    recipe = writer.getvalue()[2:]
    del choice, context, prev, tok_len, tok_dist, out  # replay allocates its own
    if replay(recipe, data) != stream:
        raise NotRaster("deflate replay did not reproduce the stream")
    return recipe


def _predictions(raw, blocks, n_blk, litlens, dists):  # type: ignore[no-untyped-def]
    prev = _chains(raw)
    choice = np.zeros(len(raw), dtype=np.int16)
    context = np.zeros(len(raw), dtype=np.uint8)
    for b in range(n_blk):
        if blocks[b, 0] != STORED:
            _predict_block(
                raw, prev, blocks[b, 3], blocks[b, 4], litlens[b], dists[b], choice, context
            )
    return choice, context, prev


def replay(recipe: bytes, data: bytes) -> bytes:
    """Inverse of :func:`describe`; CorruptArchive if the recipe does not fit ``data``."""
    reader = HeaderReader(bytes([HEADER_VERSION, 0]) + recipe)
    if reader.uint(REPLAY_VERSION, "deflate replay version") != REPLAY_VERSION:
        raise CorruptArchive("deflate replay: unknown version")
    raw = np.frombuffer(data, dtype=np.uint8)
    n_blk = reader.uint(max_blocks(len(raw)), "deflate block count")
    if n_blk < 1:
        raise CorruptArchive("deflate replay: no blocks")
    blocks = np.zeros((n_blk, 8), dtype=np.int64)
    litlens = np.zeros((n_blk, 288), dtype=np.int16)
    dists = np.zeros((n_blk, 32), dtype=np.int16)
    position = 0
    for b in range(n_blk):
        btype = reader.uint(DYNAMIC, "deflate block type")
        size = reader.uint(len(raw) - position, "deflate block size")
        blocks[b, 0] = btype
        blocks[b, 3] = position
        blocks[b, 4] = position = position + size
        if btype == STORED:
            if size > 0xFFFF:
                raise CorruptArchive("deflate replay: stored block too long")
            blocks[b, 7] = reader.uint(127, "stored block padding")
        elif btype == DYNAMIC:
            blocks[b, 2] = reader.uint(1 << 24, "dynamic block header bits")
        else:
            litlens[b] = FIXED_LITLEN
            dists[b] = FIXED_DIST
    if position != len(raw):
        raise CorruptArchive("deflate replay: blocks do not cover the data")
    header_bits = np.frombuffer(reader.blob("deflate block headers"), dtype=np.uint8)
    final_pad = reader.uint(127, "deflate final padding")
    tokens = np.frombuffer(reader.blob("deflate tokens"), dtype=np.uint8)
    reader.finish()
    header_pos = 0
    for b in range(n_blk):
        if blocks[b, 0] == DYNAMIC:
            count = int(blocks[b, 2])
            if header_pos + count > len(header_bits) * 8:
                raise CorruptArchive("deflate replay: block headers truncated")
            end = _header_lengths(header_bits, header_pos, litlens[b], dists[b])
            if (
                end != header_pos + count
                or min(_canonical_codes(litlens[b])[0], _canonical_codes(dists[b])[0]) < 0
            ):  # (an over-subscribed code: no inflater reads such a stream)
                raise CorruptArchive("deflate replay: a block header is damaged")
            header_pos = end
    choice, context, prev = _predictions(raw, blocks, n_blk, litlens, dists)
    tok_len = np.zeros(len(raw) + 1, dtype=np.int16)
    tok_dist = np.zeros(len(raw) + 1, dtype=np.int32)
    if _decode_tokens(raw, prev, blocks, n_blk, tokens, choice, context, tok_len, tok_dist) < 0:
        raise CorruptArchive("deflate replay: tokens do not fit the data")
    out = np.zeros(len(raw) * 2 + header_pos // 8 + 8 * n_blk + 64, dtype=np.uint8)
    end_bit = _write_kernel(
        raw, blocks, n_blk, header_bits, litlens, dists, tok_len, tok_dist, final_pad, out
    )
    if end_bit < 0:
        raise CorruptArchive("deflate replay: a token has no code in its block")
    return out[: (end_bit + 7) // 8].tobytes()
