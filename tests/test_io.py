"""Decoding: formats, modes, orientation, colour profiles, bit depth, metadata."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from palettepress import AnimatedInputWarning, InputError, compress
from palettepress.io import load

from conftest import shared_file


def photo(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], -1).astype(np.uint8)


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"),
                                     ("TIFF", "tif"), ("BMP", "bmp"), ("GIF", "gif")])
def test_formats(tmp_path, fmt, ext):
    path = tmp_path / f"in.{ext}"
    Image.fromarray(photo()).save(path, fmt)
    r = compress(path, 8)
    assert r.colors <= 8 and r.indices.shape == (24, 32)
    assert r.input_bytes == path.stat().st_size


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in ("red", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.warns(AnimatedInputWarning, match="only the first is read"):
        r = compress(path, 4)
    assert r.lossless and tuple(r.image[0, 0]) == (255, 0, 0)


def test_exif_orientation_applied(tmp_path):
    img = Image.fromarray(photo(20, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    assert load(path).pixels.shape[:2] == (40, 20)


A98 = "/usr/share/color/icc/ghostscript/a98.icc"  # Debian package libgs-common


def test_icc_profile_converted_to_srgb(tmp_path):
    import os

    if not os.path.exists(A98):
        pytest.skip("needs an Adobe RGB (1998) profile: apt-get install libgs-common")
    a98 = ImageCms.getOpenProfile(A98)
    img = Image.fromarray(photo())
    path = tmp_path / "icc.png"
    img.save(path, icc_profile=a98.tobytes())
    expect = ImageCms.profileToProfile(img, a98, ImageCms.createProfile("sRGB"), outputMode="RGB")
    got = load(path).pixels
    np.testing.assert_array_equal(got, np.asarray(expect))
    # Adobe RGB's wider gamut: saturated pixels must actually have changed.
    assert np.abs(got.astype(int) - photo().astype(int)).max() > 10


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    a = (np.arange(64, dtype=np.uint32).reshape(8, 8) * 1000).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(a).save(path)
    px = load(path).pixels
    expect = ((a.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
    np.testing.assert_array_equal(px[:, :, 0], expect)
    assert px.shape[2] == 3


def test_palette_with_transparency_keeps_alpha(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.paste(1, (0, 0, 4, 8))
    img.info["transparency"] = 1
    path = tmp_path / "p.png"
    img.save(path, transparency=1)
    r = compress(path, 2)
    assert r.palette.shape[1] == 4
    out = Image.open(io.BytesIO(r.data)).convert("RGBA")
    assert np.asarray(out)[0, 0, 3] == 0 and np.asarray(out)[0, 7, 3] == 255


def test_la_and_grey_modes(tmp_path):
    g = Image.fromarray(photo()[:, :, 0])
    g.save(tmp_path / "l.png")
    assert load(tmp_path / "l.png").pixels.shape[2] == 3
    la = Image.merge("LA", [g, Image.fromarray(np.full((24, 32), 128, np.uint8))])
    la.save(tmp_path / "la.png")
    px = load(tmp_path / "la.png").pixels
    assert px.shape[2] == 4 and (px[:, :, 3] == 128).all()


def test_metadata_kept_or_stripped(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Harbour at dusk")
    path = tmp_path / "meta.png"
    Image.fromarray(photo()).save(path, pnginfo=info, dpi=(300, 300))
    kept = Image.open(io.BytesIO(compress(path, 8).data))
    assert kept.info.get("Title") == "Harbour at dusk"
    assert round(kept.info["dpi"][0]) == 300 and "srgb" in kept.info
    stripped = Image.open(io.BytesIO(compress(path, 8, strip=True).data))
    assert "Title" not in stripped.info and "dpi" not in stripped.info


def test_real_photo_alpha_icons():
    path = shared_file("alpha", "Compass_Card_transparent.png")
    src = np.asarray(Image.open(path).convert("RGBA"))
    r = compress(path, 64)
    out = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))
    np.testing.assert_array_equal(out, r.image)
    # Fully transparent stays fully transparent, opaque stays opaque.
    assert (out[src[:, :, 3] == 0, 3] == 0).all()
    assert (out[src[:, :, 3] == 255, 3] >= 250).all()
    assert r.delta_e < 3


@pytest.mark.parametrize("name", ["kodak/kodim01.png", "mcmaster/1.tif", "large/IMG_1047.JPG"])
def test_real_inputs_decode(name):
    px = load(shared_file(*name.split("/"))).pixels
    assert px.dtype == np.uint8 and px.ndim == 3 and px.shape[2] == 3


@pytest.mark.parametrize("content,cause", [(b"", "empty file"), (b"hello, world\n" * 10, "not an image"),
                                           (None, "truncated")])
def test_bad_inputs(tmp_path, content, cause):
    path = tmp_path / "bad.png"
    if content is None:
        buf = io.BytesIO()
        Image.fromarray(photo(200, 200)).save(buf, "PNG")
        content = buf.getvalue()[: len(buf.getvalue()) // 2]
    path.write_bytes(content)
    with pytest.raises(InputError, match=cause) as info:
        load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_translucent_entries_survive_decoding():
    # One pixel of alpha 10 beside fully transparent ones: a tRNS chunk ending in byte
    # 0x0a after a zero is misread by Pillow, so the writer must never produce one.
    img = np.array([[[0, 0, 0, 10], [0, 0, 0, 0], [0, 0, 0, 0]]], dtype=np.uint8)
    r = compress(img, 2)
    out = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))
    np.testing.assert_array_equal(out, r.image)
    assert out[0, 0, 3] == 10 and (out[0, 1:, 3] == 0).all()


def _pillow_pixels(path):
    """What Pillow itself decodes, as RGB or RGBA, upright."""
    from PIL import ImageOps

    img = ImageOps.exif_transpose(Image.open(path))
    return np.asarray(img.convert("RGBA" if img.mode in ("RGBA", "LA", "PA") else "RGB"))


@pytest.mark.parametrize("mode,fmt,ext,kw,in_place", [
    ("RGB", "PNG", "png", {}, True),
    ("RGB", "PNG", "png", {"interlace": 1}, True),
    ("RGBA", "PNG", "png", {}, True),
    ("RGB", "JPEG", "jpg", {"quality": 90}, True),
    ("RGB", "TIFF", "tif", {"compression": "tiff_deflate"}, True),
    ("RGBA", "WEBP", "webp", {"lossless": True}, False),  # Pillow decodes WebP its own way
])
def test_decoded_in_place_equals_pillow(tmp_path, monkeypatch, mode, fmt, ext, kw, in_place):
    def no_copy(img):
        raise AssertionError("decoded into Pillow's memory and copied")

    if in_place:  # decoded straight into the array: no copy may be made
        monkeypatch.setattr("palettepress.io._to_array", no_copy)
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (37, 53, len(mode)), dtype=np.uint8)
    if mode == "RGBA":
        a[..., 3] = np.where(a[..., 3] < 128, 40, 255)
    path = tmp_path / f"in.{ext}"
    Image.fromarray(a, mode).save(path, fmt, **kw)
    got = load(path).pixels
    np.testing.assert_array_equal(got, _pillow_pixels(path))
    assert got.flags.c_contiguous


def test_opaque_rgba_loses_alpha_and_keeps_no_padding(tmp_path):
    a = np.dstack([photo(), np.full((24, 32), 255, np.uint8)])
    path = tmp_path / "opaque.png"
    Image.fromarray(a, "RGBA").save(path)
    got = load(path).pixels
    np.testing.assert_array_equal(got, photo())
    # The decoder's four bytes per pixel were packed to three and the rest given back.
    assert got.base is None or got.base.nbytes == got.nbytes


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(photo(20, 30)).save(path, exif=exif.tobytes())
    np.testing.assert_array_equal(load(path).pixels, _pillow_pixels(path))


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "I;16"])
def test_other_modes_equal_pillow(tmp_path, mode):
    base = Image.fromarray(photo())
    img = {"L": lambda: base.convert("L"), "P": lambda: base.quantize(16),
           "CMYK": lambda: base.convert("CMYK"), "LA": lambda: base.convert("LA"),
           "I;16": lambda: Image.fromarray(np.asarray(base.convert("L")).astype(np.uint16) * 257)}[mode]()
    path = tmp_path / ("in.tif" if mode == "CMYK" else "in.png")
    img.save(path)
    got = load(path).pixels
    expect = _pillow_pixels(path)
    if mode == "I;16":
        expect = np.repeat(np.asarray(base.convert("L"))[..., None], 3, axis=2)
    if mode == "LA":
        expect = expect[..., :3]  # fully opaque: the alpha channel is dropped
    np.testing.assert_array_equal(got, expect)


def test_png_fast_path_equals_pillow(monkeypatch, tmp_path):
    from palettepress import io as pio

    folders = [shared_file("kodak", "kodim05.png").parent,
               shared_file("graphics", "chart-lines-1.png").parent,
               shared_file("alpha", "plant_03.png").parent,
               shared_file("cbsd68", "101085.png").parent]  # a tIME chunk in every file
    files = sorted(p for f in folders for p in f.glob("*.png"))[::3]
    rng = np.random.default_rng(5)
    # Every filter type and an odd size, written by Pillow with its own filter choices.
    odd = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    Image.fromarray(odd, "RGBA").save(tmp_path / "odd.png", pnginfo=_text_info({"Comment": "hé"}), dpi=(72, 96))
    files.append(tmp_path / "odd.png")
    fast = {}
    for path in files:
        fast[path] = pio.load(path)
    monkeypatch.setattr(pio, "_fast_png_header", lambda head, max_pixels: False)
    for path in files:
        slow = pio.load(path)
        got = fast[path]
        np.testing.assert_array_equal(got.pixels, slow.pixels)
        assert (got.text, got.format, got.file_bytes) == (slow.text, slow.format, slow.file_bytes), path
        assert got.dpi == slow.dpi or got.dpi == pytest.approx(slow.dpi), path


def _text_info(text):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for k, v in text.items():
        info.add_text(k, v)
    return info


@pytest.mark.parametrize("damage", ["crc", "truncate", "filter", "idat"])
def test_png_fast_path_leaves_flawed_files_to_pillow(tmp_path, damage):
    from palettepress import io as pio
    import zlib

    img = np.random.default_rng(6).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(img).save(path)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    if damage == "crc":
        data[idat + 6] ^= 0xFF  # a byte of the chunk: its CRC no longer matches
    elif damage == "truncate":
        del data[idat + 40:]
    elif damage == "filter":
        # A filter type of 7, with a valid stream and CRC around it.
        length = int.from_bytes(data[idat - 4:idat], "big")
        raw = bytearray(zlib.decompress(bytes(data[idat + 4:idat + 4 + length])))
        raw[0] = 7
        body = zlib.compress(bytes(raw))
        data[idat - 4:idat + 8 + length] = (len(body).to_bytes(4, "big") + b"IDAT" + body
                                           + zlib.crc32(body, zlib.crc32(b"IDAT")).to_bytes(4, "big"))
    else:
        data[idat + 10] ^= 0x55
        length = int.from_bytes(data[idat - 4:idat], "big")
        crc = zlib.crc32(bytes(data[idat + 4:idat + 4 + length]), zlib.crc32(b"IDAT"))
        data[idat + 4 + length:idat + 8 + length] = crc.to_bytes(4, "big")
    assert pio._fast_png(bytes(data), 1 << 30) is None
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="a.png"):
        pio.load(path)


def test_a_png_goes_from_file_to_file_without_pillow(tmp_path):
    # Start-up: the command on a PNG the fast path decodes never loads Pillow (15-20 ms);
    # another format does.
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    Image.fromarray(pixels).save(tmp_path / "in.bmp")
    script = (
        "import sys; from palettepress.cli import main; "
        "rc = main(['compress', sys.argv[1], '-o', sys.argv[2], '-k', '16', '--force']); "
        "print(rc, 'PIL' in sys.modules)"
    )
    for name, loads_pillow in (("in.png", False), ("in.bmp", True)):
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / name), str(tmp_path / "out.png")],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        assert out[-2:] == ["0", str(loads_pillow)]
        assert Image.open(tmp_path / "out.png").mode == "P"


def test_pixel_count_reads_headers_only(tmp_path):
    from palettepress.io import pixel_count

    Image.fromarray(photo(30, 70)).save(tmp_path / "a.png")
    Image.fromarray(photo(30, 70)).save(tmp_path / "a.jpg")
    (tmp_path / "text.png").write_bytes(b"hello, world\n" * 10)
    (tmp_path / "short.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert pixel_count(tmp_path / "a.png") == 2100
    assert pixel_count(tmp_path / "a.jpg") == 2100
    for name in ("text.png", "short.png", "missing.png", ""):
        assert pixel_count(tmp_path / name) is None


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_tiff_turned_by_its_orientation_is_read_upright(tmp_path, orientation):
    # Pillow turns a TIFF as it decodes it and reports the turned size before: the
    # pixels must not be decoded into a buffer of the stored shape.
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.tif"
    Image.fromarray(photo(20, 30)).save(path, exif=exif.tobytes())
    got = load(path).pixels
    np.testing.assert_array_equal(got, _pillow_pixels(path))
    assert got.shape[:2] == ((30, 20) if orientation in (6, 8) else (20, 30))


def _keyed(mode: str):
    """An image with a tRNS colour key: (image, key, the pixels that are the key)."""
    a = photo()
    clear = np.zeros(a.shape[:2], bool)
    clear[4:12, 6:20] = True
    if mode == "RGB":
        a[clear] = (0, 255, 0)
        return Image.fromarray(a), (0, 255, 0), clear
    if mode == "L":
        g = a[..., 0].copy()
        g[g == 7] = 8
        g[clear] = 7
        return Image.fromarray(g), 7, clear
    g = a[..., 0].astype(np.uint16) * 257 + 1
    g[clear] = 4000
    return Image.fromarray(g), 4000, clear


@pytest.mark.parametrize("mode", ["RGB", "L", "I;16"])
def test_a_transparency_key_is_alpha(tmp_path, mode):
    img, key, clear = _keyed(mode)
    path = tmp_path / "key.png"
    img.save(path, transparency=key)
    px = load(path).pixels
    assert px.shape[2] == 4
    np.testing.assert_array_equal(px[..., 3] == 0, clear)
    assert (px[..., 3][~clear] == 255).all()
    for fmt in ("png", "gif", "webp"):
        out = np.asarray(Image.open(io.BytesIO(compress(path, 16, format=fmt).data)).convert("RGBA"))
        np.testing.assert_array_equal(out[..., 3] == 0, clear)
    # The same image handed over as a PIL image
    with Image.open(path) as im:
        np.testing.assert_array_equal(compress(im, 16).data, compress(path, 16).data)


def test_a_pil_image_is_read_as_its_file_is(tmp_path):
    import os

    cases = []
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo(20, 40)).save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    cases.append(tmp_path / "rot.jpg")
    a = (np.arange(24 * 32, dtype=np.uint32).reshape(24, 32) * 80).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    cases.append(tmp_path / "g16.png")
    if os.path.exists(A98):
        Image.fromarray(photo()).save(tmp_path / "icc.png", icc_profile=ImageCms.getOpenProfile(A98).tobytes())
        cases.append(tmp_path / "icc.png")
    for path in cases:
        with Image.open(path) as im:
            before = im.tobytes()
            from_pil = compress(im, 16)
            assert im.tobytes() == before  # the caller's image is left as it was
        assert from_pil.data == compress(path, 16).data, path.name


def test_an_image_files_bytes_or_file_object_is_read_as_the_file(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(photo()).save(path)
    data = path.read_bytes()
    want = compress(path, 8).data
    with open(path, "rb") as fh:
        assert compress(fh, 8).data == want
    assert compress(io.BytesIO(data), 8).data == want
    assert compress(data, 8).data == want
    assert compress(memoryview(data), 8).input_bytes == len(data)
    with pytest.raises(InputError, match="^image: not an image format"):
        compress(b"not an image", 8)
    with pytest.raises(InputError, match="^image: empty file"):
        compress(io.BytesIO(), 8)


def test_a_gif_is_read_as_browsers_show_its_first_frame(tmp_path):
    # The canvas outside a first image smaller than the screen is clear in browsers;
    # Pillow fills it with colour 0 when the image names no transparent entry.
    from test_frames import _gif_bytes

    palette = [(20, 120, 200), (250, 250, 50), (250, 50, 250), (0, 0, 0)]
    path = tmp_path / "small-first.gif"
    path.write_bytes(_gif_bytes((24, 16), palette, [
        (4, 3, np.ones((6, 8), np.uint8), 0, None),
        (0, 0, np.zeros((16, 24), np.uint8), 0, None),
    ]))  # fmt: skip
    with pytest.warns(AnimatedInputWarning):
        px = load(path).pixels
    assert px.shape == (16, 24, 4)
    assert (px[3:9, 4:12] == (250, 250, 50, 255)).all()
    outside = np.ones((16, 24), bool)
    outside[3:9, 4:12] = False
    assert (px[outside][:, 3] == 0).all()
