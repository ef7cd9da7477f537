"""The orchestrator: :class:`Quantizer` (fit a palette, remap images) and :func:`compress`."""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from . import _kernels, colorspace, encode, formats, kmeans, metrics, remap, seeding
from .errors import ParameterError, TargetError
from .histogram import Histogram, group_colors, histogram
from .io import DEFAULT_MAX_PIXELS, LoadedImage, from_array, load, write_atomic

__all__ = ["Quantizer", "Result", "compress", "sweep", "load_image", "TARGETS", "GifAlphaWarning"]

_TRANSPARENT = np.zeros(4, dtype=np.uint8)


#: What each ``effort`` level (1 = fastest, 10 = best, 5 = default) spends: a factor on
#: Lloyd's tolerance, Hartigan passes, whether the initial split goes to 2k and merges
#: back, how many centre swaps :func:`~palettepress.kmeans.swap` tries, and the deflate
#: level. BENCHMARKS.md (effort levels) has the time and quality each level measured.
#: The default deflates at level 6: a default run also dithers and measures SSIMULACRA2,
#: and level 6 saves about 3 ms of a Kodak photo's 75 (measured side by side), for files
#: 0.6% larger than at 7 (design measurements), which effort 6 and up spend.
#: libdeflate's levels 8 and 9 deflate palette indices no smaller than 7 (design
#: measurements), so the deflate level steps from 7 straight to 10; from effort 9 the PNG
#: writer also searches palette orders and row filters (:mod:`palettepress.formats`),
#: and for WebP the effort picks libwebp's method and quality. The swaps are what
#: levels 9 and 10 add to the fit: on USC-SIPI Airplane, Mandrill and Peppers and Kodak
#: 01, 05 and 23 at k = 64 and 256, in RGB, effort 10's MSE is 0.2-0.9% lower than
#: without them (median 0.7%; Airplane 35.95 to 35.70 at k = 64, 14.52 to 14.40 at
#: k = 256) and effort 9's 0.5% (one of the 12 cases 0.03% higher); in Oklab CIEDE2000
#: moves by -2.0% to +0.4% (median -0.6%). They take 2-5 times the fit time; with the PNG
#: layout search, efforts 9 and 10 take 10-15 times effort 5's whole time on Kodak photos
#: (BENCHMARKS.md, effort levels). On the Kodak photos of BENCHMARKS.md effort 10's files
#: came out 0.6% smaller at k = 64 and 1.0% larger at k = 256 with the swaps than without.
class Effort(TypedDict):
    """What one effort level spends (see :data:`EFFORTS`)."""

    tol_scale: float
    hartigan: int
    merge: bool
    swaps: int
    deflate: int


EFFORTS: dict[int, Effort] = {
    1: {"tol_scale": 10.0, "hartigan": 0, "merge": False, "swaps": 0, "deflate": 4},
    2: {"tol_scale": 5.0, "hartigan": 0, "merge": False, "swaps": 0, "deflate": 5},
    3: {"tol_scale": 3.0, "hartigan": 1, "merge": True, "swaps": 0, "deflate": 6},
    4: {"tol_scale": 2.0, "hartigan": 2, "merge": True, "swaps": 0, "deflate": 6},
    5: {"tol_scale": 1.0, "hartigan": 3, "merge": True, "swaps": 0, "deflate": 6},
    6: {"tol_scale": 0.5, "hartigan": 4, "merge": True, "swaps": 0, "deflate": 7},
    7: {"tol_scale": 0.3, "hartigan": 6, "merge": True, "swaps": 0, "deflate": 7},
    8: {"tol_scale": 0.1, "hartigan": 8, "merge": True, "swaps": 0, "deflate": 10},
    9: {"tol_scale": 0.03, "hartigan": 12, "merge": True, "swaps": 12, "deflate": 11},
    10: {"tol_scale": 0.01, "hartigan": 20, "merge": True, "swaps": 32, "deflate": 12},
}

#: Lloyd's convergence tolerance by working space. In RGB the fitted SSE is the MSE that
#: ``--space rgb`` users measure, and converging further pays: on the 38 Kodak and
#: USC-SIPI photos at k = 16, 64 and 256, 1e-4 instead of 1e-3 lowers the MSE ratio to
#: pngquant from 0.922 to 0.919 for 30% more fit time. In Oklab the same change moves
#: CIEDE2000 by about 0.2%, not worth the time.
DEFAULT_TOL = {"oklab": 1e-3, "rgb": 1e-4}

#: Each swap trial of efforts 9 and 10 runs Lloyd's iterations to this factor times
#: :data:`DEFAULT_TOL`, looser than the effort's own: on USC-SIPI Airplane at k = 64
#: and 256 in RGB, 32 trials converged to 3e-5 lower the MSE by 0.7% / 0.8%; to 1e-4,
#: by 0.6% / 0.6% in 60% / 75% of that time; to 1e-5, by 0.7% / 0.8% in 125% of it.
SWAP_TOL_SCALE = 0.3

#: Above this many distinct colours the palette is fitted on groups of near-equal colours
#: (one low bit dropped per channel, or more until they fit). Measured on USC-SIPI
#: Mandrill (230 thousand colours in 262 thousand pixels): the same CIEDE2000 within
#: 0.2% at k = 16 and 256, in 40% of the time.
FIT_MAX_POINTS = 1 << 17


def load_image(image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """A :class:`~palettepress.io.LoadedImage` from a path, a uint8 array or a PIL image."""
    if isinstance(image, LoadedImage):
        return image
    if isinstance(image, (str, os.PathLike)):
        return load(image, max_pixels=max_pixels)
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "convert"):
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return from_array(np.asarray(image.convert("RGBA" if has_alpha else "RGB")))
    return from_array(image)


def _check_effort(effort) -> None:
    if (
        isinstance(effort, bool)
        or not isinstance(effort, (int, np.integer))
        or effort not in EFFORTS
    ):
        raise ParameterError(f"effort must be an integer from 1 to 10, got {effort!r}")


