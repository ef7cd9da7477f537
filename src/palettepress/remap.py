"""Map pixels to palette entries: nearest colour, error diffusion or ordered dithering.

Both dithering methods work in the working coordinates of the fit (Oklab or RGB, over
two greys for images with alpha) and are this project's own:

- ``diffusion`` (the default): serpentine Floyd–Steinberg with the carried error capped
  at the palette's spacing around each colour, weaker in busy texture, and tiny errors
  not passed on (``_kernels.dither``).
- ``ordered``: each colour a mix of palette entries in the manner of Knoll's pattern
  dithering, one picked per pixel by Bayer's 8x8 threshold matrix
  (``_kernels.ordered_mixes``, computed once per distinct colour of the histogram); no
  error travels, so flat areas stay flat and the pattern repeats.
"""

from __future__ import annotations

import numpy as np

from . import _kernels, colorspace

__all__ = ["METHODS", "nearest", "dither", "ordered_mixes"]

#: Dithering methods :func:`dither` implements (the quantizer adds ``auto``).
METHODS = ("diffusion", "ordered")

#: Kernel settings at strength 1, each measured (BENCHMARKS.md, perceptual quality):
#: the diffusion's carried-error factor, its cap on the carried error as a multiple of
#: the palette's spacing around each colour, the local contrast (as a multiple of that
#: spacing) at which it dithers at half strength, the ordered mix's error factor, and
#: the distance within which a colour counts as matched (not dithered, no error passed
#: on), in Oklab units (RGB coordinates scale it by 255).
DIFFUSION_STRENGTH = 0.8
DIFFUSION_LIMIT = 1.25
DIFFUSION_BUSY = 1.5
ORDERED_STRENGTH = 1.0
FLOOR = 0.003


def nearest(x: np.ndarray, palette: np.ndarray, hint: np.ndarray | None = None) -> np.ndarray:
    """Index (int32) of the nearest palette entry for each point, in working coordinates.

    ``hint`` is an optional guess per point (the k-means labels); a good guess makes the
    search cheap, a bad one only slower.
    """
    labels = (
        np.zeros(len(x), dtype=np.int32)
        if hint is None
        else np.array(hint, dtype=np.int32, order="C")
    )
    _kernels.nearest(
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(palette, dtype=np.float32),
        labels,
    )
    return labels


def dither(
    image: np.ndarray,
    palette: np.ndarray,
    space: str,
    strength: float,
    transparent_index: int = -1,
    *,
    out: np.ndarray | None = None,
    prefilled: bool = False,
) -> np.ndarray:
    """Error-diffused indices (uint8, ``(H, W)``) of ``image`` onto ``palette``.

    ``palette`` is in working coordinates of ``space`` (see :mod:`colorspace`);
    ``strength`` in 0..1 scales the carried error, 1 being the measured default.
    ``out``, when given, is an (H, W) uint8 array with contiguous rows to write the
    indices into; with ``prefilled`` it holds every pixel's nearest entry already.
    """
    if out is None:
        out = np.empty(image.shape[:2], dtype=np.uint8)
        prefilled = False
    _kernels.dither(
        np.ascontiguousarray(image),
        np.ascontiguousarray(palette, dtype=np.float32),
        space == "oklab",
        colorspace.OKLAB_LIGHTNESS_WEIGHT,
        DIFFUSION_STRENGTH * strength,
        DIFFUSION_LIMIT,
        DIFFUSION_BUSY,
        _floor(space),
        int(transparent_index),
        out,
        prefilled,
    )
    return out


def ordered_mixes(x: np.ndarray, palette: np.ndarray, space: str, strength: float) -> np.ndarray:
    """The ordered-dithering mix (uint8 (n, 8)) of each colour ``x`` (n, d) onto ``palette``,
    both in working coordinates of ``space``; ``strength`` 0..1 as for :func:`dither`.
    ``_kernels.lookup_pattern`` then spreads each mix over the pixels of its colour."""
    return _kernels.ordered_mixes(
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(palette, dtype=np.float32),
        ORDERED_STRENGTH * strength,
        _floor(space),
    )


def _floor(space: str) -> float:
    return FLOOR * (1.0 if space == "oklab" else 255.0)
