"""Tests for the byte transformer: integer layers, exactness (parallel == incremental, threads,
batch), golden table hashes, block round trip, model files and the training pipeline.

Most tests use a tiny model whose weights come from numpy's legacy RandomState (a stream numpy
promises never to change) and fixed activation ranges, so it is the same integer model on every
machine and its golden hash means something in CI.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mmcompress import tags
from mmcompress.blockcoding import model_decode, model_encode
from mmcompress.errors import ModelMissing
from mmcompress.intmath import is_valid_freq_table
from mmcompress.models import read_manifest
from mmcompress.predictors import intlayers as il
from mmcompress.predictors import transformer as tfm
from mmcompress.predictors.base import PredictorSession
from mmcompress.segments import Segmentation

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ALICE = CORPUS / "bench" / "text" / "alice29.txt"
TINY = tfm.TransformerConfig(d_model=32, n_layer=2, n_head=4, window=16, mlp_mult=4, n_tags=4)
#: sha256 of the tiny model's tables on GOLDEN_INPUT (5 segments, tag 1). Changing the integer
#: path on purpose means updating this; changing it by accident is exactly what the test catches.
TINY_GOLDEN_SHA256 = "b5c9d23a50ae4fe1b0b14dbe154e01e45ffe9bbc97de11cfe247cde881d9b509"


def text_sample(size: int) -> bytes:
    if ALICE.is_file():
        return ALICE.read_bytes()[:size]
    return (b"Alice was beginning to get very tired of sitting by her sister on the bank. " * 100)[
        :size
    ]


def tiny_float_model(seed: int = 0) -> tfm.ByteTransformerModel:
    model = tfm.ByteTransformerModel(TINY)
    rng = np.random.RandomState(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            spread = 1.0 if "emb" in name else 1.0 / math.sqrt(param.shape[1])
            param.copy_(torch.from_numpy(rng.standard_normal(tuple(param.shape)) * spread))
        for name, buffer in model.named_buffers():
            if name.endswith("absmax"):
                buffer.fill_(4.0)
    return model.eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> object:
    # Two OpenMP threads on a busy two-core machine spin against each other; the thread test
    # switches to two itself.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny() -> tfm.ByteTransformer:
    model = tiny_float_model()
    return tfm.ByteTransformer(tfm.IntByteTransformer(TINY, tfm.quantize(model)), "tiny", "0" * 64)


def loop_tables(
    predictor: tfm.ByteTransformer, data: bytes, segments: int, tag: int = 1
) -> np.ndarray:
    """The decoder's view: predict/update one step at a time (base-class tables_for)."""
    seg = Segmentation(len(data), segments)
    session = predictor.start(seg, tag)
    return PredictorSession.tables_for(
        session, seg.interleave(np.frombuffer(data, np.uint8)), 0, seg.steps
    )


def chunked_tables(
    predictor: tfm.ByteTransformer, data: bytes, segments: int, cuts: list[int], tag: int = 1
) -> np.ndarray:
    """The encoder's view: batched tables_for over the step ranges between ``cuts``."""
    seg = Segmentation(len(data), segments)
    ordered = seg.interleave(np.frombuffer(data, np.uint8))
    session = predictor.start(seg, tag)
    bounds = [0, *cuts, seg.steps]
    parts = []
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        parts.append(
            session.tables_for(ordered[seg.step_offset(first) : seg.step_offset(last)], first, last)
        )
    return np.concatenate(parts)


def table_digest(tables: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(tables, dtype="<u4").tobytes()).hexdigest()


# --- integer layers ---------------------------------------------------------------------------


def test_isqrt_is_exact_at_the_edges() -> None:
    roots = torch.tensor([0, 1, 2, 3, 1000, (1 << 26) - 1, 1 << 26], dtype=torch.int64)
    values = torch.cat([roots * roots, roots * roots - 1, roots * roots + 1]).clamp(min=0)
    expected = torch.tensor([math.isqrt(int(v)) for v in values])
    assert torch.equal(il.isqrt(values), expected)


def test_requantize_rounds_half_up_and_fixed_point_is_close() -> None:
    acc = torch.tensor([-3.0, -1.0, 1.0, 3.0, 5.0])
    assert il.requantize(acc, 1, 1).tolist() == [-1, 0, 1, 2, 3]  # x/2: -1.5->-1, -0.5->0, 0.5->1
    multiplier, shift = il.fixed_point(np.array([0.001234, 0.5, 3.7]))
    assert multiplier.max() < 1 << il.MULTIPLIER_BITS
    assert np.allclose(multiplier / 2.0**shift, [0.001234, 0.5, 3.7], rtol=1e-6)


