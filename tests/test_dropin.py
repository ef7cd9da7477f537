"""Habits of pngquant and Pillow users: no-option runs, several files, pipes, in place,
--skip-if-larger, PIL images in and out, notebook display, and the pre-commit hook (run by
the real ``pre-commit try-repo`` on a temporary git repository)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import palettepress
from palettepress import metrics
from palettepress.cli import main

REPO = Path(__file__).resolve().parents[1]


def photo(path: Path, seed: int = 0, size=(96, 64)) -> Path:
    """A colourful image of more than 256 colours, saved as a plain PNG."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 127 // (w + h)], axis=2)
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


def screenshot(path: Path) -> Path:
    """A user interface: flat panels, buttons and anti-aliased text, as a 24-bit PNG."""
    image = Image.new("RGB", (320, 200), (246, 246, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 320, 28), fill=(40, 44, 52))
    draw.text((8, 8), "palettepress - settings", fill=(230, 230, 230))
    for i in range(5):
        y = 40 + 30 * i
        draw.rounded_rectangle((12, y, 308, y + 24), radius=5, fill=(255, 255, 255),
                               outline=(210, 210, 215))
        draw.text((20, y + 6), f"Option {i + 1}: a line of text", fill=(30, 30, 30))
        draw.ellipse((280, y + 5, 294, y + 19), fill=(52, 120, 246) if i % 2 else (200, 200, 200))
    image.save(path)
    return path


def colours(path: Path) -> int:
    with Image.open(path) as im:
        return len(im.convert("RGBA").getcolors(1 << 24))


def test_no_options_writes_beside_each_input_with_256_colours(tmp_path, capsys):
    a, b = photo(tmp_path / "a.png", 1), photo(tmp_path / "b.png", 2)
    assert main(["compress", str(a), str(b)]) == 0
    for name in ("a-pp.png", "b-pp.png"):
        out = tmp_path / name
        with Image.open(out) as im:
            assert im.mode == "P"
        assert colours(out) == 256
    report = capsys.readouterr().out
    assert "a-pp.png" in report and "b-pp.png" in report


def test_pngquant_command_lines_work(tmp_path, capsys, monkeypatch):
    a = photo(tmp_path / "a.png", 1)
    monkeypatch.chdir(tmp_path)
    assert main(["a.png"]) == 0  # pngquant a.png: no command needed
    assert colours(tmp_path / "a-pp.png") == 256
    assert main(["64", "a.png", "--ext=-64.png"]) == 0  # pngquant 64 a.png
    assert colours(tmp_path / "a-64.png") <= 64
    assert main(["compress", "16", str(a), "-f", "--ext=-64.png"]) == 0  # -f: --force
    assert colours(tmp_path / "a-64.png") <= 16
    # Options between the palette size and the files, as pngquant takes them.
    assert main(["8", "-f", "--ext", "-64.png", "a.png"]) == 0  # pngquant 8 -f --ext ... a.png
    assert colours(tmp_path / "a-64.png") <= 8
    b = photo(tmp_path / "b.png", 2)
    assert main(["compress", "a.png", "-k", "4", str(b), "--ext=-4.png"]) == 0
    assert colours(tmp_path / "a-4.png") <= 4 and colours(tmp_path / "b-4.png") <= 4
    capsys.readouterr()
    assert main(["missing.png"]) == 3  # a file, reported as missing
    assert "missing.png: no such file" in capsys.readouterr().err
    assert main(["comprss", "a.png"]) == 2  # a mistyped command, reported as one
    assert "invalid choice: 'comprss'" in capsys.readouterr().err
    assert main(["64", "a.png", "-k", "32"]) == 2
    assert "64 (a palette size) and --colors" in capsys.readouterr().err
    assert main(["300", "a.png"]) == 2
    assert "from 2 to 256, got 300" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, ours",
    [(["--quality", "65-80"], "--min-ssimulacra2"), (["--speed", "3"], "--effort"),
     (["--nofs"], "--dither 0"), (["--floyd=0.5"], "--dither S"), (["--verbose"], "the report"),
     (["-Q", "65-80"], "--min-ssimulacra2"), (["-s3"], "--effort"), (["-v"], "the report")],
)
def test_pngquant_only_options_name_ours(tmp_path, capsys, option, ours):
    a = photo(tmp_path / "a.png")
    assert main([*option, str(a)]) == 2
    err = capsys.readouterr().err
    name = option[0].split("=")[0]
    name = name if name.startswith("--") else name[:2]  # -s3: -s with its value
    assert f"{name} is pngquant's: palettepress has {ours}" in err
    assert not (tmp_path / "a-pp.png").exists()


