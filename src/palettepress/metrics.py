"""Quality and size figures: SSIMULACRA2, MSE, PSNR, SSIM, mean CIEDE2000, bits per pixel.

Definitions (8-bit sRGB images):

- **SSIMULACRA2**: libjxl's perceptual metric (Jon Sneyers), as the ``ssimulacra2``
  package computes it: 100 means identical, about 90 visually lossless, 70 high
  quality, 50 medium, 30 low; it can go below zero. It sees banding, dither noise and
  blur the way people do, which the per-pixel figures below do not.
- **MSE**: squared RGB error summed over the three channels, divided by the number of
  pixels (the convention of the k-means colour-quantization literature).
- **PSNR**: ``10 log10(255² / (MSE / 3))``, i.e. on the per-channel mean squared error,
  as ``skimage.metrics.peak_signal_noise_ratio`` computes it on RGB images.
- **SSIM**: exactly ``skimage.metrics.structural_similarity(a, b, channel_axis=-1,
  data_range=255)`` (7x7 uniform window, sample covariance); NaN for images smaller than
  7 pixels on a side, where it is not defined.
- **CIEDE2000**: mean over pixels of ``skimage.color.deltaE_ciede2000`` on
  ``skimage.color.rgb2lab`` of both images.

Images with alpha are seen over whatever lies behind them, so they are measured over a
dark and a light grey (:data:`BACKGROUNDS`, sRGB 0.1 and 0.9, as libjxl's SSIMULACRA2
tool does) and each figure reports the worse of the two. SSIMULACRA2 composites in
floating point, as libjxl does; the other figures on the 8-bit composites. The compiled
kernels reproduce the references (scikit-image to 1e-6, the ``ssimulacra2`` package to
0.05) at a fraction of the time and without float copies of the image.

The measure stage: arrays in, numbers out. It never builds a whole reconstruction
(:func:`measure_mapped` works from the indices and the palette) and never encodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels
from .colorspace import BACKGROUNDS
from .histogram import pixels2d

__all__ = [
    "Metrics",
    "BACKGROUNDS",
    "mse",
    "psnr",
    "ssim",
    "delta_e",
    "ssimulacra2",
    "ssimulacra2_indexed",
    "measure",
    "measure_mapped",
    "measure_pairs",
    "count_pairs",
    "counts_pairs",
    "measure_indexed",
    "composite_over",
]

#: Rows per band when a reconstruction is built band by band (see :func:`measure_indexed`).
BAND_ROWS = 256

#: Above this many distinct colours a pixel, :func:`measure_mapped` sums MSE and CIEDE2000
#: over the pixels instead of over the (colour, palette entry) pairs: a dithered image has
#: at least as many pairs as colours, and counting them (a hash table as large as the
#: image) costs more than it saves. Measured on dithered photos: USC-SIPI Mandrill (0.88
#: colours a pixel) counts 235 thousand pairs of 262 thousand pixels in 12 ms, and
#: CIEDE2000 over them takes 12 ms where over the pixels it takes 13; a CBSD68 photo (0.31)
#: counts a third as many pairs as pixels, and both ways cost about the same.
PAIRS_MAX_SHARE = 0.5


@dataclass(frozen=True)
class Metrics:
    """Quality of a reconstruction against its original (see the module docstring)."""

    mse: float
    psnr: float
    ssim: float
    delta_e: float
    ssimulacra2: float


def composite_over(image: np.ndarray, grey: float) -> np.ndarray:
    """RGB uint8 of an RGBA image composited over the sRGB ``grey`` (0..1), rounded;
    RGB images are returned as they are."""
    if image.shape[-1] != 4:
        return image
    a = image[..., 3:4].astype(np.float32) * np.float32(1 / 255)
    out = image[..., :3] * a + np.float32(grey * 255) * (1 - a)
    return np.ascontiguousarray(np.rint(out).astype(np.uint8))


def _backgrounds(*images: np.ndarray) -> tuple:
    """The greys to measure over: both for images with alpha, none (``(None,)``) without."""
    return BACKGROUNDS if any(im.shape[-1] == 4 for im in images) else (None,)


def _over(image: np.ndarray, grey: float | None) -> np.ndarray:
    return np.ascontiguousarray(image if grey is None else composite_over(image, grey))


def _rgba(image: np.ndarray) -> np.ndarray:
    if image.shape[-1] == 4:
        return np.ascontiguousarray(image)
    return np.ascontiguousarray(
        np.concatenate([image, np.full(image.shape[:-1] + (1,), 255, np.uint8)], axis=-1)
    )


def psnr(mse_value: float) -> float:
    """PSNR in dB of an MSE as defined here (infinite for a lossless result)."""
    if mse_value <= 0:
        return math.inf
    return 10.0 * math.log10(255.0**2 * 3.0 / mse_value)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """MSE (summed over RGB, per pixel) of two uint8 images of the same shape."""
    n = a.shape[0] * a.shape[1]
    return max(_kernels.squared_error_sum(_over(a, g), _over(b, g)) / n for g in _backgrounds(a, b))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 images, equal to scikit-image's (see the module docstring)."""
    if min(a.shape[0], a.shape[1]) < 7:
        return math.nan
    return min(float(_kernels.ssim_rgb(_over(a, g), _over(b, g))) for g in _backgrounds(a, b))


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 of two uint8 images, equal to scikit-image's."""
    return max(
        float(_kernels.ciede2000_mean_image(_over(a, g), _over(b, g))) for g in _backgrounds(a, b)
    )


