"""The benchmark's results as data: per-file measurements, table rows, group totals, JSON form.

A `BenchResult` holds what was measured (one `FileResult` per input) and how (`BenchMeta`).
Everything a table shows comes from `Row`s: a file is a row, and a group or the whole run is the
sum of its files' rows, so files and totals are printed by the same code. Bits per byte are
8 x compressed bytes / original bytes; speeds are in KB/s with KB = 1000 bytes; peak memory in MB
(2^20 bytes) of resident set size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mmcompress.bench.classic import ClassicResult

RowKind = Literal["file", "group", "total"]
BYTES_PER_KB = 1000
BYTES_PER_MB = 2**20


def bits_per_byte(compressed_bytes: int | None, original_bytes: int) -> float | None:
    """8 x compressed / original; None when either is unknown or the original is empty."""
    if compressed_bytes is None or original_bytes <= 0:
        return None
    return 8 * compressed_bytes / original_bytes


@dataclass
class MmcMeasurement:
    """mmcompress on one input, measured through the public API in child processes."""

    size_bytes: int | None  # packed size, container headers included; None if packing failed
    pack_seconds: float | None  # best of `repeat` wall times (the first one is cold)
    unpack_seconds: float | None
    pack_first_seconds: float | None  # the first, cold call: includes loading models
    unpack_first_seconds: float | None
    pack_cpu_seconds: float | None
    unpack_cpu_seconds: float | None
    pack_peak_mb: float | None  # peak RSS of the packing process
    unpack_peak_mb: float | None  # peak RSS of the unpacking process
    roundtrip_ok: bool
    error: str | None = None

    @property
    def peak_mb(self) -> float | None:
        peaks = [peak for peak in (self.pack_peak_mb, self.unpack_peak_mb) if peak is not None]
        return max(peaks) if peaks else None


@dataclass
class Row:
    """One line of a results table: a file, a group of files, or the total."""

    kind: RowKind
    name: str
    group: str
    file_count: int
    size_bytes: int
    mmc_bytes: int | None
    classic_bytes: dict[str, int]  # tool key -> compressed bytes
    pack_seconds: float | None
    unpack_seconds: float | None
    peak_mb: float | None
    roundtrip_ok: bool

    @property
    def mmc_bits_per_byte(self) -> float | None:
        return bits_per_byte(self.mmc_bytes, self.size_bytes)

    def classic_bits_per_byte(self, tool: str) -> float | None:
        return bits_per_byte(self.classic_bytes.get(tool), self.size_bytes)

    @property
    def best_classic(self) -> str | None:
        """The tool with the fewest bytes (the first one in tool order on a tie)."""
        if not self.classic_bytes:
            return None
        return min(self.classic_bytes, key=lambda tool: self.classic_bytes[tool])

    @property
    def best_classic_bytes(self) -> int | None:
        best = self.best_classic
        return None if best is None else self.classic_bytes[best]

    @property
    def ratio_to_best(self) -> float | None:
        """mmcompress bytes / best classic bytes: below 1 means mmcompress wins."""
        best_bytes = self.best_classic_bytes
        if self.mmc_bytes is None or not best_bytes:
            return None
        return self.mmc_bytes / best_bytes

    @property
    def pack_kb_per_second(self) -> float | None:
        return _speed(self.size_bytes, self.pack_seconds)

    @property
    def unpack_kb_per_second(self) -> float | None:
        return _speed(self.size_bytes, self.unpack_seconds)


def _speed(size_bytes: int, seconds: float | None) -> float | None:
    if seconds is None or seconds <= 0:
        return None
    return size_bytes / BYTES_PER_KB / seconds


def _sum_or_none(values: Iterable[float | int | None]) -> Any:
    """The sum, or None if any value is unknown (a partial sum would mislead)."""
    values = list(values)
    if any(value is None for value in values):
        return None
    return sum(values)  # type: ignore[arg-type]


def sum_rows(kind: RowKind, name: str, group: str, rows: list[Row]) -> Row:
    """A row that totals `rows`: sizes and times add up, peak is the largest, rt all OK.

    A tool's total is given only when it measured every file of the set.
    """
    tools = [tool for tool in rows[0].classic_bytes] if rows else []
    classic_bytes = {
        tool: sum(row.classic_bytes[tool] for row in rows)
        for tool in tools
        if all(tool in row.classic_bytes for row in rows)
    }
    peaks = [row.peak_mb for row in rows if row.peak_mb is not None]
    return Row(
        kind=kind,
        name=name,
        group=group,
        file_count=sum(row.file_count for row in rows),
        size_bytes=sum(row.size_bytes for row in rows),
        mmc_bytes=_sum_or_none(row.mmc_bytes for row in rows),
        classic_bytes=classic_bytes,
        pack_seconds=_sum_or_none(row.pack_seconds for row in rows),
        unpack_seconds=_sum_or_none(row.unpack_seconds for row in rows),
        peak_mb=max(peaks) if peaks else None,
        roundtrip_ok=all(row.roundtrip_ok for row in rows),
    )


@dataclass
class FileResult:
    """Everything measured on one input file."""

    name: str  # path relative to the folder given on the command line, as tables show it
    path: str  # the path as found on disk
    group: str  # e.g. "text", "code/python", "binaries"
    size_bytes: int
    mmc: MmcMeasurement
    classic: dict[str, ClassicResult]  # tool key -> result, in tool order

    @property
    def roundtrip_ok(self) -> bool:
        return self.mmc.roundtrip_ok and all(
            result.roundtrip_ok for result in self.classic.values()
        )

    def row(self) -> Row:
        return Row(
            kind="file",
            name=self.name,
            group=self.group,
            file_count=1,
            size_bytes=self.size_bytes,
            mmc_bytes=self.mmc.size_bytes,
            classic_bytes={tool: result.size_bytes for tool, result in self.classic.items()},
            pack_seconds=self.mmc.pack_seconds,
            unpack_seconds=self.mmc.unpack_seconds,
            peak_mb=self.mmc.peak_mb,
            roundtrip_ok=self.roundtrip_ok,
        )

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> FileResult:
        return cls(
            name=record["name"],
            path=record["path"],
            group=record["group"],
            size_bytes=record["size_bytes"],
            mmc=MmcMeasurement(**record["mmc"]),
            classic={tool: ClassicResult(**result) for tool, result in record["classic"].items()},
        )


@dataclass
class BenchMeta:
    """How a benchmark was run: command, date, versions, machine."""

    command: str  # the exact command line
    date: str  # ISO 8601, UTC
    level: int | None  # None: the default level
    repeat: int  # timings are the best of this many runs
    tools: list[str]  # classic tool keys, in column order
    tool_labels: dict[str, str]  # key -> "gzip -9"
    implementations: dict[str, str]  # key -> which program or module, and its version
    mmcompress_version: str
    api_module: str
    python: str
    platform: str
    cpu_count: int
    model: str | None = None  # "hf:PATH" when mmcompress coded with a local LLM


@dataclass
class BenchResult:
    """A whole benchmark run."""

    meta: BenchMeta
    files: list[FileResult] = field(default_factory=list)

    @property
    def file_rows(self) -> list[Row]:
        return [result.row() for result in self.files]

    @property
    def groups(self) -> list[Row]:
        """One total per group, in the order the groups first appear."""
        by_group: dict[str, list[Row]] = {}
        for row in self.file_rows:
            by_group.setdefault(row.group, []).append(row)
        return [sum_rows("group", group, group, rows) for group, rows in by_group.items()]

    @property
    def total(self) -> Row:
        return sum_rows("total", "total", "", self.file_rows)

    def rows(self) -> list[Row]:
        """Files, then group totals, then the overall total."""
        return [*self.file_rows, *self.groups, self.total]

    @property
    def roundtrip_ok(self) -> bool:
        return all(result.roundtrip_ok for result in self.files)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the measurements, plus the group and total rows they sum to."""
        return {
            "meta": asdict(self.meta),
            "files": [asdict(result) for result in self.files],
            "groups": [row_record(row, self.meta.tools) for row in self.groups],
            "total": row_record(self.total, self.meta.tools),
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> BenchResult:
        """Inverse of to_dict (groups and total are recomputed from the files)."""
        return cls(
            meta=BenchMeta(**record["meta"]),
            files=[FileResult.from_dict(item) for item in record["files"]],
        )


def row_record(row: Row, tools: list[str]) -> dict[str, Any]:
    """A row as flat named values: one CSV line, or one JSON object."""
    record: dict[str, Any] = {
        "kind": row.kind,
        "group": row.group,
        "name": row.name,
        "file_count": row.file_count,
        "size_bytes": row.size_bytes,
        "mmc_bytes": row.mmc_bytes,
        "mmc_bits_per_byte": row.mmc_bits_per_byte,
    }
    for tool in tools:
        record[f"{tool}_bytes"] = row.classic_bytes.get(tool)
        record[f"{tool}_bits_per_byte"] = row.classic_bits_per_byte(tool)
    record.update(
        best_classic=row.best_classic,
        best_classic_bytes=row.best_classic_bytes,
        ratio_to_best=row.ratio_to_best,
        pack_seconds=row.pack_seconds,
        unpack_seconds=row.unpack_seconds,
        pack_kb_per_second=row.pack_kb_per_second,
        unpack_kb_per_second=row.unpack_kb_per_second,
        peak_mb=row.peak_mb,
        roundtrip_ok=row.roundtrip_ok,
    )
    return record
