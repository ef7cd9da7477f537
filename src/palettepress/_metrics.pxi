# Image-quality metrics: SSIM and CIEDE2000 matching scikit-image, and the squared error.
#
# Every reduction goes through a fixed-order chain of partial sums (one per output row or
# per fixed-size chunk of pixels), so results do not depend on the OpenMP thread count.

# ---------------------------------------------------------------------------------------
# SSIM (scikit-image's structural_similarity with its defaults: 7x7 uniform window,
# sample covariance, K1=0.01, K2=0.03)
# ---------------------------------------------------------------------------------------

cdef enum:
    _SSIM_WIN = 7


cdef inline const uint8_t* _ssim_row(const uint8_t* p, Py_ssize_t n, Py_ssize_t row,
                                     const uint8_t* idx, Py_ssize_t idx_stride,
                                     const uint8_t* pal, Py_ssize_t C,
                                     uint8_t* ring) noexcept nogil:
    # Row ``row`` of an image: in place, or gathered from palette indices into one of 8
    # ring rows (the streaming below holds at most 8 rows, r - 1 to r + 6, at once).
    cdef Py_ssize_t x, c, W
    cdef uint8_t* out
    cdef const uint8_t* src
    cdef const uint8_t* ir
    if idx == NULL:
        return p + row * n
    out = ring + (row & 7) * n
    ir = idx + row * idx_stride
    W = n // C
    for x in range(W):
        src = pal + ir[x] * C
        for c in range(C):
            out[x * C + c] = src[c]
    return out


