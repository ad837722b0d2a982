"""Video files split into frames plus side information, and rebuilt (byte-exactly or frame-exactly).

Sources: ``y4m`` (YUV4MPEG2), ``rawyuv`` (headerless planar YUV of a given geometry) and
``avframes`` (any clip PyAV decodes, written back as FFV1 Matroska); ``serializer`` turns a plan
into container blocks and back. Each source raises :class:`NotVideo` for what it cannot take (the
file then takes the byte path). The names are loaded on first use, so importing the package
costs nothing (no PyAV, no numba).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .avframes import StreamInfo, same_frames, write_ffv1
    from .base import Frame, Layout, NotVideo, VideoPlan
    from .serializer import (
        VIDEO_EXACT,
        VIDEO_FRAMES,
        check_same_frames,
        plan,
        plan_blocks,
        plan_or_reason,
        rebuild_from_blocks,
    )

#: Public name -> the module of this package that defines it.
_HOMES = {
    "Frame": "base",
    "Layout": "base",
    "NotVideo": "base",
    "VideoPlan": "base",
    "StreamInfo": "avframes",
    "same_frames": "avframes",
    "write_ffv1": "avframes",
    "VIDEO_EXACT": "serializer",
    "VIDEO_FRAMES": "serializer",
    "check_same_frames": "serializer",
    "plan": "serializer",
    "plan_blocks": "serializer",
    "plan_or_reason": "serializer",
    "rebuild_from_blocks": "serializer",
}


__getattr__ = lazy_exports(__name__, _HOMES)


__all__ = [
    "VIDEO_EXACT",
    "VIDEO_FRAMES",
    "Frame",
    "Layout",
    "NotVideo",
    "StreamInfo",
    "VideoPlan",
    "check_same_frames",
    "plan",
    "plan_blocks",
    "plan_or_reason",
    "rebuild_from_blocks",
    "same_frames",
    "write_ffv1",
]
