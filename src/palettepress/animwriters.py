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
  continues the dictionary's string. Where pixels turn transparent, the frame before is
  stretched over them and disposed of (disposal 2: its rectangle cleared), and the frame
  draws that rectangle again. Delays are centiseconds, at least 2 (browsers slow
  shorter ones to 10).
- **APNG** is this package's own too: one palette for the whole file (PNG has one
  PLTE), ``fcTL``/``fdAT`` frames of the changed rectangle blended over the canvas, or
  replacing it where pixels become transparent or translucent; the frame count is
  written last, into the ``acTL`` chunk at the start (the file object must be seekable;
  otherwise the writer keeps the file in memory and writes it whole at the end).
- **WebP** is this package's own container (RIFF, ``VP8X``, ``ANIM``, one ``ANMF`` per
  frame), each frame's rectangle a still lossless image encoded by libwebp through
  Pillow; the RIFF size and the flags are written last, as APNG's frame count.

Writers never touch the file system: :mod:`palettepress.animation` opens the output
(atomically) and hands them the file object. :func:`open_writer` runs each on a thread
of its own (:class:`Background`), so a frame is compressed while the next is mapped.
"""

from __future__ import annotations

import io
import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from . import _kernels, encode
from .formats import _sub_blocks, check_side, text_lines

__all__ = [
    "FrameOut",
    "GifWriter",
    "ApngWriter",
    "WebpWriter",
    "Background",
    "open_writer",
    "FORMATS",
]

#: Animated output formats and the extensions that name them.
FORMATS = {"gif": (".gif",), "apng": (".png", ".apng"), "webp": (".webp",)}

#: GIF frames of at most this many pixels are encoded with both the global colour table
#: and a table of their own entries, the smaller kept.
TRIAL_PIXELS = 1 << 14

#: GIF frames of at most this many pixels are written every way (see ``_variants``), the
#: smallest kept; larger ones on one frame in TRIAL_EVERY, the others the way that won.
WAYS_PIXELS = 1 << 16

#: Animated WebP frames of at most this many pixels are encoded both ways (kept pixels
#: that may be either transparent or in their colour); larger ones on one frame in
#: TRIAL_EVERY. Measured on the animation set: 1 << 16 against 1 << 14 makes the
#: terminal recording 6% smaller (its frames are small), no other clip changes.
WEBP_TRIAL_PIXELS = 1 << 16

#: libwebp ``(method, quality)`` of an animated WebP's frames by effort: lower than a
#: still image's (formats.WEBP_EFFORT), as an animation has many frames. Measured at the
#: default effort on three clips of the animation set (through libwebp's animation
#: encoder, before this package wrote the container): (2, 75) against a still image's
#: (4, 100): 1-3% larger, 1.05-4x faster (mandelbrot, 80 frames of 480x270: 10.5 s
#: against 41.6 s).
WEBP_ANIMATION_EFFORT = {
    1: (0, 25),
    2: (1, 50),
    3: (1, 50),
    4: (2, 75),
    5: (2, 75),
    6: (3, 100),
    7: (3, 100),
    8: (4, 100),
    9: (5, 100),
    10: (6, 100),
}

#: Frames a writer's thread (:class:`Background`) may fall behind the mapping before the
#: mapping waits for it. Its frames take turns with SSIMULACRA2's on the other core, and
#: the LZW's trial frames (TRIAL_EVERY) are slow: with 6 here and 8 for the measures
#: (``temporal.MEASURE_AHEAD``), the line plot of the animation set 0.39 s in-process
#: instead of 0.44, testsrc2 0.53 instead of 0.55 (best of 3, twice).
AHEAD = 6

#: Dictionary strings the GIF writer's LZW may search for each code, in its way of
#: writing kept pixels that looks for the longest string (``_kernels.gif_lzw``).
LZW_SEARCH = 256

#: The GIF writer tries the LZW clearings that lost last time on one frame in this many.
TRIAL_EVERY = 8

#: A frame whose share of kept pixels (those that show the frame before through) differs
#: by more than this from the last trial frame's (TRIAL_EVERY) is a trial frame too: the
#: way that won on a frame that changed everywhere (a page scrolling, its kept pixels
#: written in their own colours) cost 30 times the bytes on the next ones, where a
#: corner changed and the rest was kept. Measured (same pixels): the scrolling page
#: as H.264 (CRF 20 and 30) 0.90x and 0.95x the bytes, the animation set's scroll and
#: line plot 0.996x, its other clips within 0.1%; the GIFs re-encoded 0.999x in all
#: (ImageMagick's scroll 0.995x). Most clips get one trial more (their second frame).
#: Animated WebP's way of writing kept pixels the same: H.264 clips 0.93x (the scroll at
#: CRF 20) to 1.00x, the set's life and mandelbrot 0.99x, its other clips the same.
RETRIAL_KEPT = 0.25

#: The shortest delay between frames that every browser honours: GIF's 2 centiseconds.
MIN_DELAY = 0.02


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
    clears : tuple of int, or None
        GIF: ``(x, y, width, height)`` of the part of the canvas cleared before the frame
        is drawn (the frame before is written over it and disposed of); None: nothing.
    canvas : ndarray, uint8 (H, W, 3 or 4), or None
        What the canvas shows with this frame (the WebP writer encodes it).
    restart : int
        The GIF writer clears its LZW dictionary before every ``restart``-th pixel of the
        rectangle (0: only when full): the dictionaries the frame was dithered for
        (``_kernels.dither`` with an LZW slack).
    """

    indices: np.ndarray
    flex: np.ndarray | None
    palette: np.ndarray
    transparent: int
    shows_through: bool
    rect: tuple[int, int, int, int]
    start: float
    replace: bool = False
    clears: tuple[int, int, int, int] | None = None
    canvas: np.ndarray | None = None
    restart: int = 0


