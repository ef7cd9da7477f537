"""Animated file writers: GIF, APNG and animated WebP, fed one frame at a time.

The encode stage of :mod:`palettepress.animation`. Each writer takes :class:`FrameOut`
records in display order and writes into a binary file object as it goes, holding at
most one frame back (GIF, APNG: its delay is known when the next frame starts, and a GIF
frame's disposal when the next frame says whether it must be cleared). What goes into
a frame (which pixels, which palette, which rectangle) was decided before: writers make
no quality choices, only encoding ones.

- **GIF** is this package's own writer: a local colour table per frame, the frame's
  rectangle, the transparent index for pixels that keep showing the frame before, and
  LZW by ``_kernels.gif_lzw``, which picks for each such pixel whichever of its two codes
  continues the dictionary's string. Delays are centiseconds, at least 2 (browsers slow
  shorter ones to 10).
- **APNG** is this package's own too: one palette for the whole file (PNG has one
  PLTE), ``fcTL``/``fdAT`` frames of the changed rectangle blended over the canvas, or
  replacing it where pixels become transparent or translucent; the frame count is
  written last, into the ``acTL`` chunk at the start (the file object must be seekable;
  otherwise the writer keeps the file in memory and writes it whole at the end).
- **WebP** goes through Pillow's libwebp animation encoder, lossless, given each frame's
  whole canvas: libwebp finds the changed rectangle and blends by itself.

Writers never touch the file system: :mod:`palettepress.animation` opens the output
(atomically) and hands them the file object.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from . import _kernels, encode
from .errors import ParameterError

__all__ = ["FrameOut", "GifWriter", "ApngWriter", "WebpWriter", "open_writer", "FORMATS"]

#: Animated output formats and the extensions that name them.
FORMATS = {"gif": (".gif",), "apng": (".png", ".apng"), "webp": (".webp",)}

#: GIF frames of at most this many pixels are encoded with both the global colour table
#: and a table of their own entries, the smaller kept.
TRIAL_PIXELS = 1 << 14

#: The shortest delay between frames that every browser honours: GIF's 2 centiseconds.
MIN_DELAY = 0.02

_GIF_MAX_SIDE = 65535
_WEBP_MAX_SIDE = 16383


@dataclass
class FrameOut:
    """One frame of an animation, as the writers take it.

    Attributes
    ----------
    indices : ndarray, uint8 (height, width) of ``rect``
        Palette index of every pixel of the frame's rectangle. Pixels that keep showing
        the frame before hold ``transparent`` or, where ``flex`` says so, the index of
        the colour they show.
    flex : ndarray of uint8 like ``indices``, or None
        Nonzero where the pixel may be written as its index or as ``transparent``
        (both show the same).
    palette : ndarray, uint8 (n, 4)
        This frame's entries (APNG: the file's palette, the same for every frame).
    transparent : int
        The entry (fully transparent) that shows what is already there.
    shows_through : bool
        Some pixels use ``transparent`` (or may).
    rect : tuple of int
        ``(x, y, width, height)`` of the part of the canvas the frame draws.
    start : float
        When the frame is shown, in seconds from the start.
    replace : bool
        The frame must replace the canvas in ``rect`` instead of drawing over it:
        some pixels become (more) transparent.
    canvas : ndarray, uint8 (H, W, 3 or 4), or None
        What the canvas shows with this frame (the WebP writer encodes it).
    """

    indices: np.ndarray
    flex: np.ndarray | None
    palette: np.ndarray
    transparent: int
    shows_through: bool
    rect: tuple[int, int, int, int]
    start: float
    replace: bool = False
    canvas: np.ndarray | None = None


class GifWriter:
    """An animated GIF, one frame at a time (see the module docstring)."""

    format = "gif"
    needs_canvas = False
    shared_palette = False

    def __init__(self, fh: BinaryIO, width: int, height: int, loop: int | None, effort: int = 5):
        if max(width, height) > _GIF_MAX_SIDE:
            raise ParameterError(
                f"GIF holds at most {_GIF_MAX_SIDE}x{_GIF_MAX_SIDE} pixels, "
                f"the animation is {width}x{height}"
            )
        self.fh, self.width, self.height, self.loop = fh, width, height, loop
        self.pending: FrameOut | None = None
        self.frames = 0
        self.global_palette: np.ndarray | None = None  # the first frame's, in the header

    def add(self, frame: FrameOut) -> None:
        if self.pending is not None:
            if frame.replace:
                # Pixels turn transparent: the frame before is cleared after it is shown
                # (disposal 2, over the whole canvas), and this frame draws everything.
                self._write(self.pending, frame.start, disposal=2, whole=True)
            else:
                self._write(self.pending, frame.start, disposal=1, whole=False)
        self.pending = frame

    def close(self, end: float) -> None:
        if self.pending is not None:
            self._write(self.pending, end, disposal=1, whole=False)
            self.pending = None
        if self.global_palette is None:  # no frame: an empty (but valid) file
            self._header(np.zeros((2, 4), dtype=np.uint8))
        self.fh.write(b"\x3b")

    def _header(self, palette: np.ndarray) -> None:
        """The header, with the first frame's palette as the global colour table: frames
        that share it (a scene's palette) need no table of their own."""
        size = max(1, (len(palette) - 1).bit_length())
        table = np.zeros((1 << size, 3), dtype=np.uint8)
        table[: len(palette)] = palette[:, :3]
        self.global_palette = palette
        self.global_size = size
        self.fh.write(
            b"GIF89a"
            + struct.pack("<HHBBB", self.width, self.height, 0x80 | (size - 1), 0, 0)
            + table.tobytes()
        )
        if self.loop is not None:
            self.fh.write(
                b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", self.loop) + b"\x00"
            )

    def _write(self, f: FrameOut, until: float, *, disposal: int, whole: bool) -> None:
        if self.global_palette is None:
            self._header(f.palette)
        x, y, w, h = f.rect
        indices, flex, through = f.indices, f.flex, f.shows_through
        if whole and (w, h) != (self.width, self.height):
            # The rest of the canvas shows through while this frame is on screen.
            full = np.full((self.height, self.width), f.transparent, dtype=np.uint8)
            full[y : y + h, x : x + w] = indices
            if flex is not None:
                wide = np.zeros((self.height, self.width), dtype=np.uint8)
                wide[y : y + h, x : x + w] = flex
                flex = wide
            indices, x, y, w, h, through = full, 0, 0, self.width, self.height, True
        indices = np.ascontiguousarray(indices)
        clear = f.transparent if through else -1
        assert self.global_palette is not None  # written with the first frame
        shared = self.global_palette is f.palette or np.array_equal(self.global_palette, f.palette)
        best = None
        if shared:
            data = _kernels.gif_lzw(indices, flex, max(clear, 0), max(2, self.global_size))
            best = (len(data), b"", max(2, self.global_size), clear, data, 0)
        if not shared or indices.size <= TRIAL_PIXELS:
            # A table of the entries the frame uses: fewer bits a pixel; for a small frame
            # that can outweigh the table's bytes (tried, the smaller kept).
            ind, fx, palette, cl = _compact(indices, flex, f.palette, clear)
            size = max(1, (len(palette) - 1).bit_length())  # the table holds 2**size entries
            table = np.zeros((1 << size, 3), dtype=np.uint8)
            table[: len(palette)] = palette[:, :3]
            data = _kernels.gif_lzw(ind, fx, max(cl, 0), max(2, size))
            local = (
                len(data) + 3 * len(table),
                table.tobytes(),
                max(2, size),
                cl,
                data,
                0x80 | (size - 1),
            )
            if best is None or local[0] < best[0]:
                best = local
        assert best is not None
        _, table_bytes, min_code, clear, data, packed = best
        delay = max(2, _centiseconds(until) - _centiseconds(f.start))
        flags = (disposal << 2) | (1 if clear >= 0 else 0)
        self.fh.write(
            b"".join(
                [
                    b"\x21\xf9\x04" + struct.pack("<BHB", flags, delay, max(clear, 0)) + b"\x00",
                    b"\x2c" + struct.pack("<HHHHB", x, y, w, h, packed),
                    table_bytes,
                    bytes([min_code]),
                    _sub_blocks(data),
                ]
            )
        )
        self.frames += 1


def _compact(indices: np.ndarray, flex, palette: np.ndarray, transparent: int):
    """The frame with only the entries it uses, in a table as small as they allow (fewer
    bits per pixel for LZW): ``(indices, flex, palette, transparent)`` renumbered
    (``transparent`` -1: none). A pixel that may show through keeps its own entry only
    when a pixel that must show its colour needs that entry too."""
    indices = np.ascontiguousarray(indices)
    n = len(palette)
    if flex is not None:
        flex = np.ascontiguousarray(flex)
        needed = np.bincount(indices[flex == 0], minlength=n) > 0
        orphan = (flex != 0) & ~needed[indices]
        if orphan.any():
            indices = np.where(orphan, np.uint8(transparent), indices)
            flex = np.where(orphan, np.uint8(0), flex)
    used = np.bincount(indices.ravel(), minlength=n) > 0
    if transparent >= 0:
        used[transparent] = True
    kept = np.nonzero(used)[0]
    if len(kept) == n:
        return indices, flex, palette, transparent
    lut = np.zeros(256, dtype=np.uint8)
    lut[kept] = np.arange(len(kept), dtype=np.uint8)
    return lut[indices], flex, palette[kept], (int(lut[transparent]) if transparent >= 0 else -1)


def _centiseconds(t: float) -> int:
    return int(round(t * 100))


def _sub_blocks(data: bytes) -> bytes:
    """GIF data sub-blocks: runs of at most 255 bytes, each behind its length, then 0."""
    parts = []
    for i in range(0, len(data), 255):
        part = data[i : i + 255]
        parts.append(bytes([len(part)]))
        parts.append(part)
    parts.append(b"\x00")
    return b"".join(parts)


class ApngWriter:
    """An animated PNG with one palette for the whole file (see the module docstring)."""

    format = "apng"
    needs_canvas = False
    shared_palette = True

    def __init__(
        self,
        fh: BinaryIO,
        width: int,
        height: int,
        loop: int | None,
        palette: np.ndarray,
        effort: int = 5,
        level: int = 6,
    ):
        self.target = fh
        self.fh: BinaryIO = fh if _seekable(fh) else io.BytesIO()
        self.width, self.height = width, height
        self.palette = palette
        self.depth = encode.bit_depth(len(palette))
        self.level = level
        self.pending: FrameOut | None = None
        self.frames = 0
        self.sequence = 0
        self.fh.write(
            b"\x89PNG\r\n\x1a\n"
            + encode.chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, self.depth, 3, 0, 0, 0))
        )
        self.actl_at = self.fh.tell()
        self.plays = 0 if loop is None else loop
        self.fh.write(encode.chunk(b"acTL", struct.pack(">II", 0, self.plays)))
        head = [encode.chunk(b"PLTE", palette[:, :3].tobytes())]
        if palette.shape[1] == 4 and (palette[:, 3] < 255).any():
            last = int(np.nonzero(palette[:, 3] < 255)[0].max()) + 1
            head.append(encode.chunk(b"tRNS", palette[:last, 3].tobytes()))
        self.fh.write(b"".join(head))

    def add(self, frame: FrameOut) -> None:
        if self.pending is not None:
            self._write(self.pending, frame.start)
        self.pending = frame

    def close(self, end: float) -> None:
        if self.pending is not None:
            self._write(self.pending, end)
            self.pending = None
        self.fh.write(encode.chunk(b"IEND", b""))
        end_at = self.fh.tell()
        self.fh.seek(self.actl_at)
        self.fh.write(encode.chunk(b"acTL", struct.pack(">II", self.frames, self.plays)))
        self.fh.seek(end_at)
        if self.fh is not self.target:
            self.target.write(self.fh.getvalue())  # type: ignore[attr-defined]

    def _write(self, f: FrameOut, until: float) -> None:
        first = self.frames == 0
        x, y, w, h = f.rect
        indices = np.ascontiguousarray(f.indices)
        if f.flex is not None and not f.replace:
            indices = _kernels.flex_runs(indices, np.ascontiguousarray(f.flex), f.transparent)
        delay_ms = max(1, int(round(until * 1000)) - int(round(f.start * 1000)))
        blend = 0 if (first or f.replace) else 1  # SOURCE, or OVER the canvas
        fctl = struct.pack(
            ">IIIIIHHBB", self.sequence, w, h, x, y, min(delay_ms, 65535), 1000, 0, blend
        )
        self.sequence += 1
        data = encode.image_data(indices, self.depth, self.level)
        parts = [encode.chunk(b"fcTL", fctl)]
        if first:
            parts.append(encode.chunk(b"IDAT", data))
        else:
            parts.append(encode.chunk(b"fdAT", struct.pack(">I", self.sequence) + data))
            self.sequence += 1
        self.fh.write(b"".join(parts))
        self.frames += 1


