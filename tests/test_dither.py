"""Dithering: error diffusion with a limited error, ordered mixes, and ``auto``."""

import numpy as np
import pytest
from PIL import Image

from palettepress import Quantizer, _kernels, colorspace, compress, dither
from palettepress.histogram import histogram, pixels2d

from conftest import shared_file


def gradient(h=64, w=256):
    """A smooth horizontal ramp with a little vertical variation: banding bait."""
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    img = 40 + 160 * x * np.array([1.0, 0.8, 0.5]) + 20 * y
    return np.ascontiguousarray(np.rint(np.broadcast_to(img, (h, w, 3))).astype(np.uint8))


def nearest_indices(img, palette_w, space="oklab"):
    x = colorspace.to_working(img.reshape(-1, img.shape[2]), space)
    d = ((x[:, None, :] - palette_w[None]) ** 2).sum(axis=2)
    return d.argmin(axis=1).reshape(img.shape[:2]), d


def test_strength_zero_is_nearest():
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    pal = colorspace.to_working(rng.integers(0, 256, (16, 3)).astype(np.uint8), "oklab")
    out = dither.diffuse(img, pal, "oklab", 0.0)
    _, d = nearest_indices(img, pal)
    chosen = d[np.arange(d.shape[0]), out.ravel()]
    np.testing.assert_allclose(chosen, d.min(axis=1), atol=1e-6)


def test_diffusion_keeps_the_local_mean_of_a_gradient():
    img = gradient()
    q = Quantizer(4, dither=0).fit(img)
    plain = q.palette_[q.remap(img)].astype(float)
    q.dither = 1.0
    dithered = q.palette_[q.remap(img)].astype(float)

    def local_error(out):  # error of 8x8 block means: what the eye sees from afar
        h, w = img.shape[:2]
        blocks = lambda a: a.reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))
        return np.abs(blocks(out) - blocks(img.astype(float))).mean()

    assert local_error(dithered) < 0.5 * local_error(plain)


def test_no_entry_farther_than_the_cap_allows():
    # The carried error is capped at the gap between a pixel's nearest entry and the next:
    # no pixel goes to an entry more than twice that gap beyond its nearest.
    rng = np.random.default_rng(3)
    img = np.clip(gradient(96, 96).astype(int) + rng.integers(-30, 31, (96, 96, 3)), 0, 255).astype(np.uint8)
    pal8 = rng.integers(0, 256, (24, 3)).astype(np.uint8)
    pal = colorspace.to_working(pal8, "oklab")
    out = dither.diffuse(img, pal, "oklab", 1.0)
    own, d = nearest_indices(img, pal)
    gaps = np.sqrt(((pal[:, None] - pal[None]) ** 2).sum(-1))
    np.fill_diagonal(gaps, np.inf)
    gap = gaps.min(axis=1)[own.ravel()]
    dist = np.sqrt(d)
    chosen = dist[np.arange(dist.shape[0]), out.ravel()]
    nearest = dist.min(axis=1)
    cap = dither.DIFFUSION_LIMIT * gap  # |carried error| <= cap, so chosen <= nearest + 2 cap
    assert (chosen <= nearest + 2 * cap + 1e-5).all()
    assert (out.ravel() != own.ravel()).mean() > 0.1  # and it does dither


def test_colours_the_palette_holds_stay_exact():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    img[10:30, 10:30] = [200, 40, 40]
    pal8 = np.vstack([[[200, 40, 40]], rng.integers(0, 256, (7, 3))]).astype(np.uint8)
    out = dither.diffuse(img, colorspace.to_working(pal8, "oklab"), "oklab", 1.0)
    assert (out[10:30, 10:30] == 0).all()


