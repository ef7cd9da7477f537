"""Distinct colours of an image and how many pixels have each.

Clustering works on this weighted list instead of on every pixel: a 12-megapixel photo
has a few hundred thousand distinct colours at most, a Kodak photo 13-72 thousand. The
map stage and the metrics reuse it. Arrays in and out: no colour spaces, no palettes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import _kernels

__all__ = [
    "Histogram",
    "histogram",
    "histogram_of",
    "group_colors",
    "group_means",
    "merge",
    "pick_rows",
    "pixels2d",
    "MAX_DISTINCT",
]

#: Above this many distinct colours the histogram drops low bits of each channel
#: (one bit at a time, alpha last) and represents each merged group by its mean colour.
#: Kept high: the fit itself runs on groups above ``quantizer.FIT_MAX_POINTS`` anyway, and an
#: exact histogram lets the metrics run over distinct colours instead of pixels (a
#: 110-megapixel photo with 439 thousand colours: metrics 13.6 s per pixel, about 1 s
#: per colour).
MAX_DISTINCT = 1 << 20

_FULL = 0xFFFFFFFF


@dataclass(frozen=True)
class Histogram:
    """Distinct colours of an image.

    Attributes
    ----------
    colors : ndarray, float64 (n, C)
        The colours (exact 8-bit values unless ``mask`` drops bits, then group means).
    counts : ndarray, uint64 (n,)
        Pixels per colour.
    keys : ndarray, uint32 (n,)
        Packed ``R | G<<8 | B<<16 | A<<24`` of each colour after ``& mask``.
    mask : int
        The precision mask applied to packed colours (0xFFFFFFFF = exact).
    """

    colors: np.ndarray
    counts: np.ndarray
    keys: np.ndarray
    mask: int

    @cached_property
    def colors8(self) -> np.ndarray:
        """The colours as uint8 ``(n, C)`` (rounded group means when not exact)."""
        if self.exact:
            return np.ascontiguousarray(_unpack(self.keys, self.colors.shape[1]))
        return np.clip(np.rint(self.colors), 0, 255).astype(np.uint8)

    @property
    def exact(self) -> bool:
        """True when every colour is an exact pixel value (no precision reduction)."""
        return self.mask == _FULL

    def __len__(self) -> int:
        return len(self.keys)


def _unpack(keys: np.ndarray, channels: int) -> np.ndarray:
    return keys.view(np.uint8).reshape(-1, 4)[:, :channels]


def _mask(drop: int) -> int:
    """Packed-colour mask dropping ``drop`` low bits of R, G, B and ``drop - 1`` of alpha."""
    per = (0xFF << drop) & 0xFF
    alpha = (0xFF << max(drop - 1, 0)) & 0xFF
    return per | (per << 8) | (per << 16) | (alpha << 24)


def group_colors(colors: np.ndarray, max_groups: int) -> tuple[np.ndarray, int]:
    """Group distinct 8-bit colours ``(n, C)`` into at most ``max_groups`` groups of
    near-equal colours.

    Groups are the colours equal after dropping low bits (as in :func:`histogram`, the
    fewest bits that make them fit). Returns each colour's group index (int32; groups
    numbered in order of first appearance) and the number of groups.
    """
    colors = np.ascontiguousarray(colors, dtype=np.uint8)
    if len(colors) <= max_groups:
        return np.arange(len(colors), dtype=np.int32), len(colors)
    group = np.empty(len(colors), dtype=np.int32)
    if colors.shape[1] == 3:
        # Every drop's count from one pass of bitmaps; then one histogram at that drop.
        sizes = _kernels.drop_counts(colors)
        drops = [next((d for d in range(1, 8) if sizes[d] <= max_groups), 7)]
    else:
        drops = list(range(1, 8))
    for drop in drops:  # each histogram numbers the colours; the last that fits is kept
        keys, _, _ = _kernels.histogram(colors, _mask(drop), False, None, group)
        if len(keys) <= max_groups:
            break
    return group, len(keys)


def group_means(
    group: np.ndarray, m: int, x: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean (float32 ``(m, d)``) and the weight (float64 ``(m,)``) of each of
    the ``m`` groups of points ``x`` ``(n, d)`` with weights ``w`` (``group`` as
    :func:`group_colors` returns it)."""
    return _kernels.group_means(
        np.ascontiguousarray(group, dtype=np.int32),
        m,
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(w, dtype=np.float64),
    )


