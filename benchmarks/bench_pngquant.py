#!/usr/bin/env python
"""Benchmark palettepress without dithering against pngquant ``--nofs`` on the Kodak and
USC-SIPI images: the palette fit itself, judged by per-pixel figures.

For every image and palette size k it runs, side by side:

1. palettepress with default settings but ``dither=0`` (Oklab): file size, MSE, PSNR,
   SSIM, CIEDE2000, SSIMULACRA2, in-process time (``palettepress.compress``) and
   whole-process time (the ``palettepress compress --dither 0`` command);
2. palettepress with ``space="rgb", dither=0``: file size and MSE;
3. ``pngquant --nofs``: file size, the same metrics, whole-process time.

The dithered defaults of both tools, judged perceptually, are ``bench_perceptual.py``'s.

Every output file is decoded with Pillow and measured by the same function,
:func:`palettepress.metrics.measure`, so both tools are judged by identical code. The
per-image ratios palettepress / pngquant are summarised by their geometric means, per k
and overall, and checked against the project's targets.

The result is written as a Markdown block between the markers
``<!-- bench_pngquant:start -->`` and ``<!-- bench_pngquant:end -->`` of ``--out``
(default ``BENCHMARKS.md``); text outside the markers is left untouched.

pngquant (GPL) is run as an external program only, as a reference.

Examples
--------
    python benchmarks/bench_pngquant.py
    python benchmarks/bench_pngquant.py --quick --out /tmp/bench_quick.md
    python benchmarks/bench_pngquant.py --sets kodak --colors 64 --json /tmp/kodak64.json
"""

from __future__ import annotations

import argparse
import io
import json
import math
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

import palettepress
from palettepress.metrics import measure

from _common import environment, geomean, write_block
from _common import fmt as _f, json_ready as _json_ready, markdown_table as _table
from _common import find_command, palette_sizes as _int_list
from _common import TargetRow, print_verdicts, target_table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
DEFAULT_OUT = REPO / "BENCHMARKS.md"
IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm"}
QUICK_IMAGES = 3
STAGES = ("decode", "histogram", "fit", "remap", "encode", "metrics")
# Relative difference above which palettepress's own figures and the figures measured on
# its decoded file are reported as disagreeing; both come from the same kernels, so any
# real difference means the file is not what the Result describes.
CONSISTENCY_RTOL = 1e-6


@dataclass(frozen=True)
class Target:
    """A goal on one summary ratio (palettepress / pngquant): ``value <= limit``."""

    key: str
    label: str
    limit: float


TARGETS = (
    Target("bytes", "File size, `dither=0` (geometric mean)", 1.00),
    Target("mse_rgb", "MSE, `space=\"rgb\", dither=0` vs pngquant (geometric mean)", 0.92),
    Target("time_inproc", "Time, in-process `compress(dither=0)` vs pngquant process", 0.5),
    Target("time_process", "Time, whole `palettepress --dither 0` process vs pngquant process", 2.0),
)


@dataclass
class Record:
    """Everything measured for one image at one palette size.

    Fields prefixed ``pp_`` are palettepress with default settings, ``rgb_`` palettepress
    with ``space="rgb"`` and ``pq_`` pngquant ``--nofs``. Times are seconds; ``*_runs``
    hold every repeat, the unprefixed time fields their median.
    """

    set: str
    image: str
    width: int
    height: int
    k: int
    pp_bytes: int = 0
    pp_colors: int = 0
    pp_mse: float = math.nan
    pp_psnr: float = math.nan
    pp_ssim: float = math.nan
    pp_delta_e: float = math.nan
    pp_ssimulacra2: float = math.nan
    pp_time_inproc: float = math.nan
    pp_time_process: float = math.nan
    pp_time_inproc_runs: list = field(default_factory=list)
    pp_time_process_runs: list = field(default_factory=list)
    pp_stage_runs: list = field(default_factory=list)
    rgb_bytes: int = 0
    rgb_mse: float = math.nan
    pq_bytes: int = 0
    pq_colors: int = 0
    pq_mse: float = math.nan
    pq_psnr: float = math.nan
    pq_ssim: float = math.nan
    pq_delta_e: float = math.nan
    pq_ssimulacra2: float = math.nan
    pq_time_process: float = math.nan
    pq_time_process_runs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    error: str | None = None

    @property
    def name(self) -> str:
        """``set/image``, as shown in the tables."""
        return f"{self.set}/{self.image}"


