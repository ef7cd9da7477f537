#!/usr/bin/env python
"""Animated GIFs from frames: the reference tools side by side on the animation set.

For each clip of the set (``animation_set.py``; ``--clips`` picks some, ``--quick`` three),
every row makes an animation from the same PNG frames at the clip's frame rate: Pillow's
``save_all``, four ffmpeg palettegen/paletteuse recipes, ImageMagick's ``-layers
Optimize``, palettepress's ``compress`` on each frame assembled by Pillow, and (``PALETTEPRESS_ROWS``
in ``_animation.py``) ``palettepress animate`` to GIF, APNG and WebP once that
command exists. Each row is its own process (or processes); its time is the wall time,
the median of ``--repeat`` runs. Every output is measured by decoding the file with
Pillow (composited frames, disposal and transparency applied), never from what a tool
says:

- bytes;
- SSIMULACRA2 (``palettepress.metrics.ssimulacra2``) of the output frame on screen at
  every 4th source frame's start (``i / fps``: tools may merge identical frames and add up
  their delays), mean and 10th percentile;
- flicker: of the pixels equal in two consecutive source frames, the share whose output
  pixel changes, summed over all consecutive pairs (n/a for a clip with no still pixel).

The outputs of the first clip are also decoded by ffmpeg and compared with Pillow's
frames. The re-encode section runs ``gifsicle -O3`` (and the ``palettepress animate IN.gif``
hook) on each ``gif-inputs/*.gif`` of the set, with the bytes against the input's and a
check that the output shows the input's pixels at every moment. Writes the block between
``<!-- bench_animation:start -->`` and ``<!-- bench_animation:end -->`` of ``--out``.

    python benchmarks/animation_set.py                  # the set, once
    python benchmarks/bench_animation.py --quick --out /tmp/anim.md --json /tmp/anim.json
    python benchmarks/bench_animation.py --clips terminal,life --out /tmp/anim.md
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from _animation import (DEFAULT_SET, KINDS, PALETTEPRESS_REENCODE_ROWS, PALETTEPRESS_ROWS,
                        REENCODE_ROWS, REFERENCE_ROWS, Animation, Clip, Row, over_black, aligned, decode,
                        decode_ffmpeg, fill, flicker_counts, percentile, read_clips, same_animation,
                        shown, ssimulacra2_scores)
from _common import (REPO, TargetRow, environment, find_command, fmt, geomean, json_ready,
                     markdown_table, print_verdicts, script_parser, target_table, tool_version,
                     write_block)

QUICK_CLIPS = ("pan-kodim08", "lines", "terminal")
SSIM_STEP = 4


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


#: The targets (the project's issue on animated images), per clip against ffmpeg on the
#: same frames: palettepress's GIF at least MIN_GAIN SSIMULACRA2 points above the best
#: ffmpeg row (the one of the four with the highest mean on that clip), in at most
#: MAX_BYTES (screen recordings: MAX_BYTES_SCREEN) of the `stats_mode=diff` +
#: `diff_mode=rectangle` file, flicker no higher than the bayer row's, in at most
#: MAX_TIME of the two-pass default's time; APNG at most MAX_APNG, WebP at most MAX_WEBP
#: of our GIF's bytes; a GIF re-encoded with identical pixels in at most MAX_REENCODE of
#: `gifsicle -O3`'s bytes.
MIN_GAIN = 5.0
MAX_BYTES = 0.85
MAX_BYTES_SCREEN = 0.70
MAX_TIME = 1.0
MAX_APNG = 0.90
MAX_WEBP = 0.80
MAX_REENCODE = 0.95
FFMPEG_ROWS = ("ffmpeg", "ffmpeg-diff", "ffmpeg-single", "ffmpeg-bayer")


def missing(row: Row) -> str | None:
    """Why ``row`` cannot run here, or None."""
    program = row.template[0]
    if program == "{python}":
        return None
    if program == "palettepress":
        exe = find_command("palettepress")
        if not exe:
            return "the `palettepress` command is not installed"
        if subprocess.run([exe, *row.template[1:2], "--help"], capture_output=True).returncode:
            return (f"`palettepress {row.template[1]}` does not exist in this build "
                    f"({tool_version([exe, '--version'])})")
        return None
    return None if shutil.which(program) else f"`{program}` is not on PATH"


def argv_of(row: Row, out: Path, clip: Clip | None = None, source: Path | None = None) -> list[str]:
    argv = fill(row.template, out, clip, source)
    if argv[0] == "palettepress":
        argv[0] = find_command("palettepress") or "palettepress"
    return argv


@dataclass
class Record:
    """One row on one clip (or, in the re-encode section, on one GIF). Quality fields stay
    NaN when there is nothing to measure; ``flicker`` is NaN for a clip with no still pixel."""

    clip: str
    kind: str
    row: str
    label: str
    family: str
    fps: float = math.nan
    frames: int = 0
    runs_seconds: list = field(default_factory=list)
    seconds: float = math.nan
    bytes: int = 0
    input_bytes: int = 0
    frames_out: int = 0
    length_ms: float = math.nan
    transparent_pixels: int = 0
    ssimulacra2: list = field(default_factory=list)
    ssimulacra2_mean: float = math.nan
    ssimulacra2_p10: float = math.nan
    still_pixels: int = 0
    flicker_pixels: int = 0
    flicker: float = math.nan
    identical: str | None = None
    error: str | None = None

    @property
    def measured(self) -> bool:
        return self.error is None and self.bytes > 0


def run_timed(argv: list[str], timeout: float) -> tuple[float, str | None]:
    """Wall time of ``argv`` to its exit, and its error (None when it succeeded)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, f"timed out after {timeout:g} s"
    seconds = time.perf_counter() - start
    if proc.returncode:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return seconds, f"exit {proc.returncode}: {' / '.join(tail)}"
    return seconds, None


