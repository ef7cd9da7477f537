# Distinct colours: an open-addressing hash table keyed by the packed RGBA value.

cdef inline uint32_t _pack(const uint8_t* p, int c) noexcept nogil:
    if c == 4:
        return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)
    return <uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>255 << 24)


cdef enum:
    # Pixels ahead whose slot is fetched while this one's is used: a photo's colours
    # overflow the caches, and each probe would otherwise wait for memory in turn.
    _AHEAD = 16


cdef inline uint64_t _slot(uint32_t key, int shift) noexcept nogil:
    # Fibonacci hashing: the multiply spreads nearby colours over the whole table.
    return (<uint64_t>key * <uint64_t>11400714819323198485ULL) >> shift


cdef struct Slot:
    uint32_t key
    int32_t index       # -1 = empty slot, else position in insertion order
    uint64_t count      # pixels (or weight) of the key, for the histogram


cdef struct HashTable:
    # The histogram's table. A slot holds the key, its position and its count together:
    # one cache line is all a probe reads (keys, positions and counts in three arrays
    # took three misses a pixel on a photo whose colours overflow the cache).
    Slot* slots
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
    t.slots = <Slot*>malloc(c * sizeof(Slot))
    if t.slots == NULL:
        return -1
    memset(t.slots, 0xFF, c * sizeof(Slot))
    return 0


cdef void _table_free(HashTable* t) noexcept nogil:
    free(t.slots)
    t.slots = NULL


cdef inline Slot* _table_add(HashTable* t, uint32_t key) noexcept nogil:
    """The slot of key, taken (count 0) when new (caller keeps the load factor below 1/2)."""
    cdef uint64_t mask = t.cap - 1
    cdef uint64_t s = _slot(key, t.shift)
    while t.slots[s].index >= 0:
        if t.slots[s].key == key:
            return &t.slots[s]
        s = (s + 1) & mask
    t.slots[s].key = key
    t.slots[s].index = <int32_t>t.n
    t.slots[s].count = 0
    t.n += 1
    return &t.slots[s]


cdef int _table_grow(HashTable* t) noexcept nogil:
    cdef HashTable bigger
    cdef uint64_t s, mask, j
    if _table_init(&bigger, t.cap * 2) != 0:
        return -1
    mask = bigger.cap - 1
    for s in range(t.cap):
        if t.slots[s].index >= 0:
            j = _slot(t.slots[s].key, bigger.shift)
            while bigger.slots[j].index >= 0:
                j = (j + 1) & mask
            bigger.slots[j] = t.slots[s]
    bigger.n = t.n
    _table_free(t)
    t[0] = bigger
    return 0


cdef struct IndexSlot:
    uint32_t key
    int32_t index       # -1 = empty slot, else the key's position


cdef struct IndexTable:
    # The lookups' table (a histogram's keys, looked up pixel by pixel): key and
    # position in one 8-byte slot, half a histogram slot, for the cache and for memory.
    IndexSlot* slots
    uint64_t cap
    int shift


cdef int _index_init(IndexTable* t, const uint32_t[::1] keys) noexcept nogil:
    """A table of ``keys`` (distinct), each at its position; -1 when out of memory."""
    cdef int shift = 64
    cdef uint64_t c = 1, s, mask
    cdef Py_ssize_t i, m = keys.shape[0]
    while c < <uint64_t>(2 * m + 2):
        c <<= 1
        shift -= 1
    t.cap = c
    t.shift = shift
    t.slots = <IndexSlot*>malloc(c * sizeof(IndexSlot))
    if t.slots == NULL:
        return -1
    memset(t.slots, 0xFF, c * sizeof(IndexSlot))
    mask = c - 1
    for i in range(m):
        s = _slot(keys[i], shift)
        while t.slots[s].index >= 0 and t.slots[s].key != keys[i]:
            s = (s + 1) & mask
        if t.slots[s].index < 0:  # a repeated key keeps its first position
            t.slots[s].key = keys[i]
            t.slots[s].index = <int32_t>i
    return 0


cdef inline int64_t _index_find(const IndexTable* t, uint32_t key) noexcept nogil:
    cdef uint64_t mask = t.cap - 1
    cdef uint64_t s = _slot(key, t.shift)
    while t.slots[s].index >= 0:
        if t.slots[s].key == key:
            return t.slots[s].index
        s = (s + 1) & mask
    return -1


