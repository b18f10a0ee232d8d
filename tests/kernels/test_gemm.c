/*
 * GEMM: every kernel set's packing, micro-kernel and small-M kernels against
 * the reference twin and a float64 loop; the driver on edge sizes, strides,
 * unaligned pointers, trans_b, beta and bias; the public tfm_matmul /
 * prepacked API, its errors, and bit-identical results for 1, 2, 3 threads.
 */
#include "harness.h"
#include "kernels/kernels.h"
#include "ops/gemm.h"

#include <stdlib.h>

static const char *const isas[] = {"ref", "avx2", "avx512", "neon"};
#define N_ISAS 4

// C[i, j] = alpha * sum_p A[i, p] op(B)[p, j] + beta * C0[i, j] + bias[j].
static void naive(int64_t m, int64_t n, int64_t k, double alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, int trans_b, double beta,
                  const float *c0, int64_t ldc, const float *bias, double *out) {
    int64_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double s = 0;
            for (p = 0; p < k; p++)
                s += (double)a[i * lda + p] * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
            s *= alpha;
            if (beta != 0) s += beta * c0[i * ldc + j];
            if (bias) s += bias[j];
            out[i * n + j] = s;
        }
}

static float *randbuf(int64_t n) {
    float *x = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    tfmt_fill(x, n);
    return x;
}

// Copies the m x n block of c (ldc) into out (n per row).
static void block(const float *c, int64_t m, int64_t n, int64_t ldc, float *out) {
    int64_t i;
    for (i = 0; i < m; i++) memcpy(out + i * n, c + i * ldc, (size_t)n * sizeof(float));
}

// Checks the guard columns ldc > n of C were left alone.
static int guards_ok(const float *c, int64_t m, int64_t n, int64_t ldc) {
    int64_t i, j;
    for (i = 0; i < m; i++)
        for (j = n; j < ldc; j++)
            if (c[i * ldc + j] != 7.0f) return 0;
    return 1;
}

// ---- packing and micro-kernel ------------------------------------------------------------

static void check_ukr(const char *isa, const tfm__gemm_kernels *g, int64_t m, int64_t n,
                      int64_t k, int trans_b, float beta) {
    int64_t lda = k + 3, ldb = (trans_b ? k : n) + 5, ldc = n + 2, i, j, p;
    int64_t brows = trans_b ? n : k;
    float *a = randbuf(m * lda + 1) + 1, *b = randbuf(brows * ldb + 1) + 1; // unaligned
    float *ap = (float *)malloc((size_t)(g->mr * (k + 1)) * sizeof(float));
    float *bp = (float *)malloc((size_t)(g->nr * (k + 1)) * sizeof(float));
    float *c = (float *)malloc((size_t)(m * ldc) * sizeof(float));
    float *c0 = (float *)malloc((size_t)(m * ldc) * sizeof(float));
    float *got = (float *)malloc((size_t)(m * n + 1) * sizeof(float));
    double *want = (double *)malloc((size_t)(m * n + 1) * sizeof(double));
    int bad = 0;
    for (i = 0; i < m * ldc; i++) c0[i] = (i % ldc) >= n ? 7.0f : tfmt_randf();
    memcpy(c, c0, (size_t)(m * ldc) * sizeof(float));
    if (beta == 0.0f)
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) c[i * ldc + j] = NAN; // must never be read
    g->pack_a(m, k, a, lda, ap);
    g->pack_b(k, n, b, ldb, trans_b, bp, k * g->nr);
    // The packed layouts are exact copies with zero padding.
    for (p = 0; p < k && !bad; p++) {
        for (i = 0; i < g->mr; i++)
            bad |= ap[p * g->mr + i] != (i < m ? a[i * lda + p] : 0.0f);
        for (j = 0; j < g->nr; j++)
            bad |= bp[p * g->nr + j] !=
                   (j < n ? (trans_b ? b[j * ldb + p] : b[p * ldb + j]) : 0.0f);
    }
    if (bad)
        tfmt_fail(__FILE__, __LINE__, "%s pack m=%lld n=%lld k=%lld trans_b=%d", isa,
                  (long long)m, (long long)n, (long long)k, trans_b);
    g->ukr(k, ap, bp, 1.5f, beta, c, ldc, m, n);
    naive(m, n, k, 1.5, a, lda, b, ldb, trans_b, beta, c0, ldc, NULL, want);
    block(c, m, n, ldc, got);
    if (!CHECK_RELERR(got, want, m * n, 1e-5) || !guards_ok(c, m, n, ldc))
        tfmt_fail(__FILE__, __LINE__, "%s ukr m=%lld n=%lld k=%lld trans_b=%d beta=%g", isa,
                  (long long)m, (long long)n, (long long)k, trans_b, beta);
    free(a - 1); free(b - 1); free(ap); free(bp); free(c); free(c0); free(got); free(want);
}

