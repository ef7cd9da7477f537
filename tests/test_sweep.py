"""The sweep: one histogram, many palette sizes, a report folder."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from palettepress import ParameterError, compress, sweep
from palettepress.cli import main
from palettepress.report import DEFAULT_COLORS, RECORD_KEYS

from conftest import shared_file


def test_sweep_equals_compress_for_each_k():
    path = shared_file("kodak", "kodim23.png")
    results = sweep(path, (4, 16, 64))
    for r in results:
        single = compress(path, r.requested_colors)
        assert r.data == single.data
        for key in ("output_bytes", "ratio", "bpp", "ssimulacra2", "psnr", "ssim", "delta_e", "mse"):
            assert getattr(r, key) == getattr(single, key), key


def test_cli_sweep_writes_a_self_contained_report(tmp_path, capsys):
    src = tmp_path / "in.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(src)
    out = tmp_path / "report"
    assert main(["sweep", str(src), "--colors", "2,8,32", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "report.html" in text and len(text.strip().splitlines()) == 5  # header, 3 rows, path
    records = json.loads((out / "sweep.json").read_text())
    assert [r["colors"] for r in records] == [2, 8, 32]
    assert all(set(RECORD_KEYS) == set(r) for r in records)
    page = (out / "report.html").read_text()
    links = set(re.findall(r'(?:src|href)="([^"]+)"', page))
    assert links == {"original.png", "rd.png", "k002.png", "k008.png", "k032.png"}
    for link in links:
        assert (out / link).exists()
        Image.open(out / link).verify()
    assert page.count('class="sw"') == 2 + 8 + 32  # every palette entry as a swatch
    # The numbers are those compress --json gives.
    for rec in records:
        assert main(["compress", str(src), "-o", str(tmp_path / f"c{rec['colors']}.png"), "-k",
                     str(rec["colors"]), "--json"]) == 0
        single = json.loads(capsys.readouterr().out)
        for key in ("output_bytes", "ratio", "bpp", "ssimulacra2", "psnr", "ssim", "delta_e", "mse"):
            assert rec[key] == single[key], key


def test_default_sizes():
    assert DEFAULT_COLORS == (2, 4, 8, 16, 32, 64, 128, 256)


@pytest.mark.parametrize("arg", ["1,4", "4,300", "a,b", ","])
def test_sweep_bad_sizes(tmp_path, arg):
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src)
    assert main(["sweep", str(src), "--colors", arg, "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


def test_sweep_bad_input(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "missing.png"), "--out", str(tmp_path / "r")]) == 3
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_sweep_marks_the_palette_a_ssimulacra2_target_picks(tmp_path, capsys):
    path = shared_file("kodak", "kodim23.png")
    results = sweep(path, (16, 64, 256), min_ssimulacra2=70)
    chosen = [r for r in results if r.target]
    assert len(chosen) == 1 and chosen[0].target == {"min_ssimulacra2": 70}
    assert chosen[0].data == compress(path, min_ssimulacra2=70).data
    assert [r.requested_colors for r in results] == sorted(r.requested_colors for r in results)
    out = tmp_path / "r"
    assert main(["sweep", str(path), "--colors", "16,256", "--out", str(out), "--min-ssimulacra2", "70"]) == 0
    text = capsys.readouterr().out
    assert f"<- SSIMULACRA2 >= 70" in text
    records = json.loads((out / "sweep.json").read_text())
    assert [r["target"] for r in records if r["target"]] == [{"min_ssimulacra2": 70.0}]
    assert "chosen for SSIMULACRA2 &gt;= 70" in (out / "report.html").read_text()


def test_cli_sweep_in_webp(tmp_path, capsys):
    src = tmp_path / "in.png"
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(src)
    out = tmp_path / "report"
    assert main(["sweep", str(src), "--colors", "4,16", "--out", str(out), "--format", "webp"]) == 0
    capsys.readouterr()
    records = json.loads((out / "sweep.json").read_text())
    assert [r["format"] for r in records] == ["webp", "webp"]
    for r in records:
        path = out / f"k{r['colors']:03d}.webp"
        assert path.stat().st_size == r["output_bytes"]
        assert f'k{r["colors"]:03d}.webp' in (out / "report.html").read_text()


def test_sweep_out_that_is_a_file_is_an_output_error(tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src)
    taken = tmp_path / "taken"
    taken.write_bytes(b"keep")
    assert main(["sweep", str(src), "--colors", "4", "--out", str(taken)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not a folder" in err
    assert taken.read_bytes() == b"keep"


def test_sweep_takes_one_palette_size_and_refuses_what_is_none():
    img = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    (one,) = sweep(img, 8)
    assert one.requested_colors == 8 and one.data == compress(img, 8).data
    with pytest.raises(ParameterError, match="colors must be palette sizes"):
        sweep(img, None)
