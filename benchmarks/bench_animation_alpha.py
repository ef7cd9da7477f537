#!/usr/bin/env python
"""Animated GIF with transparency that comes and goes: bytes, flicker, and what decoders show.

For every image of ``graphics/`` and ``alpha/`` (made at most 240 pixels a side), a clip
of six frames: the image with a patch made transparent in every other frame (where it is
opaque, a hole that comes and goes, somewhere else each time) and a small red marker
moving along its bottom. A GIF cannot draw pixels transparent over the canvas: the frame
before is disposed of (disposal 2) over the part of the canvas to clear, and that part
is drawn again. Rows:

- ``palettepress animate`` to GIF: bytes, the flicker it reports and the flicker of the
  file as Pillow decodes it (of the pixels still in the source from one frame to the
  next, the share that changes), and whether each decoded frame's alpha is the source's
  as a GIF keeps it (thresholded, or broad translucent areas patterned);
- ImageMagick's ``convert FILE -coalesce`` against Pillow on the same file: the frames
  must agree pixel for pixel wherever either shows something;
- ``gifsicle -O3`` on that file (same pixels, its frame layout): the bytes it saves.

Writes the block between ``<!-- bench_animation_alpha:start -->`` and
``<!-- bench_animation_alpha:end -->`` of ``--out``.

    python benchmarks/bench_animation_alpha.py
"""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

from _animation import flicker_counts
from _common import TargetRow, markdown_table, print_verdicts, script_command, script_parser, set_images, target_table, tool_version, write_block

import palettepress
from palettepress import dither, formats

SETS = ("graphics", "alpha")
SIDE = 240
FRAMES = 6


def clip(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        im = im.convert("RGBA")
        im.thumbnail((SIDE, SIDE))
        base = np.asarray(im).copy()
    h, w = base.shape[:2]
    frames = []
    for i in range(FRAMES):
        f = base.copy()
        if i % 2:
            f[h // 4 + i : h // 2 + i, w // 3 : w // 2, 3] = 0
        x = (10 * i) % max(1, w - 8)
        f[h - 8 : h - 2, x : x + 6] = (255, 0, 0, 255)
        frames.append(f)
    return frames


def decoded(data: bytes) -> list[np.ndarray]:
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGBA")))
    return out


def flicker(frames: list[np.ndarray], shown: list[np.ndarray]) -> float:
    changed, still = flicker_counts(frames, shown, range(len(frames)))
    return changed / still if still else 0.0


def imagemagick_frames(path: Path, n: int) -> list[np.ndarray]:
    out = path.with_suffix("")
    subprocess.run(["convert", str(path), "-coalesce", f"{out}-%03d.png"], check=True,
                   capture_output=True)
    frames = []
    for i in range(n):
        with Image.open(f"{out}-{i:03d}.png") as im:
            frames.append(np.asarray(im.convert("RGBA")))
    return frames


def main(argv=None) -> int:
    args = script_parser(__doc__).parse_args(argv)
    paths = set_images(args.data, SETS)
    warnings.simplefilter("ignore", palettepress.GifAlphaWarning)
    gifsicle, convert = shutil.which("gifsicle"), shutil.which("convert")
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n, path in enumerate(paths):
            frames = clip(path)
            a = palettepress.animate(frames, format="gif", fps=10)
            shown = decoded(a.data)
            pattern = dither.patterns_alpha(frames[0], formats.GIF_ALPHA_THRESHOLD)
            want = [formats.Writer("gif").prepare(f, bool(pattern))[0][..., 3] > 0 for f in frames]
            alpha_ok = len(shown) == len(frames) and all(
                np.array_equal(g[..., 3] > 0, w) for g, w in zip(shown, want))
            file = Path(tmp) / f"{n}.gif"
            file.write_bytes(a.data)
            agree = None
            if convert:
                other = imagemagick_frames(file, len(shown))
                agree = all(not ((m != g).any(axis=2) & ((m[..., 3] > 0) | (g[..., 3] > 0))).any()
                            for m, g in zip(other, shown))
            smaller = None
            if gifsicle:
                subprocess.run([gifsicle, "-O3", str(file), "-o", str(file) + ".O3"], check=True)
                smaller = Path(str(file) + ".O3").stat().st_size
            got = flicker(frames, shown)
            results.append((a.output_bytes, smaller, got, a.flicker, alpha_ok, agree))
            rows.append([f"{path.parent.name}/{path.name}", f"{a.output_bytes:,}",
                         "n/a" if smaller is None else f"{smaller:,}",
                         f"{100 * a.flicker:.4f}", f"{100 * got:.4f}",
                         "yes" if alpha_ok else "no", {None: "n/a", True: "yes", False: "no"}[agree]])
            print(path.name, *rows[-1][1:], file=sys.stderr)
    ours = sum(r[0] for r in results)
    theirs = sum(r[1] for r in results if r[1] is not None)
    matched = sum(abs(r[2] - r[3]) < 1e-9 for r in results)
    targets = [
        TargetRow("the flicker reported is the decoded file's", "every clip",
                  f"{matched} of {len(results)}", matched == len(results)),
        TargetRow("decoded alpha is the source's as a GIF keeps it", "every clip",
                  f"{sum(r[4] for r in results)} of {len(results)}", all(r[4] for r in results)),
        TargetRow("ImageMagick shows Pillow's frames", "every clip",
                  "n/a" if not convert else f"{sum(bool(r[5]) for r in results)} of {len(results)}",
                  None if not convert else all(r[5] for r in results)),
    ]
    summary = [[str(len(results)), f"{ours:,}",
                "n/a" if not gifsicle else f"{theirs:,} ({theirs / ours:.3f})",
                f"{100 * max(r[2] for r in results):.4f}",
                str(sum(r[2] > 0 for r in results))]]
    block = "\n".join([
        "## Animated GIF with transparency that comes and goes",
        "",
        f"Generated by `{script_command(__file__, argv)}` on {datetime.date.today()}, "
        f"palettepress {palettepress.__version__}, Pillow {PIL.__version__}"
        + (f", {tool_version([gifsicle, '--version'])}" if gifsicle else "") + ".",
        f"Every image of `graphics/` and `alpha/` (at most {SIDE} pixels a side), {FRAMES} "
        "frames: a patch made transparent in every other frame, somewhere else each time, and "
        "a red marker moving along the bottom; `palettepress animate` to GIF at its defaults. "
        "Flicker: of the pixels still in the source from one frame to the next, the share "
        "whose decoded colour changes (Pillow). `gifsicle -O3` rewrites our file (same "
        "pixels, its own frame layout).",
        "",
        *target_table(targets),
        "",
        *markdown_table(["clips", "bytes", "`gifsicle -O3` of them", "largest flicker %",
                         "clips with flicker"], summary),
        "",
        *markdown_table(["image", "bytes", "`gifsicle -O3`", "flicker % reported",
                         "flicker % decoded", "alpha as a GIF keeps it", "ImageMagick agrees"],
                        rows, align="lrrrrll"),
    ])
    write_block(args.out, "bench_animation_alpha", block)
    print_verdicts(targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
