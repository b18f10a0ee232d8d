/*
 * Vector kernels of every SIMD set the CPU runs (avx512, avx2, neon) against
 * their scalar twins in ref/ and against float64, on sizes 0, 1, W-1, W,
 * W+1, 2W+3 and 4099 (W = lanes per vector), with inputs one float off
 * alignment, and in place where the op allows it.
 *
 * Tolerances (the contract stated in src/kernels/vec_body.h):
 *   add, mul, scale                bit-exact with ref
 *   axpy                           1 rounding (fused): |d| <= 2^-23 |y|
 *   dot, layernorm, rmsnorm        relative error vs float64 <= 1e-6 (2e-6)
 *   softmax                        per element, vs float64: rel 2e-6 plus
 *                                  1.2e-7 |ln p| (the rounding of x + mask
 *                                  - max, which the scalar twin shares)
 *   exp                            max rel error 1.5e-7 (normal outputs)
 *   sigmoid, tanh / silu           max rel error 2e-7 / 2.5e-7
 *   gelu / gelu_tanh               rel 1e-6 / 3e-6 (x >= -5), abs 1e-11 below
 *   rope                           |d| <= 2^-22 (|x0| + |x1|)
 *   f16/bf16 <-> f32               bit-exact (all 65536 halves, tie cases,
 *                                  2^20 random f32 bit patterns)
 */
#include "harness.h"
#include "kernels/half.h"
#include "kernels/kernels.h"

#include <float.h>
#include <stdlib.h>

typedef struct {
    const char *name;
    int w; // floats per vector
} isa_t;

static const isa_t g_isas[] = {{"avx512", 16}, {"avx2", 8}, {"neon", 4}};
#define N_ISAS ((int)(sizeof g_isas / sizeof g_isas[0]))

// Sizes for width w; returns the count.
static int sizes_for(int w, int64_t *s) {
    int n = 0;
    s[n++] = 0;
    s[n++] = 1;
    s[n++] = w - 1;
    s[n++] = w;
    s[n++] = w + 1;
    s[n++] = 2 * w + 3;
    s[n++] = 4099;
    return n;
}

#define MAXN 4100
// Buffers with one float of slack in front, so x + 1 is off alignment.
typedef struct {
    float a[MAXN + 16], b[MAXN + 16], c[MAXN + 16], o[MAXN + 16], r[MAXN + 16];
    double t[MAXN + 16];
} bufs_t;

static bufs_t *bufs_new(void) {
    bufs_t *b = (bufs_t *)calloc(1, sizeof *b);
    return b;
}

static uint32_t fbits(float f) { return tfm__f32_bits(f); }

// Number of SIMD sets this CPU runs; 0 means the tests skip.
static int any_isa(void) {
    int i, n = 0;
    for (i = 0; i < N_ISAS; i++) n += tfm__kernels_get(g_isas[i].name) != NULL;
    return n;
}

// ---- elementwise, exact ---------------------------------------------------------

TEST(vec_add_mul_scale_exact) {
    const tfm__kernels *ref = tfm__kernels_get("ref");
    bufs_t *B = bufs_new();
    int ii, si, ns, off;
    int64_t sz[8];
    REQUIRE(B);
    if (!any_isa()) { free(B); SKIP("no SIMD kernel set on this CPU"); }
    tfmt_seed(1);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        ns = sizes_for(g_isas[ii].w, sz);
        for (si = 0; si < ns; si++)
            for (off = 0; off <= 1; off++) {
                int64_t n = sz[si];
                float *a = B->a + off, *b = B->b + off, *o = B->o + off, *r = B->r + off;
                tfmt_fill(a, n);
                tfmt_fill(b, n);
                // add, out separate and out == a
                ref->add(n, a, b, r);
                o[n] = 12345.0f;
                k->add(n, a, b, o);
                CHECK(memcmp(o, r, (size_t)n * 4) == 0);
                CHECK(o[n] == 12345.0f); // nothing written past n
                memcpy(B->c + off, a, (size_t)n * 4);
                k->add(n, B->c + off, b, B->c + off);
                CHECK(memcmp(B->c + off, r, (size_t)n * 4) == 0);
                ref->mul(n, a, b, r);
                k->mul(n, a, b, o);
                CHECK(memcmp(o, r, (size_t)n * 4) == 0);
                memcpy(B->c + off, b, (size_t)n * 4);
                k->mul(n, a, B->c + off, B->c + off);
                CHECK(memcmp(B->c + off, r, (size_t)n * 4) == 0);
                ref->scale(n, -1.75f, a, r);
                k->scale(n, -1.75f, a, o);
                CHECK(memcmp(o, r, (size_t)n * 4) == 0);
                memcpy(o, a, (size_t)n * 4);
                k->scale(n, -1.75f, o, o);
                CHECK(memcmp(o, r, (size_t)n * 4) == 0);
                // act none copies; relu is exact
                k->act[TFM_ACT_NONE](n, a, o);
                CHECK(memcmp(o, a, (size_t)n * 4) == 0);
                ref->act[TFM_ACT_RELU](n, a, r);
                k->act[TFM_ACT_RELU](n, a, o);
                CHECK(memcmp(o, r, (size_t)n * 4) == 0);
                if (tfmt_failed()) {
                    printf("  %s n=%lld off=%d\n", k->name, (long long)n, off);
                    free(B);
                    return;
                }
            }
    }
    free(B);
}

