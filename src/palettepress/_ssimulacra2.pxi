# SSIMULACRA2 (Jon Sneyers, libjxl tools/ssimulacra2.cc), as the `ssimulacra2` package
# computes it: linear sRGB to XYB, six scales (2x2 box downsampling in linear light), at
# each a Gaussian blur (sigma 1.5, 11 taps, rows mirrored at the sides and zero above and
# below) of both images, their squares and their product, then per XYB channel the
# 1 - SSIM map (without the luminance denominator) and the edge maps of ringing and lost
# detail, each pooled by its mean and its 4-norm; 108 weights and a cubic make the score.
#
# The whole pyramid is streamed: each scale holds a block of rows and the 10 rows its
# blur reaches, and passes its downsampled rows to the next scale as they appear, so a
# 110-megapixel image needs a few tens of MB, not gigabytes of float planes. Rows within
# a block are spread over threads; every sum is accumulated per row and the rows added in
# order, so the score does not depend on the thread count.

cdef extern from "_simd.h" nogil:
    void pp_hblur11(const float* pad, float* out, Py_ssize_t n, const float* k)
    void pp_vblur11(const float* const* rows, float* out, Py_ssize_t n, const float* k)
    void pp_xyb(const float* r, const float* g, const float* b, float* ox, float* oy, float* ob,
                Py_ssize_t n, const float* m, float bias, float cbias)
    void pp_ssim_maps(const float* mu1, const float* mu2, const float* s11, const float* s22,
                      const float* s12, const float* xa, const float* xb, Py_ssize_t n, float c2,
                      int ssim, double* acc)


cdef enum:
    _S2_SCALES = 6
    _S2_RADIUS = 5
    _S2_PLANES = 15     # per XYB channel: blur of a, of b, of a*a, of b*b, of a*b
    _S2_SUMS = 18       # per channel: d, d^4, ringing, ringing^4, lost detail, lost detail^4
    _S2_MIN_SIDE = 8

# Opsin absorbance (libjxl opsin_params.h) and its bias.
cdef double _S2_M[9]
_S2_M[:] = [0.30, 1.0 - 0.078 - 0.30, 0.078,
            0.23, 1.0 - 0.078 - 0.23, 0.078,
            0.24342268924547819, 0.20476744424496821,
            1.0 - 0.24342268924547819 - 0.20476744424496821]
cdef double _S2_BIAS = 0.0037930732552754493
cdef float _S2_CBRT_BIAS = <float>cbrt(0.0037930732552754493)
cdef double _S2_C2 = 0.0009

cdef double _S2_WEIGHT[108]
_S2_WEIGHT[:] = [
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0,
    0.0004371155730107379, 0.0, 1.1041726426657346, 0.00066284834129271,
    0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0, 1.8422455520539298,
    11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072, 0.9677937080626833,
    0.0, 0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053,
    0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398, 0.0, 0.0, 0.0, 0.0, 0.0,
    7.466890328078848, 0.0, 17.445833984131262, 0.0006235601634041466, 0.0, 0.0,
    6.683678146179332, 0.00037724407979611296, 1.027889937768264, 225.20515300849274, 0.0,
    0.0, 19.213238186143016, 0.0011401524586618361, 0.001237755635509985, 176.39317598450694,
    0.0, 0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0,
    34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0,
    0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
    0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862,
    23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682, 0.9834382792465353,
    0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537]

# Gaussian taps for offsets 0..5 (sigma 1.5, normalised over -5..5, as scipy's
# gaussian_filter with truncate=3.33 makes them).
cdef float _S2_TAP[6]


cdef void _s2_init_taps():
    cdef double w[6]
    cdef double total = 0.0
    cdef int t
    for t in range(6):
        w[t] = exp(-0.5 * t * t / (1.5 * 1.5))
        total += w[t] if t == 0 else 2.0 * w[t]
    for t in range(6):
        _S2_TAP[t] = <float>(w[t] / total)


_s2_init_taps()

cdef struct _S2Scale:
    Py_ssize_t W
    Py_ssize_t H
    Py_ssize_t B          # rows per block
    Py_ssize_t n_in       # rows waiting in lin
    Py_ssize_t received   # rows converted and blurred across so far
    Py_ssize_t y_out      # next row of the maps
    Py_ssize_t ring       # rows of xyb and hb: row y lives in slot y % ring
    float* lin            # B rows x 6 planes (a: R G B, b: R G B) x W: linear light
    float* xyb            # ring rows x 6 planes x W: positive XYB of a and b
    float* hb             # ring rows x 15 planes x W: horizontally blurred
    double* rowsums       # (B + 10) rows x 18: the map sums of each output row
    float* scratch        # per thread: 15 planes of the widest scale, plus padding
    Py_ssize_t scratch_len
    # What the score uses of each channel at this scale: its SSIM map (which needs all
    # five planes) and its edge maps (the two blurred images only). Terms whose weights
    # are all zero are not computed: at the full scale X and B need only their edges.
    bint want_ssim[3]
    bint want_edge[3]
    double sums[_S2_SUMS]


