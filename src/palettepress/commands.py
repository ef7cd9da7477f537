"""What each ``palettepress`` command does once its arguments are parsed: call the
library, print what it got, return the exit code (see :mod:`palettepress.cli`, which
declares the arguments, catches the errors and documents the exit codes)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys

from .cli import (
    EXIT_FILES_FAILED,
    EXIT_NOT_SMALLER,
    EXIT_OK,
    Terminated,
    blocks_for,
)

__all__ = [
    "run_compress",
    "run_pre_commit",
    "run_animate",
    "run_sweep",
    "run_batch",
    "run_serve",
    "run_demo",
]


def _human(result, output: str, source: str | None = None) -> str:
    src = source or result.input_path or "image"
    before = f"{result.input_bytes:,}" if result.input_bytes else "-"
    ratio = f"{result.ratio:.2f}x" if result.ratio else f"{result.raw_ratio:.2f}x of raw"
    note = " (lossless: the image has no more colours)" if result.lossless else ""
    psnr = "inf" if not math.isfinite(result.psnr) else f"{result.psnr:.2f}"
    ssim = "n/a" if math.isnan(result.ssim) else f"{result.ssim:.4f}"
    s2 = "n/a" if math.isnan(result.ssimulacra2) else f"{result.ssimulacra2:.2f}"
    return (
        f"{src} -> {output}: {result.format.upper()}, {result.colors} colours{note}\n"
        f"  size     {before} -> {result.output_bytes:,} bytes  ratio {ratio}  "
        f"{result.bpp:.3f} bpp\n"
        f"  quality  SSIMULACRA2 {s2}  PSNR {psnr} dB  SSIM {ssim}  "
        f"CIEDE2000 {result.delta_e:.3f}  MSE {result.mse:.2f}\n"
        f"  time     {result.seconds:.3f} s"
    )


def _record(result, output: str) -> dict:
    from .report import figures

    return {
        "input": result.input_path,
        "output": output,
        "k": result.requested_colors,
        "format": result.format,
        "colors": result.colors,
        "lossless": result.lossless,
        "dither": result.dither,
        "input_bytes": result.input_bytes,
        **figures(result),
    }


def run_compress(args) -> int:
    """Each input to its output; with several inputs a file that fails is reported and
    the others go on (the exit code is the first failure's, else 98 if a file was not
    smaller, else 0)."""
    from .errors import PalettepressError

    _check_compress(args)
    failed, skipped = None, False
    for source in args.inputs:
        try:
            code = _compress_one(args, source)
        except PalettepressError as exc:
            if len(args.inputs) == 1:
                raise
            print(f"palettepress: error: {exc}", file=sys.stderr)
            code = exc.exit_code
        if code == EXIT_NOT_SMALLER:
            skipped = True
        elif code != EXIT_OK and failed is None:
            failed = code
    if failed is not None:
        return failed
    return EXIT_NOT_SMALLER if skipped else EXIT_OK


#: The options that choose the palette size, one at most (the command line's exclusive
#: group), as attributes of the parsed arguments.
_SIZE_CHOICES = ("colors", "min_ssimulacra2", "min_ssim", "max_delta_e", "max_bytes", "palette")


def _leading_palette_size(args) -> None:
    """pngquant's habit, ``compress 64 a.png``: a first INPUT that is a whole number and
    no file, before others, is the palette size (as ``-k 64``)."""
    from .errors import ParameterError

    first = args.inputs[0]
    if len(args.inputs) < 2 or not first.isdigit() or os.path.exists(first):
        return
    given = [name for name in _SIZE_CHOICES if getattr(args, name) is not None]
    if given:
        option = "--" + given[0].replace("_", "-")
        raise ParameterError(f"{first} (a palette size) and {option}: give one of them")
    if not 2 <= int(first) <= 256:
        raise ParameterError(f"palette size must be from 2 to 256, got {first}")
    args.colors, args.inputs = int(first), args.inputs[1:]


def _check_compress(args) -> None:
    from .errors import ParameterError
    from .io import check_output

    _leading_palette_size(args)
    several = len(args.inputs) > 1
    if args.output is not None and several:
        raise ParameterError("-o names one output: give one INPUT, or none and use --ext")
    if args.output is not None and args.ext is not None:
        raise ParameterError("--ext names outputs beside the inputs: it cannot go with -o")
    if args.inputs.count("-") > 1:
        raise ParameterError("standard input (-) can be read once")
    if args.keep_colors is not None and args.palette is not None:
        raise ParameterError("--keep-colors fits a palette; it cannot go with --palette")
    if args.palette_out:
        from .palettes import FORMATS

        if several:
            raise ParameterError("--palette-out writes one palette: give one INPUT")
        if os.path.splitext(args.palette_out)[1].lower() not in FORMATS:
            raise ParameterError(
                f"{args.palette_out}: unknown palette format: use {', '.join(FORMATS)}"
            )
        check_output(args.palette_out, args.force)


def _output_for(args, source: str) -> tuple[str, str, bool]:
    """``(output, format, in place)`` of one input: ``-o``, else standard output for
    standard input, else NAME + the suffix beside the input."""
    from .errors import OutputError, ParameterError
    from .formats import FORMATS, format_of
    from .io import check_output

    if args.output is not None:
        out = args.output
    elif source == "-":
        out = "-"
    else:
        suffix = args.ext if args.ext is not None else "-pp" + FORMATS[args.format or "png"]
        out = os.path.splitext(source)[0] + suffix
    if out == "-":
        return out, args.format or "png", False
    named = format_of(out)
    ext = os.path.splitext(out)[1]
    if args.format and named and named != args.format:
        raise ParameterError(
            f"{out}: the name is a {named.upper()} file's, but --format is {args.format}"
        )
    if named is None and ext and not args.format:
        raise ParameterError(
            f"{out}: unknown output format {ext!r}: name the file .png, .webp or .gif, "
            "or give --format"
        )
    in_place = source != "-" and os.path.abspath(out) == os.path.abspath(source)
    if in_place and args.output is not None:
        raise OutputError(f"{out}: output would overwrite the input file")
    check_output(out, args.force)
    return out, args.format or named or "png", in_place


def _compress_one(args, source: str) -> int:
    from .io import DEFAULT_MAX_PIXELS, pixel_count, write_atomic
    from .pipeline import compress

    out, fmt, in_place = _output_for(args, source)
    target = {
        name: getattr(args, name)
        for name in ("min_ssimulacra2", "min_ssim", "max_delta_e", "max_bytes")
        if getattr(args, name) is not None
    }
    with _readable(source) as path:
        blocks_for(pixel_count(path))
        result = compress(
            path,
            args.colors or 256,
            seed=args.seed,
            strip=args.strip,
            palette=args.palette,
            keep_colors=args.keep_colors,
            format=fmt,
            max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
            **_engine_options(args),
            **target,
        )
    name = "-" if source == "-" else source
    # Where any input's file goes to standard output (-o -, or standard input's file),
    # every report goes to stderr.
    report = sys.stderr if "-" in (args.output, *args.inputs) else sys.stdout
    if args.skip_if_larger and result.input_bytes and result.output_bytes >= result.input_bytes:
        if not args.quiet:  # pngquant's --quiet says nothing of it either
            print(
                f"palettepress: {name}: not written: {result.output_bytes:,} bytes would not "
                f"be smaller than the input's {result.input_bytes:,}",
                file=sys.stderr,
            )
            if args.json:  # one object a file, this one saying that nothing was written
                import json

                record = {**_record(result, out), "input": name, "output": None}
                print(json.dumps({**record, "skipped": "not smaller"}), file=report)
        return EXIT_NOT_SMALLER
    if out == "-":
        _to_stdout(result.data)
    elif in_place:
        write_atomic(out, result.data, force=True)  # replaces the input, atomically
    else:  # the name is checked (or --format chose the format): written as named
        write_atomic(out, result.data, force=args.force, source=result.input_path)
    if args.palette_out:
        _write_palette(args, result, out)
    if args.quiet:
        return EXIT_OK
    if args.json:
        import json

        print(json.dumps({**_record(result, out), "input": name}), file=report)
    else:
        if target:
            ((tname, value),) = target.items()
            print(
                f"{tname.replace('_', '-')} {value:g}: chose k = {result.requested_colors}",
                file=report,
            )
        print(_human(result, out, name), file=report)
    return EXIT_OK


def _to_stdout(data: bytes) -> None:
    """Write a file's bytes to standard output; OutputError where that fails (a closed
    pipe, a full disk)."""
    from .errors import OutputError

    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as exc:
        raise OutputError(f"standard output: cannot write ({exc.strerror or exc})") from exc


def _write_palette(args, result, out: str) -> None:
    from .palettes import write_palette

    try:
        write_palette(args.palette_out, result.palette, force=args.force)
    except BaseException:
        if out != "-":
            os.unlink(out)  # all or nothing: no image without its requested palette
        raise


@contextlib.contextmanager
def _readable(source: str):
    """A path to read ``source`` from: itself, or for ``-`` a temporary copy of standard
    input (removed afterwards), whose errors name standard input, not the copy."""
    if source != "-":
        yield source
        return
    import tempfile

    from .errors import PalettepressError

    with tempfile.TemporaryDirectory(prefix="palettepress-stdin-") as folder:
        path = os.path.join(folder, "stdin")
        with open(path, "wb") as fh:
            fh.write(sys.stdin.buffer.read())
        try:
            yield path
        except PalettepressError as exc:
            exc.args = tuple(a.replace(path, "-") if isinstance(a, str) else a for a in exc.args)
            raise


def run_pre_commit(args) -> int:
    """Each file rewritten in place when the result is smaller and keeps the quality (a
    file of at most K colours: losslessly); any other, and any animation, left
    untouched. Exit code 0 unless a file cannot be read or written."""
    from .errors import PalettepressError, TargetError
    from .formats import format_of
    from .histogram import histogram, pixels2d
    from .io import frame_count, load_image, write_atomic
    from .pipeline import compress

    worst = EXIT_OK
    for path in args.files:
        frames = frame_count(path)
        if frames > 1:  # a still of its first frame would replace the animation
            print(f"palettepress: {path}: kept: an animation of {frames} frames")
            continue
        try:
            image = load_image(path)
            # An image of at most K colours (the hook's own output among them) is only
            # stored losslessly: measured against itself each run, a quality target
            # would take a little more away at every commit.
            few = len(histogram(pixels2d(image.pixels))) <= args.colors
            result = compress(
                image,
                args.colors,
                min_ssimulacra2=None if few else args.min_ssimulacra2,
                effort=args.effort,
                format=format_of(path) or "png",
            )
        except TargetError:
            print(
                f"palettepress: {path}: kept: no palette keeps SSIMULACRA2 {args.min_ssimulacra2:g}"
            )
            continue
        except PalettepressError as exc:
            print(f"palettepress: error: {exc}", file=sys.stderr)
            worst = worst or exc.exit_code
            continue
        if not result.input_bytes or result.output_bytes >= result.input_bytes:
            print(
                f"palettepress: {path}: kept: {result.output_bytes:,} bytes would not be "
                f"smaller than {result.input_bytes or 0:,}"
            )
            continue
        write_atomic(path, result.data, force=True)
        print(
            f"palettepress: {path}: {result.input_bytes:,} -> {result.output_bytes:,} bytes, "
            f"{result.colors} colours, SSIMULACRA2 {result.ssimulacra2:.1f}"
        )
    return worst


def run_sweep(args) -> int:
    from .errors import require
    from .io import load
    from .report import DEFAULT_COLORS, make_folder, record, table, write_report
    from .sweeps import sweep

    require("matplotlib", "report", "the sweep report's plot")  # fail before any work
    image = load(args.input)  # decoded once: for the sweep and for the report's original
    make_folder(args.out)  # before the sweep's work
    results = sweep(
        image,
        args.colors or DEFAULT_COLORS,
        seed=args.seed,
        min_ssimulacra2=args.min_ssimulacra2,
        format=args.format or "png",
        **_engine_options(args),
    )
    write_report(
        args.out,
        image.pixels,
        results,
        title=f"palettepress sweep: {os.path.basename(args.input)}",
        input_bytes=results[0].input_bytes,
    )
    if args.json:
        import json

        print(json.dumps([record(r) for r in results]))
    else:
        print(table(results))
        print(f"report: {os.path.join(args.out, 'report.html')}")
    return EXIT_OK


def run_batch(args) -> int:
    import time

    from .batch import Progress, StorageFullError, run_batch, summary, write_summary

    options = {**_engine_options(args), "seed": args.seed}
    if args.format and args.format != "png":
        options["format"] = args.format  # png stays out: the settings tag of earlier runs holds
    if args.min_ssimulacra2 is not None:
        options["min_ssimulacra2"] = args.min_ssimulacra2
    elif args.min_ssim is not None:
        options["min_ssim"] = args.min_ssim
    elif args.max_delta_e is not None:
        options["max_delta_e"] = args.max_delta_e
    else:
        options["colors"] = args.colors or 256
    started = time.perf_counter()
    progress = Progress()
    finished: list[dict] = []

    def report(done: int, total: int, rec: dict) -> None:
        finished.append(rec)
        progress(done, total, rec)

    # Stop signals only record the request; the batch acts on it between files.
    requested: list[BaseException] = []

    def request(signum, frame):
        requested.append(KeyboardInterrupt() if signum == signal.SIGINT else Terminated())

    import threading

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        records = run_batch(
            args.inputs,
            args.output,
            options,
            recursive=args.recursive,
            workers=args.workers,
            scheduler=args.scheduler,
            shared_palette=args.shared_palette,
            skip_if_larger=args.skip_if_larger,
            progress=report,
            stop=lambda: requested[0] if requested else None,
        )
    except (KeyboardInterrupt, Terminated, StorageFullError) as exc:
        if args.summary:  # what was done before the stop
            stop = "storage full" if isinstance(exc, StorageFullError) else True
            write_summary(
                args.summary,
                finished,
                {**summary(finished, time.perf_counter() - started), "interrupted": stop},
            )
        raise
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        progress.close()
    totals = summary(records, time.perf_counter() - started)
    if args.summary:
        write_summary(args.summary, records, totals)
    ratio = (
        f", ratio {totals['input_bytes'] / totals['output_bytes']:.2f}x"
        if totals["output_bytes"]
        else ""
    )
    quality = (
        f"; SSIMULACRA2 mean {totals['ssimulacra2_mean']:.2f}, worst {totals['ssimulacra2_min']:.2f}"
        if totals["ssimulacra2_mean"] is not None
        else ""
    )
    print(
        f"{totals['files']} files: {totals['ok']} ok, {totals['skipped']} skipped"
        + (f" ({totals['not_smaller']} not smaller)" if totals["not_smaller"] else "")
        + ", "
        f"{totals['failed']} failed; {totals['input_bytes']:,} -> {totals['output_bytes']:,} bytes"
        f"{ratio}{quality}; {totals['seconds']:.1f} s"
    )
    for rec in records:
        for warning in rec.get("warnings") or ():
            print(f"palettepress: warning: {warning}", file=sys.stderr)
        if rec["status"] == "failed":
            print(f"failed: {rec['error']}", file=sys.stderr)
    return EXIT_FILES_FAILED if totals["failed"] else EXIT_OK


def run_animate(args) -> int:
    from .animation import _format_name
    from .io import check_output

    args.format = _format_name(args.format)
    args.output = _animation_output(args)
    to_stdout = args.output == "-"
    if not to_stdout:
        check_output(args.output, args.force)
    with _readable(args.input) as path:
        result = _animate(args, path, None if to_stdout else args.output)
    report = sys.stderr if to_stdout else sys.stdout
    if to_stdout:  # made in memory, written whole: a pipe cannot be rewound
        _to_stdout(result.data)
    if args.json:
        import json

        record = {"input": args.input, "output": args.output, **result.summary()}
        print(json.dumps(_finite(record)), file=report)
        return EXIT_OK
    if args.quiet:
        return EXIT_OK
    before = f"{result.input_bytes:,}" if result.input_bytes else "-"
    ratio = f"  ratio {result.ratio:.2f}x" if result.ratio else ""
    p10 = result.ssimulacra2_p10
    quality = (
        "n/a"
        if result.ssimulacra2_mean is None
        else f"{result.ssimulacra2_mean:.2f} (p10 {p10:.2f})"
    )
    print(
        f"{args.input} -> {args.output}: {result.format.upper()}, {result.frames} frames "
        f"({result.source_frames} read), {result.width}x{result.height}, "
        f"{result.duration:.2f} s\n"
        f"  size     {before} -> {result.output_bytes:,} bytes{ratio}  "
        f"{result.bpp:.3f} bpp per frame\n"
        f"  quality  SSIMULACRA2 {quality}  flicker {result.flicker:.4f}"
        + ("  (lossless)" if result.lossless else "")
        + f"\n  time     {result.seconds:.2f} s",
        file=report,
    )
    return EXIT_OK


def _animation_output(args) -> str:
    """``-o``, else standard output for standard input, else beside the input: its name
    (a folder's, without the trailing slash) + ``-pp`` + the format's extension, the
    format by default the input's own where it is an animated format, else GIF."""
    from .animation import FORMATS, format_of
    from .errors import ParameterError

    if args.output is not None:
        return args.output
    if args.input == "-":
        return "-"
    source = args.input.rstrip("/" + os.sep) or args.input
    if not os.path.exists(source) and any(c in source for c in "*?["):
        raise ParameterError(f"{args.input}: give -o OUTPUT for a glob pattern")
    fmt = args.format or (None if os.path.isdir(source) else format_of(source)) or "gif"
    return os.path.splitext(source)[0] + "-pp" + FORMATS[fmt][0]


def _animate(args, source: str, output: str | None):
    from .animation import animate
    from .io import DEFAULT_MAX_PIXELS

    return animate(
        source,
        args.colors,
        output=output,
        format=args.format,
        fps=args.fps,
        width=args.width,
        start=args.start,
        duration=args.duration,
        loop=args.loop,
        force=args.force,
        min_ssimulacra2=args.min_ssimulacra2,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        **_engine_options(args),
    )


def _engine_options(args) -> dict:
    """The options ``cli._add_engine_options`` gives every command, as the library takes
    them; ``seed`` aside, which :func:`~palettepress.animate` does not take."""
    return {
        "space": args.space,
        "dither": args.dither,
        "dither_method": args.dither_method,
        "effort": args.effort,
    }


def _finite(value):
    """``value`` with non-finite floats as None, for JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def run_serve(args) -> int:
    # The web module loads only here, so the other commands do not pay for importing it.
    from .web.app import serve

    serve(
        host=args.host, port=args.port, max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels
    )
    return EXIT_OK


def run_demo(args) -> int:
    import numpy as np
    from PIL import Image

    from .pipeline import compress
    from .sample import sample_image

    os.makedirs(args.out, exist_ok=True)
    original = sample_image()
    original_path = os.path.join(args.out, "sample.png")
    Image.fromarray(original).save(original_path, optimize=True)
    result = compress(
        original_path,
        args.colors,
        seed=args.seed,
        **_engine_options(args),
    )
    out_path = os.path.join(args.out, f"sample-k{args.colors}.png")
    result.save(out_path, force=True)
    h, w = original.shape[:2]
    gap = 8
    side = np.full((h, 2 * w + gap, 3), 255, dtype=np.uint8)
    side[:, :w] = original
    side[:, w + gap :] = result.image[:, :, :3]
    side_path = os.path.join(args.out, "side-by-side.png")
    Image.fromarray(side).save(side_path)
    print(_human(result, out_path))
    print(f"  side by side (original | compressed): {side_path}")
    return EXIT_OK
