"""Training of the learned models: ``mmcompress train`` (:func:`main`) for the byte transformer."""

from __future__ import annotations

from .trainer import main

__all__ = ["main"]
