"""Output formats: indexed PNG (the default), WebP lossless and GIF.

Every format stores exactly the pixels ``palette[indices]``: the tests decode each file and
compare. PNG and GIF are this package's own writers (:mod:`palettepress.encode`,
``_kernels.gif_lzw``); WebP goes through Pillow, whose wheels ship libwebp.

- **WebP** is lossless, with the exact colours under transparent pixels kept; libwebp sees
  at most 256 colours and stores them with its colour-indexing (palette) transform. The
  effort picks libwebp's ``method`` and ``quality`` (:data:`WEBP_EFFORT`).
- **GIF** holds a palette and at most one fully transparent index: no partial
  transparency. A pixel whose alpha is below :data:`GIF_ALPHA_THRESHOLD` becomes
  transparent, every other one opaque, or, where that measures better, broad translucent
  areas (soft shadows, glows, glass) become a pattern of opaque and transparent pixels in
  proportion to their alpha (:func:`palettepress.dither.gif_alpha`); the palette is
  fitted to the image so changed, and its quality is measured against the original.
  The LZW data is the smallest of the encoder's three ways to clear a full dictionary
  (on the graphics and photos of the test data 5-13% smaller than Pillow's writer makes
  of the same pixels), and the error diffusion follows it
  (:data:`palettepress.dither.GIF_LZW_SLACK`).

This module is the encode stage's front: the :class:`Writer` prepares pixels for its
format, encodes, and checks the image fits the format. It writes no files (results are
saved by :mod:`palettepress.io`) and measures nothing itself.

Text (the batch runner's settings tag) is kept in each format: PNG text chunks, a GIF
comment, the WebP file's EXIF image description; both of the latter as ``key: value``
lines, line breaks in values made spaces, and the WebP description in ASCII (other
characters become ``?``). :func:`read_text` reads any of them back.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from . import dither, encode
from .effort import EFFORTS, PNG_SEARCH_EFFORT, check_effort
from .encode import PngMetadata
from .errors import ParameterError

__all__ = [
    "FORMATS",
    "GIF_ALPHA_THRESHOLD",
    "GifAlphaWarning",
    "WEBP_EFFORT",
    "Writer",
    "writer_for",
    "check_format",
    "format_of",
    "read_text",
    "text_lines",
    "is_complete",
]

#: The output formats, and the file extension each is named by.
FORMATS = {"png": ".png", "webp": ".webp", "gif": ".gif"}

#: GIF: pixels with alpha below this become the transparent index, the others opaque.
GIF_ALPHA_THRESHOLD = 128

#: libwebp ``(method, quality)`` by effort. Lossless ``quality`` is how hard libwebp
#: searches. Measured on palettes of 8 Kodak photos and 12 graphics at k = 16 and 256:
#: method 4 at quality 100 (the default effort's) takes 0.1-0.2 s a photo; method 5 at
#: quality 100 is 2-3% smaller in 5-7 times that; method 6 at quality 100, the smallest,
#: 3-7% smaller than method 4 in about 50 times the time (7 s a Kodak photo).
WEBP_EFFORT = {
    1: (0, 25),
    2: (1, 50),
    3: (2, 75),
    4: (3, 100),
    5: (4, 100),
    6: (4, 100),
    7: (5, 75),
    8: (5, 100),
    9: (5, 100),
    10: (6, 100),
}

#: Largest width and height each format can hold.
_MAX_SIDE = {"png": 2**31 - 1, "webp": 16383, "gif": 65535}


def check_side(fmt: str, width: int, height: int, what: str, label: str | None = None) -> None:
    """:class:`ParameterError` when ``width`` x ``height`` is more than ``fmt`` holds;
    ``what`` names the picture in the message, ``label`` the format (default: ``fmt``
    in capitals)."""
    side = _MAX_SIDE[fmt]
    if max(width, height) > side:
        raise ParameterError(
            f"{label or fmt.upper()} holds at most {side}x{side} pixels, {what} is {width}x{height}"
        )


_EXIF_DESCRIPTION = 0x010E


def format_of(path) -> str | None:
    """The format a file name asks for by its extension (``None`` for any other)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return next((name for name, e in FORMATS.items() if e == ext), None)