def measure(rec: Record, path: Path, source: np.ndarray) -> Animation | None:
    """Fill the size and quality fields of ``rec`` from the file ``path`` (decoded by Pillow)."""
    rec.bytes = path.stat().st_size
    anim = decode(path)
    if anim.frames.shape[1:3] != source.shape[1:3]:
        rec.error = f"output is {anim.frames.shape[2]}x{anim.frames.shape[1]}"
        return None
    idx = aligned(anim, len(source), rec.fps)
    rec.frames_out, rec.length_ms = len(anim.frames), anim.total_ms
    rec.transparent_pixels = anim.transparent
    rec.ssimulacra2 = ssimulacra2_scores(source, anim.frames, idx, SSIM_STEP)
    rec.ssimulacra2_mean = statistics.fmean(rec.ssimulacra2)
    rec.ssimulacra2_p10 = percentile(rec.ssimulacra2, 10)
    rec.flicker_pixels, rec.still_pixels = flicker_counts(source, anim.frames, idx)
    rec.flicker = rec.flicker_pixels / rec.still_pixels if rec.still_pixels else math.nan
    return anim


def crosscheck(path: Path, anim: Animation) -> str | None:
    """None when ffmpeg decodes ``path`` to the frames Pillow gave (``anim``), else how not."""
    try:
        theirs = decode_ffmpeg(path)
    except subprocess.CalledProcessError as exc:
        return f"ffmpeg cannot decode it: {exc.stderr.decode(errors='replace').strip()[:200]}"
    if len(theirs) != len(anim.frames):
        return f"ffmpeg {len(theirs)} frames, Pillow {len(anim.frames)}"
    for i, (a, b) in enumerate(zip(anim.frames, theirs)):
        diff = int(np.count_nonzero((a != over_black(b)).any(axis=-1)))
        if diff:
            return f"frame {i + 1}: {diff} pixels differ"
    return None


def measure_clip(clip: Clip, rows: list[Row], args, scratch: Path, checks: list) -> list[Record]:
    """Every row on one clip: ``--repeat`` timed runs each (the order rotating between
    repeats), then the last output measured; the first clip's GIFs are also cross-checked."""
    source = clip.load()
    records = {r.key: Record(clip.name, clip.kind, r.key, r.label, r.family, clip.fps, clip.frames)
               for r in rows}
    outs = {r.key: scratch / f"{clip.name}.{r.key}.{r.ext}" for r in rows}
    for rep in range(args.repeat):
        for row in rows[rep % len(rows):] + rows[:rep % len(rows)]:
            rec = records[row.key]
            if rec.error:
                continue
            outs[row.key].unlink(missing_ok=True)
            seconds, rec.error = run_timed(argv_of(row, outs[row.key], clip), args.timeout)
            rec.runs_seconds.append(seconds)
    for row in rows:
        rec = records[row.key]
        if rec.error is None:
            rec.seconds = statistics.median(rec.runs_seconds)
            try:
                anim = measure(rec, outs[row.key], source)
            except Exception as exc:  # an unreadable output is a result of the row
                rec.error, anim = f"cannot decode the output: {exc}", None
            if anim is not None and not checks_done(checks, row) and row.ext == "gif":
                checks.append({"clip": clip.name, "row": row.key, "frames": len(anim.frames),
                               "problem": crosscheck(outs[row.key], anim)})
        outs[row.key].unlink(missing_ok=True)
        log(f"bench_animation: {clip.name}: {row.key}: " + (
            rec.error or f"{rec.bytes:,} B, SSIMULACRA2 {rec.ssimulacra2_mean:.2f} "
                         f"(p10 {rec.ssimulacra2_p10:.2f}), flicker {fmt(rec.flicker * 100, 3)} %, "
                         f"{rec.seconds:.2f} s"))
    return [records[r.key] for r in rows]


