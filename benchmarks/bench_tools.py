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

and, for the large images' time and memory targets, both defaults, which dither:
``palettepress compress IN -o OUT -k K --force`` and ``pngquant --force --output OUT K IN``.

The Python tools run as ``python benchmarks/_quantizers.py TOOL IN OUT K`` (see that
file), so every time includes process start-up, as the ``palettepress`` command's does.
Each run is forked by a small helper process, ``_runner.py``, which takes its wall time
with :func:`time.perf_counter` from fork to exit and its peak resident memory from the
``ru_maxrss`` that :func:`os.wait4` reports for it (forked from the helper, a run does not
count the memory this script holds; see ``_runner.py``). A run still going after
``--timeout`` seconds is killed and reported as taking more than that, with its peak
memory so far.

Images: the 24 Kodak photos at k = 16, 64 and 256, and at k = 256 two large ones: the
12-megapixel ``large/IMG_1047.JPG`` and a 110-megapixel 3x bicubic upscale of it. The JPEG
is decoded by Pillow and saved as a PNG once, in ``--work``, and both large inputs are
PNGs given to every tool alike (pngquant reads nothing else). Every output is decoded by
Pillow and measured against the Pillow-decoded input by
:func:`palettepress.metrics.measure` (MSE, PSNR, SSIM, mean CIEDE2000).

Times are the median of ``--repeat`` runs, the tools' runs interleaved per image in an
order that rotates between repeats; the all-pixel KMeans runs once, on the first
``--sklearn-full-images`` Kodak photos only, and on the large images within the timeout.

The result replaces the block between ``<!-- bench_tools:start -->`` and
``<!-- bench_tools:end -->`` of ``--out`` (default BENCHMARKS.md); the rate-distortion
plot is written to ``--plot`` (default ``docs/rd-tools.png``) and linked from the block.
pngquant (GPL) and ImageMagick are run as external programs only.

Examples
--------
    python benchmarks/bench_tools.py
    python benchmarks/bench_tools.py --quick --out /tmp/bench_tools.md --plot /tmp/rd.png
    python benchmarks/bench_tools.py --images 0 --large 12mp --tools palettepress,pngquant
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import io
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from palettepress.metrics import measure

from _common import (REPO, environment, find_command, fmt, geomean, json_ready, markdown_table,
                     palette_sizes, script_parser, tool_version, write_block)

WORKER = Path(__file__).resolve().with_name("_quantizers.py")
RUNNER = Path(__file__).resolve().with_name("_runner.py")
DEFAULT_WORK = Path(tempfile.gettempdir()) / "palettepress-bench"
DEFAULT_PLOT = REPO / "docs" / "rd-tools.png"
LARGE_SOURCE = Path("large") / "IMG_1047.JPG"
LARGE_SIZES = ("12mp", "110mp")
LARGE_K = 256
UPSCALE = 3
QUICK_IMAGES = 2
QUICK_COLORS = [16, 64]
FULL_KMEANS = "sklearn-full"


@dataclass(frozen=True)
class Tool:
    """One quantizer: how to run it, and why it cannot run when it is missing.

    ``args`` is the command after the program, with ``{in}``, ``{out}`` and ``{k}`` in place
    of the input, the output and the palette size.
    """

    key: str
    label: str
    program: str | None
    shown_as: str
    args: tuple[str, ...]
    note: str = ""
    missing: str | None = None

    def argv(self, source: Path, target: Path, k: int) -> list[str]:
        """The command that quantizes ``source`` to ``k`` colours into ``target``."""
        return [str(self.program), *_fill(self.args, str(source), str(target), str(k))]

    @property
    def command(self) -> str:
        """The command as the output shows it (the worker by its path in the repository)."""
        args = [WORKER.relative_to(REPO).as_posix() if a == str(WORKER) else a for a in self.args]
        return shlex.join([self.shown_as, *_fill(args, "IN", "OUT", "K")])


def _fill(args, source: str, target: str, k: str) -> list[str]:
    return [a.replace("{in}", source).replace("{out}", target).replace("{k}", k) for a in args]


@dataclass(frozen=True)
class Input:
    """An image every tool is given: ``path`` is the file passed to the tools."""

    set: str
    name: str
    path: Path
    width: int
    height: int
    key: str = ""

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


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
    Target("12mp", "time", 1.0),
    Target("12mp", "rss", 1.5),
    Target("110mp", "time", 1.0),
    Target("110mp", "rss", 1.2),
)


