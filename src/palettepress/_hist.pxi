# Distinct colours: an open-addressing hash table keyed by the packed RGBA value.

cdef inline uint32_t _pack(const uint8_t* p, int c) noexcept nogil:
    if c == 4:
        return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)
    return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>255 << 24)


cdef inline uint64_t _slot(uint32_t key, int shift) noexcept nogil:
    # Fibonacci hashing: the multiply spreads nearby colours over the whole table.
    return (<uint64_t>key * <uint64_t>11400714819323198485ULL) >> shift


cdef struct HashTable:
    uint32_t* keys
    int64_t* index      # -1 = empty slot, else position in insertion order
    uint64_t cap
    int shift
    int64_t n


cdef int _table_init(HashTable* t, uint64_t cap) noexcept nogil:
    cdef int shift = 64
    cdef uint64_t c = 1
    while c < cap:
        c <<= 1
        shift -= 1
    t.cap = c
    t.shift = shift
    t.n = 0
    t.keys = <uint32_t*>malloc(c * sizeof(uint32_t))
    t.index = <int64_t*>malloc(c * sizeof(int64_t))
    if t.keys == NULL or t.index == NULL:
        return -1
    memset(t.index, 0xFF, c * sizeof(int64_t))
    return 0


cdef void _table_free(HashTable* t) noexcept nogil:
    free(t.keys)
    free(t.index)
    t.keys = NULL
    t.index = NULL


cdef inline int64_t _table_find(const HashTable* t, uint32_t key) noexcept nogil:
    cdef uint64_t mask = t.cap - 1
    cdef uint64_t s = _slot(key, t.shift)
    while t.index[s] >= 0:
        if t.keys[s] == key:
            return t.index[s]
        s = (s + 1) & mask
    return -1


cdef inline int64_t _table_insert(HashTable* t, uint32_t key) noexcept nogil:
    """Index of key, inserting it when new (caller keeps the load factor below 1/2)."""
    cdef uint64_t mask = t.cap - 1
    cdef uint64_t s = _slot(key, t.shift)
    while t.index[s] >= 0:
        if t.keys[s] == key:
            return t.index[s]
        s = (s + 1) & mask
    t.keys[s] = key
    t.index[s] = t.n
    t.n += 1
    return t.n - 1


cdef int _table_grow(HashTable* t) noexcept nogil:
    cdef HashTable bigger
    cdef uint64_t s, mask, j
    if _table_init(&bigger, t.cap * 2) != 0:
        return -1
    mask = bigger.cap - 1
    for s in range(t.cap):
        if t.index[s] >= 0:
            j = _slot(t.keys[s], bigger.shift)
            while bigger.index[j] >= 0:
                j = (j + 1) & mask
            bigger.keys[j] = t.keys[s]
            bigger.index[j] = t.index[s]
    bigger.n = t.n
    _table_free(t)
    t[0] = bigger
    return 0


