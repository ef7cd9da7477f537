"""Indexed PNG writer: the bit depth, palette order and row filters that deflate well.

By default: the smallest bit depth, filter None, the palette as given except that a colour
bridging most row ends goes first (:func:`_bridging_entry`); a palette of more than 16
greys or tints of one hue goes in order of lightness with a row filter per row where that
deflates smaller (:func:`_ramp_layout`). From effort 9 the writer searches palette
orders, depths and filters (:func:`_searched_layout`).

The PNG is assembled here (chunks, CRCs, deflate) rather than by Pillow's encoder, because
the choices that decide the file size (palette order, bit depth, row filter, deflate
implementation and level) are what this module is for; Pillow reads every file back in
the tests. It takes arrays and returns bytes: no files, no format choice (that is
:mod:`palettepress.formats`). Deflate is libdeflate (the ``deflate`` package): measured on Kodak palettes
(BENCHMARKS.md, design measurements), its level 6 (the default effort's) comes within 1% of
zlib's level 9 in size at a sixth of the time, and levels 10-12 are 5% smaller at 6-12
times the time.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

import deflate
import numpy as np

from . import _kernels

__all__ = [
    "PngMetadata",
    "encode_png",
    "index_rows",
    "bit_depth",
    "palette_order",
    "to_file_order",
    "chunk",
    "image_data",
]

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
    return np.lexsort(
        (np.arange(len(palette)), -counts.astype(np.int64), -alpha, alpha == 255)
    ).astype(np.intp)


#: A row boundary is bridged when a row ends with the entry the next row starts with.
#: An entry that bridges at least this share of them goes first in the file.
BRIDGE_SHARE = 0.5

#: What Pillow (13.0) reads as a single transparent index: its pattern for that form,
#: whose ``$`` also matches before a final line feed (so a last alpha of 10 is lost).
_PILLOW_SIMPLE_TRNS = re.compile(b"^\\xff*\\x00\\xff*$")
_SIMPLE_TRNS = re.compile(b"\\xff*\\x00\\xff*")


def _bridging_entry(indices: np.ndarray, palette: np.ndarray) -> int:
    """The entry to swap with entry 0 so that rows deflate as one run across their ends,
    or 0 to keep the order.

    Every scanline starts with its filter byte, 0 for filter None. When most rows end and
    the next ones begin with one colour (a background reaching the left and right edges),
    giving that colour index 0 lets deflate match straight through the filter byte instead
    of breaking every match at each row's end (up to 14% smaller on clip art and icons; on
    photos it seldom applies). The swap is made only when the tRNS chunk does not grow.
    """
    h, w = indices.shape
    if h < 2 or w == 0 or len(palette) < 2:
        return 0
    ends, starts = indices[:-1, -1], indices[1:, 0]
    counts = np.bincount(ends[ends == starts], minlength=len(palette))
    lead = int(np.argmax(counts))
    if lead == 0 or counts[lead] < BRIDGE_SHARE * (h - 1):
        return 0
    order = np.arange(len(palette))
    order[[0, lead]] = order[[lead, 0]]
    swapped = _trns_size(palette[order])
    if swapped is None or swapped > (_trns_size(palette) or 0):
        return 0
    return lead


def swap_entries(indices: np.ndarray, a: int, b: int, rows: int = 1024) -> None:
    """Swap index values ``a`` and ``b`` in place, a block of rows at a time (no image-sized
    temporary)."""
    for y in range(0, indices.shape[0], rows):
        block = indices[y : y + rows]
        is_a, is_b = block == a, block == b
        block[is_a] = b
        block[is_b] = a


def to_file_order(
    indices: np.ndarray, palette: np.ndarray, order: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``indices`` and ``palette`` in the order the file stores (``order``, as
    :func:`encode_png_searched` gives it; None: as they are). Two entries swapped are
    swapped in ``indices`` in place (no copy of a large image); any other order makes
    new indices."""
    if order is None:
        return indices, palette
    moved = np.nonzero(order != np.arange(len(order)))[0]
    if len(moved) == 2:
        swap_entries(indices, int(moved[0]), int(moved[1]))
    else:
        rank = np.empty(len(order), dtype=np.uint8)
        rank[order] = np.arange(len(order), dtype=np.uint8)
        indices = rank[indices]
    return indices, palette[order]


