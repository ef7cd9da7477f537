#!/usr/bin/env python
"""Re-measure the PNG encoding choices that palettepress's docstrings justify with numbers.

Each measurement runs on real photos (Kodak) and, where a size ratio is asked for,
against pngquant ``--nofs`` at the same palette size k. They measure the undithered
pipeline (``dither=0``); the row filter on the dithered default's indices is
``design_perceptual.py``'s, and the palette fit's choices are ``design_fit.py``'s:

1. **PNG row filter** (``encode.encode_png`` writes filter None on every row): None, Up
   and Sub on all rows and the per-row "minimum sum of absolute signed differences"
   heuristic, on palettepress's own indices, deflated by zlib 9 and libdeflate at the
   default level.
2. **Deflate implementation and level** (``effort.EFFORTS[5]``: libdeflate level 6):
   zlib 6 and 9 against libdeflate 6, 7, 9, 10 and 12, in bytes and time; and palettepress's file
   size against pngquant's.

Ratios "vs pngquant" are palettepress's value / pngquant's on the same image and k,
summarised by their geometric mean over the images (below 1: palettepress is
smaller). The results are written as a Markdown block between the markers
``<!-- design_encoding:start -->`` and ``<!-- design_encoding:end -->`` of ``--out``
(default ``BENCHMARKS.md``); text outside the markers is left untouched.

pngquant (GPL) is run as an external program only, as a reference.

Examples
--------
    python benchmarks/design_encoding.py
    python benchmarks/design_encoding.py --quick --out /tmp/design_encoding.md
"""

from __future__ import annotations

import statistics
import sys
import zlib
from dataclasses import dataclass

import deflate

import palettepress
from palettepress import encode
from palettepress.effort import EFFORTS

# The benchmark scripts' shared helpers, beside this file (on sys.path when run as a script).
from _common import geomean
from _common import fmt as _f, markdown_table as _table
from _design import (FILTERS, KODAK8, Library, Photo, best_time, decodes_to, filter_rows, log,
                     pct, run, short_names)

#: The block's markers in --out: <!-- design_encoding:start --> ... <!-- design_encoding:end -->.
BLOCK_NAME = "design_encoding"
FILTER_KS = (16, 64, 256)
ZLIB_LEVELS = (6, 9)
LIBDEFLATE_LEVELS = (6, 7, 9, 10, 12)
#: The level compress() deflates at by default.
DEFAULT_LEVEL = EFFORTS[5]["deflate"]
DEFAULT = f"libdeflate {DEFAULT_LEVEL}"


# -- 1. PNG row filters --------------------------------------------------------------


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
             f"({short_names(photos)}) at k = {', '.join(map(str, FILTER_KS))}, packed at the "
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
              f"{pct(total['libdeflate 10'] / total[DEFAULT])} and "
              f"{pct(total['libdeflate 12'] / total[DEFAULT])} against {DEFAULT} at "
              f"{_f(med['libdeflate 10'] / med[DEFAULT], 1)}x and "
              f"{_f(med['libdeflate 12'] / med[DEFAULT], 1)}x its time. Smallest total at no "
              f"more than {DEFAULT}'s time: {smallest_fast}. The files are "
              f"{_f(geomean(per_case.values()), 3)} of pngquant's size (geometric mean).", ""]
    return lines


# -- command line --------------------------------------------------------------------


def measure(lib: Library, limit: int | None, repeat: int, problems: list[str]) -> list[list[str]]:
    """Measurements 1 and 2: the sections of the block."""
    kodak8 = lib.photos(KODAK8, limit)
    if not kodak8:
        return [["Measurements 1-2 skipped: none of their Kodak images was found.", ""]]
    # The first calls of a process pay for first-touch allocations and thread start-up,
    # which would otherwise land in the first timed case.
    palettepress.compress(str(kodak8[0].path), 16, dither=0)
    log("1. PNG row filter")
    lines, encoded = measure_filters(lib, kodak8, problems)
    log("2. Deflate implementation and level")
    return [lines, measure_deflate(lib, encoded, repeat)]


def main(argv: list[str] | None = None) -> int:
    """Run measurements 1 and 2; returns 0, or 1 when a consistency check failed."""
    return run("design_encoding", BLOCK_NAME, "Design measurements: PNG encoding",
               "row filter, deflate level", argv, measure)


if __name__ == "__main__":
    sys.exit(main())
