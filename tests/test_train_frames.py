"""The video fine-tuning trainer (mmcompress/train/frames.py): frame pairs, start model, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmcompress.imaging import pixelmodel as pm
from mmcompress.train import frames as fr
from mmcompress.train.pixels import load_images

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared" / "corpus" / "train" / "images"
PIXEL_M = ROOT / "models" / "pixel-m-78789dca.safetensors"
#: Column of the "previous slot 0 present" flag.
SLOT0_FLAG = pm.NEIGHBOURS + 4 + pm.PREVIOUS_SLOTS * pm.SLOT_FEATURES + 1 + pm.LEVEL_FLAGS

pytestmark = pytest.mark.skipif(not IMAGES.is_dir(), reason="training corpus not present")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return load_images([IMAGES])[15][1]  # wikiphoto_001_box2.png, (425, 638, 3)


def test_pairs_are_deterministic_for_a_seed(image: np.ndarray) -> None:
    for pair_index in range(6):
        first = fr.make_pair(image, fr.pair_rng(7, 0, pair_index), intra=False)
        second = fr.make_pair(image, fr.pair_rng(7, 0, pair_index), intra=False)
        current, reference, known = first
        assert reference is not None and known is not None
        assert len(current) in (1, 3) and len(reference) == len(current)
        assert current[0].dtype == np.uint8 and reference[0].shape == current[0].shape
        if len(current) == 3:  # 4:2:0 chroma
            height, width = current[0].shape
            assert current[1].shape == ((height + 1) // 2, (width + 1) // 2)
        assert second[1] is not None and second[2] is not None
        for a, b in zip(
            current + reference + known, second[0] + second[1] + second[2], strict=True
        ):
            assert np.array_equal(a, b)
    other = fr.make_pair(image, fr.pair_rng(8, 0, 0), intra=False)
    assert not np.array_equal(other[0][0], fr.make_pair(image, fr.pair_rng(7, 0, 0), False)[0][0])


def test_samples_have_the_reference_slot(image: np.ndarray) -> None:
    images = [("a", image)]
    samples = fr.collect_pairs(images, 4, 0.05, seed=3, intra_share=0.5)
    again = fr.collect_pairs(images, 4, 0.05, seed=3, intra_share=0.5)
    for key in samples:
        assert np.array_equal(samples[key], again[key])
    inter = samples["inter"]
    assert 0 < inter.sum() < inter.size
    assert (samples["features"][inter, SLOT0_FLAG] == pm.FLAG_VALUE).all()
    assert (samples["features"][~inter, SLOT0_FLAG] == 0).all()
    assert (samples["features"][:, SLOT0_FLAG + 1] == 0).all()  # never a second slot
    # The reference's residual is informative: it correlates with the current pixel's.
    residual = samples["value"][inter].astype(np.int64) - samples["base"][inter]
    ref_residual = samples["features"][inter, pm.NEIGHBOURS + 4].astype(np.int64)
    assert np.corrcoef(residual, ref_residual)[0, 1] > 0.3


def test_exact_copies_are_left_out() -> None:
    plane = (np.arange(24 * 20, dtype=np.int64).reshape(24, 20) * 7 % 251).astype(np.uint8)
    reference = plane.copy()
    reference[9, 3] += 1  # breaks the block rows 8..15, cols 0..7
    known = fr.exact_copy_mask(plane, reference)
    assert known.shape == plane.shape
    assert not known[8:16, 0:8].any() and known[0:8].all() and known[16:].all()
    full = fr.plane_samples(plane, reference, None, 1.0, np.random.default_rng(0))
    coded = fr.plane_samples(plane, reference, known, 1.0, np.random.default_rng(0))
    assert full["base"].size == plane.size - 1  # all but pixel (0, 0)
    assert coded["base"].size == int((~known).sum())


@pytest.mark.skipif(not PIXEL_M.is_file(), reason="pixel-m not installed")
def test_start_model_matches_the_integer_model(image: np.ndarray) -> None:
    model, config = fr.float_model_from_int(PIXEL_M)
    assert config.hidden == 128
    tensors = pm.quantize(model)
    integer = pm.IntPixelModel.load(PIXEL_M)
    for index, weight_t in enumerate(integer.weights_t, start=1):
        assert np.array_equal(tensors[f"fc{index}.weight"].T, weight_t)
        assert np.array_equal(tensors[f"fc{index}.bias"], integer.biases[index - 1])
    samples = fr.collect_pairs([("a", image)], 2, 0.05, seed=1)
    from mmcompress.train.pixels import float_bits, ideal_bits

    model.eval()
    model.set_quantize(True)
    assert abs(float_bits(model, samples) - ideal_bits(integer, samples)) < 0.02


@pytest.mark.skipif(not PIXEL_M.is_file(), reason="pixel-m not installed")
def test_tiny_run_exports_a_loadable_model(tmp_path: Path) -> None:
    corpus = tmp_path / "images"
    corpus.mkdir()
    for path in sorted(IMAGES.glob("*.png"))[12:25]:  # 13 images: 11 train, 2 validation
        (corpus / path.name).symlink_to(path)
    models = tmp_path / "models"
    models.mkdir()
    from mmcompress.train.pixels import main

    argv = [str(corpus), "--modality", "video", "--out", "pixel-vtest", "--minutes", "0.02",
            "--pairs-per-image", "1", "--val-pairs-per-image", "1", "--sample-fraction", "0.02",
            "--init", str(PIXEL_M), "--models-dir", str(models)]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((models / "manifest.json").read_text())
    (record,) = manifest["models"]
    assert record["name"] == "pixel-vtest" and record["modality"] == "video"
    assert record["command"].startswith("mmcompress train ")
    for key in ("val_bits_per_subpixel_int_static_inter", "val_bits_per_subpixel_codec_inter",
                "start_val_bits_per_subpixel_int_static_inter",
                "start_val_bits_per_subpixel_codec_inter"):  # fmt: skip
        assert 1.0 < record[key] < 8.0
    path = models / record["file"]
    assert path.name == f"pixel-vtest-{record['sha256'][:8]}.safetensors"
    from mmcompress.predictors.pixel import PixelCodec, block_to_pixels, pixels_to_block

    codec = PixelCodec.from_file(path)
    assert codec.model.rank_priors.shape == (pm.SCALE_BINS, 256)
    pixels = load_images([corpus])[0][1][:40, :56]
    raw = pixels_to_block(pixels, 8)
    assert np.array_equal(block_to_pixels(codec.decode_block(codec.encode_block(raw), len(raw)))[0],
                          pixels)  # fmt: skip
