"""The outcome of one compression: :class:`Result`, its file and its figures.

A result holds the encoded file, the palette and indices as the file stores them, and
what was measured; it builds nothing large (the reconstruction is made on access) and
computes nothing (the pipeline measured it). Saving goes through
:func:`palettepress.io.write_atomic`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError
from .formats import FORMATS, format_of
from .io import write_atomic

__all__ = ["Result"]


@dataclass(repr=False)
class Result:
    """What :func:`compress` produced, and how good and how small it is.

    Attributes
    ----------
    data : bytes
        The encoded file, in :attr:`format`.
    format : str
        ``png`` (indexed PNG), ``webp`` (WebP lossless) or ``gif``.
    palette : ndarray, uint8 (n, 3) or (n, 4)
        The palette, as stored in the file.
    indices : ndarray, uint8 (H, W)
        Palette index of every pixel, as stored in the file.
    colors : int
        Palette entries in the file.
    requested_colors : int
        The ``colors`` asked for.
    lossless : bool
        True when the image had no more distinct colours than requested (exact copy).
    dither : str
        How pixels were mapped: ``none`` (nearest colour), ``diffusion`` or ``ordered``
        (what ``dither_method="auto"`` chose, with that method).
    target : dict or None
        ``{name: value}`` of the quality or size target that chose the palette size, if
        one did.
    input_path : str or None
        The source file.
    input_bytes : int or None
        Size of the source file (None for an array input).
    output_bytes : int
        Size of :attr:`data`.
    ratio : float or None
        ``input_bytes / output_bytes``.
    raw_ratio : float
        Uncompressed 24-bit (32-bit with alpha) size over ``output_bytes``.
    bpp : float
        Bits per pixel of the output file.
    ssimulacra2 : float
        Perceptual quality of :attr:`image` against the original, 100 = identical,
        about 90 visually lossless, 70 high, 50 medium (see :mod:`palettepress.metrics`).
    mse, psnr, ssim, delta_e : float
        Per-pixel quality of :attr:`image` against the original.
    seconds : float
        Wall time of the whole call (decode, fit, remap, encode and metrics).
    timings : dict
        Seconds per stage; where two overlap (the file encoded while the metrics' pairs
        are counted), the metrics count only their time beyond the encoding.
    """

    data: bytes
    palette: np.ndarray
    indices: np.ndarray
    colors: int
    requested_colors: int
    lossless: bool
    dither: str
    input_path: str | None
    input_bytes: int | None
    output_bytes: int
    ratio: float | None
    raw_ratio: float
    bpp: float
    mse: float
    psnr: float
    ssim: float
    delta_e: float
    ssimulacra2: float
    seconds: float
    timings: dict = field(default_factory=dict)
    target: dict | None = None
    format: str = "png"
    #: The decoded input, kept (not copied) for showing beside the result in a notebook;
    #: None for large images (re-read from ``input_path`` then).
    original: np.ndarray | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        ratio = f" ({self.ratio:.2f}x)" if self.ratio else ""
        return (
            f"<Result {self.format.upper()} {self.width}x{self.height}, {self.colors} colours, "
            f"{self.output_bytes:,} bytes{ratio}, SSIMULACRA2 {self.ssimulacra2:.2f}>"
        )

    def to_pil(self):
        """The result as a Pillow image in mode ``P``, as ``Image.quantize`` returns one:
        the indices, the palette, and per-entry alpha in ``info["transparency"]`` when
        the palette has any."""
        from PIL import Image

        image = Image.fromarray(np.ascontiguousarray(self.indices), "P")
        image.putpalette(np.ascontiguousarray(self.palette[:, :3]).tobytes(), "RGB")
        if self.palette.shape[1] == 4 and (self.palette[:, 3] < 255).any():
            image.info["transparency"] = bytes(self.palette[:, 3].tolist())
        return image

    def _repr_html_(self) -> str:
        """Notebooks show the original and the result side by side, with the figures."""
        from .report import result_html

        original = self.original
        if original is None and self.input_path is not None:
            try:
                from .io import load

                original = load(self.input_path).pixels
            except Exception:  # moved or changed since: show the result alone
                original = None
        return result_html(self, original)

    @property
    def image(self) -> np.ndarray:
        """The reconstruction ``palette[indices]`` (uint8, ``(H, W, C)``): exactly what the
        file decodes to. Built on each access, so a result holds no full-size copy of it."""
        return self.palette[self.indices]

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return self.indices.shape[1]

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return self.indices.shape[0]

    def save(self, path, *, force: bool = False) -> None:
        """Write :attr:`data` to ``path`` atomically (refuses to overwrite without ``force``),
        or to ``path``'s ``write`` where it is a binary file object.

        A name whose extension is another format's (``.png``, ``.webp``, ``.gif``) is
        refused: the figures describe this format's file; compress with ``format=``. So is
        one of an image format palettepress does not write (``.jpg``); any other name
        (none, ``.dat``) is written as is.
        """
        if hasattr(path, "write"):
            path.write(self.data)
            return
        named = format_of(path)
        if named is not None and named != self.format:
            raise ParameterError(
                f"{os.fspath(path)}: the name is a {named.upper()} file's, the result "
                f"is {self.format.upper()} (compress with format={named!r})"
            )
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if named is None and ext and ext in _image_extensions():
            raise ParameterError(
                f"{os.fspath(path)}: the name is an image format palettepress does not"
                f" write; the result is {self.format.upper()} (name it {FORMATS[self.format]})"
            )
        write_atomic(path, self.data, force=force, source=self.input_path)

    def summary(self) -> dict:
        """The figures as a JSON-ready dict (no arrays)."""
        return {
            "format": self.format,
            "colors": self.colors,
            "lossless": self.lossless,
            "dither": self.dither,
            "target": self.target,
            "width": self.width,
            "height": self.height,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "ratio": self.ratio,
            "raw_ratio": self.raw_ratio,
            "bpp": self.bpp,
            "ssimulacra2": self.ssimulacra2,
            "psnr": self.psnr,
            "ssim": self.ssim,
            "delta_e": self.delta_e,
            "mse": self.mse,
            "seconds": self.seconds,
        }


def _image_extensions() -> set[str]:
    """The file extensions of the image formats Pillow knows (``.jpg``, ``.tif``, ...)."""
    from PIL import Image

    return set(Image.registered_extensions())