TEST(gemm_ukr_pack_all_isas) {
    int s, done = 0;
    tfmt_seed(11);
    for (s = 0; s < N_ISAS; s++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[s]);
        const tfm__gemm_kernels *g;
        int64_t ms[3], ns[3], ks[5] = {0, 1, 7, 64, 257};
        int im, in, ik, tb;
        if (!kt) continue;
        g = tfm__gemm_of(kt);
        CHECK(g->mr >= 1 && g->nr >= 1 && g->mc % g->mr == 0 && g->kc >= 1);
        ms[0] = 1; ms[1] = g->mr > 1 ? g->mr - 1 : 1; ms[2] = g->mr;
        ns[0] = 1; ns[1] = g->nr > 1 ? g->nr - 1 : 1; ns[2] = g->nr;
        for (im = 0; im < 3; im++)
            for (in = 0; in < 3; in++)
                for (ik = 0; ik < 5; ik++)
                    for (tb = 0; tb < 2; tb++) {
                        check_ukr(isas[s], g, ms[im], ns[in], ks[ik], tb, 0.0f);
                        if (ik == 3) {
                            check_ukr(isas[s], g, ms[im], ns[in], ks[ik], tb, 1.0f);
                            check_ukr(isas[s], g, ms[im], ns[in], ks[ik], tb, -0.5f);
                        }
                    }
        done++;
    }
    CHECK(done >= 1);
}

// ---- the driver on one table ------------------------------------------------------------

typedef struct {
    int64_t m, n, k;
    int trans_b, packed, bias;
    float beta;
} drv_case;

// Runs the serial driver of g on case cs; returns the C block (m x n).
static float *run_driver(const tfm__gemm_kernels *g, const drv_case *cs, const float *a,
                         int64_t lda, const float *b, int64_t ldb, const float *bias,
                         const float *c0, int64_t ldc, int *guards) {
    tfm__gemm_args x;
    float *c = (float *)malloc((size_t)(cs->m * ldc + 1) * sizeof(float)) ;
    float *out = (float *)malloc((size_t)(cs->m * cs->n + 1) * sizeof(float));
    float *bp = NULL;
    int64_t i, j;
    memcpy(c + 1, c0, (size_t)(cs->m * ldc) * sizeof(float));
    if (cs->beta == 0.0f)
        for (i = 0; i < cs->m; i++)
            for (j = 0; j < cs->n; j++) c[1 + i * ldc + j] = NAN;
    memset(&x, 0, sizeof x);
    x.m = cs->m; x.n = cs->n; x.k = cs->k;
    x.alpha = 0.75f; x.beta = cs->beta;
    x.a = a; x.lda = lda;
    x.bias = bias;
    x.c = c + 1; x.ldc = ldc; // unaligned C
    if (cs->packed) {
        int64_t panels = (cs->n + g->nr - 1) / g->nr;
        bp = (float *)malloc((size_t)(panels * g->nr * cs->k + 1) * sizeof(float));
        g->pack_b(cs->k, cs->n, b, ldb, cs->trans_b, bp, cs->k * g->nr);
        x.bp = bp;
    } else {
        x.b = b; x.ldb = ldb; x.trans_b = cs->trans_b;
    }
    CHECK(tfm__gemm_serial(g, &x));
    block(c + 1, cs->m, cs->n, ldc, out);
    *guards = guards_ok(c + 1, cs->m, cs->n, ldc);
    free(c);
    free(bp);
    return out;
}

