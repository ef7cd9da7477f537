"""The ``palettepress`` command line: parse, call the library, print, exit.

Exit codes:

====  ==============================================================
0     success
1     unexpected internal error (a bug: please report it)
2     bad usage or option value
3     input error: missing, empty, truncated, corrupt, not an image, too large
4     output error: exists (without ``--force``), equals the input, cannot be written
      (a batch stops at the first output that finds no space)
5     no palette of 2-256 colours meets the ``--min-ssimulacra2``/``--min-ssim``/``--max-delta-e``/
      ``--max-bytes`` target
6     an optional part is missing (the message gives the ``pip install`` command)
7     ``batch``: at least one file failed (the others were done; the summary says why)
98    ``compress --skip-if-larger``: a result was not smaller than its input, so nothing
      was written for it (pngquant's code for the same)
130   interrupted (Ctrl-C, SIGINT); no partial output is left
143   terminated (SIGTERM); as for 130
====  ==============================================================

On SIGINT or SIGTERM a batch stops starting files, lets the running ones finish (or
abandons them, leaving no partial output) and, with ``--summary``, writes the records of
the files done so far with ``"interrupted"`` in the totals.

Errors are one line on stderr, ``palettepress: error: <file>: <cause>``, no traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT, EXIT_TARGET, EXIT_FILES_FAILED = (
    0,
    1,
    2,
    3,
    4,
    5,
    7,
)
EXIT_NOT_SMALLER = 98
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, then exit 143."""


def _ranged(cast, accept, expect: str):
    """An argparse type: ``cast`` the text, then require ``accept(value)`` (else say ``expect``)."""
    kind = "an integer" if cast is int else "a number"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if value != value:  # NaN
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}")
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {expect}, got {text}")
        return value

    return parse


_colors = _ranged(int, lambda v: 2 <= v <= 256, "from 2 to 256")
_strength = _ranged(float, lambda v: 0.0 <= v <= 1.0, "from 0 to 1")
_unit_interval = _ranged(float, lambda v: 0.0 < v <= 1.0, "in (0, 1]")
_score = _ranged(float, lambda v: -math.inf < v <= 100.0, "at most 100")
_positive = _ranged(float, lambda v: v > 0 and v != float("inf"), "> 0")
_port = _ranged(int, lambda v: 0 <= v <= 65535, "from 0 to 65535")
_effort = _ranged(int, lambda v: 1 <= v <= 10, "from 1 to 10")
_byte_count = _ranged(int, lambda v: v >= 1, "at least 1")
_seconds = _ranged(float, lambda v: 0 <= v < float("inf"), "at least 0")
_loop = _ranged(int, lambda v: 0 <= v <= 65535, "from 0 to 65535")


