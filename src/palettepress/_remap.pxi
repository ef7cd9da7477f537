# Working coordinates of 8-bit colours, and error diffusion onto a palette.
#
# Working coordinates (see colorspace.py): Oklab with the lightness weighted, or RGB
# 0..255, of the colour itself for opaque images; for images with alpha, of the colour
# composited over a dark and over a light grey, six coordinates, so that a distance
# counts what the colour looks like on both.

cdef float _SRGB_TO_LINEAR[256]


cdef inline double _srgb_decode(double c) noexcept nogil:
    # An sRGB-encoded value in 0..1 to linear light.
    return c / 12.92 if c <= 0.04045 else pow((c + 0.055) / 1.055, 2.4)


cdef void _init_lut() noexcept nogil:
    cdef int v
    for v in range(256):
        _SRGB_TO_LINEAR[v] = <float>_srgb_decode(v / 255.0)


_init_lut()

# The greys (sRGB, 0..1) translucent colours are composited over: colorspace.BACKGROUNDS.
cdef double _BACKGROUND[2]
_BACKGROUND[:] = [0.1, 0.9]

cdef enum:
    _WCHUNK = 64        # colours per chunk of the vectorised conversion
    _DITHER_STRIP = 128 # rows diffused independently (and in parallel)
    _DITHER_WARMUP = 8  # rows run before a strip to bring its error up to speed

#: Rows a dither strip: each strip's error diffusion (and the LZW dictionary it follows,
#: see ``dither``) starts afresh.
DITHER_STRIP = _DITHER_STRIP


cdef void _oklab_chunk(const float* r, const float* g, const float* b, Py_ssize_t n, float lw,
                       float* out, Py_ssize_t stride) noexcept nogil:
    # Oklab of n <= _WCHUNK linear colours (pp_oklab), lightness times lw, written to
    # out[i * stride + 0..2].
    cdef float L[_WCHUNK]
    cdef float A[_WCHUNK]
    cdef float B[_WCHUNK]
    cdef Py_ssize_t i
    pp_oklab(r, g, b, n, lw, L, A, B)
    for i in range(n):
        out[i * stride] = L[i]
        out[i * stride + 1] = A[i]
        out[i * stride + 2] = B[i]


cdef void _working_chunk(const uint8_t* px, Py_ssize_t n, int C, bint oklab, float lw,
                         float* out) noexcept nogil:
    # Working coordinates of n <= _WCHUNK colours (C = 3: 3 each; C = 4: 6 each, over the
    # dark grey then over the light one).
    cdef float r[_WCHUNK]
    cdef float g[_WCHUNK]
    cdef float b[_WCHUNK]
    cdef Py_ssize_t i, d = 3 if C == 3 else 6
    cdef int h, q
    cdef double a, v
    cdef const uint8_t* p
    for h in range(1 if C == 3 else 2):
        for i in range(n):
            p = px + i * C
            if C == 3 or p[3] == 255:
                if oklab:
                    r[i] = _SRGB_TO_LINEAR[p[0]]
                    g[i] = _SRGB_TO_LINEAR[p[1]]
                    b[i] = _SRGB_TO_LINEAR[p[2]]
                else:
                    r[i] = p[0]
                    g[i] = p[1]
                    b[i] = p[2]
            else:
                # Composited in the encoded values, as browsers and libjxl's metric do.
                a = p[3] / 255.0
                for q in range(3):
                    v = a * (p[q] / 255.0) + (1.0 - a) * _BACKGROUND[h]
                    v = _srgb_decode(v) if oklab else 255.0 * v
                    if q == 0:
                        r[i] = <float>v
                    elif q == 1:
                        g[i] = <float>v
                    else:
                        b[i] = <float>v
        if oklab:
            _oklab_chunk(r, g, b, n, lw, out + 3 * h, d)
        else:
            for i in range(n):
                out[i * d + 3 * h] = r[i]
                out[i * d + 3 * h + 1] = g[i]
                out[i * d + 3 * h + 2] = b[i]


cdef void _working_row(const uint8_t* px, Py_ssize_t n, int C, bint oklab, float lw,
                       float* out) noexcept nogil:
    cdef Py_ssize_t i0 = 0, d = 3 if C == 3 else 6
    while i0 < n:
        _working_chunk(px + i0 * C, min(<Py_ssize_t>_WCHUNK, n - i0), C, oklab, lw, out + i0 * d)
        i0 += _WCHUNK


