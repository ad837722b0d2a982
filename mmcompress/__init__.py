"""mmcompress: lossless compression of text, code, images and video with learned models.

    import mmcompress
    blob = mmcompress.compress(data)
    assert mmcompress.decompress(blob) == data

Per-modality APIs live in ``mmcompress.text``, ``.code``, ``.image`` and ``.video``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import code, explain, image, text, video  # noqa: E402  (modality namespaces, explain)
from .api import (  # noqa: E402
    Compressor,
    compress,
    decompress,
    list_archive,
    pack_file,
    test_archive,
    unpack_file,
)
from .errors import MmcError  # noqa: E402

__all__ = [
    "Compressor",
    "MmcError",
    "code",
    "explain",
    "image",
    "text",
    "video",
    "__version__",
    "compress",
    "decompress",
    "list_archive",
    "pack_file",
    "test_archive",
    "unpack_file",
]