static void check_driver_case(const char *isa, const tfm__gemm_kernels *g,
                              const drv_case *cs) {
    int64_t lda = cs->k + 5, ldb = (cs->trans_b ? cs->k : cs->n) + 3, ldc = cs->n + 4, i;
    int64_t brows = cs->trans_b ? cs->n : cs->k;
    float *a = randbuf(cs->m * lda + 1), *b = randbuf(brows * ldb + 1);
    float *bias = cs->bias ? randbuf(cs->n) : NULL;
    float *c0 = (float *)malloc((size_t)(cs->m * ldc + 1) * sizeof(float));
    double *want = (double *)malloc((size_t)(cs->m * cs->n + 1) * sizeof(double));
    float *got, *ref;
    int guards = 0, rguards = 0;
    for (i = 0; i < cs->m * ldc; i++) c0[i] = (i % ldc) >= cs->n ? 7.0f : tfmt_randf();
    naive(cs->m, cs->n, cs->k, 0.75, a + 1, lda, b + 1, ldb, cs->trans_b, cs->beta, c0, ldc,
          bias, want);
    got = run_driver(g, cs, a + 1, lda, b + 1, ldb, bias, c0, ldc, &guards);
    ref = run_driver(&tfm__gemm_ref, cs, a + 1, lda, b + 1, ldb, bias, c0, ldc, &rguards);
    if (!CHECK_RELERR(got, want, cs->m * cs->n, 2e-6 * (cs->k > 64 ? 4 : 1)) ||
        !CHECK_RELERR_F(got, ref, cs->m * cs->n, 1e-5) || !guards)
        tfmt_fail(__FILE__, __LINE__,
                  "%s driver m=%lld n=%lld k=%lld trans_b=%d packed=%d bias=%d beta=%g", isa,
                  (long long)cs->m, (long long)cs->n, (long long)cs->k, cs->trans_b,
                  cs->packed, cs->bias, cs->beta);
    free(a); free(b); free(bias); free(c0); free(want); free(got); free(ref);
}

TEST(gemm_driver_all_isas) {
    int s;
    tfmt_seed(12);
    for (s = 0; s < N_ISAS; s++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[s]);
        const tfm__gemm_kernels *g;
        int64_t ms[7], ns[6], ks[5];
        int im, in, ik, v;
        if (!kt) continue;
        g = tfm__gemm_of(kt);
        ms[0] = 1; ms[1] = 3; ms[2] = 9; ms[3] = g->mr + 1; ms[4] = 2 * g->mr - 1;
        ms[5] = g->mc + 1; ms[6] = 37;
        ns[0] = 1; ns[1] = g->nr - 1 > 0 ? g->nr - 1 : 2; ns[2] = g->nr + 1; ns[3] = 2 * g->nr;
        ns[4] = 53; ns[5] = 5;
        ks[0] = 1; ks[1] = 17; ks[2] = g->kc - 1; ks[3] = g->kc + 1; ks[4] = 0;
        for (im = 0; im < 7; im++)
            for (in = 0; in < 6; in++)
                for (ik = 0; ik < 5; ik++) {
                    drv_case cs;
                    // Vary the flags over the grid rather than multiplying it.
                    v = im * 31 + in * 7 + ik;
                    cs.m = ms[im]; cs.n = ns[in]; cs.k = ks[ik];
                    cs.trans_b = v & 1;
                    cs.packed = (v >> 1) & 1;
                    cs.bias = (v >> 2) & 1;
                    cs.beta = (v % 3) == 0 ? 0.0f : (v % 3) == 1 ? 1.0f : -0.5f;
                    if (ik >= 2 && im >= 5 && in >= 3) continue; // keep it quick
                    check_driver_case(isas[s], g, &cs);
                }
        // N across more than one nc block of a plain B, both layouts.
        for (v = 0; v < 4; v++) {
            drv_case cs;
            cs.m = v < 2 ? 3 : 9;
            cs.n = g->nc + g->nr + 3;
            cs.k = 17;
            cs.trans_b = v & 1;
            cs.packed = 0;
            cs.bias = 1;
            cs.beta = v == 3 ? 0.0f : 0.5f;
            if (tfm__gemm_small_m(cs.m, 0, cs.trans_b)) cs.m = 9;
            check_driver_case(isas[s], g, &cs);
        }
    }
}

TEST(gemm_small_m_all_isas) {
    int s;
    tfmt_seed(13);
    for (s = 0; s < N_ISAS; s++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[s]);
        const tfm__gemm_kernels *g;
        int64_t m, ni, ki, ns[4] = {1, 5, 50, 97}, ks[4] = {1, 15, 16, 100};
        if (!kt) continue;
        g = tfm__gemm_of(kt);
        for (m = 1; m <= 8; m++)
            for (ni = 0; ni < 4; ni++)
                for (ki = 0; ki < 4; ki++) {
                    drv_case cs;
                    cs.m = m; cs.n = ns[ni]; cs.k = ks[ki];
                    cs.trans_b = 1;
                    cs.packed = (int)((m + ni) & 1);
                    cs.bias = (int)(ki & 1);
                    cs.beta = (m % 3) == 0 ? 0.0f : (m % 3) == 1 ? 1.0f : 2.0f;
                    CHECK(tfm__gemm_small_m(m, cs.packed, 1));
                    check_driver_case(isas[s], g, &cs);
                }
    }
}

