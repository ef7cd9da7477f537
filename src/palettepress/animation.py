"""Animations: frames through the same stages as a still image, with state carried forward.

Per frame, in order:

1. **prepare**: the frame as :mod:`palettepress.frames` decodes it (resampled to the
   frame rate, resized), made storable by the format (GIF: alpha thresholded, as for a
   still GIF).
2. **keep**: which pixels go on showing what the canvas already shows. A pixel whose
   source is exactly what it was drawn for is kept, always: still pixels never flicker
   and cost next to nothing (transparent in the file). When the frame cannot be drawn
   exactly (more colours than the palette holds), a pixel whose source moved by at most
   :data:`KEEP_LEVELS` per channel since it was drawn is kept too: noise and slow drift
   do not redraw it. The rest is drawn.
3. **fit**: a palette for the pixels to draw, by :class:`~palettepress.Quantizer` on
   their histogram (a palette per frame), or one palette for the whole file (APNG has
   one PLTE), fitted to the pixels the frames draw.
4. **map**: indices by :mod:`palettepress.remap` (dithered as a still image is), the kept
   pixels fixed: they neither take nor pass on error.
5. **encode**: the frame's rectangle (the drawn pixels' bounding box) to the writer of
   :mod:`palettepress.animwriters`; kept pixels whose colour the frame's palette holds may
   be written either way, whichever compresses better. A frame that draws nothing is
   merged into the one before (its time added).
6. **measure**: SSIMULACRA2 of what the viewer sees against the source frame, and
   flicker: of the pixels that do not change in the source from one frame to the next,
   the share that changes on screen.

Frames are decoded, drawn and written one at a time: memory holds the canvas and a few
frame-sized arrays, whatever the length of the clip (APNG reads the source twice: once
for the palette, once to draw).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import _kernels, colorspace, formats, metrics, remap
from .animwriters import FORMATS, MIN_DELAY, FrameOut, open_writer
from .effort import EFFORTS, check_effort
from .errors import ParameterError
from .frames import Frame, open_frames
from .histogram import Histogram, histogram, merge, pixels2d
from .io import DEFAULT_MAX_PIXELS, atomic_output, write_atomic
from .quantizer import Quantizer, check_parameters

__all__ = ["animate", "Animation", "FrameFigures", "KEEP_LEVELS", "format_of"]

#: A pixel of a lossy frame keeps what it shows while its source stays within this many
#: 8-bit levels (per channel) of what it was drawn for.
KEEP_LEVELS = 0

#: Frames share one palette, fitted to what they draw, over at most this many frames (a
#: window at a time, so memory does not grow with the clip) or until a scene cut.
WINDOW = 16

#: A window keeps the palette of the one before while its frames' mean squared error under
#: it is at most this much above the error of the frames the palette was fitted to.
REUSE_TOLERANCE = 0.15

#: A frame starts a new scene when more than this share of its pixels moved by more than
#: this many 8-bit levels since the frame before.
SCENE_SHARE = 0.5
SCENE_LEVELS = 24


def format_of(path) -> str | None:
    """The animated format a file name asks for (``gif``, ``apng``, ``webp``), or None."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return next((name for name, exts in FORMATS.items() if ext in exts), None)


@dataclass
class FrameFigures:
    """What happened to one source frame.

    Attributes
    ----------
    source : int
        The frame's number in the source (after resampling to the frame rate).
    start : float
        When it is shown, in seconds.
    drawn : float
        Share of the canvas it redrew (0: merged into the frame before).
    colors : int
        Palette entries of the frame written (0 when merged).
    lossless : bool
        The drawn pixels are exactly the source's.
    ssimulacra2 : float or None
        SSIMULACRA2 of what is on screen against the source frame (None when not
        measured, or where it is undefined).
    """

    source: int
    start: float
    drawn: float
    colors: int
    lossless: bool
    ssimulacra2: float | None = None