cdef float _S2_MF[9]
for _i in range(9):
    _S2_MF[_i] = <float>_S2_M[_i]


cdef inline void _s2_xyb_row(const float* lin, float* out, Py_ssize_t W) noexcept nogil:
    # Linear RGB (3 planes of W) to positive XYB (3 planes of W).
    pp_xyb(lin, lin + W, lin + 2 * W, out, out + W, out + 2 * W, W, _S2_MF, <float>_S2_BIAS,
           _S2_CBRT_BIAS)


cdef inline void _s2_hblur(const float* pad, float* out, Py_ssize_t W) noexcept nogil:
    # ``pad`` holds the row at pad[5 .. W + 5) and zeros in the five cells on each side.
    pp_hblur11(pad, out, W, _S2_TAP)


cdef void _s2_convert_row(_S2Scale* S, Py_ssize_t i, float* pad) noexcept nogil:
    # Block row i (row S.received + i): XYB of both images, then the 15 blurred planes.
    cdef Py_ssize_t W = S.W, x, c
    cdef Py_ssize_t r = (S.received + i) % S.ring
    cdef float* xyb = S.xyb + r * 6 * W
    cdef float* hb = S.hb + r * _S2_PLANES * W
    cdef float* p = pad + _S2_RADIUS
    cdef const float* a
    cdef const float* b
    for x in range(_S2_RADIUS):
        pad[x] = 0
        pad[_S2_RADIUS + W + x] = 0
    _s2_xyb_row(S.lin + i * 6 * W, xyb, W)
    _s2_xyb_row(S.lin + i * 6 * W + 3 * W, xyb + 3 * W, W)
    for c in range(3):
        if not (S.want_ssim[c] or S.want_edge[c]):
            continue
        a = xyb + c * W
        b = xyb + (3 + c) * W
        for x in range(W):
            p[x] = a[x]
        _s2_hblur(pad, hb + (5 * c) * W, W)
        for x in range(W):
            p[x] = b[x]
        _s2_hblur(pad, hb + (5 * c + 1) * W, W)
        if not S.want_ssim[c]:
            continue
        for x in range(W):
            p[x] = a[x] * a[x]
        _s2_hblur(pad, hb + (5 * c + 2) * W, W)
        for x in range(W):
            p[x] = b[x] * b[x]
        _s2_hblur(pad, hb + (5 * c + 3) * W, W)
        for x in range(W):
            p[x] = a[x] * b[x]
        _s2_hblur(pad, hb + (5 * c + 4) * W, W)


cdef void _s2_map_row(_S2Scale* S, Py_ssize_t y, float* tmp, double* sums) noexcept nogil:
    # Row y of the maps: blur the 15 planes down the columns (rows mirrored at the top and
    # bottom), then the SSIM and edge maps of each channel, pooled into sums[18] (sums and
    # sums of fourth powers).
    cdef Py_ssize_t W = S.W, H = S.H, t, g, c, q, j
    cdef const float* rows[2 * _S2_RADIUS + 1]
    cdef const float* shifted[2 * _S2_RADIUS + 1]
    cdef const float* xa
    cdef const float* out
    cdef double acc[6 * 8]
    for t in range(-_S2_RADIUS, _S2_RADIUS + 1):
        g = y + t
        if g < 0:
            g = -1 - g
        elif g >= H:
            g = 2 * H - 1 - g
        rows[t + _S2_RADIUS] = S.hb + (g % S.ring) * _S2_PLANES * W
    for q in range(_S2_PLANES):
        c = q // 5
        if not (S.want_ssim[c] or (S.want_edge[c] and q % 5 < 2)):
            continue
        for t in range(2 * _S2_RADIUS + 1):
            shifted[t] = rows[t] + q * W
        pp_vblur11(shifted, tmp + q * W, W, _S2_TAP)
    for c in range(3):
        xa = S.xyb + (y % S.ring) * 6 * W + c * W
        out = tmp + 5 * c * W
        memset(acc, 0, sizeof(acc))
        if S.want_ssim[c] or S.want_edge[c]:
            pp_ssim_maps(out, out + W, out + 2 * W, out + 3 * W, out + 4 * W, xa, xa + 3 * W, W,
                         <float>_S2_C2, S.want_ssim[c], acc)
        for q in range(6):
            sums[6 * c + q] = 0
            for j in range(8):
                sums[6 * c + q] += acc[8 * q + j]


