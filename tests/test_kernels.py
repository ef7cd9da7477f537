"""The compiled kernels against plain numpy implementations of the same definitions."""

import io

import numpy as np
import pytest
from PIL import Image

from palettepress import _kernels, colorspace, dither, histogram, kmeans, remap, seeding


def numpy_lloyd(x, w, centres, iters):
    """Textbook weighted Lloyd iterations (no pruning), for comparison."""
    c = centres.astype(np.float64)
    for _ in range(iters):
        d = ((x[:, None, :] - c[None]) ** 2).sum(axis=2)
        lab = d.argmin(axis=1)
        for j in range(len(c)):
            m = lab == j
            if m.any():
                c[j] = (w[m, None] * x[m]).sum(axis=0) / w[m].sum()
    return c, lab


def test_histogram_matches_numpy_unique():
    rng = np.random.default_rng(1)
    px = rng.integers(0, 6, size=(5000, 4), dtype=np.uint8) * 50
    h = histogram.histogram(px)
    uniq, counts = np.unique(px, axis=0, return_counts=True)
    got = {tuple(c): n for c, n in zip(h.colors.astype(np.uint8), h.counts)}
    assert got == {tuple(c): n for c, n in zip(uniq, counts)}
    assert h.exact and h.counts.sum() == len(px)


def test_histogram_grows_its_table_past_the_first_size():
    """More colours than the first table holds (2**16 at this size): the table grows as
    they come, every count and position kept."""
    rng = np.random.default_rng(3)
    px = rng.integers(0, 256, size=(300_000, 3), dtype=np.uint8)
    pos = np.empty(len(px), dtype=np.int32)
    keys, counts, _ = _kernels.histogram(px, 0xFFFFFFFF, False, None, pos)
    packed = px[:, 0].astype(np.uint32) | px[:, 1].astype(np.uint32) << 8 | px[:, 2].astype(np.uint32) << 16
    uniq, first, n = np.unique(packed | np.uint32(255 << 24), return_index=True, return_counts=True)
    assert len(keys) == len(uniq) > 1 << 17
    order = np.argsort(first)  # the kernel's keys come in order of first appearance
    np.testing.assert_array_equal(keys, uniq[order])
    np.testing.assert_array_equal(counts, n[order])
    np.testing.assert_array_equal(keys[pos], packed | np.uint32(255 << 24))


def test_histogram_precision_reduction_keeps_means():
    rng = np.random.default_rng(2)
    px = rng.integers(0, 256, size=(20000, 3), dtype=np.uint8)
    h = histogram.histogram(px, max_distinct=4000)
    assert len(h) <= 4000 and not h.exact
    assert h.counts.sum() == len(px)
    # Each group is represented by its mean, so the weighted mean colour is unchanged.
    np.testing.assert_allclose((h.colors * h.counts[:, None]).sum(0) / len(px), px.mean(0), rtol=1e-9)


@pytest.mark.parametrize("limit", [histogram.MAX_DISTINCT, 4000])
def test_histogram_of_counted_colours_equals_the_pixels_histogram(limit):
    """Colours counted elsewhere (keys and counts) make the histogram their pixels make:
    the same keys in the same order, counts and colours, exact or coarsened to group
    means."""
    rng = np.random.default_rng(5)
    px = rng.integers(0, 256, size=(20000, 3), dtype=np.uint8)
    px[::3] = px[1::3][: len(px[::3])]
    keys, counts, _ = _kernels.histogram(px)
    got = histogram.histogram_of(keys, counts, 3, max_distinct=limit)
    want = histogram.histogram(px, max_distinct=limit)
    assert got.exact == (limit > len(keys)) and got.mask == want.mask
    np.testing.assert_array_equal(got.keys, want.keys)
    np.testing.assert_array_equal(got.counts, want.counts)
    np.testing.assert_allclose(got.colors, want.colors, rtol=1e-12)


def test_histogram_positions_are_each_rows_key():
    rng = np.random.default_rng(4)
    px = rng.integers(0, 256, size=(6000, 4), dtype=np.uint8) // 37 * 37
    for mask in (0xFFFFFFFF, histogram._mask(3)):
        pos = np.full(len(px), -7, dtype=np.int32)
        keys, counts, _ = _kernels.histogram(px, mask, False, None, pos)
        np.testing.assert_array_equal(pos, _kernels.positions(px, keys, mask))
        np.testing.assert_array_equal(np.bincount(pos, minlength=len(keys)), counts)


@pytest.mark.parametrize("spread", [4, 256])
def test_drop_counts_equal_numpy_unique(spread):
    rng = np.random.default_rng(spread)
    px = rng.integers(0, spread, size=(20000, 3), dtype=np.uint8)
    got = _kernels.drop_counts(px)
    for d in range(1, 8):
        assert got[d] == len(np.unique(px >> d, axis=0)), d


