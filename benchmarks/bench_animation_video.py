#!/usr/bin/env python
"""Animated GIFs from video files: the animation set's clips as H.264, side by side.

Screen recordings and clips reach a GIF maker as video files more often than as lossless
frames, and a video decoder does not give the still parts of a picture back exactly:
where the encoder coded a block again, its pixels move by a level or two. Each clip of
the set (``--clips`` picks some) is encoded by ffmpeg (libx264, yuv420p, each CRF of
``--crf``), and every row makes a GIF from that one file: three ffmpeg palettegen /
paletteuse recipes, ``palettepress animate``, and the same with the decoder's changes
redrawn (``temporal.NOISE_LEVELS`` 0, through ``_animation.py``), which shows what
keeping them buys. Every output is measured as ``bench_animation.py`` measures it
(decoded by Pillow, lined up by time), against the video as PyAV decodes it: bytes,
SSIMULACRA2 over every 4th frame (mean, p10), and flicker on the pixels the decoder
gives back exactly. Writes the block between ``<!-- bench_animation_video:start -->``
and ``<!-- bench_animation_video:end -->`` of ``--out``.

    python benchmarks/animation_set.py                        # the set, once
    python benchmarks/bench_animation_video.py                # 13 clips at CRF 23: ~2 min
    python benchmarks/bench_animation_video.py --clips terminal,lines --crf 20,30 --out /tmp/v.md
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from _animation import DEFAULT_SET, FRAME_PATTERN, Row, read_clips
from _common import environment, fmt, geomean, json_ready, markdown_table, script_parser, tool_version, write_block
from bench_animation import Record, argv_of, by_row, measure, missing, run_timed

_IN = ("ffmpeg", "-v", "error", "-y", "-i", "{in}")


def _ffmpeg(gen: str, use: str) -> tuple[str, ...]:
    return (*_IN, "-filter_complex", f"[0:v]split[a][b];[a]{gen}[p];[b][p]{use}", "{out}")


#: The rows, each reading the video ``{in}`` and writing the GIF ``{out}``.
ROWS = [
    Row("ffmpeg", "ffmpeg palettegen + paletteuse (defaults)", "ffmpeg", "gif",
        _ffmpeg("palettegen", "paletteuse")),
    Row("ffmpeg-diff", "ffmpeg `stats_mode=diff`, `sierra2_4a`, `diff_mode=rectangle`", "ffmpeg",
        "gif", _ffmpeg("palettegen=stats_mode=diff", "paletteuse=dither=sierra2_4a:diff_mode=rectangle")),
    Row("ffmpeg-bayer", "ffmpeg `bayer:bayer_scale=3`, `diff_mode=rectangle`", "ffmpeg", "gif",
        _ffmpeg("palettegen", "paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle")),
    Row("pp-animate-gif", "palettepress `animate` (GIF)", "palettepress", "gif",
        ("palettepress", "animate", "{in}", "-o", "{out}")),
    Row("pp-redrawn", "palettepress `animate`, the decoder's changes redrawn", "palettepress-redrawn",
        "gif", ("{python}", "{worker}", "palettepress-redrawn", "{in}", "{out}", "0")),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def encode(clip, crf: int, path: Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", f"{clip.fps:g}", "-i",
                    str(clip.path / FRAME_PATTERN), "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-crf", str(crf), str(path)], check=True)


def decoded(path: Path) -> np.ndarray:
    """The video's frames as PyAV decodes them, (n, h, w, 3) uint8."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def run_clip(clip, crf: int, args, scratch: Path) -> list[Record]:
    video = scratch / f"{clip.name}-crf{crf}.mp4"
    encode(clip, crf, video)
    source = decoded(video)
    name = f"{clip.name} (CRF {crf})"
    records = []
    for row in ROWS:
        rec = Record(name, clip.kind, row.key, row.label, row.family, clip.fps, len(source))
        rec.input_bytes = video.stat().st_size
        out = scratch / f"{clip.name}-crf{crf}.{row.key}.gif"
        for _ in range(args.repeat):
            out.unlink(missing_ok=True)
            seconds, rec.error = run_timed(argv_of(row, out, source=video), args.timeout)
            rec.runs_seconds.append(seconds)
            if rec.error:
                break
        if rec.error is None:
            rec.seconds = statistics.median(rec.runs_seconds)
            try:
                measure(rec, out, source)
            except Exception as exc:  # an unreadable output is a result of the row
                rec.error = f"cannot decode the output: {exc}"
        out.unlink(missing_ok=True)
        log(f"bench_animation_video: {name}: {row.key}: " + (
            rec.error or f"{rec.bytes:,} B, SSIMULACRA2 {rec.ssimulacra2_mean:.2f}, "
                         f"flicker {fmt(rec.flicker * 100, 3)} %, {rec.seconds:.2f} s"))
        records.append(rec)
    video.unlink()
    return records