def test_same_indices_on_any_number_of_threads():
    # Taller than two strips of rows, so strips run in parallel and start with warm-up rows.
    rng = np.random.default_rng(6)
    img = np.clip(np.repeat(gradient(20, 300), 30, axis=0).astype(int)
                  + rng.integers(-4, 5, (600, 300, 3)), 0, 255).astype(np.uint8)
    pal = colorspace.to_working(Quantizer(12, dither=0).fit(img).palette_, "oklab")
    before = _kernels.num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            _kernels.set_num_threads(n)
            results.append(dither.diffuse(img, pal, "oklab", 1.0).copy())
    finally:
        _kernels.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_dithering_for_gif_lzw_shortens_the_codes_and_keeps_the_local_mean():
    # A photo's pixels may take an entry that continues the LZW string when it lies within
    # the slack of the nearest: fewer codes, and the error it leaves is diffused. Two
    # strips of rows, each followed with a dictionary of its own (restarted).
    img = np.asarray(Image.open(shared_file("kodak", "kodim23.png")).convert("RGB"))[:256, :384]
    img = np.ascontiguousarray(img)
    q = Quantizer(256, dither=0).fit(img)
    pal = colorspace.to_working(q.palette_, "oklab")
    restart = _kernels.DITHER_STRIP * img.shape[1]
    gif_bytes = lambda ind: len(_kernels.gif_lzw(ind, None, 0, 8, 0, 0, restart))
    plain = dither.diffuse(img, pal, "oklab", 1.0)
    raster = dither.diffuse(img, pal, "oklab", 1.0, lzw_slack=0.0)
    lzw = dither.diffuse(img, pal, "oklab", 1.0, lzw_slack=0.01)
    assert gif_bytes(lzw) < 0.97 * min(gif_bytes(plain), gif_bytes(raster))
    assert len(_kernels.gif_lzw(lzw, None, 0, 8, 0)) < 0.98 * len(_kernels.gif_lzw(plain, None, 0, 8, 0))
    assert (lzw != raster).mean() > 0.02

    def block_error(ind):  # mean colour error of 8x8 blocks: what the eye sees from afar
        out = q.palette_[ind].astype(float) - img
        return np.abs(out.reshape(32, 8, 48, 8, 3).mean(axis=(1, 3))).mean()

    assert block_error(lzw) < 1.1 * block_error(raster) + 0.05
    # Each strip follows a dictionary of its own: the same on any number of threads.
    before = _kernels.num_threads()
    try:
        _kernels.set_num_threads(1)
        np.testing.assert_array_equal(dither.diffuse(img, pal, "oklab", 1.0, lzw_slack=0.01), lzw)
    finally:
        _kernels.set_num_threads(before)


def test_dithering_for_gif_lzw_refuses_more_entries_than_a_gif_table_holds():
    img = gradient(8, 8)
    pal = colorspace.to_working(np.zeros((257, 3), np.uint8), "oklab")
    with pytest.raises(ValueError, match="at most 256 entries"):
        dither.diffuse(img, pal, "oklab", 1.0, lzw_slack=0.01)


def test_prefilled_nearest_gives_the_same_dither():
    img = gradient(70, 90)
    q = Quantizer(6, dither=0).fit(img)
    pal = colorspace.to_working(q.palette_, "oklab")
    plain = dither.diffuse(img, pal, "oklab", 1.0)
    out = q.remap(img).copy()  # every pixel's nearest entry
    dither.diffuse(img, pal, "oklab", 1.0, out=out, prefilled=True)
    np.testing.assert_array_equal(out, plain)


