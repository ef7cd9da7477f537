/* Element-wise float loops of the compiled kernels, written in C for what Cython cannot
 * say: that the arrays do not overlap (so the loops vectorise without run-time overlap
 * checks), and, with GCC on x86-64 Linux, that each is compiled twice, for AVX2 and for
 * the baseline, the better picked when the module loads. No FMA is enabled and nothing
 * is reassociated, so both builds round exactly alike: results do not depend on the CPU.
 */
#ifndef PALETTEPRESS_SIMD_H
#define PALETTEPRESS_SIMD_H

#include <math.h>
#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PP_CLONES
#endif

/* A function whose square roots never see a negative value: GCC may then use the vector
 * instruction instead of a call kept for errno (other compilers decide for themselves). */
#if defined(__GNUC__) && !defined(__clang__)
#define PP_NO_ERRNO __attribute__((optimize("no-math-errno")))
#else
#define PP_NO_ERRNO
#endif

#if defined(_MSC_VER)
#define PP_RESTRICT __restrict
#else
#define PP_RESTRICT __restrict__
#endif

/* out[x] = sum over t of k[|t|] * pad[x + 5 + t], t = -5..5: the 11-tap symmetric blur of
 * a row held at pad[5 .. n + 5). */
PP_CLONES static void pp_hblur11(const float *PP_RESTRICT pad, float *PP_RESTRICT out,
                                 ptrdiff_t n, const float *PP_RESTRICT k)
{
    const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5];
    for (ptrdiff_t x = 0; x < n; x++) {
        out[x] = (k0 * pad[x + 5] + k1 * (pad[x + 4] + pad[x + 6]) + k2 * (pad[x + 3] + pad[x + 7])
                  + k3 * (pad[x + 2] + pad[x + 8]) + k4 * (pad[x + 1] + pad[x + 9])
                  + k5 * (pad[x] + pad[x + 10]));
    }
}

/* The same blur down a column: rows[t] is row y - 5 + t (rows outside the image already
 * mirrored by the caller); out[x] = sum over t of k[|t - 5|] * rows[t][x]. */
PP_CLONES static void pp_vblur11(const float *const *PP_RESTRICT rows, float *PP_RESTRICT out,
                                 ptrdiff_t n, const float *PP_RESTRICT k)
{
    const float *PP_RESTRICT r0 = rows[0], *PP_RESTRICT r1 = rows[1], *PP_RESTRICT r2 = rows[2];
    const float *PP_RESTRICT r3 = rows[3], *PP_RESTRICT r4 = rows[4], *PP_RESTRICT r5 = rows[5];
    const float *PP_RESTRICT r6 = rows[6], *PP_RESTRICT r7 = rows[7], *PP_RESTRICT r8 = rows[8];
    const float *PP_RESTRICT r9 = rows[9], *PP_RESTRICT r10 = rows[10];
    const float k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5];
    for (ptrdiff_t x = 0; x < n; x++) {
        out[x] = (k0 * r5[x] + k1 * (r4[x] + r6[x]) + k2 * (r3[x] + r7[x])
                  + k3 * (r2[x] + r8[x]) + k4 * (r1[x] + r9[x]) + k5 * (r0[x] + r10[x]));
    }
}

/* Cube root of v > 0 (normal floats), vectorisable where libm's cbrtf is a call per value:
 * the exponent divided by three on the bit pattern (to within a few per cent), then two
 * Halley steps, each cubing the relative error, down to float precision. */
static inline float pp_cbrt_pos(float v)
{
    union { float f; int i; } u;
    float y, y3;
    u.f = v;
    u.i = (int)((float)u.i * (float)(1.0 / 3.0)) + 0x2a5137a0;
    y = u.f;
    y3 = y * y * y;
    y = y * (y3 + v + v) / (y3 + y3 + v);
    y3 = y * y * y;
    return y * (y3 + v + v) / (y3 + y3 + v);
}

/* Cube root of v, exactly 0 for v <= 1e-10 (where the bit-pattern guess would go
 * subnormal). The test is on the bit pattern (positive floats order as their bits, and
 * negative ones are negative integers): an integer select, where a float comparison
 * would keep the loops calling it from vectorising (it may trap). */
