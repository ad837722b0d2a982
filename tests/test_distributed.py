"""mmcompress.distributed on a dask LocalCluster: shards + manifest, read back by unpack/list/test.

The cluster runs in-process (threads), which starts in about a second; the task code is the same
that a multi-machine cluster runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mmcompress
from mmcompress.errors import CorruptArchive, UnsafePath

distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bench"
ZLIB = CORPUS / "code" / "c" / "zlib"

pytestmark = pytest.mark.skipif(not ZLIB.is_dir(), reason="corpus not available")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(ZLIB, root / "zlib")
    (root / "empty").mkdir()
    (root / "link").symlink_to("zlib/zlib.h")
    return root


def _tree(root: Path) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel] = "link" if path.is_symlink() else "dir" if path.is_dir() else path.read_bytes()
    return found


def test_dataset_round_trip_through_the_cli(client, dataset: Path, tmp_path: Path) -> None:
    from mmcompress.distributed import pack_dataset

    out = tmp_path / "packed"
    out.mkdir()
    report = pack_dataset(dataset, out / "data", client=client, level=1, shard_bytes=100_000)
    assert report.manifest == out / "data.mmcset"
    assert len(report.shards) >= 4
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["data.mmcset", *(s.archive for s in report.shards)]
    )
    manifest = json.loads(report.manifest.read_text())
    assert manifest["format"] == "mmcset" and manifest["level"] == 1

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "mmcompress", *args], cwd=out, capture_output=True, timeout=60
        )

    listed = cli("list", "--json", "data.mmcset")
    assert listed.returncode == 0, listed.stderr
    paths = [e["path"] for e in json.loads(listed.stdout)["entries"]]
    assert sorted(paths) == sorted(_tree(dataset))
    assert cli("test", "data.mmcset").returncode == 0
    unpacked = cli("unpack", "data.mmcset")
    assert unpacked.returncode == 0, unpacked.stderr
    assert _tree(out / "data") == _tree(dataset)

    one = mmcompress.unpack_file(report.manifest, tmp_path / "one", members=["zlib/zlib.h"])
    assert one.output_bytes == (dataset / "zlib" / "zlib.h").stat().st_size


def test_a_list_of_paths_and_identical_reruns(client, dataset: Path, tmp_path: Path) -> None:
    from mmcompress.distributed import pack_dataset

    chosen = [dataset / "zlib" / "zlib.h", dataset / "zlib" / "crc32.c", "link"]
    first = pack_dataset(chosen, tmp_path / "a" / "sel", client=client, root=dataset, level=1)
    again = pack_dataset(chosen, tmp_path / "b" / "sel", client=client, root=dataset, level=1)
    assert [s.sha256 for s in first.shards] == [s.sha256 for s in again.shards]
    listing = mmcompress.list_archive(first.manifest)
    assert [e.path for e in listing.entries] == ["zlib/zlib.h", "zlib/crc32.c", "link"]


def test_damaged_or_hostile_manifests_are_refused(client, dataset: Path, tmp_path: Path) -> None:
    from mmcompress.distributed import pack_dataset

    report = pack_dataset(dataset, tmp_path / "data", client=client, level=1, shard_bytes=100_000)
    shard = tmp_path / report.shards[1].archive
    original = shard.read_bytes()
    shard.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(CorruptArchive, match="does not match its manifest"):
        mmcompress.unpack_file(report.manifest, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    shard.write_bytes(original)

    document = json.loads(report.manifest.read_text())
    document["shards"][0]["archive"] = "../elsewhere.mmc"
    hostile = tmp_path / "hostile.mmcset"
    hostile.write_text(json.dumps(document))
    with pytest.raises(CorruptArchive, match="not a plain file name"):
        mmcompress.unpack_file(hostile, tmp_path / "out")

    document = json.loads(report.manifest.read_text())
    document["shards"].append(dict(document["shards"][0], archive="copy.mmc"))
    shutil.copyfile(tmp_path / document["shards"][0]["archive"], tmp_path / "copy.mmc")
    hostile.write_text(json.dumps(document))
    with pytest.raises(UnsafePath, match="appears in two shards"):
        mmcompress.unpack_file(hostile, tmp_path / "out")
    assert not (tmp_path / "out").exists()
