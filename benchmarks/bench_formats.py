#!/usr/bin/env python
"""File formats and file size: palettepress's PNG against oxipng, WebP lossless and GIF.

Each image of the sets is compressed once per k (16, 64, 256) with the default settings;
those pixels (palette and indices) are then written by every writer, so every figure
compares files of the same pixels:

- palettepress's PNG at efforts 1, 5 (default), 8 and 10 (deflate level and strategy of
  each effort), against ``oxipng -o 2`` and ``oxipng -o max`` (``pyoxipng``, MIT, a
  benchmark reference only) applied to the default-effort PNG;
- WebP lossless and GIF (palettepress's writers, through Pillow) at efforts 5 and 8,
  against the default-effort PNG. GIF skips images whose palette has translucent
  colours (GIF cannot hold those pixels; ``format="gif"`` thresholds them instead).

Every file is decoded again and compared with the pixels: a writer that changed one
pixel fails the run. Bytes are totals per set and k; times are the writers' own (median
of ``--repeat`` runs up to effort 5, one run above), not the whole ``compress``. Writes the block between
``<!-- bench_formats:start -->`` and ``<!-- bench_formats:end -->`` of ``--out``.

    python benchmarks/bench_formats.py
    python benchmarks/bench_formats.py --quick --out /tmp/formats.md
"""

from __future__ import annotations

import datetime
import io
from importlib import metadata
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, features

import palettepress
from palettepress.effort import EFFORTS
from palettepress.formats import Writer

from _common import TargetRow, markdown_table, print_verdicts, script_command, script_parser, target_table, write_block

SETS = ("kodak", "sipi", "graphics")
COLORS = (16, 64, 256)
PNG_EFFORTS = (1, 5, 8, 10)
OTHER_EFFORTS = (5, 8)
PHOTOS = ("kodak", "sipi")


def writer(fmt: str, effort: int) -> Writer:
    return Writer(fmt, EFFORTS[effort]["deflate"], effort)


def timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def same_pixels(data: bytes, expect: np.ndarray) -> bool:
    with Image.open(io.BytesIO(data)) as im:
        got = np.asarray(im.convert("RGBA" if expect.shape[2] == 4 else "RGB"))
    return got.shape == expect.shape and bool((got == expect).all())


class Totals(dict):
    """Sums over the images, keyed by ``(set, k, what...)``: bytes, times and counts."""

    def add(self, key: tuple, value: float) -> None:
        self[key] = self.get(key, 0.0) + value

    def ratio(self, groups: list[tuple], num: tuple, den: tuple) -> float:
        """Total of ``num`` over total of ``den`` across the ``(set, k)`` groups."""
        return sum(self[g + num] for g in groups) / sum(self[g + den] for g in groups)


def measure_image(path: Path, name: str, repeat: int, oxipng, totals: Totals, worst: dict) -> None:
    """Compress one image at every k and write its pixels with every writer, adding the
    bytes and times to ``totals`` and the worst ratio to the PNG to ``worst``."""
    for k in COLORS:
        r = palettepress.compress(path, k, strip=True)
        pixels, idx, pal = r.image, r.indices, r.palette
        base, _ = timed(lambda: writer("png", 5).encode(idx, pal), 1)
        group = (name, k)
        totals.add(group + ("images",), 1)
        for e in PNG_EFFORTS:
            data, t = timed(lambda: writer("png", e).encode(idx, pal), repeat if e <= 5 else 1)
            assert same_pixels(data, pixels), (path, k, "png", e)
            totals.add(group + ("png", e), len(data))
            totals.add(group + ("png time", e), t)
        for level, label in ((2, "oxipng -o 2"), (6, "oxipng -o max")):
            data, t = timed(lambda: oxipng.optimize_from_memory(base, level=level), 1)
            assert same_pixels(data, pixels), (path, k, label)
            totals.add(group + (label,), len(data))
            totals.add(group + (label + " time",), t)
        translucent = pal.shape[1] == 4 and bool(((pal[:, 3] > 0) & (pal[:, 3] < 255)).any())
        if translucent:
            totals.add(group + ("gif skipped",), 1)
        for fmt in ("webp", "gif") if not translucent else ("webp",):
            for e in OTHER_EFFORTS:
                data, t = timed(lambda: writer(fmt, e).encode(idx, pal), 1 if e > 5 else repeat)
                assert same_pixels(data, pixels), (path, k, fmt, e)
                totals.add(group + (fmt, e), len(data))
                totals.add(group + (fmt + " png", e), len(base))
                totals.add(group + (fmt + " time", e), t)
                ratio = len(data) / len(base)
                key = (name, fmt, e)
                if key not in worst or ratio > worst[key][0]:
                    worst[key] = (ratio, f"{path.name} k={k}")