TEST(vec_relu_nan_and_signed_zero) {
    float x[5] = {NAN, -0.0f, -1.0f, 2.0f, INFINITY}, o[5];
    int ii;
    if (!any_isa()) SKIP("no SIMD kernel set on this CPU");
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        k->act[TFM_ACT_RELU](5, x, o); // as ref and PyTorch: x < 0 ? 0 : x
        CHECK(isnan(o[0]) && fbits(o[1]) == 0x80000000u && fbits(o[2]) == 0);
        CHECK(o[3] == 2.0f && o[4] == INFINITY);
    }
}

// ---- axpy, dot ----------------------------------------------------------------------

TEST(vec_axpy_dot) {
    const tfm__kernels *ref = tfm__kernels_get("ref");
    bufs_t *B = bufs_new();
    int ii, si, ns, off;
    int64_t sz[8], i;
    REQUIRE(B);
    if (!any_isa()) { free(B); SKIP("no SIMD kernel set on this CPU"); }
    tfmt_seed(2);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        ns = sizes_for(g_isas[ii].w, sz);
        for (si = 0; si < ns; si++)
            for (off = 0; off <= 1; off++) {
                int64_t n = sz[si];
                float *x = B->a + off, *y = B->o + off, *yr = B->r + off, d;
                double t = 0.0, mag = 0.0;
                tfmt_fill(x, n);
                tfmt_fill(y, n);
                memcpy(yr, y, (size_t)n * 4);
                y[n] = yr[n] = 7.0f;
                ref->axpy(n, 0.37f, x, yr);
                k->axpy(n, 0.37f, x, y);
                CHECK(y[n] == 7.0f);
                for (i = 0; i < n; i++) {
                    // ref rounds twice, the fused kernel once
                    double want = (double)yr[i];
                    if (!(fabs((double)y[i] - want) <=
                          1.2e-7 * fabs(want) + 1.2e-7 * fabs(0.37 * x[i]))) {
                        tfmt_fail(__FILE__, __LINE__, "%s axpy n=%lld [%lld] %.9g vs %.9g",
                                  k->name, (long long)n, (long long)i, y[i], yr[i]);
                        break;
                    }
                }
                d = k->dot(n, x, y);
                for (i = 0; i < n; i++) {
                    t += (double)x[i] * y[i];
                    mag += fabs((double)x[i] * y[i]);
                }
                if (!(fabs(d - t) <= 1e-6 * mag + 1e-30))
                    tfmt_fail(__FILE__, __LINE__, "%s dot n=%lld: %.9g vs %.9g (sum|xy| %g)",
                              k->name, (long long)n, d, t, mag);
                if (tfmt_failed()) { free(B); return; }
            }
    }
    free(B);
}

// ---- transcendental functions ---------------------------------------------------------

typedef double (*dfn)(double);
static double d_exp(double x) { return exp(x); }
static double d_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double d_silu(double x) { return x / (1.0 + exp(-x)); }
static double d_tanh(double x) { return tanh(x); }
static double d_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double d_gelu_tanh(double x) {
    double u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}

typedef struct {
    const char *name;
    int act;      // index into act[], or -1 for exp
    dfn truth;
    double lo, hi; // sweep range
    double rtol;   // relative error bound where |x| >= rel_from
    double rel_from; // below this x the bound is atol (tails near 0)
    double atol;
} fn_case;

