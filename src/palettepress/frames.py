"""Reading frames: the decode stage for animations, videos and folders of frames.

:func:`open_frames` opens an animated GIF, APNG or WebP (read with Pillow; a still image is
a one-frame animation), a video (read with PyAV, the ``video`` extra), a folder of frame
files, a glob pattern, or frames in memory, and returns a :class:`FrameSource`. Iterating
the source decodes one :class:`Frame` at a time: the canvas a viewer shows at that moment,
as 8-bit sRGB, with how long it is shown.

The readers are in their own modules: :mod:`palettepress.framefiles` (Pillow: animations,
stills, folders, globs and frames in memory) and :mod:`palettepress.video` (PyAV, imported
only when a file turns out to be no image); :mod:`palettepress._framebase` holds the reader
base class and the checked options they share. This module keeps the public API, the
checks of its arguments, the choice of reader and the timeline (cut to ``start`` and
``duration``, resampled to ``fps``).

This module and its readers only read. They do not quantize, remap, encode or write
anything; they print nothing and read no environment. They hold one decoded frame at a
time (plus what the decoder holds and, for a video, the next frame in the decoder's own
format: its timestamp says how long the current one is shown), so a long video streams in
bounded memory.
Still images and the files of a folder are decoded by :func:`palettepress.io.load`, so
they get exactly the pixels (EXIF orientation, ICC profile, 16-bit rounding) that the
still-image pipeline gets.

Times are kept as exact fractions of a second (milliseconds of GIF/APNG/WebP delays,
multiples of a video's time base, the reciprocal of a requested ``fps``), so cutting and
resampling a timeline never gains or loses a frame to float rounding.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from PIL import Image

from ._framebase import DEFAULT_FPS, _Interval, _Options, _Reader
from .errors import InputError, ParameterError
from .framefiles import (
    _file_size,
    _FilesReader,
    _folder_files,
    _glob_files,
    _MemoryReader,
    _open_image,
    _PillowReader,
    _webp_broken_frame,
)
from .io import DEFAULT_MAX_PIXELS
from .video import _video_reader

__all__ = ["Frame", "FrameSource", "open_frames", "DEFAULT_FPS"]


@dataclass
class Frame:
    """One frame of an animation, as a viewer shows it.

    Attributes
    ----------
    pixels : ndarray, uint8 (H, W, 3) or (H, W, 4)
        The composited canvas in sRGB, C-contiguous. Four channels only when some pixel of
        this frame is not fully opaque, so one animation can mix three- and four-channel
        frames. When resampling to an ``fps`` repeats a source frame, the repeats share one
        array, and frames given in memory as uint8 arrays may be yielded as they are: treat
        the pixels as read-only.
    duration : float
        Seconds the frame is shown.
    index : int
        0-based number of the frame in the source (before any ``fps`` resampling), the
        number error messages use.
    """

    pixels: np.ndarray
    duration: float
    index: int


class FrameSource:
    """An opened animation; iterate it for its frames, decoded lazily one at a time.

    Made by :func:`open_frames`. It can be iterated again and again: each iteration
    re-opens and re-reads the source (the first reuses what :func:`open_frames` already
    decoded), except for a one-shot iterator of frames in memory, which can be read once.

    Attributes
    ----------
    path : str or None
        The source file, folder or glob pattern; None for frames in memory.
    format : str
        Pillow's format name for images ("GIF", "PNG" for APNG too, "WEBP", ...),
        "video" for anything PyAV reads, "frames" for folders, globs and frames in memory.
    width, height : int
        Size of the frames as yielded (after ``width`` resizing).
    fps : float or None
        Nominal rate of the yielded frames: the requested ``fps``, else a video's average
        rate, :data:`DEFAULT_FPS` for frames without timing, None for animations whose
        frames carry their own durations.
    frame_count : int or None
        Number of frames the iteration yields, when known without decoding them (for a
        video, as the container reports it).
    loop : int or None
        Times the source animation repeats after its first play (0 = forever; a GIF's
        NETSCAPE count, an APNG's or WebP's plays less one), None when it plays once.
    file_bytes : int or None
        Size of the source file (the sum of the files for a folder or glob); None in memory.
    """

    path: str | None
    format: str
    width: int
    height: int
    fps: float | None
    frame_count: int | None
    loop: int | None
    file_bytes: int | None

    def __init__(self, reader: _Reader, *, step: Fraction | None, start: Fraction, stop):
        self._reader = reader
        self._step = step
        self._start = start
        self._stop = stop
        self.path = reader.path
        self.format = reader.format
        self.loop = reader.loop
        self.file_bytes = reader.file_bytes
        self.fps = float(1 / step) if step is not None else reader.rate
        self.frame_count = self._count()
        self._pending: tuple[Frame, Generator[Frame, None, None]] | None = None
        self._end: list[Fraction] = []
        # Decode the first frame now, so that a bad source fails before any other work.
        frames = self._frames()
        try:
            first = next(frames)
        except StopIteration:
            raise InputError(self._empty_message()) from None
        self.height, self.width = first.pixels.shape[:2]
        self._pending = (first, frames)

    def __iter__(self) -> Iterator[Frame]:
        pending, self._pending = self._pending, None
        if pending is not None:
            first, rest = pending
            yield first
            yield from rest
        else:
            yield from self._frames()

    def close(self) -> None:
        """Release the file (or decoder) kept open from :func:`open_frames`, if unread."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[1].close()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<FrameSource {self.path or 'in memory'} {self.format} {self.width}x{self.height}"
            f" fps={self.fps} frames={self.frame_count} loop={self.loop}>"
        )

    def _frames(self) -> Generator[Frame, None, None]:
        return _timeline(self._reader.intervals(), self._start, self._stop, self._step, self._end)

    def _count(self) -> int | None:
        reader = self._reader
        if reader.count is None:
            return None
        if self._step is None and self._start == 0 and self._stop == math.inf:
            return reader.count
        if reader.uniform is None:
            return None  # durations vary: counting would mean decoding
        d = reader.uniform
        cells = ((k, k * d, (k + 1) * d, _nothing) for k in range(reader.count))
        return sum(1 for _ in _timeline(cells, self._start, self._stop, self._step, []))

    def _empty_message(self) -> str:
        name = self._reader.name
        if not self._end:
            return f"{name}: {self._reader.empty}"
        span = f"from {float(self._start):g} s"
        if self._stop != math.inf:
            span += f" to {float(self._stop):g} s"
        return f"{name}: no frames {span} (it lasts {float(self._end[-1]):g} s)"


