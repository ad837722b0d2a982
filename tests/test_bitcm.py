"""Tests of mmcompress.predictors.bitcm: valid tables, encoder == decoder, round trips, goldens."""

from __future__ import annotations

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
from mmcompress.intmath import is_valid_freq_table
from mmcompress.predictors import build_predictor
from mmcompress.predictors.bitcm import (
    ALPHABET_SIZE,
    PRECISION_BITS,
    SQUASH,
    STRETCH,
    STRETCH_LIMIT,
    WORD_ALONE_CONTEXT,
    WORD_CONTEXT,
    BitContextMixer,
)
from mmcompress.predictors.context import ContextModel
from mmcompress.segments import Segmentation

# ---------------------------------------------------------------------------------------------
# configuration and integer tables


def test_config_round_trip_and_compact_form() -> None:
    model = BitContextMixer(order_mask=0b11110, word_model=1, hash_bits=18)
    config = model.config()
    assert config["id"] == "bcm" and config["version"] == 1
    assert BitContextMixer.from_config(config).config() == config
    assert build_predictor(config).config() == config
    assert model.compact_config() == {
        "id": "bcm",
        "version": 1,
        "order_mask": 0b11110,
        "word_model": 1,
        "hash_bits": 18,
    }
    assert BitContextMixer().compact_config() == {"id": "bcm", "version": 1}
    assert BitContextMixer.from_config({"id": "bcm", "version": 1}).config() == (
        BitContextMixer().config()
    )


@pytest.mark.parametrize(
    "config",
    [
        {"id": "bcm", "version": 2},
        {"id": "bcm"},
        {"id": "cm", "version": 1},
        {"id": "bcm", "version": 1, "colour": 3},
        {"id": "bcm", "version": 1, "order_mask": 1},  # order 0 is always there, not a context
        {"id": "bcm", "version": 1, "order_mask": 1 << 9},
        {"id": "bcm", "version": 1, "order_mask": 0, "word_model": 0, "column_model": 0},
        {"id": "bcm", "version": 1, "word_model": 4},
        {"id": "bcm", "version": 1, "counter_limit": 1024},
        {"id": "bcm", "version": 1, "match_min_length": 9},
        {"id": "bcm", "version": 1, "hash_bits": 27},
        {"id": "bcm", "version": 1, "mixer_boost": -1},
    ],
)
def test_bad_configs_are_refused(config: dict) -> None:
    with pytest.raises(ValueError):
        BitContextMixer.from_config(config)


def test_contexts_follow_the_config() -> None:
    default = BitContextMixer().settings.contexts()
    assert default[:5] == (1, 2, 3, 4, 6)
    assert WORD_CONTEXT in default and WORD_ALONE_CONTEXT in default
    assert BitContextMixer(word_model=0, column_model=0).settings.contexts() == (1, 2, 3, 4, 6)


def test_squash_and_stretch_tables() -> None:
    xs = np.arange(-STRETCH_LIMIT, STRETCH_LIMIT + 1)
    squashed = SQUASH[xs + STRETCH_LIMIT + 1]
    assert squashed.min() == 1 and squashed.max() == 4095 and (np.diff(squashed) >= 0).all()
    assert SQUASH[STRETCH_LIMIT + 1] == 2048  # squash(0) = 1/2
    # stretch inverts squash: squash(stretch(p)) >= p, and stretch is monotone
    ps = np.arange(1, 4096)
    assert (SQUASH[STRETCH[ps] + STRETCH_LIMIT + 1] >= ps).all()
    assert (np.diff(STRETCH) >= 0).all() and STRETCH[2048] == 0
    # the tables are built by integer arithmetic: the same bits everywhere
    assert tables_sha256(np.concatenate([SQUASH, STRETCH]).astype(np.uint32)) == GOLDEN_LUTS


# ---------------------------------------------------------------------------------------------
# encoder and decoder see the same tables


@pytest.mark.parametrize(
    ("source", "size", "segments"),
    [("alice", 30_000, 64), ("code", 25_000, 5), ("synthetic", 6_000, 1)],
)
def test_encoder_and_decoder_tables_are_identical(source: str, size: int, segments: int) -> None:
    data = {
        "alice": lambda: corpus_prefix(ALICE, size),
        "code": lambda: corpus_prefix(CODE, size),
        "synthetic": lambda: synthetic_text(size),
    }[source]()
    model = BitContextMixer()
    seg, symbols, tables = encoder_tables(model, data, segments)
    assert tables.shape == (size, ALPHABET_SIZE) and tables.dtype == np.uint32
    assert is_valid_freq_table(tables, PRECISION_BITS)
    np.testing.assert_array_equal(decoder_tables(model, seg, symbols), tables)
    np.testing.assert_array_equal(encoder_tables(model, data, segments, seg.steps)[2], tables)


