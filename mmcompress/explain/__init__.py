"""`mmcompress explain`: where the bits go, and how close each model comes to the limit.

    report = mmcompress.explain("alice29.txt")                  # a Report (the package is callable)
    report.files[0].model("cm-o4").bits                          # per-byte costs, numpy
    mmcompress explain alice29.txt -o alice.html                 # the same as a page

The package is laid out by what it produces:

    costs.py    per-byte costs under each model (recorded inside the real encoder) and the exact
                split of the archive size: cross-entropy + coder + fallback + container
    limits.py   order-0 / order-2 empirical entropy and the classic tools' sizes
    pixels.py   images and video: per-sample costs from the real pixel / frames codecs, bits
                per pixel against the image tools, heat maps, bits per frame
    report.py   Report / FileReport dataclasses, their JSON and the terminal table
    charts.py   the limits bar chart and per-pixel heat maps (PNG)
    html.py     the self-contained HTML page: bytes shaded by cost, windowed for large inputs
    command.py  the command line, ``main(argv)``

Models: by default the level's predictor and every learned predictor installed in
``models/manifest.json``; ``models=[...]`` names others (any predictor registered in
:mod:`mmcompress.predictors`, see :func:`~.costs.parse_model`): ``"mix"`` (the -9 mixer, also
``"level"`` at level 9), ``"hf:PATH"`` / ``"hf-int:PATH"`` (a local LLM: a token's cost spread
evenly over its bytes), ``"bytefmr-s:float"`` (the float model the integer transformer was
exported from: ideal cross-entropy only, nothing coded, archive figures n/a).

Images and video that take their pixel / frame path are explained on their samples
(:mod:`.pixels`: ``FileReport.media``, and for images ``FileReport.pixels``), under the level's
pixel model and any pixel model named with ``models=``; ``per_channel`` adds a heat map per
channel (plane), ``frames_shown`` picks the video frames drawn. Files that take the byte path
(no pixel codec at the level, a PNG that only ``--pixels`` could code, coded video) are
explained on their bytes, with a note.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..detect import Modality, detect
from ..errors import MmcError
from ..levels import recipe
from ..progress import progress
from ..sources import Source, read_source
from .charts import PixelCosts, heat_map_image, heat_map_png, limits_chart_png
from .costs import ModelCosts, ModelSpec, installed_models, level_model, model_costs, parse_model
from .limits import Limits, measure_limits
from .report import FileReport, Report

_DETECT_BYTES = 4096


def default_models(level: int | None = None) -> list[ModelSpec]:
    """The level's predictor (if it has one) and the installed learned models."""
    specs = [spec for spec in [level_model(level)] if spec is not None]
    for spec in installed_models():
        if all(spec.name != other.name for other in specs):
            specs.append(spec)
    return specs


def _read(source: Source, name: str) -> tuple[bytes, str, Path | None]:
    data, name, path = read_source(source, name)
    return data, name or "data", path


