"""Video: the public API of the video modality.

Until the frame model lands (issue 5), a video file is coded byte-exactly through the byte path:
raw video (Y4M) through the byte predictor, compressed containers (MP4, MKV) stored or zstd'd.
"""

from __future__ import annotations

from .api import compress as _compress
from .api import decompress
from .detect import Modality, detect_as


def compress(data: bytes, *, name: str = "", level: int | None = None) -> bytes:
    """Compress a video file's bytes, byte-exactly."""
    raw = bytes(data)
    modality = detect_as(Modality.VIDEO, name, raw[:4096])
    return _compress(raw, level=level, name=name, modality=modality)


__all__ = ["compress", "decompress"]
