"""The web app: the JSON API in-process, the server process, and the page in headless Chromium."""

from __future__ import annotations

import base64
import importlib.util
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from palettepress.errors import ExtraMissingError, ParameterError

KODIM23 = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "kodak" / "kodim23.png"
TEST_IDS = ("file-input", "colors", "original-image", "result-image", "result-bytes", "download",
            "result-ssimulacra2", "result-psnr", "result-ssim", "result-delta-e", "busy", "split-slider",
            "palette", "dither-method", "format", "animation-note")
HEX = re.compile(r"^#[0-9a-f]{6}([0-9a-f]{2})?$")


def photo_like(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise: thousands of colours, like a small photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    img = np.stack([200 * x + 30, 150 * y + 60 * x, 220 - 180 * y], axis=2)
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def upload() -> bytes:
    return png_bytes(photo_like())


def animated_gif(frames: int = 5, width: int = 48, height: int = 32) -> bytes:
    """A small animated GIF: a gradient with a square that moves, every frame different."""
    y, x = np.mgrid[0:height, 0:width]
    images = []
    for i in range(frames):
        img = np.stack([x * 5 + i * 9, y * 7, (x + y) * 3], -1) % 256
        img[4:12, 3 + 6 * i:11 + 6 * i] = (250, 30, 20)
        images.append(Image.fromarray(img.astype(np.uint8)))
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return buffer.getvalue()


def frames_of(data: bytes) -> list[bytes]:
    """Every frame of an animated file, decoded, as RGBA bytes."""
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for i in range(im.n_frames):
            im.seek(i)
            out.append(im.convert("RGBA").tobytes())
    return out


def make_client(**options):
    pytest.importorskip("starlette", reason="the web app needs the extra 'web'")
    pytest.importorskip("python_multipart", reason="the web app needs the extra 'web'")
    if importlib.util.find_spec("httpx2") is None:  # Starlette's test client prefers it
        pytest.importorskip("httpx", reason="starlette.testclient needs httpx2 or httpx")
    from starlette.testclient import TestClient

    from palettepress.web.app import create_app

    return TestClient(create_app(**options))


@pytest.fixture(scope="module")
def client():
    with make_client() as c:
        yield c


def multipart(boundary: str, data: bytes, name: str = "a.png", **fields) -> bytes:
    """A multipart/form-data body by hand, for uploads without a client library."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
             for key, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def post(client, data: bytes, name: str = "photo.png", **fields):
    return client.post("/api/compress", files={"file": (name, data, "image/png")},
                       data={k: str(v) for k, v in fields.items()})


# -- the page ---------------------------------------------------------------------------

def test_page_has_every_test_hook(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for test_id in TEST_IDS:
        assert f'data-testid="{test_id}"' in r.text, test_id
    assert re.search(r'<input type="number"[^>]*data-testid="colors"', r.text)
    assert re.search(r'<input type="range"[^>]*data-testid="split-slider"', r.text)
    assert 'aria-busy="false"' in r.text
    assert "{{" not in r.text  # the limits are filled in
    assert "up to 50 MB" in r.text and "up to 5 million pixels over all frames" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("name, kind", [("app.js", "javascript"), ("app.css", "text/css"),
                                        ("favicon.svg", "image/svg+xml")])
def test_static_files_are_served(client, name, kind):
    r = client.get(f"/static/{name}")
    assert r.status_code == 200
    assert kind in r.headers["content-type"]


def test_sample_image(client):
    r = client.get("/api/sample")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (480, 320)


# -- POST /api/compress -----------------------------------------------------------------

def test_compress_happy_path(client, upload):
    r = post(client, upload, colors=8)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    d = r.json()
    assert d["k"] == 8 and 2 <= d["colors"] <= 8 and d["lossless"] is False
    assert (d["width"], d["height"]) == (96, 64)
    assert d["input_bytes"] == len(upload)
    png = base64.b64decode(d["data_base64"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert d["output_bytes"] == len(png)
    assert d["ratio"] == pytest.approx(len(upload) / len(png))
    assert d["bpp"] == pytest.approx(8 * len(png) / (96 * 64))
    assert 10 < d["psnr"] < 60
    assert d["ssimulacra2"] is not None and d["ssimulacra2"] < 100
    assert d["dither_used"] in ("none", "diffusion")
    assert 0 < d["ssim"] <= 1
    assert 0 < d["delta_e"] < 30
    assert d["mse"] > 0 and d["seconds"] > 0
    assert len(d["palette"]) == d["colors"] and all(HEX.match(h) for h in d["palette"])
    assert (d["space"], d["dither"], d["dither_method"], d["target"]) == ("oklab", 1.0, "diffusion", None)
    assert d["download_name"] == "photo-k8.png"
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P" and image.size == (96, 64)
    assert len(image.getcolors()) <= 8


def test_compress_matches_the_library(client, upload, tmp_path):
    import palettepress

    path = tmp_path / "photo.png"
    path.write_bytes(upload)
    expected = palettepress.compress(path, 16, space="rgb", dither=0.5, dither_method="ordered")
    d = post(client, upload, colors=16, space="rgb", dither=0.5, dither_method="ordered").json()
    assert base64.b64decode(d["data_base64"]) == expected.data
    assert d["output_bytes"] == expected.output_bytes
    assert d["psnr"] == pytest.approx(expected.psnr)
    assert d["ssimulacra2"] == pytest.approx(expected.ssimulacra2)
    assert (d["space"], d["dither"], d["dither_method"], d["dither_used"]) == ("rgb", 0.5, "ordered", "ordered")


@pytest.mark.parametrize("fmt,magic", [("webp", b"RIFF"), ("gif", b"GIF8")])
def test_compress_in_another_format(client, upload, tmp_path, fmt, magic):
    import palettepress

    path = tmp_path / "photo.png"
    path.write_bytes(upload)
    expected = palettepress.compress(path, 16, format=fmt)
    d = post(client, upload, colors=16, format=fmt).json()
    data = base64.b64decode(d["data_base64"])
    assert data == expected.data and data[:4] == magic
    assert (d["format"], d["mime_type"]) == (fmt, f"image/{fmt}")
    assert d["download_name"] == f"photo-k16.{fmt}" and d["warnings"] == []
    assert d["output_bytes"] == len(data) and d["ssimulacra2"] == pytest.approx(expected.ssimulacra2)


def test_gif_of_translucent_pixels_warns(client):
    rgba = np.zeros((24, 32, 4), dtype=np.uint8)
    rgba[..., 2] = 220
    rgba[..., 3] = np.linspace(0, 255, 32, dtype=np.uint8)[None, :]
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    d = post(client, buf.getvalue(), colors=8, format="gif").json()
    assert len(d["warnings"]) == 1 and "GIF has no partial transparency" in d["warnings"][0]
    assert "palettepress-web-" not in d["warnings"][0]  # the user's file name, not the copy's
    r = post(client, buf.getvalue(), colors=8, format="jpeg")
    assert r.status_code == 400 and "format must be one of png, webp, gif" in r.json()["error"]


@pytest.mark.parametrize("fmt, animated_format, magic", [
    ("png", "apng", b"\x89PNG"), ("gif", "gif", b"GIF8"), ("webp", "webp", b"RIFF")])
def test_animated_upload_stays_animated(client, tmp_path, fmt, animated_format, magic):
    import palettepress

    gif = animated_gif()
    path = tmp_path / "clip.gif"
    path.write_bytes(gif)
    expected = palettepress.animate(path, 16, format=animated_format, measure_every=1)
    r = post(client, gif, name="clip.gif", colors=16, format=fmt)
    assert r.status_code == 200, r.text
    d = r.json()
    data = base64.b64decode(d["data_base64"])
    assert data[:4] == magic and data == expected.data
    decoded = frames_of(data)
    assert len(decoded) == 5 and len(set(decoded)) == 5  # every frame decodes, each its own
    assert d["animated"] is True and d["frames"] == 5 and d["source_frames"] == 5
    assert d["format"] == animated_format
    assert d["mime_type"] == {"apng": "image/png"}.get(animated_format, f"image/{fmt}")
    assert d["download_name"] == f"clip-k16.{fmt}"
    assert (d["width"], d["height"]) == (48, 32) and d["loop"] == 0
    assert d["duration"] == pytest.approx(0.4)
    assert d["input_bytes"] == len(gif) and d["output_bytes"] == len(data)
    assert d["ratio"] == pytest.approx(len(gif) / len(data))
    assert d["bpp"] == pytest.approx(8 * len(data) / (48 * 32 * 5))
    assert d["bpp"] * d["raw_ratio"] == pytest.approx(24)
    assert d["ssimulacra2"] == pytest.approx(expected.ssimulacra2_mean)
    assert d["ssimulacra2_p10"] == pytest.approx(expected.ssimulacra2_p10)
    assert d["ssimulacra2_p10"] <= d["ssimulacra2"] and 0 <= d["flicker"] <= 1
    assert d["measure_every"] == 1  # a short animation: every frame measured
    assert d["k"] == 16 and 2 <= d["colors"] <= 16 and d["palette"] == []
    assert (d["psnr"], d["ssim"], d["delta_e"], d["mse"], d["target"]) == (None,) * 5
    assert d["dither_used"] == "diffusion" and d["warnings"] == [] and d["seconds"] > 0


def test_long_animation_is_measured_on_a_sample_of_frames(client, tmp_path):
    import palettepress
    from palettepress.web.app import MEASURED_FRAMES

    gif = animated_gif(frames=MEASURED_FRAMES + 6, width=20, height=16)
    path = tmp_path / "long.gif"
    path.write_bytes(gif)
    d = post(client, gif, colors=8, format="gif").json()
    assert d["frames"] == MEASURED_FRAMES + 6 and d["measure_every"] == 2
    expected = palettepress.animate(path, 8, format="gif", measure_every=2)
    assert base64.b64decode(d["data_base64"]) == expected.data
    assert d["ssimulacra2"] == pytest.approx(expected.ssimulacra2_mean)


def test_still_uploads_say_they_are_still(client, upload):
    d = post(client, upload, colors=8).json()
    assert d["animated"] is False and d["frames"] == 1


def test_animation_takes_no_target_and_diffuses_for_auto(client):
    gif = animated_gif()
    r = post(client, gif, name="clip.gif", colors=16, target="min_ssimulacra2", target_value=50)
    assert r.status_code == 400
    assert r.json() == {"error": "clip.gif: an animation (5 frames): a quality target "
                                 "(min_ssimulacra2) chooses k for still images only; set the target to none"}
    d = post(client, gif, name="clip.gif", colors=16, dither_method="auto").json()
    assert d["animated"] is True and d["dither_used"] == "diffusion"
    assert d["warnings"] == ["clip.gif: auto dithering measures still images; the animation is "
                             "dithered by error diffusion"]
    assert post(client, gif, colors=16, dither=0).json()["dither_used"] == "none"


def test_animation_over_the_frame_pixel_limit_is_413(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gif = animated_gif(frames=5, width=48, height=32)  # 7,680 frame pixels
    with make_client(max_animation_pixels=7_679) as c:
        assert "up to 7,679 pixels over all frames" in c.get("/").text  # the page says so
        r = post(c, gif, name="clip.gif", colors=16)
        assert r.status_code == 413
        assert r.json() == {"error": "clip.gif: an animation of 5 frames of 48x32 is 7,680 frame "
                                     "pixels, more than this server's limit of 7,679"}
        assert post(c, png_bytes(photo_like()), colors=8).status_code == 200  # stills unaffected
    with make_client(max_animation_pixels=7_680) as c:
        assert post(c, gif, colors=16).json()["frames"] == 5
    with make_client(max_pixels=1000) as c:  # each frame's limit holds too
        r = post(c, gif, name="clip.gif", colors=16)
        assert r.status_code == 413 and r.json()["error"].startswith("clip.gif")
        assert "\n" not in r.json()["error"]
    assert list(tmp_path.iterdir()) == []  # refused uploads leave nothing either


def test_quality_target_picks_the_smallest_k(client, upload):
    d = post(client, upload, colors=256, target="min_ssimulacra2", target_value=15).json()
    assert d["target"] == {"name": "min_ssimulacra2", "value": 15.0}
    assert d["ssimulacra2"] >= 15 and 2 <= d["k"] < 256
    d = post(client, upload, colors=256, target="min_ssim", target_value=0.8).json()
    assert d["target"] == {"name": "min_ssim", "value": 0.8}
    assert d["ssim"] >= 0.8 and 2 <= d["k"] < 256
    d = post(client, upload, colors=64, target="max_bytes", target_value=3000).json()
    assert d["output_bytes"] <= 3000 and d["target"]["value"] == 3000


def test_unreachable_target_is_422(client, upload):
    r = post(client, upload, colors=4, target="max_delta_e", target_value=0.001)
    assert r.status_code == 422
    assert "photo.png: no palette of 2-4 colours reaches CIEDE2000" in r.json()["error"]


@pytest.mark.parametrize("fields, message", [
    ({"colors": "abc"}, "colors must be an integer from 2 to 256"),
    ({"colors": ""}, "colors must be an integer"),
    ({"colors": "8.5"}, "colors must be an integer"),
    ({"colors": "1"}, "got 1"),
    ({"colors": "257"}, "got 257"),
    ({"colors": "99999999999999999999"}, "colors must be an integer"),
    ({"space": "hsv"}, "space must be oklab or rgb"),
    ({"dither": "2"}, "dither must be a number from 0 to 1"),
    ({"dither": "nan"}, "dither must be a finite number"),
    ({"dither": "lots"}, "dither must be a number"),
    ({"dither_method": "floyd"}, "dither_method must be one of diffusion, ordered, auto"),
    ({"target": "min_ssimulacra2", "target_value": "101"}, "min_ssimulacra2 must be at most 100"),
    ({"target": "max_psnr", "target_value": "30"}, "target must be"),
    ({"target": "min_ssim"}, "needs a target_value"),
    ({"target": "min_ssim", "target_value": "2"}, "min_ssim must be in (0, 1]"),
    ({"target": "max_bytes", "target_value": "1.5"}, "max_bytes must be a positive whole number"),
])
def test_bad_parameters_are_400(client, upload, fields, message):
    r = post(client, upload, **fields)
    assert r.status_code == 400
    assert message in r.json()["error"]


@pytest.mark.parametrize("data, message", [
    (b"this is not an image", "holiday.jpg: not an image format palettepress can read"),
    (b"", "holiday.jpg: empty file"),
    (png_bytes(photo_like())[:300], "holiday.jpg: corrupt or truncated image"),
])
def test_undecodable_images_are_400_and_name_the_upload(client, data, message):
    r = post(client, data, name="holiday.jpg", colors=8)
    assert r.status_code == 400
    assert r.json()["error"].startswith(message)
    assert "palettepress-web-" not in r.json()["error"]  # not the temporary copy's path


def test_missing_file_is_400(client):
    r = client.post("/api/compress", data={"colors": "8"})
    assert r.status_code == 400 and "no image" in r.json()["error"]
    r = client.post("/api/compress", content=b"--x\r\ngarbage",
                    headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400 and "error" in r.json()


def test_unknown_route_and_method_answer_json(client):
    assert client.get("/nowhere").json() == {"error": "Not Found"}
    r = client.get("/api/compress")
    assert r.status_code == 405 and "error" in r.json()


def test_upload_over_the_limit_is_413_and_the_server_goes_on():
    upload = png_bytes((np.random.default_rng(1).random((128, 128, 3)) * 255).astype(np.uint8))
    assert len(upload) > 40_000
    with make_client(max_upload_mb=0.01) as c:  # 10 KiB
        # Content-Length far over the limit: refused before the body is read.
        r = post(c, upload + bytes(100_000), colors=8)
        assert r.status_code == 413
        assert r.json() == {"error": "the upload is larger than the limit of 0.01 MB"}
        # Within the multipart allowance, but the file itself is too large.
        r = post(c, upload, colors=8)
        assert r.status_code == 413
        # No Content-Length (chunked): counted while reading.
        boundary = "palettepressboundary"
        body = multipart(boundary, upload + bytes(100_000))

        def chunks():
            for i in range(0, len(body), 16384):
                yield body[i:i + 16384]

        r = c.post("/api/compress", content=chunks(),
                   headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert "content-length" not in r.request.headers
        assert r.status_code == 413
        r = post(c, png_bytes(photo_like(24, 16)), colors=4)
        assert r.status_code == 200 and r.json()["k"] == 4


def test_too_many_pixels_is_413(upload):
    with make_client(max_pixels=1000) as c:
        r = post(c, upload, colors=8)
    assert r.status_code == 413
    message = r.json()["error"]
    assert message.startswith("photo.png: ") and "than the limit of 1000" in message


def test_server_keeps_serving_after_errors(client, upload):
    for response in (post(client, b"junk", colors=8), post(client, upload, colors="x"),
                     post(client, upload, colors=2, target="max_delta_e", target_value=1e-6)):
        assert response.status_code in (400, 422)
    assert post(client, upload, colors=4).json()["colors"] <= 4
    assert client.get("/").status_code == 200


def test_nothing_is_left_on_disk(client, upload, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    big = png_bytes((np.random.default_rng(2).random((700, 700, 3)) * 255).astype(np.uint8))
    assert len(big) > 1 << 20  # over Starlette's in-memory spool size
    assert post(client, big, colors=8).status_code == 200
    assert post(client, upload, colors=8).status_code == 200
    assert post(client, b"junk").status_code == 400
    assert post(client, animated_gif(), name="a.gif", colors=8).json()["frames"] == 5
    assert post(client, animated_gif(), colors=8, target="min_ssim", target_value=0.5).status_code == 400
    assert list(tmp_path.iterdir()) == []


def test_upload_names_are_sanitised(client, upload):
    d = post(client, upload, name="../../etc/pass wd?.png", colors=4).json()
    assert d["filename"] == "pass wd_.png" and d["download_name"] == "pass wd_-k4.png"
    d = post(client, upload, name="..", colors=4).json()
    assert d["filename"] == "upload"


def test_parse_options_defaults():
    from palettepress.web.app import parse_options

    assert parse_options({}) == {"colors": 256, "space": "oklab", "dither": 1.0,
                                 "dither_method": "diffusion", "seed": 0, "format": "png"}
    assert parse_options({"colors": " 16 ", "space": "RGB", "dither": "0", "dither_method": " Auto",
                          "target": "none", "target_value": "", "format": " WebP"}) == {
        "colors": 16, "space": "rgb", "dither": 0.0, "dither_method": "auto", "seed": 0,
        "format": "webp"}
    assert parse_options({"target": "max_bytes", "target_value": "5000"})["max_bytes"] == 5000


def test_create_app_checks_its_limits():
    pytest.importorskip("starlette")
    from palettepress.web.app import create_app

    with pytest.raises(ParameterError, match="max_upload_mb"):
        create_app(max_upload_mb=0)
    with pytest.raises(ParameterError, match="max_pixels"):
        create_app(max_pixels=0)
    with pytest.raises(ParameterError, match="max_animation_pixels must be a positive integer"):
        create_app(max_animation_pixels=0)


# -- serve, the command line, missing extras --------------------------------------------

def test_missing_starlette_names_the_extra(monkeypatch):
    from palettepress.web import app

    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(ExtraMissingError) as info:
        app.serve(port=0)
    assert str(info.value) == "the web app needs starlette: pip install 'palettepress[web]'"
    assert info.value.exit_code == 6


def test_missing_uvicorn_names_the_extra(monkeypatch):
    pytest.importorskip("starlette")
    from palettepress.web import app

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ExtraMissingError, match=r"needs uvicorn: pip install 'palettepress\[web\]'"):
        app.serve(port=0)


def test_busy_port_is_a_parameter_error():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from palettepress.web.app import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ParameterError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve(port=port)


def test_serve_options():
    from palettepress.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["serve"])
    assert (args.host, args.port, args.max_upload_mb, args.max_pixels) == ("127.0.0.1", 8000, 50.0, None)
    args = parser.parse_args(["serve", "--port", "0", "--max-upload-mb", "2.5", "--max-pixels", "10"])
    assert (args.port, args.max_upload_mb, args.max_pixels) == (0, 2.5, 10)
    for bad in (["--port", "70000"], ["--max-upload-mb", "0"], ["--max-pixels", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", *bad])


def test_serve_process_answers_and_stops_on_ctrl_c(tmp_path, upload):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    command = [sys.executable, "-m", "palettepress", "serve", "--port", "0", "--max-upload-mb", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline()
            match = re.match(r"palettepress: serving on (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)",
                             line)
            assert match, line + proc.stderr.read()
            url = match.group(1)
            for _ in range(100):  # the socket listens at once; the app answers once uvicorn runs
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        page = response.read().decode()
                    break
                except OSError:
                    time.sleep(0.05)
            assert 'data-testid="file-input"' in page and "up to 1 MB" in page
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


# -- end to end in headless Chromium ----------------------------------------------------

@pytest.fixture(scope="module")
def live_server():
    """The app under uvicorn on a free 127.0.0.1 port, in a background thread."""
    pytest.importorskip("starlette")
    uvicorn = pytest.importorskip("uvicorn")
    from palettepress.web.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_server_answers_while_compressing(live_server, monkeypatch, upload):
    from palettepress.web import app

    entered, release = threading.Event(), threading.Event()
    compress_upload = app._compress_upload

    def slow(*args):
        entered.set()
        release.wait(10)
        return compress_upload(*args)

    monkeypatch.setattr(app, "_compress_upload", slow)
    boundary = "palettepressboundary"
    request = urllib.request.Request(
        f"{live_server}/api/compress", data=multipart(boundary, upload, colors=8),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    answers = []

    def send():
        with urllib.request.urlopen(request, timeout=20) as response:
            answers.append((response.status, response.read()))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        with urllib.request.urlopen(live_server, timeout=5) as response:
            assert response.status == 200
        assert time.monotonic() - started < 2
    finally:
        release.set()
        sender.join(20)
    assert answers and answers[0][0] == 200


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium's executable; checked before the server starts."""
    pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip)")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("the browser test needs Chromium on PATH (Debian package 'chromium')")
    return path


