"""Hand-computed cases: four colours, two clusters."""

import numpy as np
import pytest
from PIL import Image
import io

import palettepress
from palettepress import Quantizer, compress


def four_colour_image():
    # 3 pixels each of two dark reds, 1 pixel each of two light blues.
    px = np.array([[10, 0, 0]] * 3 + [[20, 0, 0]] * 3 + [[0, 0, 200], [0, 0, 240]], dtype=np.uint8)
    return px.reshape(2, 4, 3)


def test_two_clusters_are_the_weighted_means_in_rgb():
    q = Quantizer(2, space="rgb").fit(four_colour_image())
    # Means: reds (10*3 + 20*3)/6 = 15; blues (200 + 240)/2 = 220.
    got = sorted(map(tuple, q.palette_.tolist()))
    assert got == [(0, 0, 220), (15, 0, 0)]
    assert q.n_colors_ == 2 and not q.lossless_


def test_toy_metrics_by_hand():
    r = compress(four_colour_image(), 2, space="rgb")
    # Squared errors: 6 reds off by 5 -> 6*25; blues off by 20 -> 2*400. Over 8 pixels.
    assert r.mse == pytest.approx((6 * 25 + 2 * 400) / 8)
    assert r.psnr == pytest.approx(10 * np.log10(255 ** 2 * 3 / r.mse))
    decoded = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGB"))
    np.testing.assert_array_equal(decoded, r.image)
    # Two colours: a 1-bit PNG.
    assert Image.open(io.BytesIO(r.data)).info.get("bits", None) in (None, 1)
    assert r.data[24] == 1  # IHDR bit depth


def test_few_colours_come_out_lossless():
    img = four_colour_image()
    r = compress(img, 4)
    assert r.lossless and r.colors == 4 and r.mse == 0
    np.testing.assert_array_equal(r.image, img)
    assert r.data[24] == 2  # 4 colours fit in 2 bits


def test_palette_ordered_by_use():
    r = compress(four_colour_image(), 4)
    counts = np.bincount(r.indices.ravel(), minlength=r.colors)
    assert list(counts) == sorted(counts, reverse=True)


def test_oklab_and_rgb_both_separate_the_groups():
    for space in ("oklab", "rgb"):
        r = compress(four_colour_image(), 2, space=space)
        idx = r.indices.ravel()
        assert len(set(idx[:6])) == 1 and len(set(idx[6:])) == 1 and idx[0] != idx[7]


def test_greys_are_fitted_in_srgb_values(monkeypatch):
    # Every grey level, as often each: sRGB values cut the ramp into even steps, where
    # Oklab's lightness, stretched near black, pulls every entry toward the shadows.
    ramp = np.repeat(np.arange(256), 4).reshape(16, 64, 1).astype(np.uint8)
    grey = np.repeat(ramp, 3, axis=2)
    q = Quantizer(4, dither=0).fit(grey)
    assert q.space == "oklab" and q.space_ == "rgb"
    assert sorted(q.palette_[:, 0].tolist()) == [32, 96, 160, 224]
    assert (q.palette_[:, 0] == q.palette_[:, 2]).all()  # greys stay grey
    tinted = grey.copy()
    tinted[0, 0] = (6, 7, 6)
    assert Quantizer(4).fit(tinted).space_ == "oklab"
    alpha = np.concatenate([grey, np.full(grey.shape[:2] + (1,), 255, np.uint8)], axis=2)
    alpha[0, :5] = (200, 0, 0, 0)  # transparent pixels' colour does not show
    assert Quantizer(4).fit(alpha).space_ == "rgb"
    assert Quantizer(4, space="rgb").fit(grey).space_ == "rgb"
    assert Quantizer.from_palette([[0, 0, 0], [9, 9, 9]]).space_ == "oklab"
    from palettepress import quantizer

    monkeypatch.setattr(quantizer, "_greys_only", lambda hist: False)
    in_oklab = sorted(Quantizer(4, dither=0).fit(grey).palette_[:, 0].tolist())
    assert all(a < b for a, b in zip(in_oklab, [32, 96, 160, 224]))  # measured 25, 86, 151, 220


@pytest.mark.parametrize("bad", [1, 257, 0, 2.5, "8", True])
def test_colors_out_of_range(bad):
    with pytest.raises(palettepress.ParameterError, match="colors"):
        compress(four_colour_image(), bad)


@pytest.mark.parametrize("kw,match", [({"space": "hsv"}, "space"), ({"dither": 1.5}, "dither"),
                                      ({"level": 13}, "level"), ({"init": "random"}, "init")])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        compress(four_colour_image(), 2, **kw)


def test_unfitted_remap_is_an_error():
    with pytest.raises(palettepress.ParameterError, match="not fitted"):
        Quantizer(4).remap(four_colour_image())


def test_kmeans_plus_plus_init_is_seeded():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    a = compress(img, 8, init="kmeans++", seed=5)
    b = compress(img, 8, init="kmeans++", seed=5)
    assert a.data == b.data and a.colors == 8


@pytest.mark.parametrize("effort", [1, 3, 5, 10])
def test_effort_levels_give_valid_deterministic_output(effort):
    img = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    a = compress(img, 12, effort=effort)
    assert a.colors <= 12 and a.data == compress(img, 12, effort=effort).data
    decoded = np.asarray(Image.open(io.BytesIO(a.data)).convert("RGB"))
    np.testing.assert_array_equal(decoded, a.image)


@pytest.mark.parametrize("bad", [0, 11, 2.5, "5", True])
def test_effort_out_of_range(bad):
    with pytest.raises(palettepress.ParameterError, match="effort"):
        compress(four_colour_image(), 2, effort=bad)


def test_more_effort_fits_better():
    rng = np.random.default_rng(2)
    y, x = np.mgrid[0:64, 0:64]
    img = np.clip(np.stack([x * 4, y * 4, (x * y) % 256], -1) + rng.normal(0, 8, (64, 64, 3)), 0, 255)
    img = img.astype(np.uint8)
    low, high = Quantizer(16, space="rgb", effort=1).fit(img), Quantizer(16, space="rgb", effort=10).fit(img)
    assert high.inertia_ < low.inertia_