@dataclass
class Animation:
    """What :func:`animate` produced, and how good and how small it is.

    Attributes
    ----------
    data : bytes or None
        The file, when it was made in memory (None when written to ``path``).
    path : str or None
        Where the file was written, when :func:`animate` was given an ``output``.
    format : str
        ``gif``, ``apng`` or ``webp``.
    width, height : int
        Canvas size.
    frames : int
        Frames in the file (identical frames merged).
    source_frames : int
        Frames read from the source.
    duration : float
        Playing time in seconds.
    loop : int or None
        Loop count written (0: forever; None: played once).
    input_path, input_bytes
        The source and its size.
    output_bytes : int
        Size of the file.
    ratio : float or None
        ``input_bytes / output_bytes``.
    bpp : float
        Bits per pixel per source frame.
    ssimulacra2_mean, ssimulacra2_p10 : float or None
        Mean and 10th percentile of the measured frames' SSIMULACRA2.
    flicker : float
        Of the pixels that do not change in the source from one frame to the next, the
        share that changes on screen (0 when the source has no still pixel).
    lossless : bool
        Every frame's pixels are exactly the source's.
    seconds : float
        Wall time of the whole call.
    timings : dict
        Seconds per stage.
    frame_figures : list of FrameFigures
        One per source frame.
    """

    data: bytes | None
    path: str | None
    format: str
    width: int
    height: int
    frames: int
    source_frames: int
    duration: float
    loop: int | None
    input_path: str | None
    input_bytes: int | None
    output_bytes: int
    ratio: float | None
    bpp: float
    ssimulacra2_mean: float | None
    ssimulacra2_p10: float | None
    flicker: float
    lossless: bool
    seconds: float
    timings: dict = field(default_factory=dict)
    frame_figures: list = field(default_factory=list)

    def save(self, path, *, force: bool = False) -> None:
        """Write the file (made in memory) to ``path`` atomically; refuses a name whose
        extension is another format's, and to overwrite without ``force``."""
        if self.data is None:
            raise ParameterError(f"the animation was written to {self.path} already")
        named = format_of(path)
        if named is not None and named != self.format:
            raise ParameterError(
                f"{os.fspath(path)}: the name is a {named.upper()} file's, the animation "
                f"is {self.format.upper()}"
            )
        write_atomic(path, self.data, force=force, source=self.input_path)

    def summary(self) -> dict:
        """The figures as a JSON-ready dict (per-frame figures under ``per_frame``)."""
        return {
            "format": self.format,
            "frames": self.frames,
            "source_frames": self.source_frames,
            "width": self.width,
            "height": self.height,
            "duration": self.duration,
            "loop": self.loop,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "ratio": self.ratio,
            "bpp": self.bpp,
            "ssimulacra2_mean": self.ssimulacra2_mean,
            "ssimulacra2_p10": self.ssimulacra2_p10,
            "flicker": self.flicker,
            "lossless": self.lossless,
            "seconds": self.seconds,
            "per_frame": [
                {
                    "source": f.source,
                    "start": f.start,
                    "drawn": f.drawn,
                    "colors": f.colors,
                    "lossless": f.lossless,
                    "ssimulacra2": f.ssimulacra2,
                }
                for f in self.frame_figures
            ],
        }


