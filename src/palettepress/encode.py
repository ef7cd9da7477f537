"""Indexed PNG writer: smallest bit depth, a palette order and row filters that deflate well.

The PNG is assembled here (chunks, CRCs, deflate) rather than by Pillow's encoder, because
the choices that decide the file size (palette order, bit depth, row filter, deflate
implementation and level) are what this module is for; Pillow reads every file back in
the tests. Deflate is libdeflate (the ``deflate`` package): measured on Kodak palettes
(BENCHMARKS.md, design measurements), its level 6 (the default effort's) comes within 1% of
zlib's level 9 in size at a sixth of the time, and levels 10-12 are 5% smaller at 6-12
times the time.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import deflate
import numpy as np

__all__ = ["PngMetadata", "encode_png", "index_rows", "bit_depth", "palette_order"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class PngMetadata:
    """What a palette PNG can carry over from its source.

    Attributes
    ----------
    srgb : bool
        Write an sRGB chunk (the pixels are sRGB: always true after ICC conversion).
    text : dict
        Text chunks (keyword -> value), written as tEXt or, for non-Latin-1 text, iTXt.
    dpi : tuple of float, optional
        Resolution in dots per inch, written as pHYs.
    """

    srgb: bool = True
    text: dict = field(default_factory=dict)
    dpi: tuple | None = None


def bit_depth(n_colors: int) -> int:
    """Smallest PNG palette bit depth (1, 2, 4 or 8) that indexes ``n_colors`` entries."""
    for depth in (1, 2, 4):
        if n_colors <= 1 << depth:
            return depth
    return 8


def palette_order(palette: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Order of palette entries in the file: translucent ones first, then most used first.

    With no row filter (see :func:`encode_png`) the index values themselves hardly change
    the deflated size; entries with alpha first keep the tRNS chunk short, and ordering
    by use makes the file independent of how the palette was found. Translucent entries
    go by decreasing alpha, so a fully transparent entry ends the tRNS chunk: Pillow
    (13.0) reads a tRNS chunk of the form ``ff* 00 ff* 0a`` as a single transparent
    index and loses the last entry's alpha of 10, which this order never produces.
    """
    alpha = palette[:, 3].astype(np.int64) if palette.shape[1] == 4 else np.full(len(palette), 255)
    return np.lexsort((np.arange(len(palette)), -counts.astype(np.int64), -alpha,
                       alpha == 255)).astype(np.intp)


def _chunk_parts(kind: bytes, data) -> list:
    """A chunk as its parts (length, type, data, CRC), for one join to copy ``data`` once."""
    return [struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(_chunk_parts(kind, data))


def index_rows(height: int, width: int) -> np.ndarray:
    """A new ``(height, width)`` uint8 array for palette indices that :func:`encode_png`
    deflates in place at 8 bits per pixel.

    It is a view of PNG scanlines, each row behind its filter byte (0, None), so the
    encoder needs no copy of the image with filter bytes added: a copy that would be the
    largest allocation of a 110-megapixel encode.
    """
    lines = np.empty((height, width + 1), dtype=np.uint8)
    lines[:, 0] = 0
    return lines[:, 1:]


def _scanlines(rows: np.ndarray) -> np.ndarray:
    """PNG scanlines: filter byte 0, then the row. When ``rows`` came from
    :func:`index_rows` (with its filter bytes still 0) that is the array it views;
    otherwise a new array."""
    h, n = rows.shape
    base = rows.base
    if (isinstance(base, np.ndarray) and base.dtype == np.uint8 and base.shape == (h, n + 1)
            and base.flags.c_contiguous and rows.strides == (n + 1, 1)
            and rows.ctypes.data == base.ctypes.data + 1 and not base[:, 0].any()):
        return base
    lines = index_rows(h, n)
    lines[...] = rows
    return lines.base


def _pack_rows(indices: np.ndarray, depth: int) -> np.ndarray:
    """Rows of ``indices`` packed at ``depth`` bits per pixel, MSB first (PNG order)."""
    if depth == 8:
        return indices
    h, w = indices.shape
    per = 8 // depth
    padded_w = -(-w // per) * per
    buf = np.zeros((h, padded_w), dtype=np.uint8)
    buf[:, :w] = indices
    buf = buf.reshape(h, padded_w // per, per)
    shifts = (8 - depth * (np.arange(per) + 1)).astype(np.uint8)
    return np.bitwise_or.reduce(buf << shifts, axis=2).astype(np.uint8)


def encode_png(indices: np.ndarray, palette: np.ndarray, *,
               metadata: PngMetadata | None = None, level: int = 7) -> bytes:
    """Encode an indexed image as a PNG file.

    Parameters
    ----------
    indices : ndarray, uint8 (H, W)
        Palette index of every pixel.
    palette : ndarray, uint8 (k, 3) or (k, 4)
        Palette colours; a fourth column is alpha (written as tRNS when not all 255).
    metadata : PngMetadata, optional
        Ancillary chunks to write; ``None`` writes none (stripped).
    level : int
        libdeflate compression level, 1 (fast) to 12 (smallest).

    Returns
    -------
    bytes
        The complete PNG file, palette and indices stored as given (callers put the
        palette in :func:`palette_order` first).
    """
    depth = bit_depth(len(palette))
    h, w = indices.shape
    rows = _pack_rows(indices, depth)
    head = [_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0))]
    if metadata is not None:
        if metadata.srgb:
            head.append(_chunk(b"sRGB", b"\x00"))
        if metadata.dpi:
            ppm = [int(round(v / 0.0254)) for v in metadata.dpi[:2]]
            head.append(_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    head.append(_chunk(b"PLTE", palette[:, :3].tobytes()))
    if palette.shape[1] == 4 and (palette[:, 3] < 255).any():
        last = int(np.nonzero(palette[:, 3] < 255)[0].max()) + 1
        head.append(_chunk(b"tRNS", palette[:last, 3].tobytes()))
    if metadata is not None:
        for key, value in metadata.text.items():
            head.append(_text_chunk(str(key), str(value)))
    # Filter type 0 (None) on every row: on palette indices it deflated smaller than
    # Up, Sub or the per-row heuristic on every Kodak image tried (BENCHMARKS.md).
    idat = deflate.zlib_compress(_scanlines(rows), level)  # the array itself: no copy
    # One join makes the file: the compressed data is copied once, not once per concatenation.
    return b"".join([*head, *_chunk_parts(b"IDAT", idat), _chunk(b"IEND", b"")])


def _text_chunk(key: str, value: str) -> bytes:
    key_bytes = key.encode("latin-1", "replace")[:79] or b"Comment"
    try:
        return _chunk(b"tEXt", key_bytes + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key_bytes + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