def histogram(const uint8_t[:, ::1] px, uint32_t mask=0xFFFFFFFF, bint sums=False,
              const uint64_t[::1] weights=None):
    """Distinct packed colours of ``px`` (N, C) with their pixel counts.

    Keys are ``R | G<<8 | B<<16 | A<<24`` (A = 255 for C = 3) after ``& mask``, in
    order of first appearance. With ``sums`` the per-key channel sums (N, C) uint64
    are returned too, so merged colours can be represented by their mean. ``weights``
    (N,) counts each row that many times (to coarsen a histogram of distinct colours).
    """
    cdef Py_ssize_t n = px.shape[0], i
    cdef int c = px.shape[1], ch
    cdef HashTable t
    cdef int64_t j
    cdef int64_t cap_counts = 1 << 16
    cdef uint64_t* counts = <uint64_t*>calloc(cap_counts, sizeof(uint64_t))
    cdef uint64_t* csum = NULL
    cdef uint32_t key
    cdef int failed = 0
    cdef bint weighted = weights is not None
    cdef uint64_t wi = 1
    # Sized for the usual case up front: rehashing a grown table costs more than the
    # cache misses of a larger one (measured on Kodak and USC-SIPI photos).
    if counts == NULL or _table_init(&t, _initial_slots(n)) != 0:
        free(counts)
        raise MemoryError()
    if sums:
        csum = <uint64_t*>calloc(cap_counts * 4, sizeof(uint64_t))
        if csum == NULL:
            free(counts)
            _table_free(&t)
            raise MemoryError()
    with nogil:
        for i in range(n):
            key = _pack(&px[i, 0], c) & mask
            j = _table_insert(&t, key)
            if j >= cap_counts:
                cap_counts *= 2
                counts = _grow_u64(counts, cap_counts // 2, cap_counts)
                if sums:
                    csum = _grow_u64(csum, cap_counts * 2, cap_counts * 4)
                if counts == NULL or (sums and csum == NULL):
                    failed = 1
                    break
            if weighted:
                wi = weights[i]
            counts[j] += wi
            if sums:
                for ch in range(c):
                    csum[j * 4 + ch] += wi * px[i, ch]
            if <uint64_t>t.n * 2 > t.cap:
                if _table_grow(&t) != 0:
                    failed = 1
                    break
    if failed:
        free(counts)
        free(csum)
        _table_free(&t)
        raise MemoryError()
    cdef Py_ssize_t m = t.n
    keys_out = np.empty(m, dtype=np.uint32)
    counts_out = np.empty(m, dtype=np.uint64)
    cdef uint32_t[::1] kv = keys_out
    cdef uint64_t[::1] cv = counts_out
    cdef uint64_t s
    for s in range(t.cap):
        if t.index[s] >= 0:
            kv[t.index[s]] = t.keys[s]
    for i in range(m):
        cv[i] = counts[i]
    sums_out = None
    cdef uint64_t[:, ::1] sv
    if sums:
        sums_out = np.empty((m, c), dtype=np.uint64)
        sv = sums_out
        for i in range(m):
            for ch in range(c):
                sv[i, ch] = csum[i * 4 + ch]
    free(counts)
    free(csum)
    _table_free(&t)
    return keys_out, counts_out, sums_out


cdef uint64_t* _grow_u64(uint64_t* p, int64_t old, int64_t new) noexcept nogil:
    cdef uint64_t* q = <uint64_t*>calloc(new, sizeof(uint64_t))
    if q != NULL:
        memcpy_u64(q, p, old)
    free(p)
    return q


cdef inline void memcpy_u64(uint64_t* dst, const uint64_t* src, int64_t n) noexcept nogil:
    cdef int64_t i
    for i in range(n):
        dst[i] = src[i]


def lookup(const uint8_t[:, ::1] px, const uint32_t[::1] keys, const uint8_t[::1] values,
           uint32_t mask=0xFFFFFFFF, out=None):
    """``values[position of pack(px[i]) & mask in keys]`` for every pixel, as uint8.

    Every masked pixel colour must be one of ``keys`` (the histogram of the same pixels).
    ``out`` is a new (N,) array, or one given: (N,), or (H, W) with H * W = N and rows
    that may lie apart in memory (each row contiguous), filled in row-major order.
    """
    cdef Py_ssize_t n = px.shape[0], i, r, x, rows, width
    cdef int c = px.shape[1]
    cdef Py_ssize_t m = keys.shape[0]
    if out is None:
        out = np.empty(n, dtype=np.uint8)
    cdef uint8_t[:, :] ov
    if out.ndim == 1:
        ov = out.reshape(1, -1)
    else:
        ov = out
    rows, width = ov.shape[0], ov.shape[1]
    if rows * width != n:
        raise ValueError(f"out has {rows * width} elements for {n} pixels")
    cdef HashTable t
    if _table_init(&t, 2 * m + 2) != 0:
        _table_free(&t)
        raise MemoryError()
    with nogil:
        for i in range(m):
            _table_insert(&t, keys[i])
    cdef int64_t j
    with nogil:
        if rows == 1:
            for i in prange(n, schedule="static", num_threads=_threads_for(n // 8)):
                j = _table_find(&t, _pack(&px[i, 0], c) & mask)
                ov[0, i] = values[j] if j >= 0 else 0
        else:
            for r in prange(rows, schedule="static", num_threads=_threads_for(n // 8)):
                for x in range(width):
                    j = _table_find(&t, _pack(&px[r * width + x, 0], c) & mask)
                    ov[r, x] = values[j] if j >= 0 else 0
    _table_free(&t)
    return out


def positions(const uint8_t[:, ::1] px, const uint32_t[::1] keys, uint32_t mask=0xFFFFFFFF):
    """Position in ``keys`` (int32, -1 when absent) of ``pack(px[i]) & mask`` for every row."""
    cdef Py_ssize_t n = px.shape[0], i
    cdef int c = px.shape[1]
    cdef Py_ssize_t m = keys.shape[0]
    cdef HashTable t
    if _table_init(&t, 2 * m + 2) != 0:
        _table_free(&t)
        raise MemoryError()
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] ov = out
    with nogil:
        for i in range(m):
            _table_insert(&t, keys[i])
        for i in prange(n, schedule="static", num_threads=_threads_for(n // 8)):
            ov[i] = <int32_t>_table_find(&t, _pack(&px[i, 0], c) & mask)
    _table_free(&t)
    return out


cdef inline uint64_t _initial_slots(Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t want = n if n < (1 << 18) else (1 << 18)
    return <uint64_t>(2 * want if want > (1 << 15) else (1 << 16))
