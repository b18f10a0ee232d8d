/*
 * Quantized weights, AArch64 NEON: the Q8 and Q4 panel kernels, written once
 * for quant.c (QUANT_DOT 0: widening multiplies) and quant_dot.c (QUANT_DOT
 * 1: sdot, compiled with +dotprod), which name them with QUANT_NAME and give
 * them QUANT_LINKAGE. A 64-byte group of a panel-block is four q registers:
 * 4 qs bytes of rows 0-3, 4-7, 8-11, 12-15; each meets the 4 activation
 * bytes of the group, lane g of the row's block (R rows of A, R = 2, 1).
 * sdot multiplies signed bytes: Q8 as stored, Q4 nibbles n as they are
 * (0..15; their minimum m comes in as m * sum(a)).
 * Contract: kernels.h, "quantized weights". Twin: ref/quant.c.
 */
#include "../kernels.h"

#include <arm_neon.h>
#include <string.h>

#define QUANT_FN(f) QUANT_NAME(f)

// s += the 4-byte dot of each lane of w and the 4 bytes of lane l of a.
#if QUANT_DOT
#  define DOT4(s, w, a, l) vdotq_laneq_s32((s), (w), (a), (l))
#else
static inline int32x4_t dot4(int32x4_t s, int8x16_t w, int8x16_t a4) {
    int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(a4));
    int16x8_t p1 = vmull_high_s8(w, a4);
    return vaddq_s32(s, vpaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1)));
}
#  define DOT4(s, w, a, l)                                                               \
      dot4((s), (w), vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), (l))))
#endif

static inline __attribute__((always_inline)) void qrows(const int q4, const int R, int64_t kb,
                                                        const int8_t *aq, const float *ad,
                                                        const int32_t *as, const uint8_t *w,
                                                        float *c, int64_t ldc, int64_t n) {
    const size_t bs = q4 ? TFM__Q4_BLOCK : TFM__Q8_BLOCK;
    const int64_t la = kb * TFM__QK;
    float32x4_t acc[2][4];
    int64_t b;
    int r, h;
    for (r = 0; r < R; r++)
        for (h = 0; h < 4; h++) acc[r][h] = vdupq_n_f32(0.0f);
    for (b = 0; b < kb; b++, w += bs) {
        int8x16_t a0[2], a1[2];
        int32x4_t s[2][4];
        if (R == 1) { // decoding streams the panels once: ask for them early
            size_t o;
            for (o = 0; o < bs; o += 64) __builtin_prefetch(w + 2048 + o);
        }
        for (r = 0; r < R; r++) {
            a0[r] = vld1q_s8(aq + r * la + b * TFM__QK);
            a1[r] = vld1q_s8(aq + r * la + b * TFM__QK + 16);
            for (h = 0; h < 4; h++) s[r][h] = vdupq_n_s32(0);
        }
#define Q8_GROUP(g, a)                                                                   \
        for (h = 0; h < 4; h++) {                                                        \
            int8x16_t q = vld1q_s8((const int8_t *)w + 32 + (g) * 64 + h * 16);          \
            for (r = 0; r < R; r++) s[r][h] = DOT4(s[r][h], q, a[r], (g) % 4);           \
        }
#define Q4_GROUP(g)                                                                      \
        for (h = 0; h < 4; h++) {                                                        \
            uint8x16_t v = vld1q_u8(w + 64 + (g) * 64 + h * 16);                         \
            int8x16_t n0 = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15)));             \
            int8x16_t n1 = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));                        \
            for (r = 0; r < R; r++) {                                                    \
                s[r][h] = DOT4(s[r][h], n0, a0[r], (g));                                 \
                s[r][h] = DOT4(s[r][h], n1, a1[r], (g));                                 \
            }                                                                            \
        }
        if (!q4) {
            Q8_GROUP(0, a0) Q8_GROUP(1, a0) Q8_GROUP(2, a0) Q8_GROUP(3, a0)
            Q8_GROUP(4, a1) Q8_GROUP(5, a1) Q8_GROUP(6, a1) Q8_GROUP(7, a1)
        } else {
            Q4_GROUP(0) Q4_GROUP(1) Q4_GROUP(2) Q4_GROUP(3)
        }
#undef Q8_GROUP
#undef Q4_GROUP
        for (h = 0; h < 4; h++) {
            uint16x4_t hb = vld1_u16((const uint16_t *)(const void *)(w + h * 8));
            float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(hb));
            for (r = 0; r < R; r++) {
                float32x4_t sc = vmulq_n_f32(dw, ad[r * kb + b]);
                acc[r][h] = vfmaq_f32(acc[r][h], vcvtq_f32_s32(s[r][h]), sc);
                if (q4) {
                    uint16_t const *mp = (const uint16_t *)(const void *)(w + 32 + h * 8);
                    float32x4_t mw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(mp)));
                    acc[r][h] = vfmaq_f32(acc[r][h], vdupq_n_f32((float)as[r * kb + b]),
                                          vmulq_n_f32(mw, ad[r * kb + b]));
                }
            }
        }
    }
    for (r = 0; r < R; r++) {
        float t[16];
        for (h = 0; h < 4; h++) vst1q_f32(t + 4 * h, acc[r][h]);
        memcpy(c + r * ldc, t, (size_t)n * sizeof(float));
    }
}

#define QUANT_ROWS 2
#include "../quant_entry.h"
