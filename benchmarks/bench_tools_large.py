#!/usr/bin/env python
"""Time, peak memory, size and quality of palettepress against other quantizers on 12 and 110 MP.

The same comparison as ``bench_tools.py``'s on Kodak, on a 12 and a 110 megapixel image.

The tools are ``bench_tools.py``'s (see ``_tools.py``), each run as its own process at
k = 256 by the same helper process, ``_runner.py``, which takes each run's wall time and
peak resident memory; a run still going after ``--timeout`` seconds is killed and
reported as taking more than that, with its peak memory so far. Among them are both
defaults, which dither (``palettepress compress IN -o OUT -k K --force`` and ``pngquant
--force --output OUT K IN``): the project's time and memory targets on these images are
on palettepress / pngquant with those.

Images: the 12-megapixel ``large/IMG_1047.JPG`` and a 110-megapixel 3x bicubic upscale of
it. The JPEG is decoded by Pillow and saved as a PNG once, in ``--work``, and both large
inputs are PNGs given to every tool alike (pngquant reads nothing else). Every output is
decoded by Pillow and measured against the Pillow-decoded input by
:func:`palettepress.metrics.measure` (MSE, PSNR, SSIM, mean CIEDE2000).

Times are the median of ``--large-repeat`` runs (default 1), the tools' runs interleaved
per image in an order that rotates between repeats, after one untimed warm-up run of
each tool on the first Kodak photo; the all-pixel KMeans runs once, within the timeout.

The result replaces the block between ``<!-- bench_tools_large:start -->`` and
``<!-- bench_tools_large:end -->`` of ``--out`` (default BENCHMARKS.md). pngquant (GPL)
and ImageMagick are run as external programs only.

Examples
--------
    python benchmarks/bench_tools_large.py
    python benchmarks/bench_tools_large.py --large 12mp --tools palettepress,pngquant --out /tmp/large.md
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from _common import TargetRow, fmt, markdown_table, print_verdicts, script_parser, target_table
from _common import verdict, write_block
from _tools import (Input, Record, Tool, add_tool_options, by_key, choice_list,
                    count, header_lines, log, lower_bound, prepare_tools, problem_lines, run_all,
                    seconds_cell, tool_lines, write_json)

LARGE_SOURCE = Path("large") / "IMG_1047.JPG"
LARGE_SIZES = ("12mp", "110mp")
LARGE_K = 256
UPSCALE = 3
#: The warm-up runs: every tool once on this Kodak photo at this k, untimed.
WARM_UP_IMAGE = Path("kodak") / "kodim01.png"
WARM_UP_K = 16


@dataclass(frozen=True)
class Target:
    """A goal on palettepress / pngquant for one large image: ``ratio <= limit``, of the
    tools ``pp`` and ``pq`` (both defaults, dithered, unless named otherwise)."""

    image: str
    metric: str
    limit: float
    pp: str = "palettepress-default"
    pq: str = "pngquant-default"


TARGETS = (
    Target("12mp", "time", 0.8),
    Target("12mp", "rss", 1.3),
    Target("110mp", "time", 0.8),
    Target("110mp", "rss", 1.1),
)


# -- inputs --------------------------------------------------------------------------


def _png_of_size(path: Path, size: tuple[int, int]) -> bool:
    try:
        with Image.open(path) as im:
            return im.format == "PNG" and im.size == size
    except OSError:
        return False


def _save_png(image: Image.Image, path: Path) -> None:
    """Save losslessly at zlib level 1, beside ``path`` first: no cached file is ever cut short."""
    tmp = path.with_name(f".{path.name}.partial")
    image.save(tmp, "PNG", compress_level=1)
    os.replace(tmp, path)


def large_inputs(data: Path, work: Path, sizes: list[str]) -> tuple[list[Input], dict]:
    """The large PNG inputs, made in ``work`` from the JPEG on first use and reused after.

    The JPEG's pixels are taken as Pillow decodes them: no EXIF rotation and no ICC
    conversion are applied, so every tool and the metrics see the same stored values.
    Returns the inputs and a description of the source for the output.
    """
    if not sizes:
        return [], {}
    source = data / LARGE_SOURCE
    if not source.is_file():
        return [], {"missing": f"{source} not found: no large images"}
    with Image.open(source) as im:
        width, height = im.size
        orientation = int(im.getexif().get(0x0112, 1))
        icc = _icc_name(im.info.get("icc_profile"))
    about = {"source": str(source), "width": width, "height": height,
             "orientation": orientation, "icc": icc}
    work.mkdir(parents=True, exist_ok=True)
    plain = work / f"{source.stem}.png"
    upscaled = work / f"{source.stem}-x{UPSCALE}.png"
    wanted = {"12mp": (plain, (width, height)),
              "110mp": (upscaled, (UPSCALE * width, UPSCALE * height))}
    decoded = None
    for key in sizes:
        path, size = wanted[key]
        if _png_of_size(path, size):
            continue
        if decoded is None:
            log(f"bench_tools_large: decoding {source}")
            with Image.open(source) as im:
                decoded = im.convert("RGB")
        log(f"bench_tools_large: writing {path} ({size[0]}x{size[1]})")
        _save_png(decoded if key == "12mp" else decoded.resize(size, Image.Resampling.BICUBIC),
                  path)
    inputs = [Input("large", wanted[key][0].name, wanted[key][0], *wanted[key][1], key=key)
              for key in sizes]
    return inputs, about


def _icc_name(profile: bytes | None) -> str | None:
    if not profile:
        return None
    try:
        from PIL import ImageCms

        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()
    except Exception:  # an unreadable profile is still a profile
        return "unnamed profile"


def warm_up_input(data: Path) -> Input | None:
    """The photo of the warm-up runs, or None when it is missing (no warm-up then)."""
    path = data / WARM_UP_IMAGE
    if not path.is_file():
        log(f"bench_tools_large: {path} not found: no warm-up runs")
        return None
    with Image.open(path) as im:
        return Input("kodak", path.name, path, *im.size)


# -- summarising ---------------------------------------------------------------------


def target_results(records: list[Record], inputs: list[Input]) -> list[dict]:
    """palettepress / pngquant time and peak RSS on each large image, against :data:`TARGETS`."""
    index = by_key(records)
    names = {i.key: i for i in inputs if i.set == "large"}
    out = []
    for t in TARGETS:
        image = names.get(t.image)
        if image is None:
            continue
        pp = index.get(("large", image.name, t.pp, LARGE_K))
        pq = index.get(("large", image.name, t.pq, LARGE_K))
        if pp is None or pq is None:
            continue
        attr = "seconds" if t.metric == "time" else "rss_mib"
        value = math.nan
        if pp.runs_seconds and pq.measured and pp.error is None:
            value = getattr(pp, attr) / getattr(pq, attr)
        met = None if math.isnan(value) else value <= t.limit and not pp.timed_out
        out.append({"image": image.name, "key": t.image, "megapixels": image.megapixels,
                    "tools": f"{t.pp} / {t.pq}",
                    "metric": t.metric, "limit": t.limit, "value": value, "verdict": verdict(met)})
    return out


def target_rows(results: list[dict]) -> list[TargetRow]:
    """:func:`target_results` as the rows of the target table."""
    return [TargetRow(f"{r['image']} ({r['megapixels']:.0f} MP): "
                      + ("wall time" if r["metric"] == "time" else "peak RSS"),
                      f"<= {r['limit']:.1f}", fmt(r["value"], 2),
                      None if r["verdict"] == "n/a" else r["verdict"] == "PASS")
            for r in results]


# -- Markdown ------------------------------------------------------------------------


def render(records: list[Record], tools: list[Tool], inputs: list[Input], about_large: dict,
           env: dict, args: argparse.Namespace, warmed: bool, problems: list[str]) -> str:
    """The Markdown block (without the markers)."""
    lines = ["## palettepress against other quantizers: large images", "",
             "Generated by `benchmarks/bench_tools_large.py`; do not edit this block by hand, "
             "rerun the script (see `benchmarks/README.md`).", ""]
    repeats = [f"{count(args.large_repeat, 'run')} per large image"] if inputs else []
    lines += header_lines(env, args, repeats, "the first Kodak image" if warmed else "")
    lines += tool_lines(tools, env)
    if inputs:
        lines += _large_lines(records, tools, inputs, about_large)
    lines += problem_lines(records, problems)
    return "\n".join(lines).rstrip() + "\n"


def _large_lines(records: list[Record], tools: list[Tool], inputs: list[Input],
                 about_large: dict) -> list[str]:
    """The large-image table and the targets."""
    lines = [f"### Large images (k = {LARGE_K})", ""]
    if about_large:
        w, h = about_large["width"], about_large["height"]
        orient = ("no EXIF orientation" if about_large["orientation"] == 1 else
                  f"EXIF orientation {about_large['orientation']}, not applied")
        icc = (f"an embedded ICC profile ({about_large['icc']}), not applied"
               if about_large["icc"] else "no ICC profile")
        lines += [f"`{LARGE_SOURCE}` ({w}x{h}, {orient}, {icc}) is decoded by Pillow and "
                  f"saved losslessly as a PNG (zlib level 1): the 12 MP input. The 110 MP "
                  f"input is the same decoded pixels upscaled {UPSCALE}x by Pillow "
                  f"(`resize(({UPSCALE}w, {UPSCALE}h), Image.Resampling.BICUBIC)`), saved "
                  f"the same way. Both are cached in `--work` and every tool reads these "
                  f"PNGs, since pngquant reads nothing else.", ""]
    index = by_key(records)
    rows = []
    for image in (i for i in inputs if i.set == "large"):
        name = f"{image.name} ({image.megapixels:.1f} MP)"
        pq = index.get(("large", image.name, "pngquant", LARGE_K))
        for t in tools:
            r = index.get(("large", image.name, t.key, LARGE_K))
            if r is None:
                continue
            if r.error is not None:
                spent = f" after {r.seconds:.1f} s" if r.runs_seconds else ""
                rows.append([name, t.label, f"failed{spent}", fmt(r.rss_mib, 0), *["n/a"] * 6])
                continue
            ok_pq = pq is not None and pq.measured
            t_ratio = r.seconds / pq.seconds if ok_pq else math.nan
            m_ratio = r.rss_mib / pq.rss_mib if ok_pq else math.nan
            rows.append([
                name, t.label, seconds_cell(r.seconds, r.timed_out),
                lower_bound(f"{r.rss_mib:.0f}", r.timed_out),
                f"{r.bytes:,}" if r.measured else "n/a", fmt(r.bpp, 3),
                fmt(r.delta_e, 3), fmt(r.psnr, 2),
                lower_bound(fmt(t_ratio, 2), r.timed_out),
                lower_bound(fmt(m_ratio, 2), r.timed_out),
            ])
    lines += markdown_table(["image", "tool", "wall s", "peak RSS MiB", "bytes", "bpp",
                             "CIEDE2000", "PSNR dB", "time / pngquant", "RSS / pngquant"],
                            rows, "llrrrrrrrr")
    lines.append("")
    results = target_results(records, inputs)
    if results:
        lines += ["Targets, palettepress / pngquant, both with their default settings (dithered):", "",
                  *target_table(target_rows(results)), ""]
    return lines


# -- command line --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    p = script_parser(__doc__)
    p.add_argument("--large", type=choice_list(LARGE_SIZES), default=list(LARGE_SIZES),
                   help=f"large images to run at k={LARGE_K}: 12mp, 110mp or both "
                        "(default: both)")
    p.add_argument("--large-repeat", type=int, default=1, metavar="N",
                   help="timed runs per large image (default: 1)")
    add_tool_options(p, "folder for the large PNG inputs, made once and reused, and the "
                        "outputs while they are measured")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 when some run failed (a timeout is a result)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if min(args.large_repeat, args.threads) < 1 or args.timeout <= 0:
        sys.exit("bench_tools_large: --large-repeat and --threads must be at least 1, "
                 "--timeout positive")
    if not args.data.is_dir():
        sys.exit(f"bench_tools_large: test images not found at {args.data} (use --data)")
    Image.MAX_IMAGE_PIXELS = None  # the inputs are this script's own, up to 110 MP
    chosen, tools, env, child_env = prepare_tools(args, argv, "bench_tools_large")
    problems: list[str] = []
    inputs, about_large = large_inputs(args.data, args.work, args.large)
    if "missing" in about_large:
        problems.append(about_large.pop("missing"))

    def plan(image: Input) -> tuple[list[int], int, list[Tool]]:
        return [LARGE_K], args.large_repeat, tools

    log(f"bench_tools_large: {len(inputs)} large at k={LARGE_K}; "
        f"tools {', '.join(t.key for t in tools)}; repeat {args.large_repeat}, "
        f"timeout {args.timeout:g} s, {args.threads} threads")
    warm = warm_up_input(args.data) if inputs else None
    records = run_all(inputs, plan, tools, args, env, child_env,
                      (warm, WARM_UP_K) if warm is not None else None)
    write_block(args.out, "bench_tools_large",
                render(records, chosen, inputs, about_large, env, args,
                       warm is not None and bool(tools), problems))
    log(f"bench_tools_large: wrote {args.out}")
    if args.json is not None:
        settings = {"large_k": LARGE_K, "large_repeat": args.large_repeat,
                    "timeout": args.timeout, "threads": args.threads}
        summaries = {"large_source": about_large, "targets": target_results(records, inputs)}
        write_json(args.json, env, settings, chosen, inputs, summaries, records)
        log(f"bench_tools_large: wrote {args.json}")
    print_verdicts(target_rows(target_results(records, inputs)))
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
