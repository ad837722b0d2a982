"""Coverage-guided fuzzing of ``unpack`` with atheris (libFuzzer for Python).

Every input is written to a file and unpacked for real (``Compressor.unpack_file``: container
checks, path checks, block decoding, the atomic folder writer), then listed. The only acceptable
outcome besides success is an :class:`~mmcompress.errors.MmcError`; anything else (an
``IndexError``, a ``ValueError`` from numpy, a hang, a crash) is a bug, and libFuzzer saves the
input as ``fuzz/crashes/crash-<sha1>``. ``fuzz/add_crashes.py`` turns saved inputs into golden
error cases (``tests/golden/fuzz/``).

    make fuzz                          # 60 s
    make fuzz FUZZ_SECONDS=3600        # a long run
    .venv/bin/python fuzz/fuzz_unpack.py -max_total_time=600 -jobs=2 -workers=2 my-corpus/

With no corpus folder given, a temporary one is seeded from ``tests/golden/`` and from a few
archives made here (model-coded blocks, a folder with links and duplicates), so the fuzzer
starts from every block kind and entry type. The expansion limits are lowered so that no single
input can take seconds to decode (the model decoder is ~100 KB/s).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["mmcompress"]):
    from mmcompress import archive
    from mmcompress.api import Compressor
    from mmcompress.errors import MmcError

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
#: Inputs may expand to at most this many bytes (or 64x their size): bounds time per input.
FUZZ_EXPANSION_BYTES = 64 << 10
FUZZ_EXPANSION_RATIO = 64

archive.FREE_EXPANSION_BYTES = FUZZ_EXPANSION_BYTES
archive.MAX_EXPANSION_RATIO = FUZZ_EXPANSION_RATIO
#: Scratch folder (MMC_FUZZ_WORK, else a new temporary one). libFuzzer ends the process without
#: running Python's exit handlers, so a temporary one may stay behind: give a folder to reuse.
WORK = Path(os.environ.get("MMC_FUZZ_WORK") or tempfile.mkdtemp(prefix="mmc-fuzz-"))
WORK.mkdir(parents=True, exist_ok=True)
COMPRESSOR = Compressor(level=2)


def unpack_once(data: bytes) -> None:
    """What the fuzzer runs per input; raises only on bugs."""
    source = WORK / "input.mmc"
    target = WORK / "output"
    source.write_bytes(data)
    try:
        COMPRESSOR.unpack_file(source, target, force=True)
        COMPRESSOR.list_archive(source)
    except MmcError:
        pass
    finally:
        if target.is_dir() and not target.is_symlink():
            for folder, dirs, _ in os.walk(target):  # extracted folders may be read-only
                for name in dirs:
                    os.chmod(os.path.join(folder, name), 0o700)
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


def test_one_input(data: bytes) -> None:
    unpack_once(data)


def seed_corpus(folder: Path) -> None:
    """Golden archives plus a few made here, covering every block kind and entry type."""
    for path in sorted(GOLDEN.rglob("*.mmc")):
        shutil.copyfile(path, folder / f"{path.parent.name}-{path.name}")
    text = b"The quick brown fox jumps over the lazy dog. " * 40
    (folder / "made-model.mmc").write_bytes(COMPRESSOR.compress(text, name="fox.txt"))
    tree = WORK / "seed-tree"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.txt").write_bytes(text)
    (tree / "b.txt").write_bytes(text)  # a duplicate
    (tree / "link").symlink_to("sub/a.txt")
    (tree / "bin").write_bytes(bytes(range(256)) * 8)
    COMPRESSOR.pack_file(tree, folder / "made-tree.mmc")
    shutil.rmtree(tree)
    sink = io.BytesIO()
    Compressor(level=1).pack_stream(io.BytesIO(text * 4), sink, name="zstd.txt")
    (folder / "made-zstd.mmc").write_bytes(sink.getvalue())


def main(argv: list[str]) -> None:
    corpus_given = any(not arg.startswith("-") for arg in argv[1:])
    extra: list[str] = []
    if not corpus_given:
        corpus = WORK / "corpus"
        shutil.rmtree(corpus, ignore_errors=True)
        corpus.mkdir()
        seed_corpus(corpus)
        extra.append(str(corpus))
    defaults = ["-rss_limit_mb=2048", "-timeout=20"]
    if not any(arg.startswith("-artifact_prefix=") for arg in argv):
        crashes = ROOT / "fuzz" / "crashes"
        crashes.mkdir(exist_ok=True)
        defaults.append(f"-artifact_prefix={crashes}/")
    arguments = [
        argv[0],
        *defaults,
        *argv[1:],
        *extra,
    ]
    atheris.Setup(arguments, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