def animate(
    source,
    colors: int = 256,
    *,
    output=None,
    format: str | None = None,
    fps: float | None = None,
    width: int | None = None,
    start: float = 0.0,
    duration: float | None = None,
    loop: int | None = None,
    space: str = "oklab",
    dither: float = 1.0,
    dither_method: str = "diffusion",
    effort: int = 5,
    force: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    measure_every: int = 1,
) -> Animation:
    """Compress an animation or a video to an animated GIF, APNG or WebP with k-means palettes.

    Parameters
    ----------
    source : str, os.PathLike or sequence
        An animated GIF, APNG or WebP, a video file (extra ``video``), a folder of
        frames, a glob pattern, or a sequence of uint8 arrays or PIL images
        (:func:`palettepress.frames.open_frames`).
    colors : int
        Palette entries per frame, 2 to 256 (one of them is the transparent entry that
        lets unchanged pixels show through).
    output : str or os.PathLike, optional
        Write the file here as it is made (through a temporary file renamed at the end);
        by default it is made in memory (:attr:`Animation.data`).
    format : {"gif", "apng", "webp"}, optional
        By default ``output``'s extension (``.gif``; ``.png`` or ``.apng``; ``.webp``),
        else GIF.
    fps, width, start, duration
        Resample the source to this frame rate, resize it to this width, and cut it
        (seconds); see :func:`~palettepress.frames.open_frames`.
    loop : int, optional
        Times the animation repeats, 0 forever; by default the source's, else forever.
    space, dither, dither_method, effort
        As for :func:`~palettepress.compress` (``dither_method``: ``diffusion`` or
        ``ordered``).
    force : bool
        Overwrite ``output`` if it exists.
    max_pixels : int
        Refuse frames with more pixels.
    measure_every : int
        Measure SSIMULACRA2 on every n-th source frame (1: all).

    Returns
    -------
    Animation
    """
    started = time.perf_counter()
    fmt = _choose_format(format, output)
    _check(colors, space, dither, dither_method, effort, loop, measure_every)
    frames = open_frames(
        source, fps=fps, width=width, start=start, duration=duration, max_pixels=max_pixels
    )
    if loop is None:
        loop = 0 if frames.loop is None and frames.format in ("video", "frames") else frames.loop
    options = {"space": space, "dither": dither, "dither_method": dither_method, "effort": effort}
    timings = {"palette": 0.0}
    shared = None
    if fmt == "apng":
        t = time.perf_counter()
        shared = _shared_quantizer(frames, colors, options)
        timings["palette"] = time.perf_counter() - t
    with _output(output, force, frames.path) as fh:
        palette = None if shared is None else _with_keep_entry(shared.palette_)[0]
        writer = open_writer(
            fmt,
            fh,
            frames.width,
            frames.height,
            loop,
            effort=effort,
            level=EFFORTS[effort]["deflate"],
            palette=palette,
        )
        engine = _Engine(writer, colors, options, shared, measure_every)
        for frame in frames:
            engine.add(frame)
        engine.finish()
        data = fh.getvalue() if isinstance(fh, io.BytesIO) else None
        written = fh.tell()
    return _result(engine, frames, fmt, loop, data, output, written, started, timings)


def _choose_format(fmt, output) -> str:
    if fmt is not None:
        if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
            raise ParameterError(f"unknown animation format {fmt!r}: use {', '.join(FORMATS)}")
        fmt = fmt.lower()
    named = format_of(output) if output is not None else None
    if output is not None and named is None and os.path.splitext(os.fspath(output))[1]:
        raise ParameterError(
            f"{os.fspath(output)}: unknown animation format: name the file .gif, .png, "
            ".apng or .webp"
        )
    if fmt is not None and named is not None and fmt != named:
        raise ParameterError(
            f"{os.fspath(output)}: the name is a {named.upper()} file's, but the format is {fmt}"
        )
    return fmt or named or "gif"


def _check(colors, space, dither, dither_method, effort, loop, measure_every) -> None:
    check_parameters(colors, space, dither, dither_method, "split", 100, None)
    if dither_method == "auto":
        raise ParameterError("dither_method auto is for still images: use diffusion or ordered")
    check_effort(effort)
    if loop is not None and (
        isinstance(loop, bool) or not isinstance(loop, (int, np.integer)) or not 0 <= loop <= 65535
    ):
        raise ParameterError(f"loop must be an integer from 0 to 65535, got {loop!r}")
    if isinstance(measure_every, bool) or not isinstance(measure_every, int) or measure_every < 1:
        raise ParameterError(f"measure_every must be a positive integer, got {measure_every!r}")


@contextlib.contextmanager
def _output(output, force: bool, source):
    if output is None:
        yield io.BytesIO()
    else:
        with atomic_output(output, force=force, source=source) as fh:
            yield fh