cdef int _s2_block(_S2Scale* sc, int s, int ns, bint final) noexcept nogil:
    """Take scale s's waiting rows: blur them, emit the map rows now complete, pass the
    downsampled rows to scale s + 1 (processing it when its block is full)."""
    cdef _S2Scale* S = &sc[s]
    cdef _S2Scale* T
    cdef Py_ssize_t W = S.W, n = S.n_in, i, y, first, last, j, x, m, q
    cdef float quarter = 0.25
    cdef const float* r0
    cdef const float* r1
    cdef float* dst
    cdef int nt
    # The ring holds rows y_out - 5 .. received + n - 1, at most B + 10: the new rows take
    # the slots of rows the next map rows no longer reach.
    nt = _threads_for(n * W * 8)
    for i in prange(n, schedule="static", num_threads=nt):
        _s2_convert_row(S, i, S.scratch + omp_get_thread_num() * S.scratch_len)
    S.received += n
    first = S.y_out
    last = S.H - 1 if final else S.received - 1 - _S2_RADIUS
    if last >= first:
        for y in prange(first, last + 1, schedule="static",
                        num_threads=_threads_for((last - first + 1) * W * 8)):
            _s2_map_row(S, y, S.scratch + omp_get_thread_num() * S.scratch_len,
                        S.rowsums + (y - first) * _S2_SUMS)
        for y in range(last - first + 1):
            for q in range(_S2_SUMS):
                S.sums[q] += S.rowsums[y * _S2_SUMS + q]
        S.y_out = last + 1
    if s + 1 < ns and n > 0:
        T = &sc[s + 1]
        m = (n + 1) // 2
        for j in prange(m, schedule="static", num_threads=nt):
            for q in range(6):
                r0 = S.lin + (2 * j) * 6 * W + q * W
                r1 = S.lin + min(2 * j + 1, n - 1) * 6 * W + q * W
                dst = T.lin + (T.n_in + j) * 6 * T.W + q * T.W
                for x in range(W // 2):
                    dst[x] = quarter * ((r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]))
                if W % 2:
                    dst[T.W - 1] = quarter * ((r0[W - 1] + r0[W - 1]) + (r1[W - 1] + r1[W - 1]))
        T.n_in += m
        if T.n_in == T.B or final:
            if _s2_block(sc, s + 1, ns, final):
                return 1
    elif s + 1 < ns and final:
        if _s2_block(sc, s + 1, ns, final):
            return 1
    S.n_in = 0
    return 0


cdef void _s2_source_rows(const uint8_t* img, Py_ssize_t W, Py_ssize_t C, Py_ssize_t y0,
                          Py_ssize_t n, float bg, float bg_lin, float* lin, Py_ssize_t plane0,
                          int nt) noexcept nogil:
    # Rows y0 .. y0 + n of an 8-bit image into linear planes plane0 .. plane0 + 2 of the
    # block. With alpha, the sRGB values are composited over the grey ``bg`` (0..1) first.
    cdef Py_ssize_t i, x, c
    cdef const uint8_t* p
    cdef float* o
    cdef double a
    for i in prange(n, schedule="static", num_threads=nt):
        p = img + (y0 + i) * W * C
        o = lin + i * 6 * W + plane0 * W
        for x in range(W):
            if C == 3 or p[x * C + 3] == 255:
                for c in range(3):
                    o[c * W + x] = _SRGB_TO_LINEAR[p[x * C + c]]
            elif p[x * C + 3] == 0:
                for c in range(3):
                    o[c * W + x] = bg_lin
            else:
                a = p[x * C + 3] / 255.0
                for c in range(3):
                    o[c * W + x] = <float>_srgb_decode(a * (p[x * C + c] / 255.0) + (1.0 - a) * bg)


cdef void _s2_palette_rows(const uint8_t* idx, Py_ssize_t stride, Py_ssize_t W, Py_ssize_t y0,
                           Py_ssize_t n, const float* pal_lin, float* lin, Py_ssize_t plane0,
                           int nt) noexcept nogil:
    cdef Py_ssize_t i, x, c
    cdef const uint8_t* ir
    cdef float* o
    for i in prange(n, schedule="static", num_threads=nt):
        ir = idx + (y0 + i) * stride
        o = lin + i * 6 * W + plane0 * W
        for x in range(W):
            for c in range(3):
                o[c * W + x] = pal_lin[3 * ir[x] + c]


