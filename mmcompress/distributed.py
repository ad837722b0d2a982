"""Packing a dataset on a Dask cluster: one folder archive per shard, and a ``.mmcset`` manifest.

    from dask.distributed import Client
    from mmcompress.distributed import pack_dataset

    with Client("tcp://scheduler:8786") as client:          # or Client(LocalCluster(...))
        manifest = pack_dataset("/data/corpus", "/shared/packed/corpus", client=client)

    $ mmcompress list /shared/packed/corpus.mmcset
    $ mmcompress unpack /shared/packed/corpus.mmcset -o corpus/

The client walks the dataset (a folder, or a list of paths under one root) in the archive order
and cuts it into shards of about ``shard_bytes`` input bytes. Each shard is one Dask task that
packs its paths into ``OUT.<n>.mmc`` with :meth:`Compressor.pack_paths` (atomically, so a failed
or retried task never leaves a partial shard), and returns the shard's size and SHA-256. When every
task succeeded, the client writes the manifest ``OUT.mmcset`` (canonical JSON, see
:mod:`mmcompress.manifest`); without a manifest there is no dataset, only loose shards.

Workers must see the input and the output folder at the same paths as the client (a shared file
system: NFS, Lustre, a bind mount…); nothing but path lists and small results crosses the network.
The shards are the same bytes whatever worker packs them and however many there are (the
integer-exact design): a rerun gives an identical dataset. Dask (``pip install
'mmcompress[distributed]'``) is imported only here; the scheduling is Dask's, not ours.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .api import Compressor
from .archive import listed_items, walk_tree
from .container import EntryType
from .errors import InputError
from .levels import recipe
from .manifest import SUFFIX, Shard, file_sha256, write_manifest

#: Default input bytes per shard: big enough to amortise a task, small enough to spread out.
SHARD_BYTES = 256 << 20
#: And at most this many paths per shard (many tiny files make slow tasks too).
SHARD_PATHS = 50_000


@dataclass(frozen=True)
class ShardPlan:
    archive: str  # file name beside the manifest
    relpaths: list[str]
    input_bytes: int


def plan_shards(
    root: Path,
    relpaths: list[str] | None,
    name: str,
    shard_bytes: int = SHARD_BYTES,
    shard_paths: int = SHARD_PATHS,
) -> tuple[list[ShardPlan], list[str]]:
    """Cut the dataset into shards (deterministic: same input, same shards); also warnings."""
    warnings: list[str] = []
    if relpaths is None:
        items = list(walk_tree(root, warnings))
    else:
        items = list(listed_items(root, relpaths, warnings))
    plans: list[ShardPlan] = []
    current: list[str] = []
    size = 0

    def close_shard() -> None:
        nonlocal current, size
        if current:
            plans.append(ShardPlan(f"{name}.{len(plans):05d}.mmc", current, size))
        current, size = [], 0

    for item in items:
        current.append(item.relpath)
        if item.kind == EntryType.FILE:
            size += item.st.st_size
        if size >= shard_bytes or len(current) >= shard_paths:
            close_shard()
    close_shard()
    return plans, warnings


def pack_shard(
    root: str, relpaths: list[str], archive: str, level: int | None, force: bool
) -> dict[str, Any]:
    """The Dask task: pack one shard, return what the manifest records about it."""
    path = Path(archive)
    report = Compressor(level).pack_paths(root, relpaths, path, force=force)
    return {
        "archive": path.name,
        "size_bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        "entries": len(relpaths),
        "input_bytes": report.input_bytes,
        "warnings": report.warnings,
    }


@dataclass
class DatasetReport:
    manifest: Path
    shards: list[Shard]
    warnings: list[str]

    @property
    def input_bytes(self) -> int:
        return sum(shard.input_bytes for shard in self.shards)

    @property
    def output_bytes(self) -> int:
        return sum(shard.size_bytes for shard in self.shards)


def pack_dataset(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    client: Any,
    root: str | os.PathLike[str] | None = None,
    level: int | None = None,
    shard_bytes: int = SHARD_BYTES,
    shard_paths: int = SHARD_PATHS,
    force: bool = False,
) -> DatasetReport:
    """Pack ``source`` (a folder, or a list of paths under ``root``) as shards on ``client``.

    ``output`` names the dataset: shards are ``OUTPUT.00000.mmc``…, the manifest
    ``OUTPUT.mmcset``. ``client`` is a ``dask.distributed.Client``. Raises the first task's error
    (no manifest is written then).
    """
    output = Path(output)
    if isinstance(source, (str, os.PathLike)):
        base = Path(source)
        if not base.is_dir():
            raise InputError(f"{base}: not a folder (give a folder or a list of paths)")
        relpaths = None
    else:
        if root is None:
            raise InputError("a list of paths needs root= (the folder they are relative to)")
        base = Path(root)
        relpaths = [_relative(base, Path(p)) for p in source]
    manifest_path = output.with_name(output.name + SUFFIX)
    if manifest_path.exists() and not force:
        raise InputError(f"{manifest_path} already exists (use force=True to overwrite)")
    recipe(level)  # an invalid level fails here, not in every task
    output.parent.mkdir(parents=True, exist_ok=True)
    plans, warnings = plan_shards(base.absolute(), relpaths, output.name, shard_bytes, shard_paths)
    futures = [
        client.submit(
            pack_shard,
            str(base.absolute()),
            plan.relpaths,
            str(output.absolute().with_name(plan.archive)),
            level,
            force,
            key=f"mmcompress-shard-{plan.archive}-{os.getpid()}-{id(plans)}",
            pure=False,
        )
        for plan in plans
    ]
    results = client.gather(futures)  # raises the first failure
    shards = [Shard(**{k: v for k, v in r.items() if k != "warnings"}) for r in results]
    for result in results:
        warnings += result["warnings"]
    write_manifest(
        manifest_path,
        shards,
        level=recipe(level).level,
        created_by=f"mmcompress {__version__}",
        force=force,
    )
    return DatasetReport(manifest_path, shards, warnings)


def _relative(root: Path, path: Path) -> str:
    try:
        return (path if not path.is_absolute() else path.relative_to(root.absolute())).as_posix()
    except ValueError:
        raise InputError(f"{path} is not under {root}") from None
