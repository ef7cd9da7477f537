"""Properties that hold for any small image: valid, exact, deterministic output."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from palettepress import compress


@st.composite
def images(draw):
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    c = draw(st.sampled_from([3, 4]))
    # Few distinct levels make repeated colours (and lossless cases) likely too.
    levels = draw(st.sampled_from([2, 5, 256]))
    a = draw(arrays(np.uint8, (h, w, c), elements=st.integers(0, levels - 1)))
    if levels < 256:
        a = (a.astype(np.uint16) * (255 // (levels - 1))).astype(np.uint8)
    return a


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(img=images(), k=st.integers(2, 256), space=st.sampled_from(["oklab", "rgb"]),
       dither=st.sampled_from([0.0, 0.5, 1.0]))
def test_any_small_image(img, k, space, dither):
    r = compress(img, k, space=space, dither=dither, seed=3)
    decoded_img = Image.open(io.BytesIO(r.data))
    decoded_img.load()
    assert decoded_img.mode == "P"
    assert r.colors <= k and len(r.palette) == r.colors
    assert r.indices.max() < r.colors
    assert r.indices.shape == img.shape[:2]
    mode = "RGBA" if r.palette.shape[1] == 4 else "RGB"
    decoded = np.asarray(decoded_img.convert(mode))
    np.testing.assert_array_equal(decoded, r.image)
    # Lossless exactly when the image has no more colours than k (transparent pixels
    # all counting as one colour).
    flat = img.reshape(-1, img.shape[2]).copy()
    if img.shape[2] == 4:
        flat[flat[:, 3] == 0] = 0
        if (flat[:, 3] == 255).all():
            flat = flat[:, :3]
    distinct = len(np.unique(flat, axis=0))
    assert r.lossless == (distinct <= k)
    if r.lossless:
        assert r.mse == 0
    again = compress(img.copy(), k, space=space, dither=dither, seed=3)
    assert again.data == r.data
