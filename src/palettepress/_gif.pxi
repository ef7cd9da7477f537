# GIF's LZW compression of palette indices, with pixels that may take either of two codes.
#
# A pixel of an animation frame that shows the same colour as the frame before it can be
# written as the transparent index (the old pixel shows through) or, when the frame's
# palette holds its colour, as that colour's index: the decoded animation is the same.
# Such "either" pixels let the encoder follow whichever string its dictionary already
# holds, so runs of old pixels cost almost nothing wherever they lie.

cdef enum:
    _LZW_CODES = 4096   # GIF's largest dictionary (12-bit codes)
    _LZW_WINDOW = 2048  # pixels between looks at the rate once the dictionary is full

# Once the dictionary is full, ``clearing`` 1 clears it when the bits spent per pixel over
# the last _LZW_WINDOW pixels are this much above the best such rate since it filled: the
# strings it holds no longer fit the image. Which of that, clearing at once (as most
# encoders do) and never clearing compresses best depends on the image; the GIF writer
# tries them.
cdef double _LZW_WORSE = 1.05


cdef struct _BitWriter:
    uint8_t* data
    Py_ssize_t size
    Py_ssize_t cap
    uint64_t acc
    int nbits
    int failed


cdef inline void _put_code(_BitWriter* w, int code, int width) noexcept nogil:
    # Codes are packed least significant bit first, as GIF wants.
    cdef uint8_t* grown
    w.acc |= (<uint64_t>code) << w.nbits
    w.nbits += width
    while w.nbits >= 8:
        if w.size == w.cap:
            grown = <uint8_t*>realloc(w.data, 2 * w.cap)
            if grown == NULL:
                w.failed = 1
                return
            w.data = grown
            w.cap = 2 * w.cap
        w.data[w.size] = <uint8_t>(w.acc & 0xFF)
        w.size += 1
        w.acc >>= 8
        w.nbits -= 8


cdef inline int _either(const uint8_t* flex, Py_ssize_t i) noexcept nogil:
    return flex != NULL and flex[i] != 0


cdef inline int _extends(const int16_t* child, int code, int sym, int alt) noexcept nogil:
    # Whether the string ``code`` continues with ``sym`` (or, when alt >= 0, with ``alt``).
    if child[code * 256 + sym] >= 0:
        return 1
    return alt >= 0 and child[code * 256 + alt] >= 0


cdef struct _Dictionary:
    int32_t* used     # the keys set since the last clearing
    int n_used
    int nxt           # the next free code
    int width         # bits a code
    int min_code_size
    int eoi
    Py_ssize_t since  # the rate watch, once the dictionary is full
    Py_ssize_t bits_then
    double best_rate


cdef inline void _learn(int16_t* child, _Dictionary* d, _BitWriter* w, int key, Py_ssize_t pos,
                        int clearing) noexcept nogil:
    # A string written at pixel ``pos`` (``key``: its code * 256 + the next string's first
    # symbol) joins the dictionary; a full one is cleared as ``clearing`` says.
    cdef Py_ssize_t bits
    cdef double rate
    if d.nxt < _LZW_CODES:
        child[key] = <int16_t>d.nxt
        d.used[d.n_used] = key
        d.n_used += 1
        d.nxt += 1
        if d.nxt > (1 << d.width) and d.width < 12:
            d.width += 1
        if d.nxt == _LZW_CODES:  # full: watch the rate from here
            d.since, d.bits_then, d.best_rate = pos, w.size * 8 + w.nbits, 1e30
    elif clearing == 0 or (clearing == 1 and pos - d.since >= _LZW_WINDOW):
        bits = w.size * 8 + w.nbits
        rate = (bits - d.bits_then) / <double>(max(pos - d.since, 1))
        d.since, d.bits_then = pos, bits
        if rate < d.best_rate and clearing == 1:
            d.best_rate = rate
        elif clearing == 0 or rate > _LZW_WORSE * d.best_rate:
            _clear(child, d, w)


cdef inline int _after_last(_Dictionary* d) noexcept nogil:
    # The width of the code after the last string's (a clear or the end code). Decoders
    # learn each string one code later than the encoder (they need the next string's
    # first symbol), so on reading the last string they learn the entry the encoder
    # already counted in ``nxt``, and widen their codes when that fills the width.
    if d.nxt == (1 << d.width) and d.width < 12:
        return d.width + 1
    return d.width


