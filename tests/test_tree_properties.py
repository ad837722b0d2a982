"""Property tests (hypothesis): any small tree packs and unpacks to itself, with any worker count
and for any subset of its entries; a damaged byte anywhere never yields a wrong tree."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmcompress
from mmcompress.errors import MmcError

NAMES = st.text(alphabet="abcé-_.0", min_size=1, max_size=8).filter(lambda n: n not in (".", ".."))
CONTENT = st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"same\n" * 20]))
TREES = st.recursive(
    CONTENT,
    lambda children: st.dictionaries(NAMES, children, max_size=4),
    max_leaves=12,
).filter(lambda tree: isinstance(tree, dict))


def _write(root: Path, tree: dict) -> None:
    root.mkdir()
    for name, value in tree.items():
        if isinstance(value, dict):
            _write(root / name, value)
        else:
            (root / name).write_bytes(value)


def _read(root: Path) -> dict:
    return {
        child.name: _read(child) if child.is_dir() else child.read_bytes()
        for child in sorted(root.iterdir())
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=TREES, flip=st.integers(min_value=0))
def test_any_tree_round_trips_and_damage_never_gives_a_wrong_tree(tree: dict, flip: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "tree"
        _write(root, tree)
        archive = mmcompress.pack_file(root, level=1).output
        mmcompress.unpack_file(archive, Path(work) / "back")
        assert _read(Path(work) / "back") == tree

        paths = [e.path for e in mmcompress.list_archive(archive).entries]
        if paths:
            member = paths[flip % len(paths)]
            mmcompress.unpack_file(archive, Path(work) / "one", members=[member])
            assert (Path(work) / "one" / member).exists()

        blob = bytearray(archive.read_bytes())
        blob[flip % len(blob)] ^= 1 << (flip % 8)
        archive.write_bytes(bytes(blob))
        shutil.rmtree(Path(work) / "back")
        try:
            mmcompress.unpack_file(archive, Path(work) / "back")
        except MmcError:
            assert not (Path(work) / "back").exists()
        else:  # a flip nothing checks must still give back the exact tree
            assert _read(Path(work) / "back") == tree