def test_switching_between_decoder_and_encoder_calls_mid_block() -> None:
    data = corpus_prefix(CODE, 12_000)
    model = BitContextMixer()
    seg, symbols, tables = encoder_tables(model, data, 16)
    session = model.start(seg)
    parts = []
    for step in range(50):
        parts.append(session.predict())
        session.update(symbols[seg.step_offset(step) : seg.step_offset(step + 1)])
    parts.append(session.tables_for(symbols[seg.step_offset(50) : seg.step_offset(400)], 50, 400))
    for step in range(400, seg.steps):
        parts.append(session.predict())
        session.update(symbols[seg.step_offset(step) : seg.step_offset(step + 1)])
    np.testing.assert_array_equal(np.concatenate(parts), tables)


@pytest.mark.parametrize(
    "config",
    [
        {"order_mask": 0b10, "word_model": 0, "column_model": 0},
        {"order_mask": 0b111111110, "sparse_model": 1},
        {"match_min_length": 0, "word_model": 1},
        {"word_model": 3, "column_model": 0},
        {"hash_bits": 12, "counter_limit": 3},  # a crowded table: slots are taken over
        {"mixer_rate": 1, "apm_rate": 1, "match_min_length": 2, "mixer_boost": 0},
    ],
)
def test_other_configurations_are_valid_and_consistent(config: dict) -> None:
    data = corpus_prefix(CODE, 8_000)
    model = BitContextMixer(**config)
    seg, symbols, tables = encoder_tables(model, data, 4)
    assert is_valid_freq_table(tables, PRECISION_BITS)
    np.testing.assert_array_equal(decoder_tables(model, seg, symbols), tables)


# ---------------------------------------------------------------------------------------------
# round trip through the range coder


@pytest.mark.parametrize(
    ("source", "size", "segments"), [("alice", 20_000, 64), ("synthetic", 3_000, 1)]
)
def test_round_trip_through_the_coder(source: str, size: int, segments: int) -> None:
    data = corpus_prefix(ALICE, size) if source == "alice" else synthetic_text(size)
    model = BitContextMixer()
    seg, symbols, tables = encoder_tables(model, data, segments)
    encoder = Encoder(model.precision_bits)
    encoder.encode(symbols, tables)
    payload = encoder.finish()
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
    model = BitContextMixer()
    empty = model.start(Segmentation(0, 1))
    assert empty.tables_for(np.zeros(0, dtype=np.uint8), 0, 0).shape == (0, ALPHABET_SIZE)
    with pytest.raises(ValueError):
        empty.predict()
    seg, symbols, tables = encoder_tables(model, np.frombuffer(b"A", dtype=np.uint8), 1)
    # nothing seen yet: every bit is 1/2, so the table is uniform
    np.testing.assert_array_equal(tables[0], np.full(ALPHABET_SIZE, 4096, dtype=np.uint32))
    np.testing.assert_array_equal(decoder_tables(model, seg, symbols), tables)


def test_bad_calls_raise() -> None:
    model = BitContextMixer()
    seg = Segmentation(100, 4)
    session = model.start(seg)
    with pytest.raises(ValueError):
        session.tables_for(np.zeros(8, dtype=np.uint8), 1, 3)  # not where the session stands
    with pytest.raises(ValueError):
        session.tables_for(np.zeros(7, dtype=np.uint8), 0, 2)  # wrong number of symbols
    session.predict()
    with pytest.raises(ValueError):
        session.update(np.array([1, 2, 256, 3]))
    with pytest.raises(ValueError):
        session.tables_for(np.array([1, 2, -1, 3]), 0, 1)
    assert session.step == 0  # nothing was learned from the bad calls
    session.update(np.array([1, 2, 3, 4]))
    assert session.step == 1


# ---------------------------------------------------------------------------------------------
# compression and goldens


def test_smaller_than_the_ppm_context_model_on_text_and_code() -> None:
    for path in (ALICE, CODE):
        data = corpus_prefix(path, 60_000)
        bits = {}
        for name, model in (("bcm", BitContextMixer()), ("cm", ContextModel())):
            _, symbols, tables = encoder_tables(model, data, 16)
            bits[name] = ideal_code_length_bits(symbols, tables, model.precision_bits)
        assert bits["bcm"] < 0.97 * bits["cm"], (path.name, bits)


# Tables of fixed inputs, bit for bit: any machine where these differ cannot read archives.
GOLDEN_LUTS = "1b185d6b466b377cb41590a53154b859f41e6e43094af427a915bc47aab78a3d"
GOLDEN_SYNTHETIC = "76b1b1c0b23a83de2c95d682078da1190fab202391dfc73f8d59b5f8ddaecc5b"
GOLDEN_CODE = "fcfc8e0ae125efa4fbcd7e32c2a300aa2fad2a6858c9976e7d5bdb966777e3d6"


def test_golden_tables_synthetic() -> None:
    _, _, tables = encoder_tables(BitContextMixer(), synthetic_text(12_345), 8)
    assert tables_sha256(tables) == GOLDEN_SYNTHETIC


def test_golden_tables_code() -> None:
    _, _, tables = encoder_tables(BitContextMixer(), corpus_prefix(CODE, 30_000), 16)
    assert tables_sha256(tables) == GOLDEN_CODE