def checks_done(checks: list, row: Row) -> bool:
    return any(c["row"] == row.key for c in checks)


def reencode(set_dir: Path, rows: list[Row], scratch: Path, args, checks: list) -> list[Record]:
    """Each row on each ``gif-inputs/*.gif``: bytes, time and whether the output shows the
    input's pixels at every moment (Pillow decoding both; the input cross-checked by ffmpeg)."""
    records = []
    for gif in sorted((set_dir / "gif-inputs").glob("*.gif")):
        original = decode(gif)
        checks.append({"clip": gif.name, "row": "gif-input", "frames": len(original.frames),
                       "problem": crosscheck(gif, original)})
        for row in rows:
            rec = Record(gif.stem, "gif-input", row.key, row.label, row.family,
                         frames=len(original.frames), input_bytes=gif.stat().st_size)
            out = scratch / f"{gif.stem}.{row.key}.{row.ext}"
            for _ in range(args.repeat):
                if rec.error is None:
                    out.unlink(missing_ok=True)
                    seconds, rec.error = run_timed(argv_of(row, out, source=gif), args.timeout)
                    rec.runs_seconds.append(seconds)
            if rec.error is None:
                rec.seconds, rec.bytes = statistics.median(rec.runs_seconds), out.stat().st_size
                rec.identical = same_animation(original, decode(out)) or "identical"
            out.unlink(missing_ok=True)
            records.append(rec)
            log(f"bench_animation: re-encode {gif.name}: {row.key}: "
                f"{rec.error or f'{rec.bytes:,} B ({rec.bytes / rec.input_bytes:.3f}), {rec.identical}'}")
    return records


# -- summaries and targets ----------------------------------------------------------


def by_row(records: list[Record]) -> dict[str, dict[str, Record]]:
    """``{row: {clip: record}}`` of the measured records."""
    table: dict[str, dict[str, Record]] = {}
    for r in records:
        if r.measured:
            table.setdefault(r.row, {})[r.clip] = r
    return table


def best_ffmpeg(records: list[Record], only: str = "best") -> str | None:
    """The ffmpeg row measured on every clip with the highest mean SSIMULACRA2 over them
    (``only``: that row, if it was measured on every clip)."""
    clips = {r.clip for r in records}
    table = by_row(records)
    candidates = [k for k, recs in table.items()
                  if next(iter(recs.values())).family == "ffmpeg" and set(recs) == clips
                  and only in ("best", k)]
    return max(candidates, default=None,
               key=lambda k: statistics.fmean(table[k][c].ssimulacra2_mean for c in clips))


def against(records: list[Record], row: str, ref: str | None, clips: set | None = None) -> dict | None:
    """``row`` against ``ref`` over the clips (of ``clips``) both measured: geometric means of
    the bytes and time ratios, mean SSIMULACRA2 gain, the worst clip's p10 gain, and the
    mean flicker of each over the clips where it is defined."""
    table = by_row(records)
    mine, theirs = table.get(row, {}), table.get(ref, {}) if ref else {}
    common = sorted(c for c in set(mine) & set(theirs) if clips is None or c in clips)
    if not common:
        return None
    flick = [c for c in common if not math.isnan(mine[c].flicker)]
    p10 = min(common, key=lambda c: mine[c].ssimulacra2_p10 - theirs[c].ssimulacra2_p10)
    return {
        "clips": len(common),
        "bytes": geomean([mine[c].bytes / theirs[c].bytes for c in common]),
        "time": geomean([mine[c].seconds / theirs[c].seconds for c in common]),
        "ssim_gain": statistics.fmean(mine[c].ssimulacra2_mean - theirs[c].ssimulacra2_mean
                                      for c in common),
        "p10_gain": mine[p10].ssimulacra2_p10 - theirs[p10].ssimulacra2_p10, "p10_clip": p10,
        "flicker": statistics.fmean(mine[c].flicker for c in flick) if flick else math.nan,
        "ref_flicker": statistics.fmean(theirs[c].flicker for c in flick) if flick else math.nan,
    }


