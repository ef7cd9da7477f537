"""Reading images and frame files with Pillow: the still and animation readers of
:mod:`palettepress.frames`.

- :class:`_PillowReader`: animated GIF, APNG and WebP (Pillow composites each frame onto
  the canvas, as a viewer does), any other multi-frame image Pillow reads, and stills (one
  frame, decoded by :func:`palettepress.io.load`). Delays count as browsers honour them,
  an embedded ICC profile is converted to sRGB, and a WebP whose chunk list is damaged is
  refused naming its first broken frame (:func:`_webp_broken_frame`).
- :class:`_FilesReader`: a folder, a glob pattern or a list of paths, in natural name
  order, each file decoded by :func:`palettepress.io.load`; all must be one size.
- :class:`_MemoryReader`: arrays or PIL images in memory.

Readers only: :mod:`palettepress.frames` picks one and turns its intervals into frames.
Nothing here quantizes, remaps, encodes or writes, prints or reads the environment, and
nothing here touches PyAV: videos are :mod:`palettepress.video`'s.
"""

from __future__ import annotations

import contextlib
import glob
import mmap
import os
import re
import struct
import warnings
from collections.abc import Iterator, Sequence
from fractions import Fraction
from functools import partial

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import gifread
from ._framebase import (
    _DEFAULT_DURATION,
    _check_pixels,
    _Interval,
    _Options,
    _Reader,
    _scaled_size,
)
from .errors import ImageTooLargeError, InputError
from .io import load, load_image

#: Firefox (``FrameTimeout::FromRawMilliseconds``, for every animated format), Chromium
#: and Safari (WebKit's ``ImageSource``) show a frame whose delay is 10 ms or less for
#: 100 ms instead: broken tools write 0 when they mean "the default". GIF's missing delay
#: (no Graphic Control Extension) is a delay of 0.
_BROWSER_MIN_DELAY_MS = 10
_BROWSER_DEFAULT_DELAY_MS = 100

#: Formats Pillow recognises but cannot decode: videos for PyAV.
_PILLOW_IDENTIFY_ONLY = frozenset({"MPEG"})


# --- Pixels -------------------------------------------------------------------------------


def _rgb_image(img: Image.Image) -> Image.Image:
    """RGB or RGBA (when the mode or a transparency key can make pixels see-through)."""
    see_through = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    want = "RGBA" if see_through else "RGB"
    return img if img.mode == want else img.convert(want)