# -- environment and measuring -------------------------------------------------------


def _exe(name: str, missing: str) -> str:
    """The command ``name``; exits with ``missing`` when it is not installed."""
    exe = find_command(name)
    if exe is None:
        sys.exit(f"bench_pngquant: {missing}")
    return exe


def find_images(data: Path, sets: list[str], limit: int | None) -> list[tuple[str, Path]]:
    """``(set, path)`` of every image of the chosen sets, sorted by name within a set."""
    images = []
    for name in sets:
        folder = data / name
        if not folder.is_dir():
            sys.exit(f"bench_pngquant: no image set {name!r} in {data} "
                     f"(folder {folder} is missing)")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            sys.exit(f"bench_pngquant: {folder} holds no images")
        images.extend((name, p) for p in files[:limit])
    return images


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info


def decode(source, alpha: bool) -> np.ndarray:
    """uint8 pixels of a file (path or bytes) as Pillow decodes it, RGB or RGBA."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with Image.open(source) as im:
        return np.asarray(im.convert("RGBA" if alpha else "RGB"))


def palette_size(source) -> int:
    """Palette entries used by a file (distinct colours for a non-palette file)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with Image.open(source) as im:
        if im.mode == "P":
            return int(np.unique(np.asarray(im)).size)
        a = np.asarray(im.convert("RGBA"))
    return int(np.unique(a.reshape(-1, 4), axis=0).shape[0])


def _timed_run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return elapsed


