"""Batch compression: many files and folders, on local processes or a Dask cluster.

Each input ends as one record: ``ok`` (written), ``skipped`` (already done with the same
settings, or ``skip_if_larger`` and not smaller) or ``failed`` (with the reason); one
bad file never stops the batch. Outputs mirror the inputs' folder structure under the
output folder, named for the output format (``.png`` by default, ``.webp`` or ``.gif``
with ``format``), and are written through a temporary file and a rename, so an
interrupted batch leaves no partial output.

Animations: an input that is an animated GIF, APNG or WebP (more than one frame, as
Pillow reads its headers) is compressed as an animation by :func:`palettepress.animate`,
into the batch's format: ``png`` makes an APNG (``.png``), ``webp`` an animated WebP,
``gif`` an animated GIF. Its record has the same fields (``colors`` is k,
``ssimulacra2`` the mean over the frames) plus ``frames`` (in the file) and ``flicker``.
A quality target, ``--shared-palette`` or ``keep_colors`` chooses or fixes a palette for
still images; an animation has a palette per frame (APNG: per file), so with any of
them an animated input ends ``failed``, with that reason (compress it with ``colors``,
or on its own with ``palettepress animate``). ``dither_method="auto"`` measures still
images only: animations are dithered by error diffusion (the record warns); ``seed``
does not apply to them.

Resuming: every output carries a ``palettepress`` text entry naming the settings that
made it (a PNG text chunk; a GIF comment or WebP description line; animated outputs
the same, written by the animated writers). A re-run skips an
input whose output is complete (ends with the PNG IEND chunk or the GIF trailer, or has
the length its WebP header gives), is newer than the input and names the same settings.

Inputs and outputs may be fsspec URLs (:mod:`palettepress.storage`).

Executors: a local process pool (default, one process per core, each kernel on one
thread so the processes do not compete), or an existing Dask distributed cluster
(``scheduler="tcp://host:port"``, extra ``dask``). Dask workers read the inputs and write
the outputs at the paths they are given, so local paths need a shared filesystem and
URLs none; outputs are byte-identical to a local run.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import InputError, OutputError, PalettepressError, ParameterError, require

__all__ = [
    "IMAGE_SUFFIXES",
    "Job",
    "FileRecord",
    "collect",
    "run_batch",
    "settings_tag",
    "StorageFullError",
]

#: File endings a folder scan picks up (files named on the command line are always tried).
IMAGE_SUFFIXES = (".png", ".apng", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif")

_TAG_KEY = "palettepress"

#: The animated format each batch format becomes for an animated input.
_ANIMATED = {"png": "apng", "webp": "webp", "gif": "gif"}

#: Write errors that every later file would meet too: no space, no quota, file too large.
_STORAGE_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class StorageFullError(OutputError):
    """A batch stopped because its outputs could not be written for want of space.

    ``records`` are those of the files finished before the stop (the failed one last).
    """

    def __init__(self, message: str, records: list[dict]):
        super().__init__(message)
        self.records = records


@dataclass(frozen=True)
class Job:
    """One input file and where its output goes."""

    input: str
    output: str


@dataclass
class FileRecord:
    """What happened to one input (the JSON summary has one per file)."""

    input: str
    output: str
    status: str  # "ok", "skipped" or "failed"
    error: str | None = None  # the reason, for skipped and failed files
    input_bytes: int | None = None
    output_bytes: int | None = None
    colors: int | None = None
    dither: str | None = None  # how the pixels were mapped: none, diffusion or ordered
    warnings: list | None = None  # what the run warned of (GIF's alpha threshold)
    storage_full: bool = False  # the output could not be written for want of space
    ssimulacra2: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    delta_e: float | None = None
    mse: float | None = None
    seconds: float | None = None
    frames: int | None = None  # animations: frames in the output file
    flicker: float | None = None  # animations: see palettepress.Animation.flicker


def collect(inputs, out_dir, *, recursive: bool = False, suffix: str = ".png") -> list[Job]:
    """Jobs for files and folders: a folder's images go to the same relative path under
    ``out_dir`` (sub-folders too with ``recursive``), a file straight into ``out_dir``,
    each named with ``suffix``.

    Raises
    ------
    InputError
        An input does not exist, or its storage cannot be listed.
    OutputError
        An output would overwrite its input.
    ParameterError
        Two inputs would write the same output.
    """
    from . import storage

    # What is already under out_dir is never an input (out_dir inside an input folder).
    out_key = str(out_dir).rstrip("/") if storage.is_url(str(out_dir)) else os.path.abspath(out_dir)
    jobs: list[Job] = []
    for item in inputs:
        # (input, path relative to out_dir): a folder's images, or the one file.
        if storage.is_url(str(item)):
            try:
                found = storage.list_images(str(item), IMAGE_SUFFIXES, recursive)
            except Exception as exc:  # the storage's own errors (an endpoint, a bucket)
                cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise InputError(f"{item}: cannot list ({cause})") from exc
            if found is not None:
                found = [(u, rel) for u, rel in found if not u.startswith(out_key + "/")]
        else:
            path = Path(item)
            if path.is_dir():
                found = [
                    (str(f), f.relative_to(path).as_posix())
                    for f in sorted(path.glob("**/*" if recursive else "*"))
                    if f.is_file()
                    and f.suffix.lower() in IMAGE_SUFFIXES
                    and not f.name.startswith(".")
                    and not os.path.abspath(f).startswith(out_key + os.sep)
                ]
            else:
                found = [(str(path), path.name)] if path.exists() else None
        if found is None:
            raise InputError(f"{item}: no such file or folder")
        jobs += [
            Job(source, storage.join(str(out_dir), Path(rel).with_suffix(suffix).as_posix()))
            for source, rel in found
        ]
    seen: dict[str, str] = {}
    for job in jobs:
        key = job.output if storage.is_url(job.output) else os.path.abspath(job.output)
        if key in seen:
            raise ParameterError(f"{job.input} and {seen[key]} would both write {job.output}")
        if (job.input if storage.is_url(job.input) else os.path.abspath(job.input)) == key:
            raise OutputError(
                f"{job.input}: output would overwrite the input; choose another folder"
            )
        seen[key] = job.input
    return jobs


def settings_tag(options: dict) -> str:
    """The text that identifies the settings an output was made with."""
    from . import __version__

    parts = [f"palettepress {__version__}"] + [f"{k}={options[k]!r}" for k in sorted(options)]
    return "; ".join(parts)


def _is_done(job: Job, tag: str, fmt: str = "png") -> bool:
    """True when the output is complete, newer than the input and made with ``tag``."""
    from .formats import is_complete, read_text

    try:
        if os.stat(job.output).st_mtime < os.stat(job.input).st_mtime:
            return False
        return is_complete(job.output, fmt) and read_text(job.output).get(_TAG_KEY) == tag
    except (OSError, ValueError, SyntaxError):
        return False


def _clear_stale_temporaries(job: Job) -> None:
    """Remove temporary files a killed run may have left beside this output."""
    folder = Path(job.output).parent
    if folder.is_dir():
        for stale in folder.glob(f".{Path(job.output).name}.*.tmp"):
            try:
                stale.unlink()
            except OSError:
                pass


def process(
    job: Job,
    options: dict,
    tag: str,
    skip_if_larger: bool,
    palette=None,
    shared_palette: bool = False,
) -> dict:
    """Compress one job; never raises for a bad file (the record says why).

    A still image goes through :func:`~palettepress.compress` (remapped to ``palette``
    when given), an animated GIF, APNG or WebP through :func:`~palettepress.animate`
    (see the module docstring); ``shared_palette`` says the batch shares a palette, even
    where none could be fitted (no still image), so that animations fail alike.
    """
    from . import storage
    from .io import frame_count, write_atomic

    t0 = time.perf_counter()
    rec = FileRecord(job.input, job.output, "failed")
    remote_in, remote_out = storage.is_url(job.input), storage.is_url(job.output)
    fmt = options.get("format", "png")
    try:
        rec.input_bytes = storage.size(job.input) if remote_in else os.path.getsize(job.input)
    except (OSError, PalettepressError):
        pass
    staging = None
    try:
        done = (
            storage.is_done(job.output, job.input, tag, fmt)
            if remote_in or remote_out
            else _is_done(job, tag, fmt)
        )
        if done:
            rec.status, rec.error = "skipped", "up to date"
            rec.output_bytes = (
                storage.size(job.output) if remote_out else os.path.getsize(job.output)
            )
            return asdict(rec)
        if not remote_out:
            _clear_stale_temporaries(job)
        source = job.input
        if remote_in:
            import tempfile

            staging = tempfile.TemporaryDirectory(prefix="palettepress-batch-")
            source = storage.fetch(job.input, staging.name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frames = frame_count(source)
                if frames > 1:
                    shared = shared_palette or palette is not None
                    data = _animate_one(source, frames, options, tag, shared, rec)
                else:
                    data = _compress_one(source, options, tag, palette, rec)
            except PalettepressError as exc:  # name the object, not the local copy
                if source != job.input:
                    exc.args = tuple(
                        a.replace(source, job.input) if isinstance(a, str) else a for a in exc.args
                    )
                raise
        rec.warnings = [str(w.message).replace(source, job.input) for w in caught] or None
        rec.output_bytes = len(data)
        if skip_if_larger and rec.input_bytes is not None and len(data) >= rec.input_bytes:
            rec.status = "skipped"
            rec.error = f"not smaller than the input ({len(data):,} >= {rec.input_bytes:,} bytes)"
            return asdict(rec)
        if remote_out:
            storage.store(job.output, data)
        else:
            os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
            write_atomic(job.output, data, force=True, source=source)
        rec.status = "ok"
    except PalettepressError as exc:
        rec.error = str(exc)
        rec.storage_full = getattr(exc.__cause__, "errno", None) in _STORAGE_FULL
    except MemoryError:
        rec.error = f"{job.input}: out of memory"
    except Exception as exc:  # one bad file never stops the batch
        rec.error = f"{job.input}: {type(exc).__name__}: {exc}"
    finally:
        if staging is not None:
            staging.cleanup()
        rec.seconds = time.perf_counter() - t0
    return asdict(rec)


def _compress_one(source: str, options: dict, tag: str, palette, rec: FileRecord) -> bytes:
    """The still image's file (tagged), its figures set on ``rec``."""
    from .pipeline import compress
    from .targets import TARGETS

    kwargs = dict(options)
    if palette is not None:
        for key in ("colors", *TARGETS, "seed", "keep_colors"):
            kwargs.pop(key, None)
        kwargs["palette"] = palette
    result = compress(source, text={_TAG_KEY: tag}, **kwargs)
    rec.colors, rec.dither = result.colors, result.dither
    rec.ssimulacra2 = result.ssimulacra2 if math.isfinite(result.ssimulacra2) else None
    rec.psnr = result.psnr if result.psnr != float("inf") else None
    rec.ssim, rec.delta_e, rec.mse = result.ssim, result.delta_e, result.mse
    return result.data