def ssimulacra2(a: np.ndarray, b: np.ndarray) -> float:
    """SSIMULACRA2 of ``b`` against the original ``a`` (uint8, ``(H, W, 3 or 4)``).

    NaN for images smaller than 8 pixels on a side, where it is not defined.
    """
    if a.shape[-1] == 3 and b.shape[-1] == 3:
        return float(_kernels.ssimulacra2(np.ascontiguousarray(a), np.ascontiguousarray(b)))
    a, b = _rgba(a), _rgba(b)
    return min(float(_kernels.ssimulacra2(a, b, g)) for g in BACKGROUNDS)


def ssimulacra2_indexed(original: np.ndarray, indices: np.ndarray, palette: np.ndarray) -> float:
    """:func:`ssimulacra2` of ``original`` against ``palette[indices]``, without building it."""
    original = np.ascontiguousarray(original)
    palette = np.ascontiguousarray(palette)
    if original.shape[2] == 3 and palette.shape[1] == 3:
        return float(_kernels.ssimulacra2_indexed(original, indices, palette))
    return min(
        float(_kernels.ssimulacra2_indexed(original, indices, palette, g)) for g in BACKGROUNDS
    )


def _worst(results: list[tuple]) -> tuple:
    """The worse of per-background ``(squared error sum, SSIM, CIEDE2000)`` triples."""
    return (max(r[0] for r in results), min(r[1] for r in results), max(r[2] for r in results))


def measure(original: np.ndarray, reconstructed: np.ndarray) -> Metrics:
    """All metrics of a reconstruction, computed pixel by pixel."""
    m = mse(original, reconstructed)
    return Metrics(
        mse=m,
        psnr=psnr(m),
        ssim=ssim(original, reconstructed),
        delta_e=delta_e(original, reconstructed),
        ssimulacra2=ssimulacra2(original, reconstructed),
    )


def _bands(height: int):
    """``(top, end)`` row ranges of at most :data:`BAND_ROWS` rows covering ``height`` rows."""
    for top in range(0, height, BAND_ROWS):
        yield top, min(height, top + BAND_ROWS)


