"""The compiled SSIMULACRA2 agrees with the ``ssimulacra2`` package.

The package (a port of libjxl's metric) computes in float64 over whole-image planes; the
kernel streams float32 rows. Opaque photos are compared with the package itself, as
files; synthetic and translucent images with the package's own steps run on arrays,
composited over the grey first (the package's alpha path drops the alpha before it
composites, so it cannot be the reference there).
"""

import numpy as np
import pytest

from palettepress import _kernels
from palettepress.encode import index_rows

from conftest import shared_file

ref = pytest.importorskip("ssimulacra2.ssimulacra2")
Image = pytest.importorskip("PIL.Image")

#: The largest difference allowed from the package on real photos (its score runs
#: from about -100 to 100).
TOL = 0.05


def ref_score(a, b, background=0.5):
    """The package's computation on arrays: 8-bit RGB(A), alpha composited in float."""

    def linear(img):
        v = img[..., :3].astype(np.float64)
        if img.shape[2] == 4:
            alpha = img[..., 3:4] / 255.0
            v = alpha * v + (1.0 - alpha) * background * 255.0
        return ref.srgb_to_linear(v)

    lin1, lin2 = linear(a), linear(b)
    msssim = ref.Msssim()
    for scale in range(ref.kNumScales):
        if lin1.shape[0] < 8 or lin1.shape[1] < 8:
            break
        if scale:
            lin1, lin2 = ref.downsample(lin1, 2, 2), ref.downsample(lin2, 2, 2)
            if lin1.shape[0] < 8 or lin1.shape[1] < 8:
                break
        x1 = ref.make_positive_xyb(ref.linear_rgb_to_xyb(lin1))
        x2 = ref.make_positive_xyb(ref.linear_rgb_to_xyb(lin2))
        mu1, mu2 = ref.blur_image(x1), ref.blur_image(x2)
        s = ref.MsssimScale()
        s.avg_ssim = ref.ssim_map(mu1, mu2, ref.blur_image(x1 * x1), ref.blur_image(x2 * x2),
                                  ref.blur_image(x1 * x2))
        s.avg_edgediff = ref.edge_diff_map(x1, mu1, x2, mu2)
        msssim.scales.append(s)
    return msssim.score()


def distorted(img, seed, levels=12):
    """A posterised, noisy copy: errors in flat areas, at edges and in texture."""
    rng = np.random.default_rng(seed)
    step = 256 // levels
    q = (img.astype(np.int16) // step) * step + step // 2
    return np.clip(q + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


def smooth_image(h, w, c=3, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                    ((x + y) * 127 // max(h + w - 2, 1))], axis=-1)
    img = np.clip(img + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    if c == 4:
        alpha = rng.choice([0, 255, 40, 128, 200], (h, w)).astype(np.uint8)
        img = np.concatenate([img, alpha[..., None]], axis=-1)
    return np.ascontiguousarray(img)


@pytest.mark.parametrize("shape", [(8, 8), (9, 13), (13, 9), (17, 40), (40, 17), (64, 64),
                                   (71, 33), (130, 260), (255, 9)])
def test_matches_the_package_steps_on_synthetic_images(shape):
    a = smooth_image(*shape)
    b = distorted(a, 1)
    assert _kernels.ssimulacra2(a, b) == pytest.approx(ref_score(a, b), abs=TOL)
    assert _kernels.ssimulacra2(a, a) == pytest.approx(100.0, abs=1e-3)


def test_blocks_and_scales_boundaries():
    # Heights around the row block and its halvings (block rows depend on the width).
    for h, w in [(63, 40), (64, 40), (65, 40), (129, 40), (8, 4000), (200, 2050)]:
        a = smooth_image(h, w, seed=h)
        b = distorted(a, h)
        assert _kernels.ssimulacra2(a, b) == pytest.approx(ref_score(a, b), abs=TOL), (h, w)


@pytest.mark.parametrize("background", [0.1, 0.9])
def test_alpha_is_composited_over_the_grey(background):
    a = smooth_image(40, 57, c=4)
    b = a.copy()
    b[..., :3] = distorted(a[..., :3], 2)
    b[..., 3] = np.where(a[..., 3] == 128, 150, a[..., 3])
    got = _kernels.ssimulacra2(a, b, background)
    assert got == pytest.approx(ref_score(a, b, background), abs=TOL)
    # Colour under fully transparent pixels is never seen.
    c = b.copy()
    c[b[..., 3] == 0, :3] = 255 - c[b[..., 3] == 0, :3]
    assert _kernels.ssimulacra2(a, c, background) == got


def test_indexed_is_the_score_of_the_gathered_image():
    rng = np.random.default_rng(3)
    for channels in (3, 4):
        a = smooth_image(90, 70, c=channels, seed=4)
        palette = rng.integers(0, 256, (50, channels), dtype=np.uint8)
        if channels == 4:
            palette[:, 3] = rng.choice([0, 255, 100], 50)
        rows = index_rows(90, 70)  # rows apart in memory, as the quantizer makes them
        rows[...] = rng.integers(0, 50, (90, 70))
        for bg in (0.1, 0.9):
            assert (_kernels.ssimulacra2_indexed(a, rows, palette, bg)
                    == _kernels.ssimulacra2(a, np.ascontiguousarray(palette[rows]), bg))


def test_small_and_mismatched_images():
    a = np.zeros((7, 30, 3), np.uint8)
    assert np.isnan(_kernels.ssimulacra2(a, a))
    assert np.isnan(_kernels.ssimulacra2_indexed(a, np.zeros((7, 30), np.uint8), np.zeros((1, 3), np.uint8)))
    with pytest.raises(ValueError):
        _kernels.ssimulacra2(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="past the palette"):
        _kernels.ssimulacra2_indexed(np.zeros((9, 9, 3), np.uint8), np.full((9, 9), 3, np.uint8),
                                     np.zeros((3, 3), np.uint8))


@pytest.mark.parametrize("name", ["kodak/kodim01.png", "kodak/kodim23.png", "sipi/4.2.05.png",
                                  "mcmaster/1.tif"])
def test_matches_the_package_on_photos(name, tmp_path):
    path = shared_file(*name.split("/"))
    img = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
    for i, levels in enumerate((6, 24)):
        dist = distorted(img, i, levels)
        out = tmp_path / f"d{i}.png"
        Image.fromarray(dist).save(out)
        expect = ref.compute_ssimulacra2(str(path), str(out))
        assert _kernels.ssimulacra2(img, dist) == pytest.approx(expect, abs=TOL)


def test_same_score_on_any_number_of_threads():
    a = smooth_image(300, 400, seed=9)
    b = distorted(a, 9)
    before = _kernels.num_threads()
    try:
        scores = set()
        for n in (1, 2, 3):
            _kernels.set_num_threads(n)
            scores.add(_kernels.ssimulacra2(a, b))
    finally:
        _kernels.set_num_threads(before)
    assert len(scores) == 1
