"""palettepress: palette image compression by weighted k-means colour quantization.

The image's distinct colours are clustered into k palette colours (k-means on the
weighted colour histogram, in Oklab or RGB), every pixel is replaced by the index of its
palette colour, and the result is written as an indexed PNG, WebP lossless or GIF file that every
browser opens.
Each result reports bytes before and after, ratio, bits per pixel, and quality as
SSIMULACRA2 (perceptual), PSNR, SSIM, mean CIEDE2000 and MSE.

>>> import palettepress
>>> result = palettepress.compress(palettepress.sample_image(), colors=32)
>>> result.colors
32
"""

import importlib

__version__ = "0.1.0"

# The public names load on first use, so that ``palettepress --help`` and importing the
# package stay cheap; numpy and Pillow are imported only when an image is processed.
_EXPORTS = {
    "compress": "pipeline",
    "quantize": "pipeline",
    "sweep": "sweeps",
    "animate": "animation",
    "Animation": "animation",
    "Quantizer": "quantizer",
    "Result": "result",
    "GifAlphaWarning": "formats",
    "AnimatedInputWarning": "io",
    "Metrics": "metrics",
    "measure": "metrics",
    "sample_image": "sample",
    "PalettepressError": "errors",
    "InputError": "errors",
    "ImageTooLargeError": "errors",
    "OutputError": "errors",
    "ParameterError": "errors",
    "TargetError": "errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'palettepress' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
