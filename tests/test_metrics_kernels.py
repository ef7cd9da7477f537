"""The compiled metrics agree with scikit-image and numpy.

``ssim_rgb``, ``ciede2000_mean``, ``ciede2000_mean_image`` and ``squared_error_sum`` are
re-implementations of reference computations; these tests hold them to the references on
seeded random images and on real photographs.
"""

from pathlib import Path

import numpy as np
import pytest

from palettepress import _kernels

skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_color = pytest.importorskip("skimage.color")
Image = pytest.importorskip("PIL.Image")

TOL = 1e-6
KODAK = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "kodak"
SHAPES = [(7, 7, 3), (7, 50, 3), (50, 7, 3), (13, 9, 3), (24, 31, 3), (13, 9, 1), (9, 13, 2),
          (16, 11, 4)]


def ref_ssim(a, b):
    return skimage_metrics.structural_similarity(a, b, channel_axis=-1, data_range=255)


def ref_delta_e(x1, x2):
    return skimage_color.deltaE_ciede2000(skimage_color.rgb2lab(x1), skimage_color.rgb2lab(x2))


def ref_sse(a, b):
    return int(((a.astype(np.int64) - b.astype(np.int64)) ** 2).sum())


def random_pair(shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    # A mildly perturbed copy gives SSIM values far from 0, where the formula is exercised
    # differently than on two unrelated noise images.
    b = np.clip(a.astype(np.int16) + rng.integers(-12, 13, shape), 0, 255).astype(np.uint8)
    return a, b


def distort(img, seed):
    rng = np.random.default_rng(seed)
    q = np.asarray(Image.fromarray(img).quantize(64).convert("RGB"))
    noise = rng.integers(-8, 9, img.shape)
    return np.clip(q.astype(np.int16) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def kodak_pairs():
    if not KODAK.is_dir():
        pytest.skip("../shared/testdata not found (fresh clone): real-photo tests need it")
    pairs = []
    for i, name in enumerate(["kodim01.png", "kodim05.png", "kodim23.png"]):
        img = np.ascontiguousarray(np.asarray(Image.open(KODAK / name).convert("RGB")))
        pairs.append((img, distort(img, i)))
    return pairs


# --- synthetic images -------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_ssim_matches_skimage_on_random_images(shape):
    a, b = random_pair(shape, 1)
    noise = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    assert _kernels.ssim_rgb(a, b) == pytest.approx(ref_ssim(a, b), abs=TOL)
    assert _kernels.ssim_rgb(a, noise) == pytest.approx(ref_ssim(a, noise), abs=TOL)
    assert _kernels.ssim_rgb(a, a) == pytest.approx(1.0, abs=TOL)


def test_ssim_of_flat_images():
    a = np.full((10, 12, 3), 128, np.uint8)
    b = np.full((10, 12, 3), 131, np.uint8)
    assert _kernels.ssim_rgb(a, b) == pytest.approx(ref_ssim(a, b), abs=TOL)


@pytest.mark.parametrize("shape", [(6, 10, 3), (10, 6, 3), (6, 6, 1), (3, 100, 3)])
def test_ssim_rejects_images_smaller_than_the_window(shape):
    a = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError):
        _kernels.ssim_rgb(a, a)


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        _kernels.ssim_rgb(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))


@pytest.mark.parametrize("shape", SHAPES)
def test_ssim_indexed_is_ssim_of_the_gathered_image(shape):
    from palettepress.encode import index_rows

    rng = np.random.default_rng(8)
    h, w, c = shape
    palette = rng.integers(0, 256, (40, c), dtype=np.uint8)
    rows = index_rows(h, w)  # rows apart in memory, as the quantizer makes them
    rows[...] = rng.integers(0, 40, (h, w))
    a = np.clip(palette[rows].astype(int) + rng.integers(-20, 21, (h, w, c)), 0, 255).astype(np.uint8)
    expect = _kernels.ssim_rgb(a, np.ascontiguousarray(palette[rows]))
    assert _kernels.ssim_indexed(a, rows, palette) == expect  # bit for bit
    assert expect == pytest.approx(ref_ssim(a, palette[rows]), abs=TOL)
    # Beside a call on this thread (the second core starts on the bands): the same value.
    calls = []
    value, returned = _kernels.ssim_indexed(a, rows, palette, lambda: calls.append(1) or "encoded")
    assert value == expect and returned == "encoded" and calls == [1]


