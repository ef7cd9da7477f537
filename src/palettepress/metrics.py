"""Quality and size figures: MSE, PSNR, SSIM, mean CIEDE2000, bits per pixel.

Definitions (8-bit sRGB images):

- **MSE**: squared RGB error summed over the three channels, divided by the number of
  pixels (the convention of the k-means colour-quantization literature).
- **PSNR**: ``10 log10(255² / (MSE / 3))``, i.e. on the per-channel mean squared error,
  as ``skimage.metrics.peak_signal_noise_ratio`` computes it on RGB images.
- **SSIM**: exactly ``skimage.metrics.structural_similarity(a, b, channel_axis=-1,
  data_range=255)`` (7x7 uniform window, sample covariance); NaN for images smaller than
  7 pixels on a side, where it is not defined.
- **CIEDE2000**: mean over pixels of ``skimage.color.deltaE_ciede2000`` on
  ``skimage.color.rgb2lab`` of both images.

Images with alpha are measured after compositing both over white, as they would be seen
on a white page. The compiled kernels reproduce scikit-image's values (the tests compare
them to 1e-6) at a fraction of the time and without float copies of the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels

__all__ = ["Metrics", "mse", "psnr", "ssim", "delta_e", "measure", "measure_pairs",
           "measure_indexed", "composite_over_white"]

#: Rows per band when a reconstruction is built band by band (see :func:`measure_indexed`).
BAND_ROWS = 256


@dataclass(frozen=True)
class Metrics:
    """Quality of a reconstruction against its original (see the module docstring)."""

    mse: float
    psnr: float
    ssim: float
    delta_e: float


def composite_over_white(image: np.ndarray) -> np.ndarray:
    """RGB uint8 of an RGBA image composited over white; RGB images are returned as is."""
    if image.shape[-1] != 4:
        return image
    rgb = image[..., :3].astype(np.uint32)
    a = image[..., 3:4].astype(np.uint32)
    out = (rgb * a + 255 * (255 - a) + 127) // 255
    return np.ascontiguousarray(out.astype(np.uint8))


def psnr(mse_value: float) -> float:
    """PSNR in dB of an MSE as defined here (infinite for a lossless result)."""
    if mse_value <= 0:
        return math.inf
    return 10.0 * math.log10(255.0 ** 2 * 3.0 / mse_value)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """MSE (summed over RGB, per pixel) of two uint8 images of the same shape."""
    a, b = composite_over_white(a), composite_over_white(b)
    return _kernels.squared_error_sum(np.ascontiguousarray(a), np.ascontiguousarray(b)) / (a.shape[0] * a.shape[1])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 images, equal to scikit-image's (see the module docstring)."""
    a, b = composite_over_white(a), composite_over_white(b)
    if min(a.shape[0], a.shape[1]) < 7:
        return math.nan
    return float(_kernels.ssim_rgb(np.ascontiguousarray(a), np.ascontiguousarray(b)))


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 of two uint8 images, equal to scikit-image's."""
    a, b = composite_over_white(a), composite_over_white(b)
    return float(_kernels.ciede2000_mean_image(np.ascontiguousarray(a), np.ascontiguousarray(b)))


def measure(original: np.ndarray, reconstructed: np.ndarray) -> Metrics:
    """All metrics of a reconstruction, computed pixel by pixel."""
    m = mse(original, reconstructed)
    return Metrics(mse=m, psnr=psnr(m), ssim=ssim(original, reconstructed),
                   delta_e=delta_e(original, reconstructed))


def _bands(height: int):
    """``(top, end)`` row ranges of at most :data:`BAND_ROWS` rows covering ``height`` rows."""
    for top in range(0, height, BAND_ROWS):
        yield top, min(height, top + BAND_ROWS)


def _ssim_indexed(original: np.ndarray, indices: np.ndarray, palette: np.ndarray) -> float:
    """SSIM of ``original`` against ``palette[indices]`` without the whole reconstruction.

    Opaque images go to the kernel, which gathers reconstruction rows as it streams. With
    alpha, both images are composited over white band by band: SSIM is a mean over 7x7
    windows, so the per-band means (each band with the 6 rows its last windows reach),
    weighted by their window rows, give the same mean.
    """
    h, w = indices.shape
    if min(h, w) < 7:
        return math.nan
    if original.shape[2] == palette.shape[1] == 3:
        return float(_kernels.ssim_indexed(np.ascontiguousarray(original), indices,
                                           np.ascontiguousarray(palette)))
    rows = h - 6
    total = 0.0
    for top, end in _bands(rows):
        a = composite_over_white(original[top:end + 6])
        b = composite_over_white(palette[indices[top:end + 6]])
        total += _kernels.ssim_rgb(np.ascontiguousarray(a), np.ascontiguousarray(b)) * (end - top)
    return total / rows


def measure_indexed(original: np.ndarray, indices: np.ndarray, palette: np.ndarray) -> Metrics:
    """All metrics of ``palette[indices]`` against ``original``, pixel by pixel, in bands.

    The same values as :func:`measure` on the full reconstruction, holding only one band
    of it (:data:`BAND_ROWS` rows) at a time.
    """
    h, w = indices.shape
    sq = 0
    de = 0.0
    for top, end in _bands(h):
        a = np.ascontiguousarray(composite_over_white(original[top:end]))
        b = np.ascontiguousarray(composite_over_white(palette[indices[top:end]]))
        sq += _kernels.squared_error_sum(a, b)
        de += _kernels.ciede2000_mean_image(a, b) * (end - top)
    m = sq / (h * w)
    return Metrics(mse=m, psnr=psnr(m), ssim=_ssim_indexed(original, indices, palette), delta_e=de / h)


def measure_pairs(original: np.ndarray, indices: np.ndarray, palette: np.ndarray,
                  colors: np.ndarray, mapped: np.ndarray, counts: np.ndarray) -> Metrics:
    """Metrics when every pixel of a colour maps to the same palette colour.

    Then MSE and CIEDE2000 are sums over the distinct colours (``colors`` uint8 (n, C),
    each mapped to ``mapped`` (n, C), ``counts`` pixels each) instead of over the pixels;
    SSIM still needs the images, and is taken band by band from ``palette[indices]``.
    """
    c1 = composite_over_white(colors)
    c2 = composite_over_white(mapped)
    diff = c1.astype(np.int64) - c2.astype(np.int64)
    total = counts.astype(np.float64).sum()
    m = float((counts.astype(np.int64) * (diff * diff).sum(axis=1)).sum() / total)
    de = float(_kernels.ciede2000_mean(np.ascontiguousarray(c1), np.ascontiguousarray(c2),
                                       counts.astype(np.float64)))
    return Metrics(mse=m, psnr=psnr(m), ssim=_ssim_indexed(original, indices, palette), delta_e=de)