def _ssim_indexed(
    original: np.ndarray, indices: np.ndarray, palette: np.ndarray, grey: float | None
) -> float:
    """SSIM of ``original`` against ``palette[indices]`` without the whole reconstruction.

    Opaque images go to the kernel, which gathers reconstruction rows as it streams. With
    alpha, both images are composited over ``grey`` band by band: SSIM is a mean over 7x7
    windows, so the per-band means (each band with the 6 rows its last windows reach),
    weighted by their window rows, give the same mean.
    """
    h, w = indices.shape
    if min(h, w) < 7:
        return math.nan
    if grey is None:
        return float(
            _kernels.ssim_indexed(
                np.ascontiguousarray(original), indices, np.ascontiguousarray(palette)
            )
        )
    rows = h - 6
    total = 0.0
    for top, end in _bands(rows):
        a = _over(original[top : end + 6], grey)
        b = _over(palette[indices[top : end + 6]], grey)
        total += _kernels.ssim_rgb(a, b) * (end - top)
    return total / rows


def _indexed_metrics(
    per_grey: list,
    pixels: float,
    original: np.ndarray,
    indices: np.ndarray,
    palette: np.ndarray,
    ssimulacra2: float | None,
) -> Metrics:
    """The reported metrics from ``(squared error sum, SSIM, CIEDE2000)`` per background
    grey (the worst kept, :func:`_worst`) over ``pixels`` pixels; SSIMULACRA2 measured
    unless given."""
    sq, s, de = _worst(per_grey)
    m = sq / pixels
    return Metrics(
        mse=m,
        psnr=psnr(m),
        ssim=s,
        delta_e=de,
        ssimulacra2=(
            ssimulacra2_indexed(original, indices, palette) if ssimulacra2 is None else ssimulacra2
        ),
    )


def measure_indexed(
    original: np.ndarray,
    indices: np.ndarray,
    palette: np.ndarray,
    *,
    ssimulacra2: float | None = None,
) -> Metrics:
    """All metrics of ``palette[indices]`` against ``original``, pixel by pixel, in bands.

    The same values as :func:`measure` on the full reconstruction, holding only one band
    of it (:data:`BAND_ROWS` rows) at a time. ``ssimulacra2``, when given, is that score
    already measured (by :func:`ssimulacra2_indexed`).
    """
    h, w = indices.shape
    per_grey = []
    for grey in _backgrounds(original, palette):
        sq = 0
        de = 0.0
        for top, end in _bands(h):
            a = _over(original[top:end], grey)
            b = _over(palette[indices[top:end]], grey)
            sq += _kernels.squared_error_sum(a, b)
            de += _kernels.ciede2000_mean_image(a, b) * (end - top)
        per_grey.append((sq, _ssim_indexed(original, indices, palette, grey), de / h))
    return _indexed_metrics(per_grey, h * w, original, indices, palette, ssimulacra2)


def counts_pairs(colours: int, pixels: int) -> bool:
    """Whether :func:`count_pairs` counts pairs for an image of ``pixels`` pixels and
    ``colours`` distinct colours (else each pixel is a pair: :data:`PAIRS_MAX_SHARE`)."""
    return colours <= PAIRS_MAX_SHARE * pixels


def count_pairs(original: np.ndarray, indices: np.ndarray, colours: int = 0, *, beside=None):
    """The distinct (colour, palette entry) pairs of ``palette[indices]`` against
    ``original`` as ``(colors, assign, counts)`` for :func:`measure_pairs`; above
    :data:`PAIRS_MAX_SHARE` of the pixels in ``colours`` (how many distinct colours
    ``original`` has, when known) each pixel is a pair of its own (counts None).

    ``beside``, when given, is a callable run on this core while the second counts the
    pairs (the same pairs): the result is then ``(pairs, beside())``.
    """
    if not counts_pairs(colours, indices.size):
        pairs = (pixels2d(original), indices.reshape(-1), None)
        return pairs if beside is None else (pairs, beside())
    counted = _kernels.pair_histogram(pixels2d(original), indices, colours, beside)
    keys, counts = counted[0], counted[1]
    colors = np.ascontiguousarray(
        keys.astype(np.uint32).view(np.uint8).reshape(-1, 4)[:, : original.shape[2]]
    )
    pairs = (colors, (keys >> np.uint64(32)).astype(np.uint8), counts)
    return pairs if beside is None else (pairs, counted[2])


