"""Images and video in `mmcompress explain`: per-sample costs from the real pixel and frame codecs.

An image or video file that takes its rich path (``serializers.plan_entry``) is explained on
its samples, not on its file bytes:

    archive  the real single-file archive (:class:`~mmcompress.api.Compressor` at the level),
             whose pixel / frames codec is wrapped by :class:`RecordingCodec`: each strip or
             frame block is coded once, by ``encode_with_costs`` (the same payload bytes as
             ``encode_block``), and every sample's −log2 p under the integer table it was coded
             with is kept (:mod:`mmcompress.predictors.pixel` / :mod:`~.frames`)
    totals   cross-entropy in bits per pixel (all channels) and per sub-pixel (per sample),
             the range coder's bytes, the pixel codec's own side bytes (block headers, value
             maps), and the rest of the archive (side blocks, header, index)
    limits   order-0 entropy of each plane's samples, and for images the classic image tools
             as ``mmcompress bench --images`` runs them (:func:`mmcompress.bench.images.make_rivals`:
             PNG as stored, WebP lossless, JPEG XL e7 / e9 where installed); for video the
             byte tools on the raw file (:mod:`.limits`)
    pictures heat maps of bits per pixel beside the image (:func:`.charts.heat_map_png`; per
             channel on request), and for video the bits of each frame per plane, plus heat
             maps of chosen frames (chroma costs spread over the luma pixels they cover)

Samples that are not coded cost 0: the pixels of exact-copy blocks and of STATIC frames (their
flags and the frame modes are the frame's *side bits*, counted apart), and planes with a single
value. The first pixel of each plane costs its uniform code.

Models: the level's pixel model (``pixel-s`` / ``pixel-m``), and any installed pixel model
(``--model pixel-v``); a video is coded by the frames codec with that pixel model.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ..api import Compressor
from ..container import BlockKind, ContainerReader, EntryType
from ..detect import Modality
from ..errors import InputError, MmcError
from ..levels import LevelRecipe, recipe
from ..predictors.base import BlockCodec
from ..predictors.frames import DEFAULT_FRAMES_MODEL, FrameCosts, FramesBlockCosts, FramesCodec
from ..predictors.pixel import PixelBlockCosts, PixelCodec
from ..serializers import KNOWN, PathOptions, Planned, plan_entry
from ..streams import CodecBook
from .charts import PixelCosts, heat_map_png, limits_chart_png
from .costs import ModelSpec
from .limits import Limits, measure_limits, order0_bits, order2_bits

#: The image tools (``mmcompress bench --images`` keys) measured unless ``tools`` says otherwise.
IMAGE_TOOLS = ("png", "webp", "jxl_e7", "jxl_e9")
#: Frames whose heat maps a video report shows unless told (the first, and the one after it).
DEFAULT_FRAMES_SHOWN = (0, 1)
#: Heat maps: the colour scale ends at this percentile of the costs (see :func:`scale_top`).
SCALE_PERCENTILE = 99.5
PLANE_NAMES = {1: ["grey"], 2: ["grey", "alpha"], 3: ["Y", "U", "V"], 4: ["Y", "U", "V", "A"]}
CHANNEL_NAMES = {1: ["grey"], 2: ["grey", "alpha"], 3: ["R", "G", "B"], 4: ["R", "G", "B", "A"]}

BlockCosts = PixelBlockCosts | FramesBlockCosts


# --------------------------------------------------------------------------------------------
# Recording inside the real packer


class RecordingCodec(BlockCodec):
    """A pixel or frames codec that keeps the costs of every block it codes.

    It describes itself as the wrapped codec and returns the very payload ``encode_block``
    would, so the archive is the one the packer writes."""

    kind: ClassVar[str] = "recording"

    def __init__(self, inner: PixelCodec | FramesCodec, records: list[BlockCosts]) -> None:
        self.inner = inner
        self.precision_bits = inner.precision_bits
        self.records = records

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def compact_config(self) -> dict[str, Any]:
        return self.inner.compact_config()

    def encode_block(self, raw: bytes, tag: int = 0) -> bytes:
        coded = self.inner.encode_with_costs(raw)
        self.records.append(coded)
        return coded.payload

    def decode_block(self, payload: bytes, raw_size: int) -> bytes:
        return self.inner.decode_block(payload, raw_size)


class _RecordingBook(CodecBook):
    """The level's codec book, its pixel and frames codecs wrapped by :class:`RecordingCodec`."""

    records: list[BlockCosts]

    def predictor(self, index: int) -> Any:
        codec = super().predictor(index)
        if index in (self.pixel_codec, self.frames_codec) and isinstance(
            codec, (PixelCodec, FramesCodec)
        ):
            return RecordingCodec(codec, self.records)
        return codec


