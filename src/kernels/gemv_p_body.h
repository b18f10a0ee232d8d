/*
 * The small-M kernels over packed B panels, written once for every ISA:
 * gemv_p (f32 panels), gemv_p_f16 and gemv_p_bf16 (16-bit panels widened in
 * the panel kernels) dispatch each panel of GEMM_NR columns to the panel
 * kernels gemv_p<SUF>_R (R rows of A times one whole-K panel, n <= GEMM_NR
 * columns written; R = 1, 2, 4, and 8 where the includer defines
 * GEMV_P_ROWS 8), which the includer defines after including this file.
 * Compiled with the including ISA's flags (functions are static).
 */
#ifndef TFM_GEMV_P_BODY_H
#define TFM_GEMV_P_BODY_H

#include <stdint.h>

#ifndef GEMV_P_ROWS
#  define GEMV_P_ROWS 4
#endif

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
#if GEMV_P_ROWS >= 8
#  define GEMV_P_DECL8(SUF, T)                                                      \
    static void gemv_p##SUF##_8(int64_t k, float alpha, const float *a, int64_t lda, \
                                const T *bp, float beta, float *c, int64_t ldc,     \
                                int64_t n);
#  define GEMV_P_8(SUF) gemv_p##SUF##_8
#else
#  define GEMV_P_DECL8(SUF, T)
#  define GEMV_P_8(SUF) gemv_p##SUF##_4 // never taken
#endif
GEMV_P_DECL8(, float)
GEMV_P_DECL8(_f16, uint16_t)
GEMV_P_DECL8(_bf16, uint16_t)
GEMV_P_DECL(, float)
GEMV_P_DECL(_f16, uint16_t)
GEMV_P_DECL(_bf16, uint16_t)
#undef GEMV_P_DECL

// C[m, n] = alpha * A[m, k] Bp + beta * C for B packed as whole-K panels of
// GEMM_NR columns (f32, or 16-bit values widened in the panel kernels):
// each panel against 8 (GEMV_P_ROWS 8), 4, 2 or 1 rows of A at a time.
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
                if (GEMV_P_ROWS >= 8 && left >= 8) {                                \
                    left = 8;                                                       \
                    GEMV_P_8(SUF)(k, alpha, ai, lda, bp, beta, ci, ldc, nj);        \
                } else if (left >= 4) {                                             \
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

#endif /* TFM_GEMV_P_BODY_H */
