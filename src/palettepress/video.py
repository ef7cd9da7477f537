"""Reading videos with PyAV (FFmpeg): the video reader of :mod:`palettepress.frames`.

:func:`_video_reader` is what :mod:`palettepress.frames` calls for a file Pillow cannot
identify: it imports PyAV then, through :func:`palettepress.errors.require` (the ``video``
extra; without it, an install hint), and returns a :class:`_VideoReader`. That reads the
first video stream that is not a cover picture, times each frame by its timestamp (or
the stream's rate), seeks to the keyframe before ``start`` when the stream has a frame
rate, and converts frames to RGB(A) with FFmpeg's scaler: YUV matrix and range as
tagged, sample aspect ratio and rotation applied, resized with Lanczos in the same pass.

This is the only module of the package that imports PyAV, and only inside
:func:`_video_reader`: importing it, or :mod:`palettepress.frames`, does not load PyAV.
It only reads: no quantizing, remapping, encoding or writing, no printing. It holds one
decoded frame at a time, plus the next one (whose timestamp ends the current one).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Any

import numpy as np

from ._framebase import _check_pixels, _Interval, _Options, _Reader, _scaled_size
from .errors import ExtraMissingError, InputError, require

#: Extensions that mean "a video" when PyAV is not installed to look inside the file.
# fmt: off
_VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".ts",
    ".m2ts", ".mts", ".3gp", ".ogv", ".vob", ".y4m", ".h264", ".264", ".hevc", ".h265", ".ivf",
    ".nut", ".mxf", ".dv",
})
# fmt: on

#: FFmpeg "video" codecs that render text files (ANSI art, binary text); FFmpeg's probe
#: claims .txt and .bin files for them, but they are not what anyone means by a video.
_TEXT_MODE_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})

#: FFmpeg's AVCOL_SPC_UNSPECIFIED: a frame not tagged with its YUV matrix.
_UNSPECIFIED = 2


def _video_reader(name: str, file_bytes: int, opts: _Options) -> _VideoReader:
    """The reader of a file Pillow cannot identify; PyAV is imported here, when first needed.

    Without PyAV, a file with a video extension raises :class:`ExtraMissingError` (the
    install hint); any other file is "not an image", the hint in the message.
    """
    try:
        av = require("av", "video", "reading video")
    except ExtraMissingError:
        if os.path.splitext(name)[1].lower() in _VIDEO_EXTENSIONS:
            raise
        raise InputError(
            f"{name}: not an image palettepress can read (videos need PyAV:"
            " pip install 'palettepress[video]')"
        ) from None
    return _VideoReader(name, file_bytes, av, opts)


class _VideoReader(_Reader):
    """Anything FFmpeg decodes, through PyAV; the first video stream that is not a cover."""

    format = "video"
    empty = "no video frame could be decoded"

    def __init__(self, name: str, file_bytes: int, av: Any, opts: _Options):
        self.name = self.path = name
        self.file_bytes = file_bytes
        self.av = av
        self.opts = opts
        container, stream = self._open()
        try:
            cc = stream.codec_context
            if cc.width and cc.height:
                _check_pixels(
                    name,
                    cc.width,
                    cc.height,
                    _scaled_size(cc.width, cc.height, opts.width),
                    opts.max_pixels,
                )
            rate = stream.average_rate or stream.guessed_rate
            self.rate_q = Fraction(rate) if rate else None
            self.rate = float(rate) if rate else None
            self.count = int(stream.frames) or None
            self.time_base = Fraction(stream.time_base) if stream.time_base else None
            sar = stream.sample_aspect_ratio or cc.sample_aspect_ratio
            self.sar = Fraction(sar) if sar else None
        except BaseException:
            container.close()
            raise
        self._opened: tuple[Any, Any] | None = (container, stream)

    def _open(self):
        av, name = self.av, self.name
        try:
            # "file:" so that a name with a colon is not taken for a protocol; the
            # whitelist keeps playlists (HLS, concat) from opening network URLs.
            container = av.open(
                "file:" + os.path.abspath(name), container_options={"protocol_whitelist": "file"}
            )
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            cause = getattr(exc, "strerror", None) or str(exc)
            raise InputError(
                f"{name}: neither an image nor a video palettepress can read (FFmpeg: {cause})"
            ) from exc
        try:
            # A cover picture (an MP3's or M4A's artwork) is a "video" stream of one frame.
            disposition = getattr(av.stream, "Disposition", None)  # PyAV 13 and later
            cover = int(disposition.attached_pic) if disposition is not None else 0
            videos = [s for s in container.streams.video if not int(s.disposition) & cover]
            if not videos:
                raise InputError(f"{name}: no video stream (it holds {_stream_kinds(container)})")
            stream = videos[0]
            if stream.codec_context is None:
                raise InputError(f"{name}: no decoder for its video codec")
            if stream.codec_context.name in _TEXT_MODE_CODECS:
                raise InputError(f"{name}: neither an image nor a video palettepress can read")
            stream.thread_type = "AUTO"
        except BaseException:
            container.close()
            raise
        return container, stream

    def _next(self, frames: Iterator[Any], index: int) -> Any:
        """The next decoded frame, or None at the end; FFmpeg's errors as InputError."""
        try:
            return next(frames, None)
        except (self.av.error.FFmpegError, OSError, ValueError) as exc:
            cause = getattr(exc, "strerror", None) or str(exc)
            raise InputError(f"{self.name}: frame {index} is corrupt ({cause})") from exc

    def intervals(self) -> Iterator[_Interval]:
        opened, self._opened = self._opened, None
        seek = bool(self.opts.start > 0 and self.rate_q and self.time_base)
        while True:
            container, stream = opened if opened is not None else self._open()
            opened = None
            try:
                yield from self._read(container, stream, seek=seek)
                return
            except _SeekMissed:
                seek = False  # read again from the beginning, without seeking
            finally:
                container.close()

    def _read(self, container, stream, *, seek: bool) -> Iterator[_Interval]:
        tb, rate = self.time_base, self.rate_q
        frames = container.decode(stream)
        first = self._next(frames, 0)
        if first is None:
            return
        zero = first.pts
        conversion = self._geometry(first)
        t, index = Fraction(0), 0
        if seek and zero is not None and tb and rate:
            # To the keyframe at or before the start; the frames before it are skipped
            # without being converted, and their numbers follow from the rate.
            try:
                container.seek(zero + math.floor(self.opts.start / tb), stream=stream)
            except (self.av.error.FFmpegError, OSError, ValueError) as exc:
                raise _SeekMissed from exc
            frames = container.decode(stream)
            first = self._next(frames, 0)
            if first is None or first.pts is None:
                raise _SeekMissed
            t = Fraction(first.pts - zero) * tb
            if t > self.opts.start:
                raise _SeekMissed  # past the start (a poor index)
            index = round(t * rate)
        else:
            seek = False
        previous = (index, t, first)
        last: Fraction | None = None
        while (frame := self._next(frames, index + 1)) is not None:
            index += 1
            t0 = previous[1]
            t = (
                Fraction(frame.pts - zero) * tb
                if frame.pts is not None and zero is not None and tb
                else t0
            )
            if t > t0:
                if seek and rate is not None:
                    index = round(t * rate)
            else:
                # No timestamp, or one that does not advance (a broken file): the rate says.
                t = t0 + self._nominal(last)
            yield previous[0], t0, t, partial(self._pixels, previous[2], conversion)
            last = t - t0
            previous = (index, t, frame)
        index, t0, frame = previous
        shown = Fraction(frame.duration) * tb if frame.duration and tb else None
        yield (
            index,
            t0,
            t0 + (shown or self._nominal(last)),
            partial(self._pixels, frame, conversion),
        )

    def _nominal(self, last: Fraction | None) -> Fraction:
        """How long a frame without a usable timestamp or duration is shown."""
        if self.rate_q:
            return 1 / self.rate_q
        if self.opts.step is not None:
            return self.opts.step  # the caller's rate stands in for the missing one
        if last:
            return last
        raise InputError(
            f"{self.name}: no frame rate and no timestamps: give fps to set how long frames last"
        )

    def _geometry(self, frame) -> _Conversion:
        """How every frame of a reading is converted, decided from its first frame."""
        w, h = frame.width, frame.height
        shown_w = max(1, round(w * self.sar)) if self.sar and self.sar != 1 else w
        try:
            turns = round(frame.rotation / 90) % 4
        except (AttributeError, TypeError, ValueError):
            turns = 0
        dw, dh = (h, shown_w) if turns % 2 else (shown_w, h)
        ow, oh = _scaled_size(dw, dh, self.opts.width)
        _check_pixels(self.name, w, h, (ow, oh), self.opts.max_pixels)
        fmt = frame.format
        matrix = None
        if frame.colorspace == _UNSPECIFIED and not fmt.is_rgb and not fmt.has_palette:
            matrix = "ITU709" if w >= 1280 or h > 576 else None  # None: swscale's BT.601
        sw, sh = (oh, ow) if turns % 2 else (ow, oh)
        return _Conversion(
            width=sw,
            height=sh,
            turns=turns,
            format="rgba"
            if fmt.has_palette or any(c.is_alpha for c in fmt.components)
            else "rgb24",
            matrix=matrix,
            scaler="LANCZOS" if (sw, sh) != (w, h) else None,
            # One scaler for the whole reading: FFmpeg's Lanczos set-up is not free
            # (a new one per frame: 95 frames/s from 720p to 480 wide; reused: 124).
            reformatter=self.av.video.reformatter.VideoReformatter(),
        )

    def _pixels(self, frame, c: _Conversion) -> np.ndarray:
        try:
            a = c.reformatter.reformat(
                frame,
                width=c.width,
                height=c.height,
                format=c.format,
                interpolation=c.scaler,
                src_colorspace=c.matrix,
            ).to_ndarray()
        except (self.av.error.FFmpegError, ValueError, OSError) as exc:
            raise InputError(f"{self.name}: cannot convert a frame to RGB ({exc})") from exc
        if c.turns:
            a = np.rot90(a, c.turns)
        if a.shape[2] == 4 and bool((a[:, :, 3] == 255).all()):
            a = a[:, :, :3]
        if not a.flags.writeable:
            a = a.copy()
        return np.ascontiguousarray(a)


@dataclass
class _Conversion:
    """A video frame to RGB(A) pixels: scale to ``width`` x ``height`` (before turning),
    then ``turns`` quarter turns counterclockwise (the display matrix's rotation)."""

    width: int
    height: int
    turns: int
    format: str
    matrix: str | None  # the YUV matrix of untagged frames; None: the frame's own or BT.601
    scaler: str | None
    reformatter: Any


def _stream_kinds(container) -> str:
    """What a container without a video stream holds: "1 audio stream", "a cover picture"."""
    kinds: dict[str, int] = {}
    for s in container.streams:
        kind = "cover picture" if s.type == "video" else f"{s.type} stream"
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {k}{'s' * (n > 1)}" for k, n in kinds.items()) or "no streams"


class _SeekMissed(Exception):
    """A seek landed after the start time: read the video from its beginning instead."""