def _animate_one(
    source: str, frames: int, options: dict, tag: str, shared: bool, rec: FileRecord
) -> bytes:
    """The animation's file (tagged), its figures set on ``rec``; ParameterError for the
    settings an animation cannot take (see the module docstring)."""
    from .animation import animate
    from .io import DEFAULT_MAX_PIXELS
    from .targets import TARGETS

    target = next((t for t in TARGETS if t in options), None)
    reason = (
        f"a quality target ({target}) chooses k for still images only; give a palette "
        "size (-k) instead"
        if target is not None
        else "--shared-palette fits one palette to still images only; compress it in a "
        "batch without it"
        if shared
        else "keep_colors is for still images only"
        if options.get("keep_colors") is not None
        else None
    )
    if reason is not None:
        raise ParameterError(f"{source}: an animation ({frames} frames), not compressed: {reason}")
    method = options.get("dither_method", "diffusion")
    if method == "auto":
        warnings.warn(
            f"{source}: dither_method auto measures still images; the animation is "
            "dithered by error diffusion",
            stacklevel=2,
        )
        method = "diffusion"
    fmt = _ANIMATED[options.get("format", "png")]
    anim = animate(
        source,
        options.get("colors", 256),
        format=fmt,
        space=options.get("space", "oklab"),
        dither=options.get("dither", 1.0),
        dither_method=method,
        effort=options.get("effort", 5),
        max_pixels=options.get("max_pixels", DEFAULT_MAX_PIXELS),
        text={_TAG_KEY: tag},
    )
    assert anim.data is not None  # made in memory
    rec.colors, rec.frames, rec.flicker = options.get("colors", 256), anim.frames, anim.flicker
    rec.dither = "none" if options.get("dither", 1.0) == 0 else method
    rec.ssimulacra2 = anim.ssimulacra2_mean
    return anim.data


