"""Output formats: PNG, WebP lossless and GIF hold exactly the result's pixels."""

import io
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

import palettepress
from palettepress import dither, formats
from palettepress.errors import ParameterError

FORMATS = ("png", "webp", "gif")


def photo_like(h=96, w=128, seed=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 2, y * 2, 255 - x - y], axis=-1).astype(np.float64)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def soft_icon(h=64, w=64):
    """An RGBA disc with a soft edge: translucent pixels, a transparent background."""
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot(y - h / 2, x - w / 2)
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[..., 0] = 200
    img[..., 1] = (x * 3).clip(0, 255)
    img[..., 2] = 90
    img[..., 3] = np.clip((24 - r) * 40, 0, 255).astype(np.uint8)
    return img


def decoded(data: bytes, channels: int) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA" if channels == 4 else "RGB"))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("make", [photo_like, soft_icon])
def test_file_decodes_to_the_result_image(fmt, make):
    img = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", palettepress.GifAlphaWarning)
        r = palettepress.compress(img, 16, format=fmt)
    assert r.format == fmt
    assert r.output_bytes == len(r.data)
    with Image.open(io.BytesIO(r.data)) as im:
        assert im.format == fmt.upper()
    assert np.array_equal(decoded(r.data, r.image.shape[2]), r.image)
    # The figures are those of the decoded file against the original.
    m = palettepress.measure(img, decoded(r.data, r.image.shape[2]))
    assert m.ssimulacra2 == pytest.approx(r.ssimulacra2, abs=1e-6)
    assert m.mse == pytest.approx(r.mse, rel=1e-9)
    assert m.delta_e == pytest.approx(r.delta_e, rel=1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_are_deterministic_and_keep_text(fmt):
    img = photo_like()
    a = palettepress.compress(img, 32, format=fmt, text={"palettepress": "settings tag"})
    b = palettepress.compress(img, 32, format=fmt, text={"palettepress": "settings tag"})
    assert a.data == b.data
    assert formats.read_text(io.BytesIO(a.data))["palettepress"] == "settings tag"


def test_webp_uses_the_colour_indexing_transform():
    r = palettepress.compress(photo_like(), 64, format="webp", strip=True)
    body = r.data[r.data.index(b"VP8L") + 8:]
    assert body[0] == 0x2F
    bits = int.from_bytes(body[1:6], "little")
    assert (bits & 0x3FFF) + 1 == 128 and ((bits >> 14) & 0x3FFF) + 1 == 96
    first = bits >> 32  # after width, height, alpha and version: the first transform
    assert first & 1 == 1 and (first >> 1) & 3 == 3  # present, COLOR_INDEXING_TRANSFORM


def test_gif_thresholds_alpha_and_warns():
    img = soft_icon()
    with pytest.warns(palettepress.GifAlphaWarning, match="alpha below 128"):
        r = palettepress.compress(img, 16, format="gif")
    alpha = r.image[..., 3]
    assert set(np.unique(alpha)) <= {0, 255}
    # thresholded, or broad translucent areas patterned where that measures better
    assert np.array_equal(alpha, dither.gif_alpha(img, formats.GIF_ALPHA_THRESHOLD))
    # Measured against the original translucent pixels, so it scores below the PNG.
    png = palettepress.compress(img, 16)
    assert r.ssimulacra2 < png.ssimulacra2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        palettepress.compress(photo_like(), 16, format="gif")  # opaque: no warning


def test_gif_is_dithered_for_its_lzw(monkeypatch, kodim23):
    # A GIF's error diffusion follows its LZW (dither.GIF_LZW_SLACK): a smaller file at
    # about the same quality, decoding to the result's pixels; PNG is dithered as before.
    img = np.ascontiguousarray(np.asarray(Image.open(kodim23).convert("RGB"))[:300, :400])
    gif, png = (palettepress.compress(img, 256, format=f, strip=True) for f in ("gif", "png"))
    monkeypatch.setattr(dither, "GIF_LZW_SLACK", None)
    plain_gif, plain_png = (
        palettepress.compress(img, 256, format=f, strip=True) for f in ("gif", "png")
    )
    assert gif.output_bytes < 0.95 * plain_gif.output_bytes
    assert gif.ssimulacra2 > plain_gif.ssimulacra2 - 0.6
    assert np.array_equal(decoded(gif.data, 3), gif.image)
    assert png.data == plain_png.data


def test_max_bytes_measures_the_chosen_format():
    img = photo_like()
    webp = palettepress.compress(img, 256, format="webp")
    r = palettepress.compress(img, 256, format="webp", max_bytes=webp.output_bytes - 1)
    assert r.format == "webp" and r.output_bytes <= webp.output_bytes - 1


def test_save_checks_the_extension(tmp_path):
    r = palettepress.compress(photo_like(), 16, format="webp")
    with pytest.raises(ParameterError, match="format='png'"):
        r.save(tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()
    r.save(tmp_path / "out.webp")
    r.save(tmp_path / "out.bin")  # a name that says nothing: the bytes as they are
    assert (tmp_path / "out.webp").read_bytes() == (tmp_path / "out.bin").read_bytes() == r.data
    with pytest.raises(ParameterError, match="name it .webp"):
        r.save(tmp_path / "out.jpg")  # another image format's name: WebP bytes would lie
    assert not (tmp_path / "out.jpg").exists()
    buffer = io.BytesIO()
    r.save(buffer)  # a file object, as Pillow's Image.save takes
    assert buffer.getvalue() == r.data


def test_bad_formats_and_sizes():
    with pytest.raises(ParameterError, match="unknown output format 'jpeg'"):
        palettepress.compress(photo_like(), 16, format="jpeg")
    wide = np.zeros((2, 16384, 3), dtype=np.uint8)
    wide[:, ::2] = 255
    with pytest.raises(ParameterError, match="WEBP holds at most 16383x16383"):
        palettepress.compress(wide, 2, format="webp")


def test_sweep_in_a_format():
    results = palettepress.sweep(photo_like(), [4, 16], format="gif")
    assert [r.format for r in results] == ["gif", "gif"]
    assert all(r.data[:6] == b"GIF89a" or r.data[:6] == b"GIF87a" for r in results)


def test_png_search_keeps_the_pixels_and_never_grows_the_file():
    from palettepress import encode

    img = photo_like(80, 120)
    r = palettepress.compress(img, 32, effort=5, strip=True)
    plain = encode.encode_png(r.indices, r.palette, level=12)
    data, order = encode.encode_png_searched(r.indices, r.palette, level=12, search=True)
    assert len(data) <= len(plain)
    assert sorted(order) == list(range(len(r.palette)))
    assert np.array_equal(decoded(data, 3), r.image)
    with Image.open(io.BytesIO(data)) as im:
        stored = np.asarray(im.getpalette()[:3 * len(order)], dtype=np.uint8).reshape(-1, 3)
    assert np.array_equal(stored, r.palette[order, :3])


def test_highest_effort_reports_the_file_palette():
    r = palettepress.compress(soft_icon(), 16, effort=10)
    with Image.open(io.BytesIO(r.data)) as im:
        assert np.array_equal(np.asarray(im), r.indices)  # the indices as stored
    assert np.array_equal(decoded(r.data, 4), r.image)


def framed(h=48, w=64, alpha=None):
    """Indices of a picture on a background that reaches both side edges (entry 5), a
    palette of 8 colours (the first two translucent when ``alpha`` gives their alphas)."""
    rng = np.random.default_rng(7)
    idx = np.full((h, w), 5, dtype=np.uint8)
    idx[8:-8, 10:-10] = rng.integers(0, 8, (h - 16, w - 20))
    palette = np.column_stack([np.arange(8) * 30, np.arange(8)[::-1] * 30, np.full(8, 99),
                               np.full(8, 255)]).astype(np.uint8)
    if alpha is not None:
        palette[:2, 3] = alpha
        idx = np.array([0, 5, 2, 3, 4, 1, 6, 7], dtype=np.uint8)[idx]  # background: entry 1
    return idx, palette


def test_background_reaching_both_edges_goes_first(monkeypatch):
    from palettepress import encode

    idx, palette = framed()
    before = idx.copy()
    idx.setflags(write=False)  # the caller's indices are only read
    data, order = encode.encode_png_searched(idx, palette[:, :3], level=6)
    assert np.array_equal(idx, before)
    assert order[0] == 5 and sorted(order) == list(range(8))
    with Image.open(io.BytesIO(data)) as im:
        assert np.array_equal(np.asarray(im), np.argsort(order)[idx])
    assert np.array_equal(decoded(data, 3), palette[idx, :3])
    monkeypatch.setattr(encode, "BRIDGE_SHARE", 2.0)  # never swap
    kept, same = encode.encode_png_searched(idx, palette[:, :3], level=6)
    assert list(same) == list(range(8)) and len(kept) > len(data)


@pytest.mark.parametrize("alpha, moved", [((200, 0), True), ((10, 0), False)])
def test_background_swap_keeps_translucent_entries_readable(alpha, moved):
    from palettepress import encode

    idx, palette = framed(alpha=alpha)
    data, order = encode.encode_png_searched(idx, palette, level=6)
    assert (order[0] == 1) == moved  # tRNS 00 0a would be read by Pillow as one transparent entry
    assert np.array_equal(decoded(data, 4), palette[idx])


def _minsum_lines(rows: np.ndarray) -> np.ndarray:
    """Reference for ``_kernels.png_filter_minsum``: every filter in numpy, the bytes read
    as signed, the smallest sum per row (the lowest filter type on a tie)."""
    from palettepress import encode

    filtered = [encode._filtered(rows, f) for f in range(5)]
    sums = np.stack([np.abs(f.view(np.int8).astype(np.int64)).sum(axis=1) for f in filtered])
    return encode._scanlines_with(filtered, np.argmin(sums, axis=0).astype(np.uint8))


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (40, 1), (1, 40), (33, 65)])
def test_minsum_filter_kernel_matches_numpy(shape):
    from palettepress import _kernels

    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    noise = rng.integers(0, 256, shape).astype(np.uint8)  # residues of -128 included
    smooth = (np.cumsum(rng.integers(-3, 4, shape), axis=0) % 256).astype(np.uint8)
    for rows in (noise, smooth):
        lines = np.empty((shape[0], shape[1] + 1), dtype=np.uint8)
        _kernels.png_filter_minsum(rows, lines)
        assert np.array_equal(lines, _minsum_lines(rows))
        if shape[0] > 2:  # in two strips, the second read with the row above it
            split = np.empty_like(lines)
            _kernels.png_filter_minsum(rows[:2], split[:2])
            _kernels.png_filter_minsum(rows[1:], split[2:], 1)
            assert np.array_equal(split, lines)
    if shape[0] > 2:
        assert set(_minsum_lines(smooth)[1:, 0]) != {0}  # rows like the one above: filtered


