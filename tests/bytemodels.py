"""Helpers shared by the tests of the online byte models (context.py, bitcm.py): inputs, the
encoder's and the decoder's tables of a block, table hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from mmcompress.predictors import Predictor
from mmcompress.segments import Segmentation

ALPHABET_SIZE = 256
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
ALICE = CORPUS / "text" / "alice29.txt"
CODE = CORPUS / "code" / "python" / "click" / "core.py"
# Steps per tables_for call when a test plays the encoder (deliberately not a divisor of steps).
CHUNK_STEPS = 97


def corpus_prefix(path: Path, size: int) -> np.ndarray:
    if not path.exists():
        pytest.skip(f"corpus file {path} not available")
    return np.frombuffer(path.read_bytes()[:size], dtype=np.uint8)


def synthetic_text(size: int) -> np.ndarray:
    """Text-like bytes from a fixed LCG over a small vocabulary: available everywhere."""
    words = [b"the", b"cat", b"sat", b"on", b"a", b"mat", b"while", b"dog", b"ran", b"away", b"\n"]
    state = 12345
    out = bytearray()
    while len(out) < size:
        state = (state * 1103515245 + 12345) % (1 << 31)
        out += words[(state >> 16) % len(words)] + b" "
    return np.frombuffer(bytes(out[:size]), dtype=np.uint8)


def encoder_tables(
    model: Predictor, data: np.ndarray, segments: int, chunk_steps: int = CHUNK_STEPS
) -> tuple[Segmentation, np.ndarray, np.ndarray]:
    """(segmentation, symbols in coding order, their tables) as the encoder computes them."""
    seg = Segmentation(data.size, segments)
    symbols = seg.interleave(data)
    session = model.start(seg)
    parts = [np.zeros((0, ALPHABET_SIZE), dtype=np.uint32)]
    for first in range(0, seg.steps, chunk_steps):
        last = min(seg.steps, first + chunk_steps)
        parts.append(
            session.tables_for(symbols[seg.step_offset(first) : seg.step_offset(last)], first, last)
        )
    return seg, symbols, np.concatenate(parts)


def decoder_tables(model: Predictor, seg: Segmentation, symbols: np.ndarray) -> np.ndarray:
    """The tables the decoder sees: predict, then update with the step's symbols."""
    session = model.start(seg)
    parts = [np.zeros((0, ALPHABET_SIZE), dtype=np.uint32)]
    for step in range(seg.steps):
        parts.append(session.predict())
        session.update(symbols[seg.step_offset(step) : seg.step_offset(step + 1)])
    return np.concatenate(parts)


def tables_sha256(tables: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(tables, dtype="<u4").tobytes()).hexdigest()