#: How ``dither_method="auto"`` weighs quality against size: it keeps, of no dithering,
#: diffusion and ordered dithering, the result with the highest SSIMULACRA2 minus this
#: many points per doubling of the file. About half the slope of SSIMULACRA2 against
#: size along k (18-27 points per doubling on the graphics and Kodak sets between
#: k = 64 and 256), so a smaller file wins only where it costs less than a larger
#: palette would; BENCHMARKS.md (perceptual quality) measures it.
AUTO_POINTS_PER_DOUBLING = 10.0

#: The ``dither_method`` values: the methods of :mod:`palettepress.remap`, and ``auto``.
DITHER_METHODS = (*remap.METHODS, "auto")


def _check_method(method) -> None:
    if method not in DITHER_METHODS:
        raise ParameterError(
            f"dither_method must be one of {', '.join(DITHER_METHODS)}, got {method!r}"
        )


def _check_options(colors, space, dither, init, max_iter, tol) -> None:
    if (
        isinstance(colors, bool)
        or not isinstance(colors, (int, np.integer))
        or not 2 <= colors <= 256
    ):
        raise ParameterError(f"colors must be an integer from 2 to 256, got {colors!r}")
    if space not in colorspace.SPACES:
        raise ParameterError(f"space must be one of {', '.join(colorspace.SPACES)}, got {space!r}")
    if not isinstance(dither, (int, float)) or isinstance(dither, bool) or not 0.0 <= dither <= 1.0:
        raise ParameterError(f"dither must be a number from 0 to 1, got {dither!r}")
    if init not in seeding.INITS:
        raise ParameterError(f"init must be one of {', '.join(seeding.INITS)}, got {init!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ParameterError(f"max_iter must be a positive integer, got {max_iter!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and tol >= 0):
        raise ParameterError(f"tol must be a number >= 0 (or None), got {tol!r}")


def _pixels2d(pixels: np.ndarray) -> np.ndarray:
    """(N, C) view of the pixels with every fully transparent pixel set to (0, 0, 0, 0)."""
    flat = pixels.reshape(-1, pixels.shape[-1])
    if flat.shape[1] == 4:
        clear = flat[:, 3] == 0
        if clear.any():
            flat = flat.copy()
            flat[clear] = 0
    return np.ascontiguousarray(flat)


def _merge(hists: list[Histogram], channels: int) -> Histogram:
    """One histogram of several images' exact histograms (keys summed)."""
    if len(hists) == 1:
        return hists[0]
    keys = np.concatenate([h.keys for h in hists])
    counts = np.concatenate([h.counts for h in hists])
    uniq, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=counts.astype(np.float64)).astype(np.uint64)
    colors = uniq.view(np.uint8).reshape(-1, 4)[:, :channels].astype(np.float64)
    return Histogram(colors=colors, counts=summed, keys=uniq, mask=0xFFFFFFFF)


