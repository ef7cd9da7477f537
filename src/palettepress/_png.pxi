# PNG scanline unfiltering, in place: the decoder's fast path for 8-bit RGB and RGBA.


cdef inline uint8_t _paeth(int a, int b, int c) noexcept nogil:
    cdef int p = a + b - c
    cdef int pa = p - a if p > a else a - p
    cdef int pb = p - b if p > b else b - p
    cdef int pc = p - c if p > c else c - p
    if pa <= pb and pa <= pc:
        return <uint8_t>a
    if pb <= pc:
        return <uint8_t>b
    return <uint8_t>c


def png_unfilter(uint8_t[::1] buf, Py_ssize_t height, Py_ssize_t row_bytes, int bpp):
    """Undo the PNG row filters of ``height`` scanlines in ``buf`` (each a filter byte and
    ``row_bytes`` bytes, ``bpp`` bytes a pixel), in place: row r's pixels end at
    ``buf[r * row_bytes:(r + 1) * row_bytes]``, each row written behind the bytes still
    to be read. Returns False (the rows then undefined) on a filter type past 4.
    """
    cdef Py_ssize_t r, i
    cdef uint8_t f
    cdef uint8_t* s
    cdef uint8_t* x
    cdef const uint8_t* b
    cdef int bad = 0
    if buf.shape[0] < height * (row_bytes + 1) or row_bytes < bpp or bpp < 1:
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
            elif f == 1:
                for i in range(bpp):
                    x[i] = s[i]
                for i in range(bpp, row_bytes):
                    x[i] = <uint8_t>(s[i] + x[i - bpp])
            elif f == 2:
                for i in range(row_bytes):
                    x[i] = <uint8_t>(s[i] + b[i])
            elif f == 3:
                for i in range(bpp):
                    x[i] = <uint8_t>(s[i] + (b[i] >> 1))
                for i in range(bpp, row_bytes):
                    x[i] = <uint8_t>(s[i] + ((<int>x[i - bpp] + <int>b[i]) >> 1))
            elif f == 4:
                for i in range(bpp):
                    x[i] = <uint8_t>(s[i] + b[i])  # Paeth with a = c = 0 picks b
                for i in range(bpp, row_bytes):
                    x[i] = <uint8_t>(s[i] + _paeth(x[i - bpp], b[i], b[i - bpp]))
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