@pytest.mark.parametrize("lzw_slack", [None, 0.01])
def test_kept_pixels_keep_their_own_entries_and_pass_no_error(lzw_slack):
    """``keep_index`` -1: each kept pixel keeps the entry ``out`` holds (an animation's
    pixels drawn again in the colour they showed); the rest dither as they do beside any
    kept pixels, on 200 rows (two strips of the kernel)."""
    img = gradient(200, 90)
    q = Quantizer(6, dither=0).fit(img)
    pal = colorspace.to_working(q.palette_, "oklab")
    keep = np.zeros(img.shape[:2], dtype=bool)
    keep[20:150, 10:40] = True
    held = np.random.default_rng(3).integers(0, 6, img.shape[:2]).astype(np.uint8)
    as_one = dither.diffuse(img, pal, "oklab", 1.0, out=q.remap(img).copy(), prefilled=True,
                            keep=keep, keep_index=5, lzw_slack=lzw_slack)
    out = q.remap(img).copy()
    out[keep] = held[keep]
    dither.diffuse(img, pal, "oklab", 1.0, out=out, prefilled=True, keep=keep, keep_index=-1,
                   lzw_slack=lzw_slack)
    np.testing.assert_array_equal(out[keep], held[keep])
    if lzw_slack is None:  # no error crosses kept pixels: the rest as with a single entry
        np.testing.assert_array_equal(out[~keep], as_one[~keep])


def test_ordered_depends_only_on_colour_and_position():
    img = gradient(48, 96)
    r = compress(img, 6, dither_method="ordered")
    assert r.dither == "ordered"
    flat = pixels2d(img)
    h = histogram(flat)
    pos = _kernels.positions(flat, h.keys, h.mask).reshape(img.shape[:2])
    yy, xx = np.mgrid[0:48, 0:96]
    cell = pos * 64 + (yy % 8) * 8 + (xx % 8)
    # Equal colour and equal place in the 8x8 matrix: equal index.
    for c in np.unique(cell):
        assert len(np.unique(r.indices[cell == c])) == 1


def test_ordered_mix_means_the_colour():
    # A flat colour halfway between two entries becomes a half-and-half pattern.
    pal8 = np.array([[60, 60, 60], [200, 200, 200], [255, 0, 0]], np.uint8)
    q = Quantizer.from_palette(pal8, dither_method="ordered")
    img = np.full((16, 16, 3), 0, np.uint8)
    mid = colorspace.from_working(colorspace.to_working(pal8[:2], "oklab").mean(axis=0, keepdims=True),
                                  "oklab")
    img[:] = mid[0]
    idx = q.remap(img)
    assert set(np.unique(idx)) == {0, 1}
    assert 0.35 < (idx == 1).mean() < 0.65
    np.testing.assert_array_equal(idx[:8, :8], idx[8:, 8:])  # the 8x8 pattern repeats


def test_ordered_keeps_flat_palette_colours_flat():
    pal8 = np.array([[10, 20, 30], [240, 240, 240], [0, 128, 0]], np.uint8)
    img = np.zeros((24, 24, 3), np.uint8)
    img[:, :12] = pal8[0]
    img[:, 12:] = pal8[2]
    idx = Quantizer.from_palette(pal8, dither_method="ordered").remap(img)
    assert (idx[:, :12] == 0).all() and (idx[:, 12:] == 2).all()


def test_auto_is_one_of_the_methods_exactly():
    img = gradient(64, 128)
    r = compress(img, 8, dither_method="auto")
    assert r.dither in ("none", "diffusion", "ordered")
    same = compress(img, 8, dither=0 if r.dither == "none" else 1.0,
                    dither_method="diffusion" if r.dither == "none" else r.dither)
    assert same.data == r.data and same.ssimulacra2 == r.ssimulacra2


def test_quantizer_remap_with_auto_gives_one_of_the_methods():
    img = gradient(64, 128)
    q = Quantizer(8, dither_method="auto").fit(img)
    got = q.remap(img)
    candidates = []
    for method in ("diffusion", "ordered"):
        q.dither_method = method
        candidates.append(q.remap(img))
    q.dither = 0
    candidates.append(q.remap(img))
    assert any(np.array_equal(got, c) for c in candidates)


