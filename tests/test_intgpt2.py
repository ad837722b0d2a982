"""The integer-exact GPT-2 (mmcompress/predictors/intgpt2.py, ``--model hf-int:PATH``).

Two tiny GPT-2s built here (tests/hfmodels.py), nothing downloaded: one trained a few steps on a
PEP 8 passage (float vs integer, beating zstd), and one whose weights are dyadic numbers drawn
from numpy's PCG64 (exact on every machine: the golden hashes below hold everywhere).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import torch  # noqa: E402
from hfmodels import PASSAGE, PEP8, build_tiny_gpt2, cli_round_trip  # noqa: E402

from mmcompress import text  # noqa: E402
from mmcompress.errors import InputError, ModelMissing, UnsupportedFormat  # noqa: E402
from mmcompress.predictors import build_predictor, hfenv, intgpt2  # noqa: E402
from mmcompress.predictors.hf import HFCodec  # noqa: E402
from mmcompress.predictors.intgpt2 import IntGPT2Codec  # noqa: E402

#: Golden values for the dyadic model (see test_golden_tables).
GOLDEN_INT_SHA256 = "4206dd52a6946070ab1736228e9f18af8a9e2024e29172a53065c1d23ce3a021"
GOLDEN_TABLES_SHA256 = "bf17da3d60853dcee9bddf92e2cead550cd89d417a7b7899860d9265ab9c7565"


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def dyadic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untrained tiny GPT-2 with every weight k / 2^8 (k from PCG64): exact everywhere."""
    from transformers import GPT2LMHeadModel

    folder = build_tiny_gpt2(tmp_path_factory.mktemp("dyadic-gpt2"), train_steps=0)
    model = GPT2LMHeadModel.from_pretrained(folder, local_files_only=True)
    rng = np.random.default_rng(8)
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                values = rng.integers(192, 320, parameter.shape)  # gains near 1
            else:
                values = rng.integers(-24, 25, parameter.shape)  # about ±0.1
            parameter.copy_(torch.from_numpy(values / 256.0))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def codec(trained_dir: Path) -> IntGPT2Codec:
    # A short window and few tokens per segment: every test input crosses windows and segments.
    return IntGPT2Codec(trained_dir, window=24, overlap=8, segment_count=4, min_segment_tokens=16)


@pytest.fixture(scope="module")
def dyadic(dyadic_dir: Path) -> IntGPT2Codec:
    return IntGPT2Codec(dyadic_dir, window=32, overlap=8, segment_count=3, min_segment_tokens=16)


def round_trip(codec: IntGPT2Codec, raw: bytes) -> bytes:
    payload = codec.encode_block(raw)
    assert codec.decode_block(payload, len(raw)) == raw
    return payload


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"x",
        "Grüße, 你好, здравствуй — ünïcödé\r\n\ttabs  and   spaces\n".encode(),
        b"valid text \xff\xfe then \xc3 more text \xed\xa0\x80 surrogate " * 8 + b"\x80",
        b"before <|endoftext|> after\nsecond line\n" * 3,
    ],
    ids=["empty", "one-byte", "unicode", "invalid-utf8", "special-token-text"],
)
def test_round_trip(codec: IntGPT2Codec, raw: bytes) -> None:
    round_trip(codec, raw)


