"""palettepress: palette image compression by weighted k-means colour quantization.

The image's distinct colours are clustered into k palette colours (k-means on the
weighted colour histogram, in Oklab or RGB), every pixel is replaced by the index of its
palette colour, and the result is written as an indexed PNG that every browser opens.
Each result reports bytes before and after, ratio, bits per pixel, PSNR, SSIM, mean
CIEDE2000 and MSE.

>>> import palettepress
>>> result = palettepress.compress(palettepress.sample_image(), colors=32)
>>> result.colors
32
"""

from .errors import ImageTooLargeError, InputError, OutputError, PalettepressError, ParameterError
from .metrics import Metrics, measure
from .quantizer import Quantizer, Result, compress
from .sample import sample_image

__version__ = "0.1.0"

__all__ = [
    "compress",
    "Quantizer",
    "Result",
    "Metrics",
    "measure",
    "sample_image",
    "PalettepressError",
    "InputError",
    "ImageTooLargeError",
    "OutputError",
    "ParameterError",
    "__version__",
]