class GifWriter:
    """An animated GIF, one frame at a time (see the module docstring).

    The global colour table gathers the colours the frames draw, in the order they first
    appear, and a frame whose colours are all there (or fit in its free slots) indexes
    it with no table of its own, its transparent index any slot the frame does not use.
    The table is sized when the first frame is written (every slot when the file can
    seek and the frame is colourful; the header is rewritten at the end) and filled as
    frames come. Other frames get a table of their own entries; a small frame gets the
    smaller of both (trial), as fewer bits a pixel can outweigh a table's bytes.
    """

    format = "gif"
    needs_canvas = False
    shared_palette = False

    def __init__(
        self,
        fh: BinaryIO,
        width: int,
        height: int,
        loop: int | None,
        effort: int = 5,
        text: dict | None = None,
    ):
        check_side("gif", width, height, "the animation")
        self.fh, self.width, self.height, self.loop = fh, width, height, loop
        self.text = text
        self.pending: FrameOut | None = None
        self.frames = 0
        self.table: np.ndarray | None = None  # the global colour table, (slots, 3)
        self.filled = 0  # its slots holding colours
        self.slot: dict[int, int] = {}  # packed RGB -> slot
        self.written = b""  # the table as the header holds it (empty: header not written)
        self.clearing_won = 0  # the LZW clearing that won last
        self.kept_won: str | None = None  # the way of writing kept pixels that won last
        self.kept_share = 0.0  # the share of kept pixels on the last trial frame
        self.growable = _seekable(fh)

    def add(self, frame: FrameOut) -> None:
        if self.pending is not None:
            if frame.replace:
                # Pixels turn transparent: the frame before, stretched over the part of
                # the canvas to clear, is cleared after it is shown (disposal 2), and this
                # frame draws that part again.
                clears = frame.clears or (0, 0, self.width, self.height)
                self._write(self.pending, frame.start, disposal=2, over=clears)
            else:
                self._write(self.pending, frame.start, disposal=1)
        self.pending = frame

    def close(self, end: float) -> None:
        if self.pending is not None:
            self._write(self.pending, end, disposal=1)
            self.pending = None
        if self.table is None:  # no frame: an empty (but valid) file
            self.table = np.zeros((2, 3), dtype=np.uint8)
            self._header()
        if self.growable and self.table.tobytes() != self.written:
            end_at = self.fh.tell()  # the table filled up after the header: write it again
            self.fh.seek(13)
            self.fh.write(self.table.tobytes())
            self.fh.seek(end_at)
        self.fh.write(b"\x3b")

    def _header(self, background: int = 0) -> None:
        assert self.table is not None
        size = (len(self.table) - 1).bit_length()
        self.written = self.table.tobytes()
        self.fh.write(
            b"GIF89a"
            + struct.pack("<HHBBB", self.width, self.height, 0x80 | (size - 1), background, 0)
        )
        self.fh.write(self.written)
        if self.loop is not None:
            self.fh.write(
                b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", self.loop) + b"\x00"
            )
        if self.text:  # a comment extension, as formats.read_text finds it
            body = text_lines(self.text).encode("utf-8")[: 255 * 255]
            self.fh.write(b"\x21\xfe" + _sub_blocks(body))

    def _global(self, indices, flex, palette, clear: int):
        """The frame in global-table indices: ``(indices, flex, code size, transparent,
        new colours)``, or None when its colours do not fit the table's free slots."""
        assert self.table is not None
        n = len(palette)
        used = np.bincount(indices.ravel(), minlength=n) > 0
        if clear >= 0:
            used[clear] = False  # shows through: no colour of its own
        keys = _rgb_keys(palette[:, :3])
        lut = np.zeros(256, dtype=np.uint8)
        new: list[int] = []
        free = len(self.table) - self.filled if (self.growable or not self.written) else 0
        for e in np.nonzero(used)[0]:
            slot = self.slot.get(int(keys[e]))
            if slot is None:
                if len(new) == free:
                    return None
                slot = self.filled + len(new)
                new.append(int(e))
            lut[e] = slot
        taken = np.zeros(len(self.table) + 1, dtype=bool)
        taken[lut[:n][used]] = True
        if clear >= 0:
            t = int(np.argmin(taken))  # the first slot the frame leaves alone
            if taken[t] or t >= len(self.table):
                return None
            lut[clear] = t
        top = int(lut[:n][used | (np.arange(n) == clear)].max()) if indices.size else 0
        return (
            lut[indices],
            flex,
            max(2, top.bit_length()),
            (int(lut[clear]) if clear >= 0 else -1),
            new,
        )

    def _commit(self, palette: np.ndarray, new: list[int]) -> None:
        assert self.table is not None
        for e in new:
            self.table[self.filled] = palette[e, :3]
            self.slot[int(_rgb_keys(palette[e : e + 1, :3])[0])] = self.filled
            self.filled += 1

    def _ways(self, indices, flex, palette, clear: int):
        """The ways to write a frame's pixels: ``(indices, flex, table bytes, code size,
        transparent, packed flags, new global colours)``."""
        way = self._global(indices, flex, palette, clear)
        if way is not None:
            ind, fx, code, cl, new = way
            yield ind, fx, b"", code, cl, 0, new
        if way is None or indices.size <= TRIAL_PIXELS:
            ind, fx, entries, cl = _compact(indices, flex, palette, clear)
            size = max(1, (len(entries) - 1).bit_length())  # the table holds 2**size entries
            table = np.zeros((1 << size, 3), dtype=np.uint8)
            table[: len(entries)] = entries[:, :3]
            yield ind, fx, table.tobytes(), max(2, size), cl, 0x80 | (size - 1), []

    def _write(
        self, f: FrameOut, until: float, *, disposal: int, over: tuple | None = None
    ) -> None:
        x, y, w, h = f.rect
        indices, flex, through, restart = f.indices, f.flex, f.shows_through, f.restart
        if over is not None:
            # Stretched over the rectangle ``over`` too (to clear it when disposed of):
            # the rest of it shows through while this frame is on screen.
            ox, oy = min(x, over[0]), min(y, over[1])
            ow, oh = max(x + w, over[0] + over[2]) - ox, max(y + h, over[1] + over[3]) - oy
            if (ox, oy, ow, oh) != (x, y, w, h):
                wide = np.full((oh, ow), f.transparent, dtype=np.uint8)
                wide[y - oy : y - oy + h, x - ox : x - ox + w] = indices
                if flex is not None:
                    wide_flex = np.zeros((oh, ow), dtype=np.uint8)
                    wide_flex[y - oy : y - oy + h, x - ox : x - ox + w] = flex
                    flex = wide_flex
                indices, x, y, w, h, through = wide, ox, oy, ow, oh, True
                restart = 0  # the rectangle's rows no longer start the strips
        # A frame cleared after it is shown names its transparent entry even where no pixel
        # uses it: Pillow clears to it then, as browsers do, where without one it fills
        # the area with the background colour, opaque. So does a first frame that leaves
        # part of the canvas (clear) uncovered: the header's background is that entry.
        first_part = not self.written and (w, h) != (self.width, self.height)
        clear = f.transparent if through or disposal == 2 or first_part else -1
        if self.table is None:
            # (a set: a bare np.unique imports numpy.ma, 18 ms of start-up under the GIL)
            colours = len(set(_rgb_keys(f.palette[:, :3]).tolist()))
            slots = 256 if self.growable and colours > 16 else colours + 1
            self.table = np.zeros((1 << max(1, (slots - 1).bit_length()), 3), dtype=np.uint8)
        # Every way to write the pixels (see _variants, _ways) with the dictionary cleared
        # when full, then the best with the other two clearings. Which way and which
        # clearing win depend on the content, and content lasts: all are tried on one
        # frame in TRIAL_EVERY (every way on every small frame: they cost little), and
        # in between each frame is written the way and with the clearing that won last.
        best = None
        kept = _kept_share(indices, flex, clear)
        trial = self.frames % TRIAL_EVERY == 0 or abs(kept - self.kept_share) > RETRIAL_KEPT
        if trial:
            self.kept_share = kept
        only = None if trial or indices.size <= WAYS_PIXELS else self.kept_won
        clearing = 0 if trial else self.clearing_won
        for name, ind, fx, search in _variants(np.ascontiguousarray(indices), flex, clear, only):
            for way in self._ways(ind, fx, f.palette, clear):
                data = _kernels.gif_lzw(
                    way[0], way[1], max(way[4], 0), way[3], clearing, search, restart
                )
                if best is None or len(data) + len(way[2]) < len(best[1]) + len(best[0][2]):
                    best = (way, data, search, name)
        assert best is not None
        way, data, search, name = best
        if flex is not None and clear >= 0:
            self.kept_won = name
        if trial:
            for other_clearing in (1, 2):
                other = _kernels.gif_lzw(
                    way[0], way[1], max(way[4], 0), way[3], other_clearing, search, restart
                )
                if len(other) < len(data):
                    data, clearing = other, other_clearing
            self.clearing_won = clearing
        _, _, table_bytes, min_code, clear, packed, new = way
        self._commit(f.palette, new)
        if not self.written:  # the first frame: its colours start the header's table
            # The background is its clear entry: where the frame does not cover the canvas,
            # Pillow shows the background colour, and clear only if it is that entry
            # (browsers start from a clear canvas whatever it is).
            self._header(max(clear, 0))
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