def _goal(description: str, limit: str, value: float | None, ok, digits: int) -> TargetRow:
    if value is None or math.isnan(value):
        return TargetRow(description, limit, "n/a", None)
    return TargetRow(description, limit, fmt(value, digits), bool(ok(value)))


def _per_clip(records: list[Record]) -> dict:
    """Per clip: the figures the targets compare (absent rows left out)."""
    table = by_row(records)
    out = {}
    for clip in table.get("pp-animate-gif", {}):
        gif = table["pp-animate-gif"][clip]
        refs = [table[r][clip] for r in FFMPEG_ROWS if clip in table.get(r, {})]
        diff = table.get("ffmpeg-diff", {}).get(clip)
        bayer = table.get("ffmpeg-bayer", {}).get(clip)
        default = table.get("ffmpeg", {}).get(clip)
        if not refs or diff is None or bayer is None or default is None:
            continue
        best = max(refs, key=lambda r: r.ssimulacra2_mean)
        out[clip] = {
            "kind": gif.kind,
            "gain": gif.ssimulacra2_mean - best.ssimulacra2_mean,
            "bytes": gif.bytes / diff.bytes,
            "flicker": (gif.flicker, bayer.flicker),
            "time": gif.seconds / default.seconds,
            "apng": _ratio(table, "pp-animate-apng", clip, gif),
            "webp": _ratio(table, "pp-animate-webp", clip, gif),
        }
    return out


def _ratio(table: dict, row: str, clip: str, gif: Record) -> float:
    other = table.get(row, {}).get(clip)
    return other.bytes / gif.bytes if other is not None else math.nan


def _count(rows: list[dict], ok) -> str:
    return f"{sum(bool(ok(r)) for r in rows)} of {len(rows)} clips"


def targets(records: list[Record], reencoded: list[Record], best: str | None,
            all_clips: set) -> list[TargetRow]:
    """palettepress against ffmpeg per clip (the issue's targets: see the constants),
    summarised over the clips: the mean or geometric mean, and how many clips meet it."""
    per = _per_clip(records)
    if len(per) != len(all_clips):
        per = {}
    rows = list(per.values())
    nat = [r for r in rows if r["kind"] != "screen"]
    scr = [r for r in rows if r["kind"] == "screen"]
    flick = [r for r in rows if not math.isnan(r["flicker"][0])]
    out = [
        _goal(f"GIF: SSIMULACRA2 mean - the best ffmpeg row's (mean over the clips; "
              f"{_count(rows, lambda r: r['gain'] >= MIN_GAIN)})", f">= +{MIN_GAIN:.0f}",
              statistics.fmean(r["gain"] for r in rows) if rows else None,
              lambda v: v >= MIN_GAIN, 2),
        _goal(f"GIF: bytes / ffmpeg `stats_mode=diff` + rectangle (geometric mean, clips "
              f"other than screen; {_count(nat, lambda r: r['bytes'] <= MAX_BYTES)})",
              f"<= {MAX_BYTES:.2f}", geomean([r["bytes"] for r in nat]) if nat else None,
              lambda v: v <= MAX_BYTES, 3),
        _goal(f"GIF: bytes / ffmpeg `stats_mode=diff` + rectangle, screen recordings "
              f"({_count(scr, lambda r: r['bytes'] <= MAX_BYTES_SCREEN)})",
              f"<= {MAX_BYTES_SCREEN:.2f}", geomean([r["bytes"] for r in scr]) if scr else None,
              lambda v: v <= MAX_BYTES_SCREEN, 3),
        _goal("GIF: flicker, % - ffmpeg bayer's (mean over the clips with still pixels)",
              "<= 0", statistics.fmean((r["flicker"][0] - r["flicker"][1]) * 100 for r in flick)
              if flick else None, lambda v: v <= 1e-9, 3),
        _goal(f"GIF: seconds / ffmpeg's two-pass default (geometric mean; "
              f"{_count(rows, lambda r: r['time'] <= MAX_TIME)})", f"<= {MAX_TIME:.2f}",
              geomean([r["time"] for r in rows]) if rows else None, lambda v: v <= MAX_TIME, 2),
        _goal(f"APNG bytes / our GIF's (geometric mean; "
              f"{_count(rows, lambda r: r['apng'] <= MAX_APNG)})", f"<= {MAX_APNG:.2f}",
              geomean([r["apng"] for r in rows]) if rows else None, lambda v: v <= MAX_APNG, 3),
        _goal(f"WebP bytes / our GIF's (geometric mean; "
              f"{_count(rows, lambda r: r['webp'] <= MAX_WEBP)})", f"<= {MAX_WEBP:.2f}",
              geomean([r["webp"] for r in rows]) if rows else None, lambda v: v <= MAX_WEBP, 3),
    ]
    for row in PALETTEPRESS_REENCODE_ROWS:
        mine = [r for r in reencoded if r.row == row.key and r.measured]
        ref = {r.clip: r for r in reencoded if r.family == "gifsicle" and r.measured}
        gifs = {r.clip for r in reencoded}
        done = len(mine) == len(gifs) and mine
        same = sum(r.identical == "identical" for r in mine)
        out.append(TargetRow(f"{row.label}: output shows the input's pixels", "every GIF",
                             f"{same} of {len(gifs)}" if done else "n/a",
                             same == len(gifs) if done else None))
        ratio = (sum(r.bytes for r in mine) / sum(ref[r.clip].bytes for r in mine)
                 if done and all(r.clip in ref for r in mine) else None)
        out.append(_goal(f"{row.label}: bytes / `gifsicle -O3`'s (total over the GIFs)",
                         f"<= {MAX_REENCODE:.2f}", ratio, lambda v: v <= MAX_REENCODE, 3))
    return out


