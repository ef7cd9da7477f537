"""Map pixels to palette entries: nearest colour, or Floyd–Steinberg error diffusion."""

from __future__ import annotations

import numpy as np

from . import _kernels
from .colorspace import OKLAB_LIGHTNESS_WEIGHT, alpha_scale

__all__ = ["nearest", "dither"]


def nearest(x: np.ndarray, palette: np.ndarray, hint: np.ndarray | None = None) -> np.ndarray:
    """Index (int32) of the nearest palette entry for each point, in working coordinates.

    ``hint`` is an optional guess per point (the k-means labels); a good guess makes the
    search cheap, a bad one only slower.
    """
    labels = (np.zeros(len(x), dtype=np.int32) if hint is None
              else np.array(hint, dtype=np.int32, order="C"))
    _kernels.nearest(np.ascontiguousarray(x, dtype=np.float32),
                     np.ascontiguousarray(palette, dtype=np.float32), labels)
    return labels


def dither(image: np.ndarray, palette: np.ndarray, space: str, strength: float,
           transparent_index: int = -1, *, out: np.ndarray | None = None) -> np.ndarray:
    """Floyd–Steinberg indices (uint8, ``(H, W)``) of ``image`` onto ``palette``.

    ``palette`` is in working coordinates of ``space``; ``strength`` in 0..1 scales the
    diffused error (1 = classic Floyd–Steinberg). ``out``, when given, is an (H, W) uint8
    array with contiguous rows to write the indices into.
    """
    if out is None:
        out = np.empty(image.shape[:2], dtype=np.uint8)
    _kernels.dither_fs(np.ascontiguousarray(image), np.ascontiguousarray(palette, dtype=np.float32),
                       space == "oklab", OKLAB_LIGHTNESS_WEIGHT, alpha_scale(space), float(strength),
                       int(transparent_index), out)
    return out
