"""Mutated image files: compress raises InputError or succeeds, never anything else.

Real PNG, JPEG, GIF, WebP and TIFF bytes (made here, small) are mutated by bit flips,
truncation, overwritten and inserted bytes, lying PNG chunk lengths, huge dimensions
and bad palettes, through the API and the command line. A few hundred cases run in the
suite; a longer run (a tenth of them through the command line):

    PALETTEPRESS_FUZZ_EXAMPLES=10000 python -m pytest tests/test_fuzz.py -q
"""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from palettepress import compress
from palettepress.cli import main
from palettepress.errors import InputError

EXAMPLES = int(os.environ.get("PALETTEPRESS_FUZZ_EXAMPLES", "300"))


def _seed_files() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:24, 0:32]
    rgb = np.clip(np.stack([x * 8, y * 10, (x + y) * 4], -1) + rng.normal(0, 9, (24, 32, 3)), 0, 255)
    rgb = rgb.astype(np.uint8)
    rgba = np.dstack([rgb, (x * 8).astype(np.uint8)])
    out = {}
    for name, img, fmt, kw in [("rgb.png", rgb, "PNG", {}), ("rgba.png", rgba, "PNG", {}),
                               ("palette.png", rgb, "PNG", {"palette": True}),
                               ("photo.jpg", rgb, "JPEG", {"quality": 80}),
                               ("anim.gif", rgb, "GIF", {}), ("lossless.webp", rgba, "WEBP", {"lossless": True}),
                               ("lossy.webp", rgb, "WEBP", {"quality": 70}), ("deflate.tif", rgb, "TIFF",
                                                                              {"compression": "tiff_adobe_deflate"})]:
        im = Image.fromarray(img)
        if kw.pop("palette", False):
            im = im.quantize(16)
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out[name] = buf.getvalue()
    return out


SEEDS = _seed_files()


def _png_chunks(data: bytes) -> list[int]:
    """Offsets of the chunks of a PNG file."""
    pos, found = 8, []
    while pos + 8 <= len(data):
        found.append(pos)
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 12 + n
    return found


def _recrc(data: bytearray, pos: int) -> None:
    (n,) = struct.unpack(">I", data[pos:pos + 4])
    body = bytes(data[pos + 4:pos + 8 + n])
    data[pos + 8 + n:pos + 12 + n] = struct.pack(">I", zlib.crc32(body))


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "overwrite", "insert", "chunk-length",
                                     "dimensions", "palette"]))
        if len(data) < 16:
            break
        if kind == "flip":
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[draw(st.integers(1, len(data) - 1)):]
        elif kind == "overwrite":
            i = draw(st.integers(0, len(data) - 1))
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[i:i + len(chunk)] = chunk
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif data[:8] == b"\x89PNG\r\n\x1a\n":
            chunks = _png_chunks(bytes(data))
            if kind == "chunk-length" and chunks:
                pos = draw(st.sampled_from(chunks))
                data[pos:pos + 4] = struct.pack(">I", draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1]))
                                                 if draw(st.booleans()) else draw(st.integers(0, 2**32 - 1)))
            elif kind == "dimensions" and chunks and data[chunks[0] + 4:chunks[0] + 8] == b"IHDR":
                pos = chunks[0]
                data[pos + 8:pos + 16] = struct.pack(">II", draw(st.sampled_from([0, 1, 65535, 2**31 - 1])),
                                                     draw(st.sampled_from([0, 1, 100000, 2**31 - 1])))
                _recrc(data, pos)  # a valid chunk that lies about the size
            elif kind == "palette":
                for pos in chunks:
                    if data[pos + 4:pos + 8] in (b"PLTE", b"tRNS"):
                        (n,) = struct.unpack(">I", data[pos:pos + 4])
                        cut = draw(st.integers(0, n))
                        del data[pos + 8 + cut:pos + 8 + n]  # a short palette, a valid CRC
                        data[pos:pos + 4] = struct.pack(">I", cut)
                        _recrc(data, pos)
                        break
    return name, bytes(data)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=mutated())
def test_mutated_files_give_input_error_or_a_result(tmp_path_factory, case):
    name, data = case
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    try:
        result = compress(path, 8, max_pixels=4_000_000)
    except InputError as exc:
        event(f"{name}: InputError")
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path))
    else:
        event(f"{name}: compressed")
        assert result.output_bytes == len(result.data) > 0
    assert path.read_bytes() == data  # the input is never touched


@settings(max_examples=max(30, EXAMPLES // 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_cli_on_a_mutated_file_exits_3_in_one_line_or_0(tmp_path_factory, capsys, case):
    name, data = case
    folder = tmp_path_factory.mktemp("cli")
    src, out = folder / name, folder / "out.png"
    src.write_bytes(data)
    code = main(["compress", str(src), "-o", str(out), "-k", "8", "--max-pixels", "4000000"])
    err = capsys.readouterr().err
    assert code in (0, 3), err
    assert "Traceback" not in err
    if code == 3:
        errors = [line for line in err.splitlines() if line.startswith("palettepress: error: ")]
        assert len(errors) == 1 and str(src) in errors[0]
        assert sorted(p.name for p in folder.iterdir()) == [name]  # no output, no temporary file
    else:
        with Image.open(out) as im:
            im.load()
    assert src.read_bytes() == data
