/*
 * Vector kernels written once over a small set of SIMD macros; each ISA's
 * vec.c defines the macros (ggml's simd-mappings idea) and includes this
 * file, so avx512/avx2/neon share one algorithm and one set of polynomials.
 *
 * Macros the includer defines (VW lanes of float, vf the vector type):
 *   V_LOAD(p) V_STORE(p, v)        unaligned full-vector load/store
 *   V_LOADN(p, n, fill) V_STOREN(p, v, n)
 *                                  first n < VW lanes; other lanes = fill
 *   V_SET1(x) V_ADD V_SUB V_MUL V_DIV
 *   V_FMA(a, b, c)   a*b + c       V_FNMA(a, b, c)  c - a*b  (fused)
 *   V_MIN_PROP(c, x)               min that returns x when x is NaN
 *   V_MAX_IGN(x, acc)              max that returns acc when x is NaN
 *   V_ABS(x) V_SIGNBITS(x) V_OR(a, b)  |x|, x & sign bit, bitwise or
 *   V_LT_SEL(a, b, x, y)           lanewise a < b ? x : y
 *   V_ROUND(x)                     round to nearest (even) integer value
 *   V_POW2MUL(p, n)                p * 2^n, n integral in [-150, 129]
 *   V_HSUM(v) V_HMAX(v)            horizontal sum / max to a float
 *   V_ROPE_PAIRS(p, c, s)          interleaved rope on VW pairs at p
 *
 * Accuracy (float inputs; measured over 2^22-point sweeps against float64,
 * bounds asserted by tests/kernels/test_vec.c; 1 ulp <= 1.19e-7 relative):
 *   exp      max rel error 8.4e-8 (< 1 ulp) for normal outputs; overflow to
 *            +inf above 88.72, correctly rounded subnormals and 0 below
 *            -87.33 .. -103.97, NaN stays NaN.
 *   sigmoid  1.2e-7 (x >= -5), 1.5e-7 elsewhere; silu 1.7e-7.
 *   tanh     1.4e-7 (odd polynomial below |x| = 0.625, 1 - 2/(e^{2|x|} + 1)
 *            above).
 *   gelu     (erf form) x/2 * erfc(-x/sqrt2) with erfc(a) = t exp(-a^2 +
 *            P(t)), t = 1/(1 + a/2): 7.7e-7 for x >= -5, 4.2e-6 relative
 *            (9e-13 absolute) below; no 1 + erf(x) cancellation in the
 *            negative tail, where the scalar twin loses all digits.
 *   gelu_tanh  x * sigmoid(2u) (== x/2 * (1 + tanh u)): 2.3e-6 for x >= -5
 *            (the rounding of u, amplified by |2u|), 5e-13 absolute below.
 * Reductions (dot, softmax sum, norms) use 4 vector accumulators: the order
 * differs from the scalar twin, so results match it to rounding (NMSE).
 */
#ifndef TFM_VEC_BODY_H
#define TFM_VEC_BODY_H

#include <math.h>
#include <string.h>

// ---- polynomials (fitted by tests/kernels/vec_poly_fit.py) ----------------------

// exp(r) = 1 + r + r^2 * P(r), |r| <= ln2/2; fit error 3.1e-9 relative.
#define TFM__EXP_C0 0.49999993451f
#define TFM__EXP_C1 0.16666520686f
#define TFM__EXP_C2 0.04166838742f
#define TFM__EXP_C3 0.00836871026f
#define TFM__EXP_C4 0.00138146112f
// tanh(x) = x + x^3 * Q(x^2), |x| <= 0.625; fit error 1.6e-10 relative.
#define TFM__TANH_C0 -0.33333330803f
#define TFM__TANH_C1 0.13333206009f
#define TFM__TANH_C2 -0.05394676312f
#define TFM__TANH_C3 0.02170070332f
#define TFM__TANH_C4 -0.00817739812f
#define TFM__TANH_C5 0.00214296147f
// log(erfc(a) / t) + a^2 = P(t), t = 1/(1 + a/2), a in [0, 10]; fit error
// 4.5e-8 absolute (so relative on erfc).
#define TFM__ERFC_C0 -1.26544144935f
#define TFM__ERFC_C1 0.99849275387f
#define TFM__ERFC_C2 0.38789764047f
#define TFM__ERFC_C3 0.02836724596f
#define TFM__ERFC_C4 0.02016585974f
#define TFM__ERFC_C5 -0.11673054476f
#define TFM__ERFC_C6 -0.65131734800f
#define TFM__ERFC_C7 1.12245251030f
#define TFM__ERFC_C8 -0.66608482240f
#define TFM__ERFC_C9 0.14219819938f

