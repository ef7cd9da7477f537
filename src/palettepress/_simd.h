/* Element-wise float loops of the compiled kernels, written in C for what Cython cannot
 * say: that the arrays do not overlap (so the loops vectorise without run-time overlap
 * checks), and, with GCC on x86-64 Linux, that each is compiled twice, for AVX2 and for
 * the baseline, the better picked when the module loads. No FMA is enabled and nothing
 * is reassociated, so both builds round exactly alike: results do not depend on the CPU.
 * (setup.py builds without errno for the math functions, so square roots vectorise too.)
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

/* Ask for the cache line at p ahead of its use (a hint: no effect on any result). */
#if defined(__GNUC__) || defined(__clang__)
#define PP_PREFETCH(p) __builtin_prefetch(p)
#else
#define PP_PREFETCH(p) ((void)0)
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
PP_CLONES
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

/* x^7 by multiplication, as CIEDE2000 takes it (for C^7 / (C^7 + 25^7)). */
static inline double pp_pow7(double x)
{
    double x2 = x * x;
    return x2 * x2 * x2 * x;
}

/* CIELAB's f(t) for t >= 0: the cube root above 0.008856 (float's and one Halley step in
 * double, which cubes its relative error, about 1e-7, to below double's rounding), else
 * the line. Both are computed (the root of the threshold in place of a smaller t, whose
 * float arithmetic would go subnormal and slow) and one kept by their bits, as
 * non-negative doubles order as their bits: a branch, or a float comparison, would keep
 * the loop from vectorising (see pp_cbrt0). */
static inline double pp_lab_f(double t)
{
    union { double d; long long i; } u, r, cube, line;
    long long above;
    double y, y3;
    u.d = t;
    above = -(long long)(u.i > 0x3f82231832fcac8eLL); /* 0.008856 */
    r.i = (u.i & above) | (0x3f82231832fcac8eLL & ~above);
    y = pp_cbrt_pos((float)r.d);
    y3 = y * y * y;
    cube.d = y * (y3 + r.d + r.d) / (y3 + y3 + r.d);
    line.d = 7.787 * t + 16.0 / 116.0;
    u.i = (cube.i & above) | (line.i & ~above);
    return u.d;
}

/* CIELAB (scikit-image's rgb2lab: sRGB, D65, 2-degree observer) of n 8-bit sRGB colours,
 * 3 bytes each, into the planes L, A and B; lin is the 256-entry sRGB-to-linear table. */
PP_CLONES static void pp_lab(const unsigned char *PP_RESTRICT rgb, ptrdiff_t n,
                             const double *PP_RESTRICT lin, double *PP_RESTRICT L,
                             double *PP_RESTRICT A, double *PP_RESTRICT B)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        double r = lin[rgb[3 * i]], g = lin[rgb[3 * i + 1]], b = lin[rgb[3 * i + 2]];
        double fx = pp_lab_f((r * 0.412453 + g * 0.357580 + b * 0.180423) / 0.95047);
        double fy = pp_lab_f((r * 0.212671 + g * 0.715160 + b * 0.072169) / 1.0);
        double fz = pp_lab_f((r * 0.019334 + g * 0.119193 + b * 0.950227) / 1.08883);
        L[i] = 116.0 * fy - 16.0;
        A[i] = 500.0 * (fx - fy);
        B[i] = 200.0 * (fy - fz);
    }
}

/* CIEDE2000 (scikit-image's deltaE_ciede2000, kL = kC = kH = 1) of n pairs of CIELAB
 * colours (planes L1, a1, b1 and L2, a2, b2) into out, for pairs whose hues lie less than
 * 120 degrees apart: the hue terms from the two (a', b) vectors instead of their angles.
 * With dot = C1 C2 cos(dh) and cross = C1 C2 sin(dh) (dh = h2 - h1, wrapped),
 * 2 sqrt(C1 C2) sin(dh / 2) = cross sqrt(2 / (C1 C2 + dot)), and the mean hue is the
 * direction of the sum of the unit vectors, whose angle only the rotation term needs: one
 * atan2 where the angles take two, and no sin(dh / 2), cos(H) or sin(H). The same values
 * as skimage's to about 1e-15 (a colour and its palette entry are nearly always this
 * close). A pair with a zero chroma or hues farther apart gets -1, for the caller to
 * compute the angles' way (_metrics.pxi's _de_from_lab_angles).
 *
 * The calculation is a long chain of divisions and square roots, which one pair at a time
 * leaves the CPU waiting on: here they run a block of pairs at once (vector instructions
 * round them as scalar ones do), and only the three libm calls (atan2, exp, sin) go one
 * pair at a time. hx to ht: n doubles each of scratch. */
