/*
 * Weight matrices kept in f16 and bf16: every kernel set's small-M kernels
 * over 16-bit panels against its own f32 kernel on the widened panels (the
 * same bits, their contract) and against the scalar twin of the same
 * format, on awkward sizes; and the public path (tfm_matrix_pack of an f16
 * or bf16 matrix, tfm_matmul_packed on the GEMM and small-M paths) against
 * the f32 matrix of the widened values: the same bits for 1, 2 and 3
 * threads.
 */
#include "harness.h"
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

static const char *const isas[] = {"ref", "avx2", "avx512", "neon"};
#define N_ISAS 4

// Random 16-bit values (dtype TFM_F16 or TFM_BF16) and their f32 widening.
static void rand16(int dtype, int64_t n, uint16_t *h, float *f) {
    float *x = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    tfmt_fill(x, n);
    if (dtype == TFM_F16) {
        tfm_f32_to_f16_array(x, h, (size_t)n);
        tfm_f16_to_f32_array(h, f, (size_t)n);
    } else {
        tfm_f32_to_bf16_array(x, h, (size_t)n);
        tfm_bf16_to_f32_array(h, f, (size_t)n);
    }
    free(x);
}

static void check_kernel(const char *isa, const tfm__gemm_kernels *g, int dtype, int64_t m,
                         int64_t n, int64_t k, float beta) {
    int64_t nr = g->nr, np = (n + nr - 1) / nr, sz = np * k * nr, i;
    uint16_t *p16 = (uint16_t *)calloc((size_t)sz, sizeof(uint16_t));
    float *p32 = (float *)calloc((size_t)sz, sizeof(float));
    float *a = (float *)malloc((size_t)(m * k) * sizeof(float));
    float *c0 = (float *)malloc((size_t)(m * n) * sizeof(float));
    float *c1 = (float *)malloc((size_t)(m * n) * sizeof(float));
    float *c2 = (float *)malloc((size_t)(m * n) * sizeof(float));
    float *c3 = (float *)malloc((size_t)(m * n) * sizeof(float));
    const tfm__gemm_kernels *r = tfm__gemm_of(tfm__kernels_get("ref"));
    int64_t rp = (n + r->nr - 1) / r->nr, rsz = rp * k * r->nr, j, p;
    uint16_t *r16 = (uint16_t *)calloc((size_t)rsz, sizeof(uint16_t));
    void (*k16)(int64_t, int64_t, int64_t, float, const float *, int64_t, const uint16_t *,
                float, float *, int64_t) = dtype == TFM_F16 ? g->gemv_p_f16 : g->gemv_p_bf16;
    void (*r16k)(int64_t, int64_t, int64_t, float, const float *, int64_t, const uint16_t *,
                 float, float *, int64_t) = dtype == TFM_F16 ? r->gemv_p_f16 : r->gemv_p_bf16;
    // The panels: columns past n stay zero, as tfm_matrix_pack leaves them.
    for (j = 0; j < n; j++)
        for (p = 0; p < k; p++) {
            int64_t at = (j / nr) * k * nr + p * nr + j % nr;
            rand16(dtype, 1, &p16[at], &p32[at]);
            r16[(j / r->nr) * k * r->nr + p * r->nr + j % r->nr] = p16[at];
        }
    tfmt_fill(a, m * k);
    tfmt_fill(c0, m * n);
    memcpy(c1, c0, (size_t)(m * n) * sizeof(float));
    memcpy(c2, c0, (size_t)(m * n) * sizeof(float));
    memcpy(c3, c0, (size_t)(m * n) * sizeof(float));
    k16(m, n, k, 0.75f, a, k, p16, beta, c1, n);
    g->gemv_p(m, n, k, 0.75f, a, k, p32, beta, c2, n);
    r16k(m, n, k, 0.75f, a, k, r16, beta, c3, n);
    if (memcmp(c1, c2, (size_t)(m * n) * sizeof(float)) != 0)
        tfmt_fail(__FILE__, __LINE__, "%s %s m=%lld n=%lld k=%lld: not the bits of gemv_p on "
                  "the widened panels", isa, dtype == TFM_F16 ? "f16" : "bf16", (long long)m,
                  (long long)n, (long long)k);
    for (i = 0; i < m * n; i++)
        if (!(fabsf(c1[i] - c3[i]) <= 1e-4f * (1.0f + fabsf(c3[i])))) {
            tfmt_fail(__FILE__, __LINE__, "%s %s m=%lld n=%lld k=%lld: element %lld is %g, "
                      "the scalar twin %g", isa, dtype == TFM_F16 ? "f16" : "bf16",
                      (long long)m, (long long)n, (long long)k, (long long)i, c1[i], c3[i]);
            break;
        }
    free(p16); free(p32); free(a); free(c0); free(c1); free(c2); free(c3); free(r16);
}