def _chunk_parts(kind: bytes, data) -> list:
    """A chunk as its parts (length, type, data, CRC), for one join to copy ``data`` once."""
    return [
        struct.pack(">I", len(data)),
        kind,
        data,
        struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))),
    ]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(_chunk_parts(kind, data))


def chunk(kind: bytes, data: bytes | bytearray) -> bytes:
    """A PNG chunk: length, type, data and CRC (for writers of other PNG layouts, APNG)."""
    return b"".join(_chunk_parts(kind, data))


def text_chunk(key: str, value: str) -> bytes:
    """A PNG text chunk: tEXt, or iTXt for text that is not Latin-1."""
    return _text_chunk(key, value)


def image_data(indices: np.ndarray, depth: int, level: int) -> bytearray:
    """The zlib stream of an indexed PNG image (or APNG frame): every row behind filter
    byte 0 (None), packed at ``depth`` bits per pixel, deflated by libdeflate at ``level``."""
    return deflate.zlib_compress(_scanlines(_pack_rows(indices, depth)), level)


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
    if (
        isinstance(base, np.ndarray)
        and base.dtype == np.uint8
        and base.shape == (h, n + 1)
        and base.flags.c_contiguous
        and rows.strides == (n + 1, 1)
        and rows.ctypes.data == base.ctypes.data + 1
        and not base[:, 0].any()
    ):
        return base
    lines = index_rows(h, n)
    lines[...] = rows
    whole = lines.base
    assert isinstance(whole, np.ndarray)  # index_rows returns a view of its scanlines
    return whole


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


def encode_png(
    indices: np.ndarray, palette: np.ndarray, *, metadata: PngMetadata | None = None, level: int = 7
) -> bytes:
    return encode_png_searched(indices, palette, metadata=metadata, level=level, search=False)[0]