def _seekable(fh) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, ValueError):
        return False


class WebpWriter:
    """An animated WebP, lossless, through Pillow's libwebp animation encoder."""

    format = "webp"
    needs_canvas = True
    shared_palette = False

    def __init__(self, fh: BinaryIO, width: int, height: int, loop: int | None, effort: int = 5):
        if max(width, height) > _WEBP_MAX_SIDE:
            raise ParameterError(
                f"WebP holds at most {_WEBP_MAX_SIDE}x{_WEBP_MAX_SIDE} pixels, "
                f"the animation is {width}x{height}"
            )
        from .formats import WEBP_EFFORT

        self.fh, self.width, self.height = fh, width, height
        self.loop = 0 if loop is None else loop
        self.method, self.quality = WEBP_EFFORT[effort]
        self.canvases: list = []
        self.starts: list[float] = []
        self.frames = 0

    def add(self, frame: FrameOut) -> None:
        from PIL import Image

        assert frame.canvas is not None  # needs_canvas
        mode = "RGBA" if frame.canvas.shape[2] == 4 else "RGB"
        self.canvases.append(Image.fromarray(frame.canvas, mode))
        self.starts.append(frame.start)
        self.frames += 1

    def close(self, end: float) -> None:
        ms = [int(round(t * 1000)) for t in [*self.starts, end]]
        durations = [max(1, b - a) for a, b in zip(ms, ms[1:])]
        first, *rest = self.canvases
        first.save(
            self.fh,
            "WEBP",
            save_all=True,
            append_images=rest,
            duration=durations,
            loop=self.loop,
            lossless=True,
            method=self.method,
            quality=self.quality,
            exact=True,
            minimize_size=self.method >= 5,
        )
        self.canvases = []


def open_writer(
    fmt: str,
    fh: BinaryIO,
    width: int,
    height: int,
    loop: int | None,
    *,
    effort: int,
    level: int,
    palette: np.ndarray | None = None,
):
    """The writer of ``fmt`` (``gif``, ``apng`` or ``webp``) on ``fh``; APNG needs the
    file's ``palette`` up front."""
    if fmt == "gif":
        return GifWriter(fh, width, height, loop, effort)
    if fmt == "webp":
        return WebpWriter(fh, width, height, loop, effort)
    assert palette is not None  # APNG: one palette for the file
    return ApngWriter(fh, width, height, loop, palette, effort, level)