def srgb8_to_working(const uint8_t[:, ::1] colors, bint oklab, float l_weight):
    """Working coordinates (float32 (n, 3), or (n, 6) for colours with alpha) of 8-bit
    colours ``(n, 3 or 4)``, as colorspace.to_working defines them.

    Compiled: on photos with hundreds of thousands of distinct colours numpy's temporaries
    made the conversion the slowest step of a fit.
    """
    cdef Py_ssize_t n = colors.shape[0], c0, nchunks
    cdef int C = colors.shape[1]
    cdef Py_ssize_t d = 3 if C == 3 else 6
    out = np.empty((n, d), dtype=np.float32)
    cdef float[:, ::1] ov = out
    if n == 0:
        return out
    nchunks = (n + _WCHUNK - 1) // _WCHUNK
    with nogil:
        for c0 in prange(nchunks, schedule="static", num_threads=_threads_for(n)):
            _working_chunk(&colors[c0 * _WCHUNK, 0], min(<Py_ssize_t>_WCHUNK, n - c0 * _WCHUNK), C,
                           oklab, l_weight, &ov[c0 * _WCHUNK, 0])
    return out


cdef inline int _nearest_hint(const float* v, const float* P, int k, int d, const float* cc,
                              const int32_t* order, const float* half_gap, int hint) noexcept nogil:
    cdef float da = _dist(v, &P[hint * d], d)
    if da <= half_gap[hint]:
        return hint  # nothing else can be closer than half the gap to hint's nearest
    return _nearest_from(v, P, k, d, cc, order, hint, da)


cdef enum:
    _LZW_FULL = 4096  # codes in a full GIF dictionary


cdef struct _LzwWatch:
    # The dictionary a GIF encoder builds from the indices chosen so far, in raster
    # order, cleared when full (see gif_lzw's ``clearing`` 0), and the string it is
    # matching: enough to tell which entries would continue that string.
    int16_t* child  # child[code * 256 + symbol]: the code of the string extended, or -1
    int cur         # the string being matched (-1: none yet)
    int nxt         # the next free code
    int first       # the first free code after a clearing
    float slack2    # how much further (squared) than the nearest a continuing entry may lie


cdef inline void _lzw_follow(_LzwWatch* z, int sym) noexcept nogil:
    # The next pixel takes entry ``sym``: the string goes on, or is written and learnt.
    cdef int c
    if z.cur < 0:
        z.cur = sym
        return
    c = z.child[z.cur * 256 + sym]
    if c >= 0:
        z.cur = c
        return
    if z.nxt < _LZW_FULL:
        z.child[z.cur * 256 + sym] = <int16_t>z.nxt
        z.nxt += 1
    else:
        memset(z.child, 0xFF, _LZW_FULL * 256 * sizeof(int16_t))
        z.nxt = z.first
    z.cur = sym


cdef inline int _lzw_pick(_LzwWatch* z, const float* v, const float* P, int k, int d,
                          const float* cc, const int32_t* order, int best) noexcept nogil:
    # When the nearest entry ``best`` to v ends the encoder's string, the entry nearest v
    # among those that continue it, if its squared distance is at most slack2 above
    # best's; otherwise best. The error diffusion passes on whatever error the pick
    # leaves, so the neighbours make up for it.
    cdef int t, j, pick = best
    cdef float db2, reach, dj2, lim2
    if z.cur < 0 or z.slack2 <= 0 or z.child[z.cur * 256 + best] >= 0:
        return best
    db2 = _dist2(v, &P[best * d], d)
    lim2 = db2 + z.slack2
    # An entry further than this from best lies further than sqrt(lim2) from v.
    reach = sqrt(db2) + sqrt(lim2)
    for t in range(1, k):
        j = order[best * k + t]
        if cc[best * k + j] > reach:
            break
        if z.child[z.cur * 256 + j] < 0:
            continue
        dj2 = _dist2(v, &P[j * d], d)
        if dj2 <= lim2:
            lim2 = dj2
            pick = j
    return pick


