"""Map pixels to palette entries: the map stage, between the fit and the encode.

Each distinct colour of the image's histogram is mapped once (its nearest palette entry
in the working coordinates of the fit, or its ordered-dithering mix) and the result is
scattered to the pixels through a hash table, so the cost is one pass over the pixels;
error diffusion then revisits the pixels in scan order (:mod:`palettepress.dither` holds
the dithering kernels and ``auto``'s choice). Indices are written straight into rows
the PNG writer deflates without a copy (:func:`palettepress.encode.index_rows`).
"""

from __future__ import annotations

import numpy as np

from . import _kernels, colorspace, dither, encode, metrics
from .histogram import Histogram, histogram, pixels2d

__all__ = ["nearest", "map_pixels", "entries_for", "covers", "colour_table"]

#: In a :func:`colour_table`, a colour not in it.
UNKNOWN = 255

#: Undithered indices are mapped for the runs a deflate (or LZW) codes cheaply: a pixel
#: takes its left neighbour's entry instead of its nearest where that entry's squared
#: distance (Oklab working coordinates) is at most this squared above the nearest's,
#: unless the pixel is within :data:`dither.FLOOR` of its nearest (``_kernels.run_bias``).
#: Measured with ``--dither 0`` on 17 CBSD68 photos and 12 graphics against nearest
#: entries alone: photos 0.9% / 3.0% / 4.7% smaller at k = 16 / 64 / 256 for 0.41 / 0.74
#: / 1.06 lower SSIMULACRA2, graphics 4.3% / 7.9% / 11% for 0.39 / 0.44 / 0.68. Fewer
#: colours cost more: k = 60 instead of 64 makes the photos 2.4% smaller for 0.83
#: points, k = 15 instead of 16 3.3% for 3.9. Without the floor the graphics lost 1.49 /
#: 3.58 points at k = 64 / 256 (flat areas the palette matches taking a near entry);
#: there, the entry above instead of the left one saved half as much at the same loss,
#: the left one where it is near enough and else the one above a third less. The
#: pipeline maps for runs in Oklab only: ``space="rgb"`` is the least RGB error.
RUN_SLACK = 0.0075


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


def map_pixels(
    pixels: np.ndarray,
    palette: np.ndarray,
    space: str,
    method: str,
    strength: float,
    *,
    hist: Histogram | None = None,
    assign: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    keep_index: int | np.ndarray = 0,
    lut: np.ndarray | None = None,
    lzw_slack: float | None = None,
    run_slack: float | None = None,
) -> np.ndarray:
    """Palette indices (uint8, ``(H, W)``) of ``pixels`` by ``method``.

    ``method`` is ``none`` (nearest colour) or one of :data:`dither.METHODS`, at
    ``strength`` 0..1; ``palette`` is uint8 ``(n, C)``, mapped in ``space``. ``hist``,
    when given, is the histogram of these pixels the palette was fitted to, and
    ``assign`` each of its colours' entry (the fit's labels); otherwise the histogram is
    built here and each colour's nearest entry found. Pixels with more channels than the
    palette are seen over white; with fewer, as opaque. ``keep`` (bool ``(H, W)``), when
    given, marks pixels that take ``keep_index`` instead (an animation frame's pixels that
    go on showing an earlier frame; ``hist`` then need not hold their colours), or each
    its own entry where ``keep_index`` is a uint8 ``(H, W)`` array of them. ``lut``,
    for opaque pixels and method ``none`` or ``diffusion``, replaces ``hist``: a
    :func:`colour_table` of entries by packed RGB. ``lzw_slack``, with method
    ``diffusion``, dithers for a GIF's LZW (see :func:`dither.diffuse`); ``run_slack``
    (working coordinates of ``space``), with method ``none``, maps for runs (see
    :data:`RUN_SLACK`). (Trusted input: the estimator validated it.)
    """
    h, w = pixels.shape[:2]
    channels = palette.shape[1]
    if pixels.shape[2] != channels:
        if pixels.shape[2] == 3:
            pixels = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2)
        else:
            pixels = metrics.composite_over(pixels, 1.0)  # an opaque palette: seen on white
    clear = -1
    if channels == 4 and (palette[:, 3] == 0).any():
        clear = int(np.nonzero(palette[:, 3] == 0)[0][0])
    # Indices go straight into rows the PNG encoder deflates without a copy.
    out = encode.index_rows(h, w)
    working = colorspace.to_working(palette, space)
    if lut is not None:
        _from_table(pixels, lut, working, space, out)
    else:
        flat = pixels2d(pixels)
        given_hist = hist is not None
        if hist is None:
            hist = histogram(flat, max_distinct=1 << 32)
        if method == "ordered":
            x = colorspace.to_working(hist.colors8 if hist.exact else hist.colors, space)
            mixes = dither.ordered_mixes(x, working, space, strength)
            if clear >= 0 and hist.colors.shape[1] == 4:
                mixes[hist.colors[:, 3] == 0] = clear
            _kernels.lookup_pattern(flat, hist.keys, mixes, hist.mask, out)
        else:
            values = assign if given_hist else _nearest_values(hist, working, space, clear)
            _kernels.lookup(flat, hist.keys, values, hist.mask, out=out)
    entries = keep_index if isinstance(keep_index, np.ndarray) else None
    if keep is not None and entries is not None:
        np.copyto(out, entries, where=keep)
    if method == "diffusion":
        # The error diffusion starts from the nearest entries the table or histogram gave
        # (and the kept pixels' own).
        return dither.diffuse(
            pixels,
            working,
            space,
            strength,
            clear,
            out=out,
            prefilled=True,
            keep=keep,
            keep_index=-1 if entries is not None else int(keep_index),
            lzw_slack=lzw_slack,
        )
    if method == "none" and run_slack:
        _kernels.run_bias(
            np.ascontiguousarray(pixels),
            np.ascontiguousarray(working, dtype=np.float32),
            space == "oklab",
            colorspace.OKLAB_LIGHTNESS_WEIGHT,
            run_slack,
            dither._floor(space),
            clear,
            out,
        )
    if keep is not None:
        np.copyto(out, keep_index, where=keep)
    return out


