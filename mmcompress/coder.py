"""Range coding of symbols under integer frequency tables (through ``constriction``).

The coder knows nothing of models: it receives, for each symbol, a frequency table whose entries
are all >= 1 and sum to ``1 << precision_bits``, and turns symbols into bytes and back.

Tables are handed to constriction as ``float32`` probabilities ``freq / 2**precision_bits``; with
``precision_bits <= 24`` that division is exact, so encoder and decoder feed constriction the very
same numbers and its (deterministic, integer) quantisation gives the same model on both sides.
The compressed stream is a sequence of little-endian 32-bit words.
"""

from __future__ import annotations

import constriction
import numpy as np

from .errors import CorruptArchive
from .intmath import MAX_PRECISION_BITS

_MODEL_FAMILY = constriction.stream.model.Categorical(perfect=False)


def _probabilities(freq_tables: np.ndarray, precision_bits: int) -> np.ndarray:
    if not 0 < precision_bits <= MAX_PRECISION_BITS:
        raise ValueError(f"precision_bits must be in 1..{MAX_PRECISION_BITS}")
    tables = np.asarray(freq_tables)
    if tables.ndim != 2:
        raise ValueError("freq_tables must have shape (symbols, alphabet)")
    # constriction reads the buffer as C-contiguous rows: never hand it a strided view.
    return np.ascontiguousarray(tables.astype(np.float32) * np.float32(1.0 / (1 << precision_bits)))


class Encoder:
    """Accumulates symbols coded in order; ``finish()`` returns the compressed bytes."""

    def __init__(self, precision_bits: int) -> None:
        self.precision_bits = precision_bits
        self._encoder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, freq_tables: np.ndarray) -> None:
        """Code ``symbols[i]`` under ``freq_tables[i]`` for every i, in order."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if symbols.size == 0:
            return
        probabilities = _probabilities(freq_tables, self.precision_bits)
        if probabilities.shape[0] != symbols.size:
            raise ValueError("one frequency table per symbol is required")
        self._encoder.encode(symbols, _MODEL_FAMILY, probabilities)

    def encode_shared(self, symbols: np.ndarray, freq_table: np.ndarray) -> None:
        """Code every symbol of ``symbols`` under the one table ``freq_table`` (faster)."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if symbols.size == 0:
            return
        self._encoder.encode(symbols, _shared_model(freq_table, self.precision_bits))

    def finish(self) -> bytes:
        words = self._encoder.get_compressed()
        return np.asarray(words, dtype="<u4").tobytes()


class Decoder:
    """Decodes symbols from ``payload`` given the same tables, in the same order, as the encoder."""

    def __init__(self, payload: bytes, precision_bits: int) -> None:
        if len(payload) % 4:
            raise CorruptArchive("coded block length is not a multiple of 4 bytes")
        self.precision_bits = precision_bits
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._decoder = constriction.stream.queue.RangeDecoder(words)

    def decode(self, freq_tables: np.ndarray) -> np.ndarray:
        """Decode one symbol per row of ``freq_tables``; returns int32 symbols."""
        probabilities = _probabilities(freq_tables, self.precision_bits)
        if probabilities.shape[0] == 0:
            return np.zeros(0, dtype=np.int32)
        try:
            return np.asarray(self._decoder.decode(_MODEL_FAMILY, probabilities), dtype=np.int32)
        except Exception as exc:  # constriction raises plain errors on exhausted/invalid input
            raise CorruptArchive(f"range decoder failed: {exc}") from None

    def decode_shared(self, count: int, freq_table: np.ndarray) -> np.ndarray:
        """Decode ``count`` symbols that were coded with :meth:`Encoder.encode_shared`."""
        if count == 0:
            return np.zeros(0, dtype=np.int32)
        try:
            return np.asarray(
                self._decoder.decode(_shared_model(freq_table, self.precision_bits), count),
                dtype=np.int32,
            )
        except Exception as exc:
            raise CorruptArchive(f"range decoder failed: {exc}") from None


def _shared_model(freq_table: np.ndarray, precision_bits: int) -> object:
    probabilities = _probabilities(np.asarray(freq_table)[None, :], precision_bits)[0]
    return constriction.stream.model.Categorical(probabilities, perfect=False)


def encode(symbols: np.ndarray, freq_tables: np.ndarray, precision_bits: int) -> bytes:
    """One-shot: code all symbols under their tables and return the compressed bytes."""
    encoder = Encoder(precision_bits)
    encoder.encode(symbols, freq_tables)
    return encoder.finish()


def ideal_code_length_bits(
    symbols: np.ndarray, freq_tables: np.ndarray, precision_bits: int
) -> float:
    """Sum of -log2 p(symbol) under the tables: the size the coder approaches."""
    tables = np.asarray(freq_tables, dtype=np.float64)
    picked = np.take_along_axis(tables, np.asarray(symbols, dtype=np.int64)[:, None], axis=1)[:, 0]
    return float(np.sum(precision_bits - np.log2(picked)))