// ---- elementary functions on one vector -------------------------------------------

static inline vf v_exp(vf x) {
    // Clamp (NaN passes), split x = n ln2 + r, 2^n applied in two steps so
    // that subnormal results and overflow to inf come out right. Lanes below
    // -104 (masked softmax positions are -inf) give 0 by a select, computed
    // on a harmless 0: an underflowing multiply would take a slow microcode
    // assist on x86.
    vf n, r, r2, p, lo = V_SET1(-104.0f), zero = V_SET1(0.0f), x0 = x;
    x = V_MIN_PROP(V_SET1(88.8f), x);
    x = V_LT_SEL(x, lo, zero, x);
    n = V_ROUND(V_MUL(x, V_SET1(1.44269504089f)));
    r = V_FNMA(n, V_SET1(0.693145751953125f), x);  // ln2 high part (exact n*hi)
    r = V_FNMA(n, V_SET1(1.428606765330187e-06f), r); // ln2 low part
    r2 = V_MUL(r, r);
    p = V_FMA(V_SET1(TFM__EXP_C4), r, V_SET1(TFM__EXP_C3));
    p = V_FMA(p, r, V_SET1(TFM__EXP_C2));
    p = V_FMA(p, r, V_SET1(TFM__EXP_C1));
    p = V_FMA(p, r, V_SET1(TFM__EXP_C0));
    p = V_ADD(V_FMA(p, r2, r), V_SET1(1.0f));
    return V_LT_SEL(x0, lo, zero, V_POW2MUL(p, n));
}

static inline vf v_sigmoid(vf x) {
    vf one = V_SET1(1.0f);
    return V_DIV(one, V_ADD(one, v_exp(V_SUB(V_SET1(0.0f), x))));
}

static inline vf v_silu(vf x) {
    return V_DIV(x, V_ADD(V_SET1(1.0f), v_exp(V_SUB(V_SET1(0.0f), x))));
}

static inline vf v_tanh(vf x) {
    vf ax = V_ABS(x), x2 = V_MUL(x, x), q, small, big, e;
    q = V_FMA(V_SET1(TFM__TANH_C5), x2, V_SET1(TFM__TANH_C4));
    q = V_FMA(q, x2, V_SET1(TFM__TANH_C3));
    q = V_FMA(q, x2, V_SET1(TFM__TANH_C2));
    q = V_FMA(q, x2, V_SET1(TFM__TANH_C1));
    q = V_FMA(q, x2, V_SET1(TFM__TANH_C0));
    small = V_FMA(V_MUL(x, x2), q, x);
    e = v_exp(V_ADD(ax, ax));
    big = V_SUB(V_SET1(1.0f), V_DIV(V_SET1(2.0f), V_ADD(e, V_SET1(1.0f))));
    big = V_OR(big, V_SIGNBITS(x));
    return V_LT_SEL(ax, V_SET1(0.625f), small, big);
}

static inline vf v_gelu(vf x) {
    // x * Phi(x) = x/2 * erfc(-z), z = x/sqrt2; erfc(-z) = 2 - erfc(|z|)
    // for z >= 0 and erfc(|z|) for z < 0.
    // a^2 = x^2/2 is taken as fma(-|x|/2, |x|, P) with |x|/2 exact: rounding
    // z = x/sqrt2 first would cost 2 ulp * a^2 of relative error.
    vf ax = V_ABS(x), hx = V_MUL(ax, V_SET1(0.5f)), t, p, e;
    t = V_DIV(V_SET1(1.0f), V_FMA(ax, V_SET1(0.35355339059327376f), V_SET1(1.0f)));
    {   // Estrin's scheme: a short dependency chain (this is gelu's latency)
        vf t2 = V_MUL(t, t), t4 = V_MUL(t2, t2), t8 = V_MUL(t4, t4);
        vf p01 = V_FMA(V_SET1(TFM__ERFC_C1), t, V_SET1(TFM__ERFC_C0));
        vf p23 = V_FMA(V_SET1(TFM__ERFC_C3), t, V_SET1(TFM__ERFC_C2));
        vf p45 = V_FMA(V_SET1(TFM__ERFC_C5), t, V_SET1(TFM__ERFC_C4));
        vf p67 = V_FMA(V_SET1(TFM__ERFC_C7), t, V_SET1(TFM__ERFC_C6));
        vf p89 = V_FMA(V_SET1(TFM__ERFC_C9), t, V_SET1(TFM__ERFC_C8));
        vf p03 = V_FMA(p23, t2, p01), p47 = V_FMA(p67, t2, p45);
        p = V_FMA(p89, t8, V_FMA(p47, t4, p03));
    }
    e = V_MUL(t, v_exp(V_FNMA(hx, ax, p)));                   // erfc(|z|)
    e = V_LT_SEL(x, V_SET1(0.0f), e, V_SUB(V_SET1(2.0f), e)); // erfc(-z)
    return V_MUL(V_MUL(x, V_SET1(0.5f)), e);
}