static const fn_case g_fns[] = {
    {"exp", -1, d_exp, -87.3, 88.7, 1.5e-7, -1e30, 0.0},
    {"sigmoid", TFM_ACT_SIGMOID, d_sigmoid, -87.0, 40.0, 2e-7, -1e30, 0.0},
    {"silu", TFM_ACT_SILU, d_silu, -87.0, 40.0, 2.5e-7, -1e30, 0.0},
    {"tanh", TFM_ACT_TANH, d_tanh, -12.0, 12.0, 2e-7, -1e30, 0.0},
    {"gelu", TFM_ACT_GELU, d_gelu, -14.0, 14.0, 1e-6, -5.0, 1e-11},
    {"gelu_tanh", TFM_ACT_GELU_TANH, d_gelu_tanh, -14.0, 14.0, 3e-6, -5.0, 1e-11},
};
#define N_FNS ((int)(sizeof g_fns / sizeof g_fns[0]))

static void run_fn(const tfm__kernels *k, const fn_case *f, int64_t n, const float *x,
                   float *o) {
    if (f->act < 0) k->exp(n, x, o);
    else k->act[f->act](n, x, o);
}

// Worst error of o against truth over x; returns 0 when within bounds.
static int fn_within(const fn_case *f, const float *x, const float *o, int64_t n,
                     double *worst, int64_t *at) {
    int64_t i;
    int bad = 0;
    *worst = 0.0;
    *at = -1;
    for (i = 0; i < n; i++) {
        double t = f->truth((double)x[i]), e = fabs((double)o[i] - t), q;
        if ((double)x[i] < f->rel_from) {
            q = e / (f->rtol * fabs(t) + f->atol);
        } else if (fabs(t) < FLT_MIN) { // subnormal results: half an ulp of 2^-149 more
            q = e / (f->rtol * FLT_MIN + 1.5e-45);
        } else {
            q = e / (f->rtol * fabs(t));
        }
        if (!(q <= 1.0)) bad = 1;
        if (!(q <= *worst)) {
            *worst = q;
            *at = i;
        }
    }
    return bad;
}

TEST(vec_transcendental_accuracy) {
    // Dense sweep (2^17 points per function) plus every size and offset.
    enum { NS = 1 << 17 };
    float *x = (float *)malloc(NS * 4 + 64), *o = (float *)malloc(NS * 4 + 64);
    int ii, fi;
    int64_t i;
    REQUIRE(x && o);
    if (!any_isa()) { free(x); free(o); SKIP("no SIMD kernel set on this CPU"); }
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        for (fi = 0; fi < N_FNS; fi++) {
            const fn_case *f = &g_fns[fi];
            double worst, sw = 0.0;
            int64_t at;
            int off;
            for (i = 0; i < NS; i++) x[i] = (float)(f->lo + (f->hi - f->lo) * i / (NS - 1));
            // denser near 0, where the polynomials switch
            for (i = 0; i < NS / 8; i++) x[i] = (float)(-1.0 + 2.0 * i / (NS / 8));
            run_fn(k, f, NS, x, o);
            if (fn_within(f, x, o, NS, &worst, &at))
                tfmt_fail(__FILE__, __LINE__, "%s %s(%.9g) = %.9g, want %.12g (%.2f x bound)",
                          k->name, f->name, x[at], o[at], f->truth(x[at]), worst);
            sw = worst;
            // sizes and alignment: the tail lanes must match the body
            for (off = 0; off <= 1; off++) {
                int64_t sz[8];
                int si, ns = sizes_for(g_isas[ii].w, sz);
                for (si = 0; si < ns; si++) {
                    float *xs = x + NS / 2 + off, *os = o + off;
                    os[sz[si]] = 99.0f;
                    run_fn(k, f, sz[si], xs, os);
                    CHECK(os[sz[si]] == 99.0f);
                    if (fn_within(f, xs, os, sz[si], &worst, &at))
                        tfmt_fail(__FILE__, __LINE__, "%s %s n=%lld off=%d", k->name, f->name,
                                  (long long)sz[si], off);
                    // in place gives the same bits
                    memcpy(o + NS / 2 + off, xs, (size_t)sz[si] * 4);
                    run_fn(k, f, sz[si], o + NS / 2 + off, o + NS / 2 + off);
                    if (memcmp(o + NS / 2 + off, os, (size_t)sz[si] * 4) != 0)
                        tfmt_fail(__FILE__, __LINE__, "%s %s in place n=%lld off=%d", k->name,
                                  f->name, (long long)sz[si], off);
                }
            }
            if (tfmt_failed()) { free(x); free(o); return; }
            (void)sw;
        }
    }
    free(x);
    free(o);
}