# -- the block --------------------------------------------------------------------


def header_lines(env: dict, args, clips: list[Clip], seconds: float) -> list[str]:
    """The command, machine, software and method bullets."""
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    return [
        f"- Command: `{env['command']}`; run time {seconds / 60:.1f} min",
        f"- Date: {env['date']}",
        f"- Machine: {env['cpu']}, {env['cpu_count']} logical CPUs, {env['platform']}",
        f"- Software: {env['python']}, numpy {env['numpy']}, Pillow {env['pillow']}, "
        f"palettepress {env['palettepress']}{rev} ({env['threads']} OpenMP threads), "
        f"{env['ffmpeg']}, ImageMagick {env['imagemagick']}, {env['gifsicle']}",
        f"- Set: {len(clips)} clips of `{_relative(args.set)}` (made by "
        "`benchmarks/animation_set.py`, provenance in its `SOURCES.md`): "
        + ", ".join(f"{c.name} ({c.kind}, {c.width}x{c.height}, {c.frames} frames)" for c in clips),
        "- Every row reads the same PNG frames at the clip's rate (20 fps: 5 cs GIF delays) and "
        "runs as its own process(es); seconds are the wall time to its exit, the median of "
        f"{args.repeat} run(s), the rows' order rotating between repeats. The Python rows run as "
        "`python benchmarks/_animation.py TOOL FRAMES OUT FPS`, start-up and imports included.",
        "- Every output is decoded by Pillow (frames composited: disposal, transparency, "
        "blending). The output frame on screen at source frame i's start (i / fps) is its "
        "counterpart: a tool may merge identical frames and add up their delays. SSIMULACRA2 "
        f"(`palettepress.metrics.ssimulacra2`) over every {SSIM_STEP}th source frame: mean and "
        "10th percentile (p10). Flicker: of the pixels equal in consecutive source frames, "
        "the share whose output pixel changes, over all consecutive pairs (n/a for a clip "
        "with no still pixel; each clip's heading gives its share of still pixels: the pans "
        "and the zoom have almost none, so their flicker rests on few pixels).",
        "",
    ]


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def rows_table(rows: list[Row], skipped: dict[str, str]) -> list[str]:
    cells = [[r.label, f"`{shown(r.template)}`", "skipped: " + skipped[r.key] if r.key in skipped
              else "ran"] for r in rows]
    return markdown_table(["row", "command (FRAMES: the clip's folder, F: its fps)", "status"],
                          cells, "lll")


