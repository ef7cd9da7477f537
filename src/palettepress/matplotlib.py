"""A matplotlib movie writer: ``anim.save("a.gif", writer="palettepress", fps=15)``.

Importing this module registers :class:`PalettepressWriter` in matplotlib's writer
registry under the name ``palettepress``::

    import palettepress.matplotlib  # noqa: F401  (registers the writer)

    anim.save("a.gif", writer="palettepress", fps=15)   # also .png / .apng, .webp

It is matplotlib's ``PillowWriter`` with :func:`palettepress.animate` in place of
Pillow's encoder: each frame is rendered as RGBA by ``Figure.savefig(format="rgba")`` at
the writer's dpi (an Agg canvas's ``buffer_rgba``), its alpha dropped when every pixel
is opaque, and the file's format follows its extension (``.gif``; ``.png`` or ``.apng``:
APNG; ``.webp``).

GIF and WebP stream: :func:`~palettepress.animate` runs in a helper thread and takes each
frame as it is grabbed (a queue of two frames between them), so memory holds a few
frames whatever the length of the animation, and the compression overlaps the drawing.
APNG has one palette for the whole file, fitted before any frame is drawn, so for it the
frames are held in memory (as ``PillowWriter`` holds every frame) and compressed at
:meth:`~PalettepressWriter.finish`. The file is written through a temporary file and
renamed, so a save that fails or is interrupted leaves no file behind. Errors of
palettepress (:class:`~palettepress.ParameterError` for a bad option or an unknown
extension, :class:`~palettepress.OutputError`, ...) surface as they are, from the call that
meets them: ``setup`` for the options and the file name, else the next ``grab_frame`` or
``finish``.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import threading

import numpy as np

from .errors import require

require("matplotlib.animation", "matplotlib", "palettepress.matplotlib (the movie writer)")
from matplotlib import rcParams  # noqa: E402
from matplotlib.animation import AbstractMovieWriter, writers  # noqa: E402

__all__ = ["PalettepressWriter"]

_END = object()  # the queue's last item: every frame was grabbed
_ABORT = object()  # the save failed: make no file


class _Aborted(Exception):
    """Raised into :func:`~palettepress.animate` (through the frames) to stop it unwritten."""


def _aborted_frames():
    raise _Aborted
    yield  # a generator: animate() meets the exception when it asks for the first frame


@writers.register("palettepress")
class PalettepressWriter(AbstractMovieWriter):
    """Write matplotlib animations as animated GIF, APNG or WebP with palettepress.

    Parameters
    ----------
    fps : float, default: 5
        Frames per second (``Animation.save`` passes its ``fps``, else ``1000 / interval``).
    metadata, codec, bitrate, extra_args
        Accepted for compatibility with matplotlib's other writers, and ignored: the
        format follows the file's extension and palettepress has no bit rate.
    colors : int, default: 256
        Palette entries per frame, 2 to 256.
    dither : float, default: 1.0
        Dithering strength 0..1 (see :func:`palettepress.animate`).
    effort : int, default: 5
        1 (fastest) to 10 (smallest file).

    Attributes
    ----------
    animation : palettepress.Animation or None
        What :func:`palettepress.animate` reported (bytes, SSIMULACRA2, frames, ...),
        once :meth:`finish` has written the file.
    """

    def __init__(
        self,
        fps=5,
        metadata=None,
        codec=None,
        bitrate=None,
        extra_args=None,
        *,
        colors: int = 256,
        dither: float = 1.0,
        effort: int = 5,
    ):
        super().__init__(fps=fps, metadata=metadata, codec=codec, bitrate=bitrate)
        self.extra_args = extra_args
        self.colors = colors
        self.dither = dither
        self.effort = effort
        self.animation = None
        self._frames: list[np.ndarray] | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._asked = threading.Event()
        self._error: BaseException | None = None
        self._done = True

    @classmethod
    def isAvailable(cls) -> bool:  # matplotlib's name for it
        """Always: palettepress is pure Python over its own kernels and Pillow."""
        return True

    def _supports_transparency(self) -> bool:
        # Frames keep their alpha (GIF: thresholded at 128, as palettepress does for stills).
        return True

    def setup(self, fig, outfile, dpi=None) -> None:
        """Start writing ``outfile`` (checks the options and the name at once)."""
        from .animation import format_of

        super().setup(fig, outfile, dpi=dpi)
        self.animation = None
        self._error = None
        self._done = False
        if format_of(outfile) == "apng":
            self._frames = []  # one palette for the whole file: it sees every frame first
            # animate() on frames that end at the first request checks the options and
            # the name now, as for the streamed formats, and writes nothing.
            with contextlib.suppress(_Aborted):
                self._animate(_aborted_frames())
            return
        self._frames = None
        self._queue = queue.Queue(maxsize=2)
        self._asked.clear()
        self._thread = threading.Thread(
            target=self._run, args=(self._stream(),), name="palettepress-writer", daemon=True
        )
        self._thread.start()
        # animate() checks its arguments and the file name, then asks for the first
        # frame: an error in those is raised here, before any frame is drawn.
        try:
            self._asked.wait()
        except BaseException:  # interrupted: stop the helper, which removes its file
            self._abort()
            raise
        self._raise_failure()

    def grab_frame(self, **savefig_kwargs) -> None:
        """Render the figure (``savefig_kwargs`` as for ``Figure.savefig``) as the next frame."""
        if rcParams["savefig.bbox"] == "tight":
            raise ValueError(
                "rcParams['savefig.bbox'] must not be 'tight' as it may cause frame size "
                "to vary, which is inappropriate for animation."
            )
        for key in ("dpi", "bbox_inches", "format"):
            if key in savefig_kwargs:
                raise TypeError(f"grab_frame got an unexpected keyword argument {key!r}")
        self._raise_failure()
        buf = io.BytesIO()
        self.fig.savefig(buf, **{**savefig_kwargs, "format": "rgba", "dpi": self.dpi})
        w, h = self.frame_size
        rgba = np.frombuffer(buf.getvalue(), dtype=np.uint8).reshape(h, w, 4)
        # Opaque frames go as RGB: no alpha channel to carry, and GIF then needs no
        # transparency threshold.
        frame = np.ascontiguousarray(rgba[..., :3]) if rgba[..., 3].min() == 255 else rgba
        if self._frames is not None:
            self._frames.append(frame)
        else:
            self._put(frame)

    def finish(self) -> None:
        """Write the file (atomically) and set :attr:`animation`."""
        if self._done:
            return
        self._done = True
        if self._frames is not None:
            frames, self._frames = self._frames, None
            self.animation = self._animate(frames)
            return
        self._put(_END)
        assert self._thread is not None
        self._thread.join()
        self._raise_failure()

    @contextlib.contextmanager
    def saving(self, fig, outfile, dpi, *args, **kwargs):
        """As matplotlib's, but a save that raises (or is interrupted) writes no file."""
        with super().saving(fig, outfile, dpi, *args, **kwargs):
            try:
                yield self
            except BaseException:
                self._abort()
                raise

    # --- the helper thread ----------------------------------------------------------

    def _animate(self, frames):
        from .animation import animate

        return animate(
            frames,
            self.colors,
            output=self.outfile,
            fps=self.fps,
            dither=self.dither,
            effort=self.effort,
            force=True,  # as matplotlib's writers, which overwrite the file
        )

    def _run(self, frames) -> None:
        try:
            self.animation = self._animate(frames)
        except _Aborted:
            pass
        except BaseException as exc:
            self._error = exc
        finally:
            self._asked.set()

    def _stream(self):
        self._asked.set()
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if item is _ABORT:
                raise _Aborted
            yield item

    def _put(self, item) -> None:
        """Queue ``item`` for the helper thread; raise its error if it has stopped."""
        assert self._queue is not None and self._thread is not None
        while True:
            self._raise_failure()
            if not self._thread.is_alive():
                raise RuntimeError(f"{os.fspath(self.outfile)}: the writer has stopped")
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._done = True
            raise error

    def _abort(self) -> None:
        """Stop without writing: the helper's animate() fails, so its temporary file goes."""
        if self._done:
            return
        self._done = True
        self._frames = None
        if self._thread is not None and self._thread.is_alive():
            assert self._queue is not None
            with contextlib.suppress(queue.Empty):
                while True:  # drop the queued frames: the abort is the next item
                    self._queue.get_nowait()
            self._queue.put(_ABORT)
            self._thread.join()
        self._error = None