def check_format(fmt) -> str:
    """``fmt`` as a known format name, else :class:`ParameterError`."""
    if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
        raise ParameterError(f"unknown output format {fmt!r}: use {', '.join(FORMATS)}")
    return fmt.lower()


def writer_for(fmt, level=None, effort=5) -> Writer:
    """The :class:`Writer` of format ``fmt`` at ``effort``, deflating at ``level`` (1 to 12;
    by default the effort's, :data:`~palettepress.effort.EFFORTS`); checks all three."""
    check_effort(effort)
    level = EFFORTS[effort]["deflate"] if level is None else level
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= 12:
        raise ParameterError(f"level must be an integer from 1 to 12, got {level!r}")
    return Writer(check_format(fmt), int(level), int(effort))


def text_lines(text: dict) -> str:
    """Text entries as ``key: value`` lines (line breaks in values made spaces): how GIF
    comments and the WebP description carry them (:func:`read_text` reads them back)."""
    return "\n".join(f"{k}: {' '.join(str(v).split())}" for k, v in text.items())


def _parse_lines(value) -> dict:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    out = {}
    for line in str(value or "").splitlines():
        key, sep, val = line.partition(": ")
        if sep:
            out[key] = val
    return out


class GifAlphaWarning(UserWarning):
    """An image with translucent pixels was written as GIF, which has none."""


@dataclass(frozen=True)
class Writer:
    """How results are encoded: the format, the PNG deflate level and the effort."""

    format: str = "png"
    level: int = 6
    effort: int = 5

    def prepare(
        self, pixels: np.ndarray, alpha_pattern: bool | None = None
    ) -> tuple[np.ndarray, bool]:
        """The pixels this format can store, to fit and map instead of ``pixels``, and
        whether translucent pixels were changed for it (the caller warns).

        Only GIF changes anything: each pixel becomes opaque or the transparent colour
        (its RGB made 0, so all such pixels are one colour), by
        :func:`palettepress.dither.gif_alpha`: alpha below :data:`GIF_ALPHA_THRESHOLD`
        transparent, or broad translucent areas patterned (``alpha_pattern`` True; None:
        whichever measures better). Quality is still measured against ``pixels``.
        """
        if self.format != "gif" or pixels.shape[2] != 4:
            return pixels, False
        alpha = pixels[..., 3]
        translucent = bool(((alpha > 0) & (alpha < 255)).any())
        if not translucent and not (alpha == 0).any():
            return pixels, False
        storable = pixels.copy()
        storable[..., 3] = dither.gif_alpha(pixels, GIF_ALPHA_THRESHOLD, alpha_pattern)
        storable[storable[..., 3] == 0, :3] = 0
        return storable, translucent

    def encode(
        self,
        indices: np.ndarray,
        palette: np.ndarray,
        metadata: PngMetadata | None = None,
        name: str | None = None,
    ) -> bytes:
        """The file's bytes for ``palette[indices]``; ``name`` is the source, for errors."""
        return self.encode_ordered(indices, palette, metadata, name)[0]

    def encode_ordered(
        self,
        indices: np.ndarray,
        palette: np.ndarray,
        metadata: PngMetadata | None = None,
        name: str | None = None,
        restart: int = 0,
    ) -> tuple[bytes, np.ndarray | None]:
        """The file's bytes, and the palette order it stores when that is not the given
        one (see :func:`palettepress.encode.encode_png_searched`), else None. ``restart``:
        for GIF, the LZW dictionary is also cleared before every ``restart``-th pixel
        (what indices dithered for it assume, ``dither.diffuse(..., lzw_slack)``)."""
        h, w = indices.shape
        check_side(self.format, w, h, "this image", f"{name or 'image'}: {self.format.upper()}")
        if self.format == "png":
            data, order = encode.encode_png_searched(
                indices,
                palette,
                metadata=metadata,
                level=self.level,
                search=self.effort >= PNG_SEARCH_EFFORT,
            )
            return data, (None if (order == np.arange(len(order))).all() else order)
        if self.format == "webp":
            return self._webp(indices, palette, metadata), None
        return self._gif(indices, palette, metadata, restart), None

    def _webp(self, indices, palette, metadata) -> bytes:
        from PIL import Image

        has_alpha = palette.shape[1] == 4 and bool((palette[:, 3] < 255).any())
        pixels = palette[indices] if has_alpha else palette[:, :3][indices]
        image = Image.fromarray(pixels, "RGBA" if has_alpha else "RGB")
        method, quality = WEBP_EFFORT[self.effort]
        extra: dict = {}
        if metadata is not None and metadata.text:
            exif = Image.Exif()
            exif[_EXIF_DESCRIPTION] = text_lines(metadata.text)
            extra["exif"] = exif.tobytes()
        buf = io.BytesIO()
        image.save(buf, "WEBP", lossless=True, method=method, quality=quality, exact=True, **extra)
        return buf.getvalue()

    def _gif(self, indices, palette, metadata, restart: int = 0) -> bytes:
        """A GIF89a of one image with the palette as its global table: this package's LZW
        (``_kernels.gif_lzw``), the smallest of its three ways to clear a full dictionary."""
        import struct

        from . import _kernels

        transparent = -1
        if palette.shape[1] == 4:
            alpha = palette[:, 3]
            if ((alpha > 0) & (alpha < 255)).any():
                raise ParameterError(
                    "GIF has no partial transparency: the palette has translucent colours"
                )
            clear = np.nonzero(alpha == 0)[0]
            if len(clear) > 1:
                raise ParameterError(
                    f"GIF holds one transparent colour, the palette has {len(clear)}"
                )
            if len(clear):
                transparent = int(clear[0])
        h, w = indices.shape
        size = max(1, (len(palette) - 1).bit_length())  # the table holds 2**size entries
        table = np.zeros((1 << size, 3), dtype=np.uint8)
        table[: len(palette)] = palette[:, :3]
        code_size = max(2, size)
        indices = np.ascontiguousarray(indices)
        data = min(
            (
                _kernels.gif_lzw(indices, None, 0, code_size, clearing, 0, restart)
                for clearing in (0, 1, 2)
            ),
            key=len,
        )
        parts = [
            b"GIF89a",
            struct.pack("<HHBBB", w, h, 0x80 | ((size - 1) << 4) | (size - 1), 0, 0),
            table.tobytes(),
        ]
        if transparent >= 0:
            parts.append(b"\x21\xf9\x04\x01\x00\x00" + bytes([transparent]) + b"\x00")
        if metadata is not None and metadata.text:
            comment = text_lines(metadata.text).encode("utf-8")[: 255 * 255]
            parts.append(b"\x21\xfe" + _sub_blocks(comment))
        parts += [
            b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0),
            bytes([code_size]),
            _sub_blocks(data),
            b"\x3b",
        ]
        return b"".join(parts)


