"""An imageio v3 plugin: ``iio.imwrite("a.gif", frames, plugin=PalettepressPlugin)``.

::

    import imageio.v3 as iio
    from palettepress.imageio import PalettepressPlugin

    iio.imwrite("a.gif", frames, plugin=PalettepressPlugin, duration=100, loop=0)
    iio.imwrite("still.png", image, plugin="palettepress", colors=64)

Importing this module also registers the plugin in ``imageio.config.known_plugins``
under the name ``palettepress``, so ``plugin="palettepress"`` works too; imageio's own
choice of plugin for a file is not changed.

Writing: a single image (``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8) is a still
file made by :func:`palettepress.compress`; a batch (a list of images, or an array
``(N, H, W[, C])``) is an animation made by :func:`palettepress.animate`. The format
follows the extension (``.png``: PNG, or APNG for a batch; ``.apng``; ``.gif``;
``.webp``: WebP lossless), or ``extension=`` / ``format=`` where the target has no name
(``"<bytes>"``, a file object). A file on disk is written through a temporary file and
renamed, and replaced when it exists (as imageio's writers do).

Reading is Pillow's: the plugin hands ``read``, ``iter``, ``properties`` and ``metadata``
to imageio's own Pillow plugin, so the files read exactly as ``plugin="pillow"`` reads
them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError, require

require("imageio.core.v3_plugin_api", "imageio", "palettepress.imageio (the imageio plugin)")
from imageio.config import known_plugins  # noqa: E402
from imageio.config.plugins import PluginConfig  # noqa: E402
from imageio.core.request import URI_BYTES, URI_FILENAME, InitializationError, IOMode  # noqa: E402
from imageio.core.v3_plugin_api import PluginV3  # noqa: E402

__all__ = ["PalettepressPlugin"]

# Extension -> (format of a still image, format of a batch of frames).
_FORMATS = {
    ".png": ("png", "apng"),
    ".apng": ("apng", "apng"),
    ".gif": ("gif", "gif"),
    ".webp": ("webp", "webp"),
}
_FORMAT_NAMES = ("png", "apng", "gif", "webp")


class PalettepressPlugin(PluginV3):
    """Write PNG, APNG, GIF and WebP files with palettepress; read them with Pillow.

    Parameters
    ----------
    request : imageio.core.Request
        The resource (made by ``imopen``, ``imwrite``, ``imread``...).

    Raises
    ------
    imageio.core.request.InitializationError
        Writing to an extension palettepress does not write, or reading what Pillow
        cannot read (``imopen`` reports it as an ``OSError``).
    """

    def __init__(self, request) -> None:
        super().__init__(request)
        self._reader: Any = None
        if request.mode.io_mode == IOMode.read:
            from imageio.plugins.pillow import PillowPlugin

            self._reader = PillowPlugin(request)
            return
        ext = request.extension or request.format_hint
        if ext is not None and ext.lower() not in _FORMATS:
            raise InitializationError(
                f"palettepress writes .png, .apng, .gif and .webp files, not {ext}"
            )

    # --- reading: Pillow's --------------------------------------------------------

    def read(self, *, index=None, **kwargs) -> np.ndarray:
        """Read as imageio's Pillow plugin does (same arguments)."""
        return self._reading().read(index=index, **kwargs)

    def iter(self, **kwargs):
        """Iterate the frames as imageio's Pillow plugin does."""
        return self._reading().iter(**kwargs)

    def properties(self, index=None):
        """Standard properties, as imageio's Pillow plugin gives them."""
        return self._reading().properties(index=index)

    def metadata(self, index=None, exclude_applied: bool = True) -> dict[str, Any]:
        """Format metadata, as imageio's Pillow plugin gives it."""
        return self._reading().metadata(index=index, exclude_applied=exclude_applied)

    def _reading(self):
        if self._reader is None:
            raise OSError(f"{self.request.filename}: opened for writing, not reading")
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()  # it owns the request now and finishes it
        else:
            self.request.finish()

    # --- writing: palettepress's ------------------------------------------------------

    def write(
        self,
        ndimage,
        *,
        is_batch: bool | None = None,
        fps: float | None = None,
        duration=None,
        loop: int | None = None,
        colors: int = 256,
        dither: float = 1.0,
        effort: int = 5,
        format: str | None = None,
    ) -> bytes | None:
        """Write an image (a still file) or a batch of frames (an animation).

        Parameters
        ----------
        ndimage : array-like or list
            A uint8 image ``(H, W)``, ``(H, W, 3)``, ``(H, W, 4)``, or a batch of them: a
            list (the frames, each one size) or an array with a leading frame axis.
        is_batch : bool, optional
            Whether ``ndimage`` is a batch of frames. By default as imageio's Pillow
            plugin guesses: a list is a batch; an array is one image when it is 2-D or
            3-D with 3 or 4 channels last, else a batch.
        fps : float, optional
            Frames per second of a batch.
        duration : float or sequence of float, optional
            Milliseconds each frame is shown, as Pillow's ``duration`` (``1000 / fps``);
            a sequence must hold one value for every frame, and all the same:
            palettepress shows every frame for the same time.
        loop : int, optional
            Pillow's ``loop``: for a GIF the times the animation repeats after its
            first play, for an APNG or WebP the times it plays; 0 forever, by default
            forever.
        colors, dither, effort
            As for :func:`palettepress.compress` / :func:`palettepress.animate`.
        format : {"png", "apng", "gif", "webp"}, optional
            The format, where the extension does not give it (``png`` makes an APNG
            of a batch; ``apng`` of a single image, a one-frame APNG).

        Returns
        -------
        bytes or None
            The file when the target is ``"<bytes>"``, else None.

        Raises
        ------
        palettepress.ParameterError
            An option is out of range, the format is unknown, ``fps`` / ``duration`` /
            ``loop`` come with a single image (write it as a one-image batch,
            ``is_batch=True``), or the durations differ.
        palettepress.InputError
            The frames are not uint8 images, or differ in size.
        """
        batch, frames = _as_batch(ndimage, is_batch)
        fmt = self._format(format, batch)
        if fmt == "apng" and not batch:
            batch, frames = True, [frames]  # APNG is an animation: of one frame here
        if batch:
            from .animation import animate

            if loop is not None and fmt != "gif":
                # Pillow's loop is an APNG's or WebP's plays; animate counts repeats
                loop = None if loop == 1 else max(loop - 1, 0)
            anim = animate(
                frames,
                colors,
                format=fmt,
                fps=_rate(fps, duration, len(frames)),
                loop=loop,
                dither=dither,
                effort=effort,
            )
            return self._store(anim)
        if fps is not None or duration is not None or loop is not None:
            raise ParameterError(
                "fps, duration and loop are for a batch of frames; a single image is written"
                " as a still image (pass is_batch=True with a batch of one to animate it)"
            )
        from .pipeline import compress

        return self._store(compress(frames, colors, dither=dither, effort=effort, format=fmt))

    def _format(self, fmt: str | None, batch: bool) -> str:
        if fmt is not None:
            if not isinstance(fmt, str) or fmt.lower().lstrip(".") not in _FORMAT_NAMES:
                raise ParameterError(
                    f"unknown format {fmt!r}: palettepress writes {', '.join(_FORMAT_NAMES)}"
                )
            fmt = fmt.lower().lstrip(".")
            return "apng" if fmt == "png" and batch else fmt
        ext = self.request.extension or self.request.format_hint
        if ext is None:
            raise ParameterError(
                f"{self.request.filename}: no extension to choose the format by:"
                " pass extension='.png' (or .apng, .gif, .webp) or format="
            )
        still, animated = _FORMATS[ext.lower()]
        return animated if batch else still

    def _store(self, made) -> bytes | None:
        """Put the file where the request points: a path atomically, else its file object."""
        if self.request._uri_type == URI_FILENAME:
            made.save(self.request.get_local_filename(), force=True)
            return None
        data = made.data
        file = self.request.get_file()
        file.write(data)
        return data if self.request._uri_type == URI_BYTES else None


