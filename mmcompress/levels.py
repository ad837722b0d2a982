"""Compression levels -1 .. -9: each a documented recipe (predictor, block size, fallback).

A recipe says which predictor codes which modality, how big the blocks are and which zstd level
the never-expand fallback uses. BENCHMARKS.md gives each level's measured ratio and speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIN_LEVEL, MAX_LEVEL, DEFAULT_LEVEL = 1, 9, 5


@dataclass(frozen=True)
class LevelRecipe:
    level: int
    #: Predictor config for model-coded blocks (``None``: no modelling, zstd/stored only).
    predictor: dict[str, Any] | None
    #: zstd level of the fallback tried on every block.
    zstd_level: int
    #: Raw bytes per block: bigger blocks let adaptive models learn longer.
    block_size: int = 8 << 20
    #: Pixel codec config for the pixel strips of images (``None``: images take the byte path).
    pixel: dict[str, Any] | None = None
    #: Frames codec config for the frame blocks of videos (``None``: video takes the byte path;
    #: only recipes with a pixel codec have one).
    video: dict[str, Any] | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _cm(**parameters: Any) -> dict[str, Any]:
    return {"id": "cm", **parameters}


def _bcm(**parameters: Any) -> dict[str, Any]:
    return {"id": "bcm", **parameters}


#: The pixel codec (predictors/pixel.py): the small model at the fast levels (about 3 CPU s per
#: megapixel), the default one (pixel-m, ~3 % smaller output, ~8 s per megapixel) from -5 on.
_PIXEL_FAST = {"id": "pixel", "name": "pixel-s"}
_PIXEL = {"id": "pixel", "name": "pixel-m"}
#: The frames codec (predictors/frames.py) of video with the pixel model fine-tuned on frame
#: pairs (pixel-v): every level with a pixel codec has it.
_FRAMES = {"id": "frames", "name": "pixel-v"}
#: The fast levels' video model: pixel-s fine-tuned the same way (pixel-sv, about half the work).
_FRAMES_FAST = {"id": "frames", "name": "pixel-sv"}
#: The shipped byte transformer (models/bytefmr-s-*), as the mixer of -9 names it.
_BYTEFMR_S = {
    "id": "bytefmr",
    "version": 1,
    "name": "bytefmr-s",
    "sha256": "866bf52b219d13262d3ab82e9f1c53894f02839af4676a4a28694df2fcff8c77",
    "segment_count": 256,
    "min_segment_length": 512,  # 4x the window: more segments in lockstep, decoding 3x faster
}
#: -9: binary context mixing and the byte transformer mixed online (predictors/mixer.py).
_MIX = {
    "id": "mix",
    "cm": _bcm(),
    "transformer": _BYTEFMR_S,
    "learning_rate": 48,
    "context_bits": 4,
}


# Levels 2-4 code bytes with the PPM context model (predictors/context.py: fast), 5-8 with binary
# context mixing (predictors/bitcm.py: ~8 % smaller, about half the speed); they differ in
# context orders, the match model and block size (bigger blocks let the adaptive tables learn
# longer). -9 mixes binary context mixing with the byte transformer, which is too slow for the
# default. Measured figures: BENCHMARKS.md.
RECIPES: dict[int, LevelRecipe] = {
    1: LevelRecipe(1, None, 3, notes="zstd -3 only: fastest"),
    2: LevelRecipe(
        2,
        _cm(max_order=2, match_min_length=0),
        9,
        notes="context model, orders 0-2",
        pixel=_PIXEL_FAST,
        video=_FRAMES_FAST,
    ),
    3: LevelRecipe(
        3,
        _cm(max_order=3, match_min_length=0),
        19,
        notes="context model, orders 0-3",
        pixel=_PIXEL_FAST,
        video=_FRAMES_FAST,
    ),
    4: LevelRecipe(
        4,
        _cm(max_order=4),
        19,
        notes="context model, orders 0-4 + match model",
        pixel=_PIXEL_FAST,
        video=_FRAMES_FAST,
    ),
    5: LevelRecipe(
        5,
        _bcm(),
        19,
        notes="default: binary context mixing, orders 0-4, 6, words, columns + match model",
        pixel=_PIXEL,
        video=_FRAMES,
    ),
    6: LevelRecipe(
        6,
        _bcm(),
        19,
        block_size=16 << 20,
        notes="default model, 16 MiB blocks",
        pixel=_PIXEL,
        video=_FRAMES,
    ),
    7: LevelRecipe(
        7,
        _bcm(hash_bits=23),
        19,
        block_size=32 << 20,
        notes="default model, 32 MiB blocks, 512 MiB of context slots",
        pixel=_PIXEL,
        video=_FRAMES,
    ),
    8: LevelRecipe(
        8,
        _bcm(hash_bits=23),
        19,
        block_size=64 << 20,
        notes="default model, 64 MiB blocks, 512 MiB of context slots",
        pixel=_PIXEL,
        video=_FRAMES,
    ),
    9: LevelRecipe(
        9,
        _MIX,
        19,
        block_size=64 << 20,
        notes="max: binary context mixing + byte transformer, mixed online (slow: see BENCHMARKS.md)",
        pixel=_PIXEL,
        video=_FRAMES,
    ),
}


def recipe(level: int | None) -> LevelRecipe:
    """The recipe of ``level`` (None: the default)."""
    if level is None:
        level = DEFAULT_LEVEL
    if level not in RECIPES:
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL}")
    return RECIPES[level]