cdef void _dither_strip(const uint8_t* img, Py_ssize_t W, int C, Py_ssize_t y_start,
                        Py_ssize_t y0, Py_ssize_t y1, const float* P, int k, int d,
                        const float* cc, const int32_t* order, const float* half_gap,
                        bint oklab, float lw, float strength, float limit, float busy,
                        float floor2, int transparent_index, bint prefilled, uint8_t* out,
                        Py_ssize_t out_stride, const uint8_t* keep, Py_ssize_t keep_stride,
                        int keep_index, float* buf, _LzwWatch* lzw) noexcept nogil:
    # Rows y_start .. y1, output kept from y0 on: serpentine Floyd-Steinberg in working
    # coordinates, the carried error capped at ``limit`` times the gap around the pixel's
    # own nearest entry and weakened in busy texture; pixels within sqrt(floor2) of an
    # entry take it, and errors below that are not passed on. Pixels ``keep`` marks (an
    # animation's pixels that go on showing the previous frame's colour) take
    # ``keep_index`` (-1: the index ``out`` holds), pass no error on and drop the error
    # carried to them: what they show
    # was dithered already, in the frame that drew it. With ``lzw`` (not NULL, its
    # dictionary empty) every row runs left to right, in a GIF encoder's order, and from
    # row y0 on each pixel may take an entry that continues the encoder's string (see
    # _lzw_pick).
    cdef float* work = buf
    cdef float* prev = buf + W * d
    cdef float* err_cur = prev + W * d
    cdef float* err_next = err_cur + (W + 2) * d
    # Per pixel of the row: the share of the carried error it takes (negative: none, it
    # takes ``take`` as it is) and its own nearest entry (or the entry it takes).
    cdef float* share = err_next + (W + 2) * d
    cdef int32_t* take = <int32_t*>(share + W)
    cdef float* swap
    cdef float act, m, g, one = 1
    cdef int nb
    cdef float v[8]
    cdef float e[8]
    cdef float n2, cap
    cdef Py_ssize_t y, t, x, xa, xb
    cdef int q, dirn, best, mine, own = 0
    cdef const uint8_t* row
    memset(err_cur, 0, 2 * (W + 2) * d * sizeof(float))
    for y in range(y_start, y1):
        row = img + y * W * C
        swap = prev
        prev = work
        work = swap
        _working_row(row, W, C, oklab, lw, work)
        dirn = 1 if (y % 2) == 0 or lzw != NULL else -1
        # First what does not depend on the error carried along the row (each pixel's own
        # entry, the strength there), so that the pass that carries it does little else.
        for t in range(W):
            x = t if dirn == 1 else W - 1 - t
            if keep != NULL and keep[y * keep_stride + x]:
                share[x] = -1
                take[x] = keep_index if keep_index >= 0 else out[y * out_stride + x]
                continue
            if C == 4 and row[x * C + 3] == 0 and transparent_index >= 0:
                share[x] = -1
                take[x] = transparent_index
                continue
            for q in range(d):
                v[q] = work[x * d + q]
            if prefilled and y >= y0:
                own = out[y * out_stride + x]
            else:
                own = _nearest_hint(v, P, k, d, cc, order, half_gap, own)
            take[x] = own
            n2 = 0
            for q in range(d):
                n2 = n2 + (v[q] - P[own * d + q]) * (v[q] - P[own * d + q])
            if n2 < floor2:
                # A colour the palette holds stays exact (a legend's red, flat UI areas):
                # the error carried here is dropped, none is passed on.
                share[x] = -1
                continue
            # Where the neighbours already differ by the palette's spacing, texture hides the
            # palette's steps and dither noise there only costs bytes: the strength falls
            # as 1 / (1 + a^2 / (busy * gap)^2), a^2 the mean squared distance to the
            # neighbours.
            m = strength
            if busy > 0:
                act = 0
                nb = 0
                if x > 0:
                    act = act + _dist2(&work[(x - 1) * d], v, d)
                    nb = nb + 1
                if x + 1 < W:
                    act = act + _dist2(&work[(x + 1) * d], v, d)
                    nb = nb + 1
                if y > y_start:
                    act = act + _dist2(&prev[x * d], v, d)
                    nb = nb + 1
                g = busy * 2 * half_gap[own]
                if nb and g > 0:
                    m = strength / (one + act / (nb * g * g))
            share[x] = m
        for t in range(W):
            x = t if dirn == 1 else W - 1 - t
            m = share[x]
            if m < 0:
                # Kept, clear or exact: the entry as it is, the error carried here dropped.
                if y >= y0:
                    out[y * out_stride + x] = <uint8_t>take[x]
                if lzw != NULL and y >= y0:
                    _lzw_follow(lzw, take[x])
                continue
            mine = take[x]
            n2 = 0
            for q in range(d):
                v[q] = work[x * d + q]
                e[q] = m * err_cur[(x + 1) * d + q]
                n2 = n2 + e[q] * e[q]
            if n2 > 0:
                # Error beyond the palette's spacing around this colour would pick a
                # far-off entry (a speckle), not a neighbouring one: cap it.
                cap = 2 * limit * half_gap[mine]
                if n2 > cap * cap:
                    cap = cap / sqrt(n2)
                    for q in range(d):
                        e[q] = e[q] * cap
                for q in range(d):
                    v[q] = v[q] + e[q]
            best = _nearest_hint(v, P, k, d, cc, order, half_gap, mine)
            if lzw != NULL and y >= y0:
                best = _lzw_pick(lzw, v, P, k, d, cc, order, best)
                _lzw_follow(lzw, best)
            if y >= y0:
                out[y * out_stride + x] = <uint8_t>best
            n2 = 0
            for q in range(d):
                e[q] = v[q] - P[best * d + q]
                n2 = n2 + e[q] * e[q]
            if n2 < floor2:
                continue
            # 7/16 ahead, 3/16 behind-below, 5/16 below, 1/16 ahead-below.
            xa = x + dirn
            xb = x - dirn
            for q in range(d):
                err_cur[(xa + 1) * d + q] += e[q] * <float>(7.0 / 16.0)
                err_next[(xb + 1) * d + q] += e[q] * <float>(3.0 / 16.0)
                err_next[(x + 1) * d + q] += e[q] * <float>(5.0 / 16.0)
                err_next[(xa + 1) * d + q] += e[q] * <float>(1.0 / 16.0)
        swap = err_cur
        err_cur = err_next
        err_next = swap
        memset(err_next, 0, (W + 2) * d * sizeof(float))