def test_auto_dithers_a_gradient_and_keeps_flat_colours_flat():
    ramp = gradient(128, 256)
    auto = compress(ramp, 8, dither_method="auto")
    assert auto.dither != "none" and auto.ssimulacra2 > compress(ramp, 8, dither=0).ssimulacra2
    flat = np.zeros((64, 64, 3), np.uint8)
    flat[:, 32:] = [250, 200, 10]
    flat[20:40, 10:50] = [20, 40, 160]
    noise = np.random.default_rng(2).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    flat[:4, :4] = noise[:4, :4]  # more colours than the palette
    r = compress(flat, 4, dither_method="auto")
    assert (r.image[8:] == flat[8:]).all()
    assert r.output_bytes <= 1.1 * compress(flat, 4, dither=0).output_bytes


def test_dither_zero_means_no_dithering_whatever_the_method():
    img = gradient()
    for method in ("diffusion", "ordered", "auto"):
        r = compress(img, 8, dither=0, dither_method=method)
        assert r.dither == "none"
    assert compress(img, 8, dither=0).data == compress(img, 8, dither=0, dither_method="auto").data


def test_unknown_method():
    from palettepress import ParameterError

    with pytest.raises(ParameterError, match="dither_method"):
        compress(gradient(), 8, dither_method="floyd")


def test_default_dithering_beats_none_on_a_real_photo():
    path = shared_file("kodak", "kodim23.png")
    dithered = compress(path, 32)
    plain = compress(path, 32, dither=0)
    assert dithered.dither == "diffusion"
    assert dithered.ssimulacra2 > plain.ssimulacra2 + 5


def test_fit_weighs_lightness_down_only_for_diffusion(monkeypatch):
    from palettepress import quantizer

    img = np.asarray(Image.open(shared_file("kodak", "kodim23.png")).convert("RGB"))
    before = {d: Quantizer(16, dither=d).fit(img).palette_ for d in (0, 0.5, 1)}
    before_ordered = Quantizer(16, dither_method="ordered").fit(img).palette_
    monkeypatch.setattr(quantizer, "DIFFUSION_FIT_LIGHTNESS", 0.4)
    # Without dithering, and for ordered dithering, the fit keeps the mapping's weight.
    np.testing.assert_array_equal(Quantizer(16, dither=0).fit(img).palette_, before[0])
    np.testing.assert_array_equal(
        Quantizer(16, dither_method="ordered").fit(img).palette_, before_ordered
    )
    for d in (0.5, 1):
        assert not np.array_equal(Quantizer(16, dither=d).fit(img).palette_, before[d])
    assert Quantizer(16, dither=0.5)._fit_lightness() == pytest.approx(0.7)
    assert Quantizer(128)._fit_lightness() == pytest.approx(0.7)  # halfway from 64 to 256
    assert Quantizer(256)._fit_lightness() == colorspace.OKLAB_LIGHTNESS_WEIGHT
    assert Quantizer(16, space="rgb")._fit_lightness() == colorspace.OKLAB_LIGHTNESS_WEIGHT


def test_a_large_area_keeps_its_hue_at_16_colours():
    # CBSD68 167083: a lake of pale blue ice below grey rock. A fit that spends its 16
    # entries on lightness steps gives the lake grey entries only, and diffusion (whose
    # error is capped at the spacing around each colour) cannot mix the sky's blue in:
    # the lake turned grey (SSIMULACRA2 26 against pngquant's 41).
    path = shared_file("cbsd68", "167083.png")
    original = np.asarray(Image.open(path).convert("RGB"))
    r = compress(path, 16)
    lake = (slice(360, 440), slice(20, 220))

    def mean_ab(px):
        return colorspace.srgb_to_oklab(px[lake].reshape(-1, 3).astype(np.float64))[:, 1:].mean(0)

    shift = np.hypot(*(mean_ab(r.palette[r.indices]) - mean_ab(original)))
    assert shift < 0.01  # 0.022 when the fit weighed lightness fully