class _ExplainCompressor(Compressor):
    """A Compressor with the explained pixel model in its recipe and a recording book."""

    def __init__(self, level_recipe: LevelRecipe, pixels: bool) -> None:
        super().__init__(level_recipe.level, pixels=pixels)
        self.recipe = level_recipe
        self.records: list[BlockCosts] = []
        self._recording: _RecordingBook | None = None
        #: The archive the rich path made (small files: also when the byte path won).
        self.rich_archive = b""

    def _pack_planned(self, planned: Planned, sink: Any, entry: Any, threads: int) -> int:
        self.records.clear()  # (called once per archive: its blocks are the last ones coded)
        total = super()._pack_planned(planned, sink, entry, threads)
        self.rich_archive = sink.getvalue() if isinstance(sink, io.BytesIO) else b""
        return total

    @property
    def book(self) -> CodecBook:
        if self._recording is None:
            self._recording = _RecordingBook.for_recipe(self.recipe)  # type: ignore[assignment]
            assert self._recording is not None
            self._recording.records = self.records
        return self._recording


def _archive_blocks(archive: bytes) -> tuple[str, list[tuple[BlockKind, int]]]:
    """The path a single-file archive took ("bytes", "pixels", "frames") and its blocks' (kind,
    payload bytes), in order."""
    reader = ContainerReader(io.BytesIO(archive))
    serializers = reader.meta.get("serializers", [KNOWN[0]]) if reader.meta else [KNOWN[0]]
    path, blocks = "bytes", []
    for entry in reader.entries:
        if entry.type != EntryType.FILE:
            continue
        if entry.serializer:
            serializer = serializers[entry.serializer]
            path = "pixels" if serializer.get("id") == "raster" else "frames"
        blocks += [(header.kind, len(payload)) for header, payload in reader.iter_blocks(entry)]
    return path, blocks


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class RivalSize:
    """A classic image tool on the image (as ``mmcompress bench --images`` measures it)."""

    key: str
    label: str
    size_bytes: int | None
    note: str | None = None


@dataclass
class MediaModel:
    """One pixel model on one image or video: costs, and what the real archive spent."""

    name: str
    config: dict[str, Any]
    #: Image: (H, W, C) bits per sample. Video: unused (see ``frames``).
    bits: np.ndarray = field(repr=False)
    frames: list[FrameCosts] = field(default_factory=list, repr=False)
    coder_bytes: int = 0  # Σ range-coder words over the codec's blocks
    payload_bytes: int = 0  # Σ codec payloads (coder words + block headers, value maps)
    blocks: int = 0
    #: The single-file archive of the pixel / frame path (what the overheads are split from).
    archive_bytes: int = 0
    #: The path the packer kept: "pixels" / "frames", or "bytes" when a small file's byte path
    #: came out smaller (``packed_bytes`` is then that archive's size).
    path: str = "pixels"
    packed_bytes: int = 0
    #: Codec blocks (strips, frame runs) the archive wrote zstd'd or stored instead, and
    #: Σ (their size there − the codec's payload): negative when the fallback saved bytes.
    fallback_blocks: int = 0
    fallback_bytes: int = 0

    @property
    def cross_entropy_bits(self) -> float:
        if self.frames:
            return float(sum(frame.total_bits for frame in self.frames))
        return float(self.bits.sum())

    @property
    def side_bits(self) -> float:
        return float(sum(frame.side_bits for frame in self.frames))


