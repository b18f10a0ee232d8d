/*
 * GEMM building blocks, AVX-512F.
 * Flags: -mavx512f (the avx512 folder's set). MR x NR = GEMM_MR x 16*GEMM_NV
 * (8 x 48: 24 zmm accumulators, 3 B loads and 8 broadcasts per 24 FMAs;
 * 128 = 16 * 8 rows and 768 = 16 * 48 columns tile exactly).
 * Contract: kernels.h, "GEMM". Twin: ref/gemm.c.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#define GEMM_MR 8
#define GEMM_NV 3
#define GEMM_NR (16 * GEMM_NV)
#define GEMV_P_ROWS 8

#include "../gemv_p_body.h"

// ---- packing ----------------------------------------------------------------------

static void transpose16(__m512 *r);

static void pack_a(int64_t m, int64_t k, const float *a, int64_t lda, float *ap) {
    int64_t i0, i, p;
    for (i0 = 0; i0 < m; i0 += GEMM_MR, ap += k * GEMM_MR) {
        int64_t mi = m - i0 < GEMM_MR ? m - i0 : GEMM_MR;
        const float *ai = a + i0 * lda;
        // 16 values of k of the mr rows at a time, transposed in registers
        // (rows past m and past mr are zero; the low 8 lanes are stored).
        for (p = 0; p < k; p += 16) {
            int64_t kq = k - p < 16 ? k - p : 16, q;
            __mmask16 mk = kq == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << kq) - 1);
            __m512 r[16];
            for (i = 0; i < 16; i++)
                r[i] = i < mi ? _mm512_maskz_loadu_ps(mk, ai + i * lda + p) : _mm512_setzero_ps();
            transpose16(r);
            for (q = 0; q < kq; q++)
                _mm256_storeu_ps(ap + (p + q) * GEMM_MR, _mm512_castps512_ps256(r[q]));
        }
    }
}

// In-place transpose of a 16 x 16 block held as 16 rows: r[i][j] -> r[j][i].
static void transpose16(__m512 *r) {
    __m512 t[16], u[16];
    int i, c;
    for (i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    // u[4b + c], 128-bit lane L: rows 4b..4b+3 of column 4L + c.
    for (i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88),
               w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88),
               v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD),
               w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}

static void pack_b(int64_t k, int64_t n, const float *b, int64_t ldb, int trans_b,
                   float *bp, int64_t ps) {
    int64_t j0, j, p;
    for (j0 = 0; j0 < n; j0 += GEMM_NR, bp += ps) {
        int64_t nj = n - j0 < GEMM_NR ? n - j0 : GEMM_NR;
        if (!trans_b) {
            const float *bj = b + j0;
            if (nj == GEMM_NR) {
                for (p = 0; p < k; p++) {
                    int v;
                    for (v = 0; v < GEMM_NV; v++)
                        _mm512_storeu_ps(bp + p * GEMM_NR + 16 * v,
                                        _mm512_loadu_ps(bj + p * ldb + 16 * v));
                }
            } else {
                for (p = 0; p < k; p++) {
                    int v;
                    for (v = 0; v < GEMM_NV; v++) {
                        int64_t left = nj - 16 * v;
                        __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF
                                       : left <= 0 ? (__mmask16)0
                                                   : (__mmask16)((1u << left) - 1);
                        _mm512_storeu_ps(bp + p * GEMM_NR + 16 * v,
                                        _mm512_maskz_loadu_ps(mk, bj + p * ldb + 16 * v));
                    }
                }
            }
        } else {
            // B[n, k]: 16 x 16 blocks (16 rows of B by 16 values of k)
            // transposed in registers, 16 k-rows of the panel at a time.
            const float *bj = b + j0 * ldb;
            for (p = 0; p < k; p += 16) {
                int64_t kq = k - p < 16 ? k - p : 16, q;
                __mmask16 mk = kq == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << kq) - 1);
                int blk;
                for (blk = 0; blk < GEMM_NV; blk++) {
                    __m512 r[16];
                    if (16 * blk >= nj) { // past the last row: zeros, nothing to transpose
                        for (q = 0; q < kq; q++)
                            _mm512_storeu_ps(bp + (p + q) * GEMM_NR + 16 * blk,
                                             _mm512_setzero_ps());
                        continue;
                    }
                    for (j = 0; j < 16; j++) {
                        int64_t row = 16 * blk + j;
                        r[j] = row < nj ? _mm512_maskz_loadu_ps(mk, bj + row * ldb + p)
                                        : _mm512_setzero_ps();
                    }
                    transpose16(r);
                    for (q = 0; q < kq; q++)
                        _mm512_storeu_ps(bp + (p + q) * GEMM_NR + 16 * blk, r[q]);
                }
            }
        }
    }
}

// ---- micro-kernel -----------------------------------------------------------------
// Written out row by row (no arrays of vectors): compilers keep named vector
// variables in registers but spill arrays of them at -O2.

#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ACC_DECL(i)                                                                 \
    __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps(),          \
           c##i##_2 = _mm512_setzero_ps();
// Row i of a tile with R live rows: acc += a[i] * (b0 b1 b2).
#define ACC_FMA(i)                                                                  \
    if ((i) < R) {                                                                  \
        __m512 a_ = _mm512_set1_ps(ARow(i));                                        \
        c##i##_0 = _mm512_fmadd_ps(a_, b0, c##i##_0);                               \
        c##i##_1 = _mm512_fmadd_ps(a_, b1, c##i##_1);                               \
        c##i##_2 = _mm512_fmadd_ps(a_, b2, c##i##_2);                               \
    }
// C row i = alpha * acc + beta * C (beta == 0: C not read), columns masked.
#define ACC_STORE1(i, v)                                                            \
    {                                                                               \
        float *ci_ = c + (i) * ldc + 16 * (v);                                      \
        __m512 r_ = _mm512_mul_ps(va, c##i##_##v);                                  \
        if (beta != 0.0f)                                                           \
            r_ = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk##v, ci_), r_);        \
        _mm512_mask_storeu_ps(ci_, mk##v, r_);                                      \
    }
#define ACC_STORE(i)                                                                \
    if ((i) < R && (i) < m) {                                                       \
        ACC_STORE1(i, 0) ACC_STORE1(i, 1) ACC_STORE1(i, 2)                          \
    }

static __mmask16 col_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF
           : left <= 0 ? (__mmask16)0
                       : (__mmask16)((1u << left) - 1);
}

static void ukr(int64_t k, const float *ap, const float *bp, float alpha, float beta,
                float *c, int64_t ldc, int64_t m, int64_t n) {
    enum { R = GEMM_MR };
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mk0 = col_mask(n), mk1 = col_mask(n - 16), mk2 = col_mask(n - 32);
    int64_t p;
    ROWS8(ACC_DECL)
#define ARow(i) ap[i]
    for (p = 0; p < k; p++) {
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16),
               b2 = _mm512_loadu_ps(bp + 32);
        ROWS8(ACC_FMA)
        ap += GEMM_MR;
        bp += GEMM_NR;
    }
#undef ARow
    // Edge tiles differ only in the masks and rows stored, so every element
    // gets the same arithmetic as in a full tile.
    ROWS8(ACC_STORE)
}

// ---- small M ----------------------------------------------------------------------

// Rows a[0..R) (R <= 8, R <= m) times one whole-K B panel, n <= GEMM_NR columns.
// LD16(p) loads 16 panel values from p as floats (f32, or f16/bf16 widened).
#define GEMV_P_PANEL(SUF, T, LD16, RR)                                              \
    static void gemv_p##SUF##_##RR(int64_t k, float alpha, const float *a,          \
                                   int64_t lda, const T *bp, float beta, float *c,  \
                                   int64_t ldc, int64_t n) {                        \
        enum { R = RR };                                                            \
        const int64_t m = R;                                                        \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);               \
        __mmask16 mk0 = col_mask(n), mk1 = col_mask(n - 16), mk2 = col_mask(n - 32);\
        int64_t p;                                                                  \
        ROWS8(ACC_DECL)                                                             \
        for (p = 0; p < k; p++) {                                                   \
            __m512 b0 = LD16(bp), b1 = LD16(bp + 16), b2 = LD16(bp + 32);           \
            if (R == 1) { /* decoding streams the panel once: ask for it early */   \
                _mm_prefetch((const char *)(bp + GEMM_NR * 16), _MM_HINT_T0);       \
                _mm_prefetch((const char *)(bp + GEMM_NR * 16) + 64, _MM_HINT_T0);  \
                if (sizeof(T) == 4)                                                 \
                    _mm_prefetch((const char *)(bp + GEMM_NR * 16) + 128, _MM_HINT_T0); \
            }                                                                       \
            ROWS8(ACC_FMA)                                                          \
            bp += GEMM_NR;                                                          \
        }                                                                           \
        ROWS8(ACC_STORE)                                                            \
    }
