"""Predictors: models that turn already-coded symbols into integer frequency tables.

One interface (:mod:`.base`), several implementations, one registry: an archive names its
predictor by ``config()["id"]`` and :func:`build_predictor` rebuilds it from that config.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ModelMissing, UnsupportedFormat
from .base import BlockCodec, Codec, NotApplicable, Predictor, PredictorSession

#: Registry id -> (module, class). Modules are imported only when a predictor is built, so that
#: importing the package neither compiles numba kernels nor loads torch.
_REGISTRY: dict[str, tuple[str, str]] = {
    "cm": ("context", "ContextModel"),
    "bcm": ("bitcm", "BitContextMixer"),
    "bytefmr": ("transformer", "ByteTransformer"),
    "hf": ("hf", "HFCodec"),
    "hf-int": ("intgpt2", "IntGPT2Codec"),
    "int-llama": ("intllama", "IntLlamaCodec"),
    "pixel": ("pixel", "PixelCodec"),
    "mix": ("mixer", "Mixer"),
    "frames": ("frames", "FramesCodec"),
}


def _predictor_class(kind: Any) -> Any:
    if kind not in _REGISTRY:
        raise ModelMissing(f"archive needs predictor {kind!r}, which this mmcompress does not have")
    module_name, class_name = _REGISTRY[kind]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)


def build_predictor(config: dict[str, Any]) -> Codec:
    """Rebuild the predictor an archive describes; raises ModelMissing / UnsupportedFormat."""
    kind = config.get("id")
    predictor_class = _predictor_class(kind)
    try:
        return predictor_class.from_config(config)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise UnsupportedFormat(
            f"cannot build predictor {kind!r} from the archive: {exc}"
        ) from None


def predictor_for_recipe(spec: dict[str, Any]) -> Codec:
    """Build a predictor from a level recipe's spec: {"id": ..., plus constructor parameters}."""
    parameters = dict(spec)
    kind = parameters.pop("id")
    return _predictor_class(kind)(**parameters)  # type: ignore[no-any-return]


__all__ = [
    "BlockCodec",
    "Codec",
    "NotApplicable",
    "Predictor",
    "PredictorSession",
    "build_predictor",
    "predictor_for_recipe",
]