def test_ssim_indexed_raises_what_the_call_beside_it_raises():
    a = np.zeros((16, 16, 3), np.uint8)
    idx = np.zeros((16, 16), np.uint8)

    def fails():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _kernels.ssim_indexed(a, idx, np.zeros((1, 3), np.uint8), fails)


def test_ssim_indexed_rejects_indices_past_the_palette():
    a = np.zeros((9, 9, 3), np.uint8)
    idx = np.zeros((9, 9), np.uint8)
    idx[4, 4] = 5
    with pytest.raises(ValueError, match="past the palette"):
        _kernels.ssim_indexed(a, idx, np.zeros((5, 3), np.uint8))
    with pytest.raises(ValueError, match="channels"):
        _kernels.ssim_indexed(a, idx, np.zeros((6, 4), np.uint8))
    with pytest.raises(ValueError):
        _kernels.ssim_indexed(a[:6], idx[:6], np.zeros((6, 3), np.uint8))


@pytest.mark.parametrize("shape", [s for s in SHAPES if s[2] == 3])
def test_ciede2000_image_matches_skimage_on_random_images(shape):
    a, b = random_pair(shape, 3)
    assert _kernels.ciede2000_mean_image(a, b) == pytest.approx(ref_delta_e(a, b).mean(), abs=TOL)


def test_ciede2000_rows_match_skimage():
    rng = np.random.default_rng(4)
    x1 = rng.integers(0, 256, (10000, 3), dtype=np.uint8)
    x2 = rng.integers(0, 256, (10000, 3), dtype=np.uint8)
    assert _kernels.ciede2000_mean(x1, x2) == pytest.approx(ref_delta_e(x1, x2).mean(), abs=TOL)


def test_ciede2000_zero_chroma_and_single_rows():
    # Greys and black have (near) zero chroma, where the hue terms take special branches.
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    other = np.random.default_rng(5).integers(0, 256, (256, 3), dtype=np.uint8)
    black = np.zeros((256, 3), np.uint8)
    for x1, x2 in [(grey, np.ascontiguousarray(grey[::-1])), (grey, other), (black, other),
                   (black, black)]:
        ref = ref_delta_e(x1, x2)
        assert _kernels.ciede2000_mean(x1, x2) == pytest.approx(ref.mean(), abs=TOL)
        for i in (0, 1, 17, 128, 255):
            assert _kernels.ciede2000_mean(x1[i:i + 1], x2[i:i + 1]) == pytest.approx(ref[i], abs=TOL)


def test_ciede2000_weighted_mean():
    rng = np.random.default_rng(6)
    x1 = rng.integers(0, 256, (9000, 3), dtype=np.uint8)
    x2 = np.clip(x1.astype(np.int16) + rng.integers(-20, 21, x1.shape), 0, 255).astype(np.uint8)
    w = rng.random(9000) * 10.0
    expected = np.average(ref_delta_e(x1, x2), weights=w)
    assert _kernels.ciede2000_mean(x1, x2, weights=w) == pytest.approx(expected, abs=TOL)
    # Integer counts, the histogram use case, are accepted and converted.
    counts = rng.integers(1, 50, 9000)
    expected = np.average(ref_delta_e(x1, x2), weights=counts)
    assert _kernels.ciede2000_mean(x1, x2, weights=counts) == pytest.approx(expected, abs=TOL)


def test_ciede2000_rejects_bad_input():
    x = np.zeros((3, 3), np.uint8)
    with pytest.raises(ValueError):
        _kernels.ciede2000_mean(x, np.zeros((4, 3), np.uint8))
    with pytest.raises(ValueError):
        _kernels.ciede2000_mean(x, x, weights=np.ones(4))
    with pytest.raises(ValueError):
        _kernels.ciede2000_mean(np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.uint8))
    with pytest.raises(ZeroDivisionError):
        _kernels.ciede2000_mean(x, x, weights=np.zeros(3))


@pytest.mark.parametrize("shape", SHAPES + [(1, 1, 1), (0, 4, 3)])
def test_squared_error_sum_matches_numpy(shape):
    a, b = random_pair(shape, 7)
    got = _kernels.squared_error_sum(a, b)
    assert isinstance(got, int)
    assert got == ref_sse(a, b)


