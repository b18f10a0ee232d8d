/*
 * Quantized weights, scalar reference: the twin every SIMD kernel of
 * kernels.h's "quantized weights" is tested against (the same bits).
 * ISA: none. Contract and layouts: kernels.h.
 */
#include "../kernels.h"
#include "../half.h"

#include <float.h>
#include <math.h>
#include <string.h>

// Round half to even for |x| < 2^22 (the FPU's default mode, as SIMD
// conversions round).
static float round_even(float x) {
    const float magic = 12582912.0f; // 1.5 * 2^23
    return x >= 0.0f ? (x + magic) - magic : -((-x + magic) - magic);
}

static void ref_quantize(int64_t k, const float *x, int8_t *q, float *d, int32_t *s) {
    int64_t b, i, kb = (k + TFM__QK - 1) / TFM__QK;
    for (b = 0; b < kb; b++) {
        const float *xb = x + b * TFM__QK;
        int64_t n = k - b * TFM__QK < TFM__QK ? k - b * TFM__QK : TFM__QK;
        float amax = 0.0f, id;
        int32_t sum = 0;
        int finite = 1;
        for (i = 0; i < n; i++) {
            float a = xb[i] < 0.0f ? -xb[i] : xb[i];
            amax = a > amax ? a : amax;
            finite &= a <= FLT_MAX; // false for NaN and infinities
        }
        if (!finite) {
            memset(q + b * TFM__QK, 0, TFM__QK);
            d[b] = NAN;
            s[b] = 0;
            continue;
        }
        d[b] = amax / 127.0f;
        id = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (i = 0; i < TFM__QK; i++) {
            float v = i < n ? round_even(xb[i] * id) : 0.0f;
            int32_t qi = (int32_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
            q[b * TFM__QK + i] = (int8_t)qi;
            sum += qi;
        }
        s[b] = sum;
    }
}

// Weight value i (0..31) of row r (0..15) in a panel-block.
static int q8_at(const uint8_t *blk, int r, int i) {
    return (int8_t)blk[32 + (i / 4) * 64 + r * 4 + i % 4];
}
static int q4_at(const uint8_t *blk, int r, int i) {
    uint8_t v = blk[64 + ((i % 16) / 4) * 64 + r * 4 + i % 4];
    return i < 16 ? v & 15 : v >> 4;
}

static void ref_qdot(int q4, int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                     const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n) {
    size_t bs = q4 ? TFM__Q4_BLOCK : TFM__Q8_BLOCK;
    int64_t i, j, b;
    int t;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            float acc = 0.0f;
            for (b = 0; b < kb; b++) {
                const uint8_t *blk = w + (size_t)b * bs;
                const int8_t *a = aq + i * kb * TFM__QK + b * TFM__QK;
                uint16_t h;
                int32_t dot = 0;
                for (t = 0; t < TFM__QK; t++)
                    dot += (q4 ? q4_at(blk, (int)j, t) : q8_at(blk, (int)j, t)) * a[t];
                memcpy(&h, blk + 2 * j, 2);
                acc = fmaf((float)dot, tfm__h2f(h) * ad[i * kb + b], acc);
                if (q4) {
                    memcpy(&h, blk + 32 + 2 * j, 2);
                    acc = fmaf((float)as[i * kb + b], tfm__h2f(h) * ad[i * kb + b], acc);
                }
            }
            c[i * ldc + j] = acc;
        }
}

static void ref_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad, const int32_t *as,
                   const uint8_t *w, float *c, int64_t ldc, int64_t n) {
    ref_qdot(0, m, kb, aq, ad, as, w, c, ldc, n);
}

static void ref_q4(int64_t m, int64_t kb, const int8_t *aq, const float *ad, const int32_t *as,
                   const uint8_t *w, float *c, int64_t ldc, int64_t n) {
    ref_qdot(1, m, kb, aq, ad, as, w, c, ldc, n);
}

const tfm__quant_kernels tfm__quant_ref = {ref_quantize, ref_q8, ref_q4};

const tfm__quant_kernels *tfm__quant_of(const tfm__kernels *k) {
    return k && k->quant.q8 ? &k->quant : &tfm__quant_ref;
}
