"""Animated GIF frames as browsers show them: the file's blocks read here, each image's
indices decoded by the compiled LZW decoder, the frames composited by their disposal.

Pillow composites GIF frames too, and :mod:`palettepress.framefiles` reads every other
animated format through it. For GIF it differs from browsers where a frame is disposed
of to the background (disposal 2): Chromium, Firefox and Safari (and ImageMagick) clear
that rectangle to transparent, whatever the header's background colour; Pillow fills it
with that colour, opaque, unless a transparent entry is named. Outside the first image
the canvas is clear too. Files this reader does not take (any flaw in the block
structure) are left to Pillow, which then reads or reports them as before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import _kernels

__all__ = ["GifImage", "read_gif", "composited"]


@dataclass
class GifImage:
    """One image of a GIF: where it lies, its colours, and its LZW data's place."""

    x: int
    y: int
    width: int
    height: int
    palette: np.ndarray  # (n, 3) uint8: the local table, else the global one
    transparent: int | None
    disposal: int  # 0-1: left as is; 2: cleared; 3: restored to what was before it
    delay_ms: int  # 0 when the file gives none
    interlaced: bool
    min_code_size: int
    blocks: list[tuple[int, int]]  # (start, end) of each data sub-block in the file


def _table(data: bytes, pos: int, flags: int) -> tuple[np.ndarray, int]:
    n = 2 << (flags & 7)
    end = pos + 3 * n
    if end > len(data):
        raise ValueError("a colour table runs past the end of the file")
    return np.frombuffer(data, np.uint8, 3 * n, pos).reshape(n, 3).copy(), end


def _skip_blocks(data: bytes, pos: int) -> int:
    """The position after the data sub-blocks starting at ``pos`` and their terminator."""
    while True:
        if pos >= len(data):
            raise ValueError("data sub-blocks run past the end of the file")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def read_gif(data: bytes) -> tuple[int, int, list[GifImage]]:
    """``(width, height, images)`` of a GIF file's bytes; ValueError on any flaw in its
    block structure (the LZW data itself is checked as it is decoded)."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    if width == 0 or height == 0:
        raise ValueError("no logical screen size")
    pos = 13
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    palette = grey
    if flags & 0x80:
        palette, pos = _table(data, pos, flags)
    images: list[GifImage] = []
    transparent, disposal, delay = None, 0, 0
    while True:
        if pos >= len(data):
            if images:  # no trailer after whole images: browsers show them all
                return width, height, images
            raise ValueError("no image")
        kind = data[pos]
        if kind == 0x3B:  # the trailer
            return width, height, images
        if kind == 0x21:  # an extension
            if pos + 2 > len(data):
                raise ValueError("an extension runs past the end of the file")
            label = data[pos + 1]
            if label == 0xF9 and pos + 8 <= len(data) and data[pos + 2] >= 4:
                packed, delay_cs, index = struct.unpack_from("<BHB", data, pos + 3)
                disposal = (packed >> 2) & 7
                delay = 10 * delay_cs
                transparent = index if packed & 1 else None
            pos = _skip_blocks(data, pos + 2)
        elif kind == 0x2C:  # an image
            if pos + 11 > len(data):
                raise ValueError("an image descriptor runs past the end of the file")
            x, y, w, h, packed = struct.unpack_from("<HHHHB", data, pos + 1)
            if w * h > 4 * width * height:
                # Decoding it whole would take memory the screen gives no cause for.
                raise ValueError(f"a {w}x{h} image on a {width}x{height} screen")
            pos += 10
            table = palette
            if packed & 0x80:
                table, pos = _table(data, pos, packed)
            if pos >= len(data):
                raise ValueError("an image runs past the end of the file")
            min_code_size = data[pos]
            if not 1 <= min_code_size <= 8:
                raise ValueError(f"LZW minimum code size {min_code_size}")
            pos += 1
            blocks = []
            while True:
                if pos >= len(data):
                    raise ValueError("image data runs past the end of the file")
                size = data[pos]
                if size == 0:
                    pos += 1
                    break
                if pos + 1 + size > len(data):
                    raise ValueError("image data runs past the end of the file")
                blocks.append((pos + 1, pos + 1 + size))
                pos += 1 + size
            interlaced = bool(packed & 0x40)
            images.append(
                GifImage(
                    x,
                    y,
                    w,
                    h,
                    table,
                    transparent,
                    disposal,
                    delay,
                    interlaced,
                    min_code_size,
                    blocks,
                )
            )
            transparent, disposal, delay = None, 0, 0  # a control extension is one image's
        else:
            raise ValueError(f"unknown block 0x{kind:02x}")


def _indices(data: bytes, image: GifImage) -> tuple[np.ndarray, np.ndarray | None]:
    """An image's indices ``(h, w)`` and where they were decoded, None for everywhere
    (a stream that ends early leaves the rest of the image undrawn, as browsers do)."""
    w, h = image.width, image.height
    stream = b"".join(data[a:b] for a, b in image.blocks)
    flat, got = _kernels.gif_lzw_decode(stream, image.min_code_size, w * h)
    indices, drawn = flat.reshape(h, w), None
    if got < w * h:
        drawn = (np.arange(w * h) < got).reshape(h, w)
    if image.interlaced:
        # Rows were stored in four passes: every 8th from 0, every 8th from 4, every 4th
        # from 2, every 2nd from 1.
        order = np.concatenate(
            [np.arange(0, h, 8), np.arange(4, h, 8), np.arange(2, h, 4), np.arange(1, h, 2)]
        )
        rows = np.empty(h, np.intp)
        rows[order] = np.arange(h)
        indices = indices[rows]
        drawn = None if drawn is None else drawn[rows]
    return indices, drawn


def composited(
    data: bytes, width: int, height: int, images: list[GifImage]
) -> Iterator[np.ndarray]:
    """The canvas ``(height, width, 4)`` RGBA as each image leaves it, in order (a new
    array each time), the canvas starting clear."""
    canvas = np.zeros((height, width, 4), np.uint8)
    words = canvas.view(np.uint32)[..., 0]  # a pixel as one 32-bit word
    before: GifImage | None = None
    saved = None
    for image in images:
        if before is not None:
            x0, y0 = min(before.x, width), min(before.y, height)
            x1, y1 = min(before.x + before.width, width), min(before.y + before.height, height)
            if before.disposal == 2:
                canvas[y0:y1, x0:x1] = 0
            elif before.disposal == 3 and saved is not None:
                canvas[y0:y1, x0:x1] = saved
        x0, y0 = min(image.x, width), min(image.y, height)
        x1, y1 = min(image.x + image.width, width), min(image.y + image.height, height)
        saved = canvas[y0:y1, x0:x1].copy() if image.disposal == 3 else None
        if x1 > x0 and y1 > y0:
            indices, drawn = _indices(data, image)
            lut = np.zeros((256, 4), np.uint8)  # indices past the table: not drawn
            n = min(len(image.palette), 256)
            lut[:n, :3] = image.palette[:n]
            lut[:n, 3] = 255
            if image.transparent is not None:
                lut[image.transparent, 3] = 0
            indices = indices[: y1 - y0, : x1 - x0]
            show = lut[:, 3][indices] > 0
            if drawn is not None:
                show &= drawn[: y1 - y0, : x1 - x0]
            np.copyto(words[y0:y1, x0:x1], lut.view(np.uint32)[:, 0][indices], where=show)
        before = image
        yield canvas.copy()