def read_text(path) -> dict:
    """The text a file written by this package carries (any of the formats)."""
    from PIL import Image

    with Image.open(path) as image:
        if image.format == "PNG":
            return {k: v for k, v in image.info.items() if isinstance(v, str)}
        if image.format == "GIF":
            return _parse_lines(image.info.get("comment"))
        if image.format == "WEBP":
            return _parse_lines(image.getexif().get(_EXIF_DESCRIPTION))
    return {}


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def is_complete(path, fmt: str) -> bool:
    """True when the file at ``path`` (or a binary file object) ends as a whole file of
    ``fmt`` does (a cheap check: the last bytes only, or the header's length for WebP)."""
    if hasattr(path, "seek"):
        return _ends_whole(path, fmt)
    with open(path, "rb") as fh:
        return _ends_whole(fh, fmt)


def _ends_whole(fh, fmt: str) -> bool:
    size = fh.seek(0, os.SEEK_END)
    if fmt == "png":
        if size < len(_PNG_END):
            return False
        fh.seek(-len(_PNG_END), os.SEEK_END)
        return fh.read() == _PNG_END
    if fmt == "gif":
        fh.seek(-1, os.SEEK_END)
        return size > 13 and fh.read() == b"\x3b"
    fh.seek(0)
    head = fh.read(12)
    return (
        len(head) == 12
        and head[:4] == b"RIFF"
        and head[8:] == b"WEBP"
        and int.from_bytes(head[4:8], "little") + 8 == size
    )


def _sub_blocks(data: bytes) -> bytes:
    """GIF data sub-blocks: runs of at most 255 bytes, each behind its length, then 0."""
    parts = []
    for i in range(0, len(data), 255):
        part = data[i : i + 255]
        parts.append(bytes([len(part)]))
        parts.append(part)
    parts.append(b"\x00")
    return b"".join(parts)
