"""Weighted k-means (Lloyd's iterations) on a colour histogram."""

from __future__ import annotations

import numpy as np

from . import _kernels

__all__ = ["lloyd", "hartigan"]


def lloyd(x: np.ndarray, w: np.ndarray, centres: np.ndarray, labels: np.ndarray, *,
          max_iter: int = 100, tol: float = 1e-3,
          fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Refine ``centres`` by weighted Lloyd iterations.

    Parameters
    ----------
    x : ndarray, float32 (n, d)
        Points in working coordinates.
    w : ndarray, float64 (n,)
        Point weights (pixel counts).
    centres : ndarray, float32 (k, d)
        Starting centres; not modified.
    labels : ndarray, int32 (n,)
        Starting assignment (a guess is enough); not modified.
    max_iter : int
        Iteration cap.
    tol : float
        Stop when the weighted SSE drops by no more than ``tol`` times itself.
    fixed : ndarray of bool (k,), optional
        Centres that must not move (locked palette colours).

    Returns
    -------
    centres, labels, iterations, sse
    """
    c = np.array(centres, dtype=np.float32, order="C")
    lab = np.array(labels, dtype=np.int32, order="C")
    it, sse = _kernels.kmeans(np.ascontiguousarray(x, dtype=np.float32),
                              np.ascontiguousarray(w, dtype=np.float64), c, lab, max_iter, tol,
                              None if fixed is None else np.ascontiguousarray(fixed, dtype=np.uint8))
    return c, lab, it, sse


def hartigan(x: np.ndarray, w: np.ndarray, centres: np.ndarray, labels: np.ndarray, *,
             passes: int = 3,
             fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Refine a Lloyd solution by Hartigan–Wong point moves.

    A point moves to another cluster when that lowers the weighted SSE counting the shift
    of both means, which Lloyd's nearest-centre rule does not see; every Lloyd fixed
    point that is not a Hartigan one gets improved. Measured after Lloyd on 10 Kodak and
    USC-SIPI photos (3 passes; BENCHMARKS.md, design measurements): RGB MSE 0.3-0.7% lower
    and the Oklab error 0.2-0.8% lower, for 3-6 ms.

    Returns
    -------
    centres, labels, moves, sse
    """
    c = np.array(centres, dtype=np.float32, order="C")
    lab = np.array(labels, dtype=np.int32, order="C")
    moves, sse = _kernels.hartigan(np.ascontiguousarray(x, dtype=np.float32),
                                   np.ascontiguousarray(w, dtype=np.float64), c, lab, passes,
                                   None if fixed is None else np.ascontiguousarray(fixed, dtype=np.uint8))
    return c, lab, moves, sse