@dataclass
class Record:
    """One tool on one image at one palette size.

    ``seconds`` is the median of ``runs_seconds`` (the timeout when a run was killed, a
    lower bound then); ``rss_mib`` the largest peak resident memory of the runs, in MiB.
    Quality fields stay NaN when there is no output to measure.
    """

    set: str
    image: str
    tool: str
    k: int
    width: int
    height: int
    runs_seconds: list = field(default_factory=list)
    runs_rss_mib: list = field(default_factory=list)
    seconds: float = math.nan
    rss_mib: float = math.nan
    timed_out: bool = False
    bytes: int = 0
    bpp: float = math.nan
    mode: str = ""
    colors: int = 0
    mse: float = math.nan
    psnr: float = math.nan
    ssim: float = math.nan
    delta_e: float = math.nan
    warnings: list = field(default_factory=list)
    error: str | None = None

    @property
    def measured(self) -> bool:
        """Whether the run finished and its output was measured."""
        return self.error is None and not self.timed_out and self.bytes > 0


# -- running a process ---------------------------------------------------------------


@dataclass(frozen=True)
class ProcessRun:
    """Wall time, peak memory and exit of one process; ``timed_out`` when it was killed."""

    seconds: float
    rss_mib: float
    returncode: int
    timed_out: bool
    stderr: str


class Runner:
    """The helper process (``_runner.py``) that starts every timed command.

    Commands are forked from it rather than from this process, so that their peak RSS
    does not include the memory this process holds (see ``_runner.py``).
    """

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self._scratch = scratch
        self._proc = subprocess.Popen([sys.executable, "-I", "-S", str(RUNNER)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=env, text=True, bufsize=1)

    def run(self, argv: list[str], timeout: float) -> ProcessRun:
        """Run ``argv`` to its end, or until it is killed after ``timeout`` seconds."""
        stderr_path = self._scratch / "stderr.txt"
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"argv": argv, "timeout": timeout,
                                           "stderr": str(stderr_path)}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the runner process ({RUNNER.name}) exited with "
                               f"{self._proc.wait()}")
        answer = json.loads(line)
        try:
            stderr = stderr_path.read_text(errors="replace")
        except OSError:
            stderr = ""
        return ProcessRun(seconds=answer["seconds"], rss_mib=answer["maxrss_kib"] / 1024,
                          returncode=answer["returncode"], timed_out=answer["timed_out"],
                          stderr=stderr)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- tools ---------------------------------------------------------------------------


def build_tools(imagemagick: str | None) -> list[Tool]:
    """Every tool, in the order of the tables; a missing one says why."""
    pp_exe = find_command("palettepress")
    pq_exe = find_command("pngquant")
    im_exe = shutil.which(imagemagick) if imagemagick else (shutil.which("magick")
                                                            or shutil.which("convert"))
    has_sklearn = importlib.util.find_spec("sklearn") is not None

    def python_tool(key: str, label: str, note: str, missing: str | None = None) -> Tool:
        return Tool(key, label, sys.executable, "python",
                    (str(WORKER), key, "{in}", "{out}", "{k}"), note=note, missing=missing)

    no_sklearn = None if has_sklearn else "scikit-learn is not installed (pip install -e .[bench])"
    return [
        Tool("palettepress", "palettepress --dither 0", pp_exe, "palettepress",
             ("compress", "{in}", "-o", "{out}", "-k", "{k}", "--dither", "0", "--force"),
             note="default settings but no dithering (Oklab)",
             missing=None if pp_exe else "the `palettepress` command is not installed"),
        Tool("pngquant", "pngquant --nofs", pq_exe, "pngquant",
             ("--nofs", "--force", "--output", "{out}", "{k}", "{in}"),
             missing=None if pq_exe else "pngquant is not on PATH (apt-get install pngquant)"),
        Tool("palettepress-default", "palettepress (default, dithered)", pp_exe, "palettepress",
             ("compress", "{in}", "-o", "{out}", "-k", "{k}", "--force"),
             note="default settings: Oklab, error diffusion",
             missing=None if pp_exe else "the `palettepress` command is not installed"),
        Tool("pngquant-default", "pngquant (default, dithered)", pq_exe, "pngquant",
             ("--force", "--output", "{out}", "{k}", "{in}"),
             missing=None if pq_exe else "pngquant is not on PATH (apt-get install pngquant)"),
        Tool("imagemagick", "ImageMagick", im_exe,
             Path(im_exe).name if im_exe else (imagemagick or "convert"),
             ("{in}", "-dither", "None", "-colors", "{k}", "PNG8:{out}"),
             note="`PNG8:` makes an indexed (palette) PNG",
             missing=None if im_exe else (f"`{imagemagick}` not found" if imagemagick else
                                          "ImageMagick (`magick` or `convert`) is not on PATH")),
        python_tool("pillow-mediancut", "Pillow median cut",
                    "`Image.quantize(colors=K, method=Image.Quantize.MEDIANCUT, "
                    "dither=Image.Dither.NONE)` on the RGB image, `save(OUT, \"PNG\")`"),
        python_tool("pillow-octree", "Pillow octree",
                    "`Image.quantize(colors=K, method=Image.Quantize.FASTOCTREE, "
                    "dither=Image.Dither.NONE)` on the RGB image, `save(OUT, \"PNG\")`"),
        python_tool("sklearn-sample", "scikit-learn example",
                    "the gallery example: pixels float64 in [0, 1], `KMeans(n_clusters=K, "
                    "random_state=0).fit(shuffle(pixels, random_state=0, n_samples=1_000))` "
                    "(`n_init=\"auto\"`: one k-means++ start), `predict` on every pixel",
                    no_sklearn),
        python_tool(FULL_KMEANS, "scikit-learn KMeans, all pixels",
                    "pixels float64 in [0, 1], `KMeans(n_clusters=K, random_state=0, "
                    "n_init=1).fit(pixels)`, `labels_` as the indices", no_sklearn),
    ]


