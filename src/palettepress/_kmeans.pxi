# Weighted Lloyd iterations on the colour histogram, with Hamerly's bounds and a search
# over the centres sorted by distance from the current one (Celebi's sort-means), so
# most points cost one distance per iteration or none.

from libcpp.algorithm cimport sort as cpp_sort


cdef inline float _dist(const float* x, const float* c, int d) noexcept nogil:
    cdef float s = 0, t
    cdef int q
    for q in range(d):
        t = x[q] - c[q]
        s += t * t
    return sqrt(s)


cdef void _sort_row(const float* row, int k, int32_t* order, uint32_t* buf) noexcept nogil:
    """``order`` (k entries, each index once) sorted by ``row[order[t]]``, stably: entries
    at equal distances keep their order. A radix sort on the bit patterns (non-negative
    floats order like them), a byte a pass, skipping bytes all keys share: with it the
    whole geometry of 256 centres takes 0.55 ms where sorting by comparisons took 1.2.
    ``buf`` holds 4 k values."""
    cdef uint32_t* ka = buf
    cdef uint32_t* ia = buf + k
    cdef uint32_t* kb = buf + 2 * k
    cdef uint32_t* ib = buf + 3 * k
    cdef uint32_t* tmp
    cdef uint32_t count[256]
    cdef uint32_t total, c, key
    cdef int j, shift, digit
    for j in range(k):
        ia[j] = <uint32_t>order[j]
        ka[j] = (<const uint32_t*>row)[order[j]]
    for shift in range(0, 32, 8):
        memset(count, 0, sizeof(count))
        for j in range(k):
            count[(ka[j] >> shift) & 255] += 1
        if count[(ka[0] >> shift) & 255] == <uint32_t>k:
            continue
        total = 0
        for digit in range(256):
            c = count[digit]
            count[digit] = total
            total += c
        for j in range(k):
            key = ka[j]
            digit = (key >> shift) & 255
            kb[count[digit]] = key
            ib[count[digit]] = ia[j]
            count[digit] += 1
        tmp = ka
        ka = kb
        kb = tmp
        tmp = ia
        ia = ib
        ib = tmp
    for j in range(k):
        order[j] = <int32_t>ia[j]


cdef void _sort_keys(const float* row, int k, int32_t* order, uint64_t* keys) noexcept nogil:
    """``order`` (k entries) the indices 0..k-1 sorted by ``row``, ties in index order:
    (bits, index) sorts as integers (non-negative floats order like their bits)."""
    cdef int j
    for j in range(k):
        keys[j] = ((<uint64_t>(<const uint32_t*>row)[j]) << 32) | <uint64_t>j
    cpp_sort(keys, keys + k)
    for j in range(k):
        order[j] = <int32_t>(keys[j] & <uint64_t>0xFFFFFFFFU)


cdef bint _insertion_row(const float* row, int k, int32_t* order, long budget) noexcept nogil:
    """Sort ``order`` by ``row[order[t]]`` by insertion (stable), unless that moves entries
    more than ``budget`` places in all: then stop and return True, ``order`` holding every
    entry once, partly sorted (a stable sort of it still gives the stable order)."""
    cdef int j, t
    cdef int32_t cur
    cdef float key
    cdef long moved = 0
    for j in range(1, k):
        cur = order[j]
        key = row[cur]
        t = j - 1
        while t >= 0 and row[order[t]] > key:
            order[t + 1] = order[t]
            t = t - 1
        order[t + 1] = cur
        moved = moved + (j - 1 - t)
        if moved > budget:
            return True
    return False


#: A nearly sorted row (``resort``) is finished by insertion while that moves entries at
#: most this many places in all, times k; past that, by the radix sort.
cdef int _INSERTION_BUDGET = 4
#: Rows of fewer centres are sorted by comparisons, which is faster there than the radix
#: sort.
cdef int _RADIX_MIN = 128