def kind_table(records: list[Record], rows: list[Row], best: str | None) -> list[str]:
    """Per kind and for all clips: each row's totals and its comparison with the best ffmpeg row."""
    table, cells = by_row(records), []
    for kind in [k for k in KINDS if any(r.kind == k for r in records)] + ["all"]:
        clips = {r.clip for r in records if kind in ("all", r.kind)}
        for row in rows:
            recs = [rec for c, rec in table.get(row.key, {}).items() if c in clips]
            if not recs:
                continue
            c = against(records, row.key, best, clips) or {}
            flick = [r.flicker for r in recs if not math.isnan(r.flicker)]
            cells.append([kind, row.label, str(len(recs)), f"{sum(r.bytes for r in recs):,}",
                          fmt(c.get("bytes"), 3), fmt(statistics.fmean(r.ssimulacra2_mean for r in recs), 2),
                          fmt(c.get("ssim_gain"), 2), fmt(min(r.ssimulacra2_p10 for r in recs), 2),
                          fmt(statistics.fmean(flick) * 100 if flick else None, 3),
                          fmt(sum(r.seconds for r in recs), 1), fmt(c.get("time"), 2)])
    return markdown_table(["kind", "row", "clips", "bytes", "bytes / best ffmpeg", "SSIMULACRA2",
                           "- best ffmpeg", "worst p10", "flicker %", "seconds", "s / best ffmpeg"],
                          cells, "llrrrrrrrrr")


def clip_tables(records: list[Record], clips: list[Clip]) -> list[str]:
    lines = []
    for clip in clips:
        recs = [r for r in records if r.clip == clip.name]
        pairs = clip.width * clip.height * (clip.frames - 1)
        still = next((r.still_pixels for r in recs if r.measured), None)
        lines += [f"**{clip.name}** ({clip.kind}, {clip.width}x{clip.height}, {clip.frames} frames "
                  f"at {clip.fps:g} fps; still pixels: {fmt(100 * still / pairs if still is not None else None, 1)} %)", ""]
        cells = [[r.label, f"{r.bytes:,}", fmt(r.ssimulacra2_mean, 2), fmt(r.ssimulacra2_p10, 2),
                  fmt(r.flicker * 100, 3), fmt(r.seconds, 2), str(r.frames_out)] if r.measured
                 else [r.label, "failed", "", "", "", fmt(r.seconds, 2), ""] for r in recs]
        lines += [*markdown_table(["row", "bytes", "SSIMULACRA2 mean", "p10", "flicker %", "seconds",
                                   "frames out"], cells), ""]
    return lines


def reencode_table(reencoded: list[Record]) -> list[str]:
    cells = [[r.clip, str(r.frames), f"{r.input_bytes:,}", r.label,
              f"{r.bytes:,}" if r.measured else "failed",
              fmt(r.bytes / r.input_bytes if r.measured else None, 3), r.identical or "n/a",
              fmt(r.seconds, 2)] for r in reencoded]
    return markdown_table(["GIF", "frames", "input bytes", "row", "bytes", "/ input",
                           "pixels vs input", "seconds"], cells, "lrrlrrll")


