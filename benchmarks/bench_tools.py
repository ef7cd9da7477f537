#!/usr/bin/env python
"""Time, peak memory, size and quality of palettepress against other colour quantizers.

Tools, each run as its own process at palette size k, without dithering:

1. ``palettepress compress IN -o OUT -k K --dither 0 --force``;
2. ``pngquant --nofs --force --output OUT K IN``;
3. ImageMagick ``convert IN -dither None -colors K PNG8:OUT`` (``magick`` when installed);
4. Pillow median cut and 5. Pillow fast octree (``Image.quantize``);
6. scikit-learn's gallery example "Color Quantization using K-Means" (KMeans fitted on
   1,000 sampled pixels, then ``predict`` on all);
7. scikit-learn KMeans fitted on every pixel (``n_init=1``);

and both defaults, which dither: ``palettepress compress IN -o OUT -k K --force`` and
``pngquant --force --output OUT K IN``.

The Python tools run as ``python benchmarks/_quantizers.py TOOL IN OUT K`` (see that
file), so every time includes process start-up, as the ``palettepress`` command's does.
Each run is forked by a small helper process, ``_runner.py``, which takes its wall time
with :func:`time.perf_counter` from fork to exit and its peak resident memory from the
``ru_maxrss`` that :func:`os.wait4` reports for it (forked from the helper, a run does not
count the memory this script holds; see ``_runner.py``). A run still going after
``--timeout`` seconds is killed and reported as taking more than that, with its peak
memory so far. The tools, the helper and the records are shared with
``bench_tools_large.py`` (the 12 and 110 megapixel images) through ``_tools.py``.

Images: the 24 Kodak photos at k = 16, 64 and 256. Every output is decoded by Pillow and
measured against the Pillow-decoded input by :func:`palettepress.metrics.measure` (MSE,
PSNR, SSIM, mean CIEDE2000).

Times are the median of ``--repeat`` runs, the tools' runs interleaved per image in an
order that rotates between repeats; the all-pixel KMeans runs once, on the first
``--sklearn-full-images`` Kodak photos only.

The result replaces the block between ``<!-- bench_tools:start -->`` and
``<!-- bench_tools:end -->`` of ``--out`` (default BENCHMARKS.md); the rate-distortion
plot is written to ``--plot`` (default ``docs/rd-tools.png``) and linked from the block.
pngquant (GPL) and ImageMagick are run as external programs only.

Examples
--------
    python benchmarks/bench_tools.py
    python benchmarks/bench_tools.py --quick --out /tmp/bench_tools.md --plot /tmp/rd.png
    python benchmarks/bench_tools.py --images 4 --colors 64 --tools palettepress,pngquant
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from pathlib import Path

from PIL import Image

from _common import REPO, fmt, geomean, markdown_table, palette_sizes, script_parser, write_block
from _tools import (FULL_KMEANS, Input, Record, Tool, add_tool_options, by_key, count,
                    header_lines, log, lower_bound, prepare_tools, problem_lines, run_all,
                    tool_lines, write_json)

DEFAULT_PLOT = REPO / "docs" / "rd-tools.png"
QUICK_IMAGES = 2
QUICK_COLORS = [16, 64]


def kodak_inputs(data: Path, limit: int | None) -> list[Input]:
    """The first ``limit`` Kodak photos by name (all for None)."""
    if limit is not None and limit <= 0:
        return []
    folder = data / "kodak"
    paths = sorted(folder.glob("kodim*.png"))[:limit]
    if not paths:
        sys.exit(f"bench_tools: no Kodak images under {folder} (use --data, or --images 0)")
    inputs = []
    for path in paths:
        with Image.open(path) as im:
            inputs.append(Input("kodak", path.name, path, *im.size))
    return inputs


# -- summarising ---------------------------------------------------------------------


def _ratios(records: list[Record], index: dict, reference: str, attr: str,
            need_measured: bool) -> list[float]:
    """Per-record ``attr`` ratios to the ``reference`` tool's on the same image and k."""
    out = []
    for r in records:
        ref = index.get((r.set, r.image, reference, r.k))
        if ref is None or ref.error is not None or ref.timed_out or r.error is not None:
            continue
        if need_measured and not (r.measured and ref.measured):
            continue
        a, b = getattr(r, attr), getattr(ref, attr)
        if b > 0 and not math.isnan(a):
            out.append(a / b)
    return out


