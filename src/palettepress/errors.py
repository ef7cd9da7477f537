"""The exceptions palettepress raises.

One base class, so callers (and the command line) can catch everything at once::

    PalettepressError
    ├── InputError           the input cannot be read as an image (exit code 3)
    │   └── ImageTooLargeError   more pixels than the allowed limit (exit code 3)
    ├── OutputError          the output cannot or may not be written (exit code 4)
    ├── ParameterError       an option is out of range (also a ValueError; exit code 2)
    ├── TargetError          no palette of 2-256 colours meets a quality target (exit code 5)
    └── ExtraMissingError    an optional part is not installed, with the pip command (exit code 6)

Every message names the file (where there is one) and the cause, on one line.
"""

from __future__ import annotations

__all__ = [
    "PalettepressError",
    "InputError",
    "ImageTooLargeError",
    "OutputError",
    "ParameterError",
    "TargetError",
    "ExtraMissingError",
]


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


class TargetError(PalettepressError):
    """No palette size reaches the requested quality (or size) target."""

    exit_code = 5


class ExtraMissingError(PalettepressError):
    """An optional dependency (an install extra) is missing; the message says how to add it."""

    exit_code = 6


def require(module: str, extra: str, purpose: str):
    """Import ``module`` or raise :class:`ExtraMissingError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExtraMissingError(
            f"{purpose} needs {module.split('.')[0]}: pip install 'palettepress[{extra}]'"
        ) from None
