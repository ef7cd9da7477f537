"""What the design measurement scripts share: ``design_encoding.py`` (PNG row filter,
deflate level) and ``design_fit.py`` (Oklab lightness weight, rounding, initial palette).

The test images and pngquant's result on each (:class:`Library`), the quality of a
palette on a colour histogram, the PNG row filters (also used by
``design_perceptual.py``), the head of the Markdown block and the command line that both
scripts have (:func:`run`).
"""

from __future__ import annotations

import argparse
import io
import math
import shlex
import shutil
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

from palettepress import _kernels, metrics
from palettepress import histogram as H

# The benchmark scripts' shared helpers, beside this file (on sys.path when run as a script).
from _common import environment, write_block

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
DEFAULT_OUT = REPO / "BENCHMARKS.md"

#: Images of measurements 1-3 (and the summary set of 4): Kodak photos of varied content.
KODAK8 = ("kodak/kodim01", "kodak/kodim03", "kodak/kodim05", "kodak/kodim08",
          "kodak/kodim13", "kodak/kodim15", "kodak/kodim20", "kodak/kodim23")
FILTERS = ("None", "Up", "Sub", "per-row heuristic")
QUICK_IMAGES = 2
TIMING_REPEAT = 3
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".ppm", ".bmp")


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(msg, file=sys.stderr, flush=True)


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
    script : str
        The script's name, for its log lines.
    """

    def __init__(self, data: Path, pngquant: str, tmp: Path, script: str):
        self.script = script
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
                    log(f"{self.script}: {name} not found under {self.data}; skipped")
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


def pct(ratio: float) -> str:
    """A ratio as a signed percentage change (0.99 -> -1.0%)."""
    return "n/a" if math.isnan(ratio) else f"{(ratio - 1) * 100:+.1f}%"


def short_names(photos: list[Photo]) -> str:
    return ", ".join(p.name.split("/")[-1] for p in photos)


# -- PNG row filters -----------------------------------------------------------------


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


# -- Markdown and command line -------------------------------------------------------


def render(script: str, title: str, env: dict, sections: list[list[str]], problems: list[str],
           missing: set[str], quick: bool, seconds: float) -> str:
    """The Markdown block (without the markers) of ``script``, headed ``title``."""
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    where = "" if Path(env["cwd"]) == REPO else f" in `{env['cwd']}`"
    lines = [f"## {title}", "",
             f"Generated by `benchmarks/{script}.py`; do not edit this block by hand, "
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



def run(script: str, block: str, title: str, what: str, argv: list[str] | None, measure) -> int:
    """Parse the command line, run ``measure`` and write the block; returns the exit status.

    ``measure(lib, limit, repeat, problems)`` returns the sections of the block (lists of
    lines); ``limit`` is the number of images per measurement (None: all), ``repeat`` the
    number of timed runs; a failed consistency check goes to ``problems``. ``what`` lists
    the choices measured, for ``--help``.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(block, what).parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"{script}: test images not found at {args.data} (use --data)")
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        sys.exit(f"{script}: pngquant not found on PATH; install it with "
                 "`apt-get install pngquant` (it is the reference)")
    started = time.perf_counter()
    env = environment([sys.argv[0], *argv], pngquant,
                      deflate=getattr(deflate, "__version__", "unknown"), zlib=zlib.ZLIB_RUNTIME_VERSION)
    problems: list[str] = []
    log(f"{script}: palettepress {env['palettepress']}, {env['pngquant']}, "
        f"data {args.data}{' (quick)' if args.quick else ''}")
    with tempfile.TemporaryDirectory(prefix=f"{script}-") as tmpdir:
        lib = Library(args.data, pngquant, Path(tmpdir), script)
        sections = measure(lib, QUICK_IMAGES if args.quick else None,
                           1 if args.quick else TIMING_REPEAT, problems)
        missing = lib.missing
    elapsed = time.perf_counter() - started
    write_block(args.out, block,
                render(script, title, env, sections, problems, missing, args.quick, elapsed))
    log(f"{script}: wrote {args.out} in {elapsed:.0f} s")
    for p in problems:
        log(f"  PROBLEM {p}")
    return 1 if problems else 0


def build_parser(block: str, what: str) -> argparse.ArgumentParser:
    """The argument parser of a script writing the block ``block``, measuring ``what``."""
    p = argparse.ArgumentParser(
        description=f"Re-measure palettepress's design choices ({what}) on real photos and "
                    "write the results to a Markdown file.")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"folder holding kodak/ and sipi/ (default: {DEFAULT_DATA})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"Markdown file whose {block} block is (re)written "
                        "(default: BENCHMARKS.md at the repository root)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK_IMAGES} images per measurement, timing best of 1")
    return p
