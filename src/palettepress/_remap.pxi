# Floyd-Steinberg error diffusion in the working colour space.

cdef float _SRGB_TO_LINEAR[256]
cdef int _lut_ready = 0


cdef void _init_lut() noexcept nogil:
    cdef int v
    cdef double c
    for v in range(256):
        c = v / 255.0
        _SRGB_TO_LINEAR[v] = <float>(c / 12.92 if c <= 0.04045 else pow((c + 0.055) / 1.055, 2.4))
    global _lut_ready
    _lut_ready = 1


cdef inline void _to_oklab(double r, double g, double b, float* out) noexcept nogil:
    # Oklab (Ottosson 2020) from linear sRGB; the matrices match colorspace.py.
    cdef double l = 0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b
    cdef double m = 0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b
    cdef double s = 0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b
    l = cbrt(l)
    m = cbrt(m)
    s = cbrt(s)
    out[0] = <float>(0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s)
    out[1] = <float>(1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s)
    out[2] = <float>(0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s)


def dither_fs(const uint8_t[:, :, ::1] img, const float[:, ::1] P, bint oklab, float l_weight,
              float alpha_scale, float strength, int transparent_index, uint8_t[:, :] out):
    """Floyd-Steinberg error diffusion onto palette ``P`` (k, d) in working coordinates.

    Pixels are converted to the working space (``oklab`` with L times ``l_weight``, or
    RGB 0-255; alpha scaled by ``alpha_scale`` when the image has 4 channels), the diffused error times ``strength``
    is added, and the nearest palette entry is taken. Rows run in serpentine order.
    Fully transparent pixels go to ``transparent_index`` (when >= 0) and diffuse nothing.
    """
    cdef Py_ssize_t h = img.shape[0], wd = img.shape[1], y, x, t
    cdef int c = img.shape[2], d = P.shape[1], k = P.shape[0], q, dirn, best, prev_best = 0
    cdef float[::1] cc = np.empty(k * k, dtype=np.float32)
    cdef int32_t[::1] order = np.empty(k * k, dtype=np.int32)
    cdef float[::1] half_gap = np.empty(k, dtype=np.float32)
    cdef float[:, ::1] err_cur = np.zeros((wd + 2, d), dtype=np.float32)
    cdef float[:, ::1] err_next = np.zeros((wd + 2, d), dtype=np.float32)
    cdef float[:, ::1] swap
    cdef float v[4]
    cdef float e[4]
    cdef float da
    cdef const uint8_t* px
    with nogil:
        if not _lut_ready:
            _init_lut()
        _centre_geometry(&P[0, 0], k, d, &cc[0], &order[0], &half_gap[0], False)
        for y in range(h):
            dirn = 1 if (y % 2) == 0 else -1
            for t in range(wd):
                x = t if dirn == 1 else wd - 1 - t
                px = &img[y, x, 0]
                if c == 4 and px[3] == 0 and transparent_index >= 0:
                    out[y, x] = <uint8_t>transparent_index
                    continue
                if oklab:
                    _to_oklab(_SRGB_TO_LINEAR[px[0]], _SRGB_TO_LINEAR[px[1]], _SRGB_TO_LINEAR[px[2]], v)
                    v[0] = v[0] * l_weight
                else:
                    v[0] = px[0]
                    v[1] = px[1]
                    v[2] = px[2]
                if c == 4:
                    v[3] = px[3] * alpha_scale
                for q in range(d):
                    v[q] = v[q] + strength * err_cur[x + 1, q]
                da = _dist(v, &P[prev_best, 0], d)
                best = prev_best
                if da > half_gap[prev_best]:
                    best = _nearest_from(v, &P[0, 0], k, d, &cc[0], &order[0], prev_best, da)
                prev_best = best
                out[y, x] = <uint8_t>best
                for q in range(d):
                    e[q] = v[q] - P[best, q]
                    # 7/16 ahead, 3/16 behind-below, 5/16 below, 1/16 ahead-below.
                    err_cur[x + 1 + dirn, q] += e[q] * (7.0 / 16.0)
                    err_next[x + 1 - dirn, q] += e[q] * (3.0 / 16.0)
                    err_next[x + 1, q] += e[q] * (5.0 / 16.0)
                    err_next[x + 1 + dirn, q] += e[q] * (1.0 / 16.0)
            swap = err_cur
            err_cur = err_next
            err_next = swap
            for t in range(wd + 2):
                for q in range(d):
                    err_next[t, q] = 0
    return out


def srgb8_to_working(const uint8_t[:, ::1] colors, bint oklab, float l_weight, float alpha_scale):
    """Working coordinates (float32 (n, C)) of 8-bit colours ``(n, 3 or 4)``.

    The same conversion as colorspace.to_working, compiled: on photos with hundreds of
    thousands of distinct colours numpy's temporaries made it the slowest step of a fit.
    """
    cdef Py_ssize_t n = colors.shape[0], i
    cdef int c = colors.shape[1]
    out = np.empty((n, c), dtype=np.float32)
    cdef float[:, ::1] ov = out
    cdef float v[3]
    with nogil:
        if not _lut_ready:
            _init_lut()
        for i in prange(n, schedule="static", num_threads=_threads_for(n)):
            if oklab:
                _to_oklab(_SRGB_TO_LINEAR[colors[i, 0]], _SRGB_TO_LINEAR[colors[i, 1]],
                          _SRGB_TO_LINEAR[colors[i, 2]], &ov[i, 0])
                ov[i, 0] = ov[i, 0] * l_weight
            else:
                ov[i, 0] = colors[i, 0]
                ov[i, 1] = colors[i, 1]
                ov[i, 2] = colors[i, 2]
            if c == 4:
                ov[i, 3] = colors[i, 3] * alpha_scale
    return out