def _rel_diff(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def bench_one(rec: Record, path: Path, original: np.ndarray, alpha: bool, repeat: int,
              pp_exe: str, pq_exe: str, tmp: Path) -> None:
    """Fill ``rec`` for one image and k: timed runs, then the quality of each output."""
    k = rec.k
    pp_out = tmp / f"pp-{rec.set}-{path.stem}-{k}.png"
    pq_out = tmp / f"pq-{rec.set}-{path.stem}-{k}.png"
    pp_cmd = [pp_exe, "compress", str(path), "-o", str(pp_out), "-k", str(k), "--dither", "0", "--force"]
    pq_cmd = [pq_exe, "--nofs", "--force", "--output", str(pq_out), str(k), str(path)]
    last_result = None

    def pp_inproc():
        nonlocal last_result
        t0 = time.perf_counter()
        result = palettepress.compress(str(path), colors=k, dither=0)
        rec.pp_time_inproc_runs.append(time.perf_counter() - t0)
        rec.pp_stage_runs.append(dict(result.timings))
        last_result = result

    def pp_process():
        rec.pp_time_process_runs.append(_timed_run(pp_cmd))

    def pq_process():
        rec.pq_time_process_runs.append(_timed_run(pq_cmd))

    steps = [pp_inproc, pp_process, pq_process]
    for r in range(repeat):
        # The order rotates between repeats so that no tool always runs right after the
        # other (warm file cache, CPU clock ramp-up, another process's burst).
        shift = r % len(steps)
        for step in steps[shift:] + steps[:shift]:
            step()
    rec.pp_time_inproc = statistics.median(rec.pp_time_inproc_runs)
    rec.pp_time_process = statistics.median(rec.pp_time_process_runs)
    rec.pq_time_process = statistics.median(rec.pq_time_process_runs)

    pp_file = pp_out.read_bytes()
    pp_image = decode(pp_file, alpha)
    m = measure(original, pp_image)
    rec.pp_bytes, rec.pp_colors = len(pp_file), palette_size(pp_file)
    rec.pp_mse, rec.pp_psnr, rec.pp_ssim, rec.pp_delta_e = m.mse, m.psnr, m.ssim, m.delta_e
    rec.pp_ssimulacra2 = m.ssimulacra2
    _check_consistency(rec, last_result, pp_file, pp_image, m)

    rgb = palettepress.compress(str(path), colors=k, space="rgb", dither=0)
    rec.rgb_bytes = rgb.output_bytes
    rec.rgb_mse = measure(original, decode(rgb.data, alpha)).mse

    pq_file = pq_out.read_bytes()
    m = measure(original, decode(pq_file, alpha))
    rec.pq_bytes, rec.pq_colors = len(pq_file), palette_size(pq_file)
    rec.pq_mse, rec.pq_psnr, rec.pq_ssim, rec.pq_delta_e = m.mse, m.psnr, m.ssim, m.delta_e
    rec.pq_ssimulacra2 = m.ssimulacra2


def _check_consistency(rec: Record, result, pp_file: bytes, pp_image: np.ndarray, m) -> None:
    """Note where the command's file and the in-process Result disagree."""
    if result.data != pp_file:
        rec.warnings.append("the command's file differs from compress().data")
    if result.output_bytes != len(result.data):
        rec.warnings.append(f"Result.output_bytes {result.output_bytes} != "
                            f"len(data) {len(result.data)}")
    if result.colors > rec.k:
        rec.warnings.append(f"{result.colors} palette entries for k={rec.k}")
    recon = result.image
    if recon.shape != pp_image.shape or not np.array_equal(recon, pp_image):
        if recon.shape[-1] == 4 and pp_image.shape[-1] == 3:
            same = np.array_equal(recon[..., :3], pp_image)
        else:
            same = False
        if not same:
            rec.warnings.append("Result.image differs from the decoded file")
    for name in ("mse", "delta_e", "ssim", "ssimulacra2"):
        ours, theirs = getattr(result, name), getattr(m, name)
        both_nan = math.isnan(ours) and math.isnan(theirs)
        if not both_nan and _rel_diff(ours, theirs) > CONSISTENCY_RTOL:
            rec.warnings.append(f"Result.{name} {ours:.6g} != measured on the file {theirs:.6g}")


# -- summarising ---------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def ratios(rec: Record) -> dict:
    """Per-image ratios palettepress / pngquant, keyed as :data:`TARGETS`."""
    return {
        "delta_e": _ratio(rec.pp_delta_e, rec.pq_delta_e),
        "bytes": _ratio(rec.pp_bytes, rec.pq_bytes),
        "mse_rgb": _ratio(rec.rgb_mse, rec.pq_mse),
        "time_inproc": _ratio(rec.pp_time_inproc, rec.pq_time_process),
        "time_process": _ratio(rec.pp_time_process, rec.pq_time_process),
    }


def summarise(records: list[Record]) -> dict:
    """Geometric means of the ratios, the worst CIEDE2000 ratio and mean absolute values."""
    ok = [r for r in records if r.error is None]
    if not ok:
        return {"n": 0}
    per = [ratios(r) for r in ok]
    out = {"n": len(ok)}
    for key in per[0]:
        out[key] = geomean([p[key] for p in per])
    worst = max(range(len(ok)), key=lambda i: per[i]["delta_e"])
    out["delta_e_max"] = per[worst]["delta_e"]
    out["delta_e_max_image"] = ok[worst].name
    out["delta_e_max_k"] = ok[worst].k
    for attr in ("pp_delta_e", "pq_delta_e", "pp_psnr", "pq_psnr", "pp_ssim", "pq_ssim",
                 "pp_ssimulacra2", "pq_ssimulacra2"):
        out[attr] = statistics.fmean(getattr(r, attr) for r in ok)
    return out


def stage_medians(records: list[Record]) -> list[dict]:
    """Median seconds of each palettepress stage, per set and k, over images and repeats."""
    rows = []
    keys = sorted({(r.set, r.k) for r in records if r.error is None},
                  key=lambda sk: (_set_order(records, sk[0]), sk[1]))
    for set_name, k in keys:
        runs = [s for r in records if r.error is None and r.set == set_name and r.k == k
                for s in r.pp_stage_runs]
        stages = [s for s in STAGES if any(s in run for run in runs)]
        stages += sorted({s for run in runs for s in run} - set(stages))
        row = {"set": set_name, "k": k, "runs": len(runs)}
        for s in stages:
            row[s] = statistics.median(run.get(s, 0.0) for run in runs)
        row["total"] = statistics.median(sum(run.values()) for run in runs)
        rows.append(row)
    return rows


def _set_order(records: list[Record], name: str) -> int:
    return next(i for i, r in enumerate(records) if r.set == name)


# -- Markdown ------------------------------------------------------------------------


def render(records: list[Record], env: dict, args: argparse.Namespace) -> str:
    """The Markdown block (without the markers)."""
    ok = [r for r in records if r.error is None]
    lines = ["## palettepress without dithering vs pngquant --nofs", "",
             "Generated by `benchmarks/bench_pngquant.py`; do not edit this block by hand, "
             "rerun the script (see `benchmarks/README.md`).", ""]
    if args.quick:
        lines += [f"**Quick run** ({QUICK_IMAGES} images per set, repeat {args.repeat}): a smoke "
                  "test, not representative.", ""]
    lines += _header_lines(records, env, args)
    lines += ["### Targets", ""]
    lines += target_table(target_rows(records),
                          ("ratio palettepress / pngquant", "target", "measured", "result"))
    lines.append("")
    lines += _per_k_lines(ok, args.colors)
    lines += _stage_lines(records)
    lines += _per_image_lines(ok)
    warned = [r for r in records if r.warnings]
    failed = [r for r in records if r.error is not None]
    if warned or failed:
        lines += ["### Problems", ""]
        lines += [f"- {r.name} k={r.k}: error: {r.error}" for r in failed]
        lines += [f"- {r.name} k={r.k}: {w}" for r in warned for w in r.warnings]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _header_lines(records: list[Record], env: dict, args: argparse.Namespace) -> list[str]:
    """The command, machine, software and method bullets."""
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    where = "" if Path(env["cwd"]) == REPO else f" in `{env['cwd']}`"
    counts = ", ".join(f"{s} ({len({r.image for r in records if r.set == s})})" for s in args.sets)
    threads = env["threads"]
    return [
        f"- Command: `{env['command']}`{where}",
        f"- Date: {env['date']}",
        f"- Machine: {env['cpu']}, {env['cpu_count']} logical CPUs, {env['platform']}",
        f"- Software: {env['python']}, numpy {env['numpy']}, Pillow {env['pillow']}, "
        f"palettepress {env['palettepress']}{rev}"
        + (f" ({threads} OpenMP threads)" if threads else "")
        + f", pngquant {env['pngquant']}",
        f"- Images: {counts}"
        f"; k = {', '.join(map(str, args.colors))}; times are the median of {args.repeat} "
        f"run{'s' if args.repeat != 1 else ''}",
        "- palettepress: `compress(path, colors=k, dither=0)` (Oklab, no dithering) and "
        "`palettepress compress INPUT -o OUT -k K --dither 0 --force`; "
        "the MSE target uses `space=\"rgb\"`. "
        "pngquant: `pngquant --nofs --force --output OUT K INPUT`. The dithered defaults "
        "are compared, perceptually, in the next section's block (`bench_perceptual.py`).",
        "- Every output file is decoded with Pillow and measured by "
        "`palettepress.metrics.measure` (MSE summed over RGB per pixel, PSNR, SSIM, mean "
        "CIEDE2000, SSIMULACRA2). Ratios are palettepress / pngquant per image, summarised by "
        "their geometric mean: below 1 means palettepress is smaller, better or faster. "
        "CIEDE2000 is reported, no longer a target: the Oklab fit weights lightness fully, "
        "for SSIMULACRA2, which costs some CIEDE2000 (design measurements).",
        "",
    ]


def target_rows(records: list[Record]) -> list[TargetRow]:
    """:data:`TARGETS` against the summary of ``records`` (n/a where nothing was measured)."""
    summary = summarise(records)
    ok = any(r.error is None for r in records)
    rows = []
    for t in TARGETS:
        value = summary.get(t.key, math.nan)
        note = (f" ({summary['delta_e_max_image']} k={summary['delta_e_max_k']})"
                if t.key == "delta_e_max" and ok else "")
        rows.append(TargetRow(t.label, f"<= {t.limit:.2f}", _f(value, 3) + note,
                              None if math.isnan(value) else value <= t.limit))
    return rows


def _per_k_lines(ok: list[Record], colors: list[int]) -> list[str]:
    """The ratios and mean CIEDE2000 / SSIMULACRA2 per palette size and over all."""
    lines = ["### Per palette size", ""]
    rows = []
    for k in [*colors, None]:
        sub = [r for r in ok if k is None or r.k == k]
        if not sub:
            continue
        s = summarise(sub)
        rows.append([
            "all" if k is None else str(k), str(s["n"]),
            _f(s["delta_e"], 3),
            f"{_f(s['delta_e_max'], 3)} ({s['delta_e_max_image']}"
            + (")" if k else f" k={s['delta_e_max_k']})"),
            f"{_f(s['pp_delta_e'], 3)} / {_f(s['pq_delta_e'], 3)}",
            f"{_f(s['pp_ssimulacra2'], 2)} / {_f(s['pq_ssimulacra2'], 2)}",
            _f(s["bytes"], 3), _f(s["mse_rgb"], 3), _f(s["time_inproc"], 3),
            _f(s["time_process"], 3),
        ])
    lines += _table(["k", "images", "CIEDE2000 ratio", "worst CIEDE2000 ratio",
                     "mean CIEDE2000 pp / pq", "mean SSIMULACRA2 pp / pq", "bytes ratio", "MSE ratio (rgb)",
                     "in-process time ratio", "whole-process time ratio"], rows)
    lines.append("")
    return lines


def _stage_lines(records: list[Record]) -> list[str]:
    """Median seconds of each stage of ``compress()`` per set and k."""
    lines = ["### palettepress stage times", "",
             "Median seconds per stage of `compress()` (from `Result.timings`), over the "
             "images and repeats of each set and k.", ""]
    stage_rows = stage_medians(records)
    if stage_rows:
        stages = [c for c in stage_rows[0] if c not in ("set", "k", "runs", "total")]
        for row in stage_rows[1:]:
            stages += [c for c in row if c not in ("set", "k", "runs", "total") and c not in stages]
        rows = [[row["set"], str(row["k"]), *(_f(row.get(s, math.nan), 4) for s in stages),
                 _f(row["total"], 4)] for row in stage_rows]
        lines += _table(["set", "k", *stages, "sum"], rows, "lr" + "r" * (len(stages) + 1))
    lines.append("")
    return lines


def _per_image_lines(ok: list[Record]) -> list[str]:
    """The folded per-image table."""
    lines = ["### Per image", "",
             "pp = palettepress (`dither=0`; the MSE column also `space=\"rgb\"`), "
             "pq = pngquant `--nofs`. Times in seconds: palettepress in-process / "
             "palettepress process / pngquant process.", "",
             "<details><summary>Per-image table</summary>", ""]
    rows = [[r.name, str(r.k),
             f"{r.pp_bytes:,} / {r.pq_bytes:,}",
             f"{_f(r.pp_delta_e, 3)} / {_f(r.pq_delta_e, 3)}",
             _f(_ratio(r.pp_delta_e, r.pq_delta_e), 3),
             f"{_f(r.rgb_mse, 1)} / {_f(r.pq_mse, 1)}",
             f"{_f(r.pp_psnr, 2)} / {_f(r.pq_psnr, 2)}",
             f"{_f(r.pp_ssim, 4)} / {_f(r.pq_ssim, 4)}",
             f"{_f(r.pp_ssimulacra2, 2)} / {_f(r.pq_ssimulacra2, 2)}",
             f"{_f(r.pp_time_inproc, 3)} / {_f(r.pp_time_process, 3)} / {_f(r.pq_time_process, 3)}"]
            for r in ok]
    lines += _table(["image", "k", "bytes pp / pq", "CIEDE2000 pp / pq", "CIEDE2000 ratio",
                     "MSE rgb-space pp / pq", "PSNR dB pp / pq", "SSIM pp / pq", "SSIMULACRA2 pp / pq",
                     "time s pp / pp process / pq"], rows)
    lines += ["", "</details>", ""]
    return lines


def write_json(path: Path, records: list[Record], env: dict) -> None:
    """Raw records, their ratios and the summary as JSON."""
    data = {
        "environment": env,
        "summary": summarise(records),
        "targets": {t.key: t.limit for t in TARGETS},
        "records": [{**asdict(r), "ratios": ratios(r) if r.error is None else None}
                    for r in records],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_ready(data), indent=1) + "\n", encoding="utf-8")


