/*
 * Scalar parts of the GEMM building blocks written once for the ISAs whose
 * micro-kernel broadcasts A and keeps full-width accumulators (avx2/, neon/);
 * avx512/ masks its edges and transposes in registers instead. As with
 * vec_body.h, each ISA's gemm.c includes this file, so the functions are
 * static and compiled with that folder's flags.
 *
 * The includer defines GEMM_MR and GEMM_NR before including it, and then
 * the panel kernels gemv_p_1, gemv_p_2 and gemv_p_4 (R rows of A times one
 * whole-K B panel, n <= GEMM_NR columns written) that gemv_p dispatches to,
 * and their twins over f16 and bf16 panels (gemv_p_f16_1, ..., gemv_p_bf16_4)
 * for gemv_p_f16 and gemv_p_bf16.
 */
#ifndef TFM_GEMM_BODY_H
#define TFM_GEMM_BODY_H

#include <stdint.h>

// The panel kernels, for f32 panels and (suffix _f16, _bf16) 16-bit ones.
#define GEMV_P_DECL(SUF, T)                                                         \
    static void gemv_p##SUF##_1(int64_t k, float alpha, const float *a, int64_t lda, \
                                const T *bp, float beta, float *c, int64_t ldc,     \
                                int64_t n);                                         \
    static void gemv_p##SUF##_2(int64_t k, float alpha, const float *a, int64_t lda, \
                                const T *bp, float beta, float *c, int64_t ldc,     \
                                int64_t n);                                         \
    static void gemv_p##SUF##_4(int64_t k, float alpha, const float *a, int64_t lda, \
                                const T *bp, float beta, float *c, int64_t ldc,     \
                                int64_t n);
GEMV_P_DECL(, float)
GEMV_P_DECL(_f16, uint16_t)
GEMV_P_DECL(_bf16, uint16_t)
#undef GEMV_P_DECL

// A[m, k] (row stride lda) into micro-panels of GEMM_MR rows, k-major,
// rows past m zero.
static void pack_a(int64_t m, int64_t k, const float *a, int64_t lda, float *ap) {
    int64_t i0, i, p;
    for (i0 = 0; i0 < m; i0 += GEMM_MR, ap += k * GEMM_MR) {
        int64_t mi = m - i0 < GEMM_MR ? m - i0 : GEMM_MR;
        const float *ai = a + i0 * lda;
        for (p = 0; p < k; p++)
            for (i = 0; i < GEMM_MR; i++)
                ap[p * GEMM_MR + i] = i < mi ? ai[i * lda + p] : 0.0f;
    }
}

// Edge tiles (m < GEMM_MR rows or n < GEMM_NR columns of C) get the same
// arithmetic as full ones through a full-size buffer t: edge_in gives the
// destination the kernel stores its rows to (t, holding C's m x n corner
// when beta reads it), edge_out copies that corner back to C.
static inline float *edge_in(float *c, int64_t ldc, int64_t m, int64_t n, float beta, float *t,
                             int64_t *ldd) {
    int64_t i, j;
    *ldd = GEMM_NR;
    if (beta != 0.0f)
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) t[i * GEMM_NR + j] = c[i * ldc + j];
    return t;
}

static inline void edge_out(const float *t, float *c, int64_t ldc, int64_t m, int64_t n) {
    int64_t i, j;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) c[i * ldc + j] = t[i * GEMM_NR + j];
}

// C[m, n] = alpha * A[m, k] Bp + beta * C for B packed as whole-K panels of
// GEMM_NR columns (f32, or 16-bit values widened in the panel kernels):
// each panel against 4, 2 or 1 rows of A at a time.
#define GEMV_P_DISPATCH(SUF, T)                                                     \
    static void gemv_p##SUF(int64_t m, int64_t n, int64_t k, float alpha,           \
                            const float *a, int64_t lda, const T *bp, float beta,   \
                            float *c, int64_t ldc) {                                \
        int64_t j;                                                                  \
        for (j = 0; j < n; j += GEMM_NR, bp += k * GEMM_NR) {                       \
            int64_t nj = n - j < GEMM_NR ? n - j : GEMM_NR, i, left;                \
            for (i = 0; i < m; i += left) {                                         \
                const float *ai = a + i * lda;                                      \
                float *ci = c + i * ldc + j;                                        \
                left = m - i;                                                       \
                if (left >= 4) {                                                    \
                    left = 4;                                                       \
                    gemv_p##SUF##_4(k, alpha, ai, lda, bp, beta, ci, ldc, nj);      \
                } else if (left >= 2) {                                             \
                    left = 2;                                                       \
                    gemv_p##SUF##_2(k, alpha, ai, lda, bp, beta, ci, ldc, nj);      \
                } else {                                                            \
                    left = 1;                                                       \
                    gemv_p##SUF##_1(k, alpha, ai, lda, bp, beta, ci, ldc, nj);      \
                }                                                                   \
            }                                                                       \
        }                                                                           \
    }
GEMV_P_DISPATCH(, float)
GEMV_P_DISPATCH(_f16, uint16_t)
GEMV_P_DISPATCH(_bf16, uint16_t)
#undef GEMV_P_DISPATCH

#endif /* TFM_GEMM_BODY_H */
