#!/usr/bin/env python
"""Perceptual quality per byte: palettepress against pngquant, as people see the images.

For every image of the chosen sets and every palette size k it makes, side by side:

1. palettepress with default settings (dithered): ``compress(path, k, strip=True)``
   in process and ``palettepress compress IN -o OUT -k K --strip --force`` as a process;
2. palettepress without dithering, ``dither=0``;
3. ``pngquant --strip K`` (its default: dithered) and ``pngquant --strip --nofs K``;
4. palettepress with ``space="rgb", dither=0``, for the k-means objective (RGB MSE
   against pngquant ``--nofs``).

Every output file is decoded by Pillow and judged by the same code: SSIMULACRA2 from
palettepress's kernels (images with alpha over a dark and a light grey, the worse kept),
butteraugli's 3-norm from libjxl's ``butteraugli_main`` (opaque images), bytes, and
palettepress's reported SSIMULACRA2 against the ``ssimulacra2`` package (opaque images).
Times are medians of repeated runs, interleaved in rotating order.

The result is written between ``<!-- bench_perceptual:start -->`` and
``<!-- bench_perceptual:end -->`` of ``--out`` (default BENCHMARKS.md; ``--block NAME``
for other markers). pngquant (GPL)
and butteraugli are run as external programs only, as references.

Examples
--------
    python benchmarks/bench_perceptual.py
    python benchmarks/bench_perceptual.py --quick --out /tmp/perceptual.md
    python benchmarks/bench_perceptual.py --sets graphics --colors 16 --json /tmp/g16.json
    python benchmarks/bench_perceptual.py --data benchmarks/.grey-set --sets grey,sepia \
        --block bench_perceptual_grey
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
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
from palettepress import metrics

from _common import REPO, environment, geomean, json_ready, markdown_table, palette_sizes, tool_version
from _common import fmt as _f
from _common import TargetRow, find_command, print_verdicts, target_table, write_block

DEFAULT_DATA = REPO.parent / "shared" / "testdata"
PHOTOS = ("kodak", "sipi")
#: The photo sets timed against pngquant, each on its own: Kodak and USC-SIPI, and CBSD68
#: (colour-rich: 33-48 thousand colours in a sixth of Kodak's pixels, where the fit weighs
#: most). Targets: in-process ``compress`` at most MAX_TIME_INPROC of one pngquant
#: process, the command line at most MAX_TIME_CLI (geometric means over the images and k).
TIMED_SETS = ("kodak", "sipi", "cbsd68")
MAX_TIME_INPROC = 0.45
MAX_TIME_CLI = 1.6
QUICK_IMAGES = 3
#: Tools of the comparison: palettepress default and undithered, pngquant default and --nofs.
TOOLS = ("pp", "pp0", "pq", "pqn")
TOOL_NAMES = {"pp": "palettepress default", "pp0": "palettepress `--dither 0`",
              "pq": "`pngquant K`", "pqn": "`pngquant --nofs K`"}


@dataclass
class Record:
    """One image at one k: per tool (see :data:`TOOLS`) bytes, SSIMULACRA2, butteraugli."""

    set: str
    image: str
    k: int
    alpha: bool
    pixels: int
    bytes: dict = field(default_factory=dict)
    s2: dict = field(default_factory=dict)
    butteraugli: dict = field(default_factory=dict)
    s2_reported: float = math.nan      # Result.ssimulacra2 of the default run
    s2_reference: float = math.nan     # the ssimulacra2 package on the same file
    mse_rgb: float = math.nan          # palettepress space="rgb", dither=0
    mse_nofs: float = math.nan         # pngquant --nofs
    dither: str = ""                   # what the default run did
    time_inproc: list = field(default_factory=list)
    time_cli: list = field(default_factory=list)
    time_pq: list = field(default_factory=list)
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.set}/{self.image}"


def _exe(name: str, hint: str) -> str:
    exe = find_command(name)
    if exe is None:
        sys.exit(f"bench_perceptual: {name} not found: {hint}")
    return exe


def find_images(data: Path, sets: list[str], limit: int | None) -> list[tuple[str, Path]]:
    images = []
    for name in sets:
        folder = data / name
        if not folder.is_dir():
            sys.exit(f"bench_perceptual: no image set {name!r} in {data}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
        images.extend((name, p) for p in files[:limit])
    return images


def load(path: Path) -> np.ndarray:
    """The original as palettepress reads it: RGBA when any pixel is not opaque."""
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA"))
    return rgba if (rgba[..., 3] < 255).any() else np.ascontiguousarray(rgba[..., :3])


def decode(source, channels: int) -> np.ndarray:
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with Image.open(source) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGBA" if channels == 4 else "RGB")))


def butteraugli(exe: str, reference: Path, distorted: Path) -> float:
    out = subprocess.run([exe, str(reference), str(distorted), "--pnorm", "3"],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"3-norm:\s*([0-9.eE+-]+)", out)
    if match is None:
        raise RuntimeError(f"butteraugli_main printed no 3-norm: {out!r}")
    return float(match.group(1))


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def bench_one(rec: Record, path: Path, original: np.ndarray, tmp: Path, args, exes: dict) -> None:
    k = rec.k
    stem = f"{rec.set}-{path.stem}-{k}"
    files = {tool: tmp / f"{tool}-{stem}.png" for tool in TOOLS}
    cli = [exes["palettepress"], "compress", str(path), "-o", str(files["pp"]), "-k", str(k),
           "--strip", "--force"]
    pq = [exes["pngquant"], "--strip", "--force", "--output", str(files["pq"]), str(k), str(path)]
    result = None

    def inproc():
        nonlocal result
        t0 = time.perf_counter()
        result = palettepress.compress(str(path), k, strip=True)
        rec.time_inproc.append(time.perf_counter() - t0)

    steps = [inproc, lambda: rec.time_cli.append(_run(cli)), lambda: rec.time_pq.append(_run(pq))]
    for r in range(args.repeat):
        for step in steps[r % 3:] + steps[:r % 3]:
            step()
    if result.data != files["pp"].read_bytes():
        raise RuntimeError("the command's file differs from compress().data")
    rec.s2_reported, rec.dither = result.ssimulacra2, result.dither
    files["pp0"].write_bytes(palettepress.compress(str(path), k, dither=0, strip=True).data)
    subprocess.run([exes["pngquant"], "--strip", "--nofs", "--force", "--output", str(files["pqn"]),
                    str(k), str(path)], check=True, capture_output=True)
    channels = original.shape[2]
    for tool, file in files.items():
        decoded = decode(file, channels)
        rec.bytes[tool] = file.stat().st_size
        rec.s2[tool] = metrics.ssimulacra2(original, decoded)
        if tool == "pqn":
            rec.mse_nofs = metrics.mse(original, decoded)
        if not rec.alpha and exes.get("butteraugli"):
            rec.butteraugli[tool] = butteraugli(exes["butteraugli"], path, file)
    rgb = palettepress.compress(str(path), k, space="rgb", dither=0, strip=True)
    rec.mse_rgb = metrics.mse(original, decode(rgb.data, channels))
    if not rec.alpha and args.reference:
        from ssimulacra2 import compute_ssimulacra2

        rec.s2_reference = compute_ssimulacra2(str(path), str(files["pp"]))


# -- summaries -----------------------------------------------------------------------

def group(records: list[Record], name: str, k: int | None = None) -> list[Record]:
    """Records of a set, of the photos (``photos``: Kodak and SIPI) or of everything."""
    sets = PHOTOS if name == "photos" else None if name == "all" else (name,)
    return [r for r in records if r.error is None and (sets is None or r.set in sets)
            and (k is None or r.k == k)]


def summary(rs: list[Record]) -> dict:
    if not rs:
        return {"n": 0}
    out = {"n": len(rs)}
    for tool in TOOLS:
        out[f"s2_{tool}"] = statistics.fmean(r.s2[tool] for r in rs)
        out[f"bytes_{tool}"] = sum(r.bytes[tool] for r in rs)
    # butteraugli is 0 for a file identical to the original (an image with no more colours
    # than k): a geometric mean needs the images where no tool's file is identical.
    opaque = [r for r in rs if r.butteraugli and min(r.butteraugli.values()) > 0]
    for tool in TOOLS:
        out[f"ba_{tool}"] = geomean([r.butteraugli[tool] for r in opaque]) if opaque else math.nan
    out["n_opaque"] = len(opaque)
    worst = min(rs, key=lambda r: r.s2["pp"] - r.s2["pq"])
    out["worst"] = (worst.s2["pp"] - worst.s2["pq"], f"{worst.name} k={worst.k}")
    worst0 = min(rs, key=lambda r: r.s2["pp0"] - r.s2["pqn"])
    out["worst0"] = (worst0.s2["pp0"] - worst0.s2["pqn"], f"{worst0.name} k={worst0.k}")
    ref = [abs(r.s2_reported - r.s2_reference) for r in rs if not math.isnan(r.s2_reference)]
    out["ref_max"] = max(ref) if ref else math.nan
    out["mse_rgb"] = geomean([r.mse_rgb / r.mse_nofs for r in rs if r.mse_nofs > 0])
    timed = [r for r in rs if r.time_pq]
    out["time_inproc"] = geomean([statistics.median(r.time_inproc) / statistics.median(r.time_pq)
                                  for r in timed])
    out["time_cli"] = geomean([statistics.median(r.time_cli) / statistics.median(r.time_pq)
                               for r in timed])
    out["dither"] = {m: sum(r.dither == m for r in rs) for m in ("none", "diffusion", "ordered")}
    return out


def targets(records: list[Record], colors: list[int]) -> list[TargetRow]:
    """The issue's targets, per group and k."""
    rows = []
    for name in ("photos", "cbsd68", "graphics"):
        for k in colors:
            s = summary(group(records, name, k))
            if not s["n"]:
                continue
            where = f"{name}, k = {k}"
            d = s["s2_pp"] - s["s2_pq"]
            rows.append((f"{where}: mean SSIMULACRA2, default − `pngquant K`", ">= +2", d, d >= 2))
            b = s["bytes_pp"] / s["bytes_pq"]
            rows.append((f"{where}: bytes, default / `pngquant K`", "<= 1.00", b, b <= 1.0))
            rows.append((f"{where}: worst image, default − `pngquant K`", ">= -5", s["worst"][0],
                         s["worst"][0] >= -5))
            if s["n_opaque"]:
                ba = s["ba_pp"] / s["ba_pq"]
                rows.append((f"{where}: butteraugli 3-norm (geo. mean), default / `pngquant K`",
                             "<= 0.95", ba, ba <= 0.95))
            d0 = s["s2_pp0"] - s["s2_pqn"]
            rows.append((f"{where}: mean SSIMULACRA2, `--dither 0` − `pngquant --nofs K`", ">= +1",
                         d0, d0 >= 1))
            b0 = s["bytes_pp0"] / s["bytes_pqn"]
            rows.append((f"{where}: bytes, `--dither 0` / `pngquant --nofs K`", "<= 1.00", b0, b0 <= 1.0))
    photos = summary(group(records, "photos"))
    if photos["n"]:
        rows.append(("photos: reported SSIMULACRA2 − the `ssimulacra2` package, largest |difference|",
                     "<= 0.5", photos["ref_max"], photos["ref_max"] <= 0.5))
        rows.append(("photos: RGB MSE, `--space rgb --dither 0` / `pngquant --nofs K` (geo. mean)",
                     "<= 0.92", photos["mse_rgb"], photos["mse_rgb"] <= 0.92))
    for name in TIMED_SETS:
        s = summary(group(records, name))
        if s["n"]:
            rows.append((f"{name}: in-process `compress()` time / `pngquant K` process (geo. mean)",
                         f"<= {MAX_TIME_INPROC:.2f}", s["time_inproc"],
                         s["time_inproc"] <= MAX_TIME_INPROC))
            rows.append((f"{name}: `palettepress compress` process / `pngquant K` process (geo. mean)",
                         f"<= {MAX_TIME_CLI:.2f}", s["time_cli"], s["time_cli"] <= MAX_TIME_CLI))
    return [TargetRow(desc, limit, _f(value, 3), met) for desc, limit, value, met in rows]