def test_softmax_weights_sum_to_at_most_4096_and_respect_the_mask() -> None:
    table = torch.from_numpy(il.exp_table(256, 4, 15))
    logits = torch.tensor([[0, -16, -32, 5000], [7, 7, 7, 7]], dtype=torch.int64)
    visible = torch.tensor([[True, True, True, False], [True, True, True, True]])
    weights = il.softmax_weights(logits, visible, table)
    assert weights[0, 3] == 0 and weights[1].tolist() == [1024] * 4
    assert (weights.sum(-1) <= 1 << il.ATT_WEIGHT_BITS).all() and weights[0, 0] > weights[
        0, 1
    ] > weights[0, 2]


def test_fused_kernels_equal_the_torch_reference() -> None:
    # The CPU kernels (numba) and the torch functions (any device) must be the same arithmetic.
    rng = np.random.RandomState(7)
    acc = torch.from_numpy(rng.randint(-(1 << 23), 1 << 23, size=(37, 24)).astype(np.float32))
    multiplier = torch.from_numpy(rng.randint(1, 1 << il.MULTIPLIER_BITS, size=24).astype(np.int64))
    shift = 37
    assert torch.equal(
        il.fused_requantize(acc, multiplier, shift), il.requantize(acc, multiplier, shift)
    )
    assert torch.equal(
        il.fused_requantize_int8(acc, multiplier, 30),
        il.to_int8(il.requantize(acc, multiplier, 30)),
    )
    table = torch.from_numpy(rng.randint(-127, 128, size=256).astype(np.int64))
    assert torch.equal(il.fused_requantize_lookup(acc, multiplier, 33, table),
                       il.lookup_int8(il.to_int8(il.requantize(acc, multiplier, 33)), table))  # fmt: skip
    residual = torch.from_numpy(rng.randint(-(1 << 20), 1 << 20, size=(37, 24)).astype(np.int64))
    expected = (residual + il.requantize(acc, multiplier, 40)).clamp(-(1 << 20), 1 << 20)
    assert torch.equal(
        il.fused_residual_add(residual.clone(), acc, multiplier, 40, 1 << 20), expected
    )
    x = torch.from_numpy(rng.randint(-(1 << 20), 1 << 20, size=(9, 64)).astype(np.int64))
    x[0] = 0
    x[1, :] = 3
    assert torch.equal(il.fused_rms_norm_int8(x, 1 << 24), il.rms_norm_int8(x, 1 << 24))
    scores = torch.from_numpy(
        rng.randint(-(1 << 20), 1 << 20, size=(3, 2, 5, 9)).astype(np.float32)
    )
    penalty = torch.from_numpy(rng.randint(0, 64, size=(2, 5, 9)).astype(np.int64))
    visible = torch.from_numpy(rng.rand(5, 9) < 0.7)
    visible[:, 0] = True
    exp_lut = torch.from_numpy(il.exp_table(256, 4, 15))
    reference = il.softmax_weights(
        il.requantize(scores, 1 << 20, 32) - penalty, visible, exp_lut
    ).to(torch.float32)
    assert torch.equal(
        il.attention_weights(scores, 1 << 20, 32, penalty, visible, exp_lut), reference
    )


def test_freq_table_kernel_follows_the_intmath_rule(tiny: tfm.ByteTransformer) -> None:
    rng = np.random.RandomState(3)
    logits = torch.from_numpy(rng.randint(-5000, 5000, size=(50, 256)).astype(np.int64))
    logits[0] = 0  # all tied: uniform-as-possible, leftover to symbol 0
    logits[1, 17] = logits[1, 200] = 10**6  # two tied winners, the rest far below the table's end
    tables = tiny.model.freq_tables(logits)
    assert np.array_equal(tables, tiny.model.freq_tables_reference(logits))
    assert is_valid_freq_table(tables, tfm.PRECISION_BITS)


def test_integer_model_follows_the_float_model(tiny: tfm.ByteTransformer) -> None:
    model = tiny_float_model()
    data = torch.tensor([tfm.BOS, *text_sample(63)])[None]
    tags = torch.tensor([1])
    with torch.no_grad():
        float_logits = model(data, tags)[0].double()
    int_logits = (
        tiny.model.forward(data, tags, tiny.model.new_cache(1))[0].double() / 2**tfm.LOGIT_FRAC_BITS
    )
    float_p, int_p = torch.softmax(float_logits, -1), torch.softmax(int_logits, -1)
    assert (float_p - int_p).abs().sum(-1).max() < 0.1  # same distributions up to rounding


