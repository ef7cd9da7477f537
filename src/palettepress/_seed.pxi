# Greedy variance split (Wu-style) of a weighted point set into k clusters.

cdef enum:
    _BINS = 256
    _MAXD = 8


def variance_split(const float[:, ::1] X, const double[::1] w, int k,
                   float[:, ::1] centres, int32_t[::1] labels):
    """Split the points into at most ``k`` clusters; returns how many it made.

    The cluster with the largest weighted SSE is cut across its principal axis, at the
    boundary (among 256 bins of the projection) that minimises the two halves' SSE.
    Cost per cut is linear in the cluster's size. ``centres`` (k, d) receives the cluster
    means and ``labels`` (n,) each point's cluster.
    """
    cdef Py_ssize_t n = X.shape[0], i, lo_i, hi_i, tmp
    cdef int d = X.shape[1], q, r, b, nc = 1, c, best_c, best_b, j
    cdef int64_t[::1] perm = np.arange(n, dtype=np.int64)
    # By position in perm: the projection and bin of the point there, for the cut being
    # made (computed once, read again by the binning and the partition).
    cdef double[::1] proj = np.empty(n)
    cdef uint8_t[::1] bins = np.empty(n, dtype=np.uint8)
    cdef int64_t[::1] start = np.zeros(k, dtype=np.int64)
    cdef int64_t[::1] end = np.zeros(k, dtype=np.int64)
    cdef double[::1] sw = np.zeros(k)
    cdef double[:, ::1] s1 = np.zeros((k, d))
    cdef double[::1] s2 = np.zeros(k)
    cdef double[::1] sse = np.zeros(k)
    cdef double bw[_BINS]
    cdef double b1[_BINS][_MAXD]
    cdef double b2[_BINS]
    cdef double cov[_MAXD][_MAXD]
    cdef double mean[_MAXD]
    cdef double axis[_MAXD]
    cdef double xq, wi, p, pmin, pmax, scale, top
    cdef double bl1[_MAXD]
    cdef double blw = 0, bl2 = 0
    with nogil:
        end[0] = n
        for i in range(n):
            wi = w[i]
            sw[0] += wi
            xq = 0
            for q in range(d):
                s1[0, q] += wi * X[i, q]
                xq = xq + <double>X[i, q] * X[i, q]
            s2[0] += wi * xq
        sse[0] = _cluster_sse(sw[0], &s1[0, 0], s2[0], d)
        while nc < k:
            best_c = -1
            top = 0
            for c in range(nc):
                if sse[c] > top and end[c] - start[c] >= 2:
                    top = sse[c]
                    best_c = c
            if best_c < 0:
                break
            c = best_c
            for q in range(d):
                mean[q] = s1[c, q] / sw[c]
                for r in range(d):
                    cov[q][r] = 0
            for tmp in range(start[c], end[c]):
                i = perm[tmp]
                for q in range(d):
                    for r in range(q, d):
                        cov[q][r] += w[i] * (X[i, q] - mean[q]) * (X[i, r] - mean[r])
            for q in range(d):
                for r in range(q):
                    cov[q][r] = cov[r][q]
            _principal_axis(&cov[0][0], d, axis)
            pmin = INFINITY
            pmax = -INFINITY
            for tmp in range(start[c], end[c]):
                p = _project(&X[perm[tmp], 0], mean, axis, d)
                proj[tmp] = p
                if p < pmin:
                    pmin = p
                if p > pmax:
                    pmax = p
            if not pmax > pmin:
                sse[c] = 0
                continue
            scale = _BINS / (pmax - pmin)
            for b in range(_BINS):
                bw[b] = 0
                b2[b] = 0
                for q in range(d):
                    b1[b][q] = 0
            for tmp in range(start[c], end[c]):
                i = perm[tmp]
                b = _bin(proj[tmp], pmin, scale)
                bins[tmp] = <uint8_t>b
                wi = w[i]
                bw[b] += wi
                xq = 0
                for q in range(d):
                    b1[b][q] += wi * X[i, q]
                    xq = xq + <double>X[i, q] * X[i, q]
                b2[b] += wi * xq
            best_b = _best_bin(bw, &b1[0][0], b2, sw[c], &s1[c, 0], s2[c], d, &blw, bl1, &bl2)
            if best_b < 0:
                sse[c] = 0
                continue
            # Partition the cluster's range: bins <= best_b stay, the rest form cluster nc.
            lo_i = start[c]
            hi_i = end[c] - 1
            while lo_i <= hi_i:
                if bins[lo_i] <= best_b:
                    lo_i += 1
                else:
                    tmp = perm[lo_i]
                    perm[lo_i] = perm[hi_i]
                    perm[hi_i] = tmp
                    bins[lo_i] = bins[hi_i]  # (the bin moved to hi_i is not read again)
                    hi_i -= 1
            start[nc] = lo_i
            end[nc] = end[c]
            end[c] = lo_i
            sw[nc] = sw[c] - blw
            s2[nc] = s2[c] - bl2
            for q in range(d):
                s1[nc, q] = s1[c, q] - bl1[q]
                s1[c, q] = bl1[q]
            sw[c] = blw
            s2[c] = bl2
            sse[c] = _cluster_sse(sw[c], &s1[c, 0], s2[c], d)
            sse[nc] = _cluster_sse(sw[nc], &s1[nc, 0], s2[nc], d)
            nc += 1
        for c in range(nc):
            for q in range(d):
                centres[c, q] = <float>(s1[c, q] / sw[c])
            for tmp in range(start[c], end[c]):
                labels[perm[tmp]] = c
    return nc


