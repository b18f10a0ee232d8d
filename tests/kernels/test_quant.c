/*
 * Quantized weights (Q8, Q4): every kernel set the CPU runs, with and
 * without its int8 dot-product instructions, against the scalar twin on
 * awkward sizes (the same bits: kernels.h's contract); the scalar twin
 * against the dequantized product; the row, copy and check helpers; and the
 * forward of a quantized tfm__linear: the same bits for 1, 2 and 3 threads,
 * sliced on and off the panel grid.
 */
#include "harness.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

static const char *const isas[] = {"ref",  "avx2",  "avx2-novnni", "avx512", "avx512-novnni",
                                   "neon", "neon-nodot"};
#define N_ISAS 7

static int64_t kblocks(int64_t k) { return (k + TFM__QK - 1) / TFM__QK; }

// A random [n, k] matrix quantized into panels (caller frees), and its
// values as floats (wf, [n, k], dequantized).
static uint8_t *rand_matrix(int dtype, int64_t n, int64_t k, float *wf) {
    tfm_ctx *ctx = tfmt_ctx(1);
    size_t bytes = tfm__q_bytes(dtype, n, k);
    uint8_t *p = (uint8_t *)malloc(bytes);
    float *w = (float *)malloc((size_t)(n * k) * sizeof(float));
    tfm_tensor t;
    int64_t shp[2], r;
    shp[0] = n;
    shp[1] = k;
    tfmt_fill(w, n * k);
    if (n * k > 2) w[1] = 0.0f, w[2] = -w[0]; // ties in |x|
    tfm_tensor_wrap(&t, TFM_F32, 2, shp, w);
    CHECK_OK(ctx, tfm__q_quantize(ctx, dtype, &t, 0, n, k, p));
    for (r = 0; r < n; r++) tfm__q_row(dtype, p, k, r, wf + r * k);
    free(w);
    tfm_ctx_free(ctx);
    return p;
}

TEST(quant_activations_all_isas) {
    static const int64_t ks[] = {1, 5, 31, 32, 33, 64, 100, 775};
    const tfm__quant_kernels *r = &tfm__quant_ref;
    int s, ki;
    tfmt_seed(5);
    for (s = 0; s < N_ISAS; s++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[s]);
        const tfm__quant_kernels *q;
        if (!kt) continue;
        q = tfm__quant_of(kt);
        for (ki = 0; ki < 8; ki++) {
            int64_t k = ks[ki], kb = kblocks(k), i;
            float *x = (float *)malloc((size_t)k * sizeof(float));
            int8_t *q0 = (int8_t *)malloc((size_t)kb * 32), *q1 = (int8_t *)malloc((size_t)kb * 32);
            float *d0 = (float *)malloc((size_t)kb * sizeof(float));
            float *d1 = (float *)malloc((size_t)kb * sizeof(float));
            int32_t *s0 = (int32_t *)malloc((size_t)kb * sizeof(int32_t));
            int32_t *s1 = (int32_t *)malloc((size_t)kb * sizeof(int32_t));
            tfmt_fill(x, k);
            for (i = 0; i < k && i < 32; i++) x[i] = i == 7 ? 0.0f : x[i] * 3.0f;
            if (k >= 64)
                for (i = 32; i < 64; i++) x[i] = 0.0f; // an all-zero block
            if (k >= 100) x[70] = NAN;                   // non-finite blocks: d NaN, q 0
            if (k == 775) {
                x[100] = INFINITY;
                x[700] = -INFINITY;
                x[774] = NAN; // in the partial last block
            }
            memset(q1, 0x55, (size_t)kb * 32);
            r->quantize(k, x, q0, d0, s0);
            q->quantize(k, x, q1, d1, s1);
            if (memcmp(q0, q1, (size_t)kb * 32) || memcmp(d0, d1, (size_t)kb * sizeof(float)) ||
                memcmp(s0, s1, (size_t)kb * sizeof(int32_t)))
                tfmt_fail(__FILE__, __LINE__, "%s k=%lld: not the scalar twin's blocks", isas[s],
                          (long long)k);
            for (i = 0; i < kb; i++) {
                int64_t j, bad = 0;
                for (j = i * 32; j < k && j < i * 32 + 32; j++) bad |= !isfinite(x[j]);
                if (bad) { // see kernels.h
                    CHECK(isnan(d0[i]) && s0[i] == 0);
                    for (j = 0; j < 32; j++) CHECK(q0[i * 32 + j] == 0);
                    continue;
                }
                for (j = i * 32; j < k && j < i * 32 + 32; j++) // within half a step of x
                    CHECK(fabsf((float)q0[j] * d0[i] - x[j]) <= 0.5f * d0[i] * 1.0001f);
            }
            free(x); free(q0); free(q1); free(d0); free(d1); free(s0); free(s1);
        }
    }
}