PP_CLONES
static void pp_ciede2000(const double *PP_RESTRICT L1, const double *PP_RESTRICT a1,
                         const double *PP_RESTRICT b1, const double *PP_RESTRICT L2,
                         const double *PP_RESTRICT a2, const double *PP_RESTRICT b2,
                         double *PP_RESTRICT out, double *PP_RESTRICT hx,
                         double *PP_RESTRICT hy, double *PP_RESTRICT base,
                         double *PP_RESTRICT rc, double *PP_RESTRICT ct, double *PP_RESTRICT ht,
                         ptrdiff_t n)
{
    const double DEG = M_PI / 180.0, TWO_PI = 2.0 * M_PI, P25_7 = 6103515625.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        double Cbar = 0.5 * (sqrt(a1[i] * a1[i] + b1[i] * b1[i]) + sqrt(a2[i] * a2[i] + b2[i] * b2[i]));
        double c7 = pp_pow7(Cbar);
        double G = 0.5 * (1.0 - sqrt(c7 / (c7 + P25_7)));
        double scale = 1.0 + G;
        double sa1 = a1[i] * scale, sa2 = a2[i] * scale;
        double C1 = sqrt(sa1 * sa1 + b1[i] * b1[i]), C2 = sqrt(sa2 * sa2 + b2[i] * b2[i]);
        double CC = C1 * C2, dot = sa1 * sa2 + b1[i] * b2[i];
        double cross = sa1 * b2[i] - b1[i] * sa2;
        double dH_term = cross * sqrt(2.0 / (CC + dot));
        double ux = sa1 / C1 + sa2 / C2, uy = b1[i] / C1 + b2[i] / C2;
        double norm = 1.0 / sqrt(ux * ux + uy * uy);
        double ch = ux * norm, sh = uy * norm;
        double Lbar = 0.5 * (L1[i] + L2[i]);
        double tmp2 = (Lbar - 50.0) * (Lbar - 50.0);
        double SL = 1.0 + 0.015 * tmp2 / sqrt(20.0 + tmp2);
        double L_term = (L2[i] - L1[i]) / SL;
        double Cm = 0.5 * (C1 + C2);
        double SC = 1.0 + 0.045 * Cm;
        double C_term = (C2 - C1) / SC;
        double c2h = 2.0 * ch * ch - 1.0, s2h = 2.0 * sh * ch;
        double c3h = c2h * ch - s2h * sh, s3h = s2h * ch + c2h * sh;
        double c4h = 2.0 * c2h * c2h - 1.0, s4h = 2.0 * s2h * c2h;
        double T = (1.0
                    - 0.17 * (ch * cos(30.0 * DEG) + sh * sin(30.0 * DEG))
                    + 0.24 * c2h
                    + 0.32 * (c3h * cos(6.0 * DEG) - s3h * sin(6.0 * DEG))
                    - 0.20 * (c4h * cos(63.0 * DEG) + s4h * sin(63.0 * DEG)));
        double SH = 1.0 + 0.015 * Cm * T;
        double H_term = dH_term / SH;
        double m7 = pp_pow7(Cm);
        hx[i] = ux;
        hy[i] = uy;
        rc[i] = 2.0 * sqrt(m7 / (m7 + P25_7));
        ct[i] = C_term;
        ht[i] = H_term;
        base[i] = L_term * L_term + C_term * C_term + H_term * H_term;
        out[i] = dot <= -0.5 * CC ? -1.0 : (CC == 0.0 ? -1.0 : 0.0);
    }
    for (ptrdiff_t i = 0; i < n; i++) {
        if (out[i] == 0.0) {
            double Hbar = atan2(hy[i], hx[i]);
            if (Hbar < 0.0)
                Hbar = Hbar + TWO_PI;
            double q = (Hbar * (180.0 / M_PI) - 275.0) / 25.0;
            double dtheta = 30.0 * DEG * exp(-(q * q));
            hx[i] = -sin(2.0 * dtheta);
        }
    }
    for (ptrdiff_t i = 0; i < n; i++) {
        double dE2 = base[i] + hx[i] * rc[i] * ct[i] * ht[i];
        out[i] = out[i] == 0.0 ? sqrt(dE2 > 0.0 ? dE2 : 0.0) : -1.0;
    }
}

/* SSIM (scikit-image's, 7x7 uniform window) from n windows' sums of x, y, x^2, y^2 and
 * xy, each exact (integers well below 2^53): a1 a2 / (b1 b2) with every factor scaled
 * by 49^2 or 49 * 48 (_metrics.pxi's _ssim_band). The sums slide serially; this pass
 * over them has no dependency from one window to the next, so its divisions vectorise. */
PP_CLONES static void pp_ssim_windows(const double *PP_RESTRICT hx, const double *PP_RESTRICT hy,
                                      const double *PP_RESTRICT hxx,
                                      const double *PP_RESTRICT hyy,
                                      const double *PP_RESTRICT hxy, ptrdiff_t n, double c1n,
                                      double c2n, double *PP_RESTRICT out)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double a1 = 2.0 * hx[j] * hy[j] + c1n;
        double b1 = hx[j] * hx[j] + hy[j] * hy[j] + c1n;
        double a2 = 2.0 * (49.0 * hxy[j] - hx[j] * hy[j]) + c2n;
        double b2 = (49.0 * hxx[j] - hx[j] * hx[j]) + (49.0 * hyy[j] - hy[j] * hy[j]) + c2n;
        out[j] = (a1 * a2) / (b1 * b2);
    }
}

#endif
