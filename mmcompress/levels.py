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
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _cm(max_order: int) -> dict[str, Any]:
    return {"id": "cm", "max_order": max_order}


RECIPES: dict[int, LevelRecipe] = {
    1: LevelRecipe(1, None, 3, notes="zstd only: fastest"),
    2: LevelRecipe(2, _cm(2), 9, notes="context model, orders 0-2"),
    3: LevelRecipe(3, _cm(3), 19, notes="context model, orders 0-3"),
    4: LevelRecipe(4, _cm(4), 19, notes="context model, orders 0-4"),
    5: LevelRecipe(5, _cm(4), 19, notes="default: context model, orders 0-4"),
    6: LevelRecipe(6, _cm(5), 19, notes="context model, orders 0-5"),
    7: LevelRecipe(7, _cm(6), 19, notes="context model, orders 0-6"),
    8: LevelRecipe(8, _cm(6), 19, block_size=32 << 20, notes="orders 0-6, 32 MiB blocks"),
    9: LevelRecipe(9, _cm(6), 19, block_size=64 << 20, notes="orders 0-6, 64 MiB blocks"),
}


def recipe(level: int | None) -> LevelRecipe:
    """The recipe of ``level`` (None: the default)."""
    if level is None:
        level = DEFAULT_LEVEL
    if level not in RECIPES:
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL}")
    return RECIPES[level]
