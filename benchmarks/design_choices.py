#!/usr/bin/env python
"""Re-measure the design choices that palettepress's docstrings justify with numbers.

Each measurement runs on real photos (the Kodak and USC-SIPI sets) and, where a quality
ratio is asked for, against pngquant ``--nofs`` at the same palette size k. They measure
the undithered pipeline (``dither=0``), judged by per-pixel figures; the choices of
the dithered default, judged perceptually, are ``design_perceptual.py``'s:

1. **PNG row filter** (``encode.encode_png`` writes filter None on every row): None, Up
   and Sub on all rows and the per-row "minimum sum of absolute signed differences"
   heuristic, on palettepress's own indices, deflated by zlib 9 and libdeflate at the
   default level.
2. **Deflate implementation and level** (``quantizer.EFFORTS[5]``: libdeflate level 6):
   zlib 6 and 9 against libdeflate 6, 7, 9, 10 and 12, in bytes and time; and palettepress's file
   size against pngquant's.
3. **Oklab lightness weight** (``colorspace.OKLAB_LIGHTNESS_WEIGHT``): CIEDE2000 and PSNR
   of the Oklab fit for weights 1.0 down to 0.4 (the shipped weight is chosen by
   SSIMULACRA2; this shows what it costs in CIEDE2000).
4. **Rounding the Oklab centres** (``colorspace.from_working``): nearest of the eight
   surrounding 8-bit colours in Oklab against plain rounding of the exact sRGB value.
5. **Initial palette and refinement** (``seeding.split_merge`` then ``kmeans.lloyd`` and
   ``kmeans.hartigan``): variance split straight to k, split to 2k and merge back, and
   the Hartigan passes, in MSE, CIEDE2000 and fit time.

Ratios "vs pngquant" are palettepress's value / pngquant's on the same image and k,
summarised by their geometric mean over the images (below 1: palettepress is better or
smaller). The results are written as a Markdown block between the markers
``<!-- design_choices:start -->`` and ``<!-- design_choices:end -->`` of ``--out``
(default ``BENCHMARKS.md``); text outside the markers is left untouched.

pngquant (GPL) is run as an external program only, as a reference.

Examples
--------
    python benchmarks/design_choices.py
    python benchmarks/design_choices.py --quick --out /tmp/design_quick.md
"""

from __future__ import annotations

import argparse
import io
import math
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import deflate
import numpy as np
from PIL import Image

import palettepress
from palettepress import _kernels, encode, kmeans, metrics, quantizer, remap, seeding
from palettepress import colorspace as cs
from palettepress import histogram as H

# The benchmark scripts' shared helpers, beside this file (on sys.path when run as a script).
from _common import environment, geomean, write_block
from _common import fmt as _f, markdown_table as _table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
DEFAULT_OUT = REPO / "BENCHMARKS.md"
#: The block's markers in --out: <!-- design_choices:start --> ... <!-- design_choices:end -->.
BLOCK_NAME = "design_choices"

#: Images of measurements 1-3 (and the summary set of 4): Kodak photos of varied content.
KODAK8 = ("kodak/kodim01", "kodak/kodim03", "kodak/kodim05", "kodak/kodim08",
          "kodak/kodim13", "kodak/kodim15", "kodak/kodim20", "kodak/kodim23")
#: Images shown one by one in measurement 4: smooth ones (02, 20, 4.2.05), where the
#: rounding matters most, and a detailed one (01) where it should not.
ROUNDING_IMAGES = ("kodak/kodim02", "kodak/kodim20", "kodak/kodim01", "sipi/4.2.05")
#: Images of measurement 5, with USC-SIPI photos of many distinct colours (4.2.03
#: Mandrill, 4.2.07 Peppers) where the fit runs on grouped colours as in compress().
INIT_IMAGES = ("kodak/kodim01", "kodak/kodim05", "kodak/kodim09", "kodak/kodim13",
               "kodak/kodim17", "kodak/kodim21", "sipi/4.1.01", "sipi/4.1.05",
               "sipi/4.2.03", "sipi/4.2.07")
FILTER_KS = (16, 64, 256)
WEIGHT_KS = (16, 256)
WEIGHTS = (1.0, 0.7, 0.6, 0.5, 0.4)
INIT_KS = (16, 64, 256)
ZLIB_LEVELS = (6, 9)
LIBDEFLATE_LEVELS = (6, 7, 9, 10, 12)
#: The level compress() deflates at by default.
DEFAULT_LEVEL = quantizer.EFFORTS[5]["deflate"]
DEFAULT = f"libdeflate {DEFAULT_LEVEL}"
FILTERS = ("None", "Up", "Sub", "per-row heuristic")
QUICK_IMAGES = 2
#: PSNR loss (dB) still counted as "the same PSNR" when choosing the lightness weight.
PSNR_TOLERANCE_DB = 0.1
TIMING_REPEAT = 3
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".ppm", ".bmp")


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(msg, file=sys.stderr, flush=True)


# -- environment ---------------------------------------------------------------------


# -- images and the pngquant reference -----------------------------------------------


@dataclass
class Photo:
    """A test image: its pixels (RGB uint8) and, on first use, its colour histogram."""

    name: str
    path: Path
    pixels: np.ndarray
    _hist: H.Histogram | None = field(default=None, repr=False)

    @property
    def hist(self) -> H.Histogram:
        """The exact histogram of the pixels, as ``compress()`` builds it."""
        if self._hist is None:
            self._hist = H.histogram(self.pixels.reshape(-1, 3))
        return self._hist


