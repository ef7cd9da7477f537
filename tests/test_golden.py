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
    # space: (sha256 of palette + indices, mse, psnr, ssim, delta_e, ssimulacra2), default
    # dithering (error diffusion)
    "oklab": ("fa31f20acd708185c4745a130200b82369bb6f8aec34929b365e94b3a5052210",
              35.98287455240885, 37.34105760847567, 0.979287878096521, 2.144918650506427,
              75.90238376596244),
    "rgb": ("46a3f194e5eef74209e0d78e382535e2b8c094a98b585b70e80b0a920875811c",
            30.533218383789062, 38.05429031640916, 0.9771419289451896, 2.084290927563304,
            75.36055987730026),
}


@pytest.mark.parametrize("space", ["oklab", "rgb"])
def test_kodim01_k64(space):
    r = compress(shared_file("kodak", "kodim01.png"), 64, space=space)
    digest, mse, psnr, ssim, delta_e, ssimulacra2 = GOLDEN[space]
    assert r.colors == 64
    assert hashlib.sha256(r.palette.tobytes() + r.indices.tobytes()).hexdigest() == digest
    assert r.mse == pytest.approx(mse, rel=1e-9)
    assert r.psnr == pytest.approx(psnr, rel=1e-9)
    assert r.ssim == pytest.approx(ssim, rel=1e-9)
    assert r.delta_e == pytest.approx(delta_e, rel=1e-9)
    assert r.ssimulacra2 == pytest.approx(ssimulacra2, rel=1e-9)


@pytest.mark.parametrize("effort", [5, 10])
def test_same_bytes_on_one_thread_and_on_all(effort):
    path = shared_file("kodak", "kodim23.png")
    code = ("import hashlib, sys, palettepress; "
            f"print(hashlib.sha256(palettepress.compress(sys.argv[1], 256, dither=0.5, effort={effort}).data"
            f" + palettepress.compress(sys.argv[1], 64, effort={effort}).data"
            f" + palettepress.compress(sys.argv[1], 32, dither_method='auto', effort={effort}).data)"
            f".hexdigest())")
    digests = set()
    for threads in ("1", "2", "3"):
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
