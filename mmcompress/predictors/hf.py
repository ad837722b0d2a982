"""A local Hugging Face causal language model as the text predictor (``--model hf:PATH``).

Any causal LM that ``transformers`` loads from a local folder (GPT-2, Llama, Qwen, SmolLM, MPT,
a .gguf file...) with a byte-level BPE tokenizer (GPT-2's scheme, used by most of them) codes a
block as its tokens, in the spirit of "language modeling is compression" (Delétang et al. 2024)
and LLMZip (Valmeekam et al. 2023)::

    raw ─► runs of valid UTF-8 ─► tokenizer ─► tokens ─► B segments in lockstep ─► range coder
       └─► the other bytes (invalid UTF-8, text whose tokens do not give back its bytes) ─► zstd

**Round trip on bytes.** Every token id maps to a fixed byte string (the byte-level alphabet of
GPT-2's ``bytes_to_unicode``); special tokens map to nothing and are never coded. A run of text
is coded as tokens only if the bytes of its tokens are exactly the run; otherwise its lines are
tried one by one and the lines that fail join the byte path. The decoder never runs the
tokenizer: it turns decoded ids back into bytes with that table, so only the model's numbers
need to match.

**Tables.** For each token the model's logits go through a float64 softmax (special and unused
ids get probability 0), then the rule of :func:`~mmcompress.intmath.scores_to_freq_table` over
the whole vocabulary: every id at least 1, total 2^24 (the coder's limit; with 50k ids the floor
costs about 0.3%).

**Long inputs, speed.** The token stream is cut into B segments coded in lockstep in (t, b)
order, as the byte path does (:mod:`mmcompress.segments`); each step is one batched forward of
one token per segment with a KV cache. Each segment starts from the tokenizer's BOS token (EOS
when there is none). Sliding window: when a segment's context reaches ``window`` positions, the
cache is dropped and rebuilt from BOS + the last ``overlap`` tokens (one forward of overlap + 1
positions), so every prediction sees between ``overlap`` and ``window - 1`` tokens of history.

**Determinism.** Encoder and decoder run exactly the same calls in the same order (the encoder
steps token by token too, it does not evaluate a whole chunk at once), so on the same machine,
libraries, device, dtype and thread count they compute the same floats. Across machines they may
not: :mod:`.hfenv` records the environment in the archive and refuses a different one on unpack
unless forced; the block CRCs catch any mismatch anyway. docs/LLM.md says this to users. The
portable alternative for GPT-2 models is :mod:`.intgpt2` (``hf-int:PATH``), which runs the model in
integers; it shares this module's tokens, byte path and payload (:class:`TokenCodec`).

Costs (``mmcompress explain``): :meth:`TokenCodec.encode_with_costs` returns the same payload
as ``encode_block`` and each byte's cost: a token's −log2 p (under the integer table it was coded
with) spread evenly over its bytes, and the byte path's coded size shared evenly by its bytes.

MODEL payload (integers are LEB128 varints)::

    u8      format (1)
    varint  segment count B, token count N, run count R
    R ×     varint run length in bytes; runs alternate text, bytes, text... starting with text
    u8      byte-path form (0 stored, 1 zstd), varint its length, its bytes
    rest    range coder words of the N tokens
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import zstandard

from ..coder import Decoder, Encoder
from ..errors import CorruptArchive, InputError, ModelMissing, UnsupportedFormat
from ..intmath import MAX_PRECISION_BITS, scores_to_freq_table
from ..progress import progress
from ..segments import Segmentation, choose_segment_count
from . import hfenv
from .base import BlockCodec, NotApplicable

FORMAT = 1
VERSION = 1
#: Softmax probabilities become integer scores with this many fractional bits before the table
#: rule; scores sum to about 2^38, so scores × 2^24 stays below 2^63.
SCORE_BITS = 38
DEFAULT_WINDOW = 512
DEFAULT_SEGMENT_COUNT = 64
DEFAULT_MIN_SEGMENT_TOKENS = 256
DEFAULT_THREADS = 1
#: Below this share of bytes coded as tokens the block is not text: it takes the byte path.
MIN_TEXT_SHARE = 0.5
ZSTD_LEVEL = 19
_STORED, _ZSTD = 0, 1
#: Lone surrogates that ``surrogateescape`` decoding gives to bytes that are not UTF-8.
_ESCAPED_BYTES = re.compile("([\udc80-\udcff]+)")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (Radford et al. 2019, ``encoder.py``)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {byte: chr(char) for byte, char in zip(printable, chars, strict=True)}


_BYTE_OF_CHAR = {char: byte for byte, char in bytes_to_unicode().items()}


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    return "ByteLevel" in json.dumps(decoder)


def token_byte_table(tokenizer: Any, alphabet: int) -> list[bytes | None]:
    """The bytes of every token id below ``alphabet`` (None: special, unused, or not bytes)."""
    backend = tokenizer.backend_tokenizer
    table: list[bytes | None] = [None] * alphabet
    for token, index in backend.get_vocab(with_added_tokens=False).items():
        if 0 <= index < alphabet and all(char in _BYTE_OF_CHAR for char in token) and token:
            table[index] = bytes(_BYTE_OF_CHAR[char] for char in token)
    for index, added in backend.get_added_tokens_decoder().items():
        if 0 <= index < alphabet:
            content = added.content.encode("utf-8")
            table[index] = None if added.special or not content else content
    return table


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise CorruptArchive("LLM-coded block is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        value = 0
        for shift in range(0, 63, 7):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise CorruptArchive("LLM-coded block holds an over-long number")

    def take(self, size: int) -> bytes:
        if size > len(self.data) - self.pos:
            raise CorruptArchive("LLM-coded block is truncated")
        self.pos += size
        return self.data[self.pos - size : self.pos]


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def import_transformers() -> Any:
    """The transformers module, quiet (messages go through mmcompress only); ModelMissing if absent."""
    try:
        import transformers
    except ImportError:
        raise ModelMissing(
            "--model hf:PATH needs the transformers package (pip install 'mmcompress[llm]')"
        ) from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def load_options(folder: Path) -> dict[str, Any]:
    """``from_pretrained`` options for a local model folder (a lone .gguf file is named)."""
    options: dict[str, Any] = {"local_files_only": True}
    ggufs = sorted(folder.glob("*.gguf"))
    if not (folder / "config.json").is_file() and ggufs:
        options["gguf_file"] = ggufs[0].name
    return options


def load_tokenizer(folder: Path, options: dict[str, Any]) -> Any:
    """The folder's tokenizer; InputError unless it is byte-level BPE with a BOS or EOS token."""
    transformers = import_transformers()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{folder}: transformers cannot load it: {exc}") from None
    if not _is_byte_level(tokenizer):
        raise InputError(
            f"{folder}: the tokenizer is not byte-level BPE (GPT-2 style); only "
            "byte-level tokenizers give every input back byte-exact here"
        )
    if tokenizer.bos_token_id is None and tokenizer.eos_token_id is None:
        raise InputError(f"{folder}: the tokenizer has neither a BOS nor an EOS token")
    return tokenizer