@dataclass(frozen=True)
class Reference:
    """pngquant's result on one image and k, measured on its decoded file."""

    bytes: int
    mse: float
    psnr: float
    delta_e: float


class Library:
    """The images of the run (loaded once) and pngquant's result on each (run once).

    Parameters
    ----------
    data : Path
        Folder holding the image sets.
    pngquant : str
        The pngquant executable.
    tmp : Path
        Folder for pngquant's output files.
    """

    def __init__(self, data: Path, pngquant: str, tmp: Path):
        self.data = data
        self.pngquant = pngquant
        self.tmp = tmp
        self.missing: set[str] = set()
        self._photos: dict[str, Photo] = {}
        self._refs: dict[tuple[str, int], Reference] = {}

    def _path(self, name: str) -> Path | None:
        for suffix in IMAGE_SUFFIXES:
            p = self.data / f"{name}{suffix}"
            if p.is_file():
                return p
        return None

    def photos(self, names, limit: int | None) -> list[Photo]:
        """The images of ``names`` that exist (the first ``limit`` of them); notes the rest."""
        found = []
        for name in names:
            path = self._path(name)
            if path is None:
                if name not in self.missing:
                    log(f"design_choices: {name} not found under {self.data}; skipped")
                self.missing.add(name)
                continue
            if name not in self._photos:
                with Image.open(path) as im:
                    px = np.ascontiguousarray(np.asarray(im.convert("RGB")))
                self._photos[name] = Photo(name, path, px)
            found.append(self._photos[name])
        return found[:limit]

    def reference(self, photo: Photo, k: int) -> Reference:
        """pngquant ``--nofs`` at k: file size and quality of its decoded output."""
        key = (photo.name, k)
        if key not in self._refs:
            out = self.tmp / f"pq-{photo.name.replace('/', '-')}-{k}.png"
            cmd = [self.pngquant, "--nofs", "--force", "--output", str(out), str(k), str(photo.path)]
            proc = subprocess.run(cmd, capture_output=True, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}: "
                                   f"{proc.stderr.decode(errors='replace').strip()}")
            data = out.read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                decoded = np.asarray(im.convert("RGB"))
            m = metrics.measure(photo.pixels, decoded)
            self._refs[key] = Reference(len(data), m.mse, m.psnr, m.delta_e)
        return self._refs[key]


# -- small helpers -------------------------------------------------------------------


def psnr(mse: float) -> float:
    """PSNR in dB of an MSE summed over RGB per pixel (as :mod:`palettepress.metrics`)."""
    return math.inf if mse <= 0 else 10.0 * math.log10(255.0 ** 2 * 3.0 / mse)


def histogram_quality(hist: H.Histogram, mapped: np.ndarray) -> tuple[float, float]:
    """Weighted MSE and mean CIEDE2000 of the histogram's colours replaced by ``mapped``.

    Every pixel of a colour maps to the same palette entry, so these equal the per-pixel
    figures of the whole image at a fraction of the cost.
    """
    w = hist.counts.astype(np.float64)
    diff = hist.colors8.astype(np.float64) - mapped.astype(np.float64)
    mse = float((w * (diff * diff).sum(axis=1)).sum() / w.sum())
    de = float(_kernels.ciede2000_mean(np.ascontiguousarray(hist.colors8),
                                       np.ascontiguousarray(mapped), w))
    return mse, de


def best_time(fn, repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls of ``fn`` (the least disturbed run)."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _pct(ratio: float) -> str:
    """A ratio as a signed percentage change (0.99 -> -1.0%)."""
    return "n/a" if math.isnan(ratio) else f"{(ratio - 1) * 100:+.1f}%"


def _names(photos: list[Photo]) -> str:
    return ", ".join(p.name.split("/")[-1] for p in photos)


# -- 1. PNG row filters --------------------------------------------------------------


def filter_rows(rows: np.ndarray, method: str) -> np.ndarray:
    """PNG scanlines (filter-type byte + filtered bytes) of packed rows, bytes-per-pixel 1.

    Parameters
    ----------
    rows : ndarray, uint8 (h, n)
        Packed index rows as the PNG stores them before filtering.
    method : str
        One of :data:`FILTERS`; the heuristic picks, per row, the filter among None, Sub,
        Up, Average and Paeth whose output has the smallest sum of absolute values read
        as signed bytes (the PNG specification's suggestion, libpng's default).

    Returns
    -------
    ndarray, uint8 (h, n + 1)
    """
    x = rows.astype(np.int16)
    a = np.zeros_like(x)
    a[:, 1:] = x[:, :-1]
    b = np.zeros_like(x)
    b[1:] = x[:-1]
    c = np.zeros_like(x)
    c[1:, 1:] = x[:-1, :-1]
    # Filter arithmetic is modulo 256; int16 holds every intermediate value exactly.
    candidates = {0: x, 1: x - a, 2: x - b}
    if method == "per-row heuristic":
        candidates[3] = x - (a + b) // 2
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        candidates[4] = x - pred
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    if method == "per-row heuristic":
        stack = np.stack([candidates[t] & 0xFF for t in range(5)])
        signed = np.where(stack < 128, stack, 256 - stack)
        choice = np.argmin(signed.sum(axis=2), axis=0)
        out[:, 0] = choice
        out[:, 1:] = stack[choice, np.arange(rows.shape[0])]
    else:
        t = {"None": 0, "Sub": 1, "Up": 2}[method]
        out[:, 0] = t
        out[:, 1:] = candidates[t] & 0xFF
    return out


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decodes_to(scanlines: np.ndarray, indices: np.ndarray, palette: np.ndarray, depth: int) -> bool:
    """True when a PNG built from ``scanlines`` decodes (with Pillow) to ``indices``.

    Guards the hand-written filters: a wrong filter would deflate to a size that means
    nothing.
    """
    h, w = indices.shape
    png = (b"\x89PNG\r\n\x1a\n"
           + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0))
           + _png_chunk(b"PLTE", palette[:, :3].tobytes())
           + _png_chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 1))
           + _png_chunk(b"IEND", b""))
    with Image.open(io.BytesIO(png)) as im:
        return np.array_equal(np.asarray(im), indices)