@pytest.mark.parametrize("channels", [3, 4])
def test_group_colors_groups_equal_colours_after_dropped_bits(channels):
    rng = np.random.default_rng(10 + channels)
    colors = np.unique(rng.integers(0, 256, size=(30000, channels), dtype=np.uint8), axis=0)
    rng.shuffle(colors)
    group, m = histogram.group_colors(colors, 5000)
    assert m <= 5000 and group.min() == 0 and group.max() == m - 1
    # Groups are numbered in order of first appearance, and one group is one masked key.
    firsts = np.flatnonzero(np.diff(np.maximum.accumulate(group), prepend=-1))
    np.testing.assert_array_equal(group[firsts], np.arange(m))
    packed = np.zeros(len(colors), dtype=np.uint32)
    for c in range(channels):
        packed |= colors[:, c].astype(np.uint32) << np.uint32(8 * c)
    drop = next(d for d in range(1, 8) if len(np.unique(packed & histogram._mask(d))) <= 5000)
    keys = packed & histogram._mask(drop) | (0 if channels == 4 else 0xFF000000)
    assert len(np.unique(keys)) == m
    same_key = keys[:, None] == keys[None, :2000]
    same_group = group[:, None] == group[None, :2000]
    np.testing.assert_array_equal(same_key, same_group)
    small = colors[:300]
    np.testing.assert_array_equal(histogram.group_colors(small, 300)[0], np.arange(300))


def test_group_means_equal_bincount():
    rng = np.random.default_rng(9)
    x = rng.random((5000, 3)).astype(np.float32)
    w = rng.integers(1, 50, 5000).astype(np.float64)
    group = rng.integers(0, 700, 5000).astype(np.int32)
    group[:700] = np.arange(700)
    means, wg = histogram.group_means(group, 700, x, w)
    np.testing.assert_array_equal(wg, np.bincount(group, weights=w, minlength=700))
    expect = np.stack(
        [np.bincount(group, weights=w * x[:, q], minlength=700) for q in range(3)], axis=1
    ) / wg[:, None]
    np.testing.assert_array_equal(means, expect.astype(np.float32))
    assert means.dtype == np.float32


@pytest.mark.parametrize("channels", [3, 4])
def test_pick_rows_equals_boolean_indexing(channels):
    rng = np.random.default_rng(channels)
    flat = rng.integers(0, 256, size=(3001, channels), dtype=np.uint8)
    for mask in (rng.random(3001) < 0.7, np.zeros(3001, bool), np.ones(3001, bool)):
        got = histogram.pick_rows(flat, mask)
        np.testing.assert_array_equal(got, flat[mask])
        assert got.flags.c_contiguous and got.shape == (mask.sum(), channels)


def test_lookup_scatters_values():
    rng = np.random.default_rng(3)
    px = rng.integers(0, 4, size=(1000, 3), dtype=np.uint8)
    h = histogram.histogram(px)
    values = np.arange(len(h), dtype=np.uint8)
    out = _kernels.lookup(px, h.keys, values)
    np.testing.assert_array_equal(h.colors[out].astype(np.uint8), px)


@pytest.mark.parametrize("k", [2, 7, 32, 200])
def test_kmeans_equals_textbook_lloyd(k):
    rng = np.random.default_rng(k)
    x = rng.random((600, 3)).astype(np.float32)
    w = rng.integers(1, 20, 600).astype(np.float64)
    start = x[rng.choice(600, k, replace=False)]
    c_ref, lab_ref = numpy_lloyd(x.astype(np.float64), w, start, 300)
    c, lab, it, sse = kmeans.lloyd(x, w, start, np.zeros(600, np.int32), max_iter=300, tol=0)
    np.testing.assert_allclose(c, c_ref, atol=1e-5)
    d = ((x[:, None, :].astype(np.float64) - c_ref[None]) ** 2).sum(axis=2)
    assert sse == pytest.approx((w * d.min(axis=1)).sum(), rel=1e-4)