class Quantizer:
    """Fit a palette of at most ``colors`` entries to images, then remap images to it.

    Parameters follow scikit-learn's conventions: ``__init__`` only stores them, ``fit``
    sets the trailing-underscore attributes and returns ``self``.

    Parameters
    ----------
    colors : int
        Palette size, 2 to 256. Images with no more distinct colours keep them exactly.
    space : {"oklab", "rgb"}
        Working colour space of the clustering and the nearest-colour search. ``oklab``
        (perceptual, the default) lowers CIEDE2000; ``rgb`` minimises the RGB MSE.
    dither : float
        Dithering strength for :meth:`remap`, 0 (none) to 1 (the default, the measured
        best of the method).
    dither_method : {"diffusion", "ordered", "auto"}
        ``diffusion`` (the default): error diffusion with the carried error limited;
        ``ordered``: a threshold-matrix mix, flat and compact; ``auto``: whichever of
        those and no dithering measures best per byte (see :data:`AUTO_POINTS_PER_DOUBLING`).
    seed : int
        Seed of the random generator (used by ``init="kmeans++"``; the default
        initialisation is deterministic). Same input and options give the same output.
    init : {"split", "kmeans++"}
        Initial palette: greedy variance split (default) or weighted k-means++.
    max_iter : int
        Cap on Lloyd iterations.
    tol : float, optional
        Convergence: stop when an iteration lowers the weighted SSE by no more than
        ``tol`` times itself. By default :data:`DEFAULT_TOL` of the space: 1e-3 in Oklab,
        1e-4 in RGB, where the SSE is the MSE users measure.
    keep_colors : array-like of uint8 (m, 3) or (m, 4), or str, optional
        Colours locked into the palette exactly (for example ``"#ff0000,#ffffff"``): the
        other ``colors - m`` entries are fitted around them.
    effort : int
        1 (fastest) to 10 (best); 5 is the default. See :data:`EFFORTS`.

    Attributes
    ----------
    palette_ : ndarray, uint8 (n_colors_, 3) or (n_colors_, 4)
        The palette, in file order (translucent entries first, by decreasing alpha,
        then opaque entries by use).
    n_colors_ : int
        Entries in the palette (fewer than ``colors`` for images with fewer colours).
    lossless_ : bool
        True when the fitted images have no more distinct colours than ``colors``.
    n_iter_ : int
        Lloyd iterations run (0 when lossless).
    inertia_ : float
        Weighted SSE of the histogram in working coordinates at the end of the fit.
    n_distinct_ : int
        Distinct colours seen by the fit.
    """

    def __init__(
        self,
        colors: int = 256,
        *,
        space: str = "oklab",
        dither: float = 1.0,
        dither_method: str = "diffusion",
        seed: int = 0,
        init: str = "split",
        max_iter: int = 100,
        tol: float | None = None,
        keep_colors=None,
        effort: int = 5,
    ):
        self.colors = colors
        self.space = space
        self.dither = dither
        self.dither_method = dither_method
        self.seed = seed
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.keep_colors = keep_colors
        self.effort = effort

    @classmethod
    def from_palette(
        cls, palette, *, space: str = "oklab", dither: float = 1.0, dither_method: str = "diffusion"
    ) -> Quantizer:
        """A quantizer that remaps to a given palette instead of fitting one.

        Parameters
        ----------
        palette : array-like of uint8 (n, 3) or (n, 4), or str
            The colours, 1 to 256 of them, or a colour list such as ``"#ff0000,#fff"``.
            Their order is kept.
        """
        from .palettes import parse_colors

        pal = parse_colors(palette) if isinstance(palette, str) else np.asarray(palette)
        if pal.ndim != 2 or pal.shape[1] not in (3, 4) or not 1 <= len(pal) <= 256:
            raise ParameterError(
                f"palette must be 1 to 256 colours of 3 or 4 values, got shape {pal.shape}"
            )
        if pal.dtype != np.uint8:
            if not np.issubdtype(pal.dtype, np.integer) or pal.min() < 0 or pal.max() > 255:
                raise ParameterError("palette values must be integers from 0 to 255")
            pal = pal.astype(np.uint8)
        q = cls(max(len(pal), 2), space=space, dither=dither, dither_method=dither_method)
        _check_options(q.colors, q.space, q.dither, q.init, q.max_iter, q.tol)
        _check_method(q.dither_method)
        q.palette_ = np.ascontiguousarray(pal)
        q.n_colors_ = len(pal)
        q.lossless_ = False
        q.n_iter_ = 0
        q.inertia_ = float("nan")
        q._channels = pal.shape[1]
        q._given = True
        return q

    #: Whether the palette was given (:meth:`from_palette`) rather than fitted.
    _given = False

    # -- fitting -----------------------------------------------------------------

    def fit(self, images, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Quantizer:
        """Fit the palette to one image or a list of images (paths, arrays, PIL images).

        Returns
        -------
        self
        """
        _check_options(self.colors, self.space, self.dither, self.init, self.max_iter, self.tol)
        _check_method(self.dither_method)
        _check_effort(self.effort)
        if isinstance(images, (list, tuple)):
            loaded = [load_image(im, max_pixels=max_pixels) for im in images]
        else:
            loaded = [load_image(images, max_pixels=max_pixels)]
        if not loaded:
            raise ParameterError("fit needs at least one image")
        channels = 4 if any(im.pixels.shape[2] == 4 for im in loaded) else 3
        hists = []
        for im in loaded:
            px = im.pixels
            if px.shape[2] != channels:
                px = np.concatenate([px, np.full(px.shape[:2] + (1,), 255, np.uint8)], axis=2)
            hists.append(histogram(_pixels2d(px)))
        hist = (
            hists[0]
            if len(hists) == 1
            else _merge(
                [
                    h if h.exact else histogram(_pixels2d(im.pixels), max_distinct=1 << 32)
                    for h, im in zip(hists, loaded)
                ],
                channels,
            )
        )
        self._fit_histogram(hist, channels)
        return self

    def _fit_histogram(self, hist: Histogram, channels: int) -> None:
        """Fit to a histogram (trusted: built by :func:`histogram`)."""
        self._hist = hist
        w = hist.counts.astype(np.float64)
        colors = hist.colors
        clear = None
        if channels == 4:
            clear_mask = colors[:, 3] == 0
            if clear_mask.any():
                clear = int(np.nonzero(clear_mask)[0][0])
        self.n_distinct_ = len(hist)
        k = self.colors
        if hist.exact and len(hist) <= k:
            palette = colors.astype(np.uint8)
            assign = np.arange(len(hist), dtype=np.int32)
            self.lossless_, self.n_iter_, self.inertia_ = True, 0, 0.0
        else:
            keep = np.ones(len(hist), dtype=bool)
            if clear is not None:
                keep[clear] = False
            # Exact 8-bit colours convert through a lookup table instead of pow().
            x = colorspace.to_working(
                hist.colors8[keep] if hist.exact else colors[keep], self.space
            )
            k_fit = k - (1 if clear is not None else 0)
            locked = self._locked(channels)
            if len(locked) > k_fit:
                raise ParameterError(
                    f"{len(locked)} locked colours do not fit in a palette of {k}"
                    + (" (one entry is the transparent colour)" if clear is not None else "")
                )
            centres, labels = self._cluster(x, w[keep], hist.colors8[keep], k_fit, locked)
            fitted = colorspace.from_working(centres, self.space)
            if len(locked):
                fitted[len(fitted) - len(locked) :] = locked  # exactly, whatever the rounding
            # Centres that round to the same 8-bit colour become one entry.
            fitted, first, inverse = np.unique(
                fitted, axis=0, return_index=True, return_inverse=True
            )
            inverse = inverse.reshape(-1)
            fitted = fitted[np.argsort(first)]
            rank = np.empty(len(first), dtype=np.int32)
            rank[np.argsort(first)] = np.arange(len(first), dtype=np.int32)
            hint = rank[inverse][labels]
            near = remap.nearest(x, colorspace.to_working(fitted, self.space), hint)
            offset = 0
            if clear is not None:
                fitted = np.vstack([_TRANSPARENT[None, :channels], fitted])
                offset = 1
            palette = fitted
            assign = np.empty(len(hist), dtype=np.int32)
            assign[keep] = near + offset
            if clear is not None:
                assign[clear] = 0
            self.lossless_ = False
        counts = np.bincount(assign, weights=w, minlength=len(palette))
        order = encode.palette_order(palette, counts)
        rank = np.empty(len(palette), dtype=np.int32)
        rank[order] = np.arange(len(palette), dtype=np.int32)
        self.palette_ = np.ascontiguousarray(palette[order])
        self._assign = rank[assign].astype(np.uint8)
        self.n_colors_ = len(self.palette_)
        self._channels = channels

    def _locked(self, channels: int) -> np.ndarray:
        """The locked colours as uint8 (m, channels) (validated here, at the public edge)."""
        if self.keep_colors is None:
            return np.zeros((0, channels), dtype=np.uint8)
        from .palettes import parse_colors

        kc = self.keep_colors
        kc = parse_colors(kc) if isinstance(kc, str) else np.asarray(kc)
        if kc.ndim != 2 or kc.shape[1] not in (3, 4):
            raise ParameterError(
                f"keep_colors must be colours of 3 or 4 values, got shape {kc.shape}"
            )
        if kc.dtype != np.uint8:
            if not np.issubdtype(kc.dtype, np.integer) or kc.min() < 0 or kc.max() > 255:
                raise ParameterError("keep_colors values must be integers from 0 to 255")
            kc = kc.astype(np.uint8)
        if kc.shape[1] == 4 and channels == 3:
            if (kc[:, 3] < 255).any():
                raise ParameterError("a translucent locked colour needs an image with transparency")
            kc = kc[:, :3]
        elif kc.shape[1] == 3 and channels == 4:
            kc = np.concatenate([kc, np.full((len(kc), 1), 255, np.uint8)], axis=1)
        return np.unique(kc, axis=0)

    def _cluster(
        self,
        x: np.ndarray,
        w: np.ndarray,
        colors8: np.ndarray,
        k: int,
        locked: np.ndarray | None = None,
    ):
        """Centres (k, d) and each point's cluster: initial palette, Lloyd, Hartigan.

        ``locked`` colours (uint8) take the last centres and never move.

        Above :data:`FIT_MAX_POINTS` points (photos where nearly every pixel has its own
        colour) the fit runs on groups of near-equal colours, represented by their mean
        in working coordinates; the caller maps every exact colour to its nearest centre.
        """
        group = None
        seed_colors: np.ndarray | None = colors8  # None once points are groups
        if len(x) > FIT_MAX_POINTS:
            group, m = group_colors(colors8, w.astype(np.uint64), FIT_MAX_POINTS)
            wg = np.bincount(group, weights=w, minlength=m)
            x = (
                np.stack(
                    [
                        np.bincount(group, weights=w * x[:, q], minlength=m)
                        for q in range(x.shape[1])
                    ],
                    axis=1,
                )
                / wg[:, None]
            ).astype(np.float32)
            seed_colors = None
            w = wg
        m = 0 if locked is None else len(locked)
        fixed = None
        if locked is not None and m:
            free = k - m
            if free > 0:
                centres, labels = seeding.initial_palette(
                    x,
                    w,
                    min(free, len(x)),
                    self.init,
                    self.seed,
                    seed_colors,
                    EFFORTS[self.effort]["merge"],
                )
            else:
                centres, labels = np.zeros((0, x.shape[1]), np.float32), np.zeros(len(x), np.int32)
            pinned = colorspace.to_working(locked, self.space)
            labels = np.where(labels < len(centres), labels, 0).astype(np.int32)
            centres = np.ascontiguousarray(np.vstack([centres, pinned]), dtype=np.float32)
            fixed = np.zeros(len(centres), dtype=bool)
            fixed[len(centres) - m :] = True
        else:
            centres, labels = seeding.initial_palette(
                x, w, k, self.init, self.seed, seed_colors, EFFORTS[self.effort]["merge"]
            )
        plan = EFFORTS[self.effort]
        tol = DEFAULT_TOL[self.space] * plan["tol_scale"] if self.tol is None else self.tol
        centres, labels, self.n_iter_, self.inertia_ = kmeans.lloyd(
            x, w, centres, labels, max_iter=self.max_iter, tol=tol, fixed=fixed
        )
        if plan["swaps"]:
            centres, labels, _, self.inertia_ = kmeans.swap(
                x,
                w,
                centres,
                labels,
                self.inertia_,
                trials=plan["swaps"],
                tol=max(tol, DEFAULT_TOL[self.space] * SWAP_TOL_SCALE),
                max_iter=self.max_iter,
                fixed=fixed,
            )
        if plan["hartigan"]:
            centres, labels, _, self.inertia_ = kmeans.hartigan(
                x, w, centres, labels, passes=plan["hartigan"], fixed=fixed
            )
        return centres, (labels if group is None else labels[group])

    # -- remapping ---------------------------------------------------------------

    def _working_palette(self) -> np.ndarray:
        return colorspace.to_working(self.palette_, self.space)

    def remap(self, image) -> np.ndarray:
        """Palette indices (uint8, ``(H, W)``) of an image under the fitted palette.

        Without dithering every pixel gets its nearest palette colour in the working
        space; with ``dither > 0`` the ``dither_method`` is used (``auto`` measures the
        candidates on this image and keeps the best per byte).
        """
        if not hasattr(self, "palette_"):
            raise ParameterError("this Quantizer is not fitted yet: call fit() first")
        if self._method() == "auto":
            prep = _Prepared(image, DEFAULT_MAX_PIXELS)
            writer = formats.Writer("png", EFFORTS[self.effort]["deflate"], self.effort)
            return _auto_remap(self, prep, None, None, writer, None)[1]
        return self._remap_pixels(load_image(image).pixels, None, self._method())

    def _method(self) -> str:
        """The method :meth:`remap` uses: ``none`` without dithering or colours to mix."""
        return "none" if self.dither <= 0 or self.lossless_ else self.dither_method

    def _remap_pixels(self, pixels: np.ndarray, hist: Histogram | None, method: str) -> np.ndarray:
        """Indices of ``pixels`` by ``method`` (``none`` or one of :data:`remap.METHODS`)."""
        h, w = pixels.shape[:2]
        if pixels.shape[2] != self._channels:
            if pixels.shape[2] == 3:
                pixels = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2)
            else:
                pixels = metrics.composite_over(pixels, 1.0)  # an opaque palette: seen on white
        clear = -1
        if self._channels == 4 and (self.palette_[:, 3] == 0).any():
            clear = int(np.nonzero(self.palette_[:, 3] == 0)[0][0])
        # Indices go straight into rows the PNG encoder deflates without a copy.
        out = encode.index_rows(h, w)
        flat = _pixels2d(pixels)
        given_hist = hist is not None
        if hist is None:
            hist = histogram(flat, max_distinct=1 << 32)
        if method == "ordered":
            x = colorspace.to_working(hist.colors8 if hist.exact else hist.colors, self.space)
            mixes = remap.ordered_mixes(x, self._working_palette(), self.space, self.dither)
            if clear >= 0 and hist.colors.shape[1] == 4:
                mixes[hist.colors[:, 3] == 0] = clear
            return _kernels.lookup_pattern(flat, hist.keys, mixes, hist.mask, out)
        values = self._assign if given_hist else self._nearest_values(hist, clear)
        _kernels.lookup(flat, hist.keys, values, hist.mask, out=out)
        if method == "diffusion":
            remap.dither(
                pixels,
                self._working_palette(),
                self.space,
                self.dither,
                clear,
                out=out,
                prefilled=True,
            )
        return out

    def _nearest_values(self, hist: Histogram, clear: int) -> np.ndarray:
        x = colorspace.to_working(hist.colors8 if hist.exact else hist.colors, self.space)
        values = remap.nearest(x, self._working_palette()).astype(np.uint8)
        if clear >= 0 and hist.colors.shape[1] == 4:
            values[hist.colors[:, 3] == 0] = clear
        return values


