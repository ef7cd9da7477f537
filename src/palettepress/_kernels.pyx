# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled hot loops of palettepress.

Called only through the stage modules (histogram, kmeans, remap, metrics), which validate
their inputs first: every function here trusts shapes, dtypes and contiguity.
Parallel loops never change results: each output element is computed by exactly one
thread, and sums over many elements are reduced in a fixed order.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, int8_t, int16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.math cimport sqrt, cbrt, fabsf, pow, exp, atan2, cos, sin, fabs, log10, INFINITY, NAN, M_PI
from libc.stdlib cimport malloc, free, calloc, realloc
from libc.string cimport memset, memmove, memcpy
from cython.parallel cimport prange, parallel

cdef extern from "_omp.h" nogil:
    # OpenMP's thread queries, or one thread when built without OpenMP (see _omp.h).
    int omp_get_max_threads()
    int omp_get_thread_num()
    int omp_get_num_threads()
    void omp_set_num_threads(int n)
    long pp_take(long* next)  # a shared counter's next value, to one thread each

cnp.import_array()

# Below this many units of work a kernel runs on one thread: waking a team costs tens of
# microseconds, and far more when another process holds the other cores.
cdef enum:
    _PARALLEL_MIN = 1 << 14


cdef inline int _threads_for(Py_ssize_t work) noexcept nogil:
    return omp_get_max_threads() if work >= _PARALLEL_MIN else 1


# A kernel given ``beside`` (a Python callable) runs it on thread 0 of its parallel region,
# with the GIL, while the other thread works; what it returns or raises is kept in a list
# and handed back after the region.

cdef int _run_beside(beside, list outcome) except -1:
    """Call ``beside`` (with the GIL held) and append ``(True, value)`` or ``(False,
    exception)`` to ``outcome``."""
    try:
        outcome.append((True, beside()))
    except BaseException as exc:
        outcome.append((False, exc))
    return 0


cdef object _beside_value(list outcome):
    """What the call beside returned; what it raised is raised."""
    if not outcome[0][0]:
        raise outcome[0][1]
    return outcome[0][1]


cdef extern from "_simd.h" nogil:
    # Cube root of a positive float, vectorisable (see _simd.h).
    float pp_cbrt_pos(float v)
    # A prefetch hint (see _simd.h).
    void PP_PREFETCH(const void* p)
    void pp_oklab(const float* r, const float* g, const float* b, Py_ssize_t n, float lw,
                  float* L, float* A, float* B)
    # The distances from one centre to every centre (see _simd.h).
    void pp_dist_row(const float* soa, Py_ssize_t k, int d, Py_ssize_t a, float* out)
    # CIELAB of sRGB colours, x^7, and CIEDE2000 of a block of pairs (see _simd.h).
    double pp_pow7(double x)
    void pp_lab(const uint8_t* rgb, Py_ssize_t n, const double* lin, double* L, double* A,
                double* B)
    void pp_ciede2000(const double* L1, const double* a1, const double* b1, const double* L2,
                      const double* a2, const double* b2, double* out, double* hx, double* hy,
                      double* base, double* rc, double* ct, double* ht, Py_ssize_t n)
    # SSIM from a row of windows' sums (see _simd.h).
    void pp_ssim_windows(const double* hx, const double* hy, const double* hxx,
                         const double* hyy, const double* hxy, Py_ssize_t n, double c1n,
                         double c2n, double* out)


include "_hist.pxi"
include "_kmeans.pxi"
include "_seed.pxi"
include "_swap.pxi"
include "_remap.pxi"
include "_metrics.pxi"
include "_ssimulacra2.pxi"
include "_png.pxi"
include "_gif.pxi"
include "_anim.pxi"


def num_threads():
    """Number of OpenMP threads the parallel kernels use."""
    return omp_get_max_threads()


def set_num_threads(int n):
    """Use at most ``n`` OpenMP threads in the parallel kernels (results never change)."""
    omp_set_num_threads(max(n, 1))