cdef tuple _geometry_arrays(int k):
    return (np.empty(k * k, dtype=np.float32), np.empty(k * k, dtype=np.int32),
            np.empty(k, dtype=np.float32))


def centre_geometry(const float[:, ::1] P):
    """``(distances, order, half_gap)`` of palette ``P`` (k, d) for :func:`dither`: the
    entries' distances to each other (k * k), each row's entries by distance, and half
    of each entry's distance to its nearest other."""
    cdef int k = P.shape[0], d = P.shape[1]
    if k < 1:
        raise ValueError("a palette needs an entry")
    geometry = _geometry_arrays(k)
    cdef float[::1] cc = geometry[0]
    cdef int32_t[::1] order = geometry[1]
    cdef float[::1] half_gap = geometry[2]
    with nogil:
        _centre_geometry(&P[0, 0], k, d, &cc[0], &order[0], &half_gap[0], False)
    return geometry


def dither(const uint8_t[:, :, ::1] img, const float[:, ::1] P, bint oklab, float l_weight,
           float strength, float limit, float busy, float floor, int transparent_index, out,
           bint prefilled=False, keep=None, int keep_index=0, float lzw_slack=-1,
           geometry=None):
    """Error diffusion of ``img`` onto palette ``P`` (k, d) in working coordinates.

    Serpentine Floyd-Steinberg: each pixel is converted to working coordinates (as
    :func:`srgb8_to_working`), the error carried to it times ``strength`` is added, and
    the nearest entry taken; the error it leaves is passed on with weights 7, 3, 5, 1 / 16.
    The carried error is capped at ``limit`` times the distance between the pixel's own
    nearest entry and the entry closest to that one (the gap), so dithering mixes
    neighbouring palette colours and never reaches for a far-off one. In busy texture
    the strength falls as ``1 / (1 + a**2 / (busy * gap)**2)``, ``a**2`` the mean squared
    distance of the pixel to its left, right and upper neighbours (``busy`` 0: everywhere
    the same): the texture hides the palette's steps, and noise there costs bytes. A pixel
    within ``floor`` of a
    palette entry takes it exactly, and an error shorter than that is not passed on, so
    areas the palette matches stay flat. Rows are diffused in strips
    of 128, each started 8 rows early, so strips run in parallel and the result is the
    same on any number of threads. Fully transparent pixels go to ``transparent_index``
    (when >= 0) and pass nothing on.

    ``out`` is an (H, W) uint8 array with contiguous rows (they may lie apart in memory).
    With ``prefilled``, it holds each pixel's nearest entry already (the plain remap, from
    the histogram), which saves a search per pixel; the dithered indices replace them.
    ``keep``, when given, is an (H, W) uint8 array with contiguous rows: where it is
    nonzero the pixel takes ``keep_index`` and neither receives nor passes on error (an
    animation frame's pixels that keep showing what the previous frame drew); with
    ``keep_index`` -1 (and ``prefilled``) it keeps the index ``out`` holds.

    ``lzw_slack`` >= 0 dithers for a GIF's LZW: the rows run left to right, in the
    encoder's order, and where a pixel's nearest entry would end the string the encoder
    is matching, it takes the nearest entry that continues it instead, if that entry's
    squared distance is at most ``lzw_slack**2`` above the nearest's (the error it leaves
    is diffused as any other). The dictionary followed is the one the indices build in a
    table of ``k`` entries, cleared when full and at the first pixel of each strip of
    :data:`DITHER_STRIP` rows (so strips still run in parallel): ``gif_lzw(...,
    restart=DITHER_STRIP * W)`` encodes the indices with that dictionary.
    ``geometry``, when given, is :func:`centre_geometry` of ``P`` (frames that share a
    palette compute it once).
    Returns ``out``.
    """
    cdef uint8_t[:, :] ov = out
    cdef Py_ssize_t h = img.shape[0], wd = img.shape[1], s, nstrips, y0
    cdef int c = img.shape[2], d = P.shape[1], k = P.shape[0]
    if d != (3 if c == 3 else 6) or k < 1:
        raise ValueError(f"a palette of {d} working coordinates does not fit a {c}-channel image")
    if ov.shape[0] != h or ov.shape[1] != wd or ov.strides[1] != 1:
        raise ValueError("out must be an (H, W) array with contiguous rows")
    cdef float[::1] cc
    cdef int32_t[::1] order
    cdef float[::1] half_gap
    cdef bint measured = geometry is None
    if measured:
        cc, order, half_gap = _geometry_arrays(k)
    else:
        cc, order, half_gap = geometry
        if cc.shape[0] != k * k or order.shape[0] != k * k or half_gap.shape[0] != k:
            raise ValueError(f"the geometry is not that of a palette of {k} entries")
    cdef float floor2 = floor * floor
    cdef float* buf
    cdef Py_ssize_t buf_len = (2 * wd + 2 * (wd + 2)) * d + 2 * wd
    cdef int failed = 0
    cdef const uint8_t[:, :] kv
    cdef const uint8_t* keep_ptr = NULL
    cdef Py_ssize_t keep_stride = 0
    if keep is not None:
        kv = keep
        if kv.shape[0] != h or kv.shape[1] != wd or kv.strides[1] != 1:
            raise ValueError("keep must be an (H, W) array with contiguous rows")
        if h and wd:
            keep_ptr = &kv[0, 0]
            keep_stride = kv.strides[0]
    if h == 0 or wd == 0:
        return out
    cdef bint lzw = lzw_slack >= 0
    cdef _LzwWatch* zs = NULL
    cdef _LzwWatch* z
    cdef int first = 0
    if lzw:
        if k > 256:
            raise ValueError(f"a GIF's table holds at most 256 entries, not {k}")
        # The clear and end codes follow the table's 2**size entries.
        first = 4
        while first < k:
            first *= 2
        first += 2
    nstrips = (h + _DITHER_STRIP - 1) // _DITHER_STRIP
    if lzw:
        zs = <_LzwWatch*>malloc(nstrips * sizeof(_LzwWatch))
        if zs == NULL:
            raise MemoryError()
    with nogil:
        if measured:
            _centre_geometry(&P[0, 0], k, d, &cc[0], &order[0], &half_gap[0], False)
        for s in prange(nstrips, schedule="dynamic", num_threads=_threads_for(h * wd)):
            buf = <float*>malloc(buf_len * sizeof(float))
            z = NULL
            if lzw:
                # Each strip's own dictionary, empty at its first pixel.
                z = &zs[s]
                z.child = <int16_t*>malloc(_LZW_FULL * 256 * sizeof(int16_t))
                if z.child != NULL:
                    memset(z.child, 0xFF, _LZW_FULL * 256 * sizeof(int16_t))
                z.cur = -1
                z.nxt = first
                z.first = first
                z.slack2 = lzw_slack * lzw_slack
            if buf == NULL or (z != NULL and z.child == NULL):
                failed += 1
            else:
                y0 = s * _DITHER_STRIP
                # The colour dimension as a constant in each call lets the compiler make a
                # copy of the loop for each, with the per-coordinate loops unrolled.
                if d == 3:
                    _dither_strip(&img[0, 0, 0], wd, c, max(<Py_ssize_t>0, y0 - _DITHER_WARMUP), y0,
                                  min(h, y0 + _DITHER_STRIP), &P[0, 0], k, 3, &cc[0], &order[0],
                                  &half_gap[0], oklab, l_weight, strength, limit, busy, floor2,
                                  transparent_index, prefilled, &ov[0, 0], ov.strides[0],
                                  keep_ptr, keep_stride, keep_index, buf, z)
                else:
                    _dither_strip(&img[0, 0, 0], wd, c, max(<Py_ssize_t>0, y0 - _DITHER_WARMUP), y0,
                                  min(h, y0 + _DITHER_STRIP), &P[0, 0], k, 6, &cc[0], &order[0],
                                  &half_gap[0], oklab, l_weight, strength, limit, busy, floor2,
                                  transparent_index, prefilled, &ov[0, 0], ov.strides[0],
                                  keep_ptr, keep_stride, keep_index, buf, z)
            free(buf)
            if z != NULL:
                free(z.child)
    free(zs)
    if failed:
        raise MemoryError()
    return out


