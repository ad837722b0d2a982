"""The explain report: per-file limits and per-model costs, as dataclasses, JSON and a text table.

The per-byte costs stay numpy arrays on :class:`ModelCosts` (``bits``, byte order); the JSON
holds the totals, the block-by-block breakdown and a SHA-256 of each cost array, so that two runs
can be compared without shipping megabytes of floats. Nothing time- or machine-dependent beyond
the classic tools' versions goes in: the same input gives the same JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .charts import PixelCosts
from .costs import ModelCosts
from .limits import Limits

REPORT_FORMAT = "mmcompress-explain/1"


@dataclass
class FileReport:
    name: str
    data: bytes = field(repr=False)
    modality: str
    sha256: str
    limits: Limits
    models: list[ModelCosts]
    #: Models that could not be explained on this input, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Per-pixel costs per model name, once a pixel model codes this image or video frame.
    pixels: dict[str, PixelCosts] = field(default_factory=dict)
    #: An image or video explained on its samples (:class:`.pixels.MediaReport`), else None.
    media: Any = None

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    def model(self, name: str) -> ModelCosts:
        for costs in self.models:
            if costs.name == name:
                return costs
        raise KeyError(
            f"no model {name!r} in the report of {self.name} (has: {', '.join(m.name for m in self.models)})"
        )


@dataclass
class Report:
    level: int
    version: str
    files: list[FileReport]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "mmcompress_version": self.version,
            "level": self.level,
            "files": [_file_json(f) for f in self.files],
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False, allow_nan=False) + "\n"

    def summary_text(self) -> str:
        return "\n".join(summary_lines(self)) + "\n"


def _per_byte(bits: float, size: int) -> float:
    return bits / size if size else 0.0


def _percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


def model_json(costs: ModelCosts) -> dict[str, Any]:
    size = costs.size_bytes
    cross_entropy_bytes = costs.cross_entropy_bits / 8
    if not costs.coded:  # an ideal cross-entropy only (the float transformer): nothing coded
        return {
            "name": costs.name,
            "config": costs.config,
            "coded": False,
            "note": "ideal cross-entropy of the float model, not coded: archive figures n/a",
            "precision_bits": None,
            "cross_entropy_bits": costs.cross_entropy_bits,
            "cross_entropy_bytes": cross_entropy_bytes,
            "bits_per_byte": costs.bits_per_byte,
            "model_coded_bytes": None,
            "archive_bytes": None,
            "archive_bits_per_byte": None,
            "overhead": {  # the same keys as a coded model's, all n/a (pages read them)
                key: None
                for key in (
                    "total_bytes",
                    "coder_bytes",
                    "coder_percent",
                    "container_bytes",
                    "container_percent",
                    "fallback_bytes",
                    "fallback_percent",
                    "fallback_blocks",
                    "fallback_raw_bytes",
                )
            },  # fmt: skip
            "blocks": [
                {"raw_bytes": b.raw_bytes, "cross_entropy_bits": b.cross_entropy_bits}
                for b in costs.blocks
            ],
            "max_bits": float(costs.bits.max()) if size else 0.0,
            "costs_sha256": hashlib.sha256(
                np.ascontiguousarray(costs.bits, dtype="<f8").tobytes()
            ).hexdigest(),
        }
    return {
        "name": costs.name,
        "config": costs.config,
        "coded": True,
        "precision_bits": costs.precision_bits,
        "cross_entropy_bits": costs.cross_entropy_bits,
        "cross_entropy_bytes": cross_entropy_bytes,
        "bits_per_byte": costs.bits_per_byte,
        "model_coded_bytes": costs.model_coded_bytes,
        "archive_bytes": costs.archive_bytes,
        "archive_bits_per_byte": _per_byte(8 * costs.archive_bytes, size),
        # The archive minus the cross-entropy, split three ways (percent of the cross-entropy).
        "overhead": {
            "total_bytes": costs.archive_bytes - cross_entropy_bytes,
            "coder_bytes": costs.coder_overhead_bytes,
            "coder_percent": _percent(costs.coder_overhead_bytes, cross_entropy_bytes),
            "container_bytes": costs.container_overhead_bytes,
            "container_percent": _percent(costs.container_overhead_bytes, cross_entropy_bytes),
            "fallback_bytes": costs.fallback_bytes,
            "fallback_percent": _percent(costs.fallback_bytes, cross_entropy_bytes),
            "fallback_blocks": costs.fallback_blocks,
            "fallback_raw_bytes": costs.fallback_raw_bytes,
        },
        "blocks": [asdict(block) for block in costs.blocks],
        "max_bits": float(costs.bits.max()) if size else 0.0,
        "costs_sha256": hashlib.sha256(
            np.ascontiguousarray(costs.bits, dtype="<f8").tobytes()
        ).hexdigest(),
    }


def _file_json(report: FileReport) -> dict[str, Any]:
    size = report.size_bytes
    limits = report.limits
    return {
        "name": report.name,
        "size_bytes": size,
        "sha256": report.sha256,
        "modality": report.modality,
        "limits": {
            "order0_bits": limits.order0_bits,
            "order0_bits_per_byte": _per_byte(limits.order0_bits, size),
            "order2_bits": limits.order2_bits,
            "order2_bits_per_byte": _per_byte(limits.order2_bits, size),
            "classic": [
                {**asdict(c), "bits_per_byte": _per_byte(8 * c.size_bytes, size)}
                for c in limits.classic
            ],
        },
        "models": [model_json(m) for m in report.models],
        "skipped": dict(report.skipped),
        "notes": list(report.notes),
        "pixels": {name: pixels.summary() for name, pixels in report.pixels.items()},
        **({"media": report.media.to_json()} if report.media is not None else {}),
    }


def limit_rows(report: FileReport) -> list[tuple[str, float]]:
    """(label, size in bits) of every yardstick and model figure, in the order tables show them."""
    rows: list[tuple[str, float]] = [
        ("order-0 entropy", report.limits.order0_bits),
        ("order-2 entropy", report.limits.order2_bits),
    ]
    rows += [(c.label, 8.0 * c.size_bytes) for c in report.limits.classic]
    for costs in report.models:
        rows.append((f"{costs.name} cross-entropy", costs.cross_entropy_bits))
        if costs.coded:
            rows.append((f"{costs.name} archive", 8.0 * costs.archive_bytes))
    return rows


def _table(
    header: tuple[str, ...], rows: Sequence[tuple[str, ...]], indent: str = "  "
) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        return (indent + "  ".join(cells)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def summary_lines(report: Report) -> list[str]:
    lines: list[str] = []
    for index, file in enumerate(report.files):
        if index:
            lines.append("")
        size = file.size_bytes
        lines.append(f"{file.name}: {size} bytes, {file.modality}, level {report.level}")
        if file.media is not None:  # an image or video: its own table, in bits per pixel
            lines += file.media.summary_lines()
            lines += [f"  skipped {name}: {reason}" for name, reason in file.skipped.items()]
            lines += [f"  note: {note}" for note in file.notes]
            continue
        limits = [
            (label, f"{_per_byte(bits, size):.4f}", f"{bits / 8:.1f}")
            for label, bits in limit_rows(file)
        ]
        lines += _table(("limit", "bits/byte", "bytes"), limits)
        if file.models:
            lines.append("")
            rows = []
            for costs in file.models:
                ce_bytes = costs.cross_entropy_bits / 8
                if not costs.coded:  # ideal only (float model): nothing was coded
                    rows.append((costs.name, f"{costs.bits_per_byte:.4f}", f"{ce_bytes:.1f}",
                                 "n/a", "n/a", "n/a (not coded)", "n/a", "n/a"))  # fmt: skip
                    continue
                rows.append((
                    costs.name,
                    f"{costs.bits_per_byte:.4f}",
                    f"{ce_bytes:.1f}",
                    str(costs.model_coded_bytes),
                    str(costs.archive_bytes),
                    f"{costs.coder_overhead_bytes:+.1f} ({_percent(costs.coder_overhead_bytes, ce_bytes):.2f}%)",
                    f"{costs.container_overhead_bytes:+d} ({_percent(costs.container_overhead_bytes, ce_bytes):.2f}%)",
                    f"{costs.fallback_bytes:+d} ({_percent(costs.fallback_bytes, ce_bytes):.2f}%, {costs.fallback_blocks} blk)",
                ))  # fmt: skip
            header = (
                "model",
                "bits/byte",
                "cross-ent B",
                "coded B",
                "archive B",
                "coder",
                "container",
                "fallback",
            )
            lines += _table(header, rows)
        for model_name, reason in file.skipped.items():
            lines.append(f"  skipped {model_name}: {reason}")
        lines += [f"  note: {note}" for note in file.notes]
    return lines