TEST(vec_transcendental_special_values) {
    float x[8] = {NAN, INFINITY, -INFINITY, 0.0f, 89.0f, -120.0f, -103.0f, 1e-30f}, o[8];
    int ii;
    if (!any_isa()) SKIP("no SIMD kernel set on this CPU");
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        int a;
        if (!k) continue;
        k->exp(8, x, o);
        CHECK(isnan(o[0]));
        CHECK(o[1] == INFINITY);
        CHECK(o[2] == 0.0f);
        CHECK(o[3] == 1.0f);
        CHECK(o[4] == INFINITY);
        CHECK(o[5] == 0.0f);
        CHECK(o[6] > 0.0f && o[6] < FLT_MIN); // subnormal result kept
        CHECK(fabs(o[6] - exp(-103.0)) <= 2e-45);
        CHECK(o[7] == 1.0f);
        // NaN stays NaN through every activation; infinities where ref has them
        for (a = TFM_ACT_GELU; a <= TFM_ACT_SIGMOID; a++) {
            float r[8];
            int j;
            k->act[a](8, x, o);
            tfm__kernels_ref.act[a](8, x, r);
            for (j = 0; j < 8; j++) {
                if (isnan(r[j]) != isnan(o[j]))
                    tfmt_fail(__FILE__, __LINE__, "%s act %d (%g): %g, ref %g", k->name, a,
                              x[j], o[j], r[j]);
                else if (!isnan(r[j]) && isinf(r[j]) && o[j] != r[j])
                    tfmt_fail(__FILE__, __LINE__, "%s act %d (%g): %g, ref %g", k->name, a,
                              x[j], o[j], r[j]);
            }
        }
        CHECK(o[1] == 1.0f && o[2] == 0.0f); // sigmoid(+-inf)
    }
}

// ---- softmax ------------------------------------------------------------------------

// Softmax of x + mask in float64 into t.
static void softmax_d(int64_t n, const float *x, const float *m, double *t) {
    double mx = -INFINITY, s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double v = (double)x[i] + (m ? m[i] : 0.0);
        t[i] = v;
        if (v > mx) mx = v;
    }
    if (mx == -INFINITY) {
        for (i = 0; i < n; i++) t[i] = 0.0;
        return;
    }
    for (i = 0; i < n; i++) s += (t[i] = exp(t[i] - mx));
    for (i = 0; i < n; i++) t[i] /= s;
}

TEST(vec_softmax_masks) {
    bufs_t *B = bufs_new();
    int ii, si, ns, off, mk;
    int64_t sz[8], i;
    REQUIRE(B);
    if (!any_isa()) { free(B); SKIP("no SIMD kernel set on this CPU"); }
    tfmt_seed(3);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        ns = sizes_for(g_isas[ii].w, sz);
        for (si = 0; si < ns; si++)
            for (off = 0; off <= 1; off++)
                for (mk = 0; mk < 4; mk++) { // none, causal-ish, all -inf, in place
                    int64_t n = sz[si];
                    float *x = B->a + off, *m = mk == 0 || mk == 3 ? NULL : B->b + off;
                    float *o = mk == 3 ? x : B->o + off;
                    for (i = 0; i < n; i++) x[i] = 8.0f * tfmt_randf();
                    if (mk == 1)
                        for (i = 0; i < n; i++) m[i] = (i % 3 == 1) ? -INFINITY : -0.5f * (float)(i % 5);
                    if (mk == 2)
                        for (i = 0; i < n; i++) m[i] = -INFINITY;
                    softmax_d(n, x, m, B->t);
                    o[n] = 5.0f;
                    k->softmax(n, x, m, o);
                    CHECK(o[n] == 5.0f);
                    for (i = 0; i < n; i++) {
                        double t = B->t[i];
                        double tol = t > 0.0 ? (2e-6 + 1.2e-7 * fabs(log(t))) * t : 0.0;
                        if (!(fabs(o[i] - t) <= tol + 1e-37)) {
                            tfmt_fail(__FILE__, __LINE__,
                                      "%s softmax n=%lld off=%d mask=%d [%lld]: %.9g vs %.9g",
                                      k->name, (long long)n, off, mk, (long long)i, o[i], t);
                            break;
                        }
                    }
                    if (mk == 2)
                        for (i = 0; i < n; i++) CHECK(fbits(o[i]) == 0); // zeros, not NaN
                    if (tfmt_failed()) { free(B); return; }
                }
    }
    free(B);
}