// ---- public API ------------------------------------------------------------------------

// out (m x n) = a (m x k) * op(b) through tfm_matmul or tfm_matmul_packed.
static tfm_status api_mm(tfm_ctx *ctx, int64_t m, int64_t n, int64_t k, const float *a,
                         const float *b, int trans_b, int packed, const float *bias,
                         float beta, float *out) {
    tfm_tensor ta, tb, tbias, to;
    int64_t sa[2], sb[2], so[2], sbias[1];
    tfm_packed_matrix *pm = NULL;
    tfm_status st;
    sa[0] = m; sa[1] = k;
    sb[0] = trans_b ? n : k; sb[1] = trans_b ? k : n;
    so[0] = m; so[1] = n;
    sbias[0] = n;
    tfm_tensor_wrap(&ta, TFM_F32, 2, sa, (void *)a);
    tfm_tensor_wrap(&tb, TFM_F32, 2, sb, (void *)b);
    tfm_tensor_wrap(&to, TFM_F32, 2, so, out);
    tfm_tensor_wrap(&tbias, TFM_F32, 1, sbias, (void *)bias);
    if (!packed)
        return tfm_matmul(ctx, &ta, &tb, trans_b, bias ? &tbias : NULL, 1.0f, beta, &to);
    if ((st = tfm_matrix_pack(ctx, &tb, trans_b, &pm))) return st;
    CHECK_EQ_INT(tfm_packed_matrix_rows(pm), k);
    CHECK_EQ_INT(tfm_packed_matrix_cols(pm), n);
    st = tfm_matmul_packed(ctx, &ta, pm, bias ? &tbias : NULL, 1.0f, beta, &to);
    tfm_packed_matrix_free(pm);
    return st;
}

TEST(gemm_matmul_threads_bit_identical) {
    static const int64_t shapes[][3] = {{1, 200, 64}, {5, 131, 70}, {8, 96, 33},
                                        {67, 150, 90}, {130, 61, 300}, {9, 1000, 20},
                                        {2, 1100, 300}, {8, 700, 200}};
    size_t si;
    tfmt_seed(14);
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
        float *a = randbuf(m * k), *b = randbuf(n * k), *bias = randbuf(n);
        float *out[3];
        double *want = (double *)malloc((size_t)(m * n) * sizeof(double));
        int mode, t;
        for (mode = 0; mode < 4; mode++) {
            int trans_b = mode & 1, packed = mode >> 1;
            naive(m, n, k, 1.0, a, k, b, trans_b ? k : n, trans_b, 0.0, NULL, n, bias, want);
            for (t = 0; t < 3; t++) {
                tfm_ctx *ctx = tfmt_ctx(t + 1);
                int64_t i;
                out[t] = (float *)malloc((size_t)(m * n) * sizeof(float));
                for (i = 0; i < m * n; i++) out[t][i] = NAN;
                CHECK_OK(ctx, api_mm(ctx, m, n, k, a, b, trans_b, packed, bias, 0.0f, out[t]));
                tfm_ctx_free(ctx);
            }
            CHECK_RELERR(out[0], want, m * n, 1e-5);
            if (memcmp(out[0], out[1], (size_t)(m * n) * sizeof(float)) != 0 ||
                memcmp(out[0], out[2], (size_t)(m * n) * sizeof(float)) != 0)
                tfmt_fail(__FILE__, __LINE__,
                          "m=%lld n=%lld k=%lld trans_b=%d packed=%d: results differ "
                          "between 1, 2 and 3 threads",
                          (long long)m, (long long)n, (long long)k, trans_b, packed);
            for (t = 0; t < 3; t++) free(out[t]);
        }
        free(a); free(b); free(bias); free(want);
    }
}

