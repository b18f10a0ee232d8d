/*
 * GEMM building blocks, AVX2 + FMA.
 * Flags: -mavx2 -mfma (the avx2 folder's set). MR x NR = 6 x 16: 12 ymm
 * accumulators, 2 B loads and 6 broadcasts per 12 FMAs.
 * Contract: kernels.h, "GEMM". Twin: ref/gemm.c.
 */
#include "../kernels.h"

#include <immintrin.h>

#define GEMM_MR 6
#define GEMM_NR 16

#include "../gemm_body.h"

// ---- packing ----------------------------------------------------------------------

static void pack_b(int64_t k, int64_t n, const float *b, int64_t ldb, int trans_b,
                   float *bp, int64_t ps) {
    int64_t j0, j, p;
    for (j0 = 0; j0 < n; j0 += GEMM_NR, bp += ps) {
        int64_t nj = n - j0 < GEMM_NR ? n - j0 : GEMM_NR;
        if (!trans_b && nj == GEMM_NR) {
            const float *bj = b + j0;
            for (p = 0; p < k; p++) {
                _mm256_storeu_ps(bp + p * GEMM_NR, _mm256_loadu_ps(bj + p * ldb));
                _mm256_storeu_ps(bp + p * GEMM_NR + 8, _mm256_loadu_ps(bj + p * ldb + 8));
            }
        } else if (!trans_b) {
            for (p = 0; p < k; p++)
                for (j = 0; j < GEMM_NR; j++)
                    bp[p * GEMM_NR + j] = j < nj ? b[p * ldb + j0 + j] : 0.0f;
        } else {
            const float *bj = b + j0 * ldb;
            for (p = 0; p < k; p++)
                for (j = 0; j < GEMM_NR; j++)
                    bp[p * GEMM_NR + j] = j < nj ? bj[j * ldb + p] : 0.0f;
        }
    }
}

// ---- micro-kernel -----------------------------------------------------------------

#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ACC_DECL(i) __m256 c##i##_0 = _mm256_setzero_ps(), c##i##_1 = _mm256_setzero_ps();
#define ACC_FMA(i)                                                                  \
    if ((i) < R) {                                                                  \
        __m256 a_ = _mm256_broadcast_ss(&ARow(i));                                  \
        c##i##_0 = _mm256_fmadd_ps(a_, b0, c##i##_0);                               \
        c##i##_1 = _mm256_fmadd_ps(a_, b1, c##i##_1);                               \
    }
// Row i into a full-width destination (C itself or the edge buffer).
#define ACC_STORE(i)                                                                \
    if ((i) < R) {                                                                  \
        float *ci_ = d + (i) * ldd;                                                 \
        __m256 r0_ = _mm256_mul_ps(va, c##i##_0), r1_ = _mm256_mul_ps(va, c##i##_1); \
        if (beta != 0.0f) {                                                         \
            r0_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci_), r0_);                   \
            r1_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci_ + 8), r1_);               \
        }                                                                           \
        _mm256_storeu_ps(ci_, r0_);                                                 \
        _mm256_storeu_ps(ci_ + 8, r1_);                                             \
    }

static void ukr(int64_t k, const float *ap, const float *bp, float alpha, float beta,
                float *c, int64_t ldc, int64_t m, int64_t n) {
    enum { R = GEMM_MR };
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    float t[GEMM_MR * GEMM_NR];
    float *d = c;
    int64_t p, ldd = ldc;
    ROWS6(ACC_DECL)
#define ARow(i) ap[i]
    for (p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
        ROWS6(ACC_FMA)
        ap += GEMM_MR;
        bp += GEMM_NR;
    }
#undef ARow
    if (m < GEMM_MR || n < GEMM_NR) d = edge_in(c, ldc, m, n, beta, t, &ldd);
    ROWS6(ACC_STORE)
    if (d == t) edge_out(t, c, ldc, m, n);
}

// ---- small M ----------------------------------------------------------------------