def test_long_input_crosses_windows(codec: IntGPT2Codec) -> None:
    raw = PEP8.read_bytes()[:3000]
    tokens = codec._runs(raw)[1]
    assert len(tokens) > 4 * 5 * codec.window  # every segment restarts its window many times
    assert len(codec.epochs(len(tokens) // 4)) > 5
    round_trip(codec, raw)


def test_trained_passage_beats_zstd_and_nears_float(codec: IntGPT2Codec, trained_dir: Path) -> None:
    import zstandard

    payload = round_trip(codec, PASSAGE)
    assert len(payload) < len(zstandard.ZstdCompressor(level=19).compress(PASSAGE))
    float_codec = HFCodec(trained_dir, window=24, overlap=8, segment_count=4, min_segment_tokens=16)
    float_size = len(float_codec.encode_block(PASSAGE))
    # Measured: 607 bytes both (integer and float), zstd -19 more.
    assert len(payload) < 1.05 * float_size


def test_parallel_equals_incremental(dyadic: IntGPT2Codec) -> None:
    model = dyadic.model
    ids = dyadic._runs(PEP8.read_bytes()[:400])[1][:31]
    tokens = torch.tensor([[dyadic.bos_id, *ids], [dyadic.bos_id, *ids[::-1]]])
    whole = model.forward(tokens, model.new_cache())
    cache = model.new_cache()
    pieces = [model.forward(tokens[:, :5], cache)]
    pieces += [model.forward(tokens[:, t : t + 1], cache) for t in range(5, 20)]
    pieces.append(model.forward(tokens[:, 20:], cache))
    assert torch.equal(whole, torch.cat(pieces, dim=1))
    alone = model.forward(tokens[1:], model.new_cache())  # a row does not see the other rows
    assert torch.equal(whole[1:], alone)
    tables = dyadic.freq_tables(whole.reshape(-1, whole.shape[-1]))
    assert (tables >= 1).all() and (tables.sum(axis=1, dtype=np.int64) == 1 << 24).all()
    assert (tables[:, dyadic.bos_id] == 1).all()  # special ids: the floor only


def _tables_sha256(codec: IntGPT2Codec) -> str:
    ids = codec._runs(PEP8.read_bytes()[:300])[1][:31]
    tokens = torch.tensor([[codec.bos_id, *ids]])
    hidden = codec.model.forward(tokens, codec.model.new_cache())[0]
    return hashlib.sha256(codec.freq_tables(hidden).tobytes()).hexdigest()


def test_same_tables_with_one_and_two_threads(dyadic: IntGPT2Codec) -> None:
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _tables_sha256(dyadic)
        torch.set_num_threads(2)
        two = _tables_sha256(dyadic)
    finally:
        torch.set_num_threads(previous)
    assert one == two


def test_golden_tables(dyadic: IntGPT2Codec) -> None:
    """The conversion and the tables of a fixed input, the same on every machine."""
    assert dyadic.int_sha256 == GOLDEN_INT_SHA256
    assert _tables_sha256(dyadic) == GOLDEN_TABLES_SHA256


def test_config_records_no_environment(dyadic: IntGPT2Codec, dyadic_dir: Path) -> None:
    config = dyadic.config()
    assert config["id"] == "hf-int" and config["path"] == str(dyadic_dir.resolve())
    assert len(config["model_sha256"]) == 64 and len(config["int_sha256"]) == 64
    assert config["quantisation"]["precision_bits"] == 24
    assert not {"torch", "transformers", "device", "device_name", "dtype", "threads"} & set(config)


def test_unpack_does_not_check_the_environment(
    dyadic: IntGPT2Codec, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = PEP8.read_bytes()[:600]
    payload = dyadic.encode_block(raw)

    def elsewhere(*args: object) -> dict[str, object]:
        raise AssertionError("the integer path must not look at the environment")

    monkeypatch.setattr(hfenv, "current_environment", elsewhere)
    # The archive's calibration record is used: unpack runs no float calibration forward.
    monkeypatch.setattr(intgpt2, "_calibrate", elsewhere)
    assert dyadic.config()["calibration"]["residual_frac_bits"] > 0
    rebuilt = build_predictor(dyadic.config())
    assert isinstance(rebuilt, IntGPT2Codec) and rebuilt.int_sha256 == dyadic.int_sha256
    assert rebuilt.decode_block(payload, len(raw)) == raw


def test_other_model_or_conversion_is_refused(dyadic: IntGPT2Codec, tmp_path: Path) -> None:
    config = dyadic.config()
    with pytest.raises(ModelMissing, match="another Hugging Face model"):
        build_predictor({**config, "model_sha256": "0" * 64})
    with pytest.raises(UnsupportedFormat, match="other integers"):
        build_predictor({**config, "int_sha256": "0" * 64})
    with hfenv.decode_options(force=True):
        assert isinstance(build_predictor({**config, "int_sha256": "0" * 64}), IntGPT2Codec)
    with pytest.raises(ModelMissing, match="--model hf-int:PATH"):
        build_predictor({**config, "path": str(tmp_path / "gone")})


def test_model_spec_and_text_api(trained_dir: Path) -> None:
    assert hfenv.model_spec(f"hf-int:{trained_dir}", device="cpu", dtype=None) == {
        "id": "hf-int",
        "path": str(trained_dir),
    }
    with pytest.raises(InputError, match="runs in integers"):
        hfenv.model_spec(f"hf-int:{trained_dir}", dtype="float16")
    with pytest.raises(InputError, match="expected hf:PATH"):
        hfenv.model_spec("gpt2")
    assert hfenv.model_folder(f"hf-int:{trained_dir}") == trained_dir.resolve()
    blob = text.compress(PASSAGE.decode(), model=f"hf-int:{trained_dir}")
    assert text.decompress(blob) == PASSAGE


def test_large_vocabulary(tmp_path: Path) -> None:
    """A vocabulary above 50k (unused ids as in padded models): tables of 2^24, unused ids 1."""
    folder = build_tiny_gpt2(tmp_path / "wide", train_steps=0, vocab_size=50304)
    codec = IntGPT2Codec(folder, window=32, overlap=8, segment_count=2, min_segment_tokens=16)
    assert codec.alphabet == 50304
    raw = PEP8.read_bytes()[:200]
    round_trip(codec, raw)
    tokens = torch.tensor([[codec.bos_id, *codec._runs(raw)[1][:9]]])
    tables = codec.freq_tables(codec.model.forward(tokens, codec.model.new_cache())[0])
    assert (tables.sum(axis=1, dtype=np.int64) == 1 << 24).all()
    assert (tables[:, 400:] == 1).all() and (tables[:, codec.bos_id] == 1).all()


def test_not_gpt2_is_refused(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path / "llama"
    config = LlamaConfig(
        vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    with pytest.raises(InputError, match="GPT-2 models only .* not 'llama'"):
        IntGPT2Codec(folder)


def test_cli_pack_unpack(
    trained_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codecs = cli_round_trip(f"hf-int:{trained_dir}", tmp_path, capsys)
    assert codecs[0]["id"] == "hf-int" and "torch" not in codecs[0]


def test_damaged_payload_is_corrupt_archive(codec: IntGPT2Codec) -> None:
    from mmcompress.errors import CorruptArchive

    raw = PEP8.read_bytes()[:800]
    payload = bytearray(codec.encode_block(raw))
    rng = np.random.default_rng(3)
    for _ in range(6):
        damaged = bytearray(payload)
        position = int(rng.integers(len(damaged) // 2, len(damaged)))
        damaged[position] ^= 0xFF
        try:
            codec.decode_block(bytes(damaged), len(raw))  # wrong bytes: the block CRC's job
        except CorruptArchive:
            pass
    with pytest.raises(CorruptArchive):
        codec.decode_block(bytes(payload[:5]), len(raw))