@dataclass
class Encoded:
    """palettepress's output for one image and k, and its unfiltered scanlines."""

    photo: Photo
    k: int
    result: object
    scanlines: bytes


def measure_filters(lib: Library, photos: list[Photo], problems: list[str]
                    ) -> tuple[list[str], list[Encoded]]:
    """Measurement 1; also returns the encoded images for measurement 2."""
    deflaters = {"zlib 9": lambda b: zlib.compress(b, 9),
                 DEFAULT: lambda b: deflate.zlib_compress(b, DEFAULT_LEVEL)}
    sizes = {}  # (deflater, method, name, k) -> bytes
    encoded = []
    for photo in photos:
        for k in FILTER_KS:
            result = palettepress.compress(str(photo.path), k, dither=0)
            depth = encode.bit_depth(len(result.palette))
            rows = encode._pack_rows(result.indices, depth)
            for method in FILTERS:
                lines = filter_rows(rows, method)
                if not decodes_to(lines, result.indices, result.palette, depth):
                    raise RuntimeError(f"filter {method} on {photo.name} k={k} does not round-trip")
                data = lines.tobytes()
                for dname, fn in deflaters.items():
                    sizes[dname, method, photo.name, k] = len(fn(data))
                if method == "None":
                    encoded.append(Encoded(photo, k, result, data))
                    # The same stream must be the file's IDAT, or this is not measuring
                    # what encode_png writes.
                    if deflate.zlib_compress(data, DEFAULT_LEVEL) not in result.data:
                        problems.append(f"{photo.name} k={k}: unfiltered {DEFAULT} stream is "
                                        "not the IDAT of compress().data")
            best = {d: min(FILTERS, key=lambda m: sizes[d, m, photo.name, k]) for d in deflaters}
            log(f"  filters {photo.name} k={k}: smallest " +
                ", ".join(f"{d}: {m}" for d, m in best.items()))

    cases = [(p.name, k) for p in photos for k in FILTER_KS]
    rows = []
    wins = {}
    for dname in deflaters:
        for method in FILTERS:
            won = 0
            for case in cases:
                smallest = min(sizes[(dname, m) + case] for m in FILTERS)
                # A tie counts as a win for every method that reaches the minimum.
                won += sizes[(dname, method) + case] == smallest
            wins[dname, method] = won
            per_k = [sum(sizes[dname, method, p.name, k] for p in photos) for k in FILTER_KS]
            total = sum(per_k)
            base = sum(sizes[(dname, "None") + case] for case in cases)
            rows.append([dname, method, *(f"{v:,}" for v in per_k), f"{total:,}",
                         _f(total / base, 3), f"{won} / {len(cases)}"])
    lines = ["### 1. PNG row filter", "",
             f"palettepress's own indices (`compress(path, k, dither=0)`) of {len(photos)} Kodak images "
             f"({_names(photos)}) at k = {', '.join(map(str, FILTER_KS))}, packed at the "
             "file's bit depth and filtered in numpy with bytes-per-pixel 1; every filtered "
             "stream is checked to decode back to the indices. Bytes are the deflated "
             "scanlines summed over the images; \"wins\" counts the image and k cases where "
             "the method gives the smallest stream (ties count for each).", ""]
    lines += _table(["deflate", "filter", *(f"bytes k={k}" for k in FILTER_KS), "bytes total",
                     "vs None", "wins"], rows, "ll" + "r" * (len(FILTER_KS) + 3))
    none_wins = {d: wins[d, "None"] for d in deflaters}
    others = [(d, m) for d in deflaters for m in FILTERS if m != "None" and wins[d, m] > 0]
    lines += ["", "What it shows: whether prediction from neighbouring pixels helps deflate "
              "on palette indices, where neighbouring index values are arbitrary labels.", ""]
    if not others:
        verdict = (f"None gives the smallest stream in every case ({len(cases)} of "
                   f"{len(cases)} with both zlib 9 and {DEFAULT}): writing filter None on "
                   "every row is right.")
    else:
        verdict = ("None wins " + ", ".join(f"{n} of {len(cases)} cases with {d}"
                                             for d, n in none_wins.items())
                   + "; other winners: " + ", ".join(f"{m} ({wins[d, m]} with {d})" for d, m in others)
                   + ". Compare the totals before changing the filter.")
    lines += [f"Conclusion: {verdict}", ""]
    return lines, encoded


# -- 2. deflate implementation and level ---------------------------------------------


