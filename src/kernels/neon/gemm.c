/*
 * GEMM building blocks, AArch64 NEON (Advanced SIMD, always present).
 * MR x NR = 8 x 12: 24 q-register accumulators; per k step 3 B loads, 2 A
 * loads and 24 lane FMAs.
 * Contract: kernels.h, "GEMM". Twin: ref/gemm.c.
 */
#include "../kernels.h"

#include <arm_neon.h>

#define GEMM_MR 8
#define GEMM_NR 12

#include "../gemm_body.h"

// ---- packing ----------------------------------------------------------------------

static void pack_b(int64_t k, int64_t n, const float *b, int64_t ldb, int trans_b,
                   float *bp, int64_t ps) {
    int64_t j0, j, p;
    for (j0 = 0; j0 < n; j0 += GEMM_NR, bp += ps) {
        int64_t nj = n - j0 < GEMM_NR ? n - j0 : GEMM_NR;
        if (!trans_b && nj == GEMM_NR) {
            for (p = 0; p < k; p++) {
                const float *s = b + p * ldb + j0;
                vst1q_f32(bp + p * GEMM_NR, vld1q_f32(s));
                vst1q_f32(bp + p * GEMM_NR + 4, vld1q_f32(s + 4));
                vst1q_f32(bp + p * GEMM_NR + 8, vld1q_f32(s + 8));
            }
        } else {
            for (p = 0; p < k; p++)
                for (j = 0; j < GEMM_NR; j++)
                    bp[p * GEMM_NR + j] =
                        j >= nj ? 0.0f : trans_b ? b[(j0 + j) * ldb + p] : b[p * ldb + j0 + j];
        }
    }
}

// ---- micro-kernel -----------------------------------------------------------------

#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ACC_DECL(i)                                                                 \
    float32x4_t c##i##_0 = vdupq_n_f32(0.0f), c##i##_1 = vdupq_n_f32(0.0f),         \
                c##i##_2 = vdupq_n_f32(0.0f);
#define ACC_FMA_LANE(i, av, l)                                                      \
    c##i##_0 = vfmaq_laneq_f32(c##i##_0, b0, av, l);                                \
    c##i##_1 = vfmaq_laneq_f32(c##i##_1, b1, av, l);                                \
    c##i##_2 = vfmaq_laneq_f32(c##i##_2, b2, av, l);
#define ACC_FMA_DUP(i)                                                              \
    if ((i) < R) {                                                                  \
        float32x4_t a_ = vdupq_n_f32(a[(i) * lda + p]);                             \
        ACC_FMA_LANE(i, a_, 0)                                                      \
    }
#define ACC_STORE(i)                                                                \
    if ((i) < R) {                                                                  \
        float *ci_ = d + (i) * ldd;                                                 \
        float32x4_t r0_ = vmulq_f32(va, c##i##_0), r1_ = vmulq_f32(va, c##i##_1),   \
                    r2_ = vmulq_f32(va, c##i##_2);                                  \
        if (beta != 0.0f) {                                                         \
            r0_ = vfmaq_f32(r0_, vb, vld1q_f32(ci_));                               \
            r1_ = vfmaq_f32(r1_, vb, vld1q_f32(ci_ + 4));                           \
            r2_ = vfmaq_f32(r2_, vb, vld1q_f32(ci_ + 8));                           \
        }                                                                           \
        vst1q_f32(ci_, r0_);                                                        \
        vst1q_f32(ci_ + 4, r1_);                                                    \
        vst1q_f32(ci_ + 8, r2_);                                                    \
    }

static void ukr(int64_t k, const float *ap, const float *bp, float alpha, float beta,
                float *c, int64_t ldc, int64_t m, int64_t n) {
    enum { R = GEMM_MR };
    float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
    float t[GEMM_MR * GEMM_NR];
    float *d = c;
    int64_t p, ldd = ldc;
    ROWS8(ACC_DECL)
    for (p = 0; p < k; p++) {
        float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4), b2 = vld1q_f32(bp + 8);
        float32x4_t alo = vld1q_f32(ap), ahi = vld1q_f32(ap + 4);
        ACC_FMA_LANE(0, alo, 0) ACC_FMA_LANE(1, alo, 1)
        ACC_FMA_LANE(2, alo, 2) ACC_FMA_LANE(3, alo, 3)
        ACC_FMA_LANE(4, ahi, 0) ACC_FMA_LANE(5, ahi, 1)
        ACC_FMA_LANE(6, ahi, 2) ACC_FMA_LANE(7, ahi, 3)
        ap += GEMM_MR;
        bp += GEMM_NR;
    }
    if (m < GEMM_MR || n < GEMM_NR) d = edge_in(c, ldc, m, n, beta, t, &ldd);
    ROWS8(ACC_STORE)
    if (d == t) edge_out(t, c, ldc, m, n);
}

// ---- small M ----------------------------------------------------------------------

// LD4(p) loads 4 panel values from p as floats (f32, or f16/bf16 widened).
#define GEMV_P_PANEL(SUF, T, LD4, RR)                                               \
    static void gemv_p##SUF##_##RR(int64_t k, float alpha, const float *a,          \
                                   int64_t lda, const T *bp, float beta, float *c,  \
                                   int64_t ldc, int64_t n) {                        \
        enum { R = RR };                                                            \
        float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);                \
        float t[GEMM_MR * GEMM_NR];                                                 \
        float *d = c;                                                               \
        int64_t p, ldd = ldc;                                                       \
        ROWS8(ACC_DECL)                                                             \
        for (p = 0; p < k; p++) {                                                   \
            float32x4_t b0 = LD4(bp), b1 = LD4(bp + 4), b2 = LD4(bp + 8);           \
            ROWS8(ACC_FMA_DUP)                                                      \
            bp += GEMM_NR;                                                          \
        }                                                                           \
        if (n < GEMM_NR) d = edge_in(c, ldc, R, n, beta, t, &ldd);                  \
        ROWS8(ACC_STORE)                                                            \
        if (d == t) edge_out(t, c, ldc, R, n);                                      \
    }
