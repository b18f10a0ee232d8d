/*
 * Quantized weights, AArch64 NEON: activation quantization, the panel
 * kernels without sdot (quant_body.h), and the registration, which takes
 * the sdot kernels (quant_dot.c) where the CPU has them.
 * Contract: kernels.h, "quantized weights". Twin: ref/quant.c.
 */
#define QUANT_DOT 0
#define QUANT_NAME(f) neon_##f
#define QUANT_LINKAGE static
#include "quant_body.h"

#include <float.h>
#include <math.h>

void tfm__neon_dot_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                      const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n);
void tfm__neon_dot_q4(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                      const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n);

static void quantize(int64_t k, const float *x, int8_t *q, float *d, int32_t *s) {
    const float32x4_t fmax = vdupq_n_f32(FLT_MAX);
    int64_t b, kb = (k + TFM__QK - 1) / TFM__QK;
    int i;
    for (b = 0; b < kb; b++) {
        int64_t left = k - b * TFM__QK;
        float buf[TFM__QK], amax;
        const float *xb = x + b * TFM__QK;
        float32x4_t v[8], mx, id;
        int32x4_t qi[8], sum;
        int16x8_t h[4];
        if (left < TFM__QK) { // the last, partial block: zero-padded
            memset(buf, 0, sizeof buf);
            memcpy(buf, xb, (size_t)left * sizeof(float));
            xb = buf;
        }
        for (i = 0; i < 8; i++) v[i] = vld1q_f32(xb + 4 * i);
        {
            uint32x4_t ok = vcleq_f32(vabsq_f32(v[0]), fmax); // false for NaN, infinities
            for (i = 1; i < 8; i++) ok = vandq_u32(ok, vcleq_f32(vabsq_f32(v[i]), fmax));
            if (vminvq_u32(ok) == 0) { // see kernels.h
                memset(q + b * TFM__QK, 0, TFM__QK);
                d[b] = NAN;
                s[b] = 0;
                continue;
            }
        }
        mx = vabsq_f32(v[0]);
        for (i = 1; i < 8; i++) mx = vmaxq_f32(mx, vabsq_f32(v[i]));
        amax = vmaxvq_f32(mx);
        d[b] = amax / 127.0f;
        id = vdupq_n_f32(amax > 0.0f ? 127.0f / amax : 0.0f);
        sum = vdupq_n_s32(0);
        for (i = 0; i < 8; i++) {
            qi[i] = vcvtnq_s32_f32(vmulq_f32(v[i], id));
            sum = vaddq_s32(sum, qi[i]);
        }
        s[b] = vaddvq_s32(sum);
        for (i = 0; i < 4; i++) h[i] = vcombine_s16(vqmovn_s32(qi[2 * i]), vqmovn_s32(qi[2 * i + 1]));
        vst1q_s8(q + b * TFM__QK, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
        vst1q_s8(q + b * TFM__QK + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
    }
}

void tfm__neon_init_quant(tfm__kernels *k, int dot) {
    k->quant.quantize = quantize;
    k->quant.q8 = dot ? tfm__neon_dot_q8 : neon_q8;
    k->quant.q4 = dot ? tfm__neon_dot_q4 : neon_q4;
}