def test_a_leading_number_that_is_a_file_is_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "x.png").rename(tmp_path / "64")  # named like a palette size: a file
    photo(tmp_path / "b.png", 2)
    assert main(["compress", "64", "b.png", "-k", "8"]) == 0
    assert colours(tmp_path / "64-pp.png") <= 8 and colours(tmp_path / "b-pp.png") <= 8


def test_ext_and_format_name_the_outputs(tmp_path):
    a = photo(tmp_path / "a.png")
    assert main(["compress", str(a), "--ext=-small.webp", "-k", "16"]) == 0
    with Image.open(tmp_path / "a-small.webp") as im:
        assert im.format == "WEBP"
    assert main(["compress", str(a), "--format", "gif", "-k", "16"]) == 0
    with Image.open(tmp_path / "a-pp.gif") as im:
        assert im.format == "GIF"


def test_pipe_in_and_out():
    data = io.BytesIO()
    Image.fromarray(palettepress.sample_image()).save(data, "PNG")
    run = subprocess.run(
        [sys.executable, "-m", "palettepress", "compress", "-", "-o", "-", "-k", "32"],
        input=data.getvalue(),
        capture_output=True,
        check=True,
    )
    with Image.open(io.BytesIO(run.stdout)) as im:
        assert im.format == "PNG" and im.mode == "P" and len(im.getcolors()) <= 32
    assert b"bytes" in run.stderr  # the report goes to standard error
    quiet = subprocess.run(
        [sys.executable, "-m", "palettepress", "compress", "-", "--quiet"],
        input=data.getvalue(),
        capture_output=True,
        check=True,
    )
    assert quiet.stderr == b"" and quiet.stdout[:4] == b"\x89PNG"  # - alone: to stdout


