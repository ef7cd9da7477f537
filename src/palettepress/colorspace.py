"""sRGB ⇄ linear ⇄ Oklab conversions and the working coordinates of the clustering.

Arrays in, arrays out, float32 results. The working coordinates of a colour are
``oklab`` (``OKLAB_LIGHTNESS_WEIGHT`` × L, a, b) or ``rgb`` (0..255 per channel); a
colour with alpha gets the alpha as one more coordinate (alpha / 255 in Oklab, 0..255 in
RGB), so opacity errors count like colour errors.

Why Oklab lightness is weighted by one half: CIEDE2000, the colour difference users and
the benchmarks measure, forgives lightness errors more than plain Oklab distance does.
Measured on eight Kodak photos against pngquant (mean CIEDE2000 ratio, k = 16 / 256;
BENCHMARKS.md, design measurements): weight 1.0 gives 1.02 / 0.98, 0.6 gives
0.93 / 0.89, 0.5 gives 0.90 / 0.87, 0.4 gives 0.88 / 0.85. PSNR at 0.5 is within 0.1 dB
of weight 1.0's and drops below 0.5, so 0.5 it is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPACES", "OKLAB_LIGHTNESS_WEIGHT", "srgb_to_linear", "linear_to_srgb", "srgb_to_oklab", "oklab_to_srgb",
           "to_working", "from_working", "alpha_scale"]

SPACES = ("oklab", "rgb")

#: Factor on Oklab L in the working coordinates (see the module docstring).
OKLAB_LIGHTNESS_WEIGHT = 0.5

# Ottosson's Oklab matrices (linear sRGB -> LMS, LMS' -> Lab); _remap.pxi uses the same.
_M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                [0.2119034982, 0.6806995451, 0.1073969566],
                [0.0883024619, 0.2817188376, 0.6299787005]])
_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660]])
_M1_INV = np.linalg.inv(_M1)
_M2_INV = np.linalg.inv(_M2)

_LUT = None


def _srgb_lut() -> np.ndarray:
    global _LUT
    if _LUT is None:
        c = np.arange(256, dtype=np.float64) / 255.0
        _LUT = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return _LUT


def _apply(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``v @ m.T`` for (n, 3) ``v``, by broadcasting: a BLAS call would wake BLAS's thread
    pool, whose spinning threads then compete with the compiled kernels for the cores."""
    return v[:, 0:1] * m[:, 0] + v[:, 1:2] * m[:, 1] + v[:, 2:3] * m[:, 2]


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Linear-light values (float64) of sRGB values given as uint8 or as floats in 0..255."""
    if rgb.dtype == np.uint8:
        return _srgb_lut()[rgb]
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """sRGB values as floats in 0..255 (unclipped, unrounded) from linear light."""
    lin = np.asarray(lin, dtype=np.float64)
    a = np.abs(lin)
    c = np.where(a <= 0.0031308, 12.92 * a, 1.055 * a ** (1 / 2.4) - 0.055)
    return np.sign(lin) * c * 255.0


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """Oklab (float32, ``(..., 3)``) of sRGB colours given as uint8 or floats in 0..255."""
    lms = _apply(_M1, srgb_to_linear(rgb).reshape(-1, 3))
    return _apply(_M2, np.cbrt(lms)).astype(np.float32).reshape(np.shape(rgb))


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """sRGB floats in 0..255 (unclipped) of Oklab colours."""
    lab = np.asarray(lab, dtype=np.float64)
    lms = _apply(_M2_INV, lab.reshape(-1, 3))
    return linear_to_srgb(_apply(_M1_INV, lms ** 3)).reshape(lab.shape)


def alpha_scale(space: str) -> float:
    """Factor from 8-bit alpha to its working coordinate in ``space``."""
    return 1.0 / 255.0 if space == "oklab" else 1.0


def to_working(colors: np.ndarray, space: str) -> np.ndarray:
    """Working coordinates (float32, C-contiguous) of colours ``(n, 3 or 4)``.

    ``colors`` are uint8, or floats in 0..255 (mean colours of a reduced histogram).
    """
    if colors.dtype == np.uint8:
        from . import _kernels

        return _kernels.srgb8_to_working(np.ascontiguousarray(colors), space == "oklab",
                                         OKLAB_LIGHTNESS_WEIGHT, alpha_scale(space))
    if space == "oklab":
        head = srgb_to_oklab(colors[:, :3])
        head[:, 0] *= np.float32(OKLAB_LIGHTNESS_WEIGHT)
    else:
        head = np.asarray(colors[:, :3], dtype=np.float32)
    if colors.shape[1] == 4:
        alpha = (np.asarray(colors[:, 3], dtype=np.float32) * np.float32(alpha_scale(space)))[:, None]
        head = np.concatenate([head, alpha], axis=1)
    return np.ascontiguousarray(head, dtype=np.float32)


def from_working(coords: np.ndarray, space: str) -> np.ndarray:
    """8-bit colours of working coordinates ``(k, 3 or 4)``: each the nearest in working space.

    In RGB that is plain rounding. In Oklab the sRGB value is not a linear function of the
    coordinates, so of the eight 8-bit colours around the exact one (each channel rounded
    down or up) the one closest in Oklab is taken. Measured against plain rounding (8
    Kodak photos): mean CIEDE2000 0.4% lower at k = 256 and 0.1% at k = 16, 1.9% on
    kodim02 at k = 256, the image where it decides whether palettepress beats pngquant.
    """
    alpha = None
    if coords.shape[1] == 4:
        alpha = np.clip(np.rint(np.asarray(coords[:, 3:4], dtype=np.float64) / alpha_scale(space)), 0, 255)
    if space != "oklab":
        rgb = np.clip(np.rint(np.asarray(coords[:, :3], dtype=np.float64)), 0, 255)
    else:
        lab = np.array(coords[:, :3], dtype=np.float64)
        lab[:, 0] /= OKLAB_LIGHTNESS_WEIGHT
        exact = np.clip(oklab_to_srgb(lab), 0, 255)
        low = np.minimum(np.floor(exact), 254)
        target = np.asarray(coords[:, :3], dtype=np.float32)
        best = best_d = None
        for corner in range(8):
            cand = (low + np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])).astype(np.uint8)
            d = ((to_working(cand, "oklab") - target) ** 2).sum(axis=1)
            if best is None:
                best, best_d = cand, d
            else:
                closer = d < best_d
                best[closer] = cand[closer]
                best_d = np.where(closer, d, best_d)
        rgb = best.astype(np.float64)
    if alpha is not None:
        rgb = np.concatenate([rgb, alpha], axis=1)
    return rgb.astype(np.uint8)
