"""The command line, run in-process: output, JSON, exit codes, refusals, bad input."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from palettepress.cli import main

from conftest import shared_file

JSON_KEYS = {"input", "output", "colors", "dither", "input_bytes", "output_bytes", "ratio", "bpp",
             "ssimulacra2", "psnr", "ssim", "delta_e", "mse", "seconds"}


@pytest.fixture
def small_png(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
    return path


def test_compress_prints_summary(small_png, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "16"]) == 0
    text = capsys.readouterr().out
    for word in ("16 colours", "bytes", "ratio", "bpp", "SSIMULACRA2", "PSNR", "SSIM", "CIEDE2000",
                 "MSE", "time"):
        assert word in text
    assert Image.open(out).mode == "P"


def test_json_output(small_png, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8", "--json", "--space", "rgb",
                 "--dither", "--seed", "4"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert JSON_KEYS <= set(record)
    assert record["colors"] <= 8 and record["output_bytes"] == out.stat().st_size
    assert record["input_bytes"] == small_png.stat().st_size
    assert record["ratio"] == pytest.approx(record["input_bytes"] / record["output_bytes"])


def test_dither_strength_and_method(small_png, tmp_path, capsys, fit_as_without_dithering):
    # auto maps one palette three ways, fitted as for no dithering: so are the others here.
    outs = {}
    for name, extra in [("half", ["--dither", "0.5"]), ("default", []), ("full", ["--dither"]),
                        ("none", ["--dither", "0"]), ("ordered", ["--dither-method", "ordered"]),
                        ("auto", ["--dither-method", "auto"])]:
        outs[name] = tmp_path / f"{name}.png"
        assert main(["compress", str(small_png), "-o", str(outs[name]), "-k", "4", "--json"] + extra) == 0
        outs[name] = (outs[name].read_bytes(), json.loads(capsys.readouterr().out)["dither"])
    assert outs["half"][0] != outs["default"][0]
    assert outs["full"] == outs["default"]  # --dither alone is the default strength, 1
    assert [outs[n][1] for n in ("default", "none", "ordered")] == ["diffusion", "none", "ordered"]
    assert outs["auto"] in (outs["default"], outs["none"], outs["ordered"])


def test_same_seed_same_bytes(small_png, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for p in (a, b):
        assert main(["compress", str(small_png), "-o", str(p), "-k", "12", "--seed", "9"]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_existing_output_needs_force(small_png, tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8"]) == 4
    err = capsys.readouterr().err
    assert "already exists" in err and str(out) in err and err.count("\n") == 1
    assert out.read_bytes() == b"keep me"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8", "--force"]) == 0
    assert Image.open(out).mode == "P"


def test_output_that_is_a_directory_says_so(small_png, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    for command in ("compress", "animate"):
        for force in ([], ["--force"]):
            assert main([command, str(small_png), "-o", str(folder), *force]) == 4
            err = capsys.readouterr().err
            assert f"{folder}: is a directory" in err and err.count("\n") == 1
    assert list(folder.iterdir()) == []


def test_output_equal_to_input_refused(small_png, capsys):
    before = small_png.read_bytes()
    assert main(["compress", str(small_png), "-o", str(small_png), "-k", "8", "--force"]) == 4
    assert "overwrite the input" in capsys.readouterr().err
    assert small_png.read_bytes() == before


def _truncated(path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(buf, "PNG")
    path.write_bytes(buf.getvalue()[:5000])


def _corrupt(path):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[60:80] = b"\xff" * 20  # inside the IDAT stream
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make,cause", [
    (None, "no such file"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not an image\n"), "not an image"),
    (_truncated, "truncated"),
    (_corrupt, "corrupt"),
    (lambda p: p.mkdir(), "directory"),
])
def test_bad_input(tmp_path, capsys, make, cause):
    src = tmp_path / "bad.png"
    if make:
        make(src)
    before = sorted(tmp_path.iterdir())
    out = tmp_path / "out.png"
    assert main(["compress", str(src), "-o", str(out), "-k", "8"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("palettepress: error: ") and str(src) in err and cause in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    assert sorted(tmp_path.iterdir()) == before  # no partial or temporary file left


def test_too_many_pixels(small_png, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8", "--max-pixels", "1000"]) == 3
    err = capsys.readouterr().err
    assert "limit" in err and str(small_png) in err
    assert not out.exists()


@pytest.mark.parametrize("args", [["-k", "1"], ["-k", "300"], ["-k", "x"], ["--dither", "2"],
                                  ["--space", "hsv"]])
def test_bad_options_exit_2(small_png, tmp_path, capsys, args):
    out = tmp_path / "o.png"
    base = ["compress", str(small_png), "-o", str(out)]
    if "-k" not in args:
        base += ["-k", "8"]
    assert main(base + args) == 2
    assert not out.exists()


def test_unwritable_output(small_png, tmp_path, capsys):
    out = tmp_path / "missing-dir" / "out.png"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8"]) == 4
    assert "cannot write" in capsys.readouterr().err


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "compress" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_parser_of_one_command_is_the_whole_parser_for_it(capsys):
    """The command line declares only the chosen command's arguments: each command's help
    and parsed options are those of the parser with every command declared."""
    from palettepress.cli import _COMMANDS, build_parser

    assert list(_COMMANDS) == ["compress", "sweep", "batch", "pre-commit", "animate", "demo", "serve"]
    for name in _COMMANDS:
        texts = []
        for parser in (build_parser(), build_parser(name)):
            with pytest.raises(SystemExit):
                parser.parse_args([name, "--help"])
            texts.append(capsys.readouterr().out)
        assert texts[0] == texts[1]
        assert texts[0].startswith(f"usage: palettepress {name} ")
    line = ["compress", "a.png", "-o", "b.gif", "-k", "16", "--dither", "0.5", "--strip"]
    assert vars(build_parser("compress").parse_args(line)) == vars(build_parser().parse_args(line))


@pytest.mark.parametrize("columns", [None, "60", "123", "junk"])
def test_help_is_as_wide_as_argparse_makes_it(monkeypatch, columns):
    """The help formatter sizes itself as argparse's own does (shutil's terminal size:
    $COLUMNS, else the terminal, else 80) without importing shutil."""
    import argparse

    from palettepress import cli

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(cli, "_COLUMNS", [])
    assert cli._HelpFormatter("p")._width == argparse.HelpFormatter("p")._width


def test_compress_imports_only_what_it_uses(small_png, tmp_path):
    """Start-up is part of a command's time: compress loads neither shutil (argparse's
    formatters would), nor threading nor tempfile."""
    import subprocess
    import sys

    script = (
        "import sys; from palettepress.cli import main; "
        "rc = main(['compress', sys.argv[1], '-o', sys.argv[2], '-k', '16', '--force']); "
        "print(rc, *(m in sys.modules for m in ('shutil', 'threading', 'tempfile')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(small_png), str(tmp_path / "out.png")],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out[-4:] == ["0", "False", "False", "False"]


def test_demo(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "side by side" in text and "CIEDE2000" in text
    side = Image.open(out / "side-by-side.png")
    original = Image.open(out / "sample.png")
    assert side.width > 2 * original.width and side.height == original.height
    assert Image.open(out / "sample-k32.png").mode == "P"


def test_module_entry_point(small_png, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "m.png"
    proc = subprocess.run([sys.executable, "-m", "palettepress", "compress", str(small_png), "-o",
                           str(out), "-k", "8", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == str(out)


def test_real_photo_cli(tmp_path, capsys):
    src = shared_file("kodak", "kodim23.png")
    out = tmp_path / "k.png"
    assert main(["compress", str(src), "-o", str(out), "-k", "64", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["ratio"] > 3 and rec["delta_e"] < 4 and rec["ssimulacra2"] > 45
    assert rec["dither"] == "diffusion"


@pytest.mark.parametrize("name,fmt", [("out.webp", "WEBP"), ("out.gif", "GIF"), ("out.png", "PNG"),
                                      ("out", "PNG")])
def test_format_from_the_output_name(small_png, tmp_path, capsys, name, fmt):
    out = tmp_path / name
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    with Image.open(out) as im:
        assert im.format == fmt
    assert rec["format"] == fmt.lower() and rec["output_bytes"] == out.stat().st_size


def test_format_option_and_conflicts(small_png, tmp_path, capsys):
    out = tmp_path / "pic.bin"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8", "--format", "webp"]) == 0
    with Image.open(out) as im:
        assert im.format == "WEBP"
    for name, extra, cause in [("a.png", ["--format", "gif"], "the name is a PNG file's, but --format is gif"),
                               ("a.jpg", [], "unknown output format '.jpg'")]:
        assert main(["compress", str(small_png), "-o", str(tmp_path / name), "-k", "8", *extra]) == 2
        err = capsys.readouterr().err
        assert cause in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / name).exists()
    assert main(["compress", str(small_png), "-o", str(tmp_path / "b.png"), "-k", "8", "--format", "tiff"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["again.webp", "again.gif"])
def test_other_formats_are_not_overwritten_without_force(small_png, tmp_path, capsys, name):
    out = tmp_path / name
    out.write_bytes(b"precious")
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8"]) == 4
    assert out.read_bytes() == b"precious"
    assert main(["compress", str(small_png), "-o", str(out), "-k", "8", "--force"]) == 0
    assert out.read_bytes() != b"precious"
    capsys.readouterr()


def test_gif_warns_of_translucent_pixels_in_one_line(tmp_path, capsys):
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 32, dtype=np.uint8)[None, :]
    src = tmp_path / "soft.png"
    Image.fromarray(rgba).save(src)
    assert main(["compress", str(src), "-o", str(tmp_path / "soft.gif"), "-k", "8"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("palettepress: warning: ") and "alpha below 128" in err[0]
    with Image.open(tmp_path / "soft.gif") as im:
        alpha = np.asarray(im.convert("RGBA"))[..., 3]
    assert np.array_equal(alpha == 255, rgba[..., 3] >= 128)


def test_compress_sets_malloc_for_the_size_in_the_header(tmp_path, monkeypatch):
    # `compress` sets glibc's mmap threshold (cli.blocks_for) from the pixel count of the
    # file's header: mapped blocks of 1 MiB for large images (lower peaks), the heap for
    # the others (no pages faulted in afresh for each array).
    import ctypes

    from palettepress import cli, commands

    sizes = []
    monkeypatch.setattr(commands, "blocks_for", sizes.append)
    rng = np.random.default_rng(0)
    for side in (30, 32):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(
            tmp_path / f"{side}.png"
        )
        assert main(["compress", str(tmp_path / f"{side}.png"), "-k", "8", "-q"]) == 0
    assert sizes == [900, 1024]

    calls: list = []

    class Libc:  # records what blocks_for asks of glibc, without changing this process
        def __init__(self, name):
            pass

        def mallopt(self, option, value):
            calls.append((option, value))

    monkeypatch.setattr(ctypes, "CDLL", Libc)
    monkeypatch.setattr(cli.sys, "platform", "linux")
    monkeypatch.setattr(cli, "LARGE_IMAGE_PIXELS", 1000)
    for pixels in (1000, 999, None):
        calls.clear()
        cli.blocks_for(pixels)
        want = {
            1000: [(-1, 128 << 10), (-3, 1 << 20)],
            999: [(-1, 2 * cli.HEAP_BLOCKS), (-3, cli.HEAP_BLOCKS)],
            None: [],
        }[pixels]
        assert calls == want


def test_program_ends_quickly_with_its_output_whole_and_its_exit_code(small_png, tmp_path):
    # After compress the program leaves without Python's teardown (cli.run): what it
    # printed and wrote must be whole, through a pipe too, and the exit code kept.
    import os
    import subprocess
    import sys
    from functools import partial

    run = [sys.executable, "-m", "palettepress"]
    # Buffered streams, as a user's shell gives a pipe.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    call = partial(subprocess.run, env=env)
    piped = call(run + ["compress", str(small_png), "-o", "-", "-k", "8"], capture_output=True)
    assert piped.returncode == 0, piped.stderr
    decoded = Image.open(io.BytesIO(piped.stdout))
    decoded.load()  # the whole file arrived: Pillow reads every row and the end
    assert decoded.mode == "P" and decoded.size == Image.open(small_png).size
    assert b"colours" in piped.stderr and piped.stderr.endswith(b"\n")
    names = [tmp_path / f"{i}.png" for i in range(3)]
    for name in names:
        name.write_bytes(small_png.read_bytes())
    many = call(run + ["compress", *map(str, names), "--ext=_q.png", "-k", "8", "--json"],
                capture_output=True, text=True)
    assert many.returncode == 0, many.stderr
    assert [json.loads(line)["input"] for line in many.stdout.splitlines()] == list(map(str, names))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    bad = call(run + ["compress", str(tmp_path / "bad.png"), "-o", str(tmp_path / "o.png")],
               capture_output=True, text=True)
    assert bad.returncode == 3 and "bad.png" in bad.stderr and not (tmp_path / "o.png").exists()


def test_a_device_or_a_fifo_as_output_is_written_to_not_replaced(small_png, tmp_path):
    import os
    import stat
    import threading

    assert main(["compress", str(small_png), "-o", os.devnull, "-k", "8"]) == 0  # no --force
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert main(["compress", str(small_png), "-o", str(fifo), "-k", "8"]) == 0
    reader.join(30)
    assert got and got[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def _cli(args, stdin=None, stdout=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "palettepress", *args], stdin=stdin,
                          stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE)


def test_standard_output_carries_only_the_file(small_png, tmp_path):
    other = tmp_path / "other.png"
    other.write_bytes(small_png.read_bytes())
    with open(small_png, "rb") as fh:
        proc = _cli(["compress", "-", str(other), "-k", "8"], stdin=fh)
    assert proc.returncode == 0, proc.stderr
    png = Image.open(io.BytesIO(proc.stdout))
    png.load()
    assert proc.stdout.endswith(b"IEND\xaeB`\x82")  # nothing after the file
    assert b"other.png" in proc.stderr  # the other input's report went to stderr


def test_a_failed_write_to_standard_output_is_an_error(small_png):
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    with open("/dev/full", "wb") as full:
        proc = _cli(["compress", str(small_png), "-o", "-", "-k", "8"], stdout=full)
    assert proc.returncode == 4
    assert b"standard output: cannot write" in proc.stderr