TEST(vec_softmax_nan_as_ref) {
    float x[37], m[37], o[37], r[37];
    int ii, j;
    if (!any_isa()) SKIP("no SIMD kernel set on this CPU");
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        for (j = 0; j < 37; j++) {
            x[j] = 0.1f * (float)j;
            m[j] = 0.0f;
        }
        x[20] = NAN; // a NaN anywhere: the row is NaN
        k->softmax(37, x, NULL, o);
        tfm__kernels_ref.softmax(37, x, NULL, r);
        for (j = 0; j < 37; j++) CHECK(isnan(o[j]) && isnan(r[j]));
        for (j = 0; j < 37; j++) m[j] = -INFINITY; // NaN + -inf is NaN: the row is NaN
        k->softmax(37, x, m, o);
        tfm__kernels_ref.softmax(37, x, m, r);
        for (j = 0; j < 37; j++) CHECK(isnan(o[j]) && isnan(r[j]));
        for (j = 0; j < 37; j++) x[j] = NAN; // every position NaN: NaN, not a masked row
        k->softmax(37, x, NULL, o);
        tfm__kernels_ref.softmax(37, x, NULL, r);
        for (j = 0; j < 37; j++) CHECK(isnan(o[j]) && isnan(r[j]));
        for (j = 0; j < 37; j++) x[j] = j == 7 ? NAN : -INFINITY; // one NaN, the rest -inf
        k->softmax(37, x, NULL, o);
        for (j = 0; j < 37; j++) CHECK(isnan(o[j]));
    }
}

// ---- norms -----------------------------------------------------------------------------

TEST(vec_layernorm_rmsnorm) {
    bufs_t *B = bufs_new();
    int ii, si, ns, off, v;
    int64_t sz[8], i;
    REQUIRE(B);
    if (!any_isa()) { free(B); SKIP("no SIMD kernel set on this CPU"); }
    tfmt_seed(4);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        ns = sizes_for(g_isas[ii].w, sz);
        for (si = 1; si < ns; si++) // n = 0 has no mean
            for (off = 0; off <= 1; off++)
                for (v = 0; v < 5; v++) { // g/b: none, g, b, both, both in place
                    int64_t n = sz[si];
                    float *x = B->a + off, *o = v == 4 ? x : B->o + off;
                    const float *g = (v & 1) || v == 4 ? B->b + off : NULL;
                    const float *bb = (v & 2) || v == 4 ? B->c + off : NULL;
                    double mean = 0.0, var = 0.0, ss = 0.0;
                    float eps = 1e-5f;
                    for (i = 0; i < n; i++) x[i] = 3.0f + 2.0f * tfmt_randf(); // offset mean
                    tfmt_fill(B->b + off, n);
                    tfmt_fill(B->c + off, n);
                    for (i = 0; i < n; i++) mean += x[i];
                    mean /= (double)n;
                    for (i = 0; i < n; i++) {
                        var += (x[i] - mean) * (x[i] - mean);
                        ss += (double)x[i] * x[i];
                    }
                    var /= (double)n;
                    for (i = 0; i < n; i++) {
                        double y = (x[i] - mean) / sqrt(var + eps);
                        if (g) y *= g[i];
                        if (bb) y += bb[i];
                        B->t[i] = y;
                    }
                    {
                        float xs[MAXN];
                        memcpy(xs, x, (size_t)n * 4);
                        o[n] = 3.0f;
                        k->layernorm(n, x, g, bb, eps, o);
                        CHECK(o[n] == 3.0f);
                        if (!CHECK_RELERR(o, B->t, n, 2e-6))
                            printf("  %s layernorm n=%lld off=%d v=%d\n", k->name, (long long)n,
                                   off, v);
                        memcpy(x, xs, (size_t)n * 4);
                        for (i = 0; i < n; i++)
                            B->t[i] = x[i] / sqrt(ss / (double)n + eps) * (g ? g[i] : 1.0f);
                        k->rmsnorm(n, x, g, eps, o);
                        if (!CHECK_RELERR(o, B->t, n, 1e-6))
                            printf("  %s rmsnorm n=%lld off=%d v=%d\n", k->name, (long long)n,
                                   off, v);
                    }
                    if (tfmt_failed()) { free(B); return; }
                }
    }
    free(B);
}

