"""Token statistics mixed into an exact LLM's tables (``--level llm``'s mixing stage).

A 135M-parameter model sees at most its window of tokens; a document repeats itself over far
longer spans (names, identifiers, phrases). :class:`TokenMixer` keeps, across the whole block and
every segment, how often each token followed each context of the last 1, 2 and 3 tokens, and
mixes those counts with the model's table::

    p(t) = w0 · p_llm(t) + Σ_k w_k · (n_k(t) + p_llm(t)) / (N_k + 1)     k = orders 1, 2, 3

(an order's statistics back off to the model for what they have not seen, so every term is a
distribution). The weights are learned online, one set per bucket of the order-2 context's count,
by a multiplicative step towards the components that predicted the coded token well.

Everything is integers (Python ints and int64 numpy), so encoder and decoder on any machine
build the same tables: weights on 2^16, probabilities on the 2^24 of the coder, the table rule of
:func:`mmcompress.intmath.scores_to_freq_table`. The constants below fix the arithmetic: changing
one changes archives (the codec's ``mix`` version).

Measured with the real codec (``{"id": "int-llama", "mix": true}``; off by default):
alice29.txt 21,889 -> 21,825 bytes (0.3 %), 30 KB of PEP 418 (train) 3,592 -> 3,540 (1.4 %).
The constants were tuned on train text by replaying the model's per-token costs through this
class with stand-in tables (target probability exact, the rest flat); that replay overstated
the gain (2.8-3.8 %): with a flat rest the table rule's rounding remainder always went to the
coded token. A faithful replay needs each table's values at every token the block has seen.
"""

from __future__ import annotations

import numpy as np

from ..intmath import scores_to_freq_table

#: Context orders (previous tokens of the same segment).
ORDERS = (1, 2, 3)
#: Weights sum to 2^WEIGHT_BITS; each stays at least MIN_WEIGHT.
WEIGHT_BITS = 16
MIN_WEIGHT = 4
#: Weight sets, chosen by log2(1 + count of the order-2 context).
BUCKETS = 4
#: The learning step is 1 / 2^RATE_SHIFT of the relative gain.
RATE_SHIFT = 1
#: The model's starting share (of 2^WEIGHT_BITS); the orders share the rest.
START_MODEL_WEIGHT = 58982
#: Scores (weight × probability, ~2^(WEIGHT_BITS + precision)) are shifted down by this much
#: before the table rule, whose sum × total must stay below 2^63.
SCORE_SHIFT = 8
#: Contexts remembered per order (memory bound; later new contexts are not added).
MAX_CONTEXTS = 1 << 17


class Followers:
    """What followed one context: the count of each token and their total."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0


class TokenMixer:
    """The mixing state of one block: statistics, weights and each segment's last tokens.

    Use in coding order: ``table(llm_row, segment)`` gives the table to code the segment's next
    token with, then ``update(token)`` learns it (before the next ``table`` call).
    """

    def __init__(self, precision_bits: int) -> None:
        self.precision_bits = precision_bits
        self.stats: list[dict[tuple[int, ...], Followers]] = [{} for _ in ORDERS]
        rest = (1 << WEIGHT_BITS) - START_MODEL_WEIGHT
        start = [START_MODEL_WEIGHT] + [rest // len(ORDERS)] * len(ORDERS)
        start[0] += (1 << WEIGHT_BITS) - sum(start)
        # a bucket's weights start as the last bucket below it that was used (counts grow)
        self.weights: list[list[int] | None] = [start] + [None] * (BUCKETS - 1)
        self.history: dict[int, list[int]] = {}
        self._pending: tuple[int, list[Followers | None], int, np.ndarray] | None = None

    def _contexts(self, segment: int) -> list[Followers | None]:
        """Each order's followers of the segment's current context (None: unseen)."""
        history = self.history.get(segment, [])
        return [
            self.stats[k].get(tuple(history[-order:])) if len(history) >= order else None
            for k, order in enumerate(ORDERS)
        ]

    def _bucket_weights(self, bucket: int) -> list[int]:
        weights = self.weights[bucket]
        if weights is None:
            below = next(w for w in reversed(self.weights[:bucket]) if w is not None)
            weights = self.weights[bucket] = list(below)
        return weights

    def table(self, llm_row: np.ndarray, segment: int) -> np.ndarray:
        """The model's table (vocabulary,) summing to 2^precision -> the mixed table."""
        found = self._contexts(segment)
        bucket = min(BUCKETS - 1, (found[1].total if found[1] else 0).bit_length())
        weights = self._bucket_weights(bucket)
        # the model's share: w0 plus each order's escape mass w_k / (N_k + 1) (unseen: all of w_k)
        share = weights[0]
        extra: dict[int, int] = {}
        for weight, followers in zip(weights[1:], found, strict=True):
            if followers is None:
                share += weight
                continue
            denominator = followers.total + 1
            share += weight // denominator
            for token, count in followers.counts.items():
                part = ((weight * count) << self.precision_bits) // denominator
                extra[token] = extra.get(token, 0) + part
        # weight × probability units; the model's table less its floor of 1 per id
        scores = (llm_row.astype(np.int64) - 1) * share
        if extra:
            ids = np.fromiter(extra.keys(), dtype=np.int64, count=len(extra))
            scores[ids] += np.fromiter(extra.values(), dtype=np.int64, count=len(extra))
        self._pending = (segment, found, bucket, llm_row.copy())  # the caller may reuse it
        return scores_to_freq_table(scores >> SCORE_SHIFT, self.precision_bits)

    def update(self, token: int) -> None:
        """Learn the token just coded with the last :meth:`table`."""
        if self._pending is None:
            raise RuntimeError("TokenMixer.update() must follow table()")
        segment, found, bucket, llm_row = self._pending
        self._pending = None
        one = 1 << self.precision_bits
        p_model = int(llm_row[token])
        probabilities = [p_model] + [
            p_model
            if followers is None
            else (followers.counts.get(token, 0) * one + p_model) // (followers.total + 1)
            for followers in found
        ]
        weights = self._bucket_weights(bucket)
        mixed = max(
            1, sum(w * p for w, p in zip(weights, probabilities, strict=True)) >> WEIGHT_BITS
        )
        stepped = [
            max(MIN_WEIGHT, w + (w * (p - mixed)) // (mixed << RATE_SHIFT))
            for w, p in zip(weights, probabilities, strict=True)
        ]
        total = sum(stepped)
        normalised = [(w << WEIGHT_BITS) // total for w in stepped]
        normalised[0] += (1 << WEIGHT_BITS) - sum(normalised)
        self.weights[bucket] = normalised
        history = self.history.setdefault(segment, [])
        for k, order in enumerate(ORDERS):
            if len(history) < order:
                continue
            context = tuple(history[-order:])
            followers = self.stats[k].get(context)
            if followers is None:
                if len(self.stats[k]) >= MAX_CONTEXTS:
                    continue
                followers = self.stats[k][context] = Followers()
            followers.total += 1
            followers.counts[token] = followers.counts.get(token, 0) + 1
        history.append(token)
        del history[: -max(ORDERS)]


__all__ = ["ORDERS", "Followers", "TokenMixer"]