@dataclass
class TokenBlockCosts:
    """A block as :meth:`TokenCodec.encode_with_costs` codes it (``mmcompress explain``)."""

    payload: bytes  #: exactly :meth:`TokenCodec.encode_block`'s payload
    bits: np.ndarray  #: (len(raw),) float64: bits of each byte (a token's cost spread evenly)
    tokens: np.ndarray  #: the coded token ids, in block order
    token_bits: np.ndarray  #: −log2 p of each token under its integer table, in block order
    coder_bytes: int  #: the range coder's words
    byte_path_bytes: int  #: the byte path as coded (form, length, body; 0 when none)


@dataclass
class _CodedBlock:
    payload: bytes
    runs: list[tuple[bool, bytes]]
    tokens: np.ndarray
    segmentation: Segmentation
    byte_path: bytes
    coder_bytes: int


class _CostEncoder(Encoder):
    """An encoder that also keeps −log2 p of each symbol under the integer table it codes with."""

    def __init__(self, precision_bits: int) -> None:
        super().__init__(precision_bits)
        self.costs: list[np.ndarray] = []

    def encode(self, symbols: np.ndarray, freq_tables: np.ndarray) -> None:
        super().encode(symbols, freq_tables)
        picked = np.take_along_axis(
            np.asarray(freq_tables), np.asarray(symbols, dtype=np.int64)[:, None], axis=1
        )[:, 0]
        self.costs.append(self.precision_bits - np.log2(picked.astype(np.float64)))