def render(env: dict, args, clips: list[Clip], records: list[Record], reencoded: list[Record],
           checks: list, target_rows: list[TargetRow], best: str | None, skipped: dict,
           seconds: float) -> str:
    """The Markdown block (without the markers)."""
    rows = REFERENCE_ROWS + PALETTEPRESS_ROWS
    ran = [r for r in rows if r.key not in skipped]
    bad = [c for c in checks if c["problem"]]
    problems = [f"- {r.clip}, {r.label}: {r.error}" for r in records + reencoded if r.error]
    return "\n".join([
        "## Animation: GIFs from frames, and re-encoding a GIF", "",
        *header_lines(env, args, clips, seconds),
        "### Targets: palettepress `animate` against ffmpeg on the same frames", "",
        "Per clip: the GIF's mean SSIMULACRA2 against the best of the four ffmpeg rows on "
        "that clip (+5 points, where the best is more than 95 only lossless reaches it), its "
        "bytes against the `stats_mode=diff` + `diff_mode=rectangle` file, its flicker "
        "against the bayer row's, its time against the two-pass default's; APNG and WebP "
        "against our GIF; re-encoding against `gifsicle -O3`. Summarised over the clips "
        "(mean or geometric mean), with how many clips meet each. Rows that did not run "
        "show n/a.", "",
        *target_table(target_rows), "",
        "### Rows", "",
        *rows_table(rows + REENCODE_ROWS + PALETTEPRESS_REENCODE_ROWS, skipped), "",
        "### Per kind", "",
        "Bytes and seconds are totals; ratios to the best ffmpeg row are geometric means of the "
        "per-clip ratios, the SSIMULACRA2 difference the mean of the per-clip differences; "
        "worst p10 is the lowest clip's; flicker the mean over the clips with still pixels.", "",
        *kind_table(records, ran, best), "",
        "### Per clip", "",
        *clip_tables(records, clips),
        "### Re-encoding an existing GIF", "",
        "Each `gif-inputs/*.gif` of the set (made from a clip by the tool its name ends with); "
        "\"pixels vs input\": whether the output, decoded by Pillow, shows the input's pixels at "
        "every moment.", "",
        *reencode_table(reencoded), "",
        "### Decoding cross-check", "",
        f"ffmpeg (`-fps_mode passthrough`, RGBA) decoded {len(checks)} GIFs (the first clip's "
        f"outputs and the re-encode inputs): {len(checks) - len(bad)} gave Pillow's frames "
        "exactly (same count, every pixel)" + ("." if not bad else "; these did not:"),
        *(f"- {c['clip']}, {c['row']}: {c['problem']}" for c in bad), "",
        "### Problems", "",
        *(problems or ["None."]),
    ])


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, metavar="DIR")
    parser.add_argument("--clips", default="", metavar="A,B", help="clips to run (default all)")
    parser.add_argument("--quick", action="store_true", help=f"3 clips: {', '.join(QUICK_CLIPS)}")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    parser.add_argument("--reference", default="best", metavar="ROW",
                        choices=["best"] + [r.key for r in REFERENCE_ROWS if r.family == "ffmpeg"],
                        help="the ffmpeg row the targets compare with (default: the one with the "
                             "highest mean SSIMULACRA2)")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    clips = read_clips(args.set)
    if not clips:
        sys.exit(f"bench_animation: no clips in {args.set}: run benchmarks/animation_set.py")
    wanted = [n for n in args.clips.split(",") if n] or (list(QUICK_CLIPS) if args.quick else [])
    unknown = set(wanted) - {c.name for c in clips}
    if unknown:
        sys.exit(f"bench_animation: no clip {', '.join(sorted(unknown))} in {args.set}")
    clips = [c for c in clips if not wanted or c.name in wanted]
    all_rows = REFERENCE_ROWS + PALETTEPRESS_ROWS + REENCODE_ROWS + PALETTEPRESS_REENCODE_ROWS
    skipped = {r.key: why for r in all_rows if (why := missing(r))}
    for key, why in skipped.items():
        log(f"bench_animation: {key} skipped: {why}")
    env = environment(["benchmarks/bench_animation.py", *argv], "pngquant",
                      ffmpeg=tool_version(["ffmpeg", "-version"]).split(" Copyright")[0],
                      imagemagick=tool_version(["convert", "-version"]).split()[2],
                      gifsicle=tool_version(["gifsicle", "--version"]))
    start, checks, records = time.perf_counter(), [], []
    with tempfile.TemporaryDirectory(prefix="bench-animation-") as tmp:
        for clip in clips:
            records += measure_clip(clip, [r for r in REFERENCE_ROWS + PALETTEPRESS_ROWS
                                           if r.key not in skipped], args, Path(tmp), checks)
        reencoded = reencode(args.set, [r for r in REENCODE_ROWS + PALETTEPRESS_REENCODE_ROWS
                                        if r.key not in skipped], Path(tmp), args, checks)
    best = best_ffmpeg(records, args.reference)
    target_rows = targets(records, reencoded, best, {c.name for c in clips})
    print_verdicts(target_rows)
    seconds = time.perf_counter() - start
    if args.json:  # first: a rendering problem must not cost the run
        args.json.write_text(json.dumps(json_ready({
            "environment": env, "best_ffmpeg": best, "skipped": skipped, "crosscheck": checks,
            "records": [asdict(r) for r in records], "reencode": [asdict(r) for r in reencoded],
            "targets": [asdict(t) for t in target_rows], "seconds": seconds}), indent=1))
    write_block(args.out, "bench_animation", render(env, args, clips, records, reencoded, checks,
                                                    target_rows, best, skipped, seconds))
    log(f"bench_animation: wrote {args.out} in {seconds / 60:.1f} min")
    return 1 if any(r.error for r in records + reencoded) else 0


if __name__ == "__main__":
    sys.exit(main())