cdef inline void _clear(int16_t* child, _Dictionary* d, _BitWriter* w) noexcept nogil:
    # The clear code after a string the dictionary has learnt from (``nxt`` counts the
    # entry it added): the dictionary holds the single symbols again.
    cdef int c
    _put_code(w, d.eoi - 1, d.width)
    for c in range(d.n_used):
        child[d.used[c]] = -1
    d.n_used = 0
    d.nxt = d.eoi + 1
    d.width = d.min_code_size + 1


cdef Py_ssize_t _longest(const int16_t* child, const uint8_t* px, const uint8_t* flexp,
                         Py_ssize_t j, Py_ssize_t n, int node, int transparent,
                         int* end_node, int* budget) noexcept nogil:
    # The furthest position the string ``node`` (which ends just before pixel j) reaches
    # through the dictionary, each either pixel taking whichever of its two symbols goes
    # further; the string that gets there goes to end_node. A depth-first search, the
    # pixel's own symbol first (so the first path tried is the greedy one), over at most
    # ``budget`` dictionary nodes a string: long runs of either pixels where both symbols
    # continue would otherwise branch without end.
    cdef Py_ssize_t best = j, got
    cdef int c, reached = node, sym, alt
    end_node[0] = node
    while j < n:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        sym = px[j]
        alt = transparent if _either(flexp, j) and sym != transparent else -1
        c = child[node * 256 + sym]
        if alt >= 0 and child[node * 256 + alt] >= 0:
            if c >= 0:
                # Both continue: search the pixel's own symbol's branch, then go on along
                # the transparent one's.
                got = _longest(child, px, flexp, j + 1, n, c, transparent, &reached, budget)
                if got > best:
                    best, end_node[0] = got, reached
            c = child[node * 256 + alt]
        if c < 0:
            break
        node = c
        j += 1
        if j > best:
            best, end_node[0] = j, node
    return best


cdef int _start(const int16_t* child, const uint8_t* px, const uint8_t* flexp, Py_ssize_t j,
                Py_ssize_t n, int transparent, int search) noexcept nogil:
    # The symbol a string starts with at pixel j: its own, or for an either pixel the one
    # whose string reaches further (the transparent one on a tie: old pixels come in runs).
    cdef int sym = px[j], node
    cdef int budget
    cdef Py_ssize_t a, b
    if not _either(flexp, j) or sym == transparent:
        return sym
    budget = search
    a = _longest(child, px, flexp, j + 1, n, sym, transparent, &node, &budget)
    budget = search
    b = _longest(child, px, flexp, j + 1, n, transparent, transparent, &node, &budget)
    return sym if a > b else transparent