def encode_png_searched(
    indices: np.ndarray,
    palette: np.ndarray,
    *,
    metadata: PngMetadata | None = None,
    level: int = 7,
    search: bool = False,
) -> tuple[bytes, np.ndarray]:
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
        Also try other palette orders and row filters (:func:`_searched_layout`) and keep the
        smallest file (:func:`encode_png_searched` only).

    Returns
    -------
    bytes
        The complete PNG file, the palette stored in the order returned (callers put
        the palette in :func:`palette_order` first).
    order : ndarray (``encode_png_searched`` only)
        The palette order the file stores: entry ``i`` of the file is ``palette[order[i]]``
        (without ``search``, ``arange``, that with one entry swapped into the first
        place, see :func:`_bridging_entry`, or a ramp's lightness order, see
        :func:`_ramp_layout`).
    """
    depth = bit_depth(len(palette))
    h, w = indices.shape
    lead = _bridging_entry(indices, palette)
    if search and h * w > 0:
        order, depth, idat = _searched_layout(indices, palette, depth, level, lead)
    else:
        order, idat = _plain_layout(indices, len(palette), depth, level, lead)
    if depth == 8 and h * w > 0 and _ramp(palette):
        # Whichever deflates smaller: filters on the lightness order, or the layout so far
        # (filter None stays ahead on graphics and text).
        ramp_order, ramp_idat = _ramp_layout(indices, palette, level)
        if len(ramp_idat) + (_trns_size(palette[ramp_order]) or 0) < len(idat) + (
            _trns_size(palette[order]) or 0
        ):
            order, idat = ramp_order, ramp_idat
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
    # One join makes the file: the compressed data is copied once, not once per concatenation.
    return b"".join([*head, *_chunk_parts(b"IDAT", idat), _chunk(b"IEND", b"")]), order


def _plain_layout(indices: np.ndarray, k: int, depth: int, level: int, lead: int):
    """The palette order (of ``k`` entries) and deflated scanlines of the default layout:
    filter None on every row, the palette as given but for the bridging entry ``lead``
    swapped first."""
    order = np.arange(k, dtype=np.intp)
    # Filter type 0 (None) on every row: on palette indices it deflated smaller than
    # Up, Sub or the per-row heuristic on every Kodak image tried (BENCHMARKS.md).
    if not lead:
        return order, deflate.zlib_compress(_scanlines(_pack_rows(indices, depth)), level)
    h, w = indices.shape
    order[[0, lead]] = order[[lead, 0]]
    rank = order.astype(np.uint8)  # a swap is its own inverse
    rows = index_rows(h, w)  # the caller's array is left as it is
    for y in range(0, h, 1024):
        rows[y : y + 1024] = rank[indices[y : y + 1024]]
    return order, deflate.zlib_compress(_scanlines(_pack_rows(rows, depth)), level)


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


def _cooccurrence(indices: np.ndarray, k: int) -> np.ndarray:
    """How often each pair of entries meets side by side or one above the other (k, k),
    symmetric, zero diagonal."""
    a = indices.astype(np.int64)
    pairs = np.concatenate([(a[:, :-1] * k + a[:, 1:]).ravel(), (a[:-1] * k + a[1:]).ravel()])
    c = np.bincount(pairs, minlength=k * k).reshape(k, k).astype(np.float64)
    c += c.T
    np.fill_diagonal(c, 0)
    return c


#: :func:`_spread_order` counts a placed entry by its distance from the end to this power,
#: inverted.
SPREAD_POWER = 0.5


def _translucent_front(palette: np.ndarray) -> int:
    """How many entries lead the palette as translucent ones (see :func:`palette_order`):
    the orders below keep them in place, so the tRNS chunk stays short."""
    return int((palette[:, 3] < 255).sum()) if palette.shape[1] == 4 else 0


def _grow_at_ends(c: np.ndarray, seq: list[int], weight) -> list[int]:
    """A sequence of all entries of the co-occurrence matrix ``c`` grown from ``seq``: the
    next is the unplaced entry that meets the placed ones most often, counted from the
    end it joins, the placed entries weighted by ``weight(m)`` (the weights of the ``m``
    placed entries by distance from that end, nearest first)."""
    n = len(c)
    used = np.zeros(n, dtype=bool)
    used[seq] = True
    while len(seq) < n:
        w = weight(len(seq))
        rows = c[seq]  # (m, n): placed entries' counts
        left = w @ rows  # by distance from the left end
        right = w[::-1] @ rows  # by distance from the right end
        left[used] = right[used] = -1.0
        if left.max() > right.max():
            nxt = int(np.argmax(left))
            seq.insert(0, nxt)
        else:
            nxt = int(np.argmax(right))
            seq.append(nxt)
        used[nxt] = True
    return seq


def _spread_order(
    indices: np.ndarray, palette: np.ndarray, translucent_first: bool = True
) -> np.ndarray:
    """Entries placed one at a time at either end of a growing sequence: the next is the
    unplaced entry that meets the placed ones most often, each placed entry counted less
    the farther it is from that end (:data:`SPREAD_POWER`). Entries that meet end up with
    near index values, and the neighbours of a neighbour nearby too, which is what Sub, Up
    and Paeth turn into small residues. With ``translucent_first`` the translucent entries
    keep their places at the front (the tRNS chunk stays short); otherwise all entries
    take part."""
    k = len(palette)
    fixed = _translucent_front(palette) if translucent_first else 0
    free = np.arange(fixed, k)
    if len(free) < 3:
        return np.arange(k, dtype=np.intp)
    c = _cooccurrence(indices, k)[np.ix_(free, free)]
    seq = _grow_at_ends(
        c, [int(np.argmax(c.sum(axis=1)))], lambda m: 1.0 / np.arange(1, m + 1) ** SPREAD_POWER
    )
    return np.concatenate([np.arange(fixed), free[seq]]).astype(np.intp)


def _end_only(m: int) -> np.ndarray:
    """Weights that count only the entry at the end (:func:`_chain_order`)."""
    w = np.zeros(m)
    w[0] = 1.0
    return w


def _chain_order(indices: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Opaque entries in a chain of the index pairs that meet most often side by side or one
    above the other (grown from the most frequent pair at whichever end gains more), so
    that neighbouring pixels get near index values and a row filter leaves small residues.
    Translucent entries keep their places at the front (the tRNS chunk stays short)."""
    k = len(palette)
    fixed = _translucent_front(palette)
    free = np.arange(fixed, k)
    if len(free) < 3:
        return np.arange(k, dtype=np.intp)
    sub = _cooccurrence(indices, k)[np.ix_(free, free)]
    np.fill_diagonal(sub, -1)  # the first pair is two entries even where none meet
    first, second = np.unravel_index(int(np.argmax(sub)), sub.shape)
    chain = _grow_at_ends(sub, [int(first), int(second)], _end_only)
    return np.concatenate([np.arange(fixed), free[chain]]).astype(np.intp)