def measure_deflate(lib: Library, encoded: list[Encoded], repeat: int) -> list[str]:
    """Measurement 2, on the unfiltered scanlines of measurement 1."""
    configs = [(f"zlib {lv}", lambda b, lv=lv: zlib.compress(b, lv)) for lv in ZLIB_LEVELS]
    configs += [(f"libdeflate {lv}", lambda b, lv=lv: deflate.zlib_compress(b, lv))
                for lv in LIBDEFLATE_LEVELS]
    sizes = {}
    times = {}
    for e in encoded:
        for name, fn in configs:
            sizes[name, e.photo.name, e.k] = len(fn(e.scanlines))
            times[name, e.photo.name, e.k] = best_time(lambda: fn(e.scanlines), repeat)
        log(f"  deflate {e.photo.name} k={e.k}: " +
            " ".join(f"{n.replace('libdeflate ', 'ld').replace('zlib ', 'z')}="
                     f"{sizes[n, e.photo.name, e.k]}" for n, _ in configs))
    photos = list(dict.fromkeys(e.photo.name for e in encoded))
    cases = [(e.photo.name, e.k) for e in encoded]
    base = sum(sizes[("zlib 9",) + c] for c in cases)
    rows = []
    for name, _ in configs:
        per_k = [sum(sizes[name, p, k] for p in photos) for k in FILTER_KS]
        total = sum(per_k)
        ms = statistics.median(times[(name,) + c] for c in cases) * 1000
        rows.append([name, *(f"{v:,}" for v in per_k), f"{total:,}", _f(total / base, 3), _f(ms, 1)])
    lines = ["### 2. Deflate implementation and level", "",
             "The unfiltered scanlines of measurement 1 (same images and k), deflated to a "
             "zlib stream. Time: best of "
             f"{repeat} run{'s' if repeat != 1 else ''} per image and k, median over the "
             f"{len(cases)} cases.", ""]
    lines += _table(["deflate", *(f"bytes k={k}" for k in FILTER_KS), "bytes total", "vs zlib 9",
                     "median ms per image"], rows)

    # The product comparison: the file compress() writes (its default level,
    # sRGB chunk included) against pngquant's file.
    ratio_rows = []
    per_case = {}
    for e in encoded:
        per_case[e.photo.name, e.k] = len(e.result.data) / lib.reference(e.photo, e.k).bytes
    for k in [*FILTER_KS, None]:
        vals = [v for (n, kk), v in per_case.items() if k is None or kk == k]
        pp = sum(len(e.result.data) for e in encoded if k is None or e.k == k)
        pq = sum(lib.reference(e.photo, e.k).bytes for e in encoded if k is None or e.k == k)
        ratio_rows.append(["all" if k is None else str(k), f"{pp:,}", f"{pq:,}", _f(geomean(vals), 3),
                           _f(max(vals), 3)])
    lines += ["", f"File size of `compress(path, k, dither=0)` ({DEFAULT}, the default) against "
              "`pngquant --nofs` on the same images:", ""]
    lines += _table(["k", "palettepress bytes", "pngquant bytes", "ratio (geometric mean)",
                     "largest ratio"], ratio_rows)

    by_name = {r[0]: r for r in rows}
    total = {name: sum(sizes[(name,) + c] for c in cases) for name, _ in configs}
    med = {name: statistics.median(times[(name,) + c] for c in cases) for name, _ in configs}
    smallest_fast = min((n for n, _ in configs if med[n] <= med[DEFAULT]), key=lambda n: total[n])
    alt = "libdeflate 7" if DEFAULT != "libdeflate 7" else "libdeflate 6"
    lines += ["", "What it shows: how much size each deflate level buys and at what cost, "
              "on the streams palettepress writes.", "",
              f"Conclusion: {DEFAULT} (the default) gives {_f(total[DEFAULT] / base, 3)} times "
              f"zlib 9's bytes in {_f(med[DEFAULT] / med['zlib 9'], 2)} of its time ({alt}: "
              f"{by_name[alt][-2]} times the bytes in {_f(med[alt] / med['zlib 9'], 2)} of the "
              f"time); libdeflate 10 and 12 change the bytes by "
              f"{_pct(total['libdeflate 10'] / total[DEFAULT])} and "
              f"{_pct(total['libdeflate 12'] / total[DEFAULT])} against {DEFAULT} at "
              f"{_f(med['libdeflate 10'] / med[DEFAULT], 1)}x and "
              f"{_f(med['libdeflate 12'] / med[DEFAULT], 1)}x its time. Smallest total at no "
              f"more than {DEFAULT}'s time: {smallest_fast}. The files are "
              f"{_f(geomean(per_case.values()), 3)} of pngquant's size (geometric mean).", ""]
    return lines


# -- fitting -------------------------------------------------------------------------


@dataclass
class Fit:
    """A palette fitted to a histogram, in working coordinates."""

    x: np.ndarray          # working coordinates of every histogram colour
    centres: np.ndarray    # (k, d) float32
    labels: np.ndarray     # cluster of every histogram colour
    sse: float             # weighted SSE in working coordinates at the end of the fit


def fit_oklab(hist: H.Histogram, k: int) -> Fit:
    """The default Oklab fit under the current ``OKLAB_LIGHTNESS_WEIGHT``.

    split_merge, Lloyd (tol 1e-3), 3 Hartigan passes, as ``compress()`` runs them on
    images of up to ``quantizer.FIT_MAX_POINTS`` colours.
    """
    w = hist.counts.astype(np.float64)
    x = cs.to_working(hist.colors8, "oklab")
    c, lab = seeding.split_merge(x, w, k, hist.colors8)
    c, lab, _, _ = kmeans.lloyd(x, w, c, lab, max_iter=100, tol=1e-3)
    c, lab, _, sse = kmeans.hartigan(x, w, c, lab, passes=3)
    return Fit(x, c, lab, sse)