// ---- rope -------------------------------------------------------------------------------

TEST(vec_rope_both_layouts) {
    bufs_t *B = bufs_new();
    int ii, di, off, neox;
    int64_t i;
    REQUIRE(B);
    if (!any_isa()) { free(B); SKIP("no SIMD kernel set on this CPU"); }
    tfmt_seed(5);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        int w = g_isas[ii].w;
        int64_t ds[] = {0, 1, 2, 3, 2 * w - 2, 2 * w, 2 * w + 2, 4 * w + 6, 2 * w + 3, 64, 128, 4098};
        if (!k) continue;
        for (di = 0; di < (int)(sizeof ds / sizeof ds[0]); di++)
            for (off = 0; off <= 1; off++)
                for (neox = 0; neox <= 1; neox++) {
                    int64_t d = ds[di], half = d / 2;
                    float *x = B->a + off, *r = B->r + off, *c = B->b + off, *s = B->c + off;
                    tfmt_fill(x, d + 1);
                    for (i = 0; i < half; i++) {
                        double th = 0.37 * (double)(i + 1) + 0.1 * (double)d;
                        c[i] = (float)cos(th);
                        s[i] = (float)sin(th);
                    }
                    memcpy(r, x, (size_t)(d + 1) * 4);
                    tfm__kernels_ref.rope(d, r, c, s, neox);
                    k->rope(d, x, c, s, neox);
                    for (i = 0; i < d + 1; i++) {
                        if (!(fabs(x[i] - r[i]) <= 4.8e-7)) { // |x| <= 1: 2^-22 * 2
                            tfmt_fail(__FILE__, __LINE__, "%s rope d=%lld neox=%d off=%d [%lld]: %.9g vs %.9g",
                                      k->name, (long long)d, neox, off, (long long)i, x[i], r[i]);
                            break;
                        }
                    }
                    if (tfmt_failed()) { free(B); return; }
                }
    }
    free(B);
}

// ---- conversions ------------------------------------------------------------------------

// 2^20 random f32 bit patterns plus all of f: compare a conversion's bits.
static uint64_t g_rs = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) {
    g_rs ^= g_rs << 13;
    g_rs ^= g_rs >> 7;
    g_rs ^= g_rs << 17;
    return (uint32_t)(g_rs >> 16);
}

// Every size and offset of a conversion against ref, with a guard past n.
static void conv_sizes(const tfm__kernels *k, int w, const float *src, const uint16_t *hsrc) {
    int64_t sz[8];
    int si, ns = sizes_for(w, sz), off;
    static uint16_t ho[MAXN + 8], hr[MAXN + 8];
    static float fo[MAXN + 8], fr[MAXN + 8];
    for (si = 0; si < ns; si++)
        for (off = 0; off <= 1; off++) {
            int64_t n = sz[si];
            int c;
            for (c = 0; c < 4; c++) {
                int ok;
                ho[off + n] = 0xabcd;
                fo[off + n] = 42.0f;
                switch (c) {
                case 0:
                    k->f32_to_f16(n, src + off, ho + off);
                    tfm__kernels_ref.f32_to_f16(n, src + off, hr + off);
                    break;
                case 1:
                    k->f32_to_bf16(n, src + off, ho + off);
                    tfm__kernels_ref.f32_to_bf16(n, src + off, hr + off);
                    break;
                case 2:
                    k->f16_to_f32(n, hsrc + off, fo + off);
                    tfm__kernels_ref.f16_to_f32(n, hsrc + off, fr + off);
                    break;
                default:
                    k->bf16_to_f32(n, hsrc + off, fo + off);
                    tfm__kernels_ref.bf16_to_f32(n, hsrc + off, fr + off);
                    break;
                }
                ok = c < 2 ? memcmp(ho + off, hr + off, (size_t)n * 2) == 0 && ho[off + n] == 0xabcd
                           : memcmp(fo + off, fr + off, (size_t)n * 4) == 0 && fo[off + n] == 42.0f;
                if (!ok)
                    tfmt_fail(__FILE__, __LINE__, "%s conversion %d n=%lld off=%d", k->name, c,
                              (long long)n, off);
            }
        }
}