static inline vf v_gelu_tanh(vf x) {
    // 0.5 x (1 + tanh u) == x * sigmoid(2u) == x / (1 + exp(-2u))
    vf x3 = V_MUL(V_MUL(x, x), x);
    vf u2 = V_MUL(V_FMA(x3, V_SET1(0.044715f), x), V_SET1(-1.5957691216057308f));
    return V_DIV(x, V_ADD(V_SET1(1.0f), v_exp(u2)));
}

static inline vf v_relu(vf x) {
    // x < 0 ? 0 : x, as the scalar twin and PyTorch: NaN and -0 pass
    vf z = V_SET1(0.0f);
    return V_LT_SEL(x, z, z, x);
}

// ---- elementwise maps -------------------------------------------------------------

#define TFM__VEC_MAP(name, fn)                                                    \
    static void name(int64_t n, const float *x, float *out) {                  \
        int64_t i = 0;                                                         \
        for (; i + 2 * VW <= n; i += 2 * VW) {                                 \
            vf a = fn(V_LOAD(x + i)), b = fn(V_LOAD(x + i + VW));              \
            V_STORE(out + i, a);                                               \
            V_STORE(out + i + VW, b);                                          \
        }                                                                      \
        for (; i + VW <= n; i += VW) V_STORE(out + i, fn(V_LOAD(x + i)));      \
        if (i < n) {                                                           \
            int r_ = (int)(n - i);                                             \
            V_STOREN(out + i, fn(V_LOADN(x + i, r_, V_SET1(0.0f))), r_);       \
        }                                                                      \
    }

TFM__VEC_MAP(k_exp, v_exp)
TFM__VEC_MAP(k_relu, v_relu)
TFM__VEC_MAP(k_gelu, v_gelu)
TFM__VEC_MAP(k_gelu_tanh, v_gelu_tanh)
TFM__VEC_MAP(k_silu, v_silu)
TFM__VEC_MAP(k_tanh, v_tanh)
TFM__VEC_MAP(k_sigmoid, v_sigmoid)

static void k_copy(int64_t n, const float *x, float *out) {
    if (out != x && n > 0) memmove(out, x, (size_t)n * sizeof *x);
}

static void k_add(int64_t n, const float *a, const float *b, float *out) {
    int64_t i = 0;
    for (; i + VW <= n; i += VW) V_STORE(out + i, V_ADD(V_LOAD(a + i), V_LOAD(b + i)));
    if (i < n) {
        int r = (int)(n - i);
        vf z = V_SET1(0.0f);
        V_STOREN(out + i, V_ADD(V_LOADN(a + i, r, z), V_LOADN(b + i, r, z)), r);
    }
}

static void k_mul(int64_t n, const float *a, const float *b, float *out) {
    int64_t i = 0;
    for (; i + VW <= n; i += VW) V_STORE(out + i, V_MUL(V_LOAD(a + i), V_LOAD(b + i)));
    if (i < n) {
        int r = (int)(n - i);
        vf z = V_SET1(0.0f);
        V_STOREN(out + i, V_MUL(V_LOADN(a + i, r, z), V_LOADN(b + i, r, z)), r);
    }
}

