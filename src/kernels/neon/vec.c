/*
 * Vector kernels, aarch64 Advanced SIMD (NEON, baseline of every aarch64).
 * 4 floats per vector; tails through a small padded copy on the stack.
 * Algorithms, polynomials and error bounds: ../vec_body.h.
 * Conversions are bit-exact with ref/: f16 by fcvtl/fcvtn (round to nearest
 * even under the default FPCR), f16 NaN lanes rebuilt by integer ops so a
 * signalling NaN keeps its bits as in the scalar twin; bf16 by integer ops.
 */
#include "../kernels.h"

#include <arm_neon.h>
#include <string.h>

typedef float32x4_t vf;
#define VW 4

static inline float32x4_t loadn(const float *p, int n, float32x4_t fill) {
    float b[4];
    vst1q_f32(b, fill);
    memcpy(b, p, (size_t)n * sizeof(float));
    return vld1q_f32(b);
}
static inline void storen(float *p, float32x4_t v, int n) {
    float b[4];
    vst1q_f32(b, v);
    memcpy(p, b, (size_t)n * sizeof(float));
}
// p * 2^n for integral n in [-150, 129], as two exact power-of-two factors.
static inline float32x4_t pow2mul(float32x4_t p, float32x4_t n) {
    int32x4_t ni = vcvtnq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    int32x4_t b = vdupq_n_s32(127);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, b), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, b), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}
static inline float32x4_t signbits(float32x4_t x) {
    return vreinterpretq_f32_u32(
        vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u)));
}
static inline float32x4_t orf(float32x4_t a, float32x4_t b) {
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}

#define V_LOAD(p) vld1q_f32(p)
#define V_STORE(p, v) vst1q_f32(p, v)
#define V_LOADN(p, n, fill) loadn(p, n, fill)
#define V_STOREN(p, v, n) storen(p, v, n)
#define V_SET1(x) vdupq_n_f32(x)
#define V_ADD(a, b) vaddq_f32(a, b)
#define V_SUB(a, b) vsubq_f32(a, b)
#define V_MUL(a, b) vmulq_f32(a, b)
#define V_DIV(a, b) vdivq_f32(a, b)
#define V_FMA(a, b, c) vfmaq_f32(c, a, b)
#define V_FNMA(a, b, c) vfmsq_f32(c, a, b)
// fmax/fmin propagate NaN; fmaxnm returns the number when one side is NaN.
#define V_MIN_PROP(c, x) vminq_f32(c, x)
#define V_MAX_IGN(x, acc) vmaxnmq_f32(x, acc)
#define V_ABS(x) vabsq_f32(x)
#define V_SIGNBITS(x) signbits(x)
#define V_OR(a, b) orf(a, b)
#define V_LT_SEL(a, b, x, y) vbslq_f32(vcltq_f32(a, b), x, y)
#define V_ROUND(x) vrndnq_f32(x)
#define V_POW2MUL(p, n) pow2mul(p, n)
#define V_HSUM(v) vaddvq_f32(v)
#define V_HMAX(v) vmaxnmvq_f32(v)

// 4 interleaved pairs (x0, x1) at p: (x0 c - x1 s, x0 s + x1 c).
static inline void rope_pairs(float *p, const float *c, const float *s) {
    float32x4x2_t v = vld2q_f32(p);
    float32x4_t vc = vld1q_f32(c), vs = vld1q_f32(s), o0, o1;
    o0 = vfmsq_f32(vmulq_f32(v.val[0], vc), v.val[1], vs);
    o1 = vfmaq_f32(vmulq_f32(v.val[1], vc), v.val[0], vs);
    v.val[0] = o0;
    v.val[1] = o1;
    vst2q_f32(p, v);
}
#define V_ROPE_PAIRS(p, c, s) rope_pairs(p, c, s)

#include "../vec_body.h"

// ---- conversions ------------------------------------------------------------------

// f16 -> f32 of 4 halves; NaN lanes rebuilt as sign | 0x7f800000 | man << 13.
static inline float32x4_t h2f4(uint16x4_t h) {
    float32x4_t f = vcvt_f32_f16(vreinterpret_f16_u16(h));
    uint32x4_t w = vmovl_u16(h);
    uint32x4_t nan = vcgtq_u32(vandq_u32(w, vdupq_n_u32(0x7fff)), vdupq_n_u32(0x7c00));
    uint32x4_t bits = vorrq_u32(
        vshlq_n_u32(vandq_u32(w, vdupq_n_u32(0x8000)), 16),
        vorrq_u32(vdupq_n_u32(0x7f800000), vshlq_n_u32(vandq_u32(w, vdupq_n_u32(0x3ff)), 13)));
    return vbslq_f32(nan, vreinterpretq_f32_u32(bits), f);
}

static void cvt_f16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, h2f4(vld1_u16(src + i)));
    if (i < n) {
        uint16_t hb[4] = {0};
        int r = (int)(n - i);
        memcpy(hb, src + i, (size_t)r * 2);
        storen(dst + i, h2f4(vld1_u16(hb)), r);
    }
}

static void cvt_f32_to_f16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    if (i < n) {
        uint16_t hb[4];
        int r = (int)(n - i);
        vst1_u16(hb, vreinterpret_u16_f16(vcvt_f16_f32(loadn(src + i, r, vdupq_n_f32(0.0f)))));
        memcpy(dst + i, hb, (size_t)r * 2);
    }
}

static void cvt_bf16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(src + i), 16)));
    for (; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(dst + i, &u, 4);
    }
}

// Round to nearest even on the upper 16 bits; NaN -> quiet NaN (as ref).
static inline uint16x4_t f2bf4(float32x4_t f) {
    uint32x4_t u = vreinterpretq_u32_f32(f);
    uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    uint32x4_t r = vaddq_u32(u, vaddq_u32(odd, vdupq_n_u32(0x7fff)));
    uint32x4_t q = vorrq_u32(u, vdupq_n_u32(0x400000)); // quiet bit, before >> 16
    uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
    return vshrn_n_u32(vbslq_u32(nan, q, r), 16);
}

static void cvt_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, f2bf4(vld1q_f32(src + i)));
    if (i < n) {
        uint16_t hb[4];
        int r = (int)(n - i);
        vst1_u16(hb, f2bf4(loadn(src + i, r, vdupq_n_f32(0.0f))));
        memcpy(dst + i, hb, (size_t)r * 2);
    }
}

void tfm__neon_init_vec(tfm__kernels *k) {
    tfm__vec_body_fill(k);
    k->f16_to_f32 = cvt_f16_to_f32;
    k->f32_to_f16 = cvt_f32_to_f16;
    k->bf16_to_f32 = cvt_bf16_to_f32;
    k->f32_to_bf16 = cvt_f32_to_bf16;
}