def test_reach_extremes_moves_the_darkest_and_lightest_out():
    from palettepress.quantizer import EXTREME_QUANTILE, _reach_extremes

    assert EXTREME_QUANTILE == 0.25
    x = np.array([[0.1, 0, 0], [0.2, 0, 0], [0.3, 0, 0], [0.4, 0, 0],
                  [0.5, 0, 0], [0.6, 0, 0], [0.7, 0, 0], [0.8, 0, 0], [0.9, 0, 0]], np.float32)
    w = np.ones(len(x))
    labels = np.array([0, 0, 0, 0, 1, 2, 2, 2, 2], np.int32)
    centres = np.array([[0.25, 0, 0], [0.5, 0, 0], [0.75, 0, 0]], np.float32)
    moved = _reach_extremes(x, w, centres, labels, 1.0, None)
    # A quarter of each outer cluster's weight lies at or beyond the new lightness.
    np.testing.assert_allclose(moved[:, 0], [0.1, 0.5, 0.8], atol=1e-6)
    half = _reach_extremes(x, w, centres, labels, 0.5, None)
    np.testing.assert_allclose(half[:, 0], [0.175, 0.5, 0.775], atol=1e-6)
    locked = _reach_extremes(x, w, centres, labels, 1.0, np.array([True, False, False]))
    assert locked[0, 0] == centres[0, 0] and locked[2, 0] == moved[2, 0]


def test_a_small_diffused_palette_reaches_the_shadows(monkeypatch):
    from palettepress import quantizer

    img = np.asarray(Image.open(shared_file("kodak", "kodim14.png")).convert("RGB"))

    def lightness(q):
        return colorspace.srgb_to_oklab(q.palette_.astype(np.float64))[:, 0]

    pushed = {k: Quantizer(k).fit(img) for k in (16, 64)}
    plain_nofs = Quantizer(16, dither=0).fit(img).palette_
    monkeypatch.setattr(quantizer.Quantizer, "_extreme_reach", lambda self: 0.0)
    inside = Quantizer(16).fit(img)
    assert lightness(pushed[16]).min() < lightness(inside).min() - 0.003  # 0.177 for 0.181
    assert lightness(pushed[16]).max() > lightness(inside).max() + 0.01  # 0.836 for 0.815
    # From 64 colours on, and without dithering, the fit is as it was.
    np.testing.assert_array_equal(Quantizer(64).fit(img).palette_, pushed[64].palette_)
    np.testing.assert_array_equal(Quantizer(16, dither=0).fit(img).palette_, plain_nofs)


@pytest.mark.parametrize("method", ["diffusion", "ordered", "auto"])
def test_reported_figures_are_those_of_the_decoded_file(method):
    from palettepress import metrics

    rng = np.random.default_rng(9)
    rgb = np.clip(gradient(60, 80).astype(int) + rng.integers(-8, 9, (60, 80, 3)), 0, 255).astype(np.uint8)
    alpha = np.tile(np.linspace(0, 255, 80).astype(np.uint8), (60, 1))[..., None]
    for img in (rgb, np.concatenate([rgb, alpha], axis=2)):
        r = compress(img, 12, dither_method=method)
        m = metrics.measure(img, r.image)
        assert r.ssimulacra2 == m.ssimulacra2
        assert r.mse == pytest.approx(m.mse, rel=1e-12)
        assert r.delta_e == pytest.approx(m.delta_e, rel=1e-9)
        assert r.ssim == pytest.approx(m.ssim, rel=1e-9)


def run_bias_reference(img, pal_w, indices, slack, floor, clear=-1):
    """Textbook run bias: each row left to right, a pixel takes its left neighbour's entry
    when that entry's squared distance is at most slack**2 above its own's."""
    x = colorspace.to_working(img.reshape(-1, img.shape[2]), "oklab").reshape(
        img.shape[0], img.shape[1], -1)
    out = indices.copy()
    for y in range(out.shape[0]):
        for i in range(1, out.shape[1]):
            left, own = out[y, i - 1], out[y, i]
            if left == own or clear in (left, own) or (img.shape[2] == 4 and img[y, i, 3] == 0):
                continue
            dn = ((x[y, i] - pal_w[own]) ** 2).sum()
            if dn >= floor**2 and ((x[y, i] - pal_w[left]) ** 2).sum() <= dn + slack**2:
                out[y, i] = left
    return out