cdef int _ssim_band(const uint8_t* pa, const uint8_t* pb, Py_ssize_t W, Py_ssize_t C,
                    Py_ssize_t r0, Py_ssize_t r1, double c1n, double c2n,
                    double* row_sums, const uint8_t* idx, Py_ssize_t idx_stride,
                    const uint8_t* pal) noexcept nogil:
    # Output rows r0 <= r < r1; output row r is centred on input row r + 3. The second
    # image is ``pb`` or, when ``idx`` is given, ``pal[idx]`` gathered row by row.
    # Window moments are integers, kept exactly: column sums over the 7 window rows in
    # int32 (at most 7 * 255^2), and the 7-column window sums slid along each row in int64.
    # The only rounding is in the final SSIM expression, from exactly the same operands as
    # summing all 49 values in doubles.
    cdef Py_ssize_t n = W * C
    cdef Py_ssize_t m = (W - (_SSIM_WIN - 1)) * C
    cdef Py_ssize_t mw = W - (_SSIM_WIN - 1)  # windows a row, per channel
    cdef Py_ssize_t k, r, i, c, j
    cdef int32_t* buf = <int32_t*>malloc(5 * n * sizeof(int32_t))
    # One channel's row of SSIM values, and the five window sums they come from.
    cdef double* smap = <double*>malloc(6 * mw * sizeof(double))
    cdef double* hsum = smap + mw
    cdef uint8_t* ring = NULL
    cdef int32_t* sx
    cdef int32_t* sy
    cdef int32_t* sxx
    cdef int32_t* syy
    cdef int32_t* sxy
    cdef const uint8_t *ra
    cdef const uint8_t *rb
    cdef const uint8_t *oa
    cdef const uint8_t *ob
    cdef int32_t xa, yb, xo, yo
    cdef int64_t ix, iy, ixx, iyy, ixy
    cdef double acc
    if idx != NULL:
        ring = <uint8_t*>malloc(8 * n)
    if buf == NULL or smap == NULL or (idx != NULL and ring == NULL):
        free(buf)
        free(smap)
        free(ring)
        return 1
    sx = buf
    sy = buf + n
    sxx = buf + 2 * n
    syy = buf + 3 * n
    sxy = buf + 4 * n
    memset(buf, 0, 5 * n * sizeof(int32_t))

    for i in range(_SSIM_WIN):
        ra = pa + (r0 + i) * n
        rb = _ssim_row(pb, n, r0 + i, idx, idx_stride, pal, C, ring)
        for k in range(n):
            xa = ra[k]
            yb = rb[k]
            sx[k] += xa
            sy[k] += yb
            sxx[k] += xa * xa
            syy[k] += yb * yb
            sxy[k] += xa * yb

    for r in range(r0, r1):
        if r > r0:
            oa = pa + (r - 1) * n
            if idx == NULL:
                ob = pb + (r - 1) * n
            else:
                ob = ring + ((r - 1) & 7) * n  # gathered one step ago, still in the ring
            ra = pa + (r + _SSIM_WIN - 1) * n
            rb = _ssim_row(pb, n, r + _SSIM_WIN - 1, idx, idx_stride, pal, C, ring)
            for k in range(n):
                xa = ra[k]
                yb = rb[k]
                xo = oa[k]
                yo = ob[k]
                sx[k] += xa - xo
                sy[k] += yb - yo
                sxx[k] += xa * xa - xo * xo
                syy[k] += yb * yb - yo * yo
                sxy[k] += xa * yb - xo * yo
        # SSIM = A1*A2 / (B1*B2) with every factor scaled by NP^2 or NP*(NP-1), which cancels;
        # the scaled numerators and denominators are exact integers (plus the C constants).
        for c in range(C):
            ix = 0
            iy = 0
            ixx = 0
            iyy = 0
            ixy = 0
            for i in range(_SSIM_WIN - 1):
                k = c + i * C
                ix += sx[k]
                iy += sy[k]
                ixx += sxx[k]
                iyy += syy[k]
                ixy += sxy[k]
            k = c
            j = 0
            while k < m:
                ix += sx[k + 6 * C]
                iy += sy[k + 6 * C]
                ixx += sxx[k + 6 * C]
                iyy += syy[k + 6 * C]
                ixy += sxy[k + 6 * C]
                hsum[j] = <double>ix
                hsum[mw + j] = <double>iy
                hsum[2 * mw + j] = <double>ixx
                hsum[3 * mw + j] = <double>iyy
                hsum[4 * mw + j] = <double>ixy
                ix -= sx[k]
                iy -= sy[k]
                ixx -= sxx[k]
                iyy -= syy[k]
                ixy -= sxy[k]
                k += C
                j += 1
            pp_ssim_windows(hsum, hsum + mw, hsum + 2 * mw, hsum + 3 * mw, hsum + 4 * mw, mw,
                            c1n, c2n, smap)
            acc = 0.0
            for j in range(mw):
                acc = acc + smap[j]
            row_sums[r * C + c] = acc
    free(buf)
    free(smap)
    free(ring)
    return 0


def ssim_rgb(const uint8_t[:, :, ::1] a, const uint8_t[:, :, ::1] b):
    """Mean structural similarity of two 8-bit images, as scikit-image computes it.

    Equal (to rounding, about 1e-12) to
    ``skimage.metrics.structural_similarity(a, b, channel_axis=-1, data_range=255)``:
    7x7 uniform window, sample covariance, ``K1=0.01``, ``K2=0.03``, the SSIM map of each
    channel cropped by 3 pixels on every side and averaged, then the mean over channels.

    Parameters
    ----------
    a, b : ndarray of uint8, shape (H, W, C)
        C-contiguous images of the same shape; any channel count ``C >= 1``.

    Returns
    -------
    float
        The mean SSIM.

    Raises
    ------
    ValueError
        If the shapes differ, ``C == 0``, or ``H`` or ``W`` is smaller than 7.

    Notes
    -----
    Memory is O(W*C) per thread: window sums are streamed down the rows. The result is
    bit-for-bit the same for any number of threads.
    """
    cdef Py_ssize_t H = a.shape[0], W = a.shape[1], C = a.shape[2]
    if b.shape[0] != H or b.shape[1] != W or b.shape[2] != C:
        raise ValueError(f"images differ in shape: {(a.shape[0], a.shape[1], a.shape[2])} vs "
                         f"{(b.shape[0], b.shape[1], b.shape[2])}")
    _ssim_check(H, W, C)
    return _ssim(&a[0, 0, 0], &b[0, 0, 0], H, W, C, NULL, 0, NULL)