def _result(engine, frames, fmt, loop, data, output, written, started, timings) -> Animation:
    scores = [f.ssimulacra2 for f in engine.figures if f.ssimulacra2 is not None]
    n = len(engine.figures)
    still = engine.still
    return Animation(
        data=data,
        path=None if output is None else os.fspath(output),
        format=fmt,
        width=frames.width,
        height=frames.height,
        frames=engine.writer.frames,
        source_frames=n,
        duration=engine.clock,
        loop=loop,
        input_path=frames.path,
        input_bytes=frames.file_bytes,
        output_bytes=written,
        ratio=(frames.file_bytes / written) if frames.file_bytes and written else None,
        bpp=8.0 * written / max(1, frames.width * frames.height * n),
        ssimulacra2_mean=float(np.mean(scores)) if scores else None,
        ssimulacra2_p10=float(np.percentile(scores, 10)) if scores else None,
        flicker=engine.flickered / still if still else 0.0,
        lossless=all(f.lossless for f in engine.figures if f.drawn > 0),
        seconds=time.perf_counter() - started,
        timings={**timings, **engine.timings},
        frame_figures=engine.figures,
    )


def _shared_quantizer(frames, colors: int, options: dict) -> Quantizer:
    """One palette for the whole file (APNG), fitted to the pixels the frames draw: every
    pixel of the first frame, then those that differ from the frame before."""
    hist: Histogram | None = None
    prev = None
    channels = 3
    for frame in frames:
        px = frame.pixels
        if px.shape[2] == 4 and channels == 3:
            channels = 4
            if hist is not None:
                hist = _with_alpha(hist)
        px = _channels(px, channels)
        if prev is not None and prev.shape == px.shape:
            drawn = (px != prev).any(axis=2).ravel()
            flat = pixels2d(px)[drawn]
        else:
            flat = pixels2d(px)
        prev = px
        if len(flat):
            h = histogram(np.ascontiguousarray(flat), max_distinct=1 << 32)
            hist = h if hist is None else merge([hist, h], channels)
    assert hist is not None  # open_frames guarantees a frame
    q = Quantizer(colors - 1, **options)
    q._fit_histogram(hist, channels)
    return q


def _with_alpha(hist: Histogram) -> Histogram:
    """An opaque exact histogram as one with an alpha channel (keys already hold 255)."""
    colors = np.concatenate([hist.colors, np.full((len(hist), 1), 255.0)], axis=1)
    keys = hist.keys | np.uint32(0xFF000000)
    return Histogram(colors=colors, counts=hist.counts, keys=keys, mask=hist.mask)


def _channels(px: np.ndarray, channels: int) -> np.ndarray:
    if px.shape[2] == channels:
        return px
    return np.concatenate([px, np.full(px.shape[:2] + (1,), 255, np.uint8)], axis=2)


def _with_keep_entry(palette: np.ndarray) -> tuple[np.ndarray, int]:
    """The palette as RGBA with an entry for pixels that show through (its fully
    transparent entry, or one appended), and that entry's index."""
    rgba = _channels(palette[None], 4)[0]
    clear = np.nonzero(rgba[:, 3] == 0)[0]
    if len(clear):
        return rgba, int(clear[0])
    return np.vstack([rgba, np.zeros((1, 4), dtype=np.uint8)]), len(rgba)


