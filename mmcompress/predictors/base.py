"""The predictor interface: symbols coded so far -> integer frequency tables.

A :class:`Predictor` is a configured model (weights loaded once, reusable). For each block it
starts a :class:`PredictorSession`, the per-block state, which walks the block's B segments in
lockstep (see :mod:`mmcompress.segments`):

    decoder:  for t in steps:  tables = session.predict()      # (active(t), alphabet)
                               symbols = coder.decode(tables)
                               session.update(symbols)
    encoder:  tables = session.tables_for(known_symbols, t0, t1)   # all steps at once

Both paths must give bit-identical tables: that is the determinism contract of DESIGN.md.
Every table row has entries >= 1 summing to ``1 << precision_bits``.

A :class:`BlockCodec` is the other kind of model: one that orders a block's symbols itself
(pixel passes, LLM tokens) and so codes the whole block through :mod:`mmcompress.coder` in one
call. Archives name both kinds the same way (``config()["id"]``, the ``codec`` byte of MODEL blocks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..segments import Segmentation


class PredictorSession(ABC):
    """State of one predictor over one block; advances one step per :meth:`update`."""

    def __init__(self, segmentation: Segmentation) -> None:
        self.segmentation = segmentation
        self.step = 0

    @abstractmethod
    def predict(self) -> np.ndarray:
        """Tables for the current step: shape (active(step), alphabet), dtype uint32."""

    @abstractmethod
    def update(self, symbols: np.ndarray) -> None:
        """Feed the ``active(step)`` symbols just coded at the current step; moves to the next."""

    def tables_for(self, symbols: np.ndarray, first_step: int, last_step: int) -> np.ndarray:
        """Encoder path: the tables of every symbol of steps ``[first_step, last_step)``.

        ``symbols`` are those steps' symbols in coding order. The session must be at
        ``first_step`` and ends at ``last_step``. Subclasses override this with a batched version;
        this default shows the contract: it is exactly predict/update in a loop.
        """
        if first_step != self.step:
            raise ValueError("tables_for must continue where the session stands")
        seg = self.segmentation
        base = seg.step_offset(first_step)
        out = []
        for step in range(first_step, last_step):
            lo, hi = seg.step_offset(step) - base, seg.step_offset(step + 1) - base
            out.append(self.predict())
            self.update(symbols[lo:hi])
        if not out:
            return np.zeros((0, 0), dtype=np.uint32)
        return np.concatenate(out, axis=0)


class Predictor(ABC):
    """A configured model. ``config()`` is stored in the archive and rebuilds an equal predictor."""

    #: Registry id, stored in the archive as ``config()["id"]``.
    kind: ClassVar[str]
    #: Alphabet size of the symbols this predictor models (256 for bytes).
    alphabet_size: int
    #: Every table row sums to ``1 << precision_bits``.
    precision_bits: int
    #: Segments per block the predictor prefers, and the shortest segment worth having.
    segment_count: int = 64
    min_segment_length: int = 4096

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Canonical, JSON-serialisable description; includes "id" and "version"."""

    def compact_config(self) -> dict[str, Any]:
        """What the archive records: :meth:`config`, or a shorter spelling that ``from_config``
        expands to the same predictor (e.g. parameters equal to the version's defaults left out).
        """
        return self.config()

    @abstractmethod
    def start(self, segmentation: Segmentation, tag: int = 0) -> PredictorSession:
        """A fresh session for one block. ``tag`` is a small conditioning id (modality/language)."""


class BlockCodec(ABC):
    """A model that codes whole blocks itself, through :mod:`mmcompress.coder`.

    ``encode_block(raw, tag)`` returns the MODEL block payload; ``decode_block(payload,
    raw_size)`` must rebuild ``raw`` exactly (or raise CorruptArchive). May raise
    :class:`NotApplicable` from ``encode_block`` when the block is not its kind of data: the
    block then takes the byte path.
    """

    kind: ClassVar[str]
    precision_bits: int

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Canonical, JSON-serialisable description; includes "id" and "version"."""

    def compact_config(self) -> dict[str, Any]:
        return self.config()

    @abstractmethod
    def encode_block(self, raw: bytes, tag: int = 0) -> bytes:
        """The MODEL payload of ``raw``."""

    @abstractmethod
    def decode_block(self, payload: bytes, raw_size: int) -> bytes:
        """Inverse of :meth:`encode_block`; never returns more than ``raw_size`` bytes."""


class NotApplicable(Exception):
    """Raised by a :class:`BlockCodec` for a block it does not model (it goes the byte path)."""


#: Anything an archive's codec list can name.
Codec = Predictor | BlockCodec