def _kept_share(indices: np.ndarray, flex, transparent: int) -> float:
    """The share of a frame's pixels that keep showing the frame before: the transparent
    index, or either index (``flex``)."""
    if transparent < 0:
        return 0.0
    kept = np.count_nonzero(indices == transparent)
    if flex is not None:
        kept += np.count_nonzero(flex)
    return kept / max(indices.size, 1)


def _rgb_keys(rgb: np.ndarray) -> np.ndarray:
    """Packed ``R | G << 8 | B << 16`` (int64) of colours (n, 3)."""
    c = rgb.astype(np.int64)
    return c[:, 0] | (c[:, 1] << 8) | (c[:, 2] << 16)


def _variants(indices: np.ndarray, flex, transparent: int, only: str | None = None):
    """The ways to write a frame whose kept pixels may show through, as ``(name, indices,
    flex, search)`` for ``_kernels.gif_lzw``: each such pixel chosen by the LZW encoder as
    it goes, pixel by pixel (``"either"``) or for the longest string (``"longest"``), all
    transparent (``"clear"``), or all in their own colour (``"own"``); ``only``, when
    given, names the one wanted. No way is best on every frame (measured on the
    animation set: the plain ways up to 6% smaller in all; the longest strings 3.5%
    smaller on the lines plot and 1.6% larger on the terminal recording than pixel by
    pixel), so the GIF writer tries all on one frame in TRIAL_EVERY and keeps the
    smallest, and in between writes each frame the way that won last."""
    if flex is None or transparent < 0:
        return [("plain", indices, None, 0)]
    flex = np.ascontiguousarray(flex)
    ways = [
        ("either", lambda: (indices, flex, 0)),
        ("longest", lambda: (indices, flex, LZW_SEARCH)),
        ("clear", lambda: (np.where(flex != 0, np.uint8(transparent), indices), None, 0)),
        ("own", lambda: (indices, None, 0)),
    ]
    return [(name, *make()) for name, make in ways if only is None or name == only]


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