def ssim_indexed(const uint8_t[:, :, ::1] a, const uint8_t[:, :] indices,
                 const uint8_t[:, ::1] palette, beside=None):
    """:func:`ssim_rgb` of ``a`` against ``palette[indices]``, without building that image.

    ``indices`` (H, W) may have rows apart in memory (each row contiguous); ``palette`` is
    (k, C) with C the channel count of ``a``, and every index must be below k. The result
    is bit-for-bit that of ``ssim_rgb(a, palette[indices])``.

    ``beside``, when given, is a callable run on this thread while the second core starts
    on the SSIM's bands; this thread takes the bands left when it returns (the same
    value: each band's rows are summed on their own). The result is then
    ``(ssim, beside())``, and what ``beside`` raises is raised after the SSIM.
    """
    cdef Py_ssize_t H = a.shape[0], W = a.shape[1], C = a.shape[2]
    cdef Py_ssize_t i, j
    cdef uint8_t top = 0
    if indices.shape[0] != H or indices.shape[1] != W:
        raise ValueError(f"indices are {indices.shape[0]}x{indices.shape[1]}, the image {H}x{W}")
    if palette.shape[1] != C:
        raise ValueError(f"the palette has {palette.shape[1]} channels, the image {C}")
    if indices.strides[1] != 1:
        raise ValueError("index rows must be contiguous")
    _ssim_check(H, W, C)
    with nogil:
        for i in range(H):
            for j in range(W):
                if indices[i, j] > top:
                    top = indices[i, j]
    if top >= palette.shape[0]:
        raise ValueError(f"index {top} is past the palette's {palette.shape[0]} entries")
    outcome = [] if beside is not None else None
    value = _ssim(&a[0, 0, 0], NULL, H, W, C, &indices[0, 0], indices.strides[0], &palette[0, 0],
                  beside, outcome)
    return value if outcome is None else (value, _beside_value(outcome))


cdef _ssim_check(Py_ssize_t H, Py_ssize_t W, Py_ssize_t C):
    if C < 1:
        raise ValueError("images need at least one channel")
    if H < _SSIM_WIN or W < _SSIM_WIN:
        raise ValueError(f"SSIM needs images of at least 7x7 pixels, got {H}x{W}")


cdef double _ssim(const uint8_t* pa, const uint8_t* pb, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t C, const uint8_t* idx, Py_ssize_t idx_stride,
                  const uint8_t* pal, beside=None, list outcome=None) except? -2.0:
    # With ``beside``: thread 0 runs it (taking the GIL; its (returned, value or
    # exception) appended to ``outcome``) while thread 1 takes bands, then joins in.

    cdef double R = 255.0
    cdef double c1 = (0.01 * R) ** 2
    cdef double c2 = (0.03 * R) ** 2
    cdef double c1n = c1 * (_SSIM_WIN * _SSIM_WIN) * (_SSIM_WIN * _SSIM_WIN)
    cdef double c2n = c2 * (_SSIM_WIN * _SSIM_WIN) * (_SSIM_WIN * _SSIM_WIN - 1)
    cdef Py_ssize_t rows = H - (_SSIM_WIN - 1)
    cdef Py_ssize_t cols = W - (_SSIM_WIN - 1)
    cdef int nthreads = omp_get_max_threads()
    # A few bands per thread balance the load; each band pays 7 rows to prime its sums.
    cdef Py_ssize_t nbands = 1 if nthreads <= 1 else min(rows, 4 * <Py_ssize_t>nthreads)
    cdef Py_ssize_t band, r, c
    cdef int failed = 0
    cdef double* row_sums = <double*>malloc(rows * C * sizeof(double))
    cdef int* band_failed = <int*>calloc(max(nbands, 8), sizeof(int))
    cdef long next_band[1]
    cdef double total, mean_sum = 0.0
    if row_sums == NULL or band_failed == NULL:
        free(row_sums)
        free(band_failed)
        raise MemoryError()
    try:
        if beside is not None:
            nbands = min(rows, max(nbands, 8))  # the second core starts alone: bands to share
            next_band[0] = 0
            with nogil, parallel(num_threads=min(2, omp_get_max_threads())):
                if omp_get_thread_num() == 0:
                    with gil:
                        _run_beside(beside, outcome)
                # Bands taken one at a time as each thread comes free (a worksharing
                # loop would not start before both threads reached it).
                while True:
                    band = pp_take(&next_band[0])
                    if band >= nbands:
                        break
                    band_failed[band] = _ssim_band(pa, pb, W, C, band * rows // nbands,
                                                   (band + 1) * rows // nbands, c1n, c2n,
                                                   row_sums, idx, idx_stride, pal)
            for band in range(nbands):
                failed += band_failed[band]
        else:
            with nogil:
                for band in prange(nbands, schedule="dynamic"):
                    failed += _ssim_band(pa, pb, W, C, band * rows // nbands,
                                         (band + 1) * rows // nbands, c1n, c2n, row_sums,
                                         idx, idx_stride, pal)
        if failed:
            raise MemoryError()
        for c in range(C):
            total = 0.0
            for r in range(rows):
                total = total + row_sums[r * C + c]
            mean_sum = mean_sum + total / <double>(rows * cols)
        return mean_sum / <double>C
    finally:
        free(row_sums)
        free(band_failed)