def test_squared_error_sum_does_not_overflow():
    a = np.full((1200, 1000, 3), 255, np.uint8)
    b = np.zeros_like(a)
    assert _kernels.squared_error_sum(a, b) == 1200 * 1000 * 3 * 255 * 255


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("n", [0, 1, 7, 50_000])
def test_squared_error_pairs_matches_numpy(channels, n):
    rng = np.random.default_rng(n + channels)
    colors = rng.integers(0, 256, (n, channels), dtype=np.uint8)
    palette = rng.integers(0, 256, (40, channels), dtype=np.uint8)
    index = rng.integers(0, 40, n).astype(np.uint8)
    counts = rng.integers(1, 10**6, n).astype(np.uint64)
    diff = colors.astype(np.int64) - palette[index].astype(np.int64)
    want = int((counts.astype(np.int64) * (diff * diff).sum(axis=1)).sum())
    got = _kernels.squared_error_pairs(colors, index, palette, counts)
    assert isinstance(got, int)
    assert got == want


def test_squared_error_pairs_without_counts_counts_each_pair_once():
    rng = np.random.default_rng(5)
    colors = rng.integers(0, 256, (999, 3), dtype=np.uint8)
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    index = rng.integers(0, 16, 999).astype(np.uint8)
    assert _kernels.squared_error_pairs(colors, index, palette, None) == (
        _kernels.squared_error_pairs(colors, index, palette, np.ones(999, np.uint64)))


@pytest.mark.parametrize("n", [1, 127, 128, 129, 5000])
def test_ciede2000_indexed_matches_skimage(n):
    # Blocks of pairs (see pp_ciede2000) of every length, with greys (zero chroma) and
    # opposite hues (the angles' way) among the rest.
    rng = np.random.default_rng(n)
    palette = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    palette[:3] = [[0, 0, 0], [128, 128, 128], [0, 255, 255]]
    colors = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    colors[::5] = [200, 40, 40]
    colors[::7] = [90, 90, 90]
    index = rng.integers(0, 40, n).astype(np.uint8)
    index[::3] = rng.integers(0, 3, len(index[::3]))
    ref = ref_delta_e(colors, palette[index])
    w = rng.random(n)
    assert _kernels.ciede2000_mean_indexed(colors, index, palette, None) == pytest.approx(
        ref.mean(), abs=TOL)
    assert _kernels.ciede2000_mean_indexed(colors, index, palette, w) == pytest.approx(
        np.average(ref, weights=w), abs=TOL)


def test_squared_error_pairs_rejects_bad_input():
    colors, palette = np.zeros((3, 3), np.uint8), np.zeros((2, 3), np.uint8)
    with pytest.raises(ValueError, match="past the palette"):
        _kernels.squared_error_pairs(colors, np.array([0, 1, 2], np.uint8), palette, [1, 1, 1])
    with pytest.raises(ValueError, match="expected"):
        _kernels.squared_error_pairs(colors, np.zeros(3, np.uint8), palette, [1, 1])
    with pytest.raises(ValueError, match="expected"):
        _kernels.squared_error_pairs(colors, np.zeros(3, np.uint8), np.zeros((2, 4), np.uint8),
                                     [1, 1, 1])


# --- real photographs -------------------------------------------------------------------

def test_ssim_matches_skimage_on_photos(kodak_pairs):
    for img, dist in kodak_pairs:
        assert _kernels.ssim_rgb(img, dist) == pytest.approx(ref_ssim(img, dist), abs=TOL)
        # One channel on its own, and an odd-sized crop.
        g1, g2 = np.ascontiguousarray(img[..., 1:2]), np.ascontiguousarray(dist[..., 1:2])
        assert _kernels.ssim_rgb(g1, g2) == pytest.approx(ref_ssim(g1, g2), abs=TOL)
        c1, c2 = np.ascontiguousarray(img[5:18, 100:109]), np.ascontiguousarray(dist[5:18, 100:109])
        assert _kernels.ssim_rgb(c1, c2) == pytest.approx(ref_ssim(c1, c2), abs=TOL)


def test_ciede2000_matches_skimage_on_photos(kodak_pairs):
    rng = np.random.default_rng(8)
    for img, dist in kodak_pairs:
        ref = ref_delta_e(img, dist)
        assert _kernels.ciede2000_mean_image(img, dist) == pytest.approx(ref.mean(), abs=TOL)
        x1, x2 = img.reshape(-1, 3), dist.reshape(-1, 3)
        assert _kernels.ciede2000_mean(x1, x2) == pytest.approx(ref.mean(), abs=TOL)
        w = rng.random(x1.shape[0])
        assert _kernels.ciede2000_mean(x1, x2, weights=w) == pytest.approx(
            np.average(ref.ravel(), weights=w), abs=TOL)


def test_squared_error_sum_on_photos(kodak_pairs):
    for img, dist in kodak_pairs:
        assert _kernels.squared_error_sum(img, dist) == ref_sse(img, dist)