def measure_mapped(
    original: np.ndarray,
    indices: np.ndarray,
    palette: np.ndarray,
    *,
    pairs: tuple | None = None,
    ssimulacra2: float | None = None,
    colours: int = 0,
    beside=None,
):
    """All metrics of ``palette[indices]`` against ``original``, never building it whole.

    MSE and CIEDE2000 are sums over the distinct (colour, palette entry) pairs:
    ``pairs`` = ``(colors, assign, counts)`` as for :func:`measure_pairs` when the caller
    knows them (the fit's histogram, when each colour kept its entry, or
    :func:`count_pairs`), else counted from the indices (a dithered photo has a few times
    fewer pairs than pixels, a graphic far fewer). ``ssimulacra2`` as for
    :func:`measure_indexed`; measured first, before the pairs are counted, so that its
    working memory and theirs do not add up. ``colours``, when known, is how many
    distinct colours ``original`` has (see :func:`count_pairs`). ``beside`` as for
    :func:`measure_pairs` (the result is then ``(metrics, beside())``).
    """
    if ssimulacra2 is None:
        ssimulacra2 = ssimulacra2_indexed(original, indices, palette)
    if pairs is None:
        pairs = count_pairs(original, indices, colours)
    return measure_pairs(original, indices, palette, *pairs, ssimulacra2=ssimulacra2, beside=beside)


def measure_pairs(
    original: np.ndarray,
    indices: np.ndarray,
    palette: np.ndarray,
    colors: np.ndarray,
    assign: np.ndarray,
    counts: np.ndarray | None,
    *,
    ssimulacra2: float | None = None,
    beside=None,
):
    """Metrics from the distinct (colour, palette entry) pairs of a remapped image.

    MSE and CIEDE2000 are sums over the pairs (``colors`` uint8 (n, C) going to palette
    entries ``assign`` (n,), ``counts`` pixels each, or None: one each) instead of over
    the pixels: a photo has several times fewer pairs than pixels, a graphic far fewer.
    SSIM and SSIMULACRA2 still need the images, and take them from ``palette[indices]``
    (``ssimulacra2`` as for :func:`measure_indexed`).

    ``beside``, when given, is a callable run on this core while the second starts on
    the SSIM (of an opaque image of 7 pixels a side or more; else it runs first): the
    result is then ``(metrics, beside())``, with the same metrics.
    """
    weights = counts.astype(np.float64) if counts is not None else None
    total = weights.sum() if weights is not None else len(colors)
    index = np.ascontiguousarray(assign, dtype=np.uint8)
    greys = _backgrounds(colors, palette)
    done = None
    if beside is not None and (greys != (None,) or min(indices.shape) < 7):
        done, beside = (beside(),), None  # no SSIM kernel to share the cores with
    per_grey = []
    for grey in greys:
        c1, pal = _over(colors, grey), _over(palette, grey)
        sq = float(_kernels.squared_error_pairs(c1, index, pal, counts))
        de = float(_kernels.ciede2000_mean_indexed(c1, index, pal, weights))
        if beside is not None:
            s, value = _kernels.ssim_indexed(
                np.ascontiguousarray(original), indices, np.ascontiguousarray(palette), beside
            )
            per_grey.append((sq, float(s), de))
            done = (value,)
        else:
            per_grey.append((sq, _ssim_indexed(original, indices, palette, grey), de))
    measured = _indexed_metrics(per_grey, total, original, indices, palette, ssimulacra2)
    return measured if done is None else (measured, done[0])
