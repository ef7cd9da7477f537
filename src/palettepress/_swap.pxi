# What a swap of centres would cost and gain: the statistics behind the local search
# of kmeans.swap (remove the cheapest centre, split the cluster that gains most).


def swap_costs(const float[:, ::1] X, const double[::1] w, const float[:, ::1] C,
               int32_t[::1] labels, double[::1] removal, double[::1] gain, float[:, ::1] halves):
    """Per-cluster removal costs and split gains of a clustering; returns the SSE.

    ``labels`` holds a starting guess for each point's centre and receives the exact
    nearest one. ``removal`` (k,) receives what deleting each centre adds to the weighted
    SSE with the other centres fixed, Σ w·(d₂² − d₁²) over its points (d₁, d₂: distances
    to the nearest and second-nearest centre). ``gain`` (k,) receives what cutting each
    cluster in two across its principal axis saves, at the best of 256 bins of the
    projection (as in :func:`variance_split`), and ``halves`` (2k, d) the means of the two
    halves (rows 2j and 2j + 1; the centre twice where no cut exists). Needs k >= 2. The
    nearest-centre search runs in parallel, every sum serially in point order.
    """
    cdef Py_ssize_t n = X.shape[0], i
    cdef int d = X.shape[1], k = C.shape[0], a, j, q, r, b
    cdef float[::1] cc = np.empty(k * k, dtype=np.float32)
    cdef int32_t[::1] order = np.empty(k * k, dtype=np.int32)
    cdef float[::1] half_gap = np.empty(k, dtype=np.float32)
    cdef float[::1] d1 = np.empty(n, dtype=np.float32)
    cdef float[::1] d2 = np.empty(n, dtype=np.float32)
    cdef double[::1] sw = np.zeros(k)
    cdef double[:, ::1] s1 = np.zeros((k, d))
    cdef double[::1] s2 = np.zeros(k)
    cdef double[:, ::1] mean = np.zeros((k, _MAXD))
    cdef double[:, ::1] cov = np.zeros((k, _MAXD * _MAXD))
    cdef double[:, ::1] axis = np.zeros((k, _MAXD))
    cdef double[::1] pmin = np.full(k, np.inf)
    cdef double[::1] pmax = np.full(k, -np.inf)
    cdef double[::1] scale = np.zeros(k)
    cdef double[:, ::1] bw = np.zeros((k, _BINS))
    cdef double[:, ::1] b1 = np.zeros((k, _BINS * _MAXD))
    cdef double[:, ::1] b2 = np.zeros((k, _BINS))
    cdef double bl1[_MAXD]
    cdef double br1[_MAXD]
    cdef double blw = 0, bl2 = 0, wi, xq, p, sse = 0
    cdef float da
    with nogil:
        _centre_geometry(&C[0, 0], k, d, &cc[0], &order[0], &half_gap[0], False)
        for i in prange(n, schedule="static", num_threads=_threads_for(n)):
            a = labels[i]
            da = _dist(&X[i, 0], &C[a, 0], d)
            labels[i] = _search(&X[i, 0], &C[0, 0], k, d, &cc[0], &order[0], a, da, &d1[i], &d2[i])
        for j in range(k):
            removal[j] = 0
        for i in range(n):
            a = labels[i]
            wi = w[i]
            removal[a] += wi * (<double>d2[i] * d2[i] - <double>d1[i] * d1[i])
            sse += wi * <double>d1[i] * d1[i]
            sw[a] += wi
            xq = 0
            for q in range(d):
                s1[a, q] += wi * X[i, q]
                xq = xq + <double>X[i, q] * X[i, q]
            s2[a] += wi * xq
        for j in range(k):
            for q in range(d):
                mean[j, q] = s1[j, q] / sw[j] if sw[j] > 0 else C[j, q]
        for i in range(n):
            a = labels[i]
            for q in range(d):
                for r in range(q, d):
                    cov[a, q * _MAXD + r] += w[i] * (X[i, q] - mean[a, q]) * (X[i, r] - mean[a, r])
        for j in range(k):
            for q in range(d):
                for r in range(q):
                    cov[j, q * _MAXD + r] = cov[j, r * _MAXD + q]
            _principal_axis(&cov[j, 0], d, &axis[j, 0])
        for i in range(n):
            a = labels[i]
            p = _project(&X[i, 0], &mean[a, 0], &axis[a, 0], d)
            if p < pmin[a]:
                pmin[a] = p
            if p > pmax[a]:
                pmax[a] = p
        for j in range(k):
            if pmax[j] > pmin[j]:
                scale[j] = _BINS / (pmax[j] - pmin[j])
        for i in range(n):
            a = labels[i]
            if scale[a] == 0:
                continue
            b = _bin(_project(&X[i, 0], &mean[a, 0], &axis[a, 0], d), pmin[a], scale[a])
            wi = w[i]
            bw[a, b] += wi
            xq = 0
            for q in range(d):
                b1[a, b * _MAXD + q] += wi * X[i, q]
                xq = xq + <double>X[i, q] * X[i, q]
            b2[a, b] += wi * xq
        for j in range(k):
            gain[j] = 0
            for q in range(d):
                halves[2 * j, q] = C[j, q]
                halves[2 * j + 1, q] = C[j, q]
            if scale[j] == 0 or _best_bin(&bw[j, 0], &b1[j, 0], &b2[j, 0], sw[j], &s1[j, 0], s2[j],
                                          d, &blw, bl1, &bl2) < 0:
                continue
            for q in range(d):
                br1[q] = s1[j, q] - bl1[q]
            gain[j] = (_cluster_sse(sw[j], &s1[j, 0], s2[j], d) - _cluster_sse(blw, bl1, bl2, d)
                       - _cluster_sse(sw[j] - blw, br1, s2[j] - bl2, d))
            if gain[j] < 0:
                gain[j] = 0
            for q in range(d):
                halves[2 * j, q] = <float>(bl1[q] / blw)
                halves[2 * j + 1, q] = <float>((s1[j, q] - bl1[q]) / (sw[j] - blw))
    return sse