@dataclass
class Result:
    """What :func:`compress` produced, and how good and how small it is.

    Attributes
    ----------
    data : bytes
        The encoded file, in :attr:`format`.
    format : str
        ``png`` (indexed PNG), ``webp`` (WebP lossless) or ``gif``.
    palette : ndarray, uint8 (n, 3) or (n, 4)
        The palette, as stored in the file.
    indices : ndarray, uint8 (H, W)
        Palette index of every pixel, as stored in the file.
    colors : int
        Palette entries in the file.
    requested_colors : int
        The ``colors`` asked for.
    lossless : bool
        True when the image had no more distinct colours than requested (exact copy).
    dither : str
        How pixels were mapped: ``none`` (nearest colour), ``diffusion`` or ``ordered``
        (what ``dither_method="auto"`` chose, with that method).
    target : dict or None
        ``{name: value}`` of the quality or size target that chose the palette size, if
        one did.
    input_path : str or None
        The source file.
    input_bytes : int or None
        Size of the source file (None for an array input).
    output_bytes : int
        Size of :attr:`data`.
    ratio : float or None
        ``input_bytes / output_bytes``.
    raw_ratio : float
        Uncompressed 24-bit (32-bit with alpha) size over ``output_bytes``.
    bpp : float
        Bits per pixel of the output file.
    ssimulacra2 : float
        Perceptual quality of :attr:`image` against the original, 100 = identical,
        about 90 visually lossless, 70 high, 50 medium (see :mod:`palettepress.metrics`).
    mse, psnr, ssim, delta_e : float
        Per-pixel quality of :attr:`image` against the original.
    seconds : float
        Wall time of the whole call (decode, fit, remap, encode and metrics).
    timings : dict
        Seconds per stage.
    """

    data: bytes
    palette: np.ndarray
    indices: np.ndarray
    colors: int
    requested_colors: int
    lossless: bool
    dither: str
    input_path: str | None
    input_bytes: int | None
    output_bytes: int
    ratio: float | None
    raw_ratio: float
    bpp: float
    mse: float
    psnr: float
    ssim: float
    delta_e: float
    ssimulacra2: float
    seconds: float
    timings: dict = field(default_factory=dict)
    target: dict | None = None
    format: str = "png"

    @property
    def image(self) -> np.ndarray:
        """The reconstruction ``palette[indices]`` (uint8, ``(H, W, C)``): exactly what the
        file decodes to. Built on each access, so a result holds no full-size copy of it."""
        return self.palette[self.indices]

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return self.indices.shape[1]

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return self.indices.shape[0]

    def save(self, path, *, force: bool = False) -> None:
        """Write :attr:`data` to ``path`` atomically (refuses to overwrite without ``force``).

        A name whose extension is another format's (``.png``, ``.webp``, ``.gif``) is
        refused: the figures describe this format's file; compress with ``format=``.
        """
        named = formats.format_of(path)
        if named is not None and named != self.format:
            raise ParameterError(
                f"{os.fspath(path)}: the name is a {named.upper()} file's, the result "
                f"is {self.format.upper()} (compress with format={named!r})"
            )
        write_atomic(path, self.data, force=force, source=self.input_path)

    def summary(self) -> dict:
        """The figures as a JSON-ready dict (no arrays)."""
        return {
            "format": self.format,
            "colors": self.colors,
            "lossless": self.lossless,
            "dither": self.dither,
            "target": self.target,
            "width": self.width,
            "height": self.height,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "ratio": self.ratio,
            "raw_ratio": self.raw_ratio,
            "bpp": self.bpp,
            "ssimulacra2": self.ssimulacra2,
            "psnr": self.psnr,
            "ssim": self.ssim,
            "delta_e": self.delta_e,
            "mse": self.mse,
            "seconds": self.seconds,
        }