def _worker_start(parent: int | None) -> None:
    """Worker initialiser: end with the parent (``parent``: its pid when the worker is
    its direct child), and one OpenMP thread per process, as the pool has one per core."""
    from . import _kernels
    from ._lifeline import bind_to_parent

    bind_to_parent(parent)
    _kernels.set_num_threads(1)


def _thread_count() -> int:
    """Threads of this process (0 where the system does not say)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _pool_context():
    """How the pool starts its workers.

    A fork copies only the calling thread, so it is safe while this process runs no other
    (no OpenMP pool has started, no BLAS or progress-bar threads): the workers then start
    at once with the package imported, as the command line's batch does. A forked child
    of a process whose OpenMP pool has run can hang, so otherwise a fork server that has
    imported the package (and run nothing) forks the workers; where there is none, each
    worker is spawned and imports for itself. The fork server, like every worker, ends
    when the process that started it does (:mod:`palettepress._lifeline`).
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _thread_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["palettepress._lifeline_preload", "palettepress.pipeline"])
        return ctx
    return multiprocessing.get_context("spawn")


def _shared_palette(jobs: list[Job], options: dict):
    """One palette fitted to all the still images of ``jobs`` (None when none is readable)."""
    from .quantizer import Quantizer

    fit_keys = ("colors", "space", "seed", "keep_colors", "effort")
    q = Quantizer(
        options.get("colors", 256), **{k: options[k] for k in fit_keys[1:] if k in options}
    )
    import tempfile

    from . import storage
    from .io import frame_count, load

    readable = []
    with tempfile.TemporaryDirectory(prefix="palettepress-batch-") as folder:
        for job in jobs:
            try:
                source = (
                    storage.fetch(job.input, folder) if storage.is_url(job.input) else job.input
                )
                if frame_count(source) == 1:  # animations take no shared palette
                    readable.append(load(source))
            except PalettepressError:
                pass  # its own record will say why
    if not readable:
        return None
    q.fit(readable)
    return q.palette_


