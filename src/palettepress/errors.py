"""The exceptions palettepress raises.

One base class, so callers (and the command line) can catch everything at once::

    PalettepressError
    ├── InputError           the input cannot be read as an image (exit code 3)
    │   └── ImageTooLargeError   more pixels than the allowed limit (exit code 3)
    ├── OutputError          the output cannot or may not be written (exit code 4)
    └── ParameterError       an option is out of range (also a ValueError; exit code 2)

Every message names the file (where there is one) and the cause, on one line.
"""

from __future__ import annotations

__all__ = ["PalettepressError", "InputError", "ImageTooLargeError", "OutputError", "ParameterError"]


class PalettepressError(Exception):
    """Base class of every error palettepress raises on purpose."""

    exit_code = 1


class InputError(PalettepressError):
    """The input file is missing, empty, truncated, corrupt or not an image."""

    exit_code = 3


class ImageTooLargeError(InputError):
    """The image has more pixels than the configured limit."""


class OutputError(PalettepressError):
    """The output exists (without ``force``), equals the input, or cannot be written."""

    exit_code = 4


class ParameterError(PalettepressError, ValueError):
    """An option value is out of its documented range."""

    exit_code = 2
