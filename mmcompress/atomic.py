"""Writing outputs so that nothing half-written ever sits under the final name.

Files and folders are built under a hidden temporary name beside the target and renamed into
place only when complete (file data synced first); on any error (or Ctrl-C, or SIGTERM, which the
CLI turns into an exception) the temporary is removed. A full disk or a read-only folder is
reported against the final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import OutputExists

#: Temporaries are named ``.NAME.<random>.mmc-tmp`` beside the output: a process killed outright
#: (SIGKILL, power loss) may leave one behind, never a partial file under the final name.
TEMP_SUFFIX = ".mmc-tmp"
_DEFAULT_DIR_MODE = 0o777
_DEFAULT_FILE_MODE = 0o666


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable_target(target: Path, force: bool) -> None:
    if (target.exists() or target.is_symlink()) and not force:
        raise OutputExists(f"{target} already exists (use -f to overwrite)")


#: Errors that mean "the output could not be written" whatever the code was doing at the time:
#: they are reported against the final name, not the hidden temporary.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _output_error(exc: OSError, target: Path) -> OSError:
    """The same error, named after ``target`` (the temporary's name means nothing to a user)."""
    return OSError(exc.errno, exc.strerror or str(exc), str(target))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM for a moment: a temporary is never created without its cleanup armed."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _make_temp(target: Path, make: Callable[..., Any]) -> Any:
    try:
        return make(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    except OSError as exc:  # read-only or missing folder, no space for even an empty file
        raise _output_error(exc, target) from None


@contextlib.contextmanager
def atomic_file(
    target: Path, force: bool, check: Callable[[Path], None] | None = None
) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``target``; rename it to ``target`` on success.

    ``check``, if given, is run on the complete, synced temporary before the rename: when it
    raises, nothing appears under ``target`` (``pack --rm`` verifies the archive this way).
    """
    check_writable_target(target, force)
    if target.is_dir() and not target.is_symlink():
        raise OutputExists(f"{target} is a directory")
    temp_name = ""
    try:
        with _signals_held():  # a Ctrl-C now lands inside the try, after temp_name is known
            handle, temp_name = _make_temp(target, tempfile.mkstemp)
        os.chmod(temp_name, _DEFAULT_FILE_MODE & ~_current_umask())  # mkstemp makes it private
        try:
            with os.fdopen(handle, "wb") as stream:
                yield stream
                stream.flush()
                os.fsync(stream.fileno())
        except OSError as exc:
            if exc.errno in _WRITE_ERRNOS and exc.filename is None:
                raise _output_error(exc, target) from None
            raise
        if check is not None:
            check(Path(temp_name))
        check_writable_target(target, force)
        os.replace(temp_name, target)
    except BaseException:
        if temp_name:
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
    temp: Path | None = None
    try:
        with _signals_held():
            temp = Path(_make_temp(target, tempfile.mkdtemp))
        os.chmod(temp, _DEFAULT_DIR_MODE & ~_current_umask())  # mkdtemp makes it private (0700)
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
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise


def _merge_into(source: Path, target: Path) -> None:
    for child in sorted(source.iterdir()):
        destination = target / child.name
        if (
            child.is_dir()
            and not child.is_symlink()
            and destination.is_dir()
            and not destination.is_symlink()
        ):
            _merge_into(child, destination)
            shutil.copystat(child, destination)
            continue
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        os.replace(child, destination)
