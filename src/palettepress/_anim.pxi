# Animation frames against the canvas: which pixels to keep, what the viewer sees, flicker,
# which kept pixels the palette can also draw, each pixel's entry from a window's table.
#
# One pass each over frame-sized arrays, where numpy needs several temporaries of the
# frame's size (int16 differences, masks, gathers).


cdef inline void _same_row(const uint8_t* a, const uint8_t* b, Py_ssize_t w, int c,
                           uint8_t* out) noexcept nogil:
    # out[x] = 1 where the pixels' c bytes are equal: branch-free, so it vectorises.
    cdef Py_ssize_t x
    cdef int q
    cdef uint8_t d
    if c == 3:
        for x in range(w):
            out[x] = ((a[3 * x] ^ b[3 * x]) | (a[3 * x + 1] ^ b[3 * x + 1])
                      | (a[3 * x + 2] ^ b[3 * x + 2])) == 0
    elif c == 4:
        for x in range(w):
            out[x] = ((a[4 * x] ^ b[4 * x]) | (a[4 * x + 1] ^ b[4 * x + 1])
                      | (a[4 * x + 2] ^ b[4 * x + 2]) | (a[4 * x + 3] ^ b[4 * x + 3])) == 0
    else:
        for x in range(w):
            d = 0
            for q in range(c):
                d = d | (a[c * x + q] ^ b[c * x + q])
            out[x] = d == 0


cdef inline uint8_t _near_row(const uint8_t* a, const uint8_t* b, const uint8_t* last,
                              Py_ssize_t w, int c, uint8_t levels, uint8_t* out,
                              uint8_t* scratch) noexcept nogil:
    # Each pixel's code in ``out``: 1 where ``a`` is what it was drawn for (``b``), else 2
    # where every channel is within ``levels``, 6 where also ``a`` is the frame before's
    # (``last``, unless NULL), else 0. Returns whether any pixel is 2 or 6. A pass over
    # the bytes, then one over the pixels, both branch-free: they vectorise (a row of a
    # frame where everything moves). ``scratch`` holds c w bytes.
    cdef Py_ssize_t i, x, n = c * w
    cdef uint8_t hi, lo, d, f, e, near, any_near = 0
    # Per byte: bit 0 equal, bit 1 within the levels, bit 2 equal to the frame before.
    for i in range(n):
        hi = a[i] if a[i] > b[i] else b[i]
        lo = b[i] if a[i] > b[i] else a[i]
        d = hi - lo
        scratch[i] = (d == 0) | ((d <= levels) << 1)
    if last != NULL:
        for i in range(n):
            scratch[i] = scratch[i] | ((a[i] == last[i]) << 2)
    if c == 3:
        for x in range(w):
            f = scratch[3 * x] & scratch[3 * x + 1] & scratch[3 * x + 2]
            e = f & 1
            near = (f >> 1) & (1 - e)
            out[x] = e | (near << 1) | ((near & (f >> 2)) << 2)
            any_near = any_near | near
    elif c == 4:
        for x in range(w):
            f = scratch[4 * x] & scratch[4 * x + 1] & scratch[4 * x + 2] & scratch[4 * x + 3]
            e = f & 1
            near = (f >> 1) & (1 - e)
            out[x] = e | (near << 1) | ((near & (f >> 2)) << 2)
            any_near = any_near | near
    else:
        for x in range(w):
            f = 7
            for i in range(c):
                f = f & scratch[c * x + i]
            e = f & 1
            near = (f >> 1) & (1 - e)
            out[x] = e | (near << 1) | ((near & (f >> 2)) << 2)
            any_near = any_near | near
    return any_near