def open_frames(
    source,
    *,
    fps: float | None = None,
    width: int | None = None,
    start: float = 0.0,
    duration: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> FrameSource:
    """Open an animation, a video, a folder of frames or frames in memory.

    Parameters
    ----------
    source : path, str, or iterable of frames
        One of:

        - an image file: an animated GIF, APNG or WebP (Pillow composites each frame onto
          the canvas as a viewer does), any other multi-frame image Pillow reads (TIFF
          pages, FLI), or a still image (one frame, decoded by :func:`palettepress.io.load`);
        - a video: any file Pillow cannot identify is tried with PyAV (FFmpeg: mp4, mkv,
          webm, mov, avi, ...). The content decides, not the extension; only when PyAV is
          missing does a video extension turn "not an image" into an install hint;
        - a folder: its image files (by Pillow's extensions; hidden files skipped) in
          natural name order (``frame2`` before ``frame10``);
        - a glob pattern such as ``"shots/*.png"`` (a path that does not exist and holds
          ``*``, ``?`` or ``[``): the image files it matches, in natural order;
        - a PIL image: opened from a file (``Image.open("a.gif")``), that file, every
          frame and delay; made in memory, one frame;
        - frames in memory: a sequence or iterable of uint8 arrays ``(H, W)``,
          ``(H, W, 3)`` or ``(H, W, 4)`` or PIL images, a ``(N, H, W, C)`` array, or a list
          of file paths (taken in the given order). A one-shot iterator can be read once.
    fps : float, optional
        Resample the timeline at this rate: output frame ``i`` is the source frame shown at
        time ``start + i / fps``, and every duration is ``1 / fps``. Folders, globs and
        frames in memory carry no timing: for them ``fps`` is their rate (each frame shown
        ``1 / fps`` s), as ffmpeg's ``-framerate`` is for image sequences. Without it, frames keep
        their own durations: the file's delays for GIF, APNG and WebP (a delay of 10 ms or
        less, GIF's missing delay included, counts as 100 ms, as Firefox, Chromium and
        Safari show it), a video's timestamps, and 1 / :data:`DEFAULT_FPS` s otherwise.
    width : int, optional
        Resize every frame to this width (larger than the source is allowed), the height
        scaled to keep the aspect ratio (at least 1). Images are resized with Pillow's
        LANCZOS; videos with FFmpeg's Lanczos scaler while converting to RGB (several times
        faster than converting first and resizing with Pillow).
    start : float
        Seconds of the source timeline to skip (0 is the first frame).
    duration : float, optional
        Seconds of the timeline to keep from ``start``. Without ``fps``, the frames shown
        during ``[start, start + duration)`` are yielded with their durations cut to it.
    max_pixels : int
        A source frame, or a resized frame, with more pixels than this is refused.

    Returns
    -------
    FrameSource
        With its first frame already decoded: a bad source fails here.

    Raises
    ------
    InputError
        The source is missing, not an image or video, has no video stream, is corrupt or
        truncated (the message names the frame), its frames differ in size, it has no
        frames (or none in ``[start, start + duration)``), or a video has neither a frame
        rate nor timestamps and no ``fps`` is given.
    ImageTooLargeError
        A frame has more than ``max_pixels`` pixels.
    ParameterError
        ``fps``, ``width``, ``start``, ``duration`` or ``max_pixels`` is out of range, or
        ``source`` is of no kind listed above.
    ExtraMissingError
        The source is a video and PyAV is not installed.

    Notes
    -----
    A video's frames are converted to RGB with the YUV matrix and range its frames are
    tagged with; untagged ones get BT.709 when at least 1280 wide or taller than 576 and
    BT.601 otherwise (what mpv and most players assume). Its sample aspect ratio and
    rotation are applied, as players do; HDR transfer functions are not tone-mapped.
    Timestamps count from the first frame. With ``start``, a video is seeked to the
    keyframe before it when the stream has a frame rate, and the frame numbers after the
    seek are computed from the rate (exact for constant-rate video).
    """
    step = _check_fps(fps)
    width = _check_width(width)
    start_t = _check_seconds("start", start, allow_zero=True)
    stop: Fraction | float = math.inf
    if duration is not None:
        stop = start_t + _check_seconds("duration", duration, allow_zero=False)
    if (
        isinstance(max_pixels, bool)
        or not isinstance(max_pixels, (int, np.integer))
        or max_pixels < 1
    ):
        raise ParameterError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    opts = _Options(width=width, max_pixels=int(max_pixels), step=step, start=start_t)
    reader = _reader_for(source, opts)
    # Frames without timing of their own are at ``fps`` already: nothing to resample.
    return FrameSource(reader, step=None if reader.timeless else step, start=start_t, stop=stop)


# --- Arguments ----------------------------------------------------------------------------


def _exact(value) -> Fraction:
    """A number as the fraction its shortest decimal spells (0.3 -> 3/10, not 0.2999...)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    return Fraction(repr(float(value)))


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Fraction, np.integer, np.floating)) and not isinstance(
        value, bool
    )


def _check_fps(fps) -> Fraction | None:
    if fps is None:
        return None
    if not _is_number(fps) or not math.isfinite(float(fps)) or fps <= 0:
        raise ParameterError(f"fps must be a positive finite number, got {fps!r}")
    return 1 / _exact(fps)


def _check_width(width) -> int | None:
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ParameterError(f"width must be a positive integer, got {width!r}")
    return int(width)


def _check_seconds(what: str, value, *, allow_zero: bool) -> Fraction:
    bad = not _is_number(value) or not math.isfinite(float(value))
    if bad or value < 0 or (value == 0 and not allow_zero):
        rule = "at least 0" if allow_zero else "more than 0"
        raise ParameterError(f"{what} must be a finite number of seconds, {rule}, got {value!r}")
    return _exact(value)


# --- The timeline -------------------------------------------------------------------------


_NO_PIXELS = np.zeros((1, 1, 3), dtype=np.uint8)


def _nothing() -> np.ndarray:
    """The pixels of a frame that is only counted."""
    return _NO_PIXELS


def _timeline(
    intervals: Iterable[_Interval],
    start: Fraction,
    stop: Fraction | float,
    step: Fraction | None,
    end: list[Fraction],
) -> Generator[Frame, None, None]:
    """The frames shown in ``[start, stop)``: each source frame with its duration cut to
    the window, or (with ``step``) the frame shown at each ``start + i * step``.

    Intervals arrive in time order and tile the timeline from 0; a source frame is
    decoded (its getter called) only when it is yielded, and reading stops at ``stop``.
    ``end`` receives the end of the last interval read, for the "no frames" message.
    """
    if step is None:
        for index, t0, t1, pixels in intervals:
            end[:] = [t1]
            if t0 >= stop:
                return
            if t1 <= start or t1 <= t0:
                continue  # before the window, or never shown
            yield Frame(pixels(), float(min(t1, stop) - max(t0, start)), index)
        return
    # Each sample is held back until the next: the last one lasts only to the end of
    # the source (or the window), so that resampling keeps the clip's length.
    i, t, seconds = 0, start, float(step)
    held: tuple | None = None  # (pixels, index, when) of the sample not yet yielded
    for index, _t0, t1, pixels in intervals:
        end[:] = [t1]
        if t >= stop:
            break
        shared = None
        while t < t1 and t < stop:
            if shared is None:
                shared = pixels()
            if held is not None:
                yield Frame(held[0], seconds, held[1])
            held = (shared, index, t)
            i += 1
            t = start + i * step
    if held is not None:
        yield Frame(held[0], float(min(end[0], stop) - held[2]), held[1])


# --- Sources ------------------------------------------------------------------------------


def _reader_for(source, opts: _Options) -> _Reader:
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if isinstance(name, bytes):
            raise ParameterError(f"source: give paths as str, not bytes: {name!r}")
        if os.path.isdir(name):
            return _FilesReader(name, _folder_files(name), opts)
        if os.path.exists(name):
            return _file_reader(name, opts)
        if re.search(r"[*?[]", name):
            return _FilesReader(name, _glob_files(name), opts)
        raise InputError(f"{name}: no such file or folder")
    if isinstance(source, Image.Image):
        # An image Pillow opened from a file: the file, so that an animation's every
        # frame and delay are read; else an image made in memory: one frame.
        path = getattr(source, "filename", "")
        if path and os.path.isfile(path):
            return _file_reader(path, opts)
        if getattr(source, "n_frames", 1) > 1:
            raise ParameterError(
                "source: an animated PIL image not opened from a file: give the file, or "
                "its frames as a list (with fps)"
            )
        return _MemoryReader([source], opts)
    if isinstance(source, np.ndarray):
        if source.ndim != 4:
            raise ParameterError(
                f"source: an array of frames must be (N, H, W, C), got shape {source.shape}"
                " (put a single image in a list)"
            )
        return _MemoryReader(source, opts)
    if (
        isinstance(source, (bytes, bytearray, memoryview, dict))
        or hasattr(source, "read")  # a file object, which iterates over lines
        or not isinstance(source, Iterable)
    ):
        raise ParameterError(
            "source: expected a file, folder or glob pattern, or an iterable of frames,"
            f" got {type(source).__name__} (an animation's bytes: write them to a file)"
        )
    if (
        isinstance(source, Sequence)
        and len(source)
        and all(isinstance(item, (str, os.PathLike)) for item in source)
    ):
        paths = [os.fspath(p) for p in source]
        return _FilesReader(None, paths, opts)
    return _MemoryReader(source, opts)


def _file_reader(name: str, opts: _Options) -> _Reader:
    """The reader of a file: Pillow's when Pillow identifies it, else PyAV's (a video)."""
    size = _file_size(name)
    try:
        img = _open_image(name)
    except InputError:
        broken = _webp_broken_frame(name)
        if broken is not None:
            raise InputError(f"{name}: frame {broken[0]} is {broken[1]}") from None
        raise
    if img is not None:
        return _PillowReader(name, size, img, opts)
    return _video_reader(name, size, opts)