def plays(loop: int | None, most: int) -> int:
    """APNG's ``num_plays`` and WebP's loop count (times the animation is played, 0
    forever) for ``loop``, a GIF's NETSCAPE count: times it repeats after the first
    play, 0 forever, None to play once (no NETSCAPE block), as browsers read them."""
    if loop is None:
        return 1
    return 0 if loop == 0 else min(loop + 1, most)


def _centiseconds(t: float) -> int:
    return int(round(t * 100))


class _HeldBack:
    """What APNG and WebP share: the frame is held back until the next one starts (its
    delay is then known), and a header written first is completed last, when the frame
    count or size is known. The file object must be seekable for that; otherwise the file
    is made in memory and written whole at the end."""

    frames: int

    def _open(self, fh: BinaryIO) -> None:
        self.target = fh
        self.fh: BinaryIO = fh if _seekable(fh) else io.BytesIO()
        self.pending: FrameOut | None = None
        self.frames = 0

    def _write(self, f: FrameOut, until: float) -> None:
        raise NotImplementedError

    def add(self, frame: FrameOut) -> None:
        if self.pending is not None:
            self._write(self.pending, frame.start)
        self.pending = frame

    def _last(self, end: float) -> None:
        """Write the frame held back, shown until ``end``."""
        if self.pending is not None:
            self._write(self.pending, end)
            self.pending = None

    def _finish(self, at: int, head: bytes) -> None:
        """Rewrite the bytes at offset ``at`` with ``head``, then hand the file over."""
        end_at = self.fh.tell()
        self.fh.seek(at)
        self.fh.write(head)
        self.fh.seek(end_at)
        if self.fh is not self.target:
            self.target.write(self.fh.getvalue())  # type: ignore[attr-defined]