# ---------------------------------------------------------------------------------------
# CIEDE2000 on scikit-image's rgb2lab (sRGB, D65, 2-degree observer)
# ---------------------------------------------------------------------------------------

cdef enum:
    _DE_CHUNK = 4096
    _DE_BLOCK = 128   # pairs a vectorised pass takes (see pp_ciede2000)

cdef double _DE_SRGB_LIN[256]


cdef void _de_init_lut() noexcept nogil:
    # skimage: img_as_float64 multiplies by 1/255, then the sRGB transfer function.
    cdef int v
    cdef double c
    for v in range(256):
        c = v * (1.0 / 255.0)
        if c > 0.04045:
            _DE_SRGB_LIN[v] = pow((c + 0.055) / 1.055, 2.4)
        else:
            _DE_SRGB_LIN[v] = c / 12.92


_de_init_lut()


cdef double _de_from_lab_angles(double L1, double a1, double b1, double L2, double a2,
                                double b2) noexcept nogil:
    # skimage.color.deltaE_ciede2000 with kL = kC = kH = 1, term by term, including its hue
    # handling when a chroma is zero. Three rewrites save libm calls and change results only
    # in the last bits: x**7 by multiplication, hypot as sqrt(x*x + y*y) (Lab values are far
    # from overflow), and the four cosines of T from one sin/cos pair by angle identities.
    cdef double TWO_PI = 2.0 * M_PI
    cdef double DEG = M_PI / 180.0
    cdef double P25_7 = 6103515625.0
    cdef double Cbar, c7, G, scale, C1, C2, h1, h2, Lbar, tmp, SL, L_term, SC, C_term
    cdef double h_diff, h_sum, CC, dH, dH_term, Hbar, T, SH, H_term, Rc, dtheta, R_term
    cdef double dE2, q, sa1, sa2, ch, sh, c2h, s2h, c3h, s3h, c4h, s4h

    Cbar = 0.5 * (sqrt(a1 * a1 + b1 * b1) + sqrt(a2 * a2 + b2 * b2))
    c7 = pp_pow7(Cbar)
    G = 0.5 * (1.0 - sqrt(c7 / (c7 + P25_7)))
    scale = 1.0 + G
    sa1 = a1 * scale
    sa2 = a2 * scale
    C1 = sqrt(sa1 * sa1 + b1 * b1)
    h1 = atan2(b1, sa1)
    if h1 < 0.0:
        h1 = h1 + TWO_PI
    C2 = sqrt(sa2 * sa2 + b2 * b2)
    h2 = atan2(b2, sa2)
    if h2 < 0.0:
        h2 = h2 + TWO_PI

    Lbar = 0.5 * (L1 + L2)
    tmp = (Lbar - 50.0) * (Lbar - 50.0)
    SL = 1.0 + 0.015 * tmp / sqrt(20.0 + tmp)
    L_term = (L2 - L1) / SL

    Cbar = 0.5 * (C1 + C2)
    SC = 1.0 + 0.045 * Cbar
    C_term = (C2 - C1) / SC

    h_diff = h2 - h1
    h_sum = h1 + h2
    CC = C1 * C2

    dH = h_diff
    if h_diff > M_PI:
        dH = dH - TWO_PI
    elif h_diff < -M_PI:
        dH = dH + TWO_PI
    if CC == 0.0:
        dH = 0.0
    dH_term = 2.0 * sqrt(CC) * sin(dH / 2.0)

    Hbar = h_sum
    if CC != 0.0 and fabs(h_diff) > M_PI:
        if h_sum < TWO_PI:
            Hbar = Hbar + TWO_PI
        else:
            Hbar = Hbar - TWO_PI
    if CC == 0.0:
        Hbar = Hbar * 2.0
    Hbar = Hbar * 0.5

    # T = 1 - 0.17 cos(H - 30deg) + 0.24 cos(2H) + 0.32 cos(3H + 6deg) - 0.20 cos(4H - 63deg)
    ch = cos(Hbar)
    sh = sin(Hbar)
    c2h = 2.0 * ch * ch - 1.0
    s2h = 2.0 * sh * ch
    c3h = c2h * ch - s2h * sh
    s3h = s2h * ch + c2h * sh
    c4h = 2.0 * c2h * c2h - 1.0
    s4h = 2.0 * s2h * c2h
    T = (1.0
         - 0.17 * (ch * cos(30.0 * DEG) + sh * sin(30.0 * DEG))
         + 0.24 * c2h
         + 0.32 * (c3h * cos(6.0 * DEG) - s3h * sin(6.0 * DEG))
         - 0.20 * (c4h * cos(63.0 * DEG) + s4h * sin(63.0 * DEG)))
    SH = 1.0 + 0.015 * Cbar * T
    H_term = dH_term / SH

    c7 = pp_pow7(Cbar)
    Rc = 2.0 * sqrt(c7 / (c7 + P25_7))
    q = (Hbar * (180.0 / M_PI) - 275.0) / 25.0
    dtheta = 30.0 * DEG * exp(-(q * q))
    R_term = -sin(2.0 * dtheta) * Rc * C_term * H_term

    dE2 = L_term * L_term
    dE2 = dE2 + C_term * C_term
    dE2 = dE2 + H_term * H_term
    dE2 = dE2 + R_term
    return sqrt(dE2 if dE2 > 0.0 else 0.0)