cdef double _s2_score(const uint8_t* a, Py_ssize_t C, const uint8_t* b, Py_ssize_t Cb,
                      const uint8_t* idx, Py_ssize_t stride, const float* pal_lin,
                      Py_ssize_t H, Py_ssize_t W, float bg) except? -1e300:
    cdef _S2Scale sc[_S2_SCALES]
    cdef int ns = 0, s, c, n_, failed = 0, nt
    cdef Py_ssize_t w = W, h = H, B, y0, n, i
    cdef double total = 0.0, npx, v
    cdef double avg[_S2_SCALES][_S2_SUMS]
    cdef float bg_lin = <float>_srgb_decode(bg)
    while ns < _S2_SCALES and w >= _S2_MIN_SIDE and h >= _S2_MIN_SIDE:
        sc[ns].W = w
        sc[ns].H = h
        ns += 1
        w = (w + 1) // 2
        h = (h + 1) // 2
    if ns == 0:
        return NAN
    # Rows per block: about 32 thousand pixels of the full scale, even, 8 to 32. Larger
    # blocks fall out of the caches, and on a wide image the rings' memory (21 planes of
    # B + 10 rows, over all scales about twice the full scale's) would grow past the
    # few per cent of the image's own that it costs.
    B = max(8, min(32, (1 << 15) // W)) & ~(<Py_ssize_t>1)
    cdef Py_ssize_t scratch_len = _S2_PLANES * W + 2 * _S2_RADIUS
    cdef float* scratch = <float*>malloc(omp_get_max_threads() * scratch_len * sizeof(float))
    if scratch == NULL:
        raise MemoryError()
    for s in range(ns):
        sc[s].scratch = scratch
        sc[s].scratch_len = scratch_len
        for c in range(3):
            # The weights of channel c at scale s, in Score's order (see below).
            i = (c * ns + s) * 6
            sc[s].want_ssim[c] = _S2_WEIGHT[i] != 0 or _S2_WEIGHT[i + 3] != 0
            sc[s].want_edge[c] = (_S2_WEIGHT[i + 1] != 0 or _S2_WEIGHT[i + 2] != 0
                                  or _S2_WEIGHT[i + 4] != 0 or _S2_WEIGHT[i + 5] != 0)
        sc[s].B = B
        sc[s].n_in = sc[s].received = sc[s].y_out = 0
        sc[s].ring = B + 2 * _S2_RADIUS
        sc[s].lin = <float*>malloc(B * 6 * sc[s].W * sizeof(float))
        sc[s].xyb = <float*>malloc((B + 2 * _S2_RADIUS) * 6 * sc[s].W * sizeof(float))
        sc[s].hb = <float*>malloc((B + 2 * _S2_RADIUS) * _S2_PLANES * sc[s].W * sizeof(float))
        sc[s].rowsums = <double*>malloc((B + 2 * _S2_RADIUS) * _S2_SUMS * sizeof(double))
        memset(sc[s].sums, 0, _S2_SUMS * sizeof(double))
        if sc[s].lin == NULL or sc[s].xyb == NULL or sc[s].hb == NULL or sc[s].rowsums == NULL:
            failed = 1
    try:
        if failed:
            raise MemoryError()
        with nogil:
            y0 = 0
            while y0 < H:
                n = min(B, H - y0)
                nt = _threads_for(n * W * 4)
                _s2_source_rows(a, W, C, y0, n, bg, bg_lin, sc[0].lin, 0, nt)
                if idx != NULL:
                    _s2_palette_rows(idx, stride, W, y0, n, pal_lin, sc[0].lin, 3, nt)
                else:
                    _s2_source_rows(b, W, Cb, y0, n, bg, bg_lin, sc[0].lin, 3, nt)
                sc[0].n_in = n
                y0 += n
                if _s2_block(sc, 0, ns, y0 == H):
                    failed = 1
                    break
        if failed:
            raise MemoryError()
    finally:
        free(scratch)
        for s in range(ns):
            free(sc[s].lin)
            free(sc[s].xyb)
            free(sc[s].hb)
            free(sc[s].rowsums)
    for s in range(ns):
        npx = <double>(sc[s].W * sc[s].H)
        for c in range(3):
            avg[s][6 * c] = sc[s].sums[6 * c] / npx
            avg[s][6 * c + 1] = sqrt(sqrt(sc[s].sums[6 * c + 1] / npx))
            avg[s][6 * c + 2] = sc[s].sums[6 * c + 2] / npx
            avg[s][6 * c + 3] = sqrt(sqrt(sc[s].sums[6 * c + 3] / npx))
            avg[s][6 * c + 4] = sc[s].sums[6 * c + 4] / npx
            avg[s][6 * c + 5] = sqrt(sqrt(sc[s].sums[6 * c + 5] / npx))
    # libjxl's Msssim::Score: the weights run channel by channel over the scales computed,
    # for each norm: the SSIM term, then ringing, then lost detail.
    i = 0
    for c in range(3):
        for s in range(ns):
            for n_ in range(2):
                total += _S2_WEIGHT[i] * fabs(avg[s][6 * c + n_])
                total += _S2_WEIGHT[i + 1] * fabs(avg[s][6 * c + 2 + n_])
                total += _S2_WEIGHT[i + 2] * fabs(avg[s][6 * c + 4 + n_])
                i += 3
    v = total * 0.9562382616834844
    v = 2.326765642916932 * v - 0.020884521182843837 * v * v + 6.248496625763138e-05 * v * v * v
    if v > 0:
        return 100.0 - 10.0 * pow(v, 0.6276336467831387)
    return 100.0


def ssimulacra2(const uint8_t[:, :, ::1] a, const uint8_t[:, :, ::1] b, float background=0.5):
    """SSIMULACRA2 score of image ``b`` against the original ``a`` (8-bit sRGB).

    100 means identical; about 90 is visually lossless, 70 high quality, 50 medium.
    Images with 4 channels are composited over the grey ``background`` (an sRGB value in
    0..1) first, in the encoded values as libjxl's tool does; 3-channel images ignore it.

    Parameters
    ----------
    a, b : ndarray of uint8, shape (H, W, 3 or 4)
        C-contiguous images of the same height and width.
    background : float
        The grey the alpha channel is composited over.

    Returns
    -------
    float
        The score; NaN for images smaller than 8x8 pixels, where it is not defined.
    """
    cdef Py_ssize_t H = a.shape[0], W = a.shape[1]
    if b.shape[0] != H or b.shape[1] != W:
        raise ValueError(f"images differ in size: {a.shape[0]}x{a.shape[1]} vs {b.shape[0]}x{b.shape[1]}")
    if a.shape[2] not in (3, 4) or b.shape[2] not in (3, 4):
        raise ValueError("images need 3 or 4 channels")
    if H < _S2_MIN_SIDE or W < _S2_MIN_SIDE:
        return NAN
    return _s2_score(&a[0, 0, 0], a.shape[2], &b[0, 0, 0], b.shape[2], NULL, 0, NULL, H, W,
                     background)


def ssimulacra2_indexed(const uint8_t[:, :, ::1] a, const uint8_t[:, :] indices,
                        const uint8_t[:, ::1] palette, float background=0.5):
    """:func:`ssimulacra2` of ``a`` against ``palette[indices]``, without building that image.

    ``indices`` (H, W) may have rows apart in memory (each row contiguous); ``palette``
    is (k, 3 or 4) and every index must be below k.
    """
    cdef Py_ssize_t H = a.shape[0], W = a.shape[1], k = palette.shape[0], j, c
    cdef int Cp = palette.shape[1]
    cdef double al
    if indices.shape[0] != H or indices.shape[1] != W:
        raise ValueError(f"indices are {indices.shape[0]}x{indices.shape[1]}, the image {H}x{W}")
    if a.shape[2] not in (3, 4) or Cp not in (3, 4):
        raise ValueError("the image and the palette need 3 or 4 channels")
    if indices.strides[1] != 1:
        raise ValueError("index rows must be contiguous")
    if H < _S2_MIN_SIDE or W < _S2_MIN_SIDE:
        return NAN
    if np.asarray(indices).max() >= k:
        raise ValueError(f"an index is past the palette's {k} entries")
    pal = np.empty((256, 3), dtype=np.float32)
    cdef float[:, ::1] pv = pal
    for j in range(k):
        al = palette[j, 3] / 255.0 if Cp == 4 else 1.0
        for c in range(3):
            if al == 1.0:
                pv[j, c] = _SRGB_TO_LINEAR[palette[j, c]]
            else:
                pv[j, c] = <float>_srgb_decode(al * (palette[j, c] / 255.0) + (1.0 - al) * background)
    return _s2_score(&a[0, 0, 0], a.shape[2], NULL, 0, &indices[0, 0], indices.strides[0],
                     &pv[0, 0], H, W, background)