def summary(records: list[Record]) -> list[str]:
    """Each row against ffmpeg's `stats_mode=diff` + rectangle file (bytes), the best ffmpeg
    row on each clip (SSIMULACRA2), the two-pass default (time); and palettepress's GIF
    against the same with the decoder's changes redrawn."""
    table = by_row(records)
    clips = sorted({r.clip for r in records})
    complete = [c for c in clips if all(c in table.get(row.key, {}) for row in ROWS)]
    if not complete:
        return ["No clip was measured by every row.", ""]

    def best(c: str) -> float:
        return max(table[k][c].ssimulacra2_mean for k in ("ffmpeg", "ffmpeg-diff", "ffmpeg-bayer"))

    cells = []
    for row in ROWS:
        recs = [table[row.key][c] for c in complete]
        flick = [r.flicker for r in recs if not math.isnan(r.flicker)]
        cells.append([
            row.label, f"{sum(r.bytes for r in recs):,}",
            fmt(geomean([table[row.key][c].bytes / table["ffmpeg-diff"][c].bytes for c in complete]), 3),
            fmt(statistics.fmean(r.ssimulacra2_mean for r in recs), 2),
            fmt(statistics.fmean(table[row.key][c].ssimulacra2_mean - best(c) for c in complete), 2),
            fmt(min(r.ssimulacra2_p10 for r in recs), 2),
            fmt(statistics.fmean(flick) * 100 if flick else None, 3),
            fmt(geomean([table[row.key][c].seconds / table["ffmpeg"][c].seconds for c in complete]), 2)])
    lines = [f"Over the {len(complete)} clip videos every row measured: bytes in total and, per clip, "
             "against ffmpeg's `stats_mode=diff` + rectangle file (geometric mean); SSIMULACRA2 "
             "mean, its difference from the best of the three ffmpeg rows on each clip (mean), the "
             "lowest p10; flicker (mean over the clips with still pixels); time against ffmpeg's "
             "two-pass default (geometric mean).", "",
             *markdown_table(["row", "bytes", "bytes / ffmpeg diff", "SSIMULACRA2", "- best ffmpeg",
                              "worst p10", "flicker %", "s / ffmpeg"], cells, "lrrrrrrr"), ""]
    kept, redrawn = table["pp-animate-gif"], table["pp-redrawn"]
    ratios = {c: kept[c].bytes / redrawn[c].bytes for c in complete}
    gains = {c: kept[c].ssimulacra2_mean - redrawn[c].ssimulacra2_mean for c in complete}
    lines += [f"The decoder's changes kept against redrawn: bytes {geomean(list(ratios.values())):.3f}x "
              f"(geometric mean; from {min(ratios.values()):.3f}x, {min(ratios, key=ratios.get)}, "
              f"to {max(ratios.values()):.3f}x, {max(ratios, key=ratios.get)}), SSIMULACRA2 "
              f"{statistics.fmean(gains.values()):+.2f} on average (from {min(gains.values()):+.2f}, "
              f"{min(gains, key=gains.get)}, to {max(gains.values()):+.2f}).", ""]
    return lines