cdef void _centre_geometry(const float* C, int k, int d, float* cc, int32_t* order,
                           float* half_gap, bint resort) noexcept nogil:
    """Centre-to-centre distances, each row's centres by distance, half the nearest gap.

    Rows are sorted stably, ties in index order; with ``resort`` the rows of ``order``
    hold last iteration's order, which centres that moved a little leave nearly sorted:
    insertion sort then costs about one pass (ties keep last iteration's order).
    """
    cdef int a, j, q
    cdef float* soa = <float*>malloc(k * d * sizeof(float))
    # Each thread's sorting space: 4 k values (two keys and two indices a row).
    cdef uint32_t* scratch = <uint32_t*>malloc(omp_get_max_threads() * 4 * k * sizeof(uint32_t))
    cdef uint32_t* mine
    if soa != NULL:
        # Whole rows, each distance computed twice (to the same bits): a vector loop a row.
        for a in range(k):
            for q in range(d):
                soa[q * k + a] = C[a * d + q]
        for a in range(k):
            pp_dist_row(soa, k, d, a, &cc[a * k])
        free(soa)
    else:
        for a in range(k):
            for j in range(a + 1, k):
                cc[a * k + j] = _dist(&C[a * d], &C[j * d], d)
            cc[a * k + a] = 0
        for a in range(k):
            for j in range(a):
                cc[a * k + j] = cc[j * k + a]
    for a in prange(k, schedule="static", num_threads=_threads_for(8 * k * k)):
        if scratch == NULL:
            # No sorting space: insertion alone (never giving up), slower but as sorted.
            if not resort:
                for j in range(k):
                    order[a * k + j] = j
            _insertion_row(&cc[a * k], k, &order[a * k], <long>k * k)
            continue
        mine = scratch + omp_get_thread_num() * 4 * k
        if resort:
            if _insertion_row(&cc[a * k], k, &order[a * k], <long>_INSERTION_BUDGET * k):
                _sort_row(&cc[a * k], k, &order[a * k], mine)
        elif k < _RADIX_MIN:
            _sort_keys(&cc[a * k], k, &order[a * k], <uint64_t*>mine)
        else:
            for j in range(k):
                order[a * k + j] = j
            _sort_row(&cc[a * k], k, &order[a * k], mine)
    free(scratch)
    for a in range(k):
        # The first entry is a itself (distance 0) unless a duplicate centre ties with it.
        half_gap[a] = 0.5 * (cc[a * k + order[a * k + 1]] if order[a * k] == a else 0) if k > 1 else INFINITY


cdef inline float _dist2(const float* x, const float* c, int d) noexcept nogil:
    cdef float s = 0, t
    cdef int q
    for q in range(d):
        t = x[q] - c[q]
        s += t * t
    return s


cdef inline int _search(const float* x, const float* C, int k, int d, const float* cc,
                        const int32_t* order, int a, float da, float* best_d,
                        float* lower) noexcept nogil:
    """Nearest centre to x, starting from centre a at distance da.

    Centres are visited by distance from a; once cc[a, j] - da reaches the second-best
    distance, the triangle inequality rules out j and every later centre. Going on to the
    second best, not just the best, makes ``lower`` (the distance to the nearest centre
    other than the winner) exact. Candidates are compared by squared distance, so only
    the two survivors pay for a square root.
    """
    cdef int best = a, t, j
    cdef float bd2 = da * da, sec2 = INFINITY, dj2, gap
    for t in range(1, k):
        j = order[a * k + t]
        gap = cc[a * k + j] - da
        if gap > 0 and gap * gap >= sec2:
            break
        dj2 = _dist2(x, &C[j * d], d)
        if dj2 < bd2:
            sec2 = bd2
            bd2 = dj2
            best = j
        elif dj2 < sec2:
            sec2 = dj2
    best_d[0] = sqrt(bd2)
    lower[0] = sqrt(sec2)
    return best


cdef int _nearest_from(const float* x, const float* C, int k, int d, const float* cc,
                       const int32_t* order, int a, float da) noexcept nogil:
    """Nearest centre to x, starting from centre a at distance da: :func:`_search`
    without the second best, so the walk stops as soon as cc[a, j] - da reaches the best
    distance."""
    cdef int best = a, t, j
    cdef float bd2 = da * da, dj2, gap
    for t in range(1, k):
        j = order[a * k + t]
        gap = cc[a * k + j] - da
        if gap > 0 and gap * gap >= bd2:
            break
        dj2 = _dist2(x, &C[j * d], d)
        if dj2 < bd2:
            bd2 = dj2
            best = j
    return best


cdef inline void _move(const float* x, double wi, int src, int dst, int d, double* sums,
                       double* wsum, double* s2, int64_t* npts) noexcept nogil:
    """Move a point's weight and moments from cluster src (-1: none) to cluster dst."""
    cdef double xx = 0
    cdef int q
    for q in range(d):
        xx += <double>x[q] * x[q]
        if src >= 0:
            sums[src * d + q] -= wi * x[q]
        sums[dst * d + q] += wi * x[q]
    if src >= 0:
        wsum[src] -= wi
        s2[src] -= wi * xx
        npts[src] -= 1
    wsum[dst] += wi
    s2[dst] += wi * xx
    npts[dst] += 1


