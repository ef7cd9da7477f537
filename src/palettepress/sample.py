"""The built-in sample: a synthetic landscape, generated, so it carries no licence.

Smooth gradients (sky, water), hard edges (hills, sun) and fine texture (grass) are
what makes colour quantization hard, so the sample shows both banding and detail.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_image"]


def sample_image(width: int = 480, height: int = 320) -> np.ndarray:
    """The sample as a uint8 RGB array ``(height, width, 3)``, identical on every call."""
    rng = np.random.default_rng(20261128)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / width, y / height
    img = np.empty((height, width, 3))
    # Sky: deep blue at the top to warm haze at the horizon.
    t = np.clip(v / 0.55, 0, 1)[..., None]
    img[:] = (1 - t) * np.array([40, 80, 170]) + t * np.array([250, 190, 140])
    # Sun with a soft glow.
    r = np.hypot(u - 0.72, (v - 0.38) * height / width)
    glow = np.exp(-((r / 0.12) ** 2))[..., None]
    img = img * (1 - 0.6 * glow) + 0.6 * glow * np.array([255, 230, 170])
    img[r < 0.05] = [255, 244, 214]
    # Far and near hills.
    far = 0.50 + 0.05 * np.sin(u * 7.0 + 1.0) + 0.02 * np.sin(u * 23.0)
    near = 0.63 + 0.07 * np.sin(u * 4.0 + 2.5) + 0.015 * np.sin(u * 41.0)
    shade = (v - far)[..., None]
    img = np.where((v > far)[..., None], np.array([95, 110, 150]) + 120 * shade, img)
    grass = np.array([60, 130, 50]) + 90 * (v - near)[..., None] * np.array([0.3, -0.6, 0.2])
    grass = grass + rng.normal(0, 14, (height, width, 1)) * np.array([0.6, 1.0, 0.4])
    img = np.where((v > near)[..., None], grass, img)
    # Water in the lower left, reflecting the sky.
    lake = (v > 0.80) & (u < 0.55 + 0.1 * np.sin(v * 20))
    ripple = 8 * np.sin(x * 0.35 + 3 * np.sin(y * 0.2))[..., None]
    img = np.where(
        lake[..., None], np.array([70, 120, 185]) * (1.25 - 0.4 * v)[..., None] + ripple, img
    )
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
