"""The mixer: an online byte model and the byte transformer run side by side, their tables mixed.

:class:`Mixer` (registry id ``"mix"``) runs an online model's session (its ``"cm"`` slot: the
binary context mixer ``"bcm"`` at -9, or the PPM context model ``"cm"``: learns the file in hand)
and a :class:`~.transformer.ByteTransformer` session (``"bytefmr"``:
knows language in general) over the same segmentation, and mixes their two frequency tables
symbol by symbol, as the mixers of paq8 / lpaq (Mahoney 2005-2007) mix bit predictions, but over
the whole byte alphabet at once: *geometric* (logistic) mixing in the log domain::

    cm table ──► log2 p_cm(s)  ┐                           (fixed point, LOG_BITS, integer LUT)
    tf table ──► log2 p_tf(s)  ┼─► z(s) = w_cm·log2 p_cm(s) + w_tf·log2 p_tf(s) + w_0·log2 p_0(s)
                               │       weights (w_cm, w_tf, w_0) chosen by the previous
                               │       byte's top 4 bits (CONTEXT_BITS)
                               ▼
               p(s) ∝ 2^(z(s) − max z)  (integer exp2 LUT) ─► frequency table (2^PRECISION_BITS)

``p_0`` is the order-0 table of the block so far: a cheap third input that lets the mixer fall
back on the byte frequencies when both models are confused. The weights learn online by
gradient descent on the code length: for the symbol y just coded, the derivative of
−log2 p(y) with respect to w_i is −(log2 p_i(y) − E_p[log2 p_i]), so::

    w_i += (log2 p_i(y) − Σ_s p(s) · log2 p_i(s)) · learning_rate / 2^LEARNING_SHIFT

(clamped to ±WEIGHT_LIMIT; learning rate and context bits are config fields, tuned on
../shared/corpus/train: BENCHMARKS.md). There is no APM/SSE stage yet.

Everything is integer arithmetic (int64), and the log2 / exp2 tables are built by integer
algorithms, so both sides compute identical tables on any machine (DESIGN.md's contract).

Segments: a step codes one symbol in each of the B active segments. The step's B rows are mixed
with the weights as they stand before the step; then every row's gradient is added to the weight
set its context selects, in segment order. Integer addition does not care about order, and the
encoder (:meth:`MixerSession.tables_for`: one numba call over many steps) and the decoder
(:meth:`MixerSession.predict` / ``update``: one call per step) run the same kernels in the same
order, so they agree bit for bit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np

from ..segments import Segmentation
from .base import Predictor, PredictorSession

ALPHABET_SIZE = 256
#: The mixed tables sum to 2^PRECISION_BITS (the range coder accepts up to 24).
PRECISION_BITS = 22
#: log2 probabilities are held in units of 2^-LOG_BITS bits.
LOG_BITS = 8
#: Weights are fixed point with WEIGHT_BITS fractional bits (1.0 = 1 << WEIGHT_BITS).
WEIGHT_BITS = 16
#: Inputs mixed: the context model, the byte transformer, the order-0 counts of the block.
INPUTS = 3
#: Starting weights (fractions of 1.0): trust the adaptive model, add some transformer.
WEIGHT_START = (0.55, 0.45, 0.0)
#: Gradient step: w += gradient (LOG_BITS units) * learning_rate >> LEARNING_SHIFT.
LEARNING_RATE = 48
LEARNING_SHIFT = 6
#: Weights stay within ±WEIGHT_LIMIT (in units of 1.0).
WEIGHT_LIMIT = 4
#: Weight sets: one per value of the top ``context_bits`` bits of the segment's previous byte.
CONTEXT_BITS = 4
CONTEXTS = 256
#: exp2 of the mixed logits: scores in units of 2^-SCORE_BITS; beyond MAX_SHIFT bits below the top
#: a symbol's score is 0 (it still gets frequency 1).
SCORE_BITS = 30
MAX_SHIFT = 30
#: The order-0 counts are halved when their total reaches this.
ORDER0_LIMIT = 1 << 16

FORMAT_VERSION = 1


def _integer_log2_table(mantissa_bits: int, out_bits: int) -> np.ndarray:
    """log2(m / 2^mantissa_bits) for m in [2^mantissa_bits, 2^(mantissa_bits+1)), in units of
    2^-out_bits, by the integer squaring method (exact and the same on every machine)."""
    one = 1 << 30
    table = np.zeros(1 << mantissa_bits, dtype=np.int64)
    for index in range(1 << mantissa_bits):
        x = (index + (1 << mantissa_bits)) << (30 - mantissa_bits)  # in [1, 2) as Q30
        result = 0
        for _ in range(out_bits + 2):  # two guard bits, rounded off below
            x = (x * x) >> 30
            result <<= 1
            if x >= 2 * one:
                x >>= 1
                result |= 1
        table[index] = (result + 2) >> 2
    return table


def _integer_exp2_table(frac_bits: int, out_bits: int) -> np.ndarray:
    """2^(-f / 2^frac_bits) for f in [0, 2^frac_bits), in units of 2^-out_bits (integer method:
    repeated square roots of 1/2 multiplied bit by bit)."""
    roots: list[int] = []
    value = 1 << 61  # 0.5 in Q62
    for _ in range(frac_bits):  # 2^(-1/2^k) for k = 1 .. frac_bits, by integer square roots
        roots.append(_isqrt_q62(value))
        value = roots[-1]
    table = np.zeros(1 << frac_bits, dtype=np.int64)
    for f in range(1 << frac_bits):
        x = 1 << 62
        for k in range(frac_bits):  # bit frac_bits-1-k of f weighs 2^-(k+1)
            if f >> (frac_bits - 1 - k) & 1:
                x = (x * roots[k]) >> 62
        table[f] = (x + (1 << (62 - out_bits - 1))) >> (62 - out_bits)
    return table


def _isqrt_q62(value: int) -> int:
    """sqrt of a Q62 number, as Q62 (floor)."""
    import math

    return math.isqrt(value << 62)


#: log2 of a 12-bit mantissa, and 2^-f for LOG_BITS fractional bits.
MANTISSA_BITS = 12
LOG2_TABLE = _integer_log2_table(MANTISSA_BITS, LOG_BITS)
EXP2_TABLE = _integer_exp2_table(LOG_BITS, SCORE_BITS)


@numba.njit(cache=True, nogil=True)
def _log2_fixed(value: int, precision_bits: int) -> int:
    """log2(value / 2^precision_bits) in units of 2^-LOG_BITS (value >= 1, below 2^32)."""
    top = 0
    v = value
    for shift in (16, 8, 4, 2, 1):  # the top bit's position, by halving
        if v >= 1 << shift:
            v >>= shift
            top += shift
    if top >= MANTISSA_BITS:
        mantissa = (value >> (top - MANTISSA_BITS)) - (1 << MANTISSA_BITS)
    else:
        mantissa = (value << (MANTISSA_BITS - top)) - (1 << MANTISSA_BITS)
    return ((top - precision_bits) << LOG_BITS) + LOG2_TABLE[mantissa]


@numba.njit(cache=True, nogil=True)
def _mix_rows(
    cm_tables: np.ndarray,
    tf_tables: np.ndarray,
    cm_bits: int,
    tf_bits: int,
    contexts: np.ndarray,
    weights: np.ndarray,
    order0: np.ndarray,
    logs: np.ndarray,
    out: np.ndarray,
) -> None:
    """Mix rows: out[r] = tables of row r; logs[r, i, s] keeps log2 p_i(s) for the update."""
    rows = out.shape[0]
    order0_total = 0
    for s in range(ALPHABET_SIZE):
        order0_total += order0[s]
    # order 0: (count + 1/2) / (total + 128), the same for every row of the step
    order0_logs = np.empty(ALPHABET_SIZE, dtype=np.int64)
    denominator = _log2_fixed(2 * order0_total + ALPHABET_SIZE, 0)
    for s in range(ALPHABET_SIZE):
        order0_logs[s] = _log2_fixed(2 * order0[s] + 1, 0) - denominator
    scores = np.empty(ALPHABET_SIZE, dtype=np.int64)
    spare = (1 << PRECISION_BITS) - ALPHABET_SIZE
    for r in range(rows):
        w = weights[contexts[r]]
        top = -(1 << 62)
        for s in range(ALPHABET_SIZE):
            l_cm = _log2_fixed(cm_tables[r, s], cm_bits)
            l_tf = _log2_fixed(tf_tables[r, s], tf_bits)
            l_0 = order0_logs[s]
            logs[r, 0, s] = l_cm
            logs[r, 1, s] = l_tf
            logs[r, 2, s] = l_0
            z = (w[0] * l_cm + w[1] * l_tf + w[2] * l_0) >> WEIGHT_BITS
            scores[s] = z
            if z > top:
                top = z
        total = 0
        for s in range(ALPHABET_SIZE):
            drop = top - scores[s]
            whole = drop >> LOG_BITS
            if whole >= MAX_SHIFT:
                scores[s] = 0
            else:
                scores[s] = EXP2_TABLE[drop & ((1 << LOG_BITS) - 1)] >> whole
            total += scores[s]
        # intmath.scores_to_freq_table's rule: 1 each, the spare in proportion (floor), the
        # leftover to the largest score (lowest index on ties)
        used = 0
        best = 0
        for s in range(ALPHABET_SIZE):
            share = scores[s] * spare // total + 1
            out[r, s] = share
            used += share
            if scores[s] > scores[best]:
                best = s
        out[r, best] += (1 << PRECISION_BITS) - used


@numba.njit(cache=True, nogil=True)
def _learn_rows(
    symbols: np.ndarray,
    contexts: np.ndarray,
    logs: np.ndarray,
    mixed: np.ndarray,
    weights: np.ndarray,
    order0: np.ndarray,
    learning_rate: int,
) -> None:
    """The weight update for the rows just coded (gradient of the code length), then counts."""
    limit = WEIGHT_LIMIT << WEIGHT_BITS
    for r in range(symbols.shape[0]):
        y = symbols[r]
        w = weights[contexts[r]]
        for i in range(INPUTS):
            expected = 0
            for s in range(ALPHABET_SIZE):
                expected += mixed[r, s] * logs[r, i, s]
            gradient = logs[r, i, y] - (expected >> PRECISION_BITS)
            w[i] += (gradient * learning_rate) >> LEARNING_SHIFT
            if w[i] > limit:
                w[i] = limit
            elif w[i] < -limit:
                w[i] = -limit
    for r in range(symbols.shape[0]):
        order0[symbols[r]] += 1
    total = 0
    for s in range(ALPHABET_SIZE):
        total += order0[s]
    if total >= ORDER0_LIMIT:
        for s in range(ALPHABET_SIZE):
            order0[s] >>= 1


@numba.njit(cache=True, nogil=True)
def _mix_steps(
    cm_tables: np.ndarray,
    tf_tables: np.ndarray,
    cm_bits: int,
    tf_bits: int,
    symbols: np.ndarray,
    step_sizes: np.ndarray,
    previous: np.ndarray,
    weights: np.ndarray,
    order0: np.ndarray,
    out: np.ndarray,
    learning_rate: int,
    context_shift: int,
) -> None:
    """The encoder: mix and learn step after step (step k has step_sizes[k] rows)."""
    start = 0
    width = 0
    for k in range(step_sizes.shape[0]):
        if step_sizes[k] > width:
            width = step_sizes[k]
    logs = np.empty((width, INPUTS, ALPHABET_SIZE), dtype=np.int64)
    contexts = np.empty(width, dtype=np.int64)
    for k in range(step_sizes.shape[0]):
        rows = step_sizes[k]
        stop = start + rows
        for r in range(rows):
            contexts[r] = previous[r] >> context_shift
        _mix_rows(
            cm_tables[start:stop],
            tf_tables[start:stop],
            cm_bits,
            tf_bits,
            contexts[:rows],
            weights,
            order0,
            logs[:rows],
            out[start:stop],
        )
        _learn_rows(
            symbols[start:stop],
            contexts[:rows],
            logs[:rows],
            out[start:stop],
            weights,
            order0,
            learning_rate,
        )
        for r in range(rows):
            previous[r] = symbols[start + r]
        start = stop


class MixerSession(PredictorSession):
    """Both models' sessions over one block, and the mixer's state (weights, order-0 counts)."""

    def __init__(
        self,
        cm_session: PredictorSession,
        tf_session: PredictorSession,
        cm_bits: int,
        tf_bits: int,
        segmentation: Segmentation,
        learning_rate: int = LEARNING_RATE,
        context_bits: int = CONTEXT_BITS,
    ) -> None:
        super().__init__(segmentation)
        self.learning_rate = learning_rate
        self.context_shift = 8 - context_bits
        self.cm = cm_session
        self.tf = tf_session
        self.cm_bits = cm_bits
        self.tf_bits = tf_bits
        start = [round(w * (1 << WEIGHT_BITS)) for w in WEIGHT_START]
        self.weights = np.tile(np.array(start, dtype=np.int64), (CONTEXTS, 1))
        self.order0 = np.zeros(ALPHABET_SIZE, dtype=np.int64)
        self.previous = np.zeros(segmentation.segment_count, dtype=np.int64)
        rows = segmentation.segment_count
        self._logs = np.empty((rows, INPUTS, ALPHABET_SIZE), dtype=np.int64)
        self._tables: np.ndarray | None = None

    def predict(self) -> np.ndarray:
        if self._tables is None:
            cm = self.cm.predict()
            tf = self.tf.predict()
            rows = len(cm)
            out = np.empty((rows, ALPHABET_SIZE), dtype=np.uint32)
            _mix_rows(
                cm,
                tf,
                self.cm_bits,
                self.tf_bits,
                self.previous[:rows] >> self.context_shift,
                self.weights,
                self.order0,
                self._logs[:rows],
                out,
            )
            self._tables = out
        return self._tables

    def update(self, symbols: np.ndarray) -> None:
        mixed = self.predict()
        symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
        rows = len(mixed)
        if symbols.size != rows:
            raise ValueError("update needs one symbol per active segment")
        _learn_rows(
            symbols,
            self.previous[:rows] >> self.context_shift,
            self._logs[:rows],
            mixed,
            self.weights,
            self.order0,
            self.learning_rate,
        )
        self.previous[:rows] = symbols
        self.cm.update(symbols)
        self.tf.update(symbols)
        self._tables = None
        self.step += 1

    def tables_for(self, symbols: np.ndarray, first_step: int, last_step: int) -> np.ndarray:
        if first_step != self.step:
            raise ValueError("tables_for must continue where the session stands")
        seg = self.segmentation
        symbols = np.ascontiguousarray(symbols, dtype=np.int64).reshape(-1)
        if self._tables is not None:  # predict() already ran for this step
            head = self._tables
            self.update(symbols[: len(head)])
            rest = self.tables_for(symbols[len(head) :], first_step + 1, last_step)
            return np.concatenate([head, rest]) if len(rest) else head
        cm = self.cm.tables_for(symbols, first_step, last_step)
        tf = self.tf.tables_for(symbols, first_step, last_step)
        sizes = np.array([seg.active(t) for t in range(first_step, last_step)], dtype=np.int64)
        out = np.empty((len(symbols), ALPHABET_SIZE), dtype=np.uint32)
        _mix_steps(
            cm,
            tf,
            self.cm_bits,
            self.tf_bits,
            symbols,
            sizes,
            self.previous,
            self.weights,
            self.order0,
            out,
            self.learning_rate,
            self.context_shift,
        )
        self.step = last_step
        return out


def _as_predictor(spec: Predictor | dict[str, Any]) -> Predictor:
    """A predictor, or one rebuilt from its config (ModelMissing when its weights are absent)."""
    from . import build_predictor, predictor_for_recipe

    if isinstance(spec, dict):  # an archive's config has a version, a recipe's spec may not
        predictor = build_predictor(spec) if "version" in spec else predictor_for_recipe(spec)
    else:
        predictor = spec
    if not isinstance(predictor, Predictor):
        raise ValueError("the mixer mixes predictors, not block codecs")
    return predictor


class Mixer(Predictor):
    """The context model and the byte transformer, mixed; see the module docstring."""

    kind: ClassVar[str] = "mix"
    alphabet_size = ALPHABET_SIZE
    precision_bits = PRECISION_BITS

    def __init__(
        self,
        cm: Predictor | dict[str, Any],
        transformer: Predictor | dict[str, Any],
        learning_rate: int = LEARNING_RATE,
        context_bits: int = CONTEXT_BITS,
    ) -> None:
        """``cm`` (an online byte model) and ``transformer``: predictors, or their configs (a level
        recipe's spelling: ``{"id": "bcm", ...}`` and the transformer's ``config()``, found in
        models/)."""
        if not 0 <= context_bits <= 8 or not 0 <= learning_rate <= 1 << 12:
            raise ValueError("mixer parameters out of range")
        self.cm = _as_predictor(cm)
        self.transformer = _as_predictor(transformer)
        self.learning_rate = learning_rate
        self.context_bits = context_bits
        # The transformer's segmentation (many segments in lockstep) is what makes it fast; the
        # context model's tables are shared by all segments, so it does not mind.
        self.segment_count = self.transformer.segment_count
        self.min_segment_length = self.transformer.min_segment_length

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Mixer:
        if config.get("id") != cls.kind or config.get("version") != FORMAT_VERSION:
            raise ValueError("not a mixer configuration of a known version")
        return cls(
            dict(config["cm"]),
            dict(config["bytefmr"]),
            int(config.get("learning_rate", LEARNING_RATE)),
            int(config.get("context_bits", CONTEXT_BITS)),
        )

    def config(self) -> dict[str, Any]:
        return {
            "id": self.kind,
            "version": FORMAT_VERSION,
            "cm": self.cm.config(),
            "bytefmr": self.transformer.config(),
            "learning_rate": self.learning_rate,
            "context_bits": self.context_bits,
        }

    def compact_config(self) -> dict[str, Any]:
        return {**self.config(), "cm": self.cm.compact_config()}

    def start(self, segmentation: Segmentation, tag: int = 0) -> MixerSession:
        return MixerSession(
            self.cm.start(segmentation, tag),
            self.transformer.start(segmentation, tag),
            self.cm.precision_bits,
            self.transformer.precision_bits,
            segmentation,
            self.learning_rate,
            self.context_bits,
        )
