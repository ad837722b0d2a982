"""Tests for mmcompress.coder: range coding under integer frequency tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcompress.coder import Decoder, Encoder, encode, ideal_code_length_bits
from mmcompress.errors import CorruptArchive
from mmcompress.intmath import MAX_PRECISION_BITS, scores_to_freq_table

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ALPHABET = 256


def sample_bytes(name: str, size: int | None = None) -> np.ndarray:
    return np.frombuffer((SAMPLES / name).read_bytes()[:size], dtype=np.uint8)


def static_tables(symbols: np.ndarray, precision_bits: int) -> np.ndarray:
    """One order-0 table from the whole input's histogram, repeated per symbol (C-contiguous)."""
    table = scores_to_freq_table(np.bincount(symbols, minlength=ALPHABET), precision_bits)
    return np.ascontiguousarray(np.broadcast_to(table, (symbols.size, ALPHABET)))


def adaptive_tables(symbols: np.ndarray, precision_bits: int) -> np.ndarray:
    """Per-symbol order-0 tables: counts of the symbols before it (what a decoder can rebuild)."""
    seen = np.zeros((symbols.size, ALPHABET), dtype=np.int64)
    seen[np.arange(1, symbols.size), symbols[:-1]] = 1
    return scores_to_freq_table(np.cumsum(seen, axis=0) * 4 + 1, precision_bits)


def test_round_trip_of_real_text() -> None:
    symbols = sample_bytes("pep-0008.rst", 20000)
    tables = adaptive_tables(symbols, 16)
    payload = encode(symbols, tables, 16)
    assert len(payload) % 4 == 0
    assert np.array_equal(Decoder(payload, 16).decode(tables), symbols)


@pytest.mark.parametrize("precision_bits", [12, 16, MAX_PRECISION_BITS])
@pytest.mark.parametrize("tables_for", [static_tables, adaptive_tables])
@pytest.mark.parametrize("name", ["pep-0008.rst", "zlib_inflate.c", "xz_5.4.1-1_amd64.elf"])
def test_coded_size_is_close_to_the_ideal(name: str, tables_for, precision_bits: int) -> None:
    symbols = sample_bytes(name, 16384)
    tables = tables_for(symbols, precision_bits)
    ideal_bits = ideal_code_length_bits(symbols, tables, precision_bits)
    coded_bits = 8 * len(encode(symbols, tables, precision_bits))
    assert coded_bits <= ideal_bits * 1.001 + 64
    assert coded_bits >= ideal_bits * 0.999 - 64


def test_ideal_code_length_bits_exact() -> None:
    tables = np.array([[8, 4, 4], [1, 1, 14], [2, 2, 12]])
    # -log2(8/16) - log2(1/16) - log2(12/16)
    expected = 1 + 4 + (4 - np.log2(12))
    assert ideal_code_length_bits(np.array([0, 1, 2]), tables, 4) == pytest.approx(
        expected, abs=1e-12
    )


#: sha256 and length of the coded first 1024 bytes of samples/pep-0008.rst (format: coder words).
GOLDEN_STATIC = ("45e444e399af0c6b79aaf886090eb5934606b5af5ac41649791e949d2eb83690", 632)
GOLDEN_ADAPTIVE = ("e2227b3b724a861dc03b3d096b329c8d230341caa5744fe5e9ea5f274d3a5089", 680)


@pytest.mark.parametrize(
    ("tables_for", "golden"),
    [(static_tables, GOLDEN_STATIC), (adaptive_tables, GOLDEN_ADAPTIVE)],
)
def test_golden_coded_bytes(tables_for, golden: tuple[str, int]) -> None:
    symbols = sample_bytes("pep-0008.rst", 1024)
    payload = encode(symbols, tables_for(symbols, 12), 12)
    assert (hashlib.sha256(payload).hexdigest(), len(payload)) == golden


def test_chunked_encoding_equals_one_shot() -> None:
    symbols = sample_bytes("click_parser.py", 5000)
    tables = adaptive_tables(symbols, 15)
    encoder = Encoder(15)
    for first in range(0, symbols.size, 777):
        encoder.encode(symbols[first : first + 777], tables[first : first + 777])
    encoder.encode(symbols[:0], tables[:0])  # an empty call changes nothing
    assert encoder.finish() == encode(symbols, tables, 15)


def test_empty_input_codes_to_nothing() -> None:
    assert encode(np.zeros(0, dtype=np.int32), np.zeros((0, 4), dtype=np.uint32), 8) == b""
    assert Decoder(b"", 8).decode(np.zeros((0, 4), dtype=np.uint32)).tolist() == []


