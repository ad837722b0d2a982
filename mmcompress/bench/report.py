"""How a BenchResult is shown: text table, CSV, JSON, PNG plot, and Markdown for BENCHMARKS.md.

The text table and the Markdown tables share one list of columns (`table_columns`), so they
always show the same figures. CSV and JSON carry full-precision numbers (`results.row_record`),
the tables rounded ones. Nobody types a figure by hand: BENCHMARKS.md is `to_markdown(result)`.
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mmcompress.bench.results import BenchResult, Row, row_record

MAX_PLOTTED_FILES = 40  # beyond this the plot shows group totals, one bar set per group
MISSING = "–"


# --------------------------------------------------------------------------- columns


def _bytes_and_bpb(compressed_bytes: int | None, bits: float | None) -> str:
    if compressed_bytes is None:
        return MISSING
    return f"{compressed_bytes} ({bits:.3f})" if bits is not None else str(compressed_bytes)


def _number(value: float | None, digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Column:
    """One table column: its title, how a row becomes a cell, and the bytes it shows if any."""

    title: str
    cell: Callable[[Row], str]
    compressed: Callable[[Row], int | None] | None = None  # lets Markdown bold a row's winner
    numeric: bool = True


def mmcompress_label(result: BenchResult) -> str:
    """The mmcompress column title: mmcompress, mmcompress -7, mmcompress hf:FOLDER (an LLM)."""
    meta = result.meta
    label = "mmcompress" if meta.level is None else f"mmcompress -{meta.level}"
    if meta.model is not None:
        scheme, _, folder = meta.model.rpartition(":")
        label += f" {scheme or 'hf'}:{Path(folder).name}"
    return label


def _classic_column(tool: str, label: str) -> Column:
    return Column(
        label,
        lambda row: _bytes_and_bpb(row.classic_bytes.get(tool), row.classic_bits_per_byte(tool)),
        compressed=lambda row: row.classic_bytes.get(tool),
    )


def table_columns(result: BenchResult) -> list[Column]:
    """The columns of every table, in order."""
    labels = result.meta.tool_labels
    return [
        Column("file", lambda row: row.name, numeric=False),
        Column("size", lambda row: str(row.size_bytes)),
        Column(
            mmcompress_label(result),
            lambda row: _bytes_and_bpb(row.mmc_bytes, row.mmc_bits_per_byte),
            compressed=lambda row: row.mmc_bytes,
        ),
        *(_classic_column(tool, labels[tool]) for tool in result.meta.tools),
        Column(
            "best classic", lambda row: labels.get(row.best_classic or "", MISSING), numeric=False
        ),
        Column("mmc/best", lambda row: _number(row.ratio_to_best, 3)),
        Column("pack KB/s", lambda row: _number(row.pack_kb_per_second, 1)),
        Column("unpack KB/s", lambda row: _number(row.unpack_kb_per_second, 1)),
        Column("peak MB", lambda row: _number(row.peak_mb, 0)),
        Column("rt", lambda row: "ok" if row.roundtrip_ok else "FAIL", numeric=False),
    ]


def _group_rows(result: BenchResult) -> list[Row]:
    """The group totals, or none when there is only one group (the total says it all)."""
    groups = result.groups
    return groups if len(groups) > 1 else []


def _sections(result: BenchResult) -> list[list[Row]]:
    """Files, then group totals, then the total."""
    return [rows for rows in (result.file_rows, _group_rows(result), [result.total]) if rows]


# --------------------------------------------------------------------------- text table


def format_table(result: BenchResult) -> str:
    """A plain-text table for a terminal: files, group totals, total."""
    columns = table_columns(result)
    sections = [
        [[column.cell(row) for column in columns] for row in rows] for rows in _sections(result)
    ]
    header = [column.title for column in columns]
    widths = [
        max(len(cells[index]) for cells in [header, *(line for rows in sections for line in rows)])
        for index in range(len(columns))
    ]

    def line(cells: list[str]) -> str:
        aligned = (
            cell.rjust(width) if column.numeric else cell.ljust(width)
            for cell, width, column in zip(cells, widths, columns, strict=True)
        )
        return "  ".join(aligned).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [line(header), rule]
    for index, rows in enumerate(sections):
        if index:
            lines.append(rule)
        lines.extend(line(cells) for cells in rows)
    caption = (
        "bytes (bits per byte); KB = 1000 bytes; peak MB = peak RSS of the pack/unpack process"
    )
    return "\n".join([*lines, "", caption]) + "\n"


# --------------------------------------------------------------------------- CSV and JSON


def write_csv(result: BenchResult, path: Path) -> None:
    """One line per file, per group and for the total, full-precision numbers (empty = unknown)."""
    records = [row_record(row, result.meta.tools) for row in result.rows()]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def to_json(result: BenchResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def load_json(path: Path) -> BenchResult:
    """Read back what `write_outputs` or `--json` wrote (e.g. to re-render BENCHMARKS.md)."""
    return BenchResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- plot


def write_plot(result: BenchResult, path: Path) -> None:
    """Bits per byte of mmcompress and each classic tool, per file (or per group if many files).

    Drawn with matplotlib's Agg canvas directly, so no global backend is switched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = result.file_rows if len(result.files) <= MAX_PLOTTED_FILES else result.groups
    rows = [*rows, result.total] if len(rows) > 1 else rows
    series: list[tuple[str, Callable[[Row], float | None]]] = [
        (mmcompress_label(result), lambda row: row.mmc_bits_per_byte),
        *(
            (result.meta.tool_labels[tool], lambda row, tool=tool: row.classic_bits_per_byte(tool))
            for tool in result.meta.tools
        ),
    ]
    bar_height = 0.8 / len(series)
    figure = Figure(figsize=(9, 1.2 + 0.22 * len(rows) * len(series)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, (label, bits_of) in enumerate(series):
        positions = [row_index + index * bar_height for row_index in range(len(rows))]
        values = [bits_of(row) or 0.0 for row in rows]
        axes.barh(positions, values, height=bar_height, label=label)
    axes.set_yticks([row_index + 0.4 - bar_height / 2 for row_index in range(len(rows))])
    axes.set_yticklabels([row.name for row in rows])
    axes.invert_yaxis()
    axes.set_xlabel("bits per byte (lower is better)")
    title = textwrap.fill(result.meta.command, width=110) + f"\n{result.meta.date}"
    axes.set_title(title, fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    figure.savefig(path, dpi=100)


def write_outputs(result: BenchResult, out_dir: Path) -> list[Path]:
    """bench.csv, bench.json and bench.png in `out_dir` (created if needed); the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, plot_path = (
        out_dir / name for name in ("bench.csv", "bench.json", "bench.png")
    )
    write_csv(result, csv_path)
    json_path.write_text(to_json(result), encoding="utf-8")
    write_plot(result, plot_path)
    return [csv_path, json_path, plot_path]


# --------------------------------------------------------------------------- Markdown


def _markdown_table(result: BenchResult, rows: list[Row], bold_names: bool = False) -> list[str]:
    columns = table_columns(result)
    lines = [
        "| " + " | ".join(column.title for column in columns) + " |",
        "|" + "|".join("---:" if column.numeric else "---" for column in columns) + "|",
    ]
    for row in rows:
        sizes = [column.compressed(row) for column in columns if column.compressed is not None]
        smallest = min((size for size in sizes if size is not None), default=None)
        cells = []
        for column in columns:
            cell = column.cell(row).replace("|", "\\|")
            is_winner = column.compressed is not None and column.compressed(row) == smallest
            is_name = bold_names and column.title == "file"
            cells.append(f"**{cell}**" if (is_winner and smallest is not None) or is_name else cell)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def to_markdown(result: BenchResult, plot_path: str | None = None) -> str:
    """BENCHMARKS.md section: command, date, versions, then the totals and per-file tables.

    `plot_path`, if given, is linked as an image (relative to where the Markdown will live).
    """
    meta = result.meta
    level = "default" if meta.level is None else str(meta.level)
    lines = [
        f"## mmcompress bench, {meta.date[:10]}",
        "",
        f"- Date: {meta.date}",
        f"- Command: `{meta.command}`",
        f"- mmcompress {meta.mmcompress_version}, level {level}, measured through `{meta.api_module}`",
        *([f"- Model: `{meta.model}` (a local LLM, docs/LLM.md)"] if meta.model else []),
        f"- Machine: {meta.platform}, {meta.cpu_count} CPUs, Python {meta.python}",
        "- Classic tools:",
        *(f"  - {meta.tool_labels[tool]}: {meta.implementations[tool]}" for tool in meta.tools),
        "- Cells are compressed bytes (bits per byte = 8 × compressed / original); the smallest of "
        "each row is in bold. `mmc/best` = mmcompress bytes / best classic bytes (below 1: "
        "mmcompress wins).",
        f"- Speeds are wall-clock KB/s (KB = 1000 bytes), best of {meta.repeat} "
        f"({'cold: model loading included' if meta.repeat == 1 else 'warm'}); peak MB is the "
        "peak resident memory (2^20 bytes) of the pack or unpack process, interpreter and model "
        "included; rt = byte-exact round trip of mmcompress and every classic tool.",
        "",
    ]
    if plot_path:
        lines += [f"![bits per byte, mmcompress vs classic tools]({plot_path})", ""]
    lines += ["### Totals", ""]
    lines += _markdown_table(result, [*_group_rows(result), result.total], bold_names=True)
    lines += ["", "### Files", ""]
    lines += _markdown_table(result, result.file_rows)
    return "\n".join(lines) + "\n"