cdef void _principal_axis(const double* cov, int d, double* axis) noexcept nogil:
    """Unit principal axis of a covariance matrix (rows ``_MAXD`` apart) by power
    iteration, started from the widest coordinate."""
    cdef double nxt[_MAXD]
    cdef double norm
    cdef int b = 0, q, r, it
    for q in range(d):
        axis[q] = 0
        if cov[q * _MAXD + q] > cov[b * _MAXD + b]:
            b = q
    axis[b] = 1
    for it in range(40):
        norm = 0
        for q in range(d):
            nxt[q] = 0
            for r in range(d):
                nxt[q] += cov[q * _MAXD + r] * axis[r]
            norm += nxt[q] * nxt[q]
        if norm <= 0:
            break
        norm = sqrt(norm)
        for q in range(d):
            axis[q] = nxt[q] / norm


cdef int _best_bin(const double* bw, const double* b1, const double* b2, double sw,
                   const double* s1, double s2, int d, double* blw, double* bl1,
                   double* bl2) noexcept nogil:
    """The cut of a binned projection that minimises the two halves' summed SSE.

    ``bw``, ``b1`` (rows ``_MAXD`` apart) and ``b2`` hold each of the ``_BINS`` bins'
    weight, weighted coordinate sums and weighted squared norms; ``sw``, ``s1`` and ``s2``
    the cluster's. Returns the last bin of the lower half (-1: no cut leaves both halves
    non-empty) and writes the lower half's moments to ``blw``, ``bl1`` and ``bl2``.
    """
    cdef int b, q, best_b = -1
    cdef double lw = 0, l2 = 0, rw, r2, ll, rr, err, best_err = INFINITY
    cdef double l1[_MAXD]
    cdef double r1[_MAXD]
    for q in range(d):
        l1[q] = 0
    for b in range(_BINS - 1):
        lw += bw[b]
        l2 += b2[b]
        for q in range(d):
            l1[q] += b1[b * _MAXD + q]
        rw = sw - lw
        if lw <= 0 or rw <= 0 or bw[b] == 0:
            continue
        r2 = s2 - l2
        ll = 0
        rr = 0
        for q in range(d):
            r1[q] = s1[q] - l1[q]
            ll = ll + l1[q] * l1[q]
            rr = rr + r1[q] * r1[q]
        err = (l2 - ll / lw) + (r2 - rr / rw)
        if err < best_err:
            best_err = err
            best_b = b
            blw[0] = lw
            bl2[0] = l2
            for q in range(d):
                bl1[q] = l1[q]
    return best_b


cdef inline double _cluster_sse(double sw, const double* s1, double s2, int d) noexcept nogil:
    cdef double t = 0
    cdef int q
    for q in range(d):
        t += s1[q] * s1[q]
    t = s2 - t / sw
    return t if t > 0 else 0