cdef void _de_block(const uint8_t* p1, const uint8_t* p2, Py_ssize_t n, const uint8_t* idx,
                    const double* lab2, Py_ssize_t k, double* d) noexcept nogil:
    # CIEDE2000 of n <= _DE_BLOCK pairs into d: the colours p1 (3 bytes each) against p2,
    # or with ``idx`` against entries idx[i] of a table whose CIELAB planes ``lab2`` (k
    # values each) are converted once. The pairs whose hues need the angles go one by one.
    cdef double lab[6 * _DE_BLOCK]
    cdef double tmp[6 * _DE_BLOCK]
    cdef double* L2 = lab + 3 * _DE_BLOCK
    cdef Py_ssize_t i
    pp_lab(p1, n, _DE_SRGB_LIN, lab, lab + _DE_BLOCK, lab + 2 * _DE_BLOCK)
    if idx != NULL:
        for i in range(n):
            L2[i] = lab2[idx[i]]
            L2[_DE_BLOCK + i] = lab2[k + idx[i]]
            L2[2 * _DE_BLOCK + i] = lab2[2 * k + idx[i]]
    else:
        pp_lab(p2, n, _DE_SRGB_LIN, L2, L2 + _DE_BLOCK, L2 + 2 * _DE_BLOCK)
    pp_ciede2000(lab, lab + _DE_BLOCK, lab + 2 * _DE_BLOCK, L2, L2 + _DE_BLOCK,
                 L2 + 2 * _DE_BLOCK, d, tmp, tmp + _DE_BLOCK, tmp + 2 * _DE_BLOCK,
                 tmp + 3 * _DE_BLOCK, tmp + 4 * _DE_BLOCK, tmp + 5 * _DE_BLOCK, n)
    for i in range(n):
        if d[i] < 0.0:
            d[i] = _de_from_lab_angles(lab[i], lab[_DE_BLOCK + i], lab[2 * _DE_BLOCK + i],
                                       L2[i], L2[_DE_BLOCK + i], L2[2 * _DE_BLOCK + i])


