"""Golden results on a real photo: any change to the engine's output shows up here.

A deliberate change to the engine (a better fit, other dithering) changes these values;
update them in the same commit and say why in its message. The digest is of the decoded
pixels, so the palette order the writer picks does not change it (it must not change them).
"""

import hashlib
import os
import subprocess
import sys

import pytest

from palettepress import compress

from conftest import shared_file

GOLDEN = {
    # space: (sha256 of the decoded pixels palette[indices], mse, psnr, ssim, delta_e, ssimulacra2), default
    # dithering (error diffusion)
    "oklab": ("1d61d8314c44ebe56ee7731b0bfb79e013937c3ce13ac31576aeec35a1009c99",
              35.285133361816406, 37.42609852377956, 0.9763788665458777, 2.06031906875709,
              77.30298190031041),
    "rgb": ("dc791a2dce6f29b3adc3d69127d473ace975b2b8fedac2550015b5362d15e566",
            30.90239715576172, 38.00209445834595, 0.9765331687924436, 2.0883690234594194,
            75.4002156067744),
}


@pytest.mark.parametrize("space", ["oklab", "rgb"])
def test_kodim01_k64(space):
    r = compress(shared_file("kodak", "kodim01.png"), 64, space=space)
    digest, mse, psnr, ssim, delta_e, ssimulacra2 = GOLDEN[space]
    assert r.colors == 64
    assert hashlib.sha256(r.palette[r.indices].tobytes()).hexdigest() == digest
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