def map_palette(fit: Fit, palette: np.ndarray, space: str) -> np.ndarray:
    """Each histogram colour's palette colour (nearest in working coordinates)."""
    idx = remap.nearest(fit.x, cs.to_working(palette, space), fit.labels)
    return palette[idx]


# -- 3. Oklab lightness weight -------------------------------------------------------


def measure_lightness(lib: Library, photos: list[Photo], problems: list[str],
                      compressed: dict) -> tuple[list[str], dict]:
    """Measurement 3; returns the fits at the shipped weight for measurement 4."""
    shipped = cs.OKLAB_LIGHTNESS_WEIGHT
    weights = list(WEIGHTS) if shipped in WEIGHTS else [*WEIGHTS, shipped]
    de_ratio, psnr_db = {}, {}
    fits = {}
    try:
        for weight in weights:
            cs.OKLAB_LIGHTNESS_WEIGHT = weight
            for photo in photos:
                for k in WEIGHT_KS:
                    fit = fit_oklab(photo.hist, k)
                    pal = cs.from_working(fit.centres, "oklab")
                    mse, de = histogram_quality(photo.hist, map_palette(fit, pal, "oklab"))
                    ref = lib.reference(photo, k)
                    de_ratio[weight, photo.name, k] = de / ref.delta_e
                    psnr_db[weight, photo.name, k] = psnr(mse)
                    if weight == shipped:
                        fits[photo.name, k] = fit
                        # At the shipped weight this pipeline must be compress()'s.
                        res = compressed.get((photo.name, k))
                        if res is not None and abs(res.delta_e - de) > 1e-6 * de:
                            problems.append(f"{photo.name} k={k}: weight {weight} fit gives "
                                            f"CIEDE2000 {de:.6f}, compress() {res.delta_e:.6f}")
                    log(f"  weight {weight} {photo.name} k={k}: dE ratio "
                        f"{de_ratio[weight, photo.name, k]:.3f}, PSNR {psnr(mse):.2f} dB")
    finally:
        cs.OKLAB_LIGHTNESS_WEIGHT = shipped

    summary = {}
    rows = []
    for weight in weights:
        row = [f"{weight:.1f}" + (" (shipped)" if weight == shipped else "")]
        for k in WEIGHT_KS:
            ratios = {p.name: de_ratio[weight, p.name, k] for p in photos}
            worst = max(ratios, key=ratios.get)
            g = geomean(ratios.values())
            m = statistics.fmean(psnr_db[weight, p.name, k] for p in photos)
            summary[weight, k] = (g, m)
            row += [_f(g, 3), f"{_f(ratios[worst], 3)} ({worst.split('/')[-1]})", _f(m, 2)]
        rows.append(row)
    pq_row = ["pngquant --nofs"]
    for k in WEIGHT_KS:
        pq_row += ["—", "—", _f(statistics.fmean(lib.reference(p, k).psnr for p in photos), 2)]
    rows.append(pq_row)
    header = ["L weight"]
    for k in WEIGHT_KS:
        header += [f"CIEDE2000 ratio k={k}", f"worst ratio k={k}", f"mean PSNR dB k={k}"]
    lines = ["### 3. Oklab lightness weight", "",
             f"{len(photos)} Kodak images ({_names(photos)}). For each weight on Oklab L: "
             "histogram, `to_working(colors8, \"oklab\")`, `split_merge`, `lloyd` (tol 1e-3), "
             "`hartigan` (3 passes), `from_working`, nearest palette entry; CIEDE2000 and "
             "PSNR (`10 log10(255² · 3 / MSE)`) over all pixels. Ratios are palettepress / "
             "pngquant per image (geometric mean; worst: the largest single-image ratio).", ""]
    lines += _table(header, rows)
    ks = " / ".join(str(k) for k in WEIGHT_KS)
    lines += ["", "What it shows: how weighting lightness down in the clustering trades "
              "CIEDE2000 (which forgives lightness errors) against PSNR.", ""]

    def describe(w: float) -> str:
        return (f"{w:.1f} (CIEDE2000 ratio " + " / ".join(_f(summary[w, k][0], 3) for k in WEIGHT_KS)
                + ", PSNR " + " / ".join(f"{summary[w, k][1] - summary[1.0, k][1]:+.2f}"
                                          for k in WEIGHT_KS) + " dB against weight 1.0)")

    # The rule the shipped value was chosen by: the lowest CIEDE2000 among the weights
    # that keep the mean PSNR of weight 1.0 (within PSNR_TOLERANCE_DB at every k).
    keeps = [w for w in weights
             if all(summary[w, k][1] >= summary[1.0, k][1] - PSNR_TOLERANCE_DB for k in WEIGHT_KS)]
    best = min(keeps, key=lambda w: geomean(summary[w, k][0] for k in WEIGHT_KS))
    verdict = ("the shipped weight is that choice." if best == shipped
               else f"the shipped weight is {describe(shipped)}, chosen for SSIMULACRA2 "
                    "(design measurements: what people see).")
    lines += [f"Conclusion (k = {ks}): of the weights whose mean PSNR stays within "
              f"{PSNR_TOLERANCE_DB} dB of weight 1.0's, the lowest CIEDE2000 comes with "
              f"{describe(best)}; {verdict}", ""]
    return lines, fits


