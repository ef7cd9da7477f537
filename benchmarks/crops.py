#!/usr/bin/env python
"""Zoomed crops of the same regions: palettepress against pngquant, to look at.

For each region (a sky, a gradient wallpaper, an icon's edge, text on a gradient) it
writes ``docs/crops-NAME.png``: a row per k = 16 and 64 of the original, palettepress's
default output and ``pngquant K``'s (its default, dithered), each cropped from the whole
compressed image and enlarged by pixel repetition, captioned with the whole image's
SSIMULACRA2 and file size (both ``--strip``ped). Images with alpha are shown over the light grey (sRGB 0.9) that
SSIMULACRA2 measures them over. pngquant (GPL) runs as an external program only.

    python benchmarks/crops.py            # writes docs/crops-*.png
    python benchmarks/crops.py --out /tmp/crops
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import palettepress
from palettepress import metrics

from _common import REPO

#: name: (image under the test data, top, left, height, width, what it shows)
REGIONS = {
    "sky": ("kodak/kodim16.png", 6, 150, 84, 150, "a sky (Kodak kodim16)"),
    "wallpaper": ("graphics/wallpaper-adwaita-l.png", 300, 300, 84, 150,
                  "a gradient wallpaper (GNOME Adwaita, CC BY-SA 3.0)"),
    "icon": ("graphics/icon-user-home.png", 400, 20, 84, 150,
             "an icon's gradient, edge and soft shadow over light grey (Adwaita icon theme, "
             "CC BY-SA 3.0)"),
    "text": ("graphics/screenshot-dashboard-1.png", 25, 20, 84, 150,
             "text, a card's shadow and a gradient (a generated page)"),
}
SIZES = (16, 64)
ZOOM = 3
GREY = 0.9
CAPTION = 16


def composite(img: np.ndarray) -> np.ndarray:
    return metrics.composite_over(img, GREY) if img.shape[2] == 4 else img


def tile(img: np.ndarray, box, label: str) -> Image.Image:
    top, left, h, w = box
    crop = composite(np.ascontiguousarray(img[top:top + h, left:left + w]))
    big = Image.fromarray(crop).resize((w * ZOOM, h * ZOOM), Image.Resampling.NEAREST)
    out = Image.new("RGB", (big.width, big.height + CAPTION), (255, 255, 255))
    out.paste(big, (0, CAPTION))
    ImageDraw.Draw(out).text((3, 2), label, fill=(0, 0, 0))
    return out


def pngquant(exe: str, path: Path, k: int, tmp: Path, channels: int) -> np.ndarray:
    out = tmp / f"pq-{path.stem}-{k}.png"
    subprocess.run([exe, "--strip", "--force", "--output", str(out), str(k), str(path)],
                   check=True, capture_output=True)
    with Image.open(out) as im:
        return np.asarray(im.convert("RGBA" if channels == 4 else "RGB"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "testdata")
    p.add_argument("--out", type=Path, default=REPO / "docs")
    args = p.parse_args(argv)
    exe = shutil.which("pngquant")
    if exe is None:
        sys.exit("crops: pngquant not found (apt-get install pngquant)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, (rel, top, left, h, w, what) in REGIONS.items():
            path = args.data / rel
            with Image.open(path) as im:
                rgba = np.asarray(im.convert("RGBA"))
            original = rgba if (rgba[..., 3] < 255).any() else np.ascontiguousarray(rgba[..., :3])
            box = (top, left, h, w)
            # One row per k: the original, palettepress, pngquant.
            rows = []
            for k in SIZES:
                ours = palettepress.compress(original, k, strip=True)
                with Image.open(io.BytesIO(ours.data)) as im:
                    ours_img = np.asarray(im.convert("RGBA" if original.shape[2] == 4 else "RGB"))
                theirs = pngquant(exe, path, k, Path(tmpdir), original.shape[2])
                rows.append([tile(original, box, "original"),
                             tile(ours_img, box, f"palettepress k={k}: SSIMULACRA2 {ours.ssimulacra2:.1f}, "
                                                 f"{ours.output_bytes:,} B"),
                             tile(theirs, box, f"pngquant {k}: SSIMULACRA2 "
                                               f"{metrics.ssimulacra2(original, theirs):.1f}, "
                                               f"{Path(tmpdir, f'pq-{path.stem}-{k}.png').stat().st_size:,} B")])
            gap = 6
            tw, th = rows[0][0].width, rows[0][0].height
            sheet = Image.new("RGB", (3 * tw + 2 * gap, len(rows) * th + (len(rows) - 1) * gap),
                              (255, 255, 255))
            for j, row in enumerate(rows):
                for i, t in enumerate(row):
                    sheet.paste(t, (i * (tw + gap), j * (th + gap)))
            target = args.out / f"crops-{name}.png"
            sheet.save(target, optimize=True)
            print(f"crops: {target}: {what}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
