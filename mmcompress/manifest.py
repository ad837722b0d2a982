"""The ``.mmcset`` manifest: one dataset packed as several folder archives (shards).

:mod:`mmcompress.distributed` writes it after a cluster packed the shards; ``unpack`` and
``list`` read it like an archive. It is canonical JSON, written atomically beside its shards::

    {"format": "mmcset", "version": 1, "created_by": "mmcompress 0.1.0", "level": 5,
     "shards": [{"archive": "corpus.00000.mmc", "size_bytes": 12345, "sha256": "…",
                 "entries": 812, "input_bytes": 104857600}, …]}

A manifest is input like any other: shard names must be plain file names in the manifest's
folder, sizes and SHA-256 are checked before a shard is opened, and a path may appear in only
one shard (folders excepted), so that shards cannot overwrite one another.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .atomic import atomic_file
from .container import canonical_json
from .errors import CorruptArchive, InputError, LimitExceeded

SUFFIX = ".mmcset"
FORMAT = "mmcset"
VERSION = 1
#: A manifest larger than this is refused unread (a million shards is ~150 MB of JSON).
MAX_MANIFEST_BYTES = 256 << 20
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Shard:
    archive: str
    size_bytes: int
    sha256: str
    entries: int
    input_bytes: int


@dataclass(frozen=True)
class Manifest:
    path: Path
    level: int | None
    created_by: str
    shards: list[Shard]

    def shard_path(self, shard: Shard) -> Path:
        return self.path.parent / shard.archive


def is_manifest(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).endswith(SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(
    path: Path, shards: list[Shard], *, level: int | None, created_by: str, force: bool = False
) -> None:
    document = {
        "format": FORMAT,
        "version": VERSION,
        "created_by": created_by,
        "level": level,
        "shards": [asdict(shard) for shard in shards],
    }
    with atomic_file(path, force) as sink:
        sink.write(canonical_json(document) + b"\n")


def _field(item: dict[str, Any], name: str, kind: type) -> Any:
    value: Any = item.get(name)
    if kind is int:
        valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        valid = isinstance(value, kind)
    if not valid:
        raise CorruptArchive(f"manifest shard has a missing or invalid {name!r}")
    return value


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Parse and check a manifest (not its shards' contents: :func:`check_shard` does that)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise LimitExceeded(f"manifest {path} of {size} bytes exceeds the limit")
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError):
        raise CorruptArchive(f"{path} is not a valid mmcset manifest (bad JSON)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CorruptArchive(f"{path} is not an mmcset manifest")
    if document.get("version") != VERSION:
        raise CorruptArchive(
            f"{path}: manifest version {document.get('version')!r} is not supported"
        )
    items = document.get("shards")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CorruptArchive(f"{path}: manifest has no valid shard list")
    shards = []
    for item in items:
        shard = Shard(
            archive=_field(item, "archive", str),
            size_bytes=_field(item, "size_bytes", int),
            sha256=_field(item, "sha256", str),
            entries=_field(item, "entries", int),
            input_bytes=_field(item, "input_bytes", int),
        )
        name = shard.archive
        if "/" in name or "\\" in name or name in ("", ".", "..") or "\x00" in name:
            raise CorruptArchive(f"{path}: shard name {name!r} is not a plain file name")
        shards.append(shard)
    if len({shard.archive for shard in shards}) != len(shards):
        raise CorruptArchive(f"{path}: a shard is listed twice")
    level = document.get("level")
    return Manifest(
        path, level if isinstance(level, int) else None, str(document.get("created_by", "")), shards
    )


def check_shard(manifest: Manifest, shard: Shard) -> Path:
    """The shard's file, after checking its size and SHA-256 against the manifest."""
    path = manifest.shard_path(shard)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read shard {path}: {exc.strerror}") from None
    if size != shard.size_bytes or file_sha256(path) != shard.sha256:
        raise CorruptArchive(f"shard {path} does not match its manifest (damaged or replaced)")
    return path