# -- 4. rounding the Oklab centres ---------------------------------------------------


def rounded_srgb(centres: np.ndarray) -> np.ndarray:
    """Plain rounding of each Oklab centre's exact sRGB value (the alternative measured)."""
    lab = np.array(centres[:, :3], dtype=np.float64)
    lab[:, 0] /= cs.OKLAB_LIGHTNESS_WEIGHT
    return np.clip(np.rint(cs.oklab_to_srgb(lab)), 0, 255).astype(np.uint8)


def measure_rounding(lib: Library, named: list[Photo], group: list[Photo], fits: dict) -> list[str]:
    """Measurement 4, reusing the fits of measurement 3 where it made them."""
    ratio = {}  # (method, name, k) -> CIEDE2000 ratio vs pngquant
    photos = {p.name: p for p in [*named, *group]}
    for photo in photos.values():
        for k in WEIGHT_KS:
            fit = fits.get((photo.name, k)) or fit_oklab(photo.hist, k)
            ref = lib.reference(photo, k)
            for method, pal in (("rint", rounded_srgb(fit.centres)),
                                ("nearest of 8", cs.from_working(fit.centres, "oklab"))):
                _, de = histogram_quality(photo.hist, map_palette(fit, pal, "oklab"))
                ratio[method, photo.name, k] = de / ref.delta_e
            log(f"  rounding {photo.name} k={k}: dE ratio rint {ratio['rint', photo.name, k]:.3f}, "
                f"nearest of 8 {ratio['nearest of 8', photo.name, k]:.3f}")

    def row(label: str, names: list[str]) -> list[str]:
        cells = [label]
        for k in WEIGHT_KS:
            r = geomean(ratio["rint", n, k] for n in names)
            n8 = geomean(ratio["nearest of 8", n, k] for n in names)
            cells += [_f(r, 3), _f(n8, 3), _pct(n8 / r)]
        return cells

    rows = [row(p.name, [p.name]) for p in named]
    if group:
        rows.append(row(f"{len(group)} Kodak images of measurement 3 (geometric mean)",
                        [p.name for p in group]))
    header = ["image"]
    for k in WEIGHT_KS:
        header += [f"rint k={k}", f"nearest of 8 k={k}", f"change k={k}"]
    lines = ["### 4. Rounding the Oklab centres", "",
             "The same Oklab fit (lightness weight "
             f"{cs.OKLAB_LIGHTNESS_WEIGHT:g}) turned into 8-bit palette colours two ways: "
             "`rint` rounds the centre's exact sRGB value "
             "(`clip(rint(oklab_to_srgb(lab)))`); `nearest of 8` is `from_working`, the "
             "closest in Oklab of the 8 colours around it. Then every colour goes to its "
             "nearest palette entry. Cells: CIEDE2000 ratio vs pngquant; change: nearest of "
             "8 against rint.", ""]
    lines += _table(header, rows)
    smooth = [p.name for p in named if p.name != "kodak/kodim01"]
    lines += ["", "What it shows: whether choosing among the neighbouring 8-bit colours in "
              "Oklab beats plain rounding, most visibly on smooth images at k = 256 where the "
              "mean CIEDE2000 is small.", ""]
    ks = " / ".join(str(k) for k in WEIGHT_KS)
    concl = []
    if group:
        g = [p.name for p in group]
        concl.append(" / ".join(_pct(geomean(ratio["nearest of 8", n, k] / ratio["rint", n, k]
                                              for n in g)) for k in WEIGHT_KS)
                     + f" on the {len(g)} Kodak images (geometric mean)")
    for n in smooth:
        concl.append(" / ".join(_pct(ratio["nearest of 8", n, k] / ratio["rint", n, k])
                                for k in WEIGHT_KS) + f" on {n.split('/')[-1]}")
    lines += [f"Conclusion: against plain rounding, nearest of 8 changes the mean CIEDE2000 "
              f"(k = {ks}) by " + "; ".join(concl) + ".", ""]
    return lines


# -- 5. initial palette and refinement -----------------------------------------------


CONFIGS = ("(a) variance split + Lloyd", "(b) split/merge + Lloyd",
           "(c) split/merge + Lloyd + Hartigan")


def _fit_points(hist: H.Histogram, x: np.ndarray, w: np.ndarray):
    """Points, weights, 8-bit colours and grouping of the fit, as ``Quantizer._cluster``.

    Above ``quantizer.FIT_MAX_POINTS`` colours the fit runs on the weighted means of
    groups of near-equal colours; ``group`` maps every colour to its group (else None).
    """
    if len(x) <= quantizer.FIT_MAX_POINTS:
        return x, w, hist.colors8, None
    group, m = H.group_colors(hist.colors8, w.astype(np.uint64), quantizer.FIT_MAX_POINTS)
    wg = np.bincount(group, weights=w, minlength=m)
    xg = np.stack([np.bincount(group, weights=w * x[:, q], minlength=m)
                   for q in range(x.shape[1])], axis=1) / wg[:, None]
    return xg.astype(np.float32), wg, None, group


