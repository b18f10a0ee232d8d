/*
 * Quantized weights, AVX-512F/BW: activation quantization, the panel
 * kernels without VNNI (quant_body.h), and the registration, which takes
 * the VNNI kernels (quant_vnni.c) where cpuid has them, and for Q8 the AMX
 * kernel (quant_amx.c: 16 rows at a time, the rest by VNNI) where the CPU
 * has AMX-INT8 and the OS grants it.
 * Contract: kernels.h, "quantized weights". Twin: ref/quant.c.
 */
#define QUANT_VNNI 0
#define QUANT_NAME(f) avx512_##f
#define QUANT_LINKAGE static
#include "quant_body.h"

#include <float.h>
#include <math.h>
#include "../../core/internal.h"

void tfm__avx512_vnni_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                         const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                         int64_t n);
void tfm__avx512_vnni_q4(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                         const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                         int64_t n);

static void quantize(int64_t k, const float *x, int8_t *q, float *d, int32_t *s) {
    const __m512 sign = _mm512_set1_ps(-0.0f), fmax = _mm512_set1_ps(FLT_MAX);
    int64_t b, kb = (k + TFM__QK - 1) / TFM__QK;
    for (b = 0; b < kb; b++) {
        int64_t left = k - b * TFM__QK;
        __mmask16 m0 = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        __mmask16 m1 = left >= 32 ? 0xffff : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(m0, x + b * TFM__QK);
        __m512 x1 = _mm512_maskz_loadu_ps(m1, x + b * TFM__QK + 16);
        __m512 a0 = _mm512_andnot_ps(sign, x0), a1 = _mm512_andnot_ps(sign, x1);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        __m512 id;
        __m512i q0, q1;
        if (_mm512_cmp_ps_mask(a0, fmax, _CMP_NLE_UQ) | _mm512_cmp_ps_mask(a1, fmax, _CMP_NLE_UQ)) {
            memset(q + b * TFM__QK, 0, TFM__QK); // NaN or infinity: see kernels.h
            d[b] = NAN;
            s[b] = 0;
            continue;
        }
        id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, id));
        q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, id));
        d[b] = amax / 127.0f;
        _mm_storeu_si128((__m128i *)(q + b * TFM__QK), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(q + b * TFM__QK + 16), _mm512_cvtsepi32_epi8(q1));
        s[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

void tfm__avx512_amx_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                        const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n);

void tfm__avx512_init_quant(tfm__kernels *k, int dot) {
    int amx = dot && tfm__amx_enable();
    k->quant.quantize = quantize;
    k->quant.q8 = amx ? tfm__avx512_amx_q8 : dot ? tfm__avx512_vnni_q8 : avx512_q8;
    k->quant.q4 = dot ? tfm__avx512_vnni_q4 : avx512_q4;
}
