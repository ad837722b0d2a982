"""Tests of mmcompress.predictors.context: valid tables, encoder == decoder, round trips, goldens."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from bytemodels import (
    ALICE,
    CODE,
    corpus_prefix,
    decoder_tables,
    encoder_tables,
    synthetic_text,
    tables_sha256,
)

from mmcompress.coder import Decoder, Encoder, ideal_code_length_bits
from mmcompress.intmath import is_valid_freq_table, scores_to_freq_table
from mmcompress.predictors.context import (
    ALPHABET_SIZE,
    PRECISION_BITS,
    PROBABILITY_BITS,
    ContextModel,
    _scores_to_table,
)
from mmcompress.segments import Segmentation

# ---------------------------------------------------------------------------------------------
# configuration


def test_config_is_canonical_and_rebuilds_the_model() -> None:
    model = ContextModel(max_order=4, hash_bits=18)
    config = model.config()
    assert config["id"] == "cm" and config["version"] == 1
    assert config["max_order"] == 4 and config["hash_bits"] == 18
    assert ContextModel.from_config(config).config() == config
    parameters = {k: v for k, v in config.items() if k not in ("id", "version")}
    assert ContextModel(**parameters).config() == config
    assert ContextModel().config() == ContextModel.from_config(ContextModel().config()).config()


@pytest.mark.parametrize(
    "config",
    [
        {"id": "cm", "version": 2},
        {"id": "cm"},
        {"id": "transformer", "version": 1},
        {"id": "cm", "version": 1, "colour": 3},
        {"id": "cm", "version": 1, "max_order": 9},
        {"id": "cm", "version": 1, "sparse_count_limit": 255},
        {"id": "cm", "version": 1, "match_min_length": 1},
    ],
)
def test_bad_configs_are_rejected(config: dict) -> None:
    with pytest.raises(ValueError):
        ContextModel.from_config(config)


# ---------------------------------------------------------------------------------------------
# the integer rule


def test_scores_to_table_is_exactly_the_intmath_rule() -> None:
    rng = np.random.default_rng(7)
    one = 1 << PROBABILITY_BITS
    rows = [
        np.full(ALPHABET_SIZE, one // ALPHABET_SIZE, dtype=np.int64),  # all tied
        np.eye(1, ALPHABET_SIZE, 200, dtype=np.int64)[0] * one,  # one symbol has everything
        np.r_[np.zeros(255, dtype=np.int64), [5]],  # tiny sum
    ]
    for _ in range(300):
        scale = int(rng.integers(1, PROBABILITY_BITS - 8))
        row = rng.integers(0, 1 << scale, size=ALPHABET_SIZE, dtype=np.int64)
        row[rng.random(ALPHABET_SIZE) < rng.random()] = 0  # many zeros, some rows
        row[int(rng.integers(ALPHABET_SIZE))] += 1  # never all zero
        rows.append(row)
    for row in rows:
        expected = scores_to_freq_table(row[None, :], PRECISION_BITS)[0]
        out = np.zeros(ALPHABET_SIZE, dtype=np.uint32)
        _scores_to_table(
            row.copy(), np.zeros(ALPHABET_SIZE, dtype=np.int32), 0, int(row.sum()), out
        )
        np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------------------------------------
# tables: valid, and the same for encoder and decoder


@pytest.mark.parametrize(
    ("source", "size", "segments"),
    [
        ("alice", 20_000, 1),
        ("alice", 40_001, 64),  # ragged: 40001 = 64 * 625 + 1
        ("alice", 30_000, 7),
        ("code", 30_000, 64),
        ("code", 10_000, 333),
        ("synthetic", 5_000, 5),
    ],
)
def test_encoder_and_decoder_tables_are_identical(source: str, size: int, segments: int) -> None:
    data = {
        "alice": lambda: corpus_prefix(ALICE, size),
        "code": lambda: corpus_prefix(CODE, size),
        "synthetic": lambda: synthetic_text(size),
    }[source]()
    model = ContextModel()
    seg, symbols, tables = encoder_tables(model, data, segments)
    assert tables.shape == (size, ALPHABET_SIZE) and tables.dtype == np.uint32
    assert is_valid_freq_table(tables, PRECISION_BITS)
    np.testing.assert_array_equal(decoder_tables(model, seg, symbols), tables)
    # one big tables_for call, and a different chunking, give the same tables again
    np.testing.assert_array_equal(encoder_tables(model, data, segments, seg.steps)[2], tables)
    np.testing.assert_array_equal(encoder_tables(model, data, segments, 13)[2], tables)


def test_switching_between_decoder_and_encoder_calls_mid_block() -> None:
    data = corpus_prefix(ALICE, 20_000)
    model = ContextModel()
    seg, symbols, tables = encoder_tables(model, data, 16)
    session = model.start(seg)
    parts = []
    for step in range(100):
        parts.append(session.predict())
        session.update(symbols[seg.step_offset(step) : seg.step_offset(step + 1)])
    parts.append(session.tables_for(symbols[seg.step_offset(100) : seg.step_offset(300)], 100, 300))
    for step in range(300, seg.steps):
        parts.append(session.predict())
        session.update(symbols[seg.step_offset(step) : seg.step_offset(step + 1)])
    np.testing.assert_array_equal(np.concatenate(parts), tables)


@pytest.mark.parametrize(
    "config",
    [
        {"max_order": 0},
        {"max_order": 2},
        {"max_order": 8},
        {"match_min_length": 0},
        {"hash_bits": 10, "lower_updates": 8},
    ],
)
def test_other_configurations_are_valid_and_consistent(config: dict) -> None:
    data = corpus_prefix(CODE, 12_000)
    model = ContextModel(**config)
    seg, symbols, tables = encoder_tables(model, data, 8)
    assert is_valid_freq_table(tables, PRECISION_BITS)
    np.testing.assert_array_equal(decoder_tables(model, seg, symbols), tables)


# ---------------------------------------------------------------------------------------------
# round trip through the range coder


@pytest.mark.parametrize(
    ("source", "size", "segments"),
    [("alice", 40_000, 64), ("code", 20_000, 3), ("synthetic", 8_000, 1)],
)
def test_round_trip_through_the_coder(source: str, size: int, segments: int) -> None:
    data = {
        "alice": lambda: corpus_prefix(ALICE, size),
        "code": lambda: corpus_prefix(CODE, size),
        "synthetic": lambda: synthetic_text(size),
    }[source]()
    model = ContextModel()
    seg, symbols, tables = encoder_tables(model, data, segments)
    encoder = Encoder(model.precision_bits)
    encoder.encode(symbols, tables)
    payload = encoder.finish()
    # the coder gets close to the ideal code length of these tables
    assert len(payload) * 8 <= ideal_code_length_bits(symbols, tables, PRECISION_BITS) * 1.01 + 64

    decoder = Decoder(payload, model.precision_bits)
    session = model.start(Segmentation(size, segments))
    decoded = []
    for _ in range(seg.steps):
        step_symbols = decoder.decode(session.predict())
        session.update(step_symbols)
        decoded.append(step_symbols)
    assert seg.deinterleave(np.concatenate(decoded)).astype(np.uint8).tobytes() == data.tobytes()


def test_empty_and_one_byte_blocks() -> None:
    model = ContextModel()
    empty = model.start(Segmentation(0, 1))
    assert empty.tables_for(np.zeros(0, dtype=np.uint8), 0, 0).shape == (0, ALPHABET_SIZE)
    with pytest.raises(ValueError):
        empty.predict()

    seg, symbols, tables = encoder_tables(model, np.frombuffer(b"A", dtype=np.uint8), 1)
    assert tables.shape == (1, ALPHABET_SIZE) and is_valid_freq_table(tables, PRECISION_BITS)
    # nothing seen yet: uniform, and 65536 / 256 leaves no remainder
    np.testing.assert_array_equal(tables[0], np.full(ALPHABET_SIZE, 256, dtype=np.uint32))
    np.testing.assert_array_equal(decoder_tables(model, seg, symbols), tables)
    payload = Encoder(PRECISION_BITS)
    payload.encode(symbols, tables)
    decoder = Decoder(payload.finish(), PRECISION_BITS)
    session = model.start(seg)
    assert decoder.decode(session.predict()).tolist() == [ord("A")]


# ---------------------------------------------------------------------------------------------
# bad calls


def test_bad_calls_raise() -> None:
    model = ContextModel()
    seg = Segmentation(100, 4)
    session = model.start(seg)
    with pytest.raises(ValueError):
        session.tables_for(np.zeros(8, dtype=np.uint8), 1, 3)  # not where the session stands
    with pytest.raises(ValueError):
        session.tables_for(np.zeros(7, dtype=np.uint8), 0, 2)  # wrong number of symbols
    with pytest.raises(ValueError):
        session.tables_for(np.zeros(seg.size + 4, dtype=np.uint8), 0, seg.steps + 1)
    session.predict()
    with pytest.raises(ValueError):
        session.update(np.zeros(3, dtype=np.int64))  # 4 segments are active
    with pytest.raises(ValueError):
        session.update(np.array([1, 2, 256, 3]))
    with pytest.raises(ValueError):
        session.tables_for(np.array([1, 2, -1, 3]), 0, 1)
    assert session.step == 0  # nothing was learned from the bad calls
    session.update(np.array([1, 2, 3, 4]))
    assert session.step == 1


# ---------------------------------------------------------------------------------------------
# compression and goldens


def test_beats_gzip_on_text_and_code() -> None:
    for path, size, max_bits_per_byte in ((ALICE, 100_000, 2.30), (CODE, 100_000, 1.65)):
        data = corpus_prefix(path, size)
        _, symbols, tables = encoder_tables(ContextModel(), data, 64)
        bits = ideal_code_length_bits(symbols, tables, PRECISION_BITS)
        gzip_bits = 8 * len(zlib.compress(data.tobytes(), 9))
        assert bits < 0.85 * gzip_bits, (path.name, bits / size, gzip_bits / size)
        assert bits / size < max_bits_per_byte, (path.name, bits / size)


# Tables of fixed inputs, bit for bit: any machine where these differ cannot read archives.
GOLDEN_SYNTHETIC = "b5f0c95855d143c84cc8c8d3b758fbc89f2b380252926cd623d2db97f1739a1c"
GOLDEN_ALICE = "dc6e8fb7ac2b4ba11ccd58a8e5b6ca902c4fee3daac33cc301b6a2298d87084f"


def test_golden_tables_synthetic() -> None:
    _, _, tables = encoder_tables(ContextModel(), synthetic_text(12_345), 8)
    assert tables_sha256(tables) == GOLDEN_SYNTHETIC


def test_golden_tables_alice() -> None:
    _, _, tables = encoder_tables(ContextModel(), corpus_prefix(ALICE, 30_000), 16)
    assert tables_sha256(tables) == GOLDEN_ALICE
