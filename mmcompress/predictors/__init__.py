"""Predictors: models that turn already-coded symbols into integer frequency tables.

One interface (:mod:`.base`), several implementations, one registry: an archive names its
predictor by ``config()["id"]`` and :func:`build_predictor` rebuilds it from that config.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelMissing, UnsupportedFormat
from .base import Predictor, PredictorSession


def _registry() -> dict[str, Any]:
    # Imported lazily so that importing the package does not compile numba kernels or load torch.
    from .context import ContextModel

    return {ContextModel.kind: ContextModel}


def build_predictor(config: dict[str, Any]) -> Predictor:
    """Rebuild the predictor an archive describes; raises ModelMissing / UnsupportedFormat."""
    kind = config.get("id")
    registry = _registry()
    if kind not in registry:
        raise ModelMissing(f"archive needs predictor {kind!r}, which this mmcompress does not have")
    try:
        return registry[kind].from_config(config)
    except (TypeError, ValueError) as exc:
        raise UnsupportedFormat(
            f"cannot build predictor {kind!r} from the archive: {exc}"
        ) from None


def predictor_for_recipe(spec: dict[str, Any]) -> Predictor:
    """Build a predictor from a level recipe's spec: {"id": ..., plus constructor parameters}."""
    parameters = dict(spec)
    kind = parameters.pop("id")
    return _registry()[kind](**parameters)  # type: ignore[no-any-return]


__all__ = ["Predictor", "PredictorSession", "build_predictor", "predictor_for_recipe"]