def kmeans(const float[:, ::1] X, const double[::1] w, float[:, ::1] C, int32_t[::1] labels,
           int max_iter, double tol, const uint8_t[::1] fixed=None):
    """Weighted Lloyd iterations from centres ``C`` (updated in place).

    ``labels`` holds a starting guess for each point's centre (any valid index) and
    receives the final assignment. Stops when the relative drop of the weighted SSE
    falls to ``tol`` or after ``max_iter`` iterations. Empty clusters are re-seeded with
    the point that contributes most to the SSE. Centres flagged in ``fixed`` (k,) never
    move (colours the caller locked into the palette); they only gather points.
    Returns ``(iterations, sse)``.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = X.shape[1], k = C.shape[0]
    cdef float[::1] u = np.full(n, np.inf, dtype=np.float32)
    cdef float[::1] lo = np.zeros(n, dtype=np.float32)
    cdef float[::1] cc = np.empty(k * k, dtype=np.float32)
    cdef int32_t[::1] order = np.empty(k * k, dtype=np.int32)
    cdef float[::1] half_gap = np.empty(k, dtype=np.float32)
    cdef float[::1] delta = np.zeros(k, dtype=np.float32)
    cdef float[::1] near_drift = np.zeros(k, dtype=np.float32)
    cdef float[::1] far = np.zeros(k, dtype=np.float32)
    cdef int m = 16 if k > 17 else k - 1
    cdef double[::1] sums = np.empty(k * d, dtype=np.float64)
    cdef double[::1] wsum = np.empty(k, dtype=np.float64)
    cdef double[::1] s2 = np.empty(k, dtype=np.float64)
    cdef int64_t[::1] npts = np.empty(k, dtype=np.int64)
    cdef int32_t[::1] held = np.empty(n, dtype=np.int32)
    cdef Py_ssize_t i, p
    cdef int a, j, q, it = 0
    cdef float da, bound, dmax, newc
    cdef double sse = INFINITY, prev, xx, score, top, cn, cd
    cdef bint has_fixed = fixed is not None
    with nogil:
        dmax = 0
        while True:
            # Assignment, with bounds carried over from the last iteration's movement.
            _centre_geometry(&C[0, 0], k, d, &cc[0], &order[0], &half_gap[0], it > 0)
            # Lower bounds decay by the drift of nearby centres only: a centre j outside
            # a's m nearest is at least far[a] - u from the point (triangle inequality),
            # and each of the m nearest moved at most near_drift[a].
            for a in range(k):
                near_drift[a] = 0
                for q in range(m + 1):
                    j = order[a * k + q]
                    if j != a and delta[j] > near_drift[a]:
                        near_drift[a] = delta[j]
                far[a] = cc[a * k + order[a * k + m + 1]] if m + 1 < k else INFINITY
            for i in prange(n, schedule="static", num_threads=_threads_for(n)):
                a = labels[i]
                u[i] = u[i] + delta[a]
                lo[i] = lo[i] - near_drift[a]
                if far[a] - u[i] < lo[i]:
                    lo[i] = far[a] - u[i]
                bound = lo[i] if lo[i] > half_gap[a] else half_gap[a]
                if u[i] <= bound:
                    continue
                da = _dist(&X[i, 0], &C[a, 0], d)
                u[i] = da
                if da <= bound:
                    continue
                # The search writes the bounds straight into u[i] and lo[i]: locals whose
                # address is taken would be shared between the threads of a prange.
                labels[i] = _search(&X[i, 0], &C[0, 0], k, d, &cc[0], &order[0], a, da, &u[i], &lo[i])
            it += 1
            # Update: the per-cluster sums change only by the points that moved, so
            # they are patched (serially, in point order, so the result never depends on
            # the threads) instead of re-accumulated over every point.
            if it == 1:
                for j in range(k):
                    wsum[j] = 0
                    s2[j] = 0
                    npts[j] = 0
                    for q in range(d):
                        sums[j * d + q] = 0
                for i in range(n):
                    _move(&X[i, 0], w[i], -1, labels[i], d, &sums[0], &wsum[0], &s2[0], &npts[0])
                    held[i] = labels[i]
            else:
                for i in range(n):
                    if labels[i] != held[i]:
                        _move(&X[i, 0], w[i], held[i], labels[i], d, &sums[0], &wsum[0], &s2[0], &npts[0])
                        held[i] = labels[i]
            for j in range(k):
                if npts[j] > 0 or (has_fixed and fixed[j]):
                    continue
                # Empty cluster: take the point that costs most where it is.
                p = -1
                top = -1
                for i in range(n):
                    if npts[labels[i]] > 1:
                        score = w[i] * <double>u[i] * u[i]
                        if score > top:
                            top = score
                            p = i
                if p < 0:
                    break
                # Clear the rounding residue the patched sums of an empty cluster keep.
                wsum[j] = 0
                s2[j] = 0
                for q in range(d):
                    sums[j * d + q] = 0
                _move(&X[p, 0], w[p], labels[p], j, d, &sums[0], &wsum[0], &s2[0], &npts[0])
                labels[p] = j
                held[p] = j
                u[p] = 0
                lo[p] = 0
            prev = sse
            sse = 0
            dmax = 0
            for j in range(k):
                xx = 0
                cn = 0
                for q in range(d):
                    # The cluster's error is s2 - 2 c.S + W |c|^2, with c its mean unless fixed.
                    cd = sums[j * d + q] / wsum[j] if npts[j] > 0 and not (has_fixed and fixed[j]) else C[j, q]
                    newc = <float>cd
                    xx = xx + (<double>newc - C[j, q]) * (<double>newc - C[j, q])
                    cn = cn + 2 * cd * sums[j * d + q] - wsum[j] * cd * cd if npts[j] > 0 else cn
                    C[j, q] = newc
                if npts[j] > 0 and s2[j] > cn:
                    sse += s2[j] - cn
                delta[j] = <float>sqrt(xx)
                if delta[j] > dmax:
                    dmax = delta[j]
            if sse < 0:
                sse = 0
            if it >= max_iter or prev - sse <= tol * sse or dmax == 0:
                break
    return it, sse


def nearest(const float[:, ::1] X, const float[:, ::1] C, int32_t[::1] labels):
    """Exact nearest centre for every point; ``labels`` holds a starting guess on entry."""
    cdef Py_ssize_t n = X.shape[0], i
    cdef int d = X.shape[1], k = C.shape[0], a
    cdef float[::1] cc = np.empty(k * k, dtype=np.float32)
    cdef int32_t[::1] order = np.empty(k * k, dtype=np.int32)
    cdef float[::1] half_gap = np.empty(k, dtype=np.float32)
    cdef float da
    with nogil:
        _centre_geometry(&C[0, 0], k, d, &cc[0], &order[0], &half_gap[0], False)
        for i in prange(n, schedule="static", num_threads=_threads_for(n)):
            a = labels[i]
            da = _dist(&X[i, 0], &C[a, 0], d)
            if da > half_gap[a]:
                labels[i] = _nearest_from(&X[i, 0], &C[0, 0], k, d, &cc[0], &order[0], a, da)
    return labels


cdef enum:
    # Points a Hartigan pre-pass takes at a time (see hartigan).
    _HARTIGAN_BLOCK = 32


def hartigan(const float[:, ::1] X, const double[::1] w, float[:, ::1] C, int32_t[::1] labels,
             int passes, const uint8_t[::1] fixed=None):
    """Hartigan–Wong refinement after Lloyd's iterations; returns ``(moves, sse)``.

    A point of weight w moves from cluster A to B when that lowers the weighted SSE once
    both means are updated: w·W_B/(W_B+w)·|x−c_B|² < w·W_A/(W_A−w)·|x−c_A|². Lloyd's
    fixed points need not satisfy this, so it finds lower SSE from where Lloyd stops.
    Points run serially in index order (the means move with every move), so the result
    never depends on the threads. Candidates B are visited by distance from c_A and cut
    off by the triangle inequality on the distances of the pass's start. A centre flagged
    in ``fixed`` does not move with its members, so its factor W/(W±w) is 1.

    Most points cannot move at all: not even the centre nearest c_A is within reach.
    A pre-pass over a block of points computes each one's cost where it is and that
    test, free of branches and of one another, so the serial walk visits only the
    points left; a move changes two clusters, and the walk starts a new block after it.
    The values and decisions are those of the point-by-point walk.
    """
    cdef Py_ssize_t n = X.shape[0], i, i0, i1, j, nc, c, moved
    cdef int d = X.shape[1], k = C.shape[0], A, B, best, q, t, p
    cdef double[::1] W = np.zeros(k)
    cdef double[:, ::1] S = np.zeros((k, d))
    cdef double[:, ::1] Cd = np.zeros((k, d))
    cdef float[::1] cc = np.empty(k * k, dtype=np.float32)
    cdef int32_t[::1] order = np.empty(k * k, dtype=np.int32)
    cdef float[::1] half_gap = np.empty(k, dtype=np.float32)
    cdef double[::1] gap = np.empty(k)
    cdef double pre_rem[_HARTIGAN_BLOCK]
    cdef double pre_reach[_HARTIGAN_BLOCK]
    cdef double pre_dA[_HARTIGAN_BLOCK]
    cdef Py_ssize_t walk[_HARTIGAN_BLOCK]
    cdef double wi, dA2, dB2, rem, add, best_add, reach, wmin, dA, diff, sse = 0
    cdef long moves = 0, pass_moves
    cdef bint stuck
    cdef uint8_t[::1] pinned = np.zeros(k, dtype=np.uint8) if fixed is None else np.array(fixed, dtype=np.uint8)
    with nogil:
        for i in range(n):
            A = labels[i]
            W[A] += w[i]
            for q in range(d):
                S[A, q] += w[i] * X[i, q]
        for A in range(k):
            for q in range(d):
                Cd[A, q] = S[A, q] / W[A] if W[A] > 0 and not pinned[A] else C[A, q]
        for p in range(passes if k > 1 else 0):
            for A in range(k):
                for q in range(d):
                    C[A, q] = <float>Cd[A, q]
            _centre_geometry(&C[0, 0], k, d, &cc[0], &order[0], &half_gap[0], p > 0)
            wmin = INFINITY
            for A in range(k):
                gap[A] = cc[A * k + order[A * k + 1]]
                if W[A] > 0 and W[A] < wmin:
                    wmin = W[A]
            pass_moves = 0
            i0 = 0
            while i0 < n:
                i1 = min(n, i0 + _HARTIGAN_BLOCK)
                nc = 0
                for i in range(i0, i1):
                    A = labels[i]
                    wi = w[i]
                    dA2 = 0
                    for q in range(d):
                        diff = X[i, q] - Cd[A, q]
                        dA2 = dA2 + diff * diff
                    rem = wi * dA2 if pinned[A] else wi * W[A] / (W[A] - wi) * dA2
                    # Every B has W_B/(W_B+w) >= wmin/(wmin+w): beyond this distance none
                    # can win. (A point alone in its cluster stays: its values are unused.)
                    reach = sqrt(rem * (wmin + wi) / (wi * wmin))
                    dA = sqrt(dA2)
                    j = i - i0
                    pre_rem[j] = rem
                    pre_reach[j] = reach
                    pre_dA[j] = dA
                    stuck = ((W[A] <= wi) & (pinned[A] == 0)) | (gap[A] - dA >= reach)
                    walk[nc] = j
                    nc += not stuck
                moved = -1
                for c in range(nc):
                    j = walk[c]
                    i = i0 + j
                    A = labels[i]
                    wi = w[i]
                    dA = pre_dA[j]
                    reach = pre_reach[j]
                    best = -1
                    best_add = pre_rem[j]
                    for t in range(1, k):
                        B = order[A * k + t]
                        if cc[A * k + B] - dA >= reach:
                            break
                        dB2 = 0
                        for q in range(d):
                            diff = X[i, q] - Cd[B, q]
                            dB2 = dB2 + diff * diff
                        add = wi * dB2 if pinned[B] else wi * W[B] / (W[B] + wi) * dB2
                        if add < best_add:
                            best_add = add
                            best = B
                    if best < 0:
                        continue
                    B = best
                    W[A] -= wi
                    W[B] += wi
                    for q in range(d):
                        S[A, q] -= wi * X[i, q]
                        S[B, q] += wi * X[i, q]
                        if not pinned[A]:
                            Cd[A, q] = S[A, q] / W[A]
                        if not pinned[B]:
                            Cd[B, q] = S[B, q] / W[B]
                    labels[i] = B
                    pass_moves += 1
                    moved = i
                    break
                # After a move the block's later points are measured again.
                i0 = moved + 1 if moved >= 0 else i1
            moves += pass_moves
            if pass_moves == 0:
                break
        for A in range(k):
            for q in range(d):
                C[A, q] = <float>Cd[A, q]
        for i in range(n):
            A = labels[i]
            dA2 = 0
            for q in range(d):
                diff = X[i, q] - Cd[A, q]
                dA2 = dA2 + diff * diff
            sse += w[i] * dA2
    return moves, sse
