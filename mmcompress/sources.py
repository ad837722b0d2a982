"""What callers hand the modality APIs and ``explain``: bytes, or the path of a file to read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeGuard, Union

from .errors import InputError

#: Bytes, or a file to read them from.
Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


def is_source(value: object) -> TypeGuard[Source]:
    """Whether ``value`` is bytes or a path (not an array, an image object or frames)."""
    return isinstance(value, (bytes, bytearray, memoryview, str, os.PathLike))


def read_source(source: Source, name: str = "") -> tuple[bytes, str, Path | None]:
    """(data, name, path): a path is read (InputError if it cannot be: one clear line) and names
    the data unless ``name`` does; bytes are taken as they are (path None)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name, None
    path = Path(source)
    try:
        return path.read_bytes(), name or path.name, path
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