static inline float pp_cbrt0(float v)
{
    union { float f; int i; } u;
    int big;
    u.f = v;
    big = u.i > 0x2edbe6ff; /* the bits of 1e-10f */
    u.i = big ? u.i : 0x2edbe6ff;
    return pp_cbrt_pos(u.f) * (float)big;
}

/* Oklab (Ottosson 2020; the matrices of colorspace.py) of n linear RGB values into the
 * planes L (times lw), A and B. */
PP_CLONES static void pp_oklab(const float *PP_RESTRICT r, const float *PP_RESTRICT g,
                               const float *PP_RESTRICT b, ptrdiff_t n, float lw,
                               float *PP_RESTRICT L, float *PP_RESTRICT A, float *PP_RESTRICT B)
{
    for (ptrdiff_t x = 0; x < n; x++) {
        float lv = 0.4122214708f * r[x] + 0.5363325363f * g[x] + 0.0514459929f * b[x];
        float mv = 0.2119034982f * r[x] + 0.6806995451f * g[x] + 0.1073969566f * b[x];
        float sv = 0.0883024619f * r[x] + 0.2817188376f * g[x] + 0.6299787005f * b[x];
        float l = pp_cbrt0(lv), m = pp_cbrt0(mv), s = pp_cbrt0(sv);
        L[x] = lw * (0.2104542553f * l + 0.7936177850f * m - 0.0040720468f * s);
        A[x] = 1.9779984951f * l - 2.4285922050f * m + 0.4505937099f * s;
        B[x] = 0.0259040371f * l + 0.7827717662f * m - 0.8086757660f * s;
    }
}

/* SSIMULACRA2's positive XYB (libjxl's opsin absorbance, cube root, MakePositiveXYB) of n
 * linear RGB values: m is the 3x3 matrix by rows, bias the absorbance bias, cbias its
 * cube root. */
PP_CLONES static void pp_xyb(const float *PP_RESTRICT r, const float *PP_RESTRICT g,
                             const float *PP_RESTRICT b, float *PP_RESTRICT ox,
                             float *PP_RESTRICT oy, float *PP_RESTRICT ob, ptrdiff_t n,
                             const float *PP_RESTRICT m, float bias, float cbias)
{
    for (ptrdiff_t x = 0; x < n; x++) {
        /* The mixes are at least the bias for non-negative linear values. */
        float m0 = pp_cbrt_pos(m[0] * r[x] + m[1] * g[x] + m[2] * b[x] + bias) - cbias;
        float m1 = pp_cbrt_pos(m[3] * r[x] + m[4] * g[x] + m[5] * b[x] + bias) - cbias;
        float m2 = pp_cbrt_pos(m[6] * r[x] + m[7] * g[x] + m[8] * b[x] + bias) - cbias;
        float Y = 0.5f * (m0 + m1);
        ox[x] = 0.5f * (m0 - m1) * 14.0f + 0.42f;
        oy[x] = Y + 0.01f;
        ob[x] = (m2 - Y) + 0.55f;
    }
}

/* SSIMULACRA2's maps of one channel of one row, pooled: from the blurred planes (mu1, mu2,
 * the blurred squares s11, s22 and product s12) and the two images xa, xb, the 1 - SSIM
 * map d (without the luminance denominator; 0 without ``ssim``, when s11, s22 and s12
 * are not read) and the edge maps of ringing (art) and lost detail (det); acc[6][8]
 * gathers in 8 fixed lanes (the same sums whatever the vector width) d, d^4, art,
 * art^4, det, det^4: the row's in float lanes, then added to acc's doubles. */