TEST(gemm_matmul_batched_and_strided) {
    // A [2, 3, K] viewed out of a wider buffer (rows strided), out [2, 3, N].
    tfm_ctx *ctx = tfmt_ctx(2);
    int64_t k = 19, n = 23, lda = 24, i, b0;
    int64_t bstride = 3 * lda + 7; // a gap between the matrices: not one flat M
    float *abuf = randbuf(2 * bstride), *w = randbuf(n * k);
    float out[2 * 3 * 23], got[3 * 23];
    double want[3 * 23];
    tfm_tensor ta, tw, to;
    int64_t sw[2] = {23, 19}, so[3] = {2, 3, 23};
    tfmt_seed(15);
    tfm_tensor_wrap(&ta, TFM_F32, 3, so, abuf);
    ta.shape[2] = k;
    ta.stride[2] = 1; ta.stride[1] = lda; ta.stride[0] = bstride;
    tfm_tensor_wrap(&tw, TFM_F32, 2, sw, w);
    tfm_tensor_wrap(&to, TFM_F32, 3, so, out);
    REQUIRE_OK(ctx, tfm_matmul(ctx, &ta, &tw, 1, NULL, 1.0f, 0.0f, &to));
    for (b0 = 0; b0 < 2; b0++) {
        naive(3, n, k, 1.0, abuf + b0 * bstride, lda, w, k, 1, 0.0, NULL, n, NULL, want);
        for (i = 0; i < 3 * n; i++) got[i] = out[b0 * 3 * n + i];
        CHECK_RELERR(got, want, 3 * n, 1e-5);
    }
    // A [3, 1, K] (one row per matrix, rows K + 2 apart): seen as M = 3.
    ta.shape[0] = 3; ta.shape[1] = 1;
    ta.stride[1] = 12345; ta.stride[0] = k + 2;
    to.shape[0] = 3; to.shape[1] = 1;
    to.stride[1] = 777; to.stride[0] = n;
    REQUIRE_OK(ctx, tfm_matmul(ctx, &ta, &tw, 1, NULL, 1.0f, 0.0f, &to));
    naive(3, n, k, 1.0, abuf, k + 2, w, k, 1, 0.0, NULL, n, NULL, want);
    CHECK_RELERR(out, want, 3 * n, 1e-5);
    free(abuf); free(w);
    tfm_ctx_free(ctx);
}

TEST(gemm_matmul_packed_errors) {
    tfm_ctx *ctx = tfmt_ctx(1);
    float a[6] = {0}, b[12] = {0}, o[8] = {0};
    int64_t sa[2] = {2, 3}, sb[2] = {3, 4}, so[2] = {2, 4}, sbad[2] = {4, 3};
    tfm_tensor ta, tb, to, tbad;
    tfm_packed_matrix *pm = (tfm_packed_matrix *)1;
    tfm_tensor_wrap(&ta, TFM_F32, 2, sa, a);
    tfm_tensor_wrap(&tb, TFM_F32, 2, sb, b);
    tfm_tensor_wrap(&to, TFM_F32, 2, so, o);
    tfm_tensor_wrap(&tbad, TFM_F32, 2, sbad, b);
    CHECK_STATUS(tfm_matrix_pack(ctx, NULL, 0, &pm), TFM_ERR_INVALID_ARG);
    CHECK(pm == NULL);
    CHECK_STATUS(tfm_matrix_pack(ctx, &tb, 0, NULL), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_matmul_packed(ctx, &ta, NULL, NULL, 1, 0, &to), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "matmul_packed: b");
    // Packed [4, 3] (K = 4) against a with K = 3.
    REQUIRE_OK(ctx, tfm_matrix_pack(ctx, &tbad, 0, &pm));
    CHECK_STATUS(tfm_matmul_packed(ctx, &ta, pm, NULL, 1, 0, &to), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "K = 4");
    tfm_packed_matrix_free(pm);
    REQUIRE_OK(ctx, tfm_matrix_pack(ctx, &tb, 0, &pm));
    CHECK_OK(ctx, tfm_matmul_packed(ctx, &ta, pm, NULL, 1, 0, &to));
    CHECK_STATUS(tfm_matmul_packed(ctx, &ta, pm, &ta, 1, 0, &to), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "bias");
    tfm_packed_matrix_free(pm);
    tfm_packed_matrix_free(NULL);
    CHECK_EQ_INT(tfm_packed_matrix_rows(NULL), 0);
    tfm_ctx_free(ctx);
}

static tfm_status oom_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx;
    tfm_status st;
    float *a = (float *)arg, out[40 * 40];
    (void)out;
    if ((st = tfm_ctx_create(params, &ctx))) return st;
    st = api_mm(ctx, 40, 40, 40, a, a, 1, 1, NULL, 0.0f, out);
    if (!st) st = api_mm(ctx, 40, 40, 40, a, a, 0, 0, NULL, 0.0f, out);
    tfm_ctx_free(ctx);
    return st;
}

TEST(gemm_matmul_oom) {
    float *a = randbuf(40 * 40);
    CHECK(OOM_WALK(oom_scenario, a) >= 3);
    free(a);
}