@pytest.mark.parametrize("channels", [3, 4])
def test_run_bias_equals_the_reference_on_any_number_of_threads(channels):
    rng = np.random.default_rng(11)
    img = np.clip(np.repeat(gradient(8, 90), 5, axis=0).astype(int)
                  + rng.integers(-6, 7, (40, 90, 3)), 0, 255).astype(np.uint8)
    clear = -1
    pal8 = Quantizer(24, dither=0).fit(img).palette_
    if channels == 4:
        alpha = np.full((40, 90, 1), 255, np.uint8)
        alpha[5:9, 10:30] = 0
        img = np.ascontiguousarray(np.concatenate([img, alpha], axis=2))
        pal8 = np.concatenate([pal8, np.full((len(pal8), 1), 255, np.uint8)], axis=1)
        pal8 = np.concatenate([pal8, [[0, 0, 0, 0]]]).astype(np.uint8)
        clear = len(pal8) - 1
    pal = colorspace.to_working(pal8, "oklab").astype(np.float32)
    near, _ = nearest_indices(img, pal)
    if clear >= 0:
        near[img[..., 3] == 0] = clear
    near = near.astype(np.uint8)
    expected = run_bias_reference(img, pal, near, 0.02, 0.003, clear)
    assert (expected != near).mean() > 0.05  # the slack is wide enough to matter here
    before = _kernels.num_threads()
    try:
        for n in (1, 2):
            _kernels.set_num_threads(n)
            out = near.copy()
            _kernels.run_bias(img, pal, True, colorspace.OKLAB_LIGHTNESS_WEIGHT, 0.02, 0.003,
                              clear, out)
            np.testing.assert_array_equal(out, expected)
    finally:
        _kernels.set_num_threads(before)


def test_undithered_indices_make_runs_but_exact_colours_stay(monkeypatch):
    # --dither 0 on a photo: smaller, and each pixel's entry within the slack of its
    # nearest; an image whose pixels lie within the floor of their entries is mapped as
    # before.
    from palettepress import encode, remap

    img = np.ascontiguousarray(
        np.asarray(Image.open(shared_file("kodak", "kodim23.png")).convert("RGB"))[:200, :300])
    r = compress(img, 64, dither=0)
    near = remap.map_pixels(img, r.palette, "oklab", "none", 0.0)
    assert (r.indices != near).mean() > 0.02
    png = lambda ind: len(encode.encode_png(np.ascontiguousarray(ind), r.palette, level=6))
    assert png(r.indices) < 0.99 * png(near)
    pal = colorspace.to_working(r.palette, "oklab")
    x = colorspace.to_working(img.reshape(-1, 3), "oklab")
    d_took = ((x - pal[r.indices.ravel()]) ** 2).sum(axis=1)
    d_near = ((x - pal[near.ravel()]) ** 2).sum(axis=1)
    assert (d_took <= d_near + remap.RUN_SLACK**2 + 1e-6).all()
    exact = r.palette[near]  # every pixel an entry's colour
    np.testing.assert_array_equal(compress(exact, palette=r.palette, dither=0).indices, near)
    # In RGB, the space of the least RGB error, no slack: however wide, nothing changes.
    rgb = compress(img, 64, dither=0, space="rgb").indices
    monkeypatch.setattr(remap, "RUN_SLACK", 0.5)
    np.testing.assert_array_equal(compress(img, 64, dither=0, space="rgb").indices, rgb)
    assert (compress(img, 64, dither=0).indices != r.indices).mean() > 0.1