def test_stdin_errors_name_standard_input(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not an image")))
    assert main(["compress", "-", "-o", "-"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("palettepress: error: -") and "tmp" not in err


def test_animate_pipes_in_and_out(tmp_path):
    # An animated GIF on standard input, the animation on standard output (GIF unless
    # --format), the report on standard error: as ffmpeg ... -f gif - | palettepress ...
    frames = []
    for i in range(6):
        im = Image.new("RGB", (48, 32), (20, 40, 80))
        ImageDraw.Draw(im).rectangle([4 + 5 * i, 8, 14 + 5 * i, 20], fill=(230, 60, 30))
        frames.append(im)
    data = io.BytesIO()
    frames[0].save(data, "GIF", save_all=True, append_images=frames[1:], duration=80)
    run = subprocess.run(
        [sys.executable, "-m", "palettepress", "animate", "-", "-o", "-"],
        input=data.getvalue(),
        capture_output=True,
        check=True,
        cwd=tmp_path,
    )
    with Image.open(io.BytesIO(run.stdout)) as im:
        assert im.format == "GIF" and im.n_frames == 6
        im.seek(5)
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(frames[5]))
    assert b"- -> -: GIF, 6 frames" in run.stderr
    webp = subprocess.run(
        [sys.executable, "-m", "palettepress", "animate", "-", "-o", "-", "--format", "webp",
         "--quiet"],
        input=data.getvalue(),
        capture_output=True,
        check=True,
        cwd=tmp_path,
    )
    assert webp.stderr == b"" and webp.stdout[8:12] == b"WEBP"
    assert os.listdir(tmp_path) == []  # no file named "-", no temporary copy left


def test_animate_stdin_errors_name_standard_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not an animation")))
    out = tmp_path / "a.gif"
    assert main(["animate", "-", "-o", str(out)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("palettepress: error: -:") and "tmp" not in err
    assert not out.exists()


def test_skip_if_larger_leaves_a_palette_png_alone(tmp_path, capsys):
    # An already-palette PNG palettepress re-encoded losslessly from its own output: the
    # same pixels again give the same file, no smaller.
    assert main(["compress", str(photo(tmp_path / "a.png")), "-o", str(tmp_path / "q.png")]) == 0
    assert main(["compress", str(tmp_path / "q.png"), "-o", str(tmp_path / "p.png")]) == 0
    small = tmp_path / "p.png"
    before = small.read_bytes()
    capsys.readouterr()
    assert main(["compress", str(small), "--skip-if-larger"]) == 98
    assert not (tmp_path / "p-pp.png").exists()
    assert small.read_bytes() == before
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not written" in err[0] and "p.png" in err[0]
    assert main(["compress", str(small), "--skip-if-larger", "--ext", ".png", "--force"]) == 98
    assert small.read_bytes() == before  # in place too: untouched
    capsys.readouterr()
    assert main(["compress", str(small), "--skip-if-larger", "-q"]) == 98
    assert capsys.readouterr().err == ""  # quiet, as pngquant -q
    assert main(["compress", str(small), "--skip-if-larger", "--json"]) == 98
    record = json.loads(capsys.readouterr().out)  # one object a file, as always
    assert record["skipped"] == "not smaller" and record["output"] is None
    assert record["output_bytes"] >= record["input_bytes"]


def test_in_place_replaces_the_file_atomically_keeping_its_mode(tmp_path):
    a = photo(tmp_path / "a.png")
    os.chmod(a, 0o640)
    size = a.stat().st_size
    assert main(["compress", str(a), "--ext", ".png"]) == 4  # exists: needs --force
    assert a.stat().st_size == size
    assert main(["compress", str(a), "--ext", ".png", "--force"]) == 0
    assert a.stat().st_size < size and colours(a) <= 256
    assert (a.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left


def test_several_inputs_go_on_past_a_bad_one(tmp_path, capsys):
    good, bad = photo(tmp_path / "good.png"), tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG truncated")
    assert main(["compress", str(bad), str(good)]) == 3
    assert (tmp_path / "good-pp.png").exists() and not (tmp_path / "bad-pp.png").exists()
    assert "bad.png" in capsys.readouterr().err


def test_output_names_one_input(tmp_path, capsys):
    a, b = photo(tmp_path / "a.png"), photo(tmp_path / "b.png")
    assert main(["compress", str(a), str(b), "-o", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_quantize_gives_a_pillow_palette_image():
    image = Image.fromarray(palettepress.sample_image())
    q = palettepress.quantize(image, colors=64)
    assert isinstance(q, Image.Image) and q.mode == "P" and len(q.getcolors()) <= 64
    assert q.size == image.size
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[8:32, 8:32] = (200, 30, 30, 255)
    rgba[12:28, 12:28, 3] = 128
    t = palettepress.quantize(Image.fromarray(rgba, "RGBA"), colors=8)
    shown = np.asarray(t.convert("RGBA"))
    assert (shown[..., 3] == rgba[..., 3]).all()  # the transparency travels with it


def test_quantize_takes_pillows_arguments(tmp_path):
    image = Image.open(photo(tmp_path / "a.png"))
    ours = palettepress.quantize(image, 32)
    kw = {"method": Image.Quantize.MEDIANCUT, "kmeans": 2}  # Pillow's algorithm: not ours
    assert np.array_equal(np.asarray(palettepress.quantize(image, 32, **kw)), np.asarray(ours))
    by_dither = {
        d: palettepress.quantize(image, 32, dither=d)
        for d in (Image.Dither.NONE, Image.Dither.FLOYDSTEINBERG, Image.Dither.ORDERED)
    }
    plain = palettepress.compress(image, 32, dither=0).to_pil()
    ordered = palettepress.compress(image, 32, dither_method="ordered").to_pil()
    looks = [np.asarray(p.convert("RGB")) for p in (plain, ours, ordered)]
    assert not any(np.array_equal(a, b) for a, b in ((looks[0], looks[1]), (looks[1], looks[2])))
    for d, expect in ((Image.Dither.NONE, plain), (Image.Dither.FLOYDSTEINBERG, ours),
                      (Image.Dither.ORDERED, ordered)):
        assert np.array_equal(np.asarray(by_dither[d].convert("RGB")), np.asarray(expect.convert("RGB")))
    reference = image.quantize(8)  # Pillow's way: the palette of a P image
    q = palettepress.quantize(image, palette=reference)
    used = {tuple(c) for _, c in q.convert("RGB").getcolors()}
    assert used <= {tuple(c) for c in np.reshape(reference.getpalette(), (-1, 3)).tolist()}
    with pytest.raises(palettepress.ParameterError, match="mode P holds a palette, not one in mode RGB"):
        palettepress.quantize(image, palette=image)


def test_result_to_pil_and_notebook_display():
    result = palettepress.compress(palettepress.sample_image(), colors=32)
    pil = result.to_pil()
    assert np.array_equal(np.asarray(pil.convert("RGB")), result.image)
    page = result._repr_html_()
    assert page.count("<img") >= 4  # two thumbnails, each opening to full size
    assert "original" in page and "SSIMULACRA2" in page and f"{result.ssimulacra2:.2f}" in page
    assert repr(result).startswith("<Result PNG") and "SSIMULACRA2" in repr(result)
    sweep = palettepress.sweep(palettepress.sample_image(), colors=(4, 16))
    table = sweep._repr_html_()
    assert "<table>" in table and "rate-distortion" in table


def test_animation_repr_and_notebook_display(tmp_path):
    import base64
    import re

    frames = [np.full((24, 32, 3), (10 * i, 80, 200 - 10 * i), np.uint8) for i in range(4)]
    anim = palettepress.animate(frames, fps=8)
    text = repr(anim)  # short: not the file's bytes
    assert text.startswith("<Animation GIF 32x24, 4 frames") and len(text) < 200
    page = anim._repr_html_()
    shown = re.search(r'src="data:image/gif;base64,([^"]+)"', page)
    assert shown and base64.b64decode(shown.group(1)) == anim.data  # the file, playing
    assert "SSIMULACRA2" in page and "flicker" in page
    # written to a file, the notebook reads it back to show it
    written = palettepress.animate(frames, fps=8, output=tmp_path / "a.webp")
    assert written.data is None and 'src="data:image/webp;base64,' in written._repr_html_()
    (tmp_path / "a.webp").unlink()
    assert "<img" not in written._repr_html_() and "a.webp" in written._repr_html_()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_pre_commit_hook_shrinks_screenshots_and_keeps_photos(tmp_path):
    if shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed (pip install '.[test]')")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    shot, snap = screenshot(repo / "shot.png"), photo(repo / "photo.png", 7, (160, 120))
    original = np.asarray(Image.open(shot).convert("RGB"))
    shot_before, photo_before = shot.read_bytes(), snap.read_bytes()
    _git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    run = subprocess.run(
        ["pre-commit", "try-repo", str(REPO), "palettepress", "--files", "shot.png", "photo.png"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # files were modified: pre-commit says so
    assert "files were modified by this hook" in run.stdout
    assert len(shot.read_bytes()) < len(shot_before)
    with Image.open(shot) as im:
        assert im.mode == "P"
        shown = np.asarray(im.convert("RGB"))
    assert metrics.ssimulacra2(original, shown) >= 85
    assert snap.read_bytes() == photo_before  # cannot stay visually lossless: untouched


def test_pre_commit_command_exits_0_when_it_leaves_files_alone(tmp_path, capsys):
    snap = photo(tmp_path / "photo.png", 3, (160, 120))
    before = snap.read_bytes()
    assert main(["pre-commit", str(snap)]) == 0
    assert snap.read_bytes() == before
    assert "kept" in capsys.readouterr().out


def test_pre_commit_leaves_its_own_output_alone(tmp_path, capsys):
    # pre-commit runs the hook again after every change it made: measured against its
    # own last output each time, a quality target would take a little more at every
    # commit. A file of at most K colours is only ever stored losslessly.
    path = tmp_path / "shot.png"
    with Image.open(screenshot(path)) as im:
        im.resize((480, 300), Image.Resampling.LANCZOS).save(path)
    assert colours(path) > 256
    with Image.open(path) as im:
        original = np.asarray(im.convert("RGB"))
    before = path.stat().st_size
    assert main(["pre-commit", str(path)]) == 0
    first = path.read_bytes()
    assert len(first) < before
    for _ in range(3):
        assert main(["pre-commit", str(path)]) == 0
        assert path.read_bytes() == first
    assert "kept" in capsys.readouterr().out
    with Image.open(path) as im:
        assert metrics.ssimulacra2(original, np.asarray(im.convert("RGB"))) >= 90


def _animated(path: Path, frames: int = 3) -> Path:
    """Screenshots with a moving bar, saved as an animation (APNG, GIF or WebP by suffix)."""
    shot = np.asarray(Image.open(screenshot(path.with_name("shot-for-" + path.stem + ".png"))))
    images = []
    for i in range(frames):
        frame = shot.copy()
        frame[100:110, 20 + 30 * i : 60 + 30 * i] = (200, 30, 30)
        images.append(Image.fromarray(frame))
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


@pytest.mark.parametrize("suffix", [".png", ".gif", ".webp"])
def test_pre_commit_leaves_animations_alone(tmp_path, capsys, suffix):
    # A still of the first frame would shrink the file and score SSIMULACRA2 100 against
    # that frame, and lose every other frame: an animation is never rewritten.
    anim = _animated(tmp_path / f"anim{suffix}")
    still = screenshot(tmp_path / "still.png")
    before, still_before = anim.read_bytes(), still.read_bytes()
    assert main(["pre-commit", str(anim), str(still)]) == 0
    assert anim.read_bytes() == before
    out = capsys.readouterr().out
    assert f"{anim}: kept: an animation of 3 frames" in out
    assert len(still.read_bytes()) < len(still_before)  # the still beside it is shrunk


def test_compress_of_an_animation_warns_that_it_takes_the_first_frame(tmp_path, capsys):
    anim = _animated(tmp_path / "anim.gif")
    with pytest.warns(palettepress.AnimatedInputWarning, match="an animation of 3 frames"):
        result = palettepress.compress(str(anim), 64)
    assert np.array_equal(result.original, np.asarray(Image.open(anim).convert("RGB")))
    # The command line says so on one line, naming the file; a still GIF draws no warning.
    assert main(["compress", str(anim), "-o", str(tmp_path / "a.png"), "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"warning: {anim}: an animation of 3 frames" in err
    Image.open(anim).save(tmp_path / "still.gif")
    assert main(["compress", str(tmp_path / "still.gif"), "-o", str(tmp_path / "b.png"), "-q"]) == 0
    assert capsys.readouterr().err == ""