@pytest.mark.parametrize("k", [256, 64])
@pytest.mark.parametrize("tint", [(1.0, 1.0, 1.0), (1.0, 0.85, 0.6)])  # grey, sepia
def test_grey_and_sepia_palettes_in_lightness_order_with_row_filters(k, tint):
    from palettepress import encode

    g = photo_like() @ [0.299, 0.587, 0.114]
    r = palettepress.compress(np.rint(g[..., None] * tint).astype(np.uint8), k, strip=True)
    assert encode._ramp(r.palette)
    _, plain = encode._plain_layout(r.indices, len(r.palette), 8, 6, 0)
    assert len(r.data) < 0.9 * len(plain)  # measured 0.66-0.75 on this gradient
    with Image.open(io.BytesIO(r.data)) as im:
        assert np.array_equal(np.asarray(im), r.indices)  # the indices as stored
        stored = np.asarray(im.getpalette()[: 3 * r.colors]).reshape(-1, 3)
    assert (np.diff(stored @ [0.299, 0.587, 0.114]) >= 0).all()  # lightness order
    assert _filter_types(r.data, r.height).any()  # rows filtered
    assert np.array_equal(decoded(r.data, 3), r.image)


def _filter_types(data: bytes, height: int) -> np.ndarray:
    """Each row's filter type in a PNG file of 8-bit indices."""
    rows = np.frombuffer(zlib.decompress(b"".join(_chunks(data, b"IDAT"))), dtype=np.uint8)
    return rows.reshape(height, -1)[:, 0]


