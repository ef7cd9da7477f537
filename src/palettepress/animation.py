"""Animations: frames through the same stages as a still image, with state carried forward.

Per frame, in order:

1. **prepare**: the frame as :mod:`palettepress.frames` decodes it (resampled to the
   frame rate, resized), made storable by the format (GIF: each pixel opaque or
   transparent, as for a still GIF, the choice between thresholding alpha and patterning
   broad translucent areas made once per clip).
2. **keep**: which pixels go on showing what the canvas already shows: those whose
   source is exactly what they were drawn for and, in a video's frames or frames of
   more colours than the palette, those a decoder redrew by a level or two where the
   rest of their tile is still (:data:`~palettepress.temporal.NOISE_LEVELS`). Still
   pixels never flicker and cost next to nothing (transparent in the file). The rest is
   drawn. (Keeping every pixel that moved by no more than a camera's noise was measured
   and left out: on a noisy still scene it saved 8-38% of the bytes, but on pans it cost
   0.5-3 SSIMULACRA2 points.) Where pixels turn transparent, a GIF clears the frame
   before's rectangle, stretched over them, and draws it again: the pixels in it that
   could have been kept are drawn in the colour they showed.
3. **fit**: a palette for a window of frames (ended early by a scene cut, or where the
   colours drift from its first frame's: a fade, a dissolve), by
   :class:`~palettepress.Quantizer` on the histogram of what they show (each colour
   counted for the frames it is on screen), or one palette for the whole file (APNG has
   one PLTE), fitted the same way to every frame.
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

from . import _kernels, targets
from .animwriters import FORMATS, open_writer
from .effort import EFFORTS, check_effort
from .errors import ParameterError
from .frames import open_frames
from .histogram import Histogram, histogram_of, merge
from .io import DEFAULT_MAX_PIXELS, atomic_output, write_atomic
from .quantizer import Quantizer, check_parameters
from .temporal import (
    WINDOW,
    Engine,
    FrameFigures,
    fitted_colours,
    with_channels,
    with_keep_entry,
)

__all__ = ["animate", "Animation", "FrameFigures", "format_of"]


def format_of(path) -> str | None:
    """The animated format a file name asks for (``gif``, ``apng``, ``webp``), or None."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return next((name for name, exts in FORMATS.items() if ext in exts), None)


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
        Times the animation repeats after its first play (0: forever; None: played
        once): a GIF's NETSCAPE count; APNG and WebP store one play more.
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
        Seconds per stage (``encode`` and ``metrics``: the time the stages waited for the
        writer and for SSIMULACRA2, which run on threads of their own while the next
        frames are mapped).
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

    def __repr__(self) -> str:
        ratio = f" ({self.ratio:.2f}x)" if self.ratio else ""
        quality = (
            "" if self.ssimulacra2_mean is None else f", SSIMULACRA2 {self.ssimulacra2_mean:.2f}"
        )
        return (
            f"<Animation {self.format.upper()} {self.width}x{self.height}, {self.frames} "
            f"frames, {self.duration:.2f} s, {self.output_bytes:,} bytes{ratio}{quality}, "
            f"flicker {self.flicker:.4f}>"
        )

    def _repr_html_(self) -> str:
        """Notebooks show the animation playing, with the figures."""
        from .report import animation_html

        return animation_html(self)

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
    measure_every: int = 4,
    text: dict | None = None,
    min_ssimulacra2: float | None = None,
) -> Animation:
    """Compress an animation or a video to an animated GIF, APNG or WebP with k-means palettes.

    Parameters
    ----------
    source : str, os.PathLike, PIL image or sequence
        An animated GIF, APNG or WebP, a video file (extra ``video``), a folder of
        frames, a glob pattern, a PIL image opened from such a file
        (``Image.open("a.gif")``: its file is read), or a sequence of uint8 arrays or PIL
        images (:func:`palettepress.frames.open_frames`).
    colors : int
        Palette entries per frame, 2 to 256 (one of them is the transparent entry that
        lets unchanged pixels show through; at 2, both are colours and that entry is a
        third).
    output : str or os.PathLike, optional
        Write the file here as it is made (through a temporary file renamed at the end);
        by default it is made in memory (:attr:`Animation.data`).
    format : {"gif", "apng", "webp"}, optional
        By default ``output``'s extension (``.gif``; ``.png`` or ``.apng``; ``.webp``),
        else GIF; ``"png"`` is APNG, as in Pillow.
    fps, width, start, duration
        Resample the source to this frame rate, resize it to this width, and cut it
        (seconds); see :func:`~palettepress.frames.open_frames`.
    loop : int, optional
        Times the animation repeats after its first play, 0 forever (a GIF's NETSCAPE
        count; an APNG or WebP stores ``loop + 1`` plays, as browsers read them); by
        default the source's, else forever.
    space, dither, dither_method, effort
        As for :func:`~palettepress.compress` (``dither_method``: ``diffusion`` or
        ``ordered``).
    force : bool
        Overwrite ``output`` if it exists.
    max_pixels : int
        Refuse frames with more pixels.
    measure_every : int
        Measure SSIMULACRA2 on every n-th source frame (default 4, as the references'
        figures in BENCHMARKS.md are measured; 1: every frame).
    text : dict, optional
        Text entries (keyword -> value) to write into the file: a GIF comment, PNG text
        chunks, the WebP EXIF description (:func:`palettepress.formats.read_text`).
    min_ssimulacra2 : float, optional
        A quality target instead of a palette size (``colors`` is then the most a
        palette may have): each scene gets the palette of fewest entries whose first
        frame, drawn whole, scores at least this SSIMULACRA2 (at most 100). Not for APNG
        (one palette for the file: use ``colors``).

    Raises
    ------
    TargetError
        No palette of up to ``colors`` entries meets ``min_ssimulacra2`` on a scene.

    Returns
    -------
    Animation
    """
    started = time.perf_counter()
    fmt = _choose_format(format, output)
    _check(colors, space, dither, dither_method, effort, loop, measure_every)
    if min_ssimulacra2 is not None:
        targets.check_target("min_ssimulacra2", min_ssimulacra2)
        if fmt == "apng":
            raise ParameterError(
                "min_ssimulacra2 chooses a palette per scene; APNG has one palette for the "
                "file: give colors instead"
            )
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
        palette = None if shared is None else with_keep_entry(shared.palette_)[0]
        writer = open_writer(
            fmt,
            fh,
            frames.width,
            frames.height,
            loop,
            effort=effort,
            level=EFFORTS[effort]["deflate"],
            palette=palette,
            text=text,
        )
        engine = Engine(
            writer,
            colors,
            options,
            shared,
            measure_every,
            min_ssimulacra2,
            video=frames.format == "video",
        )
        engine.name = frames.path or "animation"
        with writer, engine:
            for frame in frames:
                engine.add(frame)
            engine.finish()
        data = fh.getvalue() if isinstance(fh, io.BytesIO) else None
        written = fh.tell()
    return _result(engine, frames, fmt, loop, data, output, written, started, timings)