# -- command line --------------------------------------------------------------------


def _name_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("no set named")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    p = argparse.ArgumentParser(
        description="Compare palettepress --dither 0 with pngquant --nofs (size, quality, time) "
                    "and write the results to a Markdown file.")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"folder holding the image sets (default: {DEFAULT_DATA})")
    p.add_argument("--sets", type=_name_list, default=["kodak", "sipi"],
                   help="comma-separated subfolders of --data (default: kodak,sipi)")
    p.add_argument("--colors", type=_int_list, default=[16, 64, 256],
                   help="comma-separated palette sizes (default: 16,64,256)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs per image and k; times are their median "
                        "(default: 3, or 1 with --quick)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="Markdown file whose bench_pngquant block is (re)written "
                        "(default: BENCHMARKS.md at the repository root)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the raw per-image records as JSON")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK_IMAGES} images per set, repeat 1")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 when some image could not be measured."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        sys.exit("bench_pngquant: --repeat must be at least 1")
    if not args.data.is_dir():
        sys.exit(f"bench_pngquant: test images not found at {args.data} (use --data)")
    pq_exe = _exe("pngquant", "pngquant not found on PATH; install it with "
                  "`apt-get install pngquant` (it is the benchmark's reference)")
    pp_exe = _exe("palettepress", "the `palettepress` command is not installed; run "
                  "`pip install -e .[bench]` in the repository")
    env = environment([sys.argv[0], *argv], pq_exe)
    images = find_images(args.data, args.sets, QUICK_IMAGES if args.quick else None)
    total = len(images) * len(args.colors)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"bench_pngquant: {len(images)} images x k={args.colors}, repeat {args.repeat}; "
        f"palettepress {env['palettepress']}, pngquant {env['pngquant']}")

    records: list[Record] = []
    with tempfile.TemporaryDirectory(prefix="bench_pngquant-") as tmpdir:
        tmp = Path(tmpdir)
        # The first call of a process pays for imports and first-touch allocations, and
        # the first run of each command for a cold file cache: none of that is the
        # steady state being compared.
        first, k0 = images[0][1], args.colors[0]
        palettepress.compress(str(first), colors=k0, dither=0)
        _timed_run([pp_exe, "compress", str(first), "-o", str(tmp / "warm-pp.png"),
                    "-k", str(k0), "--dither", "0", "--force"])
        _timed_run([pq_exe, "--nofs", "--force", "--output", str(tmp / "warm-pq.png"),
                    str(k0), str(first)])

        done = 0
        for set_name, path in images:
            with Image.open(path) as im:
                alpha = _has_alpha(im)
            original = decode(path, alpha)
            for k in args.colors:
                done += 1
                rec = Record(set=set_name, image=path.name, width=original.shape[1],
                             height=original.shape[0], k=k)
                try:
                    bench_one(rec, path, original, alpha, args.repeat, pp_exe, pq_exe, tmp)
                except Exception as exc:  # one bad image must not cost the whole run
                    rec.error = f"{type(exc).__name__}: {exc}"
                    log(f"[{done}/{total}] {rec.name} k={k}: ERROR {rec.error}")
                else:
                    r = ratios(rec)
                    log(f"[{done}/{total}] {rec.name} k={k}: "
                        f"dE {rec.pp_delta_e:.3f}/{rec.pq_delta_e:.3f} ({r['delta_e']:.3f})  "
                        f"bytes {rec.pp_bytes}/{rec.pq_bytes} ({r['bytes']:.3f})  "
                        f"mse-rgb {rec.rgb_mse:.1f}/{rec.pq_mse:.1f} ({r['mse_rgb']:.3f})  "
                        f"time {rec.pp_time_inproc:.3f}|{rec.pp_time_process:.3f}/"
                        f"{rec.pq_time_process:.3f}s"
                        + (f"  WARNING {'; '.join(rec.warnings)}" if rec.warnings else ""))
                records.append(rec)

    write_block(args.out, "bench_pngquant", render(records, env, args))
    log(f"bench_pngquant: wrote {args.out}")
    if args.json is not None:
        write_json(args.json, records, env)
        log(f"bench_pngquant: wrote {args.json}")
    print_verdicts(target_rows(records))
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