def kodak_rows(records: list[Record], tools: list[Tool], colors: list[int]) -> list[dict]:
    """One summary row per k and tool over the Kodak records."""
    index = by_key(records)
    rows = []
    for k in colors:
        for tool in tools:
            sub = [r for r in records if r.set == "kodak" and r.tool == tool.key and r.k == k
                   and r.error is None and r.runs_seconds]
            if not sub:
                continue
            done = [r for r in sub if r.measured]
            rows.append({
                "k": k, "tool": tool.key, "label": tool.label, "images": len(sub),
                "timed_out": sum(r.timed_out for r in sub),
                "seconds": geomean([r.seconds for r in sub]),
                "time_ratio": geomean(_ratios(sub, index, "palettepress", "seconds", False)),
                "rss_median": statistics.median(r.rss_mib for r in sub),
                "rss_max": max(r.rss_mib for r in sub),
                "bytes_ratio": geomean(_ratios(done, index, "palettepress", "bytes", True)),
                **{attr: (statistics.fmean(getattr(r, attr) for r in done) if done else math.nan)
                   for attr in ("bpp", "delta_e", "psnr", "ssim", "mse")},
            })
    return rows


def full_kmeans_summary(records: list[Record]) -> dict | None:
    """The all-pixel KMeans against palettepress on the Kodak runs both made."""
    index = by_key(records)
    pairs = []
    for r in records:
        if r.set != "kodak" or r.tool != FULL_KMEANS or r.error is not None or not r.runs_seconds:
            continue
        pp = index.get((r.set, r.image, "palettepress", r.k))
        if pp is not None and pp.measured:
            pairs.append((r, pp))
    if not pairs:
        return None
    done = [(r, pp) for r, pp in pairs if r.measured]
    time_ratios = [r.seconds / pp.seconds for r, pp in pairs]
    mean = lambda xs: statistics.fmean(xs) if xs else math.nan  # noqa: E731
    return {
        "runs": len(pairs), "timed_out": sum(r.timed_out for r, _ in pairs),
        "images": sorted({r.image for r, _ in pairs}), "k": sorted({r.k for r, _ in pairs}),
        "time_ratio": geomean(time_ratios), "time_ratio_min": min(time_ratios),
        "time_ratio_max": max(time_ratios),
        "time_ratio_by_k": {k: geomean([r.seconds / pp.seconds for r, pp in pairs if r.k == k])
                            for k in sorted({r.k for r, _ in pairs})},
        "measured": len(done),
        "delta_e": mean([r.delta_e for r, _ in done]),
        "pp_delta_e": mean([pp.delta_e for _, pp in done]),
        "psnr": mean([r.psnr for r, _ in done]),
        "pp_psnr": mean([pp.psnr for _, pp in done]),
        "bytes_ratio": geomean([r.bytes / pp.bytes for r, pp in done]),
    }


# -- plot ----------------------------------------------------------------------------