def clip_table(records: list[Record]) -> list[str]:
    cells = [[r.clip, f"{r.input_bytes:,}", r.label,
              *([f"{r.bytes:,}", fmt(r.ssimulacra2_mean, 2), fmt(r.ssimulacra2_p10, 2),
                 fmt(r.flicker * 100, 3), fmt(r.seconds, 2)] if r.measured
                else [f"failed: {r.error}", "", "", "", fmt(r.seconds, 2)])] for r in records]
    return markdown_table(["clip", "video bytes", "row", "GIF bytes", "SSIMULACRA2 mean", "p10",
                           "flicker %", "seconds"], cells, "lrlrrrrr")


def render(env: dict, args, clips, records: list[Record], seconds: float) -> str:
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    lines = [
        "## Animation: GIFs from video files",
        "",
        f"- Command: `{env['command']}`; run time {seconds / 60:.1f} min",
        f"- Date: {env['date']}",
        f"- Machine: {env['cpu']}, {env['cpu_count']} logical CPUs, {env['platform']}",
        f"- Software: {env['python']}, numpy {env['numpy']}, Pillow {env['pillow']}, "
        f"PyAV {env['av']}, palettepress {env['palettepress']}{rev} ({env['threads']} OpenMP "
        f"threads), {env['ffmpeg']}",
        f"- Clips: {', '.join(c.name for c in clips)} of `benchmarks/.animation-set` (made by "
        "`benchmarks/animation_set.py`), each encoded by ffmpeg: `ffmpeg -framerate F -i "
        f"FRAMES/frame%04d.png -c:v libx264 -pix_fmt yuv420p -crf C clip.mp4`, C in "
        f"{', '.join(str(c) for c in args.crf)}. Every row reads that file and runs as its own "
        f"process; seconds are the median of {args.repeat} run(s), start-up included. The "
        "ffmpeg rows are `ffmpeg -i clip.mp4 -filter_complex '[0:v]split[a][b];[a]GEN[p];"
        "[b][p]USE' OUT` with the options named; palettepress's `palettepress animate "
        "clip.mp4 -o OUT`, and the redrawn row `python benchmarks/_animation.py "
        "palettepress-redrawn clip.mp4 OUT 0` (`palettepress.animate` with "
        "`temporal.NOISE_LEVELS = 0`).",
        "- The reference is the video as PyAV decodes it. Outputs are decoded by Pillow and "
        "measured as in the animation block (`bench_animation.py`): SSIMULACRA2 of every "
        "4th frame, flicker on the pixels equal in consecutive decoded frames.",
        "",
        *summary(records),
        "### Per clip",
        "",
        *clip_table(records),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, metavar="DIR")
    parser.add_argument("--clips", default="", metavar="A,B", help="clips to run (default all)")
    parser.add_argument("--crf", default="23", metavar="C,D", help="libx264 CRFs (default 23)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args(argv)
    args.crf = [int(c) for c in args.crf.split(",") if c]
    argv = sys.argv[1:] if argv is None else argv
    clips = read_clips(args.set)
    if not clips:
        sys.exit(f"bench_animation_video: no clips in {args.set}: run benchmarks/animation_set.py")
    wanted = [n for n in args.clips.split(",") if n]
    unknown = set(wanted) - {c.name for c in clips}
    if unknown:
        sys.exit(f"bench_animation_video: no clip {', '.join(sorted(unknown))} in {args.set}")
    clips = [c for c in clips if not wanted or c.name in wanted]
    why = next((w for r in ROWS if (w := missing(r))), None)
    if why:
        sys.exit(f"bench_animation_video: {why}")
    import av

    env = environment(["benchmarks/bench_animation_video.py", *argv], "pngquant", av=av.__version__,
                      ffmpeg=tool_version(["ffmpeg", "-version"]).split(" Copyright")[0])
    start, records = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="bench-animation-video-") as tmp:
        for crf in args.crf:
            for clip in clips:
                records += run_clip(clip, crf, args, Path(tmp))
    seconds = time.perf_counter() - start
    if args.json:
        args.json.write_text(json.dumps(json_ready({"environment": env, "records": [asdict(r) for r in records],
                                                    "seconds": seconds}), indent=1))
    write_block(args.out, "bench_animation_video", render(env, args, clips, records, seconds))
    log(f"bench_animation_video: wrote {args.out} in {seconds / 60:.1f} min")
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