def test_near_impossible_symbols_round_trip() -> None:
    table = np.ones(ALPHABET, dtype=np.int64)
    table[0] = (1 << MAX_PRECISION_BITS) - (ALPHABET - 1)
    symbols = np.zeros(2000, dtype=np.int32)
    symbols[::97] = 255  # each costs 24 bits
    tables = np.ascontiguousarray(np.broadcast_to(table, (symbols.size, ALPHABET)))
    payload = encode(symbols, tables, MAX_PRECISION_BITS)
    assert np.array_equal(Decoder(payload, MAX_PRECISION_BITS).decode(tables), symbols)
    assert 8 * len(payload) <= ideal_code_length_bits(symbols, tables, MAX_PRECISION_BITS) + 64


@pytest.mark.parametrize("length", [1, 2, 3, 5, 7])
def test_decoder_rejects_a_length_that_is_not_whole_words(length: int) -> None:
    with pytest.raises(CorruptArchive, match="multiple of 4"):
        Decoder(bytes(length), 8)


@pytest.mark.parametrize("precision_bits", [0, MAX_PRECISION_BITS + 1])
def test_bad_precision_raises(precision_bits: int) -> None:
    with pytest.raises(ValueError, match="precision_bits"):
        encode(np.array([0]), np.array([[1, 1]]), precision_bits)


def test_one_table_per_symbol_is_required() -> None:
    with pytest.raises(ValueError, match="one frequency table per symbol"):
        encode(np.array([0, 1, 0]), np.array([[2, 2], [2, 2]]), 2)
    with pytest.raises(ValueError, match="shape"):
        encode(np.array([0]), np.array([2, 2]), 2)


def test_table_memory_layout_does_not_change_the_bytes() -> None:
    symbols = sample_bytes("pep-0008.rst", 4000)
    contiguous = static_tables(symbols, 16)
    broadcast = np.broadcast_to(contiguous[0], contiguous.shape)
    assert encode(symbols, broadcast, 16) == encode(symbols, contiguous, 16)


@st.composite
def coding_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
    alphabet = draw(st.integers(2, 300))
    precision_bits = draw(st.integers((alphabet - 1).bit_length(), MAX_PRECISION_BITS))
    count = draw(st.integers(0, 200))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # skewed scores (many zeros, a few huge) as well as flat ones
    scores = rng.integers(0, 1 << 16, (count, alphabet)) * (rng.random((count, alphabet)) < 0.3)
    tables = scores_to_freq_table(scores, precision_bits)
    symbols = rng.integers(0, alphabet, count).astype(np.int32)
    cuts = sorted(draw(st.lists(st.integers(0, count), max_size=4)))
    return symbols, tables, precision_bits, cuts


@settings(max_examples=150, deadline=None)
@given(coding_cases())
def test_random_tables_round_trip(case: tuple[np.ndarray, np.ndarray, int, list[int]]) -> None:
    symbols, tables, precision_bits, cuts = case
    payload = encode(symbols, tables, precision_bits)
    decoder = Decoder(payload, precision_bits)
    decoded = [
        decoder.decode(tables[lo:hi])
        for lo, hi in zip([0, *cuts], [*cuts, symbols.size], strict=True)
    ]
    assert np.array_equal(np.concatenate(decoded), symbols)
    assert 8 * len(payload) <= ideal_code_length_bits(symbols, tables, precision_bits) * 1.001 + 64


def test_shared_table_runs_interleave_with_per_symbol_tables() -> None:
    """encode_shared/decode_shared (one table for a run) mix with per-symbol calls, in order."""
    table = np.array([1 << 13, 1 << 12, (1 << 14) - (1 << 13) - (1 << 12) + (1 << 14)], np.uint32)
    rng = np.random.default_rng(3)
    run = rng.integers(0, 3, 5000)
    tail = rng.integers(0, 3, 7)
    encoder = Encoder(15)
    encoder.encode_shared(run, table)
    encoder.encode(tail, np.tile(table, (7, 1)))
    encoder.encode_shared(run[:0], table)
    payload = encoder.finish()
    decoder = Decoder(payload, 15)
    assert np.array_equal(decoder.decode_shared(5000, table), run)
    assert np.array_equal(decoder.decode(np.tile(table, (7, 1))), tail)
    assert decoder.decode_shared(0, table).size == 0