// One kernel set's half-precision conversions (`kind`: "f16" or "bf16"),
// bit for bit against ref's, unaligned and of odd length: every half value
// h[0, 65536) to f32 (fr: ref's floats) and src[0, n) to halves (hr: ref's).
static void check_half_both_ways(const char *isa, const char *kind,
                                 void (*to_f32)(int64_t, const uint16_t *, float *),
                                 void (*from_f32)(int64_t, const float *, uint16_t *),
                                 const uint16_t *h, const float *fr, float *f,
                                 const float *src, int64_t n, const uint16_t *hr, uint16_t *ho) {
    int64_t i, bad = -1;
    to_f32(65536 - 1, h + 1, f + 1);
    to_f32(1, h, f);
    for (i = 0; i < 65536 && bad < 0; i++)
        if (fbits(f[i]) != fbits(fr[i])) bad = i;
    if (bad >= 0)
        tfmt_fail(__FILE__, __LINE__, "%s %s 0x%04x -> 0x%08x, ref 0x%08x", isa, kind,
                  (unsigned)bad, (unsigned)fbits(f[bad]), (unsigned)fbits(fr[bad]));
    from_f32(n - 1, src + 1, ho + 1);
    from_f32(1, src, ho);
    for (i = 0, bad = -1; i < n && bad < 0; i++)
        if (ho[i] != hr[i]) bad = i;
    if (bad >= 0)
        tfmt_fail(__FILE__, __LINE__, "%s f32 0x%08x -> %s 0x%04x, ref 0x%04x", isa,
                  (unsigned)fbits(src[bad]), kind, (unsigned)ho[bad], (unsigned)hr[bad]);
}

TEST(vec_f16_conversions_exhaustive) {
    enum { NF = 65536 * 3 + (1 << 20) };
    uint16_t *h = (uint16_t *)malloc(65536 * 2 + 8), *ho = (uint16_t *)malloc(NF * 2 + 8),
             *hr = (uint16_t *)malloc(NF * 2 + 8);
    float *f = (float *)malloc(65536 * 4 + 8), *fr = (float *)malloc(65536 * 4 + 8),
          *src = (float *)malloc(NF * 4 + 8);
    int ii;
    int64_t i, n = 0;
    REQUIRE(h && ho && hr && f && fr && src);
    if (!any_isa()) {
        free(h); free(ho); free(hr); free(f); free(fr); free(src);
        SKIP("no SIMD kernel set on this CPU");
    }
    for (i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    tfm__kernels_ref.f16_to_f32(65536, h, fr);
    // f32 sources: every half's value, and the midpoints to its neighbour
    // and one ulp either side (the ties of round-to-nearest-even).
    for (i = 0; i < 65536; i++) {
        uint32_t mid;
        src[n++] = fr[i];
        if ((i & 0x7fff) >= 0x7c00) continue;
        mid = fbits((float)(((double)fr[i] + (double)tfm__h2f((uint16_t)(i + 1))) / 2));
        src[n++] = tfm__bits_f32(mid);
        src[n++] = tfm__bits_f32(mid + 1);
        src[n++] = tfm__bits_f32(mid - 1);
    }
    for (i = 0; i < (1 << 20) && n < NF; i++) src[n++] = tfm__bits_f32(rnd32());
    tfm__kernels_ref.f32_to_f16(n, src, hr);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        check_half_both_ways(k->name, "f16", k->f16_to_f32, k->f32_to_f16, h, fr, f, src, n, hr,
                             ho);
        conv_sizes(k, g_isas[ii].w, src + 3 * 65536, h + 1000);
    }
    free(h); free(ho); free(hr); free(f); free(fr); free(src);
}

TEST(vec_bf16_conversions_exhaustive) {
    enum { NF = 65536 * 4 + (1 << 20) };
    uint16_t *h = (uint16_t *)malloc(65536 * 2 + 8), *ho = (uint16_t *)malloc(NF * 2 + 8),
             *hr = (uint16_t *)malloc(NF * 2 + 8);
    float *f = (float *)malloc(65536 * 4 + 8), *fr = (float *)malloc(65536 * 4 + 8),
          *src = (float *)malloc(NF * 4 + 8);
    int ii;
    int64_t i, n = 0;
    REQUIRE(h && ho && hr && f && fr && src);
    if (!any_isa()) {
        free(h); free(ho); free(hr); free(f); free(fr); free(src);
        SKIP("no SIMD kernel set on this CPU");
    }
    for (i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    tfm__kernels_ref.bf16_to_f32(65536, h, fr);
    for (i = 0; i < 65536; i++) { // each value, its tie with the next, +-1 ulp
        uint32_t u = (uint32_t)i << 16;
        src[n++] = tfm__bits_f32(u);
        src[n++] = tfm__bits_f32(u | 0x8000);
        src[n++] = tfm__bits_f32(u | 0x8001);
        src[n++] = tfm__bits_f32(u | 0x7fff);
    }
    for (i = 0; i < (1 << 20) && n < NF; i++) src[n++] = tfm__bits_f32(rnd32());
    tfm__kernels_ref.f32_to_bf16(n, src, hr);
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        check_half_both_ways(k->name, "bf16", k->bf16_to_f32, k->f32_to_bf16, h, fr, f, src, n,
                             hr, ho);
    }
    free(h); free(ho); free(hr); free(f); free(fr); free(src);
}

