"""The local web app of ``palettepress serve``: one page and one JSON endpoint.

``GET /`` serves the page (``static/index.html``); it sends the chosen image to
``POST /api/compress`` after every change of the controls and shows the result.

``POST /api/compress`` takes a multipart form:

================  ===========================================================
``file``          the image (required): anything :func:`palettepress.compress` reads
``colors``        palette size k, an integer from 2 to 256 (default 256); with a
                  target, the largest k the search may pick
``space``         ``oklab`` (default) or ``rgb``
``dither``        dithering strength from 0 (none) to 1 (default)
``dither_method`` ``diffusion`` (default), ``ordered`` or ``auto``
``seed``          random seed, 0 (default) to 2**31 - 1
``target``        optional: ``min_ssimulacra2``, ``min_ssim``, ``max_delta_e`` or
                  ``max_bytes`` (``none`` or empty for a fixed k)
``target_value``  the target's number (required with ``target``)
``format``        ``png`` (default), ``webp`` (lossless) or ``gif``
================  ===========================================================

It answers 200 with a JSON object of the figures (``k``, ``colors``, ``dither_used``,
``input_bytes``, ``output_bytes``, ``ratio``, ``bpp``, ``ssimulacra2``, ``psnr``,
``ssim``, ``delta_e``, ``mse``, ``seconds``, ...), the palette as hex strings and the
compressed file as base64 (``data_base64``, of type ``mime_type``; ``format`` names it,
``download_name`` has its extension, ``warnings`` lists what the run warned of). ``ssimulacra2``, ``psnr`` and ``ssim`` are
null where undefined (identical images, images too small for SSIM or SSIMULACRA2).
``animated`` is false and ``frames`` 1 for a still image.

An animated upload (a GIF, APNG or WebP of more than one frame) is compressed as an
animation by :func:`palettepress.animate` with ``colors`` entries per frame, into the
form's format (``png`` makes an APNG, ``format`` ``apng``, a ``.png`` download; ``webp``
an animated WebP; ``gif`` a GIF). The answer has the same keys, with ``animated`` true,
``frames`` (in the file), ``source_frames``, ``duration`` (seconds), ``loop``,
``ssimulacra2`` the mean over the frames and ``ssimulacra2_p10`` their 10th percentile
(of every ``measure_every``-th frame: all of up to :data:`MEASURED_FRAMES` frames,
about that many of a longer animation), ``flicker``
(:attr:`palettepress.Animation.flicker`), ``colors`` the most entries any frame uses,
``palette`` empty (each frame has its own), and ``psnr``, ``ssim``, ``delta_e``,
``mse`` null (not measured for animations). A quality target is for still
images: with one, an animation is refused (400); ``dither_method`` ``auto`` becomes
``diffusion`` (with a warning); ``seed`` does not apply.

Errors are ``{"error": "<one line>"}`` with status:

===  ==================================================================
400  no file, an undecodable image, or a bad parameter (a quality target
     for an animation)
413  the upload is larger than ``max_upload_mb``, the image (a frame)
     has more pixels than ``max_pixels``, or an animation has more
     frames × pixels per frame than ``max_animation_pixels``
422  no palette of at most ``colors`` entries meets the quality target
===  ==================================================================

``max_animation_pixels`` (default :data:`DEFAULT_MAX_ANIMATION_PIXELS`, 5 million: 65
frames of 320x240, 38 of 480x270) bounds the time an animation takes, as ``max_pixels``
bounds a still image's; it is checked from the file's headers, before any frame is
decoded. Measured on 2 shared cores (load average 2.5) with full-colour frames, every
pixel changing, at the limit (65 frames of 320x240): 28 s to GIF, 29 s to WebP, 38 s to
APNG (one palette for the whole file: the frames are read twice), with 1 frame in 3
measured; measuring every frame took GIF to 43 s and APNG to 73 s, hence the sample. An
animated GIF upload (at most 256 colours a frame) is faster.

The upload exists only while its request runs, in a temporary directory; nothing
is kept and nothing leaves this computer.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ExtraMissingError, ParameterError, require

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["create_app", "serve", "parse_options", "TARGETS", "DEFAULT_MAX_ANIMATION_PIXELS"]

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

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

_PURPOSE = "the web app"
_MB = 1 << 20
# Multipart boundaries and the small text fields come on top of the file itself.
_FORM_OVERHEAD = 64 * 1024
# The kernels already use every core, so more parallel compressions only add memory;
# two let a small image overtake a large one.
_PARALLEL = 2
_NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; "
        "style-src 'self'; script-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _UploadTooLarge(Exception):
    """The request body went past the limit while it was being read."""


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

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's size warning: the pixel limit is ours
            with Image.open(path) as image:
                frames = int(getattr(image, "n_frames", 1))
                if image.format not in ("GIF", "PNG", "WEBP") or frames < 2:
                    return None
                return frames, image.width, image.height
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


def _status(exc) -> int:
    from ..errors import ImageTooLargeError, InputError, TargetError

    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, TargetError):
        return 422
    if isinstance(exc, (InputError, ParameterError)):
        return 400
    return 500


def _megabytes(value: float) -> str:
    return f"{value:g} MB"


def _count(value: int) -> str:
    """A large count for the page: ``5 million``, or ``7,680`` under a million."""
    return f"{value / 1e6:g} million" if value >= 1_000_000 else f"{value:,}"


# -- the application ------------------------------------------------------------------


def _require_web() -> None:
    require("starlette", "web", _PURPOSE)
    import importlib.util

    if (
        importlib.util.find_spec("python_multipart") is None
        and importlib.util.find_spec("multipart") is None
    ):
        raise ExtraMissingError(
            f"{_PURPOSE} needs python-multipart: pip install 'palettepress[web]'"
        )


@dataclass
class _Limits:
    """What one application accepts, and what its routes share."""

    max_upload_mb: float
    max_pixels: int
    max_animation_pixels: int
    page: str
    compressing: Any  # an anyio Semaphore: at most _PARALLEL compressions at a time
    sample_png: list = field(default_factory=list)  # the sample image, once rendered

    @property
    def max_upload(self) -> int:
        return int(self.max_upload_mb * _MB)

    @property
    def max_body(self) -> int:
        return self.max_upload + _FORM_OVERHEAD

    @property
    def too_large(self) -> str:
        return f"the upload is larger than the limit of {_megabytes(self.max_upload_mb)}"


def _limits(
    max_upload_mb: float, max_pixels: int | None, max_animation_pixels: int | None = None
) -> _Limits:
    """The checked limits and the page that states them."""
    from anyio import Semaphore

    from ..io import DEFAULT_MAX_PIXELS

    if (
        isinstance(max_upload_mb, bool)
        or not isinstance(max_upload_mb, (int, float))
        or not max_upload_mb > 0
    ):
        raise ParameterError(f"max_upload_mb must be a number > 0, got {max_upload_mb!r}")
    if max_pixels is None:
        max_pixels = DEFAULT_MAX_PIXELS
    if max_animation_pixels is None:
        max_animation_pixels = DEFAULT_MAX_ANIMATION_PIXELS
    for what, value in (("max_pixels", max_pixels), ("max_animation_pixels", max_animation_pixels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(f"{what} must be a positive integer, got {value!r}")
    with open(os.path.join(STATIC, "index.html"), encoding="utf-8") as fh:
        page = (
            fh.read()
            .replace("{{max_upload_mb}}", f"{max_upload_mb:g}")
            .replace("{{max_upload_bytes}}", str(int(max_upload_mb * _MB)))
            .replace("{{max_animation_pixels}}", _count(max_animation_pixels))
        )
    return _Limits(max_upload_mb, max_pixels, max_animation_pixels, page, Semaphore(_PARALLEL))


def create_app(
    *,
    max_upload_mb: float = 50,
    max_pixels: int | None = None,
    max_animation_pixels: int | None = None,
) -> Starlette:
    """The Starlette application of the web app.

    Parameters
    ----------
    max_upload_mb : float
        Largest accepted upload in MB (2**20 bytes); larger ones get 413 before the
        image is decoded.
    max_pixels : int, optional
        Largest accepted image (or animation frame) in pixels (413 above it); default
        :data:`palettepress.io.DEFAULT_MAX_PIXELS`.
    max_animation_pixels : int, optional
        Largest accepted animation in frames × pixels per frame (413 above it); default
        :data:`DEFAULT_MAX_ANIMATION_PIXELS`.

    Returns
    -------
    starlette.applications.Starlette
        An ASGI application; run it with :func:`serve` or any ASGI server.

    Raises
    ------
    ExtraMissingError
        Starlette or python-multipart is not installed (extra ``web``).
    ParameterError
        ``max_upload_mb``, ``max_pixels`` or ``max_animation_pixels`` is not positive.
    """
    _require_web()
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    limits = _limits(max_upload_mb, max_pixels, max_animation_pixels)
    routes = [
        Route("/", _index, methods=["GET"]),
        Route("/api/compress", _compress_endpoint, methods=["POST"]),
        Route("/api/sample", _sample, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes, exception_handlers={HTTPException: _http_error, 500: _server_error}
    )
    app.state.limits = limits
    app.state.max_upload_mb = limits.max_upload_mb
    app.state.max_pixels = limits.max_pixels
    app.state.max_animation_pixels = limits.max_animation_pixels
    return app


# -- the routes ---------------------------------------------------------------------------


def _error(status: int, message: str) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


async def _index(request: Request) -> Response:
    from starlette.responses import HTMLResponse

    return HTMLResponse(request.app.state.limits.page, headers=_PAGE_HEADERS)


def _render_sample() -> bytes:
    import io

    from PIL import Image

    from ..sample import sample_image

    buffer = io.BytesIO()
    Image.fromarray(sample_image()).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


async def _sample(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    rendered = request.app.state.limits.sample_png
    if not rendered:
        rendered.append(await run_in_threadpool(_render_sample))
    return Response(
        rendered[0],
        media_type="image/png",
        headers={"Content-Disposition": 'inline; filename="sample.png"'},
    )


def _limited(receive, max_body: int):
    """``receive`` that raises :class:`_UploadTooLarge` once the body passes ``max_body``."""
    seen = 0

    async def receive_limited():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_body:
                raise _UploadTooLarge
        return message

    return receive_limited


async def _compress_endpoint(request: Request) -> Response:
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response

    from ..errors import PalettepressError

    limits: _Limits = request.app.state.limits
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            return _error(400, f"invalid Content-Length header {declared!r}")
        if int(declared) > limits.max_body:
            return _error(413, limits.too_large)
    # Chunked uploads have no Content-Length: count the bytes as they arrive.
    request = Request(request.scope, _limited(request.receive, limits.max_body))
    try:
        return await _compress_form(request, limits)
    except _UploadTooLarge:
        return _error(413, limits.too_large)
    except ClientDisconnect:
        return Response(status_code=499)
    except MemoryError:
        return _error(500, "out of memory: try a smaller image or fewer colours")
    except PalettepressError as exc:
        return _error(_status(exc), str(exc))
    except HTTPException as exc:
        return _error(exc.status_code, str(exc.detail))


async def _compress_form(request: Request, limits: _Limits) -> Response:
    """Read the form, compress its image (in a worker thread, at most ``_PARALLEL`` at a
    time) and answer with the figures and the file."""
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.responses import JSONResponse, Response

    async with request.form(max_files=1, max_fields=16) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _error(400, "no image: send the file in the form field 'file'")
        if upload.size is not None and upload.size > limits.max_upload:
            return _error(413, limits.too_large)
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        options = parse_options(fields)
        name = _safe_name(upload.filename)
        async with limits.compressing:
            # A request the page superseded (it aborts stale ones) is dropped before it
            # costs a compression.
            if await request.is_disconnected():
                return Response(status_code=499)
            payload = await run_in_threadpool(
                _compress_upload,
                upload.file,
                name,
                options,
                limits.max_pixels,
                limits.max_animation_pixels,
            )
    return JSONResponse(payload, headers=_NO_STORE)


async def _http_error(request: Request, exc: Exception) -> Response:
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    return _error(exc.status_code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return _error(500, f"internal error ({type(exc).__name__}): please report it")


# -- running it -------------------------------------------------------------------------


def _listen(host: str, port: int):
    """A listening socket on ``host:port`` (port 0: a free one), or ParameterError."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ParameterError(f"cannot listen on {host}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ParameterError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (try another --port)"
        ) from None
    sock.set_inheritable(True)
    return sock


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_mb: float = 50,
    max_pixels: int | None = None,
    *,
    max_animation_pixels: int | None = None,
    log_level: str = "warning",
) -> None:
    """Run the web app until Ctrl-C, then return.

    SIGTERM also shuts the server down cleanly, then ends the process as the signal
    would.

    Parameters
    ----------
    host : str
        Address to listen on. The default answers this computer only; anything
        else lets other machines use the app, without authentication.
    port : int
        TCP port; 0 picks a free one (the address is printed).
    max_upload_mb : float
        Largest accepted upload in MB.
    max_pixels : int, optional
        Largest accepted image (or animation frame) in pixels (default: the library's
        limit).
    max_animation_pixels : int, optional
        Largest accepted animation in frames × pixels per frame (default
        :data:`DEFAULT_MAX_ANIMATION_PIXELS`).
    log_level : str
        Uvicorn's log level (``"info"`` logs every request).

    Raises
    ------
    ExtraMissingError
        Starlette, python-multipart or uvicorn is not installed (extra ``web``).
    ParameterError
        A bad limit, or the address cannot be listened on (for example the port
        is in use).
    """
    app = create_app(
        max_upload_mb=max_upload_mb,
        max_pixels=max_pixels,
        max_animation_pixels=max_animation_pixels,
    )
    uvicorn = require("uvicorn", "web", _PURPOSE)
    sock = _listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"palettepress: serving on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C to stop)",
        flush=True,
    )
    if not _is_loopback(host):
        print(
            f"palettepress: warning: {host} is reachable from other machines; the app has "
            "no authentication",
            flush=True,
        )
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its clean shutdown; stopping is the normal end
    finally:
        sock.close()