def histogram(const uint8_t[:, ::1] px, uint32_t mask=0xFFFFFFFF, bint sums=False,
              const uint64_t[::1] weights=None, int32_t[::1] positions=None):
    """Distinct packed colours of ``px`` (N, C) with their pixel counts.

    Keys are ``R | G<<8 | B<<16 | A<<24`` (A = 255 for C = 3) after ``& mask``, in
    order of first appearance. With ``sums`` the per-key channel sums (N, C) uint64
    are returned too, so merged colours can be represented by their mean. ``weights``
    (N,) counts each row that many times (to coarsen a histogram of distinct colours).
    ``positions`` (N,), when given, receives each row's position in the keys (what
    :func:`positions` finds, without a second pass).
    """
    cdef Py_ssize_t n = px.shape[0], i
    cdef int c = px.shape[1], ch
    cdef HashTable t
    cdef bint positioned = positions is not None
    cdef Slot* slot
    cdef int64_t j
    cdef int64_t cap_sums = 1 << 16
    cdef uint64_t* csum = NULL
    cdef uint32_t key
    cdef int failed = 0
    cdef bint weighted = weights is not None
    cdef uint64_t wi = 1
    if positioned and positions.shape[0] != n:
        raise ValueError(f"positions has {positions.shape[0]} entries for {n} rows")
    # Sized for the usual case up front: rehashing a grown table costs more than the
    # cache misses of a larger one (measured on Kodak and USC-SIPI photos).
    if _table_init(&t, _initial_slots(n)) != 0:
        _table_free(&t)
        raise MemoryError()
    if sums:
        csum = <uint64_t*>calloc(cap_sums * 4, sizeof(uint64_t))
        if csum == NULL:
            _table_free(&t)
            raise MemoryError()
    with nogil:
        for i in range(n):
            if i + _AHEAD < n:
                PP_PREFETCH(&t.slots[_slot(_pack(&px[i + _AHEAD, 0], c) & mask, t.shift)])
            key = _pack(&px[i, 0], c) & mask
            slot = _table_add(&t, key)
            if weighted:
                wi = weights[i]
            slot.count += wi
            if positioned:
                positions[i] = slot.index
            if sums:
                j = slot.index
                if j >= cap_sums:
                    cap_sums *= 2
                    csum = _grow_u64(csum, cap_sums * 2, cap_sums * 4)
                    if csum == NULL:
                        failed = 1
                        break
                for ch in range(c):
                    csum[j * 4 + ch] += wi * px[i, ch]
            if <uint64_t>t.n * 2 > t.cap:
                if _table_grow(&t) != 0:
                    failed = 1
                    break
            if t.n >= 0x7FFFFFFF:  # positions are int32
                failed = 2
                break
    if failed:
        free(csum)
        _table_free(&t)
        if failed == 2:
            raise ValueError("more than 2**31 - 1 distinct colours")
        raise MemoryError()
    cdef Py_ssize_t m = t.n
    keys_out, counts_out = _table_arrays(&t)
    sums_out = None
    cdef uint64_t[:, ::1] sv
    if sums:
        sums_out = np.empty((m, c), dtype=np.uint64)
        sv = sums_out
        for i in range(m):
            for ch in range(c):
                sv[i, ch] = csum[i * 4 + ch]
    free(csum)
    _table_free(&t)
    return keys_out, counts_out, sums_out