def render(records: list[Record], env: dict, args) -> str:
    ok = [r for r in records if r.error is None]
    title = "## Perceptual quality per byte: palettepress against pngquant"
    if args.block != "bench_perceptual":
        title += f" ({', '.join(args.sets)})"
    lines = [title, "",
             "Generated by `benchmarks/bench_perceptual.py`; do not edit this block by hand, rerun "
             "the script (see `benchmarks/README.md`).", ""]
    if args.quick:
        lines += [f"**Quick run** ({QUICK_IMAGES} images per set, repeat {args.repeat}): a smoke "
                  "test, not representative.", ""]
    counts = ", ".join(f"{s} ({len({r.image for r in records if r.set == s})})" for s in args.sets)
    lines += [
        f"- Command: `{env['command']}`",
        f"- Date: {env['date']}",
        f"- Machine: {env['cpu']}, {env['cpu_count']} logical CPUs, {env['platform']}",
        f"- Software: {env['python']}, numpy {env['numpy']}, Pillow {env['pillow']}, palettepress "
        f"{env['palettepress']}" + (f" (git {env['palettepress_git']})" if env["palettepress_git"] else "")
        + f" ({env['threads']} OpenMP threads), pngquant {env['pngquant']}, butteraugli_main "
        f"{env['butteraugli']}",
        f"- Images: {counts}; k = {', '.join(map(str, args.colors))}; times are the median of "
        f"{args.repeat} runs per image and k, the three commands interleaved in rotating order.",
        "- palettepress default: `compress(path, k, strip=True)` and `palettepress compress IN -o OUT "
        "-k K --strip --force` (Oklab, error diffusion); `--dither 0`: `compress(path, k, dither=0, "
        "strip=True)`. pngquant: `pngquant --strip K IN` (its default, dithered) and "
        "`pngquant --strip --nofs K IN`.",
        "- Every file is decoded by Pillow and judged by the same code. SSIMULACRA2 (100 = "
        "identical, 90 visually lossless, 70 high, 50 medium quality): palettepress's kernels, images "
        "with alpha composited over sRGB grey 0.1 and 0.9 and the worse kept. butteraugli: "
        "`butteraugli_main ORIGINAL OUTPUT --pnorm 3` (libjxl), lower is better, on opaque images. "
        "Means are over images; bytes are totals; butteraugli is the geometric mean.",
        "",
    ]
    goals = targets(records, args.colors)
    if goals:  # the targets are the photo sets' and CBSD68's
        lines += ["### Targets", "", *target_table(goals), ""]
    lines += ["### Per set and palette size", "",
              "SSIMULACRA2 mean / total KB / butteraugli geometric mean (over the opaque images "
              "no tool reproduced exactly) for each of: "
              + ", ".join(f"{t} = {TOOL_NAMES[t]}" for t in TOOLS)
              + ". Worst: the image where the default loses most against `pngquant K`.", ""]
    rows = []
    for name in [*args.sets, *(["photos"] if set(PHOTOS) <= set(args.sets) else [])]:
        for k in args.colors:
            s = summary(group(records, name, k))
            if not s["n"]:
                continue
            cells = [f"{_f(s[f's2_{t}'], 2)} / {s[f'bytes_{t}'] / 1000:,.0f} / {_f(s[f'ba_{t}'], 2)}"
                     for t in TOOLS]
            rows.append([name, str(k), str(s["n"]), *cells,
                         f"{s['worst'][0]:+.1f} ({s['worst'][1].split('/')[-1].rsplit(' ', 1)[0]})",
                         _f(s["time_inproc"], 2), _f(s["time_cli"], 2)])
    lines += markdown_table(["set", "k", "images", *TOOLS, "worst default − pq",
                             "time in-process / pq", "time CLI / pq"], rows)
    lines += ["", "<details><summary>Per image: SSIMULACRA2 and bytes</summary>", ""]
    rows = [[r.name, str(r.k), r.dither, *(f"{r.s2[t]:.2f} / {r.bytes[t]:,}" for t in TOOLS),
             _f(r.s2_reported - r.s2_reference, 3) if not math.isnan(r.s2_reference) else "n/a"]
            for r in ok]
    lines += markdown_table(["image", "k", "default dither", *TOOLS, "reported − package"], rows)
    lines += ["", "</details>", ""]
    failed = [r for r in records if r.error]
    if failed:
        lines += ["### Problems", "", *(f"- {r.name} k={r.k}: {r.error}" for r in failed), ""]
    return "\n".join(lines).rstrip() + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--sets", type=lambda t: [v for v in t.split(",") if v],
                   default=["kodak", "sipi", "cbsd68", "graphics"])
    p.add_argument("--colors", type=palette_sizes, default=[16, 64, 256])
    p.add_argument("--repeat", type=int, default=None, help="timed runs (default 3, 1 with --quick)")
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    p.add_argument("--block", default="bench_perceptual",
                   help="the markers' name in --out (another for a run on other sets)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_IMAGES} images per set, repeat 1")
    p.add_argument("--no-butteraugli", action="store_true", help="skip butteraugli (slow)")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip the ssimulacra2 package check (slow)")
    p.add_argument("--from-json", type=Path, default=None, metavar="PATH",
                   help="write the block from the records of an earlier run's --json, running nothing")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        records = [Record(**{k: v for k, v in r.items()}) for r in saved["records"]]
        for r in records:
            for name in ("s2_reported", "s2_reference", "mse_rgb", "mse_nofs"):
                if getattr(r, name) is None:
                    setattr(r, name, math.nan)
        args.sets = list(dict.fromkeys(r.set for r in records))
        args.colors = sorted({r.k for r in records})
        args.repeat = max(len(r.time_pq) for r in records)
        write_block(args.out, args.block, render(records, saved["environment"], args))
        return 0
    exes = {"pngquant": _exe("pngquant", "apt-get install pngquant"),
            "palettepress": _exe("palettepress", "pip install -e .[bench]")}
    if not args.no_butteraugli:
        exes["butteraugli"] = _exe("butteraugli_main", "apt-get install libjxl-devtools")
    if args.reference:
        try:
            import ssimulacra2  # noqa: F401
        except ImportError:
            sys.exit("bench_perceptual: the ssimulacra2 package is missing: pip install -e .[bench]")
    env = environment([sys.argv[0], *argv], exes["pngquant"],
                      butteraugli="from libjxl-devtools " + tool_version(["dpkg-query", "-W", "-f",
                                                                           "${Version}", "libjxl-devtools"])
                      if exes.get("butteraugli") else "not run")
    images = find_images(args.data, args.sets, QUICK_IMAGES if args.quick else None)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    records = []
    with tempfile.TemporaryDirectory(prefix="bench_perceptual-") as tmpdir:
        tmp = Path(tmpdir)
        first = images[0][1]
        palettepress.compress(str(first), args.colors[0])  # imports and first-touch allocations
        _run([exes["palettepress"], "compress", str(first), "-o", str(tmp / "warm.png"), "-k", "16", "--force"])
        _run([exes["pngquant"], "--force", "--output", str(tmp / "warm-pq.png"), "16", str(first)])
        total, done = len(images) * len(args.colors), 0
        for set_name, path in images:
            original = load(path)
            for k in args.colors:
                done += 1
                rec = Record(set_name, path.name, k, original.shape[2] == 4,
                             original.shape[0] * original.shape[1])
                try:
                    bench_one(rec, path, original, tmp, args, exes)
                except Exception as exc:  # one bad image must not cost the whole run
                    rec.error = f"{type(exc).__name__}: {exc}"
                    log(f"[{done}/{total}] {rec.name} k={k}: ERROR {rec.error}")
                else:
                    log(f"[{done}/{total}] {rec.name} k={k}: SSIMULACRA2 {rec.s2['pp']:.1f} vs "
                        f"{rec.s2['pq']:.1f}, bytes {rec.bytes['pp']} vs {rec.bytes['pq']}, "
                        f"time {statistics.median(rec.time_inproc):.3f}/{statistics.median(rec.time_pq):.3f}s")
                records.append(rec)
    if args.json:  # first: a rendering problem must not cost the run
        args.json.write_text(json.dumps(json_ready({"environment": env, "records": [
            asdict(r) for r in records]}), indent=1) + "\n")
    write_block(args.out, args.block, render(records, env, args))
    print_verdicts(targets(records, args.colors))
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
