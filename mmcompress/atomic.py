"""Writing outputs so that nothing half-written ever sits under the final name.

Files and folders are built under a hidden temporary name beside the target and renamed into
place only when complete; on any error (or Ctrl-C) the temporary is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import OutputExists


_DEFAULT_DIR_MODE = 0o777
_DEFAULT_FILE_MODE = 0o666


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable_target(target: Path, force: bool) -> None:
    if (target.exists() or target.is_symlink()) and not force:
        raise OutputExists(f"{target} already exists (use -f to overwrite)")


@contextlib.contextmanager
def atomic_file(target: Path, force: bool) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``target``; rename it to ``target`` on success."""
    check_writable_target(target, force)
    if target.is_dir() and not target.is_symlink():
        raise OutputExists(f"{target} is a directory")
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mmc-tmp", dir=target.parent)
    try:
        os.chmod(temp_name, _DEFAULT_FILE_MODE & ~_current_umask())  # mkstemp makes it private
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        check_writable_target(target, force)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


@contextlib.contextmanager
def atomic_dir(target: Path, force: bool) -> Iterator[Path]:
    """Yield a temp folder beside ``target``; move it into place on success.

    When ``target`` exists and ``force`` is set, the new tree is merged over it (files replaced),
    like ``tar -x`` does.
    """
    check_writable_target(target, force)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".mmc-tmp", dir=target.parent))
    os.chmod(temp, _DEFAULT_DIR_MODE & ~_current_umask())  # mkdtemp makes it private (0700)
    try:
        yield temp
        if target.is_dir() and not target.is_symlink():
            _merge_into(temp, target)
            shutil.rmtree(temp)
        else:
            if target.exists() or target.is_symlink():
                check_writable_target(target, force)
                target.unlink()
            os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _merge_into(source: Path, target: Path) -> None:
    for child in sorted(source.iterdir()):
        destination = target / child.name
        if child.is_dir() and not child.is_symlink() and destination.is_dir() and not destination.is_symlink():
            _merge_into(child, destination)
            shutil.copystat(child, destination)
            continue
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        os.replace(child, destination)
