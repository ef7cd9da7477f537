"""What each ``effort`` level (1 = fastest, 10 = best, 5 = default) spends, stage by stage.

One table for the whole pipeline: the fit reads its Lloyd tolerance, Hartigan passes,
split-and-merge seeding and centre swaps; the PNG writer its deflate level, and from
:data:`PNG_SEARCH_EFFORT` on it searches the file layout. (WebP's method and quality by
effort are the WebP writer's, in :mod:`palettepress.formats`.) No stage logic lives here.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from .errors import ParameterError

__all__ = ["EFFORTS", "Effort", "PNG_SEARCH_EFFORT", "check_effort"]


#: The default deflates at level 6: a default run also dithers and measures SSIMULACRA2,
#: and level 6 saves about 3 ms of a Kodak photo's 75 (measured side by side), for files
#: 0.6% larger than at 7 (design measurements), which effort 6 and up spend.
#: libdeflate's levels 8 and 9 deflate palette indices no smaller than 7 (design
#: measurements), so the deflate level steps from 7 straight to 10; from effort 9 the PNG
#: writer also searches palette orders and row filters (:mod:`palettepress.formats`),
#: and for WebP the effort picks libwebp's method and quality. The swaps are what
#: levels 9 and 10 add to the fit: on USC-SIPI Airplane, Mandrill and Peppers and Kodak
#: 01, 05 and 23 at k = 64 and 256, in RGB, effort 10's MSE is 0.2-0.9% lower than
#: without them (median 0.7%; Airplane 35.95 to 35.70 at k = 64, 14.52 to 14.40 at
#: k = 256) and effort 9's 0.5% (one of the 12 cases 0.03% higher); in Oklab CIEDE2000
#: moves by -2.0% to +0.4% (median -0.6%). They take 2-5 times the fit time; with the PNG
#: layout search, efforts 9 and 10 take 18-22 times effort 5's whole time on Kodak photos
#: (BENCHMARKS.md, effort levels). On the Kodak photos of BENCHMARKS.md effort 10's files
#: came out 0.6% smaller at k = 64 and 1.0% larger at k = 256 with the swaps than without.
class Effort(TypedDict):
    """What one effort level spends (see :data:`EFFORTS`): a factor on Lloyd's tolerance,
    Hartigan passes (and those for error diffusion at full strength), whether the initial
    split goes to 2k and merges back, how many centre swaps
    :func:`~palettepress.kmeans.swap` tries, and the deflate level."""

    tol_scale: float
    hartigan: int
    hartigan_diffused: int
    merge: bool
    swaps: int
    deflate: int


#: Hartigan's passes lower the palette's own error, which is the image's without
#: dithering (the RGB MSE against pngquant's of BENCHMARKS.md rests on them). Error
#: diffusion at full strength carries each pixel's error on to its neighbours instead:
#: on USC-SIPI, CBSD68, McMaster and graphics/ at k = 16, 64 and 256 (in Oklab), one pass
#: instead of three moved the mean SSIMULACRA2 by -0.11 to +0.12 (mean -0.01) and the
#: bytes by -0.15 to +0.12%, for 1.9-4.4 ms less a CBSD68 photo; none moved it by -0.02
#: on average, and ordered dithering lost up to 0.24 with one pass. Up to the default
#: effort, diffused output gets one pass.
#:
#: BENCHMARKS.md (effort levels) has the time and quality each level measured.
# fmt: off
EFFORTS: dict[int, Effort] = {
    1: Effort(tol_scale=10.0, hartigan=0, hartigan_diffused=0, merge=False, swaps=0, deflate=4),
    2: Effort(tol_scale=5.0, hartigan=0, hartigan_diffused=0, merge=False, swaps=0, deflate=5),
    3: Effort(tol_scale=3.0, hartigan=1, hartigan_diffused=1, merge=True, swaps=0, deflate=6),
    4: Effort(tol_scale=2.0, hartigan=2, hartigan_diffused=1, merge=True, swaps=0, deflate=6),
    5: Effort(tol_scale=1.0, hartigan=3, hartigan_diffused=1, merge=True, swaps=0, deflate=6),
    6: Effort(tol_scale=0.5, hartigan=4, hartigan_diffused=4, merge=True, swaps=0, deflate=7),
    7: Effort(tol_scale=0.3, hartigan=6, hartigan_diffused=6, merge=True, swaps=0, deflate=7),
    8: Effort(tol_scale=0.1, hartigan=8, hartigan_diffused=8, merge=True, swaps=0, deflate=10),
    9: Effort(tol_scale=0.03, hartigan=12, hartigan_diffused=12, merge=True, swaps=12, deflate=11),
    10: Effort(tol_scale=0.01, hartigan=20, hartigan_diffused=20, merge=True, swaps=32, deflate=12),
}
# fmt: on

#: From this effort on, the PNG writer tries several palette orders and row filters and
#: keeps the smallest file (BENCHMARKS.md, file formats).
PNG_SEARCH_EFFORT = 9


def check_effort(effort) -> None:
    """:class:`ParameterError` unless ``effort`` is an integer from 1 to 10."""
    if (
        isinstance(effort, bool)
        or not isinstance(effort, (int, np.integer))
        or effort not in EFFORTS
    ):
        raise ParameterError(f"effort must be an integer from 1 to 10, got {effort!r}")
