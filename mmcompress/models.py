"""Where model files live and what is installed: nothing is ever downloaded.

Weights sit in ``models/`` (beside the package in a source checkout, or the folder named by
``MMCOMPRESS_MODELS``) with a ``manifest.json`` listing each file's config, training data and
sha256. Predictors that need no weights (the adaptive context model) are always available.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST_NAME = "manifest.json"


def models_dir() -> Path:
    override = os.environ.get("MMCOMPRESS_MODELS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "models"


def read_manifest() -> list[dict[str, Any]]:
    path = models_dir() / MANIFEST_NAME
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("models", []))


def installed_models() -> list[dict[str, Any]]:
    built_in = [
        {
            "name": "cm",
            "kind": "context-model",
            "size_bytes": 0,
            "sha256": "",
            "description": "adaptive order-N context model (no weights, learns while coding)",
        },
        {
            "name": "bcm",
            "kind": "context-mixing",
            "size_bytes": 0,
            "sha256": "",
            "description": "binary context mixing of hashed contexts (no weights, learns while coding)",
        },
    ]
    folder = models_dir()
    found = []
    for record in read_manifest():
        file = folder / record.get("file", "")
        found.append({**record, "installed": file.is_file()})
    return built_in + found


def save_model_file(
    path: Path,
    tensors: dict[str, np.ndarray],
    file_format: str,
    config: dict[str, Any],
    info: dict[str, Any],
) -> str:
    """Write integer model weights as safetensors, the format tag, config and training info in
    its metadata (canonical JSON); returns the file's sha256 (what archives name it by)."""
    from safetensors.numpy import save_file

    metadata = {
        "format": file_format,
        "config": json.dumps(config, sort_keys=True),
        "info": json.dumps(info, sort_keys=True),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())},
        str(path),
        metadata=metadata,
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_model_file(path: Path, file_format: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file :func:`save_model_file` wrote: its config (from the metadata) and tensors;
    ValueError when it is not a ``file_format`` file."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != file_format:
        raise ValueError(f"{path} is not a {file_format} model file")
    return json.loads(metadata["config"]), load_file(str(path))