def _color_list(text: str) -> list[int]:
    sizes = [_colors(part.strip()) for part in text.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError("no palette sizes given")
    return sorted(set(sizes))


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as the terminal, sized without importing
    :mod:`shutil` (argparse makes a formatter for each argument declared, and the first
    imported shutil: 2.5 ms of a 130 ms ``compress`` run)."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


_COLUMNS: list[int] = []


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` gives it: ``$COLUMNS``,
    else standard output's terminal, else 80 (looked up once)."""
    if not _COLUMNS:
        try:
            columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            columns = 0
        if columns <= 0:
            stdout = sys.__stdout__  # None without a console
            try:
                columns = os.get_terminal_size(stdout.fileno()).columns if stdout else 0
            except (AttributeError, ValueError, OSError):
                columns = 0
        _COLUMNS.append(columns or 80)
    return _COLUMNS[0]


#: The commands, in the order ``--help`` lists them: name -> (help, description, the
#: function that declares its arguments).
_COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = {}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``palettepress`` command.

    With ``command`` (one of the commands' names), only that command's parser is made:
    the parser is built on every run, declaring every command's arguments took 5 ms of
    a 130 ms ``compress`` run, and making the other commands' parsers 0.6 ms more.
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="palettepress",
        description="Compress images to palette images (indexed PNG, WebP lossless or GIF) "
        "with a k-means colour palette. 'palettepress FILE...' (or 'palettepress K FILE...', "
        "as for pngquant) is 'palettepress compress FILE...'.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 output refused "
        "or unwritable, 5 quality target out of reach, 6 optional part missing, 7 some batch files "
        "failed, 98 not smaller (--skip-if-larger), 130 interrupted, 143 terminated.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"palettepress {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    for name, (summary, description, declare) in _COMMANDS.items():
        if command is None or command == name:
            declare(
                sub.add_parser(
                    name, help=summary, description=description, formatter_class=_HelpFormatter
                )
            )
    return parser


def _joined_ext(argv: list[str]) -> list[str]:
    """``--ext SUFFIX`` as ``--ext=SUFFIX``: a suffix starts with a dash as often as not
    (pngquant's ``--ext -fs8.png``), which argparse would take for an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--ext" and i + 1 < len(argv):
            out.append(f"--ext={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of command ``name`` within :func:`build_parser`'s."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def _compress_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files (PNG, JPEG, WebP, TIFF, BMP, GIF, ...); - reads standard input",
    )
    c.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="file to write (one INPUT only): .png, .webp or .gif, which chooses the format; "
        "- writes standard output",
    )
    c.add_argument(
        "--ext",
        metavar="SUFFIX",
        help="without -o, write NAME + SUFFIX beside each input (default -pp.png, or "
        "-pp.webp / -pp.gif with --format); --ext .png --force replaces the input",
    )
    _add_format_option(c, "default: by OUTPUT's extension, else png")
    how = c.add_mutually_exclusive_group()
    how.add_argument(
        "-k", "--colors", type=_colors, metavar="K", help="palette size, 2 to 256 (default 256)"
    )
    how.add_argument(
        "--min-ssimulacra2",
        type=_score,
        metavar="X",
        help="the smallest palette whose SSIMULACRA2 is at least X (at most 100; "
        "90 visually lossless, 70 high, 50 medium quality)",
    )
    how.add_argument(
        "--min-ssim",
        type=_unit_interval,
        metavar="X",
        help="the smallest palette whose SSIM is at least X (0 to 1)",
    )
    how.add_argument(
        "--max-delta-e",
        type=_positive,
        metavar="X",
        help="the smallest palette whose mean CIEDE2000 is at most X",
    )
    how.add_argument(
        "--max-bytes",
        type=_byte_count,
        metavar="N",
        help="the largest palette whose file has at most N bytes",
    )
    how.add_argument(
        "--palette",
        metavar="FILE",
        help="remap to this palette (.json, .gpl, or any image's colours) instead of fitting one",
    )
    c.add_argument(
        "--keep-colors",
        metavar="COLOURS",
        help='colours locked into the fitted palette, e.g. "#ff0000,#ffffff"',
    )
    c.add_argument(
        "--palette-out",
        metavar="FILE",
        help="also write the palette: .json (hex list), .gpl (GIMP) or .png (swatches)",
    )
    _add_engine_options(c)
    c.add_argument("-f", "--force", action="store_true", help="overwrite OUTPUT if it exists")
    for options, instead in _PNGQUANT_ONLY.items():
        c.add_argument(*options, nargs="?", action=_Instead, help=argparse.SUPPRESS, const=instead)
    c.add_argument(
        "--skip-if-larger",
        action="store_true",
        help="write nothing when the result would not be smaller than the input file "
        "(exit code 98)",
    )
    c.add_argument(
        "--strip", action="store_true", help="write no metadata (sRGB, text, resolution)"
    )
    c.add_argument(
        "--json", action="store_true", help="print one JSON object a file instead of text"
    )
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    c.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        metavar="N",
        help="refuse images with more pixels (default: about 179 million)",
    )


#: pngquant's options that palettepress spells otherwise: each is refused with the option
#: to use instead (README, "Coming from pngquant").
_PNGQUANT_ONLY = {
    ("--quality", "-Q"): "--min-ssimulacra2 X (a perceptual target: 90 visually lossless, 70 high)",
    ("--speed", "-s"): "--effort E (1 fastest to 10 best; pngquant's speed runs the other way)",
    ("--nofs",): "--dither 0",
    ("--floyd",): "--dither S (0 to 1)",
    ("--verbose", "-v"): "the report, printed by default, or --json",
}


class _Instead(argparse.Action):
    """A pngquant option palettepress spells otherwise: a usage error naming ours."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is pngquant's: palettepress has {self.const}")


_COMMANDS["compress"] = (
    "compress images",
    "Compress each INPUT to an indexed PNG (or WebP lossless, or GIF) with "
    "at most K colours (256 by default), written beside it as NAME-pp.png, or to -o.",
    _compress_arguments,
)


def _sweep_arguments(sw: argparse.ArgumentParser) -> None:
    sw.add_argument("input", metavar="INPUT", help="image file")
    sw.add_argument(
        "--colors",
        type=_color_list,
        default=None,
        metavar="K,K,...",
        help="palette sizes (default: 2,4,8,16,32,64,128,256)",
    )
    sw.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    sw.add_argument(
        "--min-ssimulacra2",
        type=_score,
        metavar="X",
        help="also find the smallest palette whose SSIMULACRA2 is at least X, and mark it",
    )
    _add_format_option(sw, "default: png")
    _add_engine_options(sw)
    sw.add_argument(
        "--json", action="store_true", help="print the records as JSON instead of a table"
    )


_COMMANDS["sweep"] = (
    "compress at several palette sizes and write a report",
    "Compress INPUT at each palette size, print a table and write "
    "report.html, sweep.json, the images and a rate-distortion "
    "plot into DIR.",
    _sweep_arguments,
)


def _batch_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and folders")
    b.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the outputs")
    bhow = b.add_mutually_exclusive_group()
    bhow.add_argument(
        "-k", "--colors", type=_colors, metavar="K", help="palette size (default 256)"
    )
    bhow.add_argument("--min-ssimulacra2", type=_score, metavar="X", help="quality target per file")
    bhow.add_argument(
        "--min-ssim", type=_unit_interval, metavar="X", help="quality target per file"
    )
    bhow.add_argument("--max-delta-e", type=_positive, metavar="X", help="quality target per file")
    b.add_argument("--recursive", action="store_true", help="include sub-folders of INPUT folders")
    b.add_argument(
        "--workers", type=int, metavar="N", help="local processes (default: one per core)"
    )
    b.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://host:8786 (extra 'dask'; workers need "
        "the same paths)",
    )
    b.add_argument(
        "--shared-palette",
        action="store_true",
        help="fit one palette over all inputs and remap every image to it",
    )
    b.add_argument(
        "--skip-if-larger",
        action="store_true",
        help="write nothing for a file whose output would not be smaller",
    )
    b.add_argument(
        "--summary", metavar="FILE.json", help="write the per-file records and totals as JSON"
    )
    _add_format_option(b, "sets the outputs' extension; default: png")
    _add_engine_options(b)


_COMMANDS["batch"] = (
    "compress many files and folders",
    "Compress every image of the INPUT files and folders into "
    "OUTDIR, mirroring the folder structure, on all local cores "
    "or on a Dask cluster. Re-running skips finished files.",
    _batch_arguments,
)


def _pre_commit_arguments(pc: argparse.ArgumentParser) -> None:
    pc.add_argument("files", nargs="*", metavar="FILE", help="PNG (or WebP, GIF) files")
    pc.add_argument(
        "--min-ssimulacra2",
        type=_score,
        default=90.0,
        metavar="X",
        help="the quality a file must keep (default: 90, visually lossless)",
    )
    pc.add_argument(
        "-k", "--colors", type=_colors, default=256, metavar="K", help="most colours (256)"
    )
    pc.add_argument("--effort", type=_effort, default=5, metavar="E", help="1 to 10 (default 5)")


_COMMANDS["pre-commit"] = (
    "shrink image files in place where that stays visually lossless",
    "What the pre-commit hook runs: compress each FILE in place only when "
    "the result is smaller and scores at least --min-ssimulacra2 (90: visually "
    "lossless); any other file, and any animation, is left untouched; a file of at "
    "most K colours (the hook's own output) is only stored losslessly. Exit code 0 "
    "unless a file cannot be read or written.",
    _pre_commit_arguments,
)


def _animate_arguments(a: argparse.ArgumentParser) -> None:
    a.add_argument(
        "input",
        metavar="INPUT",
        help="animated GIF/APNG/WebP, video (extra 'video'), folder of frames or a quoted "
        "glob; - reads standard input",
    )
    a.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="file to write: .gif, .png or .apng (APNG), or .webp, which chooses the format; "
        "- writes standard output (GIF unless --format); default: INPUT's name + -pp "
        "beside it (standard output for -), as an animation of INPUT's format, else GIF",
    )
    a.add_argument(
        "--format",
        choices=("gif", "apng", "png", "webp"),
        default=None,
        help="output format, png meaning APNG (default: by OUTPUT's extension)",
    )
    a.add_argument(
        "-k",
        "--colors",
        type=_colors,
        default=256,
        metavar="K",
        help="palette entries per frame, 2 to 256 (default: 256; with --min-ssimulacra2, "
        "the most a palette may have)",
    )
    a.add_argument(
        "--min-ssimulacra2",
        type=_score,
        metavar="X",
        help="per scene, the smallest palette whose first frame scores at least X "
        "SSIMULACRA2 (GIF and WebP)",
    )
    a.add_argument("--fps", type=_positive, metavar="F", help="resample to F frames per second")
    a.add_argument(
        "--width", type=_byte_count, metavar="W", help="resize to W pixels wide (aspect kept)"
    )
    a.add_argument("--start", type=_seconds, default=0.0, metavar="S", help="start S seconds in")
    a.add_argument("--duration", type=_positive, metavar="D", help="keep D seconds")
    a.add_argument(
        "--loop",
        type=_loop,
        metavar="N",
        help="times the animation repeats after its first play, 0 forever (GIF's count;"
        " APNG and WebP store N+1 plays; default: the input's, else forever)",
    )
    _add_engine_options(a, methods=("diffusion", "ordered"), seed=False)
    a.add_argument("-f", "--force", action="store_true", help="overwrite OUTPUT if it exists")
    a.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (with per-frame figures) instead of text",
    )
    a.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    a.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        metavar="N",
        help="refuse frames with more pixels (default: about 179 million)",
    )


_COMMANDS["animate"] = (
    "compress an animation or a video to an animated GIF, APNG or WebP",
    "Compress INPUT (an animated GIF, APNG or WebP, a video file, a folder "
    "of frames or a glob pattern) to an animated GIF, APNG or WebP with k-means palettes: "
    "pixels that do not change are not redrawn, so nothing flickers.",
    _animate_arguments,
)


def _demo_arguments(d: argparse.ArgumentParser) -> None:
    d.add_argument(
        "--out",
        default="palettepress-demo",
        metavar="DIR",
        help="folder for the demo files (default: palettepress-demo)",
    )
    d.add_argument(
        "-k",
        "--colors",
        type=_colors,
        default=32,
        metavar="K",
        help="palette size, 2 to 256 (default: 32)",
    )
    _add_engine_options(d)


_COMMANDS["demo"] = (
    "compress the built-in sample and show the result",
    "Compress the built-in sample image and write the original, "
    "the compressed PNG and a side-by-side picture into DIR.",
    _demo_arguments,
)


def _serve_arguments(w: argparse.ArgumentParser) -> None:
    w.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this computer only)",
    )
    w.add_argument(
        "--port", type=_port, default=8000, help="TCP port (default: 8000; 0: any free one)"
    )
    w.add_argument(
        "--max-upload-mb",
        type=_positive,
        default=50.0,
        metavar="MB",
        help="largest accepted upload in MB (default: 50)",
    )
    w.add_argument(
        "--max-pixels",
        type=_byte_count,
        default=None,
        metavar="N",
        help="refuse images with more pixels (default: about 179 million)",
    )


_COMMANDS["serve"] = (
    "run the local web app",
    "Serve a page to compress images interactively: pick an image, "
    "change colours, colour space, dithering or a quality target, "
    "compare before and after, download the file. Needs the extra "
    "'web'. Uploads are deleted after each request.",
    _serve_arguments,
)


def _add_format_option(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--format",
        choices=("png", "webp", "gif"),
        default=None,
        help=f"output format: indexed PNG, WebP lossless, or GIF (one transparent "
        f"colour: alpha below 128 becomes transparent) ({default})",
    )


def _add_engine_options(
    p: argparse.ArgumentParser,
    methods: tuple[str, ...] = ("diffusion", "ordered", "auto"),
    seed: bool = True,
) -> None:
    """The engine's options. ``seed`` False leaves out ``--seed``, for ``animate``, whose
    fit draws nothing at random."""
    p.add_argument(
        "--space",
        choices=("oklab", "rgb"),
        default="oklab",
        help="working colour space (default: oklab; images of greys only: rgb)",
    )
    p.add_argument(
        "--dither",
        type=_strength,
        nargs="?",
        const=1.0,
        default=1.0,
        metavar="S",
        help="dithering strength 0..1: 0 none, 1 (the default) the method's measured best",
    )
    p.add_argument(
        "--dither-method",
        choices=methods,
        default="diffusion",
        help="diffusion (default): error diffusion with the error limited; ordered: "
        "a flat, compact pattern"
        + (
            "; auto: whichever of those and none measures best per byte on the image"
            if "auto" in methods
            else ""
        ),
    )
    if seed:
        p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    p.add_argument(
        "--effort",
        type=_effort,
        default=5,
        metavar="E",
        help="1 (fastest) to 10 (best fit, smallest file); default 5",
    )


#: Images of this many pixels and more are compressed with blocks of 1 MiB and more mapped
#: from the system (see :func:`blocks_for`).
LARGE_IMAGE_PIXELS = 1 << 22

#: Below LARGE_IMAGE_PIXELS, blocks up to this size come from glibc's heap (see
#: :func:`blocks_for`): every array of an image of 4 MP is smaller.
HEAP_BLOCKS = 1 << 26


def blocks_for(pixels: int | None) -> None:
    """Set glibc's malloc, from now on in this process, for compressing an image of
    ``pixels`` pixels (None: not known from the file's header; nothing is changed).

    glibc maps blocks above its mmap threshold from the system (128 KiB to start with)
    and faults their pages in afresh each time; it raises the threshold as large arrays
    are freed (up to 32 MiB), after which they come from its heap and stay in the
    process. A command that compresses one image frees each size once, so nearly every
    array of it was mapped and faulted in. Below :data:`LARGE_IMAGE_PIXELS` the
    threshold is set to :data:`HEAP_BLOCKS` at once (and the heap's top kept): the
    command on CBSD68 photos, k = 16 / 64 / 256, 3% faster (1.58x to 1.54x pngquant's
    time, geometric mean over 6 photos, side by side). At and above it, blocks of 1 MiB
    and more are mapped and given back when freed, which lowers the default run's peak
    from 116 to 110 MiB on a 12 MP photo and from 589 to 576 MiB on a 110 MP one, at the
    same time (BENCHMARKS.md, large images); a batch keeps glibc's own choice (fixed at
    1 MiB, the 24 Kodak photos took 150 thousand page faults instead of 30, 1.99-2.18 s
    instead of 1.75-1.82).
    Linux with glibc only (``mallopt``); elsewhere nothing is changed.
    """
    if pixels is None or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        if pixels >= LARGE_IMAGE_PIXELS:
            mallopt(-1, 128 << 10)  # M_TRIM_THRESHOLD: glibc's own (after a small image)
            mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        else:
            mallopt(-1, 2 * HEAP_BLOCKS)  # M_TRIM_THRESHOLD
            mallopt(-3, HEAP_BLOCKS)
    except (OSError, AttributeError):
        pass


#: Commands whose files may come before, between or after their options.
_INTERMIXED = frozenset({"compress", "batch", "pre-commit"})

#: Commands after which the process ends without Python's teardown (see :func:`run`).
_QUICK_EXIT = frozenset({"compress", "animate"})


def _implicit_compress(argv: list[str]) -> list[str]:
    """``argv`` with ``compress`` in front where it names no command but starts with what
    only ``compress`` takes: a file (one that exists, or a name with a dot or a slash,
    which no command has), ``-`` (standard input), a palette size (pngquant's
    ``pngquant 64 FILE``) or an option other than ``--help`` and ``--version``.
    ``palettepress a.png`` then compresses as ``pngquant a.png`` does, a missing file is
    reported as one, and a mistyped command still as a command."""
    if not argv or argv[0] in _COMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    first = argv[0]
    path_like = "." in first or "/" in first or os.sep in first or os.path.exists(first)
    if first.startswith("-") or first.isdigit() or path_like:
        return ["compress", *argv]
    return argv


def run() -> None:
    """The ``palettepress`` program: :func:`main` on the process's arguments, then the
    exit. After ``compress`` and ``animate``, whose files are written and closed by then,
    the process ends without Python's teardown of numpy and the other modules, once the
    standard streams are flushed: that teardown took 30-40 ms of a 200-260 ms command on
    a CBSD68 photo (measured side by side). Every other command, and a stream that
    cannot be flushed, exits as usual."""
    argv = _implicit_compress(sys.argv[1:])
    code = main(argv)
    if argv and argv[0] in _QUICK_EXIT:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    # palettepress does no linear algebra: one BLAS thread, so that numpy's import does not
    # start a pool whose threads spin on the cores the compiled kernels use (a command
    # run takes about 3% less time). Set before numpy loads; a user's setting stands.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = _implicit_compress(sys.argv[1:] if argv is None else list(argv))
    command = argv[0] if argv and argv[0] in _COMMANDS else None
    parser = build_parser(command)
    try:
        if command in _INTERMIXED:
            # Options and files in any order, as pngquant takes them (``64 -f a.png``).
            args = _command_parser(parser, command).parse_intermixed_args(_joined_ext(argv[1:]))
            args.command = command
        else:
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code or 0)
    from .errors import PalettepressError

    def one_line(message, category, filename, lineno, file=None, line=None):
        print(f"palettepress: warning: {message}", file=sys.stderr)

    def terminate(signum, frame):
        raise Terminated()

    shown = warnings.showwarning
    warnings.showwarning = one_line  # warnings as one line each, like the errors
    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread, which alone handles signals
        previous = None
    try:
        from . import commands

        return getattr(commands, f"run_{args.command.replace('-', '_')}")(args)
    except PalettepressError as exc:
        print(f"palettepress: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("palettepress: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("palettepress: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except MemoryError:
        print("palettepress: error: out of memory", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        warnings.showwarning = shown
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
