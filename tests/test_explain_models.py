"""`mmcompress explain` with local LLMs, the -9 mixer and the float byte transformer.

The LLM is the tiny GPT-2 of tests/hfmodels.py (built here, nothing downloaded); the mixer and the
byte transformer are the installed models. Inputs are slices of samples/pep-0008.rst.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import torch  # noqa: E402
from hfmodels import PASSAGE, PEP8, build_tiny_gpt2  # noqa: E402

import mmcompress  # noqa: E402
from mmcompress.detect import Modality  # noqa: E402
from mmcompress.explain import costs as explain_costs  # noqa: E402
from mmcompress.explain import main  # noqa: E402
from mmcompress.explain.costs import parse_model  # noqa: E402
from mmcompress.predictors.hf import HFCodec  # noqa: E402
from mmcompress.predictors.intgpt2 import IntGPT2Codec  # noqa: E402

#: Text, invalid UTF-8 and the text of a special token: tokens and the byte path in one block.
MIXED = PEP8.read_bytes()[:3000] + b"\xff\xfe not utf-8 " + b"<|endoftext|> tail\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.mark.parametrize("codec_class", [HFCodec, IntGPT2Codec])
def test_token_costs_are_the_coded_tables(model_dir: Path, codec_class: type) -> None:
    codec = codec_class(model_dir, segment_count=4, min_segment_tokens=16)
    for raw in (PASSAGE, MIXED, b""):
        coded = codec.encode_with_costs(raw)
        assert coded.payload == codec.encode_block(raw)  # the same bytes as the packer's
        assert coded.bits.shape == (len(raw),)
        assert coded.token_bits.shape == coded.tokens.shape
        token_share = coded.bits.sum() - 8 * coded.byte_path_bytes
        assert token_share == pytest.approx(coded.token_bits.sum(), abs=1e-6)
        # The payload is the costs plus the run layout and the coder's flush: a few bytes.
        assert 0 <= len(coded.payload) - coded.bits.sum() / 8 < 24
    assert codec.encode_with_costs(MIXED).byte_path_bytes > 0


@pytest.mark.parametrize("prefix", ["hf", "hf-int"])
def test_explain_a_local_llm(model_dir: Path, prefix: str) -> None:
    report = mmcompress.explain(PASSAGE, models=[f"{prefix}:{model_dir}"], tools=())
    (costs,) = report.files[0].models
    assert costs.name == f"{prefix}:{model_dir.name}"
    assert costs.bits.shape == (len(PASSAGE),)
    block = costs.blocks[0]
    assert 0 <= block.model_payload_bytes - costs.cross_entropy_bits / 8 < 24
    assert costs.cross_entropy_bits / 8 + costs.coder_overhead_bytes + costs.fallback_bytes + (
        costs.container_overhead_bytes
    ) == pytest.approx(costs.archive_bytes)
    record = report.to_json()["files"][0]["models"][0]
    assert record["name"] == costs.name and record["config"]["id"] == prefix
    assert record["bits_per_byte"] < 3.0  # the tiny model learnt this passage


def test_llm_cli_json_and_page(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mixed.txt"
    source.write_bytes(MIXED)
    page = tmp_path / "report.html"
    args = [str(source), "--model", f"hf-int:{model_dir}", "--tools", "none", "-q", "--json"]
    assert main([*args, "-o", str(page)]) == 0
    record = json.loads(capsys.readouterr().out)["files"][0]["models"][0]
    assert record["name"] == f"hf-int:{model_dir.name}" and record["coded"] is True
    assert record["cross_entropy_bytes"] <= record["model_coded_bytes"]
    assert "hf-int:" in page.read_text()
    assert main([str(source), "--model", f"hf:{tmp_path}/nothing", "--tools", "none"]) == 1
    assert "not a local model folder" in capsys.readouterr().err


def test_mixer_at_level_9() -> None:
    data = PEP8.read_bytes()[:3000]
    by_level = mmcompress.explain(data, level=9, models=["level"], tools=())
    named = mmcompress.explain(data, level=9, models=["mix"], tools=())
    (mix,) = by_level.files[0].models
    assert mix.name == "mix" and mix.config["id"] == "mix" and by_level.level == 9
    assert mix.config["bytefmr"]["name"] == "bytefmr-s" and mix.config["cm"]["id"] == "bcm"
    np.testing.assert_array_equal(named.files[0].models[0].bits, mix.bits)
    assert mix.cross_entropy_bits == pytest.approx(sum(b.cross_entropy_bits for b in mix.blocks))
    assert 0 <= mix.coder_overhead_bytes < 8
    tuned = parse_model("mix:learning_rate=32", 9)
    assert tuned.name == "mix:learning_rate=32" and tuned.config["learning_rate"] == 32


ROOT = Path(__file__).resolve().parents[1]
needs_checkpoint = pytest.mark.skipif(
    not (ROOT / "models" / "bytefmr-s.float.safetensors").is_file()
    and not (ROOT / "checkpoints" / "bytefmr-s" / "last.pt").is_file(),
    reason="the float byte transformer's weights are not here",
)


@needs_checkpoint
def test_float_transformer_is_ideal_only() -> None:
    data = PEP8.read_bytes()[:6000]
    report = mmcompress.explain(data, models=["bytefmr-s", "bytefmr-s:float"], tools=())
    integer, floating = report.files[0].models
    assert not floating.coded and floating.bits.shape == (len(data),)
    # The integer model was exported from this float model: their costs agree closely.
    assert abs(floating.bits_per_byte - integer.bits_per_byte) < 0.01
    record = report.to_json()["files"][0]["models"][1]
    assert record["archive_bytes"] is None and record["coded"] is False
    assert "n/a (not coded)" in report.summary_text()


@needs_checkpoint
def test_banded_attention_matches_the_dense_model() -> None:
    model, _ = explain_costs._float_model(parse_model("bytefmr-s:float").config)
    tokens = torch.from_numpy(np.frombuffer(PEP8.read_bytes()[:600], np.uint8).astype(np.int64))
    tokens = tokens.reshape(2, 300)
    tags = torch.tensor([int(Modality.TEXT)] * 2)
    with torch.inference_mode():
        dense, banded = model(tokens, tags), explain_costs._float_logits(model, tokens, tags)
    assert torch.equal(dense, banded)
