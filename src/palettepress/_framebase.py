"""What :mod:`palettepress.frames` and its readers share: the reader base class and sizes.

A :class:`_Reader` is one kind of source (:mod:`palettepress.framefiles`: images, folders,
globs and frames in memory; :mod:`palettepress.video`: videos) read as a timeline of
``(index, shown from, shown until, pixels)`` intervals, which :mod:`palettepress.frames`
cuts and resamples into frames. Here too are the checked options the readers are given
(:class:`_Options`), :data:`DEFAULT_FPS` (public as ``palettepress.frames.DEFAULT_FPS``)
and the output-size arithmetic and pixel limit that every reader applies.

This module holds no reader and imports none, so that the readers and
:mod:`palettepress.frames` all import it without a cycle. It imports neither Pillow nor
PyAV, reads no file, and does no quantizing, remapping, encoding or writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import ImageTooLargeError

#: Rate of frames that carry no timing of their own (folders, globs, frames in memory)
#: when no ``fps`` is given: each is shown for 1/20 s.
DEFAULT_FPS = 20

_DEFAULT_DURATION = Fraction(1, DEFAULT_FPS)

#: A getter of one decoded frame's final pixels; valid until its source moves on.
_Pixels = Callable[[], np.ndarray]
#: A source frame on the timeline: (index, shown from, shown until, pixels).
_Interval = tuple[int, Fraction, Fraction, _Pixels]


@dataclass
class _Options:
    """What the readers need of the (checked) arguments."""

    width: int | None
    max_pixels: int
    step: Fraction | None
    start: Fraction


class _Reader:
    """One kind of source. Subclasses check what they can when made (arguments are already
    checked) and set the attributes; :meth:`intervals` re-opens and reads the source."""

    name: str  # for messages
    path: str | None = None
    format: str = "frames"
    rate: float | None = None
    count: int | None = None
    uniform: Fraction | None = None  # every frame's duration, when they are all one
    loop: int | None = None
    file_bytes: int | None = None
    empty = "no frames"
    #: The frames carry no timing (folders, globs, memory): ``fps`` is their rate.
    timeless = False

    def intervals(self) -> Iterator[_Interval]:
        raise NotImplementedError


def _scaled_size(w: int, h: int, width: int | None) -> tuple[int, int]:
    """``(w, h)`` scaled to ``width``, the height rounded and at least 1."""
    if width is None or width == w:
        return w, h
    return width, max(1, (2 * h * width + w) // (2 * w))


def _check_pixels(name: str, w: int, h: int, out: tuple[int, int], max_pixels: int) -> None:
    if w * h > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {w}x{h} = {w * h} pixels is more than the limit of {max_pixels}"
        )
    ow, oh = out
    if ow * oh > max_pixels:
        raise ImageTooLargeError(
            f"{name}: resized to {ow}x{oh} = {ow * oh} pixels, more than the limit of {max_pixels}"
        )
