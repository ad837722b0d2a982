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
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..api import Compressor
from ..blockcoding import model_encode
from ..container import BlockKind, ContainerReader, EntryType
from ..detect import Modality
from ..errors import ModelMissing, UnsupportedFormat
from ..levels import LevelRecipe, recipe
from ..predictors import Predictor, PredictorSession, build_predictor, predictor_for_recipe
from ..segments import Segmentation
from ..streams import CodecBook

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

    def build(self) -> Predictor:
        built = build_predictor(dict(self.config))
        if not isinstance(built, Predictor):
            raise UnsupportedFormat(f"explain does not yet cover block codec {built.kind!r}")
        return built


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
    """A ``--model`` argument: ``level``, an installed model's name, or ``ID[:key=value,...]``.

    ``cm:max_order=6`` (or ``cm-o6``) is the context model with that parameter, others at their
    defaults.
    """
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
    shorthand = re.fullmatch(r"cm-o(\d+)", text)  # the names explain gives context models
    kind, _, rest = (f"cm:max_order={shorthand.group(1)}" if shorthand else text).partition(":")
    parameters: dict[str, Any] = {"id": kind}
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
    plain = set(parameters) <= {"id", "max_order"}  # "cm:max_order=6" is simply cm-o6
    return ModelSpec(_default_name(predictor.config()) if plain else text, predictor.config())


# --------------------------------------------------------------------------------------------
# Recording the costs of the tables the encoder really uses.


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


class _RecordingBook(CodecBook):
    """A codec book whose one codec is the recorder (the archive names the wrapped predictor)."""

    def __init__(self, recorder: RecordingPredictor) -> None:
        super().__init__([{**recorder.compact_config(), "precision_bits": recorder.precision_bits}])
        self._recorder = recorder

    def predictor(self, index: int) -> Predictor:
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
    predictor: Predictor | None = None,
) -> ModelCosts:
    """Costs of ``data`` under ``spec``, block by block as the packer at ``level`` cuts it.

    The model runs once, inside the real packer: its sessions are recorded as it codes each block.
    Blocks the packer did not keep as model-coded (it lost to zstd/stored, or was never tried
    because it looked already compressed) are coded once more with ``model_encode`` alone, for
    their costs and the payload size the model would have had.
    """
    predictor = predictor or spec.build()
    level_recipe = recipe(level)  # block size and fallback; the codec comes from the book
    recorder = RecordingPredictor(predictor)
    archive = _ExplainCompressor(level_recipe, _RecordingBook(recorder)).compress(
        data, name=name, modality=modality
    )
    records = iter(recorder.records)
    pending = next(records, None)
    tag = int(modality)  # as streams.encode_stream_block tags a block
    bits = np.zeros(len(data), dtype=np.float64)
    blocks = []
    lo = 0
    for kind, payload_bytes in _archive_blocks(archive):
        raw = data[lo : lo + level_recipe.block_size]
        record = None
        if pending is not None and pending.raw() == raw:  # the packer's model saw this block
            record, pending = pending, next(records, None)
        if kind == "model" and record is not None:
            model_payload_bytes = payload_bytes
        else:
            recorder.records = []
            model_payload_bytes = len(model_encode(raw, recorder, tag))
            record = recorder.records[-1]
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
