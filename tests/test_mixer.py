"""The mixer (mmcompress/predictors/mixer.py): cm and bytefmr tables mixed, integer-exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmcompress.blockcoding import model_decode, model_encode
from mmcompress.intmath import is_valid_freq_table
from mmcompress.predictors import build_predictor
from mmcompress.predictors.mixer import (
    EXP2_TABLE,
    LOG2_TABLE,
    LOG_BITS,
    PRECISION_BITS,
    SCORE_BITS,
    Mixer,
)
from mmcompress.segments import Segmentation

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = (ROOT / "samples" / "pep-0008.rst").read_bytes()[:3000]
TRANSFORMER_SHA256 = "f1135b9a"  # models/bytefmr-s-f1135b9a.safetensors


@pytest.fixture(scope="module")
def mixer() -> Mixer:
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    # the exact sizes below are those of these weights
    (record,) = [r for r in manifest["models"] if r["sha256"].startswith(TRANSFORMER_SHA256)]
    transformer = build_predictor(record["predictor_config"])
    cm = build_predictor({"id": "cm", "version": 1})
    # a dozen segments (and the same for the models alone): a short decode for a test
    cm.min_segment_length = transformer.min_segment_length = 256
    return Mixer(cm, transformer)  # type: ignore[arg-type]


def test_the_integer_tables_are_exact() -> None:
    assert LOG2_TABLE[0] == 0 and LOG2_TABLE[-1] == 1 << LOG_BITS
    assert (np.diff(LOG2_TABLE) >= 0).all()
    assert LOG2_TABLE[2048] == 150  # log2(1.5) = 0.58496 bits = 149.75 / 256
    assert EXP2_TABLE[0] == 1 << SCORE_BITS
    assert (np.diff(EXP2_TABLE) < 0).all()
    assert EXP2_TABLE[128] == 759_250_125  # 2^-0.5 = 0.70710678 (x 2^30, rounded)


def test_encoder_and_decoder_build_the_same_tables(mixer: Mixer) -> None:
    symbols = np.frombuffer(SAMPLE, dtype=np.uint8)
    segmentation = Segmentation(len(symbols), 12)
    ordered = segmentation.interleave(symbols).astype(np.int64)
    batched = mixer.start(segmentation, 1)
    half = segmentation.steps // 2
    cut = segmentation.step_offset(half)
    parallel = np.concatenate(
        [
            batched.tables_for(ordered[:cut], 0, half),
            batched.tables_for(ordered[cut:], half, segmentation.steps),
        ]
    )
    stepped = mixer.start(segmentation, 1)
    rows = []
    for step in range(segmentation.steps):
        lo, hi = segmentation.step_offset(step), segmentation.step_offset(step + 1)
        rows.append(stepped.predict())
        stepped.update(ordered[lo:hi])
    incremental = np.concatenate(rows)
    assert np.array_equal(parallel, incremental)
    assert is_valid_freq_table(parallel, PRECISION_BITS)


def test_a_block_round_trips_and_the_mix_beats_both_models(mixer: Mixer) -> None:
    sizes = {}
    for name, predictor in (("cm", mixer.cm), ("bytefmr", mixer.transformer), ("mix", mixer)):
        payload = model_encode(SAMPLE, predictor, 1)
        sizes[name] = len(payload)
    payload = model_encode(SAMPLE, mixer, 1)
    assert model_decode(payload, len(SAMPLE), mixer) == SAMPLE
    # PEP 8 is in the transformer's training data: it knows this text far better than cm can
    # learn it in 3 KB; the mix still beats it
    assert sizes == {"cm": 1331, "bytefmr": 855, "mix": 835}


def test_the_config_rebuilds_the_same_mixer(mixer: Mixer) -> None:
    config = json.loads(json.dumps(mixer.config()))
    rebuilt = Mixer.from_config(config)
    assert rebuilt.config() == mixer.config()
    assert config["cm"]["id"] == "cm" and config["bytefmr"]["id"] == "bytefmr"
    with pytest.raises(ValueError):
        Mixer.from_config({**config, "version": 99})
    # a level recipe's spelling: {"id": "cm", ...} without a version, the transformer's config
    recipe_built = Mixer({"id": "cm"}, config["bytefmr"], learning_rate=48, context_bits=4)
    assert recipe_built.config()["cm"] == mixer.cm.config()


def test_level_9_names_the_mixer_and_its_archive_config_rebuilds_it() -> None:
    from mmcompress.levels import recipe
    from mmcompress.streams import CodecBook

    book = CodecBook.for_recipe(recipe(9))
    assert book.configs[0]["id"] == "mix"
    assert book.configs[0]["bytefmr"]["min_segment_length"] == 512
    rebuilt = CodecBook.from_meta({"codecs": book.configs}).predictor(0)
    assert {**rebuilt.compact_config(), "precision_bits": rebuilt.precision_bits} == book.configs[0]