cdef void _run_rows(const uint8_t* img, Py_ssize_t W, int C, Py_ssize_t y0, Py_ssize_t y1,
                    const float* P, int d, bint oklab, float lw, float slack2, float floor2,
                    int transparent_index, uint8_t* out, Py_ssize_t out_stride,
                    float* buf) noexcept nogil:
    # Rows y0 .. y1 of run_bias (see there); buf holds a row's working coordinates.
    cdef Py_ssize_t y, x
    cdef const uint8_t* px
    cdef uint8_t* row
    cdef int left, own
    cdef float dn
    for y in range(y0, y1):
        px = img + y * W * C
        row = out + y * out_stride
        _working_row(px, W, C, oklab, lw, buf)
        for x in range(1, W):
            left = row[x - 1]
            own = row[x]
            if left == own or left == transparent_index or own == transparent_index:
                continue
            if C == 4 and px[x * C + 3] == 0:
                continue
            dn = _dist2(&buf[x * d], &P[own * d], d)
            if dn >= floor2 and _dist2(&buf[x * d], &P[left * d], d) <= dn + slack2:
                row[x] = <uint8_t>left


def run_bias(const uint8_t[:, :, ::1] img, const float[:, ::1] P, bint oklab, float l_weight,
             float slack, float floor, int transparent_index, out):
    """Runs for the deflate (or LZW) of undithered indices.

    ``out`` (H, W) uint8, contiguous rows, holds each pixel's entry (the plain remap's);
    in each row, left to right, a pixel takes the entry its left neighbour ended with
    instead of its own where that entry's squared distance to the pixel (working
    coordinates, as :func:`srgb8_to_working`) is at most ``slack**2`` above its own's.
    Pixels within ``floor`` of their own entry keep it (areas the palette matches stay
    exact), as do fully transparent pixels and pixels next to ``transparent_index``
    (when >= 0). Rows are independent: the same result on any number of threads.
    Returns ``out``.
    """
    cdef uint8_t[:, :] ov = out
    cdef Py_ssize_t h = img.shape[0], wd = img.shape[1], b, nblocks
    cdef int c = img.shape[2], d = P.shape[1]
    if d != (3 if c == 3 else 6) or P.shape[0] < 1:
        raise ValueError(f"a palette of {d} working coordinates does not fit a {c}-channel image")
    if ov.shape[0] != h or ov.shape[1] != wd or ov.strides[1] != 1:
        raise ValueError("out must be an (H, W) array with contiguous rows")
    if h == 0 or wd < 2:
        return out
    cdef float* buf
    cdef int failed = 0
    cdef float slack2 = slack * slack, floor2 = floor * floor
    nblocks = (h + 15) // 16
    with nogil:
        for b in prange(nblocks, schedule="static", num_threads=_threads_for(h * wd)):
            buf = <float*>malloc(wd * d * sizeof(float))
            if buf == NULL:
                failed += 1
            else:
                _run_rows(&img[0, 0, 0], wd, c, b * 16, min(h, b * 16 + 16), &P[0, 0], d, oklab,
                          l_weight, slack2, floor2, transparent_index, &ov[0, 0], ov.strides[0],
                          buf)
            free(buf)
    if failed:
        raise MemoryError()
    return out