// Rows a[0..R) times one whole-K B panel; n <= GEMM_NR columns are written.
// LD8(p) loads 8 panel values from p as floats (f32, or f16/bf16 widened).
#define GEMV_P_PANEL(SUF, T, LD8, RR)                                               \
    static void gemv_p##SUF##_##RR(int64_t k, float alpha, const float *a,          \
                                   int64_t lda, const T *bp, float beta, float *c,  \
                                   int64_t ldc, int64_t n) {                        \
        enum { R = RR };                                                            \
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);               \
        float t[GEMM_MR * GEMM_NR];                                                 \
        float *d = c;                                                               \
        int64_t p, ldd = ldc;                                                       \
        ROWS6(ACC_DECL)                                                             \
        for (p = 0; p < k; p++) {                                                   \
            __m256 b0 = LD8(bp), b1 = LD8(bp + 8);                                  \
            ROWS6(ACC_FMA)                                                          \
            bp += GEMM_NR;                                                          \
        }                                                                           \
        if (n < GEMM_NR) d = edge_in(c, ldc, R, n, beta, t, &ldd);                  \
        ROWS6(ACC_STORE)                                                            \
        if (d == t) edge_out(t, c, ldc, R, n);                                      \
    }
#define LD8_F32(p) _mm256_loadu_ps(p)
#define LD8_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define LD8_BF16(p)                                                                 \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                          \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define GEMV_P_PANELS(SUF, T, LD8)                                                  \
    GEMV_P_PANEL(SUF, T, LD8, 1) GEMV_P_PANEL(SUF, T, LD8, 2) GEMV_P_PANEL(SUF, T, LD8, 4)
#define ARow(i) a[(i) * lda + p]
GEMV_P_PANELS(, float, LD8_F32)
GEMV_P_PANELS(_f16, uint16_t, LD8_F16)
GEMV_P_PANELS(_bf16, uint16_t, LD8_BF16)
#undef ARow

// Dot products of one row of A with 4 rows of B: lane-wise sums over K in
// 8-wide steps, the scalar tail added after the horizontal sum, in the same
// order for every element.
static float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void gemv_t(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc) {
    int64_t i, j, p, k8 = k & ~(int64_t)7;
    for (j = 0; j < n; j += 4) {
        int nb = n - j < 4 ? (int)(n - j) : 4, q;
        const float *b0 = b + j * ldb, *b1 = nb > 1 ? b0 + ldb : b0,
                    *b2 = nb > 2 ? b0 + 2 * ldb : b0, *b3 = nb > 3 ? b0 + 3 * ldb : b0;
        for (i = 0; i < m; i++) {
            const float *ai = a + i * lda;
            const float *bq[4];
            __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps(),
                   d2 = _mm256_setzero_ps(), d3 = _mm256_setzero_ps();
            float s[4];
            bq[0] = b0; bq[1] = b1; bq[2] = b2; bq[3] = b3;
            for (p = 0; p < k8; p += 8) {
                __m256 av = _mm256_loadu_ps(ai + p);
                d0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b0 + p), d0);
                d1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b1 + p), d1);
                d2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b2 + p), d2);
                d3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b3 + p), d3);
            }
            s[0] = hsum8(d0); s[1] = hsum8(d1); s[2] = hsum8(d2); s[3] = hsum8(d3);
            for (q = 0; q < nb; q++) {
                float acc = s[q];
                float *cq = c + i * ldc + j + q;
                for (p = k8; p < k; p++) acc += ai[p] * bq[q][p];
                *cq = beta == 0.0f ? alpha * acc : alpha * acc + beta * *cq;
            }
        }
    }
}

void tfm__avx2_init_gemm(tfm__kernels *k) {
    tfm__gemm_kernels *g = &k->gemm;
    g->mr = GEMM_MR;
    g->nr = GEMM_NR;
    g->mc = 120; // see avx512/gemm.c; measured the same way
    g->kc = 768;
    g->nc = 768;
    g->pack_a = pack_a;
    g->pack_b = pack_b;
    g->ukr = ukr;
    g->gemv_t = gemv_t;
    g->gemv_p = gemv_p;
    g->gemv_p_f16 = gemv_p_f16;
    g->gemv_p_bf16 = gemv_p_bf16;
}