cdef void _de_chunk(const uint8_t* p1, const uint8_t* p2, const double* w, Py_ssize_t start,
                    Py_ssize_t stop, double* out_sum, double* out_w,
                    const uint8_t* idx, const double* lab2, Py_ssize_t k) noexcept nogil:
    # The (weighted) sum of rows start to stop, a block at a time, added in row order.
    cdef Py_ssize_t b, i, m
    cdef double s = 0.0, sw = 0.0
    cdef double d[_DE_BLOCK]
    b = start
    while b < stop:
        m = min(<Py_ssize_t>_DE_BLOCK, stop - b)
        _de_block(p1 + 3 * b, (p2 + 3 * b) if p2 != NULL else NULL, m,
                  (idx + b) if idx != NULL else NULL, lab2, k, d)
        if w == NULL:
            for i in range(m):
                s = s + d[i]
        else:
            for i in range(m):
                s = s + w[b + i] * d[i]
                sw = sw + w[b + i]
        b += m
    if w == NULL:
        sw = <double>(stop - start)
    out_sum[0] = s
    out_w[0] = sw


cdef int _de_mean(const uint8_t* p1, const uint8_t* p2, const double* w, Py_ssize_t n,
                  double* out_sum, double* out_w, const uint8_t* idx, const double* lab2,
                  Py_ssize_t k) noexcept nogil:
    # Fixed chunk boundaries and an in-order sum of the chunk totals make the result
    # independent of how chunks are scheduled onto threads.
    cdef Py_ssize_t nchunks = (n + _DE_CHUNK - 1) // _DE_CHUNK
    cdef Py_ssize_t ci
    cdef double* part = <double*>malloc(2 * nchunks * sizeof(double))
    cdef double s = 0.0, sw = 0.0
    if part == NULL:
        return 1
    for ci in prange(nchunks, schedule="dynamic"):
        _de_chunk(p1, p2, w, ci * _DE_CHUNK, min((ci + 1) * _DE_CHUNK, n),
                  &part[ci], &part[nchunks + ci], idx, lab2, k)
    for ci in range(nchunks):
        s = s + part[ci]
        sw = sw + part[nchunks + ci]
    free(part)
    out_sum[0] = s
    out_w[0] = sw
    return 0


cdef double _de_finish(const uint8_t* p1, const uint8_t* p2, const double* w,
                       Py_ssize_t n, const uint8_t* idx=NULL, const double* lab2=NULL,
                       Py_ssize_t k=0) except? -1.0:
    cdef double s = 0.0, sw = 0.0
    cdef int rc
    with nogil:
        rc = _de_mean(p1, p2, w, n, &s, &sw, idx, lab2, k)
    if rc:
        raise MemoryError()
    if sw == 0.0:
        raise ZeroDivisionError("weights sum to zero, can't be normalized")
    return s / sw