#define LD16_F32(p) _mm512_loadu_ps(p)
#define LD16_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define LD16_BF16(p)                                                                \
    _mm512_castsi512_ps(_mm512_slli_epi32(                                          \
        _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))

#define GEMV_P(SUF, T, LD16)                                                        \
    GEMV_P_PANEL(SUF, T, LD16, 1)                                                   \
    GEMV_P_PANEL(SUF, T, LD16, 2)                                                   \
    GEMV_P_PANEL(SUF, T, LD16, 4)                                                   \
    GEMV_P_PANEL(SUF, T, LD16, 8)
#define ARow(i) a[(i) * lda + p]
GEMV_P(, float, LD16_F32)
GEMV_P(_f16, uint16_t, LD16_F16)
GEMV_P(_bf16, uint16_t, LD16_BF16)
#undef ARow

static float finish(float acc, float alpha, float beta, const float *c) {
    return beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

// Dot products of R rows of A with NB (<= 4) rows of B: lane-wise sums over
// K in 16-wide steps (masked tail), then one horizontal sum per element; the
// same for every element whatever R and NB.
#define DOT_ROW_DECL(i)                                                             \
    __m512 d##i##_0 = _mm512_setzero_ps(), d##i##_1 = _mm512_setzero_ps(),          \
           d##i##_2 = _mm512_setzero_ps(), d##i##_3 = _mm512_setzero_ps();
#define DOT_ROW_FMA(i)                                                              \
    if ((i) < R) {                                                                  \
        __m512 a_ = _mm512_maskz_loadu_ps(mk, a + (i) * lda + p);                   \
        d##i##_0 = _mm512_fmadd_ps(a_, e0, d##i##_0);                               \
        d##i##_1 = _mm512_fmadd_ps(a_, e1, d##i##_1);                               \
        d##i##_2 = _mm512_fmadd_ps(a_, e2, d##i##_2);                               \
        d##i##_3 = _mm512_fmadd_ps(a_, e3, d##i##_3);                               \
    }
#define DOT_OUT1(i, j)                                                              \
    if ((j) < nb)                                                                   \
        c[(i) * ldc + (j)] = finish(_mm512_reduce_add_ps(d##i##_##j), alpha, beta,  \
                                    c + (i) * ldc + (j));
#define DOT_ROW_OUT(i)                                                              \
    if ((i) < R) { DOT_OUT1(i, 0) DOT_OUT1(i, 1) DOT_OUT1(i, 2) DOT_OUT1(i, 3) }
#define ROWS4(X) X(0) X(1) X(2) X(3)
#define GEMV_T_BLOCK(RR)                                                            \
    static void gemv_t_##RR(int nb, int64_t k, float alpha, const float *a,         \
                            int64_t lda, const float *b, int64_t ldb, float beta,   \
                            float *c, int64_t ldc) {                                \
        enum { R = RR };                                                            \
        const float *b0 = b, *b1 = nb > 1 ? b + ldb : b, *b2 = nb > 2 ? b + 2 * ldb : b, \
                    *b3 = nb > 3 ? b + 3 * ldb : b;                                 \
        int64_t p;                                                                  \
        ROWS4(DOT_ROW_DECL)                                                         \
        for (p = 0; p < k; p += 16) {                                               \
            __mmask16 mk = col_mask(k - p);                                         \
            __m512 e0 = _mm512_maskz_loadu_ps(mk, b0 + p),                          \
                   e1 = _mm512_maskz_loadu_ps(mk, b1 + p),                          \
                   e2 = _mm512_maskz_loadu_ps(mk, b2 + p),                          \
                   e3 = _mm512_maskz_loadu_ps(mk, b3 + p);                          \
            ROWS4(DOT_ROW_FMA)                                                      \
        }                                                                           \
        ROWS4(DOT_ROW_OUT)                                                          \
    }
GEMV_T_BLOCK(1)
GEMV_T_BLOCK(2)
GEMV_T_BLOCK(4)

static void gemv_t(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc) {
    int64_t j, i, left;
    for (j = 0; j < n; j += 4) {
        int nb = n - j < 4 ? (int)(n - j) : 4;
        for (i = 0; i < m; i += left) {
            const float *ai = a + i * lda, *bj = b + j * ldb;
            float *ci = c + i * ldc + j;
            left = m - i;
            if (left >= 4) { left = 4; gemv_t_4(nb, k, alpha, ai, lda, bj, ldb, beta, ci, ldc); }
            else if (left >= 2) { left = 2; gemv_t_2(nb, k, alpha, ai, lda, bj, ldb, beta, ci, ldc); }
            else { left = 1; gemv_t_1(nb, k, alpha, ai, lda, bj, ldb, beta, ci, ldc); }
        }
    }
}

void tfm__avx512_init_gemm(tfm__kernels *k) {
    tfm__gemm_kernels *g = &k->gemm;
    g->mr = GEMM_MR;
    g->nr = GEMM_NR;
    // Measured on Zen 5 (48 KiB L1d, 1 MiB L2, 32 MiB L3): a 128 x 768 A block
    // (384 KiB) and a 768 x 48 B micro-panel (144 KiB) stay in L2; K = 768 is
    // one block. kc 256..768 are within 5% of each other for M = 128. nc (for
    // B packed per call) 768: the 2.3 MiB B block stays in L3; 768 beat 384
    // and 3072 by 10-20% at 128 x 768 x 3072.
    g->mc = 128;
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
