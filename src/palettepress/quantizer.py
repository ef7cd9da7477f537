"""The estimator: :class:`Quantizer` fits a palette to images and remaps images to it.

In the manner of scikit-learn's estimators: ``__init__`` stores the parameters, ``fit``
validates them, runs the fit stage (:mod:`~palettepress.seeding`,
:mod:`~palettepress.kmeans`) on the images' weighted colour histogram
(:mod:`~palettepress.histogram`) in the working space (:mod:`~palettepress.colorspace`)
and sets the trailing-underscore attributes; ``remap`` runs the map stage
(:mod:`~palettepress.remap`, :mod:`~palettepress.dither`). One fitted quantizer remaps
any number of images.

It knows nothing of files, formats or targets: the pipeline
(:mod:`~palettepress.pipeline`) prepares the image, then encodes and measures what the
quantizer maps.
"""

from __future__ import annotations

import math

import numpy as np

from . import colorspace, dither, encode, kmeans, remap, seeding
from .effort import EFFORTS, PNG_SEARCH_EFFORT, check_effort
from .errors import ParameterError
from .histogram import Histogram, group_colors, group_means, histogram, merge, pixels2d
from .io import DEFAULT_MAX_PIXELS, load_image

__all__ = ["Quantizer", "check_parameters", "DEFAULT_TOL", "FIT_MAX_POINTS", "SWAP_TOL_SCALE"]

_TRANSPARENT = np.zeros(4, dtype=np.uint8)

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

#: The factor on Oklab L in the fit for error diffusion at full strength into at most 64
#: colours (the mapping itself keeps :data:`colorspace.OKLAB_LIGHTNESS_WEIGHT`). Diffusion
#: mixes neighbouring entries, so a lightness step between two of them is filled in, but a
#: hue the palette lacks stays missing: the carried error is capped at the spacing around
#: each colour, so a far-off entry is never mixed in. A small palette that spends fewer
#: entries on lightness and more on hue suits it. Measured against weight 1 over the
#: perceptual block's sets (BENCHMARKS.md), SSIMULACRA2 mean change and bytes at k = 16 /
#: 64: Kodak and USC-SIPI +0.21 / -0.13 points, 0.983 / 0.983 the bytes; CBSD68 +1.18 /
#: +0.51, 0.984 / 0.980; graphics +0.07 / -0.04, 0.993 / 0.989; butteraugli lower on all
#: three at k = 16. CBSD68 167083 at k = 16 (pale blue ice under grey rock) goes from 14.3
#: points below ``pngquant 16`` to 4.8 below: at weight 1 its lake turns grey. At k = 256
#: a dense palette has neighbours in every direction and the gain is gone (Kodak and
#: USC-SIPI -0.17 points at 0.987 the bytes, CBSD68 +0.24 at 0.988, graphics -0.08 at
#: 1.004), so the weight goes back to 1 from 64 to 256 colours (log-linearly). Single
#: images move either way by up to 9 points at k = 16 (Kodak kodim14 -9.2, CBSD68 167083
#: +9.5), as any change of a 16-colour fit does. Without dithering nothing fills
#: the steps in and any weight below 1 loses (every second Kodak image at k = 16: +5.07
#: points over ``pngquant --nofs`` at weight 1, +1.22 at 0.7): there, for ordered
#: dithering (not measured) and for ``auto`` (one palette mapped three ways, each
#: candidate as that method makes it from a fit without dithering), the fit keeps the
#: mapping's weight; in between the factor moves with the strength.
DIFFUSION_FIT_LIGHTNESS = 0.7

#: Error diffusion reaches no colour darker than the darkest entry or lighter than the
#: lightest, and a centre, the mean of its cluster, lies inside it: a small palette's
#: extremes stop short of the image's shadows and highlights, which come out flat. So,
#: for diffusion into at most 16 colours, the darkest entry's lightness moves out to
#: this quantile of its cluster's lightness (weighted by pixels), and the lightest's to
#: the quantile as far from the top (fading out by 64 colours: :meth:`Quantizer.
#: _extreme_reach`; images with alpha, 6 coordinates, are left as they are). Measured
#: over the perceptual block's sets at k = 16 (BENCHMARKS.md), SSIMULACRA2 mean change:
#: Kodak +0.56 (kodim14 from 5.5 points below ``pngquant 16`` to 1.6 below), USC-SIPI
#: +0.66, CBSD68 +0.66, graphics +0.87, at 1.001-1.007x the bytes. On all Kodak and every
#: third CBSD68 image, the quantile 0.1 / 0.2 / 0.3 gave Kodak +0.50 / +0.60 / +0.54,
#: CBSD68 -0.30 / +0.25 / +0.27; 0.02 (nearly the extremes themselves) -1.05 / -2.33.
#: At k = 64 it loses a little (Kodak -0.04, CBSD68 -0.07), hence the fade.
EXTREME_QUANTILE = 0.25


