"""The Pillow boundary: decode any image to 8-bit sRGB pixels, and write files atomically.

Everything that touches files or Pillow's image objects lives here (and in encode.py);
the rest of the package sees numpy arrays.
"""

from __future__ import annotations

import contextlib
import io as _io
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from .errors import ImageTooLargeError, InputError, OutputError

if TYPE_CHECKING:
    from PIL import Image, ImageFile

# Pillow is imported where a file needs it: a PNG the fast path decodes (see _fast_png)
# goes from file to result without it (10-25 ms of a command's start-up, measured).

__all__ = [
    "AnimatedInputWarning",
    "LoadedImage",
    "frame_count",
    "frames_of",
    "load",
    "load_image",
    "from_array",
    "write_atomic",
    "atomic_output",
    "DEFAULT_MAX_PIXELS",
]


class AnimatedInputWarning(UserWarning):
    """An animated GIF, APNG or WebP was read as a still image: its first frame only."""


#: Default pixel limit (Pillow's decompression-bomb limit): about 179 megapixels.
DEFAULT_MAX_PIXELS = 2 * 89_478_485

_TEXT_KEYS_SKIPPED = {"icc_profile", "exif", "dpi", "transparency", "gamma", "srgb", "aspect"}


@dataclass
class LoadedImage:
    """Decoded pixels and what the output may carry over.

    Attributes
    ----------
    pixels : ndarray, uint8 (H, W, 3) or (H, W, 4)
        sRGB pixels; four channels only when some pixel is not fully opaque.
    path : str or None
        The source file, when there is one.
    file_bytes : int or None
        Size of the source file.
    format : str or None
        Pillow's name of the source format.
    text : dict
        Text metadata (PNG text chunks) of the source.
    dpi : tuple or None
        Resolution of the source.
    """

    pixels: np.ndarray
    path: str | None = None
    file_bytes: int | None = None
    format: str | None = None
    text: dict = field(default_factory=dict)
    dpi: tuple | None = None


def _name(path) -> str:
    return os.fspath(path)


def _open(path: str, fh, max_pixels: int):
    """Open and decode ``fh``; RGB and RGBA pixels are decoded straight into a new array.

    Returns the image; when the decoder wrote into it, that ``(H, W, 4)`` array
    (Pillow's own layout: four bytes per pixel, the fourth padding for RGB) with the
    image memory over it (a list, so that the caller can hand the array on without
    keeping a reference), else None; and the file's frames (:func:`frames_of`).
    """
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # The pixel limit is ours (max_pixels); Pillow's own bomb check is lifted to it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max(max_pixels, 1) // 2 + 1
        try:
            img = Image.open(fh)
            w, h = img.size
            if w * h > max_pixels:
                raise ImageTooLargeError(
                    f"{path}: {w}x{h} = {w * h} pixels is more than the limit of {max_pixels}"
                )
            frames = frames_of(img)
            img.seek(0)
            target = _decode_target(img)
            img.load()
            if target is not None and not (img.im is target[1] and img.size == (w, h)):
                target = None  # the decoder made its own image: copy from that instead
            return img, target, frames
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(f"{path}: more pixels than the limit of {max_pixels}") from exc
        except UnidentifiedImageError as exc:
            raise InputError(f"{path}: not an image format palettepress can read") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            cause = str(exc) or type(exc).__name__
            if "truncated" in cause or isinstance(exc, EOFError):
                cause = "truncated image data"
            raise InputError(f"{path}: corrupt or truncated image ({cause})") from exc
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def frames_of(img: ImageFile.ImageFile) -> int:
    """Frames of an animated GIF, APNG or WebP Pillow opened, read from the headers
    (nothing decoded); 1 for any other image, and where they cannot be counted (a still
    image's decoding then says what is wrong, if anything)."""
    if img.format not in ("GIF", "PNG", "WEBP"):
        return 1
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception:  # a later frame truncated or corrupt: the first may still decode
        return 1