def _image_pixels(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """An RGB or RGBA image, resized to ``size`` with LANCZOS, as a new writable array;
    the alpha channel dropped when every pixel is opaque.

    Pillow resizes RGBA with premultiplied alpha, so invisible colours do not bleed."""
    if img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    if img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 255:
        img = img.convert("RGB")
    return np.array(img)


def _array_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """:func:`_image_pixels` for decoded (RGB or RGBA) pixels."""
    if (pixels.shape[1], pixels.shape[0]) == size:
        return np.ascontiguousarray(pixels)
    return _image_pixels(Image.fromarray(pixels), size)


@contextlib.contextmanager
def _pillow_errors(name: str, what: str):
    """Pillow's exceptions as one-line :class:`InputError`; its warnings silenced.

    Wraps decoding calls only, never a ``yield`` of a frame, so the warning filters are
    back in place whenever the caller's code runs.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: {what} has too many pixels ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        cause = str(exc) or type(exc).__name__
        if "truncated" in cause.lower() or isinstance(exc, (EOFError, IndexError)):
            raise InputError(f"{name}: {what} is truncated or corrupt") from exc
        raise InputError(f"{name}: {what} is corrupt ({cause})") from exc


# --- Files --------------------------------------------------------------------------------


def _file_size(name: str) -> int:
    try:
        size = os.stat(name).st_size
        with open(name, "rb"):
            pass
    except FileNotFoundError as exc:
        raise InputError(f"{name}: no such file or folder") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if not size:
        raise InputError(f"{name}: empty file")
    return size


def _open_image(name: str) -> Image.Image | None:
    """Pillow's view of a file's header, or None when Pillow cannot identify it."""
    with _pillow_errors(name, "the image"):
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # the limit is max_pixels, checked by the callers
        try:
            img = Image.open(name)
        except UnidentifiedImageError:
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    if img.format in _PILLOW_IDENTIFY_ONLY:
        img.close()
        return None
    return img


def _webp_broken_frame(name: str) -> tuple[int, str] | None:
    """``(frame number, "truncated" or "corrupt")`` of the first animation frame (ANMF
    chunk) of a WebP file whose chunk structure is cut short or damaged, if any.

    libwebp refuses such an animation as a whole, so Pillow cannot say which frame is
    broken; the RIFF chunk list can. (Damage inside a frame's compressed data passes this
    check, and Pillow then names the frame when decoding it.)
    """
    try:
        with open(name, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    pos, frames = 12, 0
    while pos < len(data):
        if pos + 8 > len(data):
            return frames, "truncated"
        kind, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if not all(32 <= c < 127 for c in kind):
            return frames, "corrupt"
        if pos + 8 + size > len(data):
            return frames, "truncated"
        if kind == b"ANMF":
            if not _anmf_well_formed(data[pos + 8 : pos + 8 + size]):
                return frames, "corrupt"
            frames += 1
        pos += 8 + size + (size & 1)
    return None


def _anmf_well_formed(body: bytes) -> bool:
    """Whether an ANMF chunk's sub-chunks fit in it and its bitstream starts as it must."""
    pos = 16  # frame position, size, duration and flags
    while pos < len(body):
        if pos + 8 > len(body):
            return False
        kind, size = body[pos : pos + 4], struct.unpack_from("<I", body, pos + 4)[0]
        payload = body[pos + 8 : pos + 8 + size]
        if len(payload) < size or not all(32 <= c < 127 for c in kind):
            return False
        if kind == b"VP8L" and payload[:1] != b"\x2f":
            return False
        if kind == b"VP8 " and payload[3:6] != b"\x9d\x01\x2a":
            return False
        pos += 8 + size + (size & 1)
    return pos > 16


def _upright_size(img: Image.Image) -> tuple[int, int]:
    """Size of an image as io.load gives it: turned by its EXIF orientation."""
    w, h = img.size
    if img.format == "TIFF":
        return w, h  # Pillow gives a TIFF's size turned, and turns its pixels as it loads
    if img.format == "PNG" and "exif" not in img.info:
        # A PNG's EXIF comes before its pixels or (rarely) after them, where reading it
        # means decoding the whole image: not for a header check. Frames are checked
        # again as they are decoded.
        return w, h
    try:
        if int(img.getexif().get(0x0112, 1)) in (5, 6, 7, 8):
            return h, w
    except (OSError, ValueError, SyntaxError, TypeError, struct.error):
        pass  # io.load keeps the stored orientation too
    return w, h


def _delay(info: dict, format: str | None) -> Fraction:
    """Seconds a Pillow frame is shown: its delay as browsers honour it, or the default
    for formats that store no delay."""
    ms = info.get("duration")
    if ms is None and format != "GIF":
        return _DEFAULT_DURATION
    try:
        value = Fraction(ms or 0).limit_denominator(1 << 16)
    except (TypeError, ValueError):
        value = Fraction(0)
    if value <= _BROWSER_MIN_DELAY_MS:
        value = Fraction(_BROWSER_DEFAULT_DELAY_MS)
    return value / 1000


class _PillowReader(_Reader):
    """GIF, APNG, WebP and other images Pillow reads; stills go through io.load."""

    def __init__(self, name: str, file_bytes: int, img: Image.Image, opts: _Options):
        self.name = self.path = name
        self.file_bytes = file_bytes
        self.opts = opts
        with img, _pillow_errors(name, "the image"):
            self.format = img.format or "image"
            try:
                n: int | None = int(getattr(img, "n_frames", 1))
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
                n = None  # a frame is broken: reading it names it
            # Stills are decoded by io.load, which turns them by their EXIF orientation;
            # animations are played as stored.
            w, h = _upright_size(img) if n == 1 else img.size
            self.size = _scaled_size(w, h, opts.width)
            _check_pixels(name, w, h, self.size, opts.max_pixels)
            # An APNG's default image, when not part of the animation, is what viewers
            # without APNG support show; animated viewers skip it.
            self.skip = int(bool(img.info.get("default_image")) and (n is None or n > 1))
            self.count = None if n is None else n - self.skip
            loop = img.info.get("loop")
            self.loop = int(loop) if isinstance(loop, (int, float)) else None
            if self.format != "GIF" and self.loop is not None:
                # APNG's num_plays and WebP's loop count are plays; ``loop`` counts the
                # repeats after the first, as a GIF's NETSCAPE block (None: play once).
                self.loop = None if self.loop == 1 else max(self.loop - 1, 0)
            self.icc = img.info.get("icc_profile") or None
            self.still_delay = _delay(img.info, self.format)
        self.still = self.count == 1
        if self.still:
            self.uniform = self.still_delay

    def intervals(self) -> Iterator[_Interval]:
        if self.still:
            yield 0, Fraction(0), self.still_delay, self._still_pixels
            return
        if self.format == "GIF":
            with self._gif() as gif:
                if gif is not None:
                    yield from self._gif_intervals(*gif)
                    return
        with _pillow_errors(self.name, "the image"):
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # checked when opened
            try:
                img = Image.open(self.name)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
        with img:
            transform = _icc_transform(self.icc)
            t = Fraction(0)
            index = 0
            while self.count is None or index < self.count:
                with _pillow_errors(self.name, f"frame {index}"):
                    try:
                        img.seek(index + self.skip)
                    except EOFError:
                        if self.count is not None:
                            raise
                        return  # the frame count was unknown: this is the end
                    img.load()
                    shown = _delay(img.info, self.format)
                yield index, t, t + shown, partial(self._frame_pixels, img, transform, index)
                t += shown
                index += 1

    @contextlib.contextmanager
    def _gif(self):
        """The GIF's bytes (mapped), size and images as :mod:`palettepress.gifread` reads
        them, or None where it does not take the file (Pillow then reads or reports it)."""
        try:
            with open(self.name, "rb") as fh:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            yield None
            return
        with data:
            try:
                width, height, images = gifread.read_gif(data)
            except ValueError:
                yield None
                return
            yield None if len(images) != self.count else (data, width, height, images)

    def _gif_intervals(self, data, width: int, height: int, images) -> Iterator[_Interval]:
        t = Fraction(0)
        transform = _icc_transform(self.icc)
        canvases = gifread.composited(data, width, height, images)
        for index, (image, canvas) in enumerate(zip(images, canvases)):
            shown = _delay({"duration": image.delay_ms}, "GIF")
            yield index, t, t + shown, partial(self._canvas_pixels, canvas, transform)
            t += shown

    def _canvas_pixels(self, canvas: np.ndarray, transform) -> np.ndarray:
        """A GIF's composited RGBA canvas as the frame's pixels (RGB where opaque)."""
        if transform is not None:
            return _image_pixels(_apply_icc(Image.fromarray(canvas), transform), self.size)
        opaque = bool((canvas[..., 3] == 255).all())
        return _array_pixels(canvas[..., :3] if opaque else canvas, self.size)

    def _still_pixels(self) -> np.ndarray:
        return _array_pixels(load(self.name, max_pixels=self.opts.max_pixels).pixels, self.size)

    def _frame_pixels(self, img: Image.Image, transform, index: int) -> np.ndarray:
        with _pillow_errors(self.name, f"frame {index}"):
            frame = _rgb_image(img)
            if transform is not None:
                frame = _apply_icc(frame, transform)
            return _image_pixels(frame, self.size)


def _icc_transform(icc: bytes | None):
    """An embedded-profile-to-sRGB transform, built once per reading; None without a
    usable profile (the pixels are then taken as sRGB, as browsers and io.load do)."""
    if not icc:
        return None
    import io as _io

    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(_io.BytesIO(icc))
        return ImageCms.buildTransform(src, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _apply_icc(img: Image.Image, transform) -> Image.Image:
    from PIL import ImageCms

    if img.mode == "RGB":
        out = ImageCms.applyTransform(img, transform)
        assert out is not None  # None only in place
        return out
    alpha = img.getchannel("A")
    out = ImageCms.applyTransform(img.convert("RGB"), transform)
    assert out is not None
    out.putalpha(alpha)
    return out


def _natural_key(text: str) -> tuple[list, str]:
    """Sort key putting ``frame2`` before ``frame10`` (case-insensitive, then exact)."""
    parts = re.split(r"([0-9]+)", text)
    return [int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)], text


#: Extensions of text files, which no Pillow plugin opens.
_TEXT_EXTENSIONS = {".txt", ".md", ".json", ".csv", ".log", ".yaml", ".yml", ".srt", ".vtt"}


def _image_extensions(paths: list[str]) -> set[str]:
    """The extensions (lower case, with the dot) of the formats Pillow opens, as far as
    ``paths`` need to know: Pillow's common formats (PNG, JPEG, GIF, BMP, PPM) load with
    it, and every other plugin (about 40 ms more) only when a path's extension is none
    of theirs."""
    Image.preinit()
    # A name without an extension (a subfolder, a README) is no image to any plugin, nor
    # is a text file beside the frames (notes, settings, subtitles).
    wanted = {os.path.splitext(p)[1].lower() for p in paths} - {""} - _TEXT_EXTENSIONS
    if not wanted <= set(Image.EXTENSION):
        Image.init()
    return {
        ext
        for ext, fmt in Image.EXTENSION.items()
        if fmt in Image.OPEN and fmt not in _PILLOW_IDENTIFY_ONLY
    }


def _folder_files(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise InputError(f"{folder}: cannot read the folder ({exc.strerror or exc})") from exc
    exts = _image_extensions(names)
    names = [
        n
        for n in names
        if not n.startswith(".")
        and os.path.splitext(n)[1].lower() in exts
        and os.path.isfile(os.path.join(folder, n))
    ]
    if not names:
        raise InputError(f"{folder}: no image files in the folder")
    return [os.path.join(folder, n) for n in sorted(names, key=_natural_key)]


def _glob_files(pattern: str) -> list[str]:
    matches = [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
    if not matches:
        raise InputError(f"{pattern}: no files match")
    exts = _image_extensions(matches)
    images = [p for p in matches if os.path.splitext(p)[1].lower() in exts]
    if not images:
        raise InputError(f"{pattern}: no image files among the {len(matches)} files that match")
    return sorted(images, key=_natural_key)


class _FilesReader(_Reader):
    """Frame files: a folder, a glob, or a list of paths; each decoded by io.load."""

    timeless = True

    def __init__(self, name: str | None, paths: list[str], opts: _Options):
        self.name = name or "frames"
        self.path = name
        self.paths = paths
        self.opts = opts
        self.count = len(paths)
        self.duration: Fraction = opts.step or _DEFAULT_DURATION
        self.uniform = self.duration
        self.rate = float(1 / self.duration)
        total = 0
        first: tuple[str, int, int] | None = None
        # Headers only (no pixels): sizes are checked before any frame is decoded.
        for path in paths:
            total += _file_size(path)
            img = _open_image(path)
            if img is None:
                raise InputError(f"{path}: not an image palettepress can read")
            with img, _pillow_errors(path, "the image"):
                w, h = _upright_size(img)
            if first is None:
                first = (path, w, h)
                self.size = _scaled_size(w, h, opts.width)
                _check_pixels(path, w, h, self.size, opts.max_pixels)
            elif (w, h) != first[1:]:
                raise InputError(
                    f"{path}: {w}x{h} differs from the {first[1]}x{first[2]} of {first[0]}"
                    " (all frames must be one size)"
                )
        self.file_bytes = total
        self.first = first

    def intervals(self) -> Iterator[_Interval]:
        d = self.duration
        for k, path in enumerate(self.paths):
            yield k, k * d, (k + 1) * d, partial(self._pixels, path)

    def _pixels(self, path: str) -> np.ndarray:
        pixels = load(path, max_pixels=self.opts.max_pixels).pixels
        assert self.first is not None
        _, w0, h0 = self.first
        if pixels.shape[:2] != (h0, w0):
            h, w = pixels.shape[:2]
            raise InputError(
                f"{path}: {w}x{h} differs from the {w0}x{h0} of {self.first[0]}"
                " (all frames must be one size)"
            )
        return _array_pixels(pixels, self.size)


class _MemoryReader(_Reader):
    """Arrays or PIL images in memory; a one-shot iterator can be read once."""

    timeless = True

    name = "frames"

    def __init__(self, frames, opts: _Options):
        self.opts = opts
        self.duration: Fraction = opts.step or _DEFAULT_DURATION
        self.uniform = self.duration
        self.rate = float(1 / self.duration)
        self.frames = frames
        self.once = iter(frames) is frames  # an iterator: no second reading
        self.used = False
        self.size0: tuple[int, int] | None = None
        if isinstance(frames, (Sequence, np.ndarray)):
            self.count = len(frames)
            sizes = [_memory_size(f) for f in frames]
            for k, size in enumerate(sizes):
                if size is not None:
                    self._check_size(k, *size)

    def _check_size(self, k: int, w: int, h: int) -> None:
        if self.size0 is None:
            self.size0 = (w, h)
            self.size = _scaled_size(w, h, self.opts.width)
            _check_pixels(f"{self.name}: frame {k}", w, h, self.size, self.opts.max_pixels)
        elif (w, h) != self.size0:
            w0, h0 = self.size0
            raise InputError(
                f"{self.name}: frame {k} is {w}x{h}, not {w0}x{h0} like frame 0"
                " (all frames must be one size)"
            )

    def intervals(self) -> Iterator[_Interval]:
        if self.once:
            if self.used:
                raise InputError(
                    f"{self.name}: an iterator of frames can be read once"
                    " (pass a list, or call open_frames again)"
                )
            self.used = True
        d = self.duration
        for k, item in enumerate(self.frames):
            size = _memory_size(item)
            if size is not None:
                self._check_size(k, *size)
            yield k, k * d, (k + 1) * d, partial(self._pixels, item, k)

    def _pixels(self, item, k: int) -> np.ndarray:
        try:
            pixels = load_image(item, max_pixels=self.opts.max_pixels).pixels
        except InputError as exc:
            # "array: dtype float64 is not uint8" -> "frames: frame 3: dtype ..."
            cause = str(exc).split(": ", 1)[-1]
            raise InputError(f"{self.name}: frame {k}: {cause}") from exc
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(f"{self.name}: frame {k} is not an image ({exc})") from exc
        h, w = pixels.shape[:2]
        self._check_size(k, w, h)
        return _array_pixels(pixels, self.size)


def _memory_size(item) -> tuple[int, int] | None:
    """``(w, h)`` of an in-memory frame without converting it, when it shows it."""
    if isinstance(item, np.ndarray) and item.ndim in (2, 3):
        return item.shape[1], item.shape[0]
    if isinstance(item, Image.Image):
        return _upright_size(item)  # as io.from_pil turns it
    return None