// C[m, n] through every ISA's kernel, panel by panel, against the scalar
// twin (bits) and the dequantized product (close).
static void check_product(int dtype, int64_t m, int64_t n, int64_t k) {
    int64_t kb = kblocks(k), i, j, p, np = (n + TFM__QP - 1) / TFM__QP;
    size_t ps = tfm__q_bytes(dtype, TFM__QP, k);
    float *wf = (float *)malloc((size_t)(n * k) * sizeof(float));
    uint8_t *w = rand_matrix(dtype, n, k, wf);
    float *x = (float *)malloc((size_t)(m * k) * sizeof(float));
    int8_t *aq = (int8_t *)malloc((size_t)(m * kb * 32));
    float *ad = (float *)malloc((size_t)(m * kb) * sizeof(float));
    int32_t *as = (int32_t *)malloc((size_t)(m * kb) * sizeof(int32_t));
    float *c0 = (float *)malloc((size_t)(m * n) * sizeof(float));
    float *c1 = (float *)malloc((size_t)(m * n) * sizeof(float));
    const tfm__quant_kernels *r = &tfm__quant_ref;
    int s;
    tfmt_fill(x, m * k);
    for (i = 0; i < m; i++) r->quantize(k, x + i * k, aq + i * kb * 32, ad + i * kb, as + i * kb);
    for (p = 0; p < np; p++)
        (dtype == TFM__Q4 ? r->q4 : r->q8)(m, kb, aq, ad, as, w + p * ps, c0 + p * TFM__QP, n,
                                           n - p * TFM__QP < TFM__QP ? n - p * TFM__QP : TFM__QP);
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double e = 0.0, mag = 0.0;
            int64_t t;
            for (t = 0; t < k; t++) {
                double a = (double)aq[i * kb * 32 + t] * ad[i * kb + t / 32];
                e += a * wf[j * k + t];
                mag += fabs(a * wf[j * k + t]);
            }
            if (!(fabs(e - c0[i * n + j]) <= 1e-5 * (mag + 1e-6))) {
                tfmt_fail(__FILE__, __LINE__, "%s m=%lld n=%lld k=%lld: C[%lld, %lld] = %g, the "
                          "dequantized product %g", tfm_dtype_name((tfm_dtype)dtype),
                          (long long)m, (long long)n, (long long)k, (long long)i, (long long)j,
                          c0[i * n + j], e);
                i = m;
                break;
            }
        }
    for (s = 1; s < N_ISAS; s++) {
        const tfm__kernels *kt = tfm__kernels_get(isas[s]);
        const tfm__quant_kernels *q;
        if (!kt) continue;
        q = tfm__quant_of(kt);
        for (i = 0; i < m * n; i++) c1[i] = -1.0f;
        for (p = 0; p < np; p++)
            (dtype == TFM__Q4 ? q->q4 : q->q8)(m, kb, aq, ad, as, w + p * ps, c1 + p * TFM__QP,
                                               n, n - p * TFM__QP < TFM__QP ? n - p * TFM__QP
                                                                            : TFM__QP);
        if (memcmp(c0, c1, (size_t)(m * n) * sizeof(float)) != 0)
            tfmt_fail(__FILE__, __LINE__, "%s %s m=%lld n=%lld k=%lld: not the scalar twin's "
                      "bits", isas[s], tfm_dtype_name((tfm_dtype)dtype), (long long)m,
                      (long long)n, (long long)k);
    }
    free(wf); free(w); free(x); free(aq); free(ad); free(as); free(c0); free(c1);
}

