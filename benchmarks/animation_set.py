#!/usr/bin/env python
"""The animation development set: short clips made reproducibly, for bench_animation.py.

Writes into ``--set`` (default ``benchmarks/.animation-set``, ignored by git):

- one folder per clip, ``frame0001.png, ...`` (RGB) and ``clip.json`` (``fps``, ``frames``,
  ``width``, ``height``, ``kind``: natural, plot, screen or synthetic, ``source``: a line
  of provenance, ``how``: how it was made);
- ``gif-inputs/NAME.gif``: palette GIFs made from five of the clips by ffmpeg, Pillow and
  ImageMagick, for the "re-encode an existing GIF" comparison (``NAME.json`` beside each
  says which clip and command);
- ``video/zoom720p.mp4``: 1280x720, 280 frames at 30 fps, H.264 (MPEG-4 part 2 where
  ffmpeg lacks libx264), a slow zoom over ``large/IMG_1047.JPG``, for a memory test;
- ``SOURCES.md``: every item's provenance and how it was made.

Clips: slow pans (Lanczos resampling at subpixel offsets) over two Kodak photos, a slow
zoom into a third, a pan with seeded Gaussian sensor noise (sigma 2 levels) over a fourth,
a photo fading to black and back, a dissolve across three photos; matplotlib animations drawn by the Agg backend (a heatmap with a colourbar, moving sine
waves with axes, legend and grid); headless Chromium (Playwright, ``/usr/bin/chromium``)
scrolling a generated HTML page, screenshotted every frame; a terminal session drawn by
Pillow in DejaVu Sans Mono; ffmpeg's ``testsrc2``, ``mandelbrot`` and ``life`` sources.
Everything is seeded; what is already there is kept unless ``--force``. A run from scratch
takes about a minute on 2 cores.

    python benchmarks/animation_set.py
    python benchmarks/animation_set.py --only terminal,life --force
"""

from __future__ import annotations

import argparse
import html
import io
import itertools
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from _animation import DEFAULT_SET, RECIPES, Clip, fill, frame_name, read_clip, shown
from _common import REPO

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
CHROMIUM = "/usr/bin/chromium"
NATURAL = (480, 270)
PLOT_INCHES, PLOT_DPI = (4.8, 3.6), 100


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Spec:
    """How to make one clip: ``make(data_dir, folder, frames)`` yields its frames (uint8
    RGB arrays; only the first ``frames`` are taken) or, returning None, writes the PNGs
    into ``folder`` itself; ``tool`` names what drew them (its version goes in clip.json)."""

    name: str
    kind: str
    source: str
    how: str
    make: Callable
    tool: str
    frames: int = 80
    fps: float = 20.0


# -- natural: pans and a zoom over Kodak photos ------------------------------------


def _photo(data: Path, name: str) -> Image.Image:
    with Image.open(data / "kodak" / f"{name}.png") as im:
        return im.convert("RGB")


