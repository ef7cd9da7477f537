"""Dithering: how pixels between palette colours are mixed, and ``auto``'s choice by measurement.

The methods (``dither_method``), all this project's own and all in the working
coordinates of the fit (Oklab or RGB, over two greys for images with alpha):

- ``none``: every pixel its nearest palette colour (:func:`palettepress.remap.nearest`).
- ``diffusion`` (the default): serpentine Floyd–Steinberg with the carried error capped
  at the palette's spacing around each colour, weaker in busy texture, and tiny errors
  not passed on (:func:`diffuse`, ``_kernels.dither``).
- ``ordered``: each colour a mix of palette entries in the manner of Knoll's pattern
  dithering, one picked per pixel by Bayer's 8x8 threshold matrix
  (:func:`ordered_mixes`, computed once per distinct colour of the histogram); no error
  travels, so flat areas stay flat and the pattern repeats.
- ``auto``: all three are made, encoded and scored, and :func:`auto` keeps the best per
  byte (:data:`AUTO_POINTS_PER_DOUBLING`), or the smallest that meets a quality target.

GIF's alpha (opaque or transparent, nothing between) is a dithering choice too:
thresholded, or patterned by the same Bayer matrix over broad translucent areas, by
measurement (:func:`gif_alpha`).

This module holds the kernels' settings and the choice; which pixel gets which index
through the histogram is :mod:`palettepress.remap`'s. It reads no files and knows no
format: ``auto`` is handed the encoder whose bytes it weighs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from . import _kernels, colorspace, metrics
from .errors import ParameterError

__all__ = [
    "METHODS",
    "DITHER_METHODS",
    "AUTO_POINTS_PER_DOUBLING",
    "check_method",
    "diffuse",
    "ordered_mixes",
    "auto",
    "gif_alpha",
    "patterns_alpha",
]

#: Dithering methods with a kernel here (``none`` is the plain nearest colour).
METHODS = ("diffusion", "ordered")

#: The ``dither_method`` values: the methods, and ``auto``.
DITHER_METHODS = (*METHODS, "auto")

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

#: A GIF's error diffusion (a still image's or an animation frame's) follows the LZW
#: dictionary its indices build, and where a pixel's nearest entry would end the string
#: being matched, takes the nearest entry that continues it when that entry's squared
#: distance (working coordinates) is at most this squared above the nearest's; the error
#: it leaves is diffused as any other (``_kernels.dither``; the file restarts the
#: dictionary where each strip of the dither does, so that strips still run in
#: parallel). Measured against no such choice, Oklab: on the 11 clips of the animation
#: set, the pans and the zoom 3.8-7.9% smaller for 0.11-0.33 lower SSIMULACRA2, testsrc2
#: and the scroll 3.8% and 2.2% smaller, the heatmap, the terminal and mandelbrot 0.2-1.3%
#: larger (their frames are written with the kept pixels' other ways and clearings than
#: the dither follows), all within 0.1 points there; still GIFs of 12 Kodak and 12
#: CBSD68 photos 9.1% smaller at k = 256 for 0.38 points, 2.9% at k = 64 for 0.07, of 20
#: graphics 2-3% for 0.02. Fewer colours cost more: k = 192 instead of 256 makes a pan 8%
#: smaller for 2.5 points. With one dictionary followed down the whole frame (the clips'
#: bytes within 2% of the strips'): 0.012 5.6% smaller in all for up to 0.7 points
#: (crops by eye: the same), 0.02 15-25% smaller on the pans for 1.1-3.9 points; a slack
#: in proportion to the palette's gap around the pixel made the pans 3% smaller for 0.2
#: points (a worse trade), one that grew with the local texture lost 5-14 points.
GIF_LZW_SLACK = 0.01


def lzw_restart(width: int) -> int:
    """Pixels between the restarts of the LZW dictionary that :func:`diffuse` with an
    ``lzw_slack`` follows in an image ``width`` pixels wide (one strip of the dither's
    rows): what the GIF writer must restart its dictionary at (``_kernels.gif_lzw``)."""
    return _kernels.DITHER_STRIP * width


#: How ``dither_method="auto"`` weighs quality against size: it keeps, of no dithering,
#: diffusion and ordered dithering, the result with the highest SSIMULACRA2 minus this
#: many points per doubling of the file. About half the slope of SSIMULACRA2 against
#: size along k (18-27 points per doubling on the graphics and Kodak sets between
#: k = 64 and 256), so a smaller file wins only where it costs less than a larger
#: palette would; BENCHMARKS.md (perceptual quality) measures it.
AUTO_POINTS_PER_DOUBLING = 10.0


#: GIF has no partial transparency: each pixel is opaque or transparent. Thresholding
#: alpha at half keeps anti-aliased edges crisp, but it drops a soft shadow or a glow
#: entirely and makes tinted glass solid. So translucent areas at least this many pixels
#: across both ways may instead be patterned: a pixel there is opaque where its alpha
#: exceeds Bayer's 8x8 threshold at its position, so that the area shows its alpha's
#: share of opaque pixels (the same pattern in every frame of an animation), and
#: narrower ones (edges) are thresholded. Which of the two an image gets is measured
#: (:func:`gif_alpha`). On the 31 images of ``graphics/`` and ``alpha/`` with
#: translucent pixels, as GIFs at k = 256: patterned everywhere 52.4 SSIMULACRA2 on
#: average against thresholded 45.9 (icons' drop shadows and glass: -36 to +13, -43 to
#: -2), but 8 images lower (a scatter plot's translucent markers 33.6 to 23.1); the
#: measured choice 53.9, the better of the two on each image, for 1.035x the bytes (k =
#: 16: 37.5 to 45.0; ``benchmarks/bench_gif_alpha.py``). Areas 5 pixels across: 50.8,
#: more images lower. The choice costs two SSIMULACRA2 measures of the image: such a GIF
#: takes 1.3x the time (median over those images).
ALPHA_PATTERN_SIDE = 3


def _window_sums(mask: np.ndarray, side: int) -> np.ndarray:
    """How many of the ``side`` x ``side`` pixels centred on each pixel are set (outside
    the image counts as unset)."""
    h, w = mask.shape
    c = np.zeros((h + side, w + side), dtype=np.int32)
    c[1:, 1:] = np.pad(mask, side // 2).cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
    return c[side:, side:] - c[:h, side:] - c[side:, :w] + c[:h, :w]


def _thresholded(alpha: np.ndarray, threshold: int) -> np.ndarray:
    return np.where(alpha >= threshold, np.uint8(255), np.uint8(0))


def _patterned(alpha: np.ndarray, thresholded: np.ndarray) -> np.ndarray | None:
    """GIF alpha (0 or 255) with broad translucent areas patterned (see
    :data:`ALPHA_PATTERN_SIDE`), the rest as ``thresholded``; None where no area is
    broad enough."""
    side = ALPHA_PATTERN_SIDE
    soft = (alpha > 0) & (alpha < 255)
    core = _window_sums(soft, side) == side * side
    if not core.any():
        return None
    broad = soft & (_window_sums(core, side) > 0)
    h, w = alpha.shape
    bayer = _kernels.bayer8().astype(np.int32)  # the ordered dithering's matrix
    levels = np.tile(bayer * 4 + 2, (h // 8 + 1, w // 8 + 1))[:h, :w]  # 2 .. 254
    return np.where(broad, np.where(alpha > levels, np.uint8(255), np.uint8(0)), thresholded)


def gif_alpha(pixels: np.ndarray, threshold: int, pattern: bool | None = None) -> np.ndarray:
    """The alpha (uint8, 0 or 255) a GIF stores for RGBA ``pixels``: thresholded at
    ``threshold``, or with broad translucent areas patterned (:data:`ALPHA_PATTERN_SIDE`)
    where ``pattern`` is True; None: as :func:`patterns_alpha` measures."""
    alpha = pixels[..., 3]
    thresholded = _thresholded(alpha, threshold)
    patterned = None if pattern is False else _patterned(alpha, thresholded)
    if patterned is None:
        return thresholded
    if pattern is None:
        pattern = _scores_higher(pixels, patterned, thresholded)
    return patterned if pattern else thresholded


def patterns_alpha(pixels: np.ndarray, threshold: int) -> bool | None:
    """Whether broad translucent areas of RGBA ``pixels`` are better patterned than
    thresholded in a GIF: the one of higher SSIMULACRA2 against ``pixels``, alpha alone
    (undefined, below 8 pixels a side: thresholded). None where there is no such area,
    so nothing to choose."""
    thresholded = _thresholded(pixels[..., 3], threshold)
    patterned = _patterned(pixels[..., 3], thresholded)
    return None if patterned is None else _scores_higher(pixels, patterned, thresholded)


def _scores_higher(pixels: np.ndarray, alpha: np.ndarray, other: np.ndarray) -> bool:
    # Over the whole image: SSIMULACRA2 pools its error maps by norms, so a crop to where
    # the two differ ranked them otherwise (a scatter plot's translucent markers).
    scores = []
    for a in (alpha, other):
        candidate = pixels.copy()
        candidate[..., 3] = a
        scores.append(metrics.ssimulacra2(pixels, candidate))
    return scores[0] > scores[1]


def check_method(method) -> None:
    """:class:`ParameterError` unless ``method`` is one of :data:`DITHER_METHODS`."""
    if method not in DITHER_METHODS:
        raise ParameterError(
            f"dither_method must be one of {', '.join(DITHER_METHODS)}, got {method!r}"
        )


def diffuse(
    image: np.ndarray,
    palette: np.ndarray,
    space: str,
    strength: float,
    transparent_index: int = -1,
    *,
    out: np.ndarray | None = None,
    prefilled: bool = False,
    keep: np.ndarray | None = None,
    keep_index: int = 0,
    lzw_slack: float | None = None,
) -> np.ndarray:
    """Error-diffused indices (uint8, ``(H, W)``) of ``image`` onto ``palette``.

    ``palette`` is in working coordinates of ``space`` (see :mod:`colorspace`);
    ``strength`` in 0..1 scales the carried error, 1 being the measured default.
    ``out``, when given, is an (H, W) uint8 array with contiguous rows to write the
    indices into; with ``prefilled`` it holds every pixel's nearest entry already.
    ``keep`` (bool or uint8 ``(H, W)``), when given, marks pixels that take
    ``keep_index`` and neither receive nor pass on error: an animation frame's pixels
    that go on showing what an earlier frame drew (dithered then); ``keep_index`` -1, with
    ``prefilled``: each keeps the index ``out`` holds. ``lzw_slack``, when
    given, dithers for a GIF's LZW (``_kernels.dither``): a pixel may take an entry that
    continues the encoder's string when its squared distance is at most ``lzw_slack**2``
    above the nearest entry's (working coordinates).
    """
    if out is None:
        out = np.empty(image.shape[:2], dtype=np.uint8)
        prefilled = False
    palette = np.ascontiguousarray(palette, dtype=np.float32)
    _kernels.dither(
        np.ascontiguousarray(image),
        palette,
        space == "oklab",
        colorspace.OKLAB_LIGHTNESS_WEIGHT,
        DIFFUSION_STRENGTH * strength,
        DIFFUSION_LIMIT,
        DIFFUSION_BUSY,
        _floor(space),
        int(transparent_index),
        out,
        prefilled,
        None if keep is None else np.ascontiguousarray(keep, dtype=np.uint8),
        int(keep_index),
        -1.0 if lzw_slack is None else float(lzw_slack),
        _geometry(palette.tobytes(), palette.shape[1]),
    )
    return out


@functools.lru_cache(maxsize=4)
def _geometry(palette: bytes, d: int) -> tuple:
    """``_kernels.centre_geometry`` of a palette (float32 working coordinates, ``d`` a
    row), kept for the next calls with the same palette: an animation's frames share
    one, and its 256 sorted rows cost 0.5 ms a frame."""
    return _kernels.centre_geometry(np.frombuffer(palette, np.float32).reshape(-1, d))


def ordered_mixes(x: np.ndarray, palette: np.ndarray, space: str, strength: float) -> np.ndarray:
    """The ordered-dithering mix (uint8 (n, 8)) of each colour ``x`` (n, d) onto ``palette``,
    both in working coordinates of ``space``; ``strength`` 0..1 as for :func:`diffuse`.
    ``_kernels.lookup_pattern`` then spreads each mix over the pixels of its colour."""
    return _kernels.ordered_mixes(
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(palette, dtype=np.float32),
        ORDERED_STRENGTH * strength,
        _floor(space),
    )


def _floor(space: str) -> float:
    return FLOOR * (1.0 if space == "oklab" else 255.0)


def _auto_key(score: float, nbytes: int, goal: tuple | None) -> tuple:
    """Sort key of an ``auto`` candidate (larger is better)."""
    if math.isnan(score):
        score = -math.inf
    per_byte = score - AUTO_POINTS_PER_DOUBLING * math.log2(nbytes)
    if goal is not None and goal[0] == "min_ssimulacra2":
        # A quality target: the smallest file that meets it, else the closest to it.
        meets = score >= goal[1]
        return (meets, -nbytes if meets else score)
    if goal is not None and goal[0] == "max_bytes":
        return (nbytes <= goal[1], per_byte)
    return (per_byte,)


def auto(
    map_pixels: Callable[[str], np.ndarray],
    encode: Callable[[np.ndarray], tuple],
    reference: np.ndarray,
    palette: np.ndarray,
    goal: tuple | None = None,
) -> tuple:
    """``dither_method="auto"``: map by no dithering, diffusion and ordered dithering,
    encode and score each against ``reference``, keep the best.

    ``map_pixels(method)`` gives the indices by a method; ``encode(indices)`` the file,
    as a tuple whose first item is its bytes. The best is the highest SSIMULACRA2 less
    :data:`AUTO_POINTS_PER_DOUBLING` per doubling of the file; with ``goal``, the
    ``(target, value)`` being searched for, the smallest file that meets a
    ``min_ssimulacra2`` goal, or the best per byte that fits a ``max_bytes`` one.

    Returns
    -------
    tuple
        ``(method, indices, encoded, ssimulacra2)`` of the one kept.
    """
    best = None
    for method in ("none", *METHODS):
        indices = map_pixels(method)
        encoded = encode(indices)
        score = metrics.ssimulacra2_indexed(reference, indices, palette)
        key = _auto_key(score, len(encoded[0]), goal)
        if best is None or key > best[0]:
            best = (key, method, indices, encoded, score)
    assert best is not None  # three methods were tried
    return best[1:]