class _Collector:
    """The records as they arrive: each is kept and reported, and the first whose output
    found no space stops the batch (:class:`StorageFullError`)."""

    def __init__(self, total: int, progress):
        self.records: list[dict] = []
        self.total = total
        self.progress = progress
        self.stopped = False

    def __call__(self, rec: dict) -> None:
        self.records.append(rec)
        if self.progress is not None:
            self.progress(len(self.records), self.total, rec)
        if rec.get("storage_full") and not self.stopped:
            self.stopped = True
            raise StorageFullError(
                f"{rec['error']}; stopped: the other files would fail the "
                f"same way ({self.total - len(self.records)} not written)",
                self.records,
            )


def _raise_if_stopped(stop) -> None:
    """Raise what ``stop()`` returns, if anything (a stop the caller has asked for)."""
    request = stop() if stop is not None else None
    if request is not None:
        raise request


def run_batch(
    inputs,
    out_dir,
    options: dict,
    *,
    recursive: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    shared_palette: bool = False,
    skip_if_larger: bool = False,
    progress=None,
    stop=None,
) -> list[dict]:
    """Compress every image of ``inputs`` into ``out_dir``; returns one record per file.

    ``options`` are :func:`~palettepress.compress` keywords (``colors`` or one target,
    ``space``, ``dither``, ``seed``). ``progress(done, total, record)`` is called after
    each file. ``stop()``, when given, is asked between files (and at least every quarter
    second while waiting for them): an exception it returns is raised there, after the
    files already handed to a worker have finished and been reported; so a stop signal
    handler needs only to record the request, never to raise in the middle of the pool's
    bookkeeping.
    """
    from .formats import FORMATS, check_format
    from .targets import TARGETS

    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    if shared_palette and any(k in options for k in TARGETS):
        raise ParameterError(
            "--shared-palette fits one palette of k colours; it cannot use a target"
        )
    jobs = collect(
        inputs,
        out_dir,
        recursive=recursive,
        suffix=FORMATS[check_format(options.get("format", "png"))],
    )
    if not jobs:
        return []
    from . import storage

    if not storage.is_url(str(out_dir)):
        _check_writable(str(out_dir))
    tag = settings_tag({**options, "shared_palette": shared_palette})
    palette = _shared_palette(jobs, options) if shared_palette else None
    args = (options, tag, skip_if_larger, palette, shared_palette)
    done = _Collector(len(jobs), progress)
    if scheduler:
        _run_on_dask(scheduler, jobs, args, done, stop)
    elif (workers or os.cpu_count() or 1) == 1 or len(jobs) == 1:
        for job in jobs:
            _raise_if_stopped(stop)
            done(process(job, *args))
    else:
        _run_in_pool(min(workers or os.cpu_count() or 1, len(jobs)), jobs, args, done, stop)
    order = {job.input: i for i, job in enumerate(jobs)}
    return sorted(done.records, key=lambda r: order[r["input"]])


def _check_writable(folder: str) -> None:
    """OutputError unless files can be made in ``folder`` (made if missing): one error
    for the batch rather than the same failure for every file."""
    import tempfile

    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".palettepress-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write there ({exc.strerror or exc})") from exc