def _lookup(colors: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Index of each colour (m, C) in ``palette`` (n, C), -1 where it is absent."""
    c = colors.shape[1]
    keys = _pack(palette, c)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    want = _pack(colors, c)
    pos = np.searchsorted(sorted_keys, want)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    found = sorted_keys[pos] == want
    return np.where(found, order[pos], -1)


def _pack(colors: np.ndarray, channels: int) -> np.ndarray:
    padded = np.zeros((len(colors), 4), dtype=np.uint8)
    padded[:, :channels] = colors[:, :channels]
    return padded.view(np.uint32).reshape(-1)


@dataclass
class _Pending:
    """A frame read and prepared, waiting for its window's palette."""

    px: np.ndarray  # as the format stores it (GIF: alpha thresholded), the canvas's channels
    source: np.ndarray  # as decoded: what it is measured against
    start: float
    figure: FrameFigures


class _Engine:
    """The frames, a window at a time: keep, fit, map, encode, measure (module docstring)."""

    def __init__(
        self, writer, colors: int, options: dict, shared: Quantizer | None, measure_every: int
    ):
        self.writer = writer
        self.colors = colors
        self.options = options
        self.shared = shared
        self.measure_every = measure_every
        self.gif = writer.format == "gif"
        self.window: list[_Pending] = []
        self.channels = 3
        self.palette_fit: Quantizer | None = None  # the scene's palette, while it serves
        self.palette_error = 0.0  # its mean squared error on the frames it was fitted to
        self.shown: np.ndarray | None = None  # what the viewer sees
        self.drawn_for: np.ndarray | None = None  # the source each pixel was drawn for
        self.prev_source: np.ndarray | None = None
        self.clock = 0.0
        self.last_start: float | None = None
        self.figures: list[FrameFigures] = []
        self.still = 0
        self.flickered = 0
        self.timings = {"keep": 0.0, "fit": 0.0, "remap": 0.0, "encode": 0.0, "metrics": 0.0}

    def add(self, frame: Frame) -> None:
        source = frame.pixels
        start = self.clock
        self.clock += frame.duration
        px = formats.Writer("gif").prepare(source)[0] if self.gif else source
        if px.shape[2] > self.channels:
            self._upgrade(px.shape[2])
        px = _channels(px, self.channels)
        if self.window and (len(self.window) >= WINDOW or _scene_cut(self.window[-1].px, px)):
            self._flush()
        figure = FrameFigures(frame.index, start, 0.0, 0, True)
        self.window.append(_Pending(px, source, start, figure))

    def finish(self) -> None:
        self._flush()
        t = time.perf_counter()
        self.writer.close(self.clock)
        self.timings["encode"] += time.perf_counter() - t

    def _upgrade(self, channels: int) -> None:
        """Frames gain an alpha channel: so do the canvas and the waiting frames."""
        self.channels = channels
        for p in self.window:
            p.px = _channels(p.px, channels)
        if self.shown is not None:
            assert self.drawn_for is not None
            self.shown = _channels(self.shown, channels)
            self.drawn_for = _channels(self.drawn_for, channels)

    def _flush(self) -> None:
        """Fit the window's palette, then draw, encode and measure its frames in order."""
        if not self.window:
            return
        t = time.perf_counter()
        q = self.shared if self.shared is not None else self._fit_window()
        self.timings["fit"] += time.perf_counter() - t
        for p in self.window:
            on_screen = None
            if self.last_start is None or p.start - self.last_start >= MIN_DELAY - 1e-9:
                on_screen = self._draw(p, q)
            self._measure(p.source, on_screen, p.figure, len(self.figures))
            self.figures.append(p.figure)
        self.window = []

    def _fit_window(self) -> Quantizer:
        """One palette for the window: fitted to every pixel its frames will draw (the
        first frame's that differ from the canvas, the others' that differ from the frame
        before), with one entry left for pixels that show through."""
        drawn = []
        before = self.drawn_for
        for p in self.window:
            flat = pixels2d(p.px)
            if before is None or before.shape != p.px.shape:
                drawn.append(flat)
            else:
                drawn.append(flat[(p.px != before).any(axis=2).ravel()])
            before = p.px
        points = np.concatenate(drawn) if len(drawn) > 1 else drawn[0]
        if not len(points):
            points = pixels2d(self.window[-1].px)[:1]
        hist = histogram(np.ascontiguousarray(points))
        last = self.palette_fit
        # The scene goes on: keep its palette while it serves the new frames about as well
        # as the frames it was fitted to (same entries: GIF's global table, and no colour
        # shifts between windows).
        if (
            last is not None
            and last.palette_.shape[1] == self.channels
            and _mean_error(hist, last) <= (1 + REUSE_TOLERANCE) * self.palette_error
        ):
            return last
        q = Quantizer(self.colors - 1, **self.options)
        q._fit_histogram(hist, self.channels)
        self.palette_fit, self.palette_error = q, _mean_error(hist, q)
        return q

    def _draw(self, p: _Pending, q: Quantizer):
        """Keep, map and encode one frame with the window's palette (or, when the pixels
        to draw fit a palette exactly, with their own colours); returns the pixels whose
        colour changed on screen (None when nothing was drawn)."""
        t0 = time.perf_counter()
        keep, replace = self._keep(p.px)
        if keep.all():
            return None
        box = _box(_bounds(~keep))
        px = np.ascontiguousarray(p.px[box])  # only the changed rectangle is mapped
        keep = keep[box]
        exact = histogram(np.ascontiguousarray(pixels2d(px)[~keep.ravel()]))
        lossless = self.shared is None and exact.exact and len(exact) < self.colors
        if lossless:
            q = Quantizer(self.colors - 1, **self.options)
            q._fit_histogram(exact, px.shape[2])  # every colour its own entry
            values = q._assign
        else:
            if self.last_start is not None and KEEP_LEVELS and not (replace and self.gif):
                assert self.drawn_for is not None
                keep = _kernels.frame_keep(px, self.drawn_for[box], KEEP_LEVELS).view(bool)
                if keep.all():
                    return None
            # The frame's colours (a superset of those now drawn) to the window's palette.
            values = remap.entries_for(exact, q.palette_, q.space, q._hist, q._assign)
        t1 = time.perf_counter()
        palette, transparent = _with_keep_entry(q.palette_)
        colours = np.ascontiguousarray(palette[:, : px.shape[2]])  # as the canvas holds them
        kept = bool(keep.any())
        indices = remap.map_pixels(
            px,
            q.palette_,
            q.space,
            q._method(),
            q.dither,
            hist=exact,
            assign=values,
            keep=keep if kept else None,
            keep_index=transparent,
        )
        assert self.shown is not None
        flex = _either(indices, keep, colours, self.shown[box]) if kept else None
        t2 = time.perf_counter()
        on_screen = np.zeros(p.px.shape[:2], dtype=np.uint8)
        on_screen[box] = self._show(px, indices, keep, colours, replace, box)
        x, y = box[1].start, box[0].start
        self.writer.add(
            FrameOut(
                indices=indices,
                flex=flex,
                palette=palette,
                transparent=transparent,
                shows_through=kept or bool((indices[~keep] == transparent).any()),
                rect=(x, y, px.shape[1], px.shape[0]),
                start=p.start,
                replace=replace,
                canvas=self.shown.copy() if self.writer.needs_canvas else None,
            )
        )
        self.last_start = p.start
        t3 = time.perf_counter()
        p.figure.drawn = float((~keep).sum()) / (p.px.shape[0] * p.px.shape[1])
        p.figure.colors = len(palette)
        p.figure.lossless = bool(lossless or q.lossless_)
        self.timings["keep"] += t1 - t0
        self.timings["remap"] += t2 - t1
        self.timings["encode"] += t3 - t2
        return on_screen

    def _keep(self, px: np.ndarray) -> tuple[np.ndarray, bool]:
        """The pixels to keep (those showing exactly what they were drawn for), and
        whether the frame must replace the canvas (pixels turn transparent)."""
        h, w, c = px.shape
        if self.shown is None:
            self.shown = np.zeros_like(px)  # the canvas starts transparent (or black)
            self.drawn_for = np.zeros_like(px)
            return np.zeros((h, w), dtype=bool), False
        assert self.drawn_for is not None
        keep = _kernels.frame_keep(px, self.drawn_for, 0).view(bool)
        replace = c == 4 and self._needs_replace(px, keep)
        if replace and self.gif:
            keep = np.zeros((h, w), dtype=bool)  # the canvas is cleared first
        return keep, replace

    def _show(self, px, indices, keep, colours, replace: bool, box) -> np.ndarray:
        """Draw the rectangle ``box`` of the canvas; returns where it changed on screen."""
        assert self.shown is not None and self.drawn_for is not None
        keep8 = np.ascontiguousarray(keep).view(np.uint8)
        shown, drawn_for = self.shown[box], self.drawn_for[box]
        if replace and self.gif:  # the whole canvas (box), cleared to transparent first
            before = shown.copy()
            shown[...] = 0
            _kernels.frame_show(shown, drawn_for, px, indices, keep8, colours)
            return (shown != before).any(axis=2).view(np.uint8)
        return _kernels.frame_show(shown, drawn_for, px, indices, keep8, colours)

    def _needs_replace(self, px: np.ndarray, keep: np.ndarray) -> bool:
        """Whether a drawn pixel must become more transparent than what is on screen,
        which drawing over the canvas cannot do."""
        assert self.shown is not None
        shown_alpha = self.shown[..., 3]
        if self.gif:
            return bool(((px[..., 3] == 0) & (shown_alpha > 0) & ~keep).any())
        return bool(((px[..., 3] < 255) & (shown_alpha > 0) & ~keep).any())

    def _measure(self, source: np.ndarray, on_screen, figure: FrameFigures, n: int) -> None:
        t = time.perf_counter()
        if self.prev_source is not None and self.prev_source.shape == source.shape:
            still, flickered = _kernels.frame_flicker(source, self.prev_source, on_screen)
            self.still += still
            self.flickered += flickered
        self.prev_source = source
        if n % self.measure_every == 0 and self.shown is not None:
            shown = self.shown
            if source.shape[2] == 3 and shown.shape[2] == 4 and (shown[..., 3] == 255).all():
                shown = shown[..., :3]
            score = metrics.ssimulacra2(source, shown)
            figure.ssimulacra2 = None if math.isnan(score) else score
        self.timings["metrics"] += time.perf_counter() - t


def _mean_error(hist: Histogram, q: Quantizer) -> float:
    """Mean squared distance, in working coordinates, of the histogram's pixels to the
    palette entries they map to."""
    values = remap.entries_for(hist, q.palette_, q.space, q._hist, q._assign)
    x = colorspace.to_working(hist.colors8 if hist.exact else hist.colors, q.space)
    p = colorspace.to_working(q.palette_, q.space)
    d = x - p[values]
    w = hist.counts.astype(np.float64)
    return float((w * (d * d).sum(axis=1)).sum() / max(w.sum(), 1.0))


def _either(indices: np.ndarray, keep: np.ndarray, colours: np.ndarray, shown: np.ndarray):
    """Kept pixels whose colour on screen (``shown``) the palette holds: their index is set
    to it, and they are marked (uint8) as writable either way."""
    at = _lookup(shown[keep], colours)
    found = at >= 0
    rows, cols = np.nonzero(keep)
    rows, cols = rows[found], cols[found]
    indices[rows, cols] = at[found]
    flex = np.zeros(keep.shape, dtype=np.uint8)
    flex[rows, cols] = 1
    return flex


def _box(rect: tuple[int, int, int, int]) -> tuple[slice, slice]:
    x, y, w, h = rect
    return slice(y, y + h), slice(x, x + w)


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the smallest rectangle holding every True of ``mask``."""
    ys = np.nonzero(mask.any(axis=1))[0]
    xs = np.nonzero(mask.any(axis=0))[0]
    return int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)


def _scene_cut(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether ``after`` starts a new scene: most of its pixels changed a lot."""
    if before.shape != after.shape:
        return True
    step = 4  # a sample of the rows is enough to tell
    moved = np.abs(after[::step].astype(np.int16) - before[::step]).max(axis=2) > SCENE_LEVELS
    return bool(moved.mean() > SCENE_SHARE)