class _Prepared:
    """An image decoded and its histogram built, ready to compress at any palette size."""

    def __init__(self, image, max_pixels: int, fmt: str = "png"):
        t0 = time.perf_counter()
        self.image = load_image(image, max_pixels=max_pixels)
        #: What the output is measured against: the decoded image, always.
        self.reference = self.image.pixels
        #: True when GIF's one transparent index changed translucent pixels.
        self.alpha_thresholded = False
        if fmt == "gif" and self.reference.shape[2] == 4:
            alpha = self.reference[..., 3]
            if ((alpha > 0) & (alpha < 255)).any():
                self.alpha_thresholded = True
            if self.alpha_thresholded or (alpha == 0).any():
                fit = self.reference.copy()
                fit[..., 3] = np.where(alpha >= formats.GIF_ALPHA_THRESHOLD, 255, 0)
                fit[fit[..., 3] == 0, :3] = 0
                self.image = dataclasses.replace(self.image, pixels=fit)
        t1 = time.perf_counter()
        self.hist = histogram(_pixels2d(self.image.pixels))
        self.timings = {"decode": t1 - t0, "histogram": time.perf_counter() - t1}


def _check_level(level) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= 12:
        raise ParameterError(f"level must be an integer from 1 to 12, got {level!r}")


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