TEST(quant_products_all_isas) {
    static const int64_t ns[] = {1, 7, 16, 17, 40};
    static const int64_t ks[] = {1, 31, 32, 70, 256};
    int f, ni, ki;
    int64_t m;
    tfmt_seed(6);
    for (f = 0; f < 2; f++)
        for (m = 1; m <= 11; m += (m < 4 ? 1 : 3))
            for (ni = 0; ni < 5; ni++)
                for (ki = 0; ki < 5; ki++) check_product(f ? TFM__Q4 : TFM__Q8, m, ns[ni], ks[ki]);
    // Whole 16-row tiles (AMX) and their remainders.
    for (f = 0; f < 2; f++)
        for (m = 16; m <= 35; m += (m == 17 ? 15 : m == 32 ? 3 : 1))
            for (ni = 0; ni < 5; ni += 2)
                for (ki = 0; ki < 5; ki += 2)
                    check_product(f ? TFM__Q4 : TFM__Q8, m, ns[ni], ks[ki]);
}

// Q8: GGUF's rule on fixed values (d = amax / 127, q = round(x / d),
// halves away from zero). Q4: GGUF's Q4_1 block (f16 d and m, w = d n + m),
// every value within half a step of x.
TEST(quant_block_rules) {
    tfm_ctx *ctx = tfmt_ctx(1);
    float w[32], row[32], d, m;
    uint8_t p[TFM__Q8_BLOCK];
    tfm_tensor t;
    int64_t shp[2] = {1, 32};
    int i, n;
    for (i = 0; i < 32; i++) w[i] = (float)(i - 20) * 0.25f; // -5 .. 2.75
    tfm_tensor_wrap(&t, TFM_F32, 2, shp, w);
    CHECK_OK(ctx, tfm__q_quantize(ctx, TFM__Q8, &t, 0, 1, 32, p));
    // d = 5 / 127 (f16 0x290a); q[0] = -127, q[20] = 0, q[31] = round(2.75 * 25.4) = 70
    CHECK_EQ_INT(p[0] | p[1] << 8, 0x290a);
    CHECK_EQ_INT((int8_t)p[32], -127);
    CHECK_EQ_INT((int8_t)p[32 + 5 * 64], 0);        // value 20: group 5, byte 0
    CHECK_EQ_INT((int8_t)p[32 + 7 * 64 + 3], 70);   // value 31: group 7, byte 3
    CHECK_OK(ctx, tfm__q_quantize(ctx, TFM__Q4, &t, 0, 1, 32, p));
    d = tfm_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    m = tfm_f16_to_f32((uint16_t)(p[32] | p[33] << 8));
    CHECK(d > 0.45f && d < 0.55f && m >= -5.3f && m <= -4.7f);
    tfm__q_row(TFM__Q4, p, 32, 0, row);
    for (i = 0; i < 32; i++) {
        n = i < 16 ? p[64 + (i / 4) * 64 + i % 4] & 15 : p[64 + ((i - 16) / 4) * 64 + i % 4] >> 4;
        CHECK(row[i] == d * (float)n + m);
        CHECK(fabsf(row[i] - w[i]) <= 0.5f * d * 1.001f);
    }
    tfm_ctx_free(ctx);
}

TEST(quant_rows_copy_and_check) {
    const int64_t n = 37, k = 70;
    float *wf = (float *)malloc((size_t)(n * k) * sizeof(float)), row[70];
    uint8_t *w = rand_matrix(TFM__Q8, n, k, wf), *c;
    int64_t r;
    c = (uint8_t *)malloc(tfm__q_bytes(TFM__Q8, 20, k));
    tfm__q_copy_rows(TFM__Q8, w, k, 9, 20, c);
    for (r = 0; r < 20; r++) {
        tfm__q_row(TFM__Q8, c, k, r, row);
        CHECK(memcmp(row, wf + (r + 9) * k, sizeof row) == 0);
    }
    CHECK_EQ_INT(tfm__q_check(TFM__Q8, w, n, k), -1);
    w[tfm__q_bytes(TFM__Q8, 32, k) + 32 + 64 + 4 * 3] = 0x80; // row 35, value 4: -128
    CHECK_EQ_INT(tfm__q_check(TFM__Q8, w, n, k), 35);
    w[tfm__q_bytes(TFM__Q8, 16, k) + 2 * 5 + 1] = 0x7c;       // row 21's scale: inf
    CHECK_EQ_INT(tfm__q_check(TFM__Q8, w, n, k), 21);
    free(wf); free(w); free(c);
}