def pan(photo: str, start: tuple, step: tuple, noise: float = 0.0, seed: int = 0) -> Callable:
    """A 480x270 window moving ``step`` pixels a frame from ``start``, resampled by Lanczos
    at the subpixel position; ``noise``: Gaussian noise of that sigma (levels) per frame."""
    def make(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
        im = _photo(data, photo)
        rng = np.random.default_rng(seed)
        w, h = NATURAL
        for i in range(frames):
            x, y = start[0] + step[0] * i, start[1] + step[1] * i
            frame = np.asarray(im.resize(NATURAL, Image.Resampling.LANCZOS, box=(x, y, x + w, y + h)))
            if noise:
                frame = np.clip(np.rint(frame + rng.normal(0.0, noise, frame.shape)), 0, 255)
            yield frame.astype(np.uint8)
    return make


def zoom(photo: str, end_scale: float = 0.55) -> Callable:
    """From the full-width 16:9 band of the photo to ``end_scale`` of it, geometrically,
    the centre drifting right and up, resampled to 480x270 by Lanczos."""
    def make(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
        im = _photo(data, photo)
        for i in range(frames):
            t = i / (frames - 1)
            w = im.width * end_scale ** t
            h = w * 9 / 16
            cx, cy = im.width / 2 + 60 * t, im.height / 2 - 20 * t
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            yield np.asarray(im.resize(NATURAL, Image.Resampling.LANCZOS, box=box))
    return make


def _band(im: Image.Image) -> np.ndarray:
    """The photo's full-width 16:9 band, centred, resized to 480x270 by Lanczos (float)."""
    h = im.width * 9 / 16
    box = (0, (im.height - h) / 2, im.width, (im.height + h) / 2)
    return np.asarray(im.resize(NATURAL, Image.Resampling.LANCZOS, box=box), dtype=np.float64)


def fade(photo: str) -> Callable:
    """The photo's band fading to black over the first half of the frames and back."""
    def make(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
        band = _band(_photo(data, photo))
        half = frames // 2
        for t in list(np.linspace(1, 0, half)) + list(np.linspace(0, 1, frames - half)):
            yield np.clip(np.rint(band * t), 0, 255).astype(np.uint8)
    return make


def dissolve(*photos: str) -> Callable:
    """A cross-dissolve from each photo's band to the next's, an equal share of the frames
    for each step."""
    def make(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
        bands = [_band(_photo(data, p)) for p in photos]
        steps = len(bands) - 1
        for i in range(frames):
            pos = i * steps / (frames - 1)
            k = min(int(pos), steps - 1)
            t = pos - k
            yield np.clip(np.rint(bands[k] * (1 - t) + bands[k + 1] * t), 0, 255).astype(np.uint8)
    return make


# -- plot: matplotlib's Agg backend --------------------------------------------------


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=PLOT_INCHES, dpi=PLOT_DPI)
    return fig, FigureCanvasAgg(fig)


def _rgb(canvas) -> np.ndarray:
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]


def heatmap(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
    """``imshow`` of a travelling interference pattern and a drifting blob, with a colourbar."""
    fig, canvas = _figure()
    ax = fig.add_subplot()
    y, x = np.mgrid[0:80, 0:120] / 20.0

    def field(t: float) -> np.ndarray:
        blob = 1.5 * np.exp(-((x - 1.5 - 0.05 * t) ** 2 + (y - 2 - np.sin(t / 9)) ** 2) / 0.5)
        return np.sin(2.1 * x - 0.25 * t) * np.cos(1.7 * y + 0.15 * t) + blob

    img = ax.imshow(field(0), cmap="viridis", vmin=-1.2, vmax=2.2, origin="lower",
                    extent=(0, 6, 0, 4), aspect="auto")
    fig.colorbar(img, ax=ax, label="amplitude")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title("field at t = 0.00 s")
    fig.tight_layout()
    for i in range(frames):
        img.set_data(field(float(i)))
        ax.set_title(f"field at t = {i / 20:.2f} s")
        yield _rgb(canvas)


def lines(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
    """Three travelling sine waves with axes, a legend and a grid."""
    fig, canvas = _figure()
    ax = fig.add_subplot()
    x = np.linspace(0, 4 * np.pi, 400)
    waves = [(1.0, 1.0, 0.15, "1 Hz"), (0.6, 2.0, -0.22, "2 Hz"), (0.35, 3.5, 0.31, "3.5 Hz")]
    curves = [ax.plot(x, np.zeros_like(x), label=label, linewidth=1.5)[0] for *_, label in waves]
    ax.set_xlim(0, 4 * np.pi)
    ax.set_ylim(-2.2, 2.2)
    ax.set_xlabel("phase (rad)")
    ax.set_ylabel("signal (V)")
    ax.grid(True, alpha=0.4)
    ax.legend(loc="upper right")
    fig.tight_layout()
    for i in range(frames):
        for curve, (a, k, v, _) in zip(curves, waves):
            curve.set_ydata(a * np.sin(k * x - 2 * np.pi * v * i / 4))
        yield _rgb(canvas)


# -- screen: a browser scrolling, a terminal -----------------------------------------

WORDS = ("palette", "pixel", "frame", "colour", "quantize", "dither", "the", "of", "a", "and",
         "image", "encoder", "browser", "scroll", "table", "value", "measure", "error", "to",
         "in", "with", "every", "small", "file", "bytes", "quality", "fast", "photo", "is")


def _page(folder: Path, data: Path, rng: np.random.Generator) -> Path:
    """A long HTML page: headings, paragraphs, a code block, a table, four Kodak thumbnails."""
    def para(n: int) -> str:
        text = " ".join(rng.choice(WORDS, n))
        return f"<p>{html.escape(text[0].upper() + text[1:])}.</p>"

    thumbs = []
    for name in ("kodim07", "kodim15", "kodim20", "kodim22"):
        _photo(data, name).resize((240, 160), Image.Resampling.LANCZOS).save(folder / f"{name}.png")
        thumbs.append(f'<img src="{name}.png" width="240" height="160" alt="{name}">')
    rows = "".join(f"<tr><td>kodim{i:02d}</td><td>{rng.integers(20, 90)} KiB</td>"
                   f"<td>{rng.uniform(70, 92):.1f}</td></tr>" for i in range(1, 13))
    code = html.escape('import palettepress\n\nfor path in paths:\n    r = palettepress.compress(path, 64)\n'
                       '    print(path, r.bytes, r.ssimulacra2)\n')
    body = ["<h1>Palette images, a field guide</h1>", para(60), para(45), "<h2>Getting started</h2>",
            para(50), f"<pre><code>{code}</code></pre>", para(40), "<h2>Photographs</h2>",
            f'<div class="thumbs">{"".join(thumbs[:2])}</div>', para(55), "<h2>Measurements</h2>",
            f"<table><tr><th>image</th><th>size</th><th>SSIMULACRA2</th></tr>{rows}</table>",
            para(50), f'<div class="thumbs">{"".join(thumbs[2:])}</div>', "<h2>Notes</h2>",
            *(para(45) for _ in range(4))]
    style = ("html{scroll-behavior:auto} body{font-family:sans-serif;margin:24px 32px;"
             "background:#fdfdfb;color:#222;line-height:1.45} h1{color:#1a4d8f} h2{color:#7a2e0e;"
             "border-bottom:2px solid #e0d6c8} pre{background:#272822;color:#f8f8f2;padding:10px}"
             " table{border-collapse:collapse} td,th{border:1px solid #bbb;padding:3px 10px}"
             " th{background:#dfe9f5} .thumbs img{margin:4px}")
    page = folder / "index.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style>"
                    f"</head><body>{''.join(body)}</body></html>", encoding="utf-8")
    return page


def _scroll_positions(frames: int) -> list[float]:
    """Scroll offsets: pauses and eased moves (ease-in-out over each move)."""
    plan = [(8, 0), (12, 520), (10, 0), (14, 900), (8, 0), (10, 380), (8, 0)]  # (frames, pixels)
    y, out = 0.0, []
    for n, dy in plan:
        for i in range(1, n + 1):
            out.append(y + dy * (1 - np.cos(np.pi * i / n)) / 2)
        y += dy
    return (out + [y] * frames)[:frames]


def browser_scroll(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
    """Headless Chromium, 640x400 viewport, screenshotted at every scroll position."""
    from playwright.sync_api import sync_playwright

    site = folder.parent / "sources" / folder.name.removesuffix(".partial")
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    page_file = _page(site, data, np.random.default_rng(11))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 640, "height": 400}, device_scale_factor=1)
            page.goto(page_file.as_uri(), wait_until="load")
            for y in _scroll_positions(frames):
                page.evaluate(f"window.scrollTo(0, {y:.1f})")
                with Image.open(io.BytesIO(page.screenshot(type="png"))) as im:
                    yield np.asarray(im.convert("RGB"))
        finally:
            browser.close()


SESSION = [
    ("ls -l", [("total 2184", "fg"), ("drwxr-xr-x 2 ada ada    4096 Mar  3 10:12 frames", "dir"),
               ("-rw-r--r-- 1 ada ada 1204532 Mar  3 10:14 photo.png", "fg"),
               ("-rwxr-xr-x 1 ada ada    2210 Mar  3 09:58 build.sh", "exe")]),
    ("palettepress compress photo.png -o small.png -k 64",
     [("small.png: 64 colours, 301 KiB (25%), SSIMULACRA2 82.4", "ok")]),
    ("python -c 'print(sum(range(10)))'", [("45", "fg")]),
    ("cat missing.txt", [("cat: missing.txt: No such file or directory", "err")]),
    ("git log --oneline | head -3", [("3f2a9c1 Faster remap", "yellow"),
                                     ("b81e07d Add WebP writer", "yellow"),
                                     ("0c4d5aa Fix palette order", "yellow")]),
]
COLORS = {"fg": (204, 204, 204), "dir": (97, 175, 239), "exe": (152, 195, 121),
          "ok": (152, 195, 121), "err": (224, 108, 117), "yellow": (229, 192, 123),
          "user": (152, 195, 121), "path": (97, 175, 239)}


def terminal(data: Path, folder: Path, frames: int) -> Iterator[np.ndarray]:
    """A shell session drawn by Pillow: commands typed four characters a frame, their output
    appearing a line a frame, a block cursor blinking (8 frames on, 8 off) while idle."""
    font = ImageFont.truetype(FONT, 14)
    cell_h, rows = 17, 400 // 17
    done: list[list[tuple[str, str]]] = []
    prompt = [("ada@host", "user"), (":", "fg"), ("~/photos", "path"), ("$ ", "fg")]
    count = 0

    def draw(typed: str, cursor: bool) -> np.ndarray:
        im = Image.new("RGB", (640, 400), (30, 32, 40))
        d = ImageDraw.Draw(im)
        shown = (done + [prompt + [(typed, "fg")]])[-rows:]
        for r, segs in enumerate(shown):
            x = 6
            for text, color in segs:
                d.text((x, 4 + r * cell_h), text, font=font, fill=COLORS[color])
                x += font.getlength(text)
        if cursor:
            d.rectangle((x, 4 + r * cell_h + 1, x + 8, 4 + (r + 1) * cell_h - 2), fill=(220, 220, 220))
        return np.asarray(im)

    def idle(n: int, typed: str = "") -> Iterator[np.ndarray]:
        nonlocal count
        for _ in range(n):
            yield draw(typed, (count // 8) % 2 == 0)
            count += 1

    for command, output in SESSION:
        yield from idle(3)
        for end in range(4, len(command) + 4, 4):
            yield draw(command[:end], True)
            count += 1
        done.append(prompt + [(command, "fg")])
        for line in output:
            done.append([line])
            yield draw("", True)
            count += 1
    while True:
        yield from idle(1)


# -- synthetic: ffmpeg's sources ----------------------------------------------------


def lavfi(source: str) -> Callable:
    """``ffmpeg -f lavfi -i SOURCE`` at 480x270, 20 fps, ``frames`` frames, written as RGB PNGs."""
    def make(data: Path, folder: Path, frames: int) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"{source}=size=480x270:rate=20" if "=" not in source else source,
                        "-frames:v", str(frames), "-pix_fmt", "rgb24", str(folder / "frame%04d.png")],
                       check=True)
    return make


LIFE = ("life=size=480x270:rate=20:seed=7:ratio=0.1:mold=10:life_color=#40ff60"
        ":death_color=#b03030:mold_color=#202040")

SPECS = [
    Spec("pan-kodim08", "natural", "Kodak PhotoCD kodim08.png (shared/testdata/kodak)",
         "480x270 window from (20, 120) moving 2.5 px right a frame, cut by Pillow's resize "
         "with box= and Lanczos (subpixel offsets)", pan("kodim08", (20, 120), (2.5, 0)),
         "pillow"),
    Spec("pan-kodim23", "natural", "Kodak PhotoCD kodim23.png (shared/testdata/kodak)",
         "480x270 window from (10, 20) moving (2.2, 1.0) px a frame, Lanczos",
         pan("kodim23", (10, 20), (2.2, 1.0)), "pillow"),
    Spec("zoom-kodim05", "natural", "Kodak PhotoCD kodim05.png (shared/testdata/kodak)",
         "the full-width 16:9 band zooming in geometrically to 0.55 of its width (centre "
         "drifting +60, -20 px), Lanczos down to 480x270", zoom("kodim05"), "pillow"),
    Spec("noisy-pan-kodim03", "natural", "Kodak PhotoCD kodim03.png (shared/testdata/kodak)",
         "480x270 window from (40, 100) moving (1.5, 0.5) px a frame, Lanczos, plus Gaussian "
         "noise of sigma 2 levels on every frame (numpy default_rng(3)), rounded",
         pan("kodim03", (40, 100), (1.5, 0.5), noise=2.0, seed=3), "pillow"),
    Spec("fade-kodim03", "natural", "Kodak PhotoCD kodim03.png (shared/testdata/kodak)",
         "the full-width 16:9 band, Lanczos to 480x270, scaled by 1 down to 0 over the "
         "first 30 frames and back up to 1 over the last 30, rounded", fade("kodim03"),
         "pillow", 60),
    Spec("dissolve-kodim", "natural",
         "Kodak PhotoCD kodim03, kodim23 and kodim08.png (shared/testdata/kodak)",
         "each photo's full-width 16:9 band, Lanczos to 480x270, cross-dissolved linearly "
         "from the first to the second and on to the third over the frames, rounded",
         dissolve("kodim03", "kodim23", "kodim08"), "pillow", 60),
    Spec("heatmap", "plot", "matplotlib, Agg backend (this script)",
         "imshow (viridis) of sin(2.1x-0.25t)cos(1.7y+0.15t) plus a drifting Gaussian blob "
         "on a 120x80 grid, colourbar, title with the time; 480x360", heatmap, "matplotlib", 60),
    Spec("lines", "plot", "matplotlib, Agg backend (this script)",
         "three travelling sine waves (default colour cycle), axes, legend, grid; 480x360",
         lines, "matplotlib", 60),
    Spec("browser-scroll", "screen", f"headless Chromium ({CHROMIUM}) through Playwright",
         "a generated HTML page (headings, paragraphs of seeded words, a code block, a table, "
         "four 240x160 Kodak thumbnails; kept in sources/browser-scroll/) in a 640x400 "
         "viewport, scrolled by window.scrollTo in eased moves with pauses, one screenshot "
         "a frame", browser_scroll, "chromium", 70),
    Spec("terminal", "screen", "Pillow drawing (this script), DejaVu Sans Mono 14 px",
         "a shell session on a dark background: commands typed 4 characters a frame, output "
         "a line a frame, a blinking block cursor; 640x400", terminal, "pillow", 70),
    Spec("testsrc2", "synthetic", "ffmpeg lavfi source testsrc2",
         "ffmpeg -f lavfi -i testsrc2=size=480x270:rate=20 -frames:v 80 -pix_fmt rgb24",
         lavfi("testsrc2"), "ffmpeg"),
    Spec("mandelbrot", "synthetic", "ffmpeg lavfi source mandelbrot",
         "ffmpeg -f lavfi -i mandelbrot=size=480x270:rate=20 -frames:v 80 -pix_fmt rgb24",
         lavfi("mandelbrot"), "ffmpeg"),
    Spec("life", "synthetic", "ffmpeg lavfi source life (seed 7)",
         f"ffmpeg -f lavfi -i {LIFE} -frames:v 80 -pix_fmt rgb24", lavfi(LIFE), "ffmpeg"),
]

#: (clip, recipe of ``_animation.RECIPES``) of every GIF of ``gif-inputs/``.
GIF_INPUTS = [("pan-kodim08", "ffmpeg"), ("lines", "ffmpeg-diff"), ("heatmap", "pillow"),
              ("terminal", "imagemagick"), ("browser-scroll", "imagemagick")]
VIDEO = "video/zoom720p.mp4"
ZOOMPAN = ("crop=iw:iw*9/16,zoompan=z='1+0.6*on/279':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2'"
           ":d=280:s=1280x720:fps=30,format=yuv420p")


# -- building -----------------------------------------------------------------------


def versions() -> dict[str, str]:
    """What drew the clips, by :attr:`Spec.tool`, with versions, for clip.json and SOURCES.md."""
    from importlib import metadata

    return {"pillow": f"Pillow {metadata.version('Pillow')}, numpy {np.__version__}",
            "matplotlib": f"matplotlib {metadata.version('matplotlib')} (Agg), "
                          f"numpy {np.__version__}",
            "chromium": f"{_first_line([CHROMIUM, '--version'])}, Playwright "
                        f"{metadata.version('playwright')}",
            "ffmpeg": _first_line(["ffmpeg", "-version"]).split(" Copyright")[0],
            "imagemagick": _first_line(["convert", "-version"]).removeprefix("Version: ImageMagick ")
                                                                 .split(" https:")[0]}


def _first_line(argv: list[str]) -> str:
    try:
        text = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"{argv[0]}: not found"
    return text.splitlines()[0] if text else "unknown"


def make_clip(spec: Spec, data: Path, set_dir: Path, made_with: str) -> float:
    """Make one clip in ``NAME.partial`` and rename it into place; returns the seconds."""
    start = time.perf_counter()
    tmp = set_dir / f"{spec.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    frames = spec.make(data, tmp, spec.frames)
    if frames is not None:
        for i, frame in enumerate(itertools.islice(frames, spec.frames), 1):
            Image.fromarray(frame).save(tmp / frame_name(i))
        frames.close()
    written = sorted(tmp.glob("frame*.png"))
    if [p.name for p in written] != [frame_name(i) for i in range(1, spec.frames + 1)]:
        raise RuntimeError(f"{spec.name}: made {len(written)} frames, not {spec.frames}")
    with Image.open(written[0]) as im:
        width, height = im.size
    meta = {"fps": spec.fps, "frames": spec.frames, "width": width, "height": height,
            "kind": spec.kind, "source": spec.source, "how": spec.how, "made_with": made_with}
    (tmp / "clip.json").write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(set_dir / spec.name, ignore_errors=True)
    tmp.rename(set_dir / spec.name)
    return time.perf_counter() - start


def make_gif_input(clip: Clip, recipe: str, folder: Path) -> Path:
    """``gif-inputs/CLIP-RECIPE.gif`` made by the recipe, and its ``.json`` note."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{clip.name}-{recipe}.gif"
    tmp = out.with_suffix(".partial.gif")
    subprocess.run(fill(RECIPES[recipe], tmp, clip), check=True)
    tmp.rename(out)
    out.with_suffix(".json").write_text(json.dumps(
        {"clip": clip.name, "recipe": recipe, "fps": clip.fps,
         "command": shown(RECIPES[recipe], clip)}, indent=1) + "\n")
    return out


def video_command(data: Path, out: Path) -> list[str]:
    """ffmpeg: a slow 1.0-1.6x zoom over the 16:9 band of IMG_1047.JPG, 1280x720, 280
    frames at 30 fps, H.264 (libx264 CRF 20), else MPEG-4 part 2 (``-q:v 3``)."""
    encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                              text=True, check=False).stdout
    codec = ["-c:v", "libx264", "-crf", "20", "-preset", "medium"] if " libx264 " in encoders \
        else ["-c:v", "mpeg4", "-q:v", "3"]
    return ["ffmpeg", "-v", "error", "-y", "-i", str(data / "large" / "IMG_1047.JPG"),
            "-vf", ZOOMPAN, "-frames:v", "280", *codec, str(out)]


def _video_shown() -> str:
    """The video's ffmpeg command as SOURCES.md shows it (the filter in double quotes)."""
    argv = video_command(Path("shared/testdata"), Path(VIDEO))
    return " ".join(f'"{a}"' if a == ZOOMPAN else shlex.quote(a) for a in argv)


def sources_md(set_dir: Path, tools: dict[str, str]) -> str:
    """SOURCES.md: every clip, GIF input and video, where it comes from and how it was made."""
    lines = ["# Animation development set", "",
             "Made by `python benchmarks/animation_set.py` (deterministic: seeded noise and "
             "text, fixed scroll plan; a rebuild with the same tool versions gives the same "
             "frames). Each clip is a folder of RGB PNG frames `frame0001.png, ...` with its "
             "`clip.json`. The Kodak photos are the Kodak PhotoCD set (kodim01..24, 768x512), "
             "released by Kodak for unrestricted use.", "",
             "| clip | kind | frames | size | fps | source | how it was made | drawn with |",
             "|---|---|---:|---|---:|---|---|---|"]
    for spec in SPECS:
        if not (set_dir / spec.name / "clip.json").exists():
            continue
        meta = json.loads((set_dir / spec.name / "clip.json").read_text())
        lines.append(f"| {spec.name} | {meta['kind']} | {meta['frames']} | {meta['width']}x"
                     f"{meta['height']} | {meta['fps']:g} | {meta['source']} | {meta['how']} | "
                     f"{meta.get('made_with', '')} |")
    lines += ["", "## gif-inputs/", "",
              "Palette GIFs made from the clips above, for the lossless re-encode comparison "
              "(`FRAMES` is the clip's folder):", ""]
    for note in sorted((set_dir / "gif-inputs").glob("*.json")):
        meta = json.loads(note.read_text())
        lines.append(f"- `{note.stem}.gif`: clip `{meta['clip']}` by `{meta['command']}`")
    lines += ["", "## video/", "",
              f"- `{VIDEO}`: made by {tools['ffmpeg']} from shared/testdata/large/IMG_1047.JPG "
              "(4032x3024, EXIF orientation 1): "
              f"`{_video_shown()}` "
              "(zoompan moves its window by whole source pixels, so the zoom steps slightly).",
              "", f"GIF inputs: {tools['ffmpeg']}, {tools['pillow']}, ImageMagick "
              f"{tools['imagemagick']}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "testdata")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, metavar="DIR")
    parser.add_argument("--force", action="store_true", help="make everything again")
    parser.add_argument("--only", default="", metavar="A,B",
                        help="clips (and the GIF inputs made from them) to make; default all")
    args = parser.parse_args(argv)
    only = {n for n in args.only.split(",") if n}
    unknown = only - {s.name for s in SPECS} - {"video"}
    if unknown:
        parser.error(f"unknown clips: {', '.join(sorted(unknown))}")
    args.set.mkdir(parents=True, exist_ok=True)
    tools, start, made = versions(), time.perf_counter(), set()
    for spec in SPECS:
        if (only and spec.name not in only) or ((args.set / spec.name / "clip.json").exists()
                                                 and not args.force):
            continue
        seconds = make_clip(spec, args.data, args.set, tools[spec.tool])
        made.add(spec.name)
        log(f"animation_set: {spec.name}: {spec.frames} frames in {seconds:.1f} s")
    for name, recipe in GIF_INPUTS:  # remade with their clip, so never older than it
        out = args.set / "gif-inputs" / f"{name}-{recipe}.gif"
        if (only and name not in only) or (out.exists() and not args.force and name not in made):
            continue
        make_gif_input(read_clip(args.set / name), recipe, out.parent)
        log(f"animation_set: {out.relative_to(args.set)}: {out.stat().st_size:,} bytes")
    video = args.set / VIDEO
    if (not only or "video" in only) and (args.force or not video.exists()):
        video.parent.mkdir(exist_ok=True)
        tmp = video.with_suffix(".partial.mp4")
        subprocess.run(video_command(args.data, tmp), check=True)
        tmp.rename(video)
        log(f"animation_set: {VIDEO}: {video.stat().st_size:,} bytes")
    (args.set / "SOURCES.md").write_text(sources_md(args.set, tools), encoding="utf-8")
    log(f"animation_set: {args.set} ready in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
