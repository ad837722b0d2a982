"""Pictures of the costs: the limits bar chart and per-pixel heat maps, as PNG bytes.

Charts are drawn with matplotlib's Agg backend (no display needed). A heat map is NOT drawn
through a matplotlib axes, which would resample it: its pixels are the colour-mapped costs
themselves, one output pixel per image pixel, so it lines up with the image beside it. The colour
bar is drawn next to it; the caption gives the mean, which is the bits per pixel the report states.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

HEAT_COLORMAP = "inferno"
COLORBAR_WIDTH = 110  # pixels right of the heat map: bar, ticks and labels
MIN_PANEL_HEIGHT = 160  # below this the colour bar's labels would not fit
DPI = 100


@dataclass
class PixelCosts:
    """Bits spent on each pixel (all channels of it), shape (H, W), or (H, W, C) per channel."""

    bits: np.ndarray

    @property
    def bits_per_pixel(self) -> float:
        """Σ bits / (H·W): per channel costs are summed over the channels of a pixel first."""
        per_pixel = self.per_pixel()
        return float(per_pixel.mean()) if per_pixel.size else 0.0

    def per_pixel(self) -> np.ndarray:
        """(H, W) bits per pixel, all channels together."""
        return self.bits.sum(axis=2) if self.bits.ndim == 3 else self.bits

    def heat_maps(
        self, image: Image.Image | np.ndarray | None = None, per_channel: bool = False
    ) -> list[tuple[str, bytes, HeatMapLayout]]:
        """(label, PNG, layout): one map of the whole pixel, or one per channel on request."""
        if not per_channel or self.bits.ndim == 2:
            return [("all channels", *heat_map_png(self.per_pixel(), image))]
        top = float(self.bits.max()) if self.bits.size else 1.0  # one scale for every channel
        return [
            (f"channel {c}", *heat_map_png(self.bits[..., c], image, vmax=top))
            for c in range(self.bits.shape[2])
        ]

    def summary(self) -> dict[str, Any]:
        height, width = self.bits.shape[:2]
        return {"height": height, "width": width, "bits_per_pixel": self.bits_per_pixel,
                "total_bits": float(self.bits.sum())}  # fmt: skip


@dataclass(frozen=True)
class HeatMapLayout:
    """Where the parts of a heat-map PNG are: (left, top, right, bottom) boxes in pixels."""

    image_box: tuple[int, int, int, int] | None
    heat_box: tuple[int, int, int, int]
    colorbar_box: tuple[int, int, int, int]
    vmax: float
    mean_bits: float


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heat_map_image(bits: np.ndarray, vmax: float | None = None) -> Image.Image:
    """An RGB image the size of ``bits`` (H, W): each pixel's cost through the colour map."""
    from matplotlib import colormaps

    bits = np.asarray(bits, dtype=np.float64)
    if bits.ndim != 2:
        raise ValueError("heat_map_image needs costs of shape (H, W)")
    top = float(vmax if vmax is not None else (bits.max() if bits.size else 1.0)) or 1.0
    rgba = colormaps[HEAT_COLORMAP](np.clip(bits / top, 0.0, 1.0), bytes=True)  # (H, W, 4) uint8
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")


def _colorbar_panel(height: int, vmax: float, mean_bits: float) -> Image.Image:
    plt = _pyplot()
    figure = plt.figure(figsize=(COLORBAR_WIDTH / DPI, height / DPI), dpi=DPI)
    axes = figure.add_axes((0.12, 0.16, 0.16, 0.74))
    gradient = np.linspace(0.0, 1.0, 256)[:, None]
    axes.imshow(gradient, aspect="auto", cmap=HEAT_COLORMAP, origin="lower", extent=(0, 1, 0, vmax))
    axes.set_xticks([])
    axes.yaxis.tick_right()
    axes.tick_params(labelsize=7)
    axes.set_ylabel("bits", fontsize=7)
    axes.yaxis.set_label_position("right")
    figure.text(0.05, 0.03, f"mean {mean_bits:.3f}\nbits/pixel", fontsize=7, va="bottom")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    panel = Image.open(buffer).convert("RGB")
    return (
        panel.resize((COLORBAR_WIDTH, height)) if panel.size != (COLORBAR_WIDTH, height) else panel
    )


def heat_map_png(
    bits: np.ndarray, image: Image.Image | np.ndarray | None = None, vmax: float | None = None
) -> tuple[bytes, HeatMapLayout]:
    """PNG of [image |] heat map | colour bar; the heat map has exactly the size of ``bits``.

    ``bits`` is (H, W) per-pixel costs (sum the channels first for a per-pixel map). The mean in
    the caption is ``bits.mean()``, i.e. :attr:`PixelCosts.bits_per_pixel`.
    """
    bits = np.asarray(bits, dtype=np.float64)
    height, width = bits.shape
    top = float(vmax if vmax is not None else (bits.max() if bits.size else 1.0)) or 1.0
    heat = heat_map_image(bits, top)
    mean_bits = PixelCosts(bits).bits_per_pixel
    picture = None
    if image is not None:
        picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        if picture.size != (width, height):
            raise ValueError(
                f"image is {picture.size[0]}x{picture.size[1]}, costs are {width}x{height}"
            )
        picture = picture.convert("RGB")
    panel_height = max(height, MIN_PANEL_HEIGHT)
    left = width if picture is not None else 0
    canvas = Image.new("RGB", (left + width + COLORBAR_WIDTH, panel_height), "white")
    if picture is not None:
        canvas.paste(picture, (0, 0))
    canvas.paste(heat, (left, 0))
    canvas.paste(_colorbar_panel(panel_height, top, mean_bits), (left + width, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    layout = HeatMapLayout(
        image_box=(0, 0, width, height) if picture is not None else None,
        heat_box=(left, 0, left + width, height),
        colorbar_box=(left + width, 0, left + width + COLORBAR_WIDTH, panel_height),
        vmax=top,
        mean_bits=mean_bits,
    )
    return buffer.getvalue(), layout


def limits_chart_png(
    title: str, rows: Sequence[tuple[str, float]], size_bytes: int, unit: str = "bits per byte"
) -> bytes:
    """Horizontal bars, one per limit / tool / model figure, in bits per byte (lower is better).

    ``size_bytes`` divides each row's bits: pass the pixel count and ``unit="bits per pixel"``
    for images and video."""
    plt = _pyplot()
    labels = [label for label, _ in rows]
    values = [bits / size_bytes if size_bytes else 0.0 for _, bits in rows]
    colours = []
    for label in labels:
        if label.endswith("cross-entropy"):
            colours.append("#2b8a3e")
        elif label.endswith("entropy"):
            colours.append("#9aa5b1")  # empirical entropies
        elif label.endswith(("archive", "coded")):
            colours.append("#1971c2")
        else:
            colours.append("#e8590c")  # classic tools
    figure = plt.figure(figsize=(6.4, 0.28 * len(rows) + 1.0), dpi=DPI)
    axes = figure.add_axes(
        (0.34, 0.8 / (0.28 * len(rows) + 1.0), 0.6, 1 - 1.2 / (0.28 * len(rows) + 1.0))
    )
    positions = np.arange(len(rows))[::-1]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, labels, fontsize=8)
    for position, value in zip(positions, values, strict=True):
        axes.text(value, position, f" {value:.3f}", va="center", fontsize=7)
    axes.set_xlabel(f"{unit} (lower is better)", fontsize=8)
    axes.set_xlim(0, max(values + [1.0]) * 1.15)
    axes.tick_params(axis="x", labelsize=7)
    axes.set_title(title, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()