def _run_on_dask(scheduler: str, jobs: list[Job], args: tuple, done, stop) -> None:
    """Run the jobs on the Dask cluster at ``scheduler``, reporting each to ``done``."""
    distributed = require("distributed", "dask", "--scheduler")
    options, tag, skip_if_larger, palette, shared_palette = args
    with distributed.Client(scheduler) as client:
        futures = client.map(
            process,
            jobs,
            options=options,
            tag=tag,
            skip_if_larger=skip_if_larger,
            palette=palette,
            shared_palette=shared_palette,
            pure=False,
        )
        job_of = {fut.key: job for fut, job in zip(futures, jobs)}
        try:
            arriving = distributed.as_completed(futures)
            while not arriving.is_empty():
                finished = arriving.next_batch(block=False)
                for fut in finished:
                    done(_dask_record(fut, job_of[fut.key]))
                _raise_if_stopped(stop)
                if not finished:
                    time.sleep(0.05)
        except BaseException:
            client.cancel(futures)  # start nothing more on the cluster
            raise


def _dask_record(fut, job: Job) -> dict:
    """The record a Dask future holds, or a failed one when its task could not finish."""
    try:
        return fut.result()
    except Exception as exc:  # the worker died on it every time it was tried
        reason = (
            "its worker died each time it was tried"
            if type(exc).__name__ == "KilledWorker"
            else f"{type(exc).__name__}: {exc}"
        )
        return asdict(FileRecord(job.input, job.output, "failed", error=f"{job.input}: {reason}"))


def _run_in_pool(n: int, jobs: list[Job], args: tuple, done, stop) -> None:
    """Run the jobs on ``n`` local worker processes, reporting each to ``done``."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = _pool_context()
    direct = ctx.get_start_method() in ("fork", "spawn")  # else the fork server's children
    with ProcessPoolExecutor(
        n,
        mp_context=ctx,
        initializer=_worker_start,
        initargs=(os.getpid() if direct else None,),
    ) as pool:
        futures = [pool.submit(process, job, *args) for job in jobs]
        reported = set()
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=futures.index):
                    reported.add(fut)
                    done(fut.result())
                _raise_if_stopped(stop)
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM): start nothing more, let the files already
            # handed to a worker finish, and report them.
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=True)
            for fut in futures:
                if (
                    fut not in reported
                    and fut.done()
                    and not fut.cancelled()
                    and fut.exception() is None
                ):
                    done(fut.result())
            raise


def summary(records: list[dict], seconds: float) -> dict:
    """Counts, bytes in and out, quality and time of a batch.

    ``not_smaller`` counts the skipped files that ``skip_if_larger`` left alone.
    ``ssimulacra2_mean`` and ``ssimulacra2_min`` are over the files written in this run
    (None when there are none).
    """
    count = {s: sum(r["status"] == s for r in records) for s in ("ok", "skipped", "failed")}
    count["not_smaller"] = sum(
        r["status"] == "skipped" and (r.get("error") or "").startswith("not smaller")
        for r in records
    )
    ok = [r for r in records if r["status"] == "ok"]
    scores = [r["ssimulacra2"] for r in ok if r.get("ssimulacra2") is not None]
    return {
        "files": len(records),
        **count,
        "input_bytes": sum(r["input_bytes"] or 0 for r in ok),
        "output_bytes": sum(r["output_bytes"] or 0 for r in ok),
        "ssimulacra2_mean": sum(scores) / len(scores) if scores else None,
        "ssimulacra2_min": min(scores) if scores else None,
        "seconds": seconds,
    }


def write_summary(path, records: list[dict], totals: dict) -> None:
    """Write the JSON summary: ``{"totals": {...}, "files": [records]}``."""
    from .io import write_atomic

    data = json.dumps({"totals": totals, "files": records}, indent=1) + "\n"
    write_atomic(path, data.encode(), force=True)


class Progress:
    """A progress bar (count, rate, ETA) on a terminal, plain lines elsewhere."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.bar = None
        if self.stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                return

            class _Bar(tqdm):
                # No monitor thread: it only tunes the refresh rate, and a process with
                # no threads can fork its workers (see _pool_context).
                monitor_interval = 0

            self.bar = _Bar(total=0, unit="file", file=self.stream, dynamic_ncols=True)

    def __call__(self, done: int, total: int, rec: dict) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(1)
            if rec["status"] == "failed":
                self.bar.write(f"failed: {rec['error']}")
            return
        note = f" ({rec['error']})" if rec["error"] else ""
        print(
            f"[{done}/{total}] {rec['status']}: {rec['input']}{note}", file=self.stream, flush=True
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