def _as_batch(ndimage, is_batch: bool | None):
    """``(is_batch, frames)``: the frames as palettepress takes them (a list or a 4-D array)."""
    if isinstance(ndimage, list):
        return True, ndimage
    array = np.asarray(ndimage)
    if is_batch is None:
        is_batch = not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4)))
    if not is_batch:
        return False, array
    if array.ndim < 3:
        raise ParameterError(
            f"a batch of frames must be (N, H, W) or (N, H, W, C), got shape {array.shape}"
        )
    return True, array if array.ndim == 4 else list(array)


def _rate(fps, duration, n: int) -> float | None:
    """The frame rate from imageio's ``fps`` or Pillow's ``duration`` (milliseconds)."""
    if duration is None:
        return fps
    if fps is not None:
        raise ParameterError("give fps or duration, not both")
    if np.ndim(duration) == 0:
        ms = float(duration)
    else:
        values = [float(d) for d in duration]
        if len(values) != n:
            raise ParameterError(f"duration has {len(values)} values for {n} frames")
        if len(set(values)) > 1:
            raise ParameterError(
                "palettepress shows every frame for the same time: give one duration, "
                f"not {len(set(values))} different ones"
            )
        ms = values[0]
    if not ms > 0:
        raise ParameterError(f"duration must be a positive number of milliseconds, got {ms!r}")
    return 1000.0 / ms


# ``plugin="palettepress"``: imageio imports this module by name when asked for it.
known_plugins.setdefault(
    "palettepress",
    PluginConfig(
        name="palettepress", class_name="PalettepressPlugin", module_name="palettepress.imageio"
    ),
)