@dataclass
class MediaReport:
    """The image or video part of a :class:`~.report.FileReport` (``FileReport.media``)."""

    kind: str  # "image" or "video"
    width: int
    height: int
    bits: int  # bits per sample
    plane_shapes: list[tuple[int, int]]  # image: C times (H, W); video: each plane's shape
    order0_bits: float  # Σ over planes (and frames) of the order-0 entropy of their samples
    models: list[MediaModel]
    rivals: list[RivalSize] = field(default_factory=list)
    frames_shown: list[int] = field(default_factory=list)
    per_channel: bool = False
    #: What is drawn beside the heat maps: image (H, W, 3) uint8; video: each frame's planes.
    display: Any = field(default=None, repr=False)
    frame_count: int = 1

    @property
    def pixels(self) -> int:
        """Pixels of the whole input (all frames)."""
        return self.width * self.height * self.frame_count

    @property
    def samples(self) -> int:
        return self.frame_count * sum(h * w for h, w in self.plane_shapes)

    @property
    def plane_names(self) -> list[str]:
        names = (CHANNEL_NAMES if self.kind == "image" else PLANE_NAMES)[len(self.plane_shapes)]
        return list(names)

    # -- figures ---------------------------------------------------------------------------

    def limit_rows(self) -> list[tuple[str, float]]:
        """(label, bits) of the yardsticks and each model's figures, in table order."""
        rows = [("order-0 entropy (per plane)", self.order0_bits)]
        rows += [(r.label, 8.0 * r.size_bytes) for r in self.rivals if r.size_bytes is not None]
        for model in self.models:
            rows.append((f"{model.name} cross-entropy", model.cross_entropy_bits))
            rows.append((f"{model.name} coded", 8.0 * model.payload_bytes))
            rows.append((f"{model.name} archive", 8.0 * model.archive_bytes))
        return rows

    def model_json(self, model: MediaModel) -> dict[str, Any]:
        pixels, samples = self.pixels, self.samples
        ce = model.cross_entropy_bits
        out: dict[str, Any] = {
            "name": model.name,
            "config": model.config,
            "path": model.path,
            "cross_entropy_bits": ce,
            "cross_entropy_bytes": ce / 8,
            "bits_per_pixel": ce / pixels,
            "bits_per_subpixel": ce / samples,
            "coded_bytes": model.payload_bytes,
            "coded_bits_per_pixel": 8 * model.payload_bytes / pixels,
            "archive_bytes": model.archive_bytes,
            "archive_bits_per_pixel": 8 * model.archive_bytes / pixels,
            "packed_bytes": model.packed_bytes,
            # archive = cross-entropy / 8 + coder + codec side + fallback + container
            "overhead": {
                "coder_bytes": model.coder_bytes - ce / 8,
                "codec_side_bytes": model.payload_bytes - model.coder_bytes,
                "fallback_bytes": model.fallback_bytes,
                "fallback_blocks": model.fallback_blocks,
                "container_bytes": model.archive_bytes - model.payload_bytes - model.fallback_bytes,
            },
            "blocks": model.blocks,
        }
        if self.kind == "image":
            per_plane = model.bits.sum(axis=(0, 1))
            out["plane_bits_per_sample"] = dict(
                zip(self.plane_names, (float(b) / (self.width * self.height) for b in per_plane),
                    strict=True)
            )  # fmt: skip
            out["max_bits"] = float(model.bits.max())
            out["costs_sha256"] = _sha256(model.bits)
        else:
            out["side_bits"] = model.side_bits
            out["frames"] = [
                {
                    "index": index,
                    "mode": ["static", "inter", "intra"][frame.mode],
                    "bits": frame.total_bits,
                    "bits_per_pixel": frame.total_bits / (self.width * self.height),
                    "side_bits": frame.side_bits,
                    "plane_bits": dict(
                        zip(self.plane_names, (float(p.sum()) for p in frame.planes), strict=True)
                    ),
                }
                for index, frame in enumerate(model.frames)
            ]
            out["costs_sha256"] = _sha256(
                np.concatenate([p.reshape(-1) for f in model.frames for p in f.planes])
            )
        return out

    def to_json(self) -> dict[str, Any]:
        pixels = self.pixels
        return {
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "frame_count": self.frame_count,
            "planes": [list(shape) for shape in self.plane_shapes],
            "plane_names": self.plane_names,
            "bits_per_sample": self.bits,
            "pixels": pixels,
            "samples": self.samples,
            "limits": {
                "order0_bits": self.order0_bits,
                "order0_bits_per_pixel": self.order0_bits / pixels,
                "rivals": [
                    {
                        **vars(r),
                        "bits_per_pixel": None
                        if r.size_bytes is None
                        else 8 * r.size_bytes / pixels,
                    }
                    for r in self.rivals
                ],
            },
            "models": [self.model_json(m) for m in self.models],
            "frames_shown": list(self.frames_shown),
        }

    def summary_lines(self) -> list[str]:
        """The terminal table (see :func:`.report.summary_lines`)."""
        from .report import _table

        pixels, samples = self.pixels, self.samples
        what = (
            f"{self.width}x{self.height}, {len(self.plane_shapes)} "
            f"{'channels' if self.kind == 'image' else 'planes'}, {self.bits} bits"
        )
        if self.kind == "video":
            what += f", {self.frame_count} frames"
        lines = [f"  {what}: {pixels} pixels, {samples} samples"]
        rows = [
            (label, f"{bits / pixels:.4f}", f"{bits / samples:.4f}", f"{bits / 8:.1f}")
            for label, bits in self.limit_rows()
        ]
        lines += _table(("limit", "bits/pixel", "bits/sample", "bytes"), rows)
        lines += [
            f"  {r.label}: not measured ({r.note})" for r in self.rivals if r.size_bytes is None
        ]
        if self.models:
            lines.append("")
            table = []
            for model in self.models:
                facts = self.model_json(model)
                overhead = facts["overhead"]
                table.append((
                    model.name, f"{facts['bits_per_pixel']:.4f}", f"{facts['bits_per_subpixel']:.4f}",
                    f"{facts['cross_entropy_bytes']:.1f}", str(model.payload_bytes),
                    str(model.archive_bytes), f"{overhead['coder_bytes']:+.1f}",
                    f"{overhead['codec_side_bytes']:+d}",
                    f"{overhead['fallback_bytes']:+d} ({overhead['fallback_blocks']} blk)",
                    f"{overhead['container_bytes']:+d}", _path_cell(model),
                ))  # fmt: skip
            header = ("model", "bits/pixel", "bits/sample", "cross-ent B", "coded B",
                      "archive B", "coder", "codec side", "fallback", "container", "path")  # fmt: skip
            lines += _table(header, table)
            for model in self.models:
                lines += self._model_detail(model)
        return lines

    def _model_detail(self, model: MediaModel) -> list[str]:
        names = self.plane_names
        if self.kind == "image":
            per_plane = model.bits.sum(axis=(0, 1)) / (self.width * self.height)
            parts = ", ".join(f"{n} {b:.3f}" for n, b in zip(names, per_plane, strict=True))
            return [f"  {model.name} bits per sample by channel: {parts}"]
        lines = [f"  {model.name} bits per frame (" + " + ".join([*names, "side"]) + "):"]
        for index, frame in enumerate(model.frames):
            planes = " + ".join(f"{float(p.sum()):.0f}" for p in frame.planes)
            mode = ["static", "inter", "intra"][frame.mode]
            lines.append(
                f"    frame {index:>3} {mode:<6} {frame.total_bits:>11.0f} bits = {planes} + "
                f"{frame.side_bits:.0f}  ({frame.total_bits / (self.width * self.height):.4f} bits/pixel)"
            )
        return lines

    # -- pictures ----------------------------------------------------------------------------

    def heat_maps(self, model: MediaModel) -> list[tuple[str, bytes]]:
        """(caption, PNG) of the heat maps shown for ``model``."""
        out: list[tuple[str, bytes]] = []
        if self.kind == "image":
            per_pixel = PixelCosts(model.bits).per_pixel()
            png, _ = heat_map_png(per_pixel, self.display, vmax=scale_top(per_pixel))
            out.append((f"{model.name}: bits per pixel, all channels", png))
            if self.per_channel and model.bits.shape[2] > 1:
                top = scale_top(model.bits)
                for channel, name in enumerate(self.plane_names):
                    png, _ = heat_map_png(model.bits[..., channel], self.display, vmax=top)
                    out.append((f"{model.name}: bits of channel {name}", png))
            return out
        for index in self.frames_shown:
            frame, planes = model.frames[index], self.display[index]
            luma = _display_plane(planes[0], self.bits)
            per_pixel = frame.planes[0].copy()
            for chroma in frame.planes[1:]:  # each sample's cost over the pixels it covers
                per_pixel += _spread(chroma, per_pixel.shape)
            png, _ = heat_map_png(per_pixel, luma, vmax=scale_top(per_pixel))
            out.append((f"{model.name}: frame {index}, bits per pixel (all planes)", png))
            if self.per_channel:
                top = max(scale_top(p) for p in frame.planes)
                for bits, plane, name in zip(frame.planes, planes, self.plane_names, strict=True):
                    png, _ = heat_map_png(bits, _display_plane(plane, self.bits), vmax=top)
                    out.append((f"{model.name}: frame {index}, plane {name}", png))
        return out

    def limits_chart(self, title: str) -> bytes:
        return limits_chart_png(title, self.limit_rows(), self.pixels, unit="bits per pixel")

    def frames_chart(self, model: MediaModel) -> bytes:
        """Stacked bars: each frame's bits per plane (and side bits)."""
        from .charts import _pyplot

        plt = _pyplot()
        count = len(model.frames)
        figure = plt.figure(figsize=(6.4, 2.8), dpi=100)
        axes = figure.add_axes((0.12, 0.18, 0.84, 0.7))
        bottom = np.zeros(count)
        positions = np.arange(count)
        series = [(name, [float(f.planes[p].sum()) / 1000 for f in model.frames])
                  for p, name in enumerate(self.plane_names)]  # fmt: skip
        series.append(("side", [f.side_bits / 1000 for f in model.frames]))
        for name, values in series:
            axes.bar(positions, values, bottom=bottom, label=name)
            bottom += np.asarray(values)
        axes.set_xlabel("frame", fontsize=8)
        axes.set_ylabel("kbit", fontsize=8)
        axes.set_xticks(positions if count <= 30 else positions[:: max(1, count // 15)])
        axes.tick_params(labelsize=7)
        axes.set_ylim(0, float(bottom.max()) * 1.25 if count else 1.0)  # room for the legend
        axes.legend(fontsize=7, ncols=len(series), loc="upper left")
        axes.set_title(f"{model.name}: bits per frame and plane", fontsize=9)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        return buffer.getvalue()

    def html_section(self, index: int, name: str) -> str:
        """The file's section of the page: tables, charts and heat maps, images as data: URLs."""
        pixels, samples = self.pixels, self.samples
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td>{bits / pixels:.4f}</td>"
            f"<td>{bits / samples:.4f}</td><td>{bits / 8:.1f}</td></tr>"
            for label, bits in self.limit_rows()
        )
        model_rows = ""
        for model in self.models:
            facts = self.model_json(model)
            over = facts["overhead"]
            model_rows += (
                f'<tr data-model="{html.escape(model.name)}"><td>{html.escape(model.name)}</td>'
                f'<td data-field="bits_per_pixel">{facts["bits_per_pixel"]:.4f}</td>'
                f"<td>{facts['bits_per_subpixel']:.4f}</td><td>{facts['cross_entropy_bytes']:.1f}</td>"
                f"<td>{model.payload_bytes}</td><td data-field='archive_bytes'>{model.archive_bytes}</td>"
                f"<td>{over['coder_bytes']:+.1f}</td><td>{over['codec_side_bytes']:+d}</td>"
                f"<td>{over['fallback_bytes']:+d} ({over['fallback_blocks']} of {model.blocks})</td>"
                f"<td>{over['container_bytes']:+d}</td><td>{html.escape(_path_cell(model))}</td></tr>"
            )
        figures = [_figure(self.limits_chart(f"{name}: limits and models"), "limits bar chart")]
        for model in self.models:
            if self.kind == "video":
                figures.append(_figure(self.frames_chart(model), f"{model.name}: bits per frame"))
            for caption, png in self.heat_maps(model):
                figures.append(_figure(png, caption))
        what = f"{self.width}×{self.height}, {len(self.plane_shapes)} planes, {self.bits}-bit"
        if self.kind == "video":
            what += f", {self.frame_count} frames"
        return f"""
<section class="file media" id="file{index}" data-file="{index}">
  <h2>{html.escape(name)} <small>{what} · {html.escape(self.kind)}</small></h2>
  <h3>Models: where the bits go</h3>
  <table class="totals" id="f{index}-media-totals"><tr><th>model</th><th>bits/pixel</th>
  <th>bits/sample</th><th>cross-entropy (bytes)</th><th>coded (bytes)</th><th>archive (bytes)</th>
  <th>coder overhead</th><th>codec side info</th><th>fallback blocks</th>
  <th>container + side blocks</th><th>path</th></tr>
  {model_rows}</table>
  <h3>Limits side by side</h3>
  <table class="limits" id="f{index}-media-limits"><tr><th>limit</th><th>bits/pixel</th>
  <th>bits/sample</th><th>bytes</th></tr>{rows}</table>
  <p class="hint">Heat maps: each pixel's bits (all its samples; video: chroma samples spread
  over the pixels they cover) under the model, the picture beside it; the colour scale ends at
  the {SCALE_PERCENTILE}th percentile. Uncoded samples (exact copies, static frames) cost 0;
  a frame's side bits (mode, motion vectors, copy flags) are in the tables, not in the maps.</p>
  {"".join(figures)}
</section>"""


def scale_top(bits: np.ndarray) -> float:
    """Top of a heat map's colour scale: the :data:`SCALE_PERCENTILE` of the costs (a few rare
    expensive pixels would otherwise leave the rest of the map dark); above it, colours saturate."""
    return float(np.percentile(bits, SCALE_PERCENTILE)) if bits.size else 1.0


def _path_cell(model: MediaModel) -> str:
    """The path the packer kept, with the byte path's size when it won."""
    return model.path if model.path != "bytes" else f"bytes ({model.packed_bytes} B)"


def _figure(png: bytes, caption: str) -> str:
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f'<figure class="heat" style="margin:.5em 0"><figcaption>{html.escape(caption)}</figcaption>'
        f'<img style="max-width:100%" alt="{html.escape(caption)}" title="{html.escape(caption)}" '
        f'src="{url}"></figure>'
    )


def _sha256(bits: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(bits, dtype="<f8").tobytes()).hexdigest()


def _spread(costs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Costs of a subsampled plane over the luma pixels each sample covers (sums kept)."""
    rows = -(-shape[0] // costs.shape[0])
    cols = -(-shape[1] // costs.shape[1])
    spread = np.repeat(np.repeat(costs, rows, axis=0), cols, axis=1)[: shape[0], : shape[1]]
    covered = np.repeat(np.repeat(np.ones(costs.shape), rows, axis=0), cols, axis=1)
    counts = covered[: shape[0], : shape[1]]
    # Samples on a cropped edge cover fewer pixels: divide by the pixels each one really covers.
    weights = np.zeros(costs.shape)
    np.add.at(
        weights,
        (np.arange(shape[0])[:, None] // rows, np.arange(shape[1])[None, :] // cols),
        counts,
    )
    return (
        spread / np.repeat(np.repeat(weights, rows, axis=0), cols, axis=1)[: shape[0], : shape[1]]
    )


def _display_plane(plane: np.ndarray, bits: int) -> np.ndarray:
    """A sample plane as 8-bit grey for display."""
    array = np.asarray(plane)
    return (array >> (bits - 8)).astype(np.uint8) if bits > 8 else array.astype(np.uint8)


def _display_image(data: bytes, pixels: np.ndarray, bits: int) -> np.ndarray:
    """(H, W, 3) uint8 of an image for display: Pillow's RGB of the file, else its samples."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            rgb = np.asarray(opened.convert("RGB"))
        if rgb.shape[:2] == pixels.shape[:2]:
            return rgb
    except Exception:  # noqa: BLE001 - Pillow's own errors: fall back to the samples
        pass
    shown = pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    if bits > 8:
        shown = shown >> 8
    elif bits < 8:
        shown = shown * (255 // ((1 << bits) - 1))
    return np.ascontiguousarray(shown, dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# Explaining one file


def media_specs(
    modality: Modality, level: int | None, specs: Sequence[ModelSpec], defaults: bool
) -> tuple[list[ModelSpec], dict[str, str]]:
    """The pixel models to explain an image or video with (the level's first when ``defaults``)
    and the byte models skipped (name -> why)."""
    level_recipe = recipe(level)
    chosen: list[ModelSpec] = []
    own = level_recipe.video if modality == Modality.VIDEO else level_recipe.pixel
    if defaults and own:
        name = str(own.get("name", DEFAULT_FRAMES_MODEL))
        chosen.append(ModelSpec(name, {**own, "id": "pixel", "name": name}))
    skipped: dict[str, str] = {}
    for spec in specs:
        if spec.config.get("id") in ("pixel", "frames"):
            if all(spec.name != other.name for other in chosen):
                chosen.append(spec)
        elif not defaults:
            what = "image" if modality == Modality.IMAGE else "video"
            skipped[spec.name] = (
                f"a byte model: this {what} takes the pixel path, pixel models code it"
            )
    return chosen, skipped


def _recipe_for(level_recipe: LevelRecipe, spec: ModelSpec, video: bool) -> LevelRecipe:
    """The level's recipe with ``spec``'s pixel model coding the pixels, or the frames."""
    model = {k: spec.config[k] for k in ("name", "sha256") if spec.config.get(k)}
    if video:
        return replace(level_recipe, video={"id": "frames", **model})
    return replace(level_recipe, pixel={"id": "pixel", **model})


def plan_media(data: bytes, modality: Modality, level: int | None) -> tuple[Planned, bool] | str:
    """The rich path of an image or video as the packer plans it ((plan, ``--pixels`` needed)),
    or why the file is explained on its bytes."""
    level_recipe = recipe(level)
    images, video = level_recipe.pixel is not None, level_recipe.video is not None
    if not images:
        return f"level {level_recipe.level} has no pixel codec: images and video take the byte path"
    found = plan_entry(data, modality, PathOptions(), images=images, video=video)
    if isinstance(found, Planned):
        return found, False
    if modality == Modality.IMAGE:
        pixels = plan_entry(data, modality, PathOptions(pixels=True), images=True, video=video)
        if isinstance(pixels, Planned):
            return pixels, True
    return found


def explain_media(
    data: bytes,
    planned: Planned,
    pixels_promise: bool,
    specs: Sequence[ModelSpec],
    *,
    level: int | None,
    name: str,
    path: Path | None,
    tools: tuple[str, ...] | None,
    per_channel: bool = False,
    frames_shown: Sequence[int] | None = None,
) -> tuple[MediaReport, Limits, list[str]]:
    """Costs of an image or video under each pixel model, its limits, and notes."""
    level_recipe = recipe(level)
    is_video = planned.modality == Modality.VIDEO
    notes: list[str] = []
    if pixels_promise:
        notes.append(
            "this file cannot be rebuilt byte for byte from its pixels: explained as "
            "'pack --pixels' codes it (without --pixels the archive keeps its bytes)"
        )
    roles = [role for _, role in planned.cut(level_recipe.block_size)]
    raws = [raw for raw, role in planned.cut(level_recipe.block_size) if role >= 100]
    models: list[MediaModel] = []
    for spec in specs:
        packer = _ExplainCompressor(_recipe_for(level_recipe, spec, is_video), pixels_promise)
        archive = packer.compress(data, name=name, modality=planned.modality)
        book = packer.book
        index = book.frames_codec if is_video else book.pixel_codec
        codec = None if index is None else book.predictor(index)
        if not isinstance(codec, RecordingCodec):
            raise MmcError(f"{name}: level {level_recipe.level} has no codec for its samples")
        blocks = list(packer.records)
        if len(blocks) != len(raws):  # blocks the packer never modelled (tiny, incompressible)
            blocks = [codec.inner.encode_with_costs(raw) for raw in raws]
        path_taken, _ = _archive_blocks(archive)
        _, written = _archive_blocks(packer.rich_archive)
        strips = [kind_size for kind_size, role in zip(written, roles, strict=True) if role >= 100]
        fallback = [(size, len(block.payload)) for (kind, size), block in zip(strips, blocks,
                    strict=True) if kind != BlockKind.MODEL]  # fmt: skip
        if path_taken == "bytes":
            notes.append(
                f"{spec.name}: the packer kept the byte path ({len(archive)} bytes), smaller than "
                f"the {'frame' if is_video else 'pixel'} path's {len(packer.rich_archive)}"
            )
        model = MediaModel(
            spec.name,
            dict(codec.config()),
            np.zeros((0, 0, 0)),
            coder_bytes=sum(b.coder_bytes for b in blocks),
            payload_bytes=sum(len(b.payload) for b in blocks),
            blocks=len(blocks),
            archive_bytes=len(packer.rich_archive),
            path=path_taken,
            packed_bytes=len(archive),
            fallback_blocks=len(fallback),
            fallback_bytes=sum(written_size - coded for written_size, coded in fallback),
        )
        if is_video:
            model.frames = [f for b in blocks if isinstance(b, FramesBlockCosts) for f in b.frames]
        else:
            model.bits = np.concatenate([b.bits for b in blocks if isinstance(b, PixelBlockCosts)])
        models.append(model)
    if is_video:
        from ..predictors.frames import block_to_frames

        frames: list[list[np.ndarray]] = []
        bits = 8
        for raw in raws:
            some, bits = block_to_frames(raw)
            frames += some
        shapes = [plane.shape for plane in frames[0]]
        order0 = sum(order0_of(np.stack([f[p] for f in frames]), bits) for p in range(len(shapes)))
        shown = sorted({i for i in (frames_shown if frames_shown is not None else DEFAULT_FRAMES_SHOWN)
                        if i < len(frames)})  # fmt: skip
        if frames_shown is not None and any(not 0 <= i < len(frames) for i in frames_shown):
            notes.append(f"--frames-shown: the clip has frames 0..{len(frames) - 1}")
        limits = measure_limits(data, path, tools)  # the byte tools on the raw video file
        rivals = [RivalSize(c.tool, c.label, c.size_bytes) for c in limits.classic]
        media = MediaReport("video", shapes[0][1], shapes[0][0], bits, list(shapes), order0, models,
                            rivals, shown, per_channel, frames, len(frames))  # fmt: skip
    else:
        from ..predictors.pixel import block_to_pixels

        parts = [block_to_pixels(raw) for raw in raws]
        pixels = np.concatenate([p for p, _ in parts])
        bits = parts[0][1]
        height, width, channels = pixels.shape
        order0 = sum(order0_of(pixels[..., c], bits) for c in range(channels))
        rivals = measure_rivals(data, path, pixels, tools)
        media = MediaReport("image", width, height, bits, [(height, width)] * channels, order0,
                            models, rivals, [], per_channel, _display_image(data, pixels, bits))  # fmt: skip
        # The file's own byte limits (a PNG's deflate stream): the classic byte tools are not
        # run on an image file, the image tools above are its yardsticks.
        limits = Limits(len(data), order0_bits(data), order2_bits(data), [])
    return media, limits, notes


def order0_of(samples: np.ndarray, bits: int) -> float:
    """Σ −log2 (count / n) over the samples of one plane (its whole-input histogram)."""
    counts = np.bincount(np.asarray(samples).reshape(-1).astype(np.int64), minlength=1 << bits)
    counts = counts[counts > 0].astype(np.float64)
    total = counts.sum()
    return float(np.sum(counts * (np.log2(total) - np.log2(counts))))


def measure_rivals(
    data: bytes, path: Path | None, pixels: np.ndarray, tools: tuple[str, ...] | None
) -> list[RivalSize]:
    """The classic image tools on the image, through ``mmcompress bench --images``'s rivals."""
    keys = IMAGE_TOOLS if tools is None else tuple(k for k in tools if k in IMAGE_TOOLS)
    if not keys:
        return []
    try:
        from ..bench import images as bench
    except ImportError as exc:  # imagecodecs missing: no rival
        return [RivalSize(key, key, None, f"not available: {exc}") for key in keys]
    array = pixels[..., 0] if pixels.shape[2] == 1 else pixels
    try:
        if path is not None:
            read = bench.read_pixels(path)
        else:
            import tempfile

            with tempfile.TemporaryDirectory() as folder:
                temporary = Path(folder, "image")
                temporary.write_bytes(data)
                read = bench.read_pixels(temporary)
    except InputError:
        read = bench.Pixels(array, array, data, data.startswith(bench.PNG_SIGNATURE))
    out = []
    for rival in bench.make_rivals(keys):
        result = bench.measure_rival(rival, read)
        out.append(RivalSize(rival.key, rival.label, result.size_bytes, result.note))
    return out