class TokenCodec(BlockCodec):
    """What every token-coding codec shares: a byte-level tokenizer, the run layout of a block
    (text as tokens, the rest on the byte path), the MODEL payload of the module docstring.

    A subclass calls :meth:`_setup_model_folder`, sets ``tokenizer``, calls
    :meth:`_setup_vocabulary` and :meth:`_setup_window`, and codes the tokens in
    :meth:`_code_tokens`.
    """

    precision_bits = MAX_PRECISION_BITS
    tokenizer: Any
    alphabet: int
    segment_count: int
    min_segment_tokens: int

    def _setup_model_folder(
        self, path: str | Path, threads: int | None, segment_count: int, min_segment_tokens: int
    ) -> None:
        """The model folder, its hashes, the segment settings and the torch thread count."""
        if segment_count < 1 or min_segment_tokens < 1:
            raise InputError("segment_count and min_segment_tokens must be >= 1")
        self.folder = hfenv.model_folder(path)
        # One thread by default: the per-token forwards are small, and on a busy machine more
        # threads spin and wait (measured 13x slower with 2 threads on a loaded 2-core CPU).
        self.threads = threads if threads is not None else DEFAULT_THREADS
        self.segment_count, self.min_segment_tokens = segment_count, min_segment_tokens
        self.model_sha256 = hfenv.model_sha256(self.folder)
        self.tokenizer_sha256 = hfenv.tokenizer_sha256(self.folder)

    def _setup_vocabulary(self, alphabet: int) -> None:
        """The vocabulary size (it must fit the coder's tables) and the token tables."""
        if alphabet > 1 << self.precision_bits:
            raise InputError(f"{self.folder}: vocabulary too large for 24-bit tables")
        self.alphabet = alphabet
        self._setup_tokens()

    def _setup_window(self, window: int | None, overlap: int | None, positions: int) -> None:
        """The sliding window (at most the model's ``positions``) and its overlap."""
        self.window = min(window or DEFAULT_WINDOW, positions)
        self.overlap = overlap if overlap is not None else self.window // 2
        if not 2 <= self.window or not 1 <= self.overlap <= self.window - 2:
            raise InputError("window must be >= 2 and 1 <= overlap <= window - 2")

    def _setup_tokens(self) -> None:
        """The token -> bytes table and its lookups; the BOS id (EOS when there is none)."""
        self.token_bytes = token_byte_table(self.tokenizer, self.alphabet)
        self._build_byte_lookup()
        bos = self.tokenizer.bos_token_id
        self.bos_id = int(bos if bos is not None else self.tokenizer.eos_token_id)

    def _build_byte_lookup(self) -> None:
        lengths = np.array([len(b) if b else 0 for b in self.token_bytes], dtype=np.int64)
        self._token_lengths = lengths
        self._token_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self._token_flat = np.frombuffer(b"".join(b or b"" for b in self.token_bytes), np.uint8)
        specials = sorted(
            {t.content for t in self.tokenizer.backend_tokenizer.get_added_tokens_decoder().values()
             if t.special and t.content},
            key=len,
            reverse=True,
        )  # fmt: skip
        self._special_text = (
            re.compile("(" + "|".join(map(re.escape, specials)) + ")") if specials else None
        )
        masked = np.flatnonzero(lengths == 0)
        self._masked = torch.as_tensor(masked, dtype=torch.long)

    # --- tokens <-> bytes -----------------------------------------------------------------------

    def _tokens_of(self, text: str) -> list[int] | None:
        """The token ids of ``text`` if their bytes give back its UTF-8 exactly, else None."""
        ids = self.tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids
        tokens = np.asarray(ids, dtype=np.int64)
        if tokens.size and (tokens.max() >= self.alphabet or not self._token_lengths[tokens].all()):
            return None  # a special token matched in the text: those lines take the byte path
        if self.tokens_to_bytes(tokens) == text.encode("utf-8"):
            return list(ids)
        return None

    def tokens_to_bytes(self, tokens: np.ndarray) -> bytes:
        """Concatenated bytes of ``tokens`` (vectorised; None-bytes tokens are CorruptArchive)."""
        if tokens.size == 0:
            return b""
        if tokens.min() < 0 or tokens.max() >= self.alphabet:
            raise CorruptArchive("LLM-coded block decodes to an invalid token")
        lengths = self._token_lengths[tokens]
        if not lengths.all():
            raise CorruptArchive("LLM-coded block decodes to a special or unused token")
        ends = np.cumsum(lengths)
        offsets = np.repeat(self._token_starts[tokens] - (ends - lengths), lengths)
        return self._token_flat[offsets + np.arange(int(ends[-1]))].tobytes()

    def _runs(self, raw: bytes) -> tuple[list[tuple[bool, bytes]], list[int]]:
        """(is_text, bytes) runs of ``raw`` in order, and the tokens of the text runs."""
        runs: list[tuple[bool, bytes]] = []
        tokens: list[int] = []

        def add(is_text: bool, piece: bytes) -> None:
            if runs and runs[-1][0] == is_text:
                runs[-1] = (is_text, runs[-1][1] + piece)
            elif piece:
                runs.append((is_text, piece))

        pieces = _ESCAPED_BYTES.split(raw.decode("utf-8", "surrogateescape"))
        for index, piece in enumerate(pieces):
            if index % 2:  # bytes that are not UTF-8
                add(False, piece.encode("utf-8", "surrogateescape"))
                continue
            ids = self._tokens_of(piece) if piece else []
            if ids is not None:
                tokens += ids
                add(True, piece.encode("utf-8"))
                continue
            for line in piece.splitlines(keepends=True):  # find the lines that do not round-trip
                ids = self._tokens_of(line)
                if ids is not None:
                    tokens += ids
                    add(True, line.encode("utf-8"))
                    continue
                # The text of special tokens ("<|endoftext|>") takes the byte path, the rest not.
                parts = self._special_text.split(line) if self._special_text else [line]
                for number, part in enumerate(parts):
                    ids = None if number % 2 else self._tokens_of(part)
                    if ids is not None:
                        tokens += ids
                    add(ids is not None, part.encode("utf-8"))
        return runs, tokens

    def encode_block(self, raw: bytes, tag: int = 0) -> bytes:
        return self._encode(raw, Encoder(self.precision_bits), True).payload

    def encode_with_costs(self, raw: bytes, *, text_only: bool = True) -> TokenBlockCosts:
        """:meth:`encode_block`'s payload (the same bytes) and what every byte of ``raw`` cost.

        A token's cost (−log2 p under the integer table it was coded with) is spread evenly over
        its bytes; the byte path's bytes share its coded size (form, length and zstd / stored
        body) evenly. So ``bits`` sums to the tokens' cross-entropy plus 8 × the byte path, and
        the payload exceeds it only by the run layout and the range coder's flush.
        ``text_only=False`` codes a block that is mostly not text too (encode_block would raise
        NotApplicable), to show what the model would have cost.
        """
        encoder = _CostEncoder(self.precision_bits)
        coded = self._encode(raw, encoder, text_only)
        token_bits = np.zeros(len(coded.tokens))
        if coded.tokens.size:
            token_bits = coded.segmentation.deinterleave(np.concatenate(encoder.costs))
        token_sizes = self._token_lengths[coded.tokens]
        bits, byte_path_bits, pos = np.zeros(len(raw)), 8.0 * len(coded.byte_path), 0
        text_bits = np.repeat(token_bits / np.maximum(token_sizes, 1), token_sizes)
        text_pos, other_size = 0, len(raw) - int(token_sizes.sum())
        for is_text, piece in coded.runs:
            if is_text:
                bits[pos : pos + len(piece)] = text_bits[text_pos : text_pos + len(piece)]
                text_pos += len(piece)
            else:
                bits[pos : pos + len(piece)] = byte_path_bits / other_size
            pos += len(piece)
        return TokenBlockCosts(
            payload=coded.payload,
            bits=bits,
            tokens=coded.tokens,
            token_bits=token_bits,
            coder_bytes=coded.coder_bytes,
            byte_path_bytes=len(coded.byte_path),
        )

    def _encode(self, raw: bytes, encoder: Encoder, text_only: bool) -> _CodedBlock:
        runs, tokens = self._runs(raw)
        text_bytes = sum(len(piece) for is_text, piece in runs if is_text)
        if text_only and raw and text_bytes < MIN_TEXT_SHARE * len(raw):
            raise NotApplicable("mostly not text")
        header = bytearray([FORMAT])
        token_array = np.asarray(tokens, dtype=np.int64)
        count = choose_segment_count(len(tokens), self.segment_count, self.min_segment_tokens)
        header += _varint(count) + _varint(len(tokens))
        layout = runs if not runs or runs[0][0] else [(True, b""), *runs]
        header += _varint(len(layout)) + b"".join(_varint(len(piece)) for _, piece in layout)
        byte_path = self._byte_path(b"".join(piece for is_text, piece in runs if not is_text))
        header += byte_path
        segmentation = Segmentation(len(tokens), count)
        with self._coding():
            self._code_tokens(segmentation, token_array, encoder, None)
        words = encoder.finish()
        return _CodedBlock(
            bytes(header) + words, runs, token_array, segmentation, byte_path, len(words)
        )

    def decode_block(self, payload: bytes, raw_size: int) -> bytes:
        reader = _Reader(payload)
        if reader.u8() != FORMAT:
            raise CorruptArchive("LLM-coded block has an unknown format")
        count, token_count, run_count = reader.varint(), reader.varint(), reader.varint()
        if (
            token_count > raw_size
            or run_count > raw_size + 1
            or not 1 <= count <= max(1, token_count)
        ):
            raise CorruptArchive("LLM-coded block declares impossible counts")
        lengths = [reader.varint() for _ in range(run_count)]
        if sum(lengths) != raw_size:
            raise CorruptArchive("LLM-coded block's runs do not add up to its size")
        other = self._read_byte_path(reader, sum(lengths[1::2]))
        decoder = Decoder(payload[reader.pos :], self.precision_bits)
        segmentation = Segmentation(token_count, count)
        with self._coding():
            ordered = self._code_tokens(segmentation, None, None, decoder)
        text = self.tokens_to_bytes(segmentation.deinterleave(ordered))
        if len(text) != sum(lengths[0::2]):
            raise CorruptArchive("LLM-coded block's tokens do not fill its text runs")
        out, text_pos, other_pos = bytearray(), 0, 0
        for index, length in enumerate(lengths):
            if index % 2 == 0:
                out += text[text_pos : text_pos + length]
                text_pos += length
            else:
                out += other[other_pos : other_pos + length]
                other_pos += length
        return bytes(out)

    def _coding(self) -> contextlib.AbstractContextManager[Any]:
        """The context the tokens are coded in: torch's thread count and inference mode."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch_threads(self.threads))
        stack.enter_context(torch.inference_mode())
        return stack

    def _code_tokens(
        self,
        segmentation: Segmentation,
        tokens: np.ndarray | None,
        encoder: Encoder | None,
        decoder: Decoder | None,
    ) -> np.ndarray:
        """Encode ``tokens`` (in block order) or decode them; returns them in coding order."""
        raise NotImplementedError

    def _check_decoded(self, symbols: np.ndarray) -> None:
        if symbols.size and not self._token_lengths[symbols].all():
            raise CorruptArchive("LLM-coded block decodes to a special or unused token")

    @staticmethod
    def _byte_path(other: bytes) -> bytes:
        if not other:
            return b""
        squeezed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(other)
        form, body = (_ZSTD, squeezed) if len(squeezed) < len(other) else (_STORED, other)
        return bytes([form]) + _varint(len(body)) + body

    @staticmethod
    def _read_byte_path(reader: _Reader, size: int) -> bytes:
        if size == 0:
            return b""
        form, length = reader.u8(), reader.varint()
        body = reader.take(length)
        if form == _STORED and length == size:
            return body
        if form == _ZSTD:
            try:
                other = zstandard.ZstdDecompressor().decompress(body, max_output_size=size)
            except zstandard.ZstdError as exc:
                raise CorruptArchive(f"LLM-coded block's byte path is damaged: {exc}") from None
            if len(other) == size:
                return other
        raise CorruptArchive("LLM-coded block's byte path is damaged")


class _Stepper:
    """B segments of one block run through the model in lockstep, with the sliding window.

    ``logits`` holds the next-token logits of every segment (B, alphabet); :meth:`push` feeds
    one token per segment. The encoder and the decoder drive it with the same calls.
    """

    def __init__(self, codec: HFCodec, batch: int) -> None:
        self.codec = codec
        self.bos = torch.full((batch, 1), codec.bos_id, dtype=torch.long, device=codec.device)
        self.recent = self.bos[:, :0]
        self.logits = self._restart(self.bos)

    def _forward(self, ids: torch.Tensor, cache: Any) -> torch.Tensor:
        output = self.codec.model(
            input_ids=ids,
            use_cache=True,
            **self.codec.forward_options,
            **{self.codec.cache_arg: cache},
        )
        return output.logits[:, -1, :]

    def _restart(self, ids: torch.Tensor) -> torch.Tensor:
        self.cache = self.codec.new_cache()
        self.length = ids.shape[1]
        return self._forward(ids, self.cache)

    def push(self, tokens: torch.Tensor) -> None:
        column = tokens[:, None]
        self.recent = torch.cat([self.recent, column], dim=1)[:, -self.codec.overlap :]
        if self.length >= self.codec.window:
            self.logits = self._restart(torch.cat([self.bos, self.recent], dim=1))
        else:
            self.length += 1
            self.logits = self._forward(column, self.cache)


class HFCodec(TokenCodec):
    """Codes text blocks as the tokens of a local Hugging Face causal LM (see module docstring)."""

    kind: ClassVar[str] = "hf"

    def __init__(
        self,
        path: str | Path,
        *,
        window: int | None = None,
        overlap: int | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        threads: int | None = None,
        segment_count: int = DEFAULT_SEGMENT_COUNT,
        min_segment_tokens: int = DEFAULT_MIN_SEGMENT_TOKENS,
    ) -> None:
        if dtype not in hfenv.DTYPES:
            raise InputError(f"dtype must be one of {', '.join(hfenv.DTYPES)}, not {dtype!r}")
        if device not in hfenv.DEVICES:
            raise InputError(f"device must be one of {', '.join(hfenv.DEVICES)}, not {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise InputError("device cuda: no CUDA device is available here")
        self._setup_model_folder(path, threads, segment_count, min_segment_tokens)
        self.dtype, self.device = dtype, device
        self.tokenizer, self.model = self._load()
        self._setup_vocabulary(int(self.model.get_output_embeddings().weight.shape[0]))
        self._setup_window(window, overlap, self._position_limit())
        parameters = inspect.signature(self.model.forward).parameters
        self.cache_arg = "cache" if "cache" in parameters else "past_key_values"
        #: Extra forward arguments: only the last position's logits, where the model allows it.
        self.forward_options: dict[str, Any] = (
            {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
        )
        self.environment = hfenv.current_environment(device, dtype, self.threads)

    # --- loading --------------------------------------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        transformers = import_transformers()
        options = load_options(self.folder)
        tokenizer = load_tokenizer(self.folder, options)
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                self.folder, dtype=getattr(torch, self.dtype), **options
            )
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{self.folder}: transformers cannot load it: {exc}") from None
        if self.device == "cuda":  # full-precision float32 GEMMs, no TF32
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        model.eval().to(self.device)
        return tokenizer, model

    def _position_limit(self) -> int:
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return DEFAULT_WINDOW

    def new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:
            return DynamicCache()

    # --- configs --------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "id": self.kind,
            "version": VERSION,
            "path": str(self.folder),
            "model_sha256": self.model_sha256,
            "tokenizer_sha256": self.tokenizer_sha256,
            "window": self.window,
            "overlap": self.overlap,
            "segment_count": self.segment_count,
            "min_segment_tokens": self.min_segment_tokens,
            **self.environment,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HFCodec:
        """Rebuild the archive's codec here, after the environment check of :mod:`.hfenv`."""
        if config.get("version") != VERSION:
            raise UnsupportedFormat(f"LLM codec version {config.get('version')!r} is not known")
        try:
            path, dtype, device = str(config["path"]), str(config["dtype"]), str(config["device"])
            threads, window, overlap = (
                int(config["threads"]),
                int(config["window"]),
                int(config["overlap"]),
            )
            segments = int(config["segment_count"])
            min_tokens = int(config["min_segment_tokens"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptArchive(f"LLM codec config is incomplete: {exc}") from None
        options = hfenv.current_decode_options()
        wanted = options.model_path or path
        try:
            folder = hfenv.model_folder(wanted)
        except InputError:
            raise ModelMissing(
                f"archive needs the Hugging Face model that was at {wanted} (sha256 "
                f"{str(config.get('model_sha256'))[:16]}...); it is not there: give its folder "
                "with --model hf:PATH"
            ) from None
        device = options.device or device
        if device == "cuda" and not torch.cuda.is_available():
            if not options.force:
                raise UnsupportedFormat(
                    "archive was coded on a CUDA device and none is available here (--force "
                    "tries on the CPU; the block checksums catch any mismatch)"
                )
            device = "cpu"
        here = {
            "model_sha256": hfenv.model_sha256(folder),
            "tokenizer_sha256": hfenv.tokenizer_sha256(folder),
            **hfenv.current_environment(device, dtype, threads),
        }
        hfenv.check_environment(config, here, options.force)
        codec = cls(
            folder,
            window=window,
            overlap=overlap,
            dtype=dtype,
            device=device,
            threads=threads,
            segment_count=segments,
            min_segment_tokens=min_tokens,
        )
        if (codec.window, codec.overlap) != (window, overlap):
            raise UnsupportedFormat("archive's window does not fit this model's positions")
        return codec

    # --- tables ---------------------------------------------------------------------------------

    def freq_tables(self, logits: torch.Tensor) -> np.ndarray:
        """(B, alphabet) logits -> (B, alphabet) tables: float64 softmax, then the integer rule."""
        scores = logits.to(torch.float64)
        if self._masked.numel():
            scores[:, self._masked.to(scores.device)] = -torch.inf
        probabilities = torch.softmax(scores, dim=-1)
        integer = torch.floor(probabilities * float(1 << SCORE_BITS)).to(torch.int64)
        return scores_to_freq_table(integer.cpu().numpy(), self.precision_bits)

    # --- blocks ---------------------------------------------------------------------------------

    def _code_tokens(
        self,
        segmentation: Segmentation,
        tokens: np.ndarray | None,
        encoder: Encoder | None,
        decoder: Decoder | None,
    ) -> np.ndarray:
        """Encode ``tokens`` or decode them, by the one schedule both sides share."""
        batch = segmentation.segment_count
        if segmentation.size == 0:
            return np.zeros(0, dtype=np.int64)
        ordered = segmentation.interleave(tokens) if tokens is not None else None
        decoded = np.empty(segmentation.size, dtype=np.int64)
        stepper = _Stepper(self, batch)
        step_tokens = np.full(batch, self.bos_id, dtype=np.int64)  # inactive segments get BOS
        # A bar per block (drawn only on a terminal): an LLM block can take minutes.
        with progress(total=segmentation.size, desc="LLM", unit="tok") as bar:
            for step in range(segmentation.steps):
                self._code_step(
                    step, segmentation, stepper, step_tokens, ordered, decoded, encoder, decoder
                )
                bar.update(segmentation.active(step))
        return decoded

    def _code_step(
        self,
        step: int,
        segmentation: Segmentation,
        stepper: _Stepper,
        step_tokens: np.ndarray,
        ordered: np.ndarray | None,
        decoded: np.ndarray,
        encoder: Encoder | None,
        decoder: Decoder | None,
    ) -> None:
        """One step t: the B tables, code (or decode) the active segments' tokens, feed them."""
        active = segmentation.active(step)
        lo, hi = segmentation.step_offset(step), segmentation.step_offset(step + 1)
        tables = self.freq_tables(stepper.logits)[:active]
        if encoder is not None and ordered is not None:
            symbols = ordered[lo:hi]
            encoder.encode(symbols, tables)
        else:
            assert decoder is not None
            symbols = decoder.decode(tables).astype(np.int64)
            self._check_decoded(symbols)
        decoded[lo:hi] = symbols
        if step + 1 < segmentation.steps:
            step_tokens[:active] = symbols
            step_tokens[active:] = self.bos_id
            stepper.push(torch.as_tensor(step_tokens, device=self.device))


__all__ = [
    "HFCodec",
    "TokenBlockCosts",
    "TokenCodec",
    "bytes_to_unicode",
    "import_transformers",
    "load_options",
    "load_tokenizer",
    "token_byte_table",
    "torch_threads",
]
