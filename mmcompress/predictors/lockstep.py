"""What the adaptive byte models share: lockstep segments, the match model, the kernel session.

Both online byte models (:mod:`.context`, PPM blending, and :mod:`.bitcm`, binary context
mixing) run as one numba kernel per call over the B segments of a block coded in lockstep
(:mod:`mmcompress.segments`): the tables of step t come from everything coded before step t, then
the step's bytes are learned in segment order. This module owns the parts of that scheme that do
not depend on the model:

- where a block position lies in its segment (:func:`segment_offset`, :func:`segment_start`);
- the match model's bookkeeping (lpaq1, Mahoney 2007): each segment follows the last earlier
  occurrence of its recent bytes, verified against the bytes already coded
  (:func:`match_symbols`, :func:`follow_matches`);
- :class:`KernelSession`, the predict / update / tables_for protocol on top of a model's
  ``kernel(arrays, parameters, symbols, out, first_step, last_step, predict_from,
  update_until)``, so the decoder enters the kernel once per step and the encoder once per
  chunk of steps;
- :class:`OnlineByteModel`, the predictor side: a frozen dataclass of settings, stored in the
  archive without the parameters equal to the format version's defaults;
- table sizing and cache-line aligned allocation.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar

import numba
import numpy as np

from ..segments import Segmentation
from .base import Predictor, PredictorSession

ALPHABET_SIZE = 256
MAX_HISTORY = 8  # a segment's history is one uint64: its last 8 bytes, newest lowest
HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio (Fibonacci hashing)
NO_MATCH = -1
MATCH_LENGTH_MAX = 32  # how far back a new match is verified
MAX_BLOCK_SIZE = (1 << 31) - 3  # match table entries are int32 positions plus 2
CACHE_LINE_BYTES = 64


@numba.njit(cache=True, inline="always")
def segment_offset(position, short_length, long_count):
    """Offset of a block position inside its segment (leading segments are one longer)."""
    long_span = long_count * (short_length + 1)
    if position < long_span:
        return position % (short_length + 1)
    return (position - long_span) % short_length


@numba.njit(cache=True, inline="always")
def segment_start(b, short_length, long_count):
    return b * short_length + min(b, long_count)


@numba.njit(cache=True)
def all_bytes(symbols):
    for i in range(symbols.size):
        if symbols[i] < 0 or symbols[i] >= ALPHABET_SIZE:
            return False
    return True


@numba.njit(cache=True, inline="always")
def _match_index(history, min_length, hash_bits):
    """Match table entry of the last ``min_length`` bytes of a history."""
    context = history
    if min_length < MAX_HISTORY:
        context = history & ((np.uint64(1) << np.uint64(8 * min_length)) - np.uint64(1))
    h = (context + np.uint64(MAX_HISTORY + 1)) * HASH_MULTIPLIER  # apart from the order hashes
    return np.int64(h >> np.uint64(64 - hash_bits))


@numba.njit(cache=True)
def _match_length(block, candidate, position, step, short_length, long_count):
    """How many bytes before ``candidate`` equal those ending at ``position`` (at most
    MATCH_LENGTH_MAX), looking only within this segment and at bytes already coded (every
    segment has coded step + 1 bytes once this step's update is done)."""
    length = 0
    while length <= step and length < MATCH_LENGTH_MAX:
        before = candidate - 1 - length
        if before < 0 or segment_offset(before, short_length, long_count) > step:
            break
        if block[before] != block[position - length]:
            break
        length += 1
    return length


@numba.njit(cache=True)
def match_symbols(
    block, match_pointers, match_lengths, active, step, short_length, long_count, out
):
    """Each segment's predicted byte, or NO_MATCH; only bytes coded before this step count."""
    for b in range(active):
        out[b] = NO_MATCH
        pointer = match_pointers[b]
        if (
            match_lengths[b] > 0
            and pointer < block.size
            and segment_offset(pointer, short_length, long_count) < step
        ):
            out[b] = block[pointer]


@numba.njit(cache=True)
def follow_matches(
    block,
    match_table,
    match_pointers,
    match_lengths,
    predicted,
    histories,
    symbols,
    position,
    active,
    step,
    short_length,
    long_count,
    min_length,
    hash_bits,
    indices,
):
    """After a step's bytes are in ``block`` and ``histories``: follow each segment's match or
    look for a new one, and register this position. Returns a sum of the table entries read
    (kept only so that the first loop's loads, which overlap their cache misses, are not
    optimised away)."""
    touched = np.uint64(0)
    for b in range(active):
        indices[b] = _match_index(histories[b], min_length, hash_bits)
        touched += np.uint64(match_table[indices[b]])
    for b in range(active):
        here = segment_start(b, short_length, long_count) + step
        if predicted[b] == np.int64(symbols[position + b]):
            match_pointers[b] += 1
            match_lengths[b] += 1
        else:
            match_lengths[b] = 0
            candidate = np.int64(match_table[indices[b]]) - 1  # 0 is empty
            if candidate >= 0 and step + 1 >= min_length:
                length = _match_length(block, candidate, here, step, short_length, long_count)
                if length >= min_length:
                    match_pointers[b] = candidate
                    match_lengths[b] = length
        match_table[indices[b]] = here + 2  # next position, plus one
    return touched


def table_bits(configured_bits: int, wanted_entries: int, min_bits: int) -> int:
    """Hash table size for a block: the configured one, or fewer bits when about
    ``wanted_entries`` suffice (a function of the block size, so the decoder agrees)."""
    return min(configured_bits, max(min_bits, max(1, wanted_entries).bit_length()))


def aligned_zeros(shape: tuple[int, int], dtype: Any) -> np.ndarray:
    """np.zeros whose rows start on cache-line boundaries (a row is one memory fetch)."""
    itemsize = np.dtype(dtype).itemsize
    n_items = shape[0] * shape[1]
    buffer = np.zeros(n_items + CACHE_LINE_BYTES // itemsize, dtype=dtype)
    offset = (-buffer.ctypes.data % CACHE_LINE_BYTES) // itemsize
    return buffer[offset : offset + n_items].reshape(shape)


class OnlineByteModel(Predictor):
    """A training-free byte model configured by a frozen dataclass of ints (``settings_class``).

    ``config()`` is {"id", "version", every setting}; archives record :meth:`compact_config`,
    which leaves out the settings equal to the defaults of ``format_version``, so changing a
    default means a new version.
    """

    settings_class: ClassVar[type]
    format_version: ClassVar[int]
    alphabet_size = ALPHABET_SIZE
    segment_count = 64
    # Shared tables make segments cheap: 64 segments of 2.4 KB cost ~0.3% on alice29 (cm).
    min_segment_length = 2048

    def __init__(self, **parameters: int) -> None:
        self.settings = self.settings_class(**parameters)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild the model described by :meth:`config` (as read back from an archive)."""
        config = dict(config)
        if config.pop("id", cls.kind) != cls.kind:
            raise ValueError(f"not a {cls.kind!r} configuration")
        version = config.pop("version", None)
        if version != cls.format_version:
            raise ValueError(f"unsupported {cls.kind!r} version {version!r}")
        known = {field.name for field in fields(cls.settings_class)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown {cls.kind!r} parameters: {', '.join(unknown)}")
        return cls(**config)

    def config(self) -> dict[str, Any]:
        return {"id": self.kind, "version": self.format_version, **asdict(self.settings)}

    def compact_config(self) -> dict[str, Any]:
        """:meth:`config` without the parameters equal to this version's defaults."""
        defaults = asdict(self.settings_class())
        changed = {k: v for k, v in asdict(self.settings).items() if defaults[k] != v}
        return {"id": self.kind, "version": self.format_version, **changed}


class KernelSession(PredictorSession):
    """predict / update / tables_for over a model kernel that walks steps.

    Subclasses set ``_kernel`` (a numba function), ``_kernel_arrays`` and
    ``_kernel_parameters`` (plain tuples: numba dispatches them faster than NamedTuples). The
    kernel walks steps ``[first_step, last_step)``, writes the tables of steps ``>=
    predict_from`` to ``out``, learns the ``symbols`` of steps ``< update_until`` and returns
    ``(status, _)``, status < 0 when a symbol is not a byte (nothing learned then).
    :meth:`update` only records a step's bytes; they are learned at the start of the next call,
    so the decoder enters the kernel once per step.
    """

    _kernel: Any
    _kernel_arrays: tuple[Any, ...]
    _kernel_parameters: tuple[int, ...]

    def __init__(self, segmentation: Segmentation) -> None:
        super().__init__(segmentation)
        if segmentation.size > MAX_BLOCK_SIZE:
            raise ValueError(f"blocks of more than {MAX_BLOCK_SIZE} bytes are not supported")
        self._pending: np.ndarray | None = None

    def _run(
        self,
        symbols: np.ndarray,
        out: np.ndarray,
        first_step: int,
        last_step: int,
        predict_from: int,
        update_until: int,
    ) -> None:
        status, _ = self._kernel(
            self._kernel_arrays,
            self._kernel_parameters,
            symbols,
            out,
            first_step,
            last_step,
            predict_from,
            update_until,
        )
        if status < 0:
            raise ValueError("symbols must be bytes (0..255)")

    def _learn_pending(self) -> None:
        """Learn the symbols :meth:`update` received and kept for the next call."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._run(pending, _NO_TABLES, self.step - 1, self.step, self.step, self.step)

    def predict(self) -> np.ndarray:
        """Tables of the current step, (active(step), 256) uint32."""
        step = self.step
        if step >= self.segmentation.steps:
            raise ValueError("the block has no more steps")
        out = np.empty((self.segmentation.active(step), ALPHABET_SIZE), dtype=np.uint32)
        if self._pending is None:
            self._run(_NO_SYMBOLS, out, step, step + 1, step, step)
        else:  # learn step - 1 and predict step in one call: one kernel entry per decoded step
            pending, self._pending = self._pending, None
            self._run(pending, out, step - 1, step + 1, step, step)
        return out

    def update(self, symbols: np.ndarray) -> None:
        """Record the step's symbols; they are learned at the start of the next call."""
        self._learn_pending()
        symbols = np.array(symbols, dtype=np.int64).reshape(-1)  # a copy: the caller may reuse
        if self.step >= self.segmentation.steps:
            raise ValueError("the block has no more steps")
        if symbols.size != self.segmentation.active(self.step):
            raise ValueError("update needs one symbol per active segment")
        if not all_bytes(symbols):
            raise ValueError("symbols must be bytes (0..255)")
        self._pending = symbols
        self.step += 1

    def tables_for(self, symbols: np.ndarray, first_step: int, last_step: int) -> np.ndarray:
        """Encoder path: every table of steps [first_step, last_step) in one kernel call."""
        seg = self.segmentation
        if first_step != self.step:
            raise ValueError("tables_for must continue where the session stands")
        if not first_step <= last_step <= seg.steps:
            raise ValueError("step range outside the block")
        symbols = np.ascontiguousarray(symbols, dtype=np.int64).reshape(-1)
        count = seg.step_offset(last_step) - seg.step_offset(first_step)
        if symbols.size != count:
            raise ValueError("tables_for needs the symbols of exactly those steps")
        self._learn_pending()
        out = np.empty((count, ALPHABET_SIZE), dtype=np.uint32)
        self._run(symbols, out, first_step, last_step, first_step, last_step)
        self.step = last_step
        return out


_NO_SYMBOLS = np.zeros(0, dtype=np.int64)
_NO_TABLES = np.zeros((0, ALPHABET_SIZE), dtype=np.uint32)
