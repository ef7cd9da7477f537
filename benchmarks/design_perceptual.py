#!/usr/bin/env python
"""Design measurements for what people see: each perceptual choice of the engine, remade.

Every variant compresses the same images (8 Kodak photos and the graphics set) at
k = 16, 64 and 256 and is judged by SSIMULACRA2 (palettepress's kernels; images with
alpha over sRGB grey 0.1 and 0.9, the worse kept), file size and mean CIEDE2000:

1. **Oklab lightness weight**, 0.5 (the former default, tuned for CIEDE2000), 1.0
   (shipped) and 1.25, with the default dithering.
2. **Error diffusion, step by step**: plain Floyd–Steinberg (no cap, no busy map, no
   matched colours), then each limit added in turn up to the shipped kernel; ordered
   dithering; ``auto``; and no dithering.
3. **Weighting colours by visibility** (not shipped): each pixel's weight in the fit
   falls with its local contrast, ``1 / (1 + (c / c0)^2)``, ``c`` the mean Oklab
   difference to its four neighbours averaged over 5x5 (libimagequant's idea, our
   formula); and a second fit with each colour's weight raised by its first-fit error.
4. **Alpha**: colours with alpha fitted with six coordinates (their composites over both
   greys, shipped) against four (Oklab and alpha as one more coordinate), no dithering.
5. **PNG row filter on dithered indices**: None (shipped), Sub, Up and the per-row
   heuristic on the default output's indices, deflated at the default level (the filters of
   ``design_encoding.py``, which measures the same on undithered indices).

Variants change module constants or the fit's weights for the run; the block written
between ``<!-- design_perceptual:start -->`` and ``<!-- design_perceptual:end -->`` of
``--out`` (default BENCHMARKS.md) gives each variant's figures and the conclusion.

    python benchmarks/design_perceptual.py
    python benchmarks/design_perceptual.py --quick --out /tmp/design_perceptual.md
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from _common import environment, markdown_table, script_parser, write_block

KODAK8 = ("kodim01", "kodim03", "kodim05", "kodim07", "kodim14", "kodim19", "kodim21", "kodim23")
COLORS = (16, 64, 256)


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA"))
    return rgba if (rgba[..., 3] < 255).any() else np.ascontiguousarray(rgba[..., :3])


@contextlib.contextmanager
def constants(**values):
    """Set palettepress module constants (``module__NAME=value``) for the block."""
    import importlib

    saved = []
    for key, value in values.items():
        mod, name = key.split("__")
        module = importlib.import_module(f"palettepress.{mod}")
        saved.append((module, name, getattr(module, name)))
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _weighted(img: np.ndarray, k: int, weights_of):
    """compress() with the fit's colour weights replaced by ``weights_of(prep) -> float64``."""
    from palettepress import Quantizer
    from palettepress.effort import EFFORTS
    from palettepress.formats import Writer
    from palettepress.histogram import Histogram
    from palettepress.pipeline import prepare, run

    prep = prepare(img, max_pixels=1 << 40)
    w = weights_of(prep, img, k)
    scaled = np.maximum(np.rint(w * (1000.0 / w.mean())), 1).astype(np.uint64)
    fake = Histogram(colors=prep.hist.colors, counts=scaled, keys=prep.hist.keys, mask=prep.hist.mask)
    q = Quantizer(k)
    q._fit_histogram(fake, img.shape[2])
    return run(prep, q, Writer(level=EFFORTS[5]["deflate"]), strip=True)


def _contrast_weights(c0: float):
    def weights(prep, img, k):
        from scipy import ndimage

        from palettepress import _kernels, colorspace
        from palettepress.histogram import pixels2d

        lab = colorspace.srgb_to_oklab(img[..., :3].reshape(-1, 3)).reshape(img.shape[:2] + (3,))
        p = np.pad(lab.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
        c = sum(np.abs(p[1:-1, 1:-1] - q).sum(-1) for q in
                (p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:])) / 4
        w = 1.0 / (1.0 + (ndimage.uniform_filter(c, 5) / c0) ** 2)
        pos = _kernels.positions(np.ascontiguousarray(pixels2d(img)), prep.hist.keys, prep.hist.mask)
        return np.bincount(pos, weights=w.reshape(-1), minlength=len(prep.hist))
    return weights


def _error_feedback(prep, img, k):
    from palettepress import Quantizer, colorspace, remap

    q = Quantizer(k)
    q._fit_histogram(prep.hist, img.shape[2])
    x = colorspace.to_working(prep.hist.colors8, "oklab")
    near = remap.nearest(x, colorspace.to_working(q.palette_, "oklab"))
    err = np.sqrt(((x - colorspace.to_working(q.palette_, "oklab")[near]) ** 2).sum(1))
    w = prep.hist.counts.astype(np.float64)
    mean = (w * err).sum() / w.sum()
    return w * (1 + err / mean) if mean > 0 else w  # no error: every colour has its entry


