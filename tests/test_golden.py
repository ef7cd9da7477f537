"""Golden results on a real photo: any change to the engine's output shows up here.

A deliberate change to the engine (a better fit, another palette order) changes these
values; update them in the same commit and say why in its message.
"""

import hashlib
import os
import subprocess
import sys

import pytest

from palettepress import compress

from conftest import shared_file

GOLDEN = {
    # space: (sha256 of palette + indices, mse, psnr, ssim, delta_e)
    "oklab": ("d233ddb093abdd46aa7b23cbaf080b4a65ce1cb96b3acaf84fbdaa54301cb528",
              36.142504374186196, 37.32183373333696, 0.9751532713610408, 1.8854751971758528),
    "rgb": ("1132f06e74a69bfb8efe6bdb1c470a22b95f2b6967ab362c36ff823380c0ffec",
            28.95038350423177, 38.2854729440949, 0.9810857095063125, 2.065639144294545),
}


@pytest.mark.parametrize("space", ["oklab", "rgb"])
def test_kodim01_k64(space):
    r = compress(shared_file("kodak", "kodim01.png"), 64, space=space)
    digest, mse, psnr, ssim, delta_e = GOLDEN[space]
    assert r.colors == 64
    assert hashlib.sha256(r.palette.tobytes() + r.indices.tobytes()).hexdigest() == digest
    assert r.mse == pytest.approx(mse, rel=1e-9)
    assert r.psnr == pytest.approx(psnr, rel=1e-9)
    assert r.ssim == pytest.approx(ssim, rel=1e-9)
    assert r.delta_e == pytest.approx(delta_e, rel=1e-9)


@pytest.mark.parametrize("effort", [5, 10])
def test_same_bytes_on_one_thread_and_on_all(effort):
    path = shared_file("kodak", "kodim23.png")
    code = ("import hashlib, sys, palettepress; "
            f"print(hashlib.sha256(palettepress.compress(sys.argv[1], 256, dither=0.5, effort={effort}).data"
            f" + palettepress.compress(sys.argv[1], 64, effort={effort}).data).hexdigest())")
    digests = set()
    for threads in ("1", "2", "3"):
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
