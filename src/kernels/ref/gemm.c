/*
 * GEMM building blocks, scalar reference: the twin every SIMD micro-kernel,
 * packing routine and small-M kernel is tested against.
 * ISA: none. MR x NR = 4 x 4 (any works; the driver reads mr/nr from here).
 * Contract: kernels.h, "GEMM". One f32 accumulator per element of C, summed
 * over p in order.
 */
#include "../kernels.h"
#include "../half.h"

#define REF_MR 4
#define REF_NR 4

static void ref_pack_a(int64_t m, int64_t k, const float *a, int64_t lda, float *ap) {
    int64_t i0, i, p;
    for (i0 = 0; i0 < m; i0 += REF_MR, ap += k * REF_MR)
        for (p = 0; p < k; p++)
            for (i = 0; i < REF_MR; i++)
                ap[p * REF_MR + i] = i0 + i < m ? a[(i0 + i) * lda + p] : 0.0f;
}

static void ref_pack_b(int64_t k, int64_t n, const float *b, int64_t ldb, int trans_b,
                       float *bp, int64_t ps) {
    int64_t j0, j, p;
    for (j0 = 0; j0 < n; j0 += REF_NR, bp += ps)
        for (p = 0; p < k; p++)
            for (j = 0; j < REF_NR; j++)
                bp[p * REF_NR + j] =
                    j0 + j >= n ? 0.0f
                                : trans_b ? b[(j0 + j) * ldb + p] : b[p * ldb + j0 + j];
}

static void ref_ukr(int64_t k, const float *ap, const float *bp, float alpha, float beta,
                    float *c, int64_t ldc, int64_t m, int64_t n) {
    float acc[REF_MR][REF_NR];
    int64_t i, j, p;
    for (i = 0; i < REF_MR; i++)
        for (j = 0; j < REF_NR; j++) acc[i][j] = 0.0f;
    for (p = 0; p < k; p++)
        for (i = 0; i < REF_MR; i++)
            for (j = 0; j < REF_NR; j++) acc[i][j] += ap[p * REF_MR + i] * bp[p * REF_NR + j];
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? alpha * acc[i][j]
                                          : alpha * acc[i][j] + beta * c[i * ldc + j];
}

static void ref_gemv_t(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc) {
    int64_t i, j, p;
    for (j = 0; j < n; j++)
        for (i = 0; i < m; i++) {
            float acc = 0.0f;
            for (p = 0; p < k; p++) acc += a[i * lda + p] * b[j * ldb + p];
            c[i * ldc + j] = beta == 0.0f ? alpha * acc : alpha * acc + beta * c[i * ldc + j];
        }
}

static void ref_gemv_p(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const float *bp, float beta, float *c, int64_t ldc) {
    int64_t i, j, p;
    for (j = 0; j < n; j++) {
        const float *panel = bp + (j / REF_NR) * k * REF_NR + j % REF_NR;
        for (i = 0; i < m; i++) {
            float acc = 0.0f;
            for (p = 0; p < k; p++) acc += a[i * lda + p] * panel[p * REF_NR];
            c[i * ldc + j] = beta == 0.0f ? alpha * acc : alpha * acc + beta * c[i * ldc + j];
        }
    }
}

// gemv_p over 16-bit panels: value j of row p widened by `widen`.
#define REF_GEMV_P16(NAME, WIDEN)                                                   \
    static void NAME(int64_t m, int64_t n, int64_t k, float alpha, const float *a,  \
                     int64_t lda, const uint16_t *bp, float beta, float *c,         \
                     int64_t ldc) {                                                 \
        int64_t i, j, p;                                                            \
        for (j = 0; j < n; j++) {                                                   \
            const uint16_t *panel = bp + (j / REF_NR) * k * REF_NR + j % REF_NR;    \
            for (i = 0; i < m; i++) {                                               \
                float acc = 0.0f;                                                   \
                for (p = 0; p < k; p++) acc += a[i * lda + p] * WIDEN(panel[p * REF_NR]); \
                c[i * ldc + j] = beta == 0.0f ? alpha * acc                         \
                                              : alpha * acc + beta * c[i * ldc + j]; \
            }                                                                       \
        }                                                                           \
    }
REF_GEMV_P16(ref_gemv_p_f16, tfm__h2f)
REF_GEMV_P16(ref_gemv_p_bf16, tfm__bf2f)
#undef REF_GEMV_P16

const tfm__gemm_kernels tfm__gemm_ref = {
    REF_MR, REF_NR, 64, 256, 512,
    ref_pack_a, ref_pack_b, ref_ukr, ref_gemv_t, ref_gemv_p, ref_gemv_p_f16, ref_gemv_p_bf16,
};

const tfm__gemm_kernels *tfm__gemm_of(const tfm__kernels *k) {
    return k && k->gemm.ukr ? &k->gemm : &tfm__gemm_ref;
}