def _luma_order(palette: np.ndarray) -> np.ndarray:
    """Opaque entries by luma (translucent ones keep their places at the front)."""
    fixed = _translucent_front(palette)
    luma = palette[fixed:, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.concatenate([np.arange(fixed), fixed + np.argsort(luma, kind="stable")]).astype(
        np.intp
    )


def _lead_first(order: np.ndarray, lead: int) -> np.ndarray:
    """``order`` with entry ``lead`` swapped into the first place (see :func:`_bridging_entry`)."""
    if not lead:
        return order
    order = order.copy()
    at = int(np.nonzero(order == lead)[0][0])
    order[[0, at]] = order[[at, 0]]
    return order


def _trns_size(palette: np.ndarray) -> int | None:
    """Bytes of the tRNS chunk ``palette`` (in file order) needs, or None when Pillow
    would read that chunk wrongly (see :data:`_PILLOW_SIMPLE_TRNS`)."""
    if palette.shape[1] != 4 or not (palette[:, 3] < 255).any():
        return 0
    trns = palette[: int(np.nonzero(palette[:, 3] < 255)[0].max()) + 1, 3].tobytes()
    if _PILLOW_SIMPLE_TRNS.match(trns) and not _SIMPLE_TRNS.fullmatch(trns):
        return None
    return len(trns) + 12


#: A palette is a ramp when, its opaque entries in order of luma, no channel falls by more
#: than this many levels from one entry to the next: greys (the nearest 8-bit colour of a
#: grey fitted in Oklab, :func:`palettepress.colorspace.from_working`, may be a level off
#: grey), sepia and other one-hue tints.
RAMP_SLACK = 2
#: Rows filtered at a time by :func:`_ramp_layout` (the reordered copy stays small).
RAMP_STRIP = 1024


def _ramp(palette: np.ndarray) -> bool:
    """Whether the opaque entries of ``palette`` (those after the translucent ones: see
    :func:`palette_order`) rise together in every channel (:data:`RAMP_SLACK`)."""
    rgb = palette[_luma_order(palette)[_translucent_front(palette) :], :3].astype(np.int16)
    return len(rgb) > 1 and bool((np.diff(rgb, axis=0) >= -RAMP_SLACK).all())


def _ramp_layout(indices: np.ndarray, palette: np.ndarray, level: int):
    """The palette order and deflated scanlines of a ramp (:func:`_ramp`; 8-bit indices) in
    order of lightness, each row under the filter whose bytes, read as signed, sum smallest in
    magnitude (the usual choice of PNG writers for continuous tones;
    ``_kernels.png_filter_minsum``).

    With its entries in order of lightness a ramp's indices are a grey image, whose rows
    Sub, Up and Paeth predict as they predict a photo's; filter None, right for colour
    palettes, leaves that unused. Measured on 14 Kodak, USC-SIPI and CBSD68 photos turned
    grey, at the default effort: 0.83x the bytes of filter None at k = 256 (the photos have
    fewer greys: no dithering), 0.83x at 128, 0.85x at 64 and 0.90x at 32, dithered;
    per-row entropy chose as well, for 8 times the time, Paeth on every row 1-2% larger.
    Toned sepia, 10 of them: 0.83x at k = 256, 0.84x at 64. At k <= 16 indices are packed
    and filters do not help.
    """
    order = _luma_order(palette)
    rank = np.empty(len(palette), dtype=np.uint8)
    rank[order] = np.arange(len(palette))
    h, w = indices.shape
    lines = np.empty((h, w + 1), dtype=np.uint8)
    for y in range(0, h, RAMP_STRIP):  # a strip at a time, read with the row above it
        top = max(y - 1, 0)
        _kernels.png_filter_minsum(
            rank[indices[top : y + RAMP_STRIP]], lines[y : y + RAMP_STRIP], y - top
        )
    return order, deflate.zlib_compress(lines, level)


def _row_entropy(filtered: list[np.ndarray]) -> np.ndarray:
    """Per row, the filter whose filtered row has the lowest Shannon entropy of its bytes."""
    h, n = filtered[0].shape
    best = np.zeros(h, dtype=np.uint8)
    least = np.full(h, np.inf)
    base = (np.arange(h, dtype=np.int64) * 256)[:, None]
    for f in range(5):
        counts = np.bincount((filtered[f] + base).ravel(), minlength=h * 256).reshape(h, 256)
        p = counts / n
        with np.errstate(divide="ignore", invalid="ignore"):
            bits = -np.where(counts > 0, p * np.log2(p), 0.0).sum(axis=1)
        better = bits < least
        best[better], least[better] = f, bits[better]
    return best


#: The brute-force row filter choice deflates each candidate row behind this many rows
#: already chosen, at this level, and keeps the filter that adds the fewest bytes.
BRUTE_CONTEXT_ROWS = 4
BRUTE_LEVEL = 4


def _row_brute(filtered: list[np.ndarray]) -> np.ndarray:
    """Per row, the filter that deflates smallest after the rows chosen before it."""
    h, n = filtered[0].shape
    lines = [[bytes([f]) + filtered[f][y].tobytes() for y in range(h)] for f in range(5)]
    chosen = np.zeros(h, dtype=np.uint8)
    done: list[bytes] = []
    for y in range(h):
        context = b"".join(done[-BRUTE_CONTEXT_ROWS:])
        sizes = [len(deflate.zlib_compress(context + lines[f][y], BRUTE_LEVEL)) for f in range(5)]
        chosen[y] = int(np.argmin(sizes))
        done.append(lines[chosen[y]][y])
    return chosen


#: Layouts the search screens at this deflate level before the best few are deflated at
#: the caller's level (how each ranks changes little between levels).
SEARCH_SCREEN_LEVEL = 6
SEARCH_FINALISTS = 3
#: The brute-force row filter choice is tried on this many of the best screened layouts.
SEARCH_BRUTE_ORDERS = 2


def _searched_layout(
    indices: np.ndarray, palette: np.ndarray, depth: int, level: int, lead: int = 0
):
    """The palette order, bit depth and deflated scanlines of the smallest of several
    layouts.

    Orders: the given one, by luma, by neighbour chain and by spread co-occurrence (with
    the translucent entries kept at the front, and over all entries), each with the
    bridging entry ``lead`` first. Depths: the smallest, and 8 bits where that is smaller
    (one index a byte can deflate better than packed ones, as on dithered gradients). Row
    filters: None, Sub, Up or Paeth on every row, and per-row choices by distinct byte
    pairs and by byte entropy; the best screened layouts also get a brute-force per-row
    choice. Sizes count the tRNS chunk each order needs.
    """
    k = len(palette)
    orders = [
        np.arange(k, dtype=np.intp),
        _luma_order(palette),
        _chain_order(indices, palette),
        _spread_order(indices, palette),
    ]
    if palette.shape[1] == 4 and (palette[:, 3] < 255).any():
        orders.append(_spread_order(indices, palette, translucent_first=False))
    screen = min(level, SEARCH_SCREEN_LEVEL)
    # Filtered rows are image-sized, five to a layout: each layout's are made when needed
    # and dropped after, never all kept at once.
    layouts: list[tuple] = []  # (order, depth, tRNS bytes)

    def filtered_rows(layout: int) -> list[np.ndarray]:
        order, d, _ = layouts[layout]
        rank = np.empty(k, dtype=np.intp)
        rank[order] = np.arange(k)
        rows = _pack_rows(rank[indices].astype(np.uint8), d)
        return [_filtered(rows, f) for f in range(5)]  # each filter once per layout

    candidates: list[tuple] = []  # (size, tie-break, layout, filters)
    screened: list[tuple] = []  # (best screened size, layout)
    for i, order in enumerate(map(_lead_first, orders, [lead] * len(orders))):
        extra = _trns_size(palette[order])
        if extra is None:  # never the given order: _bridging_entry checked that one
            if i:
                continue
            extra = 0
        for d in sorted({depth, 8}):
            layouts.append((order, d, extra))
            filtered = filtered_rows(len(layouts) - 1)
            h = filtered[0].shape[0]
            sizes = []
            for filters in [np.full(h, f, np.uint8) for f in (0, 1, 2, 4)] + [
                _row_bigrams(filtered),
                _row_entropy(filtered),
            ]:
                size = extra + len(
                    deflate.zlib_compress(_scanlines_with(filtered, filters), screen)
                )
                candidates.append((size, len(candidates), len(layouts) - 1, filters))
                sizes.append(size)
            screened.append((min(sizes), len(layouts) - 1))
            del filtered
    plain = candidates[0]  # the given order and depth, filter None: the writer without search
    for _, layout in sorted(screened)[:SEARCH_BRUTE_ORDERS]:
        filtered = filtered_rows(layout)
        filters = _row_brute(filtered)
        size = layouts[layout][2] + len(
            deflate.zlib_compress(_scanlines_with(filtered, filters), screen)
        )
        candidates.append((size, len(candidates), layout, filters))
        del filtered
    candidates.sort(key=lambda c: (c[0], c[1]))
    finalists = candidates[:SEARCH_FINALISTS]
    if not any(c is plain for c in finalists):
        finalists.append(plain)  # so the search never ends larger than no search
    for d in {depth, 8}:  # the screening level misjudges 8 bits against packed indices
        if not any(layouts[c[2]][1] == d for c in finalists):
            finalists.append(next(c for c in candidates if layouts[c[2]][1] == d))
    best: tuple | None = None
    for layout in dict.fromkeys(c[2] for c in finalists):  # each layout's rows made once
        filtered = filtered_rows(layout)
        order, d, extra = layouts[layout]
        for c in finalists:
            if c[2] != layout:
                continue
            idat = deflate.zlib_compress(_scanlines_with(filtered, c[3]), level)
            size = len(idat) + extra
            if best is None or (size, c[1]) < best[0]:
                best = ((size, c[1]), order, d, idat)
        del filtered
    assert best is not None  # finalists always holds the plain layout
    return best[1:]


def _text_chunk(key: str, value: str) -> bytes:
    key_bytes = key.encode("latin-1", "replace")[:79] or b"Comment"
    try:
        return _chunk(b"tEXt", key_bytes + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key_bytes + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