def _alpha4(img: np.ndarray, k: int):
    """Fit and nearest-colour remap with Oklab + alpha/255 as the working coordinates."""
    from palettepress import encode, kmeans, remap, seeding
    from palettepress.colorspace import oklab_to_srgb, srgb_to_oklab

    flat = img.reshape(-1, 4).copy()
    flat[flat[:, 3] == 0] = 0
    colours, inverse, counts = np.unique(flat, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    clear = colours[:, 3] == 0
    x = np.concatenate([srgb_to_oklab(colours[:, :3].astype(np.float64)),
                        colours[:, 3:4] / np.float32(255)], axis=1).astype(np.float32)
    keep = ~clear
    kf = k - int(clear.any())
    if keep.sum() <= kf:
        pal = colours[keep]
    else:
        c, lab = seeding.initial_palette(x[keep], counts[keep].astype(float), kf, "split", 0, None, True)
        c, lab, _, _ = kmeans.lloyd(x[keep], counts[keep].astype(float), c, lab, tol=1e-3)
        c, lab, _, _ = kmeans.hartigan(x[keep], counts[keep].astype(float), c, lab, passes=3)
        rgb = np.clip(np.rint(oklab_to_srgb(c[:, :3].astype(np.float64))), 0, 255)
        pal = np.concatenate([rgb, np.clip(np.rint(c[:, 3:] * 255), 0, 255)], axis=1).astype(np.uint8)
    if clear.any():
        pal = np.vstack([np.zeros((1, 4), np.uint8), pal])
    px = np.concatenate([srgb_to_oklab(pal[:, :3].astype(np.float64)), pal[:, 3:4] / np.float32(255)], axis=1)
    assign = remap.nearest(x, px.astype(np.float32))
    if clear.any():
        assign[clear] = 0
    idx = encode.index_rows(*img.shape[:2])
    idx[...] = assign[inverse].reshape(img.shape[:2])
    data = encode.encode_png(idx, pal)
    return data, pal[np.asarray(idx)]


#: name: (section, description, how: a dict of constants or a callable(img, k) -> (bytes, image))
def variants():
    import palettepress

    def plain(**kw):
        return lambda img, k: _compressed(palettepress.compress(img, k, strip=True, **kw))

    fs = dict(dither__DIFFUSION_STRENGTH=1.0, dither__DIFFUSION_LIMIT=1e9, dither__DIFFUSION_BUSY=0.0,
              dither__FLOOR=0.0)
    return [
        ("lightness", "Oklab lightness weight 0.5", dict(colorspace__OKLAB_LIGHTNESS_WEIGHT=0.5), plain()),
        ("lightness", "Oklab lightness weight 1.0 (shipped)", {}, plain()),
        ("lightness", "Oklab lightness weight 1.25", dict(colorspace__OKLAB_LIGHTNESS_WEIGHT=1.25), plain()),
        ("dither", "no dithering", {}, plain(dither=0)),
        ("dither", "plain Floyd–Steinberg (strength 1, no limits)", fs, plain()),
        ("dither", "+ strength 0.8", {**fs, "dither__DIFFUSION_STRENGTH": 0.8}, plain()),
        ("dither", "+ error capped at 1.25 x the palette spacing",
         {**fs, "dither__DIFFUSION_STRENGTH": 0.8, "dither__DIFFUSION_LIMIT": 1.25}, plain()),
        ("dither", "+ weaker in busy texture",
         {**fs, "dither__DIFFUSION_STRENGTH": 0.8, "dither__DIFFUSION_LIMIT": 1.25,
          "dither__DIFFUSION_BUSY": 1.5}, plain()),
        ("dither", "+ matched colours exact, floor 0.003 (shipped diffusion)", {}, plain()),
        ("dither", "ordered (Knoll-style mixes, Bayer 8x8)", {}, plain(dither_method="ordered")),
        ("dither", "auto (none, diffusion or ordered per image)", {}, plain(dither_method="auto")),
        ("weights", "pixel counts (shipped)", {}, plain()),
        ("weights", "local-contrast weights, c0 = 0.02", {},
         lambda img, k: _compressed(_weighted(img, k, _contrast_weights(0.02)))),
        ("weights", "local-contrast weights, c0 = 0.05", {},
         lambda img, k: _compressed(_weighted(img, k, _contrast_weights(0.05)))),
        ("weights", "error feedback (second fit, weights x (1 + error / mean error))", {},
         lambda img, k: _compressed(_weighted(img, k, _error_feedback))),
        ("alpha", "alpha: 6 coordinates, over both greys (shipped), no dithering", {}, plain(dither=0)),
        ("alpha", "alpha: 4 coordinates (Oklab, alpha), no dithering", {}, _alpha4),
    ]


def _compressed(result):
    return result.data, result.image


def run_one(job):
    name, path, k = job
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from palettepress import metrics

    section, label, consts, how = next(v for v in variants() if v[1] == name)
    img = load(Path(path))
    if section == "alpha" and img.shape[2] != 4:
        return name, path, k, None
    with constants(**consts):
        data, out = how(img, k)
    return name, path, k, (len(data), metrics.ssimulacra2(img, out), metrics.delta_e(img, out))


def filter_lines(kodak: list[Path]) -> list[str]:
    """Section 5: row filters on the default (dithered) output's indices."""
    import deflate

    import palettepress
    from _design import FILTERS, decodes_to, filter_rows
    from palettepress import encode
    from palettepress.effort import EFFORTS

    sizes = {m: 0 for m in FILTERS}
    wins = {m: 0 for m in FILTERS}
    for path in kodak:
        for k in COLORS:
            r = palettepress.compress(str(path), k)
            depth = encode.bit_depth(len(r.palette))
            rows = encode._pack_rows(r.indices, depth)
            case = {}
            for m in FILTERS:
                lines = filter_rows(rows, m)
                if not decodes_to(lines, r.indices, r.palette, depth):
                    raise RuntimeError(f"filter {m} does not round-trip on {path.name} k={k}")
                case[m] = len(deflate.zlib_compress(lines.tobytes(), EFFORTS[5]["deflate"]))
                sizes[m] += case[m]
            for m in FILTERS:
                wins[m] += case[m] == min(case.values())
    base = sizes["None"]
    rows = [[m, f"{sizes[m]:,}", f"{sizes[m] / base:.3f}", f"{wins[m]} / {len(kodak) * len(COLORS)}"]
            for m in FILTERS]
    best = min(FILTERS, key=lambda m: sizes[m])
    return ["### 5. PNG row filter on dithered indices", "",
            f"The default output's indices of the {len(kodak)} Kodak images at k = "
            f"{', '.join(map(str, COLORS))}, filtered and deflated by libdeflate {EFFORTS[5]['deflate']} (the default); wins count "
            "the cases where a filter gives the smallest stream.", "",
            *markdown_table(["filter", "bytes", "vs None", "wins"], rows), "",
            f"Conclusion: {best} gives the smallest total"
            + (": writing filter None on every row stays right for dithered images." if best == "None"
               else f"; None's total is {sizes['None'] / sizes[best]:.3f} times it."), ""]


def main(argv=None) -> int:
    p = script_parser(__doc__)
    p.add_argument("--quick", action="store_true", help="2 Kodak and 4 graphics images")
    args = p.parse_args(argv)
    kodak = [args.data / "kodak" / f"{n}.png" for n in KODAK8]
    graphics = sorted((args.data / "graphics").glob("*.png"))
    if args.quick:
        kodak, graphics = kodak[:2], graphics[:4]
    sets = {"kodak": kodak, "graphics": graphics}
    names = [v[1] for v in variants()]
    jobs = [(n, str(p), k) for n in names for s in sets.values() for p in s for k in COLORS]
    t0 = time.perf_counter()
    with get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        results = pool.map(run_one, jobs, chunksize=1)
    got = {(n, p, k): r for n, p, k, r in results if r is not None}
    env = environment([sys.argv[0], *(argv or sys.argv[1:])], "pngquant")
    lines = ["## Design measurements: what people see", "",
             "Generated by `benchmarks/design_perceptual.py`; do not edit this block by hand, rerun "
             "the script.", "",
             f"- Command: `{env['command']}`; {env['date']}; {env['cpu']}, {env['cpu_count']} CPUs; "
             f"palettepress {env['palettepress']}" + (f" (git {env['palettepress_git']})" if env["palettepress_git"] else "")
             + f"; run time {time.perf_counter() - t0:.0f} s",
             f"- Images: Kodak {', '.join(p.stem for p in kodak)}; graphics: {len(graphics)} images "
             f"(`{args.data.name}/graphics`, {sum(load(p).shape[2] == 4 for p in graphics)} with alpha). "
             "SSIMULACRA2 is the mean over images (alpha over grey 0.1 and 0.9, the worse), bytes "
             "the total, CIEDE2000 the mean.", ""]
    titles = {"lightness": "1. Oklab lightness weight", "dither": "2. Error diffusion, step by step",
              "weights": "3. Weighting colours by visibility", "alpha": "4. Alpha"}
    for section, title in titles.items():
        lines += [f"### {title}", ""]
        rows = []
        for sec, label, _, _ in variants():
            if sec != section:
                continue
            row = [label]
            for set_name, paths in sets.items():
                for k in COLORS:
                    cells = [got[(label, str(p), k)] for p in paths if (label, str(p), k) in got]
                    if not cells:
                        row.append("n/a")
                        continue
                    row.append(f"{statistics.fmean(c[1] for c in cells):.2f} / "
                               f"{sum(c[0] for c in cells) / 1000:,.0f} / "
                               f"{statistics.fmean(c[2] for c in cells):.3f}")
            rows.append(row)
        head = ["variant"] + [f"{s} k={k}" for s in sets for k in COLORS]
        lines += ["Cells: SSIMULACRA2 mean / KB total / CIEDE2000 mean.", "",
                  *markdown_table(head, rows), ""]
    lines += filter_lines(kodak)
    write_block(args.out, "design_perceptual", "\n".join(lines))
    print(f"design_perceptual: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