def ciede2000_mean(const uint8_t[:, ::1] rgb1, const uint8_t[:, ::1] rgb2, weights=None):
    """Mean CIEDE2000 colour difference between paired 8-bit sRGB colours.

    Equal (to rounding, about 1e-12) to the mean of
    ``skimage.color.deltaE_ciede2000(rgb2lab(rgb1), rgb2lab(rgb2))``: scikit-image's sRGB to
    CIELAB conversion (D65 white, 2-degree observer) and its CIEDE2000 with
    ``kL = kC = kH = 1``.

    Parameters
    ----------
    rgb1, rgb2 : ndarray of uint8, shape (n, 3)
        C-contiguous colours, compared row by row.
    weights : array_like of float, shape (n,), optional
        Weight of each row; the result is then ``sum(w * dE) / sum(w)``.

    Returns
    -------
    float
        The (weighted) mean difference.

    Raises
    ------
    ValueError
        If the shapes differ or are not (n, 3) with ``n >= 1``, or `weights` has the wrong
        shape.
    ZeroDivisionError
        If the weights sum to zero.

    Notes
    -----
    The result is bit-for-bit the same for any number of threads.
    """
    cdef Py_ssize_t n = rgb1.shape[0]
    cdef const double[::1] wv
    cdef const double* pw = NULL
    if rgb1.shape[1] != 3 or rgb2.shape[1] != 3 or rgb2.shape[0] != n:
        raise ValueError(f"expected two (n, 3) arrays of one shape, got "
                         f"{(rgb1.shape[0], rgb1.shape[1])} and {(rgb2.shape[0], rgb2.shape[1])}")
    if n == 0:
        raise ValueError("no colours to compare")
    if weights is not None:
        warr = np.ascontiguousarray(weights, dtype=np.float64)
        if warr.ndim != 1 or warr.shape[0] != n:
            raise ValueError(f"weights must have shape ({n},), got {warr.shape}")
        wv = warr
        pw = &wv[0]
    return _de_finish(&rgb1[0, 0], &rgb2[0, 0], pw, n)


def ciede2000_mean_indexed(const uint8_t[:, ::1] rgb1, const uint8_t[::1] index,
                           const uint8_t[:, ::1] palette, weights):
    """:func:`ciede2000_mean` of ``rgb1`` against ``palette[index]``, weighted.

    The palette's CIELAB values are converted once, so each row costs one conversion
    instead of two. ``rgb1`` (n, 3) and ``palette`` (k, 3) uint8, ``index`` (n,) uint8
    below k, ``weights`` (n,) or None (every row 1) as for :func:`ciede2000_mean`.
    """
    cdef Py_ssize_t n = rgb1.shape[0], k = palette.shape[0], j
    cdef const double[::1] wv
    cdef const double* pw = NULL
    if rgb1.shape[1] != 3 or palette.shape[1] != 3 or index.shape[0] != n:
        raise ValueError("expected colours (n, 3), their indices (n,) and a palette (k, 3)")
    if n == 0:
        raise ValueError("no colours to compare")
    if k == 0 or np.asarray(index).max() >= k:
        raise ValueError(f"an index is past the palette's {k} entries")
    if weights is not None:
        warr = np.ascontiguousarray(weights, dtype=np.float64)
        if warr.ndim != 1 or warr.shape[0] != n:
            raise ValueError(f"weights must have shape ({n},), got {warr.shape}")
        wv = warr
        pw = &wv[0]
    lab = np.empty((3, k), dtype=np.float64)
    cdef double[:, ::1] lv = lab
    pp_lab(&palette[0, 0], k, _DE_SRGB_LIN, &lv[0, 0], &lv[1, 0], &lv[2, 0])
    return _de_finish(&rgb1[0, 0], NULL, pw, n, &index[0], &lv[0, 0], k)


def ciede2000_mean_image(const uint8_t[:, :, ::1] a, const uint8_t[:, :, ::1] b):
    """Mean CIEDE2000 colour difference between two 8-bit sRGB images.

    The per-pixel mean of :func:`ciede2000_mean` over the pixels of the two images, i.e.
    ``deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean()`` in scikit-image.

    Parameters
    ----------
    a, b : ndarray of uint8, shape (H, W, 3)
        C-contiguous images of the same shape.

    Returns
    -------
    float
        The mean difference over all pixels.

    Raises
    ------
    ValueError
        If the shapes differ, the images are not 3-channel, or they have no pixels.
    """
    cdef Py_ssize_t H = a.shape[0], W = a.shape[1]
    if a.shape[2] != 3 or b.shape[2] != 3 or b.shape[0] != H or b.shape[1] != W:
        raise ValueError(f"expected two (H, W, 3) images of one shape, got "
                         f"{(a.shape[0], a.shape[1], a.shape[2])} and "
                         f"{(b.shape[0], b.shape[1], b.shape[2])}")
    if H * W == 0:
        raise ValueError("no pixels to compare")
    return _de_finish(&a[0, 0, 0], &b[0, 0, 0], NULL, H * W)