// The forward of a quantized tfm__linear (bias, rows apart, slices) on 1, 2
// and 3 threads: the bits of the kernels on the whole matrix.
TEST(quant_linear_threads_and_slices) {
    const int64_t n = 70, k = 100, m = 9;
    int f;
    tfmt_seed(8);
    for (f = 0; f < 2; f++) {
        int dtype = f ? TFM__Q4 : TFM__Q8, th;
        float *wf = (float *)malloc((size_t)(n * k) * sizeof(float));
        uint8_t *w = rand_matrix(dtype, n, k, wf);
        float *x = (float *)malloc((size_t)(m * k) * sizeof(float)), bias[70];
        float *y0 = (float *)malloc((size_t)(m * n) * sizeof(float));
        float *y1 = (float *)malloc((size_t)(m * n) * sizeof(float));
        tfm_tensor tw, tb;
        int64_t shp[2] = {n, k};
        tfmt_fill(x, m * k);
        tfmt_fill(bias, n);
        tfm_tensor_wrap(&tw, TFM_F32, 2, shp, w);
        tw.dtype = dtype;
        tfm_tensor_wrap(&tb, TFM_F32, 1, &shp[0], bias);
        for (th = 1; th <= 3; th++) {
            tfm_ctx *ctx = tfmt_ctx(th);
            tfm__linear l, s1, s2;
            int64_t rows;
            CHECK_OK(ctx, tfm__linear_init(ctx, &l, &tw, &tb, k, n, 1, "test", "w", "b"));
            CHECK_EQ_INT(l.format, f ? TFM__WF_Q4 : TFM__WF_Q8);
            for (rows = 1; rows <= m; rows += 4) {
                CHECK_OK(ctx, tfm__linear_rows(ctx, &l, rows, x, k, th == 1 ? y0 : y1, n, NULL));
                if (th > 1 && memcmp(y0, y1, (size_t)(rows * n) * sizeof(float)))
                    tfmt_fail(__FILE__, __LINE__, "%s rows=%lld: %d threads differ",
                              tfm_dtype_name((tfm_dtype)dtype), (long long)rows, th);
            }
            // Rows [32, 48): on the grid, in place; rows [5, 40): off it,
            // refused until packed, then the same bits.
            s1 = tfm__linear_slice(&l, 32, 16);
            CHECK_OK(ctx, tfm__linear_rows(ctx, &s1, m, x, k, y1, 16, NULL));
            for (rows = 0; rows < m; rows++)
                CHECK(memcmp(y1 + rows * 16, y0 + rows * n + 32, 16 * sizeof(float)) == 0);
            s2 = tfm__linear_slice(&l, 5, 35);
            CHECK_EQ_INT(tfm__linear_rows(ctx, &s2, m, x, k, y1, 35, NULL), TFM_ERR_UNSUPPORTED);
            CHECK_OK(ctx, tfm__linear_pack(ctx, &s2));
            CHECK_OK(ctx, tfm__linear_rows(ctx, &s2, m, x, k, y1, 35, NULL));
            for (rows = 0; rows < m; rows++)
                CHECK(memcmp(y1 + rows * 35, y0 + rows * n + 5, 35 * sizeof(float)) == 0);
            tfm__linear_release(&s2);
            // Rows not evenly spaced (a [2, 3, k] view whose batches are k * 4
            // apart, a padded row between them): the bits of the rows above.
            if (th == 1) {
                float *xp = (float *)calloc((size_t)(8 * k), sizeof(float));
                float *yp = (float *)malloc((size_t)(6 * n) * sizeof(float));
                int64_t xs[3] = {2, 3, k}, xst[3] = {4 * k, k, 1}, ys[3] = {2, 3, n};
                tfm_tensor tx, ty;
                for (rows = 0; rows < 6; rows++)
                    memcpy(xp + (rows / 3) * 4 * k + (rows % 3) * k, x + rows * k,
                           (size_t)k * sizeof(float));
                tfm_tensor_wrap(&tx, TFM_F32, 3, xs, xp);
                memcpy(tx.stride, xst, sizeof xst);
                tfm_tensor_wrap(&ty, TFM_F32, 3, ys, yp);
                CHECK_OK(ctx, tfm__linear_apply(ctx, &l, &tx, &ty, NULL));
                CHECK(memcmp(yp, y0, (size_t)(6 * n) * sizeof(float)) == 0);
                free(xp);
                free(yp);
            }
            tfm_ctx_free(ctx);
        }
        free(wf); free(w); free(x); free(y0); free(y1);
    }
}