#: Wait until the page shows a result of this many bytes.
WAIT_FOR_BYTES = """b => document.querySelector('[data-testid="result-bytes"]').dataset.value === String(b)"""

WAIT_FOR_K = """k => {
    const results = document.getElementById("results");
    const colors = document.querySelector('[data-testid="result-colors"]');
    return results.dataset.state === "done" && colors.dataset.k === String(k);
}"""


WAIT_FOR_FRAMES = """n => {
    const note = document.querySelector('[data-testid="animation-note"]');
    return document.getElementById("results").dataset.state === "done" && !note.hidden
        && note.dataset.frames === String(n);
}"""


def test_browser_end_to_end(chromium, live_server, tmp_path):
    from playwright.sync_api import sync_playwright

    if KODIM23.exists():
        photo = KODIM23
    else:  # fresh clone without ../shared: a generated image keeps the test running
        photo = tmp_path / "generated.png"
        photo.write_bytes(png_bytes(photo_like(384, 256)))
    k = 16

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
            page_errors = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(live_server)
            def post_photo(**fields):  # what the page should show, from the API itself
                return page.request.post(f"{live_server}/api/compress", multipart={
                    "file": {"name": photo.name, "mimeType": "image/png", "buffer": photo.read_bytes()},
                    "colors": str(k), **fields})

            api = post_photo()
            assert api.ok
            expected = api.json()

            page.get_by_test_id("file-input").set_input_files(str(photo))
            page.wait_for_function(WAIT_FOR_K, arg=64, timeout=15_000)  # the page's default
            page.evaluate("""() => {
                window.busySeen = false;
                new MutationObserver(() => {
                    if (document.getElementById("results").getAttribute("aria-busy") === "true") {
                        window.busySeen = true;
                    }
                }).observe(document.getElementById("results"), {attributes: true});
            }""")
            page.get_by_test_id("colors").fill(str(k))
            page.wait_for_function(WAIT_FOR_K, arg=k, timeout=15_000)
            assert page.evaluate("window.busySeen")
            assert page.get_by_test_id("busy").inner_text().startswith("Done in")

            shown = page.get_by_test_id("result-bytes")
            assert int(shown.get_attribute("data-value")) == expected["output_bytes"]
            assert shown.inner_text() == f"{expected['output_bytes']:,} B"
            assert page.get_by_test_id("result-input-bytes").inner_text() == f"{photo.stat().st_size:,} B"
            assert page.get_by_test_id("result-ssimulacra2").inner_text() == f"{expected['ssimulacra2']:.2f}"
            assert page.get_by_test_id("result-psnr").inner_text() == f"{expected['psnr']:.2f} dB"
            assert page.get_by_test_id("result-ssim").inner_text() == f"{expected['ssim']:.4f}"
            assert page.get_by_test_id("result-delta-e").inner_text() == f"{expected['delta_e']:.3f}"
            assert page.get_by_test_id("palette").locator("li").count() == expected["colors"]
            src = page.get_by_test_id("result-image").get_attribute("src")
            assert src == "data:image/png;base64," + expected["data_base64"]
            assert page.get_by_test_id("original-image").get_attribute("src").startswith("blob:")
            assert page.evaluate("document.querySelector('[data-testid=result-image]').naturalWidth") \
                == expected["width"]

            download = page.get_by_test_id("download")
            assert download.get_attribute("aria-disabled") == "false"
            with page.expect_download() as info:
                download.click()
            assert info.value.suggested_filename == f"{photo.stem}-k{k}.png"
            assert Path(info.value.path()).read_bytes() == base64.b64decode(expected["data_base64"])

            # The split slider works from the keyboard.
            slider = page.get_by_test_id("split-slider")
            slider.focus()
            page.keyboard.press("End")
            assert slider.input_value() == "100"
            page.keyboard.press("Home")
            page.keyboard.press("ArrowRight")
            assert slider.input_value() == "1"
            assert page.evaluate("getComputedStyle(document.getElementById('split-stage'))"
                                 ".getPropertyValue('--split').trim()") == "1%"
            slider.fill("50")

            # The method choice goes to the server: ordered dithering, as the API makes it.
            ordered = post_photo(dither_method="ordered").json()
            page.get_by_test_id("dither-method").select_option("ordered")
            page.wait_for_function(WAIT_FOR_BYTES, arg=ordered["output_bytes"], timeout=15_000)
            assert page.get_by_test_id("result-ssimulacra2").inner_text() == f"{ordered['ssimulacra2']:.2f}"
            page.get_by_test_id("dither-method").select_option("diffusion")
            page.wait_for_function(WAIT_FOR_BYTES, arg=expected["output_bytes"], timeout=15_000)

            # The format choice goes to the server, and the download is that format's file.
            webp = post_photo(format="webp").json()
            page.get_by_test_id("format").select_option("webp")
            page.wait_for_function(WAIT_FOR_BYTES, arg=webp["output_bytes"], timeout=15_000)
            assert page.get_by_test_id("result-image").get_attribute("src") == \
                "data:image/webp;base64," + webp["data_base64"]
            assert page.get_by_test_id("download").inner_text().startswith("Download WebP")
            with page.expect_download() as info:
                page.get_by_test_id("download").click()
            assert info.value.suggested_filename == f"{photo.stem}-k{k}.webp"
            assert Path(info.value.path()).read_bytes() == base64.b64decode(webp["data_base64"])
            page.get_by_test_id("format").select_option("png")
            page.wait_for_function(WAIT_FOR_BYTES, arg=expected["output_bytes"], timeout=15_000)

            # An invalid colour count is refused on the page, and the page recovers.
            page.get_by_test_id("colors").fill("300")
            error = page.get_by_test_id("error")
            error.wait_for(state="visible")
            assert "2 to 256" in error.inner_text()
            page.get_by_test_id("colors").fill(str(k))
            page.wait_for_function(WAIT_FOR_K, arg=k, timeout=15_000)
            assert error.is_hidden()
            note = page.get_by_test_id("animation-note")
            assert note.is_hidden()

            # An animated GIF: the result is an animation (APNG for the PNG format), shown
            # playing beside the original, with a note saying how many frames it has.
            clip = tmp_path / "clip.gif"
            clip.write_bytes(animated_gif())
            animated = page.request.post(f"{live_server}/api/compress", multipart={
                "file": {"name": clip.name, "mimeType": "image/gif", "buffer": clip.read_bytes()},
                "colors": str(k)}).json()
            assert animated["animated"] and animated["frames"] == 5
            page.get_by_test_id("file-input").set_input_files(str(clip))
            page.wait_for_function(WAIT_FOR_FRAMES, arg=5, timeout=15_000)
            assert "animated PNG (APNG) of 5 frames" in note.inner_text()
            assert page.get_by_test_id("result-image").get_attribute("src") == \
                "data:image/png;base64," + animated["data_base64"]
            assert page.get_by_test_id("original-image").get_attribute("src").startswith("blob:")
            for test_id in ("original-image", "result-image", "split-original", "split-result"):
                shown = page.evaluate("id => { const i = document.querySelector(`[data-testid=${id}]`);"
                                      " return [i.complete, i.naturalWidth, i.naturalHeight]; }", test_id)
                assert shown == [True, 48, 32], test_id
            assert page.get_by_test_id("result-bytes").get_attribute("data-value") == \
                str(animated["output_bytes"])
            assert page.get_by_test_id("result-ssimulacra2").inner_text() == f"{animated['ssimulacra2']:.2f}"
            assert page.get_by_test_id("result-psnr").inner_text() == "n/a"
            assert page.get_by_test_id("result-delta-e").inner_text() == "n/a"
            assert "5 frames" in page.locator("#result-caption").inner_text()
            assert page.locator("#palette-section").is_hidden()
            assert page.get_by_test_id("download").inner_text().startswith("Download APNG")
            # Back to a still image: the note goes.
            page.get_by_test_id("file-input").set_input_files(str(photo))
            page.wait_for_function(WAIT_FOR_BYTES, arg=expected["output_bytes"], timeout=15_000)
            assert note.is_hidden() and page.locator("#palette-section").is_visible()
            assert page_errors == []

            screenshot = os.environ.get("PALETTEPRESS_WEB_SCREENSHOT")
            if screenshot:  # regenerates docs/web-screenshot.png
                page.evaluate("document.activeElement.blur()")
                page.mouse.move(0, 0)
                import palettepress

                shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
                palettepress.compress(shot, 256).save(screenshot, force=True)
        finally:
            browser.close()
