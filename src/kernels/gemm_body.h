/*
 * Scalar parts of the GEMM building blocks written once for the ISAs whose
 * micro-kernel broadcasts A and keeps full-width accumulators (avx2/, neon/);
 * avx512/ masks its edges and transposes in registers instead. As with
 * vec_body.h, each ISA's gemm.c includes this file, so the functions are
 * static and compiled with that folder's flags.
 *
 * The includer defines GEMM_MR and GEMM_NR before including it, and then
 * the panel kernels of gemv_p_body.h.
 */
#ifndef TFM_GEMM_BODY_H
#define TFM_GEMM_BODY_H

#include <stdint.h>

#include "gemv_p_body.h"

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

#endif /* TFM_GEMM_BODY_H */
