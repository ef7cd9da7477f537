"""The Pillow boundary: decode any image to 8-bit sRGB pixels, and write files atomically.

Everything that touches files or Pillow's image objects lives here (and in encode.py);
the rest of the package sees numpy arrays.
"""

from __future__ import annotations

import io as _io
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageTooLargeError, InputError, OutputError

__all__ = ["LoadedImage", "load", "from_array", "write_atomic", "DEFAULT_MAX_PIXELS"]

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


def _open(path: str, data: bytes, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings():
        # The pixel limit is ours (max_pixels); Pillow's own bomb check is lifted to it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max(max_pixels, 1) // 2 + 1
        try:
            img = Image.open(_io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise ImageTooLargeError(
                    f"{path}: {w}x{h} = {w * h} pixels is more than the limit of {max_pixels}")
            img.seek(0)
            img.load()
            return img
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


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert through an embedded ICC profile to sRGB (RGB or RGBA out).

    The decoded image is this function's own, so it is converted in place where the
    modes allow: a 12-megapixel photo would otherwise hold three or four 36 MB copies
    at once (decoded, alpha-free, colour-converted, and the array made from it).
    """
    icc = img.info.get("icc_profile")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if img.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
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
        out[top:bottom] = np.asarray(img.crop((0, top, w, bottom))).reshape(bottom - top, w, channels)
    return out


def _sixteen_bit(img: Image.Image) -> Image.Image | None:
    """8-bit grey image from 16-bit grey, rounded (Pillow's convert clips instead of scaling)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.int64)
        peak = 65535 if img.mode != "I" or a.max() > 255 else 255
        return Image.fromarray(((np.clip(a, 0, peak) * 255 + peak // 2) // peak).astype(np.uint8), "L")
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


def load(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image file to 8-bit sRGB pixels.

    Applies the EXIF orientation, converts an embedded ICC profile to sRGB, reduces 16-bit
    samples to 8 bits with rounding, expands grey and palette images to RGB, and keeps an
    alpha channel only when some pixel is not fully opaque. Multi-frame files (GIF, TIFF)
    give their first frame.

    Raises
    ------
    InputError
        The file is missing, empty, not an image, truncated or corrupt.
    ImageTooLargeError
        The image has more than ``max_pixels`` pixels.
    """
    name = _name(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError as exc:
        raise InputError(f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{name}: is a directory, not an image file") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if not data:
        raise InputError(f"{name}: empty file")
    img = _open(name, data, max_pixels)
    fmt = img.format
    info = dict(img.info)
    try:
        if img.getexif().get(0x0112, 1) != 1:  # Orientation: only rotated files load ImageOps
            from PIL import ImageOps

            img = ImageOps.exif_transpose(img) or img
    except (OSError, ValueError, SyntaxError):
        pass  # unreadable EXIF: keep the stored orientation
    grey16 = _sixteen_bit(img)
    if grey16 is not None:
        img = grey16
    try:
        img = _to_srgb(img)
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: cannot convert {img.mode} pixels to RGB ({exc})") from exc
    pixels = _to_array(img)
    del img  # the array is a copy: drop the decoded image before any more work
    if pixels.shape[2] == 4 and (pixels[:, :, 3] == 255).all():
        pixels = pixels[:, :, :3]
    text = {k: v for k, v in info.items()
            if isinstance(k, str) and isinstance(v, str) and k.lower() not in _TEXT_KEYS_SKIPPED}
    dpi = info.get("dpi")
    if dpi is not None:
        try:
            dpi = (float(dpi[0]), float(dpi[1]))
        except (TypeError, ValueError, IndexError):
            dpi = None
    return LoadedImage(pixels=np.ascontiguousarray(pixels), path=name, file_bytes=len(data),
                       format=fmt, text=text, dpi=dpi)


def write_atomic(path, data: bytes, *, force: bool = False, source=None) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a partial file, and a failure leaves nothing behind.

    Raises
    ------
    OutputError
        ``path`` exists and ``force`` is false, ``path`` is the ``source`` file, or the
        write fails.
    """
    name = _name(path)
    target = Path(path)
    if source is not None:
        try:
            same = target.exists() and os.path.samefile(target, source)
        except OSError:
            same = False
        if same or os.path.abspath(name) == os.path.abspath(_name(source)):
            raise OutputError(f"{name}: output would overwrite the input file")
    if target.is_dir():
        raise OutputError(f"{name}: is a directory")
    if target.exists() and not force:
        raise OutputError(f"{name}: already exists (use --force to overwrite)")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{name}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
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
