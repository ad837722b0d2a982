"""Per-symbol costs of one input under one model, and where the coded size departs from them.

A model's *cross-entropy* on a byte string is Σ −log2 p(byte), p read from the integer frequency
table the model hands the coder (``precision_bits − log2 freq``). That is the size an ideal coder
would reach. What mmcompress actually writes differs from it in three places, and this module
measures each one exactly, so that

    archive bytes = cross-entropy / 8 + coder overhead + fallback + container overhead

holds to the byte:

* **coder overhead**: the range coder's payload (through :func:`mmcompress.blockcoding.model_encode`,
  the very call the packer makes) against cross-entropy / 8: flushing, 32-bit words, the
  3-byte model-block header, constriction's re-quantisation of the tables.
* **fallback**: blocks the container wrote stored or zstd'd because that was smaller than the model
  payload (or because the block looked already compressed and was never modelled); the difference
  (their size − the model payload) is counted here, negative when the fallback saved bytes.
* **container overhead**: everything else in the real archive (:class:`mmcompress.api.Compressor`
  with this model as its codec): header and metadata, block headers, index, trailer.

The costs are recorded *inside the packer*: :class:`RecordingPredictor` wraps any registered
predictor and keeps the tables' picked entries as the encoder asks for them, while the real
:class:`~mmcompress.api.Compressor` writes the real archive with it as its codec. So the costs are
those of the tables that were really coded, and the model runs once per block (twice only for the
blocks the packer did not keep model-coded). Costs come back in byte order
(:meth:`~mmcompress.segments.Segmentation.deinterleave` undoes the coder's (t, b) order).

Local LLMs (``hf:PATH``, ``hf-int:PATH``: the token codecs of :mod:`mmcompress.predictors.hf`)
are block codecs, not predictors: :class:`RecordingTokenCodec` codes each block with
:meth:`~mmcompress.predictors.hf.TokenCodec.encode_with_costs` (the same payload bytes), whose
per-byte costs spread each token's −log2 p evenly over the token's bytes, and charge the bytes
that take the codec's byte path (invalid UTF-8, text that does not round-trip through the
tokenizer) their share of its coded size. So for them the cross-entropy includes that byte path,
and the coder overhead is the run layout and the range coder's flush.

The byte transformer's *float* model (``bytefmr-s:float``) is explained without coding
(:func:`float_transformer_costs`): its ideal cross-entropy, −log2 of its float softmax, on the
same blocks, segments and tags as the integer model codes them. The float model is the
training checkpoint (``checkpoints/NAME/last.pt``, or ``$MMCOMPRESS_CHECKPOINTS/NAME/last.pt``)
the installed integer model was exported from, which is checked (its export must equal the
installed tensors); it is the quantisation-aware network as trained and validated (fake-quantised
int8 weights and activations, float arithmetic). Nothing is coded with it, so its archive columns
are n/a (:attr:`ModelCosts.coded` is False).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

import numpy as np

from ..api import Compressor
from ..blockcoding import model_encode
from ..container import BlockKind, ContainerReader, EntryType
from ..detect import Modality
from ..errors import ModelMissing, UnsupportedFormat
from ..levels import LevelRecipe, recipe
from ..predictors import (
    BlockCodec,
    Predictor,
    PredictorSession,
    build_predictor,
    predictor_for_recipe,
)
from ..segments import Segmentation
from ..streams import CodecBook
from ..tags import block_tag

if TYPE_CHECKING:
    import torch

    from ..predictors.hf import TokenCodec

#: The ``--model`` prefixes of local LLMs (token codecs) and their codec ids.
LLM_PREFIXES = {"hf:": "hf", "hf-int:": "hf-int"}

#: The container writes model-coded blocks of these kinds; anything else is a fallback.
_MODEL_KINDS = (BlockKind.MODEL,)


@dataclass(frozen=True)
class ModelSpec:
    """A named predictor to explain: ``config`` is its archive config (``config()["id"]`` etc.).

    Any predictor registered in :mod:`mmcompress.predictors` can be explained: it is rebuilt with
    :func:`~mmcompress.predictors.build_predictor`, the same call that unpacking makes.
    """

    name: str
    config: dict[str, Any]
    #: The codec already built for this spec (a local LLM is loaded once), else None.
    built: Any = field(default=None, compare=False, repr=False)
    #: "float": the byte transformer's float model, ideal cross-entropy only (nothing coded).
    variant: str = ""

    def build(self) -> Predictor | TokenCodec:
        if self.variant == "float":
            float_checkpoint(self.config)  # ModelMissing when the float weights are not here
        built = self.built if self.built is not None else build_predictor(dict(self.config))
        if not isinstance(built, Predictor) and not _is_token_codec(built):
            raise UnsupportedFormat(f"explain does not yet cover block codec {built.kind!r}")
        return cast("Predictor | TokenCodec", built)


def _is_token_codec(codec: Any) -> bool:
    """Is ``codec`` a local LLM's token codec (without importing torch when it cannot be)?"""
    if getattr(codec, "kind", None) not in LLM_PREFIXES.values():
        return False
    from ..predictors.hf import TokenCodec

    return isinstance(codec, TokenCodec)