def frame_count(path) -> int:
    """Frames of the animated GIF, APNG or WebP ``path``; 1 for any other file, and for
    one Pillow cannot open (:func:`load` says why).

    Read from the headers by Pillow, nothing decoded: about 0.1 ms, where
    :func:`palettepress.frames.open_frames` decodes the first frame (30 ms for a Kodak
    photo), which every still PNG would pay a second time.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's size warning: the pixel limit is ours
            with Image.open(path) as image:
                return frames_of(image)
    except Exception:  # not an image, truncated, too large: load() says why
        return 1


def _decode_target(img: ImageFile.ImageFile):
    """A numpy array, and Pillow's image memory over it, for the decoder to write into.

    Pillow keeps RGB and RGBA pixels in four bytes each; handing the decoder image
    memory that is a numpy array's buffer saves the copy from Pillow's memory into the
    array, which would hold the image twice (a 110-megapixel photo: 440 MB decoded plus
    330 MB copied). Pillow decodes into an image it is given (``ImageFile.load_prepare``
    only allocates when there is none); the caller checks that it did.
    """
    from PIL import Image

    if img.mode not in ("RGB", "RGBA") or not img.tile or "transparency" in img.info:
        return None  # (a colour key: converted to alpha through Pillow's own image)
    w, h = img.size
    # Pillow turns a TIFF by its orientation as it decodes: the size it reports is the
    # turned one, its tiles the stored ones.
    if any(t.extents is None or t.extents[2] > w or t.extents[3] > h for t in img.tile):
        return None
    buf = np.empty((h, w, 4), dtype=np.uint8)
    try:
        core = Image.core.map_buffer(buf, (w, h), "raw", 0, (img.mode, 0, 1))
        img.im = core
    except (AttributeError, TypeError, ValueError):
        return None
    return [buf, core]


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert through an embedded ICC profile to sRGB (RGB or RGBA out).

    The decoded image is this function's own, so it is converted in place where the
    modes allow: a 12-megapixel photo would otherwise hold three or four 36 MB copies
    at once (decoded, alpha-free, colour-converted, and the array made from it).
    """
    icc = img.info.get("icc_profile")
    # A transparency key (a PNG's tRNS on a palette, grey or RGB image) makes alpha.
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    if img.mode not in ("RGB", "RGBA", "L", "LA", "CMYK") or (
        has_alpha and img.mode in ("RGB", "L")
    ):
        img = img.convert("RGBA" if has_alpha else "RGB")
    if icc:
        from PIL import ImageCms  # only files with a profile pay for loading it

        try:
            src = ImageCms.ImageCmsProfile(_io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            if img.mode == "RGB":
                ImageCms.profileToProfile(img, src, dst, outputMode="RGB", inPlace=True)
                return img
            alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
            base = img.convert({"RGBA": "RGB", "LA": "L"}.get(img.mode, img.mode))
            converted = ImageCms.profileToProfile(base, src, dst, outputMode="RGB")
            assert converted is not None  # None only for inPlace=True
            if alpha is not None:
                converted.putalpha(alpha)
            return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unusable profile: treat the pixels as sRGB, as browsers do
    want = "RGBA" if has_alpha else "RGB"
    return img if img.mode == want else img.convert(want)


def _to_array(img: Image.Image) -> np.ndarray:
    """The pixels of an RGB or RGBA image as a new (H, W, C) uint8 array, strip by strip.

    ``np.asarray(img)`` goes through ``tobytes()``, which joins a list of chunks and so
    holds two extra copies of the image at its peak; copying strips of about 4 MB into
    the final array holds one.
    """
    w, h = img.size
    channels = len(img.getbands())
    out = np.empty((h, w, channels), dtype=np.uint8)
    step = max(1, (4 << 20) // max(w * channels, 1))
    for top in range(0, h, step):
        bottom = min(h, top + step)
        out[top:bottom] = np.asarray(img.crop((0, top, w, bottom))).reshape(
            bottom - top, w, channels
        )
    return out


def _copy_pixels(img: Image.Image) -> np.ndarray:
    """:func:`_to_array`, with the alpha channel packed away when every pixel is opaque."""
    pixels = _to_array(img)
    return pixels if pixels.shape[2] == 3 else _pack(pixels, True)


def _sixteen_bit(img: Image.Image) -> Image.Image | None:
    """8-bit grey image from 16-bit grey, rounded (Pillow's convert clips instead of
    scaling), with alpha where a transparency key makes pixels clear."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.int64)
        peak = 65535 if img.mode != "I" or a.max() > 255 else 255
        grey = Image.fromarray(
            ((np.clip(a, 0, peak) * 255 + peak // 2) // peak).astype(np.uint8), "L"
        )
        key = img.info.get("transparency")
        if isinstance(key, int):  # a tRNS grey level: transparent where the pixel is it
            grey.putalpha(Image.fromarray(np.where(a == key, 0, 255).astype(np.uint8), "L"))
        return grey
    return None


def from_array(array: np.ndarray) -> LoadedImage:
    """Wrap an array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` of uint8 as a loaded image."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise InputError(f"array: dtype {a.dtype} is not uint8")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"array: shape {a.shape} is not (H, W), (H, W, 3) or (H, W, 4)")
    if a.shape[2] == 4 and (a[:, :, 3] == 255).all():
        a = a[:, :, :3]
    return LoadedImage(pixels=np.ascontiguousarray(a))


def load_image(image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """A :class:`LoadedImage` from a path, a uint8 array, a PIL image (:func:`from_pil`),
    an image file's bytes or a binary file object (:func:`load_bytes`), or a loaded
    image."""
    if isinstance(image, LoadedImage):
        return image
    if isinstance(image, (str, os.PathLike)):
        return load(image, max_pixels=max_pixels)
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "convert"):
        return from_pil(image)
    if isinstance(image, (bytes, bytearray, memoryview)) or hasattr(image, "read"):
        name = getattr(image, "name", None)
        return load_bytes(image, name if isinstance(name, str) else "image", max_pixels=max_pixels)
    return from_array(image)


def from_pil(image: Image.Image) -> LoadedImage:
    """A PIL image's pixels and metadata as :func:`load` gives a file's: turned upright by
    its EXIF orientation, through its ICC profile to sRGB, 16-bit grey rounded to 8 bits,
    alpha kept (a transparency key too) where some pixel is not opaque; its text entries
    and resolution. ``image`` itself is not changed."""
    img = image
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except (OSError, ValueError, SyntaxError, TypeError, struct.error):
        orientation = 1
    if orientation in _ORIENTATIONS:
        from PIL import ImageOps

        img = ImageOps.exif_transpose(img) or img
    try:
        img = _sixteen_bit(img) or img
        if img is image and img.mode == "RGB" and img.info.get("icc_profile"):
            img = img.copy()  # _to_srgb converts an RGB image in place
        loaded = from_array(_copy_pixels(_to_srgb(img)))
    except (OSError, ValueError) as exc:
        raise InputError(f"image: cannot convert the pixels to RGB ({exc})") from exc
    loaded.text, loaded.dpi = _metadata(image.info)
    return loaded


#: Largest image the PNG fast path decodes; larger ones stream through Pillow, which holds
#: less at once (the fast path keeps the file and the filtered scanlines in memory).
_FAST_PNG_MAX_PIXELS = 8 << 20

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Chunks the fast path reads past: none of them changes the pixels (tIME, when the image
#: was last changed, is carried by no output; CBSD68's photos all have one).
_FAST_PNG_CHUNKS = {b"IHDR", b"IDAT", b"IEND", b"sRGB", b"gAMA", b"cHRM", b"pHYs", b"tEXt", b"tIME"}


def pixel_count(path) -> int | None:
    """Width times height of the image file ``path`` as its header gives them (a PNG's
    IHDR read directly, other formats through Pillow's header parse, no pixels decoded),
    or None where the header cannot be read: :func:`load` then says why."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(33)
            if len(head) == 33 and head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
                w, h = struct.unpack_from(">II", head, 16)
                return w * h
            fh.seek(0)
            from PIL import Image

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None  # a size, not a decode: no limit to check
                try:
                    with Image.open(fh) as img:
                        return img.width * img.height
                finally:
                    Image.MAX_IMAGE_PIXELS = saved
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        return None


def _fast_png_header(head: bytes, max_pixels: int) -> bool:
    """Whether a file's first 33 bytes are a PNG signature and an IHDR the fast path takes."""
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return False
    w, h, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", head, 16)
    return (
        depth == 8
        and colour in (2, 6)
        and not interlace
        and 0 < w * h <= min(max_pixels, _FAST_PNG_MAX_PIXELS)
    )


def _fast_png(data: bytes, max_pixels: int):
    """``(pixels, text, dpi)`` of an 8-bit RGB or RGBA, non-interlaced PNG with nothing
    to convert (no ICC profile, EXIF, palette or tRNS; text only in tEXt chunks), or None
    for anything else, including any flaw, which Pillow then decodes or reports.

    Measured on the Kodak photos: libdeflate's inflate and the compiled unfiltering take
    about half of Pillow's decoding time (zlib's inflate, then a copy from four bytes a
    pixel), and decoding is a seventh of a whole default compress (BENCHMARKS.md, design
    measurements); the pixels are Pillow's exactly (tests compare them).
    """
    import zlib

    import deflate

    from . import _kernels

    if len(data) < 8 + 25 or data[:8] != _PNG_SIGNATURE:
        return None
    pos, idat, text, dpi, header = 8, [], {}, None, None
    while True:
        if pos + 12 > len(data):
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data) or kind not in _FAST_PNG_CHUNKS or (header is None) != (kind == b"IHDR"):
            return None
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack_from(">I", data, end - 4)[0]:
            return None
        if kind == b"IHDR":
            if length != 13:
                return None
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            if key.lower() == b"exif" or key.lower().startswith(b"raw profile"):
                return None  # EXIF in text: Pillow reads an orientation from it
            if key:
                text[key.decode("latin-1")] = value.decode("latin-1", "replace")
        elif kind == b"pHYs" and length >= 9 and body[8] == 1:
            px, py = struct.unpack_from(">II", body)
            dpi = (px * 0.0254, py * 0.0254)
        pos = end
        if kind == b"IEND":
            break
    if header is None:
        return None
    w, h, depth, colour, compression, filtering, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if (
        channels is None
        or depth != 8
        or compression
        or filtering
        or interlace
        or not idat
        or not 0 < w * h <= min(max_pixels, _FAST_PNG_MAX_PIXELS)
    ):
        return None
    size = h * (1 + w * channels)
    try:
        raw = deflate.zlib_decompress(idat[0] if len(idat) == 1 else b"".join(idat), size)
    except deflate.DeflateError:
        return None
    if len(raw) != size:
        return None
    buf = np.frombuffer(raw, dtype=np.uint8)
    if not _kernels.png_unfilter(buf, h, w * channels, channels):
        return None
    pixels = buf[: h * w * channels].reshape(h, w, channels)
    if channels == 4 and _opaque(pixels):
        pixels = np.ascontiguousarray(pixels[..., :3])
    return pixels, {k: v for k, v in text.items() if k.lower() not in _TEXT_KEYS_SKIPPED}, dpi


def load(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image file to 8-bit sRGB pixels.

    Applies the EXIF orientation, converts an embedded ICC profile to sRGB, reduces 16-bit
    samples to 8 bits with rounding, expands grey and palette images to RGB, and keeps an
    alpha channel only when some pixel is not fully opaque. Multi-frame files (GIF, TIFF)
    give their first frame.

    RGB and RGBA images are decoded into the returned array's own memory and converted
    there, so the peak is about one decoded image (four bytes per pixel), not two.

    Raises
    ------
    InputError
        The file is missing, empty, not an image, truncated or corrupt.
    ImageTooLargeError
        The image has more than ``max_pixels`` pixels.
    """
    name = _name(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the `with fh:` below)
    except FileNotFoundError as exc:
        if "://" in name:
            raise InputError(
                f"{name}: no such file (a URL: palettepress batch reads s3:// and other storage)"
            ) from exc
        raise InputError(f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{name}: is a directory, not an image file") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    with fh:
        try:
            file_bytes = os.fstat(fh.fileno()).st_size
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
        return _decode(name, fh, file_bytes, max_pixels)


def load_bytes(data, name: str = "image", *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """:func:`load` of an image file's bytes held in memory (``bytes``, ``bytearray``,
    ``memoryview`` or a binary file object, read from where it stands); ``name`` for
    messages."""
    if hasattr(data, "read"):
        try:
            data = data.read()
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"{name}: the file object gave {type(data).__name__}, not bytes")
    data = bytes(data)
    return _decode(name, _io.BytesIO(data), len(data), max_pixels)


def _decode(name: str, fh, file_bytes: int, max_pixels: int) -> LoadedImage:
    """:func:`load`'s work on the open binary file ``fh`` of ``file_bytes`` bytes."""
    if not file_bytes:
        raise InputError(f"{name}: empty file")
    try:
        head = fh.read(33)
        data = fh.read() if _fast_png_header(head, max_pixels) else None
        fh.seek(0)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    fast = _fast_png(head + data, max_pixels) if data is not None else None
    if fast is not None:
        pixels, text, dpi = fast
        return LoadedImage(
            pixels=pixels, path=name, file_bytes=file_bytes, format="PNG", text=text, dpi=dpi
        )
    del data
    gif = _gif_first_frame(name, fh, max_pixels) if head[:6] in (b"GIF87a", b"GIF89a") else None
    if gif is not None:
        pixels, frames = gif
        if frames > 1:
            _warn_animated(name, frames)
        return LoadedImage(pixels=pixels, path=name, file_bytes=file_bytes, format="GIF")
    img, target, frames = _open(name, fh, max_pixels)
    if frames > 1:
        _warn_animated(name, frames)
    fmt = img.format
    info = dict(img.info)
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except (OSError, ValueError, SyntaxError, TypeError):
        orientation = 1  # unreadable EXIF: keep the stored orientation
    try:
        if target is not None:
            has_alpha = img.mode == "RGBA"
            converted = _to_srgb(img)
            in_place = converted is img and img.im is target[1]
            del img, target[1]
            if in_place:
                del converted
                # The only reference to the array moves into _pack, which can then shrink it.
                pixels = _orient(_pack(target.pop(), has_alpha), orientation)
            else:
                del target
                pixels = _orient(_copy_pixels(converted), orientation)
                del converted
        else:
            if orientation != 1 and orientation in _ORIENTATIONS:
                from PIL import ImageOps

                img = ImageOps.exif_transpose(img) or img
            grey16 = _sixteen_bit(img)
            if grey16 is not None:
                img = grey16
            img = _to_srgb(img)
            pixels = _copy_pixels(img)
            del img  # the array is a copy: drop the decoded image before any more work
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: cannot convert the pixels to RGB ({exc})") from exc
    text, dpi = _metadata(info)
    return LoadedImage(
        pixels=pixels, path=name, file_bytes=file_bytes, format=fmt, text=text, dpi=dpi
    )


def _warn_animated(name: str, frames: int) -> None:
    warnings.warn(
        f"{name}: an animation of {frames} frames: only the first is read "
        "(palettepress animate keeps them all)",
        AnimatedInputWarning,
        stacklevel=4,
    )


def _gif_first_frame(name: str, fh, max_pixels: int) -> tuple[np.ndarray, int] | None:
    """A GIF's first frame as browsers show it (:mod:`palettepress.gifread`: the canvas
    clear outside its image), and its number of frames; None where gifread does not take
    the file (Pillow then reads or reports it)."""
    from . import gifread

    try:
        data = fh.read()
        fh.seek(0)
        width, height, images = gifread.read_gif(data)
    except (OSError, ValueError):
        return None
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} = {width * height} pixels is more than the limit of "
            f"{max_pixels}"
        )
    canvas = next(gifread.composited(data, width, height, images[:1]))
    return (np.ascontiguousarray(canvas[..., :3]) if _opaque(canvas) else canvas), len(images)


def _metadata(info: dict) -> tuple[dict, tuple[float, float] | None]:
    """The text entries and resolution of a Pillow image's ``info`` that a PNG carries on."""
    text = {
        k: v
        for k, v in info.items()
        if isinstance(k, str) and isinstance(v, str) and k.lower() not in _TEXT_KEYS_SKIPPED
    }
    dpi = info.get("dpi")
    if dpi is not None:
        try:
            dpi = (float(dpi[0]), float(dpi[1]))
        except (TypeError, ValueError, IndexError):
            dpi = None
    return text, dpi


#: EXIF orientation (tag 0x0112) to the view that displays the stored pixels upright,
#: as Pillow's ``ImageOps.exif_transpose``.
_ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: a.transpose(1, 0, 2)[::-1],
}


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    turn = _ORIENTATIONS.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))


_STRIP_PIXELS = 1 << 20


def _opaque(pixels: np.ndarray) -> bool:
    """Whether every alpha value is 255, checked strip by strip (no image-sized mask)."""
    alpha = pixels.reshape(-1, pixels.shape[-1])[:, 3]
    return all(
        bool((alpha[i : i + _STRIP_PIXELS] == 255).all())
        for i in range(0, len(alpha), _STRIP_PIXELS)
    )


def _pack(buf: np.ndarray, keep_alpha: bool) -> np.ndarray:
    """``(H, W, 4)`` pixels as ``(H, W, 3)`` (or ``(H, W, 4)`` with ``keep_alpha`` when some
    pixel is translucent) in the same memory: the three colour bytes are moved forward
    strip by strip and the unused tail returned to the system."""
    if keep_alpha and not _opaque(buf):
        return buf
    h, w, _ = buf.shape
    n = h * w
    quads = buf.reshape(n, 4)
    triples = buf.reshape(-1)[: 3 * n].reshape(n, 3)
    for i in range(0, n, _STRIP_PIXELS):
        # Earlier strips wrote below byte 3i, where this strip's source (from byte 4i)
        # cannot start; within the strip numpy buffers the overlap.
        triples[i : i + _STRIP_PIXELS] = quads[i : i + _STRIP_PIXELS, :3]
    del quads, triples
    try:
        buf.resize(3 * n, refcheck=True)
    except ValueError:
        pass  # a view, or referenced elsewhere: keep the memory and use its first 3/4
    return buf.reshape(-1)[: 3 * n].reshape(h, w, 3)


def write_atomic(path, data: bytes, *, force: bool = False, source=None) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a partial file, and a failure leaves nothing behind.

    Raises
    ------
    OutputError
        ``path`` exists and ``force`` is false, ``path`` is the ``source`` file, or the
        write fails.
    """
    with atomic_output(path, force=force, source=source) as fh:
        fh.write(data)


def check_output(name: str, force: bool) -> None:
    """:class:`OutputError` where ``name`` is a directory, or a file that exists and
    ``force`` is false (a device or a FIFO is written to without it)."""
    if os.path.isdir(name):
        raise OutputError(f"{name}: is a directory")
    if os.path.exists(name) and not force and not _special(name):
        raise OutputError(f"{name}: already exists (use --force to overwrite)")


def _special(name: str) -> bool:
    """Whether ``name`` is neither a regular file nor a directory: a device, a FIFO, a
    socket."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _hidden_beside(name: str, folder: str) -> tuple[int, str]:
    """A new hidden file in ``folder`` named after ``name``, created exclusively, readable
    and writable by its owner only: ``(descriptor, path)``, as ``tempfile.mkstemp`` gives
    (whose import, with ``random``'s, is 1.4 ms of a command's start-up)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(name)}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free name for a temporary file")


@contextlib.contextmanager
def atomic_output(path, *, force: bool = False, source=None) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s content into, a piece at a time: it is a hidden
    temporary file beside ``path``, renamed to ``path`` when the block ends and removed
    if the block raises. The checks and errors are :func:`write_atomic`'s."""
    # os.path rather than pathlib: pathlib's import is 5 ms of a command's start-up.
    name = _name(path)
    if source is not None:
        try:
            same = os.path.exists(name) and os.path.samefile(name, source)
        except OSError:
            same = False
        if same or os.path.abspath(name) == os.path.abspath(_name(source)):
            raise OutputError(f"{name}: output would overwrite the input file")
    check_output(name, force)
    if _special(name):
        # A device, a FIFO or a socket (/dev/null, a named pipe) is written to, never
        # replaced by a file.
        try:
            with open(name, "wb") as fh:
                yield fh
        except OSError as exc:
            raise OutputError(f"{name}: cannot write ({exc.strerror or exc})") from exc
        return
    folder = os.path.dirname(name) or "."
    try:
        fd, tmp = _hidden_beside(name, folder)
    except OSError as exc:
        raise OutputError(f"{name}: cannot write ({exc.strerror or exc})") from exc
    try:
        # A replaced file keeps its permissions; a new one gets what a plain open gives.
        mode = os.stat(name).st_mode & 0o7777 if os.path.exists(name) else 0o666 & ~_umask()
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, mode)
        os.replace(tmp, name)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"{name}: cannot write ({exc.strerror or exc})") from exc
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
