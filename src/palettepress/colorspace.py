"""sRGB ⇄ linear ⇄ Oklab conversions and the working coordinates of the clustering.

Arrays in, arrays out, float32 results; no files, no images, no state. The working
coordinates of a colour are ``oklab`` (``OKLAB_LIGHTNESS_WEIGHT`` × L, a, b) or ``rgb``
(0..255 per channel); a colour with alpha has six: those of its composites over the dark
and the light grey of :data:`BACKGROUNDS`, so the fit and the remap minimise the error
as it looks on both.

Why Oklab lightness has full weight: SSIMULACRA2 sees lightness steps as banding.
Weighting it down (0.5) lowers CIEDE2000, which forgives lightness errors, but costs
SSIMULACRA2 at every k (BENCHMARKS.md, "Design measurements: what people see"). That is
the mapping's weight; a fit for error diffusion weighs lightness less
(``quantizer.DIFFUSION_FIT_LIGHTNESS``): the diffusion fills lightness steps in.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SPACES",
    "OKLAB_LIGHTNESS_WEIGHT",
    "BACKGROUNDS",
    "srgb_to_linear",
    "linear_to_srgb",
    "srgb_to_oklab",
    "oklab_to_srgb",
    "composite",
    "to_working",
    "from_working",
]

SPACES = ("oklab", "rgb")

#: Factor on Oklab L in the working coordinates (see the module docstring).
OKLAB_LIGHTNESS_WEIGHT = 1.0

#: The greys (sRGB, 0..1) colours with alpha are seen over: dark and light. Their working
#: coordinates are those of both composites; metrics.BACKGROUNDS measures over the same.
BACKGROUNDS = (0.1, 0.9)

# Ottosson's Oklab matrices (linear sRGB -> LMS, LMS' -> Lab); _remap.pxi uses the same.
_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def _inverse3(m: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 matrix by cofactors: np.linalg would start BLAS's thread pool,
    whose spinning threads then take cores from the compiled kernels."""
    c = np.array(
        [
            [
                m[(i + 1) % 3, (j + 1) % 3] * m[(i + 2) % 3, (j + 2) % 3]
                - m[(i + 1) % 3, (j + 2) % 3] * m[(i + 2) % 3, (j + 1) % 3]
                for j in range(3)
            ]
            for i in range(3)
        ]
    )
    return c.T / (m[0] * c[0]).sum()


_M1_INV = _inverse3(_M1)
_M2_INV = _inverse3(_M2)

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
    return linear_to_srgb(_apply(_M1_INV, lms**3)).reshape(lab.shape)


def composite(colors: np.ndarray, grey: float) -> np.ndarray:
    """sRGB values (float64, 0..255) of RGBA colours composited over the sRGB ``grey``
    (0..1), in the encoded values as browsers composite."""
    a = np.asarray(colors[:, 3:4], dtype=np.float64) / 255.0
    return np.asarray(colors[:, :3], dtype=np.float64) * a + (1.0 - a) * (255.0 * grey)


def _working3(rgb: np.ndarray, space: str, l_weight: float) -> np.ndarray:
    """Working coordinates of sRGB floats in 0..255 (numpy; see :func:`to_working`)."""
    if space != "oklab":
        return np.asarray(rgb, dtype=np.float32)
    lab = srgb_to_oklab(rgb)
    lab[:, 0] *= np.float32(l_weight)
    return lab


def to_working(colors: np.ndarray, space: str, l_weight: float | None = None) -> np.ndarray:
    """Working coordinates (float32, C-contiguous) of colours ``(n, 3 or 4)``.

    ``colors`` are uint8, or floats in 0..255 (mean colours of a reduced histogram).
    Opaque colours (3 channels) have 3 coordinates; colours with alpha have 6: those of
    the colour composited over the dark and over the light grey of :data:`BACKGROUNDS`.
    ``l_weight`` is the factor on Oklab L (default :data:`OKLAB_LIGHTNESS_WEIGHT`, the
    mapping's; the fit may weigh lightness less, see ``quantizer``).
    """
    lw = OKLAB_LIGHTNESS_WEIGHT if l_weight is None else l_weight
    if colors.dtype == np.uint8:
        from . import _kernels

        return _kernels.srgb8_to_working(np.ascontiguousarray(colors), space == "oklab", lw)
    if colors.shape[1] == 3:
        return np.ascontiguousarray(_working3(colors, space, lw), dtype=np.float32)
    halves = [_working3(composite(colors, grey), space, lw) for grey in BACKGROUNDS]
    return np.ascontiguousarray(np.concatenate(halves, axis=1), dtype=np.float32)