static void k_scale(int64_t n, float s, const float *x, float *out) {
    vf vs = V_SET1(s);
    int64_t i = 0;
    for (; i + VW <= n; i += VW) V_STORE(out + i, V_MUL(V_LOAD(x + i), vs));
    if (i < n) {
        int r = (int)(n - i);
        V_STOREN(out + i, V_MUL(V_LOADN(x + i, r, V_SET1(0.0f)), vs), r);
    }
}

static void k_axpy(int64_t n, float a, const float *x, float *y) {
    vf va = V_SET1(a);
    int64_t i = 0;
    for (; i + VW <= n; i += VW) V_STORE(y + i, V_FMA(va, V_LOAD(x + i), V_LOAD(y + i)));
    if (i < n) {
        int r = (int)(n - i);
        vf z = V_SET1(0.0f);
        V_STOREN(y + i, V_FMA(va, V_LOADN(x + i, r, z), V_LOADN(y + i, r, z)), r);
    }
}

// ---- reductions -------------------------------------------------------------------

static float k_dot(int64_t n, const float *x, const float *y) {
    vf z = V_SET1(0.0f), a0 = z, a1 = z, a2 = z, a3 = z;
    int64_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        a0 = V_FMA(V_LOAD(x + i), V_LOAD(y + i), a0);
        a1 = V_FMA(V_LOAD(x + i + VW), V_LOAD(y + i + VW), a1);
        a2 = V_FMA(V_LOAD(x + i + 2 * VW), V_LOAD(y + i + 2 * VW), a2);
        a3 = V_FMA(V_LOAD(x + i + 3 * VW), V_LOAD(y + i + 3 * VW), a3);
    }
    for (; i + VW <= n; i += VW) a0 = V_FMA(V_LOAD(x + i), V_LOAD(y + i), a0);
    if (i < n) {
        int r = (int)(n - i);
        a1 = V_FMA(V_LOADN(x + i, r, z), V_LOADN(y + i, r, z), a1);
    }
    return V_HSUM(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}

// Sum of (x[i] - c)^2 (c = 0 gives the sum of squares).
static float sum_sq_dev(int64_t n, const float *x, float c) {
    vf vc = V_SET1(c), z = V_SET1(0.0f), a0 = z, a1 = z, a2 = z, a3 = z, d;
    int64_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        d = V_SUB(V_LOAD(x + i), vc);
        a0 = V_FMA(d, d, a0);
        d = V_SUB(V_LOAD(x + i + VW), vc);
        a1 = V_FMA(d, d, a1);
        d = V_SUB(V_LOAD(x + i + 2 * VW), vc);
        a2 = V_FMA(d, d, a2);
        d = V_SUB(V_LOAD(x + i + 3 * VW), vc);
        a3 = V_FMA(d, d, a3);
    }
    for (; i + VW <= n; i += VW) {
        d = V_SUB(V_LOAD(x + i), vc);
        a0 = V_FMA(d, d, a0);
    }
    if (i < n) { // padding lanes hold c, so they add 0
        d = V_SUB(V_LOADN(x + i, (int)(n - i), vc), vc);
        a1 = V_FMA(d, d, a1);
    }
    return V_HSUM(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}

static float sum_of(int64_t n, const float *x) {
    vf z = V_SET1(0.0f), a0 = z, a1 = z, a2 = z, a3 = z;
    int64_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        a0 = V_ADD(a0, V_LOAD(x + i));
        a1 = V_ADD(a1, V_LOAD(x + i + VW));
        a2 = V_ADD(a2, V_LOAD(x + i + 2 * VW));
        a3 = V_ADD(a3, V_LOAD(x + i + 3 * VW));
    }
    for (; i + VW <= n; i += VW) a0 = V_ADD(a0, V_LOAD(x + i));
    if (i < n) a1 = V_ADD(a1, V_LOADN(x + i, (int)(n - i), z));
    return V_HSUM(V_ADD(V_ADD(a0, a1), V_ADD(a2, a3)));
}

// Sum of x - c: the residual that corrects a mean computed in f32 (the
// rounding of a large common offset would otherwise reach the output).
static float sum_dev(int64_t n, const float *x, float c) {
    vf vc = V_SET1(c), z = V_SET1(0.0f), a0 = z, a1 = z;
    int64_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        a0 = V_ADD(a0, V_SUB(V_LOAD(x + i), vc));
        a1 = V_ADD(a1, V_SUB(V_LOAD(x + i + VW), vc));
    }
    for (; i + VW <= n; i += VW) a0 = V_ADD(a0, V_SUB(V_LOAD(x + i), vc));
    if (i < n) a1 = V_ADD(a1, V_SUB(V_LOADN(x + i, (int)(n - i), vc), vc));
    return V_HSUM(V_ADD(a0, a1));
}