def _auto_remap(
    q: Quantizer,
    prep: _Prepared,
    hist: Histogram | None,
    meta,
    writer: formats.Writer,
    goal: tuple | None,
) -> tuple:
    """``dither_method="auto"``: remap by no dithering, diffusion and ordered dithering,
    encode and score each, keep the best (see :data:`AUTO_POINTS_PER_DOUBLING`; with a
    ``goal`` target, see :func:`_auto_key`). Returns ``(method, indices, data, ssimulacra2)``."""
    best = None
    for method in ("none", *remap.METHODS):
        indices = q._remap_pixels(prep.image.pixels, hist, method)
        data = writer.encode_ordered(indices, q.palette_, meta, prep.image.path)
        score = metrics.ssimulacra2_indexed(prep.reference, indices, q.palette_)
        key = _auto_key(score, len(data[0]), goal)
        if best is None or key > best[0]:
            best = (key, method, indices, data, score)
    assert best is not None  # three methods were tried
    return best[1:]


def _encode(
    prep: _Prepared,
    q: Quantizer,
    k: int,
    strip: bool,
    writer: formats.Writer,
    started: float,
    timings: dict,
    text: dict | None = None,
    goal: tuple | None = None,
) -> Result:
    """Remap, encode and measure an image with a fitted (or given) quantizer.

    ``goal`` is the ``(target, value)`` being searched for, if any: ``auto`` dithering
    picks by it.
    """
    im, pixels = prep.image, prep.image.pixels
    t2 = time.perf_counter()
    given = q._given
    hist = None if given else prep.hist
    meta = (
        None
        if strip
        else encode.PngMetadata(srgb=True, text={**im.text, **(text or {})}, dpi=im.dpi)
    )
    method, score = q._method(), None
    if method == "auto" and min(pixels.shape[:2]) < 8:
        method = "diffusion"  # too small for SSIMULACRA2 to tell the candidates apart
    if method == "auto":
        method, indices, data, score = _auto_remap(q, prep, hist, meta, writer, goal)
        t3 = t4 = time.perf_counter()
    else:
        indices = q._remap_pixels(pixels, hist, method)
        t3 = time.perf_counter()
        data = writer.encode_ordered(indices, q.palette_, meta, im.path)
        t4 = time.perf_counter()
    # The reconstruction is never built whole. MSE and CIEDE2000 are sums over the distinct
    # (colour, palette entry) pairs: the histogram's own when each colour has one entry,
    # else counted from the indices (a dithered photo has a few times fewer pairs than
    # pixels, a graphic far fewer).
    reference = prep.reference
    if (
        given
        or method != "none"
        or not prep.hist.exact
        or q.palette_.shape[1] != pixels.shape[2]
        or reference is not pixels
    ):
        keys, counts = _kernels.pair_histogram(_pixels2d(reference), indices)
        colors = np.ascontiguousarray(
            keys.astype(np.uint32).view(np.uint8).reshape(-1, 4)[:, : pixels.shape[2]]
        )
        assign = (keys >> np.uint64(32)).astype(np.uint8)
    else:
        colors, assign, counts = prep.hist.colors8, q._assign, prep.hist.counts
    quality = metrics.measure_pairs(
        reference, indices, q.palette_, colors, assign, counts, ssimulacra2=score
    )
    t5 = time.perf_counter()
    h, w = indices.shape
    data, order = data
    palette = q.palette_
    if order is not None:  # the writer chose another palette order: the file's is reported
        moved = np.nonzero(order != np.arange(len(order)))[0]
        if len(moved) == 2:  # two entries swapped: in place, no copy of a large image
            encode.swap_entries(indices, int(moved[0]), int(moved[1]))
        else:
            rank = np.empty(len(order), dtype=np.uint8)
            rank[order] = np.arange(len(order), dtype=np.uint8)
            indices = rank[indices]
        palette = palette[order]
    out_bytes = len(data)
    return Result(
        data=data,
        palette=palette,
        indices=indices,
        colors=q.n_colors_,
        requested_colors=k,
        lossless=q.lossless_,
        dither=method,
        input_path=im.path,
        input_bytes=im.file_bytes,
        output_bytes=out_bytes,
        ratio=(im.file_bytes / out_bytes) if im.file_bytes else None,
        raw_ratio=h * w * pixels.shape[2] / out_bytes,
        bpp=8.0 * out_bytes / (h * w),
        mse=quality.mse,
        psnr=quality.psnr,
        ssim=quality.ssim,
        delta_e=quality.delta_e,
        ssimulacra2=quality.ssimulacra2,
        seconds=t5 - started,
        timings={**timings, "remap": t3 - t2, "encode": t4 - t3, "metrics": t5 - t4},
        format=writer.format,
    )


def _compress_k(
    prep: _Prepared,
    k: int,
    options: dict,
    strip: bool,
    writer: formats.Writer,
    started: float,
    text: dict | None = None,
    goal: tuple | None = None,
) -> Result:
    """Fit a palette of ``k`` colours to a prepared image and encode it."""
    q = Quantizer(k, **options)
    _check_options(q.colors, q.space, q.dither, q.init, q.max_iter, q.tol)
    _check_method(q.dither_method)
    t = time.perf_counter()
    q._fit_histogram(prep.hist, prep.image.pixels.shape[2])
    timings = {**prep.timings, "fit": time.perf_counter() - t}
    return _encode(prep, q, k, strip, writer, started, timings, text, goal)


#: The quality and size targets :func:`compress` accepts instead of a palette size.
TARGETS = ("min_ssimulacra2", "min_ssim", "max_delta_e", "max_bytes")


def _meets(result: Result, target: str, value: float) -> bool:
    if target == "min_ssimulacra2":
        return result.ssimulacra2 >= value
    if target == "min_ssim":
        return result.ssim >= value
    if target == "max_delta_e":
        return result.delta_e <= value
    return result.output_bytes <= value


