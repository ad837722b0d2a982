"""Token statistics mixed into the integer LLM's tables (mmcompress/predictors/tokenmix.py).

The mixer alone on hand-made tables (valid tables, it learns a repeated sequence, segments keep
their own history, its bound on contexts), then in the integer Llama codec on the tests' tiny
dyadic Llama (tests/hfmodels.py), where it is an option (off by default): round trips across windows and segments, a golden hash of the
mixed tables (the mixer's integers are the same on every machine), the archive's config, and
archives made before mixing existed still decode.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from mmcompress.intmath import is_valid_freq_table
from mmcompress.predictors import tokenmix
from mmcompress.predictors.tokenmix import TokenMixer

PRECISION = 24
VOCABULARY = 1000


def flat_row() -> np.ndarray:
    """A model table that knows nothing: (almost) uniform over the vocabulary."""
    row = np.full(VOCABULARY, (1 << PRECISION) // VOCABULARY, dtype=np.uint32)
    row[0] += (1 << PRECISION) - int(row.sum(dtype=np.int64))
    return row


def code_length(mixer: TokenMixer, tokens: list[int], segment: int = 0) -> float:
    bits = 0.0
    for token in tokens:
        table = mixer.table(flat_row(), segment)
        assert is_valid_freq_table(table[None], PRECISION)
        bits += PRECISION - float(np.log2(table[token]))
        mixer.update(token)
    return bits


def test_learns_a_repeated_sequence() -> None:
    phrase = [17, 4, 999, 250, 4, 31, 8, 600]
    mixer = TokenMixer(PRECISION)
    first = code_length(mixer, phrase)
    assert first == pytest.approx(len(phrase) * np.log2(VOCABULARY), rel=0.01)
    later = [code_length(mixer, phrase) for _ in range(20)]
    assert later[-1] < 0.1 * first
    assert later == sorted(later, reverse=True)  # each repetition is cheaper


def test_segments_have_their_own_history_but_share_statistics() -> None:
    mixer = TokenMixer(PRECISION)
    code_length(mixer, [5, 6, 7, 5, 6, 7, 5, 6, 7], segment=0)
    assert mixer.history[0] == [5, 6, 7]
    # segment 1 starts with no history: its first token only sees the unigram-free start
    cold = code_length(mixer, [5], segment=1)
    assert cold == pytest.approx(np.log2(VOCABULARY), rel=0.01)
    warm = code_length(mixer, [6], segment=1)  # after 5, segment 0 always had 6
    assert warm < 0.5 * cold
    assert mixer.history[1] == [5, 6] and mixer.history[0] == [5, 6, 7]


def test_update_must_follow_table() -> None:
    mixer = TokenMixer(PRECISION)
    with pytest.raises(RuntimeError, match="follow"):
        mixer.update(3)


def test_contexts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenmix, "MAX_CONTEXTS", 5)
    mixer = TokenMixer(PRECISION)
    code_length(mixer, list(range(50)))
    assert all(len(stats) <= 5 for stats in mixer.stats)


def test_tables_stay_valid_for_peaked_rows() -> None:
    """A model sure of one token (2^24 - vocabulary + 1 on it) and counts on others."""
    mixer = TokenMixer(PRECISION)
    row = np.ones(VOCABULARY, dtype=np.uint32)
    row[3] = (1 << PRECISION) - VOCABULARY + 1
    for token in [1, 2, 1, 2, 1, 2, 1, 3, 1]:
        table = mixer.table(row, 0)
        assert is_valid_freq_table(table[None], PRECISION)
        mixer.update(token)


# --- in the integer Llama codec ------------------------------------------------------------------

transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

from hfmodels import PASSAGE, PEP8, build_tiny_llama  # noqa: E402

from mmcompress.predictors import build_predictor  # noqa: E402
from mmcompress.predictors.intllama import IntLlamaCodec  # noqa: E402

#: sha256 of the payload and the per-token costs of PEP8[:800] with mixing (see below).
GOLDEN_MIXED_TABLES_SHA256 = "d5390bbce1c9bc81bc2485fe74f3677919439c0caaa7f1f0bc99541aa1e7ef15"
SETTINGS = dict(window=32, overlap=8, segment_count=3, min_segment_tokens=16)


@pytest.fixture(scope="module")
def dyadic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("dyadic-llama"), dyadic=True)


@pytest.fixture(scope="module")
def mixed(dyadic_dir: Path) -> IntLlamaCodec:
    return IntLlamaCodec(dyadic_dir, **SETTINGS, mix=True)


def test_mixed_round_trip_and_off_by_default(mixed: IntLlamaCodec, dyadic_dir: Path) -> None:
    assert mixed.mix and not IntLlamaCodec(dyadic_dir, **SETTINGS).mix
    raw = PEP8.read_bytes()[:2500]  # windows of 32 positions, 3 segments
    assert mixed.decode_block(mixed.encode_block(raw), len(raw)) == raw


def test_golden_mixed_tables(mixed: IntLlamaCodec) -> None:
    costs = mixed.encode_with_costs(PEP8.read_bytes()[:800])
    digest = hashlib.sha256(costs.payload)
    digest.update(np.ascontiguousarray(costs.token_bits).tobytes())
    assert digest.hexdigest() == GOLDEN_MIXED_TABLES_SHA256


def test_mixing_pays_on_repetitive_text(mixed: IntLlamaCodec, dyadic_dir: Path) -> None:
    raw = (PEP8.read_bytes()[:300] * 6)[:1600]  # repeats far beyond the 32-position window
    unmixed = IntLlamaCodec(dyadic_dir, **SETTINGS, mix=False)
    assert len(mixed.encode_block(raw)) < 0.5 * len(unmixed.encode_block(raw))


def test_config_records_mixing_and_old_archives_decode_unmixed(
    mixed: IntLlamaCodec, dyadic_dir: Path
) -> None:
    raw = PEP8.read_bytes()[:600]
    config = mixed.config()
    assert config["mix"] == 1
    rebuilt = build_predictor(config)
    assert isinstance(rebuilt, IntLlamaCodec) and rebuilt.mix
    assert rebuilt.decode_block(mixed.encode_block(raw), len(raw)) == raw
    unmixed = IntLlamaCodec(dyadic_dir, **SETTINGS)
    old_config = unmixed.config()  # as every archive before mixing: no "mix" key
    assert "mix" not in old_config
    old = build_predictor(old_config)
    assert isinstance(old, IntLlamaCodec) and not old.mix
    assert old.decode_block(unmixed.encode_block(raw), len(raw)) == raw


def test_unknown_mixing_version_is_refused(mixed: IntLlamaCodec) -> None:
    from mmcompress.errors import UnsupportedFormat

    with pytest.raises(UnsupportedFormat, match="mixing version 2"):
        build_predictor({**mixed.config(), "mix": 2})


def test_python_api_turns_mixing_on(tmp_path: Path) -> None:
    from mmcompress import api, text

    trained = build_tiny_llama(tmp_path)  # a few steps on PASSAGE: the model codes it
    spec = {"id": "int-llama", "path": str(trained), "window": 32, "overlap": 8}
    plain = text.compress(PASSAGE, model=spec)
    blob = text.compress(PASSAGE, model={**spec, "mix": True})
    assert text.decompress(blob) == PASSAGE and text.decompress(plain) == PASSAGE
    assert blob != plain
    for data, mix in ((blob, 1), (plain, None)):
        (tmp_path / "x.mmc").write_bytes(data)
        (codec,) = api.list_archive(tmp_path / "x.mmc").codecs
        assert codec["id"] == "int-llama" and codec.get("mix") == mix
