"""What ``bench_tools.py`` (the Kodak photos) and ``bench_tools_large.py`` (the 12 and
110 megapixel images) share: the tools (:func:`build_tools`: palettepress, pngquant,
ImageMagick, Pillow, scikit-learn) and their versions, the helper process that runs and
measures every command (:class:`Runner`, ``_runner.py``), the records, and the parts of
the Markdown block and of the command line both have.

Every run is its own process, forked by ``_runner.py``: wall time by
:func:`time.perf_counter` from fork to exit, peak resident memory the ``ru_maxrss`` of
:func:`os.wait4`; a run still going after ``--timeout`` seconds is killed and reported as
taking more than that. The Python tools run as ``python benchmarks/_quantizers.py TOOL IN
OUT K``. Every output is decoded by Pillow and measured against the Pillow-decoded input
by :func:`palettepress.metrics.measure` (MSE, PSNR, SSIM, mean CIEDE2000).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
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

from _common import REPO, environment, find_command, fmt, json_ready, markdown_table, tool_version

WORKER = Path(__file__).resolve().with_name("_quantizers.py")
RUNNER = Path(__file__).resolve().with_name("_runner.py")
DEFAULT_WORK = Path(tempfile.gettempdir()) / "palettepress-bench"
FULL_KMEANS = "sklearn-full"
TOOL_KEYS = ("palettepress", "pngquant", "imagemagick", "pillow-mediancut", "pillow-octree",
             "sklearn-sample", FULL_KMEANS, "palettepress-default", "pngquant-default")


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(msg, file=sys.stderr, flush=True)


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


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return "memory unknown"


def prepare_tools(args: argparse.Namespace, argv: list[str], script: str
                  ) -> tuple[list[Tool], list[Tool], dict, dict]:
    """The tools chosen by ``--tools`` (a missing one logged as skipped), those of them
    that can run, the environment the block reports and the one the tools run in."""
    all_tools = build_tools(args.imagemagick)
    chosen = [t for t in all_tools if t.key in args.tools]
    tools = [t for t in chosen if not t.missing]
    for t in chosen:
        if t.missing:
            log(f"{script}: {t.label} skipped: {t.missing}")
    pq = next((t.program for t in all_tools if t.key == "pngquant" and t.program), "pngquant")
    tool_env = {"OMP_NUM_THREADS": str(args.threads), "MAGICK_THREAD_LIMIT": str(args.threads)}
    env = environment([sys.argv[0], *argv], pq, memory=_memory(), tool_env=tool_env,
                      **tool_versions(all_tools))
    return chosen, tools, env, {**os.environ, **tool_env}


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
                runner: Runner, outdir: Path, original: np.ndarray) -> list[Record]:
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


def run_all(inputs: list[Input], plan, tools: list[Tool], args: argparse.Namespace,
            env: dict, child_env: dict, warm: tuple[Input, int] | None) -> list[Record]:
    """Every input with every tool, through one :class:`Runner`.

    ``plan(image)`` gives the palette sizes, the number of timed runs and the tools of an
    image; ``warm`` the image and k of the untimed warm-up runs (none for None). Adds the
    RSS floor to ``env``.
    """
    records: list[Record] = []
    args.work.mkdir(parents=True, exist_ok=True)
    with (tempfile.TemporaryDirectory(prefix="outputs-", dir=args.work) as tmp,
          Runner(child_env, Path(tmp)) as runner):
        outdir = Path(tmp)
        env["rss_floor_mib"] = _rss_floor(runner, args.timeout)
        if warm is not None and tools:
            warm_up(warm[0], tools, runner, outdir, warm[1], args.timeout)
        for image in inputs:
            original = decode_rgb(image.path)
            colors, repeat, image_tools = plan(image)
            for k in colors:
                records += bench_image(image, k, image_tools, repeat, args.timeout,
                                       runner, outdir, original)
            del original
    return records


def by_key(records: list[Record]) -> dict[tuple[str, str, str, int], Record]:
    return {(r.set, r.image, r.tool, r.k): r for r in records}


# -- Markdown ------------------------------------------------------------------------


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def seconds_cell(x: float, timed_out: bool) -> str:
    if timed_out:
        return f"> {x:.0f}" if x >= 10 else f"> {x:.2f}"
    return fmt(x, 2 if x >= 10 else 3)


def lower_bound(value: str, bound: bool) -> str:
    return f">= {value}" if bound and value != "n/a" else value


def header_lines(env: dict, args: argparse.Namespace, repeats: list[str], warm: str) -> list[str]:
    """The command, machine, software and method bullets; ``repeats`` says how many timed
    runs each image had, ``warm`` where the warm-up runs were made ("" for none)."""
    rev = f" (git {env['palettepress_git']})" if env["palettepress_git"] else ""
    where = "" if Path(env["cwd"]) == REPO else f" in `{env['cwd']}`"
    thread_env = ", ".join(f"`{k}={v}`" for k, v in env["tool_env"].items())
    warm = f", after one untimed warm-up run of each on {warm}" if warm else ""
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


def tool_lines(tools: list[Tool], env: dict) -> list[str]:
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


def problem_lines(records: list[Record], problems: list[str]) -> list[str]:
    """The Problems section: ``problems``, failed runs and outputs with warnings."""
    failed = [r for r in records if r.error is not None]
    warned = [r for r in records if r.warnings]
    if not (problems or failed or warned):
        return []
    return ["### Problems", "",
            *(f"- {p}" for p in problems),
            *(f"- {r.set}/{r.image} k={r.k} {r.tool}: error: {r.error}" for r in failed),
            *(f"- {r.set}/{r.image} k={r.k} {r.tool}: {w}" for r in warned for w in r.warnings),
            ""]


def write_json(path: Path, env: dict, settings: dict, tools: list[Tool], inputs: list[Input],
               summaries: dict, records: list[Record]) -> None:
    """Every raw record, with the tools, inputs, settings and the script's ``summaries``."""
    data = {
        "environment": env,
        "settings": settings,
        "tools": [{"key": t.key, "label": t.label, "command": t.command, "program": t.program,
                   "note": t.note, "missing": t.missing} for t in tools],
        "inputs": [{**asdict(i), "path": str(i.path)} for i in inputs],
        **summaries,
        "records": [asdict(r) for r in records],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_ready(data), indent=1) + "\n", encoding="utf-8")


# -- command line --------------------------------------------------------------------


def choice_list(choices: tuple[str, ...]):
    """``argparse`` type of a comma-separated list of some of ``choices``."""
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from "
                                             f"{', '.join(choices)}")
        return values
    return parse


def add_tool_options(p: argparse.ArgumentParser, work_help: str) -> None:
    """The options both scripts take: tools, timeout, threads, ImageMagick, work folder
    (``work_help`` says what it holds), JSON."""
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    p.add_argument("--tools", type=choice_list(TOOL_KEYS), default=list(TOOL_KEYS),
                   help=f"comma-separated tools to run (default: all: {','.join(TOOL_KEYS)})")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds after which a run is killed and reported as timed out "
                        "(default: 600)")
    p.add_argument("--threads", type=int, default=cores, metavar="N",
                   help=f"OMP_NUM_THREADS and MAGICK_THREAD_LIMIT of every tool (default: {cores}, "
                        "the cores available)")
    p.add_argument("--imagemagick", default=None, metavar="PROGRAM",
                   help="ImageMagick program to run (default: `magick` if on PATH, else `convert`)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, metavar="DIR",
                   help=f"{work_help} (default: {DEFAULT_WORK})")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write every raw record as JSON")