def histogram(
    pixels: np.ndarray, *, weights: np.ndarray | None = None, max_distinct: int = MAX_DISTINCT
) -> Histogram:
    """Distinct colours of ``pixels`` ``(N, C)`` uint8 with C = 3 or 4.

    Colours come in order of first appearance (deterministic for a given image).

    When there are more than ``max_distinct`` colours, the lowest bit of every channel is
    dropped (colour channels first, alpha one step later) until they fit; each merged
    group is then represented by the mean of its pixels, so no colour shifts on average.
    ``weights`` (N,) uint64, when given, counts each row that many times.
    """
    channels = pixels.shape[1]
    mask = _FULL
    keys, counts, _ = _kernels.histogram(pixels, _FULL, False, weights)
    colors = None
    drop = 0
    while len(keys) > max_distinct and drop < 7:
        drop += 1
        mask = _mask(drop)
        keys, counts, sums = _kernels.histogram(pixels, mask, True, weights)
        colors = sums / counts[:, None]
    if colors is None:
        colors = _unpack(keys, channels).astype(np.float64)
    return Histogram(colors=colors, counts=counts, keys=keys, mask=mask)


def histogram_of(
    keys: np.ndarray, counts: np.ndarray, channels: int, *, max_distinct: int = MAX_DISTINCT
) -> Histogram:
    """The :class:`Histogram` of exact packed colours ``keys`` with ``counts`` (what
    ``_kernels`` functions that count colours return): the same as :func:`histogram` of
    the pixels they count, coarsened the same way above ``max_distinct`` colours."""
    colors8 = _unpack(keys, channels)
    if len(keys) > max_distinct:
        return histogram(np.ascontiguousarray(colors8), weights=counts, max_distinct=max_distinct)
    return Histogram(colors=colors8.astype(np.float64), counts=counts, keys=keys, mask=_FULL)


def pixels2d(pixels: np.ndarray) -> np.ndarray:
    """(N, C) view of ``(H, W, C)`` pixels with every fully transparent pixel set to
    (0, 0, 0, 0): what :func:`histogram` and the remap take (copied only when needed)."""
    flat = pixels.reshape(-1, pixels.shape[-1])
    if flat.shape[1] == 4:
        clear = flat[:, 3] == 0
        if clear.any():
            flat = flat.copy()
            flat[clear] = 0
    return np.ascontiguousarray(flat)


def pick_rows(flat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The rows of ``flat`` ((N, C) uint8, C-contiguous) where ``mask`` (N,) is True, as a
    new contiguous array. Each row is taken as one C-byte item: numpy picks the rows of a
    2-D array by a mask about 30 times slower (a 480x270 frame: 2.6 against 0.09 ms)."""
    row = np.dtype((np.void, flat.shape[1]))
    return flat.view(row).reshape(-1)[mask].view(np.uint8).reshape(-1, flat.shape[1])


def merge(hists: list[Histogram], channels: int) -> Histogram:
    """One histogram of several images' exact histograms (their counts summed)."""
    if len(hists) == 1:
        return hists[0]
    keys = np.concatenate([h.keys for h in hists])
    counts = np.concatenate([h.counts for h in hists])
    uniq, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=counts.astype(np.float64)).astype(np.uint64)
    colors = uniq.view(np.uint8).reshape(-1, 4)[:, :channels].astype(np.float64)
    return Histogram(colors=colors, counts=summed, keys=uniq, mask=0xFFFFFFFF)