def _format_name(fmt):
    """A ``format`` argument as the writer's name: lower case, ``png`` meaning APNG (as
    Pillow's ``save_all=True`` writes for format "PNG"); anything but a string as it is."""
    if not isinstance(fmt, str):
        return fmt
    fmt = fmt.lower()
    return "apng" if fmt == "png" else fmt


def _choose_format(fmt, output) -> str:
    if fmt is not None:
        name = _format_name(fmt)
        if not isinstance(name, str) or name not in FORMATS:
            raise ParameterError(f"unknown animation format {fmt!r}: use {', '.join(FORMATS)}")
        fmt = name
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
        ssimulacra2_p10=_percentile(scores, 10) if scores else None,
        flicker=engine.flickered / still if still else 0.0,
        lossless=all(f.lossless for f in engine.figures if f.drawn > 0),
        seconds=time.perf_counter() - started,
        timings={**timings, **engine.timings},
        frame_figures=engine.figures,
    )


def _percentile(values: list, q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation between the closest ranks),
    without it: numpy's importing ``numpy.ma`` on its first call costs 18 ms."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    below = math.floor(pos)
    above = min(below + 1, len(ordered) - 1)
    return float(ordered[below] + (ordered[above] - ordered[below]) * (pos - below))


def _shared_quantizer(frames, colors: int, options: dict) -> Quantizer:
    """One palette for the whole file (APNG), fitted to what the frames show: each colour
    counted for the frames it is on screen, as a GIF window's palette is
    (:meth:`~palettepress.temporal.Engine._fit_window`), so every frame's every pixel
    once. Counted a window of frames at a time (``_kernels.window_histogram``: the
    pixels each frame draws, and the window before's last frame until drawn over), in
    the time of the pixels drawn; on the animation set, against counting each drawn
    pixel once, the heatmap 11% smaller and 3.3 SSIMULACRA2 higher, the line plot 3%
    smaller and 1.2 higher, mandelbrot +0.6 and testsrc2 +0.3 points, the others within
    0.6% and 0.1 points."""
    # The windows' histograms are merged a batch at a time, each batch once it holds as
    # many colours as the merged ones so far: merging every window into the whole would
    # sort the whole again for each (1.9 of 5.5 s on an 80-frame noisy pan, frame by
    # frame).
    hists: list[Histogram] = []
    pending = 0  # colours in hists[1:], not merged yet
    canvas = None
    window: list[np.ndarray] = []
    channels = 3

    def count() -> None:
        nonlocal pending, hists, canvas, window
        keys, counts, _ = _kernels.window_histogram(window, canvas)
        hists.append(histogram_of(keys, counts, channels, max_distinct=1 << 32))
        canvas, window = window[-1], []
        pending += len(hists[-1]) if len(hists) > 1 else 0
        if pending >= len(hists[0]):
            hists, pending = [merge(hists, channels)], 0

    for frame in frames:
        px = frame.pixels
        if px.shape[2] == 4 and channels == 3:
            channels = 4
            hists = [_with_alpha(h) for h in hists]
            window = [np.ascontiguousarray(with_channels(w, 4)) for w in window]
            if canvas is not None:
                canvas = np.ascontiguousarray(with_channels(canvas, 4))
        window.append(np.ascontiguousarray(with_channels(px, channels)))
        if len(window) == WINDOW:
            count()
    if window:
        count()
    assert hists  # open_frames guarantees a frame
    hist = merge(hists, channels)
    q = Quantizer(fitted_colours(colors), **options)
    q._fit_histogram(hist, channels)
    return q


def _with_alpha(hist: Histogram) -> Histogram:
    """An opaque exact histogram as one with an alpha channel (keys already hold 255)."""
    colors = np.concatenate([hist.colors, np.full((len(hist), 1), 255.0)], axis=1)
    keys = hist.keys | np.uint32(0xFF000000)
    return Histogram(colors=colors, counts=hist.counts, keys=keys, mask=hist.mask)