def plot_rd(records: list[Record], tools: list[Tool], colors: list[int], path: Path) -> str | None:
    """Bytes per pixel against mean CIEDE2000 on Kodak, one line per tool; returns an
    error message instead of raising when the plot cannot be made."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e .[bench]): no plot"
    kodak = [r for r in records if r.set == "kodak" and r.measured]
    all_images = {r.image for r in kodak}

    def curve(tool: str, images: set[str]) -> tuple[list[float], list[float], list[int]]:
        xs, ys, ks = [], [], []
        for k in colors:
            sub = [r for r in kodak if r.tool == tool and r.k == k and r.image in images]
            if sub:
                xs.append(statistics.fmean(r.bytes / (r.width * r.height) for r in sub))
                ys.append(statistics.fmean(r.delta_e for r in sub))
                ks.append(k)
        return xs, ys, ks

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for tool in tools:
        images = {r.image for r in kodak if r.tool == tool.key}
        xs, ys, ks = curve(tool.key, images)
        if not xs:
            continue
        subset = images != all_images
        label = tool.label + (f" ({count(len(images), 'image')})" if subset else "")
        line, = ax.plot(xs, ys, marker="o", label=label)
        if tool.key == "palettepress":
            for x, y, k in zip(xs, ys, ks):
                ax.annotate(f"k={k}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        if subset and tool.key != "palettepress":
            pxs, pys, _ = curve("palettepress", images)
            if pxs:
                ax.plot(pxs, pys, linestyle="--", marker=".", color=line.get_color(), alpha=0.6,
                        label=f"palettepress on the same {count(len(images), 'image')}")
    ax.set_xlabel("bytes per pixel (file size / pixels)")
    ax.set_ylabel("mean CIEDE2000 (lower is better)")
    top = ax.secondary_xaxis("top", functions=(lambda b: 8 * b, lambda b: b / 8))
    top.set_xlabel("bits per pixel")
    ax.set_title(f"Kodak ({count(len(all_images), 'image')}), k = {', '.join(map(str, colors))}: "
                 "size against colour error", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# -- Markdown ------------------------------------------------------------------------


def render(records: list[Record], tools: list[Tool], inputs: list[Input], env: dict,
           args: argparse.Namespace, plot_link: str | None, problems: list[str]) -> str:
    """The Markdown block (without the markers)."""
    lines = ["## palettepress against other quantizers", "",
             "Generated by `benchmarks/bench_tools.py`; do not edit this block by hand, rerun the "
             "script (see `benchmarks/README.md`).", ""]
    if args.quick:
        lines += [f"**Quick run** ({count(len(inputs), 'Kodak image')}, k = "
                  f"{', '.join(map(str, args.colors))}, repeat {args.repeat}): a smoke test, "
                  "not representative.", ""]
    repeats = [f"{count(args.repeat, 'run')} per Kodak image and k"] if inputs else []
    lines += header_lines(env, args, repeats, "the first image" if inputs else "")
    lines += tool_lines(tools, env)
    if inputs:
        lines += _kodak_lines(records, tools, inputs, args)
    if plot_link:
        lines += ["### Rate-distortion", "",
                  f"![Bytes per pixel against mean CIEDE2000 on Kodak, one line per tool]"
                  f"({plot_link})", "",
                  "Means over the Kodak images at each k; lower and further left is better.", ""]
    lines += problem_lines(records, problems)
    return "\n".join(lines).rstrip() + "\n"


def _kodak_lines(records: list[Record], tools: list[Tool], kodak: list[Input],
                 args: argparse.Namespace) -> list[str]:
    """The Kodak table and the sentence on the all-pixel KMeans."""
    lines = [f"### Kodak ({count(len(kodak), 'image')})", ""]
    full = any(t.key == FULL_KMEANS and not t.missing for t in tools)
    if full and args.sklearn_full_images < len(kodak):
        subset = [i.name for i in kodak[:args.sklearn_full_images]]
        lines += [f"The all-pixel KMeans runs on the first {count(len(subset), 'image')} only "
                  f"({', '.join(subset) or 'none'}; `--sklearn-full-images`): its absolute "
                  "columns are over those, its ratios against palettepress on the same "
                  "images.", ""]
    rows = []
    for row in kodak_rows(records, tools, args.colors):
        bound = row["timed_out"] > 0
        images = str(row["images"]) + (f" ({row['timed_out']} timed out)" if bound else "")
        rows.append([
            str(row["k"]), row["label"], images,
            lower_bound(fmt(row["seconds"], 3), bound),
            lower_bound(fmt(row["time_ratio"], 2), bound),
            f"{row['rss_median']:.0f} / {row['rss_max']:.0f}",
            fmt(row["bytes_ratio"], 3), fmt(row["bpp"], 3), fmt(row["delta_e"], 3),
            fmt(row["psnr"], 2), fmt(row["ssim"], 4), fmt(row["mse"], 1),
        ])
    lines += markdown_table(["k", "tool", "images", "s / image", "time / palettepress",
                             "peak RSS MiB median / max", "bytes / palettepress", "bpp",
                             "CIEDE2000", "PSNR dB", "SSIM", "MSE"], rows, "rlrrrrrrrrrr")
    lines += ["", "s / image and the ratios are geometric means over the images of each "
              "image's figures; quality columns are means. Ratios below 1: smaller or "
              "faster than palettepress.", ""]
    summary = full_kmeans_summary(records)
    if summary is not None:
        lines += [_full_kmeans_sentence(summary, args.timeout), ""]
    return lines


def _times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _full_kmeans_sentence(s: dict, timeout: float) -> str:
    bound = "at least " if s["timed_out"] else ""
    images = s["images"]
    names = images[0] if len(images) == 1 else f"{images[0]} to {images[-1]}"
    by_k = ", ".join(f"k={k}: {_times(v)}" for k, v in s["time_ratio_by_k"].items())
    text = (f"**scikit-learn KMeans on all pixels against palettepress**, on {names} "
            f"({count(len(images), 'image')} x k = "
            f"{', '.join(map(str, s['k']))}): {bound}{_times(s['time_ratio'])} palettepress's "
            f"wall time (geometric mean of {s['runs']} runs, {_times(s['time_ratio_min'])} to "
            f"{_times(s['time_ratio_max'])}; {by_k})")
    if s["timed_out"]:
        text += (f", {count(s['timed_out'], 'run')} timed out after "
                 f"{timeout:g} s and counted at that")
    if s["measured"]:
        text += (f"; mean CIEDE2000 {s['delta_e']:.3f} against palettepress's "
                 f"{s['pp_delta_e']:.3f}, PSNR {s['psnr']:.2f} against {s['pp_psnr']:.2f} dB, "
                 f"files {s['bytes_ratio']:.3f}x palettepress's size "
                 f"(over the {s['measured']} finished runs).")
    else:
        text += "; no run finished, so there is no quality to compare."
    return text


# -- command line --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    p = script_parser(__doc__)
    p.add_argument("--colors", type=palette_sizes, default=None,
                   help="palette sizes on Kodak (default: 16,64,256; 16,64 with --quick)")
    p.add_argument("--images", type=int, default=None, metavar="N",
                   help=f"first N Kodak images, 0 for none "
                        f"(default: all; {QUICK_IMAGES} with --quick)")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="timed runs per Kodak image and k; times are their median "
                        "(default: 3, or 1 with --quick)")
    p.add_argument("--sklearn-full-images", type=int, default=4, metavar="N",
                   help="Kodak images the all-pixel scikit-learn KMeans runs on, the first N "
                        "(default: 4)")
    add_tool_options(p, "folder for the outputs while they are measured")
    p.add_argument("--plot", type=Path, default=DEFAULT_PLOT, metavar="PATH",
                   help="rate-distortion plot to write (default: docs/rd-tools.png)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: first {QUICK_IMAGES} Kodak images, k = 16, 64, repeat 1")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options, with the defaults that depend on ``--quick`` filled in and checked."""
    args = build_parser().parse_args(argv)
    if args.colors is None:
        args.colors = QUICK_COLORS if args.quick else [16, 64, 256]
    if args.images is None and args.quick:
        args.images = QUICK_IMAGES
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if min(args.repeat, args.threads) < 1 or args.timeout <= 0:
        sys.exit("bench_tools: --repeat and --threads must be at least 1, --timeout positive")
    if not args.data.is_dir():
        sys.exit(f"bench_tools: test images not found at {args.data} (use --data)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 when some run failed (a timeout is a result)."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    chosen, tools, env, child_env = prepare_tools(args, argv, "bench_tools")
    inputs = kodak_inputs(args.data, args.images)
    full_on = {i.name for i in inputs[:args.sklearn_full_images]}

    def plan(image: Input) -> tuple[list[int], int, list[Tool]]:
        return args.colors, args.repeat, [t for t in tools
                                          if t.key != FULL_KMEANS or image.name in full_on]

    log(f"bench_tools: {len(inputs)} Kodak images x k={args.colors}; "
        f"tools {', '.join(t.key for t in tools)}; "
        f"repeat {args.repeat}, timeout {args.timeout:g} s, {args.threads} threads")
    warm = (inputs[0], args.colors[0]) if inputs else None
    records = run_all(inputs, plan, tools, args, env, child_env, warm)

    problems: list[str] = []
    plot_link = None
    if any(r.measured for r in records):
        error = plot_rd(records, tools, args.colors, args.plot)
        if error:
            problems.append(error)
        else:
            relative = os.path.relpath(args.plot.resolve(), args.out.resolve().parent)
            plot_link = Path(relative).as_posix()
            log(f"bench_tools: wrote {args.plot}")
    write_block(args.out, "bench_tools", render(records, chosen, inputs, env, args, plot_link,
                                                problems))
    log(f"bench_tools: wrote {args.out}")
    if args.json is not None:
        settings = {"colors": args.colors, "repeat": args.repeat, "timeout": args.timeout,
                    "sklearn_full_images": args.sklearn_full_images, "threads": args.threads}
        summaries = {"kodak_summary": kodak_rows(records, chosen, args.colors),
                     "sklearn_full_vs_palettepress": full_kmeans_summary(records)}
        write_json(args.json, env, settings, chosen, inputs, summaries, records)
        log(f"bench_tools: wrote {args.json}")
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