def gif_lzw(indices, flex, int transparent, int min_code_size, int clearing=1, int search=0,
            Py_ssize_t restart=0):
    """The LZW-compressed image data of a GIF frame (the code stream packed into bytes,
    without the sub-block framing): ``indices`` (H, W) uint8 with contiguous rows.

    ``flex``, when given, is an (H, W) uint8 array: where it is nonzero the pixel may be
    written as its index or as ``transparent``: with ``search`` 0, whichever continues
    the string the encoder is matching (one pixel of look-ahead breaks ties); otherwise
    each code is the longest string the dictionary holds there, found by a search of at
    most ``search`` dictionary strings (see ``_longest``). ``min_code_size`` is the
    frame's LZW minimum code size (2 to 8; every index must be below
    ``1 << min_code_size``). A full dictionary is cleared at once (``clearing`` 0), when
    the rate gets worse (1, see ``_LZW_WORSE``) or never (2); ``restart`` > 0 also clears
    it before every ``restart``-th pixel (no string crosses one), as ``dither`` with an
    LZW slack assumes of each strip.
    """
    cdef const uint8_t[:, :] iv = indices
    cdef const uint8_t[:, :] fv
    cdef Py_ssize_t h = iv.shape[0], wd = iv.shape[1], n = h * wd, i, y, x
    cdef bint has_flex = flex is not None
    if has_flex:
        fv = flex
        if fv.shape[0] != h or fv.shape[1] != wd or fv.strides[1] != 1:
            raise ValueError("flex must be an (H, W) array with contiguous rows like indices")
    if iv.strides[1] != 1:
        raise ValueError("indices must have contiguous rows")
    if not 2 <= min_code_size <= 8:
        raise ValueError(f"min_code_size must be from 2 to 8, got {min_code_size}")
    if has_flex and not 0 <= transparent < (1 << min_code_size):
        raise ValueError("the transparent index does not fit the code size")
    # Rows may lie apart in memory: gather them into one run first.
    flat = np.empty(n, dtype=np.uint8)
    cdef uint8_t[::1] px = flat
    flat_flex = np.zeros(n if has_flex else 1, dtype=np.uint8)
    cdef uint8_t[::1] fx = flat_flex
    for y in range(h):
        px[y * wd:(y + 1) * wd] = iv[y, :]
        if has_flex:
            fx[y * wd:(y + 1) * wd] = fv[y, :]
    cdef int limit = 1 << min_code_size
    for i in range(n):
        if px[i] >= limit:
            raise ValueError(f"index {px[i]} does not fit a minimum code size of {min_code_size}")
    cdef int16_t* child = <int16_t*>malloc(_LZW_CODES * 256 * sizeof(int16_t))
    cdef int32_t* used = <int32_t*>malloc(_LZW_CODES * sizeof(int32_t))
    cdef _BitWriter w
    w.cap = 4096 + n // 2
    w.data = <uint8_t*>malloc(w.cap)
    w.size = 0
    w.acc = 0
    w.nbits = 0
    w.failed = 0
    if child == NULL or used == NULL or w.data == NULL:
        free(child)
        free(used)
        free(w.data)
        raise MemoryError()
    cdef _Dictionary d
    d.used = used
    d.n_used = 0
    d.min_code_size = min_code_size
    d.eoi = (1 << min_code_size) + 1
    d.nxt = d.eoi + 1
    d.width = min_code_size + 1
    d.since, d.bits_then, d.best_rate = 0, 0, 1e30
    cdef int cur, s, alt, nalt, c1, c2
    cdef int node, budget, na, nb
    cdef Py_ssize_t end, lim
    cdef const uint8_t* px_p = &px[0] if n > 0 else NULL
    cdef const uint8_t* flexp = &fx[0] if has_flex else NULL
    with nogil:
        memset(child, 0xFF, _LZW_CODES * 256 * sizeof(int16_t))  # -1: no such string
        _put_code(&w, d.eoi - 1, d.width)  # the clear code
        if search > 0:
            cur = -1
            i = 0
            if n > 0:
                cur = _start(child, px_p, flexp, 0, n, transparent, search)
                i = 1
            while cur >= 0:
                budget = search
                lim = n if restart <= 0 else min(n, ((i - 1) // restart + 1) * restart)
                end = _longest(child, px_p, flexp, i, lim, cur, transparent, &node, &budget)
                _put_code(&w, node, d.width)
                if end >= n:
                    cur = -1
                    break
                if end == lim:  # a restart: a fresh dictionary from this pixel on
                    d.width = _after_last(&d)
                    _clear(child, &d, &w)
                    cur = _start(child, px_p, flexp, end, n, transparent, search)
                    i = end + 1
                    continue
                # The string just written, extended by the next string's first symbol, joins
                # the dictionary.
                s = _start(child, px_p, flexp, end, n, transparent, search)
                _learn(child, &d, &w, node * 256 + s, end, clearing)
                cur = s
                i = end + 1
        else:
            cur = -1
            for i in range(n):
                s = px[i]
                alt = transparent if _either(flexp, i) and s != transparent else -1
                if restart > 0 and i > 0 and i % restart == 0:
                    # A restart: the string so far is written, then a fresh dictionary.
                    _put_code(&w, cur, d.width)
                    d.width = _after_last(&d)
                    _clear(child, &d, &w)
                    cur = -1
                if cur < 0:
                    # The first pixel: start with whichever symbol the next pixel can follow.
                    cur = s
                    if alt >= 0 and i + 1 < n:
                        nalt = transparent if _either(flexp, i + 1) else -1
                        if not _extends(child, s, px[i + 1], nalt):
                            cur = alt
                    continue
                c1 = child[cur * 256 + s]
                c2 = child[cur * 256 + alt] if alt >= 0 else -1
                if c1 >= 0 and c2 >= 0 and i + 1 < n:
                    # Both continue: keep the one the next pixel can continue too.
                    nalt = transparent if _either(flexp, i + 1) and px[i + 1] != transparent else -1
                    na = _extends(child, c1, px[i + 1], nalt)
                    nb = _extends(child, c2, px[i + 1], nalt)
                    cur = c2 if nb and not na else c1
                    continue
                if c1 >= 0:
                    cur = c1
                    continue
                if c2 >= 0:
                    cur = c2
                    continue
                _put_code(&w, cur, d.width)
                # The string just written, extended by this pixel's symbol, joins the
                # dictionary; an either pixel starts the next string with the symbol the
                # following pixel can continue, the transparent one by default (old pixels
                # come in runs).
                if alt >= 0:
                    s = alt
                    if i + 1 < n:
                        nalt = transparent if _either(flexp, i + 1) else -1
                        if not _extends(child, alt, px[i + 1], nalt) and _extends(
                                child, px[i], px[i + 1], nalt):
                            s = px[i]
                _learn(child, &d, &w, cur * 256 + s, i, clearing)
                cur = s
        if cur >= 0:
            _put_code(&w, cur, d.width)
        _put_code(&w, d.eoi, _after_last(&d))
        if w.nbits > 0:
            _put_code(&w, 0, 8 - w.nbits)
    free(child)
    free(used)
    if w.failed:
        free(w.data)
        raise MemoryError()
    try:
        return (<char*>w.data)[:w.size]
    finally:
        free(w.data)


def gif_lzw_decode(data, int min_code_size, Py_ssize_t n):
    """The first ``n`` palette indices of a GIF image's LZW code stream ``data`` (the
    sub-blocks joined), as a uint8 array, and how many of them the stream gave.

    Decoded as browsers do: codes are read up to the end code, the end of the data or
    ``n`` pixels; a code the dictionary does not hold yet (beyond the next one) ends the
    image there. A full dictionary keeps its strings until a clear code.
    """
    cdef const uint8_t[::1] src = data
    cdef Py_ssize_t size = src.shape[0]
    if not 1 <= min_code_size <= 8:
        raise ValueError(f"LZW minimum code size {min_code_size} is not from 1 to 8")
    out = np.zeros(n, dtype=np.uint8)
    if n == 0 or size == 0:
        return out, 0
    cdef uint8_t[::1] o = out
    cdef int16_t* prefix = <int16_t*>malloc(_LZW_CODES * sizeof(int16_t))
    cdef uint8_t* suffix = <uint8_t*>malloc(_LZW_CODES)
    cdef uint8_t* first = <uint8_t*>malloc(_LZW_CODES)
    cdef int16_t* length = <int16_t*>malloc(_LZW_CODES * sizeof(int16_t))
    if prefix == NULL or suffix == NULL or first == NULL or length == NULL:
        free(prefix)
        free(suffix)
        free(first)
        free(length)
        raise MemoryError()
    cdef int clear = 1 << min_code_size, eoi = clear + 1
    cdef int width = min_code_size + 1, nxt = clear + 2, prev = -1, code, c, k, L
    cdef Py_ssize_t pos = 0, byte = 0, j
    cdef uint32_t acc = 0
    cdef int bits = 0
    cdef uint8_t f
    with nogil:
        for c in range(clear):
            prefix[c] = -1
            suffix[c] = <uint8_t>c
            first[c] = <uint8_t>c
            length[c] = 1
        while pos < n:
            while bits < width and byte < size:
                acc |= (<uint32_t>src[byte]) << bits
                byte += 1
                bits += 8
            if bits < width:
                break  # the data ends
            code = acc & ((1 << width) - 1)
            acc >>= width
            bits -= width
            if code == clear:
                width, nxt, prev = min_code_size + 1, clear + 2, -1
                continue
            if code == eoi:
                break
            if prev < 0:
                if code >= clear:
                    break  # no string to start from
                o[pos] = <uint8_t>code
                pos += 1
                prev = code
                continue
            if code < nxt:
                f = first[code]
            elif code == nxt and nxt < _LZW_CODES:
                f = first[prev]
            else:
                break  # a code not in the dictionary: the image ends here
            if nxt < _LZW_CODES:
                prefix[nxt] = <int16_t>prev
                suffix[nxt] = f
                first[nxt] = first[prev]
                length[nxt] = length[prev] + 1
                nxt += 1
                if nxt == (1 << width) and width < 12:
                    width += 1
            L = length[code]
            k = code
            j = pos + L - 1
            while k >= 0:
                if j < n:
                    o[j] = suffix[k]
                j -= 1
                k = prefix[k]
            pos = min(pos + L, n)
            prev = code
    free(prefix)
    free(suffix)
    free(first)
    free(length)
    return out, pos
