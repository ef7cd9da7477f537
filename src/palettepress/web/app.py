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

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ExtraMissingError, ParameterError, require
from .jobs import (
    DEFAULT_MAX_ANIMATION_PIXELS,
    MEASURED_FRAMES,
    TARGETS,
    _compress_upload,
    _safe_name,
    parse_options,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "create_app",
    "serve",
    "parse_options",
    "TARGETS",
    "DEFAULT_MAX_ANIMATION_PIXELS",
    "MEASURED_FRAMES",
]

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