cdef enum:
    _MIX = 8            # palette entries in each colour's mix (divides the matrix's 64)


cdef void _mix(const float* v, const float* P, int k, int d, const float* cc,
               const int32_t* order, const float* half_gap, float strength, float floor2,
               uint8_t* mix) noexcept nogil:
    # Pattern dithering in the manner of Knoll's: the colour is approximated by a mix of
    # _MIX palette entries, each the nearest to the colour plus the error the entries
    # before it left (times ``strength``), sorted by the first coordinate (lightness in
    # Oklab) so the threshold matrix spreads them evenly. A colour within sqrt(floor2) of
    # its nearest entry is that entry alone.
    cdef int q, i, j, c, tmp
    cdef int m[_MIX]
    cdef float e[8]
    cdef float t[8]
    cdef float res = 0
    c = _nearest_from(v, P, k, d, cc, order, 0, _dist(v, P, d))
    for q in range(d):
        res = res + (v[q] - P[c * d + q]) * (v[q] - P[c * d + q])
    if res < floor2:
        for i in range(_MIX):
            mix[i] = <uint8_t>c
        return
    for q in range(d):
        e[q] = 0
    for i in range(_MIX):
        if i:
            for q in range(d):
                t[q] = v[q] + strength * e[q]
            c = _nearest_hint(t, P, k, d, cc, order, half_gap, c)
        m[i] = c
        for q in range(d):
            e[q] = e[q] + v[q] - P[c * d + q]
    for i in range(1, _MIX):
        tmp = m[i]
        j = i - 1
        while j >= 0 and P[m[j] * d] > P[tmp * d]:
            m[j + 1] = m[j]
            j -= 1
        m[j + 1] = tmp
    for i in range(_MIX):
        mix[i] = <uint8_t>m[i]


