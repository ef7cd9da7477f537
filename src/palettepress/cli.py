"""The ``palettepress`` command line: parse, call the library, print, exit.

Exit codes:

====  ==============================================================
0     success
1     unexpected internal error (a bug: please report it)
2     bad usage or option value
3     input error: missing, empty, truncated, corrupt, not an image, too large
4     output error: exists (without ``--force``), equals the input, cannot be written
130   interrupted (Ctrl-C); no partial output is left
====  ==============================================================

Errors are one line on stderr, ``palettepress: error: <file>: <cause>``, no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def _colors(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 2 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be from 2 to 256, got {value}")
    return value


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``palettepress`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="palettepress",
        description="Compress images to indexed PNG with a k-means colour palette.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 output refused "
               "or unwritable, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"palettepress {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("compress", help="compress one image",
                       description="Compress INPUT to an indexed PNG with at most K colours.")
    c.add_argument("input", metavar="INPUT", help="image file (PNG, JPEG, WebP, TIFF, BMP, GIF, ...)")
    c.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="PNG file to write")
    c.add_argument("-k", "--colors", type=_colors, required=True, metavar="K",
                   help="palette size, 2 to 256")
    _add_engine_options(c)
    c.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    c.add_argument("--strip", action="store_true",
                   help="write no metadata (sRGB, text, resolution)")
    c.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    c.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="refuse images with more pixels (default: about 179 million)")

    d = sub.add_parser("demo", help="compress the built-in sample and show the result",
                       description="Compress the built-in sample image and write the original, "
                                   "the compressed PNG and a side-by-side picture into DIR.")
    d.add_argument("--out", default="palettepress-demo", metavar="DIR",
                   help="folder for the demo files (default: palettepress-demo)")
    d.add_argument("-k", "--colors", type=_colors, default=32, metavar="K",
                   help="palette size, 2 to 256 (default: 32)")
    _add_engine_options(d)
    return parser


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", choices=("oklab", "rgb"), default="oklab",
                   help="working colour space (default: oklab)")
    p.add_argument("--dither", type=_strength, nargs="?", const=1.0, default=0.0, metavar="S",
                   help="Floyd-Steinberg dithering, strength 0..1 (1 if S is omitted; default off)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")


def _finite(x):
    return x if x is not None and math.isfinite(x) else None


def _human(result, output: str) -> str:
    src = result.input_path or "image"
    before = f"{result.input_bytes:,}" if result.input_bytes else "-"
    ratio = f"{result.ratio:.2f}x" if result.ratio else f"{result.raw_ratio:.2f}x of raw"
    note = " (lossless: the image has no more colours)" if result.lossless else ""
    psnr = "inf" if not math.isfinite(result.psnr) else f"{result.psnr:.2f}"
    ssim = "n/a" if math.isnan(result.ssim) else f"{result.ssim:.4f}"
    return (f"{src} -> {output}: {result.colors} colours{note}\n"
            f"  size     {before} -> {result.output_bytes:,} bytes  ratio {ratio}  "
            f"{result.bpp:.3f} bpp\n"
            f"  quality  PSNR {psnr} dB  SSIM {ssim}  CIEDE2000 {result.delta_e:.3f}  "
            f"MSE {result.mse:.2f}\n"
            f"  time     {result.seconds:.3f} s")


def _record(result, output: str) -> dict:
    return {
        "input": result.input_path,
        "output": output,
        "colors": result.colors,
        "lossless": result.lossless,
        "input_bytes": result.input_bytes,
        "output_bytes": result.output_bytes,
        "ratio": result.ratio,
        "bpp": result.bpp,
        "psnr": _finite(result.psnr),
        "ssim": _finite(result.ssim),
        "delta_e": result.delta_e,
        "mse": result.mse,
        "seconds": result.seconds,
    }


def _cmd_compress(args) -> int:
    from .errors import OutputError
    from .quantizer import compress

    if os.path.abspath(args.output) == os.path.abspath(args.input):
        raise OutputError(f"{args.output}: output would overwrite the input file")
    if os.path.exists(args.output) and not args.force:
        raise OutputError(f"{args.output}: already exists (use --force to overwrite)")
    from .io import DEFAULT_MAX_PIXELS

    result = compress(args.input, args.colors, space=args.space, dither=args.dither,
                      seed=args.seed, strip=args.strip,
                      max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS)
    result.save(args.output, force=args.force)
    if args.json:
        print(json.dumps(_record(result, args.output)))
    else:
        print(_human(result, args.output))
    return EXIT_OK


def _cmd_demo(args) -> int:
    import numpy as np
    from PIL import Image

    from .quantizer import compress
    from .sample import sample_image

    os.makedirs(args.out, exist_ok=True)
    original = sample_image()
    original_path = os.path.join(args.out, "sample.png")
    Image.fromarray(original).save(original_path, optimize=True)
    result = compress(original_path, args.colors, space=args.space, dither=args.dither,
                      seed=args.seed)
    out_path = os.path.join(args.out, f"sample-k{args.colors}.png")
    result.save(out_path, force=True)
    h, w = original.shape[:2]
    gap = 8
    side = np.full((h, 2 * w + gap, 3), 255, dtype=np.uint8)
    side[:, :w] = original
    side[:, w + gap:] = result.image[:, :, :3]
    side_path = os.path.join(args.out, "side-by-side.png")
    Image.fromarray(side).save(side_path)
    print(_human(result, out_path))
    print(f"  side by side (original | compressed): {side_path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code or 0)
    from .errors import PalettepressError

    try:
        return {"compress": _cmd_compress, "demo": _cmd_demo}[args.command](args)
    except PalettepressError as exc:
        print(f"palettepress: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("palettepress: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("palettepress: error: out of memory", file=sys.stderr)
        return EXIT_INTERNAL