def frame_keep(const uint8_t[:, :, :] px, const uint8_t[:, :, :] drawn_for, int levels):
    """Pixels (uint8 (H, W), 1 = keep) whose every channel is within ``levels`` of what
    the pixel was drawn for (either array may be a view: a rectangle, every n-th row)."""
    cdef Py_ssize_t h = px.shape[0], w = px.shape[1], y, x
    cdef int c = px.shape[2], q, d
    if drawn_for.shape[0] != h or drawn_for.shape[1] != w or drawn_for.shape[2] != c:
        raise ValueError("the frame and the canvas differ in shape")
    out = np.empty((h, w), dtype=np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef uint8_t k
    # Rows whose pixels lie packed (views of whole pixels, as the stages pass): compared
    # byte for byte, one row at a time (a frame's rows are too short to share out).
    cdef bint packed = (levels == 0 and w > 0 and px.strides[2] == 1
                        and drawn_for.strides[2] == 1 and px.strides[1] == c
                        and drawn_for.strides[1] == c)
    with nogil:
        if packed:
            for y in range(h):
                _same_row(&px[y, 0, 0], &drawn_for[y, 0, 0], w, c, &ov[y, 0])
        else:
            for y in prange(h, schedule="static", num_threads=_threads_for(h * w)):
                for x in range(w):
                    k = 1
                    for q in range(c):
                        d = <int>px[y, x, q] - <int>drawn_for[y, x, q]
                        if d > levels or d < -levels:
                            k = 0
                            break
                    ov[y, x] = k
    return out


def frame_keep_near(const uint8_t[:, :, ::1] px, const uint8_t[:, :, ::1] drawn_for, last,
                    int levels, int block, double share):
    """Pixels (uint8 (H, W), 1 = keep) that show what they were drawn for up to a decoder's
    noise: exactly; or within ``levels`` in every channel where the source has not
    changed since ``last`` (the frame before, same shape, or None); or, when ``share``
    is at most 1, within ``levels`` in a ``block`` x ``block`` tile of which at least
    ``share`` of the pixels keep exactly (a still part of the picture the decoder
    redrew a little, not a part that moves or fades)."""
    cdef Py_ssize_t h = px.shape[0], w = px.shape[1], y, x, ty, tx, y0, y1, x0, x1, hb, wb
    cdef int c = px.shape[2]
    if drawn_for.shape[0] != h or drawn_for.shape[1] != w or drawn_for.shape[2] != c:
        raise ValueError("the frame and the canvas differ in shape")
    if block < 1:
        raise ValueError("block must be at least 1")
    cdef const uint8_t[:, :, ::1] lv
    cdef bint has_last = last is not None
    if has_last:
        lv = last
        if lv.shape[0] != h or lv.shape[1] != w or lv.shape[2] != c:
            raise ValueError("the frame before differs in shape")
    hb, wb = (h + block - 1) // block, (w + block - 1) // block
    out = np.empty((h, w), dtype=np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef Py_ssize_t n_exact
    cdef bint use_tiles = share <= 1.0
    cdef uint8_t v, needs, passed, near_any
    cdef uint8_t* scratch
    cdef int failed = 0
    if not 0 <= levels < 256:
        raise ValueError("levels must be from 0 to 255")
    with nogil:
        # A tile row at a time (its tiles need only its rows): each pixel's code
        # (_near_row), then, where any is near, the tiles' test and the codes to 0 or 1.
        for ty in prange(hb, schedule="static", num_threads=_threads_for(h * w)):
            y0 = ty * block
            y1 = min(y0 + block, h)
            scratch = <uint8_t*>malloc(c * w + 1)
            if scratch == NULL:
                failed = 1
                continue
            near_any = 0
            for y in range(y0, y1):
                near_any = near_any | _near_row(&px[y, 0, 0], &drawn_for[y, 0, 0],
                                                &lv[y, 0, 0] if has_last else NULL, w, c,
                                                <uint8_t>levels, &ov[y, 0], scratch)
            free(scratch)
            if not near_any:
                continue  # every pixel exact (1) or beyond the levels (0): as it is
            for tx in range(wb):
                x0 = tx * block
                x1 = min(x0 + block, w)
                # The tile's test, where a pixel of it needs it (code 2).
                n_exact = 0
                needs = 0
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        v = ov[y, x]
                        n_exact = n_exact + (v == 1)
                        needs = needs | (v == 2)
                passed = needs and use_tiles and n_exact >= share * (y1 - y0) * (x1 - x0)
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        v = ov[y, x]
                        ov[y, x] = (v & 1) | ((v >> 2) & 1) | ((v >> 1) & passed)
    if failed:
        raise MemoryError()
    return out


cdef inline void _show_row(uint8_t* shown, uint8_t* drawn_for, const uint8_t* px,
                           const uint8_t* idx, const uint8_t* keep, const uint8_t* colours,
                           int n, Py_ssize_t w, int c, uint8_t* out) noexcept nogil:
    # One row of frame_show, its pixels packed (c bytes each, c the same for colours).
    cdef Py_ssize_t x
    cdef int q, i
    cdef uint8_t d
    cdef const uint8_t* col
    for x in range(w):
        if keep[x]:
            continue
        i = idx[x]
        if i >= n:
            i = n - 1
        col = colours + i * c
        d = 0
        if c == 3:
            d = (shown[3 * x] ^ col[0]) | (shown[3 * x + 1] ^ col[1]) | (shown[3 * x + 2] ^ col[2])
            shown[3 * x] = col[0]
            shown[3 * x + 1] = col[1]
            shown[3 * x + 2] = col[2]
            drawn_for[3 * x] = px[3 * x]
            drawn_for[3 * x + 1] = px[3 * x + 1]
            drawn_for[3 * x + 2] = px[3 * x + 2]
        else:
            for q in range(c):
                d = d | (shown[c * x + q] ^ col[q])
                shown[c * x + q] = col[q]
                drawn_for[c * x + q] = px[c * x + q]
        out[x] = d != 0


def frame_show(uint8_t[:, :, :] shown, uint8_t[:, :, :] drawn_for,
               const uint8_t[:, :, ::1] px, indices, const uint8_t[:, ::1] keep,
               const uint8_t[:, ::1] colours):
    """Draw a frame (or a rectangle of it: ``shown`` and ``drawn_for`` may be views) on
    the canvas: every pixel ``keep`` does not mark shows
    ``colours[indices]`` (``shown``) and was drawn for ``px`` (``drawn_for``), both updated
    in place. Returns the pixels whose colour on screen changed (uint8 (H, W))."""
    cdef const uint8_t[:, :] iv = indices
    cdef Py_ssize_t h = px.shape[0], w = px.shape[1], y, x
    cdef int c = px.shape[2], q, n = colours.shape[0]
    if (shown.shape[0] != h or shown.shape[1] != w or shown.shape[2] != c
            or drawn_for.shape[2] != c or colours.shape[1] != c or iv.shape[0] != h
            or iv.shape[1] != w or keep.shape[0] != h or keep.shape[1] != w):
        raise ValueError("the frame, canvas, indices and palette do not fit together")
    out = np.zeros((h, w), dtype=np.uint8)
    cdef uint8_t[:, ::1] ov = out
    cdef int i
    cdef uint8_t moved
    # Rows of whole pixels (the stages pass the canvas's rectangles): a row at a time
    # through pointers, half the time of the indexed loop below on one thread (a 300x285
    # rectangle, half of it kept: 0.37 against 0.73 ms).
    cdef bint packed = (w > 0 and n > 0 and shown.strides[2] == 1 and shown.strides[1] == c
                        and drawn_for.strides[2] == 1 and drawn_for.strides[1] == c
                        and iv.strides[1] == 1)
    with nogil:
        if packed:
            for y in prange(h, schedule="static", num_threads=_threads_for(h * w)):
                _show_row(&shown[y, 0, 0], &drawn_for[y, 0, 0], &px[y, 0, 0], &iv[y, 0],
                          &keep[y, 0], &colours[0, 0], n, w, c, &ov[y, 0])
        else:
            for y in prange(h, schedule="static", num_threads=_threads_for(h * w)):
                for x in range(w):
                    if keep[y, x]:
                        continue
                    i = iv[y, x]
                    if i >= n:
                        i = n - 1
                    moved = 0
                    for q in range(c):
                        if shown[y, x, q] != colours[i, q]:
                            moved = 1
                        shown[y, x, q] = colours[i, q]
                        drawn_for[y, x, q] = px[y, x, q]
                    ov[y, x] = moved
    return out


def window_histogram(frames, canvas):
    """Distinct packed colours (as :func:`histogram`'s keys and counts) of what a window
    of frames shows: each frame's pixels (H, W, C) that differ from the frame before
    (from ``canvas`` for the first; every pixel where ``canvas`` is None), each counted
    for the frames it stays on screen, until the window's next frame that draws it or the
    window's end, and the canvas's pixels until the first frame that draws them. Every
    pixel counts ``len(frames)`` times in all. Fully transparent pixels count as (0, 0,
    0, 0), as :func:`~palettepress.histogram.pixels2d` gives them. Returns ``(keys,
    counts, drawn)``, ``drawn`` the number of pixels the frames draw."""
    cdef Py_ssize_t n = len(frames), f, p, npx, y, x
    cdef uint64_t eight
    cdef const uint8_t[:, :, ::1] fv
    cdef int c
    first = frames[0]
    cdef Py_ssize_t h = first.shape[0], w = first.shape[1]
    c = first.shape[2]
    npx = h * w
    views = [frames[f] for f in range(n)]
    if canvas is not None:
        views.append(canvas)
    if c != 3 and c != 4:
        raise ValueError(f"frames of 3 or 4 channels only, got {c}")
    for v in views:
        if v.shape[0] != h or v.shape[1] != w or v.shape[2] != c:
            raise ValueError("the frames and the canvas differ in shape")
    cdef const uint8_t** ptr = <const uint8_t**>malloc((n + 1) * sizeof(uint8_t*))
    cdef uint32_t* lasts = <uint32_t*>malloc(max(npx, 1) * sizeof(uint32_t))
    cdef uint8_t* same = <uint8_t*>malloc(max(w, 1))
    cdef HashTable t
    if (ptr == NULL or lasts == NULL or same == NULL
            or _table_init(&t, _initial_slots(npx)) != 0):
        free(ptr)
        free(lasts)
        free(same)
        raise MemoryError()
    for f in range(len(views)):
        fv = views[f]
        ptr[f] = &fv[0, 0, 0] if npx > 0 else NULL
    cdef bint has_canvas = canvas is not None
    cdef const uint8_t* px
    cdef const uint8_t* before
    cdef uint32_t key, frame
    cdef Slot* slot
    cdef int failed = 0
    cdef int64_t drawn = 0
    with nogil:
        for p in range(npx):
            lasts[p] = <uint32_t>n
        for f in range(n - 1, -2, -1):  # the frames last to first, then the canvas (-1)
            if f < 0:
                if not has_canvas:
                    break
                px = ptr[n]
                before = NULL
                frame = 0
            else:
                px = ptr[f]
                before = ptr[f - 1] if f > 0 else (ptr[n] if has_canvas else NULL)
                frame = <uint32_t>f
            for y in range(h):
                if before != NULL:
                    # Which pixels of the row the frame before already shows (a pass that
                    # vectorises), then only the others, eight kept pixels at a time.
                    _same_row(&px[y * w * c], &before[y * w * c], w, c, same)
                x = 0
                while x < w:
                    if before != NULL:
                        if x + 8 <= w:
                            memcpy(&eight, &same[x], 8)
                            if eight == 0x0101010101010101ULL:
                                x += 8
                                continue
                        if same[x]:
                            x += 1
                            continue
                    p = y * w + x
                    x += 1
                    if lasts[p] <= frame:
                        continue
                    key = _pack(&px[p * c], c)
                    if c == 4 and px[p * c + 3] == 0:
                        key = 0
                    slot = _table_add(&t, key)
                    slot.count += lasts[p] - frame
                    lasts[p] = frame
                    if f >= 0:
                        drawn += 1
                    if <uint64_t>t.n * 2 > t.cap:
                        if _table_grow(&t) != 0:
                            failed = 1
                            break
                if failed:
                    break
            if failed:
                break
    free(ptr)
    free(lasts)
    free(same)
    if failed:
        _table_free(&t)
        raise MemoryError()
    keys_out, counts_out = _table_arrays(&t)
    _table_free(&t)
    return keys_out, counts_out, drawn


def frame_flicker(const uint8_t[:, :, ::1] source, const uint8_t[:, :, ::1] before, on_screen):
    """``(still, flickered)``: pixels whose source equals ``before`` in every channel, and
    of those, how many ``on_screen`` (uint8 (H, W), or None: none) marks as changed."""
    cdef Py_ssize_t h = source.shape[0], w = source.shape[1], y, x
    cdef int c = source.shape[2]
    cdef const uint8_t[:, ::1] sv
    cdef bint has = on_screen is not None
    if has:
        sv = on_screen
    if before.shape[0] != h or before.shape[1] != w or before.shape[2] != c:
        raise ValueError("the frames differ in shape")
    if h == 0 or w == 0:
        return 0, 0
    cdef int64_t still = 0, flickered = 0
    cdef uint8_t* same = <uint8_t*>malloc(w)
    if same == NULL:
        raise MemoryError()
    with nogil:
        # A row at a time: which pixels are still (vectorised), then integer sums.
        for y in range(h):
            _same_row(&source[y, 0, 0], &before[y, 0, 0], w, c, same)
            if has:
                for x in range(w):
                    still += same[x]
                    flickered += same[x] & (sv[y, x] != 0)
            else:
                for x in range(w):
                    still += same[x]
    free(same)
    return still, flickered


def frame_either(uint8_t[:, :] indices, const uint8_t[:, :] keep,
                 const uint8_t[:, ::1] colours, const uint8_t[:, :, :] shown):
    """Kept pixels (``keep``) whose colour on screen (``shown``, a view of the canvas) is
    an entry of ``colours`` (n <= 256, C): their index is set to the first such entry,
    and they are marked (uint8 (H, W), 1) as writable either way, kept or drawn."""
    cdef Py_ssize_t h = indices.shape[0], w = indices.shape[1], y, x
    cdef int c = colours.shape[1], n = colours.shape[0], q, i, s
    if (keep.shape[0] != h or keep.shape[1] != w or shown.shape[0] != h
            or shown.shape[1] != w or shown.shape[2] != c or c > 4 or n > 256):
        raise ValueError("the indices, canvas and palette do not fit together")
    out = np.zeros((h, w), dtype=np.uint8)
    cdef uint8_t[:, ::1] ov = out
    # The palette's colours packed into a table of 1024 slots (open addressing), the first
    # entry of each colour winning; -1 marks an empty slot.
    cdef int32_t slot_entry[1024]
    cdef uint32_t slot_key[1024]
    cdef uint32_t key
    for s in range(1024):
        slot_entry[s] = -1
    for i in range(n):
        key = 0
        for q in range(c):
            key |= (<uint32_t>colours[i, q]) << (8 * q)
        s = (key * <uint32_t>2654435761U) >> 22
        while slot_entry[s] >= 0 and slot_key[s] != key:
            s = (s + 1) & 1023
        if slot_entry[s] < 0:
            slot_entry[s], slot_key[s] = i, key
    with nogil:
        for y in prange(h, schedule="static", num_threads=_threads_for(h * w)):
            for x in range(w):
                if not keep[y, x]:
                    continue
                key = 0
                for q in range(c):
                    key = key | ((<uint32_t>shown[y, x, q]) << (8 * q))
                s = (key * <uint32_t>2654435761U) >> 22
                while slot_entry[s] >= 0 and slot_key[s] != key:
                    s = (s + 1) & 1023
                if slot_entry[s] >= 0:
                    indices[y, x] = <uint8_t>slot_entry[s]
                    ov[y, x] = 1
    return out


def frame_lookup(const uint8_t[:, :, ::1] px, const uint8_t[::1] table, uint8_t[:, :] out,
                 int unknown):
    """Each opaque pixel's entry from a table of entries by packed RGB (``R | G << 8 |
    B << 16``, 2**24 of them) into ``out`` (H, W); returns how many pixels found
    ``unknown`` there (the caller finds their entries)."""
    cdef Py_ssize_t h = px.shape[0], w = px.shape[1], y, x
    cdef int64_t missing = 0
    cdef uint8_t e
    if px.shape[2] != 3 or table.shape[0] != 1 << 24 or out.shape[0] != h or out.shape[1] != w:
        raise ValueError("expected opaque pixels, a table of 2**24 entries and (H, W) indices")
    with nogil:
        for y in prange(h, schedule="static", num_threads=_threads_for(h * w)):
            for x in range(w):
                e = table[<uint32_t>px[y, x, 0] | (<uint32_t>px[y, x, 1] << 8)
                          | (<uint32_t>px[y, x, 2] << 16)]
                out[y, x] = e
                if e == unknown:
                    missing += 1
    return missing
