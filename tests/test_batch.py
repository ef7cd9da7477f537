"""Batch runs: folders, failures, resuming, shared palettes, and a real Dask cluster."""

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from palettepress.batch import collect
from palettepress.cli import main


def make_image(path: Path, seed: int, size=(40, 56)):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]]
    img = np.stack([x * 4 + seed * 7, y * 5, (x + y) * 2], -1) + rng.normal(0, 5, size + (3,))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def messy(tmp_path):
    """20 good images (some in a sub-folder) plus a truncated, an empty and a non-image file."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for i in range(20):
        make_image(src / ("sub" if i % 4 == 0 else ".") / f"img{i:02d}.png", i)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 90).save(buf, "PNG")
    (src / "truncated.png").write_bytes(buf.getvalue()[:60])
    (src / "empty.png").write_bytes(b"")
    (src / "notes.jpg").write_text("not an image at all")
    return src


def test_messy_folder(messy, tmp_path, capsys):
    before = digest(messy)
    out = tmp_path / "out"
    summary = tmp_path / "summary.json"
    code = main(["batch", str(messy), "-o", str(out), "-k", "16", "--recursive", "--workers", "2",
                 "--summary", str(summary)])
    assert code == 7
    text = capsys.readouterr()
    assert "20 ok, 0 skipped, 3 failed" in text.out
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert len(pngs) == 20 and "sub/img00.png" in pngs and "img01.png" in pngs
    assert not list(out.rglob("*.tmp"))
    data = json.loads(summary.read_text())
    failed = {Path(r["input"]).name: r["error"] for r in data["files"] if r["status"] == "failed"}
    assert set(failed) == {"truncated.png", "empty.png", "notes.jpg"}
    assert "truncated" in failed["truncated.png"] and "empty file" in failed["empty.png"]
    assert "not an image" in failed["notes.jpg"]
    ok = [r for r in data["files"] if r["status"] == "ok"]
    assert all(r["output_bytes"] == os.path.getsize(r["output"]) and r["colors"] <= 16 for r in ok)
    assert data["totals"]["ok"] == 20 and data["totals"]["failed"] == 3
    assert digest(messy) == before  # inputs untouched
    # The re-run resumes: every finished file is skipped and nothing is rewritten.
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert main(["batch", str(messy), "-o", str(out), "-k", "16", "--recursive"]) == 7
    assert "0 ok, 20 skipped, 3 failed" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == written
    # Other settings make other outputs: nothing is skipped then.
    assert main(["batch", str(messy), "-o", str(out), "-k", "8", "--recursive"]) == 7
    assert "20 ok, 0 skipped, 3 failed" in capsys.readouterr().out


def test_without_recursive_and_explicit_files(messy, tmp_path, capsys):
    out = tmp_path / "out"
    good = messy / "img01.png"
    assert main(["batch", str(good), "-o", str(out), "-k", "8"]) == 0
    assert [p.name for p in out.iterdir()] == ["img01.png"]
    jobs = collect([messy], tmp_path / "o2")
    assert not any("sub" in Path(j.input).parts for j in jobs)


def test_missing_input_is_an_input_error(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 3
    assert "no such file or folder" in capsys.readouterr().err


def test_an_outdir_inside_an_input_folder_is_not_read_back(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    make_image(src / "a.png", 1)
    for _ in range(3):
        assert main(["batch", str(src), "-o", str(src / "out"), "--recursive", "-k", "8"]) == 0
    assert sorted(p.relative_to(src).as_posix() for p in src.rglob("*.png")) == ["a.png", "out/a.png"]
    # The input folder itself as the output: refused, nothing written.
    assert main(["batch", str(src / "a.png"), "-o", str(src)]) == 4
    assert "overwrite the input" in capsys.readouterr().err


def test_stale_temporary_files_are_cleared(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_image(src / "a.png", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".a.png.xyz123.tmp").write_bytes(b"half a file")
    assert main(["batch", str(src), "-o", str(out), "-k", "8"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]


def test_workers_are_forked_only_from_a_single_thread():
    import subprocess
    import sys
    import threading

    import multiprocessing

    from palettepress.batch import _pool_context

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("this system has no fork start method")
    # Fresh interpreter, package imported, nothing run: one thread, so the pool forks.
    code = "from palettepress.batch import _pool_context; print(_pool_context().get_start_method())"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "fork"
    # With another thread alive a fork could copy a held lock: never fork then.
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert _pool_context().get_start_method() in ("forkserver", "spawn")
    finally:
        stop.set()
        t.join()


def test_skip_if_larger(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.new("P", (4, 4)).save(src / "tiny.png")  # already as small as a PNG gets
    make_image(src / "photo.png", 2)
    out = tmp_path / "out"
    summary = tmp_path / "s.json"
    assert main(["batch", str(src), "-o", str(out), "-k", "16", "--skip-if-larger", "--summary", str(summary)]) == 0
    data = json.loads(summary.read_text())
    records = {Path(r["input"]).name: r for r in data["files"]}
    assert records["tiny.png"]["status"] == "skipped" and "not smaller" in records["tiny.png"]["error"]
    assert not (out / "tiny.png").exists() and (out / "photo.png").exists()
    assert data["totals"]["skipped"] == data["totals"]["not_smaller"] == 1
    assert "1 skipped (1 not smaller)" in capsys.readouterr().out


def test_shared_palette(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        make_image(src / f"f{i}.png", i * 10)
    out = tmp_path / "out"
    assert main(["batch", str(src), "-o", str(out), "-k", "12", "--shared-palette"]) == 0
    palettes = {tuple(Image.open(p).getpalette()[:36]) for p in out.iterdir()}
    assert len(palettes) == 1
    assert main(["batch", str(src), "-o", str(out), "--max-delta-e", "3", "--shared-palette"]) == 2


def test_targets_per_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_image(src / "a.png", 3)
    out = tmp_path / "out"
    summary = tmp_path / "s.json"
    assert main(["batch", str(src), "-o", str(out), "--max-delta-e", "4", "--summary", str(summary)]) == 0
    rec = json.loads(summary.read_text())["files"][0]
    assert rec["status"] == "ok" and rec["delta_e"] <= 4


def test_dask_cluster_gives_identical_outputs(tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    src = tmp_path / "in"
    (src / "deep").mkdir(parents=True)
    for i in range(6):
        make_image(src / ("deep" if i % 2 else ".") / f"p{i}.png", i)
    (src / "bad.png").write_bytes(b"\x89PNG broken")
    make_animation(src / "deep" / "moving.gif")  # animations too, byte for byte
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert main(["batch", str(src), "-o", str(local), "-k", "16", "--recursive", "--workers", "2"]) == 7
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        code = main(["batch", str(src), "-o", str(remote), "-k", "16", "--recursive",
                     "--scheduler", cluster.scheduler_address])
    assert code == 7
    assert digest(local) == digest(remote) and len(digest(local)) == 7
    assert len(decoded_frames(remote / "deep" / "moving.png")) == 5


@pytest.mark.parametrize("fmt", ["webp", "gif"])
def test_batch_in_another_format_resumes(tmp_path, capsys, fmt):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        make_image(src / f"p{i}.png", i)
    out = tmp_path / "out"
    args = ["batch", str(src), "-o", str(out), "-k", "16", "--format", fmt, "--workers", "1"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.{fmt}" for i in range(3)]
    for p in out.iterdir():
        with Image.open(p) as im:
            assert im.format == fmt.upper()
    before = digest(out)
    capsys.readouterr()
    assert main(args) == 0
    assert "0 ok, 3 skipped" in capsys.readouterr().out
    assert digest(out) == before
    # A cut-off file is not complete: it is made again.
    victim = out / f"p1.{fmt}"
    victim.write_bytes(victim.read_bytes()[:-5])
    assert main(args) == 0
    assert "1 ok, 2 skipped" in capsys.readouterr().out
    assert digest(out) == before


def test_batch_gif_reports_translucent_pixels(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    rgba = np.zeros((24, 24, 4), dtype=np.uint8)
    rgba[..., 1] = 150
    rgba[..., 3] = np.linspace(0, 255, 24, dtype=np.uint8)[:, None]
    Image.fromarray(rgba).save(src / "soft.png")
    make_image(src / "opaque.png", 1)
    assert main(["batch", str(src), "-o", str(tmp_path / "out"), "-k", "8", "--format", "gif"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and err[0].startswith("palettepress: warning: ")
    assert "soft.png: GIF has no partial transparency" in err[0]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_sigkill_mid_batch_leaves_no_process_and_no_partial_file(tmp_path, start):
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        make_image(src / f"p{i:02d}.png", i, size=(240, 320))
    args = ["batch", str(src), "-k", "256", "--effort", "9", "--workers", "2"]
    reference = tmp_path / "reference"
    assert main([*args, "-o", str(reference)]) == 0
    # A live thread in the batch process makes the pool use its fork server.
    code = ("import sys, threading\n"
            + ("threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
               if start == "forkserver" else "")
            + "from palettepress.cli import main\nsys.exit(main(sys.argv[1:]))")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", code, *args, "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        helpers = _descendants(proc.pid)
        assert helpers, "no worker processes seen"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while any(_running(p) for p in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in helpers if _running(p)]
    finally:
        for p in _descendants(proc.pid) + (helpers if "helpers" in locals() else []):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    assert left == [], f"processes left running after the batch was killed: {left}"
    # Outputs are whole files: a write cut off by the kill is a hidden temporary file,
    # which the re-run clears.
    written = sorted(p for p in out.iterdir() if not (p.name.startswith(".") and p.suffix == ".tmp"))
    assert len(written) < 12, "the batch had finished before it was killed"
    for p in written:
        assert p.suffix == ".png"
        with Image.open(p) as im:
            im.load()
    assert main([*args, "-o", str(out)]) == 0
    assert digest(out) == digest(reference)  # every file, so no temporary file is left


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize("signame,code,word", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_stop_signals_end_cleanly_with_a_summary(tmp_path, signame, code, word):
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        make_image(src / f"p{i:02d}.png", i, size=(240, 320))
    out, summary_path = tmp_path / "out", tmp_path / "summary.json"
    proc = subprocess.Popen([sys.executable, "-m", "palettepress", "batch", str(src), "-o", str(out),
                             "-k", "256", "--effort", "9", "--workers", "2", "--summary", str(summary_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    helpers = _descendants(proc.pid)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    # Ours is one line; the standard library's resource tracker may add its own after it.
    assert f"palettepress: {word}" in err.splitlines() and "Traceback" not in err, err
    assert not any(_running(p) for p in helpers)
    report = json.loads(summary_path.read_text())
    assert report["totals"]["interrupted"] is True
    done = {Path(r["output"]).name for r in report["files"] if r["status"] == "ok"}
    assert done and len(done) < 12, (done, err)
    on_disk = {p.name for p in out.iterdir()}
    assert on_disk == done  # every finished file listed, nothing partial or temporary
    for name in done:
        with Image.open(out / name) as im:
            im.load()


def _with_file_size_limit(limit: int):
    """A preexec_fn: files may grow to ``limit`` bytes, and a larger write fails with EFBIG
    (not SIGXFSZ): the way a full disk or quota makes every further write fail."""
    def setup():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return setup


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX resource limits")
def test_no_space_to_write_is_exit_4_with_nothing_partial(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "big.png"
    make_image(src, 1, size=(200, 300))
    before = src.read_bytes()
    out = tmp_path / "out.png"
    run = subprocess.run([sys.executable, "-m", "palettepress", "compress", str(src), "-o", str(out),
                          "-k", "256"], capture_output=True, text=True,
                         preexec_fn=_with_file_size_limit(4096))
    assert run.returncode == 4, run.stderr
    assert run.stderr.strip().count("\n") == 0 and "cannot write (File too large)" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]  # no output, no temporary
    assert src.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX resource limits")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_stops_when_outputs_cannot_be_written(tmp_path, workers):
    import subprocess
    import sys

    src = tmp_path / "in"
    src.mkdir()
    for i in range(30):  # small files fit under the limit, large ones do not
        make_image(src / f"p{i:02d}.png", i, size=(16, 16) if i < 2 else (200, 300))
    out, report = tmp_path / "out", tmp_path / "summary.json"
    run = subprocess.run([sys.executable, "-m", "palettepress", "batch", str(src), "-o", str(out),
                          "-k", "256", "--workers", workers, "--summary", str(report)],
                         capture_output=True, text=True, preexec_fn=_with_file_size_limit(8192))
    assert run.returncode == 4, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("palettepress: error:")]
    assert len(errors) == 1 and "File too large" in errors[0] and "stopped" in errors[0]
    records = json.loads(report.read_text())
    assert records["totals"]["interrupted"] == "storage full"
    failed = [r for r in records["files"] if r["status"] == "failed"]
    # It stopped: only the files already handed to a worker failed, not all 28 large ones.
    assert 1 <= len(failed) <= 4 * int(workers)
    assert len(records["files"]) < 30
    written = {p.name for p in out.iterdir()}
    assert written == {Path(r["output"]).name for r in records["files"] if r["status"] == "ok"}
    for name in written:
        with Image.open(out / name) as im:
            im.load()


def _dask_cluster(tmp_path, workers: int, *worker_args: str, env=None):
    """A scheduler and ``workers`` worker processes, each its own ``dask`` command."""
    import subprocess
    import sys
    import time

    sched_file = tmp_path / "scheduler.json"
    base = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen([*base, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    deadline = time.monotonic() + 60
    while not sched_file.exists():
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.1)
    address = json.loads(sched_file.read_text())["address"]
    for _ in range(workers):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                       "--nthreads", "1", "--no-dashboard", *worker_args],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
    return address, procs


def _stop(procs) -> None:
    for p in procs:
        p.kill()
        p.wait()


def test_dask_worker_killed_mid_job_loses_nothing(tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    import signal
    import threading
    import time

    src = tmp_path / "in"
    src.mkdir()
    for i in range(60):
        make_image(src / f"p{i:02d}.png", i, size=(120, 160))
    args = ["batch", str(src), "-k", "256", "--effort", "8"]
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert main([*args, "-o", str(local), "--workers", "2"]) == 0
    address, procs = _dask_cluster(tmp_path, 2, "--no-nanny")
    try:
        with distributed.Client(address) as client:
            client.wait_for_workers(2, timeout=60)
            worker_pids = list(client.run(os.getpid).values())
        codes = []
        run = threading.Thread(target=lambda: codes.append(main([*args, "-o", str(remote), "--scheduler", address])))
        run.start()
        deadline = time.monotonic() + 60
        while not (remote.is_dir() and len(list(remote.glob("*.png"))) >= 5):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(worker_pids[0], signal.SIGKILL)
        written_when_killed = len(list(remote.glob("*.png")))
        run.join(timeout=180)
        assert not run.is_alive()
    finally:
        _stop(procs)
    assert written_when_killed < 60, "the job had finished before the worker was killed"
    assert codes == [0]
    assert digest(local) == digest(remote) and len(digest(remote)) == 60


def _huge_png(path: Path, side: int) -> None:
    """A ``side`` x ``side`` black RGB PNG, written row by row (small on disk, large decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = bytes(1 + 3 * side)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_dask_file_that_kills_its_worker_ends_failed(tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        make_image(src / f"p{i}.png", i)
    _huge_png(src / "bomb.png", 12000)  # 432 MB of pixels for a worker allowed 300 MB
    # One retry; and each worker holds only the task it runs, so that the bomb's deaths
    # take no other file with them (Dask counts a death against every task on the worker).
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    address, procs = _dask_cluster(tmp_path, 2, "--memory-limit", "300MB", env=env)
    try:
        with distributed.Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        report = tmp_path / "summary.json"
        code = main(["batch", str(src), "-o", str(tmp_path / "out"), "-k", "16", "--scheduler", address,
                     "--summary", str(report)])
    finally:
        _stop(procs)
    assert code == 7
    files = {Path(r["input"]).name: r for r in json.loads(report.read_text())["files"]}
    assert files["bomb.png"]["status"] == "failed"
    assert "its worker died each time it was tried" in files["bomb.png"]["error"]
    assert [files[f"p{i}.png"]["status"] for i in range(3)] == ["ok"] * 3


# -- animations -------------------------------------------------------------------------

def make_animation(path: Path, frames: int = 5, size=(32, 48), **save):
    """An animated GIF (or APNG/WebP by ``path``'s extension): a gradient with a square
    that moves, so that every frame differs from the one before."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    images = []
    for i in range(frames):
        img = np.stack([x * 5 + i * 9, y * 7, (x + y) * 3], -1) % 256
        img[4:12, 3 + 6 * i:11 + 6 * i] = (250, 30, 20)
        images.append(Image.fromarray(img.astype(np.uint8)))
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0, **save)


def decoded_frames(path) -> list[bytes]:
    """Every frame of an animated file (a path or a binary file object) as RGBA bytes."""
    out = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            out.append(im.convert("RGBA").tobytes())
    return out


@pytest.mark.parametrize("fmt, pillow_format", [("png", "PNG"), ("gif", "GIF"), ("webp", "WEBP")])
def test_animated_gif_among_stills_stays_animated(tmp_path, capsys, fmt, pillow_format):
    from palettepress.formats import read_text

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        make_image(src / f"still{i}.png", i)
    make_animation(src / "moving.gif", frames=5)
    out, summary = tmp_path / "out", tmp_path / "s.json"
    args = ["batch", str(src), "-o", str(out), "-k", "16", "--format", fmt, "--workers", "2"]
    assert main([*args, "--summary", str(summary)]) == 0
    records = {Path(r["input"]).name: r for r in json.loads(summary.read_text())["files"]}
    anim = records["moving.gif"]
    target = out / f"moving.{fmt}"
    assert anim["status"] == "ok" and anim["output"] == str(target)
    assert anim["frames"] == 5 and 0 <= anim["flicker"] <= 1 and anim["colors"] == 16
    assert anim["ssimulacra2"] is not None and anim["output_bytes"] == target.stat().st_size
    with Image.open(target) as im:
        assert im.format == pillow_format and im.n_frames == 5 and im.size == (48, 32)
    frames = decoded_frames(target)
    assert len(frames) == 5 and len(set(frames)) == 5  # all decoded, each its own
    still = records["still0.png"]
    assert still["status"] == "ok" and still["frames"] is None and still["ssim"] is not None
    # The animated output carries the same settings tag as the stills: a re-run skips it.
    tag = read_text(out / f"still0.{fmt}")["palettepress"]
    assert read_text(target)["palettepress"] == tag
    before = digest(out)
    capsys.readouterr()
    assert main(args) == 0
    assert "0 ok, 4 skipped" in capsys.readouterr().out
    assert digest(out) == before
    # A cut-off animation is made again, byte for byte; other settings redo it too.
    target.write_bytes(target.read_bytes()[:-7])
    assert main(args) == 0
    assert "1 ok, 3 skipped" in capsys.readouterr().out
    assert digest(out) == before
    assert main([*args[:4], "-k", "8", *args[6:]]) == 0
    assert "4 ok, 0 skipped" in capsys.readouterr().out
    assert len(decoded_frames(target)) == 5


@pytest.mark.parametrize("ext, save", [(".png", {}), (".webp", {"lossless": True})])
def test_apng_and_animated_webp_inputs_are_animated_too(tmp_path, ext, save):
    src = tmp_path / "in"
    src.mkdir()
    make_animation(src / f"clip{ext}", frames=4, **save)
    summary = tmp_path / "s.json"
    assert main(["batch", str(src), "-o", str(tmp_path / "out"), "-k", "32", "--format", "gif",
                 "--summary", str(summary)]) == 0
    (rec,) = json.loads(summary.read_text())["files"]
    assert rec["status"] == "ok" and rec["frames"] == 4
    assert len(decoded_frames(Path(rec["output"]))) == 4


def test_animations_refuse_targets_and_shared_palettes(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    make_image(src / "still.png", 4)
    make_animation(src / "moving.gif")
    out, summary = tmp_path / "out", tmp_path / "s.json"
    for how, reason in ((["--min-ssimulacra2", "20"], "a quality target (min_ssimulacra2)"),
                        (["-k", "16", "--shared-palette"], "--shared-palette fits one palette")):
        assert main(["batch", str(src), "-o", str(out), *how, "--summary", str(summary)]) == 7
        records = {Path(r["input"]).name: r for r in json.loads(summary.read_text())["files"]}
        assert records["still.png"]["status"] == "ok"
        failed = records["moving.gif"]
        assert failed["status"] == "failed"
        assert failed["error"].startswith(f"{src / 'moving.gif'}: an animation (5 frames), not compressed")
        assert reason in failed["error"]
        assert f"failed: {failed['error']}" in capsys.readouterr().err
        assert not (out / "moving.png").exists()
    # A shared palette with no still image to fit it to still refuses the animation.
    assert main(["batch", str(src / "moving.gif"), "-o", str(out), "-k", "16", "--shared-palette"]) == 7
    # auto dithering measures still images: the animation is diffused, and the record says so.
    assert main(["batch", str(src), "-o", str(out), "-k", "16", "--dither-method", "auto",
                 "--summary", str(summary)]) == 0
    records = {Path(r["input"]).name: r for r in json.loads(summary.read_text())["files"]}
    assert records["moving.gif"]["dither"] == "diffusion"
    assert "dither_method auto measures still images" in records["moving.gif"]["warnings"][0]
    assert records["still.png"]["warnings"] is None


def test_skip_if_larger_holds_for_animations(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    frames = [Image.new("P", (8, 8), i % 2) for i in range(3)]  # a few bytes a frame
    for f in frames:
        f.putpalette([0, 0, 0, 255, 255, 255])
    frames[0].save(src / "blink.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out, summary = tmp_path / "out", tmp_path / "s.json"
    assert main(["batch", str(src), "-o", str(out), "-k", "4", "--skip-if-larger",
                 "--summary", str(summary)]) == 0
    (rec,) = json.loads(summary.read_text())["files"]
    assert rec["status"] == "skipped" and "not smaller than the input" in rec["error"]
    assert rec["frames"] == 3
    assert not out.exists() or not any(out.rglob("*"))  # nothing written


def test_animations_through_object_storage_resume(tmp_path, capsys):
    fsspec = pytest.importorskip("fsspec")
    src = tmp_path / "in"
    src.mkdir()
    make_image(src / "still.png", 5)
    make_animation(src / "moving.gif")
    local = tmp_path / "local"
    assert main(["batch", str(src), "-o", str(local), "-k", "16", "--workers", "1"]) == 0
    fs = fsspec.filesystem("memory")
    fs.put(str(src) + "/", "/pp-anim/in/", recursive=True)
    args = ["batch", "memory://pp-anim/in", "-o", "memory://pp-anim/out", "-k", "16", "--workers", "1"]
    try:
        assert main(args) == 0
        stored = {p.rsplit("/", 1)[1]: fs.cat_file(p) for p in fs.find("/pp-anim/out")}
        assert {n: hashlib.sha256(d).hexdigest() for n, d in stored.items()} == digest(local)
        assert len(decoded_frames(io.BytesIO(stored["moving.png"]))) == 5
        capsys.readouterr()
        assert main(args) == 0  # the APNG's tag is in the head that resuming reads
        assert "0 ok, 2 skipped" in capsys.readouterr().out
    finally:
        fs.rm("/pp-anim", recursive=True)


@pytest.mark.parametrize("fmt", ["webp", "gif", "png"])
def test_animation_whose_frames_are_all_alike_resumes(tmp_path, capsys, fmt):
    """Three identical frames (a GIF written by hand: Pillow would merge them) make a
    one-frame file, which libwebp writes as a simple WebP: the tag still goes in."""
    from palettepress.formats import read_text

    src = tmp_path / "in"
    src.mkdir()
    buffer = io.BytesIO()
    Image.fromarray(np.arange(32 * 48 * 3, dtype=np.uint32).reshape(32, 48, 3).astype(np.uint8)
                    ).quantize(64).save(buffer, "GIF", duration=100, loop=0)
    one = buffer.getvalue()
    frame = one[one.index(b"\x21\xf9"):-1]  # graphic control, image descriptor and data
    (src / "same.gif").write_bytes(one[:-1] + frame + frame + b"\x3b")
    with Image.open(src / "same.gif") as im:
        assert im.n_frames == 3
    out, summary = tmp_path / "out", tmp_path / "s.json"
    args = ["batch", str(src), "-o", str(out), "-k", "16", "--format", fmt]
    assert main([*args, "--summary", str(summary)]) == 0
    (rec,) = json.loads(summary.read_text())["files"]
    assert rec["status"] == "ok" and rec["frames"] == 1
    target = Path(rec["output"])
    assert len(decoded_frames(target)) == 1
    tag = read_text(target)["palettepress"]
    assert tag.startswith("palettepress ") and "colors=16" in tag
    capsys.readouterr()
    assert main(args) == 0
    assert "0 ok, 1 skipped" in capsys.readouterr().out


def test_storage_that_cannot_be_listed_is_one_line(tmp_path, capsys, monkeypatch):
    from palettepress import storage

    def unreachable(url, suffixes, recursive):
        raise ConnectionError('Could not connect to the endpoint URL: "http://127.0.0.1:1/b"\nmore')

    monkeypatch.setattr(storage, "list_images", unreachable)
    assert main(["batch", "s3://b/in", "-o", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3://b/in: cannot list (Could not connect" in err


def test_an_outdir_that_cannot_be_written_is_one_error(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        make_image(src / f"{i}.png", i)
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    assert main(["batch", str(src), "-o", str(blocker / "out")]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write there" in err