TEST(gemm16_small_m_kernels_all_isas) {
    int s, f;
    tfmt_seed(21);
    for (s = 0; s < N_ISAS; s++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[s]);
        const tfm__gemm_kernels *g;
        int64_t m, ni, ki, ns[6], ks[4] = {1, 3, 16, 100};
        if (!kt) continue;
        g = tfm__gemm_of(kt);
        ns[0] = 1; ns[1] = 5; ns[2] = g->nr - 1; ns[3] = g->nr; ns[4] = g->nr + 1; ns[5] = 97;
        for (f = 0; f < 2; f++)
            for (m = 1; m <= 9; m++)
                for (ni = 0; ni < 6; ni++)
                    for (ki = 0; ki < 4; ki++)
                        if (ns[ni] >= 1)
                            check_kernel(isas[s], g, f ? TFM_BF16 : TFM_F16, m, ns[ni],
                                         ks[ki], (m % 3) == 0 ? 0.0f : 0.5f);
    }
}

// out = a [m, k] op(B) + bias through the packed 16-bit matrix and through
// the packed f32 matrix of the same values.
static void check_api(int dtype, int64_t m, int64_t n, int64_t k, int trans_b, int threads) {
    tfm_ctx *ctx = tfmt_ctx(threads);
    uint16_t *b16 = (uint16_t *)malloc((size_t)(n * k) * sizeof(uint16_t));
    float *b32 = (float *)malloc((size_t)(n * k) * sizeof(float));
    float *a = (float *)malloc((size_t)(m * k) * sizeof(float));
    float *bias = (float *)malloc((size_t)n * sizeof(float));
    float *o16 = (float *)malloc((size_t)(m * n) * sizeof(float));
    float *o32 = (float *)malloc((size_t)(m * n) * sizeof(float));
    tfm_tensor ta, tb16, tb32, tbias, to16, to32;
    tfm_packed_matrix *p16 = NULL, *p32 = NULL;
    int64_t sa[2], sb[2], so[2];
    rand16(dtype, n * k, b16, b32);
    tfmt_fill(a, m * k);
    tfmt_fill(bias, n);
    sa[0] = m; sa[1] = k;
    sb[0] = trans_b ? n : k; sb[1] = trans_b ? k : n;
    so[0] = m; so[1] = n;
    tfm_tensor_wrap(&ta, TFM_F32, 2, sa, a);
    tfm_tensor_wrap(&tb16, (tfm_dtype)dtype, 2, sb, b16);
    tfm_tensor_wrap(&tb32, TFM_F32, 2, sb, b32);
    tfm_tensor_wrap(&tbias, TFM_F32, 1, &n, bias);
    tfm_tensor_wrap(&to16, TFM_F32, 2, so, o16);
    tfm_tensor_wrap(&to32, TFM_F32, 2, so, o32);
    CHECK_OK(ctx, tfm_matrix_pack(ctx, &tb16, trans_b, &p16));
    CHECK_OK(ctx, tfm_matrix_pack(ctx, &tb32, trans_b, &p32));
    if (p16 && p32) {
        CHECK_EQ_INT(tfm_packed_matrix_rows(p16), k);
        CHECK_EQ_INT(tfm_packed_matrix_cols(p16), n);
        CHECK_OK(ctx, tfm_matmul_packed(ctx, &ta, p16, &tbias, 1.0f, 0.0f, &to16));
        CHECK_OK(ctx, tfm_matmul_packed(ctx, &ta, p32, &tbias, 1.0f, 0.0f, &to32));
        if (memcmp(o16, o32, (size_t)(m * n) * sizeof(float)) != 0)
            tfmt_fail(__FILE__, __LINE__, "%s m=%lld n=%lld k=%lld trans_b=%d threads=%d: the "
                      "16-bit matrix does not give the bits of its f32 widening",
                      dtype == TFM_F16 ? "f16" : "bf16", (long long)m, (long long)n,
                      (long long)k, trans_b, threads);
    }
    tfm_packed_matrix_free(p16);
    tfm_packed_matrix_free(p32);
    free(b16); free(b32); free(a); free(bias); free(o16); free(o32);
    tfm_ctx_free(ctx);
}

TEST(gemm16_matmul_packed_as_widened) {
    static const int64_t shapes[][3] = {{1, 200, 64}, {5, 131, 70}, {8, 96, 33},
                                        {9, 50, 17}, {67, 150, 90}, {130, 61, 300},
                                        {2, 1100, 300}, {40, 700, 200}};
    size_t si;
    int f, t, trans;
    tfmt_seed(22);
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (f = 0; f < 2; f++)
            for (trans = 0; trans < 2; trans++)
                for (t = 1; t <= 3; t++)
                    check_api(f ? TFM_BF16 : TFM_F16, shapes[si][0], shapes[si][1],
                              shapes[si][2], trans, t);
}

TEST(gemm16_pack_errors) {
    tfm_ctx *ctx = tfmt_ctx(1);
    uint16_t h[6] = {0};
    tfm_tensor t;
    tfm_packed_matrix *p = (tfm_packed_matrix *)1;
    int64_t sh[2] = {2, 3};
    int64_t sh1 = 6;
    tfm_tensor_wrap(&t, TFM_I32, 2, sh, h);
    CHECK_STATUS(tfm_matrix_pack(ctx, &t, 0, &p), TFM_ERR_DTYPE);
    CHECK(p == NULL);
    tfm_tensor_wrap(&t, TFM_F16, 1, &sh1, h);
    CHECK_STATUS(tfm_matrix_pack(ctx, &t, 0, &p), TFM_ERR_SHAPE);
    tfm_ctx_free(ctx);
}