static inline void pp_ssim_maps_at(const float *PP_RESTRICT mu1, const float *PP_RESTRICT mu2,
                                   const float *PP_RESTRICT s11, const float *PP_RESTRICT s22,
                                   const float *PP_RESTRICT s12, const float *PP_RESTRICT xa,
                                   const float *PP_RESTRICT xb, ptrdiff_t x, float c2, int ssim,
                                   float *d, float *art, float *det)
{
    float a = mu1[x], b = mu2[x];
    float e = (1.0f + fabsf(xb[x] - b)) / (1.0f + fabsf(xa[x] - a)) - 1.0f;
    if (ssim) {
        float num_m = 1.0f - (a - b) * (a - b);
        float num_s = 2.0f * (s12[x] - a * b) + c2;
        float den_s = (s11[x] - a * a) + (s22[x] - b * b) + c2;
        float dd = 1.0f - num_m * num_s / den_s;
        *d = dd > 0.0f ? dd : 0.0f;
    } else {
        *d = 0.0f;
    }
    *art = e > 0.0f ? e : 0.0f;
    *det = e < 0.0f ? -e : 0.0f;
}

static inline void pp_pool8(const float *PP_RESTRICT dm, const float *PP_RESTRICT am,
                            const float *PP_RESTRICT lm, float *PP_RESTRICT acc)
{
    for (int j = 0; j < 8; j++) {
        float v = dm[j], v2 = v * v;
        acc[j] += v;
        acc[8 + j] += v2 * v2;
        v = am[j];
        v2 = v * v;
        acc[16 + j] += v;
        acc[24 + j] += v2 * v2;
        v = lm[j];
        v2 = v * v;
        acc[32 + j] += v;
        acc[40 + j] += v2 * v2;
    }
}

PP_CLONES static void pp_ssim_maps(const float *PP_RESTRICT mu1, const float *PP_RESTRICT mu2,
                                   const float *PP_RESTRICT s11, const float *PP_RESTRICT s22,
                                   const float *PP_RESTRICT s12, const float *PP_RESTRICT xa,
                                   const float *PP_RESTRICT xb, ptrdiff_t n, float c2, int ssim,
                                   double *PP_RESTRICT acc)
{
    float dm[8], am[8], lm[8];
    float lanes[48] = {0};
    ptrdiff_t x0 = 0;
    /* Two copies of the loop, so that each compiles without a branch inside. */
    if (ssim) {
        for (; x0 + 8 <= n; x0 += 8) {
            for (int j = 0; j < 8; j++)
                pp_ssim_maps_at(mu1, mu2, s11, s22, s12, xa, xb, x0 + j, c2, 1, &dm[j], &am[j], &lm[j]);
            pp_pool8(dm, am, lm, lanes);
        }
    } else {
        for (; x0 + 8 <= n; x0 += 8) {
            for (int j = 0; j < 8; j++)
                pp_ssim_maps_at(mu1, mu2, s11, s22, s12, xa, xb, x0 + j, c2, 0, &dm[j], &am[j], &lm[j]);
            pp_pool8(dm, am, lm, lanes);
        }
    }
    if (x0 < n) {
        for (int j = 0; j < 8; j++) {
            if (x0 + j < n) {
                pp_ssim_maps_at(mu1, mu2, s11, s22, s12, xa, xb, x0 + j, c2, ssim, &dm[j], &am[j], &lm[j]);
            } else {
                dm[j] = am[j] = lm[j] = 0.0f;
            }
        }
        pp_pool8(dm, am, lm, lanes);
    }
    for (int j = 0; j < 48; j++)
        acc[j] += lanes[j];
}

/* Distances from centre a to each of k centres held as d planes of k coordinates
 * (soa[q * k + j]): out[j] = |C[j] - C[a]|. The squares are summed over the coordinates
 * in order from 0, as a loop over one pair at a time does, so each distance has the same
 * bits. */
PP_CLONES PP_NO_ERRNO
static void pp_dist_row(const float *PP_RESTRICT soa, ptrdiff_t k, int d, ptrdiff_t a,
                        float *PP_RESTRICT out)
{
    const float c0 = soa[a];
    for (ptrdiff_t j = 0; j < k; j++) {
        float t = soa[j] - c0;
        out[j] = t * t;
    }
    for (int q = 1; q < d; q++) {
        const float *PP_RESTRICT p = soa + q * k;
        const float cq = p[a];
        for (ptrdiff_t j = 0; j < k; j++) {
            float t = p[j] - cq;
            out[j] += t * t;
        }
    }
    for (ptrdiff_t j = 0; j < k; j++)
        out[j] = sqrtf(out[j]);
}

#endif
