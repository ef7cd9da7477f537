#!/usr/bin/env python
"""Re-measure the palette fit choices that palettepress's docstrings justify with numbers.

Each measurement runs on real photos (the Kodak and USC-SIPI sets) and, where a quality
ratio is asked for, against pngquant ``--nofs`` at the same palette size k. They measure
the undithered pipeline (``dither=0``), judged by per-pixel figures; the choices of
the dithered default, judged perceptually, are ``design_perceptual.py``'s, and the PNG
encoding's (measurements 1 and 2) ``design_encoding.py``'s:

3. **Oklab lightness weight** (``colorspace.OKLAB_LIGHTNESS_WEIGHT``): CIEDE2000 and PSNR
   of the Oklab fit for weights 1.0 down to 0.4 (the shipped weight is chosen by
   SSIMULACRA2; this shows what it costs in CIEDE2000).
4. **Rounding the Oklab centres** (``colorspace.from_working``): nearest of the eight
   surrounding 8-bit colours in Oklab against plain rounding of the exact sRGB value.
5. **Initial palette and refinement** (``seeding.split_merge`` then ``kmeans.lloyd`` and
   ``kmeans.hartigan``): variance split straight to k, split to 2k and merge back, and
   the Hartigan passes, in MSE, CIEDE2000 and fit time.

Ratios "vs pngquant" are palettepress's value / pngquant's on the same image and k,
summarised by their geometric mean over the images (below 1: palettepress is better).
The results are written as a Markdown block between the markers
``<!-- design_fit:start -->`` and ``<!-- design_fit:end -->`` of ``--out``
(default ``BENCHMARKS.md``); text outside the markers is left untouched.

pngquant (GPL) is run as an external program only, as a reference.

Examples
--------
    python benchmarks/design_fit.py
    python benchmarks/design_fit.py --quick --out /tmp/design_fit.md
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

import palettepress
from palettepress import kmeans, quantizer, remap, seeding
from palettepress import colorspace as cs
from palettepress import histogram as H

# The benchmark scripts' shared helpers, beside this file (on sys.path when run as a script).
from _common import geomean
from _common import fmt as _f, markdown_table as _table
from _design import (KODAK8, Library, Photo, histogram_quality, log, pct, psnr, run,
                     short_names)

#: The block's markers in --out: <!-- design_fit:start --> ... <!-- design_fit:end -->.
BLOCK_NAME = "design_fit"
#: Images shown one by one in measurement 4: smooth ones (02, 20, 4.2.05), where the
#: rounding matters most, and a detailed one (01) where it should not.
ROUNDING_IMAGES = ("kodak/kodim02", "kodak/kodim20", "kodak/kodim01", "sipi/4.2.05")
#: Images of measurement 5, with USC-SIPI photos of many distinct colours (4.2.03
#: Mandrill, 4.2.07 Peppers) where the fit runs on grouped colours as in compress().
INIT_IMAGES = ("kodak/kodim01", "kodak/kodim05", "kodak/kodim09", "kodak/kodim13",
               "kodak/kodim17", "kodak/kodim21", "sipi/4.1.01", "sipi/4.1.05",
               "sipi/4.2.03", "sipi/4.2.07")
WEIGHT_KS = (16, 256)
WEIGHTS = (1.0, 0.7, 0.6, 0.5, 0.4)
INIT_KS = (16, 64, 256)
#: PSNR loss (dB) still counted as "the same PSNR" when choosing the lightness weight.
PSNR_TOLERANCE_DB = 0.1


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
             f"{len(photos)} Kodak images ({short_names(photos)}). For each weight on Oklab L: "
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
            cells += [_f(r, 3), _f(n8, 3), pct(n8 / r)]
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
        concl.append(" / ".join(pct(geomean(ratio["nearest of 8", n, k] / ratio["rint", n, k]
                                              for n in g)) for k in WEIGHT_KS)
                     + f" on the {len(g)} Kodak images (geometric mean)")
    for n in smooth:
        concl.append(" / ".join(pct(ratio["nearest of 8", n, k] / ratio["rint", n, k])
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
    group, m = H.group_colors(hist.colors8, quantizer.FIT_MAX_POINTS)
    wg = np.bincount(group, weights=w, minlength=m)
    xg = np.stack([np.bincount(group, weights=w * x[:, q], minlength=m)
                   for q in range(x.shape[1])], axis=1) / wg[:, None]
    return xg.astype(np.float32), wg, None, group


def _init_fits(lib: Library, photos: list[Photo], repeat: int) -> tuple[dict, dict, dict]:
    """Every configuration of measurement 5 on every image, space and k: the quality ratio
    vs pngquant, the fit's objective (SSE) and the best of ``repeat`` fit times, each keyed
    by ``(config, space, name, k)``."""
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
    return quality, objective, seconds


def measure_init(lib: Library, photos: list[Photo], repeat: int) -> list[str]:
    """Measurement 5; fit times are the best of ``repeat`` runs (the fits are deterministic)."""
    quality, objective, seconds = _init_fits(lib, photos, repeat)
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
            row.append(" / ".join(pct(geomean(table[after, space, n, k] / table[before, space, n, k]
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


# -- command line --------------------------------------------------------------------


def measure(lib: Library, limit: int | None, repeat: int, problems: list[str]) -> list[list[str]]:
    """Measurements 3 to 5: the sections of the block."""
    kodak8 = lib.photos(KODAK8, limit)
    named = lib.photos(ROUNDING_IMAGES, limit)
    init_photos = lib.photos(INIT_IMAGES, limit)
    sections = []
    fits = {}
    if kodak8:
        # The first calls of a process pay for first-touch allocations and thread start-up,
        # which would otherwise land in the first timed case.
        palettepress.compress(str(kodak8[0].path), 16, dither=0)
        log("3. Oklab lightness weight")
        # compress()'s own result, which the fit at the shipped weight must reproduce.
        compressed = {(p.name, k): palettepress.compress(str(p.path), k, dither=0)
                      for p in kodak8 for k in WEIGHT_KS}
        lines, fits = measure_lightness(lib, kodak8, problems, compressed)
        sections.append(lines)
    else:
        sections.append(["Measurement 3 skipped: none of its Kodak images was found.", ""])
    if named or kodak8:
        log("4. Rounding the Oklab centres")
        sections.append(measure_rounding(lib, named, kodak8, fits))
    if init_photos:
        log("5. Initial palette and refinement")
        sections.append(measure_init(lib, init_photos, repeat))
    return sections


def main(argv: list[str] | None = None) -> int:
    """Run measurements 3 to 5; returns 0, or 1 when a consistency check failed."""
    return run("design_fit", BLOCK_NAME, "Design measurements: the palette fit",
               "Oklab lightness weight, rounding, initial palette", argv, measure)


if __name__ == "__main__":
    sys.exit(main())
