"""One request's work for the web app (:mod:`palettepress.web.app`): the options from the
form's fields, the upload compressed through a temporary file (a still image by
:func:`palettepress.compress`, an animation by :func:`palettepress.animate`, after the
checks an animation has), and the JSON answer built from the result.

Plain Python, blocking, no web framework: the app runs :func:`_compress_upload` in a
worker thread. Routes, limits on the request and the server stay in the app module.
"""

from __future__ import annotations

import math
import os
import re
import warnings

from ..errors import ParameterError

__all__ = ["parse_options", "TARGETS", "DEFAULT_MAX_ANIMATION_PIXELS", "MEASURED_FRAMES"]

#: Quality and size targets the form's ``target`` field accepts.
TARGETS = ("min_ssimulacra2", "min_ssim", "max_delta_e", "max_bytes")

#: The ``dither_method`` values the form accepts.
DITHER_METHODS = ("diffusion", "ordered", "auto")

#: Media type of each output format.
MIME_TYPES = {"png": "image/png", "webp": "image/webp", "gif": "image/gif"}

#: The animated format an animated upload is compressed to, by the form's format.
ANIMATED_FORMATS = {"png": "apng", "webp": "webp", "gif": "gif"}

#: Media type and extension of each animated format (APNG is served as PNG: every
#: browser that plays APNG plays it as image/png).
_ANIMATED_FILES = {
    "apng": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
    "gif": ("image/gif", "gif"),
}

#: Largest animation accepted by default, in frames × pixels per frame (see above).
DEFAULT_MAX_ANIMATION_PIXELS = 5_000_000

#: An animation's SSIMULACRA2 is measured on at most about this many frames, evenly
#: spaced (every n-th): measuring is most of an animation's time.
MEASURED_FRAMES = 24

_MB = 1 << 20


# -- form fields (no web framework needed) ---------------------------------------