def test_nearest_equals_brute_force():
    rng = np.random.default_rng(5)
    x = rng.random((3000, 4)).astype(np.float32)
    p = rng.random((100, 4)).astype(np.float32)
    hint = rng.integers(0, 100, 3000).astype(np.int32)
    got = remap.nearest(x, p, hint)
    d = ((x[:, None, :] - p[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(d[np.arange(3000), got], d.min(axis=1), rtol=1e-6)


@pytest.mark.parametrize("d", [3, 6])
def test_nearest_among_many_centres_with_ties(d):
    # 256 centres on a coarse grid: many centres at equal distances from one another,
    # which the centres' sorted rows (a radix sort from 128 centres on) must order alike.
    rng = np.random.default_rng(d)
    x = rng.integers(0, 7, (4000, d)).astype(np.float32)
    p = rng.permutation(np.unique(rng.integers(0, 7, (1000, d)), axis=0))[:256].astype(np.float32)
    assert len(p) == 256
    hint = rng.integers(0, 256, 4000).astype(np.int32)
    got = remap.nearest(x, p, hint)
    dist = ((x[:, None, :] - p[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(dist[np.arange(4000), got], dist.min(axis=1))


def test_variance_split_close_to_exact_cut():
    rng = np.random.default_rng(6)
    x = colorspace.to_working(rng.integers(0, 256, (4000, 3)).astype(np.uint8), "oklab")
    w = rng.integers(1, 10, 4000).astype(np.float64)
    c, lab = seeding.variance_split(x, w, 64)
    c_ref, lab_ref = seeding._variance_split_reference(x, w, 64)

    def sse(lab):
        return sum((w[lab == j, None] * (x[lab == j] - x[lab == j].T @ w[lab == j] / w[lab == j].sum()) ** 2).sum()
                   for j in np.unique(lab))

    assert len(c) == 64 and len(np.unique(lab)) == 64
    # 256 bins instead of the exact cut position cost little.
    assert sse(lab) <= 1.05 * sse(lab_ref)


def test_empty_clusters_are_reseeded():
    x = np.array([[0, 0, 0], [0, 0, 1], [10, 10, 10], [10, 10, 11]], dtype=np.float32)
    w = np.ones(4)
    # Two centres far from every point start empty.
    start = np.array([[0, 0, 0.5], [100, 100, 100], [-100, -100, -100], [10, 10, 10.5]], np.float32)
    c, lab, it, sse = kmeans.lloyd(x, w, start, np.zeros(4, np.int32), max_iter=50, tol=0)
    assert len(np.unique(lab)) == 4
    assert sse == pytest.approx(0, abs=1e-6)


def test_oklab_round_trip():
    rgb = np.random.default_rng(7).integers(0, 256, (1000, 3)).astype(np.uint8)
    back = colorspace.from_working(colorspace.to_working(rgb, "oklab"), "oklab")
    np.testing.assert_array_equal(back, rgb)


def test_dither_strength_zero_is_nearest():
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    pal = colorspace.to_working(rng.integers(0, 256, (16, 3)).astype(np.uint8), "oklab")
    out = dither.diffuse(img, pal, "oklab", 0.0)
    x = colorspace.to_working(img.reshape(-1, 3), "oklab")
    d = ((x[:, None, :] - pal[None]) ** 2).sum(axis=2)
    chosen = d[np.arange(len(x)), out.ravel()]
    np.testing.assert_allclose(chosen, d.min(axis=1), atol=1e-6)


def test_ward_merge_matches_brute_force():
    rng = np.random.default_rng(9)
    c = rng.random((40, 3)).astype(np.float32)
    wt = rng.integers(1, 50, 40).astype(np.float64)
    owner = np.empty(40, np.int32)
    merged = _kernels.ward_merge(c, wt, 10, owner)
    # Brute force: repeatedly merge the globally cheapest pair.
    cs_, ws_, groups = [x.astype(np.float64) for x in c], list(wt), [[i] for i in range(40)]
    while len(cs_) > 10:
        best = None
        for i in range(len(cs_)):
            for j in range(i + 1, len(cs_)):
                cost = ws_[i] * ws_[j] / (ws_[i] + ws_[j]) * ((cs_[i] - cs_[j]) ** 2).sum()
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        _, i, j = best
        cs_[i] = (ws_[i] * cs_[i] + ws_[j] * cs_[j]) / (ws_[i] + ws_[j])
        ws_[i] += ws_[j]
        groups[i] += groups[j]
        del cs_[j], ws_[j], groups[j]
    expect = sorted(tuple(sorted(g)) for g in groups)
    got = sorted(tuple(np.nonzero(owner == j)[0]) for j in range(10))
    assert got == expect
    for j in range(10):
        members = owner == j
        np.testing.assert_allclose(merged[j], (wt[members, None] * c[members]).sum(0) / wt[members].sum(), rtol=1e-5)


def test_split_merge_gives_k_clusters():
    rng = np.random.default_rng(10)
    x = colorspace.to_working(rng.integers(0, 256, (5000, 3)).astype(np.uint8), "rgb")
    w = rng.integers(1, 30, 5000).astype(np.float64)
    c1, l1 = seeding.split_merge(x, w, 32)
    assert len(c1) == 32 and l1.max() == 31 and len(np.unique(l1)) == 32


def test_hartigan_never_raises_the_error():
    rng = np.random.default_rng(11)
    x = rng.random((3000, 3)).astype(np.float32)
    w = rng.integers(1, 40, 3000).astype(np.float64)
    c0, l0 = seeding.variance_split(x, w, 24)
    c, lab, it, sse = kmeans.lloyd(x, w, c0, l0, tol=1e-3)
    c2, lab2, moves, sse2 = kmeans.hartigan(x, w, c, lab, passes=5)
    assert sse2 <= sse + 1e-9
    # The centres it returns are the weighted means of its clusters.
    for j in range(24):
        m = lab2 == j
        np.testing.assert_allclose(c2[j], (w[m, None] * x[m]).sum(0) / w[m].sum(), rtol=1e-4, atol=1e-6)
    d = ((x - c2[lab2]) ** 2).sum(1)
    assert sse2 == pytest.approx((w * d).sum(), rel=1e-6)



def test_swap_costs_match_brute_force():
    rng = np.random.default_rng(13)
    x = rng.random((4000, 3)).astype(np.float32)
    w = rng.integers(1, 40, 4000).astype(np.float64)
    c0, l0 = seeding.variance_split(x, w, 12)
    c, lab, _, _ = kmeans.lloyd(x, w, c0, l0, max_iter=3, tol=0)
    near = rng.integers(0, 12, 4000).astype(np.int32)  # a poor guess is enough
    removal, gain, halves = np.empty(12), np.empty(12), np.empty((24, 3), np.float32)
    sse = _kernels.swap_costs(x, w, c, near, removal, gain, halves)
    d = ((x[:, None, :].astype(np.float64) - c[None]) ** 2).sum(axis=2)
    d.sort(axis=1)
    np.testing.assert_allclose(((x - c[near]) ** 2).sum(1), d[:, 0], rtol=1e-5, atol=1e-7)
    assert sse == pytest.approx((w * d[:, 0]).sum(), rel=1e-5)
    np.testing.assert_allclose(removal, np.bincount(near, weights=w * (d[:, 1] - d[:, 0]), minlength=12), rtol=1e-4)
    x64 = x.astype(np.float64)
    for j in range(12):
        m = near == j
        left, right = seeding._best_cut(x64[m], w[m])
        whole, parts = seeding._sse(x64[m], w[m]), [seeding._sse(x64[m][h], w[m][h]) for h in (left, right)]
        # 256 bins instead of the exact cut position cost little.
        assert 0.95 * (whole - sum(parts)) <= gain[j] <= whole
        # The two halves are the means of the points on either side of a plane through the mean.
        mean = (w[m, None] * x64[m]).sum(0) / w[m].sum()
        a, b = halves[2 * j].astype(np.float64), halves[2 * j + 1].astype(np.float64)
        side = (x64[m] - mean) @ (b - a) > 0
        np.testing.assert_allclose(a, (w[m][~side, None] * x64[m][~side]).sum(0) / w[m][~side].sum(), atol=0.02)
        np.testing.assert_allclose(b, (w[m][side, None] * x64[m][side]).sum(0) / w[m][side].sum(), atol=0.02)


def test_swap_moves_a_wasted_centre():
    # Two centres share one tight blob while one centre straddles two far-apart blobs:
    # a Lloyd fixed point that only moving a centre across the space repairs.
    rng = np.random.default_rng(14)
    blobs = np.array([[10, 10, 10], [200, 10, 10], [10, 200, 10]], np.float32)
    x = np.concatenate([b + rng.normal(0, 2, (300, 3)) for b in blobs]).astype(np.float32)
    w = np.ones(len(x))
    start = np.array([[9, 10, 10], [11, 10, 10], [105, 105, 10]], np.float32)
    c, lab, _, sse = kmeans.lloyd(x, w, start, np.zeros(len(x), np.int32), tol=0)
    assert sse > 1e6
    c2, lab2, kept, sse2 = kmeans.swap(x, w, c, lab, sse, trials=10, tol=1e-6)
    assert kept >= 1 and sse2 < 1e-3 * sse
    assert sorted(map(tuple, np.rint(c2).astype(int))) == sorted(map(tuple, blobs.astype(int)))


def test_swap_never_raises_the_error_and_keeps_fixed_centres():
    rng = np.random.default_rng(15)
    x = rng.random((3000, 3)).astype(np.float32)
    w = rng.integers(1, 40, 3000).astype(np.float64)
    c0, l0 = seeding.variance_split(x, w, 20)
    fixed = np.zeros(20, bool)
    fixed[[3, 11]] = True
    c, lab, _, sse = kmeans.lloyd(x, w, c0, l0, tol=1e-6, fixed=fixed)
    c2, lab2, kept, sse2 = kmeans.swap(x, w, c, lab, sse, trials=20, tol=1e-6, fixed=fixed)
    assert sse2 <= sse
    np.testing.assert_array_equal(c2[fixed], c[fixed])
    d = ((x - c2[lab2]) ** 2).sum(1)
    assert sse2 == pytest.approx((w * d).sum(), rel=1e-5)
    again = kmeans.swap(x, w, c, lab, sse, trials=20, tol=1e-6, fixed=fixed)
    np.testing.assert_array_equal(again[0], c2)
    assert again[2] == kept

def test_banded_metrics_equal_whole_image_metrics():
    from palettepress import metrics

    rng = np.random.default_rng(12)
    for shape in [(600, 90, 3), (300, 41, 4), (7, 9, 3), (5, 30, 3)]:
        original = rng.integers(0, 256, shape, dtype=np.uint8)
        palette = rng.integers(0, 256, (20, shape[2]), dtype=np.uint8)
        indices = rng.integers(0, 20, shape[:2], dtype=np.uint8)
        whole = metrics.measure(original, palette[indices])
        banded = metrics.measure_indexed(original, indices, palette)
        assert banded.ssimulacra2 == whole.ssimulacra2 or np.isnan(whole.ssimulacra2)
        assert banded.mse == pytest.approx(whole.mse, rel=1e-12)
        assert banded.delta_e == pytest.approx(whole.delta_e, rel=1e-9)
        if np.isnan(whole.ssim):
            assert np.isnan(banded.ssim)
        else:
            assert banded.ssim == pytest.approx(whole.ssim, rel=1e-9)


def test_mapped_metrics_over_pixels_equal_those_over_pairs():
    from palettepress import encode, metrics

    rng = np.random.default_rng(13)
    for shape in [(200, 90, 3), (61, 41, 4)]:
        original = rng.integers(0, 256, shape, dtype=np.uint8)  # about a colour a pixel
        palette = rng.integers(0, 256, (30, shape[2]), dtype=np.uint8)
        indices = encode.index_rows(*shape[:2])  # rows apart in memory, as the remap writes
        indices[:] = rng.integers(0, 30, shape[:2], dtype=np.uint8)
        pairs = metrics.measure_mapped(original, indices, palette)  # colours unknown: pairs
        pixels = metrics.measure_mapped(original, indices, palette, colours=indices.size)
        banded = metrics.measure_indexed(original, indices, palette)
        for m in (pixels, banded):
            assert m.mse == pairs.mse
            assert m.delta_e == pytest.approx(pairs.delta_e, rel=1e-12)
            assert m.ssim == pairs.ssim and m.ssimulacra2 == pairs.ssimulacra2


def test_encoding_beside_the_pair_count_changes_no_byte_and_no_figure(monkeypatch):
    from palettepress import compress, metrics, pipeline

    rng = np.random.default_rng(21)
    y, x = np.mgrid[0:90, 0:120]
    image = np.stack([x // 3 * 6, y // 3 * 8, (x + y) // 4 * 4], axis=-1)
    image[..., 0] += rng.integers(0, 2, (90, 120)).astype(image.dtype)
    image = image.astype(np.uint8)
    # Many colours, yet fewer than half the pixels: the pairs are counted, not the pixels.
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    assert 256 < colours <= metrics.PAIRS_MAX_SHARE * image.shape[0] * image.shape[1]
    for k in (16, 200):
        beside = compress(image, k)
        monkeypatch.setattr(pipeline, "BESIDE_MAX_PIXELS", 0)
        after = compress(image, k)
        monkeypatch.undo()
        assert beside.data == after.data
        for name in ("mse", "ssim", "delta_e", "ssimulacra2"):
            assert getattr(beside, name) == getattr(after, name)
        for result in (beside, after):
            assert result.timings["encode"] > 0 and result.timings["metrics"] > 0
            assert sum(result.timings.values()) <= result.seconds + 1e-9


def test_encoding_beside_the_ssim_changes_no_byte_and_no_figure(monkeypatch):
    from palettepress import compress, metrics, pipeline

    rng = np.random.default_rng(22)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    # More colours than half the pixels: no pairs to count, the encoding goes beside the
    # SSIM; so it does undithered, whose pairs the fit gives.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > metrics.PAIRS_MAX_SHARE * 60 * 80
    calls = []
    ssim_indexed = metrics._kernels.ssim_indexed

    def counted(*args):
        calls.append(len(args) == 4 and args[3] is not None)
        return ssim_indexed(*args)

    for k, options in ((16, {}), (200, {}), (16, {"dither": 0})):
        monkeypatch.setattr(metrics._kernels, "ssim_indexed", counted)
        beside = compress(image, k, **options)
        assert calls == [True]
        monkeypatch.setattr(pipeline, "BESIDE_MAX_PIXELS", 0)
        after = compress(image, k, **options)
        monkeypatch.undo()
        assert calls == [True, False]
        calls.clear()
        assert beside.data == after.data
        for name in ("mse", "ssim", "delta_e", "ssimulacra2"):
            assert getattr(beside, name) == getattr(after, name)
        assert beside.timings["encode"] > 0 and beside.timings["metrics"] > 0


def test_measure_mapped_beside_a_call_gives_the_same_metrics():
    from palettepress import metrics

    rng = np.random.default_rng(23)
    for channels in (3, 4):
        original = rng.integers(0, 256, (30, 40, channels), dtype=np.uint8)
        palette = rng.integers(0, 256, (20, channels), dtype=np.uint8)
        indices = rng.integers(0, 20, (30, 40), dtype=np.uint8)
        alone = metrics.measure_mapped(original, indices, palette)
        got, value = metrics.measure_mapped(original, indices, palette, beside=lambda: "file")
        assert got == alone and value == "file"


def test_lookup_into_rows_apart_in_memory():
    from palettepress import encode

    rng = np.random.default_rng(4)
    px = rng.integers(0, 6, size=(7 * 11, 3), dtype=np.uint8)
    h = histogram.histogram(px)
    values = rng.integers(0, 256, len(h)).astype(np.uint8)
    flat = _kernels.lookup(px, h.keys, values)
    rows = encode.index_rows(7, 11)
    assert not rows.flags.c_contiguous
    assert _kernels.lookup(px, h.keys, values, out=rows) is rows
    np.testing.assert_array_equal(rows, flat.reshape(7, 11))
    with pytest.raises(ValueError, match="elements"):
        _kernels.lookup(px, h.keys, values, out=np.empty((7, 10), np.uint8))


@pytest.mark.parametrize("k", [2, 16, 200])
def test_png_from_index_rows_equals_png_from_a_plain_array(k):
    from palettepress import encode

    rng = np.random.default_rng(k)
    plain = rng.integers(0, k, (9, 13)).astype(np.uint8)
    palette = rng.integers(0, 256, (k, 3)).astype(np.uint8)
    rows = encode.index_rows(9, 13)
    rows[...] = plain
    if k > 16:  # eight bits per pixel: the rows are deflated where they are
        assert encode._scanlines(rows) is rows.base
    data = encode.encode_png(rows, palette)
    assert data == encode.encode_png(plain, palette)
    img = Image.open(io.BytesIO(data))
    np.testing.assert_array_equal(np.asarray(img), plain)
    # A filter byte overwritten by hand is not trusted: the encoder copies instead.
    rows.base[3, 0] = 1
    assert encode.encode_png(rows, palette) == data


@pytest.mark.parametrize("space", ["oklab", "rgb"])
def test_rgba_working_coordinates_are_both_composites_and_round_trip(space):
    rng = np.random.default_rng(17)
    rgba = rng.integers(0, 256, (3000, 4)).astype(np.uint8)
    rgba[:, 3] = rng.integers(16, 256, 3000)
    rgba[:100, 3] = 255
    w = colorspace.to_working(rgba, space)
    assert w.shape == (3000, 6)
    for h, grey in enumerate(colorspace.BACKGROUNDS):
        over = colorspace.composite(rgba, grey)  # float sRGB 0..255
        np.testing.assert_allclose(w[:, 3 * h:3 * h + 3], colorspace.to_working(over, space),
                                   atol=2e-5 if space == "oklab" else 1e-3)
    np.testing.assert_array_equal(w[:100, :3], w[:100, 3:])  # opaque: the same over both
    np.testing.assert_array_equal(colorspace.from_working(w, space), rgba)


def test_alpha_images_are_measured_over_dark_and_light_and_the_worse_kept():
    from palettepress import metrics

    rng = np.random.default_rng(18)
    a = rng.integers(0, 256, (40, 50, 4)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    got = metrics.measure(a, b)
    per = [metrics.measure(metrics.composite_over(a, g), metrics.composite_over(b, g))
           for g in colorspace.BACKGROUNDS]
    assert got.mse == max(m.mse for m in per)
    assert got.ssim == min(m.ssim for m in per)
    assert got.delta_e == max(m.delta_e for m in per)
    # SSIMULACRA2 composites in floating point, the others on the rounded 8-bit composites.
    assert got.ssimulacra2 == min(_kernels.ssimulacra2(a, b, g) for g in colorspace.BACKGROUNDS)
    assert got.ssimulacra2 == pytest.approx(min(m.ssimulacra2 for m in per), abs=0.5)
    dark = metrics.composite_over(np.array([[[255, 255, 255, 0], [200, 100, 0, 255]]], np.uint8), 0.1)
    assert dark.tolist() == [[[26, 26, 26], [200, 100, 0]]]


def test_pair_histogram_counts_every_colour_and_index_pair():
    from palettepress import encode

    rng = np.random.default_rng(19)
    for h, w, c in [(37, 53, 3), (300, 200, 4), (1, 9, 3), (5, 1, 3)]:
        px = rng.integers(0, 5, (h * w, c)).astype(np.uint8)
        px[: w * (h // 3)] = 7  # a long run of one colour
        idx = encode.index_rows(h, w)  # rows apart in memory, as the quantizer makes them
        idx[...] = rng.integers(0, 3, (h, w))
        idx[: h // 3] = 1
        keys, counts = _kernels.pair_histogram(px, idx)
        packed = px.astype(np.uint64) @ (np.uint64(1) << (np.arange(c, dtype=np.uint64) * np.uint64(8)))
        if c == 3:
            packed |= np.uint64(255) << np.uint64(24)
        ref = packed | (np.asarray(idx, dtype=np.uint64).reshape(-1) << np.uint64(32))
        uniq, n = np.unique(ref, return_counts=True)
        order = np.argsort(keys)
        np.testing.assert_array_equal(keys[order], uniq)
        np.testing.assert_array_equal(counts[order], n)
        # Counted beside a call on this thread: the same table, in the same order.
        calls = []
        got_keys, got_counts, value = _kernels.pair_histogram(
            px, idx, 0, lambda: calls.append(1) or "encoded"
        )
        assert value == "encoded" and calls == [1]
        np.testing.assert_array_equal(got_keys, keys)
        np.testing.assert_array_equal(got_counts, counts)


def test_pair_histogram_raises_what_the_call_beside_it_raises():
    px = np.zeros((12, 3), np.uint8)
    idx = np.zeros((3, 4), np.uint8)

    def fails():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _kernels.pair_histogram(px, idx, 0, fails)


@pytest.mark.parametrize("channels", [3, 4])
def test_frame_either_marks_kept_pixels_whose_shown_colour_is_an_entry(channels):
    rng = np.random.default_rng(channels)
    colours = rng.integers(0, 4, (40, channels)).astype(np.uint8) * 60  # duplicates too
    canvas = rng.integers(0, 4, (23, 31, channels)).astype(np.uint8) * 60
    shown = canvas[2:20, 3:29]  # a rectangle of the canvas: rows apart in memory
    keep = rng.random(shown.shape[:2]) < 0.6
    indices = rng.integers(0, len(colours), shown.shape[:2]).astype(np.uint8)
    want_idx, want_flex = indices.copy(), np.zeros(shown.shape[:2], np.uint8)
    for y, x in zip(*np.nonzero(keep)):
        hits = np.nonzero((colours == shown[y, x]).all(axis=1))[0]
        if len(hits):
            want_idx[y, x], want_flex[y, x] = hits[0], 1
    flex = _kernels.frame_either(indices, keep.view(np.uint8), colours, shown)
    assert want_flex.any() and not want_flex.all()
    assert (flex == want_flex).all() and (indices == want_idx).all()


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_frame_flicker_counts_still_pixels_and_those_that_changed_on_screen(channels):
    rng = np.random.default_rng(20 + channels)
    before = rng.integers(0, 3, (130, 170, channels)).astype(np.uint8)
    source = before.copy()
    moved = rng.random(before.shape[:2]) < 0.4
    channel = rng.integers(0, channels, before.shape[:2])
    source[moved, channel[moved]] ^= 1  # one channel differs, any of them
    on_screen = (rng.random(before.shape[:2]) < 0.3).astype(np.uint8)
    still = ~moved
    assert _kernels.frame_flicker(source, before, on_screen) == (
        still.sum(),
        (still & (on_screen == 1)).sum(),
    )
    assert _kernels.frame_flicker(source, before, None) == (still.sum(), 0)


@pytest.mark.parametrize("channels", [3, 4])
def test_window_histogram_counts_each_colour_for_the_frames_it_is_on_screen(channels):
    """Each pixel a frame draws counts until the window's next frame draws it or the
    window ends, the canvas's until first drawn over: every pixel counts once per frame,
    so the counts are those of every frame's whole histogram; ``drawn`` counts the pixels
    that differ from the frame before (all of the first without a canvas). Widths that
    are and are not a multiple of eight; see-through pixels as (0, 0, 0, 0)."""
    from palettepress.histogram import histogram, pixels2d

    rng = np.random.default_rng(40 + channels)
    for width in (40, 37):
        frames = [rng.integers(0, 3, (23, width, channels), dtype=np.uint8) * 60]
        for _ in range(6):
            nxt = frames[-1].copy()
            moved = rng.random(nxt.shape[:2]) < 0.2
            nxt[moved] = rng.integers(0, 3, (int(moved.sum()), channels), dtype=np.uint8) * 60
            frames.append(nxt)
        canvas = frames[0].copy()
        canvas[rng.random(canvas.shape[:2]) < 0.5] = 7
        for under in (None, canvas):
            keys, counts, drawn = _kernels.window_histogram(frames, under)
            whole = histogram(np.concatenate([pixels2d(f) for f in frames]))
            assert dict(zip(keys.tolist(), counts.tolist())) == dict(
                zip(whole.keys.tolist(), whole.counts.tolist())
            )
            first = canvas if under is not None else None
            expected = sum(
                int((f != b).any(axis=2).sum()) if b is not None else f.shape[0] * width
                for f, b in zip(frames, [first, *frames[:-1]])
            )
            assert drawn == expected
    with pytest.raises(ValueError):
        _kernels.window_histogram([frames[0], frames[1][:, :5]], None)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_frame_keep_marks_pixels_within_the_levels_in_every_channel(channels):
    """Whole frames, rectangles (rows apart in memory), every n-th row and a channel
    view (pixels not packed) all give numpy's answer, exact and within levels."""
    rng = np.random.default_rng(30 + channels)
    before = rng.integers(0, 250, (61, 83, channels)).astype(np.uint8)
    after = before.copy()
    moved = rng.random(before.shape[:2]) < 0.5
    channel = rng.integers(0, channels, before.shape[:2])
    after[moved, channel[moved]] += rng.integers(1, 6, int(moved.sum())).astype(np.uint8)
    diff = np.abs(after.astype(int) - before.astype(int)).max(axis=2)
    views = [
        (np.s_[:, :], np.s_[:, :]),
        (np.s_[3:50, 5:71], np.s_[3:50, 5:71]),
        (np.s_[::4], np.s_[::4]),
    ]
    for levels in (0, 2):
        for va, vb in views:
            got = _kernels.frame_keep(after[va], before[vb], levels)
            assert (got == (diff[va] <= levels)).all()
    unpacked = np.ascontiguousarray(np.concatenate([after, after[..., :1]], axis=2))
    got = _kernels.frame_keep(unpacked[..., :channels], before, 0)
    assert (got == (diff == 0)).all() and got.any() and not got.all()


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_frame_keep_near_keeps_decoder_noise_in_still_tiles_and_still_pixels(channels):
    """numpy's answer on frames whose sides are not multiples of the tile: exact pixels,
    pixels within the levels whose source is the frame before's, and pixels within the
    levels in tiles with at least the share of exact pixels; nothing else."""
    rng = np.random.default_rng(50 + channels)
    drawn_for = rng.integers(0, 250, (37, 45, channels)).astype(np.uint8)
    px = drawn_for.copy()
    # Tiles of 8 by 8: some with a few noisy pixels, some mostly changed.
    noisy = rng.random(px.shape[:2]) < np.repeat(np.repeat(rng.random((5, 6)), 8, 0), 8, 1)[:37, :45]
    channel = rng.integers(0, channels, px.shape[:2])
    px[noisy, channel[noisy]] += rng.integers(1, 5, int(noisy.sum())).astype(np.uint8)
    # Far apart at the ends of the range (a byte's difference wraps round there).
    px[0, :10], drawn_for[0, :10] = 1, 255
    px[1, :10], drawn_for[1, :10] = 255, 0
    last = px.copy()
    last[rng.random(px.shape[:2]) < 0.5] ^= 1
    diff = np.abs(px.astype(int) - drawn_for.astype(int)).max(axis=2)
    exact, near = diff == 0, diff <= 2
    still = (px == last).all(axis=2)
    for block, share in ((8, 0.75), (5, 0.5), (8, 2.0)):
        tiles = np.zeros((-(-37 // block), -(-45 // block)), dtype=bool)
        for ty in range(tiles.shape[0]):
            for tx in range(tiles.shape[1]):
                t = exact[ty * block : (ty + 1) * block, tx * block : (tx + 1) * block]
                tiles[ty, tx] = t.sum() >= share * t.size
        in_tile = np.repeat(np.repeat(tiles, block, 0), block, 1)[:37, :45]
        want = exact | (near & still) | (near & in_tile)
        got = _kernels.frame_keep_near(px, drawn_for, last, 2, block, share)
        assert (got == want).all()
        assert (want != exact).any() and not want.all()
        got = _kernels.frame_keep_near(px, drawn_for, None, 2, block, share)
        assert (got == (exact | (near & in_tile))).all()
    with pytest.raises(ValueError):
        _kernels.frame_keep_near(px, drawn_for, last[:-1], 2, 8, 0.75)
    with pytest.raises(ValueError):
        _kernels.frame_keep_near(px, drawn_for, last, 256, 8, 0.75)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_frame_show_draws_the_pixels_not_kept_and_marks_those_that_changed(channels):
    """Rectangles of the canvas (rows apart in memory, the packed path) and a channel
    view (pixels not packed, the indexed path) give numpy's answer, out-of-range indices
    drawing the last entry."""
    rng = np.random.default_rng(40 + channels)
    colours = rng.integers(0, 3, (30, channels)).astype(np.uint8) * 100
    px = rng.integers(0, 256, (17, 26, channels)).astype(np.uint8)
    keep = (rng.random(px.shape[:2]) < 0.4).astype(np.uint8)
    indices = rng.integers(0, len(colours) + 3, px.shape[:2]).astype(np.uint8)
    for packed in (True, False):
        shown = rng.integers(0, 3, (23, 31, channels + (0 if packed else 1))).astype(np.uint8) * 100
        drawn_for = np.zeros_like(shown)
        box = np.s_[2:19, 3:29] if packed else np.s_[2:19, 3:29, :channels]
        want_shown, want_for = shown[box].copy(), drawn_for[box].copy()
        drawn = keep == 0
        new = colours[np.minimum(indices, len(colours) - 1)]
        want_moved = drawn & (want_shown != new).any(axis=2)
        want_shown[drawn], want_for[drawn] = new[drawn], px[drawn]
        moved = _kernels.frame_show(shown[box], drawn_for[box], px, indices, keep, colours)
        assert (moved == want_moved).all() and want_moved.any() and not want_moved.all()
        assert (shown[box] == want_shown).all() and (drawn_for[box] == want_for).all()


def test_dither_with_the_palette_geometry_given_is_the_same():
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (70, 90, 3)).astype(np.uint8)
    palette = rng.random((40, 3)).astype(np.float32)
    args = (img, palette, True, 1.0, 0.8, 1.0, 0.0, 0.0, -1)
    plain = _kernels.dither(*args, np.empty((70, 90), np.uint8))
    geometry = _kernels.centre_geometry(palette)
    given = _kernels.dither(*args, np.empty((70, 90), np.uint8), geometry=geometry)
    assert (given == plain).all()
    # It is used, not recomputed: another palette's geometry changes the indices.
    other = _kernels.centre_geometry(rng.random((40, 3)).astype(np.float32))
    assert (_kernels.dither(*args, np.empty((70, 90), np.uint8), geometry=other) != plain).any()
    with pytest.raises(ValueError, match="geometry"):
        _kernels.dither(*args, np.empty((70, 90), np.uint8), geometry=_kernels.centre_geometry(palette[:9]))


def test_frame_lookup_reads_the_table_and_counts_the_colours_it_lacks():
    rng = np.random.default_rng(5)
    px = rng.integers(0, 6, (21, 33, 3)).astype(np.uint8) * 50
    table = np.full(1 << 24, 255, np.uint8)
    colours = np.unique(px.reshape(-1, 3), axis=0)[::3]  # a third of the colours known
    keys = colours.astype(np.uint32) @ np.array([1, 1 << 8, 1 << 16], np.uint32)
    table[keys] = rng.integers(0, 200, len(keys))
    rows = np.zeros((25, 40), np.uint8)
    out = rows[2:23, 4:37]  # rows apart in memory
    missing = _kernels.frame_lookup(px, table, out, 255)
    want = table[px.astype(np.uint32) @ np.array([1, 1 << 8, 1 << 16], np.uint32)]
    assert (out == want).all()
    assert missing == int((want == 255).sum()) > 0


def test_many_colours_fit_on_groups_and_split_on_coarser_groups(monkeypatch):
    """Above quantizer.FIT_MAX_POINTS colours the fit runs on groups, and the initial
    split on groups of those again, at most seeding.SPLIT_MAX_POINTS of them."""
    from palettepress import Quantizer, quantizer

    rng = np.random.default_rng(12)
    img = rng.integers(0, 256, size=(480, 480, 3), dtype=np.uint8)
    split_sizes = []
    real_split = _kernels.variance_split

    def recording_split(x, w, k, centres, labels):
        split_sizes.append(len(x))
        return real_split(x, w, k, centres, labels)

    monkeypatch.setattr(_kernels, "variance_split", recording_split)
    q = Quantizer(32).fit(img)
    assert q.n_distinct_ > quantizer.FIT_MAX_POINTS
    assert split_sizes and max(split_sizes) <= seeding.SPLIT_MAX_POINTS
    assert q.n_colors_ == 32
    # Every colour still goes to its nearest entry of the fitted palette.
    indices = q.remap(img)
    assert indices.max() < 32


def test_bayer8_is_bayers_matrix():
    """The ordered dithering's matrix (and GIF alpha's pattern): Bayer's, built by its
    recursion M(2n) = [[4M, 4M + 2], [4M + 3, 4M + 1]]."""
    m = np.zeros((1, 1), dtype=np.int64)
    while len(m) < 8:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    got = _kernels.bayer8()
    assert got.dtype == np.uint8 and np.array_equal(got, m)
