"""The yardsticks a model is held against: empirical entropies and the classic tools' sizes.

* **order-0 entropy**: Σ −log2 (count(b) / n) over the bytes, with the counts of the whole input
  (a static model that has seen the file: no model cost included).
* **order-2 empirical entropy**: the same with counts per two-byte context, i.e. Σ over contexts
  of n_ctx · H(next byte | ctx) (Manzini 2001, "An analysis of the Burrows-Wheeler transform").
  The first two bytes have contexts of their own (a start marker stands for the missing bytes).
  Like order 0, it is a limit only for models that do not pay to learn: adaptive models can beat
  it by using longer contexts, and a static order-2 model would also have to transmit its counts.
* **classic tools**: gzip -9, bzip2 -9, xz -9e, zstd -19, brotli -q11, exactly as
  :mod:`mmcompress.bench.classic` runs them (the CLI when installed, its Python stand-in otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bench import classic

#: Stands for "before the start" in order-2 contexts (bytes are 0..255).
_START = 256


@dataclass
class ClassicSize:
    tool: str  # "gzip"
    label: str  # "gzip -9"
    size_bytes: int
    implementation: str  # which program or module produced it


@dataclass
class Limits:
    size_bytes: int
    order0_bits: float
    order2_bits: float
    classic: list[ClassicSize]


def _entropy_of_counts(counts: np.ndarray, totals: np.ndarray) -> float:
    """Σ c · log2(total / c) for each count c and the total of its context."""
    counts = counts.astype(np.float64)
    return float(np.sum(counts * (np.log2(totals.astype(np.float64)) - np.log2(counts))))


def order0_bits(data: bytes) -> float:
    symbols = np.frombuffer(data, dtype=np.uint8)
    counts = np.bincount(symbols, minlength=256)
    counts = counts[counts > 0]
    return _entropy_of_counts(counts, np.full(counts.shape, symbols.size))


def order2_bits(data: bytes) -> float:
    symbols = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    if symbols.size == 0:
        return 0.0
    padded = np.concatenate([[_START, _START], symbols])
    context = padded[:-2] * 257 + padded[1:-1]  # (previous-but-one, previous)
    keys, counts = np.unique(context * 256 + symbols, return_counts=True)
    contexts, context_totals = np.unique(context, return_counts=True)
    totals = context_totals[np.searchsorted(contexts, keys // 256)]
    return _entropy_of_counts(counts, totals)


def classic_sizes(
    data: bytes, path: Path | None = None, tools: tuple[str, ...] | None = None
) -> list[ClassicSize]:
    """Exact sizes of the classic tools available here (``path``, if given, must hold ``data``)."""
    out = []
    for key in tools if tools is not None else classic.available_tools():
        implementation = classic.find_implementation(key)
        blob = classic.compress(key, data, path=path, implementation=implementation)
        out.append(
            ClassicSize(key, classic.TOOLS[key].label, len(blob), implementation.description)
        )
    return out


def measure_limits(
    data: bytes, path: Path | None = None, tools: tuple[str, ...] | None = None
) -> Limits:
    return Limits(len(data), order0_bits(data), order2_bits(data), classic_sizes(data, path, tools))