def explain_one(
    source: Source,
    *,
    level: int | None = None,
    models: Sequence[str | ModelSpec] | None = None,
    name: str = "",
    tools: tuple[str, ...] | None = None,
    per_channel: bool = False,
    frames_shown: Sequence[int] | None = None,
) -> FileReport:
    """Explain one input: limits, and costs under each model (skipped models say why)."""
    data, name, path = _read(source, name)
    modality = detect(name, data[:_DETECT_BYTES])
    specs = (
        default_models(level)
        if models is None
        else [m if isinstance(m, ModelSpec) else parse_model(m, level) for m in models]
    )
    specs = [
        spec for index, spec in enumerate(specs) if spec.name not in {s.name for s in specs[:index]}
    ]
    media_notes: list[str] = []
    if modality in (Modality.IMAGE, Modality.VIDEO):
        from .pixels import explain_media, media_specs, plan_media

        planned = plan_media(data, modality, level)
        chosen, skipped_bytes = media_specs(modality, level, specs, models is None)
        if isinstance(planned, str):
            media_notes.append(f"explained on its byte path (the file's bytes): {planned}")
        elif not chosen:  # only byte models asked for: the file's bytes, as before
            media_notes.append(
                "explained on its byte path (the file's bytes) as asked: no pixel model among "
                "the models (e.g. --model pixel-m explains its pixels)"
            )
        else:
            with progress(total=len(chosen) + 1, desc=f"explain {name}") as bar:
                media, measured, notes = explain_media(
                    data, planned[0], planned[1], chosen, level=level, name=name, path=path,
                    tools=tools, per_channel=per_channel, frames_shown=frames_shown,
                )  # fmt: skip
                bar.update(len(chosen) + 1)
            return FileReport(
                name=name,
                data=data,
                modality=modality.name.lower(),
                sha256=hashlib.sha256(data).hexdigest(),
                limits=measured,
                models=[],
                skipped=skipped_bytes,
                notes=notes,
                pixels={m.name: PixelCosts(m.bits) for m in media.models if media.kind == "image"},
                media=media,
            )
    explained: list[ModelCosts] = []
    skipped: dict[str, str] = {}
    with progress(total=len(data) * (len(specs) + 1), desc=f"explain {name}") as bar:
        for spec in specs:
            try:
                predictor = spec.build()
            except MmcError as exc:
                skipped[spec.name] = str(exc)
                continue
            explained.append(
                model_costs(
                    data, spec, level=level, modality=modality, name=name, predictor=predictor
                )
            )
            bar.update(len(data))
        measured = measure_limits(data, path, tools)
        bar.update(len(data))
    notes = []
    if not specs:
        notes.append(
            f"level {recipe(level).level} codes with zstd only and no learned model is installed"
        )
    notes += media_notes
    return FileReport(
        name=name,
        data=data,
        modality=modality.name.lower(),
        sha256=hashlib.sha256(data).hexdigest(),
        limits=measured,
        models=explained,
        skipped=skipped,
        notes=notes,
    )


def explain(
    data_or_path: Source | Sequence[Source],
    *,
    level: int | None = None,
    models: Sequence[str | ModelSpec] | None = None,
    name: str = "",
    tools: tuple[str, ...] | None = None,
    per_channel: bool = False,
    frames_shown: Sequence[int] | None = None,
) -> Report:
    """Explain one input (bytes or a path) or a list of them; see the package docstring.

    ``models``: names as ``--model`` takes them (None: the defaults); ``tools``: classic tools to
    measure (None: all available here, ``()``: none; images: the image tools png, webp, jxl_e7,
    jxl_e9). ``per_channel``: images and video get a heat map per channel too;
    ``frames_shown``: the video frames drawn as heat maps (None: 0 and 1).
    """
    sources: list[Source] = (
        list(data_or_path) if isinstance(data_or_path, (list, tuple)) else [data_or_path]  # type: ignore[list-item]
    )
    if models is not None:  # parsed once: a local LLM is loaded once for all the files
        models = [m if isinstance(m, ModelSpec) else parse_model(m, level) for m in models]
    files = [
        explain_one(s, level=level, models=models, name=name, tools=tools,
                    per_channel=per_channel, frames_shown=frames_shown)
        for s in sources
    ]  # fmt: skip
    return Report(level=recipe(level).level, version=__version__, files=files)


class _CallableModule(types.ModuleType):
    """Lets ``mmcompress.explain(data_or_path, ...)`` work while ``mmcompress.explain`` stays this
    package (a function of the same name, re-exported by ``mmcompress``, would hide the package)."""

    def __call__(
        self,
        data_or_path: Source | Sequence[Source],
        *,
        level: int | None = None,
        models: Sequence[str | ModelSpec] | None = None,
        name: str = "",
        tools: tuple[str, ...] | None = None,
        per_channel: bool = False,
        frames_shown: Sequence[int] | None = None,
    ) -> Report:
        return explain(data_or_path, level=level, models=models, name=name, tools=tools,
                       per_channel=per_channel, frames_shown=frames_shown)  # fmt: skip


sys.modules[__name__].__class__ = _CallableModule


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mmcompress explain`` command; returns the exit status."""
    from .command import main as command_main

    return command_main(argv)


__all__ = [
    "FileReport", "Limits", "ModelCosts", "ModelSpec", "PixelCosts",
    "Report", "default_models", "explain", "explain_one", "heat_map_image", "heat_map_png",
    "limits_chart_png", "main", "measure_limits",
]  # fmt: skip
