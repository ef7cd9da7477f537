"""Batch over object storage: a real S3-protocol server (moto's) on 127.0.0.1."""

import hashlib
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from palettepress.cli import main

s3fs = pytest.importorskip("s3fs", reason="the s3 extra is not installed")
pytest.importorskip("moto", reason="moto[server] is not installed")


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "moto's server did not start"
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, tmp_path):
    """A fresh bucket; returns (s3fs filesystem, bucket name). The same endpoint for
    fsspec in this process (its config) and in any child (its environment variables)."""
    import fsspec

    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "FSSPEC_S3_ENDPOINT_URL": s3_endpoint}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3_endpoint})
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True)
    name = f"pp-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    fs.mkdir(name)
    yield fs, name
    fs.rm(name, recursive=True)


def make_images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        rng = np.random.default_rng(i)
        y, x = np.mgrid[0:40, 0:56]
        img = np.stack([x * 4 + i * 7, y * 5, (x + y) * 2], -1) + rng.normal(0, 5, (40, 56, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"p{i}.png")


def digest_local(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def digest_bucket(fs, prefix: str) -> dict:
    return {path[len(prefix) + 1:]: hashlib.sha256(fs.cat_file(path)).hexdigest()
            for path in sorted(fs.find(prefix))}


def test_batch_on_a_bucket_matches_a_local_run_and_resumes(bucket, tmp_path, capsys):
    fs, name = bucket
    src = tmp_path / "in"
    make_images(src, 5)
    (src / "sub").mkdir()
    (src / "sub" / "bad.png").write_bytes(b"\x89PNG not really")
    fs.put(str(src) + "/", f"{name}/in/", recursive=True)
    local = tmp_path / "local"
    assert main(["batch", str(src), "-o", str(local), "-k", "16", "--recursive", "--workers", "1"]) == 7
    capsys.readouterr()
    args = ["batch", f"s3://{name}/in", "-o", f"s3://{name}/out", "-k", "16", "--recursive", "--workers", "1"]
    assert main(args) == 7
    out = capsys.readouterr()
    assert f"s3://{name}/in/sub/bad.png" in out.err  # the object named, not a local copy
    assert digest_bucket(fs, f"{name}/out") == digest_local(local) and len(digest_local(local)) == 5
    fs.invalidate_cache()
    assert main(args) == 7
    assert "0 ok, 5 skipped, 1 failed" in capsys.readouterr().out
    # An output cut short (a stale or foreign object) is made again.
    fs.pipe_file(f"{name}/out/p2.png", fs.cat_file(f"{name}/out/p2.png")[:-20])
    fs.invalidate_cache()
    assert main(args) == 7
    assert "1 ok, 4 skipped, 1 failed" in capsys.readouterr().out
    assert digest_bucket(fs, f"{name}/out") == digest_local(local)


def test_cli_batch_between_bucket_and_disk_with_workers(bucket, tmp_path):
    fs, name = bucket
    src = tmp_path / "in"
    make_images(src, 4)
    fs.put(str(src) + "/", f"{name}/in/", recursive=True)
    down = tmp_path / "down"
    run = subprocess.run([sys.executable, "-m", "palettepress", "batch", f"s3://{name}/in", "-o", str(down),
                          "-k", "32", "--workers", "2"], capture_output=True, text=True, env=os.environ.copy())
    assert run.returncode == 0, run.stderr
    up = subprocess.run([sys.executable, "-m", "palettepress", "batch", str(src), "-o", f"s3://{name}/up",
                         "-k", "32", "--workers", "2"], capture_output=True, text=True, env=os.environ.copy())
    assert up.returncode == 0, up.stderr
    assert digest_local(down) == digest_bucket(fs, f"{name}/up") and len(digest_local(down)) == 4


def test_dask_run_with_no_shared_filesystem(bucket, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    fs, name = bucket
    src = tmp_path / "in"
    make_images(src, 4)
    fs.put(str(src) + "/", f"{name}/in/", recursive=True)
    local = tmp_path / "local"
    assert main(["batch", str(src), "-o", str(local), "-k", "16", "--workers", "1"]) == 0
    # The workers start in their own folder, with the endpoint from their environment.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert main(["batch", f"s3://{name}/in", "-o", f"s3://{name}/out", "-k", "16",
                     "--scheduler", cluster.scheduler_address]) == 0
    assert digest_bucket(fs, f"{name}/out") == digest_local(local)