def ordered_mixes(const float[:, ::1] X, const float[:, ::1] P, float strength, float floor):
    """The ordered-dithering mix (uint8 (n, 8): palette indices by lightness) of each of
    the colours ``X`` (n, d) onto the palette ``P`` (k, d), both in working coordinates.

    Pixels then take ``mix[threshold]`` with the threshold of Bayer's 8x8 matrix at their
    position (:func:`lookup_pattern`); the mean of a mix is close to its colour, so a
    flat area keeps its mean, no error travels between pixels, and the pattern repeats.
    """
    cdef Py_ssize_t n = X.shape[0], i
    cdef int d = X.shape[1], k = P.shape[0]
    if P.shape[1] != d or k < 1:
        raise ValueError("the colours and the palette need the same working coordinates")
    out = np.empty((n, _MIX), dtype=np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef float[::1] cc = np.empty(k * k, dtype=np.float32)
    cdef int32_t[::1] order = np.empty(k * k, dtype=np.int32)
    cdef float[::1] half_gap = np.empty(k, dtype=np.float32)
    if n == 0:
        return out
    with nogil:
        _centre_geometry(&P[0, 0], k, d, &cc[0], &order[0], &half_gap[0], False)
        for i in prange(n, schedule="static", num_threads=_threads_for(8 * n)):
            _mix(&X[i, 0], &P[0, 0], k, d, &cc[0], &order[0], &half_gap[0], strength,
                 floor * floor, &ov[i, 0])
    return out