def test_colour_and_text_palettes_keep_filter_none():
    from PIL import ImageDraw, ImageFont

    from palettepress import encode

    r = palettepress.compress(photo_like(), 64, strip=True)  # colours
    text = Image.new("L", (200, 120), 255)  # anti-aliased grey text: filters do not pay
    draw = ImageDraw.Draw(text)
    for i in range(10):
        line = f"The quick brown fox jumps over the lazy dog {i}"
        draw.text((3, 2 + i * 12), line, fill=20 + 3 * i, font=ImageFont.load_default(size=11))
    levels, idx = np.unique(np.asarray(text), return_inverse=True)
    greys = np.repeat(levels[::-1, None], 3, axis=1)  # the palette not in lightness order
    idx = (len(levels) - 1 - idx).astype(np.uint8)
    assert not encode._ramp(r.palette) and encode._ramp(greys)
    for idx, palette in ((r.indices, r.palette), (idx, greys)):
        data, order = encode.encode_png_searched(idx, palette, level=6)
        assert list(order) == list(range(len(palette)))
        assert not _filter_types(data, idx.shape[0]).any()
    plain = encode._plain_layout(idx, len(greys), 8, 6, 0)[1]
    assert len(encode._ramp_layout(idx, greys, 6)[1]) > len(plain)  # measured, and lost