class ApngWriter(_HeldBack):
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
        text: dict | None = None,
    ):
        self._open(fh)
        self.width, self.height = width, height
        self.palette = palette
        self.depth = encode.bit_depth(len(palette))
        self.level = level
        self.sequence = 0
        self.fh.write(
            b"\x89PNG\r\n\x1a\n"
            + encode.chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, self.depth, 3, 0, 0, 0))
        )
        self.actl_at = self.fh.tell()
        self.plays = plays(loop, 0x7FFFFFFF)
        self.fh.write(encode.chunk(b"acTL", struct.pack(">II", 0, self.plays)))
        head = [encode.chunk(b"PLTE", palette[:, :3].tobytes())]
        if palette.shape[1] == 4 and (palette[:, 3] < 255).any():
            last = int(np.nonzero(palette[:, 3] < 255)[0].max()) + 1
            head.append(encode.chunk(b"tRNS", palette[:last, 3].tobytes()))
        for key, value in (text or {}).items():
            head.append(encode.text_chunk(str(key), str(value)))
        self.fh.write(b"".join(head))

    def close(self, end: float) -> None:
        self._last(end)
        self.fh.write(encode.chunk(b"IEND", b""))
        self._finish(
            self.actl_at, encode.chunk(b"acTL", struct.pack(">II", self.frames, self.plays))
        )

    def _write(self, f: FrameOut, until: float) -> None:
        first = self.frames == 0
        x, y, w, h = f.rect
        indices = np.ascontiguousarray(f.indices)
        # Translucent entries drawn over the canvas would blend with what is there (a kept
        # pixel written in its own translucent colour, twice over), and Pillow's decoder
        # blends palette frames wrongly even over a clear canvas: such a frame replaces
        # its rectangle (SOURCE), its kept pixels in their own entries.
        alpha = self.palette[:, 3] if self.palette.shape[1] == 4 else None
        over = not (first or f.replace) and (alpha is None or not _translucent(alpha[indices]))
        if f.flex is not None and over:
            indices = _kernels.flex_runs(indices, np.ascontiguousarray(f.flex), f.transparent)
        delay_ms = max(1, int(round(until * 1000)) - int(round(f.start * 1000)))
        blend = 1 if over else 0  # OVER the canvas, or SOURCE
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