def _integer(fields, name: str, default: int, low: int, high: int) -> int:
    text = fields.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"\s*[+-]?\d{1,9}\s*", text):
        raise ParameterError(f"{name} must be an integer from {low} to {high}, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ParameterError(f"{name} must be an integer from {low} to {high}, got {value}")
    return value


def _number(fields, name: str, default: float | None) -> float | None:
    text = fields.get(name)
    if text is None or (default is None and not text.strip()):
        return default
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {text!r}")
    return value


def parse_options(fields) -> dict:
    """Keyword arguments of :func:`palettepress.compress` from the form's text fields.

    Parameters
    ----------
    fields : Mapping[str, str]
        ``colors``, ``space``, ``dither``, ``dither_method``, ``seed``, ``target``,
        ``target_value`` and ``format``; a missing field takes the library's default.

    Returns
    -------
    dict
        ``colors``, ``space``, ``dither``, ``dither_method``, ``seed``, ``format`` and,
        with a target, one of :data:`TARGETS` with its value.

    Raises
    ------
    ParameterError
        A field is not a number where one is needed, is out of range, or names an
        unknown colour space, dithering method, target or format.
    """
    options: dict[str, int | float | str] = {"colors": _integer(fields, "colors", 256, 2, 256)}
    space = fields.get("space", "oklab").strip().lower()
    if space not in ("oklab", "rgb"):
        raise ParameterError(f"space must be oklab or rgb, got {space!r}")
    options["space"] = space
    dither = _number(fields, "dither", 1.0)
    assert dither is not None  # it has a default
    if not 0.0 <= dither <= 1.0:
        raise ParameterError(f"dither must be a number from 0 to 1, got {dither:g}")
    options["dither"] = dither
    method = fields.get("dither_method", "diffusion").strip().lower()
    if method not in DITHER_METHODS:
        raise ParameterError(
            f"dither_method must be one of {', '.join(DITHER_METHODS)}, got {method!r}"
        )
    options["dither_method"] = method
    options["seed"] = _integer(fields, "seed", 0, 0, 2**31 - 1)
    fmt = fields.get("format", "png").strip().lower() or "png"
    if fmt not in MIME_TYPES:
        raise ParameterError(f"format must be one of {', '.join(MIME_TYPES)}, got {fmt!r}")
    options["format"] = fmt
    target = fields.get("target", "").strip().lower()
    if target not in ("", "none"):
        if target not in TARGETS:
            raise ParameterError(f"target must be none, {', '.join(TARGETS)}, got {target!r}")
        value = _number(fields, "target_value", None)
        if value is None:
            raise ParameterError(f"target {target} needs a target_value")
        options[target] = int(value) if target == "max_bytes" and value.is_integer() else value
    return options


def _safe_name(filename: str | None) -> str:
    """A file name without folders or odd characters, for the temporary copy and the download."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    if len(base) > 100:
        stem, ext = os.path.splitext(base)
        base = stem[: 100 - len(ext[:12])] + ext[:12]
    return base or "upload"


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None


def _payload(result, name: str, options: dict, warned: list[str]) -> dict:
    import base64

    from ..palettes import to_hex

    target = next(({"name": t, "value": options[t]} for t in TARGETS if t in options), None)
    stem = os.path.splitext(name)[0] or "image"
    return {
        "filename": name,
        "download_name": f"{stem}-k{result.requested_colors}.{result.format}",
        "format": result.format,
        "mime_type": MIME_TYPES[result.format],
        "warnings": warned,
        "k": int(result.requested_colors),
        "colors": int(result.colors),
        "lossless": bool(result.lossless),
        "dither_used": result.dither,
        "width": int(result.width),
        "height": int(result.height),
        "input_bytes": result.input_bytes,
        "output_bytes": int(result.output_bytes),
        "ratio": _finite(result.ratio),
        "raw_ratio": _finite(result.raw_ratio),
        "bpp": _finite(result.bpp),
        "ssimulacra2": _finite(result.ssimulacra2),
        "psnr": _finite(result.psnr),
        "ssim": _finite(result.ssim),
        "delta_e": _finite(result.delta_e),
        "mse": _finite(result.mse),
        "seconds": _finite(result.seconds),
        "space": options["space"],
        "dither": options["dither"],
        "dither_method": options["dither_method"],
        "target": target,
        "palette": [to_hex(c) for c in result.palette],
        "data_base64": base64.b64encode(result.data).decode("ascii"),
    }


def _animation_payload(anim, name: str, options: dict, warned: list[str], every: int) -> dict:
    """The answer for an animation: the still image's keys (those not measured null, the
    palette empty) and the animation's own."""
    import base64

    mime, ext = _ANIMATED_FILES[anim.format]
    stem = os.path.splitext(name)[0] or "image"
    k = int(options["colors"])
    raw = 3 * anim.width * anim.height * max(1, anim.source_frames)  # 24-bit frames
    return {
        "filename": name,
        "download_name": f"{stem}-k{k}.{ext}",
        "format": anim.format,
        "mime_type": mime,
        "warnings": warned,
        "animated": True,
        "frames": int(anim.frames),
        "source_frames": int(anim.source_frames),
        "duration": _finite(anim.duration),
        "loop": anim.loop,
        "k": k,
        "colors": max((int(f.colors) for f in anim.frame_figures), default=0),
        "lossless": bool(anim.lossless),
        "dither_used": "none" if options["dither"] == 0 else _animation_method(options),
        "width": int(anim.width),
        "height": int(anim.height),
        "input_bytes": anim.input_bytes,
        "output_bytes": int(anim.output_bytes),
        "ratio": _finite(anim.ratio),
        "raw_ratio": _finite(raw / anim.output_bytes) if anim.output_bytes else None,
        "bpp": _finite(anim.bpp),
        "ssimulacra2": _finite(anim.ssimulacra2_mean),
        "ssimulacra2_p10": _finite(anim.ssimulacra2_p10),
        "measure_every": every,
        "flicker": _finite(anim.flicker),
        "psnr": None,
        "ssim": None,
        "delta_e": None,
        "mse": None,
        "seconds": _finite(anim.seconds),
        "space": options["space"],
        "dither": options["dither"],
        "dither_method": options["dither_method"],
        "target": None,
        "palette": [],
        "data_base64": base64.b64encode(anim.data).decode("ascii"),
    }


