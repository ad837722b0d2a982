"""Text: the public API of the text modality (and, later, its serializer).

Text is coded as its bytes through the level's byte predictor (the adaptive context model today,
the byte transformer when it lands); every input comes back byte-exact.
"""

from __future__ import annotations

from .api import compress as _compress
from .api import decompress
from .detect import Modality


def compress(data: bytes | str, *, level: int | None = None) -> bytes:
    """Compress text (``str`` is encoded as UTF-8; decompress returns bytes)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _compress(raw, level=level, modality=Modality.TEXT)


__all__ = ["compress", "decompress"]