#define LD4_F32(p) vld1q_f32(p)
#define LD4_F16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)))
#define LD4_BF16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16))
#define GEMV_P_PANELS(SUF, T, LD4)                                                  \
    GEMV_P_PANEL(SUF, T, LD4, 1) GEMV_P_PANEL(SUF, T, LD4, 2) GEMV_P_PANEL(SUF, T, LD4, 4)
GEMV_P_PANELS(, float, LD4_F32)
GEMV_P_PANELS(_f16, uint16_t, LD4_F16)
GEMV_P_PANELS(_bf16, uint16_t, LD4_BF16)

// Dot products of one row of A with 4 rows of B: lane-wise sums over K in
// 4-wide steps, the scalar tail added after the horizontal sum.
static void gemv_t(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc) {
    int64_t i, j, p, k4 = k & ~(int64_t)3;
    for (j = 0; j < n; j += 4) {
        int nb = n - j < 4 ? (int)(n - j) : 4, q;
        const float *bq[4];
        bq[0] = b + j * ldb;
        bq[1] = nb > 1 ? bq[0] + ldb : bq[0];
        bq[2] = nb > 2 ? bq[0] + 2 * ldb : bq[0];
        bq[3] = nb > 3 ? bq[0] + 3 * ldb : bq[0];
        for (i = 0; i < m; i++) {
            const float *ai = a + i * lda;
            float32x4_t d0 = vdupq_n_f32(0.0f), d1 = d0, d2 = d0, d3 = d0;
            float s[4];
            for (p = 0; p < k4; p += 4) {
                float32x4_t av = vld1q_f32(ai + p);
                d0 = vfmaq_f32(d0, av, vld1q_f32(bq[0] + p));
                d1 = vfmaq_f32(d1, av, vld1q_f32(bq[1] + p));
                d2 = vfmaq_f32(d2, av, vld1q_f32(bq[2] + p));
                d3 = vfmaq_f32(d3, av, vld1q_f32(bq[3] + p));
            }
            s[0] = vaddvq_f32(d0); s[1] = vaddvq_f32(d1);
            s[2] = vaddvq_f32(d2); s[3] = vaddvq_f32(d3);
            for (q = 0; q < nb; q++) {
                float acc = s[q];
                float *cq = c + i * ldc + j + q;
                for (p = k4; p < k; p++) acc += ai[p] * bq[q][p];
                *cq = beta == 0.0f ? alpha * acc : alpha * acc + beta * *cq;
            }
        }
    }
}

void tfm__neon_init_gemm(tfm__kernels *k) {
    tfm__gemm_kernels *g = &k->gemm;
    g->mr = GEMM_MR;
    g->nr = GEMM_NR;
    g->mc = 128;
    g->kc = 256;
    g->nc = 3072;
    g->pack_a = pack_a;
    g->pack_b = pack_b;
    g->ukr = ukr;
    g->gemv_t = gemv_t;
    g->gemv_p = gemv_p;
    g->gemv_p_f16 = gemv_p_f16;
    g->gemv_p_bf16 = gemv_p_bf16;
}