def _animation_method(options: dict) -> str:
    """The dithering method an animation takes: ``auto`` measures still images only."""
    return "diffusion" if options["dither_method"] == "auto" else options["dither_method"]


def _animation_size(path: str) -> tuple[int, int, int] | None:
    """``(frames, width, height)`` of an animated GIF, APNG or WebP of more than one frame,
    else None (a still image, or a file Pillow cannot open: the still path says why).

    Read from the headers by Pillow, nothing decoded, so that the limits are checked
    before any work and a still image is not decoded twice.
    """
    from PIL import Image

    from ..io import frames_of

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's size warning: the pixel limit is ours
            with Image.open(path) as image:
                frames = frames_of(image)
                return (frames, image.width, image.height) if frames > 1 else None
    except Exception:
        return None


def _animate_upload(path: str, size: tuple[int, int, int], options: dict, limits: tuple):
    """Compress the animated upload at ``path`` (blocking), after the checks an animation
    has: no quality target, at most ``max_animation_pixels`` frames × pixels."""
    from ..animation import animate
    from ..errors import ImageTooLargeError

    frames, width, height = size
    max_pixels, max_animation_pixels = limits
    target = next((t for t in TARGETS if t in options), None)
    if target is not None:
        raise ParameterError(
            f"{path}: an animation ({frames} frames): a quality target ({target}) chooses k "
            "for still images only; set the target to none"
        )
    if frames * width * height > max_animation_pixels:
        raise ImageTooLargeError(
            f"{path}: an animation of {frames} frames of {width}x{height} is "
            f"{frames * width * height:,} frame pixels, more than this server's limit of "
            f"{max_animation_pixels:,}"
        )
    if options["dither_method"] == "auto":
        warnings.warn(
            f"{path}: auto dithering measures still images; the animation is dithered by "
            "error diffusion",
            stacklevel=2,
        )
    return animate(
        path,
        options["colors"],
        format=ANIMATED_FORMATS[options["format"]],
        space=options["space"],
        dither=options["dither"],
        dither_method=_animation_method(options),
        max_pixels=max_pixels,
        measure_every=_measure_every(frames),
    )


def _measure_every(frames: int) -> int:
    """Measure every n-th frame: all of a short animation, :data:`MEASURED_FRAMES` or so of
    a long one."""
    return max(1, math.ceil(frames / MEASURED_FRAMES))


def _compress_upload(
    upload,
    name: str,
    options: dict,
    max_pixels: int,
    max_animation_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS,
) -> dict:
    """Compress an uploaded file object through a temporary file (blocking; run in a thread):
    a still image by :func:`palettepress.compress`, an animation by
    :func:`palettepress.animate`.

    Going through a real file gives uploads the same checks and the same file-size
    ratio as the command line.
    """
    import shutil
    import tempfile

    from ..errors import PalettepressError
    from ..pipeline import compress

    with tempfile.TemporaryDirectory(prefix="palettepress-web-") as folder:
        path = os.path.join(folder, name)
        upload.seek(0)
        with open(path, "wb") as fh:
            shutil.copyfileobj(upload, fh, _MB)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                size = _animation_size(path)
                if size is None:
                    result = compress(path, max_pixels=max_pixels, **options)
                else:
                    limits = (max_pixels, max_animation_pixels)
                    result = _animate_upload(path, size, options, limits)
        except PalettepressError as exc:
            # The messages name the file: the user's name, not the temporary copy.
            exc.args = tuple(a.replace(path, name) if isinstance(a, str) else a for a in exc.args)
            raise
    warned = [str(w.message).replace(path, name) for w in caught]
    if size is None:
        return {**_payload(result, name, options, warned), "animated": False, "frames": 1}
    return _animation_payload(result, name, options, warned, _measure_every(size[0]))
