"""Quality and size targets, and the search over k that meets them.

Instead of a palette size, a caller may give one target: ``min_ssimulacra2``,
``min_ssim`` or ``max_delta_e`` (the smallest k whose result meets it) or ``max_bytes``
(the largest k whose file fits). :func:`search` bisects over k, asking the caller for a
measured result at each k it tries: it never estimates, and what it returns was
measured to meet the target. It knows nothing of how a result is made (the pipeline
hands it a function of k).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .errors import ParameterError, TargetError

if TYPE_CHECKING:
    from .result import Result

__all__ = ["TARGETS", "given", "check_target", "meets", "describe", "search"]

#: The quality and size targets :func:`~palettepress.compress` accepts instead of a
#: palette size.
TARGETS = ("min_ssimulacra2", "min_ssim", "max_delta_e", "max_bytes")


def given(**values) -> dict:
    """The targets among ``values`` (name -> value) that are not None; at most one may be.

    Raises
    ------
    ParameterError
        More than one target is given.
    """
    chosen = {name: v for name, v in values.items() if v is not None}
    if len(chosen) > 1:
        raise ParameterError(f"give one target at a time, got {', '.join(chosen)}")
    return chosen


def check_target(name: str, value) -> None:
    """:class:`ParameterError` unless ``value`` is a valid value of target ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if name == "min_ssimulacra2" and not (math.isfinite(value) and value <= 100):
        raise ParameterError(f"min_ssimulacra2 must be at most 100, got {value!r}")
    if name == "min_ssim" and not 0 < value <= 1:
        raise ParameterError(f"min_ssim must be in (0, 1], got {value!r}")
    if name == "max_delta_e" and not value > 0:
        raise ParameterError(f"max_delta_e must be > 0, got {value!r}")
    if name == "max_bytes" and not (float(value).is_integer() and value >= 1):
        raise ParameterError(f"max_bytes must be a positive whole number, got {value!r}")


def meets(result: Result, target: str, value: float) -> bool:
    """Whether a measured result meets the target. A lossless result meets every quality
    target, also where a measure is undefined (SSIMULACRA2 of an image under 8 pixels)."""
    if target != "max_bytes" and result.lossless:
        return True
    if target == "min_ssimulacra2":
        return result.ssimulacra2 >= value
    if target == "min_ssim":
        return result.ssim >= value
    if target == "max_delta_e":
        return result.delta_e <= value
    return result.output_bytes <= value


def describe(target: str, value) -> str:
    """The target in words, for messages."""
    return {
        "min_ssimulacra2": f"SSIMULACRA2 >= {value:g}",
        "min_ssim": f"SSIM >= {value:g}",
        "max_delta_e": f"CIEDE2000 <= {value:g}",
        "max_bytes": f"at most {int(value):,} bytes",
    }[target]


def search(
    compress_at: Callable[[int, tuple], Result],
    target: str,
    value: float,
    upper: int,
    name: str,
) -> Result:
    """The result at the palette size a target picks, by bisection over k from 2 to ``upper``.

    ``compress_at(k, goal)`` makes and measures the result at k (``goal`` is
    ``(target, value)``, for choices such as ``auto`` dithering that can aim at it);
    each k is asked for once. Quality targets take the smallest k that meets them;
    ``max_bytes`` takes the largest k whose file fits. Quality and size grow with k
    almost always, so bisection needs about eight compressions. The result returned has
    ``target`` set to ``{target: value}``.

    Raises
    ------
    TargetError
        No k from 2 to ``upper`` meets the target (``name``, the image, opens the message).
    """
    tried: dict[int, Result] = {}

    def at(k: int) -> Result:
        if k not in tried:
            tried[k] = compress_at(k, (target, value))
        return tried[k]

    if target == "max_bytes":
        result = _largest_fitting(at, value, upper, name)
    else:
        result = _smallest_meeting(at, target, value, upper, name)
    result.target = {target: value}
    return result


def _largest_fitting(at: Callable[[int], Result], value: float, upper: int, name: str) -> Result:
    if not meets(at(2), "max_bytes", value):
        raise TargetError(
            f"{name}: no palette fits in {int(value):,} bytes "
            f"(2 colours take {at(2).output_bytes:,})"
        )
    lo, hi = 2, upper  # lo meets the target; find the largest k that does
    if meets(at(hi), "max_bytes", value):
        return at(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if meets(at(mid), "max_bytes", value) else (lo, mid)
    return at(lo)


def _smallest_meeting(
    at: Callable[[int], Result], target: str, value: float, upper: int, name: str
) -> Result:
    if not meets(at(upper), target, value):
        best = at(upper)
        got = {
            "min_ssimulacra2": f"SSIMULACRA2 {best.ssimulacra2:.2f}",
            "min_ssim": f"SSIM {best.ssim:.4f}",
            "max_delta_e": f"CIEDE2000 {best.delta_e:.3f}",
        }[target]
        raise TargetError(
            f"{name}: no palette of 2-{upper} colours reaches {describe(target, value)} "
            f"({got} at {upper})"
        )
    lo, hi = 1, upper  # hi meets the target; find the smallest k that does
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if meets(at(mid), target, value) else (mid, hi)
    return at(hi)