cdef tuple _table_arrays(const HashTable* t):
    """The table's keys (uint32) and counts (uint64), in insertion order."""
    keys_out = np.empty(t.n, dtype=np.uint32)
    counts_out = np.empty(t.n, dtype=np.uint64)
    cdef uint32_t[::1] kv = keys_out
    cdef uint64_t[::1] cv = counts_out
    cdef uint64_t s
    with nogil:
        for s in range(t.cap):
            if t.slots[s].index >= 0:
                kv[t.slots[s].index] = t.slots[s].key
                cv[t.slots[s].index] = t.slots[s].count
    return keys_out, counts_out


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
    cdef IndexTable t
    if _index_init(&t, keys) != 0:
        free(t.slots)
        raise MemoryError()
    cdef int64_t j
    with nogil:
        if rows == 1:
            for i in prange(n, schedule="static", num_threads=_threads_for(n // 8)):
                j = _index_find(&t, _pack(&px[i, 0], c) & mask)
                ov[0, i] = values[j] if j >= 0 else 0
        else:
            for r in prange(rows, schedule="static", num_threads=_threads_for(n // 8)):
                for x in range(width):
                    j = _index_find(&t, _pack(&px[r * width + x, 0], c) & mask)
                    ov[r, x] = values[j] if j >= 0 else 0
    free(t.slots)
    return out


def positions(const uint8_t[:, ::1] px, const uint32_t[::1] keys, uint32_t mask=0xFFFFFFFF):
    """Position in ``keys`` (int32, -1 when absent) of ``pack(px[i]) & mask`` for every row."""
    cdef Py_ssize_t n = px.shape[0], i
    cdef int c = px.shape[1]
    cdef Py_ssize_t m = keys.shape[0]
    cdef IndexTable t
    if _index_init(&t, keys) != 0:
        free(t.slots)
        raise MemoryError()
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] ov = out
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads_for(n // 8)):
            ov[i] = <int32_t>_index_find(&t, _pack(&px[i, 0], c) & mask)
    free(t.slots)
    return out


cdef inline int _popcount(uint64_t v) noexcept nogil:
    v = v - ((v >> 1) & 0x5555555555555555ULL)
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL)
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL
    return <int>((v * 0x0101010101010101ULL) >> 56)


def drop_counts(const uint8_t[:, ::1] px):
    """How many distinct colours the RGB rows ``px`` (N, 3) leave when the ``d`` lowest
    bits of each channel are dropped, for d = 1..7 (int64 (8,), entry 0 unused): one pass
    setting bits in seven bitmaps (the largest 256 KB), where a histogram per ``d`` hashes
    every colour again."""
    cdef Py_ssize_t n = px.shape[0], i, total = 0
    cdef Py_ssize_t words[8]
    cdef int d, b
    cdef uint32_t key
    cdef uint64_t* maps[8]
    out = np.zeros(8, dtype=np.int64)
    cdef int64_t[::1] ov = out
    if px.shape[1] != 3:
        raise ValueError("drop_counts takes RGB rows")
    for d in range(1, 8):
        words[d] = (<Py_ssize_t>1 << (3 * (8 - d))) // 64 + 1  # a bit per key of 3 (8 - d) bits
        total += words[d]
    cdef uint64_t* mem = <uint64_t*>calloc(total, sizeof(uint64_t))
    if mem == NULL:
        raise MemoryError()
    maps[1] = mem
    for d in range(2, 8):
        maps[d] = maps[d - 1] + words[d - 1]
    with nogil:
        for i in range(n):
            for d in range(1, 8):
                b = 8 - d
                key = ((<uint32_t>px[i, 0] >> d) | ((<uint32_t>px[i, 1] >> d) << b)
                       | ((<uint32_t>px[i, 2] >> d) << (2 * b)))
                maps[d][key >> 6] |= (<uint64_t>1) << (key & 63)
        for d in range(1, 8):
            for i in range(words[d]):
                ov[d] += _popcount(maps[d][i])
    free(mem)
    return out


cdef inline uint64_t _initial_slots(Py_ssize_t n) noexcept nogil:
    # Room for a colour in 32 pixels, at least 2**16 and at most 2**18 colours (fewer
    # than pixels): photos of 0.15-0.4 MP show 13-72 thousand colours, 12 MP ones about
    # 100 thousand. A table twice as large as that (8 MB for any image over 256
    # thousand pixels before) took 4.4 ms more of a CBSD68 photo's first histogram in a
    # process, whose pages are new (2.0 ms the second time); 2 MB took 3.0 and 1.8 ms.
    # Growing costs more than it saves on large images: 12 MP, 74 ms against 67.
    cdef Py_ssize_t want = n >> 5
    want = (1 << 16) if want < (1 << 16) else ((1 << 18) if want > (1 << 18) else want)
    want = n if n < want else want
    return <uint64_t>(2 * want if want > (1 << 15) else (1 << 16))


# Bayer's 8x8 threshold matrix (ordered dithering): the thresholds 0..63 spread evenly in
# every 2x2, 4x4 and 8x8 block; a repeating pattern, which deflate compresses well.
cdef uint8_t _BAYER8[64]
_BAYER8[:] = [0, 32, 8, 40, 2, 34, 10, 42, 48, 16, 56, 24, 50, 18, 58, 26,
              12, 44, 4, 36, 14, 46, 6, 38, 60, 28, 52, 20, 62, 30, 54, 22,
              3, 35, 11, 43, 1, 33, 9, 41, 51, 19, 59, 27, 49, 17, 57, 25,
              15, 47, 7, 39, 13, 45, 5, 37, 63, 31, 55, 23, 61, 29, 53, 21]


def bayer8():
    """Bayer's 8x8 threshold matrix (uint8, 0 to 63) as the ordered dithering reads it,
    row by row: for the other patterns drawn by it (GIF's alpha)."""
    return np.array(<uint8_t[:64]>_BAYER8, dtype=np.uint8).reshape(8, 8)


def lookup_pattern(const uint8_t[:, ::1] px, const uint32_t[::1] keys, const uint8_t[:, ::1] mixes,
                   uint32_t mask, out):
    """Ordered dithering through the histogram: pixel (y, x) of colour j (its position in
    ``keys``, as :func:`lookup` finds it) takes ``mixes[j, B[y % 8, x % 8] * m // 64]``,
    B being Bayer's 8x8 matrix and m the mix length (a divisor of 64).

    ``px`` (H * W, C) are the pixels in row-major order, ``out`` (H, W) uint8 with
    contiguous rows. Every masked pixel colour must be one of ``keys``. Returns ``out``.
    """
    cdef uint8_t[:, :] ov = out
    cdef Py_ssize_t rows = ov.shape[0], width = ov.shape[1], r, x
    cdef Py_ssize_t m = keys.shape[0]
    cdef int c = px.shape[1], length = mixes.shape[1], shift = 0
    if rows * width != px.shape[0] or mixes.shape[0] != m or ov.strides[1] != 1:
        raise ValueError("pixels, keys, mixes and out do not fit together")
    if length < 1 or length > 64 or 64 % length:
        raise ValueError(f"mixes of {length} entries: the length must divide 64")
    while (64 >> shift) > length:
        shift += 1
    cdef IndexTable t
    if _index_init(&t, keys) != 0:
        free(t.slots)
        raise MemoryError()
    cdef int64_t j
    with nogil:
        for r in prange(rows, schedule="static", num_threads=_threads_for(rows * width // 8)):
            for x in range(width):
                j = _index_find(&t, _pack(&px[r * width + x, 0], c) & mask)
                ov[r, x] = mixes[j, _BAYER8[(r & 7) * 8 + (x & 7)] >> shift] if j >= 0 else 0
    free(t.slots)
    return out


cdef inline uint64_t _slot64(uint64_t key, int shift) noexcept nogil:
    return (key * <uint64_t>11400714819323198485ULL) >> shift


cdef uint64_t _PAIR_EMPTY = 0xFFFFFFFFFFFFFFFFULL  # never a key: keys use 40 bits


cdef struct _PairTable:
    uint64_t* keys      # per slot, _PAIR_EMPTY when empty
    uint32_t* counts    # per slot (at most 2**32 - 1 pixels of one pair: the size limits keep
                        # images far below)
    uint64_t cap
    int shift
    int64_t n


cdef int _pt_init(_PairTable* t, uint64_t cap) noexcept nogil:
    cdef uint64_t s
    t.cap = 1
    t.shift = 64
    while t.cap < cap:
        t.cap <<= 1
        t.shift -= 1
    t.n = 0
    t.keys = <uint64_t*>malloc(t.cap * sizeof(uint64_t))
    t.counts = <uint32_t*>calloc(t.cap, sizeof(uint32_t))
    if t.keys == NULL or t.counts == NULL:
        return -1
    for s in range(t.cap):
        t.keys[s] = _PAIR_EMPTY
    return 0


cdef void _pt_free(_PairTable* t) noexcept nogil:
    free(t.keys)
    free(t.counts)
    t.keys = NULL
    t.counts = NULL


cdef int _pt_add(_PairTable* t, uint64_t key, uint32_t count) noexcept nogil:
    """Add ``count`` to pair ``key``; -1 when out of memory. The table doubles before it
    is half full."""
    cdef uint64_t mask = t.cap - 1, s, j
    cdef _PairTable g
    s = _slot64(key, t.shift)
    while t.keys[s] != _PAIR_EMPTY and t.keys[s] != key:
        s = (s + 1) & mask
    if t.keys[s] == key:
        t.counts[s] += count
        return 0
    if <uint64_t>(t.n + 1) * 2 > t.cap:
        if _pt_init(&g, t.cap * 2) != 0:
            _pt_free(&g)
            return -1
        for j in range(t.cap):
            if t.keys[j] != _PAIR_EMPTY:
                s = _slot64(t.keys[j], g.shift)
                while g.keys[s] != _PAIR_EMPTY:
                    s = (s + 1) & (g.cap - 1)
                g.keys[s] = t.keys[j]
                g.counts[s] = t.counts[j]
        g.n = t.n
        _pt_free(t)
        t[0] = g
        return _pt_add(t, key, count)
    t.keys[s] = key
    t.counts[s] = count
    t.n += 1
    return 0


cdef enum:
    # Images up to this many pixels count their pairs in two bands at once (the second
    # table merged into the first); larger ones in one, whose table alone is smaller.
    _PAIR_PARALLEL_MAX = 1 << 24


cdef int _pt_count_rows(_PairTable* t, const uint8_t* px, int c, const uint8_t* idx,
                        Py_ssize_t stride, Py_ssize_t r0, Py_ssize_t r1,
                        Py_ssize_t width) noexcept nogil:
    """Count the pairs of rows r0 .. r1 into ``t``; -1 when out of memory."""
    cdef Py_ssize_t r, x
    cdef uint64_t key, run_key = 0
    cdef uint32_t run = 0
    for r in range(r0, r1):
        for x in range(width):
            key = <uint64_t>_pack(px + (r * width + x) * c, c) | (<uint64_t>idx[r * stride + x] << 32)
            if run and key == run_key:
                run = run + 1  # runs of one pair (flat areas) cost one lookup
                continue
            if run and _pt_add(t, run_key, run) < 0:
                return -1
            run_key = key
            run = 1
    if run and _pt_add(t, run_key, run) < 0:
        return -1
    return 0


cdef int _pt_count_bands(_PairTable* t, int nb, const uint8_t* px, int c, const uint8_t* idx,
                         Py_ssize_t stride, Py_ssize_t rows, Py_ssize_t width) noexcept nogil:
    """Count the pairs of ``nb`` bands of rows into tables t[0 .. nb), then the second's
    into the first, on this thread; -1 when out of memory."""
    cdef int b
    for b in range(nb):
        if _pt_count_rows(&t[b], px, c, idx, stride, b * rows // nb, (b + 1) * rows // nb, width) < 0:
            return -1
    return _pt_merge(t, nb)


cdef int _pt_merge(_PairTable* t, int nb) noexcept nogil:
    """With two tables, add the second's pairs to the first; -1 when out of memory."""
    cdef uint64_t s
    if nb == 2:
        for s in range(t[1].cap):
            if t[1].keys[s] != _PAIR_EMPTY and _pt_add(&t[0], t[1].keys[s], t[1].counts[s]) < 0:
                return -1
    return 0


def pair_histogram(const uint8_t[:, ::1] px, const uint8_t[:, :] indices, Py_ssize_t expected=0,
                   beside=None):
    """Distinct (pixel colour, palette index) pairs of an image and its remap, with counts.

    ``px`` (H * W, C) are the pixels in row-major order, ``indices`` (H, W) their palette
    indices (rows contiguous, possibly apart). Returns ``keys`` (uint64: the packed colour
    as in :func:`histogram`, the index in bits 32-39) and ``counts`` (uint64), in the
    table's order (the same for the same image and indices, whatever the thread count).
    Metrics of a dithered image are sums over these pairs, not over pixels: a dithered
    12-megapixel photo has about one pair in 70 pixels, and the table holds 12 bytes a
    slot. Up to 16 megapixels the two halves of the rows are counted at once.
    ``expected``, when known, is about how many pairs there are (a dithered photo has
    about one per distinct colour): the tables start that large instead of doubling their
    way there (0.86-0.89x the time on CBSD68 and Kodak photos).

    ``beside``, when given, is a callable run on this thread while the pairs are counted,
    both halves in turn, on the second core (the same tables); the return value is then
    ``(keys, counts, beside())``, and what it raises is raised after the count.
    """
    cdef Py_ssize_t rows = indices.shape[0], width = indices.shape[1], i, b
    cdef int c = px.shape[1], failed = 0, nb, tid
    cdef uint64_t s
    cdef _PairTable t[2]
    cdef _PairTable loc
    cdef const uint8_t* pp = NULL
    cdef const uint8_t* ip = NULL
    cdef Py_ssize_t stride = indices.strides[0]
    cdef bint alone
    cdef int count_failed[1]
    count_failed[0] = 0
    outcome = []  # beside's (returned, value), filled in the parallel block
    if rows * width != px.shape[0] or (width > 0 and indices.strides[1] != 1):
        raise ValueError("pixels and indices do not fit together")
    if <uint64_t>rows * <uint64_t>width >= <uint64_t>0xFFFFFFFF:
        raise ValueError("too many pixels to count in 32 bits")
    nb = 2 if rows * width <= _PAIR_PARALLEL_MAX and rows >= 2 else 1
    for b in range(2):
        t[b].keys = NULL
        t[b].counts = NULL
    if rows and width:
        pp = &px[0, 0]
        ip = &indices[0, 0]
    try:
        for b in range(nb):
            # Room for the band's pairs (the first table takes the second's too) at the
            # load the tables keep, below a half.
            if _pt_init(&t[b], max(1 << 15, (2 * expected) // (b + 1))) != 0:
                raise MemoryError()
        if beside is not None:
            with nogil, parallel(num_threads=min(2, omp_get_max_threads())):
                tid = omp_get_thread_num()
                alone = omp_get_num_threads() < 2
                if tid == 0:
                    with gil:
                        _run_beside(beside, outcome)
                if (tid == 1 or alone) and pp != NULL:
                    if _pt_count_bands(t, nb, pp, c, ip, stride, rows, width) < 0:
                        count_failed[0] = 1
            failed = count_failed[0]
        elif pp != NULL:
            with nogil:
                for b in prange(nb, schedule="static", num_threads=min(nb, omp_get_max_threads())):
                    # A private copy of the band's table: the two headers share a cache
                    # line, which two threads updating would pass to and fro.
                    loc = t[b]
                    if _pt_count_rows(&loc, pp, c, ip, stride, b * rows // nb, (b + 1) * rows // nb,
                                      width) < 0:
                        failed += 1
                    t[b] = loc
                if not failed and _pt_merge(t, nb) < 0:
                    failed = 1
        value = _beside_value(outcome) if beside is not None else None
        if failed:
            raise MemoryError()
        keys_out = np.empty(t[0].n, dtype=np.uint64)
        counts_out = np.empty(t[0].n, dtype=np.uint64)
        kv = <uint64_t*>cnp.PyArray_DATA(keys_out)
        cv = <uint64_t*>cnp.PyArray_DATA(counts_out)
        i = 0
        for s in range(t[0].cap):
            if t[0].keys[s] != _PAIR_EMPTY:
                kv[i] = t[0].keys[s]
                cv[i] = t[0].counts[s]
                i += 1
        if beside is not None:
            return keys_out, counts_out, value
        return keys_out, counts_out
    finally:
        for b in range(2):
            _pt_free(&t[b])


def group_means(const int32_t[::1] group, Py_ssize_t m, const float[:, ::1] x,
                const double[::1] w):
    """The weighted mean point of each of ``m`` groups, and each group's weight.

    ``group`` (n,) is each point's group (every group has a point of positive weight),
    ``x`` (n, d) the points, ``w`` (n,) their weights. Returns ``(means float32 (m, d),
    weights float64 (m,))``: the sums taken in double in point order, as
    ``np.bincount(group, weights=w * x[:, q])`` takes them, in one pass over the points.
    """
    cdef Py_ssize_t n = x.shape[0], i, g
    cdef int d = x.shape[1], q
    if group.shape[0] != n or w.shape[0] != n or d > 8:
        raise ValueError("group, points and weights do not fit together")
    wg = np.zeros(m, dtype=np.float64)
    sums = np.zeros((m, d), dtype=np.float64)
    means = np.empty((m, d), dtype=np.float32)
    cdef double[::1] wv = wg
    cdef double[:, ::1] sv = sums
    cdef float[:, ::1] mv = means
    cdef int bad = 0
    with nogil:
        for i in range(n):
            g = group[i]
            if g < 0 or g >= m:
                bad = 1
                break
            wv[g] += w[i]
            for q in range(d):
                sv[g, q] += w[i] * <double>x[i, q]
        if not bad:
            for g in range(m):
                for q in range(d):
                    mv[g, q] = <float>(sv[g, q] / wv[g])
    if bad:
        raise ValueError(f"a group index outside 0..{m - 1}")
    return means, wg