static void k_softmax(int64_t n, const float *x, const float *mask, float *out) {
    vf ninf = V_SET1(-INFINITY), z = V_SET1(0.0f), m0 = ninf, m1 = ninf, vmx;
    vf s0 = z, s1 = z;
    float mx, sum;
    int64_t i = 0;
    // Pass 1: max of x + mask. A NaN lane never becomes the max (as in the
    // scalar twin); it still makes the whole row NaN through the sum.
    if (mask) {
        for (; i + 2 * VW <= n; i += 2 * VW) {
            m0 = V_MAX_IGN(V_ADD(V_LOAD(x + i), V_LOAD(mask + i)), m0);
            m1 = V_MAX_IGN(V_ADD(V_LOAD(x + i + VW), V_LOAD(mask + i + VW)), m1);
        }
        for (; i + VW <= n; i += VW) m0 = V_MAX_IGN(V_ADD(V_LOAD(x + i), V_LOAD(mask + i)), m0);
        if (i < n) {
            int r = (int)(n - i);
            m1 = V_MAX_IGN(V_ADD(V_LOADN(x + i, r, ninf), V_LOADN(mask + i, r, z)), m1);
        }
    } else {
        for (; i + 2 * VW <= n; i += 2 * VW) {
            m0 = V_MAX_IGN(V_LOAD(x + i), m0);
            m1 = V_MAX_IGN(V_LOAD(x + i + VW), m1);
        }
        for (; i + VW <= n; i += VW) m0 = V_MAX_IGN(V_LOAD(x + i), m0);
        if (i < n) m1 = V_MAX_IGN(V_LOADN(x + i, (int)(n - i), ninf), m1);
    }
    mx = V_HMAX(V_MAX_IGN(m0, m1));
    if (mx == -INFINITY) { // every position masked out (or n == 0): zeros,
        float fill = 0.0f;  // unless a NaN hid the max (then NaN, as the scalar twin)
        for (i = 0; i < n; i++) {
            float v = mask ? x[i] + mask[i] : x[i];
            if (v != v) fill = v;
        }
        for (i = 0; i < n; i++) out[i] = fill;
        return;
    }
    // Pass 2: out = exp(x + mask - max), summed. Reads x[i] before writing
    // out[i], so out may alias x.
    vmx = V_SET1(mx);
    i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        vf a = V_LOAD(x + i), b = V_LOAD(x + i + VW);
        if (mask) {
            a = V_ADD(a, V_LOAD(mask + i));
            b = V_ADD(b, V_LOAD(mask + i + VW));
        }
        a = v_exp(V_SUB(a, vmx));
        b = v_exp(V_SUB(b, vmx));
        V_STORE(out + i, a);
        V_STORE(out + i + VW, b);
        s0 = V_ADD(s0, a);
        s1 = V_ADD(s1, b);
    }
    for (; i < n; i += VW) {
        int r = n - i < VW ? (int)(n - i) : VW;
        vf a = r == VW ? V_LOAD(x + i) : V_LOADN(x + i, r, ninf);
        if (mask) a = V_ADD(a, r == VW ? V_LOAD(mask + i) : V_LOADN(mask + i, r, z));
        a = v_exp(V_SUB(a, vmx)); // padding lanes: exp(-inf) = 0
        if (r == VW) V_STORE(out + i, a);
        else V_STOREN(out + i, a, r);
        s0 = V_ADD(s0, a);
    }
    sum = V_HSUM(V_ADD(s0, s1));
    // Pass 3: normalize (by the reciprocal: <= 1 ulp from dividing).
    k_scale(n, 1.0f / sum, out, out);
}

