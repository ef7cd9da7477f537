"""The sweep: one image compressed at several palette sizes, to see the effect of k.

The image is decoded and its colours counted once (:func:`palettepress.pipeline.prepare`);
each k then runs the remaining stages (:func:`palettepress.pipeline.run`). With a
``min_ssimulacra2`` target, the size the search picks (:mod:`palettepress.targets`)
joins the sweep. :mod:`palettepress.report` turns the results into a table, a plot and a
page. (The module is ``sweeps``, not ``sweep``: a submodule of that name would replace
the function ``palettepress.sweep`` on the package once imported.)
"""

from __future__ import annotations

import time

import numpy as np

from . import dither as dithering
from . import formats, targets
from .errors import ParameterError
from .io import DEFAULT_MAX_PIXELS
from .pipeline import check_options, prepare, run
from .quantizer import Quantizer
from .result import Result

__all__ = ["sweep", "Sweep"]


class Sweep(list):
    """The results of a sweep, in order of k: a list of :class:`Result`, which a notebook
    shows as the table of figures and the rate-distortion plot."""

    def _repr_html_(self) -> str:
        from .report import sweep_html

        return sweep_html(self)


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
    writer = formats.writer_for(format, level, effort)
    if isinstance(colors, (int, np.integer)) and not isinstance(colors, bool):
        colors = (colors,)  # one palette size
    try:
        sizes = list(colors)
    except TypeError:
        raise ParameterError(
            f"colors must be palette sizes (a list of integers), got {colors!r}"
        ) from None
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
    dithering.check_method(dither_method)
    for k in sizes:
        check_options(k, options)
    if min_ssimulacra2 is not None:
        targets.check_target("min_ssimulacra2", min_ssimulacra2)
    prep = prepare(image, writer, max_pixels=max_pixels)
    chosen = None
    if min_ssimulacra2 is not None:
        started = time.perf_counter()
        chosen = targets.search(
            lambda k, aim: run(
                prep, Quantizer(k, **options), writer, strip=strip, goal=aim, started=started
            ),
            "min_ssimulacra2",
            min_ssimulacra2,
            256,
            prep.image.path or "image",
        )
        sizes = [k for k in sizes if k != chosen.requested_colors]
    results = [run(prep, Quantizer(k, **options), writer, strip=strip) for k in sizes]
    if chosen is not None:
        results.append(chosen)
        results.sort(key=lambda r: r.requested_colors)
    return Sweep(results)