// ---- ops level: the kernel set in use, 1 vs 3 threads ------------------------------------

TEST(vec_ops_bit_identical_across_threads) {
    enum { R = 64, C = 771 };
    int64_t shape[2] = {R, C}, vshape[1] = {C};
    float *x = (float *)malloc(R * C * 4), *m = (float *)malloc(R * C * 4),
          *g = (float *)malloc(C * 4), *b = (float *)malloc(C * 4);
    float *o1 = (float *)malloc(R * C * 4), *o3 = (float *)malloc(R * C * 4);
    tfm_ctx *c1 = tfmt_ctx(1), *c3 = tfmt_ctx(3);
    tfm_tensor tx, tm, tg, tb, t1, t3;
    int op;
    REQUIRE(x && m && g && b && o1 && o3);
    tfmt_seed(6);
    tfmt_fill(x, R * C);
    tfmt_fill(g, C);
    tfmt_fill(b, C);
    for (op = 0; op < R * C; op++) m[op] = (op % C) > (op / C) * 12 ? -INFINITY : 0.0f;
    tfm_tensor_wrap(&tx, TFM_F32, 2, shape, x);
    tfm_tensor_wrap(&tm, TFM_F32, 2, shape, m);
    tfm_tensor_wrap(&tg, TFM_F32, 1, vshape, g);
    tfm_tensor_wrap(&tb, TFM_F32, 1, vshape, b);
    tfm_tensor_wrap(&t1, TFM_F32, 2, shape, o1);
    tfm_tensor_wrap(&t3, TFM_F32, 2, shape, o3);
    for (op = 0; op < 12; op++) {
        tfm_ctx *cs[2];
        tfm_tensor *ts[2];
        int j;
        cs[0] = c1; cs[1] = c3;
        ts[0] = &t1; ts[1] = &t3;
        for (j = 0; j < 2; j++) {
            tfm_ctx *c = cs[j];
            tfm_tensor *t = ts[j];
            memset(t->data, 0, R * C * 4);
            switch (op) {
            case 0: CHECK_OK(c, tfm_softmax(c, &tx, NULL, t)); break;
            case 1: CHECK_OK(c, tfm_softmax(c, &tx, &tm, t)); break;
            case 2: CHECK_OK(c, tfm_layernorm(c, &tx, &tg, &tb, 1e-5f, t)); break;
            case 3: CHECK_OK(c, tfm_rmsnorm(c, &tx, &tg, 1e-6f, t)); break;
            case 4: CHECK_OK(c, tfm_add(c, &tx, &tb, t)); break;
            case 5: CHECK_OK(c, tfm_scale(c, &tx, 0.125f, t)); break;
            default: CHECK_OK(c, tfm_activation(c, (tfm_act)(op - 6), &tx, t)); break;
            }
        }
        if (memcmp(o1, o3, R * C * 4) != 0)
            tfmt_fail(__FILE__, __LINE__, "op %d differs between 1 and 3 threads (kernels %s)",
                      op, tfm_kernels_name());
    }
    tfm_ctx_free(c1);
    tfm_ctx_free(c3);
    free(x); free(m); free(g); free(b); free(o1); free(o3);
}

TEST(vec_tables_named) {
    int ii;
    CHECK_STR(tfm__kernels_get("ref")->name, "ref");
    for (ii = 0; ii < N_ISAS; ii++) {
        const tfm__kernels *k = tfm__kernels_get(g_isas[ii].name);
        if (!k) continue;
        CHECK_STR(k->name, g_isas[ii].name);
        CHECK(k->softmax != tfm__kernels_ref.softmax); // vector slots overridden
        CHECK(k->f32_to_f16 != tfm__kernels_ref.f32_to_f16);
    }
    CHECK(tfm__kernels_get(tfm_kernels_name()) == tfm__k());
}