# ---------------------------------------------------------------------------------------
# Squared error
# ---------------------------------------------------------------------------------------

cdef int64_t _sq_row(const uint8_t* pa, const uint8_t* pb, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    cdef int64_t s = 0
    cdef int d
    for k in range(n):
        d = <int>pa[k] - <int>pb[k]
        s += d * d
    return s


def squared_error_sum(const uint8_t[:, :, ::1] a, const uint8_t[:, :, ::1] b):
    """Exact sum of squared differences of two 8-bit images.

    Parameters
    ----------
    a, b : ndarray of uint8, shape (H, W, C)
        C-contiguous images of the same shape.

    Returns
    -------
    int
        ``((a.astype(int64) - b) ** 2).sum()``.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    cdef Py_ssize_t H = a.shape[0], W = a.shape[1], C = a.shape[2]
    if b.shape[0] != H or b.shape[1] != W or b.shape[2] != C:
        raise ValueError(f"images differ in shape: {(a.shape[0], a.shape[1], a.shape[2])} vs "
                         f"{(b.shape[0], b.shape[1], b.shape[2])}")
    cdef Py_ssize_t n = W * C
    cdef Py_ssize_t r
    cdef int64_t total = 0
    cdef const uint8_t* pa
    cdef const uint8_t* pb
    if H == 0 or n == 0:
        return 0
    pa = &a[0, 0, 0]
    pb = &b[0, 0, 0]
    # Integer addition is associative, so the OpenMP reduction is exact in any order.
    with nogil:
        for r in prange(H, schedule="static"):
            total += _sq_row(pa + r * n, pb + r * n, n)
    return total


def squared_error_pairs(const uint8_t[:, ::1] colors, const uint8_t[::1] index,
                        const uint8_t[:, ::1] palette, counts):
    """Exact sum of squared differences over (colour, palette entry) pairs, each counted.

    Parameters
    ----------
    colors : ndarray of uint8, shape (n, C)
        The pairs' colours.
    index : ndarray of uint8, shape (n,)
        Each pair's palette entry, below k.
    palette : ndarray of uint8, shape (k, C)
    counts : array_like of non-negative integers, shape (n,), or None
        Pixels per pair (None: one each).

    Returns
    -------
    int
        ``(counts * ((colors.astype(int64) - palette[index]) ** 2).sum(axis=1)).sum()``.

    Raises
    ------
    ValueError
        If the shapes do not match or an index is past the palette.
    """
    cdef Py_ssize_t n = colors.shape[0], C = colors.shape[1], k = palette.shape[0], i
    cdef bint each = counts is None
    carr = np.ascontiguousarray(counts if not each else np.ones(1), dtype=np.uint64)
    cdef const uint64_t[::1] cv = carr
    if palette.shape[1] != C or index.shape[0] != n or (not each and cv.shape[0] != n):
        raise ValueError(f"expected colours (n, C), indices and counts (n,) and a palette (k, C), got "
                         f"{(n, C)}, {index.shape[0]}, {None if each else cv.shape[0]} and "
                         f"{(k, palette.shape[1])}")
    if n == 0:
        return 0
    if k == 0 or np.asarray(index).max() >= k:
        raise ValueError(f"an index is past the palette's {k} entries")
    cdef int64_t total = 0
    # Integer addition is associative, so the OpenMP reduction is exact in any order.
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads_for(n)):
            total += <int64_t>cv[0 if each else i] * _sq_row(&colors[i, 0], &palette[index[i], 0], C)
    return total