def shadowed_icon(h=96, w=96):
    """An opaque square over a broad soft drop shadow (alpha falling from 140 to 0 over
    about 14 pixels) on a transparent canvas: what GIF's threshold drops entirely."""
    y, x = np.mgrid[0:h, 0:w]
    # distance outside the square [30, 62) x [30, 62), offset by the shadow's drop
    dy = np.maximum(np.maximum(36 - y, y - 67), 0)
    dx = np.maximum(np.maximum(36 - x, x - 67), 0)
    img = np.zeros((h, w, 4), np.uint8)
    img[..., 3] = np.clip(140 - np.hypot(dy, dx) * 10, 0, 140).astype(np.uint8)
    img[30:62, 30:62] = (40, 110, 200, 255)
    return img


def test_gif_alpha_patterns_broad_translucent_areas_in_proportion_and_thresholds_edges():
    alpha = np.zeros((64, 64), np.uint8)
    alpha[8:56, 8:40] = 64  # broad: a quarter opacity
    alpha[8:56, 44] = 200  # one-pixel edges: thresholded
    alpha[8:56, 60] = 100
    alpha[8:56, 48:56] = 255
    px = np.zeros((64, 64, 4), np.uint8)
    px[..., 3] = alpha
    out = dither.gif_alpha(px, 128, pattern=True)
    assert set(np.unique(out)) <= {0, 255}
    broad = out[8:56, 8:40]
    assert abs((broad == 255).mean() - 64 / 256) < 0.02  # opaque in proportion
    assert (out[8:56, 44] == 255).all() and (out[8:56, 60] == 0).all()
    assert (out[8:56, 48:56] == 255).all() and (out[alpha == 0] == 0).all()
    # the pattern is Bayer's: fixed by position, so a still area is the same every frame
    assert np.array_equal(out, dither.gif_alpha(px, 128, pattern=True))
    assert np.array_equal(dither.gif_alpha(px, 128, pattern=False), np.where(alpha >= 128, 255, 0))


def test_gif_alpha_is_patterned_where_it_measures_better():
    shadow = shadowed_icon()
    assert dither.patterns_alpha(shadow, 128) is True
    patterned = dither.gif_alpha(shadow, 128)
    assert 0 < ((patterned == 255) & (shadow[..., 3] < 128)).sum()  # the shadow shows
    # Uniformly half-translucent fills: solid reads closer than a checker of holes.
    fill = np.zeros((64, 64, 4), np.uint8)
    fill[8:56, 8:56] = (200, 40, 40, 140)
    assert dither.patterns_alpha(fill, 128) is False
    assert np.array_equal(dither.gif_alpha(fill, 128), np.where(fill[..., 3] >= 128, 255, 0))
    # No translucent area three pixels across: nothing to choose.
    edge = np.zeros((32, 32, 4), np.uint8)
    edge[:, 16, 3] = 100
    assert dither.patterns_alpha(edge, 128) is None


def test_a_gif_of_a_soft_shadow_shows_it_and_scores_higher_than_thresholded():
    from palettepress import metrics

    img = shadowed_icon()
    with pytest.warns(UserWarning, match="a pattern of both"):
        gif = compress(img, 16, format="gif")
    thresholded = img.copy()
    thresholded[..., 3] = np.where(img[..., 3] >= 128, 255, 0)
    plain = compress(thresholded, 16, format="gif")
    plain_score = metrics.ssimulacra2(img, np.asarray(plain.to_pil().convert("RGBA")))
    assert gif.ssimulacra2 > plain_score + 5
    shown = np.asarray(gif.to_pil().convert("RGBA"))
    assert ((shown[..., 3] == 255) & (img[..., 3] < 128)).any()
    # No dithering asked for: the threshold, as before.
    with pytest.warns(UserWarning, match="the others opaque$"):
        flat = compress(img, 16, format="gif", dither=0)
    assert np.array_equal(flat.image[..., 3] == 255, img[..., 3] >= 128)