cdef inline double _project(const float* x, const double* mean, const double* axis, int d) noexcept nogil:
    cdef double p = 0
    cdef int q
    for q in range(d):
        p += (x[q] - mean[q]) * axis[q]
    return p


cdef inline int _bin(double p, double pmin, double scale) noexcept nogil:
    cdef int b = <int>((p - pmin) * scale)
    if b < 0:
        return 0
    if b >= _BINS:
        return _BINS - 1
    return b


cdef inline double _ward(double wa, double wb, const double* ca, const double* cb, int d) noexcept nogil:
    cdef double s = 0, t
    cdef int q
    for q in range(d):
        t = ca[q] - cb[q]
        s += t * t
    return wa * wb / (wa + wb) * s


def ward_merge(const float[:, ::1] centres, const double[::1] weights, int k, int32_t[::1] owner):
    """Merge clusters pairwise, cheapest first by Ward's cost, until ``k`` remain.

    Ward's cost of merging clusters a and b (weights Wa, Wb, means ca, cb) is the rise in
    weighted SSE, Wa·Wb/(Wa+Wb)·|ca − cb|². Each cluster keeps its cheapest partner, so a
    merge costs O(m) plus a rescan of the clusters whose partner disappeared. Returns the
    ``k`` merged means (float32); ``owner`` (m,) receives each input cluster's result index.
    """
    cdef int m = centres.shape[0], d = centres.shape[1]
    cdef double[:, ::1] c = np.asarray(centres, dtype=np.float64).copy()
    cdef double[::1] wt = np.asarray(weights, dtype=np.float64).copy()
    cdef int32_t[::1] parent = np.arange(m, dtype=np.int32)
    cdef int32_t[::1] nn = np.full(m, -1, dtype=np.int32)
    cdef double[::1] nn_cost = np.full(m, np.inf)
    cdef uint8_t[::1] alive = np.ones(m, dtype=np.uint8)
    cdef int alive_n = m, a, b, i, j, q, best
    cdef double cost, top
    out = np.zeros((k, d), dtype=np.float32)
    cdef float[:, ::1] ov = out
    cdef int32_t[::1] index = np.full(m, -1, dtype=np.int32)
    with nogil:
        for i in prange(m, schedule="static", num_threads=_threads_for(<Py_ssize_t>m * m)):
            _ward_nearest(i, m, d, &c[0, 0], &wt[0], &alive[0], &nn[0], &nn_cost[0])
        while alive_n > k:
            best = -1
            top = INFINITY
            for i in range(m):
                if alive[i] and nn[i] >= 0 and nn_cost[i] < top:
                    top = nn_cost[i]
                    best = i
            if best < 0:
                break
            a = best
            b = nn[a]
            for q in range(d):
                c[a, q] = (wt[a] * c[a, q] + wt[b] * c[b, q]) / (wt[a] + wt[b])
            wt[a] += wt[b]
            alive[b] = 0
            parent[b] = a
            alive_n -= 1
            for i in range(m):
                if alive[i] and (i == a or nn[i] == a or nn[i] == b):
                    _ward_nearest(i, m, d, &c[0, 0], &wt[0], &alive[0], &nn[0], &nn_cost[0])
                elif alive[i] and nn[i] >= 0:
                    # The merged cluster may now be closer than i's partner.
                    cost = _ward(wt[i], wt[a], &c[i, 0], &c[a, 0], d)
                    if cost < nn_cost[i]:
                        nn_cost[i] = cost
                        nn[i] = a
        j = 0
        for i in range(m):
            if alive[i]:
                index[i] = j
                for q in range(d):
                    ov[j, q] = <float>c[i, q]
                j += 1
        for i in range(m):
            a = i
            while not alive[a]:
                a = parent[a]
            owner[i] = index[a]
    return out[:j]


cdef void _ward_nearest(int i, int m, int d, const double* c, const double* wt,
                        const uint8_t* alive, int32_t* nn, double* nn_cost) noexcept nogil:
    cdef int j
    cdef double cost
    nn[i] = -1
    nn_cost[i] = INFINITY
    for j in range(m):
        if j != i and alive[j]:
            cost = _ward(wt[i], wt[j], &c[i * d], &c[j * d], d)
            if cost < nn_cost[i]:
                nn_cost[i] = cost
                nn[i] = j
