"""What the integer-exact token codecs share: coding a block's tokens with a model whose tables
are the same on every machine (:mod:`.intgpt2`, :mod:`.intllama`).

:class:`ExactTokenCodec` is :class:`~.hf.TokenCodec` (tokenization, byte path, payload,
segments in lockstep) plus the coding loop that exactness allows: the sequence is cut into window
spans, each restarting from BOS with ``overlap`` tokens of context; the encoder evaluates a span
of all segments at once (teacher forcing, a few large forward calls) while the decoder steps with
a KV cache, and both get the same tables because the model is exact. The model (:class:`ExactModel`)
gives hidden rows for the next positions of a cache, integer logits on its exp table's grid, and
nothing else.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from ..coder import Decoder, Encoder
from ..errors import ModelMissing, UnsupportedFormat
from ..progress import progress
from ..segments import Segmentation
from . import intlayers as il
from .hf import TokenCodec
from .tokenmix import TokenMixer

#: Every frequency table sums to 2^PRECISION_BITS (the coder's most).
PRECISION_BITS = 24
#: The encoder evaluates about this many (segment, position) pairs per forward call.
TOKENS_PER_CALL = 4096
#: Frequency tables are made for at most this many (rows × vocabulary) logits at once (the
#: logits and their float64 products: ~50 bytes each at the peak).
LOGITS_PER_CALL = 1 << 21
#: A logit far below every other: special and unused ids (only the floor of 1 is left to them).
MASKED_LOGIT = -(1 << 40)


class ExactModel(Protocol):
    """An integer-exact causal LM as the codec drives it."""

    logit_exp_table: torch.Tensor

    def new_cache(self) -> Any:
        """An empty cache (with ``reset()``, which empties it again for the next span)."""
        ...

    def forward(self, tokens: torch.Tensor, cache: Any) -> torch.Tensor: ...

    def logits(self, hidden: torch.Tensor) -> torch.Tensor: ...


class ExactTokenCodec(TokenCodec):
    """A token codec over an :class:`ExactModel` (``self.model``), coded span by span."""

    model: ExactModel
    int_sha256: str
    #: (segment, position) pairs per forward call of the encoder (memory ~ this × the window).
    tokens_per_call: int = TOKENS_PER_CALL
    #: The model's KV cache, kept between spans and blocks (see :meth:`_code_tokens`).
    _cache: Any = None
    #: Mix the block's token statistics into the model's tables (:mod:`.tokenmix`).
    mix: bool = False

    # --- rebuilding from an archive ----------------------------------------------------------

    @staticmethod
    def missing_model(what: str, wanted: str, config: dict[str, Any]) -> ModelMissing:
        """The error for an archive whose model is not where it says (nor where we were told)."""
        return ModelMissing(
            f"archive needs the {what} that was at {wanted} (sha256 "
            f"{str(config.get('model_sha256'))[:16]}...); it is not there: give its folder "
            "with --model hf-int:PATH"
        )

    def check_integers(self, recorded: str, force: bool) -> None:
        """UnsupportedFormat unless this conversion's hash starts with the archive's ``recorded``."""
        if not self.int_sha256.startswith(recorded) and not force:
            raise UnsupportedFormat(
                "this mmcompress converts the model to other integers than the one that packed "
                f"the archive (int_sha256 {recorded[:16]}... there, {self.int_sha256[:16]}... "
                "here); --force tries anyway"
            )

    # --- tables ---------------------------------------------------------------------------------

    def freq_tables(self, hidden: torch.Tensor) -> np.ndarray:
        """The model's final hidden rows (R, d) -> (R, vocabulary) tables summing to 2^24."""
        rows = max(1, LOGITS_PER_CALL // self.alphabet)
        out = np.empty((hidden.shape[0], self.alphabet), dtype=np.uint32)
        for lo in range(0, hidden.shape[0], rows):
            logits = self.model.logits(hidden[lo : lo + rows])
            if self._masked.numel():
                logits[:, self._masked] = MASKED_LOGIT
            out[lo : lo + rows] = il.logits_to_freq_tables(
                logits, self.model.logit_exp_table, PRECISION_BITS
            )
        return out

    # --- coding ---------------------------------------------------------------------------------

    def epochs(self, steps: int) -> list[tuple[int, int]]:
        """The window spans [first, last] of coding steps: each span starts from BOS (+ the
        ``overlap`` tokens before it, after the first) and grows to ``window`` positions."""
        spans, first, context = [], 0, 1
        while first < steps:
            last = min(steps - 1, first + self.window - context)
            spans.append((first, last))
            first, context = last + 1, self.overlap + 1
        return spans

    def _code_tokens(
        self,
        segmentation: Segmentation,
        tokens: np.ndarray | None,
        encoder: Encoder | None,
        decoder: Decoder | None,
    ) -> np.ndarray:
        if segmentation.size == 0:
            return np.zeros(0, dtype=np.int64)
        batch = segmentation.segment_count
        # grid[b, s]: token s of segment b (BOS past a segment's end), filled as steps are coded
        grid = torch.full((batch, segmentation.steps), self.bos_id, dtype=torch.int64)
        valid = (
            torch.arange(segmentation.steps)[None, :]
            < torch.from_numpy(segmentation.lengths())[:, None]
        )
        if tokens is not None:  # (t, b) coding order = row-major order of the (steps, B) grid
            coding_grid = grid.T.contiguous()
            coding_grid[valid.T] = torch.from_numpy(
                segmentation.interleave(tokens).astype(np.int64)
            )
            grid = coding_grid.T.contiguous()
        bos = torch.full((batch, 1), self.bos_id, dtype=torch.int64)
        if self._cache is None:  # one for every span and block: reset, not reallocated
            self._cache = self.model.new_cache()
        cache = self._cache
        mixer = TokenMixer(PRECISION_BITS) if self.mix else None
        with progress(total=segmentation.size, desc="LLM", unit="tok") as bar:
            for first, last in self.epochs(segmentation.steps):
                context = (
                    bos
                    if first == 0
                    else torch.cat([bos, grid[:, first - self.overlap : first]], dim=1)
                )
                cache.reset()
                if encoder is not None:
                    self._encode_span(
                        segmentation, grid, valid, context, cache, first, last, encoder, mixer
                    )
                else:
                    assert decoder is not None
                    self._decode_span(
                        segmentation, grid, context, cache, first, last, decoder, mixer
                    )
                bar.update(segmentation.step_offset(last + 1) - segmentation.step_offset(first))
        return grid.T[valid.T].numpy()

    def _encode_span(
        self,
        segmentation: Segmentation,
        grid: torch.Tensor,
        valid: torch.Tensor,
        context: torch.Tensor,
        cache: Any,
        first: int,
        last: int,
        encoder: Encoder,
        mixer: TokenMixer | None,
    ) -> None:
        """Teacher forcing: the span's inputs are known, so evaluate them in a few large calls."""
        batch = grid.shape[0]
        inputs = torch.cat([context, grid[:, first:last]], dim=1)  # predicts steps first..last
        skip = context.shape[1] - 1  # positions whose output predicts nothing of this span
        per_call = max(1, self.tokens_per_call // batch)
        for lo in range(0, inputs.shape[1], per_call):
            hidden = self.model.forward(inputs[:, lo : lo + per_call], cache)  # (B, t, d)
            begin = max(lo, skip)
            if begin >= lo + hidden.shape[1]:
                continue
            steps = slice(first + begin - skip, first + lo + hidden.shape[1] - skip)
            rows = hidden[:, begin - lo :].transpose(0, 1)[valid[:, steps].T]  # coding order
            symbols = grid[:, steps].T[valid[:, steps].T].numpy()
            segments = valid[:, steps].T.nonzero()[:, 1].numpy()  # each row's segment
            chunk = max(1, LOGITS_PER_CALL // self.alphabet)  # tables of a few rows at a time
            for at in range(0, len(symbols), chunk):
                tables = self.freq_tables(rows[at : at + chunk])
                if mixer is not None:  # row by row, learning each token before the next row
                    for row, (symbol, segment) in enumerate(
                        zip(symbols[at : at + chunk], segments[at : at + chunk], strict=True)
                    ):
                        tables[row] = mixer.table(tables[row], int(segment))
                        mixer.update(int(symbol))
                encoder.encode(symbols[at : at + chunk], tables)

    def _decode_span(
        self,
        segmentation: Segmentation,
        grid: torch.Tensor,
        context: torch.Tensor,
        cache: Any,
        first: int,
        last: int,
        decoder: Decoder,
        mixer: TokenMixer | None,
    ) -> None:
        """Step by step with the KV cache: each step's tokens are the next step's inputs. The
        context is read in calls of the encoder's size (an exact model gives the same rows)."""
        per_call = max(1, self.tokens_per_call // grid.shape[0])
        for lo in range(0, context.shape[1], per_call):
            hidden = self.model.forward(context[:, lo : lo + per_call], cache)[:, -1]
        for step in range(first, last + 1):
            active = segmentation.active(step)
            tables = self.freq_tables(hidden[:active])
            if mixer is None:
                symbols = decoder.decode(tables).astype(np.int64)
                self._check_decoded(symbols)
            else:  # segment by segment: each token is learnt (once checked) before the next table
                symbols = np.empty(active, dtype=np.int64)
                for segment in range(active):
                    mixed = mixer.table(tables[segment], segment)[None]
                    symbols[segment] = decoder.decode(mixed)[0]
                    self._check_decoded(symbols[segment : segment + 1])
                    mixer.update(int(symbols[segment]))
            grid[:active, step] = torch.from_numpy(symbols)
            if step < last:
                hidden = self.model.forward(grid[:, step : step + 1], cache)[:, -1]


__all__ = ["ExactModel", "ExactTokenCodec", "PRECISION_BITS"]