def _greys_only(hist: Histogram) -> bool:
    """Whether every colour of ``hist`` that shows (alpha above 0) is a grey.

    Greys differ only in lightness, and Oklab's lightness, a cube root of luminance
    without CIELAB's linear part near black, spreads the darkest greys far apart: a grey
    photo's 16 entries crowd into its shadows, leaving the mid-tones in wide steps. sRGB
    values space greys about as people see them. Measured on 12 Kodak photos made grey
    (``benchmarks/grey_set.py``), sRGB against Oklab: SSIMULACRA2 +1.28 at k = 16 (74.6
    against pngquant's 72.7), +0.23 at 32, +0.03 at 64; butteraugli 0.91x, 0.95x and
    0.97x; bytes 1.018x, 1.005x, 1.002x; on the four grey clip-art images of graphics/
    (with alpha) equal or better but one case (-0.09 at k = 64). Toned (sepia) photos are
    not greys and keep Oklab.
    """
    if not hist.exact:  # greys have few distinct colours: their histograms are exact
        return False
    c = hist.colors8
    if c.shape[1] == 4:
        c = c[c[:, 3] > 0]
    return len(c) > 0 and bool(((c[:, 0] == c[:, 1]) & (c[:, 1] == c[:, 2])).all())


def check_parameters(colors, space, dither_strength, dither_method, init, max_iter, tol) -> None:
    """:class:`ParameterError` unless the estimator's parameters are in range (the checks
    :meth:`Quantizer.fit` makes, for callers that validate before they fit)."""
    if (
        isinstance(colors, bool)
        or not isinstance(colors, (int, np.integer))
        or not 2 <= colors <= 256
    ):
        raise ParameterError(f"colors must be an integer from 2 to 256, got {colors!r}")
    if space not in colorspace.SPACES:
        raise ParameterError(f"space must be one of {', '.join(colorspace.SPACES)}, got {space!r}")
    if (
        not isinstance(dither_strength, (int, float))
        or isinstance(dither_strength, bool)
        or not 0.0 <= dither_strength <= 1.0
    ):
        raise ParameterError(f"dither must be a number from 0 to 1, got {dither_strength!r}")
    if init not in seeding.INITS:
        raise ParameterError(f"init must be one of {', '.join(seeding.INITS)}, got {init!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ParameterError(f"max_iter must be a positive integer, got {max_iter!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and tol >= 0):
        raise ParameterError(f"tol must be a number >= 0 (or None), got {tol!r}")
    dither.check_method(dither_method)


def _reach_extremes(x, w, centres, labels, reach: float, fixed) -> np.ndarray:
    """``centres`` with the darkest and the lightest (by the first working coordinate,
    Oklab L) moved ``reach`` of the way out to :data:`EXTREME_QUANTILE` of their
    clusters' lightness, where that lies beyond them; locked (``fixed``) centres stay."""
    centres = centres.copy()
    lightness = centres[:, 0]
    for j, q in (
        (int(np.argmin(lightness)), EXTREME_QUANTILE),
        (int(np.argmax(lightness)), 1.0 - EXTREME_QUANTILE),
    ):
        members = labels == j
        if (fixed is not None and fixed[j]) or members.sum() < 2:
            continue
        values = x[members, 0]
        order = np.argsort(values, kind="stable")
        cumulative = np.cumsum(w[members][order])
        target = values[order][min(np.searchsorted(cumulative, q * cumulative[-1]), len(order) - 1)]
        if (target - centres[j, 0]) * (q - 0.5) > 0:  # beyond the centre, outwards
            centres[j, 0] += np.float32(reach * (target - centres[j, 0]))
    return centres


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
        (perceptual, the default) lowers CIEDE2000; ``rgb`` minimises the RGB MSE. Images
        of greys only take ``rgb`` either way (see :attr:`space_`).
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
        Weighted SSE of the histogram in the fit's working coordinates (Oklab L weighted
        as :data:`DIFFUSION_FIT_LIGHTNESS` says) at the end of the fit.
    n_distinct_ : int
        Distinct colours seen by the fit.
    space_ : {"oklab", "rgb"}
        The working space used: ``space``, except that images of greys only are fitted
        and mapped in sRGB values (:func:`_greys_only`).
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
        q._check()
        q.space_ = space
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

    def _check(self) -> None:
        check_parameters(
            self.colors,
            self.space,
            self.dither,
            self.dither_method,
            self.init,
            self.max_iter,
            self.tol,
        )

    # -- fitting -----------------------------------------------------------------

    def fit(self, images, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Quantizer:
        """Fit the palette to one image or a list of images (paths, arrays, PIL images).

        Returns
        -------
        self
        """
        self._check()
        check_effort(self.effort)
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
            hists.append(histogram(pixels2d(px)))
        hist = (
            hists[0]
            if len(hists) == 1
            else merge(
                [
                    h if h.exact else histogram(pixels2d(im.pixels), max_distinct=1 << 32)
                    for h, im in zip(hists, loaded)
                ],
                channels,
            )
        )
        self._fit_histogram(hist, channels)
        return self

    def _diffusion_share(self, full: int, none: int) -> float:
        """How much of a fit-for-diffusion adjustment applies (0..1): all of it for error
        diffusion in Oklab at full strength into at most ``full`` colours, none from
        ``none`` colours on or without diffusion; linearly in the strength and in log2(k)
        between."""
        space = getattr(self, "space_", self.space)  # before a fit: the space asked for
        if self.dither_method != "diffusion" or space != "oklab":
            return 0.0
        strength = min(max(float(self.dither), 0.0), 1.0)
        span = math.log2(none) - math.log2(full)
        return strength * min(max((math.log2(none) - math.log2(self.colors)) / span, 0.0), 1.0)

    def _fit_lightness(self) -> float:
        """The factor on Oklab L in the fit: :data:`DIFFUSION_FIT_LIGHTNESS` for error
        diffusion at full strength into at most 64 colours, the mapping's without
        dithering or at 256 colours (:meth:`_diffusion_share`)."""
        base = colorspace.OKLAB_LIGHTNESS_WEIGHT
        return base + (DIFFUSION_FIT_LIGHTNESS - base) * self._diffusion_share(64, 256)

    def _fit_histogram(self, hist: Histogram, channels: int) -> None:
        """Fit to a histogram (trusted: built by :func:`histogram`)."""
        self._hist = hist
        self.space_ = "rgb" if self.space == "oklab" and _greys_only(hist) else self.space
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
            # Every colour but the transparent one (a slice, not a copy, when there is none).
            keep = slice(None) if clear is None else np.arange(len(hist)) != clear
            # Exact 8-bit colours convert through a lookup table instead of pow().
            points = hist.colors8[keep] if hist.exact else colors[keep]
            lw = self._fit_lightness()
            x = colorspace.to_working(points, self.space_, lw)
            k_fit = k - (1 if clear is not None else 0)
            locked = self._locked(channels)
            if len(locked) > k_fit:
                raise ParameterError(
                    f"{len(locked)} locked colours do not fit in a palette of {k}"
                    + (" (one entry is the transparent colour)" if clear is not None else "")
                )
            centres, labels = self._cluster(x, w[keep], hist.colors8[keep], k_fit, locked, lw)
            fitted = colorspace.from_working(centres, self.space_, lw)
            if channels == 4 and not ((colors[:, 3] > 0) & (colors[:, 3] < 255)).any():
                # Only clear and opaque pixels (hard edges, a GIF's pixels): the palette
                # has no translucent colour either (the fit's 8-bit rounding could make
                # an opaque centre 254, which GIF cannot hold).
                fitted[:, 3] = 255
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
            if lw != colorspace.OKLAB_LIGHTNESS_WEIGHT:
                x = colorspace.to_working(points, self.space_)  # the mapping's coordinates
            near = remap.nearest(x, colorspace.to_working(fitted, self.space_), hint)
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
        l_weight: float | None = None,
    ):
        """Centres (k, d) and each point's cluster: initial palette, Lloyd, Hartigan.

        ``locked`` colours (uint8) take the last centres and never move. ``x`` is in
        working coordinates with ``l_weight`` on Oklab L (see :func:`colorspace.to_working`).

        Above :data:`FIT_MAX_POINTS` points (photos where nearly every pixel has its own
        colour) the fit runs on groups of near-equal colours, represented by their mean
        in working coordinates; the caller maps every exact colour to its nearest centre.
        """
        group = None
        seed_colors = colors8
        if len(x) > FIT_MAX_POINTS:
            group, m = group_colors(colors8, FIT_MAX_POINTS)
            x, w = group_means(group, m, x, w)
            # Each group's first colour stands for it in the initial split, which groups
            # its points again, more coarsely (seeding.SPLIT_MAX_POINTS): groups are
            # numbered in order of first appearance, so a group's first colour is where
            # the running maximum of the numbers steps up.
            steps = np.flatnonzero(np.diff(np.maximum.accumulate(group), prepend=-1))
            seed_colors = colors8[steps]
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
            pinned = colorspace.to_working(locked, self.space_, l_weight)
            labels = np.where(labels < len(centres), labels, 0).astype(np.int32)
            centres = np.ascontiguousarray(np.vstack([centres, pinned]), dtype=np.float32)
            fixed = np.zeros(len(centres), dtype=bool)
            fixed[len(centres) - m :] = True
        else:
            centres, labels = seeding.initial_palette(
                x, w, k, self.init, self.seed, seed_colors, EFFORTS[self.effort]["merge"]
            )
        plan = EFFORTS[self.effort]
        tol = DEFAULT_TOL[self.space_] * plan["tol_scale"] if self.tol is None else self.tol
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
                tol=max(tol, DEFAULT_TOL[self.space_] * SWAP_TOL_SCALE),
                max_iter=self.max_iter,
                fixed=fixed,
            )
        diffused = self.dither_method == "diffusion" and self.dither >= 1 and self.space_ == "oklab"
        passes = plan["hartigan_diffused" if diffused else "hartigan"]
        if passes:
            centres, labels, _, self.inertia_ = kmeans.hartigan(
                x, w, centres, labels, passes=passes, fixed=fixed
            )
        reach = self._extreme_reach()
        if reach > 0 and x.shape[1] == 3 and len(centres) > 1:
            centres = _reach_extremes(x, w, centres, labels, reach, fixed)
        return centres, (labels if group is None else labels[group])

    def _extreme_reach(self) -> float:
        """How far the darkest and lightest entries move out (0..1, see
        :data:`EXTREME_QUANTILE`): all the way for error diffusion at full strength into at
        most 16 colours, not at all from 64 colours on or without it (:meth:`_diffusion_share`)."""
        return self._diffusion_share(16, 64)

    # -- remapping ---------------------------------------------------------------

    def remap(self, image) -> np.ndarray:
        """Palette indices (uint8, ``(H, W)``) of an image under the fitted palette.

        Without dithering every pixel gets its nearest palette colour in the working
        space; with ``dither > 0`` the ``dither_method`` is used (``auto`` makes each
        method's indexed PNG at this effort, scores it, and keeps the best per byte).
        """
        if not hasattr(self, "palette_"):
            raise ParameterError("this Quantizer is not fitted yet: call fit() first")
        pixels = load_image(image).pixels
        if self._method() == "auto":
            return dither.auto(
                lambda method: self._remap_pixels(pixels, None, method),
                self._png,
                pixels,
                self.palette_,
            )[1]
        return self._remap_pixels(pixels, None, self._method())

    def _method(self) -> str:
        """The method :meth:`remap` uses: ``none`` without dithering or colours to mix."""
        return "none" if self.dither <= 0 or self.lossless_ else self.dither_method

    def _remap_pixels(
        self,
        pixels: np.ndarray,
        hist: Histogram | None,
        method: str,
        lzw_slack: float | None = None,
        run_slack: float | None = None,
    ) -> np.ndarray:
        """Indices of ``pixels`` by ``method`` (``none`` or one of :data:`dither.METHODS`);
        ``hist``: the histogram this quantizer was fitted to, when ``pixels`` are its image;
        ``lzw_slack``: error diffusion for a GIF's LZW (:func:`dither.diffuse`);
        ``run_slack``: undithered indices mapped for runs (:data:`remap.RUN_SLACK`)."""
        return remap.map_pixels(
            pixels,
            self.palette_,
            self.space_,
            method,
            self.dither,
            hist=hist,
            assign=None if hist is None else self._assign,
            lzw_slack=lzw_slack,
            run_slack=run_slack,
        )

    def _png(self, indices: np.ndarray) -> tuple:
        """The indexed PNG (bytes, order) of ``indices`` at this effort: what ``auto``
        weighs when the quantizer remaps on its own, outside the pipeline."""
        return encode.encode_png_searched(
            indices,
            self.palette_,
            metadata=None,
            level=EFFORTS[self.effort]["deflate"],
            search=self.effort >= PNG_SEARCH_EFFORT,
        )