# --- exactness ---------------------------------------------------------------------------------


def test_tables_for_equals_predict_update_on_real_text(tiny: tfm.ByteTransformer) -> None:
    data = text_sample(3001)  # 7 segments of 428/429 bytes: the last step has fewer segments
    expected = loop_tables(tiny, data, 7)
    assert expected.shape == (3001, 256) and is_valid_freq_table(expected, tfm.PRECISION_BITS)
    assert np.array_equal(chunked_tables(tiny, data, 7, [1, 40, 41, 200]), expected)
    assert np.array_equal(chunked_tables(tiny, data, 7, []), expected)
    # Many short segments: the encoder then evaluates 32 positions per call instead of 256.
    assert np.array_equal(chunked_tables(tiny, data, 300, [3]), loop_tables(tiny, data, 300))


def test_tables_for_after_predict_continues_exactly(tiny: tfm.ByteTransformer) -> None:
    data = text_sample(400)
    seg = Segmentation(len(data), 4)
    ordered = seg.interleave(np.frombuffer(data, np.uint8))
    session = tiny.start(seg, 1)
    first = session.predict()
    rest = session.tables_for(ordered, 0, seg.steps)
    assert np.array_equal(rest[:4], first)
    assert np.array_equal(rest, loop_tables(tiny, data, 4))


def test_rows_do_not_depend_on_the_batch(tiny: tfm.ByteTransformer) -> None:
    data = text_sample(1200)
    seg = Segmentation(len(data), 6)
    batched = chunked_tables(tiny, data, 6, [50])
    first_segment = data[: seg.lengths()[0]]
    alone = chunked_tables(tiny, first_segment, 1, [])
    assert np.array_equal(batched[::6][: len(alone)], alone)


def test_one_thread_equals_two_threads(tiny: tfm.ByteTransformer) -> None:
    data = text_sample(2000)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = chunked_tables(tiny, data, 16, [30])
        torch.set_num_threads(2)
        two = chunked_tables(tiny, data, 16, [30])
    finally:
        torch.set_num_threads(previous)
    assert np.array_equal(one, two)


def test_golden_hash_of_tiny_model_tables(tiny: tfm.ByteTransformer) -> None:
    tables = chunked_tables(tiny, text_sample(1024), 5, [])
    assert table_digest(tables) == TINY_GOLDEN_SHA256


def test_round_trip_through_block_coding(tiny: tfm.ByteTransformer) -> None:
    tiny.segment_count, tiny.min_segment_length = 8, 64
    for data in (text_sample(2500), b"x", bytes(range(256)) * 3):
        payload = model_encode(data, tiny, tag=1)
        assert model_decode(payload, len(data), tiny) == data


def test_bad_tag_and_bad_update_are_refused(tiny: tfm.ByteTransformer) -> None:
    with pytest.raises(ValueError):
        tiny.start(Segmentation(10, 2), tag=TINY.n_tags)
    session = tiny.start(Segmentation(10, 2), tag=0)
    with pytest.raises(ValueError):
        session.update(np.zeros(3, dtype=np.uint8))


# --- model files -------------------------------------------------------------------------------


def test_model_file_round_trip_and_missing_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: tfm.ByteTransformer
) -> None:
    tensors = tfm.quantize(tiny_float_model())
    sha256 = tfm.save_int_model(tmp_path / "tmp.safetensors", tensors, TINY, {})
    (tmp_path / "tmp.safetensors").rename(tmp_path / f"tiny-{sha256[:8]}.safetensors")
    monkeypatch.setenv("MMCOMPRESS_MODELS", str(tmp_path))
    config = {"id": "bytefmr", "version": 1, "name": "tiny", "sha256": sha256}
    loaded = tfm.ByteTransformer.from_config(config)
    assert loaded.config()["sha256"] == sha256
    assert tfm.ByteTransformer.from_config(loaded.config()).config() == loaded.config()
    assert np.array_equal(
        loop_tables(loaded, text_sample(300), 3), loop_tables(tiny, text_sample(300), 3)
    )
    with pytest.raises(ModelMissing, match="tiny"):
        tfm.ByteTransformer.from_config({**config, "sha256": "ab" * 32})