def tool_versions(tools: list[Tool]) -> dict[str, str]:
    """Versions of the programs and libraries the tools run."""
    by_key = {t.key: t for t in tools}
    im = by_key.get("imagemagick")
    versions = {"imagemagick": "not installed"}
    if im and im.program:
        # "Version: ImageMagick 6.9.11-60 Q16 x86_64 2021-01-25 https://imagemagick.org"
        words = tool_version([im.program, "-version"]).split()
        versions["imagemagick"] = " ".join(w for w in words if w not in ("Version:", "ImageMagick")
                                           and not w.startswith("http"))
        versions["imagemagick_limits"] = _imagemagick_limits(im.program)
    for dist in ("scikit-learn", "matplotlib"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _imagemagick_limits(program: str) -> str:
    """ImageMagick's resource limits (from its policy.xml), e.g. ``memory 256MiB, disk 1GiB``."""
    try:
        out = subprocess.run([program, "-list", "resource"], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return "unknown"
    limits = {}
    for line in out.splitlines():
        name, _, value = line.strip().partition(": ")
        if name in ("Memory", "Map", "Disk", "Area"):
            limits[name.lower()] = value.strip()
    return ", ".join(f"{k} {v}" for k, v in limits.items()) or "unknown"


# -- inputs --------------------------------------------------------------------------


def kodak_inputs(data: Path, count: int | None) -> list[Input]:
    """The first ``count`` Kodak photos by name (all for None)."""
    if count is not None and count <= 0:
        return []
    folder = data / "kodak"
    paths = sorted(folder.glob("kodim*.png"))[:count]
    if not paths:
        sys.exit(f"bench_tools: no Kodak images under {folder} (use --data, or --images 0)")
    inputs = []
    for path in paths:
        with Image.open(path) as im:
            inputs.append(Input("kodak", path.name, path, *im.size))
    return inputs


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


def large_inputs(data: Path, work: Path, sizes: list[str], log) -> tuple[list[Input], dict]:
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
            log(f"bench_tools: decoding {source}")
            with Image.open(source) as im:
                decoded = im.convert("RGB")
        log(f"bench_tools: writing {path} ({size[0]}x{size[1]})")
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


# -- measuring -----------------------------------------------------------------------


def decode_rgb(path: Path) -> np.ndarray:
    """uint8 RGB pixels of a file as Pillow decodes it."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def measure_output(rec: Record, path: Path, original: np.ndarray) -> None:
    """Fill the size and quality fields of ``rec`` from its output file."""
    with Image.open(path) as im:
        rec.mode = im.mode
        if im.mode == "P":
            indices = np.asarray(im)
            rec.colors = int(np.count_nonzero(np.bincount(indices.ravel(), minlength=256)))
            del indices
        rgb = np.asarray(im.convert("RGB"))
    if rgb.shape != original.shape:
        raise RuntimeError(f"output is {rgb.shape[1]}x{rgb.shape[0]}, "
                           f"input {original.shape[1]}x{original.shape[0]}")
    if rec.mode != "P":
        wide = rgb.astype(np.uint32)
        rec.colors = int(np.unique((wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]).size)
        rec.warnings.append(f"not an indexed PNG (Pillow mode {rec.mode})")
    if rec.colors > rec.k:
        rec.warnings.append(f"{rec.colors} colours for k={rec.k}")
    m = measure(original, rgb)
    rec.bytes = path.stat().st_size
    rec.bpp = 8 * rec.bytes / (rec.width * rec.height)
    rec.mse, rec.psnr, rec.ssim, rec.delta_e = m.mse, m.psnr, m.ssim, m.delta_e


def bench_image(image: Input, k: int, tools: list[Tool], repeat: int, timeout: float,
                runner: Runner, outdir: Path, original: np.ndarray, log) -> list[Record]:
    """Every tool on one image at one k: the timed runs interleaved, then each output measured.

    The tools' order rotates between repeats, so that none always runs right after
    another; the all-pixel KMeans runs in the first round only. A tool that fails or times
    out is not run again on this image.
    """
    records = {t.key: Record(set=image.set, image=image.name, tool=t.key, k=k,
                             width=image.width, height=image.height) for t in tools}
    outputs = {t.key: outdir / f"{t.key}-{Path(image.name).stem}-{k}.png" for t in tools}
    for out in outputs.values():
        out.unlink(missing_ok=True)
    for r in range(repeat):
        active = [t for t in tools if records[t.key].error is None and not records[t.key].timed_out
                  and (r == 0 or t.key != FULL_KMEANS)]
        if not active:
            break
        shift = r % len(active)
        for tool in active[shift:] + active[:shift]:
            rec = records[tool.key]
            argv = tool.argv(image.path, outputs[tool.key], k)
            run = runner.run(argv, timeout)
            rec.runs_seconds.append(timeout if run.timed_out else run.seconds)
            rec.runs_rss_mib.append(run.rss_mib)
            if run.timed_out:
                rec.timed_out = True
            elif run.returncode != 0:
                tail = " ".join(run.stderr.strip().splitlines()[-3:])
                rec.error = f"`{tool.command}` exited {run.returncode}: {tail}"
            elif not outputs[tool.key].is_file():
                rec.error = f"`{tool.command}` wrote no output file"
    for tool in tools:
        rec, out = records[tool.key], outputs[tool.key]
        if rec.runs_seconds:
            rec.seconds = timeout if rec.timed_out else statistics.median(rec.runs_seconds)
            rec.rss_mib = max(rec.runs_rss_mib)
        if rec.error is None and not rec.timed_out:
            try:
                measure_output(rec, out, original)
            except Exception as exc:  # one unreadable output must not cost the whole run
                rec.error = f"measuring {out.name}: {type(exc).__name__}: {exc}"
        out.unlink(missing_ok=True)
        log(_progress(rec))
    return list(records.values())


def _progress(rec: Record) -> str:
    head = f"{rec.set}/{rec.image} k={rec.k} {rec.tool}:"
    if rec.error is not None:
        return f"{head} ERROR {rec.error}"
    if rec.timed_out:
        return f"{head} timed out after {rec.seconds:.0f} s (peak RSS so far {rec.rss_mib:.0f} MiB)"
    return (f"{head} {rec.seconds:.3f} s, {rec.rss_mib:.0f} MiB, {rec.bytes:,} B, "
            f"CIEDE2000 {rec.delta_e:.3f}, PSNR {rec.psnr:.2f} dB"
            + (f"  WARNING {'; '.join(rec.warnings)}" if rec.warnings else ""))


def warm_up(image: Input, tools: list[Tool], runner: Runner, outdir: Path, k: int,
            timeout: float) -> None:
    """One untimed run of each tool (the all-pixel KMeans aside): the first run of a
    command pays for a cold file cache, which is not what is compared."""
    for tool in tools:
        if tool.key == FULL_KMEANS:
            continue
        out = outdir / f"warm-{tool.key}.png"
        runner.run(tool.argv(image.path, out, k), timeout)
        out.unlink(missing_ok=True)


def _rss_floor(runner: Runner, timeout: float) -> float:
    """Peak RSS reported for ``true``: the least any run can report (see ``_runner.py``)."""
    run = runner.run([shutil.which("true") or "true"], timeout)
    return run.rss_mib if run.returncode == 0 else math.nan


# -- summarising ---------------------------------------------------------------------


def _index(records: list[Record]) -> dict[tuple[str, str, str, int], Record]:
    return {(r.set, r.image, r.tool, r.k): r for r in records}


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
    index = _index(records)
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
    index = _index(records)
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


def target_results(records: list[Record], inputs: list[Input]) -> list[dict]:
    """palettepress / pngquant time and peak RSS on each large image, against :data:`TARGETS`."""
    index = _index(records)
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
        verdict = "n/a" if math.isnan(value) else ("PASS" if value <= t.limit and not pp.timed_out
                                                  else "FAIL")
        out.append({"image": image.name, "key": t.image, "megapixels": image.megapixels,
                    "tools": f"{t.pp} / {t.pq}",
                    "metric": t.metric, "limit": t.limit, "value": value, "verdict": verdict})
    return out


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
        label = tool.label + (f" ({_count(len(images), 'image')})" if subset else "")
        line, = ax.plot(xs, ys, marker="o", label=label)
        if tool.key == "palettepress":
            for x, y, k in zip(xs, ys, ks):
                ax.annotate(f"k={k}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        if subset and tool.key != "palettepress":
            pxs, pys, _ = curve("palettepress", images)
            if pxs:
                ax.plot(pxs, pys, linestyle="--", marker=".", color=line.get_color(), alpha=0.6,
                        label=f"palettepress on the same {_count(len(images), 'image')}")
    ax.set_xlabel("bytes per pixel (file size / pixels)")
    ax.set_ylabel("mean CIEDE2000 (lower is better)")
    top = ax.secondary_xaxis("top", functions=(lambda b: 8 * b, lambda b: b / 8))
    top.set_xlabel("bits per pixel")
    ax.set_title(f"Kodak ({_count(len(all_images), 'image')}), k = {', '.join(map(str, colors))}: "
                 "size against colour error", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# -- Markdown ------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _seconds(x: float, timed_out: bool) -> str:
    if timed_out:
        return f"> {x:.0f}" if x >= 10 else f"> {x:.2f}"
    return fmt(x, 2 if x >= 10 else 3)


def _lower_bound(value: str, bound: bool) -> str:
    return f">= {value}" if bound and value != "n/a" else value


def render(records: list[Record], tools: list[Tool], inputs: list[Input], about_large: dict,
           env: dict, args: argparse.Namespace, plot_link: str | None, problems: list[str]) -> str:
    """The Markdown block (without the markers)."""
    kodak = [i for i in inputs if i.set == "kodak"]
    large = [i for i in inputs if i.set == "large"]
    lines = ["## palettepress against other quantizers", "",
             "Generated by `benchmarks/bench_tools.py`; do not edit this block by hand, rerun the "
             "script (see `benchmarks/README.md`).", ""]
    if args.quick:
        lines += [f"**Quick run** ({_count(len(kodak), 'Kodak image')}, k = "
                  f"{', '.join(map(str, args.colors))}, repeat {args.repeat}): a smoke test, "
                  "not representative.", ""]
    lines += _header_lines(env, args, bool(kodak), bool(large))
    lines += _tool_lines(tools, env)
    if kodak:
        lines += _kodak_lines(records, tools, kodak, args)
    if large:
        lines += _large_lines(records, tools, inputs, about_large)
    if plot_link:
        lines += ["### Rate-distortion", "",
                  f"![Bytes per pixel against mean CIEDE2000 on Kodak, one line per tool]"
                  f"({plot_link})", "",
                  "Means over the Kodak images at each k; lower and further left is better.", ""]
    failed = [r for r in records if r.error is not None]
    warned = [r for r in records if r.warnings]
    if problems or failed or warned:
        lines += ["### Problems", ""]
        lines += [f"- {p}" for p in problems]
        lines += [f"- {r.set}/{r.image} k={r.k} {r.tool}: error: {r.error}" for r in failed]
        lines += [f"- {r.set}/{r.image} k={r.k} {r.tool}: {w}" for r in warned for w in r.warnings]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _header_lines(env: dict, args: argparse.Namespace, kodak: bool, large: bool) -> list[str]:
    """The command, machine, software and method bullets."""
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    where = "" if Path(env["cwd"]) == REPO else f" in `{env['cwd']}`"
    thread_env = ", ".join(f"`{k}={v}`" for k, v in env["tool_env"].items())
    repeats = []
    if kodak:
        repeats.append(f"{_count(args.repeat, 'run')} per Kodak image and k")
    if large:
        repeats.append(f"{_count(args.large_repeat, 'run')} per large image")
    warm = ", after one untimed warm-up run of each on the first image" if kodak else ""
    return [
        f"- Command: `{env['command']}`{where}",
        f"- Date: {env['date']}",
        f"- Machine: {env['cpu']}, {env['cpu_count']} logical CPUs, {env['memory']}, "
        f"{env['platform']}",
        f"- Software: {env['python']}, numpy {env['numpy']}, Pillow {env['pillow']}, "
        f"scikit-learn {env['scikit-learn']}, matplotlib {env['matplotlib']}, "
        f"palettepress {env['palettepress']}{rev}, pngquant {env['pngquant']}, "
        f"ImageMagick {env['imagemagick']}",
        f"- Threads: every tool runs with {thread_env} in its environment (other thread pools "
        f"at their defaults), so each may use {args.threads} cores.",
        "- Each run is its own process, forked and waited for by a small helper process "
        "(`benchmarks/_runner.py`, standard library only): wall time by `time.perf_counter` "
        "from fork to exit, peak RSS (resident memory, MiB) the `ru_maxrss` of `os.wait4`. "
        "A process's `ru_maxrss` counts what it was started with, so runs are forked from "
        "the helper, not from the benchmark and the images it holds; the least a run can "
        f"report is what `true` reports: {fmt(env['rss_floor_mib'], 1)} MiB. The Python tools "
        "run as `python benchmarks/_quantizers.py TOOL IN OUT K`, so their times include "
        "interpreter start-up and imports, as the `palettepress` command's do.",
        f"- Times are the median of {' and of '.join(repeats)} (the all-pixel KMeans: 1); "
        f"the runs of all tools are interleaved per image, in an order that rotates between "
        f"repeats{warm}. A run still going after {args.timeout:g} s is killed: its time shows "
        f"as `> {args.timeout:g}` (a lower bound) and its RSS is the peak so far.",
        "- Quality: every output is decoded by Pillow to RGB and measured against the "
        "Pillow-decoded input by `palettepress.metrics.measure`: MSE summed over RGB per "
        "pixel, PSNR on the per-channel MSE, SSIM (7x7 window), mean CIEDE2000. Bytes are "
        "the file size; bpp = 8 x bytes / pixels.",
        "",
    ]


def _tool_lines(tools: list[Tool], env: dict) -> list[str]:
    """The table of tools: each one's exact command and the program that ran it."""
    rows = []
    for t in tools:
        what = f"`{t.command}`" + (f": {t.note}" if t.note else "")
        rows.append([t.label, what if not t.missing else f"**missing, skipped**: {t.missing}",
                     f"`{t.program}`" if t.program else "n/a"])
    lines = ["### Tools", "", *markdown_table(["tool", "command", "program"], rows, "lll"), "",
             "Every tool is given the same PNG file, so decoding costs compare. "
             "No dithering, except in the two defaults that say so."]
    if any(t.key == "imagemagick" and not t.missing for t in tools):
        lines.append(f"ImageMagick runs under its installed resource policy: "
                     f"{env.get('imagemagick_limits', 'unknown')}.")
    return [*lines, ""]


def _kodak_lines(records: list[Record], tools: list[Tool], kodak: list[Input],
                 args: argparse.Namespace) -> list[str]:
    """The Kodak table and the sentence on the all-pixel KMeans."""
    lines = [f"### Kodak ({_count(len(kodak), 'image')})", ""]
    full = any(t.key == FULL_KMEANS and not t.missing for t in tools)
    if full and args.sklearn_full_images < len(kodak):
        subset = [i.name for i in kodak[:args.sklearn_full_images]]
        lines += [f"The all-pixel KMeans runs on the first {_count(len(subset), 'image')} only "
                  f"({', '.join(subset) or 'none'}; `--sklearn-full-images`): its absolute "
                  "columns are over those, its ratios against palettepress on the same "
                  "images.", ""]
    rows = []
    for row in kodak_rows(records, tools, args.colors):
        bound = row["timed_out"] > 0
        images = str(row["images"]) + (f" ({row['timed_out']} timed out)" if bound else "")
        rows.append([
            str(row["k"]), row["label"], images,
            _lower_bound(fmt(row["seconds"], 3), bound),
            _lower_bound(fmt(row["time_ratio"], 2), bound),
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
    index = _index(records)
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
                name, t.label, _seconds(r.seconds, r.timed_out),
                _lower_bound(f"{r.rss_mib:.0f}", r.timed_out),
                f"{r.bytes:,}" if r.measured else "n/a", fmt(r.bpp, 3),
                fmt(r.delta_e, 3), fmt(r.psnr, 2),
                _lower_bound(fmt(t_ratio, 2), r.timed_out),
                _lower_bound(fmt(m_ratio, 2), r.timed_out),
            ])
    lines += markdown_table(["image", "tool", "wall s", "peak RSS MiB", "bytes", "bpp",
                             "CIEDE2000", "PSNR dB", "time / pngquant", "RSS / pngquant"],
                            rows, "llrrrrrrrr")
    lines.append("")
    results = target_results(records, inputs)
    if results:
        rows = [[f"{r['image']} ({r['megapixels']:.0f} MP): "
                 + ("wall time" if r["metric"] == "time" else "peak RSS"),
                 f"<= {r['limit']:.1f}", fmt(r["value"], 2), f"**{r['verdict']}**"]
                for r in results]
        lines += ["Targets, palettepress / pngquant, both with their default settings (dithered):", "",
                  *markdown_table(["target", "limit", "measured", "result"], rows, "lrrl"), ""]
    return lines


def _times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _full_kmeans_sentence(s: dict, timeout: float) -> str:
    bound = "at least " if s["timed_out"] else ""
    images = s["images"]
    names = images[0] if len(images) == 1 else f"{images[0]} to {images[-1]}"
    by_k = ", ".join(f"k={k}: {_times(v)}" for k, v in s["time_ratio_by_k"].items())
    text = (f"**scikit-learn KMeans on all pixels against palettepress**, on {names} "
            f"({_count(len(images), 'image')} x k = "
            f"{', '.join(map(str, s['k']))}): {bound}{_times(s['time_ratio'])} palettepress's "
            f"wall time (geometric mean of {s['runs']} runs, {_times(s['time_ratio_min'])} to "
            f"{_times(s['time_ratio_max'])}; {by_k})")
    if s["timed_out"]:
        text += (f", {_count(s['timed_out'], 'run')} timed out after "
                 f"{timeout:g} s and counted at that")
    if s["measured"]:
        text += (f"; mean CIEDE2000 {s['delta_e']:.3f} against palettepress's "
                 f"{s['pp_delta_e']:.3f}, PSNR {s['psnr']:.2f} against {s['pp_psnr']:.2f} dB, "
                 f"files {s['bytes_ratio']:.3f}x palettepress's size "
                 f"(over the {s['measured']} finished runs).")
    else:
        text += "; no run finished, so there is no quality to compare."
    return text


def write_json(path: Path, records: list[Record], tools: list[Tool], inputs: list[Input],
               about_large: dict, env: dict, args: argparse.Namespace) -> None:
    """Every raw record, with the tools, inputs, settings and summaries."""
    data = {
        "environment": env,
        "settings": {"colors": args.colors, "large_k": LARGE_K, "repeat": args.repeat,
                     "large_repeat": args.large_repeat, "timeout": args.timeout,
                     "sklearn_full_images": args.sklearn_full_images, "threads": args.threads},
        "tools": [{"key": t.key, "label": t.label, "command": t.command, "program": t.program,
                   "note": t.note, "missing": t.missing} for t in tools],
        "inputs": [{**asdict(i), "path": str(i.path)} for i in inputs],
        "large_source": about_large,
        "kodak_summary": kodak_rows(records, tools, args.colors),
        "sklearn_full_vs_palettepress": full_kmeans_summary(records),
        "targets": target_results(records, inputs),
        "records": [asdict(r) for r in records],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_ready(data), indent=1) + "\n", encoding="utf-8")


# -- command line --------------------------------------------------------------------


def _choice_list(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from "
                                             f"{', '.join(choices)}")
        return values
    return parse


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return "memory unknown"


TOOL_KEYS = ("palettepress", "pngquant", "imagemagick", "pillow-mediancut", "pillow-octree",
             "sklearn-sample", FULL_KMEANS, "palettepress-default", "pngquant-default")


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    p = script_parser(__doc__)
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    p.add_argument("--tools", type=_choice_list(TOOL_KEYS), default=list(TOOL_KEYS),
                   help=f"comma-separated tools to run (default: all: {','.join(TOOL_KEYS)})")
    p.add_argument("--colors", type=palette_sizes, default=None,
                   help="palette sizes on Kodak (default: 16,64,256; 16,64 with --quick)")
    p.add_argument("--images", type=int, default=None, metavar="N",
                   help=f"first N Kodak images, 0 for none "
                        f"(default: all; {QUICK_IMAGES} with --quick)")
    p.add_argument("--large", type=_choice_list(LARGE_SIZES), default=None,
                   help="large images to run at k=256: 12mp, 110mp or both "
                        "(default: both; none with --quick)")
    p.add_argument("--no-large", dest="large", action="store_const", const=[],
                   help="no large images")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="timed runs per Kodak image and k; times are their median "
                        "(default: 3, or 1 with --quick)")
    p.add_argument("--large-repeat", type=int, default=1, metavar="N",
                   help="timed runs per large image (default: 1)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds after which a run is killed and reported as timed out "
                        "(default: 600)")
    p.add_argument("--sklearn-full-images", type=int, default=4, metavar="N",
                   help="Kodak images the all-pixel scikit-learn KMeans runs on, the first N "
                        "(default: 4)")
    p.add_argument("--threads", type=int, default=cores, metavar="N",
                   help=f"OMP_NUM_THREADS and MAGICK_THREAD_LIMIT of every tool (default: {cores}, "
                        "the cores available)")
    p.add_argument("--imagemagick", default=None, metavar="PROGRAM",
                   help="ImageMagick program to run (default: `magick` if on PATH, else `convert`)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, metavar="DIR",
                   help=f"folder for the large PNG inputs, made once and reused, and the "
                        f"outputs while they are measured (default: {DEFAULT_WORK})")
    p.add_argument("--plot", type=Path, default=DEFAULT_PLOT, metavar="PATH",
                   help="rate-distortion plot to write (default: docs/rd-tools.png)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write every raw record as JSON")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: first {QUICK_IMAGES} Kodak images, k = 16, 64, no large "
                        "images, repeat 1")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 when some run failed (a timeout is a result)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.colors is None:
        args.colors = QUICK_COLORS if args.quick else [16, 64, 256]
    if args.images is None and args.quick:
        args.images = QUICK_IMAGES
    if args.large is None:
        args.large = [] if args.quick else list(LARGE_SIZES)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if min(args.repeat, args.large_repeat, args.threads) < 1 or args.timeout <= 0:
        sys.exit("bench_tools: --repeat, --large-repeat and --threads must be at least 1, "
                 "--timeout positive")
    if not args.data.is_dir():
        sys.exit(f"bench_tools: test images not found at {args.data} (use --data)")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    Image.MAX_IMAGE_PIXELS = None  # the inputs are this script's own, up to 110 MP

    all_tools = build_tools(args.imagemagick)
    chosen = [t for t in all_tools if t.key in args.tools]
    tools = [t for t in chosen if not t.missing]
    for t in chosen:
        if t.missing:
            log(f"bench_tools: {t.label} skipped: {t.missing}")
    pq = next((t.program for t in all_tools if t.key == "pngquant" and t.program), "pngquant")
    tool_env = {"OMP_NUM_THREADS": str(args.threads), "MAGICK_THREAD_LIMIT": str(args.threads)}
    env = environment([sys.argv[0], *argv], pq, memory=_memory(), tool_env=tool_env,
                      **tool_versions(all_tools))
    child_env = {**os.environ, **tool_env}

    problems: list[str] = []
    inputs = kodak_inputs(args.data, args.images)
    large, about_large = large_inputs(args.data, args.work, args.large, log)
    if "missing" in about_large:
        problems.append(about_large.pop("missing"))
    inputs += large
    full_on = {i.name for i in inputs[:args.sklearn_full_images] if i.set == "kodak"}
    full_on |= {i.name for i in large}

    def tools_for(image: Input) -> list[Tool]:
        return [t for t in tools if t.key != FULL_KMEANS or image.name in full_on]

    log(f"bench_tools: {len([i for i in inputs if i.set == 'kodak'])} Kodak images x "
        f"k={args.colors}, {len(large)} large at k={LARGE_K}; "
        f"tools {', '.join(t.key for t in tools)}; "
        f"repeat {args.repeat}/{args.large_repeat}, timeout {args.timeout:g} s, "
        f"{args.threads} threads")

    records: list[Record] = []
    args.work.mkdir(parents=True, exist_ok=True)
    with (tempfile.TemporaryDirectory(prefix="outputs-", dir=args.work) as tmp,
          Runner(child_env, Path(tmp)) as runner):
        outdir = Path(tmp)
        env["rss_floor_mib"] = _rss_floor(runner, args.timeout)
        if inputs and inputs[0].set == "kodak" and tools:
            warm_up(inputs[0], tools, runner, outdir, args.colors[0], args.timeout)
        for image in inputs:
            original = decode_rgb(image.path)
            colors = args.colors if image.set == "kodak" else [LARGE_K]
            repeat = args.repeat if image.set == "kodak" else args.large_repeat
            for k in colors:
                records += bench_image(image, k, tools_for(image), repeat, args.timeout,
                                       runner, outdir, original, log)
            del original

    plot_link = None
    if any(r.set == "kodak" and r.measured for r in records):
        error = plot_rd(records, tools, args.colors, args.plot)
        if error:
            problems.append(error)
        else:
            relative = os.path.relpath(args.plot.resolve(), args.out.resolve().parent)
            plot_link = Path(relative).as_posix()
            log(f"bench_tools: wrote {args.plot}")
    write_block(args.out, "bench_tools",
                render(records, chosen, inputs, about_large, env, args, plot_link, problems))
    log(f"bench_tools: wrote {args.out}")
    if args.json is not None:
        write_json(args.json, records, chosen, inputs, about_large, env, args)
        log(f"bench_tools: wrote {args.json}")
    for r in target_results(records, inputs):
        log(f"  {r['image']} palettepress / pngquant {r['metric']}: {fmt(r['value'], 2)} "
            f"(target <= {r['limit']:.1f}) {r['verdict']}")
    return 1 if any(r.error for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