def _translucent(alpha: np.ndarray) -> bool:
    """Whether any of ``alpha`` is neither 0 nor 255: pixels that drawing over the
    canvas would blend with it."""
    return bool(((alpha > 0) & (alpha < 255)).any())


def _seekable(fh) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, ValueError):
        return False


class WebpWriter(_HeldBack):
    """An animated WebP, lossless: this package's own container, each frame's rectangle
    encoded by libwebp (through Pillow) as a still lossless image.

    A frame is the changed rectangle (its corner moved up and left to even coordinates,
    as WebP stores them halved), alpha-blended over the canvas with its kept pixels fully
    transparent, or replacing the canvas there where pixels become more transparent. The
    RIFF size and the header's flags are written last (the file object must be seekable;
    otherwise the writer keeps the file, compressed, in memory and writes it whole at the
    end): memory holds one frame, not the animation.
    """

    format = "webp"
    needs_canvas = True
    shared_palette = False

    def __init__(
        self,
        fh: BinaryIO,
        width: int,
        height: int,
        loop: int | None,
        effort: int = 5,
        text: dict | None = None,
    ):
        check_side("webp", width, height, "the animation", "WebP")
        self._open(fh)
        self.width, self.height = width, height
        self.method, self.quality = WEBP_ANIMATION_EFFORT[effort]
        self.text = text
        self.alpha = False
        self.clear_flex = False
        self.kept_share = 0.0  # the share of kept pixels on the last trial frame
        self.start_at = self.fh.tell()
        self.fh.write(self._head(0))
        self.fh.write(_riff_chunk(b"ANIM", struct.pack("<4BH", 0, 0, 0, 0, plays(loop, 0xFFFF))))

    def close(self, end: float) -> None:
        self._last(end)
        exif = self._exif()
        if exif:
            self.fh.write(_riff_chunk(b"EXIF", exif))
        self._finish(self.start_at, self._head(self.fh.tell() - self.start_at - 8))

    def _head(self, size: int) -> bytes:
        """RIFF header (``size``: of what follows its size field) and the VP8X chunk."""
        flags = 0x02 | (0x10 if self.alpha else 0) | (0x08 if self.text else 0)
        w, h = self.width - 1, self.height - 1
        vp8x = struct.pack("<B3x", flags) + w.to_bytes(3, "little") + h.to_bytes(3, "little")
        return b"RIFF" + struct.pack("<I", size) + b"WEBP" + _riff_chunk(b"VP8X", vp8x)

    def _write(self, f: FrameOut, until: float) -> None:
        assert f.canvas is not None  # needs_canvas
        n = self.frames
        x, y, w, h = f.rect
        x0, y0 = x & ~1, y & ~1
        w, h = w + x - x0, h + y - y0
        canvas = f.canvas[y0 : y0 + h, x0 : x0 + w]
        blend = not (n == 0 or f.replace)
        if blend:
            # Drawn over the canvas: the pixels that keep showing it are fully transparent,
            # and so, in one of the two ways, are those that may be either (``flex``);
            # which way is smaller depends on the content (scattered such pixels cost as
            # noise, large still areas are cheaper clear), and content lasts: both are
            # tried on small frames (WEBP_TRIAL_PIXELS), on one frame in TRIAL_EVERY and
            # where the share of kept pixels jumps (RETRIAL_KEPT), the winner kept.
            pixels = np.zeros((h, w, 4), dtype=np.uint8)
            pixels[..., : canvas.shape[2]] = canvas
            if canvas.shape[2] == 3:
                pixels[..., 3] = 255
            inner = pixels[y - y0 :, x - x0 :]
            pixels[: y - y0] = 0
            pixels[:, : x - x0] = 0
            inner[f.indices == f.transparent] = 0
            # libwebp blends a translucent pixel in integers, a unit off in colour even
            # over a clear canvas: such a frame replaces its rectangle instead (as
            # libwebp's own animation encoder decides).
            blend = not _translucent(pixels[..., 3])
        if not blend:
            bitstream = self._encode(np.ascontiguousarray(canvas))
        else:
            kept = _kept_share(f.indices, f.flex, f.transparent)
            trial = (
                w * h <= WEBP_TRIAL_PIXELS
                or n % TRIAL_EVERY == 0
                or abs(kept - self.kept_share) > RETRIAL_KEPT
            )
            if trial:
                self.kept_share = kept
            bitstream = b""
            for clear_flex in (self.clear_flex, not self.clear_flex):
                candidate = pixels
                if clear_flex and f.flex is not None:
                    candidate = pixels.copy()
                    candidate[y - y0 :, x - x0 :][f.flex.view(bool)] = 0
                data = self._encode(candidate)
                if not bitstream or len(data) < len(bitstream):
                    bitstream, self.clear_flex = data, clear_flex
                if not trial or f.flex is None:
                    break
        self.alpha = self.alpha or bool(bitstream[12] & 0x10)  # VP8L: alpha is used
        delay = min(max(1, _ms(until) - _ms(f.start)), (1 << 24) - 1)
        anmf = b"".join(
            v.to_bytes(3, "little") for v in (x0 // 2, y0 // 2, w - 1, h - 1, delay)
        ) + bytes([0 if blend else 0x02])
        self.fh.write(_riff_chunk(b"ANMF", anmf + bitstream))
        self.frames += 1

    def _encode(self, pixels: np.ndarray) -> bytes:
        """The ``VP8L`` chunk of ``pixels`` (RGB or RGBA) as a still lossless WebP."""
        from PIL import Image

        image = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
        out = io.BytesIO()
        image.save(out, "WEBP", lossless=True, quality=self.quality, method=self.method, exact=True)
        return _vp8l_chunk(out.getvalue())

    def _exif(self) -> bytes | None:
        """The text as the EXIF image description, as formats.read_text finds it."""
        if not self.text:
            return None
        from PIL import Image

        exif = Image.Exif()
        exif[0x010E] = text_lines(self.text)
        data = exif.tobytes()
        return data[6:] if data.startswith(b"Exif\x00\x00") else data


def _ms(t: float) -> int:
    return int(round(t * 1000))


def _riff_chunk(tag: bytes, data: bytes) -> bytes:
    """A RIFF chunk: tag, little-endian size, data, padded to an even length."""
    return tag + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1)