def test_tags_for_names() -> None:
    assert tags.tag_for_name("x.py") == tags.TAGS["python"]
    assert tags.tag_for_name("README") == tags.TAGS["text"]
    assert tags.tag_for_name("blob.bin", default="binary") == tags.TAGS["binary"]


# --- the shipped model, when installed ---------------------------------------------------------


def shipped_models() -> list[dict]:
    return [r for r in read_manifest() if r.get("kind") == tfm.ByteTransformer.kind]


#: Golden table hashes of shipped models (by model sha256) on the first 4 KiB of alice29.txt, 16 segments, tag 1.
SHIPPED_GOLDEN: dict[str, str] = {
    "f1135b9a20fb103bc2af2d08c39430f8ca19a7318f7122e5ea74d2e701f3882d": (  # bytefmr-s-v1
        "25c38194a60417e0062043cb7915997fa4328f9a1e5f249b1312d95479de17ad"
    ),
    "866bf52b219d13262d3ab82e9f1c53894f02839af4676a4a28694df2fcff8c77": (  # bytefmr-s
        "d0a36c5a1935697a0f32bb7a188bf6e71707ac80d910db3a4ea2dd011a05ca80"
    ),
}


@pytest.mark.parametrize("record", shipped_models(), ids=lambda r: r["name"])
def test_shipped_model_is_exact(record: dict) -> None:
    try:
        predictor = tfm.ByteTransformer.from_config(record["predictor_config"])
    except ModelMissing:
        pytest.skip(f"{record['name']} is not installed")
    data = text_sample(4096)
    tables = chunked_tables(predictor, data, 16, [100])
    assert np.array_equal(tables, loop_tables(predictor, data, 16))
    if record["sha256"] in SHIPPED_GOLDEN:
        assert table_digest(tables) == SHIPPED_GOLDEN[record["sha256"]]
    ordered = Segmentation(len(data), 16).interleave(np.frombuffer(data, np.uint8))
    bits = tfm.PRECISION_BITS - np.log2(tables[np.arange(len(data)), ordered].astype(np.float64))
    assert bits.mean() < 4.0  # a trained model, not noise


# --- training pipeline -------------------------------------------------------------------------


def test_train_then_export_then_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mmcompress.train import main

    corpus = tmp_path / "corpus"
    (corpus / "text").mkdir(parents=True)
    (corpus / "code" / "python").mkdir(parents=True)
    (corpus / "text" / "a.txt").write_bytes(text_sample(40000) * 2)
    (corpus / "code" / "python" / "m.py").write_bytes(Path(il.__file__).read_bytes())
    models = tmp_path / "models"
    models.mkdir()
    args = [str(corpus / "text"), str(corpus / "code"), "--out", "unit", "--size", "xs", "--steps", "2",
            "--batch-size", "2", "--seq-len", "64", "--val-sequences", "4", "--log-every", "1",
            "--checkpoints", str(tmp_path / "ck"), "--models-dir", str(models)]  # fmt: skip
    assert main([*args, "--no-export"]) == 0
    assert (tmp_path / "ck" / "unit" / "last.pt").is_file()
    # the validation line gives the training minutes (scripts/plot_training.py --minutes reads it)
    assert re.search(
        r"step 2  validation \d\.\d{4} bits/byte \(float\)  \d+\.\d min", capsys.readouterr().err
    )
    assert main([*args[:7], "3", *args[8:], "--resume"]) == 0
    record = json.loads((models / "manifest.json").read_text())["models"][0]
    assert record["steps"] == 3 and record["val_bpb_int"] > 0 and record["val_bpb_float"] > 0
    monkeypatch.setenv("MMCOMPRESS_MODELS", str(models))
    predictor = tfm.ByteTransformer.from_config(record["predictor_config"])
    assert predictor.model.config == tfm.TransformerConfig(**record["config"])
    assert (
        main(
            [str(CORPUS / "bench" / "text"), "--out", "nope", "--checkpoints", str(tmp_path / "ck")]
        )
        == 2
    )


def test_training_refuses_the_bench_corpus_and_missing_folders(tmp_path: Path) -> None:
    from mmcompress.train.data import training_folders

    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    with pytest.raises(ValueError, match="for measuring only"):
        training_folders([corpus / "bench" / "text"])
    with pytest.raises(ValueError, match="is not a folder"):
        training_folders([tmp_path / "missing"])
    assert training_folders([corpus / "train" / "text"]) == [(corpus / "train" / "text").resolve()]