static void k_layernorm(int64_t n, const float *x, const float *g, const float *b,
                        float eps, float *out) {
    float mean, inv;
    vf vm, vi;
    int64_t i = 0;
    if (n <= 0) return;
    mean = sum_of(n, x) / (float)n;
    mean += sum_dev(n, x, mean) / (float)n;
    inv = 1.0f / sqrtf(sum_sq_dev(n, x, mean) / (float)n + eps);
    vm = V_SET1(mean);
    vi = V_SET1(inv);
    for (; i < n; i += VW) {
        int r = n - i < VW ? (int)(n - i) : VW;
        vf z = V_SET1(0.0f), v;
        v = V_MUL(V_SUB(r == VW ? V_LOAD(x + i) : V_LOADN(x + i, r, z), vm), vi);
        if (g) v = V_MUL(v, r == VW ? V_LOAD(g + i) : V_LOADN(g + i, r, z));
        if (b) v = V_ADD(v, r == VW ? V_LOAD(b + i) : V_LOADN(b + i, r, z));
        if (r == VW) V_STORE(out + i, v);
        else V_STOREN(out + i, v, r);
    }
}

static void k_rmsnorm(int64_t n, const float *x, const float *g, float eps, float *out) {
    float inv;
    vf vi;
    int64_t i = 0;
    if (n <= 0) return;
    inv = 1.0f / sqrtf(sum_sq_dev(n, x, 0.0f) / (float)n + eps);
    vi = V_SET1(inv);
    for (; i < n; i += VW) {
        int r = n - i < VW ? (int)(n - i) : VW;
        vf z = V_SET1(0.0f), v;
        v = V_MUL(r == VW ? V_LOAD(x + i) : V_LOADN(x + i, r, z), vi);
        if (g) v = V_MUL(v, r == VW ? V_LOAD(g + i) : V_LOADN(g + i, r, z));
        if (r == VW) V_STORE(out + i, v);
        else V_STOREN(out + i, v, r);
    }
}

// ---- rotary embedding ---------------------------------------------------------------

static void k_rope(int64_t d, float *x, const float *c, const float *s, int neox) {
    int64_t half = d / 2, i = 0;
    if (neox) {
        float *y = x + half;
        for (; i < half; i += VW) {
            int r = half - i < VW ? (int)(half - i) : VW;
            vf z = V_SET1(0.0f), x0, x1, vc, vs, o0, o1;
            if (r == VW) {
                x0 = V_LOAD(x + i); x1 = V_LOAD(y + i);
                vc = V_LOAD(c + i); vs = V_LOAD(s + i);
            } else {
                x0 = V_LOADN(x + i, r, z); x1 = V_LOADN(y + i, r, z);
                vc = V_LOADN(c + i, r, z); vs = V_LOADN(s + i, r, z);
            }
            o0 = V_FNMA(x1, vs, V_MUL(x0, vc));
            o1 = V_FMA(x0, vs, V_MUL(x1, vc));
            if (r == VW) {
                V_STORE(x + i, o0);
                V_STORE(y + i, o1);
            } else {
                V_STOREN(x + i, o0, r);
                V_STOREN(y + i, o1, r);
            }
        }
        return;
    }
    for (; i + VW <= half; i += VW) V_ROPE_PAIRS(x + 2 * i, c + i, s + i);
    if (i < half) { // last < VW pairs through a padded copy
        float xb[2 * VW], cb[VW], sb[VW];
        size_t r = (size_t)(half - i);
        memset(xb, 0, sizeof xb);
        memset(cb, 0, sizeof cb);
        memset(sb, 0, sizeof sb);
        memcpy(xb, x + 2 * i, 2 * r * sizeof(float));
        memcpy(cb, c + i, r * sizeof(float));
        memcpy(sb, s + i, r * sizeof(float));
        V_ROPE_PAIRS(xb, cb, sb);
        memcpy(x + 2 * i, xb, 2 * r * sizeof(float));
    }
}

// Fills the slots this file provides (conversions are per ISA).
static void tfm__vec_body_fill(tfm__kernels *k) {
    k->dot = k_dot;
    k->axpy = k_axpy;
    k->add = k_add;
    k->mul = k_mul;
    k->scale = k_scale;
    k->exp = k_exp;
    k->softmax = k_softmax;
    k->layernorm = k_layernorm;
    k->rmsnorm = k_rmsnorm;
    k->act[0] = k_copy; // TFM_ACT_NONE
    k->act[1] = k_relu;
    k->act[2] = k_gelu;
    k->act[3] = k_gelu_tanh;
    k->act[4] = k_silu;
    k->act[5] = k_tanh;
    k->act[6] = k_sigmoid;
    k->rope = k_rope;
}

#endif /* TFM_VEC_BODY_H */
