/*
 * The arithmetic the attention core relies on (src/nn/attention.c): for
 * every kernel set, the small-M kernel on packed B panels gives the same
 * bits as the micro-kernel, and a chain of axpy from zero (then add) gives
 * the same bits as the micro-kernel with alpha 1 (then beta 1). With these,
 * a query row's attention is the same whether its call holds one query (a
 * decoding step) or a block of them.
 */
#include "harness.h"
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

static const char *const isas[] = {"ref", "avx2", "avx512", "neon"};

static float *buf(int64_t n) {
    float *x = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (x) tfmt_fill(x, n);
    return x;
}

// gemv_p (m rows read in place) against ukr (the same rows packed) on one
// packed B block of k x n, n <= nr.
static void check_gemv_p(const tfm__gemm_kernels *g, int64_t m, int64_t n, int64_t k,
                         float alpha, float beta) {
    int64_t lda = k + 3, ldc = n + 1;
    float *a = buf(m * lda), *b = buf(n * k), *ap = buf(g->mr * (k > 0 ? k : 1)),
          *bp = buf(g->nr * (k > 0 ? k : 1)), *c1 = buf(m * ldc), *c2 = buf(m * ldc);
    REQUIRE(a && b && ap && bp && c1 && c2);
    memcpy(c2, c1, (size_t)(m * ldc) * sizeof(float));
    g->pack_a(m, k, a, lda, ap);
    g->pack_b(k, n, b, k, 1, bp, k * g->nr);
    g->ukr(k, ap, bp, alpha, beta, c1, ldc, m, n);
    g->gemv_p(m, n, k, alpha, a, lda, bp, beta, c2, ldc);
    CHECK(memcmp(c1, c2, (size_t)(m * ldc) * sizeof(float)) == 0);
    free(a); free(b); free(ap); free(bp); free(c1); free(c2);
}

TEST(attn_kernels_gemv_p_matches_ukr) {
    static const int64_t ks[] = {0, 1, 7, 64, 300};
    int t, ki;
    int64_t m;
    tfmt_seed(11);
    for (t = 0; t < 4; t++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[t]);
        const tfm__gemm_kernels *g;
        if (!kt) continue;
        g = tfm__gemm_of(kt);
        for (ki = 0; ki < 5; ki++)
            for (m = 1; m < g->mr; m++) {
                check_gemv_p(g, m, g->nr, ks[ki], 0.125f, 0.0f);
                check_gemv_p(g, m, g->nr - 1, ks[ki], 1.0f, 1.0f);
                check_gemv_p(g, m, 1, ks[ki], 0.3f, 0.0f);
            }
    }
}

// One row p[k] times V[k, n] (rows ldv apart): ukr on packed panels, alpha
// 1, in two K blocks (beta 0 then 1), against axpy chains from zero and an
// add; n over several panels.
static void check_axpy(const tfm__kernels *kt, const tfm__gemm_kernels *g, int64_t k1,
                       int64_t k2, int64_t n) {
    int64_t ldv = n + 2, k = k1 + k2, j, kk;
    float *p = buf(k), *v = buf(k * ldv), *ap = buf(g->mr * k), *bp = buf(k * g->nr),
          *c1 = buf(n), *c2 = buf(n), *tmp = buf(n);
    REQUIRE(p && v && ap && bp && c1 && c2 && tmp);
    p[k / 2] = 0.0f; // a masked key
    for (kk = 0; kk < 2; kk++) {
        int64_t k0 = kk ? k1 : 0, kb = kk ? k2 : k1;
        if (kb == 0) continue;
        g->pack_a(1, kb, p + k0, kb, ap);
        for (j = 0; j < n; j += g->nr) {
            int64_t nj = n - j < g->nr ? n - j : g->nr;
            g->pack_b(kb, nj, v + k0 * ldv + j, ldv, 0, bp, kb * g->nr);
            g->ukr(kb, ap, bp, 1.0f, kk ? 1.0f : 0.0f, c1 + j, n, 1, nj);
        }
    }
    memset(c2, 0, (size_t)n * sizeof(float));
    for (j = 0; j < k1; j++) kt->axpy(n, p[j], v + j * ldv, c2);
    if (k2 > 0) {
        memset(tmp, 0, (size_t)n * sizeof(float));
        for (j = k1; j < k; j++) kt->axpy(n, p[j], v + j * ldv, tmp);
        kt->add(n, c2, tmp, c2);
    }
    CHECK(memcmp(c1, c2, (size_t)n * sizeof(float)) == 0);
    free(p); free(v); free(ap); free(bp); free(c1); free(c2); free(tmp);
}

TEST(attn_kernels_axpy_matches_ukr) {
    int t;
    tfmt_seed(12);
    for (t = 0; t < 4; t++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[t]);
        const tfm__gemm_kernels *g;
        if (!kt) continue;
        g = tfm__gemm_of(kt);
        check_axpy(kt, g, 1, 0, 64);
        check_axpy(kt, g, 37, 0, 5);
        check_axpy(kt, g, 256, 44, 64);
        check_axpy(kt, g, 256, 1, 100);
        check_axpy(kt, g, 19, 7, 17);
    }
}
