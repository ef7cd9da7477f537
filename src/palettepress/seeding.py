"""Initial palettes for the k-means fit.

``split`` (the default) is a greedy variance split in the spirit of Wu's quantizer,
followed by merging: start with one cluster holding every colour, repeatedly cut the
cluster with the largest weighted squared error in two, across its principal axis, at
the position that minimises the summed error of the two halves, until there are 2k
clusters; then merge the pair whose merge raises the error least (Ward's criterion)
until k remain. Cutting past k and merging back undoes the greedy cuts that turned out
poor. Measured on 10 Kodak and USC-SIPI photos after Lloyd's iterations, against the
split straight to k (BENCHMARKS.md, design measurements): RGB MSE 0.6-1.0% lower and
the Oklab error 0.6-1.6% lower on average (not on every image: at k = 16 about a quarter
lose a little), and no slower, because Lloyd's iterations start closer to their end.
It is deterministic.
``kmeans++`` is the classic weighted D² sampling, driven by the caller's seeded generator.
"""

from __future__ import annotations

import heapq

import numpy as np

from . import _kernels
from .histogram import group_colors, group_means

__all__ = ["INITS", "variance_split", "split_merge", "kmeans_plus_plus", "initial_palette"]

INITS = ("split", "kmeans++")


def _sse(x: np.ndarray, w: np.ndarray) -> float:
    sw = w.sum()
    s1 = (w[:, None] * x).sum(axis=0)
    return float((w * np.einsum("ij,ij->i", x, x)).sum() - s1 @ s1 / sw)


def _best_cut(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the two halves of a cluster cut across its principal axis."""
    mean = (w[:, None] * x).sum(axis=0) / w.sum()
    centred = x - mean
    cov = (w[:, None] * centred).T @ centred
    axis = np.linalg.eigh(cov)[1][:, -1]
    order = np.argsort(centred @ axis, kind="stable")
    xs, ws = x[order], w[order]
    cw = np.cumsum(ws)
    c1 = np.cumsum(ws[:, None] * xs, axis=0)
    c2 = np.cumsum(ws * np.einsum("ij,ij->i", xs, xs))
    tw, t1, t2 = cw[-1], c1[-1], c2[-1]
    lw, l1, l2 = cw[:-1], c1[:-1], c2[:-1]
    rw, r1, r2 = tw - lw, t1 - l1, t2 - l2
    err = (l2 - np.einsum("ij,ij->i", l1, l1) / lw) + (r2 - np.einsum("ij,ij->i", r1, r1) / rw)
    cut = int(np.argmin(err)) + 1
    return order[:cut], order[cut:]


#: Above this many points the split runs on groups of near-equal colours (their means in
#: working coordinates): Lloyd's iterations on every colour follow anyway, and the split
#: of a 72-thousand-colour Kodak photo takes half the time on 16 thousand groups.
SPLIT_MAX_POINTS = 1 << 14


def variance_split(
    x: np.ndarray, w: np.ndarray, k: int, colors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(k, d)`` float32 and labels ``(n,)`` int32 by greedy variance splitting.

    Assumes ``n >= k`` distinct points with positive weights. Clusters that cannot be
    cut any more (a single point) leave the result with fewer than ``k`` centres. With
    ``colors`` (the points' 8-bit colours) and more than :data:`SPLIT_MAX_POINTS` points,
    the split runs on groups of near-equal colours and labels every point by its group.
    """
    if colors is not None and len(x) > SPLIT_MAX_POINTS:
        group, m = group_colors(colors, SPLIT_MAX_POINTS)
        if m >= k:
            xg, wg = group_means(group, m, x, w)
            centres, labels = variance_split(xg, wg, k)
            return centres, labels[group]
    centres = np.zeros((k, x.shape[1]), dtype=np.float32)
    labels = np.zeros(len(x), dtype=np.int32)
    made = _kernels.variance_split(
        np.ascontiguousarray(x, dtype=np.float32),
        np.ascontiguousarray(w, dtype=np.float64),
        k,
        centres,
        labels,
    )
    return centres[:made], labels


def _variance_split_reference(
    x: np.ndarray, w: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The same split with an exact cut position, in numpy (slow; kept for tests)."""
    x64 = x.astype(np.float64)
    w = w.astype(np.float64)
    everything = np.arange(len(x))
    heap = [(-_sse(x64, w), 0, everything)]
    done: list[np.ndarray] = []
    tick = 1
    while heap and len(heap) + len(done) < k:
        neg, _, idx = heapq.heappop(heap)
        if len(idx) < 2 or neg >= 0:
            done.append(idx)
            continue
        left, right = _best_cut(x64[idx], w[idx])
        for part in (idx[left], idx[right]):
            heapq.heappush(heap, (-_sse(x64[part], w[part]), tick, part))
            tick += 1
    clusters = done + [item[2] for item in sorted(heap, key=lambda item: item[1])]
    centres = np.empty((len(clusters), x.shape[1]), dtype=np.float32)
    labels = np.empty(len(x), dtype=np.int32)
    for j, idx in enumerate(clusters):
        centres[j] = (w[idx, None] * x64[idx]).sum(axis=0) / w[idx].sum()
        labels[idx] = j
    return centres, labels


def kmeans_plus_plus(
    x: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Centres and labels by weighted k-means++ sampling (Arthur & Vassilvitskii 2007)."""
    n = len(x)
    x64 = x.astype(np.float64)
    first = rng.choice(n, p=w / w.sum())
    chosen = [first]
    d2 = ((x64 - x64[first]) ** 2).sum(axis=1)
    labels = np.zeros(n, dtype=np.int32)
    for j in range(1, k):
        p = w * d2
        total = p.sum()
        nxt = int(rng.choice(n, p=p / total)) if total > 0 else int(np.argmax(d2))
        chosen.append(nxt)
        nd = ((x64 - x64[nxt]) ** 2).sum(axis=1)
        closer = nd < d2
        d2 = np.where(closer, nd, d2)
        labels[closer] = j
    return np.ascontiguousarray(x[chosen], dtype=np.float32), labels


def split_merge(
    x: np.ndarray, w: np.ndarray, k: int, colors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Variance split into ``2k`` clusters, then Ward merges down to ``k`` (module docstring)."""
    centres, labels = variance_split(x, w, min(2 * k, len(x)), colors)
    if len(centres) <= k:
        return centres, labels
    weight = np.bincount(labels, weights=w, minlength=len(centres))
    owner = np.empty(len(centres), dtype=np.int32)
    merged = _kernels.ward_merge(np.ascontiguousarray(centres), weight, k, owner)
    return merged, owner[labels]


def initial_palette(
    x: np.ndarray,
    w: np.ndarray,
    k: int,
    init: str,
    seed: int,
    colors: np.ndarray | None = None,
    merge: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to the initialisation named ``init`` (one of :data:`INITS`).

    The seeded generator is made only for ``kmeans++``: the default split needs none,
    and loading numpy's random module would cost every run about 10 ms of start-up.
    """
    if init == "split":
        return split_merge(x, w, k, colors) if merge else variance_split(x, w, k, colors)
    return kmeans_plus_plus(x, w, k, np.random.default_rng(seed))