def _vp8l_chunk(webp: bytes) -> bytes:
    """The whole ``VP8L`` chunk (header included) of a still lossless WebP file."""
    at = 12
    while at + 8 <= len(webp):
        size = struct.unpack_from("<I", webp, at + 4)[0]
        if webp[at : at + 4] == b"VP8L":
            return webp[at : at + 8 + size + (size & 1)]
        at += 8 + size + (size & 1)
    raise OSError("cannot write file as WebP (libwebp wrote no lossless image)")


class Background:
    """A writer run on a thread of its own: frames are encoded and written, in order, while
    the next ones are mapped (the LZW, deflate and libwebp encoders release the GIL). The
    writer's state lives on that thread alone, so the file is the same byte for byte as
    when written in line. A context manager: leaving it waits for the frame being
    written and drops the rest (after an error, before the file is closed).
    """

    def __init__(self, writer) -> None:
        self.writer = writer
        self.format = writer.format
        self.needs_canvas = writer.needs_canvas
        self.shared_palette = writer.shared_palette
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="palettepress-writer")
        self.queued: deque[Future[None]] = deque()

    @property
    def frames(self) -> int:
        return self.writer.frames

    def add(self, frame: FrameOut) -> None:
        self.queued.append(self.pool.submit(self.writer.add, frame))
        while len(self.queued) > AHEAD or (self.queued and self.queued[0].done()):
            self.queued.popleft().result()

    def close(self, end: float) -> None:
        while self.queued:
            self.queued.popleft().result()
        self.writer.close(end)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


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
    text: dict | None = None,
):
    """The writer of ``fmt`` (``gif``, ``apng`` or ``webp``) on ``fh``; APNG needs the
    file's ``palette`` up front. ``text`` entries go where :func:`formats.read_text` finds
    them: a GIF comment, PNG text chunks, the WebP EXIF description. The writer runs on
    a thread of its own (:class:`Background`): use it as a context manager."""
    if fmt == "gif":
        return Background(GifWriter(fh, width, height, loop, effort, text))
    if fmt == "webp":
        return Background(WebpWriter(fh, width, height, loop, effort, text))
    assert palette is not None  # APNG: one palette for the file
    return Background(ApngWriter(fh, width, height, loop, palette, effort, level, text))
