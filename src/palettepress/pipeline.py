"""One image through the stages, in order: prepare -> fit -> map -> encode -> measure.

========  ===========================================  ===================================
stage     what it does                                 where
========  ===========================================  ===================================
prepare   decode; make storable in the output format;  :mod:`~palettepress.io`,
          count the distinct colours                   :meth:`formats.Writer.prepare`,
                                                       :mod:`~palettepress.histogram`
fit       the palette, on the weighted histogram       :class:`~palettepress.Quantizer`
                                                       (seeding, kmeans, colorspace)
map       each pixel's palette index, dithered         :mod:`~palettepress.remap`,
                                                       :mod:`~palettepress.dither`
encode    the file: PNG, WebP or GIF                   :mod:`~palettepress.formats`,
                                                       :mod:`~palettepress.encode`
measure   SSIMULACRA2, MSE, PSNR, SSIM, CIEDE2000      :mod:`~palettepress.metrics`
========  ===========================================  ===================================

:func:`prepare` is the first stage, :func:`run` the other four, each a call into its
stage's module, timed. Encode and measure both need only the map's indices: up to
:data:`BESIDE_MAX_PIXELS` the file is encoded on one core while the other counts the
metrics' colour pairs (or, with none to count, computes the SSIM); larger images are
measured first, so that the metrics' working memory and the file's bytes are never held
at once;
:func:`compress` is these two plus the checks of its arguments. The search over k
(:mod:`~palettepress.targets`) and the sweep (:mod:`~palettepress.sweep`) call
:func:`run` once per k on one prepared image. Nothing here prints, reads the environment
or writes files: :meth:`Result.save` writes.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

from . import dither, encode, formats, metrics, remap, targets
from .errors import ParameterError
from .histogram import Histogram, histogram, pixels2d
from .io import DEFAULT_MAX_PIXELS, LoadedImage, load_image
from .quantizer import Quantizer, check_parameters
from .result import Result

__all__ = ["Prepared", "prepare", "run", "compress", "quantize"]

#: Results of images up to this many pixels keep the decoded input (see Result.original).
KEEP_ORIGINAL_PIXELS = 4 << 20

#: Up to this many pixels the file is encoded while the metrics' (colour, entry) pairs
#: are counted on the second core (see :func:`metrics.count_pairs`), or its SSIM computed
#: (:func:`metrics.measure_pairs`); larger images are measured first and encoded after,
#: so that the pairs' table and the file's bytes are never held at once.
BESIDE_MAX_PIXELS = 4 << 20


@dataclass
class Prepared:
    """An image decoded, made storable in the output format, and its colours counted: ready
    to compress at any palette size.

    Attributes
    ----------
    image : LoadedImage
        What the stages fit and map: the decoded image, with its pixels as the format
        can store them (:meth:`formats.Writer.prepare`; GIF thresholds alpha).
    reference : ndarray, uint8 (H, W, C)
        What the output is measured against: the decoded pixels, always.
    hist : Histogram
        The distinct colours of ``image.pixels`` and their counts.
    alpha_thresholded : bool
        True when the format changed translucent pixels (GIF).
    timings : dict
        Seconds of ``decode`` and ``histogram``.
    """

    image: LoadedImage
    reference: np.ndarray
    hist: Histogram
    alpha_thresholded: bool
    timings: dict


def prepare(
    image,
    writer: formats.Writer | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    alpha_pattern: bool | None = None,
) -> Prepared:
    """The prepare stage: decode ``image`` (a path, array or PIL image), make its pixels
    storable by ``writer`` (default: PNG), and build their histogram.

    ``alpha_pattern`` is :meth:`formats.Writer.prepare`'s (GIF: False thresholds alpha,
    None measures). Warns :class:`~palettepress.GifAlphaWarning` when the format changed
    translucent pixels.
    """
    t0 = time.perf_counter()
    loaded = load_image(image, max_pixels=max_pixels)
    storable, thresholded = (writer or formats.Writer()).prepare(loaded.pixels, alpha_pattern)
    fitted = loaded if storable is loaded.pixels else replace(loaded, pixels=storable)
    t1 = time.perf_counter()
    hist = histogram(pixels2d(storable))
    prep = Prepared(
        image=fitted,
        reference=loaded.pixels,
        hist=hist,
        alpha_thresholded=thresholded,
        timings={"decode": t1 - t0, "histogram": time.perf_counter() - t1},
    )
    if thresholded:
        patterned = not np.array_equal(
            storable[..., 3] == 0, loaded.pixels[..., 3] < formats.GIF_ALPHA_THRESHOLD
        )
        warnings.warn(
            f"{loaded.path or 'image'}: GIF has no partial transparency: pixels with "
            f"alpha below {formats.GIF_ALPHA_THRESHOLD} became transparent, the others "
            "opaque" + (", but broad translucent areas a pattern of both" if patterned else ""),
            formats.GifAlphaWarning,
            stacklevel=3,
        )
    return prep


def run(
    prep: Prepared,
    quantizer: Quantizer,
    writer: formats.Writer,
    *,
    strip: bool = False,
    text: dict | None = None,
    goal: tuple | None = None,
    started: float | None = None,
) -> Result:
    """A prepared image through the stages after the first: fit, map, encode, measure.

    ``quantizer`` is fitted to ``prep``'s histogram here unless it has a palette already
    (:meth:`Quantizer.from_palette`, or fitted by the caller). ``strip`` writes no
    metadata; ``text`` adds text entries to the file; ``goal`` is the ``(target, value)``
    a search is after, which ``auto`` dithering aims at; ``started`` is when the work
    began (the result's ``seconds`` count from it; default: now).
    """
    started = time.perf_counter() if started is None else started
    im, pixels, q = prep.image, prep.image.pixels, quantizer
    t_fit = time.perf_counter()
    if not hasattr(q, "palette_"):
        q._check()
        q._fit_histogram(prep.hist, pixels.shape[2])
    t_map = time.perf_counter()
    hist = None if q._given else prep.hist
    meta = (
        None
        if strip
        else encode.PngMetadata(srgb=True, text={**im.text, **(text or {})}, dpi=im.dpi)
    )

    def encode_file(indices: np.ndarray, restart: int = 0) -> tuple:
        return writer.encode_ordered(indices, q.palette_, meta, im.path, restart)

    method, score, restart = q._method(), None, 0
    if method == "auto" and min(pixels.shape[:2]) < 8:
        method = "diffusion"  # too small for SSIMULACRA2 to tell the candidates apart
    if method == "auto":
        method, indices, encoded, score = dither.auto(
            lambda m: q._remap_pixels(pixels, hist, m, run_slack=_run_slack(q, m)),
            encode_file,
            prep.reference,
            q.palette_,
            goal,
        )
        t_measure = time.perf_counter()
    else:
        # A GIF's error diffusion follows its LZW (dither.GIF_LZW_SLACK), and the file
        # restarts the dictionary where each strip of the dither does.
        slack = dither.GIF_LZW_SLACK if writer.format == "gif" and method == "diffusion" else None
        indices = q._remap_pixels(pixels, hist, method, slack, _run_slack(q, method))
        restart = 0 if slack is None else dither.lzw_restart(pixels.shape[1])
        t_measure = time.perf_counter()
        encoded = None
    pairs = _fit_pairs(prep, q, method)
    spent = [0.0]

    def encode_timed() -> tuple:
        t = time.perf_counter()
        try:
            return encode_file(indices, restart)
        finally:
            spent[0] = time.perf_counter() - t

    # Up to BESIDE_MAX_PIXELS the file is encoded on this core while the second counts
    # the metrics' pairs or, with none to count (given, or a pair a pixel), starts on the
    # SSIM. Else measured before the file is encoded (auto encoded its candidates
    # already): see the module docstring.
    beside = encode_timed if encoded is None and indices.size <= BESIDE_MAX_PIXELS else None
    if beside and pairs is None and metrics.counts_pairs(len(prep.hist), indices.size):
        pairs, encoded = metrics.count_pairs(prep.reference, indices, len(prep.hist), beside=beside)
        beside = None
    measured = metrics.measure_mapped(
        prep.reference,
        indices,
        q.palette_,
        pairs=pairs,
        ssimulacra2=score,
        colours=len(prep.hist),
        beside=beside,
    )
    quality, encoded = measured if beside else (measured, encoded)
    if encoded is None:
        encoded = encode_timed()
    t_end = time.perf_counter()
    data, order = encoded
    indices, palette = encode.to_file_order(indices, q.palette_, order)
    timings = {
        **prep.timings,
        "fit": t_map - t_fit if hist is not None else 0.0,
        "remap": t_measure - t_map,
        "encode": spent[0],
        "metrics": t_end - t_measure - spent[0],
    }
    return _result(
        prep, q, method, data, palette, indices, quality, t_end - started, timings, writer
    )


def _run_slack(q: Quantizer, method: str) -> float | None:
    """The slack for runs (:data:`remap.RUN_SLACK`) of ``method``'s indices: for
    undithered indices of a palette that lacks some of the image's colours, in Oklab
    (``space="rgb"`` is the least RGB error, which the runs would raise)."""
    if method == "none" and not q.lossless_ and q.space_ == "oklab":
        return remap.RUN_SLACK
    return None


def _fit_pairs(prep: Prepared, q: Quantizer, method: str) -> tuple | None:
    """The (colour, palette entry, count) pairs of the remapped image when the fit's
    histogram already holds them (each exact colour mapped to its own entry, measured
    against the pixels that were fitted), else None: the metrics count them."""
    if (
        q._given
        or method != "none"
        or _run_slack(q, method) is not None
        or not prep.hist.exact
        or q.palette_.shape[1] != prep.image.pixels.shape[2]
        or prep.reference is not prep.image.pixels
    ):
        return None
    return prep.hist.colors8, q._assign, prep.hist.counts


def _result(
    prep: Prepared,
    q: Quantizer,
    method: str,
    data: bytes,
    palette: np.ndarray,
    indices: np.ndarray,
    quality: metrics.Metrics,
    seconds: float,
    timings: dict,
    writer: formats.Writer,
) -> Result:
    im = prep.image
    h, w = indices.shape
    out_bytes = len(data)
    return Result(
        data=data,
        palette=palette,
        indices=indices,
        colors=q.n_colors_,
        requested_colors=q.n_colors_ if q._given else q.colors,
        lossless=q.lossless_,
        dither=method,
        input_path=im.path,
        input_bytes=im.file_bytes,
        output_bytes=out_bytes,
        ratio=(im.file_bytes / out_bytes) if im.file_bytes else None,
        raw_ratio=h * w * im.pixels.shape[2] / out_bytes,
        bpp=8.0 * out_bytes / (h * w),
        mse=quality.mse,
        psnr=quality.psnr,
        ssim=quality.ssim,
        delta_e=quality.delta_e,
        ssimulacra2=quality.ssimulacra2,
        seconds=seconds,
        timings=timings,
        format=writer.format,
        # Kept (no copy) for a notebook to show beside the result; a large image is read
        # again when shown, rather than kept alive with every result.
        original=prep.reference if h * w <= KEEP_ORIGINAL_PIXELS else None,
    )


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
    image : str, os.PathLike, ndarray, PIL.Image.Image, bytes or binary file object
        A file (anything Pillow decodes), a uint8 array ``(H, W)``, ``(H, W, 3)`` or
        ``(H, W, 4)``, a Pillow image (read as its file is: orientation, profile), or
        a file's bytes.
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
        index: pixels with alpha below 128 become transparent, the rest opaque, or
        broad translucent areas a pattern of both where that measures better and
        ``dither`` is not 0; a warning says when translucent pixels were so changed).
        The metrics, ``max_bytes`` and ``auto`` all measure this format's file. See
        :mod:`palettepress.formats`.
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
    writer = formats.writer_for(format, level, effort)
    goal = targets.given(
        min_ssimulacra2=min_ssimulacra2,
        min_ssim=min_ssim,
        max_delta_e=max_delta_e,
        max_bytes=max_bytes,
    )
    if palette is not None and (goal or keep_colors is not None):
        raise ParameterError("a given palette cannot be combined with a target or locked colours")
    for name, value in goal.items():
        targets.check_target(name, value)
    options = dict(
        space=space,
        dither=dither,
        dither_method=dither_method,
        seed=seed,
        keep_colors=keep_colors,
        effort=effort,
        **fit_options,
    )
    check_options(colors, options)
    given = None
    if palette is not None:
        from .palettes import palette_argument

        given = Quantizer.from_palette(
            palette_argument(palette), space=space, dither=dither, dither_method=dither_method
        )
    # No dithering asked for: GIF's alpha is thresholded, not patterned.
    prep = prepare(image, writer, max_pixels=max_pixels, alpha_pattern=None if dither else False)

    def run_at(k: int, aim: tuple | None = None) -> Result:
        q = given if given is not None else Quantizer(k, **options)
        return run(prep, q, writer, strip=strip, text=text, goal=aim, started=started)

    if goal:
        ((name, value),) = goal.items()
        return targets.search(run_at, name, value, colors, prep.image.path or "image")
    return run_at(colors)


def check_options(colors, options: dict) -> None:
    """Check the :class:`Quantizer` parameters of ``compress`` or ``sweep`` before any work."""
    check_parameters(
        colors,
        options["space"],
        options["dither"],
        options["dither_method"],
        options.get("init", "split"),
        options.get("max_iter", 100),
        options.get("tol"),
    )


def quantize(image, colors: int = 256, method=None, kmeans=0, **options):
    """The image as a Pillow image in mode ``P`` of at most ``colors`` entries, as Pillow's
    ``Image.quantize`` returns one, made by :func:`compress` (the same options).

    Pillow's own arguments are taken too, so that ``image.quantize(...)`` becomes
    ``palettepress.quantize(image, ...)`` as it is: ``palette`` a Pillow image in mode
    ``P`` (its palette's colours), ``dither`` Pillow's ``Image.Dither`` (``NONE`` no
    dithering, ``FLOYDSTEINBERG`` error diffusion, ``ORDERED`` ordered dithering) as well
    as a strength. ``method`` and ``kmeans`` choose Pillow's algorithm; palettepress always
    fits its own k-means, so they are accepted and not used.

    Examples
    --------
    >>> from PIL import Image
    >>> import palettepress
    >>> image = Image.fromarray(palettepress.sample_image())
    >>> quantized = palettepress.quantize(image, colors=64)
    >>> quantized.mode, len(quantized.getcolors()) <= 64
    ('P', True)
    """
    dither = options.get("dither")
    if type(dither).__name__ == "Dither" and type(dither).__module__.startswith("PIL"):
        name = getattr(dither, "name", "")
        if name == "NONE":
            options["dither"] = 0.0
        elif name == "FLOYDSTEINBERG":
            options["dither"] = 1.0
            options.setdefault("dither_method", "diffusion")
        else:  # ORDERED (RASTERIZE, which Pillow's quantize leaves unimplemented, alike)
            options["dither"] = 1.0
            options.setdefault("dither_method", "ordered")
    return compress(image, colors, **options).to_pil()