def _nearest_values(hist: Histogram, working: np.ndarray, space: str, clear: int) -> np.ndarray:
    """Each histogram colour's nearest entry (uint8); transparent colours take ``clear``."""
    x = colorspace.to_working(hist.colors8 if hist.exact else hist.colors, space)
    values = nearest(x, working).astype(np.uint8)
    if clear >= 0 and hist.colors.shape[1] == 4:
        values[hist.colors[:, 3] == 0] = clear
    return values


def entries_for(
    hist: Histogram, palette: np.ndarray, space: str, fitted: Histogram, assign: np.ndarray
) -> np.ndarray:
    """Each colour of ``hist``'s palette entry (uint8): the fit's own (``assign``, per colour
    of ``fitted``, the histogram the palette was fitted to) where the fit saw the colour,
    else the nearest one. For an animation frame drawn with its window's palette: most of
    its colours were in the fit, and only the others need a search."""
    at = _kernels.positions(np.ascontiguousarray(hist.colors8), fitted.keys, fitted.mask)
    values = np.empty(len(hist), dtype=np.uint8)
    seen = at >= 0
    values[seen] = assign[at[seen]]
    if not seen.all():
        clear = -1
        if palette.shape[1] == 4 and (palette[:, 3] == 0).any():
            clear = int(np.nonzero(palette[:, 3] == 0)[0][0])
        missing = Histogram(
            colors=hist.colors[~seen],
            counts=hist.counts[~seen],
            keys=hist.keys[~seen],
            mask=hist.mask,
        )
        values[~seen] = _nearest_values(
            missing, colorspace.to_working(palette, space), space, clear
        )
    return values


def covers(fitted: Histogram, hist: Histogram) -> bool:
    """Whether every colour of ``hist`` is one of ``fitted``'s."""
    if not hist.exact or not fitted.exact:
        return False
    return bool((_kernels.positions(np.ascontiguousarray(hist.colors8), fitted.keys) >= 0).all())


def colour_table(
    hist: Histogram, values: np.ndarray, reuse: tuple[np.ndarray, Histogram] | None = None
) -> np.ndarray:
    """A table of entries by packed RGB (uint8, 2**24; :data:`UNKNOWN` for other colours)
    from an opaque histogram and its colours' entries (at most 255): one lookup a pixel
    for the frames of an animation window, instead of a histogram of each.

    ``reuse``, when given, is a table made so before and the histogram it was made from:
    only that histogram's colours are set back to unknown (filling 16 MiB afresh took
    about 9 ms a window)."""
    if reuse is None:
        table = np.full(1 << 24, UNKNOWN, dtype=np.uint8)
    else:
        table, before = reuse
        table[before.keys & np.uint32(0xFFFFFF)] = UNKNOWN
    table[hist.keys & np.uint32(0xFFFFFF)] = values
    return table


def _from_table(pixels: np.ndarray, table: np.ndarray, working: np.ndarray, space: str, out):
    """Each pixel's entry from a :func:`colour_table` into ``out``; colours the table
    lacks get their nearest entry."""
    if _kernels.frame_lookup(np.ascontiguousarray(pixels), table, out, UNKNOWN):
        unknown = out == UNKNOWN
        missing = np.ascontiguousarray(pixels[unknown])
        out[unknown] = nearest(colorspace.to_working(missing, space), working).astype(np.uint8)