def level_model(level: int | None) -> ModelSpec | None:
    """The predictor the level's recipe codes with (None for zstd-only levels)."""
    level_recipe = recipe(level)
    if level_recipe.predictor is None:
        return None
    predictor = predictor_for_recipe(level_recipe.predictor)
    return ModelSpec(_default_name(predictor.config()), predictor.config())


def _default_name(config: dict[str, Any]) -> str:
    kind = str(config.get("id", "?"))
    if kind == "cm" and "max_order" in config:
        return f"cm-o{config['max_order']}"
    return str(config.get("name") or kind)


def installed_models() -> list[ModelSpec]:
    """Learned predictors whose weights are installed (models/manifest.json), in manifest order."""
    from ..models import installed_models as installed

    specs = []
    for record in installed():
        config = record.get("predictor_config")
        if record.get("installed") and isinstance(config, dict):
            specs.append(ModelSpec(str(record.get("name") or _default_name(config)), dict(config)))
    return specs


def parse_model(text: str, level: int | None = None) -> ModelSpec:
    """A ``--model`` argument: ``level``, ``mix``, an installed model's name, ``hf:PATH`` /
    ``hf-int:PATH`` (a local LLM), or ``ID[:key=value,...]``.

    ``cm:max_order=6`` (or ``cm-o6``) is the context model with that parameter, others at their
    defaults; ``mix`` is the mixer of the -9 recipe (context model + byte transformer),
    ``mix:learning_rate=32`` the same with that parameter.
    """
    for prefix, kind in LLM_PREFIXES.items():
        if text.startswith(prefix):
            return _llm_spec(text, kind, text[len(prefix) :])
    if text == "level":
        spec = level_model(level)
        if spec is None:
            raise ValueError(
                f"level {recipe(level).level} codes with zstd only: no model to explain"
            )
        return spec
    for spec in installed_models():
        if spec.name == text:
            return spec
        if text == f"{spec.name}:float" and spec.config.get("id") == "bytefmr":
            return ModelSpec(text, spec.config, variant="float")
    shorthand = re.fullmatch(r"cm-o(\d+)", text)  # the names explain gives context models
    kind, _, rest = (f"cm:max_order={shorthand.group(1)}" if shorthand else text).partition(":")
    parameters: dict[str, Any] = {"id": kind}
    if kind == "mix":  # the -9 recipe's mixer, its parameters overridable
        parameters = {**_level_spec(9, "mix"), "id": kind}
    for item in filter(None, rest.split(",")):
        key, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"model parameter {item!r} is not key=value")
        parameters[key.strip()] = (
            int(value) if value.strip().lstrip("-").isdigit() else value.strip()
        )
    try:
        predictor = predictor_for_recipe(parameters)
    except ModelMissing:
        raise ValueError(
            f"unknown model {text!r} (an installed model's name, 'level', or e.g. 'cm:max_order=6')"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model {text!r}: {exc}") from None
    plain = set(parameters) <= {"id", "max_order"} or text == "mix"  # "cm:max_order=6" is cm-o6
    return ModelSpec(_default_name(predictor.config()) if plain else text, predictor.config())


def _level_spec(level: int, kind: str) -> dict[str, Any]:
    """The predictor spec of ``level``'s recipe, which must have id ``kind``."""
    spec = recipe(level).predictor
    if spec is None or spec.get("id") != kind:
        raise ValueError(f"level {level}'s recipe has no {kind!r} predictor")
    return dict(spec)


def _llm_spec(text: str, kind: str, path: str) -> ModelSpec:
    """``hf:PATH`` / ``hf-int:PATH``: the local LLM, loaded once (ModelMissing, InputError)."""
    from ..predictors import hfenv

    codec = predictor_for_recipe(hfenv.model_spec(f"{kind}:{path}"))
    name = f"{kind}:{Path(path).name or path}"
    return ModelSpec(name, codec.config(), codec)


# --------------------------------------------------------------------------------------------
# Recording the costs of the tables the encoder really uses.


class _Record(Protocol):
    def raw(self) -> bytes: ...

    def bits(self) -> np.ndarray: ...


@dataclass
class RecordedBlock:
    """What one encoder session saw: its segmentation, symbols and costs, in coding order."""

    segmentation: Segmentation
    symbols: list[np.ndarray] = field(default_factory=list)
    costs: list[np.ndarray] = field(default_factory=list)

    def raw(self) -> bytes:
        ordered = np.concatenate(self.symbols) if self.symbols else np.zeros(0, dtype=np.uint8)
        return self.segmentation.deinterleave(ordered.astype(np.uint8)).tobytes()

    def bits(self) -> np.ndarray:
        """−log2 p of each symbol, in byte order."""
        ordered = np.concatenate(self.costs) if self.costs else np.zeros(0)
        if ordered.size != self.segmentation.size:
            raise RuntimeError("the predictor was not asked for one table per symbol")
        return self.segmentation.deinterleave(ordered)


class _RecordingSession(PredictorSession):
    def __init__(self, inner: PredictorSession, precision_bits: int, record: RecordedBlock) -> None:
        super().__init__(inner.segmentation)
        self._inner = inner
        self._precision_bits = precision_bits
        self._record = record

    def predict(self) -> np.ndarray:
        return self._inner.predict()

    def update(self, symbols: np.ndarray) -> None:
        self._inner.update(symbols)
        self.step = self._inner.step

    def tables_for(self, symbols: np.ndarray, first_step: int, last_step: int) -> np.ndarray:
        tables = self._inner.tables_for(symbols, first_step, last_step)
        self.step = self._inner.step
        symbols = np.asarray(symbols, dtype=np.int64)
        picked = np.take_along_axis(tables, symbols[:, None], axis=1)[:, 0]
        self._record.symbols.append(symbols.astype(np.uint8))
        self._record.costs.append(self._precision_bits - np.log2(picked.astype(np.float64)))
        return tables


class RecordingPredictor(Predictor):
    """Wraps a predictor; each session records the coded symbols and their −log2 p.

    It describes itself exactly as the wrapped predictor does, so the coded bytes are identical.
    Only the encoder path (``tables_for``) is recorded: that is the path the packer takes.
    """

    kind: ClassVar[str] = "recording"

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.alphabet_size = inner.alphabet_size
        self.precision_bits = inner.precision_bits
        self.segment_count = inner.segment_count
        self.min_segment_length = inner.min_segment_length
        self.records: list[RecordedBlock] = []

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def compact_config(self) -> dict[str, Any]:
        return self.inner.compact_config()

    def start(self, segmentation: Segmentation, tag: int = 0) -> PredictorSession:
        record = RecordedBlock(segmentation)
        self.records.append(record)
        return _RecordingSession(self.inner.start(segmentation, tag), self.precision_bits, record)


@dataclass
class TokenRecord:
    """One block a token codec coded: its bytes and their costs (byte order)."""

    data: bytes
    costs: np.ndarray

    def raw(self) -> bytes:
        return self.data

    def bits(self) -> np.ndarray:
        return self.costs


class RecordingTokenCodec(BlockCodec):
    """Wraps a local LLM's token codec; each block is coded by ``encode_with_costs``.

    It describes itself as the wrapped codec and returns the very payload ``encode_block``
    would, so the archive is the one the packer writes.
    """

    kind: ClassVar[str] = "recording"

    def __init__(self, inner: TokenCodec) -> None:
        self.inner = inner
        self.precision_bits = inner.precision_bits
        self.records: list[TokenRecord] = []
        #: Code blocks that are mostly not text too (only for a fallback block's costs).
        self.text_only = True

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def compact_config(self) -> dict[str, Any]:
        return self.inner.compact_config()

    def encode_block(self, raw: bytes, tag: int = 0) -> bytes:
        coded = self.inner.encode_with_costs(raw, text_only=self.text_only)
        self.records.append(TokenRecord(bytes(raw), coded.bits))
        return coded.payload

    def decode_block(self, payload: bytes, raw_size: int) -> bytes:
        return self.inner.decode_block(payload, raw_size)


Recorder = RecordingPredictor | RecordingTokenCodec


def _recorder(codec: Predictor | TokenCodec) -> Recorder:
    return RecordingPredictor(codec) if isinstance(codec, Predictor) else RecordingTokenCodec(codec)


def _encode_alone(recorder: Recorder, raw: bytes, tag: int) -> tuple[int, _Record]:
    """A block the packer did not keep model-coded: model payload size and costs, coded alone."""
    recorder.records = []
    if isinstance(recorder, RecordingTokenCodec):
        recorder.text_only = False  # mostly binary: what the LLM would have cost anyway
        try:
            size = len(model_encode(raw, recorder, tag))
        finally:
            recorder.text_only = True
    else:
        size = len(model_encode(raw, recorder, tag))
    return size, recorder.records[-1]


class _RecordingBook(CodecBook):
    """A codec book whose one codec is the recorder (the archive names the wrapped predictor)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__([{**recorder.compact_config(), "precision_bits": recorder.precision_bits}])
        self._recorder = recorder

    def predictor(self, index: int) -> Predictor | BlockCodec:
        if index != 0:
            raise IndexError("the explain book has one codec")
        return self._recorder


# --------------------------------------------------------------------------------------------
# The result for one model on one input.


@dataclass
class BlockCost:
    """One container block: the model's view of it and what the container wrote."""

    raw_bytes: int
    cross_entropy_bits: float
    model_payload_bytes: int  # model_encode's payload for this block
    container_kind: str  # "model", "zstd" or "stored"
    container_payload_bytes: int


@dataclass
class ModelCosts:
    """One model on one input: per-byte costs (byte order) and the exact size breakdown."""

    name: str
    config: dict[str, Any]
    precision_bits: int
    bits: np.ndarray = field(repr=False)  # (size,) float64, −log2 p of each byte
    blocks: list[BlockCost]
    archive_bytes: int  # the real single-file archive with this model as codec
    #: False: an ideal cross-entropy only (the float transformer): nothing was coded, and the
    #: archive, coder, container and fallback figures are not applicable.
    coded: bool = True

    @property
    def size_bytes(self) -> int:
        return int(self.bits.size)

    @property
    def cross_entropy_bits(self) -> float:
        return float(np.sum(self.bits))

    @property
    def bits_per_byte(self) -> float:
        return self.cross_entropy_bits / self.size_bytes if self.size_bytes else 0.0

    @property
    def model_coded_bytes(self) -> int:
        """What model_encode wrote over all blocks, fallbacks or not."""
        return sum(b.model_payload_bytes for b in self.blocks)

    @property
    def coder_overhead_bytes(self) -> float:
        return self.model_coded_bytes - self.cross_entropy_bits / 8

    @property
    def fallback_blocks(self) -> int:
        return sum(1 for b in self.blocks if b.container_kind != "model")

    @property
    def fallback_raw_bytes(self) -> int:
        return sum(b.raw_bytes for b in self.blocks if b.container_kind != "model")

    @property
    def fallback_bytes(self) -> int:
        """Container payload − model payload over the fallback blocks (negative: it saved bytes)."""
        return sum(
            b.container_payload_bytes - b.model_payload_bytes
            for b in self.blocks
            if b.container_kind != "model"
        )

    @property
    def container_overhead_bytes(self) -> int:
        return self.archive_bytes - sum(b.container_payload_bytes for b in self.blocks)


class _ExplainCompressor(Compressor):
    """A Compressor whose one codec is the explained model (whatever the level's recipe names)."""

    def __init__(self, level_recipe: LevelRecipe, book: CodecBook) -> None:
        super().__init__(level_recipe.level)
        self.recipe = level_recipe
        self._explain_book = book

    @property
    def book(self) -> CodecBook:
        return self._explain_book


def model_costs(
    data: bytes,
    spec: ModelSpec,
    *,
    level: int | None = None,
    modality: Modality = Modality.BINARY,
    name: str = "",
    predictor: Predictor | TokenCodec | None = None,
) -> ModelCosts:
    """Costs of ``data`` under ``spec``, block by block as the packer at ``level`` cuts it.

    The model runs once, inside the real packer: its sessions are recorded as it codes each block.
    Blocks the packer did not keep as model-coded (it lost to zstd/stored, or was never tried
    because it looked already compressed) are coded once more with ``model_encode`` alone, for
    their costs and the payload size the model would have had.
    """
    if spec.variant == "float":
        return float_transformer_costs(
            data, spec, level=level, tag=block_tag(name, modality, data[:4096])
        )
    predictor = predictor or spec.build()
    level_recipe = recipe(level)  # block size and fallback; the codec comes from the book
    recorder = _recorder(predictor)
    archive = _ExplainCompressor(level_recipe, _RecordingBook(recorder)).compress(
        data, name=name, modality=modality
    )
    records: Iterator[_Record] = iter(list(recorder.records))
    pending = next(records, None)
    tag = block_tag(name, modality, data[:4096])  # as the packer tags the entry's blocks
    bits = np.zeros(len(data), dtype=np.float64)
    blocks = []
    lo = 0
    for kind, payload_bytes in _archive_blocks(archive):
        raw = data[lo : lo + level_recipe.block_size]
        record: _Record | None = None
        if pending is not None and pending.raw() == raw:  # the packer's model saw this block
            record, pending = pending, next(records, None)
        if kind == "model" and record is not None:
            model_payload_bytes = payload_bytes
        else:
            model_payload_bytes, record = _encode_alone(recorder, raw, tag)
        bits[lo : lo + len(raw)] = record.bits()
        blocks.append(
            BlockCost(
                raw_bytes=len(raw),
                cross_entropy_bits=float(np.sum(bits[lo : lo + len(raw)])),
                model_payload_bytes=model_payload_bytes,
                container_kind=kind,
                container_payload_bytes=payload_bytes,
            )
        )
        lo += len(raw)
    if lo != len(data) or pending is not None:
        raise RuntimeError("the archive's blocks do not follow the level's block size")
    return ModelCosts(
        spec.name, dict(predictor.config()), predictor.precision_bits, bits, blocks, len(archive)
    )


def _archive_blocks(archive: bytes) -> list[tuple[str, int]]:
    """(kind, payload bytes) of each block of a single-file archive."""
    reader = ContainerReader(io.BytesIO(archive))
    out = []
    for entry in reader.entries:
        if entry.type == EntryType.FILE:
            for header, payload in reader.iter_blocks(entry):
                out.append((header.kind.name.lower(), len(payload)))
    return out


# --------------------------------------------------------------------------------------------
# The byte transformer's float model: ideal cross-entropy, nothing coded.

#: Float forward: attention scores per batch (rows × positions × 2 windows × heads).
_FLOAT_SCORES_PER_BATCH = 1 << 26
_float_models: dict[str, Any] = {}


#: Format tag of the float weights shipped beside an integer byte transformer
#: (``models/NAME.float.safetensors``, written by scripts/export_float_transformer.py).
FLOAT_FILE_FORMAT = "mmcompress-bytefmr-float-v1"


def float_checkpoint(config: dict[str, Any]) -> Path:
    """Where an installed byte transformer's float weights are: ``models/NAME.float.safetensors``
    if shipped, else its training checkpoint (ModelMissing when neither is here)."""
    import os

    from ..models import models_dir

    name = str(config.get("name", ""))
    shipped = models_dir() / f"{name}.float.safetensors"
    if shipped.is_file():
        return shipped
    folder = os.environ.get("MMCOMPRESS_CHECKPOINTS")
    root = Path(folder) if folder else models_dir().parent / "checkpoints"
    path = root / name / "last.pt"
    if not path.is_file():
        raise ModelMissing(
            f"the float model of {name} is neither in {shipped} nor its training checkpoint "
            f"{path} (only the integer model is installed)"
        )
    return path


def _float_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, state dict) of float weights: a shipped file or a training checkpoint."""
    import torch

    if path.suffix == ".safetensors":
        from ..models import load_model_file

        config, tensors = load_model_file(path, FLOAT_FILE_FORMAT)
        return config, {key: torch.from_numpy(value) for key, value in tensors.items()}
    state = torch.load(path, map_location="cpu", weights_only=False)
    return dict(state["config"]), state["model"]


def _float_model(config: dict[str, Any]) -> Any:
    """The float model the installed integer ``config`` was exported from (checked), cached."""

    from ..predictors import transformer as tfm

    sha256 = str(config.get("sha256", ""))
    if sha256 not in _float_models:
        path = float_checkpoint(config)
        float_config, weights = _float_state(path)
        model = tfm.ByteTransformerModel(tfm.TransformerConfig(**float_config))
        model.load_state_dict(weights)
        model.eval()
        inner = build_predictor(dict(config))
        exported = tfm.quantize(model)
        installed = {
            name: value.reshape(-1)
            for name, value in _int_tensors(inner).items()  # type: ignore[arg-type]
        }
        if set(exported) != set(installed) or not all(
            np.array_equal(exported[k].reshape(-1), installed[k]) for k in installed
        ):
            raise ModelMissing(
                f"{path} is not the float model the installed {config.get('name')} was exported "
                "from (its export differs)"
            )
        _float_models[sha256] = (model, inner)
    return _float_models[sha256]


def _int_tensors(predictor: Any) -> dict[str, np.ndarray]:
    from ..models import load_model_file, models_dir, read_manifest
    from ..predictors.transformer import FILE_FORMAT

    for record in read_manifest():
        config = record.get("predictor_config") or {}
        if config.get("sha256") == predictor.sha256:
            return load_model_file(models_dir() / record["file"], FILE_FORMAT)[1]
    raise ModelMissing(f"the installed model file of {predictor.name} is not in the manifest")


def _banded_attention(attention: Any, x: torch.Tensor) -> torch.Tensor:
    """:class:`~mmcompress.predictors.transformer.CausalSelfAttention`'s forward, computed only
    where its sliding-window mask lets positions see each other: the queries of each run of
    ``window`` positions against the keys of that run and the one before. The same numbers as the
    module's own (dense, T × T) forward, but linear in T."""
    import torch
    import torch.nn.functional as F
    from einops import rearrange

    from ..predictors.transformer import ATT_LOGIT_FRAC_BITS, round_ste

    window, heads = attention.config.window, attention.n_head
    length = x.shape[1]
    q, k, v = attention.qkv(x).chunk(3, dim=-1)
    q, k, v = attention.q_quant(q), attention.k_quant(k), attention.v_quant(v)
    q, k, v = (rearrange(t, "b t (h e) -> b h t e", h=heads) for t in (q, k, v))
    runs = -(-length // window)
    pad = runs * window - length
    q = F.pad(q, (0, 0, 0, pad)).unflatten(2, (runs, window))  # (B, h, n, W, e)
    k, v = (F.pad(t, (0, 0, window, pad)).unfold(2, 2 * window, window) for t in (k, v))
    grid = float(1 << ATT_LOGIT_FRAC_BITS)
    scores = (q @ k) * (grid / math.sqrt(q.shape[-1]))  # (B, h, n, W, 2W)
    distance = torch.arange(window)[:, None] + window - torch.arange(2 * window)[None, :]
    visible = (distance >= 0) & (distance < window)
    penalty = attention.alibi[:, distance.clamp(0, window - 1)].to(scores.dtype)  # (h, W, 2W)
    bias = (-penalty).masked_fill(~visible, float("-inf"))[:, None].repeat(1, runs, 1, 1)
    bias[:, 0, :, :window] = float("-inf")  # the first run has nothing before it
    logits = (round_ste(scores) + bias) / grid
    y = torch.softmax(logits, dim=-1) @ v.transpose(-1, -2)  # (B, h, n, W, e)
    y = y.flatten(2, 3)[:, :, :length]
    return attention.proj(attention.out_quant(rearrange(y, "b h t e -> b t (h e)")))


def _float_logits(model: Any, tokens: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
    """:class:`~mmcompress.predictors.transformer.ByteTransformerModel`'s forward, its attention
    banded (:func:`_banded_attention`)."""
    from ..predictors.transformer import rms_norm

    x = model.tok_emb(tokens) + model.tag_emb(tags)[:, None, :]
    for block in model.blocks:
        x = x + _banded_attention(block.attn, block.attn_in_quant(rms_norm(x)))
        x = x + block.mlp(block.mlp_in_quant(rms_norm(x)))
    return model.head(model.head_in_quant(rms_norm(x)))  # type: ignore[no-any-return]


def float_transformer_costs(
    data: bytes, spec: ModelSpec, *, level: int | None = None, tag: int = 0
) -> ModelCosts:
    """−log2 p of each byte under the float byte transformer, cut as the integer model codes it.

    Blocks by the level's block size, B segments per block as ``model_encode`` chooses them, each
    segment from BOS with the blocks' ``tag`` (the float softmax in float64, no frequency tables).
    """
    import torch

    from ..predictors.transformer import BOS
    from ..segments import choose_segment_count

    model, inner = _float_model(spec.config)
    heads, window = model.config.n_head, model.config.window
    block_size = recipe(level).block_size
    bits = np.zeros(len(data), dtype=np.float64)
    blocks = []
    for lo in range(0, len(data), block_size):
        raw = np.frombuffer(data[lo : lo + block_size], dtype=np.uint8)
        count = choose_segment_count(len(raw), inner.segment_count, inner.min_segment_length)
        segmentation = Segmentation(len(raw), count)
        starts, lengths = segmentation.starts(), segmentation.lengths()
        width = int(lengths.max()) if len(raw) else 0
        rows = max(1, _FLOAT_SCORES_PER_BATCH // max(1, width * 2 * window * heads))
        with torch.inference_mode():
            for first in range(0, count, rows):
                segments = range(first, min(count, first + rows))
                inputs = torch.full((len(segments), width), BOS, dtype=torch.int64)
                for row, number in enumerate(segments):  # [BOS, x0, x1, ...]: x_i is predicted
                    start, length = int(starts[number]), int(lengths[number])
                    seen = raw[start : start + length - 1].astype(np.int64)
                    inputs[row, 1 : 1 + len(seen)] = torch.from_numpy(seen)
                tags = torch.full((len(segments),), tag, dtype=torch.int64)
                log_p = torch.log_softmax(_float_logits(model, inputs, tags).double(), dim=-1)
                for row, number in enumerate(segments):
                    start, length = int(starts[number]), int(lengths[number])
                    targets = torch.from_numpy(raw[start : start + length].astype(np.int64))
                    picked = log_p[row, :length].gather(1, targets[:, None])[:, 0]
                    bits[lo + start : lo + start + length] = -picked.numpy() / math.log(2.0)
        block_bits = float(np.sum(bits[lo : lo + len(raw)]))
        blocks.append(BlockCost(len(raw), block_bits, 0, "none", 0))
    return ModelCosts(spec.name, {**spec.config, "variant": "float"}, 0, bits, blocks, 0, False)