def measure_init(lib: Library, photos: list[Photo], repeat: int) -> list[str]:
    """Measurement 5; fit times are the best of ``repeat`` runs (the fits are deterministic)."""
    quality, objective, seconds = {}, {}, {}  # (config, space, name, k)
    for photo in photos:
        hist = photo.hist
        w = hist.counts.astype(np.float64)
        for space in ("rgb", "oklab"):
            x = cs.to_working(hist.colors8, space)
            xf, wf, cf, group = _fit_points(hist, x, w)
            for k in INIT_KS:
                best = [math.inf] * 3
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    c, lab = seeding.variance_split(xf, wf, k, cf)
                    ca, la, _, sa = kmeans.lloyd(xf, wf, c, lab, max_iter=100, tol=1e-3)
                    t1 = time.perf_counter()
                    c, lab = seeding.split_merge(xf, wf, k, cf)
                    cb, lb, _, sb = kmeans.lloyd(xf, wf, c, lab, max_iter=100, tol=1e-3)
                    t2 = time.perf_counter()
                    cc, lc, _, sc = kmeans.hartigan(xf, wf, cb, lb, passes=3)
                    t3 = time.perf_counter()
                    best = [min(best[0], t1 - t0), min(best[1], t2 - t1), min(best[2], t3 - t1)]
                ref = lib.reference(photo, k)
                for config, centres, labels, sse, secs in (
                        (CONFIGS[0], ca, la, sa, best[0]), (CONFIGS[1], cb, lb, sb, best[1]),
                        (CONFIGS[2], cc, lc, sc, best[2])):
                    pal = cs.from_working(centres, space)
                    fit = Fit(x, centres, labels if group is None else labels[group], sse)
                    mse, de = histogram_quality(hist, map_palette(fit, pal, space))
                    key = (config, space, photo.name, k)
                    quality[key] = mse / ref.mse if space == "rgb" else de / ref.delta_e
                    objective[key] = sse
                    seconds[key] = secs
                log(f"  init {photo.name} {space} k={k}: ratio vs pngquant "
                    + " / ".join(f"{quality[cf_, space, photo.name, k]:.3f}" for cf_ in CONFIGS)
                    + "; fit ms " + " / ".join(f"{seconds[cf_, space, photo.name, k] * 1e3:.0f}"
                                              for cf_ in CONFIGS))

    names = [p.name for p in photos]
    rows = []
    for config in CONFIGS:
        row = [config]
        for k in [*INIT_KS, None]:
            ks = INIT_KS if k is None else (k,)
            for space in ("rgb", "oklab"):
                row.append(_f(geomean(quality[config, space, n, kk] for n in names for kk in ks), 3))
        rows.append(row)
    header = ["config"]
    for k in INIT_KS:
        header += [f"MSE ratio k={k} (rgb)", f"CIEDE2000 ratio k={k} (oklab)"]
    header += ["MSE ratio all k (rgb)", "CIEDE2000 ratio all k (oklab)"]

    time_rows = []
    for config in CONFIGS:
        row = [config]
        for space in ("rgb", "oklab"):
            row.append(" / ".join(_f(statistics.median(seconds[config, space, n, k] for n in names)
                                     * 1e3, 1) for k in INIT_KS))
        time_rows.append(row)

    step_rows = []
    for label, before, after in (("(b) against (a)", CONFIGS[0], CONFIGS[1]),
                                 ("(c) against (b)", CONFIGS[1], CONFIGS[2])):
        row = [label]
        for table, space in ((quality, "rgb"), (objective, "oklab"), (quality, "oklab")):
            row.append(" / ".join(_pct(geomean(table[after, space, n, k] / table[before, space, n, k]
                                               for n in names)) for k in INIT_KS))
        row.append(" / ".join(
            _f(statistics.median((seconds[after, s, n, k] - seconds[before, s, n, k]) * 1e3
                                 for n in names for s in ("rgb", "oklab")), 1) for k in INIT_KS))
        step_rows.append(row)

    kk = " / ".join(map(str, INIT_KS))
    lines = ["### 5. Initial palette and refinement", "",
             f"{len(photos)} images ({', '.join(names)}), k = {', '.join(map(str, INIT_KS))}, "
             "in both working spaces: (a) `variance_split` straight to k, (b) `split_merge` "
             "(split to 2k, Ward merges back to k), each followed by `lloyd` (tol 1e-3); "
             "(c) is (b) followed by `hartigan` (3 passes). As in `compress()`, images with "
             f"more than {quantizer.FIT_MAX_POINTS:,} distinct colours are fitted on groups "
             "of near-equal colours. Palettes are rounded by `from_working` and every colour "
             "goes to its nearest entry. Quality: MSE ratio vs pngquant in `rgb` space, "
             "CIEDE2000 ratio vs pngquant in `oklab` space (geometric means over images).", ""]
    lines += _table(header, rows)
    lines += ["", f"Median fit time in ms (seeding + Lloyd + Hartigan; best of {repeat} "
              f"run{'s' if repeat != 1 else ''} per image), k = {kk}:", ""]
    lines += _table(["config", "rgb", "oklab"], time_rows)
    lines += ["", f"Each step's effect, k = {kk} (geometric mean of per-image ratios; the "
              "Oklab SSE is the fit's own objective in working coordinates; time: median change "
              "over images and both spaces):", ""]
    lines += _table(["step", "RGB MSE", "Oklab SSE", "CIEDE2000", "time change ms"], step_rows)
    lines += ["", "What it shows: whether cutting to 2k and merging back, and Hartigan's "
              "point moves after Lloyd, lower the error enough to pay for their time.", ""]
    lines += [f"Conclusion: splitting to 2k and merging changes RGB MSE by {step_rows[0][1]}, "
              f"the Oklab SSE by {step_rows[0][2]} and CIEDE2000 by {step_rows[0][3]} "
              f"(k = {kk}), changing the fit time by {step_rows[0][4]} ms; Hartigan then "
              f"changes them by {step_rows[1][1]}, {step_rows[1][2]} and {step_rows[1][3]} "
              f"for {step_rows[1][4]} ms more.", ""]
    return lines