def _chunks(data: bytes, kind: bytes):
    """The data of every chunk of type ``kind`` in a PNG file."""
    pos = 8
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == kind:
            yield data[pos + 8 : pos + 8 + n]
        pos += n + 12


def test_search_pieces_on_known_rows():
    from palettepress import encode

    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, 90)
    rows = np.repeat(base[None, :].astype(np.uint8), 12, axis=0)  # each row repeats
    filtered = [encode._filtered(rows, f) for f in range(5)]
    assert (encode._row_entropy(filtered)[1:] == 2).all()  # Up: all zeros, no entropy
    steps = rng.integers(0, 256, 90)
    rows = ((np.arange(12)[:, None] * steps[None, :]) % 256).astype(np.uint8)
    filtered = [encode._filtered(rows, f) for f in range(5)]
    # Row y is y * steps: from the third row on, only Up gives bytes already seen (steps,
    # the second row's), which deflate matches.
    assert (encode._row_brute(filtered)[2:] == 2).all()
    idx, palette = framed(alpha=(200, 0))
    for front in (True, False):
        order = encode._spread_order(idx, palette, translucent_first=front)
        assert sorted(order) == list(range(len(palette)))
        if front:
            assert list(order[:2]) == [0, 1]  # translucent entries keep their places


def _graphics_and_alpha_images():
    from conftest import TESTDATA

    if not TESTDATA.exists():
        pytest.skip("../shared/testdata not found (fresh clone): real-image tests need it")
    return sorted((TESTDATA / "graphics").glob("*.png")) + sorted((TESTDATA / "alpha").glob("*"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_graphic_and_alpha_image_writes_every_format_at_every_k(fmt):
    """Every image of the graphics and alpha test sets (most with soft alpha), at k = 16, 64
    and 256: the file is written (GIF included: no refusal for soft alpha) and decodes to
    the result."""
    images = _graphics_and_alpha_images()
    assert len(images) >= 40
    for path in images:
        for k in (16, 64, 256):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", palettepress.GifAlphaWarning)
                r = palettepress.compress(path, k, format=fmt)
            channels = r.image.shape[2]
            assert np.array_equal(decoded(r.data, channels), r.image), (path.name, k)
