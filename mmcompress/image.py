"""Images: the public API of the image modality.

Until the pixel model lands (issue 4), an image file is coded byte-exactly through the byte path:
already-compressed formats (PNG's deflate, JPEG) are recognised and stored or zstd'd; raw formats
(BMP, PPM, TIFF) go through the byte predictor.
"""

from __future__ import annotations

from .api import compress as _compress
from .api import decompress
from .detect import Modality, detect_as


def compress(data: bytes, *, name: str = "", level: int | None = None) -> bytes:
    """Compress an image file's bytes, byte-exactly."""
    raw = bytes(data)
    modality = detect_as(Modality.IMAGE, name, raw[:4096])
    return _compress(raw, level=level, name=name, modality=modality)


__all__ = ["compress", "decompress"]
