# PNG scanline unfiltering, in place: the decoder's fast path for 8-bit RGB and RGBA.


cdef inline int _paeth_select(int a, int b, int c) noexcept nogil:
    # The Paeth predictor, without branches (on a photo its choice is a coin toss):
    # |p - a| = |b - c|, |p - b| = |a - c|, |p - c| = |a + b - 2c|, picked by selects.
    cdef int pa = b - c
    cdef int pb = a - c
    cdef int pc = a + b - 2 * c
    pa = -pa if pa < 0 else pa
    pb = -pb if pb < 0 else pb
    pc = -pc if pc < 0 else pc
    cdef int bc = b if pb <= pc else c
    return a if (pa <= pb) & (pa <= pc) else bc


cdef inline void _unfilter_pixels(uint8_t f, uint8_t* x, const uint8_t* s, const uint8_t* b,
                                  Py_ssize_t n, int bpp) noexcept nogil:
    """Sub (1), Average (3) or Paeth (4) of a row of ``n`` bytes, ``bpp`` (1 to 4) a
    pixel: each channel's left and upper-left neighbours stay in registers from one pixel
    to the next, where reading them back from the row just written waits on each store in
    turn (0.45-0.55x the unfiltering time of RGB photos)."""
    cdef int a[4]
    cdef int c[4]
    cdef int q, v, up
    cdef Py_ssize_t i
    for q in range(bpp):
        a[q] = 0
        c[q] = 0
    i = 0
    while i < n:
        for q in range(bpp):
            up = b[i + q]
            if f == 1:
                v = s[i + q] + a[q]
            elif f == 3:
                v = s[i + q] + ((a[q] + up) >> 1)
            else:
                v = s[i + q] + _paeth_select(a[q], up, c[q])
            v = v & 255
            x[i + q] = <uint8_t>v
            a[q] = v
            c[q] = up
        i += bpp


def png_unfilter(uint8_t[::1] buf, Py_ssize_t height, Py_ssize_t row_bytes, int bpp):
    """Undo the PNG row filters of ``height`` scanlines in ``buf`` (each a filter byte and
    ``row_bytes`` bytes, whole pixels of ``bpp`` bytes, 1 to 4; else ValueError), in
    place: row r's pixels end at ``buf[r * row_bytes:(r + 1) * row_bytes]``, each row
    written behind the bytes still to be read. Returns False (the rows then undefined) on
    a filter type past 4.
    """
    cdef Py_ssize_t r, i
    cdef uint8_t f
    cdef uint8_t* s
    cdef uint8_t* x
    cdef const uint8_t* b
    cdef int bad = 0
    if not 1 <= bpp <= 4:
        raise ValueError("1 to 4 bytes a pixel")
    if row_bytes % bpp:
        raise ValueError("rows of whole pixels")
    if buf.shape[0] < height * (row_bytes + 1) or row_bytes < bpp:
        raise ValueError("the buffer is shorter than its scanlines")
    zero = np.zeros(row_bytes, dtype=np.uint8)
    cdef uint8_t[::1] zv = zero
    with nogil:
        for r in range(height):
            s = &buf[r * (row_bytes + 1) + 1]
            x = &buf[r * row_bytes]
            b = x - row_bytes if r else &zv[0]  # the row above, already unfiltered
            f = s[-1]
            if f == 0:
                memmove(x, s, row_bytes)
            elif f == 2:
                for i in range(row_bytes):
                    x[i] = <uint8_t>(s[i] + b[i])
            elif f == 1 or f == 3 or f == 4:
                # The pixel widths of RGB and RGBA as constants, for the compiler.
                if bpp == 3:
                    _unfilter_pixels(f, x, s, b, row_bytes, 3)
                elif bpp == 4:
                    _unfilter_pixels(f, x, s, b, row_bytes, 4)
                else:
                    _unfilter_pixels(f, x, s, b, row_bytes, bpp)
            else:
                bad = 1
                break
    return not bad