def set_rows(totals: Totals) -> list[list[str]]:
    """One table row per set and k: PNG bytes, the size ratios, GIF skips and times."""
    rows = []
    for name in SETS:
        for k in COLORS:
            g = (name, k)
            if g + ("images",) not in totals:
                continue
            n = totals[g + ("images",)]
            rows.append([name, str(k), str(int(n)), f"{totals[g + ('png', 5)]:,.0f}",
                         *(f"{totals.ratio([g], ('png', e), ('oxipng -o 2',)):.3f}" for e in (5, 8, 10)),
                         *(f"{totals.ratio([g], ('png', e), ('oxipng -o max',)):.3f}" for e in (5, 10)),
                         *(f"{totals.ratio([g], (fmt, e), (fmt + ' png', e)):.3f}" for fmt in ("webp", "gif") for e in OTHER_EFFORTS),
                         str(int(totals.get(g + ("gif skipped",), 0))),
                         "/".join(f"{1000 * totals[g + ('png time', e)] / n:.0f}" for e in PNG_EFFORTS),
                         f"{1000 * totals[g + ('oxipng -o 2 time',)] / n:.0f}/{1000 * totals[g + ('oxipng -o max time',)] / n:.0f}",
                         "/".join(f"{1000 * totals[g + ('webp time', e)] / n:.0f}" for e in OTHER_EFFORTS)])
    return rows


def targets(totals: Totals) -> list[TargetRow]:
    """The size targets, over all sets, the photos and the graphics."""
    photos = [(s, k) for s in PHOTOS for k in COLORS if (s, k, "images") in totals]
    graphics = [("graphics", k) for k in COLORS if ("graphics", k, "images") in totals]
    everything = photos + graphics
    goals = [
        ("PNG, default effort / `oxipng -o 2` (all sets, total bytes)", "<= 1.00",
         totals.ratio(everything, ("png", 5), ("oxipng -o 2",)), 1.00),
        ("PNG, effort 10 / `oxipng -o max` (all sets, total bytes)", "<= 1.00",
         totals.ratio(everything, ("png", 10), ("oxipng -o max",)), 1.00),
        ("WebP lossless, default effort / PNG, photos", "<= 0.87",
         totals.ratio(photos, ("webp", 5), ("png", 5)), 0.87),
        ("WebP lossless, default effort / PNG, graphics", "<= 0.90",
         totals.ratio(graphics, ("webp", 5), ("png", 5)), 0.90),
        ("WebP lossless, effort 8 / PNG, photos", "<= 0.87",
         totals.ratio(photos, ("webp", 8), ("png", 5)), 0.87),
        ("WebP lossless, effort 8 / PNG, graphics", "<= 0.90",
         totals.ratio(graphics, ("webp", 8), ("png", 5)), 0.90),
    ]
    return [TargetRow(label, limit, f"{value:.3f}", value <= bound)
            for label, limit, value, bound in goals]


def render(totals: Totals, worst: dict, target_rows: list[TargetRow], argv) -> str:
    """The Markdown block (without the markers)."""
    worst_lines = [f"- {fmt} at effort {e}, {name}: worst ratio to the PNG {v[0]:.3f} ({v[1]})"
                   for (name, fmt, e), v in sorted(worst.items())]
    command = script_command(__file__, argv)
    return "\n".join([
        "## File formats and PNG size",
        "",
        f"Generated by `{command}` on {datetime.date.today()}, {os.cpu_count()} cores, "
        f"palettepress {palettepress.__version__}, pyoxipng {metadata.version('pyoxipng')}, "
        f"Pillow {metadata.version('Pillow')} (libwebp {features.version('webp')}).",
        "Each image is compressed once per k with the default settings; every writer then "
        "stores those same pixels (each file decoded again and checked pixel for pixel). "
        "Ratios are total bytes over the set; below 1 means the first is smaller. "
        "oxipng runs on the default-effort PNG. Times are milliseconds per image of the "
        "writer alone (PNG at efforts 1/5/8/10; oxipng -o 2 / -o max; WebP at efforts 5/8). "
        "GIF skipped: images whose default palette has translucent colours, which a GIF "
        "cannot hold, so no GIF of the same pixels exists (`compress -o X.gif` writes one "
        "all the same, alpha thresholded: `tests/test_formats.py` writes and decodes every "
        "image of `graphics/` and `alpha/` at k = 16, 64 and 256).",
        "",
        *target_table(target_rows),
        "",
        *markdown_table(["set", "k", "images", "PNG bytes (effort 5)", "PNG e5 / oxipng -o 2",
                         "PNG e8 / oxipng -o 2", "PNG e10 / oxipng -o 2", "PNG e5 / oxipng -o max",
                         "PNG e10 / oxipng -o max", "WebP e5 / PNG", "WebP e8 / PNG", "GIF e5 / PNG",
                         "GIF e8 / PNG", "GIF skipped", "PNG ms", "oxipng ms", "WebP ms"],
                        set_rows(totals), "llr" + "r" * 14),
        "",
        *worst_lines,
    ])


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 images per set")
    args = parser.parse_args(argv)
    try:
        import oxipng
    except ImportError:
        sys.exit("bench_formats: pyoxipng is missing: pip install '.[bench]'")
    totals, worst = Totals(), {}
    for name in SETS:
        paths = sorted((args.data / name).glob("*.png"))
        if args.quick:
            paths = paths[::max(1, len(paths) // 4)][:4]
        for path in paths:
            measure_image(path, name, args.repeat, oxipng, totals, worst)
            print(f"bench_formats: {name}/{path.name}", file=sys.stderr, flush=True)
    target_rows = targets(totals)
    print_verdicts(target_rows)
    write_block(args.out, "bench_formats", render(totals, worst, target_rows, argv))
    print(f"bench_formats: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