def _describe(target: str, value) -> str:
    return {
        "min_ssimulacra2": f"SSIMULACRA2 >= {value:g}",
        "min_ssim": f"SSIM >= {value:g}",
        "max_delta_e": f"CIEDE2000 <= {value:g}",
        "max_bytes": f"at most {int(value):,} bytes",
    }[target]


def _search(
    prep: _Prepared,
    target: str,
    value: float,
    upper: int,
    options: dict,
    strip: bool,
    writer: formats.Writer,
    started: float,
    text: dict | None = None,
) -> Result:
    """Compress at the palette size a target picks, by bisection over k.

    Quality targets take the smallest k that meets them; ``max_bytes`` takes the largest
    k whose file fits. Quality and size grow with k almost always, so bisection needs
    about eight compressions of the prepared histogram; every candidate is measured,
    never estimated, and the result returned is one that was measured to meet the target.
    """
    result = _bisect(prep, target, value, upper, options, strip, writer, started, text)
    result.target = {target: value}
    return result


def _bisect(
    prep: _Prepared,
    target: str,
    value: float,
    upper: int,
    options: dict,
    strip: bool,
    writer: formats.Writer,
    started: float,
    text: dict | None,
) -> Result:
    tried: dict[int, Result] = {}

    def at(k: int) -> Result:
        if k not in tried:
            tried[k] = _compress_k(prep, k, options, strip, writer, started, text, (target, value))
        return tried[k]

    name = prep.image.path or "image"
    if target == "max_bytes":
        if not _meets(at(2), target, value):
            raise TargetError(
                f"{name}: no palette fits in {int(value):,} bytes "
                f"(2 colours take {at(2).output_bytes:,})"
            )
        lo, hi = 2, upper  # lo meets the target; find the largest k that does
        if _meets(at(hi), target, value):
            return at(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if _meets(at(mid), target, value) else (lo, mid)
        return at(lo)
    if not _meets(at(upper), target, value):
        best = at(upper)
        got = {
            "min_ssimulacra2": f"SSIMULACRA2 {best.ssimulacra2:.2f}",
            "min_ssim": f"SSIM {best.ssim:.4f}",
            "max_delta_e": f"CIEDE2000 {best.delta_e:.3f}",
        }[target]
        raise TargetError(
            f"{name}: no palette of 2-{upper} colours reaches {_describe(target, value)} "
            f"({got} at {upper})"
        )
    lo, hi = 1, upper  # hi meets the target; find the smallest k that does
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _meets(at(mid), target, value) else (mid, hi)
    return at(hi)


def compress(
    image,
    colors: int = 256,
    *,
    space: str = "oklab",
    dither: float = 1.0,
    dither_method: str = "diffusion",
    seed: int = 0,
    strip: bool = False,
    level: int | None = None,
    effort: int = 5,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_ssimulacra2: float | None = None,
    min_ssim: float | None = None,
    max_delta_e: float | None = None,
    max_bytes: int | None = None,
    palette=None,
    keep_colors=None,
    text: dict | None = None,
    format: str = "png",
    **fit_options,
) -> Result:
    """Compress an image to a palette image with a k-means palette of ``colors`` entries.

    Parameters
    ----------
    image : str, os.PathLike, ndarray or PIL.Image.Image
        A file (anything Pillow decodes), a uint8 array ``(H, W)``, ``(H, W, 3)`` or
        ``(H, W, 4)``, or a Pillow image.
    colors : int
        Palette size k, 2 to 256 (with a target: the largest k the search may pick).
    space : {"oklab", "rgb"}
        Working colour space (see :class:`Quantizer`).
    dither : float
        Dithering strength 0..1: 0 is the plain nearest colour, 1 (the default) the
        measured best of the method.
    dither_method : {"diffusion", "ordered", "auto"}
        Error diffusion with the carried error limited (the default), ordered dithering
        (flat, compact), or ``auto``: whichever of those and no dithering measures best
        per byte on this image (with ``min_ssimulacra2``: the smallest that meets it).
        See :class:`Quantizer`.
    seed : int
        Random seed; the same input and options always give the same bytes.
    strip : bool
        Write no metadata (no sRGB, text or resolution chunks).
    level : int, optional
        Deflate level, 1 to 12 (libdeflate); by default the effort's (6 at effort 5,
        within 1% of zlib's maximum in a sixth of its time; 7 is 0.3% smaller for a
        quarter more deflate time; 10 to 12 are about 5% smaller at 6 to 12 times it).
    effort : int
        1 (fastest) to 10 (smallest, best fit); 5 is the default. Higher levels converge
        further, refine longer and deflate harder (:data:`EFFORTS`).
    max_pixels : int
        Refuse larger images (:class:`~palettepress.errors.ImageTooLargeError`).
    min_ssimulacra2 : float, optional
        A perceptual quality target instead of a palette size: the smallest k whose
        result scores at least this SSIMULACRA2 (at most 100; 90 is visually lossless,
        70 high quality, 50 medium), as measured.
    min_ssim, max_delta_e : float, optional
        A quality target instead of a palette size: the smallest k whose result has at
        least this SSIM (0 to 1) or at most this mean CIEDE2000 (> 0), as measured.
    max_bytes : int, optional
        A size target: the largest k whose file has at most this many bytes.
    palette : array-like, str or path, optional
        Remap to these colours instead of fitting a palette: an array ``(n, 3 or 4)``,
        a colour list ``"#ff0000,#00ff00"``, or a palette file (``.json``, ``.gpl``, or
        an image whose colours are taken, see :mod:`palettepress.palettes`).
    keep_colors : array-like or str, optional
        Colours locked into the fitted palette exactly (``"#ff0000,#ffffff"``).
    text : dict, optional
        Text chunks to add to the file (keyword -> value), besides those of the input;
        not written with ``strip``.
    format : {"png", "webp", "gif"}
        The file: indexed PNG (the default), WebP lossless, or GIF (one transparent
        index: pixels with alpha below 128 become transparent, the rest opaque; a
        warning says when translucent pixels were so changed). The metrics, ``max_bytes``
        and ``auto`` all measure this format's file. See :mod:`palettepress.formats`.
    **fit_options
        ``init``, ``max_iter`` and ``tol`` of :class:`Quantizer`.

    Returns
    -------
    Result
        The encoded bytes, palette, indices, reconstruction and metrics. Nothing is
        written to disk: call :meth:`Result.save`.

    Raises
    ------
    TargetError
        No palette size meets the target.

    Examples
    --------
    >>> import numpy as np, palettepress
    >>> gradient = np.linspace(0, 255, 64 * 64 * 3).astype(np.uint8).reshape(64, 64, 3)
    >>> result = palettepress.compress(gradient, colors=16)
    >>> result.colors, result.data[:4] == b"\x89PNG"
    (16, True)
    """
    started = time.perf_counter()
    writer = _writer(format, level, effort)
    targets = {
        name: v
        for name, v in (
            ("min_ssimulacra2", min_ssimulacra2),
            ("min_ssim", min_ssim),
            ("max_delta_e", max_delta_e),
            ("max_bytes", max_bytes),
        )
        if v is not None
    }
    if len(targets) > 1:
        raise ParameterError(f"give one target at a time, got {', '.join(targets)}")
    if palette is not None and (targets or keep_colors is not None):
        raise ParameterError("a given palette cannot be combined with a target or locked colours")
    for name, v in targets.items():
        _check_target(name, v)
    options = dict(
        space=space,
        dither=dither,
        dither_method=dither_method,
        seed=seed,
        keep_colors=keep_colors,
        effort=effort,
        **fit_options,
    )
    _check_options(
        colors,
        space,
        dither,
        options.get("init", "split"),
        options.get("max_iter", 100),
        options.get("tol"),
    )
    _check_method(dither_method)
    if palette is not None:
        q = Quantizer.from_palette(
            _palette_colors(palette), space=space, dither=dither, dither_method=dither_method
        )
        prep = _prepare(image, max_pixels, writer)
        return _encode(
            prep, q, q.n_colors_, strip, writer, started, dict(prep.timings, fit=0.0), text
        )
    prep = _prepare(image, max_pixels, writer)
    if targets:
        ((name, value),) = targets.items()
        return _search(prep, name, value, colors, options, strip, writer, started, text)
    return _compress_k(prep, colors, options, strip, writer, started, text)


def _writer(fmt, level, effort) -> formats.Writer:
    _check_effort(effort)
    level = EFFORTS[effort]["deflate"] if level is None else level
    _check_level(level)
    return formats.Writer(formats.check_format(fmt), int(level), int(effort))


def _prepare(image, max_pixels: int, writer: formats.Writer) -> _Prepared:
    prep = _Prepared(image, max_pixels, writer.format)
    if prep.alpha_thresholded:
        warnings.warn(
            f"{prep.image.path or 'image'}: GIF has no partial transparency: pixels with "
            f"alpha below {formats.GIF_ALPHA_THRESHOLD} became transparent, the others "
            "opaque",
            GifAlphaWarning,
            stacklevel=3,
        )
    return prep


class GifAlphaWarning(UserWarning):
    """An image with translucent pixels was written as GIF, which has none."""


def _check_target(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if name == "min_ssimulacra2" and not (math.isfinite(value) and value <= 100):
        raise ParameterError(f"min_ssimulacra2 must be at most 100, got {value!r}")
    if name == "min_ssim" and not 0 < value <= 1:
        raise ParameterError(f"min_ssim must be in (0, 1], got {value!r}")
    if name == "max_delta_e" and not value > 0:
        raise ParameterError(f"max_delta_e must be > 0, got {value!r}")
    if name == "max_bytes" and not (float(value).is_integer() and value >= 1):
        raise ParameterError(f"max_bytes must be a positive whole number, got {value!r}")


def _palette_colors(palette):
    """Colours of a ``palette`` argument: an array, a colour list or a palette file."""
    if isinstance(palette, (str, os.PathLike)) and not (
        isinstance(palette, str) and palette.lstrip().startswith("#")
    ):
        from .palettes import read_palette

        return read_palette(palette)
    return palette


def sweep(
    image,
    colors=(2, 4, 8, 16, 32, 64, 128, 256),
    *,
    space: str = "oklab",
    dither: float = 1.0,
    dither_method: str = "diffusion",
    seed: int = 0,
    strip: bool = False,
    level: int | None = None,
    effort: int = 5,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_ssimulacra2: float | None = None,
    format: str = "png",
    **fit_options,
) -> list[Result]:
    """Compress one image at several palette sizes, decoding it and counting its colours once.

    Returns one :class:`Result` per entry of ``colors``, in that order; each equals what
    :func:`compress` gives for that size (its ``seconds`` cover only its own work). With
    ``min_ssimulacra2``, the result :func:`compress` picks for that target joins them (its
    ``target`` set), in order of k. ``format`` is :func:`compress`'s (every result in it).

    Raises
    ------
    TargetError
        No palette size meets ``min_ssimulacra2``.
    """
    writer = _writer(format, level, effort)
    sizes = list(colors)
    if not sizes:
        raise ParameterError("sweep needs at least one palette size")
    options = dict(
        space=space,
        dither=dither,
        dither_method=dither_method,
        seed=seed,
        effort=effort,
        **fit_options,
    )
    _check_method(dither_method)
    for k in sizes:
        _check_options(
            k,
            space,
            dither,
            options.get("init", "split"),
            options.get("max_iter", 100),
            options.get("tol"),
        )
    if min_ssimulacra2 is not None:
        _check_target("min_ssimulacra2", min_ssimulacra2)
    prep = _prepare(image, max_pixels, writer)
    chosen = None
    if min_ssimulacra2 is not None:
        chosen = _search(
            prep,
            "min_ssimulacra2",
            min_ssimulacra2,
            256,
            options,
            strip,
            writer,
            time.perf_counter(),
        )
        sizes = [k for k in sizes if k != chosen.requested_colors]
    results = [_compress_k(prep, k, options, strip, writer, time.perf_counter()) for k in sizes]
    if chosen is not None:
        results.append(chosen)
        results.sort(key=lambda r: r.requested_colors)
    return results