def _nearest_of_candidates(
    candidates: list, target: np.ndarray, space: str, l_weight: float
) -> np.ndarray:
    """Per row, the candidate colour (uint8) closest to ``target`` in working coordinates."""
    best = candidates[0].copy()
    best_d = ((to_working(best, space, l_weight) - target) ** 2).sum(axis=1)
    for cand in candidates[1:]:
        d = ((to_working(cand, space, l_weight) - target) ** 2).sum(axis=1)
        closer = d < best_d
        best[closer] = cand[closer]
        best_d = np.where(closer, d, best_d)
    return best


def _srgb_of(coords: np.ndarray, space: str, l_weight: float) -> np.ndarray:
    """sRGB floats (0..255, clipped) of 3 working coordinates."""
    if space != "oklab":
        return np.clip(np.asarray(coords, dtype=np.float64), 0, 255)
    lab = np.array(coords, dtype=np.float64)
    lab[:, 0] /= l_weight
    return np.clip(oklab_to_srgb(lab), 0, 255)


def _corners(exact: np.ndarray) -> list:
    """The 8-bit colours around float ones: each channel rounded down or up."""
    low = np.minimum(np.floor(exact), 254)
    steps = np.array(
        [
            [(corner >> j) & 1 for j in range(exact.shape[1] - 1, -1, -1)]
            for corner in range(1 << exact.shape[1])
        ]
    )
    return [(low + step).astype(np.uint8) for step in steps]


def from_working(coords: np.ndarray, space: str, l_weight: float | None = None) -> np.ndarray:
    """8-bit colours of working coordinates ``(k, 3 or 6)``: each the nearest in working space
    (``l_weight`` as for :func:`to_working`).

    In RGB that is plain rounding. In Oklab the sRGB value is not a linear function of the
    coordinates, so of the eight 8-bit colours around the exact one (each channel rounded
    down or up) the one closest in Oklab is taken. Measured against plain rounding (8
    Kodak photos): mean CIEDE2000 0.4% lower at k = 256 and 0.1% at k = 16, 1.9% on
    kodim02 at k = 256, the image where it decides whether palettepress beats pngquant.

    Six coordinates (a colour seen over both greys) give an RGBA colour: the alpha and
    colour whose composites over the two greys fit them best in sRGB (the two composites
    differ by ``(1 - alpha)`` times the difference of the greys), then, of the colours
    around that (alpha and each channel rounded down or up), the closest in working space.
    """
    lw = OKLAB_LIGHTNESS_WEIGHT if l_weight is None else l_weight
    target = np.ascontiguousarray(coords, dtype=np.float32)
    if coords.shape[1] == 3:
        if space != "oklab":
            return np.clip(np.rint(np.asarray(coords, dtype=np.float64)), 0, 255).astype(np.uint8)
        return _nearest_of_candidates(
            _corners(_srgb_of(coords[:, :3], space, lw)), target, space, lw
        )
    over = [_srgb_of(coords[:, 3 * h : 3 * h + 3], space, lw) for h in range(2)]
    spread = 255.0 * (BACKGROUNDS[1] - BACKGROUNDS[0])
    alpha = np.clip(1.0 - ((over[1] - over[0]) / spread).mean(axis=1), 0.0, 1.0)
    bg = [(1.0 - alpha)[:, None] * 255.0 * grey for grey in BACKGROUNDS]
    safe = np.maximum(alpha, 1.0 / 255.0)[:, None]
    colour = np.clip(((over[0] - bg[0]) + (over[1] - bg[1])) / (2.0 * safe), 0, 255)
    exact = np.concatenate([colour, 255.0 * alpha[:, None]], axis=1)
    return _nearest_of_candidates(_corners(exact), target, space, lw)
