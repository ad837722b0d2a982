"""Source code: the public API of the code modality.

Code is coded as its bytes; the language (from the file name or a shebang) becomes the
predictor's conditioning tag once the byte transformer lands. Round trips are byte-exact.
"""

from __future__ import annotations

from .api import compress as _compress
from .api import decompress
from .detect import CODE_LANGUAGES, Modality


def compress(
    data: bytes | str, *, language: str | None = None, name: str = "", level: int | None = None
) -> bytes:
    """Compress source code; ``language`` (e.g. "python") or ``name`` (e.g. "x.py") hint it."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if language is not None and language not in set(CODE_LANGUAGES.values()):
        raise ValueError(f"unknown language {language!r}")
    return _compress(raw, level=level, name=name, modality=Modality.CODE)


__all__ = ["compress", "decompress"]