# -- Markdown ------------------------------------------------------------------------


def render(env: dict, sections: list[list[str]], problems: list[str], missing: set[str],
           quick: bool, seconds: float) -> str:
    """The Markdown block (without the markers)."""
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    where = "" if Path(env["cwd"]) == REPO else f" in `{env['cwd']}`"
    lines = ["## Design measurements", "",
             "Generated by `benchmarks/design_choices.py`; do not edit this block by hand, "
             "rerun the script (see `benchmarks/README.md`). Each section re-measures a "
             "choice that a docstring of the package justifies with numbers.", ""]
    if quick:
        lines += [f"**Quick run** ({QUICK_IMAGES} images per measurement, timing best of 1): "
                  "a smoke test, not representative.", ""]
    lines += [
        f"- Command: `{env['command']}`{where}",
        f"- Date: {env['date']}; run time {seconds:.0f} s",
        f"- Machine: {env['cpu']}, {env['cpu_count']} logical CPUs, {env['platform']}",
        f"- Software: {env['python']}, numpy {env['numpy']}, Pillow {env['pillow']}, "
        f"palettepress {env['palettepress']}{rev} ({env['threads']} OpenMP threads), "
        f"deflate (libdeflate) {env['deflate']}, zlib {env['zlib']}, pngquant {env['pngquant']}",
        "- Reference: `pngquant --nofs --force --output OUT K INPUT`, its file decoded with "
        "Pillow and measured by `palettepress.metrics.measure`. palettepress's figures are "
        "computed on the colour histogram (each colour weighted by its pixel count), which "
        "equals the per-pixel figures. MSE is summed over RGB per pixel.",
        "",
    ]
    if missing:
        lines += ["Images not found (left out): " + ", ".join(sorted(missing)), ""]
    for section in sections:
        lines += section
    if problems:
        lines += ["### Problems", "", *(f"- {p}" for p in problems), ""]
    return "\n".join(lines).rstrip() + "\n"


# -- command line --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The script's argument parser."""
    p = argparse.ArgumentParser(
        description="Re-measure palettepress's design choices (row filter, deflate level, "
                    "Oklab lightness weight, rounding, initial palette) on real photos and "
                    "write the results to a Markdown file.")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"folder holding kodak/ and sipi/ (default: {DEFAULT_DATA})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="Markdown file whose design_choices block is (re)written "
                        "(default: BENCHMARKS.md at the repository root)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK_IMAGES} images per measurement, timing best of 1")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run every measurement; returns 0, or 1 when a consistency check failed."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"design_choices: test images not found at {args.data} (use --data)")
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        sys.exit("design_choices: pngquant not found on PATH; install it with "
                 "`apt-get install pngquant` (it is the reference)")
    started = time.perf_counter()
    env = environment([sys.argv[0], *argv], pngquant,
                      deflate=getattr(deflate, "__version__", "unknown"), zlib=zlib.ZLIB_RUNTIME_VERSION)
    limit = QUICK_IMAGES if args.quick else None
    repeat = 1 if args.quick else TIMING_REPEAT
    problems: list[str] = []
    sections = []
    log(f"design_choices: palettepress {env['palettepress']}, {env['pngquant']}, "
        f"data {args.data}{' (quick)' if args.quick else ''}")

    with tempfile.TemporaryDirectory(prefix="design_choices-") as tmpdir:
        lib = Library(args.data, pngquant, Path(tmpdir))
        kodak8 = lib.photos(KODAK8, limit)
        named = lib.photos(ROUNDING_IMAGES, limit)
        init_photos = lib.photos(INIT_IMAGES, limit)
        # The first calls of a process pay for first-touch allocations and thread start-up,
        # which would otherwise land in the first timed case.
        if kodak8:
            palettepress.compress(str(kodak8[0].path), 16, dither=0)

        fits = {}
        if kodak8:
            log("1. PNG row filter")
            lines, encoded = measure_filters(lib, kodak8, problems)
            sections.append(lines)
            log("2. Deflate implementation and level")
            sections.append(measure_deflate(lib, encoded, repeat))
            log("3. Oklab lightness weight")
            compressed = {(e.photo.name, e.k): e.result for e in encoded}
            lines, fits = measure_lightness(lib, kodak8, problems, compressed)
            sections.append(lines)
        else:
            sections.append(["Measurements 1-3 skipped: none of their Kodak images was found.", ""])
        if named or kodak8:
            log("4. Rounding the Oklab centres")
            sections.append(measure_rounding(lib, named, kodak8, fits))
        if init_photos:
            log("5. Initial palette and refinement")
            sections.append(measure_init(lib, init_photos, repeat))
        missing = lib.missing

    elapsed = time.perf_counter() - started
    write_block(args.out, BLOCK_NAME, render(env, sections, problems, missing, args.quick, elapsed))
    log(f"design_choices: wrote {args.out} in {elapsed:.0f} s")
    for p in problems:
        log(f"  PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