def flex_runs(const uint8_t[:, ::1] indices, const uint8_t[:, ::1] flex, int transparent):
    """Indices (a new uint8 array like ``indices``) where each pixel that ``flex`` marks
    takes, of its index and ``transparent`` (both show the same), the value of the pixel
    to its left when that is one of them, else ``transparent``: longer runs of one byte,
    which deflate matches further.
    """
    cdef Py_ssize_t h = indices.shape[0], w = indices.shape[1], y, x
    if flex.shape[0] != h or flex.shape[1] != w:
        raise ValueError("flex must have the shape of indices")
    out = np.empty((h, w), dtype=np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef uint8_t left, v, t = <uint8_t>transparent
    with nogil:
        for y in range(h):
            left = t
            for x in range(w):
                v = indices[y, x]
                if flex[y, x] and v != left:
                    v = t
                ov[y, x] = v
                left = v
    return out


cdef inline int _residual(int f, int x, int a, int b, int c) noexcept nogil:
    # Filter f's (1 to 4) byte for x (left a, up b, upper-left c), one byte a pixel.
    if f == 1:
        return (x - a) & 255
    if f == 2:
        return (x - b) & 255
    if f == 3:
        return (x - ((a + b) >> 1)) & 255
    return (x - _paeth_select(a, b, c)) & 255


cdef inline int _signed_size(int d) noexcept nogil:
    # |d| of the byte d & 255 read as signed, without branches.
    cdef int s = <int><int8_t>(d & 255)
    cdef int m = s >> 31
    return (s ^ m) - m


def png_filter_minsum(const uint8_t[:, ::1] rows, uint8_t[:, ::1] lines, int above=0):
    """PNG scanlines of ``rows`` (one byte a pixel) into ``lines`` (H - above, W + 1): each
    row under the filter (0-4) whose bytes, read as signed, sum smallest in magnitude (the
    lowest filter type on a tie), its type in the row's first byte. The first ``above``
    rows (0 or 1) are the row above the first to filter: read, not written."""
    cdef Py_ssize_t h = rows.shape[0], w = rows.shape[1], y, i
    cdef int f, best, a, b, c, v
    cdef long long sums[5]
    cdef long long s0, s1, s2, s3, s4
    cdef long long least
    if above not in (0, 1) or lines.shape[0] != h - above or lines.shape[1] != w + 1:
        raise ValueError("lines must be (H - above, W + 1), above 0 or 1")
    cdef uint8_t[::1] zero = np.zeros(max(w, 1), dtype=np.uint8)
    cdef const uint8_t* up
    cdef const uint8_t* x
    cdef uint8_t* out
    with nogil:
        for y in range(above, h):
            x = &rows[y, 0] if w else NULL
            up = &rows[y - 1, 0] if y and w else &zero[0]
            s0 = s1 = s2 = s3 = s4 = 0
            if w:  # the first pixel has no left neighbours: Sub and Paeth see zeros
                v = x[0]
                b = up[0]
                s0 = _signed_size(v)
                s1 = s0
                s2 = _signed_size(v - b)
                s3 = _signed_size(v - (b >> 1))
                s4 = _signed_size(v - _paeth_select(0, b, 0))
            for i in range(1, w):  # neighbours read from the rows: the loop vectorises
                v = x[i]
                a = x[i - 1]
                b = up[i]
                c = up[i - 1]
                s0 += _signed_size(v)
                s1 += _signed_size(v - a)
                s2 += _signed_size(v - b)
                s3 += _signed_size(v - ((a + b) >> 1))
                s4 += _signed_size(v - _paeth_select(a, b, c))
            sums[0], sums[1], sums[2], sums[3], sums[4] = s0, s1, s2, s3, s4
            best = 0
            least = sums[0]
            for f in range(1, 5):
                if sums[f] < least:
                    best, least = f, sums[f]
            out = &lines[y - above, 0]
            out[0] = <uint8_t>best
            if best == 0:
                memcpy(out + 1, x, w)
            else:
                a = 0
                c = 0
                for i in range(w):
                    b = up[i]
                    out[i + 1] = <uint8_t>_residual(best, x[i], a, b, c)
                    a = x[i]
                    c = b
