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
    return encode_png_searched(indices, palette, metadata=metadata, level=level, search=False)[0]


def encode_png_searched(indices: np.ndarray, palette: np.ndarray, *,
                        metadata: PngMetadata | None = None, level: int = 7,
                        search: bool = False) -> tuple[bytes, np.ndarray]:
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

    search : bool
        Also try other palette orders and row filters (:func:`_layouts`) and keep the
        smallest file (:func:`encode_png_searched` only).

    Returns
    -------
    bytes
        The complete PNG file, palette and indices stored as given (callers put the
        palette in :func:`palette_order` first).
    order : ndarray (``encode_png_searched`` only)
        The palette order the file stores: entry ``i`` of the file is ``palette[order[i]]``
        (``arange`` without ``search``).
    """
    depth = bit_depth(len(palette))
    h, w = indices.shape
    order = np.arange(len(palette), dtype=np.intp)
    idat = None
    if search and h * w > 0:
        order, idat = _searched_layout(indices, palette, depth, level)
        palette = palette[order]
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
    if idat is None:
        idat = deflate.zlib_compress(_scanlines(_pack_rows(indices, depth)), level)  # no copy
    # One join makes the file: the compressed data is copied once, not once per concatenation.
    return b"".join([*head, *_chunk_parts(b"IDAT", idat), _chunk(b"IEND", b"")]), order


def _filtered(rows: np.ndarray, ftype: int) -> np.ndarray:
    """Rows filtered by PNG filter ``ftype`` (1 byte per pixel unit): the bytes after each
    row's filter byte."""
    if ftype == 0:
        return rows
    r = rows.astype(np.int16)
    left = np.zeros_like(r)
    left[:, 1:] = r[:, :-1]
    up = np.zeros_like(r)
    up[1:] = r[:-1]
    if ftype == 1:
        pred = left
    elif ftype == 2:
        pred = up
    elif ftype == 3:
        pred = (left + up) >> 1
    else:
        corner = np.zeros_like(r)
        corner[1:, 1:] = r[:-1, :-1]
        p = left + up - corner
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - corner)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
    return ((r - pred) & 255).astype(np.uint8)


def _scanlines_with(filtered: list[np.ndarray], filters: np.ndarray) -> np.ndarray:
    """PNG scanlines with row ``y`` filtered by ``filters[y]``; ``filtered[f]`` are the
    rows under filter ``f`` (:func:`_filtered`)."""
    h, n = filtered[0].shape
    lines = np.empty((h, n + 1), dtype=np.uint8)
    lines[:, 0] = filters
    for f in np.unique(filters):
        pick = filters == f
        lines[pick, 1:] = filtered[int(f)][pick]
    return lines


def _row_bigrams(filtered: list[np.ndarray]) -> np.ndarray:
    """Per row, the filter (0-4) whose filtered row (``filtered[f]``) has the fewest
    distinct byte pairs: a cheap stand-in for how well the row deflates."""
    h = filtered[0].shape[0]
    best = np.zeros(h, dtype=np.uint8)
    least = np.full(h, np.iinfo(np.int64).max)
    for f in range(5):
        fr = filtered[f].astype(np.int64)
        pairs = fr[:, :-1] * 256 + fr[:, 1:] if fr.shape[1] > 1 else fr
        keys = np.sort(pairs + (np.arange(h, dtype=np.int64)[:, None] << 16), axis=None)
        distinct = np.bincount((keys[np.r_[True, keys[1:] != keys[:-1]]] >> 16), minlength=h)
        better = distinct < least
        best[better], least[better] = f, distinct[better]
    return best


def _chain_order(indices: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Opaque entries in a chain of the index pairs that meet most often side by side or one
    above the other (grown from the most frequent pair at whichever end gains more), so
    that neighbouring pixels get near index values and a row filter leaves small residues.
    Translucent entries keep their places at the front (the tRNS chunk stays short)."""
    k = len(palette)
    a = indices.astype(np.int64)
    pairs = np.concatenate([(a[:, :-1] * k + a[:, 1:]).ravel(), (a[:-1] * k + a[1:]).ravel()])
    c = np.bincount(pairs, minlength=k * k).reshape(k, k).astype(np.float64)
    c += c.T
    np.fill_diagonal(c, -1)
    fixed = int((palette[:, 3] < 255).sum()) if palette.shape[1] == 4 else 0
    free = np.arange(fixed, k)
    if len(free) < 3:
        return np.arange(k, dtype=np.intp)
    sub = c[np.ix_(free, free)]
    first, second = np.unravel_index(int(np.argmax(sub)), sub.shape)
    chain = [int(first), int(second)]
    used = np.zeros(len(free), dtype=bool)
    used[chain] = True
    for _ in range(len(free) - 2):
        head = np.where(used, -2, sub[chain[0]])
        tail = np.where(used, -2, sub[chain[-1]])
        if head.max() > tail.max():
            nxt = int(np.argmax(head))
            chain.insert(0, nxt)
        else:
            nxt = int(np.argmax(tail))
            chain.append(nxt)
        used[nxt] = True
    return np.concatenate([np.arange(fixed), free[chain]]).astype(np.intp)


def _luma_order(palette: np.ndarray) -> np.ndarray:
    """Opaque entries by luma (translucent ones keep their places at the front)."""
    fixed = int((palette[:, 3] < 255).sum()) if palette.shape[1] == 4 else 0
    luma = palette[fixed:, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.concatenate([np.arange(fixed), fixed + np.argsort(luma, kind="stable")]).astype(np.intp)


#: Layouts the search screens at this deflate level before the best few are deflated at
#: the caller's level (how each ranks changes little between levels).
SEARCH_SCREEN_LEVEL = 6
SEARCH_FINALISTS = 3


def _searched_layout(indices: np.ndarray, palette: np.ndarray, depth: int, level: int):
    """The palette order and deflated scanlines of the smallest of several layouts: the
    given order, by luma and by neighbour chain, each with filter None, Sub, Up, Paeth on
    every row and a per-row choice by distinct byte pairs."""
    candidates = []
    orders = [np.arange(len(palette), dtype=np.intp), _luma_order(palette),
              _chain_order(indices, palette)]
    for order in orders:
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        rows = _pack_rows(rank[indices].astype(np.uint8), depth)
        filtered = [_filtered(rows, f) for f in range(5)]  # each filter once per order
        for how in (0, 1, 2, 4, "pairs"):
            filters = _row_bigrams(filtered) if how == "pairs" else np.full(rows.shape[0], how, np.uint8)
            lines = _scanlines_with(filtered, filters)
            size = len(deflate.zlib_compress(lines, min(level, SEARCH_SCREEN_LEVEL)))
            candidates.append((size, len(candidates), order, lines))
    plain = candidates[0]  # the given order, filter None: what the writer does without search
    candidates.sort(key=lambda c: (c[0], c[1]))
    finalists = candidates[:SEARCH_FINALISTS]
    if not any(c is plain for c in finalists):
        finalists.append(plain)  # so the search never ends larger than no search
    best = None
    for size, _, order, lines in finalists:
        idat = deflate.zlib_compress(lines, level)
        if best is None or len(idat) < len(best[1]):
            best = (order, idat)
    return best


def _text_chunk(key: str, value: str) -> bytes:
    key_bytes = key.encode("latin-1", "replace")[:79] or b"Comment"
    try:
        return _chunk(b"tEXt", key_bytes + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key_bytes + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
